/* SPDX-License-Identifier: MIT */
/**
 * \file session.h
 * \brief The SMTP session: one connection, its options, the mail
 *        transactions queued on it and the server's replies.
 *
 * The session parses server replies and composes commands; it never
 * touches a socket.  Bytes move through the caller's ::smtpc_io callbacks
 * (or the built-in socket transport, see smtpc_socket_new()).  Every
 * operation that may block returns ::SMTPC_ERR_WANT_READ or
 * ::SMTPC_ERR_WANT_WRITE when the transport would block; call it again with
 * the same arguments once the transport is ready.  A blocking program
 * simply uses a blocking transport.
 *
 * Included by smtpc.h; needs only base.h.
 */
#ifndef SMTPC_SESSION_H
#define SMTPC_SESSION_H

#include <smtpc/base.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** \brief Direction of a trace line. */
typedef enum smtpc_trace_dir {
  SMTPC_TRACE_IN = 0,  /**< A line received from the server. */
  SMTPC_TRACE_OUT = 1, /**< A command line sent to the server. */
  SMTPC_TRACE_INFO = 2 /**< A note from the library (e.g. body byte count). */
} smtpc_trace_dir;

/**
 * \brief Receives every protocol line (without CRLF).  AUTH payloads are
 *        replaced by `<redacted>`; message body lines are not traced.
 */
typedef void (*smtpc_trace_cb)(void *user, smtpc_trace_dir dir,
                               const char *line, size_t len);

/** \brief Per-command timeouts (RFC 5321 section 4.5.3.2). */
typedef enum smtpc_timeout_kind {
  SMTPC_TIMEOUT_GREETING = 0,   /**< Initial 220: default 5 minutes. */
  SMTPC_TIMEOUT_MAIL = 1,       /**< MAIL: default 5 minutes. */
  SMTPC_TIMEOUT_RCPT = 2,       /**< RCPT: default 5 minutes. */
  SMTPC_TIMEOUT_DATA_INIT = 3,  /**< DATA to 354: default 2 minutes. */
  SMTPC_TIMEOUT_DATA_BLOCK = 4, /**< Each body write: default 3 minutes. */
  SMTPC_TIMEOUT_DATA_END = 5, /**< End of data to reply: default 10 minutes. */
  SMTPC_TIMEOUT_OTHER = 6     /**< EHLO, RSET, NOOP, VRFY, QUIT: 5 minutes. */
} smtpc_timeout_kind;

/** \brief Session limits, see smtpc_session_set_limit(). */
typedef enum smtpc_limit {
  /** Longest accepted reply line in octets incl. CRLF (default 4096). */
  SMTPC_LIMIT_REPLY_LINE = 0,
  /** Most octets in one multi-line reply (default 65536). */
  SMTPC_LIMIT_REPLY_BYTES = 1,
  /** Most lines in one multi-line reply (default 256). */
  SMTPC_LIMIT_REPLY_LINES = 2,
  /** Bytes asked of smtpc_io::recv at once (default 16384, at least 64). */
  SMTPC_LIMIT_READ_BUFFER = 3,
  /** Encoded body bytes gathered before a write (default 65536; the output
   *  buffer may reach twice this; at least 64). */
  SMTPC_LIMIT_WRITE_BUFFER = 4,
  /** Bytes asked of a streamed body's read callback at once (default
   *  16384, at least 64; not while a body is being sent). */
  SMTPC_LIMIT_BODY_CHUNK = 5,
  /** Octets of message data per BDAT command (::SMTPC_FLAG_CHUNKING;
   *  default 65536, at least 64; not while a body is being sent). */
  SMTPC_LIMIT_BDAT_CHUNK = 6,
  /** Messages whose replies may be outstanding at once (default 16, 1 to
   *  4096).  With PIPELINING and BDAT (::SMTPC_FLAG_CHUNKING) a message
   *  that fits in one chunk leaves as MAIL, RCPT... and `BDAT n LAST`
   *  without waiting for a reply, and the next queued message follows in
   *  the same flight; replies are matched in order and each message keeps
   *  its own.  With DATA a message waits for the 354, so at most two are
   *  in flight whatever this says. */
  SMTPC_LIMIT_MESSAGE_WINDOW = 7
} smtpc_limit;

/** \brief Session flags, see smtpc_session_set_flag(). */
typedef enum smtpc_flag {
  /** Use PIPELINING when offered (default on). */
  SMTPC_FLAG_PIPELINING = 0,
  /** Never send EHLO, only HELO (default off). */
  SMTPC_FLAG_HELO_ONLY = 1,
  /** Allow AUTH over a connection that is not encrypted and verified
   *  (default off: such an AUTH fails with ::SMTPC_ERR_AUTH_INSECURE). */
  SMTPC_FLAG_ALLOW_PLAINTEXT_AUTH = 2,
  /** Send message data with BDAT (RFC 3030) when the server offers
   *  CHUNKING (default off: DATA, which every server handles; several
   *  mishandle BDAT).  Line ends are still made CRLF and lines are still
   *  held to 998 octets; there is no dot-stuffing.  The data goes in
   *  chunks of ::SMTPC_LIMIT_BDAT_CHUNK octets (up to 4 in flight with
   *  PIPELINING), the last as `BDAT n LAST`.  With PIPELINING a message
   *  that fits in one chunk follows its MAIL and RCPT commands at once,
   *  and the next queued message follows it behind an RSET (see
   *  ::SMTPC_LIMIT_MESSAGE_WINDOW); a larger one's chunks wait for the
   *  envelope's replies.  The first refused chunk ends the transaction,
   *  no further chunk of it is sent and RSET precedes the next MAIL. */
  SMTPC_FLAG_CHUNKING = 3
} smtpc_flag;

