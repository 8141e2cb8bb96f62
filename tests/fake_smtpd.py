#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""fake_smtpd.py -- a scripted SMTP server with TLS for libsmtpc's tests.

It produces what a real MTA will not: bad certificates, a STARTTLS reply
with injected data, a malformed AUTH challenge.  Python 3 standard library
only.

usage: fake_smtpd.py MODE [CERT KEY] [--log FILE] [--conns N] [--timeout T]

MODE
  starttls-cert CERT KEY  greets; EHLO offers STARTTLS and AUTH PLAIN; 220 to
                          STARTTLS, then a TLS handshake with CERT/KEY (a
                          client that aborts the handshake is fine); after
                          TLS a minimal accepting dialogue (EHLO, AUTH PLAIN,
                          MAIL, RCPT, DATA, RSET, NOOP, QUIT)
  implicit-cert CERT KEY  TLS from the first byte with CERT/KEY, then the
                          accepting dialogue (no STARTTLS offered)
  inject                  EHLO offers STARTTLS and AUTH PLAIN; STARTTLS is
                          answered with "220 go ahead\\r\\n" immediately
                          followed by "250-injected\\r\\n250 AUTH PLAIN\\r\\n" in
                          the same send; then only records what comes
  garbage-challenge       EHLO offers AUTH LOGIN (no STARTTLS); AUTH LOGIN is
                          answered "334 !!!notbase64"; a "*" line gets 501,
                          anything else 535; then the accepting dialogue
  no-starttls             EHLO offers AUTH PLAIN but not STARTTLS; the
                          accepting dialogue in clear

