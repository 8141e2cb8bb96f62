/* SPDX-License-Identifier: MIT */
/* Unit tests for the body writer (lib/data.c): CRLF normalisation,
 * dot-stuffing, 8-bit detection and the line limit.  Every case is encoded
 * with every output capacity from 3 to 40 and every input chunk size from 1
 * to 17 (and whole); the output must be identical each time.  Output buffers
 * are heap blocks of exactly the capacity given, so an overrun is caught by
 * ASan or valgrind. */
#include "testutil.h"

#include "smtpc_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- driver
 * ------------------------------------------------------------------- */

typedef struct enc {
  int err; /* SMTPC_OK or the error that stopped the encoder */
  int saw8bit;
  tu_bytes out; /* everything written, plus the end from finish() if OK */
} enc;

/* Chunk sizes for one run: chunk > 0 is fixed; chunk == 0 is the whole
 * input; a non-NULL rng gives random chunk sizes of 1..20. */
static unsigned long rng_next(unsigned long *s) {
  *s = *s * 6364136223846793005UL + 1442695040888963407UL;
  return (*s >> 33) & 0x7fffffffUL;
}

static void encode(const void *input, size_t len, size_t chunk, size_t outcap,
                   int reject8bit, unsigned long *rng, enc *res) {
  const unsigned char *in = input;
  unsigned char *buf = malloc(outcap ? outcap : 1), *fin = malloc(5);
  smtpc__dot d;
  size_t pos = 0;
  long spins = 0;
  ck_assert_ptr_nonnull(buf);
  ck_assert_ptr_nonnull(fin);
  memset(res, 0, sizeof(*res));
  smtpc__dot_init(&d, reject8bit);
  while (pos < len) {
    size_t n = len - pos, consumed = 777;
    smtpc_ssize r;
    if (rng != NULL)
      chunk = 1 + rng_next(rng) % 20;
    if (chunk > 0 && chunk < n)
      n = chunk;
    r = smtpc__dot_encode(&d, in + pos, n, buf, outcap, &consumed);
    if (r < 0) {
      res->err = (int)r;
      /* sticky, even for input that alone would be fine */
      ck_assert_int_eq(smtpc__dot_encode(&d, (const unsigned char *)"\r\nok", 4,
                                         buf, outcap, &consumed),
                       (int)r);
      ck_assert_uint_eq(consumed, 0);
      break;
    }
    TU_CHECK((size_t)r <= outcap, "wrote %ld bytes into %zu", (long)r, outcap);
    TU_CHECK(consumed <= n, "consumed %zu of %zu", consumed, n);
    TU_CHECK(r > 0 || consumed > 0,
             "no progress (capacity %zu, chunk %zu, at %zu)", outcap, n, pos);
    TU_CHECK(++spins < 1000000, "encoder loops");
    tu_bytes_append(&res->out, buf, (size_t)r);
    pos += consumed;
  }
  if (res->err == SMTPC_OK) {
    size_t f = smtpc__dot_finish(&d, fin);
    ck_assert_uint_le(f, 5);
    tu_bytes_append(&res->out, fin, f);
  }
  res->saw8bit = d.saw8bit;
  free(buf);
  free(fin);
}

/* Encodes with every capacity 3..40 and chunk 0..17; all results must equal
 * the first (whole input, capacity 40).  Returns that first result. */
static void encode_every_way(const char *name, const void *in, size_t len,
                             int reject8bit, enc *first) {
  size_t cap, chunk;
  encode(in, len, 0, 40, reject8bit, NULL, first);
  for (cap = 3; cap <= 40; cap++) {
    for (chunk = 0; chunk <= 17; chunk++) {
      enc e;
      char msg[2048];
      encode(in, len, chunk, cap, reject8bit, NULL, &e);
      if (tu_bytes_diff(msg, sizeof(msg), first->out.p, first->out.n, e.out.p,
                        e.out.n))
        ck_abort_msg("%s: capacity %zu, chunk %zu: output differs from the "
                     "whole-buffer encoding:\n%s",
                     name, cap, chunk, msg);
      TU_CHECK(e.err == first->err,
               "%s: capacity %zu, chunk %zu: "
               "error %d, whole-buffer gave %d",
               name, cap, chunk, e.err, first->err);
      TU_CHECK(e.saw8bit == first->saw8bit, "%s: saw8bit differs", name);
      tu_bytes_free(&e.out);
    }
  }
}

