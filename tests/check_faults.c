/* SPDX-License-Identifier: MIT */
/* Fault injection over real sockets: tests/faultd.py misbehaves at every
 * step of the dialogue (close, reset, stall, drip, garbage, overlong and
 * endless replies, wrong continuation codes, 421, rejections) and the
 * library, driven through the built-in socket transport, must
 *   - return the documented error, within its per-command timeout;
 *   - report per-recipient results exactly as the server answered them;
 *   - never report a message as accepted (OK / PARTIAL) unless the server
 *     sent a complete 2xx to its end of data -- cross-checked against the
 *     server's own log of what it accepted;
 *   - tell through smtpc_txn_step() where the transaction broke (DATA_END:
 *     the end of data was sent, the message may have been delivered);
 *   - be freed without a leak (counting allocator), and after a 5xx reply
 *     be reused: RSET, then another message goes through.
 *
 * One faultd.py process serves every scenario (one port each); it is started
 * by main() before the tests and killed after them.  Only 127.0.0.1 is ever
 * used.  Run time is dominated by the 15 scenarios that must time out (TMO
 * each, 1 s): about 30 s in all, 50 s in a sanitizer build (fork + leak
 * check per test).
 *
 * Environment:
 *   top_srcdir      where tests/faultd.py lives (set by make check)
 *   PYTHON          the interpreter (default: python3 in PATH)
 *   FAULTS_REPORT   append one line per scenario (what the library
 *                   answered) to this file
 *   FAULTS_KEEP_LOG keep faultd's log (its path is printed)
 * Exit status 77 (skipped) when faultd.py cannot be started. */
#include "testutil.h"
#include "faultd_run.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Per-command timeout given to the library, and the slack allowed on top of
 * it when bounding how long a call may take (generous: valgrind). */
#define TMO 1000
#define SLACK 1500
/* Longest wait for faultd's log to show the end of a connection. */
#define LOG_WAIT_MS 8000

/* ---- small helpers -------------------------------------------------------- */

/* Calls `call` and measures it. */
#define TIMED(rv, ms, call)                                                    \
  do {                                                                         \
    long t0_ = tf_now_ms();                                                    \
    (rv) = (call);                                                             \
    (ms) = tf_now_ms() - t0_;                                                  \
  } while (0)

static const char *step_name(smtpc_step st) {
  switch (st) {
  case SMTPC_STEP_NONE: return "NONE";
  case SMTPC_STEP_MAIL: return "MAIL";
  case SMTPC_STEP_RCPT: return "RCPT";
  case SMTPC_STEP_DATA: return "DATA";
  case SMTPC_STEP_BODY: return "BODY";
  case SMTPC_STEP_DATA_END: return "DATA_END";
  }
  return "?";
}

/* ---- faultd.py ------------------------------------------------------------ */

/* Every scenario the suite uses; faultd listens on one port for each. */
static const char *const all_specs[] = {
    "ok", "ok+nopipe", "drip", "drip-slow", "close-after-greeting",
    "close-mid-greeting", "close-after-ehlo", "close-mid-ehlo-reply",
    "reset-after-greeting", "reset-mid-greeting", "reset-after-ehlo",
    "reset-mid-ehlo-reply", "close-after-mail", "close-after-mail+nopipe",
    "close-after-rcpt", "close-after-rcpt+nopipe", "close-after-rcpt2",
    "close-after-rcpt2+nopipe", "close-after-data", "close-after-data+nopipe",
    "close-mid-body", "close-mid-body+nopipe", "close-after-eod",
    "close-after-eod+nopipe", "close-mid-final-reply",
    "close-mid-final-reply+nopipe", "reset-after-mail",
    "reset-after-mail+nopipe", "reset-after-rcpt", "reset-after-rcpt+nopipe",
    "reset-after-rcpt2", "reset-after-rcpt2+nopipe", "reset-after-data",
    "reset-after-data+nopipe", "reset-mid-body", "reset-mid-body+nopipe",
    "reset-after-eod", "reset-after-eod+nopipe", "reset-mid-final-reply",
    "reset-mid-final-reply+nopipe", "stall-greeting", "stall-after-ehlo",
    "stall-after-mail", "stall-after-mail+nopipe", "stall-after-rcpt",
    "stall-after-rcpt+nopipe", "stall-after-data", "stall-after-data+nopipe",
    "stall-mid-body", "stall-after-eod", "421-greeting", "421-ehlo", "421-mail",
    "421-mail+nopipe", "421-rcpt", "421-rcpt+nopipe", "421-rcpt2",
    "421-rcpt2+nopipe", "421-data", "421-data+nopipe", "421-eod",
    "421-eod+nopipe", "421-rset", "421-idle", "421-idle-now", "close-idle",
    "garbage-greeting", "garbage-mail", "garbage-eod", "overlong-greeting",
    "overlong-rcpt", "overlong-eod", "endless-ehlo", "endless-ehlo-slow",
    "endless-eod", "wrongcode-ehlo", "wrongcode-rcpt", "reject-rcpt",
    "reject-rcpt+nopipe", "reject-rcpt-354", "reject-data",
    "reject-data+nopipe", "552-eod", "552-eod+nopipe", "451-eod",
    "partial-rcpt", "partial-rcpt+nopipe",
    /* the non-blocking runs */
    "ok+nb", "stall-after-data+nb", "close-after-eod+nb", "drip+nb",
    "421-rcpt2+nb", "stall-mid-body+nb", "421-idle-now+rset", "reject-mail",
    "reject-mail+nopipe", "close-quit", "reset-quit", "stall-quit"};
#define NSPECS (sizeof(all_specs) / sizeof(all_specs[0]))

/* Calls fn for every complete line of connection `tag` (without the tag). */
typedef void (*line_fn)(const char *line, size_t len, void *arg);

static void log_each(const char *log, const char *tag, line_fn fn, void *arg) {
  size_t tl = strlen(tag);
  const char *p = log;
  for (;;) {
    const char *nl = strchr(p, '\n');
    if (nl == NULL)
      break;
    if ((size_t)(nl - p) > tl && strncmp(p, tag, tl) == 0 && p[tl] == ' ')
      fn(p + tl + 1, (size_t)(nl - p) - tl - 1, arg);
    p = nl + 1;
  }
}

typedef struct {
  const char *needle;
  int count;
  char first[512];
} find_arg;

static void find_fn(const char *line, size_t len, void *arg) {
  find_arg *f = arg;
  size_t nl = strlen(f->needle);
  if (len >= nl && strncmp(line, f->needle, nl) == 0) {
    if (f->count++ == 0)
      snprintf(f->first, sizeof(f->first), "%.*s", (int)len, line);
  }
}

/* Lines of `tag` that start with `prefix`; the first one into out. */
static int log_find(const char *log, const char *tag, const char *prefix,
                    char *out, size_t cap) {
  find_arg f;
  memset(&f, 0, sizeof(f));
  f.needle = prefix;
  log_each(log, tag, find_fn, &f);
  if (out != NULL && cap > 0)
    snprintf(out, cap, "%s", f.count ? f.first : "");
  return f.count;
}

