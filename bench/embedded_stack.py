#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""embedded_stack.py -- the deepest stack of a ports/ firmware by static
analysis, to cross-check the painted stack the firmware reports.

    embedded_stack.py DIR ROOT [CALLER=TARGET,...] [INDIRECT_TARGET...]

DIR holds the firmware's GCC -fcallgraph-info=su files (*.ci, found
recursively); ROOT is the function to start from (main).  Each function's
frame is GCC's figure; the depth of a function is its frame plus the
deepest of its callees.  An indirect call (a function pointer) in CALLER
goes to one of its TARGETs (the firmware's drive loop calls the session
operations it is given); anywhere else to one of the INDIRECT_TARGETs (the
allocator hooks, the body readers, the platform hooks).  Functions of the
C library (no .ci) count 0 bytes and are listed.  Prints the deepest path
and its total; an exception frame (SysTick: 32 bytes plus its handler)
comes on top.  Exit 1 on recursion.
"""
import glob
import os
import re
import sys

NODE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]*)"')
EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')


def load(d):
    frames, calls, unit_of = {}, {}, {}
    for ci in glob.glob(os.path.join(d, "**", "*.ci"), recursive=True):
        unit = os.path.basename(ci)[:-3]
        local = {}
        text = open(ci, encoding="utf-8").read()
        for title, label in NODE.findall(text):
            m = re.search(r"\\n(\d+) bytes", label)
            if m:
                local[title] = int(m.group(1))
        for title, size in local.items():
            key = title if title not in frames else "%s:%s" % (unit, title)
            frames[key] = size
            unit_of[key] = unit
            local[title] = key
        for src, dst in EDGE.findall(text):
            s = local.get(src, src)
            calls.setdefault(s, []).append(local.get(dst, dst))
    # GCC names a static function FILE:NAME; let NAME stand for it when
    # only one file has it (the callback names given on the command line)
    short = {}
    for k in list(frames):
        n = k.rsplit(":", 1)[-1]
        short.setdefault(n, []).append(k)
    for n, ks in short.items():
        if n not in frames and len(ks) == 1:
            frames[n] = frames[ks[0]]
            calls[n] = calls.get(ks[0], [])
    return frames, calls


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    frames, calls = load(sys.argv[1])
    root = sys.argv[2]
    per_caller = dict(a.split("=", 1) for a in sys.argv[3:] if "=" in a)
    targets = [a for a in sys.argv[3:] if "=" not in a]
    memo, unknown, onstack = {}, set(), set()

    def depth(f):
        if f in memo:
            return memo[f]
        if f in onstack:
            sys.exit("embedded_stack: recursion through %s" % f)
        if f not in frames:
            unknown.add(f)
            return (0, [f])
        onstack.add(f)
        best = (0, [])
        callees = []
        for c in calls.get(f, []):
            if c != "__indirect_call":
                callees.append(c)
            elif f in per_caller:
                callees += per_caller[f].split(",")
            else:  # a callback does not call itself back
                callees += [t for t in targets if t not in onstack]
        for c in callees:
            if c == f:
                continue
            d = depth(c)
            if d[0] > best[0]:
                best = d
        onstack.discard(f)
        own = frames.get(f, 0)
        memo[f] = (own + best[0], [f] + best[1])
        return memo[f]

    total, path = depth(root)
    print("deepest path from %s: %d bytes" % (root, total))
    for f in path:
        print("  %6d  %s" % (frames.get(f, 0), os.path.basename(f)))
    if unknown:
        print("not analysed (C library or assembly, counted 0): " + " ".join(sorted(unknown)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
