#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""dkim_peers.py -- dkimpy (Debian: python3-dkim) signing the messages that
bench/dkim_bench signs, for bench/dkim.py.

    dkim_peers.py --rsa KEY.pem --ed25519 KEY.pem --msg1k MSG --big MSG
                  [--count N] [--reps R]

For each key (an RSA-2048 key and an Ed25519 key, PKCS#8 PEM as
`openssl genpkey` writes them), relaxed/relaxed, d=example.com, s=bench:
  - ms per signature of the 1 KiB message: N signatures in a row (after a
    few to warm up), best of R runs;
  - MB/s of the big message: one dkim.sign() of the whole message, which
    dkimpy takes in memory (read from the file before the clock starts),
    best of R runs; 10^6 octets of the file per second.
Both by the wall clock and by the CPU time of the process (user + system,
time.process_time()), each the best of R.
Prints one JSON object per key on stdout.  A benchmark, not a test.
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import time

# This directory comes first on sys.path, and its dkim.py (bench/dkim.py)
# would shadow dkimpy's module of the same name.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]
import dkim  # noqa: E402 (after the sys.path fix)


def ed25519_seed(path):
    """dkimpy takes an Ed25519 key as the base64 of its 32-octet seed: the
    last 32 octets of the PKCS#8 DER (RFC 8410)."""
    der = subprocess.run(["openssl", "pkey", "-in", path, "-outform", "DER"],
                         stdout=subprocess.PIPE, check=True, timeout=30).stdout
    if len(der) != 48:
        sys.exit("dkim_peers.py: %s is not a PKCS#8 Ed25519 key" % path)
    return base64.b64encode(der[-32:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rsa", required=True)
    ap.add_argument("--ed25519", required=True)
    ap.add_argument("--msg1k", required=True)
    ap.add_argument("--big", required=True)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    with open(a.msg1k, "rb") as f:
        small = f.read()
    with open(a.rsa, "rb") as f:
        rsa_key = f.read()
    keys = [("rsa-sha256", rsa_key), ("ed25519-sha256", ed25519_seed(a.ed25519))]
    version = getattr(dkim, "__version__", None)
    if version is None:
        try:
            from importlib.metadata import version as dist_version
            version = dist_version("dkimpy")
        except Exception:  # noqa: BLE001 - only for the report
            version = "?"

    def sign(msg, algo, key):
        return dkim.sign(msg, b"bench", b"example.com", key,
                         canonicalize=(b"relaxed", b"relaxed"),
                         signature_algorithm=algo.encode(), linesep=b"\r\n")

    for algo, key in keys:
        for _ in range(5):
            fields = sign(small, algo, key)
        best = best_cpu = None
        for _ in range(a.reps):
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(a.count):
                sign(small, algo, key)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            best = dt if best is None else min(best, dt)
            best_cpu = dc if best_cpu is None else min(best_cpu, dc)
        ms = best * 1000 / a.count
        with open(a.big, "rb") as f:
            big = f.read()
        best_big = best_big_cpu = None
        for _ in range(a.reps):
            t0, c0 = time.perf_counter(), time.process_time()
            sign(big, algo, key)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            best_big = dt if best_big is None else min(best_big, dt)
            best_big_cpu = dc if best_big_cpu is None else min(best_big_cpu, dc)
        del big
        size = os.path.getsize(a.big)
        print(json.dumps({"tool": "dkimpy", "version": version, "algo": algo,
                          "ms_per_sig": ms, "ms_per_sig_cpu": best_cpu * 1000 / a.count,
                          "big_octets": size, "big_s": best_big, "mbps": size / 1e6 / best_big,
                          "cpu_mbps": size / 1e6 / best_big_cpu,
                          "fields": fields.decode("ascii", "replace")}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
