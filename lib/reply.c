/* SPDX-License-Identifier: MIT */
/* Incremental SMTP reply parser (RFC 5321 section 4.2, RFC 3463 / 2034).
 *
 *   Reply-line = *( Reply-code "-" [ textstring ] CRLF )
 *                Reply-code [ SP textstring ] CRLF
 *
 * Bytes may arrive split anywhere.  Each line is checked as soon as it is
 * complete: the code must be three digits [2-5][0-5][0-9], identical on every
 * line, followed by "-", " " or the end of the line.  NUL and stray CR are
 * rejected.  Line length, reply size and line count are bounded so a hostile
 * server cannot make the client allocate without limit. */
#include "smtpc_int.h"

#include "ascii.h"

#include <string.h>

void smtpc__reply_free(const smtpc_mem *m, smtpc_reply *r) {
  if (r == NULL || --r->refs > 0)
    return;
  smtpc__free(m, r);
}

smtpc_reply *smtpc__reply_ref(smtpc_reply *r) {
  r->refs++;
  return r;
}

void smtpc__reply_parser_init(smtpc__reply_parser *p, const smtpc_mem *m) {
  memset(p, 0, sizeof(*p));
  p->mem = m;
  p->max_line = 4096;
  p->max_bytes = 65536;
  p->max_lines = 256;
}

void smtpc__reply_parser_free(smtpc__reply_parser *p) {
  smtpc__buf_free(&p->line, p->mem);
  smtpc__buf_free(&p->raw, p->mem);
  smtpc__buf_free(&p->offs, p->mem);
}

void smtpc__reply_parser_reset(smtpc__reply_parser *p) {
  smtpc__buf_reset(&p->line);
  smtpc__buf_reset(&p->raw);
  smtpc__buf_reset(&p->offs);
  p->nlines = 0;
  p->total = 0;
  p->code = 0;
  p->done = 0;
  p->err = 0;
}

int smtpc__reply_parser_busy(const smtpc__reply_parser *p) {
  return p->nlines > 0 || p->line.len > 0;
}

/* Length of an RFC 3463 status code "c.sss.ddd" at s (up to n bytes) whose
 * class digit equals want_class, or 0. */
static size_t enhanced_len(const char *s, size_t n, int want_class) {
  size_t i = 0, k, digits;
  if (n < 5 || s[0] != want_class || s[1] != '.')
    return 0;
  i = 2;
  for (k = 0; k < 2; k++) {
    digits = 0;
    while (i < n && smtpc__isdigit((unsigned char)s[i]) && digits < 3) {
      i++;
      digits++;
    }
    if (digits == 0)
      return 0;
    if (k == 0) {
      if (i >= n || s[i] != '.')
        return 0;
      i++;
    }
  }
  /* must end the token */
  if (i < n && s[i] != ' ')
    return 0;
  return i;
}

/* Validates one complete line (without line end) and stores it.
 * Returns 1 if it was the last line of the reply, 0 if more follow, or an
 * error. */
static int finish_line(smtpc__reply_parser *p, const char *l, size_t n) {
  int code, last;
  size_t off;
  if (n < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '5' ||
      !smtpc__isdigit((unsigned char)l[2]))
    return SMTPC_ERR_PROTOCOL;
  code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
  if (n == 3 || l[3] == ' ')
    last = 1;
  else if (l[3] == '-')
    last = 0;
  else
    return SMTPC_ERR_PROTOCOL;
  if (p->nlines == 0)
    p->code = code;
  else if (code != p->code)
    return SMTPC_ERR_PROTOCOL;
  if (p->nlines >= p->max_lines)
    return SMTPC_ERR_REPLY_TOO_LARGE;
  off = p->raw.len;
  if (smtpc__buf_append(&p->offs, p->mem, &off, sizeof(off)) != SMTPC_OK ||
      smtpc__buf_reserve(&p->raw, p->mem, n + 1) != SMTPC_OK)
    return SMTPC_ERR_NOMEM;
  memcpy(p->raw.data + p->raw.len, l, n); /* the line, NUL-terminated */
  p->raw.data[p->raw.len + n] = '\0';
  p->raw.len += n + 1;
  p->nlines++;
  smtpc__buf_reset(&p->line);
  return last;
}

/* The first fault in the seg bytes at in (a line's next piece, followed by
 * an LF when has_nl), given linelen bytes of the line already held: 0 or
 * the error, chosen by position so that the result does not depend on how
 * the stream was split.  At the same byte, the reply size beats a bad byte
 * (NUL, stray CR), which beats the line length. */
