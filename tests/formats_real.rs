//! The non-C3D readers on the real shared data (OpenPose zips, cohort and 3D Body Twin constraint
//! files, gaitkit landmarks through TRC) and on the committed fixtures. A missing real file fails.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use gaitlens::formats::MarkerTrial;
use gaitlens::formats::cohort::read_cohort;
use gaitlens::formats::constraints::read_constraints;
use gaitlens::formats::openpose::{
    KeypointSequence, TrackReason, read_openpose_dir, read_openpose_path, read_openpose_zip,
};
use gaitlens::formats::pose_seq::{
    PoseFileFormat, PoseFrame, format_pose_json, format_pose_txt, parse_pose_txt, read_pose_dir,
    write_pose_dir,
};
use gaitlens::formats::trc::{read_trc, write_trc};

fn data(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel);
    assert!(p.is_file(), "real data file missing: {}", p.display());
    p
}

fn fixture(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    assert!(p.exists(), "fixture missing: {}", p.display());
    p
}

/// Independent count per clip straight from the archive with serde_json: (files, empty, multi).
fn zip_people_counts(path: &Path) -> BTreeMap<String, (usize, usize, usize)> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        if !f.name().ends_with(".json") {
            continue;
        }
        let clip = f.name().split('/').next().unwrap().to_string();
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        let n = v["people"].as_array().unwrap().len();
        let e = out.entry(clip).or_default();
        e.0 += 1;
        e.1 += (n == 0) as usize;
        e.2 += (n > 1) as usize;
    }
    out
}

fn check_clips(seqs: &[KeypointSequence], path: &Path, names: &[&str], frames: (usize, usize)) {
    let got: Vec<&str> = seqs.iter().map(|s| s.clip.as_str()).collect();
    assert_eq!(got, names, "clips of {}", path.display());
    let counts = zip_people_counts(path);
    let (mut min, mut max) = (usize::MAX, 0);
    for s in seqs {
        let (files, empty, multi) = counts[&s.clip];
        println!(
            "{:>6}: {:3} frames, {:3} empty, {:2} multi-person, {} seeds",
            s.clip,
            s.num_frames(),
            s.empty_frames(),
            s.multi_person_frames(),
            s.seeds()
        );
        assert_eq!(s.num_frames(), files, "{}", s.clip);
        assert_eq!(s.choices.len(), files);
        assert_eq!(s.source_frame_numbers.len(), files);
        assert!(
            s.source_frame_numbers.windows(2).all(|w| w[0] < w[1]),
            "{} not sorted",
            s.clip
        );
        // The real clips are numbered 0..n-1 without holes.
        assert_eq!(s.source_frame_numbers.first(), Some(&0));
        assert_eq!(*s.source_frame_numbers.last().unwrap() as usize, files - 1);
        assert_eq!(s.empty_frames(), empty, "{} empty frames", s.clip);
        assert_eq!(
            s.multi_person_frames(),
            multi,
            "{} multi-person frames",
            s.clip
        );
        assert_eq!(s.frames.iter().filter(|f| f.is_none()).count(), empty);
        min = min.min(files);
        max = max.max(files);
    }
    assert_eq!(
        (min, max),
        frames,
        "frame-count range of {}",
        path.display()
    );
}

/// Mean pixel distance between consecutive walker frames over keypoints confident in both.
fn step_px(a: &[[f32; 3]; 25], b: &[[f32; 3]; 25]) -> Option<f32> {
    let d: Vec<f32> = a
        .iter()
        .zip(b)
        .filter(|(p, q)| p[2] >= 0.1 && q[2] >= 0.1)
        .map(|(p, q)| ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt())
        .collect();
    (d.len() >= 3).then(|| d.iter().sum::<f32>() / d.len() as f32)
}

#[test]
fn openpose_gait_zip_has_six_pathological_clips() {
    let path = data("openpose/openpose_gait.zip");
    let seqs = read_openpose_zip(&path).unwrap();
    check_clips(
        &seqs,
        &path,
        &["gait1", "gait2", "gait3", "gait4", "gait5", "gait6"],
        (169, 459),
    );
}

