#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# interop_requiretls.sh -- REQUIRETLS (RFC 8689) of the smtpc CLI against
# Nodemailer's smtp-server (tests/node, tests/requiretls_server.js: it
# offers REQUIRETLS on TLS connections only) and against Postfix 3.7
# (tests/postfix-testbed.sh: it never offers REQUIRETLS).
#
#   smtp-server, certificate from a test CA made here (--cafile):
#   - --requiretls over STARTTLS and over implicit TLS: exit 0, the exact
#     MAIL line ends with REQUIRETLS, the server recorded requireTLS=true
#   - --tls-required-no: the message arrives with one "TLS-Required: No"
#     field, MAIL without REQUIRETLS, requireTLS=false
#   - --requiretls in clear text (--tls none) and with --insecure
#     (STARTTLS and implicit): exit 69, no MAIL in the trace, none recorded
#   Postfix (root only): --requiretls over verified STARTTLS: exit 69, no
#   MAIL in the trace, and Postfix counted no MAIL for the connection.
#
# Skips (77) when node or tests/node/node_modules (or $SMTPC_NODE_DIR/
# node_modules) is missing (install with `npm ci` in tests/node) -- except
# with CI=true, where a skip is a failure.  Without root or Postfix only the Postfix part is left out
# (also a failure under CI=true).  Only ever listens on 127.0.0.1; every
# wait is bounded.
set -u -o pipefail

export PATH=$PATH:/usr/sbin:/sbin
export LC_ALL=C
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
TEST_NAME="the REQUIRETLS interop test"
# shellcheck source=tests/testlib.sh
. "$top_srcdir/tests/testlib.sh"
top_builddir=${top_builddir:-$top_srcdir}
testbed=$top_srcdir/tests/postfix-testbed.sh
server_js=$top_srcdir/tests/requiretls_server.js
SMTPC=$top_builddir/examples/smtpc
SMTPC_TIMEOUT=30 # seconds, hard bound on every smtpc run

[[ -x $SMTPC ]] || die "$SMTPC is not built"
command -v node >/dev/null || skip "node is not installed (Debian: nodejs npm)"
# The npm packages: tests/node/node_modules, or SMTPC_NODE_DIR/node_modules
# (tests/ci.sh points the builds of the tarball at the checkout's).
export SMTPC_NODE_DIR=${SMTPC_NODE_DIR:-$top_srcdir/tests/node}
[[ -r $SMTPC_NODE_DIR/node_modules/smtp-server/package.json ]] ||
    skip "smtp-server is not installed (cd tests/node && npm ci)"
for c in openssl timeout; do
    command -v "$c" >/dev/null || die "$c is needed (Debian: openssl coreutils)"
done

