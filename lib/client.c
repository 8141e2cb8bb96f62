/* SPDX-License-Identifier: MIT */
/* The one-call API: smtpc_send(), smtpc_send_msg(), smtpc_verify(), and the
 * connections the pool reuses.  It composes the public pieces -- the socket
 * transport, the mbedTLS adapter, the session and the MIME builder -- and
 * turns their error codes into one line of the result (result.c) that says
 * which step failed and why, so that an application can log it and decide
 * whether to retry. */
#include "client_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* QUIT only tidies up: its reply does not change the outcome, so it never
 * waits the RFC 5321 five minutes. */
#define QUIT_TIMEOUT_MS 10000u
#define CONNECT_TIMEOUT_MS 30000u

/* ---- describing failures ------------------------------------------------- */

/* snprintf that may cut: every text here is bounded by its buffer. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
static void
put(char *buf, size_t len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, len, fmt, ap);
  va_end(ap);
}

/* "550 5.1.1 text" on one line (the text's lines joined by spaces). */
static void fmt_reply(char *buf, size_t len, const smtpc_reply *r) {
  const char *enh = smtpc_reply_enhanced(r);
  put(buf, len, "%d%s%s %s", smtpc_reply_code(r), *enh ? " " : "", enh,
      smtpc_reply_text(r));
}

/* Why a transport-level status happened, in words. */
static void fmt_cause(char *buf, size_t len, int rc, const smtpc__conn *c) {
  int e = c->sock != NULL ? smtpc_socket_last_errno(c->sock) : 0;
  if (rc == SMTPC_ERR_TIMEOUT && c->timeout_ms != 0)
    put(buf, len, "no reply within %u ms", c->timeout_ms);
  else if (rc == SMTPC_ERR_TIMEOUT)
    put(buf, len, "no reply within the RFC 5321 time limit");
  else if (rc == SMTPC_ERR_EOF)
    put(buf, len, "the server closed the connection");
  else if (rc == SMTPC_ERR_IO && e != 0)
    put(buf, len, "%s", strerror(e));
  else if ((rc == SMTPC_ERR_TLS || rc == SMTPC_ERR_CERTIFICATE) &&
           c->tls != NULL && *smtpc_tls_last_error(c->tls) != '\0')
    put(buf, len, "%s: %s", smtpc_strerror(rc), smtpc_tls_last_error(c->tls));
  else
    put(buf, len, "%s", smtpc_strerror(rc));
}

/* ---- connections --------------------------------------------------------- */

static const char *default_port(const smtpc_client_config *cfg) {
  if (cfg->port != NULL)
    return cfg->port;
  if (cfg->security == SMTPC_SECURITY_IMPLICIT)
    return "465";
  return cfg->user != NULL ? "587" : "25";
}

void smtpc__conn_close(smtpc__conn *c, int quit) {
  if (c->s != NULL && quit) {
    unsigned ms = QUIT_TIMEOUT_MS; /* or the caller's shorter timeout */
    if (c->timeout_ms != 0 && c->timeout_ms < ms)
      ms = c->timeout_ms;
    smtpc_session_set_timeout(c->s, SMTPC_TIMEOUT_OTHER, ms);
    (void)smtpc_session_quit(c->s);
  }
  smtpc_session_free(c->s);
  smtpc_tls_free(c->tls);
  smtpc_socket_free(c->sock);
  memset(c, 0, sizeof(*c));
}

