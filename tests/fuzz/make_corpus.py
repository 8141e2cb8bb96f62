#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpora of the libFuzzer harnesses (tests/fuzz/corpus/).

    python3 tests/fuzz/make_corpus.py [DIR]      (default: beside this file)

The seeds are small, realistic inputs in each harness's input format (see
the comment at the top of each fuzz_<target>.c): replies and dialogues in
the style of Postfix, Exim, Gmail and Microsoft 365.  Files whose names start
with "crash-" or "regress-" are inputs found by fuzzing; this script leaves
them alone.  Run it again after changing a harness's input format.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def crlf(*lines):
    return "".join(l + "\r\n" for l in lines).encode("latin-1")


# ---- replies ----------------------------------------------------------------

POSTFIX_GREETING = crlf("220 mx.example.org ESMTP Postfix (Debian/GNU)")
POSTFIX_EHLO = crlf(
    "250-mx.example.org", "250-PIPELINING", "250-SIZE 10240000", "250-VRFY",
    "250-ETRN", "250-STARTTLS", "250-AUTH PLAIN LOGIN", "250-AUTH=PLAIN LOGIN",
    "250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN", "250-SMTPUTF8",
    "250 CHUNKING")
EXIM_GREETING = crlf(
    "220 mail.example.com ESMTP Exim 4.96 Mon, 01 Jan 2024 10:00:00 +0000")
EXIM_EHLO = crlf(
    "250-mail.example.com Hello client.example [192.0.2.1]",
    "250-SIZE 52428800", "250-8BITMIME", "250-PIPELINING", "250-PIPE_CONNECT",
    "250-AUTH CRAM-MD5 PLAIN LOGIN", "250-CHUNKING", "250-STARTTLS",
    "250-PRDR", "250 HELP")
GMAIL_GREETING = crlf("220 smtp.gmail.com ESMTP a1b2c3d4e5f6.123 - gsmtp")
GMAIL_EHLO = crlf(
    "250-smtp.gmail.com at your service, [203.0.113.5]", "250-SIZE 35882577",
    "250-8BITMIME", "250-STARTTLS", "250-ENHANCEDSTATUSCODES",
    "250-PIPELINING", "250-CHUNKING", "250 SMTPUTF8")
GMAIL_EHLO_TLS = crlf(
    "250-smtp.gmail.com at your service, [203.0.113.5]", "250-SIZE 35882577",
    "250-8BITMIME",
    "250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH",
    "250-ENHANCEDSTATUSCODES", "250-PIPELINING", "250-CHUNKING",
    "250 SMTPUTF8")
M365_EHLO = crlf(
    "250-DB8PR01CA0001.outlook.office365.com Hello [192.0.2.1]",
    "250-SIZE 157286400", "250-PIPELINING", "250-DSN",
    "250-ENHANCEDSTATUSCODES", "250-STARTTLS", "250-8BITMIME",
    "250-BINARYMIME", "250-CHUNKING", "250 SMTPUTF8")
GMAIL_NOUSER = crlf(
    "550-5.1.1 The email account that you tried to reach does not exist. "
    "Please try",
    "550-5.1.1 double-checking the recipient's email address for typos or",
    "550-5.1.1 unnecessary spaces. Learn more at",
    "550 5.1.1  https://support.google.com/mail/?p=NoSuchUser "
    "a1si123 - gsmtp")

# fuzz_reply: [options][k][k split sizes] stream
# options bit 0: enhanced codes; bits 1-2: limits profile
REPLY_SEEDS = {
    "postfix-greeting": (0, [], POSTFIX_GREETING),
    "postfix-ehlo": (0, [], POSTFIX_EHLO),
    "postfix-ehlo-split": (0, [1, 7, 0, 64], POSTFIX_EHLO),
    "exim-greeting": (0, [], EXIM_GREETING),
    "exim-ehlo": (0, [3], EXIM_EHLO),
    "gmail-ehlo": (1, [], GMAIL_EHLO),
    "gmail-nouser-enhanced": (1, [5, 2], GMAIL_NOUSER),
    "m365-ehlo-small-limits": (2, [], M365_EHLO),
    "postfix-queued": (1, [], crlf("250 2.0.0 Ok: queued as 4Tz1Xy2Kq9z3")),
    "postfix-rcpt-rejected": (1, [], crlf(
        "550 5.1.1 <nobody@example.com>: Recipient address rejected: User "
        "unknown in local recipient table")),
    "pipelined-replies": (1, [9, 1], crlf(
        "250 2.1.0 Ok", "250 2.1.5 Ok", "554 5.5.1 Error: no valid recipients",
        "221 2.0.0 Bye")),
    "auth-challenges": (0, [], crlf(
        "334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6",
        "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
        "235 2.7.0 Authentication successful")),
    "exim-354-and-id": (0, [2], crlf(
        '354 Enter message, ending with "." on a line by itself',
        "250 OK id=1rABCD-000123-4x")),
    "421-closing": (1, [], crlf(
        "421 4.7.0 mx.example.org Error: too many errors")),
    "bare-lf": (0, [1], b"250-mx.example.org\n250 PIPELINING\n"),
    "code-only": (0, [], b"250\r\n354\r\n"),
    "tiny-limits": (6, [2], crlf("250-a", "250-b", "250-c", "250 d")),
    "temp-failure": (1, [0, 4], crlf("451 4.3.0 Temporary lookup failure")),
}
for name, (opt, sizes, stream) in REPLY_SEEDS.items():
    write("reply", name, bytes([opt, len(sizes)] + sizes) + stream)

