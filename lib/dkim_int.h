/* SPDX-License-Identifier: MIT */
/* DKIM internals shared by dkim.c (canonicalization, fields, signed bodies),
 * sha256.c (the hash) and dkim_key.c (private keys: RSA through mbedTLS,
 * Ed25519 through libsodium). */
#ifndef SMTPC_DKIM_INT_H
#define SMTPC_DKIM_INT_H

#include "smtpc_int.h"

#include <smtpc/dkim.h>

/* ---- SHA-256 (FIPS 180-4), sha256.c: no dependency ---- */
typedef struct smtpc__sha256 {
  uint32_t h[8];
  uint64_t bytes;        /* message length so far */
  unsigned char buf[64]; /* a partial block */
  size_t n;              /* octets in buf */
  int hw;                /* the CPU's SHA instructions are used */
} smtpc__sha256;

void smtpc__sha256_init(smtpc__sha256 *c);
void smtpc__sha256_update(smtpc__sha256 *c, const void *data, size_t len);
/* Writes the digest; c must be initialised again before further use. */
void smtpc__sha256_final(smtpc__sha256 *c, unsigned char out[32]);

/* ---- private keys, dkim_key.c ---- */
typedef struct smtpc__dkim_key smtpc__dkim_key;

/* Parses a private key: PEM or DER, PKCS#1 or PKCS#8; RSA (mbedTLS) or
 * Ed25519 (PKCS#8, libsodium).  An RSA key under min_rsa_bits bits is
 * refused (2048 for callers; tests load RFC 8463's 1024-bit key with
 * 1024).  *algo receives the algorithm.  SMTPC_OK, SMTPC_ERR_DKIM_KEY,
 * SMTPC_ERR_NOMEM. */
int smtpc__dkim_key_load(const smtpc_mem *mem, const unsigned char *key,
                         size_t len, const char *password,
                         unsigned min_rsa_bits, smtpc__dkim_key **out,
                         smtpc_dkim_algo *algo);
/* Signs the SHA-256 digest: RSASSA-PKCS1-v1_5 for RSA, Ed25519 over the 32
 * octets for Ed25519.  Safe from several threads at once on one key.
 * SMTPC_OK, SMTPC_ERR_DKIM_KEY (size too small, crypto failure). */
int smtpc__dkim_key_sign(smtpc__dkim_key *k, const unsigned char digest[32],
                         unsigned char *sig, size_t size, size_t *len);
/* The public key as DKIM publishes it in p= (RFC 6376 3.6.1, RFC 8463 4.2),
 * base64 and NUL-terminated: DER SubjectPublicKeyInfo for RSA, the raw 32
 * octets for Ed25519.  SMTPC_OK or SMTPC_ERR_INVALID_ARGUMENT (size). */
int smtpc__dkim_key_public(const smtpc__dkim_key *k, char *b64, size_t size);
/* Wipes and frees (NULL is a no-op). */
void smtpc__dkim_key_free(smtpc__dkim_key *k);

/* ---- tests (dkim.c) ---- */
/* The SHA-256 of the signed header data (RFC 6376 3.7) for the header
 * block hdr (fields ending in CRLF), the h= names (colon-separated, no
 * spaces) and the DKIM-Signature field sigfield (its text with an empty
 * b= value and no final CRLF). */
int smtpc__dkim_header_digest(const unsigned char *hdr, size_t hlen,
                              const char *names, const char *sigfield,
                              smtpc_dkim_canon canon, unsigned char out[32]);

#endif /* SMTPC_DKIM_INT_H */
