/* SPDX-License-Identifier: MIT */
/* The one-call API, verify, the retry classification and the connection
 * pool (include/smtpc/client.h).
 *
 *   retry   smtpc_retry_classify() as a table: every status that a failure
 *           can carry, at every step where it can happen, with and without
 *           the reply that decided it; the stage and class names.
 *   send    smtpc_send(), smtpc_send_msg() and smtpc_verify() over real TCP
 *           against tests/faultd.py: each failure must come back with the
 *           exact status, stage, retry class and a message that quotes the
 *           server (or the system error), and faultd's own log must show
 *           that nothing was sent that the failure forbids (no byte at all
 *           for a malformed mail, nothing after EHLO when STARTTLS is
 *           required but missing, no AUTH in clear, ...).
 *   pool    smtpc_pool_*() against faultd: reuse (one connection, RSET
 *           before each reuse), 421 before the end of data (retried once on
 *           a fresh connection, delivered once), a connection lost after
 *           the end of data (never retried: UNKNOWN), idle-dropped and
 *           421-on-idle connections (replaced), max_connections under
 *           contention, the wait_ms timeout and the rate limit.
 *
 * "Delivered once" is checked against faultd's log, which writes one
 * ACCEPTED line before every 250 it sends to an end of data: each message
 * has its own envelope sender, so its ACCEPTED lines are counted exactly.
 *
 * One faultd.py process serves every scenario (one port each); main()
 * starts it before the tests and stops it after them.  Every scenario spec
 * below is used by one test only, so its connection numbers ("spec#1",
 * "spec#2") are known.  Only 127.0.0.1 is used.
 *
 * Environment: top_srcdir (where tests/faultd.py lives), PYTHON,
 * CLIENT_KEEP_LOG (keep faultd's log).  Exit 77 when faultd cannot start. */
#include "testutil.h"
#include "faultd_run.h"

#include "smtpc_int.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Reply deadline given to the library (ms) and the slack allowed on top of
 * it when a call's duration is bounded (generous: valgrind). */
#define TMO 2000
#define SLACK 3000
/* Longest wait for faultd's log to show the end of a connection. */
#define LOG_WAIT_MS 8000

/* ---- small helpers -------------------------------------------------------- */

/* ---- faultd.py ------------------------------------------------------------ */

/* Every scenario the suite uses; one test each (see the header). */
static const char *const all_specs[] = {
    /* one call */
    "ok+send", "ok+msg", "ok+setup", "ok+tls", "ok+tlsverify", "ok+tlsuser",
    "ok+verify", "554-greeting", "421-greeting", "reject-hello", "421-ehlo",
    "stall-greeting", "auth+insecure", "auth+opportunistic", "auth+plain",
    "auth+login", "auth+bad", "auth+verify", "reject-rcpt", "partial-rcpt",
    "partial-rcpt+none", "partial-rcpt+tmp", "close-after-eod", "451-eod",
    /* pool */
    "ok+pool", "421-mail2", "reject-mail-354", "close-after-eod+pool",
    "close-eod2", "421-eod", "close-idle-300", "close-idle-300+rset",
    "421-idle", "slow-eod+max", "slow-eod+wait", "ok+rate", "ok+norate",
    "ok+poolsetup", "stall-quit", "ok+idleclose",
    /* REQUIRETLS refused in clear text */
    "ok+rtls", "ok+rtlspool"};
#define NSPECS (sizeof(all_specs) / sizeof(all_specs[0]))

/* Counts the log lines of scenario `spec` (any of its connections when
 * conn is 0, else connection "spec#conn") whose event starts with `prefix`
 * and, when `has` is not NULL, contains `has`. */
static int log_count(const char *log, const char *spec, int conn,
                     const char *prefix, const char *has) {
  const char *p = log;
  size_t sl = strlen(spec), pl = strlen(prefix);
  int n = 0;
  for (;;) {
    const char *nl = strchr(p, '\n'), *q;
    if (nl == NULL)
      break;
    if ((size_t)(nl - p) > sl + 1 && strncmp(p, spec, sl) == 0 &&
        p[sl] == '#') {
      char *end;
      long c = strtol(p + sl + 1, &end, 10);
      q = end;
      if (*q == ' ' && (conn == 0 || c == conn) && (size_t)(nl - q - 1) >= pl &&
          strncmp(q + 1, prefix, pl) == 0) {
        if (has == NULL)
          n++;
        else {
          const char *h = strstr(q + 1, has);
          if (h != NULL && h < nl)
            n++;
        }
      }
    }
    p = nl + 1;
  }
  return n;
}

/* Waits (bounded) until faultd logged END for n connections of spec;
 * returns the log (the caller frees it). */
static char *log_wait_ends(const char *spec, int n) {
  long end = tf_now_ms() + LOG_WAIT_MS;
  for (;;) {
    char *log = tf_log_read();
    if (log_count(log, spec, 0, "END", NULL) >= n)
      return log;
    free(log);
    if (tf_now_ms() > end)
      ck_abort_msg("%s: faultd did not log the end of %d connection(s) "
                   "within %d ms (log %s)",
                   spec, n, LOG_WAIT_MS, tf_log_path());
    tf_sleep_ms(20);
  }
}

#ifdef SMTPC_HAVE_PTHREADS /* used by the multi-threaded pool tests */
/* The most connections of spec open at once, from the order of its CONNECT
 * and END lines (the log is written in event order). */
static int log_max_open(const char *log, const char *spec) {
  const char *p = log;
  size_t sl = strlen(spec);
  int open = 0, max = 0;
  for (;;) {
    const char *nl = strchr(p, '\n'), *q;
    if (nl == NULL)
      break;
    if (strncmp(p, spec, sl) == 0 && p[sl] == '#') {
      q = p + sl + 1;
      while (*q >= '0' && *q <= '9')
        q++;
      if (strncmp(q, " CONNECT", 8) == 0 && ++open > max)
        max = open;
      if (strncmp(q, " END", 4) == 0)
        open--;
    }
    p = nl + 1;
  }
  return max;
}
#endif

/* ---- outcome checks ------------------------------------------------------- */

/* Asserts the whole outcome: the returned status equals the result's, and
 * status, stage, retry class and (unless NULL) a piece of the message. */
#define EXPECT(rv, res, st, stage, retry, piece)                               \
  expect_((rv), (res), (st), (stage), (retry), (piece), __LINE__)

static void expect_(int rv, const smtpc_result *res, int st, smtpc_stage stage,
                    smtpc_retry retry, const char *piece, int line) {
  const char *msg;
  ck_assert_msg(res != NULL, "line %d: no result", line);
  msg = smtpc_result_message(res);
  ck_assert_msg(rv == smtpc_result_status(res),
                "line %d: returned %s but the result says %s (%s)", line,
                tf_err_name(rv), tf_err_name(smtpc_result_status(res)), msg);
  ck_assert_msg(rv == st, "line %d: status %s, expected %s (message: %s)", line,
                tf_err_name(rv), tf_err_name(st), msg);
  ck_assert_msg(smtpc_result_stage(res) == stage,
                "line %d: stage %s, expected %s (message: %s)", line,
                smtpc_stage_name(smtpc_result_stage(res)),
                smtpc_stage_name(stage), msg);
  ck_assert_msg(smtpc_result_retry(res) == retry,
                "line %d: retry %s, expected %s (message: %s)", line,
                smtpc_retry_name(smtpc_result_retry(res)),
                smtpc_retry_name(retry), msg);
  if (piece != NULL)
    ck_assert_msg(strstr(msg, piece) != NULL,
                  "line %d: message \"%s\" lacks \"%s\"", line, msg, piece);
}

/* A clear-text configuration for faultd's port of spec. */
static smtpc_client_config cfg_for(const char *spec) {
  smtpc_client_config c;
  memset(&c, 0, sizeof(c));
  c.host = "127.0.0.1";
  c.port = tf_port_of(spec);
  c.security = SMTPC_SECURITY_NONE;
  c.ehlo_name = "client.test";
  c.connect_timeout_ms = TMO;
  c.timeout_ms = TMO;
  return c;
}

/* A port on 127.0.0.1 where nothing listens: bound, then closed. */
static void closed_port(char *out, size_t cap) {
  struct sockaddr_in sa;
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(fd, 0);
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  close(fd);
  snprintf(out, cap, "%u", (unsigned)ntohs(sa.sin_port));
}

static const char *const one_rcpt[] = {"rcpt@rcpt.test", NULL};

static smtpc_mail mail_from(const char *from) {
  smtpc_mail m;
  memset(&m, 0, sizeof(m));
  m.from = from;
  m.to = one_rcpt;
  m.subject = "check_client";
  m.text = "hello from check_client\n.a line with a leading dot\n";
  return m;
}

/* The result of every test, freed by the teardown even when an assertion
 * ends the test early (CK_FORK=no under valgrind). */
static smtpc_result *R;
static char *LOG;
static smtpc_pool *POOL;

static void teardown(void) {
  smtpc_result_free(R);
  R = NULL;
  free(LOG);
  LOG = NULL;
  smtpc_pool_free(POOL);
  POOL = NULL;
}

static void hold_log(char *log) {
  free(LOG);
  LOG = log;
}

/* ---- (a) retry classification ---------------------------------------------- */

typedef struct {
  int status;
  smtpc_step step;
  int code; /* reply code, 0: no reply */
  smtpc_retry want;
} retry_row;

#define T_ SMTPC_RETRY_TRANSIENT
#define P_ SMTPC_RETRY_PERMANENT
#define U_ SMTPC_RETRY_UNKNOWN
#define N_ SMTPC_RETRY_NONE

