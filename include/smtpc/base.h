/* SPDX-License-Identifier: MIT */
/**
 * \file base.h
 * \brief What every part of libsmtpc shares: the export macro, the error
 *        codes, the allocator, the transport and body interfaces, the
 *        security setting and the opaque object types.
 *
 * Every other public header includes this one and nothing above its own
 * layer, so each header compiles on its own; most programs include the
 * umbrella header smtpc.h instead.
 *
 * **Extending public structures.**  A structure that the caller fills in
 * and that may gain members later starts with `int version`.  Version 0 is
 * the layout of libsmtpc 0.1, so a zero-initialised structure (`= {0}`) is
 * always valid; each such structure has a `SMTPC_<NAME>_VERSION` macro
 * naming the layout of the headers in use.  A later release that adds
 * members at the end raises that number, reads the new members only from a
 * structure that declares the new version, and keeps accepting every older
 * one.  A structure that claims a version newer than the library knows is
 * refused with ::SMTPC_ERR_INVALID_ARGUMENT.  The functions that fill in
 * such a structure for the caller (smtpc_socket_io(), smtpc_tls_wrap(),
 * smtpc_body_init_memory(), smtpc_msg_body()) write the version-0 layout.
 */
#ifndef SMTPC_BASE_H
#define SMTPC_BASE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** \brief Marks a declaration as part of the public, exported ABI. */
#if defined(_WIN32) && defined(SMTPC_BUILDING)
#define SMTPC_API __declspec(dllexport)
#elif defined(_WIN32)
#define SMTPC_API
#elif defined(SMTPC_BUILDING) && defined(__GNUC__)
#define SMTPC_API __attribute__((visibility("default")))
#else
#define SMTPC_API
#endif

/** \brief Signed size type used by the I/O callbacks (never `ssize_t`). */
typedef ptrdiff_t smtpc_ssize;

/**
 * \brief Error codes.
 *
 * Every fallible function returns ::SMTPC_OK (zero) or one of these negative
 * codes.  The codes are grouped in ranges: would-block (-1, -2), usage
 * (-100s), protocol (-200s), transport (-300s) and fatal (-900s).  After a
 * fatal error the only permitted call on the session is smtpc_session_free().
 */
