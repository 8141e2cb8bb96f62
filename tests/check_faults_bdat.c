/* SPDX-License-Identifier: MIT */
/* CHUNKING / BDAT (RFC 3030) against tests/faultd.py over real sockets on
 * 127.0.0.1: the library, driven through the built-in socket transport with
 * SMTPC_FLAG_CHUNKING and 256-octet chunks, meets a server that refuses a
 * chunk (552, 451; later chunks "551 Discarded"), says 421 between chunks,
 * drops or resets the connection halfway through a chunk, never answers a
 * chunk (Exchange's hang) or the LAST one, refuses recipients, refuses the
 * LAST chunk, or holds its chunk replies back.  Each case asserts
 *   - what the library reports: status, step, final reply (code and
 *     enhanced code), every recipient's reply, the queue id;
 *   - what faultd saw on the wire: the exact command lines in order (the
 *     BDAT counts, no chunk after a refused one without PIPELINING, at most
 *     three behind it with, RSET before the next MAIL; with PIPELINING a
 *     message that fits in one chunk goes ahead as MAIL, RCPT and "BDAT n
 *     LAST" in one flight, behind an RSET when a message is still in
 *     flight), the exact bytes of each message it took, no protocol
 *     violation (faultd allows a chunk before the envelope's replies only
 *     so);
 *   - that each call returns within its timeout, and that a hang is ended
 *     by the timeout of the wait it hangs in (a chunk's reply: DATA_BLOCK;
 *     the LAST chunk's: DATA_END);
 *   - no leak (counting allocator).
 * A raw-socket case checks faultd itself: BDAT octets are read by count
 * (CRLF "." CRLF, NUL and "BDAT" inside them are data), DATA after BDAT is
 * 503, "BDAT 0" without LAST is 551.
 *
 * Environment: top_srcdir, PYTHON, FAULTS_KEEP_LOG (see check_faults.c).
 * Exit status 77 (skipped) when faultd.py cannot be started. */
#include "testutil.h"
#include "faultd_run.h"

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

/* Per-command timeout, and the slack on top of it when bounding a call. */
#define TMO 1000
#define SLACK 1500
/* The two waits a BDAT hang can sit in, set apart to tell them. */
#define TMO_BLOCK 400
#define TMO_END 1200
#define LOG_WAIT_MS 8000
#define CHUNK 256

#define TIMED(rv, ms, call)                                                    \
  do {                                                                         \
    long t0_ = tf_now_ms();                                                    \
    (rv) = (call);                                                             \
    (ms) = tf_now_ms() - t0_;                                                  \
  } while (0)

static const char *const all_specs[] = {
    "ok+chunking",
    "ok+chunking+nopipe",
    "ok+binarymime",
    "bdat-552-chunk2",
    "bdat-552-chunk2+nopipe",
    "bdat-451-chunk2+nopipe",
    "bdat-421-chunk2",
    "bdat-close-mid-chunk2",
    "bdat-reset-mid-chunk2",
    "bdat-stall-chunk2",
    "bdat-stall-chunk2+nopipe",
    "stall-mid-body+chunking",
    "stall-after-eod+chunking",
    "552-eod+chunking",
    "partial-rcpt+chunking",
    "reject-rcpt+chunking",
    "bdat-lazy",
    "bdat-lazy+nopipe",
    "ok+chunking+nb",
    "bdat-552-chunk2+nb",
    "bdat-421-chunk2+nb",
    "bdat-stall-chunk2+nb",
    "ok+chunking+raw",
    "ok+chunking+bnda",
    "ok+chunking+bndb",
    "552-eod+chunking+nopipe",
    "reject-mail+chunking",
};
#define NSPECS (sizeof(all_specs) / sizeof(all_specs[0]))

/* ---- messages ------------------------------------------------------------- */

/* m1: 1250 octets, CRLF line ends, lines that start with "." (never
 * stuffed under BDAT): chunks of 256, 256, 256, 256 and "226 LAST". */
#define M1_LEN 1250
static char m1_body[M1_LEN + 1];
/* m2: bare LF line ends and a leading dot: CRLF on the wire, no stuffing. */
static const char m2_body[] = "Subject: m2\n\n.dot line\nbye\n";
static const char m2_wire[] = "Subject: m2\r\n\r\n.dot line\r\nbye\r\n";
/* 2600 octets: ten full chunks and "40 LAST": more than the window of 4,
 * so that a fault at chunk 2 leaves chunks unsent. */
#define M3_LEN 2600
static char m3_body[M3_LEN + 1];

static void fill_body(char *b, size_t len, const char *subject) {
  size_t n = (size_t)snprintf(b, len + 1, "Subject: %s\r\n\r\n", subject);
  unsigned line = 0;
  while (n < len) {
    char l[64];
    size_t k = (size_t)snprintf(l, sizeof(l), "%s%05u the quick brown fox\r\n",
                                line % 3 == 0 ? "." : "", line);
    if (n + k > len) { /* the last line: shortened, still CRLF */
      memset(b + n, 'z', len - n - 2);
      memcpy(b + len - 2, "\r\n", 2);
      n = len;
      break;
    }
    memcpy(b + n, l, k);
    n += k;
    line++;
  }
  b[len] = '\0';
}

static const char *const rcpts3[] = {"ok1@rcpt.test", "bad2@rcpt.test",
                                     "tmp3@rcpt.test"};
static const char *const rcpt1[] = {"again@rcpt.test"};

/* ---- a connection --------------------------------------------------------- */

static struct {
  tu_alloc a;
  smtpc_socket *sock;
  smtpc_session *s;
  smtpc_txn *t[2];
  char *log;
  char *tmp[16];
  char tag[96];
} G;

static void teardown(void) {
  int i;
  for (i = 0; i < 2; i++)
    smtpc_txn_free(G.t[i]);
  smtpc_session_free(G.s);
  smtpc_socket_free(G.sock);
  free(G.log);
  for (i = 0; i < 16; i++)
    free(G.tmp[i]);
  memset(&G, 0, sizeof(G));
}