static int conn_connect(smtpc__conn *c, const smtpc_client_config *cfg,
                        const smtpc_mem *mem, smtpc_result *r) {
  const char *port = default_port(cfg);
  unsigned cto =
      cfg->connect_timeout_ms ? cfg->connect_timeout_ms : CONNECT_TIMEOUT_MS;
  int rc = smtpc_socket_new(&c->sock, mem);
  if (rc != SMTPC_OK) {
    smtpc__result_set(r, rc, SMTPC_STAGE_SETUP, "socket: %s",
                      smtpc_strerror(rc));
    return rc;
  }
  rc = smtpc_socket_connect(c->sock, cfg->host, port, cto);
  if (rc == SMTPC_OK)
    return rc;
  if (rc == SMTPC_ERR_RESOLVE) {
    const char *why = smtpc_socket_resolve_error(c->sock);
    smtpc__result_set(r, rc, SMTPC_STAGE_RESOLVE, "resolve %s: %s", cfg->host,
                      *why != '\0' ? why : smtpc_strerror(rc));
  } else if (rc == SMTPC_ERR_INVALID_ARGUMENT) {
    smtpc__result_set(r, rc, SMTPC_STAGE_SETUP,
                      "port %s: not a port number or service name", port);
  } else if (rc == SMTPC_ERR_TIMEOUT) {
    smtpc__result_set(r, rc, SMTPC_STAGE_CONNECT,
                      "connect %s:%s: timed out after %u ms", cfg->host, port,
                      cto);
  } else {
    int e = smtpc_socket_last_errno(c->sock);
    smtpc__result_set(r, rc, SMTPC_STAGE_CONNECT, "connect %s:%s: %s",
                      cfg->host, port, e ? strerror(e) : smtpc_strerror(rc));
  }
  return rc;
}

static int conn_tls(smtpc__conn *c, const smtpc_client_config *cfg,
                    const smtpc_mem *mem, const smtpc_io *lower, smtpc_io *io,
                    smtpc_result *r) {
  const char *what = "TLS set-up";
  int rc = smtpc_tls_new(&c->tls, mem, cfg->security);
  if (rc == SMTPC_OK)
    rc = smtpc_tls_set_hostname(c->tls,
                                cfg->tls_name ? cfg->tls_name : cfg->host);
  if (rc == SMTPC_OK && cfg->ca_file != NULL)
    what = cfg->ca_file, rc = smtpc_tls_set_cafile(c->tls, cfg->ca_file);
  if (rc == SMTPC_OK && cfg->ca_path != NULL)
    what = cfg->ca_path, rc = smtpc_tls_set_capath(c->tls, cfg->ca_path);
  if (rc == SMTPC_OK && cfg->client_cert != NULL)
    what = cfg->client_cert,
    rc = smtpc_tls_set_client_cert(c->tls, cfg->client_cert, cfg->client_key);
  if (rc == SMTPC_OK && cfg->tls_cache != NULL)
    rc = smtpc_tls_set_cache(c->tls, cfg->tls_cache);
  if (rc == SMTPC_OK) {
    smtpc_tls_insecure_skip_verify(c->tls, cfg->insecure_skip_verify);
    what = "TLS set-up";
    rc = smtpc_tls_wrap(c->tls, lower, io);
  }
  if (rc != SMTPC_OK) {
    const char *why = c->tls != NULL ? smtpc_tls_last_error(c->tls) : "";
    if (rc == SMTPC_ERR_NOT_SUPPORTED)
      why = "this libsmtpc was built without TLS";
    smtpc__result_set(r, rc, SMTPC_STAGE_SETUP, "%s: %s%s%s", what,
                      smtpc_strerror(rc), *why ? ": " : "", why);
  }
  return rc;
}

static int conn_session(smtpc__conn *c, const smtpc_client_config *cfg,
                        const smtpc_mem *mem, const smtpc_io *io,
                        smtpc_result *r) {
  char ehlo[256];
  int rc;
  if ((rc = smtpc_session_new(&c->s, mem)) != SMTPC_OK ||
      (rc = smtpc_session_set_io(c->s, io)) != SMTPC_OK ||
      (rc = smtpc_session_set_server_name(c->s, cfg->host)) != SMTPC_OK ||
      (rc = smtpc_session_set_tls_policy(c->s, cfg->security)) != SMTPC_OK) {
    smtpc__result_set(r, rc, SMTPC_STAGE_SETUP, "session: %s",
                      smtpc_strerror(rc));
    return rc;
  }
  if (cfg->user != NULL &&
      (rc = smtpc_session_set_auth(c->s, cfg->auth, cfg->user, cfg->password,
                                   NULL)) != SMTPC_OK) {
    smtpc__result_set(r, rc, SMTPC_STAGE_SETUP, "credentials: %s",
                      smtpc_strerror(rc));
    return rc;
  }
  smtpc_session_set_flag(c->s, SMTPC_FLAG_ALLOW_PLAINTEXT_AUTH,
                         cfg->allow_plaintext_auth != 0);
  smtpc_session_set_flag(c->s, SMTPC_FLAG_CHUNKING,
                         cfg->version >= 1 && cfg->bdat != 0);
  if (cfg->ehlo_name != NULL)
    rc = smtpc_session_set_ehlo_name(c->s, cfg->ehlo_name);
  else if (smtpc_socket_ehlo_name(c->sock, ehlo, sizeof(ehlo)) == SMTPC_OK)
    rc = smtpc_session_set_ehlo_name(c->s, ehlo);
  if (rc != SMTPC_OK) {
    smtpc__result_set(r, rc, SMTPC_STAGE_SETUP, "EHLO name: %s",
                      smtpc_strerror(rc));
    return rc;
  }
  if (cfg->timeout_ms != 0)
    smtpc_session_set_timeout_all(c->s, cfg->timeout_ms);
  if (cfg->trace != NULL)
    smtpc_session_set_trace(c->s, cfg->trace, cfg->trace_user);
  return SMTPC_OK;
}

