/* SPDX-License-Identifier: MIT */
/* REQUIRETLS (RFC 8689): the MAIL parameter goes out only over TLS with a
 * verified certificate and when the EHLO after TLS offers it; otherwise the
 * transaction completes before MAIL with SMTPC_ERR_REQUIRETLS_UNAVAILABLE
 * and the next queued one goes on.
 *
 * The engine runs against the scripted transport (tests/testutil.h),
 * asserting the exact bytes sent, in every transport mode where the
 * dialogue allows it.  A transport says whether its peer was verified
 * through smtpc_io::is_secure (1 verified, 2 encrypted only); in memory
 * mode through SMTPC_MEM_SECURE or smtpc_session_starttls_done(). */
#include "testutil.h"

#include "smtpc_int.h"

#include <smtpc/smtpc.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GREETING "220 mx.example ESMTP ready\r\n"
#define EHLO_CMD "EHLO client.test\r\n"
#define EHLO_PRE                                                               \
  "250-mx.example hello\r\n250-PIPELINING\r\n250-SIZE 100000\r\n250 "          \
  "STARTTLS\r\n"
#define EHLO_PRE_RTLS                                                          \
  "250-mx.example hello\r\n250-PIPELINING\r\n250-SIZE "                        \
  "100000\r\n250-REQUIRETLS\r\n"                                               \
  "250 STARTTLS\r\n"
#define EHLO_RTLS                                                              \
  "250-mx.example hello\r\n250-PIPELINING\r\n250-SIZE "                        \
  "100000\r\n250-DSN\r\n250-requiretls\r\n"                                    \
  "250 ENHANCEDSTATUSCODES\r\n"
#define EHLO_NO_RTLS                                                           \
  "250-mx.example hello\r\n250-PIPELINING\r\n250-SIZE 100000\r\n250-DSN\r\n"   \
  "250 ENHANCEDSTATUSCODES\r\n"

#define BODY "Subject: t\r\n\r\nhello\r\n" /* 21 */
#define FLIGHT_PLAIN                                                           \
  "MAIL FROM:<alice@example.com> SIZE=21\r\n"                                  \
  "RCPT TO:<bob@example.org>\r\n"                                              \
  "DATA\r\n"
#define FLIGHT_RTLS                                                            \
  "MAIL FROM:<alice@example.com> SIZE=21 REQUIRETLS\r\n"                       \
  "RCPT TO:<bob@example.org>\r\n"                                              \
  "DATA\r\n"

/* How the connection is secured. */
typedef enum sec_kind {
  SEC_PLAIN,     /* no TLS at all */
  SEC_STARTTLS,  /* STARTTLS, certificate verified */
  SEC_IMPLICIT,  /* TLS from the start, verified */
  SEC_UNVERIFIED /* STARTTLS, encrypted but not verified (is_secure 2) */
} sec_kind;

typedef struct fixture {
  tu_alloc a;
  ts *t;
  smtpc_session *s;
  smtpc_io io;
} fixture;

/* smtpc_io::is_secure of the scripted transport: ctx is the ts. */
static int sec_after_tls(void *ctx) {
  return ts_sent_before_tls(ctx) != (size_t)-1;
}
static int sec_unverified_after_tls(void *ctx) {
  return ts_sent_before_tls(ctx) != (size_t)-1 ? 2 : 0;
}
static int sec_always(void *ctx) {
  (void)ctx;
  return 1;
}

static int is_mem(const ts_mode *m) { return m != NULL && m->mem; }

