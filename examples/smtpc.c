/* SPDX-License-Identifier: MIT */
/* smtpc -- send an RFC 5322 message over SMTP with libsmtpc.
 *
 * The message is read into memory once and sent --repeat times over one
 * connection; with PIPELINING the transactions share round trips.
 *
 * The flags and the exit codes are stable (scripts drive them); both are
 * documented in help() below and in smtpc(1).  Rules for the exit code:
 * everything accepted is 0; anything accepted but not everything is 3
 * (partial); otherwise the cause decides (exit_code()), a connection or
 * protocol error taking precedence over the replies of earlier messages.
 */
#include <smtpc/smtpc.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#define EXIT_PARTIAL 3
#define MAX_MESSAGE ((size_t)1 << 30) /* 1 GiB */
#define MAX_REPEAT 1000000UL
#define BATCH 256 /* transactions queued per smtpc_session_run() */
#define CONNECT_TIMEOUT_MS 30000u /* when --timeout is not given */

enum { TLS_NONE, TLS_STARTTLS, TLS_TRY, TLS_IMPLICIT };

typedef struct opts {
  const char *host, *port, *from, *helo, *message;
  const char **rcpts;
  size_t nrcpts;
  unsigned long timeout_s, repeat;
  int timeout_set, trace;
  int tls, insecure, allow_plain;
  const char *cafile, *capath, *cert, *key;
  const char *user, *password_env, *password_file, *token_env, *auth;
} opts;

/* Outcome of the run, folded message by message. */
typedef struct tally {
  unsigned long long delivered, total; /* recipient deliveries */
  int temp, perm;  /* some failure was 4xx / 5xx */
  int other;       /* exit code of another per-message failure, or 0 */
} tally;

static void usage(FILE *f) {
  fputs(
      "usage: smtpc --host H [--port P] --from ADDR --to ADDR [--to ADDR...]\n"
      "             [--helo NAME] [--timeout S] [--repeat N] [--trace]\n"
      "             [--tls none|starttls|try|implicit] [--cafile F]\n"
      "             [--capath D] [--insecure] [--cert F --key F]\n"
      "             [--user U (--password-env VAR | --password-file F |\n"
      "              --oauth2-token-env VAR)] [--auth MECH]\n"
      "             [--allow-plaintext-auth] [--message FILE|-]\n"
      "       smtpc --help | --version\n",
      f);
}

static void help(void) {
  usage(stdout);
  fputs(
      "\nSends the RFC 5322 message in FILE (default: standard input) to the\n"
      "SMTP server H:P (port default 25), N times over one connection.\n"
      "\n"
      "  --from ADDR     envelope sender, no angle brackets ('' for <>)\n"
      "  --to ADDR       envelope recipient; repeat for more\n"
      "  --helo NAME     EHLO name (default: this host's FQDN, else the\n"
      "                  local address literal)\n"
      "  --timeout S     seconds allowed for the connect and for each server\n"
      "                  reply; 0 = no limit (default: 30 s to connect, RFC\n"
      "                  5321 limits of 2-10 minutes per command)\n"
      "  --repeat N      send the message N times (default 1)\n"
      "  --trace         print the dialogue on stderr (C: client, S: server)\n"
      "  --tls MODE      none (default); starttls = STARTTLS required, never\n"
      "                  falls back to clear text; try = STARTTLS when offered;\n"
      "                  implicit = TLS from the first byte (port 465)\n"
      "  --cafile F      trust the CA certificates in F (PEM) instead of the\n"
      "                  system bundle; --capath D: every file in D\n"
      "  --insecure      DANGEROUS: do not verify the server certificate\n"
      "  --cert F --key F  present a client certificate\n"
      "  --user U        authenticate as U; the secret comes from\n"
      "                  --password-env VAR, --password-file F (first line)\n"
      "                  or --oauth2-token-env VAR, never the command line\n"
      "  --auth MECH     PLAIN, LOGIN, CRAM-MD5, XOAUTH2 or OAUTHBEARER\n"
      "                  (default: the strongest both sides support)\n"
      "  --allow-plaintext-auth  allow AUTH without TLS (refused otherwise)\n"
      "\nExit status:\n"
      "   0  every recipient of every message accepted\n"
      "   3  partial: some recipients or messages accepted, some not;\n"
      "      each failure is printed on stderr\n"
      "  64  usage error (EX_USAGE)          65  message unsendable (EX_DATAERR)\n"
      "  66  cannot read message (EX_NOINPUT) 68  host not found (EX_NOHOST)\n"
      "  69  permanent failure, 5xx (EX_UNAVAILABLE)\n"
      "  70  internal error (EX_SOFTWARE)\n"
      "  74  connection failed, timed out or lost (EX_IOERR)\n"
      "  75  temporary failure, 4xx (EX_TEMPFAIL)\n"
      "  76  server protocol error or TLS failure (EX_PROTOCOL)\n"
      "  77  authentication failed (EX_NOPERM)\n"
      "  78  TLS or AUTH impossible as configured: not offered, not built,\n"
      "      or credentials would go out in clear (EX_CONFIG)\n"
      "Codes other than 0 and 3 mean nothing was accepted.\n",
      stdout);
}

