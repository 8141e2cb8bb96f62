/* SPDX-License-Identifier: MIT */
/* CHUNKING / BDAT (RFC 3030) transcripts: the engine through the scripted
 * transport (tests/testutil.h), asserting the exact bytes sent -- the
 * chunk counts, the data without dot-stuffing but with CRLF line ends, no
 * BDAT before every envelope reply is in, nothing after a refused chunk
 * and RSET before the next transaction -- in every transport mode where the
 * dialogue allows it. */
#include "testutil.h"

#include <smtpc/smtpc.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GREETING "220 mx.example ESMTP ready\r\n"
#define EHLO_CMD "EHLO client.test\r\n"
#define EHLO_PIPE_CHUNK                                                        \
  "250-mx.example hello\r\n250-PIPELINING\r\n250-8BITMIME\r\n"                 \
  "250 CHUNKING\r\n"
#define EHLO_CHUNK                                                             \
  "250-mx.example hello\r\n250-ENHANCEDSTATUSCODES\r\n250 CHUNKING\r\n"
#define EHLO_PIPE "250-mx.example hello\r\n250 PIPELINING\r\n"

/* Six lines that start with "." (stuffed under DATA, not under BDAT) and
 * end with a bare LF (CRLF on the wire either way): 14 + 6 * 30 octets
 * once encoded. */
#define LINE ".line of thirty characters..\n"
#define BODY6 "Subject: t\r\n\r\n" LINE LINE LINE LINE LINE LINE
#define WLINE ".line of thirty characters..\r\n"

typedef tu_fx fixture; /* tests/testutil.h */
#define fx_fini tu_fx_fini
#define fx_open tu_fx_open
#define fx_run tu_fx_run

static void fx_init(fixture *f, const ts_mode *mode, size_t chunk) {
  tu_fx_init(f, mode);
  ck_assert_int_eq(smtpc_session_set_flag(f->s, SMTPC_FLAG_CHUNKING, 1),
                   SMTPC_OK);
  if (chunk != 0)
    ck_assert_int_eq(
        smtpc_session_set_limit(f->s, SMTPC_LIMIT_BDAT_CHUNK, chunk), SMTPC_OK);
}

static smtpc_txn *fx_queue(fixture *f, const char *from, const char *body) {
  static const char *const to[] = {"bob@example.org"};
  smtpc_body b;
  smtpc_txn *t = NULL;
  smtpc_body_init_memory(&b, body, strlen(body));
  ck_assert_int_eq(smtpc_session_queue(f->s, from, to, 1, &b, &t), SMTPC_OK);
  return t;
}

static void script_open(ts *t, const char *ehlo) {
  ts_server(t, GREETING);
  ts_client(t, EHLO_CMD);
  ts_server(t, ehlo);
}

/* Without PIPELINING: MAIL, its reply, RCPT to bob, its reply. */
static void script_envelope(ts *t, const char *from) {
  char mail[128];
  snprintf(mail, sizeof(mail), "MAIL FROM:<%s>\r\n", from);
  ts_client(t, mail);
  ts_server(t, "250 2.1.0 Ok\r\n");
  ts_client(t, "RCPT TO:<bob@example.org>\r\n");
  ts_server(t, "250 2.1.5 Ok\r\n");
}

/* The 194 octets of BODY6 in chunks of 64: a chunk is sent full (the
 * encoder stops with fewer than 3 octets free, so 62 to 64), the line end
 * of the last line goes in the LAST one. */
#define CHUNKS64                                                               \
  "BDAT 64\r\nSubject: t\r\n\r\n" WLINE ".line of thirty char"                 \
  "BDAT 64\r\nacters..\r\n" WLINE ".line of thirty characte"                   \
  "BDAT 64\r\nrs..\r\n" WLINE ".line of thirty characters.."                   \
  "BDAT 2 LAST\r\n\r\n"

/* PIPELINING: MAIL and RCPT in one flight, nothing more until both are
 * answered; then the chunks, up to four in flight, the last "BDAT n LAST". */
