/* SPDX-License-Identifier: MIT */
/**
 * \file mime.h
 * \brief The MIME builder: RFC 5322 / MIME messages, streamed in constant
 *        memory.
 *
 * Included by smtpc.h; needs only base.h.  The builder is independent of
 * the session: it turns a few calls into an ::smtpc_body whose read
 * callback produces the whole message (headers and body) chunk by chunk,
 * so a 1 GiB file attachment is sent with a few kilobytes of buffers.
 *
 * \code
 * // s: an open smtpc_session
 * smtpc_msg *m;
 * smtpc_txn *t;
 * smtpc_body body;
 * const char *from;
 * const char *const *rcpts;
 * size_t n;
 * smtpc_msg_new(&m, NULL);
 * smtpc_msg_set_from(m, "Jörg Müller", "joerg@example.org");
 * smtpc_msg_add_to(m, NULL, "team@example.net");
 * smtpc_msg_set_subject(m, "Quarterly report");
 * smtpc_msg_set_text(m, "Hello,\nthe report is attached.\n", SIZE_MAX);
 * smtpc_msg_add_attachment_file(m, "/tmp/report.pdf", NULL, NULL);
 * smtpc_msg_set_8bitmime(m, smtpc_session_has_ext(s, "8BITMIME"));
 * smtpc_msg_body(m, &body);
 * smtpc_msg_envelope(m, &from, &rcpts, &n);
 * smtpc_session_queue(s, from, rcpts, n, &body, &t);
 * smtpc_session_run(s);                     // m must live until t completes
 * smtpc_msg_free(m);
 * \endcode
 *
 * Structure: text only is a single text/plain part (text/html if only HTML
 * is set); text and HTML become multipart/alternative; inline images wrap the
 * HTML part in multipart/related; attachments wrap everything in
 * multipart/mixed.  Header text (subject, display names, file names) is
 * UTF-8 and encoded as RFC 2047 encoded-words or RFC 2231 parameters as
 * needed; no output line is longer than 998 octets and header lines are
 * folded at 78 columns wherever the content allows.  Text parts go out as
 * `7bit` when they are ASCII with lines of at most 78 octets, else as
 * quoted-printable (or `8bit`, see smtpc_msg_set_8bitmime()); attachments
 * always as base64, which keeps their bytes exact.  Line ends of text input
 * (CRLF, LF or CR) are sent as CRLF.
 *
 * A message is not thread-safe; use one thread per message at a time.
 */
#ifndef SMTPC_MIME_H
#define SMTPC_MIME_H

#include <smtpc/base.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * \brief Reads attachment bytes: the same contract as smtpc_body::read.
 *
 * Returns the number of bytes written to \p buf (at most \p len), 0 at the
 * end, ::SMTPC_ERR_WANT_READ when no data is available yet (the message's
 * read callback then returns it too and is called again later), or another
 * negative error, which ends the message.
 */
typedef smtpc_ssize (*smtpc_msg_read_cb)(void *ctx, unsigned char *buf,
                                         size_t len);

/** \brief Layout version of ::smtpc_msg_platform in these headers (0: the
 *         first). */
#define SMTPC_MSG_PLATFORM_VERSION 0

/**
 * \brief What the builder needs from the platform: the time, random bytes
 *        and file access.
 *
 * Every message starts with the POSIX defaults (time() and localtime_r(),
 * /dev/urandom, stdio); a bare-metal build, or a test, installs its own with
 * smtpc_msg_set_platform().  A hook left NULL makes the feature that needs
 * it fail with ::SMTPC_ERR_NOT_SUPPORTED.
 */
