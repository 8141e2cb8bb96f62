#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# interop_bdat.sh -- CHUNKING / BDAT (RFC 3030) against a real Postfix
# (tests/postfix-testbed.sh on 127.0.0.1, which offers CHUNKING by default):
#   1. a 400,000-octet message in 64 KiB chunks: the exact BDAT lines, every
#      chunk accepted, the message delivered byte for byte;
#   2. three messages on one connection: each next RSET and MAIL leave with
#      the previous BDAT ... LAST (no round trip between messages), all
#      three delivered intact;
#   2b. ten 2,000-octet messages: all ten envelopes and their BDAT LAST
#      chunks leave in one flight (RSET before each but the first), all
#      delivered intact;
#   3. smtpc_send() with smtpc_client_config.bdat (tests/client_send);
#   3b. a binary message (smtpc --binary): Postfix offers CHUNKING but not
#      BINARYMIME, so no MAIL leaves and smtpc exits 69;
#   4. CHUNKING discarded from EHLO: the same message goes with DATA;
#   5. SIZE discarded and message_size_limit 200,000: Postfix refuses a
#      chunk with 552 and discards the rest with 551; no BDAT of that
#      message leaves after the 552 arrives, RSET precedes the next MAIL,
#      and the failure is reported (exit 69).
# TAP output; under CI=true a missing tool is a failure, not a skip.
set -euo pipefail

export PATH=$PATH:/usr/sbin:/sbin
export LC_ALL=C
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
TEST_NAME="the BDAT interop test"
# shellcheck source=tests/testlib.sh
. "$top_srcdir/tests/testlib.sh"
top_builddir=${top_builddir:-$top_srcdir}
testbed=$top_srcdir/tests/postfix-testbed.sh
SMTPC=$top_builddir/examples/smtpc
SEND=$top_builddir/tests/client_send
SMTPC_TIMEOUT=60 # seconds, hard bound on every client run
t_start=$SECONDS

need_postfix openssl timeout python3
[[ -x $SMTPC ]] || die "$SMTPC is not built"
[[ -x $SEND ]] || die "$SEND is not built"

work=$(mktemp -d /tmp/smtpc-bdat.XXXXXX)
chmod 0755 "$work" # Postfix daemons (postfix, nobody) traverse it
pfx=
cleanup() {
    local rc=$?
    pfx_teardown "$rc"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run NAME PROG ARGS...: bounded run, stdout and stderr in $work/NAME.*; $rc
run() {
    local name=$1
    shift
    rc=0
    timeout -k 5 "$SMTPC_TIMEOUT" "$@" >"$work/$name.out" 2>"$work/$name.err" ||
        rc=$?
}

# the client's lines of a trace: "C: MAIL ...", "C: BDAT ...", ...
client_lines() {
    sed -n 's/^C: //p' "$work/$1.err" | tr -d '\r'
}

check_lines() { # NAME WHAT EXPECTED-LINES
    local got
    got=$(client_lines "$1" | grep -vE '^(EHLO|QUIT)' || true)
    if [[ $got == "$3" ]]; then
        ok "$2"
    else
        not_ok "$2"
        diff <(echo "$3") <(echo "$got") | sed 's/^/#   /' | head -n 30
    fi
}

# check_chunks NAME WHAT TOTAL TXNS: the client's BDAT lines, per transaction,
# are chunks of 65534 to 65536 octets (the encoder leaves a chunk with up
# to two octets unused rather than split a line end) and a last one with
# LAST, adding up to TOTAL, in TXNS transactions; MAIL and RCPT exact; an
# RSET between transactions (each MAIL leaves before the previous LAST is
# answered, and RFC 3030 wants RSET after a failed BDAT).
check_chunks() {
    local name=$1 what=$2 total=$3 line sum=0 n=0 bad='' txns=0 rsets=0
    while read -r line; do
        case $line in
        "MAIL FROM:<a@$D> SIZE=$total") sum=0 n=0 txns=$((txns + 1)) ;;
        RSET) # before a MAIL that follows a LAST still unanswered
            ((txns > 0 && sum == total)) || bad="RSET inside a transaction"
            rsets=$((rsets + 1))
            ;;
        "RCPT TO:<b@$D>") ;;
        BDAT\ *\ LAST)
            line=${line#BDAT }
            sum=$((sum + ${line% LAST}))
            ((sum == total && n > 0)) || bad="LAST ends at $sum of $total after $n chunks"
            ;;
        BDAT\ *)
            line=${line#BDAT }
            ((line >= 65534 && line <= 65536)) || bad="a chunk of $line"
            sum=$((sum + line))
            n=$((n + 1))
            ;;
        *) bad="unexpected '$line'" ;;
        esac
    done < <(client_lines "$name" | grep -vE '^(EHLO|QUIT)')
    if [[ -z $bad ]] && ((txns == $4 && rsets == $4 - 1)); then
        ok "$what"
    else
        not_ok "$what: ${bad:-$txns transactions, $rsets RSET}"
        client_lines "$name" | sed 's/^/#   /' | head -n 20
    fi
}

