/* SPDX-License-Identifier: MIT */
/* LIMITS (RFC 9422) transcripts: the engine through the scripted transport
 * (tests/testutil.h) in every transport mode, asserting the exact bytes
 * sent.  A message to more recipients (or recipient domains) than the
 * server takes goes in several transactions of the same body, each
 * recipient keeping its own reply; after MAILMAX transactions no MAIL is
 * sent; malformed limits are ignored. */
#include "testutil.h"

#include <smtpc/smtpc.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GREETING "220 mx.example ESMTP ready\r\n"
#define EHLO_CMD "EHLO client.test\r\n"
#define EHLO_HEAD "250-mx.example hello\r\n250-PIPELINING\r\n"
#define MSG "Subject: l\r\n\r\nhello\r\n"
#define DATA_OK "250 2.1.0 Ok\r\n"

typedef tu_fx fixture; /* tests/testutil.h */
#define fx_fini tu_fx_fini
#define fx_open tu_fx_open
#define fx_run tu_fx_run

static void fx_init(fixture *f, const ts_mode *mode, const char *ehlo) {
  tu_fx_init(f, mode);
  ts_server(f->t, GREETING);
  ts_client(f->t, EHLO_CMD);
  ts_server(f->t, ehlo);
}

static smtpc_txn *fx_queue(fixture *f, const char *const *to, size_t n,
                           const smtpc_body *b) {
  smtpc_txn *t = NULL;
  ck_assert_int_eq(smtpc_session_queue(f->s, "alice@example.com", to, n, b, &t),
                   SMTPC_OK);
  return t;
}

static smtpc_txn *fx_queue_mem(fixture *f, const char *const *to, size_t n) {
  smtpc_body b;
  smtpc_body_init_memory(&b, MSG, strlen(MSG));
  return fx_queue(f, to, n, &b);
}

/* One pipelined transaction: MAIL, RCPT to each of rcpts ("a b c"), DATA
 * in one flight; the replies given; then the body and its reply. */
static void script_round(ts *t, const char *rcpts, const char *replies,
                         const char *final) {
  char flight[512], one[64];
  const char *p = rcpts;
  snprintf(flight, sizeof(flight), "MAIL FROM:<alice@example.com>\r\n");
  while (*p != '\0') {
    size_t n = strcspn(p, " ");
    snprintf(one, sizeof(one), "RCPT TO:<%.*s>\r\n", (int)n, p);
    strncat(flight, one, sizeof(flight) - strlen(flight) - 1);
    p += n;
    p += strspn(p, " ");
  }
  strncat(flight, "DATA\r\n", sizeof(flight) - strlen(flight) - 1);
  ts_client_flight(t, flight);
  ts_server(t, replies);
  if (final != NULL) {
    ts_client(t, MSG ".\r\n");
    ts_server(t, final);
  }
}

/* RCPTMAX=2 and five recipients: three transactions of the same message,
 * in order, one after the other; every recipient's reply kept. */
