/* SPDX-License-Identifier: MIT */
/* Unit tests for the EHLO capability parser (lib/ehlo.c).  Replies are
 * built with the real reply parser, with parser.enhanced off and on (the
 * capability parser reads the raw lines, so both must agree). */
#include "testutil.h"

#include "smtpc_int.h"

#include <stdlib.h>
#include <string.h>

static smtpc_reply *reply_from(const smtpc_mem *m, const char *s,
                               int enhanced) {
  smtpc__reply_parser p;
  smtpc_reply *r = NULL;
  size_t consumed, n = strlen(s);
  smtpc__reply_parser_init(&p, m);
  p.enhanced = enhanced;
  ck_assert_int_eq(
      smtpc__reply_parser_feed(&p, (const unsigned char *)s, n, &consumed), 1);
  ck_assert_uint_eq(consumed, n);
  ck_assert_int_eq(smtpc__reply_parser_take(&p, &r), SMTPC_OK);
  smtpc__reply_parser_free(&p);
  return r;
}

typedef struct kv {
  const char *kw;
  const char *params; /* NULL: keyword absent */
} kv;

typedef struct ehlo_case {
  const char *name;
  const char *in;
  unsigned flags;
  int64_t size;
  const char *auth; /* the merged mechanism list; NULL when no AUTH */
  size_t n;         /* entries in the keyword list */
  kv list[8];       /* the keyword list, in order */
  kv q[6];          /* smtpc__caps_params() queries and their answers */
} ehlo_case;

#define F_PIPE SMTPC__CAP_PIPELINING
#define F_SIZE SMTPC__CAP_SIZE
#define F_8BIT SMTPC__CAP_8BITMIME
#define F_AUTH SMTPC__CAP_AUTH
#define F_TLS SMTPC__CAP_STARTTLS
#define F_ENH SMTPC__CAP_ENHANCED

