/* SPDX-License-Identifier: MIT */
/* mbedTLS version differences (io_mbedtls_compat.h): every MBEDTLS_VERSION_NUMBER
 * test of the adapter is here. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "io_mbedtls_compat.h"

#include <string.h>

#ifdef SMTPC__TLS_OS_ENTROPY
#include <mbedtls/entropy_poll.h> /* 2.x only: private in 3.x */
#endif

/* ---- randomness ------------------------------------------------------------ */

#ifdef SMTPC__TLS_OS_ENTROPY
/* The DRBG's entropy: the OS generator (getrandom(2) or /dev/urandom) via
 * mbedTLS's platform source.  mbedtls_entropy_func would also start every
 * other source compiled in; Debian's 2.28 has HAVEGE, whose start-up alone
 * cost 1.1 M instructions per smtpc_tls_new() (5 % of a whole STARTTLS
 * session) and which mbedTLS 3 removed as unsound. */
static int os_entropy(void *ctx, unsigned char *out, size_t len) {
  size_t got;
  (void)ctx;
  while (len > 0) { /* each round makes progress or fails */
    if (mbedtls_platform_entropy_poll(NULL, out, len, &got) != 0 || got == 0 ||
        got > len)
      return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
    out += got;
    len -= got;
  }
  return 0;
}
#endif

void smtpc__tls_rng_init(smtpc__tls_rng *rng) {
#ifdef SMTPC__MBEDTLS_4
  rng->unused = 0;
#else
#ifndef SMTPC__TLS_OS_ENTROPY
  mbedtls_entropy_init(&rng->entropy);
#endif
  mbedtls_ctr_drbg_init(&rng->drbg);
#endif
}

int smtpc__tls_crypto_start(smtpc__tls_rng *rng) {
#ifndef SMTPC__MBEDTLS_4
  static const unsigned char pers[] = "libsmtpc tls";
  int ret;
#endif
#ifdef SMTPC__TLS_PSA_INIT
  /* Process-wide and idempotent (thread-safe with MBEDTLS_THREADING_C). */
  if (psa_crypto_init() != PSA_SUCCESS)
    return SMTPC_ERR_TLS;
#endif
#ifdef SMTPC__MBEDTLS_4
  (void)rng;
  return SMTPC_OK;
#else
#ifdef SMTPC__TLS_OS_ENTROPY
  ret = mbedtls_ctr_drbg_seed(&rng->drbg, os_entropy, NULL, pers,
                              sizeof pers - 1);
#else
  ret = mbedtls_ctr_drbg_seed(&rng->drbg, mbedtls_entropy_func, &rng->entropy,
                              pers, sizeof pers - 1);
#endif
  return ret == 0 ? SMTPC_OK : SMTPC_ERR_TLS;
#endif
}

void smtpc__tls_rng_free(smtpc__tls_rng *rng) {
#ifdef SMTPC__MBEDTLS_4
  (void)rng;
#else
  mbedtls_ctr_drbg_free(&rng->drbg);
#ifndef SMTPC__TLS_OS_ENTROPY
  mbedtls_entropy_free(&rng->entropy);
#endif
#endif
}

/* ---- keys ------------------------------------------------------------------ */

int smtpc__tls_parse_keyfile(mbedtls_pk_context *key, const char *path,
                             smtpc__tls_rng *rng) {
#if defined(SMTPC__MBEDTLS_4) || MBEDTLS_VERSION_NUMBER < 0x03000000
  (void)rng;
  return mbedtls_pk_parse_keyfile(key, path, NULL);
#else
  /* 3.x: the RNG blinds private-key operations during parsing. */
  return mbedtls_pk_parse_keyfile(key, path, NULL, mbedtls_ctr_drbg_random,
                                  &rng->drbg);
#endif
}

int smtpc__tls_check_pair(const mbedtls_pk_context *pub,
                          const mbedtls_pk_context *prv, smtpc__tls_rng *rng) {
#if defined(SMTPC__MBEDTLS_4) || MBEDTLS_VERSION_NUMBER < 0x03000000
  (void)rng;
  return mbedtls_pk_check_pair(pub, prv);
#else
  return mbedtls_pk_check_pair(pub, prv, mbedtls_ctr_drbg_random, &rng->drbg);
#endif
}

int smtpc__tls_parse_key(mbedtls_pk_context *pk, const unsigned char *key,
                         size_t len, const char *pwd, smtpc__tls_rng *rng) {
  const unsigned char *p = (const unsigned char *)pwd;
  size_t plen = pwd != NULL ? strlen(pwd) : 0;
#if defined(SMTPC__MBEDTLS_4) || MBEDTLS_VERSION_NUMBER < 0x03000000
  (void)rng;
  return mbedtls_pk_parse_key(pk, key, len, p, plen);
#else
  return mbedtls_pk_parse_key(pk, key, len, p, plen, mbedtls_ctr_drbg_random,
                              &rng->drbg);
#endif
}