# ---- EHLO -------------------------------------------------------------------

# fuzz_ehlo: [options] reply [query keyword]
EHLO_SEEDS = {
    "postfix": (0, POSTFIX_EHLO, b"auth"),
    "exim": (0, EXIM_EHLO, b"PIPE_CONNECT"),
    "gmail": (1, GMAIL_EHLO, b"SIZE"),
    "gmail-tls": (1, GMAIL_EHLO_TLS, b"AUTH"),
    "m365": (1, M365_EHLO, b"binarymime"),
    "legacy-auth": (0, crlf("250-old.example", "250-AUTH=LOGIN",
                            "250-AUTH LOGIN PLAIN", "250 SIZE"), b"AUTH"),
    "legacy-auth-only": (0, crlf("250-old.example", "250-AUTH=LOGIN CRAM-MD5",
                                 "250 8BITMIME"), b""),
    "odd": (0, crlf("250-x.example", "250-size 99999999999999999999999",
                    "250-auth  plain   Login plain", "250-=bad",
                    "250-X-EXT-1 a=b", "250-SIZE 2048", "250 AUTH="),
            b"x-ext-1"),
    "single-line": (0, crlf("250 mx.example greets client.example"), b""),
}
for name, (opt, reply, query) in EHLO_SEEDS.items():
    write("ehlo", name, bytes([opt]) + reply + query)

# ---- whole sessions ---------------------------------------------------------

# fuzz_session: [o0][o1][k][k recv sizes] server stream
# recv sizes: 0 WANT_READ, 255 up to a line end, 254 all, else that many
# o0: bits 0-1 mech AUTO/PLAIN/LOGIN/CRAM-MD5, bits 2-3 TLS
#     opportunistic/required/none/opportunistic-blocking, 0x10 no
#     pipelining, 0x20 three transactions, 0x40 NOOP/RSET/VRFY, 0x80 no auth
# o1: 0x01 no plaintext auth, 0x02 short writes, 0x04 authzid, 0x08 HELO,
#     0x30 limits, 0x40 queue before open
# byte 2: low 4 bits k; BDAT flags above (see BDAT_SEEDS)
AUTO, PLAIN, LOGIN, CRAM = 0, 1, 2, 3
OPP, REQ, NONE, OPP_BLOCK = 0, 4, 8, 12
NOPIPE, THREE, OPS, NOAUTH = 0x10, 0x20, 0x40, 0x80

POSTFIX_TXN1 = crlf("250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok",
                    "354 End data with <CR><LF>.<CR><LF>")
POSTFIX_TXN2 = crlf("250 2.1.0 Ok", "250 2.1.5 Ok",
                    "354 End data with <CR><LF>.<CR><LF>")
POSTFIX_SESSION = (
    POSTFIX_GREETING
    + crlf("250-mx.example.org", "250-PIPELINING", "250-SIZE 10240000",
           "250-AUTH PLAIN LOGIN", "250-ENHANCEDSTATUSCODES", "250-8BITMIME",
           "250 DSN")
    + crlf("235 2.7.0 Authentication successful")
    + POSTFIX_TXN1
    + crlf("250 2.0.0 Ok: queued as 4Tz1Xy2Kq9z3")
    + POSTFIX_TXN2
    + crlf("250 2.0.0 Ok: queued as 4Tz1Xy2KqAB")
    + crlf("221 2.0.0 Bye"))

STARTTLS_LOGIN_SESSION = (
    crlf("220 mx.example.org ESMTP", "250-mx.example.org", "250-STARTTLS",
         "250-PIPELINING", "250 8BITMIME",
         "220 2.0.0 Ready to start TLS",
         "250-mx.example.org", "250-PIPELINING", "250-AUTH LOGIN",
         "250-SIZE 1000000", "250 8BITMIME",
         "334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6",
         "235 2.7.0 Authentication successful")
    + POSTFIX_TXN1 + crlf("250 2.0.0 Ok: queued as A1")
    + POSTFIX_TXN2 + crlf("250 2.0.0 Ok: queued as A2")
    + crlf("221 2.0.0 Bye"))

EXIM_CRAM_SESSION = (
    EXIM_GREETING
    + crlf("250-mail.example.com Hello client.example [192.0.2.1]",
           "250-SIZE 52428800", "250-8BITMIME", "250-AUTH CRAM-MD5 PLAIN",
           "250 HELP",
           "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
           "235 Authentication succeeded",
           # one command at a time
           "250 OK", "250 Accepted", "250 Accepted",
           '354 Enter message, ending with "." on a line by itself',
           "250 OK id=1rABCD-000123-4x",
           "250 OK", "550 5.1.1 <postmaster>: unknown user",
           "221 mail.example.com closing connection"))

