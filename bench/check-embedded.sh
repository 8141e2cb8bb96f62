#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-embedded.sh -- the protocol core and the MIME builder must build for
# bare-metal targets and reach for nothing beyond ISO C and <string.h>.
#
#   bench/check-embedded.sh [-v]        (make check-embedded)
#
# Two targets (issue 16: the core must build for a second architecture),
# one pass each:
#   Cortex-M4  arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb, against picolibc's
#              headers (--specs=picolibc.specs, what the firmware port
#              links); newlib's headers if picolibc is not installed
#   riscv32    riscv64-unknown-elf-gcc -march=rv32imac -mabi=ilp32,
#              against picolibc's headers.  Not -march=rv32imac_zicsr:
#              GCC 12 then matches no multilib and would link the rv64
#              picolibc; the C code needs no CSR instruction anyway.
# Before a pass, a trivial program is linked with --specs=picolibc.specs,
# which proves that picolibc has a library for that -march/-mabi
# (/usr/lib/picolibc/<triplet>/lib/<multilib>).
# Each pass compiles each core file with -Os -ffunction-sections
# -fdata-sections, without linking, then lists every undefined symbol
# (<triplet>-nm -u) that no other core object defines and sorts it:
#   string     memcpy, strlen, ...: allowed
#   iso        snprintf, malloc, ...: allowed ISO C, reported (a port may
#              want to avoid them: malloc only backs the default allocator)
#   runtime    compiler helpers from libgcc: __aeabi_* on ARM,
#              __riscv_save_* / __riscv_restore_* on RISC-V, and the
#              generic ones (__udivdi3, __mulsi3, __ashldi3, ...): allowed
#   hook       smtpc_* functions of the excluded platform files, which a
#              bare-metal port supplies itself: allowed, reported
#   other      anything else (POSIX: gethostname, clock_gettime, strdup,
#              strcasecmp, errno...): FAILS the check
# and prints .text (+.rodata, Berkeley "text") sizes per object and per part,
# against the goals of issue 6 (core under 16 KiB, MIME under 8 KiB).
# RISC-V objects are sized before linker relaxation (a call is still
# auipc+jalr, a linked image gets jal), so riscv32 figures are upper bounds.
# The Cortex-M4 pass prints the lines it always printed, ending in
# "check-embedded: summary ..." and PASS or FAIL (other scripts parse
# them); the riscv32 pass prefixes its lines with "check-embedded: riscv32:"
# and its summary is "check-embedded: summary-riscv32 ...", same fields.
# A last line gives the verdict and C library of every target.
# The platform files (platform_posix.c, platform_mime_posix.c), io_socket.c
# and io_mbedtls.c / tls_none.c are not part of the core.
# Needs (Debian): gcc-arm-none-eabi picolibc-arm-none-eabi (or
# libnewlib-arm-none-eabi) for Cortex-M4, gcc-riscv64-unknown-elf
# picolibc-riscv64-unknown-elf for riscv32.  ARM_CC, ARM_NM, ARM_SIZE,
# RISCV_CC, RISCV_NM, RISCV_SIZE override the tools.
# Exit: 0 every target present is clean, 1 a core object uses a forbidden
# symbol or does not compile for some target, 77 both toolchains are
# missing (automake's "skipped"); a missing toolchain skips its target.
set -euo pipefail

verbose=0
[[ ${1:-} == -v ]] && verbose=1
src=${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}

CORE=(session session_opts txn reply ehlo command auth data base64 md5 mem buf error)
MIME=()
for f in mime mime_header mime_stream qp base64_stream; do
    [[ -f $src/lib/$f.c ]] && MIME+=("$f")
done
# error.c takes the version from config.h; a port without autoconf defines it.
version=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$src/configure.ac" | head -n 1)
BASE_CFLAGS=(-std=c99 -Os -ffunction-sections -fdata-sections -Wall -Wextra
             -I"$src/include" -I"$src/lib" "-DPACKAGE_VERSION=\"${version:-0}\"")

