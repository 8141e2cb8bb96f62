#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# interop_postfix.sh -- the built smtpc CLI against a real Postfix.
#
# Starts a throwaway Postfix (tests/postfix-testbed.sh) on 127.0.0.1 with free
# high ports in a temporary directory, then checks:
#   a) messages to two recipients arrive byte for byte (after the headers
#      Postfix puts on top): one --repeat 3 run over one connection (6 files)
#      and single runs with distinct messages; bodies hold lines starting with
#      ".", a lone ".", trailing spaces, 8-bit UTF-8, CRLF / bare CR input and
#      a last line without a line end (dot-stuffing, CRLF normalisation,
#      8BITMIME)
#   b) a good and a rejected recipient: exit 3 (partial), the good one gets it
#   c) only a rejected recipient: exit 69 (5xx), nothing delivered
#   d) a recipient that gets 450: exit 75 (4xx)
#   e) a closed port: exit 74 (connection failed)
# Skips (77) when not root or Postfix/OpenSSL/saslpasswd2 are missing -- except
# with CI=true, where a skip is a failure.
set -euo pipefail

export PATH=$PATH:/usr/sbin:/sbin
export LC_ALL=C
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
TEST_NAME="the Postfix interop test"
# shellcheck source=tests/testlib.sh
. "$top_srcdir/tests/testlib.sh"
top_builddir=${top_builddir:-$top_srcdir}
testbed=$top_srcdir/tests/postfix-testbed.sh
SMTPC=$top_builddir/examples/smtpc
SMTPC_TIMEOUT=60 # seconds, hard bound on every smtpc run


need_postfix openssl timeout
[[ -x $SMTPC ]] || die "$SMTPC is not built"