GMAIL_SESSION = (
    GMAIL_GREETING + GMAIL_EHLO + crlf("220 2.0.0 Ready to start TLS")
    + GMAIL_EHLO_TLS + crlf("235 2.7.0 Accepted")
    + crlf("250 2.1.0 OK a1 - gsmtp", "250 2.1.5 OK a1 - gsmtp")
    + GMAIL_NOUSER + crlf("354  Go ahead a1 - gsmtp")
    + crlf("250 2.0.0 OK  1700000000 a1 - gsmtp",
           "250 2.1.0 OK", "250 2.1.5 OK", "354  Go ahead",
           "250 2.0.0 OK  1700000001",
           "250 2.1.0 OK", "250 2.1.5 OK", "250 2.1.5 OK", "250 2.1.5 OK",
           "354  Go ahead", "250 2.0.0 OK  1700000002",
           "221 2.0.0 closing connection a1 - gsmtp"))

M365_SESSION = (
    crlf("220 DB8PR01CA0001.outlook.office365.com Microsoft ESMTP MAIL "
         "Service ready at Mon, 1 Jan 2024 10:00:00 +0000")
    + M365_EHLO + crlf("220 2.0.0 SMTP server ready")
    + crlf("250-DB8PR01CA0001.outlook.office365.com Hello [192.0.2.1]",
           "250-SIZE 157286400", "250-PIPELINING", "250-DSN",
           "250-ENHANCEDSTATUSCODES", "250-AUTH LOGIN XOAUTH2",
           "250-8BITMIME", "250-BINARYMIME", "250-CHUNKING", "250 SMTPUTF8",
           "334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6",
           "235 2.7.0 Authentication successful",
           "250 2.1.0 Sender OK", "250 2.1.5 Recipient OK",
           "250 2.1.5 Recipient OK", "354 Start mail input; end with "
           "<CRLF>.<CRLF>",
           "250 2.0.0 OK <id1@DB8PR01.eurprd01.prod.outlook.com> "
           "[Hostname=DB8PR01]",
           "250 2.1.0 Sender OK", "550 5.7.1 Service unavailable",
           "503 5.5.1 No recipients",
           "221 2.0.0 Service closing transmission channel"))

OPS_SESSION = (
    crlf("220 mx.example.org ESMTP", "250 mx.example.org") + POSTFIX_TXN1
    + crlf("250 2.0.0 Ok: queued as Q1", "250 2.1.0 Ok", "250 2.1.5 Ok",
           "354 go", "250 2.0.0 Ok: queued as Q2", "250 2.0.0 Ok",
           "250 2.0.0 Ok", "252 2.0.0 postmaster", "221 2.0.0 Bye"))

SESSION_SEEDS = {
    "postfix-plain": (PLAIN | NONE, 0, [], POSTFIX_SESSION),
    "postfix-plain-fragments": (PLAIN | NONE, 0, [1, 0, 255, 1, 1],
                                POSTFIX_SESSION),
    "postfix-plain-short-writes": (PLAIN | NONE, 0x02, [255, 0],
                                   POSTFIX_SESSION),
    "starttls-login": (LOGIN | OPP, 0, [], STARTTLS_LOGIN_SESSION),
    "starttls-login-required": (LOGIN | REQ | OPS, 0x40, [0, 255, 1],
                                STARTTLS_LOGIN_SESSION),
    "exim-cram-md5": (CRAM | NONE | NOPIPE, 0x04, [], EXIM_CRAM_SESSION),
    "gmail-3txn": (AUTO | OPP_BLOCK | THREE, 0, [], GMAIL_SESSION),
    "gmail-3txn-bytewise": (AUTO | OPP | THREE, 0x01, [1], GMAIL_SESSION),
    "m365-login": (LOGIN | REQ, 0, [0, 255], M365_SESSION),
    "helo-ops": (NOAUTH | NONE | OPS, 0x08, [], OPS_SESSION),
    "ehlo-rejected-helo": (NOAUTH | NONE, 0, [], crlf(
        "220 old.example SMTP", "500 5.5.1 Command unrecognized: EHLO",
        "250 old.example") + POSTFIX_TXN1 + crlf(
        "250 ok", "250 2.1.0 Ok", "250 2.1.5 Ok", "354 go", "250 ok",
        "221 bye")),
    # DSN on the first transaction (byte 1 bit 7); the third message has a
    # UTF-8 header, so it goes with SMTPUTF8
    "dsn-smtputf8-3txn": (NOAUTH | NONE | THREE, 0x80, [], crlf(
        "220 mx ESMTP", "250-mx", "250-PIPELINING", "250-8BITMIME",
        "250-SMTPUTF8", "250 DSN",
        "250 2.1.0 Ok", "250 2.1.5 Ok", "251 2.1.5 forwarding to <j\xc3\xb6rg>",
        "354 go", "250 2.0.0 Ok: queued as A1",
        "250 2.1.0 Ok", "250 2.1.5 Ok", "354 go", "250 ok",
        "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok",
        "354 go", "250 ok", "221 bye")),
    "dsn-not-offered": (NOAUTH | NONE, 0x80, [], crlf(
        "220 mx ESMTP", "250-mx", "250 PIPELINING") + POSTFIX_TXN1 + crlf(
        "250 ok", "250 2.1.0 Ok", "250 2.1.5 Ok", "354 go", "250 ok",
        "221 bye")),
    "greeting-554": (PLAIN | OPP, 0, [], crlf(
        "554 5.7.1 mx.example.org: no SMTP service here", "221 2.0.0 Bye")),
    "starttls-injection": (PLAIN | OPP, 0, [255, 255, 255, 254], crlf(
        "220 mx ESMTP", "250-mx", "250 STARTTLS", "220 Ready",
        "250-injected", "250 AUTH PLAIN")),
    "bad-challenge": (LOGIN | NONE, 0, [], crlf(
        "220 mx ESMTP", "250-mx", "250 AUTH LOGIN", "334 not base64!!",
        "501 5.7.0 Authentication aborted", "221 bye")),
    "421-mid-data": (NOAUTH | NONE, 0, [], crlf(
        "220 mx ESMTP", "250-mx", "250 PIPELINING", "250 2.1.0 Ok",
        "250 2.1.5 Ok", "250 2.1.5 Ok", "354 go",
        "421 4.4.2 mx Error: timeout exceeded")),
    "all-rcpts-rejected": (NOAUTH | NONE, 0, [], crlf(
        "220 mx ESMTP", "250-mx", "250-PIPELINING", "250 SIZE 100",
        "250 2.1.0 Ok", "550 5.1.1 no", "550 5.1.1 no",
        "554 5.5.1 Error: no valid recipients",
        "250 2.0.0 Ok", "250 2.1.0 Ok", "250 2.1.5 Ok", "354 go", "250 ok",
        "221 bye")),
    "data-354-no-rcpt": (NOAUTH | NONE, 0, [], crlf(
        "220 mx ESMTP", "250-mx", "250 PIPELINING", "250 2.1.0 Ok",
        "550 5.1.1 no", "550 5.1.1 no", "354 go ahead anyway",
        "554 5.5.1 no valid recipients",  # the "." ended the transaction
        "250 2.1.0 Ok", "250 2.1.5 Ok", "354 go", "250 ok", "221 bye")),
}
for name, (o0, o1, sizes, stream) in SESSION_SEEDS.items():
    write("session", name, bytes([o0, o1, len(sizes)] + sizes) + stream)

