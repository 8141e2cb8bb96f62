/* SPDX-License-Identifier: MIT */
/* BINARYMIME (RFC 3030 3) transcripts: the engine through the scripted
 * transport (tests/testutil.h), asserting the exact bytes sent -- MAIL with
 * BODY=BINARYMIME, BDAT chunks that carry the body octet for octet (NUL,
 * bare LF, bare CR, a 5,000-octet line and a "." line, none of them
 * rewritten or stuffed, nothing appended), BDAT even without
 * SMTPC_FLAG_CHUNKING, an AUTO body upgraded only when the server can take
 * it, and a refusal before MAIL when the server lacks CHUNKING or
 * BINARYMIME -- in every transport mode. */
#include "testutil.h"

#include <smtpc/smtpc.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GREETING "220 mx.example ESMTP ready\r\n"
#define EHLO_CMD "EHLO client.test\r\n"
/* Everything a binary message needs, with PIPELINING and SIZE. */
#define EHLO_PIPE_BIN                                                          \
  "250-mx.example hello\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n"             \
  "250-8BITMIME\r\n250-CHUNKING\r\n250 BINARYMIME\r\n"
/* The same without PIPELINING and SIZE (keyword in lower case). */
#define EHLO_BIN "250-mx.example hello\r\n250-CHUNKING\r\n250 binarymime\r\n"
/* The same with 8BITMIME. */
#define EHLO_BIN8                                                              \
  "250-mx.example hello\r\n250-8BITMIME\r\n250-CHUNKING\r\n250 BINARYMIME\r\n"
/* CHUNKING without BINARYMIME (Postfix, Gmail, Exim). */
#define EHLO_CHUNK_ONLY                                                        \
  "250-mx.example hello\r\n250-PIPELINING\r\n250-8BITMIME\r\n"                 \
  "250 CHUNKING\r\n"
/* BINARYMIME without CHUNKING: not usable (RFC 3030 3, item 3). */
#define EHLO_BIN_ONLY                                                          \
  "250-mx.example hello\r\n250-8BITMIME\r\n250 BINARYMIME\r\n"

/* 100 octets: a header, then NUL, 8-bit octets, a bare LF, a "." line
 * (CRLF), a "." line (bare LF), a bare CR, a CR CR LF, and no line end at
 * the very end. */
static const char BIN100[] =
    "Subject: b\r\nContent-Transfer-Encoding: binary\r\n\r\n" /* 49 */
    "\x00\x01\xfe\xff\n"                                      /* 5 */
    ".\r\n"                                                   /* 3 */
    ".\n"                                                     /* 2 */
    "bare\rcr\r\r\n"                                          /* 10 */
    "..dots\n"                                                /* 7 */
    "012345678901234567890"                                   /* 23 */
    "end";                                                    /* 3 */
#define BIN100_LEN (sizeof(BIN100) - 1)

typedef tu_fx fixture; /* tests/testutil.h */
#define fx_fini tu_fx_fini
#define fx_open tu_fx_open
#define fx_run tu_fx_run

/* chunking: SMTPC_FLAG_CHUNKING (off by default); chunk: BDAT chunk size,
 * 0 for the default. */
static void fx_init(fixture *f, const ts_mode *mode, int chunking,
                    size_t chunk) {
  tu_fx_init(f, mode);
  if (chunking)
    ck_assert_int_eq(smtpc_session_set_flag(f->s, SMTPC_FLAG_CHUNKING, 1),
                     SMTPC_OK);
  if (chunk != 0)
    ck_assert_int_eq(
        smtpc_session_set_limit(f->s, SMTPC_LIMIT_BDAT_CHUNK, chunk), SMTPC_OK);
}

static smtpc_txn *fx_queue_n(fixture *f, const char *from, const void *body,
                             size_t len, smtpc_body_type type) {
  static const char *const to[] = {"bob@example.org"};
  smtpc_body b;
  smtpc_txn *t = NULL;
  smtpc_body_init_memory(&b, body, len);
  b.type = type;
  ck_assert_int_eq(smtpc_session_queue(f->s, from, to, 1, &b, &t), SMTPC_OK);
  return t;
}

