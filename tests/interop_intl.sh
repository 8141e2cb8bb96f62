#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# interop_intl.sh -- SMTPUTF8 (RFC 6531/6532), IDN domains and DSN (RFC 3461)
# of the smtpc CLI against a real Postfix and against aiosmtpd.
#
#   1) Postfix, smtputf8_enable = yes, strict_smtputf8 = yes: a UTF-8 local
#      part and an IDN domain go with SMTPUTF8 on MAIL and arrive with the
#      UTF-8 From/To as sent, "with UTF8SMTP" in Received:; an ASCII message
#      goes without SMTPUTF8 and still arrives (and a raw MAIL with a UTF-8
#      address but no SMTPUTF8 gets 553 5.6.7: strict mode is on).
#   2) Postfix, smtputf8_enable = no: a UTF-8 local part fails before MAIL
#      (exit 69); an IDN domain goes as its A-label, in RCPT and in To:.
#   3) DSN with Postfix: NOTIFY=SUCCESS, ENVID, RET=HDRS; the "delivered"
#      notification comes back to the sender's (catch-all) Maildir and
#      quotes the envelope id and ORCPT; with DSN discarded from EHLO,
#      --dsn-required fails before MAIL and plain --notify sends without.
#   4) aiosmtpd (tests/aiosmtpd_sink.py): what a Python server records
#      for SMTPUTF8 and DSN, content byte for byte as --dry-run prints it,
#      and the UTF-8 local-part error when SMTPUTF8 is disabled.
# Skips (77) when not root, or Postfix, saslpasswd2, openssl or aiosmtpd
# are missing -- except with CI=true, where a skip is a failure.
set -euo pipefail

export PATH=$PATH:/usr/sbin:/sbin
export LC_ALL=C
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
TEST_NAME="the SMTPUTF8/IDN/DSN interop test"
# shellcheck source=tests/testlib.sh
. "$top_srcdir/tests/testlib.sh"
top_builddir=${top_builddir:-$top_srcdir}
testbed=$top_srcdir/tests/postfix-testbed.sh
check=$top_srcdir/tests/intl_check.py
sink=$top_srcdir/tests/aiosmtpd_sink.py
SMTPC=$top_builddir/examples/smtpc
SMTPC_TIMEOUT=30 # seconds, hard bound on every smtpc run
t_start=$SECONDS

need_postfix openssl timeout python3
[[ -x $SMTPC ]] || die "$SMTPC is not built"
# Debian's python3-aiosmtpd installs for the system python3, which need not
# be the first python3 on the PATH.
SINK_PY=
for py in python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null && "$py" -c 'import aiosmtpd' 2>/dev/null; then
        SINK_PY=$py
        break
    fi
done
[[ -n $SINK_PY ]] || skip "aiosmtpd is not installed (Debian: python3-aiosmtpd)"

# The test's UTF-8 data, spelt as bytes so the file stays LC_ALL=C-safe.
JOSE=$'jos\xc3\xa9'                   # josé
ULABEL=$'b\xc3\xbccher.example'       # bücher.example
ALABEL=xn--bcher-kva.example
MUELLER=$'m\xc3\xbcller'              # müller
GRUESSE=$'Gr\xc3\xbc\xc3\x9fe'           # Grüße

