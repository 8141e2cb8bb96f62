/* SPDX-License-Identifier: MIT */
/* Body writer: CRLF normalisation and dot-stuffing (RFC 5321 4.5.2).
 *
 * Whatever the input, the output has no bare CR and no bare LF, and every
 * line that starts with "." gets another one, so the body can never contain
 * <CRLF>.<CRLF> before the end the library writes (SMTP smuggling). */
#include "smtpc_int.h"

#include <string.h>

/* BDAT's unstuffed encoding; compiled out with SMTPC_NO_CHUNKING. */
#ifdef SMTPC_NO_CHUNKING
#define NOSTUFF(d) ((void)(d), 0)
#define STUFF(x) ((void)(x), 1)
#else
#define NOSTUFF(d) ((d)->nostuff)
#define STUFF(x) (x)
#endif

void smtpc__dot_init(smtpc__dot *d, int reject8bit) {
  memset(d, 0, sizeof(*d));
  d->bol = 1;
  d->reject8bit = reject8bit;
}

/* One 8-octet word at p (memcpy keeps it free of alignment rules). */
static uint64_t word_at(const unsigned char *p) {
  uint64_t w;
  memcpy(&w, p, sizeof(w));
  return w;
}

int smtpc__has_8bit(const void *buf, size_t len) {
  const unsigned char *p = buf;
  size_t i = 0;
  uint64_t a = 0, b = 0;
  /* 32 octets a turn into two accumulators */
  for (; i + 32 <= len; i += 32) {
    a |= word_at(p + i) | word_at(p + i + 8);
    b |= word_at(p + i + 16) | word_at(p + i + 24);
  }
  for (; i + 8 <= len; i += 8)
    a |= word_at(p + i);
  for (; i < len; i++)
    a |= p[i];
  return ((a | b) & UINT64_C(0x8080808080808080)) != 0;
}

/* Ends the line: CRLF into out[0..2). */
static void end_line(smtpc__dot *d, unsigned char *out) {
  out[0] = '\r';
  out[1] = '\n';
  d->cr = 0;
  d->bol = 1;
  d->linelen = 0;
}

/* Handles the line end at in[0] (CR or LF), or the pending CR before in[0].
 * Writes CRLF at out + *o (2 bytes free) unless a CR ends the input, which
 * is then left pending; returns the input used. */
static size_t line_end(smtpc__dot *d, const unsigned char *in, size_t n,
                       unsigned char *out, size_t *o) {
  size_t used = 1;
  if (d->cr) {
    used = in[0] == '\n'; /* the LF of that CRLF, or nothing */
  } else if (in[0] == '\r') {
    if (n == 1) {
      d->cr = 1; /* CRLF or bare CR: decided by the next input */
      return 1;
    }
    used = in[1] == '\n' ? 2 : 1;
  }
  end_line(d, out + *o);
  *o += 2;
  return used;
}

/* Octets before the first 8-bit one in p[0..n). */
static size_t len_7bit(const unsigned char *p, size_t n) {
  size_t i = 0;
  while (i < n && (p[i] & 0x80) == 0)
    i++;
  return i;
}

/* Fails on the content octet c, which cannot be sent: 8-bit and refused,
 * or one more than the line limit. */
static void content_error(smtpc__dot *d, unsigned char c) {
  if (c & 0x80)
    d->saw8bit = 1;
  d->err = (c & 0x80) && d->reject8bit ? SMTPC_ERR_8BIT_UNSUPPORTED
                                       : SMTPC_ERR_BODY_LINE_TOO_LONG;
}

/* Copies the line whose content starts at in[0] (neither CR nor LF, no CR
 * pending) as far as room and the line limit allow: with its end (CR LF or
 * LF, written CRLF) when that is in reach, the content alone otherwise.
 * The first plain octets of the input need no 8-bit check.  Sets *o past
 * the output; returns the input used, 0 with d->err set when in[0] cannot
 * be sent. */
static size_t copy_line(smtpc__dot *d, const unsigned char *in, size_t n,
                        unsigned char *out, size_t room, size_t plain,
                        size_t *o) {
  size_t left = SMTPC__MAX_BODY_LINE - d->linelen, end, len;
  const unsigned char *lf, *cr;
  if (n > room)
    n = room;
  if (n > left + 2)
    n = left + 2; /* the content and CR LF */
  lf = memchr(in, '\n', n);
  end = lf != NULL ? (size_t)(lf - in) : n;
  cr = memchr(in, '\r', end);
  len = cr != NULL ? (size_t)(cr - in) : end;
  if (len > left)
    len = left; /* no line end in reach */
  if (len > plain && (d->reject8bit || !d->saw8bit) &&
      smtpc__has_8bit(in, len)) {
    if (d->reject8bit) {
      len = len_7bit(in, len); /* it fails on the next turn */
      lf = NULL;
    } else {
      d->saw8bit = 1;
    }
  }
  if (len == 0) {
    content_error(d, in[0]);
    return 0;
  }
  if (lf != NULL && len + 1 == end && cr == in + len) {
    /* content CR LF: as it is */
    memcpy(out, in, len + 2);
    *o += len + 2;
    d->bol = 1;
    d->linelen = 0;
    return len + 2;
  }
  memcpy(out, in, len);
  *o += len;
  d->bol = 0;
  d->linelen += len;
  if (lf != NULL && len == end && len + 2 <= room) {
    /* content LF: CRLF */
    end_line(d, out + len);
    *o += 2;
    return len + 1;
  }
  return len;
}