static int parse_ulong(const char *s, unsigned long max, unsigned long *out) {
  char *end;
  unsigned long v;
  if (s[0] < '0' || s[0] > '9')
    return -1;
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno != 0 || *end != '\0' || v > max)
    return -1;
  *out = v;
  return 0;
}

/* Options that take a value, as "--name value" or "--name=value". */
enum { O_HOST, O_PORT, O_FROM, O_TO, O_HELO, O_TIMEOUT, O_REPEAT, O_TLS,
       O_MESSAGE, O_CAFILE, O_CAPATH, O_CERT, O_KEY, O_USER, O_PASSENV,
       O_PASSFILE, O_TOKENENV, O_AUTH, O_COUNT };
static const char *const value_opts[O_COUNT] = {
    "--host", "--port", "--from", "--to", "--helo", "--timeout", "--repeat",
    "--tls", "--message", "--cafile", "--capath", "--cert", "--key",
    "--user", "--password-env", "--password-file", "--oauth2-token-env",
    "--auth"};

static int auth_mech(const char *name) {
  static const char *const names[] = {"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2",
                                      "OAUTHBEARER"};
  static const smtpc_auth_mech mechs[] = {
      SMTPC_AUTH_PLAIN, SMTPC_AUTH_LOGIN, SMTPC_AUTH_CRAM_MD5,
      SMTPC_AUTH_XOAUTH2, SMTPC_AUTH_OAUTHBEARER};
  size_t i, k;
  for (i = 0; i < 5; i++) {
    for (k = 0; names[i][k] && name[k] &&
                (name[k] == names[i][k] || name[k] == names[i][k] + 32 ||
                 (names[i][k] == '-' && name[k] == '-'));
         k++)
      ;
    if (names[i][k] == '\0' && name[k] == '\0')
      return (int)mechs[i];
  }
  return -1;
}