/** \brief SASL mechanisms, see smtpc_session_set_auth(). */
typedef enum smtpc_auth_mech {
  /** Choose the strongest mechanism both sides support. */
  SMTPC_AUTH_AUTO = 0,
  SMTPC_AUTH_PLAIN = 1,      /**< RFC 4616. */
  SMTPC_AUTH_LOGIN = 2,      /**< draft-murchison-sasl-login. */
  SMTPC_AUTH_CRAM_MD5 = 3,   /**< RFC 2195. */
  SMTPC_AUTH_XOAUTH2 = 4,    /**< Google / Microsoft bearer tokens. */
  SMTPC_AUTH_OAUTHBEARER = 5 /**< RFC 7628. */
} smtpc_auth_mech;

/**
 * \brief Creates a session.
 * \param[out] out Receives the session.
 * \param[in] mem Allocator hooks (copied), or NULL for the C library.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p out is NULL or \p mem is incomplete.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_session_new(smtpc_session **out, const smtpc_mem *mem);

/**
 * \brief Frees a session, its replies and any transaction it still owns.
 *        Does not close the transport (see smtpc_session_close()).
 * \param[in] s The session; NULL is a no-op.
 */
SMTPC_API void smtpc_session_free(smtpc_session *s);

/**
 * \brief Sets the transport.  Must be called before smtpc_session_open().
 * \param[in] s The session.
 * \param[in] io The callbacks (copied).
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT Missing send/recv or wrong version.
 * \retval SMTPC_ERR_INVALID_STATE The session is open or in memory mode.
 */
SMTPC_API int smtpc_session_set_io(smtpc_session *s, const smtpc_io *io);

/** smtpc_session_set_memory_mode(): the transport is encrypted and its peer
 *  verified from the start (implicit TLS, RFC 8314). */
#define SMTPC_MEM_SECURE 1u
/** smtpc_session_set_memory_mode(): the caller can upgrade its transport to
 *  TLS when the session asks (STARTTLS). */
#define SMTPC_MEM_STARTTLS 2u

/**
 * \brief Puts a session in memory mode: no smtpc_io, the caller moves the
 *        bytes (like nghttp2's mem_recv/mem_send).
 *
 * The operations (smtpc_session_open(), smtpc_session_run(), QUIT...) are
 * called as usual.  Where a transport call would be made they return
 * ::SMTPC_ERR_WANT_WRITE (take the output with smtpc_session_mem_send(), or
 * upgrade the transport when smtpc_session_want_starttls() says so) or
 * ::SMTPC_ERR_WANT_READ (give what arrived with smtpc_session_mem_recv());
 * then call the same operation again.  The deadline of the wait is
 * smtpc_session_current_timeout(), counted from the last call that made
 * progress; when it passes, call smtpc_session_mem_error() with
 * ::SMTPC_ERR_TIMEOUT.  After an error the transport must be closed: the
 * session may have stopped in the middle of a message on purpose.
 * \param[in] s A new session (no smtpc_session_set_io()).
 * \param[in] flags ::SMTPC_MEM_SECURE, ::SMTPC_MEM_STARTTLS, or 0 for a
 *            clear-text transport that cannot be upgraded.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT Unknown flag.
 * \retval SMTPC_ERR_INVALID_STATE The session is open or has a transport.
 */
SMTPC_API int smtpc_session_set_memory_mode(smtpc_session *s, unsigned flags);

/**
 * \brief Memory mode: gives the session bytes received from the server.
 *
 * They are copied and processed by the next operation call.
 * \param[in] s The session.
 * \param[in] data The bytes.
 * \param[in] len Their number (0 does nothing; an end of stream is
 *            smtpc_session_mem_error() with ::SMTPC_ERR_EOF).
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p data is NULL with \p len > 0.
 * \retval SMTPC_ERR_INVALID_STATE Not in memory mode, after the end of
 *         stream, or 1 MiB of input is waiting: call the operation first.
 * \retval SMTPC_ERR_NOMEM Allocation failed (the session is broken).
 */
SMTPC_API int smtpc_session_mem_recv(smtpc_session *s, const void *data,
                                     size_t len);

/**
 * \brief Memory mode: the bytes to send to the server now.
 *
 * Send what you can, then call smtpc_session_mem_sent() with the number
 * sent.  The pointer is valid until the next call on the session.
 * \param[in] s The session.
 * \param[out] data Receives a pointer to the bytes (NULL when none).
 * \return The number of bytes (0 when nothing is to be sent, or not in
 *         memory mode).
 */
SMTPC_API size_t smtpc_session_mem_send(const smtpc_session *s,
                                        const unsigned char **data);

/**
 * \brief Memory mode: \p n bytes from smtpc_session_mem_send() were sent.
 * \param[in] s The session.
 * \param[in] n At most what smtpc_session_mem_send() returned.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT More than was ready, or not in memory
 *         mode.
 */
SMTPC_API int smtpc_session_mem_sent(smtpc_session *s, size_t n);

