/* SPDX-License-Identifier: MIT */
/* DKIM private keys (dkim_int.h): RSA through mbedTLS's pk module (2.28,
 * 3.6 and 4.x; what differs is in io_mbedtls_compat.c), Ed25519 through
 * libsodium.  Either may be missing from a build: a key that needs it is
 * then refused with SMTPC_ERR_DKIM_KEY.
 *
 * Ed25519 keys come as PKCS#8 (RFC 8410), the form `openssl genpkey
 * -algorithm ed25519` writes, PEM or DER: a fixed 16-octet prefix and the
 * 32-octet seed.  mbedTLS has no Ed25519 (not even 4.x), so that form is
 * recognised here before mbedTLS sees the key.
 *
 * Threads: signing may run on one key from several threads at once.  An
 * Ed25519 signature is a pure function of the key.  An RSA signature goes
 * through the key's mbedTLS context (blinding values that change with each
 * use) and, before 4.x, its CTR-DRBG; neither is safe to share without
 * MBEDTLS_THREADING_C, so a mutex in the key serialises RSA signing (one
 * RSA-2048 signature took 2.7 ms with 2.28, 2.9 ms with 3.6 and 7.1 ms
 * with 4.0 on one x86-64 core; Ed25519 0.02 ms).  Without POSIX threads
 * there is no lock: use a key from one thread at a time.
 *
 * Secrets: the seed, libsodium's secret key and every temporary copy of the
 * key's bytes (a NUL-terminated copy of PEM text for mbedTLS, decoded DER)
 * are wiped before their memory is released.  mbedTLS wipes its own. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "dkim_int.h"

#include <string.h>

#ifdef SMTPC_HAVE_MBEDTLS
#include "io_mbedtls_compat.h"
#ifdef SMTPC_HAVE_PTHREADS
#include <pthread.h>
#define SMTPC__KEY_LOCK 1
#endif
#endif
#ifdef SMTPC_HAVE_SODIUM
#include <sodium.h>
#endif

/* The largest RSA key accepted: its signature must fit what dkim.c keeps
 * (SMTPC_DKIM_MAX_SIG octets). */
#define SMTPC__RSA_MAX_BITS (SMTPC_DKIM_MAX_SIG * 8)

struct smtpc__dkim_key {
  smtpc_mem mem;
  smtpc_dkim_algo algo;
  char *pub; /* p= value, base64, NUL-terminated */
#ifdef SMTPC_HAVE_SODIUM
  unsigned char ed_sk[crypto_sign_SECRETKEYBYTES]; /* seed || public key */
#endif
#ifdef SMTPC_HAVE_MBEDTLS
  int rsa;        /* pk and rng are initialised */
  size_t rsa_len; /* signature length: the modulus in octets */
  mbedtls_pk_context pk;
  smtpc__tls_rng rng;
#ifdef SMTPC__KEY_LOCK
  int locked; /* lock is initialised */
  pthread_mutex_t lock;
#endif
#endif
};

#if defined(SMTPC_HAVE_SODIUM) || defined(SMTPC_HAVE_MBEDTLS)
/* Finds needle in p[0..n); its offset, or n when absent. */
static size_t find(const unsigned char *p, size_t n, const char *needle) {
  size_t k = strlen(needle), i;
  if (k == 0 || k > n)
    return n;
  for (i = 0; i + k <= n; i++)
    if (p[i] == (unsigned char)needle[0] && memcmp(p + i, needle, k) == 0)
      return i;
  return n;
}

/* Stores the base64 of bin[0..n) as k->pub.  SMTPC_OK or SMTPC_ERR_NOMEM. */
static int set_public(smtpc__dkim_key *k, const unsigned char *bin, size_t n) {
  size_t b64 = smtpc__b64_encoded_len(n);
  if (b64 == 0)
    return SMTPC_ERR_NOMEM;
  k->pub = smtpc__malloc(&k->mem, b64 + 1);
  if (k->pub == NULL)
    return SMTPC_ERR_NOMEM;
  (void)smtpc__b64_encode(bin, n, k->pub);
  return SMTPC_OK;
}

#endif /* a crypto library */

/* ---- Ed25519 (libsodium) ----------------------------------------------- */

#ifdef SMTPC_HAVE_SODIUM
/* PKCS#8 v1 PrivateKeyInfo for Ed25519 (RFC 8410 7): SEQUENCE { INTEGER 0,
 * SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING (32) } }. */
static const unsigned char ed_prefix[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30,
                                            0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
                                            0x04, 0x22, 0x04, 0x20};
#define ED_DER_LEN (sizeof ed_prefix + 32)
#define ED_B64_LEN 64 /* base64 of the 48 DER octets */