START_TEST(test_rcptmax_rounds) {
  static const char *const to[] = {"a@example.org", "b@example.org",
                                   "c@example.org", "d@example.org",
                                   "e@example.org"};
  fixture f;
  smtpc_txn *t;
  size_t i;
  fx_init(&f, &ts_modes[_i], EHLO_HEAD "250 LIMITS RCPTMAX=2\r\n");
  script_round(f.t, "a@example.org b@example.org",
               DATA_OK "250 2.1.5 a\r\n250 2.1.5 b\r\n354 go\r\n",
               "250 2.0.0 Ok: queued as Q1\r\n");
  script_round(f.t, "c@example.org d@example.org",
               DATA_OK "250 2.1.5 c\r\n250 2.1.5 d\r\n354 go\r\n",
               "250 2.0.0 Ok: queued as Q2\r\n");
  script_round(f.t, "e@example.org", DATA_OK "250 2.1.5 e\r\n354 go\r\n",
               "250 2.0.0 Ok: queued as Q3\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t = fx_queue_mem(&f, to, 5);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_accepted_count(t), 5);
  for (i = 0; i < 5; i++) {
    char want[16];
    snprintf(want, sizeof(want), "2.1.5 %c", (int)('a' + i));
    ck_assert_int_eq(smtpc_reply_code(smtpc_txn_rcpt_reply(t, i)), 250);
    ck_assert_str_eq(smtpc_reply_text(smtpc_txn_rcpt_reply(t, i)), want);
  }
  ck_assert_str_eq(smtpc_txn_queue_id(t), "Q3");
  smtpc_txn_free(t);
  fx_fini(&f);
}
END_TEST

/* One refused recipient in the second round, the third round refused at
 * the end of data: PARTIAL; the refused round's recipient carries the 554
 * and is not to be retried; the others were delivered. */
START_TEST(test_rcptmax_partial) {
  static const char *const to[] = {"a@example.org", "b@example.org",
                                   "c@example.org"};
  fixture f;
  smtpc_txn *t;
  fx_init(&f, &ts_modes[_i], EHLO_HEAD "250 LIMITS RCPTMAX=1\r\n");
  script_round(f.t, "a@example.org", DATA_OK "250 2.1.5 a\r\n354 go\r\n",
               "250 2.0.0 Ok: queued as P1\r\n");
  /* every recipient of the round refused: DATA gets 554, RSET follows */
  script_round(f.t, "b@example.org",
               DATA_OK "550 5.1.1 no such user\r\n554 5.5.1 no recipients\r\n",
               NULL);
  ts_client_flight(f.t, "RSET\r\nMAIL FROM:<alice@example.com>\r\n"
                        "RCPT TO:<c@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n" DATA_OK "250 2.1.5 c\r\n354 go\r\n");
  ts_client(f.t, MSG ".\r\n");
  ts_server(f.t, "554 5.7.1 content refused\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t = fx_queue_mem(&f, to, 3);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t), SMTPC_ERR_PARTIAL);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_rcpt_reply(t, 0)), 250);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_rcpt_reply(t, 1)), 550);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_rcpt_reply(t, 2)), 554);
  ck_assert_int_eq(smtpc_txn_rcpt_retry(t, 0), SMTPC_RETRY_NONE);
  ck_assert_int_eq(smtpc_txn_rcpt_retry(t, 1), SMTPC_RETRY_PERMANENT);
  ck_assert_int_eq(smtpc_txn_rcpt_retry(t, 2), SMTPC_RETRY_PERMANENT);
  ck_assert_int_eq(smtpc_txn_accepted_count(t), 1); /* c is not counted */
  ck_assert_str_eq(smtpc_txn_queue_id(t), "P1");
  smtpc_txn_free(t);
  fx_fini(&f);
}
END_TEST

/* RCPTDOMAINMAX=1: a round ends where a second domain would start (domains
 * compared without case); the order of the recipients is kept. */
START_TEST(test_rcptdomainmax) {
  static const char *const to[] = {"a@x.example", "b@X.Example", "c@y.example",
                                   "d@x.example"};
  fixture f;
  smtpc_txn *t;
  fx_init(&f, &ts_modes[_i],
          EHLO_HEAD "250 LIMITS RCPTMAX=10 RCPTDOMAINMAX=1\r\n");
  script_round(f.t, "a@x.example b@X.Example",
               DATA_OK "250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n",
               "250 2.0.0 Ok\r\n");
  script_round(f.t, "c@y.example", DATA_OK "250 2.1.5 Ok\r\n354 go\r\n",
               "250 2.0.0 Ok\r\n");
  script_round(f.t, "d@x.example", DATA_OK "250 2.1.5 Ok\r\n354 go\r\n",
               "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t = fx_queue_mem(&f, to, 4);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t), SMTPC_OK);
  smtpc_txn_free(t);
  fx_fini(&f);
}
END_TEST

/* Limits that are malformed, zero, huge or unknown are ignored: five
 * recipients go in one transaction. */
START_TEST(test_limits_ignored) {
  static const char *const to[] = {"a@example.org", "b@example.org",
                                   "c@example.org"};
  static const char *const ehlo[] = {
      EHLO_HEAD "250 LIMITS RCPTMAX=0\r\n",
      EHLO_HEAD "250 LIMITS RCPTMAX=abc MAILMAX=1x\r\n",
      EHLO_HEAD "250 LIMITS RCPTMAX=99999999999 RCPTDOMAINMAX=-1\r\n",
      EHLO_HEAD "250 LIMITS FOO=1 RCPTMAX= RCPTMAXX=1 XRCPTMAX=1\r\n",
      EHLO_HEAD "250 LIMITS RCPTMAX=1000000001\r\n",
      EHLO_HEAD "250 LIMITS\r\n"};
  size_t k;
  for (k = 0; k < sizeof(ehlo) / sizeof(ehlo[0]); k++) {
    fixture f;
    smtpc_txn *t;
    fx_init(&f, &ts_modes[_i], ehlo[k]);
    script_round(f.t, "a@example.org b@example.org c@example.org",
                 DATA_OK "250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
                         "354 go\r\n",
                 "250 2.0.0 Ok\r\n");
    ck_assert_int_eq(fx_open(&f), SMTPC_OK);
    t = fx_queue_mem(&f, to, 3);
    ck_assert_int_eq(fx_run(&f), SMTPC_OK);
    ck_assert_int_eq(smtpc_txn_status(t), SMTPC_OK);
    smtpc_txn_free(t);
    fx_fini(&f);
  }
}
END_TEST

/* MAILMAX=2 (names without case): two messages are sent, the third fails
 * with SMTPC_ERR_MAIL_LIMIT before MAIL -- a transient failure, for a new
 * connection -- and the session stays usable. */
START_TEST(test_mailmax) {
  static const char *const to[] = {"a@example.org"};
  fixture f;
  smtpc_txn *t[3];
  int i, rv;
  fx_init(&f, &ts_modes[_i], EHLO_HEAD "250 LIMITS mailmax=2\r\n");
  script_round(f.t, "a@example.org", DATA_OK "250 2.1.5 Ok\r\n354 go\r\n",
               NULL);
  ts_client_flight(f.t, MSG ".\r\nMAIL FROM:<alice@example.com>\r\n"
                            "RCPT TO:<a@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.0.0 Ok: queued as M1\r\n" DATA_OK
                 "250 2.1.5 Ok\r\n354 go\r\n");
  ts_client(f.t, MSG ".\r\n");
  ts_server(f.t, "250 2.0.0 Ok: queued as M2\r\n");
  ts_client(f.t, "NOOP\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  for (i = 0; i < 3; i++)
    t[i] = fx_queue_mem(&f, to, 1);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t[0]), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t[1]), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t[2]), SMTPC_ERR_MAIL_LIMIT);
  ck_assert_int_eq(smtpc_txn_step(t[2]), SMTPC_STEP_NONE);
  ck_assert_ptr_null(smtpc_txn_rcpt_reply(t[2], 0));
  ck_assert_int_eq(smtpc_txn_retry(t[2]), SMTPC_RETRY_TRANSIENT);
  TS_LOOP(rv, smtpc_session_noop(f.s));
  ck_assert_int_eq(rv, SMTPC_OK);
  for (i = 0; i < 3; i++)
    smtpc_txn_free(t[i]);
  fx_fini(&f);
}
END_TEST

