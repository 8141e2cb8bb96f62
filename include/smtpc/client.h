/* SPDX-License-Identifier: MIT */
/**
 * \file client.h
 * \brief One-call sending, configuration checks, retry classification and
 *        a thread-safe connection pool.
 *
 * Included by smtpc.h.  These functions sit on top of the session API: they
 * open a TCP connection (smtpc_socket), add TLS (smtpc_tls) as configured,
 * run the session (EHLO, STARTTLS, AUTH), send and say QUIT, all blocking.
 * A notification is a few lines:
 * \code
 * smtpc_client_config cfg = {0};    // zero: STARTTLS required, verified
 * const char *to[] = {"ops@example.net", NULL};
 * smtpc_mail mail = {0};
 * smtpc_result *res;
 * cfg.host = "smtp.example.org";
 * cfg.user = "alerts";
 * cfg.password = getenv("SMTP_PASSWORD");
 * mail.from = "Alerts <alerts@example.org>";
 * mail.to = to;
 * mail.subject = "Disk almost full";
 * mail.text = "/var is 95% full.\n";
 * if (smtpc_send(&cfg, &mail, &res) != SMTPC_OK)
 *   fprintf(stderr, "%s\n", smtpc_result_message(res));
 * smtpc_result_free(res);
 * \endcode
 * Every structure here may be zero-initialised; zero means the documented
 * default.  The structures the caller fills in start with a `version`
 * member; 0 is the first layout, the one of these headers, and later
 * versions only add members at the end (see "Extending public structures"
 * in base.h).  Always initialise with `{0}`.
 *
 * Included by smtpc.h; needs base.h, session.h and tls.h.
 */
#ifndef SMTPC_CLIENT_H
#define SMTPC_CLIENT_H

#include <smtpc/base.h>
#include <smtpc/session.h>
#include <smtpc/tls.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** \brief Layout version of ::smtpc_client_config in these headers (0: the
 *         first; 1 added \ref smtpc_client_config::bdat). */
#define SMTPC_CLIENT_CONFIG_VERSION 1

/**
 * \brief Where and how to connect, for smtpc_send(), smtpc_verify() and
 *        smtpc_pool_new().
 *
 * Strings are read during the call (smtpc_pool_new() copies them).
 */
typedef struct smtpc_client_config {
  /** ::SMTPC_CLIENT_CONFIG_VERSION, or 0 for the first layout. */
  int version;
  /** Server host name or address literal (required). */
  const char *host;
  /** Port number or service name; NULL: "465" with
   *  ::SMTPC_SECURITY_IMPLICIT, "587" when \ref user is set, else "25". */
  const char *port;
  /** How the connection is secured; default (0)
   *  ::SMTPC_SECURITY_STARTTLS.  Credentials are never sent in clear
   *  unless \ref allow_plaintext_auth is set. */
  smtpc_security security;
  /** PEM file of trusted CA certificates; NULL: the system's bundle. */
  const char *ca_file;
  /** Directory of trusted CA certificates, or NULL. */
  const char *ca_path;
  /** Name the certificate must carry; NULL: \ref host. */
  const char *tls_name;
  /** Client certificate (PEM) for TLS client authentication, or NULL. */
  const char *client_cert;
  /** Its private key (PEM), or NULL. */
  const char *client_key;
  /** Non-zero: do not verify the server certificate (tests only). */
  int insecure_skip_verify;
  /** User name for AUTH; NULL: no authentication. */
  const char *user;
  /** Password, or the bearer token for ::SMTPC_AUTH_XOAUTH2 and
   *  ::SMTPC_AUTH_OAUTHBEARER.  The library wipes its copies. */
  const char *password;
  /** Mechanism; default ::SMTPC_AUTH_AUTO (CRAM-MD5, PLAIN, LOGIN). */
  smtpc_auth_mech auth;
  /** Non-zero: allow AUTH over a connection that is not encrypted. */
  int allow_plaintext_auth;
  /** Name for EHLO; NULL: the local host's name, or the address literal
   *  of the local end of the connection. */
  const char *ehlo_name;
  /** Connect timeout per address in milliseconds; 0: 30 000. */
  unsigned connect_timeout_ms;
  /** Deadline for each server reply in milliseconds; 0: the RFC 5321
   *  4.5.3.2 defaults per command (2 to 10 minutes). */
  unsigned timeout_ms;
  /** Protocol trace (secrets redacted), or NULL.  With a pool it is called
   *  from every sending thread. */
  smtpc_trace_cb trace;
  /** Passed to \ref trace. */
  void *trace_user;
  /** Allocator hooks (must be thread-safe for a pool), or NULL. */
  const smtpc_mem *mem;
  /** TLS sessions to resume (smtpc_tls_cache_new()), or NULL: share one
   *  cache among the calls to one server and the second and later
   *  connections skip the full handshake.  A pool given NULL makes its
   *  own. */
  smtpc_tls_cache *tls_cache;
  /* ---- version 1 ---- */
  /** Non-zero: send message data with BDAT when the server offers
   *  CHUNKING (::SMTPC_FLAG_CHUNKING; default DATA). */
  int bdat;
} smtpc_client_config;