#[test]
fn openpose_norm_zip_has_fifteen_normal_clips_and_tracks_one_walker() {
    let path = data("openpose/openpose_norm.zip");
    let seqs = read_openpose_zip(&path).unwrap();
    let names = [
        "vid", "vid1", "vid2", "vid4", "vid5", "vid6", "vid7", "vid8", "vid9", "vid10", "vid11",
        "vid12", "vid13", "vid14", "vid15",
    ];
    check_clips(&seqs, &path, &names, (182, 356));
    // Tracking: in frames with several people, the walker chosen must continue the previous
    // frame's walker (small step), where the rejected people are far away.
    let mut checked = 0;
    for s in &seqs {
        for (i, c) in s.choices.iter().enumerate().skip(1) {
            if c.people < 2 || !matches!(c.reason, TrackReason::Nearest { .. }) {
                continue;
            }
            let (Some(prev), Some(cur)) = (s.frames[i - 1], s.frames[i]) else {
                continue;
            };
            if let Some(d) = step_px(&prev, &cur) {
                assert!(
                    d < 60.0,
                    "{} frame {}: walker jumped {d:.0} px",
                    s.clip,
                    c.source_frame
                );
                checked += 1;
            }
        }
    }
    println!("multi-person frames with continuity checked: {checked}");
    // Data property worth knowing downstream: vid15 is a byte-identical copy of vid14 in the
    // source archive, so a classifier split must keep them together (or drop one).
    let clip = |n: &str| seqs.iter().find(|s| s.clip == n).unwrap();
    assert_eq!(
        clip("vid14").frames,
        clip("vid15").frames,
        "vid14/vid15 duplicate"
    );
    assert_ne!(clip("vid13").frames, clip("vid14").frames);
    for s in &seqs {
        let seeds: Vec<String> = s
            .choices
            .iter()
            .filter(|c| !matches!(c.reason, TrackReason::Empty | TrackReason::Nearest { .. }))
            .map(|c| format!("{}:{:?}/{}p", c.source_frame, c.reason, c.people))
            .collect();
        println!("{:>6} seeds: {}", s.clip, seeds.join(" "));
    }
    assert!(
        checked > 20,
        "too few multi-person frames checked: {checked}"
    );
}

#[test]
fn openpose_dir_reads_an_extracted_clip() {
    let zip_path = data("openpose/openpose_gait.zip");
    let dir = tempfile::tempdir().unwrap();
    let clip_dir = dir.path().join("gait3");
    std::fs::create_dir(&clip_dir).unwrap();
    let mut z = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        if let Some(name) = f.name().strip_prefix("gait3/") {
            let name = name.to_string();
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).unwrap();
            std::fs::write(clip_dir.join(name), bytes).unwrap();
        }
    }
    let from_dir = read_openpose_dir(&clip_dir).unwrap();
    let from_zip = read_openpose_zip(&zip_path)
        .unwrap()
        .into_iter()
        .find(|s| s.clip == "gait3")
        .unwrap();
    assert_eq!(from_dir.num_frames(), 169);
    assert_eq!(from_dir.frames, from_zip.frames);
    assert_eq!(from_dir.clip, "gait3");
    // The folder of clip folders and the clip folder itself, through the dispatching reader.
    let all = read_openpose_path(dir.path()).unwrap();
    assert_eq!((all.len(), all[0].clip.as_str()), (1, "gait3"));
    assert_eq!(
        read_openpose_path(&clip_dir).unwrap()[0].frames,
        from_zip.frames
    );
    assert_eq!(read_openpose_path(&zip_path).unwrap().len(), 6);
}

#[test]
fn missing_files_fail_naming_their_path() {
    let p = Path::new("/nonexistent/openpose_x.zip");
    assert!(
        read_openpose_zip(p)
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/openpose_x.zip")
    );
    let p = Path::new("/nonexistent/cohort.json");
    assert!(
        read_cohort(p)
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/cohort.json")
    );
    let p = Path::new("/nonexistent/c.json");
    assert!(
        read_constraints(p)
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/c.json")
    );
    let p = Path::new("/nonexistent/t.trc");
    assert!(
        read_trc(p)
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/t.trc")
    );
    let p = Path::new("/nonexistent/poses");
    assert!(
        read_pose_dir(p)
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/poses")
    );
}

#[test]
fn cohort_example_keeps_order_and_resolves_paths() {
    let path = data("formats/example_cohort.json");
    let c = read_cohort(&path).unwrap();
    let dir = path.parent().unwrap();
    assert_eq!(c.subjects.len(), 2);
    let s1 = &c.subjects[0];
    assert_eq!(s1.name, "subject1");
    assert_eq!(s1.constraint_file, dir.join("subject1/constraints.json"));
    assert_eq!(
        s1.gaits,
        [
            dir.join("data/subject1/path1.c3d"),
            dir.join("data/subject1/path2.c3d")
        ]
    );
    assert!(s1.healthy && !s1.constrained_model);
    assert_eq!(s1.model_file, "supr_male.npy");
    let s2 = &c.subjects[1];
    assert_eq!(s2.name, "subject2");
    assert!(!s2.healthy && s2.constrained_model);
    assert_eq!(s2.model_file, "supr_female_constrained.npy");
}