work=$(mktemp -d /tmp/smtpc-interop.XXXXXX)
chmod 0755 "$work" # Postfix daemons (postfix, nobody) traverse it
pfx=
cleanup() {
    local rc=$?
    pfx_teardown "$rc"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM



# ---------------------------------------------------------------- Postfix up
start_postfix 20000 3000 4 || { echo "FAIL: could not start Postfix"; exit 1; }
closed_port=$((base + 3))
maildir=$PFX_MAILDIR/new
D=$PFX_DOMAIN
expected_files=0

nfiles() {
    local -a f
    shopt -s nullglob
    f=("$maildir"/*)
    shopt -u nullglob
    echo "${#f[@]}"
}

# run_smtpc NAME ARGS...: runs the CLI (bounded), keeps its stderr in
# $work/NAME.err, sets $rc.
run_smtpc() {
    local name=$1
    shift
    rc=0
    timeout -k 5 "$SMTPC_TIMEOUT" "$SMTPC" --host 127.0.0.1 \
        --port "${port:-$PFX_PORT}" --timeout 20 "$@" \
        >"$work/$name.out" 2>"$work/$name.err" || rc=$?
    if ((rc == 124 || rc == 137)); then
        echo "# smtpc ($name) did not finish within ${SMTPC_TIMEOUT} s"
    fi
}

show_err() {
    sed 's/^/#   /' "$work/$1.err" | head -n 40
}

send_failed=0
expect_rc() { # NAME WANT WHAT
    if ((rc == $2)); then
        ok "$3: exit $rc"
    else
        not_ok "$3: exit $rc, expected $2"
        show_err "$1"
        send_failed=1
    fi
}

# Prints the byte offset after the header lines Postfix adds on top
# (Return-Path, Delivered-To, X-Original-To, Received, with folded lines).
pf_header_len() {
    awk '
        /^(Return-Path|Delivered-To|X-Original-To|Received):/ { n += length($0) + 1; inh = 1; next }
        inh && /^[ \t]/ { n += length($0) + 1; next }
        { exit }
        END { print n + 0 }
    ' "$1"
}

# The delivered message with Postfix's headers removed.
strip_pf() {
    local n
    n=$(pf_header_len "$1")
    tail -c +"$((n + 1))" "$1"
}

delivered_to() {
    sed -n '/^$/q; s/^Delivered-To: //p' "$1" | head -n 1
}

# Files of $maildir that carry Message-ID <$1>.
files_with_id() {
    grep -lF -- "Message-ID: <$1>" "$maildir"/* 2>/dev/null | sort || true
}

# check_delivery ID EXPECTED_FILE N RCPT...: exactly N files carry the
# Message-ID, they go to the recipients in the given multiset, and each equals
# EXPECTED_FILE byte for byte after Postfix's own headers.
check_delivery() {
    local id=$1 want=$2 n=$3 f got_rcpts want_rcpts bad=0
    shift 3
    local -a files
    mapfile -t files < <(files_with_id "$id")
    if ((${#files[@]} != n)); then
        not_ok "<$id>: ${#files[@]} delivered file(s), expected $n"
        return
    fi
    ok "<$id>: $n delivered files"
    got_rcpts=$(for f in "${files[@]}"; do delivered_to "$f"; done | sort | tr '\n' ' ')
    want_rcpts=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
    if [[ $got_rcpts == "$want_rcpts" ]]; then
        ok "<$id>: Delivered-To: $want_rcpts"
    else
        not_ok "<$id>: Delivered-To: $got_rcpts, expected $want_rcpts"
    fi
    for f in "${files[@]}"; do
        strip_pf "$f" >"$work/got"
        if ! cmp -s "$work/got" "$want"; then
            bad=1
            echo "# $f differs from $want after Postfix's headers:"
            cmp "$work/got" "$want" 2>&1 | sed 's/^/#   /' || true
            diff <(od -c "$want") <(od -c "$work/got") | head -n 20 | sed 's/^/#   /' || true
        fi
    done
    if ((bad)); then
        not_ok "<$id>: content differs from what was sent"
    else
        ok "<$id>: every copy is byte-identical to what was sent"
    fi
}

# Waits (bounded) until the Maildir holds N files; only briefly once a send
# has already failed, so a broken client fails fast.
wait_mail() { # N
    local t=20
    ((send_failed)) && t=2
    if bash "$testbed" wait-mail "$pfx" "$1" "$t" 2>"$work/wait.err"; then
        ok "Maildir holds $1 file(s)"
    else
        not_ok "Maildir holds $(nfiles) file(s), expected $1 within $t s"
        ((send_failed)) || sed 's/^/#   /' "$work/wait.err"
    fi
}

uniq=$$.$RANDOM
now=$(date -R)

# write_msg ID SUBJECT > file: headers Postfix leaves alone (all present and
# fully qualified), body with the tricky lines.
write_headers() {
    printf 'From: libsmtpc interop <sender@%s>\n' "$D"
    printf 'To: alice@%s, bob@%s\n' "$D" "$D"
    printf 'Subject: %s\n' "$2"
    printf 'Date: %s\n' "$now"
    printf 'Message-ID: <%s>\n' "$1"
    printf 'MIME-Version: 1.0\n'
    printf 'Content-Type: text/plain; charset=utf-8\n'
    printf 'Content-Transfer-Encoding: 8bit\n'
    printf '\n'
}
tricky_body() {
    printf 'First line of the body.\n'
    printf '.A line starting with a dot (must be dot-stuffed on the wire).\n'
    printf '.\n'
    printf '..\n'
    printf '. \n'
    printf 'Trailing spaces follow:   \n'
    printf 'Trailing tab follows:\t\n'
    printf '8-bit UTF-8: Gr\xc3\xbc\xc3\x9fe, \xc5\x9dmtp, \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e, \xe2\x82\xac 5\n'
    printf '\n'
    printf 'After an empty line.\n'
    printf '%0900d\n' 0 # a long line (900 octets, under the 998 limit)
    printf 'QUIT\n'
    printf 'Last line.\n'
}

from=sender@$D
alice=alice@$D
bob=bob@$D

# ---------------------------------------------------------------- (a)
echo "# (a) --repeat 3 over one connection to two recipients"
id1=interop-1.$uniq@libsmtpc.test
{ write_headers "$id1" "libsmtpc interop 1 (--repeat 3)"; tricky_body; } >"$work/m1"
run_smtpc a1 --trace --from "$from" --to "$alice" --to "$bob" --repeat 3 \
    --message "$work/m1"
expect_rc a1 0 "(a) --repeat 3 to two recipients"
n=$(grep -c '^C: EHLO ' "$work/a1.err" || true)
m=$(grep -c '^C: MAIL FROM:' "$work/a1.err" || true)
if ((n == 1 && m == 3)); then
    ok "(a) one connection: 1 EHLO, 3 MAIL FROM in the trace"
else
    not_ok "(a) trace shows $n EHLO and $m MAIL FROM, expected 1 and 3"
    show_err a1
fi
if grep -q '^C: MAIL FROM:<[^>]*>.* BODY=8BITMIME' "$work/a1.err"; then
    ok "(a) 8-bit body declared with BODY=8BITMIME (RFC 6152)"
else
    not_ok "(a) MAIL FROM lacks BODY=8BITMIME for an 8-bit body"
    grep '^C: MAIL' "$work/a1.err" | head -n 3 | sed 's/^/#   /' || true
fi
expected_files=$((expected_files + 6))
wait_mail "$expected_files"
check_delivery "$id1" "$work/m1" 6 "$alice" "$alice" "$alice" "$bob" "$bob" "$bob"

echo "# (a) distinct messages to two recipients"
# m2: the same kind of body, another Message-ID.
id2=interop-2.$uniq@libsmtpc.test
{ write_headers "$id2" "libsmtpc interop 2"; tricky_body; } >"$work/m2"
run_smtpc a2 --from "$from" --to "$alice" --to "$bob" --message "$work/m2"
expect_rc a2 0 "(a) message 2"

# m3: CRLF line ends, and a bare CR before a dot (sent as CRLF + stuffed dot).
id3=interop-3.$uniq@libsmtpc.test
{ write_headers "$id3" "libsmtpc interop 3 (CRLF input)"; tricky_body; } |
    sed 's/$/\r/' >"$work/m3.in"
printf 'bare CR then a dot:\r.\r\nend\r\n' >>"$work/m3.in"
{ write_headers "$id3" "libsmtpc interop 3 (CRLF input)"; tricky_body; } >"$work/m3"
printf 'bare CR then a dot:\n.\nend\n' >>"$work/m3"
run_smtpc a3 --from "$from" --to "$alice" --to "$bob" --message "$work/m3.in"
expect_rc a3 0 "(a) message 3 (CRLF and bare CR input)"

# m4: read from standard input, last line without a line end.
id4=interop-4.$uniq@libsmtpc.test
{ write_headers "$id4" "libsmtpc interop 4 (no final newline)"; tricky_body; printf 'no newline at the end'; } >"$work/m4.in"
{ cat "$work/m4.in"; printf '\n'; } >"$work/m4"
run_smtpc a4 --from "$from" --to "$alice" --to "$bob" --message - <"$work/m4.in"
expect_rc a4 0 "(a) message 4 (stdin, no final line end)"

expected_files=$((expected_files + 6))
wait_mail "$expected_files"
check_delivery "$id2" "$work/m2" 2 "$alice" "$bob"
check_delivery "$id3" "$work/m3" 2 "$alice" "$bob"
check_delivery "$id4" "$work/m4" 2 "$alice" "$bob"

# ---------------------------------------------------------------- (b)
echo "# (b) one good and one rejected recipient"
id5=interop-5.$uniq@libsmtpc.test
{ write_headers "$id5" "libsmtpc interop 5 (partial)"; printf 'partial\n'; } >"$work/m5"
run_smtpc b --from "$from" --to "carol@$D" --to "reject@$D" --message "$work/m5"
expect_rc b 3 "(b) carol + reject@ (partial acceptance)"
if grep -q 'reject@' "$work/b.err" && grep -q '550' "$work/b.err"; then
    ok "(b) stderr names the rejected recipient and the 550"
else
    not_ok "(b) stderr does not report reject@ with 550"
    show_err b
fi
expected_files=$((expected_files + 1))
wait_mail "$expected_files"
check_delivery "$id5" "$work/m5" 1 "carol@$D"

# ---------------------------------------------------------------- (c)
echo "# (c) only a rejected recipient"
id6=interop-6.$uniq@libsmtpc.test
{ write_headers "$id6" "libsmtpc interop 6 (all rejected)"; printf 'nobody\n'; } >"$work/m6"
run_smtpc c --from "$from" --to "reject@$D" --message "$work/m6"
expect_rc c 69 "(c) only reject@ (permanent failure)"

# ---------------------------------------------------------------- (d)
echo "# (d) a recipient that gets 450"
id7=interop-7.$uniq@libsmtpc.test
{ write_headers "$id7" "libsmtpc interop 7 (tempfail)"; printf 'later\n'; } >"$work/m7"
run_smtpc d --from "$from" --to "tempfail@$D" --message "$work/m7"
expect_rc d 75 "(d) only tempfail@ (temporary failure)"

# ---------------------------------------------------------------- (e)
echo "# (e) a closed port"
if port_open "$closed_port"; then
    not_ok "(e) 127.0.0.1:$closed_port is unexpectedly open; cannot test"
else
    port=$closed_port run_smtpc e --from "$from" --to "$alice" --message "$work/m6"
    expect_rc e 74 "(e) 127.0.0.1:$closed_port refuses (connection error)"
fi

# ---------------------------------------------------------------- (f)
# A message built by the MIME builder (--subject/--text/--html/--attach/
# --inline/--bcc, UTF-8 display names) goes through Postfix and parses back
# with Python's strict email policy: headers decode to the originals, every
# part decodes byte for byte, Bcc is not in the headers.
echo "# (f) MIME message built by smtpc, parsed back after delivery"
printf 'Gr\xc3\xbc\xc3\x9fe,\nthe report is attached.\n.leading dot\n' >"$work/f.txt"
printf '<p>Hello <img src="cid:pixel.png"></p>\n' >"$work/f.html"
head -c 4099 /dev/urandom >"$work/f.bin"
printf '\x89PNG\r\n\x1a\nnot really a picture\n' >"$work/pixel.png"
run_smtpc f --from "Jörg Müller <joerg@$D>" --to "Bob Example <bob@$D>" \
    --bcc "eve@$D" --subject "Bericht für März ✓ $uniq" \
    --text "$work/f.txt" --html "$work/f.html" \
    --attach "$work/f.bin" --inline "$work/pixel.png"
expect_rc f 0 "(f) MIME message to a To and a Bcc recipient"
expected_files=$((expected_files + 2))
wait_mail "$expected_files"
mapfile -t mfiles < <(grep -lF -- "$uniq" "$maildir"/* 2>/dev/null | xargs -r grep -l "^Delivered-To: bob@$D" | xargs -r grep -l "multipart/mixed" || true)
if ((${#mfiles[@]} == 1)) && python3 - "${mfiles[0]}" "$work" "$uniq" "$D" <<'PYEOF'
import sys, email, email.policy
path, work, uniq, dom = sys.argv[1:5]
raw = open(path, "rb").read()
pol = email.policy.default.clone(raise_on_defect=True)
m = email.message_from_bytes(raw, policy=pol)
def fail(why):
    print("#   " + why); sys.exit(1)
if str(m["Subject"]) != "Bericht für März ✓ " + uniq: fail("subject %r" % str(m["Subject"]))
if m["From"].addresses[0].display_name != "Jörg Müller": fail("from %r" % str(m["From"]))
if m["To"].addresses[0].display_name != "Bob Example": fail("to %r" % str(m["To"]))
if "Bcc" in m: fail("Bcc header present")
text = m.get_body(preferencelist=("plain",)).get_content()
if text.replace("\r\n", "\n") != open(work + "/f.txt", encoding="utf-8").read(): fail("text %r" % text)
html = m.get_body(preferencelist=("html",)).get_content()
if html.replace("\r\n", "\n") != open(work + "/f.html").read(): fail("html %r" % html)
atts = {p.get_filename(): p.get_content() for p in m.iter_attachments()}
if atts.get("f.bin") != open(work + "/f.bin", "rb").read(): fail("attachment differs")
found = [p for p in m.walk() if p.get("Content-ID") == "<pixel.png>"]
if len(found) != 1 or found[0].get_content() != open(work + "/pixel.png", "rb").read(): fail("inline image")
for p in m.walk():
    if p.defects: fail("defects %r" % p.defects)
PYEOF
then
    ok "(f) delivered MIME message parses back: subject, names, text, HTML, attachment, inline image byte for byte, no Bcc header"
else
    not_ok "(f) delivered MIME message does not parse back as sent (${#mfiles[@]} file(s) to bob)"
fi

# ------------------------------------------------- nothing else delivered
echo "# nothing was delivered for (c) and (d)"
id8=interop-8.$uniq@libsmtpc.test
{ write_headers "$id8" "libsmtpc interop 8 (marker)"; printf 'marker\n'; } >"$work/m8"
run_smtpc z --from "$from" --to "dave@$D" --message "$work/m8"
expect_rc z 0 "marker message after the failures"
expected_files=$((expected_files + 1))
wait_mail "$expected_files"
check_delivery "$id8" "$work/m8" 1 "dave@$D"
if [[ -z $(files_with_id "$id6") && -z $(files_with_id "$id7") ]]; then
    ok "no file for the messages of (c) and (d)"
else
    not_ok "a message of (c) or (d) was delivered"
fi
have=$(nfiles)
if ((have == expected_files)); then
    ok "Maildir holds exactly $expected_files files"
else
    not_ok "Maildir holds $have files, expected exactly $expected_files"
fi
q=$(postqueue -c "$pfx/etc" -p 2>&1 || true)
if grep -q 'Mail queue is empty' <<<"$q"; then
    ok "Postfix queue is empty (nothing deferred)"
else
    not_ok "Postfix queue is not empty"
    head -n 20 <<<"$q" | sed 's/^/#   /'
fi

echo "# interop_postfix: $npass passed, $nfail failed"
((nfail == 0))