# BDAT sessions: byte 2 bits 4-7 (0x10 CHUNKING flag, then a chunk-size
# byte c after the recv sizes: chunks of 64 + c; 0x20 streamed bodies,
# 0x40 long bodies, 0x80 streams in 7-octet reads with WANT_READ between)
BDAT, STREAM, LONG, SMALL = 0x10, 0x20, 0x40, 0x80
BDAT_EHLO = crlf("220 mx.example.org ESMTP Postfix", "250-mx.example.org",
                 "250-PIPELINING", "250-SIZE 10240000", "250-8BITMIME",
                 "250-ENHANCEDSTATUSCODES", "250-SMTPUTF8", "250 CHUNKING")
OKS = crlf(*(["250 2.0.0 Ok"] * 40))
BDAT_SEEDS = {
    # everything accepted, whatever the number of chunks
    "bdat-postfix": (NOAUTH | NONE, 0, BDAT, [], 0, BDAT_EHLO + OKS),
    "bdat-3txn-long-stream": (NOAUTH | NONE | THREE, 0,
                              BDAT | STREAM | LONG, [], 36, BDAT_EHLO + OKS),
    "bdat-nopipe-small-reads": (NOAUTH | NONE | NOPIPE, 0,
                                BDAT | STREAM | LONG | SMALL, [255, 0], 0,
                                BDAT_EHLO + OKS),
    "bdat-exchange": (NOAUTH | NONE | THREE, 0, BDAT | LONG, [], 191, crlf(
        "220 EX01.example.com Microsoft ESMTP MAIL Service ready",
        "250-EX01.example.com Hello [192.0.2.1]", "250-SIZE 37748736",
        "250-PIPELINING", "250-DSN", "250-ENHANCEDSTATUSCODES",
        "250-8BITMIME", "250-BINARYMIME", "250 CHUNKING") + OKS),
    # Postfix: 552 to the second chunk, 551 to those already sent, RSET
    "bdat-chunk-refused": (NOAUTH | NONE, 0, BDAT | LONG, [], 0,
                           BDAT_EHLO + crlf(
        "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok",
        "250 2.0.0 Ok: 64 bytes",
        "552 5.3.4 Message size exceeds fixed limit",
        "551 5.0.0 Discarded 64 bytes after earlier error",
        "551 5.0.0 Discarded 64 bytes after earlier error",
        "551 5.0.0 Discarded 64 bytes after earlier error",
        "250 2.0.0 Ok") + OKS),
    "bdat-chunk-451-nopipe": (NOAUTH | NONE | NOPIPE, 0, BDAT | LONG, [], 1,
                              BDAT_EHLO + crlf(
        "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok",
        "451 4.3.0 Temporary failure", "250 2.0.0 Ok") + OKS),
    "bdat-421-between-chunks": (NOAUTH | NONE, 0, BDAT | LONG, [], 0,
                                BDAT_EHLO + crlf(
        "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok",
        "421 4.3.2 Shutting down")),
    "bdat-rcpt-refused": (NOAUTH | NONE, 0, BDAT, [], 10, BDAT_EHLO + crlf(
        "250 2.1.0 Ok", "550 5.1.1 no", "550 5.1.1 no", "250 2.0.0 Ok")
        + OKS),
    # bodies that fit in one chunk go "ahead" with PIPELINING: MAIL, RCPT
    # and BDAT n LAST in one flight, each later message behind an RSET
    "bdat-ahead-three": (NOAUTH | NONE | THREE, 0, BDAT, [], 64,
                         BDAT_EHLO + OKS),
    "bdat-ahead-last-refused": (NOAUTH | NONE | THREE, 0, BDAT, [], 64,
                                BDAT_EHLO + crlf(
        "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok",
        "552 5.3.4 Message size exceeds fixed limit") + OKS),
    # Postfix after a refused MAIL: RCPT and the chunk get 503
    "bdat-ahead-mail-refused": (NOAUTH | NONE | THREE, 0, BDAT, [], 64,
                                BDAT_EHLO + crlf(
        "550 5.7.1 Sender address rejected",
        "503 5.5.1 Error: need MAIL command",
        "503 5.5.1 Error: need MAIL command",
        "503 5.5.1 Error: need MAIL command") + OKS),
    "bdat-not-offered": (NOAUTH | NONE, 0, BDAT | STREAM, [], 0, crlf(
        "220 mx ESMTP", "250-mx", "250 PIPELINING") + POSTFIX_TXN1 + crlf(
        "250 ok", "250 2.1.0 Ok", "250 2.1.5 Ok", "354 go", "250 ok",
        "221 bye")),
}
for name, (o0, o1, b2, sizes, c, stream) in BDAT_SEEDS.items():
    write("session", name,
          bytes([o0, o1, b2 | len(sizes)] + sizes + [c]) + stream)

