#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh -- `make bench`: libsmtpc side by side with libcurl, libESMTP,
# Postfix's smtp-source and Python's smtplib, in one run, on this machine.
#
#   bench/run.sh            (from the top of a built tree, or via make bench)
#
# 1. installs the peers from Debian's packages when run as root and one is
#    missing (BENCH_NO_INSTALL=1 to skip; the list is PKGS below),
# 2. builds the peers (bench/Makefile.peers) into $top_builddir/bench/,
# 3. runs bench/bench.py: smtp-sink on 127.0.0.1, then messages/second,
#    instructions/msg (callgrind), syscalls/msg (strace -c; perf trace when
#    it works), round trips/msg (bench/delay_sink.py), DATA beside BDAT
#    (bench/chunking.py: round trips, msgs/s into Postfix), one 64 MiB message
#    (MB/s, peak RSS), STARTTLS + AUTH set-up instructions (bench/tls_setup
#    vs bench/peer_curl_tls against a throwaway Postfix, root only), 1,000
#    concurrent sessions from one thread (bench/many_sessions vs
#    smtp-source -s), heap per session (bench/heap_per_session) and the
#    Cortex-M4 footprint (bench/check-embedded.sh), DKIM signing beside
#    dkimpy and mailauth (bench/dkim.py: instructions and ms per 1 KiB
#    signature, MB/s for 64 MiB, peak RSS signing 64 MiB and 1 GiB; mailauth
#    comes from tests/node: `cd tests/node && npm ci`),
# 4. prints the table and writes it to $top_builddir/bench/latest.md
#    (BENCH_OUT to change); bench/RESULTS.md is the annotated copy kept in git.
# Tunables (environment): see bench/bench.py (BENCH_COUNT, BENCH_COUNT10,
# BENCH_REPS, BENCH_TOOLS, BENCH_SKIP, BENCH_DELAY_MS, BENCH_SESSIONS,
# BENCH_TLS_COUNT).  Takes about 8-10
# minutes with the defaults on 2 cores.  Never part of make check.
set -euo pipefail

src=${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
build=${top_builddir:-$src}

PKGS=(libcurl4-openssl-dev libesmtp-dev postfix valgrind strace python3
      gcc-arm-none-eabi libnewlib-arm-none-eabi linux-perf time pkg-config
      sasl2-bin libsasl2-modules openssl python3-dkim)

missing=()
for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) || st=
    [[ $st == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
    if [[ ${BENCH_NO_INSTALL:-0} != 1 && $(id -u) == 0 ]] &&
        command -v apt-get >/dev/null; then
        echo "bench: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        # no system MTA: smtp-sink and smtp-source are all we need
        echo "postfix postfix/main_mailer_type select No configuration" |
            debconf-set-selections
        apt-get -q update </dev/null >/dev/null
        apt-get -q -y -o Dpkg::Use-Pty=0 install --no-install-recommends \
            "${missing[@]}" </dev/null >/dev/null
    else
        echo "bench: missing packages: ${missing[*]} (some figures will be n/a)" >&2
    fi
fi

for prog in smtpc-bench heap_per_session tls_setup tls_heap many_sessions mime_bench \
    dkim_bench; do
    if [[ ! -x $build/bench/$prog ]]; then
        make -C "$build" "bench/$prog" >/dev/null
    fi
done
mkdir -p "$build/bench"
make -s -f "$src/bench/Makefile.peers" OUT="$build/bench" all

out=${BENCH_OUT:-$build/bench/latest.md}
exec python3 "$src/bench/bench.py" --srcdir "$src" \
    --smtpc "$build/bench/smtpc-bench" --heap "$build/bench/heap_per_session" \
    --peers "$build/bench" --out "$out"
