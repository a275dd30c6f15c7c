#!/usr/bin/env python3
"""Left/right asymmetry baseline for issue 20's leave-one-walk-out (research, run by hand).

Question: is the per-walk "identity" that the MLP reads the reason an unseen real walk is
misjudged, and would a representation that ignores identity - how much the two legs differ -
hold across walks? For every fold that `scripts/lowo_real_walks.sh` left in LOWO_DIR (its
`cohort/`, built without the held-out recording, and its `inj_WALK_PATHOLOGY/` folders), this
trains a class-balanced, L2-regularised logistic regression on left/right asymmetry features of
the cohort's windows (crouch left out: it is the one bilateral transplant, which no asymmetry can
show) and classifies every window of the held-out real walk and of its transplants.

Features per 100-frame window at 50 Hz (stride 8, as the README recipe): pose axis-angle
components of hip, knee and ankle (SMPL joints 1/2, 4/5, 7/8; the x component is flexion, the
others are close to the joint's other two angles over the ranges of gait), the right side
mirrored about the sagittal plane and shifted by the half-stride that best matches the left hip
and knee flexion (15-40 frames). Per joint and component: |mean left - right| (a constant
offset), the RMS of the remaining difference (a changed shape) and |range left - range right|.
Used by default: the three measures of every sagittal (x) component, plus the shape and range of
the hip's ab/adduction (z) - the real walks' largest asymmetries lie in knee and ankle axial and
frontal components that marker fits do not pin down; --all-axes uses all 27. The subset was
chosen after looking at the shared walks, so it is not a validated recipe.

--posture adds a second detector for crouch, the one bilateral transplant: a class-balanced logistic
regression on two posture features of the same window (the knees' least flexion and the hips'
mean flexion, each averaged over both legs; x components), trained on the cohort's healthy and
crouch walks only. A window's P(sick) is then the larger of the two detectors' (the asymmetry
detector is still trained without crouch).

Why Python and a hand-written logistic regression: a numpy-only measurement to decide whether an
asymmetry input is worth building into the Rust networks; nothing in gaitlens depends on it.

    python3 scripts/asymmetry_lowo.py LOWO_DIR WALKS_DIR [--real-sources-only] [--all-axes]
        [--nested-calibration | --posture]

Prints, per held-out walk, the fraction of windows called healthy (real) or sick (transplants),
and per fold the ECE of P(sick) over the held-out walk and its transplants (seven transplants to
one real walk: a model leaning sick scores well on it).
"""

import argparse
import fnmatch
import glob
import json
import os

import numpy as np

PAIRS = [(1, 2), (4, 5), (7, 8)]  # hip, knee, ankle (SMPL order: left, right)
RATE_HZ = 50.0
WINDOW = 100
STRIDE = 8
NAMES = [f"{k}_{j}_{a}" for k in ("offset", "shape", "range") for j in ("hip", "knee", "ankle") for a in "xyz"]
SAGITTAL = ["*_x", "shape_hip_z", "range_hip_z"]
POSTURE = ["posture_knee_min_x", "posture_hip_mean_x"]


def load_poses(folder, rate_hz=None):
    """Pose axis-angles [frames, 22, 3] of a pose folder, resampled to RATE_HZ."""
    files = sorted(glob.glob(os.path.join(folder, "pose_*.json")))
    if not files:
        raise SystemExit(f"{folder}: no pose_*.json files")
    poses = np.array([json.load(open(f))["pose"][0] for f in files]).reshape(len(files), 22, 3)
    if rate_hz is None:
        for name in ("fit_report.json", "ground_truth.json"):
            path = os.path.join(folder, name)
            if os.path.exists(path):
                doc = json.load(open(path))
                rate_hz = doc.get("rate_hz") or doc.get("config", {}).get("rate_hz")
                if rate_hz:
                    break
    if not rate_hz:
        raise SystemExit(f"{folder}: no rate_hz in fit_report.json or ground_truth.json")
    t = np.arange(len(poses)) / rate_hz
    t_new = np.arange(0.0, t[-1], 1.0 / RATE_HZ)
    flat = poses.reshape(len(poses), -1)
    out = np.stack([np.interp(t_new, t, flat[:, i]) for i in range(flat.shape[1])], 1)
    return out.reshape(len(t_new), 22, 3)


