/* SPDX-License-Identifier: MIT */
/**
 * \file dkim.h
 * \brief DKIM signing (RFC 6376, RFC 8301, RFC 8463) in constant memory.
 *
 * A ::smtpc_dkim holds one signing key with its domain (`d=`), selector
 * (`s=`) and options.  A message is signed by one or more of them:
 *
 * - smtpc_dkim_body_new() wraps a message body (::smtpc_body) for
 *   smtpc_session_queue(): it reads the message once to hash it, then gives
 *   a body that starts with the `DKIM-Signature` fields and reads the
 *   message again behind them.  Memory stays constant whatever the size of
 *   the message: only the header block (at most
 *   ::SMTPC_DKIM_MAX_HEADER octets) is kept.
 * - smtpc_msg_add_dkim() signs what the MIME builder produces, and so
 *   smtpc_send_msg(), the pool and smtpc_send() (::smtpc_mail `dkim`).
 * - smtpc_dkim_ctx_new(), smtpc_dkim_ctx_update() and
 *   smtpc_dkim_ctx_final() sign bytes the caller streams through them and
 *   return the fields to put in front of the message.
 *
 * What is signed is what the server receives: line ends as the session
 * sends them (a bare CR or LF becomes CRLF; see ::smtpc_body), before
 * dot-stuffing.  Canonicalization is `relaxed/relaxed` unless
 * smtpc_dkim_set_canon() says otherwise.  `h=` lists the fields of
 * ::SMTPC_DKIM_DEFAULT_HEADERS that the message has, each once per
 * occurrence, and From, To, Subject and Date once more than they occur, so
 * that none of them can be added after signing.  `l=` is never used.
 *
 * Keys: `rsa-sha256` with mbedTLS (2.28, 3.6 or 4.x; 2048 bits or more:
 * RFC 8301 forbids smaller keys for signing), `ed25519-sha256` (RFC 8463)
 * with libsodium, or any algorithm through a callback
 * (smtpc_dkim_set_signer()) for a key that stays in an HSM, a TPM or a
 * cloud KMS.  A ::smtpc_dkim is not changed by signing: once set up, one
 * may be used by many threads at the same time.
 */
#ifndef SMTPC_DKIM_H
#define SMTPC_DKIM_H

#include <smtpc/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/** \brief Signing algorithms (the `a=` tag). */
typedef enum smtpc_dkim_algo {
  SMTPC_DKIM_RSA_SHA256 = 1,    /**< `rsa-sha256` (RFC 6376, RFC 8301). */
  SMTPC_DKIM_ED25519_SHA256 = 2 /**< `ed25519-sha256` (RFC 8463). */
} smtpc_dkim_algo;

/** \brief Canonicalization algorithms (the `c=` tag, RFC 6376 3.4). */
typedef enum smtpc_dkim_canon {
  SMTPC_DKIM_RELAXED = 0, /**< `relaxed`: survives re-folding and spaces. */
  SMTPC_DKIM_SIMPLE = 1   /**< `simple`: nearly byte for byte. */
} smtpc_dkim_canon;

/** \brief The fields signed when the message has them (RFC 6376 5.4.1),
 *         separated by colons. */
#define SMTPC_DKIM_DEFAULT_HEADERS                                             \
  "From:Reply-To:Subject:Date:To:Cc:Resent-Date:Resent-From:Resent-To:"        \
  "Resent-Cc:In-Reply-To:References:List-Id:List-Help:List-Unsubscribe:"       \
  "List-Unsubscribe-Post:List-Subscribe:List-Post:List-Owner:List-Archive:"    \
  "Message-ID:MIME-Version:Content-Type:Content-Transfer-Encoding:Sender"

/** \brief The fields listed once more than they occur, so that a copy
 *         added in transit breaks the signature (RFC 6376 5.4.2, 8.15). */
#define SMTPC_DKIM_DEFAULT_OVERSIGN "From:To:Subject:Date"

/** \brief The largest header block (octets up to the empty line) that
 *         can be signed. */
#define SMTPC_DKIM_MAX_HEADER 131072