static const retry_row retry_rows[] = {
    /* accepted */
    {SMTPC_OK, SMTPC_STEP_NONE, 0, N_},
    {SMTPC_OK, SMTPC_STEP_DATA_END, 250, N_},
    {SMTPC_ERR_PARTIAL, SMTPC_STEP_DATA_END, 250, N_},
    /* a reply decides, at every step, whatever the status */
    {SMTPC_ERR_REPLY_TEMPORARY, SMTPC_STEP_MAIL, 451, T_},
    {SMTPC_ERR_REPLY_TEMPORARY, SMTPC_STEP_RCPT, 450, T_},
    {SMTPC_ERR_REPLY_TEMPORARY, SMTPC_STEP_DATA, 451, T_},
    /* a 4xx to the end of data: the server said it did not take it */
    {SMTPC_ERR_REPLY_TEMPORARY, SMTPC_STEP_DATA_END, 451, T_},
    {SMTPC_ERR_REPLY_PERMANENT, SMTPC_STEP_MAIL, 550, P_},
    {SMTPC_ERR_REPLY_PERMANENT, SMTPC_STEP_RCPT, 553, P_},
    {SMTPC_ERR_REPLY_PERMANENT, SMTPC_STEP_DATA, 554, P_},
    {SMTPC_ERR_REPLY_PERMANENT, SMTPC_STEP_DATA_END, 552, P_},
    {SMTPC_ERR_SERVICE_CLOSING, SMTPC_STEP_NONE, 421, T_},
    {SMTPC_ERR_SERVICE_CLOSING, SMTPC_STEP_MAIL, 421, T_},
    {SMTPC_ERR_SERVICE_CLOSING, SMTPC_STEP_RCPT, 421, T_},
    {SMTPC_ERR_SERVICE_CLOSING, SMTPC_STEP_DATA, 421, T_},
    {SMTPC_ERR_SERVICE_CLOSING, SMTPC_STEP_DATA_END, 421, T_},
    {SMTPC_ERR_GREETING_REFUSED, SMTPC_STEP_NONE, 554, P_},
    {SMTPC_ERR_NO_RECIPIENTS, SMTPC_STEP_RCPT, 550, P_},
    {SMTPC_ERR_NO_RECIPIENTS, SMTPC_STEP_RCPT, 450, T_},
    {SMTPC_ERR_AUTH_FAILED, SMTPC_STEP_NONE, 535, P_},
    {SMTPC_ERR_AUTH_FAILED, SMTPC_STEP_NONE, 454, T_},
    {SMTPC_ERR_STARTTLS_UNAVAILABLE, SMTPC_STEP_NONE, 454, T_},
    {SMTPC_ERR_REPLY_PERMANENT, SMTPC_STEP_NONE, 550, P_},
    {SMTPC_ERR_REPLY_TEMPORARY, SMTPC_STEP_NONE, 421, T_},
    /* no reply: a broken connection is transient before the end of data,
     * unknown after it */
    {SMTPC_ERR_EOF, SMTPC_STEP_NONE, 0, T_},
    {SMTPC_ERR_EOF, SMTPC_STEP_MAIL, 0, T_},
    {SMTPC_ERR_EOF, SMTPC_STEP_RCPT, 0, T_},
    {SMTPC_ERR_EOF, SMTPC_STEP_DATA, 0, T_},
    {SMTPC_ERR_EOF, SMTPC_STEP_BODY, 0, T_},
    {SMTPC_ERR_EOF, SMTPC_STEP_DATA_END, 0, U_},
    {SMTPC_ERR_IO, SMTPC_STEP_NONE, 0, T_},
    {SMTPC_ERR_IO, SMTPC_STEP_RCPT, 0, T_},
    {SMTPC_ERR_IO, SMTPC_STEP_BODY, 0, T_},
    {SMTPC_ERR_IO, SMTPC_STEP_DATA_END, 0, U_},
    {SMTPC_ERR_TIMEOUT, SMTPC_STEP_NONE, 0, T_},
    {SMTPC_ERR_TIMEOUT, SMTPC_STEP_MAIL, 0, T_},
    {SMTPC_ERR_TIMEOUT, SMTPC_STEP_DATA, 0, T_},
    {SMTPC_ERR_TIMEOUT, SMTPC_STEP_BODY, 0, T_},
    {SMTPC_ERR_TIMEOUT, SMTPC_STEP_DATA_END, 0, U_},
    {SMTPC_ERR_PROTOCOL, SMTPC_STEP_NONE, 0, T_},
    {SMTPC_ERR_PROTOCOL, SMTPC_STEP_MAIL, 0, T_},
    {SMTPC_ERR_PROTOCOL, SMTPC_STEP_DATA_END, 0, U_},
    {SMTPC_ERR_REPLY_LINE_TOO_LONG, SMTPC_STEP_RCPT, 0, T_},
    {SMTPC_ERR_REPLY_LINE_TOO_LONG, SMTPC_STEP_DATA_END, 0, U_},
    {SMTPC_ERR_REPLY_TOO_LARGE, SMTPC_STEP_NONE, 0, T_},
    {SMTPC_ERR_REPLY_TOO_LARGE, SMTPC_STEP_DATA_END, 0, U_},
    {SMTPC_ERR_SERVICE_CLOSING, SMTPC_STEP_NONE, 0, T_},
    /* before any transaction: network trouble is transient */
    {SMTPC_ERR_RESOLVE, SMTPC_STEP_NONE, 0, T_},
    {SMTPC_ERR_CONNECT, SMTPC_STEP_NONE, 0, T_},
    {SMTPC_ERR_TLS, SMTPC_STEP_NONE, 0, T_},
    /* configuration problems are permanent */
    {SMTPC_ERR_CERTIFICATE, SMTPC_STEP_NONE, 0, P_},
    {SMTPC_ERR_STARTTLS_UNAVAILABLE, SMTPC_STEP_NONE, 0, P_},
    {SMTPC_ERR_AUTH_UNSUPPORTED, SMTPC_STEP_NONE, 0, P_},
    {SMTPC_ERR_AUTH_INSECURE, SMTPC_STEP_NONE, 0, P_},
    {SMTPC_ERR_AUTH_FAILED, SMTPC_STEP_NONE, 0, P_},
    /* so are messages the server cannot take */
    {SMTPC_ERR_MESSAGE_TOO_BIG, SMTPC_STEP_NONE, 0, P_},
    {SMTPC_ERR_8BIT_UNSUPPORTED, SMTPC_STEP_NONE, 0, P_},
    {SMTPC_ERR_BAD_ADDRESS, SMTPC_STEP_NONE, 0, P_},
    {SMTPC_ERR_BODY_LINE_TOO_LONG, SMTPC_STEP_NONE, 0, P_},
};
#define NRETRY (sizeof(retry_rows) / sizeof(retry_rows[0]))

static const char *step_name(smtpc_step s) {
  static const char *const n[] = {"NONE", "MAIL", "RCPT",
                                  "DATA", "BODY", "DATA_END"};
  return (unsigned)s < 6 ? n[s] : "?";
}

START_TEST(test_retry_table) {
  const retry_row *w = &retry_rows[_i];
  tu_alloc a;
  smtpc_reply *r = NULL;
  smtpc_retry got;
  tu_alloc_init(&a, 0);
  if (w->code != 0) {
    char text[64];
    snprintf(text, sizeof(text), "%d.0.0 from the table", w->code / 100);
    r = tu_reply_make(&a.mem, w->code, text);
    ck_assert_ptr_nonnull(r);
  }
  got = smtpc_retry_classify(w->status, w->step, r);
  smtpc__reply_free(&a.mem, r);
  TU_ASSERT_NO_LEAKS(&a);
  ck_assert_msg(got == w->want,
                "row %d: %s at %s with reply %d: %s, expected "
                "%s",
                _i, tf_err_name(w->status), step_name(w->step), w->code,
                smtpc_retry_name(got), smtpc_retry_name(w->want));
}
END_TEST

START_TEST(test_names) {
  static const char *const stages[] = {
      "setup", "pool",     "resolve", "connect", "TLS", "greeting",
      "EHLO",  "STARTTLS", "AUTH",    "send",    "done"};
  static const char *const retries[] = {"none", "transient", "permanent",
                                        "unknown"};
  int i;
  for (i = 0; i <= (int)SMTPC_STAGE_DONE; i++)
    ck_assert_str_eq(smtpc_stage_name((smtpc_stage)i), stages[i]);
  ck_assert_str_eq(smtpc_stage_name((smtpc_stage)99), "unknown");
  for (i = 0; i <= (int)SMTPC_RETRY_UNKNOWN; i++)
    ck_assert_str_eq(smtpc_retry_name((smtpc_retry)i), retries[i]);
  /* NULL results are harmless */
  ck_assert_int_eq(smtpc_result_status(NULL), SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_str_eq(smtpc_result_message(NULL), "");
  ck_assert_ptr_null(smtpc_result_txn(NULL));
  ck_assert_ptr_null(smtpc_result_reply(NULL));
  ck_assert_uint_eq(smtpc_result_attempts(NULL), 0);
  smtpc_result_free(NULL);
  /* what configure decided (--disable-threads: a single-threaded pool) */
#ifdef SMTPC_HAVE_PTHREADS
  ck_assert_int_eq(smtpc_pool_threadsafe(), 1);
#else
  ck_assert_int_eq(smtpc_pool_threadsafe(), 0);
#endif
}
END_TEST

/* ---- (b) one call against faultd ------------------------------------------- */

START_TEST(test_send_ok) {
  static const char *const to[] = {"Ann <to1@rcpt.test>", "to2@rcpt.test",
                                   NULL};
  static const char *const cc[] = {"cc1@rcpt.test", NULL};
  static const char *const bcc[] = {"bcc1@rcpt.test", NULL};
  static const char att[] = "a,b\n1,2\n";
  smtpc_client_config cfg = cfg_for("ok+send");
  smtpc_attachment at;
  smtpc_mail m = mail_from("Alice <alice@client.test>");
  const smtpc_txn *t;
  int rv;
  memset(&at, 0, sizeof(at));
  at.data = att;
  at.len = sizeof(att) - 1;
  at.filename = "table.csv";
  m.to = to;
  m.cc = cc;
  m.bcc = bcc;
  m.html = "<p>hello</p>";
  m.attachments = &at;
  m.nattachments = 1;
  rv = smtpc_send(&cfg, &m, &R);
  EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE,
         "250 2.0.0 Ok: queued as FD1");
  ck_assert_msg(strncmp(smtpc_result_message(R), "accepted: ", 10) == 0,
                "message: %s", smtpc_result_message(R));
  ck_assert_int_eq(smtpc_reply_code(smtpc_result_reply(R)), 250);
  ck_assert_uint_eq(smtpc_result_attempts(R), 1);
  ck_assert_int_eq(smtpc_result_tls_verify(R), SMTPC_TLS_VERIFY_OK);
  t = smtpc_result_txn(R);
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(smtpc_txn_status(t), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_retry(t), SMTPC_RETRY_NONE);
  ck_assert_str_eq(smtpc_txn_queue_id(t), "FD1");
  /* the envelope: To, Cc and Bcc, in that order */
  ck_assert_uint_eq(smtpc_txn_rcpt_count(t), 4);
  ck_assert_uint_eq(smtpc_txn_accepted_count(t), 4);
  ck_assert_str_eq(smtpc_txn_rcpt(t, 0), "to1@rcpt.test");
  ck_assert_str_eq(smtpc_txn_rcpt(t, 3), "bcc1@rcpt.test");
  hold_log(log_wait_ends("ok+send", 1));
  ck_assert_int_eq(log_count(LOG, "ok+send", 0, "CONNECT", NULL), 1);
  ck_assert_int_eq(
      log_count(LOG, "ok+send", 1,
                "ACCEPTED txn=1 from=<alice@client.test> "
                "rcpts=<to1@rcpt.test>,<to2@rcpt.test>,<cc1@rcpt.test>,"
                "<bcc1@rcpt.test>",
                NULL),
      1);
  ck_assert_int_eq(log_count(LOG, "ok+send", 1, "C QUIT", NULL), 1);
  ck_assert_int_eq(log_count(LOG, "ok+send", 0, "VIOLATION", NULL), 0);
}
END_TEST

