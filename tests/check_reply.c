/* SPDX-License-Identifier: MIT */
/* Unit tests for the incremental reply parser (lib/reply.c).
 *
 * Every input is parsed whole, split in two at every offset, in chunks of
 * every size, and one byte at a time; each way must give the same replies
 * (code, enhanced code, text, raw lines, bytes consumed) or the same error,
 * with parser.enhanced on and off. */
#include "testutil.h"

#include "smtpc_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- driver
 * ------------------------------------------------------------------ */

#define MAX_REPLIES 4

typedef struct parsed {
  int rv;   /* SMTPC_OK, 1 = incomplete at the end, or the error */
  size_t n; /* replies taken */
  smtpc_reply *r[MAX_REPLIES];
  size_t ends[MAX_REPLIES]; /* stream offset just after each reply */
} parsed;

/* End of the fragment starting at a: two fragments split at `split`, or
 * fragments of `chunk` bytes when chunk > 0. */
static size_t frag_end(size_t a, size_t len, size_t split, size_t chunk) {
  if (chunk > 0)
    return len - a < chunk ? len : a + chunk;
  return a < split ? split : len;
}

/* Feeds in[] fragment by fragment, taking every complete reply. */
static void run_parser(smtpc__reply_parser *p, const void *input, size_t len,
                       size_t split, size_t chunk, parsed *out,
                       const char *ctx) {
  const unsigned char *in = input;
  size_t a = 0;
  memset(out, 0, sizeof(*out));
  while (a < len) {
    size_t b = frag_end(a, len, split, chunk), off = a;
    while (off < b) {
      size_t consumed = 12345;
      int rv = smtpc__reply_parser_feed(p, in + off, b - off, &consumed);
      if (rv < 0) {
        out->rv = rv;
        return;
      }
      if (rv == 0) {
        TU_CHECK(consumed == b - off,
                 "%s: feed returned 0 but consumed %zu of %zu", ctx, consumed,
                 b - off);
        TU_CHECK(smtpc__reply_parser_busy(p),
                 "%s: partial reply but parser not busy", ctx);
        off = b;
        break;
      }
      TU_CHECK(rv == 1, "%s: feed returned %d", ctx, rv);
      TU_CHECK(consumed > 0 && consumed <= b - off,
               "%s: feed consumed %zu of %zu", ctx, consumed, b - off);
      off += consumed;
      TU_CHECK(out->n < MAX_REPLIES, "%s: too many replies", ctx);
      TU_CHECK(smtpc__reply_parser_take(p, &out->r[out->n]) == SMTPC_OK,
               "%s: take failed", ctx);
      TU_CHECK(!smtpc__reply_parser_busy(p), "%s: busy after take", ctx);
      out->ends[out->n++] = off;
    }
    a = b;
  }
  out->rv = smtpc__reply_parser_busy(p) ? 1 : SMTPC_OK;
}

static void free_parsed(const smtpc_mem *m, parsed *ps) {
  size_t i;
  for (i = 0; i < ps->n; i++)
    smtpc__reply_free(m, ps->r[i]);
  ps->n = 0;
}

typedef struct exp_reply {
  int code;
  const char *enh;        /* enhanced code when parser.enhanced = 1 */
  const char *text;       /* text when parser.enhanced = 1 */
  const char *text_plain; /* text when parser.enhanced = 0; NULL = text */
  const char *lines[6];   /* raw lines, NULL-terminated */
} exp_reply;

static void expect_reply(const smtpc_reply *r, const exp_reply *e, int enhanced,
                         const char *ctx) {
  const char *want_enh = enhanced ? e->enh : "";
  const char *want_text =
      enhanced || e->text_plain == NULL ? e->text : e->text_plain;
  size_t n = 0, i;
  while (e->lines[n] != NULL)
    n++;
  TU_CHECK(smtpc_reply_code(r) == e->code, "%s: code %d, expected %d", ctx,
           smtpc_reply_code(r), e->code);
  TU_CHECK(strcmp(smtpc_reply_enhanced(r), want_enh) == 0,
           "%s: enhanced \"%s\", expected \"%s\"", ctx, smtpc_reply_enhanced(r),
           want_enh);
  TU_CHECK(strcmp(smtpc_reply_text(r), want_text) == 0,
           "%s: text \"%s\", expected \"%s\"", ctx,
           tu_escape(smtpc_reply_text(r), strlen(smtpc_reply_text(r))),
           tu_escape(want_text, strlen(want_text)));
  TU_CHECK(smtpc_reply_line_count(r) == n, "%s: %zu lines, expected %zu", ctx,
           smtpc_reply_line_count(r), n);
  for (i = 0; i < n; i++) {
    const char *l = smtpc_reply_line(r, i);
    TU_CHECK(l != NULL && strcmp(l, e->lines[i]) == 0,
             "%s: line %zu is \"%s\", expected \"%s\"", ctx, i,
             l ? tu_escape(l, strlen(l)) : "(NULL)",
             tu_escape(e->lines[i], strlen(e->lines[i])));
  }
  ck_assert_ptr_null(smtpc_reply_line(r, n));
}

/* Limits applied to the parser (0 = keep the default). */
typedef struct limits {
  size_t max_line, max_bytes, max_lines;
} limits;

static void setup_parser(smtpc__reply_parser *p, const smtpc_mem *m,
                         int enhanced, const limits *lim) {
  smtpc__reply_parser_init(p, m);
  p->enhanced = enhanced;
  if (lim && lim->max_line)
    p->max_line = lim->max_line;
  if (lim && lim->max_bytes)
    p->max_bytes = lim->max_bytes;
  if (lim && lim->max_lines)
    p->max_lines = lim->max_lines;
}

/* Chunk sizes to try after c: all of them for inputs up to 5000 octets,
 * a sample for longer ones. */
static size_t next_chunk(size_t c, size_t len) {
  static const size_t sample[] = {1, 2, 3, 5, 7, 13, 64, 255, 1000, 4096};
  size_t i;
  if (len <= 5000)
    return c + 1;
  for (i = 0; i < sizeof(sample) / sizeof(sample[0]); i++)
    if (sample[i] > c)
      return sample[i];
  return c < len ? len : len + 1;
}

