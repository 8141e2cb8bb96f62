/* SPDX-License-Identifier: MIT */
/* Unit tests for the command composer and argument validation
 * (lib/command.c): exact bytes, and nothing a caller passes can add a line
 * to the dialogue. */
#include "testutil.h"

#include "smtpc_int.h"

#include "ascii.h"
#include "domain.h"

#include <stdlib.h>
#include <string.h>

static const char PREFIX[] = "PREVIOUS\r\n";

/* A buffer already holding PREFIX, as when commands are pipelined. */
static void buf_start(smtpc__buf *b, const smtpc_mem *m) {
  memset(b, 0, sizeof(*b));
  ck_assert_int_eq(smtpc__buf_append_str(b, m, PREFIX), SMTPC_OK);
}

/* Asserts the buffer holds PREFIX followed by exactly `cmd`. */
static void buf_expect(const smtpc__buf *b, const char *cmd) {
  tu_bytes want = {0};
  tu_bytes_append_str(&want, PREFIX);
  tu_bytes_append_str(&want, cmd);
  TU_ASSERT_BYTES(smtpc__buf_head(b), smtpc__buf_avail(b), want.p, want.n);
  tu_bytes_free(&want);
}

/* ---- MAIL / RCPT exact bytes
 * --------------------------------------------------- */

typedef struct mail_case {
  const char *from;
  int64_t size;
  int body8bit;
  const char *want;
} mail_case;

static const mail_case mail_cases[] = {
    {"a@b.example", -1, 0, "MAIL FROM:<a@b.example>\r\n"},
    {"a@b.example", 12345, 0, "MAIL FROM:<a@b.example> SIZE=12345\r\n"},
    {"a@b.example", -1, 1, "MAIL FROM:<a@b.example> BODY=8BITMIME\r\n"},
    {"a@b.example", 12345, 1,
     "MAIL FROM:<a@b.example> SIZE=12345 BODY=8BITMIME\r\n"},
    {"a@b.example", 0, 0, "MAIL FROM:<a@b.example> SIZE=0\r\n"},
    {"a@b.example", INT64_MAX, 0,
     "MAIL FROM:<a@b.example> SIZE=9223372036854775807\r\n"},
    {"", -1, 0, "MAIL FROM:<>\r\n"},
    {"", 10, 1, "MAIL FROM:<> SIZE=10 BODY=8BITMIME\r\n"},
    {"\"john doe\"@example.org", -1, 0,
     "MAIL FROM:<\"john doe\"@example.org>\r\n"},
    {"\"a@b\"@c.example", -1, 0, "MAIL FROM:<\"a@b\"@c.example>\r\n"},
    {"\"a\\\"b\"@c.example", -1, 0, "MAIL FROM:<\"a\\\"b\"@c.example>\r\n"},
    {"a@[192.0.2.1]", -1, 0, "MAIL FROM:<a@[192.0.2.1]>\r\n"},
    {"a@[IPv6:2001:db8::1]", -1, 0, "MAIL FROM:<a@[IPv6:2001:db8::1]>\r\n"},
    {"!#$%&'*+-/=?^_`{|}~@example.org", -1, 0,
     "MAIL FROM:<!#$%&'*+-/=?^_`{|}~@example.org>\r\n"},
    {"first.last+tag@sub.example.co.uk", -1, 0,
     "MAIL FROM:<first.last+tag@sub.example.co.uk>\r\n"},
    {"a@localhost", -1, 0, "MAIL FROM:<a@localhost>\r\n"},
    {"x@123.45-6.example", -1, 0, "MAIL FROM:<x@123.45-6.example>\r\n"},
};

static const smtpc__mail_params *mail_params(int64_t size, int body8bit) {
  static smtpc__mail_params mp;
  memset(&mp, 0, sizeof(mp));
  mp.size = size;
  mp.body8bit = body8bit;
  return &mp;
}