/**
 * \brief Memory mode: the transport failed or the server closed it.
 *
 * ::SMTPC_ERR_EOF is taken like a recv() of 0 bytes: input given before
 * still counts (a 221 then EOF after QUIT is the normal end), the next
 * operation call fails if a reply is missing.  ::SMTPC_ERR_IO and
 * ::SMTPC_ERR_TIMEOUT break the session at once.
 * \param[in] s The session.
 * \param[in] err ::SMTPC_ERR_EOF, ::SMTPC_ERR_IO or ::SMTPC_ERR_TIMEOUT.
 * \retval SMTPC_OK The end of stream was noted.
 * \retval SMTPC_ERR_INVALID_ARGUMENT Another code.
 * \retval SMTPC_ERR_INVALID_STATE Not in memory mode.
 * \return Otherwise the session error (\p err, or
 *         ::SMTPC_ERR_SERVICE_CLOSING when a reused connection was found
 *         closed).
 */
SMTPC_API int smtpc_session_mem_error(smtpc_session *s, int err);

/**
 * \brief Memory mode: 1 if the session waits for input from the server.
 * \param[in] s The session.
 * \return 1 or 0.
 */
SMTPC_API int smtpc_session_want_read(const smtpc_session *s);

/**
 * \brief Memory mode: 1 if output is waiting (smtpc_session_mem_send()).
 * \param[in] s The session.
 * \return 1 or 0.
 */
SMTPC_API int smtpc_session_want_write(const smtpc_session *s);

/**
 * \brief Memory mode: 1 when the server accepted STARTTLS and everything
 *        before it was sent: upgrade the transport now, then call
 *        smtpc_session_starttls_done().
 *
 * Bytes the server sent after its 220 were already refused (an injection,
 * RFC 3207): the session fails instead of asking.
 * \param[in] s The session.
 * \return 1 or 0.
 */
SMTPC_API int smtpc_session_want_starttls(const smtpc_session *s);

/**
 * \brief Memory mode: the TLS handshake the session asked for is over.
 *
 * On success the session sends EHLO again (RFC 3207 4.2: what it learned
 * before TLS is forgotten).  A handshake that succeeded but is not
 * \p secure fails the session with ::SMTPC_ERR_STARTTLS_UNAVAILABLE, as a
 * required-TLS policy cannot be met.
 * \param[in] s The session.
 * \param[in] result ::SMTPC_OK, or why the handshake failed
 *            (::SMTPC_ERR_CERTIFICATE, ::SMTPC_ERR_TLS, ::SMTPC_ERR_IO...).
 * \param[in] secure 1 if the connection is encrypted and the server's
 *            certificate and name were verified.
 * \retval SMTPC_OK The session goes on; call the operation again.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p result is positive.
 * \retval SMTPC_ERR_INVALID_STATE No upgrade was asked for.
 * \return Otherwise the session error.
 */
SMTPC_API int smtpc_session_starttls_done(smtpc_session *s, int result,
                                          int secure);

/**
 * \brief Sets the name sent with EHLO/HELO (a domain or address literal).
 *
 * When unset, smtpc_session_open() uses the host's fully qualified name if it
 * has one (see smtpc_default_ehlo_name()), else `[127.0.0.1]`.
 * \param[in] s The session.
 * \param[in] name The name (copied).
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_BAD_ARGUMENT Empty, contains CR, LF, NUL, space or control.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_session_set_ehlo_name(smtpc_session *s, const char *name);

/**
 * \brief Sets the server host name (used for TLS SNI and verification).
 * \param[in] s The session.
 * \param[in] host The name (copied).
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_BAD_ARGUMENT Contains CR, LF or NUL.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_session_set_server_name(smtpc_session *s, const char *host);

/**
 * \brief Sets one per-command timeout, handed to smtpc_io::set_timeout.
 * \param[in] s The session.
 * \param[in] kind Which wait.
 * \param[in] timeout_ms Milliseconds; 0 means no deadline.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT Unknown \p kind.
 */
SMTPC_API int smtpc_session_set_timeout(smtpc_session *s,
                                        smtpc_timeout_kind kind,
                                        unsigned timeout_ms);

/**
 * \brief Sets every timeout kind to the same value (as `smtpc --timeout`).
 * \param[in] s The session.
 * \param[in] timeout_ms Milliseconds; 0 means no deadline.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p s is NULL.
 */
SMTPC_API int smtpc_session_set_timeout_all(smtpc_session *s,
                                            unsigned timeout_ms);

/**
 * \brief The timeout of the wait the session is currently in, for callers
 *        that run their own event loop and timers.
 * \param[in] s The session.
 * \return Milliseconds, or 0 when no deadline applies.
 */
SMTPC_API unsigned smtpc_session_current_timeout(const smtpc_session *s);

/**
 * \brief Sets a reply-size limit or an I/O buffer size.
 *
 * Small buffers suit small devices: with 512-byte read and write buffers
 * and a 512-byte body chunk a session needs a few KiB of heap.
 * \param[in] s The session.
 * \param[in] which The limit.
 * \param[in] value The new value (at least 64 for line, byte and buffer
 *            sizes, at least 1 for lines; buffers at most 1 GiB).
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT Unknown limit or value out of range.
 * \retval SMTPC_ERR_INVALID_STATE The body chunk size cannot change while
 *         a body is being sent.
 */
SMTPC_API int smtpc_session_set_limit(smtpc_session *s, smtpc_limit which,
                                      size_t value);

