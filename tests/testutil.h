/* SPDX-License-Identifier: MIT */
/* Helpers shared by the Check suites.
 *
 *   tu_*  byte helpers (escaping, diffs, a growable byte string) and a
 *         counting, failing allocator for leak checks and allocation-failure
 *         sweeps.
 *   ts_*  a scripted transport: an smtpc_io whose peer is a transcript.
 *
 * A session test reads like the dialogue it checks:
 *
 *   ts *t = ts_new();
 *   ts_server(t, "220 mx ready\r\n");
 *   ts_client(t, "EHLO client.test\r\n");
 *   ts_server(t, "250-mx\r\n250 PIPELINING\r\n");
 *   ts_io(t, &io);
 *   ... run the session over io ...
 *   ts_done(t);               // every step happened, nothing else was sent
 *   ts_free(t);
 *
 * The script is a list of steps.  Consecutive server steps form one byte
 * stream (a recv may return the end of one step and the start of the next);
 * consecutive client steps likewise (a send may span several).  Order is
 * strict: the client may only send when the next unconsumed step is a client
 * step, and may only read server bytes once every earlier client step has
 * been received in full.  Anything else is a mismatch, reported with a
 * readable diff of expected and actual client bytes; by default the running
 * test fails at once (ck_abort_msg, full report on stderr).
 *
 * Test-side memory uses the C library, never the allocator under test. */
#ifndef SMTPC_TESTUTIL_H
#define SMTPC_TESTUTIL_H

#include <smtpc/smtpc.h>

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- bytes ----------------------------------------------------------------
 */

/* A growable byte string (test side, libc memory; aborts when out of memory).
 * Always NUL-terminated after the n bytes so it can be printed. */
typedef struct tu_bytes {
  unsigned char *p;
  size_t n;
  size_t cap;
} tu_bytes;

void tu_bytes_append(tu_bytes *b, const void *p, size_t n);
void tu_bytes_append_str(tu_bytes *b, const char *s);
void tu_bytes_free(tu_bytes *b);

/* Writes p[0..n) as a C string literal body ("\r\n" for CR LF, "\x00" ...)
 * into out (always NUL-terminated, truncated with "..." if cap is short).
 * Returns out. */
char *tu_escape_to(char *out, size_t cap, const void *p, size_t n);
/* Same into one of a small ring of static buffers (fine for a few uses in
 * one message; long input is truncated). */
const char *tu_escape(const void *p, size_t n);

/* If the two byte strings differ, writes a report into out and returns 1:
 *   "bytes differ at offset 17 (expected 25 bytes, got 24)"
 *   "  expected: \"...EHLO client.test\r\n\""
 *   "  actual:   \"...EHLO clien.test\r\n\""
 *   "                           ^"
 * Returns 0 (out untouched) when equal. */
int tu_bytes_diff(char *out, size_t cap, const void *exp, size_t elen,
                  const void *act, size_t alen);

/* ck_assert_msg without the cost of a passing check: Check records the
 * location of every passing assertion (a pipe write in fork mode), which
 * dominates tight loops.  Use this one inside loops. */
#define TU_CHECK(cond, ...)                                                    \
  do {                                                                         \
    if (!(cond))                                                               \
      ck_abort_msg(__VA_ARGS__);                                               \
  } while (0)

/* Fails the test unless act[0..alen) equals exp[0..elen), with a diff. */
#define TU_ASSERT_BYTES(act, alen, exp, elen)                                  \
  do {                                                                         \
    char tu_msg_[2048];                                                        \
    if (tu_bytes_diff(tu_msg_, sizeof(tu_msg_), (exp), (elen), (act), (alen))) \
      ck_abort_msg("%s", tu_msg_);                                             \
  } while (0)
/* Same with a NUL-terminated expected string. */
#define TU_ASSERT_BYTES_STR(act, alen, exp)                                    \
  TU_ASSERT_BYTES((act), (alen), (exp), strlen(exp))

/* ---- failing, counting allocator ------------------------------------------
 */

/* Hand &a->mem to the library.  Every malloc and realloc call counts as one
 * allocation; the fail_at-th (1-based) returns NULL, and with fail_after
 * every later one too.  Blocks carry a header so that freeing a pointer the
 * allocator did not hand out, or freeing twice, aborts the test. */
typedef struct tu_alloc {
  smtpc_mem mem;     /* the hooks; user points back at this struct */
  long fail_at;      /* 1-based allocation to refuse; 0 = never */
  int fail_after;    /* also refuse every allocation after fail_at */
  long calls;        /* malloc + realloc calls so far */
  long failures;     /* calls refused */
  long live;         /* blocks handed out and not yet freed */
  size_t live_bytes; /* their total size */
  long peak;         /* most blocks live at once */
} tu_alloc;