typedef enum smtpc_error {
  SMTPC_OK = 0, /**< Success. */
  /** The transport has no data yet: call again when it is readable. */
  SMTPC_ERR_WANT_READ = -1,
  /** The transport cannot take data yet: call again when it is writable. */
  SMTPC_ERR_WANT_WRITE = -2,

  SMTPC_ERR_INVALID_ARGUMENT = -100, /**< NULL or out-of-range argument. */
  /** The call is not allowed in the session's current state. */
  SMTPC_ERR_INVALID_STATE = -101,
  /** A mailbox is malformed or contains CR, LF, NUL or a space. */
  SMTPC_ERR_BAD_ADDRESS = -102,
  /** A command argument (EHLO name, VRFY string) contains CR, LF or NUL. */
  SMTPC_ERR_BAD_ARGUMENT = -103,
  /** The body has 8-bit bytes and the server does not offer 8BITMIME. */
  SMTPC_ERR_8BIT_UNSUPPORTED = -104,
  /** The declared message size exceeds the server's SIZE limit. */
  SMTPC_ERR_MESSAGE_TOO_BIG = -105,
  /** The body read callback reported an error; the message was not sent. */
  SMTPC_ERR_BODY_READ = -106,
  /** A body line exceeded the 998-octet limit of RFC 5321 section 4.5.3.1.6. */
  SMTPC_ERR_BODY_LINE_TOO_LONG = -107,
  /** The feature was not compiled into this build. */
  SMTPC_ERR_NOT_SUPPORTED = -108,
  /** An address or a header field is UTF-8 (RFC 6531, 6532) and the server
   *  does not offer SMTPUTF8; nothing of the message was sent. */
  SMTPC_ERR_SMTPUTF8_UNSUPPORTED = -109,
  /** A domain is non-ASCII, the server does not offer SMTPUTF8 and no IDNA
   *  converter is available to send it as an A-label (see ::smtpc_idna_cb
   *  and smtpc_idna_to_ascii()). */
  SMTPC_ERR_IDNA_UNAVAILABLE = -110,
  /** Delivery status notifications were required (::SMTPC_DSN_REQUIRED)
   *  and the server does not offer DSN; nothing of the message was sent. */
  SMTPC_ERR_DSN_UNSUPPORTED = -111,
  /** REQUIRETLS was asked for (RFC 8689) and the connection is not TLS
   *  with a verified certificate, or the EHLO after TLS does not offer
   *  REQUIRETLS; nothing of the message was sent. */
  SMTPC_ERR_REQUIRETLS_UNAVAILABLE = -112,
  /** The body is binary (::SMTPC_BODY_BINARYMIME) and the server does not
   *  offer both CHUNKING and BINARYMIME (RFC 3030 3); nothing of the
   *  message was sent. */
  SMTPC_ERR_BINARYMIME_UNSUPPORTED = -113,
  /** The message has more recipients (or recipient domains) than the
   *  server takes in one transaction (RFC 9422 LIMITS RCPTMAX,
   *  RCPTDOMAINMAX) and its body cannot be read a second time (a stream
   *  without smtpc_body::rewind); nothing of it was sent. */
  SMTPC_ERR_RCPT_LIMIT = -114,
  /** The server takes no more transactions on this connection (RFC 9422
   *  LIMITS MAILMAX): send the message on a new one.  Recipients it did
   *  not reach have no reply. */
  SMTPC_ERR_MAIL_LIMIT = -115,
  /** A DKIM key cannot be used: unreadable, not RSA or Ed25519, RSA under
   *  2048 bits (RFC 8301), a wrong password, no crypto library for it in
   *  this build, or it failed to sign (see dkim.h). */
  SMTPC_ERR_DKIM_KEY = -116,
  /** A message to DKIM-sign cannot be read twice (a stream without
   *  smtpc_body::rewind) and no spool file was given; nothing was sent. */
  SMTPC_ERR_DKIM_SOURCE = -117,
  /** A message to DKIM-sign has no From field or more than one, a header
   *  line that is not a field, or a header block over
   *  ::SMTPC_DKIM_MAX_HEADER octets; nothing was sent. */
  SMTPC_ERR_DKIM_HEADER = -118,

  /** A server reply is syntactically invalid (bad code, separator, NUL), or
   *  out of sequence: a 354 to the DATA of a transaction already refused. */
  SMTPC_ERR_PROTOCOL = -200,
  /** A reply line is longer than the configured limit. */
  SMTPC_ERR_REPLY_LINE_TOO_LONG = -201,
  /** A multi-line reply exceeds the configured byte or line-count limit. */
  SMTPC_ERR_REPLY_TOO_LARGE = -202,
  /** The server answered 4xx (transient); the reply is kept. */
  SMTPC_ERR_REPLY_TEMPORARY = -203,
  /** The server answered 5xx (permanent); the reply is kept. */
  SMTPC_ERR_REPLY_PERMANENT = -204,
  /** The server sent 421 or closed an idle connection: reconnect. */
  SMTPC_ERR_SERVICE_CLOSING = -205,
  /** The greeting was 554: the server refuses this client. */
  SMTPC_ERR_GREETING_REFUSED = -206,
  /** Every recipient of the transaction was rejected. */
  SMTPC_ERR_NO_RECIPIENTS = -207,
  /** Some recipients were accepted and some rejected (partial success). */
  SMTPC_ERR_PARTIAL = -208,
  /** The server sent bytes the client did not ask for (e.g. after STARTTLS). */
  SMTPC_ERR_UNEXPECTED_DATA = -209,
  /** The server does not offer a required extension. */
  SMTPC_ERR_EXTENSION_UNSUPPORTED = -210,
  /** STARTTLS is required by policy but not available or refused. */
  SMTPC_ERR_STARTTLS_UNAVAILABLE = -211,
  /** Authentication failed; see smtpc_session_last_reply(). */
  SMTPC_ERR_AUTH_FAILED = -212,
  /** Credentials would travel unencrypted and the caller did not allow it
   *  (::SMTPC_FLAG_ALLOW_PLAINTEXT_AUTH). */
  SMTPC_ERR_AUTH_INSECURE = -213,
  /** No AUTH mechanism both sides support (or the named one is not
   *  offered). */
  SMTPC_ERR_AUTH_UNSUPPORTED = -214,
  /** A 334 challenge was not valid base64 or was too long. */
  SMTPC_ERR_AUTH_BAD_CHALLENGE = -215,

  SMTPC_ERR_IO = -300,      /**< The transport failed (errno-level error). */
  SMTPC_ERR_EOF = -301,     /**< The server closed the connection. */
  SMTPC_ERR_TIMEOUT = -302, /**< A per-command deadline passed. */
  SMTPC_ERR_RESOLVE = -303, /**< The host name could not be resolved. */
  SMTPC_ERR_CONNECT =
      -304,             /**< No address of the host accepted a connection. */
  SMTPC_ERR_TLS = -305, /**< TLS handshake or record failure. */
  SMTPC_ERR_CERTIFICATE = -306, /**< The server certificate was not trusted. */

  SMTPC_ERR_NOMEM = -900,    /**< Out of memory (fatal). */
  SMTPC_ERR_CALLBACK = -901, /**< A callback broke its contract (fatal). */
  SMTPC_ERR_INTERNAL = -902  /**< Internal invariant violated (fatal). */
} smtpc_error;

