//! A cohort built from **real walks** (`gaitlens synth from-walks`): the healthy class is real
//! fitted gait with realistic variation ([`transplant::Augmentation`]); the sick class is the same
//! walks with pathologies transplanted onto their real joint-angle trajectories, with
//! compensations, at graded severity ([`transplant::inject`]).
//!
//! Copy `c00` of every walk is the walk as recorded (no variation); the others are varied.
//! Subjects are named `<walk>-cNN` in both classes, so the class folders sort alike and the
//! subject-wise folds of [`crate::dataset::k_fold_by_subject`] hold out the healthy and sick
//! variants of the same augmented copies together.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::transplant::{self, Augmentation, Injection, WalkPoses};
use super::{GroundTruth, Pathology, Side, SplitMix64, SynthError, SynthSummary, limb_joints};
use crate::body::BodyModel;
use crate::formats::pose_seq::{PoseFileFormat, read_complete_pose_folder, write_pose_dir};

/// Version tag written into the cohort's `ground_truth.json`.
pub const FROM_WALKS_VERSION: &str = "gaitlens-synth-from-walks/1";

const STREAM_WALK: u64 = 11;

/// Settings of a cohort built from real walks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FromWalksConfig {
    /// Augmented copies per walk (each gives one healthy and one sick subject).
    pub copies: usize,
    /// Seed of every random draw.
    pub seed: u64,
    /// Frame rate of the written cohort, Hz (every walk is resampled to it).
    pub rate_hz: f64,
    /// Lowest and highest severity drawn for the sick copies.
    pub severity: [f64; 2],
    /// Pathologies, assigned to copies in turn.
    pub pathologies: Vec<Pathology>,
    /// Multiplier of every spread of the healthy variation (1 = normative between-subject SDs).
    pub augment_scale: f64,
    /// Largest fraction of the way each varied copy is moved towards another source walk
    /// ([`WalkPoses::blended`]); 0 keeps every copy on its own walk.
    pub blend: f64,
    /// Give every varied healthy copy the cadence of its sick twin (the pathology's slowing
    /// included), so that cadence is no cue to the label.
    pub matched_cadence: bool,
    /// Build copies only from each walk's longest stretch of frames whose legs were measured
    /// ([`SourceWalk::keep_measured`]), never from frames the fitter guessed.
    pub measured_only: bool,
}

impl Default for FromWalksConfig {
    fn default() -> Self {
        Self {
            copies: 12,
            seed: 1,
            rate_hz: 50.0,
            severity: [0.5, 1.0],
            pathologies: super::pathology::TRANSPLANT_PATHOLOGIES.to_vec(),
            augment_scale: 1.0,
            blend: 0.0,
            matched_cadence: false,
            measured_only: true,
        }
    }
}

/// One real walk loaded for transplants.
#[derive(Clone)]
pub struct SourceWalk {
    /// Name (the pose folder's name), used in subject names.
    pub name: String,
    /// Where it was read from.
    pub path: PathBuf,
    /// Poses with gait phases.
    pub poses: WalkPoses,
    /// How its pelvis markers were fitted ([`crate::fit::PelvisMarkers::recorded_in`]).
    pub pelvis_markers: Option<crate::fit::PelvisMarkers>,
    /// Per frame, whether the fit saw every pelvis and leg marker
    /// ([`crate::formats::pose_seq::PoseSidecars::legs_measured`]); `None` when nothing records it.
    pub legs_measured: Option<Vec<bool>>,
}

impl SourceWalk {
    /// Whether some frame's legs were not measured.
    pub fn has_unmeasured(&self) -> bool {
        self.legs_measured
            .as_ref()
            .is_some_and(|m| m.iter().any(|&f| !f))
    }

    /// Keeps only the longest stretch of frames whose legs were measured, so that no training
    /// copy is built from frames the fitter guessed (a marker gap, an interpolated frame); returns
    /// the frames kept when some were dropped. An error when that stretch is shorter than one
    /// stride: such a walk shows no full gait cycle of measured legs.
    pub fn keep_measured(&mut self) -> Result<Option<std::ops::Range<usize>>, SynthError> {
        let Some(measured) = &self.legs_measured else {
            return Ok(None);
        };
        let run = longest_run(measured);
        if run.len() == self.poses.len() {
            return Ok(None);
        }
        let stride_frames = (self.poses.stride_s * self.poses.rate_hz).ceil() as usize;
        if run.len() < stride_frames {
            return Err(SynthError::TooFewMeasured {
                path: self.path.clone(),
                longest: run.len(),
                needed: stride_frames,
            });
        }
        self.poses = self.poses.cropped(run.clone());
        self.legs_measured = Some(vec![true; run.len()]);
        Ok(Some(run))
    }
}

