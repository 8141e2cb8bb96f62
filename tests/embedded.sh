#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# embedded.sh -- the firmware of ports/ on emulated microcontrollers sends
# real mail to a real Postfix.
#
# Cross-builds four images (ports/Makefile): mps2-an386 (Cortex-M4) and
# micro:bit (Cortex-M0, 16 KiB of RAM), each as "notify" (the plain-text
# notification) and "full" (also the MIME message with text, HTML and an
# attachment from flash, to two recipients).  Starts a throwaway Postfix
# (tests/postfix-testbed.sh) and runs each image under qemu-system-arm with
# its UART connected to Postfix over TCP (ports/run-qemu.sh).  Checks the
# firmware's exit status and report, then the delivered files in the
# Maildir with tests/embedded_check.py (Python's email parser): the text and
# HTML byte for byte, the attachment decoded, the queue id and the
# per-recipient replies the firmware reported.
# Skips (77) without gcc-arm-none-eabi, picolibc-arm-none-eabi,
# qemu-system-arm or the Postfix set-up -- except with CI=true, where a
# skip is a failure.
set -euo pipefail
shopt -s extglob

export PATH=$PATH:/usr/sbin:/sbin
export LC_ALL=C
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
TEST_NAME="the embedded firmware test"
# shellcheck source=tests/testlib.sh
. "$top_srcdir/tests/testlib.sh"
testbed=$top_srcdir/tests/postfix-testbed.sh
CROSS=${CROSS:-arm-none-eabi-}

command -v "${CROSS}gcc" >/dev/null ||
    skip "${CROSS}gcc not found (Debian: gcc-arm-none-eabi)"
echo 'int main(void) { return 0; }' |
    "${CROSS}gcc" --specs=picolibc.specs -mcpu=cortex-m0 -mthumb -x c - \
        -o /dev/null >/dev/null 2>&1 ||
    skip "picolibc for ${CROSS%-} not found (Debian: picolibc-arm-none-eabi)"
command -v qemu-system-arm >/dev/null ||
    skip "qemu-system-arm not found (Debian: qemu-system-arm)"
need_postfix timeout python3

work=$(mktemp -d /tmp/smtpc-embedded.XXXXXX)
chmod 0755 "$work"
pfx=
cleanup() {
    local rc=$?
    pfx_teardown "$rc"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

IMAGES=(mps2-an386:notify mps2-an386:full microbit:notify microbit:full)
t0=$SECONDS
for img in "${IMAGES[@]}"; do
    if make -s -C "$top_srcdir/ports" -j2 BOARD="${img%:*}" APP="${img#*:}" \
        O="$work/fw" >"$work/build.log" 2>&1; then
        ok "build ${img/:/\/} ($("${CROSS}size" "$work/fw/${img/:/-}/firmware.elf" |
            awk 'NR == 2 { printf "text %d, data %d, bss %d", $1, $2, $3 }'))"
    else
        cat "$work/build.log"
        not_ok "build ${img/:/\/}"
    fi
done
echo "# built in $((SECONDS - t0)) s"
((nfail == 0)) || exit 1

start_postfix 20001 3000 4 700 || { echo "FAIL: could not start Postfix"; exit 1; }
maildir=$PFX_MAILDIR/new
expect=0
for img in "${IMAGES[@]}"; do
    board=${img%:*} app=${img#*:}
    report=$work/$board-$app.report
    rc=0
    t1=$SECONDS
    bash "$top_srcdir/ports/run-qemu.sh" "$board" \
        "$work/fw/$board-$app/firmware.elf" "$PFX_PORT" 60 >"$report" || rc=$?
    sed 's/^/# /' "$report"
    if ((rc == 0)); then
        ok "$board/$app: firmware exited 0 in $((SECONDS - t1)) s"
    else
        not_ok "$board/$app: firmware exited $rc"
    fi
    if [[ $app == full ]]; then expect=$((expect + 3)); else expect=$((expect + 1)); fi
    bash "$testbed" wait-mail "$pfx" "$expect" 20 ||
        echo "# only $(find "$maildir" -type f | wc -l) of $expect files arrived"
    while read -r line; do
        case $line in
        "ok "*) ok "${line#ok +([0-9]) - }" ;;
        "not ok "*) not_ok "${line#not ok +([0-9]) - }" ;;
        esac
    done < <(python3 "$top_srcdir/tests/embedded_check.py" \
        --firmware "$top_srcdir/ports/firmware.c" --report "$report" \
        --maildir "$maildir" --app "$app" --label "$board/$app" 2>&1 || true)
done
echo "1..$((npass + nfail))"
((nfail == 0))