/** \brief A file or bytes to attach to an ::smtpc_mail. */
typedef struct smtpc_attachment {
  /** File to read while sending, or NULL to send \ref data. */
  const char *path;
  /** Bytes to attach when \ref path is NULL. */
  const void *data;
  /** Length of \ref data. */
  size_t len;
  /** Name shown to the recipient; NULL: the last component of \ref path. */
  const char *filename;
  /** Content type; NULL: guessed from the name (smtpc_msg_guess_type()). */
  const char *content_type;
  /** Non-NULL: an inline part the HTML shows as `cid:` + this id. */
  const char *content_id;
} smtpc_attachment;

/** \brief Layout version of ::smtpc_mail in these headers (0: the first;
 *         1 added the `dsn_` members; 2 `requiretls` and
 *         `tls_required_no`; 3 `dkim` and `ndkim`). */
#define SMTPC_MAIL_VERSION 3

/** \brief A simple message for smtpc_send() and smtpc_pool_send(). */
typedef struct smtpc_mail {
  /** ::SMTPC_MAIL_VERSION, or 0 for the first layout. */
  int version;
  /** Sender: "addr@example.org" or "Display Name <addr@example.org>"
   *  (required). */
  const char *from;
  /** Recipients in the same forms, NULL-terminated (To, Cc and Bcc
   *  together need at least one). */
  const char *const *to;
  /** Cc recipients, NULL-terminated, or NULL. */
  const char *const *cc;
  /** Bcc recipients (envelope only), NULL-terminated, or NULL. */
  const char *const *bcc;
  /** Reply-To address, or NULL. */
  const char *reply_to;
  /** Subject (UTF-8), or NULL. */
  const char *subject;
  /** Plain text (UTF-8, NUL-terminated), or NULL. */
  const char *text;
  /** HTML alternative (UTF-8, NUL-terminated), or NULL. */
  const char *html;
  /** Attachments and inline parts, or NULL. */
  const smtpc_attachment *attachments;
  /** Number of \ref attachments. */
  size_t nattachments;
  /* ---- version 1 ---- */
  /** DSN (RFC 3461) NOTIFY for every recipient: ::SMTPC_NOTIFY_NEVER, or
   *  ::SMTPC_NOTIFY_SUCCESS, ::SMTPC_NOTIFY_FAILURE, ::SMTPC_NOTIFY_DELAY
   *  combined; 0 for none.  Each recipient's ORCPT is its own address. */
  unsigned dsn_notify;
  /** DSN RET (what a failure report returns), or ::SMTPC_DSN_RET_DEFAULT. */
  smtpc_dsn_ret dsn_ret;
  /** DSN envelope id (printable ASCII, at most 100 characters encoded), or
   *  NULL. */
  const char *dsn_envid;
  /** 0: the DSN parameters are left out when the server does not offer DSN
   *  (see smtpc_txn_dsn_sent()); ::SMTPC_DSN_REQUIRED: fail instead. */
  unsigned dsn_flags;
  /* ---- version 2 ---- */
  /** Non-zero: MAIL carries REQUIRETLS (RFC 8689), TLS required along the
   *  whole path.  Without a verified TLS connection to a server offering
   *  it, nothing is sent and the call fails with
   *  ::SMTPC_ERR_REQUIRETLS_UNAVAILABLE (see smtpc_txn_set_requiretls()).
   *  A `dsn_ret` of RET=FULL is sent as asked; the server returns
   *  headers only (RFC 8689 5).  Not with `tls_required_no`. */
  int requiretls;
  /** Non-zero: the header field `TLS-Required: No` (RFC 8689 3,
   *  smtpc_msg_set_tls_required_no()).  Not with `requiretls`: setting
   *  both fails with ::SMTPC_ERR_INVALID_ARGUMENT before connecting. */
  int tls_required_no;
  /* ---- version 3 ---- */
  /** DKIM identities to sign the message with (dkim.h,
   *  smtpc_msg_add_dkim()), one signature each, or NULL. */
  const smtpc_dkim *const *dkim;
  /** Number of \ref dkim (at most 8). */
  size_t ndkim;
} smtpc_mail;

