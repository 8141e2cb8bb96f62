/* SPDX-License-Identifier: MIT */
/**
 * \file tls.h
 * \brief The mbedTLS adapter: TLS over any ::smtpc_io transport.
 *
 * An ::smtpc_tls object wraps a lower transport (the socket transport or the
 * caller's own) and hands out an ::smtpc_io whose bytes are encrypted.  Two
 * ways, chosen by the ::smtpc_security value given to smtpc_tls_new():
 * - STARTTLS (RFC 3207): the wrapper passes bytes through in the clear until
 *   the session calls smtpc_io::starttls, which runs the handshake;
 * - implicit TLS (RFC 8314, port 465): the handshake runs before the first
 *   byte, on the first send or recv.
 *
 * Included by smtpc.h; needs only base.h.
 *
 * Verification is on by default: the server certificate must chain to a
 * trusted CA (the system bundle, or smtpc_tls_set_cafile() /
 * smtpc_tls_set_capath()) and name the server given to
 * smtpc_tls_set_hostname() in its subjectAltName (RFC 9525, RFC 7817): a DNS
 * name must equal a dNSName entry (ignoring case) or match a wildcard entry
 * "*.rest", where "*" is the whole left-most label and stands for exactly
 * one label and "rest" has at least two labels ("*.example.com" names
 * "mx.example.com" but not "example.com" nor "a.mx.example.com"; "*.com"
 * and "mx*.example.com" name nothing); the subject CN is never used, so a
 * certificate without a dNSName entry fails for every DNS name.  An IP
 * address must equal an iPAddress entry.  SNI is sent for DNS names.
 * TLS 1.2 is the minimum, and only ECDHE key exchange with AES-GCM or
 * ChaCha20-Poly1305 is offered (no RSA key transport, no CBC), see
 * smtpc_tls_wrap().  Non-blocking like the rest of the library: the
 * handshake and records return ::SMTPC_ERR_WANT_READ / ::SMTPC_ERR_WANT_WRITE
 * and continue when called again.
 *
 * Built only when configure finds mbedTLS; otherwise every function here
 * returns ::SMTPC_ERR_NOT_SUPPORTED ("not built with TLS").
 *
 * <b>mbedTLS versions.</b> Tested with 2.28 LTS (Debian 12's 2.28.3; TLS
 * 1.2 only), 3.6 LTS (Debian 13's 3.6.6: TLS 1.2 and 1.3) and 4.0 (4.0.0
 * with TF-PSA-Crypto 1.0.0: PSA-only crypto), with the same tests; see the
 * README ("Building").  mbedTLS 2.16 and later build.  With 4.x the
 * library calls psa_crypto_init() itself (in smtpc_tls_new()) and CRAM-MD5
 * uses libsmtpc's own MD5.  The key exchange group offered first is the
 * cheaper one of X25519 and P-256 for the version (X25519 with 2.x or
 * Everest, P-256 from 3.0 on).  Threads: 3.x and 4.x keep PSA crypto's
 * state per process, so using TLS from several threads at once (::smtpc_pool
 * with threads, a shared ::smtpc_tls_cache) needs an mbedTLS built with
 * MBEDTLS_THREADING_C and MBEDTLS_THREADING_PTHREAD (Debian's are; 4.x's
 * default configuration is not, and configure warns).
 *
 * <b>RAM.</b> The heap one TLS connection takes (the ::smtpc_tls with the
 * mbedTLS contexts in it, everything mbedTLS allocates, one parsed CA
 * certificate; bench/tls_heap against Postfix, RSA-2048 server certificate,
 * STARTTLS + AUTH; the ::smtpc_session and its I/O buffers come on top),
 * in KiB, with mbedTLS's default 16 KiB record buffers and with
 * MBEDTLS_SSL_IN_CONTENT_LEN and MBEDTLS_SSL_OUT_CONTENT_LEN at 4096:
 *
 * | mbedTLS            | buffers | after wrap | handshake peak | idle |
 * |--------------------|---------|-----------:|---------------:|-----:|
 * | 2.28 (TLS 1.2)     | 16 KiB  | 41.0       | 48.5           | 42.1 |
 * | 2.28.9 (TLS 1.2)   | 4 KiB   | 16.7       | 23.9           | 17.2 |
 * | 3.6.6 (TLS 1.3)    | 16 KiB  | 45.8       | 63.5           | 51.4 |
 * | 3.6.6 (TLS 1.3)    | 4 KiB   | 21.4       | 30.3           | 26.9 |
 * | 4.0.0 (TLS 1.3)    | 16 KiB  | 44.4       | 63.7           | 47.3 |
 * | 4.0.0 (TLS 1.3)    | 4 KiB   | 20.4       | 28.8           | 23.3 |
 *
 * 2.28 and 3.6 with 16 KiB are Debian's builds; the others are built from
 * the release tags with the default configuration.  A resumed handshake
 * peaks 4.4 KiB lower with TLS 1.2 and 0.5-3 KiB lower with TLS 1.3 (whose
 * resumption keeps an ECDHE exchange); with TLS 1.3 a ticket read after the
 * handshake can take as much as the handshake again for a moment (4.0:
 * 63.7 KiB).  An ::smtpc_tls_cache holds 4.1 KiB (2.28) to 9.6 KiB (3.6,
 * 4.0) per server.  4 KiB input buffers only work with servers that send
 * records of at most 4 KiB (Postfix does for its replies and a one-RSA-
 * certificate handshake); the output buffer can always be small, as
 * libsmtpc's writes are split into records of its size.
 */
