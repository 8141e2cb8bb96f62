/* SPDX-License-Identifier: MIT */
/* Session transcripts: the engine driven through a scripted transport.
 * Every test asserts the exact bytes the client sends and the outcome of
 * each reply; most run in every transport mode (whole, one byte at a time,
 * odd fragments, and non-blocking with WANT_READ/WANT_WRITE on every other
 * call). */
#include "testutil.h"

#include <smtpc/smtpc.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define GREETING "220 mx.example ESMTP ready\r\n"
#define EHLO_CMD "EHLO client.test\r\n"
#define EHLO_PIPE                                                              \
  "250-mx.example hello\r\n250-PIPELINING\r\n250-SIZE 100000\r\n"              \
  "250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n"
#define EHLO_PLAIN "250-mx.example hello\r\n250 SIZE\r\n"
#define BODY "Subject: t\r\n\r\nhello\r\n"

typedef tu_fx fixture; /* tests/testutil.h */
#define fx_init tu_fx_init
#define fx_fini tu_fx_fini
#define fx_open tu_fx_open
#define fx_run tu_fx_run
#define fx_quit tu_fx_quit

/* For scripts the client is expected to abandon part-way. */
static void fx_fini_partial(fixture *f) {
  smtpc_session_free(f->s);
  ts_free(f->t);
  TU_ASSERT_NO_LEAKS(&f->a);
}

static smtpc_txn *fx_queue(fixture *f, const char *from, const char *const *to,
                           size_t n, const char *body) {
  smtpc_body b;
  smtpc_txn *t = NULL;
  smtpc_body_init_memory(&b, body, strlen(body));
  ck_assert_int_eq(smtpc_session_queue(f->s, from, to, n, &b, &t), SMTPC_OK);
  return t;
}

static void script_open_pipe(ts *t) {
  ts_server(t, GREETING);
  ts_client(t, EHLO_CMD);
  ts_server(t, EHLO_PIPE);
}

/* ---- the happy paths ------------------------------------------------------ */

START_TEST(test_pipelined_send) {
  static const char *const to[] = {"bob@example.org", "carol@example.org"};
  fixture f;
  smtpc_txn *tx;
  const smtpc_reply *r;
  fx_init(&f, &ts_modes[_i]);
  script_open_pipe(f.t);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com> SIZE=21\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "RCPT TO:<carol@example.org>\r\n"
                        "DATA\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
                 "354 End data with <CR><LF>.<CR><LF>\r\n");
  ts_client(f.t, BODY ".\r\n");
  ts_server(f.t, "250 2.0.0 Ok: queued as 4F2A11C3\r\n");
  ts_client(f.t, "QUIT\r\n");
  ts_server(f.t, "221 2.0.0 Bye\r\n");

  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_has_ext(f.s, "pipelining"), 1);
  ck_assert_int_eq(smtpc_session_max_size(f.s), 100000);
  tx = fx_queue(&f, "alice@example.com", to, 2, BODY);
  /* pending is not an I/O code */
  ck_assert_int_eq(smtpc_txn_is_complete(tx), 0);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_ERR_INVALID_STATE);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_is_complete(tx), 1);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  ck_assert_uint_eq(smtpc_txn_accepted_count(tx), 2);
  r = smtpc_txn_reply(tx);
  ck_assert_int_eq(smtpc_reply_code(r), 250);
  ck_assert_str_eq(smtpc_reply_enhanced(r), "2.0.0");
  ck_assert_str_eq(smtpc_reply_text(r), "Ok: queued as 4F2A11C3");
  ck_assert_str_eq(smtpc_txn_queue_id(tx), "4F2A11C3");
  ck_assert_str_eq(smtpc_reply_enhanced(smtpc_txn_rcpt_reply(tx, 1)), "2.1.5");
  ck_assert_int_eq(fx_quit(&f), SMTPC_OK);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* The pipelined group travels in one write when the transport takes it. */
START_TEST(test_pipelined_one_write) {
  static const char *const to[] = {"b@example.org", "c@example.org",
                                   "d@example.org"};
  static const char group[] = "MAIL FROM:<a@example.com> SIZE=21\r\n"
                              "RCPT TO:<b@example.org>\r\n"
                              "RCPT TO:<c@example.org>\r\n"
                              "RCPT TO:<d@example.org>\r\n"
                              "DATA\r\n";
  fixture f;
  size_t i, found = 0;
  smtpc_txn *tx;
  fx_init(&f, NULL);
  script_open_pipe(f.t);
  ts_client(f.t, group);
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
                 "250 2.1.5 Ok\r\n354 go\r\n");
  ts_client(f.t, BODY ".\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "a@example.com", to, 3, BODY);
  ck_assert_int_eq(smtpc_session_run(f.s), SMTPC_OK);
  /* calls: EHLO, the group, the body */
  ck_assert_uint_eq(ts_send_calls(f.t), 3);
  for (i = 0; i < ts_send_calls(f.t); i++)
    if (ts_send_size(f.t, i) == strlen(group))
      found++;
  ck_assert_uint_eq(found, 1);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* Without PIPELINING, one command and one reply at a time. */
START_TEST(test_unpipelined_send) {
  static const char *const to[] = {"bob@example.org", "carol@example.org"};
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i]);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, EHLO_PLAIN);
  ts_client(f.t, "MAIL FROM:<alice@example.com> SIZE=21\r\n");
  ts_server(f.t, "250 ok\r\n");
  ts_client(f.t, "RCPT TO:<bob@example.org>\r\n");
  ts_server(f.t, "250 ok\r\n");
  ts_client(f.t, "RCPT TO:<carol@example.org>\r\n");
  ts_server(f.t, "251 will forward\r\n");
  ts_client(f.t, "DATA\r\n");
  ts_server(f.t, "354 go ahead\r\n");
  ts_client(f.t, BODY ".\r\n");
  ts_server(f.t, "250 accepted\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "alice@example.com", to, 2, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_rcpt_reply(tx, 1)), 251);
  /* no ENHANCEDSTATUSCODES: nothing is parsed as an enhanced code */
  ck_assert_str_eq(smtpc_reply_enhanced(smtpc_txn_reply(tx)), "");
  ck_assert_ptr_null(smtpc_txn_queue_id(tx));
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* Several queued messages: each body's end shares a flight with the next
 * envelope (RFC 2920 3.1), so the steady state costs one round trip. */
START_TEST(test_pipelined_queue_shares_flight) {
  static const char *const to[] = {"b@example.org"};
  fixture f;
  smtpc_txn *t1, *t2, *t3;
  fx_init(&f, &ts_modes[_i]);
  script_open_pipe(f.t);
  ts_client(f.t, "MAIL FROM:<a@example.com> SIZE=21\r\n"
                 "RCPT TO:<b@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  ts_client_flight(f.t, BODY ".\r\nMAIL FROM:<a@example.com> SIZE=21\r\n"
                             "RCPT TO:<b@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.0.0 Ok: queued as A1\r\n"
                 "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  ts_client_flight(f.t, BODY ".\r\nMAIL FROM:<a@example.com> SIZE=21\r\n"
                             "RCPT TO:<b@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.0.0 Ok: queued as A2\r\n"
                 "250 2.1.0 Ok\r\n550 5.1.1 No such user\r\n554 5.5.1 No valid "
                 "recipients\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, "a@example.com", to, 1, BODY);
  t2 = fx_queue(&f, "a@example.com", to, 1, BODY);
  t3 = fx_queue(&f, "a@example.com", to, 1, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_OK);
  ck_assert_str_eq(smtpc_txn_queue_id(t1), "A1");
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_OK);
  ck_assert_str_eq(smtpc_txn_queue_id(t2), "A2");
  ck_assert_int_eq(smtpc_txn_status(t3), SMTPC_ERR_NO_RECIPIENTS);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_rcpt_reply(t3, 0)), 550);
  ck_assert_str_eq(smtpc_reply_text(smtpc_txn_rcpt_reply(t3, 0)),
                   "No such user");
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  smtpc_txn_free(t3);
  fx_fini(&f);
}
END_TEST

