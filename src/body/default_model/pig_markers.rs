//! Plug-in Gait marker placements on the default body, derived by anatomical rules from the
//! T-posed mean mesh and its joints: each marker is a ray from inside the body (a joint or a point
//! between joints) in an anatomical direction, intersected with the skin of the body part it
//! belongs to (faces skinned mostly to the given joints).

use nalgebra::Vector3;

use super::build::error::BuildError;
use crate::body::markers::{MarkerPlacement, MarkerSet};
use crate::body::model::BodyModel;

/// Distance from the skin to the marker centre: a 14 mm marker on a 2 mm base.
pub const DISTANCE_TO_SKIN_M: f32 = 0.0095;

/// The Plug-in Gait full-body labels placed on the default body (plus SACR).
pub const PIG_MARKERS: [&str; 40] = [
    "LFHD", "RFHD", "LBHD", "RBHD", "C7", "T10", "CLAV", "STRN", "RBAK", "LSHO", "RSHO", "LUPA",
    "RUPA", "LELB", "RELB", "LFRM", "RFRM", "LWRA", "RWRA", "LWRB", "RWRB", "LFIN", "RFIN", "LASI",
    "RASI", "LPSI", "RPSI", "LTHI", "RTHI", "LKNE", "RKNE", "LTIB", "RTIB", "LANK", "RANK", "LHEE",
    "RHEE", "LTOE", "RTOE", "SACR",
];

/// One placement rule: cast from `origin` along `dir` onto faces skinned to `joints`.
struct Rule {
    name: String,
    origin: Vector3<f64>,
    dir: Vector3<f64>,
    joints: Vec<usize>,
}

/// Ray/triangle intersection (Möller–Trumbore): distance along the ray and barycentrics.
fn ray_triangle(
    o: &Vector3<f64>,
    d: &Vector3<f64>,
    a: &Vector3<f64>,
    b: &Vector3<f64>,
    c: &Vector3<f64>,
) -> Option<(f64, [f64; 3])> {
    let e1 = b - a;
    let e2 = c - a;
    let p = d.cross(&e2);
    let det = e1.dot(&p);
    if det.abs() < 1e-14 {
        return None;
    }
    let inv = 1.0 / det;
    let s = o - a;
    let u = s.dot(&p) * inv;
    if !(0.0..=1.0).contains(&u) {
        return None;
    }
    let q = s.cross(&e1);
    let v = d.dot(&q) * inv;
    if v < 0.0 || u + v > 1.0 {
        return None;
    }
    let t = e2.dot(&q) * inv;
    (t > 1e-9).then_some((t, [1.0 - u - v, u, v]))
}

/// Closest point of triangle `abc` to `p` (Ericson, Real-Time Collision Detection 5.1.5), as
/// barycentric coordinates.
pub fn closest_point_barycentric(
    p: &Vector3<f64>,
    a: &Vector3<f64>,
    b: &Vector3<f64>,
    c: &Vector3<f64>,
) -> [f64; 3] {
    let ab = b - a;
    let ac = c - a;
    let ap = p - a;
    let d1 = ab.dot(&ap);
    let d2 = ac.dot(&ap);
    if d1 <= 0.0 && d2 <= 0.0 {
        return [1.0, 0.0, 0.0];
    }
    let bp = p - b;
    let d3 = ab.dot(&bp);
    let d4 = ac.dot(&bp);
    if d3 >= 0.0 && d4 <= d3 {
        return [0.0, 1.0, 0.0];
    }
    let vc = d1 * d4 - d3 * d2;
    if vc <= 0.0 && d1 >= 0.0 && d3 <= 0.0 {
        let v = d1 / (d1 - d3);
        return [1.0 - v, v, 0.0];
    }
    let cp = p - c;
    let d5 = ab.dot(&cp);
    let d6 = ac.dot(&cp);
    if d6 >= 0.0 && d5 <= d6 {
        return [0.0, 0.0, 1.0];
    }
    let vb = d5 * d2 - d1 * d6;
    if vb <= 0.0 && d2 >= 0.0 && d6 <= 0.0 {
        let w = d2 / (d2 - d6);
        return [1.0 - w, 0.0, w];
    }
    let va = d3 * d6 - d5 * d4;
    if va <= 0.0 && (d4 - d3) >= 0.0 && (d5 - d6) >= 0.0 {
        let w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
        return [0.0, 1.0 - w, w];
    }
    let denom = 1.0 / (va + vb + vc);
    let v = vb * denom;
    let w = vc * denom;
    [1.0 - v - w, v, w]
}

