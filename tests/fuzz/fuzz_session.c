/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: a whole SMTP session (public API only) against a
 * server whose bytes are the fuzzer's.
 *
 * Input:
 *   byte 0  bits 0-1  AUTH mechanism: AUTO, PLAIN, LOGIN, CRAM-MD5
 *           bits 2-3  TLS: opportunistic, required, none, opportunistic with
 *                     a handshake that first returns WANT_READ
 *           bit 4     PIPELINING flag off (default on)
 *           bit 5     three transactions (default two)
 *           bit 6     NOOP, RSET and VRFY before QUIT
 *           bit 7     no credentials
 *   byte 1  bit 0     plaintext AUTH not allowed (default allowed)
 *           bit 1     send() takes at most 7 bytes, and blocks every other
 *                     call with WANT_WRITE (default: takes everything)
 *           bit 2     an authorization identity
 *           bit 3     HELO only
 *           bits 4-5  reply limits: defaults, 64-octet lines, 4 lines,
 *                     256 octets
 *           bit 6     queue the transactions before smtpc_session_open()
 *           bit 7     DSN on the first transaction: RET=HDRS, an ENVID,
 *                     NOTIFY for both recipients, an ORCPT for the second
 *   byte 2  k = byte & 15 recv sizes follow, used in turn: 0 = return
 *           WANT_READ (never twice in a row), 255 = up to and including the
 *           next LF, 254 = as much as asked, else at most that many bytes
 *           (k = 0: always up to the next LF)
 *           bit 4     SMTPC_FLAG_CHUNKING (BDAT when the server offers
 *                     CHUNKING); one more byte c follows the recv sizes:
 *                     chunks of 64 + c octets (SMTPC_LIMIT_BDAT_CHUNK)
 *           bit 5     bodies streamed through a read callback (default:
 *                     in memory)
 *           bit 6     long bodies: each body 8 times over
 *           bit 7     a streamed body gives at most 7 octets a read and
 *                     WANT_READ every other call
 *   rest    the server's byte stream; recv() returns 0 once it is used up
 *
 * A server speaks only when spoken to, and the library rightly treats bytes
 * it did not ask for as an attack (after STARTTLS's 220, or before a new
 * transaction); so by default each recv() returns one line, and the
 * fuzzer's sizes decide when more than that arrives at once.
 *
 * The starttls callback always succeeds (after which the stream simply goes
 * on, as if decrypted), so the EHLO after STARTTLS is reached.  Everything
 * the client sends is recorded and, with the trace callback's lines, checked
 * at the end: each sent byte is explained by a traced command line or a
 * message body in order; no bare CR or LF; commands end in CRLF; each body on
 * the wire is exactly the dot-stuffed, CRLF-normalised encoding of a queued
 * body, so "<CRLF>.<CRLF>" never appears before its end; SIZE= is the
 * normalised size; nothing but EHLO follows the handshake; with TLS required
 * no MAIL, RCPT, DATA, AUTH or body goes out in clear; AUTH only in clear
 * when allowed, never traced unredacted, the secret never sent in clear;
 * STARTTLS is only started when no byte after the 220 has been read; each
 * call that returns a would-block code had a callback block; transaction
 * results agree with the replies and with what went out; SMTPUTF8 only on
 * the MAIL of the message with a UTF-8 header, DSN parameters only on the
 * first transaction's commands and only when asked for (byte 1 bit 7).
 *
 * BDAT (byte 2 bit 4): every reply is matched to the command it answers
 * (one reply per traced command line, in order), so that the checker knows
 * what each chunk got.  Per transaction: chunks are reassembled by their
 * exact counts and must equal the CRLF-normalised body without
 * dot-stuffing (a CRLF added if it does not end with one); BDAT only with
 * the flag set and CHUNKING offered, only after every RCPT of the
 * transaction, and only once every MAIL and RCPT reply of it is in and one
 * RCPT was accepted -- but for a message that goes "ahead": with
 * PIPELINING offered and enabled, a MAIL and all of its RCPT commands sent
 * in one flight (no reply read between them, at most 128 RCPT) may have
 * its LAST chunk before their replies (RFC 3030 4.2), never a chunk that
 * is not LAST; at most 4 chunks unanswered (none without PIPELINING); DATA
 * and BDAT never in one transaction; never "BDAT 0" without LAST, nor
 * "BDAT 0 LAST" for a body in memory (whose end is known); no chunk after
 * a refused one, after LAST, or after an RSET; no MAIL while chunks are
 * open; RSET before a MAIL that follows a refused chunk (LAST too) or a
 * LAST chunk not answered yet (RFC 3030 2: its outcome is unknown); a
 * transaction reported sent had all of its LAST chunk sent and answered
 * 2xx, and that reply is its final reply.
 *
 * LIMITS (RFC 9422), read from the server's EHLO reply here, independently
 * of lib/ehlo.c: the last EHLO answered 250 (after STARTTLS the new one)
 * sets MAILMAX, RCPTMAX and RCPTDOMAINMAX (names case-insensitive, a value
 * of 1 to 10 digits worth 1 to 10^9, the first of a name counts, the rest
 * ignored); HELO clears them.  Checked: no more MAIL commands than
 * MAILMAX; no more RCPT in one transaction than RCPTMAX, nor more distinct
 * domains (after the last '@', ASCII case-insensitive) than RCPTDOMAINMAX;
 * a message with more goes in rounds, each as many recipients in order as
 * the limits allow, and no other message's MAIL comes between its rounds
 * (after one, no further round of it); a streamed body (no rewind here)
 * that needs rounds gets no MAIL and may end SMTPC_ERR_RCPT_LIMIT (only
 * then); SMTPC_ERR_MAIL_LIMIT only once MAILMAX MAIL were sent; a message
 * reported sent (OK or PARTIAL): each recipient whose reply is 2xx had its
 * RCPT answered 2xx in a transaction whose end of data ("." or a whole
 * LAST chunk) was answered 2xx.  Each round is one transaction for the
 * DATA/BDAT checks above.  The queued messages have 2 (two domains), 1 and
 * 3 (one domain) recipients, so no input bit is needed for rounds.
 *
 * F7-F10, found by these checks, are fixed (tests/fuzz/README.md); the
 * -DFUZZ_TOLERATE_KNOWN guards are kept for the next open finding.
 */
#include <smtpc/smtpc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                                              \
  do {                                                                         \
    fprintf(stderr, "fuzz_session: " __VA_ARGS__);                             \
    fputc('\n', stderr);                                                       \
    abort();                                                                   \
  } while (0)

/* A condition that excuses a known, open finding: only with
 * -DFUZZ_TOLERATE_KNOWN (never for make fuzz-smoke) */
#ifdef FUZZ_TOLERATE_KNOWN
#define KNOWN(cond) (cond)
#else
#define KNOWN(cond) 0
#endif

#define EHLO_NAME "client.example"
#define SERVER_NAME "mx.example"
#define USER "fuzz-user"
#define SECRET "Fuzz-S3cret!"
#define MAX_TXN 3
#define MAX_RCPT 3   /* the most recipients of a queued message */
#define MAX_ROUNDS 8 /* transactions on the wire: at most one a recipient */

static int dsn_on; /* byte 1 bit 7 */
/* byte 2 bits 4-7 */
static int bdat_on, stream_on, long_on, stream_small;
static size_t bdat_chunk;
#define LONG_REPEAT 8

/* ---- the queued messages ------------------------------------------------- */

static const char body1[] =
    "Subject: fuzz\r\n\r\n.leading dot\n..two dots\r\n.\r\n"
    "smuggled end above\nbare\rcr\r\n\n.";
static const char body2[] = ".\n.\r\n\r\n.\r.\nx\n";
static const char body3[] = "Subject: caf\xc3\xa9\r\n\r\nna\xc3\xafve\n.\n";
static const char *const rcpts1[] = {"bob@example.net", "carol@example.com"};
static const char *const rcpts2[] = {"postmaster"};
static const char *const rcpts3[] = {"erin@example.net", "frank@example.net",
                                     "grace@example.net"};