/* EHLO unknown: fall back to HELO (RFC 5321 3.2); no extensions then. */
START_TEST(test_helo_fallback) {
  static const char *const to[] = {"b@example.org"};
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i]);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "502 5.5.2 Error: command not recognized\r\n");
  ts_client(f.t, "HELO client.test\r\n");
  ts_server(f.t, "250 mx.example\r\n");
  ts_client(f.t, "MAIL FROM:<>\r\n");
  ts_server(f.t, "250 ok\r\n");
  ts_client(f.t, "RCPT TO:<b@example.org>\r\n");
  ts_server(f.t, "250 ok\r\n");
  ts_client(f.t, "DATA\r\n");
  ts_server(f.t, "354 go\r\n");
  ts_client(f.t, BODY ".\r\n");
  ts_server(f.t, "250 ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_has_ext(f.s, "PIPELINING"), 0);
  ck_assert_int_eq(smtpc_session_max_size(f.s), -1);
  tx = fx_queue(&f, "", to, 1, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* ---- greeting and EHLO failures ------------------------------------------- */

START_TEST(test_greeting_refused) {
  fixture f;
  fx_init(&f, &ts_modes[_i]);
  ts_server(f.t, "554 5.7.1 No SMTP service here\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_ERR_GREETING_REFUSED);
  ck_assert_int_eq(smtpc_reply_code(smtpc_session_last_reply(f.s)), 554);
  ck_assert_str_eq(smtpc_reply_text(smtpc_session_last_reply(f.s)),
                   "5.7.1 No SMTP service here");
  /* the session is broken: every later call says so */
  ck_assert_int_eq(smtpc_session_open(f.s), SMTPC_ERR_GREETING_REFUSED);
  ck_assert_int_eq(smtpc_session_run(f.s), SMTPC_ERR_GREETING_REFUSED);
  fx_fini(&f);
}
END_TEST

START_TEST(test_greeting_421) {
  fixture f;
  fx_init(&f, &ts_modes[_i]);
  ts_server(f.t, "421 4.3.2 Too busy, try later\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_ERR_SERVICE_CLOSING);
  fx_fini(&f);
}
END_TEST

START_TEST(test_ehlo_and_helo_rejected) {
  fixture f;
  fx_init(&f, NULL);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "500 what?\r\n");
  ts_client(f.t, "HELO client.test\r\n");
  ts_server(f.t, "501 bad name\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_ERR_REPLY_PERMANENT);
  ck_assert_int_eq(smtpc_reply_code(smtpc_session_last_reply(f.s)), 501);
  fx_fini(&f);
}
END_TEST

START_TEST(test_ehlo_temporary) {
  fixture f;
  fx_init(&f, NULL);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "450 later\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_ERR_REPLY_TEMPORARY);
  fx_fini(&f);
}
END_TEST

/* ---- recipient outcomes ----------------------------------------------------- */

START_TEST(test_partial_acceptance) {
  static const char *const to[] = {"good@example.org", "bad@example.org",
                                   "later@example.org"};
  fixture f;
  smtpc_txn *tx;
  const smtpc_reply *r;
  fx_init(&f, &ts_modes[_i]);
  script_open_pipe(f.t);
  ts_client(f.t, "MAIL FROM:<a@example.com> SIZE=21\r\n"
                 "RCPT TO:<good@example.org>\r\nRCPT TO:<bad@example.org>\r\n"
                 "RCPT TO:<later@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                 "550-5.1.1 <bad@example.org>: Recipient address rejected:\r\n"
                 "550 5.1.1 User unknown\r\n"
                 "450 4.2.0 <later@example.org>: try again\r\n"
                 "354 go\r\n");
  ts_client(f.t, BODY ".\r\n");
  ts_server(f.t, "250 2.0.0 Ok: queued as Q9\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "a@example.com", to, 3, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_ERR_PARTIAL);
  ck_assert_uint_eq(smtpc_txn_rcpt_count(tx), 3);
  ck_assert_uint_eq(smtpc_txn_accepted_count(tx), 1);
  ck_assert_str_eq(smtpc_txn_rcpt(tx, 1), "bad@example.org");
  r = smtpc_txn_rcpt_reply(tx, 1);
  ck_assert_int_eq(smtpc_reply_code(r), 550);
  ck_assert_str_eq(smtpc_reply_enhanced(r), "5.1.1");
  ck_assert_str_eq(smtpc_reply_text(r), "<bad@example.org>: Recipient address "
                                        "rejected:\nUser unknown");
  ck_assert_uint_eq(smtpc_reply_line_count(r), 2);
  ck_assert_str_eq(smtpc_reply_line(r, 1), "550 5.1.1 User unknown");
  r = smtpc_txn_rcpt_reply(tx, 2);
  ck_assert_int_eq(smtpc_reply_code(r), 450);
  ck_assert_str_eq(smtpc_reply_enhanced(r), "4.2.0");
  ck_assert_str_eq(smtpc_txn_queue_id(tx), "Q9");
  ck_assert_ptr_null(smtpc_txn_rcpt(tx, 3));
  ck_assert_ptr_null(smtpc_txn_rcpt_reply(tx, 3));
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* All recipients rejected and DATA properly rejected: no body byte is sent,
 * and the next transaction starts with RSET (MAIL had been accepted). */
START_TEST(test_all_rcpts_rejected_data_rejected) {
  static const char *const to[] = {"x@example.org", "y@example.org"};
  fixture f;
  smtpc_txn *t1, *t2;
  fx_init(&f, &ts_modes[_i]);
  script_open_pipe(f.t);
  ts_client(f.t, "MAIL FROM:<a@example.com> SIZE=21\r\n"
                 "RCPT TO:<x@example.org>\r\nRCPT TO:<y@example.org>\r\n"
                 "DATA\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n550 5.1.1 no\r\n550 5.1.1 no\r\n"
                 "554 5.5.1 Error: no valid recipients\r\n");
  ts_client_flight(f.t, "RSET\r\nMAIL FROM:<a@example.com> SIZE=21\r\n"
                        "RCPT TO:<x@example.org>\r\nRCPT TO:<y@example.org>\r\n"
                        "DATA\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                 "250 2.1.5 Ok\r\n354 go\r\n");
  ts_client(f.t, BODY ".\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, "a@example.com", to, 2, BODY);
  t2 = fx_queue(&f, "a@example.com", to, 2, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_ERR_NO_RECIPIENTS);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_reply(t1)), 554);
  ck_assert_int_eq(smtpc_txn_step(t1), SMTPC_STEP_DATA);
  ck_assert_uint_eq(smtpc_txn_accepted_count(t1), 0);
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_OK);
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  fx_fini(&f);
}
END_TEST

/* RFC 2920 3.1: DATA accepted although no recipient was: send a lone dot. */
START_TEST(test_all_rcpts_rejected_data_354) {
  static const char *const to[] = {"x@example.org"};
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i]);
  script_open_pipe(f.t);
  ts_client(f.t, "MAIL FROM:<a@example.com> SIZE=21\r\n"
                 "RCPT TO:<x@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n550 5.1.1 no\r\n354 go\r\n");
  ts_client(f.t, ".\r\n");
  ts_server(f.t, "554 5.5.1 no valid recipients\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "a@example.com", to, 1, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_ERR_NO_RECIPIENTS);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* Without pipelining, no DATA is sent when every RCPT failed. */
START_TEST(test_unpipelined_no_rcpt_no_data) {
  static const char *const to[] = {"x@example.org"};
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i]);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "250 mx\r\n");
  ts_client(f.t, "MAIL FROM:<a@example.com>\r\n");
  ts_server(f.t, "250 ok\r\n");
  ts_client(f.t, "RCPT TO:<x@example.org>\r\n");
  ts_server(f.t, "550 no such user\r\n");
  ts_client(f.t, "QUIT\r\n");
  ts_server(f.t, "221 bye\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "a@example.com", to, 1, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_ERR_NO_RECIPIENTS);
  ck_assert_int_eq(fx_quit(&f), SMTPC_OK);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

START_TEST(test_mail_rejected_pipelined) {
  static const char *const to[] = {"x@example.org"};
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i]);
  script_open_pipe(f.t);
  ts_client(f.t, "MAIL FROM:<a@example.com> SIZE=21\r\n"
                 "RCPT TO:<x@example.org>\r\nDATA\r\n");
  ts_server(f.t, "553 5.7.1 Sender rejected\r\n503 5.5.1 need MAIL\r\n"
                 "503 5.5.1 need RCPT\r\n");
  ts_client(f.t, "NOOP\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "a@example.com", to, 1, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_ERR_REPLY_PERMANENT);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_reply(tx)), 553);
  ck_assert_int_eq(smtpc_txn_step(tx), SMTPC_STEP_MAIL);
  ck_assert_str_eq(smtpc_reply_text(smtpc_txn_reply(tx)), "Sender rejected");
  /* MAIL failed, so no transaction is open: no RSET is owed */
  {
    int rv;
    TS_LOOP(rv, smtpc_session_noop(f.s));
    ck_assert_int_eq(rv, SMTPC_OK);
  }
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* Review finding 2: a server that answers 354 to the DATA of a transaction
 * whose MAIL it refused now reads message text.  The next envelope must not
 * be written into it, and no "." may end a message nobody composed: the
 * session fails (never reused), and the next transaction is not sent. */
START_TEST(test_354_after_failed_mail_pipelined) {
  static const char *const to[] = {"x@example.org"};
  fixture f;
  smtpc_txn *tx, *tx2;
  fx_init(&f, &ts_modes[_i]);
  script_open_pipe(f.t);
  ts_client(f.t, "MAIL FROM:<a@example.com> SIZE=21\r\n"
                 "RCPT TO:<x@example.org>\r\nDATA\r\n");
  ts_server(f.t, "550 5.7.1 sender rejected\r\n503 5.5.1 need MAIL first\r\n"
                 "354 go ahead\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "a@example.com", to, 1, BODY);
  tx2 = fx_queue(&f, "a@example.com", to, 1, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_ERR_PROTOCOL);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_ERR_REPLY_PERMANENT);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_reply(tx)), 550);
  ck_assert_int_eq(smtpc_txn_step(tx), SMTPC_STEP_MAIL);
  ck_assert_int_eq(smtpc_txn_status(tx2), SMTPC_ERR_PROTOCOL);
  ck_assert_int_eq(smtpc_txn_step(tx2), SMTPC_STEP_NONE);
  ck_assert(smtpc_error_is_fatal(SMTPC_ERR_PROTOCOL));
  /* out of step: QUIT would be message text, so none is sent */
  ck_assert_int_eq(fx_quit(&f), SMTPC_OK);
  smtpc_txn_free(tx);
  smtpc_txn_free(tx2);
  fx_fini(&f);
}
END_TEST

/* Review finding 5: a server that answers every RCPT with a 4 KiB reply
 * cannot make the transaction keep 4 KiB (twice) per recipient: it keeps
 * code, enhanced code and a bounded text (smtpc_txn_rcpt_reply()). */
START_TEST(test_rcpt_replies_bounded) {
  enum { N = 200, LINES = 20 };
  static char addr[N][24];
  const char *to[N];
  tu_bytes big = {0}, cmds = {0}, replies = {0};
  fixture f;
  smtpc_txn *tx;
  size_t i, before, kept;
  char line[300];
  for (i = 0; i < LINES; i++) {
    snprintf(line, sizeof(line), "250%c2.1.5 %02zu%.198s\r\n",
             i + 1 < LINES ? '-' : ' ', i,
             "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
             "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
             "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
             "zzzzzz");
    tu_bytes_append_str(&big, line);
  }
  fx_init(&f, NULL);
  script_open_pipe(f.t);
  tu_bytes_append_str(&cmds, "MAIL FROM:<a@example.com> SIZE=21\r\n");
  tu_bytes_append_str(&replies, "250 2.1.0 Ok\r\n");
  for (i = 0; i < N; i++) {
    snprintf(addr[i], sizeof(addr[i]), "r%zu@example.org", i);
    to[i] = addr[i];
    snprintf(line, sizeof(line), "RCPT TO:<%.20s>\r\n", addr[i]);
    tu_bytes_append_str(&cmds, line);
    tu_bytes_append(&replies, big.p, big.n);
    if (i + 1 == 128 || i + 1 == N) { /* RCPT groups of 128, DATA last */
      if (i + 1 == N) {
        tu_bytes_append_str(&cmds, "DATA\r\n");
        tu_bytes_append_str(&replies, "354 go\r\n");
      }
      tu_bytes_append(&cmds, "", 1);
      tu_bytes_append(&replies, "", 1);
      ts_client(f.t, (const char *)cmds.p);
      ts_server(f.t, (const char *)replies.p);
      cmds.n = replies.n = 0;
    }
  }
  ts_client(f.t, BODY ".\r\n");
  ts_server(f.t, "250 2.0.0 Ok: queued as Q1\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "a@example.com", to, N, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  ck_assert_uint_eq(smtpc_txn_accepted_count(tx), N);
  /* the first replies keep whole lines up to 512 octets: two of 210 */
  ck_assert_uint_eq(smtpc_reply_line_count(smtpc_txn_rcpt_reply(tx, 0)), 2);
  ck_assert_str_eq(smtpc_reply_enhanced(smtpc_txn_rcpt_reply(tx, 0)), "2.1.5");
  ck_assert_uint_eq(strlen(smtpc_reply_text(smtpc_txn_rcpt_reply(tx, 0))),
                    200 + 1 + 200);
  /* past the 64 KiB budget: the first 80 octets of the first line */
  ck_assert_uint_eq(smtpc_reply_line_count(smtpc_txn_rcpt_reply(tx, N - 1)), 1);
  ck_assert_uint_eq(
      strlen(smtpc_reply_line(smtpc_txn_rcpt_reply(tx, N - 1), 0)), 80);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_rcpt_reply(tx, N - 1)), 250);
  ck_assert_str_eq(smtpc_reply_enhanced(smtpc_txn_rcpt_reply(tx, N - 1)),
                   "2.1.5");
  /* what the transaction holds: was 200 x 8.4 KiB = 1.6 MiB */
  before = f.a.live_bytes;
  smtpc_txn_free(tx);
  kept = before - f.a.live_bytes;
  ck_assert_msg(kept <= 66 * 1024 + N * 384 + 8192,
                "the transaction kept %zu bytes for %d recipients", kept, N);
  fx_fini(&f);
  tu_bytes_free(&big);
  tu_bytes_free(&cmds);
  tu_bytes_free(&replies);
}
END_TEST

/* Memory mode by hand: what the session wants at each point, the exact
 * bytes both ways, and the calls that do not belong. */
static size_t take_out(smtpc_session *s, char *buf, size_t cap) {
  const unsigned char *p;
  size_t n = smtpc_session_mem_send(s, &p);
  ck_assert_uint_lt(n, cap);
  memcpy(buf, p, n);
  buf[n] = '\0';
  ck_assert_int_eq(smtpc_session_mem_sent(s, n), SMTPC_OK);
  return n;
}

static void give_in(smtpc_session *s, const char *str) {
  ck_assert_int_eq(smtpc_session_mem_recv(s, str, strlen(str)), SMTPC_OK);
}

START_TEST(test_memory_mode_by_hand) {
  static const char *const to[] = {"bob@example.org"};
  tu_alloc a;
  smtpc_session *s;
  smtpc_io io;
  smtpc_txn *tx;
  smtpc_body b;
  char out[512];
  const unsigned char *p;
  tu_alloc_init(&a, 0);
  ck_assert_int_eq(smtpc_session_new(&s, &a.mem), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_ehlo_name(s, "client.test"), SMTPC_OK);
  /* not in memory mode: the memory calls refuse */
  ck_assert_int_eq(smtpc_session_mem_recv(s, "x", 1), SMTPC_ERR_INVALID_STATE);
  ck_assert_int_eq(smtpc_session_mem_error(s, SMTPC_ERR_EOF),
                   SMTPC_ERR_INVALID_STATE);
  ck_assert_uint_eq(smtpc_session_mem_send(s, &p), 0);
  ck_assert_ptr_null(p);
  ck_assert_int_eq(smtpc_session_set_memory_mode(s, 4),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_session_set_memory_mode(s, SMTPC_MEM_STARTTLS),
                   SMTPC_OK);
  memset(&io, 0, sizeof(io));
  io.version = SMTPC_IO_VERSION;
  io.send = NULL;
  ck_assert_int_eq(smtpc_session_set_io(s, &io), SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_session_set_tls_policy(s, SMTPC_SECURITY_STARTTLS),
                   SMTPC_OK);

  /* greeting */
  ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_WANT_READ);
  ck_assert_int_eq(smtpc_session_want_read(s), 1);
  ck_assert_int_eq(smtpc_session_want_write(s), 0);
  ck_assert_int_eq(smtpc_session_current_timeout(s), 5 * 60 * 1000);
  give_in(s, "220 mx.example ESMTP\r\n");
  ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_WANT_WRITE);
  ck_assert_int_eq(smtpc_session_want_write(s), 1);
  ck_assert_int_eq(smtpc_session_mem_sent(s, 1000), SMTPC_ERR_INVALID_ARGUMENT);
  take_out(s, out, sizeof(out));
  ck_assert_str_eq(out, "EHLO client.test\r\n");
  ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_WANT_READ);
  give_in(s, "250-mx.example\r\n250 STARTTLS\r\n");
  ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_WANT_WRITE);
  take_out(s, out, sizeof(out));
  ck_assert_str_eq(out, "STARTTLS\r\n");
  ck_assert_int_eq(smtpc_session_starttls_done(s, SMTPC_OK, 1),
                   SMTPC_ERR_INVALID_STATE); /* not asked yet */
  ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_WANT_READ);
  give_in(s, "220 go ahead\r\n");
  /* the upgrade: nothing to send, nothing to read */
  ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_WANT_WRITE);
  ck_assert_int_eq(smtpc_session_want_starttls(s), 1);
  ck_assert_int_eq(smtpc_session_want_write(s), 0);
  ck_assert_int_eq(smtpc_session_want_read(s), 0);
  ck_assert_int_eq(smtpc_session_is_secure(s), 0);
  ck_assert_int_eq(smtpc_session_starttls_done(s, SMTPC_OK, 1), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_is_secure(s), 1);
  ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_WANT_WRITE);
  take_out(s, out, sizeof(out));
  ck_assert_str_eq(out, "EHLO client.test\r\n");
  ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_WANT_READ);
  /* a reply in two pieces */
  give_in(s, "250-mx.example\r\n250 PIPE");
  ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_WANT_READ);
  give_in(s, "LINING\r\n");
  ck_assert_int_eq(smtpc_session_open(s), SMTPC_OK);

  /* a pipelined transaction */
  smtpc_body_init_memory(&b, BODY, strlen(BODY));
  ck_assert_int_eq(smtpc_session_queue(s, "a@example.com", to, 1, &b, &tx),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_session_run(s), SMTPC_ERR_WANT_WRITE);
  take_out(s, out, sizeof(out));
  ck_assert_str_eq(out, "MAIL FROM:<a@example.com>\r\n"
                        "RCPT TO:<bob@example.org>\r\nDATA\r\n");
  ck_assert_int_eq(smtpc_session_run(s), SMTPC_ERR_WANT_READ);
  give_in(s, "250 ok\r\n250 ok\r\n354 go\r\n");
  ck_assert_int_eq(smtpc_session_run(s), SMTPC_ERR_WANT_WRITE);
  take_out(s, out, sizeof(out));
  ck_assert_str_eq(out, BODY ".\r\n");
  ck_assert_int_eq(smtpc_session_run(s), SMTPC_ERR_WANT_READ);
  ck_assert_int_eq(smtpc_session_current_timeout(s), 10 * 60 * 1000);
  give_in(s, "250 2.0.0 Ok: queued as QQ1\r\n");
  ck_assert_int_eq(smtpc_session_run(s), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  ck_assert_str_eq(smtpc_txn_queue_id(tx), "QQ1");
  smtpc_txn_free(tx);

  /* QUIT, and the server closes after 221: the normal end */
  ck_assert_int_eq(smtpc_session_quit(s), SMTPC_ERR_WANT_WRITE);
  take_out(s, out, sizeof(out));
  ck_assert_str_eq(out, "QUIT\r\n");
  ck_assert_int_eq(smtpc_session_quit(s), SMTPC_ERR_WANT_READ);
  give_in(s, "221 bye\r\n");
  ck_assert_int_eq(smtpc_session_mem_error(s, SMTPC_ERR_EOF), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_mem_error(s, 5), SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_session_mem_recv(s, "x", 1), SMTPC_ERR_INVALID_STATE);
  ck_assert_int_eq(smtpc_session_quit(s), SMTPC_OK);
  smtpc_session_free(s);
  TU_ASSERT_NO_LEAKS(&a);
}
END_TEST