/**
 * \brief Describes an error code in one English sentence fragment.
 *
 * A library compiled with `-DSMTPC_NO_ERROR_STRINGS` (for small targets)
 * returns one text per class of error instead.
 * \param[in] err An ::smtpc_error value (any integer is accepted).
 * \return A static string; never NULL.
 */
SMTPC_API const char *smtpc_strerror(int err);

/**
 * \brief Tells whether an error is fatal for the session.
 * \param[in] err An ::smtpc_error value.
 * \return 1 for the fatal tier (-900s) and for transport or protocol errors
 *         that leave the connection unusable, 0 otherwise.
 */
SMTPC_API int smtpc_error_is_fatal(int err);

/**
 * \brief Converts a domain to its ASCII form (IDNA2008 / UTS #46 A-labels),
 *        for a server that does not offer SMTPUTF8.
 *
 * Set one with smtpc_session_set_idna() or smtpc_msg_set_idna(); the
 * default is smtpc_idna_to_ascii().
 * \param[in] user The pointer given with the callback.
 * \param[in] domain The domain, UTF-8 (at least one octet above 127).
 * \param[out] out Receives the ASCII domain, NUL-terminated.
 * \param[in] outlen Size of \p out (256 is always enough).
 * \return ::SMTPC_OK, ::SMTPC_ERR_BAD_ADDRESS when the domain has no valid
 *         ASCII form, or ::SMTPC_ERR_NOT_SUPPORTED when no conversion is
 *         available (the address is then refused with
 *         ::SMTPC_ERR_IDNA_UNAVAILABLE).
 */
typedef int (*smtpc_idna_cb)(void *user, const char *domain, char *out,
                             size_t outlen);

/**
 * \brief The built-in ::smtpc_idna_cb: GNU libidn2's UTS #46
 *        non-transitional mapping (`idn2_to_ascii_8z()` with NFC input),
 *        when the library was built with it.
 * \param[in] user Unused.
 * \param[in] domain The domain, UTF-8.
 * \param[out] out Receives the A-label form ("xn--bcher-kva.example").
 * \param[in] outlen Size of \p out.
 * \retval SMTPC_OK Converted.
 * \retval SMTPC_ERR_BAD_ADDRESS Not a valid internationalised domain.
 * \retval SMTPC_ERR_NOT_SUPPORTED Built without libidn2.
 * \retval SMTPC_ERR_INVALID_ARGUMENT NULL argument or \p out too small.
 */
SMTPC_API int smtpc_idna_to_ascii(void *user, const char *domain, char *out,
                                  size_t outlen);

/** \brief RET: what a failure notification returns (RFC 3461 4.3). */
typedef enum smtpc_dsn_ret {
  SMTPC_DSN_RET_DEFAULT = 0, /**< No RET parameter: the server decides. */
  SMTPC_DSN_RET_FULL = 1,    /**< RET=FULL: the whole message. */
  SMTPC_DSN_RET_HDRS = 2     /**< RET=HDRS: its header only. */
} smtpc_dsn_ret;

/* NOTIFY bits (RFC 3461 4.1), per recipient: NEVER stands alone, the
 * others combine; 0 sends no NOTIFY. */
/** \brief NOTIFY=NEVER: no notification (stands alone). */
#define SMTPC_NOTIFY_NEVER 1u
/** \brief NOTIFY=SUCCESS: report delivery. */
#define SMTPC_NOTIFY_SUCCESS 2u
/** \brief NOTIFY=FAILURE: report failure. */
#define SMTPC_NOTIFY_FAILURE 4u
/** \brief NOTIFY=DELAY: report a delay. */
#define SMTPC_NOTIFY_DELAY 8u