Binds 127.0.0.1 port 0 only and prints the port as the first line of
standard output.  --log FILE receives every byte the client sent, in order,
as received (decrypted once TLS is up; TLS records themselves are not
logged).  Events ("TLS handshake ok", "TLS handshake failed: ...") go to
standard error.  Exits after serving N connections (--conns, default 1) or
after T seconds (--timeout, default 20), whichever comes first; every socket
wait is bounded.
"""

import socket
import ssl
import sys
import time

MODES = ("starttls-cert", "implicit-cert", "inject", "garbage-challenge",
         "no-starttls")
RECV_TIMEOUT = 5.0  # seconds, longest wait for one client read
HOSTNAME = "fake.test"


def event(msg):
    sys.stderr.write("fake_smtpd: %s\n" % msg)
    sys.stderr.flush()


class Closed(Exception):
    """The client went away, a wait timed out or the run is over."""


class Conn:
    def __init__(self, sock, logf, deadline, num):
        self.sock = sock
        self.logf = logf
        self.deadline = deadline
        self.num = num
        self.buf = b""
        self.tls = False

    def _wait_budget(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Closed("run time over")
        return min(RECV_TIMEOUT, left)

    def recv_some(self):
        self.sock.settimeout(self._wait_budget())
        try:
            data = self.sock.recv(4096)
        except (socket.timeout, TimeoutError):
            raise Closed("timeout waiting for the client")
        except (OSError, ssl.SSLError) as e:
            raise Closed("recv: %s" % e)
        if not data:
            raise Closed("client closed the connection")
        if self.logf is not None:
            self.logf.write(data)
            self.logf.flush()
        return data

    def readline(self):
        """One line including its CRLF (or LF)."""
        while b"\n" not in self.buf:
            if len(self.buf) > 65536:
                raise Closed("line too long")
            self.buf += self.recv_some()
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("ascii")
        self.sock.settimeout(self._wait_budget())
        try:
            self.sock.sendall(data)
        except (OSError, ssl.SSLError) as e:
            raise Closed("send: %s" % e)

    def drain(self, seconds):
        """Records whatever the client still sends, until it closes or
        `seconds` pass."""
        end = min(self.deadline, time.monotonic() + seconds)
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except (socket.timeout, TimeoutError):
                return
            except (OSError, ssl.SSLError):
                return
            if not data:
                return
            if self.logf is not None:
                self.logf.write(data)
                self.logf.flush()

    def start_tls(self, ctx):
        """Server-side handshake over the current socket.  Bytes the client
        sent after the STARTTLS line in clear (already buffered) would be a
        client bug; they are in the log and dropped here."""
        if self.buf:
            event("conn %d: %d byte(s) in clear after STARTTLS, before the "
                  "handshake" % (self.num, len(self.buf)))
            self.buf = b""
        self.sock.settimeout(self._wait_budget())
        try:
            tls = ctx.wrap_socket(self.sock, server_side=True,
                                  do_handshake_on_connect=False)
        except (OSError, ssl.SSLError, ValueError) as e:
            event("conn %d: TLS set-up failed: %s" % (self.num, e))
            raise Closed("TLS set-up failed")
        self.sock = tls  # wrap_socket detached the plain socket
        try:
            tls.do_handshake()
        except (OSError, ssl.SSLError, ValueError) as e:
            event("conn %d: TLS handshake failed: %s" % (self.num, e))
            raise Closed("handshake failed")
        self.tls = True
        event("conn %d: TLS handshake ok (%s %s)" % (
            self.num, tls.version(), (tls.cipher() or ("?",))[0]))


def ehlo_reply(mode, tls):
    lines = [HOSTNAME, "PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"]
    if mode in ("starttls-cert", "inject") and not tls:
        lines.append("STARTTLS")
    if mode == "garbage-challenge":
        lines.append("AUTH LOGIN")
    else:
        lines.append("AUTH PLAIN")
    out = ""
    for i, l in enumerate(lines):
        out += "250%s%s\r\n" % (" " if i == len(lines) - 1 else "-", l)
    return out


def dialogue(c, mode, ctx):
    """The scripted conversation; returns when the connection is done."""
    c.send("220 %s ESMTP fake_smtpd (%s)\r\n" % (HOSTNAME, mode))
    queued = 0
    while True:
        raw = c.readline()
        line = raw.rstrip(b"\r\n").decode("latin-1")
        verb = line.split(" ", 1)[0].upper()
        arg = line[len(verb):].strip()
        if verb in ("EHLO", "HELO"):
            if verb == "HELO":
                c.send("250 %s\r\n" % HOSTNAME)
            else:
                c.send(ehlo_reply(mode, c.tls))
        elif verb == "STARTTLS":
            if c.tls or mode not in ("starttls-cert", "inject"):
                c.send("502 5.5.1 STARTTLS not offered\r\n")
            elif mode == "inject":
                # RFC 3207 response injection (cf. CVE-2021-22947,
                # CVE-2021-33515): extra replies in the same segment as 220.
                c.send(b"220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n")
                c.drain(3.0)
                return
            else:
                c.send("220 2.0.0 Ready to start TLS\r\n")
                c.start_tls(ctx)
        elif verb == "AUTH":
            mech = arg.split(" ", 1)[0].upper()
            if mode == "garbage-challenge" and mech == "LOGIN":
                c.send("334 !!!notbase64\r\n")
                resp = c.readline().rstrip(b"\r\n")
                if resp == b"*":
                    c.send("501 5.7.0 Authentication cancelled\r\n")
                else:
                    c.send("535 5.7.8 Expected the client to cancel\r\n")
            elif mode != "garbage-challenge" and mech == "PLAIN":
                if " " not in arg:
                    c.send("334 \r\n")
                    c.readline()
                c.send("235 2.7.0 Authentication successful\r\n")
            else:
                c.send("504 5.5.4 Unrecognized authentication type\r\n")
        elif verb == "MAIL":
            c.send("250 2.1.0 Ok\r\n")
        elif verb == "RCPT":
            c.send("250 2.1.5 Ok\r\n")
        elif verb == "DATA":
            c.send("354 End data with <CR><LF>.<CR><LF>\r\n")
            while c.readline() not in (b".\r\n", b".\n"):
                pass
            queued += 1
            c.send("250 2.0.0 Ok: queued as FAKE%d\r\n" % queued)
        elif verb in ("RSET", "NOOP"):
            c.send("250 2.0.0 Ok\r\n")
        elif verb == "QUIT":
            c.send("221 2.0.0 Bye\r\n")
            return
        else:
            c.send("500 5.5.2 Error: command not recognized\r\n")


def usage(msg):
    sys.stderr.write("fake_smtpd: %s\n" % msg)
    sys.stderr.write("usage: fake_smtpd.py MODE [CERT KEY] [--log FILE] "
                     "[--conns N] [--timeout T]\n  MODE: %s\n"
                     % " | ".join(MODES))
    sys.exit(2)


def main(argv):
    pos = []
    log_path = None
    conns = 1
    timeout = 20.0
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--log", "--conns", "--timeout"):
            if i + 1 >= len(argv):
                usage("%s needs a value" % a)
            v = argv[i + 1]
            i += 2
            try:
                if a == "--log":
                    log_path = v
                elif a == "--conns":
                    conns = int(v)
                else:
                    timeout = float(v)
            except ValueError:
                usage("bad value for %s: %r" % (a, v))
            continue
        pos.append(a)
        i += 1
    if not pos or pos[0] not in MODES:
        usage("unknown or missing mode")
    mode = pos[0]
    need_cert = mode in ("starttls-cert", "implicit-cert")
    if len(pos) != (3 if need_cert else 1):
        usage("%s takes %s" % (mode, "CERT KEY" if need_cert else
                                "no arguments"))
    if conns < 1 or not 0 < timeout <= 600:
        usage("--conns must be >= 1 and --timeout in (0, 600]")

    ctx = None
    if need_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(pos[1], pos[2])
        except (OSError, ssl.SSLError) as e:
            usage("cannot load %s / %s: %s" % (pos[1], pos[2], e))

    deadline = time.monotonic() + timeout
    logf = open(log_path, "ab") if log_path else None
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    sys.stdout.write("%d\n" % lsock.getsockname()[1])
    sys.stdout.flush()

    served = 0
    while served < conns:
        left = deadline - time.monotonic()
        if left <= 0:
            event("run time of %g s over after %d connection(s)"
                  % (timeout, served))
            break
        lsock.settimeout(left)
        try:
            sock, peer = lsock.accept()
        except (socket.timeout, TimeoutError):
            continue
        served += 1
        event("conn %d from %s:%d" % (served, peer[0], peer[1]))
        c = Conn(sock, logf, deadline, served)
        try:
            if mode == "implicit-cert":
                c.start_tls(ctx)
            dialogue(c, mode, ctx)
            event("conn %d: done" % served)
        except Closed as e:
            event("conn %d: ended: %s" % (served, e))
        finally:
            try:
                c.sock.close()
            except OSError:
                pass
    lsock.close()
    if logf is not None:
        logf.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