# The Maildir file of the message whose header has this subject.
file_with_subject() {
    local f
    for f in "$maildir"/*; do
        [[ -e $f ]] || continue
        if sed '/^\r\{0,1\}$/q' "$f" | grep -qxF -- "Subject: $1"; then
            echo "$f"
        fi
    done
}

# same_message NAME FILE ORIGINAL: the delivered file, without the lines
# Postfix put in front of the message, equals the original (Postfix stores
# LF line ends).
same_message() {
    local skip
    skip=$(grep -n -m1 -xF -- "$(head -n1 "$3" | tr -d '\r')" "$2" | cut -d: -f1)
    if [[ -n $skip ]] && cmp -s <(tail -n +"$skip" "$2") <(tr -d '\r' <"$3"); then
        ok "$1: delivered byte for byte ($(wc -c <"$3") octets sent)"
    else
        not_ok "$1: the delivered message differs from what was sent"
    fi
}

start_postfix 24003 3000 4 2900 || die "could not start Postfix"
port=$PFX_PORT
maildir=$PFX_MAILDIR/new
D=$PFX_DOMAIN
uniq=$$.$RANDOM

# A message of exactly 400,000 octets (CRLF, 76-octet lines, a few lines
# starting with "." that BDAT must not stuff).
mkmsg() { # SIZE SUBJECT OUT
    python3 - "$@" <<'EOF'
import sys
size, subject, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
# Date and Message-ID given: Postfix adds them to a message without
head = ("From: a@example.test\r\nTo: b@example.test\r\nSubject: %s\r\n"
        "Date: Mon, 07 Dec 2026 12:00:00 +0000\r\n"
        "Message-ID: <%d.bdat@example.test>\r\n"
        "\r\n" % (subject, size)).encode()
body = bytearray()
i = 0
while len(head) + len(body) < size:
    line = (b"." if i % 7 == 0 else b"") + (b"%06d " % i) + b"x" * 60 + b"\r\n"
    body += line
    i += 1
msg = (head + bytes(body))[:size - 2] + b"\r\n"
open(out, "wb").write(msg)
EOF
}

# ---------------------------------------------------------------- (1)
echo "# (1) one 400,000-octet message in 64 KiB chunks"
mkmsg 400000 "bdat-1 $uniq" "$work/m1.eml"
run m1 "$SMTPC" --host 127.0.0.1 --port "$port" --timeout 20 --helo client.test \
    --trace --bdat --from "a@$D" --to "b@$D" --message "$work/m1.eml"
if ((rc == 0)); then ok "(1) exit 0"; else not_ok "(1) exit $rc"; sed 's/^/#   /' "$work/m1.err" | tail -n 20; fi
check_chunks m1 "(1) MAIL, RCPT, then full 64 KiB chunks and a LAST one, 400000 octets" \
    400000 1
n=$(client_lines m1 | grep -c '^BDAT ' || true)
if ((n == 7)); then ok "(1) 7 chunks"; else not_ok "(1) $n chunks, expected 7"; fi
n=$(grep -cE '^S: 250 2.0.0 Ok: 6553[456] bytes' "$work/m1.err" || true)
if ((n == 6)) && grep -q '^S: 250 2.0.0 Ok: 400000 bytes queued as ' "$work/m1.err"; then
    ok "(1) each chunk answered '250 2.0.0 Ok: <n> bytes', the LAST '400000 bytes queued'"
else
    not_ok "(1) chunk replies: $n of 6, $(grep -c 'queued as' "$work/m1.err" || true) final"
fi
bash "$testbed" wait-mail "$pfx" 1 20 >/dev/null 2>&1 || true
f=$(file_with_subject "bdat-1 $uniq")
if [[ -n $f ]]; then same_message "(1)" "$f" "$work/m1.eml"; else not_ok "(1) not delivered"; fi

# ---------------------------------------------------------------- (2)
echo "# (2) three messages on one connection"
mkmsg 100000 "bdat-2 $uniq" "$work/m2.eml"
run m2 "$SMTPC" --host 127.0.0.1 --port "$port" --timeout 20 --helo client.test \
    --trace --bdat --repeat 3 --from "a@$D" --to "b@$D" --message "$work/m2.eml"
if ((rc == 0)); then ok "(2) exit 0"; else not_ok "(2) exit $rc"; fi
check_chunks m2 "(2) three transactions, each a full chunk and a LAST one" \
    100000 3
# the next MAIL leaves before the LAST chunk's reply: one flight
order=$(grep -E '^(C: MAIL|C: BDAT [0-9]+ LAST|S: 250 2.0.0 Ok: 100000 bytes queued)' "$work/m2.err" |
    sed -E 's/^C: MAIL.*/M/; s/^C: BDAT.*/L/; s/^S: .*/Q/' | tr -d '\n')
if [[ $order == MLMQLMQLQ ]]; then
    ok "(2) each next MAIL went out before the previous message's final reply ($order)"
else
    not_ok "(2) order of MAIL (M), BDAT LAST (L), final reply (Q): $order"
fi
bash "$testbed" wait-mail "$pfx" 4 20 >/dev/null 2>&1 || true
mapfile -t files < <(file_with_subject "bdat-2 $uniq")
if ((${#files[@]} == 3)); then
    ok "(2) three messages delivered"
    for f in "${files[@]}"; do same_message "(2) $(basename "$f" | cut -c1-20)" "$f" "$work/m2.eml"; done
else
    not_ok "(2) ${#files[@]} messages delivered, expected 3"
fi

# ---------------------------------------------------------------- (2b)
echo "# (2b) ten small messages in one flight"
mkmsg 2000 "bdat-2b $uniq" "$work/m2b.eml"
run m2b "$SMTPC" --host 127.0.0.1 --port "$port" --timeout 20 --helo client.test \
    --trace --bdat --repeat 10 --from "a@$D" --to "b@$D" --message "$work/m2b.eml"
if ((rc == 0)); then ok "(2b) exit 0"; else not_ok "(2b) exit $rc"; fi
# every client line up to the first reply after EHLO: 10 x (MAIL, RCPT,
# BDAT 2000 LAST) with RSET before all but the first
flight=$(sed -n '/^S: 250 CHUNKING/,$p' "$work/m2b.err" | sed -n '2,/^S: /p' |
    grep '^C: ' | sed -E 's/^C: (MAIL|RCPT|RSET|BDAT 2000 LAST).*/\1/' | tr '\n' ' ')
want="MAIL RCPT BDAT 2000 LAST "
for _ in 2 3 4 5 6 7 8 9 10; do want+="RSET MAIL RCPT BDAT 2000 LAST "; done
if [[ $flight == "$want" ]]; then
    ok "(2b) all ten envelopes and their data left before the first reply"
else
    not_ok "(2b) first flight: $flight"
fi
n=$(grep -c '^S: 250 2.0.0 Ok: 2000 bytes queued as ' "$work/m2b.err" || true)
if ((n == 10)); then ok "(2b) ten '250 2.0.0 Ok: 2000 bytes queued'"; else not_ok "(2b) $n accepted"; fi
bash "$testbed" wait-mail "$pfx" 14 20 >/dev/null 2>&1 || true
mapfile -t files < <(file_with_subject "bdat-2b $uniq")
if ((${#files[@]} == 10)); then
    ok "(2b) ten messages delivered"
    same_message "(2b) the first" "${files[0]}" "$work/m2b.eml"
    same_message "(2b) the last" "${files[9]}" "$work/m2b.eml"
else
    not_ok "(2b) ${#files[@]} messages delivered, expected 10"
fi

# ---------------------------------------------------------------- (3)
echo "# (3) smtpc_send() with smtpc_client_config.bdat"
run m3 "$SEND" --host 127.0.0.1 --port "$port" --tls none --trace --bdat \
    --from "a@$D" --to "b@$D" --subject "bdat-3 $uniq" --text "hello over BDAT"
if ((rc == 0)) && grep -qE '^C: BDAT [0-9]+ LAST$' "$work/m3.err" &&
    ! grep -q '^C: DATA' "$work/m3.err" &&
    grep -q '^status=OK stage=done .*queued as' "$work/m3.out"; then
    ok "(3) smtpc_send: one BDAT ... LAST, no DATA, accepted"
else
    not_ok "(3) smtpc_send with bdat: exit $rc: $(cat "$work/m3.out")"
fi

# ---------------------------------------------------------------- (3b)
echo "# (3b) a binary message: Postfix does not offer BINARYMIME"
printf 'Subject: bdat-3b %s\r\n\r\n\000\001 binary\n.\n' "$uniq" >"$work/m3b.eml"
run m3b "$SMTPC" --host 127.0.0.1 --port "$port" --timeout 20 --helo client.test \
    --trace --binary --from "a@$D" --to "b@$D" --message "$work/m3b.eml"
if ((rc == 69)) && grep -q '^S: 250.CHUNKING' "$work/m3b.err" &&
    ! grep -qE '^C: (MAIL|BDAT|DATA)' "$work/m3b.err" && grep -q '^C: QUIT' "$work/m3b.err" &&
    grep -q 'BINARYMIME; message not sent' "$work/m3b.err"; then
    ok "(3b) exit 69 before MAIL, the error names BINARYMIME"
else
    not_ok "(3b) exit $rc"
    sed 's/^/#   /' "$work/m3b.err" | tail -n 20
fi

# ---------------------------------------------------------------- (4)
echo "# (4) CHUNKING not offered: DATA"
bash "$testbed" discard-ext "$pfx" "chunking" >/dev/null
run m4 "$SMTPC" --host 127.0.0.1 --port "$port" --timeout 20 --helo client.test \
    --trace --bdat --from "a@$D" --to "b@$D" --message "$work/m2.eml"
if ((rc == 0)) && ! grep -q '^S: 250.CHUNKING' "$work/m4.err"; then
    ok "(4) exit 0, CHUNKING not in EHLO"
else
    not_ok "(4) exit $rc"
fi
check_lines m4 "(4) DATA and the dot, no BDAT" \
    "MAIL FROM:<a@$D> SIZE=100000
RCPT TO:<b@$D>
DATA
."

# ---------------------------------------------------------------- (5)
echo "# (5) a chunk refused: 552, the rest discarded, RSET"
bash "$testbed" discard-ext "$pfx" "size" >/dev/null
bash "$testbed" postconf "$pfx" "message_size_limit = 200000" >/dev/null
run m5 "$SMTPC" --host 127.0.0.1 --port "$port" --timeout 20 --helo client.test \
    --trace --bdat --repeat 2 --from "a@$D" --to "b@$D" --message "$work/m1.eml"
if ((rc == 69)); then ok "(5) exit 69"; else not_ok "(5) exit $rc, expected 69"; fi
# once a transaction's 552 has arrived no chunk of it follows (the 552 of
# the k-th transaction: no BDAT after it unless a later MAIL went first),
# and the second MAIL leaves behind an RSET
after=$(awk '/^C: MAIL/ { m++; stop = 0 }
    /^S: 552 / { r++; if (r == m) stop = 1 }
    /^C: BDAT/ && stop { print; exit }' "$work/m5.err")
prev=$(grep '^C: ' "$work/m5.err" | grep -B1 '^C: MAIL' | sed -n 4p)
if grep -q '^S: 552 5.3.4 Chunk exceeds message size limit' "$work/m5.err" &&
    [[ -z $after && $prev == "C: RSET" ]]; then
    ok "(5) '552 5.3.4 Chunk exceeds message size limit', no chunk after it, RSET before the next MAIL"
else
    not_ok "(5) after the 552: '${after:-no BDAT}', before the 2nd MAIL: '$prev'"
fi
if grep -q '^S: 551 5.0.0 Discarded 65536 bytes after earlier error' "$work/m5.err"; then
    ok "(5) Postfix discarded the chunks in flight (551 5.0.0)"
else
    not_ok "(5) no 551 for the chunks in flight"
fi
n=$(grep -c '^C: MAIL' "$work/m5.err" || true)
if ((n == 2)) && grep -q '^smtpc: message 1: message data rejected: 552 5.3.4' "$work/m5.err"; then
    ok "(5) both messages tried on the connection, the refusal reported"
else
    not_ok "(5) $n MAIL commands; stderr: $(grep -v '^[CS*]: ' "$work/m5.err" | head -n 3 | tr '\n' '|')"
fi

echo "# interop_bdat: $npass passed, $nfail failed in $((SECONDS - t_start)) s"
echo "1..$((npass + nfail))"
((nfail == 0))