/* Memory mode keeps the STARTTLS injection check, the EOF rule and the
 * TLS policy: bytes after the 220, a close mid-reply, an insecure upgrade. */
START_TEST(test_memory_mode_failures) {
  tu_alloc a;
  smtpc_session *s;
  char out[256];
  int k;
  for (k = 0; k < 3; k++) {
    tu_alloc_init(&a, 0);
    ck_assert_int_eq(smtpc_session_new(&s, &a.mem), SMTPC_OK);
    ck_assert_int_eq(smtpc_session_set_ehlo_name(s, "client.test"), SMTPC_OK);
    ck_assert_int_eq(smtpc_session_set_memory_mode(s, SMTPC_MEM_STARTTLS),
                     SMTPC_OK);
    ck_assert_int_eq(smtpc_session_set_tls_policy(s, SMTPC_SECURITY_STARTTLS),
                     SMTPC_OK);
    ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_WANT_READ);
    give_in(s, "220 mx ESMTP\r\n");
    ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_WANT_WRITE);
    take_out(s, out, sizeof(out));
    ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_WANT_READ);
    if (k == 1) {
      give_in(s, "250-mx\r\n250 STAR");
      ck_assert_int_eq(smtpc_session_mem_error(s, SMTPC_ERR_EOF), SMTPC_OK);
      ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_EOF);
      ck_assert_uint_eq(smtpc_session_mem_send(s, &(const unsigned char *){0}),
                        0);
      smtpc_session_free(s);
      TU_ASSERT_NO_LEAKS(&a);
      continue;
    }
    give_in(s, "250-mx\r\n250 STARTTLS\r\n");
    ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_WANT_WRITE);
    take_out(s, out, sizeof(out));
    ck_assert_str_eq(out, "STARTTLS\r\n");
    ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_WANT_READ);
    if (k == 0) {
      /* CVE-2021-22947 class: a reply smuggled in clear behind the 220 */
      give_in(s, "220 go\r\n250 injected\r\n");
      ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_UNEXPECTED_DATA);
      ck_assert_int_eq(smtpc_session_want_starttls(s), 0);
    } else {
      give_in(s, "220 go\r\n");
      ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_WANT_WRITE);
      /* encrypted but not verified: the required policy is not met */
      ck_assert_int_eq(smtpc_session_starttls_done(s, SMTPC_OK, 0),
                       SMTPC_ERR_STARTTLS_UNAVAILABLE);
      ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_STARTTLS_UNAVAILABLE);
    }
    ck_assert_uint_eq(smtpc_session_mem_send(s, &(const unsigned char *){0}),
                      0);
    smtpc_session_free(s);
    TU_ASSERT_NO_LEAKS(&a);
  }
}
END_TEST