/* Waits (bounded) for faultd to finish connection `tag`; returns the log. */
static char *log_wait_end(const char *tag) {
  long end = tf_now_ms() + LOG_WAIT_MS;
  for (;;) {
    char *log = tf_log_read();
    if (log_find(log, tag, "END", NULL, 0) > 0)
      return log;
    free(log);
    if (tf_now_ms() > end)
      ck_abort_msg("%s: faultd did not log the end of the connection "
                   "within %d ms (log %s)",
                   tag, LOG_WAIT_MS, tf_log_path());
    tf_sleep_ms(20);
  }
}

/* The code faultd gave RCPT `to` of the message from `from` (0: none):
 * "RCPT-REPLY txn=K from=<F> to=<A> code=NNN". */
static int log_rcpt_code(const char *log, const char *tag, const char *from,
                         const char *to) {
  const char *p = log;
  size_t tl = strlen(tag);
  char key[600];
  int code = 0, n = 0;
  snprintf(key, sizeof(key), " from=<%s> to=<%s> code=", from, to);
  for (;;) {
    const char *nl = strchr(p, '\n'), *hit;
    if (nl == NULL)
      break;
    if ((size_t)(nl - p) > tl && strncmp(p, tag, tl) == 0 && p[tl] == ' ' &&
        strncmp(p + tl + 1, "RCPT-REPLY ", 11) == 0 &&
        (hit = strstr(p + tl + 1, key)) != NULL && hit < nl) {
      code = atoi(hit + strlen(key));
      n++;
    }
    p = nl + 1;
  }
  TU_CHECK(n <= 1, "%s: faultd answered RCPT %s of %s %d times", tag, to, from,
           n);
  return code;
}

/* The ACCEPTED line of the message from `from` ("" if none); count. */
static int log_accepted(const char *log, const char *tag, const char *from,
                        char *rcpts, size_t cap, long *bytes) {
  const char *p = log;
  size_t tl = strlen(tag);
  char key[300];
  int n = 0;
  snprintf(key, sizeof(key), " from=<%s> rcpts=", from);
  rcpts[0] = '\0';
  *bytes = -1;
  for (;;) {
    const char *nl = strchr(p, '\n');
    if (nl == NULL)
      break;
    if ((size_t)(nl - p) > tl && strncmp(p, tag, tl) == 0 && p[tl] == ' ' &&
        strncmp(p + tl + 1, "ACCEPTED ", 9) == 0) {
      const char *hit = strstr(p + tl + 1, key);
      if (hit != NULL && hit < nl) {
        const char *r = hit + strlen(key), *sp = strchr(r, ' ');
        if (sp == NULL || sp > nl)
          sp = nl;
        snprintf(rcpts, cap, "%.*s", (int)(sp - r), r);
        if (sp < nl && strncmp(sp, " bytes=", 7) == 0)
          *bytes = atol(sp + 7);
        n++;
      }
    }
    p = nl + 1;
  }
  return n;
}

/* 1 if faultd received the end of data of the message from `from`. */
static int log_body_seen(const char *log, const char *tag, const char *from) {
  const char *p = log;
  size_t tl = strlen(tag);
  char key[300];
  snprintf(key, sizeof(key), " from=<%s> bytes=", from);
  for (;;) {
    const char *nl = strchr(p, '\n');
    if (nl == NULL)
      break;
    if ((size_t)(nl - p) > tl && strncmp(p, tag, tl) == 0 && p[tl] == ' ' &&
        strncmp(p + tl + 1, "BODY ", 5) == 0) {
      const char *hit = strstr(p + tl + 1, key);
      if (hit != NULL && hit < nl)
        return 1;
    }
    p = nl + 1;
  }
  return 0;
}

/* ---- report --------------------------------------------------------------- */

static void report(const char *fmt, ...) {
  const char *path = getenv("FAULTS_REPORT");
  FILE *f;
  va_list ap;
  if (path == NULL || *path == '\0')
    return;
  f = fopen(path, "a");
  if (f == NULL)
    return;
  va_start(ap, fmt);
  vfprintf(f, fmt, ap);
  va_end(ap);
  fputc('\n', f);
  fclose(f);
}

/* ---- one connection ------------------------------------------------------- */

typedef struct conn {
  tu_alloc a;
  smtpc_socket *sock;
  smtpc_session *s;
  char tag[96];
  const char *spec;
} conn;

/* Connects to faultd's port for spec.  With may_reset, a server that resets
 * the connection right after accepting it may beat the non-blocking
 * connect: smtpc_socket_connect() then reports SMTPC_ERR_CONNECT with
 * ECONNRESET (returned; the socket is left for conn_free). */
static int conn_open2(conn *c, const char *spec, int nth, int may_reset) {
  smtpc_io io;
  int rv;
  memset(c, 0, sizeof(*c));
  tu_alloc_init(&c->a, 0);
  c->spec = spec;
  snprintf(c->tag, sizeof(c->tag), "%s#%d", spec, nth);
  ck_assert_int_eq(smtpc_socket_new(&c->sock, &c->a.mem), SMTPC_OK);
  rv = smtpc_socket_connect(c->sock, "127.0.0.1", tf_port_of(spec), 5000);
  if (may_reset && rv == SMTPC_ERR_CONNECT &&
      smtpc_socket_last_errno(c->sock) == ECONNRESET)
    return rv;
  ck_assert_msg(rv == SMTPC_OK, "%s: connect to 127.0.0.1:%s: %s (%s)", c->tag,
                tf_port_of(spec), smtpc_strerror(rv),
                strerror(smtpc_socket_last_errno(c->sock)));
  smtpc_socket_io(c->sock, &io);
  ck_assert_int_eq(smtpc_session_new(&c->s, &c->a.mem), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_io(c->s, &io), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_ehlo_name(c->s, "client.test"), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_timeout_all(c->s, TMO), SMTPC_OK);
  return SMTPC_OK;
}

static void conn_open(conn *c, const char *spec, int nth) {
  (void)conn_open2(c, spec, nth, 0);
}

/* The next close of the socket sends RST: a server that stopped reading
 * sees the end at once (a FIN would queue behind the unread bytes). */
static void set_linger0(smtpc_socket *sock) {
  if (smtpc_socket_fd(sock) >= 0) {
    struct linger lg;
    lg.l_onoff = 1;
    lg.l_linger = 0;
    (void)setsockopt(smtpc_socket_fd(sock), SOL_SOCKET, SO_LINGER, &lg,
                     sizeof(lg));
  }
}

/* Frees the session and the transport; no leak allowed. */
static void conn_free(conn *c) {
  smtpc_session_free(c->s);
  c->s = NULL;
  smtpc_socket_free(c->sock);
  c->sock = NULL;
  TU_CHECK(c->a.live == 0, "%s: leak: %ld block(s), %zu byte(s) still live",
           c->tag, c->a.live, c->a.live_bytes);
  TU_ASSERT_NO_LEAKS(&c->a);
}

