#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""chunking.py -- DATA beside BDAT: round trips per message against
bench/delay_sink.py and messages per second against a real Postfix smtpd.

    chunking.py --srcdir DIR --smtpc PATH/smtpc-bench [--delay-ms 20]
                [--count N] [--no-postfix]

1. Round trips.  bench/delay_sink.py --chunking (PIPELINING, CHUNKING, every
   reply flight delayed by --delay-ms) counts the flights of one connection.
   smtpc-bench sends N = 1 and 10 queued 1 KiB messages (one
   smtpc_session_run()) to 1 and 10 recipients, once with DATA and once with
   BDAT.  The EHLO and the QUIT take one flight each, so a message costs
   (flights - 2) / N round trips; the wall time of the session is reported
   too.
2. Messages per second.  A throwaway Postfix (tests/postfix-testbed.sh,
   smtpd with PIPELINING and CHUNKING on 127.0.0.1; the mail is queued and
   then discarded, so no Maildir delivery competes for the CPU) takes
   --count messages on one connection per run, queued 1 or 10 at a time, to
   1 or 10 recipients, with DATA and with BDAT.  Needs root and Postfix.

Prints a Markdown section on stdout.  Every child is bounded by a timeout;
everything listens on and connects to 127.0.0.1 only.  A benchmark, never
part of make check.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

RUN_TIMEOUT = 300


def log(*a):
    print("chunking:", *a, file=sys.stderr, flush=True)


def make_msg(path, size=1024):
    head = ("From: bench@example.com\r\nTo: rcpt0@example.com\r\n"
            "Subject: chunking benchmark\r\nMessage-ID: <chunking@example.com>\r\n"
            "\r\n")
    body = ""
    i = 0
    while len(head) + len(body) < size:
        body += "%05d the quick brown fox jumps over the lazy dog 0123456789\r\n" % i
        i += 1
    data = (head + body)[:size - 2] + "\r\n"
    with open(path, "w", newline="") as f:
        f.write(data)


def delay_runs(a, msg, work):
    pf = os.path.join(work, "delay.port")
    sf = os.path.join(work, "delay.stats")
    runs = [(m, n, r) for m in ("data", "bdat") for n in (1, 10) for r in (1, 10)]
    argv = [sys.executable, os.path.join(a.srcdir, "bench", "delay_sink.py"),
            "--port-file", pf, "--delay-ms", str(a.delay_ms), "--chunking",
            "--sessions", str(len(runs)), "--stats", sf, "--timeout", "300"]
    ds = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = {}
    try:
        end = time.monotonic() + 10
        while not os.path.exists(pf) and time.monotonic() < end:
            time.sleep(0.02)
        port = open(pf).read().strip()
        for i, (mode, n, r) in enumerate(runs):
            rc = subprocess.run([a.smtpc, "127.0.0.1", port, str(n), msg, str(r), mode, str(n)],
                                timeout=RUN_TIMEOUT).returncode
            end = time.monotonic() + 10
            lines = []
            while time.monotonic() < end:
                lines = open(sf).read().splitlines() if os.path.exists(sf) else []
                if len(lines) > i:
                    break
                time.sleep(0.02)
            st = json.loads(lines[i]) if len(lines) > i else None
            if rc != 0 or st is None or st["messages"] != n:
                out[(mode, n, r)] = None
                log("%s %d msgs %d rcpts: FAILED" % (mode, n, r))
                continue
            out[(mode, n, r)] = ((st["flights"] - 2) / n, st["seconds"] * 1000 / n)
            log("%s %2d msgs %2d rcpts: %.2f round trips/msg, %.0f ms/msg" %
                ((mode, n, r) + out[(mode, n, r)]))
    finally:
        if ds.poll() is None:
            ds.terminate()
            try:
                ds.wait(timeout=5)
            except subprocess.TimeoutExpired:
                ds.kill()
    return out


