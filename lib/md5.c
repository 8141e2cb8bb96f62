/* SPDX-License-Identifier: MIT */
/* HMAC-MD5 (RFC 2104) for CRAM-MD5 (RFC 2195): from mbedTLS up to 3.x when
 * it has MD5 (io_mbedtls_compat.h), else from the MD5 (RFC 1321) here: builds
 * without TLS, and mbedTLS 4.x, whose PSA HMAC refuses the empty key that
 * an empty password gives.  MD5 is broken for collisions; CRAM-MD5 only
 * needs it as a keyed MAC, and only because servers still offer it. */
#include "smtpc_int.h"

#ifdef SMTPC_HAVE_MBEDTLS
#include "io_mbedtls_compat.h"
#endif

#ifdef SMTPC__TLS_HMAC_MD5

int smtpc__hmac_md5(const unsigned char *key, size_t klen,
                    const unsigned char *msg, size_t mlen,
                    unsigned char out[16]) {
  /* NULL when this mbedTLS was built without MD5 (possible in 3.x). */
  const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_MD5);
  if (md == NULL)
    return SMTPC_ERR_NOT_SUPPORTED;
  /* mbedtls_md_hmac() zeroises its padded-key context when done. */
  if (mbedtls_md_hmac(md, key, klen, msg, mlen, out) != 0)
    return SMTPC_ERR_INTERNAL;
  return SMTPC_OK;
}

#else

#include <string.h>

typedef struct md5 {
  uint32_t h[4];
  uint64_t len;
  unsigned char buf[64];
  size_t n;
} md5;

static uint32_t rol(uint32_t x, unsigned c) {
  return (x << c) | (x >> (32u - c));
}

static const uint32_t K[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a,
    0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
    0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
    0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
    0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
    0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
    0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
    0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
    0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};

/* Per-round shift amounts (RFC 1321 3.4): each round repeats its four. */
static const unsigned char S[16] = {7, 12, 17, 22, 5, 9,  14, 20,
                                    4, 11, 16, 23, 6, 10, 15, 21};

static void md5_block(md5 *c, const unsigned char *p) {
  uint32_t m[16], a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3];
  unsigned i;
  for (i = 0; i < 16; i++)
    m[i] = (uint32_t)p[i * 4] | (uint32_t)p[i * 4 + 1] << 8 |
           (uint32_t)p[i * 4 + 2] << 16 | (uint32_t)p[i * 4 + 3] << 24;
  for (i = 0; i < 64; i++) {
    uint32_t f, t;
    unsigned g;
    if (i < 16) {
      f = (b & cc) | (~b & d);
      g = i;
    } else if (i < 32) {
      f = (d & b) | (~d & cc);
      g = (5 * i + 1) % 16;
    } else if (i < 48) {
      f = b ^ cc ^ d;
      g = (3 * i + 5) % 16;
    } else {
      f = cc ^ (b | ~d);
      g = (7 * i) % 16;
    }
    t = d;
    d = cc;
    cc = b;
    b = b + rol(a + f + K[i] + m[g], S[(i >> 4) * 4 + (i & 3)]);
    a = t;
  }
  c->h[0] += a;
  c->h[1] += b;
  c->h[2] += cc;
  c->h[3] += d;
}

static void md5_init(md5 *c) {
  c->h[0] = 0x67452301;
  c->h[1] = 0xefcdab89;
  c->h[2] = 0x98badcfe;
  c->h[3] = 0x10325476;
  c->len = 0;
  c->n = 0;
}

static void md5_update(md5 *c, const unsigned char *p, size_t n) {
  c->len += n;
  while (n > 0) {
    size_t k = 64 - c->n;
    if (k > n)
      k = n;
    memcpy(c->buf + c->n, p, k);
    c->n += k;
    p += k;
    n -= k;
    if (c->n == 64) {
      md5_block(c, c->buf);
      c->n = 0;
    }
  }
}

static void md5_final(md5 *c, unsigned char out[16]) {
  uint64_t bits = c->len * 8;
  unsigned char pad = 0x80, zero = 0, lenb[8];
  unsigned i;
  md5_update(c, &pad, 1);
  while (c->n != 56)
    md5_update(c, &zero, 1);
  for (i = 0; i < 8; i++)
    lenb[i] = (unsigned char)(bits >> (8 * i));
  md5_update(c, lenb, 8);
  for (i = 0; i < 16; i++)
    out[i] = (unsigned char)(c->h[i / 4] >> (8 * (i % 4)));
}

int smtpc__hmac_md5(const unsigned char *key, size_t klen,
                    const unsigned char *msg, size_t mlen,
                    unsigned char out[16]) {
  unsigned char k[64], pad[64], inner[16];
  md5 c;
  unsigned i;
  memset(k, 0, sizeof(k));
  if (klen > 64) {
    md5_init(&c);
    md5_update(&c, key, klen);
    md5_final(&c, k);
  } else if (klen > 0) {
    memcpy(k, key, klen);
  }
  for (i = 0; i < 64; i++)
    pad[i] = k[i] ^ 0x36;
  md5_init(&c);
  md5_update(&c, pad, 64);
  md5_update(&c, msg, mlen);
  md5_final(&c, inner);
  for (i = 0; i < 64; i++)
    pad[i] = k[i] ^ 0x5c;
  md5_init(&c);
  md5_update(&c, pad, 64);
  md5_update(&c, inner, 16);
  md5_final(&c, out);
  smtpc__wipe(k, sizeof(k));
  smtpc__wipe(pad, sizeof(pad));
  smtpc__wipe(&c, sizeof(c));
  return SMTPC_OK;
}

#endif