static const ehlo_case cases[] = {
    {"SIZE with a number",
     "250-mx.example Hello client.test\r\n250-SIZE 10240000\r\n"
     "250 PIPELINING\r\n",
     F_SIZE | F_PIPE,
     10240000,
     NULL,
     2,
     {{"SIZE", "10240000"}, {"PIPELINING", ""}},
     {{"size", "10240000"},
      {"PIPELINING", ""},
      {"AUTH", NULL},
      {"STARTTLS", NULL},
      {"mx.example", NULL}}},
    {"SIZE without a number (no limit)",
     "250-mx\r\n250 SIZE\r\n",
     F_SIZE,
     0,
     NULL,
     1,
     {{"SIZE", ""}},
     {{"SIZE", ""}}},
    {"SIZE 0 (no limit)",
     "250-mx\r\n250 SIZE 0\r\n",
     F_SIZE,
     0,
     NULL,
     1,
     {{"SIZE", "0"}},
     {{"SIZE", "0"}}},
    {"SIZE not a number (no stated limit)",
     "250-mx\r\n250 SIZE 10M\r\n",
     F_SIZE,
     0,
     NULL,
     1,
     {{"SIZE", "10M"}},
     {{"SIZE", "10M"}}},
    {"SIZE absurdly large (no stated limit)",
     "250-mx\r\n250 SIZE 99999999999999999999999\r\n",
     F_SIZE,
     0,
     NULL,
     1,
     {{"SIZE", "99999999999999999999999"}},
     {{"SIZE", "99999999999999999999999"}}},
    {"SIZE with 18 digits",
     "250-mx\r\n250 SIZE 922337203685477580\r\n",
     F_SIZE,
     INT64_C(922337203685477580),
     NULL,
     1,
     {{"SIZE", "922337203685477580"}},
     {{"SIZE", "922337203685477580"}}},
    {"no SIZE",
     "250-mx\r\n250 8BITMIME\r\n",
     F_8BIT,
     -1,
     NULL,
     1,
     {{"8BITMIME", ""}},
     {{"SIZE", NULL}, {"8bitmime", ""}}},
    {"common extensions",
     "250-mx\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-STARTTLS\r\n"
     "250 ENHANCEDSTATUSCODES\r\n",
     F_PIPE | F_8BIT | F_TLS | F_ENH,
     -1,
     NULL,
     4,
     {{"PIPELINING", ""},
      {"8BITMIME", ""},
      {"STARTTLS", ""},
      {"ENHANCEDSTATUSCODES", ""}},
     {{"starttls", ""}, {"EnhancedStatusCodes", ""}}},
    {"later extensions",
     "250-mx\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250 DSN\r\n",
     SMTPC__CAP_SMTPUTF8 | SMTPC__CAP_CHUNKING | SMTPC__CAP_DSN,
     -1,
     NULL,
     3,
     {{"SMTPUTF8", ""}, {"CHUNKING", ""}, {"DSN", ""}},
     {{"dsn", ""}}},
    {"AUTH",
     "250-mx\r\n250 AUTH PLAIN LOGIN\r\n",
     F_AUTH,
     -1,
     "PLAIN LOGIN",
     1,
     {{"AUTH", "PLAIN LOGIN"}},
     {{"AUTH", "PLAIN LOGIN"}, {"auth", "PLAIN LOGIN"}}},
    {"legacy AUTH= alone",
     "250-mx\r\n250 AUTH=LOGIN PLAIN\r\n",
     F_AUTH,
     -1,
     "LOGIN PLAIN",
     0,
     {{NULL, NULL}},
     {{"AUTH", "LOGIN PLAIN"}, {"AUTH=LOGIN", NULL}}},
    {"legacy AUTH= then AUTH",
     "250-mx\r\n250-AUTH=LOGIN PLAIN\r\n250 AUTH PLAIN CRAM-MD5\r\n",
     F_AUTH,
     -1,
     "LOGIN PLAIN CRAM-MD5",
     1,
     {{"AUTH", "PLAIN CRAM-MD5"}},
     {{"AUTH", "LOGIN PLAIN CRAM-MD5"}}},
    {"AUTH then legacy AUTH=",
     "250-mx\r\n250-AUTH PLAIN CRAM-MD5\r\n250 AUTH=LOGIN PLAIN\r\n",
     F_AUTH,
     -1,
     "PLAIN CRAM-MD5 LOGIN",
     1,
     {{"AUTH", "PLAIN CRAM-MD5"}},
     {{"Auth", "PLAIN CRAM-MD5 LOGIN"}}},
    {"AUTH lower case, duplicates, extra spaces",
     "250-mx\r\n250-auth plain  login plain\r\n250 AUTH=Login XOAUTH2 \r\n",
     F_AUTH,
     -1,
     "PLAIN LOGIN XOAUTH2",
     1,
     {{"AUTH", "plain  login plain"}},
     {{"AUTH", "PLAIN LOGIN XOAUTH2"}}},
    {"AUTH without mechanisms",
     "250-mx\r\n250 AUTH\r\n",
     F_AUTH,
     -1,
     "",
     1,
     {{"AUTH", ""}},
     {{"AUTH", ""}}},
    {"lower-case keywords",
     "250-mx\r\n250-size 1000\r\n250-pipelining\r\n250-8bitmime\r\n"
     "250-StartTLS\r\n250 enhancedstatuscodes\r\n",
     F_SIZE | F_PIPE | F_8BIT | F_TLS | F_ENH,
     1000,
     NULL,
     5,
     {{"SIZE", "1000"},
      {"PIPELINING", ""},
      {"8BITMIME", ""},
      {"STARTTLS", ""},
      {"ENHANCEDSTATUSCODES", ""}},
     {{"Size", "1000"}, {"STARTTLS", ""}}},
    {"unknown keywords",
     "250-mx\r\n250-X-FOO bar Baz\r\n250-XCLIENT NAME ADDR PROTO\r\n"
     "250-ETRN\r\n250 X-LINK2STATE\r\n",
     0,
     -1,
     NULL,
     4,
     {{"X-FOO", "bar Baz"},
      {"XCLIENT", "NAME ADDR PROTO"},
      {"ETRN", ""},
      {"X-LINK2STATE", ""}},
     {{"x-foo", "bar Baz"},
      {"Xclient", "NAME ADDR PROTO"},
      {"etrn", ""},
      {"x-link2state", ""},
      {"X-BAR", NULL},
      {"X-FO", NULL}}},
    {"junk lines ignored",
     "250-mx\r\n250-\r\n250- leading space\r\n250-=x\r\n250-BAD@KW y\r\n"
     "250--DASH\r\n250-SIZE\t100\r\n250-PIPE_LINING\r\n250 OK\r\n",
     0,
     -1,
     NULL,
     1,
     {{"OK", ""}},
     {{"SIZE", NULL}, {"BAD", NULL}, {"DASH", NULL}, {"OK", ""}}},
    {"one-line EHLO reply",
     "250 mx.example greets client.test\r\n",
     0,
     -1,
     NULL,
     0,
     {{NULL, NULL}},
     {{"mx.example", NULL}, {"SIZE", NULL}, {"AUTH", NULL}}},
    {"enhanced-code-like EHLO line is junk",
     "250-mx.example\r\n250-ENHANCEDSTATUSCODES\r\n250 2.0.0 SIZE 5\r\n",
     F_ENH,
     -1,
     NULL,
     1,
     {{"ENHANCEDSTATUSCODES", ""}},
     {{"SIZE", NULL}, {"2", NULL}}},
};

