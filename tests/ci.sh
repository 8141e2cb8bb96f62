#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ci.sh -- build libsmtpc and run the whole test suite, as CI does.
#
# Called by .ci/run after it installed the packages; run it directly (as root, for
# the Postfix interop test) when the packages are already installed.
#   0. tests/hygiene.sh: git tracks no libtool wrapper, binary or absolute
#      path; tests/format.sh: every C file is as .clang-format says
#   1. autoreconf -fi; ./configure --enable-werror; make; make check
#      (tests/embedded.sh runs the firmware of ports/ under QEMU);
#      make check-embedded (the core for Cortex-M4 and RISC-V)
#   2. the Check suites again with CK_FORK=no under valgrind
#   3. make doc (Doxygen with WARN_AS_ERROR); tests/pkgconfig.sh: make install
#      into a staging directory, an outside program built and run through
#      pkg-config (shared and -static), the README's C example, uninstall
#   4. make distcheck, with the suites that need no server (the interop
#      scripts run in steps 1 and 5)
#   5. the distributed tarball in a second build directory with
#      ./configure --enable-sanitizers --enable-werror; make check (ASan+UBSan)
#   6. the tarball built with ThreadSanitizer: check_client, interop_client.sh
#      (8 threads x 200 messages through the pool to Postfix)
#   7. the tarball built against mbedTLS 3.6 LTS (Debian 13's packages,
#      fetched with apt into a private prefix; the system keeps Debian 12's
#      2.28): check_tls, the TLS and pool interop tests against Postfix,
#      check_client, check_faults, tls_headers.sh, and DKIM's RSA keys
#      (check_dkim_key, check_dkim: the TLS matrix: every step before this
#      one runs on 2.28)
#   8. the tarball built --without-mbedtls --disable-threads --without-libidn2
#      --without-libsodium:
#      the core suites
#      and check_client (the single-threaded pool, TLS configurations refused)
#   9. the tarball built --enable-fuzzing CC=clang: make fuzz-smoke (libFuzzer
#      harnesses replay their corpora, then fuzz 15 s each)
# Ends with one line "ci: N passed, N failed, N skipped" (all test runs added).
set -euo pipefail
exec </dev/null

cd "$(dirname "${BASH_SOURCE[0]}")/.."
top=$PWD
export PATH=$PATH:/usr/sbin:/sbin # postfix, saslpasswd2
export AM_COLOR_TESTS=no
# npm packages (.ci/run: npm ci) for tests/interop_requiretls.sh, also in
# the builds of the tarball, which holds no node_modules
export SMTPC_NODE_DIR=$top/tests/node
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

passed=0 failed=0 skipped=0
step_name='' step_t0=0
timings=()
san_dir=

begin() {
    step_name=$1
    step_t0=$SECONDS
    printf '\n=== ci: %s\n' "$step_name"
}
end() {
    timings+=("$(printf '%4d s  %s' $((SECONDS - step_t0)) "$step_name")")
    step_name=
}

summary() {
    local t
    printf '\n=== ci: timings\n'
    for t in "${timings[@]}"; do printf '%s\n' "$t"; done
    printf 'total %d s\n' "$SECONDS"
}

on_exit() {
    local rc=$?
    if ((rc != 0)); then
        [[ -n $step_name ]] && printf '\nci: FAILED in step: %s\n' "$step_name"
        [[ -n $san_dir ]] && printf 'ci: sanitizer build kept in %s\n' "$san_dir"
        summary
        printf 'ci: %d passed, %d failed, %d skipped\n' "$passed" "$((failed > 0 ? failed : 1))" "$skipped"
    fi
    exit "$rc"
}
trap on_exit EXIT

# Adds the counts of an automake test-suite.log (or of make's console
# output, which has the same "# PASS:  N" lines) to the totals.
count() {
    local f=$1 p fl e x s
    p=$(sed -n 's/^# PASS: *\([0-9]*\)$/\1/p' "$f" | awk '{n+=$1} END{print n+0}')
    fl=$(sed -n 's/^# FAIL: *\([0-9]*\)$/\1/p' "$f" | awk '{n+=$1} END{print n+0}')
    e=$(sed -n 's/^# ERROR: *\([0-9]*\)$/\1/p' "$f" | awk '{n+=$1} END{print n+0}')
    x=$(sed -n 's/^# XPASS: *\([0-9]*\)$/\1/p' "$f" | awk '{n+=$1} END{print n+0}')
    s=$(sed -n 's/^# SKIP: *\([0-9]*\)$/\1/p' "$f" | awk '{n+=$1} END{print n+0}')
    passed=$((passed + p))
    failed=$((failed + fl + e + x))
    skipped=$((skipped + s))
}