/* Parses in[] every way (whole, every split, every chunk size, enhanced on
 * and off) and checks each result against the expected replies. */
static void check_ok_every_way(const char *name, const void *in, size_t len,
                               const exp_reply *exp, size_t nexp,
                               const size_t *ends, const limits *lim,
                               size_t split_step) {
  tu_alloc a;
  int enhanced;
  size_t split, chunk, i;
  char ctx[256];
  tu_alloc_init(&a, 0);
  for (enhanced = 0; enhanced <= 1; enhanced++) {
    for (chunk = 0; chunk <= len; chunk = next_chunk(chunk, len)) {
      /* chunk 0: two fragments at every split point (0 = whole) */
      for (split = 0; split < (chunk == 0 ? len : 1);
           split += (chunk == 0 ? split_step : 1)) {
        smtpc__reply_parser p;
        parsed ps;
        snprintf(ctx, sizeof(ctx), "%s (enhanced %d, %s %zu)", name, enhanced,
                 chunk ? "chunk" : "split", chunk ? chunk : split);
        setup_parser(&p, &a.mem, enhanced, lim);
        run_parser(&p, in, len, split, chunk, &ps, ctx);
        TU_CHECK(ps.rv == SMTPC_OK, "%s: result %d (%s)", ctx, ps.rv,
                 ps.rv == 1 ? "incomplete" : smtpc_strerror(ps.rv));
        TU_CHECK(ps.n == nexp, "%s: %zu replies, expected %zu", ctx, ps.n,
                 nexp);
        for (i = 0; i < nexp; i++) {
          expect_reply(ps.r[i], &exp[i], enhanced, ctx);
          TU_CHECK(ps.ends[i] == ends[i],
                   "%s: reply %zu ended at %zu, expected %zu", ctx, i,
                   ps.ends[i], ends[i]);
        }
        free_parsed(&a.mem, &ps);
        smtpc__reply_parser_free(&p);
        TU_ASSERT_NO_LEAKS(&a);
      }
    }
  }
}

/* Parses in[] every way and expects error err each time; the error is
 * sticky and reset clears it. */
static void check_err_every_way(const char *name, const void *in, size_t len,
                                int err, const limits *lim, size_t split_step) {
  tu_alloc a;
  size_t split, chunk;
  char ctx[256];
  tu_alloc_init(&a, 0);
  for (chunk = 0; chunk <= len; chunk = next_chunk(chunk, len)) {
    for (split = 0; split < (chunk == 0 ? len : 1);
         split += (chunk == 0 ? split_step : 1)) {
      smtpc__reply_parser p;
      parsed ps;
      size_t consumed = 99;
      smtpc_reply *r = NULL;
      snprintf(ctx, sizeof(ctx), "%s (%s %zu)", name, chunk ? "chunk" : "split",
               chunk ? chunk : split);
      setup_parser(&p, &a.mem, 1, lim);
      run_parser(&p, in, len, split, chunk, &ps, ctx);
      TU_CHECK(ps.rv == err, "%s: result %d (%s), expected %d (%s)", ctx, ps.rv,
               ps.rv == 1 ? "incomplete" : smtpc_strerror(ps.rv), err,
               smtpc_strerror(err));
      free_parsed(&a.mem, &ps);
      /* sticky until reset */
      TU_CHECK(smtpc__reply_parser_feed(&p, (const unsigned char *)"250 ok\r\n",
                                        8, &consumed) == err &&
                   consumed == 0,
               "%s: error not sticky", ctx);
      TU_CHECK(smtpc__reply_parser_take(&p, &r) == SMTPC_ERR_INTERNAL &&
                   r == NULL,
               "%s: take after an error", ctx);
      smtpc__reply_parser_reset(&p);
      TU_CHECK(!smtpc__reply_parser_busy(&p), "%s: busy after reset", ctx);
      TU_CHECK(smtpc__reply_parser_feed(&p, (const unsigned char *)"250 ok\r\n",
                                        8, &consumed) == 1 &&
                   consumed == 8,
               "%s: reset did not clear the error", ctx);
      TU_CHECK(smtpc__reply_parser_take(&p, &r) == SMTPC_OK &&
                   smtpc_reply_code(r) == 250 &&
                   strcmp(smtpc_reply_text(r), "ok") == 0,
               "%s: reply after reset", ctx);
      smtpc__reply_free(&a.mem, r);
      smtpc__reply_parser_free(&p);
      TU_ASSERT_NO_LEAKS(&a);
    }
  }
}

/* ---- tables
 * -------------------------------------------------------------------- */

typedef struct ok_case {
  const char *name;
  const char *in;
  exp_reply r[2]; /* second reply: code 0 when absent */
  limits lim;
} ok_case;

