#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""dkim.py -- DKIM signing: libsmtpc (bench/dkim_bench) beside dkimpy
(bench/dkim_peers.py, Debian's python3-dkim) and mailauth
(bench/dkim_peers.js, npm, installed in tests/node) in one run, on the same
keys and messages.

    dkim.py --srcdir DIR --dkim-bench PATH/dkim_bench [--count N] [--reps R]
            [--no-1g]

In a temporary directory (removed at the end): an RSA-2048 and an Ed25519
key from `openssl genpkey`, a 1 KiB and a 64 MiB message from
bench/mkmsg.py, and a 1 GiB one (the same 78-octet lines, written block by
block) for the memory rows.  All sign relaxed/relaxed.

1. Instructions per 1 KiB signature (libsmtpc): callgrind's total of
   `dkim_bench sign1k KEY N MSG` for N = 1 and 101; slope = (Ir(101) -
   Ir(1)) / 100: the key loading, start-up and exit cancel out.
2. ms per 1 KiB signature: libsmtpc from the wall clock (and the CPU time,
   getrusage of the children) of sign1k with N = 1 and 1 + COUNT (best of
   R for each); the peers time COUNT signatures in a row in their own
   process (after a warm-up), best of R.  The CPU-time figures are the ones
   to compare on a loaded machine.
3. MB/s for 64 MiB: libsmtpc signs the file through smtpc_dkim_body_new()
   over a rewindable file body and reads the signed body to the end (both
   passes; the first pass alone is given too), best of R; the peers sign
   the message from memory, best of R.  By the wall clock and by CPU time.
4. Peak RSS (VmHWM; dkim_bench prints getrusage's ru_maxrss too, which
   started from Python's high-water mark here) of a send-like read of the 64 MiB and the 1 GiB
   message with and without signing (and of the 1 KiB one), the least of
   R runs each.

Prints a Markdown section on stdout.  Every child is bounded by a timeout.
A benchmark, never part of make check.
"""
import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

RUN_TIMEOUT = 900
BIG = 64 << 20
HUGE = 1 << 30
ALGOS = (("rsa", "RSA-2048"), ("ed25519", "Ed25519"))


def log(*a):
    print("dkim:", *a, file=sys.stderr, flush=True)


def run(argv, timeout=RUN_TIMEOUT, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, **kw)


def make_keys(work):
    keys = {}
    for name, args in (("rsa", ["-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:2048"]),
                       ("ed25519", ["-algorithm", "ed25519"])):
        path = os.path.join(work, name + ".pem")
        r = run(["openssl", "genpkey"] + args + ["-out", path], timeout=120)
        if r.returncode != 0:
            sys.exit("dkim.py: openssl genpkey failed: %s" % r.stderr.decode(errors="replace"))
        keys[name] = path
    return keys


def make_huge(path, size):
    """A message of exactly `size` octets: the 1 KiB message's header, then
    78-octet lines written 64 KiB-ish blocks at a time."""
    head = (b"From: Bench <bench@example.com>\r\nTo: Rcpt <rcpt0@example.com>\r\n"
            b"Subject: libsmtpc DKIM benchmark message\r\n"
            b"Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
            b"Message-ID: <bench.huge@bench.local>\r\n\r\n")
    alpha = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    block = b"".join((alpha[i:] + alpha + alpha)[:76] + b"\r\n" for i in range(64)) * 13
    with open(path, "wb") as f:
        f.write(head)
        left = size - len(head)
        while left >= len(block) + 80:
            f.write(block)
            left -= len(block)
        while left > 80:
            f.write(block[:78])
            left -= 78
        f.write(b"z" * (left - 2) + b"\r\n")
    assert os.path.getsize(path) == size


def child_cpu():
    """User + system CPU seconds of the children waited for so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def callgrind_total(path):
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    return None


class Dkim:
    def __init__(self, a, work):
        self.a = a
        self.work = work
        self.res = {}    # (metric, tool, algo) -> value
        self.notes = []
        self.cmds = []
        self.versions = {}

    def put(self, metric, tool, algo, value):
        self.res[(metric, tool, algo)] = value

    # ---- libsmtpc ----------------------------------------------------------
    def instructions(self, keys, msg):
        if not shutil.which("valgrind"):
            self.notes.append("valgrind missing: no instruction counts")
            return
        n1, n2 = 1, 101
        for algo, label in ALGOS + (("callback", "no key"),):
            tot = []
            for n in (n1, n2):
                out = os.path.join(self.work, "cg.%s.%d.out" % (algo, n))
                r = run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                         self.a.dkim_bench, "sign1k", keys.get(algo, algo), str(n), msg])
                tot.append(callgrind_total(out) if r.returncode == 0 else None)
                if r.returncode != 0:
                    log("callgrind sign1k %s N=%d failed: %s" %
                        (algo, n, r.stderr.decode(errors="replace")[-500:]))
            val = (tot[1] - tot[0]) / (n2 - n1) if None not in tot else None
            self.put("instr", "smtpc", algo, val)
            log("libsmtpc %s: %s instructions per 1 KiB signature" %
                (label, "{:,.0f}".format(val) if val is not None else "FAILED"))
        self.cmds.append("valgrind --tool=callgrind --callgrind-out-file=F dkim_bench sign1k "
                         "KEY {1,101} msg-1k.eml; instructions/signature = (Ir(101) - Ir(1)) / 100")

    def wall_ms(self, keys, msg):
        n = self.a.count
        for algo, label in ALGOS:
            best, best_cpu = {}, {}
            for count in (1, 1 + n):
                for _ in range(self.a.reps):
                    c0 = child_cpu()
                    t0 = time.monotonic()
                    r = run([self.a.dkim_bench, "sign1k", keys[algo], str(count), msg])
                    dt = time.monotonic() - t0
                    dc = child_cpu() - c0
                    if r.returncode != 0:
                        best[count] = None
                        break
                    best[count] = dt if best.get(count) is None else min(best[count], dt)
                    best_cpu[count] = dc if best_cpu.get(count) is None else \
                        min(best_cpu[count], dc)
            ok = None not in best.values()
            val = (best[1 + n] - best[1]) * 1000 / n if ok else None
            cpu = (best_cpu[1 + n] - best_cpu[1]) * 1000 / n if ok else None
            self.put("ms", "smtpc", algo, val)
            self.put("ms_cpu", "smtpc", algo, cpu)
            log("libsmtpc %s: %s ms per 1 KiB signature (CPU %s ms)" %
                (label, "%.3f" % val if val is not None else "FAILED",
                 "%.3f" % cpu if cpu is not None else "?"))
        self.cmds.append("dkim_bench sign1k KEY {1,%d} msg-1k.eml: ms/signature = "
                         "(t(%d) - t(1)) / %d, best of %d each" % (1 + n, 1 + n, n, self.a.reps))

    def mbps(self, keys, big):
        for algo, label in ALGOS:
            r = run([self.a.dkim_bench, "mbps", keys[algo], big, str(self.a.reps)])
            text = r.stdout.decode(errors="replace")
            m = re.search(r"best of \d+: (\d+) MB/s signed and read \(([\d.]+) s\), "
                          r"first pass alone (\d+) MB/s \([\d.]+ s\); by CPU time "
                          r"\(user \+ system\) (\d+) MB/s", text)
            if r.returncode != 0 or not m:
                log("dkim_bench mbps %s failed: %s" % (algo, r.stderr.decode(errors="replace")))
                self.put("mbps", "smtpc", algo, None)
                continue
            self.put("mbps", "smtpc", algo, int(m.group(1)))
            self.put("mbps1", "smtpc", algo, int(m.group(3)))
            self.put("cpu_mbps", "smtpc", algo, int(m.group(4)))
            log("libsmtpc %s: 64 MiB at %s MB/s (first pass alone %s MB/s; by CPU time %s MB/s)"
                % (label, m.group(1), m.group(3), m.group(4)))
        self.cmds.append("dkim_bench mbps KEY msg-64m.eml %d   (best of %d)" %
                         (self.a.reps, self.a.reps))

    def rss(self, keys, files):
        for name, path in files:
            for algo in ("none",) + tuple(k for k, _ in ALGOS):
                argv = [self.a.dkim_bench, "rss", keys["rsa"], path]
                if algo == "none":
                    argv.append("nosign")
                else:
                    argv[2] = keys[algo]
                val = before = None
                for _ in range(self.a.reps):  # the least of R: pages are noisy
                    r = run(argv)
                    m = re.search(r"peak RSS (\d+) KiB \((\d+) KiB before reading\), "
                                  r"VmHWM (\d+) KiB \((\d+) KiB before\)", r.stdout.decode())
                    # VmHWM: ru_maxrss of a child of Python starts at Python's
                    # own high-water mark (Linux carries it over fork and exec)
                    if r.returncode != 0 or not m:
                        val = before = None
                        break
                    if val is None or int(m.group(3)) < val:
                        val, before = int(m.group(3)), int(m.group(4))
                self.put("rss_" + name, "smtpc", algo, val)
                self.put("rss0_" + name, "smtpc", algo, before)
                log("libsmtpc rss %s %s: %s KiB" % (name, algo, val))
        self.cmds.append("dkim_bench rss KEY FILE [nosign]   (VmHWM, the least of %d runs)" %
                         self.a.reps)

    # ---- peers ---------------------------------------------------------------
    def peer(self, tool, argv, keys, msg, big):
        argv = argv + ["--rsa", keys["rsa"], "--ed25519", keys["ed25519"], "--msg1k", msg,
                       "--big", big, "--count", str(self.a.count), "--reps", str(self.a.reps)]
        try:
            r = run(argv, timeout=1800)
        except subprocess.TimeoutExpired:
            self.notes.append("%s timed out" % tool)
            return
        if r.returncode != 0:
            self.notes.append("%s failed: %s" % (
                tool, r.stderr.decode(errors="replace").strip().splitlines()[-1:]))
            return
        for line in r.stdout.decode().splitlines():
            d = json.loads(line)
            algo = "rsa" if d["algo"].startswith("rsa") else "ed25519"
            self.put("ms", tool, algo, d["ms_per_sig"])
            self.put("ms_cpu", tool, algo, d["ms_per_sig_cpu"])
            self.put("mbps", tool, algo, d["mbps"])
            self.put("cpu_mbps", tool, algo, d["cpu_mbps"])
            self.versions[tool] = d["version"]
            log("%s %s: %.3f ms per 1 KiB signature, 64 MiB at %.1f MB/s" %
                (tool, d["algo"], d["ms_per_sig"], d["mbps"]))

    def dkimpy(self, keys, msg, big):
        py = None
        for cand in (sys.executable, "/usr/bin/python3"):
            if cand and os.path.exists(cand) and \
                    run([cand, "-c", "import dkim"], timeout=30).returncode == 0:
                py = cand
                break
        if py is None:
            self.notes.append("dkimpy not installed (Debian: python3-dkim): no dkimpy figures")
            return
        self.peer("dkimpy", [py, os.path.join(self.a.srcdir, "bench", "dkim_peers.py")],
                  keys, msg, big)
        self.cmds.append("python3 bench/dkim_peers.py --rsa KEY --ed25519 KEY --msg1k msg-1k.eml "
                         "--big msg-64m.eml --count %d --reps %d" % (self.a.count, self.a.reps))

    def mailauth(self, keys, msg, big):
        node_dir = os.environ.get("SMTPC_NODE_DIR") or os.path.join(self.a.srcdir, "tests", "node")
        if not shutil.which("node"):
            self.notes.append("node missing (Debian: nodejs): no mailauth figures")
            return
        if not os.path.exists(os.path.join(node_dir, "node_modules", "mailauth", "package.json")):
            self.notes.append("mailauth not installed (cd tests/node && npm ci): "
                              "no mailauth figures")
            return
        self.peer("mailauth", ["node", os.path.join(self.a.srcdir, "bench", "dkim_peers.js")],
                  keys, msg, big)
        self.versions["node"] = run(["node", "--version"], timeout=30).stdout.decode().strip()
        self.cmds.append("node bench/dkim_peers.js --rsa KEY --ed25519 KEY --msg1k msg-1k.eml "
                         "--big msg-64m.eml --count %d --reps %d" % (self.a.count, self.a.reps))

    # ---- report ---------------------------------------------------------------
    def report(self, huge):
        def g(metric, tool, algo):
            return self.res.get((metric, tool, algo))

        def f(v, fmt):
            return fmt.format(v) if v is not None else "n/a"

        out = []
        w = out.append
        dv = self.versions.get("dkimpy")
        mv = self.versions.get("mailauth")
        w("### DKIM signing")
        w("")
        w("One key each, `relaxed/relaxed`, the same keys (`openssl genpkey`) and messages "
          "(bench/mkmsg.py) for the three signers; libsmtpc through `bench/dkim_bench`, "
          "dkimpy%s through `bench/dkim_peers.py`, mailauth%s%s through "
          "`bench/dkim_peers.js`:" % (
              " " + dv if dv else "", " " + mv if mv else "",
              " (Node.js %s)" % self.versions["node"] if "node" in self.versions else ""))
        w("")
        w("| | libsmtpc | dkimpy | mailauth |")
        w("|---|---:|---:|---:|")
        for algo, label in ALGOS:
            w("| %s: instructions per 1 KiB signature | %s | | |" % (
                label, f(g("instr", "smtpc", algo), "{:,.0f}")))
            for m, how in (("ms", "wall clock"), ("ms_cpu", "CPU time")):
                w("| %s: ms per 1 KiB signature, %s | %s | %s | %s |" % (
                    label, how, f(g(m, "smtpc", algo), "{:.3f}"),
                    f(g(m, "dkimpy", algo), "{:.3f}"), f(g(m, "mailauth", algo), "{:.3f}")))
        for algo, label in ALGOS:
            for m, how in (("mbps", "wall clock"), ("cpu_mbps", "CPU time")):
                w("| %s: 64 MiB message, MB/s, %s | %s | %s | %s |" % (
                    label, how, f(g(m, "smtpc", algo), "{:.0f}"),
                    f(g(m, "dkimpy", algo), "{:.1f}"), f(g(m, "mailauth", algo), "{:.1f}")))
        w("")
        w("Without the public-key operation (`dkim_bench sign1k callback`: a signer callback "
          "returns 64 fixed octets), libsmtpc spends %s instructions per 1 KiB signature on "
          "canonicalization, hashing and the field." % f(g("instr", "smtpc", "callback"), "{:,.0f}"))
        w("")
        w("libsmtpc's MB/s read the file twice (`smtpc_dkim_body_new()` hashes it, then the "
          "signed body is read to the end as a session sends it); the first pass alone: "
          "%s MB/s (RSA-2048), %s MB/s (Ed25519).  The peers sign the message from memory." % (
              f(g("mbps1", "smtpc", "rsa"), "{:.0f}"), f(g("mbps1", "smtpc", "ed25519"), "{:.0f}")))
        w("")
        w("Peak RSS (VmHWM) of `bench/dkim_bench rss` (reads the whole body in 64 KiB calls, "
          "as a session sends it; without signing: the plain file body, no key loaded):")
        w("")
        w("| message | no signing | RSA-2048 | Ed25519 | signing adds at most "
          "| growth over 1 KiB, signing |")
        w("|---|---:|---:|---:|---:|---:|")
        small = [g("rss_1k", "smtpc", a) for a in ("rsa", "ed25519")]
        for name, label in (("1k", "1 KiB"), ("64m", "64 MiB"), ("1g", "1 GiB")):
            if name == "1g" and not huge:
                continue
            vals = [g("rss_" + name, "smtpc", a) for a in ("none", "rsa", "ed25519")]
            diff = max(vals[1:]) - vals[0] if None not in vals else None
            grow = max(vals[1] - small[0], vals[2] - small[1]) \
                if None not in vals + small else None
            w("| %s | %s | %s | %s | %s | %s |" % (
                label, f(vals[0], "{:,} KiB"), f(vals[1], "{:,} KiB"), f(vals[2], "{:,} KiB"),
                f(diff, "{:+,} KiB"), f(grow, "{:+,} KiB")))
        w("")
        last = "1g" if huge else "64m"
        w("Of that, before the first octet of the %s message is read (the key loaded with "
          "its crypto library, nothing hashed yet): no signing %s, RSA-2048 %s, Ed25519 %s "
          "(the same runs)." % (
              {"1g": "1 GiB", "64m": "64 MiB"}[last],
              *[f(g("rss0_" + last, "smtpc", a), "{:,} KiB") for a in ("none", "rsa", "ed25519")]))
        w("")
        if self.notes:
            w("Notes: " + "; ".join(self.notes))
            w("")
        w("Commands:")
        w("")
        for c in self.cmds:
            w("    " + c.replace(self.work + "/", "").replace(
                os.path.dirname(os.path.abspath(self.a.dkim_bench)) + "/", ""))
        w("")
        return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--srcdir", required=True)
    ap.add_argument("--dkim-bench", required=True)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-1g", action="store_true", help="skip the 1 GiB memory rows")
    ap.add_argument("--skip", default="", help="comma list: instr,ms,mbps,rss,dkimpy,mailauth")
    a = ap.parse_args()
    if not (1 <= a.count <= 100000 and 1 <= a.reps <= 20):
        ap.error("argument out of range")
    if not os.access(a.dkim_bench, os.X_OK):
        sys.exit("dkim.py: %s is not built" % a.dkim_bench)
    skip = set(filter(None, a.skip.split(",")))
    work = tempfile.mkdtemp(prefix="smtpc-dkim.")
    huge = None
    try:
        d = Dkim(a, work)
        keys = make_keys(work)
        mk = os.path.join(a.srcdir, "bench", "mkmsg.py")
        msg = os.path.join(work, "msg-1k.eml")
        big = os.path.join(work, "msg-64m.eml")
        for size, path in ((1024, msg), (BIG, big)):
            subprocess.run([sys.executable, mk, str(size), path], check=True, timeout=300)
        if not a.no_1g and "rss" not in skip:
            st = os.statvfs(work)
            if st.f_bavail * st.f_frsize > 4 * HUGE:
                huge = os.path.join(work, "msg-1g.eml")
                make_huge(huge, HUGE)
            else:
                d.notes.append("less than 4 GiB free in %s: no 1 GiB row" %
                               os.path.dirname(work))
        steps = (("instr", lambda: d.instructions(keys, msg)),
                 ("ms", lambda: d.wall_ms(keys, msg)),
                 ("mbps", lambda: d.mbps(keys, big)),
                 ("rss", lambda: d.rss(keys, [("1k", msg), ("64m", big)] +
                                       ([("1g", huge)] if huge else []))),
                 ("dkimpy", lambda: d.dkimpy(keys, msg, big)),
                 ("mailauth", lambda: d.mailauth(keys, msg, big)))
        for name, fn in steps:
            if name in skip:
                continue
            t0 = time.monotonic()
            fn()
            log("%s done in %.0f s" % (name, time.monotonic() - t0))
        print(d.report(huge))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