# make check in the current directory; on failure print every failing log.
run_check() {
    local rc=0
    make -j"$JOBS" check || rc=$?
    if [[ -f test-suite.log ]]; then
        count test-suite.log
    fi
    if ((rc != 0)); then
        printf '\n=== ci: test-suite.log (%s)\n' "$PWD"
        cat test-suite.log 2>/dev/null || echo "(no test-suite.log)"
        return "$rc"
    fi
}

begin "repository hygiene (tests/hygiene.sh, tests/format.sh): no generated files, no absolute paths, house style"
hlog=$(mktemp /tmp/ci-hygiene.XXXXXX)
rc=0
{ bash tests/hygiene.sh && bash tests/format.sh; } 2>&1 | tee "$hlog" || rc=$?
passed=$((passed + $(grep -c '^ok ' "$hlog" || true)))
failed=$((failed + $(grep -c '^not ok ' "$hlog" || true)))
rm -f "$hlog"
((rc == 0)) || exit "$rc"
end

begin "autoreconf -fi"
autoreconf -fi
end

begin "./configure --enable-werror"
./configure --enable-werror
end

begin "make -j$JOBS"
make -j"$JOBS"
end

begin "make check"
run_check
end

begin "make check-embedded (the core for Cortex-M4 and RISC-V rv32imac)"
if make check-embedded; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    exit 1
fi
end

begin "Check suites under valgrind (CK_FORK=no)"
shopt -s nullglob
vg_progs=()
for t in tests/check_*; do
    [[ -x $t && ! -d $t && $t != *.* ]] && vg_progs+=("$t")
