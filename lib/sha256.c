/* SPDX-License-Identifier: MIT */
/* SHA-256 (FIPS 180-4 section 6.2) for DKIM: no dependency, portable C99.
 *
 * Whole 64-octet blocks are compressed straight from the caller's data;
 * only a block split across update calls is gathered in c->buf.  Words are
 * assembled octet by octet (big-endian), never read through a cast pointer,
 * so any alignment works on any target (Cortex-M0 faults on unaligned
 * words).  The message schedule is kept as a 16-word ring, expanded as the
 * rounds go. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "dkim_int.h"

#include <string.h>

static const uint32_t K[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu,
    0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u, 0xd807aa98u, 0x12835b01u,
    0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u,
    0xc19bf174u, 0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu,
    0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau, 0x983e5152u,
    0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u,
    0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu,
    0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u,
    0xd6990624u, 0xf40e3585u, 0x106aa070u, 0x19a4c116u, 0x1e376c08u,
    0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu,
    0x682e6ff3u, 0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u,
    0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define CH(x, y, z) (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define BSIG0(x) (ROR((x), 2) ^ ROR((x), 13) ^ ROR((x), 22))
#define BSIG1(x) (ROR((x), 6) ^ ROR((x), 11) ^ ROR((x), 25))
#define SSIG0(x) (ROR((x), 7) ^ ROR((x), 18) ^ ((x) >> 3))
#define SSIG1(x) (ROR((x), 17) ^ ROR((x), 19) ^ ((x) >> 10))

static uint32_t load_be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         (uint32_t)p[3];
}

static void store_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

/* One round with the variables named by rotating the arguments instead of
 * moving eight words around: d and h are the only ones that change. */
#define ROUND(a, b, c, d, e, f, g, h, i, w)                                    \
  do {                                                                         \
    uint32_t t1_ = (h) + BSIG1(e) + CH((e), (f), (g)) + K[i] + (w);            \
    (d) += t1_;                                                                \
    (h) = t1_ + BSIG0(a) + MAJ((a), (b), (c));                                 \
  } while (0)

/* W[t] for t >= 16, in the ring W[t % 16]. */
#define EXPAND(W, t)                                                           \
  ((W)[(t)&15] +=                                                              \
   SSIG1((W)[((t)-2) & 15]) + (W)[((t)-7) & 15] + SSIG0((W)[((t)-15) & 15]))

#define ROUND8(t, w)                                                           \
  do {                                                                         \
    ROUND(a, b, c, d, e, f, g, h, (t) + 0, w((t) + 0));                        \
    ROUND(h, a, b, c, d, e, f, g, (t) + 1, w((t) + 1));                        \
    ROUND(g, h, a, b, c, d, e, f, (t) + 2, w((t) + 2));                        \
    ROUND(f, g, h, a, b, c, d, e, (t) + 3, w((t) + 3));                        \
    ROUND(e, f, g, h, a, b, c, d, (t) + 4, w((t) + 4));                        \
    ROUND(d, e, f, g, h, a, b, c, (t) + 5, w((t) + 5));                        \
    ROUND(c, d, e, f, g, h, a, b, (t) + 6, w((t) + 6));                        \
    ROUND(b, c, d, e, f, g, h, a, (t) + 7, w((t) + 7));                        \
  } while (0)

#define W_LOAD(t) W[(t)]
#define W_EXPAND(t) EXPAND(W, (t))

/* Compresses n whole blocks at p into h. */
static void blocks(uint32_t st[8], const unsigned char *p, size_t n) {
  uint32_t W[16];
  uint32_t a, b, c, d, e, f, g, h;
  int i, t;
  while (n-- > 0) {
    for (i = 0; i < 16; i++)
      W[i] = load_be32(p + 4 * i);
    a = st[0];
    b = st[1];
    c = st[2];
    d = st[3];
    e = st[4];
    f = st[5];
    g = st[6];
    h = st[7];
    ROUND8(0, W_LOAD);
    ROUND8(8, W_LOAD);
    for (t = 16; t < 64; t += 16) {
      ROUND8(t, W_EXPAND);
      ROUND8(t + 8, W_EXPAND);
    }
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
    st[4] += e;
    st[5] += f;
    st[6] += g;
    st[7] += h;
    p += 64;
  }
}

/* x86-64 with the SHA extensions (most CPUs since 2017-2019): the same
 * compression with SHA256RNDS2 and SHA256MSG1/2, several times fewer
 * instructions.  Chosen at run time (CPUID), so one build runs anywhere;
 * -DSMTPC_NO_SHA_NI leaves it out. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) &&        \
    !defined(SMTPC_NO_SHA_NI)
#include <cpuid.h>
#include <immintrin.h>
#define SHA_NI 1

/* CPUID: SHA (leaf 7 EBX bit 29), SSSE3 and SSE4.1 (leaf 1 ECX 9, 19). */
static int sha_ni_present(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 9)) || !(c & (1u << 19)))
    return 0;
  if (__get_cpuid_max(0, NULL) < 7)
    return 0;
  __cpuid_count(7, 0, a, b, c, d);
  return (b & (1u << 29)) != 0;
}

