#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# headers.sh -- every public header stands on its own.
#
# For each include/smtpc/*.h (source tree, plus the build tree's include/
# for generated headers):
#   1. a C file that includes only that header (twice: the guard works)
#      compiles with -std=c99 -Wall -Wextra -Werror -pedantic;
#   2. the same as C++ with -std=c++11 -Wall -Wextra -Werror -pedantic, and
#      every SMTPC_API function the header declares has C linkage (the
#      object's references to them are not C++-mangled names);
#   3. the headers' #include <smtpc/...> lines form no cycle.
# CC and CXX name the compilers (make check passes CC; CXX defaults to
# g++).  A missing C++ compiler skips (77), or fails under CI=true.
set -euo pipefail

export LC_ALL=C
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
CC=${CC:-cc}
CXX=${CXX:-g++}

npass=0 nfail=0
ok() { npass=$((npass + 1)); echo "ok $((npass + nfail)) - $*"; }
not_ok() { nfail=$((nfail + 1)); echo "not ok $((npass + nfail)) - $*"; }
indent() { sed 's/^/#   /'; }

command -v "${CC%% *}" >/dev/null || { echo "FAIL: C compiler $CC not found"; exit 1; }
command -v perl >/dev/null || { echo "FAIL: perl not found"; exit 1; }
have_cxx=yes
command -v "${CXX%% *}" >/dev/null || have_cxx=no
if [[ $have_cxx == no && ${CI:-} == true ]]; then
    echo "FAIL: CI=true and the C++ compiler $CXX is not installed"
    exit 1
fi

incs=(-I"$top_srcdir/include")
if [[ -d $top_builddir/include && $top_builddir/include -ef $top_srcdir/include ]]; then
    :
elif [[ -d $top_builddir/include ]]; then
    incs+=(-I"$top_builddir/include")
fi

shopt -s nullglob
headers=("$top_srcdir"/include/smtpc/*.h)
if [[ ! $top_builddir/include -ef $top_srcdir/include ]]; then
    headers+=("$top_builddir"/include/smtpc/*.h)
fi
shopt -u nullglob
((${#headers[@]} > 0)) || { echo "FAIL: no header in $top_srcdir/include/smtpc"; exit 1; }

work=$(mktemp -d /tmp/smtpc-headers.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Names of the functions a header declares with SMTPC_API (as exports.sh).
api_names() {
    perl -0777 -ne '
        s{/\*.*?\*/}{ }gs;
        s{//[^\n]*}{}g;
        s{^[ \t]*#(?:[^\n]*\\\n)*[^\n]*}{}mg;
        while (/\bSMTPC_API\b[^;{}(]*?\b([A-Za-z_]\w*)\s*\(/g) { print "$1\n" }
    ' "$1" | sort -u
}

for h in "${headers[@]}"; do
    name=smtpc/${h##*/}
    base=${h##*/}
    base=${base%.h}
    printf '#include <%s>\n#include <%s>\n' "$name" "$name" >"$work/$base.c"
    if "$CC" -std=c99 -Wall -Wextra -Werror -pedantic "${incs[@]}" \
        -fsyntax-only "$work/$base.c" >"$work/$base.c.err" 2>&1; then
        ok "<$name> alone compiles as C99 (-Wall -Wextra -Werror -pedantic)"
    else
        not_ok "<$name> alone does not compile as C99: $(grep -c 'error:' "$work/$base.c.err" || true) errors"
        head -n 20 "$work/$base.c.err" | indent
    fi

    if [[ $have_cxx == no ]]; then
        continue
    fi
    {
        printf '#include <%s>\n#include <%s>\n' "$name" "$name"
        names=$(api_names "$h")
        if [[ -n $names ]]; then
            echo 'typedef void (*smtpc_test_fn)(void);'
            echo 'extern const smtpc_test_fn smtpc_test_refs[];'
            echo 'const smtpc_test_fn smtpc_test_refs[] = {'
            while read -r f; do
                echo "  reinterpret_cast<smtpc_test_fn>(&$f),"
            done <<<"$names"
            echo '};'
        fi
    } >"$work/$base.cc"
    if "$CXX" -std=c++11 -Wall -Wextra -Werror -pedantic "${incs[@]}" \
        -c -o "$work/$base.o" "$work/$base.cc" >"$work/$base.cc.err" 2>&1; then
        ok "<$name> alone compiles as C++11 (-Wall -Wextra -Werror -pedantic)"
        mangled=$(nm -u "$work/$base.o" | awk '$2 ~ /^_Z/ { print $2 }')
        if [[ -z $names ]]; then
            : # declares no function (the umbrella header)
        elif [[ -n $mangled ]]; then
            not_ok "<$name> declares functions without extern \"C\":"
            printf '%s\n' "$mangled" | indent
        else
            ok "<$name>: its $(grep -c . <<<"$names") SMTPC_API functions have C linkage"
        fi
    else
        not_ok "<$name> alone does not compile as C++11: $(grep -c 'error:' "$work/$base.cc.err" || true) errors"
        head -n 20 "$work/$base.cc.err" | indent
    fi
done

# 3. No cycle among the public headers' own includes.
cycle=$(perl -e '
    my %dep;
    for my $f (@ARGV) {
        my ($n) = $f =~ m{([^/]+)\.h$};
        open my $fh, "<", $f or die "$f: $!";
        while (<$fh>) { $dep{$n}{$1} = 1 if m{^\s*#\s*include\s*<smtpc/([^>]+)\.h>} }
        $dep{$n} ||= {};
    }
    my (%state, @path);
    sub visit {
        my $n = shift;
        return if ($state{$n} // 0) == 2;
        if (($state{$n} // 0) == 1) {
            my @c = @path; shift @c while @c && $c[0] ne $n;
            print join(" -> ", map { "$_.h" } @c, $n), "\n";
            exit 0;
        }
        $state{$n} = 1; push @path, $n;
        visit($_) for sort keys %{ $dep{$n} || {} };
        pop @path; $state{$n} = 2;
    }
    visit($_) for sort keys %dep;
' "${headers[@]}")
if [[ -n $cycle ]]; then
    not_ok "the public headers include each other in a circle: $cycle"
else
    ok "the public headers' includes form no cycle"
fi

if [[ $have_cxx == no ]]; then
    echo "SKIP: C++ checks: $CXX not installed (C checks: $npass passed, $nfail failed)"
    ((nfail == 0)) && exit 77
fi
echo "# $npass passed, $nfail failed"
((nfail == 0))