/* Number of "\r\n.\r\n" in CRLF + out (the body starts at a line start, right
 * after the 354 reply). */
static size_t count_end_marks(const tu_bytes *out, size_t *last_at) {
  tu_bytes s = {0};
  size_t i, n = 0;
  tu_bytes_append(&s, "\r\n", 2);
  tu_bytes_append(&s, out->p, out->n);
  for (i = 0; i + 5 <= s.n; i++)
    if (memcmp(s.p + i, "\r\n.\r\n", 5) == 0) {
      n++;
      *last_at = i + 5;
    }
  *last_at = n ? *last_at - 2 : 0; /* offset in out */
  tu_bytes_free(&s);
  return n;
}

static void assert_no_bare_cr_lf(const tu_bytes *o, const char *name) {
  size_t i;
  for (i = 0; i < o->n; i++) {
    if (o->p[i] == '\r')
      TU_CHECK(i + 1 < o->n && o->p[i + 1] == '\n',
               "%s: bare CR at %zu in \"%s\"", name, i, tu_escape(o->p, o->n));
    if (o->p[i] == '\n')
      TU_CHECK(i > 0 && o->p[i - 1] == '\r', "%s: bare LF at %zu in \"%s\"",
               name, i, tu_escape(o->p, o->n));
  }
}

/* The end-of-data mark occurs exactly once, at the very end. */
static void assert_one_end(const tu_bytes *o, const char *name) {
  size_t at = 0, n = count_end_marks(o, &at);
  TU_CHECK(n == 1 && at == o->n,
           "%s: %zu end-of-data marks (last ending at %zu of %zu) in "
           "\"%s\"",
           name, n, at, o->n, tu_escape(o->p, o->n));
}

/* ---- exact output
 * ---------------------------------------------------------------- */

typedef struct data_case {
  const char *name;
  const char *in;
  const char *want;
  int saw8bit;
} data_case;

static const data_case cases[] = {
    {"plain CRLF text", "Subject: x\r\n\r\nbody\r\n",
     "Subject: x\r\n\r\nbody\r\n.\r\n", 0},
    {"bare LF", "a\nb\n", "a\r\nb\r\n.\r\n", 0},
    {"bare CR", "a\rb\r", "a\r\nb\r\n.\r\n", 0},
    {"CR CR LF", "a\r\r\nb\r\n", "a\r\n\r\nb\r\n.\r\n", 0},
    {"LF CR", "a\n\rb", "a\r\n\r\nb\r\n.\r\n", 0},
    {"blank lines of every kind", "\r\n\n\r\r\n", "\r\n\r\n\r\n\r\n.\r\n", 0},
    {"leading dots after every line end", ".a\r\n.b\n.c\r.d",
     "..a\r\n..b\r\n..c\r\n..d\r\n.\r\n", 0},
    {"dot alone", ".", "..\r\n.\r\n", 0},
    {"dot line alone", ".\r\n", "..\r\n.\r\n", 0},
    {"two dots", "..\r\n", "...\r\n.\r\n", 0},
    {"dot inside a line", "a.b\r\nc.\r\n", "a.b\r\nc.\r\n.\r\n", 0},
    {"smuggle CRLF.CRLF", "x\r\n.\r\nMAIL FROM:<e@vil>\r\n",
     "x\r\n..\r\nMAIL FROM:<e@vil>\r\n.\r\n", 0},
    {"smuggle LF.LF", "x\n.\nMAIL FROM:<e@vil>\n",
     "x\r\n..\r\nMAIL FROM:<e@vil>\r\n.\r\n", 0},
    {"smuggle CR.CR", "x\r.\rMAIL FROM:<e@vil>\r",
     "x\r\n..\r\nMAIL FROM:<e@vil>\r\n.\r\n", 0},
    {"smuggle LF.CRLF", "x\n.\r\ny", "x\r\n..\r\ny\r\n.\r\n", 0},
    {"smuggle CRLF.LF", "x\r\n.\ny", "x\r\n..\r\ny\r\n.\r\n", 0},
    {"smuggle CR.CRLF", "x\r.\r\ny", "x\r\n..\r\ny\r\n.\r\n", 0},
    {"smuggle CRLF.CR", "x\r\n.\ry", "x\r\n..\r\ny\r\n.\r\n", 0},
    {"smuggle LF.CR", "x\n.\ry", "x\r\n..\r\ny\r\n.\r\n", 0},
    {"smuggle at the end", "x\r\n.\r\n", "x\r\n..\r\n.\r\n", 0},
    {"smuggle at the end, LF", "x\n.\n", "x\r\n..\r\n.\r\n", 0},
    {"smuggle at the end, CR", "x\r.\r", "x\r\n..\r\n.\r\n", 0},
    {"smuggle at the start", ".\r\nx", "..\r\nx\r\n.\r\n", 0},
    {"no final line end", "abc", "abc\r\n.\r\n", 0},
    {"ends with CR", "x\r", "x\r\n.\r\n", 0},
    {"empty body", "", ".\r\n", 0},
    {"line end only", "\n", "\r\n.\r\n", 0},
    {"CR only", "\r", "\r\n.\r\n", 0},
    {"8-bit allowed", "caf\xc3\xa9\n\xff", "caf\xc3\xa9\r\n\xff\r\n.\r\n", 1},
    {"8-bit after a dot", ".\xe9\n", "..\xe9\r\n.\r\n", 1},
};

