#!/usr/bin/env bash
# Fits every real walk that issue 20's measurements read, so that README's tables can be rebuilt
# from nothing: the seven shared C3D walks (OUT/walks, the test walks of the leave-one-walk-out and
# the demo network's training walks) and, where their checkouts are given, the fourteen extra
# healthy walkers (OUT/extra: training and validation walks, never tested).
#
# usage: scripts/fit_walks.sh SHARED_DATA OUT [ZOO_CHECKOUT [GAITALYTICS_CHECKOUT]]
#   SHARED_DATA          ../shared/data (c3d/ and labelled/ are read)
#   ZOO_CHECKOUT         a checkout of PhilD001/biomechZoo at commit 38e00d95 (Apache-2.0): the
#                        twelve healthy controls of `sample-study/Data/raw c3d files/HC*/`, each
#                        fitted with its static trial
#   GAITALYTICS_CHECKOUT a checkout of DART-Lab-LLUI/python-gaitalytics at commit 4d6823a8 (MIT):
#                        `tests/full/data/test_small.c3d`
# The gaitkit healthy walker (Fukuchi 2018, SHARED_DATA/labelled/example_healthy.json) joins OUT/extra
# whenever ZOO_CHECKOUT is given. A walk already fitted (OUT/.../NAME/fit_report.json present) is kept.
# env: GAITLENS (binary, default target/release/gaitlens), FIT_FLAGS (more `gaitlens fit` flags for
#   every walk, e.g. "--pelvis-markers rigid"), MORE_WALKERS (a folder of further walks, each
#   NAME.c3d or NAME.trc, fitted into OUT/extra/NAME with NAME_static.c3d|trc as its static trial
#   when present: README's "The extra walkers" lists the five adults of other labs and where each
#   file comes from).
set -euo pipefail
data=$1; out=$2; zoo=${3:-}; gaitalytics=${4:-}
bin=${GAITLENS:-target/release/gaitlens}
read -ra flags <<<"${FIT_FLAGS:-}"
c3d="$data/c3d"

# fit NAME_DIR INPUT [STATIC]: one `gaitlens fit`, skipped when its folder is complete
fit() {
  local dir=$1 input=$2 static=${3:-}
  if [ -f "$dir/fit_report.json" ]; then echo "kept   $dir"; return; fi
  [ -f "$input" ] || { echo "missing input: $input" >&2; exit 1; }
  local args=("$input" --out "$dir")
  [ -n "$static" ] && args+=(--static "$static")
  echo "fit    $dir"
  "$bin" fit "${args[@]}" "${flags[@]}" > "$dir.log" 2>&1 || { echo "fit failed: see $dir.log" >&2; exit 1; }
}

mkdir -p "$out/walks"
for t in sample03_gait-pig sample03_gait-raw sample23_Vicon_analysis sample32_vicon_zerowire treadmill_events; do
  fit "$out/walks/$t" "$c3d/$t.c3d"
done
fit "$out/walks/flatfoot" "$c3d/PiG_Motion-FlatFoot-Full.c3d" "$c3d/PiG_Calibration-FlatFoot-Full.c3d"
fit "$out/walks/motion3ff" "$c3d/PiG_Motion3_FF.c3d" "$c3d/PiG_Calibration3_FF.c3d"

[ -n "$zoo" ] || exit 0
mkdir -p "$out/extra"
fit "$out/extra/gk_healthy" "$data/labelled/example_healthy.json"
for subject in "$zoo/sample-study/Data/raw c3d files"/HC*/; do
  id=$(basename "$subject")
  walk=$(find "$subject/Straight" -name '*.c3d' | sort | head -n 1)
  static=$(find "$subject/Static" -name '*.c3d' | sort | head -n 1)
  fit "$out/extra/zoo_$id" "$walk" "$static"
done
if [ -n "$gaitalytics" ]; then
  fit "$out/extra/gaitalytics_small" "$gaitalytics/tests/full/data/test_small.c3d"
fi
if [ -n "${MORE_WALKERS:-}" ]; then
  for walk in "$MORE_WALKERS"/*.c3d "$MORE_WALKERS"/*.trc; do
    [ -f "$walk" ] || continue
    name=$(basename "${walk%.*}")
    case $name in *_static) continue ;; esac
    static=$(find "$MORE_WALKERS" -maxdepth 1 -name "${name}_static.*" | head -n 1)
    fit "$out/extra/$name" "$walk" "$static"
  done
fi