START_TEST(test_data_end_rejected) {
  static const char *const to[] = {"x@example.org"};
  static const int codes[] = {452, 554};
  static const int want[] = {SMTPC_ERR_REPLY_TEMPORARY,
                             SMTPC_ERR_REPLY_PERMANENT};
  size_t k;
  for (k = 0; k < 2; k++) {
    fixture f;
    smtpc_txn *tx;
    char line[64];
    fx_init(&f, NULL);
    script_open_pipe(f.t);
    ts_client(f.t, "MAIL FROM:<a@example.com> SIZE=21\r\n"
                   "RCPT TO:<x@example.org>\r\nDATA\r\n");
    ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
    ts_client(f.t, BODY ".\r\n");
    snprintf(line, sizeof(line), "%d %d.3.4 Message rejected\r\n", codes[k],
             codes[k] / 100);
    ts_server(f.t, line);
    ck_assert_int_eq(fx_open(&f), SMTPC_OK);
    tx = fx_queue(&f, "a@example.com", to, 1, BODY);
    ck_assert_int_eq(fx_run(&f), SMTPC_OK);
    ck_assert_int_eq(smtpc_txn_status(tx), want[k]);
    ck_assert_int_eq(smtpc_reply_code(smtpc_txn_reply(tx)), codes[k]);
    smtpc_txn_free(tx);
    fx_fini(&f);
  }
}
END_TEST

/* ---- 421 and disconnects at every step -------------------------------------- */

/* The pipelined dialogue as separate server replies; step k is replaced
 * by 421 or a close. */
static const char *const steps[] = {"250 2.1.0 Ok\r\n", "250 2.1.5 Ok\r\n",
                                    "354 go\r\n",
                                    "250 2.0.0 Ok: queued as Z\r\n"};

static void run_failure_at(size_t k, int how, const ts_mode *mode) {
  static const char *const to[] = {"x@example.org"};
  fixture f;
  smtpc_txn *tx;
  size_t i;
  int rv;
  fx_init(&f, mode);
  ts_set_abort(f.t, 1);
  script_open_pipe(f.t);
  ts_client(f.t, "MAIL FROM:<a@example.com> SIZE=21\r\n"
                 "RCPT TO:<x@example.org>\r\nDATA\r\n");
  for (i = 0; i < k; i++) {
    ts_server(f.t, steps[i]);
    if (i == 2)
      ts_client(f.t, BODY ".\r\n");
  }
  if (how == 0)
    ts_server(f.t, "421 4.4.2 Timeout, closing\r\n");
  else if (how == 1)
    ts_close(f.t);
  else
    ts_io_error(f.t);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "a@example.com", to, 1, BODY);
  TS_LOOP(rv, smtpc_session_run(f.s));
  ck_assert_int_eq(rv, how == 0   ? SMTPC_ERR_SERVICE_CLOSING
                       : how == 1 ? SMTPC_ERR_EOF
                                  : SMTPC_ERR_IO);
  /* nothing is reported as sent */
  ck_assert_int_eq(smtpc_txn_status(tx), rv);
  {
    /* the step it broke at; after end-of-data the outcome is unknown */
    static const smtpc_step at[] = {SMTPC_STEP_MAIL, SMTPC_STEP_RCPT,
                                    SMTPC_STEP_DATA, SMTPC_STEP_DATA_END};
    ck_assert_int_eq(smtpc_txn_step(tx), at[k]);
  }
  ck_assert_int_eq(smtpc_error_is_fatal(rv), 1);
  ck_assert_int_eq(smtpc_session_run(f.s), rv);
  smtpc_txn_free(tx);
  fx_fini(&f);
}

START_TEST(test_421_every_step) {
  size_t k;
  for (k = 0; k < 4; k++)
    run_failure_at(k, 0, &ts_modes[_i]);
}
END_TEST

START_TEST(test_close_every_step) {
  size_t k;
  for (k = 0; k < 4; k++)
    run_failure_at(k, 1, &ts_modes[_i]);
}
END_TEST

START_TEST(test_io_error_every_step) {
  size_t k;
  for (k = 0; k < 4; k++)
    run_failure_at(k, 2, NULL);
}
END_TEST

START_TEST(test_close_during_open) {
  fixture f;
  fx_init(&f, &ts_modes[_i]);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "250-mx\r\n250-PIPE");
  ts_close(f.t);
  ck_assert_int_eq(fx_open(&f), SMTPC_ERR_EOF);
  fx_fini(&f);
}
END_TEST

/* ---- malformed replies ------------------------------------------------------- */

START_TEST(test_garbage_reply) {
  static const char *const bad[] = {"hello there\r\n",
                                    "2x0 ok\r\n",
                                    "250-a\r\n251 b\r\n",
                                    "250/x\r\n",
                                    "250 a\0b\r\n",
                                    "220\rfoo\r\n",
                                    "\r\n"};
  static const size_t badlen[] = {13, 8, 14, 7, 9, 9, 2};
  size_t k;
  for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
    fixture f;
    fx_init(&f, NULL);
    ts_server_n(f.t, bad[k], badlen[k]);
    ck_assert_msg(fx_open(&f) == SMTPC_ERR_PROTOCOL, "case %zu", k);
    fx_fini(&f);
  }
}
END_TEST

START_TEST(test_overlong_reply_line) {
  fixture f;
  char line[200];
  fx_init(&f, &ts_modes[_i]);
  ck_assert_int_eq(smtpc_session_set_limit(f.s, SMTPC_LIMIT_REPLY_LINE, 100),
                   SMTPC_OK);
  memset(line, 'x', sizeof(line));
  memcpy(line, "220 ", 4);
  ts_server_n(f.t, line, sizeof(line)); /* never ends */
  ck_assert_int_eq(fx_open(&f), SMTPC_ERR_REPLY_LINE_TOO_LONG);
  fx_fini_partial(&f);
}
END_TEST

/* An endless multi-line reply stops at the line limit. */
START_TEST(test_endless_continuation) {
  fixture f;
  int i;
  fx_init(&f, NULL);
  ck_assert_int_eq(smtpc_session_set_limit(f.s, SMTPC_LIMIT_REPLY_LINES, 10),
                   SMTPC_OK);
  for (i = 0; i < 11; i++)
    ts_server(f.t, "220-still going\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_ERR_REPLY_TOO_LARGE);
  fx_fini(&f);
}
END_TEST

/* ---- body ---------------------------------------------------------------- */

START_TEST(test_body_stuffing_and_line_ends) {
  static const char *const to[] = {"x@example.org"};
  /* bare LF, bare CR, leading dots, a forged end-of-data, no final EOL */
  static const char body[] = "Subject: dots\n\n.hidden\r\n.\r\nmid\rline\n"
                             "..two\r\n\r\n.\nend";
  static const char wire[] = "Subject: dots\r\n\r\n..hidden\r\n..\r\nmid\r\n"
                             "line\r\n...two\r\n\r\n..\r\nend\r\n.\r\n";
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i]);
  script_open_pipe(f.t);
  ts_client(f.t, "MAIL FROM:<a@example.com> SIZE=57\r\n"
                 "RCPT TO:<x@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  ts_client(f.t, wire);
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "a@example.com", to, 1, body);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

typedef struct stream_src {
  const char *data;
  size_t len, off;
  size_t step;
  int flip;    /* return WANT_READ every other call */
  int fail_at; /* fail once off reaches this (-1 never) */
} stream_src;

static smtpc_ssize stream_read(void *ctx, unsigned char *buf, size_t len) {
  stream_src *s = ctx;
  size_t n = s->len - s->off;
  if (s->flip && (s->flip ^= 2) == 3)
    return SMTPC_ERR_WANT_READ;
  if (s->fail_at >= 0 && s->off >= (size_t)s->fail_at)
    return SMTPC_ERR_IO;
  if (n > len)
    n = len;
  if (n > s->step)
    n = s->step;
  memcpy(buf, s->data + s->off, n);
  s->off += n;
  return (smtpc_ssize)n;
}

