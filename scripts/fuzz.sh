#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ the way `cargo fuzz build` does (SanitizerCoverage,
# `--cfg fuzzing`, debug assertions and overflow checks; no AddressSanitizer: the code under test
# is safe Rust), seeds a corpus per target from the shared real files and the bundled assets,
# and runs every target for SECONDS (default 600) one after the other. cargo-fuzz itself is not
# needed (it only wraps these flags); a nightly toolchain is. A crash, a leak, an out-of-memory
# or a single input over 10 s stops that target and leaves the input in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      e.g. scripts/fuzz.sh 600 model_card sidecars
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(c3d openpose pose_seq model_card video_card sidecars)
data=../../shared/data
triple=x86_64-unknown-linux-gnu
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$HOME/.cache/gaitlens-fuzz-target}
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
[ -f Cargo.lock ] || cp ../Cargo.lock .
cargo +nightly build --release --offline --bins --target "$triple"

seed() { # seed TARGET FILE... : copies seed files into the target's corpus
    local t=$1; shift
    mkdir -p "corpus/$t"
    for f in "$@"; do
        [ -f "$f" ] || { echo "seed file missing: $f" >&2; exit 1; }
        cp "$f" "corpus/$t/"
    done
}
prefixed() { # prefixed TARGET BYTE FILE : a sidecars seed (first byte picks the parser)
    mkdir -p "corpus/$1"
    { printf "\\x$(printf %02x "$2")"; cat "$3"; } > "corpus/$1/seed_$2_$(basename "$3")"
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
seed c3d "$data/c3d/PiG_Calibration3_FF.c3d" "$data/c3d/sample03_gait-raw.c3d"
(cd "$tmp" && unzip -q -o "$OLDPWD/$data/openpose/openpose_gait.zip" 'gait1/gait1_00000000000[0-4]_keypoints.json')
seed openpose "$tmp"/gait1/*.json
(cd "$tmp" && zip -q small.zip gait1/gait1_00000000000[0-2]_keypoints.json)
seed openpose "$tmp/small.zip"
seed pose_seq ../tests/fixtures/pose_seq/json/* ../tests/fixtures/pose_seq/both/*
seed model_card ../assets/demo_network.json
# A small card too (no normative gait, domain statistics or standardisation), so that
# mutations reach the accepting path quickly.
python3 - ../assets/demo_network.json "$tmp/small_card.json" <<'PY'
import json, sys
card = json.load(open(sys.argv[1]))
for k in ("normative_gait", "domain", "card_fnv1a64"):
    card.pop(k, None)
card["network"].pop("input_standardization", None)
card["training"]["network"].pop("input_standardization", None)
json.dump(card, open(sys.argv[2], "w"))
PY
seed model_card "$tmp/small_card.json"
seed video_card ../assets/demo_video_network.json
printf '{"rate_hz": 100.0, "totals": {"frames": 100, "interpolated": 0}}' > "$tmp/fit_report.json"
cat > "$tmp/ground_truth.json" <<'JSON'
{"semi_synthetic": true, "subjects": [
 {"subject": "S000", "sick": false, "pathology": null, "side": null, "joints": [], "limb": [],
  "severity": 0.8, "speed_m_s": 1.3, "cadence_steps_min": 112.0, "betas": [0.1, -0.2]},
 {"subject": "S001", "sick": true, "pathology": "stiff_knee", "side": "left", "joints": [4],
  "limb": [1, 4, 7, 10], "severity": 0.9, "speed_m_s": 1.2, "cadence_steps_min": 110.0,
  "betas": [0.1, -0.2], "compensation": [0, 3]}]}
JSON
head -40 ../assets/normative/schwartz2008_kinematics.csv > "$tmp/normative.csv"
prefixed sidecars 0 "$tmp/fit_report.json"
prefixed sidecars 1 "$tmp/ground_truth.json"
prefixed sidecars 2 "$data/formats/example_cohort.json"
prefixed sidecars 3 "$data/formats/3dbodytwin_default_constraints.json"
prefixed sidecars 4 "$tmp/normative.csv"

for t in "${targets[@]}"; do
    mkdir -p "artifacts/$t"
    echo "== $t: ${seconds} s"
    "$CARGO_TARGET_DIR/$triple/release/$t" "corpus/$t" -max_total_time="$seconds" \
        -timeout=10 -rss_limit_mb=2048 -artifact_prefix="artifacts/$t/" -print_final_stats=1 \
        2>&1 | grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb|==|SUMMARY|.*ERROR|.*panicked)" || true
    ls "artifacts/$t"
done