void tu_alloc_init(tu_alloc *a, long fail_at);

/* Fails the test if any block is still live. */
#define TU_ASSERT_NO_LEAKS(a)                                                  \
  TU_CHECK((a)->live == 0, "leak: %ld block(s), %zu byte(s) still live",       \
           (a)->live, (a)->live_bytes)

/* An allocation-failure scenario: uses a->mem, frees everything it made, and
 * returns SMTPC_OK on success or SMTPC_ERR_NOMEM when an allocation failure
 * stopped it (anything else is a test failure). */
typedef int (*tu_scenario)(tu_alloc *a, void *arg);

/* Runs fn with fail_at = 1, 2, 3, ... until a run completes without an
 * injected failure.  After each run asserts: no live blocks; the result is
 * SMTPC_ERR_NOMEM or SMTPC_OK when a failure was injected (graceful recovery
 * is allowed), SMTPC_OK when none was.  Fails if more than max_runs runs are
 * needed.  Returns the number of runs in which an allocation was refused. */
long tu_alloc_sweep(tu_scenario fn, void *arg, long max_runs);

/* ---- replies ---------------------------------------------------------------
 */

/* A one-line reply "code text" made by the library's own parser (so shaped
 * exactly like a received one; enhanced codes are not parsed), for tests
 * that need a reply without a dialogue.  NULL when code is not 200..599,
 * text is longer than 504 octets, or memory runs out.  Free it with
 * smtpc__reply_free(). */
smtpc_reply *tu_reply_make(const smtpc_mem *m, int code, const char *text);

/* ---- scripted transport -----------------------------------------------------
 */

typedef struct ts ts;

ts *ts_new(void);
void ts_free(ts *t);

/* Script steps, in dialogue order. */
/* The server sends these bytes (read by the client's recv). */
void ts_server(ts *t, const char *s);
void ts_server_n(ts *t, const void *p, size_t n);
/* The client must send exactly these bytes next. */
void ts_client(ts *t, const char *s);
void ts_client_n(ts *t, const void *p, size_t n);
/* As ts_client, and the bytes must travel in one send() call when the send
 * chunk is unlimited (with a send chunk: with no recv call between the first
 * and the last of them).  Asserts pipelining: "MAIL, RCPT and DATA in one
 * write".  Other bytes may share the write. */
void ts_client_flight(ts *t, const char *s);
/* The server closes: recv returns 0 (and keeps returning 0 at the end of
 * the script); a later send returns SMTPC_ERR_IO. */
void ts_close(ts *t);
/* The next recv or send (whichever comes first) returns SMTPC_ERR_IO. */
void ts_io_error(ts *t);
/* The next recv or send returns SMTPC_ERR_TIMEOUT. */
void ts_timeout(ts *t);
/* The client must call starttls() now (every earlier server byte read);
 * servername is compared unless NULL.  Returns SMTPC_OK. */
void ts_starttls(ts *t, const char *servername);
/* As ts_starttls but starttls() returns err (e.g. SMTPC_ERR_TLS). */
void ts_starttls_fail(ts *t, const char *servername, int err);

/* Options (kept by ts_rewind). */
/* recv returns at most k bytes per call (0 = as many as asked, across
 * consecutive server steps; 1 = one byte at a time). */
void ts_set_recv_chunk(ts *t, size_t k);
/* send accepts at most k bytes per call (0 = all it is given). */
void ts_set_send_chunk(ts *t, size_t k);
/* Non-zero: every other call of recv/send/starttls returns
 * SMTPC_ERR_WANT_READ / SMTPC_ERR_WANT_WRITE / SMTPC_ERR_WANT_READ first and
 * does nothing; the caller must call again.  A recv made while the script
 * waits for the client returns SMTPC_ERR_WANT_READ (like a real socket) up
 * to 64 times in a row, then counts as a mismatch (the client is stuck). */
void ts_set_nonblock(ts *t, int on);
/* Zero: ts_io() leaves io->starttls NULL (a transport without TLS). */
void ts_set_has_starttls(ts *t, int on);
/* Zero: a mismatch does not abort the test and prints nothing; the callback
 * returns SMTPC_ERR_IO (and every later one too) and ts_mismatch() tells
 * why.  For tests of how the client reacts to a broken peer.  Default 1. */
void ts_set_abort(ts *t, int on);

/* One combination of options, for running a scenario in many modes. */
typedef struct ts_mode {
  size_t recv_chunk;
  size_t send_chunk;
  int nonblock;
  int mem; /* memory mode (ts_attach()) */
} ts_mode;
/* The standard list: unlimited, one byte at a time both ways, small odd
 * fragments, each of those non-blocking, and some of them in memory
 * mode. */
