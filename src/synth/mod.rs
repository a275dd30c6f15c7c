//! A clearly labelled **semi-synthetic** gait cohort with known ground truth: healthy walking
//! from a normative joint-angle model ([`gait_model`]) on subject-specific body shapes, and a
//! sick class with injected pathologies of known locus and side ([`pathology`]).
//!
//! Real labelled 3D cohorts cannot be redistributed, so this cohort exists to train and test the
//! classifiers and to check that their relevance maps fall on the injected limb. It is not
//! clinical data. Walking speed and cadence are drawn from the same distribution in both classes
//! (and independently of the pathology): subjects come in matched healthy/sick pairs sharing
//! body shape, speed and cadence up to a small jitter, so the classes cannot be told apart by
//! speed or size.
//!
//! Everything is deterministic under [`SynthConfig::seed`]: every random quantity comes from a
//! SplitMix64 stream keyed by (seed, subject, purpose), and the noise streams are drawn the same
//! way whether or not a pathology is injected, so a subject's healthy variant differs from its
//! sick variant only at the pathology's locus joints.

pub mod from_walks;
pub mod gait_model;
pub mod pathology;
pub mod transplant;

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::body::BodyModel;
use crate::dataset::{Frame, JointSequence, posed_joints};
use crate::formats::pose_seq::{PoseFileFormat, PoseSeqError, PoseSequence, write_pose_dir};
use crate::io_util::write_atomic;
use gait_model::{NUM_DOF, Rig, Style, healthy_angles};
pub use pathology::{ALL_PATHOLOGIES, Pathology, Side, TRANSPLANT_PATHOLOGIES, limb_joints};

/// Version tag of the generator, written into `ground_truth.json`.
pub const GENERATOR_VERSION: &str = "gaitlens-synth/1";

/// Parameters of a synthetic cohort.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthConfig {
    /// Number of subjects (both classes together).
    pub subjects: usize,
    /// Seed of every random quantity.
    pub seed: u64,
    /// Walking trials per subject (`walk_00`, `walk_01`, …).
    pub trials_per_subject: usize,
    /// Frames per trial.
    pub frames_per_trial: usize,
    /// Frame rate, Hz.
    pub rate_hz: f64,
    /// Standard deviation of the smooth per-frame angle noise, degrees.
    pub noise_deg: f64,
    /// Fraction of sick subjects (interleaved with the healthy ones).
    pub sick_fraction: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            subjects: 40,
            seed: 1,
            trials_per_subject: 2,
            frames_per_trial: 192,
            rate_hz: 50.0,
            noise_deg: 1.0,
            sick_fraction: 0.5,
        }
    }
}

/// Ground truth of one subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// Subject folder name (`S000`, …).
    pub subject: String,
    /// Class label.
    pub sick: bool,
    /// Injected pathology (`None` for healthy subjects).
    pub pathology: Option<Pathology>,
    /// Side of the pathology.
    pub side: Option<Side>,
    /// Joints whose local rotations the pathology changes (SMPL indices).
    pub joints: Vec<usize>,
    /// All joints of the affected limb(s): hip, knee, ankle, foot.
    pub limb: Vec<usize>,
    /// Severity in [0.7, 1) (drawn for every subject, used only for sick ones).
    pub severity: f64,
    /// Walking speed, m/s.
    pub speed_m_s: f64,
    /// Cadence, steps per minute.
    pub cadence_steps_min: f64,
    /// Shape coefficients of the subject.
    pub betas: Vec<f64>,
    /// Joints changed only by the compensations of a transplanted pathology (hip hiking,
    /// vaulting, steppage, pelvic tilt, trunk lean; SMPL indices), apart from `joints`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compensation: Vec<usize>,
    /// The real walk the subject was built from (`gaitlens synth from-walks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_walk: Option<String>,
    /// How the source walk's pelvis markers were fitted, as its `fit_report.json` records it
    /// (`None`: not recorded, or a Fourier walk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pelvis_markers: Option<crate::fit::PelvisMarkers>,
}

