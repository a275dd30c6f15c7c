"""Packs a fitted pose folder (gaitlens fit --out DIR) into the compact assets/demo_walk.json.

    gaitlens fit ../shared/data/c3d/PiG_Motion-FlatFoot-Full.c3d \
        --static ../shared/data/c3d/PiG_Calibration-FlatFoot-Full.c3d --out /tmp/demo_fit
    python3 scripts/make_demo_walk.py /tmp/demo_fit assets/demo_walk.json
"""
import glob
import json
import os
import sys

src, out = sys.argv[1], sys.argv[2]
files = sorted(glob.glob(os.path.join(src, "pose_*.json")))
frames = [json.load(open(f)) for f in files]
demo = {
    "source": "PiG_Motion-FlatFoot-Full.c3d (BTKData test set) fitted with `gaitlens fit` on the embedded default body",
    "rate_hz": 100.0,
    "betas": [round(b, 5) for b in frames[0]["betas"][0]],
    "poses": [[round(v, 5) for v in f["pose"][0]] for f in frames],
    "translations": [[round(v, 5) for v in f["translation"][0]] for f in frames],
}
with open(out, "w") as f:
    json.dump(demo, f, separators=(",", ":"))
print(out, len(frames), "frames", os.path.getsize(out), "bytes")
