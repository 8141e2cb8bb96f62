/* SPDX-License-Identifier: MIT */
/* Internal declarations of the MIME builder (mime.c) and its streaming
 * encoders (qp.c, base64_stream.c, platform_mime_posix.c).
 *
 * The encoders are push-style and resumable: each call takes some input and
 * writes into the caller's output space, stopping when fewer than
 * SMTPC__ENC_RESERVE bytes of room remain, and reports how much input it
 * used.  Their output depends only on the input bytes, never on how the
 * input or the output space was cut into calls. */
#ifndef SMTPC_MIME_INT_H
#define SMTPC_MIME_INT_H

#include "smtpc_int.h"

/* Output room an encoder step needs; an encoder makes no progress with less. */
#define SMTPC__ENC_RESERVE 16

/* ---- quoted-printable, RFC 2045 section 6.7 (qp.c) ----------------------- */

/* Longest encoded line without its CRLF (rule 5). */
#define SMTPC__QP_LINE 76

typedef struct smtpc__qp {
  size_t col; /* characters on the current output line */
  int cr;     /* the last input byte was a CR (a following LF is eaten) */
  int ws;     /* a space or tab waiting to see whether a line end follows */
} smtpc__qp;

void smtpc__qp_init(smtpc__qp *q);
/* Encodes text: CRLF, LF and lone CR become hard line breaks (CRLF);
 * printable ASCII other than '=' stays literal; a space or tab stays literal
 * unless a line end or the end of input follows it; everything else becomes
 * =XX.  Lines are broken with soft breaks ("=" CRLF) so that no encoded line
 * exceeds 76 characters.  Returns the bytes written; *consumed gets the
 * input used. */
size_t smtpc__qp_encode(smtpc__qp *q, const unsigned char *in, size_t inlen,
                        size_t *consumed, unsigned char *out, size_t outcap);
/* Ends the input (a pending space or tab is encoded).  out needs
 * SMTPC__ENC_RESERVE bytes.  Resets q.  Returns the bytes written. */
size_t smtpc__qp_finish(smtpc__qp *q, unsigned char *out);

/* ---- line-end normalisation for 7bit / 8bit text (qp.c) ------------------ */

typedef struct smtpc__crlf {
  int cr; /* the last input byte was a CR */
} smtpc__crlf;

void smtpc__crlf_init(smtpc__crlf *c);
/* Copies text, writing CRLF for each CRLF, LF or lone CR.  Returns the bytes
 * written (outcap >= 2 for progress); *consumed gets the input used. */
size_t smtpc__crlf_encode(smtpc__crlf *c, const unsigned char *in, size_t inlen,
                          size_t *consumed, unsigned char *out, size_t outcap);

/* ---- base64 in 76-column lines, RFC 2045 section 6.8 (base64_stream.c) --- */

typedef struct smtpc__b64s {
  unsigned char pend[3]; /* input bytes waiting for a full group */
  size_t npend;
  size_t col; /* characters on the current output line */
} smtpc__b64s;

void smtpc__b64s_init(smtpc__b64s *s);
/* Encodes binary input.  Lines are separated by CRLF; the last line has
 * none.  Returns the bytes written; *consumed gets the input used. */
size_t smtpc__b64s_encode(smtpc__b64s *s, const unsigned char *in, size_t inlen,
                          size_t *consumed, unsigned char *out, size_t outcap);
/* Ends the input (pads the last group).  out needs SMTPC__ENC_RESERVE
 * bytes.  Resets s.  Returns the bytes written. */
size_t smtpc__b64s_finish(smtpc__b64s *s, unsigned char *out);
/* Exact output size for n input bytes; -1 if it does not fit an int64_t. */
int64_t smtpc__b64s_size(int64_t n);

/* ---- platform defaults (platform_mime_posix.c) ----------------------------
 */

/* Fills p with the default hooks of this platform.  A bare-metal build
 * supplies its own version of this function (hooks it lacks left NULL). */
void smtpc__mime_platform_default(smtpc_msg_platform *p);

#endif /* SMTPC_MIME_INT_H */
