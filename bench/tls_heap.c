/* SPDX-License-Identifier: MIT */
/* tls_heap -- the heap one TLS session takes, for an embedded RAM budget.
 *
 *   BENCH_PASS=SECRET tls_heap HOST PORT CAFILE USER [resume]
 *
 * One STARTTLS + AUTH session set-up against HOST:PORT (bench/tls_setup's
 * dialogue: EHLO, STARTTLS, handshake verified against CAFILE, EHLO, AUTH
 * PLAIN), then NOOP and QUIT.  With "resume" two such sessions share an
 * smtpc_tls_cache and the second (resumed) one is measured.
 *
 * Every malloc, calloc, realloc and free of the process is counted: this
 * program defines them on top of glibc's __libc_* functions, so mbedTLS's
 * own calls are seen.  The SMTP session and the socket get an smtpc_mem of
 * their own that bypasses the count, so what is counted is TLS: the
 * smtpc_tls object (the mbedTLS contexts are in it), everything mbedTLS
 * and PSA allocate (record buffers, handshake state, certificates, keys)
 * and the parsed CA file.  Sizes are what was asked for, without malloc's
 * overhead.  Prints one JSON line, bytes relative to just before
 * smtpc_tls_new():
 *
 *   tls_new         after smtpc_tls_new() (the object; PSA's start-up the
 *                   first time in a process)
 *   cafile          after smtpc_tls_set_cafile() (CAFILE parsed)
 *   wrapped         after smtpc_tls_wrap() (configuration, record buffers)
 *   handshake_peak  the most live during smtpc_session_open()
 *   steady          live once it returned (an idle connection)
 *   steady_peak     the most live during NOOP and QUIT
 *   session_peak    the SMTP session's own peak (its smtpc_mem), apart
 *   cache           (resume) what the cache holds for one server
 *   left            live at the end, the cache freed: PSA's global state
 *
 * glibc only, and not in a sanitizer build (then it prints nothing and
 * exits 77).  Exit 0 when the
 * session(s) authenticated (and, with resume, the second resumed), 1 when
 * not, 2 on a usage error. */
#include <smtpc/smtpc.h>
#include <smtpc/socket.h>
#include <smtpc/tls.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_MS 30000u

/* A sanitizer brings its own allocator: no counting on top of it. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TLS_HEAP_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||     \
    __has_feature(memory_sanitizer)
#define TLS_HEAP_SANITIZED 1
#endif
#endif

#if defined(__GLIBC__) && !defined(TLS_HEAP_SANITIZED)

/* ---- counting allocator ------------------------------------------------- */

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

/* Each counted block starts with this header: a magic and the size asked
 * for.  Blocks from elsewhere (glibc's own memalign and the like) have no
 * magic and are passed through. */
#define HDR 16u
static const unsigned long long magic = 0x736d747063686561ULL; /* smtpchea */

static size_t cur, peak;

static void *track(unsigned char *raw, size_t n) {
  if (raw == NULL)
    return NULL;
  memcpy(raw, &magic, sizeof magic);
  memcpy(raw + 8, &n, sizeof n);
  cur += n;
  if (cur > peak)
    peak = cur;
  return raw + HDR;
}

/* The size of a counted block, or (size_t)-1 for a foreign one. */
static size_t counted(void *p) {
  unsigned char *raw = (unsigned char *)p - HDR;
  unsigned long long m;
  size_t n;
  memcpy(&m, raw, sizeof m);
  if (m != magic)
    return (size_t)-1;
  memcpy(&n, raw + 8, sizeof n);
  return n;
}

void *malloc(size_t n) {
  if (n > (size_t)-1 - HDR)
    return NULL;
  return track(__libc_malloc(n + HDR), n);
}

void *calloc(size_t n, size_t size) {
  if (size != 0 && n > ((size_t)-1 - HDR) / size)
    return NULL;
  return track(__libc_calloc(1, n * size + HDR), n * size);
}

void free(void *p) {
  size_t n;
  if (p == NULL)
    return;
  n = counted(p);
  if (n == (size_t)-1) {
    __libc_free(p);
    return;
  }
  cur -= n;
  memset((unsigned char *)p - HDR, 0, HDR);
  __libc_free((unsigned char *)p - HDR);
}

void *realloc(void *p, size_t n) {
  size_t old;
  void *q;
  if (p == NULL)
    return malloc(n);
  old = counted(p);
  if (old == (size_t)-1)
    return __libc_realloc(p, n);
  q = malloc(n);
  if (q == NULL)
    return NULL;
  memcpy(q, p, old < n ? old : n);
  free(p);
  return q;
}

/* ---- the SMTP side's own allocator (not counted above) ------------------ */

static size_t side_cur, side_peak;

static void *side_malloc(void *u, size_t n) {
  unsigned char *raw = __libc_malloc(n + HDR);
  (void)u;
  if (raw == NULL)
    return NULL;
  memcpy(raw, &n, sizeof n);
  side_cur += n;
  if (side_cur > side_peak)
    side_peak = side_cur;
  return raw + HDR;
}

static void side_free(void *u, void *p) {
  size_t n;
  (void)u;
  if (p == NULL)
    return;
  memcpy(&n, (unsigned char *)p - HDR, sizeof n);
  side_cur -= n;
  __libc_free((unsigned char *)p - HDR);
}

