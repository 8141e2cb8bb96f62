/* SPDX-License-Identifier: MIT */
/* Internationalised mail and delivery status notifications: SMTPUTF8
 * (RFC 6531), IDNA A-labels for a server without it, DSN (RFC 3461) with
 * xtext and the RFC 6533 utf-8 address forms.
 *
 * The encoders are checked against literal outputs; the engine through the
 * scripted transport (tests/testutil.h), asserting the exact bytes sent, in
 * every transport mode where the dialogue allows it. */
#include "testutil.h"

#include "smtpc_int.h"

#include <smtpc/smtpc.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GREETING "220 mx.example ESMTP ready\r\n"
#define EHLO_CMD "EHLO client.test\r\n"
#define EHLO_HEAD                                                              \
  "250-mx.example hello\r\n250-PIPELINING\r\n250-SIZE 100000\r\n"              \
  "250-8BITMIME\r\n"
#define EHLO_TAIL "250 ENHANCEDSTATUSCODES\r\n"
/* SMTPUTF8 and DSN, each of them, neither */
#define EHLO_ALL EHLO_HEAD "250-SMTPUTF8\r\n250-DSN\r\n" EHLO_TAIL
#define EHLO_UTF8 EHLO_HEAD "250-SMTPUTF8\r\n" EHLO_TAIL
#define EHLO_DSN EHLO_HEAD "250-DSN\r\n" EHLO_TAIL
#define EHLO_NONE EHLO_HEAD EHLO_TAIL

#define BODY "Subject: t\r\n\r\nhello\r\n"                   /* 21 */
#define BODY_HDR8 "Subject: caf\xc3\xa9\r\n\r\nhello\r\n"    /* 25 */
#define BODY_BODY8 "Subject: t\r\n\r\ncaf\xc3\xa9\r\n"       /* 21 */
#define BODY_TO8 "To: j\xc3\xb6rg@example.com\r\n\r\nhi\r\n" /* 29 */

/* UTF-8 addresses */
#define JOERG "j\xc3\xb6rg@example.com"               /* local part */
#define TANAKA "\xe7\x94\xb0\xe4\xb8\xad@example.org" /* local part */
#define BUECHER                                                                \
  "info@b\xc3\xbc"                                                             \
  "cher.example" /* domain only */
#define BUECHER_A "info@xn--bcher-kva.example"
#define MUENCHEN "bob@m\xc3\xbcnchen.example"
#define MUENCHEN_A "bob@xn--mnchen-3ya.example"

typedef tu_fx fixture; /* tests/testutil.h */
#define fx_init tu_fx_init
#define fx_fini tu_fx_fini
#define fx_open tu_fx_open
#define fx_run tu_fx_run
#define fx_noop tu_fx_noop

static smtpc_txn *fx_queue_type(fixture *f, const char *from,
                                const char *const *to, size_t n,
                                const char *body, smtpc_body_type type) {
  smtpc_body b;
  smtpc_txn *t = NULL;
  smtpc_body_init_memory(&b, body, strlen(body));
  b.type = type;
  ck_assert_int_eq(smtpc_session_queue(f->s, from, to, n, &b, &t), SMTPC_OK);
  return t;
}

static smtpc_txn *fx_queue(fixture *f, const char *from, const char *const *to,
                           size_t n, const char *body) {
  return fx_queue_type(f, from, to, n, body, SMTPC_BODY_AUTO);
}

static void script_open(ts *t, const char *ehlo) {
  ts_server(t, GREETING);
  ts_client(t, EHLO_CMD);
  ts_server(t, ehlo);
}

/* The accepted tail of a one-message dialogue: replies to MAIL, n RCPT and
 * DATA, the body, its 250. */
static void script_accept(ts *t, size_t nrcpt, const char *body) {
  size_t i;
  ts_server(t, "250 2.1.0 Ok\r\n");
  for (i = 0; i < nrcpt; i++)
    ts_server(t, "250 2.1.5 Ok\r\n");
  ts_server(t, "354 go\r\n");
  ts_client(t, body);
  ts_client(t, ".\r\n");
  ts_server(t, "250 2.0.0 Ok: queued as Q1\r\n");
}

/* ---- xtext (RFC 3461 4) ---------------------------------------------------
 */

static const char *xt(const char *s) {
  static char out[3 * 300 + 1];
  size_t n = smtpc__xtext(out, s, strlen(s));
  ck_assert_uint_eq(n, strlen(out));
  return out;
}

START_TEST(test_xtext_table) {
  char in[256], out[3 * 256 + 1], want[8];
  size_t i, n;
  /* every printable character but '+' and '=' stands for itself */
  for (i = 0; i < 94; i++)
    in[i] = (char)('!' + i);
  n = smtpc__xtext(out, in, 94);
  TU_ASSERT_BYTES_STR(out, n,
                      "!\"#$%&'()*+2B,-./0123456789:;<+3D>?@"
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
                      "abcdefghijklmnopqrstuvwxyz{|}~");
  ck_assert_uint_eq(n, 94 + 4);
  ck_assert_int_eq(out[n], '\0');
  /* and every octet on its own: upper-case "+HH" outside '!'..'~' */
  for (i = 0; i < 256; i++) {
    char c = (char)i;
    n = smtpc__xtext(out, &c, 1);
    if (i >= '!' && i <= '~' && i != '+' && i != '=')
      snprintf(want, sizeof(want), "%c", (int)i);
    else
      snprintf(want, sizeof(want), "+%02X", (unsigned)i);
    TU_CHECK(n == strlen(want) && memcmp(out, want, n) == 0 && out[n] == 0,
             "xtext(0x%02zx) = \"%s\", want \"%s\"", i, out, want);
  }
  ck_assert_str_eq(xt("a+b=c d"), "a+2Bb+3Dc+20d");
  ck_assert_str_eq(xt("\x01\t\x1f\x7f\x80\xc3\xa9\xff"),
                   "+01+09+1F+7F+80+C3+A9+FF");
  ck_assert_str_eq(xt(" "), "+20");
  ck_assert_str_eq(xt("++"), "+2B+2B");
  ck_assert_str_eq(xt(""), "");
  /* NUL inside the given length is encoded too */
  n = smtpc__xtext(out, "a\0b", 3);
  TU_ASSERT_BYTES_STR(out, n, "a+00b");
}
END_TEST

/* ---- utf-8-addr-xtext / unitext (RFC 6533 3) ------------------------------
 */

static const char *ux(const char *s, int raw) {
  static char out[10 * 300 + 1];
  size_t n = smtpc__utf8_addr_xtext(out, s, strlen(s), raw);
  ck_assert_uint_eq(n, strlen(out));
  return out;
}

