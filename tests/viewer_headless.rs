//! Viewer tests: a headless render of the body on the real renderer (software Vulkan in CI) with
//! pixel checks, and playback driven through Bevy app updates without rendering.
#![cfg(feature = "viewer")]

use std::sync::Arc;
use std::time::Duration;

use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use gaitlens::body::{BodyModel, PoseFeature, SparseWeights};
use gaitlens::viewer::colouring::{Colormap, VertexWeighting};
use gaitlens::viewer::render::{RenderOptions, encode_png, render_frames};
use gaitlens::viewer::scene::CLEAR_COLOR;
use gaitlens::viewer::{
    BodyState, CurrentSequence, Importance, Playback, PlaybackPlugin, PosePlugin, PosedFrame,
    ShownExplanation, ViewerSequence,
};

/// SMPL's 22-joint tree.
const PARENTS: [Option<usize>; 22] = gaitlens::body::default_model::JOINT_PARENTS;

/// A 1.7 m capsule "body" on a 22-joint SMPL-like skeleton.
fn capsule_body() -> BodyModel {
    capsule_body_res(24, 24)
}

/// A 1.7 m capsule of `rings` × `segs` vertices on a 22-joint SMPL-like skeleton, vertices bound
/// rigidly to the nearest spine-chain joint; two shape components (girth, height).
fn capsule_body_res(rings: usize, segs: usize) -> BodyModel {
    let (radius, height) = (0.16f32, 1.7f32);
    let mut v = vec![[0.0, 0.0, 0.0]];
    for i in 1..rings {
        let t = i as f32 / rings as f32;
        let y = t * height;
        // Hemispherical ends of the capsule's radius, straight in between.
        let d = (y.min(height - y) / radius).min(1.0);
        let r = radius * (1.0 - (1.0 - d) * (1.0 - d)).sqrt();
        for s in 0..segs {
            let a = s as f32 / segs as f32 * std::f32::consts::TAU;
            v.push([r * a.cos(), y, r * a.sin()]);
        }
    }
    v.push([0.0, height, 0.0]);
    let top = (v.len() - 1) as u32;
    let ring = |i: usize, s: usize| (1 + (i - 1) * segs + s % segs) as u32;
    let mut faces = Vec::new();
    for s in 0..segs {
        faces.push([0, ring(1, s), ring(1, s + 1)]);
        faces.push([top, ring(rings - 1, s + 1), ring(rings - 1, s)]);
    }
    for i in 1..rings - 1 {
        for s in 0..segs {
            let (a, b, c, d) = (
                ring(i, s),
                ring(i, s + 1),
                ring(i + 1, s),
                ring(i + 1, s + 1),
            );
            faces.push([a, c, b]);
            faces.push([b, c, d]);
        }
    }
    let j: Vec<[f64; 3]> = vec![
        [0.0, 0.95, 0.0],
        [0.09, 0.9, 0.0],
        [-0.09, 0.9, 0.0],
        [0.0, 1.05, 0.0],
        [0.09, 0.5, 0.0],
        [-0.09, 0.5, 0.0],
        [0.0, 1.2, 0.0],
        [0.09, 0.08, 0.0],
        [-0.09, 0.08, 0.0],
        [0.0, 1.3, 0.0],
        [0.09, 0.02, 0.1],
        [-0.09, 0.02, 0.1],
        [0.0, 1.5, 0.0],
        [0.07, 1.42, 0.0],
        [-0.07, 1.42, 0.0],
        [0.0, 1.6, 0.0],
        [0.18, 1.42, 0.0],
        [-0.18, 1.42, 0.0],
        [0.45, 1.42, 0.0],
        [-0.45, 1.42, 0.0],
        [0.7, 1.42, 0.0],
        [-0.7, 1.42, 0.0],
    ];
    let spine = [0usize, 3, 6, 9, 12, 15];
    let nv = v.len();
    let mut dense = vec![0.0f32; nv * 22];
    for (k, p) in v.iter().enumerate() {
        let best = spine
            .iter()
            .copied()
            .min_by(|&a, &b| {
                let da = (p[1] as f64 - j[a][1]).abs();
                let db = (p[1] as f64 - j[b][1]).abs();
                da.total_cmp(&db)
            })
            .unwrap();
        dense[k * 22 + best] = 1.0;
    }
    let mut shapedirs = vec![0.0f32; nv * 3 * 2];
    for (k, p) in v.iter().enumerate() {
        shapedirs[(k * 3) * 2] = p[0] * 0.2; // girth: x
        shapedirs[(k * 3 + 2) * 2] = p[2] * 0.2; // girth: z
        shapedirs[(k * 3 + 1) * 2 + 1] = p[1] * 0.05; // height: y
    }
    let model = BodyModel {
        name: "test capsule".into(),
        v_template: v,
        faces,
        num_betas: 2,
        shapedirs,
        pose_feature: PoseFeature::None,
        posedirs: vec![],
        j_template: j,
        j_shapedirs: vec![0.0; 22 * 3 * 2],
        parents: PARENTS.to_vec(),
        joint_names: (0..22).map(|i| format!("j{i}")).collect(),
        weights: SparseWeights::from_dense(&dense, nv, 22),
    };
    model.validate().expect("test capsule model is consistent");
    model
}

