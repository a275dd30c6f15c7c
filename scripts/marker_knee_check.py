#!/usr/bin/env python3
"""Sagittal knee flexion straight from a Plug-in Gait trial's markers, with no body model.

Question it answers: when a fitted walk's knees never straighten (the posture detector of the
asymmetry network reads the knees' least flexion), is that in the fit or in the markers? The
thigh runs from the hip joint centre (Bell et al. 1990 regression from the ASIS width:
0.19 W back, 0.30 W down, 0.36 W lateral of the ASIS midpoint) to the KNE marker, the shank from
KNE to ANK, both projected onto the pelvis's sagittal plane. KNE and ANK sit on the lateral
epicondyle and malleolus, not at the joint centres, so the angle is crude in absolute terms; it
is for comparing walks measured the same way, not for reporting a knee angle.

Prints per side the 2nd and 98th percentile of the angle over the frames where every marker it
needs is valid (ezc3d residual >= 0).

    python3 scripts/marker_knee_check.py TRIAL.c3d [TRIAL.c3d ...]

Why Python: a research check on the raw markers, independent of gaitlens' own reader and fitter
(that is its point); nothing in gaitlens depends on it. Needs numpy and ezc3d.
"""

import sys

import ezc3d
import numpy as np


def unit(v):
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def knee_flexion_deg(path):
    c = ezc3d.c3d(path)
    labels = [l.strip().split(":")[-1] for l in c["parameters"]["POINT"]["LABELS"]["value"]]
    points = c["data"]["points"][:3].transpose(2, 1, 0)  # frames, markers, xyz
    valid = c["data"]["meta_points"]["residuals"][0].T >= 0  # frames, markers

    def marker(name):
        if name not in labels:
            raise KeyError(f"{path}: no {name} marker (needs Plug-in Gait lower-body labels)")
        i = labels.index(name)
        return points[:, i], valid[:, i]

    (lasi, v1), (rasi, v2) = marker("LASI"), marker("RASI")
    try:
        (lpsi, v3), (rpsi, v4) = marker("LPSI"), marker("RPSI")
        sacr, vs = (lpsi + rpsi) / 2, v3 & v4
    except KeyError:
        sacr, vs = marker("SACR")
    ok_pelvis = v1 & v2 & vs
    width = np.linalg.norm(lasi - rasi, axis=1, keepdims=True)
    lateral = unit(lasi - rasi)  # towards the left
    forward = (lasi + rasi) / 2 - sacr
    forward = unit(forward - (forward * lateral).sum(1, keepdims=True) * lateral)
    up = np.cross(forward, lateral)
    mid = (lasi + rasi) / 2
    out = {}
    for side, sign in (("L", 1.0), ("R", -1.0)):
        (kne, vk), (ank, va) = marker(side + "KNE"), marker(side + "ANK")
        hjc = mid - 0.19 * width * forward - 0.30 * width * up + sign * 0.36 * width * lateral
        thigh, shank = kne - hjc, ank - kne
        thigh = thigh - (thigh * lateral).sum(1, keepdims=True) * lateral
        shank = shank - (shank * lateral).sum(1, keepdims=True) * lateral
        cos = (unit(thigh) * unit(shank)).sum(1)
        ok = ok_pelvis & vk & va & np.isfinite(cos)
        if ok.sum() < 10:
            raise ValueError(f"{path}: fewer than 10 frames with valid {side} leg markers")
        angle = np.degrees(np.arccos(np.clip(cos[ok], -1.0, 1.0)))
        out[side] = (np.percentile(angle, 2), np.percentile(angle, 98), int(ok.sum()))
    return out


def main(paths):
    for p in paths:
        try:
            k = knee_flexion_deg(p)
        except (KeyError, ValueError) as e:
            print(f"{p}: {e}")
            continue
        name = p.rsplit("/", 1)[-1]
        print(f"{name[:36]:36s}", "  ".join(
            f"{s}: least {lo:5.1f}°, most {hi:5.1f}° ({n} frames)" for s, (lo, hi, n) in k.items()))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
