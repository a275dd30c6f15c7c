"""Extracts reference values from the shared C3D files with ezc3d (an independent reader) so the
Rust reader can be checked against them: tests/fixtures/c3d_reference/<file>.json.

Run from the project root: python3 scripts/c3d_reference.py   (needs: pip install ezc3d numpy)
"""
import json
import os
import sys

import ezc3d
import numpy as np

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "c3d")
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "c3d_reference")


def param(c, group, name):
    g = c["parameters"].get(group, {})
    return g.get(name, {}).get("value") if name in g else None


def main():
    os.makedirs(OUT, exist_ok=True)
    for fname in sorted(os.listdir(DATA)):
        if not fname.endswith(".c3d"):
            continue
        c = ezc3d.c3d(os.path.join(DATA, fname))
        pts = c["data"]["points"]  # 4 x N x F, file units
        labels = list(param(c, "POINT", "LABELS"))
        for extra in ("LABELS2", "LABELS3"):
            more = param(c, "POINT", extra)
            if more is not None:
                labels += list(more)
        labels = labels[: pts.shape[1]]
        n = pts.shape[2]
        frames = sorted({0, n // 3, n // 2, n - 1})
        samples = []
        for i in range(min(len(labels), 12)):
            for f in frames:
                x = pts[:3, i, f]
                gap = bool(np.any(np.isnan(x)) or np.all(x == 0))
                samples.append({"label": labels[i].strip(), "frame": f,
                                "xyz": None if gap else [float(v) for v in x]})
        # One gap sample if the file has any.
        nan = np.isnan(pts[0]) | (np.abs(pts[:3]).sum(0) == 0)
        gap = None
        if nan.any():
            i, f = map(int, np.argwhere(nan)[0])
            gap = {"label": labels[i].strip(), "frame": f}
        ev = {}
        if "EVENT" in c["parameters"] and "TIMES" in c["parameters"]["EVENT"]:
            raw = np.array(param(c, "EVENT", "TIMES"), dtype=float)
            used = int(param(c, "EVENT", "USED")[0])
            # ezc3d gives (2, N) [minutes; seconds] or, for some files, the flat pairs.
            t = raw if raw.ndim == 2 else raw.reshape(-1, 2).T
            ev = {"labels": [s.strip() for s in param(c, "EVENT", "LABELS")[:used]],
                  "contexts": [s.strip() for s in param(c, "EVENT", "CONTEXTS")[:used]],
                  "times_s": [float(t[0, e] * 60 + t[1, e]) for e in range(used)]}
        proc = {}
        for k in ("Bodymass", "Height", "LLegLength", "RKneeWidth", "InterAsisDistance"):
            v = param(c, "PROCESSING", k)
            if v is not None and len(v):
                proc[k] = float(v[0])
        ref = {"file": fname,
               "units": param(c, "POINT", "UNITS")[0].strip(),
               "rate_hz": float(c["header"]["points"]["frame_rate"]),
               "frames": int(n),
               "points": int(pts.shape[1]),
               "first_frame": int(c["header"]["points"]["first_frame"]) + 1,
               "labels": [l.strip() for l in labels],
               "angles": [s.strip() for s in (param(c, "POINT", "ANGLES") or [])],
               "samples": samples, "gap": gap, "events": ev, "processing": proc}
        with open(os.path.join(OUT, fname.replace(".c3d", ".json")), "w") as f:
            json.dump(ref, f, indent=1)
        print(fname, n, "frames", len(labels), "points")


if __name__ == "__main__":
    sys.exit(main())