START_TEST(test_send_msg_twice) {
  smtpc_client_config cfg = cfg_for("ok+msg");
  smtpc_msg *msg = NULL;
  int rv, i;
  ck_assert_int_eq(smtpc_msg_new(&msg, NULL), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_from(msg, "Bob", "bob@client.test"), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_add_to(msg, NULL, "to@rcpt.test"), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_subject(msg, "twice"), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_text(msg, "same message, sent twice\n", 25),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_message_id(msg, "unit-1@client.test"),
                   SMTPC_OK);
  /* "it may be sent again": two connections, one acceptance each */
  for (i = 0; i < 2; i++) {
    rv = smtpc_send_msg(&cfg, msg, &R);
    EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, "accepted: ");
    smtpc_result_free(R);
    R = NULL;
  }
  ck_assert_str_eq(smtpc_msg_message_id(msg), "unit-1@client.test");
  smtpc_msg_free(msg);
  hold_log(log_wait_ends("ok+msg", 2));
  ck_assert_int_eq(log_count(LOG, "ok+msg", 1,
                             "ACCEPTED txn=1 "
                             "from=<bob@client.test> rcpts=<to@rcpt.test>",
                             NULL),
                   1);
  ck_assert_int_eq(log_count(LOG, "ok+msg", 2,
                             "ACCEPTED txn=1 "
                             "from=<bob@client.test> rcpts=<to@rcpt.test>",
                             NULL),
                   1);
  ck_assert_int_eq(log_count(LOG, "ok+msg", 0, "ACCEPTED", NULL), 2);
}
END_TEST

/* Malformed mail: refused at SETUP before any connection is made. */
START_TEST(test_setup_refused) {
  /* a bare address with CR LF in it is a bad address; in the
   * "Name <addr>" form the CR LF lands in the display name, a bad
   * argument (mime.h: smtpc_msg_add_to()) */
  static const char *const bad_to[] = {"a@rcpt.test\r\nRCPT TO:evil@x.test",
                                       NULL};
  static const char *const bad_name[] = {"a@rcpt.test\r\nRCPT TO:<evil@x.test>",
                                         NULL};
  static const char *const none[] = {NULL};
  smtpc_client_config cfg = cfg_for("ok+setup");
  smtpc_mail m;
  char *log;
  int rv;

  m = mail_from("s@client.test");
  m.subject = "hi\r\nBcc: evil@x.test";
  rv = smtpc_send(&cfg, &m, &R);
  EXPECT(rv, R, SMTPC_ERR_BAD_ARGUMENT, SMTPC_STAGE_SETUP,
         SMTPC_RETRY_PERMANENT, NULL);
  ck_assert_uint_eq(smtpc_result_attempts(R), 0);
  ck_assert_ptr_null(smtpc_result_txn(R));
  smtpc_result_free(R);
  R = NULL;

  m = mail_from("s@client.test");
  m.to = bad_to;
  rv = smtpc_send(&cfg, &m, &R);
  EXPECT(rv, R, SMTPC_ERR_BAD_ADDRESS, SMTPC_STAGE_SETUP, SMTPC_RETRY_PERMANENT,
         NULL);
  smtpc_result_free(R);
  R = NULL;

  m = mail_from("s@client.test");
  m.to = bad_name;
  rv = smtpc_send(&cfg, &m, &R);
  EXPECT(rv, R, SMTPC_ERR_BAD_ARGUMENT, SMTPC_STAGE_SETUP,
         SMTPC_RETRY_PERMANENT, NULL);
  smtpc_result_free(R);
  R = NULL;

  m = mail_from("s@client.test\nX-Evil: 1");
  rv = smtpc_send(&cfg, &m, &R);
  EXPECT(rv, R, SMTPC_ERR_BAD_ADDRESS, SMTPC_STAGE_SETUP, SMTPC_RETRY_PERMANENT,
         NULL);
  smtpc_result_free(R);
  R = NULL;

  /* To, Cc and Bcc together need at least one recipient */
  m = mail_from("s@client.test");
  m.to = none;
  rv = smtpc_send(&cfg, &m, &R);
  ck_assert_int_eq(rv, smtpc_result_status(R));
  ck_assert_msg(rv == SMTPC_ERR_INVALID_ARGUMENT || rv == SMTPC_ERR_BAD_ADDRESS,
                "no recipient: %s", tf_err_name(rv));
  ck_assert_int_eq(smtpc_result_stage(R), SMTPC_STAGE_SETUP);
  smtpc_result_free(R);
  R = NULL;

  /* REQUIRETLS and TLS-Required: No never both (RFC 8689 4.3) */
  m = mail_from("s@client.test");
  m.version = 2;
  m.requiretls = 1;
  m.tls_required_no = 1;
  rv = smtpc_send(&cfg, &m, &R);
  EXPECT(rv, R, SMTPC_ERR_INVALID_ARGUMENT, SMTPC_STAGE_SETUP,
         SMTPC_RETRY_PERMANENT, "exclusive");
  smtpc_result_free(R);
  R = NULL;

  /* structures that claim a layout newer than the library's */
  m = mail_from("s@client.test");
  m.version = SMTPC_MAIL_VERSION + 1;
  rv = smtpc_send(&cfg, &m, &R);
  EXPECT(rv, R, SMTPC_ERR_INVALID_ARGUMENT, SMTPC_STAGE_SETUP,
         SMTPC_RETRY_PERMANENT, "version");
  smtpc_result_free(R);
  R = NULL;
  m = mail_from("s@client.test");
  cfg.version = SMTPC_CLIENT_CONFIG_VERSION + 1;
  rv = smtpc_send(&cfg, &m, &R);
  EXPECT(rv, R, SMTPC_ERR_INVALID_ARGUMENT, SMTPC_STAGE_SETUP,
         SMTPC_RETRY_PERMANENT, "version");
  smtpc_result_free(R);
  R = NULL;
  cfg.version = 0;

  /* the result pointer is optional */
  m = mail_from("s@client.test");
  m.subject = "a\rb";
  ck_assert_int_eq(smtpc_send(&cfg, &m, NULL), SMTPC_ERR_BAD_ARGUMENT);

  /* not one connection reached faultd (give a stray one time to show) */
  tf_sleep_ms(200);
  log = tf_log_read();
  hold_log(log);
  ck_assert_int_eq(log_count(LOG, "ok+setup", 0, "CONNECT", NULL), 0);
}
END_TEST

START_TEST(test_greeting_554) {
  smtpc_client_config cfg = cfg_for("554-greeting");
  smtpc_mail m = mail_from("g@client.test");
  int rv = smtpc_send(&cfg, &m, &R);
  EXPECT(rv, R, SMTPC_ERR_GREETING_REFUSED, SMTPC_STAGE_GREETING,
         SMTPC_RETRY_PERMANENT, "554 5.7.1 faultd.test no SMTP service");
  ck_assert_int_eq(smtpc_reply_code(smtpc_result_reply(R)), 554);
  ck_assert_ptr_null(smtpc_result_txn(R));
  ck_assert_uint_eq(smtpc_result_attempts(R), 0);
  hold_log(log_wait_ends("554-greeting", 1));
  /* only a polite QUIT may follow a 554 greeting */
  ck_assert_int_eq(log_count(LOG, "554-greeting", 1, "C ", NULL),
                   log_count(LOG, "554-greeting", 1, "C QUIT", NULL));
}
END_TEST

START_TEST(test_greeting_421) {
  smtpc_client_config cfg = cfg_for("421-greeting");
  int rv = smtpc_verify(&cfg, &R);
  EXPECT(rv, R, SMTPC_ERR_SERVICE_CLOSING, SMTPC_STAGE_GREETING,
         SMTPC_RETRY_TRANSIENT, "421 4.3.2");
  ck_assert_int_eq(smtpc_reply_code(smtpc_result_reply(R)), 421);
}
END_TEST

START_TEST(test_hello_refused) {
  smtpc_client_config cfg = cfg_for("reject-hello");
  smtpc_mail m = mail_from("h@client.test");
  int rv = smtpc_send(&cfg, &m, &R);
  EXPECT(rv, R, SMTPC_ERR_REPLY_PERMANENT, SMTPC_STAGE_HELLO,
         SMTPC_RETRY_PERMANENT, "550 5.7.1 faultd.test: HELO refused");
  hold_log(log_wait_ends("reject-hello", 1));
  ck_assert_int_eq(
      log_count(LOG, "reject-hello", 1, "C EHLO client.test", NULL), 1);
  ck_assert_int_eq(
      log_count(LOG, "reject-hello", 1, "C HELO client.test", NULL), 1);
  ck_assert_int_eq(log_count(LOG, "reject-hello", 1, "C MAIL", NULL), 0);
}
END_TEST

START_TEST(test_hello_421) {
  smtpc_client_config cfg = cfg_for("421-ehlo");
  smtpc_mail m = mail_from("h@client.test");
  int rv = smtpc_send(&cfg, &m, &R);
  EXPECT(rv, R, SMTPC_ERR_SERVICE_CLOSING, SMTPC_STAGE_HELLO,
         SMTPC_RETRY_TRANSIENT, "421 4.7.0 faultd.test closing");
}
END_TEST

START_TEST(test_greeting_timeout) {
  smtpc_client_config cfg = cfg_for("stall-greeting");
  smtpc_mail m = mail_from("t@client.test");
  long t0 = tf_now_ms(), ms;
  int rv;
  cfg.timeout_ms = 500;
  rv = smtpc_send(&cfg, &m, &R);
  ms = tf_now_ms() - t0;
  EXPECT(rv, R, SMTPC_ERR_TIMEOUT, SMTPC_STAGE_GREETING, SMTPC_RETRY_TRANSIENT,
         NULL);
  ck_assert_msg(ms >= 450 && ms < 500 + SLACK, "took %ld ms", ms);
}
END_TEST

#ifndef SMTPC_HAVE_MBEDTLS
/* Built without TLS (configure --without-mbedtls): a configuration that
 * needs TLS fails at set-up, saying so, and the server gets no command. */
static void expect_no_tls(int rv, const char *spec) {
  EXPECT(rv, R, SMTPC_ERR_NOT_SUPPORTED, SMTPC_STAGE_SETUP,
         SMTPC_RETRY_PERMANENT, "this libsmtpc was built without TLS");
  ck_assert_ptr_null(smtpc_result_txn(R));
  hold_log(log_wait_ends(spec, 1));
  ck_assert_int_eq(log_count(LOG, spec, 1, "C ", NULL), 0);
}
#define EXPECT_TLS(rv, spec, ...) expect_no_tls((rv), (spec))
#else
#define EXPECT_TLS(rv, spec, ...) EXPECT((rv), R, __VA_ARGS__)
#endif

