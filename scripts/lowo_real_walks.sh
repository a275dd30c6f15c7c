#!/usr/bin/env bash
# Leave-one-walk-out over the shared real walks (issue 20's acceptance): for every recording,
# build a cohort from the *other* walks (`gaitlens synth from-walks`), train a network on it, then
# classify every window of the held-out real walk (should be healthy) and of the held-out walk
# with each pathology transplanted at severity 1 (should be sick).
#
# usage: scripts/lowo_real_walks.sh WALKS_DIR OUT_DIR [extra `gaitlens train` flags]
#   WALKS_DIR holds one `gaitlens fit` output folder per trial (see README, "Leave-one-walk-out on the shared real walks"; `scripts/fit_walks.sh` fits them).
# Writes OUT/summary.tsv (fraction of windows right per walk and input, over the windows whose legs
# were measured in every frame; windows over marker gaps or interpolated frames are counted apart,
# as `gaitlens explain --track` marks them "?"), OUT/ece.tsv (per fold,
# the expected calibration error of the calibrated P(sick) over the held-out walk and its
# transplants, and `all`: pooled over every fold's windows) and OUT/outside.tsv (per held-out
# walk and input, the track windows the fold's out-of-domain guard puts outside its training
# data).
# env: GAITLENS (binary, default target/release/gaitlens), COPIES (default 8), FROM_WALKS_FLAGS (more
#   `synth from-walks` flags, e.g. "--augment-scale 2"), SYNTHETIC (extra
#   Fourier healthy walks as sources, default 0), FOLDS (space-
#   separated fold names, default all), NET (mlp|transformer|asymmetry, default mlp), EXTRA_WALKS (space-
#   separated fitted walks from elsewhere, e.g. other labs' healthy walkers, added to every fold's
#   training sources and never tested; paths without spaces).
set -euo pipefail
walks=$1; out=$2; shift 2
bin=${GAITLENS:-target/release/gaitlens}
copies=${COPIES:-8}
net=${NET:-mlp}
# One fold per recording: trials of the same recording (sample03 raw and PiG-processed) go together.
declare -A fold_of
for d in "$walks"/*/; do
  n=$(basename "$d")
  case $n in sample03*) fold_of[$n]=sample03 ;; *) fold_of[$n]=$n ;; esac
done
folds=${FOLDS:-$(printf '%s\n' "${fold_of[@]}" | sort -u | tr '\n' ' ')}
pathologies="stiff-knee reduced-hip-flexion foot-drop crouch circumduction trendelenburg equinus"
mkdir -p "$out"
summary="$out/summary.tsv"
printf 'fold\twalk\tinput\twindows\tfraction_correct\twindows_unmeasured\n' > "$summary"
printf 'fold\tece\n' > "$out/ece.tsv"
printf 'fold\twalk\tinput\twindows_outside\twindows\n' > "$out/outside.tsv"

# fraction of track windows on the right side of 0.5, over the windows whose legs were measured
# in every frame, then the number of windows left out ("?": pelvis or leg markers missing, or
# frames interpolated): $1 = track output, $2 = healthy|sick
score() {
  awk -v want="$2" '/classification track/ {on=1; next} on && $1 ~ /^[0-9]+$/ && $2 ~ /^[0-9.]+$/ {if (/\?/) {u++; next} n++; if ((want=="healthy" && $2<0.5) || (want=="sick" && $2>=0.5)) k++} END {if (n==0) printf "0\t0\t%d\n", u; else printf "%d\t%.3f\t%d\n", n, k/n, u}' <<<"$1"
}

# "outside total" from the track's summary line ("N of M windows outside …"): $1 = track output
outside() {
  awk '/windows outside/ {print $1 "\t" $3; found=1} END {if (!found) print "na\tna"}' <<<"$1"
}

# track probabilities with their label: $1 = track output, $2 = 0 (healthy) | 1 (sick)
probs() {
  awk -v y="$2" '/classification track/ {on=1; next} on && $1 ~ /^[0-9]+$/ && $2 ~ /^[0-9.]+$/ && !/\?/ {print $2, y}' <<<"$1"
}

# expected calibration error of "P(sick) label" lines (15 bins, as gaitlens' own ECE)
ece() {
  awk '{p=$1; b=int(p*15); if (b>14) b=14; s=(p>=0.5); n[b]++; c[b]+=(s==$2); f[b]+=(s ? p : 1-p); N++}
    END {for (b in n) e+=(c[b]-f[b]>0 ? c[b]-f[b] : f[b]-c[b]); if (N) printf "%.3f", e/N; else print "nan"}' "$1"
}

for fold in $folds; do
  f="$out/$fold"; mkdir -p "$f"
  read -ra train_walks <<<"${EXTRA_WALKS:-}"; test_walks=()
  for n in "${!fold_of[@]}"; do
    if [ "${fold_of[$n]}" = "$fold" ]; then test_walks+=("$walks/$n"); else train_walks+=("$walks/$n"); fi
  done
  echo "=== fold $fold: train on ${#train_walks[@]} walks, test on ${test_walks[*]} ($(date +%T))"
  rm -rf "$f/cohort" "$f/probs.txt"
  "$bin" synth from-walks --walks "${train_walks[@]}" --out "$f/cohort" --copies "$copies" --synthetic "${SYNTHETIC:-0}" ${FROM_WALKS_FLAGS:-} 2>/dev/null
  "$bin" train "$net" --data "$f/cohort" --out "$f/net" "$@" > "$f/train.log" 2>&1
  for t in "${test_walks[@]}"; do
    name=$(basename "$t")
    o=$("$bin" explain --network "$f/net.json" --sequence "$t" --track 2>&1)
    printf '%s\t%s\treal\t%s\n' "$fold" "$name" "$(score "$o" healthy)" >> "$summary"
    printf '%s\t%s\treal\t%s\n' "$fold" "$name" "$(outside "$o")" >> "$out/outside.tsv"
    probs "$o" 0 >> "$f/probs.txt"
    for p in $pathologies; do
      side=left; [ "$p" = crouch ] && side=both
      rm -rf "$f/inj_${name}_$p"
      "$bin" synth inject --poses "$t" --pathology "$p" --side "$side" --severity 1 --out "$f/inj_${name}_$p" > /dev/null
      o=$("$bin" explain --network "$f/net.json" --sequence "$f/inj_${name}_$p" --track 2>&1)
      printf '%s\t%s\t%s\t%s\n' "$fold" "$name" "$p" "$(score "$o" sick)" >> "$summary"
      printf '%s\t%s\t%s\t%s\n' "$fold" "$name" "$p" "$(outside "$o")" >> "$out/outside.tsv"
      probs "$o" 1 >> "$f/probs.txt"
    done
  done
  grep -P "^$fold\t" "$summary"
  printf '%s\t%s\n' "$fold" "$(ece "$f/probs.txt")" >> "$out/ece.tsv"
  echo "fold $fold: ECE of the calibrated P(sick) over the held-out walk and its transplants $(ece "$f/probs.txt")"
done
# Pooled over every fold's windows: one ECE for the whole leave-one-walk-out.
for fold in $folds; do cat "$out/$fold/probs.txt"; done > "$out/probs_all.txt"
printf 'all\t%s\n' "$(ece "$out/probs_all.txt")" >> "$out/ece.tsv"
echo "all folds: ECE of the calibrated P(sick) over every held-out walk and its transplants $(ece "$out/probs_all.txt")"