/* MAILMAX reached between two rounds of one message: PARTIAL, the
 * recipient not reached has no reply and is to be retried. */
START_TEST(test_mailmax_mid_message) {
  static const char *const to[] = {"a@example.org", "b@example.org"};
  fixture f;
  smtpc_txn *t;
  fx_init(&f, &ts_modes[_i], EHLO_HEAD "250 LIMITS MAILMAX=1 RCPTMAX=1\r\n");
  script_round(f.t, "a@example.org", DATA_OK "250 2.1.5 Ok\r\n354 go\r\n",
               "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t = fx_queue_mem(&f, to, 2);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t), SMTPC_ERR_PARTIAL);
  ck_assert_int_eq(smtpc_txn_rcpt_retry(t, 0), SMTPC_RETRY_NONE);
  ck_assert_ptr_null(smtpc_txn_rcpt_reply(t, 1));
  ck_assert_int_eq(smtpc_txn_rcpt_retry(t, 1), SMTPC_RETRY_TRANSIENT);
  smtpc_txn_free(t);
  fx_fini(&f);
}
END_TEST

/* The session breaks (421) in the middle of the second round: the first
 * round's recipient was delivered, the second one's RCPT 250 is dropped
 * (it was not delivered: no reply, retry transient) -- PARTIAL. */
START_TEST(test_round_cut_short) {
  static const char *const to[] = {"a@example.org", "b@example.org"};
  fixture f;
  smtpc_txn *t;
  fx_init(&f, &ts_modes[_i], EHLO_HEAD "250 LIMITS RCPTMAX=1\r\n");
  script_round(f.t, "a@example.org", DATA_OK "250 2.1.5 Ok\r\n354 go\r\n",
               "250 2.0.0 Ok: queued as C1\r\n");
  script_round(f.t, "b@example.org",
               DATA_OK "250 2.1.5 Ok\r\n421 4.3.2 Shutting down\r\n", NULL);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t = fx_queue_mem(&f, to, 2);
  ck_assert_int_eq(fx_run(&f), SMTPC_ERR_SERVICE_CLOSING);
  ck_assert_int_eq(smtpc_txn_status(t), SMTPC_ERR_PARTIAL);
  ck_assert_int_eq(smtpc_txn_accepted_count(t), 1);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_rcpt_reply(t, 0)), 250);
  ck_assert_ptr_null(smtpc_txn_rcpt_reply(t, 1));
  ck_assert_int_eq(smtpc_txn_rcpt_retry(t, 0), SMTPC_RETRY_NONE);
  ck_assert_int_eq(smtpc_txn_rcpt_retry(t, 1), SMTPC_RETRY_TRANSIENT);
  ck_assert_str_eq(smtpc_txn_queue_id(t), "C1");
  smtpc_txn_free(t);
  fx_fini(&f);
}
END_TEST

