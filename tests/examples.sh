#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# examples.sh -- every program of examples/ against a real Postfix.
#
# Starts a throwaway Postfix (tests/postfix-testbed.sh) on 127.0.0.1 with
# free high ports, runs each example (bounded by timeout(1)) to its own
# recipient and checks what arrived in the Maildir:
#   notify       plain text, the given text as the body; a 550 recipient
#                fails with the reply on stderr and delivers nothing
#   html_report  multipart/mixed > multipart/alternative (text + HTML) and
#                the CSV attachment, byte for byte after base64
#   submission   STARTTLS + AUTH on the plain port with the testbed CA:
#                Received shows ESMTPSA and the authenticated user; without
#                the CA (unverified) and on a port without STARTTLS it
#                fails and sends nothing
#   custom_io    its own transport callbacks
#   memory_mode  no smtpc_io: the program moves the bytes
#   event_loop   4 sessions in one thread: 4 messages
# Skips (77) when not root or Postfix/OpenSSL/saslpasswd2 are missing --
# except with CI=true, where a skip is a failure.
set -euo pipefail

export PATH=$PATH:/usr/sbin:/sbin
export LC_ALL=C
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
TEST_NAME="the examples test"
# shellcheck source=tests/testlib.sh
. "$top_srcdir/tests/testlib.sh"
top_builddir=${top_builddir:-$top_srcdir}
testbed=$top_srcdir/tests/postfix-testbed.sh
ex=$top_builddir/examples
RUN_TIMEOUT=60 # seconds, hard bound on every example run


need_postfix openssl timeout base64
for p in notify html_report submission custom_io memory_mode event_loop; do
    [[ -x $ex/$p ]] || die "$ex/$p is not built (make check builds it)"
done


