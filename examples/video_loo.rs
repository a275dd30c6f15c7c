//! Leave-one-clip-out evaluation of the three video networks (CNN, LSTM, CNN-LSTM) on the 21
//! shared OpenPose clips (`gait*` = pathological, `vid*` = normal).
//!
//! `cargo run --release --no-default-features --example video_loo -- [--epochs N] [--window F]
//!  [--stride F] [--kinds cnn,lstm,cnn_lstm] [--source-fps HZ] [--velocities] [--no-derived]
//!  [--lr LR] [--seed S] [--keep-duplicates] [--json PATH]`
//!
//! Byte-identical clips (`vid15` = `vid14`) are dropped before cross-validation unless
//! `--keep-duplicates` is given (then each duplicate group is held out as one fold).

use std::path::PathBuf;

use gaitlens::video::data::{drop_duplicates, load_labelled_clips};
use gaitlens::video::eval::{LooConfig, comparison_table, leave_one_clip_out};
use gaitlens::video::training::{VideoEvent, VideoTrainConfig};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let epochs: usize = get("--epochs").map_or(Ok(30), |s| s.parse())?;
    let window: usize = get("--window").map_or(Ok(124), |s| s.parse())?;
    let stride: usize = get("--stride").map_or(Ok(31), |s| s.parse())?;
    let source_fps: f32 = get("--source-fps").map_or(Ok(30.0), |s| s.parse())?;
    let lr: f64 = get("--lr").map_or(Ok(1e-3), |s| s.parse())?;
    let seed: u64 = get("--seed").map_or(Ok(1), |s| s.parse())?;
    let flag = |name: &str| args.iter().any(|a| a == name);
    let kinds = get("--kinds").unwrap_or_else(|| "cnn,lstm,cnn_lstm".into());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/openpose");
    let gait = root.join("openpose_gait.zip");
    let norm = root.join("openpose_norm.zip");
    for p in [&gait, &norm] {
        anyhow::ensure!(p.exists(), "missing {}", p.display());
    }
    let clips = load_labelled_clips(&[&gait, &norm])?;
    let clips = if flag("--keep-duplicates") {
        clips
    } else {
        let (kept, dropped) = drop_duplicates(clips);
        for (d, o) in &dropped {
            println!("dropped {d}: byte-identical keypoints to {o}");
        }
        kept
    };
    println!(
        "{} clips ({} pathological), {} duplicate groups",
        clips.len(),
        clips.iter().filter(|c| c.label == 1).count(),
        clips.iter().map(|c| c.group).max().map_or(0, |g| g + 1)
    );
    let mut reports = Vec::new();
    for kind in kinds.split(',') {
        let mut train = VideoTrainConfig::binary(kind)?;
        train.preprocess.window_frames = window;
        train.preprocess.stride_frames = stride;
        train.preprocess.source_fps = source_fps;
        train.preprocess.velocities = flag("--velocities");
        train.preprocess.derived = !flag("--no-derived");
        train.seed = seed;
        train.lr = lr;
        let nf = train.preprocess.num_features();
        match &mut train.model {
            gaitlens::video::VideoModelConfig::Cnn(c) => c.features = nf,
            gaitlens::video::VideoModelConfig::Lstm(c) => c.features = nf,
            gaitlens::video::VideoModelConfig::CnnLstm(c) => c.features = nf,
        }
        if let gaitlens::video::VideoModelConfig::Cnn(c) = &mut train.model {
            c.window_frames = window;
        }
        train.epochs = epochs;
        let cfg = LooConfig {
            train,
            threshold: 0.5,
        };
        let rep = leave_one_clip_out(&clips, &cfg, &mut |e| {
            if let VideoEvent::Fold {
                fold,
                folds,
                held_out,
            } = e
            {
                eprint!("\r{kind}: fold {}/{folds} {:?}        ", fold + 1, held_out);
            }
        })?;
        eprintln!();
        println!("\n## {kind}: per clip (score = mean window P(pathological) ± spread)");
        for c in &rep.clips {
            println!(
                "{:>6} label {} windows {:>2} (padded {}) score {:.3} ± {:.3}",
                c.clip, c.label, c.windows, c.padded_windows, c.score, c.spread
            );
        }
        for (c, why) in &rep.skipped {
            println!("skipped {c}: {why}");
        }
        reports.push(rep);
    }
    println!("\n{}", comparison_table(&reports));
    if let Some(p) = get("--json") {
        gaitlens::io_util::write_atomic(
            std::path::Path::new(&p),
            &serde_json::to_vec_pretty(&reports)?,
        )?;
    }
    Ok(())
}