START_TEST(data_table) {
  const data_case *c = &cases[_i];
  enc e;
  encode_every_way(c->name, c->in, strlen(c->in), 0, &e);
  TU_CHECK(e.err == SMTPC_OK, "%s: error %d", c->name, e.err);
  TU_ASSERT_BYTES_STR(e.out.p, e.out.n, c->want);
  ck_assert_int_eq(e.saw8bit, c->saw8bit);
  assert_no_bare_cr_lf(&e.out, c->name);
  assert_one_end(&e.out, c->name);
  tu_bytes_free(&e.out);
  /* 7-bit input encodes the same with reject8bit set */
  if (!c->saw8bit) {
    encode(c->in, strlen(c->in), 0, 40, 1, NULL, &e);
    ck_assert_int_eq(e.err, SMTPC_OK);
    TU_ASSERT_BYTES_STR(e.out.p, e.out.n, c->want);
    tu_bytes_free(&e.out);
  }
}
END_TEST

START_TEST(data_crlf_across_calls) {
  smtpc__dot d;
  unsigned char out[16];
  size_t consumed, o = 0;
  tu_bytes all = {0};
  smtpc_ssize r;
  smtpc__dot_init(&d, 0);
  r = smtpc__dot_encode(&d, (const unsigned char *)"a\r", 2, out, sizeof(out),
                        &consumed);
  ck_assert_int_eq(r, 1); /* the CR waits for what follows */
  ck_assert_uint_eq(consumed, 2);
  tu_bytes_append(&all, out, (size_t)r);
  r = smtpc__dot_encode(&d, (const unsigned char *)"\nb", 2, out, sizeof(out),
                        &consumed);
  ck_assert_int_eq(r, 3);
  ck_assert_uint_eq(consumed, 2);
  tu_bytes_append(&all, out, (size_t)r);
  o = smtpc__dot_finish(&d, out);
  ck_assert_uint_eq(o, 5);
  tu_bytes_append(&all, out, o);
  TU_ASSERT_BYTES_STR(all.p, all.n, "a\r\nb\r\n.\r\n");
  tu_bytes_free(&all);

  /* CR at the end of one chunk, "." at the start of the next */
  smtpc__dot_init(&d, 0);
  r = smtpc__dot_encode(&d, (const unsigned char *)"a\r", 2, out, sizeof(out),
                        &consumed);
  tu_bytes_append(&all, out, (size_t)r);
  r = smtpc__dot_encode(&d, (const unsigned char *)".\r\n", 3, out, sizeof(out),
                        &consumed);
  ck_assert_uint_eq(consumed, 3);
  tu_bytes_append(&all, out, (size_t)r);
  o = smtpc__dot_finish(&d, out);
  tu_bytes_append(&all, out, o);
  TU_ASSERT_BYTES_STR(all.p, all.n, "a\r\n..\r\n.\r\n");
  tu_bytes_free(&all);
}
END_TEST