impl GroundTruth {
    /// Checks what evaluation relies on: joint indices within the SMPL-22 table, finite numbers
    /// in range, a pathology exactly for the sick subjects.
    fn check(&self) -> Result<(), String> {
        let n = crate::body::smpl22::NUM_JOINTS;
        for (field, list) in [
            ("joints", &self.joints),
            ("limb", &self.limb),
            ("compensation", &self.compensation),
        ] {
            if let Some(j) = list.iter().find(|&&j| j >= n) {
                return Err(format!("{field} holds joint {j}, the joint table has {n}"));
            }
        }
        if !(0.0..=1.0).contains(&self.severity) {
            return Err(format!("severity {} is outside [0, 1]", self.severity));
        }
        for (field, v, max) in [
            ("speed_m_s", self.speed_m_s, 20.0),
            ("cadence_steps_min", self.cadence_steps_min, 1000.0),
        ] {
            if !(0.0..=max).contains(&v) {
                return Err(format!("{field} {v} is outside [0, {max}]"));
            }
        }
        if let Some(b) = self.betas.iter().find(|b| !b.is_finite()) {
            return Err(format!("betas holds {b}"));
        }
        if self.sick != self.pathology.is_some() {
            return Err(format!(
                "sick is {} but the pathology is {:?}",
                self.sick, self.pathology
            ));
        }
        Ok(())
    }

    /// Side of the pathology as seen in a window; a mirrored window (left/right joints swapped,
    /// see [`crate::dataset::MIRRORED_JOINT_ORDER`]) shows it on the other side.
    pub fn side_in_window(&self, mirrored: bool) -> Option<Side> {
        self.side.map(|s| match (s, mirrored) {
            (Side::Left, true) => Side::Right,
            (Side::Right, true) => Side::Left,
            (s, _) => s,
        })
    }

    /// Locus joints as seen in a window (joint indices swapped for a mirrored window), sorted.
    pub fn joints_in_window(&self, mirrored: bool) -> Vec<usize> {
        Self::mirror_indices(&self.joints, mirrored)
    }

    /// Limb joints as seen in a window (swapped for a mirrored window), sorted.
    pub fn limb_in_window(&self, mirrored: bool) -> Vec<usize> {
        Self::mirror_indices(&self.limb, mirrored)
    }

    fn mirror_indices(v: &[usize], mirrored: bool) -> Vec<usize> {
        let mut out: Vec<usize> = if mirrored {
            v.iter()
                .map(|&j| crate::dataset::MIRRORED_JOINT_ORDER[j])
                .collect()
        } else {
            v.to_vec()
        };
        out.sort_unstable();
        out
    }
}

/// One generated walking trial.
#[derive(Debug, Clone)]
pub struct SynthTrial {
    /// Trial folder name.
    pub gait: String,
    /// Body-model parameters per frame (what `pose_*.json` stores).
    pub poses: PoseSequence,
    /// Posed joint positions per frame.
    pub joints: Vec<Frame>,
}