static void fx_init(fixture *f, const ts_mode *mode, sec_kind sec) {
  tu_alloc_init(&f->a, 0);
  f->t = ts_new();
  if (mode != NULL)
    ts_set_mode(f->t, mode);
  ck_assert_int_eq(smtpc_session_new(&f->s, &f->a.mem), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_ehlo_name(f->s, "client.test"), SMTPC_OK);
  ck_assert_int_eq(ts_attach(f->t, f->s, &f->io), SMTPC_OK);
  if (sec == SEC_PLAIN)
    return;
  ck_assert_int_eq(smtpc_session_set_tls_policy(
                       f->s, sec == SEC_IMPLICIT ? SMTPC_SECURITY_IMPLICIT
                                                 : SMTPC_SECURITY_STARTTLS),
                   SMTPC_OK);
  if (is_mem(mode)) {
    /* STARTTLS: the harness reports the handshake as secure */
    ck_assert_int_ne(sec, SEC_UNVERIFIED);
    if (sec == SEC_IMPLICIT)
      ck_assert_int_eq(smtpc_session_set_memory_mode(f->s, SMTPC_MEM_SECURE),
                       SMTPC_OK);
    return;
  }
  f->io.is_secure = sec == SEC_IMPLICIT   ? sec_always
                    : sec == SEC_STARTTLS ? sec_after_tls
                                          : sec_unverified_after_tls;
  ck_assert_int_eq(smtpc_session_set_io(f->s, &f->io), SMTPC_OK);
}

static void fx_fini(fixture *f) {
  ts_done(f->t);
  smtpc_session_free(f->s);
  ts_free(f->t);
  TU_ASSERT_NO_LEAKS(&f->a);
}

static int fx_open(fixture *f) {
  int rv;
  TS_LOOP(rv, smtpc_session_open(f->s));
  return rv;
}

static int fx_run(fixture *f) {
  int rv;
  TS_LOOP(rv, smtpc_session_run(f->s));
  return rv;
}

static int fx_noop(fixture *f) {
  int rv;
  TS_LOOP(rv, smtpc_session_noop(f->s));
  return rv;
}

static smtpc_txn *fx_queue(fixture *f, int requiretls) {
  static const char *const to[] = {"bob@example.org"};
  smtpc_body b;
  smtpc_txn *t = NULL;
  smtpc_body_init_memory(&b, BODY, strlen(BODY));
  ck_assert_int_eq(
      smtpc_session_queue(f->s, "alice@example.com", to, 1, &b, &t), SMTPC_OK);
  if (requiretls)
    ck_assert_int_eq(smtpc_txn_set_requiretls(t, 1), SMTPC_OK);
  return t;
}

/* Greeting and EHLO; with STARTTLS the upgrade and the second EHLO. */
static void script_open(ts *t, sec_kind sec, const char *pre,
                        const char *post) {
  ts_server(t, GREETING);
  ts_client(t, EHLO_CMD);
  if (sec == SEC_PLAIN || sec == SEC_IMPLICIT) {
    ts_server(t, post);
    return;
  }
  ts_server(t, pre);
  ts_client(t, "STARTTLS\r\n");
  ts_server(t, "220 2.0.0 Ready to start TLS\r\n");
  ts_starttls(t, NULL);
  ts_client(t, EHLO_CMD);
  ts_server(t, post);
}