/* A one-shot stream to more recipients than RCPTMAX: refused before MAIL
 * with SMTPC_ERR_RCPT_LIMIT; the next message is sent.  With a rewind
 * callback the same bytes go in each round. */
START_TEST(test_stream_rounds) {
  static const char *const to2[] = {"a@example.org", "b@example.org"};
  static const char *const to1[] = {"c@example.org"};
  fixture f;
  smtpc_txn *t1, *t2, *t3;
  smtpc_body b;
  tu_src one = {MSG, sizeof(MSG) - 1, 0, 0}, two = {MSG, sizeof(MSG) - 1, 0, 0};
  fx_init(&f, &ts_modes[_i], EHLO_HEAD "250 LIMITS RCPTMAX=1\r\n");
  script_round(f.t, "c@example.org", DATA_OK "250 2.1.5 Ok\r\n354 go\r\n",
               NULL);
  /* the next message's first round follows the end of data at once */
  ts_client_flight(f.t, MSG ".\r\nMAIL FROM:<alice@example.com>\r\n"
                            "RCPT TO:<a@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n" DATA_OK "250 2.1.5 Ok\r\n354 go\r\n");
  ts_client(f.t, MSG ".\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  script_round(f.t, "b@example.org", DATA_OK "250 2.1.5 Ok\r\n354 go\r\n",
               "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  smtpc_body_init_stream(&b, tu_src_read, &one, -1);
  ck_assert(b.rewind == NULL);
  t1 = fx_queue(&f, to2, 2, &b);
  t2 = fx_queue_mem(&f, to1, 1);
  smtpc_body_init_stream(&b, tu_src_read, &two, -1);
  b.rewind = tu_src_rewind;
  t3 = fx_queue(&f, to2, 2, &b);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_ERR_RCPT_LIMIT);
  ck_assert_int_eq(one.off, 0);
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t3), SMTPC_OK);
  ck_assert_int_eq(two.rewinds, 1);
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  smtpc_txn_free(t3);
  fx_fini(&f);
}
END_TEST

/* A body of the MIME builder can be read again: two rounds carry
 * byte-identical messages (the builder is seeded). */
START_TEST(test_mime_rounds) {
  static const char *const to[] = {"a@example.org", "b@example.org"};
  fixture f;
  smtpc_txn *t;
  smtpc_msg *m;
  smtpc_body b;
  char *first = NULL, *flight;
  size_t firstlen = 0;
  tu_alloc ma;
  tu_alloc_init(&ma, 0);
  ck_assert_int_eq(smtpc_msg_new(&m, &ma.mem), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_seed(m, 42), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_date(m, 1700000000, 0), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_from(m, NULL, "alice@example.com"), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_add_to(m, NULL, "a@example.org"), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_subject(m, "rounds"), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_text(m, "one body, two rounds\n", 21),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_body(m, &b), SMTPC_OK);
  ck_assert(b.rewind != NULL);
  /* the expected bytes: read the body once, then rewind it */
  {
    unsigned char buf[4096];
    smtpc_ssize n;
    size_t got = 0;
    while ((n = b.read(b.ctx, buf + got, sizeof(buf) - got)) > 0)
      got += (size_t)n;
    ck_assert_int_eq(n, 0);
    first = malloc(got + 1);
    memcpy(first, buf, got);
    firstlen = got;
    ck_assert_int_eq(b.rewind(b.ctx), SMTPC_OK);
  }
  flight = malloc(firstlen + 8);
  memcpy(flight, first, firstlen);
  memcpy(flight + firstlen, ".\r\n", 4);
  fx_init(&f, &ts_modes[_i], EHLO_HEAD "250 LIMITS RCPTMAX=1\r\n");
  script_round(f.t, "a@example.org", DATA_OK "250 2.1.5 Ok\r\n354 go\r\n",
               NULL);
  ts_client(f.t, flight);
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  script_round(f.t, "b@example.org", DATA_OK "250 2.1.5 Ok\r\n354 go\r\n",
               NULL);
  ts_client(f.t, flight);
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t = fx_queue(&f, to, 2, &b);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t), SMTPC_OK);
  smtpc_txn_free(t);
  fx_fini(&f);
  smtpc_msg_free(m);
  TU_ASSERT_NO_LEAKS(&ma);
  free(first);
  free(flight);
}
END_TEST

