#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# interop_dkim.sh -- DKIM signatures made by the smtpc CLI (--dkim-key ...)
# go through a real Postfix (tests/postfix-testbed.sh on 127.0.0.1) and are
# verified, as delivered into the Maildir (Postfix has added Return-Path,
# Delivered-To and Received above them), by two independent verifiers that
# read the key records from a file, never from DNS:
#   (a) dkimpy (Debian python3-dkim, python3-nacl): tests/dkim_verify.py
#   (b) mailauth (npm, pinned in tests/node): tests/node/dkim_verify.js
# Keys are made here: RSA-2048 and Ed25519 (openssl genpkey), with their
# records (p= is the DER SubjectPublicKeyInfo for RSA, the raw 32-octet
# public key for Ed25519, RFC 8463).
#
# Cases (each checked by both verifiers):
#   control: a message signed by dkimpy itself (not by libsmtpc) sent with
#     --message: proves the Maildir pick-up and both verifiers;
#   rsa-sha256 and ed25519-sha256 alone, c=relaxed/relaxed and
#   simple/simple; --dkim-domain; then, with both signatures on one message
#   (RSA relaxed/relaxed and Ed25519 simple/simple): a binary attachment
#   (base64), a UTF-8 subject (encoded-word), a long folded To list, body
#   lines starting with "." (dot-stuffed on the wire), the same with BDAT,
#   three copies with --repeat (one signature each), a raw message with
#   bare LF line ends, trailing empty lines and trailing white space, an
#   empty body;
#   tampering: one body octet, then one header octet, of a delivered
#   message changed: both verifiers must say fail.
#
# TAP output.  Needs root, Postfix, openssl, dkimpy and the npm packages of
# tests/node (`npm ci` there); without one of them the test skips (77),
# except under CI=true where that is a failure.  Only ever uses
# 127.0.0.1; every wait and every run is bounded.
set -u -o pipefail

export PATH=$PATH:/usr/sbin:/sbin
export LC_ALL=C
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
TEST_NAME="the DKIM interop test"
# shellcheck source=tests/testlib.sh
. "$top_srcdir/tests/testlib.sh"
top_builddir=${top_builddir:-$top_srcdir}
testbed=$top_srcdir/tests/postfix-testbed.sh
SMTPC=$top_builddir/examples/smtpc
PYVERIFY=$top_srcdir/tests/dkim_verify.py
JSVERIFY=$top_srcdir/tests/node/dkim_verify.js
RUN_TIMEOUT=20 # seconds, hard bound on every client and verifier run
t_start=$SECONDS

[[ -x $SMTPC ]] || die "$SMTPC is not built"
need_postfix openssl timeout
# dkimpy: the first python3 that has it (a pyenv python3 may not)
PY=
for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null &&
        "$p" -c 'import dkim, nacl' >/dev/null 2>&1; then
        PY=$p
        break
    fi
done
[[ -n $PY ]] || skip "dkimpy is not installed (Debian: python3-dkim python3-nacl)"
command -v node >/dev/null || skip "node is not installed (Debian: nodejs npm)"
export SMTPC_NODE_DIR=${SMTPC_NODE_DIR:-$top_srcdir/tests/node}
[[ -r $SMTPC_NODE_DIR/node_modules/mailauth/package.json ]] ||
    skip "mailauth is not installed (cd tests/node && npm ci)"
# dkim_verify.js finds mailauth through NODE_PATH when the packages are
# not next to it (SMTPC_NODE_DIR of a build from the tarball)
export NODE_PATH=$SMTPC_NODE_DIR/node_modules${NODE_PATH:+:$NODE_PATH}