/* Every command faultd got on connection 1 of spec after EHLO must be QUIT:
 * STARTTLS, AUTH, MAIL, RCPT, DATA, RSET, NOOP would all be wrong. */
static void only_quit_after_ehlo(const char *spec) {
#ifndef SMTPC_HAVE_MBEDTLS
  if (smtpc_result_status(R) == SMTPC_ERR_NOT_SUPPORTED)
    return; /* expect_no_tls() checked that nothing was sent at all */
#endif
  hold_log(log_wait_ends(spec, 1));
  ck_assert_int_eq(log_count(LOG, spec, 1, "C EHLO", NULL), 1);
  ck_assert_msg(log_count(LOG, spec, 1, "C ", NULL) ==
                    1 + log_count(LOG, spec, 1, "C QUIT", NULL),
                "%s: commands other than EHLO and QUIT were sent (log %s)",
                spec, tf_log_path());
}

START_TEST(test_starttls_required) {
  smtpc_client_config cfg = cfg_for("ok+tls");
  smtpc_mail m = mail_from("tls@client.test");
  int rv;
  cfg.security = SMTPC_SECURITY_STARTTLS;
  cfg.insecure_skip_verify = 1; /* not even that allows clear text */
  rv = smtpc_send(&cfg, &m, &R);
  EXPECT_TLS(rv, "ok+tls", SMTPC_ERR_STARTTLS_UNAVAILABLE, SMTPC_STAGE_STARTTLS,
             SMTPC_RETRY_PERMANENT, NULL);
  ck_assert_ptr_null(smtpc_result_txn(R));
  only_quit_after_ehlo("ok+tls");
}
END_TEST

START_TEST(test_starttls_required_verify) {
  smtpc_client_config cfg = cfg_for("ok+tlsverify");
  int rv;
  cfg.security = SMTPC_SECURITY_STARTTLS;
  rv = smtpc_verify(&cfg, &R);
  EXPECT_TLS(rv, "ok+tlsverify", SMTPC_ERR_STARTTLS_UNAVAILABLE,
             SMTPC_STAGE_STARTTLS, SMTPC_RETRY_PERMANENT, NULL);
  only_quit_after_ehlo("ok+tlsverify");
}
END_TEST

START_TEST(test_starttls_required_user) {
  smtpc_client_config cfg = cfg_for("ok+tlsuser");
  smtpc_mail m = mail_from("tls@client.test");
  int rv;
  cfg.security = SMTPC_SECURITY_STARTTLS;
  cfg.user = "user";
  cfg.password = "good pass";
  cfg.allow_plaintext_auth = 1; /* allowed in clear, but TLS is required */
  rv = smtpc_send(&cfg, &m, &R);
  EXPECT_TLS(rv, "ok+tlsuser", SMTPC_ERR_STARTTLS_UNAVAILABLE,
             SMTPC_STAGE_STARTTLS, SMTPC_RETRY_PERMANENT, NULL);
  only_quit_after_ehlo("ok+tlsuser");
}
END_TEST

static void auth_insecure(const char *spec, smtpc_security sec) {
  smtpc_client_config cfg = cfg_for(spec);
  smtpc_mail m = mail_from("ai@client.test");
  int rv;
  cfg.security = sec;
  cfg.user = "user";
  cfg.password = "good pass";
  rv = smtpc_send(&cfg, &m, &R);
  if (sec == SMTPC_SECURITY_NONE)
    EXPECT(rv, R, SMTPC_ERR_AUTH_INSECURE, SMTPC_STAGE_AUTH,
           SMTPC_RETRY_PERMANENT, NULL);
  else
    EXPECT_TLS(rv, spec, SMTPC_ERR_AUTH_INSECURE, SMTPC_STAGE_AUTH,
               SMTPC_RETRY_PERMANENT, NULL);
  only_quit_after_ehlo(spec);
}

START_TEST(test_auth_insecure) {
  auth_insecure("auth+insecure", SMTPC_SECURITY_NONE);
}
END_TEST

/* STARTTLS when offered, else clear text: the credentials still stay home */
START_TEST(test_auth_insecure_opportunistic) {
  auth_insecure("auth+opportunistic", SMTPC_SECURITY_OPPORTUNISTIC);
}
END_TEST

static void auth_ok(const char *spec, smtpc_auth_mech mech,
                    const char *logged) {
  smtpc_client_config cfg = cfg_for(spec);
  smtpc_mail m = mail_from("au@client.test");
  int rv;
  cfg.user = "user";
  cfg.password = "good pass";
  cfg.auth = mech;
  cfg.allow_plaintext_auth = 1;
  rv = smtpc_send(&cfg, &m, &R);
  EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, "accepted: ");
  hold_log(log_wait_ends(spec, 1));
  ck_assert_int_eq(log_count(LOG, spec, 1, logged, NULL), 1);
  ck_assert_int_eq(log_count(LOG, spec, 1,
                             "ACCEPTED txn=1 from=<au@client."
                             "test>",
                             NULL),
                   1);
}

/* AUTO prefers CRAM-MD5, PLAIN, LOGIN: faultd offers PLAIN LOGIN */
START_TEST(test_auth_plain) {
  auth_ok("auth+plain", SMTPC_AUTH_AUTO, "AUTH ok mech=PLAIN");
}
END_TEST

START_TEST(test_auth_login) {
  auth_ok("auth+login", SMTPC_AUTH_LOGIN, "AUTH ok mech=LOGIN");
}
END_TEST

START_TEST(test_auth_wrong_password) {
  smtpc_client_config cfg = cfg_for("auth+bad");
  int rv;
  cfg.user = "user";
  cfg.password = "bad pass";
  cfg.allow_plaintext_auth = 1;
  rv = smtpc_verify(&cfg, &R);
  EXPECT(rv, R, SMTPC_ERR_AUTH_FAILED, SMTPC_STAGE_AUTH, SMTPC_RETRY_PERMANENT,
         "535 5.7.8 Error: authentication failed");
  ck_assert_int_eq(smtpc_reply_code(smtpc_result_reply(R)), 535);
  /* the password never appears in the message */
  ck_assert_ptr_null(strstr(smtpc_result_message(R), "bad pass"));
  hold_log(log_wait_ends("auth+bad", 1));
  ck_assert_int_eq(log_count(LOG, "auth+bad", 1, "AUTH failed", NULL), 1);
  ck_assert_int_eq(log_count(LOG, "auth+bad", 1, "C MAIL", NULL), 0);
}
END_TEST

START_TEST(test_verify_ok) {
  smtpc_client_config cfg = cfg_for("auth+verify");
  int rv;
  cfg.user = "user";
  cfg.password = "good pass";
  cfg.allow_plaintext_auth = 1;
  rv = smtpc_verify(&cfg, &R);
  /* on success the message names the AUTH mechanism used */
  EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, "PLAIN");
  ck_assert_ptr_null(smtpc_result_txn(R));
  ck_assert_uint_eq(smtpc_result_attempts(R), 0);
  hold_log(log_wait_ends("auth+verify", 1));
  ck_assert_int_eq(log_count(LOG, "auth+verify", 1, "AUTH ok mech=PLAIN", NULL),
                   1);
  /* verify sends nothing but EHLO, AUTH (and its responses) and QUIT */
  ck_assert_int_eq(log_count(LOG, "auth+verify", 1, "C QUIT", NULL), 1);
  ck_assert_int_eq(log_count(LOG, "auth+verify", 1, "C ", NULL),
                   log_count(LOG, "auth+verify", 1, "C EHLO", NULL) +
                       log_count(LOG, "auth+verify", 1, "C AUTH", NULL) +
                       log_count(LOG, "auth+verify", 1, "C <auth", NULL) + 1);
}
END_TEST

START_TEST(test_verify_no_auth) {
  smtpc_client_config cfg = cfg_for("ok+verify");
  int rv = smtpc_verify(&cfg, &R);
  EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, NULL);
  hold_log(log_wait_ends("ok+verify", 1));
  ck_assert_int_eq(log_count(LOG, "ok+verify", 1, "C ", NULL), 2);
  ck_assert_int_eq(log_count(LOG, "ok+verify", 1, "C QUIT", NULL), 1);
}
END_TEST

START_TEST(test_closed_port) {
  smtpc_client_config cfg = cfg_for("ok+send");
  smtpc_mail m = mail_from("c@client.test");
  char port[16];
  int rv;
  closed_port(port, sizeof(port));
  cfg.port = port;
  rv = smtpc_send(&cfg, &m, &R);
  EXPECT(rv, R, SMTPC_ERR_CONNECT, SMTPC_STAGE_CONNECT, SMTPC_RETRY_TRANSIENT,
         "Connection refused");
  ck_assert_ptr_nonnull(strstr(smtpc_result_message(R), port));
  ck_assert_ptr_null(smtpc_result_txn(R));
  ck_assert_ptr_null(smtpc_result_reply(R));
  ck_assert_uint_eq(smtpc_result_attempts(R), 0);
  smtpc_result_free(R);
  R = NULL;
  rv = smtpc_verify(&cfg, &R);
  EXPECT(rv, R, SMTPC_ERR_CONNECT, SMTPC_STAGE_CONNECT, SMTPC_RETRY_TRANSIENT,
         "Connection refused");
}
END_TEST

START_TEST(test_rcpt_all_rejected) {
  static const char *const to[] = {"x1@rcpt.test", "x2@rcpt.test", NULL};
  smtpc_client_config cfg = cfg_for("reject-rcpt");
  smtpc_mail m = mail_from("rr@client.test");
  const smtpc_txn *t;
  int rv;
  m.to = to;
  rv = smtpc_send(&cfg, &m, &R);
  EXPECT(rv, R, SMTPC_ERR_NO_RECIPIENTS, SMTPC_STAGE_SEND,
         SMTPC_RETRY_PERMANENT, "550 5.1.1");
  t = smtpc_result_txn(R);
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(smtpc_txn_status(t), SMTPC_ERR_NO_RECIPIENTS);
  ck_assert_int_eq(smtpc_txn_retry(t), SMTPC_RETRY_PERMANENT);
  ck_assert_uint_eq(smtpc_txn_rcpt_count(t), 2);
  ck_assert_uint_eq(smtpc_txn_accepted_count(t), 0);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_rcpt_reply(t, 0)), 550);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_rcpt_reply(t, 1)), 550);
  ck_assert_int_eq(smtpc_txn_rcpt_retry(t, 0), SMTPC_RETRY_PERMANENT);
  ck_assert_int_eq(smtpc_txn_rcpt_retry(t, 1), SMTPC_RETRY_PERMANENT);
  hold_log(log_wait_ends("reject-rcpt", 1));
  ck_assert_int_eq(log_count(LOG, "reject-rcpt", 1, "BODY", NULL), 0);
}
END_TEST