#ifndef SMTPC_TLS_H
#define SMTPC_TLS_H

#include <smtpc/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/** \brief Why the server certificate was not trusted. */
typedef enum smtpc_tls_verify {
  SMTPC_TLS_VERIFY_OK = 0,         /**< Trusted (or not checked). */
  SMTPC_TLS_VERIFY_EXPIRED = 1,    /**< Expired or not yet valid. */
  SMTPC_TLS_VERIFY_HOSTNAME = 2,   /**< Does not name the server. */
  SMTPC_TLS_VERIFY_UNKNOWN_CA = 3, /**< No chain to a trusted CA
                                        (self-signed included). */
  SMTPC_TLS_VERIFY_REVOKED = 4,    /**< Revoked. */
  SMTPC_TLS_VERIFY_OTHER = 5       /**< Any other verification failure. */
} smtpc_tls_verify;

/**
 * \brief Creates a TLS wrapper.
 *
 * \p security is the value the session gets too
 * (smtpc_session_set_tls_policy()); the wrapper takes from it only when
 * the handshake runs: at the first byte for ::SMTPC_SECURITY_IMPLICIT,
 * when the session sends STARTTLS (smtpc_io::starttls) for
 * ::SMTPC_SECURITY_STARTTLS and ::SMTPC_SECURITY_OPPORTUNISTIC.
 * \param[out] out Receives the object.
 * \param[in] mem Allocator hooks (copied) or NULL.
 * \param[in] security How the connection is secured.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p out is NULL, or \p security is
 *         ::SMTPC_SECURITY_NONE or unknown.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 * \retval SMTPC_ERR_NOT_SUPPORTED The library was built without mbedTLS.
 */
SMTPC_API int smtpc_tls_new(smtpc_tls **out, const smtpc_mem *mem,
                            smtpc_security security);

/**
 * \brief Frees the wrapper (does not close the lower transport).
 * \param[in] tls The object; NULL is a no-op.
 */
SMTPC_API void smtpc_tls_free(smtpc_tls *tls);

/**
 * \brief Sets the server name for SNI and certificate verification.
 *
 * Required in implicit mode (no server name reaches the handshake there)
 * unless verification is disabled; in STARTTLS mode the name the session
 * passes to smtpc_io::starttls is used when none is set here.  Like every
 * configuration call, it takes effect at smtpc_tls_wrap().
 *
 * The certificate must name the server in its subjectAltName (RFC 9525): a
 * DNS name matches a dNSName entry equal to it (ignoring case), or a
 * wildcard entry "*.rest" whose "*" is the whole left-most label, covers
 * exactly the first label of the name and is followed by at least two
 * labels: "*.example.com" matches "mx.example.com", but neither
 * "example.com" nor "a.mx.example.com"; "*.com" and "mx*.example.com"
 * match nothing.  The subject CN is not used: a certificate without any
 * dNSName entry is refused for a DNS name (::SMTPC_TLS_VERIFY_HOSTNAME,
 * "certificate has no DNS name in subjectAltName ...").  An IP literal
 * matches only an iPAddress entry with the same address, and is not sent
 * as SNI.
 * \param[in] tls The object.
 * \param[in] host A DNS name (letters, digits, "-", "_", "."; one trailing
 *            dot is dropped) or an IP literal, optionally in brackets
 *            ("[192.0.2.1]", "[IPv6:2001:db8::1]") (copied).
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p tls or \p host is NULL.
 * \retval SMTPC_ERR_BAD_ARGUMENT Anything else.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_tls_set_hostname(smtpc_tls *tls, const char *host);

/**
 * \brief Trusts the CA certificates in a PEM file instead of the system
 *        bundle.
 * \param[in] tls The object.
 * \param[in] path The file.
 * \retval SMTPC_OK Loaded.
 * \retval SMTPC_ERR_CERTIFICATE The file could not be read or parsed.
 */