static void check_caps(const smtpc__caps *c, const ehlo_case *e,
                       const char *ctx) {
  size_t i;
  ck_assert_msg(c->flags == e->flags, "%s: flags 0x%x, expected 0x%x", ctx,
                c->flags, e->flags);
  ck_assert_msg(c->size == e->size, "%s: size %lld, expected %lld", ctx,
                (long long)c->size, (long long)e->size);
  if (e->auth == NULL)
    ck_assert_msg(c->auth == NULL, "%s: auth \"%s\", expected none", ctx,
                  c->auth);
  else
    ck_assert_msg(c->auth != NULL && strcmp(c->auth, e->auth) == 0,
                  "%s: auth \"%s\", expected \"%s\"", ctx,
                  c->auth ? c->auth : "(NULL)", e->auth);
  ck_assert_msg(c->n == e->n, "%s: %zu keywords, expected %zu", ctx, c->n,
                e->n);
  for (i = 0; i < e->n; i++) {
    ck_assert_msg(strcmp(c->list[i].keyword, e->list[i].kw) == 0,
                  "%s: keyword %zu is \"%s\", expected \"%s\"", ctx, i,
                  c->list[i].keyword, e->list[i].kw);
    ck_assert_msg(strcmp(c->list[i].params, e->list[i].params) == 0,
                  "%s: params of %s are \"%s\", expected \"%s\"", ctx,
                  e->list[i].kw, c->list[i].params, e->list[i].params);
  }
  for (i = 0; i < sizeof(e->q) / sizeof(e->q[0]) && e->q[i].kw; i++) {
    const char *got = smtpc__caps_params(c, e->q[i].kw);
    if (e->q[i].params == NULL)
      ck_assert_msg(got == NULL, "%s: params(\"%s\") = \"%s\", expected NULL",
                    ctx, e->q[i].kw, got);
    else
      ck_assert_msg(got != NULL && strcmp(got, e->q[i].params) == 0,
                    "%s: params(\"%s\") = \"%s\", expected \"%s\"", ctx,
                    e->q[i].kw, got ? got : "(NULL)", e->q[i].params);
  }
}

START_TEST(ehlo_table) {
  const ehlo_case *e = &cases[_i];
  int enhanced;
  for (enhanced = 0; enhanced <= 1; enhanced++) {
    tu_alloc a;
    smtpc__caps c;
    smtpc_reply *r;
    char ctx[160];
    snprintf(ctx, sizeof(ctx), "%s (enhanced %d)", e->name, enhanced);
    tu_alloc_init(&a, 0);
    memset(&c, 0, sizeof(c));
    r = reply_from(&a.mem, e->in, enhanced);
    ck_assert_int_eq(smtpc__caps_parse(&c, &a.mem, r), SMTPC_OK);
    check_caps(&c, e, ctx);
    /* parsing again (as after STARTTLS) replaces everything */
    ck_assert_int_eq(smtpc__caps_parse(&c, &a.mem, r), SMTPC_OK);
    check_caps(&c, e, ctx);
    smtpc__caps_clear(&c, &a.mem);
    smtpc__reply_free(&a.mem, r);
    TU_ASSERT_NO_LEAKS(&a);
  }
}
END_TEST