static int earliest_fault(const smtpc__reply_parser *p, const unsigned char *in,
                          size_t seg, int has_nl, size_t linelen,
                          int pending_cr) {
  int trailing_cr = seg > 0 && in[seg - 1] == '\r', rv = 0;
  size_t at = SIZE_MAX, lim, content;
  if (seg + (has_nl ? 1u : 0u) > p->max_bytes - p->total) {
    at = p->max_bytes - p->total;
    rv = SMTPC_ERR_REPLY_TOO_LARGE;
  }
  if (seg > 0) {
    const unsigned char *cr = memchr(in, '\r', seg);
    const unsigned char *nul = memchr(in, '\0', seg);
    size_t bad = SIZE_MAX;
    if (cr != NULL && cr != in + seg - 1)
      bad = (size_t)(cr - in);
    if (nul != NULL && (size_t)(nul - in) < bad)
      bad = (size_t)(nul - in);
    if (bad < at) {
      at = bad;
      rv = SMTPC_ERR_PROTOCOL;
    }
  }
  /* the limit includes CRLF; linelen holds no CR here except a pending
   * one, which only an LF (seg == 0) can follow */
  lim = p->max_line > 2 ? p->max_line - 2 : 0;
  content = linelen - (pending_cr ? 1u : 0u);
  if (content + seg - (trailing_cr ? 1u : 0u) > lim && lim - content < at)
    rv = SMTPC_ERR_REPLY_LINE_TOO_LONG;
  return rv;
}

int smtpc__reply_parser_feed(smtpc__reply_parser *p, const unsigned char *in,
                             size_t len, size_t *consumed) {
  size_t i = 0;
  int rv;
  *consumed = 0;
  if (p->err)
    return p->err;
  if (p->done)
    return 1;
  while (i < len) {
    const unsigned char *nl = memchr(in + i, '\n', len - i);
    size_t end = nl ? (size_t)(nl - in) : len;
    size_t seg = end - i;
    size_t linelen = smtpc__buf_avail(&p->line);
    int pending_cr =
        linelen > 0 && smtpc__buf_head(&p->line)[linelen - 1] == '\r';
    int trailing_cr;
    /* A CR must be followed by LF (RFC 5321 4.2): a CR that ended the
     * previous chunk and is not followed by LF is the earliest fault. */
    if (pending_cr && seg > 0) {
      rv = SMTPC_ERR_PROTOCOL;
      goto fail;
    }
    /* Otherwise the fault at the earliest byte wins (earliest_fault). */
    trailing_cr = seg > 0 && in[end - 1] == '\r';
    rv = earliest_fault(p, in + i, seg, nl != NULL, linelen, pending_cr);
    if (rv != 0)
      goto fail;
    if (nl != NULL && linelen == 0) {
      /* the whole line is in this chunk (the usual case): no copy */
      p->total += seg + 1;
      i = end + 1;
      rv = finish_line(p, (const char *)in + (end - seg),
                       seg - (trailing_cr ? 1u : 0u));
    } else {
      if (smtpc__buf_append(&p->line, p->mem, in + i, seg) != SMTPC_OK) {
        rv = SMTPC_ERR_NOMEM;
        goto fail;
      }
      p->total += seg;
      i = end;
      if (nl == NULL)
        break;
      i++;
      p->total++;
      if (pending_cr || trailing_cr)
        p->line.len--; /* drop the CR of CRLF */
      rv = finish_line(p, (const char *)smtpc__buf_head(&p->line),
                       smtpc__buf_avail(&p->line));
    }
    /* A bare LF is tolerated as a line end: RFC 5321 4.1.1 asks for CRLF,
     * but some servers behind broken proxies send LF alone. */
    if (rv < 0)
      goto fail;
    if (rv == 1) {
      p->done = 1;
      *consumed = i;
      return 1;
    }
  }
  *consumed = i;
  return 0;
fail:
  *consumed = i;
  p->err = rv;
  return rv;
}

/* Replaces the control characters of n bytes of text at t (C0 but HT, and
 * DEL) with '?', so that the text is safe to print or log; returns t + n. */
static char *text_clean(char *t, size_t n) {
  char *end = t + n;
  for (; t < end; t++)
    if (((unsigned char)*t < 32 && *t != '\t') || *t == 127)
      *t = '?';
  return end;
}