/** \brief smtpc_dkim_set_time(): the current time (the default). */
#define SMTPC_DKIM_TIME_NOW (-1)
/** \brief smtpc_dkim_set_time(): no `t=` tag. */
#define SMTPC_DKIM_TIME_NONE (-2)

/** \brief The longest signature a callback may return (RSA-8192). */
#define SMTPC_DKIM_MAX_SIG 1024

/**
 * \brief Signs for smtpc_dkim_set_signer().
 *
 * \p digest is the SHA-256 of the canonicalized header data (RFC 6376 3.7).
 * For ::SMTPC_DKIM_RSA_SHA256, return the RSASSA-PKCS1-v1_5 signature of
 * that digest; for ::SMTPC_DKIM_ED25519_SHA256, the Ed25519 signature of
 * the 32 digest octets as the message (RFC 8463 3: Ed25519 signs the hash).
 * \param[in] user The pointer given to smtpc_dkim_set_signer().
 * \param[in] algo The algorithm set with it.
 * \param[in] digest The 32-octet SHA-256 digest.
 * \param[out] sig Receives the signature.
 * \param[in] sig_size Room at \p sig (::SMTPC_DKIM_MAX_SIG).
 * \param[out] sig_len Receives the signature's length.
 * \return ::SMTPC_OK, or a negative ::smtpc_error that fails the signing.
 */
typedef int (*smtpc_dkim_sign_cb)(void *user, smtpc_dkim_algo algo,
                                  const unsigned char digest[32],
                                  unsigned char *sig, size_t sig_size,
                                  size_t *sig_len);

/**
 * \brief Creates a signing identity for \p domain and \p selector, with no
 *        key yet.
 * \param[out] out Receives it; free it with smtpc_dkim_free().
 * \param[in] domain The signing domain, `d=` (copied): an ASCII domain
 *            name (A-labels for an internationalized one).
 * \param[in] selector The selector, `s=` (copied): the key record is
 *            `<selector>._domainkey.<domain>`.
 * \param[in] mem Allocator hooks (copied), or NULL for the C library.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT A NULL argument or incomplete \p mem.
 * \retval SMTPC_ERR_BAD_ARGUMENT \p domain or \p selector is not a valid
 *         name (empty, a control character, a space, `;` or `=`).
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_dkim_new(smtpc_dkim **out, const char *domain,
                             const char *selector, const smtpc_mem *mem);

/**
 * \brief Frees \p k and wipes its private key from memory.
 * \param[in] k The identity; NULL is a no-op.
 */
SMTPC_API void smtpc_dkim_free(smtpc_dkim *k);

/**
 * \brief Loads a private key from memory: PEM or DER, PKCS#1 or PKCS#8.
 *
 * An RSA key gives ::SMTPC_DKIM_RSA_SHA256 (needs mbedTLS) and must have
 * 2048 bits or more; an Ed25519 key (PKCS#8, `-----BEGIN PRIVATE KEY-----`
 * from `openssl genpkey -algorithm ed25519`) gives
 * ::SMTPC_DKIM_ED25519_SHA256 (needs libsodium).  Replaces any earlier key.
 * \param[in] k The identity.
 * \param[in] key The key's bytes (PEM text need not end with a NUL).
 * \param[in] len Their number.
 * \param[in] password For an encrypted key, else NULL.
 * \retval SMTPC_OK Loaded.
 * \retval SMTPC_ERR_DKIM_KEY Not a private key this build can use: not
 *         RSA or Ed25519, RSA under 2048 bits, a wrong password, or the
 *         library was built without the needed crypto library.
 * \retval SMTPC_ERR_INVALID_ARGUMENT A NULL argument.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_dkim_set_key(smtpc_dkim *k, const void *key, size_t len,
                                 const char *password);

/**
 * \brief Loads a private key from a file, like smtpc_dkim_set_key().
 * \param[in] k The identity.
 * \param[in] path The file.
 * \param[in] password For an encrypted key, else NULL.
 * \retval SMTPC_OK Loaded.
 * \retval SMTPC_ERR_IO The file cannot be read.
 * \return Or what smtpc_dkim_set_key() returns.
 */