START_TEST(test_utf8_addr_xtext) {
  char out[64];
  ck_assert_str_eq(ux("\xc3\xa9", 0), "\\x{E9}");
  ck_assert_str_eq(ux("\xe2\x82\xac", 0), "\\x{20AC}");
  ck_assert_str_eq(ux("\xf0\x9f\x98\x80", 0), "\\x{1F600}");
  ck_assert_str_eq(ux("\xc4\x80", 0), "\\x{100}");
  ck_assert_str_eq(ux("\xef\xbf\xbf", 0), "\\x{FFFF}");
  ck_assert_str_eq(ux("\xf0\x90\x80\x80", 0), "\\x{10000}");
  ck_assert_str_eq(ux("\xf4\x8f\xbf\xbf", 0), "\\x{10FFFF}");
  /* '+', '=', '\' and space are never QCHARs, in either form */
  ck_assert_str_eq(ux("+", 0), "\\x{2B}");
  ck_assert_str_eq(ux("=", 0), "\\x{3D}");
  ck_assert_str_eq(ux("\\", 0), "\\x{5C}");
  ck_assert_str_eq(ux(" ", 0), "\\x{20}");
  ck_assert_str_eq(ux("+", 1), "\\x{2B}");
  ck_assert_str_eq(ux("=", 1), "\\x{3D}");
  ck_assert_str_eq(ux("\\", 1), "\\x{5C}");
  ck_assert_str_eq(ux(" ", 1), "\\x{20}");
  ck_assert_str_eq(ux("\x7f", 0), "\\x{7F}");
  ck_assert_str_eq(ux("\x01", 1), "\\x{01}");
  /* printable ASCII otherwise as it is */
  ck_assert_str_eq(ux("a.b-c_d!~@x.example", 0), "a.b-c_d!~@x.example");
  /* a whole address, both forms */
  ck_assert_str_eq(ux("j\xc3\xb6rg+x@b\xc3\xbc"
                      "cher.example",
                      0),
                   "j\\x{F6}rg\\x{2B}x@b\\x{FC}cher.example");
  ck_assert_str_eq(ux("j\xc3\xb6rg+x@b\xc3\xbc"
                      "cher.example",
                      1),
                   "j\xc3\xb6rg\\x{2B}x@b\xc3\xbc"
                   "cher.example");
  ck_assert_str_eq(ux("\xe2\x82\xac\xf0\x9f\x98\x80", 1),
                   "\xe2\x82\xac\xf0\x9f\x98\x80");
  /* ill-formed UTF-8: nothing */
  ck_assert_uint_eq(smtpc__utf8_addr_xtext(out, "a\xc3", 2, 0), 0);
  ck_assert_uint_eq(smtpc__utf8_addr_xtext(out, "\xc0\xaf", 2, 1), 0);
  ck_assert_uint_eq(smtpc__utf8_addr_xtext(out, "\xed\xa0\x80", 3, 0), 0);
  ck_assert_uint_eq(smtpc__utf8_addr_xtext(out, "\xf4\x90\x80\x80", 4, 0), 0);
  ck_assert_uint_eq(smtpc__utf8_addr_xtext(out, "\xff", 1, 1), 0);
}
END_TEST

/* ---- ENVID and ORCPT limits ---------------------------------------------- */

START_TEST(test_envid_limits) {
  char e[128];
  memset(e, 'a', 100);
  e[100] = '\0';
  ck_assert_int_eq(smtpc__check_envid(e), SMTPC_OK);
  e[100] = 'a', e[101] = '\0';
  ck_assert_int_eq(smtpc__check_envid(e), SMTPC_ERR_BAD_ARGUMENT);
  /* '+', '=' and space count 3 as sent */
  memset(e, 'a', 97);
  strcpy(e + 97, "+");
  ck_assert_int_eq(smtpc__check_envid(e), SMTPC_OK);
  strcpy(e + 97, "a+");
  ck_assert_int_eq(smtpc__check_envid(e), SMTPC_ERR_BAD_ARGUMENT);
  strcpy(e + 97, "=");
  ck_assert_int_eq(smtpc__check_envid(e), SMTPC_OK);
  strcpy(e + 97, " ");
  ck_assert_int_eq(smtpc__check_envid(e), SMTPC_OK);
  strcpy(e + 97, "a ");
  ck_assert_int_eq(smtpc__check_envid(e), SMTPC_ERR_BAD_ARGUMENT);
  /* 33 '+' = 99, 34 = 102 */
  memset(e, '+', 33);
  e[33] = '\0';
  ck_assert_int_eq(smtpc__check_envid(e), SMTPC_OK);
  e[33] = '+', e[34] = '\0';
  ck_assert_int_eq(smtpc__check_envid(e), SMTPC_ERR_BAD_ARGUMENT);
  /* not printable US-ASCII, or empty */
  ck_assert_int_eq(smtpc__check_envid(""), SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc__check_envid(NULL), SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc__check_envid("a\tb"), SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc__check_envid("a\x7f"), SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc__check_envid("a\r\nb"), SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc__check_envid("caf\xc3\xa9"), SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc__check_envid("~ !"), SMTPC_OK);
}
END_TEST

/* An ORCPT whose utf-8-addr-xtext form is n characters ("ORCPT=utf-8;" + n
 * = 12 + n): 64 '+' (6 each as \x{2B}), "@", "\xc3\xa9" (\x{E9}), 40 'a',
 * ".", then tail 'b's; n = 384 + 1 + 6 + 40 + 1 + tail. */
static void orcpt_of(char *buf, size_t n) {
  size_t tail = n - 432, k = 0;
  memset(buf, '+', 64), k = 64;
  buf[k++] = '@';
  memcpy(buf + k, "\xc3\xa9", 2), k += 2;
  memset(buf + k, 'a', 40), k += 40;
  buf[k++] = '.';
  memset(buf + k, 'b', tail), k += tail;
  buf[k] = '\0';
}

START_TEST(test_orcpt_limit) {
  static const char *const to[] = {"x@example.org"};
  char addr[300], enc[SMTPC__ORCPT_MAX + 1];
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, NULL);
  tx = fx_queue(&f, "a@example.com", to, 1, BODY);
  /* exactly 500 with "ORCPT=": accepted; 501: refused */
  orcpt_of(addr, 488);
  ck_assert_int_eq(smtpc__check_mailbox(addr, 0), SMTPC_OK);
  ck_assert_int_eq(smtpc__orcpt_encode(enc, addr, 0), SMTPC_OK);
  ck_assert_uint_eq(strlen("ORCPT=") + strlen(enc), 500);
  ck_assert_int_eq(strncmp(enc, "utf-8;\\x{2B}\\x{2B}", 18), 0);
  ck_assert_int_eq(smtpc_txn_set_notify(tx, 0, SMTPC_NOTIFY_FAILURE, addr),
                   SMTPC_OK);
  orcpt_of(addr, 489);
  ck_assert_int_eq(smtpc__check_mailbox(addr, 0), SMTPC_OK);
  ck_assert_int_eq(smtpc__orcpt_encode(enc, addr, 0), SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_txn_set_notify(tx, 0, SMTPC_NOTIFY_FAILURE, addr),
                   SMTPC_ERR_BAD_ARGUMENT);
  /* the raw form of the same address is shorter (é as is) but the check
   * is on the longer form, whatever the server will offer */
  ck_assert_int_eq(smtpc__orcpt_encode(enc, addr, 1), SMTPC_OK);
  ck_assert_uint_eq(strlen(enc), 6 + 489 - 4);
  /* ASCII: "rfc822;" + xtext */
  ck_assert_int_eq(smtpc__orcpt_encode(enc, "a+b=c@example.org", 0), SMTPC_OK);
  ck_assert_str_eq(enc, "rfc822;a+2Bb+3Dc@example.org");
  ck_assert_int_eq(smtpc__orcpt_encode(enc, "\"a b\"@example.org", 1),
                   SMTPC_OK);
  ck_assert_str_eq(enc, "rfc822;\"a+20b\"@example.org");
  ck_assert_int_eq(smtpc__orcpt_encode(enc, JOERG, 0), SMTPC_OK);
  ck_assert_str_eq(enc, "utf-8;j\\x{F6}rg@example.com");
  ck_assert_int_eq(smtpc__orcpt_encode(enc, JOERG, 1), SMTPC_OK);
  ck_assert_str_eq(enc, "utf-8;" JOERG);
  ck_assert_int_eq(smtpc__orcpt_encode(enc, "", 0), SMTPC_ERR_BAD_ADDRESS);
  ck_assert_int_eq(smtpc__orcpt_encode(enc, "a\xc3@x.example", 0),
                   SMTPC_ERR_BAD_ADDRESS);
  smtpc_txn_free(tx);
  smtpc_session_free(f.s);
  ts_free(f.t);
  TU_ASSERT_NO_LEAKS(&f.a);
}
END_TEST

