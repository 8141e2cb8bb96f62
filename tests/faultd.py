#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""faultd.py -- a fault-injecting SMTP server for libsmtpc's tests.

A small, otherwise well-behaved SMTP server that misbehaves on purpose at one
chosen point of the dialogue: it closes or resets the connection, stalls,
drips, sends garbage, overlong or endless replies, 421, or rejects.  Python 3
standard library only.  Used by tests/check_faults.c.

usage: faultd.py [--log FILE] [--timeout T] [--conn-timeout T] [--conns N]
                 SCENARIO[+nopipe][+chunking][+binarymime][+LABEL] ...
       faultd.py --list | --help

One listening socket per SCENARIO, each bound to 127.0.0.1 port 0 (never any
other address).  SCENARIO may carry "+" suffixes: "+nopipe" (below),
"+chunking" (CHUNKING in the EHLO reply: BDAT, below), "+binarymime"
(CHUNKING and BINARYMIME); any other
lower-case word is a label that only makes the name (port, log tag) distinct,
e.g. "ok+nb" for a second, separate "ok".  Standard output, flushed at once:
  line 1      the port of the first SCENARIO (so a single-scenario run reads
              one number)
  then        "SCENARIO PORT" for every SCENARIO, in argument order
  then        "ready"
Every connection to a scenario's port gets that scenario; connections are
served concurrently (one thread each).  The suffix "+nopipe" makes the server
leave PIPELINING out of its EHLO reply and record a VIOLATION when a client
sends a command before the previous reply (see the log).

The fault fires once per connection, at its point (--list names them all).
Rejections (MAIL 550, every RCPT 550, DATA 554, 552 or 451 after the body)
only hit the first transaction (the first MAIL) of a connection, so a client
can RSET and send another message successfully; "partial-rcpt" rejects its
addresses in every transaction.  Otherwise every MAIL, RCPT, DATA and message
is accepted.  RCPT or DATA outside a transaction get 503.  "close" sends FIN
at once (shutdown) and reads on until the client closes, so no RST follows;
mid-body it closes with unread data, which Linux turns into RST.  "reset"
closes with SO_LINGER 0 (RST).

CHUNKING (RFC 3030): "+chunking", "+binarymime" and every "bdat-*" scenario
offer it.  "BDAT <n> [LAST]" is followed by exactly n octets, read as they
are (binary-safe: no line or dot handling); chunks of a transaction are
reassembled, and a LAST chunk ends the message as the end of data does (the
"eod" faults then apply to it, e.g. "552-eod+chunking").  Like Postfix: after
a refused chunk every later chunk of the transaction gets "551 5.0.0
Discarded N bytes after earlier error" until LAST or RSET; "BDAT 0" without
LAST gets "551 5.7.1 Null BDAT request"; BDAT outside a transaction 503, with
no accepted recipient 554 (its octets are read and dropped either way); DATA
after BDAT in one transaction 503; BDAT to a server that did not offer
CHUNKING, or a malformed BDAT, 521 and close.  A chunk before the replies to
its MAIL and RCPT commands is a VIOLATION but for the LAST chunk of an
envelope sent in one flight ("MAIL, RCPT..., BDAT n LAST", RFC 3030 4.2, as
Postfix takes it); so is a MAIL after a refused BDAT (LAST too) without an
RSET between (RFC 3030 2).  The "+chunking" scenarios
whose point is "body" count chunk octets as body bytes.

Ends after N connections (--conns, default 0 = no limit) have been served, T
seconds after start (--timeout, default 120), on SIGTERM/SIGINT, or when the
parent process goes away.  Each connection is bounded too (--conn-timeout,
default 30 s): every wait for the client and every send has a deadline.