SMTPC_API int smtpc_dkim_set_key_file(smtpc_dkim *k, const char *path,
                                      const char *password);

/**
 * \brief Signs through \p cb instead of a loaded key.
 * \param[in] k The identity.
 * \param[in] algo What \p cb signs with.
 * \param[in] cb The callback; NULL removes it.
 * \param[in] user Passed to \p cb.
 * \retval SMTPC_OK Set.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p k is NULL or \p algo unknown.
 */
SMTPC_API int smtpc_dkim_set_signer(smtpc_dkim *k, smtpc_dkim_algo algo,
                                    smtpc_dkim_sign_cb cb, void *user);

/**
 * \brief The algorithm of the key or callback.
 * \param[in] k The identity.
 * \return A ::smtpc_dkim_algo, or 0 when \p k has neither (or is NULL).
 */
SMTPC_API int smtpc_dkim_algo_of(const smtpc_dkim *k);

/**
 * \brief Sets the header and body canonicalization (default relaxed and
 *        relaxed).
 * \param[in] k The identity.
 * \param[in] header For the header fields.
 * \param[in] body For the body.
 * \retval SMTPC_OK Set.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p k is NULL or a value unknown.
 */
SMTPC_API int smtpc_dkim_set_canon(smtpc_dkim *k, smtpc_dkim_canon header,
                                   smtpc_dkim_canon body);

/**
 * \brief Sets which fields are signed and which oversigned.
 * \param[in] k The identity.
 * \param[in] sign Field names separated by colons (case does not matter),
 *            or NULL for ::SMTPC_DKIM_DEFAULT_HEADERS.  From is always
 *            signed (RFC 6376 5.4).
 * \param[in] oversign Names listed once more than they occur, or NULL for
 *            ::SMTPC_DKIM_DEFAULT_OVERSIGN, or "" for none.
 * \retval SMTPC_OK Set.
 * \retval SMTPC_ERR_BAD_ARGUMENT A name is empty or not a field name
 *         (printable ASCII other than ':'), or one is DKIM-Signature.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p k is NULL.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_dkim_set_headers(smtpc_dkim *k, const char *sign,
                                     const char *oversign);

/**
 * \brief Sets the signature's timestamp, `t=`.
 * \param[in] k The identity.
 * \param[in] t Seconds since 1970-01-01 UTC, ::SMTPC_DKIM_TIME_NOW (the
 *            default: the clock when the message is signed) or
 *            ::SMTPC_DKIM_TIME_NONE (no `t=`).
 * \retval SMTPC_OK Set.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p k is NULL or \p t out of range.
 */
SMTPC_API int smtpc_dkim_set_time(smtpc_dkim *k, int64_t t);

/**
 * \brief Makes signatures expire \p seconds after they are made (`x=`).
 * \param[in] k The identity.
 * \param[in] seconds The lifetime, or 0 for none (the default).
 * \retval SMTPC_OK Set.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p k is NULL.
 */
SMTPC_API int smtpc_dkim_set_expire(smtpc_dkim *k, uint32_t seconds);

/**
 * \brief Sets the agent or user identifier, `i=` (RFC 6376 3.5).
 * \param[in] k The identity.
 * \param[in] auid `[local]@domain` where domain is `d=` or a subdomain of
 *            it and local at most 64 octets (copied), or NULL for none (the
 *            default: verifiers then assume `@d=`).
 * \retval SMTPC_OK Set.
 * \retval SMTPC_ERR_BAD_ARGUMENT \p auid is malformed or outside `d=`.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p k is NULL.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_dkim_set_identity(smtpc_dkim *k, const char *auid);

/**
 * \brief Prints the DNS TXT record that publishes \p k's public key
 *        (`v=DKIM1; k=rsa; p=...`) into \p buf.
 * \param[in] k The identity, with a key from smtpc_dkim_set_key().
 * \param[out] buf Receives the record, NUL-terminated.
 * \param[in] size Room at \p buf (1,200 is enough for RSA-4096).
 * \retval SMTPC_OK Written.
 * \retval SMTPC_ERR_INVALID_STATE No key (or only a callback).
 * \retval SMTPC_ERR_INVALID_ARGUMENT A NULL argument or \p buf too small.
 */