START_TEST(cmd_mail_table) {
  const mail_case *c = &mail_cases[_i];
  tu_alloc a;
  smtpc__buf b;
  tu_alloc_init(&a, 0);
  buf_start(&b, &a.mem);
  ck_assert_int_eq(smtpc__check_mailbox(c->from, 1), SMTPC_OK);
  ck_assert_int_eq(
      smtpc__cmd_mail(&b, &a.mem, c->from, mail_params(c->size, c->body8bit)),
      SMTPC_OK);
  buf_expect(&b, c->want);
  smtpc__buf_free(&b, &a.mem);
  TU_ASSERT_NO_LEAKS(&a);
}
END_TEST

typedef struct rcpt_case {
  const char *to;
  const char *want;
} rcpt_case;

static const rcpt_case rcpt_cases[] = {
    {"c@d.example", "RCPT TO:<c@d.example>\r\n"},
    {"postmaster", "RCPT TO:<postmaster>\r\n"},
    {"PostMaster", "RCPT TO:<PostMaster>\r\n"},
    {"postmaster@d.example", "RCPT TO:<postmaster@d.example>\r\n"},
    {"\"john doe\"@example.org", "RCPT TO:<\"john doe\"@example.org>\r\n"},
    {"a@[192.0.2.1]", "RCPT TO:<a@[192.0.2.1]>\r\n"},
};

START_TEST(cmd_rcpt_table) {
  const rcpt_case *c = &rcpt_cases[_i];
  tu_alloc a;
  smtpc__buf b;
  tu_alloc_init(&a, 0);
  buf_start(&b, &a.mem);
  ck_assert_int_eq(smtpc__check_mailbox(c->to, 0), SMTPC_OK);
  ck_assert_int_eq(smtpc__cmd_rcpt(&b, &a.mem, c->to, 0, NULL), SMTPC_OK);
  buf_expect(&b, c->want);
  smtpc__buf_free(&b, &a.mem);
  TU_ASSERT_NO_LEAKS(&a);
}
END_TEST

START_TEST(cmd_pipelined_sequence) {
  tu_alloc a;
  smtpc__buf b;
  tu_alloc_init(&a, 0);
  memset(&b, 0, sizeof(b));
  ck_assert_int_eq(
      smtpc__cmd_mail(&b, &a.mem, "a@b.example", mail_params(42, 0)), SMTPC_OK);
  ck_assert_int_eq(smtpc__cmd_rcpt(&b, &a.mem, "c@d.example", 0, NULL),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc__cmd_rcpt(&b, &a.mem, "e@f.example", 0, NULL),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc__cmd_simple(&b, &a.mem, "DATA", NULL), SMTPC_OK);
  TU_ASSERT_BYTES_STR(smtpc__buf_head(&b), smtpc__buf_avail(&b),
                      "MAIL FROM:<a@b.example> SIZE=42\r\n"
                      "RCPT TO:<c@d.example>\r\n"
                      "RCPT TO:<e@f.example>\r\n"
                      "DATA\r\n");
  smtpc__buf_free(&b, &a.mem);
  TU_ASSERT_NO_LEAKS(&a);
}
END_TEST

/* ---- mailbox rejections
 * ------------------------------------------------------- */

static const char *const bad_addresses[] = {
    "a\rb@c.example",
    "a\nb@c.example",
    "a@b\r\nRCPT TO:<x@y>",
    "a@b.example\r\n",
    "a@b.example\n",
    "a@b.example\r",
    "a@b.example>\r\nDATA",
    "a\0b@c.example", /* C string: "a", no '@' */
    "a b@c.example",
    "a@b .example",
    " a@b.example",
    "a@b.example ",
    "a\t@b.example",
    "<a@b.example>",
    "a@b.example>",
    "a@",
    "@b.example",
    "@",
    "a@b..c",
    "a@-b.example",
    "a@b-.example",
    "a@b.example-",
    "a@.b.example",
    "a@b.example.",
    "a@b_c.example",
    "a@b\x7f.example",
    ".a@b.example",
    "a.@b.example",
    "a..b@c.example",
    "ab.example",
    "a@b@c.example",
    "a(comment)@b.example",
    "a,b@c.example",
    /* UTF-8 is allowed (RFC 6531 3.3), but only well formed and without
     * control characters */
    "j\xc3r\xc3\xb4me@example.org", /* truncated sequence */
    "\xc0\xaf"
    "a@example.org",                 /* overlong "/" */
    "a\xed\xa0\x80@example.org",     /* surrogate */
    "a\xf4\x90\x80\x80@example.org", /* above U+10FFFF */
    "a\xc2\x85"
    "b@example.org",                /* C1 control NEL */
    "a@ex\xc3\xa4mple.org\xc3",     /* truncated at the end */
    "a@ex\xe2\x80\xa8mple.org\xff", /* 0xFF */
    "a@b.\x80",
    "a@[192.0.2.1",
    "a@[]",
    "a@[1.2\\3.4]",
    "a@[1.2 3.4]",
    "a@[1.2]3.4]",
    "a@192.0.2.1]",
    "\"unterminated@b.example",
    "\"a\"b\"@c.example",
    "\"a\\\"@c.example",
    "\"a\rb\"@c.example",
    "\"a\\\rb\"@c.example",
    "\"a\nb\"@c.example",
    "postmaster@", /* not the special form */
    "<>",
};