START_TEST(data_small_capacity) {
  /* below 3 free bytes the encoder writes and consumes nothing */
  smtpc__dot d;
  unsigned char *out = malloc(2);
  size_t cap, consumed;
  for (cap = 0; cap < 3; cap++) {
    smtpc__dot_init(&d, 0);
    consumed = 99;
    ck_assert_int_eq(smtpc__dot_encode(&d, (const unsigned char *)".\r\n", 3,
                                       out, cap, &consumed),
                     0);
    ck_assert_uint_eq(consumed, 0);
  }
  free(out);
}
END_TEST

/* ---- 8-bit
 * -------------------------------------------------------------------- */

typedef struct bit8_case {
  const char *in;
  const char *before; /* output written before the error */
} bit8_case;

static const bit8_case bit8_cases[] = {
    {"caf\xc3\xa9\r\n", "caf"}, {"\x80", ""},
    {"abc\r\n\xff", "abc\r\n"}, {".\xe9", ".."},
    {"a\r\xe9", "a\r\n"},
};

START_TEST(data_reject_8bit) {
  const bit8_case *c = &bit8_cases[_i];
  enc e;
  encode_every_way(tu_escape(c->in, strlen(c->in)), c->in, strlen(c->in), 1,
                   &e);
  ck_assert_int_eq(e.err, SMTPC_ERR_8BIT_UNSUPPORTED);
  ck_assert_int_eq(e.saw8bit, 1);
  TU_ASSERT_BYTES_STR(e.out.p, e.out.n, c->before);
  tu_bytes_free(&e.out);
  /* allowed: passes through, flagged */
  encode(c->in, strlen(c->in), 0, 40, 0, NULL, &e);
  ck_assert_int_eq(e.err, SMTPC_OK);
  ck_assert_int_eq(e.saw8bit, 1);
  tu_bytes_free(&e.out);
}
END_TEST

START_TEST(data_has_8bit) {
  ck_assert_int_eq(smtpc__has_8bit("", 0), 0);
  ck_assert_int_eq(smtpc__has_8bit("abc\r\n.\x7f\x01", 8), 0);
  ck_assert_int_eq(smtpc__has_8bit("\x80", 1), 1);
  ck_assert_int_eq(smtpc__has_8bit("abc\xff", 4), 1);
  ck_assert_int_eq(smtpc__has_8bit("abc\xff", 3), 0); /* length respected */
}
END_TEST

/* ---- line length
 * ------------------------------------------------------------------ */

typedef struct line_case {
  const char *name;
  const char *lead; /* before the run of x */
  size_t nx;        /* number of 'x' */
  const char *tail; /* after the run */
  int err;
} line_case;

static const line_case line_cases[] = {
    {"998 octets", "", 998, "\r\n", SMTPC_OK},
    {"999 octets", "", 999, "\r\n", SMTPC_ERR_BODY_LINE_TOO_LONG},
    {"998 octets, no line end", "", 998, "", SMTPC_OK},
    {"999 octets, no line end", "", 999, "", SMTPC_ERR_BODY_LINE_TOO_LONG},
    {"998 octets, bare LF", "", 998, "\n", SMTPC_OK},
    {"999 octets, bare LF", "", 999, "\n", SMTPC_ERR_BODY_LINE_TOO_LONG},
    {"998 octets, bare CR", "", 998, "\r", SMTPC_OK},
    {"999 octets, bare CR", "", 999, "\r", SMTPC_ERR_BODY_LINE_TOO_LONG},
    {"998 octets after a line", "short\n", 998, "\r\nnext\r\n", SMTPC_OK},
    {"999 octets after a line", "short\r", 999, "\r\n",
     SMTPC_ERR_BODY_LINE_TOO_LONG},
    /* RFC 5321 4.5.3.1.6: the dot added for transparency does not count */
    {"dot line of 997 octets", ".", 996, "\r\n", SMTPC_OK},
    {"dot line of 998 octets", ".", 997, "\r\n", SMTPC_OK},
    {"dot line of 999 octets", ".", 998, "\r\n", SMTPC_ERR_BODY_LINE_TOO_LONG},
    {"dot line of 998 octets after LF, no line end", "a\n.", 997, "", SMTPC_OK},
    {"dot line of 999 octets after CR, no line end", "a\r.", 998, "",
     SMTPC_ERR_BODY_LINE_TOO_LONG},
};