/* If key is an Ed25519 PKCS#8 key (DER, or PEM "PRIVATE KEY"), copies its
 * seed to seed and returns 1; else 0. */
static int ed25519_seed(const unsigned char *key, size_t len,
                        unsigned char seed[32]) {
  static const char begin[] = "-----BEGIN PRIVATE KEY-----";
  static const char end[] = "-----END PRIVATE KEY-----";
  char text[ED_B64_LEN];
  unsigned char der[ED_DER_LEN + 2];
  size_t b, e, i, n = 0, got = 0;
  int ok = 0;
  if (len == ED_DER_LEN && memcmp(key, ed_prefix, sizeof ed_prefix) == 0) {
    memcpy(seed, key + sizeof ed_prefix, 32);
    return 1;
  }
  b = find(key, len, begin);
  if (b == len)
    return 0;
  b += sizeof begin - 1;
  e = b + find(key + b, len - b, end);
  if (e == len)
    return 0;
  /* the body without its line breaks: 64 characters for Ed25519 */
  for (i = b; i < e; i++) {
    unsigned char ch = key[i];
    if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
      continue;
    if (n == sizeof text) {
      n = sizeof text + 1; /* longer: some other key */
      break;
    }
    text[n++] = (char)ch;
  }
  if (n == sizeof text &&
      smtpc__b64_decode(text, n, der, sizeof der, &got) == SMTPC_OK &&
      got == ED_DER_LEN && memcmp(der, ed_prefix, sizeof ed_prefix) == 0) {
    memcpy(seed, der + sizeof ed_prefix, 32);
    ok = 1;
  }
  smtpc__wipe(text, sizeof text);
  smtpc__wipe(der, sizeof der);
  return ok;
}

static int ed25519_load(smtpc__dkim_key *k, unsigned char seed[32]) {
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  if (sodium_init() < 0 || crypto_sign_seed_keypair(pk, k->ed_sk, seed) != 0)
    return SMTPC_ERR_DKIM_KEY;
  k->algo = SMTPC_DKIM_ED25519_SHA256;
  return set_public(k, pk, sizeof pk);
}
#endif /* SMTPC_HAVE_SODIUM */

/* ---- RSA (mbedTLS) ------------------------------------------------------ */

#ifdef SMTPC_HAVE_MBEDTLS
static int rsa_error(int ret) {
  return SMTPC__TLS_IS_NOMEM(ret) ? SMTPC_ERR_NOMEM : SMTPC_ERR_DKIM_KEY;
}

/* The SubjectPublicKeyInfo as k->pub. */
static int rsa_public(smtpc__dkim_key *k) {
  /* SPKI of RSA-8192: 1024-octet modulus plus a few dozen of DER */
  size_t cap = SMTPC_DKIM_MAX_SIG + 128;
  unsigned char *der = smtpc__malloc(&k->mem, cap);
  int ret, rc;
  if (der == NULL)
    return SMTPC_ERR_NOMEM;
  ret = mbedtls_pk_write_pubkey_der(&k->pk, der, cap);
  if (ret <= 0 || (size_t)ret > cap) /* written at the end of der */
    rc = ret < 0 ? rsa_error(ret) : SMTPC_ERR_DKIM_KEY;
  else
    rc = set_public(k, der + cap - (size_t)ret, (size_t)ret);
  smtpc__free(&k->mem, der);
  return rc;
}

static int rsa_load(smtpc__dkim_key *k, const unsigned char *key, size_t len,
                    const char *password, unsigned min_bits) {
  unsigned char *copy = NULL;
  size_t bits;
  int ret;
  mbedtls_pk_init(&k->pk);
  smtpc__tls_rng_init(&k->rng);
  k->rsa = 1;
#ifdef SMTPC__KEY_LOCK
  if (pthread_mutex_init(&k->lock, NULL) != 0)
    return SMTPC_ERR_NOMEM;
  k->locked = 1;
#endif
  if (smtpc__tls_crypto_start(&k->rng) != SMTPC_OK)
    return SMTPC_ERR_DKIM_KEY;
  /* mbedTLS takes PEM only with its NUL counted in the length */
  if (find(key, len, "-----BEGIN") < len && key[len - 1] != '\0') {
    copy = smtpc__malloc(&k->mem, len + 1);
    if (copy == NULL)
      return SMTPC_ERR_NOMEM;
    memcpy(copy, key, len);
    copy[len] = '\0';
    key = copy;
    len++;
  }
  ret = smtpc__tls_parse_key(&k->pk, key, len, password, &k->rng);
  if (copy != NULL) {
    smtpc__wipe(copy, len);
    smtpc__free(&k->mem, copy);
  }
  if (ret != 0)
    return rsa_error(ret);
  if (!smtpc__tls_pk_is_rsa(&k->pk))
    return SMTPC_ERR_DKIM_KEY;
  bits = mbedtls_pk_get_bitlen(&k->pk);
  if (bits < min_bits || bits > SMTPC__RSA_MAX_BITS)
    return SMTPC_ERR_DKIM_KEY;
  k->rsa_len = (bits + 7) / 8;
  k->algo = SMTPC_DKIM_RSA_SHA256;
  return rsa_public(k);
}

