/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: the DKIM signer's canonicalization (lib/dkim.c), a
 * parser of the caller's message.
 *
 * Input:
 *   byte 0     bit 0: header canonicalization simple (else relaxed)
 *              bit 1: body canonicalization simple (else relaxed)
 *              bit 2: SMTPC_DKIM_BINARY
 *              bits 3-7: p, how the message is cut for
 *              smtpc_dkim_ctx_update(): 0 one octet at a time; 1-15 pieces
 *              of a fixed size (2 .. 4096); 16-31 pieces of pseudo-random
 *              sizes, and from 24 with empty updates between them
 *   the rest   the message, as the session would send it
 *
 * The identity signs through a callback (smtpc_dkim_set_signer(), Ed25519)
 * that returns a fixed 64-octet signature, so no crypto library is needed;
 * t= is fixed.  The message is signed twice: in one smtpc_dkim_ctx_update()
 * and in the pieces p says.  Both must end alike (the same error, or
 * success) and give byte-identical fields and the same header digest (the
 * body hash must not depend on where the message is cut).  A success must
 * give one field "DKIM-Signature:" whose lines end in CRLF (no bare CR or
 * LF, no control octet), with every continuation line starting with
 * white space (and, with FUZZ_DKIM_MAX_LINE, no line over that many octets
 * before its CRLF); unfolded, its tags say v=1, a=ed25519-sha256, the c=
 * chosen, d=, s=, t= as set, b= the callback's signature in base64 and bh=
 * the base64 SHA-256 of the body canonicalized by the model below (RFC 6376
 * 3.4.3, 3.4.4 on what the server receives: without the binary flag a bare
 * CR or LF becomes CRLF and a missing final CRLF is added).  An error must
 * be SMTPC_ERR_DKIM_HEADER.  The callback must be called once per signing.
 * Any mismatch aborts.
 *
 * The same message is then signed by smtpc_dkim_body_new(): from memory
 * when p is even, else from a rewindable stream that gives it in the pieces
 * p says.  It must end as the one-piece signing did, or, without the binary
 * flag, with SMTPC_ERR_BODY_LINE_TOO_LONG exactly when a line (as the
 * session sends it) is over 998 octets; a success must have the same
 * fields, and its signed body, read in pieces (twice: the second time after
 * its rewind), must be the fields and then the message, of the size it
 * announced.
 *
 * FUZZ_DKIM_DUMP=1 in the environment prints each input's result, fields
 * and the body hash the model expects. */
#include "dkim_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                                              \
  do {                                                                         \
    fprintf(stderr, "fuzz_dkim: " __VA_ARGS__);                                \
    fputc('\n', stderr);                                                       \
    abort();                                                                   \
  } while (0)

#define SIGN_TIME 1700000000
#define DOMAIN "example.org"
#define SELECTOR "fuzz"

/* A growable byte string. */
typedef struct str {
  unsigned char *p;
  size_t n, cap;
} str;

static void put(str *s, const void *p, size_t n) {
  if (s->cap - s->n < n) {
    size_t c = s->cap ? s->cap : 256;
    while (c - s->n < n)
      c *= 2;
    if ((s->p = realloc(s->p, c)) == NULL)
      abort();
    s->cap = c;
  }
  if (n)
    memcpy(s->p + s->n, p, n);
  s->n += n;
}

static void put1(str *s, unsigned char c) { put(s, &c, 1); }

/* ---- the signer callback --------------------------------------------------- */

static unsigned char fixed_sig[64];

typedef struct signer {
  unsigned calls;
  unsigned char digest[32];
} signer;

static signer sg;

static int sign_cb(void *user, smtpc_dkim_algo algo,
                   const unsigned char digest[32], unsigned char *sig,
                   size_t sig_size, size_t *sig_len) {
  signer *s = user;
  if (algo != SMTPC_DKIM_ED25519_SHA256)
    FAIL("callback called for algorithm %d", (int)algo);
  if (sig_size < sizeof(fixed_sig))
    FAIL("callback given %zu octets of room", sig_size);
  s->calls++;
  memcpy(s->digest, digest, 32);
  memcpy(sig, fixed_sig, sizeof(fixed_sig));
  *sig_len = sizeof(fixed_sig);
  return SMTPC_OK;
}

