#!/usr/bin/env bash
# Largest raw logit (in size) of each leave-one-walk-out network on its held-out real walk: issue
# 20's "no |logit| above 20 on any real walk". Reads the folders `scripts/lowo_real_walks.sh` wrote.
#
# usage: scripts/lowo_max_logit.sh WALKS_DIR LOWO_OUT_DIR
# Prints per held-out walk: the fold's temperature, the largest |raw logit| over every window, and
# over the windows measured throughout (the track's "?" marks the others). The track prints the
# calibrated P(sick) to three decimals, so raw logit = T · logit(P); a window printed as 0.000 or
# 1.000 is explained on its own (`explain --start`), which prints its raw logit exactly.
# env: GAITLENS (binary, default target/release/gaitlens).
set -euo pipefail
walks=$1; out=$2
bin=${GAITLENS:-target/release/gaitlens}
printf 'fold\twalk\tT\tmax_abs_logit_all\tmax_abs_logit_measured\n'
awk -F'\t' '$3 == "real" {print $1 "\t" $2}' "$out/summary.tsv" | while IFS=$'\t' read -r fold walk; do
  track=$("$bin" explain --network "$out/$fold/net.json" --sequence "$walks/$walk" --track 2>&1)
  t=$(grep -o 'T = [0-9.]*' <<<"$track" | head -1 | cut -d' ' -f3)
  t=${t:-1}
  all=0; measured=0
  while read -r start p unmeasured; do
    if [ "$p" = 1.000 ] || [ "$p" = 0.000 ]; then
      l=$("$bin" explain --network "$out/$fold/net.json" --sequence "$walks/$walk" --start "$start" 2>&1 |
        grep -o '(logit [-0-9.]*)' | head -1 | tr -d '()' | cut -d' ' -f2)
    else
      l=$(awk -v p="$p" -v t="$t" 'BEGIN {printf "%.3f", t * log(p / (1 - p))}')
    fi
    all=$(awk -v a="$all" -v b="$l" 'BEGIN {b = b < 0 ? -b : b; print (b > a ? b : a)}')
    if [ "$unmeasured" = 0 ]; then
      measured=$(awk -v a="$measured" -v b="$l" 'BEGIN {b = b < 0 ? -b : b; print (b > a ? b : a)}')
    fi
  done < <(awk '/classification track/ {on=1; next} on && $1 ~ /^[0-9]+$/ && $2 ~ /^[0-9.]+$/ {print $1, $2, (/\?/ ? 1 : 0)}' <<<"$track")
  printf '%s\t%s\t%s\t%.2f\t%.2f\n' "$fold" "$walk" "$t" "$all" "$measured"
done