/* Content octets in the longest line of o (the last one may be
 * unterminated): a line of the output that starts with "." starts with a
 * stuffed dot, which is not content. */
static size_t longest_line(const tu_bytes *o) {
  size_t i, start = 0, longest = 0, len;
  for (i = 0; i <= o->n; i++)
    if (i == o->n || o->p[i] == '\r' || o->p[i] == '\n') {
      len = i - start;
      if (len > 0 && o->p[start] == '.')
        len--;
      if (len > longest)
        longest = len;
      start = i + 1;
    }
  return longest;
}

START_TEST(data_line_length) {
  const line_case *c = &line_cases[_i];
  tu_bytes in = {0};
  size_t i;
  enc e;
  tu_bytes_append_str(&in, c->lead);
  for (i = 0; i < c->nx; i++)
    tu_bytes_append(&in, "x", 1);
  tu_bytes_append_str(&in, c->tail);
  encode_every_way(c->name, in.p, in.n, 0, &e);
  TU_CHECK(e.err == c->err, "%s: error %d, expected %d", c->name, e.err,
           c->err);
  /* no output line has more than 998 content octets, even before an error */
  ck_assert_uint_le(longest_line(&e.out), 998);
  if (c->err == SMTPC_OK) {
    assert_no_bare_cr_lf(&e.out, c->name);
    assert_one_end(&e.out, c->name);
  } else {
    size_t at = 0;
    ck_assert_uint_eq(count_end_marks(&e.out, &at), 0);
  }
  tu_bytes_free(&e.out);
  tu_bytes_free(&in);
}
END_TEST

/* Encodes in[0..at) and then in[at..len), each piece fed until used up,
 * with output capacity cap; stops at the first error. */
static void encode_split(const unsigned char *in, size_t len, size_t at,
                         size_t cap, enc *res) {
  unsigned char *buf = malloc(cap), fin[5];
  size_t piece[3] = {0, at, len}, k, pos = 0;
  smtpc__dot d;
  ck_assert_ptr_nonnull(buf);
  memset(res, 0, sizeof(*res));
  smtpc__dot_init(&d, 0);
  for (k = 1; k < 3 && res->err == SMTPC_OK; k++) {
    while (pos < piece[k]) {
      size_t consumed = 777;
      smtpc_ssize r =
          smtpc__dot_encode(&d, in + pos, piece[k] - pos, buf, cap, &consumed);
      if (r < 0) {
        TU_CHECK(consumed == 0, "split %zu: consumed %zu on error", at,
                 consumed);
        res->err = (int)r;
        break;
      }
      TU_CHECK(r > 0 || consumed > 0, "split %zu, capacity %zu: no progress",
               at, cap);
      tu_bytes_append(&res->out, buf, (size_t)r);
      pos += consumed;
    }
  }
  if (res->err == SMTPC_OK)
    tu_bytes_append(&res->out, fin, smtpc__dot_finish(&d, fin));
  free(buf);
}

/* A line of 998 content octets that starts with "." is legal (999 on the
 * wire with the stuffed dot); 999 content octets are not.  Checked in one
 * call, one octet at a time, and at every split of the input into two
 * calls with output capacities about the line length (more, 3 and 4 too, at
 * the splits about the dot and the line's end); after each kind of line
 * end, and ended by CR LF or LF.  (The line table has them in chunks of
 * 1..17.) */