static const ok_case ok_cases[] = {
    {"single line", "250 OK\r\n", {{250, "", "OK", NULL, {"250 OK"}}}, {0}},
    {"greeting",
     "220 mx.example ESMTP ready\r\n",
     {{220,
       "",
       "mx.example ESMTP ready",
       NULL,
       {"220 mx.example ESMTP ready"}}},
     {0}},
    {"multi-line EHLO",
     "250-mx.example Hello client.test\r\n250-SIZE 10240000\r\n"
     "250-PIPELINING\r\n250 8BITMIME\r\n",
     {{250,
       "",
       "mx.example Hello client.test\nSIZE 10240000\nPIPELINING\n8BITMIME",
       NULL,
       {"250-mx.example Hello client.test", "250-SIZE 10240000",
        "250-PIPELINING", "250 8BITMIME"}}},
     {0}},
    {"code only", "250\r\n", {{250, "", "", NULL, {"250"}}}, {0}},
    {"code and space", "250 \r\n", {{250, "", "", NULL, {"250 "}}}, {0}},
    {"empty continuation",
     "250-\r\n250 done\r\n",
     {{250, "", "\ndone", NULL, {"250-", "250 done"}}},
     {0}},
    {"code-only last line",
     "250-first\r\n250\r\n",
     {{250, "", "first\n", NULL, {"250-first", "250"}}},
     {0}},
    {"bare LF line ends",
     "250-a\n250 b\n",
     {{250, "", "a\nb", NULL, {"250-a", "250 b"}}},
     {0}},
    {"mixed line ends",
     "250-a\r\n250-b\n250 c\r\n",
     {{250, "", "a\nb\nc", NULL, {"250-a", "250-b", "250 c"}}},
     {0}},
    {"two replies back to back",
     "250 one\r\n251 two\r\n",
     {{250, "", "one", NULL, {"250 one"}}, {251, "", "two", NULL, {"251 two"}}},
     {0}},
    {"multi-line then single",
     "250-a\r\n250 b\r\n354 go ahead\r\n",
     {{250, "", "a\nb", NULL, {"250-a", "250 b"}},
      {354, "", "go ahead", NULL, {"354 go ahead"}}},
     {0}},
    {"enhanced code",
     "250 2.1.0 Sender ok\r\n",
     {{250, "2.1.0", "Sender ok", "2.1.0 Sender ok", {"250 2.1.0 Sender ok"}}},
     {0}},
    {"enhanced code on every line",
     "250-2.1.5 first\r\n250-2.1.5 second\r\n250 2.1.5 third\r\n",
     {{250,
       "2.1.5",
       "first\nsecond\nthird",
       "2.1.5 first\n2.1.5 second\n2.1.5 third",
       {"250-2.1.5 first", "250-2.1.5 second", "250 2.1.5 third"}}},
     {0}},
    {"enhanced code on the first line only",
     "250-2.0.0 a\r\n250 b\r\n",
     {{250, "2.0.0", "a\nb", "2.0.0 a\nb", {"250-2.0.0 a", "250 b"}}},
     {0}},
    {"enhanced code alone",
     "250 2.0.0\r\n",
     {{250, "2.0.0", "", "2.0.0", {"250 2.0.0"}}},
     {0}},
    {"enhanced code, permanent",
     "550 5.1.1 <x@y.example>: Recipient address rejected\r\n",
     {{550,
       "5.1.1",
       "<x@y.example>: Recipient address rejected",
       "5.1.1 <x@y.example>: Recipient address rejected",
       {"550 5.1.1 <x@y.example>: Recipient address rejected"}}},
     {0}},
    {"enhanced code, transient",
     "421 4.3.2 Service shutting down\r\n",
     {{421,
       "4.3.2",
       "Service shutting down",
       "4.3.2 Service shutting down",
       {"421 4.3.2 Service shutting down"}}},
     {0}},
    {"enhanced code, three-digit parts",
     "550 5.123.456 detail\r\n",
     {{550,
       "5.123.456",
       "detail",
       "5.123.456 detail",
       {"550 5.123.456 detail"}}},
     {0}},
    {"enhanced class differs from reply code",
     "250 5.1.1 odd\r\n",
     {{250, "", "5.1.1 odd", NULL, {"250 5.1.1 odd"}}},
     {0}},
    {"enhanced class differs on a later line",
     "250-2.0.0 a\r\n250 4.0.0 b\r\n",
     {{250,
       "2.0.0",
       "a\n4.0.0 b",
       "2.0.0 a\n4.0.0 b",
       {"250-2.0.0 a", "250 4.0.0 b"}}},
     {0}},
    {"no enhanced code",
     "250 Ok: queued as 4F2A1\r\n",
     {{250, "", "Ok: queued as 4F2A1", NULL, {"250 Ok: queued as 4F2A1"}}},
     {0}},
    {"not enhanced: two parts",
     "250 2.0 ok\r\n",
     {{250, "", "2.0 ok", NULL, {"250 2.0 ok"}}},
     {0}},
    {"not enhanced: trailing junk",
     "250 2.0.0x ok\r\n",
     {{250, "", "2.0.0x ok", NULL, {"250 2.0.0x ok"}}},
     {0}},
    {"not enhanced: four parts",
     "250 2.0.0.1 ok\r\n",
     {{250, "", "2.0.0.1 ok", NULL, {"250 2.0.0.1 ok"}}},
     {0}},
    {"not enhanced: four-digit part",
     "250 2.1000.0 ok\r\n",
     {{250, "", "2.1000.0 ok", NULL, {"250 2.1000.0 ok"}}},
     {0}},
    {"not enhanced: empty part",
     "250 2..0 ok\r\n",
     {{250, "", "2..0 ok", NULL, {"250 2..0 ok"}}},
     {0}},
    {"lowest and highest codes",
     "200 a\r\n559 b\r\n",
     {{200, "", "a", NULL, {"200 a"}}, {559, "", "b", NULL, {"559 b"}}},
     {0}},
    {"8-bit and tab in text",
     "250 caf\xc3\xa9\tok\r\n",
     {{250, "", "caf\xc3\xa9\tok", NULL, {"250 caf\xc3\xa9\tok"}}},
     {0}},
    {"line of exactly max_line octets",
     "250 0123456789\r\n",
     {{250, "", "0123456789", NULL, {"250 0123456789"}}},
     {16, 0, 0}},
    {"continuation of exactly max_line octets",
     "250-0123456789\r\n250 x\r\n",
     {{250, "", "0123456789\nx", NULL, {"250-0123456789", "250 x"}}},
     {16, 0, 0}},
    {"reply of exactly max_bytes octets",
     "250-aaaa\r\n250 bbbb\r\n",
     {{250, "", "aaaa\nbbbb", NULL, {"250-aaaa", "250 bbbb"}}},
     {0, 20, 0}},
    {"max_bytes applies per reply",
     "250 aaaaaa\r\n250 bbbbbb\r\n",
     {{250, "", "aaaaaa", NULL, {"250 aaaaaa"}},
      {250, "", "bbbbbb", NULL, {"250 bbbbbb"}}},
     {0, 12, 0}},
    {"exactly max_lines lines",
     "250-a\r\n250-b\r\n250 c\r\n",
     {{250, "", "a\nb\nc", NULL, {"250-a", "250-b", "250 c"}}},
     {0, 0, 3}},
};

