/* SPDX-License-Identifier: MIT */
/* DKIM's SHA-256 (sha256.c) and private keys (dkim_key.c): known answers
 * from FIPS 180-2 and RFC 8463 Appendix A, the key forms OpenSSL writes
 * (made at test time with the openssl command), refusals, and allocation
 * failures.  RSA tests need mbedTLS, Ed25519 tests libsodium; a build
 * without one checks that its keys are refused instead. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "rfc8463.h"
#include "testutil.h"

#include "dkim_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef SMTPC_HAVE_PTHREADS
#include <pthread.h>
#endif
#ifdef SMTPC_HAVE_MBEDTLS
#include <mbedtls/version.h>
#endif

/* ---- helpers ------------------------------------------------------------ */

static void sha256(const void *p, size_t n, unsigned char out[32]) {
  smtpc__sha256 c;
  smtpc__sha256_init(&c);
  smtpc__sha256_update(&c, p, n);
  smtpc__sha256_final(&c, out);
}

static const char *hex(const unsigned char *p, size_t n) {
  static char out[2 * 64 + 1];
  size_t i;
  for (i = 0; i < n && i < 64; i++)
    snprintf(out + 2 * i, 3, "%02x", p[i]);
  return out;
}

static const char *b64(const unsigned char *p, size_t n) {
  static char out[2048];
  ck_assert_uint_lt(smtpc__b64_encoded_len(n), sizeof out);
  smtpc__b64_encode(p, n, out);
  return out;
}

/* Reads a whole file (test side, libc memory); aborts if it cannot. */
static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  unsigned char *p = NULL;
  size_t cap = 0, n = 0, got;
  ck_assert_msg(f != NULL, "cannot open %s", path);
  do {
    if (n == cap) {
      cap = cap ? 2 * cap : 4096;
      p = realloc(p, cap + 1);
      ck_assert_ptr_nonnull(p);
    }
    got = fread(p + n, 1, cap - n, f);
    n += got;
  } while (got > 0);
  fclose(f);
  p[n] = '\0';
  *len = n;
  return p;
}

/* ---- SHA-256 ------------------------------------------------------------ */