static smtpc_txn *fx_queue(fixture *f, const char *from, const char *body) {
  return fx_queue_n(f, from, body, strlen(body), SMTPC_BODY_AUTO);
}

static void script_open(ts *t, const char *ehlo) {
  ts_server(t, GREETING);
  ts_client(t, EHLO_CMD);
  ts_server(t, ehlo);
}

/* Without PIPELINING: MAIL (as given), its reply, RCPT to bob, its
 * reply. */
static void script_envelope(ts *t, const char *mail) {
  ts_client(t, mail);
  ts_server(t, "250 2.1.0 Ok\r\n");
  ts_client(t, "RCPT TO:<bob@example.org>\r\n");
  ts_server(t, "250 2.1.5 Ok\r\n");
}

/* A declared binary body, flag off, PIPELINING: MAIL carries SIZE (the
 * octets as they are) and BODY=BINARYMIME; the first 64-octet chunk waits
 * for the envelope's replies; the chunks hold the body unchanged and the
 * LAST one ends where the body ends, without a line end added. */
START_TEST(test_bin_pipelined) {
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i], 0, 64);
  script_open(f.t, EHLO_PIPE_BIN);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com> SIZE=100 "
                        "BODY=BINARYMIME\r\n"
                        "RCPT TO:<bob@example.org>\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n");
  ts_client(f.t, "BDAT 64\r\n");
  ts_client_n(f.t, BIN100, 64);
  ts_client(f.t, "BDAT 36 LAST\r\n");
  ts_client_n(f.t, BIN100 + 64, 36);
  ts_server(f.t, "250 2.0.0 64 octets\r\n"
                 "250 2.0.0 Ok: 100 octets queued as X1\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue_n(&f, "alice@example.com", BIN100, BIN100_LEN,
                  SMTPC_BODY_BINARYMIME);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_step(tx), SMTPC_STEP_DATA_END);
  ck_assert_str_eq(smtpc_txn_queue_id(tx), "X1");
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* The same without PIPELINING, with the default chunk: one "BDAT 100
 * LAST" after the envelope's replies, each chunk waiting for its reply. */