START_TEST(reply_ok_table) {
  const ok_case *c = &ok_cases[_i];
  size_t len = strlen(c->in), nexp = c->r[1].code ? 2 : 1;
  size_t ends[2], first = 0;
  /* the first reply ends after its last line */
  if (nexp == 2) {
    const char *l = c->in;
    for (;;) {
      const char *nl = strchr(l, '\n');
      int last = l[3] != '-';
      l = nl + 1;
      if (last)
        break;
    }
    first = (size_t)(l - c->in);
  }
  ends[0] = nexp == 2 ? first : len;
  ends[1] = len;
  check_ok_every_way(c->name, c->in, len, c->r, nexp, ends, &c->lim, 1);
}
END_TEST

typedef struct err_case {
  const char *name;
  const char *in;
  size_t len; /* 0: strlen(in) */
  int err;
  limits lim;
} err_case;

static const err_case err_cases[] = {
    {"non-digit code", "2x0 ok\r\n", 0, SMTPC_ERR_PROTOCOL, {0}},
    {"code 650", "650 no\r\n", 0, SMTPC_ERR_PROTOCOL, {0}},
    {"code 190", "190 no\r\n", 0, SMTPC_ERR_PROTOCOL, {0}},
    {"code 260", "260 no\r\n", 0, SMTPC_ERR_PROTOCOL, {0}},
    {"code 099", "099 no\r\n", 0, SMTPC_ERR_PROTOCOL, {0}},
    {"code 570", "570 no\r\n", 0, SMTPC_ERR_PROTOCOL, {0}},
    {"code 25x", "25x no\r\n", 0, SMTPC_ERR_PROTOCOL, {0}},
    {"short code", "25\r\n", 0, SMTPC_ERR_PROTOCOL, {0}},
    {"mismatched codes", "250-a\r\n251 b\r\n", 0, SMTPC_ERR_PROTOCOL, {0}},
    {"mismatched class", "250-a\r\n550 b\r\n", 0, SMTPC_ERR_PROTOCOL, {0}},
    {"separator /", "250/x\r\n", 0, SMTPC_ERR_PROTOCOL, {0}},
    {"separator letter", "250x\r\n", 0, SMTPC_ERR_PROTOCOL, {0}},
    {"separator tab", "250\tx\r\n", 0, SMTPC_ERR_PROTOCOL, {0}},
    {"bad separator on a later line",
     "250-a\r\n250=b\r\n",
     0,
     SMTPC_ERR_PROTOCOL,
     {0}},
    {"NUL in text", "250 a\0b\r\n", 9, SMTPC_ERR_PROTOCOL, {0}},
    {"NUL in code", "2\00050 x\r\n", 8, SMTPC_ERR_PROTOCOL, {0}},
    {"NUL before LF", "250 ab\0\r\n", 9, SMTPC_ERR_PROTOCOL, {0}},
    {"CR inside a line", "250 a\rb\r\n", 0, SMTPC_ERR_PROTOCOL, {0}},
    {"CR CR LF", "250 a\r\r\n", 0, SMTPC_ERR_PROTOCOL, {0}},
    {"CR as line end", "250-a\r250 b\r\n", 0, SMTPC_ERR_PROTOCOL, {0}},
    {"leading CR", "\r250 x\r\n", 0, SMTPC_ERR_PROTOCOL, {0}},
    {"empty line", "\r\n", 0, SMTPC_ERR_PROTOCOL, {0}},
    {"empty bare LF line", "\n", 0, SMTPC_ERR_PROTOCOL, {0}},
    {"empty line inside a reply",
     "250-a\r\n\r\n250 b\r\n",
     0,
     SMTPC_ERR_PROTOCOL,
     {0}},
    {"line of max_line + 1 octets",
     "250 0123456789a\r\n",
     0,
     SMTPC_ERR_REPLY_LINE_TOO_LONG,
     {16, 0, 0}},
    {"continuation of max_line + 1 octets",
     "250-ok\r\n250-0123456789a\r\n"
     "250 x\r\n",
     0,
     SMTPC_ERR_REPLY_LINE_TOO_LONG,
     {16, 0, 0}},
    {"unterminated line over max_line",
     "250 0123456789abcdefghij",
     0,
     SMTPC_ERR_REPLY_LINE_TOO_LONG,
     {16, 0, 0}},
    {"reply of max_bytes + 1 octets",
     "250-aaaa\r\n250 bbbbb\r\n",
     0,
     SMTPC_ERR_REPLY_TOO_LARGE,
     {0, 20, 0}},
    /* The earliest faulty byte decides the error, whatever the split
     * (found by fuzz_reply: it used to depend on where a chunk ended). */
    {"NUL after the line limit",
     "250 0123456789abcdefgh\0\r\n",
     25,
     SMTPC_ERR_REPLY_LINE_TOO_LONG,
     {16, 0, 0}},
    {"NUL at the first octet over the line limit",
     "250 0123456789\0\r\n",
     17,
     SMTPC_ERR_PROTOCOL,
     {16, 0, 0}},
    {"stray CR at the first octet over the line limit",
     "250 0123456789\rx\r\n",
     0,
     SMTPC_ERR_PROTOCOL,
     {16, 0, 0}},
    {"NUL as the last octet within max_bytes",
     "250-aaaa\r\n250 bbbbb\0\r\n",
     22,
     SMTPC_ERR_PROTOCOL,
     {0, 20, 0}},
    {"NUL at the first octet over max_bytes",
     "250-aaaa\r\n250 bbbbbb\0\r\n",
     23,
     SMTPC_ERR_REPLY_TOO_LARGE,
     {0, 20, 0}},
    {"stray CR at the first octet over max_bytes",
     "250-aaaa\r\n250 bbbbbb\rx\r\n",
     0,
     SMTPC_ERR_REPLY_TOO_LARGE,
     {0, 20, 0}},
    {"stray CR as the last octet within max_bytes",
     "250-aaaa\r\n250 bbbbb\rx\r\n",
     0,
     SMTPC_ERR_PROTOCOL,
     {0, 20, 0}},
    {"line limit and max_bytes at the same octet",
     "250 0123456789abcdef\r\n",
     0,
     SMTPC_ERR_REPLY_TOO_LARGE,
     {16, 14, 0}},
    {"max_lines + 1 lines",
     "250-a\r\n250-b\r\n250-c\r\n250 d\r\n",
     0,
     SMTPC_ERR_REPLY_TOO_LARGE,
     {0, 0, 3}},
};