/// A sequence turning the pelvis about +Y by 0.2 rad a frame while walking 1 cm a frame along +Z.
fn turning_sequence(model: &BodyModel, frames: usize, rate_hz: f64) -> ViewerSequence {
    let poses: Vec<Vec<f64>> = (0..frames)
        .map(|f| {
            let mut p = vec![0.0; 3 * model.num_joints()];
            p[1] = 0.2 * f as f64;
            p[3 * 4] = 0.05 * f as f64; // left knee bends a little more every frame
            p
        })
        .collect();
    let trans: Vec<[f64; 3]> = (0..frames).map(|f| [0.0, 0.0, 0.01 * f as f64]).collect();
    ViewerSequence::from_axis_angle(model, "turning", &[0.5, -0.3], &poses, &trans, rate_hz)
        .expect("valid test sequence")
}

fn srgb_u8(c: Color) -> [u8; 3] {
    let s = c.to_srgba();
    [s.red, s.green, s.blue].map(|x| (x * 255.0).round() as u8)
}

fn dist(a: [u8; 4], b: [u8; 3]) -> u32 {
    (0..3)
        .map(|i| (a[i] as i32 - b[i] as i32).unsigned_abs())
        .sum()
}

#[test]
fn headless_render_shows_body_in_centre_on_clear_background() {
    let model = Arc::new(capsule_body());
    let dir = tempfile::tempdir().unwrap();
    let mut opts = RenderOptions::new(model, dir.path().join("body.png"));
    opts.width = 320;
    opts.height = 240;
    let (frames, stats) = render_frames(&opts).unwrap_or_else(|e| {
        panic!(
            "headless render failed: {e}\n(no adapter? install software Vulkan with \
             `apt-get install mesa-vulkan-drivers`, see .ci/install-system-deps)"
        )
    });
    eprintln!("{}", stats.summary());
    assert_eq!(frames.len(), 1);
    let img = &frames[0];
    assert_eq!((img.width, img.height), (320, 240));
    if let Some(keep) = std::env::var_os("GAITLENS_KEEP_RENDER") {
        // For looking at the image: GAITLENS_KEEP_RENDER=/tmp/x.png cargo test --test viewer_headless
        let path = std::path::PathBuf::from(keep);
        let bytes = encode_png(img, &path).unwrap();
        gaitlens::io_util::write_atomic(&path, &bytes).unwrap();
    }
    let bg = srgb_u8(CLEAR_COLOR);

    // Centre 11×11: the body must cover it (clearly different from the background).
    let (cx, cy) = (160, 120);
    let mut body_px = 0;
    for y in cy - 5..=cy + 5 {
        for x in cx - 5..=cx + 5 {
            if dist(img.pixel(x, y), bg) > 40 {
                body_px += 1;
            }
        }
    }
    assert!(
        body_px >= 110,
        "only {body_px}/121 centre pixels differ from the background {bg:?}; centre pixel is {:?}",
        img.pixel(cx, cy)
    );

    // Top corners 16×16 look above the floor: background. The bottom corners see the floor grid,
    // whose lines cover a part of them, so most (not all) of their pixels are background.
    for (x0, y0, min_bg) in [(0, 0, 250), (304, 0, 250), (0, 224, 160), (304, 224, 160)] {
        let mut bg_px = 0;
        for y in y0..y0 + 16 {
            for x in x0..x0 + 16 {
                if dist(img.pixel(x, y), bg) <= 12 {
                    bg_px += 1;
                }
            }
        }
        assert!(
            bg_px >= min_bg,
            "corner ({x0},{y0}): only {bg_px}/256 pixels match the clear colour {bg:?}; \
             first is {:?}",
            img.pixel(x0, y0)
        );
    }
}

