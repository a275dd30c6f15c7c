//! `gaitlens video train` and `gaitlens video predict`: OpenPose keypoints → CNN / LSTM /
//! CNN-LSTM → GDI-like scalar or class labels, with cross-validation by clip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use gaitlens::formats::openpose::{Body25, read_openpose_path};
use gaitlens::io_util::write_atomic;
use gaitlens::video::data::{
    BINARY_LABELS, ClipLabels, duplicate_groups, label_from_clip_name, labels_for_clips,
    read_labels_csv,
};
use gaitlens::video::eval::{CvClip, CvReport, Folds, cross_validate};
use gaitlens::video::inference::predict_clip;
use gaitlens::video::model::Task;
use gaitlens::video::preprocess::PreprocessConfig;
use gaitlens::video::training::{
    TrainedVideoModel, VideoEvent, VideoTrainConfig, load_model, model_paths, save_model,
    train_model,
};

/// The video subcommands.
#[derive(Debug, Subcommand)]
pub enum VideoCommand {
    /// Train a CNN, LSTM or CNN-LSTM on OpenPose clips (optionally cross-validated first).
    Train(VideoTrainArgs),
    /// Predict clips with a trained video network: per window and per clip (mean ± spread).
    Predict(VideoPredictArgs),
}

/// What the network learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TaskArg {
    /// A scalar per clip (e.g. the Gait Deviation Index) from a labels CSV: regression.
    Gdi,
    /// Class labels (from the folder names or a labels CSV): classification.
    Class,
}

/// Network type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelArg {
    /// Kidziński et al.'s 1D CNN (three conv blocks, dense head).
    Cnn,
    /// Bidirectional LSTM over time-pooled frames.
    Lstm,
    /// Convolutional front end + bidirectional LSTM.
    CnnLstm,
}

impl ModelArg {
    fn kind(self) -> &'static str {
        match self {
            Self::Cnn => "cnn",
            Self::Lstm => "lstm",
            Self::CnnLstm => "cnn_lstm",
        }
    }
}

fn parse_cv(s: &str) -> Result<Folds, String> {
    if s.eq_ignore_ascii_case("loo") {
        return Ok(Folds::LeaveOneOut);
    }
    match s.parse::<usize>() {
        Ok(k) if k >= 2 => Ok(Folds::K(k)),
        _ => Err(format!("`{s}`: expected `loo` or a number of folds ≥ 2")),
    }
}

/// Arguments of `gaitlens video train`.
/// The library's training defaults (written once, in [`VideoTrainConfig::new`]); the flags
/// below show and use them.
fn video_defaults() -> VideoTrainConfig {
    VideoTrainConfig::binary("cnn").expect("cnn is one of the built-in networks")
}

#[derive(Debug, Args)]
pub struct VideoTrainArgs {
    /// OpenPose BODY_25 input, repeatable: a zip of clip folders, one clip folder of per-frame
    /// `*_keypoints.json` files, or a folder of clip folders. Clip id = folder name.
    #[arg(long, required = true, num_args = 1.., value_name = "DIR|ZIP")]
    pub clips: Vec<PathBuf>,
    /// Labels CSV: `clip,value` per line (optional header `clip,...`). Numbers for --task gdi,
    /// class names or indices for --task class. Every clip needs a row and every row a clip.
    #[arg(
        long,
        value_name = "CSV",
        conflicts_with = "labels_from_folders",
        required_unless_present = "labels_from_folders"
    )]
    pub labels: Option<PathBuf>,
    /// Label each clip by its folder name: `gait*` = pathological, `vid*` = normal.
    #[arg(long)]
    pub labels_from_folders: bool,
    /// gdi (regression on the CSV values) or class (classification).
    #[arg(long, value_enum)]
    pub task: TaskArg,
    /// Network type.
    #[arg(long, value_enum, default_value_t = ModelArg::Cnn)]
    pub model: ModelArg,
    /// Cross-validate by clip before the final fit: `loo` (leave one clip out) or K folds.
    /// Results go to STEM.cv.json and into the model card's metrics.
    #[arg(long, value_parser = parse_cv, value_name = "loo|K")]
    pub cv: Option<Folds>,
    /// Output stem: writes STEM.mpk (weights) and STEM.json (model card).
    #[arg(long)]
    pub out: PathBuf,
    /// Epochs (per fold and for the final fit).
    #[arg(long, default_value_t = video_defaults().epochs)]
    pub epochs: usize,
    /// Windows per batch.
    #[arg(long, default_value_t = video_defaults().batch_size)]
    pub batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = video_defaults().lr)]
    pub lr: f64,
    /// Random seed (weights, dropout, shuffling).
    #[arg(long, default_value_t = video_defaults().seed)]
    pub seed: u64,
    /// Window length in frames at 25 fps (Kidziński: 124 ≈ 5 s).
    #[arg(long, default_value_t = PreprocessConfig::default().window_frames)]
    pub window: usize,
    /// Step between windows in frames at 25 fps.
    #[arg(long, default_value_t = PreprocessConfig::default().stride_frames)]
    pub stride: usize,
    /// Frame rate of the source videos (OpenPose JSON carries none).
    #[arg(long, default_value_t = PreprocessConfig::default().source_fps)]
    pub source_fps: f32,
    /// Append the time derivative of every feature.
    #[arg(long)]
    pub velocities: bool,
    /// Keep byte-identical duplicate clips (by default all but the first are dropped; when kept
    /// they always share a cross-validation fold).
    #[arg(long)]
    pub keep_duplicates: bool,
    /// Binary task: clip is pathological (class 1) when the mean probability ≥ this.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
}