START_TEST(test_streamed_body) {
  static const char *const to[] = {"x@example.org"};
  static const char body[] = "A: b\n\n.x\nlast";
  fixture f;
  smtpc_txn *tx;
  smtpc_body b;
  stream_src src = {body, sizeof(body) - 1, 0, 3, 1, -1};
  fx_init(&f, &ts_modes[_i]);
  script_open_pipe(f.t);
  /* unknown size: no SIZE=; 8BITMIME offered and content unknown: declared */
  ts_client(f.t, "MAIL FROM:<a@example.com> BODY=8BITMIME\r\n"
                 "RCPT TO:<x@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  ts_client(f.t, "A: b\r\n\r\n..x\r\nlast\r\n.\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  smtpc_body_init_stream(&b, stream_read, &src, -1);
  ck_assert_int_eq(smtpc_session_queue(f.s, "a@example.com", to, 1, &b, &tx),
                   SMTPC_OK);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* A body source failing mid-message: the connection is closed before the
 * end-of-data sequence, so the server cannot take a truncated message. */
START_TEST(test_body_read_error_aborts) {
  static const char *const to[] = {"x@example.org"};
  static const char body[] = "Subject: x\r\n\r\nline one\r\nline two\r\n";
  fixture f;
  smtpc_txn *tx;
  smtpc_body b;
  stream_src src = {body, sizeof(body) - 1, 0, 8, 0, 16};
  size_t sent_len;
  const unsigned char *sent;
  int rv;
  fx_init(&f, NULL);
  ts_set_abort(f.t, 0);
  script_open_pipe(f.t);
  ts_client(f.t, "MAIL FROM:<a@example.com> SIZE=34 BODY=8BITMIME\r\n"
                 "RCPT TO:<x@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  smtpc_body_init_stream(&b, stream_read, &src, (int64_t)sizeof(body) - 1);
  ck_assert_int_eq(smtpc_session_queue(f.s, "a@example.com", to, 1, &b, &tx),
                   SMTPC_OK);
  TS_LOOP(rv, smtpc_session_run(f.s));
  ck_assert_msg(rv == SMTPC_ERR_BODY_READ, "rv %d: %s", rv,
                ts_mismatch(f.t) ? ts_mismatch(f.t) : "");
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_ERR_BODY_READ);
  ck_assert_uint_eq(ts_close_calls(f.t), 1);
  sent = ts_sent(f.t, &sent_len);
  ck_assert_ptr_null(strstr((const char *)sent, "\r\n.\r\n"));
  smtpc_txn_free(tx);
  smtpc_session_free(f.s);
  ts_free(f.t);
  TU_ASSERT_NO_LEAKS(&f.a);
}
END_TEST

START_TEST(test_8bit_needs_8bitmime) {
  static const char *const to[] = {"x@example.org"};
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, NULL);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "250-mx\r\n250 PIPELINING\r\n");
  ts_client(f.t, "NOOP\r\n");
  ts_server(f.t, "250 ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  /* 8-bit in the body (in the header it would need SMTPUTF8: check_intl) */
  tx =
      fx_queue(&f, "a@example.com", to, 1, "Subject: t\r\n\r\ncaf\xc3\xa9\r\n");
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_ERR_8BIT_UNSUPPORTED);
  ck_assert_int_eq(smtpc_txn_step(tx), SMTPC_STEP_NONE);
  {
    int rv;
    TS_LOOP(rv, smtpc_session_noop(f.s)); /* nothing else was sent */
    ck_assert_int_eq(rv, SMTPC_OK);
  }
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

START_TEST(test_8bit_declared) {
  static const char *const to[] = {"x@example.org"};
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, NULL);
  script_open_pipe(f.t);
  ts_client(f.t, "MAIL FROM:<a@example.com> SIZE=21 BODY=8BITMIME\r\n"
                 "RCPT TO:<x@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  ts_client(f.t, "Subject: t\r\n\r\ncaf\xc3\xa9\r\n.\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  /* 8-bit in the body only: BODY=8BITMIME, no SMTPUTF8 (RFC 6531 3.4) */
  tx =
      fx_queue(&f, "a@example.com", to, 1, "Subject: t\r\n\r\ncaf\xc3\xa9\r\n");
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

START_TEST(test_size_limit) {
  static const char *const to[] = {"x@example.org"};
  fixture f;
  smtpc_txn *tx;
  char big[200];
  fx_init(&f, NULL);
  memset(big, 'a', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "250-mx\r\n250 SIZE 100\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_max_size(f.s), 100);
  tx = fx_queue(&f, "a@example.com", to, 1, big);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_ERR_MESSAGE_TOO_BIG);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

START_TEST(test_body_line_too_long) {
  static const char *const to[] = {"x@example.org"};
  fixture f;
  smtpc_txn *tx;
  char *big = malloc(1200);
  fx_init(&f, NULL);
  memset(big, 'a', 999);
  big[999] = '\0';
  script_open_pipe(f.t);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "a@example.com", to, 1, big);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_ERR_BODY_LINE_TOO_LONG);
  smtpc_txn_free(tx);
  fx_fini(&f);
  free(big);
}
END_TEST

/* "." and n 'x': a line of n + 1 content octets that starts with a dot. */
static char *dot_line(size_t n, const char *eol) {
  char *p = malloc(n + 1 + strlen(eol) + 1);
  ck_assert_ptr_nonnull(p);
  p[0] = '.';
  memset(p + 1, 'x', n);
  strcpy(p + 1 + n, eol);
  return p;
}

/* RFC 5321 4.5.3.1.6: a line of 998 octets starting with "." is legal (999
 * on the wire, the stuffed dot is not counted); one of 999 is refused before
 * MAIL.  Both memory bodies, queued together: only the first is sent. */
START_TEST(test_body_dot_line_998) {
  static const char *const to[] = {"x@example.org"};
  char *ok = dot_line(997, "\r\n"), *wire = dot_line(998, "\r\n.\r\n");
  char *big = dot_line(998, "\r\n");
  fixture f;
  smtpc_txn *t1, *t2;
  wire[1] = '.'; /* "..", then 997 'x' */
  fx_init(&f, &ts_modes[_i]);
  script_open_pipe(f.t);
  ts_client(f.t, "MAIL FROM:<a@example.com> SIZE=1000\r\n"
                 "RCPT TO:<x@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  ts_client(f.t, wire);
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, "a@example.com", to, 1, ok);
  t2 = fx_queue(&f, "a@example.com", to, 1, big);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_ERR_BODY_LINE_TOO_LONG);
  ck_assert_int_eq(smtpc_txn_step(t2), SMTPC_STEP_NONE);
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  fx_fini(&f);
  free(ok);
  free(wire);
  free(big);
}
END_TEST

/* The same 998-octet dot line from a streamed body, read in pieces that
 * split it at the dot and inside the line. */
START_TEST(test_streamed_dot_line_998) {
  static const char *const to[] = {"x@example.org"};
  char *line = dot_line(997, "\r\n"), *wire = dot_line(998, "\r\n.\r\n");
  static const size_t reads[] = {1, 7, 998, 999, 1000, 4096};
  size_t k;
  wire[1] = '.';
  for (k = 0; k < sizeof(reads) / sizeof(reads[0]); k++) {
    fixture f;
    smtpc_txn *tx;
    smtpc_body b;
    stream_src src = {line, strlen(line), 0, reads[k], 1, -1};
    fx_init(&f, &ts_modes[_i]);
    script_open_pipe(f.t);
    ts_client(f.t, "MAIL FROM:<a@example.com> BODY=8BITMIME\r\n"
                   "RCPT TO:<x@example.org>\r\nDATA\r\n");
    ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
    ts_client(f.t, wire);
    ts_server(f.t, "250 2.0.0 Ok\r\n");
    ck_assert_int_eq(fx_open(&f), SMTPC_OK);
    smtpc_body_init_stream(&b, stream_read, &src, -1);
    ck_assert_int_eq(smtpc_session_queue(f.s, "a@example.com", to, 1, &b, &tx),
                     SMTPC_OK);
    ck_assert_int_eq(fx_run(&f), SMTPC_OK);
    ck_assert_msg(smtpc_txn_status(tx) == SMTPC_OK, "read size %zu: %s",
                  reads[k], smtpc_strerror(smtpc_txn_status(tx)));
    smtpc_txn_free(tx);
    fx_fini(&f);
  }
  free(line);
  free(wire);
}
END_TEST

/* ---- a memory body changed between run() calls ---------------------------
 *
 * A transport that answers the first read after "DATA\r\n" has gone out
 * with WANT_READ, as a non-blocking socket does before the 354 arrives: the
 * caller gets control after MAIL (the body scanned) and before the body is
 * sent, and may change its buffer (security review 2026-12, finding 4). */
typedef struct hold_io {
  smtpc_io io; /* what the session uses */
  smtpc_io inner;
  ts *t;
  int held;
} hold_io;

static smtpc_ssize hold_send(void *ctx, const unsigned char *buf, size_t len) {
  hold_io *h = ctx;
  return h->inner.send(h->inner.ctx, buf, len);
}

static smtpc_ssize hold_recv(void *ctx, unsigned char *buf, size_t len) {
  hold_io *h = ctx;
  size_t n;
  const unsigned char *sent = ts_sent(h->t, &n);
  if (!h->held && n >= 6 && memcmp(sent + n - 6, "DATA\r\n", 6) == 0) {
    h->held = 1;
    return SMTPC_ERR_WANT_READ;
  }
  return h->inner.recv(h->inner.ctx, buf, len);
}

static void hold_set_timeout(void *ctx, unsigned ms) {
  hold_io *h = ctx;
  h->inner.set_timeout(h->inner.ctx, ms);
}

static void hold_close(void *ctx) {
  hold_io *h = ctx;
  h->inner.close(h->inner.ctx);
}

static void hold_init(fixture *f, hold_io *h, const ts_mode *mode) {
  ts_mode cb = {0, 0, 0, 0};
  if (mode != NULL)
    cb = *mode;
  cb.mem = 0; /* the hold is a callback transport around the script */
  fx_init(f, &cb);
  memset(h, 0, sizeof(*h));
  h->inner = f->io;
  h->t = f->t;
  h->io = f->io;
  h->io.ctx = h;
  h->io.send = hold_send;
  h->io.recv = hold_recv;
  h->io.starttls = NULL;
  h->io.set_timeout = hold_set_timeout;
  h->io.close = hold_close;
  ck_assert_int_eq(smtpc_session_set_io(f->s, &h->io), SMTPC_OK);
}