# LIMITS (RFC 9422) sessions: the queued messages have 2, 1 and 3
# recipients (bob@example.net, carol@example.com; postmaster; erin, frank,
# grace @example.net), so RCPTMAX=1..2 and RCPTDOMAINMAX=1 split them into
# rounds; MAILMAX stops the later ones.  Each round with DATA gets
# MAIL, RCPT..., 354, end-of-data replies.


def rounds(*sizes, eod="250 2.0.0 Ok: queued as R1"):
    out = []
    for n in sizes:
        out += ["250 2.1.0 Ok"] + ["250 2.1.5 Ok"] * n + ["354 go", eod]
    return out


def limits_ehlo(*limits):
    return ["220 mx.example.org ESMTP", "250-mx.example.org",
            "250-PIPELINING", "250-8BITMIME", "250-SMTPUTF8"] + [
                "250-" + l for l in limits] + ["250 ENHANCEDSTATUSCODES"]


LIMITS_SEEDS = {
    # 0: 1+1, 1: 1, 2: 1+1+1
    "limits-rcptmax-1": (NOAUTH | NONE | THREE, 0, 0, [], crlf(
        *limits_ehlo("LIMITS RCPTMAX=1"), *rounds(1, 1, 1, 1, 1, 1),
        "221 bye")),
    "limits-rcptmax-1-nopipe": (NOAUTH | NONE | THREE | NOPIPE, 0, 0, [],
                                crlf(*limits_ehlo("LIMITS RCPTMAX=1"),
                                     *rounds(1, 1, 1, 1, 1, 1), "221 bye")),
    # 2: 2+1
    "limits-rcptmax-2": (NOAUTH | NONE | THREE, 0, 0, [], crlf(
        *limits_ehlo("LIMITS MAILMAX=1000 RCPTMAX=2"), *rounds(2, 1, 2, 1),
        "221 bye")),
    "limits-rcptmax-3": (NOAUTH | NONE | THREE, 0, 0, [], crlf(
        *limits_ehlo("LIMITS RCPTMAX=3"), *rounds(2, 1, 3), "221 bye")),
    # 0: example.net, then example.com; 2 in one (one domain)
    "limits-domainmax-1": (NOAUTH | NONE | THREE, 0, 0, [], crlf(
        *limits_ehlo("LIMITS RCPTDOMAINMAX=1"), *rounds(1, 1, 1, 3),
        "221 bye")),
    "limits-rcptmax-2-domainmax-1": (NOAUTH | NONE | THREE, 0, 0, [], crlf(
        *limits_ehlo("LIMITS rcptdomainmax=1 RcptMax=2"),
        *rounds(1, 1, 1, 2, 1), "221 bye")),
    # the rest fail with SMTPC_ERR_MAIL_LIMIT
    "limits-mailmax-1": (NOAUTH | NONE | THREE, 0, 0, [], crlf(
        *limits_ehlo("LIMITS MAILMAX=1"), *rounds(2), "221 bye")),
    "limits-mailmax-2": (NOAUTH | NONE | THREE, 0, 0, [], crlf(
        *limits_ehlo("LIMITS MAILMAX=2"), *rounds(2, 1), "221 bye")),
    # the second round is not sent: PARTIAL
    "limits-mailmax-1-rcptmax-1": (NOAUTH | NONE | THREE, 0, 0, [], crlf(
        *limits_ehlo("LIMITS MAILMAX=1 RCPTMAX=1"), *rounds(1), "221 bye")),
    "limits-mailmax-2-rcptmax-1": (NOAUTH | NONE | THREE, 0, 0, [], crlf(
        *limits_ehlo("LIMITS MAILMAX=2 RCPTMAX=1"), *rounds(1, 1),
        "221 bye")),
    # a refused round, then one delivered: PARTIAL
    "limits-round-refused": (NOAUTH | NONE | THREE, 0, 0, [], crlf(
        *limits_ehlo("LIMITS RCPTMAX=1"),
        *rounds(1, eod="554 5.7.1 rejected"),
        *rounds(1, 1, 1, 1, 1), "221 bye")),
    "limits-round-rcpt-refused": (NOAUTH | NONE | THREE, 0, 0, [], crlf(
        *limits_ehlo("LIMITS RCPTMAX=2"), "250 2.1.0 Ok",
        "550 5.1.1 no such user", "250 2.1.5 Ok", "354 go", "250 ok",
        *rounds(1, 2, 1), "221 bye")),
    # malformed, out of range, repeated: none counts but the first good one
    "limits-malformed": (NOAUTH | NONE | THREE, 0, 0, [], crlf(
        *limits_ehlo("LIMITS RCPTMAX=0 RCPTDOMAINMAX=abc MAILMAX=1000000001 "
                     "RCPTMAX=01x RCPTMAX= =RCPTMAX=1 RCPTMAX=00000000001 "
                     "RCPTMAX=-1 RCPTMAX=+1 RCPTMAX=1.5 FOO=1"),
        *rounds(2, 1, 3), "221 bye")),
    "limits-first-counts": (NOAUTH | NONE | THREE, 0, 0, [], crlf(
        *limits_ehlo("LIMITS  rcptmax=0000000002  RCPTMAX=1",
                     "LIMITS RCPTMAX=1 MAILMAX=1000000000"),
        *rounds(2, 1, 2, 1), "221 bye")),
    "limits-huge": (NOAUTH | NONE | THREE, 0, 0, [], crlf(
        *limits_ehlo("LIMITS MAILMAX=1000000000 RCPTMAX=1000000000 "
                     "RCPTDOMAINMAX=1000000000"),
        *rounds(2, 1, 3), "221 bye")),
    "limits-not-keyword": (NOAUTH | NONE | THREE, 0, 0, [], crlf(
        *limits_ehlo("LIMITSX RCPTMAX=1", "X-LIMITS RCPTMAX=1",
                     "LIMITS=RCPTMAX=1"),
        *rounds(2, 1, 3), "221 bye")),
    # a one-shot stream that needs rounds: SMTPC_ERR_RCPT_LIMIT before MAIL
    "limits-stream-no-rewind": (NOAUTH | NONE | THREE, 0, STREAM, [], crlf(
        *limits_ehlo("LIMITS RCPTMAX=2"), *rounds(2, 1), "221 bye")),
    "limits-stream-domainmax": (NOAUTH | NONE | THREE, 0, STREAM | SMALL, [],
                                crlf(*limits_ehlo("LIMITS RCPTDOMAINMAX=1"),
                                     *rounds(1, 3), "221 bye")),
    # the EHLO after STARTTLS decides: no LIMITS there, no rounds
    "limits-starttls-dropped": (NOAUTH | OPP | THREE, 0, 0, [], crlf(
        "220 mx ESMTP", "250-mx", "250-STARTTLS", "250-PIPELINING",
        "250-8BITMIME", "250 LIMITS RCPTMAX=1 MAILMAX=1", "220 go ahead",
        "250-mx", "250-PIPELINING", "250-8BITMIME", "250 SMTPUTF8",
        *rounds(2, 1, 3), "221 bye")),
    "limits-starttls-added": (NOAUTH | OPP | THREE, 0, 0, [], crlf(
        "220 mx ESMTP", "250-mx", "250-STARTTLS", "250 PIPELINING",
        "220 go ahead", "250-mx", "250-PIPELINING", "250-8BITMIME",
        "250-SMTPUTF8", "250 LIMITS RCPTMAX=1 RCPTDOMAINMAX=1",
        *rounds(1, 1, 1, 1, 1, 1), "221 bye")),
    # rounds with BDAT (every reply 250)
    "limits-bdat-rcptmax-1": (NOAUTH | NONE | THREE, 0, BDAT | LONG, [], 0,
                              crlf(*limits_ehlo("LIMITS RCPTMAX=1",
                                                "CHUNKING")) + OKS + OKS),
    "limits-bdat-domainmax-1-mailmax-2": (
        NOAUTH | NONE | THREE, 0, BDAT, [], 64,
        crlf(*limits_ehlo("LIMITS RCPTDOMAINMAX=1 MAILMAX=2", "CHUNKING"))
        + OKS),
}
for name, seed in LIMITS_SEEDS.items():
    if len(seed) == 5:
        (o0, o1, b2, sizes, stream), c = seed, []
    else:
        o0, o1, b2, sizes, cc, stream = seed
        c = [cc]
    write("session", name, bytes([o0, o1, b2 | len(sizes)] + sizes + c)
          + stream)