/* Long forms, built at run time. */
enum { LONG_LABEL, LONG_LOCAL, LONG_PATH, LONG_COUNT };

static char *long_address(int which, int over) {
  tu_bytes b = {0};
  size_t i;
  switch (which) {
  case LONG_LABEL: /* label of 63 (ok) or 64 octets */
    tu_bytes_append_str(&b, "a@");
    for (i = 0; i < 63u + (size_t)over; i++)
      tu_bytes_append(&b, "l", 1);
    tu_bytes_append_str(&b, ".example");
    break;
  case LONG_LOCAL: /* local part of 64 (ok) or 65 octets */
    for (i = 0; i < 64u + (size_t)over; i++)
      tu_bytes_append(&b, "p", 1);
    tu_bytes_append_str(&b, "@b.example");
    break;
  default: /* whole path of 254 (ok) or 255 octets */
    for (i = 0; i < 64; i++)
      tu_bytes_append(&b, "p", 1);
    tu_bytes_append(&b, "@", 1);
    while (b.n < 254u + (size_t)over) {
      size_t room = 254u + (size_t)over - b.n;
      if (room <= 63) { /* the last label: never end on a dot */
        for (i = 0; i < room; i++)
          tu_bytes_append(&b, "d", 1);
        break;
      }
      for (i = 0; i < 60; i++)
        tu_bytes_append(&b, "d", 1);
      tu_bytes_append(&b, ".", 1);
    }
    ck_assert_uint_eq(b.n, 254u + (size_t)over);
    ck_assert_int_ne(b.p[b.n - 1], '.');
  }
  return (char *)b.p;
}

/* smtpc_session_queue() refuses what smtpc__check_mailbox() refuses, so no
 * MAIL or RCPT command is ever composed from it. */
static void expect_rejected(const char *addr, const char *what) {
  int is_from;
  for (is_from = 0; is_from <= 1; is_from++) {
    ck_assert_msg(smtpc__check_mailbox(addr, is_from) == SMTPC_ERR_BAD_ADDRESS,
                  "%s \"%s\" accepted (is_from %d)", what,
                  tu_escape(addr, strlen(addr)), is_from);
  }
}

START_TEST(cmd_bad_address_table) {
  expect_rejected(bad_addresses[_i], "address");
}
END_TEST

START_TEST(cmd_length_limits) {
  int which;
  for (which = 0; which < LONG_COUNT; which++) {
    char *ok = long_address(which, 0), *over = long_address(which, 1);
    tu_alloc a;
    smtpc__buf b;
    tu_bytes want = {0};
    ck_assert_msg(smtpc__check_mailbox(ok, 1) == SMTPC_OK,
                  "limit %d: longest valid form rejected: %s", which, ok);
    ck_assert_int_eq(smtpc__check_mailbox(ok, 0), SMTPC_OK);
    tu_alloc_init(&a, 0);
    memset(&b, 0, sizeof(b));
    ck_assert_int_eq(smtpc__cmd_rcpt(&b, &a.mem, ok, 0, NULL), SMTPC_OK);
    tu_bytes_append_str(&want, "RCPT TO:<");
    tu_bytes_append_str(&want, ok);
    tu_bytes_append_str(&want, ">\r\n");
    TU_ASSERT_BYTES(smtpc__buf_head(&b), smtpc__buf_avail(&b), want.p, want.n);
    tu_bytes_free(&want);
    smtpc__buf_free(&b, &a.mem);
    TU_ASSERT_NO_LEAKS(&a);
    expect_rejected(over, "over-long address");
    free(ok);
    free(over);
  }
}
END_TEST