/* What a test holds, kept here so that the teardown frees it when an
 * assertion ends the test early (with CK_FORK=no the process goes on: no
 * leak may hide the library's own under valgrind). */
static struct {
  conn c;
  smtpc_txn *t[3];
  char *log;
} G;

static void hold_log(char *log) {
  free(G.log);
  G.log = log;
}

static void free_txns(int session_first) {
  int i;
  if (session_first) {
    smtpc_session_free(G.c.s);
    G.c.s = NULL;
  }
  for (i = 0; i < 3; i++) {
    smtpc_txn_free(G.t[i]);
    G.t[i] = NULL;
  }
}

static void teardown(void) {
  free_txns(0);
  smtpc_session_free(G.c.s);
  smtpc_socket_free(G.c.sock);
  hold_log(NULL);
  memset(&G, 0, sizeof(G));
}

/* ---- messages ------------------------------------------------------------- */

/* Every message goes to these: only "partial-rcpt" treats "bad" (550) and
 * "tmp" (451) specially, every other scenario accepts all three. */
static const char *const rcpts3[] = {"ok1@rcpt.test", "bad2@rcpt.test",
                                     "tmp3@rcpt.test"};
static const char *const rcpt_again[] = {"again@rcpt.test"};

/* The small body: CRLF line ends, a line that needs dot-stuffing. */
static const char small_body[] = "From: <m@client.test>\r\n"
                                 "To: <ok1@rcpt.test>\r\n"
                                 "Subject: faultd\r\n"
                                 "\r\n"
                                 "hello\r\n"
                                 ".a line that starts with a dot\r\n"
                                 "bye\r\n";

/* A 2 MiB body for the mid-body faults (faultd acts after 32 KiB). */
#define BIG_LEN (2u * 1024u * 1024u)
static char *big_body;

static const char *big(void) {
  size_t n = 0;
  if (big_body != NULL)
    return big_body;
  big_body = malloc(BIG_LEN + 1);
  ck_assert_ptr_nonnull(big_body);
  n = (size_t)snprintf(big_body, BIG_LEN, "Subject: big\r\n\r\n");
  while (n + 80 < BIG_LEN)
    n += (size_t)snprintf(big_body + n, BIG_LEN - n,
                          "%08zu the quick brown fox jumps over the lazy "
                          "dog, again and again\r\n",
                          n);
  big_body[n] = '\0';
  return big_body;
}

/* Queues a message from `from`; returns the transaction. */
static smtpc_txn *queue(conn *c, const char *from, const char *const *to,
                        size_t nto, const char *body) {
  smtpc_body b;
  smtpc_txn *t = NULL;
  int rv;
  smtpc_body_init_memory(&b, body, strlen(body));
  rv = smtpc_session_queue(c->s, from, to, nto, &b, &t);
  ck_assert_msg(rv == SMTPC_OK, "%s: queue %s: %s", c->tag, from,
                smtpc_strerror(rv));
  return t;
}

/* Cross-checks a finished transaction against faultd's log:
 *   - every RCPT reply the library kept is the one faultd sent;
 *   - the recipients the library counts as accepted are exactly those
 *     faultd answered 2xx (and that it lists in ACCEPTED);
 *   - OK / PARTIAL if and only if faultd sent a complete 250 to the end of
 *     data of this message (with at least one recipient);
 *   - faultd received the end of data only if the library got as far as
 *     DATA_END. */
static void cross_check(const conn *c, const char *log, smtpc_txn *t,
                        const char *from, const char *body) {
  size_t i, n = smtpc_txn_rcpt_count(t), lib_ok = 0;
  int st = smtpc_txn_status(t), acc;
  char accepted[1024], want[1024];
  long bytes;
  want[0] = '\0';
  for (i = 0; i < n; i++) {
    const char *to = smtpc_txn_rcpt(t, i);
    const smtpc_reply *r = smtpc_txn_rcpt_reply(t, i);
    int lib = r ? smtpc_reply_code(r) : 0;
    int srv = log_rcpt_code(log, c->tag, from, to);
    /* a 421 that ended the session is also kept as the reply of the RCPT
     * it answered (faultd logs it as a fault, not as an RCPT code) */
    TU_CHECK(lib == 0 || lib == srv ||
                 (lib == 421 && srv == 0 &&
                  smtpc_reply_code(smtpc_txn_reply(t)) == 421),
             "%s: %s: RCPT %s: the library has %d, faultd sent %d", c->tag,
             from, to, lib, srv);
    /* a transaction that ended with a reply (not a broken connection) has
     * read every RCPT reply faultd sent */
    if (!smtpc_error_is_fatal(st))
      TU_CHECK(lib == srv,
               "%s: %s (%s): RCPT %s: the library has %d, faultd sent %d",
               c->tag, from, tf_err_name(st), to, lib, srv);
    if (lib / 100 == 2) {
      lib_ok++;
      snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s<%s>",
               lib_ok > 1 ? "," : "", to);
    }
  }
  TU_CHECK(smtpc_txn_accepted_count(t) == lib_ok,
           "%s: %s: accepted_count %zu, but %zu RCPT replies are 2xx", c->tag,
           from, smtpc_txn_accepted_count(t), lib_ok);
  acc = log_accepted(log, c->tag, from, accepted, sizeof(accepted), &bytes);
  TU_CHECK(acc <= 1, "%s: %s accepted %d times", c->tag, from, acc);
  if (acc == 1 && accepted[0] != '\0') {
    /* the server took the message for these recipients */
    TU_CHECK(st == SMTPC_OK || st == SMTPC_ERR_PARTIAL,
             "%s: %s: faultd accepted the message (for %s) but the library "
             "says %s (step %s)",
             c->tag, from, accepted, tf_err_name(st),
             step_name(smtpc_txn_step(t)));
    TU_CHECK(strcmp(accepted, want) == 0,
             "%s: %s: faultd accepted it for %s, the library counts %s", c->tag,
             from, accepted, want);
    TU_CHECK(bytes == (long)strlen(body),
             "%s: %s: faultd received %ld body bytes, %zu sent", c->tag, from,
             bytes, strlen(body));
  } else {
    TU_CHECK(st != SMTPC_OK && st != SMTPC_ERR_PARTIAL,
             "%s: %s: the library reports %s but faultd never accepted the "
             "message",
             c->tag, from, tf_err_name(st));
  }
  if (st == SMTPC_OK)
    TU_CHECK(lib_ok == n, "%s: %s: OK with %zu of %zu recipients", c->tag, from,
             lib_ok, n);
  if (st == SMTPC_ERR_PARTIAL)
    TU_CHECK(lib_ok > 0 && lib_ok < n, "%s: %s: PARTIAL with %zu of %zu",
             c->tag, from, lib_ok, n);
  if (log_body_seen(log, c->tag, from))
    TU_CHECK(smtpc_txn_step(t) == SMTPC_STEP_DATA_END,
             "%s: %s: faultd received the end of data, step is %s", c->tag,
             from, step_name(smtpc_txn_step(t)));
}

/* faultd saw the client break the protocol (e.g. pipelining without
 * PIPELINING): the first such line and how many there were. */
