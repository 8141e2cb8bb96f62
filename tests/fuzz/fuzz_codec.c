/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: the encoders, as round trips.
 *
 * Input:
 *   byte 0     k = byte & 7: the number of input split sizes that follow
 *   k bytes    input piece sizes for the streaming encoders, used in turn
 *              (0 counts as 1)
 *   1 byte     extra output room per streaming call (added to the minimum)
 *   the rest   the data
 *
 * Always (lib/base64.c): base64 encode, then strict decode, gives the data
 * back; the encoding has the announced length and alphabet; a buffer one
 * byte short is refused; the data read as base64 text either fails strict
 * decoding or decodes to bytes whose encoding is exactly that text (the
 * strict decoder accepts only canonical encodings).
 *
 * With -DSMTPC_FUZZ_MIME, once the MIME builder's encoders are in the
 * library (lib/qp.c, lib/base64_stream.c; see lib/mime_int.h):
 *   quoted-printable: the output is the same however input and output room
 *   are cut; lines are at most 76 characters, CRLF-terminated, printable
 *   ASCII with no trailing white space, '=' only in "=XX" or a soft break,
 *   never "=_" (the builder's boundaries rely on it); a small decoder here
 *   gives back the data with CR, LF and CRLF as CRLF.
 *   CRLF normalisation: split-independent and equal to the same rule.
 *   streaming base64: split-independent, exactly smtpc__b64s_size() bytes,
 *   76-character lines joined by CRLF, and strict decoding of the joined
 *   text gives the data back. */
#include "smtpc_int.h"
#ifdef SMTPC_FUZZ_MIME
#include "mime_int.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                                              \
  do {                                                                         \
    fprintf(stderr, "fuzz_codec: " __VA_ARGS__);                               \
    fputc('\n', stderr);                                                       \
    abort();                                                                   \
  } while (0)

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL)
    abort();
  return p;
}

static int is_b64char(int c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '+' || c == '/';
}

static void base64_round_trip(const unsigned char *d, size_t n) {
  size_t elen = smtpc__b64_encoded_len(n), len, outlen = 0, i;
  char *enc;
  unsigned char *dec;
  int rv;
  if (elen != (n + 2) / 3 * 4)
    FAIL("encoded_len(%zu) = %zu", n, elen);
  enc = xmalloc(elen + 1);
  dec = xmalloc(n + 1);
  len = smtpc__b64_encode(d, n, enc);
  if (len != elen || enc[len] != '\0')
    FAIL("encode wrote %zu of %zu bytes or no NUL", len, elen);
  for (i = 0; i < len; i++)
    if (!is_b64char((unsigned char)enc[i]) &&
        !(enc[i] == '=' && i + 2 >= len && (i + 1 == len || enc[i + 1] == '=')))
      FAIL("encoding has '%c' at %zu of %zu", enc[i], i, len);
  rv = smtpc__b64_decode(enc, len, dec, n, &outlen);
  if (rv != SMTPC_OK || outlen != n || (n && memcmp(dec, d, n) != 0))
    FAIL("decode(encode(x)) != x (rv %d, %zu of %zu bytes)", rv, outlen, n);
  if (n > 0) {
    rv = smtpc__b64_decode(enc, len, dec, n - 1, &outlen);
    if (rv != SMTPC_ERR_REPLY_TOO_LARGE)
      FAIL("decode into %zu bytes for %zu: %d", n - 1, n, rv);
  }
  free(enc);
  free(dec);
}

/* The data taken as base64 text: strict decoding accepts it only if it is
 * the canonical encoding of what it decodes to. */
static void base64_strict(const unsigned char *d, size_t n) {
  unsigned char *dec = xmalloc(n);
  char *re;
  size_t outlen = 0, len;
  int rv = smtpc__b64_decode((const char *)d, n, dec, n, &outlen);
  if (rv != SMTPC_OK) {
    if (rv != SMTPC_ERR_PROTOCOL)
      FAIL("decode of %zu bytes: %d", n, rv);
    free(dec);
    return;
  }
  if (n % 4 != 0 || outlen > n / 4 * 3)
    FAIL("accepted %zu bytes of base64 as %zu bytes", n, outlen);
  re = xmalloc(smtpc__b64_encoded_len(outlen) + 1);
  len = smtpc__b64_encode(dec, outlen, re);
  if (len != n || memcmp(re, d, n) != 0)
    FAIL("accepted a non-canonical encoding");
  free(re);
  free(dec);
}