/// The longest run of `true` (the first of equal length); empty when there is none.
fn longest_run(flags: &[bool]) -> std::ops::Range<usize> {
    crate::formats::pose_seq::runs_of(flags, true)
        .into_iter()
        .fold(0..0, |best, r| if r.len() > best.len() { r } else { best })
}

/// Reads a fitted pose folder (`gaitlens fit` output) and finds its gait cycles. `rate_hz`
/// overrides the folder's own rate (from its `fit_report.json`).
pub fn load_walk(
    model: &BodyModel,
    dir: &Path,
    rate_hz: Option<f64>,
) -> Result<SourceWalk, SynthError> {
    let (seq, sidecars) = read_complete_pose_folder(dir)?;
    let rate = rate_hz
        .or(seq.rate_hz)
        .or_else(|| cohort_rate_of(dir))
        .ok_or_else(|| SynthError::NoRate {
            path: dir.to_path_buf(),
        })?;
    let poses = WalkPoses::from_poses(model, &seq, rate).map_err(|source| SynthError::Walk {
        path: dir.to_path_buf(),
        source,
    })?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "walk".into());
    Ok(SourceWalk {
        name,
        path: dir.to_path_buf(),
        poses,
        pelvis_markers: crate::fit::PelvisMarkers::recorded_in(&sidecars),
        legs_measured: sidecars.legs_measured(&seq.frame_numbers),
    })
}

/// The frame rate of the cohort a pose folder `<cohort>/<class>/<subject>/<gait>` belongs to
/// (its `ground_truth.json`), following symbolic links.
fn cohort_rate_of(dir: &Path) -> Option<f64> {
    let real = dir.canonicalize().ok()?;
    real.ancestors()
        .skip(1)
        .take(3)
        .find_map(crate::dataset::cohort_rate_hz)
}

/// `count` healthy walks of the Fourier generator ([`super::synth_subject`], seed `seed`) as
/// extra sources `synS000`, … : they widen the range of healthy gait the network sees (every
/// source appears in both classes, so "synthetic" is no cue to the label).
pub fn synthetic_walks(
    model: &BodyModel,
    count: usize,
    seed: u64,
) -> Result<Vec<SourceWalk>, SynthError> {
    let cfg = super::SynthConfig {
        subjects: count,
        seed,
        trials_per_subject: 1,
        ..Default::default()
    };
    (0..count)
        .into_par_iter()
        .map(|i| {
            let trial = super::synth_subject(model, &cfg, i, None)?.remove(0);
            let name = format!("syn{}", super::subject_name(i));
            let path = PathBuf::from(format!("<gaitlens synth --seed {seed}>/{name}"));
            let poses =
                WalkPoses::from_poses(model, &trial.poses, cfg.rate_hz).map_err(|source| {
                    SynthError::Walk {
                        path: path.clone(),
                        source,
                    }
                })?;
            Ok(SourceWalk {
                name,
                path,
                poses,
                pelvis_markers: None,
                legs_measured: None,
            })
        })
        .collect()
}

/// Overground speed of a walk, m/s (≈ 0 on a treadmill).
fn speed_m_s(w: &WalkPoses) -> f64 {
    let n = w.len();
    if n < 2 {
        return 0.0;
    }
    let d = w.translations[n - 1] - w.translations[0];
    let up = w
        .rotations
        .iter()
        .map(|f| f[0] * nalgebra::Vector3::y())
        .sum::<nalgebra::Vector3<f64>>();
    let up = up.try_normalize(1e-9).unwrap_or_else(nalgebra::Vector3::y);
    (d - up * d.dot(&up)).norm() * w.rate_hz / (n - 1) as f64
}

/// Ground truth of one written subject.
fn truth(
    subject: &str,
    walk: &SourceWalk,
    w: &WalkPoses,
    inj: Option<(&Injection, transplant::Locus)>,
) -> GroundTruth {
    GroundTruth {
        subject: subject.to_owned(),
        sick: inj.is_some(),
        pathology: inj.as_ref().map(|(i, _)| i.pathology),
        side: inj.as_ref().map(|(i, _)| i.side),
        joints: inj
            .as_ref()
            .map(|(_, l)| l.primary.clone())
            .unwrap_or_default(),
        limb: inj
            .as_ref()
            .map(|(i, _)| limb_joints(i.side))
            .unwrap_or_default(),
        severity: inj.as_ref().map_or(0.0, |(i, _)| i.severity),
        speed_m_s: speed_m_s(w),
        cadence_steps_min: 120.0 / w.stride_s,
        betas: w.betas.clone(),
        compensation: inj.map(|(_, l)| l.compensation).unwrap_or_default(),
        source_walk: Some(walk.path.display().to_string()),
        pelvis_markers: walk.pelvis_markers,
    }
}