/* Returns 0 to go on, -1 after --help/--version, or EX_USAGE. */
static int parse_args(int argc, char **argv, opts *o) {
  int i, k;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *v, *eq = strchr(argv[i], '=');
    size_t n = eq != NULL ? (size_t)(eq - a) : strlen(a);
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      help();
      return -1;
    }
    if (strcmp(a, "--version") == 0) {
      printf("smtpc (libsmtpc) %s\n", smtpc_version());
      return -1;
    }
    if (strcmp(a, "--trace") == 0) {
      o->trace = 1;
      continue;
    }
    if (strcmp(a, "--insecure") == 0) {
      o->insecure = 1;
      continue;
    }
    if (strcmp(a, "--allow-plaintext-auth") == 0) {
      o->allow_plain = 1;
      continue;
    }
    if (strcmp(a, "--password") == 0 || strncmp(a, "--password=", 11) == 0) {
      fputs("smtpc: passwords are not taken on the command line (other users\n"
            "  can read it); use --password-env VAR or --password-file F\n",
            stderr);
      return EX_USAGE;
    }
    for (k = 0; k < O_COUNT; k++)
      if (strlen(value_opts[k]) == n && strncmp(a, value_opts[k], n) == 0)
        break;
    if (k == O_COUNT) {
      fprintf(stderr, "smtpc: unknown argument '%s'\n", a);
      usage(stderr);
      return EX_USAGE;
    }
    if (eq != NULL)
      v = eq + 1;
    else if (i + 1 < argc)
      v = argv[++i];
    else {
      fprintf(stderr, "smtpc: %s needs a value\n", a);
      return EX_USAGE;
    }
    switch (k) {
    case O_HOST: o->host = v; break;
    case O_PORT: o->port = v; break;
    case O_FROM: o->from = v; break;
    case O_TO: o->rcpts[o->nrcpts++] = v; break;
    case O_HELO: o->helo = v; break;
    case O_MESSAGE: o->message = v; break;
    case O_TIMEOUT:
      if (parse_ulong(v, UINT_MAX / 1000u, &o->timeout_s) != 0)
        goto badval;
      o->timeout_set = 1;
      break;
    case O_REPEAT:
      if (parse_ulong(v, MAX_REPEAT, &o->repeat) != 0 || o->repeat == 0)
        goto badval;
      break;
    case O_CAFILE: o->cafile = v; break;
    case O_CAPATH: o->capath = v; break;
    case O_CERT: o->cert = v; break;
    case O_KEY: o->key = v; break;
    case O_USER: o->user = v; break;
    case O_PASSENV: o->password_env = v; break;
    case O_PASSFILE: o->password_file = v; break;
    case O_TOKENENV: o->token_env = v; break;
    case O_AUTH:
      if (auth_mech(v) < 0)
        goto badval;
      o->auth = v;
      break;
    default: /* O_TLS */
      if (strcmp(v, "none") == 0)
        o->tls = TLS_NONE;
      else if (strcmp(v, "starttls") == 0)
        o->tls = TLS_STARTTLS;
      else if (strcmp(v, "try") == 0)
        o->tls = TLS_TRY;
      else if (strcmp(v, "implicit") == 0)
        o->tls = TLS_IMPLICIT;
      else
        goto badval;
    }
    continue;
  badval:
    fprintf(stderr, "smtpc: bad value for %s: '%s'\n", value_opts[k], v);
    return EX_USAGE;
  }
  if (o->host == NULL || o->from == NULL || o->nrcpts == 0) {
    fputs("smtpc: --host, --from and --to are required\n", stderr);
    usage(stderr);
    return EX_USAGE;
  }
  if ((o->cert == NULL) != (o->key == NULL)) {
    fputs("smtpc: --cert and --key go together\n", stderr);
    return EX_USAGE;
  }
  if (o->user != NULL && (o->password_env != NULL) + (o->password_file != NULL) +
                                 (o->token_env != NULL) != 1) {
    fputs("smtpc: --user needs exactly one of --password-env, "
          "--password-file, --oauth2-token-env\n", stderr);
    return EX_USAGE;
  }
  if (o->user == NULL && (o->password_env || o->password_file || o->token_env)) {
    fputs("smtpc: a password or token needs --user\n", stderr);
    return EX_USAGE;
  }
  if (o->token_env != NULL && o->auth == NULL)
    o->auth = "XOAUTH2";
  return 0;
}

/* Reads the secret named by the options into a malloc'd string (which the
 * caller wipes).  Returns 0 or an exit code. */