/** \brief Where a one-call operation stopped, see smtpc_result_stage(). */
typedef enum smtpc_stage {
  SMTPC_STAGE_SETUP = 0,    /**< Arguments, message or configuration. */
  SMTPC_STAGE_POOL = 1,     /**< Waiting for a pool connection or rate slot. */
  SMTPC_STAGE_RESOLVE = 2,  /**< Host name lookup. */
  SMTPC_STAGE_CONNECT = 3,  /**< TCP connect. */
  SMTPC_STAGE_TLS = 4,      /**< TLS handshake or certificate check. */
  SMTPC_STAGE_GREETING = 5, /**< The server's 220 greeting. */
  SMTPC_STAGE_HELLO = 6,    /**< EHLO (or HELO). */
  SMTPC_STAGE_STARTTLS = 7, /**< The STARTTLS command. */
  SMTPC_STAGE_AUTH = 8,     /**< Authentication. */
  SMTPC_STAGE_SEND = 9,     /**< The mail transaction: see smtpc_txn_step(). */
  SMTPC_STAGE_DONE = 10     /**< Finished (QUIT is not part of the outcome). */
} smtpc_stage;

/** \brief What a failure means for a retry, see smtpc_retry_classify(). */
typedef enum smtpc_retry {
  /** Nothing to retry: the message was accepted (for every recipient, or
   *  for some with ::SMTPC_ERR_PARTIAL: retry only the rejected ones). */
  SMTPC_RETRY_NONE = 0,
  /** Not delivered, may succeed later: a 4xx reply, or the connection
   *  failed before the end of data was sent. */
  SMTPC_RETRY_TRANSIENT = 1,
  /** Not delivered and will fail again unchanged: a 5xx reply, a refused
   *  address, a certificate or authentication failure, a message the server
   *  cannot take. */
  SMTPC_RETRY_PERMANENT = 2,
  /** The connection failed after the end of data was sent and before the
   *  reply: the server may have accepted the message.  Resending may
   *  deliver it twice; the library never does so on its own. */
  SMTPC_RETRY_UNKNOWN = 3
} smtpc_retry;

/**
 * \brief Sends one message built from \p mail: connect, EHLO, STARTTLS,
 *        AUTH, MAIL/RCPT/DATA, QUIT.
 *
 * The message gets Date, Message-ID and MIME headers from the MIME builder
 * (text, HTML alternative, attachments, inline parts); the envelope is
 * From, To, Cc and Bcc (Bcc never appears in the headers).
 * \param[in] cfg The server.
 * \param[in] mail The message.
 * \param[out] result Receives the outcome (free it with
 *             smtpc_result_free()), or NULL when not wanted.  Set to NULL
 *             only when its allocation failed (::SMTPC_ERR_NOMEM).
 * \retval SMTPC_OK Accepted for every recipient.
 * \retval SMTPC_ERR_PARTIAL Accepted for some recipients.
 * \return Otherwise the error that ended it; smtpc_result_stage(),
 *         smtpc_result_message() and smtpc_result_retry() tell where, why
 *         and what to do.  ::SMTPC_ERR_BAD_ADDRESS and
 *         ::SMTPC_ERR_BAD_ARGUMENT report a malformed \p mail before
 *         anything is sent.
 */
SMTPC_API int smtpc_send(const smtpc_client_config *cfg, const smtpc_mail *mail,
                         smtpc_result **result);

