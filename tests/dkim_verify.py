#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""dkim_verify.py -- verify every DKIM-Signature of one message with dkimpy
(Debian python3-dkim; python3-nacl for ed25519-sha256), offline.

    dkim_verify.py KEYS [--count N] MESSAGE [[--count N] MESSAGE...]

KEYS holds the DNS TXT records the verifier may look up, one a line:
"NAME RECORD", e.g. "s1._domainkey.example.test v=DKIM1; k=rsa; p=MIIB...".
Nothing else is looked up: there is no DNS traffic.  Prints one line per
signature, "pass d=... s=... a=... c=..." or "fail ...: reason" (with
several messages each line starts with "MESSAGE: ", and a line "MESSAGE:
verdict pass" or "... verdict fail" ends each), and exits 0 only when each
message carries at least one signature (exactly N with the --count before
it) and every one verifies; 1 otherwise, 2 on a usage error.
"""
import logging
import sys

# No DNS library for dkimpy: it then has no resolver of its own (every key
# comes from dnsfunc below), and it starts in 0.1 s instead of about 1 s
# (dnspython loads an HTTP client).
sys.modules["dns"] = None
sys.modules["DNS"] = None
import dkim  # noqa: E402  (after the lines above, on purpose)


def load_keys(path):
    keys = {}
    with open(path, "rb") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(b"#"):
                continue
            name, _, record = line.partition(b" ")
            keys[name.lower().rstrip(b".")] = record.strip()
    return keys


USAGE = "usage: dkim_verify.py KEYS [--count N] MESSAGE [[--count N] MESSAGE...]\n"


class Collect(logging.Handler):
    """Keeps what dkimpy logs: the reason a signature fails."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        if record.levelno >= logging.INFO:
            self.lines.append(record.getMessage())


def verify_one(keys, path, count):
    """Returns (all good, the lines to print)."""
    with open(path, "rb") as f:
        msg = f.read()

    def dnsfunc(name, timeout=5):
        return keys.get(name.lower().rstrip(b"."))  # None: no such record

    headers, _ = dkim.rfc822_parse(msg)
    nsig = sum(1 for n, _ in headers if n.lower() == b"dkim-signature")
    if nsig == 0:
        return False, ["fail: the message has no DKIM-Signature"]
    if count is not None and nsig != count:
        return False, ["fail: %d DKIM-Signature fields, expected %d" % (nsig, count)]
    lines, failed = [], 0
    for idx in range(nsig):
        log = logging.getLogger("dkim_verify.%d" % idx)
        log.propagate = False
        log.setLevel(logging.DEBUG)
        for h in list(log.handlers):
            log.removeHandler(h)
        handler = Collect()
        log.addHandler(handler)
        d = dkim.DKIM(msg, logger=log, minkey=1024)
        try:
            good = d.verify(idx=idx, dnsfunc=dnsfunc)
            why = "; ".join(handler.lines[-2:]) or "signature did not verify"
        except dkim.DKIMException as e:
            good, why = False, "%s: %s" % (type(e).__name__, e)
        f = getattr(d, "signature_fields", None) or {}
        desc = " ".join(
            "%s=%s" % (t, f.get(t.encode(), b"?").decode("ascii", "replace"))
            for t in ("d", "s", "a", "c")
        )
        if good:
            lines.append("pass %s" % desc)
        else:
            failed += 1
            lines.append("fail %s: %s" % (desc, why))
    return failed == 0, lines


def main(argv):
    if not argv:
        sys.stderr.write(USAGE)
        return 2
    keys = load_keys(argv[0])
    jobs, count, i = [], None, 1
    while i < len(argv):
        if argv[i] == "--count" and i + 1 < len(argv):
            try:
                count = int(argv[i + 1])
            except ValueError:
                count = 0
            if count < 1:
                sys.stderr.write(USAGE)
                return 2
            i += 2
            continue
        jobs.append((argv[i], count))
        count, i = None, i + 1
    if not jobs or count is not None:
        sys.stderr.write(USAGE)
        return 2
    bad = 0
    for path, n in jobs:
        good, lines = verify_one(keys, path, n)
        bad += not good
        if len(jobs) == 1:
            print("\n".join(lines))
        else:
            for line in lines:
                print("%s: %s" % (path, line))
            print("%s: verdict %s" % (path, "pass" if good else "fail"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
