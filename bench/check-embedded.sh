#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-embedded.sh -- the protocol core and the MIME builder must build for
# a bare-metal Cortex-M4 and reach for nothing beyond ISO C and <string.h>.
#
#   bench/check-embedded.sh [-v]        (make check-embedded)
#
# Compiles each core file with arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os
# -ffunction-sections -fdata-sections against newlib's headers, without
# linking, then lists every undefined symbol (arm-none-eabi-nm -u) that no
# other core object defines and sorts it:
#   string     memcpy, strlen, ...: allowed
#   iso        snprintf, malloc, ...: allowed ISO C, reported (a port may
#              want to avoid them: malloc only backs the default allocator)
#   runtime    __aeabi_* compiler helpers from libgcc: allowed
#   hook       smtpc_* functions of the excluded platform files, which a
#              bare-metal port supplies itself: allowed, reported
#   other      anything else (POSIX: gethostname, clock_gettime, strdup,
#              strcasecmp, errno...): FAILS the check
# and prints .text (+.rodata, Berkeley "text") sizes per object and per part,
# against the goals of issue 6 (core under 16 KiB, MIME under 8 KiB).
# The platform files (platform_posix.c, platform_mime_posix.c), io_socket.c
# and io_mbedtls.c / tls_none.c are not part of the core.
# Needs gcc-arm-none-eabi and libnewlib-arm-none-eabi (Debian).
# Exit: 0 clean, 1 a core object uses a forbidden symbol or does not
# compile, 77 the toolchain is missing (automake's "skipped").
set -euo pipefail