#[test]
fn playback_and_pose_follow_app_time_without_rendering() {
    let model = Arc::new(capsule_body());
    let seq = Arc::new(turning_sequence(&model, 10, 100.0));
    let mut current = CurrentSequence::default();
    current.set(Some(seq.clone()));
    let mut playback = Playback::new(seq.num_frames(), seq.rate_hz);
    playback.playing = true;
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins((PlaybackPlugin, PosePlugin))
        .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(7)))
        .insert_resource(BodyState::new(model.clone(), &seq.betas))
        .insert_resource(current)
        .insert_resource(playback);

    let shaped = model.shape(&seq.betas);
    let mut seen = std::collections::BTreeSet::new();
    for update in 0..40 {
        app.update();
        let elapsed = app.world().resource::<Time>().elapsed_secs_f64();
        // Sequence time = wall time (speed 1), wrapped at the loop period of 10 frames = 0.1 s.
        let want = ((elapsed * 100.0 + 1e-6).floor() as usize) % 10;
        let pb = app.world().resource::<Playback>();
        assert_eq!(pb.frame(), want, "update {update}, elapsed {elapsed}");
        let posed = app.world().resource::<PosedFrame>();
        assert_eq!(
            posed.frame,
            Some(want),
            "posed frame lags playback at update {update}"
        );
        let reference = model.forward(&shaped, &seq.rotations[want], seq.translations[want]);
        assert_eq!(posed.vertices, reference.vertices, "update {update}");
        seen.insert(want);
    }
    assert_eq!(
        seen.len(),
        10,
        "looping over 0.28 s must visit every frame: {seen:?}"
    );

    // Pause: frames stop moving; stepping moves exactly one frame.
    app.world_mut().resource_mut::<Playback>().playing = false;
    app.update();
    let f0 = app.world().resource::<Playback>().frame();
    for _ in 0..5 {
        app.update();
    }
    assert_eq!(app.world().resource::<Playback>().frame(), f0);
    app.world_mut().resource_mut::<Playback>().step(1);
    app.update();
    assert_eq!(
        app.world().resource::<PosedFrame>().frame,
        Some((f0 + 1) % 10)
    );

    // Changing betas re-poses the body with the new shape.
    app.world_mut().resource_mut::<BodyState>().betas = vec![2.0, 0.0];
    app.update();
    let f = (f0 + 1) % 10;
    let wide = model.forward(
        &model.shape(&[2.0, 0.0]),
        &seq.rotations[f],
        seq.translations[f],
    );
    assert_eq!(app.world().resource::<PosedFrame>().vertices, wide.vertices);
}

/// Frame-time benchmark at the viewer's default render size (run explicitly:
/// `cargo test --test viewer_headless -- --ignored --nocapture bench`).
#[test]
#[ignore = "benchmark; prints timings"]
fn bench_headless_frame_time() {
    let model = Arc::new(match std::env::var("GAITLENS_BENCH_MODEL").as_deref() {
        Ok("default") => gaitlens::body::default_model::default_body().clone(),
        // About the size of a SMPL/MakeHuman body mesh: 12.8k vertices, 25.6k triangles.
        _ => capsule_body_res(161, 80),
    });
    let seq = Arc::new(turning_sequence(&model, 60, 100.0));
    let dir = tempfile::tempdir().unwrap();
    let mut opts = RenderOptions::new(model.clone(), dir.path().join("b.png"));
    opts.sequence = Some(seq);
    opts.bench_frames = Some(60);
    let (_, stats) = render_frames(&opts).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "{} ({} vertices) at {}x{}\n{}",
        model.name,
        model.num_vertices(),
        opts.width,
        opts.height,
        stats.summary()
    );
}

#[test]
fn pose_folders_load_for_the_viewer_and_bad_input_is_an_error() {
    use gaitlens::formats::pose_seq::{PoseFileFormat, PoseSequence, write_pose_dir};
    use gaitlens::viewer::{ViewerError, load_sequence};
    let model = capsule_body();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("walk");
    // 24 SMPL joints (72 values) as the original pipeline writes; the viewer keeps the first 22.
    let n = 4;
    let poses: Vec<Vec<f64>> = (0..n)
        .map(|f| {
            (0..72)
                .map(|i| 0.01 * (i as f64) - 0.02 * f as f64)
                .collect()
        })
        .collect();
    let seq = PoseSequence {
        betas: vec![vec![0.25; 50]; n],
        poses: poses.clone(),
        translations: (0..n).map(|f| [0.1 * f as f64, 0.9, 0.0]).collect(),
        rate_hz: None,
        frame_numbers: (0..n as u64).map(|f| 10 + f).collect(),
        source: None,
        format: PoseFileFormat::Json,
    };
    write_pose_dir(&good, &seq, PoseFileFormat::Json).unwrap();
    // Loading the folder or a file inside it gives the same sequence.
    for path in [good.clone(), good.join("pose_00011.json")] {
        let s = load_sequence(&path, &model, 120.0).unwrap();
        assert_eq!(s.num_frames(), n);
        assert_eq!(
            s.rate_hz, 120.0,
            "pose folders carry no rate: the fallback applies"
        );
        assert_eq!(s.betas, vec![0.25; 50]);
        for (f, pose) in poses.iter().enumerate() {
            let want = model.rotations_from_axis_angle(&pose[..66]).unwrap();
            assert_eq!(s.rotations[f], want, "frame {f}");
            assert_eq!(s.translations[f].x, 0.1 * f as f64);
        }
    }

    // `gaitlens fit` records the trial's rate in fit_report.json beside the poses.
    std::fs::write(good.join("fit_report.json"), r#"{"rate_hz": 150.0}"#).unwrap();
    assert_eq!(load_sequence(&good, &model, 120.0).unwrap().rate_hz, 150.0);

    let missing = dir.path().join("nowhere");
    let err = load_sequence(&missing, &model, 100.0).unwrap_err();
    assert!(matches!(err, ViewerError::Load { .. }), "{err}");
    assert!(
        err.to_string().contains("nowhere"),
        "error must name the path: {err}"
    );

    let short = dir.path().join("short");
    let mut bad = seq.clone();
    bad.poses = vec![vec![0.0; 30]; n];
    write_pose_dir(&short, &bad, PoseFileFormat::Json).unwrap();
    let err = load_sequence(&short, &model, 100.0).unwrap_err();
    assert!(
        matches!(err, ViewerError::BadSequence { .. })
            && err.to_string().contains("30 pose values"),
        "{err}"
    );
}

/// Decodes an 8-bit RGB PNG written by the renderer.
fn read_png_rgb(path: &std::path::Path) -> (u32, u32, Vec<u8>) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut r = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    (info.width, info.height, buf)
}