/// Errors of the generator and writer.
#[derive(Debug, Error)]
pub enum SynthError {
    /// The configuration is unusable.
    #[error("invalid synth configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// The body model cannot be posed with the generated pose.
    #[error("subject {subject}: cannot pose the body model: {reason}")]
    Pose {
        /// Subject name.
        subject: String,
        /// What is wrong.
        reason: String,
    },
    /// The output folder already holds a cohort.
    #[error("{path} already exists and is not empty; choose a new output folder")]
    OutputExists {
        /// The class folder found.
        path: PathBuf,
    },
    /// A pose folder could not be written (the inner error names the file).
    #[error(transparent)]
    PoseWrite(#[from] PoseSeqError),
    /// The ground-truth file of a cohort cannot be read or is not one.
    #[error("cannot read the ground truth {path}: {reason}")]
    ReadTruth {
        /// The file (`DIR/ground_truth.json`).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A pose folder has no frame rate (no `fit_report.json`) and none was given.
    #[error("{path}: frame rate unknown (no fit_report.json); pass --rate-hz")]
    NoRate {
        /// The pose folder.
        path: PathBuf,
    },
    /// A walk cannot take transplants (no gait cycle found, body cannot be posed).
    #[error("{path}: {source}")]
    Walk {
        /// The pose folder.
        path: PathBuf,
        /// What is wrong.
        source: transplant::WalkError,
    },
    /// A walk's longest stretch of frames with every pelvis and leg marker seen is shorter than
    /// one stride, so no gait cycle of it was measured.
    #[error(
        "{path}: its longest stretch of frames with every pelvis and leg marker seen is {longest} \
         frames, shorter than one stride ({needed} frames); fill the marker gaps, leave the walk out, \
         or build from every frame (`synth from-walks --all-frames`)"
    )]
    TooFewMeasured {
        /// The pose folder.
        path: PathBuf,
        /// Frames in the longest measured stretch.
        longest: usize,
        /// Frames of one stride.
        needed: usize,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

pub use crate::rng::SplitMix64;

const STREAM_SUBJECT: u64 = 1;
const STREAM_TRIAL: u64 = 2;
const STREAM_PAIR: u64 = 3;

/// Class, pathology and side assigned to subject `index` (before random draws).
fn assignment(cfg: &SynthConfig, index: usize) -> Option<(Pathology, Side)> {
    let f = cfg.sick_fraction.clamp(0.0, 1.0);
    let sick = ((index + 1) as f64 * f).floor() > (index as f64 * f).floor();
    if !sick {
        return None;
    }
    let k = (index as f64 * f).floor() as usize; // index among the sick
    let p = ALL_PATHOLOGIES[k % ALL_PATHOLOGIES.len()];
    let side = if p.bilateral() {
        Side::Both
    } else if (k / ALL_PATHOLOGIES.len()).is_multiple_of(2) {
        Side::Left
    } else {
        Side::Right
    };
    Some((p, side))
}

/// Per-subject random parameters (independent of the class).
struct SubjectParams {
    betas: Vec<f64>,
    speed_m_s: f64,
    cadence_steps_min: f64,
    style: Style,
    severity: f64,
}

/// The default body's first shape component (stature and age, ±1 = ±24 cm) at a 1.70 m adult and
/// per adult stature SD (7 cm): the synthetic cohort walks at adult speeds and cadences, so its
/// bodies are adults (1.55–1.85 m) although the shape space reaches down to 3-year-olds.
const ADULT_BETA0: (f64, f64) = (0.7, 0.3);

fn subject_params(cfg: &SynthConfig, index: usize, num_betas: usize) -> SubjectParams {
    // Matched pairs (subjects 2m and 2m+1, one healthy and one sick at the default sick
    // fraction): body shape, speed and cadence come from the pair's stream plus a small
    // individual jitter, as in a case-control design, so the classes cannot be told apart by
    // speed or size.
    let mut pair = SplitMix64::stream(cfg.seed, (index / 2) as u64, STREAM_PAIR);
    let mut r = SplitMix64::stream(cfg.seed, index as u64, STREAM_SUBJECT);
    let betas = (0..num_betas)
        .map(|b| {
            let v = (0.7 * pair.normal() + 0.15 * r.normal()).clamp(-2.0, 2.0);
            match b {
                0 => ADULT_BETA0.0 + ADULT_BETA0.1 * v,
                1..4 => v,
                _ => 0.0,
            }
        })
        .collect();
    let speed_m_s = (1.30 + 0.12 * pair.normal() + 0.03 * r.normal()).clamp(1.0, 1.6);
    let cadence_steps_min = (112.0 + 6.0 * pair.normal() + 1.5 * r.normal()).clamp(95.0, 130.0);
    let mut style = Style {
        sagittal_scale: [0; 3].map(|_| 1.0 + 0.06 * r.normal()),
        ..Style::default()
    };
    for side in &mut style.sagittal_offset_deg {
        *side = [2.0, 2.0, 2.0].map(|s| s * r.normal());
    }
    style.frontal_scale = (1.0 + 0.2 * r.normal()).max(0.3);
    style.arm_scale = (1.0 + 0.25 * r.normal()).max(0.2);
    style.trunk_lean_deg = 3.0 + 2.0 * r.normal();
    let severity = 0.7 + 0.3 * r.uniform();
    SubjectParams {
        betas,
        speed_m_s,
        cadence_steps_min,
        style,
        severity,
    }
}

/// Name of subject `index`.
pub fn subject_name(index: usize) -> String {
    format!("S{index:03}")
}

fn check_config(cfg: &SynthConfig) -> Result<(), SynthError> {
    let bad = |reason: String| Err(SynthError::Config { reason });
    if cfg.subjects == 0 || cfg.trials_per_subject == 0 || cfg.frames_per_trial < 2 {
        return bad(format!(
            "need ≥ 1 subject, ≥ 1 trial and ≥ 2 frames (got {}, {}, {})",
            cfg.subjects, cfg.trials_per_subject, cfg.frames_per_trial
        ));
    }
    let rate_ok = cfg.rate_hz.is_finite() && cfg.rate_hz > 0.0;
    let noise_ok = cfg.noise_deg.is_finite() && cfg.noise_deg >= 0.0;
    if !rate_ok || !noise_ok {
        return bad(format!(
            "rate_hz must be > 0 and noise_deg ≥ 0 (got {}, {})",
            cfg.rate_hz, cfg.noise_deg
        ));
    }
    Ok(())
}

/// Ground truth of subject `index` under `cfg`.
pub fn subject_truth(cfg: &SynthConfig, index: usize, num_betas: usize) -> GroundTruth {
    let p = subject_params(cfg, index, num_betas);
    let a = assignment(cfg, index);
    GroundTruth {
        subject: subject_name(index),
        sick: a.is_some(),
        pathology: a.map(|x| x.0),
        side: a.map(|x| x.1),
        joints: a.map(|(p, s)| p.locus_joints(s)).unwrap_or_default(),
        limb: a.map(|(_, s)| limb_joints(s)).unwrap_or_default(),
        severity: p.severity,
        speed_m_s: p.speed_m_s,
        cadence_steps_min: p.cadence_steps_min,
        betas: p.betas,
        compensation: Vec::new(),
        source_walk: None,
        pelvis_markers: None,
    }
}

/// Generates the trials of subject `index`, with `pathology` injected (or none: the subject's
/// healthy variant). Use [`subject_truth`] for the assigned pathology.
pub fn synth_subject(
    model: &BodyModel,
    cfg: &SynthConfig,
    index: usize,
    pathology: Option<(Pathology, Side)>,
) -> Result<Vec<SynthTrial>, SynthError> {
    check_config(cfg)?;
    let name = subject_name(index);
    let pose_err = |reason: String| SynthError::Pose {
        subject: name.clone(),
        reason,
    };
    if model.num_joints() < crate::dataset::NUM_JOINTS {
        return Err(pose_err(format!(
            "model has {} joints, need {}",
            model.num_joints(),
            crate::dataset::NUM_JOINTS
        )));
    }
    let sp = subject_params(cfg, index, model.num_betas);
    let rest = model.rest_joints(&sp.betas);
    let rig = Rig::new(model.num_joints(), &rest);
    let rho = (-1.0 / (cfg.rate_hz * 0.08)).exp();
    let innov = (1.0 - rho * rho).sqrt() * cfg.noise_deg;
    let mut trials = Vec::with_capacity(cfg.trials_per_subject);
    for t in 0..cfg.trials_per_subject {
        let mut r = SplitMix64::stream(cfg.seed, index as u64, STREAM_TRIAL + 16 * (t as u64 + 1));
        let yaw_deg = 360.0 * r.uniform();
        let phase0 = r.uniform();
        let start = [4.0 * r.uniform() - 2.0, 4.0 * r.uniform() - 2.0];
        let mut noise: Vec<f64> = (0..NUM_DOF).map(|_| cfg.noise_deg * r.normal()).collect();
        let (sy, cy) = yaw_deg.to_radians().sin_cos();
        let n = cfg.frames_per_trial;
        let mut poses = PoseSequence {
            betas: vec![sp.betas.clone(); n],
            poses: Vec::with_capacity(n),
            translations: Vec::with_capacity(n),
            rate_hz: Some(cfg.rate_hz),
            frame_numbers: (0..n as u64).collect(),
            source: None,
            format: PoseFileFormat::Json,
        };
        let mut joints = Vec::with_capacity(n);
        for f in 0..n {
            let time_s = f as f64 / cfg.rate_hz;
            let phase = phase0 + time_s * sp.cadence_steps_min / 120.0;
            let mut a = healthy_angles(&sp.style, phase);
            if let Some((p, side)) = pathology {
                pathology::apply(p, side, sp.severity, phase, &mut a);
            }
            if f > 0 {
                for v in noise.iter_mut() {
                    *v = rho * *v + innov * r.normal();
                }
            }
            for (dof, v) in a.dofs_mut().into_iter().zip(&noise) {
                *dof += v;
            }
            let pose = rig.pose(&a, yaw_deg);
            // Forward along the heading, lateral sway towards the stance leg.
            let fwd = sp.speed_m_s * time_s;
            let sway =
                0.02 * sp.style.frontal_scale * (std::f64::consts::TAU * (phase - 0.25)).cos();
            let tx = start[0] + cy * sway + sy * fwd;
            let tz = start[1] - sy * sway + cy * fwd;
            let mut j = posed_joints(model, &rest, &pose, [tx, 0.0, tz]).map_err(pose_err)?;
            // Ground contact: lowest ankle/foot joint 5 cm above the floor (y = 0).
            let low = [7, 8, 10, 11]
                .iter()
                .map(|&k| f64::from(j[k][1]))
                .fold(f64::INFINITY, f64::min);
            let ty = 0.05 - low;
            j.iter_mut().for_each(|p| p[1] += ty as f32);
            poses.poses.push(pose);
            poses.translations.push([tx, ty, tz]);
            joints.push(j);
        }
        trials.push(SynthTrial {
            gait: format!("walk_{t:02}"),
            poses,
            joints,
        });
    }
    Ok(trials)
}

/// The cohort in memory on `model`: every trial as a [`JointSequence`] with its subject's ground
/// truth, subjects in index order.
pub fn synth_cohort_with(
    model: &BodyModel,
    cfg: &SynthConfig,
) -> Result<Vec<(JointSequence, GroundTruth)>, SynthError> {
    check_config(cfg)?;
    let per_subject: Vec<Vec<(JointSequence, GroundTruth)>> = (0..cfg.subjects)
        .into_par_iter()
        .map(|i| {
            let truth = subject_truth(cfg, i, model.num_betas);
            let inj = truth.pathology.zip(truth.side);
            let trials = synth_subject(model, cfg, i, inj)?;
            Ok(trials
                .into_iter()
                .map(|t| {
                    (
                        JointSequence {
                            subject: truth.subject.clone(),
                            gait: t.gait,
                            sick: truth.sick,
                            rate_hz: Some(cfg.rate_hz),
                            joints: t.joints,
                            files: Vec::new(),
                            sides: crate::dataset::PathologySides::from_truth(
                                truth.sick,
                                truth.side.map(|s| s == pathology::Side::Both),
                            ),
                            legs_measured: None,
                        },
                        truth.clone(),
                    )
                })
                .collect())
        })
        .collect::<Result<_, SynthError>>()?;
    Ok(per_subject.into_iter().flatten().collect())
}

/// The cohort in memory on the embedded default body (see [`synth_cohort_with`]).
pub fn synth_cohort(cfg: &SynthConfig) -> Result<Vec<(JointSequence, GroundTruth)>, SynthError> {
    synth_cohort_with(crate::body::default_model::default_body(), cfg)
}

/// What [`write_cohort`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SynthSummary {
    /// Output folder.
    pub out: PathBuf,
    /// Healthy subjects.
    pub healthy: usize,
    /// Sick subjects.
    pub sick: usize,
    /// Trials (pose folders) written.
    pub trials: usize,
    /// Pose files written.
    pub frames: usize,
}

/// The `ground_truth.json` of a cohort (`C`: the generator's configuration).
#[derive(Serialize)]
pub(crate) struct GroundTruthFile<'a, C> {
    pub(crate) semi_synthetic: bool,
    pub(crate) description: &'static str,
    pub(crate) generator: &'static str,
    pub(crate) body_model: &'a str,
    pub(crate) config: &'a C,
    /// The real walks a cohort was built from (`synth from-walks`; empty otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) walks: Vec<String>,
    pub(crate) subjects: Vec<GroundTruth>,
}