START_TEST(cmd_null_and_special_paths) {
  ck_assert_int_eq(smtpc__check_mailbox(NULL, 0), SMTPC_ERR_BAD_ADDRESS);
  ck_assert_int_eq(smtpc__check_mailbox(NULL, 1), SMTPC_ERR_BAD_ADDRESS);
  /* "" is the null reverse-path: MAIL only */
  ck_assert_int_eq(smtpc__check_mailbox("", 1), SMTPC_OK);
  ck_assert_int_eq(smtpc__check_mailbox("", 0), SMTPC_ERR_BAD_ADDRESS);
  /* "postmaster" without a domain: RCPT only (RFC 5321 4.1.1.3) */
  ck_assert_int_eq(smtpc__check_mailbox("postmaster", 0), SMTPC_OK);
  ck_assert_int_eq(smtpc__check_mailbox("POSTMASTER", 0), SMTPC_OK);
  ck_assert_int_eq(smtpc__check_mailbox("postmaster", 1),
                   SMTPC_ERR_BAD_ADDRESS);
  ck_assert_int_eq(smtpc__check_mailbox("postmasters", 0),
                   SMTPC_ERR_BAD_ADDRESS);
}
END_TEST

/* ---- command arguments
 * --------------------------------------------------------- */

typedef struct arg_case {
  const char *arg;
  int allow_space;
  int want;
} arg_case;

static const arg_case arg_cases[] = {
    {"client.test", 0, SMTPC_OK},
    {"[192.0.2.1]", 0, SMTPC_OK},
    {"[IPv6:2001:db8::1]", 0, SMTPC_OK},
    {"~!@#$%^&*()_+{}|:<>?", 0, SMTPC_OK},
    {"John Smith", 1, SMTPC_OK},
    {"John Smith", 0, SMTPC_ERR_BAD_ARGUMENT},
    {" ", 1, SMTPC_OK},
    {"", 0, SMTPC_ERR_BAD_ARGUMENT},
    {"", 1, SMTPC_ERR_BAD_ARGUMENT},
    {NULL, 1, SMTPC_ERR_BAD_ARGUMENT},
    {"a\r", 1, SMTPC_ERR_BAD_ARGUMENT},
    {"a\n", 1, SMTPC_ERR_BAD_ARGUMENT},
    {"a\rb", 1, SMTPC_ERR_BAD_ARGUMENT},
    {"client.test\r\nMAIL FROM:<x@y>", 1, SMTPC_ERR_BAD_ARGUMENT},
    {"\r\n", 1, SMTPC_ERR_BAD_ARGUMENT},
    {"a\tb", 1, SMTPC_ERR_BAD_ARGUMENT},
    {"a\x01", 1, SMTPC_ERR_BAD_ARGUMENT},
    {"\x1f", 1, SMTPC_ERR_BAD_ARGUMENT},
    {"a\x7f", 1, SMTPC_ERR_BAD_ARGUMENT},
    {"a\x1b[31m", 1, SMTPC_ERR_BAD_ARGUMENT},
};

START_TEST(cmd_check_arg_table) {
  const arg_case *c = &arg_cases[_i];
  ck_assert_msg(smtpc__check_arg(c->arg, c->allow_space) == c->want,
                "check_arg(\"%s\", %d) = %d, expected %d",
                c->arg ? tu_escape(c->arg, strlen(c->arg)) : "(NULL)",
                c->allow_space, smtpc__check_arg(c->arg, c->allow_space),
                c->want);
}
END_TEST