/// The injection of copy `c` of walk `wi`.
fn draw_injection(cfg: &FromWalksConfig, wi: usize, c: usize, rng: &mut SplitMix64) -> Injection {
    let p = cfg.pathologies[(wi + c) % cfg.pathologies.len()];
    let side = if p.bilateral() {
        Side::Both
    } else if (c / cfg.pathologies.len() + c).is_multiple_of(2) {
        Side::Left
    } else {
        Side::Right
    };
    let [lo, hi] = cfg.severity;
    Injection {
        pathology: p,
        side,
        severity: lo + (hi - lo) * rng.uniform(),
    }
}

/// Builds and writes the healthy and sick variants of copy `c` of walk `wi`.
fn write_copy(
    out: &Path,
    cfg: &FromWalksConfig,
    wi: usize,
    walks: &[SourceWalk],
    c: usize,
) -> Result<[GroundTruth; 2], SynthError> {
    let walk = &walks[wi];
    let mut rng = SplitMix64::stream(cfg.seed, (wi * 10_000 + c) as u64, STREAM_WALK);
    let drawn = Augmentation::draw(&mut rng, &walk.poses.betas, cfg.augment_scale);
    // Copy 0 is the walk as recorded (its sick twin carries only the pathology), so the real
    // walk itself is among the healthy examples.
    let aug = if c == 0 {
        Augmentation::identity(&walk.poses.betas)
    } else {
        drawn
    };
    let inj = draw_injection(cfg, wi, c, &mut rng);
    let subject = format!("{}-c{c:02}", walk.name);

    let mut healthy = if c > 0 && cfg.blend > 0.0 && walks.len() > 1 {
        // Drawn after everything else, so cohorts without blending stay as they were.
        let partner = (wi + 1 + (rng.uniform() * (walks.len() - 1) as f64) as usize) % walks.len();
        let weight = cfg.blend * rng.uniform();
        walk.poses
            .blended(&walks[partner].poses, weight)
            .unwrap_or_else(|| walk.poses.clone())
    } else {
        walk.poses.clone()
    };
    transplant::augment(&mut healthy, &aug);
    let sick_base = healthy.clone();
    let cadence = aug.cadence_factor * transplant::cadence_factor(inj.pathology, inj.severity);
    // With matched cadence the healthy twin walks at its sick twin's (slower) cadence, so
    // cadence differs between the classes only as much as it differs between people.
    let healthy_cadence = if cfg.matched_cadence && c > 0 {
        cadence
    } else {
        aug.cadence_factor
    };
    let healthy = healthy.warped(healthy_cadence, cfg.rate_hz);

    let mut sick = sick_base;
    let locus = transplant::inject(&mut sick, &inj);
    let sick = sick.warped(cadence, cfg.rate_hz);

    for (class, w) in [("healthy", &healthy), ("sick", &sick)] {
        let dir = out.join(class).join(&subject).join("walk");
        write_pose_dir(&dir, &w.to_poses(), PoseFileFormat::Json)?;
    }
    Ok([
        truth(&subject, walk, &healthy, None),
        truth(&subject, walk, &sick, Some((&inj, locus))),
    ])
}

const README: &str = "REAL HEALTHY WALKS WITH SIMULATED PATHOLOGIES - NOT CLINICAL DATA\n\
\n\
Built by `gaitlens synth from-walks` ({generator}) from real fitted walks:\n\
{walks}\n\
healthy/<walk>-cNN/walk: the real walk with realistic variation (cadence, body shape, joint-angle\n\
offsets sized by the between-subject SD of Schwartz et al. 2008's normative curves).\n\
sick/<walk>-cNN/walk: the same augmented copy with one pathology transplanted onto its real\n\
joint-angle trajectories at the right phase of the gait cycle, with compensations (hip hiking,\n\
vaulting, steppage, pelvic tilt, trunk lean, slower cadence, shorter steps) and graded severity.\n\
ground_truth.json lists per subject the pathology, side, severity, the primary joints and,\n\
separately, the compensation joints (SMPL indices). Frame rate {rate} Hz, y up as fitted.\n";

