/* SPDX-License-Identifier: MIT */
/* Shared test helpers: byte diffs, a failing allocator, a scripted
 * transport.  See testutil.h. */
#include "testutil.h"

#include "smtpc_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- bytes ----------------------------------------------------------------
 */

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (q == NULL) {
    fprintf(stderr, "testutil: out of memory\n");
    abort();
  }
  return q;
}

void tu_bytes_append(tu_bytes *b, const void *p, size_t n) {
  if (b->cap - b->n < n + 1 || b->p == NULL) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->n < n + 1)
      cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
  }
  if (n > 0)
    memcpy(b->p + b->n, p, n);
  b->n += n;
  b->p[b->n] = '\0';
}

void tu_bytes_append_str(tu_bytes *b, const char *s) {
  tu_bytes_append(b, s, strlen(s));
}

void tu_bytes_free(tu_bytes *b) {
  free(b->p);
  b->p = NULL;
  b->n = b->cap = 0;
}

/* Escaped form of one byte into e (at least 5 bytes); returns its length. */
static size_t escape_byte(char *e, unsigned char c) {
  static const char hex[] = "0123456789abcdef";
  switch (c) {
  case '\r': memcpy(e, "\\r", 2); return 2;
  case '\n': memcpy(e, "\\n", 2); return 2;
  case '\t': memcpy(e, "\\t", 2); return 2;
  case '\\': memcpy(e, "\\\\", 2); return 2;
  case '"': memcpy(e, "\\\"", 2); return 2;
  default:
    if (c >= 32 && c < 127) {
      e[0] = (char)c;
      return 1;
    }
    e[0] = '\\';
    e[1] = 'x';
    e[2] = hex[c >> 4];
    e[3] = hex[c & 15];
    return 4;
  }
}

static size_t escaped_len(const void *p, size_t n) {
  const unsigned char *s = p;
  char e[8];
  size_t i, len = 0;
  for (i = 0; i < n; i++)
    len += escape_byte(e, s[i]);
  return len;
}

char *tu_escape_to(char *out, size_t cap, const void *p, size_t n) {
  const unsigned char *s = p;
  size_t i, o = 0;
  char e[8];
  if (cap == 0)
    return out;
  for (i = 0; i < n; i++) {
    size_t k = escape_byte(e, s[i]);
    if (o + k + 4 > cap) {
      if (o + 4 <= cap) {
        memcpy(out + o, "...", 3);
        o += 3;
      }
      break;
    }
    memcpy(out + o, e, k);
    o += k;
  }
  out[o < cap ? o : cap - 1] = '\0';
  return out;
}

const char *tu_escape(const void *p, size_t n) {
  static char ring[8][1024];
  static unsigned next;
  char *b = ring[next++ % 8];
  return tu_escape_to(b, sizeof(ring[0]), p, n);
}

int tu_bytes_diff(char *out, size_t cap, const void *exp, size_t elen,
                  const void *act, size_t alen) {
  const unsigned char *e = exp, *a = act;
  size_t d = 0, ws, wn = 72, caret, i;
  char ebuf[400], abuf[400], pad[400];
  const char *lead;
  while (d < elen && d < alen && e[d] == a[d])
    d++;
  if (d == elen && d == alen)
    return 0;
  ws = d > 32 ? d - 32 : 0;
  lead = ws > 0 ? "..." : "";
  tu_escape_to(ebuf, sizeof(ebuf), e + ws, elen - ws < wn ? elen - ws : wn);
  tu_escape_to(abuf, sizeof(abuf), a + ws, alen - ws < wn ? alen - ws : wn);
  if (elen - ws > wn)
    strcat(ebuf, "...");
  if (alen - ws > wn)
    strcat(abuf, "...");
  /* the caret sits under the first differing byte of "actual" */
  caret = strlen("  actual:   \"") + strlen(lead) + escaped_len(a + ws, d - ws);
  if (caret >= sizeof(pad))
    caret = sizeof(pad) - 1;
  for (i = 0; i < caret; i++)
    pad[i] = ' ';
  pad[caret] = '\0';
  snprintf(out, cap,
           "bytes differ at offset %zu (expected %zu bytes, got %zu)%s\n"
           "  expected: \"%s%s\"\n"
           "  actual:   \"%s%s\"\n"
           "%s^",
           d, elen, alen,
           d == alen ? " - actual ends early"
                     : (d == elen ? " - actual has extra bytes" : ""),
           lead, ebuf, lead, abuf, pad);
  return 1;
}

/* ---- failing, counting allocator ------------------------------------------
 */

#define TU_HDR 32u /* keeps the user pointer 16-byte aligned */
#define TU_MAGIC 0x5a17c0deu
#define TU_DEAD 0xdeadbeefu

struct tu_hdr {
  size_t size;
  unsigned magic;
};

static int tu_should_fail(tu_alloc *a) {
  a->calls++;
  if (a->fail_at > 0 &&
      (a->calls == a->fail_at || (a->fail_after && a->calls > a->fail_at))) {
    a->failures++;
    return 1;
  }
  return 0;
}

static struct tu_hdr *tu_hdr_of(void *p) {
  struct tu_hdr *h = (struct tu_hdr *)(void *)((unsigned char *)p - TU_HDR);
  if (h->magic != TU_MAGIC)
    ck_abort_msg("allocator: %s of a pointer it did not hand out (%p)",
                 h->magic == TU_DEAD ? "double free" : "free/realloc", p);
  return h;
}

static void *tu_malloc(void *user, size_t n) {
  tu_alloc *a = user;
  struct tu_hdr *h;
  if (tu_should_fail(a))
    return NULL;
  h = malloc(TU_HDR + n);
  if (h == NULL)
    return NULL;
  h->size = n;
  h->magic = TU_MAGIC;
  a->live++;
  a->live_bytes += n;
  if (a->live > a->peak)
    a->peak = a->live;
  return (unsigned char *)h + TU_HDR;
}

static void *tu_realloc(void *user, void *p, size_t n) {
  tu_alloc *a = user;
  struct tu_hdr *h, *nh;
  size_t old;
  if (p == NULL)
    return tu_malloc(user, n);
  h = tu_hdr_of(p);
  if (tu_should_fail(a))
    return NULL;
  old = h->size;
  nh = realloc(h, TU_HDR + n);
  if (nh == NULL)
    return NULL;
  nh->size = n;
  a->live_bytes = a->live_bytes - old + n;
  return (unsigned char *)nh + TU_HDR;
}

static void tu_free(void *user, void *p) {
  tu_alloc *a = user;
  struct tu_hdr *h;
  if (p == NULL)
    return;
  h = tu_hdr_of(p);
  h->magic = TU_DEAD;
  a->live--;
  a->live_bytes -= h->size;
  free(h);
}

void tu_alloc_init(tu_alloc *a, long fail_at) {
  memset(a, 0, sizeof(*a));
  a->fail_at = fail_at;
  a->mem.user = a;
  a->mem.malloc = tu_malloc;
  a->mem.realloc = tu_realloc;
  a->mem.free = tu_free;
}

