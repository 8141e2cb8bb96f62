#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# pkgconfig.sh -- a program outside the tree builds against the installed
# libsmtpc through pkg-config, dynamically and statically.
#
#   1. make install DESTDIR=STAGE from the build tree
#   2. the layout: headers under <includedir>/smtpc/ (none directly in
#      <includedir>), libsmtpc.so with a soname (readelf -d) and its links,
#      libsmtpc.a, libsmtpc.pc, the man pages
#   3. a consumer program compiled and linked with
#      `pkg-config --cflags --libs libsmtpc` (PKG_CONFIG_PATH and
#      PKG_CONFIG_SYSROOT_DIR point into STAGE) runs with LD_LIBRARY_PATH and
#      uses the staged libsmtpc.so
#   4. the same program linked with -static and
#      `pkg-config --static --libs libsmtpc` (so Libs.private /
#      Requires.private must name mbedTLS) runs without any shared library
#   5. the C example of README.md compiles and links the same way
#   6. make uninstall DESTDIR=STAGE leaves no file behind
# Run from tests/ci.sh after the build (or directly: top_builddir=DIR).
# Skips (77) in a sanitizer build (the installed library then needs the
# sanitizer runtime, which pkg-config does not name).
set -euo pipefail

export LC_ALL=C
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
CC=${CC:-cc}
MAKE=${MAKE:-make}

for c in pkg-config readelf "$CC"; do
    command -v "$c" >/dev/null || { echo "FAIL: $c is not installed"; exit 1; }
done
[[ -f $top_builddir/Makefile ]] || { echo "FAIL: $top_builddir is not configured"; exit 1; }
if grep -q '^SAN_CFLAGS = .*-fsanitize' "$top_builddir/Makefile"; then
    echo "SKIP: sanitizer build (consumers would need -fsanitize too)"
    exit 77
fi

npass=0 nfail=0
ok() { npass=$((npass + 1)); echo "ok $((npass + nfail)) - $*"; }
not_ok() { nfail=$((nfail + 1)); echo "not ok $((npass + nfail)) - $*"; }
indent() { sed 's/^/#   /'; }

stage=$(mktemp -d /tmp/smtpc-pkgconfig.XXXXXX)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/root" "$stage/work"
root=$stage/root
w=$stage/work

# ---------------------------------------------------------------- 1 install
if "$MAKE" -C "$top_builddir" install DESTDIR="$root" >"$w/install.log" 2>&1; then
    ok "make install DESTDIR=$root"
else
    not_ok "make install DESTDIR failed"
    tail -n 30 "$w/install.log" | indent
    exit 1
fi

pc=$(find "$root" -name libsmtpc.pc | head -n 1)
[[ -n $pc ]] || { not_ok "libsmtpc.pc was not installed"; exit 1; }
# The staged .pc first; the system directories stay searched for what
# Requires.private names (mbedTLS 3.x ships .pc files).
export PKG_CONFIG_PATH=${pc%/*} PKG_CONFIG_SYSROOT_DIR=$root
# A variable of libsmtpc.pc as a path in the stage (pkgconf applies the
# sysroot to variables, the original pkg-config does not).
staged() {
    local v
    v=$(pkg-config --variable="$1" libsmtpc)
    [[ $v == "$root"/* ]] || v=$root$v
    printf '%s\n' "$v"
}
libdir=$(staged libdir)
includedir=$(staged includedir)
prefix=$(staged prefix)
prefix=${prefix#"$root"}

# ---------------------------------------------------------------- 2 layout
if pkg-config --exists --print-errors libsmtpc 2>"$w/pc.err"; then
    ok "pkg-config finds libsmtpc $(pkg-config --modversion libsmtpc)"
else
    not_ok "pkg-config cannot use libsmtpc.pc"
    indent <"$w/pc.err"
fi
missing=
for h in smtpc.h socket.h tls.h mime.h; do
    [[ -f $includedir/smtpc/$h ]] || missing+=" $h"
done
stray=$(find "$includedir" -maxdepth 1 -type f -name '*.h' | sed "s|^$root||")
if [[ -z $missing && -z $stray ]]; then
    ok "headers installed under $prefix/include/smtpc/ only"
else
    not_ok "header layout: missing under smtpc/:${missing:- none}; outside smtpc/: ${stray:-none}"
fi
so=$(find "$libdir" -maxdepth 1 -name 'libsmtpc.so.*.*' -type f | head -n 1)
soname=
[[ -n $so ]] && soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
if [[ -n $soname && -e $libdir/$soname && -L $libdir/libsmtpc.so ]]; then
    ok "${so##*/} has soname $soname; $soname and libsmtpc.so link to it"