/* The composers: MAIL's parameters in their fixed order, RCPT with NOTIFY
 * and ORCPT together (seven pieces: once one past the end of the
 * composer's arrays). */
START_TEST(test_cmd_params) {
  tu_alloc a;
  smtpc__buf b;
  smtpc__mail_params mp;
  tu_alloc_init(&a, 0);
  memset(&b, 0, sizeof(b));
  memset(&mp, 0, sizeof(mp));
  mp.size = 1234;
  mp.body8bit = 1;
  mp.smtputf8 = 1;
  mp.ret = SMTPC_DSN_RET_HDRS;
  mp.envid = "a+b=c d";
  ck_assert_int_eq(smtpc__cmd_mail(&b, &a.mem, JOERG, &mp), SMTPC_OK);
  ck_assert_int_eq(smtpc__cmd_rcpt(&b, &a.mem, TANAKA,
                                   SMTPC_NOTIFY_SUCCESS | SMTPC_NOTIFY_FAILURE |
                                       SMTPC_NOTIFY_DELAY,
                                   "utf-8;" TANAKA),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc__cmd_rcpt(&b, &a.mem, "x@example.org",
                                   SMTPC_NOTIFY_NEVER, "rfc822;x@example.org"),
                   SMTPC_OK);
  ck_assert_int_eq(
      smtpc__cmd_rcpt(&b, &a.mem, "y@example.org", SMTPC_NOTIFY_DELAY, NULL),
      SMTPC_OK);
  ck_assert_int_eq(
      smtpc__cmd_rcpt(&b, &a.mem, "z@example.org", 0, "rfc822;o@example.org"),
      SMTPC_OK);
  mp.size = -1;
  mp.body8bit = 0;
  mp.smtputf8 = 0;
  mp.ret = SMTPC_DSN_RET_FULL;
  mp.envid = NULL;
  ck_assert_int_eq(smtpc__cmd_mail(&b, &a.mem, "", &mp), SMTPC_OK);
  TU_ASSERT_BYTES_STR(
      smtpc__buf_head(&b), smtpc__buf_avail(&b),
      "MAIL FROM:<" JOERG "> SIZE=1234 BODY=8BITMIME SMTPUTF8 RET=HDRS "
      "ENVID=a+2Bb+3Dc+20d\r\n"
      "RCPT TO:<" TANAKA "> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=utf-8;" TANAKA
      "\r\n"
      "RCPT TO:<x@example.org> NOTIFY=NEVER ORCPT=rfc822;x@example.org\r\n"
      "RCPT TO:<y@example.org> NOTIFY=DELAY\r\n"
      "RCPT TO:<z@example.org> ORCPT=rfc822;o@example.org\r\n"
      "MAIL FROM:<> RET=FULL\r\n");
  smtpc__buf_free(&b, &a.mem);
  TU_ASSERT_NO_LEAKS(&a);
}
END_TEST

/* The public setters' argument checks (nothing is sent). */
START_TEST(test_dsn_arguments) {
  static const char *const to[] = {"x@example.org", "y@example.org"};
  char e[128];
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, NULL);
  tx = fx_queue(&f, "a@example.com", to, 2, BODY);
  ck_assert_int_eq(smtpc_txn_set_dsn(NULL, SMTPC_DSN_RET_FULL, NULL, 0),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_txn_set_dsn(tx, (smtpc_dsn_ret)3, NULL, 0),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_txn_set_dsn(tx, SMTPC_DSN_RET_FULL, NULL, 2u),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_txn_set_dsn(tx, SMTPC_DSN_RET_FULL, "", 0),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_txn_set_dsn(tx, SMTPC_DSN_RET_FULL, "a\r\nb", 0),
                   SMTPC_ERR_BAD_ARGUMENT);
  memset(e, 'e', 100);
  e[100] = '\0';
  ck_assert_int_eq(smtpc_txn_set_dsn(tx, SMTPC_DSN_RET_HDRS, e, 0), SMTPC_OK);
  strcpy(e + 98, "+");
  ck_assert_int_eq(smtpc_txn_set_dsn(tx, SMTPC_DSN_RET_HDRS, e, 0),
                   SMTPC_ERR_BAD_ARGUMENT);
  /* NEVER stands alone */
  ck_assert_int_eq(smtpc_txn_set_notify(
                       tx, 0, SMTPC_NOTIFY_NEVER | SMTPC_NOTIFY_SUCCESS, NULL),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_txn_set_notify(tx, SMTPC_ALL_RCPTS,
                                        SMTPC_NOTIFY_NEVER | SMTPC_NOTIFY_DELAY,
                                        NULL),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_txn_set_notify(tx, 0, 16u, NULL),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_txn_set_notify(tx, 2, SMTPC_NOTIFY_FAILURE, NULL),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_txn_set_notify(tx, SMTPC_ALL_RCPTS,
                                        SMTPC_NOTIFY_FAILURE, "o@example.org"),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_txn_set_notify(NULL, 0, SMTPC_NOTIFY_NEVER, NULL),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(
      smtpc_txn_set_notify(tx, 0, SMTPC_NOTIFY_FAILURE, "not an address"),
      SMTPC_ERR_BAD_ADDRESS);
  ck_assert_int_eq(
      smtpc_txn_set_notify(tx, 0, SMTPC_NOTIFY_FAILURE, "a\xc3@example.org"),
      SMTPC_ERR_BAD_ADDRESS);
  ck_assert_int_eq(smtpc_txn_set_notify(tx, 0, SMTPC_NOTIFY_NEVER, NULL),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_dsn_sent(tx), 0);
  ck_assert_int_eq(smtpc_txn_dsn_sent(NULL), 0);
  ck_assert_int_eq(smtpc_txn_smtputf8(NULL), 0);
  ck_assert_int_eq(smtpc_session_set_idna(NULL, NULL, NULL),
                   SMTPC_ERR_INVALID_ARGUMENT);
  /* the session gone: the transaction can no longer be changed */
  smtpc_session_free(f.s);
  ck_assert_int_eq(smtpc_txn_set_dsn(tx, SMTPC_DSN_RET_FULL, NULL, 0),
                   SMTPC_ERR_INVALID_STATE);
  ck_assert_int_eq(smtpc_txn_set_notify(tx, 0, SMTPC_NOTIFY_FAILURE, NULL),
                   SMTPC_ERR_INVALID_STATE);
  smtpc_txn_free(tx);
  ts_free(f.t);
  TU_ASSERT_NO_LEAKS(&f.a);
}
END_TEST

/* ---- SMTPUTF8 ------------------------------------------------------------ */

