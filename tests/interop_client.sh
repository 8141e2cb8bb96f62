#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# interop_client.sh -- the one-call API, verify and the connection pool
# against a real Postfix (tests/postfix-testbed.sh), 127.0.0.1 only.
#
#   one call   tests/client_send (smtpc_send): STARTTLS + AUTH PLAIN, LOGIN,
#              CRAM-MD5 and implicit TLS + PLAIN, relayed to a domain that
#              needs AUTH, with a Bcc and a binary attachment: OK/done/none;
#              in the Maildir the subject, text and attachment bytes are
#              exactly what was sent, Bcc is in no header, the Received:
#              header shows TLS and the authenticated sender, the maillog
#              the mechanism.
#   verify     smtpc --verify (exit codes of the CLI) and smtpc_verify()
#              (tests/client_send --verify): good credentials for each
#              mechanism; a wrong password (77, AUTH, 535), an untrusted
#              certificate (76, TLS) and a closed port (74, connect,
#              "Connection refused") give distinct codes and messages.
#   pool       tests/pool_stress through tests/pool_proxy.py (which counts
#              the connections the server side sees):
#              - 8 threads x 200 messages, pool of 3, STARTTLS: all OK, each
#                Message-ID exactly once in the Maildir, never more than 3
#                connections open at the proxy, connections reused, and
#                their TLS sessions resumed on reconnect;
#              - the proxy drops connections idle for 200 ms (threads pause
#                now and then): nothing lost, nothing duplicated, the pool
#                replaced the dropped connections;
#              - the proxy answers 421 to the 3rd MAIL of every 2nd
#                connection: nothing lost or duplicated, exactly one retry
#                per injected 421, still at most 3 connections.
#   Run under ./configure --enable-sanitizers=thread this also runs the pool
#   under ThreadSanitizer (a report makes pool_stress fail).
#
# Skips (77) when not root or Postfix is missing -- except with CI=true,
# where a skip is a failure.
set -u -o pipefail

export PATH=$PATH:/usr/sbin:/sbin
export LC_ALL=C
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
TEST_NAME="the client interop test"
# shellcheck source=tests/testlib.sh
. "$top_srcdir/tests/testlib.sh"
top_builddir=${top_builddir:-$top_srcdir}
testbed=$top_srcdir/tests/postfix-testbed.sh
proxy=$top_srcdir/tests/pool_proxy.py
SMTPC=$top_builddir/examples/smtpc
SEND=$top_builddir/tests/client_send
STRESS=$top_builddir/tests/pool_stress
RUN_TIMEOUT=60     # seconds, bound on every client_send / smtpc run
STRESS_TIMEOUT=300 # seconds, bound on every pool_stress run
t_start=$SECONDS

need_postfix
for c in openssl python3 timeout; do
    command -v "$c" >/dev/null || die "$c is needed"
done
for b in "$SMTPC" "$SEND" "$STRESS"; do
    [[ -x $b ]] || die "$b is not built (make check builds it)"
done
PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || die "python3 is needed"

check() {
    if (($1 == 0)); then ok "$2"; else not_ok "$2"; fi
}