/**
 * \brief Turns a session flag on or off.
 * \param[in] s The session.
 * \param[in] flag The flag.
 * \param[in] on Non-zero to set.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT Unknown flag.
 */
SMTPC_API int smtpc_session_set_flag(smtpc_session *s, smtpc_flag flag, int on);

/**
 * \brief Installs a trace callback (NULL removes it).
 * \param[in] s The session.
 * \param[in] cb Called for every line in and out.
 * \param[in] user Passed to \p cb.
 */
SMTPC_API void smtpc_session_set_trace(smtpc_session *s, smtpc_trace_cb cb,
                                       void *user);

/**
 * \brief Sets what the session demands of the connection's security
 *        (default ::SMTPC_SECURITY_NONE: never STARTTLS).
 *
 * ::SMTPC_SECURITY_STARTTLS and ::SMTPC_SECURITY_IMPLICIT mean TLS or
 * nothing: without an encrypted, verified connection no MAIL, RCPT, AUTH or
 * body byte is sent and smtpc_session_open() fails with
 * ::SMTPC_ERR_STARTTLS_UNAVAILABLE; a connection that is secure from the
 * start (an implicit-TLS transport, see smtpc_io::is_secure) satisfies
 * them, else the session sends STARTTLS.  ::SMTPC_SECURITY_OPPORTUNISTIC
 * sends STARTTLS when offered and goes on in clear when it is not offered
 * or is refused with a reply (a failed handshake still ends the session).
 * Pass the transport's TLS adapter the same value (smtpc_tls_new()).
 * \param[in] s The session, before smtpc_session_open().
 * \param[in] security The setting.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT Unknown setting.
 * \retval SMTPC_ERR_INVALID_STATE The session is already open.
 */
SMTPC_API int smtpc_session_set_tls_policy(smtpc_session *s,
                                           smtpc_security security);

/**
 * \brief Sets credentials: smtpc_session_open() authenticates after EHLO
 *        (and after STARTTLS).
 *
 * For PLAIN, LOGIN and CRAM-MD5 \p secret is the password; for XOAUTH2 and
 * OAUTHBEARER it is the bearer token.  With ::SMTPC_AUTH_AUTO, a password is
 * used with CRAM-MD5, PLAIN or LOGIN (in that order of preference) and never
 * with a token mechanism; use ::SMTPC_AUTH_XOAUTH2 or
 * ::SMTPC_AUTH_OAUTHBEARER explicitly for tokens.  The secret is copied and
 * wiped from the library's memory once used or when the session is freed.
 * A password may hold any byte but NUL: it is sent base64-encoded.
 * \param[in] s The session, before smtpc_session_open().
 * \param[in] mech The mechanism, or ::SMTPC_AUTH_AUTO.
 * \param[in] user The user name (authentication identity).
 * \param[in] secret The password or token.
 * \param[in] authzid Authorisation identity for PLAIN, or NULL.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_BAD_ARGUMENT \p user or \p authzid is empty, longer
 *         than 500 bytes or holds a control character (CR, LF, ...);
 *         \p secret is empty; or an XOAUTH2 or OAUTHBEARER token holds a
 *         control character (a ^A would add SASL fields).
 * \retval SMTPC_ERR_INVALID_ARGUMENT Unknown mechanism.
 * \retval SMTPC_ERR_INVALID_STATE The session is already open.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_session_set_auth(smtpc_session *s, smtpc_auth_mech mech,
                                     const char *user, const char *secret,
                                     const char *authzid);

/**
 * \brief The mechanism used by the last successful authentication.
 * \param[in] s The session.
 * \return The mechanism, or ::SMTPC_AUTH_AUTO when none succeeded.
 */
SMTPC_API smtpc_auth_mech smtpc_session_auth_mech(const smtpc_session *s);

/**
 * \brief 1 when the session runs over an encrypted, verified transport.
 *
 * Also 1 when the transport is encrypted but its certificate was not
 * verified (smtpc_io::is_secure returns 2, as with
 * smtpc_tls_insecure_skip_verify()): such a session meets the TLS policy
 * but never qualifies for REQUIRETLS (smtpc_txn_set_requiretls()).
 * \param[in] s The session.
 * \return 1 or 0.
 */
SMTPC_API int smtpc_session_is_secure(const smtpc_session *s);