const README: &str = "SEMI-SYNTHETIC GAIT COHORT - NOT CLINICAL DATA\n\
\n\
Generated by `gaitlens synth` ({generator}). Healthy walking comes from a normative joint-angle\n\
model (Fourier-series gait-cycle curves after Perry & Burnfield 2010, Winter 2009, Kadaba et al.\n\
1990) applied to the body model '{model}' with random body shapes, speeds, cadences, per-subject\n\
style offsets and smooth per-frame noise. Sick subjects carry one injected pathology (stiff knee,\n\
reduced hip flexion, foot drop, crouch, hemiparetic circumduction) with a known side and locus.\n\
Subjects come in matched healthy/sick pairs (S000/S001, S002/S003, ...) that share body\n\
shape, speed and cadence up to a small jitter.\n\
\n\
Layout: <healthy|sick>/<subject>/<walk_NN>/pose_NNNNN.json (betas, pose as axis-angle per joint,\n\
root translation in metres; y up). Frame rate: {rate} Hz (not stored in the pose files).\n\
ground_truth.json lists per subject: class, pathology, side, the joints whose rotations were\n\
changed (SMPL indices), the affected limb's joints, severity, speed and cadence.\n\
\n\
Seed {seed}; {subjects} subjects x {trials} trials x {frames} frames.\n";