static void no_violation(const conn *c, const char *log) {
  char v[512];
  int n = log_find(log, c->tag, "VIOLATION", v, sizeof(v));
  TU_CHECK(n == 0, "%s: faultd: %s (%d violation(s) on this connection)",
           c->tag, v, n);
}

/* Asserts that a call took at most TMO + SLACK.  A call that waited and
 * timed out (waited != 0) must also have waited for the timeout. */
static void check_bound_w(const conn *c, const char *what, int rv, long ms,
                          int waited) {
  TU_CHECK(ms <= TMO + SLACK,
           "%s: %s returned %s after %ld ms: more than the %d ms timeout "
           "(+%d ms slack)",
           c->tag, what, tf_err_name(rv), ms, TMO, SLACK);
  if (rv == SMTPC_ERR_TIMEOUT && waited)
    TU_CHECK(ms >= TMO - 50,
             "%s: %s timed out after %ld ms, the timeout is %d ms", c->tag,
             what, ms, TMO);
}
#define check_bound(c, what, rv, ms) check_bound_w(c, what, rv, ms, 1)

/* ---- the scenario table --------------------------------------------------- */

#define END_ 1 /* ends the lists of codes below (1 is no smtpc code) */
#define ONE(a)                                                                 \
  { a, END_, END_ }
#define TWO(a, b)                                                              \
  { a, b, END_ }
#define NOT_CHECKED (-1)

enum { AT_OPEN, AT_RUN };

typedef struct row {
  const char *spec;
  int at;     /* the call that fails: smtpc_session_open or _run */
  int err[3]; /* what that call may return (END_-terminated) */
  /* AT_RUN: the first message (m1, three recipients) */
  int status[3];      /* its status */
  smtpc_step step[2]; /* its step (one, or two acceptable) */
  int codes[3];       /* its RCPT reply codes (0: no reply kept) */
  int final;          /* smtpc_txn_reply code (0: none; -1 unchecked) */
  int big;            /* 2 MiB body */
  smtpc_step m2_step; /* m2 (queued behind m1) when the session broke */
  int reuse;          /* the session survives: m2 OK, then RSET + m3 OK */
  int last;           /* AT_OPEN: smtpc_session_last_reply code (-1: any) */
} row;

#define EOF_ SMTPC_ERR_EOF
#define IO_ SMTPC_ERR_IO
#define TMO_ SMTPC_ERR_TIMEOUT
#define SC_ SMTPC_ERR_SERVICE_CLOSING
#define PROTO_ SMTPC_ERR_PROTOCOL
#define LONG_ SMTPC_ERR_REPLY_LINE_TOO_LONG
#define LARGE_ SMTPC_ERR_REPLY_TOO_LARGE
#define S_NONE SMTPC_STEP_NONE
#define S_MAIL SMTPC_STEP_MAIL
#define S_RCPT SMTPC_STEP_RCPT
#define S_DATA SMTPC_STEP_DATA
#define S_BODY SMTPC_STEP_BODY
#define S_END SMTPC_STEP_DATA_END
#define OPEN_ROW(spec, errs, last)                                             \
  {                                                                            \
    spec, AT_OPEN, errs, ONE(0), {S_NONE, S_NONE}, {0, 0, 0}, 0, 0, S_NONE, 0, \
        last                                                                   \
  }
/* A failure that breaks the session during run(). */
#define BREAK_ROW(spec, errs, st1, st2, c1, c2, c3, fin, bigb, m2)             \
  { spec, AT_RUN, errs, errs, {st1, st2}, {c1, c2, c3}, fin, bigb, m2, 0, -1 }
/* A rejection the session survives. */
#define REJECT_ROW(spec, status, st1, st2, c1, c2, c3, fin)                    \
  {                                                                            \
    spec, AT_RUN, ONE(SMTPC_OK), ONE(status), {st1, st2}, {c1, c2, c3}, fin,   \
        0, S_NONE, 1, -1                                                       \
  }

