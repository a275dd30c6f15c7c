#!/bin/bash
# Issue 21 measurements (README "Explanations against fair controls"): explanations of the
# demo-network MLP recipe scored against controls on leave-one-walk-out folds of a cohort built
# by `gaitlens synth from-walks --walks walks --synthetic 10 --copies 10 --out COHORT`
# (17 source walks, so --folds 17 holds out one walk per fold).
# Usage: scripts/explain_controls.sh GAITLENS_BIN COHORT OUT_DIR
set -euo pipefail
G=$1
C=$2
mkdir -p "$3"
cd "$3"
R="--alignment heading --pelvis-relative --standardize per-axis --interval 100 --stride 8
   --batch-size 32 --epochs 8 --lr 1e-3 --optimizer adam --lr-schedule warmup-cosine
   --use-pos-ratio --calibration-fraction 0 --folds 17"
# Nested validation: test walk sample32 (fold 5) left out; inner fold 5 (treadmill) validates.
"$G" train mlp --data "$C" --out val_f5i5 $R --fold 5 --inner-fold 5 > val_f5i5.train.log 2>&1
"$G" evaluate --network val_f5i5.json --data "$C" --stride 8 --out val_f5i5.eval.json \
  > val_f5i5.eval.log 2>&1
# Test folds, each touched once: sample32 (5), sample23 (4), FlatFoot (0).
for f in 5 4 0; do
  "$G" train mlp --data "$C" --out mlp_f$f $R --fold $f > mlp_f$f.train.log 2>&1
  "$G" train mlp --data "$C" --out shuf_f$f $R --fold $f --shuffle-labels > shuf_f$f.train.log 2>&1
  "$G" evaluate --network mlp_f$f.json --data "$C" --stride 8 --shuffled-network shuf_f$f.json \
    --out mlp_f$f.eval.json > mlp_f$f.eval.log 2>&1
done
# The recommended transformer on fold 5 (about 30 min of CPU).
"$G" train transformer --data "$C" --out tr_f5 --folds 17 --fold 5 --alignment heading \
  --calibration-fraction 0 --epochs 6 > tr_f5.train.log 2>&1
"$G" evaluate --network tr_f5.json --data "$C" --stride 16 --out tr_f5.eval.json > tr_f5.eval.log 2>&1