/* The accepted tail of a one-recipient dialogue. */
static void script_accept(ts *t, const char *id) {
  char final[64];
  ts_server(t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  ts_client(t, BODY);
  ts_client(t, ".\r\n");
  snprintf(final, sizeof final, "250 2.0.0 Ok: queued as %s\r\n", id);
  ts_server(t, final);
}

/* Two messages pipelined: the first body's end shares a flight with the
 * second envelope (RFC 2920 3.1). */
static void script_two(ts *t, const char *flight1, const char *flight2) {
  ts_client_flight(t, flight1);
  ts_server(t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  ts_client(t, BODY ".\r\n");
  ts_client(t, flight2);
  ts_server(t, "250 2.0.0 Ok: queued as Q1\r\n"
               "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
  ts_client(t, BODY ".\r\n");
  ts_server(t, "250 2.0.0 Ok: queued as Q2\r\n");
}

/* ---- the composer ---------------------------------------------------------
 */

/* REQUIRETLS comes after every other parameter; the plain composer (what a
 * program without DSN or REQUIRETLS links) never writes it. */
START_TEST(test_cmd_mail) {
  tu_alloc a;
  smtpc__buf b;
  smtpc__mail_params mp;
  tu_alloc_init(&a, 0);
  memset(&b, 0, sizeof(b));
  memset(&mp, 0, sizeof(mp));
  mp.size = 1234;
  mp.body8bit = 1;
  mp.smtputf8 = 1;
  mp.ret = SMTPC_DSN_RET_FULL;
  mp.envid = "e+1";
  mp.requiretls = 1;
  ck_assert_int_eq(smtpc__cmd_mail(&b, &a.mem, "a@example.com", &mp), SMTPC_OK);
  mp.ret = 0;
  mp.envid = NULL;
  mp.body8bit = mp.smtputf8 = 0;
  mp.size = -1;
  ck_assert_int_eq(smtpc__cmd_mail(&b, &a.mem, "", &mp), SMTPC_OK);
  ck_assert_int_eq(smtpc__cmd_mail_plain(&b, &a.mem, "a@example.com", &mp),
                   SMTPC_OK);
  ck_assert_uint_eq(b.len, strlen("MAIL FROM:<a@example.com> SIZE=1234 "
                                  "BODY=8BITMIME SMTPUTF8 RET=FULL "
                                  "ENVID=e+2B1 REQUIRETLS\r\n"
                                  "MAIL FROM:<> REQUIRETLS\r\n"
                                  "MAIL FROM:<a@example.com>\r\n"));
  ck_assert_mem_eq(b.data,
                   "MAIL FROM:<a@example.com> SIZE=1234 BODY=8BITMIME "
                   "SMTPUTF8 RET=FULL ENVID=e+2B1 REQUIRETLS\r\n"
                   "MAIL FROM:<> REQUIRETLS\r\n"
                   "MAIL FROM:<a@example.com>\r\n",
                   b.len);
  smtpc__buf_free(&b, &a.mem);
  TU_ASSERT_NO_LEAKS(&a);
}
END_TEST

/* ---- transcripts ----------------------------------------------------------
 */

/* STARTTLS, verified, REQUIRETLS offered after TLS: MAIL carries it (after
 * RET and ENVID); a transaction that did not ask goes without it. */
START_TEST(test_starttls_sent) {
  fixture f;
  smtpc_txn *t1, *t2;
  fx_init(&f, &ts_modes[_i], SEC_STARTTLS);
  script_open(f.t, SEC_STARTTLS, EHLO_PRE, EHLO_RTLS);
  script_two(f.t,
             "MAIL FROM:<alice@example.com> SIZE=21 RET=HDRS "
             "ENVID=e1 REQUIRETLS\r\n"
             "RCPT TO:<bob@example.org>\r\n"
             "DATA\r\n",
             FLIGHT_PLAIN);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, 1);
  ck_assert_int_eq(smtpc_txn_set_dsn(t1, SMTPC_DSN_RET_HDRS, "e1", 0),
                   SMTPC_OK);
  t2 = fx_queue(&f, 0);
  ck_assert_int_eq(smtpc_txn_requiretls(t1), 0); /* not started yet */
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_requiretls(t1), 1);
  ck_assert_int_eq(smtpc_txn_dsn_sent(t1), 1);
  ck_assert_str_eq(smtpc_txn_queue_id(t1), "Q1");
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_requiretls(t2), 0);
  ck_assert_str_eq(smtpc_txn_queue_id(t2), "Q2");
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  fx_fini(&f);
}
END_TEST

/* Implicit TLS (secure from the start): no STARTTLS, REQUIRETLS sent. */
START_TEST(test_implicit_sent) {
  fixture f;
  smtpc_txn *t1;
  fx_init(&f, &ts_modes[_i], SEC_IMPLICIT);
  script_open(f.t, SEC_IMPLICIT, NULL, EHLO_RTLS);
  ts_client_flight(f.t, FLIGHT_RTLS);
  script_accept(f.t, "Q1");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, 1);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_requiretls(t1), 1);
  smtpc_txn_free(t1);
  fx_fini(&f);
}
END_TEST

/* Refused before MAIL: no byte of t1, t2 (not asking) goes next; the NOOP
 * after it shows the session is in step. */