static int read_secret(const opts *o, char **out) {
  const char *v = NULL;
  char line[4096];
  size_t n;
  *out = NULL;
  if (o->password_env != NULL || o->token_env != NULL) {
    const char *name = o->password_env ? o->password_env : o->token_env;
    v = getenv(name);
    if (v == NULL || *v == '\0') {
      fprintf(stderr, "smtpc: environment variable %s is not set\n", name);
      return EX_USAGE;
    }
    *out = strdup(v);
  } else if (o->password_file != NULL) {
    FILE *f = fopen(o->password_file, "r");
    if (f == NULL) {
      fprintf(stderr, "smtpc: %s: %s\n", o->password_file, strerror(errno));
      return EX_NOINPUT;
    }
    if (fgets(line, sizeof line, f) == NULL)
      line[0] = '\0';
    fclose(f);
    n = strcspn(line, "\r\n");
    line[n] = '\0';
    if (n == 0) {
      fprintf(stderr, "smtpc: %s: empty password\n", o->password_file);
      return EX_USAGE;
    }
    *out = strdup(line);
    memset(line, 0, sizeof line);
  }
  return *out == NULL ? EX_SOFTWARE : 0;
}

/* Reads the whole message; returns 0 or an exit code. */
static int read_message(const char *path, unsigned char **out, size_t *len) {
  FILE *f = stdin;
  unsigned char *buf = NULL;
  size_t cap = 0, n = 0;
  int err = 0;
  if (path != NULL && strcmp(path, "-") != 0 && (f = fopen(path, "rb")) == NULL)
    goto fail;
  for (;;) { /* bounded by MAX_MESSAGE */
    size_t got;
    if (n == cap) {
      unsigned char *nb;
      cap = cap == 0 ? 65536 : cap * 2;
      if (cap > MAX_MESSAGE + 1)
        cap = MAX_MESSAGE + 1;
      if (n == cap || (nb = realloc(buf, cap)) == NULL) {
        free(buf);
        fprintf(stderr, "smtpc: %s: %s\n", path ? path : "-",
                n == cap ? "message over 1 GiB" : "out of memory");
        if (f != stdin)
          fclose(f);
        return n == cap ? EX_DATAERR : EX_SOFTWARE;
      }
      buf = nb;
    }
    got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0 || feof(f) || ferror(f))
      break;
  }
  if (ferror(f))
    err = errno != 0 ? errno : EIO;
  if (f != stdin)
    fclose(f);
  if (err != 0) {
    free(buf);
    errno = err;
    goto fail;
  }
  *out = buf;
  *len = n;
  return 0;
fail:
  fprintf(stderr, "smtpc: %s: %s\n", path ? path : "-", strerror(errno));
  return EX_NOINPUT;
}

/* Prints server-supplied text with control characters replaced. */
static void put_clean(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    fputc(c == '\n' ? ' ' : (c < 0x20 || c == 0x7f) ? '?' : c, stderr);
  }
}

static void put_reply(const smtpc_reply *r) {
  const char *enh, *text;
  if (r == NULL) {
    fputs("no reply", stderr);
    return;
  }
  enh = smtpc_reply_enhanced(r);
  text = smtpc_reply_text(r);
  fprintf(stderr, "%d", smtpc_reply_code(r));
  if (enh[0] != '\0')
    fprintf(stderr, " %s", enh);
  if (text[0] != '\0') {
    fputc(' ', stderr);
    put_clean(text, strlen(text));
  }
}

/* Always installed: remembers the verb of the last command sent, to name
 * the step that failed (the API reports the error, not the command). */
typedef struct tracer {
  int print; /* --trace */
  char verb[16];
} tracer;

static void trace_cb(void *user, smtpc_trace_dir dir, const char *line,
                     size_t len) {
  tracer *tr = user;
  if (dir == SMTPC_TRACE_OUT) {
    size_t n = 0;
    while (n < len && n < sizeof tr->verb - 1 && line[n] != ' ')
      n++;
    memcpy(tr->verb, line, n);
    tr->verb[n] = '\0';
  }
  if (!tr->print)
    return;
  fputs(dir == SMTPC_TRACE_IN ? "S: " : dir == SMTPC_TRACE_OUT ? "C: " : "*: ",
        stderr);
  put_clean(line, len);
  fputc('\n', stderr);
}

