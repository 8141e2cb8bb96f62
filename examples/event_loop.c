/* SPDX-License-Identifier: MIT */
/* event_loop.c -- several SMTP sessions at once in one thread: non-blocking
 * sockets, one poll() loop, and the library's would-block codes.  Each
 * session opens, sends one message and quits; a call that returns
 * SMTPC_ERR_WANT_READ or SMTPC_ERR_WANT_WRITE is simply made again later.
 *
 *   event_loop HOST PORT FROM TO [N]   (N sessions, default 3, max 10000;
 *                                       raise `ulimit -n` for over ~1000) */
#define _POSIX_C_SOURCE 200809L
#include <smtpc/smtpc.h>

#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct job {
  smtpc_socket *sock;
  smtpc_session *s;
  smtpc_txn *t;
  smtpc_body body;
  char msg[512];
  int step; /* 0 open, 1 send, 2 quit, 3 done */
  int rc;   /* the outcome of the message */
} job;

/* One step of a job: SMTPC_OK when it is complete, else as the library. */
static int step(job *j, const char *from, const char *to) {
  if (j->step == 0)
    return smtpc_session_open(j->s);
  if (j->step == 1 && j->t == NULL) {
    int rc = smtpc_session_queue(j->s, from, &to, 1, &j->body, &j->t);
    if (rc != SMTPC_OK)
      return rc;
  }
  if (j->step == 1)
    return smtpc_session_run(j->s);
  return smtpc_session_quit(j->s);
}

int main(int argc, char **argv) {
  int i, n = argc == 6 ? atoi(argv[5]) : 3, failed = 0;
  job *jobs;
  struct pollfd *p;
  smtpc_io io;

  if ((argc != 5 && argc != 6) || n < 1 || n > 10000) {
    fprintf(stderr, "usage: event_loop HOST PORT FROM TO [N]\n");
    return 2;
  }
  jobs = calloc((size_t)n, sizeof *jobs);
  p = calloc((size_t)n, sizeof *p);
  if (jobs == NULL || p == NULL) {
    perror("calloc");
    return 1;
  }
  for (i = 0; i < n; i++) { /* connecting blocks; the rest does not */
    job *j = &jobs[i];
    snprintf(j->msg, sizeof j->msg,
             "From: <%s>\r\nTo: <%s>\r\nSubject: "
             "event_loop %d of %d\r\n\r\nSession %d.\r\n",
             argv[3], argv[4], i + 1, n, i + 1);
    smtpc_body_init_memory(&j->body, j->msg, strlen(j->msg));
    if ((j->rc = smtpc_socket_new(&j->sock, NULL)) == SMTPC_OK &&
        (j->rc = smtpc_socket_connect(j->sock, argv[1], argv[2], 30000)) ==
            SMTPC_OK &&
        (j->rc = smtpc_session_new(&j->s, NULL)) == SMTPC_OK) {
      smtpc_socket_set_blocking(j->sock, 0);
      smtpc_socket_io(j->sock, &io);
      j->rc = smtpc_session_set_io(j->s, &io);
    }
    j->step = j->rc == SMTPC_OK ? 0 : 3;
  }
  for (;;) {
    int nfds = 0, timeout = -1;
    for (i = 0; i < n; i++) { /* advance every job as far as it goes */
      job *j = &jobs[i];
      int rc = SMTPC_OK;
      while (j->step < 3 && (rc = step(j, argv[3], argv[4])) == SMTPC_OK)
        if (++j->step == 2)
          j->rc = smtpc_txn_status(j->t); /* sent: the outcome is known */
      if (rc == SMTPC_ERR_WANT_READ || rc == SMTPC_ERR_WANT_WRITE) {
        unsigned ms = smtpc_session_current_timeout(j->s);
        p[nfds].fd = smtpc_socket_fd(j->sock);
        p[nfds++].events = rc == SMTPC_ERR_WANT_READ ? POLLIN : POLLOUT;
        if (ms != 0 && (timeout < 0 || ms < (unsigned)timeout))
          timeout = ms > INT_MAX ? INT_MAX : (int)ms;
      } else if (j->step < 3) { /* failed: a timeout shows up here too */
        j->rc = j->step < 2 ? rc : j->rc;
        j->step = 3;
      }
    }
    if (nfds == 0)
      break;
    if (poll(p, (nfds_t)nfds, timeout) < 0) {
      perror("poll");
      failed = 1;
      break;
    }
  }
  for (i = 0; i < n; i++) {
    printf("session %d: %s\n", i + 1, smtpc_strerror(jobs[i].rc));
    failed += jobs[i].rc != SMTPC_OK;
    smtpc_txn_free(jobs[i].t);
    smtpc_session_free(jobs[i].s);
    smtpc_socket_free(jobs[i].sock);
  }
  free(jobs);
  free(p);
  return failed ? 1 : 0;
}