typedef struct smtpc_msg_platform {
  /** ::SMTPC_MSG_PLATFORM_VERSION, or 0 for the first layout (see
   *  "Extending public structures" in base.h). */
  int version;
  void *user; /**< Passed as the first argument to every hook. */
  /**
   * Stores the current time in seconds since 1970-01-01 UTC in \p now and
   * the local offset from UTC in minutes (-1439..1439) in \p utc_offset.
   * Returns ::SMTPC_OK or a negative ::smtpc_error.
   */
  int (*now)(void *user, int64_t *now, int *utc_offset);
  /** Fills \p buf with \p len unpredictable bytes; ::SMTPC_OK or an error. */
  int (*random)(void *user, unsigned char *buf, size_t len);
  /**
   * Opens the file at \p path for reading: stores a handle in \p file and
   * its size in \p size (-1 when it cannot be known, e.g. a pipe).
   * Returns ::SMTPC_OK or a negative error (::SMTPC_ERR_IO).
   */
  int (*file_open)(void *user, const char *path, void **file, int64_t *size);
  /** Reads up to \p len bytes: the count, 0 at the end, or an error. */
  smtpc_ssize (*file_read)(void *user, void *file, unsigned char *buf,
                           size_t len);
  /** Closes a handle from \p file_open. */
  void (*file_close)(void *user, void *file);
} smtpc_msg_platform;

/**
 * \brief Creates an empty message.
 * \param[out] out Receives the message; the caller frees it with
 *             smtpc_msg_free().
 * \param[in] mem Allocator hooks (copied), or NULL for the C library.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p out is NULL or \p mem is incomplete.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_msg_new(smtpc_msg **out, const smtpc_mem *mem);

/**
 * \brief Frees a message, its copies of every input, and closes any file
 *        it has open.  Bodies obtained from it must no longer be read.
 * \param[in] m The message; NULL is a no-op.
 */
SMTPC_API void smtpc_msg_free(smtpc_msg *m);

/**
 * \brief Replaces the platform hooks (time, randomness, files).
 * \param[in] m The message.
 * \param[in] platform The hooks (copied), or NULL to restore the defaults.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p m is NULL or the version is wrong.
 */
SMTPC_API int smtpc_msg_set_platform(smtpc_msg *m,
                                     const smtpc_msg_platform *platform);

/**
 * \brief Makes the generated Message-ID and MIME boundaries a fixed
 *        function of \p seed instead of the platform's random bytes.
 *
 * Meant for tests and reproducible output: two messages built the same way
 * with the same seed (and a fixed date) are byte for byte identical.  Never
 * use it for real mail: Message-IDs would repeat.
 * \param[in] m The message.
 * \param[in] seed Any value.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p m is NULL.
 */
SMTPC_API int smtpc_msg_set_seed(smtpc_msg *m, uint64_t seed);

/**
 * \brief Sets the author (`From:`); also the envelope sender unless
 *        smtpc_msg_set_sender() is used.
 * \param[in] m The message.
 * \param[in] name Display name in UTF-8, or NULL / "" for none (copied).
 * \param[in] addr The address, `local@domain`, without angle brackets
 *            (copied).
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_BAD_ADDRESS \p addr is malformed.
 * \retval SMTPC_ERR_BAD_ARGUMENT \p name has CR, LF, another control
 *         character or invalid UTF-8.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p m or \p addr is NULL.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_msg_set_from(smtpc_msg *m, const char *name,
                                 const char *addr);

/**
 * \brief Sets `Sender:` (who actually sends on the author's behalf); it
 *        becomes the envelope reverse-path.
 * \param[in] m The message.
 * \param[in] name Display name or NULL (copied).
 * \param[in] addr The address (copied).
 * \return As smtpc_msg_set_from().
 */
SMTPC_API int smtpc_msg_set_sender(smtpc_msg *m, const char *name,
                                   const char *addr);

/**
 * \brief Sets `Reply-To:` (replacing an earlier one).
 * \param[in] m The message.
 * \param[in] name Display name or NULL (copied).
 * \param[in] addr The address (copied).
 * \return As smtpc_msg_set_from().
 */
SMTPC_API int smtpc_msg_set_reply_to(smtpc_msg *m, const char *name,
                                     const char *addr);

/**
 * \brief Adds a `To:` recipient (also an envelope recipient).
 * \param[in] m The message.
 * \param[in] name Display name or NULL (copied).
 * \param[in] addr The address (copied).
 * \return As smtpc_msg_set_from().
 */
SMTPC_API int smtpc_msg_add_to(smtpc_msg *m, const char *name,
                               const char *addr);