START_TEST(cmd_check_arg_length) {
  char s[502];
  memset(s, 'x', sizeof(s));
  s[500] = '\0';
  ck_assert_int_eq(smtpc__check_arg(s, 0), SMTPC_OK);
  s[500] = 'x';
  s[501] = '\0';
  ck_assert_int_eq(smtpc__check_arg(s, 0), SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc__check_arg(s, 1), SMTPC_ERR_BAD_ARGUMENT);
}
END_TEST

typedef struct simple_case {
  const char *verb;
  const char *arg;
  int want_rv;
  const char *want; /* appended bytes */
} simple_case;

static const simple_case simple_cases[] = {
    {"EHLO", "client.test", SMTPC_OK, "EHLO client.test\r\n"},
    {"HELO", "[192.0.2.1]", SMTPC_OK, "HELO [192.0.2.1]\r\n"},
    {"QUIT", NULL, SMTPC_OK, "QUIT\r\n"},
    {"DATA", NULL, SMTPC_OK, "DATA\r\n"},
    {"STARTTLS", NULL, SMTPC_OK, "STARTTLS\r\n"},
    {"VRFY", "John Smith", SMTPC_OK, "VRFY John Smith\r\n"},
    {"VRFY", "a\r\nDATA", SMTPC_ERR_BAD_ARGUMENT, ""},
    {"VRFY", "a\nb", SMTPC_ERR_BAD_ARGUMENT, ""},
    {"EHLO", "", SMTPC_ERR_BAD_ARGUMENT, ""},
    {"EHLO", "x\x01", SMTPC_ERR_BAD_ARGUMENT, ""},
};

START_TEST(cmd_simple_table) {
  const simple_case *c = &simple_cases[_i];
  tu_alloc a;
  smtpc__buf b;
  tu_alloc_init(&a, 0);
  buf_start(&b, &a.mem);
  ck_assert_int_eq(smtpc__cmd_simple(&b, &a.mem, c->verb, c->arg), c->want_rv);
  buf_expect(&b, c->want);
  smtpc__buf_free(&b, &a.mem);
  TU_ASSERT_NO_LEAKS(&a);
}
END_TEST

START_TEST(cmd_simple_long_arg) {
  tu_alloc a;
  smtpc__buf b;
  char s[502];
  tu_alloc_init(&a, 0);
  memset(s, 'v', sizeof(s));
  s[501] = '\0';
  buf_start(&b, &a.mem);
  ck_assert_int_eq(smtpc__cmd_simple(&b, &a.mem, "VRFY", s),
                   SMTPC_ERR_BAD_ARGUMENT);
  buf_expect(&b, "");
  s[500] = '\0';
  ck_assert_int_eq(smtpc__cmd_simple(&b, &a.mem, "VRFY", s), SMTPC_OK);
  ck_assert_uint_eq(smtpc__buf_avail(&b), strlen(PREFIX) + 5 + 500 + 2);
  smtpc__buf_free(&b, &a.mem);
  TU_ASSERT_NO_LEAKS(&a);
}
END_TEST

/* ---- allocation failures
 * -------------------------------------------------------- */

static int cmd_scenario(tu_alloc *a, void *arg) {
  const char *from = arg;
  smtpc__buf b;
  int rv;
  memset(&b, 0, sizeof(b));
  if ((rv = smtpc__cmd_mail(&b, &a->mem, from, mail_params(1000, 1))) ==
          SMTPC_OK &&
      (rv = smtpc__cmd_rcpt(&b, &a->mem, from, 0, NULL)) == SMTPC_OK &&
      (rv = smtpc__cmd_simple(&b, &a->mem, "DATA", NULL)) == SMTPC_OK)
    ck_assert_uint_eq(smtpc__buf_avail(&b),
                      2 * strlen(from) + strlen("MAIL FROM:<> SIZE=1000 "
                                                "BODY=8BITMIME\r\nRCPT TO:<>"
                                                "\r\nDATA\r\n"));
  smtpc__buf_free(&b, &a->mem);
  return rv;
}

START_TEST(cmd_nomem) {
  char *addr = long_address(LONG_PATH, 0); /* makes the buffer grow */
  ck_assert_int_ge(tu_alloc_sweep(cmd_scenario, addr, 50), 2);
  free(addr);
}
END_TEST

