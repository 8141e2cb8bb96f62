#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# interop_tls.sh -- TLS and AUTH of the built smtpc CLI, against a real
# Postfix (tests/postfix-testbed.sh) and a scripted server
# (tests/fake_smtpd.py) for what a real MTA cannot produce.
#
# Postfix (one throwaway instance, 127.0.0.1, free high ports):
#   - STARTTLS + AUTH PLAIN / LOGIN / CRAM-MD5, relayed to carol@elsewhere.test
#     (which needs AUTH): exit 0, delivered, Received: shows TLS and
#     "Authenticated sender", the maillog shows the mechanism
#   - implicit TLS (wrappermode port) + the three mechanisms, the same
#   - --tls try: upgrades where STARTTLS is offered, clear text where not
#   - wrong password: 77 naming AUTH and the 535; AUTH without TLS: 78 and no
#     AUTH on the wire, delivered with --allow-plaintext-auth; --tls starttls
#     without STARTTLS offered: 78, no MAIL/AUTH (with and without --user);
#     no --cafile (system bundle does not know the test CA), STARTTLS and
#     implicit: 76, and Postfix's log of that connection shows no MAIL
#   - TLS session resumption (tests/client_send: smtpc_verify x3 sharing a
#     smtpc_tls_cache, STARTTLS and implicit): the connections the client
#     calls resumed are exactly those Postfix logged as "Reusing old
#     session" (smtpd_tls_loglevel = 2); without a cache, none
#   Where a failure must keep commands off the wire, both the client's
#   --trace and Postfix's "disconnect from ... ehlo=1 mail=1 ..." statistics
#   are checked.
# fake_smtpd.py (certificates made here with openssl):
#   - self-signed, wrong host, expired: 76 with the reason, nothing sent after
#     the handshake (also with --tls try: no fallback to clear text); a good
#     certificate from the test CA as a control; --insecure with the
#     self-signed one goes through
#   - implicit TLS with a self-signed certificate: 76, nothing sent
#   - STARTTLS response injection: 76, nothing sent after "STARTTLS"
#   - malformed 334 challenge: 76, the client cancels with "*"
#   - STARTTLS not offered: 78 with --tls starttls (with and without --user),
#     clear text with --tls try
#
# Skips (77) when not root or Postfix is missing -- except with CI=true,
# where a skip is a failure.  Only ever listens on 127.0.0.1.
set -u -o pipefail

export PATH=$PATH:/usr/sbin:/sbin
export LC_ALL=C
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
TEST_NAME="the TLS interop test"
# shellcheck source=tests/testlib.sh
. "$top_srcdir/tests/testlib.sh"
top_builddir=${top_builddir:-$top_srcdir}
testbed=$top_srcdir/tests/postfix-testbed.sh
fake=$top_srcdir/tests/fake_smtpd.py
SMTPC=$top_builddir/examples/smtpc
SMTPC_TIMEOUT=30 # seconds, hard bound on every smtpc run
t_start=$SECONDS

need_postfix
for c in openssl python3 timeout; do
    command -v "$c" >/dev/null || die "$c is needed (Debian: openssl python3 coreutils)"
done
[[ -x $SMTPC ]] || die "$SMTPC is not built"
[[ -r $fake ]] || die "$fake is missing"
# Resolve the interpreter once: a pyenv shim costs about 1 s per start.
PY=$(python3 -c 'import ssl, sys; print(sys.executable)' 2>/dev/null) ||
    die "python3 with the ssl module is needed"

# check COND-STATUS DESCRIPTION: ok when the previous command succeeded.
check() {
    if (($1 == 0)); then ok "$2"; else not_ok "$2"; fi
}