START_TEST(test_bdat_pipelined) {
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i], 64);
  script_open(f.t, EHLO_PIPE_CHUNK);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com>\r\n"
                        "RCPT TO:<bob@example.org>\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n");
  ts_client(f.t, CHUNKS64);
  ts_server(f.t, "250 2.0.0 64 octets\r\n250 2.0.0 64 octets\r\n"
                 "250 2.0.0 64 octets\r\n"
                 "250 2.0.0 Ok: 194 bytes queued as B1\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "alice@example.com", BODY6);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_step(tx), SMTPC_STEP_DATA_END);
  ck_assert_str_eq(smtpc_txn_queue_id(tx), "B1");
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* Without PIPELINING every chunk waits for its reply. */
START_TEST(test_bdat_lockstep) {
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i], 64);
  script_open(f.t, EHLO_CHUNK);
  script_envelope(f.t, "alice@example.com");
  ts_client(f.t, "BDAT 64\r\nSubject: t\r\n\r\n" WLINE ".line of thirty char");
  ts_server(f.t, "250 2.0.0 64 octets\r\n");
  ts_client(f.t, "BDAT 64\r\nacters..\r\n" WLINE ".line of thirty characte");
  ts_server(f.t, "250 2.0.0 64 octets\r\n");
  ts_client(f.t, "BDAT 64\r\nrs..\r\n" WLINE ".line of thirty characters..");
  ts_server(f.t, "250 2.0.0 64 octets\r\n");
  ts_client(f.t, "BDAT 2 LAST\r\n\r\n");
  ts_server(f.t, "250 2.0.0 Ok: queued as B2\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "alice@example.com", BODY6);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  ck_assert_str_eq(smtpc_txn_queue_id(tx), "B2");
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* The default chunk (64 KiB) holds a small message: one "BDAT n LAST",
 * with PIPELINING in the flight of its envelope (RFC 3030 4.2). */
START_TEST(test_bdat_one_chunk) {
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i], 0);
  script_open(f.t, EHLO_PIPE_CHUNK);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com>\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "BDAT 194 LAST\r\nSubject: t\r\n\r\n" WLINE WLINE WLINE
                            WLINE WLINE WLINE);
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                 "250 2.0.0 Ok: queued as B3\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "alice@example.com", BODY6);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* A refused chunk ends the transaction: no further chunk, and RSET before
 * the next MAIL (RFC 3030 2).  Without PIPELINING the RSET goes alone. */
START_TEST(test_bdat_chunk_refused) {
  fixture f;
  smtpc_txn *t1, *t2;
  fx_init(&f, &ts_modes[_i], 64);
  script_open(f.t, EHLO_CHUNK);
  script_envelope(f.t, "alice@example.com");
  ts_client(f.t, "BDAT 64\r\nSubject: t\r\n\r\n" WLINE ".line of thirty char");
  ts_server(f.t, "250 2.0.0 64 octets\r\n");
  ts_client(f.t, "BDAT 64\r\nacters..\r\n" WLINE ".line of thirty characte");
  ts_server(f.t, "552 5.3.4 Message size exceeds fixed limit\r\n");
  ts_client(f.t, "RSET\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  script_envelope(f.t, "carol@example.com");
  ts_client(f.t, "BDAT 18 LAST\r\nSubject: u\r\n\r\nhi\r\n");
  ts_server(f.t, "250 2.0.0 Ok: queued as B4\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, "alice@example.com", BODY6);
  t2 = fx_queue(&f, "carol@example.com", "Subject: u\n\nhi\n");
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_ERR_REPLY_PERMANENT);
  ck_assert_int_eq(smtpc_txn_step(t1), SMTPC_STEP_BODY);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_reply(t1)), 552);
  ck_assert_str_eq(smtpc_reply_enhanced(smtpc_txn_reply(t1)), "5.3.4");
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_OK);
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  fx_fini(&f);
}
END_TEST

/* With PIPELINING the chunks after a refused one are already on their way:
 * the server discards them (Postfix: 551 5.0.0 Discarded ...); their
 * replies are only counted.  The next message left right behind the LAST
 * chunk, after an RSET, and is delivered. */
