#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""delay_sink.py -- an SMTP sink that delays its replies and counts round trips.

    delay_sink.py [--port N | --port-file F] [--delay-ms 20] [--sessions N]
                  [--timeout S] [--stats FILE] [--no-pipelining] [--chunking]

Listens on 127.0.0.1 only (port 0 = any free port, written to --port-file),
serves one connection at a time, throws the mail away.  It advertises
PIPELINING (unless --no-pipelining), 8BITMIME and ENHANCEDSTATUSCODES, and
with --chunking also CHUNKING: `BDAT n [LAST]` is followed by exactly n
octets of data, answered "250" each, the LAST one ending the message.

Every reply is delayed, but per flight, not per command: when client bytes
arrive the sink reads everything the client sends within the next DELAY ms,
answers each complete command in order (RFC 2920: a pipelined group gets all
its replies), and sends all those replies in one write after that one delay.

A *flight* (a round trip) is counted each time client bytes arrive after the
sink has answered everything it had: the client was waiting for replies and
now sends again.  The greeting counts as the first answer, so the EHLO is
flight 1.  Bytes that arrive while no reply has gone out since the flight
began (the rest of a long body, a pipelined group split across writes)
belong to the same flight, and so do the rest of a BDAT chunk's octets.
Round trips per message = flights / messages,
or better the slope between two runs with different message counts.

After each session one JSON line goes to --stats (default: stderr):
  {"flights": F, "messages": M, "mail": .., "rcpt": .., "commands": ..,
   "body_octets_min": .., "body_octets_max": .., "seconds": ..}