work=$(mktemp -d /tmp/check-embedded.XXXXXX)
trap 'rm -rf "$work"' EXIT

STRING=" memcpy memmove memset memcmp memchr strlen strchr strrchr strcspn"
STRING+=" strspn strstr strcmp strncmp strpbrk strcat strncat strcpy strncpy "
ISO=" snprintf vsnprintf sprintf malloc calloc realloc free abort "
# libgcc's generic helpers, whatever the architecture (globs).
RUNTIME_COMMON=('__mulsi3' '__muldi3' '__divsi3' '__udivsi3' '__modsi3'
                '__umodsi3' '__divdi3' '__udivdi3' '__moddi3' '__umoddi3'
                '__ashldi3' '__ashrdi3' '__lshrdi3' '__clz*' '__ctz*'
                '__popcount*' '__bswap*')

# ---- targets ---------------------------------------------------------------
# target_<name> sets the settings of one pass:
#   tag         "" for Cortex-M4 (its lines stay as they always were), else
#               the word in its lines and in its summary-<tag> line
#   name label  name in the last line, name in the warnings and errors
#   CC NM SIZE  tools; ARCH compiler flags; RUNTIME its own helper globs
#   pkgs        what to install; newlib 1 if newlib's headers may stand in
#               for picolibc's
# (Called as "target_$target", hence the SC2317 directives.)
# shellcheck disable=SC2317
target_arm() {
    tag='' name=cortex-m4 label=Cortex-M4 newlib=1
    CC=${ARM_CC:-arm-none-eabi-gcc}
    NM=${ARM_NM:-arm-none-eabi-nm}
    SIZE=${ARM_SIZE:-arm-none-eabi-size}
    ARCH=(-mcpu=cortex-m4 -mthumb)
    RUNTIME=('__aeabi_*' '__gnu_*')
    pkgs="gcc-arm-none-eabi picolibc-arm-none-eabi"
}
# shellcheck disable=SC2317
target_riscv32() {
    tag=riscv32 name=riscv32 label=RV32IMAC newlib=0
    CC=${RISCV_CC:-riscv64-unknown-elf-gcc}
    NM=${RISCV_NM:-riscv64-unknown-elf-nm}
    SIZE=${RISCV_SIZE:-riscv64-unknown-elf-size}
    ARCH=(-march=rv32imac -mabi=ilp32)
    RUNTIME=('__riscv_save_*' '__riscv_restore_*')
    pkgs="gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf"
}

# "check-embedded: " plus, for tagged targets, "<tag>: ".
say() { echo "check-embedded: ${tag:+$tag: }$*"; }

# Sets LIBC_FLAGS and libc; fails (the target is skipped) when a tool or the
# C library is missing.
setup_target() {
    local t
    for t in "$CC" "$NM" "$SIZE"; do
        if ! command -v "$t" >/dev/null 2>&1; then
            echo "check-embedded: $t not found (apt-get install $pkgs): $label skipped" >&2
            return 1
        fi
    done
    dir=$work/$name
    mkdir -p "$dir"
    printf 'int main(void) { return 0; }\n' >"$dir/probe.c"
    if "$CC" "${ARCH[@]}" --specs=picolibc.specs "$dir/probe.c" \
        -o "$dir/probe.elf" >"$dir/probe.err" 2>&1; then
        LIBC_FLAGS=(--specs=picolibc.specs)
        libc="picolibc $("$CC" "${ARCH[@]}" --specs=picolibc.specs -print-multi-directory)"
        return 0
    fi
    if ((newlib)) && printf '#include <string.h>\n' |
        "$CC" "${ARCH[@]}" -fsyntax-only -x c - >/dev/null 2>&1; then
        echo "check-embedded: no picolibc for ${CC##*/} ${ARCH[*]}, $label uses newlib's headers" >&2
        LIBC_FLAGS=()
        libc=newlib
        return 0
    fi
    echo "check-embedded: no picolibc for ${CC##*/} ${ARCH[*]} (apt-get install $pkgs): $label skipped" >&2
    ((verbose)) && sed 's/^/  /' "$dir/probe.err" >&2
    return 1
}

