/* SPDX-License-Identifier: MIT */
/* custom_io.c -- libsmtpc over the program's own transport: its own TCP code
 * and smtpc_io callbacks it writes itself, counting bytes on the way (the
 * same shape fits a serial line, another TLS stack or a test double).
 *
 *   custom_io HOST PORT FROM TO */
#define _POSIX_C_SOURCE 200809L
#include <smtpc/smtpc.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct conn {
  int fd;
  size_t sent, received;
} conn;

/* A send()/recv() result in the smtpc_io convention: bytes or an error. */
static smtpc_ssize result(ssize_t n, size_t *count) {
  if (n < 0) /* EAGAIN: SO_SNDTIMEO / SO_RCVTIMEO expired */
    return errno == EAGAIN || errno == EWOULDBLOCK ? SMTPC_ERR_TIMEOUT
                                                   : SMTPC_ERR_IO;
  *count += (size_t)n;
  return n; /* a recv() of 0: the server closed the connection */
}

static smtpc_ssize conn_send(void *ctx, const unsigned char *buf, size_t len) {
  conn *c = ctx;
  ssize_t n;
  while ((n = send(c->fd, buf, len, MSG_NOSIGNAL)) < 0 && errno == EINTR)
    ;
  return result(n, &c->sent);
}

static smtpc_ssize conn_recv(void *ctx, unsigned char *buf, size_t len) {
  conn *c = ctx;
  ssize_t n;
  while ((n = recv(c->fd, buf, len, 0)) < 0 && errno == EINTR)
    ;
  return result(n, &c->received);
}

/* The session arms a deadline before each wait (0 = none); this simple
 * transport applies it to each read and write. */
static void conn_set_timeout(void *ctx, unsigned ms) {
  struct timeval tv;
  tv.tv_sec = (time_t)(ms / 1000);
  tv.tv_usec = (suseconds_t)(ms % 1000 * 1000);
  setsockopt(((conn *)ctx)->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(((conn *)ctx)->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

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

int main(int argc, char **argv) {
  conn c = {-1, 0, 0};
  smtpc_io io = {0};
  smtpc_session *s = NULL;
  smtpc_txn *t = NULL;
  smtpc_body body;
  const char *rcpt;
  char msg[1024];
  int rc = SMTPC_ERR_CONNECT;

  if (argc != 5) {
    fprintf(stderr, "usage: custom_io HOST PORT FROM TO\n");
    return 2;
  }
  rcpt = argv[4];
  snprintf(msg, sizeof msg,
           "From: <%s>\r\nTo: <%s>\r\nSubject: custom_io\r\n"
           "\r\nSent over the program's own transport.\r\n",
           argv[3], argv[4]);
  smtpc_body_init_memory(&body, msg, strlen(msg));
  io.version = SMTPC_IO_VERSION;
  io.ctx = &c;
  io.send = conn_send;               /* required */
  io.recv = conn_recv;               /* required */
  io.set_timeout = conn_set_timeout; /* optional, like starttls and close */
  if ((c.fd = tcp_connect(argv[1], argv[2])) < 0 ||
      (rc = smtpc_session_new(&s, NULL)) != SMTPC_OK ||
      (rc = smtpc_session_set_io(s, &io)) != SMTPC_OK ||
      (rc = smtpc_session_open(s)) != SMTPC_OK ||
      (rc = smtpc_session_queue(s, argv[3], &rcpt, 1, &body, &t)) != SMTPC_OK ||
      (rc = smtpc_session_run(s)) != SMTPC_OK ||
      (rc = smtpc_txn_status(t)) != SMTPC_OK)
    fprintf(stderr, "custom_io: %s\n", smtpc_strerror(rc));
  if (s != NULL && !smtpc_error_is_fatal(rc))
    (void)smtpc_session_quit(s);
  if (c.fd >= 0)
    close(c.fd);
  printf("custom_io: %zu bytes sent, %zu received\n", c.sent, c.received);
  smtpc_txn_free(t);
  smtpc_session_free(s);
  return rc == SMTPC_OK ? 0 : 1;
}
