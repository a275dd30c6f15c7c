//! Leave-one-clip-out evaluation of the three video networks (CNN, LSTM, CNN-LSTM) on the 21
//! shared OpenPose clips (`gait*` = pathological, `vid*` = normal).
//!
//! `cargo run --release --no-default-features --example video_loo -- [--epochs N] [--window F]
//!  [--stride F] [--train-stride F] [--kinds cnn,lstm,cnn_lstm] [--source-fps HZ] [--json PATH]`

use std::path::PathBuf;

use gaitlens::video::data::load_labelled_clips;
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
    let kinds = get("--kinds").unwrap_or_else(|| "cnn,lstm,cnn_lstm".into());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/openpose");
    let gait = root.join("openpose_gait.zip");
    let norm = root.join("openpose_norm.zip");
    for p in [&gait, &norm] {
        anyhow::ensure!(p.exists(), "missing {}", p.display());
    }
    let clips = load_labelled_clips(&[&gait, &norm])?;
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