START_TEST(data_dot_line_limit) {
  static const char *const leads[] = {"", "a\r\n", "b\n", "c\r"};
  const char *lead = leads[_i % 4], *eol = _i < 4 ? "\r\n" : "\n";
  /* the first 3 at every split, all at the splits about the dot and end */
  static const size_t caps[] = {999, 1001, 4096, 3, 4, 997, 998, 1000, 1002};
  size_t nx, at, k, i, chunk;
  for (nx = 997; nx <= 998; nx++) {
    tu_bytes in = {0}, want = {0};
    int err = nx == 997 ? SMTPC_OK : SMTPC_ERR_BODY_LINE_TOO_LONG;
    enc e;
    tu_bytes_append_str(&in, lead);
    tu_bytes_append(&in, ".", 1);
    for (i = 0; i < nx; i++)
      tu_bytes_append(&in, "x", 1);
    tu_bytes_append_str(&in, eol);
    /* the lead normalised, the stuffed dot and 998 content octets */
    tu_bytes_append(&want, lead, strlen(lead) ? 1 : 0);
    if (strlen(lead))
      tu_bytes_append(&want, "\r\n", 2);
    tu_bytes_append(&want, "..", 2);
    for (i = 0; i < 997; i++)
      tu_bytes_append(&want, "x", 1);
    if (err == SMTPC_OK)
      tu_bytes_append(&want, "\r\n.\r\n", 5);
    for (chunk = 0; chunk <= 1; chunk++) {
      encode(in.p, in.n, chunk, chunk ? 40 : 4096, 0, NULL, &e);
      TU_CHECK(e.err == err, "%zu x after \"%s.\", chunk %zu: error %d", nx,
               tu_escape(lead, strlen(lead)), chunk, e.err);
      TU_ASSERT_BYTES(e.out.p, e.out.n, want.p, want.n);
      tu_bytes_free(&e.out);
    }
    for (at = 0; at <= in.n; at++) {
      int edge = at <= strlen(lead) + 3 || at + 5 >= in.n;
      for (k = 0; k < (edge ? sizeof(caps) / sizeof(caps[0]) : 3); k++) {
        char msg[2048];
        encode_split(in.p, in.n, at, caps[k], &e);
        TU_CHECK(e.err == err, "split at %zu, capacity %zu: error %d", at,
                 caps[k], e.err);
        if (tu_bytes_diff(msg, sizeof(msg), want.p, want.n, e.out.p, e.out.n))
          ck_abort_msg("split at %zu, capacity %zu:\n%s", at, caps[k], msg);
        tu_bytes_free(&e.out);
      }
    }
    tu_bytes_free(&in);
    tu_bytes_free(&want);
  }
}
END_TEST

/* ---- property: random bodies
 * ------------------------------------------------------- */

/* Reference encoder: normalise line ends, end with CRLF, stuff, terminate. */
static void ref_normalise(const unsigned char *in, size_t len, tu_bytes *out) {
  size_t i;
  for (i = 0; i < len; i++) {
    if (in[i] == '\r') {
      tu_bytes_append(out, "\r\n", 2);
      if (i + 1 < len && in[i + 1] == '\n')
        i++;
    } else if (in[i] == '\n') {
      tu_bytes_append(out, "\r\n", 2);
    } else {
      tu_bytes_append(out, in + i, 1);
    }
  }
  if (out->n > 0 && !(out->n >= 2 && out->p[out->n - 2] == '\r' &&
                      out->p[out->n - 1] == '\n'))
    tu_bytes_append(out, "\r\n", 2);
}

static void ref_encode(const tu_bytes *norm, tu_bytes *out) {
  size_t i;
  int bol = 1;
  for (i = 0; i < norm->n; i++) {
    if (bol && norm->p[i] == '.')
      tu_bytes_append(out, ".", 1);
    tu_bytes_append(out, norm->p + i, 1);
    bol = norm->p[i] == '\n';
  }
  tu_bytes_append(out, ".\r\n", 3);
}

/* Decoder: drop the final ".\r\n" and one leading dot of every line. */
static void unstuff(const tu_bytes *enc_out, tu_bytes *out) {
  size_t i, n = enc_out->n;
  int bol = 1;
  ck_assert_uint_ge(n, 3);
  TU_ASSERT_BYTES_STR(enc_out->p + n - 3, 3, ".\r\n");
  n -= 3;
  for (i = 0; i < n; i++) {
    if (!(bol && enc_out->p[i] == '.'))
      tu_bytes_append(out, enc_out->p + i, 1);
    bol = enc_out->p[i] == '\n';
  }
}

