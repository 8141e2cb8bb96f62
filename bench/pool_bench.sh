#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# pool_bench.sh -- messages/second of smtpc_pool with 1, 3 and 8 connections
# against Postfix's smtp-sink (accepts everything, stores nothing), clear
# text, 127.0.0.1 only.
#
#   bench/pool_bench.sh [THREADS] [MESSAGES_PER_THREAD]   (defaults 8 500)
#
# Needs tests/pool_stress built (make check builds it; or
# make tests/pool_stress) and smtp-sink (Debian: postfix).  Prints one line
# per pool size and a Markdown table.  Environment: top_builddir (default:
# the source tree), SINK_BACKLOG (default 256).  Every run is bounded
# (timeout 300 s); smtp-sink is stopped at the end.
set -u -o pipefail
export PATH=$PATH:/usr/sbin:/sbin
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
STRESS=$top_builddir/tests/pool_stress
THREADS=${1:-8}
PER=${2:-500}

command -v smtp-sink >/dev/null || { echo "pool_bench: smtp-sink not found (Debian: postfix)"; exit 77; }
[[ -x $STRESS ]] || { echo "pool_bench: $STRESS is not built (make tests/pool_stress)"; exit 1; }

port_open() {
    { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
    exec 3>&-
}
port=
for ((try = 0; try < 50; try++)); do
    p=$((40000 + (($$ + try * 613) % 9000)))
    port_open "$p" || { port=$p; break; }
done
[[ -n $port ]] || { echo "pool_bench: no free port"; exit 1; }

# -c: count, -u nobody: smtp-sink drops root after binding; PIPELINING and
# 8BITMIME are offered by default.
sink_args=(-u nobody 127.0.0.1:"$port" "${SINK_BACKLOG:-256}")
[[ $(id -u) == 0 ]] || sink_args=("${sink_args[@]:2}")
smtp-sink "${sink_args[@]}" &
sink=$!
trap 'kill "$sink" 2>/dev/null; wait "$sink" 2>/dev/null' EXIT
for ((i = 0; i < 100; i++)); do
    port_open "$port" && break
    sleep 0.05
done
port_open "$port" || { echo "pool_bench: smtp-sink did not start"; exit 1; }

echo "# pool_bench: $THREADS threads x $PER messages, smtp-sink on 127.0.0.1:$port, $(nproc) CPU(s)"
declare -A rate
for conns in 1 3 8; do
    line=$(POOL_QUIET=1 timeout -k 5 300 "$STRESS" 127.0.0.1 "$port" "$THREADS" "$PER" "$conns" "bench$conns") || {
        echo "pool_bench: $conns connection(s) failed: $line"
        exit 1
    }
    echo "connections=$conns $line"
    rate[$conns]=$(sed -n 's/.*msgs_per_s=\([0-9.]*\).*/\1/p' <<<"$line")
done
echo
echo "| connections | messages/s |"
echo "|---|---|"
for conns in 1 3 8; do
    echo "| $conns | ${rate[$conns]} |"
done