/* Opens (PIPELINING off), queues body and runs until the hold. */
static smtpc_txn *run_to_hold(fixture *f, hold_io *h, const char *body) {
  static const char *const to[] = {"x@example.org"};
  smtpc_txn *tx;
  long spins = 0;
  int rv;
  ck_assert_int_eq(fx_open(f), SMTPC_OK);
  tx = fx_queue(f, "a@example.com", to, 1, body);
  do
    rv = smtpc_session_run(f->s);
  while (!h->held &&
         (rv == SMTPC_ERR_WANT_READ || rv == SMTPC_ERR_WANT_WRITE) &&
         ++spins < TS_MAX_SPINS);
  ck_assert_msg(h->held && rv == SMTPC_ERR_WANT_READ, "run: %d, held %d", rv,
                h->held);
  return tx;
}

static void script_to_data(ts *t, const char *mail) {
  ts_server(t, GREETING);
  ts_client(t, EHLO_CMD);
  ts_server(t, EHLO_PLAIN);
  ts_client(t, mail);
  ts_server(t, "250 2.1.0 Ok\r\n");
  ts_client(t, "RCPT TO:<x@example.org>\r\n");
  ts_server(t, "250 2.1.5 Ok\r\n");
  ts_client(t, "DATA\r\n");
  ts_server(t, "354 go\r\n");
}

/* The review's reproducer: "line one\r" becomes ".\r\nRSET\r\n" after the
 * scan.  Sent as it now is, stuffed: the "." line goes out as "..", RSET
 * is a line of the message, and the only end of data is the library's. */
