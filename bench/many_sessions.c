/* SPDX-License-Identifier: MIT */
/* many_sessions -- many concurrent SMTP sessions from one thread, for
 * bench/run.sh: the pattern of examples/event_loop.c (non-blocking
 * sockets, one poll() loop, SMTPC_ERR_WANT_READ/WRITE) at scale.
 *
 *   many_sessions HOST PORT SESSIONS MSGS MSGFILE [IOBUF]
 *
 * Connects SESSIONS sockets (all open at once), then drives every session
 * from one poll() loop: greeting + EHLO, MSGS transactions to
 * rcpt@example.com queued together (pipelined when the server allows it),
 * body = MSGFILE's bytes, QUIT.  Only sessions whose socket poll() reported
 * ready are stepped again, so an idle session costs no system call.
 * IOBUF sets SMTPC_LIMIT_READ_BUFFER and SMTPC_LIMIT_WRITE_BUFFER (bytes;
 * default: the library's, 16 KiB and 64 KiB), which is most of a
 * session's heap.
 *
 * Prints one JSON line: sessions, messages accepted, seconds (from the
 * first connect to the last QUIT), msgs_per_s, connect_s, rss_growth (peak
 * RSS minus the RSS before the first session, bytes), heap_peak (most bytes
 * the library held at once, as requested from its smtpc_mem allocator,
 * without malloc's own overhead), and both per session.  Raises
 * RLIMIT_NOFILE as far as allowed.  Exit 0 only if every message was
 * accepted; 1 otherwise; 2 on a usage or set-up error. */
#include <smtpc/smtpc.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define MAX_SESSIONS 100000UL
#define MAX_MSGS 10000UL
#define MAX_IOBUF (1UL << 24)
#define TIMEOUT_MS 60000u /* connect and per-reply deadline */

/* ---- a counting allocator: the library's heap, nothing else ------------- */

typedef struct {
  size_t cur, peak;
} counter;

/* Each block carries its size in a header, so free and realloc can count;
 * the header is 16 bytes to keep malloc's alignment. */
#define HDR 16

static void *c_malloc(void *user, size_t n) {
  counter *c = user;
  unsigned char *p = malloc(n + HDR);
  if (p == NULL)
    return NULL;
  *(size_t *)(void *)p = n;
  if ((c->cur += n) > c->peak)
    c->peak = c->cur;
  return p + HDR;
}

static void c_free(void *user, void *ptr) {
  counter *c = user;
  unsigned char *p = ptr;
  if (p == NULL)
    return;
  p -= HDR;
  c->cur -= *(size_t *)(void *)p;
  free(p);
}

static void *c_realloc(void *user, void *ptr, size_t n) {
  counter *c = user;
  unsigned char *p = ptr, *q;
  size_t old;
  if (p == NULL)
    return c_malloc(user, n);
  p -= HDR;
  old = *(size_t *)(void *)p;
  q = realloc(p, n + HDR);
  if (q == NULL)
    return NULL;
  *(size_t *)(void *)q = n;
  c->cur = c->cur - old + n;
  if (c->cur > c->peak)
    c->peak = c->cur;
  return q + HDR;
}

/* ---- sessions ------------------------------------------------------------ */

typedef struct {
  smtpc_socket *sock;
  smtpc_session *s;
  smtpc_txn **t;
  int step;     /* 0 open, 1 send, 2 quit, 3 done */
  int ready;    /* poll() said so (or it was never waited for) */
  short events; /* what it waits for when not ready */
  int rc;       /* first error, else SMTPC_OK */
} job;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_bytes(void) { /* resident set now, from /proc */
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f != NULL) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
      resident = 0;
    fclose(f);
  }
  return resident * sysconf(_SC_PAGESIZE);
}

static char *read_file(const char *path, size_t *len) {
  struct stat st;
  char *buf = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0 &&
      st.st_size < (1 << 24) && (buf = malloc((size_t)st.st_size)) != NULL) {
    *len = (size_t)st.st_size;
    if (read(fd, buf, *len) != (ssize_t)*len) {
      free(buf);
      buf = NULL;
    }
  }
  if (fd >= 0)
    close(fd);
  return buf;
}

