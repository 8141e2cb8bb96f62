#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""mkmsg.py SIZE OUT [--lf] [--one-dot | --all-dots] -- writes a complete
RFC 5322 message of exactly SIZE octets to OUT: a header block and 7-bit body
lines of at most 78 characters, none starting with "." (so no tool has to
dot-stuff), CRLF line ends (LF with --lf, for smtp-source -F, which appends
CRLF itself; the file is then shorter but the wire bytes are the same).

For measuring the body encoder's slower paths: --one-dot makes the middle
body line start with "." and --all-dots every body line (the first character
is replaced, so the file keeps SIZE octets; each such line costs one more
octet on the wire, the stuffed dot)."""
import sys

HEADER = (
    "From: Bench <bench@example.com>\r\n"
    "To: Rcpt <rcpt0@example.com>\r\n"
    "Subject: libsmtpc benchmark message\r\n"
    "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
    "Message-ID: <bench.0@bench.local>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
)
ALPHA = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def make(size):
    out = [HEADER]
    n = len(HEADER)
    i = 0
    # full 78-octet lines (76 characters + CRLF) while plenty is left
    while size - n >= 160:
        rot = i % 64
        out.append((ALPHA[rot:] + ALPHA + ALPHA)[:76] + "\r\n")
        n += 78
        i += 1
    left = size - n
    if 0 < left < 3 and len(out) > 1:
        out.pop()  # too little for a line of its own: share with the last
        left += 78
    if left >= 3 and left <= 80:
        out.append("z" * (left - 2) + "\r\n")
    elif left > 80:
        a = left // 2
        out.append("y" * (a - 2) + "\r\n")
        out.append("z" * (left - a - 2) + "\r\n")
    data = "".join(out).encode("ascii")
    assert len(data) == size, (len(data), size)
    return data


def dot_lines(data, which):
    """Replaces the first character of the middle body line (which ==
    "one") or of every body line ("all") with "."."""
    head, body = data[:len(HEADER)], data[len(HEADER):]
    lines = body.split(b"\r\n")[:-1]  # the body ends with CRLF
    pick = range(len(lines)) if which == "all" else [len(lines) // 2]
    for k in pick:
        lines[k] = b"." + lines[k][1:]
    return head + b"".join(l + b"\r\n" for l in lines)


def main():
    opts = sys.argv[3:]
    if len(sys.argv) < 3 or any(o not in ("--lf", "--one-dot", "--all-dots")
                                for o in opts) or \
            ("--one-dot" in opts and "--all-dots" in opts):
        sys.exit("usage: mkmsg.py SIZE OUT [--lf] [--one-dot | --all-dots]")
    size = int(sys.argv[1])
    if size < len(HEADER) + 3:
        sys.exit("mkmsg.py: SIZE too small")
    data = make(size)
    if "--one-dot" in opts or "--all-dots" in opts:
        data = dot_lines(data, "one" if "--one-dot" in opts else "all")
        assert len(data) == size, (len(data), size)
    if "--lf" in opts:
        data = data.replace(b"\r\n", b"\n")
    with open(sys.argv[2], "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
