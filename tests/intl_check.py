#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""intl_check.py -- checks for tests/interop_intl.sh (SMTPUTF8, IDN, DSN).

  intl_check.py headers FILE [--line 'Name: value']... [--received-with KW]
                [--addr Name=addr[,addr...]]... [--ascii-headers]
      FILE is a delivered message (Maildir file) or a received one.
      --line: this exact header line (bytes, UTF-8) is in the header section.
      --received-with: the first Received: field (unfolded) says
        "with KW id" -- Postfix's protocol name (ESMTP, UTF8SMTP...).
      --addr: the header field parses (RFC 6532: header section decoded as
        UTF-8, email.policy.default) to exactly these addr-specs.
      --ascii-headers: no octet above 127 in the header section.
      Any parse defect in the header fields fails (but Python's
      NonASCIILocalPartDefect: RFC 6532 allows UTF-8 local parts).
  intl_check.py dsn FILE ENVID ORCPT FINAL ACTION
      FILE is a delivery status notification: multipart/report with
      report-type=delivery-status holding a message/delivery-status part
      whose per-message block has Original-Envelope-Id: ENVID and whose one
      per-recipient block has Original-Recipient: ORCPT, Final-Recipient:
      FINAL and Action: ACTION (values compared exactly).
  intl_check.py same A B [--ignore Name,Name]
      A and B are byte-identical, except for the header lines named (each a
      single line) which are dropped from both first.
  intl_check.py json FILE KEY=JSON...
      FILE (from tests/aiosmtpd_sink.py) has these values.