START_TEST(data_random_property) {
  static const char alphabet[] = "\r\n.\r\n.\r.\n..ab x\xe9";
  unsigned long seed = 20240601UL;
  int iter;
  for (iter = 0; iter < 2000; iter++) {
    unsigned char in[400];
    size_t len = rng_next(&seed) % sizeof(in), i;
    size_t cap = 3 + rng_next(&seed) % 62;
    int allow8 = (int)(rng_next(&seed) % 2);
    unsigned long chunks = rng_next(&seed);
    tu_bytes norm = {0}, ref = {0}, back = {0};
    enc e;
    char name[64];
    for (i = 0; i < len; i++) {
      in[i] = (unsigned char)alphabet[rng_next(&seed) % (sizeof(alphabet) - 1)];
      if (!allow8 && in[i] >= 0x80)
        in[i] = 'y';
    }
    snprintf(name, sizeof(name), "iteration %d", iter);
    encode(in, len, 0, cap, !allow8, &chunks, &e);
    TU_CHECK(e.err == SMTPC_OK, "%s: error %d", name, e.err);
    ck_assert_int_eq(e.saw8bit, smtpc__has_8bit(in, len));
    ref_normalise(in, len, &norm);
    ref_encode(&norm, &ref);
    {
      char msg[2048];
      if (tu_bytes_diff(msg, sizeof(msg), ref.p, ref.n, e.out.p, e.out.n))
        ck_abort_msg("%s (capacity %zu, input \"%s\"):\n%s", name, cap,
                     tu_escape(in, len), msg);
    }
    assert_no_bare_cr_lf(&e.out, name);
    assert_one_end(&e.out, name);
    unstuff(&e.out, &back);
    TU_ASSERT_BYTES(back.p, back.n, norm.p, norm.n);
    tu_bytes_free(&norm);
    tu_bytes_free(&ref);
    tu_bytes_free(&back);
    tu_bytes_free(&e.out);
  }
}
END_TEST

/* ---- differential: the encoder against a reference
 * ---------------------------------------- */

/* The rules one octet at a time over the whole input: CRLF for CR LF, bare
 * CR and bare LF; a dot before a "." that starts a line; an error at an
 * 8-bit octet when refused, or at the 999th content octet of a line (the
 * stuffed dot is not content); the line end if needed and "." CRLF only
 * without error.  Returns the error; out gets what is written before it. */
static int ref_dot(const unsigned char *in, size_t len, int reject8bit,
                   tu_bytes *out, int *saw8bit) {
  size_t i, linelen = 0;
  int bol = 1;
  *saw8bit = 0;
  for (i = 0; i < len; i++) {
    unsigned char c = in[i];
    if (c == '\r' || c == '\n') {
      tu_bytes_append(out, "\r\n", 2);
      if (c == '\r' && i + 1 < len && in[i + 1] == '\n')
        i++;
      bol = 1;
      linelen = 0;
      continue;
    }
    if (c & 0x80) {
      *saw8bit = 1;
      if (reject8bit)
        return SMTPC_ERR_8BIT_UNSUPPORTED;
    }
    if (linelen == 998)
      return SMTPC_ERR_BODY_LINE_TOO_LONG;
    if (bol && c == '.')
      tu_bytes_append(out, ".", 1);
    tu_bytes_append(out, &c, 1);
    bol = 0;
    linelen++;
  }
  if (!bol)
    tu_bytes_append(out, "\r\n", 2);
  tu_bytes_append(out, ".\r\n", 3);
  return SMTPC_OK;
}

/* Input pieces and output capacities: half the time 1..small, a quarter
 * large - 200 .. large (whole long lines), a quarter 1..large. */
static size_t rng_size(unsigned long *rng, size_t small, size_t large) {
  switch (rng_next(rng) % 4) {
  case 0: return large - rng_next(rng) % 200;
  case 1: return 1 + rng_next(rng) % large;
  default: return 1 + rng_next(rng) % small;
  }
}

/* Encodes with a random piece size and output capacity for every call;
 * the capacity is the end of a heap block, so an overrun is caught. */