/* The stage a session's phase belongs to. */
static smtpc_stage phase_stage(smtpc__phase ph) {
  switch (ph) {
  case PH_NEW:
  case PH_GREETING: return SMTPC_STAGE_GREETING;
  case PH_HELLO: return SMTPC_STAGE_HELLO;
  case PH_STARTTLS: return SMTPC_STAGE_STARTTLS;
  case PH_HANDSHAKE: return SMTPC_STAGE_TLS;
  case PH_AUTH: return SMTPC_STAGE_AUTH;
  default: return SMTPC_STAGE_SEND;
  }
}

/* Records why smtpc_session_open() failed. */
static void describe_open(smtpc__conn *c, const smtpc_client_config *cfg,
                          int rc, smtpc_result *r) {
  const smtpc_reply *last = smtpc_session_last_reply(c->s);
  smtpc_stage st = phase_stage(smtpc__session_phase(c->s));
  char cause[300];
  /* The last reply explains the failure only if it is a refusal: after a
   * silent close it is an older 2xx/3xx. */
  if (smtpc_reply_code(last) < 400)
    last = NULL;
  switch (rc) {
  case SMTPC_ERR_TLS:
  case SMTPC_ERR_CERTIFICATE: st = SMTPC_STAGE_TLS; break;
  case SMTPC_ERR_STARTTLS_UNAVAILABLE: st = SMTPC_STAGE_STARTTLS; break;
  case SMTPC_ERR_AUTH_FAILED:
  case SMTPC_ERR_AUTH_INSECURE:
  case SMTPC_ERR_AUTH_UNSUPPORTED:
  case SMTPC_ERR_AUTH_BAD_CHALLENGE: st = SMTPC_STAGE_AUTH; break;
  default: break;
  }
  if (cfg->security == SMTPC_SECURITY_IMPLICIT && st == SMTPC_STAGE_GREETING &&
      (rc == SMTPC_ERR_EOF || rc == SMTPC_ERR_IO))
    st = SMTPC_STAGE_TLS; /* the handshake runs inside the first read */
  if (last != NULL && rc != SMTPC_ERR_TLS && rc != SMTPC_ERR_CERTIFICATE)
    fmt_reply(cause, sizeof(cause), last);
  else if (rc == SMTPC_ERR_STARTTLS_UNAVAILABLE)
    put(cause, sizeof(cause),
        "TLS is required but the server does not offer STARTTLS");
  else if (rc == SMTPC_ERR_AUTH_INSECURE)
    put(cause, sizeof(cause),
        "the connection is not encrypted, credentials are not sent in "
        "clear (allow_plaintext_auth)");
  else if (rc == SMTPC_ERR_AUTH_UNSUPPORTED)
    put(cause, sizeof(cause), "no usable mechanism (server offers: %s)",
        smtpc_session_has_ext(c->s, "AUTH")
            ? smtpc_session_ext_params(c->s, "AUTH")
            : "no AUTH");
  else
    fmt_cause(cause, sizeof(cause), rc, c);
  if (st == SMTPC_STAGE_TLS) {
    r->verify = smtpc_tls_verify_result(c->tls);
    smtpc__result_set(r, rc, st, "TLS handshake with %s: %s", cfg->host, cause);
  } else {
    smtpc__result_set(r, rc, st, "%s: %s", smtpc_stage_name(st), cause);
  }
  smtpc__result_keep_reply(r, last);
}