/**
 * \brief Sends a message made with the MIME builder, as smtpc_send().
 *
 * The envelope comes from smtpc_msg_envelope(); smtpc_msg_set_8bitmime()
 * is set from the server's EHLO.
 * \param[in] cfg The server.
 * \param[in] msg The message (not changed except for the 8BITMIME
 *            setting; it may be sent again).
 * \param[out] result As for smtpc_send().
 * \return As smtpc_send().
 */
SMTPC_API int smtpc_send_msg(const smtpc_client_config *cfg, smtpc_msg *msg,
                             smtpc_result **result);

/**
 * \brief Checks a configuration without sending: connect, EHLO, STARTTLS
 *        and AUTH as configured, then QUIT.
 *
 * Use it at start-up to fail early.  The stage and message tell exactly
 * what failed: "resolve", "connect" (with the system error),
 * "TLS" (with the certificate problem, e.g. expired, wrong name,
 * untrusted), "STARTTLS", "AUTH" (with the server's reply).
 * \param[in] cfg The server.
 * \param[out] result As for smtpc_send(); on success the message names
 *             the TLS parameters and the AUTH mechanism used.
 * \retval SMTPC_OK The server accepted the connection and credentials.
 * \return Otherwise the error.
 */
SMTPC_API int smtpc_verify(const smtpc_client_config *cfg,
                           smtpc_result **result);

/**
 * \brief Frees a result (and its transaction).
 * \param[in] r The result; NULL is a no-op.
 */
SMTPC_API void smtpc_result_free(smtpc_result *r);

/**
 * \brief The outcome: ::SMTPC_OK, ::SMTPC_ERR_PARTIAL, or an error.
 * \param[in] r The result.
 * \return The status (::SMTPC_ERR_INVALID_ARGUMENT when \p r is NULL).
 */
SMTPC_API int smtpc_result_status(const smtpc_result *r);

/**
 * \brief Where the operation stopped (::SMTPC_STAGE_DONE on success).
 * \param[in] r The result.
 * \return The stage.
 */
SMTPC_API smtpc_stage smtpc_result_stage(const smtpc_result *r);

/**
 * \brief A one-line description of the outcome for logs, e.g.
 *        "connect 127.0.0.1:25: Connection refused",
 *        "TLS: certificate has expired (...)",
 *        "AUTH: 535 5.7.8 Error: authentication failed",
 *        "RCPT TO:<x@example.org>: 550 5.1.1 unknown user", or on success
 *        "accepted: 250 2.0.0 Ok: queued as 4XyZ".
 * \param[in] r The result.
 * \return The text (valid while \p r lives); "" when \p r is NULL.
 */
SMTPC_API const char *smtpc_result_message(const smtpc_result *r);

/**
 * \brief The server reply that decided the outcome (the greeting, EHLO,
 *        STARTTLS, AUTH, MAIL, RCPT, DATA or end-of-data reply), if any.
 * \param[in] r The result.
 * \return The reply (valid while \p r lives) or NULL.
 */
SMTPC_API const smtpc_reply *smtpc_result_reply(const smtpc_result *r);

/**
 * \brief The mail transaction, for per-recipient replies
 *        (smtpc_txn_rcpt_reply()), the queue id and the step reached.
 * \param[in] r The result.
 * \return The transaction (valid while \p r lives), or NULL when none was
 *         started (verify, or a failure before MAIL).
 */
SMTPC_API const smtpc_txn *smtpc_result_txn(const smtpc_result *r);

/**
 * \brief Why the certificate was not trusted, when the stage is
 *        ::SMTPC_STAGE_TLS and the status ::SMTPC_ERR_CERTIFICATE.
 * \param[in] r The result.
 * \return The reason, or ::SMTPC_TLS_VERIFY_OK.
 */
SMTPC_API smtpc_tls_verify smtpc_result_tls_verify(const smtpc_result *r);

/**
 * \brief How many times a pool sent the message's transaction: 1, or 2
 *        after a retry on a fresh connection (smtpc_send(): always 1 once
 *        a connection was made).
 * \param[in] r The result.
 * \return The count (0 when no transaction was started).
 */
SMTPC_API unsigned smtpc_result_attempts(const smtpc_result *r);