/* The four identities, one per canonicalization pair (bit 0 header, bit 1
 * body), made once: signing does not change them. */
static smtpc_dkim *ids[4];

static void setup(void) {
  unsigned i;
  for (i = 0; i < sizeof(fixed_sig); i++)
    fixed_sig[i] = (unsigned char)(i * 37 + 11);
  for (i = 0; i < 4; i++) {
    if (smtpc_dkim_new(&ids[i], DOMAIN, SELECTOR, NULL) != SMTPC_OK ||
        smtpc_dkim_set_signer(ids[i], SMTPC_DKIM_ED25519_SHA256, sign_cb,
                              &sg) != SMTPC_OK ||
        smtpc_dkim_set_time(ids[i], SIGN_TIME) != SMTPC_OK ||
        smtpc_dkim_set_canon(
            ids[i], (i & 1) ? SMTPC_DKIM_SIMPLE : SMTPC_DKIM_RELAXED,
            (i & 2) ? SMTPC_DKIM_SIMPLE : SMTPC_DKIM_RELAXED) != SMTPC_OK)
      FAIL("setting up identity %u", i);
    if (smtpc_dkim_algo_of(ids[i]) != SMTPC_DKIM_ED25519_SHA256)
      FAIL("algo_of gives %d", smtpc_dkim_algo_of(ids[i]));
  }
}

/* ---- signing, whole or cut ----------------------------------------------- */

typedef struct run {
  int rv;
  str fields;
  unsigned calls;
  unsigned char digest[32];
} run;

static const size_t fixed_sizes[16] = {1,  2,  3,  4,   5,   7,   8,   13,
                                       16, 31, 64, 100, 127, 128, 997, 4096};
static const size_t rand_max[8] = {3, 8, 17, 64, 129, 1000, 4097, 70000};

static void sign(const smtpc_dkim *key, unsigned flags, const unsigned char *d,
                 size_t n, int cut, unsigned p, run *r) {
  const smtpc_dkim *keys[1];
  smtpc_dkim_ctx *c;
  const char *fields = NULL;
  size_t flen = 0, pos = 0;
  unsigned long long lcg = 0x9e3779b97f4a7c15ULL ^ p;
  int rv;
  keys[0] = key;
  memset(r, 0, sizeof(*r));
  sg.calls = 0;
  if ((rv = smtpc_dkim_ctx_new(&c, keys, 1, flags, NULL)) != SMTPC_OK)
    FAIL("smtpc_dkim_ctx_new: %d", rv);
  while (rv == SMTPC_OK && pos < n) {
    size_t piece = n - pos;
    if (cut) {
      lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
      if (p < 16)
        piece = fixed_sizes[p];
      else
        piece = 1 + (size_t)((lcg >> 33) % rand_max[p & 7]);
      if (p >= 24 && (lcg >> 20) & 1)
        rv = smtpc_dkim_ctx_update(c, d + pos, 0);
      if (piece > n - pos)
        piece = n - pos;
    }
    if (rv == SMTPC_OK)
      rv = smtpc_dkim_ctx_update(c, d + pos, piece);
    pos += piece;
  }
  if (rv == SMTPC_OK && n == 0)
    rv = smtpc_dkim_ctx_update(c, d, 0);
  if (rv == SMTPC_OK) {
    rv = smtpc_dkim_ctx_final(c, &fields, &flen);
    if (rv == SMTPC_OK) {
      if (fields == NULL)
        FAIL("final gave no fields");
      put(&r->fields, fields, flen);
    }
  }
  r->rv = rv;
  r->calls = sg.calls;
  memcpy(r->digest, sg.digest, 32);
  smtpc_dkim_ctx_free(c);
}

/* ---- the body model ---------------------------------------------------------- */

