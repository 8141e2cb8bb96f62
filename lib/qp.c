/* SPDX-License-Identifier: MIT */
/* Quoted-printable encoding (RFC 2045 section 6.7) and CRLF normalisation
 * of text, both streaming: state is carried across calls, so the output
 * does not depend on how the input is split.
 *
 * The encoder treats its input as text (rule 4): CRLF, LF and lone CR are
 * line breaks and go out as CRLF.  Space and tab are literal except right
 * before a line break or the end of the input, where they are encoded
 * (rule 3), so no encoded line ends in white space.  '=' and every octet
 * outside 33..126 are encoded as =XX with upper-case hex (rule 1).  Soft
 * line breaks keep every line at most 76 characters including the '='
 * (rule 5).  The encoder never writes '=' other than in "=XX" (X a hex
 * digit) or as the last character of a line, which the MIME builder relies
 * on: its boundaries start with "=_" and so cannot occur in the output. */
#include "mime_int.h"

#include "ascii.h"

#include <string.h>

void smtpc__qp_init(smtpc__qp *q) { memset(q, 0, sizeof(*q)); }

/* Writes a token of n (1 or 3) characters, preceded by a soft line break
 * when it would not fit the line with room left for that break's '='. */
static size_t put_tok(smtpc__qp *q, unsigned char *o, const unsigned char *tok,
                      size_t n) {
  size_t k = 0;
  if (q->col + n > SMTPC__QP_LINE - 1) {
    o[k++] = '=';
    o[k++] = '\r';
    o[k++] = '\n';
    q->col = 0;
  }
  memcpy(o + k, tok, n);
  q->col += n;
  return k + n;
}

static size_t put_enc(smtpc__qp *q, unsigned char *o, unsigned char c) {
  unsigned char t[3];
  t[0] = '=';
  t[1] = (unsigned char)smtpc__hexdigit(c >> 4);
  t[2] = (unsigned char)smtpc__hexdigit(c);
  return put_tok(q, o, t, 3);
}

/* The pending white space, literal (more text follows on this line) or
 * encoded (a line end follows). */
static size_t flush_ws(smtpc__qp *q, unsigned char *o, int literal) {
  unsigned char c = (unsigned char)q->ws;
  if (q->ws == 0)
    return 0;
  q->ws = 0;
  return literal ? put_tok(q, o, &c, 1) : put_enc(q, o, c);
}

static size_t hard_break(smtpc__qp *q, unsigned char *o) {
  size_t k = flush_ws(q, o, 0);
  o[k++] = '\r';
  o[k++] = '\n';
  q->col = 0;
  return k;
}

size_t smtpc__qp_encode(smtpc__qp *q, const unsigned char *in, size_t inlen,
                        size_t *consumed, unsigned char *out, size_t outcap) {
  size_t i = 0, o = 0;
  /* One input byte writes at most 10 bytes: a literal pending space with a
   * soft break (4) and an encoded octet with a soft break (6), or an encoded
   * space with a soft break (6) and CRLF (2). */
  while (i < inlen && outcap - o >= SMTPC__ENC_RESERVE) {
    unsigned char c;
    /* fast path: a run of literal characters that fits the line */
    if (!q->cr && q->ws == 0) {
      size_t room = SMTPC__QP_LINE - 1 - q->col, k = 0, lim = inlen - i;
      if (lim > room)
        lim = room;
      if (lim > outcap - o - SMTPC__ENC_RESERVE)
        lim = outcap - o - SMTPC__ENC_RESERVE;
      while (k < lim && in[i + k] >= 33 && in[i + k] <= 126 && in[i + k] != '=')
        out[o + k] = in[i + k], k++;
      i += k;
      o += k;
      q->col += k;
      if (i == inlen || outcap - o < SMTPC__ENC_RESERVE)
        break;
    }
    c = in[i++];
    if (q->cr) {
      q->cr = 0;
      if (c == '\n')
        continue; /* second half of CRLF */
    }
    if (c == '\r' || c == '\n') {
      o += hard_break(q, out + o);
      q->cr = c == '\r';
      continue;
    }
    o += flush_ws(q, out + o, 1);
    if (c == ' ' || c == '\t') {
      q->ws = c;
    } else if (c >= 33 && c <= 126 && c != '=') {
      o += put_tok(q, out + o, &c, 1);
    } else {
      o += put_enc(q, out + o, c);
    }
  }
  *consumed = i;
  return o;
}

size_t smtpc__qp_finish(smtpc__qp *q, unsigned char *out) {
  size_t k = flush_ws(q, out, 0);
  smtpc__qp_init(q);
  return k;
}

/* ---- CRLF normalisation ----------------------------------------------------
 */

void smtpc__crlf_init(smtpc__crlf *c) { c->cr = 0; }

size_t smtpc__crlf_encode(smtpc__crlf *c, const unsigned char *in, size_t inlen,
                          size_t *consumed, unsigned char *out, size_t outcap) {
  size_t i = 0, o = 0;
  while (i < inlen && outcap - o >= 2) {
    size_t run = 0, lim = inlen - i;
    unsigned char ch;
    if (c->cr) {
      c->cr = 0;
      if (in[i] == '\n') {
        i++;
        continue;
      }
    }
    /* copy the run of ordinary bytes at once */
    if (lim > outcap - o)
      lim = outcap - o;
    while (run < lim && in[i + run] != '\r' && in[i + run] != '\n')
      run++;
    if (run > 0) {
      memcpy(out + o, in + i, run);
      i += run;
      o += run;
      continue;
    }
    ch = in[i++];
    out[o++] = '\r';
    out[o++] = '\n';
    c->cr = ch == '\r';
  }
  *consumed = i;
  return o;
}