START_TEST(reply_err_table) {
  const err_case *c = &err_cases[_i];
  size_t len = c->len ? c->len : strlen(c->in);
  check_err_every_way(c->name, c->in, len, c->err, &c->lim, 1);
}
END_TEST

/* ---- default limits (built at run time)
 * ------------------------------------------ */

/* "250 xxx...\r\n" of exactly n octets. */
static void make_line(tu_bytes *b, const char *code_sep, size_t n) {
  size_t i;
  tu_bytes_append_str(b, code_sep);
  for (i = 4; i + 2 < n; i++)
    tu_bytes_append(b, "x", 1);
  tu_bytes_append(b, "\r\n", 2);
}

START_TEST(reply_default_line_limit) {
  tu_bytes b = {0};
  smtpc__reply_parser p;
  exp_reply e = {250, "", NULL, NULL, {NULL}};
  size_t end;
  tu_alloc a;
  tu_alloc_init(&a, 0);
  smtpc__reply_parser_init(&p, &a.mem);
  ck_assert_uint_eq(p.max_line, 4096);
  ck_assert_uint_eq(p.max_bytes, 65536);
  ck_assert_uint_eq(p.max_lines, 256);
  smtpc__reply_parser_free(&p);

  make_line(&b, "250 ", 4096);
  ck_assert_uint_eq(b.n, 4096);
  e.lines[0] = (const char *)b.p;
  b.p[4094] = '\0'; /* the raw line is without CRLF */
  e.text = (const char *)b.p + 4;
  end = 4096;
  {
    tu_bytes in = {0};
    make_line(&in, "250 ", 4096);
    check_ok_every_way("4096-octet line", in.p, in.n, &e, 1, &end, NULL, 1);
    tu_bytes_free(&in);
  }
  tu_bytes_free(&b);
  make_line(&b, "250 ", 4097);
  check_err_every_way("4097-octet line", b.p, b.n,
                      SMTPC_ERR_REPLY_LINE_TOO_LONG, NULL, 1);
  tu_bytes_free(&b);
}
END_TEST

START_TEST(reply_default_size_limits) {
  tu_bytes b = {0};
  size_t i;
  /* 64 lines of 1024 octets = 65536 */
  for (i = 0; i < 63; i++)
    make_line(&b, "250-", 1024);
  make_line(&b, "250 ", 1024);
  ck_assert_uint_eq(b.n, 65536);
  {
    smtpc__reply_parser p;
    parsed ps;
    tu_alloc a;
    tu_alloc_init(&a, 0);
    setup_parser(&p, &a.mem, 0, NULL);
    run_parser(&p, b.p, b.n, 0, 1, &ps, "65536 octets, bytewise");
    ck_assert_int_eq(ps.rv, SMTPC_OK);
    ck_assert_uint_eq(ps.n, 1);
    ck_assert_uint_eq(smtpc_reply_line_count(ps.r[0]), 64);
    ck_assert_uint_eq(strlen(smtpc_reply_text(ps.r[0])), 64 * 1018 + 63);
    free_parsed(&a.mem, &ps);
    smtpc__reply_parser_free(&p);
    TU_ASSERT_NO_LEAKS(&a);
  }
  /* one more octet */
  tu_bytes_free(&b);
  for (i = 0; i < 63; i++)
    make_line(&b, "250-", 1024);
  make_line(&b, "250 ", 1025);
  check_err_every_way("65537 octets", b.p, b.n, SMTPC_ERR_REPLY_TOO_LARGE, NULL,
                      997);
  tu_bytes_free(&b);

  /* 256 lines are fine, 257 are not */
  for (i = 0; i < 255; i++)
    tu_bytes_append_str(&b, "250-x\r\n");
  tu_bytes_append_str(&b, "250 x\r\n");
  {
    smtpc__reply_parser p;
    parsed ps;
    smtpc_mem m;
    smtpc__mem_init(&m, NULL);
    setup_parser(&p, &m, 0, NULL);
    run_parser(&p, b.p, b.n, 0, 0, &ps, "256 lines");
    ck_assert_int_eq(ps.rv, SMTPC_OK);
    ck_assert_uint_eq(ps.n, 1);
    ck_assert_uint_eq(smtpc_reply_line_count(ps.r[0]), 256);
    free_parsed(&m, &ps);
    smtpc__reply_parser_free(&p);
  }
  tu_bytes_free(&b);
  for (i = 0; i < 256; i++)
    tu_bytes_append_str(&b, "250-x\r\n");
  tu_bytes_append_str(&b, "250 x\r\n");
  check_err_every_way("257 lines", b.p, b.n, SMTPC_ERR_REPLY_TOO_LARGE, NULL,
                      13);
  tu_bytes_free(&b);
}
END_TEST

/* ---- behaviour
 * ------------------------------------------------------------------ */