#[test]
fn bodytwin_constraints_markers_angles_and_unsupported() {
    let path = data("formats/3dbodytwin_default_constraints.json");
    let c = read_constraints(&path).unwrap();
    // Independent reading with serde_json for the expected values.
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let raw = raw.as_object().unwrap();
    let n_markers: usize = raw
        .values()
        .filter(|v| v["type"].as_str().unwrap().contains("C3DMarker"))
        .map(|v| v["Markers"].as_object().unwrap().len())
        .sum();
    assert_eq!(
        n_markers, 30,
        "16 PiG markers + 14 right-hand markers in the file"
    );
    assert_eq!(c.markers.markers.len(), n_markers);
    assert_eq!(
        c.marker_groups
            .iter()
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>(),
        ["C3DMarker", "RHand"]
    );
    let lkne = c.markers.get("LKNE").expect("LKNE placement");
    let want = &raw["C3DMarker"]["Markers"]["LKNE"];
    assert_eq!(lkne.face_id as u64, want["faceId"].as_u64().unwrap());
    assert_eq!(
        lkne.distance_to_skin_m,
        want["distanceToSkin"].as_f64().unwrap() as f32
    );
    for name in ["LASI", "RASI", "LANK", "RANK", "LTOE", "RTOE", "C7", "T10"] {
        assert!(c.markers.get(name).is_some(), "{name} missing");
    }
    let names: Vec<&str> = c.angles.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "HandAngle",
            "UnconBodyEyes",
            "UnconBodyJaw",
            "UnconBodyLFoot",
            "UnconBodyLHand",
            "UnconBodyRFoot",
            "UnconBodyRHand"
        ]
    );
    let hand = &c.angles[0];
    assert_eq!(hand.joints.len(), 45);
    assert_eq!(
        hand.upper_rad[36],
        raw["HandAngle"]["upbounds"][36].as_f64().unwrap()
    );
    // Zero-width bounds on the jaw: any jaw rotation is penalised, none is free.
    let jaw = &c.angles[2];
    let mut pose = vec![0.0; 225];
    assert_eq!(jaw.penalty(&pose), 0.0);
    pose[jaw.joints[0] as usize] = 0.1;
    assert!((jaw.penalty(&pose) - 2.0 * 0.01).abs() < 1e-12);
    let mut kinds: Vec<(&str, &str)> = c
        .unsupported
        .iter()
        .map(|u| (u.name.as_str(), u.kind.as_str()))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("Chest", "Circumference"),
            ("Eval", "JSONMarker"),
            ("Height", "Distance"),
            ("Hip", "Circumference"),
            ("HipHeight", "Distance"),
            ("OsimMarker", "OsimMarker"),
            ("ShoulderHeight", "Distance"),
            ("Waist", "Circumference"),
            ("Weight", "Volume"),
            ("Wingspan", "Distance"),
        ]
    );
}

#[test]
fn trc_fixture_reads_as_written_by_hand() {
    let t = read_trc(&fixture("trc/opensim_style.trc")).unwrap();
    assert_eq!(t.marker_labels, ["LASI", "RASI", "LKNE", "RKNE"]);
    assert_eq!((t.rate_hz, t.first_frame, t.num_frames()), (100.0, 1, 5));
    let close = |a: [f64; 3], b: [f64; 3]| (0..3).all(|k| (a[k] - b[k]).abs() < 1e-12);
    assert!(close(
        t.markers_m[0][0].unwrap(),
        [0.1324135, 0.9421022, -0.1013341]
    ));
    assert!(close(
        t.markers_m[4][3].unwrap(),
        [0.206321, 0.50644, 0.10235]
    ));
    assert_eq!(t.markers_m[1][2], None, "empty cells are a gap");
    assert_eq!(t.markers_m[3][3], None, "NaN cells are a gap");
    assert_eq!(t.gap_fraction(), [0.0, 0.0, 0.2, 0.2]);
}