/**
 * \brief Reads the greeting and says EHLO (HELO if EHLO is rejected with
 *        5xx), then, as configured, STARTTLS and EHLO again, then AUTH.
 * \param[in] s The session, with its transport set.
 * \retval SMTPC_OK The server is ready for mail.
 * \retval SMTPC_ERR_WANT_READ, SMTPC_ERR_WANT_WRITE Call again.
 * \retval SMTPC_ERR_GREETING_REFUSED Greeting was 554.
 * \retval SMTPC_ERR_SERVICE_CLOSING Greeting or EHLO reply was 421.
 * \retval SMTPC_ERR_REPLY_TEMPORARY, SMTPC_ERR_REPLY_PERMANENT EHLO and HELO
 *         failed; see smtpc_session_last_reply().
 * \retval SMTPC_ERR_PROTOCOL, SMTPC_ERR_REPLY_LINE_TOO_LONG,
 *         SMTPC_ERR_REPLY_TOO_LARGE Malformed reply.
 * \retval SMTPC_ERR_EOF, SMTPC_ERR_IO, SMTPC_ERR_TIMEOUT Transport failure.
 * \retval SMTPC_ERR_STARTTLS_UNAVAILABLE TLS is required but STARTTLS was
 *         not offered, refused, or the transport cannot do TLS.
 * \retval SMTPC_ERR_TLS, SMTPC_ERR_CERTIFICATE The TLS handshake failed.
 * \retval SMTPC_ERR_UNEXPECTED_DATA The server sent bytes after its 220 to
 *         STARTTLS, before the handshake (response injection).
 * \retval SMTPC_ERR_AUTH_FAILED The server rejected the credentials.
 * \retval SMTPC_ERR_AUTH_INSECURE Credentials would go out in clear.
 * \retval SMTPC_ERR_AUTH_UNSUPPORTED No usable AUTH mechanism.
 * \retval SMTPC_ERR_AUTH_BAD_CHALLENGE Malformed 334 challenge.
 * \retval SMTPC_ERR_INVALID_STATE Already open, or no transport set.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_session_open(smtpc_session *s);

/**
 * \brief Queues a mail transaction on the session.
 *
 * Nothing is sent until smtpc_session_run().  The addresses are copied; the
 * body's bytes or stream must stay valid until the transaction completes.
 * Several transactions may be queued; with PIPELINING their commands share
 * writes.
 *
 * Addresses may be UTF-8 (RFC 6531).  When the transaction starts, MAIL
 * carries SMTPUTF8 exactly when an address or the message header
 * (::SMTPC_BODY_SMTPUTF8) is UTF-8 and the server offers it.  Without it, a
 * UTF-8 local part or header completes the transaction with
 * ::SMTPC_ERR_SMTPUTF8_UNSUPPORTED before MAIL, and a UTF-8 domain is sent
 * as an A-label (smtpc_session_set_idna()).  DSN parameters are set on the
 * returned transaction before smtpc_session_run() (smtpc_txn_set_dsn(),
 * smtpc_txn_set_notify()).
 *
 * A binary body (::SMTPC_BODY_BINARYMIME, RFC 3030 3) goes in BDAT chunks
 * with BODY=BINARYMIME whatever ::SMTPC_FLAG_CHUNKING says, or completes
 * with ::SMTPC_ERR_BINARYMIME_UNSUPPORTED before MAIL when the server does
 * not offer both CHUNKING and BINARYMIME.
 * \param[in] s The session.
 * \param[in] from The reverse-path mailbox without angle brackets; "" for the
 *            null reverse-path `<>`.
 * \param[in] rcpts Forward-path mailboxes without angle brackets.
 * \param[in] nrcpts Number of recipients (at least 1).
 * \param[in] body The body (copied; see ::smtpc_body for lifetimes).
 * \param[out] out Receives the transaction; the caller frees it with
 *             smtpc_txn_free().  May be NULL (the session then frees it).
 * \retval SMTPC_OK Queued.
 * \retval SMTPC_ERR_BAD_ADDRESS A mailbox is malformed.
 * \retval SMTPC_ERR_INVALID_ARGUMENT No recipient or a bad body.
 * \retval SMTPC_ERR_NOT_SUPPORTED A binary body and a library built with
 *         `-DSMTPC_NO_CHUNKING`.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_session_queue(smtpc_session *s, const char *from,
                                  const char *const *rcpts, size_t nrcpts,
                                  const smtpc_body *body, smtpc_txn **out);

/**
 * \brief Sets how a UTF-8 domain is converted to an A-label when the server
 *        does not offer SMTPUTF8.
 *
 * The default is smtpc_idna_to_ascii() (libidn2 when the library was built
 * with it).  Only addresses with a UTF-8 domain and an ASCII local part are
 * converted, and only for a server without SMTPUTF8: with SMTPUTF8 they go
 * as given, with the SMTPUTF8 parameter on MAIL.
 * \param[in] s The session.
 * \param[in] cb The converter, or NULL for none (such an address then
 *            fails with ::SMTPC_ERR_IDNA_UNAVAILABLE).
 * \param[in] user Passed to \p cb.
 * \retval SMTPC_OK Set.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p s is NULL.
 */
SMTPC_API int smtpc_session_set_idna(smtpc_session *s, smtpc_idna_cb cb,
                                     void *user);

/**
 * \brief Runs queued transactions until all are complete.
 *
 * A transaction whose recipients are all rejected, or that the server
 * rejects, completes with an error in smtpc_txn_status(); the session stays
 * usable and the next transaction proceeds.  So does a transaction that
 * cannot be sent to this server at all (::SMTPC_ERR_8BIT_UNSUPPORTED,
 * ::SMTPC_ERR_MESSAGE_TOO_BIG, ::SMTPC_ERR_BODY_LINE_TOO_LONG for an
 * in-memory body): it completes before any of its bytes is sent.
 * \param[in] s The session.
 * \retval SMTPC_OK Every queued transaction completed (see each status).
 * \retval SMTPC_ERR_WANT_READ, SMTPC_ERR_WANT_WRITE Call again.
 * \retval SMTPC_ERR_SERVICE_CLOSING The server sent 421 or closed the
 *         connection between transactions: reconnect.
 * \retval SMTPC_ERR_PROTOCOL, SMTPC_ERR_EOF, SMTPC_ERR_IO, SMTPC_ERR_TIMEOUT,
 *         SMTPC_ERR_BODY_READ The connection is unusable; unfinished
 *         transactions complete with this status.
 * \retval SMTPC_ERR_INVALID_STATE The session is not open.
 */
SMTPC_API int smtpc_session_run(smtpc_session *s);