static const row rows[] = {
    /* control */
    REJECT_ROW("ok", SMTPC_OK, S_END, S_END, 250, 250, 250, 250),
    REJECT_ROW("ok+nopipe", SMTPC_OK, S_END, S_END, 250, 250, 250, 250),
    REJECT_ROW("drip", SMTPC_OK, S_END, S_END, 250, 250, 250, 250),

    /* while opening */
    OPEN_ROW("close-after-greeting", ONE(EOF_), 220),
    OPEN_ROW("close-mid-greeting", ONE(EOF_), 0),
    OPEN_ROW("close-after-ehlo", ONE(EOF_), 220),
    OPEN_ROW("close-mid-ehlo-reply", ONE(EOF_), 220),
    OPEN_ROW("reset-after-greeting", TWO(IO_, EOF_), -1),
    OPEN_ROW("reset-mid-greeting", TWO(IO_, EOF_), 0),
    OPEN_ROW("reset-after-ehlo", TWO(IO_, EOF_), 220),
    OPEN_ROW("reset-mid-ehlo-reply", TWO(IO_, EOF_), 220),
    OPEN_ROW("stall-greeting", ONE(TMO_), 0),
    OPEN_ROW("stall-after-ehlo", ONE(TMO_), 220),
    OPEN_ROW("drip-slow", ONE(TMO_), 0),
    OPEN_ROW("421-greeting", ONE(SC_), 421),
    OPEN_ROW("421-ehlo", ONE(SC_), 421),
    OPEN_ROW("garbage-greeting", ONE(PROTO_), 0),
    OPEN_ROW("overlong-greeting", ONE(LONG_), 0),
    OPEN_ROW("endless-ehlo", ONE(LARGE_), 220),
    OPEN_ROW("endless-ehlo-slow", ONE(TMO_), 220),
    OPEN_ROW("wrongcode-ehlo", ONE(PROTO_), 220),

    /* during the transaction: the connection breaks */
    BREAK_ROW("close-after-mail", ONE(EOF_), S_MAIL, S_MAIL, 0, 0, 0, 0, 0,
              S_NONE),
    BREAK_ROW("close-after-mail+nopipe", ONE(EOF_), S_MAIL, S_MAIL, 0, 0, 0, 0,
              0, S_NONE),
    BREAK_ROW("close-after-rcpt", ONE(EOF_), S_RCPT, S_RCPT, 0, 0, 0, 0, 0,
              S_NONE),
    BREAK_ROW("close-after-rcpt+nopipe", ONE(EOF_), S_RCPT, S_RCPT, 0, 0, 0, 0,
              0, S_NONE),
    BREAK_ROW("close-after-rcpt2", ONE(EOF_), S_RCPT, S_RCPT, 250, 0, 0, 0, 0,
              S_NONE),
    BREAK_ROW("close-after-rcpt2+nopipe", ONE(EOF_), S_RCPT, S_RCPT, 250, 0, 0,
              0, 0, S_NONE),
    BREAK_ROW("close-after-data", ONE(EOF_), S_DATA, S_DATA, 250, 250, 250, 0,
              0, S_NONE),
    BREAK_ROW("close-after-data+nopipe", ONE(EOF_), S_DATA, S_DATA, 250, 250,
              250, 0, 0, S_NONE),
    BREAK_ROW("close-mid-body", TWO(IO_, EOF_), S_BODY, S_BODY, 250, 250, 250,
              0, 1, S_NONE),
    BREAK_ROW("close-mid-body+nopipe", TWO(IO_, EOF_), S_BODY, S_BODY, 250, 250,
              250, 0, 1, S_NONE),
    BREAK_ROW("close-after-eod", ONE(EOF_), S_END, S_END, 250, 250, 250, 0, 0,
              S_MAIL),
    BREAK_ROW("close-after-eod+nopipe", ONE(EOF_), S_END, S_END, 250, 250, 250,
              0, 0, S_NONE),
    BREAK_ROW("close-mid-final-reply", ONE(EOF_), S_END, S_END, 250, 250, 250,
              0, 0, S_MAIL),
    BREAK_ROW("close-mid-final-reply+nopipe", ONE(EOF_), S_END, S_END, 250, 250,
              250, 0, 0, S_NONE),
    BREAK_ROW("reset-after-mail", TWO(IO_, EOF_), S_MAIL, S_MAIL, 0, 0, 0, 0, 0,
              S_NONE),
    BREAK_ROW("reset-after-mail+nopipe", TWO(IO_, EOF_), S_MAIL, S_MAIL, 0, 0,
              0, 0, 0, S_NONE),
    BREAK_ROW("reset-after-rcpt", TWO(IO_, EOF_), S_RCPT, S_RCPT, 0, 0, 0, 0, 0,
              S_NONE),
    BREAK_ROW("reset-after-rcpt+nopipe", TWO(IO_, EOF_), S_RCPT, S_RCPT, 0, 0,
              0, 0, 0, S_NONE),
    BREAK_ROW("reset-after-rcpt2", TWO(IO_, EOF_), S_RCPT, S_RCPT, 250, 0, 0, 0,
              0, S_NONE),
    BREAK_ROW("reset-after-rcpt2+nopipe", TWO(IO_, EOF_), S_RCPT, S_RCPT, 250,
              0, 0, 0, 0, S_NONE),
    BREAK_ROW("reset-after-data", TWO(IO_, EOF_), S_DATA, S_DATA, 250, 250, 250,
              0, 0, S_NONE),
    BREAK_ROW("reset-after-data+nopipe", TWO(IO_, EOF_), S_DATA, S_DATA, 250,
              250, 250, 0, 0, S_NONE),
    BREAK_ROW("reset-mid-body", TWO(IO_, EOF_), S_BODY, S_BODY, 250, 250, 250,
              0, 1, S_NONE),
    BREAK_ROW("reset-mid-body+nopipe", TWO(IO_, EOF_), S_BODY, S_BODY, 250, 250,
              250, 0, 1, S_NONE),
    BREAK_ROW("reset-after-eod", TWO(IO_, EOF_), S_END, S_END, 250, 250, 250, 0,
              0, S_MAIL),
    BREAK_ROW("reset-after-eod+nopipe", TWO(IO_, EOF_), S_END, S_END, 250, 250,
              250, 0, 0, S_NONE),
    BREAK_ROW("reset-mid-final-reply", TWO(IO_, EOF_), S_END, S_END, 250, 250,
              250, 0, 0, S_MAIL),
    BREAK_ROW("reset-mid-final-reply+nopipe", TWO(IO_, EOF_), S_END, S_END, 250,
              250, 250, 0, 0, S_NONE),
    BREAK_ROW("stall-after-mail", ONE(TMO_), S_MAIL, S_MAIL, 0, 0, 0, 0, 0,
              S_NONE),
    BREAK_ROW("stall-after-mail+nopipe", ONE(TMO_), S_MAIL, S_MAIL, 0, 0, 0, 0,
              0, S_NONE),
    BREAK_ROW("stall-after-rcpt", ONE(TMO_), S_RCPT, S_RCPT, 0, 0, 0, 0, 0,
              S_NONE),
    BREAK_ROW("stall-after-rcpt+nopipe", ONE(TMO_), S_RCPT, S_RCPT, 0, 0, 0, 0,
              0, S_NONE),
    BREAK_ROW("stall-after-data", ONE(TMO_), S_DATA, S_DATA, 250, 250, 250, 0,
              0, S_NONE),
    BREAK_ROW("stall-after-data+nopipe", ONE(TMO_), S_DATA, S_DATA, 250, 250,
              250, 0, 0, S_NONE),
    BREAK_ROW("stall-mid-body", ONE(TMO_), S_BODY, S_BODY, 250, 250, 250, 0, 1,
              S_NONE),
    BREAK_ROW("stall-after-eod", ONE(TMO_), S_END, S_END, 250, 250, 250, 0, 0,
              S_MAIL),
    BREAK_ROW("421-mail", ONE(SC_), S_MAIL, S_MAIL, 0, 0, 0, 421, 0, S_NONE),
    BREAK_ROW("421-mail+nopipe", ONE(SC_), S_MAIL, S_MAIL, 0, 0, 0, 421, 0,
              S_NONE),
    BREAK_ROW("421-rcpt", ONE(SC_), S_RCPT, S_RCPT, 421, 0, 0, 421, 0, S_NONE),
    BREAK_ROW("421-rcpt+nopipe", ONE(SC_), S_RCPT, S_RCPT, 421, 0, 0, 421, 0,
              S_NONE),
    BREAK_ROW("421-rcpt2", ONE(SC_), S_RCPT, S_RCPT, 250, 421, 0, 421, 0,
              S_NONE),
    BREAK_ROW("421-rcpt2+nopipe", ONE(SC_), S_RCPT, S_RCPT, 250, 421, 0, 421, 0,
              S_NONE),
    BREAK_ROW("421-data", ONE(SC_), S_DATA, S_DATA, 250, 250, 250, 421, 0,
              S_NONE),
    BREAK_ROW("421-data+nopipe", ONE(SC_), S_DATA, S_DATA, 250, 250, 250, 421,
              0, S_NONE),
    BREAK_ROW("421-eod", ONE(SC_), S_END, S_END, 250, 250, 250, 421, 0, S_MAIL),
    BREAK_ROW("421-eod+nopipe", ONE(SC_), S_END, S_END, 250, 250, 250, 421, 0,
              S_NONE),
    BREAK_ROW("garbage-mail", ONE(PROTO_), S_MAIL, S_MAIL, 0, 0, 0, 0, 0,
              S_NONE),
    BREAK_ROW("garbage-eod", ONE(PROTO_), S_END, S_END, 250, 250, 250, 0, 0,
              S_MAIL),
    BREAK_ROW("overlong-rcpt", ONE(LONG_), S_RCPT, S_RCPT, 0, 0, 0, 0, 0,
              S_NONE),
    BREAK_ROW("overlong-eod", ONE(LONG_), S_END, S_END, 250, 250, 250, 0, 0,
              S_MAIL),
    BREAK_ROW("endless-eod", ONE(LARGE_), S_END, S_END, 250, 250, 250, 0, 0,
              S_MAIL),
    BREAK_ROW("wrongcode-rcpt", ONE(PROTO_), S_RCPT, S_RCPT, 0, 0, 0, 0, 0,
              S_NONE),

    /* rejections: the session survives */
    REJECT_ROW("reject-rcpt", SMTPC_ERR_NO_RECIPIENTS, S_RCPT, S_DATA, 550, 550,
               550, 554),
    REJECT_ROW("reject-rcpt+nopipe", SMTPC_ERR_NO_RECIPIENTS, S_RCPT, S_DATA,
               550, 550, 550, NOT_CHECKED),
    REJECT_ROW("reject-rcpt-354", SMTPC_ERR_NO_RECIPIENTS, S_END, S_END, 550,
               550, 550, 250),
    REJECT_ROW("reject-data", SMTPC_ERR_REPLY_PERMANENT, S_DATA, S_DATA, 250,
               250, 250, 554),
    REJECT_ROW("reject-data+nopipe", SMTPC_ERR_REPLY_PERMANENT, S_DATA, S_DATA,
               250, 250, 250, 554),
    REJECT_ROW("552-eod", SMTPC_ERR_REPLY_PERMANENT, S_END, S_END, 250, 250,
               250, 552),
    REJECT_ROW("552-eod+nopipe", SMTPC_ERR_REPLY_PERMANENT, S_END, S_END, 250,
               250, 250, 552),
    REJECT_ROW("reject-mail", SMTPC_ERR_REPLY_PERMANENT, S_MAIL, S_MAIL, 0, 0,
               0, 550),
    REJECT_ROW("reject-mail+nopipe", SMTPC_ERR_REPLY_PERMANENT, S_MAIL, S_MAIL,
               0, 0, 0, 550),
    REJECT_ROW("451-eod", SMTPC_ERR_REPLY_TEMPORARY, S_END, S_END, 250, 250,
               250, 451),
    REJECT_ROW("partial-rcpt", SMTPC_ERR_PARTIAL, S_END, S_END, 250, 550, 451,
               250),
    REJECT_ROW("partial-rcpt+nopipe", SMTPC_ERR_PARTIAL, S_END, S_END, 250, 550,
               451, 250),
};
#define NROWS ((int)(sizeof(rows) / sizeof(rows[0])))