long tu_alloc_sweep(tu_scenario fn, void *arg, long max_runs) {
  long i, failing = 0;
  for (i = 1; i <= max_runs; i++) {
    tu_alloc a;
    int rv;
    tu_alloc_init(&a, i);
    rv = fn(&a, arg);
    ck_assert_msg(a.live == 0,
                  "allocation sweep: failing allocation #%ld leaked %ld "
                  "block(s), %zu byte(s)",
                  i, a.live, a.live_bytes);
    if (a.failures == 0) {
      ck_assert_msg(rv == SMTPC_OK,
                    "allocation sweep: run %ld without failure returned %d "
                    "(%s)",
                    i, rv, smtpc_strerror(rv));
      return failing;
    }
    ck_assert_msg(rv == SMTPC_ERR_NOMEM || rv == SMTPC_OK,
                  "allocation sweep: failing allocation #%ld gave %d (%s), "
                  "expected SMTPC_ERR_NOMEM",
                  i, rv, smtpc_strerror(rv));
    failing++;
  }
  ck_abort_msg("allocation sweep: still failing after %ld runs", max_runs);
  return failing;
}

/* ---- replies ---------------------------------------------------------------
 */

smtpc_reply *tu_reply_make(const smtpc_mem *m, int code, const char *text) {
  smtpc__reply_parser p;
  smtpc_reply *r = NULL;
  char line[512];
  size_t consumed, n = strlen(text);
  int rv;
  if (n > sizeof(line) - 8 || code < 200 || code > 599)
    return NULL;
  line[0] = (char)('0' + code / 100);
  line[1] = (char)('0' + code / 10 % 10);
  line[2] = (char)('0' + code % 10);
  line[3] = ' ';
  memcpy(line + 4, text, n);
  memcpy(line + 4 + n, "\r\n", 2);
  smtpc__reply_parser_init(&p, m);
  rv = smtpc__reply_parser_feed(&p, (const unsigned char *)line, n + 6,
                                &consumed);
  if (rv == 1)
    (void)smtpc__reply_parser_take(&p, &r);
  smtpc__reply_parser_free(&p);
  return r;
}

/* ---- scripted transport -----------------------------------------------------
 */

enum ts_kind {
  TS_SERVER,
  TS_CLIENT,
  TS_CLOSE,
  TS_IO_ERROR,
  TS_TIMEOUT,
  TS_STARTTLS
};

typedef struct ts_step {
  enum ts_kind kind;
  unsigned char *data; /* bytes; for STARTTLS the server name or NULL */
  size_t len;
  int flight;      /* CLIENT: must travel in one write */
  int err;         /* STARTTLS: the result */
  size_t fl_call;  /* send call that carried the first byte */
  size_t fl_recvs; /* recv calls made before it */
} ts_step;

#define TS_MAX_STALLS 64
#define TS_MSG_MAX 6000

struct ts {
  ts_step *steps;
  size_t n, cap;
  /* options */
  size_t recv_chunk, send_chunk;
  int nonblock, has_starttls, abort_on_mismatch;
  int mem;              /* ts_attach() puts the session in memory mode */
  smtpc_session *mem_s; /* ... this one, moved by ts_pump() */
  /* progress */
  size_t pos, off; /* next step and bytes of it already done */
  int closed;
  int skip_recv, skip_send, skip_tls; /* non-blocking alternation */
  int stalls;
  /* records */
  tu_bytes sent;
  size_t *send_sizes, nsend, send_cap;
  size_t recv_calls, recv_attempts;
  unsigned *timeouts;
  size_t ntimeouts, timeouts_cap;
  size_t close_calls;
  size_t before_tls;
  char *mismatch;
  char mode[64];
};

static void ts_update_mode(ts *t) {
  snprintf(t->mode, sizeof(t->mode), "recv %zu, send %zu, %s%s", t->recv_chunk,
           t->send_chunk, t->nonblock ? "non-blocking" : "blocking",
           t->mem ? ", memory mode" : "");
}

/* The memory-mode session TS_LOOP moves bytes for (one at a time: the
 * transcripts run one after the other). */
static ts *ts_active;

ts *ts_new(void) {
  ts *t = xrealloc(NULL, sizeof(*t));
  memset(t, 0, sizeof(*t));
  t->has_starttls = 1;
  t->abort_on_mismatch = 1;
  t->before_tls = (size_t)-1;
  ts_update_mode(t);
  return t;
}

void ts_free(ts *t) {
  size_t i;
  if (t == NULL)
    return;
  if (ts_active == t)
    ts_active = NULL;
  for (i = 0; i < t->n; i++)
    free(t->steps[i].data);
  free(t->steps);
  tu_bytes_free(&t->sent);
  free(t->send_sizes);
  free(t->timeouts);
  free(t->mismatch);
  free(t);
}

static ts_step *ts_add(ts *t, enum ts_kind kind, const void *p, size_t n) {
  ts_step *s;
  if (t->n == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 16;
    t->steps = xrealloc(t->steps, t->cap * sizeof(*t->steps));
  }
  s = &t->steps[t->n++];
  memset(s, 0, sizeof(*s));
  s->kind = kind;
  if (p != NULL) {
    s->data = xrealloc(NULL, n + 1);
    memcpy(s->data, p, n);
    s->data[n] = '\0';
    s->len = n;
  }
  return s;
}

void ts_server_n(ts *t, const void *p, size_t n) {
  if (n > 0)
    ts_add(t, TS_SERVER, p, n);
}
void ts_server(ts *t, const char *s) { ts_server_n(t, s, strlen(s)); }
void ts_client_n(ts *t, const void *p, size_t n) {
  if (n > 0)
    ts_add(t, TS_CLIENT, p, n);
}
void ts_client(ts *t, const char *s) { ts_client_n(t, s, strlen(s)); }
void ts_client_flight(ts *t, const char *s) {
  if (*s != '\0')
    ts_add(t, TS_CLIENT, s, strlen(s))->flight = 1;
}
void ts_close(ts *t) { ts_add(t, TS_CLOSE, NULL, 0); }
void ts_io_error(ts *t) { ts_add(t, TS_IO_ERROR, NULL, 0); }
void ts_timeout(ts *t) { ts_add(t, TS_TIMEOUT, NULL, 0); }
void ts_starttls_fail(ts *t, const char *servername, int err) {
  ts_step *s =
      ts_add(t, TS_STARTTLS, servername, servername ? strlen(servername) : 0);
  s->err = err;
}
void ts_starttls(ts *t, const char *servername) {
  ts_starttls_fail(t, servername, SMTPC_OK);
}

void ts_set_recv_chunk(ts *t, size_t k) {
  t->recv_chunk = k;
  ts_update_mode(t);
}
void ts_set_send_chunk(ts *t, size_t k) {
  t->send_chunk = k;
  ts_update_mode(t);
}
void ts_set_nonblock(ts *t, int on) {
  t->nonblock = on != 0;
  ts_update_mode(t);
}
void ts_set_has_starttls(ts *t, int on) { t->has_starttls = on != 0; }
void ts_set_abort(ts *t, int on) { t->abort_on_mismatch = on != 0; }