__attribute__((target("sha,ssse3,sse4.1"))) static void
blocks_ni(uint32_t st[8], const unsigned char *p, size_t n) {
  /* big-endian words: reverse the octets of each 32-bit lane */
  const __m128i bswap =
      _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
  __m128i abef, cdgh, t, w[4];
  int g;
  /* the state as the instructions want it: {A,B,E,F} and {C,D,G,H},
   * A in the top lane */
  t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&st[0]), 0xB1);
  cdgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&st[4]), 0x1B);
  abef = _mm_alignr_epi8(t, cdgh, 8);
  cdgh = _mm_blend_epi16(cdgh, t, 0xF0);
  while (n-- > 0) {
    const __m128i abef0 = abef, cdgh0 = cdgh;
    for (g = 0; g < 16; g++) { /* four rounds per group */
      __m128i m;
      if (g < 4) {
        w[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)),
                                bswap);
      } else { /* W[t..t+3] from W[t-16..t-1] */
        m = _mm_add_epi32(_mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]),
                          _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
        w[g & 3] = _mm_sha256msg2_epu32(m, w[(g + 3) & 3]);
      }
      m = _mm_add_epi32(w[g & 3], _mm_loadu_si128((const __m128i *)&K[4 * g]));
      cdgh = _mm_sha256rnds2_epu32(cdgh, abef, m);
      abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(m, 0x0E));
    }
    abef = _mm_add_epi32(abef, abef0);
    cdgh = _mm_add_epi32(cdgh, cdgh0);
    p += 64;
  }
  t = _mm_shuffle_epi32(abef, 0x1B);    /* {F,E,B,A} */
  cdgh = _mm_shuffle_epi32(cdgh, 0xB1); /* {D,C,H,G} */
  _mm_storeu_si128((__m128i *)&st[0], _mm_blend_epi16(t, cdgh, 0xF0));
  _mm_storeu_si128((__m128i *)&st[4], _mm_alignr_epi8(cdgh, t, 8));
}

#define BLOCKS(c, p, n)                                                        \
  ((c)->hw ? blocks_ni((c)->h, (p), (n)) : blocks((c)->h, (p), (n)))
#else
#define BLOCKS(c, p, n) blocks((c)->h, (p), (n))
#endif

void smtpc__sha256_init(smtpc__sha256 *c) {
  /* FIPS 180-4 5.3.3 */
  c->h[0] = 0x6a09e667u;
  c->h[1] = 0xbb67ae85u;
  c->h[2] = 0x3c6ef372u;
  c->h[3] = 0xa54ff53au;
  c->h[4] = 0x510e527fu;
  c->h[5] = 0x9b05688cu;
  c->h[6] = 0x1f83d9abu;
  c->h[7] = 0x5be0cd19u;
  c->bytes = 0;
  c->n = 0;
#ifdef SHA_NI
  c->hw = sha_ni_present();
#else
  c->hw = 0;
#endif
}

void smtpc__sha256_update(smtpc__sha256 *c, const void *data, size_t len) {
  const unsigned char *p = data;
  size_t take;
  if (len == 0)
    return;
  c->bytes += len;
  if (c->n > 0) { /* complete the partial block first */
    take = 64 - c->n;
    if (take > len)
      take = len;
    memcpy(c->buf + c->n, p, take);
    c->n += take;
    p += take;
    len -= take;
    if (c->n < 64)
      return;
    BLOCKS(c, c->buf, 1);
    c->n = 0;
  }
  if (len >= 64) { /* whole blocks straight from the input */
    BLOCKS(c, p, len / 64);
    p += len - len % 64;
    len %= 64;
  }
  if (len > 0) {
    memcpy(c->buf, p, len);
    c->n = len;
  }
}

void smtpc__sha256_final(smtpc__sha256 *c, unsigned char out[32]) {
  uint64_t bits = c->bytes * 8u;
  int i;
  /* FIPS 180-4 5.1.1: 0x80, zeros, the 64-bit length in bits */
  c->buf[c->n++] = 0x80;
  if (c->n > 56) {
    memset(c->buf + c->n, 0, 64 - c->n);
    BLOCKS(c, c->buf, 1);
    c->n = 0;
  }
  memset(c->buf + c->n, 0, 56 - c->n);
  store_be32(c->buf + 56, (uint32_t)(bits >> 32));
  store_be32(c->buf + 60, (uint32_t)bits);
  BLOCKS(c, c->buf, 1);
  for (i = 0; i < 8; i++)
    store_be32(out + 4 * i, c->h[i]);
  /* the state says something about the message (e.g. a key's digest) */
  smtpc__wipe(c, sizeof *c);
}