SMTPC_API int smtpc_dkim_dns_record(const smtpc_dkim *k, char *buf,
                                    size_t size);

/** \brief smtpc_dkim_ctx_new(): the message is binary
 *         (::SMTPC_BODY_BINARYMIME, which smtpc_dkim_body_new() sees for
 *         itself): its octets go unchanged, so line ends are not rewritten
 *         before hashing and only CRLF ends a body line.  The header must
 *         still end every line with CRLF: a bare CR or LF in it is
 *         ::SMTPC_ERR_DKIM_HEADER. */
#define SMTPC_DKIM_BINARY 1u

/**
 * \brief Starts signing one message with \p n identities (one
 *        `DKIM-Signature` field each, in that order).
 * \param[out] out Receives the context; free it with smtpc_dkim_ctx_free().
 * \param[in] keys The identities: each must stay alive and unchanged until
 *            smtpc_dkim_ctx_final() returns.
 * \param[in] n Their number, 1 to 8.
 * \param[in] flags 0 or ::SMTPC_DKIM_BINARY.
 * \param[in] mem Allocator hooks (copied), or NULL for the C library.
 * \retval SMTPC_OK Started.
 * \retval SMTPC_ERR_INVALID_ARGUMENT A NULL argument or \p n out of range.
 * \retval SMTPC_ERR_DKIM_KEY An identity has no key or callback.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_dkim_ctx_new(smtpc_dkim_ctx **out,
                                 const smtpc_dkim *const *keys, size_t n,
                                 unsigned flags, const smtpc_mem *mem);

/**
 * \brief Feeds the next \p len octets of the message (header and body, as
 *        they will be sent, before dot-stuffing).
 * \param[in] c The context.
 * \param[in] data The octets.
 * \param[in] len Their number.
 * \retval SMTPC_OK Taken.
 * \retval SMTPC_ERR_DKIM_HEADER The header block is over
 *         ::SMTPC_DKIM_MAX_HEADER octets.
 * \retval SMTPC_ERR_INVALID_STATE Called after smtpc_dkim_ctx_final().
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_dkim_ctx_update(smtpc_dkim_ctx *c, const void *data,
                                    size_t len);

/**
 * \brief Ends the message and signs it.
 * \param[in] c The context.
 * \param[out] fields Receives the `DKIM-Signature` fields, each ending in
 *             CRLF, to send in front of the message; valid until
 *             smtpc_dkim_ctx_free().  They are folded so that no line is
 *             longer than 78 octets (RFC 5322 2.1.1), `b=` on lines of its
 *             own.
 * \param[out] len Receives their length.
 * \retval SMTPC_OK Signed.
 * \retval SMTPC_ERR_DKIM_HEADER The message has no From field, more than
 *         one, a line of its header is not a field, or (binary) a header
 *         line ends otherwise than in CRLF.
 * \retval SMTPC_ERR_DKIM_KEY The key failed to sign.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 * \return Or the error of a signer callback.
 */
SMTPC_API int smtpc_dkim_ctx_final(smtpc_dkim_ctx *c, const char **fields,
                                   size_t *len);

/**
 * \brief Frees \p c.
 * \param[in] c The context; NULL is a no-op.
 */
SMTPC_API void smtpc_dkim_ctx_free(smtpc_dkim_ctx *c);

