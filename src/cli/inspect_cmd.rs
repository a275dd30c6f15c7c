//! `gaitlens inspect <file>`: a human (or JSON) summary of any supported file.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use gaitlens::formats::{MarkerTrial, SourceKind, openpose, pose_seq};

pub fn run(path: &Path, as_json: bool) -> anyhow::Result<ExitCode> {
    let summary = summarise(path)?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_text(&summary);
    }
    Ok(ExitCode::SUCCESS)
}

fn summarise(path: &Path) -> anyhow::Result<Value> {
    if !path.exists() {
        bail!("{}: no such file or folder", path.display());
    }
    let ext = gaitlens::formats::extension(path);
    match SourceKind::classify(path) {
        SourceKind::MarkerTrial => Ok(trial_summary(
            path,
            &gaitlens::formats::read_marker_trial(path)?,
        )),
        SourceKind::Json => json_summary(path),
        SourceKind::NetworkCheckpoint if ext == "json" => json_summary(path),
        SourceKind::BodyModel => bail!(
            "{}: use `gaitlens body inspect {}` for body model files",
            path.display(),
            path.display()
        ),
        SourceKind::EmptyFolder => bail!(
            "{} is an empty folder: expected a pose folder (pose_*.json|txt) or an OpenPose clip \
             folder (*_keypoints.json)",
            path.display()
        ),
        SourceKind::PoseFolder => pose_summary(path),
        // A folder of neither kind: the OpenPose reader says what it lacks.
        SourceKind::OpenPose | SourceKind::Unknown if path.is_dir() || ext == "zip" => {
            openpose_summary(path)
        }
        _ => bail!(
            "{}: unsupported file type '.{ext}' (expected .c3d, .trc, .zip, .json or a folder)",
            path.display()
        ),
    }
}

fn trial_summary(path: &Path, t: &MarkerTrial) -> Value {
    let gaps = t.gap_fraction();
    let markers: Vec<Value> = t
        .marker_labels
        .iter()
        .zip(&gaps)
        .map(|(l, g)| json!({"label": l, "gap_percent": (g * 1000.0).round() / 10.0}))
        .collect();
    json!({
        "kind": "marker trial",
        "file": path.display().to_string(),
        "subject": t.subject,
        "rate_hz": t.rate_hz,
        "frames": t.num_frames(),
        "duration_s": t.num_frames() as f64 / t.rate_hz.max(1e-9),
        "first_frame": t.first_frame,
        "markers": markers,
        "events": events_by_time(t),
        "subject_params": t.subject_params,
        "reader_notes": t.reader_notes,
        "model_outputs": t.model_outputs.iter().map(|o| json!({"label": o.label, "unit": o.unit})).collect::<Vec<_>>(),
    })
}

/// The trial's events in time order (readers keep a file's order, which some tools group by
/// event type), so the printed list reads as the walk unfolds.
fn events_by_time(t: &MarkerTrial) -> Vec<Value> {
    let mut events: Vec<Value> = t.events.iter().map(|e| json!(e)).collect();
    events.sort_by(|a, b| {
        let time = |e: &Value| e["time_s"].as_f64().unwrap_or(f64::INFINITY);
        time(a).total_cmp(&time(b))
    });
    events
}

fn openpose_summary(path: &Path) -> anyhow::Result<Value> {
    let clips = openpose::read_openpose_path(path)
        .with_context(|| format!("reading OpenPose keypoints from {}", path.display()))?;
    Ok(json!({
        "kind": "OpenPose BODY_25 keypoints",
        "file": path.display().to_string(),
        "clips": clips.iter().map(|c| json!({
            "clip": c.clip,
            "frames": c.num_frames(),
            "empty_frames": c.empty_frames(),
            "multi_person_frames": c.multi_person_frames(),
        })).collect::<Vec<_>>(),
    }))
}

