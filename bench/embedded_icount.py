#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""embedded_icount.py -- instructions a ports/ firmware executed, by part,
from QEMU's execution trace.

    qemu-system-arm ... -singlestep -d exec,nochain -D LOG
    embedded_icount.py LOG ELF

With -singlestep every translation block is one instruction, so every
"Trace" line of LOG is one instruction, named by the function it is in.
The run is cut where the firmware calls measure() (after each message):
part 1 is the connection set-up and message 1, part 2 message 2, the last
part QUIT.  Each instruction is counted as
  work    the library and the firmware building and sending mail (UART
          writes included)
  alloc   the port's allocator (ports/arena.c)
  wait    polling the UART and the clock while the server has not
          answered yet, and the SysTick interrupt
  report  the firmware's reports and measurements (semihosting, printf
          called from reportf, stack painting), and start-up
Prints one line per part: "part N work W alloc A wait T report R".
"""
import re
import subprocess
import sys

WAIT = {"board_getc", "wait_byte", "board_ms", "systick_handler"}
ALLOC = {"arena_malloc", "arena_realloc", "arena_free", "account", "split",
         "next", "at", "off_of"}
REPORT_ENTRY = {"reportf", "measure", "report_txn", "board_report",
                "board_stack_peak", "board_stack_repaint", "reset_handler",
                "board_exit", "semihost"}
# Where a report returns to: the end of a report.
REPORT_CALLERS = {"main", "send_message"}
LINE = re.compile(r"^Trace \d+: \S+ \[[0-9a-f]+/([0-9a-f]+)/[0-9a-f]+/[0-9a-f]+\] (\S+)")


def entry(elf, name):
    """The address of function name in elf (Thumb bit cleared)."""
    out = subprocess.run(["arm-none-eabi-nm", elf], capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[2].split(".")[0] == name:  # or a GCC clone
            return int(f[0], 16) & ~1
    sys.exit("embedded_icount: no %s in %s" % (name, elf))


def main():
    split_at = entry(sys.argv[2], "measure")
    parts = [dict(work=0, alloc=0, wait=0, report=0)]
    in_report = False
    with open(sys.argv[1], errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            sym = m.group(2).split(".")[0]  # report_txn.constprop.0 too
            if int(m.group(1), 16) == split_at:
                parts.append(dict(work=0, alloc=0, wait=0, report=0))
            if sym in REPORT_ENTRY:
                in_report = True
            elif in_report and sym in REPORT_CALLERS:
                in_report = False
            if sym in WAIT:
                parts[-1]["wait"] += 1
            elif in_report:
                parts[-1]["report"] += 1
            elif sym in ALLOC:
                parts[-1]["alloc"] += 1
            else:
                parts[-1]["work"] += 1
    for i, p in enumerate(parts, 1):
        print("part %d work %d alloc %d wait %d report %d"
              % (i, p["work"], p["alloc"], p["wait"], p["report"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