# compile FILE [EXTRA-CFLAGS...]: lib/FILE.c to $dir/FILE.o; sets tfail.
compile() {
    local f=$1
    shift
    if ! "$CC" "${CFLAGS[@]}" "$@" -c "$src/lib/$f.c" -o "$dir/$f.o" \
        2>"$dir/$f.err"; then
        echo "check-embedded: ${tag:+$tag: }lib/$f.c does not compile for $label:" >&2
        sed 's/^/  /' "$dir/$f.err" >&2
        tfail=1
        return 1
    fi
    if [[ -s $dir/$f.err ]]; then
        local n
        n=$(grep -c 'warning:' "$dir/$f.err" || true)
        say "lib/$f.c: $n warning(s) for $label (-v shows them)"
        ((verbose)) && sed 's/^/  /' "$dir/$f.err"
    fi
    return 0
}

classify() {
    local sym=$1 pat
    if [[ $STRING == *" $sym "* ]]; then echo string; return; fi
    if [[ $ISO == *" $sym "* ]]; then echo iso; return; fi
    for pat in "${RUNTIME_COMMON[@]}" "${RUNTIME[@]}"; do
        # shellcheck disable=SC2053 # $pat is a glob
        if [[ $sym == $pat ]]; then echo runtime; return; fi
    done
    if [[ $sym == smtpc_* ]]; then echo hook; else echo other; fi
}

# Berkeley "text" = .text + .rodata (what goes to flash), summed over FILEs.
sum_text() {
    local total=0 f t
    for f in "$@"; do
        [[ -f $dir/$f.o ]] || continue
        t=$("$SIZE" -B "$dir/$f.o" | awk 'NR == 2 { print $1 }')
        total=$((total + t))
    done
    echo "$total"
}
kib() { awk -v n="$1" 'BEGIN { print n / 1024 }'; }
verdict() { if (($1 < $2)); then echo "met"; else echo "NOT met"; fi; }

