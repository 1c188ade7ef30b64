#!/usr/bin/env python3
"""Module dependency graph of a crate's `src/` and its import cycles.

Each `.rs` file is a module (`foo/mod.rs` is `foo`). An edge A -> B is any
path in A that names B: `use crate::x::y`, `use super::y`, or an inline
`crate::x::y::..` path (outside comments). Paths are resolved to the
longest existing module prefix. Prints every strongly connected component
with more than one module (each is a cycle) and exits 1 if there is one.

    python3 scripts/module_cycles.py runtime/src
"""
import os
import re
import sys


def modules(src):
    mods = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(root, f), src)[:-3].split(os.sep)
            if rel[-1] == "mod":
                rel = rel[:-1]
            if rel == ["lib"] or rel == ["main"]:
                rel = []
            mods[tuple(rel)] = os.path.join(root, f)
    return mods


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//")[0] for line in text.splitlines())


def resolve(path, mods):
    """The longest prefix of `path` that is a module."""
    for n in range(len(path), -1, -1):
        if tuple(path[:n]) in mods:
            return tuple(path[:n])
    return ()


def expand_use(prefix, body):
    """`a::{b, c::{d}}` -> [[a, b], [a, c, d]] (prefix already split)."""
    body = body.strip()
    if not body.startswith("{"):
        head, _, rest = body.partition("::")
        head = head.split(" as ")[0].strip()
        if not rest:
            return [prefix + [head]]
        return expand_use(prefix + [head], rest)
    inner, depth, parts, cur = body[1:-1], 0, [], ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        if p.strip():
            out += expand_use(prefix, p)
    return out


def edges(mod, path, mods):
    text = strip_comments(open(path).read())
    found = set()
    # The module a `super::` path starts from: the parent of this module.
    parent = list(mod[:-1])
    for m in re.finditer(r"\buse\s+((?:crate|super|self)(?:::)[^;]*);", text, re.S):
        for p in expand_use([], " ".join(m.group(1).split())):
            found.add(tuple(p))
    for m in re.finditer(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)", text):
        found.add(tuple([m.group(1)] + m.group(2).split("::")[1:]))
    out = set()
    for p in found:
        p = list(p)
        if p[0] == "crate":
            base = []
        elif p[0] == "super":
            base = parent[:]
            while len(p) > 1 and p[1] == "super":
                base = base[:-1]
                p = p[1:]
        else:  # self
            base = list(mod)
        target = resolve(base + [x for x in p[1:] if x not in ("self", "*")], mods)
        # A path into a child of `mod` or `mod` itself is not an edge.
        if target != mod and target[: len(mod)] != mod and target:
            out.add(target)
    return out


def sccs(graph):
    index, low, stack, on, out, i = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = i[0]
        i[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "runtime/src"
    mods = modules(src)
    graph = {m: edges(m, p, mods) for m, p in mods.items()}
    name = lambda m: "::".join(m) or "crate"
    n_edges = sum(len(v) for v in graph.values())
    cycles = [sorted(c) for c in sccs(graph) if len(c) > 1]
    print(f"{src}: {len(mods)} modules, {n_edges} edges, {len(cycles)} cycle(s)")
    for c in cycles:
        members = set(c)
        print("cycle:", ", ".join(name(m) for m in c))
        for m in c:
            for t in sorted(graph[m] & members):
                print(f"  {name(m)} -> {name(t)}")
    sys.exit(1 if cycles else 0)


if __name__ == "__main__":
    main()
