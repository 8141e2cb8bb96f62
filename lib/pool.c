/* SPDX-License-Identifier: MIT */
/* smtpc_pool: up to N connections to one server shared by many threads.
 *
 * A mutex guards only the bookkeeping (idle list, counts, rate slots); all
 * network I/O -- connecting, sending, QUIT -- happens outside it on a
 * connection that one thread has checked out.  Waiting threads sleep on a
 * condition variable with a deadline on the monotonic clock.
 *
 * Safety of retries: a message is retried, once and on a fresh connection,
 * only when its transaction failed because the connection died (421, EOF,
 * reset) before the end of data was sent (smtpc_txn_step() below
 * SMTPC_STEP_DATA_END).  Before that point the server cannot have accepted
 * the message (RFC 5321 4.1.1.4: the message is delivered only after the
 * end-of-data indication), so sending it again cannot duplicate it.
 *
 * Without POSIX threads (configure found none) the locks are no-ops and a
 * pool must be used from one thread. */
#include "client_int.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#ifdef SMTPC_HAVE_PTHREADS
#include <pthread.h>
#endif

#define DEF_MAX_CONNS 3u
#define DEF_MAX_MSGS 100u
#define DEF_IDLE_MS 30000u
#define DEF_CHECK_MS 1000u

struct smtpc_pool {
  smtpc_mem mem;
  smtpc_client_config cfg; /* strings point into strs */
  char *strs;
  size_t strs_len;
  smtpc_pool_options opt;
  smtpc_tls_cache *own_cache; /* made here when cfg gave none */
#ifdef SMTPC_HAVE_PTHREADS
  pthread_mutex_t lock;
  pthread_cond_t freed; /* a connection went idle or a slot opened */
#endif
  smtpc__conn *idle; /* most recently used first */
  unsigned open;     /* idle + busy + being opened */
  unsigned busy;
  int64_t next_slot_us; /* rate limit: earliest start of the next message */
  smtpc_pool_stats st;
};

int smtpc_pool_threadsafe(void) {
#ifdef SMTPC_HAVE_PTHREADS
  return 1;
#else
  return 0;
#endif
}

/* ---- locking (no-ops without threads) ------------------------------------ */

static void lock(smtpc_pool *p) {
#ifdef SMTPC_HAVE_PTHREADS
  pthread_mutex_lock(&p->lock);
#else
  (void)p;
#endif
}

static void unlock(smtpc_pool *p) {
#ifdef SMTPC_HAVE_PTHREADS
  pthread_mutex_unlock(&p->lock);
#else
  (void)p;
#endif
}

static void wake(smtpc_pool *p) {
#ifdef SMTPC_HAVE_PTHREADS
  pthread_cond_signal(&p->freed);
#else
  (void)p;
#endif
}

/* Waits (lock held) until woken or until deadline_ms on the monotonic
 * clock.  Returns 0 when woken (or spuriously), -1 at the deadline. */
static int wait_until(smtpc_pool *p, int64_t deadline_ms) {
#ifdef SMTPC_HAVE_PTHREADS
  struct timespec ts;
  int rc;
  if (smtpc__mono_ms() >= deadline_ms)
    return -1;
  ts.tv_sec = (time_t)(deadline_ms / 1000);
  ts.tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
  rc = pthread_cond_timedwait(&p->freed, &p->lock, &ts);
  return rc == ETIMEDOUT ? -1 : 0;
#else
  (void)p;
  (void)deadline_ms;
  return -1; /* nobody else can free a connection */
#endif
}