SMTPC_API int smtpc_tls_set_cafile(smtpc_tls *tls, const char *path);

/**
 * \brief Trusts the CA certificates in a directory (every file is tried).
 * \param[in] tls The object.
 * \param[in] path The directory.
 * \retval SMTPC_OK At least one certificate loaded.
 * \retval SMTPC_ERR_CERTIFICATE Nothing could be loaded.
 */
SMTPC_API int smtpc_tls_set_capath(smtpc_tls *tls, const char *path);

/**
 * \brief Presents a client certificate.
 * \param[in] tls The object.
 * \param[in] certfile PEM certificate (chain).
 * \param[in] keyfile PEM private key (unencrypted).
 * \retval SMTPC_OK Loaded.
 * \retval SMTPC_ERR_CERTIFICATE A file could not be read or parsed, or the
 *         key does not match the certificate; no client certificate is then
 *         configured.
 */
SMTPC_API int smtpc_tls_set_client_cert(smtpc_tls *tls, const char *certfile,
                                        const char *keyfile);

/**
 * \brief DANGEROUS: accepts any server certificate for any name.  Anyone on
 *        the path can then impersonate the server and read the mail and the
 *        password (the connection still counts as secure for
 *        ::SMTPC_SECURITY_STARTTLS and for AUTH: the caller chose this).  For
 *        tests only.
 * \param[in] tls The object.
 * \param[in] yes Non-zero to disable verification.
 */
SMTPC_API void smtpc_tls_insecure_skip_verify(smtpc_tls *tls, int yes);

/**
 * \brief Binds the wrapper to a lower transport and fills \p out with the
 *        callbacks the session should use.
 *
 * The handshake offers TLS 1.2 and, when mbedTLS has it, TLS 1.3, and only
 * these cipher suites, as far as the mbedTLS build has them (RFC 9325):
 * TLS 1.3's CHACHA20_POLY1305_SHA256, AES_256_GCM_SHA384 and
 * AES_128_GCM_SHA256; for TLS 1.2, ECDHE_ECDSA and ECDHE_RSA each with
 * CHACHA20_POLY1305_SHA256, AES_256_GCM_SHA384 and AES_128_GCM_SHA256.  No
 * RSA key transport, finite-field DHE, CBC, CCM, CAMELLIA or ARIA suite is
 * offered, so a server without any of the listed ones fails the handshake.
 * \param[in] tls The object (must outlive the session using \p out).
 * \param[in] lower The transport underneath (copied).
 * \param[out] out The wrapped transport.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT Missing callbacks.
 * \retval SMTPC_ERR_CERTIFICATE No CA could be loaded (system bundle
 *         missing and none configured).
 * \retval SMTPC_ERR_TLS mbedTLS set-up failed (or this mbedTLS build has
 *         none of the cipher suites above).
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_tls_wrap(smtpc_tls *tls, const smtpc_io *lower,
                             smtpc_io *out);

/**
 * \brief Why the last handshake failed verification.
 * \param[in] tls The object.
 * \return The reason; ::SMTPC_TLS_VERIFY_OK if none.
 */
SMTPC_API smtpc_tls_verify smtpc_tls_verify_result(const smtpc_tls *tls);

/**
 * \brief A one-line description of the last TLS error, e.g.
 *        "certificate has expired" or "certificate is for mx.example.org,
 *        not mail.example.com".
 * \param[in] tls The object.
 * \return A string owned by \p tls ("" when there was no error).
 */