/* A spec with the label "+nb" runs over a non-blocking socket: each call
 * is driven the way an event loop would (poll for at most the session's
 * current timeout, call again; bounded). */
static int nonblocking;

static int call(int (*fn)(smtpc_session *)) {
  long spins = 0;
  for (;;) {
    struct pollfd p;
    int rv = fn(G.s);
    if (!nonblocking ||
        (rv != SMTPC_ERR_WANT_READ && rv != SMTPC_ERR_WANT_WRITE))
      return rv;
    TU_CHECK(++spins < TS_MAX_SPINS, "%s: still blocking after %ld calls",
             G.tag, spins);
    p.fd = smtpc_socket_fd(G.sock);
    p.events = rv == SMTPC_ERR_WANT_READ ? POLLIN : POLLOUT;
    p.revents = 0;
    TU_CHECK(p.fd >= 0, "%s: no descriptor while waiting", G.tag);
    (void)poll(&p, 1, (int)smtpc_session_current_timeout(G.s));
  }
}

/* Connects to spec's port with CHUNKING on, chunks of CHUNK octets and
 * every timeout TMO; then opens the session. */
static void conn_open(const char *spec) {
  smtpc_io io;
  int rv;
  memset(&G, 0, sizeof(G));
  tu_alloc_init(&G.a, 0);
  snprintf(G.tag, sizeof(G.tag), "%s#1", spec);
  ck_assert_int_eq(smtpc_socket_new(&G.sock, &G.a.mem), SMTPC_OK);
  rv = smtpc_socket_connect(G.sock, "127.0.0.1", tf_port_of(spec), 5000);
  ck_assert_msg(rv == SMTPC_OK, "%s: connect: %s", G.tag, smtpc_strerror(rv));
  nonblocking = strstr(spec, "+nb") != NULL;
  if (nonblocking)
    smtpc_socket_set_blocking(G.sock, 0);
  smtpc_socket_io(G.sock, &io);
  ck_assert_int_eq(smtpc_session_new(&G.s, &G.a.mem), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_io(G.s, &io), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_ehlo_name(G.s, "client.test"), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_timeout_all(G.s, TMO), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_flag(G.s, SMTPC_FLAG_CHUNKING, 1),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_limit(G.s, SMTPC_LIMIT_BDAT_CHUNK, CHUNK),
                   SMTPC_OK);
  rv = call(smtpc_session_open);
  ck_assert_msg(rv == SMTPC_OK, "%s: open: %s", G.tag, tf_err_name(rv));
}

static smtpc_txn *queue(int i, const char *from, const char *const *to,
                        size_t nto, const char *body) {
  smtpc_body b;
  int rv;
  smtpc_body_init_memory(&b, body, strlen(body));
  rv = smtpc_session_queue(G.s, from, to, nto, &b, &G.t[i]);
  ck_assert_msg(rv == SMTPC_OK, "%s: queue: %s", G.tag, tf_err_name(rv));
  return G.t[i];
}

/* Closes the connection, waits for faultd to log its end, frees the
 * session (no leak) and keeps the log in G.log. */
static const char *conn_finish(void) {
  smtpc_session_close(G.s);
  G.log = tf_log_wait_end(G.tag, LOG_WAIT_MS);
  smtpc_txn_free(G.t[0]);
  smtpc_txn_free(G.t[1]);
  G.t[0] = G.t[1] = NULL;
  smtpc_session_free(G.s);
  G.s = NULL;
  smtpc_socket_free(G.sock);
  G.sock = NULL;
  TU_CHECK(G.a.live == 0, "%s: leak: %ld block(s) still live", G.tag, G.a.live);
  return G.log;
}

/* ---- assertions ----------------------------------------------------------- */

static char *hold(char *p) {
  int i;
  for (i = 0; i < 16; i++)
    if (G.tmp[i] == NULL)
      return G.tmp[i] = p;
  ck_abort_msg("hold: no room");
  return NULL;
}

/* The command lines faultd received, one per line, without "C ". */
static const char *commands(void) {
  char *all = hold(tf_log_lines(G.log, G.tag, "C ", NULL));
  char *r = all, *w = all;
  while (*r != '\0') { /* drop the "C " of every line */
    r += 2;
    while (*r != '\0' && *r != '\n')
      *w++ = *r++;
    if (*r == '\n')
      *w++ = *r++;
  }
  *w = '\0';
  return all;
}

static void expect_commands(const char *want) {
  const char *got = commands();
  ck_assert_msg(strcmp(got, want) == 0,
                "%s: faultd received\n%s\nexpected\n%s(log %s)", G.tag, got,
                want, tf_log_path());
}

static void no_violation(void) {
  int n;
  char *v = hold(tf_log_lines(G.log, G.tag, "VIOLATION", &n));
  ck_assert_msg(n == 0, "%s: faultd: %s", G.tag, v);
}

/* faultd's escaping of logged bytes (tests/faultd.py esc()). */
static void esc(char *out, size_t cap, const char *p, size_t n) {
  size_t i, o = 0;
  for (i = 0; i < n && o + 5 < cap; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == '\\') {
      out[o++] = '\\';
      out[o++] = '\\';
    } else if (c >= 0x20 && c < 0x7f) {
      out[o++] = (char)c;
    } else {
      o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
  }
  ck_assert_msg(i == n, "esc: buffer too small");
  out[o] = '\0';
}

/* CRC-32 as zlib computes it (faultd's MESSAGE lines). */
static unsigned long crc32_of(const char *p, size_t n) {
  unsigned long c = 0xFFFFFFFFul;
  size_t i;
  int k;
  for (i = 0; i < n; i++) {
    c ^= (unsigned char)p[i];
    for (k = 0; k < 8; k++)
      c = (c >> 1) ^ (0xEDB88320ul & (0ul - (c & 1ul)));
  }
  return ~c & 0xFFFFFFFFul;
}

/* faultd took exactly these bytes as the message from `from` (MESSAGE and
 * ACCEPTED lines), once. */