static int in_list(const int *l, int v) {
  int i;
  for (i = 0; i < 3 && l[i] != END_; i++)
    if (l[i] == v)
      return 1;
  return 0;
}

static const char *list_str(const int *l) {
  static char buf[4][128];
  static int k;
  char *b = buf[k++ % 4];
  int i;
  b[0] = '\0';
  for (i = 0; i < 3 && l[i] != END_; i++)
    snprintf(b + strlen(b), 128 - strlen(b), "%s%s", i ? " or " : "",
             tf_err_name(l[i]));
  return b;
}

static void codes_str(char *out, size_t cap, smtpc_txn *t) {
  size_t i;
  out[0] = '\0';
  for (i = 0; i < smtpc_txn_rcpt_count(t); i++) {
    const smtpc_reply *r = smtpc_txn_rcpt_reply(t, i);
    snprintf(out + strlen(out), cap - strlen(out), "%s%d", i ? "," : "",
             r ? smtpc_reply_code(r) : 0);
  }
}

/* After a fatal error: the session refuses new work at once and can only
 * be quit (a no-op or a polite QUIT, never a wait beyond the bound) and
 * freed. */
static void check_broken(conn *c, int err) {
  smtpc_body b;
  smtpc_txn *t = NULL;
  const char *to[] = {"late@rcpt.test"};
  int rv;
  long ms;
  TU_CHECK(smtpc_error_is_fatal(err), "%s: %s is not fatal", c->tag,
           tf_err_name(err));
  TIMED(rv, ms, smtpc_session_run(c->s));
  TU_CHECK(rv == err || rv == SMTPC_ERR_INVALID_STATE,
           "%s: run after %s returned %s", c->tag, tf_err_name(err),
           tf_err_name(rv));
  check_bound_w(c, "run (again)", rv, ms, 0);
  smtpc_body_init_memory(&b, small_body, strlen(small_body));
  rv = smtpc_session_queue(c->s, "late@client.test", to, 1, &b, &t);
  TU_CHECK(rv == SMTPC_ERR_INVALID_STATE,
           "%s: queue on a broken session returned %s", c->tag,
           tf_err_name(rv));
  TU_CHECK(t == NULL, "%s: a transaction was queued", c->tag);
  TIMED(rv, ms, smtpc_session_quit(c->s));
  check_bound_w(c, "quit", rv, ms, 0);
}

/* Drives a call the way an event loop would, over a non-blocking socket:
 * on WANT_READ / WANT_WRITE poll the descriptor for at most
 * smtpc_session_current_timeout(), then call again (bounded). */
static int nb_call(conn *c, int (*fn)(smtpc_session *)) {
  long spins = 0;
  for (;;) {
    struct pollfd p;
    unsigned tmo;
    int rv = fn(c->s);
    if (rv != SMTPC_ERR_WANT_READ && rv != SMTPC_ERR_WANT_WRITE)
      return rv;
    TU_CHECK(++spins < TS_MAX_SPINS, "%s: still blocking after %ld calls",
             c->tag, spins);
    tmo = smtpc_session_current_timeout(c->s);
    TU_CHECK(tmo == TMO, "%s: current timeout %u ms while waiting, set %d",
             c->tag, tmo, TMO);
    p.fd = smtpc_socket_fd(c->sock);
    p.events = rv == SMTPC_ERR_WANT_READ ? POLLIN : POLLOUT;
    p.revents = 0;
    TU_CHECK(p.fd >= 0, "%s: no descriptor while waiting", c->tag);
    (void)poll(&p, 1, (int)tmo);
  }
}

#define CALL(c, nb, fn) ((nb) ? nb_call((c), fn) : fn((c)->s))

/* One scenario: open, then (AT_RUN) m1 (three recipients) and m2 queued
 * behind it, run; check everything against the row and faultd's log. */