START_TEST(test_bdat_refused_in_flight) {
  fixture f;
  smtpc_txn *t1, *t2;
  fx_init(&f, NULL, 64);
  script_open(f.t, EHLO_PIPE_CHUNK);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com>\r\n"
                        "RCPT TO:<bob@example.org>\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n");
  /* the next message follows the LAST chunk at once, behind RSET */
  ts_client(f.t, CHUNKS64 "RSET\r\nMAIL FROM:<carol@example.com>\r\n"
                          "RCPT TO:<bob@example.org>\r\n"
                          "BDAT 18 LAST\r\nSubject: u\r\n\r\nhi\r\n");
  ts_server(f.t, "250 2.0.0 64 octets\r\n"
                 "552 5.3.4 Message size exceeds fixed limit\r\n"
                 "551 5.0.0 Discarded 64 bytes after earlier error\r\n"
                 "551 5.0.0 Discarded 2 bytes after earlier error\r\n"
                 "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                 "250 2.0.0 Ok: queued as B5\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, "alice@example.com", BODY6);
  t2 = fx_queue(&f, "carol@example.com", "Subject: u\n\nhi\n");
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_ERR_REPLY_PERMANENT);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_reply(t1)), 552);
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_OK);
  ck_assert_str_eq(smtpc_txn_queue_id(t2), "B5");
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  fx_fini(&f);
}
END_TEST

/* Every recipient refused: no BDAT at all (there is nothing to deliver),
 * RSET before the next MAIL. */
START_TEST(test_bdat_no_recipients) {
  fixture f;
  smtpc_txn *t1, *t2;
  fx_init(&f, &ts_modes[_i], 0);
  script_open(f.t, EHLO_CHUNK);
  ts_client(f.t, "MAIL FROM:<alice@example.com>\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n");
  ts_client(f.t, "RCPT TO:<bob@example.org>\r\n");
  ts_server(f.t, "550 5.1.1 No such user\r\n");
  ts_client(f.t, "RSET\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  script_envelope(f.t, "carol@example.com");
  ts_client(f.t, "BDAT 18 LAST\r\nSubject: u\r\n\r\nhi\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, "alice@example.com", BODY6);
  t2 = fx_queue(&f, "carol@example.com", "Subject: u\n\nhi\n");
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_ERR_NO_RECIPIENTS);
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_OK);
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  fx_fini(&f);
}
END_TEST

/* 421 between chunks: the session is over, the message was not taken. */
START_TEST(test_bdat_421_between_chunks) {
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i], 64);
  script_open(f.t, EHLO_CHUNK);
  script_envelope(f.t, "alice@example.com");
  ts_client(f.t, "BDAT 64\r\nSubject: t\r\n\r\n" WLINE ".line of thirty char");
  ts_server(f.t, "421 4.3.2 Shutting down\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "alice@example.com", BODY6);
  ck_assert_int_eq(fx_run(&f), SMTPC_ERR_SERVICE_CLOSING);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_ERR_SERVICE_CLOSING);
  ck_assert_int_eq(smtpc_txn_step(tx), SMTPC_STEP_BODY);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* No CHUNKING offered: DATA, with its dot-stuffing, whatever the flag. */
START_TEST(test_bdat_not_offered) {
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i], 0);
  script_open(f.t, EHLO_PIPE);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com>\r\n"
                        "RCPT TO:<bob@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  ts_client(f.t, "Subject: u\r\n\r\n..hi\r\n.\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue(&f, "alice@example.com", "Subject: u\n\n.hi\n");
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* A body that ends exactly where a chunk fills: from memory the end is
 * known ("BDAT 62 LAST"); a stream only learns it from the next read, and
 * the message ends with "BDAT 0 LAST" (RFC 3030 2 allows it; never an empty
 * chunk that is not the last: Postfix answers "551 Null BDAT request"). */