else
    not_ok "shared library: file '${so##*/}', soname '$soname' (links: $(ls "$libdir" | tr '\n' ' '))"
fi
if [[ -f $libdir/libsmtpc.a ]]; then
    ok "static library libsmtpc.a installed"
else
    not_ok "libsmtpc.a is not installed"
fi
mandir=$(find "$root" -type d -name man1 -path '*/man/*' | head -n 1)
mandir=${mandir%/man1}
if [[ -n $mandir && -f $mandir/man1/smtpc.1 && -f $mandir/man3/libsmtpc.3 &&
    -f $mandir/man3/smtpc_session_new.3 ]]; then
    ok "man pages installed ($(find "$mandir" -type f | wc -l) files)"
else
    not_ok "man pages smtpc.1, libsmtpc.3, smtpc_session_new.3 not all installed"
fi

# ---------------------------------------------------------------- 3 dynamic
cat >"$w/consumer.c" <<'EOF'
/* An outside program: the MIME builder, a session, the TLS adapter. */
#include <smtpc/smtpc.h>

#include <stdio.h>
#include <string.h>

int main(void) {
  smtpc_msg *m = NULL;
  smtpc_session *s = NULL;
  smtpc_tls *tls = NULL;
  smtpc_body body;
  unsigned char buf[4096];
  size_t len = 0;
  smtpc_ssize n;
  int rc;

  if (smtpc_msg_new(&m, NULL) != SMTPC_OK ||
      smtpc_msg_set_from(m, NULL, "a@example.org") != SMTPC_OK ||
      smtpc_msg_add_to(m, NULL, "b@example.net") != SMTPC_OK ||
      smtpc_msg_set_subject(m, "pkg-config") != SMTPC_OK ||
      smtpc_msg_set_text(m, "hello\n", SIZE_MAX) != SMTPC_OK ||
      smtpc_msg_body(m, &body) != SMTPC_OK)
    return 1;
  while ((n = body.read(body.ctx, buf + len, sizeof buf - 1 - len)) > 0)
    len += (size_t)n;
  buf[len] = '\0';
  if (n < 0 || strstr((char *)buf, "\r\nSubject: pkg-config\r\n") == NULL)
    return 2;
  if (smtpc_session_new(&s, NULL) != SMTPC_OK)
    return 3;
  rc = smtpc_tls_new(&tls, NULL, SMTPC_SECURITY_STARTTLS);
  if (rc == SMTPC_OK)
    rc = smtpc_tls_set_hostname(tls, "mail.example.net");
  printf("libsmtpc %s; message %zu bytes; tls: %s\n", smtpc_version(), len,
         rc == SMTPC_OK                  ? "yes"
         : rc == SMTPC_ERR_NOT_SUPPORTED ? "no"
                                         : smtpc_strerror(rc));
  smtpc_tls_free(tls);
  smtpc_session_free(s);
  smtpc_msg_free(m);
  return rc == SMTPC_OK || rc == SMTPC_ERR_NOT_SUPPORTED ? 0 : 4;
}
EOF
if grep -q '^#define SMTPC_HAVE_MBEDTLS 1' "$top_builddir/config.h" 2>/dev/null; then
    want_tls=yes
else
    want_tls=no
fi
want_ver=$(pkg-config --modversion libsmtpc)