const ts_mode ts_modes[] = {
    {0, 0, 0, 0}, {1, 0, 0, 0}, {0, 1, 0, 0}, {1, 1, 0, 0},
    {2, 3, 0, 0}, {3, 2, 0, 0}, {7, 5, 0, 0}, {64, 64, 0, 0},
    {0, 0, 1, 0}, {1, 1, 1, 0}, {2, 3, 1, 0}, {7, 5, 1, 0},
    {0, 0, 0, 1}, {1, 1, 0, 1}, {3, 2, 0, 1}, {7, 5, 1, 1}};
const size_t ts_nmodes = sizeof(ts_modes) / sizeof(ts_modes[0]);

void ts_set_mode(ts *t, const ts_mode *m) {
  t->recv_chunk = m->recv_chunk;
  t->send_chunk = m->send_chunk;
  t->nonblock = m->nonblock;
  t->mem = m->mem;
  ts_update_mode(t);
}

const char *ts_mode_name(const ts *t) { return t->mode; }

void ts_rewind(ts *t) {
  t->pos = t->off = 0;
  t->closed = 0;
  t->skip_recv = t->skip_send = t->skip_tls = 0;
  t->stalls = 0;
  t->sent.n = 0;
  if (t->sent.p)
    t->sent.p[0] = '\0';
  t->nsend = 0;
  t->recv_calls = t->recv_attempts = 0;
  t->ntimeouts = 0;
  t->close_calls = 0;
  t->before_tls = (size_t)-1;
  free(t->mismatch);
  t->mismatch = NULL;
}

int ts_finished(const ts *t) { return t->pos == t->n; }

const unsigned char *ts_sent(const ts *t, size_t *len) {
  if (len)
    *len = t->sent.n;
  return t->sent.p ? t->sent.p : (const unsigned char *)"";
}
size_t ts_send_calls(const ts *t) { return t->nsend; }
size_t ts_send_size(const ts *t, size_t i) {
  return i < t->nsend ? t->send_sizes[i] : 0;
}
size_t ts_recv_calls(const ts *t) { return t->recv_calls; }
size_t ts_timeout_count(const ts *t) { return t->ntimeouts; }
unsigned ts_timeout_value(const ts *t, size_t i) {
  return i < t->ntimeouts ? t->timeouts[i] : 0;
}
size_t ts_close_calls(const ts *t) { return t->close_calls; }
size_t ts_sent_before_tls(const ts *t) { return t->before_tls; }
const char *ts_mismatch(const ts *t) { return t->mismatch; }

static const char *kind_name(enum ts_kind k) {
  switch (k) {
  case TS_SERVER: return "server";
  case TS_CLIENT: return "client";
  case TS_CLOSE: return "close";
  case TS_IO_ERROR: return "io-error";
  case TS_TIMEOUT: return "timeout";
  case TS_STARTTLS: return "starttls";
  }
  return "?";
}

/* "client \"EHLO x\\r\\n\"" and the like, into out. */
static void step_desc(char *out, size_t cap, const ts_step *s) {
  char e[256];
  switch (s->kind) {
  case TS_SERVER:
  case TS_CLIENT:
    snprintf(out, cap, "%s%s \"%s\"", kind_name(s->kind),
             s->flight ? " (one write)" : "",
             tu_escape_to(e, sizeof(e), s->data, s->len));
    break;
  case TS_STARTTLS:
    snprintf(out, cap, "starttls(%s)%s", s->data ? (char *)s->data : "any",
             s->err ? " failing" : "");
    break;
  default: snprintf(out, cap, "%s", kind_name(s->kind));
  }
}

void ts_dump(const ts *t, FILE *f) {
  size_t i;
  char d[320];
  fprintf(f, "script [%s]:\n", t->mode);
  for (i = 0; i < t->n; i++) {
    step_desc(d, sizeof(d), &t->steps[i]);
    if (i < t->pos)
      fprintf(f, "  #%zu   done  %s\n", i + 1, d);
    else if (i == t->pos)
      fprintf(f, "  #%zu   NEXT  %s  (%zu byte(s) done)\n", i + 1, d, t->off);
    else
      fprintf(f, "  #%zu         %s\n", i + 1, d);
  }
  if (t->pos == t->n)
    fprintf(f, "  (end of script%s)\n", t->closed ? ", closed" : "");
  fprintf(f, "client sent %zu byte(s) in %zu write(s):\n  \"", t->sent.n,
          t->nsend);
  for (i = 0; i < t->sent.n; i++) {
    char e[8];
    size_t k = escape_byte(e, t->sent.p[i]);
    fwrite(e, 1, k, f);
    if (t->sent.p[i] == '\n' && i + 1 < t->sent.n)
      fputs("\"\n  \"", f);
  }
  fputs("\"\n", f);
}

/* The expected bytes from the start of the current client run (up to 4 KiB),
 * for diffs. */
static void expected_run(const ts *t, tu_bytes *b) {
  size_t i;
  for (i = t->pos; i < t->n && t->steps[i].kind == TS_CLIENT; i++) {
    tu_bytes_append(b, t->steps[i].data, t->steps[i].len);
    if (b->n > 4096)
      break;
  }
}

/* Records a mismatch, reports it, and aborts the test unless told not to.
 * Returns SMTPC_ERR_IO for the callback to pass on. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int
ts_fail(ts *t, const char *detail, const char *fmt, ...);
static int ts_fail(ts *t, const char *detail, const char *fmt, ...) {
  char head[512], next[320] = "end of script";
  va_list ap;
  if (t->pos < t->n)
    step_desc(next, sizeof(next), &t->steps[t->pos]);
  va_start(ap, fmt);
  vsnprintf(head, sizeof(head), fmt, ap);
  va_end(ap);
  if (t->mismatch == NULL) {
    t->mismatch = xrealloc(NULL, TS_MSG_MAX);
    snprintf(t->mismatch, TS_MSG_MAX,
             "scripted transport [%s]: %s\n  at step #%zu of %zu: %s\n%s%s",
             t->mode, head, t->pos + 1, t->n, next, detail ? detail : "",
             detail ? "\n" : "");
    if (t->abort_on_mismatch) { /* the full story, before Check's summary */
      fprintf(stderr, "%s", t->mismatch);
      ts_dump(t, stderr);
    }
  }
  if (t->abort_on_mismatch)
    ck_abort_msg("%s", t->mismatch);
  return SMTPC_ERR_IO;
}

/* Consumes an error step (io-error, timeout) at the cursor, if any.
 * Returns the error or 0. */
static int ts_error_step(ts *t) {
  if (t->pos < t->n) {
    enum ts_kind k = t->steps[t->pos].kind;
    if (k == TS_IO_ERROR || k == TS_TIMEOUT) {
      t->pos++;
      t->off = 0;
      return k == TS_IO_ERROR ? SMTPC_ERR_IO : SMTPC_ERR_TIMEOUT;
    }
  }
  return 0;
}