work=$(mktemp -d /tmp/smtpc-tls.XXXXXX) || die "mktemp failed"
chmod 0755 "$work" # Postfix daemons (postfix, nobody) traverse it
pfx=
fake_pid=
cleanup() {
    local rc=$?
    if [[ -n $fake_pid ]]; then
        kill "$fake_pid" 2>/dev/null || true
        wait "$fake_pid" 2>/dev/null || true
    fi
    if [[ -n $pfx ]]; then
        if ((rc != 0 || nfail > 0)); then
            echo "# --- tail of $pfx/maillog"
            tail -n 25 "$pfx/maillog" 2>/dev/null | sed 's/^/#   /' || true
        fi
        bash "$testbed" stop "$pfx" || true
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM



# ---------------------------------------------------------- certificates
# For fake_smtpd.py: a test CA, a good certificate, one for the wrong host,
# an expired one (openssl ca with explicit dates; OpenSSL 3.0's x509 cannot
# backdate) and a self-signed one.  EC P-256 keys: fast to make.
echo "# making certificates"
certs=$work/certs
mkdir -p "$certs/newcerts" || die "mkdir failed"
: >"$certs/index.txt"
echo 1000 >"$certs/serial"
cat >"$certs/ca.cnf" <<EOF
[ ca ]
default_ca = testca
[ testca ]
dir = $certs
database = $certs/index.txt
new_certs_dir = $certs/newcerts
serial = $certs/serial
certificate = $certs/ca.crt
private_key = $certs/ca.key
default_md = sha256
policy = pol
unique_subject = no
copy_extensions = none
x509_extensions = srv_ext
[ pol ]
commonName = supplied
[ srv_ext ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
if ! (
    set -e
    cd "$certs"
    ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=libsmtpc TLS test CA" \
        -keyout ca.key -out ca.crt \
        -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign
    # One server key for every server certificate.
    openssl req "${ec[@]}" -subj "/CN=localhost" -keyout srv.key -out localhost.csr
    openssl req -new -key srv.key -subj "/CN=wrong.example" -out wrong.csr
    printf '%s\n' 'basicConstraints=CA:FALSE' \
        'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth' \
        'subjectAltName=DNS:localhost,IP:127.0.0.1' >good.ext
    printf '%s\n' 'basicConstraints=CA:FALSE' \
        'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth' \
        'subjectAltName=DNS:wrong.example' >wrong.ext
    openssl x509 -req -in localhost.csr -CA ca.crt -CAkey ca.key \
        -CAcreateserial -days 2 -extfile good.ext -out good.crt
    openssl x509 -req -in wrong.csr -CA ca.crt -CAkey ca.key \
        -CAcreateserial -days 2 -extfile wrong.ext -out wrong.crt
    openssl ca -batch -config ca.cnf -notext -in localhost.csr -out expired.crt \
        -startdate 20200101000000Z -enddate 20200102000000Z
    openssl req -x509 -key srv.key -days 2 -subj "/CN=localhost" \
        -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -out selfsigned.crt
    openssl verify -CAfile ca.crt good.crt wrong.crt
    ! openssl verify -CAfile ca.crt expired.crt
    ! openssl verify -CAfile ca.crt selfsigned.crt
) </dev/null >"$work/openssl.log" 2>&1; then
    sed 's/^/#   /' "$work/openssl.log"
    die "certificate generation failed"
fi
CA=$certs/ca.crt
KEY=$certs/srv.key

# ---------------------------------------------------------------- Postfix up
start_postfix 10000 3300 3 || die "could not start Postfix"
maildir=$PFX_MAILDIR/new
D=$PFX_DOMAIN
export SMTPC_TEST_PASS=$PFX_PASS
export SMTPC_BAD_PASS="not the $PFX_PASS"
expected_files=0
uniq=$$.$RANDOM
now=$(date -R)

# ---------------------------------------------------------------- helpers

# run_smtpc NAME ARGS...: runs the CLI (bounded) with --trace, keeps its
# stderr in $work/NAME.err, sets $rc.
run_smtpc() {
    local name=$1
    shift
    rc=0
    timeout -k 2 "$SMTPC_TIMEOUT" "$SMTPC" --timeout 10 --trace "$@" \
        >"$work/$name.out" 2>"$work/$name.err" </dev/null || rc=$?
    if ((rc == 124 || rc == 137)); then
        echo "# smtpc ($name) did not finish within ${SMTPC_TIMEOUT} s"
    fi
}

show_err() {
    sed 's/^/#   /' "$work/$1.err" | head -n "${2:-40}"
}

expect_rc() { # NAME WANT WHAT
    if ((rc == $2)); then
        ok "$3: exit $rc"
    else
        not_ok "$3: exit $rc, expected $2"
        show_err "$1"
    fi
}

# trace_has NAME ERE: a line of the trace of NAME matches.
trace_has() {
    grep -qE -- "$2" "$work/$1.err"
}

# write_msg ID > file
write_msg() {
    printf 'From: libsmtpc TLS test <sender@%s>\n' "$D"
    printf 'To: carol@elsewhere.test\n'
    printf 'Subject: libsmtpc interop_tls %s\n' "$1"
    printf 'Date: %s\n' "$now"
    printf 'Message-ID: <%s>\n' "$1"
    printf '\nTLS interop test message %s.\n' "$1"
}

msgid() { # TAG
    echo "tls-$1.$uniq@libsmtpc.test"
}

nfiles() {
    local -a f
    shopt -s nullglob
    f=("$maildir"/*)
    shopt -u nullglob
    echo "${#f[@]}"
}

file_with_id() {
    grep -lF -- "Message-ID: <$1>" "$maildir"/* 2>/dev/null | head -n 1
}

# Unfolded header lines of a message file.
headers() {
    awk '/^\r?$/ { exit }
         /^[ \t]/ { sub(/^[ \t]+/, " "); h = h $0; next }
         { if (h != "") print h; h = $0 }
         END { if (h != "") print h }' "$1"
}

# The Received: header Postfix added (the first one).
top_received() {
    headers "$1" | grep -m1 '^Received:'
}

# Postfix queue id of the message with Message-ID $1 (from the maillog).
queue_id() {
    grep -F -- "message-id=<$1>" "$pfx/maillog" | grep 'postfix/cleanup\[' |
        sed -n 's/.*: \([0-9A-F]\{6,\}\): message-id=.*/\1/p' | head -n 1
}

# Waits (bounded, 3 s) until the maillog has a line matching ERE $1.
wait_log() {
    local i
    for ((i = 0; i < 60; i++)); do
        grep -qE -- "$1" "$pfx/maillog" && return 0
        sleep 0.05
    done
    return 1
}

wait_mail() { # N
    if bash "$testbed" wait-mail "$pfx" "$1" 15 2>"$work/wait.err"; then
        ok "Maildir holds $1 file(s)"
    else
        not_ok "Maildir holds $(nfiles) file(s), expected $1 within 15 s"
        sed 's/^/#   /' "$work/wait.err"
    fi
}

# check_delivered ID RCPT TLS(yes|no) AUTHMECH(-|MECH) WHAT
check_delivered() {
    local id=$1 rcpt=$2 tls=$3 mech=$4 what=$5 f rcv qid
    f=$(file_with_id "$id")
    if [[ -z $f ]]; then
        not_ok "$what: <$id> not in the Maildir"
        return
    fi
    ok "$what: <$id> delivered"
    if [[ $(headers "$f" | sed -n 's/^Delivered-To: //p' | head -n 1) == "$rcpt" ]]; then
        ok "$what: Delivered-To: $rcpt"
    else
        not_ok "$what: Delivered-To is not $rcpt"
        headers "$f" | sed 's/^/#   /'
    fi
    rcv=$(top_received "$f")
    if [[ $tls == yes ]]; then
        [[ $rcv == *"(using TLSv1."* ]]
        check $? "$what: Received: shows TLS ($(grep -o 'using TLSv1\.[0-9]' <<<"$rcv"))"
    else
        [[ $rcv != *"using TLS"* ]]
        check $? "$what: Received: shows no TLS"
    fi
    if [[ $mech != - ]]; then
        [[ $rcv == *"(Authenticated sender: $PFX_USER"* ]] && grep -qE 'with ESMTPS?A ' <<<"$rcv"
        check $? "$what: Received: shows \"Authenticated sender: $PFX_USER\" and ESMTP(S)A"
        qid=$(queue_id "$id")
        if [[ -n $qid ]] && wait_log "postfix/([a-z]+/)?smtpd\[[0-9]+\]: $qid: client=.*, sasl_method=$mech, sasl_username=$PFX_USER"; then
            ok "$what: maillog: $qid sasl_method=$mech"
        else
            not_ok "$what: maillog has no sasl_method=$mech for <$id> (queue id '${qid}')"
            [[ -n $qid ]] && grep -F "$qid" "$pfx/maillog" | sed 's/^/#   /'
        fi
    else
        [[ $rcv != *"Authenticated sender"* ]]
        check $? "$what: Received: shows no authenticated sender"
    fi
    [[ -n $rcv ]] || headers "$f" | sed 's/^/#   /'
}

# No line of the trace of NAME is a command in $2 (ERE of verbs).
no_cmd() { # NAME VERBS WHAT
    if grep -qE "^C: ($2)( |$)" "$work/$1.err"; then
        not_ok "$3: the client sent $(grep -E "^C: ($2)( |$)" "$work/$1.err" | head -n 1 | cut -c4-)"
    else
        ok "$3: no $2 command sent"
    fi
}

# pfx_mark: remembers where the maillog ends.  pfx_conn: the maillog lines
# of the first connection after the mark (its smtpd process), once its
# "disconnect from" line is there (bounded wait); fails without one.
pfx_mark() {
    mark=$(wc -l <"$pfx/maillog")
}
pfx_conn() {
    local seg='' pid i
    for ((i = 0; i < 60; i++)); do
        seg=$(tail -n +"$((mark + 1))" "$pfx/maillog")
        grep -q 'disconnect from' <<<"$seg" && break
        sleep 0.05
    done
    grep -q 'disconnect from' <<<"$seg" || return 1
    pid=$(grep -m1 'disconnect from' <<<"$seg" | grep -o 'smtpd\[[0-9]*\]')
    grep -F -- "$pid" <<<"$seg"
}
# server_saw_no VERBS WHAT: Postfix's "disconnect from ... ehlo=1 mail=1 ..."
# statistics of that connection count none of VERBS (lower case, ERE), and
# no queue file was created (no "client=" line).
server_saw_no() {
    local conn disc
    if ! conn=$(pfx_conn); then
        not_ok "$2: no disconnect line in the maillog"
        return
    fi
    disc=$(grep -m1 -o 'disconnect from.*' <<<"$conn")
    if grep -qE " ($1)=" <<<"$disc" || grep -q ': client=' <<<"$conn"; then
        not_ok "$2: Postfix saw: $disc"
        sed 's/^/#   /' <<<"$conn"
    else
        ok "$2: Postfix saw no ${1//|/, } (${disc#disconnect from })"
    fi
}

declare -a deliveries=()

# ============================================================ Postfix checks
P=$PFX_PORT
S=$PFX_SMTPS_PORT
A=$PFX_AUTHPLAIN_PORT
auth_args=(--user "$PFX_USER" --password-env SMTPC_TEST_PASS)
from=sender@$D
carol=carol@elsewhere.test

echo "# Postfix: STARTTLS + AUTH, relayed to $carol"
for mech in PLAIN LOGIN CRAM-MD5; do
    id=$(msgid "starttls-$mech")
    write_msg "$id" >"$work/m.$id"
    run_smtpc "st-$mech" --host 127.0.0.1 --port "$P" --tls starttls --cafile "$PFX_CAFILE" \
        "${auth_args[@]}" --auth "$mech" --from "$from" --to "$carol" --message "$work/m.$id"
    expect_rc "st-$mech" 0 "STARTTLS + AUTH $mech"
    awk '/^C: STARTTLS$/ { s = NR } /^C: AUTH / { a = NR; m = $3 } END { exit !(s && a > s && m == "'"$mech"'") }' \
        "$work/st-$mech.err"
    check $? "STARTTLS + AUTH $mech: trace shows STARTTLS, then AUTH $mech"
    ! grep -qF -- "$PFX_PASS" "$work/st-$mech.err"
    check $? "STARTTLS + AUTH $mech: the password is not in the trace"
    deliveries+=("$id|$carol|yes|$mech|STARTTLS + AUTH $mech")
done

echo "# Postfix: implicit TLS (port $S) + AUTH, relayed to $carol"
for mech in PLAIN LOGIN CRAM-MD5; do
    id=$(msgid "implicit-$mech")
    write_msg "$id" >"$work/m.$id"
    run_smtpc "im-$mech" --host localhost --port "$S" --tls implicit --cafile "$PFX_CAFILE" \
        "${auth_args[@]}" --auth "$mech" --from "$from" --to "$carol" --message "$work/m.$id"
    expect_rc "im-$mech" 0 "implicit TLS + AUTH $mech"
    trace_has "im-$mech" "^C: AUTH $mech( |$)" && ! trace_has "im-$mech" '^C: STARTTLS'
    check $? "implicit TLS + AUTH $mech: trace shows AUTH $mech and no STARTTLS"
    deliveries+=("$id|$carol|yes|$mech|implicit TLS + AUTH $mech")
done

echo "# Postfix: --tls try"
id=$(msgid try-upgrade)
write_msg "$id" >"$work/m.$id"
run_smtpc try-up --host 127.0.0.1 --port "$P" --tls try --cafile "$PFX_CAFILE" \
    --from "$from" --to "dave@$D" --message "$work/m.$id"
expect_rc try-up 0 "--tls try, STARTTLS offered"
trace_has try-up '^C: STARTTLS$' && trace_has try-up 'TLS handshake complete'
check $? "--tls try, STARTTLS offered: upgraded (STARTTLS + handshake in the trace)"
deliveries+=("$id|dave@$D|yes|-|--tls try (offered)")

id=$(msgid try-clear)
write_msg "$id" >"$work/m.$id"
run_smtpc try-clear --host 127.0.0.1 --port "$A" --tls try --cafile "$PFX_CAFILE" \
    --from "$from" --to "dave@$D" --message "$work/m.$id"
expect_rc try-clear 0 "--tls try, STARTTLS not offered"
no_cmd try-clear STARTTLS "--tls try, STARTTLS not offered"
trace_has try-clear '^C: MAIL FROM:'
check $? "--tls try, STARTTLS not offered: sent in clear (MAIL in the trace)"
deliveries+=("$id|dave@$D|no|-|--tls try (not offered)")

echo "# Postfix: AUTH without TLS"
id=$(msgid plain-refused)
write_msg "$id" >"$work/m.$id"
pfx_mark
run_smtpc ap-refused --host 127.0.0.1 --port "$A" "${auth_args[@]}" --auth PLAIN \
    --from "$from" --to "$carol" --message "$work/m.$id"
expect_rc ap-refused 78 "AUTH PLAIN offered without TLS, no --allow-plaintext-auth"
no_cmd ap-refused 'AUTH|MAIL' "AUTH PLAIN without TLS, not allowed"
grep -q 'AUTH' "$work/ap-refused.err"
check $? "AUTH PLAIN without TLS, not allowed: stderr names AUTH"
server_saw_no 'auth|mail' "AUTH PLAIN without TLS, not allowed"

pfx_mark
run_smtpc ap-refused-auto --host 127.0.0.1 --port "$A" "${auth_args[@]}" \
    --from "$from" --to "$carol" --message "$work/m.$id"
expect_rc ap-refused-auto 78 "AUTH (default mechanism) without TLS, not allowed"
no_cmd ap-refused-auto 'AUTH|MAIL' "AUTH (default mechanism) without TLS, not allowed"
server_saw_no 'auth|mail' "AUTH (default mechanism) without TLS, not allowed"

id=$(msgid plain-allowed)
write_msg "$id" >"$work/m.$id"
run_smtpc ap-allowed --host 127.0.0.1 --port "$A" "${auth_args[@]}" --allow-plaintext-auth \
    --from "$from" --to "$carol" --message "$work/m.$id"
expect_rc ap-allowed 0 "AUTH without TLS with --allow-plaintext-auth"
trace_has ap-allowed '^C: AUTH CRAM-MD5( |$)'
check $? "AUTH without TLS, default mechanism: CRAM-MD5 chosen (preferred of PLAIN LOGIN CRAM-MD5)"
deliveries+=("$id|$carol|no|CRAM-MD5|AUTH without TLS, allowed")

echo "# Postfix: failures"
for mech in PLAIN LOGIN CRAM-MD5; do
    id=$(msgid "badpass-$mech")
    write_msg "$id" >"$work/m.$id"
    pfx_mark
    run_smtpc "bad-$mech" --host 127.0.0.1 --port "$P" --tls starttls --cafile "$PFX_CAFILE" \
        --user "$PFX_USER" --password-env SMTPC_BAD_PASS --auth "$mech" \
        --from "$from" --to "$carol" --message "$work/m.$id"
    expect_rc "bad-$mech" 77 "wrong password, AUTH $mech"
    grep -v '^[SC*]: ' "$work/bad-$mech.err" | grep 'AUTH' | grep -q '535'
    check $? "wrong password, AUTH $mech: the error message names AUTH and the 535 reply"
    no_cmd "bad-$mech" MAIL "wrong password, AUTH $mech"
    server_saw_no 'mail|rcpt|data' "wrong password, AUTH $mech"
done
grep -v '^[SC*]: ' "$work/bad-PLAIN.err" | sed 's/^/#   message: /'

id=$(msgid starttls-missing)
write_msg "$id" >"$work/m.$id"
pfx_mark
run_smtpc st-missing --host 127.0.0.1 --port "$A" --tls starttls --cafile "$PFX_CAFILE" \
    "${auth_args[@]}" --from "$from" --to "$carol" --message "$work/m.$id"
expect_rc st-missing 78 "--tls starttls, server does not offer STARTTLS"
no_cmd st-missing 'MAIL|AUTH|STARTTLS' "--tls starttls, STARTTLS not offered"
server_saw_no 'mail|auth|starttls|rcpt' "--tls starttls, STARTTLS not offered"
grep -v '^[SC*]: ' "$work/st-missing.err" | grep -q 'STARTTLS'
check $? "--tls starttls, STARTTLS not offered: the message names STARTTLS"
# Without credentials only the TLS policy can stop the mail.
pfx_mark
run_smtpc st-missing-noauth --host 127.0.0.1 --port "$A" --tls starttls --cafile "$PFX_CAFILE" \
    --from "$from" --to "dave@$D" --message "$work/m.$id"
expect_rc st-missing-noauth 78 "--tls starttls, STARTTLS not offered, no --user"
no_cmd st-missing-noauth 'MAIL|STARTTLS' "--tls starttls, STARTTLS not offered, no --user"
server_saw_no 'mail|starttls|rcpt' "--tls starttls, STARTTLS not offered, no --user"
grep -v '^[SC*]: ' "$work/st-missing.err" | sed 's/^/#   message: /'

# No --cafile: the system bundle does not know the test CA.
nocafile() { # NAME PORT MODE
    local name=$1 port=$2 mode=$3 from_nc=nocafile-$1.$uniq@$D
    pfx_mark
    run_smtpc "$name" --host 127.0.0.1 --port "$port" --tls "$mode" \
        "${auth_args[@]}" --from "$from_nc" --to "$carol" --message "$work/m.$id"
    expect_rc "$name" 76 "--tls $mode without --cafile (test CA unknown)"
    grep -v '^[SC*]: ' "$work/$name.err" | grep -qiE 'not (issued by )?a trusted CA|not trusted|unknown CA'
    check $? "--tls $mode without --cafile: message says the CA is not trusted"
    grep -v '^[SC*]: ' "$work/$name.err" | sed 's/^/#   message: /'
    no_cmd "$name" 'MAIL|AUTH|RCPT' "--tls $mode without --cafile"
    server_saw_no 'mail|auth|rcpt|data' "--tls $mode without --cafile"
    ! grep -qF -- "$from_nc" "$pfx/maillog"
    check $? "--tls $mode without --cafile: the sender address is nowhere in the maillog"
}
id=$(msgid nocafile)
write_msg "$id" >"$work/m.$id"
nocafile nocafile-st "$P" starttls
nocafile nocafile-im "$S" implicit

echo "# Postfix: deliveries"
expected_files=${#deliveries[@]}
wait_mail "$expected_files"
for d in "${deliveries[@]}"; do
    IFS='|' read -r id rcpt tls mech what <<<"$d"
    check_delivered "$id" "$rcpt" "$tls" "$mech" "$what"
done
for tag in plain-refused starttls-missing nocafile badpass-PLAIN badpass-LOGIN badpass-CRAM-MD5; do
    if [[ -n $(file_with_id "$(msgid "$tag")") ]]; then
        not_ok "message of the failed run '$tag' was delivered"
    fi
done
have=$(nfiles)
((have == expected_files))
check $? "Maildir holds exactly $expected_files files (nothing from the failed runs)"

# ------------------------------------------------- resumption, as Postfix sees it
# tests/client_send --verify --repeat 3: three smtpc_verify() calls sharing
# one smtpc_tls_cache.  What the client calls "(resumed)" must be what
# Postfix did: with smtpd_tls_loglevel = 2 it logs "Reusing old session"
# for each connection that resumed (TLS 1.2 and 1.3 tickets alike).  Without
# a cache (separate processes) neither side may claim a resumption.
echo "# Postfix: TLS session resumption, client's and server's view"
SEND=$top_builddir/tests/client_send
# postfix_tls_log WHAT: the count of maillog lines containing WHAT.
postfix_tls_log() {
    grep -cF -- "$1" "$pfx/maillog" || true
}
# wait_established N: until Postfix logged N TLS connections (5 s at most;
# its log is written by postlogd, a little after the fact).
wait_established() {
    local i
    for ((i = 0; i < 100; i++)); do
        (($(postfix_tls_log 'TLS connection established') >= $1)) && return 0
        sleep 0.05
    done
    return 1
}
# resumption_run NAME N EXPECT ARGS...: runs client_send ARGS (N sessions),
# then checks that all N verified, EXPECT were claimed resumed, and Postfix
# logged as many reuses.
resumption_run() {
    local name=$1 want=$2 expect=$3 e0 r0 out claimed reused n
    shift 3
    e0=$(postfix_tls_log 'TLS connection established')
    r0=$(postfix_tls_log 'Reusing old session')
    out=$(timeout -k 2 "$SMTPC_TIMEOUT" "$SEND" --verify --host 127.0.0.1 \
        --cafile "$CA_PFX" --user "$PFX_USER" --password-env SMTPC_TEST_PASS \
        --auth plain "$@" 2>&1)
    n=$(grep -c '^status=OK ' <<<"$out" || true)
    claimed=$(grep -c ' (resumed), ' <<<"$out" || true)
    wait_established $((e0 + n)) || echo "# Postfix did not log $n connections in time"
    reused=$(($(postfix_tls_log 'Reusing old session') - r0))
    [[ $n == "$want" && $claimed == "$expect" && $reused == "$expect" ]]
    check $? "$name: the client says $claimed of $n resumed, Postfix reused $reused ($(tr '\n' '|' <<<"$out"))"
}
if [[ ! -x $SEND ]]; then
    not_ok "resumption: $SEND is not built"
else
    CA_PFX=$PFX_CAFILE
    postconf -c "$pfx/etc" -e smtpd_tls_loglevel=2 &&
        touch -d '1 minute ago' "$pfx/etc/main.cf"
    reloads=$(postfix_tls_log 'postfix/master')
    postfix -c "$pfx/etc" reload </dev/null >/dev/null 2>&1
    for ((i = 0; i < 100; i++)); do
        (($(postfix_tls_log 'postfix/master') > reloads)) && break
        sleep 0.05
    done
    sleep 0.2 # smtpd processes started before the reload finish first
    resumption_run "STARTTLS, one cache, 3 sessions" 3 2 --repeat 3 --port "$P" --tls starttls
    resumption_run "implicit TLS, one cache, 3 sessions" 3 2 --repeat 3 --port "$S" --tls implicit
    for i in 1 2; do
        resumption_run "STARTTLS, no cache (process $i)" 1 0 --port "$P" --tls starttls
    done
fi

# ============================================================ fake server checks
# start_fake NAME MODE [CERT KEY]: sets fake_port, fake_pid; log in
# $work/NAME.log (bytes from the client), events in $work/NAME.ev.
start_fake() {
    local name=$1 i
    shift
    : >"$work/$name.log"
    timeout -k 2 30 "$PY" "$fake" "$@" --log "$work/$name.log" --timeout 20 \
        >"$work/$name.port" 2>"$work/$name.ev" &
    fake_pid=$!
    fake_port=
    for ((i = 0; i < 200; i++)); do
        fake_port=$(head -n 1 "$work/$name.port" 2>/dev/null)
        [[ $fake_port =~ ^[0-9]+$ ]] && return 0
        kill -0 "$fake_pid" 2>/dev/null || break
        sleep 0.025
    done
    echo "# fake_smtpd $* did not start:"
    sed 's/^/#   /' "$work/$name.ev"
    return 1
}
# stop_fake: waits (bounded by timeout(1) above) for the server to finish.
stop_fake() {
    [[ -n $fake_pid ]] && wait "$fake_pid" 2>/dev/null
    fake_pid=
}

# Bytes the client sent after its first "STARTTLS\r\n" (printable form).
after_starttls() {
    "$PY" - "$1" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
i = d.find(b"STARTTLS\r\n")
sys.stdout.write(repr(d[i + 10:]) if i >= 0 else "NO-STARTTLS")
EOF
}

# fake_cert_fail NAME CERT WHAT ERE [TLSMODE]: STARTTLS with CERT must fail
# with 76, a message matching ERE, and nothing after the handshake.
fake_cert_fail() {
    local name=$1 cert=$2 what=$3 ere=$4 mode=${5:-starttls} rest
    if ! start_fake "$name" starttls-cert "$cert" "$KEY"; then
        not_ok "$what: fake server did not start"
        return
    fi
    run_smtpc "$name" --host 127.0.0.1 --port "$fake_port" --tls "$mode" --cafile "$CA" \
        "${auth_args[@]}" --auth PLAIN --from "$from" --to "$carol" --message "$work/m.fake"
    stop_fake
    expect_rc "$name" 76 "$what"
    grep -v '^[SC*]: ' "$work/$name.err" | grep -qiE -- "$ere"
    check $? "$what: message matches /$ere/"
    grep -v '^[SC*]: ' "$work/$name.err" | sed 's/^/#   message: /'
    rest=$(after_starttls "$work/$name.log")
    if [[ $rest == "b''" ]]; then
        ok "$what: nothing sent after STARTTLS (no MAIL, RCPT, AUTH)"
    else
        not_ok "$what: after STARTTLS the client sent: ${rest:0:300}"
    fi
    if grep -q 'TLS handshake ok' "$work/$name.ev"; then
        not_ok "$what: the client completed the handshake"
    else
        ok "$what: the client aborted the handshake"
    fi
}

from=sender@example.test
carol=carol@elsewhere.test
write_msg "$(msgid fake)" >"$work/m.fake"

echo "# fake server: certificates (--tls starttls --cafile testCA)"
# Control: a good certificate from the test CA goes through.
if start_fake good starttls-cert "$certs/good.crt" "$KEY"; then
    run_smtpc good --host 127.0.0.1 --port "$fake_port" --tls starttls --cafile "$CA" \
        "${auth_args[@]}" --auth PLAIN --from "$from" --to "$carol" --message "$work/m.fake"
    stop_fake
    expect_rc good 0 "control: certificate from the test CA"
    rest=$(after_starttls "$work/good.log")
    [[ $rest == *"AUTH PLAIN "*"MAIL FROM:<$from>"*"RCPT TO:<$carol>"*"Message-ID: <$(msgid fake)>"* ]]
    check $? "control: AUTH, MAIL, RCPT and the message went over TLS"
else
    not_ok "control: fake server did not start"
fi
fake_cert_fail selfsigned "$certs/selfsigned.crt" "self-signed certificate" \
    'not (issued by )?a trusted CA|not trusted|unknown CA|self-signed'
fake_cert_fail wronghost "$certs/wrong.crt" "certificate for wrong.example" \
    'wrong\.example.*127\.0\.0\.1|127\.0\.0\.1.*wrong\.example'
fake_cert_fail expired "$certs/expired.crt" "expired certificate" 'expired'
# --tls try: a failed handshake must not fall back to clear text.
fake_cert_fail try-selfsigned "$certs/selfsigned.crt" "--tls try, self-signed certificate" \
    'not (issued by )?a trusted CA|not trusted|unknown CA|self-signed' try

echo "# fake server: --insecure"
if start_fake insecure starttls-cert "$certs/selfsigned.crt" "$KEY"; then
    run_smtpc insecure --host 127.0.0.1 --port "$fake_port" --tls starttls --insecure \
        --from "$from" --to "$carol" --message "$work/m.fake"
    stop_fake
    expect_rc insecure 0 "--insecure with the self-signed certificate"
    rest=$(after_starttls "$work/insecure.log")
    [[ $rest == *"MAIL FROM:<$from>"*"RCPT TO:<$carol>"*"DATA"*"Message-ID: <$(msgid fake)>"* ]]
    check $? "--insecure: MAIL, RCPT, DATA and the message went over TLS"
else
    not_ok "--insecure: fake server did not start"
fi

echo "# fake server: implicit TLS"
if start_fake im-good implicit-cert "$certs/good.crt" "$KEY"; then
    run_smtpc im-good --host 127.0.0.1 --port "$fake_port" --tls implicit --cafile "$CA" \
        "${auth_args[@]}" --auth PLAIN --from "$from" --to "$carol" --message "$work/m.fake"
    stop_fake
    expect_rc im-good 0 "control: implicit TLS, certificate from the test CA"
else
    not_ok "implicit TLS control: fake server did not start"
fi
if start_fake im-self implicit-cert "$certs/selfsigned.crt" "$KEY"; then
    run_smtpc im-self --host 127.0.0.1 --port "$fake_port" --tls implicit --cafile "$CA" \
        "${auth_args[@]}" --auth PLAIN --from "$from" --to "$carol" --message "$work/m.fake"
    stop_fake
    expect_rc im-self 76 "implicit TLS, self-signed certificate"
    [[ ! -s $work/im-self.log ]]
    check $? "implicit TLS, self-signed certificate: not one byte sent (log: $(wc -c <"$work/im-self.log") bytes)"
else
    not_ok "implicit TLS self-signed: fake server did not start"
fi

echo "# fake server: STARTTLS response injection"
if start_fake inject inject; then
    run_smtpc inject --host 127.0.0.1 --port "$fake_port" --tls starttls --cafile "$CA" \
        "${auth_args[@]}" --auth PLAIN --from "$from" --to "$carol" --message "$work/m.fake"
    stop_fake
    expect_rc inject 76 "injected reply after 220 to STARTTLS"
    grep -v '^[SC*]: ' "$work/inject.err" | grep -qi 'did not ask for'
    check $? "injection: message says \"server sent data the client did not ask for\""
    grep -v '^[SC*]: ' "$work/inject.err" | sed 's/^/#   message: /'
    rest=$(after_starttls "$work/inject.log")
    if [[ $rest == "b''" ]]; then
        ok "injection: no byte after \"STARTTLS\\r\\n\""
    else
        not_ok "injection: after STARTTLS the client sent: ${rest:0:300}"
    fi
else
    not_ok "injection: fake server did not start"
fi

echo "# fake server: malformed AUTH challenge"
if start_fake garbage garbage-challenge; then
    run_smtpc garbage --host 127.0.0.1 --port "$fake_port" --allow-plaintext-auth \
        "${auth_args[@]}" --auth LOGIN --from "$from" --to "$carol" --message "$work/m.fake"
    stop_fake
    expect_rc garbage 76 "334 with invalid base64"
    "$PY" -c 'import sys; sys.exit(b"AUTH LOGIN\r\n*\r\n" not in open(sys.argv[1],"rb").read())' "$work/garbage.log"
    check $? "invalid challenge: the client cancelled with \"*\\r\\n\" right after AUTH LOGIN"
    ! grep -qaE '^(MAIL|RCPT|DATA)' "$work/garbage.log" &&
        ! grep -qaF "$(printf '%s' "$PFX_USER" | base64)" "$work/garbage.log" &&
        ! grep -qaF "$(printf '%s' "$PFX_PASS" | base64)" "$work/garbage.log"
    check $? "invalid challenge: no user name, password or MAIL sent"
    grep -v '^[SC*]: ' "$work/garbage.err" | sed 's/^/#   message: /'
else
    not_ok "invalid challenge: fake server did not start"
fi

echo "# fake server: STARTTLS not offered"
if start_fake nostarttls no-starttls; then
    run_smtpc nostarttls --host 127.0.0.1 --port "$fake_port" --tls starttls --cafile "$CA" \
        --from "$from" --to "$carol" --message "$work/m.fake"
    stop_fake
    expect_rc nostarttls 78 "--tls starttls, STARTTLS not offered"
    ! grep -qaE '^(MAIL|RCPT|DATA|STARTTLS)' "$work/nostarttls.log"
    check $? "--tls starttls, STARTTLS not offered: no MAIL, RCPT, DATA, STARTTLS received"
    grep -v '^[SC*]: ' "$work/nostarttls.err" | grep -q 'STARTTLS'
    check $? "--tls starttls, STARTTLS not offered: the message names STARTTLS"
else
    not_ok "STARTTLS not offered: fake server did not start"
fi
if start_fake nostarttls-auth no-starttls; then
    run_smtpc nostarttls-auth --host 127.0.0.1 --port "$fake_port" --tls starttls --cafile "$CA" \
        "${auth_args[@]}" --auth PLAIN --from "$from" --to "$carol" --message "$work/m.fake"
    stop_fake
    expect_rc nostarttls-auth 78 "--tls starttls + --user, STARTTLS not offered"
    ! grep -qaE '^(MAIL|RCPT|AUTH|STARTTLS)' "$work/nostarttls-auth.log"
    check $? "--tls starttls + --user, STARTTLS not offered: no MAIL, RCPT, AUTH, STARTTLS received"
else
    not_ok "STARTTLS not offered (--user): fake server did not start"
fi
if start_fake nostarttls-try no-starttls; then
    run_smtpc nostarttls-try --host 127.0.0.1 --port "$fake_port" --tls try --cafile "$CA" \
        --from "$from" --to "$carol" --message "$work/m.fake"
    stop_fake
    expect_rc nostarttls-try 0 "--tls try, STARTTLS not offered"
    grep -qa '^MAIL FROM:' "$work/nostarttls-try.log" && ! grep -qa '^STARTTLS' "$work/nostarttls-try.log"
    check $? "--tls try, STARTTLS not offered: sent in clear"
else
    not_ok "--tls try: fake server did not start"
fi

echo "# interop_tls: $((SECONDS - t_start)) s"
echo "$npass passed, $nfail failed"
((nfail == 0))