/** \brief DSN flag: fail before MAIL with ::SMTPC_ERR_DSN_UNSUPPORTED when
 *         the server does not offer DSN (without it the parameters are left
 *         out and smtpc_txn_dsn_sent() says so). */
#define SMTPC_DSN_REQUIRED 1u

/**
 * \brief Allocator hooks.  All memory of a session is obtained through these.
 *
 * Pass NULL wherever an allocator is accepted to use the C library.
 */
typedef struct smtpc_mem {
  void *user; /**< Passed as the first argument to every hook. */
  /** Allocates \p size bytes, or returns NULL. */
  void *(*malloc)(void *user, size_t size);
  /** Resizes \p ptr to \p size bytes, or returns NULL (keeping \p ptr). */
  void *(*realloc)(void *user, void *ptr, size_t size);
  /** Frees \p ptr (which may be NULL). */
  void (*free)(void *user, void *ptr);
} smtpc_mem;

/** \brief Layout version of ::smtpc_io in these headers (0: the first). */
#define SMTPC_IO_VERSION 0

/**
 * \brief Transport callbacks.
 *
 * \p send and \p recv return the number of bytes moved, ::SMTPC_ERR_WANT_READ
 * or ::SMTPC_ERR_WANT_WRITE when they would block, or another negative
 * ::smtpc_error.  \p recv returns 0 at end of stream.  A callback that returns
 * a would-block code must be called again later with the same arguments.
 */
typedef struct smtpc_io {
  /** ::SMTPC_IO_VERSION, or 0 for the first layout (see "Extending
   *  public structures" in base.h). */
  int version;
  void *ctx; /**< Passed as the first argument to every callback. */
  /** Writes up to \p len bytes. Required. */
  smtpc_ssize (*send)(void *ctx, const unsigned char *buf, size_t len);
  /** Reads up to \p len bytes; 0 means the peer closed. Required. */
  smtpc_ssize (*recv)(void *ctx, unsigned char *buf, size_t len);
  /**
   * Upgrades the connection to TLS for \p servername; may return a
   * would-block code and is then called again.  Optional (NULL = no TLS).
   */
  int (*starttls)(void *ctx, const char *servername);
  /**
   * Arms a deadline of \p timeout_ms milliseconds for the wait that starts
   * now (a whole reply, not one read).  The transport makes \p recv and
   * \p send fail with ::SMTPC_ERR_TIMEOUT once it passes.  0 disarms.
   * Optional.
   */
  void (*set_timeout)(void *ctx, unsigned timeout_ms);
  /** Closes the transport. Optional; called by smtpc_session_close(). */
  void (*close)(void *ctx);
  /**
   * Returns 1 when the connection is encrypted and the server verified
   * (after a STARTTLS handshake, or from the start with implicit TLS);
   * 2 when it is encrypted but the certificate was not verified (the TLS
   * adapter with smtpc_tls_insecure_skip_verify()): enough for the
   * security setting and for sending credentials, never for REQUIRETLS
   * (smtpc_txn_set_requiretls()); 0 otherwise.  Optional: NULL means
   * never.  The session's security setting and its refusal to send
   * credentials in clear rely on it.
   */
  int (*is_secure)(void *ctx);
} smtpc_io;

/** \brief Layout version of ::smtpc_body in these headers (0: the first;
 *         1 added smtpc_body::rewind). */
#define SMTPC_BODY_VERSION 1