START_TEST(test_rcpt_partial) {
  static const char *const to[] = {"ok1@rcpt.test", "bad2@rcpt.test",
                                   "tmp3@rcpt.test", NULL};
  smtpc_client_config cfg = cfg_for("partial-rcpt");
  smtpc_mail m = mail_from("pr@client.test");
  const smtpc_txn *t;
  int rv;
  m.to = to;
  rv = smtpc_send(&cfg, &m, &R);
  /* partly accepted: nothing to retry but the rejected recipients */
  EXPECT(rv, R, SMTPC_ERR_PARTIAL, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, NULL);
  t = smtpc_result_txn(R);
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(smtpc_txn_retry(t), SMTPC_RETRY_NONE);
  ck_assert_uint_eq(smtpc_txn_rcpt_count(t), 3);
  ck_assert_uint_eq(smtpc_txn_accepted_count(t), 1);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_rcpt_reply(t, 0)), 250);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_rcpt_reply(t, 1)), 550);
  ck_assert_int_eq(smtpc_reply_code(smtpc_txn_rcpt_reply(t, 2)), 451);
  ck_assert_int_eq(smtpc_txn_rcpt_retry(t, 0), SMTPC_RETRY_NONE);
  ck_assert_int_eq(smtpc_txn_rcpt_retry(t, 1), SMTPC_RETRY_PERMANENT);
  ck_assert_int_eq(smtpc_txn_rcpt_retry(t, 2), SMTPC_RETRY_TRANSIENT);
  ck_assert_str_eq(smtpc_txn_queue_id(t), "FD1");
  hold_log(log_wait_ends("partial-rcpt", 1));
  ck_assert_int_eq(log_count(LOG, "partial-rcpt", 1,
                             "ACCEPTED txn=1 "
                             "from=<pr@client.test> rcpts=<ok1@rcpt.test> ",
                             NULL),
                   1);
}
END_TEST

/* Every recipient rejected, every one with 5xx: permanent. */
START_TEST(test_rcpt_none_permanent) {
  static const char *const to[] = {"bad1@rcpt.test", "bad2@rcpt.test", NULL};
  smtpc_client_config cfg = cfg_for("partial-rcpt+none");
  smtpc_mail m = mail_from("pn@client.test");
  int rv;
  m.to = to;
  rv = smtpc_send(&cfg, &m, &R);
  EXPECT(rv, R, SMTPC_ERR_NO_RECIPIENTS, SMTPC_STAGE_SEND,
         SMTPC_RETRY_PERMANENT, "550 5.1.1");
  ck_assert_int_eq(smtpc_txn_retry(smtpc_result_txn(R)), SMTPC_RETRY_PERMANENT);
}
END_TEST

/* Every recipient rejected, one with 4xx: worth trying again later. */
START_TEST(test_rcpt_none_transient) {
  static const char *const to[] = {"bad1@rcpt.test", "tmp2@rcpt.test", NULL};
  smtpc_client_config cfg = cfg_for("partial-rcpt+tmp");
  smtpc_mail m = mail_from("pt@client.test");
  const smtpc_txn *t;
  int rv;
  m.to = to;
  rv = smtpc_send(&cfg, &m, &R);
  EXPECT(rv, R, SMTPC_ERR_NO_RECIPIENTS, SMTPC_STAGE_SEND,
         SMTPC_RETRY_TRANSIENT, NULL);
  t = smtpc_result_txn(R);
  ck_assert_int_eq(smtpc_txn_retry(t), SMTPC_RETRY_TRANSIENT);
  ck_assert_int_eq(smtpc_txn_rcpt_retry(t, 0), SMTPC_RETRY_PERMANENT);
  ck_assert_int_eq(smtpc_txn_rcpt_retry(t, 1), SMTPC_RETRY_TRANSIENT);
}
END_TEST

START_TEST(test_close_after_eod) {
  smtpc_client_config cfg = cfg_for("close-after-eod");
  smtpc_mail m = mail_from("eod@client.test");
  const smtpc_txn *t;
  int rv;
  rv = smtpc_send(&cfg, &m, &R);
  EXPECT(rv, R, SMTPC_ERR_EOF, SMTPC_STAGE_SEND, SMTPC_RETRY_UNKNOWN, NULL);
  ck_assert_uint_eq(smtpc_result_attempts(R), 1);
  t = smtpc_result_txn(R);
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(smtpc_txn_step(t), SMTPC_STEP_DATA_END);
  ck_assert_int_eq(smtpc_txn_retry(t), SMTPC_RETRY_UNKNOWN);
  ck_assert_int_eq(smtpc_txn_rcpt_retry(t, 0), SMTPC_RETRY_UNKNOWN);
  hold_log(log_wait_ends("close-after-eod", 1));
  ck_assert_int_eq(log_count(LOG, "close-after-eod", 0, "BODY", NULL), 1);
  ck_assert_int_eq(log_count(LOG, "close-after-eod", 0, "CONNECT", NULL), 1);
}
END_TEST

START_TEST(test_eod_451) {
  smtpc_client_config cfg = cfg_for("451-eod");
  smtpc_mail m = mail_from("e451@client.test");
  int rv = smtpc_send(&cfg, &m, &R);
  EXPECT(rv, R, SMTPC_ERR_REPLY_TEMPORARY, SMTPC_STAGE_SEND,
         SMTPC_RETRY_TRANSIENT, "451 4.3.0 Temporary failure");
  ck_assert_int_eq(smtpc_txn_step(smtpc_result_txn(R)), SMTPC_STEP_DATA_END);
  ck_assert_int_eq(smtpc_reply_code(smtpc_result_reply(R)), 451);
}
END_TEST

/* ---- (c) the pool against faultd ------------------------------------------- */

static smtpc_pool *pool_for(const char *spec, unsigned max, unsigned rate,
                            unsigned check_after_ms) {
  smtpc_client_config cfg = cfg_for(spec);
  smtpc_pool_options o;
  smtpc_pool *p = NULL;
  memset(&o, 0, sizeof(o));
  o.max_connections = max;
  o.rate_limit = rate;
  o.check_after_ms = check_after_ms;
  ck_assert_int_eq(smtpc_pool_new(&p, &cfg, &o), SMTPC_OK);
  return p;
}

/* Sends the message from `from` through the pool; returns the status. */
static int pool_send_from(smtpc_pool *p, const char *from, unsigned wait_ms,
                          smtpc_result **res) {
  smtpc_mail m = mail_from(from);
  return smtpc_pool_send(p, &m, wait_ms, res);
}

static smtpc_pool_stats stats_of(smtpc_pool *p) {
  smtpc_pool_stats st;
  memset(&st, 0xff, sizeof(st));
  smtpc_pool_stats_get(p, &st);
  return st;
}

#define EXPECT_STATS(p, c, m, r, rep)                                          \
  do {                                                                         \
    smtpc_pool_stats st_ = stats_of(p);                                        \
    ck_assert_msg(st_.connects == (c) && st_.messages == (m) &&                \
                      st_.retries == (r) && st_.replaced == (rep),             \
                  "stats: connects %llu messages %llu retries %llu replaced "  \
                  "%llu, expected %d %d %d %d",                                \
                  (unsigned long long)st_.connects,                            \
                  (unsigned long long)st_.messages,                            \
                  (unsigned long long)st_.retries,                             \
                  (unsigned long long)st_.replaced, (c), (m), (r), (rep));     \
  } while (0)

/* Five messages, one after the other: one connection, checked with RSET
 * before each reuse, QUIT at smtpc_pool_free(). */
START_TEST(test_pool_reuse) {
  char from[64];
  smtpc_pool_stats st;
  int i, rv;
  POOL = pool_for("ok+pool", 2, 0, 0);
  for (i = 0; i < 5; i++) {
    snprintf(from, sizeof(from), "reuse%d@client.test", i);
    rv = pool_send_from(POOL, from, 5000, &R);
    EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, "accepted: ");
    ck_assert_uint_eq(smtpc_result_attempts(R), 1);
    smtpc_result_free(R);
    R = NULL;
  }
  EXPECT_STATS(POOL, 1, 5, 0, 0);
  st = stats_of(POOL);
  ck_assert_uint_eq(st.open, 1);
  ck_assert_uint_eq(st.busy, 0);
  smtpc_pool_free(POOL);
  POOL = NULL;
  hold_log(log_wait_ends("ok+pool", 1));
  ck_assert_int_eq(log_count(LOG, "ok+pool", 0, "CONNECT", NULL), 1);
  ck_assert_int_eq(log_count(LOG, "ok+pool", 1, "ACCEPTED", NULL), 5);
  ck_assert_int_eq(log_count(LOG, "ok+pool", 1, "C RSET", NULL), 4);
  ck_assert_int_eq(log_count(LOG, "ok+pool", 1, "C QUIT", NULL), 1);
  ck_assert_int_eq(log_count(LOG, "ok+pool", 1, "END quit", NULL), 1);
  ck_assert_int_eq(log_count(LOG, "ok+pool", 0, "VIOLATION", NULL), 0);
}
END_TEST

/* REQUIRETLS (RFC 8689) over clear text: refused before MAIL, through
 * smtpc_send() (smtpc_mail version 2) and through the pool
 * (smtpc_msg_set_requiretls()), where the connection then takes the next
 * message. */
START_TEST(test_send_requiretls_plain) {
  smtpc_client_config cfg = cfg_for("ok+rtls");
  smtpc_mail m = mail_from("alice@client.test");
  int rv;
  m.version = 2;
  m.requiretls = 1;
  rv = smtpc_send(&cfg, &m, &R);
  EXPECT(rv, R, SMTPC_ERR_REQUIRETLS_UNAVAILABLE, SMTPC_STAGE_SEND,
         SMTPC_RETRY_PERMANENT, "REQUIRETLS");
  ck_assert_int_eq(smtpc_txn_requiretls(smtpc_result_txn(R)), 0);
  hold_log(log_wait_ends("ok+rtls", 1));
  ck_assert_int_eq(log_count(LOG, "ok+rtls", 1, "C MAIL", NULL), 0);
  ck_assert_int_eq(log_count(LOG, "ok+rtls", 1, "C QUIT", NULL), 1);
  ck_assert_int_eq(log_count(LOG, "ok+rtls", 0, "VIOLATION", NULL), 0);
}
END_TEST