/**
 * \brief Sends RSET (abandons any transaction the server holds).
 * \param[in] s The session.
 * \retval SMTPC_OK 250 received.
 * \retval SMTPC_ERR_WANT_READ, SMTPC_ERR_WANT_WRITE Call again.
 * \retval SMTPC_ERR_SERVICE_CLOSING The server closed or sent 421: reconnect.
 * \retval SMTPC_ERR_REPLY_TEMPORARY, SMTPC_ERR_REPLY_PERMANENT Rejected.
 * \retval SMTPC_ERR_INVALID_STATE Not open, or transactions are running.
 */
SMTPC_API int smtpc_session_rset(smtpc_session *s);

/**
 * \brief Sends NOOP (checks that the connection is alive).
 * \param[in] s The session.
 * \return As smtpc_session_rset().
 */
SMTPC_API int smtpc_session_noop(smtpc_session *s);

/**
 * \brief Sends VRFY.  Call again with the same \p what after a would-block.
 * \param[in] s The session.
 * \param[in] what The user name or mailbox to verify.
 * \retval SMTPC_OK 250 or 251; the reply holds the answer.
 * \retval SMTPC_ERR_BAD_ARGUMENT \p what contains CR, LF or NUL.
 * \return Otherwise as smtpc_session_rset() (252 counts as success too).
 */
SMTPC_API int smtpc_session_vrfy(smtpc_session *s, const char *what);

/**
 * \brief Sends QUIT and waits for its reply.  The transport is not closed.
 *
 * On a session broken by a fatal error nothing is sent and ::SMTPC_OK is
 * returned; after a failure the server stated in a reply (AUTH refused,
 * STARTTLS refused, greeting 554) QUIT is still sent politely.
 * \param[in] s The session.
 * \retval SMTPC_OK 221 received (or the server closed after QUIT).
 * \retval SMTPC_ERR_WANT_READ, SMTPC_ERR_WANT_WRITE Call again.
 * \retval SMTPC_ERR_TIMEOUT, SMTPC_ERR_IO The server did not answer or the
 *         connection broke; nothing is lost by it.
 */
SMTPC_API int smtpc_session_quit(smtpc_session *s);

/**
 * \brief Closes the transport through smtpc_io::close.  Unfinished
 *        transactions complete with ::SMTPC_ERR_EOF.
 * \param[in] s The session.
 */
SMTPC_API void smtpc_session_close(smtpc_session *s);

/**
 * \brief The most recent complete reply from the server.
 * \param[in] s The session.
 * \return The reply, valid until the next call on the session, or NULL.
 */
SMTPC_API const smtpc_reply *smtpc_session_last_reply(const smtpc_session *s);

/**
 * \brief Tells whether the server advertised an EHLO keyword.
 * \param[in] s The session.
 * \param[in] keyword Case-insensitive keyword, e.g. "PIPELINING".
 * \return 1 if advertised, 0 otherwise.
 */
SMTPC_API int smtpc_session_has_ext(const smtpc_session *s,
                                    const char *keyword);

/**
 * \brief Parameters of an EHLO keyword, e.g. "PLAIN LOGIN" for AUTH.
 * \param[in] s The session.
 * \param[in] keyword Case-insensitive keyword.
 * \return The parameters ("" when none), or NULL when not advertised.
 *         Valid until the next EHLO.
 */
SMTPC_API const char *smtpc_session_ext_params(const smtpc_session *s,
                                               const char *keyword);

/**
 * \brief The server's SIZE limit.
 * \param[in] s The session.
 * \return The limit in octets, 0 when SIZE is offered without a limit, -1
 *         when SIZE is not offered.
 */
SMTPC_API int64_t smtpc_session_max_size(const smtpc_session *s);

/**
 * \brief Frees a transaction.  A transaction still in progress is detached:
 *        the session completes and frees it.
 * \param[in] t The transaction; NULL is a no-op.
 */
SMTPC_API void smtpc_txn_free(smtpc_txn *t);

/**
 * \brief Outcome of a transaction.
 * \param[in] t The transaction.
 * \retval SMTPC_OK Every recipient was accepted and the message was accepted.
 * \retval SMTPC_ERR_PARTIAL The message was accepted for some recipients only.
 * \retval SMTPC_ERR_NO_RECIPIENTS Every recipient was rejected.
 * \retval SMTPC_ERR_REPLY_TEMPORARY, SMTPC_ERR_REPLY_PERMANENT MAIL, DATA or
 *         the end of data was rejected; see smtpc_txn_reply().
 * \retval SMTPC_ERR_INVALID_STATE Not complete yet (see
 *         smtpc_txn_is_complete()).
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p t is NULL.
 * \return Otherwise the session error that ended it (nothing was accepted).
 */
SMTPC_API int smtpc_txn_status(const smtpc_txn *t);

/**
 * \brief Whether a transaction is complete: its outcome is known.
 * \param[in] t The transaction.
 * \return 1 when smtpc_txn_status() holds the outcome, 0 while it is still
 *         queued or in progress (or \p t is NULL).
 */
SMTPC_API int smtpc_txn_is_complete(const smtpc_txn *t);

/**
 * \brief The final reply: to the end of data, or the reply that ended the
 *        transaction early.
 * \param[in] t The transaction.
 * \return The reply (valid while \p t lives), or NULL if none was received.
 */
SMTPC_API const smtpc_reply *smtpc_txn_reply(const smtpc_txn *t);

