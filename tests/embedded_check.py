#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""embedded_check.py -- checks what a firmware of ports/ delivered.

    embedded_check.py --firmware ports/firmware.c --report R --maildir D
                      --app notify|full --label L

R is the firmware's report (its "fw: " lines); D the Maildir/new of the
Postfix test bed.  The message texts are read from the C string literals of
firmware.c (notify_text, report_text, report_html) and the attachment is
computed as firmware.c defines it, so the expectation is the firmware's
input, and Python's email package (an independent MIME parser) decodes what
arrived.  Prints TAP lines; exit 1 if any check failed.
"""
import argparse
import email
import email.policy
import os
import re
import sys

n = 0
failed = 0


def check(cond, what):
    global n, failed
    n += 1
    if not cond:
        failed += 1
    print(("ok" if cond else "not ok") + " %d - %s" % (n, what))
    return cond


def c_string(src, name):
    """The value of `static const char NAME[] = "..." "...";` in src."""
    m = re.search(r'static const char ' + name + r'\[\] =\s*((?:"(?:[^"\\]|\\.)*"\s*)+);', src)
    if not m:
        sys.exit("embedded_check: %s not found in firmware.c" % name)
    out = b""
    for lit in re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)):
        out += lit.encode("latin-1").decode("unicode_escape").encode("latin-1")
    return out


def report_fields(lines, which):
    """status, queue id, message id and recipient replies of msgN."""
    st = None
    rcpts = []
    for line in lines:
        m = re.match(r"fw: msg%d status (-?\d+) \(.*\) queue-id (\S+) message-id (\S+)$" % which, line)
        if m:
            st = (int(m.group(1)), m.group(2), m.group(3))
        m = re.match(r"fw: msg%d rcpt (\S+) (\d+) (.*)$" % which, line)
        if m:
            rcpts.append((m.group(1), int(m.group(2)), m.group(3)))
    return st, rcpts


def delivered(maildir, msgid):
    """{Delivered-To: (raw bytes, parsed message)} of the files with msgid."""
    out = {}
    for f in sorted(os.listdir(maildir)):
        raw = open(os.path.join(maildir, f), "rb").read()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        if msg.get("Message-ID", "").strip() == "<%s>" % msgid:
            out[str(msg["Delivered-To"])] = (raw, msg)
    return out


def received_id(msg):
    r = " ".join(str(h) for h in msg.get_all("Received", []))
    m = re.search(r"with ESMTP id (\w+)", r)
    return m.group(1) if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--firmware", required=True)
    ap.add_argument("--report", required=True)
    ap.add_argument("--maildir", required=True)
    ap.add_argument("--app", choices=["notify", "full"], required=True)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    src = open(a.firmware, encoding="utf-8").read()
    lines = open(a.report, encoding="utf-8", errors="replace").read().splitlines()
    L = a.label + ": "

    check(any(l.startswith("fw: done msg1 0 msg2 0 quit 0 heap-left 0 ") for l in lines),
          L + "the firmware reports both messages and QUIT done, no heap left")
    msgs = [(1, ["ops@example.test"])]
    if a.app == "full":
        msgs.append((2, ["ops@example.test", "oncall@example.test"]))
    for which, want_rcpts in msgs:
        st, rcpts = report_fields(lines, which)
        if not check(st is not None and st[0] == 0, L + "msg%d reported status 0" % which):
            continue
        check([(r[0], r[1]) for r in rcpts] == [(x, 250) for x in want_rcpts],
              L + "msg%d per-recipient replies: %s" % (which, rcpts))
        got = delivered(a.maildir, st[2])
        check(sorted(got) == sorted(want_rcpts),
              L + "msg%d delivered to %s (Message-ID %s)" % (which, sorted(got), st[2]))
        for rcpt, (raw, msg) in sorted(got.items()):
            check(received_id(msg) == st[1],
                  L + "msg%d to %s: Postfix's queue id %s is the one reported" % (which, rcpt, st[1]))
            check(str(msg["From"]) == "Sensor 1 <sensor-1@example.test>", L + "From: %s" % msg["From"])
            if which == 1:
                body = raw.split(b"\n\n", 1)[1]
                want = c_string(src, "notify_text")
                check(body == want, L + "msg1 body is notify_text byte for byte (%d bytes)" % len(want))
                check(msg.get_content_type() == "text/plain" and
                      str(msg["Subject"]) == "Sensor 1: temperature alarm",
                      L + "msg1 is text/plain with its subject")
                check(re.match(r"\w{3}, \d\d \w{3} 20\d\d \d\d:\d\d:\d\d \+0000$", str(msg["Date"])) is not None,
                      L + "msg1 Date from the board's clock: %s" % msg["Date"])
                continue
            check(str(msg["Subject"]) == "Sensor 1: daily report \u2014 81 \u00b0C peak",
                  L + "msg2 subject decodes (RFC 2047) to the UTF-8 text")
            text = html = att = None
            for part in msg.walk():
                ct = part.get_content_type()
                if part.get_filename() == "readings.bin":
                    att = part.get_payload(decode=True)
                elif ct == "text/plain":
                    text = part.get_payload(decode=True)
                elif ct == "text/html":
                    html = part.get_payload(decode=True)
            check(text == c_string(src, "report_text"), L + "msg2 text part is report_text")
            check(html == c_string(src, "report_html"), L + "msg2 HTML part is report_html")
            want_att = bytes((i * 167 + 13) & 255 for i in range(256))
            check(att == want_att, L + "msg2 attachment readings.bin decodes to the 256 bytes in flash")
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