static int exit_code(int rc) {
  switch (rc) {
  case SMTPC_OK: return EX_OK;
  case SMTPC_ERR_BAD_ADDRESS: case SMTPC_ERR_BAD_ARGUMENT: return EX_USAGE;
  case SMTPC_ERR_BODY_LINE_TOO_LONG: return EX_DATAERR;
  case SMTPC_ERR_RESOLVE: return EX_NOHOST;
  case SMTPC_ERR_REPLY_PERMANENT: case SMTPC_ERR_GREETING_REFUSED:
  case SMTPC_ERR_8BIT_UNSUPPORTED: case SMTPC_ERR_MESSAGE_TOO_BIG:
    return EX_UNAVAILABLE;
  case SMTPC_ERR_CONNECT: case SMTPC_ERR_TIMEOUT: case SMTPC_ERR_IO:
  case SMTPC_ERR_EOF: return EX_IOERR;
  case SMTPC_ERR_REPLY_TEMPORARY: case SMTPC_ERR_SERVICE_CLOSING:
    return EX_TEMPFAIL;
  case SMTPC_ERR_PROTOCOL: case SMTPC_ERR_REPLY_LINE_TOO_LONG:
  case SMTPC_ERR_REPLY_TOO_LARGE: case SMTPC_ERR_UNEXPECTED_DATA:
  case SMTPC_ERR_TLS: case SMTPC_ERR_CERTIFICATE:
  case SMTPC_ERR_AUTH_BAD_CHALLENGE:
    return EX_PROTOCOL;
  case SMTPC_ERR_AUTH_FAILED: return EX_NOPERM;
  case SMTPC_ERR_STARTTLS_UNAVAILABLE: case SMTPC_ERR_AUTH_INSECURE:
  case SMTPC_ERR_AUTH_UNSUPPORTED: case SMTPC_ERR_NOT_SUPPORTED:
    return EX_CONFIG;
  default: return EX_SOFTWARE;
  }
}

/* One line on stderr: "smtpc: STEP: detail". */
static int fail(const char *step, int rc, smtpc_session *s,
                const smtpc_socket *sock, const opts *o) {
  int e = smtpc_socket_last_errno(sock);
  /* The reply that caused rc; a SERVICE_CLOSING from a silent close has
   * none (the last reply is then an older 2xx/3xx). */
  const smtpc_reply *r = s != NULL ? smtpc_session_last_reply(s) : NULL;
  fprintf(stderr, "smtpc: %s: ", step);
  if (rc == SMTPC_ERR_TIMEOUT && o->timeout_set)
    fprintf(stderr, "timed out after %lu s", o->timeout_s);
  else if ((rc == SMTPC_ERR_IO || rc == SMTPC_ERR_CONNECT) && e != 0)
    fputs(strerror(e), stderr);
  else if (smtpc_reply_code(r) >= 400 &&
           (rc == SMTPC_ERR_REPLY_TEMPORARY || rc == SMTPC_ERR_REPLY_PERMANENT ||
            rc == SMTPC_ERR_AUTH_FAILED ||
            rc == SMTPC_ERR_GREETING_REFUSED ||
            rc == SMTPC_ERR_SERVICE_CLOSING))
    put_reply(r);
  else
    fputs(smtpc_strerror(rc), stderr);
  fputc('\n', stderr);
  return exit_code(rc);
}

static void note_code(tally *ty, int code) {
  if (code >= 400 && code < 500)
    ty->temp = 1;
  else
    ty->perm = 1;
}

/* Prints what went wrong with one message and folds it into ty.  Errors
 * equal to the session's (connection lost...) are reported once by main. */