/* ASCII addresses and message: no SMTPUTF8 even though it is offered. */
START_TEST(test_ascii_no_smtputf8) {
  static const char *const to[] = {"bob@example.org"};
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i]);
  script_open(f.t, EHLO_ALL);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com> SIZE=21\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "DATA\r\n");
  script_accept(f.t, 1, BODY);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_has_ext(f.s, "smtputf8"), 1);
  tx = fx_queue(&f, "alice@example.com", to, 1, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_smtputf8(tx), 0);
  ck_assert_int_eq(smtpc_txn_dsn_sent(tx), 0);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* A UTF-8 local part, with the address in the header too: SIZE, then
 * BODY=8BITMIME, then SMTPUTF8; the addresses go raw in MAIL and RCPT. */
START_TEST(test_utf8_local_part) {
  static const char *const to[] = {TANAKA, MUENCHEN, "carol@example.org"};
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i]);
  script_open(f.t, EHLO_ALL);
  ts_client_flight(f.t, "MAIL FROM:<" JOERG "> SIZE=29 BODY=8BITMIME "
                        "SMTPUTF8\r\n"
                        "RCPT TO:<" TANAKA ">\r\n"
                        "RCPT TO:<" MUENCHEN ">\r\n"
                        "RCPT TO:<carol@example.org>\r\n"
                        "DATA\r\n");
  script_accept(f.t, 3, BODY_TO8);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, JOERG, to, 3, BODY_TO8);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_smtputf8(tx), 1);
  ck_assert_str_eq(smtpc_txn_rcpt(tx, 0), TANAKA);
  ck_assert_str_eq(smtpc_txn_rcpt(tx, 1), MUENCHEN);
  ck_assert_str_eq(smtpc_txn_queue_id(tx), "Q1");
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* A UTF-8 address and a 7-bit message: SMTPUTF8 without BODY=8BITMIME (the
 * body type follows the content, RFC 6531 3.4 does not ask for it). */
START_TEST(test_utf8_address_ascii_body) {
  static const char *const to[] = {"bob@example.org"};
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i]);
  script_open(f.t, EHLO_ALL);
  ts_client_flight(f.t, "MAIL FROM:<" JOERG "> SIZE=21 SMTPUTF8\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "DATA\r\n");
  script_accept(f.t, 1, BODY);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, JOERG, to, 1, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_smtputf8(tx), 1);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* UTF-8 in the header only (an AUTO body in memory): SMTPUTF8; the same
 * for a body declared SMTPC_BODY_SMTPUTF8 with 7-bit content. */
START_TEST(test_utf8_header_only) {
  static const char *const to[] = {"bob@example.org"};
  fixture f;
  smtpc_txn *t1, *t2;
  fx_init(&f, &ts_modes[_i]);
  script_open(f.t, EHLO_UTF8);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com> SIZE=25 BODY=8BITMIME "
                        "SMTPUTF8\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "DATA\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  ts_client(f.t, BODY_HDR8 ".\r\n");
  /* the second envelope shares the flight with the first body's end */
  ts_client(f.t, "MAIL FROM:<alice@example.com> SIZE=21 BODY=8BITMIME "
                 "SMTPUTF8\r\n"
                 "RCPT TO:<bob@example.org>\r\n"
                 "DATA\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                 "354 go\r\n");
  ts_client(f.t, BODY ".\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, "alice@example.com", to, 1, BODY_HDR8);
  t2 = fx_queue_type(&f, "alice@example.com", to, 1, BODY, SMTPC_BODY_SMTPUTF8);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_smtputf8(t1), 1);
  ck_assert_int_eq(smtpc_txn_smtputf8(t2), 1);
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  fx_fini(&f);
}
END_TEST

/* 8-bit octets in the body only: BODY=8BITMIME, no SMTPUTF8. */
START_TEST(test_utf8_body_only) {
  static const char *const to[] = {"bob@example.org"};
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i]);
  script_open(f.t, EHLO_ALL);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com> SIZE=21 "
                        "BODY=8BITMIME\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "DATA\r\n");
  script_accept(f.t, 1, BODY_BODY8);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "alice@example.com", to, 1, BODY_BODY8);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_smtputf8(tx), 0);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* A UTF-8 header to a server with neither 8BITMIME nor SMTPUTF8: the
 * specific error (SMTPUTF8), not the 8-bit one. */
START_TEST(test_hdr8_without_8bitmime) {
  static const char *const to[] = {"bob@example.org"};
  fixture f;
  smtpc_txn *t1, *t2;
  fx_init(&f, &ts_modes[_i]);
  script_open(f.t, "250-mx.example hello\r\n250 PIPELINING\r\n");
  ts_client(f.t, "NOOP\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, "alice@example.com", to, 1, BODY_HDR8);
  t2 = fx_queue_type(&f, "alice@example.com", to, 1, BODY, SMTPC_BODY_SMTPUTF8);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_ERR_SMTPUTF8_UNSUPPORTED);
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_ERR_SMTPUTF8_UNSUPPORTED);
  ck_assert_int_eq(smtpc_txn_step(t1), SMTPC_STEP_NONE);
  ck_assert_int_eq(fx_noop(&f), SMTPC_OK);
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  fx_fini(&f);
}
END_TEST

/* SMTPUTF8 offered without 8BITMIME (RFC 6531 3.1 says it must come with
 * it): the UTF-8 message goes with SMTPUTF8 and no BODY parameter the
 * server did not offer. */
START_TEST(test_smtputf8_without_8bitmime) {
  static const char *const to[] = {"bob@example.org"};
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i]);
  script_open(f.t, "250-mx.example hello\r\n250-PIPELINING\r\n"
                   "250 SMTPUTF8\r\n");
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com> SMTPUTF8\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "DATA\r\n");
  script_accept(f.t, 1, BODY_HDR8);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "alice@example.com", to, 1, BODY_HDR8);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_smtputf8(tx), 1);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* NOTIFY 0 without an ORCPT asks for nothing: plain commands, and
 * smtpc_txn_dsn_sent() does not claim parameters went out. */
START_TEST(test_notify_zero_asks_nothing) {
  static const char *const to[] = {"bob@example.org"};
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i]);
  script_open(f.t, EHLO_ALL);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com> SIZE=21\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "DATA\r\n");
  script_accept(f.t, 1, BODY);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "alice@example.com", to, 1, BODY);
  ck_assert_int_eq(smtpc_txn_set_notify(tx, 0, 0, NULL), SMTPC_OK);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_dsn_sent(tx), 0);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* No SMTPUTF8: a UTF-8 local part (sender or recipient) or a UTF-8 header
 * completes the transaction before MAIL; the NOOP that follows is the next
 * thing on the wire. */