/* One step of a job: SMTPC_OK when it is complete, else as the library. */
static int step(job *j, unsigned long msgs, const smtpc_body *body) {
  static const char *const to[] = {"rcpt@example.com"};
  if (j->step == 0)
    return smtpc_session_open(j->s);
  if (j->step == 1 && j->t[0] == NULL) {
    unsigned long k;
    for (k = 0; k < msgs; k++) {
      int rc =
          smtpc_session_queue(j->s, "bench@example.com", to, 1, body, &j->t[k]);
      if (rc != SMTPC_OK)
        return rc;
    }
  }
  if (j->step == 1)
    return smtpc_session_run(j->s);
  return smtpc_session_quit(j->s);
}

int main(int argc, char **argv) {
  unsigned long n, msgs, iobuf = 0, i, k, ok = 0;
  counter cnt = {0, 0};
  smtpc_mem mem = {&cnt, c_malloc, c_realloc, c_free};
  struct rlimit rl;
  struct rusage ru;
  smtpc_body body;
  job *jobs;
  struct pollfd *p;
  size_t *who, len = 0;
  char *msg;
  double t0, t1, t2;
  long rss0;

  if ((argc != 6 && argc != 7) ||
      parse_ulong(argv[3], 1, MAX_SESSIONS, &n) != 0 ||
      parse_ulong(argv[4], 1, MAX_MSGS, &msgs) != 0 ||
      (argc == 7 && parse_ulong(argv[6], 64, MAX_IOBUF, &iobuf) != 0)) {
    fprintf(stderr, "usage: many_sessions HOST PORT SESSIONS MSGS MSGFILE "
                    "[IOBUF]\n");
    return 2;
  }
  if ((msg = read_file(argv[5], &len)) == NULL) {
    fprintf(stderr, "many_sessions: %s: cannot read\n", argv[5]);
    return 2;
  }
  /* One descriptor per session plus stdio and a margin; the default soft
   * limit (1024) is too low for 1,000 sessions, the hard one usually not. */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n + 64) {
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= n + 64
                      ? (rlim_t)(n + 64)
                      : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < n + 64) {
      fprintf(stderr,
              "many_sessions: RLIMIT_NOFILE too low for %lu "
              "sessions (ulimit -n)\n",
              n);
      return 2;
    }
  }
  jobs = calloc(n, sizeof *jobs);
  p = calloc(n, sizeof *p);
  who = calloc(n, sizeof *who);
  if (jobs == NULL || p == NULL || who == NULL)
    return 2;
  for (i = 0; i < n; i++)
    if ((jobs[i].t = calloc(msgs, sizeof *jobs[i].t)) == NULL)
      return 2;
  smtpc_body_init_memory(&body, msg, len);
  rss0 = rss_bytes();

  t0 = now_s();
  for (i = 0; i < n; i++) { /* connecting blocks (loopback: briefly) */
    job *j = &jobs[i];
    smtpc_io io;
    if ((j->rc = smtpc_socket_new(&j->sock, &mem)) == SMTPC_OK &&
        (j->rc = smtpc_socket_connect(j->sock, argv[1], argv[2], TIMEOUT_MS)) ==
            SMTPC_OK &&
        (j->rc = smtpc_session_new(&j->s, &mem)) == SMTPC_OK &&
        (j->rc = smtpc_session_set_ehlo_name(j->s, "bench.local")) ==
            SMTPC_OK &&
        (j->rc = smtpc_session_set_timeout_all(j->s, TIMEOUT_MS)) == SMTPC_OK &&
        (iobuf == 0 ||
         ((j->rc = smtpc_session_set_limit(j->s, SMTPC_LIMIT_READ_BUFFER,
                                           iobuf)) == SMTPC_OK &&
          (j->rc = smtpc_session_set_limit(j->s, SMTPC_LIMIT_WRITE_BUFFER,
                                           iobuf)) == SMTPC_OK))) {
      smtpc_socket_set_blocking(j->sock, 0);
      smtpc_socket_io(j->sock, &io);
      j->rc = smtpc_session_set_io(j->s, &io);
    }
    if (j->rc != SMTPC_OK) {
      fprintf(stderr, "many_sessions: session %lu: %s (errno %d)\n", i + 1,
              smtpc_strerror(j->rc),
              j->sock ? smtpc_socket_last_errno(j->sock) : 0);
      return 2;
    }
    j->ready = 1;
  }
  t1 = now_s();

  for (;;) {
    int timeout = -1, r;
    nfds_t nfds = 0;
    for (i = 0; i < n; i++) { /* advance every ready job as far as it goes */
      job *j = &jobs[i];
      int rc = SMTPC_OK;
      if (j->step == 3 || !j->ready)
        continue;
      while (j->step < 3 && (rc = step(j, msgs, &body)) == SMTPC_OK)
        j->step++;
      if (rc == SMTPC_ERR_WANT_READ || rc == SMTPC_ERR_WANT_WRITE) {
        j->events = rc == SMTPC_ERR_WANT_READ ? POLLIN : POLLOUT;
        j->ready = 0;
      } else if (j->step < 3) { /* failed: a timeout shows up here too */
        j->rc = rc;
        j->step = 3;
      }
    }
    for (i = 0; i < n; i++) { /* wait for the others, nearest deadline */
      unsigned ms;
      if (jobs[i].step == 3)
        continue;
      ms = smtpc_session_current_timeout(jobs[i].s);
      if (ms != 0 && (timeout < 0 || ms < (unsigned)timeout))
        timeout = ms > INT_MAX ? INT_MAX : (int)ms;
      p[nfds].fd = smtpc_socket_fd(jobs[i].sock);
      p[nfds].events = jobs[i].events;
      who[nfds++] = i;
    }
    if (nfds == 0)
      break;
    r = poll(p, nfds, timeout);
    if (r < 0 && errno != EINTR) {
      perror("poll");
      return 2;
    }
    /* After a timeout (r == 0) every waiting job is stepped, so that the
     * library reports which deadline passed. */
    for (k = 0; k < nfds; k++)
      jobs[who[k]].ready = r == 0 || p[k].revents != 0;
  }
  t2 = now_s();

  for (i = 0; i < n; i++) {
    for (k = 0; k < msgs; k++) {
      if (jobs[i].t[k] != NULL && smtpc_txn_status(jobs[i].t[k]) == SMTPC_OK)
        ok++;
      smtpc_txn_free(jobs[i].t[k]);
    }
    if (jobs[i].rc != SMTPC_OK && i < 5) /* the first few only */
      fprintf(stderr, "many_sessions: session %lu: %s\n", i + 1,
              smtpc_strerror(jobs[i].rc));
    smtpc_session_close(jobs[i].s);
    smtpc_session_free(jobs[i].s);
    smtpc_socket_free(jobs[i].sock);
    free(jobs[i].t);
  }
  getrusage(RUSAGE_SELF, &ru);
  {
    double growth = (double)ru.ru_maxrss * 1024.0 - (double)rss0;
    printf("{\"sessions\": %lu, \"msgs_per_session\": %lu, \"iobuf\": %lu, "
           "\"messages\": %lu, "
           "\"accepted\": %lu, \"seconds\": %.3f, \"connect_s\": %.3f, "
           "\"msgs_per_s\": %.0f, \"rss_growth\": %.0f, "
           "\"rss_per_session\": %.0f, \"heap_peak\": %lu, "
           "\"heap_per_session\": %.0f, \"heap_leaked\": %lu}\n",
           n, msgs, iobuf, n * msgs, ok, t2 - t0, t1 - t0,
           (double)ok / (t2 - t0), growth, growth / (double)n,
           (unsigned long)cnt.peak, (double)cnt.peak / (double)n,
           (unsigned long)cnt.cur);
  }
  free(jobs);
  free(p);
  free(who);
  free(msg);
  return ok == n * msgs ? 0 : 1;
}