START_TEST(test_pool_requiretls_plain) {
  smtpc_msg *msg = NULL;
  int rv;
  POOL = pool_for("ok+rtlspool", 1, 0, 0);
  ck_assert_int_eq(smtpc_msg_new(&msg, NULL), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_from(msg, NULL, "rtls@client.test"), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_add_to(msg, NULL, "to1@rcpt.test"), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_text(msg, "hi\n", SIZE_MAX), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_requiretls(msg, 1), SMTPC_OK);
  rv = smtpc_pool_send_msg(POOL, msg, 5000, &R);
  EXPECT(rv, R, SMTPC_ERR_REQUIRETLS_UNAVAILABLE, SMTPC_STAGE_SEND,
         SMTPC_RETRY_PERMANENT, "REQUIRETLS");
  smtpc_result_free(R);
  R = NULL;
  ck_assert_int_eq(smtpc_msg_set_requiretls(msg, 0), SMTPC_OK);
  rv = smtpc_pool_send_msg(POOL, msg, 5000, &R);
  EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, "accepted: ");
  smtpc_msg_free(msg);
  smtpc_pool_free(POOL);
  POOL = NULL;
  hold_log(log_wait_ends("ok+rtlspool", 1));
  ck_assert_int_eq(log_count(LOG, "ok+rtlspool", 0, "CONNECT", NULL), 1);
  ck_assert_int_eq(log_count(LOG, "ok+rtlspool", 1, "C MAIL", NULL), 1);
  ck_assert_int_eq(log_count(LOG, "ok+rtlspool", 1, "ACCEPTED", NULL), 1);
  ck_assert_int_eq(log_count(LOG, "ok+rtlspool", 0, "VIOLATION", NULL), 0);
}
END_TEST

/* smtpc_pool_close_idle(): nothing before the idle time, the connection
 * (with QUIT) after it; the next send opens a new one. */
START_TEST(test_pool_close_idle) {
  smtpc_client_config cfg = cfg_for("ok+idleclose");
  smtpc_pool_options o;
  smtpc_pool_stats st;
  int rv;
  memset(&o, 0, sizeof(o));
  o.idle_timeout_ms = 300;
  ck_assert_int_eq(smtpc_pool_new(&POOL, &cfg, &o), SMTPC_OK);
  ck_assert_uint_eq(smtpc_pool_close_idle(POOL), 0); /* nothing open */
  rv = pool_send_from(POOL, "idle1@client.test", 5000, &R);
  EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, "accepted: ");
  smtpc_result_free(R);
  R = NULL;
  ck_assert_uint_eq(smtpc_pool_close_idle(POOL), 0); /* not idle long enough */
  ck_assert_uint_eq(stats_of(POOL).open, 1);
  tf_sleep_ms(400);
  ck_assert_uint_eq(smtpc_pool_close_idle(POOL), 1);
  st = stats_of(POOL);
  ck_assert_uint_eq(st.open, 0);
  ck_assert_uint_eq(st.busy, 0);
  ck_assert_uint_eq(st.replaced, 0); /* retired, not found dead */
  rv = pool_send_from(POOL, "idle2@client.test", 5000, &R);
  EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, "accepted: ");
  ck_assert_uint_eq(stats_of(POOL).connects, 2);
  ck_assert_uint_eq(smtpc_pool_close_idle(NULL), 0);
  smtpc_pool_free(POOL);
  POOL = NULL;
  hold_log(log_wait_ends("ok+idleclose", 2));
  ck_assert_int_eq(log_count(LOG, "ok+idleclose", 0, "CONNECT", NULL), 2);
  ck_assert_int_eq(log_count(LOG, "ok+idleclose", 1, "C QUIT", NULL), 1);
  ck_assert_int_eq(log_count(LOG, "ok+idleclose", 1, "END quit", NULL), 1);
  ck_assert_int_eq(log_count(LOG, "ok+idleclose", 2, "ACCEPTED", NULL), 1);
  ck_assert_int_eq(log_count(LOG, "ok+idleclose", 0, "VIOLATION", NULL), 0);
}
END_TEST

/* 421 to MAIL on a reused connection: the server cannot have taken the
 * message, so it is sent again on a fresh connection, once. */
START_TEST(test_pool_421_retried) {
  int rv;
  POOL = pool_for("421-mail2", 1, 0, 0);
  rv = pool_send_from(POOL, "m1@client.test", 5000, &R);
  EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, NULL);
  ck_assert_uint_eq(smtpc_result_attempts(R), 1);
  smtpc_result_free(R);
  R = NULL;
  rv = pool_send_from(POOL, "m2@client.test", 5000, &R);
  EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, "accepted: ");
  ck_assert_uint_eq(smtpc_result_attempts(R), 2);
  /* messages counts transactions sent, the failed one included */
  EXPECT_STATS(POOL, 2, 3, 1, 1);
  smtpc_pool_free(POOL);
  POOL = NULL;
  hold_log(log_wait_ends("421-mail2", 2));
  ck_assert_int_eq(log_count(LOG, "421-mail2", 0, "CONNECT", NULL), 2);
  ck_assert_int_eq(log_count(LOG, "421-mail2", 1, "FAULT 421 to MAIL", NULL),
                   1);
  ck_assert_int_eq(
      log_count(LOG, "421-mail2", 0, "ACCEPTED", "from=<m1@client.test>"), 1);
  ck_assert_int_eq(log_count(LOG, "421-mail2", 2,
                             "ACCEPTED txn=1 "
                             "from=<m2@client.test>",
                             NULL),
                   1);
  ck_assert_int_eq(log_count(LOG, "421-mail2", 0, "ACCEPTED", NULL), 2);
}
END_TEST

/* Review finding 2: the server refuses MAIL, yet answers the pipelined DATA
 * with 354.  The connection is out of step: it must be closed with nothing
 * written into that DATA phase (no next envelope, no "."), and never reused:
 * the next message goes on a new connection, once. */
START_TEST(test_pool_354_after_refused_mail) {
  int rv;
  POOL = pool_for("reject-mail-354", 1, 0, 0);
  rv = pool_send_from(POOL, "r1@client.test", 5000, &R);
  EXPECT(rv, R, SMTPC_ERR_REPLY_PERMANENT, SMTPC_STAGE_SEND,
         SMTPC_RETRY_PERMANENT, "550 5.7.1");
  smtpc_result_free(R);
  R = NULL;
  rv = pool_send_from(POOL, "r2@client.test", 5000, &R);
  EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, "accepted: ");
  ck_assert_uint_eq(smtpc_result_attempts(R), 1);
  /* a second connection, no retry: the first was not put back */
  ck_assert_uint_eq(stats_of(POOL).connects, 2);
  ck_assert_uint_eq(stats_of(POOL).retries, 0);
  smtpc_pool_free(POOL);
  POOL = NULL;
  hold_log(log_wait_ends("reject-mail-354", 2));
  ck_assert_int_eq(
      log_count(LOG, "reject-mail-354", 1, "FAULT 354 to DATA", NULL), 1);
  ck_assert_int_eq(log_count(LOG, "reject-mail-354", 1,
                             "TEXT-AFTER-354 bytes=0 end=client closed", NULL),
                   1);
  ck_assert_int_eq(
      log_count(LOG, "reject-mail-354", 0, "C MAIL", "r2@client.test"), 1);
  ck_assert_int_eq(log_count(LOG, "reject-mail-354", 2,
                             "ACCEPTED txn=1 "
                             "from=<r2@client.test>",
                             NULL),
                   1);
  ck_assert_int_eq(log_count(LOG, "reject-mail-354", 0, "ACCEPTED", NULL), 1);
}
END_TEST

/* Lost after the end of data: may have been delivered, never resent. */
START_TEST(test_pool_eod_not_retried) {
  int rv;
  POOL = pool_for("close-after-eod+pool", 2, 0, 0);
  rv = pool_send_from(POOL, "pe@client.test", 5000, &R);
  EXPECT(rv, R, SMTPC_ERR_EOF, SMTPC_STAGE_SEND, SMTPC_RETRY_UNKNOWN, NULL);
  ck_assert_uint_eq(smtpc_result_attempts(R), 1);
  ck_assert_int_eq(smtpc_txn_step(smtpc_result_txn(R)), SMTPC_STEP_DATA_END);
  EXPECT_STATS(POOL, 1, 1, 0, 1);
  ck_assert_uint_eq(stats_of(POOL).open, 0);
  smtpc_pool_free(POOL);
  POOL = NULL;
  hold_log(log_wait_ends("close-after-eod+pool", 1));
  ck_assert_int_eq(log_count(LOG, "close-after-eod+pool", 0, "CONNECT", NULL),
                   1);
  ck_assert_int_eq(log_count(LOG, "close-after-eod+pool", 0, "BODY", NULL), 1);
  ck_assert_int_eq(log_count(LOG, "close-after-eod+pool", 0, "ACCEPTED", NULL),
                   0);
}
END_TEST

/* The same on a reused connection (the second message). */
START_TEST(test_pool_eod_not_retried_reused) {
  int rv;
  POOL = pool_for("close-eod2", 1, 0, 0);
  rv = pool_send_from(POOL, "n1@client.test", 5000, &R);
  EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, NULL);
  smtpc_result_free(R);
  R = NULL;
  rv = pool_send_from(POOL, "n2@client.test", 5000, &R);
  EXPECT(rv, R, SMTPC_ERR_EOF, SMTPC_STAGE_SEND, SMTPC_RETRY_UNKNOWN, NULL);
  ck_assert_uint_eq(smtpc_result_attempts(R), 1);
  EXPECT_STATS(POOL, 1, 2, 0, 1);
  smtpc_pool_free(POOL);
  POOL = NULL;
  hold_log(log_wait_ends("close-eod2", 1));
  ck_assert_int_eq(log_count(LOG, "close-eod2", 0, "CONNECT", NULL), 1);
  ck_assert_int_eq(
      log_count(LOG, "close-eod2", 0, "BODY", "from=<n2@client.test>"), 1);
}
END_TEST

/* 421 in reply to the end of data: after the end of data, so not retried
 * by the pool; the server said no, so the class is transient. */
START_TEST(test_pool_421_at_eod) {
  int rv;
  POOL = pool_for("421-eod", 1, 0, 0);
  rv = pool_send_from(POOL, "q@client.test", 5000, &R);
  EXPECT(rv, R, SMTPC_ERR_SERVICE_CLOSING, SMTPC_STAGE_SEND,
         SMTPC_RETRY_TRANSIENT, "421 4.3.0 faultd.test lost the message");
  ck_assert_uint_eq(smtpc_result_attempts(R), 1);
  EXPECT_STATS(POOL, 1, 1, 0, 1);
  smtpc_pool_free(POOL);
  POOL = NULL;
  hold_log(log_wait_ends("421-eod", 1));
  ck_assert_int_eq(log_count(LOG, "421-eod", 0, "CONNECT", NULL), 1);
  ck_assert_int_eq(log_count(LOG, "421-eod", 0, "BODY", NULL), 1);
}
END_TEST

/* The server drops the connection after 300 ms idle; the pool checks a
 * connection idle for over 100 ms with NOOP, finds it dead and opens a
 * fresh one before the message's transaction starts: no retry needed. */
