/* SPDX-License-Identifier: MIT */
/* Streaming base64 (RFC 2045 section 6.8) in lines of 76 characters
 * separated by CRLF.  The output holds only the base64 alphabet, '=' as
 * padding at the very end, and CRLF; in particular never '_' or '-', which
 * the MIME builder's boundaries rely on. */
#include "mime_int.h"

#include <string.h>

#define LINE 76

void smtpc__b64s_init(smtpc__b64s *s) { memset(s, 0, sizeof(*s)); }

static void quad(unsigned char *o, unsigned v) {
  o[0] = (unsigned char)smtpc__b64_alphabet[v >> 18 & 63];
  o[1] = (unsigned char)smtpc__b64_alphabet[v >> 12 & 63];
  o[2] = (unsigned char)smtpc__b64_alphabet[v >> 6 & 63];
  o[3] = (unsigned char)smtpc__b64_alphabet[v & 63];
}

size_t smtpc__b64s_encode(smtpc__b64s *s, const unsigned char *in, size_t inlen,
                          size_t *consumed, unsigned char *out, size_t outcap) {
  size_t i = 0, o = 0;
  for (;;) {
    unsigned v;
    /* fast path: whole lines straight from the input */
    if (s->npend == 0 && (s->col == 0 || s->col == LINE)) {
      while (inlen - i >= 57 && outcap - o >= LINE + 2) {
        size_t k;
        if (s->col == LINE) {
          out[o++] = '\r';
          out[o++] = '\n';
        }
        for (k = 0; k < 19; k++, i += 3, o += 4)
          quad(out + o,
               (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2]);
        s->col = LINE;
      }
    }
    if (outcap - o < 6)
      break;
    if (s->npend > 0 || inlen - i < 3) {
      while (s->npend < 3 && i < inlen)
        s->pend[s->npend++] = in[i++];
      if (s->npend < 3)
        break;
      v = (unsigned)s->pend[0] << 16 | (unsigned)s->pend[1] << 8 | s->pend[2];
      s->npend = 0;
    } else {
      v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
      i += 3;
    }
    if (s->col == LINE) {
      out[o++] = '\r';
      out[o++] = '\n';
      s->col = 0;
    }
    quad(out + o, v);
    o += 4;
    s->col += 4;
  }
  *consumed = i;
  return o;
}

size_t smtpc__b64s_finish(smtpc__b64s *s, unsigned char *out) {
  size_t o = 0;
  if (s->npend > 0) {
    unsigned v = (unsigned)s->pend[0] << 16;
    if (s->npend > 1)
      v |= (unsigned)s->pend[1] << 8;
    if (s->col == LINE) {
      out[o++] = '\r';
      out[o++] = '\n';
    }
    quad(out + o, v);
    if (s->npend < 2)
      out[o + 2] = '=';
    out[o + 3] = '=';
    o += 4;
  }
  smtpc__b64s_init(s);
  return o;
}

int64_t smtpc__b64s_size(int64_t n) {
  int64_t groups, lines;
  if (n < 0 || n > INT64_MAX / 2)
    return -1;
  groups = n / 3 + (n % 3 != 0);
  if (groups == 0)
    return 0;
  lines = (groups + LINE / 4 - 1) / (LINE / 4);
  return groups * 4 + (lines - 1) * 2;
}