static void expect_message(const char *from, const char *wire, int txn) {
  static char want[16384], e[16000];
  size_t n = strlen(wire);
  int k;
  char *got;
  esc(e, sizeof(e), wire, n);
  snprintf(want, sizeof(want),
           "MESSAGE txn=%d from=<%s> bytes=%zu crc=%08lx data=%s%s\n", txn,
           from, n, crc32_of(wire, n), e, n > 4096 ? "...(overlong)" : "");
  ck_assert_msg(n <= 4096, "expect_message: message too long to compare");
  got = hold(tf_log_lines(G.log, G.tag, "MESSAGE ", &k));
  ck_assert_msg(strstr(got, want) != NULL,
                "%s: faultd's messages:\n%s\nexpected among them:\n%s", G.tag,
                got, want);
  snprintf(want, sizeof(want), "ACCEPTED txn=%d from=<%s> ", txn, from);
  got = hold(tf_log_lines(G.log, G.tag, want, &k));
  ck_assert_msg(k == 1, "%s: faultd accepted %s %d times", G.tag, from, k);
}

static void expect_not_accepted(const char *from) {
  char key[128];
  int k;
  snprintf(key, sizeof(key), "ACCEPTED txn=");
  free(tf_log_lines(G.log, G.tag, key, &k));
  (void)from;
  ck_assert_msg(k == 0, "%s: faultd accepted a message", G.tag);
}

static void expect_txn(smtpc_txn *t, int status, smtpc_step step, int final,
                       const char *enhanced, const int *codes, size_t n) {
  const smtpc_reply *r = smtpc_txn_reply(t);
  size_t i, acc = 0;
  ck_assert_msg(smtpc_txn_status(t) == status, "%s: status %s, expected %s",
                G.tag, tf_err_name(smtpc_txn_status(t)), tf_err_name(status));
  ck_assert_int_eq(smtpc_txn_step(t), step);
  ck_assert_int_eq(r != NULL ? smtpc_reply_code(r) : 0, final);
  if (enhanced != NULL)
    ck_assert_str_eq(smtpc_reply_enhanced(r), enhanced);
  ck_assert_uint_eq(smtpc_txn_rcpt_count(t), n);
  for (i = 0; i < n; i++) {
    const smtpc_reply *rr = smtpc_txn_rcpt_reply(t, i);
    int code = rr != NULL ? smtpc_reply_code(rr) : 0;
    ck_assert_msg(code == codes[i], "%s: rcpt %zu reply %d, expected %d", G.tag,
                  i, code, codes[i]);
    acc += code / 100 == 2;
  }
  ck_assert_uint_eq(smtpc_txn_accepted_count(t), acc);
}

static void expect_bound(const char *what, int rv, long ms, long tmo) {
  ck_assert_msg(ms <= tmo + SLACK,
                "%s: %s returned %s after %ld ms (bound %ld)", G.tag, what,
                tf_err_name(rv), ms, tmo + SLACK);
  if (rv == SMTPC_ERR_TIMEOUT)
    ck_assert_msg(ms >= tmo - 50, "%s: %s timed out after %ld ms, not %ld",
                  G.tag, what, ms, tmo);
}

static const int ok3[] = {250, 250, 250};
static const int ok1[] = {250};

/* The command lines faultd logs: EHLO and m1's envelope (SIZE is its
 * length), m1's chunks, m2's envelope and chunk. */
#define ENV_M1                                                                 \
  "EHLO client.test\n"                                                         \
  "MAIL FROM:<m1@client.test> SIZE=%zu\n"                                      \
  "RCPT TO:<ok1@rcpt.test>\nRCPT TO:<bad2@rcpt.test>\n"                        \
  "RCPT TO:<tmp3@rcpt.test>\n"
#define M1_CHUNKS "BDAT 256\nBDAT 256\nBDAT 256\nBDAT 256\nBDAT 226 LAST\n"
/* m3's chunks: the encoder leaves a chunk when fewer than 3 octets are
 * free, so the fifth ends before the line that does not fit. */
#define M3_CHUNKS                                                              \
  "BDAT 256\nBDAT 256\nBDAT 256\nBDAT 256\nBDAT 254\n"                         \
  "BDAT 256\nBDAT 256\nBDAT 256\nBDAT 256\nBDAT 256\nBDAT 42 LAST\n"
/* what follows chunk 2 when chunks 3 to 5 were already sent */
#define M3_AFTER2 "BDAT 256\nBDAT 256\nBDAT 254\n"
#define ENV_M2 "MAIL FROM:<m2@client.test> SIZE=31\nRCPT TO:<again@rcpt.test>\n"
#define M2_CHUNKS "BDAT 31 LAST\n"
/* With PIPELINING m2 fits in one chunk and goes "ahead": MAIL, RCPT and
 * "BDAT 31 LAST" in one flight, right behind m1's LAST chunk; m1's outcome
 * is not known yet, so an RSET goes first (RFC 3030 2, done before the
 * fact).  Without PIPELINING m2 waits for m1's reply and needs none. */
#define M2_AHEAD "RSET\n" ENV_M2 M2_CHUNKS

/* ENV_M1 for an m1 of `len` octets, then `rest`. */
static const char *env(size_t len, const char *rest) {
  char *b = malloc(1024 + strlen(rest));
  ck_assert_ptr_nonnull(b);
  snprintf(b, 1024, ENV_M1, len);
  strcat(b, rest);
  return hold(b);
}

/* m1 (the given body) then m2 through `spec`; returns run()'s result and
 * its time. */
static int run_two(const char *spec, const char *body, long *ms) {
  int rv;
  conn_open(spec);
  queue(0, "m1@client.test", rcpts3, 3, body);
  queue(1, "m2@client.test", rcpt1, 1, m2_body);
  TIMED(rv, *ms, call(smtpc_session_run));
  return rv;
}

static void quit_ok(void) {
  int rv;
  long ms;
  TIMED(rv, ms, call(smtpc_session_quit));
  ck_assert_msg(rv == SMTPC_OK, "%s: quit: %s", G.tag, tf_err_name(rv));
  expect_bound("quit", rv, ms, TMO);
}

