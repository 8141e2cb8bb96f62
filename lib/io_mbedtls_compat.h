/* SPDX-License-Identifier: MIT */
/* The one place where mbedTLS versions differ (io_mbedtls_compat.c), so that the
 * adapter (io_mbedtls.c) and the session cache (io_mbedtls_cache.c) are written
 * once.  Tested: 2.28 LTS (Debian 12), 3.6 LTS (Debian 13's build), 4.0 and
 * 4.1 (PSA-only crypto from TF-PSA-Crypto).  What differs:
 *
 *   randomness  2.x and 3.x: a CTR-DRBG per object, given to mbedTLS
 *               (mbedtls_ssl_conf_rng, key parsing and pair checks); 4.x:
 *               PSA's own generator, none of these exist;
 *   PSA         psa_crypto_init() first: 4.x always, 3.x with PSA (TLS 1.3),
 *               2.28 when built with MBEDTLS_USE_PSA_CRYPTO;
 *   protocol    the minimum-version and group calls changed names;
 *   tickets     3.6.1 to 3.6.x drop TLS 1.3 tickets unless asked to signal
 *               them (4.x always signals);
 *   HMAC-MD5    from mbedTLS up to 3.x when it has MD5; 4.x has no usable
 *               one (PSA's HMAC refuses the empty key an empty password
 *               gives), so md5.c's own is used.
 *
 * Trap: with an older mbedTLS's headers in the default include path (Debian
 * 12's 2.28 in /usr/include), a 4.x build could silently take headers that
 * 4.x no longer ships.  This header includes none of them for 4.x and stops
 * the build if one was seen anyway. */
#ifndef SMTPC_IO_MBEDTLS_COMPAT_H
#define SMTPC_IO_MBEDTLS_COMPAT_H

#include "smtpc_int.h"

#include <mbedtls/version.h> /* config.h (2.x) or build_info.h (3.x, 4.x) */

#if MBEDTLS_VERSION_NUMBER < 0x02100000
#error "libsmtpc needs mbedTLS 2.16 or later (2.28 LTS, 3.6 LTS or 4.x)"
#endif

#if MBEDTLS_VERSION_NUMBER >= 0x04000000
#define SMTPC__MBEDTLS_4 1
#endif

#ifndef SMTPC__MBEDTLS_4
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#endif
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/x509_crt.h>

#if defined(SMTPC__MBEDTLS_4) ||                                               \
    (defined(MBEDTLS_PSA_CRYPTO_C) && (MBEDTLS_VERSION_NUMBER >= 0x03000000 || \
                                       defined(MBEDTLS_USE_PSA_CRYPTO)))
#include <psa/crypto.h>
#define SMTPC__TLS_PSA_INIT 1
#endif

/* A 2.x header came in (each includes 2.x's config.h).  tests/tls_headers.sh
 * checks more generally that every mbedTLS header of the build comes from
 * one directory. */
#if defined(SMTPC__MBEDTLS_4) && defined(MBEDTLS_CONFIG_H)
#error "an mbedTLS 4.x build sees 2.x headers: put 4.x's include dir first"
#endif

/* 2.x: the DRBG is seeded straight from the OS (see io_mbedtls_compat.c). */
#if !defined(SMTPC__MBEDTLS_4) && MBEDTLS_VERSION_NUMBER < 0x03000000 &&       \
    !defined(MBEDTLS_NO_PLATFORM_ENTROPY)
#define SMTPC__TLS_OS_ENTROPY 1
#endif

/* md5.c takes HMAC-MD5 from mbedTLS (else it has its own MD5). */
#if !defined(SMTPC__MBEDTLS_4) && defined(MBEDTLS_MD_C) &&                     \
    defined(MBEDTLS_MD5_C)
#define SMTPC__TLS_HMAC_MD5 1
#endif

/* A TLS 1.3 ticket arrived (3.x and 4.x): not an error; the session can
 * now be exported with it. */