/* Copies whole lines from in[0..n), which starts a line, while each is
 * plain: no CR inside, at most SMTPC__MAX_BODY_LINE octets, ended by CR LF
 * (copied in one block with its neighbours) or LF (written CRLF); a leading
 * "." is stuffed.  Returns the input used (whole lines only); *o is moved
 * past the output. */
static size_t copy_lines(const unsigned char *in, size_t n, unsigned char *out,
                         size_t room, size_t *o, int stuff) {
  const unsigned char *p = in, *b = in; /* b..p still to go out at out + w */
  size_t w = 0, left = room;            /* left: room after b..p */
  while (p < in + n) {
    size_t rest = (size_t)(in + n - p), dot = STUFF(stuff) && *p == '.', len,
           crlf;
    const unsigned char *lf;
    if (rest > SMTPC__MAX_BODY_LINE + 2)
      rest = SMTPC__MAX_BODY_LINE + 2; /* the longest line and CR LF */
    lf = memchr(p, '\n', rest);
    if (lf == NULL)
      break;
    crlf = lf > p && lf[-1] == '\r';
    len = (size_t)(lf - p) - crlf; /* content octets */
    if (len > SMTPC__MAX_BODY_LINE || dot + len + 2 > left ||
        memchr(p, '\r', len) != NULL)
      break;
    left -= dot + len + 2;
    if (dot) {
      memcpy(out + w, b, (size_t)(p - b));
      w += (size_t)(p - b);
      out[w++] = '.';
      b = p;
    }
    p = lf + 1;
    if (!crlf) {
      memcpy(out + w, b, (size_t)(lf - b));
      w += (size_t)(lf - b);
      out[w++] = '\r';
      out[w++] = '\n';
      b = p;
    }
  }
  memcpy(out + w, b, (size_t)(p - b));
  *o += w + (size_t)(p - b);
  return (size_t)(p - in);
}

/* Octets from in[i] on that need no 8-bit check: all when 8-bit octets are
 * allowed and one was seen, else those up to known7 (checked). */
static size_t plain_span(const smtpc__dot *d, size_t i, size_t inlen,
                         size_t known7) {
  if (!d->reject8bit && d->saw8bit)
    return inlen - i;
  return known7 > i ? known7 - i : 0;
}

/* Line by line: memchr finds each line end, memcpy copies runs of lines.
 * When 8-bit octets matter (reject8bit, or saw8bit not yet set) one check
 * runs over what this call can use; if it finds any, lines go one at a
 * time through copy_line, which checks its own run.  The state is worked on
 * in a local copy, which stores into out cannot alias. */
smtpc_ssize smtpc__dot_encode(smtpc__dot *d, const unsigned char *in,
                              size_t inlen, unsigned char *out, size_t outcap,
                              size_t *consumed) {
  smtpc__dot st = *d;
  size_t i = 0, o = 0, known7 = 0; /* in[0..known7) is 7-bit */
  if (st.err) {
    *consumed = 0;
    return st.err;
  }
  if (st.reject8bit || !st.saw8bit) {
    /* input used <= output written + a pending CR, so outcap bounds it */
    size_t span = inlen < outcap ? inlen : outcap;
    if (!smtpc__has_8bit(in, span))
      known7 = span;
  }
  while (i < inlen && outcap - o >= 3) {
    unsigned char c = in[i];
    size_t plain = plain_span(&st, i, inlen, known7), n;
    if (st.bol && !st.cr && plain > 0 &&
        (n = copy_lines(in + i, plain, out + o, outcap - o, &o, !st.nostuff)) >
            0) {
      i += n;
      continue;
    }
    if (st.cr || c == '\r' || c == '\n') {
      i += line_end(&st, in + i, inlen - i, out, &o);
      continue;
    }
    if (st.bol && c == '.' && !NOSTUFF(&st)) {
      /* not content: RFC 5321 4.5.3.1.6 does not count it in the limit */
      out[o++] = '.';
      st.bol = 0; /* stuffed once, even if the '.' goes out next call */
    }
    n = copy_line(&st, in + i, inlen - i, out + o, outcap - o, plain, &o);
    if (n == 0)
      break;
    i += n;
  }
  *d = st;
  *consumed = i;
  if (st.err && o == 0)
    return st.err;
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
  if (NOSTUFF(d))
    return o; /* BDAT: the count ends the data, not a "." line */
  out[o++] = '.';
  out[o++] = '\r';
  out[o++] = '\n';
  return o;
}