START_TEST(test_bdat_exact_boundary) {
  static const char body[] =
      "Subject: x\r\n\r\n"
      "0123456789012345678901234567890123456789012345\r\n";
  static const char *const to[] = {"bob@example.org"};
  int stream;
  ck_assert_uint_eq(sizeof(body) - 1, 62);
  for (stream = 0; stream <= 1; stream++) {
    fixture f;
    smtpc_txn *tx = NULL;
    smtpc_body b;
    tu_src src = {body, sizeof(body) - 1, 0, 0};
    fx_init(&f, &ts_modes[_i], 64);
    script_open(f.t, EHLO_CHUNK);
    script_envelope(f.t, "alice@example.com");
    if (stream) {
      ts_client(f.t, "BDAT 62\r\n");
      ts_client(f.t, body);
      ts_server(f.t, "250 2.0.0 62 octets\r\n");
      ts_client(f.t, "BDAT 0 LAST\r\n");
    } else {
      ts_client(f.t, "BDAT 62 LAST\r\n");
      ts_client(f.t, body);
    }
    ts_server(f.t, "250 2.0.0 Ok\r\n");
    ck_assert_int_eq(fx_open(&f), SMTPC_OK);
    if (stream)
      smtpc_body_init_stream(&b, tu_src_read, &src, -1);
    else
      smtpc_body_init_memory(&b, body, sizeof(body) - 1);
    ck_assert_int_eq(
        smtpc_session_queue(f.s, "alice@example.com", to, 1, &b, &tx),
        SMTPC_OK);
    ck_assert_int_eq(fx_run(&f), SMTPC_OK);
    ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
    smtpc_txn_free(tx);
    fx_fini(&f);
  }
}
END_TEST

/* Several small messages queued with PIPELINING and BDAT leave in one
 * flight: each MAIL, RCPT and "BDAT n LAST" with its data, and RSET before
 * every MAIL whose predecessor's outcome is not known yet (RFC 3030 2: the
 * state after a failed BDAT is indeterminate).  The replies are matched in
 * order: the second message's refused recipient fails only that message,
 * and no RSET is owed afterwards (the third already went behind one). */
#define MSG_U "Subject: u\r\n\r\nhi\r\n"
START_TEST(test_bdat_window_one_flight) {
  fixture f;
  smtpc_txn *t1, *t2, *t3;
  static const char *const to2[] = {"nobody@example.org"};
  smtpc_body b;
  fx_init(&f, &ts_modes[_i], 0);
  script_open(f.t, EHLO_PIPE_CHUNK);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com>\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "BDAT 18 LAST\r\n" MSG_U "RSET\r\n"
                        "MAIL FROM:<carol@example.com>\r\n"
                        "RCPT TO:<nobody@example.org>\r\n"
                        "BDAT 18 LAST\r\n" MSG_U "RSET\r\n"
                        "MAIL FROM:<dave@example.com>\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "BDAT 18 LAST\r\n" MSG_U);
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                 "250 2.0.0 Ok: queued as W1\r\n"
                 "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n"
                 "550 5.1.1 <nobody@example.org>: User unknown\r\n"
                 "554 5.5.1 Error: no valid recipients\r\n"
                 "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                 "250 2.0.0 Ok: queued as W3\r\n");
  ts_client(f.t, "NOOP\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, "alice@example.com", "Subject: u\n\nhi\n");
  smtpc_body_init_memory(&b, MSG_U, strlen(MSG_U));
  ck_assert_int_eq(
      smtpc_session_queue(f.s, "carol@example.com", to2, 1, &b, &t2), SMTPC_OK);
  t3 = fx_queue(&f, "dave@example.com", MSG_U);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_step(t1), SMTPC_STEP_DATA_END);
  ck_assert_str_eq(smtpc_txn_queue_id(t1), "W1");
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_ERR_NO_RECIPIENTS);
  ck_assert_int_eq(smtpc_txn_step(t2), SMTPC_STEP_RCPT);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_rcpt_reply(t2, 0)), 550);
  ck_assert_int_eq(smtpc_txn_status(t3), SMTPC_OK);
  ck_assert_str_eq(smtpc_txn_queue_id(t3), "W3");
  /* the connection is in step: the next command is the caller's */
  {
    int rv;
    TS_LOOP(rv, smtpc_session_noop(f.s));
    ck_assert_int_eq(rv, SMTPC_OK);
  }
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  smtpc_txn_free(t3);
  fx_fini(&f);
}
END_TEST

/* SMTPC_LIMIT_MESSAGE_WINDOW 2: the third message waits until the first
 * one's last reply is in, then leaves behind an RSET (the second one's
 * outcome is still open). */