#ifdef SMTPC_FUZZ_MIME

typedef struct out {
  unsigned char *p;
  size_t n, cap;
} out;

static unsigned char *room(out *o, size_t need) {
  if (o->cap - o->n < need) {
    size_t c = o->cap ? o->cap : 256;
    while (c - o->n < need)
      c *= 2;
    if ((o->p = realloc(o->p, c)) == NULL)
      abort();
    o->cap = c;
  }
  return o->p + o->n;
}

typedef struct split {
  const unsigned char *sizes;
  size_t k, i;
  size_t extra;
} split;

static size_t next_piece(split *sp, size_t left) {
  size_t s = sp->k ? sp->sizes[sp->i++ % sp->k] : left;
  if (s == 0)
    s = 1;
  return s < left ? s : left;
}

enum { QP, CRLF, B64S };

/* Runs one encoder over d, whole (sp == NULL) or in pieces. */
static void encode(int which, const unsigned char *d, size_t n, split *sp,
                   out *o) {
  smtpc__qp q;
  smtpc__crlf c;
  smtpc__b64s b;
  size_t pos = 0;
  smtpc__qp_init(&q);
  smtpc__crlf_init(&c);
  smtpc__b64s_init(&b);
  while (pos < n) {
    size_t piece = sp ? next_piece(sp, n - pos) : n - pos, used = 0, w;
    size_t cap = sp ? SMTPC__ENC_RESERVE + sp->extra : 16 * piece + 64;
    unsigned char *dst = room(o, cap);
    if (which == QP)
      w = smtpc__qp_encode(&q, d + pos, piece, &used, dst, cap);
    else if (which == CRLF)
      w = smtpc__crlf_encode(&c, d + pos, piece, &used, dst, cap);
    else
      w = smtpc__b64s_encode(&b, d + pos, piece, &used, dst, cap);
    if (w > cap || used > piece)
      FAIL("encoder %d wrote %zu of %zu, used %zu of %zu", which, w, cap, used,
           piece);
    if (w == 0 && used == 0)
      FAIL("encoder %d made no progress with %zu bytes of room", which, cap);
    o->n += w;
    pos += used;
  }
  if (which == QP)
    o->n += smtpc__qp_finish(&q, room(o, SMTPC__ENC_RESERVE));
  else if (which == B64S)
    o->n += smtpc__b64s_finish(&b, room(o, SMTPC__ENC_RESERVE));
}

static void normalise(const unsigned char *d, size_t n, out *o) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char *p = room(o, 2);
    if (d[i] == '\r' || d[i] == '\n') {
      if (d[i] == '\r' && i + 1 < n && d[i + 1] == '\n')
        i++;
      p[0] = '\r';
      p[1] = '\n';
      o->n += 2;
    } else {
      p[0] = d[i];
      o->n++;
    }
  }
}

