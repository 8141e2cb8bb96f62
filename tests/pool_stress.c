/* SPDX-License-Identifier: MIT */
/* pool_stress: many threads send through one smtpc_pool.
 *
 *   pool_stress HOST PORT THREADS MESSAGES_PER_THREAD MAX_CONNECTIONS [TAG]
 *
 * Every message gets the Message-ID <TAG-T-I@pool.test> (thread T, message
 * I, both from 0), so that the receiving side can count each one exactly.
 * Prints one line:
 *   sent=1600 failed=0 retried=R connects=C replaced=P resumed=T max_open=M
 *   elapsed_ms=E msgs_per_s=X
 * where retried counts messages that needed a second attempt, connects,
 * replaced and resumed (connections that resumed a TLS session) come from
 * smtpc_pool_stats_get() and max_open is the most
 * connections the pool had open at any sample (a sampler thread reads the
 * counters every millisecond, and each sender after each message).
 * Exit 0 only if every message got SMTPC_OK and max_open never exceeded
 * MAX_CONNECTIONS; every failure is printed on stderr (stage, status,
 * retry class, message).
 *
 * Environment (all optional):
 *   POOL_FROM, POOL_TO        envelope/header addresses (defaults
 *                             sender@example.test, pool@example.test)
 *   POOL_TLS                  none (default), starttls or implicit
 *   POOL_CAFILE               CA file for TLS
 *   POOL_TIMEOUT_MS           reply deadline (default 30000)
 *   POOL_WAIT_MS              smtpc_pool_send_msg() wait (default 120000)
 *   POOL_MAX_MESSAGES         messages per connection (pool default 100)
 *   POOL_CHECK_AFTER_MS, POOL_IDLE_TIMEOUT_MS, POOL_RATE   pool options
 *   POOL_PAUSE_EVERY, POOL_PAUSE_MS   each thread sleeps PAUSE_MS after
 *                             every PAUSE_EVERY messages (lets connections
 *                             go idle, for idle-drop tests)
 *   POOL_BODY_BYTES           approximate size of the text body (default
 *                             200)
 *   POOL_QUIET                non-empty: no per-failure lines */
#include <smtpc/smtpc.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long now_ms(void) {
  struct timespec tv;
  clock_gettime(CLOCK_MONOTONIC, &tv);
  return (long)tv.tv_sec * 1000L + tv.tv_nsec / 1000000L;
}

static void sleep_ms(long ms) {
  struct timespec tv;
  tv.tv_sec = ms / 1000;
  tv.tv_nsec = (ms % 1000) * 1000000L;
  while (nanosleep(&tv, &tv) != 0 && errno == EINTR)
    ;
}

/* A number from the environment, or dflt; exits on garbage. */
static unsigned long env_num(const char *name, unsigned long dflt) {
  const char *v = getenv(name);
  char *end;
  unsigned long n;
  if (v == NULL || *v == '\0')
    return dflt;
  errno = 0;
  n = strtoul(v, &end, 10);
  if (errno != 0 || *end != '\0' || n > 10000000UL) {
    fprintf(stderr, "pool_stress: bad %s: %s\n", name, v);
    exit(2);
  }
  return n;
}

static unsigned long arg_num(const char *what, const char *v,
                             unsigned long max) {
  char *end;
  unsigned long n;
  errno = 0;
  n = strtoul(v, &end, 10);
  if (errno != 0 || *end != '\0' || n == 0 || n > max) {
    fprintf(stderr, "pool_stress: bad %s: %s (1..%lu)\n", what, v, max);
    exit(2);
  }
  return n;
}

typedef struct shared {
  smtpc_pool *pool;
  const char *tag;
  const char *from;
  const char *to;
  const char *body;
  unsigned long per_thread;
  unsigned long wait_ms;
  unsigned long pause_every, pause_ms;
  int quiet;
  pthread_mutex_t mu; /* guards everything below */
  unsigned long ok, failed, retried;
  unsigned max_open;
  int stop;
} shared;

typedef struct worker {
  shared *sh;
  unsigned long id;
} worker;

static void note_open(shared *sh) {
  smtpc_pool_stats st;
  smtpc_pool_stats_get(sh->pool, &st);
  pthread_mutex_lock(&sh->mu);
  if (st.open > sh->max_open)
    sh->max_open = st.open;
  pthread_mutex_unlock(&sh->mu);
}