/// A real trial: gaitkit's healthy example (Fukuchi 2018 landmarks, mm) as a MarkerTrial.
fn gaitkit_trial() -> MarkerTrial {
    let path = data("labelled/example_healthy.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let frames = v["angle_frames"].as_array().unwrap();
    let labels: Vec<String> = frames[0]["landmark_positions"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let markers_m = frames
        .iter()
        .map(|f| {
            labels
                .iter()
                .map(|l| {
                    let p: Vec<f64> = f["landmark_positions"][l]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_f64().unwrap())
                        .collect();
                    // gaitkit stores missing landmarks as (0, 0, 0).
                    (p.iter().any(|x| *x != 0.0)).then(|| [p[0] / 1e3, p[1] / 1e3, p[2] / 1e3])
                })
                .collect()
        })
        .collect();
    MarkerTrial {
        rate_hz: v["fps"].as_f64().unwrap(),
        first_frame: 1,
        marker_labels: labels,
        markers_m,
        ..Default::default()
    }
}

#[test]
fn trc_round_trips_a_real_trial() {
    let trial = gaitkit_trial();
    assert_eq!((trial.num_frames(), trial.rate_hz), (374, 150.0));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("healthy.trc");
    write_trc(&p, &trial).unwrap();
    let back = read_trc(&p).unwrap();
    assert_eq!(back.marker_labels, trial.marker_labels);
    assert_eq!(
        (back.rate_hz, back.first_frame, back.num_frames()),
        (150.0, 1, 374)
    );
    let mut max_err: f64 = 0.0;
    for (fa, fb) in back.markers_m.iter().zip(&trial.markers_m) {
        for (a, b) in fa.iter().zip(fb) {
            match (a, b) {
                (Some(a), Some(b)) => {
                    (0..3).for_each(|k| max_err = max_err.max((a[k] - b[k]).abs()))
                }
                _ => assert_eq!(a.is_none(), b.is_none()),
            }
        }
    }
    assert!(max_err < 1e-12, "round-trip error {max_err} m");
    assert_eq!(back.gap_fraction(), trial.gap_fraction());
}

#[test]
fn pose_fixture_round_trips_byte_for_byte() {
    let dir = fixture("pose_seq/json");
    let seq = read_pose_dir(&dir).unwrap();
    assert_eq!(seq.frame_numbers, [0, 1, 2, 10]);
    assert_eq!((seq.poses[0].len(), seq.betas[0].len()), (225, 50));
    assert_eq!(seq.format, PoseFileFormat::Json);
    // Values the generator planted (see make_pose_fixture.py).
    assert_eq!(&seq.poses[0][7..11], [1e-5, 100.0, 1e16, 1.2345e-7]);
    assert_eq!(seq.betas[3][0], 1e22);
    let out = tempfile::tempdir().unwrap();
    write_pose_dir(out.path(), &seq, PoseFileFormat::Json).unwrap();
    for n in seq.frame_numbers.iter() {
        let name = format!("pose_{n:05}.json");
        let want = std::fs::read(dir.join(&name)).unwrap();
        let got = std::fs::read(out.path().join(&name)).unwrap();
        assert!(got == want, "{name} differs from Python's json.dump output");
    }
    // The .txt files Python wrote: same values, and our writer reproduces their bytes.
    let both = fixture("pose_seq/both");
    let seq_both = read_pose_dir(&both).unwrap();
    assert_eq!(seq_both.poses, seq.poses, ".json preferred, same content");
    for (i, n) in seq.frame_numbers.iter().enumerate() {
        let p = both.join(format!("pose_{n:05}.txt"));
        let text = std::fs::read_to_string(&p).unwrap();
        let f = parse_pose_txt(&text, &p).unwrap();
        let want = PoseFrame {
            betas: seq.betas[i].clone(),
            pose: seq.poses[i].clone(),
            translation: seq.translations[i],
        };
        assert_eq!(f, want, "{}", p.display());
        assert_eq!(format_pose_txt(&f), text, "{} bytes", p.display());
        assert_eq!(
            format_pose_json(&f).as_bytes(),
            std::fs::read(both.join(format!("pose_{n:05}.json"))).unwrap()
        );
    }
}

#[test]
fn float_formatting_matches_python_repr_on_samples() {
    use gaitlens::formats::ordered_json::py_float_repr;
    let text = std::fs::read_to_string(fixture("pose_seq/py_repr_samples.txt")).unwrap();
    let mut n = 0;
    for line in text.lines() {
        let (bits, want) = line.split_once(' ').unwrap();
        let x = f64::from_bits(u64::from_str_radix(bits, 16).unwrap());
        assert_eq!(py_float_repr(x), want, "bits {bits}");
        assert_eq!(
            want.parse::<f64>().unwrap().to_bits(),
            x.to_bits(),
            "{want} round-trips"
        );
        n += 1;
    }
    assert!(n > 900, "only {n} samples");
}