/// Nearest surface point of the mesh to `p`: `(face, barycentrics, distance)`.
pub fn nearest_surface_point(
    p: &Vector3<f64>,
    vertices: &[[f32; 3]],
    faces: &[[u32; 3]],
) -> Option<(u32, [f64; 3], f64)> {
    let vtx = |i: u32| {
        let q = vertices[i as usize];
        Vector3::new(q[0] as f64, q[1] as f64, q[2] as f64)
    };
    let mut best: Option<(u32, [f64; 3], f64)> = None;
    for (fi, f) in faces.iter().enumerate() {
        let [a, b, c] = f.map(vtx);
        let w = closest_point_barycentric(p, &a, &b, &c);
        let q = a * w[0] + b * w[1] + c * w[2];
        let d = (q - p).norm();
        if best.is_none_or(|(_, _, bd)| d < bd) {
            best = Some((fi as u32, w, d));
        }
    }
    best
}

/// Places all [`PIG_MARKERS`] on the T-posed rest mesh of `model`. `extra` holds the posed heads
/// of the rig's `index_01_l/r`, `middle_01_l/r`, `thumb_01_l/r` bones (in that order).
pub fn place_pig_markers(
    model: &BodyModel,
    extra: &[Vector3<f64>],
) -> Result<MarkerSet, BuildError> {
    let j: Vec<Vector3<f64>> = model.j_template.iter().map(|p| Vector3::from(*p)).collect();
    let skin = Skin::new(model);
    let mut rules = Vec::new();
    for (side, s) in [("L", 0usize), ("R", 1usize)] {
        rules.extend(upper_side_rules(&j, extra, &skin, side, s));
        rules.extend(lower_side_rules(&j, &skin, side, s));
    }
    rules.extend(trunk_rules(&j));
    let by_name = rules
        .iter()
        .map(|rule| skin.place(rule))
        .collect::<Result<Vec<_>, _>>()?;
    let markers = PIG_MARKERS
        .iter()
        .map(|n| {
            by_name
                .iter()
                .find(|m| m.name == *n)
                .cloned()
                .ok_or_else(|| BuildError::Numeric {
                    what: format!("no rule for marker {n}"),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(MarkerSet { markers })
}

/// Labels of the lower-body landmarks that labs export besides Plug-in Gait markers: greater
/// trochanters (skin) and hip, knee and ankle joint centres (virtual points inside the body).
pub const LANDMARK_MARKERS: [&str; 8] = [
    "LGTR", "RGTR", "LHJC", "RHJC", "LKJC", "RKJC", "LAJC", "RAJC",
];

/// Places [`LANDMARK_MARKERS`] on the T-posed rest mesh of `model`. A joint centre is written in
/// the same face + barycentric + normal-distance form as a skin marker, with a negative
/// distance that reaches back inside the body to the joint: the solver then treats it like
/// any marker, and blended skinning of a point at a joint's rotation centre follows the joint.
pub fn place_landmark_markers(model: &BodyModel) -> Result<MarkerSet, BuildError> {
    let j: Vec<Vector3<f64>> = model.j_template.iter().map(|p| Vector3::from(*p)).collect();
    let skin = Skin::new(model);
    let mut markers = Vec::new();
    for (side, s) in [("L", 0usize), ("R", 1usize)] {
        let sx = if s == 0 { 1.0 } else { -1.0 };
        let lateral = Vector3::new(sx, 0.0, 0.0);
        let (hip, knee, ankle) = (1 + s, 4 + s, 7 + s);
        // Greater trochanter: lateral of the hip joint, a little below it.
        let gtr = Rule::new(
            format!("{side}GTR"),
            j[hip] - Vector3::new(0.0, 0.02, 0.0),
            lateral,
            &[0, hip],
        );
        markers.push(skin.place(&gtr)?);
        for (name, joint, parts) in [
            ("HJC", hip, [0, hip]),
            ("KJC", knee, [hip, knee]),
            ("AJC", ankle, [knee, ankle]),
        ] {
            markers.push(skin.place_at_joint(&format!("{side}{name}"), &j[joint], &parts)?);
        }
    }
    let markers = LANDMARK_MARKERS
        .iter()
        .filter_map(|n| markers.iter().find(|m| m.name == *n).cloned())
        .collect();
    Ok(MarkerSet { markers })
}

impl Skin<'_> {
    /// A virtual marker at `target` inside the body: the face of `joints`' skin nearest to the
    /// target among those whose outward normal line passes through it (within a millimetre), with
    /// the negative skin distance that reaches back along that normal.
    fn place_at_joint(
        &self,
        name: &str,
        target: &Vector3<f64>,
        joints: &[usize],
    ) -> Result<MarkerPlacement, BuildError> {
        // (miss rounded to mm, depth, placement): the smallest miss, then the shallowest.
        let mut best: Option<(f64, f64, MarkerPlacement)> = None;
        for (fi, f) in self.model.faces.iter().enumerate() {
            if !f
                .iter()
                .all(|&v| joints.contains(&self.dominant[v as usize]))
            {
                continue;
            }
            let [a, b, c] = f.map(|i| self.vertex(i));
            let w = closest_point_barycentric(target, &a, &b, &c);
            let on_skin = a * w[0] + b * w[1] + c * w[2];
            let n = (b - a).cross(&(c - a));
            if n.norm() < 1e-12 {
                continue;
            }
            let n = n.normalize();
            let depth = (target - on_skin).dot(&n);
            if depth >= 0.0 {
                continue;
            }
            let miss = ((on_skin + n * depth - target).norm() * 1e3).round();
            if best
                .as_ref()
                .is_none_or(|(m, d, _)| (miss, -depth) < (*m, -*d))
            {
                let placement = MarkerPlacement {
                    name: name.to_string(),
                    face_id: fi as u32,
                    bary: w.map(|x| x as f32),
                    distance_to_skin_m: depth as f32,
                    rigid_joint: None,
                };
                best = Some((miss, depth, placement));
            }
        }
        best.map(|(_, _, p)| p).ok_or_else(|| BuildError::Numeric {
            what: format!("no surface around joint centre {name}"),
        })
    }
}

impl Rule {
    /// A rule casting from `origin` along the normalised `dir` onto faces skinned to `joints`.
    fn new(name: String, origin: Vector3<f64>, dir: Vector3<f64>, joints: &[usize]) -> Self {
        Rule {
            name,
            origin,
            dir: dir.normalize(),
            joints: joints.to_vec(),
        }
    }
}

/// The rest mesh with each vertex's dominant joint: what the rules are cast onto.
struct Skin<'a> {
    /// The model (rest vertices and faces).
    model: &'a BodyModel,
    /// Dominant (largest-weight) joint of each vertex.
    dominant: Vec<usize>,
    /// Height of the top of the head.
    top_y: f64,
}

impl<'a> Skin<'a> {
    /// Finds each vertex's dominant joint and the top of the head.
    fn new(model: &'a BodyModel) -> Self {
        let verts = &model.v_template;
        let dominant = (0..verts.len())
            .map(|v| {
                model
                    .weights
                    .row(v)
                    .fold(
                        (0usize, -1f32),
                        |acc, (jj, w)| if w > acc.1 { (jj, w) } else { acc },
                    )
                    .0
            })
            .collect();
        let top_y = verts.iter().map(|p| p[1] as f64).fold(f64::MIN, f64::max);
        Skin {
            model,
            dominant,
            top_y,
        }
    }

    /// Height of the sole under `ankle`: the lowest vertex skinned to the ankle or its foot.
    fn sole_y(&self, ankle: usize) -> f64 {
        let verts = &self.model.v_template;
        (0..verts.len())
            .filter(|&v| self.dominant[v] == ankle || self.dominant[v] == ankle + 3)
            .map(|v| verts[v][1] as f64)
            .fold(f64::MAX, f64::min)
    }

    fn vertex(&self, i: u32) -> Vector3<f64> {
        let q = self.model.v_template[i as usize];
        Vector3::new(q[0] as f64, q[1] as f64, q[2] as f64)
    }

    /// The nearest hit of the rule's ray: `(distance, face, barycentrics)`, only on faces
    /// skinned to the rule's joints if `filter`.
    fn cast(&self, rule: &Rule, filter: bool) -> Option<(f64, u32, [f64; 3])> {
        let mut best: Option<(f64, u32, [f64; 3])> = None;
        for (fi, f) in self.model.faces.iter().enumerate() {
            if filter
                && !f
                    .iter()
                    .any(|&v| rule.joints.contains(&self.dominant[v as usize]))
            {
                continue;
            }
            let [a, b, c] = f.map(|i| self.vertex(i));
            if let Some((t, w)) = ray_triangle(&rule.origin, &rule.dir, &a, &b, &c)
                && best.is_none_or(|(bt, _, _)| t < bt)
            {
                best = Some((t, fi as u32, w));
            }
        }
        best
    }

    /// Places one marker: the ray's hit on its body part, else anywhere, else the surface point
    /// nearest to 15 cm along the ray.
    fn place(&self, rule: &Rule) -> Result<MarkerPlacement, BuildError> {
        let (face_id, bary) = match self.cast(rule, true).or_else(|| self.cast(rule, false)) {
            Some((_, f, w)) => (f, w),
            None => {
                let target = rule.origin + rule.dir * 0.15;
                let (f, w, _) =
                    nearest_surface_point(&target, &self.model.v_template, &self.model.faces)
                        .ok_or_else(|| BuildError::Numeric {
                            what: format!("no surface found for marker {}", rule.name),
                        })?;
                (f, w)
            }
        };
        Ok(MarkerPlacement {
            name: rule.name.clone(),
            face_id,
            bary: bary.map(|x| x as f32),
            distance_to_skin_m: DISTANCE_TO_SKIN_M,
            rigid_joint: None,
        })
    }
}

/// The head and arm rules of one side (`side` "L"/"R", `s` 0/1), in marker order.
fn upper_side_rules(
    j: &[Vector3<f64>],
    extra: &[Vector3<f64>],
    skin: &Skin,
    side: &str,
    s: usize,
) -> Vec<Rule> {
    let v3 = Vector3::new;
    let sx = if s == 0 { 1.0 } else { -1.0 };
    let (collar, shoulder, elbow, wrist) = (13 + s, 16 + s, 18 + s, 20 + s);
    let mut rules = Vec::new();
    let mut r = |n: &str, origin: Vector3<f64>, dir: Vector3<f64>, joints: &[usize]| {
        rules.push(Rule::new(format!("{side}{n}"), origin, dir, joints))
    };
    // Head: temples (front) and back of the head, in a plane ~55% up from the skull base.
    let hy = j[15].y + 0.55 * (skin.top_y - j[15].y);
    let hc = v3(0.0, hy, j[15].z + 0.01);
    r("FHD", hc, v3(0.45 * sx, 0.0, 1.0), &[15]);
    r("BHD", hc, v3(0.45 * sx, 0.0, -1.0), &[15]);
    // Acromion: on top of the shoulder joint.
    r(
        "SHO",
        j[shoulder] + v3(-0.01 * sx, 0.0, 0.0),
        v3(0.0, 1.0, 0.0),
        &[collar, shoulder],
    );
    // Upper arm and forearm: lateral / dorsal aspect (up and slightly back in the T-pose).
    r(
        "UPA",
        j[shoulder].lerp(&j[elbow], 0.5),
        v3(0.0, 1.0, -0.35),
        &[shoulder],
    );
    r("ELB", j[elbow], v3(0.0, 1.0, -0.2), &[shoulder, elbow]);
    r(
        "FRM",
        j[elbow].lerp(&j[wrist], 0.5),
        v3(0.0, 1.0, -0.2),
        &[elbow],
    );
    // Wrist bar: thumb side is anterior (+z) with palms down, pinkie side posterior.
    r("WRA", j[wrist], v3(0.0, 0.0, 1.0), &[elbow, wrist]);
    r("WRB", j[wrist], v3(0.0, 0.0, -1.0), &[elbow, wrist]);
    // Finger: dorsum of the hand just proximal to the 2nd metacarpal head.
    let index = extra[s];
    r(
        "FIN",
        j[wrist].lerp(&index, 0.8),
        v3(0.0, 1.0, 0.0),
        &[wrist],
    );
    rules
}

/// The pelvis and leg rules of one side (`side` "L"/"R", `s` 0/1), in marker order.
fn lower_side_rules(j: &[Vector3<f64>], skin: &Skin, side: &str, s: usize) -> Vec<Rule> {
    let v3 = Vector3::new;
    let sx = if s == 0 { 1.0 } else { -1.0 };
    let (hip, knee, ankle, foot) = (1 + s, 4 + s, 7 + s, 10 + s);
    let lateral = v3(sx, 0.0, 0.0);
    let mut rules = Vec::new();
    let mut r = |n: &str, origin: Vector3<f64>, dir: Vector3<f64>, joints: &[usize]| {
        rules.push(Rule::new(format!("{side}{n}"), origin, dir, joints))
    };
    // Pelvis: anterior/posterior superior iliac spines ~6 cm above the hip joints.
    let asis = v3(j[hip].x * 1.05, j[hip].y + 0.065, j[0].z);
    r("ASI", asis, v3(0.15 * sx, 0.0, 1.0), &[0, 3, hip]);
    let psis = v3(j[hip].x * 0.45, j[hip].y + 0.075, j[0].z);
    r("PSI", psis, v3(0.0, 0.0, -1.0), &[0, 3, hip]);
    // Thigh wand: lateral, lower third of the thigh; knee: lateral femoral epicondyle.
    r("THI", j[hip].lerp(&j[knee], 0.67), lateral, &[hip]);
    r("KNE", j[knee], lateral, &[hip, knee]);
    // Tibia wand: lateral, lower third of the shank; ankle: lateral malleolus.
    r("TIB", j[knee].lerp(&j[ankle], 0.67), lateral, &[knee]);
    r("ANK", j[ankle], lateral, &[knee, ankle]);
    // Heel: back of the calcaneus, halfway between sole and ankle joint height.
    let heel = v3(
        j[ankle].x,
        0.5 * (j[ankle].y + skin.sole_y(ankle)),
        j[ankle].z,
    );
    r("HEE", heel, v3(0.0, 0.0, -1.0), &[ankle, foot]);
    // Toe: dorsum over the 2nd metatarsal head (slightly medial of the ball joint).
    let toe = j[foot] + v3(-0.01 * sx, 0.0, 0.0);
    r("TOE", toe, v3(0.0, 1.0, 0.0), &[ankle, foot]);
    rules
}

/// The midline trunk rules (C7, T10, CLAV, STRN, RBAK, SACR).
fn trunk_rules(j: &[Vector3<f64>]) -> Vec<Rule> {
    let back = Vector3::new(0.0, 0.0, -1.0);
    let front = Vector3::new(0.0, 0.0, 1.0);
    let mid = (j[1] + j[2]) / 2.0;
    let r = |n: &str, origin: Vector3<f64>, dir: Vector3<f64>, joints: &[usize]| {
        Rule::new(n.to_string(), origin, dir, joints)
    };
    vec![
        r(
            "C7",
            Vector3::new(0.0, j[12].y - 0.01, j[12].z),
            back,
            &[9, 12],
        ),
        r("T10", j[6].lerp(&j[9], 0.4), back, &[3, 6, 9]),
        r(
            "CLAV",
            (j[13] + j[14]) / 2.0 - Vector3::new(0.0, 0.01, 0.0),
            front,
            &[9, 12, 13, 14],
        ),
        r(
            "STRN",
            Vector3::new(0.0, j[9].y - 0.04, j[9].z),
            front,
            &[6, 9],
        ),
        r(
            "RBAK",
            Vector3::new(0.5 * j[17].x, j[9].y + 0.3 * (j[12].y - j[9].y), j[9].z),
            back,
            &[6, 9, 14],
        ),
        r(
            "SACR",
            Vector3::new(0.0, mid.y + 0.075, j[0].z),
            back,
            &[0, 1, 2, 3],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joint_centre_landmarks_sit_at_their_joints_and_trochanters_outside_the_hips() {
        let model = crate::body::default_model::default_body();
        let set = place_landmark_markers(model).unwrap();
        let names: Vec<&str> = set.markers.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, LANDMARK_MARKERS);
        let at = |n: &str| {
            let m = set.get(n).unwrap();
            Vector3::from(crate::body::markers::marker_position(
                m,
                &model.v_template,
                &model.faces,
            ))
        };
        let joint = |i: usize| Vector3::from(model.j_template[i]);
        for (n, i) in [
            ("LHJC", 1),
            ("RHJC", 2),
            ("LKJC", 4),
            ("RKJC", 5),
            ("LAJC", 7),
            ("RAJC", 8),
        ] {
            let miss = (at(n) - joint(i)).norm();
            assert!(miss < 0.002, "{n} is {miss} m from its joint");
        }
        // Trochanters: lateral of the hip joints by a few centimetres of soft tissue.
        let gap = at("LGTR").x - joint(1).x;
        assert!(
            (0.03..0.15).contains(&gap),
            "left trochanter {gap} m lateral"
        );
        assert!(at("RGTR").x < joint(2).x - 0.03);
    }

    #[test]
    fn closest_point_and_ray_hit_agree_on_a_triangle() {
        let a = Vector3::new(0.0, 0.0, 0.0);
        let b = Vector3::new(1.0, 0.0, 0.0);
        let c = Vector3::new(0.0, 1.0, 0.0);
        let p = Vector3::new(0.2, 0.3, 0.5);
        let w = closest_point_barycentric(&p, &a, &b, &c);
        let q = a * w[0] + b * w[1] + c * w[2];
        assert!((q - Vector3::new(0.2, 0.3, 0.0)).norm() < 1e-12);
        let (t, w2) = ray_triangle(&p, &Vector3::new(0.0, 0.0, -1.0), &a, &b, &c).unwrap();
        assert!((t - 0.5).abs() < 1e-12);
        assert!(w.iter().zip(&w2).all(|(x, y)| (x - y).abs() < 1e-12));
        // Outside the triangle: the closest point is the vertex b.
        let w3 = closest_point_barycentric(&Vector3::new(2.0, -1.0, 0.0), &a, &b, &c);
        assert_eq!(w3, [0.0, 1.0, 0.0]);
        assert!(
            ray_triangle(
                &Vector3::new(2.0, 2.0, 1.0),
                &Vector3::new(0.0, 0.0, -1.0),
                &a,
                &b,
                &c
            )
            .is_none()
        );
    }
}
