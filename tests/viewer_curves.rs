//! The viewer's Curves panel shows the same gait analysis as `gaitlens report`: the demo walk (the
//! shared PiG_Motion-FlatFoot-Full.c3d trial fitted by gaitlens), turned y-up for display and
//! converted back to axis-angle poses by the panel, gives the report's cycles, curves and GPS.

#![cfg(feature = "viewer")]

use gaitlens::body::default_model::{default_body, default_markers};
use gaitlens::fit::PelvisMarkers;
use gaitlens::formats::pose_seq::{PoseFileFormat, PoseSequence};
use gaitlens::gait::cycles::Side;
use gaitlens::gait::kinematics::Variable;
use gaitlens::gait::normative::NormativeTable;
use gaitlens::gait::report::{EventSource, GaitReport, ReportInput, gait_report};
use gaitlens::viewer::curves::analyse;
use gaitlens::viewer::demo::{demo_sequence, demo_walk};

#[test]
fn the_curves_panel_analyses_the_demo_walk_as_the_report_does() {
    let model = default_body();
    let table = NormativeTable::schwartz2008();
    let mut shown = demo_sequence(model).expect("demo walk");
    shown.make_y_up(model);
    let panel = analyse(&shown, model, &table).expect("the panel's analysis");

    let walk = demo_walk().unwrap();
    let n = walk.poses.len();
    let poses = PoseSequence {
        betas: vec![walk.betas.clone(); n],
        poses: walk.poses.clone(),
        translations: walk.translations.clone(),
        rate_hz: Some(walk.rate_hz),
        frame_numbers: (0..n as u64).collect(),
        source: None,
        format: PoseFileFormat::Json,
    };
    let report = gait_report(&ReportInput {
        model,
        markers: Some(default_markers()),
        poses: &poses,
        rate_hz: walk.rate_hz,
        trial: None,
        normative: &table,
        speed: None,
        events: EventSource::Auto,
    })
    .unwrap();

    for side in Side::BOTH {
        let (a, b) = (
            panel.cycles.side(side).count(),
            report.cycles.side(side).count(),
        );
        assert!(a >= 1, "{side:?}: no cycle in the panel");
        assert_eq!(a, b, "{side:?}: cycles differ");
        for v in Variable::GPS {
            let (p, r) = (
                panel.curve(side, v).unwrap(),
                report.curve(side, v).unwrap(),
            );
            let worst = p
                .mean_deg
                .iter()
                .zip(&r.mean_deg)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            assert!(worst < 0.5, "{side:?} {v:?}: curves differ by {worst:.2}°");
        }
    }
    let knee = panel.curve(Side::Left, Variable::KneeFlexion).unwrap();
    let peak = knee.mean_deg.iter().copied().fold(f64::MIN, f64::max);
    // A walk's swing peak is ~50–70°; the demo walk's subject (1.5 m, slow) fitted with the joint
    // shape–pose calibration reads ~7° below Vicon's PiG knee (README, "Clinical gait report").
    assert!(
        (40.0..80.0).contains(&peak),
        "swing knee flexion peak {peak:.1}° is not a walk's"
    );
    let (gp, gr) = (
        panel.profile.gps_overall_deg.unwrap(),
        report.profile.gps_overall_deg.unwrap(),
    );
    assert!((gp - gr).abs() < 0.2, "GPS {gp:.2} vs {gr:.2}");

    // The panel's caveat under a frontal or transverse curve follows how the walk was fitted.
    assert_eq!(panel.pelvis_markers, shown.pelvis_markers);
    shown.pelvis_markers = Some(PelvisMarkers::Rigid);
    let rigid = analyse(&shown, model, &table).expect("the panel's analysis");
    assert_eq!(rigid.pelvis_markers, Some(PelvisMarkers::Rigid));
    let caveat = |r: &GaitReport| Variable::HipAdduction.caveat(r.pelvis_markers).unwrap();
    assert!(caveat(&panel).contains("--pelvis-markers rigid"));
    assert!(!caveat(&rigid).contains("--pelvis-markers rigid"));
}