work=$(mktemp -d /tmp/smtpc-examples.XXXXXX)
chmod 0755 "$work" # Postfix daemons (postfix, nobody) traverse it
pfx=
cleanup() {
    local rc=$?
    pfx_teardown "$rc"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM



start_postfix 20002 3000 4 1500 || { echo "FAIL: could not start Postfix"; exit 1; }
D=$PFX_DOMAIN
maildir=$PFX_MAILDIR/new
from=examples@$D
expected=0

# run NAME EXPECTED_RC PROGRAM ARGS...: bounded run, output in $work/NAME.*
run() {
    local name=$1 want=$2 rc=0
    shift 2
    timeout -k 5 "$RUN_TIMEOUT" "$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
    if ((rc == want)); then
        ok "$name: exit $rc"
    else
        not_ok "$name: exit $rc, expected $want"
        ((rc == 124 || rc == 137)) && echo "# $name did not finish within $RUN_TIMEOUT s"
        sed 's/^/#   /' "$work/$name.err" "$work/$name.out" | head -n 30
    fi
}

# Files delivered to one recipient (every example has its own).
files_to() {
    grep -lx "Delivered-To: $1" "$maildir"/* 2>/dev/null | sort || true
}

# expect_files RCPT N WHAT: exactly N messages for RCPT; sets $files.
expect_files() {
    mapfile -t files < <(files_to "$1")
    if ((${#files[@]} == $2)); then
        ok "$3: $2 message(s) delivered to $1"
    else
        not_ok "$3: ${#files[@]} message(s) delivered to $1, expected $2"
    fi
}

has() { # FILE PATTERN WHAT (grep -E on the delivered file)
    if grep -qE -- "$2" "$1"; then
        ok "$3"
    else
        not_ok "$3: no line matches /$2/ in the delivered message"
        sed 's/^/#   /' "$1" | head -n 40
    fi
}

# ---------------------------------------------------------------- run them
tag=$$.$RANDOM
tls=1
grep -q '^#define SMTPC_HAVE_MBEDTLS 1' "$top_builddir/config.h" 2>/dev/null || tls=0
# notify: one smtpc_send() call -- STARTTLS (testbed CA) and AUTH, then the
# same in clear text, then a refused recipient, then an untrusted server.
run notify $((1 - tls)) env SMTP_CAFILE="$PFX_CAFILE" SMTP_USER="$PFX_USER" \
    SMTP_PASSWORD="$PFX_PASS" "$ex/notify" 127.0.0.1 "$PFX_PORT" "$from" \
    "notify@$D" "disk alert $tag"
run notify-clear 0 env SMTP_TLS=none "$ex/notify" 127.0.0.1 "$PFX_PORT" \
    "$from" "notifyclear@$D" "clear alert $tag"
run notify-reject 1 env SMTP_TLS=none "$ex/notify" 127.0.0.1 "$PFX_PORT" \
    "$from" "reject@$D"
if grep -q '^notify: every recipient was refused (1); RCPT TO:<reject@[^>]*>: 550 ' \
    "$work/notify-reject.err"; then
    ok "notify-reject: stderr names the refused RCPT and the server's 550"
else
    not_ok "notify-reject: stderr lacks the RCPT and its 550 reply"
    sed 's/^/#   /' "$work/notify-reject.err"
fi
if ((tls)); then
    run notify-untrusted 1 "$ex/notify" 127.0.0.1 "$PFX_PORT" "$from" \
        "untrusted@$D"
    if grep -q '^notify: TLS handshake with 127.0.0.1: .*not issued by a trusted CA' \
        "$work/notify-untrusted.err"; then
        ok "notify-untrusted: stderr says the certificate is not trusted"
    else
        not_ok "notify-untrusted: stderr does not name the certificate problem"
        sed 's/^/#   /' "$work/notify-untrusted.err"
    fi
fi
run html_report 0 "$ex/html_report" 127.0.0.1 "$PFX_PORT" "$from" "html@$D"
# A build without mbedTLS cannot do STARTTLS: submission must refuse to send.
((tls)) || echo "# built without TLS: submission is expected to fail and send nothing"
run submission $((1 - tls)) env SMTP_HOST=127.0.0.1 SMTP_PORT="$PFX_PORT" \
    SMTP_USER="$PFX_USER" SMTP_PASS="$PFX_PASS" SMTP_CAFILE="$PFX_CAFILE" \
    "$ex/submission" "$from" "submission@$D"
# Without the testbed CA the certificate is not trusted: nothing is sent.
run submission-untrusted 1 env SMTP_HOST=127.0.0.1 SMTP_PORT="$PFX_PORT" \
    SMTP_USER="$PFX_USER" SMTP_PASS="$PFX_PASS" SMTP_CAFILE=/dev/null/none \
    "$ex/submission" "$from" "untrusted@$D"
run submission-untrusted2 1 env SMTP_HOST=127.0.0.1 SMTP_PORT="$PFX_PORT" \
    SMTP_USER="$PFX_USER" SMTP_PASS="$PFX_PASS" \
    "$ex/submission" "$from" "untrusted@$D"
# The authplain port offers no STARTTLS: required TLS means nothing is sent.
run submission-notls 1 env SMTP_HOST=127.0.0.1 SMTP_PORT="$PFX_AUTHPLAIN_PORT" \
    SMTP_USER="$PFX_USER" SMTP_PASS="$PFX_PASS" SMTP_CAFILE="$PFX_CAFILE" \
    "$ex/submission" "$from" "untrusted@$D"
if ((!tls)) || grep -qi 'starttls' "$work/submission-notls.err"; then
    ok "submission-notls: the error names STARTTLS"
else
    not_ok "submission-notls: the error does not name STARTTLS"
fi
run custom_io 0 "$ex/custom_io" 127.0.0.1 "$PFX_PORT" "$from" "custom@$D"
if grep -qE '^custom_io: [1-9][0-9]* bytes sent, [1-9][0-9]* received$' "$work/custom_io.out"; then
    ok "custom_io: its callbacks counted the bytes"
else
    not_ok "custom_io: no byte counts on stdout"
fi
run memory_mode 0 "$ex/memory_mode" 127.0.0.1 "$PFX_PORT" "$from" "memory@$D"
if grep -qE '^memory_mode: accepted: [0-9A-Za-z]+$' "$work/memory_mode.out"; then
    ok "memory_mode: the session without smtpc_io reports the queue id"
else
    not_ok "memory_mode: no queue id on stdout"
fi
run event_loop 0 "$ex/event_loop" 127.0.0.1 "$PFX_PORT" "$from" "loop@$D" 4
n=$(grep -c ': success$' "$work/event_loop.out" || true)
if ((n == 4)); then
    ok "event_loop: 4 sessions report success"
else
    not_ok "event_loop: $n of 4 sessions report success"
fi

expected=$((8 + 2 * tls)) # [notify,] notify-clear, html_report, [submission,] custom_io, memory_mode, 4 x event_loop
if bash "$testbed" wait-mail "$pfx" "$expected" 20 2>"$work/wait.err"; then
    ok "Maildir holds $expected messages"
else
    not_ok "Maildir does not hold $expected messages within 20 s"
    sed 's/^/#   /' "$work/wait.err"
fi
sleep 1 # anything unexpected would arrive now

# ---------------------------------------------------------------- check them
expect_files "notify@$D" "$tls" notify
if ((${#files[@]} == 1)); then
    f=${files[0]}
    has "$f" '^Subject: Alert: disk almost full$' "notify: Subject"
    has "$f" '^Content-Type: text/plain; charset=utf-8$' "notify: a text/plain message"
    has "$f" "^disk alert $tag\$" "notify: the body is the given text"
fi
expect_files "notifyclear@$D" 1 notify-clear
if ((${#files[@]} == 1)); then
    has "${files[0]}" "^clear alert $tag\$" "notify-clear: the body is the given text"
fi
expect_files "reject@$D" 0 notify-reject

expect_files "html@$D" 1 html_report
if ((${#files[@]} == 1)); then
    f=${files[0]}
    has "$f" '^Content-Type: multipart/mixed; boundary=' "html_report: multipart/mixed"
    has "$f" '^Content-Type: multipart/alternative; boundary=' "html_report: multipart/alternative"
    has "$f" '^Content-Type: text/plain; charset=utf-8$' "html_report: text part"
    has "$f" '^Content-Type: text/html; charset=utf-8$' "html_report: HTML part"
    has "$f" '^<tr><td>db1</td><td>1.70</td><td><b>88%</b></td></tr>' "html_report: the HTML table"
    has "$f" '^Content-Disposition: attachment; filename="report.csv"$' "html_report: the attachment"
    has "$f" '^Subject: Daily report =\?UTF-8\?[BQ]\?' "html_report: UTF-8 subject as RFC 2047 word"
    # The attachment's base64 lines, decoded, are the CSV exactly.
    awk '/^Content-Disposition: attachment/ { a = 1; next }
         a && /^$/ && !b { b = 1; next }
         b && /^--/ { exit }
         b { print }' "$f" | base64 -d >"$work/report.csv" 2>/dev/null || true
    printf 'host,load,disk\r\nweb1,0.42,61\r\ndb1,1.70,88\r\n' >"$work/want.csv"
    if cmp -s "$work/report.csv" "$work/want.csv"; then
        ok "html_report: report.csv arrives byte for byte"
    else
        not_ok "html_report: report.csv differs"
        od -c "$work/report.csv" | head -n 5 | sed 's/^/#   /'
    fi
fi

expect_files "submission@$D" "$tls" submission
if ((tls && ${#files[@]} == 1)); then
    f=${files[0]}
    has "$f" 'with ESMTPSA id' "submission: Received shows ESMTPSA (TLS + AUTH)"
    has "$f" "\\(Authenticated sender: $PFX_USER(@$D)?\\)" "submission: authenticated as $PFX_USER"
fi
if ((!tls)); then
    if grep -qi 'not built' "$work/submission.err"; then
        ok "submission: says TLS is not built in"
    else
        not_ok "submission: the error does not say that TLS is not built in"
    fi
elif grep -q '^TLSv1\.[23] .*, authenticated as ' "$work/submission.out"; then
    ok "submission: reports the TLS version and cipher suite"
else
    not_ok "submission: no TLS description on stdout"
fi
expect_files "untrusted@$D" 0 "submission without trust or STARTTLS"

expect_files "custom@$D" 1 custom_io
if ((${#files[@]} == 1)); then
    has "${files[0]}" '^Subject: custom_io$' "custom_io: Subject"
fi

expect_files "memory@$D" 1 memory_mode
if ((${#files[@]} == 1)); then
    has "${files[0]}" '^Subject: memory_mode$' "memory_mode: Subject"
fi

expect_files "loop@$D" 4 event_loop
for i in 1 2 3 4; do
    if grep -lx "Subject: event_loop $i of 4" "${files[@]}" >/dev/null 2>&1; then
        ok "event_loop: message $i of 4 arrived"
    else
        not_ok "event_loop: message $i of 4 is missing"
    fi
done

total=$(find "$maildir" -type f | wc -l)
if ((total == expected)); then
    ok "nothing else was delivered ($total messages)"
else
    not_ok "Maildir holds $total messages, expected $expected"
fi

echo "# examples: $npass passed, $nfail failed"
((nfail == 0))