START_TEST(test_bin_lockstep) {
  fixture f;
  smtpc_txn *tx;
  fx_init(&f, &ts_modes[_i], 0, 0);
  script_open(f.t, EHLO_BIN);
  script_envelope(f.t, "MAIL FROM:<alice@example.com> BODY=BINARYMIME\r\n");
  ts_client(f.t, "BDAT 100 LAST\r\n");
  ts_client_n(f.t, BIN100, BIN100_LEN);
  ts_server(f.t, "250 2.0.0 Ok: queued as X2\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue_n(&f, "alice@example.com", BIN100, BIN100_LEN,
                  SMTPC_BODY_BINARYMIME);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* A 5,000-octet line: an AUTO body that could not go as text is upgraded
 * to BINARYMIME (flag off) and goes whole, in chunks of 2,048. */
START_TEST(test_bin_auto_long_line) {
  fixture f;
  smtpc_txn *tx;
  char *body = malloc(5020);
  size_t len;
  ck_assert_ptr_nonnull(body);
  memcpy(body, "Subject: long\r\n\r\n", 17);
  memset(body + 17, 'A', 5000);
  memcpy(body + 5017, "\r\n", 2);
  len = 5019;
  fx_init(&f, &ts_modes[_i], 0, 2048);
  script_open(f.t, EHLO_BIN);
  script_envelope(f.t, "MAIL FROM:<alice@example.com> BODY=BINARYMIME\r\n");
  ts_client(f.t, "BDAT 2048\r\n");
  ts_client_n(f.t, body, 2048);
  ts_server(f.t, "250 2.0.0 2048 octets\r\n");
  ts_client(f.t, "BDAT 2048\r\n");
  ts_client_n(f.t, body + 2048, 2048);
  ts_server(f.t, "250 2.0.0 2048 octets\r\n");
  ts_client(f.t, "BDAT 923 LAST\r\n");
  ts_client_n(f.t, body + 4096, 923);
  ts_server(f.t, "250 2.0.0 Ok: queued as X3\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  tx = fx_queue_n(&f, "alice@example.com", body, len, SMTPC_BODY_AUTO);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  smtpc_txn_free(tx);
  fx_fini(&f);
  free(body);
}
END_TEST

/* A NUL octet makes an AUTO body binary when the server can take it: its
 * bare LF and "." line then go unchanged too.  A later AUTO body without
 * NUL or a long line is text: with the flag off it goes with DATA,
 * normalised and stuffed. */
START_TEST(test_bin_auto_nul) {
  static const char body[] = "Subject: n\n\n\x00.\n.\n";
  fixture f;
  smtpc_txn *t1, *t2;
  fx_init(&f, &ts_modes[_i], 0, 0);
  script_open(f.t, EHLO_PIPE_BIN);
  ts_client_flight(f.t, "MAIL FROM:<alice@example.com> SIZE=17 "
                        "BODY=BINARYMIME\r\n"
                        "RCPT TO:<bob@example.org>\r\nBDAT 17 LAST\r\n");
  ts_client_n(f.t, body, sizeof(body) - 1);
  /* RFC 3030 2: a message after BDAT goes behind an RSET */
  ts_client(f.t, "RSET\r\nMAIL FROM:<carol@example.com> SIZE=19\r\n"
                 "RCPT TO:<bob@example.org>\r\nDATA\r\n");
  ts_server(f.t,
            "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: queued as X4\r\n"
            "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  ts_client(f.t, "Subject: t\r\n\r\n..\r\n\r\n.\r\n");
  ts_server(f.t, "250 2.0.0 Ok: queued as X5\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue_n(&f, "alice@example.com", body, sizeof(body) - 1,
                  SMTPC_BODY_AUTO);
  t2 = fx_queue(&f, "carol@example.com", "Subject: t\n\n.\r\r\n");
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_OK);
  ck_assert_str_eq(smtpc_txn_queue_id(t1), "X4");
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_OK);
  ck_assert_str_eq(smtpc_txn_queue_id(t2), "X5");
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  fx_fini(&f);
}
END_TEST

/* A declared binary body to a server with CHUNKING but no BINARYMIME, and
 * to one with BINARYMIME but no CHUNKING: the transaction completes before
 * MAIL with SMTPC_ERR_BINARYMIME_UNSUPPORTED, no byte of it is sent, and
 * the next message goes on as text. */
static void refused(const ts_mode *mode, const char *ehlo, int chunking) {
  fixture f;
  smtpc_txn *t1, *t2;
  fx_init(&f, mode, chunking, 0);
  script_open(f.t, ehlo);
  if (chunking) { /* EHLO_CHUNK_ONLY: PIPELINING, BDAT */
    ts_client_flight(f.t, "MAIL FROM:<carol@example.com>\r\n"
                          "RCPT TO:<bob@example.org>\r\n"
                          "BDAT 17 LAST\r\nSubject: u\r\n\r\n.\r\n");
    ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok\r\n");
  } else { /* EHLO_BIN_ONLY: DATA, one command at a time */
    script_envelope(f.t, "MAIL FROM:<carol@example.com>\r\n");
    ts_client(f.t, "DATA\r\n");
    ts_server(f.t, "354 go\r\n");
    ts_client(f.t, "Subject: u\r\n\r\n..\r\n.\r\n");
    ts_server(f.t, "250 2.0.0 Ok\r\n");
  }
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue_n(&f, "alice@example.com", BIN100, BIN100_LEN,
                  SMTPC_BODY_BINARYMIME);
  t2 = fx_queue(&f, "carol@example.com", "Subject: u\n\n.\n");
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_ERR_BINARYMIME_UNSUPPORTED);
  ck_assert_ptr_null(smtpc_txn_reply(t1));
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_OK);
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  fx_fini(&f);
}

START_TEST(test_bin_refused_no_binarymime) {
  refused(&ts_modes[_i], EHLO_CHUNK_ONLY, 1);
}
END_TEST