static const struct {
  const char *from;
  const char *const *rcpts;
  size_t nrcpts;
  const char *body;
  size_t len;
} msgs[MAX_TXN] = {
    {"alice@example.org", rcpts1, 2, body1, sizeof(body1) - 1},
    {"", rcpts2, 1, body2, sizeof(body2) - 1},
    {"dave@example.org", rcpts3, 3, body3, sizeof(body3) - 1},
};

/* The bodies of this input: msgs[i].body, or LONG_REPEAT copies of it. */
static const char *mbody[MAX_TXN];
static size_t mlen[MAX_TXN];

static void choose_bodies(void) {
  static char *longb[MAX_TXN];
  size_t i, r;
  for (i = 0; i < MAX_TXN; i++) {
    if (!long_on) {
      mbody[i] = msgs[i].body;
      mlen[i] = msgs[i].len;
      continue;
    }
    if (longb[i] == NULL) {
      if ((longb[i] = malloc(LONG_REPEAT * msgs[i].len)) == NULL)
        abort();
      for (r = 0; r < LONG_REPEAT; r++)
        memcpy(longb[i] + r * msgs[i].len, msgs[i].body, msgs[i].len);
    }
    mbody[i] = longb[i];
    mlen[i] = LONG_REPEAT * msgs[i].len;
  }
}

/* A streamed body: the bytes of mbody[i], at most 7 at a time and
 * WANT_READ every other call when stream_small. */
typedef struct stream {
  const char *p;
  size_t len, off;
  int toggle;
  unsigned long *blocks;
} stream;

static smtpc_ssize s_read(void *ctx, unsigned char *buf, size_t len) {
  stream *st = ctx;
  size_t n = st->len - st->off;
  if (buf == NULL || len == 0)
    FAIL("body read(%p, %zu)", (void *)buf, len);
  if (stream_small) {
    if ((st->toggle ^= 1) != 0) {
      (*st->blocks)++;
      return SMTPC_ERR_WANT_READ;
    }
    if (n > 7)
      n = 7;
  }
  if (n > len)
    n = len;
  memcpy(buf, st->p + st->off, n);
  st->off += n;
  return (smtpc_ssize)n;
}

/* The BDAT reference: CR, LF and CRLF become CRLF, nothing is stuffed, a
 * CRLF ends it if the body does not; *body_len gets the length before that
 * CRLF (what the library counts as the body's octets). */
static unsigned char *reference_bdat(const char *b, size_t n, size_t *len,
                                     size_t *body_len) {
  unsigned char *o = malloc(2 * n + 4);
  size_t i, k = 0;
  int bol = 1;
  if (o == NULL)
    abort();
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)b[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < n && b[i + 1] == '\n')
        i++;
      o[k++] = '\r';
      o[k++] = '\n';
      bol = 1;
      continue;
    }
    o[k++] = c;
    bol = 0;
  }
  *body_len = k;
  if (!bol) {
    o[k++] = '\r';
    o[k++] = '\n';
  }
  *len = k;
  return o;
}

/* The reference encoding of a body: CR, LF and CRLF become CRLF, a line
 * starting with '.' gets another, then end of data (a CRLF first if the
 * body does not end with one).  *body_len gets the length before the end
 * marker part the library writes last; *size the RFC 1870 size (normalised,
 * unstuffed, with a final CRLF). */
static unsigned char *reference(const char *b, size_t n, size_t *len,
                                size_t *body_len, long long *size) {
  unsigned char *o = malloc(3 * n + 8);
  size_t i, k = 0, dots = 0;
  int bol = 1;
  if (o == NULL)
    abort();
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)b[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < n && b[i + 1] == '\n')
        i++;
      o[k++] = '\r';
      o[k++] = '\n';
      bol = 1;
      continue;
    }
    if (bol && c == '.') {
      o[k++] = '.';
      dots++;
    }
    o[k++] = c;
    bol = 0;
  }
  *body_len = k;
  *size = (long long)(k - dots + (bol ? 0 : 2));
  if (!bol) {
    o[k++] = '\r';
    o[k++] = '\n';
  }
  memcpy(o + k, ".\r\n", 3);
  *len = k + 3;
  return o;
}

/* ---- the transport ------------------------------------------------------- */

typedef struct event {
  int dir;
  char *text;
  size_t len;
  int secure; /* the transport was secure when it was traced */
} event;

typedef struct harness {
  const uint8_t *in;
  size_t n, pos;
  const uint8_t *chunks;
  size_t k, ci;
  int last_block;
  int short_send, send_toggle;
  unsigned char *sent;
  size_t nsent, capsent;
  unsigned long blocks; /* would-block returns by any callback */
  unsigned long calls;  /* public calls that returned a would-block code */
  int policy, tls_up, tls_calls, tls_want_first;
  event *ev;
  size_t nev, capev;
  int closed;
} harness;

static smtpc_ssize h_recv(void *ctx, unsigned char *buf, size_t len) {
  harness *h = ctx;
  size_t want = len;
  if (buf == NULL || len == 0)
    FAIL("recv(%p, %zu)", (void *)buf, len);
  if (h->closed)
    FAIL("recv after close");
  if (h->pos == h->n)
    return 0;
  {
    unsigned c = h->k > 0 ? h->chunks[h->ci++ % h->k] : 255;
    if (c == 0) {
      if (!h->last_block) {
        h->last_block = 1;
        h->blocks++;
        return SMTPC_ERR_WANT_READ;
      }
      c = 255;
    }
    if (want > h->n - h->pos)
      want = h->n - h->pos;
    if (c == 255) {
      const uint8_t *lf = memchr(h->in + h->pos, '\n', want);
      if (lf != NULL)
        want = (size_t)(lf - (h->in + h->pos)) + 1;
    } else if (c != 254 && c < want) {
      want = c;
    }
  }
  h->last_block = 0;
  memcpy(buf, h->in + h->pos, want);
  h->pos += want;
  return (smtpc_ssize)want;
}

static smtpc_ssize h_send(void *ctx, const unsigned char *buf, size_t len) {
  harness *h = ctx;
  if (buf == NULL || len == 0)
    FAIL("send(%p, %zu)", (const void *)buf, len);
  if (h->closed)
    FAIL("send after close");
  if (h->short_send) {
    if ((h->send_toggle ^= 1) != 0) {
      h->blocks++;
      return SMTPC_ERR_WANT_WRITE;
    }
    if (len > 7)
      len = 7;
  }
  if (h->capsent - h->nsent < len) {
    size_t c = h->capsent ? h->capsent : 1024;
    while (c - h->nsent < len)
      c *= 2;
    if ((h->sent = realloc(h->sent, c)) == NULL)
      abort();
    h->capsent = c;
  }
  memcpy(h->sent + h->nsent, buf, len);
  h->nsent += len;
  return (smtpc_ssize)len;
}

static int h_starttls(void *ctx, const char *servername) {
  harness *h = ctx;
  if (h->policy == SMTPC_SECURITY_NONE)
    FAIL("starttls() called with TLS policy none");
  if (h->tls_up)
    FAIL("starttls() called twice");
  if (servername == NULL || strcmp(servername, SERVER_NAME) != 0)
    FAIL("starttls() for server name \"%s\"", servername ? servername : "");
  if (h->tls_want_first && h->tls_calls++ == 0) {
    h->blocks++;
    return SMTPC_ERR_WANT_READ;
  }
  /* Response injection: every byte read so far must belong to replies
   * before and including the 220, so the last one read ends a line. */
  if (h->pos == 0 || h->in[h->pos - 1] != '\n')
    FAIL("starttls() after reading %zu bytes that do not end at a line end",
         h->pos);
  if (h->nsent < 10 || memcmp(h->sent + h->nsent - 10, "STARTTLS\r\n", 10))
    FAIL("starttls() but the last thing sent is not STARTTLS");
  h->tls_up = 1;
  return SMTPC_OK;
}

static int h_is_secure(void *ctx) { return ((harness *)ctx)->tls_up; }