static smtpc_ssize ts_send_cb(void *ctx, const unsigned char *buf, size_t len) {
  ts *t = ctx;
  size_t n, k = 0, pos, off;
  int rv;
  if (t->mismatch)
    return SMTPC_ERR_IO;
  if (t->nonblock && (t->skip_send ^= 1))
    return SMTPC_ERR_WANT_WRITE;
  if ((rv = ts_error_step(t)) != 0)
    return rv;
  if (len == 0)
    return 0;
  if (t->closed && (t->pos == t->n || t->steps[t->pos].kind != TS_CLIENT))
    return SMTPC_ERR_IO; /* the peer is gone */
  if (t->pos == t->n || t->steps[t->pos].kind != TS_CLIENT) {
    char d[TS_MSG_MAX / 2];
    tu_bytes_diff(d, sizeof(d), "", 0, buf, len);
    return ts_fail(t, d,
                   "the client sent %zu byte(s) while the script "
                   "expects something else",
                   len);
  }
  n = t->send_chunk && t->send_chunk < len ? t->send_chunk : len;
  pos = t->pos;
  off = t->off;
  while (k < n) {
    ts_step *s;
    size_t take, j;
    if (pos == t->n || t->steps[pos].kind != TS_CLIENT)
      break; /* extra bytes: reported below */
    s = &t->steps[pos];
    take = s->len - off < n - k ? s->len - off : n - k;
    for (j = 0; j < take; j++)
      if (s->data[off + j] != buf[k + j])
        break;
    if (j < take)
      break;
    if (s->flight && off == 0) {
      s->fl_call = t->nsend;
      s->fl_recvs = t->recv_attempts;
    }
    k += take;
    off += take;
    if (off == s->len) {
      if (s->flight && (t->send_chunk == 0 ? s->fl_call != t->nsend
                                           : s->fl_recvs != t->recv_attempts)) {
        char d[512];
        step_desc(d, sizeof(d), s);
        t->pos = pos;
        return ts_fail(t, d,
                       "bytes expected in one write were split over several "
                       "send() calls (write #%zu to #%zu)",
                       s->fl_call + 1, t->nsend + 1);
      }
      pos++;
      off = 0;
    }
  }
  if (k < n) {
    /* Show the client run from the start of the current step, as expected
     * and as actually sent. */
    tu_bytes exp = {0}, act = {0};
    char d[TS_MSG_MAX / 2];
    expected_run(t, &exp);
    tu_bytes_append(&act, t->steps[t->pos].data, t->off);
    tu_bytes_append(&act, buf, n);
    tu_bytes_diff(d, sizeof(d), exp.p, exp.n, act.p, act.n);
    tu_bytes_free(&exp);
    tu_bytes_free(&act);
    return ts_fail(t, d,
                   "the client sent bytes that differ from the script "
                   "(offsets from the start of the step)");
  }
  t->pos = pos;
  t->off = off;
  tu_bytes_append(&t->sent, buf, n);
  if (t->nsend == t->send_cap) {
    t->send_cap = t->send_cap ? t->send_cap * 2 : 16;
    t->send_sizes = xrealloc(t->send_sizes, t->send_cap * sizeof(size_t));
  }
  t->send_sizes[t->nsend++] = n;
  t->stalls = 0;
  return (smtpc_ssize)n;
}

static smtpc_ssize ts_recv_cb(void *ctx, unsigned char *buf, size_t len) {
  ts *t = ctx;
  size_t n = 0, lim;
  int rv;
  if (t->mismatch)
    return SMTPC_ERR_IO;
  t->recv_attempts++;
  if (t->nonblock && (t->skip_recv ^= 1))
    return SMTPC_ERR_WANT_READ;
  if ((rv = ts_error_step(t)) != 0)
    return rv;
  if (t->pos == t->n) {
    if (t->closed) {
      t->recv_calls++;
      return 0;
    }
    return ts_fail(t, NULL, "the client reads past the end of the script");
  }
  switch (t->steps[t->pos].kind) {
  case TS_CLOSE:
    t->pos++;
    t->off = 0;
    t->closed = 1;
    t->recv_calls++;
    return 0;
  case TS_CLIENT:
    if (t->nonblock && ++t->stalls <= TS_MAX_STALLS)
      return SMTPC_ERR_WANT_READ;
    {
      tu_bytes exp = {0};
      char d[TS_MSG_MAX / 2];
      expected_run(t, &exp);
      tu_bytes_diff(d, sizeof(d), exp.p, exp.n, t->steps[t->pos].data, t->off);
      tu_bytes_free(&exp);
      return ts_fail(t, d,
                     "the client waits for the server, but the script "
                     "expects the client to send (%zu of %zu byte(s) sent)",
                     t->off, t->steps[t->pos].len);
    }
  case TS_SERVER: break;
  default:
    return ts_fail(t, NULL, "the client reads, but the script expects %s",
                   kind_name(t->steps[t->pos].kind));
  }
  if (len == 0)
    return ts_fail(t, NULL, "recv() called with a zero-length buffer");
  lim = t->recv_chunk && t->recv_chunk < len ? t->recv_chunk : len;
  while (n < lim && t->pos < t->n && t->steps[t->pos].kind == TS_SERVER) {
    ts_step *s = &t->steps[t->pos];
    size_t take = s->len - t->off < lim - n ? s->len - t->off : lim - n;
    memcpy(buf + n, s->data + t->off, take);
    n += take;
    t->off += take;
    if (t->off == s->len) {
      t->pos++;
      t->off = 0;
    }
  }
  t->recv_calls++;
  t->stalls = 0;
  return (smtpc_ssize)n;
}

static int ts_starttls_cb(void *ctx, const char *servername) {
  ts *t = ctx;
  ts_step *s;
  if (t->mismatch)
    return SMTPC_ERR_IO;
  if (t->nonblock && (t->skip_tls ^= 1))
    return SMTPC_ERR_WANT_READ;
  if (t->pos == t->n || t->steps[t->pos].kind != TS_STARTTLS)
    return ts_fail(t, NULL, "the client called starttls(%s) unexpectedly",
                   servername ? servername : "NULL");
  s = &t->steps[t->pos];
  if (s->data != NULL && !t->mem && /* memory mode: the caller's TLS */
      (servername == NULL || strcmp(servername, (char *)s->data) != 0))
    return ts_fail(t, NULL, "starttls() server name is \"%s\", expected \"%s\"",
                   servername ? servername : "(NULL)", (char *)s->data);
  t->pos++;
  t->off = 0;
  if (t->before_tls == (size_t)-1)
    t->before_tls = t->sent.n;
  return s->err;
}