static void account(tally *ty, smtpc_txn *t, unsigned long msgno,
                    const opts *o, int session_rc) {
  int st = smtpc_txn_status(t);
  size_t i, nr = smtpc_txn_rcpt_count(t);
  char pre[48] = "";
  if (o->repeat > 1)
    snprintf(pre, sizeof pre, "message %lu: ", msgno);
  if (st == SMTPC_OK || st == SMTPC_ERR_PARTIAL)
    ty->delivered += smtpc_txn_accepted_count(t);
  if (st == SMTPC_OK)
    return;
  if (st == SMTPC_ERR_PARTIAL || st == SMTPC_ERR_NO_RECIPIENTS) {
    for (i = 0; i < nr; i++) {
      const smtpc_reply *r = smtpc_txn_rcpt_reply(t, i);
      int code = smtpc_reply_code(r);
      if (code >= 200 && code < 300)
        continue;
      note_code(ty, code);
      fprintf(stderr, "smtpc: %sRCPT TO:<%s> rejected: ", pre,
              smtpc_txn_rcpt(t, i));
      put_reply(r);
      fputc('\n', stderr);
    }
  } else if (st == SMTPC_ERR_REPLY_TEMPORARY ||
             st == SMTPC_ERR_REPLY_PERMANENT) {
    ty->temp |= st == SMTPC_ERR_REPLY_TEMPORARY;
    ty->perm |= st == SMTPC_ERR_REPLY_PERMANENT;
    switch (smtpc_txn_step(t)) {
    case SMTPC_STEP_MAIL:
      fprintf(stderr, "smtpc: %sMAIL FROM:<%s> rejected: ", pre, o->from);
      break;
    case SMTPC_STEP_DATA:
      fprintf(stderr, "smtpc: %sDATA rejected: ", pre);
      break;
    default:
      fprintf(stderr, "smtpc: %smessage rejected after end of data: ", pre);
      break;
    }
    put_reply(smtpc_txn_reply(t));
    fputc('\n', stderr);
  } else if (st != session_rc) {
    if (ty->other == 0)
      ty->other = exit_code(st);
    if (smtpc_txn_step(t) == SMTPC_STEP_DATA_END)
      fprintf(stderr, "smtpc: %sconnection lost after end of data: the "
              "message may have been delivered: %s\n", pre,
              smtpc_strerror(st));
    else
      fprintf(stderr, "smtpc: %smessage not sent: %s\n", pre,
              smtpc_strerror(st));
  }
}

/* Queues up to BATCH copies of the message and runs them.  Returns the
 * session error that stopped the run, or SMTPC_OK. */
static int send_batch(smtpc_session *s, const opts *o, const smtpc_body *body,
                      unsigned long first, unsigned long count, tally *ty) {
  smtpc_txn *txns[BATCH];
  unsigned long i, queued = 0;
  int qrc = SMTPC_OK, rc = SMTPC_OK;
  for (i = 0; i < count && qrc == SMTPC_OK; i++) {
    qrc = smtpc_session_queue(s, o->from, o->rcpts, o->nrcpts, body, &txns[i]);
    if (qrc == SMTPC_OK)
      queued++;
  }
  if (queued > 0) /* finish what was queued even if queueing failed later */
    rc = smtpc_session_run(s);
  for (i = 0; i < queued; i++) {
    account(ty, txns[i], first + i, o, rc);
    smtpc_txn_free(txns[i]);
  }
  return rc != SMTPC_OK ? rc : qrc;
}