/// Writes the cohort on `model` to `out` (see [`write_cohort`]).
pub fn write_cohort_with(
    model: &BodyModel,
    out: &Path,
    cfg: &SynthConfig,
) -> Result<SynthSummary, SynthError> {
    check_config(cfg)?;
    for class in ["healthy", "sick"] {
        let p = out.join(class);
        if p.read_dir().is_ok_and(|mut d| d.next().is_some()) {
            return Err(SynthError::OutputExists { path: p });
        }
    }
    let truths: Vec<GroundTruth> = (0..cfg.subjects)
        .into_par_iter()
        .map(|i| {
            let truth = subject_truth(cfg, i, model.num_betas);
            let trials = synth_subject(model, cfg, i, truth.pathology.zip(truth.side))?;
            let class = if truth.sick { "sick" } else { "healthy" };
            for t in &trials {
                let dir = out.join(class).join(&truth.subject).join(&t.gait);
                write_pose_dir(&dir, &t.poses, PoseFileFormat::Json)?;
            }
            Ok(truth)
        })
        .collect::<Result<_, SynthError>>()?;
    let sick = truths.iter().filter(|t| t.sick).count();
    let file = GroundTruthFile {
        semi_synthetic: true,
        description: "Semi-synthetic gait cohort with injected pathologies; not clinical data.",
        generator: GENERATOR_VERSION,
        body_model: &model.name,
        config: cfg,
        walks: Vec::new(),
        subjects: truths,
    };
    let readme = README
        .replace("{generator}", GENERATOR_VERSION)
        .replace("{model}", &model.name)
        .replace("{rate}", &cfg.rate_hz.to_string())
        .replace("{seed}", &cfg.seed.to_string())
        .replace("{subjects}", &cfg.subjects.to_string())
        .replace("{trials}", &cfg.trials_per_subject.to_string())
        .replace("{frames}", &cfg.frames_per_trial.to_string());
    write_truth_and_readme(out, &file, Some(&readme))?;
    let trials = cfg.subjects * cfg.trials_per_subject;
    tracing::info!(out = %out.display(), subjects = cfg.subjects, sick, "synthetic cohort written");
    Ok(SynthSummary {
        out: out.to_path_buf(),
        healthy: cfg.subjects - sick,
        sick,
        trials,
        frames: trials * cfg.frames_per_trial,
    })
}

