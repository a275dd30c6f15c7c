#!/usr/bin/env python3
"""Mutation replay: thousands of deterministically mutated inputs through every gaitlens command
that reads files (issue 26). Counts panics, hangs, aborts and "exit 0 with nonsense" (NaN or inf
printed), and keeps every failing input for replay. Not run in CI (minutes, needs a release
binary); the numbers of the last run are in README ("Hardening").

    cargo build --release
    python3 scripts/mutation_replay.py --bin target/release/gaitlens --cases 5000 --out /tmp/mut

Seeds are the shared recordings (../shared/data), the bundled networks and demo walk, and a pose
folder fitted from a shared walk. Mutations: byte flips, truncation, inserted and duplicated
bytes, and for JSON every kind of number swap (0, -1, huge, tiny, non-finite spellings), deleted
keys, type swaps and array truncation. The same --seed gives the same cases.
"""

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
ASSETS = ROOT / "assets"

EXTREMES = [0, -1, 1, 2**64, -(2**63), 1e308, -1e308, 1e-300, 1e400, "NaN", "Infinity", None,
            "", [], {}, True, 0.5, 123456789]


def flip_bytes(rng, data):
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if b:
            i = rng.randrange(len(b))
            b[i] = rng.randrange(256)
    return bytes(b)


def truncate(rng, data):
    return data[: rng.randrange(max(1, len(data)))]


def insert_bytes(rng, data):
    i = rng.randrange(len(data) + 1)
    return data[:i] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))) + data[i:]


def duplicate_block(rng, data):
    if len(data) < 2:
        return data + data
    i = rng.randrange(len(data) - 1)
    j = rng.randrange(i + 1, min(len(data), i + 4096) + 1)
    return data[:j] + data[i:j] + data[j:]


def header_word(rng, data):
    """Overwrites a 16-bit word in the first 2 KiB (C3D header and parameter section)."""
    b = bytearray(data)
    if len(b) > 4:
        i = rng.randrange(min(len(b) - 2, 2048))
        b[i:i + 2] = rng.choice([b"\x00\x00", b"\xff\xff", b"\x7f\xff", b"\x80\x00",
                                 rng.randrange(65536).to_bytes(2, "little")])
    return bytes(b)


BINARY = [flip_bytes, truncate, insert_bytes, duplicate_block, header_word]


def json_paths(v, path=()):
    yield path
    if isinstance(v, dict):
        for k, x in v.items():
            yield from json_paths(x, path + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v[:8]):
            yield from json_paths(x, path + (i,))


def json_mutate(rng, data):
    try:
        v = json.loads(data)
    except Exception:
        return rng.choice(BINARY)(rng, data)
    paths = [p for p in json_paths(v) if p]
    if not paths:
        return rng.choice(BINARY)(rng, data)
    for _ in range(rng.randint(1, 3)):
        p = rng.choice(paths)
        parent = v
        try:
            for k in p[:-1]:
                parent = parent[k]
            key = p[-1]
            op = rng.random()
            if op < 0.55:
                parent[key] = rng.choice(EXTREMES)
            elif op < 0.7 and isinstance(parent, dict):
                del parent[key]
            elif op < 0.85 and isinstance(parent[key], list):
                parent[key] = parent[key][: rng.randrange(len(parent[key]) + 1)]
            elif isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
                parent[key] = parent[key] * rng.choice([-1, 10, 1e6, 1e-6, 0])
            else:
                parent[key] = rng.choice(EXTREMES)
        except (KeyError, IndexError, TypeError):
            pass
    text = json.dumps(v, allow_nan=True)
    # json.dumps writes 1e400 as Infinity already; also produce raw non-finite spellings.
    if rng.random() < 0.1:
        text = text.replace("1e+308", "1e999")
    return text.encode()


def mutate(rng, data, is_json):
    if is_json and rng.random() < 0.8:
        return json_mutate(rng, data)
    return rng.choice(BINARY)(rng, data)