int smtpc__tls_pk_is_rsa(const mbedtls_pk_context *pk) {
#ifdef SMTPC__MBEDTLS_4
  /* 4.x has no key types outside PSA's */
  return mbedtls_pk_can_do_psa(pk, PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_256),
                               PSA_KEY_USAGE_SIGN_HASH);
#else
  return mbedtls_pk_get_type(pk) == MBEDTLS_PK_RSA;
#endif
}

int smtpc__tls_pk_sign_sha256(mbedtls_pk_context *pk,
                              const unsigned char digest[32],
                              unsigned char *sig, size_t size, size_t *len,
                              smtpc__tls_rng *rng) {
#ifdef SMTPC__MBEDTLS_4
  (void)rng; /* PSA's generator blinds */
  return mbedtls_pk_sign(pk, MBEDTLS_MD_SHA256, digest, 32, sig, size, len);
#elif MBEDTLS_VERSION_NUMBER < 0x03000000
  (void)size;
  return mbedtls_pk_sign(pk, MBEDTLS_MD_SHA256, digest, 32, sig, len,
                         mbedtls_ctr_drbg_random, &rng->drbg);
#else
  return mbedtls_pk_sign(pk, MBEDTLS_MD_SHA256, digest, 32, sig, size, len,
                         mbedtls_ctr_drbg_random, &rng->drbg);
#endif
}

/* ---- the client configuration ------------------------------------------------ */

/* Which of X25519 and P-256 is offered first (the other second).  Servers
 * commonly take the client's first choice (OpenSSL does unless told to
 * prefer its own, e.g. Postfix by default), and a TLS 1.3 client sends a
 * key share for its first group only, so the first group is what every
 * handshake pays for.  Both are safe (RFC 8446 9.1: secp256r1 MUST, X25519
 * SHOULD; RFC 9325).  Measured per version (bench/tls_setup, STARTTLS +
 * AUTH set-up against Postfix, instructions per session; bench/RESULTS.md
 * section 6): 2.28 (TLS 1.2) X25519 18.8 M, P-256 19.8 M; 3.6.6 (TLS 1.3)
 * X25519 20.5 M, P-256 16.0 M; 4.0.0 (TLS 1.3) X25519 26.2 M, P-256
 * 18.8 M.  So X25519 first with 2.x, and wherever mbedTLS has Everest
 * (HACL* X25519); P-256 first from 3.0 on (its generic X25519 is the
 * slower one there).  A P-256-only build (e.g. with the p256-m driver) has
 * no choice to make. */
#ifndef SMTPC__TLS_X25519_FIRST
#if defined(MBEDTLS_ECDH_VARIANT_EVEREST_ENABLED) ||                           \
    MBEDTLS_VERSION_NUMBER < 0x03000000
#define SMTPC__TLS_X25519_FIRST 1
#else
#define SMTPC__TLS_X25519_FIRST 0
#endif
#endif

#if MBEDTLS_VERSION_NUMBER < 0x03010000
/* 2.x and 3.0: curves by mbedTLS's ids.  2.x would otherwise offer its
 * internal order, secp521r1 first: every handshake then paid two P-521
 * multiplications, ~90 % of a STARTTLS + AUTH session's instructions. */
#define SMTPC__GROUP(ecp, iana) ecp
#define SMTPC__GROUP_NONE MBEDTLS_ECP_DP_NONE
typedef mbedtls_ecp_group_id smtpc__group;
#else
/* 3.1 and later: IANA group ids; 4.x describes what it has in PSA terms. */
#define SMTPC__GROUP(ecp, iana) iana
#define SMTPC__GROUP_NONE 0
typedef uint16_t smtpc__group;
#endif

/* The groups offered: X25519 and P-256 (in the order above), then P-384,
 * X448, P-521 and the Brainpool curves (TLS 1.2), as far as the build has
 * them.  No finite-field groups: only ECDHE suites are offered. */
static const smtpc__group groups[] = {
#if SMTPC__TLS_X25519_FIRST && (defined(MBEDTLS_ECP_DP_CURVE25519_ENABLED) ||  \
                                defined(PSA_WANT_ECC_MONTGOMERY_255))
    SMTPC__GROUP(MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_SSL_IANA_TLS_GROUP_X25519),
#endif
#if defined(MBEDTLS_ECP_DP_SECP256R1_ENABLED) ||                               \
    defined(PSA_WANT_ECC_SECP_R1_256)
    SMTPC__GROUP(MBEDTLS_ECP_DP_SECP256R1,
                 MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1),
#endif
#if !SMTPC__TLS_X25519_FIRST && (defined(MBEDTLS_ECP_DP_CURVE25519_ENABLED) || \
                                 defined(PSA_WANT_ECC_MONTGOMERY_255))
    SMTPC__GROUP(MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_SSL_IANA_TLS_GROUP_X25519),
#endif
#if defined(MBEDTLS_ECP_DP_SECP384R1_ENABLED) ||                               \
    defined(PSA_WANT_ECC_SECP_R1_384)
    SMTPC__GROUP(MBEDTLS_ECP_DP_SECP384R1,
                 MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1),