START_TEST(ehlo_clear_and_reuse) {
  tu_alloc a;
  smtpc__caps c;
  smtpc_reply *r1, *r2;
  tu_alloc_init(&a, 0);
  memset(&c, 0, sizeof(c));
  r1 = reply_from(&a.mem,
                  "250-mx\r\n250-SIZE 100\r\n250-AUTH=LOGIN\r\n"
                  "250-AUTH PLAIN\r\n250-X-ONE 1\r\n250 STARTTLS\r\n",
                  0);
  r2 = reply_from(&a.mem, "250-mx\r\n250 PIPELINING\r\n", 0);
  ck_assert_int_eq(smtpc__caps_parse(&c, &a.mem, r1), SMTPC_OK);
  ck_assert_str_eq(c.auth, "LOGIN PLAIN");
  ck_assert_int_eq(c.size, 100);
  ck_assert_uint_eq(c.n, 4);
  ck_assert_int_gt(a.live, 2);

  smtpc__caps_clear(&c, &a.mem);
  ck_assert_uint_eq(c.flags, 0);
  ck_assert_int_eq(c.size, -1);
  ck_assert_ptr_null(c.auth);
  ck_assert_ptr_null(c.list);
  ck_assert_uint_eq(c.n, 0);
  ck_assert_ptr_null(smtpc__caps_params(&c, "AUTH"));
  ck_assert_ptr_null(smtpc__caps_params(&c, "SIZE"));
  smtpc__caps_clear(&c, &a.mem); /* twice is fine */

  ck_assert_int_eq(smtpc__caps_parse(&c, &a.mem, r2), SMTPC_OK);
  ck_assert_uint_eq(c.flags, SMTPC__CAP_PIPELINING);
  ck_assert_int_eq(c.size, -1);
  ck_assert_ptr_null(c.auth);
  ck_assert_ptr_null(smtpc__caps_params(&c, "STARTTLS"));
  ck_assert_ptr_null(smtpc__caps_params(&c, "X-ONE"));
  ck_assert_str_eq(smtpc__caps_params(&c, "pipelining"), "");

  /* parse over a filled struct: the old capabilities are freed */
  ck_assert_int_eq(smtpc__caps_parse(&c, &a.mem, r1), SMTPC_OK);
  ck_assert_int_eq(smtpc__caps_parse(&c, &a.mem, r2), SMTPC_OK);
  ck_assert_uint_eq(c.flags, SMTPC__CAP_PIPELINING);
  ck_assert_ptr_null(c.auth);
  smtpc__caps_clear(&c, &a.mem);
  smtpc__reply_free(&a.mem, r1);
  smtpc__reply_free(&a.mem, r2);
  TU_ASSERT_NO_LEAKS(&a);
}
END_TEST

/* The greeting line alone: EHLO answered, nothing offered. */
START_TEST(ehlo_zeroed_struct) {
  smtpc_mem m;
  smtpc__caps c;
  smtpc_reply *r;
  smtpc__mem_init(&m, NULL);
  memset(&c, 0, sizeof(c));
  r = tu_reply_make(&m, 250, "mx.example");
  ck_assert_int_eq(smtpc__caps_parse(&c, &m, r), SMTPC_OK);
  ck_assert_uint_eq(c.flags, 0);
  ck_assert_int_eq(c.size, -1);
  ck_assert_uint_eq(c.n, 0);
  smtpc__caps_clear(&c, &m);
  smtpc__reply_free(&m, r);
}
END_TEST

static const char *const sweep_reply =
    "250-mx.example\r\n250-AUTH=LOGIN PLAIN\r\n250-SIZE 35882577\r\n"
    "250-auth plain cram-md5 xoauth2 oauthbearer scram-sha-1 digest-md5\r\n"
    "250-X-UNKNOWN a b c\r\n250-PIPELINING\r\n250 8BITMIME\r\n";

static int caps_scenario(tu_alloc *a, void *arg) {
  const smtpc_reply *r = arg;
  smtpc__caps c;
  int rv;
  memset(&c, 0, sizeof(c));
  rv = smtpc__caps_parse(&c, &a->mem, r);
  if (rv == SMTPC_OK) {
    ck_assert_str_eq(c.auth,
                     "LOGIN PLAIN CRAM-MD5 XOAUTH2 OAUTHBEARER SCRAM-SHA-1 "
                     "DIGEST-MD5");
    ck_assert_int_eq(c.size, 35882577);
    ck_assert_uint_eq(c.n, 5);
    ck_assert_str_eq(smtpc__caps_params(&c, "x-unknown"), "a b c");
  }
  smtpc__caps_clear(&c, &a->mem);
  return rv;
}

START_TEST(ehlo_nomem) {
  smtpc_mem m;
  smtpc_reply *r;
  long n;
  smtpc__mem_init(&m, NULL);
  r = reply_from(&m, sweep_reply, 0);
  n = tu_alloc_sweep(caps_scenario, r, 200);
  ck_assert_int_ge(n, 10); /* list, keywords, params, auth growth */
  smtpc__reply_free(&m, r);
}
END_TEST

static Suite *ehlo_suite(void) {
  Suite *s = suite_create("ehlo");
  TCase *tc = tcase_create("table");
  tcase_add_loop_test(tc, ehlo_table, 0,
                      (int)(sizeof(cases) / sizeof(cases[0])));
  suite_add_tcase(s, tc);
  tc = tcase_create("lifecycle");
  tcase_add_test(tc, ehlo_clear_and_reuse);
  tcase_add_test(tc, ehlo_zeroed_struct);
  tcase_add_test(tc, ehlo_nomem);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(ehlo_suite());
  int failed;
  srunner_run_all(sr, CK_ENV);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
