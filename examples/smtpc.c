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
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* realpath(), S_ISVTX */
#endif
#include <smtpc/smtpc.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#define EXIT_PARTIAL 3
#define MAX_MESSAGE ((size_t)1 << 30) /* 1 GiB */
#define MAX_REPEAT 1000000UL
#define BATCH 256 /* transactions queued per smtpc_session_run() */
#define CONNECT_TIMEOUT_MS 30000u /* when --timeout is not given */
#define SECRET_MAX 4096      /* password buffer: up to 4095 bytes and a NUL */
#define CONFIG_LINE_MAX 1024 /* config line buffer: 1023 bytes and a NUL */
#define DKIM_MAX 8           /* --dkim-key: signatures per message */
#define DKIM_KEY_MAX 65536   /* bytes of a key file (RSA-16384 PEM: 13 KB) */

extern char **environ; /* for posix_spawn(); POSIX has no header for it */

enum { TLS_NONE, TLS_STARTTLS, TLS_TRY, TLS_IMPLICIT };

/* One DKIM signature: --dkim-key and the --dkim-* options that follow it
 * (or, in opts.dkim_def, those given before the first --dkim-key, which
 * every key without its own takes). */
typedef struct dkim_opt {
  const char *key, *selector, *domain;
  int algo;  /* smtpc_dkim_algo, 0 = any */
  int canon; /* 1 + header * 2 + body (smtpc_dkim_canon), 0 = default */
  int canon_set;
} dkim_opt;

typedef struct opts {
  const char *host, *port, *from, *helo, *message;
  const char **rcpts; /* --to values as given ("Name <addr>" allowed) */
  size_t nrcpts;
  const char **cc, **bcc, **attach, **inl, **headers;
  size_t ncc, nbcc, nattach, ninl, nheaders;
  const char *subject, *text, *html, *reply_to, *config, *password_cmd;
  int dry_run, verify, env_owned;
  const char **env_rcpts; /* envelope: the addresses only */
  size_t nenv;
  const char *env_from;
  char **owned; /* strings to free at exit */
  size_t nowned, capowned;
  unsigned long timeout_s, repeat;
  int timeout_set, trace;
  int tls, tls_set, insecure, allow_plain;
  const char *cafile, *capath, *cert, *key;
  const char *user, *password_env, *password_file, *token_env, *auth;
  /* DSN: --notify, --ret, --envid, --dsn-required */
  unsigned notify;
  smtpc_dsn_ret ret;
  const char *envid;
  int dsn, dsn_required;
  int bdat;   /* --bdat: BDAT when CHUNKING is offered */
  int binary; /* --binary: --message is binary MIME (RFC 3030 3) */
  /* RFC 8689: --requiretls (MAIL parameter), --tls-required-no (field) */
  int requiretls, tls_required_no;
  /* DKIM: --dkim-key FILE (repeatable) with --dkim-selector, --dkim-domain,
   * --dkim-algo, --dkim-canon; keys[] loaded by load_dkim() */
  dkim_opt dkim_def, dkim[DKIM_MAX];
  size_t ndkim;
  smtpc_dkim *keys[DKIM_MAX];
} opts;

/* Outcome of the run, folded message by message. */
typedef struct tally {
  unsigned long long delivered, total; /* recipient deliveries */
  int temp, perm;                      /* some failure was 4xx / 5xx */
  int other;       /* exit code of another per-message failure, or 0 */
  int dsn_noted;   /* "DSN not offered" was printed */
  int body_failed; /* the built message could not be made for the server */
} tally;

/* strdup() whose result is freed at exit (see free_opts). */
static char *kstrdup(opts *o, const char *v) {
  char *c;
  if (o->nowned == o->capowned) {
    size_t n = o->capowned ? o->capowned * 2 : 16;
    char **p = realloc(o->owned, n * sizeof *p);
    if (p == NULL)
      return NULL;
    o->owned = p;
    o->capowned = n;
  }
  if ((c = strdup(v)) != NULL)
    o->owned[o->nowned++] = c;
  return c;
}

static void free_opts(opts *o) {
  size_t i;
  for (i = 0; i < o->nowned; i++)
    free(o->owned[i]);
  free(o->owned);
  free(o->rcpts);
  free(o->cc);
  free(o->bcc);
  free(o->attach);
  free(o->inl);
  free(o->headers);
  if (o->env_owned)
    free(o->env_rcpts);
  for (i = 0; i < o->ndkim; i++)
    smtpc_dkim_free(o->keys[i]); /* wipes the private key */
}