#[test]
fn headless_range_writes_each_requested_pose_to_png() {
    let model = Arc::new(capsule_body());
    // Frame 0 stands upright, frame 1 lies on its side (pelvis rolled 90° about the view axis),
    // frame 2 stands again: a stale capture would show the previous frame's silhouette.
    let mut poses = vec![vec![0.0; 66]; 3];
    poses[1][2] = std::f64::consts::FRAC_PI_2;
    let seq =
        ViewerSequence::from_axis_angle(&model, "roll", &[], &poses, &[[0.0; 3]; 3], 30.0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = RenderOptions::new(model, dir.path().join("frames"));
    opts.sequence = Some(Arc::new(seq));
    opts.frames = gaitlens::viewer::parse_frame_range("0..3").unwrap();
    opts.width = 320;
    opts.height = 240;
    let stats = gaitlens::viewer::render_png(opts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stats.written.len(), 3);
    if let Some(keep) = std::env::var_os("GAITLENS_KEEP_RENDER_DIR") {
        for p in &stats.written {
            std::fs::copy(p, std::path::Path::new(&keep).join(p.file_name().unwrap())).unwrap();
        }
    }
    // Skin-coloured (warm, bright): neither the background, the grey grid nor the red axis.
    let is_body = |img: &(u32, u32, Vec<u8>), x: u32, y: u32| {
        let i = ((y * img.0 + x) * 3) as usize;
        let [r, g, b] = [img.2[i], img.2[i + 1], img.2[i + 2]].map(i32::from);
        r > 110 && g > 70 && r > b + 25
    };
    for (f, path) in stats.written.iter().enumerate() {
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap(),
            format!("frame_{f:05}.png")
        );
        let img = read_png_rgb(path);
        assert_eq!((img.0, img.1), (320, 240));
        let upright = f != 1;
        // Well above the centre: body only when upright. Well left of it: body only when lying.
        assert_eq!(is_body(&img, 160, 45), upright, "frame {f} at (160,45)");
        assert_eq!(is_body(&img, 95, 120), !upright, "frame {f} at (95,120)");
        assert!(
            is_body(&img, 160, 120),
            "frame {f}: centre must show the body"
        );
    }
}