static void refused_case(const ts_mode *mode, sec_kind sec, const char *pre,
                         const char *post) {
  fixture f;
  smtpc_txn *t1, *t2;
  fx_init(&f, mode, sec);
  script_open(f.t, sec, pre, post);
  ts_client_flight(f.t, FLIGHT_PLAIN);
  script_accept(f.t, "Q2");
  ts_client(f.t, "NOOP\r\n");
  ts_server(f.t, "250 2.0.0 Ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t1 = fx_queue(&f, 1);
  t2 = fx_queue(&f, 0);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t1), SMTPC_ERR_REQUIRETLS_UNAVAILABLE);
  ck_assert_int_eq(smtpc_txn_step(t1), SMTPC_STEP_NONE);
  ck_assert_ptr_null(smtpc_txn_reply(t1));
  ck_assert_int_eq(smtpc_txn_requiretls(t1), 0);
  ck_assert_int_eq(
      smtpc_retry_classify(smtpc_txn_status(t1), SMTPC_STEP_NONE, NULL),
      SMTPC_RETRY_PERMANENT);
  ck_assert_int_eq(smtpc_txn_status(t2), SMTPC_OK);
  ck_assert_str_eq(smtpc_txn_queue_id(t2), "Q2");
  ck_assert_int_eq(fx_noop(&f), SMTPC_OK);
  smtpc_txn_free(t1);
  smtpc_txn_free(t2);
  fx_fini(&f);
}

/* Clear text, even with a server (wrongly) offering REQUIRETLS. */
START_TEST(test_plain_refused) {
  refused_case(&ts_modes[_i], SEC_PLAIN, NULL, EHLO_RTLS);
}
END_TEST

/* STARTTLS done but the certificate not verified (transport says 2): the
 * TLS policy is met, REQUIRETLS is not. */
START_TEST(test_unverified_refused) {
  if (ts_modes[_i].mem)
    return; /* memory mode has no unverified state: see below */
  refused_case(&ts_modes[_i], SEC_UNVERIFIED, EHLO_PRE, EHLO_RTLS);
}
END_TEST

/* REQUIRETLS in the EHLO before STARTTLS only: forgotten after TLS. */
START_TEST(test_pre_tls_keyword_refused) {
  refused_case(&ts_modes[_i], SEC_STARTTLS, EHLO_PRE_RTLS, EHLO_NO_RTLS);
}
END_TEST

/* Verified TLS, the keyword absent (STARTTLS and implicit TLS). */
START_TEST(test_keyword_absent_refused) {
  refused_case(&ts_modes[_i], SEC_STARTTLS, EHLO_PRE, EHLO_NO_RTLS);
}
END_TEST

START_TEST(test_implicit_keyword_absent_refused) {
  refused_case(&ts_modes[_i], SEC_IMPLICIT, NULL, EHLO_NO_RTLS);
}
END_TEST

/* Memory mode: a handshake reported with secure = 0 (not verified) ends
 * the session before anything else is sent, whatever was asked. */