/// Writes the cohort built from `walks` to `out`; refuses an output folder that already holds
/// class folders.
pub fn write_walk_cohort(
    model: &BodyModel,
    walks: &[SourceWalk],
    out: &Path,
    cfg: &FromWalksConfig,
) -> Result<SynthSummary, SynthError> {
    if walks.is_empty() || cfg.copies == 0 || cfg.pathologies.is_empty() {
        return Err(SynthError::Config {
            reason: "need at least one walk, one copy and one pathology".into(),
        });
    }
    if !(cfg.rate_hz.is_finite() && cfg.rate_hz > 0.0) {
        return Err(SynthError::Config {
            reason: format!("rate_hz must be > 0 (got {})", cfg.rate_hz),
        });
    }
    for class in ["healthy", "sick"] {
        let p = out.join(class);
        if p.read_dir().is_ok_and(|mut d| d.next().is_some()) {
            return Err(SynthError::OutputExists { path: p });
        }
    }
    // Everything is written to a hidden sibling folder and renamed into place at the end, so an
    // interrupted run leaves no folder that looks like a complete cohort.
    let final_out = out;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let staging = out.with_file_name(format!(".{name}.partial"));
    let _ = std::fs::remove_dir_all(&staging);
    let out = staging.as_path();
    let measured: Vec<SourceWalk>;
    let walks = if cfg.measured_only && walks.iter().any(SourceWalk::has_unmeasured) {
        measured = walks
            .iter()
            .cloned()
            .map(|mut w| w.keep_measured().map(|_| w))
            .collect::<Result<_, _>>()?;
        &measured
    } else {
        walks
    };
    let jobs: Vec<(usize, usize)> = (0..walks.len())
        .flat_map(|wi| (0..cfg.copies).map(move |c| (wi, c)))
        .collect();
    let truths: Vec<GroundTruth> = jobs
        .par_iter()
        .map(|&(wi, c)| write_copy(out, cfg, wi, walks, c))
        .collect::<Result<Vec<_>, SynthError>>()?
        .into_iter()
        .flatten()
        .collect();
    let walk_list: Vec<String> = walks.iter().map(|w| w.path.display().to_string()).collect();
    let file = super::GroundTruthFile {
        semi_synthetic: true,
        description: "Real healthy walks with transplanted pathologies; not clinical data.",
        generator: FROM_WALKS_VERSION,
        body_model: &model.name,
        config: cfg,
        walks: walk_list.clone(),
        subjects: truths,
    };
    let readme = README
        .replace("{generator}", FROM_WALKS_VERSION)
        .replace("{walks}", &walk_list.join("\n"))
        .replace("{rate}", &cfg.rate_hz.to_string());
    super::write_truth_and_readme(out, &file, Some(&readme))?;
    if final_out.is_dir() {
        // Only an empty folder or one without class folders gets here (checked above).
        let _ = std::fs::remove_dir(final_out);
    }
    std::fs::rename(out, final_out).map_err(|source| SynthError::Write {
        path: final_out.to_path_buf(),
        source,
    })?;
    let n = walks.len() * cfg.copies;
    Ok(SynthSummary {
        out: final_out.to_path_buf(),
        healthy: n,
        sick: n,
        trials: 2 * n,
        frames: 0,
    })
}

