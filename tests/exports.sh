#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# exports.sh -- the shared library exports exactly the public API.
#
# 1. Every defined dynamic symbol of lib/.libs/libsmtpc.so is named smtpc_*
#    and is code or data (nm types T, D, B, R).
# 2. Every function declared with SMTPC_API in include/smtpc/*.h is exported.
# 3. The exported names are exactly those of lib/libsmtpc.sym, the committed
#    list of the ABI (sorted, one name a line; also the libtool
#    -export-symbols list): any name added or removed shows as a diff, so
#    every change to the ABI is a deliberate edit of that file.
# 4. lib/libsmtpc.sym names exactly the SMTPC_API functions of the headers.
# Skips (77) only when no shared library was built (static-only build).
# make check exports top_srcdir and top_builddir.
set -euo pipefail

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
so=$top_builddir/lib/.libs/libsmtpc.so

if [[ ! -e $so ]]; then
    echo "SKIP: $so does not exist (static-only build?)"
    exit 77
fi
command -v nm >/dev/null || { echo "FAIL: nm not found"; exit 1; }
command -v perl >/dev/null || { echo "FAIL: perl not found"; exit 1; }

indent() { sed 's/^/  /'; }

fail=0
syms=$(nm -D --defined-only "$so")
[[ -n $syms ]] || { echo "FAIL: nm -D shows no defined symbol in $so"; exit 1; }

# Sanitizer runtimes add instrumentation symbols of their own
# (--enable-sanitizers); they are not part of the ABI.
bad=$(awk '
    NF >= 3 { t = $2; n = $3 }
    NF == 2 { t = $1; n = $2 }
    n ~ /^(__asan_|__odr_asan|__ubsan_|__sanitizer_)/ { next }
    !(t ~ /^[TDBR]$/ && n ~ /^smtpc_/) { print t, n }
' <<<"$syms")
if [[ -n $bad ]]; then
    echo "FAIL: exported symbols outside the smtpc_ namespace (type name):"
    printf '%s\n' "$bad" | indent
    fail=1
else
    echo "ok: every defined dynamic symbol is smtpc_* (T/D/B/R)"
fi

exported=$(awk '$2 ~ /^[TDBR]$/ { print $3 }' <<<"$syms" | sort -u)

# Names of SMTPC_API declarations: comments and preprocessor lines removed,
# then the identifier right before the first "(" after SMTPC_API.
shopt -s nullglob
headers=("$top_srcdir"/include/smtpc/*.h)
shopt -u nullglob
((${#headers[@]} > 0)) || { echo "FAIL: no headers in $top_srcdir/include/smtpc"; exit 1; }
declared=$(perl -0777 -ne '
    s{/\*.*?\*/}{ }gs;
    s{//[^\n]*}{}g;
    s{^[ \t]*#(?:[^\n]*\\\n)*[^\n]*}{}mg;
    while (/\bSMTPC_API\b[^;{}(]*?\b([A-Za-z_]\w*)\s*\(/g) { print "$1\n" }
' "${headers[@]}" | sort -u)
ndecl=$(grep -c . <<<"$declared" || true)
if ((ndecl == 0)); then
    echo "FAIL: found no SMTPC_API declaration in ${headers[*]}"
    exit 1
fi

missing=$(comm -23 <(printf '%s\n' "$declared") <(printf '%s\n' "$exported"))
if [[ -n $missing ]]; then
    echo "FAIL: declared SMTPC_API but not exported by $so:"
    printf '%s\n' "$missing" | indent
    fail=1
else
    echo "ok: all $ndecl SMTPC_API functions of include/smtpc/*.h are exported"
fi

# Exported but not declared: not an error here (the rule is the prefix;
# check 4 compares the headers with the list), but worth seeing.
extra=$(comm -13 <(printf '%s\n' "$declared") <(printf '%s\n' "$exported"))
if [[ -n $extra ]]; then
    echo "note: exported but not declared with SMTPC_API in a public header:"
    printf '%s\n' "$extra" | indent
fi

# 3 and 4: the committed list.
symfile=$top_srcdir/lib/libsmtpc.sym
if [[ ! -f $symfile ]]; then
    echo "FAIL: $symfile is missing"
    exit 1
fi
listed=$(grep -v '^$' "$symfile")
if [[ $listed != "$(LC_ALL=C sort -u <<<"$listed")" ]]; then
    echo "FAIL: lib/libsmtpc.sym is not sorted (LC_ALL=C sort -u) or has duplicates"
    fail=1
fi
nlisted=$(grep -c . <<<"$listed" || true)
d=$(diff -u --label lib/libsmtpc.sym --label "nm -D $so" \
    <(LC_ALL=C sort -u <<<"$listed") <(LC_ALL=C sort -u <<<"$exported")) || true
if [[ -n $d ]]; then
    echo "FAIL: the exported symbols differ from lib/libsmtpc.sym (+ exported, not listed; - listed, not exported):"
    printf '%s\n' "$d" | indent
    echo "  A deliberate ABI change edits lib/libsmtpc.sym (and bumps -version-info at release)."
    fail=1
else
    echo "ok: the $nlisted exported symbols are exactly lib/libsmtpc.sym"
fi
d=$(diff -u --label lib/libsmtpc.sym --label "SMTPC_API in include/smtpc/*.h" \
    <(LC_ALL=C sort -u <<<"$listed") <(LC_ALL=C sort -u <<<"$declared")) || true
if [[ -n $d ]]; then
    echo "FAIL: lib/libsmtpc.sym differs from the SMTPC_API declarations (+ declared, not listed; - listed, not declared):"
    printf '%s\n' "$d" | indent
    fail=1
else
    echo "ok: lib/libsmtpc.sym names exactly the SMTPC_API functions"
fi

exit "$fail"