START_TEST(test_memory_unverified_fails_session) {
  smtpc_session *s;
  smtpc_txn *t1 = NULL;
  smtpc_body b;
  tu_alloc a;
  const unsigned char *p;
  size_t n;
  static const char *const to[] = {"bob@example.org"};
  tu_alloc_init(&a, 0);
  ck_assert_int_eq(smtpc_session_new(&s, &a.mem), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_ehlo_name(s, "client.test"), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_memory_mode(s, SMTPC_MEM_STARTTLS),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_tls_policy(s, SMTPC_SECURITY_STARTTLS),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_WANT_READ);
  ck_assert_int_eq(smtpc_session_mem_recv(s, GREETING, strlen(GREETING)),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_WANT_WRITE);
  n = smtpc_session_mem_send(s, &p);
  ck_assert_uint_eq(n, strlen(EHLO_CMD));
  ck_assert_mem_eq(p, EHLO_CMD, n);
  smtpc_session_mem_sent(s, n);
  ck_assert_int_eq(smtpc_session_mem_recv(s, EHLO_PRE, strlen(EHLO_PRE)),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_WANT_WRITE);
  n = smtpc_session_mem_send(s, &p);
  ck_assert_uint_eq(n, 10);
  ck_assert_mem_eq(p, "STARTTLS\r\n", n);
  smtpc_session_mem_sent(s, n);
  ck_assert_int_eq(smtpc_session_mem_recv(s, "220 go\r\n", 8), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_open(s), SMTPC_ERR_WANT_WRITE);
  ck_assert_int_eq(smtpc_session_want_starttls(s), 1);
  ck_assert_int_eq(smtpc_session_starttls_done(s, SMTPC_OK, 0),
                   SMTPC_ERR_STARTTLS_UNAVAILABLE);
  ck_assert_uint_eq(smtpc_session_mem_send(s, &p), 0);
  smtpc_body_init_memory(&b, BODY, strlen(BODY));
  if (smtpc_session_queue(s, "alice@example.com", to, 1, &b, &t1) == SMTPC_OK) {
    smtpc_txn_set_requiretls(t1, 1);
    ck_assert_int_ne(smtpc_session_run(s), SMTPC_OK);
    ck_assert_int_ne(smtpc_txn_status(t1), SMTPC_OK);
  }
  ck_assert_uint_eq(smtpc_session_mem_send(s, &p), 0);
  smtpc_txn_free(t1);
  smtpc_session_free(s);
  TU_ASSERT_NO_LEAKS(&a);
}
END_TEST

/* Once MAIL is out (and once complete) the request is fixed; NULL is an
 * argument error; on = 0 takes it back. */
START_TEST(test_setter_states) {
  static const ts_mode nb = {0, 0, 1, 0};
  fixture f;
  smtpc_txn *tx, *t0;
  long spins = 0;
  int rv;
  ck_assert_int_eq(smtpc_txn_set_requiretls(NULL, 1),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_txn_requiretls(NULL), 0);
  fx_init(&f, &nb, SEC_STARTTLS);
  script_open(f.t, SEC_STARTTLS, EHLO_PRE, EHLO_RTLS);
  script_two(f.t, FLIGHT_PLAIN, FLIGHT_RTLS);
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  t0 = fx_queue(&f, 1);
  ck_assert_int_eq(smtpc_txn_set_requiretls(t0, 0), SMTPC_OK);
  tx = fx_queue(&f, 1);
  for (;;) {
    rv = smtpc_session_run(f.s);
    if ((rv != SMTPC_ERR_WANT_READ && rv != SMTPC_ERR_WANT_WRITE) ||
        smtpc_txn_step(tx) != SMTPC_STEP_NONE || ++spins > 1000)
      break;
  }
  ck_assert_int_ne(smtpc_txn_step(tx), SMTPC_STEP_NONE);
  ck_assert_int_eq(smtpc_txn_set_requiretls(tx, 0), SMTPC_ERR_INVALID_STATE);
  ck_assert_int_eq(fx_run(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t0), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_requiretls(t0), 0);
  ck_assert_str_eq(smtpc_txn_queue_id(t0), "Q1");
  ck_assert_int_eq(smtpc_txn_status(tx), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_requiretls(tx), 1);
  ck_assert_str_eq(smtpc_txn_queue_id(tx), "Q2");
  ck_assert_int_eq(smtpc_txn_set_requiretls(tx, 1), SMTPC_ERR_INVALID_STATE);
  smtpc_txn_free(t0);
  smtpc_txn_free(tx);
  fx_fini(&f);
}
END_TEST

/* The error's text and name. */
START_TEST(test_error_code) {
  ck_assert_int_eq(SMTPC_ERR_REQUIRETLS_UNAVAILABLE, -112);
  ck_assert_str_eq(smtpc_strerror(SMTPC_ERR_REQUIRETLS_UNAVAILABLE),
                   "REQUIRETLS asked for but the connection is not verified "
                   "TLS or the server does not offer REQUIRETLS; message not "
                   "sent");
  ck_assert_int_eq(smtpc_error_is_fatal(SMTPC_ERR_REQUIRETLS_UNAVAILABLE), 0);
}
END_TEST