START_TEST(test_no_smtputf8_refused) {
  static const char *const ascii[] = {"bob@example.org"};
  static const char *const utf8[] = {"bob@example.org", TANAKA};
  fixture f;
  smtpc_txn *t1, *t2, *t3, *t4;
  fx_init(&f, &ts_modes[_i]);
  script_open(f.t, EHLO_DSN);
  ts_client(f.t, "NOOP\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, JOERG, ascii, 1, BODY);
  t2 = fx_queue(&f, "alice@example.com", utf8, 2, BODY);
  t3 = fx_queue(&f, "alice@example.com", ascii, 1, BODY_HDR8);
  t4 = fx_queue_type(&f, "alice@example.com", ascii, 1, BODY,
                     SMTPC_BODY_SMTPUTF8);
  ck_assert_int_eq(smtpc_txn_set_dsn(t1, SMTPC_DSN_RET_FULL, "x", 0), SMTPC_OK);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_ERR_SMTPUTF8_UNSUPPORTED);
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_ERR_SMTPUTF8_UNSUPPORTED);
  ck_assert_int_eq(smtpc_txn_status(t3), SMTPC_ERR_SMTPUTF8_UNSUPPORTED);
  ck_assert_int_eq(smtpc_txn_status(t4), SMTPC_ERR_SMTPUTF8_UNSUPPORTED);
  ck_assert_int_eq(smtpc_txn_step(t1), SMTPC_STEP_NONE);
  ck_assert_int_eq(smtpc_txn_step(t2), SMTPC_STEP_NONE);
  ck_assert_int_eq(smtpc_txn_step(t3), SMTPC_STEP_NONE);
  ck_assert_int_eq(smtpc_txn_step(t4), SMTPC_STEP_NONE);
  ck_assert_ptr_null(smtpc_txn_reply(t1));
  ck_assert_ptr_null(smtpc_txn_rcpt_reply(t2, 0));
  ck_assert_int_eq(smtpc_txn_smtputf8(t1), 0);
  ck_assert_int_eq(smtpc_txn_dsn_sent(t1), 0);
  ck_assert_int_eq(fx_noop(&f), SMTPC_OK);
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  smtpc_txn_free(t3);
  smtpc_txn_free(t4);
  fx_fini(&f);
}
END_TEST

/* A refused UTF-8 transaction does not hold up the ASCII one queued after
 * it, with or without PIPELINING. */
START_TEST(test_no_smtputf8_next_goes) {
  static const char *const to[] = {"bob@example.org"};
  fixture f;
  smtpc_txn *t1, *t2;
  fx_init(&f, &ts_modes[_i]);
  script_open(f.t, EHLO_NONE);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com> SIZE=21\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "DATA\r\n");
  script_accept(f.t, 1, BODY);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, JOERG, to, 1, BODY_TO8);
  t2 = fx_queue(&f, "alice@example.com", to, 1, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_ERR_SMTPUTF8_UNSUPPORTED);
  ck_assert_int_eq(smtpc_txn_step(t1), SMTPC_STEP_NONE);
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_OK);
  ck_assert_str_eq(smtpc_txn_queue_id(t2), "Q1");
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  fx_fini(&f);
}
END_TEST

/* ---- IDNA ----------------------------------------------------------------- */

static int have_idn2(void) {
  char out[64];
  return smtpc_idna_to_ascii(NULL,
                             "b\xc3\xbc"
                             "cher.example",
                             out, sizeof(out)) == SMTPC_OK;
}

START_TEST(test_idna_default) {
  char out[256];
  if (!have_idn2()) {
    ck_assert_int_eq(smtpc_idna_to_ascii(NULL,
                                         "b\xc3\xbc"
                                         "cher.example",
                                         out, sizeof(out)),
                     SMTPC_ERR_NOT_SUPPORTED);
    return;
  }
  ck_assert_int_eq(smtpc_idna_to_ascii(NULL,
                                       "b\xc3\xbc"
                                       "cher.example",
                                       out, sizeof(out)),
                   SMTPC_OK);
  ck_assert_str_eq(out, "xn--bcher-kva.example");
  /* NFC first: u + U+0308 is ü */
  ck_assert_int_eq(smtpc_idna_to_ascii(NULL,
                                       "bu\xcc\x88"
                                       "cher.example",
                                       out, sizeof(out)),
                   SMTPC_OK);
  ck_assert_str_eq(out, "xn--bcher-kva.example");
  /* non-transitional: ß stays */
  ck_assert_int_eq(smtpc_idna_to_ascii(NULL,
                                       "stra\xc3\x9f"
                                       "e.example",
                                       out, sizeof(out)),
                   SMTPC_OK);
  ck_assert_str_eq(out, "xn--strae-oqa.example");
  ck_assert_int_eq(smtpc_idna_to_ascii(NULL,
                                       "b\xc3\xbc"
                                       "cher.example",
                                       out, 8),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_idna_to_ascii(NULL, NULL, out, sizeof(out)),
                   SMTPC_ERR_INVALID_ARGUMENT);
  /* a hyphen at the start of a label is not IDNA2008 */
  ck_assert_int_eq(
      smtpc_idna_to_ascii(NULL, "-b\xc3\xbc.example", out, sizeof(out)),
      SMTPC_ERR_BAD_ADDRESS);
}
END_TEST

/* No SMTPUTF8 and an ASCII local part at a UTF-8 domain: A-labels in MAIL
 * and RCPT (libidn2); the caller's addresses are unchanged. */
START_TEST(test_idna_alabel) {
  static const char *const to[] = {MUENCHEN, "carol@example.org"};
  fixture f;
  smtpc_txn *tx;
  if (!have_idn2())
    return; /* built without libidn2: test_idna_null covers the refusal */
  fx_init(&f, &ts_modes[_i]);
  script_open(f.t, EHLO_NONE);
  ts_client_flight(f.t, "MAIL FROM:<" BUECHER_A "> SIZE=21\r\n"
                        "RCPT TO:<" MUENCHEN_A ">\r\n"
                        "RCPT TO:<carol@example.org>\r\n"
                        "DATA\r\n");
  script_accept(f.t, 2, BODY);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, BUECHER, to, 2, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_smtputf8(tx), 0);
  ck_assert_str_eq(smtpc_txn_rcpt(tx, 0), MUENCHEN);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

typedef struct idna_fake {
  int calls;
  int rv;           /* what to return */
  const char *out;  /* what to write (NULL: fill the buffer, no NUL) */
  char seen[2][64]; /* the domains asked for */
} idna_fake;

static int fake_idna(void *user, const char *domain, char *out, size_t outlen) {
  idna_fake *k = user;
  if (k->calls < 2)
    snprintf(k->seen[k->calls], sizeof(k->seen[0]), "%s", domain);
  k->calls++;
  if (k->out == NULL)
    memset(out, 'a', outlen);
  else
    snprintf(out, outlen, "%s", k->out);
  return k->rv;
}

/* A caller's converter is used instead, with its user pointer; with
 * SMTPUTF8 offered it is not called at all. */
START_TEST(test_idna_custom) {
  static const char *const to[] = {MUENCHEN};
  idna_fake k;
  fixture f;
  smtpc_txn *t1, *t2;
  memset(&k, 0, sizeof(k));
  k.rv = SMTPC_OK;
  k.out = "idn-test.example";
  fx_init(&f, &ts_modes[_i]);
  ck_assert_int_eq(smtpc_session_set_idna(f.s, fake_idna, &k), SMTPC_OK);
  script_open(f.t, EHLO_NONE);
  ts_client_flight(f.t, "MAIL FROM:<info@idn-test.example> SIZE=21\r\n"
                        "RCPT TO:<bob@idn-test.example>\r\n"
                        "DATA\r\n");
  script_accept(f.t, 1, BODY);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, BUECHER, to, 1, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_OK);
  ck_assert_int_eq(k.calls, 2);
  ck_assert_str_eq(k.seen[0], "b\xc3\xbc"
                              "cher.example");
  ck_assert_str_eq(k.seen[1], "m\xc3\xbcnchen.example");
  smtpc_txn_free(t1);
  fx_fini(&f);

  /* the same with SMTPUTF8: raw, no conversion */
  memset(&k, 0, sizeof(k));
  k.rv = SMTPC_OK;
  k.out = "idn-test.example";
  fx_init(&f, &ts_modes[_i]);
  ck_assert_int_eq(smtpc_session_set_idna(f.s, fake_idna, &k), SMTPC_OK);
  script_open(f.t, EHLO_UTF8);
  ts_client_flight(f.t, "MAIL FROM:<" BUECHER "> SIZE=21 SMTPUTF8\r\n"
                        "RCPT TO:<" MUENCHEN ">\r\n"
                        "DATA\r\n");
  script_accept(f.t, 1, BODY);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t2 = fx_queue(&f, BUECHER, to, 1, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_smtputf8(t2), 1);
  ck_assert_int_eq(k.calls, 0);
  smtpc_txn_free(t2);
  fx_fini(&f);
}
END_TEST

