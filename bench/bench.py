#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench.py -- measures libsmtpc against libcurl, libESMTP, Postfix's
smtp-source and Python's smtplib in one run, on one machine, and prints the
table.  Run through bench/run.sh (make bench), which builds the peers.

Every client sends over ONE connection to a server on 127.0.0.1 only:
Postfix's smtp-sink (PIPELINING, 8BITMIME), or bench/delay_sink.py for round
trips.  Every run is bounded by a timeout; smtp-sink and the delay sink are
started here and stopped by their process ids.

Environment (defaults in brackets):
  BENCH_COUNT [20000]   messages per throughput run, 1 recipient
  BENCH_COUNT10 [5000]  messages per throughput run, 10 recipients
  BENCH_REPS [3]        throughput runs per tool (best is kept)
  BENCH_TOOLS           comma list to run a subset (smtpc always runs)
  BENCH_DELAY_MS [20]   reply delay of the delay sink
  BENCH_SESSIONS [1000] concurrent sessions of the many-sessions run
  BENCH_TLS_COUNT [10]  sessions between the two callgrind runs of the TLS
                        set-up measurement (slope over COUNT=1 and 1+N)
  BENCH_SKIP            comma list of sections to skip:
                        tput,instr,sys,rt,big,heap,mime,embedded,tls,many,bdat,
                        dkim

The TLS section (STARTTLS + AUTH set-up, bench/tls_setup against
bench/peer_curl_tls) needs root, Postfix, sasl2-bin and OpenSSL: it starts a
throwaway Postfix with tests/postfix-testbed.sh on 127.0.0.1.  The many
section (bench/many_sessions against smtp-source -s) runs its own smtp-sink
with -m, since smtp-sink serves 256 connections at a time by default.
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

RUN_TIMEOUT = 300          # seconds, any single client run
MSG_SIZE = 1024
BIG_SIZE = 64 << 20
TOOLS = ["smtpc", "curl", "esmtp", "smtp-source", "smtplib"]
LABEL = {"smtpc": "libsmtpc (smtpc-bench)", "curl": "libcurl",
         "esmtp": "libESMTP", "smtp-source": "smtp-source",
         "smtplib": "Python smtplib"}
PEERS = [t for t in TOOLS if t != "smtpc"]


