#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-man.sh -- the man pages are complete, clean and current.
#
#   a) every function exported by lib/.libs/libsmtpc.so (nm -D, type T) has
#      its page man/man3/NAME.3 and is listed in libsmtpc(3)
#   b) `mandoc -T lint -W warning` reports nothing on any page
#   c) the committed man/man3/smtpc_*.3 and man/man.am equal what
#      man/gen-man.py makes from the headers now (they cannot drift)
#   d) smtpc(1) describes every option and exit status of `smtpc --help`
#   e) every EXAMPLES program of man/extra/*.txt compiles against the headers
# Parts whose tool is missing (mandoc, python3, the shared library) are
# skipped, and the test reports SKIP (77) when nothing else failed -- except
# with CI=true, where a missing tool is a failure.  make check exports
# top_srcdir and top_builddir.
set -euo pipefail

export LC_ALL=C
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
man=$top_srcdir/man
so=$top_builddir/lib/.libs/libsmtpc.so
CC=${CC:-cc}

n=0 nfail=0 nskip=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); nfail=$((nfail + 1)); echo "not ok $n - $*"; }
skip() {
    n=$((n + 1))
    if [[ ${CI:-} == true ]]; then
        nfail=$((nfail + 1))
        echo "not ok $n - $* (CI=true: a missing tool is a failure)"
    else
        nskip=$((nskip + 1))
        echo "ok $n - # SKIP $*"
    fi
}
indent() { sed 's/^/#   /'; }

work=$(mktemp -d /tmp/check-man.XXXXXX)
trap 'rm -rf "$work"' EXIT

shopt -s nullglob
pages=("$man"/man1/*.1 "$man"/man3/*.3)
shopt -u nullglob

# ------------------------------------------------------------ a) coverage
if [[ -e $so ]] && command -v nm >/dev/null; then
    nm -D --defined-only "$so" |
        awk 'NF >= 3 && $2 == "T" && $3 !~ /^(__asan_|__odr_asan|__ubsan_|__sanitizer_|_init$|_fini$)/ { print $3 }' |
        sort -u >"$work/syms"
    nsyms=$(wc -l <"$work/syms")
    missing=$(while read -r s; do [[ -f $man/man3/$s.3 ]] || echo "$s"; done <"$work/syms")
    if ((nsyms == 0)); then
        not_ok "nm -D shows no exported function in $so"
    elif [[ -z $missing ]]; then
        ok "each of the $nsyms exported functions has a page in man/man3"
    else
        not_ok "exported functions without a man page:"
        indent <<<"$missing"
    fi
    unlisted=$(while read -r s; do
        grep -q "^\.BR $s (3)" "$man/man3/libsmtpc.3" || echo "$s"
    done <"$work/syms")
    if [[ -z $unlisted ]]; then
        ok "libsmtpc(3) lists every exported function"
    else
        not_ok "functions missing from the FUNCTIONS list of libsmtpc(3):"
        indent <<<"$unlisted"
    fi
else
    skip "no $so (static-only build) or no nm: exported functions not checked"
fi

# ------------------------------------------------------------ b) lint
if command -v mandoc >/dev/null; then
    if mandoc -T lint -W warning "${pages[@]}" >"$work/lint" 2>&1 &&
        [[ ! -s $work/lint ]]; then
        ok "mandoc -T lint -W warning: ${#pages[@]} pages, no message"
    else
        not_ok "mandoc -T lint -W warning reports:"
        indent <"$work/lint"
    fi
else
    skip "mandoc is not installed (Debian: mandoc): pages not linted"
fi

# ------------------------------------------------------------ c) drift
if command -v python3 >/dev/null; then
    if python3 "$man/gen-man.py" --check >"$work/gen" 2>&1; then
        ok "man/man3/smtpc_*.3 and man/man.am match the headers"
    else
        not_ok "generated man pages differ from the headers:"
        indent <"$work/gen"
    fi
else
    skip "python3 is not installed: generated pages not compared"
fi

# ------------------------------------------------------------ d) smtpc(1)
smtpc=$top_builddir/examples/smtpc
hrc=0
[[ -x $smtpc ]] && { "$smtpc" --help >"$work/help" 2>&1 || hrc=$?; }
if [[ -x $smtpc ]] && ((hrc != 0)); then
    not_ok "smtpc --help exits with status $hrc:"
    head -n 20 "$work/help" | indent
elif [[ -x $smtpc ]]; then
    # Options as they appear in the page: \-\-name
    grep -o -- '--[a-z0-9][a-z0-9-]*' "$work/help" | sort -u >"$work/opts"
    undoc=$(while read -r o; do
        grep -qF -- "${o//-/\\-}" "$man/man1/smtpc.1" || echo "$o"
    done <"$work/opts")
    if [[ ! -s $work/opts ]]; then
        not_ok "smtpc --help lists no option"
    elif [[ -z $undoc ]]; then
        ok "smtpc(1) describes all $(wc -l <"$work/opts") options of smtpc --help"
    else
        not_ok "options of smtpc --help missing from smtpc(1):"
        indent <<<"$undoc"
    fi
    sed -n '/^Exit status:/,$p' "$work/help" |
        grep -oE '(^|[[:space:]])[0-9]{1,3}  [A-Za-z]' | grep -oE '[0-9]+' |
        sort -un >"$work/codes"
    undoc=$(while read -r c; do
        sed -n '/^\.SH "EXIT STATUS"/,/^\.SH /p' "$man/man1/smtpc.1" |
            grep -qx "\.B $c" || echo "$c"
    done <"$work/codes")
    if [[ ! -s $work/codes ]]; then
        not_ok "smtpc --help lists no exit status"
    elif [[ -z $undoc ]]; then
        ok "smtpc(1) describes all $(wc -l <"$work/codes") exit statuses"
    else
        not_ok "exit statuses of smtpc --help missing from smtpc(1):"
        indent <<<"$undoc"
    fi
else
    not_ok "$smtpc is not built"
fi

# ------------------------------------------------------------ e) examples
nex=0 bad=0
for f in "$man"/extra/*.txt; do
    # The \code blocks of the EXAMPLES section, one file each.
    awk -v out="$work/ex.$(basename "$f" .txt)" '
        /^@section / { inex = ($2 == "EXAMPLES") }
        inex && /^\\code/ { k++; code = 1; next }
        code && /^\\endcode/ { code = 0; next }
        code { print > (out "." k ".c") }
    ' "$f"
done
shopt -s nullglob
for c in "$work"/ex.*.c; do
    nex=$((nex + 1))
    if ! "$CC" -std=c99 -Wall -Wextra -Werror -pedantic -fsyntax-only \
        -D_POSIX_C_SOURCE=200809L -I"$top_srcdir/include" "$c" \
        >"$c.log" 2>&1; then
        bad=1
        echo "# ${c##*/ex.}:"
        indent <"$c.log"
    fi
done
shopt -u nullglob
if ((nex == 0)); then
    not_ok "no EXAMPLES program found in man/extra"
elif ((bad)); then
    not_ok "man page EXAMPLES that do not compile (above)"
else
    ok "all $nex man page EXAMPLES programs compile (-Wall -Wextra -pedantic)"
fi

echo "1..$n"
echo "# check-man: $((n - nfail - nskip)) passed, $nfail failed, $nskip skipped"
((nfail == 0)) || exit 1
((nskip == 0)) || exit 77
exit 0
