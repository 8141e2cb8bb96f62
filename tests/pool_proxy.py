#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pool_proxy.py -- a counting, optionally misbehaving TCP proxy in front of
an SMTP server, for the connection-pool tests (tests/interop_client.sh).

usage: pool_proxy.py --target-port PORT [--stats FILE] [--timeout T]
                     [--idle-close-ms N] [--inject-421-mail K]
                     [--inject-every M]

Listens on 127.0.0.1, port 0 (never any other address), and prints the port
on the first line of standard output (flushed).  Every accepted connection
is forwarded to 127.0.0.1:PORT.  What a pool test needs to see on the
server side is counted: connections accepted, the most open at once, MAIL
commands forwarded, faults injected.  --stats FILE is rewritten (atomically)
after every change and at exit, one line:
  accepted=N open=K max_open=M mails=X injected=I idle_closed=D
Python 3 standard library only.

Faults (clear-text SMTP only: the proxy reads the client's commands; after a
STARTTLS everything is forwarded untouched and only counted):
  --idle-close-ms N     a connection with no command awaiting a reply and no
                        byte in either direction for N ms is closed on both
                        sides (FIN, no 421), like a server or a NAT box that
                        drops idle connections.  A connection that waits for
                        a reply is never dropped: the test is about idle
                        connections, not about lost replies.
  --inject-421-mail K   on every M-th connection (--inject-every, default 1:
                        every one) the K-th MAIL command is not forwarded:
                        the replies to the commands before it are relayed,
                        then the client gets "421 4.4.2 pool_proxy closing"
                        and both sides are closed.  Whatever the client
                        pipelined behind that MAIL is dropped, so the server
                        never sees that transaction.

Ends T seconds after start (--timeout, default 900), on SIGTERM/SIGINT, or
when the parent process goes away.  Each relay wait is bounded.
"""

import os
import re
import select
import signal
import socket
import sys
import threading
import time

REPLY_END = re.compile(rb"^[2-5][0-9][0-9](?: |\r?\n|$)")
DRAIN_MAX = 10.0  # seconds to wait for outstanding replies before a 421

STOP = threading.Event()
LOCK = threading.Lock()
STATS = {"accepted": 0, "open": 0, "max_open": 0, "mails": 0,
         "injected": 0, "idle_closed": 0}
STATS_PATH = None
LIVE = set()  # relays counted as open (guarded by LOCK)


def write_stats():
    """Caller holds LOCK."""
    if STATS_PATH is None:
        return
    line = " ".join("%s=%d" % (k, STATS[k]) for k in
                    ("accepted", "open", "max_open", "mails", "injected",
                     "idle_closed")) + "\n"
    tmp = STATS_PATH + ".tmp"
    with open(tmp, "w") as f:
        f.write(line)
    os.replace(tmp, STATS_PATH)


def bump(key, n=1):
    with LOCK:
        STATS[key] += n
        if key == "open" and STATS["open"] > STATS["max_open"]:
            STATS["max_open"] = STATS["open"]
        write_stats()


def uncount(relay):
    """Counts relay's connection as closed (once)."""
    with LOCK:
        if relay in LIVE:
            LIVE.discard(relay)
            STATS["open"] -= 1
            write_stats()


def client_gone(sock):
    """1 if the client already closed (its FIN or RST is queued)."""
    try:
        if sock.fileno() < 0:
            return True
        r, _, _ = select.select([sock], [], [], 0)
        if not r:
            return False
        # Through a duplicate without a Python timeout: recv() on the
        # original would wait up to its timeout if the relay thread took
        # the bytes in between (the descriptor is non-blocking either way).
        dup = socket.socket(fileno=os.dup(sock.fileno()))
        try:
            return dup.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        finally:
            dup.close()  # the duplicate only
    except BlockingIOError:
        return False
    except OSError:
        return True


def count_new(relay):
    """Counts a new connection as open.  A client that closes one
    connection and opens the next sends its FIN before the SYN, but this
    proxy may notice the SYN (accept) before the relay thread of the old
    connection notices the FIN: connections whose client is already gone
    are uncounted first, so that max_open is what the client really held."""
    with LOCK:
        gone = [r for r in LIVE if client_gone(r.c)]
        for r in gone:
            LIVE.discard(r)
            STATS["open"] -= 1
        LIVE.add(relay)
        STATS["accepted"] += 1
        STATS["open"] += 1
        if STATS["open"] > STATS["max_open"]:
            STATS["max_open"] = STATS["open"]
        write_stats()