# check_run WHAT COMMAND...: runs a consumer and checks its line.
check_run() {
    local what=$1 out rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    if ((rc == 0)) && [[ $out == "libsmtpc $want_ver; message "*" bytes; tls: $want_tls" ]]; then
        ok "$what runs: $out"
    else
        not_ok "$what: exit $rc: $out (expected version $want_ver, tls: $want_tls)"
    fi
}

flags=$(pkg-config --cflags --libs libsmtpc)
echo "# cc -std=c99 consumer.c $flags"
# shellcheck disable=SC2086 # the flags are words
if "$CC" -std=c99 -Wall -Wextra -Werror -o "$w/consumer" "$w/consumer.c" $flags \
    2>"$w/cc.err"; then
    ok "consumer builds with pkg-config --cflags --libs"
    check_run "the dynamic consumer" env LD_LIBRARY_PATH="$libdir" "$w/consumer"
    lib=$(env LD_LIBRARY_PATH="$libdir" ldd "$w/consumer" | sed -n 's/.*libsmtpc\.so[^ ]* => \([^ ]*\).*/\1/p')
    if [[ $lib == "$libdir"/* ]]; then
        ok "consumer uses the staged shared library"
    else
        not_ok "consumer resolves libsmtpc to '$lib', not below $libdir"
    fi
else
    not_ok "consumer does not build with: $flags"
    indent <"$w/cc.err"
fi

# ---------------------------------------------------------------- 4 static
sflags=$(pkg-config --static --cflags --libs libsmtpc)
echo "# cc -std=c99 -static consumer.c $sflags"
# shellcheck disable=SC2086
if "$CC" -std=c99 -Wall -Wextra -Werror -static -o "$w/consumer-static" \
    "$w/consumer.c" $sflags 2>"$w/cc-static.err"; then
    ok "consumer links statically with pkg-config --static --libs"
    if readelf -d "$w/consumer-static" 2>/dev/null | grep -q NEEDED; then
        not_ok "the static consumer still needs shared libraries"
        readelf -d "$w/consumer-static" | grep NEEDED | indent
    else
        ok "the static consumer needs no shared library"
    fi
    check_run "the static consumer" env -u LD_LIBRARY_PATH "$w/consumer-static"
else
    not_ok "consumer does not link statically with: $sflags"
    indent <"$w/cc-static.err"
fi

# The control: without the private libraries a static link must fail,
# else the test above proves nothing about Libs.private.
if [[ $want_tls == yes ]]; then
    # shellcheck disable=SC2086
    if "$CC" -std=c99 -static -o "$w/consumer-nopriv" "$w/consumer.c" $flags \
        >/dev/null 2>&1; then
        not_ok "a static link without --static flags succeeds: the control is broken"
    else
        ok "control: a static link without the Libs.private libraries fails"
    fi
fi

# ---------------------------------------------------------------- 5 README
sed -n '/^```c$/,/^```$/p' "$top_srcdir/README.md" | sed '1d;$d' >"$w/readme.c"
if [[ ! -s $w/readme.c ]]; then
    not_ok "README.md has no C example"
# shellcheck disable=SC2086
elif "$CC" -std=c99 -Wall -Wextra -Werror -o "$w/readme" "$w/readme.c" $flags \
    2>"$w/readme.err"; then
    ok "the C example of README.md builds against the installed library"
else
    not_ok "the C example of README.md does not build"
    indent <"$w/readme.err"
fi

# ---------------------------------------------------------------- 6 uninstall
if "$MAKE" -C "$top_builddir" uninstall DESTDIR="$root" >"$w/uninstall.log" 2>&1; then
    left=$(find "$root" -type f -o -type l | sed "s|^$root||")
    if [[ -z $left ]]; then
        ok "make uninstall leaves no file behind"
    else
        not_ok "files left after make uninstall:"
        indent <<<"$left"
    fi
else
    not_ok "make uninstall DESTDIR failed"
    tail -n 20 "$w/uninstall.log" | indent
fi

echo "# pkgconfig: $npass passed, $nfail failed"
((nfail == 0))