/** \brief Steps of a mail transaction, see smtpc_txn_step(). */
typedef enum smtpc_step {
  SMTPC_STEP_NONE = 0, /**< Nothing sent: queued, or refused locally. */
  SMTPC_STEP_MAIL = 1, /**< MAIL FROM sent, its reply awaited. */
  SMTPC_STEP_RCPT = 2, /**< MAIL accepted, RCPT replies awaited. */
  SMTPC_STEP_DATA = 3, /**< Every RCPT answered, DATA reply awaited. */
  SMTPC_STEP_BODY = 4, /**< 354 received, the body is being sent. */
  /** End of data sent: the server may have accepted the message even if
   *  the connection broke before its reply arrived. */
  SMTPC_STEP_DATA_END = 5
} smtpc_step;

/**
 * \brief How far a transaction got: for a failed one, the step that failed
 *        (MAIL, RCPT, DATA, the body or the end of data).
 * \param[in] t The transaction.
 * \return The step.
 */
SMTPC_API smtpc_step smtpc_txn_step(const smtpc_txn *t);

/**
 * \brief The server's queue id from the final reply ("queued as X", "id=X"),
 *        if it named one.
 * \param[in] t The transaction.
 * \return The id (valid while \p t lives) or NULL.
 */
SMTPC_API const char *smtpc_txn_queue_id(const smtpc_txn *t);

/** \brief smtpc_txn_set_notify(): every recipient. */
#define SMTPC_ALL_RCPTS ((size_t)-1)

/**
 * \brief Asks for delivery status notifications (RFC 3461) on MAIL: RET and
 *        ENVID.
 *
 * Call before smtpc_session_run() starts the transaction.  The parameters
 * go out only when the server offers DSN; without it the transaction fails
 * before MAIL with ::SMTPC_ERR_DSN_UNSUPPORTED if \p flags has
 * ::SMTPC_DSN_REQUIRED, else it is sent without them and
 * smtpc_txn_dsn_sent() returns 0.
 * \param[in] t The transaction, queued and not started.
 * \param[in] ret RET=FULL, RET=HDRS, or ::SMTPC_DSN_RET_DEFAULT for none.
 * \param[in] envid The envelope id returned in notifications, or NULL:
 *            printable US-ASCII, at most 100 characters once xtext-encoded
 *            (the library encodes it: "+" is sent as "+2B").
 * \param[in] flags 0 or ::SMTPC_DSN_REQUIRED.
 * \retval SMTPC_OK Set.
 * \retval SMTPC_ERR_BAD_ARGUMENT \p envid is empty, not printable ASCII or
 *         too long.
 * \retval SMTPC_ERR_INVALID_ARGUMENT Bad \p ret or \p flags.
 * \retval SMTPC_ERR_INVALID_STATE The transaction has started.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_txn_set_dsn(smtpc_txn *t, smtpc_dsn_ret ret,
                                const char *envid, unsigned flags);

/**
 * \brief Sets a recipient's NOTIFY and ORCPT (RFC 3461 4.1, 4.2).
 *
 * ORCPT is sent with each recipient that has NOTIFY or an ORCPT of its own:
 * by default its own address as sent, as `rfc822;` xtext, or for a UTF-8
 * address as RFC 6533 `utf-8;` (raw UTF-8 with SMTPUTF8, `\x{HEX}`
 * escapes without).  Like smtpc_txn_set_dsn(), the parameters go out only
 * when the server offers DSN.
 * \param[in] t The transaction, queued and not started.
 * \param[in] i Recipient index, or ::SMTPC_ALL_RCPTS for every one.
 * \param[in] notify ::SMTPC_NOTIFY_NEVER alone, or any of
 *            ::SMTPC_NOTIFY_SUCCESS, ::SMTPC_NOTIFY_FAILURE and
 *            ::SMTPC_NOTIFY_DELAY; 0 for no NOTIFY.
 * \param[in] orcpt The original recipient to report, or NULL (must be NULL
 *            with ::SMTPC_ALL_RCPTS): a mailbox without angle brackets,
 *            whose encoded parameter fits in 500 characters.
 * \retval SMTPC_OK Set.
 * \retval SMTPC_ERR_INVALID_ARGUMENT Bad index or bits (NEVER combined).
 * \retval SMTPC_ERR_BAD_ADDRESS \p orcpt is not a valid mailbox.
 * \retval SMTPC_ERR_BAD_ARGUMENT \p orcpt encodes to over 500 characters.
 * \retval SMTPC_ERR_INVALID_STATE The transaction has started.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_txn_set_notify(smtpc_txn *t, size_t i, unsigned notify,
                                   const char *orcpt);

/**
 * \brief Whether the DSN parameters were sent.
 * \param[in] t The transaction.
 * \return 1 when MAIL and RCPT carried the DSN parameters asked for, 0 when
 *         none were asked for, the transaction has not started, or the
 *         server did not offer DSN (and ::SMTPC_DSN_REQUIRED was not set).
 */
SMTPC_API int smtpc_txn_dsn_sent(const smtpc_txn *t);

/**
 * \brief Whether MAIL carried SMTPUTF8.
 * \param[in] t The transaction.
 * \return 1 when an address or the header was UTF-8 and the server offered
 *         SMTPUTF8, else 0.
 */
SMTPC_API int smtpc_txn_smtputf8(const smtpc_txn *t);