/* ---- the cases ------------------------------------------------------------ */

/* A well-behaved server: both messages in chunks, byte-identical. */
static const char *const ok_specs[] = {"ok+chunking", "ok+chunking+nopipe",
                                       "ok+binarymime", "ok+chunking+nb"};

START_TEST(test_ok) {
  long ms;
  int rv = run_two(ok_specs[_i], m1_body, &ms);
  ck_assert_msg(rv == SMTPC_OK, "%s: run: %s", G.tag, tf_err_name(rv));
  expect_bound("run", rv, ms, TMO);
  expect_txn(G.t[0], SMTPC_OK, SMTPC_STEP_DATA_END, 250, "2.0.0", ok3, 3);
  ck_assert_str_eq(smtpc_txn_queue_id(G.t[0]), "FD1");
  expect_txn(G.t[1], SMTPC_OK, SMTPC_STEP_DATA_END, 250, "2.0.0", ok1, 1);
  ck_assert_str_eq(smtpc_txn_queue_id(G.t[1]), "FD2");
  quit_ok();
  conn_finish();
  no_violation();
  /* BINARYMIME offered is not BINARYMIME used: no BODY= parameter */
  if (strstr(ok_specs[_i], "nopipe") != NULL)
    expect_commands(env(M1_LEN, M1_CHUNKS ENV_M2 M2_CHUNKS "QUIT\n"));
  else
    expect_commands(env(M1_LEN, M1_CHUNKS M2_AHEAD "QUIT\n"));
  expect_message("m1@client.test", m1_body, 1);
  expect_message("m2@client.test", m2_wire, 2);
}
END_TEST

/* 552 to chunk 2.  Without PIPELINING nothing follows it but RSET; with
 * it, the chunks already sent (at most 3) get "551 Discarded" and are only
 * counted.  m2 then goes through, byte-identical. */
static const struct {
  const char *spec;
  int final;
  int status;
  const char *enh;
} refuse_rows[] = {
    {"bdat-552-chunk2+nopipe", 552, SMTPC_ERR_REPLY_PERMANENT, "5.3.4"},
    {"bdat-451-chunk2+nopipe", 451, SMTPC_ERR_REPLY_TEMPORARY, "4.3.0"},
    {"bdat-552-chunk2", 552, SMTPC_ERR_REPLY_PERMANENT, "5.3.4"},
    {"bdat-552-chunk2+nb", 552, SMTPC_ERR_REPLY_PERMANENT, "5.3.4"},
};

START_TEST(test_chunk_refused) {
  long ms;
  int rv = run_two(refuse_rows[_i].spec, m3_body, &ms), nd;
  const char *cmds, *head = env(M3_LEN, "BDAT 256\nBDAT 256\n"), *p;
  char want[1024];
  size_t after = 0;
  ck_assert_msg(rv == SMTPC_OK, "%s: run: %s", G.tag, tf_err_name(rv));
  expect_bound("run", rv, ms, TMO);
  expect_txn(G.t[0], refuse_rows[_i].status, SMTPC_STEP_BODY,
             refuse_rows[_i].final, refuse_rows[_i].enh, ok3, 3);
  ck_assert_ptr_null(smtpc_txn_queue_id(G.t[0]));
  expect_txn(G.t[1], SMTPC_OK, SMTPC_STEP_DATA_END, 250, "2.0.0", ok1, 1);
  quit_ok();
  conn_finish();
  no_violation();
  cmds = commands();
  ck_assert_msg(strncmp(cmds, head, strlen(head)) == 0, "%s: commands\n%s",
                G.tag, cmds);
  /* chunks already sent when the refusal came: none without PIPELINING,
   * at most 3 (the window of 4) with it */
  p = cmds + strlen(head);
  while (after < 3 && strncmp(p, M3_AFTER2 + 9 * after, 9) == 0) {
    p += 9;
    after++;
  }
  ck_assert_msg(strcmp(p, "RSET\n" ENV_M2 M2_CHUNKS "QUIT\n") == 0,
                "%s: after %zu chunk(s) in flight:\n%s", G.tag, after, p);
  if (strstr(refuse_rows[_i].spec, "nopipe") != NULL)
    ck_assert_uint_eq(after, 0);
  else
    ck_assert_uint_le(after, 3);
  free(tf_log_lines(G.log, G.tag, "DISCARDED txn=1 ", &nd));
  ck_assert_msg((size_t)nd == after, "%s: %d discarded, %zu chunks after",
                G.tag, nd, after);
  snprintf(want, sizeof(want), "REJECTED txn=1 code=%d", refuse_rows[_i].final);
  free(tf_log_lines(G.log, G.tag, want, &nd));
  ck_assert_int_eq(nd, 1);
  expect_message("m2@client.test", m2_wire, 2);
}
END_TEST

/* The connection ends in the middle of the body: 421 after chunk 2, a
 * close (FIN) or a reset halfway through chunk 2's octets.  The session is
 * over, m1 is not delivered, m2 never starts. */
static const struct {
  const char *spec;
  int err[2];
  int final;
} break_rows[] = {
    {"bdat-421-chunk2",
     {SMTPC_ERR_SERVICE_CLOSING, SMTPC_ERR_SERVICE_CLOSING},
     421},
    {"bdat-close-mid-chunk2", {SMTPC_ERR_EOF, SMTPC_ERR_IO}, 0},
    {"bdat-reset-mid-chunk2", {SMTPC_ERR_IO, SMTPC_ERR_EOF}, 0},
    {"bdat-421-chunk2+nb",
     {SMTPC_ERR_SERVICE_CLOSING, SMTPC_ERR_SERVICE_CLOSING},
     421},
};