def fitted_folder(binary, work):
    """A pose folder fitted from a shared walk (240 frames at 100 Hz: longer than the demo
    network's window), the seed of the pose-folder targets."""
    out = work / "seed_fit"
    if not (out / "fit_report.json").exists():
        subprocess.run([binary, "fit", str(DATA / "c3d" / "PiG_Motion-FlatFoot-Full.c3d"),
                        "--out", str(out), "--max-frames", "240"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


def targets(binary, work):
    """(name, seed file or folder, file inside it to mutate or None, JSON?, command builder)."""
    fit = fitted_folder(binary, work)
    demo_card = ASSETS / "demo_network.json"
    video_card = ASSETS / "demo_video_network.json"
    clip = DATA / "openpose" / "openpose_gait.zip"
    t = []
    for c3d in ["sample03_gait-pig.c3d", "PiG_Calibration3_FF.c3d", "sample32_vicon_zerowire.c3d"]:
        t.append(("inspect c3d", DATA / "c3d" / c3d, None, False, lambda f: ["inspect", f]))
    t.append(("fit c3d", DATA / "c3d" / "PiG_Calibration3_FF.c3d", None, False,
              lambda f: ["fit", f, "--out", f + ".fit", "--max-frames", "4"]))
    t.append(("inspect trc", ROOT / "tests/fixtures/trc/opensim_style.trc", None, False,
              lambda f: ["inspect", f]))
    t.append(("inspect openpose zip", clip, None, False, lambda f: ["inspect", f]))
    t.append(("video predict clip", clip, None, False,
              lambda f: ["video", "predict", "--network", str(video_card), "--clip", f]))
    t.append(("video predict card", video_card, None, True,
              lambda f: ["video", "predict", "--network", f, "--clip", str(clip)]))
    t.append(("explain card", demo_card, None, True,
              lambda f: ["explain", "--network", f, "--sequence", str(fit), "--track"]))
    t.append(("explain pose file", fit, "pose_00003.json", True,
              lambda d: ["explain", "--network", str(demo_card), "--sequence", d]))
    t.append(("explain fit_report", fit, "fit_report.json", True,
              lambda d: ["explain", "--network", str(demo_card), "--sequence", d]))
    t.append(("inspect pose folder", fit, "pose_00007.json", True, lambda d: ["inspect", d]))
    t.append(("export pose folder", fit, "fit_report.json", True,
              lambda d: ["export", "--sequence", d, "--out", d + ".glb"]))
    t.append(("inspect cohort", DATA / "formats/example_cohort.json", None, True,
              lambda f: ["inspect", f]))
    t.append(("inspect constraints", DATA / "formats/3dbodytwin_default_constraints.json", None,
              True, lambda f: ["inspect", f]))
    return t


def run_case(binary, case_dir, target, rng_seed, timeout_s):
    name, seed, inner, is_json, command = target
    rng = random.Random(rng_seed)
    case_dir.mkdir(parents=True, exist_ok=True)
    if seed.is_dir():
        dest = case_dir / "seq"
        shutil.copytree(seed, dest)
        victim = dest / inner
        arg = str(dest)
    else:
        dest = case_dir / seed.name
        shutil.copy(seed, dest)
        if seed.suffix == ".json" and (seed.with_suffix(".mpk")).exists():
            shutil.copy(seed.with_suffix(".mpk"), dest.with_suffix(".mpk"))
        victim = dest
        arg = str(dest)
    victim.write_bytes(mutate(rng, victim.read_bytes(), is_json))
    try:
        p = subprocess.run([binary] + command(arg), capture_output=True, timeout=timeout_s,
                           env={**os.environ, "RUST_BACKTRACE": "0", "RUST_LOG": "error"})
    except subprocess.TimeoutExpired:
        return name, "hang", case_dir
    err = p.stderr.decode(errors="replace")
    out = p.stdout.decode(errors="replace")
    if p.returncode == 101 or "panicked" in err:
        return name, "panic", case_dir
    if p.returncode < 0:
        return name, "abort", case_dir
    # Non-finite numbers printed outside quoted strings (a file may well be named "NaN").
    unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', out)
    if p.returncode == 0 and re.search(r"\b(NaN|inf|Infinity)\b", unquoted):
        return name, "nonsense", case_dir
    shutil.rmtree(case_dir, ignore_errors=True)
    return name, "ok" if p.returncode == 0 else "error", None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=str(ROOT / "target/release/gaitlens"))
    ap.add_argument("--cases", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=26)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--out", default=None, help="keeps failing cases here")
    a = ap.parse_args()
    work = Path(a.out or tempfile.mkdtemp(prefix="gaitlens-mut-"))
    work.mkdir(parents=True, exist_ok=True)
    ts = targets(a.bin, work)
    jobs = [(ts[i % len(ts)], a.seed * 1_000_003 + i, work / f"case_{i:05}") for i in range(a.cases)]
    tally = {}
    failures = []
    with ThreadPoolExecutor(a.jobs) as pool:
        futures = [pool.submit(run_case, a.bin, d, t, s, a.timeout) for t, s, d in jobs]
        for k, f in enumerate(futures):
            name, verdict, kept = f.result()
            tally.setdefault(name, {}).setdefault(verdict, 0)
            tally[name][verdict] += 1
            if kept:
                failures.append((name, verdict, str(kept)))
            if (k + 1) % 250 == 0:
                print(f"{k + 1}/{a.cases} cases", file=sys.stderr)
    verdicts = ["ok", "error", "panic", "hang", "abort", "nonsense"]
    print("| target | cases | " + " | ".join(verdicts) + " |")
    print("|---|---|" + "---|" * len(verdicts))
    for name, v in tally.items():
        print(f"| {name} | {sum(v.values())} | " + " | ".join(str(v.get(x, 0)) for x in verdicts) + " |")
    total = {x: sum(v.get(x, 0) for v in tally.values()) for x in verdicts}
    print(f"| all | {a.cases} | " + " | ".join(str(total[x]) for x in verdicts) + " |")
    for f in failures:
        print("FAILED", *f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