class Relay:
    def __init__(self, csock, target, number, opts):
        self.c = csock
        self.s = None
        self.target = target
        self.opts = opts
        self.inject = (opts["inject_mail"] > 0 and
                       number % opts["inject_every"] == 0)
        self.parse = True        # False after STARTTLS: bytes are opaque
        self.cbuf = b""          # client bytes not yet forwarded (commands)
        self.sbuf = b""          # server bytes of an incomplete line
        self.in_body = False     # between the 354 and the end of data
        self.tail = b"\r\n"      # last body bytes (split terminator)
        self.outstanding = 1     # replies owed (the greeting, commands,
                                 # bodies)
        self.mails = 0
        self.last = time.monotonic()

    # ---- server -> client ---------------------------------------------

    def from_server(self, data):
        if self.parse:
            self.sbuf += data
            while True:
                i = self.sbuf.find(b"\n")
                if i < 0:
                    break
                line = self.sbuf[:i + 1]
                self.sbuf = self.sbuf[i + 1:]
                if REPLY_END.match(line):
                    self.outstanding -= 1
                    if line.startswith(b"354"):
                        self.in_body = True
                        self.tail = b"\r\n"
        self.c.sendall(data)

    # ---- client -> server ---------------------------------------------

    def from_client(self, data):
        """Returns False when the connection was ended (421 injected)."""
        if not self.parse:
            self.s.sendall(data)
            return True
        self.cbuf += data
        out = b""
        while self.cbuf:
            if self.in_body:
                hay = self.tail + self.cbuf
                i = hay.find(b"\r\n.\r\n")
                if i < 0:
                    out += self.cbuf
                    self.tail = hay[-4:]
                    self.cbuf = b""
                    break
                end = i + 5 - len(self.tail)
                out += self.cbuf[:end]
                self.cbuf = self.cbuf[end:]
                self.in_body = False
                self.outstanding += 1
                continue
            i = self.cbuf.find(b"\n")
            if i < 0:
                break
            line = self.cbuf[:i + 1]
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == b"MAIL":
                self.mails += 1
                bump("mails")
                if self.inject and self.mails == self.opts["inject_mail"]:
                    if out:
                        self.s.sendall(out)
                    self.inject_421()
                    return False
            self.cbuf = self.cbuf[i + 1:]
            out += line
            self.outstanding += 1
            if verb == b"STARTTLS":
                # the rest is TLS: forward untouched from here on
                out += self.cbuf
                self.cbuf = b""
                self.parse = False
                break
        if out:
            self.s.sendall(out)
        return True

    def inject_421(self):
        """Relays the replies still owed to the client, then 421, close."""
        end = time.monotonic() + DRAIN_MAX
        while self.outstanding > 0 and time.monotonic() < end:
            r, _, _ = select.select([self.s], [], [], 0.1)
            if r:
                data = self.s.recv(65536)
                if not data:
                    break
                self.from_server(data)
        # closed from here on as far as the server side goes: the client
        # may reconnect as soon as it reads the 421
        self.s.close()
        uncount(self)
        bump("injected")
        self.c.sendall(b"421 4.4.2 pool_proxy closing\r\n")

    # ---- the loop ------------------------------------------------------

    def idle_expired(self, now):
        ms = self.opts["idle_close_ms"]
        if ms <= 0 or (now - self.last) * 1000.0 < ms:
            return False
        # in clear text only idle when nothing is awaited
        return not self.parse or (self.outstanding <= 0 and
                                  not self.in_body)

    def run(self):
        try:
            self.s = socket.create_connection(("127.0.0.1", self.target),
                                              timeout=10)
            self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.c.settimeout(10)
            self.s.settimeout(10)
            while not STOP.is_set():
                r, _, _ = select.select([self.c, self.s], [], [], 0.02)
                now = time.monotonic()
                if not r:
                    if self.idle_expired(now):
                        uncount(self)
                        bump("idle_closed")
                        break
                    continue
                self.last = now
                for sock in r:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is self.s:
                        self.from_server(data)
                    elif not self.from_client(data):
                        return
        except OSError:
            pass
        finally:
            uncount(self)
            for sock in (self.c, self.s):
                if sock is None:
                    continue
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()


def usage(msg):
    sys.stderr.write("pool_proxy: %s\n" % msg)
    sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
    sys.exit(2)


def main(argv):
    global STATS_PATH
    opts = {"target": 0, "timeout": 900.0, "idle_close_ms": 0,
            "inject_mail": 0, "inject_every": 1}
    names = {"--target-port": ("target", int), "--timeout": ("timeout", float),
             "--idle-close-ms": ("idle_close_ms", int),
             "--inject-421-mail": ("inject_mail", int),
             "--inject-every": ("inject_every", int),
             "--stats": ("stats", str)}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            sys.stdout.write(__doc__)
            return 0
        if a not in names or i + 1 >= len(argv):
            usage("bad argument %r" % a)
        key, conv = names[a]
        try:
            opts[key] = conv(argv[i + 1])
        except ValueError:
            usage("bad value for %s" % a)
        i += 2
    if not 0 < opts["target"] < 65536:
        usage("--target-port is required")
    if opts["inject_every"] < 1 or opts["inject_mail"] < 0 or \
            opts["idle_close_ms"] < 0 or not 0 < opts["timeout"] <= 3600:
        usage("bad option value")
    STATS_PATH = opts.get("stats")

    def on_signal(signum, frame):
        STOP.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    with LOCK:
        write_stats()
    sys.stdout.write("%d\n" % ls.getsockname()[1])
    sys.stdout.flush()

    parent = os.getppid()
    stop_at = time.monotonic() + opts["timeout"]
    threads = []
    n = 0
    while not STOP.is_set():
        if time.monotonic() >= stop_at:
            sys.stderr.write("pool_proxy: run time over\n")
            break
        if os.getppid() != parent:
            break
        r, _, _ = select.select([ls], [], [], 0.2)
        if not r:
            continue
        try:
            csock, _ = ls.accept()
        except OSError:
            continue
        n += 1
        relay = Relay(csock, opts["target"], n, opts)
        count_new(relay)
        t = threading.Thread(target=relay.run, daemon=True)
        t.start()
        threads.append(t)
        threads = [t for t in threads if t.is_alive()]
    STOP.set()
    ls.close()
    for t in threads:
        t.join(2.0)
    with LOCK:
        write_stats()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