static int hexv(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static void check_qp(const unsigned char *e, size_t n, const unsigned char *d,
                     size_t dn) {
  out dec = {NULL, 0, 0}, norm = {NULL, 0, 0};
  size_t i, col = 0;
  for (i = 0; i < n; i++) {
    unsigned char c = e[i];
    if (c == '\r') {
      if (i + 1 >= n || e[i + 1] != '\n')
        FAIL("qp: bare CR");
      if (i > 0 && (e[i - 1] == ' ' || e[i - 1] == '\t'))
        FAIL("qp: white space at a line end");
      *room(&dec, 2) = '\r';
      dec.p[dec.n + 1] = '\n';
      dec.n += 2;
      i++;
      col = 0;
      continue;
    }
    if (++col > SMTPC__QP_LINE)
      FAIL("qp: line longer than %d", SMTPC__QP_LINE);
    if (c == '=') {
      if (i + 2 < n && e[i + 1] == '\r' && e[i + 2] == '\n') {
        i += 2; /* soft break */
        col = 0;
        continue;
      }
      if (i + 2 >= n || hexv(e[i + 1]) < 0 || hexv(e[i + 2]) < 0)
        FAIL("qp: '=' not followed by two upper-case hex digits");
      *room(&dec, 1) = (unsigned char)(hexv(e[i + 1]) << 4 | hexv(e[i + 2]));
      dec.n++;
      i += 2;
      col += 2;
      if (col > SMTPC__QP_LINE)
        FAIL("qp: line longer than %d", SMTPC__QP_LINE);
      continue;
    }
    if (c == '\n' || ((c < 33 || c > 126) && c != ' ' && c != '\t'))
      FAIL("qp: literal byte 0x%02x", c);
    *room(&dec, 1) = c;
    dec.n++;
  }
  if (n > 0 && (e[n - 1] == ' ' || e[n - 1] == '\t'))
    FAIL("qp: white space at the end");
  for (i = 0; i + 1 < n; i++)
    if (e[i] == '=' && e[i + 1] == '_')
      FAIL("qp: \"=_\" in the output");
  normalise(d, dn, &norm);
  if (dec.n != norm.n || (dec.n && memcmp(dec.p, norm.p, dec.n) != 0))
    FAIL("qp: decoding does not give the input back");
  free(dec.p);
  free(norm.p);
}

static void check_b64s(const unsigned char *e, size_t n, const unsigned char *d,
                       size_t dn) {
  char *joined = xmalloc(n + 1);
  unsigned char *dec = xmalloc(dn + 1);
  size_t i, j = 0, col = 0, outlen = 0;
  if (smtpc__b64s_size((int64_t)dn) != (int64_t)n)
    FAIL("b64s: size(%zu) = %lld, wrote %zu", dn,
         (long long)smtpc__b64s_size((int64_t)dn), n);
  for (i = 0; i < n; i++) {
    if (e[i] == '\r') {
      if (i + 1 >= n || e[i + 1] != '\n' || col != 76 || i + 2 >= n)
        FAIL("b64s: bad line end at %zu (line of %zu)", i, col);
      i++;
      col = 0;
      continue;
    }
    if (++col > 76)
      FAIL("b64s: line longer than 76");
    joined[j++] = (char)e[i];
  }
  if (smtpc__b64_decode(joined, j, dec, dn, &outlen) != SMTPC_OK ||
      outlen != dn || (dn && memcmp(dec, d, dn) != 0))
    FAIL("b64s: strict decoding does not give the input back");
  free(joined);
  free(dec);
}

static void streaming(const unsigned char *sizes, size_t k, size_t extra,
                      const unsigned char *d, size_t n) {
  int which;
  for (which = QP; which <= B64S; which++) {
    out whole = {NULL, 0, 0}, cut = {NULL, 0, 0};
    split sp;
    sp.sizes = sizes;
    sp.k = k;
    sp.i = 0;
    sp.extra = extra;
    encode(which, d, n, NULL, &whole);
    encode(which, d, n, &sp, &cut);
    if (whole.n != cut.n || (whole.n && memcmp(whole.p, cut.p, whole.n)))
      FAIL("encoder %d: output depends on how the input was cut", which);
    if (which == QP) {
      check_qp(whole.p, whole.n, d, n);
    } else if (which == CRLF) {
      out norm = {NULL, 0, 0};
      normalise(d, n, &norm);
      if (norm.n != whole.n || (norm.n && memcmp(norm.p, whole.p, norm.n)))
        FAIL("crlf: output is not the input with CRLF line ends");
      free(norm.p);
    } else {
      check_b64s(whole.p, whole.n, d, n);
    }
    free(whole.p);
    free(cut.p);
  }
}
#endif /* SMTPC_FUZZ_MIME */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const unsigned char *sizes;
  size_t k, extra;
  if (size < 1)
    return 0;
  k = data[0] & 7;
  if (size < 2 + k)
    return 0;
  sizes = data + 1;
  extra = data[1 + k];
  data += 2 + k;
  size -= 2 + k;
  base64_round_trip(data, size);
  base64_strict(data, size);
#ifdef SMTPC_FUZZ_MIME
  streaming(sizes, k, extra, data, size);
#else
  (void)sizes;
  (void)extra;
#endif
  return 0;
}