/* With BDAT a message of several rounds does not go ahead of its
 * envelope replies; each round ends with its own LAST chunk. */
START_TEST(test_rcptmax_bdat) {
  static const char *const to[] = {"a@example.org", "b@example.org"};
  fixture f;
  smtpc_txn *t;
  fx_init(&f, &ts_modes[_i],
          EHLO_HEAD "250-CHUNKING\r\n250 LIMITS RCPTMAX=1\r\n");
  ck_assert_int_eq(smtpc_session_set_flag(f.s, SMTPC_FLAG_CHUNKING, 1),
                   SMTPC_OK);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com>\r\n"
                        "RCPT TO:<a@example.org>\r\n");
  ts_server(f.t, DATA_OK "250 2.1.5 Ok\r\n");
  ts_client(f.t, "BDAT 21 LAST\r\n" MSG);
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com>\r\n"
                        "RCPT TO:<b@example.org>\r\n");
  ts_server(f.t, DATA_OK "250 2.1.5 Ok\r\n");
  ts_client(f.t, "BDAT 21 LAST\r\n" MSG);
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t = fx_queue_mem(&f, to, 2);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t), SMTPC_OK);
  smtpc_txn_free(t);
  fx_fini(&f);
}
END_TEST

/* The second message waits until every round of the first has started:
 * rounds are never interleaved with other messages. */
START_TEST(test_rounds_then_next) {
  static const char *const to2[] = {"a@example.org", "b@example.org"};
  static const char *const to1[] = {"c@example.org"};
  fixture f;
  smtpc_txn *t1, *t2;
  fx_init(&f, &ts_modes[_i], EHLO_HEAD "250 LIMITS RCPTMAX=1\r\n");
  script_round(f.t, "a@example.org", DATA_OK "250 2.1.5 Ok\r\n354 go\r\n",
               "250 2.0.0 Ok\r\n");
  script_round(f.t, "b@example.org", DATA_OK "250 2.1.5 Ok\r\n354 go\r\n",
               NULL);
  ts_client_flight(f.t, MSG ".\r\nMAIL FROM:<alice@example.com>\r\n"
                            "RCPT TO:<c@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n" DATA_OK "250 2.1.5 Ok\r\n354 go\r\n");
  ts_client(f.t, MSG ".\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue_mem(&f, to2, 2);
  t2 = fx_queue_mem(&f, to1, 1);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_OK);
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  fx_fini(&f);
}
END_TEST

static Suite *limits_suite(void) {
  Suite *s = suite_create("limits");
  TCase *tc = tcase_create("transcripts");
  int n = (int)ts_nmodes;
  tcase_add_loop_test(tc, test_rcptmax_rounds, 0, n);
  tcase_add_loop_test(tc, test_rcptmax_partial, 0, n);
  tcase_add_loop_test(tc, test_rcptdomainmax, 0, n);
  tcase_add_loop_test(tc, test_limits_ignored, 0, n);
  tcase_add_loop_test(tc, test_mailmax, 0, n);
  tcase_add_loop_test(tc, test_mailmax_mid_message, 0, n);
  tcase_add_loop_test(tc, test_round_cut_short, 0, n);
  tcase_add_loop_test(tc, test_stream_rounds, 0, n);
  tcase_add_loop_test(tc, test_mime_rounds, 0, n);
  tcase_add_loop_test(tc, test_rcptmax_bdat, 0, n);
  tcase_add_loop_test(tc, test_rounds_then_next, 0, n);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(limits_suite());
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