int smtpc__conn_open(smtpc__conn *c, const smtpc_client_config *cfg,
                     smtpc_result *r) {
  const smtpc_mem *mem = &r->mem;
  smtpc_io sockio, io;
  int rc;
  memset(c, 0, sizeof(*c));
  if ((unsigned)cfg->version > SMTPC_CLIENT_CONFIG_VERSION) {
    smtpc__result_set(r, SMTPC_ERR_INVALID_ARGUMENT, SMTPC_STAGE_SETUP,
                      "configuration version %d is newer than this library",
                      cfg->version);
    return r->status;
  }
  if (cfg->host == NULL || cfg->host[0] == '\0') {
    smtpc__result_set(r, SMTPC_ERR_INVALID_ARGUMENT, SMTPC_STAGE_SETUP,
                      "no server host configured");
    return r->status;
  }
  if ((unsigned)cfg->security > SMTPC_SECURITY_NONE) {
    smtpc__result_set(r, SMTPC_ERR_INVALID_ARGUMENT, SMTPC_STAGE_SETUP,
                      "unknown security mode %d", (int)cfg->security);
    return r->status;
  }
  if (cfg->user != NULL && cfg->password == NULL) {
    smtpc__result_set(r, SMTPC_ERR_BAD_ARGUMENT, SMTPC_STAGE_SETUP,
                      "a user name is configured without a password");
    return r->status;
  }
  c->timeout_ms = cfg->timeout_ms;
  rc = conn_connect(c, cfg, mem, r);
  if (rc == SMTPC_OK) {
    smtpc_socket_io(c->sock, &sockio);
    io = sockio;
    if (cfg->security != SMTPC_SECURITY_NONE)
      rc = conn_tls(c, cfg, mem, &sockio, &io, r);
  }
  if (rc == SMTPC_OK)
    rc = conn_session(c, cfg, mem, &io, r);
  if (rc == SMTPC_OK) {
    rc = smtpc_session_open(c->s);
    if (rc != SMTPC_OK)
      describe_open(c, cfg, rc, r);
  }
  if (rc != SMTPC_OK) {
    smtpc__conn_close(c, c->s != NULL && !smtpc_error_is_fatal(rc));
    return rc;
  }
  r->status = SMTPC_OK;
  r->stage = SMTPC_STAGE_SEND;
  return SMTPC_OK;
}

/* ---- sending ------------------------------------------------------------- */

static const char *step_name(smtpc_step st) {
  switch (st) {
  case SMTPC_STEP_MAIL: return "MAIL FROM";
  case SMTPC_STEP_RCPT: return "RCPT TO";
  case SMTPC_STEP_DATA: return "DATA";
  case SMTPC_STEP_BODY: return "message body";
  case SMTPC_STEP_DATA_END: return "end of data";
  case SMTPC_STEP_NONE: break;
  }
  return "before MAIL FROM";
}

/* The first recipient the server refused, or n. */
static size_t first_refused(const smtpc_txn *t) {
  size_t i, n = smtpc_txn_rcpt_count(t);
  for (i = 0; i < n; i++)
    if (smtpc_reply_code(smtpc_txn_rcpt_reply(t, i)) / 100 != 2)
      break;
  return i;
}

