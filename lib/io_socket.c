/* SPDX-License-Identifier: MIT */
/* The built-in plain TCP transport (include/smtpc/socket.h).
 *
 * This is the only core-adjacent file that touches sockets.  Sockets are
 * always O_NONBLOCK; "blocking" mode is emulated with poll() bounded by the
 * deadline that the session arms through smtpc_io::set_timeout, so a stalled
 * or dripping server can never hold the caller past that deadline. */
#include "smtpc_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Upper bound on consecutive EINTR / spurious wake-ups in one wait.  A wait
 * with a deadline is also bounded by time; this bounds a wait without one. */
#define SMTPC__MAX_WAKEUPS 10000

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* BSD, macOS: SO_NOSIGPIPE is set instead */
#endif

struct smtpc_socket {
  smtpc_mem mem;
  int fd;               /* -1 when not connected */
  int blocking;         /* wait in send/recv with poll() */
  int last_errno;       /* last OS error, for messages */
  char resolve_err[96]; /* why the last connect's lookup failed, or "" */
  int armed;            /* a deadline is set */
  int64_t deadline;     /* CLOCK_MONOTONIC milliseconds */
  int sent_last;        /* the last transfer was a send */
};

/* poll() timeout for a deadline: -1 for none, 0 when it has passed. */
static int poll_timeout(int armed, int64_t deadline) {
  int64_t left;
  if (!armed)
    return -1;
  left = deadline - smtpc__mono_ms();
  if (left <= 0)
    return 0;
  return left > INT_MAX ? INT_MAX : (int)left;
}

/* Waits until fd is ready for events or the deadline passes.
 * Returns 1 ready, 0 timed out, -1 on error (errno set). */
static int wait_fd(int fd, short events, int armed, int64_t deadline) {
  int i;
  for (i = 0; i < SMTPC__MAX_WAKEUPS; i++) {
    struct pollfd p;
    int n, t = poll_timeout(armed, deadline);
    if (armed && t == 0)
      return 0;
    p.fd = fd;
    p.events = events;
    p.revents = 0;
    n = poll(&p, 1, t);
    if (n > 0)
      return 1; /* readable, writable, or POLLERR/POLLHUP: the caller finds out */
    if (n < 0 && errno != EINTR)
      return -1;
  }
  errno = EINTR;
  return -1;
}

/* ---- lifecycle ----------------------------------------------------------- */

int smtpc_socket_new(smtpc_socket **out, const smtpc_mem *mem) {
  smtpc_mem m;
  smtpc_socket *s;
  int rc;
  if (out == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  s = smtpc__new_object(&m, mem, sizeof *s, &rc);
  if (s == NULL)
    return rc;
  s->mem = m;
  s->fd = -1;
  s->blocking = 1;
  *out = s;
  return SMTPC_OK;
}

static void sock_close(smtpc_socket *s) {
  if (s->fd >= 0) {
    /* No retry on EINTR: on Linux the descriptor is released anyway. */
    (void)close(s->fd);
    s->fd = -1;
  }
  s->armed = 0;
}

void smtpc_socket_free(smtpc_socket *sock) {
  smtpc_mem m;
  if (sock == NULL)
    return;
  sock_close(sock);
  m = sock->mem;
  smtpc__free(&m, sock);
}

void smtpc_socket_set_blocking(smtpc_socket *sock, int blocking) {
  if (sock != NULL)
    sock->blocking = blocking != 0;
}

int smtpc_socket_fd(const smtpc_socket *sock) {
  return sock == NULL ? -1 : sock->fd;
}

int smtpc_socket_last_errno(const smtpc_socket *sock) {
  return sock == NULL ? 0 : sock->last_errno;
}

const char *smtpc_socket_resolve_error(const smtpc_socket *sock) {
  return sock == NULL ? "" : sock->resolve_err;
}

/* ---- connect ------------------------------------------------------------- */

static int set_fd_flags(int fd) {
  int on = 1;
  int fl = fcntl(fd, F_GETFD);
  if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
    return -1;
  fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return -1;
#ifdef SO_NOSIGPIPE
  (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on);
#endif
  /* Best effort: commands are small and latency-bound. */
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  return 0;
}

/* Connects to one address.  Returns SMTPC_OK with *fdp set,
 * SMTPC_ERR_TIMEOUT, or SMTPC_ERR_CONNECT (errno in *err). */
static int connect_one(const struct addrinfo *ai, unsigned timeout_ms, int *fdp,
                       int *err) {
  int fd, w, soerr = 0;
  socklen_t len = sizeof soerr;
  int64_t deadline = smtpc__mono_ms() + (int64_t)timeout_ms;

#if defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
  /* Atomic where available: no window for a concurrent fork+exec. */
  fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
              ai->ai_protocol);
#else
  fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
#endif
  if (fd < 0) {
    *err = errno;
    return SMTPC_ERR_CONNECT;
  }
  if (set_fd_flags(fd) != 0)
    goto fail;
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
    goto done;
  if (errno != EINPROGRESS && errno != EINTR)
    goto fail;
  w = wait_fd(fd, POLLOUT, timeout_ms != 0, deadline);
  if (w == 0) {
    (void)close(fd);
    *err = ETIMEDOUT;
    return SMTPC_ERR_TIMEOUT;
  }
  if (w < 0)
    goto fail;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
    goto fail;
  if (soerr != 0) {
    errno = soerr;
    goto fail;
  }
done:
  *fdp = fd;
  return SMTPC_OK;
fail:
  *err = errno;
  (void)close(fd);
  return SMTPC_ERR_CONNECT;
}