START_TEST(reply_stops_after_first) {
  smtpc_mem m;
  smtpc__reply_parser p;
  smtpc_reply *r;
  size_t consumed;
  static const unsigned char two[] = "250 one\r\n251 two\r\n";
  smtpc__mem_init(&m, NULL);
  smtpc__reply_parser_init(&p, &m);
  ck_assert_int_eq(smtpc__reply_parser_feed(&p, two, 18, &consumed), 1);
  ck_assert_uint_eq(consumed, 9);
  /* not taken yet: the parser holds the reply and uses nothing more */
  ck_assert_int_eq(smtpc__reply_parser_feed(&p, two + 9, 9, &consumed), 1);
  ck_assert_uint_eq(consumed, 0);
  ck_assert_int_eq(smtpc__reply_parser_take(&p, &r), SMTPC_OK);
  ck_assert_int_eq(smtpc_reply_code(r), 250);
  ck_assert_str_eq(smtpc_reply_text(r), "one");
  smtpc__reply_free(&m, r);
  ck_assert_int_eq(smtpc__reply_parser_take(&p, &r), SMTPC_ERR_INTERNAL);
  ck_assert_int_eq(smtpc__reply_parser_feed(&p, two + 9, 9, &consumed), 1);
  ck_assert_uint_eq(consumed, 9);
  ck_assert_int_eq(smtpc__reply_parser_take(&p, &r), SMTPC_OK);
  ck_assert_int_eq(smtpc_reply_code(r), 251);
  ck_assert_str_eq(smtpc_reply_line(r, 0), "251 two");
  smtpc__reply_free(&m, r);
  smtpc__reply_parser_free(&p);
}
END_TEST

START_TEST(reply_busy_and_reset) {
  smtpc_mem m;
  smtpc__reply_parser p;
  smtpc_reply *r;
  size_t consumed;
  smtpc__mem_init(&m, NULL);
  smtpc__reply_parser_init(&p, &m);
  ck_assert_int_eq(smtpc__reply_parser_busy(&p), 0);
  ck_assert_int_eq(smtpc__reply_parser_feed(&p, NULL, 0, &consumed), 0);
  ck_assert_uint_eq(consumed, 0);
  ck_assert_int_eq(smtpc__reply_parser_busy(&p), 0);
  ck_assert_int_eq(smtpc__reply_parser_take(&p, &r), SMTPC_ERR_INTERNAL);
  ck_assert_int_eq(
      smtpc__reply_parser_feed(&p, (const unsigned char *)"2", 1, &consumed),
      0);
  ck_assert_int_eq(smtpc__reply_parser_busy(&p), 1);
  ck_assert_int_eq(smtpc__reply_parser_feed(
                       &p, (const unsigned char *)"50-a\r\n25", 8, &consumed),
                   0);
  ck_assert_uint_eq(consumed, 8);
  ck_assert_int_eq(smtpc__reply_parser_busy(&p), 1);
  /* a pending CR keeps the parser busy too */
  smtpc__reply_parser_reset(&p);
  ck_assert_int_eq(smtpc__reply_parser_busy(&p), 0);
  ck_assert_int_eq(smtpc__reply_parser_feed(
                       &p, (const unsigned char *)"220 hi\r", 7, &consumed),
                   0);
  ck_assert_int_eq(smtpc__reply_parser_busy(&p), 1);
  ck_assert_int_eq(
      smtpc__reply_parser_feed(&p, (const unsigned char *)"\n", 1, &consumed),
      1);
  ck_assert_uint_eq(consumed, 1);
  ck_assert_int_eq(smtpc__reply_parser_take(&p, &r), SMTPC_OK);
  ck_assert_int_eq(smtpc_reply_code(r), 220);
  ck_assert_uint_eq(smtpc_reply_line_count(r), 1);
  ck_assert_str_eq(smtpc_reply_line(r, 0), "220 hi");
  ck_assert_int_eq(smtpc__reply_parser_busy(&p), 0);
  smtpc__reply_free(&m, r);
  /* reset in the middle of a multi-line reply forgets it entirely */
  ck_assert_int_eq(
      smtpc__reply_parser_feed(&p, (const unsigned char *)"250-a\r\n250-b", 12,
                               &consumed),
      0);
  smtpc__reply_parser_reset(&p);
  ck_assert_int_eq(smtpc__reply_parser_feed(
                       &p, (const unsigned char *)"354 go\r\n", 8, &consumed),
                   1);
  ck_assert_int_eq(smtpc__reply_parser_take(&p, &r), SMTPC_OK);
  ck_assert_int_eq(smtpc_reply_code(r), 354);
  ck_assert_uint_eq(smtpc_reply_line_count(r), 1);
  ck_assert_str_eq(smtpc_reply_text(r), "go");
  smtpc__reply_free(&m, r);
  smtpc__reply_parser_free(&p);
}
END_TEST

START_TEST(reply_enhanced_toggle) {
  /* the same parser, switched between replies (after ENHANCEDSTATUSCODES) */
  smtpc_mem m;
  smtpc__reply_parser p;
  smtpc_reply *r;
  size_t consumed;
  static const unsigned char in[] = "250 2.1.0 ok\r\n250 2.1.5 ok\r\n";
  smtpc__mem_init(&m, NULL);
  smtpc__reply_parser_init(&p, &m);
  ck_assert_int_eq(p.enhanced, 0);
  ck_assert_int_eq(smtpc__reply_parser_feed(&p, in, 28, &consumed), 1);
  ck_assert_int_eq(smtpc__reply_parser_take(&p, &r), SMTPC_OK);
  ck_assert_str_eq(smtpc_reply_enhanced(r), "");
  ck_assert_str_eq(smtpc_reply_text(r), "2.1.0 ok");
  smtpc__reply_free(&m, r);
  p.enhanced = 1;
  ck_assert_int_eq(smtpc__reply_parser_feed(&p, in + 14, 14, &consumed), 1);
  ck_assert_int_eq(smtpc__reply_parser_take(&p, &r), SMTPC_OK);
  ck_assert_str_eq(smtpc_reply_enhanced(r), "2.1.5");
  ck_assert_str_eq(smtpc_reply_text(r), "ok");
  smtpc__reply_free(&m, r);
  smtpc__reply_parser_free(&p);
}
END_TEST

START_TEST(reply_accessors_null) {
  ck_assert_int_eq(smtpc_reply_code(NULL), 0);
  ck_assert_str_eq(smtpc_reply_enhanced(NULL), "");
  ck_assert_str_eq(smtpc_reply_text(NULL), "");
  ck_assert_uint_eq(smtpc_reply_line_count(NULL), 0);
  ck_assert_ptr_null(smtpc_reply_line(NULL, 0));
  smtpc__reply_free(NULL, NULL); /* NULL reply: no-op, mem not touched */
}
END_TEST