static void ts_set_timeout_cb(void *ctx, unsigned timeout_ms) {
  ts *t = ctx;
  if (t->ntimeouts == t->timeouts_cap) {
    t->timeouts_cap = t->timeouts_cap ? t->timeouts_cap * 2 : 16;
    t->timeouts = xrealloc(t->timeouts, t->timeouts_cap * sizeof(unsigned));
  }
  t->timeouts[t->ntimeouts++] = timeout_ms;
}

static void ts_close_cb(void *ctx) {
  ts *t = ctx;
  t->close_calls++;
}

void ts_io(ts *t, smtpc_io *io) {
  memset(io, 0, sizeof(*io));
  io->version = SMTPC_IO_VERSION;
  io->ctx = t;
  io->send = ts_send_cb;
  io->recv = ts_recv_cb;
  io->starttls = t->has_starttls ? ts_starttls_cb : NULL;
  io->set_timeout = ts_set_timeout_cb;
  io->close = ts_close_cb;
}

int ts_attach(ts *t, smtpc_session *s, smtpc_io *io) {
  if (!t->mem) {
    ts_io(t, io);
    return smtpc_session_set_io(s, io);
  }
  memset(io, 0, sizeof(*io));
  t->mem_s = s;
  ts_active = t;
  return smtpc_session_set_memory_mode(s, t->has_starttls ? SMTPC_MEM_STARTTLS
                                                          : 0);
}

/* One move of the memory-mode caller's loop, through the same scripted
 * callbacks a callback-mode session would call: output first, then the
 * upgrade the session asks for, then input. */
static void ts_pump(ts *t) {
  smtpc_session *s = t->mem_s;
  const unsigned char *p;
  size_t n = smtpc_session_mem_send(s, &p);
  smtpc_ssize r;
  if (n > 0) {
    r = ts_send_cb(t, p, n);
    if (r > 0)
      smtpc_session_mem_sent(s, (size_t)r);
    else if (r != SMTPC_ERR_WANT_WRITE && r != SMTPC_ERR_WANT_READ)
      smtpc_session_mem_error(s, r == SMTPC_ERR_TIMEOUT ? SMTPC_ERR_TIMEOUT
                                                        : SMTPC_ERR_IO);
    return;
  }
  if (smtpc_session_want_starttls(s)) {
    int rv = ts_starttls_cb(t, NULL); /* the name is the caller's business */
    if (rv != SMTPC_ERR_WANT_READ && rv != SMTPC_ERR_WANT_WRITE)
      smtpc_session_starttls_done(s, rv, rv == SMTPC_OK);
    return;
  }
  if (smtpc_session_want_read(s)) {
    unsigned char buf[4096];
    r = ts_recv_cb(t, buf, sizeof(buf));
    if (r > 0)
      smtpc_session_mem_recv(s, buf, (size_t)r);
    else if (r == 0)
      smtpc_session_mem_error(s, SMTPC_ERR_EOF);
    else if (r != SMTPC_ERR_WANT_READ && r != SMTPC_ERR_WANT_WRITE)
      smtpc_session_mem_error(s, r == SMTPC_ERR_TIMEOUT ? SMTPC_ERR_TIMEOUT
                                                        : SMTPC_ERR_IO);
  }
}

int ts_pump_active(void) {
  if (ts_active != NULL && ts_active->mem_s != NULL)
    ts_pump(ts_active);
  return 1;
}

void ts_done(ts *t) {
  char next[320];
  if (t->mismatch != NULL)
    ck_abort_msg("%s", t->mismatch);
  if (t->pos < t->n) {
    step_desc(next, sizeof(next), &t->steps[t->pos]);
    fprintf(stderr, "scripted transport [%s]: script not finished\n", t->mode);
    ts_dump(t, stderr);
    ck_abort_msg("scripted transport [%s]: script not finished: step #%zu of "
                 "%zu (%s) not done, %zu byte(s) of it done",
                 t->mode, t->pos + 1, t->n, next, t->off);
  }
}

/* ---- self-tests
 * --------------------------------------------------------------- */

/* A tiny blocking-style client over any smtpc_io: retries would-block codes
 * (bounded) and sends everything. */
static int st_send_all(smtpc_io *io, const char *s) {
  size_t n = strlen(s), done = 0;
  long spins = 0;
  while (done < n && spins++ < 10000) {
    smtpc_ssize r =
        io->send(io->ctx, (const unsigned char *)s + done, n - done);
    if (r == SMTPC_ERR_WANT_WRITE)
      continue;
    if (r < 0)
      return (int)r;
    done += (size_t)r;
  }
  return done == n ? SMTPC_OK : SMTPC_ERR_INTERNAL;
}

typedef struct st_reader {
  smtpc__reply_parser p;
  unsigned char buf[256];
  size_t have, used;
} st_reader;

/* Reads one reply; returns its code, or a negative error. */
static int st_read_reply(smtpc_io *io, st_reader *r) {
  long spins = 0;
  while (spins++ < 10000) {
    size_t consumed;
    int rv;
    if (r->used < r->have) {
      rv = smtpc__reply_parser_feed(&r->p, r->buf + r->used, r->have - r->used,
                                    &consumed);
      r->used += consumed;
      if (rv < 0)
        return rv;
      if (rv == 1) {
        smtpc_reply *rep;
        int code;
        if ((rv = smtpc__reply_parser_take(&r->p, &rep)) != SMTPC_OK)
          return rv;
        code = smtpc_reply_code(rep);
        smtpc__reply_free(r->p.mem, rep);
        return code;
      }
    }
    {
      smtpc_ssize n = io->recv(io->ctx, r->buf, sizeof(r->buf));
      if (n == SMTPC_ERR_WANT_READ)
        continue;
      if (n < 0)
        return (int)n;
      if (n == 0)
        return SMTPC_ERR_EOF;
      r->have = (size_t)n;
      r->used = 0;
    }
  }
  return SMTPC_ERR_INTERNAL;
}

static int st_starttls(smtpc_io *io, const char *name) {
  long spins = 0;
  int rv;
  do
    rv = io->starttls(io->ctx, name);
  while (rv == SMTPC_ERR_WANT_READ && spins++ < 100);
  return rv;
}

static const char *const ST_FLIGHT =
    "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n";

static void st_script(ts *t) {
  ts_server(t, "220 mx ready\r\n");
  ts_client(t, "EHLO c.test\r\n");
  ts_server(t, "250-mx\r\n");
  ts_server(t, "250-STARTTLS\r\n250 PIPELINING\r\n");
  ts_client(t, "STARTTLS\r\n");
  ts_server(t, "220 go ahead\r\n");
  ts_starttls(t, "mx.example");
  ts_client_flight(t, ST_FLIGHT);
  ts_server(t, "250 ok\r\n");
  ts_server(t, "250 ok\r\n");
  ts_server(t, "354 go\r\n");
  ts_client(t, "QU");
  ts_client(t, "IT\r\n");
  ts_server(t, "221 bye\r\n");
  ts_close(t);
}