# One pass over the target set up by target_<name> and setup_target; sets
# tfail to 1 when the target fails.  Always returns 0 (set -e stays on).
run_target() {
    tfail=0
    CFLAGS=("${ARCH[@]}" "${LIBC_FLAGS[@]}" "${BASE_CFLAGS[@]}")
    [[ -n $tag ]] && say "${CC##*/} ${ARCH[*]}, $libc"

    local f objs=()
    for f in "${CORE[@]}" "${MIME[@]}"; do
        compile "$f" && objs+=("$dir/$f.o")
    done
    if ((${#objs[@]} == 0)); then
        tfail=1
        echo "check-embedded: ${tag:+$tag: }FAIL" >&2
        return 0
    fi

    # Symbols defined by some object of the set.
    "$NM" --defined-only -g "${objs[@]}" 2>/dev/null |
        awk 'NF == 3 { print $3 }' | sort -u >"$dir/defined"

    local -A users=() bycls=()
    local o b sym cls what
    for o in "${objs[@]}"; do
        b=$(basename "$o" .o)
        while read -r _ sym; do
            [[ -z $sym ]] && continue
            grep -qxF "$sym" "$dir/defined" && continue
            users[$sym]+="${users[$sym]:+ }$b"
        done < <("$NM" -u "$o")
    done
    for sym in $(printf '%s\n' "${!users[@]}" | sort); do
        cls=$(classify "$sym")
        bycls[$cls]+="  $sym (${users[$sym]})"$'\n'
    done
    say "external symbols of the core and MIME objects:"
    for cls in string iso runtime hook other; do
        [[ -n ${bycls[$cls]:-} ]] || continue
        case $cls in
        string) what="string functions (allowed)" ;;
        iso) what="other ISO C library functions (allowed, reported)" ;;
        runtime) what="compiler runtime (allowed)" ;;
        hook) what="platform hooks a port must supply (allowed, reported)" ;;
        other) what="POSIX or other non-freestanding APIs (NOT allowed)" ;;
        esac
        echo " $what:"
        printf '%s' "${bycls[$cls]}"
    done
    [[ -n ${bycls[other]:-} ]] && tfail=1

    say "sizes (${CC##*/} ${ARCH[*]} -Os, unlinked objects):"
    "$SIZE" -B "${objs[@]}" | sed "s|$dir/||; s/^/  /"
    local core mime=0 proto support md5 small_core='' err_full err_small
    core=$(sum_text "${CORE[@]}")
    ((${#MIME[@]})) && mime=$(sum_text "${MIME[@]}")
    say "$(printf 'core (%s): text %d bytes (%.1f KiB), goal < 16 KiB: %s' \
        "${CORE[*]}" "$core" "$(kib "$core")" "$(verdict "$core" 16384)")"
    proto=$(sum_text session session_opts txn reply ehlo command auth data)
    support=$(sum_text base64 md5 mem buf error)
    say "of which protocol (session session_opts txn reply ehlo command auth data) $proto bytes, support (base64 md5 mem buf error: error.c is mostly smtpc_strerror's strings) $support bytes"
    # With mbedTLS (the usual case where credentials are sent: TLS) md5.c is
    # empty and CRAM-MD5 takes HMAC-MD5 from mbedTLS.
    md5=$(sum_text md5)
    say "$(printf 'core when built with mbedTLS (no built-in MD5, %d bytes less): text %d bytes (%.1f KiB), goal < 16 KiB: %s' \
        "$md5" "$((core - md5))" "$(kib "$((core - md5))")" \
        "$(verdict "$((core - md5))" 16384)")"
    # The same core with -DSMTPC_NO_ERROR_STRINGS (one text per error class).
    if "$CC" "${CFLAGS[@]}" -DSMTPC_NO_ERROR_STRINGS -c "$src/lib/error.c" \
        -o "$dir/error-small.o" 2>/dev/null; then
        err_full=$(sum_text error)
        err_small=$("$SIZE" -B "$dir/error-small.o" | awk 'NR == 2 { print $1 }')
        small_core=$((core - err_full + err_small))
        say "$(printf 'core with -DSMTPC_NO_ERROR_STRINGS: text %d bytes (%.1f KiB), goal < 16 KiB: %s' \
            "$small_core" "$(kib "$small_core")" "$(verdict "$small_core" 16384)")"
    fi
    if ((${#MIME[@]})); then
        say "$(printf 'MIME (%s): text %d bytes (%.1f KiB), goal < 8 KiB: %s' \
            "${MIME[*]}" "$mime" "$(kib "$mime")" "$(verdict "$mime" 8192)")"
    else
        say "MIME builder not present yet (lib/mime.c, lib/qp.c)"
    fi
    local nonstring
    nonstring=$(for cls in iso hook other; do printf '%s' "${bycls[$cls]:-}"; done |
        awk '{ print $1 }' | sort -u | tr '\n' ' ')
    echo "check-embedded: summary${tag:+-$tag} core_text=$core core_text_with_mbedtls=$((core - md5)) core_text_no_error_strings=${small_core:-n/a} protocol_text=$proto support_text=$support mime_text=$mime mime_files=${#MIME[@]} non_string=[${nonstring% }] violations=$([[ -n ${bycls[other]:-} ]] && echo yes || echo no)"
    if ((tfail)); then
        echo "check-embedded: ${tag:+$tag: }FAIL" >&2
    else
        say "PASS"
    fi
    return 0
}

# ---- main ------------------------------------------------------------------
fail=0 ran=0 results=()
for target in arm riscv32; do
    "target_$target"
    if ! setup_target; then
        results+=("$name skipped")
        continue
    fi
    ran=1
    run_target
    if ((tfail)); then
        fail=1
        results+=("$name FAIL ($libc)")
    else
        results+=("$name PASS ($libc)")
    fi
done
echo "check-embedded: targets: $(printf '%s, ' "${results[@]}" | sed 's/, $//')"
((ran)) || exit 77
((fail)) && exit 1
exit 0