static void h_set_timeout(void *ctx, unsigned ms) {
  (void)ctx;
  (void)ms;
}

static void h_close(void *ctx) { ((harness *)ctx)->closed = 1; }

static void h_trace(void *user, smtpc_trace_dir dir, const char *line,
                    size_t len) {
  harness *h = user;
  event *e;
  if (line == NULL && len > 0)
    FAIL("trace(NULL, %zu)", len);
  if (h->nev == h->capev) {
    h->capev = h->capev ? 2 * h->capev : 64;
    if ((h->ev = realloc(h->ev, h->capev * sizeof(*h->ev))) == NULL)
      abort();
  }
  e = &h->ev[h->nev++];
  e->dir = (int)dir;
  e->len = len;
  e->secure = h->tls_up;
  if ((e->text = malloc(len + 1)) == NULL)
    abort();
  if (len > 0)
    memcpy(e->text, line, len);
  e->text[len] = '\0';
}

/* ---- driving ------------------------------------------------------------- */

static unsigned long call_cap;

static int h_vrfy(smtpc_session *s) {
  return smtpc_session_vrfy(s, "postmaster");
}

static int loop(harness *h, smtpc_session *s, int (*fn)(smtpc_session *),
                const char *name) {
  for (;;) {
    unsigned long b0 = h->blocks;
    int rv = fn(s);
    if (rv != SMTPC_ERR_WANT_READ && rv != SMTPC_ERR_WANT_WRITE)
      return rv;
    /* a would-block code with nothing blocked would hang an event loop */
    if (h->blocks == b0)
      FAIL("%s returned %d but no callback would block", name, rv);
    if (++h->calls > call_cap)
      FAIL("%s still blocks after %lu calls", name, h->calls);
  }
}

/* ---- checks -------------------------------------------------------------- */

static int starts(const char *s, const char *p) {
  return strncmp(s, p, strlen(p)) == 0;
}

static int is_b64(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}

typedef struct walk {
  const harness *h;
  size_t cur;
  int ended; /* the sent stream ended inside an item */
} walk;

/* Matches literal bytes at the cursor.  Returns 1 when all were sent. */
static int expect_lit(walk *w, const void *p, size_t n, const char *what) {
  size_t avail = w->h->nsent - w->cur, m = n < avail ? n : avail;
  if (m > 0 && memcmp(w->h->sent + w->cur, p, m) != 0)
    FAIL("sent bytes at offset %zu are not %s", w->cur, what);
  w->cur += m;
  if (m < n)
    w->ended = 1;
  return m == n;
}

/* Base64 text (maybe empty) then CRLF.  Returns 1 when all were sent. */
static int expect_b64_line(walk *w) {
  const harness *h = w->h;
  while (w->cur < h->nsent && is_b64(h->sent[w->cur]))
    w->cur++;
  return expect_lit(w, "\r\n", 2, "the CRLF after an AUTH response");
}

/* ---- replies matched to commands (for BDAT) ------------------------------ */

enum { K_GREETING, K_EHLO, K_HELO, K_MAIL, K_RCPT, K_BDAT, K_EOD, K_OTHER };

typedef struct pending {
  int kind;
  size_t txn;  /* the transaction on the wire (a round), see txn_wire */
  int last;    /* K_BDAT: the LAST chunk */
  size_t rcpt; /* K_RCPT: the recipient's index in its message */
} pending;

/* What one transaction (one MAIL: a message, or one round of a message
 * sent in several) did on the wire. */
typedef struct txn_wire {
  size_t msg;    /* the queued message it carries */
  size_t rfirst; /* its recipients: msgs[msg].rcpts[rfirst..rend) */
  size_t rend;
  size_t ridx;                  /* its round: 0 for the first (or only) one */
  unsigned char racc[MAX_RCPT]; /* by index in the message: RCPT got 2xx */
  int eod_whole;                /* "." (DATA) went out whole after the body */
  int eod_code;                 /* the reply to "." (0: none) */
  int mode;                     /* 0 nothing yet, 1 DATA, 2 BDAT */
  int env_out;       /* its MAIL and RCPT commands not answered yet */
  size_t rcpt_sent;  /* its RCPT commands traced */
  int env_flight;    /* MAIL and RCPTs so far traced with no reply between */
  int accepted;      /* its RCPT commands answered 2xx */
  size_t nchunks;    /* BDAT commands */
  size_t bdat_out;   /* chunks but LAST not answered yet */
  int refused;       /* a chunk but LAST was answered 4xx/5xx */
  int last_sent;     /* "BDAT n LAST" traced */
  int last_whole;    /* ... and its octets all went out */
  int last_code;     /* the reply to LAST (0: none yet) */
  int complete;      /* whole LAST and chunks equal to the body */
  int rset_after;    /* an RSET was traced after its first chunk */
  int mail_after;    /* a MAIL was traced after its LAST, before an RSET */
  unsigned char *re; /* the chunks joined */
  size_t relen;
} txn_wire;

/* "250-KEYWORD params": the keyword as lib/ehlo.c reads it. */
static int cap_is(const char *line, const char *kw) {
  const char *k = strlen(line) > 4 ? line + 4 : "";
  size_t n = 0, kl = strlen(kw), i;
  while ((k[n] >= 'A' && k[n] <= 'Z') || (k[n] >= 'a' && k[n] <= 'z') ||
         (k[n] >= '0' && k[n] <= '9') || (n > 0 && k[n] == '-'))
    n++;
  if (n != kl || (k[n] != '\0' && k[n] != ' '))
    return 0;
  for (i = 0; i < n; i++)
    if ((k[i] & ~0x20) != kw[i])
      return 0;
  return 1;
}

/* ---- RFC 9422 LIMITS, read independently of lib/ehlo.c ------------------ */

enum { L_MAIL, L_RCPT, L_DOM };

static int ascii_upper(int c) { return c >= 'a' && c <= 'z' ? c - 32 : c; }

/* "250-LIMITS name=value ...": the limits it sets in lim (MAILMAX, RCPTMAX,
 * RCPTDOMAINMAX), each only while still unset (the first one counts).
 * Tokens are split at spaces; a name matches case-insensitively; a value
 * counts when it is 1 to 10 decimal digits worth 1 to 10^9. */
static void limits_line(const char *line, size_t lim[3]) {
  static const char *const names[3] = {"MAILMAX", "RCPTMAX", "RCPTDOMAINMAX"};
  const char *p;
  if (!cap_is(line, "LIMITS"))
    return;
  p = line + 4 + 6;
  while (*p == ' ' || *p == '=') /* as after any keyword */
    p++;
  while (*p != '\0') {
    size_t tl = 0, nl = 0, i, d;
    unsigned long long v = 0;
    while (p[tl] != '\0' && p[tl] != ' ')
      tl++;
    while (nl < tl && p[nl] != '=')
      nl++;
    for (i = 0; i < 3 && nl < tl; i++) {
      size_t c;
      if (strlen(names[i]) != nl)
        continue;
      for (c = 0; c < nl && ascii_upper((unsigned char)p[c]) == names[i][c];
           c++)
        ;
      if (c == nl)
        break;
    }
    if (i < 3 && nl < tl) {
      const char *val = p + nl + 1;
      size_t vl = tl - nl - 1;
      for (d = 0; d < vl && val[d] >= '0' && val[d] <= '9'; d++)
        if (d < 10)
          v = v * 10 + (unsigned)(val[d] - '0');
      if (d == vl && vl >= 1 && vl <= 10 && v >= 1 && v <= 1000000000ULL &&
          lim[i] == 0)
        lim[i] = (size_t)v;
    }
    p += tl;
    while (*p == ' ')
      p++;
  }
}

/* The domain of a recipient: after its last '@' ("" without one). */
static const char *rcpt_dom(const char *a) {
  const char *at = strrchr(a, '@');
  return at != NULL ? at + 1 : "";
}

static int dom_eq(const char *a, const char *b) {
  while (*a != '\0' &&
         ascii_upper((unsigned char)*a) == ascii_upper((unsigned char)*b))
    a++, b++;
  return *a == '\0' && *b == '\0';
}