/// Arguments of `gaitlens video predict`.
#[derive(Debug, Args)]
pub struct VideoPredictArgs {
    /// Model card STEM.json (or the stem) written by `gaitlens video train`.
    #[arg(long)]
    pub network: PathBuf,
    /// OpenPose clip folder, zip of clip folders, or folder of clip folders.
    #[arg(long, value_name = "DIR|ZIP")]
    pub clip: PathBuf,
    /// Print machine-readable JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs a video subcommand.
pub fn run(cmd: VideoCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        VideoCommand::Train(a) => train(a),
        VideoCommand::Predict(a) => predict(a),
    }
}

struct Clip {
    name: String,
    source: PathBuf,
    frames: Vec<Option<Body25>>,
}

fn read_clips(paths: &[PathBuf]) -> anyhow::Result<Vec<Clip>> {
    let mut out: Vec<Clip> = Vec::new();
    for p in paths {
        if !p.exists() {
            bail!("{}: no such file or folder", p.display());
        }
        for s in read_openpose_path(p)? {
            if let Some(prev) = out.iter().find(|c| c.name == s.clip) {
                bail!(
                    "clip `{}` is in both {} and {}; clip ids must be unique",
                    s.clip,
                    prev.source.display(),
                    p.display()
                );
            }
            out.push(Clip {
                name: s.clip,
                source: p.clone(),
                frames: s.frames,
            });
        }
    }
    Ok(out)
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} epochs {elapsed}/{eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn train(a: VideoTrainArgs) -> anyhow::Result<ExitCode> {
    if a.task == TaskArg::Gdi && a.labels.is_none() {
        bail!("--task gdi needs --labels CSV with a number per clip (folder names carry no GDI)");
    }
    let (clips, groups) = drop_duplicates(read_clips(&a.clips)?, a.keep_duplicates);
    let (task, targets, label_names) = clip_targets(&a, &clips)?;
    report_class_counts(task, &targets, &label_names, clips.len())?;
    let cfg = train_config(&a, task, label_names)?;
    // Created (and dropped at the end) even without --cv, as before the split.
    let cv_bar = ProgressBar::new(a.epochs as u64);
    cv_bar.set_style(bar_style());
    let cv_report = match a.cv {
        Some(scheme) => Some(cross_validate_clips(
            &a, &clips, &targets, &groups, &cfg, scheme, &cv_bar,
        )?),
        None => None,
    };
    let mut trained = train_final(&clips, &targets, &cfg, a.epochs)?;
    if let Some(rep) = &cv_report {
        add_cv_metrics(&mut trained.model.card.metrics, rep);
    }
    let (rec, card) = save_model(&trained, &a.out)?;
    println!("wrote {} and {}", rec.display(), card.display());
    if let Some(rep) = &cv_report {
        let p = model_paths(&a.out).1.with_extension("cv.json");
        write_atomic(&p, &serde_json::to_vec_pretty(rep)?)
            .with_context(|| format!("writing {}", p.display()))?;
        println!("wrote {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Reports byte-identical clips and, unless `keep_duplicates`, drops all but the first of each;
/// returns the clips left with their duplicate group ids (shared groups share a CV fold).
fn drop_duplicates(mut clips: Vec<Clip>, keep_duplicates: bool) -> (Vec<Clip>, Vec<usize>) {
    let mut groups = {
        let frames: Vec<&[Option<Body25>]> = clips.iter().map(|c| c.frames.as_slice()).collect();
        duplicate_groups(&frames)
    };
    let mut keep = vec![true; clips.len()];
    for i in 0..clips.len() {
        if let Some(j) = (0..i).find(|&j| groups[j] == groups[i]) {
            eprintln!(
                "duplicate: clip {} has byte-identical keypoints to {}{}",
                clips[i].name,
                clips[j].name,
                if keep_duplicates {
                    " (kept; both always share a cross-validation fold)"
                } else {
                    " (dropped; --keep-duplicates keeps it)"
                }
            );
            keep[i] = keep_duplicates;
        }
    }
    let mut k = 0;
    clips.retain(|_| {
        k += 1;
        keep[k - 1]
    });
    let mut k = 0;
    groups.retain(|_| {
        k += 1;
        keep[k - 1]
    });
    (clips, groups)
}

/// The task, one target per clip and the class names, from the labels CSV or the folder names.
fn clip_targets(
    a: &VideoTrainArgs,
    clips: &[Clip],
) -> anyhow::Result<(Task, Vec<f32>, Vec<String>)> {
    let Some(csv) = &a.labels else {
        let t = clips
            .iter()
            .map(|c| {
                label_from_clip_name(&c.name)
                    .map(|l| l as f32)
                    .with_context(|| {
                        format!(
                            "clip `{}` in {}: --labels-from-folders needs a `gait*` \
                             (pathological) or `vid*` (normal) folder name",
                            c.name,
                            c.source.display()
                        )
                    })
            })
            .collect::<anyhow::Result<Vec<f32>>>()?;
        return Ok((Task::Binary, t, BINARY_LABELS.map(String::from).to_vec()));
    };
    let names: Vec<&str> = clips.iter().map(|c| c.name.as_str()).collect();
    let rows = read_labels_csv(csv)?;
    Ok(
        match labels_for_clips(&rows, &names, csv, a.task == TaskArg::Gdi)? {
            ClipLabels::Values(v) => (Task::Regression, v, Vec::new()),
            ClipLabels::Classes { index, names } => {
                let task = if names.len() == 2 {
                    Task::Binary
                } else {
                    Task::MultiClass {
                        classes: names.len(),
                    }
                };
                (task, index.iter().map(|&i| i as f32).collect(), names)
            }
        },
    )
}

/// Prints the clips per class (or the regression clip count); an empty class is an error.
fn report_class_counts(
    task: Task,
    targets: &[f32],
    label_names: &[String],
    n_clips: usize,
) -> anyhow::Result<()> {
    if task == Task::Regression {
        eprintln!("{n_clips} clips with regression targets");
        return Ok(());
    }
    let counts: Vec<usize> = (0..label_names.len())
        .map(|c| targets.iter().filter(|t| **t as usize == c).count())
        .collect();
    if counts.contains(&0) {
        bail!(
            "every class needs at least one clip; clips per class ({}): {:?}",
            label_names.join(", "),
            counts
        );
    }
    eprintln!(
        "{n_clips} clips: {}",
        label_names
            .iter()
            .zip(&counts)
            .map(|(n, c)| format!("{c} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// The validated training configuration from the command-line arguments.
fn train_config(
    a: &VideoTrainArgs,
    task: Task,
    label_names: Vec<String>,
) -> anyhow::Result<VideoTrainConfig> {
    let pre = PreprocessConfig {
        window_frames: a.window,
        stride_frames: a.stride,
        source_fps: a.source_fps,
        velocities: a.velocities,
        ..Default::default()
    };
    let mut cfg = VideoTrainConfig::new(a.model.kind(), task, pre)?;
    cfg.epochs = a.epochs;
    cfg.batch_size = a.batch_size;
    cfg.lr = a.lr;
    cfg.seed = a.seed;
    cfg.label_names = label_names;
    cfg.validate()?;
    Ok(cfg)
}

/// Cross-validates by clip with a progress bar over all folds' epochs and prints the result.
fn cross_validate_clips(
    a: &VideoTrainArgs,
    clips: &[Clip],
    targets: &[f32],
    groups: &[usize],
    cfg: &VideoTrainConfig,
    scheme: Folds,
    bar: &ProgressBar,
) -> anyhow::Result<CvReport> {
    let cv: Vec<CvClip<'_>> = clips
        .iter()
        .zip(targets)
        .zip(groups)
        .map(|((c, &t), &g)| CvClip {
            clip: &c.name,
            frames: &c.frames,
            target: t,
            group: g,
        })
        .collect();
    let rep = cross_validate(&cv, cfg, scheme, a.threshold, &mut |e| match e {
        VideoEvent::Fold {
            fold,
            folds,
            held_out,
        } => {
            bar.set_length((folds * a.epochs) as u64);
            bar.set_position((fold * a.epochs) as u64);
            bar.set_message(format!(
                "cv fold {}/{folds} (held out {})",
                fold + 1,
                held_out.join(", ")
            ));
        }
        VideoEvent::Epoch { .. } => bar.inc(1),
        VideoEvent::Started { .. } => {}
    })?;
    bar.finish_and_clear();
    print_cv(&rep, &cfg.label_names, a.threshold);
    Ok(rep)
}

/// Trains the final model on all clips with a progress bar and reports what it used.
fn train_final(
    clips: &[Clip],
    targets: &[f32],
    cfg: &VideoTrainConfig,
    epochs: usize,
) -> anyhow::Result<TrainedVideoModel> {
    let items: Vec<(&str, &[Option<Body25>], f32)> = clips
        .iter()
        .zip(targets)
        .map(|(c, &t)| (c.name.as_str(), c.frames.as_slice(), t))
        .collect();
    let bar = ProgressBar::new(epochs as u64);
    bar.set_style(bar_style());
    bar.set_message(format!("training {} on all clips", cfg.model.kind()));
    let mut last_loss = f64::NAN;
    let trained = train_model(&items, cfg, &mut |e| {
        if let VideoEvent::Epoch { train_loss, .. } = e {
            last_loss = train_loss;
            bar.inc(1);
        }
    })?;
    bar.finish_and_clear();
    for (c, why) in &trained.model.card.skipped_clips {
        eprintln!("skipped clip {c}: {why}");
    }
    eprintln!(
        "trained {} on {} windows of {} clips, final loss {last_loss:.4}",
        cfg.model.kind(),
        trained.model.card.train_windows,
        trained.model.card.trained_clips.len()
    );
    Ok(trained)
}

/// Records the cross-validation results in the model card's metrics.
fn add_cv_metrics(m: &mut BTreeMap<String, f64>, rep: &CvReport) {
    m.insert("cv_folds".into(), rep.folds as f64);
    m.insert("cv_clips".into(), rep.clips.len() as f64);
    if let Some(acc) = rep.accuracy {
        m.insert("cv_accuracy".into(), acc);
    }
    if let Some(b) = &rep.binary {
        m.insert("cv_balanced_accuracy".into(), b.balanced_accuracy);
        if let Some(auc) = b.roc_auc {
            m.insert("cv_roc_auc".into(), auc);
        }
    }
    if let Some(r) = &rep.regression {
        m.insert("cv_pearson_r".into(), r.pearson_r);
        m.insert("cv_rmse".into(), r.rmse);
        m.insert("cv_mae".into(), r.mae);
    }
}

fn print_cv(rep: &CvReport, labels: &[String], threshold: f64) {
    let scheme = match rep.scheme {
        Folds::LeaveOneOut => "leave-one-clip-out".to_string(),
        Folds::K(k) => format!("{k}-fold"),
    };
    println!(
        "{scheme} cross-validation of {} ({} folds, {:.0} s):",
        rep.model_type, rep.folds, rep.seconds
    );
    for r in &rep.clips {
        let truth = match rep.task {
            Task::Regression => format!("{:.3}", r.target),
            _ => labels
                .get(r.target as usize)
                .cloned()
                .unwrap_or_else(|| r.target.to_string()),
        };
        // One window has no spread to show: "± 0.000" would read as a certain value.
        let spread = if r.windows > 1 {
            format!(" ± {:.3}", r.spread[0])
        } else {
            String::new()
        };
        let pred = match rep.task {
            Task::Regression => format!("{:.3}{spread}", r.mean[0]),
            Task::Binary => format!(
                "P({}) {:.3}{spread} → {}",
                labels.get(1).map_or("1", |s| s.as_str()),
                r.mean[0],
                labels
                    .get(rep.predicted_class(r, threshold))
                    .map_or("?", |s| s.as_str())
            ),
            Task::MultiClass { .. } => labels
                .get(rep.predicted_class(r, threshold))
                .cloned()
                .unwrap_or_default(),
        };
        println!(
            "  {:>10}  true {:<14} predicted {}  ({} windows)",
            r.clip, truth, pred, r.windows
        );
    }
    for (c, why) in &rep.skipped {
        println!("  skipped {c}: {why}");
    }
    if let Some(b) = &rep.binary {
        println!(
            "accuracy {:.3}, balanced accuracy {:.3}, sensitivity {:.3}, specificity {:.3}, ROC AUC {}",
            b.accuracy,
            b.balanced_accuracy,
            b.sensitivity,
            b.specificity,
            b.roc_auc.map_or("n/a".into(), |a| format!("{a:.3}"))
        );
    } else if let Some(acc) = rep.accuracy {
        println!("accuracy {acc:.3}");
    }
    if let Some(conf) = &rep.confusion {
        println!(
            "confusion matrix (rows true, columns predicted: {}):",
            labels.join(", ")
        );
        for (i, row) in conf.iter().enumerate() {
            println!(
                "  {:>14} {}",
                labels.get(i).map_or("?", |s| s.as_str()),
                row.iter().map(|n| format!("{n:>4}")).collect::<String>()
            );
        }
    }
    if let Some(r) = &rep.regression {
        println!(
            "Pearson r {:.3}, RMSE {:.3} (predicting the mean: {:.3}), MAE {:.3}",
            r.pearson_r, r.rmse, r.rmse_of_mean, r.mae
        );
    }
}

fn predict(a: VideoPredictArgs) -> anyhow::Result<ExitCode> {
    let model = load_model(&a.network)?;
    if !a.clip.exists() {
        bail!("{}: no such file or folder", a.clip.display());
    }
    let seqs = read_openpose_path(&a.clip)?;
    let card = &model.card;
    let task = card.training.task;
    let mut preds = Vec::new();
    let mut failed = Vec::new();
    for s in &seqs {
        match predict_clip(&model, &s.clip, &s.frames) {
            Ok(p) => preds.push(p),
            Err(e) => failed.push((s.clip.clone(), e.to_string())),
        }
    }
    if a.json {
        let v = serde_json::json!({
            "network": a.network.display().to_string(),
            "model_type": card.model_type,
            "task": task,
            "label_names": card.training.label_names,
            "clips": preds,
            "failed": failed.iter().map(|(c, e)| serde_json::json!({"clip": c, "error": e})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        let what = output_name(task, &card.training.label_names);
        println!(
            "{} network {} ({}); clip value = mean over windows ± spread (SD across windows)",
            card.model_type,
            display(&a.network),
            what
        );
        for p in &preds {
            let k = p.mean.len();
            let fmt = |v: &[f32]| {
                v.iter()
                    .map(|x| format!("{x:.3}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            // One window has no spread to show: "± 0.000" would read as a certain value.
            let spread = if p.windows.len() > 1 {
                format!(" ± {}", fmt(&p.spread))
            } else {
                " (one window: no spread)".to_string()
            };
            println!(
                "{}: {} {}{spread}{}",
                p.clip,
                what,
                fmt(&p.mean),
                p.label
                    .as_ref()
                    .map(|l| format!(" → {l}"))
                    .unwrap_or_default()
            );
            for w in &p.windows {
                println!(
                    "  window at {:>6.2} s{}: {}",
                    w.start_s,
                    if w.padded_frames > 0 {
                        format!(" (padded {} frames)", w.padded_frames)
                    } else {
                        String::new()
                    },
                    fmt(&w.outputs[..k.min(w.outputs.len())])
                );
            }
        }
    }
    for (c, e) in &failed {
        eprintln!("clip {c}: {e}");
    }
    if preds.is_empty() {
        bail!("{}: no clip could be predicted", a.clip.display());
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn output_name(task: Task, labels: &[String]) -> String {
    match task {
        Task::Regression => "value".into(),
        Task::Binary => format!("P({})", labels.get(1).map_or("class 1", |s| s.as_str())),
        Task::MultiClass { .. } => format!("P({})", labels.join(", ")),
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