START_TEST(test_body_changed_after_scan) {
  char body[] = "Subject: a\r\n\r\nline one\r\nline two\r\n";
  fixture f;
  hold_io h;
  smtpc_txn *tx;
  hold_init(&f, &h, &ts_modes[_i]);
  script_to_data(f.t, "MAIL FROM:<a@example.com> SIZE=34\r\n");
  ts_client(f.t, "Subject: a\r\n\r\n"
                 "..\r\nRSET\r\n\r\nline two\r\n.\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  tx = run_to_hold(&f, &h, body);
  memcpy(body + 14, ".\r\nRSET\r\n", 9); /* over "line one\r" */
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* Changed after the scan so that it breaks a promise made in MAIL: a line
 * over 998 octets, or an 8-bit octet without BODY=8BITMIME.  The body
 * writer's own checks refuse it and the connection is closed before any
 * end of data, so the server cannot accept a truncated message. */
START_TEST(test_body_changed_breaks_limits) {
  char body[1200];
  fixture f;
  hold_io h;
  smtpc_txn *tx;
  int err = _i == 0 ? SMTPC_ERR_BODY_LINE_TOO_LONG : SMTPC_ERR_8BIT_UNSUPPORTED;
  memcpy(body, "A: b\r\n\r\n", 8);
  memset(body + 8, 'x', 900);
  memcpy(body + 908, "\r\n", 2);
  memset(body + 910, 'y', 200);
  memcpy(body + 1110, "\r\n", 3); /* 1112 octets and the NUL */
  hold_init(&f, &h, NULL);
  script_to_data(f.t, "MAIL FROM:<a@example.com> SIZE=1112\r\n");
  tx = run_to_hold(&f, &h, body);
  if (_i == 0)
    memcpy(body + 908, "zz", 2); /* one line of 1102 octets */
  else
    body[500] = (char)0xe9;
  ck_assert_int_eq(fx_run(&f), err);
  ck_assert_int_eq(smtpc_txn_status(tx), err);
  ck_assert_uint_eq(ts_close_calls(f.t), 1);
  smtpc_txn_free(tx);
  fx_fini(&f); /* nothing sent after DATA, no end of data */
}
END_TEST

/* ---- connection reuse ------------------------------------------------------- */

START_TEST(test_reuse_checks_with_rset) {
  static const char *const to[] = {"x@example.org"};
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i]);
  script_open_pipe(f.t);
  ts_client(f.t, "MAIL FROM:<a@example.com> SIZE=21\r\n"
                 "RCPT TO:<x@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  ts_client(f.t, BODY ".\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ts_client_flight(f.t, "RSET\r\nMAIL FROM:<a@example.com> SIZE=21\r\n"
                        "RCPT TO:<x@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  ts_client(f.t, BODY ".\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "a@example.com", to, 1, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  smtpc_txn_free(tx);
  tx = fx_queue(&f, "a@example.com", to, 1, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* The server closed the idle connection (or said 421): "reconnect", and
 * the message is not reported as sent. */
START_TEST(test_reuse_after_idle_close) {
  static const char *const to[] = {"x@example.org"};
  int how;
  for (how = 0; how < 2; how++) {
    fixture f;
    smtpc_txn *tx;
    fx_init(&f, NULL);
    ts_set_abort(f.t, 1);
    script_open_pipe(f.t);
    ts_client(f.t, "MAIL FROM:<a@example.com> SIZE=21\r\n"
                   "RCPT TO:<x@example.org>\r\nDATA\r\n");
    ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
    ts_client(f.t, BODY ".\r\n");
    ts_server(f.t, "250 2.0.0 Ok\r\n");
    ts_client(f.t, "RSET\r\nMAIL FROM:<a@example.com> SIZE=21\r\n"
                   "RCPT TO:<x@example.org>\r\nDATA\r\n");
    if (how == 0)
      ts_close(f.t);
    else
      ts_server(f.t, "421 4.4.2 mx.example Error: timeout exceeded\r\n");
    ck_assert_int_eq(fx_open(&f), SMTPC_OK);
    tx = fx_queue(&f, "a@example.com", to, 1, BODY);
    ck_assert_int_eq(fx_run(&f), SMTPC_OK);
    smtpc_txn_free(tx);
    tx = fx_queue(&f, "a@example.com", to, 1, BODY);
    ck_assert_int_eq(fx_run(&f), SMTPC_ERR_SERVICE_CLOSING);
    ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_ERR_SERVICE_CLOSING);
    ck_assert_uint_eq(smtpc_txn_accepted_count(tx), 0);
    smtpc_txn_free(tx);
    fx_fini(&f);
  }
}
END_TEST

/* ---- timeouts ------------------------------------------------------------ */

START_TEST(test_timeouts_armed_per_command) {
  static const char *const to[] = {"x@example.org"};
  fixture f;
  smtpc_txn *tx;
  size_t i, n;
  unsigned seen[16];
  fx_init(&f, NULL);
  ck_assert_int_eq(smtpc_session_set_timeout(f.s, SMTPC_TIMEOUT_GREETING, 11),
                   SMTPC_OK);
  smtpc_session_set_timeout(f.s, SMTPC_TIMEOUT_OTHER, 12);
  smtpc_session_set_timeout(f.s, SMTPC_TIMEOUT_MAIL, 13);
  smtpc_session_set_timeout(f.s, SMTPC_TIMEOUT_RCPT, 14);
  smtpc_session_set_timeout(f.s, SMTPC_TIMEOUT_DATA_INIT, 15);
  smtpc_session_set_timeout(f.s, SMTPC_TIMEOUT_DATA_BLOCK, 16);
  smtpc_session_set_timeout(f.s, SMTPC_TIMEOUT_DATA_END, 17);
  ck_assert_int_eq(smtpc_session_set_timeout(f.s, (smtpc_timeout_kind)7, 1),
                   SMTPC_ERR_INVALID_ARGUMENT);
  script_open_pipe(f.t);
  ts_client(f.t, "MAIL FROM:<a@example.com> SIZE=21\r\n"
                 "RCPT TO:<x@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  ts_client(f.t, BODY ".\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "a@example.com", to, 1, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  n = ts_timeout_count(f.t);
  ck_assert_uint_le(n, 16);
  for (i = 0; i < n; i++)
    seen[i] = ts_timeout_value(f.t, i);
  /* greeting, EHLO, MAIL (with its write), RCPT, DATA, body block,
   * end of data */
  ck_assert_uint_eq(n, 7);
  ck_assert_uint_eq(seen[0], 11);
  ck_assert_uint_eq(seen[1], 12);
  ck_assert_uint_eq(seen[2], 13);
  ck_assert_uint_eq(seen[3], 14);
  ck_assert_uint_eq(seen[4], 15);
  ck_assert_uint_eq(seen[5], 16);
  ck_assert_uint_eq(seen[6], 17);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

START_TEST(test_timeout_reported) {
  static const char *const to[] = {"x@example.org"};
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, NULL);
  script_open_pipe(f.t);
  ts_client(f.t, "MAIL FROM:<a@example.com> SIZE=21\r\n"
                 "RCPT TO:<x@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n");
  ts_timeout(f.t);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "a@example.com", to, 1, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_ERR_TIMEOUT);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_ERR_TIMEOUT);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* ---- simple commands ----------------------------------------------------- */

START_TEST(test_rset_noop_vrfy_quit) {
  fixture f;
  int rv;
  fx_init(&f, &ts_modes[_i]);
  script_open_pipe(f.t);
  ts_client(f.t, "RSET\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ts_client(f.t, "NOOP\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ts_client(f.t, "VRFY postmaster\r\n");
  ts_server(f.t, "252 2.0.0 postmaster\r\n");
  ts_client(f.t, "VRFY nobody\r\n");
  ts_server(f.t, "550 5.1.1 <nobody>: Recipient address rejected\r\n");
  ts_client(f.t, "QUIT\r\n");
  ts_server(f.t, "221 2.0.0 Bye\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  TS_LOOP(rv, smtpc_session_rset(f.s));
  ck_assert_int_eq(rv, SMTPC_OK);
  TS_LOOP(rv, smtpc_session_noop(f.s));
  ck_assert_int_eq(rv, SMTPC_OK);
  TS_LOOP(rv, smtpc_session_vrfy(f.s, "postmaster"));
  ck_assert_int_eq(rv, SMTPC_OK);
  ck_assert_int_eq(smtpc_reply_code(smtpc_session_last_reply(f.s)), 252);
  TS_LOOP(rv, smtpc_session_vrfy(f.s, "nobody"));
  ck_assert_int_eq(rv, SMTPC_ERR_REPLY_PERMANENT);
  ck_assert_int_eq(smtpc_session_vrfy(f.s, "a\r\nRCPT TO:<x@y>"),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(fx_quit(&f), SMTPC_OK);
  fx_fini(&f);
}
END_TEST

/* A server that just closes after QUIT is fine. */
START_TEST(test_quit_then_close) {
  fixture f;
  fx_init(&f, NULL);
  script_open_pipe(f.t);
  ts_client(f.t, "QUIT\r\n");
  ts_close(f.t);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  ck_assert_int_eq(fx_quit(&f), SMTPC_OK);
  fx_fini(&f);
}
END_TEST

/* Bytes no command asked for are refused before the next command. */
START_TEST(test_unsolicited_data) {
  fixture f;
  fx_init(&f, NULL);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "250 mx\r\n250 injected\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_noop(f.s), SMTPC_ERR_UNEXPECTED_DATA);
  fx_fini(&f);
}
END_TEST

/* ---- argument checks ----------------------------------------------------- */

START_TEST(test_bad_arguments) {
  static const char *const bad_to[] = {"x@example.org\r\nDATA"};
  static const char *const to[] = {"x@example.org"};
  fixture f;
  smtpc_body b;
  smtpc_txn *tx = (smtpc_txn *)&b;
  smtpc_session *s2;
  smtpc_mem broken = {NULL, NULL, NULL, NULL};
  fx_init(&f, NULL);
  smtpc_body_init_memory(&b, "x", 1);
  ck_assert_int_eq(
      smtpc_session_queue(f.s, "a@example.com", bad_to, 1, &b, &tx),
      SMTPC_ERR_BAD_ADDRESS);
  ck_assert_ptr_null(tx);
  ck_assert_int_eq(smtpc_session_queue(f.s, "a b@example.com", to, 1, &b, NULL),
                   SMTPC_ERR_BAD_ADDRESS);
  ck_assert_int_eq(smtpc_session_queue(f.s, "a@example.com", to, 0, &b, NULL),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_session_set_ehlo_name(f.s, "bad\r\nname"),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_session_set_ehlo_name(f.s, ""),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_session_run(f.s), SMTPC_ERR_INVALID_STATE);
  ck_assert_int_eq(smtpc_session_new(&s2, &broken), SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_session_new(NULL, NULL), SMTPC_ERR_INVALID_ARGUMENT);
  smtpc_session_free(NULL);
  smtpc_txn_free(NULL);
  ck_assert_str_eq(smtpc_strerror(SMTPC_ERR_BAD_ADDRESS),
                   "malformed mail address (or CR, LF, NUL or space in it)");
  ck_assert_str_eq(smtpc_strerror(12345), "unknown error");
  fx_fini(&f);
}
END_TEST

/* Every error code has its own text (none falls through to "unknown
 * error"), and the texts are the ones the table in lib/error.c pairs them
 * with: spot-checked at both ends of the table and in the middle. */
START_TEST(test_strerror_all) {
  static const int codes[] = {SMTPC_OK,
                              SMTPC_ERR_WANT_READ,
                              SMTPC_ERR_WANT_WRITE,
                              SMTPC_ERR_INVALID_ARGUMENT,
                              SMTPC_ERR_INVALID_STATE,
                              SMTPC_ERR_BAD_ADDRESS,
                              SMTPC_ERR_BAD_ARGUMENT,
                              SMTPC_ERR_8BIT_UNSUPPORTED,
                              SMTPC_ERR_MESSAGE_TOO_BIG,
                              SMTPC_ERR_BODY_READ,
                              SMTPC_ERR_BODY_LINE_TOO_LONG,
                              SMTPC_ERR_NOT_SUPPORTED,
                              SMTPC_ERR_PROTOCOL,
                              SMTPC_ERR_REPLY_LINE_TOO_LONG,
                              SMTPC_ERR_REPLY_TOO_LARGE,
                              SMTPC_ERR_REPLY_TEMPORARY,
                              SMTPC_ERR_REPLY_PERMANENT,
                              SMTPC_ERR_SERVICE_CLOSING,
                              SMTPC_ERR_GREETING_REFUSED,
                              SMTPC_ERR_NO_RECIPIENTS,
                              SMTPC_ERR_PARTIAL,
                              SMTPC_ERR_UNEXPECTED_DATA,
                              SMTPC_ERR_EXTENSION_UNSUPPORTED,
                              SMTPC_ERR_STARTTLS_UNAVAILABLE,
                              SMTPC_ERR_AUTH_FAILED,
                              SMTPC_ERR_AUTH_INSECURE,
                              SMTPC_ERR_AUTH_UNSUPPORTED,
                              SMTPC_ERR_AUTH_BAD_CHALLENGE,
                              SMTPC_ERR_IO,
                              SMTPC_ERR_EOF,
                              SMTPC_ERR_TIMEOUT,
                              SMTPC_ERR_RESOLVE,
                              SMTPC_ERR_CONNECT,
                              SMTPC_ERR_TLS,
                              SMTPC_ERR_CERTIFICATE,
                              SMTPC_ERR_NOMEM,
                              SMTPC_ERR_CALLBACK,
                              SMTPC_ERR_INTERNAL};
  size_t i, j, n = sizeof codes / sizeof codes[0];
  ck_assert_uint_eq(n, 38);
  for (i = 0; i < n; i++) {
    const char *t = smtpc_strerror(codes[i]);
    ck_assert_msg(*t != '\0' && strcmp(t, "unknown error") != 0,
                  "code %d: \"%s\"", codes[i], t);
    for (j = 0; j < i; j++)
      ck_assert_msg(strcmp(t, smtpc_strerror(codes[j])) != 0,
                    "codes %d and %d share \"%s\"", codes[i], codes[j], t);
  }
  ck_assert_str_eq(smtpc_strerror(SMTPC_OK), "success");
  ck_assert_str_eq(smtpc_strerror(SMTPC_ERR_WANT_READ),
                   "operation would block waiting to read");
  ck_assert_str_eq(smtpc_strerror(SMTPC_ERR_AUTH_INSECURE),
                   "refusing to send credentials over an unencrypted "
                   "connection (allow plaintext auth explicitly to override)");
  ck_assert_str_eq(smtpc_strerror(SMTPC_ERR_INTERNAL), "internal error");
  ck_assert_str_eq(smtpc_strerror(-4), "unknown error");
  ck_assert_str_eq(smtpc_strerror(-99999), "unknown error");
}
END_TEST

/* A transaction the caller frees early is completed and freed by the
 * session; one still queued when the session is freed stays readable. */
START_TEST(test_txn_lifetimes) {
  static const char *const to[] = {"x@example.org"};
  fixture f;
  smtpc_txn *tx, *kept;
  smtpc_body empty;
  fx_init(&f, NULL);
  script_open_pipe(f.t);
  ts_client(f.t, "MAIL FROM:<a@example.com> SIZE=21\r\n"
                 "RCPT TO:<x@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  ts_client(f.t, BODY ".\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "a@example.com", to, 1, BODY);
  smtpc_txn_free(tx); /* detached: the session completes and frees it */
  memset(&empty, 0, sizeof(empty));
  empty.version = SMTPC_BODY_VERSION + 1; /* a layout newer than the library */
  ck_assert_int_eq(
      smtpc_session_queue(f.s, "a@example.com", to, 1, &empty, NULL),
      SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ts_done(f.t);
  /* queued, never run: still readable after the session is gone */
  kept = fx_queue(&f, "a@example.com", to, 1, BODY);
  smtpc_session_free(f.s);
  ck_assert_int_eq(smtpc_txn_status(kept), SMTPC_ERR_INVALID_STATE);
  ck_assert_str_eq(smtpc_txn_rcpt(kept, 0), "x@example.org");
  smtpc_txn_free(kept);
  ts_free(f.t);
  TU_ASSERT_NO_LEAKS(&f.a);
}
END_TEST

/* A transaction nobody holds (queued with out = NULL, or freed early) that
 * fails on MAIL while its RCPT and DATA replies are still in flight: the
 * session keeps it alive until the last of them is counted. */
START_TEST(test_unowned_txn_fails_midgroup) {
  static const char *const to[] = {"x@example.org", "y@example.org"};
  fixture f;
  smtpc_body b;
  smtpc_txn *held;
  fx_init(&f, &ts_modes[_i]);
  script_open_pipe(f.t);
  ts_client(f.t, "MAIL FROM:<a@example.com> SIZE=21\r\n"
                 "RCPT TO:<x@example.org>\r\nRCPT TO:<y@example.org>\r\n"
                 "DATA\r\n");
  ts_server(f.t, "451 4.3.0 try later\r\n503 5.5.1 no\r\n503 5.5.1 no\r\n"
                 "503 5.5.1 no\r\n");
  ts_client(f.t, "MAIL FROM:<a@example.com> SIZE=21\r\n"
                 "RCPT TO:<x@example.org>\r\nRCPT TO:<y@example.org>\r\n"
                 "DATA\r\n");
  ts_server(f.t, "550 5.7.1 no\r\n503 5.5.1 no\r\n503 5.5.1 no\r\n"
                 "503 5.5.1 no\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  smtpc_body_init_memory(&b, BODY, strlen(BODY));
  ck_assert_int_eq(smtpc_session_queue(f.s, "a@example.com", to, 2, &b, NULL),
                   SMTPC_OK);
  held = fx_queue(&f, "a@example.com", to, 2, BODY);
  smtpc_txn_free(held);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  fx_fini(&f);
}
END_TEST

/* More recipients than one pipelined group holds: 300 recipients go in
 * groups of 128, each sent when the previous group's replies are in. */
START_TEST(test_many_recipients_grouped) {
  enum { N = 300 };
  fixture f;
  smtpc_txn *tx;
  char *rcpt[N];
  char cmd[64];
  size_t i, g;
  fx_init(&f, &ts_modes[_i]);
  script_open_pipe(f.t);
  for (i = 0; i < N; i++) {
    rcpt[i] = malloc(32);
    snprintf(rcpt[i], 32, "r%zu@example.org", i);
  }
  ts_client(f.t, "MAIL FROM:<a@example.com> SIZE=21\r\n");
  for (g = 0; g < N; g += 128) {
    size_t end = g + 128 < N ? g + 128 : N;
    for (i = g; i < end; i++) {
      snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>\r\n", rcpt[i]);
      ts_client(f.t, cmd);
    }
    if (end == N)
      ts_client(f.t, "DATA\r\n");
    if (g == 0)
      ts_server(f.t, "250 2.1.0 Ok\r\n");
    for (i = g; i < end; i++)
      ts_server(f.t, i == 7 ? "550 5.1.1 no\r\n" : "250 2.1.5 Ok\r\n");
  }
  ts_server(f.t, "354 go\r\n");
  ts_client(f.t, BODY ".\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "a@example.com", (const char *const *)rcpt, N, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_ERR_PARTIAL);
  ck_assert_uint_eq(smtpc_txn_accepted_count(tx), N - 1);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_rcpt_reply(tx, 7)), 550);
  smtpc_txn_free(tx);
  for (i = 0; i < N; i++)
    free(rcpt[i]);
  fx_fini(&f);
}
END_TEST

/* Tiny I/O buffers change nothing on the wire. */
START_TEST(test_small_buffers) {
  static const char *const to[] = {"x@example.org"};
  fixture f;
  smtpc_txn *tx;
  smtpc_body b;
  char body[5000], *wire;
  stream_src src;
  size_t i, w = 0;
  for (i = 0; i < sizeof(body); i++)
    body[i] = (char)(i % 50 == 49 ? '\n' : i % 50 == 0 ? '.' : 'a' + i % 26);
  wire = malloc(3 * sizeof(body) + 8);
  for (i = 0; i < sizeof(body); i++) {
    if (body[i] == '\n') {
      wire[w++] = '\r';
      wire[w++] = '\n';
      continue;
    }
    if (body[i] == '.' && (i == 0 || body[i - 1] == '\n'))
      wire[w++] = '.';
    wire[w++] = body[i];
  }
  memcpy(wire + w, ".\r\n", 4); /* the body ends with a line end */
  fx_init(&f, &ts_modes[_i]);
  ck_assert_int_eq(smtpc_session_set_limit(f.s, SMTPC_LIMIT_READ_BUFFER, 64),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_limit(f.s, SMTPC_LIMIT_WRITE_BUFFER, 64),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_limit(f.s, SMTPC_LIMIT_BODY_CHUNK, 64),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_limit(f.s, SMTPC_LIMIT_BODY_CHUNK, 63),
                   SMTPC_ERR_INVALID_ARGUMENT);
  script_open_pipe(f.t);
  ts_client(f.t, "MAIL FROM:<a@example.com> BODY=8BITMIME\r\n"
                 "RCPT TO:<x@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  ts_client_n(f.t, wire, w + 3);
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  memset(&src, 0, sizeof(src));
  src.data = body;
  src.len = sizeof(body);
  src.step = 1000;
  src.fail_at = -1;
  smtpc_body_init_stream(&b, stream_read, &src, -1);
  ck_assert_int_eq(smtpc_session_queue(f.s, "a@example.com", to, 1, &b, &tx),
                   SMTPC_OK);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  smtpc_txn_free(tx);
  fx_fini(&f);
  free(wire);
}
END_TEST

/* Sendmail-style "<id> Message accepted" on a continuation line: the queue
 * id stops at the line break (found by fuzzing). */
START_TEST(test_queue_id_multiline) {
  static const char *const to[] = {"x@example.org"};
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, NULL);
  script_open_pipe(f.t);
  ts_client(f.t, "MAIL FROM:<a@example.com> SIZE=21\r\n"
                 "RCPT TO:<x@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  ts_client(f.t, BODY ".\r\n");
  ts_server(f.t, "250-OK\r\n250 x1A2B3 Message accepted for delivery\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "a@example.com", to, 1, BODY);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_str_eq(smtpc_txn_queue_id(tx), "x1A2B3");
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* ---- allocation failures ------------------------------------------------- */

static int alloc_scenario(tu_alloc *a, void *arg) {
  static const char *const to[] = {"x@example.org", "y@example.org"};
  smtpc_session *s = NULL;
  smtpc_io io;
  smtpc_body b;
  smtpc_txn *tx = NULL;
  ts *t = ts_new();
  int rv, result = SMTPC_OK;
  (void)arg;
  ts_set_abort(t, 0);
  ts_server(t, GREETING);
  ts_client(t, EHLO_CMD);
  ts_server(t, EHLO_PIPE);
  ts_client(t,
            "MAIL FROM:<a@example.com> SIZE=21\r\nRCPT TO:<x@example.org>\r\n"
            "RCPT TO:<y@example.org>\r\nDATA\r\n");
  ts_server(t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no\r\n354 go\r\n");
  ts_client(t, BODY ".\r\n");
  ts_server(t, "250 2.0.0 Ok: queued as X\r\n");
  ts_client(t, "QUIT\r\n");
  ts_server(t, "221 bye\r\n");
  ts_io(t, &io);
  rv = smtpc_session_new(&s, &a->mem);
  if (rv != SMTPC_OK) {
    result = rv;
    goto out;
  }
  smtpc_session_set_io(s, &io);
  if ((rv = smtpc_session_set_ehlo_name(s, "client.test")) != SMTPC_OK) {
    result = rv;
    goto out;
  }
  if ((rv = smtpc_session_open(s)) != SMTPC_OK) {
    result = rv;
    goto out;
  }
  smtpc_body_init_memory(&b, BODY, strlen(BODY));
  if ((rv = smtpc_session_queue(s, "a@example.com", to, 2, &b, &tx)) !=
      SMTPC_OK) {
    result = rv;
    goto out;
  }
  rv = smtpc_session_run(s);
  if (rv != SMTPC_OK) {
    result = rv;
    ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_ERR_NOMEM);
    goto out;
  }
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_ERR_PARTIAL);
  ck_assert_str_eq(smtpc_txn_queue_id(tx), "X");
  result = smtpc_session_quit(s);
out:
  smtpc_txn_free(tx);
  smtpc_session_free(s);
  ts_free(t);
  return result;
}

START_TEST(test_alloc_failure_sweep) {
  long failures = tu_alloc_sweep(alloc_scenario, NULL, 500);
  ck_assert_int_gt(failures, 10);
}
END_TEST

static Suite *session_suite(void) {
  Suite *s = suite_create("session");
  TCase *tc = tcase_create("transcripts");
  int n = (int)ts_nmodes;
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, test_pipelined_send, 0, n);
  tcase_add_test(tc, test_pipelined_one_write);
  tcase_add_loop_test(tc, test_unpipelined_send, 0, n);
  tcase_add_loop_test(tc, test_pipelined_queue_shares_flight, 0, n);
  tcase_add_loop_test(tc, test_helo_fallback, 0, n);
  tcase_add_loop_test(tc, test_greeting_refused, 0, n);
  tcase_add_loop_test(tc, test_greeting_421, 0, n);
  tcase_add_test(tc, test_ehlo_and_helo_rejected);
  tcase_add_test(tc, test_ehlo_temporary);
  tcase_add_loop_test(tc, test_partial_acceptance, 0, n);
  tcase_add_loop_test(tc, test_all_rcpts_rejected_data_rejected, 0, n);
  tcase_add_loop_test(tc, test_all_rcpts_rejected_data_354, 0, n);
  tcase_add_loop_test(tc, test_unpipelined_no_rcpt_no_data, 0, n);
  tcase_add_loop_test(tc, test_mail_rejected_pipelined, 0, n);
  tcase_add_loop_test(tc, test_354_after_failed_mail_pipelined, 0, n);
  tcase_add_test(tc, test_data_end_rejected);
  tcase_add_test(tc, test_memory_mode_by_hand);
  tcase_add_test(tc, test_memory_mode_failures);
  tcase_add_test(tc, test_rcpt_replies_bounded);
  tcase_add_loop_test(tc, test_421_every_step, 0, n);
  tcase_add_loop_test(tc, test_close_every_step, 0, n);
  tcase_add_test(tc, test_io_error_every_step);
  tcase_add_loop_test(tc, test_close_during_open, 0, n);
  tcase_add_test(tc, test_garbage_reply);
  tcase_add_loop_test(tc, test_overlong_reply_line, 0, n);
  tcase_add_test(tc, test_endless_continuation);
  tcase_add_loop_test(tc, test_body_stuffing_and_line_ends, 0, n);
  tcase_add_loop_test(tc, test_streamed_body, 0, n);
  tcase_add_test(tc, test_body_read_error_aborts);
  tcase_add_test(tc, test_8bit_needs_8bitmime);
  tcase_add_test(tc, test_8bit_declared);
  tcase_add_test(tc, test_size_limit);
  tcase_add_test(tc, test_body_line_too_long);
  tcase_add_loop_test(tc, test_body_dot_line_998, 0, n);
  tcase_add_loop_test(tc, test_streamed_dot_line_998, 0, n);
  tcase_add_loop_test(tc, test_body_changed_after_scan, 0, n);
  tcase_add_loop_test(tc, test_body_changed_breaks_limits, 0, 2);
  tcase_add_loop_test(tc, test_reuse_checks_with_rset, 0, n);
  tcase_add_test(tc, test_reuse_after_idle_close);
  tcase_add_test(tc, test_timeouts_armed_per_command);
  tcase_add_test(tc, test_timeout_reported);
  tcase_add_loop_test(tc, test_rset_noop_vrfy_quit, 0, n);
  tcase_add_test(tc, test_quit_then_close);
  tcase_add_test(tc, test_unsolicited_data);
  tcase_add_test(tc, test_bad_arguments);
  tcase_add_test(tc, test_txn_lifetimes);
  tcase_add_test(tc, test_strerror_all);
  tcase_add_loop_test(tc, test_unowned_txn_fails_midgroup, 0, n);
  tcase_add_loop_test(tc, test_many_recipients_grouped, 0, n);
  tcase_add_loop_test(tc, test_small_buffers, 0, n);
  tcase_add_test(tc, test_queue_id_multiline);
  tcase_add_test(tc, test_alloc_failure_sweep);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(session_suite());
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