static void describe_txn(smtpc__conn *c, smtpc_result *r) {
  const smtpc_txn *t = r->txn;
  int st = smtpc_txn_status(t);
  smtpc_step step = smtpc_txn_step(t);
  const smtpc_reply *rep = smtpc_txn_reply(t);
  size_t n = smtpc_txn_rcpt_count(t), bad = first_refused(t);
  char what[300], cause[300] = "";
  if (bad < n) {
    fmt_reply(what, sizeof(what), smtpc_txn_rcpt_reply(t, bad));
    put(cause, sizeof(cause), "RCPT TO:<%s>: %s", smtpc_txn_rcpt(t, bad), what);
  }
  if (st == SMTPC_OK) {
    fmt_reply(what, sizeof(what), rep);
    smtpc__result_set(r, st, SMTPC_STAGE_DONE, "accepted: %s%s", what,
                      c->dsn_asked && !smtpc_txn_dsn_sent(t)
                          ? " (the server does not offer DSN: sent without "
                            "the notification request)"
                          : "");
  } else if (st == SMTPC_ERR_PARTIAL) {
    smtpc__result_set(r, st, SMTPC_STAGE_DONE,
                      "accepted for %zu of %zu recipients; %s",
                      smtpc_txn_accepted_count(t), n, cause);
    rep = smtpc_txn_rcpt_reply(t, bad);
  } else if (st == SMTPC_ERR_NO_RECIPIENTS) {
    smtpc__result_set(r, st, SMTPC_STAGE_SEND,
                      "every recipient was refused (%zu); %s", n, cause);
    rep = smtpc_txn_rcpt_reply(t, bad);
  } else {
    if (rep != NULL && smtpc_reply_code(rep) >= 400)
      fmt_reply(what, sizeof(what), rep);
    else {
      rep = NULL;
      fmt_cause(what, sizeof(what), st, c);
    }
    if (st == SMTPC_ERR_MESSAGE_TOO_BIG)
      smtpc__result_set(r, st, SMTPC_STAGE_SEND,
                        "message: %s (the server takes at most %lld bytes)",
                        what, (long long)smtpc_session_max_size(c->s));
    else if (step == SMTPC_STEP_DATA_END && rep == NULL)
      smtpc__result_set(r, st, SMTPC_STAGE_SEND,
                        "end of data: %s after the whole message was sent: "
                        "it may have been delivered",
                        what);
    else if (step == SMTPC_STEP_NONE)
      smtpc__result_set(r, st, SMTPC_STAGE_SEND, "message: %s", what);
    else
      smtpc__result_set(r, st, SMTPC_STAGE_SEND, "%s: %s", step_name(step),
                        what);
  }
  smtpc__result_keep_reply(r, rep);
}

int smtpc__conn_send(smtpc__conn *c, smtpc_msg *msg, smtpc_result *r) {
  smtpc_body body;
  const char *from;
  const char *const *rcpts;
  size_t n;
  smtpc_txn *t = NULL;
  int rc;
  smtpc_txn_free(r->txn);
  r->txn = NULL;
  smtpc__result_keep_reply(r, NULL);
  smtpc_msg_set_8bitmime(msg, smtpc_session_has_ext(c->s, "8BITMIME"));
  /* UTF-8 addresses in the header only where the server takes them; else
   * A-labels, or SMTPC_ERR_SMTPUTF8_UNSUPPORTED for a UTF-8 local part */
  smtpc_msg_set_smtputf8(msg, smtpc_session_has_ext(c->s, "SMTPUTF8"));
  if ((rc = smtpc_msg_body(msg, &body)) != SMTPC_OK ||
      (rc = smtpc_msg_envelope(msg, &from, &rcpts, &n)) != SMTPC_OK) {
    smtpc__result_set(r, rc, SMTPC_STAGE_SETUP, "message: %s",
                      smtpc_strerror(rc));
    return rc;
  }
  rc = smtpc_session_queue(c->s, from, rcpts, n, &body, &t);
  c->dsn_asked = smtpc__msg_dsn_asked(msg);
  if (rc == SMTPC_OK &&
      ((rc = smtpc__msg_apply_dsn(msg, t)) != SMTPC_OK ||
       (rc = smtpc__msg_apply_requiretls(msg, t)) != SMTPC_OK)) {
    smtpc__session_cancel(c->s, t, rc); /* never sent */
    smtpc_txn_free(t);
  }
  if (rc != SMTPC_OK) {
    smtpc__result_set(r, rc, SMTPC_STAGE_SETUP, "envelope: %s",
                      smtpc_strerror(rc));
    return rc;
  }
  r->txn = t;
  r->attempts++;
  c->messages++;
  /* the transaction carries the outcome; run() fails only when the
   * session itself did, which may happen after the transaction ended */
  c->broken = smtpc_session_run(c->s) != SMTPC_OK;
  describe_txn(c, r);
  /* r now owns its replies outright (see smtpc__session_drop_last) */
  smtpc__session_drop_last(c->s);
  return r->status;
}

/* Checks what can be checked before connecting, so that a malformed
 * message never costs a connection. */