START_TEST(sha256_abc) {
  unsigned char d[32];
  sha256("abc", 3, d);
  ck_assert_str_eq(
      hex(d, 32),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(sha256_two_blocks) {
  static const char m[] =
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  unsigned char d[32];
  sha256(m, strlen(m), d);
  ck_assert_str_eq(
      hex(d, 32),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(sha256_empty) {
  unsigned char d[32];
  sha256("", 0, d);
  ck_assert_str_eq(
      hex(d, 32),
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

START_TEST(sha256_million_a) {
  /* pieces of 1, 2, ... 97 octets in turn, so that blocks are split at
   * every offset and whole blocks also come straight from the input */
  static unsigned char a[97];
  smtpc__sha256 c;
  unsigned char d[32];
  size_t left = 1000000, k = 1;
  memset(a, 'a', sizeof a);
  smtpc__sha256_init(&c);
  while (left > 0) {
    size_t n = k < left ? k : left;
    smtpc__sha256_update(&c, a, n);
    left -= n;
    k = k % sizeof a + 1;
  }
  smtpc__sha256_final(&c, d);
  ck_assert_str_eq(
      hex(d, 32),
      "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(sha256_every_split) {
  unsigned char m[200], one[32], two[32];
  size_t i, j;
  for (i = 0; i < sizeof m; i++)
    m[i] = (unsigned char)(i * 7 + 3);
  sha256(m, sizeof m, one);
  for (i = 0; i <= sizeof m; i++) {
    smtpc__sha256 c;
    smtpc__sha256_init(&c);
    smtpc__sha256_update(&c, m, i);
    smtpc__sha256_update(&c, m + i, sizeof m - i);
    smtpc__sha256_final(&c, two);
    TU_CHECK(memcmp(one, two, 32) == 0, "split at %zu differs", i);
  }
  /* three pieces, and empty updates between them */
  for (i = 0; i <= sizeof m; i += 13)
    for (j = i; j <= sizeof m; j += 11) {
      smtpc__sha256 c;
      smtpc__sha256_init(&c);
      smtpc__sha256_update(&c, m, i);
      smtpc__sha256_update(&c, m, 0);
      smtpc__sha256_update(&c, m + i, j - i);
      smtpc__sha256_update(&c, m + j, sizeof m - j);
      smtpc__sha256_final(&c, two);
      TU_CHECK(memcmp(one, two, 32) == 0, "split at %zu, %zu differs", i, j);
    }
  /* lengths around the padding boundary (55, 56, 63, 64 octets) */
  for (i = 50; i <= 70; i++) {
    smtpc__sha256 c;
    sha256(m, i, one);
    smtpc__sha256_init(&c);
    for (j = 0; j < i; j++)
      smtpc__sha256_update(&c, m + j, 1);
    smtpc__sha256_final(&c, two);
    TU_CHECK(memcmp(one, two, 32) == 0, "length %zu differs", i);
  }
}
END_TEST

/* ---- RFC 8463 Appendix A ------------------------------------------------ */

/* The canonicalized header data (relaxed), DKIM-Signature last with an
 * empty b= and no CRLF; ALGO and SEL vary. */
#define HEADER_DATA(ALGO, SEL)                                                 \
  "from:Joe SixPack <joe@football.example.com>\r\n"                            \
  "to:Suzie Q <suzie@shopping.example.net>\r\n"                                \
  "subject:Is dinner ready?\r\n"                                               \
  "date:Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"                             \
  "message-id:<20030712040037.46341.5F8J@football.example.com>\r\n"            \
  "dkim-signature:v=1; a=" ALGO "; c=relaxed/relaxed; "                        \
  "d=football.example.com; i=@football.example.com; q=dns/txt; s=" SEL "; "    \
  "t=1528637909; h=from : to : subject : date : message-id : from : "          \
  "subject : date; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b="

static const char ed_header[] = HEADER_DATA("ed25519-sha256", "brisbane");
static const char rsa_header[] = HEADER_DATA("rsa-sha256", "test");

static const char ed_seed_b64[] = RFC8463_ED_SEED;
static const char rfc_rsa_pem[] = RFC8463_RSA_PEM;
static const char rfc_rsa_b[] = RFC8463_RSA_B;

/* The public key of RFC 8463's RSA key: its DNS record's p= (A.2). */
static const char rfc_rsa_p[] =
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qh"
    "dR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+"
    "PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

/* The PKCS#8 DER of an Ed25519 seed (RFC 8410 7). */
static void ed_der(const unsigned char seed[32], unsigned char der[48]) {
  static const unsigned char prefix[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30,
                                           0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
                                           0x04, 0x22, 0x04, 0x20};
  memcpy(der, prefix, 16);
  memcpy(der + 16, seed, 32);
}

/* RFC 8463's Ed25519 key as PKCS#8 PEM, with the given line end. */
static void ed_pem(char *out, size_t cap, const char *eol) {
  unsigned char seed[32], der[48];
  char body[65];
  size_t n = 0;
  ck_assert_int_eq(smtpc__b64_decode(ed_seed_b64, strlen(ed_seed_b64), seed,
                                     sizeof seed, &n),
                   SMTPC_OK);
  ck_assert_uint_eq(n, 32);
  ed_der(seed, der);
  smtpc__b64_encode(der, sizeof der, body);
  snprintf(out, cap,
           "-----BEGIN PRIVATE KEY-----%s%s%s-----END PRIVATE KEY-----%s", eol,
           body, eol, eol);
}

/* Loads key[0..len) with libc memory; the result code. */
static int load(const void *key, size_t len, const char *pwd, unsigned bits,
                smtpc__dkim_key **k, smtpc_dkim_algo *algo) {
  return smtpc__dkim_key_load(NULL, key, len, pwd, bits, k, algo);
}

static int load_refused(const void *key, size_t len, const char *pwd,
                        unsigned bits) {
  smtpc__dkim_key *k = (smtpc__dkim_key *)&k; /* must become NULL */
  smtpc_dkim_algo algo = (smtpc_dkim_algo)0;
  int rc = load(key, len, pwd, bits, &k, &algo);
  ck_assert_ptr_null(k);
  ck_assert_int_eq((int)algo, 0);
  return rc;
}

/* Signs the digest of data with k and returns the signature's base64. */
static const char *sign_b64(smtpc__dkim_key *k, const char *data) {
  unsigned char d[32], sig[SMTPC_DKIM_MAX_SIG];
  size_t n = 0;
  sha256(data, strlen(data), d);
  ck_assert_int_eq(smtpc__dkim_key_sign(k, d, sig, sizeof sig, &n), SMTPC_OK);
  return b64(sig, n);
}

START_TEST(garbage_refused) {
  static const char junk[] = "not a key at all";
  static const unsigned char der[] = {0x30, 0x03, 0x02, 0x01, 0x00};
  static const char pem[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n"
                            "-----END PRIVATE KEY-----\n";
  static const char open[] = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2Vw";
  smtpc__dkim_key *k = NULL;
  smtpc_dkim_algo algo;
  ck_assert_int_eq(load_refused(junk, strlen(junk), NULL, 1024),
                   SMTPC_ERR_DKIM_KEY);
  ck_assert_int_eq(load_refused(der, sizeof der, NULL, 1024),
                   SMTPC_ERR_DKIM_KEY);
  ck_assert_int_eq(load_refused(pem, strlen(pem), NULL, 1024),
                   SMTPC_ERR_DKIM_KEY);
  ck_assert_int_eq(load_refused(pem, sizeof pem, NULL, 1024),
                   SMTPC_ERR_DKIM_KEY);
  ck_assert_int_eq(load_refused(open, strlen(open), NULL, 1024),
                   SMTPC_ERR_DKIM_KEY);
  ck_assert_int_eq(load_refused(junk, 0, NULL, 1024), SMTPC_ERR_DKIM_KEY);
  ck_assert_int_eq(load(NULL, 3, NULL, 1024, &k, &algo),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(load(junk, 3, NULL, 1024, NULL, &algo),
                   SMTPC_ERR_INVALID_ARGUMENT);
  smtpc__dkim_key_free(NULL);
}
END_TEST

/* ---- Ed25519 ------------------------------------------------------------ */

START_TEST(ed25519_rfc8463) {
  char pem[256], pub[64];
  smtpc__dkim_key *k = NULL;
  smtpc_dkim_algo algo = (smtpc_dkim_algo)0;
  int rc;
  ed_pem(pem, sizeof pem, "\n");
  rc = load(pem, strlen(pem), NULL, 2048, &k, &algo);
#ifdef SMTPC_HAVE_SODIUM
  ck_assert_int_eq(rc, SMTPC_OK);
  ck_assert_int_eq(algo, SMTPC_DKIM_ED25519_SHA256);
  ck_assert_str_eq(sign_b64(k, ed_header), RFC8463_ED_B);
  ck_assert_int_eq(smtpc__dkim_key_public(k, pub, sizeof pub), SMTPC_OK);
  ck_assert_str_eq(pub, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
  smtpc__dkim_key_free(k);
#else
  ck_assert_int_eq(rc, SMTPC_ERR_DKIM_KEY);
  ck_assert_ptr_null(k);
  (void)pub;
  (void)ed_header;
  (void)sign_b64; /* used by nothing else in a build without either */
#endif
}
END_TEST

#ifdef SMTPC_HAVE_SODIUM
START_TEST(ed25519_forms) {
  unsigned char seed[32], der[48], d[32], sig[64];
  char pem[256], pub[45];
  size_t n = 0;
  smtpc__dkim_key *k = NULL;
  smtpc_dkim_algo algo;
  ck_assert_int_eq(smtpc__b64_decode(ed_seed_b64, strlen(ed_seed_b64), seed,
                                     sizeof seed, &n),
                   SMTPC_OK);
  /* DER */
  ed_der(seed, der);
  ck_assert_int_eq(load(der, sizeof der, NULL, 2048, &k, &algo), SMTPC_OK);
  ck_assert_str_eq(sign_b64(k, ed_header), RFC8463_ED_B);
  /* exactly enough room, then one octet short */
  ck_assert_int_eq(smtpc__dkim_key_public(k, pub, sizeof pub), SMTPC_OK);
  ck_assert_int_eq(smtpc__dkim_key_public(k, pub, sizeof pub - 1),
                   SMTPC_ERR_INVALID_ARGUMENT);
  sha256(ed_header, strlen(ed_header), d);
  ck_assert_int_eq(smtpc__dkim_key_sign(k, d, sig, 64, &n), SMTPC_OK);
  ck_assert_uint_eq(n, 64);
  ck_assert_int_eq(smtpc__dkim_key_sign(k, d, sig, 63, &n), SMTPC_ERR_DKIM_KEY);
  smtpc__dkim_key_free(k);
  /* PEM with CRLF line ends and its NUL counted */
  ed_pem(pem, sizeof pem, "\r\n");
  ck_assert_int_eq(load(pem, strlen(pem) + 1, NULL, 2048, &k, &algo), SMTPC_OK);
  ck_assert_int_eq(algo, SMTPC_DKIM_ED25519_SHA256);
  smtpc__dkim_key_free(k);
  /* a damaged prefix is not Ed25519 (and nothing else) */
  der[9] ^= 1;
  ck_assert_int_eq(load_refused(der, sizeof der, NULL, 2048),
                   SMTPC_ERR_DKIM_KEY);
}
END_TEST

static int ed_scenario(tu_alloc *a, void *arg) {
  const char *pem = arg;
  smtpc__dkim_key *k = NULL;
  smtpc_dkim_algo algo;
  int rc = smtpc__dkim_key_load(&a->mem, (const unsigned char *)pem,
                                strlen(pem), NULL, 2048, &k, &algo);
  if (rc == SMTPC_OK)
    ck_assert_str_eq(sign_b64(k, ed_header), RFC8463_ED_B);
  else
    ck_assert_ptr_null(k);
  smtpc__dkim_key_free(k);
  return rc;
}

START_TEST(ed25519_nomem) {
  char pem[256];
  ed_pem(pem, sizeof pem, "\n");
  ck_assert_int_ge(tu_alloc_sweep(ed_scenario, pem, 20), 1);
}
END_TEST
#endif /* SMTPC_HAVE_SODIUM */

/* ---- RSA ---------------------------------------------------------------- */

START_TEST(rsa_rfc8463) {
  char pub[512];
  smtpc__dkim_key *k = NULL;
  smtpc_dkim_algo algo = (smtpc_dkim_algo)0;
  int rc = load(rfc_rsa_pem, strlen(rfc_rsa_pem), NULL, 1024, &k, &algo);
#ifdef SMTPC_HAVE_MBEDTLS
  ck_assert_int_eq(rc, SMTPC_OK);
  ck_assert_int_eq(algo, SMTPC_DKIM_RSA_SHA256);
  ck_assert_str_eq(sign_b64(k, rsa_header), rfc_rsa_b);
  ck_assert_int_eq(smtpc__dkim_key_public(k, pub, sizeof pub), SMTPC_OK);
  ck_assert_str_eq(pub, rfc_rsa_p);
  smtpc__dkim_key_free(k);
  /* the NUL counted, as mbedTLS wants it */
  ck_assert_int_eq(load(rfc_rsa_pem, sizeof rfc_rsa_pem, NULL, 1024, &k, &algo),
                   SMTPC_OK);
  ck_assert_str_eq(sign_b64(k, rsa_header), rfc_rsa_b);
  smtpc__dkim_key_free(k);
#else
  ck_assert_int_eq(rc, SMTPC_ERR_DKIM_KEY);
  ck_assert_ptr_null(k);
  (void)pub;
  (void)rsa_header;
  (void)rfc_rsa_b;
  (void)rfc_rsa_p;
#endif
}
END_TEST

START_TEST(rsa_too_small) {
  ck_assert_int_eq(load_refused(rfc_rsa_pem, strlen(rfc_rsa_pem), NULL, 2048),
                   SMTPC_ERR_DKIM_KEY);
  ck_assert_int_eq(load_refused(rfc_rsa_pem, strlen(rfc_rsa_pem), NULL, 1025),
                   SMTPC_ERR_DKIM_KEY);
}
END_TEST

#ifdef SMTPC_HAVE_MBEDTLS
START_TEST(rsa_sign_small_buffer) {
  unsigned char d[32], sig[128];
  size_t n = 0;
  smtpc__dkim_key *k = NULL;
  smtpc_dkim_algo algo;
  ck_assert_int_eq(
      load(rfc_rsa_pem, strlen(rfc_rsa_pem), NULL, 1024, &k, &algo), SMTPC_OK);
  sha256(rsa_header, strlen(rsa_header), d);
  ck_assert_int_eq(smtpc__dkim_key_sign(k, d, sig, 127, &n),
                   SMTPC_ERR_DKIM_KEY);
  ck_assert_int_eq(smtpc__dkim_key_sign(k, d, sig, 128, &n), SMTPC_OK);
  ck_assert_uint_eq(n, 128);
  ck_assert_str_eq(b64(sig, n), rfc_rsa_b);
  ck_assert_int_eq(smtpc__dkim_key_public(k, (char *)sig, strlen(rfc_rsa_p)),
                   SMTPC_ERR_INVALID_ARGUMENT);
  smtpc__dkim_key_free(k);
}
END_TEST

static int rsa_scenario(tu_alloc *a, void *arg) {
  smtpc__dkim_key *k = NULL;
  smtpc_dkim_algo algo;
  int rc;
  (void)arg;
  rc = smtpc__dkim_key_load(&a->mem, (const unsigned char *)rfc_rsa_pem,
                            strlen(rfc_rsa_pem), NULL, 1024, &k, &algo);
  if (rc == SMTPC_OK)
    ck_assert_str_eq(sign_b64(k, rsa_header), rfc_rsa_b);
  else
    ck_assert_ptr_null(k);
  smtpc__dkim_key_free(k);
  return rc;
}

START_TEST(rsa_nomem) {
  ck_assert_int_ge(tu_alloc_sweep(rsa_scenario, NULL, 20), 3);
}
END_TEST

#ifdef SMTPC_HAVE_PTHREADS
typedef struct signer {
  smtpc__dkim_key *k;
  int bad;
} signer;

static void *sign_many(void *arg) {
  signer *s = arg;
  unsigned char d[32], sig[128];
  char out[256];
  size_t n;
  int i;
  sha256(rsa_header, strlen(rsa_header), d);
  for (i = 0; i < 50; i++) {
    n = 0;
    if (smtpc__dkim_key_sign(s->k, d, sig, sizeof sig, &n) != SMTPC_OK ||
        n != sizeof sig) {
      s->bad++;
      continue;
    }
    smtpc__b64_encode(sig, n, out);
    if (strcmp(out, rfc_rsa_b) != 0)
      s->bad++;
  }
  return NULL;
}

/* One key, four threads signing at once: every signature right. */
START_TEST(rsa_threads) {
  smtpc__dkim_key *k = NULL;
  smtpc_dkim_algo algo;
  pthread_t t[4];
  signer s[4];
  int i;
  ck_assert_int_eq(
      load(rfc_rsa_pem, strlen(rfc_rsa_pem), NULL, 1024, &k, &algo), SMTPC_OK);
  for (i = 0; i < 4; i++) {
    s[i].k = k;
    s[i].bad = 0;
    ck_assert_int_eq(pthread_create(&t[i], NULL, sign_many, &s[i]), 0);
  }
  for (i = 0; i < 4; i++) {
    ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    ck_assert_int_eq(s[i].bad, 0);
  }
  smtpc__dkim_key_free(k);
}
END_TEST
#endif /* SMTPC_HAVE_PTHREADS */
#endif /* SMTPC_HAVE_MBEDTLS */

/* ---- keys made by openssl ----------------------------------------------- */

/* A directory of keys made once per run by openssl (main()). */
static char keydir[256];

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...) {
  char cmd[1024];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof cmd || system(cmd) != 0) {
    fprintf(stderr, "check_dkim_key: failed: %s\n", cmd);
    exit(EXIT_FAILURE);
  }
}

static void make_keys(void) {
  const char *d = keydir;
  const char *tmp = getenv("TMPDIR");
  snprintf(keydir, sizeof keydir, "%s/check_dkim_key.XXXXXX",
           tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
  if (mkdtemp(keydir) == NULL) {
    perror("check_dkim_key: mkdtemp");
    exit(EXIT_FAILURE);
  }
  run("cd '%s' && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
      "-out rsa8.pem 2>/dev/null",
      d);
  run("cd '%s' && openssl pkey -in rsa8.pem -outform DER -out rsa8.der", d);
  run("cd '%s' && openssl rsa -in rsa8.pem -traditional -out rsa1.pem "
      "2>/dev/null",
      d);
  run("cd '%s' && openssl rsa -in rsa8.pem -traditional -outform DER "
      "-out rsa1.der 2>/dev/null",
      d);
  run("cd '%s' && openssl pkey -in rsa8.pem -aes-256-cbc -passout pass:s3cret "
      "-out rsa8enc.pem",
      d);
  /* mbedTLS 2.28 decrypts PKCS#8 only with DES or 3DES (and PBKDF2 with
   * HMAC-SHA1); 4.x has no DES */
  run("cd '%s' && openssl pkcs8 -topk8 -in rsa8.pem -v2 des3 "
      "-v2prf hmacWithSHA1 -passout pass:s3cret -out rsa8enc3des.pem",
      d);
  run("cd '%s' && openssl rsa -in rsa8.pem -traditional -aes128 "
      "-passout pass:s3cret -out rsa1enc.pem 2>/dev/null",
      d);
  run("cd '%s' && openssl pkey -in rsa8.pem -pubout -outform DER | "
      "base64 -w0 > rsa.pub",
      d);
  run("cd '%s' && openssl genpkey -algorithm EC "
      "-pkeyopt ec_paramgen_curve:P-256 -out ec.pem",
      d);
  run("cd '%s' && openssl pkey -in ec.pem -outform DER -out ec.der", d);
  run("cd '%s' && openssl genpkey -algorithm ed25519 -out ed.pem", d);
  run("cd '%s' && openssl pkey -in ed.pem -outform DER -out ed.der", d);
  /* the raw public key: the last 32 octets of the SubjectPublicKeyInfo */
  run("cd '%s' && openssl pkey -in ed.pem -pubout -outform DER | tail -c 32 | "
      "base64 -w0 > ed.pub",
      d);
}

static void remove_keys(void) {
  if (keydir[0] != '\0')
    run("rm -rf '%s'", keydir);
}

static unsigned char *key_file(const char *name, size_t *len) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", keydir, name);
  return slurp(path, len);
}

static const char *const rsa_files[] = {
    "rsa8.pem",    "rsa8.der",        "rsa1.pem",   "rsa1.der",
    "rsa8enc.pem", "rsa8enc3des.pem", "rsa1enc.pem"};

#ifdef SMTPC_HAVE_MBEDTLS
/* 1 if this mbedTLS reads the key file (else it must be refused). */
static int readable(const char *name) {
  if (strcmp(name, "rsa8enc.pem") == 0) /* AES-256-CBC, PBKDF2-HMAC-SHA256 */
    return MBEDTLS_VERSION_NUMBER >= 0x03000000;
  if (strcmp(name, "rsa8enc3des.pem") == 0) /* 3DES, PBKDF2-HMAC-SHA1 */
    return MBEDTLS_VERSION_NUMBER < 0x04000000;
  return 1;
}
#endif

/* Each form of the 2048-bit key loads (with the password where it is
 * encrypted), gives the public key openssl gives, and signs. */
START_TEST(rsa_openssl_forms) {
  const char *name = rsa_files[_i];
  const char *pwd = strstr(name, "enc") != NULL ? "s3cret" : NULL;
  size_t len, plen;
  unsigned char *key = key_file(name, &len);
  unsigned char *pub = key_file("rsa.pub", &plen);
  smtpc__dkim_key *k = NULL;
  smtpc_dkim_algo algo;
  int rc = load(key, len, pwd, 2048, &k, &algo);
#ifdef SMTPC_HAVE_MBEDTLS
  char out[1024];
  unsigned char d[32], sig[512];
  size_t n = 0;
  if (!readable(name)) {
    ck_assert_msg(rc == SMTPC_ERR_DKIM_KEY, "%s: %s", name, smtpc_strerror(rc));
    ck_assert_ptr_null(k);
    free(key);
    free(pub);
    return;
  }
  ck_assert_msg(rc == SMTPC_OK, "%s: %s", name, smtpc_strerror(rc));
  ck_assert_int_eq(algo, SMTPC_DKIM_RSA_SHA256);
  ck_assert_int_eq(smtpc__dkim_key_public(k, out, sizeof out), SMTPC_OK);
  ck_assert_str_eq(out, (const char *)pub);
  sha256(rsa_header, strlen(rsa_header), d);
  ck_assert_int_eq(smtpc__dkim_key_sign(k, d, sig, sizeof sig, &n), SMTPC_OK);
  ck_assert_uint_eq(n, 256);
  ck_assert_int_eq(smtpc__dkim_key_sign(k, d, sig, 255, &n),
                   SMTPC_ERR_DKIM_KEY);
  smtpc__dkim_key_free(k);
  /* the 2048-bit key at a 4096-bit minimum */
  ck_assert_int_eq(load_refused(key, len, pwd, 4096), SMTPC_ERR_DKIM_KEY);
  if (pwd != NULL) {
    ck_assert_int_eq(load_refused(key, len, "wrong", 2048), SMTPC_ERR_DKIM_KEY);
    ck_assert_int_eq(load_refused(key, len, NULL, 2048), SMTPC_ERR_DKIM_KEY);
  }
#else
  ck_assert_int_eq(rc, SMTPC_ERR_DKIM_KEY);
  ck_assert_ptr_null(k);
#endif
  free(key);
  free(pub);
}
END_TEST

START_TEST(ec_refused) {
  size_t len;
  unsigned char *pem = key_file("ec.pem", &len);
  ck_assert_int_eq(load_refused(pem, len, NULL, 2048), SMTPC_ERR_DKIM_KEY);
  free(pem);
  pem = key_file("ec.der", &len);
  ck_assert_int_eq(load_refused(pem, len, NULL, 2048), SMTPC_ERR_DKIM_KEY);
  free(pem);
}
END_TEST

/* openssl's Ed25519 keys load in both forms and give openssl's public
 * key. */
START_TEST(ed25519_openssl) {
  static const char *const files[] = {"ed.pem", "ed.der"};
  size_t len, plen, i;
  unsigned char *pub = key_file("ed.pub", &plen);
  for (i = 0; i < 2; i++) {
    unsigned char *key = key_file(files[i], &len);
    smtpc__dkim_key *k = NULL;
    smtpc_dkim_algo algo;
    int rc = load(key, len, NULL, 2048, &k, &algo);
#ifdef SMTPC_HAVE_SODIUM
    char out[64];
    ck_assert_msg(rc == SMTPC_OK, "%s: %s", files[i], smtpc_strerror(rc));
    ck_assert_int_eq(algo, SMTPC_DKIM_ED25519_SHA256);
    ck_assert_int_eq(smtpc__dkim_key_public(k, out, sizeof out), SMTPC_OK);
    ck_assert_str_eq(out, (const char *)pub);
    smtpc__dkim_key_free(k);
#else
    ck_assert_int_eq(rc, SMTPC_ERR_DKIM_KEY);
    ck_assert_ptr_null(k);
#endif
    free(key);
  }
  free(pub);
}
END_TEST

static Suite *dkim_key_suite(void) {
  Suite *s = suite_create("dkim_key");
  TCase *tc = tcase_create("sha256");
  tcase_add_test(tc, sha256_abc);
  tcase_add_test(tc, sha256_two_blocks);
  tcase_add_test(tc, sha256_empty);
  tcase_add_test(tc, sha256_million_a);
  tcase_add_test(tc, sha256_every_split);
  suite_add_tcase(s, tc);

  tc = tcase_create("keys");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, garbage_refused);
  tcase_add_test(tc, ed25519_rfc8463);
  tcase_add_test(tc, rsa_rfc8463);
  tcase_add_test(tc, rsa_too_small);
#ifdef SMTPC_HAVE_SODIUM
  tcase_add_test(tc, ed25519_forms);
  tcase_add_test(tc, ed25519_nomem);
#endif
#ifdef SMTPC_HAVE_MBEDTLS
  tcase_add_test(tc, rsa_sign_small_buffer);
  tcase_add_test(tc, rsa_nomem);
#ifdef SMTPC_HAVE_PTHREADS
  tcase_add_test(tc, rsa_threads);
#endif
#endif
  suite_add_tcase(s, tc);

  tc = tcase_create("openssl");
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, rsa_openssl_forms, 0,
                      (int)(sizeof rsa_files / sizeof rsa_files[0]));
  tcase_add_test(tc, ec_refused);
  tcase_add_test(tc, ed25519_openssl);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr;
  int failed;
  make_keys();
  sr = srunner_create(dkim_key_suite());
  srunner_run_all(sr, CK_ENV);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  remove_keys();
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