/** \brief What the caller knows about the body's octets. */
typedef enum smtpc_body_type {
  /** Unknown: scanned when in memory; a stream is declared 8BITMIME when
   *  the server offers it and checked for 8-bit bytes otherwise.  A body in
   *  memory with a NUL octet or a line over 998 octets is sent as
   *  ::SMTPC_BODY_BINARYMIME when the server offers CHUNKING and
   *  BINARYMIME; otherwise a long line is refused before MAIL with
   *  ::SMTPC_ERR_BODY_LINE_TOO_LONG and a NUL goes as before (bare CR and
   *  bare LF alone never make a body binary). */
  SMTPC_BODY_AUTO = 0,
  SMTPC_BODY_7BIT = 1,     /**< Only 7-bit bytes (checked while sending). */
  SMTPC_BODY_8BITMIME = 2, /**< May hold 8-bit bytes: needs 8BITMIME. */
  /** Header fields hold UTF-8 (RFC 6532), e.g. an address with a UTF-8
   *  local part: MAIL carries SMTPUTF8 (and BODY=8BITMIME when offered),
   *  and a server without SMTPUTF8 is refused before MAIL with
   *  ::SMTPC_ERR_SMTPUTF8_UNSUPPORTED.  An ::SMTPC_BODY_AUTO body in
   *  memory is given this type when its header holds an octet above 127. */
  SMTPC_BODY_SMTPUTF8 = 3,
  /** Binary MIME (RFC 3030 3): any octets, sent exactly as given in BDAT
   *  chunks with `BODY=BINARYMIME` on MAIL -- no line-end rewriting, no
   *  line-length limit, no dot-stuffing, nothing added at the end.  BDAT
   *  is used whatever ::SMTPC_FLAG_CHUNKING says; a server that does not
   *  offer both CHUNKING and BINARYMIME is refused before MAIL with
   *  ::SMTPC_ERR_BINARYMIME_UNSUPPORTED.  The body must be a complete MIME
   *  message whose text parts already end their lines with CRLF.  A
   *  library built with `-DSMTPC_NO_CHUNKING` refuses such a body in
   *  smtpc_session_queue() with ::SMTPC_ERR_NOT_SUPPORTED. */
  SMTPC_BODY_BINARYMIME = 4
} smtpc_body_type;

/**
 * \brief A message body source: an RFC 5322 message, streamed.
 *
 * Bare CR and bare LF are sent as CRLF and lines starting with "." are
 * stuffed, so any byte sequence is safe (a binary body,
 * ::SMTPC_BODY_BINARYMIME, goes unchanged instead).  The body must not contain the
 * end-of-data dot line; the library appends it.  The session reads it
 * (smtpc_session_queue()); the MIME builder produces one
 * (smtpc_msg_body()).
 */
typedef struct smtpc_body {
  /** ::SMTPC_BODY_VERSION, or 0 for the first layout (see "Extending
   *  public structures" in base.h). */
  int version;
  /**
   * Reads up to \p len bytes into \p buf: returns the count, 0 at the end,
   * ::SMTPC_ERR_WANT_READ to be called again later, or a negative error
   * (the message is then abandoned: the connection is closed before the
   * end-of-data sequence so the server cannot accept a partial message).
   * NULL when \p data is used.
   */
  smtpc_ssize (*read)(void *ctx, unsigned char *buf, size_t len);
  void *ctx;            /**< Passed to \p read. */
  const void *data;     /**< In-memory body (when \p read is NULL). */
  size_t len;           /**< Length of \p data. */
  int64_t size;         /**< Size in octets if known, else -1. */
  smtpc_body_type type; /**< 7-bit, 8-bit or binary content. */
  /**
   * Version 1: starts \p read over from the first byte, so the message can
   * be sent again -- when the server takes fewer recipients per transaction
   * than it has (RFC 9422 LIMITS RCPTMAX, RCPTDOMAINMAX), each further
   * transaction re-reads it.  Returns ::SMTPC_OK or an error.  NULL (the
   * default of smtpc_body_init_stream()) for a one-shot stream: such a
   * message with too many recipients fails before MAIL with
   * ::SMTPC_ERR_RCPT_LIMIT.  Bodies of smtpc_msg_body() have one unless the
   * message holds a stream part.  Not used for a body in memory.
   */
  int (*rewind)(void *ctx);
} smtpc_body;

/**
 * \brief Fills \p body to send \p len bytes at \p data (not copied: they must
 *        stay valid until the transaction completes).
 *
 * The bytes are scanned when the transaction starts (for the SIZE and BODY
 * parameters and to refuse a line over 998 octets before MAIL) and encoded
 * again as they are sent, so changing them in between never puts an
 * unstuffed line on the wire; but if the change breaks what was checked (a
 * line over 998 octets, an 8-bit octet in a body sent as 7-bit) the message
 * is abandoned: the connection is closed before the end-of-data sequence.
 * \param[out] body The body to initialise.
 * \param[in] data The message bytes.
 * \param[in] len Their length.
 */
SMTPC_API void smtpc_body_init_memory(smtpc_body *body, const void *data,
                                      size_t len);

/**
 * \brief Fills \p body to stream through \p read.
 * \param[out] body The body to initialise.
 * \param[in] read The read callback.
 * \param[in] ctx Passed to \p read.
 * \param[in] size The size in octets, or -1 when unknown.
 */
SMTPC_API void smtpc_body_init_stream(smtpc_body *body,
                                      smtpc_ssize (*read)(void *ctx,
                                                          unsigned char *buf,
                                                          size_t len),
                                      void *ctx, int64_t size);