Log (--log FILE, appended, one line per event, flushed at once; lines from
concurrent connections never interleave within a line).  Every line starts
with the connection's tag "SCENARIO#N" (N counts the scenario's connections
from 1):
  TAG CONNECT
  TAG S <escaped bytes>         a reply (or fault bytes) about to be sent
  TAG C <escaped line>          a command line received (without CRLF)
  TAG RCPT-REPLY txn=K from=<F> to=<A> code=NNN
                                a complete RCPT reply about to be sent
  TAG BODY txn=K from=<F> bytes=N
                                a message's end of data was received; N is
                                the unstuffed body size (CRLF line ends)
  TAG ACCEPTED txn=K from=<F> rcpts=<A>,<B> bytes=N
                                a complete 250 reply to the end of data is
                                about to be sent (written before the reply,
                                so a client that saw the 250 finds it here)
  TAG REJECTED txn=K code=NNN   a complete non-2xx reply to DATA, to the
                                end of data or to a BDAT chunk (not a 551
                                discard) is about to be sent
  TAG CHUNK txn=K n=I size=N last=L
                                BDAT chunk I (from 1) of transaction K and its
                                N octets were read (L: 1 for LAST)
  TAG UNANSWERED n=N            (bdat-lazy) N chunks have been read and not
                                yet answered, counting this one
  TAG DISCARDED txn=K n=I bytes=N
                                a chunk after an earlier error (551)
  TAG MESSAGE txn=K from=<F> bytes=N crc=XXXXXXXX data=<escaped>
                                the message as received (after DATA:
                                unstuffed; after BDAT: the chunks joined),
                                logged with BODY; crc is its CRC-32 (as
                                zlib's), data its first 4096 bytes escaped
  TAG FAULT <what>              the scenario's fault fires
  TAG STALL-READ bytes=N data=<escaped>
                                what a stall that reads received and dropped
                                (logged when the stall ends)
  TAG VIOLATION <what>          the client broke the protocol (e.g. wrote
                                behind DATA before the 354, or pipelined
                                without PIPELINING)
  TAG END <why>                 the connection is finished (always the last
                                line of a connection)
Escaping: printable ASCII as is, backslash as \\\\, others as \\xHH; long
byte strings are shortened to their first 200 bytes plus "...(N bytes)".
"""

import errno
import os
import re
import select
import selectors
import signal
import socket
import struct
import sys
import threading
import time
import zlib

HOSTNAME = "faultd.test"
BODY_FAULT_AT = 32768      # body bytes read before a mid-body fault
DRIP_DELAY = 0.002         # seconds between bytes for "drip"
DRIP_SLOW_DELAY = 0.1      # seconds between bytes for "drip-slow"
ENDLESS_FAST_DELAY = 0.001  # seconds between "250-x" lines
ENDLESS_SLOW_DELAY = 0.1
IDLE_421_DELAY = 0.2       # seconds before the unsolicited 421 of 421-idle
OVERLONG = 100 * 1024      # bytes of the overlong line (no LF)
SERVER_RCVBUF = 16384      # small receive buffer: a stalled reader is felt
STALL_NOREAD_MAX = 5.0     # seconds a non-reading stall lasts, then RST
CLOSE_LINGER = 3.0         # seconds a closed connection is read until EOF
RESET_GREETING_DELAY = 0.1  # reset-*-greeting: pause before the greeting
IDLE_CLOSE_DELAY = 0.3     # close-idle-300: idle time before the close
SLOW_EOD_DELAY = 0.3       # slow-eod: pause before each reply to end of data
AUTH_USER = "user"         # the one account of "auth"
AUTH_PASS = "good pass"
LINE_MAX = 8192            # longest command line read
LAZY_QUIET = 0.15          # bdat-lazy: silence before pending replies go
MESSAGE_LOG_MAX = 4096     # message bytes escaped into a MESSAGE line

# name -> (point, action, description)
#   points:  pre-greeting, after-greeting, ehlo, mail, rcpt (first RCPT),
#            rcpt2 (second RCPT; the first gets 250), data, body (after
#            BODY_FAULT_AT body bytes), eod (end of data received, before its
#            reply), rset (an RSET received), quit (QUIT received), idle
#            (after the first message's 250), session (every reply), --
#            (none)
#   actions: close, reset, mid (part of the reply, then close), stall, 421,
#            garbage, overlong, endless, endless-slow, wrongcode, drip,
#            drip-slow, reject-rcpt, reject-rcpt-354, reject-mail, 554, 552,
#            451, partial, 554-greet, reject-hello, auth, 421-mail2,
#            close-eod2, idle-close, slow,
#            421-same-write, none
#   BDAT:    point "chunk" (chunk K of the first transaction, K from the
#            name's "chunkK"); actions bdat-552, bdat-451, 421, stall,
#            close, reset (the last two halfway through the chunk's data);
#            "bdat-lazy" (point --) holds its chunk replies back
SCENARIOS = {}


def _add(name, point, action, desc):
    SCENARIOS[name] = (point, action, desc)


_add("ok", "--", "none", "a well-behaved server (control)")
for _act, _verb in (("close", "closes the connection (FIN)"),
                    ("reset", "resets the connection (SO_LINGER 0: RST)")):
    _add(_act + "-after-greeting", "after-greeting", _act,
         "sends the greeting, then %s" % _verb)
    _add(_act + "-mid-greeting", "pre-greeting", "mid",
         "sends half of the greeting line, then %s" % _verb)
    _add(_act + "-after-ehlo", "ehlo", _act,
         "reads EHLO, then %s without a reply" % _verb)
    _add(_act + "-mid-ehlo-reply", "ehlo", "mid",
         "sends one and a half EHLO reply lines, then %s" % _verb)
    _add(_act + "-after-mail", "mail", _act,
         "reads MAIL, then %s without a reply" % _verb)
    _add(_act + "-after-rcpt", "rcpt", _act,
         "reads the first RCPT, then %s without a reply" % _verb)
    _add(_act + "-after-rcpt2", "rcpt2", _act,
         "accepts the first RCPT, reads the second, then %s" % _verb)
    _add(_act + "-after-data", "data", _act,
         "reads DATA, then %s without a reply" % _verb)
    _add(_act + "-mid-body", "body", _act,
         "reads %d body bytes, then %s" % (BODY_FAULT_AT, _verb))
    _add(_act + "-after-eod", "eod", _act,
         "reads the end of data, then %s before the reply" % _verb)
    _add(_act + "-mid-final-reply", "eod", "mid",
         "sends half of the 250 reply to the end of data, then %s" % _verb)
# the "mid" scenarios of the reset family reset instead of closing
for _p in ("stall-greeting:pre-greeting", "stall-after-ehlo:ehlo",
           "stall-after-mail:mail", "stall-after-rcpt:rcpt",
           "stall-after-data:data", "stall-after-eod:eod"):
    _n, _pt = _p.split(":")
    _add(_n, _pt, "stall",
         "never replies (keeps reading, keeps the connection open) at %s"
         % _pt)
_add("stall-mid-body", "body", "stall",
     "stops reading after %d body bytes (the client's writes block)"
     % BODY_FAULT_AT)
for _pt in ("greeting:pre-greeting", "ehlo:ehlo", "mail:mail", "rcpt:rcpt",
            "rcpt2:rcpt2", "data:data", "eod:eod", "rset:rset"):
    _n, _p = _pt.split(":")
    _add("421-" + _n, _p, "421", "answers 421 at %s, then closes" % _n)
_add("421-idle", "idle", "421",
     "accepts the first message, %g s later sends an unsolicited 421 and "
     "closes" % IDLE_421_DELAY)
_add("421-idle-now", "idle", "421-same-write",
     "accepts the first message and sends 421 in the same write as the 250, "
     "then closes")
_add("close-idle", "idle", "close",
     "accepts the first message, then closes the connection")
_add("drip", "session", "drip",
     "sends every reply one byte at a time, %g s apart" % DRIP_DELAY)
_add("drip-slow", "session", "drip-slow",
     "sends every reply one byte at a time, %g s apart" % DRIP_SLOW_DELAY)
_add("garbage-greeting", "pre-greeting", "garbage",
     "greets with a line that is not an SMTP reply")
_add("garbage-mail", "mail", "garbage", "answers MAIL with garbage")
_add("garbage-eod", "eod", "garbage", "answers the end of data with garbage")
_add("overlong-greeting", "pre-greeting", "overlong",
     "greets with %d bytes without LF, then waits" % OVERLONG)
_add("overlong-rcpt", "rcpt", "overlong",
     "answers the first RCPT with %d bytes without LF" % OVERLONG)
_add("overlong-eod", "eod", "overlong",
     "answers the end of data with %d bytes without LF" % OVERLONG)
_add("endless-ehlo", "ehlo", "endless",
     "answers EHLO with \"250-x\" lines forever, one per %g s"
     % ENDLESS_FAST_DELAY)
_add("endless-ehlo-slow", "ehlo", "endless-slow",
     "answers EHLO with \"250-x\" lines forever, one per %g s"
     % ENDLESS_SLOW_DELAY)
_add("endless-eod", "eod", "endless",
     "answers the end of data with \"250-x\" lines forever")
_add("wrongcode-ehlo", "ehlo", "wrongcode",
     "EHLO reply whose continuation lines change code (250-, 220-, 250)")
_add("wrongcode-rcpt", "rcpt", "wrongcode",
     "first RCPT reply \"250-...\" continued by \"550 ...\"")
_add("reject-rcpt", "rcpt", "reject-rcpt",
     "first transaction: every RCPT 550, DATA 554")
_add("reject-rcpt-354", "rcpt", "reject-rcpt-354",
     "first transaction: every RCPT 550, yet DATA 354 and the (empty) "
     "message 250")
_add("reject-data", "data", "554",
     "first transaction: every RCPT 250, DATA 554")
_add("552-eod", "eod", "552",
     "first transaction: the end of data is answered 552")
_add("451-eod", "eod", "451",
     "first transaction: the end of data is answered 451")
_add("reject-mail", "mail", "reject-mail",
     "first transaction: MAIL 550 (then RCPT and DATA 503)")
_add("reject-mail-354", "mail", "reject-mail-354",
     "first transaction of the first connection: MAIL 550, RCPT 503, yet DATA 354 (non-conforming); "
     "logs what arrives as message text, 250 to a \".\"")
for _act in ("close", "reset", "stall"):
    _add(_act + "-quit", "quit", _act,
         "reads QUIT, then %s instead of 221"
         % {"close": "closes", "reset": "resets",
            "stall": "never answers"}[_act])
_add("partial-rcpt", "rcpt", "partial",
     "RCPT: addresses containing \"bad\" get 550, \"tmp\" 451, others 250")
# For the one-call API and the pool (tests/check_client.c).
_add("554-greeting", "pre-greeting", "554-greet",
     "greets with 554, then answers 503 to everything but QUIT")
_add("reject-hello", "ehlo", "reject-hello",
     "answers both EHLO and HELO with 550")
_add("auth", "--", "auth",
     "offers AUTH PLAIN LOGIN (no STARTTLS); user \"%s\" with password "
     "\"%s\" gets 235, anything else 535" % (AUTH_USER, AUTH_PASS))
_add("421-mail2", "--", "421-mail2",
     "accepts the first message; answers the second MAIL of the connection "
     "with 421, then closes")
_add("close-eod2", "--", "close-eod2",
     "accepts the first message; reads the end of data of the second, then "
     "closes without a reply")
_add("close-idle-300", "--", "idle-close",
     "closes the connection (FIN, no 421) once it has waited %g s for a "
     "command" % IDLE_CLOSE_DELAY)
_add("slow-eod", "--", "slow",
     "waits %g s before every reply to the end of data" % SLOW_EOD_DELAY)
# CHUNKING / BDAT (RFC 3030): these offer CHUNKING
for _k in (1, 2, 3):
    _add("bdat-552-chunk%d" % _k, "chunk", "bdat-552",
         "first transaction: BDAT chunk %d gets \"552 5.3.4 Message too "
         "big\", later chunks 551 (discarded) until LAST or RSET" % _k)
    _add("bdat-451-chunk%d" % _k, "chunk", "bdat-451",
         "first transaction: BDAT chunk %d gets 451, later chunks 551 "
         "until LAST or RSET" % _k)
    _add("bdat-421-chunk%d" % _k, "chunk", "421",
         "answers BDAT chunk %d with 421, then closes" % _k)
    _add("bdat-stall-chunk%d" % _k, "chunk", "stall",
         "reads BDAT chunk %d, then never answers (keeps reading): "
         "Exchange's hang" % _k)
    _add("bdat-close-mid-chunk%d" % _k, "chunk", "close",
         "reads half of the octets of BDAT chunk %d, then closes (FIN)" % _k)
    _add("bdat-reset-mid-chunk%d" % _k, "chunk", "reset",
         "reads half of the octets of BDAT chunk %d, then resets (RST)" % _k)
_add("bdat-lazy", "--", "lazy",
     "answers BDAT chunks (but LAST) only once the client has been silent "
     "for %g s, all at once; logs UNANSWERED" % LAZY_QUIET)

STOP = threading.Event()
LOG_LOCK = threading.Lock()
LOGF = None


def esc(data, limit=200):
    if isinstance(data, str):
        data = data.encode("latin-1")
    out = []
    for b in data[:limit]:
        if b == 0x5C:
            out.append("\\\\")
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append("\\x%02x" % b)
    s = "".join(out)
    if len(data) > limit:
        s += "...(%d bytes)" % len(data)
    return s


def log(tag, what):
    line = "%s %s\n" % (tag, what)
    with LOG_LOCK:
        if LOGF is not None:
            LOGF.write(line.encode("latin-1", "replace"))
            LOGF.flush()


class Done(Exception):
    """The connection is over (client gone, deadline, fault delivered)."""


class Conn:
    def __init__(self, sock, spec, tag, conn_timeout):
        self.sock = sock
        self.spec = spec
        parts = spec.split("+")
        name = parts[0]
        self.name = name
        self.pipelining = "nopipe" not in parts[1:]
        self.binarymime = "binarymime" in parts[1:]
        self.chunking = (self.binarymime or "chunking" in parts[1:] or
                         name.startswith("bdat-"))
        self.point, self.action, _ = SCENARIOS[name]
        self.fault_chunk = (int(name[name.index("chunk") + 5:])
                            if self.point == "chunk" else 0)
        self.tag = tag
        self.deadline = time.monotonic() + conn_timeout
        self.buf = bytearray()
        self.fired = False
        self.txn = 0
        self.mail_from = None
        self.rcpts = []        # (address, code) of the current transaction
        self.nrcpt_cmds = 0
        self.delivered = 0
        self.rset_seen = 0
        self.in_txn = False     # a MAIL was accepted
        self.refused = False    # greeted with 554: only QUIT is served
        self.bdat_reset()
        self.pending = []       # bdat-lazy: replies held back
        self.verb = ""          # the command being answered
        self.rset_owed = False  # a BDAT was refused, no RSET since
        self.env_flight = False  # MAIL and its RCPTs sent without a wait

    def bdat_reset(self):
        self.chunks = 0         # BDAT chunks of this transaction
        self.chunk_data = bytearray()
        self.bdat_failed = False  # a chunk was refused: discard until LAST

    # ---- plumbing ----------------------------------------------------------

    def left(self):
        if STOP.is_set():
            raise Done("server stopping")
        t = self.deadline - time.monotonic()
        if t <= 0:
            raise Done("connection time limit")
        return t

    def recv_some(self, wait=None):
        """Appends what the client sends to self.buf; bounded wait."""
        t = self.left() if wait is None else min(wait, self.left())
        self.sock.settimeout(min(t, 1.0))
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return False
        except OSError as e:
            raise Done("recv: %s" % e)
        if not data:
            raise Done("client closed")
        self.buf += data
        return True

    def readline(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            if len(self.buf) > LINE_MAX:
                log(self.tag, "VIOLATION command line over %d bytes"
                    % LINE_MAX)
                raise Done("overlong command line")
            self.recv_some()

    def send(self, data, delay=None):
        if isinstance(data, str):
            data = data.encode("latin-1")
        if delay is None:
            if self.action == "drip":
                delay = DRIP_DELAY
            elif self.action == "drip-slow":
                delay = DRIP_SLOW_DELAY
        try:
            if delay:
                for i in range(len(data)):
                    self.sock.settimeout(min(self.left(), 5.0))
                    self.sock.sendall(data[i:i + 1])
                    time.sleep(delay)
            else:
                self.sock.settimeout(min(self.left(), 10.0))
                self.sock.sendall(data)
        except (socket.timeout, TimeoutError):
            raise Done("send timed out")
        except OSError as e:
            raise Done("send: %s" % e)

    def reply(self, text):
        """Sends a complete reply (text with CRLFs)."""
        if self.verb == "BDAT" and text[:1] in ("4", "5"):
            # RFC 3030 2: after a failed BDAT (LAST too) the state is
            # indeterminate and "A RSET command MUST be issued"
            self.rset_owed = True
        log(self.tag, "S " + esc(text))
        self.send(text)

    def close(self):
        """Closes with FIN: shutdown() sends it at once, whatever the client
        still sends; then what arrives is read until the client closes too
        (bounded), so that the final close() does not turn into RST (Linux
        resets a socket closed with unread data)."""
        log(self.tag, "FAULT close")
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            raise Done("fault: closed")
        end = time.monotonic() + CLOSE_LINGER
        while time.monotonic() < end:
            try:
                if not self.recv_some(end - time.monotonic()):
                    continue
            except Done:
                break
            self.buf.clear()
        raise Done("fault: closed")

    def reset(self):
        log(self.tag, "FAULT reset")
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
        except OSError:
            pass
        raise Done("fault: reset")

    def close_or_reset(self):
        if self.name.startswith("reset-"):
            self.reset()
        self.close()

    def stall(self, read=True):
        """No reply ever; keeps the connection open until the client goes
        away or the connection's time runs out.  With read=False nothing is
        read either (the client's writes eventually block)."""
        log(self.tag, "FAULT stall%s" % ("" if read else " (not reading)"))
        if read:
            # what arrives is dropped; logged once the stall ends
            got = bytearray(self.buf)
            self.buf.clear()
            try:
                while True:
                    self.recv_some()
                    got += self.buf
                    self.buf.clear()
            except Done:
                log(self.tag, "STALL-READ bytes=%d data=%s"
                    % (len(got), esc(bytes(got))))
                raise
        # The client's FIN queues behind the body bytes nobody reads, so
        # only a reset is seen at once; the stall is bounded anyway.
        rdhup = getattr(select, "POLLRDHUP", 0)
        p = select.poll()
        p.register(self.sock.fileno(), rdhup | select.POLLHUP |
                   select.POLLERR)
        end = time.monotonic() + STALL_NOREAD_MAX
        while time.monotonic() < end:
            self.left()
            if p.poll(200):
                raise Done("client closed")
        self.reset()

    def fires(self, point):
        if self.fired or self.point != point:
            return False
        if self.action in ("reject-rcpt", "reject-rcpt-354", "554", "552",
                           "451", "reject-mail", "reject-mail-354",
                           "partial", "bdat-552", "bdat-451"):
            # reply faults: first transaction only ("partial" always);
            # reject-mail-354 on the first connection only
            if self.action != "partial" and self.txn != 1:
                return False
            if self.action == "reject-mail-354" and \
                    not self.tag.endswith("#1"):
                return False
            return True
        self.fired = True
        return True

    def check_sync(self, verb):
        """Non-pipelining mode: nothing may follow a command before its reply.
        Pipelining (RFC 2920 3.1): nothing may follow EHLO, DATA, QUIT,
        RSET... well, RSET may; DATA and EHLO end a group."""
        extra = len(self.buf) > 0
        if not extra:
            self.drain_peek()
            extra = len(self.buf) > 0
        # MAIL and every RCPT after it sent without waiting for a reply:
        # the envelope is in one flight (see ahead_ok)
        if verb == "MAIL":
            self.env_flight = extra
        elif verb == "RCPT":
            self.env_flight = self.env_flight and extra
        if not extra:
            return
        if not self.pipelining:
            log(self.tag, "VIOLATION %s followed by %d byte(s) before its "
                "reply without PIPELINING: %s"
                % (verb, len(self.buf), esc(bytes(self.buf[:80]))))
        elif verb in ("EHLO", "HELO", "DATA", "QUIT", "STARTTLS", "AUTH"):
            log(self.tag, "VIOLATION %s not last in its group (%d byte(s) "
                "follow: %s)" % (verb, len(self.buf),
                                 esc(bytes(self.buf[:80]))))
        elif verb in ("MAIL", "RCPT") and (
                self.buf[:5].upper() == b"BDAT " or
                b"\r\nBDAT " in bytes(self.buf).upper()):
            # RFC 3030 2: chunks only after every MAIL and RCPT reply, but
            # for the LAST chunk of an envelope sent in one flight (4.2)
            if not self.ahead_ok():
                log(self.tag, "VIOLATION BDAT sent before the reply to %s: %s"
                    % (verb, esc(bytes(self.buf[:80]))))

    def ahead_ok(self):
        """RFC 3030 4.2 pipelines BDAT behind MAIL and RCPT, and Postfix
        takes "MAIL, RCPT..., BDAT n LAST" in one flight (a refused
        envelope gets the chunk's octets refused too).  A chunk may come
        before the envelope's replies only so: the envelope went without
        waiting for any of its replies, nothing but RCPT lines lie between
        this command and the chunk, and the chunk is the LAST one.  A chunk
        that is not LAST would leave data behind a refused envelope."""
        if not self.env_flight:
            return False
        buf = bytes(self.buf)
        pos = 0
        while True:
            end = buf.find(b"\r\n", pos)
            if end < 0:
                return False  # the chunk's command line is not whole yet
            line = buf[pos:end].upper()
            if line.startswith(b"BDAT "):
                return re.fullmatch(rb"BDAT [0-9]+ LAST", line) is not None
            if not line.startswith(b"RCPT "):
                return False
            pos = end + 2

    def drain_peek(self):
        self.sock.settimeout(0.0)
        try:
            data = self.sock.recv(65536)
        except OSError:
            return
        if data:
            self.buf += data

    # ---- the dialogue ------------------------------------------------------

    def ehlo_reply(self):
        lines = [HOSTNAME + " greets you"]
        if self.pipelining:
            lines.append("PIPELINING")
        lines += ["8BITMIME", "SIZE 52428800", "ENHANCEDSTATUSCODES"]
        if self.chunking:
            lines.append("CHUNKING")
        if self.binarymime:
            lines.append("BINARYMIME")
        if self.action == "auth":
            lines.append("AUTH PLAIN LOGIN")
        out = ""
        for i, l in enumerate(lines):
            out += "250%s%s\r\n" % (" " if i == len(lines) - 1 else "-", l)
        return out

    def greeting(self):
        if self.name.startswith("reset-") and "greeting" in self.name:
            # Let the client's non-blocking connect see the connection up
            # before the reset (else connect() itself fails, ECONNRESET).
            time.sleep(RESET_GREETING_DELAY)
        if self.fires("pre-greeting"):
            a = self.action
            if a == "mid":
                log(self.tag, "FAULT half a greeting")
                self.send("220 faultd.test ES")
                self.close_or_reset()
            if a == "stall":
                self.stall()
            if a == "421":
                log(self.tag, "FAULT 421 greeting")
                self.reply("421 4.3.2 faultd.test too busy, try later\r\n")
                self.close()
            if a == "garbage":
                log(self.tag, "FAULT garbage greeting")
                self.send(b"HTTP/1.1 400 Bad Request\r\n\x00\xff\r\n")
                self.stall()
            if a == "overlong":
                log(self.tag, "FAULT overlong greeting")
                self.send(b"220 " + b"x" * OVERLONG)
                self.stall()
            if a == "554-greet":
                # RFC 5321 3.1: the server then waits for QUIT and answers
                # 503 to any other command (see dialogue()).
                log(self.tag, "FAULT 554 greeting")
                self.refused = True
                self.reply("554 5.7.1 faultd.test no SMTP service for you\r\n")
                return
        self.reply("220 %s ESMTP faultd (%s)\r\n" % (HOSTNAME, self.spec))
        if self.fires("after-greeting"):
            self.close_or_reset()

    def on_ehlo(self, verb):
        if self.action == "reject-hello":
            # both verbs, every time: the client's HELO fallback fails too
            log(self.tag, "FAULT %s refused" % verb)
            self.reply("550 5.7.1 faultd.test: %s refused\r\n" % verb)
            return
        if verb == "HELO":
            self.reply("250 %s\r\n" % HOSTNAME)
            return
        if self.fires("ehlo"):
            a = self.action
            if a in ("close", "reset"):
                self.close_or_reset()
            if a == "mid":
                log(self.tag, "FAULT half an EHLO reply")
                self.send("250-%s\r\n250-PIPEL" % HOSTNAME)
                self.close_or_reset()
            if a == "stall":
                self.stall()
            if a == "421":
                self.reply("421 4.7.0 faultd.test closing\r\n")
                self.close()
            if a in ("endless", "endless-slow"):
                self.endless("250")
            if a == "wrongcode":
                log(self.tag, "FAULT wrong code on a continuation line")
                self.reply("250-%s\r\n220-PIPELINING\r\n250 8BITMIME\r\n"
                           % HOSTNAME)
                return
        self.reply(self.ehlo_reply())

    def endless(self, code):
        log(self.tag, "FAULT endless continuation")
        delay = (ENDLESS_SLOW_DELAY if self.action == "endless-slow"
                 else ENDLESS_FAST_DELAY)
        self.send("%s-%s\r\n" % (code, HOSTNAME))
        n = 0
        while True:
            self.send("%s-x%d\r\n" % (code, n), delay=0)
            n += 1
            time.sleep(delay)
            self.left()

    def on_mail(self, arg):
        if self.chunks > 0 or self.bdat_failed:
            # RFC 3030 2: a BDAT transaction ends with LAST or RSET
            log(self.tag, "VIOLATION MAIL inside a BDAT transaction")
            self.reply("503 5.5.1 Error: nested MAIL command\r\n")
            return
        self.bdat_reset()
        self.txn += 1
        self.mail_from = arg
        self.rcpts = []
        self.nrcpt_cmds = 0
        if self.action == "421-mail2" and self.txn == 2:
            log(self.tag, "FAULT 421 to MAIL txn=2")
            self.reply("421 4.4.2 faultd.test closing\r\n")
            self.close()
        if self.fires("mail"):
            a = self.action
            if a in ("close", "reset"):
                self.close_or_reset()
            if a == "stall":
                self.stall()
            if a == "421":
                self.reply("421 4.3.0 faultd.test shutting down\r\n")
                self.close()
            if a == "garbage":
                log(self.tag, "FAULT garbage MAIL reply")
                self.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\r\n")
                self.stall()
            if a in ("reject-mail", "reject-mail-354"):
                log(self.tag, "REJECTED txn=%d code=550" % self.txn)
                self.in_txn = False
                self.reply("550 5.7.1 <%s>: Sender address rejected\r\n"
                           % self.mail_from_addr())
                return
        self.in_txn = True
        self.reply("250 2.1.0 Ok\r\n")

    def rcpt_code(self, addr):
        if self.action == "partial":
            low = addr.lower()
            if "bad" in low:
                return 550, "550 5.1.1 <%s>: Recipient address rejected" % addr
            if "tmp" in low:
                return 451, "451 4.3.0 <%s>: Try again later" % addr
        return 250, "250 2.1.5 Ok"

    def no_txn(self, verb):
        """RCPT or DATA outside a transaction: 503.  Fine after a pipelined
        MAIL that failed; a violation without PIPELINING."""
        if not self.pipelining:
            log(self.tag, "VIOLATION %s without an accepted MAIL" % verb)
        self.reply("503 5.5.1 Error: need MAIL command\r\n")

    def on_rcpt(self, arg):
        if not self.in_txn:
            self.no_txn("RCPT")
            return
        addr = arg
        if addr.upper().startswith("TO:"):
            addr = addr[3:].strip()
        addr = addr.split(" ", 1)[0].strip("<>")
        self.nrcpt_cmds += 1
        point = ("rcpt" if self.nrcpt_cmds == 1 else
                 "rcpt2" if self.nrcpt_cmds == 2 else None)
        code, text = self.rcpt_code(addr)
        if point is not None and self.fires(point):
            a = self.action
            if a in ("close", "reset"):
                self.close_or_reset()
            if a == "stall":
                self.stall()
            if a == "421":
                self.reply("421 4.4.5 faultd.test too many errors\r\n")
                self.close()
            if a == "overlong":
                log(self.tag, "FAULT overlong RCPT reply")
                self.send(b"250 " + b"x" * OVERLONG)
                self.stall()
            if a == "wrongcode":
                log(self.tag, "FAULT wrong code on a continuation line")
                self.reply("250-2.1.5 Ok\r\n550 5.1.1 or not\r\n")
                return
        if self.action in ("reject-rcpt", "reject-rcpt-354") and \
                self.point == "rcpt" and self.txn == 1:
            code, text = 550, "550 5.1.1 <%s>: User unknown" % addr
        log(self.tag, "RCPT-REPLY txn=%d from=<%s> to=<%s> code=%d"
            % (self.txn, self.mail_from_addr(), addr, code))
        if code // 100 == 2:
            self.rcpts.append(addr)
        self.reply(text + "\r\n")

    def mail_from_addr(self):
        a = self.mail_from or ""
        if a.upper().startswith("FROM:"):
            a = a[5:].strip()
        return a.split(" ", 1)[0].strip("<>")

    def on_data(self):
        if not self.in_txn and self.action == "reject-mail-354" and \
                self.fires("mail") and not self.fired:
            self.fired = True
            log(self.tag, "FAULT 354 to DATA after a refused MAIL")
            self.reply("354 End data with <CR><LF>.<CR><LF>\r\n")
            self.text_after_354()
            return
        if self.chunks > 0 or self.bdat_failed:
            log(self.tag, "VIOLATION DATA after BDAT in one transaction")
            self.reply("503 5.5.1 Error: DATA after BDAT\r\n")
            return
        if not self.in_txn:
            self.no_txn("DATA")
            return
        if self.fires("data"):
            a = self.action
            if a in ("close", "reset"):
                self.close_or_reset()
            if a == "stall":
                self.stall()
            if a == "421":
                self.reply("421 4.3.0 faultd.test going down\r\n")
                self.close()
            if a == "554":
                log(self.tag, "REJECTED txn=%d code=554" % self.txn)
                self.reply("554 5.7.1 faultd.test: DATA rejected\r\n")
                return
        if not self.rcpts and self.action != "reject-rcpt-354":
            log(self.tag, "REJECTED txn=%d code=554" % self.txn)
            self.reply("554 5.5.1 Error: no valid recipients\r\n")
            return
        self.reply("354 End data with <CR><LF>.<CR><LF>\r\n")
        msg = self.read_body()
        self.log_message(msg)
        self.on_eod(len(msg))

    # ---- BDAT (RFC 3030) ----------------------------------------------------

    def read_chunk(self, n, k):
        """Reads exactly n octets of BDAT data, binary-safe.  The "chunk"
        close/reset faults fire halfway through chunk k == fault_chunk of
        the first transaction; the "body" faults once BODY_FAULT_AT octets
        of the transaction's chunks have arrived."""
        out = bytearray()
        mid = (self.point == "chunk" and self.action in ("close", "reset")
               and k == self.fault_chunk and self.txn == 1)
        body = self.point == "body" and not self.fired
        while len(out) < n:
            stop = n
            if mid:
                stop = min(stop, n // 2)
            if body:
                stop = min(stop, max(len(out), BODY_FAULT_AT -
                                     len(self.chunk_data)))
            if len(out) >= stop and mid and self.fires("chunk"):
                log(self.tag, "FAULT after %d of the %d octets of chunk %d"
                    % (len(out), n, k))
                self.close_or_reset_action()
            if len(out) >= stop and body and self.fires("body"):
                log(self.tag, "FAULT after %d body bytes"
                    % (len(self.chunk_data) + len(out)))
                if self.action == "stall":
                    self.stall(read=False)
                if self.action == "reset":
                    self.reset()
                log(self.tag, "FAULT close")  # no drain: mid-body
                raise Done("fault: closed mid-body")
            if self.buf:
                take = min(stop - len(out), len(self.buf))
                out += self.buf[:take]
                del self.buf[:take]
                continue
            self.recv_some()
        return bytes(out)

    def close_or_reset_action(self):
        if self.action == "reset":
            self.reset()
        self.close()

    def on_bdat(self, arg):
        parts = arg.split()
        if not (1 <= len(parts) <= 2 and parts[0].isdigit() and
                len(parts[0]) <= 18 and
                (len(parts) == 1 or parts[1].upper() == "LAST")):
            # the octets that follow cannot be found: Postfix closes
            log(self.tag, "VIOLATION malformed BDAT")
            self.reply("521 5.5.4 Syntax: BDAT count [LAST]\r\n")
            self.close()
        if not self.chunking:
            log(self.tag, "VIOLATION BDAT without CHUNKING")
            self.reply("521 5.5.1 Error: BDAT not offered\r\n")
            self.close()
        n = int(parts[0])
        last = len(parts) == 2
        k = self.chunks + 1
        data = self.read_chunk(n, k)
        self.check_sync("BDAT")
        if not self.in_txn:
            self.no_txn("BDAT")
            return
        self.chunks = k
        log(self.tag, "CHUNK txn=%d n=%d size=%d last=%d"
            % (self.txn, k, n, last))
        if self.bdat_failed:
            log(self.tag, "DISCARDED txn=%d n=%d bytes=%d" % (self.txn, k, n))
            self.answer_chunk("551 5.0.0 Discarded %d bytes after earlier "
                              "error\r\n" % n, last)
            return
        if n == 0 and not last:
            log(self.tag, "VIOLATION BDAT 0 without LAST")
            self.bdat_failed = True
            self.answer_chunk("551 5.7.1 Null BDAT request\r\n", False)
            return
        if not self.rcpts:
            log(self.tag, "REJECTED txn=%d code=554" % self.txn)
            self.bdat_failed = True
            self.answer_chunk("554 5.5.1 Error: no valid recipients\r\n",
                              last)
            return
        if k == self.fault_chunk and self.fires("chunk"):
            a = self.action
            if a == "421":
                self.flush_pending()
                log(self.tag, "REJECTED txn=%d code=421" % self.txn)
                self.reply("421 4.3.2 faultd.test shutting down\r\n")
                self.close()
            if a == "stall":
                self.stall()
            if a in ("bdat-552", "bdat-451"):
                code = int(a[5:])
                log(self.tag, "REJECTED txn=%d code=%d" % (self.txn, code))
                self.bdat_failed = True
                self.answer_chunk(
                    "552 5.3.4 Message too big\r\n" if code == 552 else
                    "451 4.3.0 Temporary failure, try again\r\n", last)
                return
        self.chunk_data += data
        if not last:
            self.answer_chunk("250 2.0.0 Ok: %d octets\r\n" % n, False)
            return
        if self.action == "lazy":
            log(self.tag, "UNANSWERED n=%d" % (len(self.pending) + 1))
        self.flush_pending()
        msg = bytes(self.chunk_data)
        self.bdat_reset()
        self.log_message(msg)
        self.on_eod(len(msg))

    def answer_chunk(self, text, last):
        """The reply to a chunk, held back by bdat-lazy (but for LAST);
        LAST (or RSET) also ends a transaction that failed."""
        if last:
            self.bdat_reset()
            self.in_txn = False
            self.rcpts = []
        if self.action == "lazy" and not last:
            self.pending.append(text)
            log(self.tag, "UNANSWERED n=%d" % len(self.pending))
            return
        if self.action == "lazy" and last:
            log(self.tag, "UNANSWERED n=%d" % (len(self.pending) + 1))
        self.flush_pending()
        self.reply(text)

    def flush_pending(self):
        if self.pending:
            text = "".join(self.pending)
            self.pending = []
            self.reply(text)

    def lazy_wait(self):
        """bdat-lazy: the held replies go once the client is silent."""
        if self.pending and b"\n" not in self.buf and \
                not self.recv_some(LAZY_QUIET):
            self.flush_pending()

    def text_after_354(self):
        """Reads what the client sends in a DATA phase it did not expect,
        logs it (TEXT-AFTER-354), and answers a "." line with 250."""
        got = bytes(self.buf)
        self.buf = bytearray()
        try:
            while not (got.startswith(b".\r\n") or b"\r\n.\r\n" in got):
                n = len(self.buf)
                self.recv_some()
                got += bytes(self.buf[n:])
                self.buf = bytearray()
        except Done as e:
            log(self.tag, "TEXT-AFTER-354 bytes=%d end=%s data=%s"
                % (len(got), e, esc(got)))
            raise
        log(self.tag, "TEXT-AFTER-354 bytes=%d end=dot data=%s"
            % (len(got), esc(got)))
        self.reply("250 2.0.0 Ok: queued as BOGUS354\r\n")

    def log_message(self, msg):
        """BODY and MESSAGE lines for a message received whole."""
        log(self.tag, "BODY txn=%d from=<%s> bytes=%d"
            % (self.txn, self.mail_from_addr(), len(msg)))
        log(self.tag, "MESSAGE txn=%d from=<%s> bytes=%d crc=%08x data=%s"
            % (self.txn, self.mail_from_addr(), len(msg),
               zlib.crc32(msg) & 0xFFFFFFFF, esc(msg, MESSAGE_LOG_MAX)))

    def read_body(self):
        """Reads up to the end-of-data line; returns the unstuffed body."""
        body = self.buf
        self.buf = bytearray()
        scanned = 0
        fault_body = self.point == "body" and not self.fired
        while True:
            if body.startswith(b".\r\n"):
                end, skip = 0, 3          # empty body
            else:
                i = body.find(b"\r\n.\r\n", max(0, scanned - 4))
                end, skip = (i + 2, i + 5) if i >= 0 else (-1, 0)
            if end >= 0:
                self.buf = body[skip:]
                raw = bytes(body[:end])
                # unstuff: a line starting with ".." loses one dot
                msg = raw.replace(b"\r\n..", b"\r\n.")
                if msg.startswith(b".."):
                    msg = msg[1:]
                return msg
            scanned = len(body)
            if fault_body and len(body) >= BODY_FAULT_AT and \
                    self.fires("body"):
                a = self.action
                log(self.tag, "FAULT after %d body bytes" % len(body))
                if a == "stall":
                    self.stall(read=False)
                if a == "reset":
                    self.reset()
                log(self.tag, "FAULT close")  # no drain: mid-body
                raise Done("fault: closed mid-body")
            t = min(self.left(), 1.0)
            self.sock.settimeout(t)
            try:
                data = self.sock.recv(BODY_FAULT_AT if fault_body else
                                      262144)
            except (socket.timeout, TimeoutError):
                continue
            except OSError as e:
                raise Done("recv: %s" % e)
            if not data:
                raise Done("client closed in the body")
            body += data

    def on_eod(self, size):
        self.in_txn = False
        if self.action == "close-eod2" and self.txn == 2:
            self.close()
        if self.action == "slow":
            time.sleep(SLOW_EOD_DELAY)
        if self.fires("eod"):
            a = self.action
            if a in ("close", "reset"):
                self.close_or_reset()
            if a == "mid":
                log(self.tag, "FAULT half the final reply")
                self.send("250 2.0.0 Ok: queued as FA")
                self.close_or_reset()
            if a == "stall":
                self.stall()
            if a == "421":
                log(self.tag, "REJECTED txn=%d code=421" % self.txn)
                self.reply("421 4.3.0 faultd.test lost the message\r\n")
                self.close()
            if a == "garbage":
                log(self.tag, "FAULT garbage final reply")
                self.send(b"2x0 \xff\xfe what\r\n")
                self.stall()
            if a == "overlong":
                log(self.tag, "FAULT overlong final reply")
                self.send(b"250 " + b"x" * OVERLONG)
                self.stall()
            if a in ("endless", "endless-slow"):
                self.endless("250")
            if a == "552":
                log(self.tag, "REJECTED txn=%d code=552" % self.txn)
                self.reply("552 5.3.4 Message size exceeds fixed limit\r\n")
                self.rcpts = []
                return
            if a == "451":
                log(self.tag, "REJECTED txn=%d code=451" % self.txn)
                self.reply("451 4.3.0 Temporary failure, try again\r\n")
                self.rcpts = []
                return
        self.delivered += 1
        log(self.tag, "ACCEPTED txn=%d from=<%s> rcpts=%s bytes=%d"
            % (self.txn, self.mail_from_addr(),
               ",".join("<%s>" % r for r in self.rcpts), size))
        text = "250 2.0.0 Ok: queued as FD%d\r\n" % self.txn
        self.rcpts = []
        if self.delivered == 1 and self.fires("idle"):
            a = self.action
            if a == "421-same-write":
                log(self.tag, "FAULT 421 in the same write as the 250")
                self.reply(text + "421 4.4.2 faultd.test idle timeout\r\n")
                self.close()
            self.reply(text)
            if a == "close":
                self.close()
            time.sleep(IDLE_421_DELAY)
            log(self.tag, "FAULT unsolicited 421")
            self.reply("421 4.4.2 faultd.test idle timeout\r\n")
            self.close()
        self.reply(text)

    def idle_wait(self):
        """close-idle-300: a connection that waits IDLE_CLOSE_DELAY for its
        next command is closed (FIN, no 421), as by a server or a NAT box
        that drops idle connections."""
        if self.action != "idle-close" or self.buf:
            return
        if not self.recv_some(IDLE_CLOSE_DELAY):
            log(self.tag, "FAULT idle for %g s" % IDLE_CLOSE_DELAY)
            self.close()

    def on_auth(self, arg):
        """AUTH PLAIN [initial] and AUTH LOGIN for the "auth" scenario."""
        import base64
        import binascii
        parts = arg.split()
        mech = parts[0].upper() if parts else ""

        def ask(challenge):
            self.reply("334 %s\r\n" % challenge)
            line = self.readline().rstrip(b"\r\n").decode("latin-1")
            log(self.tag, "C <auth response>")
            if line == "*":
                self.reply("501 5.7.0 authentication cancelled\r\n")
                return None
            return line

        try:
            if mech == "PLAIN":
                resp = parts[1] if len(parts) > 1 else ask("")
                if resp is None:
                    return
                f = base64.b64decode(resp, validate=True).split(b"\0")
                user, pw = (f[1], f[2]) if len(f) == 3 else (b"", b"")
            elif mech == "LOGIN":
                # the user name may come as an initial response
                u = parts[1] if len(parts) > 1 else ask("VXNlcm5hbWU6")
                if u is None:
                    return
                p = ask("UGFzc3dvcmQ6")
                if p is None:
                    return
                user = base64.b64decode(u, validate=True)
                pw = base64.b64decode(p, validate=True)
            else:
                self.reply("504 5.5.4 unrecognized authentication type\r\n")
                return
        except (binascii.Error, ValueError):
            self.reply("501 5.5.2 cannot decode response\r\n")
            return
        if user == AUTH_USER.encode() and pw == AUTH_PASS.encode():
            log(self.tag, "AUTH ok mech=%s" % mech)
            self.reply("235 2.7.0 Authentication successful\r\n")
        else:
            log(self.tag, "AUTH failed mech=%s" % mech)
            self.reply("535 5.7.8 Error: authentication failed\r\n")

    def dialogue(self):
        self.greeting()
        while True:
            self.idle_wait()
            self.lazy_wait()
            raw = self.readline()
            line = raw.rstrip(b"\r\n").decode("latin-1")
            verb = line.split(" ", 1)[0].upper()
            arg = line[len(verb):].strip()
            self.verb = verb
            if verb == "MAIL" and self.rset_owed:
                log(self.tag, "VIOLATION MAIL after a refused BDAT without "
                    "RSET")
            if verb in ("RSET", "MAIL", "EHLO", "HELO"):
                self.rset_owed = False
            log(self.tag, "C " + esc(line if verb != "AUTH" else
                                     "AUTH " + arg.split(" ", 1)[0]))
            if verb != "BDAT":  # its octets follow: checked after them
                self.check_sync(verb)
            if self.refused and verb != "QUIT":
                self.reply("503 5.5.1 Error: no SMTP service here\r\n")
                continue
            if verb == "AUTH" and self.action == "auth":
                self.on_auth(arg)
            elif verb in ("EHLO", "HELO"):
                self.on_ehlo(verb)
            elif verb == "MAIL":
                self.on_mail(arg)
            elif verb == "RCPT":
                self.on_rcpt(arg)
            elif verb == "DATA":
                self.on_data()
            elif verb == "BDAT":
                self.on_bdat(arg)
            elif verb == "RSET":
                self.rset_seen += 1
                self.mail_from = None
                self.rcpts = []
                self.in_txn = False
                self.bdat_reset()
                if self.fires("rset"):
                    self.reply("421 4.3.0 faultd.test shutting down\r\n")
                    self.close()
                self.reply("250 2.0.0 Ok\r\n")
            elif verb == "NOOP":
                self.reply("250 2.0.0 Ok\r\n")
            elif verb == "QUIT":
                if self.fires("quit"):
                    if self.action == "stall":
                        self.stall()
                    self.close_or_reset()
                self.reply("221 2.0.0 Bye\r\n")
                raise Done("quit")
            else:
                self.reply("502 5.5.2 Error: command not recognized\r\n")

    def run(self):
        log(self.tag, "CONNECT")
        why = "?"
        try:
            self.dialogue()
        except Done as e:
            why = str(e)
        except Exception as e:  # a server bug must not hang a test
            why = "server error: %r" % e
            sys.stderr.write("faultd: %s: %s\n" % (self.tag, why))
        finally:
            try:
                self.sock.close()
            except OSError:
                pass
            log(self.tag, "END " + why)


def usage(msg=None):
    if msg:
        sys.stderr.write("faultd: %s\n" % msg)
    sys.stderr.write(
        "usage: faultd.py [--log FILE] [--timeout T] [--conn-timeout T] "
        "[--conns N] SCENARIO[+nopipe]...\n       faultd.py --list | "
        "--help\n")
    sys.exit(2)


def main(argv):
    global LOGF
    specs = []
    log_path = None
    timeout = 120.0
    conn_timeout = 30.0
    conns = 0
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            sys.stdout.write(__doc__)
            return 0
        if a == "--list":
            for n in sorted(SCENARIOS):
                sys.stdout.write("%-24s %s\n" % (n, SCENARIOS[n][2]))
            return 0
        if a in ("--log", "--timeout", "--conn-timeout", "--conns"):
            if i + 1 >= len(argv):
                usage("%s needs a value" % a)
            v = argv[i + 1]
            i += 2
            try:
                if a == "--log":
                    log_path = v
                elif a == "--timeout":
                    timeout = float(v)
                elif a == "--conn-timeout":
                    conn_timeout = float(v)
                else:
                    conns = int(v)
            except ValueError:
                usage("bad value for %s: %r" % (a, v))
            continue
        if a.startswith("-"):
            usage("unknown option %s" % a)
        parts = a.split("+")
        if parts[0] not in SCENARIOS or not all(
                m.isalnum() and m.islower() or m.isdigit()
                for m in parts[1:]):
            usage("unknown scenario %r (see --list)" % a)
        if a not in specs:
            specs.append(a)
        i += 1
    if not specs:
        usage("no scenario")
    if not (0 < timeout <= 3600 and 0 < conn_timeout <= 3600 and conns >= 0):
        usage("bad --timeout, --conn-timeout or --conns")

    if log_path:
        LOGF = open(log_path, "ab")
    parent = os.getppid()
    stop_at = time.monotonic() + timeout

    def on_signal(signum, frame):
        STOP.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    sel = selectors.DefaultSelector()
    ports = []
    for spec in specs:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # inherited by accepted sockets: a server that stops reading is
        # felt by the client after little buffering
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SERVER_RCVBUF)
        ls.bind(("127.0.0.1", 0))
        ls.listen(16)
        ls.setblocking(False)
        sel.register(ls, selectors.EVENT_READ, spec)
        ports.append((spec, ls.getsockname()[1]))
    out = ["%d" % ports[0][1]]
    out += ["%s %d" % p for p in ports]
    out.append("ready")
    sys.stdout.write("\n".join(out) + "\n")
    sys.stdout.flush()

    counts = {}
    served = 0
    threads = []
    while not STOP.is_set():
        if time.monotonic() >= stop_at:
            sys.stderr.write("faultd: run time of %g s over\n" % timeout)
            break
        if os.getppid() != parent:
            sys.stderr.write("faultd: parent gone\n")
            break
        if conns and served >= conns:
            break
        for key, _ in sel.select(timeout=0.2):
            try:
                sock, _peer = key.fileobj.accept()
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.ECONNABORTED):
                    continue
                raise
            sock.setblocking(True)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            spec = key.data
            counts[spec] = counts.get(spec, 0) + 1
            served += 1
            c = Conn(sock, spec, "%s#%d" % (spec, counts[spec]),
                     conn_timeout)
            t = threading.Thread(target=c.run, daemon=True)
            t.start()
            threads.append(t)
        threads = [t for t in threads if t.is_alive()]
    STOP.set()
    for t in threads:
        t.join(2.0)
    sel.close()
    if LOGF is not None:
        LOGF.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