extern const ts_mode ts_modes[];
extern const size_t ts_nmodes;
void ts_set_mode(ts *t, const ts_mode *m);
/* "recv 1, send 0, non-blocking": for failure messages. */
const char *ts_mode_name(const ts *t);

/* Fills io with callbacks bound to t (version, ctx, send, recv, starttls,
 * set_timeout, close). */
void ts_io(ts *t, smtpc_io *io);
/* Connects session s to t: with ts_io() and smtpc_session_set_io(), or in
 * a memory-mode ts_mode with smtpc_session_set_memory_mode(); TS_LOOP then
 * moves the bytes between t and s through smtpc_session_mem_send/mem_recv
 * (and asks for the STARTTLS upgrade) with the same script checks.  io is
 * storage for the callbacks.  Returns what the session call returned. */
int ts_attach(ts *t, smtpc_session *s, smtpc_io *io);
/* The memory-mode caller's move for the attached session, if any; returns 1
 * (for use inside TS_LOOP). */
int ts_pump_active(void);
/* Restarts the script from the first step and clears every record and
 * mismatch; the steps and options stay. */
void ts_rewind(ts *t);
/* Fails the test unless every step was consumed and no mismatch happened. */
void ts_done(ts *t);
/* 1 if every step was consumed. */
int ts_finished(const ts *t);

/* Records. */
/* Every byte the client sent (NUL-terminated after *len bytes). */
const unsigned char *ts_sent(const ts *t, size_t *len);
/* send() calls that moved bytes (would-block returns are not counted). */
size_t ts_send_calls(const ts *t);
/* Bytes moved by the i-th such call, 0 if out of range. */
size_t ts_send_size(const ts *t, size_t i);
/* recv() calls that returned bytes or 0 (end of stream). */
size_t ts_recv_calls(const ts *t);
/* set_timeout() values in call order. */
size_t ts_timeout_count(const ts *t);
unsigned ts_timeout_value(const ts *t, size_t i);
/* close() calls. */
size_t ts_close_calls(const ts *t);
/* Client bytes sent before the first starttls() call; (size_t)-1 if never. */
size_t ts_sent_before_tls(const ts *t);
/* The first mismatch report, or NULL. */
const char *ts_mismatch(const ts *t);
/* Prints the script (with progress) and the client stream. */
void ts_dump(const ts *t, FILE *f);

/* Bound for retry loops: no test spins forever. */
#define TS_MAX_SPINS 100000L

/* rv = call; repeated while it returns a would-block code (bounded). */
#define TS_LOOP(rv, call)                                                      \
  do {                                                                         \
    long ts_spins_ = 0;                                                        \
    do {                                                                       \
      (rv) = (call);                                                           \
    } while (((rv) == SMTPC_ERR_WANT_READ || (rv) == SMTPC_ERR_WANT_WRITE) &&  \
             ts_pump_active() && ++ts_spins_ < TS_MAX_SPINS);                  \
    ck_assert_msg(ts_spins_ < TS_MAX_SPINS, "%s still blocks after %ld calls", \
                  #call, ts_spins_);                                           \
  } while (0)

/* ---- the session fixture of the transcript suites ------------------------ */

/* A session (EHLO name "client.test", counting allocator) attached to a
 * scripted transport in one of the ts_modes. */
typedef struct tu_fx {
  tu_alloc a;
  ts *t;
  smtpc_session *s;
  smtpc_io io;
} tu_fx;

/* Sets f up; mode NULL: the default mode. */
void tu_fx_init(tu_fx *f, const ts_mode *mode);
/* Checks the script was consumed, frees everything, fails on a leak. */
void tu_fx_fini(tu_fx *f);
/* smtpc_session_open/run/noop/quit through TS_LOOP; returns their result. */
int tu_fx_open(tu_fx *f);
int tu_fx_run(tu_fx *f);
int tu_fx_noop(tu_fx *f);
int tu_fx_quit(tu_fx *f);

/* A streamed body over bytes in memory (smtpc_body_init_stream() with
 * tu_src_read; tu_src_rewind counts the rewinds). */
typedef struct tu_src {
  const char *data;
  size_t len, off;
  int rewinds;
} tu_src;
smtpc_ssize tu_src_read(void *ctx, unsigned char *buf, size_t len);
int tu_src_rewind(void *ctx);

/* Self-tests of these helpers (added to one suite's runner). */
Suite *tu_selftest_suite(void);

#endif /* SMTPC_TESTUTIL_H */