int smtpc_socket_connect(smtpc_socket *sock, const char *host, const char *port,
                         unsigned timeout_ms) {
  struct addrinfo hints, *res = NULL, *ai;
  int rc, result = SMTPC_ERR_CONNECT, all_timeouts = 1, n = 0;

  if (sock == NULL || host == NULL || port == NULL || *host == '\0' ||
      *port == '\0')
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (sock->fd >= 0)
    return SMTPC_ERR_INVALID_STATE;
  sock->last_errno = 0;
  sock->resolve_err[0] = '\0';
  sock->armed = 0;

  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  rc = getaddrinfo(host, port, &hints, &res);
  if (rc == EAI_SERVICE)
    return SMTPC_ERR_INVALID_ARGUMENT; /* port is not a known service */
  if (rc != 0) {
    /* The resolver's reason tells a name that does not exist (EAI_NONAME)
     * from a lookup that could not be made now (EAI_AGAIN): worth keeping. */
    sock->last_errno = rc == EAI_SYSTEM ? errno : 0;
    (void)snprintf(sock->resolve_err, sizeof sock->resolve_err, "%s",
                   rc == EAI_SYSTEM ? strerror(sock->last_errno)
                                    : gai_strerror(rc));
    return SMTPC_ERR_RESOLVE;
  }
  /* The list is finite; each address costs at most timeout_ms. */
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    int fd = -1, err = 0;
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
      continue;
    n++;
    rc = connect_one(ai, timeout_ms, &fd, &err);
    if (rc == SMTPC_OK) {
      sock->fd = fd;
      sock->last_errno = 0;
      result = SMTPC_OK;
      break;
    }
    if (rc != SMTPC_ERR_TIMEOUT)
      all_timeouts = 0;
    sock->last_errno = err;
  }
  freeaddrinfo(res);
  if (result != SMTPC_OK && n > 0 && all_timeouts)
    result = SMTPC_ERR_TIMEOUT;
  if (n == 0) {
    result = SMTPC_ERR_RESOLVE;
    (void)snprintf(sock->resolve_err, sizeof sock->resolve_err,
                   "no IPv4 or IPv6 address");
  }
  return result;
}

/* ---- I/O callbacks ------------------------------------------------------- */

static int is_would_block(int e) { return e == EAGAIN || e == EWOULDBLOCK; }

