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

typedef struct opts {
  const char *host, *port, *from, *helo, *message;
  const char **rcpts;
  size_t nrcpts;
  unsigned long timeout_s, repeat;
  int timeout_set, trace;
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
      "             [--tls none] [--message FILE|-]\n"
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
      "  --tls MODE      only 'none' so far\n"
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
      "  76  server protocol error (EX_PROTOCOL)\n"
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
       O_MESSAGE, O_COUNT };
static const char *const value_opts[O_COUNT] = {
    "--host", "--port", "--from", "--to", "--helo", "--timeout", "--repeat",
    "--tls", "--message"};

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
    default: /* O_TLS */
      if (strcmp(v, "none") != 0) {
        fprintf(stderr, "smtpc: --tls %s: TLS not built yet\n", v);
        return EX_USAGE;
      }
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
  return 0;
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
    return EX_PROTOCOL;
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
  smtpc_io io;
  smtpc_body body;
  unsigned char *msg = NULL;
  size_t msglen = 0;
  char ehlo[256], step[300];
  unsigned long done;
  int rc, ex;

  memset(&o, 0, sizeof o);
  memset(&ty, 0, sizeof ty);
  memset(&tr, 0, sizeof tr);
  o.port = "25";
  o.repeat = 1;
  o.rcpts = calloc((size_t)argc + 1, sizeof *o.rcpts);
  if (o.rcpts == NULL)
    return EX_SOFTWARE;
  ex = parse_args(argc, argv, &o);
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
  smtpc_socket_io(sock, &io);
  if ((rc = smtpc_session_new(&s, NULL)) != SMTPC_OK ||
      (rc = smtpc_session_set_io(s, &io)) != SMTPC_OK ||
      (rc = smtpc_session_set_server_name(s, o.host)) != SMTPC_OK) {
    ex = fail("session", rc, s, sock, &o);
    goto out;
  }
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
    snprintf(step, sizeof step, "%s%s", tr.verb[0] ? tr.verb : "greeting",
             exit_code(rc) == EX_UNAVAILABLE || exit_code(rc) == EX_TEMPFAIL
                 ? " rejected" : "");
    ex = fail(step, rc, s, sock, &o);
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
  smtpc_socket_free(sock);
  free(msg);
  free(o.rcpts);
  return ex;
}