/**
 * \brief Classifies the outcome for retrying (see ::smtpc_retry).
 * \param[in] r The result.
 * \return The class.
 */
SMTPC_API smtpc_retry smtpc_result_retry(const smtpc_result *r);

/**
 * \brief Classifies a status for retrying.
 *
 * A 4xx reply is transient and a 5xx reply permanent, whatever the status
 * says.  Without a reply: a lost connection, timeout or malformed reply is
 * transient before the end of data and ::SMTPC_RETRY_UNKNOWN at
 * ::SMTPC_STEP_DATA_END; name resolution, connection and TLS handshake
 * failures are transient; configuration problems (certificate, STARTTLS
 * or AUTH unavailable, credentials that would go out in clear) and
 * messages the server cannot take (size, 8-bit, addresses) are permanent.
 * \param[in] status An ::smtpc_error value, ::SMTPC_OK or
 *            ::SMTPC_ERR_PARTIAL.
 * \param[in] step How far the transaction got (::SMTPC_STEP_NONE outside a
 *            transaction).
 * \param[in] reply The reply that decided it, or NULL.
 * \return The class.
 */
SMTPC_API smtpc_retry smtpc_retry_classify(int status, smtpc_step step,
                                           const smtpc_reply *reply);

/**
 * \brief Classifies a completed transaction for retrying.
 *
 * ::SMTPC_ERR_NO_RECIPIENTS is permanent when every recipient got a 5xx
 * reply and transient otherwise; ::SMTPC_ERR_PARTIAL is
 * ::SMTPC_RETRY_NONE (use smtpc_txn_rcpt_retry() for the rejected ones).
 * \param[in] t The transaction.
 * \return The class; ::SMTPC_RETRY_TRANSIENT for an incomplete one.
 */
SMTPC_API smtpc_retry smtpc_txn_retry(const smtpc_txn *t);

/**
 * \brief Classifies one recipient of a completed transaction.
 * \param[in] t The transaction.
 * \param[in] i Index below smtpc_txn_rcpt_count().
 * \return ::SMTPC_RETRY_NONE when the message was accepted for this
 *         recipient; the class of its RCPT reply when it was rejected; else
 *         the class of the transaction.
 */
SMTPC_API smtpc_retry smtpc_txn_rcpt_retry(const smtpc_txn *t, size_t i);

/**
 * \brief A name for a stage: "setup", "pool", "resolve", "connect", "TLS",
 *        "greeting", "EHLO", "STARTTLS", "AUTH", "send", "done".
 * \param[in] stage The stage.
 * \return A static string ("unknown" for other values).
 */
SMTPC_API const char *smtpc_stage_name(smtpc_stage stage);

/**
 * \brief A name for a retry class: "none", "transient", "permanent",
 *        "unknown".
 * \param[in] retry The class.
 * \return A static string.
 */
SMTPC_API const char *smtpc_retry_name(smtpc_retry retry);

/* ---- connection pool ----------------------------------------------------- */

/** \brief Layout version of ::smtpc_pool_options in these headers (0: the
 *         first). */
#define SMTPC_POOL_OPTIONS_VERSION 0

/** \brief Pool settings; zero means the default. */
typedef struct smtpc_pool_options {
  /** ::SMTPC_POOL_OPTIONS_VERSION, or 0 for the first layout. */
  int version;
  /** Most connections open at once; 0: 3. */
  unsigned max_connections;
  /** Messages per connection before it is closed with QUIT; 0: 100. */
  unsigned max_messages;
  /** A connection idle this long (ms) is closed instead of reused;
   *  0: 30 000.  Closed at the next send, by smtpc_pool_close_idle() or by
   *  smtpc_pool_free(). */
  unsigned idle_timeout_ms;
  /** A connection idle longer than this (ms) is checked with NOOP before
   *  reuse; 0: 1 000.  Every reuse is also checked with RSET, pipelined
   *  with the next MAIL when the server offers PIPELINING. */
  unsigned check_after_ms;
  /** Most messages started per second over the whole pool; 0: no limit. */
  unsigned rate_limit;
} smtpc_pool_options;

