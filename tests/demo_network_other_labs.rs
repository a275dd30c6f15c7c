//! The bundled demo network (trained on the seven shared C3D walks with transplanted
//! pathologies, see assets/PROVENANCE.md) on real walks from three other labs that it never saw:
//! gaitkit's labelled healthy (Fukuchi 2018), stroke (Van Criekinge 2023) and Parkinson walks,
//! landmark trials fitted with `gaitlens fit`. Real patients, not transplants: the one check in
//! this repository of what the network does with real pathological gait.

mod common;

use common::{explain_demo_track, fit_file, shared_labelled};

/// Share of the demo network's track windows called sick and share outside its training data.
fn sick_and_outside(seq: &std::path::Path) -> (f64, f64) {
    let out = explain_demo_track(seq);
    // Track rows: window start frame, calibrated P(sick), then `*` when outside the domain.
    let rows: Vec<(f64, bool)> = out
        .lines()
        .skip_while(|l| !l.contains("classification track"))
        .skip(1)
        .filter_map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            let _: u64 = t.first()?.parse().ok()?;
            let p: f64 = t.get(1)?.parse().ok()?;
            Some((p, t.get(2) == Some(&"*")))
        })
        .collect();
    assert!(!rows.is_empty(), "no track rows in:\n{out}");
    let n = rows.len() as f64;
    (
        rows.iter().filter(|(p, _)| *p >= 0.5).count() as f64 / n,
        rows.iter().filter(|(_, o)| *o).count() as f64 / n,
    )
}

#[test]
fn a_real_stroke_survivor_is_called_sick_and_a_healthy_walker_healthy() {
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    // Expected verdict per walk; `None`: no verdict asserted. The Parkinson walk is not asserted
    // sick: this network calls it sick on every window, but the network before it on 21–22 of 43
    // and other training seeds of that recipe on 1 and 42 (assets/PROVENANCE.md) — none of the
    // transplants is parkinsonian gait, so the recipe does not place it firmly on either side.
    // It must still be inside the training data. (The healthy walker's verdict varies with the
    // seed too, 22–26 of 27 healthy; this network calls it healthy on every window.)
    for (file, sick) in [
        ("example_stroke.json", Some(true)),
        ("example_parkinson.json", None),
        ("example_healthy.json", Some(false)),
    ] {
        let seq = fit_file(tmp.path(), &shared_labelled(file), file);
        let (sick_share, outside) = sick_and_outside(&seq);
        eprintln!(
            "{file}: sick on {sick_share:.2} of windows, {outside:.2} outside the training data"
        );
        if let Some(sick) = sick {
            let right = if sick { sick_share } else { 1.0 - sick_share };
            if right < 0.9 {
                failures.push(format!(
                    "{file}: right on only {right:.2} of windows (sick share {sick_share:.2})"
                ));
            }
        }
        // Every verdict must be trustworthy: inside the training data. A new healthy walker
        // too — the guard before 2026-12-06 put 26 of its 27 windows outside, because it read
        // who walks (body size, marker placement) rather than how (README, "Out-of-domain
        // guard: why leg angles").
        if outside > 0.1 {
            failures.push(format!(
                "{file}: {outside:.2} of windows outside the training data"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