/* tu_reply_make() (testutil.c), with which other suites make replies. */
START_TEST(reply_make_basic) {
  tu_alloc a;
  smtpc_reply *r;
  char text[600];
  tu_alloc_init(&a, 0);
  r = tu_reply_make(&a.mem, 421, "connection lost");
  ck_assert_ptr_nonnull(r);
  ck_assert_int_eq(smtpc_reply_code(r), 421);
  ck_assert_str_eq(smtpc_reply_enhanced(r), "");
  ck_assert_str_eq(smtpc_reply_text(r), "connection lost");
  ck_assert_uint_eq(smtpc_reply_line_count(r), 1);
  ck_assert_str_eq(smtpc_reply_line(r, 0), "421 connection lost");
  ck_assert_ptr_null(smtpc_reply_line(r, 1));
  smtpc__reply_free(&a.mem, r);

  r = tu_reply_make(&a.mem, 250, "");
  ck_assert_ptr_nonnull(r);
  ck_assert_str_eq(smtpc_reply_text(r), "");
  ck_assert_str_eq(smtpc_reply_line(r, 0), "250 ");
  smtpc__reply_free(&a.mem, r);

  r = tu_reply_make(&a.mem, 554, "5.7.1 no");
  ck_assert_ptr_nonnull(r);
  ck_assert_str_eq(smtpc_reply_enhanced(r), ""); /* not parsed */
  ck_assert_str_eq(smtpc_reply_text(r), "5.7.1 no");
  smtpc__reply_free(&a.mem, r);

  /* codes outside 200..599 or not valid SMTP codes */
  ck_assert_ptr_null(tu_reply_make(&a.mem, 199, "x"));
  ck_assert_ptr_null(tu_reply_make(&a.mem, 600, "x"));
  ck_assert_ptr_null(tu_reply_make(&a.mem, 0, "x"));
  ck_assert_ptr_null(tu_reply_make(&a.mem, -250, "x"));
  ck_assert_ptr_null(tu_reply_make(&a.mem, 260, "x"));
  /* the text limit: 504 octets fit, 505 do not */
  memset(text, 'x', sizeof(text));
  text[504] = '\0';
  r = tu_reply_make(&a.mem, 250, text);
  ck_assert_ptr_nonnull(r);
  ck_assert_uint_eq(strlen(smtpc_reply_text(r)), 504);
  smtpc__reply_free(&a.mem, r);
  text[504] = 'x';
  text[505] = '\0';
  ck_assert_ptr_null(tu_reply_make(&a.mem, 250, text));
  TU_ASSERT_NO_LEAKS(&a);
}
END_TEST

/* Parses one complete reply (enhanced codes on) into *out. */
static void parse_one(const smtpc_mem *m, const char *in, smtpc_reply **out) {
  smtpc__reply_parser p;
  size_t consumed = 0;
  smtpc__reply_parser_init(&p, m);
  p.enhanced = 1;
  ck_assert_int_eq(smtpc__reply_parser_feed(&p, (const unsigned char *)in,
                                            strlen(in), &consumed),
                   1);
  ck_assert_uint_eq(consumed, strlen(in));
  ck_assert_int_eq(smtpc__reply_parser_take(&p, out), SMTPC_OK);
  smtpc__reply_parser_free(&p);
}

/* Review finding 8i: reply text is safe to print; the raw lines are not
 * changed. */
START_TEST(reply_text_control_characters) {
  tu_alloc a;
  smtpc_reply *r;
  tu_alloc_init(&a, 0);
  parse_one(&a.mem,
            "550-5.1.1 \033[31mred\033[0m\r\n"
            "550 5.1.1 bell\007 tab\there del\177 \303\251t\303\251\r\n",
            &r);
  ck_assert_str_eq(smtpc_reply_text(r),
                   "?[31mred?[0m\nbell? tab\there del? \303\251t\303\251");
  ck_assert_str_eq(smtpc_reply_line(r, 0), "550-5.1.1 \033[31mred\033[0m");
  ck_assert_str_eq(smtpc_reply_line(r, 1),
                   "550 5.1.1 bell\007 tab\there del\177 \303\251t\303\251");
  smtpc__reply_free(&a.mem, r);
  TU_ASSERT_NO_LEAKS(&a);
}
END_TEST