/** \brief Pool counters, see smtpc_pool_stats_get(). */
typedef struct smtpc_pool_stats {
  uint64_t connects;    /**< Connections opened (successfully) so far. */
  uint64_t messages;    /**< Transactions sent (retries included). */
  uint64_t retries;     /**< Messages retried on a fresh connection. */
  uint64_t replaced;    /**< Connections found dead (421, closed) and
                           dropped. */
  uint64_t tls_resumed; /**< Connections whose TLS session was resumed
                             (see smtpc_tls_cache_new()). */
  unsigned open;        /**< Connections open now (idle or busy). */
  unsigned busy;        /**< Connections sending now. */
} smtpc_pool_stats;

/**
 * \brief Creates a pool.  Connections are opened on demand.
 *
 * With threads (see smtpc_pool_threadsafe()) any number of threads may call
 * smtpc_pool_send() and smtpc_pool_send_msg() at once; at most
 * \p max_connections of them send while the others wait.  A message is
 * retried once on a fresh connection when its connection was found closed
 * or answered 421 before the end of data was sent (so the server cannot
 * have accepted it); it is never sent twice.
 * \param[out] out Receives the pool.
 * \param[in] cfg The server (copied).
 * \param[in] opt Settings, or NULL for the defaults.
 * \retval SMTPC_OK Created.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p out or \p cfg is NULL, no host, or
 *         \p cfg or \p opt has a version newer than the library.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 * \retval SMTPC_ERR_INTERNAL Thread primitives could not be created.
 */
SMTPC_API int smtpc_pool_new(smtpc_pool **out, const smtpc_client_config *cfg,
                             const smtpc_pool_options *opt);

/**
 * \brief Sends a message built from \p mail (as smtpc_send()) on a pooled
 *        connection.
 *
 * Blocks until a connection is free (or one may be opened) and the rate
 * limit allows, then sends.
 * \param[in] p The pool.
 * \param[in] mail The message.
 * \param[in] wait_ms Longest wait for a connection and rate slot; 0 does
 *            not wait.  After that ::SMTPC_ERR_TIMEOUT at
 *            ::SMTPC_STAGE_POOL (nothing was sent).
 * \param[out] result As for smtpc_send().
 * \return As smtpc_send().
 */
SMTPC_API int smtpc_pool_send(smtpc_pool *p, const smtpc_mail *mail,
                              unsigned wait_ms, smtpc_result **result);

/**
 * \brief Sends a message made with the MIME builder on a pooled
 *        connection, as smtpc_pool_send().
 * \param[in] p The pool.
 * \param[in] msg The message, as for smtpc_send_msg(); used by one thread
 *            at a time.
 * \param[in] wait_ms As for smtpc_pool_send().
 * \param[out] result As for smtpc_send().
 * \return As smtpc_send().
 */
SMTPC_API int smtpc_pool_send_msg(smtpc_pool *p, smtpc_msg *msg,
                                  unsigned wait_ms, smtpc_result **result);

/**
 * \brief Closes, now, the idle connections that have been idle for
 *        smtpc_pool_options::idle_timeout_ms or longer (with QUIT).
 *
 * The pool does this itself at every send; call this from a timer when the
 * pool may sit unused for long, so that its connections are closed by the
 * client after the idle time rather than left open until the server drops
 * them.  Thread-safe like smtpc_pool_send().
 * \param[in] p The pool.
 * \return The number of connections closed.
 */
SMTPC_API unsigned smtpc_pool_close_idle(smtpc_pool *p);

/**
 * \brief Reads the pool's counters.
 * \param[in] p The pool.
 * \param[out] st Receives the counters.
 */
SMTPC_API void smtpc_pool_stats_get(smtpc_pool *p, smtpc_pool_stats *st);

/**
 * \brief Says QUIT on every idle connection and frees the pool.  No send
 *        may be in progress.
 * \param[in] p The pool; NULL is a no-op.
 */
SMTPC_API void smtpc_pool_free(smtpc_pool *p);

/**
 * \brief Whether this build's pool is thread-safe (built with POSIX
 *        threads).  Without threads a pool works from one thread.
 * \return 1 or 0.
 */
SMTPC_API int smtpc_pool_threadsafe(void);

#ifdef __cplusplus
}
#endif

#endif /* SMTPC_CLIENT_H */
