#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli.sh -- the smtpc tool without a real server: --dry-run builds and prints
# the message and the envelope, the config file supplies defaults (and bad
# keys are refused), secrets are refused on the command line, usage errors
# exit 64, a failed name lookup says why.  Config files and password files
# that others own, can change or (a password file) can read are refused, a
# too long line is an error, password-command gets no standard input and is
# not run by --dry-run (the scripted tests/fake_smtpd.py on 127.0.0.1 shows
# what reaches a server), and a message with a 998-octet line starting with
# "." is sent.  The --dkim-* options: usage errors, key files checked as
# password files, --dry-run signing with RSA and Ed25519 keys.
set -euo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
SMTPC=$top_builddir/examples/smtpc
work=$(mktemp -d /tmp/smtpc-cli.XXXXXX)
trap 'rm -rf "$work"' EXIT
export HOME=$work/home # never the config file of whoever runs the tests
npass=0 nfail=0 nskip=0
# skip_check DESCRIPTION REASON: a check that cannot run here; under
# CI=true that is a failure (a green CI must mean the test ran).
skip_check() {
    if [[ ${CI:-} == true ]]; then
        nfail=$((nfail + 1))
        echo "not ok $((npass + nfail + nskip)) - $1 (CI=true and it cannot run: $2)"
    else
        nskip=$((nskip + 1))
        echo "ok $((npass + nfail + nskip)) - $1 # SKIP $2"
    fi
}
check() { # DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then
        npass=$((npass + 1))
        echo "ok $((npass + nfail + nskip)) - $what"
    else
        nfail=$((nfail + 1))
        echo "not ok $((npass + nfail + nskip)) - $what"
    fi
}
run() { # WANT_RC ARGS...: runs smtpc, keeps stdout/stderr, checks the exit code
    run_from /dev/null "$@"
}
run_from() { # FILE WANT_RC ARGS...: the same with standard input from FILE
    local in=$1 want=$2 rc=0
    shift 2
    timeout 20 "$SMTPC" "$@" >"$work/out" 2>"$work/err" <"$in" || rc=$?
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
chmod 600 "$work/config" # whatever the umask: others must not write it
check "config file supplies --from (dry run)" \
    run 0 --config "$work/config" --dry-run --to bob@example.test --subject s --text "$work/t.txt"
check "envelope sender from the config file" grep -q 'MAIL FROM:<cfg@example.test>' "$work/err"
check "the command line wins over the config file" \
    bash -c "'$SMTPC' --config '$work/config' --dry-run --from cli@example.test --to b@example.test --subject s --text '$work/t.txt' 2>&1 >/dev/null | grep -q 'MAIL FROM:<cli@example.test>'"
printf 'colour blue\n' >"$work/bad"
chmod 600 "$work/bad"
check "unknown config key: exit 78 naming file and line" \
    bash -c "rc=0; '$SMTPC' --config '$work/bad' --dry-run --from a@example.test --to b@example.test --subject s --text '$work/t.txt' 2>'$work/e' || rc=\$?; [[ \$rc == 78 ]] && grep -q 'bad:1: unknown key' '$work/e'"
check "a password on the command line is refused (exit 64)" \
    run 64 --host 127.0.0.1 --from a@example.test --to b@example.test --password x
check "--message and --subject together: usage error (exit 64)" \
    run 64 --dry-run --from a@example.test --to b@example.test --message "$work/t.txt" --subject s
check "--dry-run --message prints the finished message as given" \
    run 0 --dry-run --from a@example.test --to b@example.test --message "$work/t.txt"
check "the finished message is printed byte for byte" cmp -s "$work/out" "$work/t.txt"
check "--tls-required-no writes the field once, after Message-ID" \
    run 0 --dry-run --from a@example.test --to b@example.test --subject s --text "$work/t.txt" --tls-required-no
check "TLS-Required: No follows Message-ID, no MAIL parameter" \
    bash -c "grep -A1 '^Message-ID: ' '$work/out' | tail -n 1 | grep -qx \$'TLS-Required: No\r' && [[ \$(grep -c '^TLS-Required:' '$work/out') == 1 ]] && ! grep -q REQUIRETLS '$work/err'"
check "--requiretls: the dry run shows the MAIL parameter, no field" \
    run 0 --dry-run --from a@example.test --to b@example.test --subject s --text "$work/t.txt" --requiretls
check "MAIL FROM ends with REQUIRETLS" \
    bash -c "grep -qx 'smtpc: dry run: MAIL FROM:<a@example.test> REQUIRETLS' '$work/err' && ! grep -q '^TLS-Required' '$work/out'"
check "--requiretls with --tls-required-no: usage error (exit 64)" \
    run 64 --dry-run --from a@example.test --to b@example.test --subject s --text "$work/t.txt" --requiretls --tls-required-no
check "--tls-required-no with --message: usage error (exit 64)" \
    run 64 --dry-run --from a@example.test --to b@example.test --message "$work/t.txt" --tls-required-no
check "--tls-required-no with --header TLS-Required: usage error (exit 64)" \
    run 64 --dry-run --from a@example.test --to b@example.test --subject s --text "$work/t.txt" --header 'TLS-Required: No' --tls-required-no
check "a CR/LF in a header value is refused (exit 64)" \
    run 64 --dry-run --from a@example.test --to b@example.test --subject $'x\r\nBcc: evil@example.test' --text "$work/t.txt"

# A name glibc's resolver refuses without asking any server (an empty
# label): the resolver's own reason is reported, exit 68 (EX_NOHOST).
check "an unresolvable host name: exit 68 with the resolver's reason" \
    run 68 --verify --host bad..name --tls none
check "the reason is the resolver's, not a generic text" \
    grep -qx 'smtpc: resolve bad..name: Name or service not known' "$work/err"

# ---- trust in the config file and the secrets (security review 2026-12,
# findings 1, 7, 8c, 8d, 8e).  No check here may run a command it should
# not: each password-command leaves a marker file when it runs.
A=(--from a@example.test --to b@example.test)
NOSERVER=(--host 127.0.0.1 --port 1) # refused at once: exit 74 (EX_IOERR)
printf 'Subject: s\r\n\r\nbody\r\n' >"$work/m.txt"
mkcfg() { # FILE MODE MARKER: a config whose password-command leaves MARKER
    printf 'user alice\npassword-command touch %s; echo pw\n' "$3" >"$1"
    chmod "$2" "$1"
}
mkcfg "$work/c666" 666 "$work/ran666"
check "a config file others can write: exit 78" \
    run 78 --config "$work/c666" "${NOSERVER[@]}" "${A[@]}" --message "$work/m.txt"
check "... the message names the file and the reason" \
    grep -qx "smtpc: $work/c666: writable by group or others; refusing it" "$work/err"
check "... and its password-command did not run" test ! -e "$work/ran666"
mkdir -p "$HOME/.config/smtpc"
mkcfg "$HOME/.config/smtpc/config" 666 "$work/randefault"
check "the same for the default \$HOME/.config/smtpc/config: exit 78" \
    run 78 "${NOSERVER[@]}" "${A[@]}" --message "$work/m.txt"
check "... and its password-command did not run" test ! -e "$work/randefault"
rm -r "$HOME/.config"
mkdir "$work/open" && chmod 777 "$work/open"
mkcfg "$work/open/config" 600 "$work/ranopen"
check "a config file in a directory others can write (not sticky): exit 78" \
    run 78 --config "$work/open/config" "${NOSERVER[@]}" "${A[@]}" --message "$work/m.txt"
check "... the message names the directory; the command did not run" \
    bash -c "grep -qx 'smtpc: $work/open/config: its directory $work/open is writable by group or others and not sticky; refusing it' '$work/err' && test ! -e '$work/ranopen'"
mkdir "$work/sticky" && chmod 1777 "$work/sticky"
printf 'from sticky@example.test\n' >"$work/sticky/config" && chmod 600 "$work/sticky/config"
check "a directory writable by others but sticky (as /tmp) is accepted" \
    run 0 --config "$work/sticky/config" --dry-run --to b@example.test --message "$work/m.txt"
mkfifo "$work/fifo"
check "a config that is not a regular file (a FIFO): exit 78, no hang" \
    run 78 --config "$work/fifo" --dry-run "${A[@]}" --message "$work/m.txt"
check "... says so" \
    grep -qx "smtpc: $work/fifo: not a regular file; refusing it" "$work/err"
if [[ $(id -u) == 0 ]] && nobody=$(id -u nobody 2>/dev/null); then
    mkcfg "$work/cnobody" 600 "$work/rannobody"
    chown nobody "$work/cnobody"
    check "a config owned by another user (nobody, run as root): exit 78" \
        run 78 --config "$work/cnobody" "${NOSERVER[@]}" "${A[@]}" --message "$work/m.txt"
    check "... says whose it is; its password-command did not run" \
        bash -c "grep -qx 'smtpc: $work/cnobody: owned by uid $nobody, not by you or root; refusing it' '$work/err' && test ! -e '$work/rannobody'"
    printf 'pw\n' >"$work/pwnobody" && chmod 600 "$work/pwnobody" && chown nobody "$work/pwnobody"
    check "a --password-file owned by another user: exit 78" \
        run 78 --user u --password-file "$work/pwnobody" "${NOSERVER[@]}" "${A[@]}" --message "$work/m.txt"
else
    skip_check "a config and a password file owned by another user are refused" \
        "needs root (to chown a file to nobody) and a user nobody"
fi

mkcfg "$work/cdry" 600 "$work/randry"
check "--dry-run with a password-command: exit 0" \
    run 0 --config "$work/cdry" --dry-run "${A[@]}" --message "$work/m.txt"
check "... and the command did not run" test ! -e "$work/randry"
check "--dry-run reads no secret (--password-file of a missing file)" \
    run 0 --dry-run --user u --password-file "$work/nonexistent" "${A[@]}" --message "$work/m.txt"

printf 'user alice\npassword-command cat >%s; echo pw\n' "$work/seen" >"$work/cstdin"
chmod 600 "$work/cstdin"
check "password-command with the message on standard input: gets past it (74)" \
    run_from "$work/m.txt" 74 --config "$work/cstdin" "${NOSERVER[@]}" "${A[@]}"
check "... the command read nothing (its standard input is /dev/null)" \
    bash -c "test -e '$work/seen' && test ! -s '$work/seen'"
pcmd() { # COMMAND WANT_RC: a config with this password-command, no server
    printf 'user alice\npassword-command %s\n' "$1" >"$work/cpc"
    chmod 600 "$work/cpc"
    run "$2" --config "$work/cpc" "${NOSERVER[@]}" "${A[@]}" --message "$work/m.txt"
}
check "a password-command that fails: exit 78" pcmd 'echo pw; exit 3' 78
check "... with its exit status" \
    grep -qx 'smtpc: password-command exited with status 3' "$work/err"
check "a password-command that prints nothing: exit 78" pcmd true 78
check "... says so" grep -qx 'smtpc: password-command printed nothing' "$work/err"
check "a password-command printing several lines: the first is taken (74)" \
    pcmd 'echo pw; echo two; echo three' 74

# A line too long for the buffer (1023 bytes) must not become two lines:
# before, the tail "from tail@..." set the sender.
{
    printf 'helo %s' "$(printf '%1018s' '' | tr ' ' a)"
    printf 'from tail@example.test%955s\n' '' # 2000 bytes in all
} >"$work/long"
chmod 600 "$work/long"
check "a 2000-byte config line: exit 78 'line too long'" \
    run 78 --config "$work/long" --dry-run --to b@example.test --message "$work/m.txt"
check "... names file and line; the tail was not taken as a setting" \
    bash -c "grep -qx 'smtpc: $work/long:1: line too long (max 1023 bytes)' '$work/err' && ! grep -q tail@ '$work/err' '$work/out'"
printf 'helo %s\nfrom ok@example.test\n' "$(printf '%1018s' '' | tr ' ' a)" >"$work/long1023"
chmod 600 "$work/long1023"
check "a config line of exactly 1023 bytes is read, and the next one" \
    run 0 --config "$work/long1023" --dry-run --to b@example.test --message "$work/m.txt"
check "... which sets the sender" grep -q 'MAIL FROM:<ok@example.test>' "$work/err"
printf 'host 127.0.0.1\0from nul@example.test\n' >"$work/nul" && chmod 600 "$work/nul"
check "a NUL byte in a config line: exit 78" \
    run 78 --config "$work/nul" --dry-run "${A[@]}" --message "$work/m.txt"
check "... naming file and line" grep -qx "smtpc: $work/nul:1: NUL byte in the line" "$work/err"

printf 's3cret\n' >"$work/pw"
chmod 644 "$work/pw"
check "a --password-file others can read: exit 78" \
    run 78 --user u --password-file "$work/pw" "${NOSERVER[@]}" "${A[@]}" --message "$work/m.txt"
check "... the message names the file and the reason" \
    grep -qx "smtpc: $work/pw: readable by group or others; refusing it" "$work/err"
chmod 600 "$work/pw"
check "a --password-file only its owner can read is used (74: no server)" \
    run 74 --user u --password-file "$work/pw" "${NOSERVER[@]}" "${A[@]}" --message "$work/m.txt"
printf '%5000s\n' '' | tr ' ' p >"$work/pwlong" && chmod 600 "$work/pwlong"
check "a password over 4095 bytes is an error (exit 64), not cut short" \
    run 64 --user u --password-file "$work/pwlong" "${NOSERVER[@]}" "${A[@]}" --message "$work/m.txt"
check "... that says so" \
    grep -qx "smtpc: $work/pwlong: password longer than 4095 bytes" "$work/err"

# What reaches a server: tests/fake_smtpd.py (no-starttls: AUTH PLAIN in
# clear, every client byte logged) on 127.0.0.1.
fake() { # NAME: starts fake_smtpd for one connection; sets fake_port, fake_pid
    local i
    timeout -k 2 30 python3 "$top_srcdir/tests/fake_smtpd.py" no-starttls \
        --log "$work/$1.log" --timeout 20 >"$work/$1.port" 2>"$work/$1.ev" &
    fake_pid=$!
    for ((i = 0; i < 200; i++)); do
        fake_port=$(head -n 1 "$work/$1.port" 2>/dev/null)
        [[ $fake_port =~ ^[0-9]+$ ]] && return 0
        kill -0 "$fake_pid" 2>/dev/null || break
        sleep 0.025
    done
    sed 's/^/#   /' "$work/$1.ev"
    return 1
}
auth_plain() { # LOG: the decoded AUTH PLAIN response, NULs shown as ':'
    grep -a '^AUTH PLAIN ' "$1" | tr -d '\r' | cut -d' ' -f3 | base64 -d | tr '\0' :
}
if command -v python3 >/dev/null; then
    printf 'From: a@example.test\r\nSubject: whole\r\n\r\nbody\r\n' >"$work/m2.txt"
    printf 'user alice\npassword-command read line; echo pw\n' >"$work/cread"
    chmod 600 "$work/cread"
    if fake stdin; then
        check "password-command reading stdin, message on stdin: sent (exit 0)" \
            run_from "$work/m2.txt" 0 --config "$work/cread" --host 127.0.0.1 \
            --port "$fake_port" --allow-plaintext-auth "${A[@]}"
        wait "$fake_pid" || true
        check "... the server got the whole message, its first line included" \
            grep -aq '^From: a@example.test' "$work/stdin.log"
        check "... and the password-command's first line as the password" \
            test "$(auth_plain "$work/stdin.log")" == ":alice:pw"
    else
        check "tests/fake_smtpd.py starts" false
    fi
    if fake pwfile; then
        check "--password-file 0600: its first line is the password (exit 0)" \
            run 0 --user u --password-file "$work/pw" --host 127.0.0.1 \
            --port "$fake_port" --allow-plaintext-auth "${A[@]}" --message "$work/m.txt"
        wait "$fake_pid" || true
        check "... sent exactly" test "$(auth_plain "$work/pwfile.log")" == ":u:s3cret"
    else
        check "tests/fake_smtpd.py starts" false
    fi
else
    skip_check "what password-command and --password-file send" "python3 is not installed"
fi

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
    skip_check "a 998-octet line starting with \".\" is sent" "python3 is not installed"
fi

check "--binary without --message: usage error (exit 64)" \
    run 64 --dry-run --from a@example.test --to b@example.test --subject s --text "$work/t.txt" --binary
# RFC 3030 3: a binary message to a server without CHUNKING and BINARYMIME
# (fake_smtpd offers neither) is refused before MAIL, exit 69.
binary_refused() {
    local port= pid i
    printf 'Subject: bin\r\n\r\n\000\001bin\n.\n' >"$work/bin.eml"
    timeout -k 2 30 python3 "$top_srcdir/tests/fake_smtpd.py" no-starttls \
        --log "$work/bin.log" --timeout 20 >"$work/bin.port" 2>"$work/bin.ev" &
    pid=$!
    for ((i = 0; i < 200; i++)); do
        port=$(head -n 1 "$work/bin.port" 2>/dev/null)
        [[ $port =~ ^[0-9]+$ ]] && break
        sleep 0.025
    done
    [[ $port =~ ^[0-9]+$ ]] || { echo "#   fake_smtpd did not start"; kill "$pid"; return 1; }
    run 69 --host 127.0.0.1 --port "$port" --tls none --from a@example.test \
        --to b@example.test --message "$work/bin.eml" --binary || { wait "$pid"; return 1; }
    wait "$pid"
}
if command -v python3 >/dev/null; then
    check "--binary to a server without BINARYMIME: exit 69" binary_refused
    check "no MAIL reached the server, the error names BINARYMIME" \
        bash -c "! grep -q MAIL \"$work/bin.log\" && grep -q QUIT \"$work/bin.log\" && grep -q \"BINARYMIME; message not sent\" \"$work/err\""
else
    skip_check "--binary to a server without BINARYMIME: exit 69" "python3 is not installed"
fi

# ---- DKIM signing options (issue 19): usage errors are found before any
# key is read; a key file is checked as a --password-file.
printf 'From: a@example.test\r\nTo: b@example.test\r\nSubject: s\r\n\r\nbody\r\n' >"$work/dk.eml"
DK=(--dry-run --from a@example.test --to b@example.test --message "$work/dk.eml")
dkim_usage() { # DESCRIPTION EXPECTED-STDERR ARGS...
    local what=$1 want=$2
    shift 2
    check "$what: exit 64" run 64 "${DK[@]}" "$@"
    check "... says: $want" grep -qxF -- "$want" "$work/err"
}
mkdir -m 700 "$work/keys"
printf 'not a key\n' >"$work/keys/k.pem" && chmod 600 "$work/keys/k.pem"
K=$work/keys/k.pem
dkim_usage "--dkim-selector without --dkim-key" \
    "smtpc: --dkim-selector, --dkim-domain, --dkim-algo and --dkim-canon need a --dkim-key" \
    --dkim-selector s1
dkim_usage "--dkim-key without a selector" \
    "smtpc: --dkim-key $K needs a --dkim-selector" --dkim-key "$K"
dkim_usage "a selector for the first key only" \
    "smtpc: --dkim-key $K needs a --dkim-selector" \
    --dkim-key "$K" --dkim-selector s1 --dkim-key "$K"
dkim_usage "--dkim-selector twice for one key" \
    "smtpc: --dkim-selector given twice for --dkim-key $K" \
    --dkim-key "$K" --dkim-selector s1 --dkim-selector s2
dkim_usage "--dkim-domain twice before the first key" \
    "smtpc: --dkim-domain given twice before the first --dkim-key" \
    --dkim-domain a.example --dkim-domain b.example --dkim-key "$K"
dkim_usage "an unknown --dkim-algo" \
    "smtpc: --dkim-algo rsa-sha1: rsa-sha256 or ed25519-sha256" \
    --dkim-key "$K" --dkim-selector s1 --dkim-algo rsa-sha1
dkim_usage "a bad --dkim-canon" \
    "smtpc: --dkim-canon relaxed/loose: relaxed or simple, optionally followed by /relaxed or /simple" \
    --dkim-key "$K" --dkim-selector s1 --dkim-canon relaxed/loose
dkim_usage "two keys with one selector and domain" \
    "smtpc: --dkim-key $K and $K: both selector 's1' of 'example.test' (one key record)" \
    --dkim-selector s1 --dkim-key "$K" --dkim-key "$K"
dkim_usage "--from without a domain and no --dkim-domain" \
    "smtpc: --dkim-key $K: --from has no domain; give --dkim-domain" \
    --dkim-key "$K" --dkim-selector s1 --from ''
dkim_usage "nine --dkim-key" "smtpc: at most 8 --dkim-key" \
    --dkim-key "$K" --dkim-key "$K" --dkim-key "$K" --dkim-key "$K" \
    --dkim-key "$K" --dkim-key "$K" --dkim-key "$K" --dkim-key "$K" \
    --dkim-key "$K"
check "--dkim-key with --verify: exit 64" \
    run 64 --verify --host 127.0.0.1 --dkim-key "$K" --dkim-selector s1
check "... says: --verify sends no message" grep -qxF \
    "smtpc: --verify sends no message: no --dkim-key with it" "$work/err"
chmod 644 "$K"
check "a --dkim-key others can read: exit 78" \
    run 78 "${DK[@]}" --dkim-key "$K" --dkim-selector s1
check "... the message names the file and the reason" \
    grep -qxF "smtpc: $K: readable by group or others; refusing it" "$work/err"
chmod 600 "$K"
check "a missing --dkim-key: exit 66" \
    run 66 "${DK[@]}" --dkim-key "$work/keys/none.pem" --dkim-selector s1
check "... says why" \
    grep -qxF "smtpc: $work/keys/none.pem: No such file or directory" "$work/err"
check "a bad key is refused before standard input is read (exit 78)" \
    run_from "$work/dk.eml" 78 --dry-run --from a@example.test \
    --to b@example.test --dkim-key "$K" --dkim-selector s1
check "... nothing was printed" test ! -s "$work/out"
# With keys this build can use: the fields come first, one per key.
if command -v openssl >/dev/null &&
    (umask 077 && openssl genpkey -algorithm ed25519 -out "$work/keys/ed.pem" &&
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
            -out "$work/keys/rsa.pem") >/dev/null 2>&1 &&
    timeout 20 "$SMTPC" "${DK[@]}" --dkim-key "$work/keys/ed.pem" \
        --dkim-selector s1 >/dev/null 2>&1 &&
    timeout 20 "$SMTPC" "${DK[@]}" --dkim-key "$work/keys/rsa.pem" \
        --dkim-selector s1 >/dev/null 2>&1; then
    check "--dry-run with an RSA and an Ed25519 key: exit 0" \
        run 0 "${DK[@]}" --dkim-key "$work/keys/rsa.pem" --dkim-selector r1 \
        --dkim-key "$work/keys/ed.pem" --dkim-selector e1 --dkim-canon simple
    # the header unfolded, white space dropped: one field a line
    unfolded() {
        tr -d '\r' <"$work/out" | sed '/^$/q' |
            awk '/^[ \t]/ { f = f $0; next } { if (NR > 1) print f; f = $0 } END { print f }' |
            tr -d ' \t'
    }
    check "... two DKIM-Signature fields first: RSA for r1, then Ed25519 for e1" \
        bash -c "$(declare -f unfolded); work='$work'; unfolded | head -n 2 | tr '\n' '|' |
            grep -qE '^DKIM-Signature:([^|]*;)?a=rsa-sha256;[^|]*\|DKIM-Signature:([^|]*;)?a=ed25519-sha256;[^|]*\|$' &&
            unfolded | sed -n 1p | grep -qE ';s=r1(;|$)' &&
            unfolded | sed -n 2p | grep -qE ';s=e1(;|$)' &&
            unfolded | sed -n 2p | grep -qE ';c=simple/simple(;|$)'"
    check "... d= is the domain of --from" \
        bash -c "[[ \$(tr -d '\r\n\t ' <'$work/out' | grep -o 'd=example.test;' | wc -l) == 2 ]]"
    check "--dkim-algo ed25519-sha256 with an RSA key: exit 78" \
        run 78 "${DK[@]}" --dkim-key "$work/keys/rsa.pem" --dkim-selector r1 \
        --dkim-algo ed25519-sha256
    check "... says so" grep -qxF \
        "smtpc: $work/keys/rsa.pem: an rsa-sha256 key, not ed25519-sha256 (--dkim-algo)" \
        "$work/err"
    check "a file that holds no key: exit 78" \
        run 78 "${DK[@]}" --dkim-key "$K" --dkim-selector s1
    check "a message without From cannot be signed: exit 65" \
        run 65 --dry-run --from a@example.test --to b@example.test \
        --message "$work/m.txt" --dkim-key "$work/keys/ed.pem" --dkim-selector s1
else
    skip_check "--dry-run signs with an RSA and an Ed25519 key" \
        "openssl is missing or this build cannot sign with both keys"
fi

echo "# cli: $npass passed, $nfail failed, $nskip skipped"
((nfail == 0))