START_TEST(test_bin_refused_no_chunking) {
  refused(&ts_modes[_i], EHLO_BIN_ONLY, 0);
}
END_TEST

/* AUTO bodies are only upgraded when the server can take binary: without
 * BINARYMIME a long line keeps SMTPC_ERR_BODY_LINE_TOO_LONG before MAIL,
 * and a NUL goes with DATA as before. */
START_TEST(test_bin_auto_not_offered) {
  static const char nul[] = "Subject: n\r\n\r\na\x00z\r\n";
  fixture f;
  smtpc_txn *t1, *t2;
  char *body = malloc(1100);
  ck_assert_ptr_nonnull(body);
  memset(body, 'L', 999);
  memcpy(body + 999, "\r\n", 3);
  fx_init(&f, &ts_modes[_i], 0, 0);
  script_open(f.t, EHLO_CHUNK_ONLY);
  ts_client_flight(f.t, "MAIL FROM:<carol@example.com>\r\n"
                        "RCPT TO:<bob@example.org>\r\nDATA\r\n");
  ts_server(f.t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  ts_client_n(f.t, nul, sizeof(nul) - 1);
  ts_client(f.t, ".\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, "alice@example.com", body);
  t2 = fx_queue_n(&f, "carol@example.com", nul, sizeof(nul) - 1,
                  SMTPC_BODY_AUTO);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_ERR_BODY_LINE_TOO_LONG);
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_OK);
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  fx_fini(&f);
  free(body);
}
END_TEST

/* Text bodies stay text where binary is offered: an 8BITMIME body and an
 * AUTO body with only bare CRs and LFs go in BDAT (flag on) with their
 * line ends made CRLF and nothing stuffed, declared BODY=8BITMIME and
 * nothing. */
START_TEST(test_bin_text_normalised) {
  fixture f;
  smtpc_txn *t1, *t2;
  fx_init(&f, &ts_modes[_i], 1, 0);
  script_open(f.t, EHLO_BIN8);
  script_envelope(f.t, "MAIL FROM:<alice@example.com> BODY=8BITMIME\r\n");
  ts_client(f.t, "BDAT 22 LAST\r\nSubject: e\r\n\r\n.\xc3\xa9\r\nx\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  script_envelope(f.t, "MAIL FROM:<carol@example.com>\r\n");
  ts_client(f.t, "BDAT 23 LAST\r\nSubject: u\r\n\r\n.\r\nb\r\nc\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue_n(&f, "alice@example.com", "Subject: e\n\n.\xc3\xa9\nx", 17,
                  SMTPC_BODY_8BITMIME);
  t2 = fx_queue(&f, "carol@example.com", "Subject: u\n\n.\rb\nc");
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_OK);
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  fx_fini(&f);
}
END_TEST

/* A streamed binary body of unknown size that ends exactly where a chunk
 * fills: every chunk is full (no room kept for a line end) and the end is
 * "BDAT 0 LAST"; the size given is not declared without SIZE. */