/* One message: a fresh smtpc_msg each time (the builder is cheap). */
static int send_one(worker *w, unsigned long i, smtpc_result **res) {
  shared *sh = w->sh;
  smtpc_msg *m = NULL;
  char id[256], subject[256];
  int rv, quiet;
  snprintf(id, sizeof(id), "%s-%lu-%lu@pool.test", sh->tag, w->id, i);
  snprintf(subject, sizeof(subject), "pool_stress %s thread %lu message %lu",
           sh->tag, w->id, i);
  *res = NULL;
  if ((rv = smtpc_msg_new(&m, NULL)) != SMTPC_OK ||
      (rv = smtpc_msg_set_from(m, "pool_stress", sh->from)) != SMTPC_OK ||
      (rv = smtpc_msg_add_to(m, NULL, sh->to)) != SMTPC_OK ||
      (rv = smtpc_msg_set_subject(m, subject)) != SMTPC_OK ||
      (rv = smtpc_msg_set_message_id(m, id)) != SMTPC_OK ||
      (rv = smtpc_msg_set_text(m, sh->body, strlen(sh->body))) != SMTPC_OK) {
    fprintf(stderr, "pool_stress: building %s: %s\n", id, smtpc_strerror(rv));
    smtpc_msg_free(m);
    return rv;
  }
  rv = smtpc_pool_send_msg(sh->pool, m, (unsigned)sh->wait_ms, res);
  pthread_mutex_lock(&sh->mu);
  quiet = sh->quiet || sh->failed >= 20; /* the first 20 tell enough */
  pthread_mutex_unlock(&sh->mu);
  if (rv != SMTPC_OK && !quiet)
    fprintf(stderr, "pool_stress: %s: %s at %s, retry %s, attempts %u: %s\n",
            id, smtpc_strerror(rv), smtpc_stage_name(smtpc_result_stage(*res)),
            smtpc_retry_name(smtpc_result_retry(*res)),
            smtpc_result_attempts(*res), smtpc_result_message(*res));
  smtpc_msg_free(m);
  return rv;
}

static void *worker_main(void *arg) {
  worker *w = arg;
  shared *sh = w->sh;
  unsigned long i;
  for (i = 0; i < sh->per_thread; i++) {
    smtpc_result *res = NULL;
    int rv = send_one(w, i, &res);
    unsigned attempts = smtpc_result_attempts(res);
    smtpc_result_free(res);
    note_open(sh);
    pthread_mutex_lock(&sh->mu);
    if (rv == SMTPC_OK)
      sh->ok++;
    else
      sh->failed++;
    if (attempts > 1)
      sh->retried++;
    pthread_mutex_unlock(&sh->mu);
    if (sh->pause_every != 0 && (i + 1) % sh->pause_every == 0 &&
        i + 1 < sh->per_thread)
      sleep_ms((long)sh->pause_ms);
  }
  return NULL;
}

/* Samples the open count every millisecond until told to stop. */
static void *sampler_main(void *arg) {
  shared *sh = arg;
  for (;;) {
    int stop;
    pthread_mutex_lock(&sh->mu);
    stop = sh->stop;
    pthread_mutex_unlock(&sh->mu);
    if (stop)
      break;
    note_open(sh);
    sleep_ms(1);
  }
  return NULL;
}

static char *make_body(unsigned long bytes) {
  static const char line[] =
      "The quick brown fox jumps over the lazy dog, 0123456789.\n";
  size_t ll = sizeof(line) - 1, n = 0;
  char *b = malloc(bytes + ll + 1);
  if (b == NULL)
    return NULL;
  do {
    memcpy(b + n, line, ll);
    n += ll;
  } while (n < bytes);
  b[n] = '\0';
  return b;
}