/**
 * \brief Adds a `Cc:` recipient (also an envelope recipient).
 * \param[in] m The message.
 * \param[in] name Display name or NULL (copied).
 * \param[in] addr The address (copied).
 * \return As smtpc_msg_set_from().
 */
SMTPC_API int smtpc_msg_add_cc(smtpc_msg *m, const char *name,
                               const char *addr);

/**
 * \brief Adds a blind-copy recipient: an envelope recipient that appears in
 *        no header.
 * \param[in] m The message.
 * \param[in] name Ignored (accepted for symmetry; may be NULL).
 * \param[in] addr The address (copied).
 * \return As smtpc_msg_set_from().
 */
SMTPC_API int smtpc_msg_add_bcc(smtpc_msg *m, const char *name,
                                const char *addr);

/**
 * \brief Sets the subject (UTF-8; encoded as RFC 2047 words when needed).
 * \param[in] m The message.
 * \param[in] subject The subject (copied); NULL removes it.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_BAD_ARGUMENT CR, LF or another control character other
 *         than TAB, or invalid UTF-8.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p m is NULL.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_msg_set_subject(smtpc_msg *m, const char *subject);

/**
 * \brief Sets the `Date:`.  Without this call the date is taken from the
 *        platform's clock when the body is first built.
 * \param[in] m The message.
 * \param[in] unix_time Seconds since 1970-01-01 00:00:00 UTC.
 * \param[in] utc_offset Minutes east of UTC for the written zone
 *            (-1439..1439), e.g. 60 for `+0100`.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_BAD_ARGUMENT The offset is out of range or the local
 *         date falls outside the years 1900..9999.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p m is NULL.
 */
SMTPC_API int smtpc_msg_set_date(smtpc_msg *m, int64_t unix_time,
                                 int utc_offset);

/**
 * \brief Sets the `Message-ID:`.  Without this call a unique one is
 *        generated (random part `@` the From domain) when the body is first
 *        built; smtpc_msg_message_id() tells which.
 * \param[in] m The message.
 * \param[in] id `left@right` without angle brackets: dot-atom text on both
 *            sides, or a `[...]` literal on the right (copied).
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_BAD_ARGUMENT \p id is malformed.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p m or \p id is NULL.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_msg_set_message_id(smtpc_msg *m, const char *id);

/**
 * \brief The message's Message-ID without angle brackets.
 * \param[in] m The message.
 * \return The id set with smtpc_msg_set_message_id() or generated by
 *         smtpc_msg_body(), or NULL before either; valid until the message
 *         is changed or freed.
 */
SMTPC_API const char *smtpc_msg_message_id(const smtpc_msg *m);

/**
 * \brief Adds a header field, written after the standard ones in the order
 *        added.
 *
 * An ASCII value is written as given, folded at its white space; a value
 * with UTF-8 text is taken as unstructured and written as RFC 2047
 * encoded-words.  Fields the builder writes itself (From, Sender, Reply-To,
 * To, Cc, Bcc, Subject, Date, Message-ID, MIME-Version and every
 * `Content-*`) are refused: use the dedicated setters; so is TLS-Required
 * once smtpc_msg_set_tls_required_no() or smtpc_msg_set_requiretls() is
 * on.
 * \param[in] m The message.
 * \param[in] name Field name: 1..76 printable ASCII characters without ':'
 *            (RFC 5322 ftext) (copied).
 * \param[in] value Field body (copied).
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_BAD_ARGUMENT Bad or reserved name; the value has CR, LF,
 *         another control character other than TAB, invalid UTF-8, or an
 *         ASCII run without white space too long to fold under 998 octets.
 * \retval SMTPC_ERR_INVALID_ARGUMENT A NULL argument.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_msg_add_header(smtpc_msg *m, const char *name,
                                   const char *value);

/**
 * \brief Sets the plain-text body (UTF-8), replacing an earlier one.
 * \param[in] m The message.
 * \param[in] text The text (copied); NULL removes the part.
 * \param[in] len Its length in bytes, or SIZE_MAX when NUL-terminated.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_BAD_ARGUMENT Invalid UTF-8.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p m is NULL.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_msg_set_text(smtpc_msg *m, const char *text, size_t len);

/**
 * \brief Sets the HTML body (UTF-8), replacing an earlier one.
 * \param[in] m The message.
 * \param[in] html The HTML (copied); NULL removes the part.
 * \param[in] len Its length in bytes, or SIZE_MAX when NUL-terminated.
 * \return As smtpc_msg_set_text().
 */