/* No converter (NULL), or one that says it cannot: IDNA_UNAVAILABLE before
 * MAIL. */
START_TEST(test_idna_unavailable) {
  static const char *const to[] = {"bob@example.org"};
  static const char *const to8[] = {"bob@example.org", MUENCHEN};
  idna_fake k;
  fixture f;
  smtpc_txn *t1, *t2;
  memset(&k, 0, sizeof(k));
  k.rv = SMTPC_ERR_NOT_SUPPORTED;
  k.out = "";
  fx_init(&f, &ts_modes[_i]);
  ck_assert_int_eq(smtpc_session_set_idna(f.s, NULL, NULL), SMTPC_OK);
  script_open(f.t, EHLO_NONE);
  ts_client(f.t, "NOOP\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, BUECHER, to, 1, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_ERR_IDNA_UNAVAILABLE);
  ck_assert_int_eq(smtpc_txn_step(t1), SMTPC_STEP_NONE);
  ck_assert_int_eq(smtpc_session_set_idna(f.s, fake_idna, &k), SMTPC_OK);
  t2 = fx_queue(&f, "alice@example.com", to8, 2, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_ERR_IDNA_UNAVAILABLE);
  ck_assert_int_eq(smtpc_txn_step(t2), SMTPC_STEP_NONE);
  ck_assert_int_eq(k.calls, 1);
  ck_assert_int_eq(fx_noop(&f), SMTPC_OK);
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  fx_fini(&f);
}
END_TEST

/* A converter's result is checked like an address: non-ASCII, not a
 * domain, unterminated, too long, or its own BAD_ADDRESS: BAD_ADDRESS. */
static const struct {
  int rv;
  const char *out;
} bad_idna[] = {
    {SMTPC_OK, "b\xc3\xbc"
               "cher.example"},
    {SMTPC_OK, "-bad-.example"},
    {SMTPC_OK, "a..example"},
    {SMTPC_OK, ""},
    {SMTPC_OK, NULL}, /* 256 'a', no NUL */
    {SMTPC_OK,
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     ".example"}, /* a 65-octet label */
    {SMTPC_ERR_BAD_ADDRESS, "xn--bcher-kva.example"},
};

START_TEST(test_idna_bad_result) {
  static const char *const to[] = {MUENCHEN};
  idna_fake k;
  fixture f;
  smtpc_txn *tx;
  memset(&k, 0, sizeof(k));
  k.rv = bad_idna[_i].rv;
  k.out = bad_idna[_i].out;
  fx_init(&f, NULL);
  ck_assert_int_eq(smtpc_session_set_idna(f.s, fake_idna, &k), SMTPC_OK);
  script_open(f.t, EHLO_NONE);
  ts_client(f.t, "NOOP\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "alice@example.com", to, 1, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_ERR_BAD_ADDRESS);
  ck_assert_int_eq(smtpc_txn_step(tx), SMTPC_STEP_NONE);
  ck_assert_int_eq(k.calls, 1);
  ck_assert_int_eq(fx_noop(&f), SMTPC_OK);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* ---- DSN ------------------------------------------------------------------ */

/* RET, ENVID (xtext) and a different NOTIFY per recipient; ORCPT only with
 * the recipients that have NOTIFY. */
START_TEST(test_dsn_per_recipient) {
  static const char *const to[] = {"bob@example.org", "carol@example.org",
                                   "dave@example.org"};
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i]);
  script_open(f.t, EHLO_ALL);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com> SIZE=21 RET=FULL "
                        "ENVID=id+2B1+3Da+20b\r\n"
                        "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE "
                        "ORCPT=rfc822;bob@example.org\r\n"
                        "RCPT TO:<carol@example.org> NOTIFY=NEVER "
                        "ORCPT=rfc822;carol@example.org\r\n"
                        "RCPT TO:<dave@example.org>\r\n"
                        "DATA\r\n");
  script_accept(f.t, 3, BODY);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "alice@example.com", to, 3, BODY);
  ck_assert_int_eq(
      smtpc_txn_set_dsn(tx, SMTPC_DSN_RET_FULL, "id+1=a b", SMTPC_DSN_REQUIRED),
      SMTPC_OK);
  ck_assert_int_eq(
      smtpc_txn_set_notify(tx, 0, SMTPC_NOTIFY_SUCCESS | SMTPC_NOTIFY_FAILURE,
                           NULL),
      SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_set_notify(tx, 1, SMTPC_NOTIFY_NEVER, NULL),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_dsn_sent(tx), 0);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_dsn_sent(tx), 1);
  ck_assert_int_eq(smtpc_txn_smtputf8(tx), 0);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* RET=HDRS alone, every NOTIFY bit for all recipients, then an explicit
 * ORCPT (xtext-encoded) and no NOTIFY for one of them. */
START_TEST(test_dsn_hdrs_all_explicit_orcpt) {
  static const char *const to[] = {"bob@example.org", "carol@example.org"};
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i]);
  script_open(f.t, EHLO_DSN);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com> SIZE=21 RET=HDRS\r\n"
                        "RCPT TO:<bob@example.org> "
                        "NOTIFY=SUCCESS,FAILURE,DELAY "
                        "ORCPT=rfc822;bob@example.org\r\n"
                        "RCPT TO:<carol@example.org> "
                        "ORCPT=rfc822;orig+2Bx+3Dy@example.net\r\n"
                        "DATA\r\n");
  script_accept(f.t, 2, BODY);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "alice@example.com", to, 2, BODY);
  ck_assert_int_eq(smtpc_txn_set_dsn(tx, SMTPC_DSN_RET_HDRS, NULL, 0),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_set_notify(tx, SMTPC_ALL_RCPTS,
                                        SMTPC_NOTIFY_SUCCESS |
                                            SMTPC_NOTIFY_FAILURE |
                                            SMTPC_NOTIFY_DELAY,
                                        NULL),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_set_notify(tx, 1, 0, "orig+x=y@example.net"),
                   SMTPC_OK);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_dsn_sent(tx), 1);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* ORCPT of a UTF-8 address: raw "utf-8;" unitext with SMTPUTF8. */
START_TEST(test_dsn_orcpt_utf8_with_smtputf8) {
  static const char *const to[] = {TANAKA, "bob@example.org"};
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i]);
  script_open(f.t, EHLO_ALL);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com> SIZE=21 SMTPUTF8 "
                        "ENVID=Q+2B1\r\n"
                        "RCPT TO:<" TANAKA "> NOTIFY=FAILURE "
                        "ORCPT=utf-8;" TANAKA "\r\n"
                        "RCPT TO:<bob@example.org> NOTIFY=DELAY "
                        "ORCPT=utf-8;j\xc3\xb6rg\\x{2B}1@example.com\r\n"
                        "DATA\r\n");
  script_accept(f.t, 2, BODY);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "alice@example.com", to, 2, BODY);
  ck_assert_int_eq(smtpc_txn_set_dsn(tx, SMTPC_DSN_RET_DEFAULT, "Q+1", 0),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_set_notify(tx, 0, SMTPC_NOTIFY_FAILURE, NULL),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_set_notify(tx, 1, SMTPC_NOTIFY_DELAY,
                                        "j\xc3\xb6rg+1@example.com"),
                   SMTPC_OK);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_smtputf8(tx), 1);
  ck_assert_int_eq(smtpc_txn_dsn_sent(tx), 1);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* Without SMTPUTF8: a UTF-8 domain is sent, and so reported, as its
 * A-label (rfc822 xtext); an explicit UTF-8 ORCPT goes as utf-8-addr-xtext
 * (\x{HEX}). */
