//! `gaitlens body ...`: inspect body models.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use gaitlens::body::BodyModel;

/// Body model subcommands.
#[derive(Debug, Subcommand)]
pub enum BodyCommand {
    /// Summarise a body model: vertices, faces, joints, shape components, stature.
    Inspect {
        /// `default` for the embedded model, or a SUPR `.npy`/`.npz` file.
        #[arg(default_value = "default")]
        model: String,
    },
}

pub fn run(cmd: BodyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BodyCommand::Inspect { model } => {
            let _ = PathBuf::from(&model);
            anyhow::bail!("no body model loader is wired yet for '{model}'");
        }
    }
}

/// Text summary of a model, used by `body inspect`.
#[allow(dead_code)]
pub fn summary(m: &BodyModel) -> String {
    format!(
        "{}: {} vertices, {} faces, {} joints, {} shape components",
        m.name,
        m.num_vertices(),
        m.faces.len(),
        m.num_joints(),
        m.num_betas
    )
}
