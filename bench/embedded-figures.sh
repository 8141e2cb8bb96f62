#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# embedded-figures.sh -- the figures of the firmware in ports/ (README,
# "Embedded"): flash, static RAM, peak heap, peak stack and instructions
# per message, for each board and image.
#
#   bash bench/embedded-figures.sh        (as root: it starts a Postfix)
#
# Builds the four images (ports/Makefile), starts the Postfix test bed and
# runs each image twice under QEMU (ports/run-qemu.sh): once as is, for
# the heap (the arena's high-water mark) and the stack (painted) that the
# firmware reports per message; once with "-singlestep -d exec,nochain"
# for the instructions (bench/embedded_icount.py).  The static stack bound
# comes from GCC's -fcallgraph-info (bench/embedded_stack.py).  Sizes are
# of the linked images: flash = .text (code and constants) + .ARM.exidx +
# .data; static RAM = .data + .tbss + .bss (the arena and the stack not
# included: they are the heap and stack columns).
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin LC_ALL=C
top_srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TEST_NAME="embedded-figures"
# shellcheck source=tests/testlib.sh
. "$top_srcdir/tests/testlib.sh"
testbed=$top_srcdir/tests/postfix-testbed.sh
need_postfix qemu-system-arm arm-none-eabi-gcc python3

work=$(mktemp -d /tmp/smtpc-embfig.XXXXXX)
chmod 0755 "$work"
pfx=
cleanup() {
    [[ -n $pfx ]] && bash "$testbed" stop "$pfx" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
start_postfix 20003 3000 4 900 >/dev/null || die "could not start Postfix"

sect() { arm-none-eabi-size -A "$1" | awk -v s="$2" '$1 == s { print $2 }'; }
field() { # field REPORT MSG NAME
    sed -n "s/^fw: $2 .*\\b$3 \\([0-9]*\\).*/\\1/p" "$1" | head -n 1
}

echo "| board | image | message | flash | static RAM | arena / stack reserved | heap peak | stack peak (painted) | stack bound (GCC, static) | RAM all told | instructions: work / allocator |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for img in mps2-an386:notify mps2-an386:full microbit:notify microbit:full; do
    board=${img%:*} app=${img#*:}
    make -s -C "$top_srcdir/ports" -j2 BOARD="$board" APP="$app" O="$work/fw" >/dev/null
    elf=$work/fw/$board-$app/firmware.elf
    text=$(sect "$elf" .text) exidx=$(sect "$elf" .ARM.exidx) data=$(sect "$elf" .data)
    tbss=$(sect "$elf" .tbss) bss=$(sect "$elf" .bss)
    arena=$(sect "$elf" .arena) stack=$(sect "$elf" .stack)
    flash=$((text + ${exidx:-0} + data))
    static=$((data + ${tbss:-0} + bss))
    bash "$top_srcdir/ports/run-qemu.sh" "$board" "$elf" "$PFX_PORT" 60 >"$work/report" ||
        die "$board/$app failed: $(cat "$work/report")"
    bash "$top_srcdir/ports/run-qemu.sh" "$board" "$elf" "$PFX_PORT" 300 \
        -singlestep -d exec,nochain -D "$work/exec.log" >/dev/null ||
        die "$board/$app traced run failed"
    python3 "$top_srcdir/bench/embedded_icount.py" "$work/exec.log" "$elf" >"$work/icount"
    rm -f "$work/exec.log"
    targets=(drive=smtpc_session_open,smtpc_session_run,smtpc_session_quit
        smtpc__malloc=arena_malloc smtpc__calloc=arena_malloc
        smtpc__realloc=arena_realloc smtpc__free=arena_free
        msg_read flash_read lean_read port_now port_random)
    bound=$(python3 "$top_srcdir/bench/embedded_stack.py" "$work/fw/$board-$app" \
        reset_handler "${targets[@]}" | sed -n 's/^deepest path from reset_handler: \([0-9]*\) bytes/\1/p')
    msgs=(msg1)
    [[ $app == full ]] && msgs+=(msg2)
    part=0
    for msg in "${msgs[@]}"; do
        part=$((part + 1))
        heap=$(field "$work/report" "$msg" heap-peak)
        stk=$(field "$work/report" "$msg" stack-peak)
        ic=$(awk -v p="$part" '$2 == p { printf "%d / %d", $4, $6 }' "$work/icount")
        what="(1) notification"
        [[ $msg == msg2 ]] && what="(2) MIME, 2 recipients"
        [[ $msg == msg1 ]] && what="$what, with connection set-up"
        echo "| $board | $app | $what | $flash | $static | $arena / $stack | $heap | $stk | $bound | $((static + heap + stk)) | $ic |"
    done
    quit=$(awk -v p="$((part + 1))" '$2 == p { printf "%d / %d", $4, $6 }' "$work/icount")
    echo "| $board | $app | QUIT and clean-up | | | | | | | | $quit |"
done