SMTPC_API int smtpc_msg_set_html(smtpc_msg *m, const char *html, size_t len);

/**
 * \brief Attaches bytes held in memory.
 * \param[in] m The message.
 * \param[in] data The bytes (copied; for large data prefer a file or a
 *            stream).
 * \param[in] len Their length.
 * \param[in] filename The name shown to the recipient (UTF-8), or NULL.
 * \param[in] content_type E.g. "application/pdf", optionally with
 *            parameters; NULL guesses from \p filename (see
 *            smtpc_msg_guess_type()).
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_BAD_ARGUMENT Bad file name (control characters, invalid
 *         UTF-8, empty or over 1024 bytes) or content type (not
 *         `type/subtype`, not printable ASCII, multipart or message type).
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p m is NULL, or \p data is NULL with
 *         \p len non-zero.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_msg_add_attachment_memory(smtpc_msg *m, const void *data,
                                              size_t len, const char *filename,
                                              const char *content_type);

/**
 * \brief Attaches a file, read (through smtpc_msg_platform::file_open)
 *        while the body is streamed.
 *
 * The file is opened now to check it and learn its size, then closed; it is
 * opened again each time the body reaches it.  A file whose size changes in
 * between ends the body with ::SMTPC_ERR_IO rather than send a message of
 * another size than announced.
 * \param[in] m The message.
 * \param[in] path The file (copied).
 * \param[in] filename The name shown, or NULL for the last component of
 *            \p path.
 * \param[in] content_type The type, or NULL to guess from the name.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_IO The file cannot be opened (or is a directory).
 * \retval SMTPC_ERR_NOT_SUPPORTED The platform has no file hooks.
 * \retval SMTPC_ERR_INVALID_ARGUMENT Also when \p path is NULL or empty.
 * \return Otherwise as smtpc_msg_add_attachment_memory().
 */
SMTPC_API int smtpc_msg_add_attachment_file(smtpc_msg *m, const char *path,
                                            const char *filename,
                                            const char *content_type);

/**
 * \brief Attaches bytes produced by a callback while the body is streamed.
 *
 * A stream can be read once: only the newest body of the message can read
 * it, and smtpc_msg_body() fails with ::SMTPC_ERR_INVALID_STATE once a body
 * has started reading it.
 * \param[in] m The message.
 * \param[in] read The callback (see ::smtpc_msg_read_cb).
 * \param[in] ctx Passed to \p read; must stay valid while the body is read.
 * \param[in] size The exact byte count, or -1 when unknown (the body's size
 *            is then unknown too).  A stream that ends at another count
 *            ends the body with ::SMTPC_ERR_CALLBACK.
 * \param[in] filename The name shown, or NULL.
 * \param[in] content_type The type, or NULL to guess from the name.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p read is NULL or \p size below -1.
 * \return Otherwise as smtpc_msg_add_attachment_memory().
 */
SMTPC_API int smtpc_msg_add_attachment_stream(smtpc_msg *m,
                                              smtpc_msg_read_cb read, void *ctx,
                                              int64_t size,
                                              const char *filename,
                                              const char *content_type);

/**
 * \brief Adds an inline part (an image the HTML shows with
 *        `<img src="cid:...">`) from memory.
 *
 * Inline parts need an HTML body: smtpc_msg_body() fails with
 * ::SMTPC_ERR_INVALID_STATE without one.
 * \param[in] m The message.
 * \param[in] data The bytes (copied).
 * \param[in] len Their length.
 * \param[in] filename The name, or NULL.
 * \param[in] content_type The type, or NULL to guess from the name.
 * \param[in] content_id The id the HTML refers to, without angle brackets
 *            or "cid:", e.g. "logo@example.org": 1..250 characters, each a
 *            letter, a digit, '.', '@' or another RFC 5322 atext
 *            symbol (copied).
 * \retval SMTPC_ERR_BAD_ARGUMENT Also for a malformed \p content_id.
 * \retval SMTPC_ERR_INVALID_ARGUMENT Also when \p content_id is NULL.
 * \return Otherwise as smtpc_msg_add_attachment_memory().
 */