work=$(mktemp -d /tmp/smtpc-rtls.XXXXXX) || die "mktemp failed"
chmod 0755 "$work" # Postfix daemons traverse it
pfx=
pids=()
cleanup() {
    local rc=$? p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    pfx_teardown "$rc"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------- certificates
echo "# making certificates"
certs=$work/certs
mkdir -p "$certs" || die "mkdir failed"
if ! (
    set -e
    cd "$certs"
    ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=libsmtpc REQUIRETLS test CA" \
        -keyout ca.key -out ca.crt \
        -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req "${ec[@]}" -subj "/CN=localhost" -keyout srv.key -out srv.csr
    printf '%s\n' 'basicConstraints=CA:FALSE' \
        'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth' \
        'subjectAltName=DNS:localhost,IP:127.0.0.1' >srv.ext
    openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
        -days 2 -extfile srv.ext -out srv.crt
    openssl verify -CAfile ca.crt srv.crt
) </dev/null >"$work/openssl.log" 2>&1; then
    sed 's/^/#   /' "$work/openssl.log"
    die "certificate generation failed"
fi
CA=$certs/ca.crt

# ---------------------------------------------------------------- helpers

# run_smtpc NAME PORT ARGS...: the CLI with --trace (bounded) on
# 127.0.0.1:PORT; stdout in $work/NAME.out, stderr in $work/NAME.err; $rc.
run_smtpc() {
    local name=$1 port=$2
    shift 2
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

# expect_mail NAME WHAT LINE: the trace's one MAIL line is exactly LINE
# ("" for no MAIL at all).
expect_mail() {
    local got
    got=$(sed -n 's/^C: \(MAIL FROM:.*\)$/\1/p' "$work/$1.err")
    if [[ $got == "$3" ]]; then
        ok "$2: MAIL in the trace: ${3:-(none)}"
    else
        not_ok "$2: MAIL in the trace differs"
        printf '#   got:  %s\n#   want: %s\n' "${got:-(none)}" "${3:-(none)}"
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

# start_server NAME PORT MODE: requiretls_server.js in the background,
# logging to $work/NAME.jsonl; waits (bounded) until it listens.
start_server() {
    local name=$1 port=$2 mode=$3 i
    rm -f "$work/$name.ready"
    : >"$work/$name.jsonl"
    node "$server_js" --port "$port" --mode "$mode" --cert "$certs/srv.crt" \
        --key "$certs/srv.key" --log "$work/$name.jsonl" \
        --ready "$work/$name.ready" 2>"$work/$name.server.err" &
    pids+=($!)
    for ((i = 0; i < 100; i++)); do
        [[ -s $work/$name.ready ]] && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    sed 's/^/#   /' "$work/$name.server.err"
    return 1
}

# jq-free look at the server's records: node itself.
# srv_count LOG EVENT: how many EVENT records LOG holds.
srv_count() {
    node -e '
const fs = require("fs");
const recs = fs.readFileSync(process.argv[1], "utf8").split("\n")
  .filter(Boolean).map(JSON.parse);
console.log(recs.filter((r) => r.event === process.argv[2]).length);
' "$1" "$2"
}

# srv_last LOG EVENT EXPR [ARG]: prints EXPR (JavaScript, r = the last
# EVENT record of LOG; ARG is process.argv[4]).
srv_last() {
    node -e '
const fs = require("fs");
const recs = fs.readFileSync(process.argv[1], "utf8").split("\n")
  .filter(Boolean).map(JSON.parse).filter((r) => r.event === process.argv[2]);
const r = recs[recs.length - 1];
console.log(r === undefined ? "(none)" : String(eval(process.argv[3])));
' "$@"
}

expect_eq() { # GOT WANT WHAT
    if [[ $1 == "$2" ]]; then
        ok "$3: $1"
    else
        not_ok "$3: got '$1', expected '$2'"
    fi
}

# A finished message with CRLF line ends: SIZE on MAIL is its byte count.
printf 'From: alice@example.test\r\nTo: bob@example.test\r\nSubject: requiretls %s\r\n\r\nsent with REQUIRETLS\r\n' \
    "$$" >"$work/m.eml"
msize=$(wc -c <"$work/m.eml")
printf 'tls-required-no body\n' >"$work/body.txt"
NOT_SENT="smtpc: message not sent: REQUIRETLS asked for but the connection is not verified TLS or the server does not offer REQUIRETLS; message not sent"

# ------------------------------------------------------------ smtp-server
base=$(pick_ports 26003 3000 2 3100) || die "no free ports found"
PST=$base PIM=$((base + 1))
echo "# smtp-server $(node -p 'require(process.argv[1]).version' \
    "$SMTPC_NODE_DIR/node_modules/smtp-server/package.json"):" \
    "STARTTLS on 127.0.0.1:$PST, implicit TLS on $PIM"
start_server st "$PST" starttls || die "smtp-server (STARTTLS) did not start"
start_server im "$PIM" implicit || die "smtp-server (implicit TLS) did not start"
LST=$work/st.jsonl LIM=$work/im.jsonl

echo "# --requiretls over STARTTLS, verified"
run_smtpc st-rtls "$PST" --tls starttls --cafile "$CA" --requiretls \
    --from alice@example.test --to bob@example.test --message "$work/m.eml"
expect_rc st-rtls 0 "STARTTLS + REQUIRETLS"
expect_mail st-rtls "STARTTLS + REQUIRETLS" \
    "MAIL FROM:<alice@example.test> SIZE=$msize REQUIRETLS"
expect_eq "$(srv_last "$LST" mail 'r.requireTLS + " " + r.secure')" "true true" \
    "STARTTLS + REQUIRETLS: server's onMailFrom requireTLS, secure"
expect_eq "$(srv_last "$LST" data 'r.requireTLS + " " + r.to.join(",")')" \
    "true bob@example.test" "STARTTLS + REQUIRETLS: server's onData requireTLS, rcpt"
expect_eq "$(srv_last "$LST" data \
    'r.message === fs.readFileSync(process.argv[4], "latin1")' "$work/m.eml")" \
    "true" "STARTTLS + REQUIRETLS: the message arrived byte for byte"

echo "# --requiretls over implicit TLS, verified"
run_smtpc im-rtls "$PIM" --tls implicit --cafile "$CA" --requiretls \
    --from alice@example.test --to bob@example.test --message "$work/m.eml"
expect_rc im-rtls 0 "implicit TLS + REQUIRETLS"
expect_mail im-rtls "implicit TLS + REQUIRETLS" \
    "MAIL FROM:<alice@example.test> SIZE=$msize REQUIRETLS"
expect_eq "$(srv_last "$LIM" mail 'r.requireTLS + " " + r.secure')" "true true" \
    "implicit TLS + REQUIRETLS: server's onMailFrom requireTLS, secure"
expect_eq "$(srv_last "$LIM" data 'r.requireTLS')" "true" \
    "implicit TLS + REQUIRETLS: server's onData requireTLS"

echo "# --tls-required-no"
run_smtpc st-trn "$PST" --tls starttls --cafile "$CA" --tls-required-no \
    --from alice@example.test --to bob@example.test --subject "trn $$" \
    --text "$work/body.txt"
expect_rc st-trn 0 "--tls-required-no"
if grep -qE '^C: MAIL FROM:<alice@example.test>( [A-Z0-9=]+)*$' "$work/st-trn.err" &&
    ! grep -q '^C: MAIL FROM:.*REQUIRETLS' "$work/st-trn.err"; then
    ok "--tls-required-no: MAIL without REQUIRETLS"
else
    not_ok "--tls-required-no: MAIL line: $(grep '^C: MAIL' "$work/st-trn.err")"
fi
expect_eq "$(srv_last "$LST" data 'r.requireTLS')" "false" \
    "--tls-required-no: server's onData requireTLS"
expect_eq "$(srv_last "$LST" data \
    '(r.message.split("\r\n\r\n")[0] + "\r\n").split("TLS-Required: No\r\n").length - 1')" \
    "1" "--tls-required-no: 'TLS-Required: No' fields in the received header"
expect_eq "$(srv_last "$LST" data \
    '/\r\nMessage-ID: <[^>]*>\r\nTLS-Required: No\r\nMIME-Version: 1.0\r\n/.test(r.message)')" \
    "true" "--tls-required-no: the field sits between Message-ID and MIME-Version"

# refused: nothing recorded, no MAIL on the wire
refused() { # NAME PORT LOG WHAT ARGS...
    local name=$1 port=$2 log=$3 what=$4 before
    shift 4
    before=$(srv_count "$log" mail)
    run_smtpc "$name" "$port" --requiretls --from alice@example.test \
        --to bob@example.test --message "$work/m.eml" "$@"
    expect_rc "$name" 69 "$what"
    expect_mail "$name" "$what" ""
    expect_err_line "$name" "$what" "$NOT_SENT"
    expect_eq "$(srv_count "$log" mail)" "$before" "$what: MAIL records on the server"
}

echo "# --requiretls refused before MAIL"
refused plain "$PST" "$LST" "clear text (--tls none)" --tls none
refused st-insecure "$PST" "$LST" "STARTTLS with --insecure (not verified)" \
    --tls starttls --insecure
refused im-insecure "$PIM" "$LIM" "implicit TLS with --insecure (not verified)" \
    --tls implicit --insecure
if grep -q '^C: STARTTLS' "$work/st-insecure.err" &&
    grep -qi '^S: 250.REQUIRETLS' "$work/st-insecure.err"; then
    ok "STARTTLS with --insecure: TLS was up and REQUIRETLS offered, still refused"
else
    not_ok "STARTTLS with --insecure: the trace does not show STARTTLS and REQUIRETLS offered"
    show_err st-insecure
fi

# ---------------------------------------------------------------- Postfix
postfix_ok=1
if [[ $(id -u) != 0 ]]; then
    postfix_ok=0 why="not root"
else
    for c in postfix postqueue saslpasswd2; do
        command -v "$c" >/dev/null || { postfix_ok=0 why="$c is not installed"; }
    done
fi
if ((postfix_ok)); then
    echo "# Postfix (never offers REQUIRETLS)"
    if start_postfix 26503 3000 4 3200; then
        mark=$(wc -l <"$pfx/maillog")
        run_smtpc pf-rtls "$PFX_PORT" --tls starttls --cafile "$PFX_CAFILE" \
            --requiretls --from "alice@$PFX_DOMAIN" --to "$PFX_USER@$PFX_DOMAIN" \
            --message "$work/m.eml"
        expect_rc pf-rtls 69 "Postfix + REQUIRETLS"
        expect_mail pf-rtls "Postfix + REQUIRETLS" ""
        expect_err_line pf-rtls "Postfix + REQUIRETLS" "$NOT_SENT"
        if grep -q '^C: STARTTLS' "$work/pf-rtls.err"; then
            ok "Postfix + REQUIRETLS: STARTTLS done before the refusal"
        else
            not_ok "Postfix + REQUIRETLS: no STARTTLS in the trace"
        fi
        disc=
        for ((i = 0; i < 100; i++)); do
            # the client's connection: the one with STARTTLS (not a probe)
            disc=$(tail -n +"$((mark + 1))" "$pfx/maillog" |
                grep -m1 -o 'disconnect from.* starttls=.*') && break
            sleep 0.05
        done
        if [[ -z $disc ]]; then
            not_ok "Postfix + REQUIRETLS: no disconnect line in the maillog"
        elif grep -qE ' (mail|rcpt|data)=' <<<"$disc"; then
            not_ok "Postfix + REQUIRETLS: Postfix saw: $disc"
        else
            ok "Postfix + REQUIRETLS: Postfix saw no MAIL (${disc#disconnect from })"
        fi
    else
        not_ok "could not start Postfix"
    fi
elif [[ ${CI:-} == true ]]; then
    not_ok "Postfix part cannot run under CI: $why"
else
    echo "# Postfix part left out: $why"
fi

echo "1..$((npass + nfail))"
((nfail == 0))
