/* SPDX-License-Identifier: MIT */
/* mbedTLS version differences (tls_compat.h): every MBEDTLS_VERSION_NUMBER
 * test of the adapter is here. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "tls_compat.h"

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

/* ---- the client configuration ------------------------------------------------ */

#if MBEDTLS_VERSION_NUMBER < 0x03000000 && defined(MBEDTLS_ECP_C)
/* Key exchange curves, most preferred first.  mbedTLS 2.x offers them in
 * its internal order, secp521r1 first, and servers commonly follow the
 * client's order (OpenSSL does unless told to prefer its own, e.g. Postfix
 * by default): every handshake then paid two P-521 multiplications, ~90 %
 * of a STARTTLS + AUTH session's instructions (bench/RESULTS.md).  This is
 * mbedTLS 3.x's default list, where x25519 and P-256 come first; the
 * weaker or rarely used curves of 2.x's list (192/224 bit, secp256k1) are
 * left out, as 3.x does. */
static const mbedtls_ecp_group_id curves[] = {
#if defined(MBEDTLS_ECP_DP_CURVE25519_ENABLED)
    MBEDTLS_ECP_DP_CURVE25519,
#endif
#if defined(MBEDTLS_ECP_DP_SECP256R1_ENABLED)
    MBEDTLS_ECP_DP_SECP256R1,
#endif
#if defined(MBEDTLS_ECP_DP_SECP384R1_ENABLED)
    MBEDTLS_ECP_DP_SECP384R1,
#endif
#if defined(MBEDTLS_ECP_DP_CURVE448_ENABLED)
    MBEDTLS_ECP_DP_CURVE448,
#endif
#if defined(MBEDTLS_ECP_DP_SECP521R1_ENABLED)
    MBEDTLS_ECP_DP_SECP521R1,
#endif
#if defined(MBEDTLS_ECP_DP_BP256R1_ENABLED)
    MBEDTLS_ECP_DP_BP256R1,
#endif
#if defined(MBEDTLS_ECP_DP_BP384R1_ENABLED)
    MBEDTLS_ECP_DP_BP384R1,
#endif
#if defined(MBEDTLS_ECP_DP_BP512R1_ENABLED)
    MBEDTLS_ECP_DP_BP512R1,
#endif
    MBEDTLS_ECP_DP_NONE};
#endif

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
#if MBEDTLS_VERSION_NUMBER < 0x03000000 && defined(MBEDTLS_ECP_C)
  mbedtls_ssl_conf_curves(conf, curves);
#endif
  smtpc__tls_conf_rng(conf, rng);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3) && defined(MBEDTLS_SSL_SESSION_TICKETS) && \
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