START_TEST(test_bdat_window_limit) {
  fixture f;
  smtpc_txn *t1, *t2, *t3;
  fx_init(&f, &ts_modes[_i], 0);
  ck_assert_int_eq(smtpc_session_set_limit(f.s, SMTPC_LIMIT_MESSAGE_WINDOW, 2),
                   SMTPC_OK);
  script_open(f.t, EHLO_PIPE_CHUNK);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com>\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "BDAT 18 LAST\r\n" MSG_U "RSET\r\n"
                        "MAIL FROM:<carol@example.com>\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "BDAT 18 LAST\r\n" MSG_U);
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                 "250 2.0.0 Ok: queued as L1\r\n");
  ts_client_flight(f.t, "RSET\r\nMAIL FROM:<dave@example.com>\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "BDAT 18 LAST\r\n" MSG_U);
  ts_server(f.t, "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                 "250 2.0.0 Ok: queued as L2\r\n"
                 "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                 "250 2.0.0 Ok: queued as L3\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, "alice@example.com", MSG_U);
  t2 = fx_queue(&f, "carol@example.com", MSG_U);
  t3 = fx_queue(&f, "dave@example.com", MSG_U);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_str_eq(smtpc_txn_queue_id(t1), "L1");
  ck_assert_str_eq(smtpc_txn_queue_id(t2), "L2");
  ck_assert_str_eq(smtpc_txn_queue_id(t3), "L3");
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  smtpc_txn_free(t3);
  fx_fini(&f);
}
END_TEST

/* A message larger than a chunk: its first chunk is filled but held until
 * the envelope's replies; every recipient refused, so none of its data is
 * sent, and the next (small) message goes behind RSET in one flight. */
START_TEST(test_bdat_held_chunk_dropped) {
  fixture f;
  smtpc_txn *t1, *t2;
  fx_init(&f, &ts_modes[_i], 64);
  script_open(f.t, EHLO_PIPE_CHUNK);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com>\r\n"
                        "RCPT TO:<bob@example.org>\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n550 5.1.1 User unknown\r\n");
  ts_client_flight(f.t, "RSET\r\nMAIL FROM:<carol@example.com>\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "BDAT 18 LAST\r\n" MSG_U);
  ts_server(f.t, "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                 "250 2.0.0 Ok: queued as H2\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, "alice@example.com", BODY6);
  t2 = fx_queue(&f, "carol@example.com", MSG_U);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_ERR_NO_RECIPIENTS);
  ck_assert_int_eq(smtpc_txn_step(t1), SMTPC_STEP_RCPT);
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_OK);
  ck_assert_str_eq(smtpc_txn_queue_id(t2), "H2");
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  fx_fini(&f);
}
END_TEST

/* MAIL refused with the data already sent: the server answers the RCPT
 * and the BDAT with 503 and discards the data; the message fails at MAIL
 * with its reply, the next one (sent behind RSET) is delivered. */
START_TEST(test_bdat_ahead_mail_refused) {
  fixture f;
  smtpc_txn *t1, *t2;
  fx_init(&f, &ts_modes[_i], 0);
  script_open(f.t, EHLO_PIPE_CHUNK);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com>\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "BDAT 18 LAST\r\n" MSG_U "RSET\r\n"
                        "MAIL FROM:<carol@example.com>\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "BDAT 18 LAST\r\n" MSG_U);
  ts_server(f.t, "553 5.7.1 Sender rejected\r\n"
                 "503 5.5.1 Error: need MAIL command\r\n"
                 "503 5.5.1 Error: need RCPT command\r\n"
                 "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                 "250 2.0.0 Ok: queued as M2\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, "alice@example.com", MSG_U);
  t2 = fx_queue(&f, "carol@example.com", MSG_U);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_ERR_REPLY_PERMANENT);
  ck_assert_int_eq(smtpc_txn_step(t1), SMTPC_STEP_MAIL);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_reply(t1)), 553);
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_OK);
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  fx_fini(&f);
}
END_TEST

/* One recipient of two refused: the data already sent is delivered to the
 * other (SMTPC_ERR_PARTIAL, each recipient's reply kept). */