fn pose_summary(path: &Path) -> anyhow::Result<Value> {
    let (s, sidecars) = pose_seq::read_pose_folder(path)?;
    let measured = sidecars.legs_measured(&s.frame_numbers);
    Ok(json!({
        "kind": "pose sequence",
        "file": path.display().to_string(),
        "frames": s.num_frames(),
        "rate_hz": sidecars.rate_hz(),
        "legs_measured_frames": measured.as_ref().map(|m| m.iter().filter(|&&x| x).count()),
        "pose_values": s.poses.first().map(|p| p.len()),
        "betas": s.betas.first().map(|b| b.len()),
        "format": format!("{:?}", s.format),
        "first_translation_m": s.translations.first(),
        "fit_report": sidecars.fit_report_check(s.num_frames()).to_string(),
        "fitted_from": sidecars.fit_report_at("/trial"),
        "pelvis_markers": sidecars.fit_report_at("/pelvis_markers"),
        "median_marker_rmse_m": sidecars.fit_report_at("/totals/median_rmse_m"),
        "unconstrained_joints": sidecars.unconstrained_joints(),
        "warnings": sidecars.fit_report_at("/warnings"),
        "injected": sidecars.ground_truth_at("/subjects/0").map(|g| json!({
            "pathology": g["pathology"], "side": g["side"], "severity": g["severity"],
        })),
    }))
}

fn json_summary(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let v: Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", path.display()))?;
    let looks_cohort = v
        .as_object()
        .is_some_and(|o| o.values().all(|s| s.get("gaits").is_some()) && !o.is_empty());
    if looks_cohort {
        let c = gaitlens::formats::cohort::read_cohort(path)?;
        return Ok(json!({
            "kind": "cohort",
            "file": path.display().to_string(),
            "subjects": c.subjects.iter().map(|s| json!({
                "name": s.name, "healthy": s.healthy, "gaits": s.gaits.len(),
                "model_file": s.model_file, "constraint_file": s.constraint_file.display().to_string(),
            })).collect::<Vec<_>>(),
        }));
    }
    let c = gaitlens::formats::constraints::read_constraints(path)?;
    Ok(json!({
        "kind": "3D Body Twin constraints",
        "file": path.display().to_string(),
        "markers": c.markers.markers.iter().map(|m| &m.name).collect::<Vec<_>>(),
        "angle_constraints": c.angles.iter().map(|a| &a.name).collect::<Vec<_>>(),
        "unsupported": c.unsupported.iter().map(|u| format!("{} ({})", u.name, u.kind)).collect::<Vec<_>>(),
    }))
}

fn print_text(v: &Value) {
    println!(
        "{} — {}",
        v["file"].as_str().unwrap_or(""),
        v["kind"].as_str().unwrap_or("")
    );
    match v["kind"].as_str() {
        Some("marker trial") => print_trial_text(v),
        Some("pose sequence") => print_pose_text(v),
        Some("OpenPose BODY_25 keypoints") => print_openpose_text(v),
        Some("cohort") => print_cohort_text(v),
        _ => print_constraints_text(v),
    }
}

fn print_trial_text(v: &Value) {
    println!(
        "  {} frames at {} Hz ({:.2} s), first frame {}, subject {}",
        v["frames"],
        v["rate_hz"],
        v["duration_s"].as_f64().unwrap_or(0.0),
        v["first_frame"],
        v["subject"].as_str().unwrap_or("-")
    );
    for note in v["reader_notes"].as_array().into_iter().flatten() {
        println!("  warning: {}", note.as_str().unwrap_or(""));
    }
    let markers = v["markers"].as_array().cloned().unwrap_or_default();
    println!("  {} markers (gaps in % of frames):", markers.len());
    let cells: Vec<String> = markers
        .iter()
        .map(|m| {
            format!(
                "{:<8}{:>5.1}",
                m["label"].as_str().unwrap_or(""),
                m["gap_percent"].as_f64().unwrap_or(0.0)
            )
        })
        .collect();
    for row in cells.chunks(6) {
        println!("    {}", row.join("  "));
    }
    let events = v["events"].as_array().cloned().unwrap_or_default();
    println!("  {} events (in time order):", events.len());
    for e in events {
        println!(
            "    {:>7.3} s  frame {:>5}  {} {}",
            e["time_s"].as_f64().unwrap_or(0.0),
            e["frame"],
            e["context"].as_str().unwrap_or(""),
            e["label"].as_str().unwrap_or("")
        );
    }
    if let Some(p) = v["subject_params"].as_object().filter(|p| !p.is_empty()) {
        println!("  subject parameters:");
        for (k, x) in p {
            println!("    {k} = {x}");
        }
    }
    let outs = strings(&v["model_outputs"], "label");
    if !outs.is_empty() {
        println!("  {} model outputs: {}", outs.len(), outs.join(" "));
    }
}