def window_features(w):
    """Asymmetry features of one window [WINDOW, 22, 3] (order of NAMES)."""
    left = np.stack([w[:, l] for l, _ in PAIRS], 1)
    right = np.stack([w[:, r] for _, r in PAIRS], 1) * np.array([1.0, -1.0, -1.0])
    shift = min(range(15, 41), key=lambda s: ((left[: WINDOW - s, :2, 0] - right[s:, :2, 0]) ** 2).mean())
    d_lr = left[: WINDOW - shift] - right[shift:]
    d_rl = right[: WINDOW - shift] - left[shift:]
    offset = np.abs(d_lr.mean(0) - d_rl.mean(0)) / 2
    shape = np.sqrt(((d_lr - d_lr.mean(0)) ** 2).mean(0)) + np.sqrt(((d_rl - d_rl.mean(0)) ** 2).mean(0))
    ranges = np.abs((left.max(0) - left.min(0)) - (right.max(0) - right.min(0)))
    # Posture, both legs together (crouch): knee flexion is +x, hip flexion -x.
    knee_min = (w[:, 4, 0].min() + w[:, 5, 0].min()) / 2
    hip_mean = -(w[:, 1, 0].mean() + w[:, 2, 0].mean()) / 2
    return np.concatenate([offset.ravel(), shape.ravel(), ranges.ravel(), [knee_min, hip_mean]])


def walk_features(poses):
    starts = range(0, len(poses) - WINDOW + 1, STRIDE)
    return np.array([window_features(poses[s : s + WINDOW]) for s in starts]).reshape(-1, len(NAMES) + len(POSTURE))


def load_cohort(cohort, real_sources_only):
    """Window features, labels, source recordings and crouch flags of a cohort's walks."""
    truth = json.load(open(os.path.join(cohort, "ground_truth.json")))
    rate_hz = truth["config"]["rate_hz"]
    xs, ys, groups, crouch = [], [], [], []
    for s in truth["subjects"]:
        if real_sources_only and s["subject"].startswith("syn"):
            continue
        folder = os.path.join(cohort, "sick" if s["sick"] else "healthy", s["subject"], "walk")
        f = walk_features(load_poses(folder, rate_hz))
        xs.append(f)
        ys += [int(s["sick"])] * len(f)
        source = os.path.basename(s["source_walk"])
        groups += ["sample03" if source.startswith("sample03") else source] * len(f)
        crouch += [s["pathology"] == "crouch"] * len(f)
    return np.concatenate(xs), np.array(ys), np.array(groups), np.array(crouch)


def fit_logistic(x, y, l2=1e-2, steps=3000, lr=0.1, logits=False):
    """Class-balanced logistic regression on standardised features; returns P(sick) of rows
    (their logit with `logits`)."""
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = (x - mu) / sd
    weight = np.where(y == 1, len(y) / (2 * y.sum()), len(y) / (2 * (len(y) - y.sum())))
    w, b = np.zeros(z.shape[1]), 0.0
    for _ in range(steps):
        g = (1 / (1 + np.exp(-(z @ w + b))) - y) * weight
        w -= lr * (z.T @ g / len(y) + l2 * w)
        b -= lr * g.mean()
    if logits:
        return lambda rows: ((rows - mu) / sd) @ w + b
    return lambda rows: 1 / (1 + np.exp(-(((rows - mu) / sd) @ w + b)))


def nested_platt(x, y, groups):
    """P(sick) of a model trained on all rows, its logit rescaled (a * z + b) by a class-balanced
    logistic fit on out-of-walk logits: each real source recording of the cohort held out in turn
    from an inner model (Fourier sources always train), so the calibration sees how the model
    judges walks it has never seen - what the test walk will be."""
    zs, ys = [], []
    for g in sorted(set(groups)):
        if g.startswith("synS"):
            continue
        inner = fit_logistic(x[groups != g], y[groups != g], logits=True)
        zs.append(inner(x[groups == g]))
        ys.append(y[groups == g])
    platt = fit_logistic(np.concatenate(zs)[:, None], np.concatenate(ys), l2=0.0, logits=True)
    final = fit_logistic(x, y, logits=True)
    return lambda rows: 1 / (1 + np.exp(-platt(final(rows)[:, None])))