START_TEST(test_dsn_orcpt_utf8_without_smtputf8) {
  static const char *const to[] = {MUENCHEN, "bob@example.org"};
  fixture f;
  smtpc_txn *tx;
  if (!have_idn2())
    return;
  fx_init(&f, &ts_modes[_i]);
  script_open(f.t, EHLO_DSN);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com> SIZE=21\r\n"
                        "RCPT TO:<" MUENCHEN_A "> NOTIFY=FAILURE "
                        "ORCPT=rfc822;" MUENCHEN_A "\r\n"
                        "RCPT TO:<bob@example.org> NOTIFY=FAILURE "
                        "ORCPT=utf-8;j\\x{F6}rg@example.com\r\n"
                        "DATA\r\n");
  script_accept(f.t, 2, BODY);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "alice@example.com", to, 2, BODY);
  ck_assert_int_eq(
      smtpc_txn_set_notify(tx, SMTPC_ALL_RCPTS, SMTPC_NOTIFY_FAILURE, NULL),
      SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_set_notify(tx, 1, SMTPC_NOTIFY_FAILURE, JOERG),
                   SMTPC_OK);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_smtputf8(tx), 0);
  ck_assert_int_eq(smtpc_txn_dsn_sent(tx), 1);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* DSN not offered: REQUIRED fails before MAIL (nothing sent), if-offered
 * goes without the parameters. */
START_TEST(test_dsn_not_offered) {
  static const char *const to[] = {"bob@example.org", "carol@example.org"};
  fixture f;
  smtpc_txn *t1, *t2;
  fx_init(&f, &ts_modes[_i]);
  script_open(f.t, EHLO_UTF8);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com> SIZE=21\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "RCPT TO:<carol@example.org>\r\n"
                        "DATA\r\n");
  script_accept(f.t, 2, BODY);
  ts_client(f.t, "NOOP\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, "alice@example.com", to, 2, BODY);
  ck_assert_int_eq(
      smtpc_txn_set_dsn(t1, SMTPC_DSN_RET_HDRS, "e1", SMTPC_DSN_REQUIRED),
      SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_set_notify(t1, 0, SMTPC_NOTIFY_FAILURE, NULL),
                   SMTPC_OK);
  t2 = fx_queue(&f, "alice@example.com", to, 2, BODY);
  ck_assert_int_eq(smtpc_txn_set_dsn(t2, SMTPC_DSN_RET_HDRS, "e2", 0),
                   SMTPC_OK);
  ck_assert_int_eq(
      smtpc_txn_set_notify(t2, SMTPC_ALL_RCPTS, SMTPC_NOTIFY_NEVER, NULL),
      SMTPC_OK);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_ERR_DSN_UNSUPPORTED);
  ck_assert_int_eq(smtpc_txn_step(t1), SMTPC_STEP_NONE);
  ck_assert_int_eq(smtpc_txn_dsn_sent(t1), 0);
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_dsn_sent(t2), 0);
  ck_assert_int_eq(fx_noop(&f), SMTPC_OK);
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  fx_fini(&f);
}
END_TEST

/* Once MAIL is out (and once complete) the DSN settings are fixed. */
START_TEST(test_dsn_after_start) {
  static const char *const to[] = {"bob@example.org"};
  static const ts_mode nb = {0, 0, 1, 0};
  fixture f;
  smtpc_txn *tx;
  long spins = 0;
  int rv;
  fx_init(&f, &nb);
  script_open(f.t, EHLO_ALL);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com> SIZE=21 RET=FULL\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "DATA\r\n");
  script_accept(f.t, 1, BODY);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "alice@example.com", to, 1, BODY);
  ck_assert_int_eq(smtpc_txn_set_dsn(tx, SMTPC_DSN_RET_FULL, NULL, 0),
                   SMTPC_OK);
  /* run until MAIL has gone out (a would-block return leaves it there) */
  for (;;) {
    rv = smtpc_session_run(f.s);
    if ((rv != SMTPC_ERR_WANT_READ && rv != SMTPC_ERR_WANT_WRITE) ||
        smtpc_txn_step(tx) != SMTPC_STEP_NONE || ++spins > 1000)
      break;
  }
  ck_assert_int_ne(smtpc_txn_step(tx), SMTPC_STEP_NONE);
  ck_assert_int_eq(smtpc_txn_set_dsn(tx, SMTPC_DSN_RET_HDRS, NULL, 0),
                   SMTPC_ERR_INVALID_STATE);
  ck_assert_int_eq(smtpc_txn_set_notify(tx, 0, SMTPC_NOTIFY_NEVER, NULL),
                   SMTPC_ERR_INVALID_STATE);
  /* argument errors are still argument errors */
  ck_assert_int_eq(smtpc_txn_set_notify(tx, 0, 3u, NULL),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_set_dsn(tx, SMTPC_DSN_RET_HDRS, NULL, 0),
                   SMTPC_ERR_INVALID_STATE);
  ck_assert_int_eq(smtpc_txn_set_notify(tx, 0, SMTPC_NOTIFY_NEVER, NULL),
                   SMTPC_ERR_INVALID_STATE);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* 251 and 551 with UTF-8 text (RFC 6531 3.7.1 allows it with SMTPUTF8):
 * accepted, the text kept as received. */
START_TEST(test_251_551_utf8_text) {
  static const char *const to[] = {JOERG, TANAKA};
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i]);
  script_open(f.t, EHLO_ALL);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com> SIZE=21 SMTPUTF8\r\n"
                        "RCPT TO:<" JOERG ">\r\n"
                        "RCPT TO:<" TANAKA ">\r\n"
                        "DATA\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n"
                 "251 2.1.5 User not local; will forward to "
                 "<j\xc3\xb6rg@example.net>\r\n"
                 "551 5.1.6 User not local; please try "
                 "<\xe7\x94\xb0\xe4\xb8\xad@example.net>\r\n"
                 "354 go\r\n");
  ts_client(f.t, BODY ".\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "alice@example.com", to, 2, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_ERR_PARTIAL);
  ck_assert_uint_eq(smtpc_txn_accepted_count(tx), 1);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_rcpt_reply(tx, 0)), 251);
  ck_assert_str_eq(smtpc_reply_enhanced(smtpc_txn_rcpt_reply(tx, 0)), "2.1.5");
  ck_assert_str_eq(smtpc_reply_text(smtpc_txn_rcpt_reply(tx, 0)),
                   "User not local; will forward to <j\xc3\xb6rg@example.net>");
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_rcpt_reply(tx, 1)), 551);
  ck_assert_str_eq(smtpc_reply_enhanced(smtpc_txn_rcpt_reply(tx, 1)), "5.1.6");
  ck_assert_str_eq(smtpc_reply_text(smtpc_txn_rcpt_reply(tx, 1)),
                   "User not local; please try "
                   "<\xe7\x94\xb0\xe4\xb8\xad@example.net>");
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* ---- allocation failures --------------------------------------------------
 * A DSN + SMTPUTF8 transaction, and a DSN transaction converted to
 * A-labels, each with every allocation refused in turn. */

