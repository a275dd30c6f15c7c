#!/usr/bin/env bash
# A network against the walks it ships with (issue 20's demo-network acceptance): for every pose
# folder in WALKS_DIR, the fraction of track windows called healthy (P(sick) < 0.5), how many
# windows lie outside the network's training data, and the first window's raw logit; then every
# transplanted pathology (left side, crouch on both, severity 1; `gaitlens synth inject`) and the
# fraction of windows called sick; a last line totals walks healthy and cells flagged on >= 90 % of
# windows and the real walks' windows outside the training data.
# Windows over frames whose pelvis or leg markers were missing or interpolated (`explain --track`
# marks them "?") are scored apart, as in scripts/lowo_real_walks.sh: the fractions are over the
# windows measured throughout, "?N" counts the others, and the last line also gives the walks
# healthy and the windows outside when every window is scored.
#
# usage: scripts/demo_network_check.sh NETWORK.json WALKS_DIR OUT_DIR
# env: GAITLENS (binary, default target/release/gaitlens)
set -euo pipefail
net=$1; walks=$2; out=$3
bin=${GAITLENS:-target/release/gaitlens}
pathologies="stiff-knee reduced-hip-flexion foot-drop crouch circumduction trendelenburg equinus"
mkdir -p "$out"
# fraction of measured track windows on the wanted side of 0.5, those windows, how many of them lie
# outside the training data, the windows left out ("?"), then the fraction and the windows outside
# over every window
frac() {
  awk -v want="$1" '/classification track/ {on=1; next}
    on && $1 ~ /^[0-9]+$/ && $2 ~ /^[0-9.]+$/ {
      right = (want=="healthy" && $2<0.5) || (want=="sick" && $2>=0.5)
      all++; ka += right; if ($3=="*") oa++
      if (/\?/) {u++; next}
      n++; k += right; if ($3=="*") o++}
    END {if (n==0) print "no-windows"; else printf "%.2f(%d,ood%d,?%d) %.2f %d\n", k/n, n, o, u, ka/all, oa}'
}
printf '%-24s %-22s' walk healthy
for p in $pathologies; do printf ' %-8s' "${p:0:8}"; done
echo
# totals for the closing line: walks healthy on >= 90 % of windows, cells flagged on >= 90 %,
# windows outside the training data (measured windows, then every window)
walks_ok=0; walks_n=0; cells_ok=0; cells_n=0; ood=0; walks_ok_all=0; ood_all=0
at_least() { awk -v x="$1" -v t="$2" 'BEGIN {exit !(x + 0 >= t)}'; }
for w in "$walks"/*/; do
  n=$(basename "$w")
  read -r r r_all o_all < <("$bin" explain --network "$net" --sequence "$w" --track 2>&1 | frac healthy)
  logit=$("$bin" explain --network "$net" --sequence "$w" 2>&1 | grep -o 'logit [-0-9.]*' || true)
  printf '%-24s %-22s' "${n:0:24}" "$r"
  walks_n=$((walks_n + 1))
  at_least "${r%%(*}" 0.9 && walks_ok=$((walks_ok + 1))
  at_least "${r_all:-0}" 0.9 && walks_ok_all=$((walks_ok_all + 1))
  case $r in *ood*) o=${r##*ood}; o=${o%%,*}; ood=$((ood + o)) ;; esac
  ood_all=$((ood_all + ${o_all:-0}))
  for p in $pathologies; do
    side=left; [ "$p" = crouch ] && side=both
    rm -rf "${out:?}/$n-$p"
    "$bin" synth inject --poses "$w" --pathology "$p" --side "$side" --severity 1 --out "$out/$n-$p" > /dev/null
    s=$("$bin" explain --network "$net" --sequence "$out/$n-$p" --track 2>&1 | frac sick)
    printf ' %-8s' "${s%%(*}"
    cells_n=$((cells_n + 1))
    at_least "${s%%(*}" 0.9 && cells_ok=$((cells_ok + 1))
  done
  echo "  $logit"
done
echo "walks healthy on >= 90 % of measured windows: $walks_ok / $walks_n (every window: $walks_ok_all / $walks_n); cells flagged on >= 90 % of measured windows: $cells_ok / $cells_n; real-walk windows outside the training data: $ood measured ($ood_all of every window)"
