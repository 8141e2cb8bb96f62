/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: the incremental reply parser (lib/reply.c).
 *
 * Input:
 *   byte 0     options: bit 0 parse RFC 3463 enhanced codes; bits 1-2 pick
 *              the limits (the defaults, or small ones the fuzzer reaches)
 *   byte 1     k = byte & 15: the number of split sizes that follow
 *   k bytes    split sizes, used in turn: 0 = an empty feed, else 1..255
 *   the rest   the server's byte stream
 *
 * The stream is parsed twice: in one piece (fed again after each reply, as
 * the session does) and cut at the chosen sizes.  Both runs must give the
 * same replies (code, enhanced code, lines, text) and end in the same state:
 * the same error, or both waiting for more.  A mismatch aborts.  Each reply
 * is also checked against what the parser promises (RFC 5321 4.2 syntax,
 * limits, accessors). */
#include "smtpc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct limits {
  size_t line, bytes, lines;
} limits;

static const limits profiles[4] = {
    {4096, 65536, 256}, /* the library's defaults */
    {64, 256, 4},       /* the smallest a caller may set */
    {80, 65536, 256},   /* short lines only */
    {4096, 200, 3},     /* small replies */
};

/* A growable record of everything a run produced, compared byte for byte. */
typedef struct rec {
  unsigned char *p;
  size_t n, cap;
} rec;

static void rec_put(rec *r, const void *p, size_t n) {
  if (r->cap - r->n < n) {
    size_t c = r->cap ? r->cap : 256;
    while (c - r->n < n)
      c *= 2;
    r->p = realloc(r->p, c);
    if (r->p == NULL)
      abort();
    r->cap = c;
  }
  memcpy(r->p + r->n, p, n);
  r->n += n;
}

static void rec_num(rec *r, long long v) {
  char b[32];
  int k = snprintf(b, sizeof(b), "%lld|", v);
  rec_put(r, b, (size_t)k);
}

#define FAIL(...)                                                              \
  do {                                                                         \
    fprintf(stderr, "fuzz_reply: " __VA_ARGS__);                               \
    fputc('\n', stderr);                                                       \
    abort();                                                                   \
  } while (0)

static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* "c.sss.ddd" with 1..3 digits per number and class c. */
static int enhanced_ok(const char *e, int cls) {
  size_t i = 2, k;
  if (e[0] != cls || e[1] != '.')
    return 0;
  for (k = 0; k < 2; k++) {
    size_t d = 0;
    while (is_digit((unsigned char)e[i]) && d < 3) {
      i++;
      d++;
    }
    if (d == 0)
      return 0;
    if (k == 0 && e[i++] != '.')
      return 0;
  }
  return e[i] == '\0';
}

/* Checks one reply against the parser's promises and records it. */
static void check_reply(const smtpc_reply *r, const limits *lim, int enhanced,
                        rec *out) {
  size_t i, total = 0, nl = 0;
  const char *t = smtpc_reply_text(r), *e = smtpc_reply_enhanced(r);
  int code = smtpc_reply_code(r);
  size_t n = smtpc_reply_line_count(r);
  if (code < 200 || code > 559 || code % 100 > 59)
    FAIL("bad code %d", code);
  if (n < 1 || n > lim->lines)
    FAIL("%zu lines (limit %zu)", n, lim->lines);
  if (smtpc_reply_line(r, n) != NULL)
    FAIL("line %zu beyond the count is not NULL", n);
  for (i = 0; i < n; i++) {
    const char *l = smtpc_reply_line(r, i);
    size_t len, k;
    if (l == NULL)
      FAIL("line %zu is NULL", i);
    len = strlen(l);
    if (len < 3 || l[0] != '0' + code / 100 || l[1] != '0' + code / 10 % 10 ||
        l[2] != '0' + code % 10)
      FAIL("line %zu does not carry code %d", i, code);
    if (i + 1 < n ? l[3] != '-' : (len > 3 && l[3] != ' '))
      FAIL("line %zu has a bad separator", i);
    if (len + 2 > lim->line)
      FAIL("line %zu has %zu octets (limit %zu)", i, len + 2, lim->line);
    for (k = 0; k < len; k++)
      if (l[k] == '\r' || l[k] == '\n')
        FAIL("line %zu holds a CR or LF", i);
    total += len + 1; /* at least an LF: a bare LF ends a line too */
  }
  if (total > lim->bytes)
    FAIL("reply of %zu octets (limit %zu)", total, lim->bytes);
  for (i = 0; t[i]; i++) {
    nl += t[i] == '\n';
    if (((unsigned char)t[i] < 32 && t[i] != '\n' && t[i] != '\t') ||
        t[i] == 127)
      FAIL("text holds control character 0x%02x", (unsigned char)t[i]);
  }
  if (nl != n - 1)
    FAIL("text has %zu line breaks for %zu lines", nl, n);
  if (*e != '\0' && (!enhanced || !enhanced_ok(e, '0' + code / 100) ||
                     strncmp(smtpc_reply_line(r, 0) + 4, e, strlen(e)) != 0))
    FAIL("bad enhanced code \"%s\"", e);
  if (!enhanced) {
    /* without enhanced codes the text is each line after "ddd[ -]", its
     * control characters (but HT) and DEL shown as '?' */
    const char *p = t;
    for (i = 0; i < n; i++) {
      const char *l = smtpc_reply_line(r, i);
      size_t len = strlen(l), skip = len > 4 ? 4 : len, k;
      for (k = skip; k < len; k++) {
        unsigned char c = (unsigned char)l[k];
        int want = (c < 32 && c != '\t') || c == 127 ? '?' : c;
        if ((unsigned char)p[k - skip] != want)
          FAIL("text of line %zu differs from the line", i);
      }
      p += len - skip;
      if (*p != (i + 1 < n ? '\n' : '\0'))
        FAIL("text of line %zu differs from the line", i);
      p++;
    }
  }
  rec_num(out, code);
  rec_put(out, e, strlen(e) + 1);
  rec_num(out, (long long)n);
  for (i = 0; i < n; i++) {
    const char *l = smtpc_reply_line(r, i);
    rec_put(out, l, strlen(l) + 1);
  }
  rec_put(out, t, strlen(t) + 1);
}