/// The `key` field of every object in array `v` (or every string, with `key` empty).
fn strings(v: &Value, key: &str) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| {
            if key.is_empty() {
                x.as_str()
            } else {
                x[key].as_str()
            }
        })
        .map(str::to_string)
        .collect()
}

fn print_pose_text(v: &Value) {
    let rate = v["rate_hz"]
        .as_f64()
        .map_or("rate not recorded".to_string(), |r| format!("{r} Hz"));
    println!(
        "  {} frames ({rate}); fit report: {}",
        v["frames"],
        v["fit_report"].as_str().unwrap_or("")
    );
    if let Some(trial) = v["fitted_from"].as_str() {
        let rmse = v["median_marker_rmse_m"]
            .as_f64()
            .map_or(String::new(), |r| {
                format!(", median marker RMSE {:.1} mm", r * 1000.0)
            });
        let pelvis = v["pelvis_markers"].as_str().unwrap_or("skin");
        println!("  fitted from {trial} (pelvis markers {pelvis}{rmse})");
    }
    if let Some(n) = v["legs_measured_frames"].as_u64() {
        println!(
            "  legs measured (every pelvis and leg marker seen) in {n} of {} frames",
            v["frames"]
        );
    }
    let free = strings(&v["unconstrained_joints"], "");
    if !free.is_empty() {
        println!("  joints no marker measures: {}", free.join(", "));
    }
    if let Some(p) = v["injected"].as_object() {
        println!(
            "  injected pathology (semi-synthetic, not clinical data): {} {}, severity {}",
            p["side"].as_str().unwrap_or(""),
            p["pathology"].as_str().unwrap_or(""),
            p["severity"]
        );
    }
    for w in strings(&v["warnings"], "") {
        println!("  warning: {w}");
    }
    println!(
        "  {} pose values and {} shape values per frame ({} files)",
        v["pose_values"],
        v["betas"],
        v["format"].as_str().unwrap_or("")
    );
}

fn print_openpose_text(v: &Value) {
    for c in v["clips"].as_array().into_iter().flatten() {
        println!(
            "  clip {}: {} frames, {} without a person, {} with several people",
            c["clip"].as_str().unwrap_or(""),
            c["frames"],
            c["empty_frames"],
            c["multi_person_frames"]
        );
    }
}

fn print_cohort_text(v: &Value) {
    let subjects = v["subjects"].as_array().cloned().unwrap_or_default();
    let healthy = subjects
        .iter()
        .filter(|s| s["healthy"].as_bool() == Some(true))
        .count();
    println!("  {} subjects ({healthy} healthy)", subjects.len());
    for s in subjects {
        println!(
            "    {:<16} {:<8} {} gait trial(s), constraints {}",
            s["name"].as_str().unwrap_or(""),
            if s["healthy"].as_bool() == Some(true) {
                "healthy"
            } else {
                "patient"
            },
            s["gaits"],
            s["constraint_file"].as_str().unwrap_or("")
        );
    }
}

fn print_constraints_text(v: &Value) {
    let markers = strings(&v["markers"], "");
    println!("  {} markers: {}", markers.len(), markers.join(" "));
    let angles = strings(&v["angle_constraints"], "");
    println!("  {} angle constraints: {}", angles.len(), angles.join(" "));
    let unsupported = strings(&v["unsupported"], "");
    if !unsupported.is_empty() {
        println!("  not used by gaitlens: {}", unsupported.join(", "));
    }
}