def log(*a):
    print("bench:", *a, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, secs=10.0):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                c.recv(64)  # the greeting, so the sink's slot is freed cleanly
                c.sendall(b"QUIT\r\n")
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Bench:
    def __init__(self, a):
        self.a = a
        self.work = a.work
        self.skip = set(filter(None, os.environ.get("BENCH_SKIP", "").split(",")))
        sel = os.environ.get("BENCH_TOOLS")
        self.tools = TOOLS if not sel else \
            ["smtpc"] + [t for t in sel.split(",") if t in PEERS]
        self.count = int(os.environ.get("BENCH_COUNT", "20000"))
        self.count10 = int(os.environ.get("BENCH_COUNT10", "5000"))
        self.reps = int(os.environ.get("BENCH_REPS", "3"))
        self.delay_ms = float(os.environ.get("BENCH_DELAY_MS", "20"))
        self.sessions = int(os.environ.get("BENCH_SESSIONS", "1000"))
        self.tls_count = int(os.environ.get("BENCH_TLS_COUNT", "10"))
        self.py = sys.executable  # the real interpreter (not a pyenv shim)
        self.res = {}    # metric -> tool -> value
        self.notes = []  # free text for the report
        self.detail = {}  # extra sections (breakdowns)
        self.cmds = []   # representative commands, for the record
        self.sink = None
        self.port = None

    # ---- files and commands --------------------------------------------
    def make_msgs(self):
        mk = os.path.join(self.a.srcdir, "bench", "mkmsg.py")
        self.msg = os.path.join(self.work, "msg-1k.eml")
        self.msg_lf = os.path.join(self.work, "msg-1k-lf.eml")
        self.big = os.path.join(self.work, "msg-64m.eml")
        self.big_lf = os.path.join(self.work, "msg-64m-lf.eml")
        for size, path, lf in ((MSG_SIZE, self.msg, False),
                               (MSG_SIZE, self.msg_lf, True),
                               (BIG_SIZE, self.big, False),
                               (BIG_SIZE, self.big_lf, True)):
            if "big" in self.skip and size == BIG_SIZE:
                continue
            subprocess.run([self.py, mk, str(size), path] + (["--lf"] if lf else []),
                           check=True, timeout=120)

    def cmd(self, tool, port, count, big, nrcpt):
        msg = self.big if big else self.msg
        h, p = "127.0.0.1", str(port)
        if tool == "smtpc":
            return [self.a.smtpc, h, p, str(count), msg, str(nrcpt)]
        if tool == "curl":
            return [os.path.join(self.a.peers, "peer_curl"), h, p, str(count), msg, str(nrcpt)]
        if tool == "esmtp":
            return [os.path.join(self.a.peers, "peer_esmtp"), h, p, str(count), msg, str(nrcpt)]
        if tool == "smtplib":
            return [self.py, os.path.join(self.a.srcdir, "bench", "peer_smtplib.py"),
                    h, p, str(count), msg, str(nrcpt)]
        if tool == "smtp-source":
            # -d: every message on the same connection; -s 1: one session;
            # -F: the message file (LF line ends: smtp-source adds CR LF and
            # dot-stuffs).  smtp-source speaks HELO, never EHLO, so it cannot
            # pipeline; it names recipients rcpt@, 2rcpt@, ... (-r).
            return [self.a.smtp_source, "-d", "-s", "1", "-m", str(count),
                    "-r", str(nrcpt), "-f", "bench@example.com",
                    "-t", "rcpt@example.com", "-M", "bench.local",
                    "-F", self.big_lf if big else self.msg_lf, "%s:%s" % (h, p)]
        raise ValueError(tool)

    def run(self, argv, timeout=RUN_TIMEOUT, prefix=()):
        t0 = time.monotonic()
        try:
            r = subprocess.run(list(prefix) + argv, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=timeout)
        except subprocess.TimeoutExpired:
            log("timed out:", " ".join(argv))
            return None, 0.0, b""
        dt = time.monotonic() - t0
        if r.returncode != 0:
            log("failed (%d): %s\n%s" % (r.returncode, " ".join(list(prefix) + argv),
                                         r.stderr.decode(errors="replace")[-2000:]))
            return None, dt, r.stderr
        if r.stdout and argv[0] == self.a.smtpc:
            self.notes.append("smtpc-bench printed on stdout (it must not)")
        return r, dt, r.stderr

    # ---- smtp-sink ---------------------------------------------------------
    def start_sink(self):
        self.port = free_port()
        argv = [self.a.smtp_sink]
        if os.geteuid() == 0:
            argv += ["-u", "nobody"]
        argv += ["127.0.0.1:%d" % self.port, "256"]
        self.sink_cmd = " ".join(argv)
        self.sink = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        if not wait_port(self.port, self.sink):
            raise SystemExit("bench: smtp-sink did not start: " + self.sink_cmd)
        log("smtp-sink on 127.0.0.1:%d (pid %d)" % (self.port, self.sink.pid))

    def stop_sink(self):
        if self.sink is not None and self.sink.poll() is None:
            self.sink.send_signal(signal.SIGTERM)
            try:
                self.sink.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.sink.kill()
                self.sink.wait(timeout=5)
        self.sink = None

    def put(self, metric, tool, value):
        self.res.setdefault(metric, {})[tool] = value

    # ---- 1. messages/second -------------------------------------------------
    def throughput(self):
        for nrcpt, count in ((1, self.count), (10, self.count10)):
            metric = "msgs_s_%d" % nrcpt
            for tool in self.tools:
                best = None
                for _ in range(self.reps):
                    r, dt, _ = self.run(self.cmd(tool, self.port, count, False, nrcpt))
                    if r is None:
                        best = None
                        break
                    best = dt if best is None else min(best, dt)
                self.put(metric, tool, count / best if best else None)
                log("%-12s %2d rcpt: %s msgs/s" % (tool, nrcpt,
                    "%.0f" % (count / best) if best else "FAILED"))
            self.cmds.append(" ".join(self.cmd("smtpc", self.port, count, False, nrcpt)))

    # ---- 2. instructions per message (callgrind) ----------------------------
    def callgrind_total(self, path):
        with open(path, errors="replace") as f:
            for line in f:
                if line.startswith("summary:") or line.startswith("totals:"):
                    return int(line.split()[1])
        return None

    def instructions(self):
        if not shutil.which("valgrind"):
            self.notes.append("valgrind missing: no instruction counts")
            return
        n1, n2 = 1, 200
        for nrcpt in (1, 10):
            metric = "instr_%d" % nrcpt
            for tool in self.tools:
                tot = []
                for n in (n1, n2):
                    out = os.path.join(self.work, "cg.%s.%d.%d.out" % (tool, nrcpt, n))
                    r, _, _ = self.run(self.cmd(tool, self.port, n, False, nrcpt),
                                       prefix=["valgrind", "--tool=callgrind",
                                               "--callgrind-out-file=" + out])
                    tot.append(self.callgrind_total(out) if r is not None else None)
                val = (tot[1] - tot[0]) / (n2 - n1) if None not in tot else None
                self.put(metric, tool, val)
                log("%-12s %2d rcpt: %s instructions/msg" % (tool, nrcpt,
                    "%.0f" % val if val is not None else "FAILED"))
        self.cmds.append("valgrind --tool=callgrind --callgrind-out-file=F " +
                         " ".join(self.cmd("smtpc", self.port, n2, False, 1)) +
                         "   (and COUNT=1; slope = (Ir(200) - Ir(1)) / 199)")
        self.callgrind_breakdown(n1, n2)

    ANN_RE = re.compile(r"^\s*([\d,]+|\.)\s+(?:\([\s\d.]+%\)\s+)?(.*)$")

    def annotate(self, path):
        """Self cost per function, with lib/ code attributed by source line
        to the C function it is written in (so inlined helpers such as
        scan_body count as themselves), other code (libc, ld.so) by the
        function callgrind saw.  Returns {name: Ir}."""
        src = self.a.srcdir
        r = subprocess.run(["callgrind_annotate", "--auto=yes", "--inclusive=no",
                            "--threshold=100", "--include=" + src, path],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           timeout=300, cwd=src)
        fn, lines = {}, {}
        cur, lineno, in_tables = None, 0, True
        for line in r.stdout.decode(errors="replace").splitlines():
            if line.startswith("-- Auto-annotated source:"):
                in_tables = False
                f = line.split(":", 1)[1].strip()
                # "lib/x.c", "../lib/x.c" (VPATH build) or an absolute path
                rel = "lib/" + f.rsplit("lib/", 1)[1] if "lib/" in f else f
                cur = rel if rel.endswith(".c") and "/" not in rel[4:] and \
                    os.path.exists(os.path.join(src, rel)) else None
                lineno = 1
                continue
            if in_tables:
                m = re.match(r"\s*([\d,]+)\s+(?:\([\s\d.]+%\)\s+)?(\S.*?)(?:\s+\[.*\])?\s*$", line)
                if m and ":" in m.group(2) and "=>" not in line:
                    file_, _, func = m.group(2).rpartition(":")
                    if "lib/" in file_ and file_.endswith(".c"):
                        continue  # counted by source line below
                    key = "%s (%s)" % (func, os.path.basename(file_) or "?")
                    fn[key] = fn.get(key, 0) + int(m.group(1).replace(",", ""))
                continue
            if "events annotated" in line or line.startswith("-- User-annotated"):
                cur = None  # the closing summary, not a source line
                continue
            if cur is None:
                continue
            m = re.match(r"^-- line (\d+) -", line)
            if m:
                lineno = int(m.group(1))
                continue
            if line.startswith("---") or line.startswith("Ir") or not line.strip():
                continue
            m = self.ANN_RE.match(line)
            if not m:
                continue
            if m.group(2).lstrip().startswith("=>"):
                continue  # a call's inclusive cost, not a source line
            if m.group(1) != ".":
                lines[(cur, lineno)] = lines.get((cur, lineno), 0) + \
                    int(m.group(1).replace(",", ""))
            lineno += 1
        owners = {}
        for (f, ln), cost in lines.items():
            if f not in owners:
                owners[f] = c_functions(os.path.join(src, f))
            name = owners[f].get(ln) or "(file scope)"
            key = "%s (%s)" % (name, os.path.basename(f))
            fn[key] = fn.get(key, 0) + cost
        return fn

    def callgrind_breakdown(self, n1, n2):
        if not shutil.which("callgrind_annotate"):
            return
        for nrcpt in (1, 10):
            a = os.path.join(self.work, "cg.smtpc.%d.%d.out" % (nrcpt, n1))
            b = os.path.join(self.work, "cg.smtpc.%d.%d.out" % (nrcpt, n2))
            if not (os.path.exists(a) and os.path.exists(b)):
                continue
            fa, fb = self.annotate(a), self.annotate(b)
            per = {k: (fb.get(k, 0) - fa.get(k, 0)) / (n2 - n1) for k in set(fa) | set(fb)}
            tot = sum(per.values())
            rows = sorted(per.items(), key=lambda kv: -kv[1])[:25]
            self.detail["callgrind_self_%d" % nrcpt] = (tot, rows)

    # ---- 3. syscalls per message ----------------------------------------------
    def strace_counts(self, path):
        calls = {}
        with open(path, errors="replace") as f:
            for line in f:
                p = line.split()
                if len(p) >= 5 and re.match(r"^[\d.]+$", p[0]) and p[-1] != "total":
                    try:
                        n = int(p[3])
                    except ValueError:
                        continue
                    calls[p[-1]] = calls.get(p[-1], 0) + n
        return calls

    def perf_counts(self, path):
        calls = {}
        with open(path, errors="replace") as f:
            for line in f:
                p = line.split()
                if len(p) >= 3 and re.match(r"^[a-z_0-9]+$", p[0]) and p[1].isdigit() \
                        and p[2].isdigit():
                    calls[p[0]] = calls.get(p[0], 0) + int(p[1])
                    if int(p[2]):
                        k = p[0] + " (failed)"
                        calls[k] = calls.get(k, 0) + int(p[2])
        return calls

    def syscalls(self):
        n1, n2 = 100, 600
        have_perf = self.perf_ok()
        for nrcpt in (1, 10):
            for tracer in (["strace"] + (["perf"] if have_perf else [])):
                metric = "sys_%d" % nrcpt if tracer == "strace" else "perf_%d" % nrcpt
                for tool in self.tools:
                    got = []
                    for n in (n1, n2):
                        out = os.path.join(self.work, "%s.%s.%d.%d.txt" % (tracer, tool, nrcpt, n))
                        pre = (["strace", "-f", "-c", "-o", out] if tracer == "strace"
                               else ["perf", "trace", "-s", "-o", out])
                        r, _, _ = self.run(self.cmd(tool, self.port, n, False, nrcpt), prefix=pre)
                        got.append((self.strace_counts if tracer == "strace"
                                    else self.perf_counts)(out) if r is not None else None)
                    if None in got:
                        self.put(metric, tool, None)
                        continue
                    names = set(got[0]) | set(got[1])
                    per = {k: (got[1].get(k, 0) - got[0].get(k, 0)) / (n2 - n1) for k in names}
                    total = sum(v for k, v in per.items() if "(failed)" not in k)
                    self.put(metric, tool, total)
                    self.detail.setdefault("sys_breakdown", {})[(tracer, tool, nrcpt)] = \
                        sorted(((k, v) for k, v in per.items() if abs(v) >= 0.005),
                               key=lambda kv: -kv[1])
                    log("%-12s %2d rcpt: %.2f syscalls/msg (%s)" % (tool, nrcpt, total, tracer))
        self.cmds.append("strace -f -c -o F " + " ".join(self.cmd("smtpc", self.port, n2, False, 1)) +
                         "   (and COUNT=%d; slope over %d messages)" % (n1, n2 - n1))
        if have_perf:
            self.cmds.append("perf trace -s -o F " + " ".join(self.cmd("smtpc", self.port, n2, False, 1)) +
                             "   (same slope; perf does not stop the process at each call)")

    def perf_ok(self):
        if not shutil.which("perf"):
            return False
        try:
            r = subprocess.run(["perf", "trace", "-s", "--", "true"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return False
        ok = r.returncode == 0 and b"calls" in (r.stdout + r.stderr)
        if not ok:
            self.notes.append("perf trace unavailable here: syscall counts from strace only")
        return ok

    # ---- 4. round trips per message (delay sink) ------------------------------
    def round_trips(self):
        n1, n2 = 5, 25
        runs = [(t, r, n) for t in self.tools for r in (1, 10) for n in (n1, n2)]
        pf = os.path.join(self.work, "delay.port")
        sf = os.path.join(self.work, "delay.stats")
        for f in (pf, sf):
            if os.path.exists(f):
                os.unlink(f)
        argv = [self.py, os.path.join(self.a.srcdir, "bench", "delay_sink.py"),
                "--port-file", pf, "--delay-ms", str(self.delay_ms),
                "--sessions", str(len(runs)), "--stats", sf, "--timeout", "400"]
        ds = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            end = time.monotonic() + 10
            while not os.path.exists(pf) and time.monotonic() < end:
                time.sleep(0.05)
            port = int(open(pf).read())
            flights = {}
            for i, (tool, nrcpt, n) in enumerate(runs):
                r, _, _ = self.run(self.cmd(tool, port, n, False, nrcpt), timeout=120)
                # the sink writes its line when the connection ends
                end = time.monotonic() + 10
                while time.monotonic() < end:
                    lines = open(sf).read().splitlines() if os.path.exists(sf) else []
                    if len(lines) > i:
                        break
                    time.sleep(0.02)
                st = json.loads(lines[i]) if len(lines) > i else None
                flights[(tool, nrcpt, n)] = (st["flights"] if st and r is not None
                                             and st["messages"] == n else None)
                if st:
                    self.detail.setdefault("rt_raw", {})[(tool, nrcpt, n)] = st
            for tool in self.tools:
                for nrcpt in (1, 10):
                    a, b = flights.get((tool, nrcpt, n1)), flights.get((tool, nrcpt, n2))
                    val = (b - a) / (n2 - n1) if a is not None and b is not None else None
                    self.put("rt_%d" % nrcpt, tool, val)
                    log("%-12s %2d rcpt: %s round trips/msg" % (tool, nrcpt,
                        "%.2f" % val if val is not None else "FAILED"))
        finally:
            if ds.poll() is None:
                ds.terminate()
                try:
                    ds.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    ds.kill()
        self.cmds.append(" ".join(argv[1:3]) + " --delay-ms %g ...; smtpc-bench 127.0.0.1 PORT "
                         "{%d,%d} msg-1k.eml {1,10}; slope of the sink's flight count" %
                         (self.delay_ms, n1, n2))

    # ---- 4b. DATA beside BDAT (bench/chunking.py) ------------------------------
    def chunking(self):
        argv = [self.py, os.path.join(self.a.srcdir, "bench", "chunking.py"),
                "--srcdir", self.a.srcdir, "--smtpc", self.a.smtpc,
                "--delay-ms", str(self.delay_ms)]
        r = subprocess.run(argv, stdout=subprocess.PIPE, text=True, timeout=900)
        if r.returncode == 0:
            self.chunking_md = r.stdout
        else:
            self.notes.append("DATA beside BDAT not measured: bench/chunking.py failed")
        self.cmds.append("bench/chunking.py --delay-ms %g (delay sink with CHUNKING; "
                         "Postfix test bed smtpd)" % self.delay_ms)

    # ---- 4c. DKIM signing beside dkimpy and mailauth (bench/dkim.py) ----------
    def dkim(self):
        prog = os.path.join(os.path.dirname(self.a.heap), "dkim_bench")
        if not os.path.exists(prog):
            self.notes.append("dkim_bench not built: no DKIM figures")
            return
        argv = [self.py, os.path.join(self.a.srcdir, "bench", "dkim.py"),
                "--srcdir", self.a.srcdir, "--dkim-bench", prog]
        r = subprocess.run(argv, stdout=subprocess.PIPE, text=True, timeout=3600)
        if r.returncode == 0:
            self.dkim_md = r.stdout
        else:
            self.notes.append("DKIM signing not measured: bench/dkim.py failed")
        self.cmds.append("bench/dkim.py (dkim_bench beside bench/dkim_peers.py and "
                         "bench/dkim_peers.js; its commands are in its section)")

    # ---- 5. one 64 MiB message ------------------------------------------------
    def timed_rss(self, argv, want_stdout=False):
        """(wall seconds, peak RSS bytes); the CPU seconds (user + sys) of
        the run are left in self.last_cpu."""
        out = os.path.join(self.work, "time.txt")
        r, dt, _ = self.run(argv, prefix=["/usr/bin/time", "-f", "%e %M %U %S", "-o", out])
        if want_stdout:
            self.last_stdout = r.stdout if r is not None else b""
        self.last_cpu = None
        if r is None:
            return None, None
        with open(out) as f:
            last = f.read().split("\n")
        vals = [l.split() for l in last if re.match(r"^[\d.]+ \d+ [\d.]+ [\d.]+$", l.strip())]
        if not vals:
            return dt, None
        self.last_cpu = float(vals[-1][2]) + float(vals[-1][3])
        return dt, int(vals[-1][1]) * 1024

    def big_message(self):
        if not os.path.exists("/usr/bin/time"):
            self.notes.append("/usr/bin/time missing: no RSS figures")
            return
        # The tools take turns, rep by rep, so that a change of load on the
        # machine hits all of them alike; the best of 7 runs is kept.
        best = {t: {"small_t": None, "big_t": None, "cpu": [], "ok": True} for t in self.tools}
        for _ in range(max(self.reps, 7)):
            for tool in self.tools:
                b = best[tool]
                if not b["ok"]:
                    continue
                t, rss = self.timed_rss(self.cmd(tool, self.port, 1, False, 1))
                cpu_small = self.last_cpu
                if t is not None and (b["small_t"] is None or t < b["small_t"]):
                    b["small_t"], b["small_rss"] = t, rss
                t, rss = self.timed_rss(self.cmd(tool, self.port, 1, True, 1))
                if t is None or rss is None:
                    b["ok"] = False
                    continue
                if b["big_t"] is None or t < b["big_t"]:
                    b["big_t"], b["big_rss"] = t, rss
                if self.last_cpu is not None and cpu_small is not None:
                    b["cpu"].append(self.last_cpu - cpu_small)
        for tool in self.tools:
            b = best[tool]
            if not b["ok"] or b["big_t"] is None or b["small_t"] is None:
                for m in ("big_mbs", "big_rss", "big_growth", "big_extra", "big_cpu"):
                    self.put(m, tool, None)
                continue
            mbs = BIG_SIZE / 1e6 / max(b["big_t"] - b["small_t"], 1e-6)
            # CPU time is sampled at clock ticks (10 ms steps in time(1)'s
            # output): the median of the runs, not the luckiest one.
            b["cpu"] = sorted(b["cpu"])[len(b["cpu"]) // 2] if b["cpu"] else None
            growth = b["big_rss"] - b["small_rss"]
            self.put("big_mbs", tool, mbs)
            self.put("big_rss", tool, b["big_rss"])
            self.put("big_growth", tool, growth)
            self.put("big_cpu", tool, b["cpu"])
            # smtpc-bench, peer_curl and peer_esmtp map the file, smtplib
            # reads it: the message's own 64 MiB are resident in all four.
            holds = tool in ("smtpc", "curl", "esmtp", "smtplib")
            self.put("big_extra", tool, growth - BIG_SIZE if holds else growth)
            log("%-12s 64 MiB: %.0f MB/s, client CPU %s s, peak RSS %.1f MiB (+%.1f MiB over a "
                "1 KiB message)" % (tool, mbs, "%.2f" % b["cpu"] if b["cpu"] is not None else "?",
                                    b["big_rss"] / 2**20, growth / 2**20))
        self.cmds.append("/usr/bin/time -f '%e %M %U %S' " +
                         " ".join(self.cmd("smtpc", self.port, 1, True, 1)) +
                         "   (and the same with msg-1k.eml, tools taking turns, best of 7: "
                         "MB/s = 64 MiB / (t64M - t1K); CPU = median of (user+sys)(64M) - (user+sys)(1K))")

    # ---- 6. heap per session, 7. footprint ---------------------------------------
    def heap(self):
        if not os.path.exists(self.a.heap):
            self.notes.append("heap_per_session not built: no heap figures")
            return
        r, _, _ = self.run([self.a.heap, self.msg], timeout=120)
        if r is None:
            return
        for line in r.stdout.decode().splitlines():
            d = json.loads(line)
            self.detail.setdefault("heap", {})[d["scenario"]] = d
        self.cmds.append("%s msg-1k.eml" % self.a.heap)

    def mime(self):
        """MIME builder encoders: base64 and quoted-printable MB/s and the
        peak RSS of streaming a file attachment (bench/mime_bench)."""
        prog = os.path.join(os.path.dirname(self.a.heap), "mime_bench")
        if not os.path.exists(prog):
            self.notes.append("mime_bench not built: no MIME encoder figures")
            return
        args = [prog, "-f", "256", "-b", "256", "-q", "64"]
        best = {}
        text = ""
        for _ in range(3):  # best of 3: wall clock on a shared machine
            r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=300)
            text = r.stdout.decode(errors="replace")
            for key, pat in (("base64", r"^base64 .*: (\d+) MB/s of input"),
                             ("qp", r"^qp .*: (\d+) MB/s of input"),
                             ("file", r"^file .*\((\d+) MB/s of input\)")):
                m = re.search(pat, text, re.M)
                if m:
                    best[key] = max(best.get(key, 0), int(m.group(1)))
            m = re.search(r"peak RSS (\d+) KiB before, (\d+) KiB after", text)
            if m:
                best["rss_growth_kib"] = int(m.group(2)) - int(m.group(1))
        self.detail["mime"] = (best, text)
        self.cmds.append(" ".join(["bench/mime_bench"] + args[1:]) + "   (best of 3)")

    def embedded(self):
        script = os.path.join(self.a.srcdir, "bench", "check-embedded.sh")
        r = subprocess.run(["bash", script], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=300,
                           env=dict(os.environ, top_srcdir=self.a.srcdir))
        text = r.stdout.decode(errors="replace")
        self.detail["embedded"] = (r.returncode, text)
        self.cmds.append("bench/check-embedded.sh")

    # ---- 8. TLS: STARTTLS + AUTH session set-up (callgrind) -------------------
    TLS_FUNCS = {
        "smtpc": [
            ("smtpc_session_open", "whole dialogue: EHLO, STARTTLS, handshake, EHLO, AUTH"),
            ("mbedtls_ssl_handshake", "TLS handshake"),
            ("mbedtls_ecdh_make_public", "ECDHE: ephemeral key"),
            ("mbedtls_ecdh_calc_secret", "ECDHE: shared secret"),
            ("mbedtls_rsa_public", "RSA-2048 signature checks (chain + key exchange)"),
            ("mbedtls_ssl_parse_certificate", "server certificate: parse + verify"),
            ("smtpc_tls_new", "smtpc_tls_new (entropy + DRBG seed)"),
            ("mbedtls_havege_init", "of which HAVEGE entropy source init"),
            ("smtpc_tls_set_cafile", "CA file parse"),
            ("_int_malloc", "malloc (self)"),
        ],
        "curl": [
            ("curl_easy_perform", "whole transfer: connect, EHLO, STARTTLS, EHLO, AUTH, NOOP"),
            ("SSL_do_handshake", "TLS handshake"),
            ("EVP_PKEY_keygen", "ECDHE: ephemeral key"),
            ("EVP_PKEY_derive", "ECDHE: shared secret"),
            ("SSL_CTX_new", "SSL_CTX_new"),
            ("X509_STORE_load_file", "CA file load"),
            ("curl_easy_cleanup", "cleanup (QUIT)"),
        ],
    }

    def inclusive(self, path, self_cost=False):
        """{function: Ir} from callgrind_annotate (inclusive or self)."""
        r = subprocess.run(["callgrind_annotate", "--auto=no",
                            "--inclusive=" + ("no" if self_cost else "yes"),
                            "--threshold=100", path], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=300)
        fn = {}
        for line in r.stdout.decode(errors="replace").splitlines():
            m = re.match(r"\s*([\d,]+)\s+\([\s\d.]+%\)\s+(\S+?)(?:\s+\[(.*)\])?\s*$", line)
            if not m or ":" not in m.group(2):
                continue
            func = m.group(2).rpartition(":")[2]
            if func.startswith("0x"):  # a static function without a symbol
                func = "%s in %s" % (func, os.path.basename(m.group(3) or "?"))
            v = int(m.group(1).replace(",", ""))
            # Self costs of a function listed under two files (inlined
            # parts) add up; inclusive costs overlap, so take the larger.
            fn[func] = fn.get(func, 0) + v if self_cost else max(fn.get(func, 0), v)
        return fn

    def have_mbedtls(self):
        conf = os.path.join(os.path.dirname(os.path.dirname(self.a.smtpc)), "config.h")
        try:
            return "#define SMTPC_HAVE_MBEDTLS 1" in open(conf).read()
        except OSError:
            return True  # cannot tell: let the run show it

    def tls(self):
        testbed = os.path.join(self.a.srcdir, "tests", "postfix-testbed.sh")
        prog = os.path.join(os.path.dirname(self.a.smtpc), "tls_setup")
        curl = os.path.join(self.a.peers, "peer_curl_tls")
        why = None
        if os.geteuid() != 0:
            why = "not root"
        elif not all(shutil.which(c, path=os.environ.get("PATH", "") + ":/usr/sbin")
                     for c in ("postfix", "saslpasswd2", "openssl")):
            why = "postfix, sasl2-bin or openssl missing"
        elif not shutil.which("valgrind"):
            why = "valgrind missing"
        elif not os.path.exists(prog):
            why = "bench/tls_setup not built"
        elif not self.have_mbedtls():
            why = "libsmtpc built without mbedTLS"
        if why:
            self.notes.append("TLS set-up not measured: " + why)
            return
        top = tempfile.mkdtemp(prefix="smtpc-bench-pfx.")
        os.chmod(top, 0o755)  # Postfix's daemons traverse it
        pfx = os.path.join(top, "pfx")
        env = dict(os.environ, PFX_PORT=str(free_port()), PFX_SMTPS_PORT=str(free_port()),
                   PFX_AUTHPLAIN_PORT=str(free_port()))
        try:
            r = subprocess.run(["bash", testbed, "start", pfx], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=120)
            if r.returncode != 0:
                self.notes.append("TLS set-up not measured: Postfix testbed did not start")
                log(r.stdout.decode(errors="replace")[-2000:])
                return
            pf = {}
            for line in open(os.path.join(pfx, "env")):
                m = re.match(r"^(PFX_\w+)='(.*)'$", line.strip())
                if m:
                    pf[m.group(1)] = m.group(2)
            os.environ["BENCH_PASS"] = pf["PFX_PASS"]  # children inherit it
            key = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", pf["PFX_CAFILE"]],
                                 stdout=subprocess.PIPE, timeout=30).stdout.decode()
            m = re.search(r"Public-Key: \((\d+) bit\)", key)
            self.tls_key = "RSA-%s" % m.group(1) if m and "rsaEncryption" in key else "?"
            # *_res: the same sessions sharing a TLS session cache (tls_setup:
            # an smtpc_tls_cache, and every session after the first must
            # resume or the run fails; peer_curl_tls: libcurl's session-ID
            # cache shared between its handles)
            runs = [("smtpc", [prog]), ("curl", [curl]), ("curl12", [curl]),
                    ("smtpc_res", [prog]), ("curl_res", [curl])]
            n1, n2 = 1, 1 + self.tls_count
            for tool, argv0 in runs:
                if tool.startswith("curl") and "curl" not in self.tools:
                    continue
                tot = {}
                for n in (0, n1, n2):
                    out = os.path.join(self.work, "cg.tls.%s.%d.out" % (tool, n))
                    argv = argv0 + ["127.0.0.1", pf["PFX_PORT"], str(n), pf["PFX_CAFILE"],
                                    pf["PFX_USER"]] + (["1.2"] if tool == "curl12" else []) + (
                                        ["resume"] if tool.endswith("_res") else [])
                    r, _, _ = self.run(argv, timeout=600, prefix=[
                        "valgrind", "--tool=callgrind", "--callgrind-out-file=" + out])
                    tot[n] = self.callgrind_total(out) if r is not None else None
                ok = None not in tot.values()
                slope = (tot[n2] - tot[n1]) / (n2 - n1) if ok else None
                first = tot[n1] - tot[0] if ok else None
                key_ = {"curl12": "curl", "smtpc_res": "smtpc", "curl_res": "curl"}.get(tool, tool)
                metric = {"curl12": "tls_instr12", "smtpc_res": "tls_instr_res",
                          "curl_res": "tls_instr_res"}.get(tool, "tls_instr")
                self.put(metric, key_, slope)
                if metric == "tls_instr":
                    self.put("tls_first", key_, first)
                log("%-12s TLS set-up: %s instructions/session (first session %s)" % (
                    tool, "%.0f" % slope if ok else "FAILED", "%.0f" % first if ok else "-"))
                if ok and tool in self.TLS_FUNCS:
                    a = self.inclusive(os.path.join(self.work, "cg.tls.%s.%d.out" % (tool, n1)))
                    b = self.inclusive(os.path.join(self.work, "cg.tls.%s.%d.out" % (tool, n2)))
                    rows = [(f, what, (b.get(f, 0) - a.get(f, 0)) / (n2 - n1))
                            for f, what in self.TLS_FUNCS[tool]]
                    self.detail["tls_incl_" + tool] = rows
                    if tool == "smtpc":
                        a = self.inclusive(os.path.join(self.work, "cg.tls.smtpc.%d.out" % n1), True)
                        b = self.inclusive(os.path.join(self.work, "cg.tls.smtpc.%d.out" % n2), True)
                        per = {k: (b.get(k, 0) - a.get(k, 0)) / (n2 - n1) for k in set(a) | set(b)}
                        self.detail["tls_self_smtpc"] = sorted(per.items(), key=lambda kv: -kv[1])[:15]
            # heap of one TLS session (bench/tls_heap): full and resumed
            heap = os.path.join(os.path.dirname(self.a.smtpc), "tls_heap")
            if os.path.exists(heap):
                for mode in ("full", "resume"):
                    r, _, _ = self.run([heap, "127.0.0.1", pf["PFX_PORT"], pf["PFX_CAFILE"],
                                        pf["PFX_USER"]] + (["resume"] if mode == "resume" else []),
                                       timeout=120)
                    try:
                        out = r.stdout.decode(errors="replace")
                        self.detail["tls_heap_" + mode] = json.loads(out.strip().splitlines()[-1])
                    except (AttributeError, IndexError, ValueError):
                        self.notes.append("bench/tls_heap %s failed" % mode)
            # what each side negotiated, from Postfix's log
            try:
                log_ = open(os.path.join(pfx, "maillog"), errors="replace").read()
                self.detail["tls_negotiated"] = sorted(set(
                    re.sub(r"^.*TLS connection established from [^:]*: ", "", l)
                    for l in log_.splitlines() if "TLS connection established" in l))
            except OSError:
                pass
            if res_get(self.res, "tls_instr12", "curl") is not None:
                self.put("tls_instr12", "smtpc", res_get(self.res, "tls_instr", "smtpc"))
        finally:
            subprocess.run(["bash", testbed, "stop", pfx], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=60)
            shutil.rmtree(top, ignore_errors=True)
        self.cmds.append("tests/postfix-testbed.sh start DIR (STARTTLS on PORT, %s certificate, "
                         "Cyrus SASL); for N in 0 1 %d:" % (self.tls_key, n2))
        self.cmds.append("  BENCH_PASS=... valgrind --tool=callgrind tls_setup 127.0.0.1 PORT N "
                         "ca.crt testuser [resume]   (and peer_curl_tls ... [1.2] [resume])")
        self.cmds.append("  instructions/session = (Ir(%d) - Ir(1)) / %d; first session = Ir(1) - Ir(0)"
                         % (n2, n2 - n1))

    # ---- 9. many concurrent sessions from one thread ----------------------------
    def many_cmd(self, tool, prog, port, sessions, per, iobuf=None):
        if tool == "smtpc":
            return [prog, "127.0.0.1", str(port), str(sessions), str(per), self.msg] + \
                ([str(iobuf)] if iobuf else [])
        # -s: sessions in parallel; -d: every session sends several messages
        return [self.a.smtp_source] + (["-d"] if per > 1 else []) + \
            ["-s", str(sessions), "-m", str(sessions * per), "-f", "bench@example.com",
             "-t", "rcpt@example.com", "-M", "bench.local", "-F", self.msg_lf,
             "127.0.0.1:%d" % port]

    def many_run(self, tool, prog, port, per, iobuf=None):
        """msgs/s (best of reps) with self.sessions sessions at once, and the
        peak RSS growth per session over the same tool with one session."""
        n = self.sessions
        _, rss1 = self.timed_rss(self.many_cmd(tool, prog, port, 1, per, iobuf))
        best, rssn, own = None, None, None
        for _ in range(self.reps):
            dt, rss = self.timed_rss(self.many_cmd(tool, prog, port, n, per, iobuf), True)
            if dt is None:
                best = None
                break
            if best is None or dt < best:
                best = dt
                if tool == "smtpc":  # many_sessions' own account of that run
                    own = json.loads(self.last_stdout.decode())
            rssn = rss if rssn is None else max(rssn, rss)
        if own is not None:
            self.detail.setdefault("many", []).append(own)
        if iobuf:
            return
        ok = best is not None and rss1 is not None and rssn is not None
        self.put("many_msgs_s_%d" % per, tool, n * per / best if ok else None)
        self.put("many_rss_%d" % per, tool, (rssn - rss1) / (n - 1) if ok and n > 1 else None)
        log("%-12s %d sessions x %d msgs: %s msgs/s, %s bytes RSS/session" % (
            tool, n, per, "%.0f" % (n * per / best) if ok else "FAILED",
            "%.0f" % ((rssn - rss1) / (n - 1)) if ok and n > 1 else "-"))

    def many(self):
        prog = os.path.join(os.path.dirname(self.a.smtpc), "many_sessions")
        if not os.path.exists(prog) or not os.path.exists("/usr/bin/time"):
            self.notes.append("many sessions not measured: bench/many_sessions or /usr/bin/time missing")
            return
        n = self.sessions
        need = 2 * n + 256  # the sink's descriptors: one per session, and ours
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < need:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
            except (ValueError, OSError):
                self.notes.append("many sessions: RLIMIT_NOFILE hard limit %d < %d" % (hard, need))
                return
        elif soft != resource.RLIM_INFINITY and soft < need:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
        port = free_port()
        argv = [self.a.smtp_sink] + (["-u", "nobody"] if os.geteuid() == 0 else []) + \
            ["-m", str(n + 100), "127.0.0.1:%d" % port, str(n + 100)]
        self.many_sink_cmd = " ".join(argv).replace(str(port), "PORT")
        sink = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if not wait_port(port, sink):
                self.notes.append("many sessions: smtp-sink -m did not start")
                return
            for per in (1, 10):
                for tool in ("smtpc", "smtp-source"):
                    if tool == "smtpc" or tool in self.tools:
                        self.many_run(tool, prog, port, per)
            # the same with 4 KiB read and write buffers: most of a
            # session's heap is its I/O buffers (smtpc_session_set_limit)
            self.many_run("smtpc", prog, port, 1, 4096)
        finally:
            if sink.poll() is None:
                sink.terminate()
                try:
                    sink.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    sink.kill()
                    sink.wait(timeout=5)
        self.cmds.append(self.many_sink_cmd + "   (-m: connections served at once)")
        self.cmds.append("/usr/bin/time -f '%%e %%M' many_sessions 127.0.0.1 PORT {1,%d} {1,10} msg-1k.eml [4096]"
                         "   (msgs/s best of %d; RSS/session = (RSS(%d) - RSS(1)) / %d)" %
                         (n, self.reps, n, n - 1))
        self.cmds.append("/usr/bin/time -f '%%e %%M' smtp-source [-d] -s {1,%d} -m {1,10}x -f bench@example.com "
                         "-t rcpt@example.com -M bench.local -F msg-1k-lf.eml 127.0.0.1:PORT" % n)

    # ---- report ------------------------------------------------------------------
    def report(self):
        R = self.res
        out = []
        w = out.append

        def fmt(v, kind):
            if v is None:
                return "n/a"
            if kind == "int":
                return "{:,.0f}".format(v)
            if kind == "f1":
                return "%.1f" % v
            if kind == "f2":
                return "%.2f" % v
            if kind == "mib":
                return "%.1f MiB" % (v / 2**20)
            if kind == "kib":
                return "%.0f KiB" % (v / 1024)
            if kind == "kib1":
                return "%.1f KiB" % (v / 1024)
            return str(v)

        rows = [
            ("msgs/s, 1 rcpt", "msgs_s_1", "int", True),
            ("msgs/s, 10 rcpt", "msgs_s_10", "int", True),
            ("instructions/msg, 1 rcpt", "instr_1", "int", False),
            ("instructions/msg, 10 rcpt", "instr_10", "int", False),
            ("syscalls/msg (strace), 1 rcpt", "sys_1", "f2", False),
            ("syscalls/msg (strace), 10 rcpt", "sys_10", "f2", False),
            ("syscalls/msg (perf trace), 1 rcpt", "perf_1", "f2", False),
            ("syscalls/msg (perf trace), 10 rcpt", "perf_10", "f2", False),
            ("round trips/msg, 1 rcpt", "rt_1", "f2", False),
            ("round trips/msg, 10 rcpt", "rt_10", "f2", False),
            ("64 MiB: MB/s", "big_mbs", "int", True),
            ("64 MiB: peak RSS", "big_rss", "mib", False),
            ("64 MiB: RSS beyond the message", "big_extra", "mib", False),
            ("64 MiB: client CPU seconds (user+sys, median)", "big_cpu", "f2", False),
            ("STARTTLS + AUTH session set-up: instructions", "tls_instr", "int", False),
            ("STARTTLS + AUTH: first session of the process", "tls_first", "int", False),
            ("STARTTLS + AUTH set-up, libcurl capped at TLS 1.2", "tls_instr12", "int", False),
            ("STARTTLS + AUTH set-up with a TLS session cache (resumed)", "tls_instr_res", "int",
             False),
            ("%d sessions at once × 1 msg: msgs/s" % self.sessions, "many_msgs_s_1", "int", True),
            ("%d sessions at once × 10 msgs: msgs/s" % self.sessions, "many_msgs_s_10", "int", True),
            ("%d sessions × 1 msg: RSS growth/session" % self.sessions, "many_rss_1", "kib1", False),
            ("%d sessions × 10 msgs: RSS growth/session" % self.sessions, "many_rss_10", "kib1", False),
        ]
        tools = self.tools
        w("| metric | " + " | ".join(LABEL[t] for t in tools) + " |")
        w("|---|" + "---:|" * len(tools))
        for title, key, kind, _ in rows:
            if key not in R:
                continue
            w("| %s | " % title + " | ".join(fmt(R[key].get(t), kind) for t in tools) + " |")
        w("")
        w("Ratios (>1 means libsmtpc is better: peer/smtpc for costs, smtpc/peer for rates):")
        w("")
        peers = [t for t in tools if t != "smtpc"]
        w("| metric | " + " | ".join("vs " + LABEL[t] for t in peers) + " |")
        w("|---|" + "---:|" * len(peers))
        for title, key, kind, higher in rows:
            if key not in R or key == "big_rss":
                continue
            cells = []
            s = R[key].get("smtpc")
            for t in peers:
                p = R[key].get(t)
                if s is None or p is None or (s <= 0 if higher else p < 0):
                    cells.append("n/a")
                elif higher:
                    cells.append("%.2f×" % (s / p) if p > 0 else "n/a")
                elif s <= 0:
                    cells.append("∞" if p > 0 else "n/a")
                else:
                    cells.append("%.2f×" % (p / s))
            w("| %s | " % title + " | ".join(cells) + " |")
        w("")
        return "\n".join(out)

    def targets(self):
        R = self.res
        g = lambda k, t: (R.get(k) or {}).get(t)
        out = []

        def line(name, ok, val):
            out.append("| %s | %s | %s |" % (name, val, "n/a" if ok is None
                                             else ("met" if ok else "**NOT met**")))
        out.append("| target (issue 6) | measured | status |")
        out.append("|---|---|---|")
        for n in (1, 10):
            v = g("rt_%d" % n, "smtpc")
            line("round trips/msg with PIPELINING = 1 (steady state), %d rcpt" % n,
                 None if v is None else v <= 1.05, "n/a" if v is None else "%.2f" % v)
        s1, c1, e1 = g("msgs_s_1", "smtpc"), g("msgs_s_1", "curl"), g("msgs_s_1", "esmtp")
        s10, c10 = g("msgs_s_10", "smtpc"), g("msgs_s_10", "curl")
        if s1 and c1:
            line("msgs/s ≥ 2× libcurl, 1 rcpt", s1 >= 2 * c1, "%.2f×" % (s1 / c1))
        if s1 and e1:
            line("msgs/s ≥ 1.5× libESMTP, 1 rcpt", s1 >= 1.5 * e1, "%.2f×" % (s1 / e1))
        if s10 and c10:
            line("msgs/s ≥ 3× libcurl, 10 rcpt", s10 >= 3 * c10, "%.2f×" % (s10 / c10))
        v = g("instr_1", "smtpc")
        if v is not None:
            line("instructions/msg ≤ 10,000 (1 rcpt)", v <= 10000, "{:,.0f}".format(v))
        v = g("sys_1", "smtpc")
        if v is not None:
            line("syscalls/msg ≤ 4 (strace, 1 rcpt)", v <= 4, "%.2f" % v)
        v = g("perf_1", "smtpc")
        if v is not None:
            line("syscalls/msg ≤ 4 (perf trace, unperturbed, 1 rcpt)", v <= 4, "%.2f" % v)
        v, c = g("big_extra", "smtpc"), g("big_mbs", "curl")
        if v is not None:
            line("64 MiB: RSS growth < 1 MiB (beyond the mapped message)", v < 2**20,
                 "%.2f MiB" % (v / 2**20))
        s = g("big_mbs", "smtpc")
        if s and c:
            line("64 MiB: MB/s ≥ libcurl", s >= c, "%.0f vs %.0f MB/s" % (s, c))
        s_, c_ = g("tls_instr", "smtpc"), g("tls_instr", "curl")
        if s_ and c_:
            line("TLS: STARTTLS + AUTH set-up instructions ≤ libcurl (OpenSSL)", s_ <= c_,
                 "{:,.0f} vs {:,.0f} ({:.2f}×)".format(s_, c_, s_ / c_))
        r_ = g("tls_instr_res", "smtpc")
        if r_ and c_:
            line("TLS: set-up with a session cache (resumed) ≤ libcurl (full handshake; "
                 "libcurl with its shared session cache: %s)" % (
                     "{:,.0f}".format(g("tls_instr_res", "curl"))
                     if g("tls_instr_res", "curl") else "not measured"),
                 r_ <= c_, "{:,.0f} vs {:,.0f} ({:.2f}×)".format(r_, c_, r_ / c_))
        for d in self.detail.get("many", []):
            line("%d concurrent sessions from one thread (poll), %d msg(s) each%s" %
                 (d["sessions"], d["msgs_per_session"],
                  ", %d-byte I/O buffers" % d["iobuf"] if d.get("iobuf") else ""),
                 d["sessions"] >= 1000 and d["accepted"] == d["messages"],
                 "%d of %d accepted, %.0f msgs/s, heap %.1f KiB/session" % (
                     d["accepted"], d["messages"], d["msgs_per_s"], d["heap_per_session"] / 1024))
        heap = self.detail.get("heap", {})
        if "one_msg_1rcpt" in heap:
            d = heap["one_msg_1rcpt"]
            line("heap per session < 4 KiB beyond I/O buffers (1 msg, 1 rcpt)",
                 d["peak_beyond_io"] < 4096, "%d bytes (+ %d bytes I/O buffers)" %
                 (d["peak_beyond_io"], d["peak_io"]))
        if "one_msg_10rcpt" in heap:
            d = heap["one_msg_10rcpt"]
            line("heap per session < 4 KiB beyond I/O buffers (1 msg, 10 rcpt)",
                 d["peak_beyond_io"] < 4096, "%d bytes" % d["peak_beyond_io"])
        mime = self.detail.get("mime")
        if mime and mime[0]:
            d = mime[0]
            line("MIME builder: base64 / quoted-printable MB/s (reported)", None,
                 "base64 %s MB/s, QP %s MB/s of input; a 256 MiB file attachment streams at "
                 "%s MB/s with %s KiB RSS growth" % (d.get("base64", "?"), d.get("qp", "?"),
                                                     d.get("file", "?"),
                                                     d.get("rss_growth_kib", "?")))
        emb = self.detail.get("embedded")
        if emb:
            m = re.search(r"summary core_text=(\d+).*mime_text=(\d+) mime_files=(\d+)", emb[1])
            kv = dict(re.findall(r"(\w+)=(\d+)", emb[1].split("check-embedded: summary", 1)[-1]))
            if "protocol_text" in kv:
                p_ = int(kv["protocol_text"])
                line("protocol core .text < 16 KiB (session, reply, EHLO, commands, AUTH, data)",
                     p_ < 16384, "%d bytes" % p_)
            if "core_text_with_mbedtls" in kv:
                w_ = int(kv["core_text_with_mbedtls"])
                line("core + support .text < 16 KiB, built with mbedTLS (MD5 from mbedTLS)",
                     w_ < 16384, "%d bytes" % w_)
            if m:
                core, mime, nm = int(m.group(1)), int(m.group(2)), int(m.group(3))
                line("core + support .text < 16 KiB, built without TLS (built-in MD5)",
                     core < 16384, "%d bytes" % core)
                if nm:
                    line("MIME .text < 8 KiB (Cortex-M4 -Os)", mime < 8192, "%d bytes" % mime)
            line("core uses no POSIX API (check-embedded)", emb[0] == 0,
                 "exit %d" % emb[0])
        return "\n".join(out)

    def details(self):
        out = []
        w = out.append
        for n in (1, 10):
            k = "callgrind_self_%d" % n
            if k in self.detail:
                tot, rows = self.detail[k]
                w("#### smtpc-bench: instructions per message by function (self cost, %d rcpt)" % n)
                w("")
                w("Slope between COUNT=1 and COUNT=200 of callgrind_annotate --auto=yes "
                  "--inclusive=no; lib/ code is summed by source line into the C function "
                  "it is written in, so inlined static helpers (scan_body, start_txn...) "
                  "show as themselves; total %.0f." % tot)
                w("")
                body = sum(v for k, v in rows if k.startswith(("smtpc__dot_encode ", "scan_body ")))
                w("Body byte loops (smtpc__dot_encode + scan_body): %.0f per message (%.1f per body octet), "
                  "everything else: %.0f." % (body, body / MSG_SIZE, tot - body))
                w("")
                w("| function (file) | Ir/msg | % |")
                w("|---|---:|---:|")
                for name, v in rows:
                    if v < 1:
                        continue
                    w("| %s | %.0f | %.1f |" % (name.replace("|", "\\|"), v, 100 * v / tot if tot else 0))
                w("")
        br = self.detail.get("sys_breakdown", {})
        if br:
            w("#### Syscalls per message by call (slope between COUNT=100 and COUNT=600)")
            w("")
            for (tracer, tool, n), rows in sorted(br.items()):
                w("- %s, %s, %d rcpt: " % (LABEL[tool], tracer, n) +
                  ", ".join("%s %.2f" % (k, v) for k, v in rows[:10]))
            w("")
        rt = self.detail.get("rt_raw")
        if rt:
            w("#### Delay sink sessions (flights = round trips, incl. greeting/EHLO/QUIT)")
            w("")
            for (tool, n, count), st in sorted(rt.items()):
                w("- %s, %d rcpt, %d msgs: %d flights, %d messages, body octets %s" %
                  (LABEL[tool], n, count, st["flights"], st["messages"],
                   st.get("body_octets_max")))
            w("")
        heap = self.detail.get("heap")
        if heap:
            w("#### Heap (bench/heap_per_session, counting smtpc_mem allocator, fake in-process server)")
            w("")
            for name, d in heap.items():
                w("- " + json.dumps(d))
            w("")
        if "big_growth" in self.res:
            w("#### 64 MiB message: peak RSS and growth over the same tool sending 1 KiB")
            w("")
            for t in self.tools:
                rss, gr = self.res["big_rss"].get(t), self.res["big_growth"].get(t)
                if rss is not None:
                    w("- %s: peak %.1f MiB, growth %.1f MiB" % (LABEL[t], rss / 2**20, gr / 2**20))
            w("")
        for tool in ("smtpc", "curl"):
            rows = self.detail.get("tls_incl_" + tool)
            if not rows:
                continue
            w("#### STARTTLS + AUTH set-up, %s: inclusive instructions per session" %
              {"smtpc": "libsmtpc (bench/tls_setup)", "curl": "libcurl (bench/peer_curl_tls)"}[tool])
            w("")
            w("Slope between COUNT=1 and COUNT=%d of callgrind_annotate --inclusive=yes." %
              (1 + self.tls_count))
            w("")
            w("| function | what | Ir/session |")
            w("|---|---|---:|")
            for f, what, v in rows:
                w("| %s | %s | %s |" % (f, what, "{:,.0f}".format(v)))
            w("")
        rows = self.detail.get("tls_self_smtpc")
        if rows:
            w("#### STARTTLS + AUTH set-up, libsmtpc: self cost per session, top 15")
            w("")
            w("| function | Ir/session |")
            w("|---|---:|")
            for f, v in rows:
                w("| %s | %s |" % (f, "{:,.0f}".format(v)))
            w("")
        if self.detail.get("tls_heap_full"):
            w("#### Heap of one TLS session (bench/tls_heap): bytes, from just before "
              "smtpc_tls_new(); the SMTP session's own heap apart")
            w("")
            w("| | after smtpc_tls_new | + CA file | after wrap | handshake peak | idle "
              "| peak while idle traffic | cache entry |")
            w("|---|---:|---:|---:|---:|---:|---:|---:|")
            for mode in ("full", "resume"):
                h = self.detail.get("tls_heap_" + mode)
                if h:
                    w("| %s | %s |" % ({"full": "full handshake", "resume": "resumed (2nd session)"}[mode],
                                       " | ".join("{:,}".format(h[k]) for k in (
                                           "tls_new", "cafile", "wrapped", "handshake_peak", "steady",
                                           "steady_peak", "cache"))))
            w("")
        neg = self.detail.get("tls_negotiated")
        if neg:
            w("#### TLS as negotiated (Postfix's log)")
            w("")
            for l in neg:
                w("- " + l)
            w("")
        many = self.detail.get("many")
        if many:
            w("#### bench/many_sessions, fastest run (its own account; heap = bytes the library "
              "asked its allocator for, at most at once; RSS growth = peak minus before the first "
              "session)")
            w("")
            for d in many:
                w("- " + json.dumps(d))
            w("")
        mime = self.detail.get("mime")
        if mime:
            w("#### MIME builder encoders (bench/mime_bench, last of 3 runs)")
            w("")
            w("```")
            w(mime[1].rstrip())
            w("```")
            w("")
        emb = self.detail.get("embedded")
        if emb:
            w("#### check-embedded (exit %d)" % emb[0])
            w("")
            w("```")
            w(emb[1].rstrip())
            w("```")
            w("")
        return "\n".join(out)


def res_get(res, metric, tool):
    return (res.get(metric) or {}).get(tool)


def c_functions(path):
    """Maps each line number of a C file to the function it belongs to
    (signature lines included), by brace depth outside comments, strings
    and character constants."""
    owner = {}
    try:
        text = open(path, errors="replace").read().split("\n")
    except OSError:
        return owner
    depth, pending, pending_start, current = 0, None, None, None
    in_comment = False
    for i, line in enumerate(text, 1):
        code, j, q = [], 0, None
        while j < len(line):
            c = line[j]
            if in_comment:
                if line.startswith("*/", j):
                    in_comment = False
                    j += 2
                    continue
                j += 1
                continue
            if q:
                if c == "\\":
                    j += 2
                    continue
                if c == q:
                    q = None
                j += 1
                continue
            if line.startswith("/*", j):
                in_comment = True
                j += 2
                continue
            if line.startswith("//", j):
                break
            if c in "\"'":
                q = c
            code.append(c)
            j += 1
        code = "".join(code)
        if depth == 0 and not code.startswith("#"):
            m = re.match(r"^[A-Za-z_][\w\s\*]*?\b([A-Za-z_]\w*)\s*\(", code)
            if m and not code.rstrip().endswith(";"):
                pending, pending_start = m.group(1), i
        for c in code:
            if c == "{":
                if depth == 0 and pending:
                    current = pending
                    for k in range(pending_start, i):
                        owner[k] = current
                depth += 1
            elif c == "}":
                depth = max(0, depth - 1)
        if depth > 0 or (current and "}" in code):
            owner[i] = current
        if depth == 0:
            if "}" in code:
                current = None
            if code.rstrip().endswith(";"):
                pending = None
    return owner


def machine():
    model, cores = "?", os.cpu_count()
    try:
        r = subprocess.run(["lscpu"], stdout=subprocess.PIPE, timeout=10)
        for line in r.stdout.decode().splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        kern = os.uname().release
    except AttributeError:
        kern = "?"
    return "%s, %s cores, Linux %s" % (model, cores, kern)


def versions(a):
    v = []
    for pkg in ("libcurl4", "libesmtp6", "postfix", "valgrind", "strace"):
        try:
            r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10)
            if r.returncode == 0:
                v.append("%s %s" % (pkg, r.stdout.decode()))
        except OSError:
            pass
    v.append("Python %s" % sys.version.split()[0])
    try:
        r = subprocess.run(["git", "-C", a.srcdir, "describe", "--always", "--dirty"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10)
        if r.returncode == 0:
            v.append("libsmtpc %s" % r.stdout.decode().strip())
    except OSError:
        pass
    return ", ".join(v)


def relative_paths(text, a):
    """Names files relative to the work, build and source trees, so that the
    report holds no absolute path of the machine that ran it."""
    build = os.path.dirname(os.path.dirname(os.path.abspath(a.smtpc)))
    for d in sorted({a.work, build, os.path.abspath(a.srcdir)}, key=len, reverse=True):
        text = text.replace(d.rstrip("/") + "/", "")
    return text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--srcdir", required=True)
    ap.add_argument("--smtpc", required=True)
    ap.add_argument("--heap", required=True)
    ap.add_argument("--peers", required=True)
    ap.add_argument("--work")
    ap.add_argument("--out", required=True)
    ap.add_argument("--smtp-sink", default=shutil.which("smtp-sink") or "/usr/sbin/smtp-sink")
    ap.add_argument("--smtp-source", default=shutil.which("smtp-source") or "/usr/sbin/smtp-source")
    a = ap.parse_args()
    own_work = a.work is None
    if own_work:
        a.work = tempfile.mkdtemp(prefix="smtpc-bench.")
    b = Bench(a)
    t0 = time.monotonic()
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    try:
        b.make_msgs()
        b.start_sink()
        steps = [("tput", b.throughput), ("instr", b.instructions), ("sys", b.syscalls),
                 ("rt", b.round_trips), ("big", b.big_message), ("tls", b.tls),
                 ("many", b.many), ("heap", b.heap), ("mime", b.mime),
                 ("embedded", b.embedded), ("bdat", b.chunking), ("dkim", b.dkim)]
        for name, fn in steps:
            if name in b.skip:
                continue
            ts = time.monotonic()
            log("== %s" % name)
            fn()
            log("== %s done in %.0f s" % (name, time.monotonic() - ts))
    finally:
        b.stop_sink()
    doc = []
    doc.append("## libsmtpc benchmark: %s" % started)
    doc.append("")
    doc.append("- machine: %s" % machine())
    doc.append("- software: %s" % versions(a))
    doc.append("- server: `%s` on 127.0.0.1 (advertises PIPELINING, 8BITMIME); round trips "
               "against `bench/delay_sink.py` (%g ms per reply flight)" %
               (b.sink_cmd.replace(str(b.port), "PORT"), b.delay_ms))
    doc.append("- 1 KiB message (1024 octets, CRLF), one connection per run; throughput: "
               "COUNT=%d (1 rcpt) and %d (10 rcpt), best of %d" % (b.count, b.count10, b.reps))
    if "tls_instr" in b.res:
        doc.append("- TLS set-up: a throwaway Postfix (tests/postfix-testbed.sh: STARTTLS, %s "
                   "certificate, Cyrus SASL PLAIN) on 127.0.0.1; every session a full handshake, "
                   "except in the rows marked resumed (a TLS session cache shared by the "
                   "sessions of one run)"
                   % getattr(b, "tls_key", "?"))
    if "many" in b.detail:
        doc.append("- many sessions: `%s` on 127.0.0.1" % b.many_sink_cmd)
    doc.append("- run time: %.0f s" % (time.monotonic() - t0))
    doc.append("")
    doc.append(b.report())
    doc.append(b.targets())
    doc.append("")
    if getattr(b, "chunking_md", None):
        doc.append(b.chunking_md)
    if getattr(b, "dkim_md", None):
        doc.append(b.dkim_md)
    if b.notes:
        doc.append("Notes: " + "; ".join(sorted(set(b.notes))))
        doc.append("")
    doc.append("Commands (representative):")
    doc.append("")
    for c in b.cmds:
        doc.append("    " + relative_paths(c, a).replace(" %d " % b.port, " PORT "))
    doc.append("")
    doc.append(b.details())
    text = "\n".join(doc) + "\n"
    with open(a.out, "w") as f:
        f.write(text)
    print(text)
    if own_work:
        shutil.rmtree(a.work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