START_TEST(test_bin_stream_boundary) {
  fixture f;
  smtpc_txn *tx;
  smtpc_body b;
  tu_src src;
  static const char *const to[] = {"bob@example.org"};
  src.data = BIN100;
  src.len = 64;
  src.off = 0;
  fx_init(&f, &ts_modes[_i], 0, 64);
  script_open(f.t, EHLO_BIN);
  script_envelope(f.t, "MAIL FROM:<alice@example.com> BODY=BINARYMIME\r\n");
  ts_client(f.t, "BDAT 64\r\n");
  ts_client_n(f.t, BIN100, 64);
  ts_server(f.t, "250 2.0.0 64 octets\r\n");
  ts_client(f.t, "BDAT 0 LAST\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  smtpc_body_init_stream(&b, tu_src_read, &src, 64);
  b.type = SMTPC_BODY_BINARYMIME;
  ck_assert_int_eq(
      smtpc_session_queue(f.s, "alice@example.com", to, 1, &b, &tx), SMTPC_OK);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* A refused chunk ends a binary transaction like any BDAT one: nothing
 * more is sent for it, RSET precedes the next MAIL. */
START_TEST(test_bin_chunk_refused) {
  fixture f;
  smtpc_txn *t1, *t2;
  fx_init(&f, &ts_modes[_i], 0, 64);
  script_open(f.t, EHLO_BIN);
  script_envelope(f.t, "MAIL FROM:<alice@example.com> BODY=BINARYMIME\r\n");
  ts_client(f.t, "BDAT 64\r\n");
  ts_client_n(f.t, BIN100, 64);
  ts_server(f.t, "554 5.6.0 Binary content refused\r\n");
  ts_client(f.t, "RSET\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  script_envelope(f.t, "MAIL FROM:<carol@example.com>\r\n");
  ts_client(f.t, "DATA\r\n");
  ts_server(f.t, "354 go\r\n");
  ts_client(f.t, "Subject: u\r\n\r\nhi\r\n.\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue_n(&f, "alice@example.com", BIN100, BIN100_LEN,
                  SMTPC_BODY_BINARYMIME);
  t2 = fx_queue(&f, "carol@example.com", "Subject: u\n\nhi\n");
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_ERR_REPLY_PERMANENT);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_reply(t1)), 554);
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_OK);
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  fx_fini(&f);
}
END_TEST

/* The error code, its text, its retry class; a body type out of range is
 * refused. */
START_TEST(test_bin_error_code) {
  smtpc_session *s;
  smtpc_body b;
  static const char *const to[] = {"bob@example.org"};
  ck_assert_int_eq(SMTPC_ERR_BINARYMIME_UNSUPPORTED, -113);
  ck_assert_int_eq(SMTPC_BODY_BINARYMIME, 4);
  ck_assert_str_eq(smtpc_strerror(SMTPC_ERR_BINARYMIME_UNSUPPORTED),
                   "binary body but the server does not offer CHUNKING and "
                   "BINARYMIME; message not sent");
  ck_assert_int_eq(smtpc_error_is_fatal(SMTPC_ERR_BINARYMIME_UNSUPPORTED), 0);
  ck_assert_int_eq(smtpc_retry_classify(SMTPC_ERR_BINARYMIME_UNSUPPORTED,
                                        SMTPC_STEP_MAIL, NULL),
                   SMTPC_RETRY_PERMANENT);
  ck_assert_int_eq(smtpc_session_new(&s, NULL), SMTPC_OK);
  smtpc_body_init_memory(&b, "x", 1);
  b.type = (smtpc_body_type)5;
  ck_assert_int_eq(smtpc_session_queue(s, "a@example.com", to, 1, &b, NULL),
                   SMTPC_ERR_INVALID_ARGUMENT);
  b.type = SMTPC_BODY_BINARYMIME;
  ck_assert_int_eq(smtpc_session_queue(s, "a@example.com", to, 1, &b, NULL),
                   SMTPC_OK);
  smtpc_session_free(s);
}
END_TEST

/* ---- allocation failures --------------------------------------------------
 * A binary message in two chunks (pipelined) followed by a text one with
 * DATA, every allocation refused in turn. */