#endif
#if defined(MBEDTLS_ECP_DP_CURVE448_ENABLED) ||                                \
    defined(PSA_WANT_ECC_MONTGOMERY_448)
    SMTPC__GROUP(MBEDTLS_ECP_DP_CURVE448, MBEDTLS_SSL_IANA_TLS_GROUP_X448),
#endif
#if defined(MBEDTLS_ECP_DP_SECP521R1_ENABLED) ||                               \
    defined(PSA_WANT_ECC_SECP_R1_521)
    SMTPC__GROUP(MBEDTLS_ECP_DP_SECP521R1,
                 MBEDTLS_SSL_IANA_TLS_GROUP_SECP521R1),
#endif
#if defined(MBEDTLS_ECP_DP_BP256R1_ENABLED) ||                                 \
    defined(PSA_WANT_ECC_BRAINPOOL_P_R1_256)
    SMTPC__GROUP(MBEDTLS_ECP_DP_BP256R1, MBEDTLS_SSL_IANA_TLS_GROUP_BP256R1),
#endif
#if defined(MBEDTLS_ECP_DP_BP384R1_ENABLED) ||                                 \
    defined(PSA_WANT_ECC_BRAINPOOL_P_R1_384)
    SMTPC__GROUP(MBEDTLS_ECP_DP_BP384R1, MBEDTLS_SSL_IANA_TLS_GROUP_BP384R1),
#endif
#if defined(MBEDTLS_ECP_DP_BP512R1_ENABLED) ||                                 \
    defined(PSA_WANT_ECC_BRAINPOOL_P_R1_512)
    SMTPC__GROUP(MBEDTLS_ECP_DP_BP512R1, MBEDTLS_SSL_IANA_TLS_GROUP_BP512R1),
#endif
    SMTPC__GROUP_NONE};

void smtpc__tls_conf_rng(mbedtls_ssl_config *conf, smtpc__tls_rng *rng) {
#ifdef SMTPC__MBEDTLS_4
  (void)conf; /* PSA's generator */
  (void)rng;
#else
  mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &rng->drbg);
#endif
}

void smtpc__tls_conf_client(mbedtls_ssl_config *conf, smtpc__tls_rng *rng) {
  /* TLS 1.2 is the minimum (RFC 8314 section 4.1, RFC 8996). */
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
  mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
#elif MBEDTLS_VERSION_NUMBER < 0x03000000
  mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                               MBEDTLS_SSL_MINOR_VERSION_3);
#endif /* 3.0 and 3.1 have nothing below TLS 1.2 */
#if MBEDTLS_VERSION_NUMBER < 0x03010000
  mbedtls_ssl_conf_curves(conf, groups);
#else
  mbedtls_ssl_conf_groups(conf, groups);
#endif
  smtpc__tls_conf_rng(conf, rng);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3) &&                                       \
    defined(MBEDTLS_SSL_SESSION_TICKETS) &&                                    \
    MBEDTLS_VERSION_NUMBER >= 0x03060100 && !defined(SMTPC__MBEDTLS_4)
  /* 3.6.1 and later drop TLS 1.3 tickets unless told to hand them over
   * (as MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET); 4.x always does. */
  mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(
      conf, MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
#endif
}

/* ---- results and texts --------------------------------------------------------- */

int smtpc__tls_is_version_error(int ret) {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
  return ret == MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION;
#else
  return ret == MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION;
#endif
}

int smtpc__tls_is_tls13(const mbedtls_ssl_context *ssl) {
#if defined(MBEDTLS_SSL_PROTO_TLS1_3) && MBEDTLS_VERSION_NUMBER >= 0x03020000
  return mbedtls_ssl_get_version_number(ssl) == MBEDTLS_SSL_VERSION_TLS1_3;
#elif defined(MBEDTLS_SSL_PROTO_TLS1_3)
  return strcmp(mbedtls_ssl_get_version(ssl), "TLSv1.3") == 0;
#else
  (void)ssl;
  return 0;
#endif
}

void smtpc__tls_strerror(int ret, char *buf, size_t len) {
#if defined(MBEDTLS_ERROR_C)
  mbedtls_strerror(ret, buf, len);
#else
  (void)ret;
  if (len > 0)
    buf[0] = '\0';
#endif
}

void smtpc__tls_verify_info(char *buf, size_t len, uint32_t flags) {
  if (len == 0)
    return;
  buf[0] = '\0';
#if !defined(MBEDTLS_X509_REMOVE_INFO)
  if (mbedtls_x509_crt_verify_info(buf, len, "", flags) < 0) {
    buf[0] = '\0';
  } else {
    char *nl = strchr(buf, '\n');
    if (nl != NULL)
      *nl = '\0';
  }
#else
  (void)flags;
#endif
}

int smtpc__tls_sha256(const unsigned char *in, size_t n,
                      unsigned char out[32]) {
  const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
  if (md == NULL)
    return SMTPC_ERR_NOT_SUPPORTED;
  return mbedtls_md(md, in, n, out) == 0 ? SMTPC_OK : SMTPC_ERR_INTERNAL;
}