#[test]
fn load_requests_update_the_app_and_bad_paths_only_set_the_error_line() {
    use gaitlens::formats::pose_seq::{PoseFileFormat, PoseSequence, write_pose_dir};
    use gaitlens::viewer::{DialogsPlugin, LoadSequenceRequest, StatusLine};
    let model = Arc::new(capsule_body());
    let dir = tempfile::tempdir().unwrap();
    let n = 6;
    let seq = PoseSequence {
        betas: vec![vec![1.0, -1.0]; n],
        poses: (0..n).map(|f| vec![0.1 * f as f64; 66]).collect(),
        translations: vec![[0.0, 0.0, 0.0]; n],
        rate_hz: None,
        frame_numbers: (0..n as u64).collect(),
        source: None,
        format: PoseFileFormat::Json,
    };
    let good = dir.path().join("good");
    write_pose_dir(&good, &seq, PoseFileFormat::Json).unwrap();
    let broken = dir.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("pose_00000.json"), b"{ not json").unwrap();

    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins((PlaybackPlugin, PosePlugin, DialogsPlugin))
        .insert_resource(BodyState::new(model.clone(), &[]));
    app.update();
    assert!(app.world().resource::<CurrentSequence>().sequence.is_none());

    for bad in [dir.path().join("missing"), broken.clone()] {
        app.world_mut()
            .write_message(LoadSequenceRequest(bad.clone()))
            .unwrap();
        app.update();
        let status = app.world().resource::<StatusLine>();
        let err = status
            .error
            .clone()
            .expect("a failed load must set the error line");
        assert!(
            err.contains(bad.file_name().unwrap().to_str().unwrap()),
            "error must name the path: {err}"
        );
        assert!(app.world().resource::<CurrentSequence>().sequence.is_none());
    }

    app.world_mut()
        .write_message(LoadSequenceRequest(good.join("pose_00003.json")))
        .unwrap();
    app.update();
    let status = app.world().resource::<StatusLine>();
    assert!(status.error.is_none(), "{:?}", status.error);
    let loaded = app
        .world()
        .resource::<CurrentSequence>()
        .sequence
        .clone()
        .unwrap();
    assert_eq!(loaded.num_frames(), n);
    assert_eq!(app.world().resource::<Playback>().num_frames(), n);
    assert_eq!(app.world().resource::<BodyState>().betas, vec![1.0, -1.0]);
    let posed = app.world().resource::<PosedFrame>();
    assert_eq!(posed.frame, Some(0));
    let want = model.forward(
        &model.shape(&[1.0, -1.0]),
        &loaded.rotations[0],
        loaded.translations[0],
    );
    assert_eq!(posed.vertices, want.vertices);
}

/// Renders the capsule with every joint's relevance at `value` (one-frame explanation).
fn render_with_uniform_relevance(
    value: f32,
    colormap: Colormap,
) -> gaitlens::viewer::render::RenderedFrame {
    let model = Arc::new(capsule_body());
    let dir = tempfile::tempdir().unwrap();
    let mut opts = RenderOptions::new(model, dir.path().join("body.png"));
    opts.width = 320;
    opts.height = 240;
    opts.importance = Some(Importance {
        shown: Some(Arc::new(ShownExplanation::new(
            0,
            vec![value; 22],
            colormap == Colormap::Diverging,
            1.0,
            "test".into(),
        ))),
        enabled: true,
        colormap,
        weighting: VertexWeighting::Skinning,
        scale: Default::default(),
    });
    let (mut frames, _) = render_frames(&opts).expect("headless render");
    frames.remove(0)
}

/// Mean RGB of the centre 11×11 pixels.
fn centre_rgb(img: &gaitlens::viewer::render::RenderedFrame) -> [f32; 3] {
    let (cx, cy) = (img.width / 2, img.height / 2);
    let mut sum = [0f32; 3];
    for y in cy - 5..=cy + 5 {
        for x in cx - 5..=cx + 5 {
            let p = img.pixel(x, y);
            for c in 0..3 {
                sum[c] += p[c] as f32 / 121.0;
            }
        }
    }
    sum
}

#[test]
fn importance_colouring_gives_the_body_the_colormaps_hue() {
    // Relevance +1 everywhere → the red end of the diverging map; −1 → the blue end. Lighting
    // scales the colour, so the test compares hue (channel order), not exact values.
    let red = centre_rgb(&render_with_uniform_relevance(1.0, Colormap::Diverging));
    let blue = centre_rgb(&render_with_uniform_relevance(-1.0, Colormap::Diverging));
    let end_red = Colormap::Diverging.srgb(1.0);
    let end_blue = Colormap::Diverging.srgb(-1.0);
    assert!(end_red[0] > end_red[2] && end_blue[2] > end_blue[0]);
    assert!(
        red[0] > red[1] + 30.0 && red[0] > red[2] + 30.0,
        "relevance +1 should colour the body red, centre mean is {red:?}"
    );
    assert!(
        blue[2] > blue[0] + 30.0 && blue[2] > blue[1],
        "relevance −1 should colour the body blue, centre mean is {blue:?}"
    );
    // The sequential map's top is dark red: red dominates, blue is low.
    let seq = centre_rgb(&render_with_uniform_relevance(1.0, Colormap::Sequential));
    assert!(
        seq[0] > seq[2] + 30.0,
        "attention 1 should be dark red, centre mean is {seq:?}"
    );
}

