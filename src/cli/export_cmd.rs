//! `gaitlens export`: a fitted walk as an animated glTF binary, optionally coloured by a
//! network's relevance, for Blender, web viewers and teaching slides.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use nalgebra::Vector3;

use super::explain_cmd::{
    Rule, WindowArgs, WindowRequest, explain_walk, load_network, load_sequence,
};
use gaitlens::explain::colouring::{
    Colormap, VertexWeighting, scaled_to_unit, vertex_colours_linear,
};
use gaitlens::export::{WalkAnimation, glb::gltf_from_lab, lab_up_from_joints, write_glb};
use gaitlens::formats::pose_seq::read_complete_pose_folder;

/// Arguments of `gaitlens export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Pose folder written by `gaitlens fit` (pose_*.json|txt, fit_report.json).
    #[arg(long)]
    pub sequence: PathBuf,
    /// Output file (.glb).
    #[arg(long)]
    pub out: PathBuf,
    /// `default` (embedded body) or a SUPR .npy/.npz file the poses were fitted with.
    #[arg(long, default_value = "default")]
    pub model: String,
    /// Colour the body by this network's relevance (model card STEM.json), summed over the
    /// explained window (glTF vertex colours are static).
    #[arg(long)]
    pub network: Option<PathBuf>,
    /// The explained window, rule and baseline (with --network).
    #[command(flatten)]
    pub window: WindowArgs,
    /// Frame rate when the pose folder has no fit_report.json stating one.
    #[arg(long)]
    pub rate_hz: Option<f64>,
}

pub fn run(a: ExportArgs) -> anyhow::Result<ExitCode> {
    if a.sequence.is_file() {
        bail!(
            "{}: export reads a pose folder; fit the trial first (`gaitlens fit {} --out DIR`) \
             and export DIR",
            a.sequence.display(),
            a.sequence.display()
        );
    }
    if a.out.extension().and_then(|e| e.to_str()) != Some("glb") {
        bail!("{}: the output must be a .glb file", a.out.display());
    }
    let setup = super::fit_cmd::load_setup(&a.model, None)?;
    let model = &setup.model;
    let (poses, _) = read_complete_pose_folder(&a.sequence)?;
    let rate_hz = a.rate_hz.or(poses.rate_hz).with_context(|| {
        format!(
            "{}: no fit_report.json states the frame rate; give --rate-hz",
            a.sequence.display()
        )
    })?;
    let rotations = poses
        .poses
        .iter()
        .enumerate()
        .map(|(f, p)| {
            model
                .rotations_from_axis_angle(p)
                .map_err(|e| anyhow::anyhow!("{}: frame {f}: {e}", a.sequence.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let translations: Vec<Vector3<f64>> = poses
        .translations
        .iter()
        .map(|t| Vector3::from(*t))
        .collect();
    let betas = poses.mean_betas();
    let up =
        lab_up_from_joints(model, &betas, &rotations, &translations).unwrap_or_else(Vector3::y);
    let (colours, note) = match &a.network {
        Some(card) => {
            let (colours, note) = relevance_colours(&a, card, model)?;
            (Some(colours), Some(note))
        }
        None => (None, None),
    };
    let name = a
        .sequence
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "walk".into());
    let walk = WalkAnimation {
        model,
        betas: &betas,
        rotations: &rotations,
        translations: &translations,
        rate_hz,
        name: &name,
        gltf_from_lab: gltf_from_lab(up),
        vertex_colours: colours,
    };
    let bytes = write_glb(&walk, &a.out)?;
    println!(
        "{}: {} frames at {rate_hz} Hz, {} vertices, {} joints, {:.1} MB{}",
        a.out.display(),
        rotations.len(),
        model.num_vertices(),
        model.num_joints(),
        bytes as f64 / 1e6,
        note.map(|n| format!("\n{n}")).unwrap_or_default()
    );
    if !model.posedirs.is_empty() {
        println!("note: the body's pose blend shapes are not exported (glTF skins only)");
    }
    Ok(ExitCode::SUCCESS)
}

/// Linear-RGB vertex colours of the explained window's relevance summed per joint, and a line
/// saying what they show.
fn relevance_colours(
    a: &ExportArgs,
    card_path: &std::path::Path,
    model: &gaitlens::body::BodyModel,
) -> anyhow::Result<(Vec<[f32; 3]>, String)> {
    if a.model != "default" {
        bail!(
            "--network explains walks of the embedded body's 22 joints; {} is another body",
            a.model
        );
    }
    let device = Default::default();
    let (net, card) = load_network(card_path, &device)?;
    let (seq, _) = load_sequence(model, &a.sequence, a.rate_hz)?;
    let req = WindowRequest {
        network: card_path,
        sequence: &a.sequence,
        window: a.window,
    };
    let explained = explain_walk(&net, &card, &seq, &req, &device)?;
    let relative_to = explained.relative_to();
    let e = &explained.explanation;
    let totals = e.joint_totals();
    let mut joint = [0f32; gaitlens::dataset::align::NUM_JOINTS];
    for (j, t) in joint.iter_mut().zip(&totals) {
        *j = *t;
    }
    let colormap = if a.window.rule == Rule::Attention {
        Colormap::Sequential
    } else {
        Colormap::Diverging
    };
    let colours = vertex_colours_linear(
        model,
        &scaled_to_unit(&joint),
        colormap,
        VertexWeighting::Skinning,
    );
    let p = explained.probability();
    let note = format!(
        "coloured by {} relevance summed over {} ({relative_to}; {}): {} with probability {:.3}",
        card.network_type,
        gaitlens::inference::frame_span(&explained.placement.frames_read()),
        if colormap == Colormap::Diverging {
            "red = toward sick, blue = toward healthy"
        } else {
            "darker red = more attention"
        },
        if p >= 0.5 { "sick" } else { "healthy" },
        if p >= 0.5 { p } else { 1.0 - p },
    );
    Ok((colours, note))
}