START_TEST(test_pool_idle_dropped_noop) {
  int rv;
  POOL = pool_for("close-idle-300", 1, 0, 100);
  rv = pool_send_from(POOL, "i1@client.test", 5000, &R);
  EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, NULL);
  smtpc_result_free(R);
  R = NULL;
  tf_sleep_ms(700);
  rv = pool_send_from(POOL, "i2@client.test", 5000, &R);
  EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, NULL);
  ck_assert_uint_eq(smtpc_result_attempts(R), 1);
  EXPECT_STATS(POOL, 2, 2, 0, 1);
  smtpc_pool_free(POOL);
  POOL = NULL;
  hold_log(log_wait_ends("close-idle-300", 2));
  ck_assert_int_eq(log_count(LOG, "close-idle-300", 1, "FAULT idle", NULL), 1);
  ck_assert_int_eq(log_count(LOG, "close-idle-300", 2,
                             "ACCEPTED txn=1 "
                             "from=<i2@client.test>",
                             NULL),
                   1);
  ck_assert_int_eq(log_count(LOG, "close-idle-300", 0, "ACCEPTED", NULL), 2);
}
END_TEST

/* The same drop found by the RSET pipelined with the next MAIL (no NOOP
 * check: check_after_ms 10 s): retried on a fresh connection, delivered
 * once.  Whether the lost RSET+MAIL counts as an attempt is the pool's
 * choice; attempts and the retries counter must agree. */
START_TEST(test_pool_idle_dropped_rset) {
  smtpc_pool_stats st;
  int rv;
  POOL = pool_for("close-idle-300+rset", 1, 0, 10000);
  rv = pool_send_from(POOL, "j1@client.test", 5000, &R);
  EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, NULL);
  smtpc_result_free(R);
  R = NULL;
  tf_sleep_ms(700);
  rv = pool_send_from(POOL, "j2@client.test", 5000, &R);
  EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, NULL);
  st = stats_of(POOL);
  ck_assert_uint_eq(st.connects, 2);
  ck_assert_uint_eq(st.replaced, 1);
  ck_assert_msg(smtpc_result_attempts(R) == 1 + st.retries && st.retries <= 1 &&
                    st.messages == 2 + st.retries,
                "attempts %u, retries %llu, messages %llu",
                smtpc_result_attempts(R), (unsigned long long)st.retries,
                (unsigned long long)st.messages);
  smtpc_pool_free(POOL);
  POOL = NULL;
  hold_log(log_wait_ends("close-idle-300+rset", 2));
  ck_assert_int_eq(log_count(LOG, "close-idle-300+rset", 0, "ACCEPTED",
                             "from=<j2@client.test>"),
                   1);
  ck_assert_int_eq(log_count(LOG, "close-idle-300+rset", 0, "ACCEPTED", NULL),
                   2);
}
END_TEST

/* An unsolicited 421 on an idle connection: replaced without a word. */
START_TEST(test_pool_421_idle) {
  smtpc_pool_stats st;
  int rv;
  POOL = pool_for("421-idle", 1, 0, 0);
  rv = pool_send_from(POOL, "k1@client.test", 5000, &R);
  EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, NULL);
  smtpc_result_free(R);
  R = NULL;
  tf_sleep_ms(600); /* faultd sends its 421 200 ms after the 250 */
  rv = pool_send_from(POOL, "k2@client.test", 5000, &R);
  EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, NULL);
  st = stats_of(POOL);
  ck_assert_uint_eq(st.connects, 2);
  ck_assert_uint_eq(st.replaced, 1);
  ck_assert_uint_eq(smtpc_result_attempts(R), 1 + st.retries);
  smtpc_pool_free(POOL);
  POOL = NULL;
  hold_log(log_wait_ends("421-idle", 2));
  ck_assert_int_eq(
      log_count(LOG, "421-idle", 0, "ACCEPTED", "from=<k2@client.test>"), 1);
  ck_assert_int_eq(log_count(LOG, "421-idle", 0, "ACCEPTED", NULL), 2);
}
END_TEST

#ifdef SMTPC_HAVE_PTHREADS /* the tests below need a thread-safe pool */
/* Threads against a pool of 2 connections to a slow server. */
#define MAX_THREADS 6
#define MAX_PER_THREAD 2

typedef struct {
  smtpc_pool *p;
  int id;
  int ok;
  int status[MAX_PER_THREAD];
  unsigned attempts;
} worker;

static void *worker_main(void *arg) {
  worker *w = arg;
  int i;
  for (i = 0; i < MAX_PER_THREAD; i++) {
    char from[64];
    smtpc_result *res = NULL;
    snprintf(from, sizeof(from), "t%d-%d@client.test", w->id, i);
    w->status[i] = pool_send_from(w->p, from, 20000, &res);
    if (w->status[i] == SMTPC_OK)
      w->ok++;
    w->attempts += smtpc_result_attempts(res);
    smtpc_result_free(res);
  }
  return NULL;
}

typedef struct {
  smtpc_pool *p;
  volatile int stop; /* written under `mu` */
  pthread_mutex_t mu;
  unsigned max_open, max_busy;
  long samples;
} watcher;

/* Samples the pool's counters every 2 ms (bounded: 30 s). */
static void *watch_main(void *arg) {
  watcher *w = arg;
  long end = tf_now_ms() + 30000;
  for (;;) {
    smtpc_pool_stats st;
    int stop;
    pthread_mutex_lock(&w->mu);
    stop = w->stop;
    pthread_mutex_unlock(&w->mu);
    if (stop || tf_now_ms() > end)
      break;
    smtpc_pool_stats_get(w->p, &st);
    if (st.open > w->max_open)
      w->max_open = st.open;
    if (st.busy > w->max_busy)
      w->max_busy = st.busy;
    w->samples++;
    tf_sleep_ms(2);
  }
  return NULL;
}

START_TEST(test_pool_max_connections) {
  pthread_t th[MAX_THREADS], wt;
  worker w[MAX_THREADS];
  watcher wa;
  smtpc_pool_stats st;
  int i, j;
  unsigned attempts = 0;
  POOL = pool_for("slow-eod+max", 2, 0, 0);
  memset(&wa, 0, sizeof(wa));
  wa.p = POOL;
  pthread_mutex_init(&wa.mu, NULL);
  ck_assert_int_eq(pthread_create(&wt, NULL, watch_main, &wa), 0);
  for (i = 0; i < MAX_THREADS; i++) {
    memset(&w[i], 0, sizeof(w[i]));
    w[i].p = POOL;
    w[i].id = i;
    ck_assert_int_eq(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
  }
  for (i = 0; i < MAX_THREADS; i++)
    pthread_join(th[i], NULL);
  pthread_mutex_lock(&wa.mu);
  wa.stop = 1;
  pthread_mutex_unlock(&wa.mu);
  pthread_join(wt, NULL);
  pthread_mutex_destroy(&wa.mu);
  for (i = 0; i < MAX_THREADS; i++) {
    for (j = 0; j < MAX_PER_THREAD; j++)
      ck_assert_msg(w[i].status[j] == SMTPC_OK, "thread %d message %d: %s", i,
                    j, tf_err_name(w[i].status[j]));
    attempts += w[i].attempts;
  }
  ck_assert_uint_eq(attempts, MAX_THREADS * MAX_PER_THREAD);
  st = stats_of(POOL);
  /* 6 threads wanted a connection at once: exactly 2 were opened, reused */
  ck_assert_uint_eq(st.connects, 2);
  ck_assert_uint_eq(st.messages, MAX_THREADS * MAX_PER_THREAD);
  ck_assert_uint_eq(st.retries, 0);
  ck_assert_msg(wa.max_open == 2 && wa.max_busy == 2,
                "sampled %ld times: max open %u, max busy %u (want 2, 2)",
                wa.samples, wa.max_open, wa.max_busy);
  smtpc_pool_free(POOL);
  POOL = NULL;
  hold_log(log_wait_ends("slow-eod+max", 2));
  ck_assert_int_eq(log_count(LOG, "slow-eod+max", 0, "CONNECT", NULL), 2);
  ck_assert_int_eq(log_max_open(LOG, "slow-eod+max"), 2);
  for (i = 0; i < MAX_THREADS; i++)
    for (j = 0; j < MAX_PER_THREAD; j++) {
      char from[80];
      snprintf(from, sizeof(from), "from=<t%d-%d@client.test>", i, j);
      TU_CHECK(log_count(LOG, "slow-eod+max", 0, "ACCEPTED", from) == 1,
               "%s accepted %d times", from,
               log_count(LOG, "slow-eod+max", 0, "ACCEPTED", from));
    }
  ck_assert_int_eq(log_count(LOG, "slow-eod+max", 0, "ACCEPTED", NULL),
                   MAX_THREADS * MAX_PER_THREAD);
}
END_TEST

/* max_connections counts on the server's side too: a connection retired
 * after max_messages still holds its slot until its QUIT is answered and
 * the socket is closed.  faultd never answers QUIT here, so the QUIT of
 * connection 1 takes the whole reply deadline (1 s) while a second thread
 * waits for a slot: connection 2 must not be opened before connection 1 is
 * closed.  faultd's own view ("open at once") lags: it notices a close in
 * another thread than the one that accepts, so under load it may log the
 * next CONNECT first.  The client's clock decides instead: the QUIT of
 * each connection stalls for the 1 s timeout, so if connection 2 waited
 * for connection 1 to close, the second sender finishes at least that
 * long after the first; had it connected during the first QUIT, both
 * stalls would overlap and they would finish together. */
typedef struct {
  smtpc_pool *p;
  const char *from;
  int status;
  long done_ms;
} send_arg;

static void *send_main(void *arg) {
  send_arg *a = arg;
  smtpc_result *res = NULL;
  a->status = pool_send_from(a->p, a->from, 20000, &res);
  a->done_ms = tf_now_ms();
  smtpc_result_free(res);
  return NULL;
}

START_TEST(test_pool_slot_held_until_closed) {
  smtpc_client_config cfg = cfg_for("stall-quit");
  smtpc_pool_options o;
  pthread_t th;
  send_arg a;
  long t0, done2;
  int rv;
  memset(&o, 0, sizeof(o));
  o.max_connections = 1;
  o.max_messages = 1;
  cfg.timeout_ms = 1000;
  ck_assert_int_eq(smtpc_pool_new(&POOL, &cfg, &o), SMTPC_OK);
  a.p = POOL;
  a.from = "sq1@client.test";
  a.status = -1;
  ck_assert_int_eq(pthread_create(&th, NULL, send_main, &a), 0);
  for (t0 = tf_now_ms(); stats_of(POOL).busy == 0 && tf_now_ms() - t0 < 2000;)
    tf_sleep_ms(1);
  rv = pool_send_from(POOL, "sq2@client.test", 20000, &R);
  done2 = tf_now_ms();
  pthread_join(th, NULL);
  ck_assert_int_eq(a.status, SMTPC_OK);
  EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, NULL);
  smtpc_pool_free(POOL);
  POOL = NULL;
  hold_log(log_wait_ends("stall-quit", 2));
  ck_assert_int_eq(log_count(LOG, "stall-quit", 0, "CONNECT", NULL), 2);
  ck_assert_int_eq(log_count(LOG, "stall-quit", 1, "C QUIT", NULL), 1);
  ck_assert_int_eq(log_count(LOG, "stall-quit", 2, "C QUIT", NULL), 1);
  ck_assert_msg(done2 - a.done_ms >= 800,
                "the second sender finished %ld ms after the first: its "
                "connection overlapped the first one's QUIT (max_connections "
                "1; log %s)",
                done2 - a.done_ms, tf_log_path());
}
END_TEST