/**
 * \brief Requires TLS for the message's whole path: MAIL carries
 *        REQUIRETLS (RFC 8689).
 *
 * Call before smtpc_session_run() starts the transaction.  MAIL carries
 * REQUIRETLS, after its other parameters, only when the connection is TLS
 * (STARTTLS done, or implicit TLS) with a verified certificate
 * (smtpc_io::is_secure returns 1; a connection whose certificate is not
 * verified, as with smtpc_tls_insecure_skip_verify(), never qualifies) and
 * the EHLO after TLS offers REQUIRETLS.  Otherwise the transaction fails
 * before MAIL with ::SMTPC_ERR_REQUIRETLS_UNAVAILABLE, no byte of it is
 * sent (RFC 8689 4.2.1: the message MUST NOT be sent), and the next
 * queued transaction goes on.  A DSN RET=FULL asked for with
 * smtpc_txn_set_dsn() is sent as asked: a server taking REQUIRETLS
 * disregards it and returns headers only (RFC 8689 5).
 * \param[in] t The transaction, queued and not started.
 * \param[in] on 1 to require TLS, 0 to take the request back.
 * \retval SMTPC_OK Set.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p t is NULL.
 * \retval SMTPC_ERR_INVALID_STATE The transaction has started.
 * \retval SMTPC_ERR_NOT_SUPPORTED \p on, and the library was built with
 *         `-DSMTPC_NO_REQUIRETLS` (small targets).
 */
SMTPC_API int smtpc_txn_set_requiretls(smtpc_txn *t, int on);

/**
 * \brief Whether MAIL carried REQUIRETLS.
 * \param[in] t The transaction.
 * \return 1 when REQUIRETLS was asked for (smtpc_txn_set_requiretls()) and
 *         MAIL carried it, else 0.
 */
SMTPC_API int smtpc_txn_requiretls(const smtpc_txn *t);

/**
 * \brief Number of recipients in the transaction.
 * \param[in] t The transaction.
 * \return The count given to smtpc_session_queue().
 */
SMTPC_API size_t smtpc_txn_rcpt_count(const smtpc_txn *t);

/**
 * \brief Number of recipients the server accepted (2xx to RCPT).
 * \param[in] t The transaction.
 * \return The count.
 */
SMTPC_API size_t smtpc_txn_accepted_count(const smtpc_txn *t);

/**
 * \brief A recipient's address.
 * \param[in] t The transaction.
 * \param[in] i Index below smtpc_txn_rcpt_count().
 * \return The address (valid while \p t lives) or NULL if out of range.
 */
SMTPC_API const char *smtpc_txn_rcpt(const smtpc_txn *t, size_t i);

/**
 * \brief The reply to a recipient's RCPT command.
 *
 * What is kept is bounded, since a server may answer each RCPT with up to
 * 64 KiB: the code and the enhanced code always; of the lines, the first
 * ones up to 512 octets (the first line cut there if it is longer) while the
 * transaction's RCPT replies take less than 64 KiB of memory, and up to 80
 * octets once they take more.  A transaction's RCPT replies so take at most
 * about 66 KiB plus 384 bytes per recipient (before allocator overhead).
 * \param[in] t The transaction.
 * \param[in] i Index below smtpc_txn_rcpt_count().
 * \return The reply (valid while \p t lives), or NULL if not yet answered.
 */
SMTPC_API const smtpc_reply *smtpc_txn_rcpt_reply(const smtpc_txn *t, size_t i);

/**
 * \brief The three-digit reply code.
 * \param[in] r The reply.
 * \return 200..599 (or 0 if \p r is NULL).
 */
SMTPC_API int smtpc_reply_code(const smtpc_reply *r);

/**
 * \brief The RFC 3463 enhanced status code of the first line ("2.1.5").
 * \param[in] r The reply.
 * \return The code, or "" when the reply has none.
 */
SMTPC_API const char *smtpc_reply_enhanced(const smtpc_reply *r);

/**
 * \brief The reply text: every line's text after the code (and enhanced
 *        code), joined with "\n".
 *
 * Safe to print or log: each control character the server sent (other than
 * HT), and DEL, is replaced by "?".  Octets above 127 (UTF-8 text, RFC 6531
 * section 3.7.4) are kept as they are.  smtpc_reply_line() gives the lines
 * as received.
 * \param[in] r The reply.
 * \return The text ("" when empty).
 */
SMTPC_API const char *smtpc_reply_text(const smtpc_reply *r);

/**
 * \brief Number of lines in the reply.
 * \param[in] r The reply.
 * \return At least 1 (0 if \p r is NULL).
 */
SMTPC_API size_t smtpc_reply_line_count(const smtpc_reply *r);

/**
 * \brief One raw line of the reply, without CRLF ("250-SIZE 1000").
 *
 * The line as received: it holds no NUL, CR or LF, but may hold other
 * control characters (escape them before showing it; smtpc_reply_text()
 * does).
 * \param[in] r The reply.
 * \param[in] i Line index.
 * \return The line, or NULL if out of range.
 */
SMTPC_API const char *smtpc_reply_line(const smtpc_reply *r, size_t i);

/**
 * \brief Writes the default EHLO name into \p buf: the host's fully
 *        qualified name when it has a dot, else "[127.0.0.1]".
 * \param[out] buf Destination.
 * \param[in] len Its size.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p buf too small.
 */
SMTPC_API int smtpc_default_ehlo_name(char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* SMTPC_SESSION_H */