work=$(mktemp -d /tmp/smtpc-intl.XXXXXX)
chmod 0755 "$work" # Postfix daemons (postfix, nobody) traverse it
pfx=
sink_pid=
cleanup() {
    local rc=$?
    if [[ -n $sink_pid ]]; then
        kill "$sink_pid" 2>/dev/null || true
        wait "$sink_pid" 2>/dev/null || true
    fi
    pfx_teardown "$rc"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run_smtpc NAME ARGS...: runs the CLI with --trace (bounded) against
# 127.0.0.1:$port; stdout in $work/NAME.out, stderr in $work/NAME.err; $rc.
run_smtpc() {
    local name=$1
    shift
    rc=0
    timeout -k 5 "$SMTPC_TIMEOUT" "$SMTPC" --host 127.0.0.1 --port "$port" \
        --timeout 10 --helo client.test --trace "$@" \
        >"$work/$name.out" 2>"$work/$name.err" || rc=$?
    if ((rc == 124 || rc == 137)); then
        echo "# smtpc ($name) did not finish within ${SMTPC_TIMEOUT} s"
    fi
}

show_err() {
    sed 's/^/#   /' "$work/$1.err" | head -n 40
}

expect_rc() { # NAME WANT WHAT
    if ((rc == $2)); then
        ok "$3: exit $rc"
    else
        not_ok "$3: exit $rc, expected $2"
        show_err "$1"
    fi
}

# The client's MAIL and RCPT lines of a trace ("C: " removed), one a line.
envelope_lines() {
    sed -n 's/^C: \(MAIL FROM:.*\|RCPT TO:.*\)$/\1/p' "$work/$1.err"
}

# expect_envelope NAME WHAT LINE...: the trace's MAIL/RCPT lines are exactly
# these (no line at all when none is given).
expect_envelope() {
    local name=$1 what=$2 got want
    shift 2
    got=$(envelope_lines "$name")
    want=$(printf '%s\n' "$@")
    (($# > 0)) || want=
    if [[ $got == "$want" ]]; then
        if (($# > 0)); then
            ok "$what: trace: $(printf '%s | ' "$@")"
        else
            ok "$what: no MAIL or RCPT in the trace"
        fi
    else
        not_ok "$what: MAIL/RCPT in the trace differ"
        printf '#   got:  %s\n' "${got:-(none)}"
        printf '#   want: %s\n' "${want:-(none)}"
    fi
}

expect_err_line() { # NAME WHAT LINE: stderr holds this exact line
    if grep -qxF -- "$3" "$work/$1.err"; then
        ok "$2: stderr says: $3"
    else
        not_ok "$2: stderr lacks: $3"
        show_err "$1"
    fi
}

checker() { # WHAT ARGS...: intl_check.py ARGS
    local what=$1
    shift
    if python3 "$check" "$@"; then
        ok "$what"
    else
        not_ok "$what"
    fi
}

# Maildir files whose header section carries "Subject: $1".
# Files whose own header (up to the first empty line) has this Subject: a
# delivery report quotes the original header further down (RET=HDRS).
files_with_subject() {
    local f
    for f in "$maildir"/*; do
        [[ -e $f ]] || continue
        if sed '/^\r\{0,1\}$/q' "$f" | grep -qxF -- "Subject: $1"; then
            echo "$f"
        fi
    done | sort
}

nfiles() {
    local -a f
    shopt -s nullglob
    f=("$maildir"/*)
    shopt -u nullglob
    echo "${#f[@]}"
}

# Bounded wait until the Maildir holds $1 files.
wait_files() {
    bash "$testbed" wait-mail "$pfx" "$1" 10 || true
}

# one_file SUBJECT N WHAT: sets $mfiles to the files with SUBJECT and
# checks there are N.
one_file() {
    mapfile -t mfiles < <(files_with_subject "$1")
    if ((${#mfiles[@]} == $2)); then
        ok "$3: $2 file(s) delivered"
        return 0
    fi
    not_ok "$3: ${#mfiles[@]} file(s) delivered, expected $2"
    return 1
}

printf 'intl test body\n' >"$work/body.txt"
uniq=$$.$RANDOM

# ================================================================ Postfix
export PFX_POSTCONF="smtputf8_enable = yes
strict_smtputf8 = yes
virtual_mailbox_domains = example.test, $ULABEL, $ALABEL"
start_postfix 20003 3000 4 2300 || { echo "FAIL: could not start Postfix"; exit 1; }
unset PFX_POSTCONF
port=$PFX_PORT
maildir=$PFX_MAILDIR/new
D=$PFX_DOMAIN
expected=0

# ---------------------------------------------------------------- (1)
echo "# (1) Postfix with smtputf8_enable = yes, strict_smtputf8 = yes"
s1="intl-1 $uniq"
run_smtpc p1 --from "$JOSE@$D" --to "info@$ULABEL" --to "$MUELLER@$D" \
    --subject "$s1" --text "$work/body.txt"
expect_rc p1 0 "(1) UTF-8 local part and IDN domain"
size=$(sed -n 's/^C: MAIL FROM:.* SIZE=\([0-9]*\).*/\1/p' "$work/p1.err")
expect_envelope p1 "(1) SMTPUTF8 on MAIL, U-labels as given" \
    "MAIL FROM:<$JOSE@$D> SIZE=$size BODY=8BITMIME SMTPUTF8" \
    "RCPT TO:<info@$ULABEL>" "RCPT TO:<$MUELLER@$D>"
s2="intl-2 $uniq"
run_smtpc p2 --from "ascii@$D" --to "bob@$D" --subject "$s2" --text "$work/body.txt"
expect_rc p2 0 "(1) ASCII-only message under strict_smtputf8"
size=$(sed -n 's/^C: MAIL FROM:.* SIZE=\([0-9]*\).*/\1/p' "$work/p2.err")
expect_envelope p2 "(1) ASCII message: no SMTPUTF8 (and no BODY=8BITMIME)" \
    "MAIL FROM:<ascii@$D> SIZE=$size" "RCPT TO:<bob@$D>"
# Strict mode really is on: a UTF-8 address without SMTPUTF8 is refused.
strict_reply=$(
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    n=0 step=0
    while ((n++ < 30)) && IFS= read -r -t 5 line <&3; do
        line=${line%$'\r'}
        case $step.$line in
        0.220\ *) printf 'EHLO client.test\r\n' >&3 && step=1 ;;
        1.250\ *) printf 'MAIL FROM:<%s@%s>\r\n' "$JOSE" "$D" >&3 && step=2 ;;
        2.*) printf '%s\n' "$line"; printf 'QUIT\r\n' >&3; break ;;
        esac
    done
) || true
if [[ $strict_reply == "553 5.6.7 Must declare SMTPUTF8 to send unicode address" ]]; then
    ok "(1) strict mode on: raw MAIL with a UTF-8 address, no SMTPUTF8: $strict_reply"
else
    not_ok "(1) strict mode: raw MAIL without SMTPUTF8 got '${strict_reply:-nothing}'"
fi
expected=$((expected + 3))
wait_files "$expected"
if one_file "$s1" 2 "(1) UTF-8 message"; then
    for f in "${mfiles[@]}"; do
        dt=$(sed -n '/^$/q; s/^Delivered-To: //p' "$f" | head -n 1)
        checker "(1) delivered to $dt: From/To as sent (UTF-8), Return-Path, Received 'with UTF8SMTP'" \
            headers "$f" --line "From: $JOSE@$D" \
            --line "To: info@$ULABEL, $MUELLER@$D" \
            --line "Return-Path: <$JOSE@$D>" \
            --received-with UTF8SMTP \
            --addr "From=$JOSE@$D" --addr "To=info@$ULABEL,$MUELLER@$D"
    done
    dts=$(for f in "${mfiles[@]}"; do sed -n '/^$/q; s/^Delivered-To: //p' "$f"; done | sort | tr '\n' ' ')
    want=$(printf '%s\n' "info@$ULABEL" "$MUELLER@$D" | sort | tr '\n' ' ')
    if [[ $dts == "$want" ]]; then
        ok "(1) Delivered-To: $dts(U-labels kept)"
    else
        not_ok "(1) Delivered-To: $dts, expected $want"
    fi
fi
if one_file "$s2" 1 "(1) ASCII message"; then
    checker "(1) ASCII message: ASCII header section, Received 'with ESMTP'" \
        headers "${mfiles[0]}" --ascii-headers --received-with ESMTP \
        --line "From: ascii@$D" --line "To: bob@$D"
fi

# ---------------------------------------------------------------- (3)
# DSN before (2): smtputf8_enable stays yes here.
echo "# (3) DSN: NOTIFY=SUCCESS, ENVID, RET=HDRS; the report comes back"
s3="intl-3 $uniq"
run_smtpc d1 --from "sender@$D" --to "rcpt@$D" --notify SUCCESS \
    --envid 'test+1 id' --ret HDRS --subject "$s3" --text "$work/body.txt"
expect_rc d1 0 "(3) --notify SUCCESS --envid 'test+1 id' --ret HDRS"
size=$(sed -n 's/^C: MAIL FROM:.* SIZE=\([0-9]*\).*/\1/p' "$work/d1.err")
expect_envelope d1 "(3) DSN parameters, ENVID xtext-encoded, ORCPT added" \
    "MAIL FROM:<sender@$D> SIZE=$size RET=HDRS ENVID=test+2B1+20id" \
    "RCPT TO:<rcpt@$D> NOTIFY=SUCCESS ORCPT=rfc822;rcpt@$D"
if ((rc == 0)); then
    expected=$((expected + 2)) # the message and the "delivered" report
    wait_files "$expected"
    one_file "$s3" 1 "(3) message to rcpt@" || true
    # The report (from MAILER-DAEMON, Return-Path <>) to sender@: poll it,
    # bounded (20 s, 200 rounds).
    dsnf='' n=0 deadline=$((SECONDS + 20))
    while ((n++ < 200 && SECONDS < deadline)); do
        dsnf=$(grep -lx 'Return-Path: <>' "$maildir"/* 2>/dev/null |
            xargs -r grep -lxF "Original-Envelope-Id: test+1 id" | head -n 1) || true
        [[ -z $dsnf ]] || break
        sleep 0.1
    done
    if [[ -n $dsnf ]]; then
        ok "(3) a delivery report came back to sender@$D"
        # Postfix decodes the xtext on receipt and writes the envelope id
        # decoded (test+1 id, sent as test+2B1+20id); the ORCPT it quotes
        # as received (rfc822;ADDR, no space), Final-Recipient with a space.
        checker "(3) report: multipart/report delivery-status, Original-Envelope-Id: test+1 id, Original-Recipient: rfc822;rcpt@$D, Action: delivered" \
            dsn "$dsnf" 'test+1 id' "rfc822;rcpt@$D" "rfc822; rcpt@$D" delivered
    else
        not_ok "(3) no delivery report for ENVID 'test+1 id' within 20 s"
    fi
else
    not_ok "(3) no delivery report to look for: the message was not sent"
fi

echo "# (3) smtpd_discard_ehlo_keywords = dsn"
bash "$testbed" discard-ext "$pfx" "dsn" || die "discard-ext dsn failed"
s4="intl-4 $uniq"
run_smtpc d2 --from "sender@$D" --to "rcpt@$D" --notify SUCCESS \
    --dsn-required --subject "$s4" --text "$work/body.txt"
expect_rc d2 69 "(3) no DSN offered, --dsn-required"
expect_envelope d2 "(3) no DSN offered, --dsn-required"
expect_err_line d2 "(3) --dsn-required" \
    "smtpc: message not sent: delivery status notifications required but the server does not offer DSN; message not sent"
s5="intl-5 $uniq"
run_smtpc d3 --from "sender@$D" --to "rcpt@$D" --notify SUCCESS \
    --envid 'test+1 id' --ret HDRS --subject "$s5" --text "$work/body.txt"
expect_rc d3 0 "(3) no DSN offered, --notify without --dsn-required"
size=$(sed -n 's/^C: MAIL FROM:.* SIZE=\([0-9]*\).*/\1/p' "$work/d3.err")
expect_envelope d3 "(3) no DSN offered: sent without RET/ENVID/NOTIFY/ORCPT" \
    "MAIL FROM:<sender@$D> SIZE=$size" "RCPT TO:<rcpt@$D>"
expect_err_line d3 "(3) no DSN offered" \
    "smtpc: note: the server does not offer DSN: sent without --notify/--ret/--envid (--dsn-required refuses instead)"
expected=$((expected + 1))
wait_files "$expected"
one_file "$s4" 0 "(3) --dsn-required message" || true
one_file "$s5" 1 "(3) message sent without DSN" || true

# ---------------------------------------------------------------- (2)
echo "# (2) Postfix with smtputf8_enable = no"
bash "$testbed" postconf "$pfx" "smtputf8_enable = no" "strict_smtputf8 = no" \
    "smtpd_discard_ehlo_keywords =" || die "postconf smtputf8_enable = no failed"
s6="intl-6 $uniq"
run_smtpc n1 --from "$JOSE@$D" --to "bob@$D" --subject "$s6" --text "$work/body.txt"
expect_rc n1 69 "(2) UTF-8 local part, no SMTPUTF8 offered"
if grep -qx 'S: 250-SMTPUTF8' "$work/n1.err"; then
    not_ok "(2) EHLO still offers SMTPUTF8"
else
    ok "(2) EHLO does not offer SMTPUTF8"
fi
expect_envelope n1 "(2) UTF-8 local part"
expect_err_line n1 "(2) UTF-8 local part" \
    "smtpc: message not sent: address or header is UTF-8 but the server does not offer SMTPUTF8; message not sent"
s7="intl-7 $uniq"
run_smtpc n2 --from "ascii@$D" --to "info@$ULABEL" --subject "$s7" --text "$work/body.txt"
expect_rc n2 0 "(2) IDN domain, ASCII local part"
size=$(sed -n 's/^C: MAIL FROM:.* SIZE=\([0-9]*\).*/\1/p' "$work/n2.err")
expect_envelope n2 "(2) IDN domain as A-label, no SMTPUTF8" \
    "MAIL FROM:<ascii@$D> SIZE=$size" "RCPT TO:<info@$ALABEL>"
expected=$((expected + 1))
wait_files "$expected"
one_file "$s6" 0 "(2) UTF-8 local part message" || true
if one_file "$s7" 1 "(2) IDN message"; then
    checker "(2) IDN message: To: info@$ALABEL, Delivered-To A-label, ASCII header section" \
        headers "${mfiles[0]}" --ascii-headers --line "To: info@$ALABEL" \
        --line "Delivered-To: info@$ALABEL" --addr "To=info@$ALABEL" \
        --received-with ESMTP
fi
have=$(nfiles)
if ((have == expected)); then
    ok "Postfix Maildir holds exactly $expected files"
else
    not_ok "Postfix Maildir holds $have files, expected $expected"
fi

# ================================================================ aiosmtpd
# start_sink DIR [--no-smtputf8]: sets sink_pid and port (bounded wait).
start_sink() {
    local dir=$1 n=0
    shift
    mkdir -p "$dir"
    "$SINK_PY" "$sink" "$dir" --lifetime 60 "$@" &
    sink_pid=$!
    while [[ ! -s $dir/port ]] && ((n++ < 100)) && kill -0 "$sink_pid" 2>/dev/null; do
        sleep 0.05
    done
    [[ -s $dir/port ]] || die "aiosmtpd sink did not start"
    port=$(<"$dir/port")
}
stop_sink() {
    kill "$sink_pid" 2>/dev/null || true
    wait "$sink_pid" 2>/dev/null || true
    sink_pid=
}
nrecorded() {
    local -a f
    shopt -s nullglob
    f=("$1"/*.json)
    shopt -u nullglob
    echo "${#f[@]}"
}

echo "# (4) aiosmtpd with SMTPUTF8"
A=$work/sink1
start_sink "$A"
# A prepared CRLF message: --dry-run prints it as it is, the server must get
# exactly these bytes.
printf 'From: %s@example.test\r\nTo: info@%s\r\nSubject: Gr\xc3\xbc\xc3\x9fe\r\nMessage-ID: <intl.%s@libsmtpc.test>\r\n\r\n.leading dot\r\nb\xc3\xb6dy\r\n' \
    "$JOSE" "$ULABEL" "$uniq" >"$work/a1.eml"
run_smtpc a1 --from "$JOSE@example.test" --to "info@$ULABEL" --message "$work/a1.eml"
expect_rc a1 0 "(4) aiosmtpd: UTF-8 local part and IDN domain, --message"
run_smtpc a1dry --dry-run --from "$JOSE@example.test" --to "info@$ULABEL" --message "$work/a1.eml"
expect_rc a1dry 0 "(4) --dry-run of the same message"
checker "(4) content received is byte-identical to --dry-run's output" \
    same "$A/1.eml" "$work/a1dry.out"
sz=$(stat -c %s "$work/a1.eml")
checker "(4) aiosmtpd recorded mail_options [SIZE=$sz, BODY=8BITMIME, SMTPUTF8], smtp_utf8 true, rcpt_options []" \
    json "$A/1.json" "mail_options=[\"SIZE=$sz\", \"BODY=8BITMIME\", \"SMTPUTF8\"]" \
    'smtp_utf8=true' 'rcpt_options=[]' \
    "mail_from=\"$JOSE@example.test\"" "rcpt_tos=[\"info@$ULABEL\"]"

# A built message: the same bytes as --dry-run's but for Date and Message-ID.
run_smtpc a2 --from "$JOSE@example.test" --to "info@$ULABEL" \
    --subject "$GRUESSE" --header "X-Intl: $MUELLER" --text "$work/body.txt"
expect_rc a2 0 "(4) aiosmtpd: built message"
run_smtpc a2dry --dry-run --from "$JOSE@example.test" --to "info@$ULABEL" \
    --subject "$GRUESSE" --header "X-Intl: $MUELLER" --text "$work/body.txt"
checker "(4) built message received as --dry-run prints it (Date, Message-ID aside)" \
    same "$A/2.eml" "$work/a2dry.out" --ignore Date,Message-ID
checker "(4) built message: From/To UTF-8 as given" \
    headers "$A/2.eml" --line "From: $JOSE@example.test" --line "To: info@$ULABEL"

# DSN: aiosmtpd does not offer it.
run_smtpc a3 --from "$JOSE@example.test" --to "info@$ULABEL" --notify SUCCESS \
    --envid 'test+1 id' --message "$work/a1.eml"
expect_rc a3 0 "(4) aiosmtpd: --notify without --dsn-required"
expect_err_line a3 "(4) aiosmtpd, no DSN" \
    "smtpc: note: the server does not offer DSN: sent without --notify/--ret/--envid (--dsn-required refuses instead)"
if grep -q '^C: .*\(NOTIFY=\|ORCPT=\|ENVID=\|RET=\)' "$work/a3.err"; then
    not_ok "(4) DSN parameters in the trace"
else
    ok "(4) no DSN parameter in the trace"
fi
checker "(4) aiosmtpd recorded rcpt_options [] and no DSN on MAIL" \
    json "$A/3.json" 'rcpt_options=[]' \
    "mail_options=[\"SIZE=$sz\", \"BODY=8BITMIME\", \"SMTPUTF8\"]"
run_smtpc a4 --from "$JOSE@example.test" --to "info@$ULABEL" --notify SUCCESS \
    --dsn-required --message "$work/a1.eml"
expect_rc a4 69 "(4) aiosmtpd: --dsn-required"
expect_envelope a4 "(4) aiosmtpd: --dsn-required"
if (($(nrecorded "$A") == 3)); then
    ok "(4) aiosmtpd recorded exactly 3 messages"
else
    not_ok "(4) aiosmtpd recorded $(nrecorded "$A") messages, expected 3"
fi
stop_sink

echo "# (4) aiosmtpd with enable_SMTPUTF8=False"
B=$work/sink2
start_sink "$B" --no-smtputf8
run_smtpc b1 --from "$JOSE@example.test" --to "bob@example.test" --message "$work/a1.eml"
expect_rc b1 69 "(4) aiosmtpd without SMTPUTF8: UTF-8 local part"
expect_envelope b1 "(4) aiosmtpd without SMTPUTF8: UTF-8 local part"
expect_err_line b1 "(4) aiosmtpd without SMTPUTF8" \
    "smtpc: message not sent: address or header is UTF-8 but the server does not offer SMTPUTF8; message not sent"
run_smtpc b2 --from "ascii@example.test" --to "info@$ULABEL" --text "$work/body.txt"
expect_rc b2 0 "(4) aiosmtpd without SMTPUTF8: IDN domain"
checker "(4) aiosmtpd without SMTPUTF8: A-label in the envelope and To:, no SMTPUTF8" \
    json "$B/1.json" "rcpt_tos=[\"info@$ALABEL\"]" 'smtp_utf8=false'
checker "(4) aiosmtpd without SMTPUTF8: To: info@$ALABEL, ASCII header section" \
    headers "$B/1.eml" --ascii-headers --line "To: info@$ALABEL"
if (($(nrecorded "$B") == 1)); then
    ok "(4) aiosmtpd without SMTPUTF8 recorded exactly 1 message"
else
    not_ok "(4) aiosmtpd without SMTPUTF8 recorded $(nrecorded "$B") messages, expected 1"
fi
stop_sink

echo "# interop_intl: $npass passed, $nfail failed in $((SECONDS - t_start)) s"
((nfail == 0))