static int rsa_sign(smtpc__dkim_key *k, const unsigned char digest[32],
                    unsigned char *sig, size_t size, size_t *len) {
  int ret;
  if (size < k->rsa_len)
    return SMTPC_ERR_DKIM_KEY;
#ifdef SMTPC__KEY_LOCK
  (void)pthread_mutex_lock(&k->lock);
#endif
  ret = smtpc__tls_pk_sign_sha256(&k->pk, digest, sig, size, len, &k->rng);
#ifdef SMTPC__KEY_LOCK
  (void)pthread_mutex_unlock(&k->lock);
#endif
  return ret == 0 && *len <= size ? SMTPC_OK : SMTPC_ERR_DKIM_KEY;
}
#endif /* SMTPC_HAVE_MBEDTLS */

/* ---- the interface ------------------------------------------------------ */

int smtpc__dkim_key_load(const smtpc_mem *mem, const unsigned char *key,
                         size_t len, const char *password,
                         unsigned min_rsa_bits, smtpc__dkim_key **out,
                         smtpc_dkim_algo *algo) {
  smtpc__dkim_key *k;
  smtpc_mem m;
  int rc, done = 0;
#ifdef SMTPC_HAVE_SODIUM
  unsigned char seed[32];
#endif
  if (out != NULL)
    *out = NULL;
  if (out == NULL || algo == NULL || key == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (len == 0)
    return SMTPC_ERR_DKIM_KEY;
  k = smtpc__new_object(&m, mem, sizeof *k, &rc);
  if (k == NULL)
    return rc;
  k->mem = m;
  rc = SMTPC_ERR_DKIM_KEY; /* a key no crypto library of the build takes */
#ifdef SMTPC_HAVE_SODIUM
  if (ed25519_seed(key, len, seed)) {
    rc = ed25519_load(k, seed);
    done = 1;
  }
  smtpc__wipe(seed, sizeof seed);
#endif
#ifdef SMTPC_HAVE_MBEDTLS
  if (!done)
    rc = rsa_load(k, key, len, password, min_rsa_bits);
#else
  (void)password;
  (void)min_rsa_bits;
  (void)done;
#endif
  if (rc != SMTPC_OK) {
    smtpc__dkim_key_free(k);
    return rc;
  }
  *algo = k->algo;
  *out = k;
  return SMTPC_OK;
}

int smtpc__dkim_key_sign(smtpc__dkim_key *k, const unsigned char digest[32],
                         unsigned char *sig, size_t size, size_t *len) {
  if (k == NULL || digest == NULL || sig == NULL || len == NULL)
    return SMTPC_ERR_DKIM_KEY;
  *len = 0;
#ifdef SMTPC_HAVE_SODIUM
  if (k->algo == SMTPC_DKIM_ED25519_SHA256) {
    unsigned long long n = 0;
    if (size < crypto_sign_BYTES ||
        crypto_sign_detached(sig, &n, digest, 32, k->ed_sk) != 0 || n > size)
      return SMTPC_ERR_DKIM_KEY;
    *len = (size_t)n;
    return SMTPC_OK;
  }
#endif
#ifdef SMTPC_HAVE_MBEDTLS
  if (k->algo == SMTPC_DKIM_RSA_SHA256)
    return rsa_sign(k, digest, sig, size, len);
#endif
  (void)size;
  return SMTPC_ERR_DKIM_KEY;
}

int smtpc__dkim_key_public(const smtpc__dkim_key *k, char *b64, size_t size) {
  size_t n;
  if (k == NULL || b64 == NULL || k->pub == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  n = strlen(k->pub);
  if (size <= n)
    return SMTPC_ERR_INVALID_ARGUMENT;
  memcpy(b64, k->pub, n + 1);
  return SMTPC_OK;
}

void smtpc__dkim_key_free(smtpc__dkim_key *k) {
  smtpc_mem m;
  if (k == NULL)
    return;
  m = k->mem;
#ifdef SMTPC_HAVE_MBEDTLS
  if (k->rsa) {
    mbedtls_pk_free(&k->pk);
    smtpc__tls_rng_free(&k->rng);
  }
#ifdef SMTPC__KEY_LOCK
  if (k->locked)
    (void)pthread_mutex_destroy(&k->lock);
#endif
#endif
  smtpc__free(&m, k->pub);
  smtpc__wipe(k, sizeof *k);
  smtpc__free(&m, k);
}
