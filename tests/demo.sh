#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# demo.sh -- libsmtpc's main job, end to end, on this machine (run as root):
#   1. installs the Debian packages if any is missing (.ci/run --deps-if-missing)
#   2. builds the library and the smtpc CLI if needed
#   3. starts a throwaway Postfix on 127.0.0.1 (tests/postfix-testbed.sh)
#   4. sends a real message with `examples/smtpc --trace`, showing the SMTP
#      dialogue (C: client, S: server)
#   5. prints the message as Postfix delivered it into its Maildir, and
#      checks its DKIM signature (Ed25519, made by smtpc --dkim-key) with
#      dkimpy
#   6. stops Postfix and removes its directory
set -euo pipefail
exec </dev/null

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH=$PATH:/usr/sbin:/sbin

say() { printf '\n=== demo: %s\n' "$*"; }

[[ $(id -u) == 0 ]] || { echo "demo: run as root (installs packages, runs Postfix)" >&2; exit 1; }

say "packages"
bash .ci/run --deps-if-missing

say "build"
blog=$(mktemp /tmp/smtpc-demo-build.XXXXXX)
build() {
    { [[ -x configure ]] || autoreconf -fi; } &&
        { [[ -f Makefile ]] || ./configure; } &&
        make -j"$(nproc 2>/dev/null || echo 2)"
}
if build >"$blog" 2>&1; then
    echo "demo: built $PWD/examples/smtpc ($(examples/smtpc --version))"
    rm -f "$blog"
else
    tail -n 40 "$blog" >&2
    echo "demo: build failed (full log: $blog)" >&2
    exit 1
fi

say "start Postfix on 127.0.0.1"
work=$(mktemp -d /tmp/smtpc-demo.XXXXXX)
chmod 0755 "$work"
pfx=$work/postfix
cleanup() {
    local rc=$?
    say "stop Postfix"
    bash tests/postfix-testbed.sh stop "$pfx" || true
    rm -rf "$work"
    echo "demo: Postfix stopped, $work removed"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() {
    { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
    exec 3>&-
}
# The testbed's default ports (2525, 4465, 2587) unless taken.
ports=(2525 4465 2587)
for base in 0 12525 22525; do
    if ((base)); then ports=("$base" "$((base + 1))" "$((base + 2))"); fi
    if ! port_open "${ports[0]}" && ! port_open "${ports[1]}" && ! port_open "${ports[2]}"; then
        break
    fi
done
PFX_PORT=${ports[0]} PFX_SMTPS_PORT=${ports[1]} PFX_AUTHPLAIN_PORT=${ports[2]} \
    bash tests/postfix-testbed.sh start "$pfx"
# shellcheck disable=SC1091
. "$pfx/env"
echo "demo: Postfix listens on 127.0.0.1:$PFX_PORT; mail for @$PFX_DOMAIN goes to $PFX_MAILDIR"

msg=$work/message.eml
cat >"$msg" <<EOF
From: libsmtpc demo <demo@$PFX_DOMAIN>
To: alice@$PFX_DOMAIN
Subject: Hello from libsmtpc
Date: $(date -R)
Message-ID: <demo.$$.$(date +%s)@libsmtpc.test>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Hello Alice,

this message went through a real Postfix with libsmtpc's smtpc tool.
.This line starts with a dot: smtpc sent it as "..This", Postfix took one off.
8-bit text travels as is (8BITMIME): Grüße, 日本語, €.

-- 
libsmtpc
EOF

# A DKIM key for the demo domain (Ed25519, RFC 8463): the message is signed
# as it is sent, and the delivered copy checked against the key's record.
(umask 077 && openssl genpkey -algorithm ed25519 -out "$work/dkim.pem") ||
    exit 1
dkim_p=$(openssl pkey -in "$work/dkim.pem" -pubout -outform DER | tail -c 32 |
    base64 -w0)
echo "demo: DKIM record demo._domainkey.$PFX_DOMAIN: v=DKIM1; k=ed25519; p=$dkim_p"

say "send: examples/smtpc --trace --host 127.0.0.1 --port $PFX_PORT --from demo@$PFX_DOMAIN --to alice@$PFX_DOMAIN --message $msg --dkim-key $work/dkim.pem --dkim-selector demo"
rc=0
timeout -k 5 60 examples/smtpc --trace --host 127.0.0.1 --port "$PFX_PORT" \
    --from "demo@$PFX_DOMAIN" --to "alice@$PFX_DOMAIN" --timeout 20 \
    --message "$msg" --dkim-key "$work/dkim.pem" --dkim-selector demo \
    2>&1 || rc=$?
echo "demo: smtpc exit status $rc"
((rc == 0)) || exit 1

say "wait for delivery"
bash tests/postfix-testbed.sh wait-mail "$pfx" 1 20
f=$(find "$PFX_MAILDIR/new" -type f | head -n 1)
say "delivered file $f"
cat "$f"
say "check the DKIM signature with dkimpy (the record above, no DNS)"
printf 'demo._domainkey.%s v=DKIM1; k=ed25519; p=%s\n' "$PFX_DOMAIN" \
    "$dkim_p" >"$work/records.txt"
py=python3
/usr/bin/python3 -c 'import dkim' 2>/dev/null && py=/usr/bin/python3
timeout -k 5 30 "$py" tests/dkim_verify.py "$work/records.txt" "$f" || exit 1
say "done: 1 message signed, sent and delivered"
