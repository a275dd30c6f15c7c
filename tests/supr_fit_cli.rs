//! `gaitlens fit --model supr.npy` and `gaitlens body inspect supr.npz` on the tiny SUPR-layout
//! fixture: markers synthesised from the SUPR forward pass are refitted through the CLI.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use gaitlens::body::markers::marker_positions;
use gaitlens::body::supr::load_supr;
use gaitlens::body::{MarkerPlacement, MarkerSet};
use gaitlens::formats::trc::write_trc;
use gaitlens::formats::trial::MarkerTrial;
use nalgebra::Vector3;

fn fixture(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/supr")
        .join(name);
    assert!(p.exists(), "missing fixture {}", p.display());
    p
}

fn inflate(gz: &Path, out: &Path) {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(gz).unwrap())
        .read_to_end(&mut bytes)
        .unwrap();
    std::fs::write(out, bytes).unwrap();
}

fn gaitlens(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gaitlens"))
        .args(args)
        .output()
        .expect("gaitlens runs")
}

#[test]
fn supr_model_is_fitted_and_inspected_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("supr_tiny.npy");
    inflate(&fixture("supr_tiny.npy.gz"), &npy);
    let supr = load_supr(&npy).expect("fixture loads");
    let model = &supr.model;
    assert_eq!(model.num_joints(), 75);

    // Markers on every other face, a few millimetres off the skin.
    let markers = MarkerSet {
        markers: (0..model.faces.len())
            .step_by(2)
            .map(|f| MarkerPlacement {
                name: format!("M{f:02}"),
                face_id: f as u32,
                bary: [0.3, 0.3, 0.4],
                distance_to_skin_m: 0.005,
                rigid_joint: None,
            })
            .collect(),
    };
    let cons = dir.path().join("constraints.json");
    std::fs::write(&cons, markers.to_body_twin_json().to_string()).unwrap();

    // A short sequence: hips and trunk swinging, knees flexing (never bending backward, which the
    // fitter's anatomical ranges refuse), the body translating along x.
    let shaped = model.shape(&[]);
    let frames = 12;
    let markers_m: Vec<Vec<Option<[f64; 3]>>> = (0..frames)
        .map(|f| {
            let t = f as f64 / frames as f64 * std::f64::consts::TAU;
            let mut pose = vec![0.0; 3 * model.num_joints()];
            for (j, amp) in [(1, 0.3), (2, -0.3), (3, 0.1)] {
                pose[3 * j] = amp * t.sin();
            }
            for (j, amp) in [(4, 0.4), (5, 0.2)] {
                pose[3 * j] = amp * 0.5 * (1.0 - t.cos());
            }
            let rot = model.rotations_from_axis_angle(&pose).unwrap();
            let posed = model.forward(&shaped, &rot, Vector3::new(0.02 * f as f64, 0.0, 0.0));
            marker_positions(&markers, &posed, &model.faces)
                .into_iter()
                .map(Some)
                .collect()
        })
        .collect();
    let trial = MarkerTrial {
        subject: None,
        rate_hz: 100.0,
        first_frame: 1,
        marker_labels: markers.markers.iter().map(|m| m.name.clone()).collect(),
        markers_m,
        model_outputs: Vec::new(),
        events: Vec::new(),
        subject_params: Default::default(),
        reader_notes: Vec::new(),
    };
    let trc = dir.path().join("walk.trc");
    write_trc(&trc, &trial).unwrap();

    let out = dir.path().join("fit");
    let o = gaitlens(&[
        "fit".as_ref(),
        trc.as_os_str(),
        "--model".as_ref(),
        npy.as_os_str(),
        "--constraints".as_ref(),
        cons.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert!(
        o.status.success(),
        "fit with a SUPR model failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("fit_report.json")).unwrap()).unwrap();
    let median_mm = report["totals"]["median_rmse_m"].as_f64().unwrap() * 1000.0;
    assert!(
        median_mm < 5.0,
        "median marker RMSE {median_mm:.2} mm on exact synthetic markers"
    );
    let pose: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("pose_00000.json")).unwrap()).unwrap();
    assert_eq!(pose["pose"][0].as_array().unwrap().len(), 3 * 75);

    // A SUPR model has no built-in marker placements.
    let o = gaitlens(&[
        "fit".as_ref(),
        trc.as_os_str(),
        "--model".as_ref(),
        npy.as_os_str(),
        "--out".as_ref(),
        dir.path().join("fit2").as_os_str(),
    ]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--constraints"),
        "error should ask for --constraints: {}",
        String::from_utf8_lossy(&o.stderr)
    );

    // `body inspect` reads the .npz copy.
    let npz = fixture("supr_tiny.npz");
    let o = gaitlens(&["body".as_ref(), "inspect".as_ref(), npz.as_os_str()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("75 joints"), "{stdout}");
    assert!(stdout.contains("60 vertices"), "{stdout}");

    // A missing model file is a clear error naming it.
    let o = gaitlens(&["body".as_ref(), "inspect".as_ref(), "nope.npy".as_ref()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope.npy"));
}