static void run_row(const row *r, const char *spec, int nb, int idx) {
  conn *c = &G.c;
  int rv, st;
  long ms;
  char *log, codes[64];
  smtpc_txn *m1 = NULL, *m2 = NULL, *m3 = NULL;
  const char *body1;

  /* a reset before the client speaks may already fail the connect */
  if (conn_open2(c, spec, 1,
                 r->at == AT_OPEN && strncmp(spec, "reset-", 6) == 0 &&
                     strstr(spec, "greeting") != NULL) != SMTPC_OK) {
    report("%s|connect|CONNECT (ECONNRESET)|-|reset before the client "
           "could see the connection",
           spec);
    conn_free(c);
    hold_log(log_wait_end(c->tag));
    return;
  }
  if (nb)
    smtpc_socket_set_blocking(c->sock, 0);
  if (r->big) {
    /* a small send buffer: the 2 MiB body cannot vanish into the kernel,
     * a server that stops reading is felt while the body is sent */
    int sz = 32768;
    ck_assert_int_eq(setsockopt(smtpc_socket_fd(c->sock), SOL_SOCKET, SO_SNDBUF,
                                &sz, sizeof(sz)),
                     0);
  }
  TIMED(rv, ms, CALL(c, nb, smtpc_session_open));
  if (r->at == AT_OPEN) {
    const smtpc_reply *last = smtpc_session_last_reply(c->s);
    TU_CHECK(in_list(r->err, rv), "%s: open returned %s (%s), expected %s",
             c->tag, tf_err_name(rv), smtpc_strerror(rv), list_str(r->err));
    check_bound(c, "open", rv, ms);
    if (r->last >= 0)
      TU_CHECK(smtpc_reply_code(last) == r->last,
               "%s: last reply %d, expected %d", c->tag, smtpc_reply_code(last),
               r->last);
    report("%s|open|%s|%ld ms|last reply %d", spec, tf_err_name(rv), ms,
           smtpc_reply_code(last));
    check_broken(c, rv);
    conn_free(c);
    hold_log(log = log_wait_end(c->tag));
    no_violation(c, log);
    TU_CHECK(log_find(log, c->tag, "ACCEPTED", NULL, 0) == 0,
             "%s: a message was accepted", c->tag);
    return;
  }

  ck_assert_msg(rv == SMTPC_OK, "%s: open: %s", c->tag, tf_err_name(rv));
  body1 = r->big ? big() : small_body;
  G.t[0] = m1 = queue(c, "m1@client.test", rcpts3, 3, body1);
  G.t[1] = m2 = queue(c, "m2@client.test", rcpt_again, 1, small_body);
  TIMED(rv, ms, CALL(c, nb, smtpc_session_run));
  st = smtpc_txn_status(m1);
  codes_str(codes, sizeof(codes), m1);
  report("%s|run|%s|%ld ms|m1 %s step %s rcpt %s accepted %zu final %d|m2 %s "
         "step %s",
         spec, tf_err_name(rv), ms, tf_err_name(st),
         step_name(smtpc_txn_step(m1)), codes, smtpc_txn_accepted_count(m1),
         smtpc_reply_code(smtpc_txn_reply(m1)),
         tf_err_name(smtpc_txn_status(m2)), step_name(smtpc_txn_step(m2)));
  TU_CHECK(in_list(r->err, rv), "%s: run returned %s, expected %s", c->tag,
           tf_err_name(rv), list_str(r->err));
  check_bound(c, "run", rv, ms);
  TU_CHECK(in_list(r->status, st), "%s: m1 status %s, expected %s", c->tag,
           tf_err_name(st), list_str(r->status));
  TU_CHECK(smtpc_txn_step(m1) == r->step[0] || smtpc_txn_step(m1) == r->step[1],
           "%s: m1 step %s, expected %s%s%s", c->tag,
           step_name(smtpc_txn_step(m1)), step_name(r->step[0]),
           r->step[1] != r->step[0] ? " or " : "",
           r->step[1] != r->step[0] ? step_name(r->step[1]) : "");
  {
    size_t i, acc = 0;
    for (i = 0; i < 3; i++) {
      const smtpc_reply *rr = smtpc_txn_rcpt_reply(m1, i);
      int code = rr ? smtpc_reply_code(rr) : 0;
      TU_CHECK(code == r->codes[i],
               "%s: m1 RCPT %zu (%s) reply %d, expected %d (codes %s)", c->tag,
               i, rcpts3[i], code, r->codes[i], codes);
      if (code / 100 == 2)
        acc++;
    }
    TU_CHECK(smtpc_txn_accepted_count(m1) == acc,
             "%s: m1 accepted_count %zu, expected %zu", c->tag,
             smtpc_txn_accepted_count(m1), acc);
  }
  if (r->final >= 0)
    TU_CHECK(smtpc_reply_code(smtpc_txn_reply(m1)) == r->final,
             "%s: m1 final reply %d, expected %d", c->tag,
             smtpc_reply_code(smtpc_txn_reply(m1)), r->final);

  if (r->reuse) {
    TU_CHECK(smtpc_txn_status(m2) == SMTPC_OK, "%s: m2 status %s", c->tag,
             tf_err_name(smtpc_txn_status(m2)));
    TIMED(rv, ms, CALL(c, nb, smtpc_session_rset));
    TU_CHECK(rv == SMTPC_OK, "%s: RSET after the run: %s", c->tag,
             tf_err_name(rv));
    check_bound(c, "rset", rv, ms);
    G.t[2] = m3 = queue(c, "m3@client.test", rcpt_again, 1, small_body);
    TIMED(rv, ms, CALL(c, nb, smtpc_session_run));
    TU_CHECK(rv == SMTPC_OK, "%s: run of m3: %s", c->tag, tf_err_name(rv));
    check_bound(c, "run (m3)", rv, ms);
    TU_CHECK(smtpc_txn_status(m3) == SMTPC_OK, "%s: m3 status %s", c->tag,
             tf_err_name(smtpc_txn_status(m3)));
    TIMED(rv, ms, CALL(c, nb, smtpc_session_quit));
    TU_CHECK(rv == SMTPC_OK, "%s: quit: %s", c->tag, tf_err_name(rv));
    check_bound(c, "quit", rv, ms);
  } else {
    /* nothing queued behind a broken session may look sent */
    TU_CHECK(smtpc_txn_status(m2) == rv, "%s: m2 status %s, run said %s",
             c->tag, tf_err_name(smtpc_txn_status(m2)), tf_err_name(rv));
    TU_CHECK(smtpc_txn_step(m2) == r->m2_step, "%s: m2 step %s, expected %s",
             c->tag, step_name(smtpc_txn_step(m2)), step_name(r->m2_step));
    check_broken(c, rv);
  }

  /* Close the connection (RST when faultd stopped reading, so that it sees
   * the end at once), keep the results, wait until faultd has logged the
   * whole connection, then compare. */
  if (r->big)
    set_linger0(c->sock);
  smtpc_session_close(c->s);
  hold_log(log = log_wait_end(c->tag));
  no_violation(c, log);
  cross_check(c, log, m1, "m1@client.test", body1);
  cross_check(c, log, m2, "m2@client.test", small_body);
  if (m3 != NULL)
    cross_check(c, log, m3, "m3@client.test", small_body);
  /* free in both orders: transactions first, or the session first */
  free_txns(!(idx % 2));
  conn_free(c);
}

START_TEST(test_scenario) { run_row(&rows[_i], rows[_i].spec, 0, _i); }
END_TEST

/* The same over a non-blocking socket (an event loop's view). */
static const char *const nb_specs[] = {
    "ok+nb",   "stall-after-data+nb", "close-after-eod+nb",
    "drip+nb", "421-rcpt2+nb",        "stall-mid-body+nb"};

START_TEST(test_nonblocking) {
  const char *spec = nb_specs[_i];
  size_t n = strcspn(spec, "+");
  int i;
  for (i = 0; i < NROWS; i++)
    if (strlen(rows[i].spec) == n && strncmp(rows[i].spec, spec, n) == 0) {
      run_row(&rows[i], spec, 1, _i);
      return;
    }
  ck_abort_msg("%s: no row for it", spec);
}
END_TEST