static const char b64a[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64(const unsigned char *d, size_t n, str *out) {
  size_t i;
  for (i = 0; i + 2 < n; i += 3) {
    unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8 | d[i + 2];
    put1(out, (unsigned char)b64a[v >> 18]);
    put1(out, (unsigned char)b64a[(v >> 12) & 63]);
    put1(out, (unsigned char)b64a[(v >> 6) & 63]);
    put1(out, (unsigned char)b64a[v & 63]);
  }
  if (n - i == 1) {
    unsigned v = (unsigned)d[i] << 16;
    put1(out, (unsigned char)b64a[v >> 18]);
    put1(out, (unsigned char)b64a[(v >> 12) & 63]);
    put(out, "==", 2);
  } else if (n - i == 2) {
    unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8;
    put1(out, (unsigned char)b64a[v >> 18]);
    put1(out, (unsigned char)b64a[(v >> 12) & 63]);
    put1(out, (unsigned char)b64a[(v >> 6) & 63]);
    put1(out, '=');
  }
}

/* What the server receives: without the binary flag a bare CR or LF
 * becomes CRLF (CR LF stays one line end). */
static void wire(const unsigned char *d, size_t n, int binary, str *out) {
  size_t i;
  if (binary) {
    put(out, d, n);
    return;
  }
  for (i = 0; i < n; i++) {
    if (d[i] == '\r' || d[i] == '\n') {
      if (d[i] == '\r' && i + 1 < n && d[i + 1] == '\n')
        i++;
      put(out, "\r\n", 2);
    } else {
      put1(out, d[i]);
    }
  }
}

static int is_wsp(unsigned char c) { return c == ' ' || c == '\t'; }

/* The body's canonical form (RFC 6376 3.4.3 simple, 3.4.4 relaxed).
 * Returns 0 when the model has no answer (a binary body whose last line
 * has no CRLF: RFC 6376 leaves its relaxed form unclear). */
static int canon_body(const unsigned char *b, size_t n, int binary, int simple,
                      str *out) {
  size_t i = 0, keep;
  int ends_crlf = n >= 2 && b[n - 2] == '\r' && b[n - 1] == '\n';
  if (n > 0 && !ends_crlf && binary && !simple)
    return 0;
  if (simple) {
    put(out, b, n);
    if (n > 0 && !ends_crlf)
      put(out, "\r\n", 2);
  } else {
    while (i < n) {
      size_t e = i;
      int sp = 0;
      while (e < n && !(b[e] == '\r' && e + 1 < n && b[e + 1] == '\n'))
        e++;
      for (; i < e; i++) {
        if (is_wsp(b[i])) {
          sp = 1;
          continue;
        }
        if (sp)
          put1(out, ' ');
        sp = 0;
        put1(out, b[i]);
      }
      put(out, "\r\n", 2); /* a missing final CRLF is added */
      i = e + 2;
    }
  }
  /* no empty lines at the end; simple keeps one CRLF, even for no body */
  keep = out->n;
  while (keep >= 2 && out->p[keep - 2] == '\r' && out->p[keep - 1] == '\n' &&
         (keep == 2 ||
          (keep >= 4 && out->p[keep - 4] == '\r' && out->p[keep - 3] == '\n')))
    keep -= 2;
  out->n = keep;
  if (simple && out->n == 0)
    put(out, "\r\n", 2);
  return 1;
}

/* The body hash the model expects, base64, into out; 0 when it has none. */
static int model_bh(const unsigned char *d, size_t n, int binary, int simple,
                    str *out) {
  str w = {NULL, 0, 0}, c = {NULL, 0, 0};
  size_t i, start = 0;
  unsigned char h[32];
  smtpc__sha256 sh;
  int ok;
  wire(d, n, binary, &w);
  /* the header block ends at the first empty line */
  start = w.n;
  for (i = 0; i + 1 < w.n; i++) {
    if (w.p[i] == '\r' && w.p[i + 1] == '\n' &&
        (i == 0 || (i >= 2 && w.p[i - 2] == '\r' && w.p[i - 1] == '\n'))) {
      start = i + 2;
      break;
    }
  }
  ok = canon_body(w.p ? w.p + start : NULL, w.n - start, binary, simple, &c);
  if (ok) {
    smtpc__sha256_init(&sh);
    smtpc__sha256_update(&sh, c.p, c.n);
    smtpc__sha256_final(&sh, h);
    b64(h, 32, out);
  }
  free(w.p);
  free(c.p);
  return ok;
}

/* ---- checking the field ---------------------------------------------------- */

/* The value of tag `name` in the unfolded, FWS-free tag list u, or NULL. */
static const char *tag(const char *u, const char *name, size_t *len) {
  size_t nl = strlen(name);
  const char *p = u;
  while (*p) {
    const char *e = strchr(p, ';');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    if (l > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
      *len = l - nl - 1;
      return p + nl + 1;
    }
    if (!e)
      break;
    p = e + 1;
  }
  return NULL;
}

static void want(const char *u, const char *name, const char *v, size_t vl) {
  size_t l;
  const char *t = tag(u, name, &l);
  if (t == NULL || l != vl || memcmp(t, v, vl) != 0)
    FAIL("tag %s= is \"%.*s\", want \"%.*s\" in %s", name, t ? (int)l : 0,
         t ? t : "", (int)vl, v, u);
}

static void check_fields(const str *f, unsigned hsimple, unsigned bsimple,
                         const unsigned char *d, size_t n, int binary) {
  static const char name[] = "DKIM-Signature:";
  str u = {NULL, 0, 0}, want_b = {NULL, 0, 0}, want_bh = {NULL, 0, 0};
  size_t i, col = 0, l;
  const char *c;
  char cbuf[32];
  if (f->n < sizeof(name) + 1 || memcmp(f->p, name, sizeof(name) - 1) != 0)
    FAIL("fields do not start with %s", name);
  if (f->p[f->n - 2] != '\r' || f->p[f->n - 1] != '\n')
    FAIL("fields do not end in CRLF");
  for (i = 0; i < f->n; i++) {
    unsigned char ch = f->p[i];
    if (ch == '\r') {
      if (i + 1 >= f->n || f->p[i + 1] != '\n')
        FAIL("bare CR in the fields at %zu", i);
#ifdef FUZZ_DKIM_MAX_LINE
      if (col > FUZZ_DKIM_MAX_LINE)
        FAIL("a line of %zu octets in the fields", col);
#endif
      i++;
      col = 0;
      if (i + 1 < f->n && !is_wsp(f->p[i + 1]))
        FAIL("a second field, or a continuation line without white space, "
             "at %zu",
             i + 1);
      continue;
    }
    if (ch == '\n')
      FAIL("bare LF in the fields at %zu", i);
    if ((ch < 32 && ch != '\t') || ch > 126)
      FAIL("octet 0x%02x in the fields", ch);
    col++;
    if (!is_wsp(ch))
      put1(&u, ch);
  }
  put1(&u, '\0');
  c = (const char *)u.p + sizeof(name) - 1;
  want(c, "v", "1", 1);
  want(c, "a", "ed25519-sha256", 14);
  want(c, "d", DOMAIN, strlen(DOMAIN));
  want(c, "s", SELECTOR, strlen(SELECTOR));
  snprintf(cbuf, sizeof(cbuf), "%d", SIGN_TIME);
  want(c, "t", cbuf, strlen(cbuf));
  /* c=: "simple" alone is simple/simple, "relaxed" alone relaxed/simple */
  {
    const char *t = tag(c, "c", &l);
    const char *h = hsimple ? "simple" : "relaxed";
    const char *b = bsimple ? "simple" : "relaxed";
    char full[32];
    int k = snprintf(full, sizeof(full), "%s/%s", h, b);
    if (t == NULL) {
      if (hsimple == 0 || bsimple == 0)
        FAIL("no c= for %s", full);
    } else if (!(l == (size_t)k && memcmp(t, full, l) == 0) &&
               !(bsimple && l == strlen(h) && memcmp(t, h, l) == 0)) {
      FAIL("c=%.*s for %s", (int)l, t, full);
    }
  }
  if (tag(c, "h", &l) == NULL || l == 0)
    FAIL("no h=");
  if (tag(c, "l", &l) != NULL)
    FAIL("an l= tag");
  b64(fixed_sig, sizeof(fixed_sig), &want_b);
  want(c, "b", (const char *)want_b.p, want_b.n);
  if (model_bh(d, n, binary, (int)bsimple, &want_bh)) {
    if (getenv("FUZZ_DKIM_DUMP") != NULL)
      fprintf(stderr, "model bh=%.*s\n", (int)want_bh.n,
              (const char *)want_bh.p);
    want(c, "bh", (const char *)want_bh.p, want_bh.n);
  } else if (tag(c, "bh", &l) == NULL || l != 44)
    FAIL("bh= is not 44 characters");
  free(u.p);
  free(want_b.p);
  free(want_bh.p);
}

/* ---- the signed body -------------------------------------------------------- */

/* The longest line as the session sends it (CR, LF and CRLF end lines). */
static size_t max_line(const unsigned char *d, size_t n) {
  size_t i, line = 0, max = 0;
  for (i = 0; i < n; i++) {
    if (d[i] == '\r' || d[i] == '\n') {
      if (d[i] == '\r' && i + 1 < n && d[i + 1] == '\n')
        i++;
      line = 0;
      continue;
    }
    if (++line > max)
      max = line;
  }
  return max;
}

typedef struct source {
  const unsigned char *d;
  size_t n, pos;
  unsigned p;
  unsigned long long lcg;
  unsigned rewinds;
} source;

static size_t piece_of(unsigned p, unsigned long long *lcg, size_t left) {
  size_t piece;
  *lcg = *lcg * 6364136223846793005ULL + 1442695040888963407ULL;
  piece =
      p < 16 ? fixed_sizes[p] : 1 + (size_t)((*lcg >> 33) % rand_max[p & 7]);
  return piece < left ? piece : left;
}

static smtpc_ssize src_read(void *ctx, unsigned char *buf, size_t len) {
  source *s = ctx;
  size_t k = piece_of(s->p, &s->lcg, s->n - s->pos);
  if (k > len)
    k = len;
  memcpy(buf, s->d + s->pos, k);
  s->pos += k;
  return (smtpc_ssize)k;
}

static int src_rewind(void *ctx) {
  source *s = ctx;
  s->pos = 0;
  s->rewinds++;
  return SMTPC_OK;
}

/* Reads b to the end in pieces; the octets go to out. */
static void read_all(const smtpc_body *b, unsigned p, str *out) {
  unsigned long long lcg = 0x2545f4914f6cdd1dULL ^ p;
  unsigned char buf[4096];
  for (;;) {
    size_t want = piece_of(p, &lcg, sizeof(buf));
    smtpc_ssize r = b->read(b->ctx, buf, want ? want : 1);
    if (r < 0)
      FAIL("reading the signed body: %d (%s)", (int)r, smtpc_strerror((int)r));
    if (r == 0)
      return;
    if ((size_t)r > want)
      FAIL("read gave %zu octets for %zu", (size_t)r, want);
    put(out, buf, (size_t)r);
  }
}

static void signed_body(const smtpc_dkim *key, int binary,
                        const unsigned char *d, size_t n, unsigned p,
                        const run *whole) {
  const smtpc_dkim *keys[1];
  smtpc_dkim_body *sb = NULL;
  smtpc_body in, out;
  source src;
  str got = {NULL, 0, 0}, want = {NULL, 0, 0};
  const char *fields;
  size_t flen = 0, longest = binary ? 0 : max_line(d, n);
  int rv, pass;
  keys[0] = key;
  memset(&src, 0, sizeof(src));
  src.d = d;
  src.n = n;
  src.p = p;
  src.lcg = 0x9e3779b97f4a7c15ULL ^ p;
  if (p % 2 == 0) {
    smtpc_body_init_memory(&in, d, n);
  } else {
    smtpc_body_init_stream(&in, src_read, &src, (int64_t)n);
    in.rewind = src_rewind;
  }
  in.type = binary ? SMTPC_BODY_BINARYMIME : SMTPC_BODY_AUTO;
  sg.calls = 0;
  rv = smtpc_dkim_body_new(&sb, keys, 1, &in, NULL, NULL);
  if (rv == SMTPC_ERR_BODY_LINE_TOO_LONG) {
    if (binary || longest <= 998)
      FAIL("signed body: line too long, but the longest is %zu octets%s",
           longest, binary ? " (binary)" : "");
    return;
  }
  if (!binary && longest > 998 && (whole->rv == SMTPC_OK || rv == SMTPC_OK))
    FAIL("signed body: %d for a line of %zu octets", rv, longest);
  if (rv != whole->rv)
    FAIL("signed body: %d, the context gave %d", rv, whole->rv);
  if (rv != SMTPC_OK)
    return;
  if (sg.calls != 1)
    FAIL("signed body: the callback was called %u times", sg.calls);
  fields = smtpc_dkim_body_fields(sb, &flen);
  if (flen != whole->fields.n || memcmp(fields, whole->fields.p, flen) != 0)
    FAIL("signed body: fields differ from the context's:\n%.*s---\n%.*s",
         (int)flen, fields, (int)whole->fields.n,
         (const char *)whole->fields.p);
  put(&want, fields, flen);
  put(&want, d, n);
  smtpc_dkim_body_get(sb, &out);
  if (out.size != (int64_t)want.n || out.read == NULL || out.rewind == NULL)
    FAIL("signed body: size %lld for %zu octets", (long long)out.size, want.n);
  for (pass = 0; pass < 2; pass++) {
    got.n = 0;
    if (pass == 1 && (rv = out.rewind(out.ctx)) != SMTPC_OK)
      FAIL("signed body: rewind %d", rv);
    read_all(&out, p + (unsigned)pass, &got);
    if (got.n != want.n || memcmp(got.p, want.p, want.n) != 0)
      FAIL("signed body (pass %d) is not the fields and the message", pass);
  }
  smtpc_dkim_body_free(sb);
  free(got.p);
  free(want.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  run whole, cut;
  unsigned opt, p, flags;
  const smtpc_dkim *key;
  if (!ready) {
    setup();
    ready = 1;
  }
  if (size < 1)
    return 0;
  opt = data[0];
  p = opt >> 3;
  flags = (opt & 4) ? SMTPC_DKIM_BINARY : 0;
  key = ids[opt & 3];
  data++;
  size--;
  sign(key, flags, data, size, 0, p, &whole);
  sign(key, flags, data, size, 1, p, &cut);
  if (getenv("FUZZ_DKIM_DUMP") != NULL)
    fprintf(stderr, "options 0x%02x: %d (%s)\n%.*s", opt, whole.rv,
            smtpc_strerror(whole.rv), (int)whole.fields.n,
            whole.fields.p ? (const char *)whole.fields.p : "");
  if (whole.rv != cut.rv)
    FAIL("in one piece %d, cut (pattern %u) %d", whole.rv, p, cut.rv);
  if (whole.rv == SMTPC_OK) {
    if (whole.calls != 1 || cut.calls != 1)
      FAIL("the callback was called %u and %u times", whole.calls, cut.calls);
    if (memcmp(whole.digest, cut.digest, 32) != 0)
      FAIL("the header digest depends on where the message is cut "
           "(pattern %u)",
           p);
    if (whole.fields.n != cut.fields.n ||
        memcmp(whole.fields.p, cut.fields.p, whole.fields.n) != 0)
      FAIL("the fields depend on where the message is cut (pattern %u):\n"
           "%.*s---\n%.*s",
           p, (int)whole.fields.n, (const char *)whole.fields.p,
           (int)cut.fields.n, (const char *)cut.fields.p);
    check_fields(&whole.fields, opt & 1, (opt >> 1) & 1, data, size,
                 flags != 0);
  } else if (whole.rv != SMTPC_ERR_DKIM_HEADER) {
    FAIL("signing failed with %d (%s)", whole.rv, smtpc_strerror(whole.rv));
  } else if (whole.calls != 0 || cut.calls != 0) {
    FAIL("the callback was called for a message that failed");
  }
  signed_body(key, flags != 0, data, size, p, &whole);
  free(whole.fields.p);
  free(cut.fields.p);
  return 0;
}
