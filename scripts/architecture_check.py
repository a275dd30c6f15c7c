#!/usr/bin/env python3
"""Architecture checks of the redesign (issue 24), run by hand: import circles between files and
between top-level folders of src/ (from every `use crate::…` / `super::…` path outside test
modules), and functions longer than a limit (brace matching, non-test code).

    python3 scripts/architecture_check.py [--max-lines 120]

Exits 1 when a circle or an over-long function is found. A reader of text, not a compiler: it
resolves paths to the longest module prefix that exists as a file.
"""

import argparse
import collections
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def modules():
    mods = {}
    for dp, _, fn in os.walk(ROOT):
        for f in fn:
            if not f.endswith(".rs"):
                continue
            p = os.path.join(dp, f)
            rel = os.path.relpath(p, ROOT)[:-3].split("/")
            if rel[-1] in ("mod", "lib", "main"):
                rel = rel[:-1]
            mods[tuple(rel)] = p
    return mods


def import_edges(mods):
    def resolve(parts):
        for k in range(len(parts), -1, -1):
            if tuple(parts[:k]) in mods:
                return tuple(parts[:k])
        return None

    edges = collections.defaultdict(set)
    for m, p in mods.items():
        src = open(p).read()
        idx = src.find("#[cfg(test)]")
        if idx >= 0:
            src = src[:idx]
        src = re.sub(r"//[^\n]*", "", src)
        found = []
        for mm in re.finditer(r"\bcrate::([a-zA-Z_0-9:]+)(::\{([^;]*?)\})?", src):
            base = mm.group(1).strip(":").split("::")
            found.append(base)
            if mm.group(3):
                for item in mm.group(3).split(","):
                    item = re.sub(r"[{}]", "", item.strip().split(" as ")[0].strip())
                    if item and item != "self":
                        found.append(base + item.split("::"))
        for mm in re.finditer(r"\bsuper::([a-zA-Z_0-9:]+)", src):
            found.append(list(m[:-1]) + mm.group(1).strip(":").split("::"))
        for t in found:
            r = resolve(t)
            if r and r != m and m[: len(r)] != r:
                edges[m].add(r)
    return edges


def cycles(nodes, edges):
    sys.setrecursionlimit(10000)
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(n):
        index[n] = low[n] = counter[0]
        counter[0] += 1
        stack.append(n)
        on.add(n)
        for w in edges.get(n, ()):
            if w not in index:
                visit(w)
                low[n] = min(low[n], low[w])
            elif w in on:
                low[n] = min(low[n], index[w])
        if low[n] == index[n]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == n:
                    break
            if len(comp) > 1:
                out.append(comp)

    for n in nodes:
        if n not in index:
            visit(n)
    return out


def long_functions(limit):
    out = []
    for dp, _, fn in os.walk(ROOT):
        for f in fn:
            if not f.endswith(".rs"):
                continue
            p = os.path.join(dp, f)
            lines = open(p).read().split("\n")
            tests_at = next((i for i, l in enumerate(lines) if l.strip() == "#[cfg(test)]"), len(lines))
            for i, line in enumerate(lines[:tests_at]):
                m = re.match(r"\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)", line)
                if not m:
                    continue
                depth, started, j = 0, False, i
                while j < len(lines):
                    s = re.sub(r'"(\\.|[^"\\])*"', '""', lines[j])
                    s = re.sub(r"'(\\.|[^'\\])'", "''", s).split("//")[0]
                    for ch in s:
                        if ch == "{":
                            depth += 1
                            started = True
                        elif ch == "}":
                            depth -= 1
                    if started and depth <= 0:
                        break
                    if not started and s.rstrip().endswith(";"):
                        break
                    j += 1
                if j - i + 1 > limit:
                    out.append((j - i + 1, os.path.relpath(p, ROOT), i + 1, m.group(6)))
    return sorted(out, reverse=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-lines", type=int, default=120)
    a = ap.parse_args()
    mods = modules()
    edges = import_edges(mods)
    file_cycles = cycles(list(mods), edges)
    folder_edges = collections.defaultdict(set)
    for x, ys in edges.items():
        for y in ys:
            if x and y and x[:1] != y[:1]:
                folder_edges[x[:1]].add(y[:1])
    folder_cycles = cycles(list({m[:1] for m in mods if m}), folder_edges)
    long = long_functions(a.max_lines)
    for c in file_cycles:
        print("file circle:", " ↔ ".join("/".join(x) for x in c))
    for c in folder_cycles:
        print("folder circle:", " ↔ ".join("/".join(x) for x in c))
    for n, path, line, name in long:
        print(f"{n} lines: {path}:{line} {name}")
    print(f"{len(file_cycles)} file circles, {len(folder_cycles)} folder circles, "
          f"{len(long)} functions over {a.max_lines} lines")
    return 1 if file_cycles or folder_cycles or long else 0


if __name__ == "__main__":
    sys.exit(main())
