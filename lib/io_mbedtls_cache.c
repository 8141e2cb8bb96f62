/* SPDX-License-Identifier: MIT */
/* The TLS session cache: smtpc_tls_cache (smtpc/tls.h) and what the adapter
 * calls around a handshake (io_mbedtls_cache.h).
 *
 * Each slot keeps one mbedtls_ssl_session: a TLS 1.2 session ID (RFC 5246)
 * or ticket (RFC 5077), or a TLS 1.3 ticket (RFC 8446 4.6.1), filed under
 * the server name, the trust settings and the verification switch of the
 * handshake that made it.  Least recently used goes first.  A lock makes one
 * cache usable from any number of threads. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "io_mbedtls_cache.h"

#include <string.h>

#ifdef SMTPC_HAVE_PTHREADS
#include <pthread.h>
#endif

/* Sessions a smtpc_tls_cache keeps. */
#define SMTPC__TLS_CACHE_SLOTS 8

typedef struct cache_entry {
  char *host; /* normalised server name; NULL: slot free */
  unsigned char trust_id[32];
  int skip_verify;
  unsigned long used; /* for least-recently-used replacement */
  mbedtls_ssl_session sess;
} cache_entry;

struct smtpc_tls_cache {
  smtpc_mem mem;
#ifdef SMTPC_HAVE_PTHREADS
  pthread_mutex_t lock;
#endif
  unsigned long clock;
  cache_entry e[SMTPC__TLS_CACHE_SLOTS];
};

static void cache_lock(smtpc_tls_cache *c) {
#ifdef SMTPC_HAVE_PTHREADS
  (void)pthread_mutex_lock(&c->lock);
#else
  (void)c;
#endif
}

static void cache_unlock(smtpc_tls_cache *c) {
#ifdef SMTPC_HAVE_PTHREADS
  (void)pthread_mutex_unlock(&c->lock);
#else
  (void)c;
#endif
}

int smtpc_tls_cache_new(smtpc_tls_cache **out, const smtpc_mem *mem) {
  smtpc_mem m;
  smtpc_tls_cache *c;
  size_t i;
  int rc;
  if (out == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  c = smtpc__new_object(&m, mem, sizeof *c, &rc);
  if (c == NULL)
    return rc;
  c->mem = m;
#ifdef SMTPC_HAVE_PTHREADS
  if (pthread_mutex_init(&c->lock, NULL) != 0) {
    smtpc__free(&m, c);
    return SMTPC_ERR_INTERNAL;
  }
#endif
  for (i = 0; i < SMTPC__TLS_CACHE_SLOTS; i++)
    mbedtls_ssl_session_init(&c->e[i].sess);
  *out = c;
  return SMTPC_OK;
}

/* Empties a slot; mbedTLS zeroises the session's secrets as it frees. */
static void entry_clear(smtpc_tls_cache *c, cache_entry *e) {
  smtpc__free(&c->mem, e->host);
  e->host = NULL;
  mbedtls_ssl_session_free(&e->sess);
  mbedtls_ssl_session_init(&e->sess);
}

void smtpc_tls_cache_free(smtpc_tls_cache *cache) {
  smtpc_mem m;
  size_t i;
  if (cache == NULL)
    return;
  for (i = 0; i < SMTPC__TLS_CACHE_SLOTS; i++)
    entry_clear(cache, &cache->e[i]);
#ifdef SMTPC_HAVE_PTHREADS
  (void)pthread_mutex_destroy(&cache->lock);
#endif
  m = cache->mem;
  smtpc__free(&m, cache);
}

/* The slot filed under k, or NULL.  The cache is locked. */
static cache_entry *find(smtpc_tls_cache *c, const smtpc__tls_cache_key *k) {
  size_t i;
  for (i = 0; i < SMTPC__TLS_CACHE_SLOTS; i++) {
    cache_entry *e = &c->e[i];
    if (e->host != NULL && e->skip_verify == k->skip_verify &&
        strcmp(e->host, k->host) == 0 &&
        memcmp(e->trust_id, k->trust_id, sizeof e->trust_id) == 0)
      return e;
  }
  return NULL;
}

/* The slot for a new key: a free one, else the least recently used. */
static cache_entry *victim(smtpc_tls_cache *c) {
  cache_entry *e = &c->e[0];
  size_t i;
  for (i = 1; i < SMTPC__TLS_CACHE_SLOTS && e->host != NULL; i++)
    if (c->e[i].host == NULL || c->e[i].used < e->used)
      e = &c->e[i];
  return e;
}

int smtpc__tls_cache_offer(smtpc_tls_cache *c, const smtpc__tls_cache_key *k,
                           mbedtls_ssl_context *ssl) {
  cache_entry *e;
  int offered = 0;
  if (c == NULL || k->host == NULL)
    return 0;
  cache_lock(c);
  e = find(c, k);
  /* mbedtls_ssl_set_session() copies the session into the handshake. */
  if (e != NULL && mbedtls_ssl_set_session(ssl, &e->sess) == 0) {
    offered = 1;
    e->used = ++c->clock;
  }
  cache_unlock(c);
  return offered;
}

void smtpc__tls_cache_store(smtpc_tls_cache *c, const smtpc__tls_cache_key *k,
                            mbedtls_ssl_context *ssl) {
  mbedtls_ssl_session sess;
  cache_entry *e;
  char *host;
  if (c == NULL || k->host == NULL)
    return;
  host = smtpc__strdup(&c->mem, k->host);
  if (host == NULL)
    return;
  mbedtls_ssl_session_init(&sess);
  /* 3.x exports each session (each TLS 1.3 ticket) once. */
  if (mbedtls_ssl_get_session(ssl, &sess) != 0) {
    mbedtls_ssl_session_free(&sess);
    smtpc__free(&c->mem, host);
    return;
  }
  cache_lock(c);
  e = find(c, k);
  if (e == NULL) {
    e = victim(c);
    entry_clear(c, e);
    e->host = host;
    host = NULL;
    memcpy(e->trust_id, k->trust_id, sizeof e->trust_id);
    e->skip_verify = k->skip_verify;
  } else {
    mbedtls_ssl_session_free(&e->sess);
  }
  e->sess = sess; /* the slot owns what sess pointed to now */
  e->used = ++c->clock;
  cache_unlock(c);
  /* The copy on the stack holds the master secret (and with TLS 1.3 the
   * resumption key): wipe it, without freeing what the slot now owns. */
  mbedtls_platform_zeroize(&sess, sizeof sess);
  smtpc__free(&c->mem, host);
}

void smtpc__tls_cache_drop(smtpc_tls_cache *c, const smtpc__tls_cache_key *k) {
  cache_entry *e;
  if (c == NULL || k->host == NULL)
    return;
  cache_lock(c);
  e = find(c, k);
  if (e != NULL)
    entry_clear(c, e);
  cache_unlock(c);
}