SMTPC_API int smtpc_msg_add_inline_memory(smtpc_msg *m, const void *data,
                                          size_t len, const char *filename,
                                          const char *content_type,
                                          const char *content_id);

/**
 * \brief Adds an inline part from a file (see
 *        smtpc_msg_add_attachment_file() and smtpc_msg_add_inline_memory()).
 * \param[in] m The message.
 * \param[in] path The file (copied).
 * \param[in] filename The name, or NULL for the last component of \p path.
 * \param[in] content_type The type, or NULL to guess from the name.
 * \param[in] content_id The id, as for smtpc_msg_add_inline_memory().
 * \return As smtpc_msg_add_attachment_file().
 */
SMTPC_API int smtpc_msg_add_inline_file(smtpc_msg *m, const char *path,
                                        const char *filename,
                                        const char *content_type,
                                        const char *content_id);

/**
 * \brief Adds an inline part from a stream (see
 *        smtpc_msg_add_attachment_stream() and smtpc_msg_add_inline_memory()).
 * \param[in] m The message.
 * \param[in] read The callback.
 * \param[in] ctx Passed to \p read.
 * \param[in] size The exact byte count, or -1.
 * \param[in] filename The name, or NULL.
 * \param[in] content_type The type, or NULL to guess from the name.
 * \param[in] content_id The id, as for smtpc_msg_add_inline_memory().
 * \return As smtpc_msg_add_attachment_stream().
 */
SMTPC_API int smtpc_msg_add_inline_stream(smtpc_msg *m, smtpc_msg_read_cb read,
                                          void *ctx, int64_t size,
                                          const char *filename,
                                          const char *content_type,
                                          const char *content_id);

/**
 * \brief Sets the size of each of the two buffers a body holds while it is
 *        read (default 32768 bytes).
 *
 * Small buffers suit a microcontroller: with 128 the builder streams a
 * message in a few hundred bytes of heap.  The bytes of the message do not
 * change, only how many a read of the body can return at once and how
 * many a file or stream attachment is asked for at once (the size rounded
 * down to a multiple of 57, one base64 line of input).  Applies to bodies
 * obtained later with smtpc_msg_body(); earlier ones keep their size.
 * \param[in] m The message.
 * \param[in] size 64 to 16777216, or 0 for the default.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p m is NULL or \p size is out of
 *         range.
 */
SMTPC_API int smtpc_msg_set_buffer_size(smtpc_msg *m, size_t size);

/**
 * \brief Allows the `8bit` transfer encoding for UTF-8 text parts: set it
 *        when the server offers 8BITMIME (default off: quoted-printable).
 *
 * The body is then marked ::SMTPC_BODY_8BITMIME if some part uses it.
 * \param[in] m The message.
 * \param[in] on Non-zero to allow.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p m is NULL.
 */
SMTPC_API int smtpc_msg_set_8bitmime(smtpc_msg *m, int on);

/**
 * \brief Allows UTF-8 addresses in header fields (RFC 6532): set it when
 *        the server offers SMTPUTF8 (default off).
 *
 * Addresses may always be given in UTF-8 ("jörg@bücher.example").  When
 * allowed, one that is not ASCII is written as it is and the body is marked
 * ::SMTPC_BODY_SMTPUTF8, so the session sends SMTPUTF8 on MAIL.  When not
 * allowed, a UTF-8 domain is written as an A-label (smtpc_msg_set_idna())
 * and a UTF-8 local part makes smtpc_msg_body() fail with
 * ::SMTPC_ERR_SMTPUTF8_UNSUPPORTED.  Display names and the subject are
 * RFC 2047 encoded-words either way, which every reader decodes.
 * \param[in] m The message.
 * \param[in] on Non-zero to allow.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p m is NULL.
 */
SMTPC_API int smtpc_msg_set_smtputf8(smtpc_msg *m, int on);

