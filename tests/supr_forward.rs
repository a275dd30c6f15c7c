//! SUPR loader and forward pass against an independent numpy implementation of SUPR's PyTorch
//! forward (scripts/make_supr_fixtures.py), on tiny models in SUPR's exact file layout.

use std::io::Read;
use std::path::{Path, PathBuf};

use gaitlens::body::npy::NpyError;
use gaitlens::body::supr::{PoseMode, SuprError, SuprModel, load_supr, supr_rodrigues};
use nalgebra::Vector3;

const TOL: f64 = 1e-5;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/supr")
}

fn read_fixture(name: &str) -> Vec<u8> {
    let path = fixture_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("missing fixture {}: {e}", path.display()))
}

/// Inflates a gzip-wrapped `.npy` fixture to `dir/<name without .gz>` and returns that path.
fn inflate(gz_name: &str, dir: &Path) -> PathBuf {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(&read_fixture(gz_name)[..])
        .read_to_end(&mut bytes)
        .unwrap_or_else(|e| panic!("fixture {gz_name} is not gzip: {e}"));
    let path = dir.join(gz_name.trim_end_matches(".gz"));
    std::fs::write(&path, bytes).unwrap();
    path
}

fn expected() -> serde_json::Value {
    serde_json::from_slice(&read_fixture("expected.json")).expect("expected.json parses")
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn rows(v: &serde_json::Value) -> Vec<[f64; 3]> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|r| {
            let r = floats(r);
            [r[0], r[1], r[2]]
        })
        .collect()
}

/// Runs every expected case of `model_file` through `model`; returns the largest vertex and
/// joint errors.
fn check_cases(model: &SuprModel, model_file: &str) -> (f64, f64, usize) {
    let doc = expected();
    let (mut max_v, mut max_j, mut n) = (0f64, 0f64, 0);
    for case in doc["cases"].as_array().unwrap() {
        if case["model"] != model_file {
            continue;
        }
        n += 1;
        let mode = if case["constrained"].as_bool().unwrap() {
            PoseMode::Constrained
        } else {
            PoseMode::AxisAngle
        };
        let t = floats(&case["trans"]);
        let posed = model
            .forward(
                &floats(&case["betas"]),
                &floats(&case["pose"]),
                Vector3::new(t[0], t[1], t[2]),
                mode,
            )
            .unwrap();
        let want_v = rows(&case["vertices"]);
        let want_j = rows(&case["joints"]);
        assert_eq!(posed.vertices.len(), want_v.len());
        assert_eq!(posed.joints.len(), want_j.len());
        for (got, want) in posed.vertices.iter().zip(&want_v) {
            for c in 0..3 {
                max_v = max_v.max((got[c] as f64 - want[c]).abs());
            }
        }
        for (got, want) in posed.joints.iter().zip(&want_j) {
            for c in 0..3 {
                max_j = max_j.max((got[c] - want[c]).abs());
            }
        }
    }
    assert!(n > 0, "no expected cases for {model_file}");
    (max_v, max_j, n)
}

#[test]
fn unconstrained_npy_matches_reference_forward() {
    let dir = tempfile::tempdir().unwrap();
    let model = load_supr(&inflate("supr_tiny.npy.gz", dir.path())).unwrap();
    assert_eq!(model.model.num_joints(), 75);
    assert_eq!(model.model.num_vertices(), 60);
    assert_eq!(model.model.num_betas, 10);
    assert!(model.constrained.is_none());
    assert_eq!(model.model.joint_names[4], "left_knee");
    assert_eq!(model.model.joint_names[21], "right_wrist");
    assert_eq!(model.model.joint_names[60], "joint_60");
    // kintree stored as uint32 with the root's parent 4294967295.
    assert_eq!(model.model.parents[0], None);
    assert_eq!(model.model.parents[4], Some(1));
    assert_eq!(model.model.parents[57], Some(10));
    let (max_v, max_j, n) = check_cases(&model, "supr_tiny.npy.gz");
    println!("unconstrained: {n} cases, max |dv| = {max_v:.3e} m, max |dj| = {max_j:.3e} m");
    assert!(max_v <= TOL && max_j <= TOL, "dv {max_v:e}, dj {max_j:e}");
}

#[test]
fn constrained_npy_matches_reference_forward_in_both_modes() {
    let dir = tempfile::tempdir().unwrap();
    let model = load_supr(&inflate("supr_tiny_constrained.npy.gz", dir.path())).unwrap();
    let c = model.constrained.as_ref().expect("axis_meta parsed");
    let doc = expected();
    assert_eq!(
        c.num_pose() as u64,
        doc["num_pose_constrained"].as_u64().unwrap()
    );
    assert_eq!(model.num_pose(PoseMode::Constrained), Some(c.num_pose()));
    assert_eq!(model.num_pose(PoseMode::AxisAngle), Some(225));
    let pose: Vec<f64> = (0..c.num_pose()).map(|i| (i as f64 * 0.37).sin()).collect();
    let rots = c.rotations(&pose).unwrap();
    assert_eq!(rots.len(), 75);
    for r in &rots {
        assert!(
            (r * r.transpose() - nalgebra::Matrix3::identity())
                .abs()
                .max()
                < 1e-5
        );
    }
    let (max_v, max_j, n) = check_cases(&model, "supr_tiny_constrained.npy.gz");
    println!("constrained file: {n} cases, max |dv| = {max_v:.3e} m, max |dj| = {max_j:.3e} m");
    assert!(max_v <= TOL && max_j <= TOL, "dv {max_v:e}, dj {max_j:e}");
    assert!(matches!(
        model.forward(&[], &pose[1..], Vector3::zeros(), PoseMode::Constrained),
        Err(SuprError::BadPose { .. })
    ));
}