static void st_run(ts *t) {
  smtpc_io io;
  smtpc_mem m;
  st_reader r;
  smtpc__mem_init(&m, NULL);
  memset(&r, 0, sizeof(r));
  smtpc__reply_parser_init(&r.p, &m);
  ts_io(t, &io);
  io.set_timeout(io.ctx, 300000);
  ck_assert_int_eq(st_read_reply(&io, &r), 220);
  ck_assert_int_eq(st_send_all(&io, "EHLO c.test\r\n"), SMTPC_OK);
  ck_assert_int_eq(st_read_reply(&io, &r), 250);
  ck_assert_int_eq(st_send_all(&io, "STARTTLS\r\n"), SMTPC_OK);
  ck_assert_int_eq(st_read_reply(&io, &r), 220);
  ck_assert_uint_eq(r.used, r.have); /* nothing buffered after the 220 */
  ck_assert_int_eq(st_starttls(&io, "mx.example"), SMTPC_OK);
  ck_assert_int_eq(st_send_all(&io, ST_FLIGHT), SMTPC_OK);
  ck_assert_int_eq(st_read_reply(&io, &r), 250);
  ck_assert_int_eq(st_read_reply(&io, &r), 250);
  ck_assert_int_eq(st_read_reply(&io, &r), 354);
  ck_assert_int_eq(st_send_all(&io, "QUIT\r\n"), SMTPC_OK);
  ck_assert_int_eq(st_read_reply(&io, &r), 221);
  ck_assert_int_eq(st_read_reply(&io, &r), SMTPC_ERR_EOF);
  ck_assert_int_eq(st_read_reply(&io, &r), SMTPC_ERR_EOF); /* stays closed */
  ck_assert_int_eq(st_send_all(&io, "NOOP\r\n"), SMTPC_ERR_IO);
  io.close(io.ctx);
  smtpc__reply_parser_free(&r.p);
}

START_TEST(st_transcript_all_modes) {
  ts *t = ts_new();
  size_t i, len;
  const unsigned char *sent;
  static const char all[] = "EHLO c.test\r\nSTARTTLS\r\nMAIL FROM:<a@b."
                            "example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n"
                            "QUIT\r\n";
  st_script(t);
  for (i = 0; i < ts_nmodes; i++) {
    ts_rewind(t);
    ts_set_mode(t, &ts_modes[i]);
    st_run(t);
    ts_done(t);
    ck_assert_ptr_null(ts_mismatch(t));
    sent = ts_sent(t, &len);
    TU_ASSERT_BYTES_STR(sent, len, all);
    ck_assert_uint_eq(ts_sent_before_tls(t), strlen("EHLO c.test\r\nSTARTTLS"
                                                    "\r\n"));
    ck_assert_uint_eq(ts_timeout_count(t), 1);
    ck_assert_uint_eq(ts_timeout_value(t, 0), 300000);
    ck_assert_uint_eq(ts_close_calls(t), 1);
    if (ts_modes[i].send_chunk == 0) {
      ck_assert_uint_eq(ts_send_calls(t), 4);
      ck_assert_uint_eq(ts_send_size(t, 2), strlen(ST_FLIGHT));
    } else {
      size_t k, sum = 0;
      for (k = 0; k < ts_send_calls(t); k++) {
        ck_assert_uint_le(ts_send_size(t, k), ts_modes[i].send_chunk);
        sum += ts_send_size(t, k);
      }
      ck_assert_uint_eq(sum, len);
    }
    if (ts_modes[i].recv_chunk == 1)
      ck_assert_uint_ge(ts_recv_calls(t), strlen("220 mx ready\r\n"));
  }
  ts_free(t);
}
END_TEST

START_TEST(st_recv_spans_server_steps) {
  ts *t = ts_new();
  smtpc_io io;
  unsigned char b[64];
  ts_server(t, "250 a\r\n");
  ts_server(t, "250 b\r\n");
  ts_client(t, "X\r\n");
  ts_server(t, "250 c\r\n");
  ts_io(t, &io);
  ck_assert_int_eq(io.recv(io.ctx, b, sizeof(b)), 14);
  TU_ASSERT_BYTES_STR(b, 14, "250 a\r\n250 b\r\n");
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"X\r\n", 3), 3);
  ck_assert_int_eq(io.recv(io.ctx, b, 3), 3); /* limited by the caller */
  ck_assert_int_eq(io.recv(io.ctx, b + 3, sizeof(b)), 4);
  TU_ASSERT_BYTES_STR(b, 7, "250 c\r\n");
  ts_done(t);
  ts_free(t);
}
END_TEST

START_TEST(st_chunks_and_nonblock) {
  ts *t = ts_new();
  smtpc_io io;
  unsigned char b[64];
  ts_server(t, "220 hi\r\n");
  ts_client(t, "ABCDE");
  ts_set_recv_chunk(t, 3);
  ts_set_send_chunk(t, 2);
  ts_set_nonblock(t, 1);
  ck_assert_str_eq(ts_mode_name(t), "recv 3, send 2, non-blocking");
  ts_io(t, &io);
  ck_assert_int_eq(io.recv(io.ctx, b, sizeof(b)), SMTPC_ERR_WANT_READ);
  ck_assert_int_eq(io.recv(io.ctx, b, sizeof(b)), 3);
  ck_assert_int_eq(io.recv(io.ctx, b, sizeof(b)), SMTPC_ERR_WANT_READ);
  ck_assert_int_eq(io.recv(io.ctx, b + 3, sizeof(b)), 3);
  ck_assert_int_eq(io.recv(io.ctx, b, sizeof(b)), SMTPC_ERR_WANT_READ);
  ck_assert_int_eq(io.recv(io.ctx, b + 6, sizeof(b)), 2);
  TU_ASSERT_BYTES_STR(b, 8, "220 hi\r\n");
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"ABCDE", 5),
                   SMTPC_ERR_WANT_WRITE);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"ABCDE", 5), 2);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"CDE", 3),
                   SMTPC_ERR_WANT_WRITE);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"CDE", 3), 2);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"E", 1),
                   SMTPC_ERR_WANT_WRITE);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"E", 1), 1);
  ck_assert_uint_eq(ts_send_calls(t), 3);
  ts_done(t);
  ts_free(t);
}
END_TEST

START_TEST(st_error_steps) {
  ts *t = ts_new();
  smtpc_io io;
  unsigned char b[8];
  ts_io_error(t);
  ts_timeout(t);
  ts_server(t, "2");
  ts_io_error(t);
  ts_timeout(t);
  ts_close(t);
  ts_io(t, &io);
  ck_assert_int_eq(io.recv(io.ctx, b, sizeof(b)), SMTPC_ERR_IO);
  ck_assert_int_eq(io.recv(io.ctx, b, sizeof(b)), SMTPC_ERR_TIMEOUT);
  ck_assert_int_eq(io.recv(io.ctx, b, sizeof(b)), 1);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"x", 1),
                   SMTPC_ERR_IO);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"x", 1),
                   SMTPC_ERR_TIMEOUT);
  ck_assert_int_eq(io.recv(io.ctx, b, sizeof(b)), 0);
  ck_assert_int_eq(io.recv(io.ctx, b, sizeof(b)), 0);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"x", 1),
                   SMTPC_ERR_IO);
  ts_done(t);
  ck_assert_ptr_null(ts_mismatch(t));
  ts_free(t);
}
END_TEST