/**
 * \brief Sets how a UTF-8 domain becomes an A-label in header fields when
 *        UTF-8 is not allowed (smtpc_msg_set_smtputf8()).
 * \param[in] m The message.
 * \param[in] cb The converter (default smtpc_idna_to_ascii()), or NULL
 *            for none: smtpc_msg_body() then fails with
 *            ::SMTPC_ERR_IDNA_UNAVAILABLE for such an address.
 * \param[in] user Passed to \p cb.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p m is NULL.
 */
SMTPC_API int smtpc_msg_set_idna(smtpc_msg *m, smtpc_idna_cb cb, void *user);

/**
 * \brief Asks for delivery status notifications (RFC 3461) for the
 *        message's envelope, for smtpc_send_msg() and smtpc_pool_send_msg().
 *
 * The settings reach the transaction the one-call functions make (with the
 * session API, set them on the transaction: smtpc_txn_set_dsn(),
 * smtpc_txn_set_notify()).  See smtpc_txn_set_dsn() for what is sent and
 * what happens when the server does not offer DSN.
 * \param[in] m The message.
 * \param[in] ret RET=FULL, RET=HDRS or ::SMTPC_DSN_RET_DEFAULT.
 * \param[in] envid The envelope id, or NULL (printable ASCII, at most 100
 *            characters once xtext-encoded).
 * \param[in] notify NOTIFY for every recipient not named with
 *            smtpc_msg_set_notify(): ::SMTPC_NOTIFY_NEVER, or
 *            ::SMTPC_NOTIFY_SUCCESS, ::SMTPC_NOTIFY_FAILURE and
 *            ::SMTPC_NOTIFY_DELAY combined; 0 for none.
 * \param[in] flags 0 or ::SMTPC_DSN_REQUIRED.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_BAD_ARGUMENT Bad \p envid.
 * \retval SMTPC_ERR_INVALID_ARGUMENT Bad \p ret, \p notify or \p flags.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_msg_set_dsn(smtpc_msg *m, smtpc_dsn_ret ret,
                                const char *envid, unsigned notify,
                                unsigned flags);

/**
 * \brief Sets NOTIFY and ORCPT for one recipient of the message (added
 *        with smtpc_msg_add_to(), _cc() or _bcc()).
 * \param[in] m The message.
 * \param[in] addr The recipient's address (domain compared ignoring case).
 * \param[in] notify As for smtpc_txn_set_notify().
 * \param[in] orcpt The original recipient to report, or NULL for the
 *            address itself.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_STATE \p addr is not a recipient.
 * \retval SMTPC_ERR_INVALID_ARGUMENT Bad \p notify (NEVER combined).
 * \retval SMTPC_ERR_BAD_ADDRESS, SMTPC_ERR_BAD_ARGUMENT Bad \p orcpt.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_msg_set_notify(smtpc_msg *m, const char *addr,
                                   unsigned notify, const char *orcpt);

/**
 * \brief Requires TLS for the whole path of the message: its envelope
 *        carries REQUIRETLS (RFC 8689), for smtpc_send_msg() and
 *        smtpc_pool_send_msg().
 *
 * The request reaches the transaction the one-call functions make (with
 * the session API, use smtpc_txn_set_requiretls(), which says when it is
 * sent).  Without a verified TLS connection to a server offering
 * REQUIRETLS the message is not sent and the call fails with
 * ::SMTPC_ERR_REQUIRETLS_UNAVAILABLE.  It cannot be combined with
 * smtpc_msg_set_tls_required_no() (never both, RFC 8689 4.3), nor with a
 * TLS-Required field added with smtpc_msg_add_header().
 * \param[in] m The message.
 * \param[in] on 1 to require TLS, 0 not to.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p m is NULL, or \p on with
 *         smtpc_msg_set_tls_required_no() set.
 * \retval SMTPC_ERR_INVALID_STATE \p on and the message has a
 *         TLS-Required field from smtpc_msg_add_header().
 */
SMTPC_API int smtpc_msg_set_requiretls(smtpc_msg *m, int on);

