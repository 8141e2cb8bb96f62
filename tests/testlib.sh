# SPDX-License-Identifier: MIT
# testlib.sh -- sourced by the shell tests that start servers on loopback
# (interop_postfix.sh, interop_tls.sh, interop_client.sh, examples.sh):
# TAP counters, skipping (need_postfix) or failing (die) when the set-up is
# missing, and free 127.0.0.1 ports.
#
#   TEST_NAME="the TLS interop test"   # for skip messages
#   . "$top_srcdir/tests/testlib.sh"

npass=0 nfail=0
ok() {
    npass=$((npass + 1))
    echo "ok $((npass + nfail)) - $*"
}
not_ok() {
    nfail=$((nfail + 1))
    echo "not ok $((npass + nfail)) - $*"
}

# Exit 77 (automake: skipped) -- except under CI=true, where a test that
# cannot run is a failure: a green CI must mean the test ran.
skip() {
    echo "SKIP: $*"
    if [[ ${CI:-} == true ]]; then
        echo "FAIL: CI=true and ${TEST_NAME:-this test} cannot run: $*"
        exit 1
    fi
    exit 77
}

# A broken set-up that is not a reason to skip (a program not built, a
# tool every Debian has): the test fails at once.
die() {
    echo "FAIL: $*"
    exit 1
}

# need_postfix [TOOL...]: skip unless root (the private Postfix needs it)
# with Postfix, Cyrus SASL's saslpasswd2 and every TOOL on the PATH.
need_postfix() {
    local c
    [[ $(id -u) == 0 ]] || skip "needs root to run a private Postfix instance"
    for c in postfix postqueue saslpasswd2 "$@"; do
        command -v "$c" >/dev/null ||
            skip "$c is not installed (Debian: postfix sasl2-bin openssl coreutils)"
    done
}

port_open() {
    { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
    exec 3>&-
    return 0
}

# pick_ports LOW SLOTS N [SALT]: prints BASE such that BASE..BASE+N-1 are
# free, BASE = LOW + k*N for some k < SLOTS, tried in an order spread by
# PID (and SALT) so that tests running at once rarely collide.  Each test
# has its own range, below the ephemeral ports.
pick_ports() {
    local low=$1 slots=$2 n=$3 salt=${4:-0} try base i busy
    for ((try = 0; try < 50; try++)); do
        base=$((low + ((($$ + try * 1021 + salt) % slots) * n)))
        busy=0
        for ((i = 0; i < n; i++)); do
            if port_open $((base + i)); then
                busy=1
                break
            fi
        done
        if ((!busy)); then
            echo "$base"
            return 0
        fi
    done
    return 1
}

# start_postfix LOW SLOTS N [SALT]: starts a throwaway Postfix
# ($testbed start, in $work/pfxK) on free ports from pick_ports -- SMTP at
# $base, smtps at base+1, the AUTH-in-clear port at base+2 -- with three
# attempts, and sources its env file.  Sets pfx and base; returns 1 when
# it could not.
start_postfix() {
    local attempt
    for attempt in 1 2 3; do
        base=$(pick_ports "$@") || { echo "# no free ports found"; return 1; }
        pfx=$work/pfx$attempt
        echo "# starting Postfix in $pfx on 127.0.0.1:$base (smtps $((base + 1)), authplain $((base + 2)))"
        if PFX_PORT=$base PFX_SMTPS_PORT=$((base + 1)) PFX_AUTHPLAIN_PORT=$((base + 2)) \
            bash "$testbed" start "$pfx"; then
            # shellcheck disable=SC1091
            . "$pfx/env"
            return 0
        fi
        echo "# start attempt $attempt failed; trying other ports"
        bash "$testbed" stop "$pfx" || true
        pfx=
    done
    return 1
}

# pfx_teardown RC: the end of a test that started Postfix (start_postfix)
# in $work: on failure the tail of its log, then the instance stopped and
# $work removed.  Call it from the EXIT trap with the exit status.
pfx_teardown() {
    if [[ -n ${pfx:-} ]]; then
        if (($1 != 0 || nfail > 0)); then
            echo "--- tail of $pfx/maillog"
            tail -n 25 "$pfx/maillog" 2>/dev/null || true
        fi
        bash "$testbed" stop "$pfx" || true
    fi
    rm -rf "$work"
}
