/* SPDX-License-Identifier: MIT */
/* POSIX defaults for the platform hooks the core needs (see smtpc_int.h).
 * No sockets and no resolver here: this file must not block on the network,
 * because smtpc_session_open() may call smtpc_default_ehlo_name() from an
 * event loop.  The resolver-based fallback lives in io_socket.c. */
#include "session_int.h"

#include "domain.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

/* 1 if name is a dotted host name fit for EHLO: letters, digits, '-' and
 * '.', no empty label (so no trailing dot: a root label has no place in
 * EHLO), at least one dot, and not "localhost" or "localhost.<anything>". */
int smtpc__platform_name_ok(const char *name) {
  return name != NULL &&
         smtpc__check_domain(name, strlen(name),
                             SMTPC__DOM_HOSTNAME | SMTPC__DOM_FQDN);
}

int smtpc__platform_fqdn(char *buf, size_t len) {
  char host[256];
  size_t n;
  if (buf == NULL || len == 0)
    return SMTPC_ERR_INVALID_ARGUMENT;
  buf[0] = '\0';
  if (gethostname(host, sizeof host) != 0)
    return SMTPC_OK;
  host[sizeof host - 1] = '\0'; /* truncation is unspecified by POSIX */
  if (!smtpc__platform_name_ok(host))
    return SMTPC_OK;
  n = strlen(host);
  if (n >= len)
    return SMTPC_ERR_INVALID_ARGUMENT;
  memcpy(buf, host, n + 1);
  return SMTPC_OK;
}

int smtpc_default_ehlo_name(char *buf, size_t len) {
  static const char literal[] = "[127.0.0.1]";
  int rc;
  if (buf == NULL || len == 0)
    return SMTPC_ERR_INVALID_ARGUMENT;
  rc = smtpc__platform_fqdn(buf, len);
  if (rc != SMTPC_OK || buf[0] != '\0')
    return rc;
  if (len < sizeof literal) {
    buf[0] = '\0';
    return SMTPC_ERR_INVALID_ARGUMENT;
  }
  memcpy(buf, literal, sizeof literal);
  return SMTPC_OK;
}

int64_t smtpc__mono_ms(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
    return 0;
  return (int64_t)ts.tv_sec * 1000 + (int64_t)(ts.tv_nsec / 1000000);
}

/* The host's IDNA: libidn2 when built in (else smtpc_idna_to_ascii() says
 * "not supported" and such an address fails with a clear error). */
void smtpc__platform_idna(smtpc_idna_cb *cb, const smtpc__idna_ops **ops) {
  *cb = smtpc_idna_to_ascii;
  *ops = &smtpc__session_idna;
}