/* Review finding 5: what a transaction keeps of an RCPT reply. */
START_TEST(reply_bounded_copy) {
  tu_alloc a;
  smtpc_reply *r, *c;
  tu_bytes in = {0};
  char line[300];
  int i;
  tu_alloc_init(&a, 0);

  /* small enough: the same reply, one more reference */
  parse_one(&a.mem, "250 2.1.5 Ok\r\n", &r);
  c = smtpc__reply_bounded(&a.mem, r, 80);
  ck_assert_ptr_eq(c, r);
  smtpc__reply_free(&a.mem, c);
  smtpc__reply_free(&a.mem, r);

  /* ten lines of 3+1+6+1+100 = 111 octets (112 with the NUL): the first
   * four fit in 512 (448), the fifth would not */
  for (i = 0; i < 10; i++) {
    snprintf(line, sizeof(line), "250%c2.1.5 %03d%.97s\r\n", i < 9 ? '-' : ' ',
             i,
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    tu_bytes_append_str(&in, line);
  }
  tu_bytes_append(&in, "", 1);
  parse_one(&a.mem, (const char *)in.p, &r);
  ck_assert_uint_eq(smtpc_reply_line_count(r), 10);
  c = smtpc__reply_bounded(&a.mem, r, 512);
  ck_assert_ptr_ne(c, r);
  ck_assert_int_eq(smtpc_reply_code(c), 250);
  ck_assert_str_eq(smtpc_reply_enhanced(c), "2.1.5");
  ck_assert_uint_eq(smtpc_reply_line_count(c), 4);
  for (i = 0; i < 4; i++)
    ck_assert_str_eq(smtpc_reply_line(c, (size_t)i),
                     smtpc_reply_line(r, (size_t)i));
  ck_assert_ptr_null(smtpc_reply_line(c, 4));
  /* the text of those four lines, exactly */
  ck_assert_uint_eq(strlen(smtpc_reply_text(c)), 4 * 100 + 3);
  ck_assert_int_eq(strncmp(smtpc_reply_text(c), smtpc_reply_text(r), 403), 0);
  ck_assert_uint_le(smtpc__reply_size(c), 64 + 4 * 8 + 448 + 404);
  smtpc__reply_free(&a.mem, c);

  /* a budget below the first line: that line, cut */
  c = smtpc__reply_bounded(&a.mem, r, 80);
  ck_assert_uint_eq(smtpc_reply_line_count(c), 1);
  ck_assert_uint_eq(strlen(smtpc_reply_line(c, 0)), 80);
  ck_assert_int_eq(strncmp(smtpc_reply_line(c, 0), "250-2.1.5 000xx", 15), 0);
  ck_assert_uint_eq(strlen(smtpc_reply_text(c)), 80 - 10);
  ck_assert_str_eq(smtpc_reply_enhanced(c), "2.1.5");
  smtpc__reply_free(&a.mem, c);
  smtpc__reply_free(&a.mem, r);
  tu_bytes_free(&in);

  /* a cut never splits a UTF-8 sequence: "é" is 2 octets at 79..80 */
  memset(line, 0, sizeof(line));
  memcpy(line, "550 5.1.1 ", 10);
  memset(line + 10, 'y', 69);
  memcpy(line + 79, "\303\251zzzz\r\n", 8);
  parse_one(&a.mem, line, &r);
  c = smtpc__reply_bounded(&a.mem, r, 80);
  ck_assert_uint_eq(strlen(smtpc_reply_line(c, 0)), 79);
  ck_assert_uint_eq(strlen(smtpc_reply_text(c)), 69);
  smtpc__reply_free(&a.mem, c);
  smtpc__reply_free(&a.mem, r);
  TU_ASSERT_NO_LEAKS(&a);
}
END_TEST

static int make_scenario(tu_alloc *a, void *arg) {
  smtpc_reply *r = tu_reply_make(&a->mem, 451, "try later");
  (void)arg;
  if (r == NULL)
    return SMTPC_ERR_NOMEM;
  ck_assert_int_eq(smtpc_reply_code(r), 451);
  ck_assert_str_eq(smtpc_reply_text(r), "try later");
  smtpc__reply_free(&a->mem, r);
  return SMTPC_OK;
}

START_TEST(reply_make_nomem) {
  ck_assert_int_gt(tu_alloc_sweep(make_scenario, NULL, 100), 0);
}
END_TEST

/* Parses a multi-line reply one byte at a time with allocation failures. */
static int parse_scenario(tu_alloc *a, void *arg) {
  static const char in[] = "250-mx.example Hello\r\n250-SIZE 10240000\r\n"
                           "250-PIPELINING\r\n250 2.0.0 8BITMIME\r\n";
  smtpc__reply_parser p;
  smtpc_reply *r = NULL;
  size_t i, consumed;
  int rv = 0;
  (void)arg;
  smtpc__reply_parser_init(&p, &a->mem);
  p.enhanced = 1;
  for (i = 0; i < sizeof(in) - 1 && rv == 0; i++)
    rv = smtpc__reply_parser_feed(&p, (const unsigned char *)in + i, 1,
                                  &consumed);
  if (rv == SMTPC_ERR_NOMEM) {
    /* sticky */
    ck_assert_int_eq(
        smtpc__reply_parser_feed(&p, (const unsigned char *)"x", 1, &consumed),
        SMTPC_ERR_NOMEM);
    smtpc__reply_parser_free(&p);
    return rv;
  }
  ck_assert_int_eq(rv, 1);
  rv = smtpc__reply_parser_take(&p, &r);
  if (rv == SMTPC_ERR_NOMEM) {
    ck_assert_ptr_null(r);
    smtpc__reply_parser_free(&p);
    return rv;
  }
  ck_assert_int_eq(rv, SMTPC_OK);
  ck_assert_str_eq(smtpc_reply_text(r), "mx.example Hello\nSIZE 10240000\n"
                                        "PIPELINING\n8BITMIME");
  ck_assert_str_eq(smtpc_reply_enhanced(r), "");
  smtpc__reply_free(&a->mem, r);
  smtpc__reply_parser_free(&p);
  return SMTPC_OK;
}

START_TEST(reply_parse_nomem) {
  ck_assert_int_gt(tu_alloc_sweep(parse_scenario, NULL, 200), 0);
}
END_TEST

static Suite *reply_suite(void) {
  Suite *s = suite_create("reply");
  TCase *tc = tcase_create("table");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, reply_ok_table, 0,
                      (int)(sizeof(ok_cases) / sizeof(ok_cases[0])));
  tcase_add_loop_test(tc, reply_err_table, 0,
                      (int)(sizeof(err_cases) / sizeof(err_cases[0])));
  suite_add_tcase(s, tc);

  tc = tcase_create("limits");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, reply_default_line_limit);
  tcase_add_test(tc, reply_default_size_limits);
  suite_add_tcase(s, tc);

  tc = tcase_create("behaviour");
  tcase_add_test(tc, reply_stops_after_first);
  tcase_add_test(tc, reply_busy_and_reset);
  tcase_add_test(tc, reply_enhanced_toggle);
  tcase_add_test(tc, reply_accessors_null);
  tcase_add_test(tc, reply_make_basic);
  tcase_add_test(tc, reply_text_control_characters);
  tcase_add_test(tc, reply_bounded_copy);
  tcase_add_test(tc, reply_make_nomem);
  tcase_add_test(tc, reply_parse_nomem);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(reply_suite());
  int failed;
  /* the shared helpers are exercised here once */
  srunner_add_suite(sr, tu_selftest_suite());
  srunner_run_all(sr, CK_ENV);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
