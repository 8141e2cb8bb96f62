#!/usr/bin/env bash
# postfix-testbed.sh -- a throwaway, real Postfix instance on 127.0.0.1 for
# libsmtpc's interop tests.
#
# Usage:
#   postfix-testbed.sh start DIR
#   postfix-testbed.sh stop DIR
#   postfix-testbed.sh wait-mail DIR N [TIMEOUT_S]
#   postfix-testbed.sh discard-ext DIR "chunking, smtputf8"
#   postfix-testbed.sh postconf DIR 'name = value' ['name = value'...]
#
# start: DIR must be empty or not exist.  Everything (config, queue, certs,
#   sasldb, Maildir, log) lives below DIR.  Environment (with defaults):
#     PFX_PORT=2525            plain SMTP + STARTTLS (AUTH only after STARTTLS)
#     PFX_SMTPS_PORT=4465      implicit TLS (wrappermode)
#     PFX_AUTHPLAIN_PORT=2587  no TLS, AUTH allowed in the clear
#     PFX_SIZE_LIMIT=10240000  message_size_limit
#     PFX_USER=testuser  PFX_PASS='s3cret pass'  PFX_DOMAIN=example.test
#   Every address @PFX_DOMAIN is delivered to the catch-all Maildir
#   DIR/mail/Maildir; reject@PFX_DOMAIN gets 550 5.1.1, tempfail@PFX_DOMAIN
#   gets 450 4.2.0.  Other domains: 554 relay denied unless authenticated; after
#   AUTH the mail is captured in the same Maildir (nothing leaves the host).
#   Writes DIR/env (sourceable: PFX_DIR PFX_PORT PFX_SMTPS_PORT
#   PFX_AUTHPLAIN_PORT PFX_USER PFX_PASS PFX_DOMAIN PFX_CAFILE PFX_MAILDIR
#   PFX_SIZE_LIMIT, all exported).  Postfix logs to DIR/maillog.
#   PFX_POSTCONF (optional): main.cf settings applied before the first
#   start, one 'name = value' per line (postconf -e; a value may be UTF-8,
#   e.g. "virtual_mailbox_domains = example.test, bücher.example").
# stop: SIGTERM to the master, wait for its process group (zombies count as
#   dead) and until the ports refuse.  Exit 0 also when already stopped.
# wait-mail: wait until DIR/mail/Maildir/new holds >= N files (default 10 s).
# discard-ext: set smtpd_discard_ehlo_keywords (e.g. "chunking, smtputf8";
#   "" restores the default) and reload; waits until the reload took effect.
# postconf: set main.cf parameters ('name = value', postconf -e) and reload;
#   waits until the reload was logged and every smtpd process of the old
#   configuration has exited, so the next connection sees the new settings.
#
# Needs root and the Debian packages postfix, sasl2-bin, openssl.  Only ever
# listens on 127.0.0.1; never touches /etc/postfix or port 25.
# See shared/notes/postfix-testbed.md (beside the repository) for the reasoning behind each line.

set -eu -o pipefail