# ---- codecs -----------------------------------------------------------------

# fuzz_codec: [k][k split sizes][output room] data
CODEC_SEEDS = {
    "text": (b"", 0, b"Hello, world.\r\nA line with = and trailing space \n"
             b"tab\t\rend"),
    "binary": (b"\x03\x01\x05", 7, bytes(range(256))),
    "long-line": (b"\x02\x4c\x01", 0, b"x" * 200 + b" \n" + b"=" * 40),
    "utf8": (b"\x01\x10", 3, "Grüße aus Köln — ½ € ✓\n".encode("utf-8")),
    "base64-text": (b"", 0, b"VXNlcm5hbWU6"),
    "empty": (b"", 0, b""),
}
for name, (sizes, room, data) in CODEC_SEEDS.items():
    write("codec", name, bytes([len(sizes)]) + sizes + bytes([room]) + data)

# ---- internationalised addresses and DSN ----------------------------------

# fuzz_intl: [options] text; options bit 0 is_from, bit 1 raw RFC 6533 form,
# bits 2-5 NOTIFY, bits 6-7 RET (see fuzz_intl.c)
INTL_SEEDS = {
    "ascii": (0x00, b"alice@example.com"),
    "utf8-local": (0x0A, "jörg@example.com".encode("utf-8")),
    "utf8-cjk": (0x4C, "田中@例え.jp".encode("utf-8")),
    "idn-domain": (0x10, "info@bücher.example".encode("utf-8")),
    "emoji": (0x82, "\U0001F600+tag=x@example.org".encode("utf-8")),
    "quoted": (0x18, "\"a b\\\" é\"@example.org".encode("utf-8")),
    "literal": (0x04, b"postmaster@[IPv6:2001:db8::1]"),
    "envid": (0x41, b"QQ+1=a b~!" + b"x" * 80),
    "overlong": (0x00, b"\xc0\xafa@example.org"),
    "surrogate": (0x02, b"a\xed\xa0\x80@example.org"),
    "above-max": (0x00, b"a\xf4\x90\x80\x80@example.org"),
    "c1-control": (0x00, b"a\xc2\x85b@example.org"),
    "truncated": (0x02, b"a@ex\xc3\xa4mple.org\xc3"),
    "orcpt-500": (0x00, b"+" * 64 + "@é".encode("utf-8") + b"a" * 40 + b"."
                  + b"b" * 56),
    "orcpt-501": (0x00, b"+" * 64 + "@é".encode("utf-8") + b"a" * 40 + b"."
                  + b"b" * 57),
    "null-path": (0x01, b""),
    "bytes": (0x3E, bytes(range(256))),
}
for name, (opts, text) in INTL_SEEDS.items():
    write("intl", name, bytes([opts]) + text)