work=$(mktemp -d /tmp/smtpc-dkim.XXXXXX) || die "mktemp failed"
chmod 0755 "$work" # Postfix daemons traverse it
pfx=
cleanup() {
    local rc=$?
    pfx_teardown "$rc"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ keys
echo "# making keys: RSA-2048 and Ed25519"
keys=$work/keys
mkdir -m 0700 "$keys" || die "mkdir failed"
if ! (
    set -e
    cd "$keys"
    umask 077
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem
    openssl genpkey -algorithm ed25519 -out ed.pem
    openssl pkey -in rsa.pem -pubout -outform DER -out rsa.pub.der
    openssl pkey -in ed.pem -pubout -outform DER -out ed.pub.der
    # the raw Ed25519 seed, for dkimpy's own signing (control case)
    openssl pkey -in ed.pem -outform DER | tail -c 32 | base64 -w0 >ed.seed
) </dev/null >"$work/openssl.log" 2>&1; then
    sed 's/^/#   /' "$work/openssl.log"
    die "key generation failed"
fi
RSA=$keys/rsa.pem ED=$keys/ed.pem
prsa=$(base64 -w0 <"$keys/rsa.pub.der")
ped=$(tail -c 32 "$keys/ed.pub.der" | base64 -w0)
D=example.test
ALT=signer.example # a --dkim-domain other than the From domain
records=$work/records.txt
{
    echo "rsa2048._domainkey.$D v=DKIM1; k=rsa; p=$prsa"
    echo "ed1._domainkey.$D v=DKIM1; k=ed25519; p=$ped"
    echo "alt._domainkey.$ALT v=DKIM1; k=rsa; p=$prsa"
    echo "ctlr._domainkey.$D v=DKIM1; k=rsa; p=$prsa"
    echo "ctle._domainkey.$D v=DKIM1; k=ed25519; p=$ped"
} >"$records"
RSA_RR=(--dkim-key "$RSA" --dkim-selector rsa2048)
ED_RR=(--dkim-key "$ED" --dkim-selector ed1)
# the content cases: RSA relaxed/relaxed and Ed25519 simple/simple
BOTH=(--dkim-key "$RSA" --dkim-selector rsa2048 --dkim-canon relaxed/relaxed
    --dkim-key "$ED" --dkim-selector ed1 --dkim-canon simple/simple)

# ---------------------------------------------------------------- helpers
uniq=$$.$RANDOM
nfiles() {
    local -a f
    shopt -s nullglob
    f=("$maildir"/*)
    shopt -u nullglob
    echo "${#f[@]}"
}

# send NAME ARGS...: the CLI (bounded) to Postfix, in the clear (the
# signature does not care); stdout/stderr in $work/NAME.*; sets $rc and
# waits (bounded) for the Maildir to grow by $want files (default 1).
send() {
    local name=$1 before
    shift
    before=$(nfiles)
    rc=0
    timeout -k 5 "$RUN_TIMEOUT" "$SMTPC" --host 127.0.0.1 --port "$PFX_PORT" \
        --tls none --timeout 10 --helo client.test --trace "$@" \
        >"$work/$name.out" 2>"$work/$name.err" </dev/null || rc=$?
    if ((rc != 0)); then
        not_ok "$name: smtpc exit $rc"
        sed 's/^/#   /' "$work/$name.err" | grep -v '^#   [CS]: ' | head -n 20
        return 1
    fi
    bash "$testbed" wait-mail "$pfx" $((before + ${want:-1})) 10 || true
    return 0
}

# pick NAME: sets $file to the Maildir file whose own header (up to the
# first empty line) has "X-Case: NAME-$uniq"; the first of several copies.
pick() {
    local f
    file=
    for f in "$maildir"/*; do
        [[ -e $f ]] || continue
        if sed '/^\r\{0,1\}$/q' "$f" | grep -qxF -- "X-Case: $1-$uniq"; then
            file=$f
            return 0
        fi
    done
    not_ok "$1: no delivered message with X-Case: $1-$uniq"
    return 1
}

# verify NAME FILE WANT NSIG: queues FILE for both verifiers, which
# run_verifiers runs once each over every queued file (a verifier's
# start-up is most of its time).  WANT is pass (NSIG signatures, each one
# pass) or fail (some signature there, but it fails).
jname=() jfile=() jwant=() jn=()
verify() {
    jname+=("$1") jfile+=("$2") jwant+=("$3") jn+=("$4")
}

run_verifiers() {
    local args=() i v r out f verdict
    for i in "${!jfile[@]}"; do
        args+=(--count "${jn[i]}" "${jfile[i]}")
    done
    # with one file the output has no "FILE: " prefixes: give it twice
    ((${#jfile[@]} == 1)) && args+=("${args[@]}")
    ((${#jfile[@]} > 0)) || return 0
    for v in dkimpy mailauth; do
        r=0
        out=$work/verify-$v.txt
        if [[ $v == dkimpy ]]; then
            timeout -k 2 60 "$PY" "$PYVERIFY" "$records" "${args[@]}" \
                >"$out" 2>&1 || r=$?
        else
            timeout -k 2 60 node "$JSVERIFY" "$records" "${args[@]}" \
                >"$out" 2>&1 || r=$?
        fi
        if ((r > 1)); then
            not_ok "$v: the verifier failed (exit $r)"
            sed 's/^/#   /' "$out" | head -n 20
            continue
        fi
        for i in "${!jfile[@]}"; do
            f=${jfile[i]}
            verdict=$(grep -m1 -xF -e "$f: verdict pass" -e "$f: verdict fail" \
                "$out" | sed 's/.* verdict //')
            if [[ ${jwant[i]} == pass && $verdict == pass ]] ||
                { [[ ${jwant[i]} == fail && $verdict == fail ]] &&
                    grep -qF -- "$f: fail d=" "$out"; }; then
                ok "${jname[i]}: $v: ${jwant[i]}"
            else
                not_ok "${jname[i]}: $v: ${verdict:-no verdict}, expected ${jwant[i]}"
            fi
            grep -F -- "$f: " "$out" | grep -vF "$f: verdict" |
                sed "s|^$f: |#   |" | head -n 4
        done
    done
}

# case NAME NSIG SMTPC-ARGS...: send, pick up, verify with both.
case_ok() {
    local name=$1 n=$2
    shift 2
    echo "# $name"
    send "$name" "$@" || return 1
    pick "$name" || return 1
    verify "$name" "$file" pass "$n"
}

FROM=alice@$D
TO= # set once Postfix runs
base_args() { # NAME: envelope and a built message's fixed fields
    printf '%s\0' --from "Alice Example <$FROM>" --to "$TO" \
        --header "X-Case: $1-$uniq"
}

# ---------------------------------------------------------------- Postfix
start_postfix 27003 3000 4 3300 || die "could not start Postfix"
maildir=$PFX_MAILDIR/new
TO=$PFX_USER@$PFX_DOMAIN
printf 'Hello,\r\nthis message is signed.\r\n' >"$work/text.txt"

# -- control: a message dkimpy signed, sent unchanged (no --dkim-key)
echo "# control: signed by dkimpy, sent with --message"
printf 'From: Alice <%s>\r\nTo: %s\r\nSubject: control %s\r\nX-Case: control-%s\r\nDate: %s\r\nMessage-ID: <control.%s@%s>\r\n\r\nsigned by dkimpy\r\n.a dot line\r\n' \
    "$FROM" "$TO" "$uniq" "$uniq" "$(date -R)" "$uniq" "$D" >"$work/control.raw"
if "$PY" - "$work/control.raw" "$RSA" "$keys/ed.seed" "$work/control.eml" "$D" \
    <<'EOF' >"$work/control.log" 2>&1; then
import sys, dkim
raw, rsa, seed, out, dom = sys.argv[1:6]
msg = open(raw, "rb").read()
hdrs = [b"from", b"to", b"subject", b"date", b"message-id"]
s1 = dkim.sign(msg, b"ctlr", dom.encode(), open(rsa, "rb").read(),
               include_headers=hdrs, canonicalize=(b"relaxed", b"relaxed"))
s2 = dkim.sign(msg, b"ctle", dom.encode(), open(seed, "rb").read().strip(),
               signature_algorithm=b"ed25519-sha256", include_headers=hdrs,
               canonicalize=(b"simple", b"simple"))
open(out, "wb").write(s1 + s2 + msg)
EOF
    if send control --from "$FROM" --to "$TO" --message "$work/control.eml" &&
        pick control; then
        verify control "$file" pass 2
        control_file=$file
    fi
else
    not_ok "control: dkimpy could not sign"
    sed 's/^/#   /' "$work/control.log"
fi

# -- one signature each
mapfile -d '' -t A < <(base_args rsa-relaxed)
case_ok rsa-relaxed 1 "${A[@]}" --subject "rsa relaxed $uniq" \
    --text "$work/text.txt" "${RSA_RR[@]}" --dkim-algo rsa-sha256
mapfile -d '' -t A < <(base_args ed-relaxed)
case_ok ed-relaxed 1 "${A[@]}" --subject "ed25519 relaxed $uniq" \
    --text "$work/text.txt" "${ED_RR[@]}" --dkim-algo ed25519-sha256
mapfile -d '' -t A < <(base_args rsa-simple)
case_ok rsa-simple 1 "${A[@]}" --subject "rsa simple $uniq" \
    --text "$work/text.txt" "${RSA_RR[@]}" --dkim-canon simple/simple
mapfile -d '' -t A < <(base_args ed-simple)
case_ok ed-simple 1 "${A[@]}" --subject "ed25519 simple $uniq" \
    --text "$work/text.txt" "${ED_RR[@]}" --dkim-canon simple/simple
mapfile -d '' -t A < <(base_args alt-domain)
case_ok alt-domain 1 "${A[@]}" --subject "d=$ALT $uniq" \
    --text "$work/text.txt" --dkim-key "$RSA" --dkim-selector alt \
    --dkim-domain "$ALT"
if grep -q "^DKIM-Signature:.* d=$ALT;" "$file" 2>/dev/null ||
    sed -n '/^DKIM-Signature:/,/^[^ \t]/p' "$file" | tr -d '\n\t ' |
    grep -q "d=$ALT;"; then
    ok "alt-domain: the signature says d=$ALT"
else
    not_ok "alt-domain: no d=$ALT in the delivered signature"
fi

# -- both signatures on one message
mapfile -d '' -t A < <(base_args both)
case_ok both 2 "${A[@]}" --subject "both $uniq" --text "$work/text.txt" \
    "${BOTH[@]}"
both_file=$file

# -- a binary attachment (base64 in the message)
head -c 3000 /dev/urandom >"$work/blob.bin"
mapfile -d '' -t A < <(base_args attach)
case_ok attach 2 "${A[@]}" --subject "attachment $uniq" \
    --text "$work/text.txt" --attach "$work/blob.bin" "${BOTH[@]}"
if [[ -n ${file:-} ]] && grep -qi '^Content-Transfer-Encoding: base64' "$file"; then
    ok "attach: the attachment went as base64"
else
    not_ok "attach: no base64 part in the delivered message"
fi

# -- a UTF-8 subject (encoded-word)
mapfile -d '' -t A < <(base_args utf8-subject)
case_ok utf8-subject 2 "${A[@]}" \
    --subject "Grüße aus Köln – ünïcödé ✓ $uniq" --text "$work/text.txt" \
    "${BOTH[@]}"
if [[ -n ${file:-} ]] && grep -q '^Subject: =?[Uu][Tt][Ff]-8?' "$file"; then
    ok "utf8-subject: the subject is an encoded-word"
else
    not_ok "utf8-subject: no encoded-word subject"
fi

# -- a long To list: the field is folded; every recipient gets a copy
tos=()
for i in $(seq 1 12); do
    tos+=(--to "Recipient Number $i With A Long Name <rcpt$i.$uniq@$D>")
done
mapfile -d '' -t A < <(base_args folded)
want=12 case_ok folded 2 "${A[@]}" "${tos[@]}" --subject "folded $uniq" \
    --text "$work/text.txt" "${BOTH[@]}"
if [[ -n ${file:-} ]] && sed '/^$/q' "$file" | grep -A1 '^To: ' | tail -n 1 |
    grep -q '^[ \t]'; then
    ok "folded: the To field is folded"
else
    not_ok "folded: the To field is not folded"
fi

# -- body lines starting with "." (stuffed on the wire, unstuffed by
# Postfix: the signature covers the unstuffed text)
printf '.\r\n..\r\n.leading dot\r\n...three\r\nend\r\n.\r\n' >"$work/dots.txt"
mapfile -d '' -t A < <(base_args dots)
case_ok dots 2 "${A[@]}" --subject "dots $uniq" --text "$work/dots.txt" \
    "${BOTH[@]}"
if [[ -n ${file:-} ]] && grep -qx '\.\.\.three' "$file" &&
    grep -qx '\.leading dot' "$file"; then
    ok "dots: the dot lines arrived"
else
    not_ok "dots: the dot lines are not in the delivered message"
fi

# -- BDAT (Postfix offers CHUNKING): no dot-stuffing at all on the wire
mapfile -d '' -t A < <(base_args bdat)
case_ok bdat 2 "${A[@]}" --subject "bdat $uniq" --text "$work/dots.txt" \
    --bdat "${BOTH[@]}"
if grep -q '^C: BDAT ' "$work/bdat.err" 2>/dev/null; then
    ok "bdat: the message went with BDAT"
else
    not_ok "bdat: no BDAT in the trace"
fi

# -- --repeat 3: three transactions on one connection (pipelined), each
# with a signature of its own; every copy must verify
echo "# repeat"
mapfile -d '' -t A < <(base_args repeat)
if want=3 send repeat "${A[@]}" --subject "repeat $uniq" \
    --text "$work/text.txt" --repeat 3 "${BOTH[@]}"; then
    n=0
    for f in "$maildir"/*; do
        [[ -e $f ]] || continue
        if sed '/^$/q' "$f" | grep -qxF -- "X-Case: repeat-$uniq"; then
            n=$((n + 1))
            verify "repeat, copy $n" "$f" pass 2
        fi
    done
    if ((n == 3)); then
        ok "repeat: 3 copies delivered"
    else
        not_ok "repeat: $n copies delivered, expected 3"
    fi
fi

# raw messages (--message): the header is written here
raw() { # NAME BODY-PRINTF-FORMAT LINE-END
    local e=$3
    printf "From: Alice <%s>${e}To: %s${e}Subject: %s %s${e}X-Case: %s-%s${e}Date: %s${e}Message-ID: <%s.%s@%s>${e}${e}" \
        "$FROM" "$TO" "$1" "$uniq" "$1" "$uniq" "$(date -R)" "$1" "$uniq" "$D"
    # shellcheck disable=SC2059
    printf "$2"
}

# -- bare LF line ends (the session sends CRLF; the signature covers that)
raw lf-only 'line one\n.dot line\nline three\n' '\n' >"$work/lf.eml"
if ! grep -q $'\r' "$work/lf.eml"; then
    case_ok lf-only 2 --from "$FROM" --to "$TO" --message "$work/lf.eml" \
        "${BOTH[@]}"
else
    not_ok "lf-only: the test message has a CR"
fi

# -- trailing white space and trailing empty lines
raw trailing 'text  \r\nmore\t \r\n \r\n\r\n\r\n\r\n' '\r\n' >"$work/trail.eml"
case_ok trailing 2 --from "$FROM" --to "$TO" --message "$work/trail.eml" \
    "${BOTH[@]}"

# -- an empty body
raw empty-body '' '\r\n' >"$work/empty.eml"
case_ok empty-body 2 --from "$FROM" --to "$TO" --message "$work/empty.eml" \
    "${BOTH[@]}"

# -- the same, on standard input (--message -)
raw stdin 'from standard input\r\n' '\r\n' >"$work/stdin.eml"
echo "# stdin"
before=$(nfiles)
rc=0
timeout -k 5 "$RUN_TIMEOUT" "$SMTPC" --host 127.0.0.1 --port "$PFX_PORT" \
    --tls none --timeout 10 --helo client.test --from "$FROM" --to "$TO" \
    --message - "${BOTH[@]}" <"$work/stdin.eml" >"$work/stdin.out" \
    2>"$work/stdin.err" || rc=$?
if ((rc == 0)); then
    bash "$testbed" wait-mail "$pfx" $((before + 1)) 10 || true
    pick stdin && verify stdin "$file" pass 2
else
    not_ok "stdin: smtpc exit $rc"
    sed 's/^/#   /' "$work/stdin.err" | head -n 10
fi

# -- the one-call API (smtpc_send() with smtpc_mail.dkim) and the pool
# (smtpc_pool_send()): tests/client_send builds the message with the MIME
# builder, which signs it (smtpc_msg_add_dkim()); RSA and Ed25519, both
# relaxed/relaxed, a text with a dot line and an attachment.  Found in the
# Maildir by its Subject (the one-call API sets no other field).
CSEND=$top_builddir/tests/client_send
printf 'one call\n.\ndot line  \n\n' >"$work/onecall.txt"
head -c 3000 /dev/urandom >"$work/onecall.bin"
for mode in send pool; do
    echo "# one-call-$mode"
    before=$(nfiles)
    rc=0
    extra=()
    [[ $mode == pool ]] && extra=(--pool)
    timeout -k 5 "$RUN_TIMEOUT" "$CSEND" --host 127.0.0.1 --port "$PFX_PORT" \
        --tls none --from "$FROM" --to "$TO" \
        --subject "one-call $mode $uniq" --text "$(cat "$work/onecall.txt")" \
        --attach "$work/onecall.bin" --dkim-key "$RSA" --dkim-selector rsa2048 \
        --dkim-key "$ED" --dkim-selector ed1 "${extra[@]}" \
        >"$work/one-$mode.out" 2>"$work/one-$mode.err" </dev/null || rc=$?
    if ((rc != 0)); then
        not_ok "one-call-$mode: client_send exit $rc"
        sed 's/^/#   /' "$work/one-$mode.out" "$work/one-$mode.err" | head -n 10
        continue
    fi
    bash "$testbed" wait-mail "$pfx" $((before + 1)) 10 || true
    file=
    for f in "$maildir"/*; do
        if [[ -e $f ]] && sed '/^\r\{0,1\}$/q' "$f" |
            grep -qxF -- "Subject: one-call $mode $uniq"; then
            file=$f
            break
        fi
    done
    if [[ -n $file ]]; then
        verify "one-call-$mode" "$file" pass 2
    else
        not_ok "one-call-$mode: no delivered message with that Subject"
    fi
done

# -- tampering: one octet of the body, then of the (signed) Subject
# tamper NAME FILE NSIG: both copies must fail in both verifiers
tamper() {
    local name=$1 f=$2 n=$3 t
    echo "# tampered copies of the '$name' message"
    # body: the first character of the first non-empty line becomes x (y)
    awk 'h { print; if ($0 == "") h = 0; next }
         !d && $0 != "" { c = substr($0, 1, 1); $0 = (c == "x" ? "y" : "x") substr($0, 2); d = 1 }
         { print }' h=1 "$f" >"$work/$name-tampered-body.eml"
    # header: the first character of the Subject's value
    awk 'h && !d && /^Subject: / { c = substr($0, 10, 1)
             $0 = substr($0, 1, 9) (c == "x" ? "y" : "x") substr($0, 11); d = 1 }
         $0 == "" { h = 0 }
         { print }' h=1 "$f" >"$work/$name-tampered-header.eml"
    for t in body header; do
        if (($(cmp -l "$f" "$work/$name-tampered-$t.eml" | wc -l) != 1)); then
            not_ok "$name, tampered $t: not exactly one octet changed"
        else
            verify "$name, tampered $t" "$work/$name-tampered-$t.eml" fail "$n"
        fi
    done
}
if [[ -n ${control_file:-} ]]; then
    tamper control "$control_file" 2
else
    not_ok "tampering: no delivered 'control' message"
fi
if [[ -n ${both_file:-} ]]; then
    tamper both "$both_file" 2
else
    not_ok "tampering: no delivered 'both' message"
fi

echo "# verifying ${#jfile[@]} messages with dkimpy and mailauth"
run_verifiers
echo "# $((SECONDS - t_start)) s"
echo "1..$((npass + nfail))"
((nfail == 0))