def ece(p_sick, labels, bins=15):
    """Expected calibration error of P(sick) against labels (15 bins, as `gaitlens train`)."""
    p_sick, labels = np.asarray(p_sick), np.asarray(labels)
    b = np.minimum((p_sick * bins).astype(int), bins - 1)
    pred = p_sick >= 0.5
    conf = np.where(pred, p_sick, 1 - p_sick)
    right = pred == (labels == 1)
    return sum(abs(right[b == k].sum() - conf[b == k].sum()) for k in range(bins)) / len(p_sick)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("lowo_dir")
    ap.add_argument("walks_dir")
    ap.add_argument("--real-sources-only", action="store_true", help="leave the Fourier sources out of training")
    ap.add_argument("--all-axes", action="store_true", help="use all three components of every joint")
    ap.add_argument("--nested-calibration", action="store_true", help="rescale the logit on out-of-walk predictions of inner leave-one-walk-out models")
    ap.add_argument("--posture", action="store_true", help="add a crouch detector on posture features; P(sick) is the larger of the two")
    args = ap.parse_args()
    if args.posture and args.nested_calibration:
        ap.error("--posture and --nested-calibration cannot be combined")
    keep = np.array([args.all_axes or any(fnmatch.fnmatch(n, p) for p in SAGITTAL) for n in NAMES] + [False] * len(POSTURE))
    posture = np.array([False] * len(NAMES) + [True] * len(POSTURE))
    real_ok = cells_ok = cells = crouch_ok = crouch_cells = 0
    folds = sorted(d for d in os.listdir(args.lowo_dir) if os.path.isdir(os.path.join(args.lowo_dir, d, "cohort")))
    for fold in folds:
        x_all, y_all, groups, crouch = load_cohort(os.path.join(args.lowo_dir, fold, "cohort"), args.real_sources_only)
        x, y, groups = x_all[~crouch], y_all[~crouch], groups[~crouch]
        if args.nested_calibration:
            asym = nested_platt(x[:, keep], y, groups)
        else:
            asym = fit_logistic(x[:, keep], y)
        p_sick = lambda rows, a=asym: a(rows[:, keep])
        if args.posture:
            pc = (y_all == 0) | crouch
            crouch_p = fit_logistic(x_all[pc][:, posture], y_all[pc])
            p_sick = lambda rows, a=asym, c=crouch_p: np.maximum(a(rows[:, keep]), c(rows[:, posture]))
        tests = [w for w in sorted(os.listdir(args.walks_dir)) if w == fold or (fold == "sample03" and w.startswith("sample03"))]
        fold_p, fold_y = [], []
        for walk in tests:
            p_real = p_sick(walk_features(load_poses(os.path.join(args.walks_dir, walk))))
            fold_p += list(p_real)
            fold_y += [0] * len(p_real)
            healthy = float((p_real < 0.5).mean())
            row = [f"{walk}: real {healthy:.2f}"]
            real_ok += healthy >= 0.9 and walk != "sample03_gait-raw"
            for inj in sorted(glob.glob(os.path.join(args.lowo_dir, fold, f"inj_{walk}_*"))):
                pathology = inj.rsplit("_", 1)[1]
                p_inj = p_sick(walk_features(load_poses(inj)))
                fold_p += list(p_inj)
                fold_y += [1] * len(p_inj)
                sick = float((p_inj >= 0.5).mean())
                row.append(f"{pathology} {sick:.2f}")
                if pathology != "crouch":
                    cells += 1
                    cells_ok += sick >= 0.9
                else:
                    crouch_cells += 1
                    crouch_ok += sick >= 0.9
            print(" | ".join(row), flush=True)
        print(f"  fold {fold}: ECE {ece(fold_p, fold_y):.3f} over the held-out walk and its transplants")
    print(f"recordings healthy on >= 90 % of windows: {real_ok} of {len(folds)}; unilateral transplant cells flagged on >= 90 %: {cells_ok} of {cells}; crouch cells: {crouch_ok} of {crouch_cells}")


if __name__ == "__main__":
    main()