/* ---- allocation failures --------------------------------------------------
 * STARTTLS and a REQUIRETLS transaction with DSN, every allocation refused
 * in turn; a refused transaction alongside (keyword absent). */

static int rtls_scenario(tu_alloc *a, void *arg) {
  static const char *const to[] = {"bob@example.org"};
  const char *post = arg;
  int offered = strcmp(post, EHLO_RTLS) == 0;
  smtpc_session *s = NULL;
  smtpc_io io;
  smtpc_body b;
  smtpc_txn *tx = NULL;
  ts *t = ts_new();
  int rv;
  ts_set_abort(t, 0);
  script_open(t, SEC_STARTTLS, EHLO_PRE, post);
  if (offered) {
    ts_client(t, "MAIL FROM:<alice@example.com> SIZE=21 RET=FULL "
                 "REQUIRETLS\r\n"
                 "RCPT TO:<bob@example.org>\r\n"
                 "DATA\r\n");
    script_accept(t, "X");
  }
  ts_client(t, "QUIT\r\n");
  ts_server(t, "221 bye\r\n");
  ts_io(t, &io);
  io.is_secure = sec_after_tls;
  if ((rv = smtpc_session_new(&s, &a->mem)) != SMTPC_OK)
    goto out;
  smtpc_session_set_io(s, &io);
  smtpc_session_set_tls_policy(s, SMTPC_SECURITY_STARTTLS);
  if ((rv = smtpc_session_set_ehlo_name(s, "client.test")) != SMTPC_OK ||
      (rv = smtpc_session_open(s)) != SMTPC_OK)
    goto out;
  smtpc_body_init_memory(&b, BODY, strlen(BODY));
  if ((rv = smtpc_session_queue(s, "alice@example.com", to, 1, &b, &tx)) !=
          SMTPC_OK ||
      (rv = smtpc_txn_set_dsn(tx, SMTPC_DSN_RET_FULL, NULL, 0)) != SMTPC_OK ||
      (rv = smtpc_txn_set_requiretls(tx, 1)) != SMTPC_OK)
    goto out;
  rv = smtpc_session_run(s);
  if (rv != SMTPC_OK) {
    TU_CHECK(smtpc_txn_status(tx) == SMTPC_ERR_NOMEM, "run %d, transaction %d",
             rv, smtpc_txn_status(tx));
    goto out;
  }
  TU_CHECK(smtpc_txn_status(tx) ==
               (offered ? SMTPC_OK : SMTPC_ERR_REQUIRETLS_UNAVAILABLE),
           "status %d", smtpc_txn_status(tx));
  TU_CHECK(smtpc_txn_requiretls(tx) == offered, "REQUIRETLS %d",
           smtpc_txn_requiretls(tx));
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
  long failures = tu_alloc_sweep(rtls_scenario,
                                 (void *)(_i ? EHLO_NO_RTLS : EHLO_RTLS), 500);
  ck_assert_int_gt(failures, 5);
}
END_TEST

static Suite *requiretls_suite(void) {
  Suite *s = suite_create("requiretls");
  TCase *tc = tcase_create("units");
  int n = (int)ts_nmodes;
  tcase_add_test(tc, test_cmd_mail);
  tcase_add_test(tc, test_error_code);
  tcase_add_test(tc, test_memory_unverified_fails_session);
  suite_add_tcase(s, tc);

  tc = tcase_create("transcripts");
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, test_starttls_sent, 0, n);
  tcase_add_loop_test(tc, test_implicit_sent, 0, n);
  tcase_add_loop_test(tc, test_plain_refused, 0, n);
  tcase_add_loop_test(tc, test_unverified_refused, 0, n);
  tcase_add_loop_test(tc, test_pre_tls_keyword_refused, 0, n);
  tcase_add_loop_test(tc, test_keyword_absent_refused, 0, n);
  tcase_add_loop_test(tc, test_implicit_keyword_absent_refused, 0, n);
  tcase_add_test(tc, test_setter_states);
  tcase_add_loop_test(tc, test_alloc_failure_sweep, 0, 2);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(requiretls_suite());
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