START_TEST(test_chunk_break) {
  long ms;
  int rv = run_two(break_rows[_i].spec, m3_body, &ms), n;
  const char *cmds, *head = env(M3_LEN, "BDAT 256\nBDAT 256\n"), *p;
  ck_assert_msg(rv == break_rows[_i].err[0] || rv == break_rows[_i].err[1],
                "%s: run: %s", G.tag, tf_err_name(rv));
  expect_bound("run", rv, ms, TMO);
  expect_txn(G.t[0], rv, SMTPC_STEP_BODY, break_rows[_i].final,
             break_rows[_i].final ? "4.3.2" : NULL, ok3, 3);
  ck_assert_int_eq(smtpc_txn_status(G.t[1]), rv);
  ck_assert_int_eq(smtpc_txn_step(G.t[1]), SMTPC_STEP_NONE);
  conn_finish();
  no_violation();
  expect_not_accepted("m1@client.test");
  cmds = commands();
  ck_assert_msg(strncmp(cmds, head, strlen(head)) == 0, "%s: commands\n%s",
                G.tag, cmds);
  /* then at most the rest of the window (chunks 3 to 5), nothing else */
  for (p = cmds + strlen(head), n = 0;
       n < 3 && strncmp(p, M3_AFTER2 + 9 * n, 9) == 0; n++)
    p += 9;
  ck_assert_msg(*p == '\0', "%s: after chunk 2 and %d more:\n%s", G.tag, n, p);
  free(tf_log_lines(G.log, G.tag, "CHUNK txn=1 n=1 size=256 last=0", &n));
  ck_assert_int_eq(n, 1);
  free(tf_log_lines(G.log, G.tag, "CHUNK txn=1 n=2 ", &n));
  ck_assert_int_eq(n, break_rows[_i].final == 421 ? 1 : 0);
}
END_TEST

/* Exchange's hang: no reply to chunk 2, or none to the LAST chunk.  The
 * wait for a chunk's reply is bounded by SMTPC_TIMEOUT_DATA_BLOCK, the wait
 * for the LAST one by SMTPC_TIMEOUT_DATA_END (set apart here).  m3 has more
 * chunks than the window: with PIPELINING chunks 3 to 5 follow chunk 2
 * (the reply to chunk 1 let the fifth go), without it none. */
static const struct {
  const char *spec;
  long tmo;
  smtpc_step step;
  const char *body;
  size_t len;
  const char *chunks;   /* the commands faultd read before it stalled */
  size_t stalled;       /* octets it read (and dropped) while stalled */
  const char *stall_rx; /* those octets, when they are commands */
  smtpc_step m2_step;
} hang_rows[] = {
    /* chunks 3 to 5 follow chunk 2: 3 x "BDAT n" CRLF, 256 + 256 + 254 */
    {"bdat-stall-chunk2", TMO_BLOCK, SMTPC_STEP_BODY, m3_body, M3_LEN,
     "BDAT 256\nBDAT 256\n", 3 * 10 + 766, NULL, SMTPC_STEP_NONE},
    {"bdat-stall-chunk2+nopipe", TMO_BLOCK, SMTPC_STEP_BODY, m3_body, M3_LEN,
     "BDAT 256\nBDAT 256\n", 0, NULL, SMTPC_STEP_NONE},
    {"bdat-stall-chunk2+nb", TMO_BLOCK, SMTPC_STEP_BODY, m3_body, M3_LEN,
     "BDAT 256\nBDAT 256\n", 3 * 10 + 766, NULL, SMTPC_STEP_NONE},
    /* m2 (one chunk) goes ahead behind the LAST chunk and an RSET */
    {"stall-after-eod+chunking", TMO_END, SMTPC_STEP_DATA_END, m1_body, M1_LEN,
     M1_CHUNKS, 0,
     "RSET\r\nMAIL FROM:<m2@client.test> SIZE=31\r\n"
     "RCPT TO:<again@rcpt.test>\r\nBDAT 31 LAST\r\n"
     "Subject: m2\r\n\r\n.dot line\r\nbye\r\n",
     SMTPC_STEP_MAIL},
};

START_TEST(test_hang) {
  long ms;
  int rv;
  conn_open(hang_rows[_i].spec);
  ck_assert_int_eq(
      smtpc_session_set_timeout(G.s, SMTPC_TIMEOUT_DATA_BLOCK, TMO_BLOCK),
      SMTPC_OK);
  ck_assert_int_eq(
      smtpc_session_set_timeout(G.s, SMTPC_TIMEOUT_DATA_END, TMO_END),
      SMTPC_OK);
  queue(0, "m1@client.test", rcpts3, 3, hang_rows[_i].body);
  queue(1, "m2@client.test", rcpt1, 1, m2_body);
  TIMED(rv, ms, call(smtpc_session_run));
  ck_assert_msg(rv == SMTPC_ERR_TIMEOUT, "%s: run: %s", G.tag, tf_err_name(rv));
  ck_assert_msg(ms >= hang_rows[_i].tmo - 50 && ms <= hang_rows[_i].tmo + SLACK,
                "%s: timed out after %ld ms, the timeout is %ld ms", G.tag, ms,
                hang_rows[_i].tmo);
  /* chunk 2 hangs: not the LAST chunk's (longer) timeout */
  if (hang_rows[_i].tmo == TMO_BLOCK)
    ck_assert_msg(ms < TMO_END, "%s: a chunk's reply waited %ld ms", G.tag, ms);
  expect_txn(G.t[0], SMTPC_ERR_TIMEOUT, hang_rows[_i].step, 0, NULL, ok3, 3);
  ck_assert_int_eq(smtpc_txn_status(G.t[1]), SMTPC_ERR_TIMEOUT);
  ck_assert_int_eq(smtpc_txn_step(G.t[1]), hang_rows[_i].m2_step);
  TIMED(rv, ms, call(smtpc_session_quit));
  expect_bound("quit", rv, ms, 0);
  conn_finish();
  no_violation();
  expect_not_accepted("m1@client.test");
  expect_commands(env(hang_rows[_i].len, hang_rows[_i].chunks));
  {
    char want[512], e[400];
    size_t n = hang_rows[_i].stalled;
    int k;
    const char *got;
    e[0] = '\0';
    if (hang_rows[_i].stall_rx != NULL) {
      n = strlen(hang_rows[_i].stall_rx);
      esc(e, sizeof(e), hang_rows[_i].stall_rx, n);
    }
    snprintf(want, sizeof(want), "STALL-READ bytes=%zu data=%s\n", n, e);
    got = hold(tf_log_lines(G.log, G.tag, "STALL-READ ", &k));
    ck_assert_msg(
        k == 1 && (hang_rows[_i].stall_rx == NULL
                       ? strncmp(got, want,
                                 strlen("STALL-READ bytes=") +
                                     (size_t)snprintf(NULL, 0, "%zu ", n)) == 0
                       : strcmp(got, want) == 0),
        "%s: faultd: %s expected %s", G.tag, got, want);
  }
}
END_TEST