def postfix_runs(a, msg):
    testbed = os.path.join(a.srcdir, "tests", "postfix-testbed.sh")
    if os.geteuid() != 0 or not shutil.which("postfix", path=os.environ.get("PATH", "") + ":/usr/sbin"):
        return None, "not root or no Postfix"
    top = tempfile.mkdtemp(prefix="smtpc-chunking-pfx.")
    os.chmod(top, 0o755)
    pfx = os.path.join(top, "pfx")
    import socket

    def free_port():
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        return p

    port = free_port()
    env = dict(os.environ, PFX_PORT=str(port), PFX_SMTPS_PORT=str(free_port()),
               PFX_AUTHPLAIN_PORT=str(free_port()), PFX_DOMAIN="example.com",
               # queued by smtpd and cleanup, then thrown away by qmgr
               PFX_POSTCONF="virtual_transport = discard:benchmark\n"
                            "smtpd_client_connection_rate_limit = 0\n"
                            "smtpd_client_message_rate_limit = 0")
    out = {}
    try:
        r = subprocess.run(["bash", testbed, "start", pfx], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        if r.returncode != 0:
            return None, "the Postfix test bed did not start"
        version = subprocess.run(["/usr/sbin/postconf", "-d", "-h", "mail_version"],
                                 stdout=subprocess.PIPE, text=True).stdout.strip()
        for r in (1, 10):
            for q in (1, 10):
                for mode in ("data", "bdat"):
                    t0 = time.monotonic()
                    rc = subprocess.run([a.smtpc, "127.0.0.1", str(port), str(a.count), msg,
                                         str(r), mode, str(q)], timeout=RUN_TIMEOUT).returncode
                    dt = time.monotonic() - t0
                    out[(mode, q, r)] = a.count / dt if rc == 0 else None
                    log("postfix %s queued %2d, %2d rcpts: %s msgs/s" %
                        (mode, q, r, "%.0f" % out[(mode, q, r)] if rc == 0 else "FAILED"))
        return out, version
    finally:
        subprocess.run(["bash", testbed, "stop", pfx], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
        shutil.rmtree(top, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--srcdir", required=True)
    ap.add_argument("--smtpc", required=True)
    ap.add_argument("--delay-ms", type=float, default=20.0)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--no-postfix", action="store_true")
    a = ap.parse_args()
    if not (0 < a.delay_ms <= 1000 and 1 <= a.count <= 100000):
        ap.error("argument out of range")
    work = tempfile.mkdtemp(prefix="smtpc-chunking.")
    try:
        msg = os.path.join(work, "msg-1k.eml")
        make_msg(msg)
        rt = delay_runs(a, msg, work)
        pf, why = (None, "--no-postfix") if a.no_postfix else postfix_runs(a, msg)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def f(v, fmt):
        return fmt % v if v is not None else "failed"

    print("### DATA beside BDAT (CHUNKING)")
    print()
    print("Round trips per message and wall time per message against "
          "`bench/delay_sink.py --chunking --delay-ms %g` (1 KiB messages, all queued "
          "before one `smtpc_session_run()`; EHLO and QUIT flights not counted):" % a.delay_ms)
    print()
    print("| messages queued | recipients | DATA round trips/msg | BDAT round trips/msg "
          "| DATA session ms / msgs | BDAT session ms / msgs |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in (1, 10):
        for r in (1, 10):
            d, b = rt.get(("data", n, r)), rt.get(("bdat", n, r))
            print("| %d | %d | %s | %s | %s | %s |" % (
                n, r, f(d and d[0], "%.2f"), f(b and b[0], "%.2f"),
                f(d and d[1], "%.0f"), f(b and b[1], "%.0f")))
    print()
    if pf is None:
        print("Postfix messages/second not measured: %s." % why)
        return 0
    print("Messages per second into Postfix %s `smtpd` (PIPELINING, CHUNKING; queued, "
          "then discarded) on 127.0.0.1, %d 1 KiB messages on one connection per run, "
          "queued 1 or 10 at a time:" % (why, a.count))
    print()
    print("| queued | recipients | DATA msgs/s | BDAT msgs/s |")
    print("|---:|---:|---:|---:|")
    for r in (1, 10):
        for q in (1, 10):
            print("| %d | %d | %s | %s |" % (q, r, f(pf.get(("data", q, r)), "%.0f"),
                                            f(pf.get(("bdat", q, r)), "%.0f")))
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