#ifdef MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
#define SMTPC__TLS_IS_TICKET(ret)                                              \
  ((ret) == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
#else
#define SMTPC__TLS_IS_TICKET(ret) 0
#endif

/* What an smtpc_tls needs for randomness (nothing with 4.x). */
typedef struct smtpc__tls_rng {
#ifdef SMTPC__MBEDTLS_4
  int unused; /* PSA's generator */
#else
#ifndef SMTPC__TLS_OS_ENTROPY
  mbedtls_entropy_context entropy;
#endif
  mbedtls_ctr_drbg_context drbg;
#endif
} smtpc__tls_rng;

/* Prepares rng to be freed (cannot fail). */
void smtpc__tls_rng_init(smtpc__tls_rng *rng);
/* psa_crypto_init() where needed (before anything else touches keys or
 * certificates), then seeds the DRBG.  SMTPC_OK or SMTPC_ERR_TLS. */
int smtpc__tls_crypto_start(smtpc__tls_rng *rng);
void smtpc__tls_rng_free(smtpc__tls_rng *rng);

/* mbedtls_pk_parse_keyfile() (no password) and mbedtls_pk_check_pair():
 * mbedTLS's result. */
int smtpc__tls_parse_keyfile(mbedtls_pk_context *key, const char *path,
                             smtpc__tls_rng *rng);
int smtpc__tls_check_pair(const mbedtls_pk_context *pub,
                          const mbedtls_pk_context *prv, smtpc__tls_rng *rng);

/* mbedtls_pk_parse_key() of key[0..len) (PEM must include its NUL in len),
 * pwd may be NULL: mbedTLS's result. */
int smtpc__tls_parse_key(mbedtls_pk_context *pk, const unsigned char *key,
                         size_t len, const char *pwd, smtpc__tls_rng *rng);
/* 1 if a pk parse or sign result says mbedTLS ran out of memory. */
#ifdef SMTPC__MBEDTLS_4
#define SMTPC__TLS_IS_NOMEM(ret) ((ret) == PSA_ERROR_INSUFFICIENT_MEMORY)
#else
#define SMTPC__TLS_IS_NOMEM(ret) ((ret) == MBEDTLS_ERR_PK_ALLOC_FAILED)
#endif
/* 1 if pk holds an RSA key that can sign (RSASSA-PKCS1-v1_5). */
int smtpc__tls_pk_is_rsa(const mbedtls_pk_context *pk);
/* RSASSA-PKCS1-v1_5 signature of a SHA-256 digest into sig[0..size):
 * mbedTLS's result.  The caller makes sure that size is at least the
 * modulus length (2.x takes no size). */
int smtpc__tls_pk_sign_sha256(mbedtls_pk_context *pk,
                              const unsigned char digest[32],
                              unsigned char *sig, size_t size, size_t *len,
                              smtpc__tls_rng *rng);

/* Gives conf the RNG (nothing to do with 4.x). */
void smtpc__tls_conf_rng(mbedtls_ssl_config *conf, smtpc__tls_rng *rng);
/* A client configuration's version-dependent part: the RNG, TLS 1.2 as the
 * minimum, the key exchange groups (cheapest safe first, see io_mbedtls_compat.c)
 * and, where mbedTLS needs to be asked, TLS 1.3 tickets signalled. */
void smtpc__tls_conf_client(mbedtls_ssl_config *conf, smtpc__tls_rng *rng);

/* 1 if ret says the server offered no TLS version we accept. */
int smtpc__tls_is_version_error(int ret);
/* 1 if the handshake negotiated TLS 1.3. */
int smtpc__tls_is_tls13(const mbedtls_ssl_context *ssl);

/* mbedTLS's text for an error ("" without MBEDTLS_ERROR_C). */
void smtpc__tls_strerror(int ret, char *buf, size_t len);
/* The first line of mbedTLS's text for verification flags ("" without it). */
void smtpc__tls_verify_info(char *buf, size_t len, uint32_t flags);
/* SHA-256 of in[0..n).  SMTPC_OK, SMTPC_ERR_NOT_SUPPORTED or
 * SMTPC_ERR_INTERNAL. */
int smtpc__tls_sha256(const unsigned char *in, size_t n, unsigned char out[32]);

#endif /* SMTPC_IO_MBEDTLS_COMPAT_H */