int smtpc__reply_parser_take(smtpc__reply_parser *p, smtpc_reply **out) {
  const smtpc_mem *m = p->mem;
  smtpc_reply *r;
  size_t i;
  char *t;
  if (!p->done)
    return SMTPC_ERR_INTERNAL;
  size_t offs = p->nlines * sizeof(size_t), total;
  /* struct, offsets, raw lines, text (never longer than raw: codes and
   * separators are removed) -- in one block; sizes are bounded by the
   * parser limits, but check anyway */
  if (p->raw.len > (SIZE_MAX - sizeof(*r) - offs - 1) / 2)
    return SMTPC_ERR_NOMEM;
  total = sizeof(*r) + offs + 2 * p->raw.len + 1;
  r = smtpc__malloc(m, total);
  if (r == NULL)
    return SMTPC_ERR_NOMEM;
  memset(r, 0, sizeof(*r));
  r->refs = 1;
  r->code = p->code;
  r->nlines = p->nlines;
  r->line_off = (size_t *)(void *)(r + 1);
  r->raw = (char *)(r->line_off + p->nlines);
  r->text = r->raw + p->raw.len;
  memcpy(r->raw, p->raw.data, p->raw.len);
  memcpy(r->line_off, p->offs.data, p->nlines * sizeof(size_t));
  t = r->text;
  for (i = 0; i < p->nlines; i++) {
    const char *l = r->raw + r->line_off[i];
    size_t n = strlen(l), skip = n > 4 ? 4 : n;
    if (p->enhanced) {
      /* RFC 2034: every line carries the code; strip it from the text. */
      size_t e = enhanced_len(l + skip, n - skip, l[0]);
      if (i == 0 && e > 0 && e < sizeof(r->enhanced)) {
        memcpy(r->enhanced, l + skip, e);
        r->enhanced[e] = '\0';
      }
      if (e > 0) {
        skip += e;
        if (skip < n && l[skip] == ' ')
          skip++;
      }
    }
    if (i > 0)
      *t++ = '\n';
    memcpy(t, l + skip, n - skip);
    t = text_clean(t, n - skip);
  }
  *t = '\0';
  smtpc__reply_parser_reset(p);
  *out = r;
  return SMTPC_OK;
}

/* Bytes of r's lines, each with its NUL. */
static size_t raw_size(const smtpc_reply *r) {
  size_t last;
  if (r->nlines == 0)
    return 0;
  last = r->line_off[r->nlines - 1];
  return last + strlen(r->raw + last) + 1;
}

size_t smtpc__reply_size(const smtpc_reply *r) {
  return sizeof(*r) + r->nlines * sizeof(size_t) + raw_size(r) +
         strlen(r->text) + 1;
}

/* Shortens n so that s[0..n) does not end inside a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n) {
  size_t k = n;
  while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80 && n - k < 3)
    k--;
  return ((unsigned char)s[k] & 0xC0) == 0x80 ? n : k;
}

smtpc_reply *smtpc__reply_bounded(const smtpc_mem *m, smtpc_reply *r,
                                  size_t max) {
  size_t k = 0, rawlen = 0, textlen = 0, first = 0, tfirst = 0, i;
  const char *tp = r->text;
  smtpc_reply *c;
  if (raw_size(r) <= max || r->nlines == 0)
    return smtpc__reply_ref(r);
  /* the first line, cut to max if need be, then whole lines that fit */
  {
    const char *l = r->raw;
    size_t n = strlen(l), tn = strcspn(tp, "\n");
    first = n < max ? n : utf8_cut(l, max);
    /* the text of a line is the tail of its raw line */
    tfirst = first > n - tn ? first - (n - tn) : 0;
    rawlen = first + 1;
    textlen = tfirst;
    k = 1;
    tp += tn + (tp[tn] == '\n');
  }
  while (k < r->nlines) {
    size_t n = strlen(r->raw + r->line_off[k]), tn = strcspn(tp, "\n");
    if (rawlen + n + 1 > max)
      break;
    rawlen += n + 1;
    textlen += 1 + tn;
    tp += tn + (tp[tn] == '\n');
    k++;
  }
  c = smtpc__malloc(m, sizeof(*c) + k * sizeof(size_t) + rawlen + textlen + 1);
  if (c == NULL)
    return NULL;
  *c = *r;
  c->refs = 1;
  c->nlines = k;
  c->line_off = (size_t *)(void *)(c + 1);
  c->raw = (char *)(c->line_off + k);
  c->text = c->raw + rawlen;
  for (i = 0; i < k; i++)
    c->line_off[i] = r->line_off[i];
  memcpy(c->raw, r->raw, rawlen);
  c->raw[first] = '\0'; /* the first line may be cut */
  if (k > 1) /* the whole lines after it keep their offsets: move them */
    memmove(c->raw + first + 1, r->raw + r->line_off[1], rawlen - first - 1);
  for (i = 1; i < k; i++)
    c->line_off[i] = r->line_off[i] - (r->line_off[1] - (first + 1));
  /* text: the first line's kept part, then the whole lines */
  memcpy(c->text, r->text, tfirst);
  if (k > 1) {
    const char *rest = r->text + strcspn(r->text, "\n");
    memcpy(c->text + tfirst, rest, textlen - tfirst);
  }
  c->text[textlen] = '\0';
  return c;
}

/* ---- public accessors ---------------------------------------------------- */

int smtpc_reply_code(const smtpc_reply *r) { return r ? r->code : 0; }

const char *smtpc_reply_enhanced(const smtpc_reply *r) {
  return r ? r->enhanced : "";
}

const char *smtpc_reply_text(const smtpc_reply *r) { return r ? r->text : ""; }

size_t smtpc_reply_line_count(const smtpc_reply *r) {
  return r ? r->nlines : 0;
}

const char *smtpc_reply_line(const smtpc_reply *r, size_t i) {
  if (r == NULL || i >= r->nlines)
    return NULL;
  return r->raw + r->line_off[i];
}