typedef struct {
  smtpc_pool *p;
  int status;
} busy_arg;

static void *busy_main(void *arg) {
  busy_arg *b = arg;
  smtpc_result *res = NULL;
  b->status = pool_send_from(b->p, "busy@client.test", 5000, &res);
  smtpc_result_free(res);
  return NULL;
}

/* One connection, busy for 300 ms (slow end of data): a second sender
 * gives up after wait_ms at STAGE_POOL, having sent nothing. */
START_TEST(test_pool_wait_timeout) {
  pthread_t th;
  busy_arg b;
  long t0, ms;
  int rv;
  POOL = pool_for("slow-eod+wait", 1, 0, 0);
  b.p = POOL;
  b.status = -1;
  ck_assert_int_eq(pthread_create(&th, NULL, busy_main, &b), 0);
  /* bounded wait until the busy thread holds the connection */
  for (t0 = tf_now_ms(); stats_of(POOL).busy == 0 && tf_now_ms() - t0 < 2000;)
    tf_sleep_ms(2);
  ck_assert_uint_eq(stats_of(POOL).busy, 1);
  t0 = tf_now_ms();
  rv = pool_send_from(POOL, "late@client.test", 100, &R);
  ms = tf_now_ms() - t0;
  EXPECT(rv, R, SMTPC_ERR_TIMEOUT, SMTPC_STAGE_POOL, SMTPC_RETRY_TRANSIENT,
         NULL);
  ck_assert_uint_eq(smtpc_result_attempts(R), 0);
  ck_assert_ptr_null(smtpc_result_txn(R));
  ck_assert_msg(ms >= 90 && ms < 100 + SLACK, "wait_ms 100 took %ld ms", ms);
  smtpc_result_free(R);
  R = NULL;
  /* wait_ms 0 does not wait */
  t0 = tf_now_ms();
  rv = pool_send_from(POOL, "now@client.test", 0, &R);
  ms = tf_now_ms() - t0;
  EXPECT(rv, R, SMTPC_ERR_TIMEOUT, SMTPC_STAGE_POOL, SMTPC_RETRY_TRANSIENT,
         NULL);
  ck_assert_msg(ms < SLACK, "wait_ms 0 took %ld ms", ms);
  smtpc_result_free(R);
  R = NULL;
  pthread_join(th, NULL);
  ck_assert_int_eq(b.status, SMTPC_OK);
  /* a patient sender gets the same connection */
  rv = pool_send_from(POOL, "patient@client.test", 5000, &R);
  EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, NULL);
  EXPECT_STATS(POOL, 1, 2, 0, 0);
  smtpc_pool_free(POOL);
  POOL = NULL;
  hold_log(log_wait_ends("slow-eod+wait", 1));
  ck_assert_int_eq(
      log_count(LOG, "slow-eod+wait", 0, "C MAIL FROM:<late@", NULL), 0);
  ck_assert_int_eq(
      log_count(LOG, "slow-eod+wait", 0, "C MAIL FROM:<now@", NULL), 0);
  ck_assert_int_eq(log_count(LOG, "slow-eod+wait", 0, "ACCEPTED", NULL), 2);
}
END_TEST
#endif /* SMTPC_HAVE_PTHREADS */

/* rate_limit 5: at most 5 messages start in any one second, so the 1st
 * and the 11th start at least 2 s apart.  The same 11 messages without a
 * limit take well under a second (the control). */
static long send_n(const char *spec, unsigned rate, int n) {
  char from[64];
  long t0 = tf_now_ms();
  int i, rv;
  POOL = pool_for(spec, 1, rate, 0);
  for (i = 0; i < n; i++) {
    snprintf(from, sizeof(from), "r%d@client.test", i);
    rv = pool_send_from(POOL, from, 10000, &R);
    EXPECT(rv, R, SMTPC_OK, SMTPC_STAGE_DONE, SMTPC_RETRY_NONE, NULL);
    smtpc_result_free(R);
    R = NULL;
  }
  t0 = tf_now_ms() - t0;
  smtpc_pool_free(POOL);
  POOL = NULL;
  return t0;
}

START_TEST(test_pool_rate_limit) {
  long limited, free_run;
  free_run = send_n("ok+norate", 0, 11);
  limited = send_n("ok+rate", 5, 11);
  /* The limiter's promise is a lower bound: 11 starts at 5/s take at least
   * 2 s.  The upper bound only catches a limiter that sleeps far too long;
   * it is loose because sanitizer and valgrind runs are slow. */
  ck_assert_msg(limited >= 1950 && limited < 10000,
                "11 messages at 5/s: %ld ms (want 2000..10000; %ld ms "
                "without a limit)",
                limited, free_run);
}
END_TEST

START_TEST(test_pool_setup_errors) {
  smtpc_client_config cfg = cfg_for("ok+poolsetup");
  smtpc_mail m = mail_from("ps@client.test");
  smtpc_pool *p = NULL;
  int rv;
  ck_assert_int_eq(smtpc_pool_new(NULL, &cfg, NULL),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_pool_new(&p, NULL, NULL), SMTPC_ERR_INVALID_ARGUMENT);
  cfg.host = NULL;
  ck_assert_int_eq(smtpc_pool_new(&p, &cfg, NULL), SMTPC_ERR_INVALID_ARGUMENT);
  cfg = cfg_for("ok+poolsetup");
  cfg.version = SMTPC_CLIENT_CONFIG_VERSION + 1;
  ck_assert_int_eq(smtpc_pool_new(&p, &cfg, NULL), SMTPC_ERR_INVALID_ARGUMENT);
  cfg.version = 0;
  {
    smtpc_pool_options opt;
    memset(&opt, 0, sizeof(opt));
    opt.version = SMTPC_POOL_OPTIONS_VERSION + 1;
    ck_assert_int_eq(smtpc_pool_new(&p, &cfg, &opt),
                     SMTPC_ERR_INVALID_ARGUMENT);
  }
  ck_assert_ptr_null(p);
  ck_assert_int_eq(smtpc_pool_new(&POOL, &cfg, NULL), SMTPC_OK);
  rv = smtpc_pool_send_msg(POOL, NULL, 1000, &R);
  EXPECT(rv, R, SMTPC_ERR_INVALID_ARGUMENT, SMTPC_STAGE_SETUP,
         SMTPC_RETRY_PERMANENT, "smtpc_pool_send_msg");
  smtpc_result_free(R);
  R = NULL;
  m.subject = "x\ny";
  rv = smtpc_pool_send(POOL, &m, 1000, &R);
  EXPECT(rv, R, SMTPC_ERR_BAD_ARGUMENT, SMTPC_STAGE_SETUP,
         SMTPC_RETRY_PERMANENT, NULL);
  ck_assert_uint_eq(smtpc_result_attempts(R), 0);
  EXPECT_STATS(POOL, 0, 0, 0, 0);
  smtpc_pool_free(POOL);
  POOL = NULL;
  tf_sleep_ms(100);
  hold_log(tf_log_read());
  ck_assert_int_eq(log_count(LOG, "ok+poolsetup", 0, "CONNECT", NULL), 0);
}
END_TEST

/* ---- suite ------------------------------------------------------------------ */

static Suite *client_suite(void) {
  Suite *s = suite_create("client");
  TCase *tc = tcase_create("retry");
  tcase_add_loop_test(tc, test_retry_table, 0, (int)NRETRY);
  tcase_add_test(tc, test_names);
  suite_add_tcase(s, tc);

  tc = tcase_create("send");
  tcase_set_timeout(tc, 30);
  tcase_add_checked_fixture(tc, NULL, teardown);
  tcase_add_test(tc, test_send_ok);
  tcase_add_test(tc, test_send_msg_twice);
  tcase_add_test(tc, test_send_requiretls_plain);
  tcase_add_test(tc, test_setup_refused);
  tcase_add_test(tc, test_greeting_554);
  tcase_add_test(tc, test_greeting_421);
  tcase_add_test(tc, test_hello_refused);
  tcase_add_test(tc, test_hello_421);
  tcase_add_test(tc, test_greeting_timeout);
  tcase_add_test(tc, test_starttls_required);
  tcase_add_test(tc, test_starttls_required_verify);
  tcase_add_test(tc, test_starttls_required_user);
  tcase_add_test(tc, test_auth_insecure);
  tcase_add_test(tc, test_auth_insecure_opportunistic);
  tcase_add_test(tc, test_auth_plain);
  tcase_add_test(tc, test_auth_login);
  tcase_add_test(tc, test_auth_wrong_password);
  tcase_add_test(tc, test_verify_ok);
  tcase_add_test(tc, test_verify_no_auth);
  tcase_add_test(tc, test_closed_port);
  tcase_add_test(tc, test_rcpt_all_rejected);
  tcase_add_test(tc, test_rcpt_partial);
  tcase_add_test(tc, test_rcpt_none_permanent);
  tcase_add_test(tc, test_rcpt_none_transient);
  tcase_add_test(tc, test_close_after_eod);
  tcase_add_test(tc, test_eod_451);
  suite_add_tcase(s, tc);

  tc = tcase_create("pool");
  tcase_set_timeout(tc, 60);
  tcase_add_checked_fixture(tc, NULL, teardown);
  tcase_add_test(tc, test_pool_reuse);
  tcase_add_test(tc, test_pool_requiretls_plain);
  tcase_add_test(tc, test_pool_close_idle);
  tcase_add_test(tc, test_pool_421_retried);
  tcase_add_test(tc, test_pool_354_after_refused_mail);
  tcase_add_test(tc, test_pool_eod_not_retried);
  tcase_add_test(tc, test_pool_eod_not_retried_reused);
  tcase_add_test(tc, test_pool_421_at_eod);
  tcase_add_test(tc, test_pool_idle_dropped_noop);
  tcase_add_test(tc, test_pool_idle_dropped_rset);
  tcase_add_test(tc, test_pool_421_idle);
#ifdef SMTPC_HAVE_PTHREADS
  /* these need other threads holding connections; built with
   * --disable-threads the pool serves one thread and the rest still apply */
  tcase_add_test(tc, test_pool_max_connections);
  tcase_add_test(tc, test_pool_slot_held_until_closed);
  tcase_add_test(tc, test_pool_wait_timeout);
#endif
  tcase_add_test(tc, test_pool_rate_limit);
  tcase_add_test(tc, test_pool_setup_errors);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return tf_run_suite("check_client", all_specs, NSPECS, client_suite(),
                      "CLIENT_KEEP_LOG");
}