/* ---- domain names and literals
 * ---------------------------------------------------------- */

typedef struct domain_case {
  const char *d;
  int rfc5321; /* flags 0 */
  int literal; /* SMTPC__DOM_LITERAL (MAIL/RCPT) */
  int ehlo;    /* SMTPC__DOM_HOSTNAME | SMTPC__DOM_FQDN (gethostname) */
} domain_case;

static const domain_case domain_cases[] = {
    {"example.org", 1, 1, 1},
    {"mx-1.example.org", 1, 1, 1},
    {"localhost", 1, 1, 0},
    {"LOCALHOST.localdomain", 1, 1, 0},
    {"localhostx.example", 1, 1, 1},
    {"host", 1, 1, 0},
    {"-a.example", 0, 0, 1}, /* hyphen at a label edge: only hostnames */
    {"a-.example", 0, 0, 1},
    {"a.example-", 0, 0, 1},
    {"a..example", 0, 0, 0},
    {".a.example", 0, 0, 0},
    {"a.example.", 0, 0, 0},
    {"a_b.example", 0, 0, 0},
    {"a b.example", 0, 0, 0},
    {"", 0, 0, 0},
    {"[192.0.2.1]", 0, 1, 0},
    {"[IPv6:2001:db8::1]", 0, 1, 0},
    {"[]", 0, 0, 0},
    {"[1.2\\3.4]", 0, 0, 0},
    {"[1.2.3.4", 0, 0, 0},
};

START_TEST(domain_flags) {
  const domain_case *c = &domain_cases[_i];
  size_t n = strlen(c->d);
  ck_assert_msg(smtpc__check_domain(c->d, n, 0) == c->rfc5321, "%s", c->d);
  ck_assert_msg(smtpc__check_domain(c->d, n, SMTPC__DOM_LITERAL) == c->literal,
                "%s", c->d);
  ck_assert_msg(smtpc__check_domain(
                    c->d, n, SMTPC__DOM_HOSTNAME | SMTPC__DOM_FQDN) == c->ehlo,
                "%s", c->d);
  ck_assert_int_eq(smtpc__platform_name_ok(c->d), c->ehlo);
}
END_TEST

START_TEST(domain_lengths) {
  char d[300];
  /* labels of 63, 63, 63 and 61 octets: 253 in all */
  memset(d, 'a', sizeof(d));
  d[63] = d[127] = d[191] = '.';
  d[253] = '\0';
  ck_assert_int_eq(smtpc__check_domain(d, 253, 0), 1);
  ck_assert_int_eq(smtpc__platform_name_ok(d), 1);
  d[253] = 'a';
  d[254] = '\0';
  ck_assert_int_eq(smtpc__check_domain(d, 254, 0), 1);
  ck_assert_int_eq(smtpc__platform_name_ok(d), 0); /* 253 at most */
  d[254] = d[255] = 'a';
  d[256] = '\0';
  ck_assert_int_eq(smtpc__check_domain(d, 255, 0), 1);
  ck_assert_int_eq(smtpc__check_domain(d, 256, 0), 0); /* 255 at most */
  memset(d, 'a', 64);
  d[64] = '\0';
  ck_assert_int_eq(smtpc__check_domain(d, 63, 0), 1);
  ck_assert_int_eq(smtpc__check_domain(d, 64, 0), 0); /* a label of 64 */
  ck_assert_int_eq(smtpc__platform_name_ok(NULL), 0);
}
END_TEST

START_TEST(literal_frame) {
  ck_assert_int_eq(smtpc__check_literal("[]", 2), 1); /* RFC 5322 allows */
  ck_assert_int_eq(smtpc__check_literal("[a]", 3), 1);
  ck_assert_int_eq(smtpc__check_literal("[", 1), 0);
  ck_assert_int_eq(smtpc__check_literal("[a", 2), 0);
  ck_assert_int_eq(smtpc__check_literal("a]", 2), 0);
  ck_assert_int_eq(smtpc__check_literal("[a]b", 4), 0);
  ck_assert_int_eq(smtpc__check_literal("[[]", 3), 0);
  ck_assert_int_eq(smtpc__check_literal("[a b]", 5), 0);
  ck_assert_int_eq(smtpc__check_literal("[\x7f]", 3), 0);
  ck_assert_int_eq(smtpc__check_literal("[\xc3\xa9]", 4), 0);
}
END_TEST