/**
 * \brief Writes the header field `TLS-Required: No` (RFC 8689 3): the
 *        sender asks that TLS policies (MTA-STS, DANE) be ignored for this
 *        message.
 *
 * The field follows Message-ID, once.  Afterwards smtpc_msg_add_header()
 * refuses a TLS-Required field of the caller's.  It cannot be combined with
 * smtpc_msg_set_requiretls() (never both).
 * \param[in] m The message.
 * \param[in] on 1 to write the field, 0 not to.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p m is NULL, or \p on with
 *         smtpc_msg_set_requiretls() set.
 * \retval SMTPC_ERR_INVALID_STATE \p on and the message has a
 *         TLS-Required field from smtpc_msg_add_header().
 */
SMTPC_API int smtpc_msg_set_tls_required_no(smtpc_msg *m, int on);

/**
 * \brief Builds the message and fills \p body with a reader that streams
 *        it.
 *
 * On the first call the date and Message-ID are fixed (unless set) and the
 * boundaries chosen; they stay for later calls, so every body of a message
 * carries the same bytes (reflecting any change made in between).  Each call
 * gives an independent body that starts at the first byte: one message can
 * be queued in several transactions at once.  smtpc_body::size is the exact
 * byte count the reader will produce when every part's size is known, else
 * -1.  smtpc_body::type is ::SMTPC_BODY_7BIT, or ::SMTPC_BODY_8BITMIME when
 * an `8bit` part is present.
 *
 * A body reads from \p m: keep \p m alive and unchanged while it is read.
 * Changing \p m makes the reads of earlier bodies fail with
 * ::SMTPC_ERR_INVALID_STATE, and so does a newer body of a message with a
 * stream attachment (a stream can be read only once).  Once its read
 * callback has returned 0 or an error, a body keeps returning that.  A body
 * holds two buffers of 32 KiB while it is read (see
 * smtpc_msg_set_buffer_size()) and about 200 bytes until smtpc_msg_free().
 * \param[in] m The message.
 * \param[out] body Receives the body source; it owns nothing.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_STATE No From; inline parts without HTML; or a
 *         stream attachment was already read by an earlier body.
 * \retval SMTPC_ERR_INVALID_ARGUMENT A NULL argument.
 * \retval SMTPC_ERR_NOT_SUPPORTED A needed platform hook (time, random) is
 *         missing.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 * \return Or the error of a failing platform hook (::SMTPC_ERR_BAD_ARGUMENT
 *         when the clock gives a date outside the years 1900..9999).
 */
SMTPC_API int smtpc_msg_body(smtpc_msg *m, smtpc_body *body);

/**
 * \brief The SMTP envelope for the message.
 *
 * The reverse-path is the Sender address if set, else the From address.
 * The forward-paths are the To, Cc and Bcc addresses in that order, each
 * once: two addresses are the same when their local parts are equal
 * byte for byte and their domains equal ignoring ASCII case (RFC 5321 lets
 * a server treat local parts case-sensitively, so they are not folded).
 * \param[in] m The message.
 * \param[out] from Receives the reverse-path.
 * \param[out] rcpts Receives the forward-paths (may be NULL when \p n is 0).
 * \param[out] n Receives their number (0 when there is none).
 * \retval SMTPC_OK Success.  The pointers are valid until \p m is changed
 *         or freed.
 * \retval SMTPC_ERR_INVALID_STATE Neither From nor Sender is set.
 * \retval SMTPC_ERR_INVALID_ARGUMENT A NULL argument.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_msg_envelope(smtpc_msg *m, const char **from,
                                 const char *const **rcpts, size_t *n);

/**
 * \brief Guesses a content type from a file name's extension.
 *
 * Known extensions (case-insensitive): txt, text, log, html, htm, csv, json,
 * pdf, png, jpg, jpeg, gif, svg, webp, zip, gz, tar, ics, xml, doc, docx,
 * xls, xlsx, ppt, pptx, odt, ods, mp3, mp4, wav.
 * \param[in] filename A file name or path, or NULL.
 * \return A static string such as "application/pdf";
 *         "application/octet-stream" when unknown.
 */
SMTPC_API const char *smtpc_msg_guess_type(const char *filename);

#ifdef __cplusplus
}
#endif

#endif /* SMTPC_MIME_H */