# ---- MIME builder -----------------------------------------------------------

# fuzz_mime: [options][chunk] then operations: [op] args, each arg a length
# byte and that many bytes (see fuzz_mime.c)
(OP_FROM, OP_TO, OP_CC, OP_BCC, OP_SUBJECT, OP_HEADER, OP_TEXT,
 OP_HTML) = range(8)
OP_ATTACH, OP_INLINE, OP_STREAM, OP_REPLY_TO, OP_SENDER, OP_MSGID = range(8, 14)
OP_8BIT, OP_DATE, OP_FILE = range(14, 17)


def arg(b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    assert len(b) < 256
    return bytes([len(b)]) + b


def op(code, *args):
    return bytes([code]) + b"".join(arg(a) for a in args)


MIME_SEEDS = {
    "plain": (0, 0, [
        op(OP_FROM, "Alice Example", "alice@example.org"),
        op(OP_TO, "", "bob@example.net"),
        op(OP_SUBJECT, "Quarterly report"),
        op(OP_TEXT, "Hello,\nthe report is attached.\n.\nBye\n")]),
    "utf8-names": (1, 7, [
        op(OP_FROM, "Jörg Müller", "joerg@example.org"),
        op(OP_TO, "Zoë \"Z\" O'Brien", "zoe@example.net"),
        op(OP_CC, "李小龙", "lee@example.com"),
        op(OP_BCC, "", "hidden@example.com"),
        op(OP_SUBJECT, "Grüße — ünïcödé subject with a rather long tail "
           "that must be folded somewhere"),
        op(OP_8BIT, "\x01"),
        op(OP_TEXT, "Grüße\r\nline two\rline three\n")]),
    "html-inline-attach": (2, 64, [
        op(OP_FROM, "", "alice@example.org"),
        op(OP_TO, "Bob", "bob@example.net"),
        op(OP_TEXT, "plain version"),
        op(OP_HTML, "<p>Hi <img src=\"cid:logo@example.org\"></p>"),
        op(OP_INLINE, b"\x89PNG\r\n\x1a\n\x00\x00", "logo.png", "",
           "logo@example.org"),
        op(OP_ATTACH, bytes(range(200)), "report ä.pdf", ""),
        op(OP_STREAM, b"streamed,data\n1,2\n", "data.csv", "text/csv", "\x01"),
        op(OP_FILE, b"file contents\n", "/tmp/notes.txt", "", "")]),
    "headers": (0, 1, [
        op(OP_FROM, "A", "a@example.org"),
        op(OP_SENDER, "Bot", "bot@example.org"),
        op(OP_REPLY_TO, "", "reply@example.org"),
        op(OP_TO, "", "b@example.net"),
        op(OP_MSGID, "id.123@example.org"),
        op(OP_DATE, b"\x00\x00\x00\x00\x65\x92\x00\x00\x00\x3c"),
        op(OP_HEADER, "X-Mailer", "libsmtpc fuzz"),
        op(OP_HEADER, "X-Long", "word " * 50),
        op(OP_HEADER, "X-Utf8", "café ünïcode"),
        op(OP_TEXT, "x" * 200 + "\n--=_ boundary-like\n=_ and = signs\n")]),
}
for name, (opts, chunk, ops) in MIME_SEEDS.items():
    write("mime", name, bytes([opts, chunk]) + b"".join(ops))

# ---- DKIM ---------------------------------------------------------------------

# fuzz_dkim: [options] message
# options bit 0: header simple; bit 1: body simple; bit 2: binary;
# bits 3-7: how the message is cut (0 one octet at a time, 1-15 fixed sizes,
# 16-31 pseudo-random sizes, from 24 with empty updates)
def dkim_opt(hsimple=0, bsimple=0, binary=0, cut=0):
    return bytes([hsimple | bsimple << 1 | binary << 2 | cut << 3])


DKIM_PLAIN = crlf(
    "From: Alice <alice@example.org>", "To: Bob <bob@example.net>",
    "Subject: Lunch", "Date: Mon, 07 Dec 2026 12:00:00 +0000",
    "Message-ID: <lunch.1@example.org>", "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=us-ascii", "",
    "Noon at the usual place?", "", "-- ", "Alice", "", "")
DKIM_FOLDED = crlf(
    "From: Alice <alice@example.org>",
    "To: Bob <bob@example.net>,",
    "\tCarol <carol@example.net>,  ", "  Dave <dave@example.net>",
    "SUBJECT:   spaced \t  out   ", "subject: a second one",
    "X-Not-Signed: x", "Cc:", "References: <a@example.org>",
    "  <b@example.org>", "", "  leading and trailing  \t ",
    "tabs\t\tinside\t", "", "", "")
DKIM_SEEDS = {
    "plain-relaxed-whole": (dkim_opt(cut=15), DKIM_PLAIN),
    "plain-simple-bytes": (dkim_opt(1, 1, 0, 0), DKIM_PLAIN),
    "plain-relaxed-simple-random": (dkim_opt(0, 1, 0, 19), DKIM_PLAIN),
    "folded-relaxed-random": (dkim_opt(0, 0, 0, 21), DKIM_FOLDED),
    "folded-simple-relaxed-empty-updates": (dkim_opt(1, 0, 0, 26), DKIM_FOLDED),
    "bare-lf": (dkim_opt(cut=2), DKIM_PLAIN.replace(b"\r\n", b"\n")),
    "bare-cr-mixed": (dkim_opt(cut=3),
                      b"From: a@example.org\rTo: b@example.net\n\r\nbody\rline\r\r\n"),
    "binary": (dkim_opt(0, 0, 1, 4),
               DKIM_PLAIN.replace(b"Noon", b"\x00\xff\nNoon\r")),
    "no-body": (dkim_opt(cut=5), crlf("From: a@example.org", "Subject: no body")),
    "empty-body": (dkim_opt(1, 1, 0, 6), crlf("From: a@example.org", "")),
    "body-no-final-crlf": (dkim_opt(0, 0, 0, 7),
                           crlf("From: a@example.org", "") + b"last line   "),
    "only-empty-lines": (dkim_opt(0, 0, 0, 17), crlf("From: a@example.org", "", "", "", " ")),
    "no-from": (dkim_opt(cut=8), crlf("To: b@example.net", "", "body")),
    "two-from": (dkim_opt(cut=9), crlf("From: a@example.org", "From: c@example.org", "", "x")),
    "not-a-field": (dkim_opt(cut=10), crlf("From: a@example.org", "no colon here", "", "x")),
    "utf8-header": (dkim_opt(cut=11), "From: José <josé@exämple.org>\r\nSubject: Grüße\r\n"
                    "\r\nGrüße\r\n".encode("utf-8")),
    "long-body-line": (dkim_opt(0, 1, 0, 22), crlf("From: a@example.org", "", "w " * 700)),
    "many-to": (dkim_opt(cut=23), crlf("From: a@example.org",
                                       *["To: r%d@example.net" % i for i in range(80)], "", "x")),
}
for name, (opt, msg) in DKIM_SEEDS.items():
    write("dkim", name, opt + msg)