PROG=${0##*/}

die() {
    printf '%s: %s\n' "$PROG" "$*" >&2
    exit 1
}

usage() {
    cat >&2 <<EOF
usage: $PROG start DIR
       $PROG stop DIR
       $PROG wait-mail DIR N [TIMEOUT_S]
       $PROG discard-ext DIR "KEYWORD, KEYWORD..."
       $PROG postconf DIR 'name = value' ['name = value'...]
EOF
    exit 2
}

# ---------------------------------------------------------------- helpers

# Current time in microseconds (bash >= 5 EPOCHREALTIME).
now_us() {
    local t=${EPOCHREALTIME/[.,]/}
    printf '%s\n' "$((10#$t))"
}

# seconds ("10", "2.5") -> microseconds
secs_to_us() {
    local s=$1 int frac
    [[ $s =~ ^[0-9]+(\.[0-9]*)?$ ]] || die "not a number of seconds: '$s'"
    int=${s%%.*}
    frac=
    [[ $s == *.* ]] && frac=${s#*.}
    frac=${frac}000000
    frac=${frac:0:6}
    printf '%s\n' "$((10#$int * 1000000 + 10#$frac))"
}

# Single-quote a value for a POSIX shell.
shquote() {
    local s=${1//\'/\'\\\'\'}
    printf "'%s'" "$s"
}

is_port() {
    [[ $1 =~ ^[0-9]{1,5}$ ]] && (($1 >= 1 && $1 <= 65535))
}

# Exit 0 if something accepts a TCP connection on 127.0.0.1:$1.
tcp_open() (
    { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || exit 1
    exec 3>&-
    exit 0
)

# Exit 0 if 127.0.0.1:$1 answers with a "220 " greeting (then QUIT).
smtp_greets() (
    local line=''
    { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || exit 1
    IFS= read -r -t 2 line <&3 || line=
    [[ $line == "220 "* ]] || exit 1
    printf 'QUIT\r\n' >&3 2>/dev/null || true
    exec 3>&-
    exit 0
)

# Print the EHLO keywords (upper case, one per line) of 127.0.0.1:$1.
smtp_ehlo_keywords() (
    local line='' kw n=0
    { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || exit 1
    IFS= read -r -t 2 line <&3 || exit 1
    [[ $line == "220 "* ]] || exit 1
    printf 'EHLO testbed.invalid\r\n' >&3
    # First line is "250-hostname", then one keyword per line, last "250 ".
    while ((n++ < 100)) && IFS= read -r -t 2 line <&3; do
        line=${line%$'\r'}
        [[ $line == 250[-\ ]* ]] || exit 1
        if ((n > 1)); then
            kw=${line:4}
            kw=${kw%% *}
            printf '%s\n' "${kw^^}"
        fi
        [[ $line == "250 "* ]] && break
    done
    printf 'QUIT\r\n' >&3 2>/dev/null || true
    exec 3>&-
    exit 0
)

# Is PID a process that is alive and not a zombie?  Prints nothing.
proc_state() {
    local line rest
    IFS= read -r line 2>/dev/null <"/proc/$1/stat" || return 1
    rest=${line##*) }
    printf '%s\n' "$rest"
}

# Exit 0 if any non-zombie process has process group $1.
group_alive() {
    local f line rest state pgrp
    local -a fields
    for f in /proc/[0-9]*/stat; do
        { IFS= read -r line <"$f"; } 2>/dev/null || continue
        rest=${line##*) }
        read -r -a fields <<<"$rest"
        state=${fields[0]:-}
        pgrp=${fields[2]:-}
        if [[ $pgrp == "$1" && $state != Z && $state != X ]]; then
            return 0
        fi
    done
    return 1
}

# Exit 0 if PID $1 is the (living) Postfix master of instance $2.
is_our_master() {
    local pid=$1 dir=$2 comm rest
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    rest=$(proc_state "$pid") || return 1
    [[ ${rest%% *} != [ZX] ]] || return 1
    { IFS= read -r comm <"/proc/$pid/comm"; } 2>/dev/null || return 1
    [[ $comm == master ]] || return 1
    # postfix(1) exports MAIL_CONFIG=<config dir> to the master it starts;
    # this guards against a recycled PID belonging to another instance.
    if [[ -r /proc/$pid/environ ]]; then
        tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null |
            grep -qxF "MAIL_CONFIG=$dir/etc" || return 1
    fi
    return 0
}

master_pid() {
    local pid=
    if [[ -r $1/queue/pid/master.pid ]]; then
        pid=$(tr -d ' \t\n' <"$1/queue/pid/master.pid" 2>/dev/null) || pid=
    fi
    printf '%s\n' "$pid"
}

# Absolute path of DIR without requiring it to exist.
abs_dir() {
    local d=$1
    [[ -n $d ]] || die "DIR must not be empty"
    [[ $d == /* ]] || d=$PWD/$d
    # Strip trailing slashes (but keep "/").
    while [[ $d == */ && $d != / ]]; do d=${d%/}; done
    printf '%s\n' "$d"
}

# Load ports of an instance from DIR/env (written by start).
load_env() {
    local dir=$1
    PFX_PORT='' PFX_SMTPS_PORT='' PFX_AUTHPLAIN_PORT=''
    if [[ -r $dir/env ]]; then
        # shellcheck disable=SC1091
        . "$dir/env"
    fi
}

print_log_tail() {
    local dir=$1
    {
        printf '%s: --- tail of %s/maillog ---\n' "$PROG" "$dir"
        tail -n 30 "$dir/maillog" 2>/dev/null || printf '(no maillog)\n'
        if [[ -s $dir/postfix-cmd.log ]]; then
            printf '%s: --- %s/postfix-cmd.log ---\n' "$PROG" "$dir"
            tail -n 20 "$dir/postfix-cmd.log"
        fi
    } >&2
}

# ---------------------------------------------------------------- start

write_certs() {
    local tls=$1
    if ! (
        set -e
        cd "$tls"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
            -subj "/CN=Testbed CA" -keyout ca.key -out ca.crt \
            -addext basicConstraints=critical,CA:TRUE \
            -addext keyUsage=critical,keyCertSign,cRLSign
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
            -keyout server.key -out server.csr
        printf '%s\n' \
            'basicConstraints=CA:FALSE' \
            'keyUsage=critical,digitalSignature,keyEncipherment' \
            'extendedKeyUsage=serverAuth' \
            'subjectAltName=DNS:localhost,IP:127.0.0.1' \
            'subjectKeyIdentifier=hash' \
            'authorityKeyIdentifier=keyid:always' >server.ext
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key \
            -CAcreateserial -days 2 -extfile server.ext -out server.crt
    ) </dev/null >"$tls/openssl.log" 2>&1; then
        cat "$tls/openssl.log" >&2
        die "certificate generation failed"
    fi
    rm -f "$tls/server.csr" "$tls/server.ext" "$tls/ca.srl" "$tls/openssl.log"
    chmod 0600 "$tls/ca.key" "$tls/server.key"
    chmod 0644 "$tls/ca.crt" "$tls/server.crt"
}

write_main_cf() {
    local dir=$1
    cat >"$dir/etc/main.cf" <<EOF
# Generated by $PROG -- throwaway test instance, loopback only.
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
myhostname = localhost
mydomain = localdomain
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
# Nothing is trusted by IP: relaying needs AUTH, even from 127.0.0.1.
mynetworks =
mydestination =
local_transport = error:local delivery disabled in testbed
alias_maps =
alias_database =
local_recipient_maps =
biff = no
# Every address @$PFX_DOMAIN goes to one catch-all Maildir.
virtual_mailbox_domains = $PFX_DOMAIN
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = static:Maildir/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_minimum_uid = 1
# Authenticated relaying is captured in the same Maildir: nothing leaves.
default_transport = virtual
relay_transport = virtual
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
# Canned failures for error-path tests.
smtpd_recipient_restrictions = check_recipient_access inline:{
  { reject@$PFX_DOMAIN = 550 5.1.1 User unknown (testbed) },
  { tempfail@$PFX_DOMAIN = 450 4.2.0 Try again later (testbed) } }
message_size_limit = $PFX_SIZE_LIMIT
smtpd_tls_security_level = may
smtpd_tls_cert_file = $dir/tls/server.crt
smtpd_tls_key_file = $dir/tls/server.key
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
smtpd_tls_session_cache_database =
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
# Debian's build ignores this and reads <config_directory>/sasl/smtpd.conf.
cyrus_sasl_config_path = $dir/etc/sasl
smtpd_sasl_local_domain = $PFX_DOMAIN
smtpd_sasl_security_options = noanonymous
# AUTH only after STARTTLS on the plain port.
smtpd_tls_auth_only = yes
smtpd_sasl_authenticated_header = yes
maillog_file_prefixes = $dir
maillog_file = $dir/maillog
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 200
smtpd_client_connection_rate_limit = 0
queue_run_delay = 10s
minimal_backoff_time = 10s
EOF
}

write_master_cf() {
    local dir=$1
    cat >"$dir/etc/master.cf" <<EOF
# Generated by $PROG -- loopback listeners only, no chroot.
127.0.0.1:$PFX_PORT inet n - n - - smtpd
127.0.0.1:$PFX_SMTPS_PORT inet n - n - - smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
127.0.0.1:$PFX_AUTHPLAIN_PORT inet n - n - - smtpd
  -o syslog_name=postfix/authplain
  -o smtpd_tls_security_level=none
  -o smtpd_tls_auth_only=no
pickup    unix  n - n 60  1 pickup
cleanup   unix  n - n -   0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n -   - trivial-rewrite
bounce    unix  - - n -   0 bounce
defer     unix  - - n -   0 bounce
trace     unix  - - n -   0 bounce
verify    unix  - - n -   1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -   - proxymap
proxywrite unix - - n -   1 proxymap
smtp      unix  - - n -   - smtp
relay     unix  - - n -   - smtp
showq     unix  n - n -   - showq
error     unix  - - n -   - error
retry     unix  - - n -   - error
discard   unix  - - n -   - discard
local     unix  - n n -   - local
virtual   unix  - n n -   - virtual
lmtp      unix  - - n -   - lmtp
anvil     unix  - - n -   1 anvil
scache    unix  - - n -   1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
}

write_sasl() {
    local dir=$1
    mkdir -p "$dir/etc/sasl" "$dir/sasl"
    cat >"$dir/etc/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN CRAM-MD5
sasldb_path: $dir/sasl/sasldb2
EOF
    chmod 0644 "$dir/etc/sasl/smtpd.conf"
    printf '%s' "$PFX_PASS" |
        saslpasswd2 -p -c -f "$dir/sasl/sasldb2" -u "$PFX_DOMAIN" "$PFX_USER" ||
        die "saslpasswd2 failed"
    chown root:postfix "$dir/sasl/sasldb2"
    chmod 0640 "$dir/sasl/sasldb2"
}

write_env() {
    local dir=$1 f=$1/env v
    {
        printf '# Generated by %s start; source it: . %s\n' "$PROG" "$f"
        for v in PFX_DIR PFX_PORT PFX_SMTPS_PORT PFX_AUTHPLAIN_PORT PFX_USER \
            PFX_PASS PFX_DOMAIN PFX_CAFILE PFX_MAILDIR PFX_SIZE_LIMIT; do
            printf '%s=%s\n' "$v" "$(shquote "${!v}")"
        done
        printf 'export PFX_DIR PFX_PORT PFX_SMTPS_PORT PFX_AUTHPLAIN_PORT PFX_USER PFX_PASS PFX_DOMAIN PFX_CAFILE PFX_MAILDIR PFX_SIZE_LIMIT\n'
    } >"$f"
    chmod 0644 "$f"
}

# One 'name = value' setting for postconf -e: a parameter name, " =", and
# " value" without control characters (UTF-8 is allowed) or nothing.
check_setting() {
    [[ $1 =~ ^[a-z0-9_]+\ =(\ [^[:cntrl:]]*)?$ ]] ||
        die "invalid setting (want 'name = value'): '$1'"
}

# PFX_POSTCONF: extra main.cf settings, one per line, before the first start.
apply_postconf_env() {
    local dir=$1 line
    local -a settings=()
    [[ -n ${PFX_POSTCONF:-} ]] || return 0
    while IFS= read -r line; do
        [[ -n $line ]] || continue
        check_setting "$line"
        settings+=("$line")
    done <<<"$PFX_POSTCONF"
    ((${#settings[@]} == 0)) && return 0
    postconf -c "$dir/etc" -e "${settings[@]}" || die "postconf failed"
}

cmd_start() {
    local dir
    dir=$(abs_dir "$1")

    [[ $(id -u) == 0 ]] || die "must run as root (Postfix master binds and drops privileges)"
    command -v postfix >/dev/null || die "postfix is not installed"
    command -v saslpasswd2 >/dev/null || die "saslpasswd2 (sasl2-bin) is not installed"
    command -v openssl >/dev/null || die "openssl is not installed"

    PFX_PORT=${PFX_PORT:-2525}
    PFX_SMTPS_PORT=${PFX_SMTPS_PORT:-4465}
    PFX_AUTHPLAIN_PORT=${PFX_AUTHPLAIN_PORT:-2587}
    PFX_SIZE_LIMIT=${PFX_SIZE_LIMIT:-10240000}
    PFX_USER=${PFX_USER:-testuser}
    PFX_PASS=${PFX_PASS-s3cret pass}
    PFX_DOMAIN=${PFX_DOMAIN:-example.test}

    local p
    for p in "$PFX_PORT" "$PFX_SMTPS_PORT" "$PFX_AUTHPLAIN_PORT"; do
        is_port "$p" || die "invalid port: '$p'"
        [[ $p != 25 ]] || die "refusing to use port 25"
    done
    [[ $PFX_PORT != "$PFX_SMTPS_PORT" && $PFX_PORT != "$PFX_AUTHPLAIN_PORT" &&
        $PFX_SMTPS_PORT != "$PFX_AUTHPLAIN_PORT" ]] || die "the three ports must differ"
    [[ $PFX_SIZE_LIMIT =~ ^[0-9]+$ ]] || die "invalid PFX_SIZE_LIMIT: '$PFX_SIZE_LIMIT'"
    [[ $PFX_USER =~ ^[A-Za-z0-9._-]+$ ]] || die "invalid PFX_USER: '$PFX_USER'"
    [[ $PFX_DOMAIN =~ ^[A-Za-z0-9.-]+$ ]] || die "invalid PFX_DOMAIN: '$PFX_DOMAIN'"
    [[ -n $PFX_PASS ]] || die "PFX_PASS must not be empty"
    # DIR ends up in main.cf/master.cf/smtpd.conf values: keep it simple.
    [[ $dir =~ ^[A-Za-z0-9_./+-]+$ ]] ||
        die "DIR must consist of [A-Za-z0-9_./+-] only: '$dir'"

    if [[ -e $dir ]]; then
        [[ -d $dir ]] || die "$dir exists and is not a directory"
        [[ -z $(ls -A "$dir") ]] || die "$dir is not empty"
    fi
    for p in "$PFX_PORT" "$PFX_SMTPS_PORT" "$PFX_AUTHPLAIN_PORT"; do
        if tcp_open "$p"; then
            die "127.0.0.1:$p is already in use"
        fi
    done

    # These three are read indirectly by write_env.
    # shellcheck disable=SC2034
    PFX_DIR=$dir
    # shellcheck disable=SC2034
    PFX_CAFILE=$dir/tls/ca.crt
    # shellcheck disable=SC2034
    PFX_MAILDIR=$dir/mail/Maildir

    mkdir -p "$dir"
    # mktemp -d gives 0700; the daemons (user postfix/nobody) must traverse.
    chmod 0755 "$dir"
    mkdir -p "$dir/etc" "$dir/queue" "$dir/data" "$dir/mail" "$dir/tls"
    chmod 0755 "$dir/etc" "$dir/queue" "$dir/mail"
    chmod 0700 "$dir/tls"
    chown postfix:postfix "$dir/data"
    chown 65534:65534 "$dir/mail"
    : >"$dir/maillog"

    write_env "$dir"
    write_certs "$dir/tls"
    chmod 0755 "$dir/tls"
    write_sasl "$dir"
    write_main_cf "$dir"
    apply_postconf_env "$dir"
    write_master_cf "$dir"
    # A main.cf younger than ~2 s makes Postfix pause "to let main.cf cool
    # down" (~2 s per start).  Backdate it.
    touch -d '1 minute ago' "$dir/etc/main.cf" "$dir/etc/master.cf"

    local t0 rc=0
    t0=$(now_us)
    # Output of postfix(1) goes to the maillog; keep anything else in a file
    # so the master never inherits the caller's stdout/stderr pipes.
    postfix -c "$dir/etc" start </dev/null >"$dir/postfix-cmd.log" 2>&1 || rc=$?
    if ((rc != 0)); then
        printf '%s: postfix start failed (exit %d)\n' "$PROG" "$rc" >&2
        print_log_tail "$dir"
        cmd_stop "$dir" >/dev/null 2>&1 || true
        exit 1
    fi

    # Bounded wait: plain and authplain ports greet with "220 ", implicit TLS
    # port accepts TCP.
    local deadline=$((t0 + 15000000)) n=0 ok_plain=0 ok_smtps=0 ok_ap=0
    while ((n++ < 400)); do
        ((ok_plain)) || { smtp_greets "$PFX_PORT" && ok_plain=1; } || true
        ((ok_ap)) || { smtp_greets "$PFX_AUTHPLAIN_PORT" && ok_ap=1; } || true
        ((ok_smtps)) || { tcp_open "$PFX_SMTPS_PORT" && ok_smtps=1; } || true
        ((ok_plain && ok_ap && ok_smtps)) && break
        (($(now_us) < deadline)) || break
        sleep 0.05
    done
    if ! ((ok_plain && ok_ap && ok_smtps)); then
        printf '%s: instance in %s did not come up (plain=%d smtps=%d authplain=%d)\n' \
            "$PROG" "$dir" "$ok_plain" "$ok_smtps" "$ok_ap" >&2
        print_log_tail "$dir"
        cmd_stop "$dir" >/dev/null 2>&1 || true
        exit 1
    fi
    return 0
}

# ---------------------------------------------------------------- stop

cmd_stop() {
    local dir pid deadline n killed=0 p
    dir=$(abs_dir "$1")
    [[ -d $dir ]] || return 0
    load_env "$dir"

    pid=$(master_pid "$dir")
    if is_our_master "$pid" "$dir"; then
        kill -TERM "$pid" 2>/dev/null || true
        # The master SIGTERMs its process group (pgid = master pid) and exits.
        # Orphans are reaped late by some PID 1s: zombies count as dead.
        deadline=$(($(now_us) + 10000000))
        n=0
        while group_alive "$pid"; do
            if ((n++ > 300)) || (($(now_us) >= deadline)); then
                printf '%s: process group %s still alive, giving up\n' "$PROG" "$pid" >&2
                break
            fi
            if ((!killed && n > 100)); then
                # ~5 s without success: force it.
                kill -KILL -- "-$pid" 2>/dev/null || true
                killed=1
            fi
            sleep 0.05
        done
    fi

    # Wait until the listeners refuse connections.
    deadline=$(($(now_us) + 5000000))
    for p in $PFX_PORT $PFX_SMTPS_PORT $PFX_AUTHPLAIN_PORT; do
        n=0
        while tcp_open "$p"; do
            if ((n++ > 100)) || (($(now_us) >= deadline)); then
                printf '%s: warning: 127.0.0.1:%s still accepts connections\n' "$PROG" "$p" >&2
                break
            fi
            sleep 0.05
        done
    done
    return 0
}

# ---------------------------------------------------------------- wait-mail

count_new() {
    local -a files
    shopt -s nullglob
    files=("$1"/*)
    shopt -u nullglob
    printf '%s\n' "${#files[@]}"
}

cmd_wait_mail() {
    local dir want timeout_us deadline n=0 have max
    dir=$(abs_dir "$1")
    want=$2
    [[ $want =~ ^[0-9]+$ ]] || die "N must be a non-negative integer: '$want'"
    timeout_us=$(secs_to_us "${3:-10}")
    local new=$dir/mail/Maildir/new
    deadline=$(($(now_us) + timeout_us))
    max=$((timeout_us / 50000 + 2))
    while :; do
        have=$(count_new "$new")
        ((have >= want)) && return 0
        if ((n++ >= max)) || (($(now_us) >= deadline)); then
            break
        fi
        sleep 0.05
    done
    {
        printf '%s: timeout: %s holds %d file(s), wanted %d\n' "$PROG" "$new" "$have" "$want"
        ls -l "$new" 2>/dev/null || true
        printf '%s: queue:\n' "$PROG"
        postqueue -c "$dir/etc" -p 2>/dev/null | tail -n 20 || true
        printf '%s: --- tail of %s/maillog ---\n' "$PROG" "$dir"
        tail -n 15 "$dir/maillog" 2>/dev/null || true
    } >&2
    return 1
}

# ---------------------------------------------------------------- discard-ext

cmd_discard_ext() {
    local dir list before after deadline n=0 kw missing kws
    dir=$(abs_dir "$1")
    list=$2
    [[ $list =~ ^[A-Za-z0-9,\ _-]*$ ]] || die "invalid keyword list: '$list'"
    [[ -f $dir/etc/main.cf ]] || die "no instance in $dir"
    load_env "$dir"
    is_our_master "$(master_pid "$dir")" "$dir" || die "instance in $dir is not running"

    postconf -c "$dir/etc" -e "smtpd_discard_ehlo_keywords = $list" ||
        die "postconf failed"
    touch -d '1 minute ago' "$dir/etc/main.cf"
    before=$(grep -c 'postfix/master\[[0-9]*\]: reload' "$dir/maillog" || true)
    postfix -c "$dir/etc" reload </dev/null >>"$dir/postfix-cmd.log" 2>&1 ||
        { print_log_tail "$dir"; die "postfix reload failed"; }

    # The keywords that must disappear (upper case).
    read -r -a kws <<<"${list//,/ }"
    deadline=$(($(now_us) + 10000000))
    while :; do
        after=$(grep -c 'postfix/master\[[0-9]*\]: reload' "$dir/maillog" || true)
        if ((after > before)); then
            missing=1
            local ehlo
            if ehlo=$(smtp_ehlo_keywords "$PFX_PORT"); then
                for kw in "${kws[@]}"; do
                    if grep -qxF "${kw^^}" <<<"$ehlo"; then
                        missing=0
                        break
                    fi
                done
            else
                missing=0
            fi
            ((missing)) && return 0
        fi
        if ((n++ > 200)) || (($(now_us) >= deadline)); then
            break
        fi
        sleep 0.05
    done
    printf '%s: reload did not take effect in time\n' "$PROG" >&2
    print_log_tail "$dir"
    return 1
}

# ---------------------------------------------------------------- postconf

# PIDs (one per line) of the living smtpd processes of master $1.
smtpd_pids() {
    local f line rest comm pid
    local -a fields
    for f in /proc/[0-9]*/stat; do
        { IFS= read -r line <"$f"; } 2>/dev/null || continue
        rest=${line##*) }
        read -r -a fields <<<"$rest"
        [[ ${fields[2]:-} == "$1" && ${fields[0]:-} != [ZX] ]] || continue
        comm=${line#*(}
        comm=${comm%%)*}
        [[ $comm == smtpd ]] || continue
        pid=${f#/proc/}
        printf '%s\n' "${pid%/stat}"
    done
}

cmd_postconf() {
    local dir mpid before after deadline n=0 s p alive
    local -a old
    dir=$(abs_dir "$1")
    shift
    [[ -f $dir/etc/main.cf ]] || die "no instance in $dir"
    for s in "$@"; do
        check_setting "$s"
    done
    load_env "$dir"
    mpid=$(master_pid "$dir")
    is_our_master "$mpid" "$dir" || die "instance in $dir is not running"

    postconf -c "$dir/etc" -e "$@" || die "postconf failed"
    touch -d '1 minute ago' "$dir/etc/main.cf"
    mapfile -t old < <(smtpd_pids "$mpid")
    before=$(grep -c 'postfix/master\[[0-9]*\]: reload' "$dir/maillog" || true)
    postfix -c "$dir/etc" reload </dev/null >>"$dir/postfix-cmd.log" 2>&1 ||
        { print_log_tail "$dir"; die "postfix reload failed"; }

    # The master closes the status pipe of the old children on reload; an
    # idle smtpd then exits.  Until it has, it may still take a connection
    # with the old settings.
    deadline=$(($(now_us) + 10000000))
    while :; do
        after=$(grep -c 'postfix/master\[[0-9]*\]: reload' "$dir/maillog" || true)
        if ((after > before)); then
            alive=0
            for p in "${old[@]}"; do
                if [[ -r /proc/$p/stat ]] &&
                    [[ $(proc_state "$p" 2>/dev/null) != [ZX]* ]]; then
                    alive=1
                    break
                fi
            done
            ((alive)) || { smtp_greets "$PFX_PORT" && return 0; } || true
        fi
        if ((n++ > 200)) || (($(now_us) >= deadline)); then
            break
        fi
        sleep 0.05
    done
    printf '%s: reload did not take effect in time\n' "$PROG" >&2
    print_log_tail "$dir"
    return 1
}

# ---------------------------------------------------------------- main

(($# >= 2)) || usage
cmd=$1
shift
case $cmd in
start)
    (($# == 1)) || usage
    cmd_start "$1"
    ;;
stop)
    (($# == 1)) || usage
    cmd_stop "$1"
    ;;
wait-mail)
    (($# == 2 || $# == 3)) || usage
    cmd_wait_mail "$@"
    ;;
discard-ext)
    (($# == 2)) || usage
    cmd_discard_ext "$@"
    ;;
postconf)
    (($# >= 2)) || usage
    cmd_postconf "$@"
    ;;
*)
    usage
    ;;
esac