static void *side_realloc(void *u, void *p, size_t n) {
  size_t old;
  void *q;
  if (p == NULL)
    return side_malloc(u, n);
  memcpy(&old, (unsigned char *)p - HDR, sizeof old);
  q = side_malloc(u, n);
  if (q == NULL)
    return NULL;
  memcpy(q, p, old < n ? old : n);
  side_free(u, p);
  return q;
}

static const smtpc_mem side = {NULL, side_malloc, side_realloc, side_free};

/* ---- one session ----------------------------------------------------------- */

typedef struct figures {
  size_t tls_new, cafile, wrapped, handshake_peak, steady, steady_peak;
} figures;

static int one_session(char **argv, const char *pass, smtpc_tls_cache *cache,
                       int must_resume, figures *f) {
  smtpc_socket *sock = NULL;
  smtpc_tls *tls = NULL;
  smtpc_session *s = NULL;
  smtpc_io plain, io;
  size_t base;
  int rc;

  if ((rc = smtpc_socket_new(&sock, &side)) != SMTPC_OK ||
      (rc = smtpc_socket_connect(sock, argv[1], argv[2], TIMEOUT_MS)) !=
          SMTPC_OK)
    goto out;
  base = cur;
  if ((rc = smtpc_tls_new(&tls, NULL, SMTPC_SECURITY_STARTTLS)) != SMTPC_OK)
    goto out;
  f->tls_new = cur - base;
  if ((rc = smtpc_tls_set_hostname(tls, argv[1])) != SMTPC_OK ||
      (rc = smtpc_tls_set_cafile(tls, argv[3])) != SMTPC_OK ||
      (cache != NULL && (rc = smtpc_tls_set_cache(tls, cache)) != SMTPC_OK))
    goto out;
  f->cafile = cur - base;
  smtpc_socket_io(sock, &plain);
  if ((rc = smtpc_tls_wrap(tls, &plain, &io)) != SMTPC_OK)
    goto out;
  f->wrapped = cur - base;
  if ((rc = smtpc_session_new(&s, &side)) != SMTPC_OK ||
      (rc = smtpc_session_set_io(s, &io)) != SMTPC_OK ||
      (rc = smtpc_session_set_ehlo_name(s, "bench.local")) != SMTPC_OK ||
      (rc = smtpc_session_set_timeout_all(s, TIMEOUT_MS)) != SMTPC_OK ||
      (rc = smtpc_session_set_tls_policy(s, SMTPC_SECURITY_STARTTLS)) !=
          SMTPC_OK ||
      (rc = smtpc_session_set_auth(s, SMTPC_AUTH_PLAIN, argv[4], pass, NULL)) !=
          SMTPC_OK)
    goto out;
  peak = cur;
  rc = smtpc_session_open(s);
  f->handshake_peak = peak - base;
  f->steady = cur - base;
  if (rc == SMTPC_OK && must_resume && !smtpc_tls_is_resumed(tls)) {
    fprintf(stderr, "tls_heap: the TLS session was not resumed\n");
    rc = SMTPC_ERR_TLS;
  }
  peak = cur;
  if (rc == SMTPC_OK)
    rc = smtpc_session_noop(s);
  if (rc == SMTPC_OK)
    rc = smtpc_session_quit(s);
  f->steady_peak = peak - base;
out:
  if (rc != SMTPC_OK)
    fprintf(stderr, "tls_heap: %s%s%s\n", smtpc_strerror(rc),
            tls && *smtpc_tls_last_error(tls) ? ": " : "",
            tls ? smtpc_tls_last_error(tls) : "");
  if (s != NULL)
    smtpc_session_close(s);
  smtpc_session_free(s);
  smtpc_tls_free(tls);
  smtpc_socket_free(sock);
  return rc;
}

int main(int argc, char **argv) {
  const char *pass = getenv("BENCH_PASS");
  smtpc_tls_cache *cache = NULL;
  figures f, first;
  size_t start = cur, before_cache = 0, cache_bytes = 0;
  int resume = argc == 6 && strcmp(argv[5], "resume") == 0;

  if ((argc != 5 && !resume) || pass == NULL) {
    fprintf(stderr, "usage: BENCH_PASS=SECRET tls_heap HOST PORT CAFILE "
                    "USER [resume]\n");
    return 2;
  }
  memset(&f, 0, sizeof f);
  memset(&first, 0, sizeof first);
  if (resume) {
    before_cache = cur;
    if (smtpc_tls_cache_new(&cache, NULL) != SMTPC_OK ||
        one_session(argv, pass, cache, 0, &first) != SMTPC_OK)
      return 1;
    cache_bytes = cur - before_cache;
  }
  if (one_session(argv, pass, cache, resume, &f) != SMTPC_OK)
    return 1;
  smtpc_tls_cache_free(cache);
  printf("{\"resumed\": %d, \"tls_new\": %zu, \"cafile\": %zu, "
         "\"wrapped\": %zu, \"handshake_peak\": %zu, \"steady\": %zu, "
         "\"steady_peak\": %zu, \"session_peak\": %zu, \"cache\": %zu, "
         "\"left\": %zu}\n",
         resume, f.tls_new, f.cafile, f.wrapped, f.handshake_peak, f.steady,
         f.steady_peak, side_peak, cache_bytes, cur - start);
  return 0;
}

#else /* !__GLIBC__ or a sanitizer build */

int main(void) {
  fprintf(stderr, "tls_heap: needs glibc and no sanitizer (it counts "
                  "malloc through __libc_malloc)\n");
  return 77;
}

#endif