#[test]
fn classifier_on_bevys_gpu_device_matches_the_cpu_backend() {
    use gaitlens::explain::Baseline;
    use gaitlens::viewer::network::{
        ComputeDevice, ExplainChoice, ViewerNetwork, run_explain, sequence_joints,
    };
    let (device, adapter) = gaitlens::viewer::render::shared_burn_device()
        .unwrap_or_else(|e| panic!("{e}\n(install software Vulkan: .ci/install-system-deps)"));
    eprintln!("burn on Bevy's device: {adapter}");
    let model = gaitlens::body::default_model::default_body();
    let seq = gaitlens::viewer::demo::demo_sequence(model).expect("demo walk");
    let joints = sequence_joints(model, &seq.betas, &seq).expect("22 joints");
    let net = ViewerNetwork::demo(Some(device)).expect("demo network on the shared device");
    let gpu = run_explain(
        &net,
        &joints,
        seq.rate_hz,
        4,
        ExplainChoice::Epsilon,
        Baseline::Normative,
        true,
    )
    .unwrap();
    assert_eq!(
        gpu.device,
        ComputeDevice::SharedGpu,
        "the GPU path fell back to the CPU"
    );
    let cpu = run_explain(
        &net,
        &joints,
        seq.rate_hz,
        4,
        ExplainChoice::Epsilon,
        Baseline::Normative,
        false,
    )
    .unwrap();
    assert_eq!(cpu.device, ComputeDevice::Cpu);
    // Inference: logits of the explained window and of the whole classification track.
    assert!(
        (gpu.shown.logit - cpu.shown.logit).abs() <= 1e-4,
        "logit GPU {} vs CPU {}",
        gpu.shown.logit,
        cpu.shown.logit
    );
    assert_eq!(gpu.track.len(), cpu.track.len());
    for (g, c) in gpu.track.iter().zip(&cpu.track) {
        assert_eq!(g.start_frame, c.start_frame);
        assert!(
            (g.logit - c.logit).abs() <= 1e-4,
            "track at {}: {} vs {}",
            g.start_frame,
            g.logit,
            c.logit
        );
    }
    // Relevance, relative to its scale (sums of many products on two backends).
    let max_diff = gpu
        .shown
        .relevance
        .iter()
        .zip(&cpu.shown.relevance)
        .fold(0f32, |m, (g, c)| m.max((g - c).abs()));
    assert!(
        max_diff <= 1e-4 * cpu.shown.scale.max(1.0),
        "relevance differs by {max_diff} (scale {})",
        cpu.shown.scale
    );
}

#[test]
fn a_c3d_trial_is_fitted_in_the_background_and_played_with_its_markers() {
    use gaitlens::viewer::trial::{MarkerOverlay, TrialFitState};
    use gaitlens::viewer::{DialogsPlugin, LoadSequenceRequest, StatusLine};
    let c3d = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/c3d/PiG_Motion-FlatFoot-Full.c3d");
    assert!(c3d.is_file(), "missing shared recording {}", c3d.display());
    let model = Arc::new(gaitlens::body::default_model::default_body().clone());
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins((PlaybackPlugin, PosePlugin, DialogsPlugin))
        .insert_resource(BodyState::new(model.clone(), &[]));
    app.update();
    app.world_mut()
        .write_message(LoadSequenceRequest(c3d.clone()))
        .unwrap();
    app.update();
    assert!(
        app.world().resource::<TrialFitState>().job.is_some(),
        "a C3D request must start a background fit"
    );
    // The app keeps updating while the fit runs; wait for it (bounded).
    let t0 = std::time::Instant::now();
    while app.world().resource::<TrialFitState>().job.is_some() {
        assert!(t0.elapsed().as_secs() < 600, "fit did not finish");
        std::thread::sleep(Duration::from_millis(50));
        app.update();
    }
    let status = app.world().resource::<StatusLine>();
    assert!(status.error.is_none(), "{:?}", status.error);
    let trial = gaitlens::formats::read_marker_trial(&c3d).unwrap();
    let seq = app
        .world()
        .resource::<CurrentSequence>()
        .sequence
        .clone()
        .expect("fitted sequence loaded");
    assert_eq!(seq.num_frames(), trial.num_frames());
    assert_eq!(seq.rate_hz, trial.rate_hz);
    let overlay = app.world().resource::<MarkerOverlay>();
    assert_eq!(overlay.model_m.len(), trial.num_frames());
    assert!(overlay.labels.len() >= 30, "{:?}", overlay.labels);
    // The overlay's model markers sit on the displayed body: residuals of a good fit are small.
    let res: Vec<f32> = overlay.residuals_m(50).into_iter().flatten().collect();
    let rms = (res.iter().map(|r| r * r).sum::<f32>() / res.len() as f32).sqrt();
    assert!(rms < 0.03, "frame 50 marker RMSE {rms} m");
    // And the displayed body is where the markers are (y-up display frame).
    let posed = app.world().resource::<PosedFrame>();
    let pelvis = posed.joints[0];
    let m0 = overlay.measured_m[posed.frame.unwrap()]
        .iter()
        .flatten()
        .next()
        .copied()
        .unwrap();
    let d = Vec3::from(pelvis).distance(Vec3::from(m0));
    assert!(d < 1.2, "first marker is {d} m from the pelvis");
    assert!(
        pelvis[1] > 0.5,
        "pelvis height {} m: body should be y-up",
        pelvis[1]
    );
}

