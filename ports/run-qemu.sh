#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-qemu.sh -- runs a firmware of ports/ under QEMU, its SMTP UART
# connected to a server on 127.0.0.1.
#
#   ports/run-qemu.sh BOARD ELF PORT [TIMEOUT_S [QEMU_ARG...]]
#
# BOARD is mps2-an386 or microbit.  QEMU connects the board's first UART to
# 127.0.0.1:PORT as a TCP client before the firmware starts: the bytes the
# firmware writes to the UART are the TCP stream.  The firmware's "fw: "
# report lines (semihosting, which QEMU writes to its standard error) and
# QEMU's own messages go to standard output; the firmware's exit status is
# this script's (124 when it ran longer than TIMEOUT_S, default 60).
# QEMU_ARGs are added to QEMU's command line (bench/embedded-figures.sh:
# -singlestep -d exec,nochain -D LOG for the instruction counts).
set -euo pipefail
board=${1:?board} elf=${2:?elf} port=${3:?port} limit=${4:-60}
shift $(($# < 4 ? $# : 4))
case $board in
mps2-an386 | microbit) ;;
*) echo "run-qemu.sh: unknown board $board" >&2; exit 2 ;;
esac
exec timeout "$limit" qemu-system-arm -M "$board" -display none \
    -monitor none -semihosting-config enable=on,target=native \
    -serial "tcp:127.0.0.1:$port" -kernel "$elf" "$@" 2>&1