/**
 * \brief How a connection is secured: one setting for the one-call API
 *        (smtpc_client_config::security), the session
 *        (smtpc_session_set_tls_policy()) and the TLS adapter
 *        (smtpc_tls_new()).
 *
 * Zero, the value of a zero-initialised configuration, is the safe choice:
 * STARTTLS required.  Each layer takes what concerns it.  The TLS adapter
 * starts its handshake at the first byte (::SMTPC_SECURITY_IMPLICIT) or
 * when the session sends STARTTLS (::SMTPC_SECURITY_STARTTLS,
 * ::SMTPC_SECURITY_OPPORTUNISTIC).  The session requires an encrypted,
 * verified connection (::SMTPC_SECURITY_STARTTLS,
 * ::SMTPC_SECURITY_IMPLICIT), tries STARTTLS and accepts clear text
 * (::SMTPC_SECURITY_OPPORTUNISTIC), or never sends STARTTLS
 * (::SMTPC_SECURITY_NONE).
 */
typedef enum smtpc_security {
  /** STARTTLS (RFC 3207) is required; the default of the one-call API.  A
   *  server that does not offer it, or refuses it, is an error
   *  (::SMTPC_ERR_STARTTLS_UNAVAILABLE), never a silent fall-back to clear
   *  text: without an encrypted, verified connection no MAIL, RCPT, AUTH
   *  or body byte is sent. */
  SMTPC_SECURITY_STARTTLS = 0,
  /** TLS from the first byte, port 465 (RFC 8314).  The session requires
   *  an encrypted, verified connection as with ::SMTPC_SECURITY_STARTTLS;
   *  an implicit-TLS transport satisfies it from the start (see
   *  smtpc_io::is_secure). */
  SMTPC_SECURITY_IMPLICIT = 1,
  /** STARTTLS when offered, else clear text; also clear text when the
   *  server refuses STARTTLS with a reply (a failed handshake still ends
   *  the session).  Credentials are still never sent in clear unless
   *  allowed (::SMTPC_FLAG_ALLOW_PLAINTEXT_AUTH,
   *  smtpc_client_config::allow_plaintext_auth). */
  SMTPC_SECURITY_OPPORTUNISTIC = 2,
  /** Clear text only: STARTTLS is never sent.  The default of a session
   *  made with smtpc_session_new(). */
  SMTPC_SECURITY_NONE = 3
} smtpc_security;

/** \brief Opaque SMTP session: one connection, many transactions
 *         (session.h). */
typedef struct smtpc_session smtpc_session;
/** \brief Opaque server reply: code, enhanced code, text lines
 *         (session.h). */
typedef struct smtpc_reply smtpc_reply;
/** \brief Opaque mail transaction: envelope, body and results
 *         (session.h). */
typedef struct smtpc_txn smtpc_txn;
/** \brief Opaque TCP connection (socket.h). */
typedef struct smtpc_socket smtpc_socket;
/** \brief Opaque TLS configuration and connection (tls.h). */
typedef struct smtpc_tls smtpc_tls;
/** \brief Opaque store of TLS sessions for resumption, see
 *         smtpc_tls_cache_new() (tls.h). */
typedef struct smtpc_tls_cache smtpc_tls_cache;
/** \brief Opaque message under construction (mime.h). */
typedef struct smtpc_msg smtpc_msg;
/** \brief The detailed outcome of a one-call operation or a pool send
 *         (client.h). */
typedef struct smtpc_result smtpc_result;
/** \brief A pool of connections to one server, see smtpc_pool_new()
 *         (client.h). */
typedef struct smtpc_pool smtpc_pool;
/** \brief A DKIM signing key with its domain, selector and options
 *         (dkim.h). */
typedef struct smtpc_dkim smtpc_dkim;
/** \brief One message being DKIM-signed, see smtpc_dkim_ctx_new()
 *         (dkim.h). */
typedef struct smtpc_dkim_ctx smtpc_dkim_ctx;
/** \brief A DKIM-signed message body, see smtpc_dkim_body_new() (dkim.h). */
typedef struct smtpc_dkim_body smtpc_dkim_body;

/**
 * \brief The library version as a string, e.g. "0.1.0".
 * \return A static string.
 */
SMTPC_API const char *smtpc_version(void);

#ifdef __cplusplus
}
#endif

#endif /* SMTPC_BASE_H */