typedef struct sweep_case {
  const char *ehlo;
  const char *from;
  const char *body;
  const char *wire; /* the client's envelope flight */
} sweep_case;

static const sweep_case sweeps[] = {
    {EHLO_ALL, JOERG, BODY_TO8,
     "MAIL FROM:<" JOERG "> SIZE=29 BODY=8BITMIME SMTPUTF8 RET=HDRS "
     "ENVID=e+2B1\r\n"
     "RCPT TO:<" TANAKA "> NOTIFY=SUCCESS,FAILURE ORCPT=utf-8;" TANAKA "\r\n"
     "RCPT TO:<" MUENCHEN "> NOTIFY=NEVER "
     "ORCPT=rfc822;o+2Bx@example.net\r\n"
     "DATA\r\n"},
    {EHLO_DSN, BUECHER, BODY,
     "MAIL FROM:<" BUECHER_A "> SIZE=21 RET=HDRS "
     "ENVID=e+2B1\r\n"
     "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE "
     "ORCPT=rfc822;bob@example.org\r\n"
     "RCPT TO:<" MUENCHEN_A "> NOTIFY=NEVER "
     "ORCPT=rfc822;o+2Bx@example.net\r\n"
     "DATA\r\n"},
};

static int intl_scenario(tu_alloc *a, void *arg) {
  static const char *const to_utf8[] = {TANAKA, MUENCHEN};
  static const char *const to_idn[] = {"bob@example.org", MUENCHEN};
  const sweep_case *c = arg;
  const char *const *to = c == &sweeps[0] ? to_utf8 : to_idn;
  smtpc_session *s = NULL;
  smtpc_io io;
  smtpc_body b;
  smtpc_txn *tx = NULL;
  ts *t = ts_new();
  int rv;
  ts_set_abort(t, 0);
  ts_server(t, GREETING);
  ts_client(t, EHLO_CMD);
  ts_server(t, c->ehlo);
  ts_client(t, c->wire);
  ts_server(t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no\r\n354 go\r\n");
  ts_client(t, c->body);
  ts_client(t, ".\r\n");
  ts_server(t, "250 2.0.0 Ok: queued as X\r\n");
  ts_client(t, "QUIT\r\n");
  ts_server(t, "221 bye\r\n");
  ts_io(t, &io);
  if ((rv = smtpc_session_new(&s, &a->mem)) != SMTPC_OK)
    goto out;
  smtpc_session_set_io(s, &io);
  if ((rv = smtpc_session_set_ehlo_name(s, "client.test")) != SMTPC_OK ||
      (rv = smtpc_session_open(s)) != SMTPC_OK)
    goto out;
  smtpc_body_init_memory(&b, c->body, strlen(c->body));
  if ((rv = smtpc_session_queue(s, c->from, to, 2, &b, &tx)) != SMTPC_OK ||
      (rv = smtpc_txn_set_dsn(tx, SMTPC_DSN_RET_HDRS, "e+1", 0)) != SMTPC_OK ||
      (rv = smtpc_txn_set_notify(tx, 0,
                                 SMTPC_NOTIFY_SUCCESS | SMTPC_NOTIFY_FAILURE,
                                 NULL)) != SMTPC_OK ||
      (rv = smtpc_txn_set_notify(tx, 1, SMTPC_NOTIFY_NEVER,
                                 "o+x@example.net")) != SMTPC_OK)
    goto out;
  rv = smtpc_session_run(s);
  if (rv != SMTPC_OK) {
    TU_CHECK(smtpc_txn_status(tx) == SMTPC_ERR_NOMEM, "run %d, transaction %d",
             rv, smtpc_txn_status(tx));
    goto out;
  }
  TU_CHECK(smtpc_txn_status(tx) == SMTPC_ERR_PARTIAL, "status %d",
           smtpc_txn_status(tx));
  TU_CHECK(smtpc_txn_dsn_sent(tx) == 1, "DSN not sent");
  TU_CHECK(smtpc_txn_smtputf8(tx) == (c == &sweeps[0]), "SMTPUTF8 %d",
           smtpc_txn_smtputf8(tx));
  rv = smtpc_session_quit(s);
  if (rv == SMTPC_OK && !ts_finished(t))
    ck_abort_msg("script not finished: %s",
                 ts_mismatch(t) ? ts_mismatch(t) : "?");
out:
  smtpc_txn_free(tx);
  smtpc_session_free(s);
  ts_free(t);
  return rv;
}

START_TEST(test_alloc_failure_sweep) {
  long failures;
  if (_i == 1 && !have_idn2())
    return;
  failures = tu_alloc_sweep(intl_scenario, (void *)&sweeps[_i], 500);
  ck_assert_int_gt(failures, 10);
}
END_TEST

static Suite *intl_suite(void) {
  Suite *s = suite_create("intl");
  TCase *tc = tcase_create("encoders");
  int n = (int)ts_nmodes;
  tcase_add_test(tc, test_xtext_table);
  tcase_add_test(tc, test_utf8_addr_xtext);
  tcase_add_test(tc, test_envid_limits);
  tcase_add_test(tc, test_orcpt_limit);
  tcase_add_test(tc, test_cmd_params);
  tcase_add_test(tc, test_dsn_arguments);
  tcase_add_test(tc, test_idna_default);
  suite_add_tcase(s, tc);

  tc = tcase_create("transcripts");
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, test_ascii_no_smtputf8, 0, n);
  tcase_add_loop_test(tc, test_utf8_local_part, 0, n);
  tcase_add_loop_test(tc, test_utf8_address_ascii_body, 0, n);
  tcase_add_loop_test(tc, test_utf8_header_only, 0, n);
  tcase_add_loop_test(tc, test_utf8_body_only, 0, n);
  tcase_add_loop_test(tc, test_hdr8_without_8bitmime, 0, n);
  tcase_add_loop_test(tc, test_smtputf8_without_8bitmime, 0, n);
  tcase_add_loop_test(tc, test_notify_zero_asks_nothing, 0, n);
  tcase_add_loop_test(tc, test_no_smtputf8_refused, 0, n);
  tcase_add_loop_test(tc, test_no_smtputf8_next_goes, 0, n);
  tcase_add_loop_test(tc, test_idna_alabel, 0, n);
  tcase_add_loop_test(tc, test_idna_custom, 0, n);
  tcase_add_loop_test(tc, test_idna_unavailable, 0, n);
  tcase_add_loop_test(tc, test_idna_bad_result, 0,
                      (int)(sizeof(bad_idna) / sizeof(bad_idna[0])));
  tcase_add_loop_test(tc, test_dsn_per_recipient, 0, n);
  tcase_add_loop_test(tc, test_dsn_hdrs_all_explicit_orcpt, 0, n);
  tcase_add_loop_test(tc, test_dsn_orcpt_utf8_with_smtputf8, 0, n);
  tcase_add_loop_test(tc, test_dsn_orcpt_utf8_without_smtputf8, 0, n);
  tcase_add_loop_test(tc, test_dsn_not_offered, 0, n);
  tcase_add_test(tc, test_dsn_after_start);
  tcase_add_loop_test(tc, test_251_551_utf8_text, 0, n);
  tcase_add_loop_test(tc, test_alloc_failure_sweep, 0,
                      (int)(sizeof(sweeps) / sizeof(sweeps[0])));
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(intl_suite());
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