/**
 * \brief Signs the message \p in with \p n identities and prepares a body
 *        that sends the `DKIM-Signature` fields followed by the message.
 *
 * The message is read to the end now (first pass: hashing), then its
 * smtpc_body::rewind is called; the signed body reads it again when it is
 * sent (second pass).  A body in memory is simply read twice.  A one-shot
 * stream (no rewind) is copied to \p spool during the first pass and read
 * back from it; without a spool it is refused.  The source must give all
 * its octets without ::SMTPC_ERR_WANT_READ.
 *
 * The signed body is a stream with its exact size, rewindable (so LIMITS
 * rounds and retries send the same signature), and of the source's type;
 * an ::SMTPC_BODY_AUTO source becomes ::SMTPC_BODY_SMTPUTF8 (8-bit header),
 * ::SMTPC_BODY_8BITMIME (8-bit body) or ::SMTPC_BODY_7BIT, as the session
 * would have decided.
 * \param[out] out Receives the signed body; free it with
 *             smtpc_dkim_body_free() once the transaction is complete.
 * \param[in] keys The identities (not needed after the call).
 * \param[in] n Their number, 1 to 8.
 * \param[in] in The message (copied; a stream's context must stay alive
 *            until \p out is freed).
 * \param[in] spool For a one-shot stream: an open, empty, readable and
 *            writable file (e.g. from tmpfile()) that the caller closes
 *            after smtpc_dkim_body_free(); else NULL.  A `FILE *`.
 * \param[in] mem Allocator hooks (copied), or NULL for the C library.
 * \retval SMTPC_OK Signed.
 * \retval SMTPC_ERR_DKIM_SOURCE \p in is a one-shot stream and there is no
 *         spool.
 * \retval SMTPC_ERR_BODY_LINE_TOO_LONG A line is over 998 octets (only a
 *         binary body may have them).
 * \retval SMTPC_ERR_BODY_READ The source failed, asked to wait, or gave a
 *         different size than declared.
 * \retval SMTPC_ERR_IO The spool failed.
 * \return Or what smtpc_dkim_ctx_new(), smtpc_dkim_ctx_update() and
 *         smtpc_dkim_ctx_final() return.
 */
SMTPC_API int smtpc_dkim_body_new(smtpc_dkim_body **out,
                                  const smtpc_dkim *const *keys, size_t n,
                                  const smtpc_body *in, void *spool,
                                  const smtpc_mem *mem);

/**
 * \brief Fills \p body to read the signed message of \p b.  Each call gives
 *        a body that starts at the first octet; they share \p b, so send
 *        one at a time.
 * \param[in] b The signed body.
 * \param[out] body Receives the body source.
 */
SMTPC_API void smtpc_dkim_body_get(smtpc_dkim_body *b, smtpc_body *body);

/**
 * \brief The `DKIM-Signature` fields of \p b (as smtpc_dkim_ctx_final()).
 * \param[in] b The signed body.
 * \param[out] len Receives their length (may be NULL).
 * \return The fields, valid until smtpc_dkim_body_free().
 */
SMTPC_API const char *smtpc_dkim_body_fields(const smtpc_dkim_body *b,
                                             size_t *len);

/**
 * \brief Frees \p b (the source and the spool are left to the caller).
 * \param[in] b The signed body; NULL is a no-op.
 */
SMTPC_API void smtpc_dkim_body_free(smtpc_dkim_body *b);

/**
 * \brief Signs every body smtpc_msg_body() gives for \p m with \p k too
 *        (and so smtpc_send_msg(), smtpc_pool_send_msg()).
 *
 * Each call adds a signature: a message may carry up to 8 (e.g. RSA and
 * Ed25519).  Every smtpc_msg_body() then reads the built message once to
 * sign it and hands out a signed body (see smtpc_dkim_body_new()); the
 * message's date, Message-ID and boundaries are fixed by then, so the
 * second pass gives the same octets.  A message with a stream attachment
 * cannot be read twice: smtpc_msg_body() fails with
 * ::SMTPC_ERR_DKIM_SOURCE.  The signed bodies are freed with \p m.
 * \param[in] m The message.
 * \param[in] k The identity, with a key or signer; it must stay alive and
 *            unchanged until \p m is freed.
 * \retval SMTPC_OK Added.
 * \retval SMTPC_ERR_DKIM_KEY \p k has no key or signer.
 * \retval SMTPC_ERR_INVALID_ARGUMENT A NULL argument or 8 identities
 *         already.
 */
SMTPC_API int smtpc_msg_add_dkim(smtpc_msg *m, const smtpc_dkim *k);

#ifdef __cplusplus
}
#endif

#endif /* SMTPC_DKIM_H */
