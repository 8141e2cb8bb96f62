/* SPDX-License-Identifier: MIT */
/* memory_mode.c -- libsmtpc with no smtpc_io at all: the program owns the
 * socket and moves the bytes (the shape of an event loop, a UART driver or
 * an embedded TCP/IP stack that hands over received buffers).  The session
 * only says what it wants: output to send, input to read, or a deadline.
 *
 *   memory_mode HOST PORT FROM TO */
#define _POSIX_C_SOURCE 200809L
#include <smtpc/smtpc.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int tcp_connect(const char *host, const char *port) {
  struct addrinfo hints = {0}, *res, *ai;
  int fd = -1;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, port, &hints, &res) != 0)
    return -1;
  for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  return fd;
}

/* Does what the session asks for after an operation returned WANT_WRITE
 * or WANT_READ, within its deadline.  Returns 0, or -1 when the transport
 * failed (the session has been told). */
static int move_bytes(smtpc_session *s, int fd) {
  const unsigned char *p;
  unsigned char buf[4096];
  struct pollfd pfd;
  size_t n = smtpc_session_mem_send(s, &p);
  ssize_t r;
  if (n > 0) {
    while ((r = send(fd, p, n, MSG_NOSIGNAL)) < 0 && errno == EINTR)
      ;
    if (r < 0)
      return smtpc_session_mem_error(s, SMTPC_ERR_IO), -1;
    return smtpc_session_mem_sent(s, (size_t)r), 0;
  }
  if (!smtpc_session_want_read(s))
    return 0; /* no STARTTLS here: the session is not set up for it */
  pfd.fd = fd;
  pfd.events = POLLIN;
  if (poll(&pfd, 1, (int)smtpc_session_current_timeout(s)) == 0)
    return smtpc_session_mem_error(s, SMTPC_ERR_TIMEOUT), -1;
  while ((r = recv(fd, buf, sizeof buf, 0)) < 0 && errno == EINTR)
    ;
  if (r < 0)
    return smtpc_session_mem_error(s, SMTPC_ERR_IO), -1;
  if (r == 0)
    return smtpc_session_mem_error(s, SMTPC_ERR_EOF), 0;
  return smtpc_session_mem_recv(s, buf, (size_t)r) == SMTPC_OK ? 0 : -1;
}

/* Calls op until it no longer waits for the transport (bounded). */
#define RUN(rc, op)                                                            \
  do {                                                                         \
    int spins_ = 0;                                                            \
    while (((rc) = (op)) == SMTPC_ERR_WANT_READ ||                             \
           (rc) == SMTPC_ERR_WANT_WRITE) {                                     \
      if (++spins_ > 100000 || move_bytes(s, fd) != 0) {                       \
        (rc) = (op); /* the session now reports the failure */                 \
        break;                                                                 \
      }                                                                        \
    }                                                                          \
  } while (0)

int main(int argc, char **argv) {
  smtpc_session *s = NULL;
  smtpc_txn *t = NULL;
  smtpc_body body;
  const char *rcpt;
  char msg[1024];
  int fd, rc;

  if (argc != 5) {
    fprintf(stderr, "usage: memory_mode HOST PORT FROM TO\n");
    return 2;
  }
  rcpt = argv[4];
  snprintf(msg, sizeof msg,
           "From: <%s>\r\nTo: <%s>\r\nSubject: memory_mode"
           "\r\n\r\nSent by a session without smtpc_io.\r\n",
           argv[3], argv[4]);
  smtpc_body_init_memory(&body, msg, strlen(msg));
  if ((fd = tcp_connect(argv[1], argv[2])) < 0) {
    fprintf(stderr, "memory_mode: cannot connect to %s:%s\n", argv[1], argv[2]);
    return 1;
  }
  if ((rc = smtpc_session_new(&s, NULL)) == SMTPC_OK &&
      (rc = smtpc_session_set_memory_mode(s, 0)) == SMTPC_OK) {
    RUN(rc, smtpc_session_open(s));
    if (rc == SMTPC_OK)
      rc = smtpc_session_queue(s, argv[3], &rcpt, 1, &body, &t);
    if (rc == SMTPC_OK)
      RUN(rc, smtpc_session_run(s));
    if (rc == SMTPC_OK)
      rc = smtpc_txn_status(t);
  }
  if (rc == SMTPC_OK)
    printf("memory_mode: accepted: %s\n", smtpc_txn_queue_id(t));
  else
    fprintf(stderr, "memory_mode: %s\n", smtpc_strerror(rc));
  if (s != NULL && !smtpc_error_is_fatal(rc)) {
    int q;
    RUN(q, smtpc_session_quit(s));
    (void)q;
  }
  close(fd);
  smtpc_txn_free(t);
  smtpc_session_free(s);
  return rc == SMTPC_OK ? 0 : 1;
}