/* ---- lib/ascii.h
 * ---------------------------------------------------------------- */

/* Every octet against the classes written out from the RFCs. */
START_TEST(ascii_classes) {
  static const char atext_extra[] = "!#$%&'*+-/=?^_`{|}~";
  static const char hexu[] = "0123456789ABCDEF", hexl[] = "0123456789abcdef";
  int c;
  for (c = 0; c < 256; c++) {
    int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    int digit = c >= '0' && c <= '9';
    int atext =
        alpha || digit || (c != 0 && c < 128 && strchr(atext_extra, c) != NULL);
    const char *h = c != 0 && c < 128 ? strchr(hexu, c) : NULL;
    const char *hl = c != 0 && c < 128 ? strchr(hexl, c) : NULL;
    int hexval = h != NULL    ? (int)(h - hexu)
                 : hl != NULL ? (int)(hl - hexl)
                              : -1;
    ck_assert_msg(smtpc__isalpha(c) == alpha, "isalpha(%d)", c);
    ck_assert_msg(smtpc__isdigit(c) == digit, "isdigit(%d)", c);
    ck_assert_msg(smtpc__isalnum(c) == (alpha || digit), "isalnum(%d)", c);
    ck_assert_msg(smtpc__isatext(c) == atext, "isatext(%d)", c);
    ck_assert_msg(smtpc__isws(c) == (c == ' ' || c == '\t'), "isws(%d)", c);
    ck_assert_int_eq(smtpc__tolower(c),
                     (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
    ck_assert_int_eq(smtpc__toupper(c),
                     (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c);
    ck_assert_msg(smtpc__hexval(c) == hexval, "hexval(%d)", c);
  }
  for (c = 0; c < 16; c++) {
    ck_assert_int_eq(smtpc__hexdigit((unsigned)c), hexu[c]);
    ck_assert_int_eq(smtpc__hexdigit_lower((unsigned)c), hexl[c]);
    ck_assert_int_eq(smtpc__hexdigit((unsigned)c + 16), hexu[c]);
  }
}
END_TEST

static Suite *command_suite(void) {
  Suite *s = suite_create("command");
  TCase *tc = tcase_create("compose");
  tcase_add_loop_test(tc, cmd_mail_table, 0,
                      (int)(sizeof(mail_cases) / sizeof(mail_cases[0])));
  tcase_add_loop_test(tc, cmd_rcpt_table, 0,
                      (int)(sizeof(rcpt_cases) / sizeof(rcpt_cases[0])));
  tcase_add_test(tc, cmd_pipelined_sequence);
  tcase_add_loop_test(tc, cmd_simple_table, 0,
                      (int)(sizeof(simple_cases) / sizeof(simple_cases[0])));
  tcase_add_test(tc, cmd_simple_long_arg);
  tcase_add_test(tc, cmd_nomem);
  suite_add_tcase(s, tc);

  tc = tcase_create("validate");
  tcase_add_loop_test(tc, cmd_bad_address_table, 0,
                      (int)(sizeof(bad_addresses) / sizeof(bad_addresses[0])));
  tcase_add_test(tc, cmd_length_limits);
  tcase_add_test(tc, cmd_null_and_special_paths);
  tcase_add_loop_test(tc, cmd_check_arg_table, 0,
                      (int)(sizeof(arg_cases) / sizeof(arg_cases[0])));
  tcase_add_test(tc, cmd_check_arg_length);
  tcase_add_loop_test(tc, domain_flags, 0,
                      (int)(sizeof(domain_cases) / sizeof(domain_cases[0])));
  tcase_add_test(tc, domain_lengths);
  tcase_add_test(tc, literal_frame);
  tcase_add_test(tc, ascii_classes);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(command_suite());
  int failed;
  srunner_run_all(sr, CK_ENV);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