/* The end of the round of message b that starts at recipient first: as
 * many recipients in order as RCPTMAX and RCPTDOMAINMAX allow. */
static size_t round_stop(size_t b, size_t first, const size_t lim[3]) {
  const char *dom[MAX_RCPT];
  size_t end, ndom = 0, j;
  for (end = first; end < msgs[b].nrcpts; end++) {
    const char *d = rcpt_dom(msgs[b].rcpts[end]);
    if (lim[L_RCPT] != 0 && end - first == lim[L_RCPT])
      break;
    for (j = 0; j < ndom && !dom_eq(dom[j], d); j++)
      ;
    if (j == ndom) {
      if (lim[L_DOM] != 0 && ndom == lim[L_DOM])
        break;
      dom[ndom++] = d;
    }
  }
  return end;
}

static void check_session(harness *h, smtpc_txn *const *t, size_t ntxn,
                          int policy, int allow_plain, int pipe_flag) {
  unsigned char *ref[MAX_TXN], *bref[MAX_TXN];
  size_t reflen[MAX_TXN], refbody[MAX_TXN], i;
  size_t breflen[MAX_TXN], brefbody[MAX_TXN], j;
  long long refsize[MAX_TXN];
  walk w = {h, 0, 0};
  int in_fin = -1, after_tls = 0, seen_in = 0;
  size_t eods = 0, n354 = 0, bodies = 0, successes = 0;
  size_t mails = 0, rcpts = 0, datas = 0, nrcpt_total = 0, cur = MAX_ROUNDS;
  /* LIMITS: of the EHLO reply being read, and in force */
  size_t e_lim[3] = {0, 0, 0}, lim[3] = {0, 0, 0};
  size_t nslot = 0;              /* transactions on the wire (tw) */
  size_t mnext[MAX_TXN] = {0};   /* a message's next round starts here */
  size_t mrounds[MAX_TXN] = {0}; /* its MAIL commands */
  int cut[MAX_TXN] = {0};        /* another message went between rounds */
  size_t rounds_of = MAX_TXN;    /* the message with rounds still to go */
  /* replies matched to commands */
  pending *fifo = malloc((h->nev + 2) * sizeof(*fifo));
  size_t fhead = 0, ftail = 0, rline = 0;
  int rcode = 0, caps_pipe = 0, caps_chunk = 0, e_pipe = 0, e_chunk = 0;
  int bdat_info = -1; /* the transaction whose LAST was just traced */
  txn_wire tw[MAX_ROUNDS];

  if (fifo == NULL)
    abort();
  memset(tw, 0, sizeof(tw));
  fifo[ftail].kind = K_GREETING;
  fifo[ftail].txn = MAX_ROUNDS;
  fifo[ftail].rcpt = 0;
  fifo[ftail++].last = 0;

  /* 1. no bare CR or LF anywhere in what was sent (a CR may end the
   * stream only when the session stopped in the middle of a write) */
  for (i = 0; i < h->nsent; i++) {
    if (h->sent[i] == '\r' && i + 1 < h->nsent && h->sent[i + 1] != '\n')
      FAIL("bare CR sent at offset %zu", i);
    if (h->sent[i] == '\n' && (i == 0 || h->sent[i - 1] != '\r'))
      FAIL("bare LF sent at offset %zu", i);
    if (h->sent[i] == '\0')
      FAIL("NUL sent at offset %zu", i);
  }
  for (i = 0; i + strlen(SECRET) <= h->nsent; i++)
    if (memcmp(h->sent + i, SECRET, strlen(SECRET)) == 0)
      FAIL("the secret was sent in clear");

  for (i = 0; i < ntxn; i++) {
    ref[i] = reference(mbody[i], mlen[i], &reflen[i], &refbody[i], &refsize[i]);
    bref[i] = reference_bdat(mbody[i], mlen[i], &breflen[i], &brefbody[i]);
    nrcpt_total += msgs[i].nrcpts;
  }

  /* 2. every sent byte is explained by the trace, in order */
  for (i = 0; i < h->nev; i++) {
    const event *e = &h->ev[i];
    if (e->dir == SMTPC_TRACE_IN) {
      seen_in = 1;
      /* a reply read: an envelope not yet sent whole is not in one flight */
      if (cur < nslot && tw[cur].rcpt_sent < tw[cur].rend - tw[cur].rfirst)
        tw[cur].env_flight = 0;
      if (starts(e->text, "354") && (e->len == 3 || e->text[3] == ' '))
        n354++;
      if (fhead == ftail)
        continue; /* unsolicited: the library fails on it */
      if (rline++ == 0) {
        rcode = atoi(e->text);
        e_pipe = e_chunk = 0;
        e_lim[0] = e_lim[1] = e_lim[2] = 0;
      } else if (fifo[fhead].kind == K_EHLO) {
        e_pipe |= cap_is(e->text, "PIPELINING");
        e_chunk |= cap_is(e->text, "CHUNKING");
        limits_line(e->text, e_lim);
      }
      if (e->len < 4 || e->text[3] != '-') { /* the reply is complete */
        const pending *f = &fifo[fhead++];
        txn_wire *x = f->txn < nslot ? &tw[f->txn] : NULL;
        rline = 0;
        if (f->kind == K_EHLO && rcode == 250) {
          caps_pipe = e_pipe;
          caps_chunk = e_chunk;
          memcpy(lim, e_lim, sizeof(lim));
        } else if (f->kind == K_HELO && rcode == 250) {
          caps_pipe = caps_chunk = 0;
          lim[0] = lim[1] = lim[2] = 0;
        } else if (f->kind == K_EOD && x != NULL) {
          x->eod_code = rcode;
        } else if ((f->kind == K_MAIL || f->kind == K_RCPT) && x != NULL) {
          x->env_out--;
          if (f->kind == K_RCPT && rcode / 100 == 2) {
            x->accepted++;
            x->racc[f->rcpt] = 1;
          }
        } else if (f->kind == K_BDAT && x != NULL) {
          if (!f->last) {
            x->bdat_out--;
            if (rcode / 100 != 2)
              x->refused = 1;
          } else {
            x->last_code = rcode;
            /* RFC 3030 2: after a failed BDAT "A RSET command MUST be
             * issued ... before additional commands" -- LAST included
             * (F5, fixed) */
            if (rcode / 100 != 2 && x->mail_after)
              FAIL("txn %zu: LAST refused (%d) and the next MAIL went "
                   "without RSET",
                   f->txn, rcode);
          }
        }
      }
      continue;
    }
    if (e->dir == SMTPC_TRACE_INFO) {
      unsigned long long octets;
      size_t b;
      char tail;
      if (strcmp(e->text, "(TLS handshake complete)") == 0) {
        after_tls = 1;
        continue;
      }
      if (sscanf(e->text, "(%llu octets of message body%c", &octets, &tail) !=
              2 ||
          tail != ')')
        continue; /* some other note */
      if (policy == SMTPC_SECURITY_STARTTLS && !e->secure)
        FAIL("message body sent in clear with TLS required");
#ifdef FUZZ_TOLERATE_KNOWN
      /* F7 (fixed): next_round() does not reset t->body_octets, so the note
       * of round k (from 0) of a message counts the bodies of the rounds
       * before it that got as far as a body too: 1 to k + 1 bodies */
      if (cur < nslot && tw[cur].ridx > 0) {
        size_t mb = tw[cur].msg, k = tw[cur].ridx + 1;
        size_t one = bdat_info >= 0 ? brefbody[mb] : refbody[mb];
        if (one > 0 && octets % one == 0 && octets / one <= k)
          octets = one;
      }
#endif
      if (bdat_info >= 0) {
        txn_wire *x = &tw[bdat_info];
        b = x->msg;
        bdat_info = -1;
        if (octets != brefbody[b])
          FAIL("txn %zu: %llu octets of body counted, the body has %zu", b,
               octets, brefbody[b]);
        if (x->last_whole) {
          if (x->relen != breflen[b])
            FAIL("txn %zu: %zu octets in chunks, the body is %zu", b, x->relen,
                 breflen[b]);
          x->complete = 1;
          eods++;
        }
        continue;
      }
      bodies++;
      for (b = 0; b < ntxn; b++)
        if (refbody[b] == octets) {
          size_t avail = h->nsent - w.cur;
          size_t m = octets < avail ? (size_t)octets : avail;
          if (memcmp(h->sent + w.cur, ref[b], m) == 0)
            break;
        }
      if (b == ntxn)
        FAIL("a body of %llu octets sent at offset %zu is not the encoding "
             "of any queued body",
             octets, w.cur);
      if (!expect_lit(&w, ref[b], refbody[b], "the body"))
        in_fin = -1;
      else
        in_fin = (int)b;
      continue;
    }
    if (e->dir != SMTPC_TRACE_OUT)
      FAIL("trace direction %d", e->dir);
    /* a command line */
    if (memchr(e->text, '\r', e->len) || memchr(e->text, '\n', e->len) ||
        strlen(e->text) != e->len)
      FAIL("traced command holds CR, LF or NUL");
    if (strstr(e->text, SECRET))
      FAIL("the secret appears in the trace");
    if (!seen_in)
      FAIL("client sent \"%s\" before the server spoke", e->text);
    if (after_tls) {
      if (strcmp(e->text, "EHLO " EHLO_NAME) != 0)
        FAIL("\"%s\" is the first command after the TLS handshake", e->text);
      after_tls = 0;
    }
    if (policy == SMTPC_SECURITY_STARTTLS && !e->secure &&
        (starts(e->text, "MAIL") || starts(e->text, "RCPT") ||
         starts(e->text, "DATA") || starts(e->text, "AUTH") ||
         starts(e->text, "BDAT") || strcmp(e->text, ".") == 0 ||
         strcmp(e->text, "<redacted>") == 0))
      FAIL("\"%s\" sent in clear with TLS required", e->text);
    if (!allow_plain && !e->secure && starts(e->text, "AUTH"))
      FAIL("AUTH sent in clear though not allowed");
    /* every command line gets one reply, in order */
    fifo[ftail].kind = starts(e->text, "EHLO ")        ? K_EHLO
                       : starts(e->text, "HELO ")      ? K_HELO
                       : starts(e->text, "MAIL FROM:") ? K_MAIL
                       : starts(e->text, "RCPT TO:")   ? K_RCPT
                       : starts(e->text, "BDAT ")      ? K_BDAT
                       : strcmp(e->text, ".") == 0     ? K_EOD
                                                       : K_OTHER;
    fifo[ftail].txn = cur;
    fifo[ftail].rcpt = 0;
    fifo[ftail++].last = 0;
    if (strcmp(e->text, ".") == 0) {
      if (in_fin >= 0) {
        const int b = in_fin;
        if (expect_lit(&w, ref[b] + refbody[b], reflen[b] - refbody[b],
                       "the end of data")) {
          eods++;
          if (cur < nslot)
            tw[cur].eod_whole = 1;
        }
        in_fin = -1;
      } else if (!w.ended) {
        /* the empty message after 354 with no recipient accepted */
        if (expect_lit(&w, ".\r\n", 3, "\".\" CRLF"))
          eods++;
      }
      continue;
    }
    if (in_fin >= 0)
      FAIL("\"%s\" traced between a body and its end", e->text);
    if (starts(e->text, "BDAT ")) {
      const char *p = e->text + 5;
      char *end = NULL;
      unsigned long long n;
      int last;
      txn_wire *x;
      if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] != '\0' && p[1] != ' '))
        FAIL("malformed \"%s\"", e->text);
      n = strtoull(p, &end, 10);
      last = strcmp(end, " LAST") == 0;
      if (!last && *end != '\0')
        FAIL("malformed \"%s\"", e->text);
      if (cur >= nslot)
        FAIL("\"%s\" outside a transaction", e->text);
      x = &tw[cur];
      if (!bdat_on)
        FAIL("\"%s\" without SMTPC_FLAG_CHUNKING", e->text);
      if (!caps_chunk)
        FAIL("\"%s\" but the server did not offer CHUNKING", e->text);
      if (x->mode == 1)
        FAIL("txn %zu: BDAT after DATA", cur);
      x->mode = 2;
      if (x->last_sent)
        FAIL("txn %zu: \"%s\" after LAST", cur, e->text);
      if (x->refused)
        FAIL("txn %zu: \"%s\" after a refused chunk", cur, e->text);
      if (x->rset_after)
        FAIL("txn %zu: \"%s\" after an RSET", cur, e->text);
      if (x->rcpt_sent != x->rend - x->rfirst)
        FAIL("txn %zu: \"%s\" after %zu of %zu RCPT commands", cur, e->text,
             x->rcpt_sent, x->rend - x->rfirst);
      if (x->env_out != 0) {
        /* ahead of the envelope's replies (RFC 3030 4.2): the whole body
         * in one LAST chunk, the envelope in one pipelined flight; a chunk
         * that is not LAST waits, so a refused envelope costs no data */
        if (!last)
          FAIL("txn %zu: \"%s\" (not LAST) before %d MAIL/RCPT replies", cur,
               e->text, x->env_out);
        if (!pipe_flag || !caps_pipe)
          FAIL("txn %zu: \"%s\" before %d MAIL/RCPT replies without "
               "PIPELINING",
               cur, e->text, x->env_out);
        if (!x->env_flight || x->rcpt_sent > 128)
          FAIL("txn %zu: \"%s\" before %d MAIL/RCPT replies, its envelope "
               "not sent in one flight",
               cur, e->text, x->env_out);
      } else if (x->accepted == 0) {
        FAIL("txn %zu: \"%s\" with no recipient accepted", cur, e->text);
      }
      if (n == 0 && !last)
        FAIL("txn %zu: BDAT 0 without LAST", cur);
      if (n == 0 && x->nchunks == 0)
        FAIL("txn %zu: an empty first chunk", cur);
      /* the end of a body in memory is known when its last chunk goes
       * (F6, fixed: an encoding that ended with CRLF 0-1 octets before the
       * chunk's end got "BDAT n" and then "BDAT 0 LAST") */
      if (n == 0 && !stream_on)
        FAIL("txn %zu: BDAT 0 LAST for a body in memory", cur);
      if (n > bdat_chunk)
        FAIL("txn %zu: a chunk of %llu octets, the limit is %zu", cur, n,
             bdat_chunk);
      if (x->bdat_out >= 4)
        FAIL("txn %zu: a chunk with 4 unanswered", cur);
      if ((!pipe_flag || !caps_pipe) && ftail - fhead != 1)
        FAIL("txn %zu: a chunk with %zu replies outstanding, no PIPELINING",
             cur, ftail - fhead - 1);
      x->nchunks++;
      fifo[ftail - 1].txn = cur;
      fifo[ftail - 1].last = last;
      if (last) {
        x->last_sent = 1;
        bdat_info = (int)cur;
      } else {
        x->bdat_out++;
      }
      if (expect_lit(&w, e->text, e->len, "a BDAT command") &&
          expect_lit(&w, "\r\n", 2, "the CRLF of BDAT")) {
        size_t avail = h->nsent - w.cur, m = n < avail ? (size_t)n : avail;
        if ((x->re = realloc(x->re, x->relen + m + 1)) == NULL)
          abort();
        memcpy(x->re + x->relen, h->sent + w.cur, m);
        if (x->relen + m > breflen[x->msg] ||
            memcmp(x->re + x->relen, bref[x->msg] + x->relen, m) != 0)
          FAIL("txn %zu: chunk %zu (\"%s\") at offset %zu is not the body "
               "from octet %zu",
               cur, x->nchunks, e->text, w.cur, x->relen);
        x->relen += m;
        w.cur += m;
        if (m < n)
          w.ended = 1;
        else if (last)
          x->last_whole = 1;
      }
      continue;
    }
    if (starts(e->text, "AUTH ")) {
      size_t n = e->len;
      static const char red[] = " <redacted>";
      if (n > sizeof(red) - 1 &&
          strcmp(e->text + n - (sizeof(red) - 1), red) == 0) {
        if (expect_lit(&w, e->text, n - (sizeof(red) - 2), "an AUTH command"))
          expect_b64_line(&w);
      } else {
        if (strchr(e->text + 5, ' '))
          FAIL("AUTH traced unredacted: \"%s\"", e->text);
        if (expect_lit(&w, e->text, n, "an AUTH command"))
          expect_lit(&w, "\r\n", 2, "CRLF");
      }
      continue;
    }
    if (strcmp(e->text, "<redacted>") == 0) {
      expect_b64_line(&w);
      continue;
    }
    if (starts(e->text, "MAIL FROM:")) {
      const char *sz = strstr(e->text, " SIZE=");
      size_t b;
      mails++;
      for (b = 0; b < ntxn; b++) {
        char want[128];
        snprintf(want, sizeof(want), "MAIL FROM:<%s>", msgs[b].from);
        if (starts(e->text, want))
          break;
      }
      if (b == ntxn)
        FAIL("unknown sender in \"%s\"", e->text);
      if (sz != NULL && strtoll(sz + 6, NULL, 10) != refsize[b])
        FAIL("\"%s\": body %zu has %lld octets", e->text, b, refsize[b]);
      /* SMTPUTF8 covers 8-bit data when the server did not also list
       * 8BITMIME (RFC 6531 3.1): no BODY parameter it never offered */
      if (b == 2 && !strstr(e->text, " BODY=8BITMIME") &&
          !strstr(e->text, " SMTPUTF8"))
        FAIL("8-bit body announced without BODY=8BITMIME: \"%s\"", e->text);
      if (b != 2 && strstr(e->text, " BODY=8BITMIME"))
        FAIL("7-bit body announced as 8BITMIME: \"%s\"", e->text);
      if (b != 2 && strstr(e->text, " SMTPUTF8"))
        FAIL("SMTPUTF8 for an ASCII message: \"%s\"", e->text);
      if ((strstr(e->text, " RET=") || strstr(e->text, " ENVID=")) &&
          !(dsn_on && b == 0 &&
            strstr(e->text, " RET=HDRS ENVID=fuzz+2B1+3Da+20b")))
        FAIL("DSN parameters not asked for: \"%s\"", e->text);
      /* LIMITS (RFC 9422): MAILMAX, and a message to more recipients or
       * domains than allowed goes in rounds, in order, nothing between */
      if (lim[L_MAIL] != 0 && mails > lim[L_MAIL])
        FAIL("MAIL number %zu, the server's MAILMAX is %zu: \"%s\"", mails,
             lim[L_MAIL], e->text);
      if (mails > nrcpt_total || nslot == MAX_ROUNDS)
        FAIL("%zu MAIL commands for %zu recipients", mails, nrcpt_total);
      if (mnext[b] >= msgs[b].nrcpts)
        FAIL("message %zu: a MAIL after its last round: \"%s\"", b, e->text);
      if (cut[b])
        FAIL("message %zu: a round after another message's MAIL", b);
      if (rounds_of < MAX_TXN && rounds_of != b)
        cut[rounds_of] = 1; /* fine only if it has ended already */
      cur = nslot++;
      tw[cur].msg = b;
      tw[cur].rfirst = mnext[b];
      tw[cur].rend = round_stop(b, mnext[b], lim);
      tw[cur].ridx = mrounds[b];
      mnext[b] = tw[cur].rend;
      rounds_of = tw[cur].rend < msgs[b].nrcpts ? b : MAX_TXN;
      if (mrounds[b]++ == 0 && tw[cur].rend < msgs[b].nrcpts && stream_on)
        FAIL("message %zu: MAIL for a one-shot stream that needs rounds "
             "(RCPTMAX %zu, RCPTDOMAINMAX %zu)",
             b, lim[L_RCPT], lim[L_DOM]);
      fifo[ftail - 1].txn = cur;
      tw[cur].env_out++;
      tw[cur].rcpt_sent = 0;
      tw[cur].env_flight = 1;
      for (j = 0; j < nslot; j++) {
        txn_wire *x = &tw[j];
        if (j == cur || x->mode != 2 || x->rset_after)
          continue;
#ifdef FUZZ_TOLERATE_KNOWN
        /* F8 (fixed): a message sent in rounds never goes "ahead", so
         * send_envelope() owes no RSET for the LAST chunk before it */
        if (mrounds[b] > 1 || tw[cur].rend < msgs[b].nrcpts)
          continue;
#endif
        if (!x->last_sent)
          FAIL("\"%s\" while txn %zu's chunks are open (no LAST, no RSET)",
               e->text, j);
        x->mail_after = 1;
        /* RFC 3030 2: RSET after a failed BDAT; a LAST not answered yet
         * may fail, so a MAIL behind it needs one too */
        if (x->last_code == 0)
          FAIL("\"%s\" behind txn %zu's LAST, unanswered, without RSET",
               e->text, j);
        if (x->last_code / 100 != 2)
          FAIL("\"%s\" after txn %zu's LAST got %d, without RSET", e->text, j,
               x->last_code);
      }
    } else if (starts(e->text, "RCPT TO:")) {
      rcpts++;
      if (cur < nslot) {
        txn_wire *x = &tw[cur];
        const char *const *rl = msgs[x->msg].rcpts;
        size_t r = x->rfirst + x->rcpt_sent, nd = 0, a, c;
        char want[128];
        x->env_out++;
        x->rcpt_sent++;
        /* RCPTMAX and RCPTDOMAINMAX of the EHLO in force */
        if (lim[L_RCPT] != 0 && x->rcpt_sent > lim[L_RCPT])
          FAIL("txn %zu: RCPT number %zu, the server's RCPTMAX is %zu", cur,
               x->rcpt_sent, lim[L_RCPT]);
        if (r >= msgs[x->msg].nrcpts)
          FAIL("txn %zu: more RCPT than message %zu has recipients", cur,
               x->msg);
        for (a = x->rfirst; a <= r; a++) {
          for (c = x->rfirst;
               c < a && !dom_eq(rcpt_dom(rl[c]), rcpt_dom(rl[a])); c++)
            ;
          nd += c == a;
        }
        if (lim[L_DOM] != 0 && nd > lim[L_DOM])
          FAIL("txn %zu: %zu recipient domains, the server's RCPTDOMAINMAX "
               "is %zu",
               cur, nd, lim[L_DOM]);
        if (r >= x->rend)
          FAIL("txn %zu: recipient %zu of message %zu beyond its round "
               "[%zu, %zu)",
               cur, r, x->msg, x->rfirst, x->rend);
        snprintf(want, sizeof(want), "RCPT TO:<%s>", rl[r]);
        if (!starts(e->text, want) ||
            (e->text[strlen(want)] != '\0' && e->text[strlen(want)] != ' '))
          FAIL("txn %zu: \"%s\" is not %s, recipient %zu of message %zu", cur,
               e->text, want, r, x->msg);
        fifo[ftail - 1].rcpt = r;
      }
      if ((strstr(e->text, " NOTIFY=") || strstr(e->text, " ORCPT=")) &&
          !(dsn_on && cur < nslot && tw[cur].msg == 0))
        FAIL("DSN parameters not asked for: \"%s\"", e->text);
      if (strstr(e->text, " ORCPT=") &&
          strcmp(e->text, "RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE "
                          "ORCPT=rfc822;bob@example.net") != 0 &&
          strcmp(e->text, "RCPT TO:<carol@example.com> NOTIFY=NEVER "
                          "ORCPT=rfc822;orig+2Bcarol@example.org") != 0)
        FAIL("unexpected ORCPT: \"%s\"", e->text);
    } else if (strcmp(e->text, "DATA") == 0) {
      datas++;
      if (cur < nslot && tw[cur].mode == 2)
        FAIL("txn %zu: DATA after BDAT", cur);
      if (cur < nslot)
        tw[cur].mode = 1;
    } else if (strcmp(e->text, "RSET") == 0) {
      for (j = 0; j < nslot; j++)
        if (tw[j].mode == 2)
          tw[j].rset_after = 1;
    }
    if (expect_lit(&w, e->text, e->len, "a traced command"))
      expect_lit(&w, "\r\n", 2, "the CRLF of a command");
  }
  if (w.cur != h->nsent)
    FAIL("%zu sent bytes at offset %zu are not in the trace", h->nsent - w.cur,
         w.cur);
  if (rcpts > nrcpt_total || datas > mails)
    FAIL("%zu MAIL, %zu RCPT, %zu DATA for %zu transactions", mails, rcpts,
         datas, ntxn);
  if (bodies > n354)
    FAIL("%zu bodies sent after %zu 354 replies", bodies, n354);

  /* 3. transaction results agree with the replies and the wire */
  for (i = 0; i < ntxn; i++) {
    const smtpc_reply *fin = smtpc_txn_reply(t[i]);
    int st = smtpc_txn_status(t[i]);
    size_t r, acc = 0, n = smtpc_txn_rcpt_count(t[i]);
    const char *qid = smtpc_txn_queue_id(t[i]);
    size_t last = MAX_ROUNDS; /* its last transaction on the wire */
    int count_ok, multi = 0;  /* multi: planned in rounds */
    if (n != msgs[i].nrcpts)
      FAIL("txn %zu has %zu recipients", i, n);
    for (j = 0; j < nslot; j++)
      if (tw[j].msg == i) {
        last = j;
        multi |= tw[j].rfirst != 0 || tw[j].rend != msgs[i].nrcpts;
      }
    for (r = 0; r < n; r++) {
      const smtpc_reply *rr = smtpc_txn_rcpt_reply(t[i], r);
      if (rr != NULL) {
        int c = smtpc_reply_code(rr);
        if (c < 200 || c > 559)
          FAIL("txn %zu rcpt %zu reply code %d", i, r, c);
        acc += c / 100 == 2;
        /* a recipient reported accepted in a message reported sent: its
         * RCPT got 2xx in a transaction whose end of data got 2xx */
        if (c / 100 == 2 && (st == SMTPC_OK || st == SMTPC_ERR_PARTIAL)) {
          for (j = 0; j < nslot; j++) {
            const txn_wire *x = &tw[j];
            if (x->msg == i && x->racc[r] &&
                (x->mode == 2 ? x->complete && x->last_code / 100 == 2
                              : x->eod_whole && x->eod_code / 100 == 2))
              break;
          }
          /* F10 (fixed): a round cut short by a broken session leaves its
           * accepted recipients' 2xx in a PARTIAL message */
          if (j == nslot && !KNOWN(st == SMTPC_ERR_PARTIAL && multi))
            FAIL("txn %zu (status %d): recipient %zu reported %d but not "
                 "accepted in a transaction delivered on the wire",
                 i, st, r, c);
        }
      }
      if (strcmp(smtpc_txn_rcpt(t[i], r), msgs[i].rcpts[r]) != 0)
        FAIL("txn %zu rcpt %zu changed", i, r);
    }
    if (smtpc_txn_rcpt(t[i], n) != NULL || smtpc_txn_rcpt_reply(t[i], n))
      FAIL("txn %zu: accessor past the end is not NULL", i);
    /* in rounds, a recipient of a refused round gets the refusal as its
     * reply (mark_round()): the count goes with the replies */
    count_ok = acc == smtpc_txn_accepted_count(t[i]);
#ifdef FUZZ_TOLERATE_KNOWN
    count_ok |= multi; /* F9 (fixed): the count keeps them */
#endif
    if (!count_ok)
      FAIL("txn %zu: %zu accepted replies, count says %zu", i, acc,
           smtpc_txn_accepted_count(t[i]));
    if (qid != NULL && (*qid == '\0' || strpbrk(qid, "\r\n ")))
      FAIL("txn %zu: bad queue id \"%s\"", i, qid);
    switch (st) {
    case SMTPC_OK:
    case SMTPC_ERR_PARTIAL:
      successes++;
      if (last == MAX_ROUNDS)
        FAIL("txn %zu reported sent without a MAIL", i);
      /* (F10 again: in rounds the cut round's 2xx replies stay) */
      if (st == SMTPC_OK ? acc != n : (acc == 0 || (acc >= n && !KNOWN(multi))))
        FAIL("txn %zu: status %d with %zu of %zu accepted", i, st, acc, n);
      /* in rounds, PARTIAL may come from a later round that failed (or
       * was never sent, MAILMAX): its final reply and step are that one's */
      if (st == SMTPC_ERR_PARTIAL && multi)
        break;
      if (fin == NULL || smtpc_reply_code(fin) / 100 != 2)
        FAIL("txn %zu succeeded without a 2xx final reply", i);
      if (smtpc_txn_step(t[i]) != SMTPC_STEP_DATA_END)
        FAIL("txn %zu succeeded at step %d", i, (int)smtpc_txn_step(t[i]));
      if (tw[last].mode == 2 &&
          (!tw[last].complete || tw[last].last_code / 100 != 2 ||
           tw[last].last_code != smtpc_reply_code(fin)))
        FAIL("txn %zu reported sent: LAST %s, answered %d, final reply %d", i,
             tw[last].complete ? "sent whole" : "not sent whole",
             tw[last].last_code, smtpc_reply_code(fin));
      break;
    case SMTPC_ERR_RCPT_LIMIT:
      /* only a one-shot stream is refused for needing rounds, before MAIL */
      if (!stream_on || mrounds[i] != 0)
        FAIL("txn %zu: RCPT_LIMIT (stream %d) after %zu MAIL", i, stream_on,
             mrounds[i]);
      if (round_stop(i, 0, lim) == n)
        FAIL("txn %zu: RCPT_LIMIT but RCPTMAX %zu, RCPTDOMAINMAX %zu take "
             "it in one",
             i, lim[L_RCPT], lim[L_DOM]);
      break;
    case SMTPC_ERR_MAIL_LIMIT:
      if (lim[L_MAIL] == 0 || mails < lim[L_MAIL])
        FAIL("txn %zu: MAIL_LIMIT after %zu MAIL, MAILMAX %zu", i, mails,
             lim[L_MAIL]);
      break;
    case SMTPC_ERR_NO_RECIPIENTS:
      if (acc != 0)
        FAIL("txn %zu: no recipients but %zu accepted", i, acc);
      break;
    case SMTPC_ERR_WANT_READ:
      FAIL("txn %zu still incomplete after the session ended", i);
      break;
    case SMTPC_ERR_NOMEM:
    case SMTPC_ERR_INTERNAL:
    case SMTPC_ERR_CALLBACK:
      FAIL("txn %zu ended with %d (%s)", i, st, smtpc_strerror(st));
      break;
    default:
      if (st >= 0 || st < -999)
        FAIL("txn %zu: status %d", i, st);
      break;
    }
  }
  if (successes > eods)
    FAIL("%zu transactions reported sent, %zu ends of data on the wire",
         successes, eods);
  for (i = 0; i < ntxn; i++) {
    free(ref[i]);
    free(bref[i]);
  }
  for (i = 0; i < nslot; i++)
    free(tw[i].re);
  free(fifo);
}