/* Shared by send and recv: returns >= 0 (bytes), or an smtpc error. */
static smtpc_ssize sock_xfer(smtpc_socket *s, unsigned char *rbuf,
                             const unsigned char *wbuf, size_t len) {
  static const int one = 1;
  int i;
  short ev = rbuf != NULL ? POLLIN : POLLOUT;
  int want = rbuf != NULL ? SMTPC_ERR_WANT_READ : SMTPC_ERR_WANT_WRITE;

  if (s->fd < 0) {
    s->last_errno = EBADF;
    return SMTPC_ERR_IO;
  }
  if ((size_t)PTRDIFF_MAX < len)
    len = (size_t)PTRDIFF_MAX;
  /* Right after a send the reply is almost never there yet: in blocking
   * mode wait first instead of paying for a recv that says EAGAIN (one
   * syscall less per round trip: send, poll, recv). */
  if (rbuf != NULL && s->blocking && s->sent_last) {
    int w = wait_fd(s->fd, POLLIN, s->armed, s->deadline);
    if (w == 0)
      return SMTPC_ERR_TIMEOUT;
    if (w < 0) {
      s->last_errno = errno;
      return SMTPC_ERR_IO;
    }
  }
  s->sent_last = rbuf == NULL;
  for (i = 0; i < SMTPC__MAX_WAKEUPS; i++) {
    ssize_t n;
    int w;
    /* Strict deadline: once it passed, no more bytes are taken, so a server
     * dripping one byte at a time cannot stretch the wait. */
    if (s->armed && s->deadline - smtpc__mono_ms() <= 0)
      return SMTPC_ERR_TIMEOUT;
    if (rbuf != NULL)
      n = recv(s->fd, rbuf, len, 0);
    else
      n = send(s->fd, wbuf, len, MSG_NOSIGNAL);
    if (n >= 0)
      return (smtpc_ssize)n;
    if (errno == EINTR)
      continue;
    if (!is_would_block(errno)) {
      s->last_errno = errno;
      return SMTPC_ERR_IO;
    }
#ifdef TCP_QUICKACK
    if (rbuf != NULL)
      /* About to wait for the rest of the replies with nothing to send:
       * acknowledge what was read now.  A server that holds more replies
       * (Nagle) waits for this ACK, which would otherwise be delayed by up
       * to 40 ms -- once per flight of several pipelined messages
       * (Postfix: 190 instead of 360 msgs/s). */
      (void)setsockopt(s->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#endif
    if (!s->blocking)
      return want;
    w = wait_fd(s->fd, ev, s->armed, s->deadline);
    if (w == 0)
      return SMTPC_ERR_TIMEOUT;
    if (w < 0) {
      s->last_errno = errno;
      return SMTPC_ERR_IO;
    }
  }
  s->last_errno = EINTR;
  return SMTPC_ERR_IO;
}

static smtpc_ssize io_send(void *ctx, const unsigned char *buf, size_t len) {
  if (len == 0)
    return 0;
  return sock_xfer(ctx, NULL, buf, len);
}

static smtpc_ssize io_recv(void *ctx, unsigned char *buf, size_t len) {
  if (len == 0) /* 0 would read as end of stream */
    return SMTPC_ERR_INVALID_ARGUMENT;
  return sock_xfer(ctx, buf, NULL, len);
}

static void io_set_timeout(void *ctx, unsigned timeout_ms) {
  smtpc_socket *s = ctx;
  s->armed = timeout_ms != 0;
  s->deadline = smtpc__mono_ms() + (int64_t)timeout_ms;
}

static void io_close(void *ctx) { sock_close(ctx); }

void smtpc_socket_io(smtpc_socket *sock, smtpc_io *io) {
  if (io == NULL)
    return;
  memset(io, 0, sizeof *io);
  io->version = SMTPC_IO_VERSION;
  io->ctx = sock;
  io->send = io_send;
  io->recv = io_recv;
  io->starttls = NULL; /* TLS is provided by the mbedTLS adapter */
  io->set_timeout = io_set_timeout;
  io->close = io_close;
}

/* ---- EHLO name ----------------------------------------------------------- */

/* The canonical name of this host if the resolver knows a dotted one. */
static void canon_name(char *buf, size_t len) {
  char host[256];
  struct addrinfo hints, *res = NULL;
  buf[0] = '\0';
  if (gethostname(host, sizeof host) != 0)
    return;
  host[sizeof host - 1] = '\0';
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_CANONNAME;
  if (getaddrinfo(host, NULL, &hints, &res) != 0)
    return;
  if (res != NULL && res->ai_canonname != NULL &&
      smtpc__platform_name_ok(res->ai_canonname) &&
      strlen(res->ai_canonname) < len)
    memcpy(buf, res->ai_canonname, strlen(res->ai_canonname) + 1);
  freeaddrinfo(res);
}

int smtpc_socket_ehlo_name(const smtpc_socket *sock, char *buf, size_t len) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  char addr[INET6_ADDRSTRLEN];
  const char *pre = "[", *post = "]";
  int rc, n;

  if (sock == NULL || buf == NULL || len == 0)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (sock->fd < 0)
    return SMTPC_ERR_INVALID_STATE;
  rc = smtpc__platform_fqdn(buf, len);
  if (rc != SMTPC_OK)
    return rc;
  if (buf[0] == '\0')
    canon_name(buf, len);
  if (buf[0] != '\0')
    return SMTPC_OK;

  memset(&ss, 0, sizeof ss);
  if (getsockname(sock->fd, (struct sockaddr *)&ss, &sl) != 0)
    return SMTPC_ERR_INVALID_STATE;
  if (ss.ss_family == AF_INET) {
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)&ss;
    if (inet_ntop(AF_INET, &in4->sin_addr, addr, sizeof addr) == NULL)
      return SMTPC_ERR_INTERNAL;
  } else if (ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      if (inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], addr, sizeof addr) ==
          NULL)
        return SMTPC_ERR_INTERNAL;
    } else {
      if (inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof addr) == NULL)
        return SMTPC_ERR_INTERNAL;
      pre = "[IPv6:"; /* RFC 5321 section 4.1.3 */
    }
  } else {
    return SMTPC_ERR_INVALID_STATE;
  }
  n = snprintf(buf, len, "%s%s%s", pre, addr, post);
  if (n < 0 || (size_t)n >= len) {
    buf[0] = '\0';
    return SMTPC_ERR_INVALID_ARGUMENT;
  }
  return SMTPC_OK;
}