/// Writes `out/ground_truth.json` (pretty JSON of `truth`) and, when given, `out/README.txt`,
/// each atomically.
pub(crate) fn write_truth_and_readme(
    out: &Path,
    truth: &impl Serialize,
    readme: Option<&str>,
) -> Result<(), SynthError> {
    let write = |path: PathBuf, bytes: &[u8]| {
        write_atomic(&path, bytes).map_err(|source| SynthError::Write { path, source })
    };
    let json = serde_json::to_vec_pretty(truth).expect("ground truth serialises");
    write(out.join("ground_truth.json"), &json)?;
    if let Some(r) = readme {
        write(out.join("README.txt"), r.as_bytes())?;
    }
    Ok(())
}

/// The pelvis-marker settings a cohort's fitted source walks were fitted with, each once, sorted
/// by name (empty when none is recorded).
pub fn recorded_pelvis_markers(truth: &[GroundTruth]) -> Vec<crate::fit::PelvisMarkers> {
    let mut settings: Vec<crate::fit::PelvisMarkers> = Vec::new();
    for p in truth.iter().filter_map(|t| t.pelvis_markers) {
        if !settings.contains(&p) {
            settings.push(p);
        }
    }
    settings.sort_by_key(|p| p.name());
    settings
}

/// Reads the per-subject ground truth of a cohort written by [`write_cohort`]
/// (`dir/ground_truth.json`).
pub fn read_ground_truth(dir: &Path) -> Result<Vec<GroundTruth>, SynthError> {
    let path = dir.join("ground_truth.json");
    let err = |reason: String| SynthError::ReadTruth {
        path: path.clone(),
        reason,
    };
    let bytes = std::fs::read(&path).map_err(|e| err(e.to_string()))?;
    parse_ground_truth(&bytes, &path)
}

