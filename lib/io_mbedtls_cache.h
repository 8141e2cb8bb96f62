/* SPDX-License-Identifier: MIT */
/* The TLS session cache (io_mbedtls_cache.c, public side in smtpc/tls.h): sessions
 * kept for resumption, keyed by server name and trust settings. */
#ifndef SMTPC_IO_MBEDTLS_CACHE_H
#define SMTPC_IO_MBEDTLS_CACHE_H

#include "io_mbedtls_compat.h"

#include <smtpc/tls.h>

/* What a cached session is filed under: it is offered only to a handshake
 * with the same key as the one that made it. */
typedef struct smtpc__tls_cache_key {
  const char *host;              /* normalised server name */
  const unsigned char *trust_id; /* 32 bytes: CA files, client certificate */
  int skip_verify;               /* smtpc_tls_insecure_skip_verify() */
} smtpc__tls_cache_key;

/* Before a handshake: gives ssl the session filed under k, if any.
 * 1 if one was offered. */
int smtpc__tls_cache_offer(smtpc_tls_cache *c, const smtpc__tls_cache_key *k,
                           mbedtls_ssl_context *ssl);
/* Files ssl's current session under k (replacing the one there).  Best
 * effort: a failure only means the next handshake is a full one. */
void smtpc__tls_cache_store(smtpc_tls_cache *c, const smtpc__tls_cache_key *k,
                            mbedtls_ssl_context *ssl);
/* Forgets the session filed under k. */
void smtpc__tls_cache_drop(smtpc_tls_cache *c, const smtpc__tls_cache_key *k);

#endif /* SMTPC_IO_MBEDTLS_CACHE_H */