work=$(mktemp -d /tmp/smtpc-client.XXXXXX) || die "mktemp failed"
chmod 0755 "$work"
pfx=
proxy_pid=
stop_proxy() {
    if [[ -n $proxy_pid ]]; then
        kill "$proxy_pid" 2>/dev/null || true
        wait "$proxy_pid" 2>/dev/null || true
        proxy_pid=
    fi
}
cleanup() {
    local rc=$?
    stop_proxy
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



# A port on 127.0.0.1 where nothing listens (bound by the kernel, closed).
closed_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# ---------------------------------------------------------------- Postfix up
start_postfix 5000 1600 3 || die "could not start Postfix"
maildir=$PFX_MAILDIR/new
D=$PFX_DOMAIN
P=$PFX_PORT
S=$PFX_SMTPS_PORT
export SMTPC_TEST_PASS=$PFX_PASS
export SMTPC_BAD_PASS="not the $PFX_PASS"
uniq=$$.$RANDOM
carol=carol@elsewhere.test # relaying there needs AUTH
dave=dave@$D

nfiles() {
    local -a f
    shopt -s nullglob
    f=("$maildir"/*)
    shopt -u nullglob
    echo "${#f[@]}"
}

wait_files() { # N TIMEOUT_S
    bash "$testbed" wait-mail "$pfx" "$1" "$2" 2>"$work/wait.err"
}

# ============================================================ one call
echo "# one call: smtpc_send with TLS and AUTH"
head -c 3000 /dev/urandom >"$work/blob.bin"
"$PY" -c 'import sys; open(sys.argv[1], "ab").write(bytes(range(256)))' "$work/blob.bin"
text_body="interop_client text body
.a line that starts with a dot
ünïcödé line"

# send_case NAME MODE PORT MECH
send_case() {
    local name=$1 mode=$2 port=$3 mech=$4 out rc=0
    out=$(timeout -k 2 "$RUN_TIMEOUT" "$SEND" --host 127.0.0.1 --port "$port" \
        --tls "$mode" --cafile "$PFX_CAFILE" --user "$PFX_USER" \
        --password-env SMTPC_TEST_PASS --auth "$mech" \
        --from "Sender <sender@$D>" --to "Carol <$carol>" --bcc "$dave" \
        --subject "interop_client $name $uniq" --text "$text_body" \
        --attach "$work/blob.bin" 2>&1) || rc=$?
    if ((rc == 0)) && [[ $out == "status=OK stage=done retry=none attempts=1 message=accepted: 250 2.0.0 Ok: queued as "* ]]; then
        ok "$name: $out"
    else
        not_ok "$name: exit $rc: $out"
    fi
}
send_case starttls-plain starttls "$P" plain
send_case starttls-login starttls "$P" login
send_case starttls-cram-md5 starttls "$P" cram-md5
send_case implicit-plain implicit "$S" plain
nsends=4

# Every send went to Carol and (Bcc) Dave: two files each.
if wait_files $((2 * nsends)) 20; then
    ok "Maildir holds $((2 * nsends)) files"
else
    not_ok "Maildir holds $(nfiles) files, expected $((2 * nsends))"
    sed 's/^/#   /' "$work/wait.err"
fi

# check_file NAME MECH: both copies carry exactly what was sent.
cat >"$work/check_msg.py" <<'EOF'
import email, email.policy, glob, sys
maildir, subject, blob, text, carol, dave = sys.argv[1:7]
want_blob = open(blob, "rb").read()
found = []
for path in glob.glob(maildir + "/*"):
    m = email.message_from_binary_file(open(path, "rb"),
                                       policy=email.policy.default)
    if m["Subject"] == subject:
        found.append(m)
errs = []
if len(found) != 2:
    errs.append("%d copies, expected 2" % len(found))
rcpts = sorted(m["Delivered-To"] for m in found)
if rcpts != sorted([carol, dave]):
    errs.append("Delivered-To %s" % rcpts)
for m in found:
    if m["Bcc"] is not None or dave in str(m["To"]) + str(m["Cc"]):
        errs.append("Bcc leaked into the headers")
    if not str(m["From"]).endswith("<sender@" + dave.split("@")[1] + ">"):
        errs.append("From: %s" % m["From"])
    body = m.get_body(preferencelist=("plain",))
    got = body.get_content() if body is not None else None
    if got is None or got.replace("\r\n", "\n").rstrip("\n") != text:
        errs.append("text part %r" % got)
    atts = [p for p in m.iter_attachments()]
    if len(atts) != 1 or atts[0].get_filename() != "blob.bin" or \
            atts[0].get_payload(decode=True) != want_blob:
        errs.append("attachment missing or changed")
    rcv = str(m["Received"])
    if "using TLSv1." not in rcv or "Authenticated sender" not in rcv:
        errs.append("Received: %s" % rcv[:200])
print("; ".join(sorted(set(errs))) if errs else "ok")
sys.exit(1 if errs else 0)
EOF
for c in starttls-plain:PLAIN starttls-login:LOGIN starttls-cram-md5:CRAM-MD5 implicit-plain:PLAIN; do
    name=${c%%:*}
    mech=${c##*:}
    res=$("$PY" "$work/check_msg.py" "$maildir" "interop_client $name $uniq" \
        "$work/blob.bin" "$text_body" "$carol" "$dave" 2>&1)
    check $? "$name: subject, text, attachment bytes, Bcc hidden, TLS + AUTH in Received: ($res)"
done
for mech in PLAIN LOGIN CRAM-MD5; do
    grep -qE "postfix/([a-z]+/)?smtpd\[[0-9]+\]: [0-9A-F]+: client=.*, sasl_method=$mech, sasl_username=$PFX_USER" "$pfx/maillog"
    check $? "maillog: a message submitted with sasl_method=$mech"
done

# smtpc_send() with a UTF-8 sender and DSN (smtpc_mail version 1): the
# exact MAIL and RCPT parameters, and Postfix takes them.
out=$(timeout -k 2 "$RUN_TIMEOUT" "$SEND" --trace --host 127.0.0.1 --port "$P" \
    --tls starttls --cafile "$PFX_CAFILE" --user "$PFX_USER" \
    --password-env SMTPC_TEST_PASS --from "José <josé@$D>" --to "$dave" \
    --subject "interop_client utf8 dsn $uniq" --text "hi" --notify 6 \
    --envid "ic+$uniq" --ret hdrs 2>&1) && rc=0 || rc=$?
if ((rc == 0)) && grep -qxE "C: MAIL FROM:<josé@$D> SIZE=[0-9]+ BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=ic\+2B$uniq" <<<"$out" &&
    grep -qxF "C: RCPT TO:<$dave> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;$dave" <<<"$out" &&
    grep -q "^status=OK stage=done .*message=accepted: 250 " <<<"$out"; then
    ok "smtpc_send: UTF-8 sender with SMTPUTF8, NOTIFY, ORCPT, RET, ENVID accepted"
else
    not_ok "smtpc_send: UTF-8 sender and DSN: exit $rc: $(grep -E '^(C: (MAIL|RCPT)|status=)' <<<"$out" | tr '\n' '|')"
fi

# ============================================================ verify
echo "# verify: smtpc --verify and smtpc_verify()"
closed=$(closed_port)

# cli_verify NAME WANT_RC ERE ARGS...: exit code and the one stderr line.
cli_verify() {
    local name=$1 want=$2 ere=$3 rc=0 err
    shift 3
    timeout -k 2 "$RUN_TIMEOUT" "$SMTPC" --verify --timeout 20 --host 127.0.0.1 "$@" \
        >"$work/$name.out" 2>"$work/$name.err" </dev/null || rc=$?
    err=$(cat "$work/$name.err")
    if ((rc == want)); then
        ok "smtpc --verify, $name: exit $rc"
    else
        not_ok "smtpc --verify, $name: exit $rc, expected $want (stderr: $err)"
    fi
    if ((want == 0)); then
        return
    fi
    if [[ $(wc -l <"$work/$name.err") == 1 ]] && grep -qE -- "$ere" "$work/$name.err"; then
        ok "smtpc --verify, $name: $err"
    else
        not_ok "smtpc --verify, $name: stderr is not one line matching /$ere/: $err"
    fi
}
auth=(--user "$PFX_USER" --password-env SMTPC_TEST_PASS)
cli_verify good 0 '' --port "$P" --tls starttls --cafile "$PFX_CAFILE" "${auth[@]}"
cli_verify good-implicit 0 '' --port "$S" --tls implicit --cafile "$PFX_CAFILE" "${auth[@]}"
cli_verify badpass 77 '^smtpc: AUTH.*535' --port "$P" --tls starttls --cafile "$PFX_CAFILE" \
    --user "$PFX_USER" --password-env SMTPC_BAD_PASS
cli_verify untrusted 76 '^smtpc: TLS.*(not (issued by )?a trusted CA|not trusted|unknown CA)' \
    --port "$P" --tls starttls "${auth[@]}"
cli_verify closed 74 "^smtpc: connect.*Connection refused" --port "$closed" \
    --tls starttls --cafile "$PFX_CAFILE" "${auth[@]}"
msgs=$(sort -u "$work/badpass.err" "$work/untrusted.err" "$work/closed.err" | wc -l)
((msgs == 3))
check $? "smtpc --verify: wrong password, untrusted certificate and closed port: 3 distinct messages"
! grep -qF -- "$PFX_PASS" "$work"/*.err
check $? "smtpc --verify: the password appears in no output"

# lib_verify NAME WANT ARGS...: client_send --verify prints the exact outcome
lib_verify() {
    local name=$1 want=$2 out
    shift 2
    out=$(timeout -k 2 "$RUN_TIMEOUT" "$SEND" --verify --host 127.0.0.1 "$@" 2>&1)
    if [[ $out == $want ]]; then
        ok "smtpc_verify, $name: $out"
    else
        not_ok "smtpc_verify, $name: '$out', expected '$want'"
    fi
}
for mech in plain login cram-md5; do
    MECH=${mech^^}
    lib_verify "good, $mech" "status=OK stage=done retry=none attempts=0 message=*$MECH*" \
        --port "$P" --tls starttls --cafile "$PFX_CAFILE" "${auth[@]}" --auth "$mech"
done
# --repeat 3: three smtpc_verify() calls sharing smtpc_client_config.tls_cache:
# the first a full handshake, the others resume its TLS session
for mode in starttls implicit; do
    port=$P
    [[ $mode == implicit ]] && port=$S
    out=$(timeout -k 2 "$RUN_TIMEOUT" "$SEND" --verify --repeat 3 --host 127.0.0.1 \
        --port "$port" --tls "$mode" --cafile "$PFX_CAFILE" "${auth[@]}" --auth plain 2>&1)
    mapfile -t lines <<<"$out"
    [[ ${#lines[@]} == 3 && ${lines[0]} == "status=OK "*", AUTH PLAIN" &&
       ${lines[0]} != *"(resumed)"* && ${lines[1]} == "status=OK "*" (resumed), AUTH PLAIN" &&
       ${lines[2]} == "status=OK "*" (resumed), AUTH PLAIN" ]]
    check $? "smtpc_verify x3 with a tls_cache, $mode: full handshake, then resumed twice ($(echo "$out" | tr '\n' '|'))"
done
lib_verify "wrong password" "status=AUTH_FAILED stage=AUTH retry=permanent attempts=0 message=AUTH*535*" \
    --port "$P" --tls starttls --cafile "$PFX_CAFILE" --user "$PFX_USER" \
    --password-env SMTPC_BAD_PASS
lib_verify "untrusted certificate" "status=CERTIFICATE stage=TLS retry=permanent attempts=0 message=TLS*" \
    --port "$P" --tls starttls "${auth[@]}"
lib_verify "implicit TLS, untrusted certificate" \
    "status=CERTIFICATE stage=TLS retry=permanent attempts=0 message=TLS*" \
    --port "$S" --tls implicit "${auth[@]}"
lib_verify "closed port" "status=CONNECT stage=connect retry=transient attempts=0 message=connect 127.0.0.1:$closed: Connection refused" \
    --port "$closed" --tls starttls --cafile "$PFX_CAFILE" "${auth[@]}"
# an empty label: glibc refuses the name without asking a server
lib_verify "unresolvable name" \
    "status=RESOLVE stage=resolve retry=transient attempts=0 message=resolve bad..name: Name or service not known" \
    --host bad..name --port "$P" --tls starttls --cafile "$PFX_CAFILE" "${auth[@]}"
lib_verify "STARTTLS required, not offered" \
    "status=STARTTLS_UNAVAILABLE stage=STARTTLS retry=permanent attempts=0 message=*" \
    --port "$PFX_AUTHPLAIN_PORT" --tls starttls --cafile "$PFX_CAFILE" "${auth[@]}"
lib_verify "AUTH in clear refused" \
    "status=AUTH_INSECURE stage=AUTH retry=permanent attempts=0 message=*" \
    --port "$PFX_AUTHPLAIN_PORT" --tls none "${auth[@]}"

# ============================================================ pool
# start_proxy NAME ARGS...: pool_proxy.py in front of Postfix's port P;
# sets proxy_port, stats in $work/NAME.stats.
start_proxy() {
    local name=$1 i
    shift
    : >"$work/$name.port"
    timeout -k 2 600 "$PY" "$proxy" --target-port "$P" --stats "$work/$name.stats" \
        --timeout 590 "$@" >"$work/$name.port" 2>"$work/$name.proxy.err" &
    proxy_pid=$!
    proxy_port=
    for ((i = 0; i < 200; i++)); do
        proxy_port=$(head -n 1 "$work/$name.port" 2>/dev/null)
        [[ $proxy_port =~ ^[0-9]+$ ]] && return 0
        kill -0 "$proxy_pid" 2>/dev/null || break
        sleep 0.025
    done
    sed 's/^/#   /' "$work/$name.proxy.err"
    return 1
}

# stat NAME KEY: a counter from the proxy's stats line.
stat() {
    sed -n "s/.*\\b$2=\\([0-9]*\\).*/\\1/p" "$work/$1.stats"
}
# field LINE KEY: a counter from pool_stress's summary line.
field() {
    sed -n "s/.*\\b$2=\\([0-9.]*\\).*/\\1/p" <<<"$1"
}

# count_ids TAG N: prints "files=F unique=U dups=D missing=M" for the
# Message-IDs <TAG-t-i@pool.test> (t < THREADS, i < N) in the Maildir.
cat >"$work/count_ids.py" <<'EOF'
import glob, re, sys
maildir, tag, threads, per = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
pat = re.compile(rb"^Message-ID:\s*<(" + re.escape(tag.encode()) +
                 rb"-\d+-\d+)@pool\.test>", re.I | re.M)
seen = {}
files = 0
for path in glob.glob(maildir + "/*"):
    head = open(path, "rb").read().split(b"\n\n", 1)[0].replace(b"\r\n", b"\n")
    for mid in pat.findall(head):
        files += 1
        seen[mid] = seen.get(mid, 0) + 1
want = {("%s-%d-%d" % (tag, t, i)).encode() for t in range(threads)
        for i in range(per)}
dups = sum(1 for v in seen.values() if v > 1)
missing = len(want - set(seen))
extra = len(set(seen) - want)
print("files=%d unique=%d dups=%d missing=%d extra=%d"
      % (files, len(seen), dups, missing, extra))
EOF

# wait_ids TAG THREADS N TIMEOUT_S: waits (bounded) until every message of
# the run is in the Maildir; prints count_ids' line.
wait_ids() {
    local tag=$1 th=$2 n=$3 t=$4 line i
    for ((i = 0; i < t * 2; i++)); do
        line=$("$PY" "$work/count_ids.py" "$maildir" "$tag" "$th" "$n")
        [[ $line == *" missing=0 "* ]] && break
        sleep 0.5
    done
    # settle: a duplicate could still be on its way
    sleep 1
    "$PY" "$work/count_ids.py" "$maildir" "$tag" "$th" "$n"
}

# pool_run NAME THREADS N MAXCONN [ENV...]: pool_stress through the proxy;
# sets $summary and $src.
pool_run() {
    local name=$1 th=$2 n=$3 mc=$4
    shift 4
    src=0
    summary=$(env POOL_FROM="pool-$name@$D" POOL_TO="pool-$name@$D" "$@" \
        timeout -k 5 "$STRESS_TIMEOUT" "$STRESS" 127.0.0.1 "$proxy_port" "$th" "$n" "$mc" \
        "$name.$uniq" 2>"$work/$name.stress.err") || src=$?
    echo "# $name: $summary (exit $src)"
    head -n 5 "$work/$name.stress.err" | sed 's/^/#   /'
    if [[ -s $work/$name.stress.err ]] && grep -q 'ThreadSanitizer' "$work/$name.stress.err"; then
        not_ok "$name: ThreadSanitizer report"
        grep -m 40 '' "$work/$name.stress.err" | sed 's/^/#   /'
    fi
}

# pool_checks NAME THREADS N MAXCONN: the common assertions.
pool_checks() {
    local name=$1 th=$2 n=$3 mc=$4 total ids
    total=$((th * n))
    [[ $src == 0 && $(field "$summary" sent) == "$total" && $(field "$summary" failed) == 0 ]]
    check $? "$name: pool_stress sent all $total messages with SMTPC_OK (exit $src)"
    ids=$(wait_ids "$name.$uniq" "$th" "$n" 120)
    [[ $ids == "files=$total unique=$total dups=0 missing=0 extra=0" ]]
    check $? "$name: every Message-ID exactly once in the Maildir ($ids)"
    (($(stat "$name" max_open) <= mc))
    check $? "$name: at most $mc connections open at once at the server side (proxy max_open=$(stat "$name" max_open))"
    (($(field "$summary" max_open) <= mc))
    check $? "$name: the pool's own count stayed at most $mc (max_open=$(field "$summary" max_open))"
    [[ $(stat "$name" accepted) == "$(field "$summary" connects)" ]]
    check $? "$name: the proxy accepted as many connections as the pool opened ($(stat "$name" accepted))"
}

echo "# pool: 8 threads x 200 messages, pool of 3, STARTTLS, through the proxy"
if start_proxy big; then
    pool_run big 8 200 3 POOL_TLS=starttls POOL_CAFILE="$PFX_CAFILE"
    stop_proxy
    pool_checks big 8 200 3
    acc=$(stat big accepted)
    # 1600 messages, at most 100 per connection (the default): reused
    ((acc >= 16 && acc <= 100))
    check $? "big: connections reused (1600 messages over $acc connections)"
    # only the connections opened before any handshake finished (at most
    # 3, opened at once) pay a full one; the pool resumes the rest
    res=$(field "$summary" resumed) con=$(field "$summary" connects)
    ((res >= con - 3 && res > 0))
    check $? "big: TLS sessions resumed on reconnect ($res of $con connections)"
    echo "# big: $(field "$summary" msgs_per_s) messages/s through Postfix with STARTTLS"
else
    not_ok "big: the proxy did not start"
fi

echo "# pool: the server side drops connections idle for 200 ms"
if start_proxy idle --idle-close-ms 200; then
    # each thread pauses 600 ms after every 10 messages: all connections
    # go idle together and are dropped; the pool must notice and replace
    pool_run idle 4 30 3 POOL_PAUSE_EVERY=10 POOL_PAUSE_MS=600
    stop_proxy
    pool_checks idle 4 30 3
    (($(stat idle idle_closed) >= 1 && $(field "$summary" replaced) >= 1))
    check $? "idle: the proxy dropped idle connections ($(stat idle idle_closed)) and the pool replaced them ($(field "$summary" replaced))"
else
    not_ok "idle: the proxy did not start"
fi

echo "# pool: 421 to the 3rd MAIL of every 2nd connection"
if start_proxy inject --inject-421-mail 3 --inject-every 2; then
    pool_run inject 8 50 3 POOL_MAX_MESSAGES=20
    stop_proxy
    pool_checks inject 8 50 3
    inj=$(stat inject injected)
    ((inj >= 1))
    check $? "inject: the proxy injected 421 ($inj times)"
    [[ $(field "$summary" retried) == "$inj" ]]
    check $? "inject: one retry per injected 421 (retried=$(field "$summary" retried), injected=$inj)"
else
    not_ok "inject: the proxy did not start"
fi

echo "# interop_client: $((SECONDS - t_start)) s"
echo "$npass passed, $nfail failed"
((nfail == 0))