int main(int argc, char **argv) {
  smtpc_client_config cfg;
  smtpc_pool_options opt;
  smtpc_pool_stats st;
  shared sh;
  worker *ws;
  pthread_t *th, sampler;
  unsigned long nthreads, maxc, i, total, started = 0;
  const char *tls = getenv("POOL_TLS");
  char *body;
  long t0, elapsed;
  int rv, ok;

  if (argc < 6 || argc > 7) {
    fprintf(stderr, "usage: pool_stress HOST PORT THREADS "
                    "MESSAGES_PER_THREAD MAX_CONNECTIONS [TAG]\n");
    return 2;
  }
  memset(&cfg, 0, sizeof(cfg));
  memset(&opt, 0, sizeof(opt));
  memset(&sh, 0, sizeof(sh));
  nthreads = arg_num("THREADS", argv[3], 1000);
  sh.per_thread = arg_num("MESSAGES_PER_THREAD", argv[4], 1000000);
  maxc = arg_num("MAX_CONNECTIONS", argv[5], 1000);
  sh.tag = argc == 7 ? argv[6] : "stress";
  sh.from = getenv("POOL_FROM") ? getenv("POOL_FROM") : "sender@example.test";
  sh.to = getenv("POOL_TO") ? getenv("POOL_TO") : "pool@example.test";
  sh.wait_ms = env_num("POOL_WAIT_MS", 120000);
  sh.pause_every = env_num("POOL_PAUSE_EVERY", 0);
  sh.pause_ms = env_num("POOL_PAUSE_MS", 0);
  sh.quiet = getenv("POOL_QUIET") != NULL && *getenv("POOL_QUIET") != '\0';
  total = nthreads * sh.per_thread;

  cfg.host = argv[1];
  cfg.port = argv[2];
  cfg.ehlo_name = "pool-stress.test";
  cfg.timeout_ms = (unsigned)env_num("POOL_TIMEOUT_MS", 30000);
  cfg.connect_timeout_ms = 10000;
  cfg.ca_file = getenv("POOL_CAFILE");
  if (tls == NULL || strcmp(tls, "none") == 0)
    cfg.security = SMTPC_SECURITY_NONE;
  else if (strcmp(tls, "starttls") == 0)
    cfg.security = SMTPC_SECURITY_STARTTLS;
  else if (strcmp(tls, "implicit") == 0)
    cfg.security = SMTPC_SECURITY_IMPLICIT;
  else {
    fprintf(stderr, "pool_stress: bad POOL_TLS: %s\n", tls);
    return 2;
  }
  opt.max_connections = (unsigned)maxc;
  opt.max_messages = (unsigned)env_num("POOL_MAX_MESSAGES", 0);
  opt.check_after_ms = (unsigned)env_num("POOL_CHECK_AFTER_MS", 0);
  opt.idle_timeout_ms = (unsigned)env_num("POOL_IDLE_TIMEOUT_MS", 0);
  opt.rate_limit = (unsigned)env_num("POOL_RATE", 0);

  body = make_body(env_num("POOL_BODY_BYTES", 200));
  ws = calloc(nthreads, sizeof(*ws));
  th = calloc(nthreads, sizeof(*th));
  if (body == NULL || ws == NULL || th == NULL) {
    fprintf(stderr, "pool_stress: out of memory\n");
    return 1;
  }
  sh.body = body;
  if ((rv = smtpc_pool_new(&sh.pool, &cfg, &opt)) != SMTPC_OK) {
    fprintf(stderr, "pool_stress: smtpc_pool_new: %s\n", smtpc_strerror(rv));
    return 1;
  }
  if (pthread_mutex_init(&sh.mu, NULL) != 0 ||
      pthread_create(&sampler, NULL, sampler_main, &sh) != 0) {
    fprintf(stderr, "pool_stress: cannot start the sampler\n");
    return 1;
  }
  t0 = now_ms();
  for (i = 0; i < nthreads; i++) {
    ws[i].sh = &sh;
    ws[i].id = i;
    if (pthread_create(&th[i], NULL, worker_main, &ws[i]) != 0) {
      fprintf(stderr, "pool_stress: cannot start thread %lu\n", i);
      break;
    }
    started++;
  }
  for (i = 0; i < started; i++)
    pthread_join(th[i], NULL);
  elapsed = now_ms() - t0;
  pthread_mutex_lock(&sh.mu);
  sh.stop = 1;
  pthread_mutex_unlock(&sh.mu);
  pthread_join(sampler, NULL);

  smtpc_pool_stats_get(sh.pool, &st);
  smtpc_pool_free(sh.pool);
  printf("sent=%lu failed=%lu retried=%lu connects=%llu replaced=%llu "
         "resumed=%llu max_open=%u elapsed_ms=%ld msgs_per_s=%.1f\n",
         sh.ok, sh.failed + (total - sh.ok - sh.failed), sh.retried,
         (unsigned long long)st.connects, (unsigned long long)st.replaced,
         (unsigned long long)st.tls_resumed, sh.max_open, elapsed,
         elapsed > 0 ? (double)sh.ok * 1000.0 / (double)elapsed : 0.0);
  fflush(stdout);
  ok = sh.ok == total && sh.max_open <= maxc;
  if (sh.max_open > maxc)
    fprintf(stderr, "pool_stress: %u connections open at once, limit %lu\n",
            sh.max_open, maxc);
  pthread_mutex_destroy(&sh.mu);
  free(body);
  free(ws);
  free(th);
  return ok ? 0 : 1;
}