/* Feeds in[0..len) (one piece of the stream), taking every complete reply.
 * Returns 0 to go on, or the parser's (sticky) error. */
static int feed(smtpc__reply_parser *p, const limits *lim, int enhanced,
                const unsigned char *in, size_t len, rec *out) {
  size_t pos = 0;
  int first = 1;
  while (pos < len || first) {
    size_t used = 0;
    int rv = smtpc__reply_parser_feed(p, in + pos, len - pos, &used);
    first = 0;
    if (used > len - pos)
      FAIL("consumed %zu of %zu bytes", used, len - pos);
    pos += used;
    if (rv < 0)
      return rv;
    if (rv == 0) {
      if (pos != len)
        FAIL("parser wants more but left %zu bytes", len - pos);
      return 0;
    }
    if (rv != 1)
      FAIL("feed returned %d", rv);
    {
      smtpc_reply *r = NULL;
      int trv = smtpc__reply_parser_take(p, &r);
      if (trv != SMTPC_OK || r == NULL)
        FAIL("take failed: %d", trv);
      check_reply(r, lim, enhanced, out);
      smtpc__reply_free(p->mem, r);
    }
    if (smtpc__reply_parser_busy(p))
      FAIL("parser busy right after a take");
  }
  return 0;
}

/* Parses the stream cut into pieces (sizes == NULL: one piece). */
static int run(const unsigned char *in, size_t len, const limits *lim,
               int enhanced, const unsigned char *sizes, size_t k, rec *out,
               int *busy) {
  smtpc__reply_parser p;
  smtpc_mem mem;
  size_t pos = 0, i = 0;
  int rv = 0;
  smtpc__mem_init(&mem, NULL);
  smtpc__reply_parser_init(&p, &mem);
  p.max_line = lim->line;
  p.max_bytes = lim->bytes;
  p.max_lines = lim->lines;
  p.enhanced = enhanced;
  while (pos < len && rv == 0) {
    size_t n = len - pos;
    if (sizes != NULL && k > 0) {
      size_t want = sizes[i++ % k];
      if (want == 0) {
        /* an empty feed changes nothing; then one byte, for progress */
        rv = feed(&p, lim, enhanced, in + pos, 0, out);
        if (rv != 0)
          FAIL("empty feed returned %d", rv);
        want = 1;
      }
      if (want < n)
        n = want;
    }
    rv = feed(&p, lim, enhanced, in + pos, n, out);
    pos += n;
  }
  *busy = smtpc__reply_parser_busy(&p);
  if (rv < 0) {
    /* the error is sticky: a later feed uses nothing and repeats it */
    size_t used = 1;
    int again = smtpc__reply_parser_feed(&p, in, len, &used);
    if (again != rv || used != 0)
      FAIL("error %d not sticky (got %d, used %zu)", rv, again, used);
    /* a reset parser is usable again */
    smtpc__reply_parser_reset(&p);
    again = smtpc__reply_parser_feed(&p, (const unsigned char *)"250 ok\r\n", 8,
                                     &used);
    if (again != 1 || used != 8)
      FAIL("reset parser rejects a plain reply (%d)", again);
  }
  smtpc__reply_parser_free(&p);
  return rv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const limits *lim;
  const unsigned char *sizes;
  size_t k;
  int enhanced, rv_whole, rv_split, busy_whole, busy_split;
  rec whole = {NULL, 0, 0}, split = {NULL, 0, 0};
  if (size < 2)
    return 0;
  enhanced = data[0] & 1;
  lim = &profiles[(data[0] >> 1) & 3];
  k = data[1] & 15;
  if (size < 2 + k)
    return 0;
  sizes = data + 2;
  data += 2 + k;
  size -= 2 + k;

  rv_whole = run(data, size, lim, enhanced, NULL, 0, &whole, &busy_whole);
  rv_split = run(data, size, lim, enhanced, sizes, k, &split, &busy_split);
  if (whole.n != split.n || (whole.n && memcmp(whole.p, split.p, whole.n)))
    FAIL("replies differ between one feed and a split feed");
  if (rv_whole != rv_split)
    FAIL("ends differ: one feed %d (%s), split feed %d (%s)", rv_whole,
         smtpc_strerror(rv_whole), rv_split, smtpc_strerror(rv_split));
  if (rv_whole == 0 && busy_whole != busy_split)
    FAIL("partial reply pending in one run only");
  free(whole.p);
  free(split.p);
  return 0;
}