#[test]
fn a_supr_file_swaps_the_body_model_and_a_bad_one_keeps_the_old() {
    use gaitlens::viewer::{DialogsPlugin, LoadBodyRequest, LoadSequenceRequest, StatusLine};
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/supr");
    let npz = fixtures.join("supr_tiny.npz");
    assert!(npz.is_file(), "missing fixture {}", npz.display());
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins((PlaybackPlugin, PosePlugin, DialogsPlugin))
        .insert_resource(BodyState::new(Arc::new(capsule_body()), &[]));
    app.update();
    let before = app.world().resource::<BodyState>().model.num_vertices();

    // A broken model file: error line, old body kept.
    app.world_mut()
        .write_message(LoadBodyRequest(Some(fixtures.join("bad_dtype.npy"))))
        .unwrap();
    app.update();
    let err = app.world().resource::<StatusLine>().error.clone();
    assert!(
        err.as_deref().is_some_and(|e| e.contains("bad_dtype.npy")),
        "{err:?}"
    );
    assert_eq!(
        app.world().resource::<BodyState>().model.num_vertices(),
        before
    );

    // Dropping / opening a .npz routes to the body model.
    app.world_mut()
        .write_message(LoadSequenceRequest(npz.clone()))
        .unwrap();
    app.update();
    let status = app.world().resource::<StatusLine>();
    assert!(status.error.is_none(), "{:?}", status.error);
    let supr = gaitlens::body::supr::load_supr(&npz).unwrap();
    let body = app.world().resource::<BodyState>();
    assert_eq!(body.model.num_vertices(), supr.model.num_vertices());
    assert_ne!(body.model.num_vertices(), before);
    assert!(app.world().resource::<CurrentSequence>().sequence.is_none());
    // The posed frame follows the new model.
    assert_eq!(
        app.world().resource::<PosedFrame>().vertices.len(),
        supr.model.num_vertices()
    );
}