Bounded: exits after --sessions sessions (default 1) or --timeout seconds
(default 600) overall; a client idle for 60 s is dropped.
"""
import argparse
import json
import os
import select
import socket
import sys
import time

IDLE_TIMEOUT = 60.0
MAX_LINE = 4096
END = b"\r\n.\r\n"


class Session:
    def __init__(self, pipelining, chunking=False):
        self.pipelining = pipelining
        self.chunking = chunking
        self.bdat_left = 0          # octets of the current chunk to come
        self.bdat_last = False
        self.bdat_octets = 0        # octets of this message's chunks so far
        self.data_mode = False
        self.buf = bytearray()      # command bytes not yet parsed
        self.dbuf = bytearray()     # body bytes (with a CRLF prefix)
        self.scanned = 0
        self.quit = False
        self.stats = {"flights": 0, "messages": 0, "mail": 0, "rcpt": 0,
                      "commands": 0, "body_octets_min": None,
                      "body_octets_max": None}

    def feed(self, data, out):
        """Consumes client bytes, appends replies to out (a list)."""
        if self.data_mode:
            self.dbuf += data
        else:
            self.buf += data
        while not self.quit:
            if self.bdat_left > 0:
                n = min(self.bdat_left, len(self.buf))
                del self.buf[:n]
                self.bdat_left -= n
                if self.bdat_left > 0:
                    return
                self.chunk_done(out)
                continue
            if self.data_mode:
                start = max(0, self.scanned - len(END) + 1)
                i = self.dbuf.find(END, start)
                if i < 0:
                    self.scanned = len(self.dbuf)
                    return
                # body octets on the wire, up to and including the CRLF
                # before "." (the CRLF prefix stands in for that CRLF when
                # the body is empty)
                rest = bytes(self.dbuf[i + len(END):])
                self.dbuf = bytearray()
                self.scanned = 0
                self.data_mode = False
                self.message(i, out)
                self.buf = bytearray(rest) + self.buf
                continue
            nl = self.buf.find(b"\n")
            if nl < 0:
                if len(self.buf) > MAX_LINE:
                    out.append(b"500 5.5.0 Line too long\r\n")
                    self.quit = True
                return
            line = bytes(self.buf[:nl]).rstrip(b"\r")
            del self.buf[:nl + 1]
            self.command(line, out)

    def message(self, octets, out):
        st = self.stats
        st["messages"] += 1
        if st["body_octets_min"] is None or octets < st["body_octets_min"]:
            st["body_octets_min"] = octets
        if st["body_octets_max"] is None or octets > st["body_octets_max"]:
            st["body_octets_max"] = octets
        out.append(b"250 2.0.0 Ok: queued as D%d\r\n" % st["messages"])

    def chunk_done(self, out):
        if self.bdat_last:
            self.message(self.bdat_octets, out)
            self.bdat_octets = 0
        else:
            out.append(b"250 2.0.0 Ok: chunk\r\n")

    def command(self, line, out):
        st = self.stats
        st["commands"] += 1
        verb = line.split(b" ", 1)[0].split(b":", 1)[0].upper()
        if verb == b"EHLO":
            caps = [b"delay-sink"]
            if self.pipelining:
                caps.append(b"PIPELINING")
            caps += [b"8BITMIME", b"ENHANCEDSTATUSCODES"]
            if self.chunking:
                caps.append(b"CHUNKING")
            out.append(b"".join(b"250-" + c + b"\r\n" for c in caps[:-1]) +
                       b"250 " + caps[-1] + b"\r\n")
        elif verb == b"HELO":
            out.append(b"250 delay-sink\r\n")
        elif verb == b"MAIL":
            st["mail"] += 1
            out.append(b"250 2.1.0 Ok\r\n")
        elif verb == b"RCPT":
            st["rcpt"] += 1
            out.append(b"250 2.1.5 Ok\r\n")
        elif verb == b"DATA":
            out.append(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            self.data_mode = True
            # the CRLF before an immediate "." line ends an empty body
            self.dbuf = bytearray(b"\r\n") + self.buf
            self.buf = bytearray()
            self.scanned = 0
        elif verb == b"BDAT" and self.chunking:
            parts = line.split()
            if len(parts) not in (2, 3) or not parts[1].isdigit() or \
                    (len(parts) == 3 and parts[2].upper() != b"LAST"):
                out.append(b"501 5.5.4 Syntax: BDAT count [LAST]\r\n")
                self.quit = True  # the data that follows cannot be framed
                return
            self.bdat_left = int(parts[1])
            self.bdat_last = len(parts) == 3
            self.bdat_octets += self.bdat_left
            if self.bdat_left == 0:
                self.chunk_done(out)
        elif verb in (b"RSET", b"NOOP"):
            if verb == b"RSET":
                self.bdat_octets = 0
            out.append(b"250 2.0.0 Ok\r\n")
        elif verb == b"QUIT":
            out.append(b"221 2.0.0 Bye\r\n")
            self.quit = True
        else:
            out.append(b"502 5.5.2 Error: command not recognized\r\n")


def serve(conn, delay, pipelining, deadline, dump=None, chunking=False):
    s = Session(pipelining, chunking)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t0 = time.monotonic()
    time.sleep(delay)
    conn.sendall(b"220 delay-sink ESMTP\r\n")
    answered = True  # everything the client asked for has been answered
    while not s.quit and time.monotonic() < deadline:
        r, _, _ = select.select([conn], [], [], IDLE_TIMEOUT)
        if not r:
            break
        data = conn.recv(65536)
        if not data:
            break
        if dump is not None:
            dump.write(data)
        if answered:
            s.stats["flights"] += 1
            answered = False
        out = []
        s.feed(data, out)
        if not out:
            continue  # a partial command or body: the flight goes on
        # Collect the rest of this flight for one delay, then answer it all.
        until = time.monotonic() + delay
        closed = False
        while not s.quit:
            left = until - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([conn], [], [], left)
            if not r:
                break
            data = conn.recv(65536)
            if not data:
                closed = True
                break
            if dump is not None:
                dump.write(data)
            s.feed(data, out)
        left = until - time.monotonic()
        if left > 0:
            time.sleep(left)
        try:
            conn.sendall(b"".join(out))
        except OSError:
            break
        # Everything asked for is answered (after a 354 the client waits
        # too); only a half-received command line means the client was still
        # sending its flight.
        answered = len(s.buf) == 0 and s.bdat_left == 0
        if closed:
            break
    s.stats["seconds"] = round(time.monotonic() - t0, 3)
    return s.stats


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--delay-ms", type=float, default=20.0)
    ap.add_argument("--sessions", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--stats")
    ap.add_argument("--no-pipelining", action="store_true")
    ap.add_argument("--chunking", action="store_true")
    ap.add_argument("--dump", help="append every byte received to this file")
    a = ap.parse_args()
    if not (0 <= a.delay_ms <= 10000 and 1 <= a.sessions <= 100000 and
            0 < a.timeout <= 86400):
        ap.error("argument out of range")
    deadline = time.monotonic() + a.timeout
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.port))
    ls.listen(16)
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % ls.getsockname()[1])
        os.replace(tmp, a.port_file)
    statf = open(a.stats, "a") if a.stats else sys.stderr
    dump = open(a.dump, "ab") if a.dump else None
    for _ in range(a.sessions):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([ls], [], [], left)
        if not r:
            break
        conn, _ = ls.accept()
        try:
            st = serve(conn, a.delay_ms / 1000.0, not a.no_pipelining,
                       deadline, dump, a.chunking)
        finally:
            conn.close()
        statf.write(json.dumps(st) + "\n")
        statf.flush()
    ls.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