static void usage(FILE *f) {
  fputs(
      "usage: smtpc --host H [--port P] --from ADDR --to ADDR [--to ADDR...]\n"
      "             [--helo NAME] [--timeout S] [--repeat N] [--trace]\n"
      "             [--tls none|starttls|try|implicit] [--cafile F]\n"
      "             [--capath D] [--insecure] [--cert F --key F]\n"
      "             [--user U (--password-env VAR | --password-file F |\n"
      "              --oauth2-token-env VAR)] [--auth MECH]\n"
      "             [--allow-plaintext-auth] [--message FILE|-]\n"
      "             [--subject S] [--text FILE|-] [--html FILE] [--attach "
      "FILE]\n"
      "             [--inline FILE] [--cc ADDR] [--bcc ADDR] [--reply-to "
      "ADDR]\n"
      "             [--header 'Name: value'] [--config F] [--dry-run]\n"
      "             [--notify WHAT] [--ret FULL|HDRS] [--envid ID]\n"
      "             [--dsn-required] [--bdat] [--binary]\n"
      "             [--requiretls | --tls-required-no]\n"
      "             [--dkim-key FILE --dkim-selector S [--dkim-domain D]\n"
      "              [--dkim-algo A] [--dkim-canon C]]...\n"
      "       smtpc --verify --host H [connection and --user options]\n"
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
      "                  falls back to clear text; try = STARTTLS when "
      "offered;\n"
      "                  implicit = TLS from the first byte (port 465)\n"
      "  --cafile F      trust the CA certificates in F (PEM) instead of the\n"
      "                  system bundle; --capath D: every file in D\n"
      "  --insecure      DANGEROUS: do not verify the server certificate\n"
      "  --cert F --key F  present a client certificate\n"
      "  --user U        authenticate as U; the secret comes from\n"
      "                  --password-env VAR, --password-file F (first line;\n"
      "                  F owned by you or root, no access for others) or\n"
      "                  --oauth2-token-env VAR, never the command line\n"
      "  --auth MECH     PLAIN, LOGIN, CRAM-MD5, XOAUTH2 or OAUTHBEARER\n"
      "                  (default: the strongest both sides support)\n"
      "  --allow-plaintext-auth  allow AUTH without TLS (refused otherwise)\n",
      stdout);
  fputs(
      "\nWithout --message the message is built (MIME) from:\n"
      "  --subject S     subject (UTF-8)\n"
      "  --text FILE|-   text/plain body (UTF-8)\n"
      "  --html FILE     text/html alternative\n"
      "  --attach FILE   attachment (repeatable); --inline FILE: inline image\n"
      "                  for the HTML, Content-ID = the file name "
      "(repeatable)\n"
      "  --cc ADDR, --bcc ADDR  more recipients (Bcc only in the envelope)\n"
      "  --reply-to ADDR, --header 'Name: value' (repeatable)\n"
      "  --from and --to (and --cc, --bcc, --reply-to) accept\n"
      "  'Display Name <addr>': headers keep the name, the envelope the "
      "address\n"
      "  --notify WHAT   delivery status notifications (DSN, RFC 3461) for\n"
      "                  every recipient: NEVER, or a comma list of "
      "SUCCESS,\n"
      "                  FAILURE and DELAY; ORCPT is each recipient's "
      "address\n"
      "  --ret FULL|HDRS what a failure notification returns\n"
      "  --envid ID      envelope id the notifications quote (printable "
      "ASCII)\n"
      "  --bdat          send the message with BDAT (RFC 3030) when the "
      "server\n"
      "                  offers CHUNKING (default: DATA)\n"
      "  --binary        the --message is binary MIME: sent octet for octet\n"
      "                  in BDAT with BODY=BINARYMIME (RFC 3030 3); a server\n"
      "                  without CHUNKING and BINARYMIME gets no MAIL (exit "
      "69)\n"
      "  --dsn-required  fail when the server does not offer DSN (default: "
      "send\n"
      "                  without the request and say so)\n"
      "  --requiretls    require TLS on every hop (RFC 8689): MAIL carries\n"
      "                  REQUIRETLS; without verified TLS (--tls starttls or\n"
      "                  implicit, no --insecure) to a server offering it the\n"
      "                  message is not sent (exit 69)\n"
      "  --tls-required-no  add 'TLS-Required: No' (RFC 8689 3): ask relays\n"
      "                  to ignore TLS policies; not with --requiretls or\n"
      "                  --message\n",
      stdout);
  fputs(
      "  Addresses may be UTF-8 (josé@bücher.example): SMTPUTF8 is used "
      "when\n"
      "  the server offers it; else an IDN domain goes as an A-label and a\n"
      "  UTF-8 local part is refused before MAIL (exit 69)\n"
      "  --dkim-key FILE sign with DKIM (RFC 6376): the private key in FILE\n"
      "                  (PEM or DER; RSA of 2048 bits or more, or Ed25519);\n"
      "                  FILE owned by you or root, no access for others.\n"
      "                  Repeat for more signatures (at most 8, e.g. RSA and\n"
      "                  Ed25519).  The options below apply to the closest\n"
      "                  --dkim-key before them; given before the first one,\n"
      "                  to every key that has no own value\n"
      "  --dkim-selector S  the key's selector, s= (required)\n"
      "  --dkim-domain D the signing domain, d= (default: the domain of\n"
      "                  --from's address)\n"
      "  --dkim-algo A   rsa-sha256 or ed25519-sha256: the key must be of\n"
      "                  that kind (exit 78 if not); default: the key's\n"
      "  --dkim-canon C  canonicalization, as the c= tag: relaxed or simple\n"
      "                  for the header, optionally /relaxed or /simple for\n"
      "                  the body (one name alone: body simple, RFC 6376\n"
      "                  3.5); default relaxed/relaxed\n"
      "  --dry-run       print the message that would be sent, send nothing;\n"
      "                  no password or token is read, no password-command\n"
      "                  run (a --dkim-key is read: the message is signed)\n"
      "  --verify        check the connection, TLS and AUTH settings: "
      "connect,\n"
      "                  EHLO, STARTTLS, AUTH, QUIT; send nothing.  Prints\n"
      "                  'ready: ...' or the step that failed and why\n"
      "  --config F      defaults from F (default ~/.config/smtpc/config if "
      "it\n"
      "                  exists): lines 'key value' for host, port, tls, "
      "user,\n"
      "                  password-command, from, helo, cafile, timeout.  F "
      "and\n"
      "                  its directory must be owned by you or root and not\n"
      "                  writable by others, else F is refused (exit 78)\n"
      "\nExit status:\n"
      "   0  every recipient of every message accepted\n"
      "   3  partial: some recipients or messages accepted, some not;\n"
      "      each failure is printed on stderr\n"
      "  64  usage error (EX_USAGE)          65  message unsendable "
      "(EX_DATAERR)\n"
      "  66  cannot read message (EX_NOINPUT) 68  host not found (EX_NOHOST)\n"
      "  69  permanent failure: 5xx, or an extension required but not\n"
      "      offered (SMTPUTF8, DSN, REQUIRETLS, BINARYMIME) "
      "(EX_UNAVAILABLE)\n"
      "  70  internal error (EX_SOFTWARE)\n"
      "  74  connection failed, timed out or lost (EX_IOERR)\n"
      "  75  temporary failure, 4xx (EX_TEMPFAIL)\n"
      "  76  server protocol error or TLS failure (EX_PROTOCOL)\n"
      "  77  authentication failed (EX_NOPERM)\n"
      "  78  TLS or AUTH impossible as configured: not offered, not built,\n"
      "      or credentials would go out in clear; a bad or refused config,\n"
      "      password or DKIM key file, a DKIM key of another --dkim-algo,\n"
      "      a failing password-command (EX_CONFIG)\n"
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
enum {
  O_HOST,
  O_PORT,
  O_FROM,
  O_TO,
  O_HELO,
  O_TIMEOUT,
  O_REPEAT,
  O_TLS,
  O_MESSAGE,
  O_CAFILE,
  O_CAPATH,
  O_CERT,
  O_KEY,
  O_USER,
  O_PASSENV,
  O_PASSFILE,
  O_TOKENENV,
  O_AUTH,
  O_SUBJECT,
  O_TEXT,
  O_HTML,
  O_ATTACH,
  O_INLINE,
  O_CC,
  O_BCC,
  O_REPLYTO,
  O_HEADER,
  O_CONFIG,
  O_NOTIFY,
  O_RET,
  O_ENVID,
  O_DKIM_KEY,
  O_DKIM_SELECTOR,
  O_DKIM_DOMAIN,
  O_DKIM_ALGO,
  O_DKIM_CANON,
  O_COUNT
};
static const char *const value_opts[O_COUNT] = {"--host",
                                                "--port",
                                                "--from",
                                                "--to",
                                                "--helo",
                                                "--timeout",
                                                "--repeat",
                                                "--tls",
                                                "--message",
                                                "--cafile",
                                                "--capath",
                                                "--cert",
                                                "--key",
                                                "--user",
                                                "--password-env",
                                                "--password-file",
                                                "--oauth2-token-env",
                                                "--auth",
                                                "--subject",
                                                "--text",
                                                "--html",
                                                "--attach",
                                                "--inline",
                                                "--cc",
                                                "--bcc",
                                                "--reply-to",
                                                "--header",
                                                "--config",
                                                "--notify",
                                                "--ret",
                                                "--envid",
                                                "--dkim-key",
                                                "--dkim-selector",
                                                "--dkim-domain",
                                                "--dkim-algo",
                                                "--dkim-canon"};

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

/* --notify: "never", or a comma list of success, failure, delay (any
 * case).  0, or -1 for anything else. */
static int parse_notify(const char *v, unsigned *out) {
  static const char *const names[] = {"never", "success", "failure", "delay"};
  static const unsigned bits[] = {SMTPC_NOTIFY_NEVER, SMTPC_NOTIFY_SUCCESS,
                                  SMTPC_NOTIFY_FAILURE, SMTPC_NOTIFY_DELAY};
  unsigned f = 0;
  size_t i, n;
  for (;;) {
    n = strcspn(v, ",");
    for (i = 0; i < 4; i++)
      if (strlen(names[i]) == n && strncasecmp(v, names[i], n) == 0)
        break;
    if (i == 4 || (f & bits[i]))
      return -1;
    f |= bits[i];
    if (v[n] == '\0')
      break;
    v += n + 1;
  }
  if ((f & SMTPC_NOTIFY_NEVER) && f != SMTPC_NOTIFY_NEVER)
    return -1; /* NEVER stands alone (RFC 3461 4.1) */
  *out = f;
  return 0;
}

/* --dkim-canon: "relaxed" or "simple" for the header, optionally "/relaxed"
 * or "/simple" for the body; one name alone leaves the body simple, as the
 * c= tag (RFC 6376 3.5).  Returns the dkim_opt.canon code or -1. */
static int parse_canon(const char *v) {
  const char *slash = strchr(v, '/');
  size_t n = slash != NULL ? (size_t)(slash - v) : strlen(v);
  int h, b = SMTPC_DKIM_SIMPLE;
  if (n == 7 && strncmp(v, "relaxed", 7) == 0)
    h = SMTPC_DKIM_RELAXED;
  else if (n == 6 && strncmp(v, "simple", 6) == 0)
    h = SMTPC_DKIM_SIMPLE;
  else
    return -1;
  if (slash != NULL && strcmp(slash + 1, "relaxed") == 0)
    b = SMTPC_DKIM_RELAXED;
  else if (slash != NULL && strcmp(slash + 1, "simple") != 0)
    return -1;
  return 1 + h * 2 + b;
}

/* A --dkim-selector, --dkim-domain, --dkim-algo or --dkim-canon: for the
 * latest --dkim-key, or before the first one for all.  Each at most once
 * per key (and once before the first key).  Returns 0 or EX_USAGE. */
static int dkim_option(opts *o, int k, const char *v) {
  dkim_opt *d = o->ndkim > 0 ? &o->dkim[o->ndkim - 1] : &o->dkim_def;
  int set, c = 0;
  switch (k) {
  case O_DKIM_SELECTOR: set = d->selector != NULL; break;
  case O_DKIM_DOMAIN: set = d->domain != NULL; break;
  case O_DKIM_ALGO: set = d->algo != 0; break;
  default: set = d->canon_set; break;
  }
  if (set) {
    if (o->ndkim > 0)
      fprintf(stderr, "smtpc: %s given twice for --dkim-key %s\n",
              value_opts[k], d->key);
    else
      fprintf(stderr, "smtpc: %s given twice before the first --dkim-key\n",
              value_opts[k]);
    return EX_USAGE;
  }
  if (k == O_DKIM_ALGO) {
    if (strcmp(v, "rsa-sha256") == 0)
      c = SMTPC_DKIM_RSA_SHA256;
    else if (strcmp(v, "ed25519-sha256") == 0)
      c = SMTPC_DKIM_ED25519_SHA256;
    else {
      fprintf(stderr, "smtpc: --dkim-algo %s: rsa-sha256 or ed25519-sha256\n",
              v);
      return EX_USAGE;
    }
  } else if (k == O_DKIM_CANON && (c = parse_canon(v)) < 0) {
    fprintf(stderr,
            "smtpc: --dkim-canon %s: relaxed or simple, optionally "
            "followed by /relaxed or /simple\n",
            v);
    return EX_USAGE;
  }
  switch (k) {
  case O_DKIM_SELECTOR: d->selector = v; break;
  case O_DKIM_DOMAIN: d->domain = v; break;
  case O_DKIM_ALGO: d->algo = c; break;
  default:
    d->canon = c;
    d->canon_set = 1;
    break;
  }
  return 0;
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
    if (strcmp(a, "--dry-run") == 0) {
      o->dry_run = 1;
      continue;
    }
    if (strcmp(a, "--verify") == 0) {
      o->verify = 1;
      continue;
    }
    if (strcmp(a, "--bdat") == 0) {
      o->bdat = 1;
      continue;
    }
    if (strcmp(a, "--binary") == 0) {
      o->binary = 1;
      continue;
    }
    if (strcmp(a, "--requiretls") == 0) {
      o->requiretls = 1;
      continue;
    }
    if (strcmp(a, "--tls-required-no") == 0) {
      o->tls_required_no = 1;
      continue;
    }
    if (strcmp(a, "--dsn-required") == 0) {
      o->dsn = o->dsn_required = 1;
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
    case O_SUBJECT: o->subject = v; break;
    case O_TEXT: o->text = v; break;
    case O_HTML: o->html = v; break;
    case O_ATTACH: o->attach[o->nattach++] = v; break;
    case O_INLINE: o->inl[o->ninl++] = v; break;
    case O_CC: o->cc[o->ncc++] = v; break;
    case O_BCC: o->bcc[o->nbcc++] = v; break;
    case O_REPLYTO: o->reply_to = v; break;
    case O_HEADER: o->headers[o->nheaders++] = v; break;
    case O_CONFIG: o->config = v; break;
    case O_NOTIFY:
      if (parse_notify(v, &o->notify) != 0) {
        fprintf(stderr,
                "smtpc: --notify %s: NEVER, or a comma list of "
                "SUCCESS, FAILURE and DELAY\n",
                v);
        return EX_USAGE;
      }
      o->dsn = 1;
      break;
    case O_RET:
      if (strcasecmp(v, "full") == 0)
        o->ret = SMTPC_DSN_RET_FULL;
      else if (strcasecmp(v, "hdrs") == 0)
        o->ret = SMTPC_DSN_RET_HDRS;
      else {
        fprintf(stderr, "smtpc: --ret %s: FULL or HDRS\n", v);
        return EX_USAGE;
      }
      o->dsn = 1;
      break;
    case O_ENVID:
      o->envid = v;
      o->dsn = 1;
      break;
    case O_DKIM_KEY:
      if (o->ndkim == DKIM_MAX) {
        fprintf(stderr, "smtpc: at most %d --dkim-key\n", DKIM_MAX);
        return EX_USAGE;
      }
      if (*v == '\0')
        goto badval;
      o->dkim[o->ndkim++].key = v;
      break;
    case O_DKIM_SELECTOR:
    case O_DKIM_DOMAIN:
    case O_DKIM_ALGO:
    case O_DKIM_CANON:
      if (dkim_option(o, k, v) != 0)
        return EX_USAGE;
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
      o->tls_set = 1;
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
  return 0;
}

static void split_addr(char *s, const char **name, const char **addr);

/* The d= of a --dkim-key: D itself, or as an A-label when it is UTF-8 (the
 * string is kept for the life of the process).  NULL after saying why. */
static const char *dkim_ascii_domain(opts *o, const char *key, const char *d,
                                     const char *what) {
  char alabel[256];
  const char *p;
  int rv;
  for (p = d; *p != '\0' && (unsigned char)*p < 0x80; p++)
    ;
  if (*p == '\0')
    return d;
  if ((rv = smtpc_idna_to_ascii(NULL, d, alabel, sizeof alabel)) != SMTPC_OK) {
    fprintf(stderr,
            "smtpc: --dkim-key %s: %s '%s' has no ASCII form (%s); give "
            "--dkim-domain as an A-label\n",
            key, what, d, smtpc_strerror(rv));
    return NULL;
  }
  return kstrdup(o, alabel);
}

/* --dkim-*: each key takes the values given before the first --dkim-key
 * that it has no own of, needs a selector, and signs for the domain of
 * --from unless --dkim-domain says otherwise.  Returns 0 or EX_USAGE. */
static int validate_dkim(opts *o) {
  const dkim_opt *def = &o->dkim_def;
  size_t i, j;
  if (o->ndkim == 0) {
    if (def->selector || def->domain || def->algo || def->canon_set) {
      fputs("smtpc: --dkim-selector, --dkim-domain, --dkim-algo and "
            "--dkim-canon need a --dkim-key\n",
            stderr);
      return EX_USAGE;
    }
    return 0;
  }
  if (o->verify) {
    fputs("smtpc: --verify sends no message: no --dkim-key with it\n", stderr);
    return EX_USAGE;
  }
  for (i = 0; i < o->ndkim; i++) {
    dkim_opt *d = &o->dkim[i];
    const char *what = "--dkim-domain";
    if (d->selector == NULL)
      d->selector = def->selector;
    if (d->domain == NULL)
      d->domain = def->domain;
    if (d->algo == 0)
      d->algo = def->algo;
    if (!d->canon_set) {
      d->canon = def->canon;
      d->canon_set = def->canon_set;
    }
    if (d->selector == NULL) {
      fprintf(stderr, "smtpc: --dkim-key %s needs a --dkim-selector\n", d->key);
      return EX_USAGE;
    }
    if (d->domain == NULL) { /* the domain of --from's address */
      const char *name, *addr, *at;
      char *c = kstrdup(o, o->from);
      if (c == NULL)
        return EX_SOFTWARE;
      split_addr(c, &name, &addr);
      if ((at = strrchr(addr, '@')) == NULL || at[1] == '\0') {
        fprintf(stderr,
                "smtpc: --dkim-key %s: --from has no domain; give "
                "--dkim-domain\n",
                d->key);
        return EX_USAGE;
      }
      d->domain = at + 1;
      what = "the domain of --from";
    }
    if ((d->domain = dkim_ascii_domain(o, d->key, d->domain, what)) == NULL)
      return EX_USAGE;
    for (j = 0; j < i; j++)
      if (strcasecmp(o->dkim[j].selector, d->selector) == 0 &&
          strcasecmp(o->dkim[j].domain, d->domain) == 0) {
        fprintf(stderr,
                "smtpc: --dkim-key %s and %s: both selector '%s' of '%s' "
                "(one key record)\n",
                o->dkim[j].key, d->key, d->selector, d->domain);
        return EX_USAGE;
      }
  }
  return 0;
}

/* Checks the options once the config file has filled the gaps. */
static int validate(opts *o) {
  int ex;
  if (o->verify && o->host == NULL) {
    fputs("smtpc: --verify needs --host\n", stderr);
    return EX_USAGE;
  }
  if (o->verify && o->dry_run) {
    fputs("smtpc: --verify and --dry-run exclude each other\n", stderr);
    return EX_USAGE;
  }
  if (!o->verify && ((o->host == NULL && !o->dry_run) || o->from == NULL ||
                     o->nrcpts + o->ncc + o->nbcc == 0)) {
    fputs("smtpc: --host, --from and --to are required\n", stderr);
    usage(stderr);
    return EX_USAGE;
  }
  if (o->message != NULL && (o->subject || o->text || o->html || o->nattach ||
                             o->ninl || o->nheaders || o->reply_to)) {
    fputs("smtpc: --message sends a finished message; --subject, --text, "
          "--html,\n  --attach, --inline, --header and --reply-to build one "
          "instead\n",
          stderr);
    return EX_USAGE;
  }
  if ((o->cert == NULL) != (o->key == NULL)) {
    fputs("smtpc: --cert and --key go together\n", stderr);
    return EX_USAGE;
  }
  if (o->requiretls && o->tls_required_no) {
    fputs("smtpc: --requiretls and --tls-required-no ask opposite things "
          "(RFC 8689 4.3)\n",
          stderr);
    return EX_USAGE;
  }
  if (o->binary && o->message == NULL) {
    fputs("smtpc: --binary sends a finished message: give it with --message\n",
          stderr);
    return EX_USAGE;
  }
  if (o->tls_required_no && o->message != NULL) {
    fputs("smtpc: --tls-required-no adds a field to a built message; with\n"
          "  --message write 'TLS-Required: No' in the message itself\n",
          stderr);
    return EX_USAGE;
  }
  if (o->envid != NULL) {
    /* checked by the library's own rules before anything is sent */
    smtpc_msg *m = NULL;
    int rv = smtpc_msg_new(&m, NULL);
    if (rv == SMTPC_OK)
      rv = smtpc_msg_set_dsn(m, SMTPC_DSN_RET_DEFAULT, o->envid, 0, 0);
    smtpc_msg_free(m);
    if (rv != SMTPC_OK) {
      fprintf(stderr, "smtpc: --envid: %s\n",
              rv == SMTPC_ERR_BAD_ARGUMENT
                  ? "printable ASCII of at most 100 characters once "
                    "xtext-encoded ('+', '=' and space count 3)"
                  : smtpc_strerror(rv));
      return EX_USAGE;
    }
  }
  if (o->user != NULL && (o->password_env || o->password_file || o->token_env))
    o->password_cmd = NULL; /* the command line wins over the config file */
  if (o->user != NULL &&
      (o->password_env != NULL) + (o->password_file != NULL) +
              (o->token_env != NULL) + (o->password_cmd != NULL) !=
          1) {
    fputs("smtpc: --user needs exactly one of --password-env, "
          "--password-file, --oauth2-token-env\n",
          stderr);
    return EX_USAGE;
  }
  if (o->user == NULL && (o->password_env || o->password_file || o->token_env ||
                          o->password_cmd)) {
    fputs("smtpc: a password or token needs --user\n", stderr);
    return EX_USAGE;
  }
  if (o->token_env != NULL && o->auth == NULL)
    o->auth = "XOAUTH2";
  if ((ex = validate_dkim(o)) != 0)
    return ex;
  return 0;
}

/* Overwrites n bytes at p with zeros.  Unlike a memset() before free(),
 * the stores cannot be optimised away. */
static void wipe(void *p, size_t n) {
  volatile unsigned char *v = p;
  while (n-- > 0)
    *v++ = 0;
}

static void free_secret(char *s) {
  if (s != NULL) {
    wipe(s, strlen(s));
    free(s);
  }
}

/* Prints why st -- the file path, or with dir != NULL the directory dir
 * holding it -- cannot be trusted and returns EX_CONFIG; else returns 0.
 * Trusted: owned by the real user or root, and writable by nobody else (a
 * directory may be if it is sticky, as /tmp).  The file must be a regular
 * file and, with secret, readable by nobody else either. */
static int check_trust(const char *path, const char *dir, const struct stat *st,
                       int secret) {
  char why[80];
  if (st->st_uid != getuid() && st->st_uid != 0)
    snprintf(why, sizeof why, "owned by uid %lu, not by you or root",
             (unsigned long)st->st_uid);
  else if (dir == NULL && !S_ISREG(st->st_mode))
    snprintf(why, sizeof why, "not a regular file");
  else if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
           (dir == NULL || (st->st_mode & S_ISVTX) == 0))
    snprintf(why, sizeof why, "writable by group or others%s",
             dir != NULL ? " and not sticky" : "");
  else if (secret && dir == NULL && (st->st_mode & (S_IRGRP | S_IROTH)) != 0)
    snprintf(why, sizeof why, "readable by group or others");
  else
    return 0;
  fprintf(stderr, "smtpc: %s: %s%s%s%s; refusing it\n", path,
          dir != NULL ? "its directory " : "", dir != NULL ? dir : "",
          dir != NULL ? " is " : "", why);
  return EX_CONFIG;
}

/* Opens path for reading once check_trust() accepts the file and the
 * directory that holds it.  Both are checked through their open
 * descriptors, so what is checked is what is read: the directory of the
 * resolved path, then the file in it, opened without following a link
 * (one made in between fails).  Returns the descriptor, -1 with errno set
 * when it cannot be opened, or -2 when it was refused (and said why). */
static int open_trusted(const char *path, int secret) {
  char *real = realpath(path, NULL), *slash;
  const char *dir = "/";
  struct stat dst, st;
  int dfd, fd = -1, e;
  if (real == NULL)
    return -1;
  slash = strrchr(real, '/'); /* the path is absolute */
  if (slash != real) {
    *slash = '\0';
    dir = real;
  }
  /* O_NONBLOCK: opening a FIFO must not block (it is refused below) */
  if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0 &&
      fstat(dfd, &dst) == 0)
    fd = openat(dfd, slash + 1,
                O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  e = errno;
  if (fd >= 0 && fstat(fd, &st) != 0) {
    e = errno;
    close(fd);
    fd = -1;
  } else if (fd >= 0 && (check_trust(path, NULL, &st, secret) != 0 ||
                         check_trust(path, dir, &dst, 0) != 0)) {
    close(fd);
    fd = -2;
  }
  if (dfd >= 0)
    close(dfd);
  free(real);
  errno = e;
  return fd;
}

enum { LINE_EOF = -1, LINE_LONG = -2, LINE_NUL = -3, LINE_ERR = -4 };

/* Reads from fd into buf (cap bytes) until a line end, the end of the
 * file or a full buffer, and ends the first line, without its line end (LF,
 * CR or CRLF), with a NUL.  Reads with read(2), not stdio, so that no copy
 * of a secret is left in a buffer the caller cannot wipe (it wipes buf).
 * Returns 0 with *len set, LINE_LONG when the first line is over cap - 1
 * bytes, LINE_NUL when it holds a NUL byte, or LINE_ERR (errno set). */
static int read_line_fd(int fd, char *buf, size_t cap, size_t *len) {
  size_t n = 0;
  const char *nl = NULL;
  while (n < cap && nl == NULL) { /* each pass reads at least 1 byte */
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return LINE_ERR;
    if (r == 0)
      break;
    nl = memchr(buf + n, '\n', (size_t)r);
    n += (size_t)r;
  }
  if (nl != NULL)
    n = (size_t)(nl - buf);
  else if (n == cap)
    return LINE_LONG;
  if ((nl = memchr(buf, '\r', n)) != NULL)
    n = (size_t)(nl - buf);
  if (memchr(buf, '\0', n) != NULL)
    return LINE_NUL;
  buf[n] = '\0';
  *len = n;
  return 0;
}

/* The first line of the --password-file, checked with open_trusted(),
 * into buf.  Returns 0 or an exit code. */
static int secret_from_file(const char *path, char *buf, size_t cap) {
  int fd = open_trusted(path, 1), r = 0;
  size_t n = 0;
  if (fd == -2)
    return EX_CONFIG;
  if (fd < 0 || (r = read_line_fd(fd, buf, cap, &n)) == LINE_ERR) {
    fprintf(stderr, "smtpc: %s: %s\n", path, strerror(errno));
    if (fd >= 0)
      close(fd);
    return EX_NOINPUT;
  }
  close(fd);
  if (r == LINE_LONG)
    fprintf(stderr, "smtpc: %s: password longer than %zu bytes\n", path,
            cap - 1);
  else if (r == LINE_NUL)
    fprintf(stderr, "smtpc: %s: NUL byte in the password\n", path);
  else if (n == 0)
    fprintf(stderr, "smtpc: %s: empty password\n", path);
  return r != 0 || n == 0 ? EX_USAGE : 0;
}

/* Starts "sh -c cmd" with standard input from /dev/null and standard
 * output into a pipe (standard error is inherited); no other descriptor
 * of ours reaches it.  Returns its pid and the read end of the pipe in *rd,
 * or -1 with errno set. */
static pid_t spawn_command(const char *cmd, int *rd) {
  char sh[] = "sh", dash_c[] = "-c";
  char *argv[4];
  posix_spawn_file_actions_t fa;
  pid_t pid = -1;
  int p[2], rc;
  argv[0] = sh;
  argv[1] = dash_c;
  argv[2] = (char *)cmd; /* posix_spawn() does not change it */
  argv[3] = NULL;
  if (pipe(p) != 0)
    return -1;
  if (fcntl(p[0], F_SETFD, FD_CLOEXEC) != 0 ||
      fcntl(p[1], F_SETFD, FD_CLOEXEC) != 0)
    rc = errno;
  else if ((rc = posix_spawn_file_actions_init(&fa)) == 0) {
    /* The pipe first: if fd 0 was closed, pipe() may have taken it. */
    if ((rc = posix_spawn_file_actions_adddup2(&fa, p[1], 1)) == 0 &&
        (rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
                                               0)) == 0)
      rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
  }
  close(p[1]);
  if (rc != 0) {
    close(p[0]);
    errno = rc;
    return -1;
  }
  *rd = p[0];
  return pid;
}

/* Reads and drops what a command prints after the line wanted, up to 1 MiB,
 * so that one printing more lines is not killed by SIGPIPE. */
static void drain(int fd) {
  char junk[4096];
  size_t total = 0;
  ssize_t r;
  while (total < ((size_t)1 << 20) &&
         ((r = read(fd, junk, sizeof junk)) > 0 || (r < 0 && errno == EINTR)))
    total += r > 0 ? (size_t)r : 0;
  wipe(junk, sizeof junk); /* it may hold more secrets */
}

/* The first line printed by the config file's password-command into buf.
 * The command must exit with status 0.  Returns 0 or an exit code. */
static int secret_from_command(const char *cmd, char *buf, size_t cap) {
  int fd = -1, st = 0, r, e;
  size_t n = 0;
  pid_t w, pid = spawn_command(cmd, &fd);
  if (pid < 0) {
    fprintf(stderr, "smtpc: password-command: %s\n", strerror(errno));
    return EX_CONFIG;
  }
  r = read_line_fd(fd, buf, cap, &n);
  e = errno;
  if (r == 0)
    drain(fd);
  close(fd);
  while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
    ;
  if (r == LINE_ERR || w < 0) {
    e = r == LINE_ERR ? e : errno;
    fprintf(stderr, "smtpc: password-command: %s: %s\n",
            r == LINE_ERR ? "read" : "wait", strerror(e));
  } else if (r == LINE_LONG)
    fprintf(stderr,
            "smtpc: password-command: first line longer than %zu "
            "bytes\n",
            cap - 1);
  else if (r == LINE_NUL)
    fputs("smtpc: password-command: NUL byte in its first line\n", stderr);
  else if (WIFSIGNALED(st))
    fprintf(stderr, "smtpc: password-command killed by signal %d\n",
            WTERMSIG(st));
  else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    fprintf(stderr, "smtpc: password-command exited with status %d\n",
            WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  else if (n == 0)
    fputs("smtpc: password-command printed nothing\n", stderr);
  else
    return 0;
  return EX_CONFIG;
}

/* Reads the secret named by the options into a malloc'd string (which the
 * caller frees with free_secret()).  Returns 0 or an exit code. */
static int read_secret(const opts *o, char **out) {
  char line[SECRET_MAX];
  int ex;
  *out = NULL;
  if (o->password_env != NULL || o->token_env != NULL) {
    const char *name = o->password_env ? o->password_env : o->token_env;
    const char *v = getenv(name);
    if (v == NULL || *v == '\0') {
      fprintf(stderr, "smtpc: environment variable %s is not set\n", name);
      return EX_USAGE;
    }
    *out = strdup(v);
    return *out == NULL ? EX_SOFTWARE : 0;
  }
  if (o->password_cmd != NULL)
    ex = secret_from_command(o->password_cmd, line, sizeof line);
  else if (o->password_file != NULL)
    ex = secret_from_file(o->password_file, line, sizeof line);
  else
    return 0;
  if (ex == 0 && (*out = strdup(line)) == NULL)
    ex = EX_SOFTWARE;
  wipe(line, sizeof line); /* the whole buffer: reads went past the line */
  return ex;
}

/* Reads a --dkim-key file, checked as a --password-file (open_trusted()),
 * into a malloc'd buffer of *len bytes that the caller wipes and frees.
 * Returns 0 or an exit code. */
static int read_key_file(const char *path, unsigned char **out, size_t *len) {
  int fd = open_trusted(path, 1), e;
  unsigned char *buf;
  size_t n = 0;
  if (fd == -2)
    return EX_CONFIG;
  if (fd < 0) {
    fprintf(stderr, "smtpc: %s: %s\n", path, strerror(errno));
    return EX_NOINPUT;
  }
  if ((buf = malloc(DKIM_KEY_MAX + 1)) == NULL) {
    close(fd);
    return EX_SOFTWARE;
  }
  while (n <= DKIM_KEY_MAX) { /* each pass reads at least 1 byte or ends */
    ssize_t r = read(fd, buf + n, DKIM_KEY_MAX + 1 - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      e = errno;
      if (r == 0)
        break;
      close(fd);
      wipe(buf, n);
      free(buf);
      fprintf(stderr, "smtpc: %s: %s\n", path, strerror(e));
      return EX_NOINPUT;
    }
    n += (size_t)r;
  }
  close(fd);
  if (n > DKIM_KEY_MAX || n == 0) {
    wipe(buf, n);
    free(buf);
    if (n == 0)
      fprintf(stderr, "smtpc: %s: empty key file\n", path);
    else
      fprintf(stderr, "smtpc: %s: over %d bytes: not a private key\n", path,
              DKIM_KEY_MAX);
    return EX_CONFIG;
  }
  *out = buf;
  *len = n;
  return 0;
}

static int exit_code(int rc);

static const char *algo_name(int a) {
  return a == SMTPC_DKIM_RSA_SHA256       ? "rsa-sha256"
         : a == SMTPC_DKIM_ED25519_SHA256 ? "ed25519-sha256"
                                          : "unknown";
}

/* Loads every --dkim-key into o->keys (validate_dkim() filled the
 * options).  Returns 0 or an exit code. */
static int load_dkim(opts *o) {
  size_t i;
  for (i = 0; i < o->ndkim; i++) {
    const dkim_opt *d = &o->dkim[i];
    unsigned char *buf = NULL;
    size_t len = 0;
    int rv, ex, a;
    rv = smtpc_dkim_new(&o->keys[i], d->domain, d->selector, NULL);
    if (rv == SMTPC_ERR_BAD_ARGUMENT) {
      fprintf(stderr,
              "smtpc: --dkim-key %s: selector '%s' or domain '%s' is not a "
              "valid name\n",
              d->key, d->selector, d->domain);
      return EX_USAGE;
    }
    if (rv != SMTPC_OK) {
      fprintf(stderr, "smtpc: --dkim-key %s: %s\n", d->key, smtpc_strerror(rv));
      return exit_code(rv);
    }
    if ((ex = read_key_file(d->key, &buf, &len)) != 0)
      return ex;
    rv = smtpc_dkim_set_key(o->keys[i], buf, len, NULL);
    wipe(buf, len);
    free(buf);
    if (rv != SMTPC_OK) {
      fprintf(stderr, "smtpc: %s: %s\n", d->key, smtpc_strerror(rv));
      return exit_code(rv);
    }
    a = smtpc_dkim_algo_of(o->keys[i]);
    if (d->algo != 0 && a != d->algo) {
      fprintf(stderr, "smtpc: %s: an %s key, not %s (--dkim-algo)\n", d->key,
              algo_name(a), algo_name(d->algo));
      return EX_CONFIG;
    }
    if (d->canon_set &&
        (rv = smtpc_dkim_set_canon(
             o->keys[i], (smtpc_dkim_canon)((d->canon - 1) / 2),
             (smtpc_dkim_canon)((d->canon - 1) % 2))) != SMTPC_OK) {
      fprintf(stderr, "smtpc: --dkim-canon: %s\n", smtpc_strerror(rv));
      return EX_SOFTWARE;
    }
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
  fputs(dir == SMTPC_TRACE_IN    ? "S: "
        : dir == SMTPC_TRACE_OUT ? "C: "
                                 : "*: ",
        stderr);
  put_clean(line, len);
  fputc('\n', stderr);
}

static int exit_code(int rc) {
  switch (rc) {
  case SMTPC_OK: return EX_OK;
  case SMTPC_ERR_BAD_ADDRESS:
  case SMTPC_ERR_BAD_ARGUMENT: return EX_USAGE;
  case SMTPC_ERR_BODY_LINE_TOO_LONG:
  case SMTPC_ERR_DKIM_SOURCE:
  case SMTPC_ERR_DKIM_HEADER: return EX_DATAERR;
  case SMTPC_ERR_DKIM_KEY: return EX_CONFIG;
  case SMTPC_ERR_RESOLVE: return EX_NOHOST;
  case SMTPC_ERR_REPLY_PERMANENT:
  case SMTPC_ERR_GREETING_REFUSED:
  case SMTPC_ERR_8BIT_UNSUPPORTED:
  case SMTPC_ERR_SMTPUTF8_UNSUPPORTED:
  case SMTPC_ERR_DSN_UNSUPPORTED:
  case SMTPC_ERR_REQUIRETLS_UNAVAILABLE:
  case SMTPC_ERR_RCPT_LIMIT:
  case SMTPC_ERR_BINARYMIME_UNSUPPORTED:
  case SMTPC_ERR_MESSAGE_TOO_BIG: return EX_UNAVAILABLE;
  case SMTPC_ERR_CONNECT:
  case SMTPC_ERR_TIMEOUT:
  case SMTPC_ERR_IO:
  case SMTPC_ERR_EOF: return EX_IOERR;
  case SMTPC_ERR_REPLY_TEMPORARY:
  case SMTPC_ERR_MAIL_LIMIT:
  case SMTPC_ERR_SERVICE_CLOSING: return EX_TEMPFAIL;
  case SMTPC_ERR_PROTOCOL:
  case SMTPC_ERR_REPLY_LINE_TOO_LONG:
  case SMTPC_ERR_REPLY_TOO_LARGE:
  case SMTPC_ERR_UNEXPECTED_DATA:
  case SMTPC_ERR_TLS:
  case SMTPC_ERR_CERTIFICATE:
  case SMTPC_ERR_AUTH_BAD_CHALLENGE: return EX_PROTOCOL;
  case SMTPC_ERR_AUTH_FAILED: return EX_NOPERM;
  case SMTPC_ERR_STARTTLS_UNAVAILABLE:
  case SMTPC_ERR_AUTH_INSECURE:
  case SMTPC_ERR_AUTH_UNSUPPORTED:
  case SMTPC_ERR_IDNA_UNAVAILABLE:
  case SMTPC_ERR_NOT_SUPPORTED: return EX_CONFIG;
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
  else if (rc == SMTPC_ERR_RESOLVE && *smtpc_socket_resolve_error(sock))
    fputs(smtpc_socket_resolve_error(sock), stderr);
  else if (smtpc_reply_code(r) >= 400 &&
           (rc == SMTPC_ERR_REPLY_TEMPORARY ||
            rc == SMTPC_ERR_REPLY_PERMANENT || rc == SMTPC_ERR_AUTH_FAILED ||
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
static void account(tally *ty, smtpc_txn *t, unsigned long msgno, const opts *o,
                    int session_rc) {
  int st = smtpc_txn_status(t);
  size_t i, nr = smtpc_txn_rcpt_count(t);
  char pre[48] = "";
  if (o->repeat > 1)
    snprintf(pre, sizeof pre, "message %lu: ", msgno);
  if (st == SMTPC_OK || st == SMTPC_ERR_PARTIAL)
    ty->delivered += smtpc_txn_accepted_count(t);
  if ((st == SMTPC_OK || st == SMTPC_ERR_PARTIAL) && o->dsn &&
      !smtpc_txn_dsn_sent(t) && !ty->dsn_noted) {
    ty->dsn_noted = 1;
    fputs("smtpc: note: the server does not offer DSN: sent without "
          "--notify/--ret/--envid (--dsn-required refuses instead)\n",
          stderr);
  }
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
      fprintf(stderr, "smtpc: %sMAIL FROM:<%s> rejected: ", pre, o->env_from);
      break;
    case SMTPC_STEP_DATA:
      fprintf(stderr, "smtpc: %sDATA rejected: ", pre);
      break;
    case SMTPC_STEP_BODY: /* a BDAT chunk */
      fprintf(stderr, "smtpc: %smessage data rejected: ", pre);
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
      fprintf(stderr,
              "smtpc: %sconnection lost after end of data: the "
              "message may have been delivered: %s\n",
              pre, smtpc_strerror(st));
    else
      fprintf(stderr, "smtpc: %smessage not sent: %s\n", pre,
              smtpc_strerror(st));
  }
}

/* Reads one line of f, without its LF, into buf (cap bytes) and ends it
 * with a NUL.  Returns its length, or LINE_EOF, LINE_LONG (over cap - 1
 * bytes), LINE_NUL or LINE_ERR (errno set). */
static long config_line(FILE *f, char *buf, size_t cap) {
  size_t n = 0;
  int c;
  while ((c = getc(f)) != EOF && c != '\n') { /* at most cap passes */
    if (c == '\0')
      return LINE_NUL;
    if (n == cap - 1)
      return LINE_LONG;
    buf[n++] = (char)c;
  }
  if (ferror(f))
    return LINE_ERR;
  if (c == EOF && n == 0)
    return LINE_EOF;
  buf[n] = '\0';
  return (long)n;
}

/* Applies one line of the config file: "key value" or "key = value", or a
 * '#' comment.  Values already set on the command line win.  The strings
 * are kept for the life of the process.  Returns 0 or an exit code. */
static int config_apply(opts *o, const char *path, int lineno, char *line) {
  char *k = line, *v, *end;
  line[strcspn(line, "\r")] = '\0';
  while (*k == ' ' || *k == '\t')
    k++;
  if (*k == '#' || *k == '\0')
    return 0;
  v = k + strcspn(k, " \t=");
  if (*v != '\0')
    *v++ = '\0';
  while (*v == ' ' || *v == '\t' || *v == '=')
    v++;
  end = v + strlen(v);
  while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
    *--end = '\0';
  if ((v = kstrdup(o, v)) == NULL)
    return EX_SOFTWARE;
#define SET_IF_UNSET(field)                                                    \
  do {                                                                         \
    if (o->field == NULL)                                                      \
      o->field = v;                                                            \
  } while (0)
  if (strcmp(k, "host") == 0)
    SET_IF_UNSET(host);
  else if (strcmp(k, "port") == 0)
    SET_IF_UNSET(port);
  else if (strcmp(k, "user") == 0)
    SET_IF_UNSET(user);
  else if (strcmp(k, "password-command") == 0)
    SET_IF_UNSET(password_cmd);
  else if (strcmp(k, "from") == 0)
    SET_IF_UNSET(from);
  else if (strcmp(k, "helo") == 0)
    SET_IF_UNSET(helo);
  else if (strcmp(k, "cafile") == 0)
    SET_IF_UNSET(cafile);
  else if (strcmp(k, "tls") == 0 || strcmp(k, "timeout") == 0) {
    int bad = 0;
    if (k[1] == 'l' && !o->tls_set) {
      if (strcmp(v, "none") == 0)
        o->tls = TLS_NONE;
      else if (strcmp(v, "starttls") == 0)
        o->tls = TLS_STARTTLS;
      else if (strcmp(v, "try") == 0)
        o->tls = TLS_TRY;
      else if (strcmp(v, "implicit") == 0)
        o->tls = TLS_IMPLICIT;
      else
        bad = 1;
    } else if (k[1] == 'i' && !o->timeout_set) {
      bad = parse_ulong(v, UINT_MAX / 1000u, &o->timeout_s) != 0;
      o->timeout_set = !bad;
    }
    if (bad) {
      fprintf(stderr, "smtpc: %s:%d: bad value for %s\n", path, lineno, k);
      return EX_CONFIG;
    }
  } else {
    fprintf(stderr, "smtpc: %s:%d: unknown key '%s'\n", path, lineno, k);
    return EX_CONFIG;
  }
#undef SET_IF_UNSET
  return 0;
}

/* Reads defaults from --config F or, when it exists,
 * $HOME/.config/smtpc/config.  The file can name a command to run, so it
 * is refused whole unless it and its directory pass check_trust().  A line
 * too long for the buffer or holding a NUL byte is an error, never read as
 * two lines or cut short. */
static int load_config(opts *o) {
  char buf[4096], line[CONFIG_LINE_MAX];
  const char *path = o->config, *home = getenv("HOME");
  FILE *f;
  long n;
  int fd, lineno = 0, ex = 0;
  if (path == NULL && home == NULL)
    return 0;
  if (path == NULL) {
    if ((size_t)snprintf(buf, sizeof buf, "%s/.config/smtpc/config", home) >=
        sizeof buf) {
      fputs("smtpc: $HOME is too long\n", stderr);
      return EX_CONFIG;
    }
    path = buf;
  }
  fd = open_trusted(path, 0);
  if (fd == -1 && o->config == NULL && errno == ENOENT)
    return 0; /* the default file is optional */
  if (fd == -2)
    return EX_CONFIG;
  if (fd < 0 || (f = fdopen(fd, "r")) == NULL) {
    fprintf(stderr, "smtpc: %s: %s\n", path, strerror(errno));
    if (fd >= 0)
      close(fd);
    return EX_CONFIG;
  }
  while (ex == 0 && lineno < 10000 &&
         (n = config_line(f, line, sizeof line)) != LINE_EOF) {
    lineno++;
    if (n >= 0) {
      ex = config_apply(o, path, lineno, line);
      continue;
    }
    if (n == LINE_LONG)
      fprintf(stderr, "smtpc: %s:%d: line too long (max %d bytes)\n", path,
              lineno, CONFIG_LINE_MAX - 1);
    else if (n == LINE_NUL)
      fprintf(stderr, "smtpc: %s:%d: NUL byte in the line\n", path, lineno);
    else
      fprintf(stderr, "smtpc: %s: %s\n", path, strerror(errno));
    ex = EX_CONFIG;
  }
  fclose(f);
  return ex;
}

/* Splits "Display Name <addr>" (name may be quoted) into name and address,
 * in place.  A plain "addr" gives name NULL. */
static void split_addr(char *s, const char **name, const char **addr) {
  char *lt = strrchr(s, '<'), *gt = s + strlen(s);
  while (gt > s && (gt[-1] == ' ' || gt[-1] == '\t'))
    gt--;
  *name = NULL;
  *addr = s;
  if (lt == NULL || gt == lt || gt[-1] != '>')
    return;
  gt[-1] = '\0';
  *addr = lt + 1;
  while (lt > s && (lt[-1] == ' ' || lt[-1] == '\t'))
    lt--;
  *lt = '\0';
  if (s[0] == '"' && lt > s + 1 && lt[-1] == '"') {
    lt[-1] = '\0';
    s++;
  }
  *name = s[0] != '\0' ? s : NULL;
}

/* The envelope for a finished message (--message): the addresses of --to,
 * --cc and --bcc, and of --from. */
static int plain_envelope(opts *o) {
  const char **lists[3];
  size_t counts[3], i, k;
  const char *name;
  lists[0] = o->rcpts, counts[0] = o->nrcpts;
  lists[1] = o->cc, counts[1] = o->ncc;
  lists[2] = o->bcc, counts[2] = o->nbcc;
  o->env_rcpts = calloc(o->nrcpts + o->ncc + o->nbcc + 1, sizeof(char *));
  if (o->env_rcpts == NULL)
    return EX_SOFTWARE;
  o->env_owned = 1;
  for (k = 0; k < 3; k++)
    for (i = 0; i < counts[k]; i++) {
      char *c = kstrdup(o, lists[k][i]);
      const char *addr;
      if (c == NULL)
        return EX_SOFTWARE;
      split_addr(c, &name, &addr);
      o->env_rcpts[o->nenv++] = addr;
    }
  {
    char *c = kstrdup(o, o->from);
    if (c == NULL)
      return EX_SOFTWARE;
    split_addr(c, &name, &o->env_from);
  }
  return 0;
}

static int msg_fail(const char *what, const char *v, int rc) {
  fprintf(stderr, "smtpc: %s '%s': %s\n", what, v, smtpc_strerror(rc));
  return rc == SMTPC_ERR_NOMEM ? EX_SOFTWARE
         : rc == SMTPC_ERR_IO  ? EX_NOINPUT
                               : EX_USAGE;
}

/* Builds the MIME message from the options; fills the envelope. */
static int build_message(opts *o, smtpc_msg **out) {
  smtpc_msg *m = NULL;
  const char *name, *addr;
  unsigned char *buf;
  size_t len, i, n;
  const char *const *rc;
  int rv, ex = 0;
  char *c;
  if ((rv = smtpc_msg_new(&m, NULL)) != SMTPC_OK)
    return EX_SOFTWARE;
  *out = m;
  if ((c = kstrdup(o, o->from)) == NULL)
    return EX_SOFTWARE;
  split_addr(c, &name, &addr);
  if ((rv = smtpc_msg_set_from(m, name, addr)) != SMTPC_OK)
    return msg_fail("--from", o->from, rv);
#define ADD_ALL(list, count, fn, flag)                                         \
  for (i = 0; i < o->count; i++) {                                             \
    if ((c = kstrdup(o, o->list[i])) == NULL)                                  \
      return EX_SOFTWARE;                                                      \
    split_addr(c, &name, &addr);                                               \
    if ((rv = fn(m, name, addr)) != SMTPC_OK)                                  \
      return msg_fail(flag, o->list[i], rv);                                   \
  }
  ADD_ALL(rcpts, nrcpts, smtpc_msg_add_to, "--to")
  ADD_ALL(cc, ncc, smtpc_msg_add_cc, "--cc")
  ADD_ALL(bcc, nbcc, smtpc_msg_add_bcc, "--bcc")
#undef ADD_ALL
  if (o->reply_to != NULL) {
    if ((c = kstrdup(o, o->reply_to)) == NULL)
      return EX_SOFTWARE;
    split_addr(c, &name, &addr);
    if ((rv = smtpc_msg_set_reply_to(m, name, addr)) != SMTPC_OK)
      return msg_fail("--reply-to", o->reply_to, rv);
  }
  if (o->subject != NULL &&
      (rv = smtpc_msg_set_subject(m, o->subject)) != SMTPC_OK)
    return msg_fail("--subject", o->subject, rv);
  for (i = 0; i < o->nheaders; i++) {
    char *colon;
    if ((c = kstrdup(o, o->headers[i])) == NULL)
      return EX_SOFTWARE;
    if ((colon = strchr(c, ':')) == NULL) {
      fprintf(stderr, "smtpc: --header '%s': expected 'Name: value'\n", c);
      return EX_USAGE;
    }
    *colon++ = '\0';
    while (*colon == ' ' || *colon == '\t')
      colon++;
    if ((rv = smtpc_msg_add_header(m, c, colon)) != SMTPC_OK)
      return msg_fail("--header", o->headers[i], rv);
  }
  /* never both: a --header TLS-Required with either option is refused */
  if ((o->tls_required_no &&
       (rv = smtpc_msg_set_tls_required_no(m, 1)) != SMTPC_OK) ||
      (o->requiretls && (rv = smtpc_msg_set_requiretls(m, 1)) != SMTPC_OK)) {
    fprintf(stderr, "smtpc: %s: not with a --header TLS-Required\n",
            o->requiretls ? "--requiretls" : "--tls-required-no");
    return EX_USAGE;
  }
  if (o->text != NULL) {
    if ((ex = read_message(o->text, &buf, &len)) != 0)
      return ex;
    rv = smtpc_msg_set_text(m, (const char *)buf, len);
    free(buf);
    if (rv != SMTPC_OK)
      return msg_fail("--text", o->text, rv);
  }
  if (o->html != NULL) {
    if ((ex = read_message(o->html, &buf, &len)) != 0)
      return ex;
    rv = smtpc_msg_set_html(m, (const char *)buf, len);
    free(buf);
    if (rv != SMTPC_OK)
      return msg_fail("--html", o->html, rv);
  }
  for (i = 0; i < o->nattach; i++) {
    const char *base = strrchr(o->attach[i], '/');
    base = base ? base + 1 : o->attach[i];
    if ((rv = smtpc_msg_add_attachment_file(m, o->attach[i], base, NULL)) !=
        SMTPC_OK)
      return msg_fail("--attach", o->attach[i], rv);
  }
  for (i = 0; i < o->ninl; i++) {
    const char *base = strrchr(o->inl[i], '/');
    base = base ? base + 1 : o->inl[i];
    if ((rv = smtpc_msg_add_inline_file(m, o->inl[i], base, NULL, base)) !=
        SMTPC_OK)
      return msg_fail("--inline", o->inl[i], rv);
  }
  if ((rv = smtpc_msg_envelope(m, &o->env_from, &rc, &n)) != SMTPC_OK)
    return msg_fail("envelope", o->from, rv);
  o->env_rcpts = (const char **)rc;
  o->nenv = n;
  return 0;
}

static int has_utf8(const char *a) {
  for (; *a; a++)
    if ((unsigned char)*a >= 0x80)
      return 1;
  return 0;
}

/* An octet above 127 before the first empty line. */
static int header_utf8(const unsigned char *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (p[i] >= 0x80)
      return 1;
    if (p[i] == '\n' && (i + 1 == n || p[i + 1] == '\n' ||
                         (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n')))
      return 0;
  }
  return 0;
}

/* RFC 3461 xtext, for --dry-run (the library encodes what it sends). */
static void put_xtext(const char *v) {
  for (; *v; v++) {
    unsigned char c = (unsigned char)*v;
    if (c > ' ' && c < 127 && c != '+' && c != '=')
      fputc(c, stderr);
    else
      fprintf(stderr, "+%02X", c);
  }
}

/* RFC 6533 utf-8-addr-unitext: UTF-8 as it is, '+', '=', '\\' and
 * controls as \x{HH} (what goes to a server with SMTPUTF8). */
static void put_unitext(const char *v) {
  for (; *v; v++) {
    unsigned char c = (unsigned char)*v;
    if (c > ' ' && c != 127 && c != '+' && c != '=' && c != '\\')
      fputc(c, stderr);
    else
      fprintf(stderr, "\\x{%02X}", c);
  }
}

/* Signs the message of src with the --dkim-key identities into *db (the
 * caller frees it, then closes *spool, once the transaction is done) and
 * fills out to send it.  A one-shot stream is spooled to a tmpfile().
 * Returns SMTPC_OK or the library's error (said on stderr). */
static int dkim_wrap(const opts *o, const smtpc_body *src, smtpc_dkim_body **db,
                     FILE **spool, smtpc_body *out) {
  int rc;
  *db = NULL;
  *spool = NULL;
  if (src->read != NULL && (src->version < 1 || src->rewind == NULL) &&
      (*spool = tmpfile()) == NULL) {
    fprintf(stderr, "smtpc: DKIM signing: spool file: %s\n", strerror(errno));
    return SMTPC_ERR_IO;
  }
  rc = smtpc_dkim_body_new(db, (const smtpc_dkim *const *)o->keys, o->ndkim,
                           src, *spool, NULL);
  if (rc == SMTPC_OK)
    smtpc_dkim_body_get(*db, out);
  else
    fprintf(stderr, "smtpc: DKIM signing: %s\n", smtpc_strerror(rc));
  return rc;
}

static void dkim_unwrap(smtpc_dkim_body *db, FILE *spool) {
  smtpc_dkim_body_free(db);
  if (spool != NULL)
    fclose(spool);
}

/* --dry-run: the message on stdout, the envelope on stderr. */
static int dry_run(const opts *o, smtpc_msg *m, const unsigned char *msg,
                   size_t msglen) {
  size_t i;
  int utf8 = has_utf8(o->env_from);
  for (i = 0; i < o->nenv; i++)
    utf8 |= has_utf8(o->env_rcpts[i]);
  if (m != NULL)
    smtpc_msg_set_smtputf8(m, 1); /* as to a server that offers it */
  else
    utf8 |= header_utf8(msg, msglen);
  fprintf(stderr, "smtpc: dry run: MAIL FROM:<%s>%s", o->env_from,
          utf8 ? " SMTPUTF8" : "");
  if (o->ret != SMTPC_DSN_RET_DEFAULT)
    fprintf(stderr, " RET=%s", o->ret == SMTPC_DSN_RET_FULL ? "FULL" : "HDRS");
  if (o->envid != NULL) {
    fputs(" ENVID=", stderr);
    put_xtext(o->envid);
  }
  if (o->requiretls)
    fputs(" REQUIRETLS", stderr);
  fputc('\n', stderr);
  for (i = 0; i < o->nenv; i++) {
    fprintf(stderr, "smtpc: dry run: RCPT TO:<%s>", o->env_rcpts[i]);
    if (o->notify != 0) {
      static const char *const names[] = {"NEVER", "SUCCESS", "FAILURE",
                                          "DELAY"};
      unsigned k;
      const char *sep = " NOTIFY=";
      for (k = 0; k < 4; k++)
        if (o->notify & (1u << k)) {
          fprintf(stderr, "%s%s", sep, names[k]);
          sep = ",";
        }
      if (has_utf8(o->env_rcpts[i])) {
        fputs(" ORCPT=utf-8;", stderr);
        put_unitext(o->env_rcpts[i]);
      } else {
        fputs(" ORCPT=rfc822;", stderr);
        put_xtext(o->env_rcpts[i]);
      }
    }
    fputc('\n', stderr);
  }
  if (utf8 || o->dsn)
    fputs("smtpc: dry run: (parameters as to a server that offers "
          "SMTPUTF8 and DSN)\n",
          stderr);
  if (m == NULL && o->ndkim == 0) {
    fwrite(msg, 1, msglen, stdout);
  } else {
    smtpc_body b, sb;
    smtpc_dkim_body *db = NULL;
    FILE *spool = NULL;
    unsigned char buf[16384];
    int rv = SMTPC_OK;
    smtpc_ssize n = 0;
    long guard = 0;
    if (m != NULL)
      rv = smtpc_msg_body(m, &b);
    else {
      smtpc_body_init_memory(&b, msg, msglen);
      if (o->binary)
        b.type = SMTPC_BODY_BINARYMIME;
    }
    if (rv != SMTPC_OK)
      return msg_fail("message", "", rv);
    if (o->ndkim > 0) {
      if ((rv = dkim_wrap(o, &b, &db, &spool, &sb)) != SMTPC_OK) {
        dkim_unwrap(db, spool);
        return exit_code(rv);
      }
      b = sb;
    }
    if (b.read == NULL) { /* a body in memory (no data when empty) */
      if (b.len > 0)
        fwrite(b.data, 1, b.len, stdout);
    } else
      while ((n = b.read(b.ctx, buf, sizeof buf)) > 0 && guard++ < 100000000L)
        fwrite(buf, 1, (size_t)n, stdout);
    dkim_unwrap(db, spool);
    if (n < 0)
      return msg_fail("message", "", (int)n);
  }
  return fflush(stdout) == 0 ? 0 : EX_IOERR;
}

/* Queues up to BATCH copies of the message and runs them.  Returns the
 * session error that stopped the run, or SMTPC_OK. */
static int send_batch(smtpc_session *s, const opts *o, smtpc_msg *m,
                      const smtpc_body *body, unsigned long first,
                      unsigned long count, tally *ty) {
  smtpc_txn *txns[BATCH];
  /* --dkim-key: each transaction has its own signed body */
  smtpc_dkim_body *signed_body[BATCH];
  FILE *spool[BATCH];
  unsigned long i, queued = 0, nsigned = 0;
  int qrc = SMTPC_OK, rc = SMTPC_OK;
  for (i = 0; i < count && qrc == SMTPC_OK; i++) {
    smtpc_body built, sb;
    const smtpc_body *src = body;
    /* a built message gets its own reader per transaction */
    if (m != NULL && (qrc = smtpc_msg_body(m, &built)) != SMTPC_OK) {
      /* the message cannot go to this server (a UTF-8 address without
       * SMTPUTF8): said as for a transaction refused before MAIL */
      if (!ty->body_failed)
        fprintf(stderr, "smtpc: message not sent: %s\n", smtpc_strerror(qrc));
      ty->body_failed = 1;
      break;
    }
    if (m != NULL)
      src = &built;
    if (o->ndkim > 0) {
      qrc = dkim_wrap(o, src, &signed_body[i], &spool[i], &sb);
      nsigned++;
      if (qrc != SMTPC_OK) {
        ty->body_failed = 1; /* said by dkim_wrap() */
        break;
      }
      src = &sb;
    }
    qrc = smtpc_session_queue(s, o->env_from, o->env_rcpts, o->nenv, src,
                              &txns[i]);
    if (qrc == SMTPC_OK)
      queued++;
    if (qrc == SMTPC_OK && o->dsn &&
        ((qrc = smtpc_txn_set_dsn(txns[i], o->ret, o->envid,
                                  o->dsn_required ? SMTPC_DSN_REQUIRED : 0)) !=
             SMTPC_OK ||
         (o->notify != 0 &&
          (qrc = smtpc_txn_set_notify(txns[i], SMTPC_ALL_RCPTS, o->notify,
                                      NULL)) != SMTPC_OK)))
      break; /* checked before: only out of memory */
    if (qrc == SMTPC_OK && o->requiretls &&
        (qrc = smtpc_txn_set_requiretls(txns[i], 1)) != SMTPC_OK)
      break;
  }
  if (queued > 0) /* finish what was queued even if queueing failed later */
    rc = smtpc_session_run(s);
  for (i = 0; i < queued; i++) {
    account(ty, txns[i], first + i, o, rc);
    smtpc_txn_free(txns[i]);
  }
  for (i = 0; i < nsigned; i++) /* after the transactions that read them */
    dkim_unwrap(signed_body[i], spool[i]);
  return rc != SMTPC_OK ? rc : qrc;
}

/* --tls as the library's security setting (client, session and TLS). */
static smtpc_security tls_security(const opts *o) {
  return o->tls == TLS_IMPLICIT   ? SMTPC_SECURITY_IMPLICIT
         : o->tls == TLS_STARTTLS ? SMTPC_SECURITY_STARTTLS
         : o->tls == TLS_TRY      ? SMTPC_SECURITY_OPPORTUNISTIC
                                  : SMTPC_SECURITY_NONE;
}

/* --verify: smtpc_verify() with the connection options. */
static int verify(const opts *o, const char *secret) {
  smtpc_client_config cfg;
  smtpc_result *r = NULL;
  tracer tr;
  int rc;
  memset(&cfg, 0, sizeof cfg);
  memset(&tr, 0, sizeof tr);
  cfg.host = o->host;
  cfg.port = o->port;
  cfg.security = tls_security(o);
  cfg.ca_file = o->cafile;
  cfg.ca_path = o->capath;
  cfg.client_cert = o->cert;
  cfg.client_key = o->key;
  cfg.insecure_skip_verify = o->insecure;
  cfg.user = o->user;
  cfg.password = secret;
  cfg.auth = o->auth ? (smtpc_auth_mech)auth_mech(o->auth) : SMTPC_AUTH_AUTO;
  cfg.allow_plaintext_auth = o->allow_plain;
  cfg.ehlo_name = o->helo;
  if (o->timeout_set && o->timeout_s > 0)
    cfg.connect_timeout_ms = cfg.timeout_ms = (unsigned)o->timeout_s * 1000u;
  tr.print = o->trace;
  cfg.trace = trace_cb;
  cfg.trace_user = &tr;
  rc = smtpc_verify(&cfg, &r);
  if (r == NULL) {
    fprintf(stderr, "smtpc: %s\n", smtpc_strerror(rc));
    return exit_code(rc);
  }
  if (rc == SMTPC_OK)
    printf("%s\n", smtpc_result_message(r));
  else
    fprintf(stderr, "smtpc: %s\n", smtpc_result_message(r));
  smtpc_result_free(r);
  return exit_code(rc);
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
  smtpc_msg *built = NULL;
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
  o.cc = calloc((size_t)argc + 1, sizeof *o.cc);
  o.bcc = calloc((size_t)argc + 1, sizeof *o.bcc);
  o.attach = calloc((size_t)argc + 1, sizeof *o.attach);
  o.inl = calloc((size_t)argc + 1, sizeof *o.inl);
  o.headers = calloc((size_t)argc + 1, sizeof *o.headers);
  if (!o.rcpts || !o.cc || !o.bcc || !o.attach || !o.inl || !o.headers) {
    free_opts(&o);
    return EX_SOFTWARE;
  }
  ex = parse_args(argc, argv, &o);
  if (ex == 0)
    ex = load_config(&o);
  if (ex == 0)
    ex = validate(&o);
  if (ex == 0 && o.port == NULL)
    o.port = o.tls == TLS_IMPLICIT ? "465" : "25";
  if (ex == 0 && o.user != NULL && !o.dry_run) /* a dry run needs no secret */
    ex = read_secret(&o, &secret);
  if (ex == 0 && o.ndkim > 0) /* before the message: stdin stays unread */
    ex = load_dkim(&o);
  if (ex == 0 && o.verify) {
    ex = verify(&o, secret);
    goto out;
  }
  if (ex == 0 && o.message == NULL &&
      (o.subject || o.text || o.html || o.nattach || o.ninl || o.nheaders ||
       o.reply_to)) {
    ex = build_message(&o, &built); /* a MIME message from the options */
  } else if (ex == 0) { /* a finished message from --message or stdin */
    ex = read_message(o.message, &msg, &msglen);
    if (ex == 0)
      ex = plain_envelope(&o);
  }
  if (ex == 0 && o.dry_run) {
    ex = dry_run(&o, built, msg, msglen);
    goto out;
  }
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
    rc = smtpc_tls_new(&tls, NULL, tls_security(&o));
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
      (rc = smtpc_session_set_tls_policy(s, tls_security(&o))) != SMTPC_OK ||
      (o.user != NULL &&
       (rc = smtpc_session_set_auth(
            s, o.auth ? (smtpc_auth_mech)auth_mech(o.auth) : SMTPC_AUTH_AUTO,
            o.user, secret, NULL)) != SMTPC_OK)) {
    ex = fail(rc == SMTPC_ERR_BAD_ARGUMENT ? "--user" : "session", rc, s, sock,
              &o);
    goto out;
  }
  free_secret(secret); /* the library keeps its own copy */
  secret = NULL;
  smtpc_session_set_flag(s, SMTPC_FLAG_ALLOW_PLAINTEXT_AUTH, o.allow_plain);
  smtpc_session_set_flag(s, SMTPC_FLAG_CHUNKING, o.bdat);
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
                 ? " rejected"
                 : "");
    if (rc == SMTPC_ERR_AUTH_FAILED || rc == SMTPC_ERR_REPLY_PERMANENT ||
        rc == SMTPC_ERR_REPLY_TEMPORARY)
      ex = fail(step, rc, s, sock, &o);
    else {
      fprintf(stderr, "smtpc: %s: %s\n", step, smtpc_strerror(rc));
      ex = exit_code(rc);
    }
    goto quit;
  }
  if (built != NULL) /* UTF-8 addresses in the header where the server takes
                        them; else A-labels, or the error */
    smtpc_msg_set_smtputf8(built, smtpc_session_has_ext(s, "SMTPUTF8"));
  smtpc_body_init_memory(&body, msg, msglen);
  if (o.binary)
    body.type = SMTPC_BODY_BINARYMIME; /* sent as it is, or refused */
  ty.total = (unsigned long long)o.repeat * o.nenv;
  for (done = 0; done < o.repeat && rc == SMTPC_OK;) {
    unsigned long batch = built != NULL ? 16 : BATCH, n;
    n = o.repeat - done > batch ? batch : o.repeat - done;
    rc = send_batch(s, &o, built, &body, done + 1, n, &ty);
    done += n;
  }
  if (ty.body_failed)
    ex = exit_code(rc); /* already said */
  else if (rc == SMTPC_ERR_BAD_ADDRESS)
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
  smtpc_msg_free(built);
  smtpc_session_free(s);
  smtpc_tls_free(tls);
  smtpc_socket_free(sock);
  free_secret(secret);
  free(msg);
  free_opts(&o);
  return ex;
}