static int bin_scenario(tu_alloc *a, void *arg) {
  static const char *const to[] = {"bob@example.org"};
  smtpc_session *s = NULL;
  smtpc_io io;
  smtpc_body b;
  smtpc_txn *t1 = NULL, *t2 = NULL;
  ts *t = ts_new();
  int rv;
  (void)arg;
  ts_set_abort(t, 0);
  script_open(t, EHLO_PIPE_BIN);
  ts_client(t, "MAIL FROM:<alice@example.com> SIZE=100 BODY=BINARYMIME\r\n"
               "RCPT TO:<bob@example.org>\r\n");
  ts_server(t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n");
  ts_client(t, "BDAT 64\r\n");
  ts_client_n(t, BIN100, 64);
  ts_client(t, "BDAT 36 LAST\r\n");
  ts_client_n(t, BIN100 + 64, 36);
  /* the next envelope leaves with the LAST chunk, behind an RSET */
  ts_client(t, "RSET\r\nMAIL FROM:<carol@example.com> SIZE=18\r\n"
               "RCPT TO:<bob@example.org>\r\nDATA\r\n");
  ts_server(t, "250 2.0.0 64 octets\r\n250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n"
               "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  ts_client(t, "Subject: u\r\n\r\nhi\r\n.\r\n");
  ts_server(t, "250 2.0.0 Ok\r\n");
  ts_client(t, "QUIT\r\n");
  ts_server(t, "221 bye\r\n");
  ts_io(t, &io);
  if ((rv = smtpc_session_new(&s, &a->mem)) != SMTPC_OK)
    goto out;
  smtpc_session_set_io(s, &io);
  if ((rv = smtpc_session_set_ehlo_name(s, "client.test")) != SMTPC_OK ||
      (rv = smtpc_session_set_limit(s, SMTPC_LIMIT_BDAT_CHUNK, 64)) !=
          SMTPC_OK ||
      (rv = smtpc_session_open(s)) != SMTPC_OK)
    goto out;
  smtpc_body_init_memory(&b, BIN100, BIN100_LEN);
  b.type = SMTPC_BODY_BINARYMIME;
  if ((rv = smtpc_session_queue(s, "alice@example.com", to, 1, &b, &t1)) !=
      SMTPC_OK)
    goto out;
  smtpc_body_init_memory(&b, "Subject: u\n\nhi\n", 15);
  if ((rv = smtpc_session_queue(s, "carol@example.com", to, 1, &b, &t2)) !=
      SMTPC_OK)
    goto out;
  rv = smtpc_session_run(s);
  if (rv != SMTPC_OK) {
    TU_CHECK(smtpc_txn_status(t1) == SMTPC_ERR_NOMEM ||
                 smtpc_txn_status(t2) == SMTPC_ERR_NOMEM,
             "run %d, transactions %d %d: %s", rv, smtpc_txn_status(t1),
             smtpc_txn_status(t2), ts_mismatch(t) ? ts_mismatch(t) : "");
    goto out;
  }
  TU_CHECK(smtpc_txn_status(t1) == SMTPC_OK, "status %d", smtpc_txn_status(t1));
  TU_CHECK(smtpc_txn_status(t2) == SMTPC_OK, "status %d", smtpc_txn_status(t2));
  rv = smtpc_session_quit(s);
  if (rv == SMTPC_OK && !ts_finished(t))
    ck_abort_msg("script not finished: %s",
                 ts_mismatch(t) ? ts_mismatch(t) : "?");
out:
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  smtpc_session_free(s);
  ts_free(t);
  return rv;
}

START_TEST(test_bin_alloc_failure_sweep) {
  long failures = tu_alloc_sweep(bin_scenario, NULL, 500);
  ck_assert_int_gt(failures, 5);
}
END_TEST

static Suite *binarymime_suite(void) {
  Suite *s = suite_create("binarymime");
  TCase *tc = tcase_create("transcripts");
  int n = (int)ts_nmodes;
  tcase_add_loop_test(tc, test_bin_pipelined, 0, n);
  tcase_add_loop_test(tc, test_bin_lockstep, 0, n);
  tcase_add_loop_test(tc, test_bin_auto_long_line, 0, n);
  tcase_add_loop_test(tc, test_bin_auto_nul, 0, n);
  tcase_add_loop_test(tc, test_bin_refused_no_binarymime, 0, n);
  tcase_add_loop_test(tc, test_bin_refused_no_chunking, 0, n);
  tcase_add_loop_test(tc, test_bin_auto_not_offered, 0, n);
  tcase_add_loop_test(tc, test_bin_text_normalised, 0, n);
  tcase_add_loop_test(tc, test_bin_stream_boundary, 0, n);
  tcase_add_loop_test(tc, test_bin_chunk_refused, 0, n);
  tcase_add_test(tc, test_bin_error_code);
  tcase_add_test(tc, test_bin_alloc_failure_sweep);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(binarymime_suite());
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