static void sleep_ms(int64_t ms) {
  struct timespec ts;
  if (ms <= 0)
    return;
  ts.tv_sec = (time_t)(ms / 1000);
  ts.tv_nsec = (long)(ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* ---- creation ------------------------------------------------------------ */

/* The config's strings, copied into one block. */
static const char **cfg_str(smtpc_client_config *c, size_t i) {
  const char **f[] = {&c->host,       &c->port,     &c->ca_file,
                      &c->ca_path,    &c->tls_name, &c->client_cert,
                      &c->client_key, &c->user,     &c->password,
                      &c->ehlo_name};
  return i < sizeof(f) / sizeof(f[0]) ? f[i] : NULL;
}

static int copy_config(smtpc_pool *p, const smtpc_client_config *cfg) {
  size_t i, total = 0, off = 0;
  const char **f;
  /* a caller built against the first layout has no members after
   * tls_cache: copy only what its version has */
  memset(&p->cfg, 0, sizeof(p->cfg));
  memcpy(&p->cfg, cfg,
         cfg->version >= 1 ? sizeof(*cfg)
                           : offsetof(smtpc_client_config, tls_cache) +
                                 sizeof(cfg->tls_cache));
  p->cfg.version = SMTPC_CLIENT_CONFIG_VERSION;
  p->cfg.mem = &p->mem;
  for (i = 0; (f = cfg_str(&p->cfg, i)) != NULL; i++)
    if (*f != NULL)
      total += strlen(*f) + 1;
  if (total == 0)
    return SMTPC_OK;
  p->strs = smtpc__malloc(&p->mem, total);
  if (p->strs == NULL)
    return SMTPC_ERR_NOMEM;
  p->strs_len = total;
  for (i = 0; (f = cfg_str(&p->cfg, i)) != NULL; i++) {
    if (*f != NULL) {
      size_t n = strlen(*f) + 1;
      memcpy(p->strs + off, *f, n);
      *f = p->strs + off;
      off += n;
    }
  }
  return SMTPC_OK;
}

int smtpc_pool_new(smtpc_pool **out, const smtpc_client_config *cfg,
                   const smtpc_pool_options *opt) {
  smtpc_mem m;
  smtpc_pool *p;
  int rc;
  if (out != NULL)
    *out = NULL;
  if (out == NULL || cfg == NULL || cfg->host == NULL || *cfg->host == '\0')
    return SMTPC_ERR_INVALID_ARGUMENT;
  /* a caller built with newer headers than this library */
  if ((unsigned)cfg->version > SMTPC_CLIENT_CONFIG_VERSION ||
      (opt != NULL && (unsigned)opt->version > SMTPC_POOL_OPTIONS_VERSION))
    return SMTPC_ERR_INVALID_ARGUMENT;
  p = smtpc__new_object(&m, cfg->mem, sizeof(*p), &rc);
  if (p == NULL)
    return rc;
  p->mem = m;
  if (copy_config(p, cfg) != SMTPC_OK) {
    smtpc__free(&m, p);
    return SMTPC_ERR_NOMEM;
  }
  /* Every reconnect resumes the last TLS session instead of a full
   * handshake.  Best effort: without one (no TLS built in, no memory) the
   * pool works the same, only slower to reconnect. */
  if (p->cfg.tls_cache == NULL && p->cfg.security != SMTPC_SECURITY_NONE &&
      smtpc_tls_cache_new(&p->own_cache, &p->mem) == SMTPC_OK)
    p->cfg.tls_cache = p->own_cache;
  if (opt != NULL)
    p->opt = *opt;
  if (p->opt.max_connections == 0)
    p->opt.max_connections = DEF_MAX_CONNS;
  if (p->opt.max_messages == 0)
    p->opt.max_messages = DEF_MAX_MSGS;
  if (p->opt.idle_timeout_ms == 0)
    p->opt.idle_timeout_ms = DEF_IDLE_MS;
  if (p->opt.check_after_ms == 0)
    p->opt.check_after_ms = DEF_CHECK_MS;
#ifdef SMTPC_HAVE_PTHREADS
  {
    pthread_condattr_t ca;
    int ok = pthread_condattr_init(&ca) == 0;
    /* deadlines are on the monotonic clock: immune to clock changes */
    if (ok && (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
               pthread_cond_init(&p->freed, &ca) != 0)) {
      pthread_condattr_destroy(&ca);
      ok = 0;
    } else if (ok) {
      pthread_condattr_destroy(&ca);
    }
    if (ok && pthread_mutex_init(&p->lock, NULL) != 0) {
      pthread_cond_destroy(&p->freed);
      ok = 0;
    }
    if (!ok) {
      smtpc_tls_cache_free(p->own_cache);
      if (p->strs != NULL)
        smtpc__wipe(p->strs, p->strs_len);
      smtpc__free(&m, p->strs);
      smtpc__free(&m, p);
      return SMTPC_ERR_INTERNAL;
    }
  }
#endif
  *out = p;
  return SMTPC_OK;
}

/* ---- connections --------------------------------------------------------- */

static void conn_destroy(smtpc_pool *p, smtpc__conn *c, int quit) {
  smtpc__conn_close(c, quit);
  smtpc__free(&p->mem, c);
}

/* Connection slots.  p->open counts every connection from the moment a
 * thread decides to open it until it is closed -- including the QUIT of a
 * retiring one -- so the server never sees more than max_connections at
 * once.  Closing happens unlocked; the slot is given back afterwards. */

/* Moves the idle connections that have been idle too long to *dead (lock
 * held); they keep their slots until closed.  Returns how many. */
static unsigned take_expired(smtpc_pool *p, int64_t now, smtpc__conn **dead) {
  smtpc__conn **pp = &p->idle;
  unsigned n = 0;
  while (*pp != NULL) {
    smtpc__conn *c = *pp;
    if (now - c->last_used_ms >= (int64_t)p->opt.idle_timeout_ms) {
      *pp = c->next;
      c->next = *dead;
      *dead = c;
      n++;
    } else {
      pp = &c->next;
    }
  }
  return n;
}

/* Closes a list of connections (unlocked), then frees their n slots. */
static void close_list(smtpc_pool *p, smtpc__conn *c, unsigned n) {
  while (c != NULL) {
    smtpc__conn *next = c->next;
    conn_destroy(p, c, 1);
    c = next;
  }
  if (n > 0) {
    lock(p);
    p->open -= n;
    wake(p);
    unlock(p);
  }
}

/* Closes a busy connection that will not be reused, then frees its slot. */
static void retire(smtpc_pool *p, smtpc__conn *c, int quit, int dead) {
  conn_destroy(p, c, quit);
  lock(p);
  p->open--;
  p->busy--;
  p->st.replaced += dead != 0;
  wake(p);
  unlock(p);
}

/* Checks out a connection: an idle one (checked with NOOP after
 * check_after_ms), else a new one if fewer than max_connections are open,
 * else waits.  With need_fresh (a retry) it always opens a new connection,
 * closing an idle one to make room: the idle ones are as old as the one
 * that just died. */
static smtpc__conn *acquire(smtpc_pool *p, int64_t deadline, smtpc_result *r,
                            int need_fresh) {
  for (;;) {
    smtpc__conn *c = NULL, *dead = NULL, *evict = NULL;
    int64_t now = smtpc__mono_ms();
    unsigned ndead;
    lock(p);
    ndead = take_expired(p, now, &dead);
    if (ndead > 0) { /* close them first: their slots may be needed */
      unlock(p);
      close_list(p, dead, ndead);
      continue;
    }
    for (;;) {
      if (p->idle != NULL && !need_fresh) {
        c = p->idle;
        p->idle = c->next;
        c->next = NULL;
        p->busy++;
        break;
      }
      if (p->open < p->opt.max_connections) {
        p->open++; /* reserve the slot while connecting unlocked */
        p->busy++;
        break;
      }
      if (need_fresh && p->idle != NULL) {
        evict = p->idle; /* its slot becomes ours once it is closed */
        p->idle = evict->next;
        evict->next = NULL;
        p->busy++;
        break;
      }
      if (wait_until(p, deadline) != 0) {
        unlock(p);
        smtpc__result_set(r, SMTPC_ERR_TIMEOUT, SMTPC_STAGE_POOL,
                          "pool: no connection free within the wait time "
                          "(%u open)",
                          p->opt.max_connections);
        return NULL;
      }
    }
    unlock(p);
    if (evict != NULL)
      conn_destroy(p, evict, 1);
    if (c == NULL) { /* open a new connection in the reserved slot */
      c = smtpc__calloc(&p->mem, 1, sizeof(*c));
      if (c == NULL)
        smtpc__result_set(r, SMTPC_ERR_NOMEM, SMTPC_STAGE_SETUP, "pool: %s",
                          smtpc_strerror(SMTPC_ERR_NOMEM));
      if (c == NULL || smtpc__conn_open(c, &p->cfg, r) != SMTPC_OK) {
        smtpc__free(&p->mem, c);
        lock(p);
        p->open--;
        p->busy--;
        wake(p);
        unlock(p);
        return NULL;
      }
      lock(p);
      p->st.connects++;
      if (smtpc_tls_is_resumed(c->tls))
        p->st.tls_resumed++;
      unlock(p);
      return c;
    }
    /* A connection idle for a while may have been closed by the server:
     * NOOP finds out before a message is committed to it. */
    if (now - c->last_used_ms < (int64_t)p->opt.check_after_ms ||
        smtpc_session_noop(c->s) == SMTPC_OK)
      return c;
    retire(p, c, 0, 1);
    /* try again: another idle connection or a new one */
  }
}

/* Returns a connection after a send: back to the idle list when it is
 * still good, under max_messages and under the server's MAILMAX (RFC 9422),
 * else closed (with QUIT when still in sync).  dead: it failed under the
 * transaction (counted as replaced). */
static void release(smtpc_pool *p, smtpc__conn *c, int reusable, int dead) {
  if (reusable && c->messages < p->opt.max_messages &&
      !smtpc__session_spent(c->s)) {
    lock(p);
    p->busy--;
    c->last_used_ms = smtpc__mono_ms();
    c->next = p->idle;
    p->idle = c;
    wake(p);
    unlock(p);
    return;
  }
  retire(p, c, reusable, dead);
}

/* Rate limit: reserves the next start slot; waits for it outside the
 * lock.  Fails if the slot is later than the deadline. */
static int rate_wait(smtpc_pool *p, int64_t deadline, smtpc_result *r) {
  int64_t now_us, slot;
  if (p->opt.rate_limit == 0)
    return SMTPC_OK;
  lock(p);
  now_us = smtpc__mono_ms() * 1000;
  slot = p->next_slot_us > now_us ? p->next_slot_us : now_us;
  if (slot / 1000 > deadline) {
    unlock(p);
    smtpc__result_set(r, SMTPC_ERR_TIMEOUT, SMTPC_STAGE_POOL,
                      "pool: rate limit of %u messages/s allows no start "
                      "within the wait time",
                      p->opt.rate_limit);
    return r->status;
  }
  p->next_slot_us = slot + 1000000 / (int64_t)p->opt.rate_limit;
  unlock(p);
  sleep_ms((slot - now_us + 999) / 1000);
  return SMTPC_OK;
}

/* The connection died under the transaction before its end of data went
 * out: the server cannot have the message. */
static int retry_safe(const smtpc_result *r) {
  int st = r->status;
  if (r->txn == NULL || smtpc_txn_step(r->txn) == SMTPC_STEP_DATA_END)
    return 0;
  return st == SMTPC_ERR_SERVICE_CLOSING || st == SMTPC_ERR_EOF ||
         st == SMTPC_ERR_IO || st == SMTPC_ERR_MAIL_LIMIT;
}

static void pool_send(smtpc_pool *p, smtpc_msg *msg, unsigned wait_ms,
                      smtpc_result *r) {
  int64_t deadline = smtpc__mono_ms() + wait_ms;
  unsigned attempt;
  if (rate_wait(p, deadline, r) != SMTPC_OK)
    return;
  for (attempt = 0; attempt < 2; attempt++) {
    int rc;
    smtpc__conn *c = acquire(p, deadline, r, attempt > 0);
    if (c == NULL)
      return; /* on a retry, r keeps the first attempt's transaction */
    rc = smtpc__conn_send(c, msg, r);
    lock(p);
    p->st.messages += r->txn != NULL;
    unlock(p);
    /* After a refusal (4xx/5xx, bad address...) the session is still in
     * sync and reusable (it sends RSET); after a transport failure, a 421
     * or a malformed reply -- the errors smtpc_error_is_fatal() names --
     * it is not, nor when the session broke after the outcome was known. */
    {
      int usable = !smtpc_error_is_fatal(rc) && !c->broken;
      release(p, c, usable, !usable);
    }
    if (rc == SMTPC_OK || rc == SMTPC_ERR_PARTIAL)
      return;
    if (!retry_safe(r))
      return;
    if (attempt == 0) {
      lock(p);
      p->st.retries++;
      unlock(p);
    }
    /* the retry waits for a connection like any send, then opens a new
     * one */
  }
}

int smtpc_pool_send(smtpc_pool *p, const smtpc_mail *mail, unsigned wait_ms,
                    smtpc_result **out) {
  smtpc_result *r = smtpc__result_new(p != NULL ? &p->mem : NULL);
  smtpc_msg *msg = NULL;
  if (out != NULL)
    *out = NULL;
  if (r == NULL)
    return SMTPC_ERR_NOMEM;
  if (p == NULL || mail == NULL)
    smtpc__result_set(r, SMTPC_ERR_INVALID_ARGUMENT, SMTPC_STAGE_SETUP,
                      "smtpc_pool_send: NULL argument");
  else if (smtpc__mail_build(mail, &p->mem, &msg, r) == SMTPC_OK)
    pool_send(p, msg, wait_ms, r);
  smtpc_msg_free(msg);
  return smtpc__result_finish(r, out);
}

int smtpc_pool_send_msg(smtpc_pool *p, smtpc_msg *msg, unsigned wait_ms,
                        smtpc_result **out) {
  smtpc_result *r = smtpc__result_new(p != NULL ? &p->mem : NULL);
  if (out != NULL)
    *out = NULL;
  if (r == NULL)
    return SMTPC_ERR_NOMEM;
  if (p == NULL || msg == NULL)
    smtpc__result_set(r, SMTPC_ERR_INVALID_ARGUMENT, SMTPC_STAGE_SETUP,
                      "smtpc_pool_send_msg: NULL argument");
  else
    pool_send(p, msg, wait_ms, r);
  return smtpc__result_finish(r, out);
}

unsigned smtpc_pool_close_idle(smtpc_pool *p) {
  smtpc__conn *dead = NULL;
  unsigned n;
  if (p == NULL)
    return 0;
  lock(p);
  n = take_expired(p, smtpc__mono_ms(), &dead);
  unlock(p);
  close_list(p, dead, n);
  return n;
}

void smtpc_pool_stats_get(smtpc_pool *p, smtpc_pool_stats *st) {
  if (st == NULL)
    return;
  if (p == NULL) {
    memset(st, 0, sizeof(*st));
    return;
  }
  lock(p);
  *st = p->st;
  st->open = p->open;
  st->busy = p->busy;
  unlock(p);
}

void smtpc_pool_free(smtpc_pool *p) {
  smtpc_mem m;
  smtpc__conn *c;
  if (p == NULL)
    return;
  m = p->mem;
  for (c = p->idle; c != NULL;) {
    smtpc__conn *next = c->next;
    conn_destroy(p, c, 1);
    c = next;
  }
#ifdef SMTPC_HAVE_PTHREADS
  pthread_cond_destroy(&p->freed);
  pthread_mutex_destroy(&p->lock);
#endif
  smtpc_tls_cache_free(p->own_cache); /* after every connection using it */
  if (p->strs != NULL) {
    smtpc__wipe(p->strs, p->strs_len); /* the password is in there */
    smtpc__free(&m, p->strs);
  }
  smtpc__free(&m, p);
}
