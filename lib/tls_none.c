/* SPDX-License-Identifier: MIT */
/* The TLS API when the library is built without mbedTLS (--without-mbedtls):
 * every call reports "not built with TLS". */
#include "smtpc_int.h"

int smtpc_tls_new(smtpc_tls **out, const smtpc_mem *mem,
                  smtpc_security security) {
  (void)mem;
  (void)security;
  if (out != NULL)
    *out = NULL;
  return SMTPC_ERR_NOT_SUPPORTED;
}

void smtpc_tls_free(smtpc_tls *tls) { (void)tls; }

int smtpc_tls_set_hostname(smtpc_tls *tls, const char *host) {
  (void)tls;
  (void)host;
  return SMTPC_ERR_NOT_SUPPORTED;
}

int smtpc_tls_set_cafile(smtpc_tls *tls, const char *path) {
  (void)tls;
  (void)path;
  return SMTPC_ERR_NOT_SUPPORTED;
}

int smtpc_tls_set_capath(smtpc_tls *tls, const char *path) {
  (void)tls;
  (void)path;
  return SMTPC_ERR_NOT_SUPPORTED;
}

int smtpc_tls_set_client_cert(smtpc_tls *tls, const char *certfile,
                              const char *keyfile) {
  (void)tls;
  (void)certfile;
  (void)keyfile;
  return SMTPC_ERR_NOT_SUPPORTED;
}

void smtpc_tls_insecure_skip_verify(smtpc_tls *tls, int yes) {
  (void)tls;
  (void)yes;
}

int smtpc_tls_wrap(smtpc_tls *tls, const smtpc_io *lower, smtpc_io *out) {
  (void)tls;
  (void)lower;
  (void)out;
  return SMTPC_ERR_NOT_SUPPORTED;
}

smtpc_tls_verify smtpc_tls_verify_result(const smtpc_tls *tls) {
  (void)tls;
  return SMTPC_TLS_VERIFY_OK;
}

const char *smtpc_tls_last_error(const smtpc_tls *tls) {
  (void)tls;
  return "not built with TLS";
}

int smtpc_tls_is_active(const smtpc_tls *tls) {
  (void)tls;
  return 0;
}

const char *smtpc_tls_description(const smtpc_tls *tls) {
  (void)tls;
  return "";
}

int smtpc_tls_cache_new(smtpc_tls_cache **out, const smtpc_mem *mem) {
  (void)mem;
  if (out != NULL)
    *out = NULL;
  return SMTPC_ERR_NOT_SUPPORTED;
}

void smtpc_tls_cache_free(smtpc_tls_cache *cache) { (void)cache; }

int smtpc_tls_set_cache(smtpc_tls *tls, smtpc_tls_cache *cache) {
  (void)tls;
  (void)cache;
  return SMTPC_ERR_NOT_SUPPORTED;
}

int smtpc_tls_is_resumed(const smtpc_tls *tls) {
  (void)tls;
  return 0;
}
