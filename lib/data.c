/* SPDX-License-Identifier: MIT */
/* Body writer: CRLF normalisation and dot-stuffing (RFC 5321 4.5.2).
 *
 * Whatever the input, the output has no bare CR and no bare LF, and every
 * line that starts with "." gets another one, so the body can never contain
 * <CRLF>.<CRLF> before the end the library writes (SMTP smuggling). */
#include "smtpc_int.h"

#include <string.h>

void smtpc__dot_init(smtpc__dot *d, int reject8bit) {
  memset(d, 0, sizeof(*d));
  d->bol = 1;
  d->reject8bit = reject8bit;
}

int smtpc__has_8bit(const void *buf, size_t len) {
  const unsigned char *p = buf;
  size_t i = 0;
  uint64_t acc = 0;
  /* eight bytes at a time; memcpy keeps it free of alignment rules */
  for (; i + 32 <= len; i += 32) {
    uint64_t w[4];
    memcpy(w, p + i, sizeof(w));
    acc |= w[0] | w[1] | w[2] | w[3];
  }
  for (; i < len; i++)
    acc |= p[i];
  return (acc & UINT64_C(0x8080808080808080)) != 0;
}

smtpc_ssize smtpc__dot_encode(smtpc__dot *d, const unsigned char *in,
                              size_t inlen, unsigned char *out, size_t outcap,
                              size_t *consumed) {
  size_t i = 0, o = 0;
  if (d->err) {
    *consumed = 0;
    return d->err;
  }
  while (i < inlen && outcap - o >= 3) {
    unsigned char c = in[i];
    if (d->cr) {
      /* A pending CR becomes CRLF whatever follows; a following LF is
       * the LF of that pair.  Anything else is handled on the next turn,
       * after the free-space check. */
      out[o++] = '\r';
      out[o++] = '\n';
      d->cr = 0;
      d->bol = 1;
      d->linelen = 0;
      if (c == '\n')
        i++;
      continue;
    }
    if (c == '\r') {
      d->cr = 1;
      i++;
      continue;
    }
    if (c == '\n') {
      out[o++] = '\r';
      out[o++] = '\n';
      d->bol = 1;
      d->linelen = 0;
      i++;
      continue;
    }
    if ((c & 0x80) != 0) {
      d->saw8bit = 1;
      if (d->reject8bit) {
        d->err = SMTPC_ERR_8BIT_UNSUPPORTED;
        break;
      }
    }
    if (d->bol && c == '.') {
      /* not content: RFC 5321 4.5.3.1.6 does not count it in the limit */
      out[o++] = '.';
      d->bol = 0; /* stuffed once, even if the '.' goes out next call */
    }
    if (d->linelen >= SMTPC__MAX_BODY_LINE) {
      d->err = SMTPC_ERR_BODY_LINE_TOO_LONG;
      break;
    }
    /* Copy a run of ordinary bytes in one go. */
    {
      size_t room = outcap - o; /* at least 2 here */
      size_t lim = SMTPC__MAX_BODY_LINE - d->linelen;
      size_t n = 0;
      if (room > lim)
        room = lim;
      while (n < room && i + n < inlen) {
        unsigned char b = in[i + n];
        if (b == '\r' || b == '\n' || (n > 0 && (b & 0x80) && d->reject8bit))
          break;
        if (b & 0x80)
          d->saw8bit = 1;
        n++;
      }
      if (n == 0) {
        /* the line is full and the next byte is content */
        d->err = SMTPC_ERR_BODY_LINE_TOO_LONG;
        break;
      }
      memcpy(out + o, in + i, n);
      o += n;
      i += n;
      d->linelen += n;
      d->bol = 0;
    }
  }
  *consumed = i;
  if (d->err && o == 0)
    return d->err;
  return (smtpc_ssize)o;
}

size_t smtpc__dot_finish(smtpc__dot *d, unsigned char *out) {
  size_t o = 0;
  if (d->cr || !d->bol) {
    out[o++] = '\r';
    out[o++] = '\n';
  }
  d->cr = 0;
  d->bol = 1;
  d->linelen = 0;
  out[o++] = '.';
  out[o++] = '\r';
  out[o++] = '\n';
  return o;
}
