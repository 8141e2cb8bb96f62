#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli.sh -- the smtpc tool without a server: --dry-run builds and prints the
# message and the envelope, the config file supplies defaults (and bad keys
# are refused), secrets are refused on the command line, usage errors exit 64,
# a failed name lookup says why; and, against tests/fake_smtpd.py, a message
# with a 998-octet line starting with "." is sent.
set -euo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
SMTPC=$top_builddir/examples/smtpc
work=$(mktemp -d /tmp/smtpc-cli.XXXXXX)
trap 'rm -rf "$work"' EXIT
npass=0 nfail=0
check() { # DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then
        npass=$((npass + 1))
        echo "ok $((npass + nfail)) - $what"
    else
        nfail=$((nfail + 1))
        echo "not ok $((npass + nfail)) - $what"
    fi
}
run() { # WANT_RC ARGS...: runs smtpc, keeps stdout/stderr, checks the exit code
    local want=$1 rc=0
    shift
    timeout 20 "$SMTPC" "$@" >"$work/out" 2>"$work/err" </dev/null || rc=$?
    [[ $rc == "$want" ]] || { echo "#   exit $rc, expected $want"; sed 's/^/#   /' "$work/err"; return 1; }
}
printf 'Hello,\nsecond line\n' >"$work/t.txt"

check "--dry-run builds a message from --subject/--text/--cc/--bcc" \
    run 0 --dry-run --from 'Ann Example <ann@example.test>' --to bob@example.test \
    --cc 'Carol <carol@example.test>' --bcc dave@example.test --subject 'Hi there' \
    --text "$work/t.txt" --header 'X-Test: 1'
check "headers: From keeps the display name, To, Cc, Subject, custom header" \
    grep -q -e '^From: Ann Example <ann@example.test>' "$work/out"
check "Cc header present" grep -q '^Cc: Carol <carol@example.test>' "$work/out"
check "Subject and X-Test headers present" \
    bash -c "grep -q '^Subject: Hi there' '$work/out' && grep -q '^X-Test: 1' '$work/out'"
check "no Bcc header, and dave appears nowhere in the message" \
    bash -c "! grep -qi -e '^Bcc:' -e 'dave@' '$work/out'"
check "every line of the message ends with CRLF" \
    bash -c "! LC_ALL=C grep -q -v \$'\\r\$' '$work/out'"
check "envelope: MAIL FROM takes the address, RCPT TO for To, Cc and Bcc" \
    bash -c "grep -q 'MAIL FROM:<ann@example.test>' '$work/err' && [[ \$(grep -c 'RCPT TO:<' '$work/err') == 3 ]] && grep -q 'RCPT TO:<dave@example.test>' '$work/err'"

printf '# defaults for cron jobs\nhost 127.0.0.1\nport = 2999\nfrom cfg@example.test\ntls none\n' >"$work/config"
check "config file supplies --from (dry run)" \
    run 0 --config "$work/config" --dry-run --to bob@example.test --subject s --text "$work/t.txt"
check "envelope sender from the config file" grep -q 'MAIL FROM:<cfg@example.test>' "$work/err"
check "the command line wins over the config file" \
    bash -c "'$SMTPC' --config '$work/config' --dry-run --from cli@example.test --to b@example.test --subject s --text '$work/t.txt' 2>&1 >/dev/null | grep -q 'MAIL FROM:<cli@example.test>'"
printf 'colour blue\n' >"$work/bad"
check "unknown config key: exit 78 naming file and line" \
    bash -c "rc=0; '$SMTPC' --config '$work/bad' --dry-run --from a@example.test --to b@example.test --subject s --text '$work/t.txt' 2>'$work/e' || rc=\$?; [[ \$rc == 78 ]] && grep -q 'bad:1: unknown key' '$work/e'"
check "a password on the command line is refused (exit 64)" \
    run 64 --host 127.0.0.1 --from a@example.test --to b@example.test --password x
check "--message and --subject together: usage error (exit 64)" \
    run 64 --dry-run --from a@example.test --to b@example.test --message "$work/t.txt" --subject s
check "--dry-run --message prints the finished message as given" \
    run 0 --dry-run --from a@example.test --to b@example.test --message "$work/t.txt"
check "the finished message is printed byte for byte" cmp -s "$work/out" "$work/t.txt"
check "a CR/LF in a header value is refused (exit 64)" \
    run 64 --dry-run --from a@example.test --to b@example.test --subject $'x\r\nBcc: evil@example.test' --text "$work/t.txt"

# A name glibc's resolver refuses without asking any server (an empty
# label): the resolver's own reason is reported, exit 68 (EX_NOHOST).
check "an unresolvable host name: exit 68 with the resolver's reason" \
    run 68 --verify --host bad..name --tls none
check "the reason is the resolver's, not a generic text" \
    grep -qx 'smtpc: resolve bad..name: Name or service not known' "$work/err"

# RFC 5321 4.5.3.1.6: a 998-octet line that starts with "." is legal (the
# dot stuffed for transparency does not count); it once gave exit 65,
# "message has a line longer than 998 octets".
dot_line_sent() {
    local port= pid i
    { printf 'Subject: dot\r\n\r\n.'; printf 'x%.0s' {1..997}; printf '\r\nend\r\n'; } >"$work/dot.eml"
    timeout -k 2 30 python3 "$top_srcdir/tests/fake_smtpd.py" no-starttls \
        --log "$work/fake.log" --timeout 20 >"$work/fake.port" 2>"$work/fake.ev" &
    pid=$!
    for ((i = 0; i < 200; i++)); do
        port=$(head -n 1 "$work/fake.port" 2>/dev/null)
        [[ $port =~ ^[0-9]+$ ]] && break
        sleep 0.025
    done
    [[ $port =~ ^[0-9]+$ ]] || { echo "#   fake_smtpd did not start"; kill "$pid"; return 1; }
    run 0 --host 127.0.0.1 --port "$port" --tls none --from a@example.test \
        --to b@example.test --message "$work/dot.eml" || { wait "$pid"; return 1; }
    wait "$pid"
}
if command -v python3 >/dev/null; then
    check "a 998-octet line starting with \".\" is sent (exit 0)" dot_line_sent
    check "it is stuffed on the wire: \"..\" and 997 x, then the rest" \
        bash -c "LC_ALL=C grep -qxE '\\.\\.x{997}'\$'\\r' '$work/fake.log' && LC_ALL=C grep -qx \$'end\\r' '$work/fake.log'"
else
    echo "# python3 missing: skipped the 998-octet dot line check"
fi

echo "# cli: $npass passed, $nfail failed"
((nfail == 0))