SMTPC_API const char *smtpc_tls_last_error(const smtpc_tls *tls);

/**
 * \brief 1 once the handshake completed (and the peer was verified unless
 *        verification was disabled).
 * \param[in] tls The object.
 * \return 1 or 0.
 */
SMTPC_API int smtpc_tls_is_active(const smtpc_tls *tls);

/**
 * \brief The negotiated protocol and cipher suite, e.g.
 *        "TLSv1.3 TLS1-3-AES-256-GCM-SHA384".
 * \param[in] tls The object.
 * \return A string owned by \p tls, "" before the handshake.  A resumed
 *         session ends in " (resumed)".
 */
SMTPC_API const char *smtpc_tls_description(const smtpc_tls *tls);

/**
 * \brief Creates a store of TLS sessions, so that the next connection to the
 *        same server resumes the session of the last one instead of paying
 *        for a full handshake.
 *
 * Attach it with smtpc_tls_set_cache() to every ::smtpc_tls that connects
 * to the server(s); the session is kept and the next handshake offers it:
 * with TLS 1.2 when the handshake ends (the server's ticket, RFC 5077, or
 * session ID, RFC 5246); with TLS 1.3 whenever the server sends a ticket
 * (RFC 8446 4.6.1), which comes after the handshake and is taken in by the
 * reads that follow (a connection closed before reading anything keeps
 * none).  If the server resumes it, the handshake skips the
 * key exchange and the certificate, most of the cost of setting up a
 * connection; if not, a full handshake runs and is verified as always.
 *
 * Security: a session is offered only to a handshake with the same server
 * name, the same trust settings (the CA files and directories and client
 * certificate given to the ::smtpc_tls, by name and in order) and the same
 * smtpc_tls_insecure_skip_verify() switch as the handshake that
 * made it; a session from an unverified connection never stands in for a
 * verified one.  A handshake that fails after offering a session removes
 * it.  The cache keeps the most recently used sessions of up to 8 servers;
 * their secrets are wiped when they are replaced or freed.
 *
 * Thread-safe (with threads, see smtpc_pool_threadsafe(), and with
 * mbedTLS 3.x/4.x built with MBEDTLS_THREADING_C, see above): one cache may
 * serve any number of ::smtpc_tls objects in any threads.  It must outlive
 * them.  ::smtpc_pool makes its own.
 * \param[out] out Receives the cache.
 * \param[in] mem Allocator hooks (copied; must be thread-safe when the cache
 *            is shared between threads) or NULL.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p out is NULL or \p mem incomplete.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 * \retval SMTPC_ERR_INTERNAL The lock could not be created.
 * \retval SMTPC_ERR_NOT_SUPPORTED The library was built without mbedTLS.
 */
SMTPC_API int smtpc_tls_cache_new(smtpc_tls_cache **out, const smtpc_mem *mem);

/**
 * \brief Frees the cache and wipes the sessions in it.
 * \param[in] cache The cache; NULL is a no-op.  No ::smtpc_tls may still use
 *            it.
 */
SMTPC_API void smtpc_tls_cache_free(smtpc_tls_cache *cache);

/**
 * \brief Attaches a session cache (or detaches it, with NULL); takes effect
 *        at the next handshake.
 * \param[in] tls The object.
 * \param[in] cache The cache, or NULL.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p tls is NULL.
 * \retval SMTPC_ERR_NOT_SUPPORTED The library was built without mbedTLS.
 */
SMTPC_API int smtpc_tls_set_cache(smtpc_tls *tls, smtpc_tls_cache *cache);

/**
 * \brief 1 when the active connection resumed a cached session (an
 *        abbreviated handshake, see smtpc_tls_cache_new()).
 *
 * True only when the server took the offered session, that is when it did
 * not authenticate again with its certificate (the handshake had no
 * certificate to verify); a server that ignores the offer and runs a full
 * handshake gives 0.  The same on every mbedTLS version, for TLS 1.2 and
 * 1.3.
 * \param[in] tls The object.
 * \return 1 or 0 (also before the handshake and without TLS support).
 */
SMTPC_API int smtpc_tls_is_resumed(const smtpc_tls *tls);

#ifdef __cplusplus
}
#endif

#endif /* SMTPC_TLS_H */
