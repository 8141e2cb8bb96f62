#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""aiosmtpd_sink.py -- an aiosmtpd server on 127.0.0.1 that records every
message it accepts, for tests/interop_intl.sh.

usage: aiosmtpd_sink.py OUTDIR [--no-smtputf8] [--lifetime S]

Listens on 127.0.0.1 on a free port and writes the port to OUTDIR/port
once it accepts connections.  Message N (1, 2, ...) becomes OUTDIR/N.json
(mail_from, rcpt_tos, mail_options, rcpt_options, smtp_utf8) and
OUTDIR/N.eml (the content exactly as received, after dot-unstuffing).
Exits on SIGTERM/SIGINT or after --lifetime seconds (default 60), so a
test that dies cannot leave it behind for long.
"""
import asyncio
import json
import os
import signal
import sys

from aiosmtpd.smtp import SMTP


class Recorder:
    def __init__(self, outdir):
        self.outdir = outdir
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(self.outdir, str(self.n))
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        rec = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "mail_options": envelope.mail_options,
            "rcpt_options": envelope.rcpt_options,
            "smtp_utf8": envelope.smtp_utf8,
        }
        with open(base + ".json.tmp", "w", encoding="utf-8") as f:
            json.dump(rec, f, ensure_ascii=False)
        os.rename(base + ".eml.tmp", base + ".eml")
        os.rename(base + ".json.tmp", base + ".json")
        return "250 OK recorded as %d" % self.n


async def main(outdir, smtputf8, lifetime):
    loop = asyncio.get_running_loop()
    handler = Recorder(outdir)
    server = await loop.create_server(
        lambda: SMTP(handler, enable_SMTPUTF8=smtputf8, decode_data=False,
                     hostname="sink.test"),
        host="127.0.0.1", port=0)
    port = server.sockets[0].getsockname()[1]
    with open(os.path.join(outdir, "port.tmp"), "w") as f:
        f.write("%d\n" % port)
    os.rename(os.path.join(outdir, "port.tmp"), os.path.join(outdir, "port"))
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(0))
    try:
        await asyncio.wait_for(stop, lifetime)
    except asyncio.TimeoutError:
        pass
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    outdir, smtputf8, lifetime = args[0], True, 60.0
    rest = args[1:]
    while rest:
        a = rest.pop(0)
        if a == "--no-smtputf8":
            smtputf8 = False
        elif a == "--lifetime" and rest:
            lifetime = float(rest.pop(0))
        else:
            sys.exit("aiosmtpd_sink.py: unknown argument %r" % a)
    asyncio.run(main(outdir, smtputf8, lifetime))