/* With byte 1 bit 7: DSN parameters on the first transaction, if-offered
 * (a server without DSN gets none of them). */
static void set_dsn(smtpc_txn *t) {
  if (!dsn_on)
    return;
  if (smtpc_txn_set_dsn(t, SMTPC_DSN_RET_HDRS, "fuzz+1=a b", 0) != SMTPC_OK ||
      smtpc_txn_set_notify(t, 0, SMTPC_NOTIFY_SUCCESS | SMTPC_NOTIFY_FAILURE,
                           NULL) != SMTPC_OK ||
      smtpc_txn_set_notify(t, 1, SMTPC_NOTIFY_NEVER,
                           "orig+carol@example.org") != SMTPC_OK)
    FAIL("set_dsn / set_notify on a queued transaction");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const smtpc_auth_mech mechs[4] = {
      SMTPC_AUTH_AUTO, SMTPC_AUTH_PLAIN, SMTPC_AUTH_LOGIN, SMTPC_AUTH_CRAM_MD5};
  static const smtpc_security policies[4] = {
      SMTPC_SECURITY_OPPORTUNISTIC, SMTPC_SECURITY_STARTTLS,
      SMTPC_SECURITY_NONE, SMTPC_SECURITY_OPPORTUNISTIC};
  harness h;
  smtpc_session *s = NULL;
  smtpc_io io;
  smtpc_body bodies[MAX_TXN];
  stream streams[MAX_TXN];
  smtpc_txn *t[MAX_TXN] = {NULL, NULL, NULL};
  size_t ntxn, i, k;
  int o0, o1, rv, queued = 0, allow_plain, policy;
  if (size < 3)
    return 0;
  o0 = data[0];
  o1 = data[1];
  k = data[2] & 15;
  bdat_on = (data[2] >> 4) & 1;
  stream_on = (data[2] >> 5) & 1;
  long_on = (data[2] >> 6) & 1;
  stream_small = (data[2] >> 7) & 1;
  if (size < 3 + k + (size_t)bdat_on)
    return 0;
  bdat_chunk = bdat_on ? 64 + (size_t)data[3 + k] : 0;
  choose_bodies();
  memset(&h, 0, sizeof(h));
  h.chunks = data + 3;
  h.k = k;
  h.in = data + 3 + k + bdat_on;
  h.n = size - 3 - k - (size_t)bdat_on;
  h.short_send = (o1 >> 1) & 1;
  policy = (int)policies[(o0 >> 2) & 3];
  h.policy = policy;
  h.tls_want_first = ((o0 >> 2) & 3) == 3;
  allow_plain = !(o1 & 1);
  dsn_on = (o1 >> 7) & 1;
  ntxn = (o0 & 0x20) ? 3 : 2;
  call_cap = 4 * (unsigned long)size + 10000;

  if (smtpc_session_new(&s, NULL) != SMTPC_OK)
    FAIL("session_new");
  memset(&io, 0, sizeof(io));
  io.version = SMTPC_IO_VERSION;
  io.ctx = &h;
  io.send = h_send;
  io.recv = h_recv;
  io.starttls = h_starttls;
  io.set_timeout = h_set_timeout;
  io.close = h_close;
  io.is_secure = h_is_secure;
  if (smtpc_session_set_io(s, &io) != SMTPC_OK ||
      smtpc_session_set_ehlo_name(s, EHLO_NAME) != SMTPC_OK ||
      smtpc_session_set_server_name(s, SERVER_NAME) != SMTPC_OK ||
      smtpc_session_set_tls_policy(s, (smtpc_security)policy) != SMTPC_OK ||
      smtpc_session_set_flag(s, SMTPC_FLAG_PIPELINING, !(o0 & 0x10)) ||
      smtpc_session_set_flag(s, SMTPC_FLAG_ALLOW_PLAINTEXT_AUTH, allow_plain) ||
      smtpc_session_set_flag(s, SMTPC_FLAG_HELO_ONLY, (o1 >> 3) & 1))
    FAIL("session setup");
  switch ((o1 >> 4) & 3) {
  case 1: rv = smtpc_session_set_limit(s, SMTPC_LIMIT_REPLY_LINE, 64); break;
  case 2: rv = smtpc_session_set_limit(s, SMTPC_LIMIT_REPLY_LINES, 4); break;
  case 3: rv = smtpc_session_set_limit(s, SMTPC_LIMIT_REPLY_BYTES, 256); break;
  default: rv = SMTPC_OK;
  }
  if (rv != SMTPC_OK)
    FAIL("set_limit");
  if (bdat_on &&
      (smtpc_session_set_flag(s, SMTPC_FLAG_CHUNKING, 1) != SMTPC_OK ||
       smtpc_session_set_limit(s, SMTPC_LIMIT_BDAT_CHUNK, bdat_chunk) !=
           SMTPC_OK))
    FAIL("chunking setup");
  if (!(o0 & 0x80) &&
      smtpc_session_set_auth(s, mechs[o0 & 3], USER, SECRET,
                             (o1 & 4) ? "fuzz-admin" : NULL) != SMTPC_OK)
    FAIL("set_auth");
  smtpc_session_set_trace(s, h_trace, &h);

  for (i = 0; i < ntxn; i++) {
    if (!stream_on) {
      smtpc_body_init_memory(&bodies[i], mbody[i], mlen[i]);
      continue;
    }
    streams[i].p = mbody[i];
    streams[i].len = mlen[i];
    streams[i].off = 0;
    streams[i].toggle = 0;
    streams[i].blocks = &h.blocks;
    smtpc_body_init_stream(&bodies[i], s_read, &streams[i], -1);
    /* a stream is not scanned: its type says what it holds */
    bodies[i].type = i == 2 ? SMTPC_BODY_SMTPUTF8 : SMTPC_BODY_7BIT;
  }
  if (o1 & 0x40) {
    for (i = 0; i < ntxn; i++)
      if (smtpc_session_queue(s, msgs[i].from, msgs[i].rcpts, msgs[i].nrcpts,
                              &bodies[i], &t[i]) != SMTPC_OK)
        FAIL("queue before open");
    queued = 1;
    set_dsn(t[0]);
  }

  rv = loop(&h, s, smtpc_session_open, "open");
  if (rv == SMTPC_OK) {
    if (!queued) {
      for (i = 0; i < ntxn; i++)
        if (smtpc_session_queue(s, msgs[i].from, msgs[i].rcpts, msgs[i].nrcpts,
                                &bodies[i], &t[i]) != SMTPC_OK)
          FAIL("queue");
      queued = 1;
      set_dsn(t[0]);
    }
    rv = loop(&h, s, smtpc_session_run, "run");
    if (rv == SMTPC_OK)
      for (i = 0; i < ntxn; i++)
        if (smtpc_txn_status(t[i]) == SMTPC_ERR_WANT_READ)
          FAIL("run() returned OK with transaction %zu incomplete", i);
    if (rv == SMTPC_OK && (o0 & 0x40)) {
      (void)loop(&h, s, smtpc_session_noop, "noop");
      (void)loop(&h, s, smtpc_session_rset, "rset");
      (void)loop(&h, s, h_vrfy, "vrfy");
    }
  }
  (void)loop(&h, s, smtpc_session_quit, "quit");
  {
    const smtpc_reply *r = smtpc_session_last_reply(s);
    if (r != NULL && (smtpc_reply_code(r) < 200 || smtpc_reply_code(r) > 559))
      FAIL("last reply code %d", smtpc_reply_code(r));
  }
  smtpc_session_free(s);

  if (getenv("FUZZ_SESSION_TRACE") != NULL) {
    /* for reading a crash: the dialogue as the library traced it */
    static const char *const dirs[] = {"S:", "C:", "  "};
    for (i = 0; i < h.nev; i++)
      fprintf(stderr, "%s %s\n", dirs[h.ev[i].dir % 3], h.ev[i].text);
    fprintf(stderr, "-- last call %d (%s); %zu bytes sent, %zu of %zu read\n",
            rv, smtpc_strerror(rv), h.nsent, h.pos, h.n);
    for (i = 0; queued && i < ntxn; i++)
      fprintf(stderr, "-- txn %zu: %d (%s), step %d, %zu accepted\n", i,
              smtpc_txn_status(t[i]), smtpc_strerror(smtpc_txn_status(t[i])),
              (int)smtpc_txn_step(t[i]), smtpc_txn_accepted_count(t[i]));
  }
  if (queued)
    check_session(&h, t, ntxn, policy, allow_plain, !(o0 & 0x10));
  else
    check_session(&h, t, 0, policy, allow_plain, !(o0 & 0x10));
  for (i = 0; i < ntxn; i++)
    smtpc_txn_free(t[i]);
  for (i = 0; i < h.nev; i++)
    free(h.ev[i].text);
  free(h.ev);
  free(h.sent);
  return 0;
}