/* ---- connection lost or closed between transactions ------------------------ */

/* m1 is accepted; then the server says 421 or goes away while idle.  The
 * next run (or RSET) must say SERVICE_CLOSING -- "reconnect" -- and m2 must
 * not look sent. */
static void idle_case(const char *spec, int nth, int use_rset) {
  conn *c = &G.c;
  smtpc_txn *m1, *m2 = NULL;
  int rv;
  long ms;
  char *log;
  conn_open(c, spec, nth);
  ck_assert_int_eq(smtpc_session_open(c->s), SMTPC_OK);
  G.t[0] = m1 = queue(c, "m1@client.test", rcpts3, 3, small_body);
  TIMED(rv, ms, smtpc_session_run(c->s));
  TU_CHECK(rv == SMTPC_OK, "%s: run m1: %s", c->tag, tf_err_name(rv));
  TU_CHECK(smtpc_txn_status(m1) == SMTPC_OK, "%s: m1 %s", c->tag,
           tf_err_name(smtpc_txn_status(m1)));
  tf_sleep_ms(300); /* the idle 421 / close arrives (faultd: after 0.2 s) */
  if (use_rset) {
    TIMED(rv, ms, smtpc_session_rset(c->s));
    report("%s|rset (idle)|%s|%ld ms|m1 OK", spec, tf_err_name(rv), ms);
    TU_CHECK(rv == SMTPC_ERR_SERVICE_CLOSING,
             "%s: RSET after the server's 421: %s, expected SERVICE_CLOSING",
             c->tag, tf_err_name(rv));
    check_bound(c, "rset", rv, ms);
  } else {
    G.t[1] = m2 = queue(c, "m2@client.test", rcpt_again, 1, small_body);
    TIMED(rv, ms, smtpc_session_run(c->s));
    report("%s|run (idle)|%s|%ld ms|m1 OK|m2 %s step %s", spec, tf_err_name(rv),
           ms, tf_err_name(smtpc_txn_status(m2)),
           step_name(smtpc_txn_step(m2)));
    TU_CHECK(rv == SMTPC_ERR_SERVICE_CLOSING,
             "%s: run after the server left: %s, expected SERVICE_CLOSING",
             c->tag, tf_err_name(rv));
    check_bound(c, "run", rv, ms);
    TU_CHECK(smtpc_txn_status(m2) != SMTPC_OK &&
                 smtpc_txn_status(m2) != SMTPC_ERR_PARTIAL &&
                 smtpc_txn_is_complete(m2),
             "%s: m2 status %s", c->tag, tf_err_name(smtpc_txn_status(m2)));
  }
  TIMED(rv, ms, smtpc_session_quit(c->s));
  check_bound(c, "quit", rv, ms);
  smtpc_session_close(c->s);
  hold_log(log = log_wait_end(c->tag));
  no_violation(c, log);
  cross_check(c, log, m1, "m1@client.test", small_body);
  if (m2 != NULL)
    cross_check(c, log, m2, "m2@client.test", small_body);
  free_txns(0);
  conn_free(c);
}

START_TEST(test_421_idle) { idle_case("421-idle", 1, 0); }
END_TEST

/* The 421 arrives in the same segment as the 250: it is already buffered
 * when the next call starts. */
START_TEST(test_421_idle_same_write) { idle_case("421-idle-now", 1, 0); }
END_TEST

START_TEST(test_421_idle_same_write_rset) {
  idle_case("421-idle-now+rset", 1, 1);
}
END_TEST

START_TEST(test_close_idle) { idle_case("close-idle", 1, 0); }
END_TEST

/* 421 to RSET: to the caller's RSET, and to the health-check RSET the
 * library sends before reusing a connection. */
START_TEST(test_421_rset) {
  idle_case("421-rset", 1, 1);
  idle_case("421-rset", 2, 0);
}
END_TEST

/* ---- QUIT unanswered ---------------------------------------------------------- */

/* The server closes, resets or stalls instead of answering QUIT: quit()
 * comes back within the timeout, and the message sent before stays sent. */
static const struct {
  const char *spec;
  int err[3];
} quit_rows[] = {
    {"close-quit", ONE(SMTPC_OK)},
    {"reset-quit", TWO(SMTPC_OK, SMTPC_ERR_IO)},
    {"stall-quit", ONE(SMTPC_ERR_TIMEOUT)},
};

START_TEST(test_quit_faults) {
  conn *c = &G.c;
  smtpc_txn *m1;
  int rv;
  long ms;
  char *log;
  conn_open(c, quit_rows[_i].spec, 1);
  ck_assert_int_eq(smtpc_session_open(c->s), SMTPC_OK);
  G.t[0] = m1 = queue(c, "m1@client.test", rcpts3, 3, small_body);
  ck_assert_int_eq(smtpc_session_run(c->s), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(m1), SMTPC_OK);
  TIMED(rv, ms, smtpc_session_quit(c->s));
  report("%s|quit|%s|%ld ms|m1 OK", quit_rows[_i].spec, tf_err_name(rv), ms);
  TU_CHECK(in_list(quit_rows[_i].err, rv), "%s: quit returned %s, expected %s",
           c->tag, tf_err_name(rv), list_str(quit_rows[_i].err));
  check_bound(c, "quit", rv, ms);
  TU_CHECK(smtpc_txn_status(m1) == SMTPC_OK, "%s: m1 changed to %s", c->tag,
           tf_err_name(smtpc_txn_status(m1)));
  smtpc_session_close(c->s);
  hold_log(log = log_wait_end(c->tag));
  no_violation(c, log);
  cross_check(c, log, m1, "m1@client.test", small_body);
  free_txns(0);
  conn_free(c);
}
END_TEST

/* ---- suite ------------------------------------------------------------------ */

static Suite *faults_suite(void) {
  Suite *s = suite_create("faults");
  TCase *tc = tcase_create("faultd");
  tcase_set_timeout(tc, 60);
  tcase_add_checked_fixture(tc, NULL, teardown);
  tcase_add_loop_test(tc, test_scenario, 0, NROWS);
  tcase_add_loop_test(tc, test_nonblocking, 0,
                      (int)(sizeof(nb_specs) / sizeof(nb_specs[0])));
  tcase_add_test(tc, test_421_idle);
  tcase_add_test(tc, test_421_idle_same_write);
  tcase_add_test(tc, test_421_idle_same_write_rset);
  tcase_add_test(tc, test_close_idle);
  tcase_add_test(tc, test_421_rset);
  tcase_add_loop_test(tc, test_quit_faults, 0,
                      (int)(sizeof(quit_rows) / sizeof(quit_rows[0])));
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  /* SIGPIPE keeps its default action: the library must never raise it
   * when it writes to a connection the server reset. */
  int rc = tf_run_suite("check_faults", all_specs, NSPECS, faults_suite(),
                        "FAULTS_KEEP_LOG");
  free(big_body);
  return rc;
}
