//! Helpers shared by integration tests that fit shared walks through the CLI.
// Each test crate uses some of these helpers only.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A shared C3D file; a missing one fails the test with its path.
pub fn shared_c3d(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/c3d")
        .join(name);
    assert!(p.exists(), "missing shared data file {}", p.display());
    p
}

/// A shared labelled landmark walk (gaitkit JSON); a missing one fails the test with its path.
pub fn shared_labelled(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/labelled")
        .join(name);
    assert!(p.exists(), "missing shared data file {}", p.display());
    p
}

/// Runs the built `gaitlens` binary.
pub fn gaitlens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gaitlens"))
        .args(args)
        .output()
        .expect("gaitlens runs")
}

/// Fails the test with both output streams unless `o` succeeded.
pub fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `gaitlens synth inject --poses WALK --pathology P --side SIDE --severity 1 --out OUT`, which
/// must succeed; returns `out`.
pub fn inject(walk: &Path, pathology: &str, side: &str, out: &Path) -> PathBuf {
    ok(&gaitlens(&[
        "synth",
        "inject",
        "--poses",
        walk.to_str().unwrap(),
        "--pathology",
        pathology,
        "--side",
        side,
        "--severity",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]));
    out.to_path_buf()
}

/// Fits a shared C3D trial with `gaitlens fit` into `dir/name`.
pub fn fit(dir: &Path, trial: &str, name: &str) -> PathBuf {
    fit_file(dir, &shared_c3d(trial), name)
}

/// Fits any marker trial file with `gaitlens fit` into `dir/name`.
pub fn fit_file(dir: &Path, trial: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    ok(&gaitlens(&[
        "fit",
        trial.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    out
}

/// `gaitlens explain --network assets/demo_network.json --sequence SEQ --track`: its standard
/// output, failing the test with both streams unless it succeeded.
pub fn explain_demo_track(seq: &Path) -> String {
    let card = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo_network.json");
    let o = gaitlens(&[
        "explain",
        "--network",
        card.to_str().unwrap(),
        "--sequence",
        seq.to_str().unwrap(),
        "--track",
    ]);
    ok(&o);
    String::from_utf8_lossy(&o.stdout).into_owned()
}