/* faultd stops reading 32 KiB into a 64 KiB chunk: the client's writes
 * block, and SMTPC_TIMEOUT_DATA_BLOCK (per block written) ends the wait.
 * (The chunk is 65534 octets: the encoder leaves a chunk with fewer than 3
 * octets free.) */
#define BIG_LEN (512u * 1024u)

START_TEST(test_write_blocked) {
  static char big[BIG_LEN + 1];
  struct linger lg;
  long ms;
  int rv, sz = 32768, n;
  fill_body(big, BIG_LEN, "big");
  conn_open("stall-mid-body+chunking");
  ck_assert_int_eq(setsockopt(smtpc_socket_fd(G.sock), SOL_SOCKET, SO_SNDBUF,
                              &sz, sizeof(sz)),
                   0);
  ck_assert_int_eq(smtpc_session_set_limit(G.s, SMTPC_LIMIT_BDAT_CHUNK, 65536),
                   SMTPC_OK);
  ck_assert_int_eq(
      smtpc_session_set_timeout(G.s, SMTPC_TIMEOUT_DATA_BLOCK, TMO_BLOCK),
      SMTPC_OK);
  queue(0, "m1@client.test", rcpt1, 1, big);
  TIMED(rv, ms, call(smtpc_session_run));
  ck_assert_msg(rv == SMTPC_ERR_TIMEOUT, "%s: run: %s", G.tag, tf_err_name(rv));
  expect_bound("run", rv, ms, TMO_BLOCK);
  expect_txn(G.t[0], SMTPC_ERR_TIMEOUT, SMTPC_STEP_BODY, 0, NULL, ok1, 1);
  /* RST: faultd, not reading, sees the end at once */
  lg.l_onoff = 1;
  lg.l_linger = 0;
  (void)setsockopt(smtpc_socket_fd(G.sock), SOL_SOCKET, SO_LINGER, &lg,
                   sizeof(lg));
  conn_finish();
  no_violation();
  expect_not_accepted("m1@client.test");
  expect_commands("EHLO client.test\nMAIL FROM:<m1@client.test> SIZE=524288\n"
                  "RCPT TO:<again@rcpt.test>\nBDAT 65534\n");
  free(tf_log_lines(G.log, G.tag, "FAULT after 32768 body bytes", &n));
  ck_assert_int_eq(n, 1);
  free(tf_log_lines(G.log, G.tag, "CHUNK ", &n));
  ck_assert_int_eq(n, 0);
}
END_TEST

/* The LAST chunk refused (552 to the end of data).  RFC 3030 2: after a
 * 4xx or 5xx to any BDAT "the state ... is indeterminate.  A RSET command
 * MUST be sent".  Without PIPELINING it follows the refusal (F5, fixed);
 * with it m2 went ahead behind an RSET already, and none is owed after. */
START_TEST(test_last_refused) {
  static const char *const specs[] = {"552-eod+chunking",
                                      "552-eod+chunking+nopipe"};
  long ms;
  int rv = run_two(specs[_i], m1_body, &ms);
  ck_assert_msg(rv == SMTPC_OK, "%s: run: %s", G.tag, tf_err_name(rv));
  expect_bound("run", rv, ms, TMO);
  expect_txn(G.t[0], SMTPC_ERR_REPLY_PERMANENT, SMTPC_STEP_DATA_END, 552,
             "5.3.4", ok3, 3);
  expect_txn(G.t[1], SMTPC_OK, SMTPC_STEP_DATA_END, 250, "2.0.0", ok1, 1);
  quit_ok();
  conn_finish();
  no_violation();
  expect_message("m2@client.test", m2_wire, 2);
  expect_commands(env(M1_LEN, M1_CHUNKS "RSET\n" ENV_M2 M2_CHUNKS "QUIT\n"));
}
END_TEST

/* A body in memory whose encoding ends with CRLF one or zero octets before
 * the end of a chunk goes as one "BDAT 255 LAST" (or 256): its end is
 * known, no "BDAT 0 LAST" follows (F6, fixed).  It fits in one chunk, so
 * it goes ahead of the envelope's replies. */
START_TEST(test_boundary) {
  static char body[257];
  const size_t len = 255 + (size_t)_i;
  char want[256];
  long ms;
  int rv;
  memset(body, 'b', len - 2);
  memcpy(body + len - 2, "\r\n", 3);
  conn_open(_i == 0 ? "ok+chunking+bnda" : "ok+chunking+bndb");
  queue(0, "m1@client.test", rcpt1, 1, body);
  TIMED(rv, ms, call(smtpc_session_run));
  ck_assert_msg(rv == SMTPC_OK, "%s: run: %s", G.tag, tf_err_name(rv));
  expect_bound("run", rv, ms, TMO);
  expect_txn(G.t[0], SMTPC_OK, SMTPC_STEP_DATA_END, 250, "2.0.0", ok1, 1);
  quit_ok();
  conn_finish();
  no_violation();
  snprintf(want, sizeof(want),
           "EHLO client.test\nMAIL FROM:<m1@client.test> SIZE=%zu\n"
           "RCPT TO:<again@rcpt.test>\nBDAT %zu LAST\nQUIT\n",
           len, len);
  expect_commands(want);
  expect_message("m1@client.test", body, 1);
}
END_TEST