START_TEST(st_mismatch_bytes) {
  ts *t = ts_new();
  smtpc_io io;
  const char *m;
  ts_client(t, "EHLO ");
  ts_client(t, "client.test\r\n");
  ts_server(t, "250 ok\r\n");
  ts_set_abort(t, 0);
  ts_io(t, &io);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"EHLO cl", 7), 7);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"ien.test\r\n", 10),
                   SMTPC_ERR_IO);
  m = ts_mismatch(t);
  ck_assert_ptr_nonnull(m);
  ck_assert_ptr_nonnull(strstr(m, "differ"));
  ck_assert_ptr_nonnull(strstr(m, "bytes differ at offset 5 "));
  ck_assert_ptr_nonnull(strstr(m, "  expected: \"client.test\\r\\n\"\n"
                                  "  actual:   \"clien.test\\r\\n\"\n"
                                  "                  ^"));
  /* sticky: everything fails from now on */
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"x", 1),
                   SMTPC_ERR_IO);
  ck_assert_int_eq(ts_finished(t), 0);
  ts_free(t);
}
END_TEST

START_TEST(st_mismatch_extra_and_order) {
  ts *t = ts_new();
  smtpc_io io;
  unsigned char b[8];
  ts_client(t, "NOOP\r\n");
  ts_server(t, "250 ok\r\n");
  ts_set_abort(t, 0);
  ts_io(t, &io);
  /* more than the script expects before the server speaks */
  ck_assert_int_eq(
      io.send(io.ctx, (const unsigned char *)"NOOP\r\nNOOP\r\n", 12),
      SMTPC_ERR_IO);
  ck_assert_ptr_nonnull(strstr(ts_mismatch(t), "actual has extra bytes"));
  ck_assert_uint_eq(ts_send_calls(t), 0);

  /* reading while the script waits for the client (blocking) */
  ts_rewind(t);
  ck_assert_ptr_null(ts_mismatch(t));
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"NO", 2), 2);
  ck_assert_int_eq(io.recv(io.ctx, b, sizeof(b)), SMTPC_ERR_IO);
  ck_assert_ptr_nonnull(strstr(ts_mismatch(t), "expects the client to send"));

  /* sending while the server should speak */
  ts_rewind(t);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"NOOP\r\n", 6), 6);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"RSET\r\n", 6),
                   SMTPC_ERR_IO);
  ck_assert_ptr_nonnull(strstr(ts_mismatch(t), "server \"250 ok\\r\\n\""));

  /* reading past the end of the script */
  ts_rewind(t);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"NOOP\r\n", 6), 6);
  ck_assert_int_eq(io.recv(io.ctx, b, sizeof(b)), 8);
  ck_assert_int_eq(ts_finished(t), 1);
  ck_assert_int_eq(io.recv(io.ctx, b, sizeof(b)), SMTPC_ERR_IO);
  ck_assert_ptr_nonnull(strstr(ts_mismatch(t), "past the end"));
  ts_free(t);
}
END_TEST

START_TEST(st_nonblock_stall) {
  ts *t = ts_new();
  smtpc_io io;
  unsigned char b[8];
  long i, wants = 0;
  smtpc_ssize r = 0;
  ts_client(t, "QUIT\r\n");
  ts_set_nonblock(t, 1);
  ts_set_abort(t, 0);
  ts_io(t, &io);
  for (i = 0; i < 1000; i++) {
    r = io.recv(io.ctx, b, sizeof(b));
    if (r != SMTPC_ERR_WANT_READ)
      break;
    wants++;
  }
  ck_assert_int_eq(r, SMTPC_ERR_IO);
  ck_assert_int_lt(wants, 200);
  ck_assert_ptr_nonnull(strstr(ts_mismatch(t), "expects the client to send"));
  ts_free(t);
}
END_TEST

START_TEST(st_flight) {
  ts *t = ts_new();
  smtpc_io io;
  unsigned char b[8];
  ts_client_flight(t, "MAIL\r\nRCPT\r\n");
  ts_server(t, "250 ok\r\n");
  ts_set_abort(t, 0);
  ts_io(t, &io);
  /* one write, sharing it with nothing else: fine */
  ck_assert_int_eq(
      io.send(io.ctx, (const unsigned char *)"MAIL\r\nRCPT\r\n", 12), 12);
  ck_assert_int_eq(io.recv(io.ctx, b, sizeof(b)), 8);
  ts_done(t);
  /* two writes with an unlimited transport: mismatch */
  ts_rewind(t);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"MAIL\r\n", 6), 6);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"RCPT\r\n", 6),
                   SMTPC_ERR_IO);
  ck_assert_ptr_nonnull(strstr(ts_mismatch(t), "split over several send()"));
  /* a send chunk of 4: several writes are fine without a recv between */
  ts_rewind(t);
  ts_set_send_chunk(t, 4);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"MAIL\r\n", 6), 4);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"\r\nRCPT\r\n", 8),
                   4);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"PT\r\n", 4), 4);
  ck_assert_ptr_null(ts_mismatch(t));
  ck_assert_uint_eq(ts_send_calls(t), 3);
  /* ... but not with a read in between */
  ts_rewind(t);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"MAIL", 4), 4);
  ck_assert_int_eq(io.recv(io.ctx, b, sizeof(b)), SMTPC_ERR_IO);
  ts_rewind(t);
  ts_set_nonblock(t, 1); /* WANT_READ: still a read attempt */
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"MAIL", 4),
                   SMTPC_ERR_WANT_WRITE);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"MAIL", 4), 4);
  ck_assert_int_eq(io.recv(io.ctx, b, sizeof(b)), SMTPC_ERR_WANT_READ);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"\r\nRCPT\r\n", 8),
                   SMTPC_ERR_WANT_WRITE);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"\r\nRCPT\r\n", 8),
                   4);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"PT\r\n", 4),
                   SMTPC_ERR_WANT_WRITE);
  ck_assert_int_eq(io.send(io.ctx, (const unsigned char *)"PT\r\n", 4),
                   SMTPC_ERR_IO);
  ck_assert_ptr_nonnull(strstr(ts_mismatch(t), "split over several send()"));
  ts_free(t);
}
END_TEST