static void encode_random(const unsigned char *in, size_t len, int reject8bit,
                          unsigned long *rng, enc *res) {
  enum { MAXCAP = 1100 };
  unsigned char *buf = malloc(MAXCAP), fin[5];
  smtpc__dot d;
  size_t pos = 0;
  ck_assert_ptr_nonnull(buf);
  memset(res, 0, sizeof(*res));
  smtpc__dot_init(&d, reject8bit);
  while (pos < len) {
    size_t n = rng_size(rng, 20, len + 200);
    size_t cap = 2 + rng_size(rng, 30, MAXCAP - 2);
    size_t consumed = 777;
    smtpc_ssize r;
    if (n > len - pos)
      n = len - pos;
    r = smtpc__dot_encode(&d, in + pos, n, buf + MAXCAP - cap, cap, &consumed);
    if (r < 0) {
      TU_CHECK(consumed == 0, "consumed %zu with error %ld", consumed, (long)r);
      res->err = (int)r;
      break;
    }
    TU_CHECK((size_t)r <= cap && consumed <= n,
             "wrote %ld of %zu, used %zu "
             "of %zu",
             (long)r, cap, consumed, n);
    TU_CHECK(r > 0 || consumed > 0, "no progress (capacity %zu)", cap);
    tu_bytes_append(&res->out, buf + MAXCAP - cap, (size_t)r);
    pos += consumed;
  }
  if (res->err == SMTPC_OK)
    tu_bytes_append(&res->out, fin, smtpc__dot_finish(&d, fin));
  res->saw8bit = d.saw8bit;
  free(buf);
}

/* Random bodies over {'.', CR, LF, 'a', 0x80} (a third of them without
 * 0x80, so that whole runs of lines take the fast path) with runs of
 * 990..1001 'a' (lines about the limit, with and without a leading dot):
 * output, error and saw8bit must be the reference's, whatever the pieces
 * and capacities. */
START_TEST(data_differential) {
  static const unsigned char alphabet[] = {'.', '\r', '\n', 'a', 0x80};
  unsigned long seed = 20261201UL;
  unsigned char in[4096];
  int iter;
  for (iter = 0; iter < 4000; iter++) {
    size_t len = 0, items = rng_next(&seed) % 200, k;
    size_t nalpha = sizeof(alphabet) - (iter % 3 == 0); /* 0x80 is last */
    int reject8bit = (int)(rng_next(&seed) % 2), ref_err, ref8;
    tu_bytes ref = {0};
    enc e;
    char msg[2048];
    for (k = 0; k < items; k++) {
      if (rng_next(&seed) % 30 == 0 && len + 1001 <= sizeof(in)) {
        size_t run = 990 + rng_next(&seed) % 12;
        memset(in + len, 'a', run);
        len += run;
      } else if (len < sizeof(in)) {
        in[len++] = alphabet[rng_next(&seed) % nalpha];
      }
    }
    ref_err = ref_dot(in, len, reject8bit, &ref, &ref8);
    for (k = 0; k < 3; k++) {
      encode_random(in, len, reject8bit, &seed, &e);
      if (tu_bytes_diff(msg, sizeof(msg), ref.p, ref.n, e.out.p, e.out.n))
        ck_abort_msg("iteration %d (%zu octets, reject8bit %d):\n%s", iter, len,
                     reject8bit, msg);
      TU_CHECK(e.err == ref_err && e.saw8bit == ref8,
               "iteration %d: error %d saw8bit %d, reference %d %d", iter,
               e.err, e.saw8bit, ref_err, ref8);
      tu_bytes_free(&e.out);
    }
    tu_bytes_free(&ref);
  }
}
END_TEST

static Suite *data_suite(void) {
  Suite *s = suite_create("data");
  TCase *tc = tcase_create("encode");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, data_table, 0,
                      (int)(sizeof(cases) / sizeof(cases[0])));
  tcase_add_test(tc, data_crlf_across_calls);
  tcase_add_test(tc, data_small_capacity);
  tcase_add_loop_test(tc, data_reject_8bit, 0,
                      (int)(sizeof(bit8_cases) / sizeof(bit8_cases[0])));
  tcase_add_test(tc, data_has_8bit);
  tcase_add_loop_test(tc, data_line_length, 0,
                      (int)(sizeof(line_cases) / sizeof(line_cases[0])));
  tcase_add_loop_test(tc, data_dot_line_limit, 0, 8);
  tcase_add_test(tc, data_random_property);
  tcase_add_test(tc, data_differential);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(data_suite());
  int failed;
  srunner_run_all(sr, CK_ENV);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
