#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""peer_smtplib.py HOST PORT COUNT MSGFILE NRCPT -- the Python smtplib peer
of smtpc-bench: one connection (EHLO bench.local), COUNT sendmail() calls
(MAIL, RCPT x NRCPT, DATA, body: smtplib has no pipelining), QUIT.  Prints
nothing on stdout; exit 0 only if every message got 2xx after end-of-data
(smtplib raises otherwise)."""
import smtplib
import sys


def main():
    if len(sys.argv) != 6:
        sys.stderr.write("usage: peer_smtplib.py HOST PORT COUNT MSGFILE NRCPT\n")
        return 2
    host, port = sys.argv[1], int(sys.argv[2])
    count, nrcpt = int(sys.argv[3]), int(sys.argv[5])
    if not (1 <= count <= 100000000 and 1 <= nrcpt <= 10000):
        return 2
    with open(sys.argv[4], "rb") as f:
        msg = f.read()
    rcpts = ["rcpt%d@example.com" % k for k in range(nrcpt)]
    ok = 0
    s = smtplib.SMTP(host, port, local_hostname="bench.local", timeout=60)
    try:
        for i in range(count):
            refused = s.sendmail("bench@example.com", rcpts, msg)
            if refused:
                sys.stderr.write("peer_smtplib: message %d: refused %r\n"
                                 % (i + 1, refused))
                break
            ok += 1
        s.quit()
    except (smtplib.SMTPException, OSError) as e:
        sys.stderr.write("peer_smtplib: message %d: %s\n" % (ok + 1, e))
    return 0 if ok == count else 1


if __name__ == "__main__":
    sys.exit(main())