START_TEST(test_bdat_ahead_partial) {
  fixture f;
  smtpc_txn *tx = NULL;
  static const char *const to[] = {"bob@example.org", "nobody@example.org"};
  smtpc_body b;
  fx_init(&f, &ts_modes[_i], 0);
  script_open(f.t, EHLO_PIPE_CHUNK);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com>\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "RCPT TO:<nobody@example.org>\r\n"
                        "BDAT 18 LAST\r\n" MSG_U);
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                 "550 5.1.1 User unknown\r\n"
                 "250 2.0.0 Ok: queued as P1\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  smtpc_body_init_memory(&b, MSG_U, strlen(MSG_U));
  ck_assert_int_eq(
      smtpc_session_queue(f.s, "alice@example.com", to, 2, &b, &tx), SMTPC_OK);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_ERR_PARTIAL);
  ck_assert_int_eq(smtpc_txn_accepted_count(tx), 1);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_rcpt_reply(tx, 0)), 250);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_rcpt_reply(tx, 1)), 550);
  ck_assert_str_eq(smtpc_txn_queue_id(tx), "P1");
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* 421 to the second message's MAIL: the first one is delivered, the
 * second and third fail with SERVICE_CLOSING -- nothing is reported sent
 * that was not. */
START_TEST(test_bdat_window_421) {
  fixture f;
  smtpc_txn *t1, *t2, *t3;
  fx_init(&f, &ts_modes[_i], 0);
  script_open(f.t, EHLO_PIPE_CHUNK);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com>\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "BDAT 18 LAST\r\n" MSG_U "RSET\r\n"
                        "MAIL FROM:<carol@example.com>\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "BDAT 18 LAST\r\n" MSG_U "RSET\r\n"
                        "MAIL FROM:<dave@example.com>\r\n"
                        "RCPT TO:<bob@example.org>\r\n"
                        "BDAT 18 LAST\r\n" MSG_U);
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                 "250 2.0.0 Ok: queued as X1\r\n"
                 "421 4.3.2 Shutting down\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, "alice@example.com", MSG_U);
  t2 = fx_queue(&f, "carol@example.com", MSG_U);
  t3 = fx_queue(&f, "dave@example.com", MSG_U);
  ck_assert_int_eq(fx_run(&f), SMTPC_ERR_SERVICE_CLOSING);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_ERR_SERVICE_CLOSING);
  ck_assert_int_eq(smtpc_txn_status(t3), SMTPC_ERR_SERVICE_CLOSING);
  ck_assert_int_eq(smtpc_txn_step(t3), SMTPC_STEP_MAIL);
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  smtpc_txn_free(t3);
  fx_fini(&f);
}
END_TEST

/* A refused LAST chunk fails the message, and RSET precedes the next MAIL
 * (RFC 3030 2: the state after any failed BDAT is indeterminate). */
START_TEST(test_bdat_last_refused_rset) {
  fixture f;
  smtpc_txn *t1, *t2;
  fx_init(&f, &ts_modes[_i], 0);
  script_open(f.t, EHLO_CHUNK);
  script_envelope(f.t, "alice@example.com");
  ts_client(f.t, "BDAT 18 LAST\r\n" MSG_U);
  ts_server(f.t, "554 5.7.1 Message refused\r\n");
  ts_client(f.t, "RSET\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  script_envelope(f.t, "carol@example.com");
  ts_client(f.t, "BDAT 18 LAST\r\n" MSG_U);
  ts_server(f.t, "250 2.0.0 Ok: queued as R2\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, "alice@example.com", MSG_U);
  t2 = fx_queue(&f, "carol@example.com", MSG_U);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_ERR_REPLY_PERMANENT);
  ck_assert_int_eq(smtpc_txn_step(t1), SMTPC_STEP_DATA_END);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_reply(t1)), 554);
  ck_assert_str_eq(smtpc_txn_queue_id(t2), "R2");
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  fx_fini(&f);
}
END_TEST

/* A body in memory that ends with its line end 0 or 1 octets before the
 * chunk is full goes as one "BDAT n LAST", never "BDAT n" + "BDAT 0 LAST". */
