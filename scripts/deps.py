#!/usr/bin/env python3
"""The import graph of src/: which file of the crate uses which.

Reads every `use crate::…`, `use super::…` and inline `crate::…` /
`super::…` path (test modules included: a test that imports upward is an
upward import too), resolves each to the file of the longest module prefix,
and prints

  - the cycles (strongly connected components of more than one file), and
  - every import that breaks the house rules: the lower rooms (model/,
    config/, decisions/, db/, connectors/) never import a room above them.

Exit status 1 when either list is not empty. `--graph` prints every edge.
"""

import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")

# room -> rooms it must not import (by the first path segment after crate::)
UPPER = {"stages", "report", "pipeline", "sandbox", "cli", "main", "review", "backfill",
         "schedule", "tools", "chat", "mcp", "serve", "metrics", "notify", "llm"}
RULES = {
    "model": {"*"},  # the ground floor imports nothing of the crate
    "config": UPPER | {"connectors", "db", "decisions", "http"},
    "decisions": UPPER | {"connectors", "db", "http"},
    "db": UPPER | {"connectors", "decisions"},
    "connectors": UPPER,
}


def modules():
    """module path (tuple) -> file path"""
    out = {}
    for root, _, files in os.walk(SRC):
        for f in files:
            if not f.endswith(".rs"):
                continue
            full = os.path.join(root, f)
            rel = os.path.relpath(full, SRC)[:-3].split(os.sep)
            if rel == ["lib"] or rel == ["main"]:
                path = () if rel == ["lib"] else ("main",)
            elif rel[-1] == "mod":
                path = tuple(rel[:-1])
            else:
                path = tuple(rel)
            out[path] = full
    return out


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    lines = []
    for line in text.split("\n"):
        # drop // comments (not inside strings: good enough for paths)
        i = line.find("//")
        lines.append(line if i < 0 else line[:i])
    return "\n".join(lines)


def expand(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']"""
    tree = tree.strip()
    m = re.match(r"^(.*?)\{(.*)\}$", tree, flags=re.S)
    if not m:
        return [tree]
    prefix, inner = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        p = p.strip()
        if p:
            out.extend(prefix + e for e in expand(p))
    return out


def paths_in(text):
    text = strip_comments(text)
    found = []
    for m in re.finditer(r"\buse\s+([^;]+);", text, flags=re.S):
        for p in expand(m.group(1)):
            found.append(re.sub(r"\s+", "", re.sub(r"\s+as\s+\w+\s*$", "", p)))
    # inline paths outside use statements
    body = re.sub(r"\buse\s+[^;]+;", "", text, flags=re.S)
    found += re.findall(r"\b((?:crate|super)(?:::\w+)+)", body)
    return found


def resolve(path, here, mods):
    """`crate::a::b::C` seen in module `here` -> the module path it names"""
    segs = path.split("::")
    if segs[0] == "crate":
        base, segs = (), segs[1:]
    elif segs[0] in ("super", "self"):
        base = here
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                base = base[:-1]
            segs = segs[1:]
    else:
        return None
    best = None
    for k in range(len(segs) + 1):
        cand = base + tuple(segs[:k])
        if cand in mods:
            best = cand
    return best


def main():
    mods = modules()
    edges = {m: set() for m in mods}
    for mod, file in mods.items():
        with open(file, encoding="utf-8") as f:
            text = f.read()
        # module path of code in this file: main.rs lives beside lib, not in it
        here = mod
        for p in paths_in(text):
            if mod == ("main",) and p.startswith("crate::"):
                continue
            target = resolve(p, here, mods)
            if target is None or target == mod:
                continue
            # a parent declaring its child (`mod x;`) is not an import; `use` is
            edges[mod].add(target)
        if mod == ("main",):
            for p in re.findall(r"\bcampaign_pilot((?:::\w+)+)", strip_comments(text)):
                target = resolve("crate" + p, (), mods)
                if target is not None:
                    edges[mod].add(target)

    name = lambda m: "/".join(m) or "lib"
    if "--graph" in sys.argv:
        for m in sorted(edges):
            for t in sorted(edges[m]):
                print(f"{name(m)} -> {name(t)}")

    # Tarjan's strongly connected components
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            sccs.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    cycles = [sorted(c) for c in sccs if len(c) > 1]

    bad = []
    for m, targets in edges.items():
        room = m[0] if m else "lib"
        rule = RULES.get(room)
        if not rule:
            continue
        for t in targets:
            troom = t[0] if t else "lib"
            if troom == room:
                continue
            if "*" in rule or troom in rule:
                bad.append(f"{name(m)} -> {name(t)}")

    files = len(mods)
    print(f"{files} files, {sum(len(e) for e in edges.values())} imports between them")
    print(f"cycles: {len(cycles)}")
    for c in cycles:
        print(f"  {len(c)} files: " + ", ".join(name(m) for m in c))
    print(f"upward imports from the lower rooms: {len(bad)}")
    for b in sorted(bad):
        print(f"  {b}")
    return 1 if cycles or bad else 0


if __name__ == "__main__":
    sys.exit(main())
