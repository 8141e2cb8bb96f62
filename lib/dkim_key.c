/* SPDX-License-Identifier: MIT */
/* DKIM private keys -- placeholder until the implementation lands. */
#include "dkim_int.h"
int smtpc__dkim_key_load(const smtpc_mem *mem, const unsigned char *key,
                         size_t len, const char *password,
                         unsigned min_rsa_bits, smtpc__dkim_key **out,
                         smtpc_dkim_algo *algo) {
  (void)mem;
  (void)key;
  (void)len;
  (void)password;
  (void)min_rsa_bits;
  (void)algo;
  *out = NULL;
  return SMTPC_ERR_DKIM_KEY;
}
int smtpc__dkim_key_sign(smtpc__dkim_key *k, const unsigned char digest[32],
                         unsigned char *sig, size_t size, size_t *len) {
  (void)k;
  (void)digest;
  (void)sig;
  (void)size;
  (void)len;
  return SMTPC_ERR_DKIM_KEY;
}
int smtpc__dkim_key_public(const smtpc__dkim_key *k, char *b64, size_t size) {
  (void)k;
  (void)b64;
  (void)size;
  return SMTPC_ERR_DKIM_KEY;
}
void smtpc__dkim_key_free(smtpc__dkim_key *k) { (void)k; }