int main(int argc, char **argv) {
  opts o;
  tally ty;
  tracer tr;
  smtpc_socket *sock = NULL;
  smtpc_session *s = NULL;
  smtpc_tls *tls = NULL;
  smtpc_io io, sockio;
  char *secret = NULL;
  smtpc_body body;
  unsigned char *msg = NULL;
  size_t msglen = 0;
  char ehlo[256], step[300];
  unsigned long done;
  int rc, ex;

  memset(&o, 0, sizeof o);
  memset(&ty, 0, sizeof ty);
  memset(&tr, 0, sizeof tr);
  o.port = NULL;
  o.repeat = 1;
  o.rcpts = calloc((size_t)argc + 1, sizeof *o.rcpts);
  if (o.rcpts == NULL)
    return EX_SOFTWARE;
  ex = parse_args(argc, argv, &o);
  if (ex == 0 && o.port == NULL)
    o.port = o.tls == TLS_IMPLICIT ? "465" : "25";
  if (ex == 0 && o.user != NULL)
    ex = read_secret(&o, &secret);
  if (ex == 0)
    ex = read_message(o.message, &msg, &msglen);
  if (ex != 0) {
    ex = ex < 0 ? EX_OK : ex; /* -1: --help or --version */
    goto out;
  }

  snprintf(step, sizeof step, "connect %s:%s", o.host, o.port);
  if ((rc = smtpc_socket_new(&sock, NULL)) != SMTPC_OK ||
      (rc = smtpc_socket_connect(sock, o.host, o.port,
                                 o.timeout_set ? (unsigned)o.timeout_s * 1000u
                                               : CONNECT_TIMEOUT_MS)) != 0) {
    if (rc == SMTPC_ERR_RESOLVE)
      snprintf(step, sizeof step, "resolve %s", o.host);
    if (rc == SMTPC_ERR_INVALID_ARGUMENT) { /* not a port number or service */
      fprintf(stderr, "smtpc: --port %s: unknown port\n", o.port);
      ex = EX_USAGE;
    } else
      ex = fail(step, rc, NULL, sock, &o);
    goto out;
  }
  smtpc_socket_io(sock, &sockio);
  io = sockio;
  if (o.tls != TLS_NONE) {
    const char *what = "TLS set-up";
    rc = smtpc_tls_new(&tls, NULL, o.tls == TLS_IMPLICIT
                                       ? SMTPC_TLS_MODE_IMPLICIT
                                       : SMTPC_TLS_MODE_STARTTLS);
    if (rc == SMTPC_OK)
      rc = smtpc_tls_set_hostname(tls, o.host);
    if (rc == SMTPC_OK && o.cafile != NULL)
      what = o.cafile, rc = smtpc_tls_set_cafile(tls, o.cafile);
    if (rc == SMTPC_OK && o.capath != NULL)
      what = o.capath, rc = smtpc_tls_set_capath(tls, o.capath);
    if (rc == SMTPC_OK && o.cert != NULL)
      what = o.cert, rc = smtpc_tls_set_client_cert(tls, o.cert, o.key);
    if (rc == SMTPC_OK) {
      smtpc_tls_insecure_skip_verify(tls, o.insecure);
      what = "TLS set-up";
      rc = smtpc_tls_wrap(tls, &sockio, &io);
    }
    if (rc != SMTPC_OK) {
      fprintf(stderr, "smtpc: %s: %s%s%s\n", what, smtpc_strerror(rc),
              tls && *smtpc_tls_last_error(tls) ? ": " : "",
              tls ? smtpc_tls_last_error(tls) : "");
      ex = exit_code(rc);
      goto out;
    }
  }
  if ((rc = smtpc_session_new(&s, NULL)) != SMTPC_OK ||
      (rc = smtpc_session_set_io(s, &io)) != SMTPC_OK ||
      (rc = smtpc_session_set_server_name(s, o.host)) != SMTPC_OK ||
      (rc = smtpc_session_set_tls_policy(
           s, o.tls == TLS_TRY    ? SMTPC_TLS_OPPORTUNISTIC
              : o.tls == TLS_NONE ? SMTPC_TLS_NONE
                                  : SMTPC_TLS_REQUIRED)) != SMTPC_OK ||
      (o.user != NULL &&
       (rc = smtpc_session_set_auth(
            s, o.auth ? (smtpc_auth_mech)auth_mech(o.auth) : SMTPC_AUTH_AUTO,
            o.user, secret, NULL)) != SMTPC_OK)) {
    ex = fail(rc == SMTPC_ERR_BAD_ARGUMENT ? "--user" : "session", rc, s, sock,
              &o);
    goto out;
  }
  if (secret != NULL) { /* the library keeps its own copy */
    memset(secret, 0, strlen(secret));
    free(secret);
    secret = NULL;
  }
  smtpc_session_set_flag(s, SMTPC_FLAG_ALLOW_PLAINTEXT_AUTH, o.allow_plain);
  if (o.helo == NULL && smtpc_socket_ehlo_name(sock, ehlo, sizeof ehlo) == 0)
    o.helo = ehlo;
  if (o.helo != NULL && (rc = smtpc_session_set_ehlo_name(s, o.helo)) != 0) {
    ex = fail("--helo", rc, s, sock, &o);
    goto out;
  }
  if (o.timeout_set)
    smtpc_session_set_timeout_all(s, (unsigned)o.timeout_s * 1000u);
  tr.print = o.trace;
  smtpc_session_set_trace(s, trace_cb, &tr);

  rc = smtpc_session_open(s);
  if (rc != SMTPC_OK) { /* "greeting: ...", "EHLO rejected: 550 ..." */
    if ((rc == SMTPC_ERR_TLS || rc == SMTPC_ERR_CERTIFICATE) && tls != NULL) {
      fprintf(stderr, "smtpc: TLS handshake with %s: %s%s%s\n", o.host,
              smtpc_strerror(rc), *smtpc_tls_last_error(tls) ? ": " : "",
              smtpc_tls_last_error(tls));
      ex = exit_code(rc);
      goto quit;
    }
    const char *verb = tr.verb[0] ? tr.verb : "greeting";
    if (rc == SMTPC_ERR_AUTH_FAILED || rc == SMTPC_ERR_AUTH_INSECURE ||
        rc == SMTPC_ERR_AUTH_UNSUPPORTED || rc == SMTPC_ERR_AUTH_BAD_CHALLENGE)
      verb = "AUTH";
    else if (rc == SMTPC_ERR_STARTTLS_UNAVAILABLE)
      verb = "STARTTLS";
    snprintf(step, sizeof step, "%s%s", verb,
             exit_code(rc) == EX_UNAVAILABLE || exit_code(rc) == EX_TEMPFAIL ||
                     rc == SMTPC_ERR_AUTH_FAILED
                 ? " rejected" : "");
    if (rc == SMTPC_ERR_AUTH_FAILED || rc == SMTPC_ERR_REPLY_PERMANENT ||
        rc == SMTPC_ERR_REPLY_TEMPORARY)
      ex = fail(step, rc, s, sock, &o);
    else {
      fprintf(stderr, "smtpc: %s: %s\n", step, smtpc_strerror(rc));
      ex = exit_code(rc);
    }
    goto quit;
  }
  smtpc_body_init_memory(&body, msg, msglen);
  ty.total = (unsigned long long)o.repeat * o.nrcpts;
  for (done = 0; done < o.repeat && rc == SMTPC_OK;) {
    unsigned long n = o.repeat - done > BATCH ? BATCH : o.repeat - done;
    rc = send_batch(s, &o, &body, done + 1, n, &ty);
    done += n;
  }
  if (rc == SMTPC_ERR_BAD_ADDRESS)
    ex = fail("--from/--to", rc, s, sock, &o);
  else if (rc != SMTPC_OK)
    ex = fail("sending", rc, s, sock, &o);
  if (ty.delivered == ty.total)
    ex = EX_OK; /* everything was accepted before any late error */
  else if (ty.delivered > 0) {
    fprintf(stderr, "smtpc: partial: %llu of %llu deliveries accepted\n",
            ty.delivered, ty.total);
    ex = EXIT_PARTIAL;
  } else if (rc == SMTPC_OK)
    ex = ty.other ? ty.other : ty.perm ? EX_UNAVAILABLE : EX_TEMPFAIL;
quit:
  if (rc == SMTPC_OK || !smtpc_error_is_fatal(rc))
    (void)smtpc_session_quit(s); /* the outcome is already known */
  smtpc_session_close(s);
out:
  smtpc_session_free(s);
  smtpc_tls_free(tls);
  smtpc_socket_free(sock);
  if (secret != NULL) {
    memset(secret, 0, strlen(secret));
    free(secret);
  }
  free(msg);
  free(o.rcpts);
  return ex;
}