#[test]
fn render_cli_colours_the_demo_walk_by_the_demo_networks_relevance() {
    let dir = tempfile::tempdir().unwrap();
    let render = |extra: &[&str], out: &std::path::Path| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_gaitlens"))
            .args(["render", "--frame", "20", "--size", "320x240", "--out"])
            .arg(out)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "gaitlens render failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let plain = dir.path().join("plain.png");
    let coloured = dir.path().join("coloured.png");
    render(&[], &plain);
    render(
        &["--network", "demo", "--explain-start", "0", "--rule", "eps"],
        &coloured,
    );
    let (w, h, a) = read_png_rgb(&plain);
    let (w2, h2, b) = read_png_rgb(&coloured);
    assert_eq!((w, h), (w2, h2));
    // Same pose and camera: only the body's colour differs, and on many pixels.
    let changed = a
        .chunks(3)
        .zip(b.chunks(3))
        .filter(|(p, q)| {
            (0..3)
                .map(|c| (p[c] as i32 - q[c] as i32).abs())
                .sum::<i32>()
                > 30
        })
        .count();
    assert!(changed > 300, "only {changed} pixels changed colour");
    // A bad network path is a clear error naming it.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_gaitlens"))
        .args([
            "render",
            "--network",
            "/nonexistent/net.json",
            "--explain-start",
            "0",
        ])
        .args(["--out"])
        .arg(dir.path().join("x.png"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("/nonexistent/net.json"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn render_without_a_start_explains_the_window_that_holds_the_rendered_frame() {
    let dir = tempfile::tempdir().unwrap();
    // 300 frames of a real walk at 100 Hz: longer than the demo network's 2 s window.
    let c3d = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/c3d/PiG_Motion-FlatFoot-Full.c3d");
    assert!(c3d.exists(), "missing shared data file {}", c3d.display());
    let walk = dir.path().join("walk");
    let fit = std::process::Command::new(env!("CARGO_BIN_EXE_gaitlens"))
        .arg("fit")
        .arg(&c3d)
        .args(["--max-frames", "300", "--out"])
        .arg(&walk)
        .output()
        .unwrap();
    assert!(
        fit.status.success(),
        "{}",
        String::from_utf8_lossy(&fit.stderr)
    );
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_gaitlens"))
        .args([
            "render",
            "--network",
            "demo",
            "--frame",
            "250",
            "--sequence",
        ])
        .arg(&walk)
        .args(["--size", "160x120", "--out"])
        .arg(dir.path().join("shot.png"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // "…: P(sick) = 0.123 for frames A–B (…)": the window must hold frame 250.
    let span = out
        .split("for frames ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .unwrap_or_else(|| panic!("no explained window printed:\n{out}"));
    let (a, b) = span.split_once('–').expect("a frame range");
    let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
    assert!(
        a <= 150 && 150 <= b,
        "window {a}–{b} does not hold frame 150"
    );
    assert!(
        a > 0,
        "the window was not moved to the rendered frame: {a}–{b}"
    );
}

#[test]
fn constrained_supr_pose_folders_are_read_as_reduced_vectors() {
    use gaitlens::formats::pose_seq::{PoseFileFormat, PoseSequence, write_pose_dir};
    use gaitlens::viewer::load_sequence_in;
    use std::io::Read;
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/supr/supr_tiny_constrained.npy.gz");
    let gz = std::fs::read(&fixture)
        .unwrap_or_else(|e| panic!("missing fixture {}: {e}", fixture.display()));
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut bytes)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("supr_tiny_constrained.npy");
    std::fs::write(&npy, bytes).unwrap();
    let supr = gaitlens::body::supr::load_supr(&npy).unwrap();
    let param = supr
        .constrained
        .clone()
        .expect("constrained fixture has axis_meta");
    let k = param.num_pose();
    assert_ne!(
        k,
        3 * supr.model.num_joints(),
        "lengths must tell the spaces apart"
    );
    // A folder as the original's constrained fitting writes it: k values a frame.
    let n = 3;
    let poses: Vec<Vec<f64>> = (0..n)
        .map(|f| (0..k).map(|i| 0.05 * ((i + f) % 7) as f64 - 0.1).collect())
        .collect();
    let folder = dir.path().join("constrained_walk");
    let seq = PoseSequence {
        betas: vec![vec![0.0; 10]; n],
        poses: poses.clone(),
        translations: vec![[0.0, 0.9, 0.0]; n],
        rate_hz: None,
        frame_numbers: (0..n as u64).collect(),
        source: None,
        format: PoseFileFormat::Json,
    };
    write_pose_dir(&folder, &seq, PoseFileFormat::Json).unwrap();
    let s = load_sequence_in(&folder, &supr.model, Some(&param), 100.0).unwrap();
    for (f, pose) in poses.iter().enumerate() {
        let want = param.rotations(pose).unwrap();
        // The root may be turned to stand y-up; every other joint is exactly SUPR's.
        for (j, w) in want.iter().enumerate().skip(1) {
            assert!(
                (s.rotations[f][j] - w).norm() < 1e-12,
                "frame {f} joint {j}"
            );
        }
    }
    // Read as axis-angle (the original's --unconstrained) the short vectors are a clear error.
    let err = load_sequence_in(&folder, &supr.model, None, 100.0).unwrap_err();
    assert!(
        err.to_string().contains(&format!("{k} pose values")),
        "{err}"
    );
    // And an axis-angle folder read in the constrained space names the expected length.
    let aa = dir.path().join("axis_angle_walk");
    let mut aa_seq = seq.clone();
    aa_seq.poses = vec![vec![0.0; 3 * supr.model.num_joints()]; n];
    write_pose_dir(&aa, &aa_seq, PoseFileFormat::Json).unwrap();
    let err = load_sequence_in(&aa, &supr.model, Some(&param), 100.0).unwrap_err();
    assert!(
        err.to_string().contains(&format!("reads {k}")) && err.to_string().contains("untick"),
        "{err}"
    );
    assert!(load_sequence_in(&aa, &supr.model, None, 100.0).is_ok());

    // In the app: the Body panel's toggle reloads the folder in the other pose space.
    use gaitlens::viewer::{DialogsPlugin, LoadSequenceRequest, StatusLine};
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins((PlaybackPlugin, PosePlugin, DialogsPlugin))
        .insert_resource(
            BodyState::new(Arc::new(supr.model.clone()), &[]).with_constrained(Some(param)),
        );
    app.update();
    assert!(app.world().resource::<BodyState>().use_constrained);
    app.world_mut()
        .write_message(LoadSequenceRequest(folder.clone()))
        .unwrap();
    app.update();
    let first = app.world().resource::<CurrentSequence>().generation;
    assert!(app.world().resource::<StatusLine>().error.is_none());
    // Unticked: the reduced vectors do not read as axis-angle; the error says so, the walk stays.
    app.world_mut().resource_mut::<BodyState>().use_constrained = false;
    app.update();
    app.update();
    let err = app.world().resource::<StatusLine>().error.clone();
    assert!(
        err.as_deref().is_some_and(|e| e.contains("pose values")),
        "{err:?}"
    );
    assert_eq!(app.world().resource::<CurrentSequence>().generation, first);
    // Ticked again: reloaded in the constrained space.
    app.world_mut().resource_mut::<BodyState>().use_constrained = true;
    app.update();
    app.update();
    assert!(app.world().resource::<StatusLine>().error.is_none());
    assert!(app.world().resource::<CurrentSequence>().generation > first);
}