START_TEST(test_bdat_memory_end_at_boundary) {
  static const char body64[] =
      "Subject: x\r\n\r\n"
      "01234567890123456789012345678901234567890123456789\r\n";
  size_t len;
  ck_assert_uint_eq(sizeof(body64) - 1, 66);
  for (len = 63; len <= 64; len++) {
    fixture f;
    smtpc_txn *tx = NULL;
    smtpc_body b;
    static const char *const to[] = {"bob@example.org"};
    char body[80], cmd[32];
    /* a body of len octets ending in CRLF */
    memcpy(body, body64, len - 2);
    memcpy(body + len - 2, "\r\n", 2);
    fx_init(&f, &ts_modes[_i], 64);
    script_open(f.t, EHLO_CHUNK);
    script_envelope(f.t, "alice@example.com");
    snprintf(cmd, sizeof(cmd), "BDAT %zu LAST\r\n", len);
    ts_client(f.t, cmd);
    ts_client_n(f.t, body, len);
    ts_server(f.t, "250 2.0.0 Ok\r\n");
    ck_assert_int_eq(fx_open(&f), SMTPC_OK);
    smtpc_body_init_memory(&b, body, len);
    ck_assert_int_eq(
        smtpc_session_queue(f.s, "alice@example.com", to, 1, &b, &tx),
        SMTPC_OK);
    ck_assert_int_eq(fx_run(&f), SMTPC_OK);
    ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
    smtpc_txn_free(tx);
    fx_fini(&f);
  }
}
END_TEST

START_TEST(test_bdat_limit_bounds) {
  smtpc_session *s;
  ck_assert_int_eq(smtpc_session_new(&s, NULL), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_limit(s, SMTPC_LIMIT_BDAT_CHUNK, 63),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_session_set_limit(s, SMTPC_LIMIT_BDAT_CHUNK, 64),
                   SMTPC_OK);
  ck_assert_int_eq(
      smtpc_session_set_limit(s, SMTPC_LIMIT_BDAT_CHUNK, ((size_t)1 << 30) + 1),
      SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_session_set_flag(s, SMTPC_FLAG_CHUNKING, 1), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_limit(s, SMTPC_LIMIT_MESSAGE_WINDOW, 0),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_session_set_limit(s, SMTPC_LIMIT_MESSAGE_WINDOW, 1),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_limit(s, SMTPC_LIMIT_MESSAGE_WINDOW, 4096),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_limit(s, SMTPC_LIMIT_MESSAGE_WINDOW, 4097),
                   SMTPC_ERR_INVALID_ARGUMENT);
  smtpc_session_free(s);
}
END_TEST

static Suite *bdat_suite(void) {
  Suite *s = suite_create("bdat");
  TCase *tc = tcase_create("transcripts");
  int n = (int)ts_nmodes;
  tcase_add_loop_test(tc, test_bdat_pipelined, 0, n);
  tcase_add_loop_test(tc, test_bdat_lockstep, 0, n);
  tcase_add_loop_test(tc, test_bdat_one_chunk, 0, n);
  tcase_add_loop_test(tc, test_bdat_chunk_refused, 0, n);
  tcase_add_test(tc, test_bdat_refused_in_flight);
  tcase_add_loop_test(tc, test_bdat_no_recipients, 0, n);
  tcase_add_loop_test(tc, test_bdat_421_between_chunks, 0, n);
  tcase_add_loop_test(tc, test_bdat_not_offered, 0, n);
  tcase_add_loop_test(tc, test_bdat_exact_boundary, 0, n);
  tcase_add_loop_test(tc, test_bdat_window_one_flight, 0, n);
  tcase_add_loop_test(tc, test_bdat_window_limit, 0, n);
  tcase_add_loop_test(tc, test_bdat_held_chunk_dropped, 0, n);
  tcase_add_loop_test(tc, test_bdat_ahead_mail_refused, 0, n);
  tcase_add_loop_test(tc, test_bdat_ahead_partial, 0, n);
  tcase_add_loop_test(tc, test_bdat_window_421, 0, n);
  tcase_add_loop_test(tc, test_bdat_last_refused_rset, 0, n);
  tcase_add_loop_test(tc, test_bdat_memory_end_at_boundary, 0, n);
  tcase_add_test(tc, test_bdat_limit_bounds);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(bdat_suite());
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