verbose=0
[[ ${1:-} == -v ]] && verbose=1
src=${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
CC=${ARM_CC:-arm-none-eabi-gcc}
NM=${ARM_NM:-arm-none-eabi-nm}
SIZE=${ARM_SIZE:-arm-none-eabi-size}
for t in "$CC" "$NM" "$SIZE"; do
    if ! command -v "$t" >/dev/null 2>&1; then
        echo "check-embedded: $t not found (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)" >&2
        exit 77
    fi
done

CORE=(session session_opts txn reply ehlo command auth data base64 md5 mem buf error)
MIME=()
for f in mime mime_header mime_stream qp base64_stream; do
    [[ -f $src/lib/$f.c ]] && MIME+=("$f")
done
# error.c takes the version from config.h; a port without autoconf defines it.
version=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$src/configure.ac" | head -n 1)
CFLAGS=(-std=c99 -mcpu=cortex-m4 -mthumb -Os -ffunction-sections
        -fdata-sections -Wall -Wextra -I"$src/include" -I"$src/lib"
        "-DPACKAGE_VERSION=\"${version:-0}\"")

work=$(mktemp -d /tmp/check-embedded.XXXXXX)
trap 'rm -rf "$work"' EXIT

fail=0
compile() {
    local f=$1
    if ! "$CC" "${CFLAGS[@]}" -c "$src/lib/$f.c" -o "$work/$f.o" \
        2>"$work/$f.err"; then
        echo "check-embedded: lib/$f.c does not compile for Cortex-M4:" >&2
        sed 's/^/  /' "$work/$f.err" >&2
        fail=1
        return 1
    fi
    if [[ -s $work/$f.err ]]; then
        local n
        n=$(grep -c 'warning:' "$work/$f.err" || true)
        echo "check-embedded: lib/$f.c: $n warning(s) for Cortex-M4 (-v shows them)"
        ((verbose)) && sed 's/^/  /' "$work/$f.err"
    fi
    return 0
}

objs=()
for f in "${CORE[@]}" "${MIME[@]}"; do
    compile "$f" && objs+=("$work/$f.o")
done
((${#objs[@]})) || exit 1

# Symbols defined by some object of the set.
"$NM" --defined-only -g "${objs[@]}" 2>/dev/null |
    awk 'NF == 3 { print $3 }' | sort -u >"$work/defined"

STRING=" memcpy memmove memset memcmp memchr strlen strchr strrchr strcspn"
STRING+=" strspn strstr strcmp strncmp strpbrk strcat strncat strcpy strncpy "
ISO=" snprintf vsnprintf sprintf malloc calloc realloc free abort "

classify() {
    local sym=$1
    if [[ $STRING == *" $sym "* ]]; then echo string
    elif [[ $ISO == *" $sym "* ]]; then echo iso
    elif [[ $sym == __aeabi_* || $sym == __gnu_* || $sym == __udivdi3 ||
            $sym == __divdi3 || $sym == __umoddi3 || $sym == __moddi3 ||
            $sym == __clz* || $sym == __ctz* || $sym == __popcount* ]]; then
        echo runtime
    elif [[ $sym == smtpc_* ]]; then echo hook
    else echo other
    fi
}

declare -A users
for o in "${objs[@]}"; do
    b=$(basename "$o" .o)
    while read -r _ sym; do
        [[ -z $sym ]] && continue
        grep -qxF "$sym" "$work/defined" && continue
        users[$sym]+="${users[$sym]:+ }$b"
    done < <("$NM" -u "$o")
done

declare -A bycls
for sym in $(printf '%s\n' "${!users[@]}" | sort); do
    cls=$(classify "$sym")
    bycls[$cls]+="  $sym (${users[$sym]})"$'\n'
done
echo "check-embedded: external symbols of the core and MIME objects:"
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
if [[ -n ${bycls[other]:-} ]]; then
    fail=1
fi

# Sizes: Berkeley "text" = .text + .rodata (what goes to flash).
sum_text() {
    local total=0 f t
    for f in "$@"; do
        [[ -f $work/$f.o ]] || continue
        t=$("$SIZE" -B "$work/$f.o" | awk 'NR == 2 { print $1 }')
        total=$((total + t))
    done
    echo "$total"
}
echo "check-embedded: sizes (arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os, unlinked objects):"
"$SIZE" -B "${objs[@]}" | sed "s|$work/||; s/^/  /"
core=$(sum_text "${CORE[@]}")
mime=0
((${#MIME[@]})) && mime=$(sum_text "${MIME[@]}")
verdict() { if (($1 < $2)); then echo "met"; else echo "NOT met"; fi; }
printf 'check-embedded: core (%s): text %d bytes (%.1f KiB), goal < 16 KiB: %s\n' \
    "${CORE[*]}" "$core" "$(awk -v n="$core" 'BEGIN { print n / 1024 }')" \
    "$(verdict "$core" 16384)"
proto=$(sum_text session session_opts txn reply ehlo command auth data)
support=$(sum_text base64 md5 mem buf error)
echo "check-embedded: of which protocol (session session_opts txn reply ehlo command auth data) $proto bytes, support (base64 md5 mem buf error: error.c is mostly smtpc_strerror's strings) $support bytes"
# With mbedTLS (the usual case where credentials are sent: TLS) md5.c is
# empty and CRAM-MD5 takes HMAC-MD5 from mbedTLS.
md5=$(sum_text md5)
printf 'check-embedded: core when built with mbedTLS (no built-in MD5, %d bytes less): text %d bytes (%.1f KiB), goal < 16 KiB: %s\n' \
    "$md5" "$((core - md5))" "$(awk -v n="$((core - md5))" 'BEGIN { print n / 1024 }')" \
    "$(verdict "$((core - md5))" 16384)"
# The same core with -DSMTPC_NO_ERROR_STRINGS (one text per error class).
small_core=
if "$CC" "${CFLAGS[@]}" -DSMTPC_NO_ERROR_STRINGS -c "$src/lib/error.c" \
    -o "$work/error-small.o" 2>/dev/null; then
    err_full=$(sum_text error)
    err_small=$("$SIZE" -B "$work/error-small.o" | awk 'NR == 2 { print $1 }')
    small_core=$((core - err_full + err_small))
    printf 'check-embedded: core with -DSMTPC_NO_ERROR_STRINGS: text %d bytes (%.1f KiB), goal < 16 KiB: %s\n' \
        "$small_core" "$(awk -v n="$small_core" 'BEGIN { print n / 1024 }')" \
        "$(verdict "$small_core" 16384)"
fi
if ((${#MIME[@]})); then
    printf 'check-embedded: MIME (%s): text %d bytes (%.1f KiB), goal < 8 KiB: %s\n' \
        "${MIME[*]}" "$mime" "$(awk -v n="$mime" 'BEGIN { print n / 1024 }')" \
        "$(verdict "$mime" 8192)"
else
    echo "check-embedded: MIME builder not present yet (lib/mime.c, lib/qp.c)"
fi
nonstring=$(for cls in iso hook other; do printf '%s' "${bycls[$cls]:-}"; done |
    awk '{ print $1 }' | sort -u | tr '\n' ' ')
echo "check-embedded: summary core_text=$core core_text_with_mbedtls=$((core - md5)) core_text_no_error_strings=${small_core:-n/a} protocol_text=$proto support_text=$support mime_text=$mime mime_files=${#MIME[@]} non_string=[${nonstring% }] violations=$([[ -n ${bycls[other]:-} ]] && echo yes || echo no)"
if ((fail)); then
    echo "check-embedded: FAIL" >&2
    exit 1
fi
echo "check-embedded: PASS"