#[test]
fn npz_copy_loads_to_the_same_model_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let npy = load_supr(&inflate("supr_tiny.npy.gz", dir.path())).unwrap();
    let npz = load_supr(&fixture_dir().join("supr_tiny.npz")).unwrap();
    assert_eq!(npz.model.v_template, npy.model.v_template);
    assert_eq!(npz.model.faces, npy.model.faces);
    assert_eq!(npz.model.posedirs, npy.model.posedirs);
    assert_eq!(npz.model.j_template, npy.model.j_template);
    assert_eq!(npz.model.j_shapedirs, npy.model.j_shapedirs);
    assert_eq!(npz.model.parents, npy.model.parents);
    let (max_v, max_j, _) = check_cases(&npz, "supr_tiny.npy.gz");
    assert!(max_v <= TOL && max_j <= TOL, "dv {max_v:e}, dj {max_j:e}");
    // Unconstrained model: asking for a constrained pose is a typed error.
    assert!(matches!(
        npz.forward(&[], &[0.0; 10], Vector3::zeros(), PoseMode::Constrained),
        Err(SuprError::NotConstrained { .. })
    ));
}

#[test]
fn generic_body_forward_agrees_with_supr_below_pi() {
    // BodyModel::forward derives pose features from rotation matrices; for angles ≤ π that is
    // SUPR's feature up to its 1e-8 regulariser, so fitting code may use either path.
    let dir = tempfile::tempdir().unwrap();
    let model = load_supr(&inflate("supr_tiny.npy.gz", dir.path())).unwrap();
    let doc = expected();
    let case = &doc["cases"][0];
    let pose = floats(&case["pose"]);
    assert!(
        pose.chunks(3)
            .all(|a| Vector3::new(a[0], a[1], a[2]).norm() < std::f64::consts::PI)
    );
    let rots: Vec<_> = pose
        .chunks(3)
        .map(|a| supr_rodrigues(Vector3::new(a[0], a[1], a[2])))
        .collect();
    let t = floats(&case["trans"]);
    let shaped = model.model.shape(&floats(&case["betas"]));
    let posed = model
        .model
        .forward(&shaped, &rots, Vector3::new(t[0], t[1], t[2]));
    let want = rows(&case["vertices"]);
    let err = posed
        .vertices
        .iter()
        .zip(&want)
        .flat_map(|(g, w)| (0..3).map(move |c| (g[c] as f64 - w[c]).abs()))
        .fold(0f64, f64::max);
    assert!(err <= TOL, "{err:e}");
}

#[test]
fn truncated_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::read(inflate("supr_tiny_constrained.npy.gz", dir.path())).unwrap();
    for frac in [0.0, 0.001, 0.3, 0.5, 0.9, 0.9999] {
        let cut = (full.len() as f64 * frac) as usize;
        let path = dir.path().join(format!("supr_cut_{cut}.npy"));
        std::fs::write(&path, &full[..cut]).unwrap();
        let err = load_supr(&path).expect_err("truncated file must not load");
        let msg = err.to_string();
        assert!(
            msg.contains(&path.display().to_string()),
            "error does not name the file: {msg}"
        );
        assert!(
            matches!(
                err,
                SuprError::Read(NpyError::Truncated { .. } | NpyError::SizeMismatch { .. })
            ),
            "{msg}"
        );
    }
    let missing = dir.path().join("no_such_supr.npy");
    let err = load_supr(&missing).unwrap_err();
    assert!(matches!(err, SuprError::Read(NpyError::Io { .. })), "{err}");
    assert!(err.to_string().contains("no_such_supr.npy"));
}

#[test]
fn wrong_dtype_and_wrong_contents_are_typed_errors() {
    let path = fixture_dir().join("bad_dtype.npy");
    let err = load_supr(&path).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(&err, SuprError::Read(NpyError::UnsupportedDtype { dtype, .. }) if dtype.contains("c8")),
        "{msg}"
    );
    assert!(msg.contains("bad_dtype.npy"), "{msg}");
    // A valid pickled dict that is not a SUPR model.
    let other = fixture_dir().join("pickle/dict_object.npy");
    let err = load_supr(&other).unwrap_err();
    assert!(
        matches!(&err, SuprError::Missing { key, .. } if key == "v_template"),
        "{err}"
    );
    // A plain array file is not a model dict.
    let plain = fixture_dir().join("pickle/plain_v2.npy");
    assert!(matches!(
        load_supr(&plain),
        Err(SuprError::NotADict {
            found: "ndarray",
            ..
        })
    ));
}