/* MAIL refused while m1 (one chunk) went ahead: its RCPT and its LAST
 * chunk get 503 ("need MAIL"), only counted (m1 ended with the 550, no
 * recipient reply is kept); a refused BDAT wants RSET before m2 (RFC 3030
 * 2); m2 goes through. */
START_TEST(test_mail_refused_ahead) {
  static const int none[] = {0};
  long ms;
  int rv;
  conn_open("reject-mail+chunking");
  queue(0, "m1@client.test", rcpt1, 1, m2_body);
  queue(1, "m2@client.test", rcpt1, 1, m2_body);
  TIMED(rv, ms, call(smtpc_session_run));
  ck_assert_msg(rv == SMTPC_OK, "%s: run: %s", G.tag, tf_err_name(rv));
  expect_bound("run", rv, ms, TMO);
  expect_txn(G.t[0], SMTPC_ERR_REPLY_PERMANENT, SMTPC_STEP_MAIL, 550, "5.7.1",
             none, 1);
  expect_txn(G.t[1], SMTPC_OK, SMTPC_STEP_DATA_END, 250, "2.0.0", ok1, 1);
  quit_ok();
  conn_finish();
  no_violation();
  expect_commands("EHLO client.test\nMAIL FROM:<m1@client.test> SIZE=31\n"
                  "RCPT TO:<again@rcpt.test>\nBDAT 31 LAST\n" M2_AHEAD
                  "QUIT\n");
  expect_message("m2@client.test", m2_wire, 2);
  {
    int n;
    free(tf_log_lines(G.log, G.tag, "ACCEPTED txn=", &n));
    ck_assert_msg(n == 1, "%s: faultd accepted %d messages", G.tag, n);
  }
}
END_TEST

/* Refused recipients.  Some: the chunks go for the others (PARTIAL).  All:
 * no BDAT at all, RSET before m2. */
START_TEST(test_rcpt_partial) {
  static const int codes[] = {250, 550, 451};
  long ms;
  int rv = run_two("partial-rcpt+chunking", m1_body, &ms);
  ck_assert_msg(rv == SMTPC_OK, "%s: run: %s", G.tag, tf_err_name(rv));
  expect_txn(G.t[0], SMTPC_ERR_PARTIAL, SMTPC_STEP_DATA_END, 250, "2.0.0",
             codes, 3);
  expect_txn(G.t[1], SMTPC_OK, SMTPC_STEP_DATA_END, 250, "2.0.0", ok1, 1);
  quit_ok();
  conn_finish();
  no_violation();
  expect_commands(env(M1_LEN, M1_CHUNKS M2_AHEAD "QUIT\n"));
  expect_message("m1@client.test", m1_body, 1);
  expect_message("m2@client.test", m2_wire, 2);
}
END_TEST

START_TEST(test_rcpt_all_refused) {
  static const int codes[] = {550, 550, 550};
  long ms;
  int rv = run_two("reject-rcpt+chunking", m1_body, &ms);
  ck_assert_msg(rv == SMTPC_OK, "%s: run: %s", G.tag, tf_err_name(rv));
  expect_txn(G.t[0], SMTPC_ERR_NO_RECIPIENTS, SMTPC_STEP_RCPT, 0, NULL, codes,
             3);
  expect_txn(G.t[1], SMTPC_OK, SMTPC_STEP_DATA_END, 250, "2.0.0", ok1, 1);
  quit_ok();
  conn_finish();
  no_violation();
  expect_commands(env(M1_LEN, "RSET\n" ENV_M2 M2_CHUNKS "QUIT\n"));
  expect_message("m2@client.test", m2_wire, 2);
}
END_TEST

/* A server that answers chunks only when the client goes quiet: the client
 * has at most 4 chunks unanswered with PIPELINING (and fills that window),
 * 1 without. */
START_TEST(test_window) {
  static const char *const specs[] = {"bdat-lazy", "bdat-lazy+nopipe"};
  const char *spec = specs[_i];
  long ms;
  int rv, n, max = 0;
  const char *p;
  conn_open(spec);
  queue(0, "m1@client.test", rcpt1, 1, m3_body);
  TIMED(rv, ms, call(smtpc_session_run));
  ck_assert_msg(rv == SMTPC_OK, "%s: run: %s", G.tag, tf_err_name(rv));
  expect_bound("run", rv, ms, 11 * 200); /* faultd waits 0.15 s per pause */
  expect_txn(G.t[0], SMTPC_OK, SMTPC_STEP_DATA_END, 250, "2.0.0", ok1, 1);
  quit_ok();
  conn_finish();
  no_violation();
  expect_commands("EHLO client.test\nMAIL FROM:<m1@client.test> SIZE=2600\n"
                  "RCPT TO:<again@rcpt.test>\n" M3_CHUNKS "QUIT\n");
  expect_message("m1@client.test", m3_body, 1);
  p = hold(tf_log_lines(G.log, G.tag, "UNANSWERED n=", &n));
  ck_assert_int_eq(n, 11);
  while ((p = strstr(p, "n=")) != NULL) {
    int k = atoi(p + 2);
    max = k > max ? k : max;
    p += 2;
  }
  ck_assert_msg(max == (_i == 0 ? 4 : 1), "%s: %d chunks unanswered at once",
                G.tag, max);
}
END_TEST

/* ---- faultd itself, through a raw socket ---------------------------------- */

static int raw_fd = -1;

static void raw_teardown(void) {
  if (raw_fd >= 0)
    close(raw_fd);
  raw_fd = -1;
  teardown();
}

static void raw_send(const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(raw_fd, p, n, MSG_NOSIGNAL);
    ck_assert_msg(w > 0, "raw send: %s", strerror(errno));
    p += w;
    n -= (size_t)w;
  }
}

/* Reads until `want` has arrived whole (3 s at most) and compares. */
static void raw_expect(const char *want) {
  char got[2048];
  size_t n = 0, wn = strlen(want);
  long end = tf_now_ms() + 3000;
  while (n < wn) {
    struct pollfd p;
    ssize_t r;
    long left = end - tf_now_ms();
    ck_assert_msg(left > 0, "raw: timed out after %zu bytes: %.*s", n, (int)n,
                  got);
    p.fd = raw_fd;
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, (int)left) <= 0)
      continue;
    r = recv(raw_fd, got + n, wn - n, 0);
    ck_assert_msg(r > 0, "raw: connection ended after %zu bytes", n);
    n += (size_t)r;
  }
  TU_ASSERT_BYTES(got, n, want, wn);
}