Exit 0 when every check holds; else prints "#   why" lines and exits 1.
"""
import email
import email.errors
import email.policy
import json
import sys

fails = []


def fail(why):
    fails.append(why)


def split_head(raw):
    i = raw.find(b"\r\n\r\n")
    j = raw.find(b"\n\n")
    if i < 0 and j < 0:
        return raw, b""
    if j < 0 or (0 <= i < j):
        return raw[:i + 2], raw[i + 4:]
    return raw[:j + 1], raw[j + 2:]


def header_lines(head):
    """Raw header lines without line ends (folded lines kept separate)."""
    return [ln.rstrip(b"\r") for ln in head.split(b"\n") if ln.rstrip(b"\r")]


def unfolded_fields(head):
    """(name, value) for each field, continuation lines joined."""
    out = []
    for ln in header_lines(head):
        s = ln.decode("utf-8", "replace")
        if s[:1] in (" ", "\t") and out:
            out[-1][1] += " " + s.strip()
        elif ":" in s:
            n, v = s.split(":", 1)
            out.append([n, v.strip()])
    return out


def real_defects(h):
    """The parse defects of header h, less NonASCIILocalPartDefect: Python
    flags every UTF-8 local part, which RFC 6532 3.2 allows (the test sends
    them on purpose, with SMTPUTF8)."""
    return [d for d in getattr(h, "defects", ())
            if not isinstance(d, email.errors.NonASCIILocalPartDefect)]


def cmd_headers(args):
    path = args.pop(0)
    raw = open(path, "rb").read()
    head, _ = split_head(raw)
    lines = header_lines(head)
    try:
        text_head = head.decode("utf-8")
    except UnicodeDecodeError as e:
        fail("%s: header section is not UTF-8: %s" % (path, e))
        text_head = head.decode("utf-8", "replace")
    msg = email.message_from_string(text_head + "\n",
                                    policy=email.policy.default)
    while args:
        opt = args.pop(0)
        if opt == "--line":
            want = args.pop(0).encode("utf-8")
            if want not in lines:
                fail("%s: no header line %r" % (path, want))
        elif opt == "--received-with":
            kw = args.pop(0)
            rec = [v for n, v in unfolded_fields(head)
                   if n.lower() == "received"]
            if not rec:
                fail("%s: no Received: field" % path)
            elif (" with %s id " % kw) not in rec[0]:
                fail("%s: Received: %r lacks 'with %s id'" % (path, rec[0], kw))
        elif opt == "--addr":
            name, want = args.pop(0).split("=", 1)
            h = msg[name]
            if h is None:
                fail("%s: no %s: field" % (path, name))
                continue
            got = [a.addr_spec for a in h.addresses]
            if got != want.split(","):
                fail("%s: %s: parses to %r, expected %r" %
                     (path, name, got, want.split(",")))
            if real_defects(h):
                fail("%s: %s: defects %r" % (path, name, real_defects(h)))
        elif opt == "--ascii-headers":
            if any(b >= 0x80 for b in head):
                fail("%s: 8-bit octets in the header section" % path)
        else:
            sys.exit("intl_check.py: unknown option %r" % opt)
    for name in msg.keys():
        h = msg[name]
        if real_defects(h):
            fail("%s: %s: defects %r" % (path, name, real_defects(h)))
    if msg.defects:
        fail("%s: message defects %r" % (path, msg.defects))


def cmd_dsn(args):
    path, envid, orcpt, final, action = args
    m = email.message_from_bytes(open(path, "rb").read(),
                                 policy=email.policy.default)
    if m.get_content_type() != "multipart/report":
        fail("%s: Content-Type %s, not multipart/report" %
             (path, m.get_content_type()))
        return
    if m.get_param("report-type") != "delivery-status":
        fail("%s: report-type=%r" % (path, m.get_param("report-type")))
    ds = [p for p in m.walk() if p.get_content_type() ==
          "message/delivery-status"]
    if len(ds) != 1:
        fail("%s: %d message/delivery-status parts" % (path, len(ds)))
        return
    blocks = ds[0].get_payload()
    if not isinstance(blocks, list) or len(blocks) != 2:
        fail("%s: expected a per-message and one per-recipient block, got %r"
             % (path, blocks))
        return
    per_msg, per_rcpt = blocks

    def eq(block, name, want):
        got = block.get_all(name)
        if got is None or len(got) != 1 or str(got[0]) != want:
            fail("%s: %s: %r, expected %r" % (path, name, got, want))

    eq(per_msg, "Original-Envelope-Id", envid)
    eq(per_rcpt, "Original-Recipient", orcpt)
    eq(per_rcpt, "Final-Recipient", final)
    eq(per_rcpt, "Action", action)


def drop_lines(raw, names):
    head, body = split_head(raw)
    sep = raw[len(head):len(raw) - len(body)]
    keep = []
    for ln in head.splitlines(keepends=True):
        n = ln.split(b":", 1)[0].decode("ascii", "replace").lower()
        if n not in names:
            keep.append(ln)
    return b"".join(keep) + sep + body


def cmd_same(args):
    a, b = args[0], args[1]
    names = set()
    if len(args) == 4 and args[2] == "--ignore":
        names = {n.strip().lower() for n in args[3].split(",")}
    ra, rb = open(a, "rb").read(), open(b, "rb").read()
    if names:
        ra, rb = drop_lines(ra, names), drop_lines(rb, names)
    if ra != rb:
        i = next((k for k in range(min(len(ra), len(rb))) if ra[k] != rb[k]),
                 min(len(ra), len(rb)))
        fail("%s and %s differ (%d and %d octets) at octet %d: %r vs %r" %
             (a, b, len(ra), len(rb), i, ra[i:i + 40], rb[i:i + 40]))


def cmd_json(args):
    path = args.pop(0)
    rec = json.load(open(path, encoding="utf-8"))
    for kv in args:
        k, v = kv.split("=", 1)
        want = json.loads(v)
        if rec.get(k) != want:
            fail("%s: %s = %r, expected %r" % (path, k, rec.get(k), want))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    {"headers": cmd_headers, "dsn": cmd_dsn, "same": cmd_same,
     "json": cmd_json}[cmd](args)
    for f in fails:
        print("#   " + f)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