/// Parses the bytes of a cohort's `ground_truth.json`; `path` names it in errors.
pub fn parse_ground_truth(bytes: &[u8], path: &Path) -> Result<Vec<GroundTruth>, SynthError> {
    let err = |reason: String| SynthError::ReadTruth {
        path: path.to_path_buf(),
        reason,
    };
    #[derive(Deserialize)]
    struct File {
        semi_synthetic: bool,
        subjects: Vec<GroundTruth>,
    }
    let file: File = serde_json::from_slice(bytes).map_err(|e| err(e.to_string()))?;
    if !file.semi_synthetic {
        return Err(err(
            "not marked semi_synthetic; not a gaitlens synth cohort".into(),
        ));
    }
    for (i, t) in file.subjects.iter().enumerate() {
        t.check()
            .map_err(|reason| err(format!("subjects[{i}] ({}): {reason}", t.subject)))?;
    }
    Ok(file.subjects)
}

/// Writes the semi-synthetic cohort on the embedded default body to
/// `out/<healthy|sick>/<subject>/<walk_NN>/pose_*.json` plus `out/ground_truth.json` and
/// `out/README.txt`; refuses an output folder that already holds class folders.
pub fn write_cohort(out: &Path, cfg: &SynthConfig) -> Result<SynthSummary, SynthError> {
    write_cohort_with(crate::body::default_model::default_body(), out, cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // First outputs of SplitMix64 seeded with 0 (reference implementation by Vigna).
        let mut g = SplitMix64(0);
        assert_eq!(g.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(g.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn a_cohorts_pelvis_marker_settings_are_listed_once_each() {
        use crate::fit::PelvisMarkers::{Rigid, Skin};
        let cfg = SynthConfig::default();
        let mut truth: Vec<GroundTruth> = (0..4).map(|i| subject_truth(&cfg, i, 10)).collect();
        assert!(recorded_pelvis_markers(&truth).is_empty(), "Fourier walks");
        truth[1].pelvis_markers = Some(Rigid);
        truth[2].pelvis_markers = Some(Rigid);
        assert_eq!(recorded_pelvis_markers(&truth), vec![Rigid]);
        truth[3].pelvis_markers = Some(Skin);
        assert_eq!(recorded_pelvis_markers(&truth), vec![Rigid, Skin]);
    }

    #[test]
    fn classes_interleave_and_pathologies_cycle() {
        let cfg = SynthConfig {
            subjects: 20,
            ..SynthConfig::default()
        };
        let a: Vec<_> = (0..20).map(|i| assignment(&cfg, i)).collect();
        assert_eq!(a.iter().filter(|x| x.is_some()).count(), 10);
        assert!(a[0].is_none() && a[1].is_some());
        let sick: Vec<(Pathology, Side)> = a.iter().flatten().copied().collect();
        assert_eq!(sick[0], (Pathology::StiffKnee, Side::Left));
        assert_eq!(sick[3], (Pathology::Crouch, Side::Both));
        assert_eq!(sick[5], (Pathology::StiffKnee, Side::Right));
    }

    #[test]
    fn ground_truth_in_mirrored_windows() {
        let cfg = SynthConfig::default();
        let t = subject_truth(&cfg, 1, 10);
        assert_eq!(
            (t.pathology, t.side),
            (Some(Pathology::StiffKnee), Some(Side::Left))
        );
        assert_eq!(t.side_in_window(true), Some(Side::Right));
        assert_eq!(t.joints_in_window(false), vec![4]);
        assert_eq!(t.joints_in_window(true), vec![5]);
        assert_eq!(t.limb_in_window(true), vec![2, 5, 8, 11]);
        let h = subject_truth(&cfg, 0, 10);
        assert!(!h.sick && h.side_in_window(true).is_none() && h.joints.is_empty());
    }

    #[test]
    fn ground_truth_reads_back_and_a_missing_file_names_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = SynthConfig {
            subjects: 3,
            trials_per_subject: 1,
            frames_per_trial: 8,
            ..SynthConfig::default()
        };
        write_cohort(dir.path(), &cfg).unwrap();
        let truths = read_ground_truth(dir.path()).unwrap();
        let nb = crate::body::default_model::default_body().num_betas;
        let expected: Vec<GroundTruth> = (0..3).map(|i| subject_truth(&cfg, i, nb)).collect();
        assert_eq!(truths.len(), 3);
        for (t, e) in truths.iter().zip(&expected) {
            assert_eq!(
                (&t.subject, t.sick, t.pathology, t.side, &t.joints, &t.limb),
                (&e.subject, e.sick, e.pathology, e.side, &e.joints, &e.limb)
            );
            assert!((t.severity - e.severity).abs() < 1e-12);
        }
        let err = read_ground_truth(&dir.path().join("healthy")).unwrap_err();
        assert!(err.to_string().contains("ground_truth.json"), "{err}");
    }
}