/// Transplants one pathology onto one walk and writes the pose folder plus its
/// `ground_truth.json` (`gaitlens synth inject`). The walk keeps its frame rate; the cadence
/// slows as the pathology does.
pub fn inject_walk(
    walk: &SourceWalk,
    inj: &Injection,
    out: &Path,
) -> Result<GroundTruth, SynthError> {
    // The source's unmeasured frames stay marked, so a verdict over them is flagged as before.
    let (w, locus, legs_measured) = walk
        .poses
        .with_pathology(inj, walk.legs_measured.as_deref());
    let legs_measured = legs_measured.filter(|m| m.iter().any(|&f| !f));
    write_pose_dir(out, &w.to_poses(), PoseFileFormat::Json)?;
    let t = truth(&walk.name, walk, &w, Some((inj, locus)));
    #[derive(Serialize)]
    struct File<'a> {
        semi_synthetic: bool,
        description: &'static str,
        generator: &'static str,
        rate_hz: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        legs_measured: Option<Vec<bool>>,
        subjects: [&'a GroundTruth; 1],
    }
    let file = File {
        semi_synthetic: true,
        description: "A real walk with one transplanted pathology; not clinical data.",
        generator: FROM_WALKS_VERSION,
        rate_hz: w.rate_hz,
        legs_measured,
        subjects: [&t],
    };
    super::write_truth_and_readme(out, &file, None)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::default_model::default_body;
    use crate::formats::pose_seq::read_pose_dir;

    fn fourier_walk() -> SourceWalk {
        synthetic_walks(default_body(), 1, 3).unwrap().remove(0)
    }

    #[test]
    fn the_longest_run_of_measured_frames_is_found() {
        assert_eq!(longest_run(&[true, false, true, true, false]), 2..4);
        assert_eq!(longest_run(&[false, true, true, true]), 1..4);
        assert_eq!(longest_run(&[true, true, false, true, true]), 0..2);
        assert_eq!(longest_run(&[false, false]), 0..0);
    }

    #[test]
    fn a_source_walk_keeps_only_its_longest_measured_stretch() {
        let mut walk = fourier_walk();
        let n = walk.poses.len();
        assert_eq!(walk.keep_measured().unwrap(), None, "nothing recorded");
        walk.legs_measured = Some(vec![true; n]);
        assert_eq!(walk.keep_measured().unwrap(), None, "all measured");
        let gap = 30..40;
        walk.legs_measured = Some((0..n).map(|f| !gap.contains(&f)).collect());
        let first_kept = walk.poses.rotations[40].clone();
        let kept = walk.keep_measured().unwrap().expect("cropped");
        assert_eq!(kept, 40..n);
        assert_eq!(walk.poses.len(), n - 40);
        assert_eq!(walk.poses.phase[0].len(), n - 40);
        assert_eq!(walk.poses.rotations[0], first_kept);
        // Measured only in stretches shorter than a stride: a typed error naming the walk.
        let mut walk = fourier_walk();
        walk.legs_measured = Some((0..n).map(|f| f % 20 != 0).collect());
        let err = walk.keep_measured().unwrap_err();
        assert!(
            matches!(err, SynthError::TooFewMeasured { longest: 19, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("shorter than one stride"), "{err}");
    }

    #[test]
    fn a_cohort_is_built_from_measured_frames_unless_told_otherwise() {
        let mut walk = fourier_walk();
        let n = walk.poses.len();
        let keep = n * 2 / 3;
        walk.legs_measured = Some((0..n).map(|f| f < keep).collect());
        let frames_of = |cfg: &FromWalksConfig| {
            let out = tempfile::tempdir().unwrap();
            let cohort = out.path().join("cohort");
            write_walk_cohort(default_body(), std::slice::from_ref(&walk), &cohort, cfg).unwrap();
            let subject = cohort.join("healthy").join(format!("{}-c00", walk.name));
            read_pose_dir(&subject.join("walk")).unwrap().num_frames()
        };
        let cfg = FromWalksConfig {
            copies: 1,
            rate_hz: walk.poses.rate_hz,
            ..Default::default()
        };
        assert_eq!(frames_of(&cfg), keep);
        let all = FromWalksConfig {
            measured_only: false,
            ..cfg
        };
        assert_eq!(frames_of(&all), n);
    }

    #[test]
    fn an_injected_walk_keeps_its_source_s_unmeasured_frames_marked() {
        let mut walk = fourier_walk();
        let n = walk.poses.len();
        walk.legs_measured = Some((0..n).map(|f| !(50..60).contains(&f)).collect());
        let out = tempfile::tempdir().unwrap();
        let inj = Injection {
            pathology: Pathology::StiffKnee,
            side: Side::Left,
            severity: 1.0,
        };
        inject_walk(&walk, &inj, out.path()).unwrap();
        let seq = read_pose_dir(out.path()).unwrap();
        let flags = crate::formats::pose_seq::PoseSidecars::read(out.path())
            .legs_measured(&seq.frame_numbers)
            .expect("flags in ground_truth.json");
        assert_eq!(flags.len(), seq.num_frames());
        let unmeasured: Vec<usize> = (0..flags.len()).filter(|&f| !flags[f]).collect();
        // The slower cadence stretches the gap: it starts near frame 50 and spans ≥ 10 frames.
        assert!(unmeasured.len() >= 10, "{unmeasured:?}");
        assert!((45..=60).contains(&unmeasured[0]), "{unmeasured:?}");
        // A walk measured throughout writes no flags.
        walk.legs_measured = Some(vec![true; n]);
        let out = tempfile::tempdir().unwrap();
        inject_walk(&walk, &inj, out.path()).unwrap();
        let seq = read_pose_dir(out.path()).unwrap();
        assert_eq!(
            crate::formats::pose_seq::PoseSidecars::read(out.path())
                .legs_measured(&seq.frame_numbers),
            None
        );
    }
}