START_TEST(test_faultd_bdat_framing) {
  /* octets that look like commands, an end of data, a NUL */
  static const char data1[] = "x\r\n.\r\nBDAT 5\r\nQUIT\r\n\0\xff";
  struct sockaddr_in sa;
  char want[256];
  const char *v;
  int n;
  snprintf(G.tag, sizeof(G.tag), "ok+chunking+raw#1");
  raw_fd = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(raw_fd, 0);
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)atoi(tf_port_of("ok+chunking+raw")));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(connect(raw_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  raw_expect("220 faultd.test ESMTP faultd (ok+chunking+raw)\r\n");
  raw_send("EHLO raw.test\r\n", 15);
  raw_expect(
      "250-faultd.test greets you\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
      "250-SIZE 52428800\r\n250-ENHANCEDSTATUSCODES\r\n250 CHUNKING\r\n");
  raw_send("MAIL FROM:<r@raw.test>\r\nRCPT TO:<a@rcpt.test>\r\n", 47);
  raw_expect("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n");
  ck_assert_uint_eq(sizeof(data1) - 1, 22);
  raw_send("BDAT 22\r\n", 9);
  raw_send(data1, sizeof(data1) - 1);
  raw_expect("250 2.0.0 Ok: 22 octets\r\n");
  raw_send("DATA\r\n", 6);
  raw_expect("503 5.5.1 Error: DATA after BDAT\r\n");
  raw_send("BDAT 0\r\n", 8);
  raw_expect("551 5.7.1 Null BDAT request\r\n");
  raw_send("BDAT 4 LAST\r\nabcd", 17);
  raw_expect("551 5.0.0 Discarded 4 bytes after earlier error\r\n");
  /* the transaction is over; a new one, in one chunk */
  raw_send("MAIL FROM:<r2@raw.test>\r\nRCPT TO:<a@rcpt.test>\r\n", 48);
  raw_expect("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n");
  raw_send("BDAT 3 LAST\r\n\r\n.", 16);
  raw_expect("250 2.0.0 Ok: queued as FD2\r\n");
  raw_send("BDAT 2\r\nxyQUIT\r\n", 16);
  raw_expect("503 5.5.1 Error: need MAIL command\r\n221 2.0.0 Bye\r\n");
  close(raw_fd);
  raw_fd = -1;
  G.log = tf_log_wait_end(G.tag, LOG_WAIT_MS);
  expect_commands("EHLO raw.test\nMAIL FROM:<r@raw.test>\nRCPT "
                  "TO:<a@rcpt.test>\nBDAT 22\nDATA\nBDAT 0\nBDAT 4 LAST\n"
                  "MAIL FROM:<r2@raw.test>\nRCPT TO:<a@rcpt.test>\n"
                  "BDAT 3 LAST\nBDAT 2\nQUIT\n");
  hold(tf_log_lines(G.log, G.tag, "CHUNK txn=1 n=1 size=22 last=0", &n));
  ck_assert_int_eq(n, 1);
  v = hold(tf_log_lines(G.log, G.tag, "VIOLATION", &n));
  ck_assert_msg(n == 3, "%s: %d violations: %s", G.tag, n, v);
  ck_assert_ptr_nonnull(strstr(v, "DATA after BDAT in one transaction"));
  ck_assert_ptr_nonnull(strstr(v, "BDAT 0 without LAST"));
  /* "BDAT 4 LAST" was refused (551), and r2's MAIL came without RSET */
  ck_assert_ptr_nonnull(strstr(v, "MAIL after a refused BDAT without RSET"));
  snprintf(want, sizeof(want), "\r\n.");
  expect_message("r2@raw.test", want, 2);
}
END_TEST

/* ---- suite ------------------------------------------------------------------ */

static Suite *bdat_faults_suite(void) {
  Suite *s = suite_create("faults_bdat");
  TCase *tc = tcase_create("faultd_bdat");
  TCase *raw = tcase_create("faultd_raw");
  tcase_set_timeout(tc, 30);
  tcase_add_checked_fixture(tc, NULL, teardown);
  tcase_add_loop_test(tc, test_ok, 0,
                      (int)(sizeof(ok_specs) / sizeof(ok_specs[0])));
  tcase_add_loop_test(tc, test_chunk_refused, 0,
                      (int)(sizeof(refuse_rows) / sizeof(refuse_rows[0])));
  tcase_add_loop_test(tc, test_chunk_break, 0,
                      (int)(sizeof(break_rows) / sizeof(break_rows[0])));
  tcase_add_loop_test(tc, test_hang, 0,
                      (int)(sizeof(hang_rows) / sizeof(hang_rows[0])));
  tcase_add_test(tc, test_write_blocked);
  tcase_add_loop_test(tc, test_last_refused, 0, 2);
  tcase_add_loop_test(tc, test_boundary, 0, 2);
  tcase_add_test(tc, test_mail_refused_ahead);
  tcase_add_test(tc, test_rcpt_partial);
  tcase_add_test(tc, test_rcpt_all_refused);
  tcase_add_loop_test(tc, test_window, 0, 2);
  suite_add_tcase(s, tc);
  tcase_set_timeout(raw, 30);
  tcase_add_checked_fixture(raw, NULL, raw_teardown);
  tcase_add_test(raw, test_faultd_bdat_framing);
  suite_add_tcase(s, raw);
  return s;
}

int main(void) {
  fill_body(m1_body, M1_LEN, "bdat m1");
  fill_body(m3_body, M3_LEN, "bdat m3");
  return tf_run_suite("check_faults_bdat", all_specs, NSPECS,
                      bdat_faults_suite(), "FAULTS_KEEP_LOG");
}