done
shopt -u nullglob
if ((${#vg_progs[@]} == 0)); then
    echo "ci: no Check programs built; skipping valgrind pass"
else
    # $JOBS suites at a time; each writes its log and exit status
    vg_one() {
        local rc=0
        CK_FORK=no ./libtool --mode=execute valgrind -q --error-exitcode=99 \
            --leak-check=full --errors-for-leak-kinds=definite,indirect \
            --show-leak-kinds=definite,indirect "$1" >"$1.valgrind.log" 2>&1 ||
            rc=$?
        echo "$rc" >"$1.valgrind.rc"
    }
    for t in "${vg_progs[@]}"; do
        rm -f "$t.valgrind.rc"
        while (($(jobs -rp | wc -l) >= JOBS)); do wait -n || true; done
        vg_one "$t" &
    done
    wait
    for t in "${vg_progs[@]}"; do
        if [[ $(cat "$t.valgrind.rc" 2>/dev/null) == 0 ]]; then
            passed=$((passed + 1))
            printf 'PASS: %s (valgrind)\n' "$t"
        else
            failed=$((failed + 1))
            printf 'FAIL: %s (valgrind)\n' "$t"
            cat "$t.valgrind.log"
        fi
    done
    # Fail only after running every suite, so one run shows every problem.
    ((failed == 0)) || exit 1
fi
end

begin "make doc (Doxygen, warnings are errors)"
make doc
passed=$((passed + 1))
end

begin "pkg-config consumers (tests/pkgconfig.sh): staged install, dynamic and static link, README example, uninstall"
plog=$(mktemp /tmp/ci-pkgconfig.XXXXXX)
rc=0
top_srcdir=$top top_builddir=$top bash tests/pkgconfig.sh 2>&1 | tee "$plog" || rc=$?
passed=$((passed + $(grep -c '^ok ' "$plog" || true)))
failed=$((failed + $(grep -c '^not ok ' "$plog" || true)))
rm -f "$plog"
((rc == 0)) || exit "$rc"
end

begin "make distcheck (the Check suites and the quick scripts)"
# distcheck proves the tarball: complete, builds out of tree, installs and
# uninstalls cleanly.  The interop scripts against Postfix, smtp-server and
# QEMU ran in step 1 and run again on the tarball in step 5, so here only
# the suites that need no server run (every program is still built).
dist_tests="$(ls tests/check_*.c | sed 's/\.c$//' | tr '\n' ' ')"
dist_tests+="tests/exports.sh tests/headers.sh tests/cli.sh man/check-man.sh"
dlog=$(mktemp /tmp/ci-distcheck.XXXXXX)
rc=0
make -j"$JOBS" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror \
    TESTS="$dist_tests" 2>&1 | tee "$dlog" || rc=$?
count "$dlog"
rm -f "$dlog"
if ((rc != 0)); then
    shopt -s nullglob
    for f in "$top"/*/_build/sub/test-suite.log; do
        printf '\n=== ci: %s\n' "$f"
        cat "$f"
    done
    exit "$rc"
fi
end

begin "sanitizer build (ASan+UBSan) of the tarball, make check"
pkg=$(sed -n 's/^PACKAGE = //p' Makefile)
ver=$(sed -n 's/^VERSION = //p' Makefile)
tarball=$top/$pkg-$ver.tar.gz
[[ -f $tarball ]] || { echo "ci: $tarball not found" >&2; exit 1; }
san_dir=$(mktemp -d /tmp/ci-san.XXXXXX)
tar -xzf "$tarball" -C "$san_dir"
cd "$san_dir/$pkg-$ver"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
./configure --enable-sanitizers --enable-werror
make -j"$JOBS"
run_check
unset ASAN_OPTIONS UBSAN_OPTIONS
cd "$top"
rm -rf "$san_dir"
san_dir=
end

begin "ThreadSanitizer build of the tarball: the pool and one-call tests"
ts_dir=$(mktemp -d /tmp/ci-tsan.XXXXXX)
tar -xzf "$tarball" -C "$ts_dir"
cd "$ts_dir/$pkg-$ver"
./configure --enable-sanitizers=thread --enable-werror >/dev/null
make -j"$JOBS" >/dev/null
# any report aborts the program, so the test fails
export TSAN_OPTIONS=halt_on_error=1:abort_on_error=1:second_deadlock_stack=1
make -j"$JOBS" check TESTS="tests/check_client tests/interop_client.sh" ||
    { cat test-suite.log; exit 1; }
unset TSAN_OPTIONS
count test-suite.log
cd "$top"
rm -rf "$ts_dir"
end

# fetch_mbedtls36 DIR: Debian 13's mbedTLS 3.6 packages, downloaded with apt
# from the archive this machine already uses (its first deb822 "URIs:", else
# its first "deb" line; suite trixie) into a private apt state under DIR,
# unpacked into DIR/root (nothing is installed).  Prints the prefix (usr).
fetch_mbedtls36() {
    local d=$1 uri
    uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    [[ -n $uri ]] || uri=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    [[ -n $uri ]] || { echo "ci: no apt source found on this machine" >&2; return 1; }
    mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/debs"
    echo "deb $uri trixie main" >"$d/sources.list"
    local A=(-o Dir::Etc::sourcelist="$d/sources.list" -o Dir::Etc::sourceparts=-
        -o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache"
        -o APT::Sandbox::User=root)
    apt-get "${A[@]}" -q update >"$d/apt.log" 2>&1 &&
        (cd "$d/debs" && apt-get "${A[@]}" -q download libmbedtls-dev \
            libmbedtls21 libmbedx509-7 libmbedcrypto16 >>"$d/apt.log" 2>&1) ||
        { cat "$d/apt.log" >&2; return 1; }
    local f
    for f in "$d"/debs/*.deb; do dpkg -x "$f" "$d/root"; done
    echo "$d/root/usr"
}

begin "mbedTLS 3.6 LTS (Debian 13's packages, private prefix): the tarball's TLS suites"
m36_dir=$(mktemp -d /tmp/ci-mbedtls36.XXXXXX)
m36=$(fetch_mbedtls36 "$m36_dir/apt")
m36_lib=$(dirname "$(find "$m36/lib" -name 'libmbedtls.so' | head -n 1)")
m36_ver=$(sed -n 's/^#define MBEDTLS_VERSION_STRING *"\(.*\)"/\1/p' "$m36/include/mbedtls/build_info.h")
[[ $m36_ver == 3.6.* ]] || { echo "ci: expected mbedTLS 3.6, got '$m36_ver'" >&2; exit 1; }
echo "ci: mbedTLS $m36_ver in $m36 (libraries in $m36_lib)"
tar -xzf "$tarball" -C "$m36_dir"
cd "$m36_dir/$pkg-$ver"
# no pkg-config: Debian's .pc files say prefix=/usr
./configure --enable-werror MBEDTLS_CFLAGS="-I$m36/include" \
    MBEDTLS_LIBS="-lmbedtls -lmbedx509 -lmbedcrypto" \
    LDFLAGS="-L$m36_lib -Wl,-rpath,$m36_lib" >/dev/null
make -j"$JOBS" >/dev/null
make -j"$JOBS" check TESTS="tests/check_tls tests/tls_headers.sh tests/interop_tls.sh tests/interop_client.sh tests/check_client tests/check_faults tests/check_dkim_key tests/check_dkim" ||
    { cat test-suite.log; exit 1; }
grep -q "$m36_lib" <(ldd tests/check_tls) ||
    { echo "ci: check_tls is not linked with $m36_lib" >&2; exit 1; }
count test-suite.log
cd "$top"
rm -rf "$m36_dir"
end

begin "build --without-mbedtls --disable-threads --without-libidn2 --without-libsodium, core suites pass"
nt_dir=$(mktemp -d /tmp/ci-notls.XXXXXX)
tar -xzf "$tarball" -C "$nt_dir"
cd "$nt_dir/$pkg-$ver"
./configure --without-mbedtls --disable-threads --without-libidn2 \
    --without-libsodium --enable-werror >/dev/null
make -j"$JOBS" >/dev/null
grep -q '^/\* #undef SMTPC_HAVE_LIBIDN2 \*/' config.h ||
    { echo "ci: --without-libidn2 still defines SMTPC_HAVE_LIBIDN2" >&2; exit 1; }
grep -q '^/\* #undef SMTPC_HAVE_MBEDTLS \*/' config.h ||
    { echo "ci: --without-mbedtls still defines SMTPC_HAVE_MBEDTLS" >&2; exit 1; }
grep -q '^/\* #undef SMTPC_HAVE_PTHREADS \*/' config.h ||
    { echo "ci: --disable-threads still defines SMTPC_HAVE_PTHREADS" >&2; exit 1; }
grep -q '^/\* #undef SMTPC_HAVE_SODIUM \*/' config.h ||
    { echo "ci: --without-libsodium still defines SMTPC_HAVE_SODIUM" >&2; exit 1; }
# check_tls runs its "not built with TLS" suite in this build; the TLS
# interop test needs TLS and is not run here.  check_client runs the pool
# single-threaded (its multi-threaded tests are compiled out) and expects
# configurations that need TLS to fail at set-up with nothing sent.
# check_mime's IDNA test expects "not built in" from smtpc_idna_to_ascii().
# check_dkim and check_dkim_key expect keys refused (no crypto library)
# and signing through a callback to work.
make -j"$JOBS" check TESTS="tests/check_session tests/check_auth tests/check_tls tests/check_client tests/check_mime tests/check_dkim tests/check_dkim_key tests/exports.sh tests/interop_postfix.sh" ||
    { cat test-suite.log; exit 1; }
count test-suite.log
cd "$top"
rm -rf "$nt_dir"
end

begin "fuzz smoke: libFuzzer harnesses (clang) over their corpora, bounded"
fz_dir=$(mktemp -d /tmp/ci-fuzz.XXXXXX)
tar -xzf "$tarball" -C "$fz_dir"
cd "$fz_dir/$pkg-$ver"
./configure --enable-fuzzing CC=clang >/dev/null
make -j"$JOBS" >/dev/null
# each harness replays its corpus (seeds and regress-* crashes), then fuzzes
make fuzz-smoke FUZZ_SMOKE_TIME="${FUZZ_SMOKE_TIME:-15}"
passed=$((passed + 6)) # one per harness (FUZZ_PROGS)
cd "$top"
rm -rf "$fz_dir"
end

summary
printf 'ci: %d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
