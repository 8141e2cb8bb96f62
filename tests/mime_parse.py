#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""mime_parse.py DIR -- checks the messages tests/mime_dump wrote into DIR.

Each NN.eml is parsed by Python's standard email package with the default
policy made strict (raise_on_defect=True), and compared with NN.json:

  * the raw bytes: CRLF line ends only, no line over 998 octets, header
    lines over 78 octets reported (allowed only for a single unbreakable
    token), no 8-bit byte unless the body was declared 8BITMIME;
  * no defect on the message, on any part or on any header;
  * From, Sender, Reply-To, To, Cc decode to the original UTF-8 display
    names and addresses; Bcc appears nowhere; Subject and custom headers
    decode to the original strings; Date and Message-ID are as expected;
  * the MIME tree is the one the builder promises for the inputs;
  * the texts decode to the input (line ends normalised) and every
    attachment decodes byte for byte to NN.K.bin, with its file name,
    content type, disposition and Content-ID.

Exit status 0 when every message passes, 1 otherwise.
"""

import datetime
import email
import email.header
import email.policy
import json
import os
import sys

POLICY = email.policy.default.clone(raise_on_defect=True)


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def norm_text(s):
    return s.replace("\r\n", "\n").replace("\r", "\n")


def check_raw(raw, exp):
    lines = raw.split(b"\r\n")
    for i, line in enumerate(lines):
        check(b"\r" not in line and b"\n" not in line,
              "bare CR or LF in line %d: %r" % (i + 1, line[:80]))
        check(len(line) <= 998, "line %d has %d octets" % (i + 1, len(line)))
    check(raw.endswith(b"\r\n"), "the message does not end with CRLF")
    if exp["body_type"] != 2:  # SMTPC_BODY_8BITMIME
        check(all(b < 0x80 for b in raw), "8-bit byte in a 7-bit body")
    long = []
    in_hdr = True
    for line in lines:
        if line == b"":
            in_hdr = False
        elif len(line) > 78 and (in_hdr or line.startswith(b"Content-")):
            # allowed only when the line is one token that cannot be split
            words = line.strip().split(b" ")
            check(len(words) <= 2, "foldable header line of %d octets: %r"
                  % (len(line), line))
            long.append(line)
    return long


def check_defects(msg):
    for part in msg.walk():
        check(not part.defects, "defects in %s: %r"
              % (part.get_content_type(), part.defects))
        for name, value in part.items():
            defects = getattr(value, "defects", ())
            check(not defects, "defects in header %s: %r" % (name, defects))


def rfc2047_decode(value):
    """Decodes a raw header value per RFC 2047 (white space between adjacent
    encoded-words dropped, section 6.2)."""
    return str(email.header.make_header(email.header.decode_header(value)))


def check_mailboxes(msg, raw_msg, field, expected, notes):
    if not expected:
        check(msg[field] is None, "unexpected %s: %r" % (field, msg[field]))
        return
    check(msg[field] is not None, "no %s" % field)
    got = [(a.display_name, a.addr_spec) for a in msg[field].addresses]
    want = [(n, a) for n, a in expected]
    if got == want:
        return
    # Python's address parser keeps the white space between two adjacent
    # encoded-words of a display name, which RFC 2047 6.2 says to drop.
    # Accept a difference in white space only, and only when the display
    # name decodes exactly per RFC 2047 from the raw field.
    check(len(got) == len(want), "%s: got %r, want %r" % (field, got, want))
    decoded = rfc2047_decode(raw_msg[field])
    for (gn, ga), (wn, wa) in zip(got, want):
        check(ga == wa, "%s: address %r, want %r" % (field, ga, wa))
        if gn == wn:
            continue
        check(gn.replace(" ", "") == wn.replace(" ", "") and wn in decoded,
              "%s: display name %r, want %r (RFC 2047 reading: %r)"
              % (field, gn, wn, decoded))
        notes.append("%s display name split over encoded-words" % field)


def tree(part):
    if part.is_multipart():
        return "%s(%s)" % (part.get_content_type(),
                           ",".join(tree(p) for p in part.iter_parts()))
    return part.get_content_type()


def expected_tree(exp):
    inline = [p for p in exp["parts"] if p["cid"] is not None]
    attach = [p for p in exp["parts"] if p["cid"] is None]

    def ptype(p):
        return p["type"].split(";")[0].strip().lower()

    html = None
    if exp["html"] is not None:
        html = "text/html"
        if inline:
            html = "multipart/related(%s)" % ",".join(
                ["text/html"] + [ptype(p) for p in inline])
    core = None
    if exp["text"] is not None and html is not None:
        core = "multipart/alternative(text/plain,%s)" % html
    elif html is not None:
        core = html
    elif exp["text"] is not None:
        core = "text/plain"
    if attach:
        return "multipart/mixed(%s)" % ",".join(
            ([core] if core else []) + [ptype(p) for p in attach])
    return core or "text/plain"


def check_message(directory, stem):
    with open(os.path.join(directory, stem + ".json"), encoding="utf-8") as f:
        exp = json.load(f)
    with open(os.path.join(directory, stem + ".eml"), "rb") as f:
        raw = f.read()
    if exp["size"] >= 0:
        check(len(raw) == exp["size"], "size %d, announced %d"
              % (len(raw), exp["size"]))
    long = check_raw(raw, exp)
    msg = email.message_from_bytes(raw, policy=POLICY)
    check_defects(msg)
    raw_msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    notes = []

    # headers
    check_mailboxes(msg, raw_msg, "From", [exp["from"]], notes)
    check_mailboxes(msg, raw_msg, "Sender",
                    [exp["sender"]] if exp["sender"] else [], notes)
    check_mailboxes(msg, raw_msg, "Reply-To",
                    [exp["reply_to"]] if exp["reply_to"] else [], notes)
    check_mailboxes(msg, raw_msg, "To", exp["to"], notes)
    check_mailboxes(msg, raw_msg, "Cc", exp["cc"], notes)
    check(msg["Bcc"] is None, "Bcc header present")
    for name, addr in exp["bcc"]:
        if all(addr != a for _, a in exp["to"] + exp["cc"]):
            check(addr.encode() not in raw, "Bcc address %s in the message"
                  % addr)
        if name:
            check(name.encode() not in raw, "Bcc name in the message")
    if exp["subject"] is None:
        check(msg["Subject"] is None, "unexpected Subject")
    else:
        check(str(msg["Subject"]) == exp["subject"], "Subject: got %r, want %r"
              % (str(msg["Subject"]), exp["subject"]))
    for name, value in exp["headers"]:
        check(str(msg[name]) == value, "%s: got %r, want %r"
              % (name, str(msg[name]), value))
    when, off = exp["date"]
    tz = datetime.timezone(datetime.timedelta(minutes=off))
    check(msg["Date"].datetime == datetime.datetime.fromtimestamp(when, tz),
          "Date: %s" % msg["Date"])
    check(msg["Date"].datetime.utcoffset() == datetime.timedelta(minutes=off),
          "Date offset: %s" % msg["Date"])
    check(str(msg["Message-ID"]) == "<%s>" % exp["message_id"],
          "Message-ID: %s" % msg["Message-ID"])
    check(str(msg["MIME-Version"]) == "1.0", "MIME-Version")

    # structure
    got, want = tree(msg), expected_tree(exp)
    check(got == want, "structure %s, want %s" % (got, want))

    # texts and parts, in document order
    leaves = [p for p in msg.walk() if not p.is_multipart()]
    single = not msg.is_multipart()
    texts = {"text/plain": exp["text"], "text/html": exp["html"]}
    parts = list(exp["parts"])
    for leaf in leaves:
        disp = leaf.get_content_disposition()
        if disp is None:
            ctype = leaf.get_content_type()
            want = texts.pop(ctype, None)
            if want is None and ctype == "text/plain" and exp["text"] is None \
                    and exp["html"] is None:
                want = ""
            check(want is not None, "unexpected %s part" % ctype)
            check(leaf.get_content_charset() == "utf-8", "charset")
            got = norm_text(leaf.get_content())
            want = norm_text(want)
            if single and want and not want.endswith("\n"):
                want += "\n"  # a message ends with a line break
            check(got == want, "%s: got %r, want %r"
                  % (ctype, got[:200], want[:200]))
            continue
        check(parts, "unexpected %s part" % disp)
        p = parts.pop(0)
        check(disp == ("inline" if p["cid"] else "attachment"),
              "disposition %s" % disp)
        check(leaf.get_filename() == p["filename"], "file name %r, want %r"
              % (leaf.get_filename(), p["filename"]))
        ctype = p["type"].split(";")[0].strip().lower()
        check(leaf.get_content_type() == ctype, "type %s, want %s"
              % (leaf.get_content_type(), ctype))
        for param in p["type"].split(";")[1:]:
            k, v = param.strip().split("=", 1)
            check(leaf.get_param(k) == v, "parameter %s" % k)
        if p["cid"]:
            check(str(leaf["Content-ID"]) == "<%s>" % p["cid"], "Content-ID")
        check(leaf["Content-Transfer-Encoding"] == "base64", "not base64")
        with open(os.path.join(directory, p["bin"]), "rb") as f:
            data = f.read()
        got = leaf.get_payload(decode=True)
        check(got == data, "attachment %s: %d bytes decoded, %d expected"
              % (p["bin"], len(got), len(data)))
    check(not parts, "missing parts: %r" % parts)
    leftover = [k for k, v in texts.items() if v is not None]
    check(not leftover, "missing text parts: %r" % leftover)
    if long:
        notes.append("%d unbreakable header line(s) over 78" % len(long))
    return notes, len(raw)


def main():
    if len(sys.argv) != 2:
        print("usage: mime_parse.py DIR", file=sys.stderr)
        return 2
    directory = sys.argv[1]
    stems = sorted(f[:-4] for f in os.listdir(directory) if f.endswith(".eml"))
    if not stems:
        print("FAIL: no messages in %s" % directory)
        return 1
    failed = 0
    for stem in stems:
        with open(os.path.join(directory, stem + ".json"),
                  encoding="utf-8") as f:
            label = json.load(f)["label"]
        try:
            notes, size = check_message(directory, stem)
        except Failure as e:
            print("FAIL %s (%s): %s" % (stem, label, e))
            failed += 1
        except Exception as e:  # a defect raised by the strict policy
            print("FAIL %s (%s): %s: %s" % (stem, label, type(e).__name__, e))
            failed += 1
        else:
            note = " (%s)" % "; ".join(notes) if notes else ""
            print("ok   %s (%s): %d octets%s" % (stem, label, size, note))
    print("%d of %d messages passed" % (len(stems) - failed, len(stems)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