START_TEST(st_starttls_checks) {
  ts *t = ts_new();
  smtpc_io io;
  unsigned char b[8];
  ts_server(t, "220 go\r\n");
  ts_starttls_fail(t, "mx.example", SMTPC_ERR_TLS);
  ts_set_abort(t, 0);
  ts_io(t, &io);
  ck_assert(io.starttls != NULL);
  /* before the 220 was read */
  ck_assert_int_eq(io.starttls(io.ctx, "mx.example"), SMTPC_ERR_IO);
  ck_assert_ptr_nonnull(strstr(ts_mismatch(t), "starttls(mx.example)"));
  ts_rewind(t);
  ck_assert_int_eq(io.recv(io.ctx, b, sizeof(b)), 8);
  ck_assert_int_eq(io.starttls(io.ctx, "other.example"), SMTPC_ERR_IO);
  ck_assert_ptr_nonnull(strstr(ts_mismatch(t), "\"other.example\""));
  ts_rewind(t);
  ck_assert_int_eq(io.recv(io.ctx, b, sizeof(b)), 8);
  ck_assert_int_eq(io.starttls(io.ctx, "mx.example"), SMTPC_ERR_TLS);
  ck_assert_uint_eq(ts_sent_before_tls(t), 0);
  ts_done(t);
  ts_set_has_starttls(t, 0);
  ts_io(t, &io);
  ck_assert(io.starttls == NULL);
  ts_free(t);
}
END_TEST

START_TEST(st_bytes_diff) {
  char out[1024];
  ck_assert_int_eq(tu_bytes_diff(out, sizeof(out), "abc", 3, "abc", 3), 0);
  ck_assert_int_eq(tu_bytes_diff(out, sizeof(out), "a\r\nb", 4, "a\nb", 3), 1);
  ck_assert_str_eq(out, "bytes differ at offset 1 (expected 4 bytes, got 3)\n"
                        "  expected: \"a\\r\\nb\"\n"
                        "  actual:   \"a\\nb\"\n"
                        "              ^");
  ck_assert_int_eq(tu_bytes_diff(out, sizeof(out), "ab", 2, "a", 1), 1);
  ck_assert_ptr_nonnull(strstr(out, "actual ends early"));
  ck_assert_str_eq(tu_escape("\x01\"\\\t\xff", 5), "\\x01\\\"\\\\\\t\\xff");
}
END_TEST

START_TEST(st_alloc_counts) {
  tu_alloc a;
  void *p, *q, *r;
  tu_alloc_init(&a, 2);
  p = a.mem.malloc(a.mem.user, 10);
  ck_assert_ptr_nonnull(p);
  ck_assert_ptr_null(a.mem.malloc(a.mem.user, 10)); /* the 2nd fails */
  q = a.mem.realloc(a.mem.user, NULL, 5);           /* the 3rd works */
  ck_assert_ptr_nonnull(q);
  ck_assert_int_eq(a.live, 2);
  ck_assert_uint_eq(a.live_bytes, 15);
  r = a.mem.realloc(a.mem.user, q, 50);
  ck_assert_ptr_nonnull(r);
  ck_assert_uint_eq(a.live_bytes, 60);
  ck_assert_int_eq(a.calls, 4);
  ck_assert_int_eq(a.failures, 1);
  a.mem.free(a.mem.user, p);
  a.mem.free(a.mem.user, r);
  a.mem.free(a.mem.user, NULL);
  TU_ASSERT_NO_LEAKS(&a);
  ck_assert_int_eq(a.peak, 2);
  /* fail_after: everything from the 1st on */
  tu_alloc_init(&a, 1);
  a.fail_after = 1;
  ck_assert_ptr_null(a.mem.malloc(a.mem.user, 1));
  ck_assert_ptr_null(a.mem.malloc(a.mem.user, 1));
  ck_assert_int_eq(a.failures, 2);
}
END_TEST

static int st_three_allocs(tu_alloc *a, void *arg) {
  void *p[3];
  int i, rv = SMTPC_OK;
  (void)arg;
  for (i = 0; i < 3; i++)
    p[i] = a->mem.malloc(a->mem.user, 8);
  for (i = 0; i < 3; i++) {
    if (p[i] == NULL)
      rv = SMTPC_ERR_NOMEM;
    else
      a->mem.free(a->mem.user, p[i]);
  }
  return rv;
}

START_TEST(st_alloc_sweep) {
  ck_assert_int_eq(tu_alloc_sweep(st_three_allocs, NULL, 10), 3);
}
END_TEST

START_TEST(st_loop_macro) {
  int rv, calls = 0;
  TS_LOOP(rv, (++calls < 5 ? SMTPC_ERR_WANT_READ : SMTPC_OK));
  ck_assert_int_eq(rv, SMTPC_OK);
  ck_assert_int_eq(calls, 5);
}
END_TEST

Suite *tu_selftest_suite(void) {
  Suite *s = suite_create("testutil");
  TCase *tc = tcase_create("harness");
  tcase_add_test(tc, st_transcript_all_modes);
  tcase_add_test(tc, st_recv_spans_server_steps);
  tcase_add_test(tc, st_chunks_and_nonblock);
  tcase_add_test(tc, st_error_steps);
  tcase_add_test(tc, st_mismatch_bytes);
  tcase_add_test(tc, st_mismatch_extra_and_order);
  tcase_add_test(tc, st_nonblock_stall);
  tcase_add_test(tc, st_flight);
  tcase_add_test(tc, st_starttls_checks);
  tcase_add_test(tc, st_bytes_diff);
  tcase_add_test(tc, st_alloc_counts);
  tcase_add_test(tc, st_alloc_sweep);
  tcase_add_test(tc, st_loop_macro);
  suite_add_tcase(s, tc);
  return s;
}

/* ---- the session fixture of the transcript suites ------------------------ */

void tu_fx_init(tu_fx *f, const ts_mode *mode) {
  tu_alloc_init(&f->a, 0);
  f->t = ts_new();
  if (mode != NULL)
    ts_set_mode(f->t, mode);
  ck_assert_int_eq(smtpc_session_new(&f->s, &f->a.mem), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_ehlo_name(f->s, "client.test"), SMTPC_OK);
  ck_assert_int_eq(ts_attach(f->t, f->s, &f->io), SMTPC_OK);
}

void tu_fx_fini(tu_fx *f) {
  ts_done(f->t);
  smtpc_session_free(f->s);
  ts_free(f->t);
  TU_ASSERT_NO_LEAKS(&f->a);
}

int tu_fx_open(tu_fx *f) {
  int rv;
  TS_LOOP(rv, smtpc_session_open(f->s));
  return rv;
}

int tu_fx_run(tu_fx *f) {
  int rv;
  TS_LOOP(rv, smtpc_session_run(f->s));
  return rv;
}

int tu_fx_noop(tu_fx *f) {
  int rv;
  TS_LOOP(rv, smtpc_session_noop(f->s));
  return rv;
}

int tu_fx_quit(tu_fx *f) {
  int rv;
  TS_LOOP(rv, smtpc_session_quit(f->s));
  return rv;
}

smtpc_ssize tu_src_read(void *ctx, unsigned char *buf, size_t len) {
  tu_src *s = ctx;
  size_t n = s->len - s->off;
  if (n > len)
    n = len;
  memcpy(buf, s->data + s->off, n);
  s->off += n;
  return (smtpc_ssize)n;
}

int tu_src_rewind(void *ctx) {
  tu_src *s = ctx;
  s->off = 0;
  s->rewinds++;
  return SMTPC_OK;
}