static int precheck_msg(smtpc_msg *msg, smtpc_result *r) {
  smtpc_body body;
  const char *from;
  const char *const *rcpts;
  size_t n = 0;
  int rc = smtpc_msg_envelope(msg, &from, &rcpts, &n);
  if (rc == SMTPC_OK && n == 0)
    rc = SMTPC_ERR_INVALID_ARGUMENT;
  if (rc != SMTPC_OK) {
    smtpc__result_set(r, rc, SMTPC_STAGE_SETUP, "envelope: %s",
                      rc == SMTPC_ERR_INVALID_STATE ? "no From address"
                      : n == 0                      ? "no recipient"
                                                    : smtpc_strerror(rc));
    return rc;
  }
  /* the server is not known yet: check with UTF-8 addresses allowed
   * (smtpc__conn_send() sets what the server takes) */
  smtpc_msg_set_smtputf8(msg, 1);
  if ((rc = smtpc_msg_body(msg, &body)) != SMTPC_OK)
    smtpc__result_set(r, rc, SMTPC_STAGE_SETUP, "message: %s",
                      smtpc_strerror(rc));
  return rc;
}

static int send_msg(const smtpc_client_config *cfg, smtpc_msg *msg,
                    smtpc_result *r) {
  smtpc__conn c;
  int rc;
  if ((rc = precheck_msg(msg, r)) != SMTPC_OK)
    return rc;
  if ((rc = smtpc__conn_open(&c, cfg, r)) != SMTPC_OK)
    return rc;
  rc = smtpc__conn_send(&c, msg, r);
  smtpc__conn_close(&c, !smtpc_error_is_fatal(rc));
  return rc;
}

int smtpc_send_msg(const smtpc_client_config *cfg, smtpc_msg *msg,
                   smtpc_result **out) {
  smtpc_result *r = smtpc__result_new(cfg != NULL ? cfg->mem : NULL);
  if (out != NULL)
    *out = NULL;
  if (r == NULL)
    return SMTPC_ERR_NOMEM;
  if (cfg == NULL || msg == NULL)
    smtpc__result_set(r, SMTPC_ERR_INVALID_ARGUMENT, SMTPC_STAGE_SETUP,
                      "smtpc_send_msg: NULL argument");
  else
    send_msg(cfg, msg, r);
  return smtpc__result_finish(r, out);
}

int smtpc_send(const smtpc_client_config *cfg, const smtpc_mail *mail,
               smtpc_result **out) {
  smtpc_result *r = smtpc__result_new(cfg != NULL ? cfg->mem : NULL);
  smtpc_msg *msg = NULL;
  if (out != NULL)
    *out = NULL;
  if (r == NULL)
    return SMTPC_ERR_NOMEM;
  if (cfg == NULL || mail == NULL)
    smtpc__result_set(r, SMTPC_ERR_INVALID_ARGUMENT, SMTPC_STAGE_SETUP,
                      "smtpc_send: NULL argument");
  else if (smtpc__mail_build(mail, &r->mem, &msg, r) == SMTPC_OK)
    send_msg(cfg, msg, r);
  smtpc_msg_free(msg);
  return smtpc__result_finish(r, out);
}

int smtpc_verify(const smtpc_client_config *cfg, smtpc_result **out) {
  smtpc_result *r = smtpc__result_new(cfg != NULL ? cfg->mem : NULL);
  smtpc__conn c;
  if (out != NULL)
    *out = NULL;
  if (r == NULL)
    return SMTPC_ERR_NOMEM;
  if (cfg == NULL)
    smtpc__result_set(r, SMTPC_ERR_INVALID_ARGUMENT, SMTPC_STAGE_SETUP,
                      "smtpc_verify: NULL argument");
  else if (smtpc__conn_open(&c, cfg, r) == SMTPC_OK) {
    int secure = smtpc_session_is_secure(c.s);
    smtpc_auth_mech am = smtpc_session_auth_mech(c.s);
    smtpc__result_set(r, SMTPC_OK, SMTPC_STAGE_DONE, "ready: %s:%s, %s, %s%s",
                      cfg->host, default_port(cfg),
                      secure && c.tls != NULL ? smtpc_tls_description(c.tls)
                                              : "no TLS",
                      am != SMTPC_AUTH_AUTO ? "AUTH " : "no AUTH",
                      am != SMTPC_AUTH_AUTO ? smtpc__auth_name(am) : "");
    smtpc__conn_close(&c, 1);
  }
  return smtpc__result_finish(r, out);
}
