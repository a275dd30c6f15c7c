//! `gaitlens export` on a real shared walk: the .glb passes the Khronos glTF validator with no
//! error and reads back with the body's vertex count, the walk's frame count and relevance colours.

mod common;

use std::path::Path;
use std::process::Command;

use common::{fit, gaitlens, ok};

/// Runs the Khronos validator (npm `gltf-validator`, installed by `.ci/install-system-deps`)
/// and returns its JSON report.
fn validate(glb: &Path) -> serde_json::Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gltf_validator");
    let module = dir.join("node_modules/gltf-validator/index.js");
    assert!(
        module.exists(),
        "missing {}: run .ci/install-system-deps (npm ci in tests/gltf_validator)",
        module.display()
    );
    let out = Command::new("node")
        .arg(dir.join("validate.mjs"))
        .arg(glb)
        .output()
        .expect("node runs (install nodejs: .ci/install-system-deps)");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "validator printed no report ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn an_exported_real_walk_is_valid_gltf_with_its_frames_and_relevance_colours() {
    let tmp = tempfile::tempdir().unwrap();
    let poses = fit(tmp.path(), "sample23_Vicon_analysis.c3d", "s23");
    let glb = tmp.path().join("walk.glb");
    let card = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo_network.json");
    let o = gaitlens(&[
        "export",
        "--sequence",
        poses.to_str().unwrap(),
        "--network",
        card.to_str().unwrap(),
        "--out",
        glb.to_str().unwrap(),
    ]);
    ok(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("coloured by"), "{stdout}");

    let report = validate(&glb);
    assert_eq!(
        report["issues"]["numErrors"], 0,
        "validator errors: {:#}",
        report["issues"]
    );
    assert_eq!(report["info"]["animationCount"], 1);
    assert_eq!(report["info"]["hasSkins"], true);

    let bytes = std::fs::read(&glb).unwrap();
    let g = gltf::Gltf::from_slice(&bytes).unwrap();
    let blob = g.blob.clone().unwrap();
    let prim = g
        .document
        .meshes()
        .next()
        .unwrap()
        .primitives()
        .next()
        .unwrap();
    let reader = prim.reader(|_| Some(&blob));
    let body = gaitlens::body::default_model::default_body();
    assert_eq!(
        reader.read_positions().unwrap().count(),
        body.num_vertices()
    );
    let frames = gaitlens::formats::pose_seq::read_pose_dir(&poses)
        .unwrap()
        .num_frames();
    let anim = g.document.animations().next().unwrap();
    for ch in anim.channels() {
        let keys = ch.reader(|_| Some(&blob)).read_inputs().unwrap().count();
        assert_eq!(keys, frames, "one key per fitted frame");
    }
    let colours: Vec<[f32; 3]> = reader.read_colors(0).unwrap().into_rgb_f32().collect();
    assert!(colours.iter().flatten().all(|c| (0.0..=1.0).contains(c)));
    // A diverging map: some skin toward sick (red over blue), some near white or blue.
    let reddest = colours.iter().map(|c| c[0] - c[2]).fold(f32::MIN, f32::max);
    let bluest = colours.iter().map(|c| c[2] - c[0]).fold(f32::MIN, f32::max);
    assert!(reddest > 0.3 || bluest > 0.3, "colours carry no relevance");
    assert!(
        colours.iter().any(|c| c != &colours[0]),
        "one colour everywhere"
    );
}

#[test]
fn exporting_a_marker_file_says_to_fit_it_first() {
    let tmp = tempfile::tempdir().unwrap();
    let c3d = common::shared_c3d("sample23_Vicon_analysis.c3d");
    let out = tmp.path().join("x.glb");
    let o = gaitlens(&[
        "export",
        "--sequence",
        c3d.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("gaitlens fit"), "{err}");
    assert!(!out.exists());
}
