/* SPDX-License-Identifier: MIT */
/* Internals shared by the one-call API (client.c, client_mail.c) and the
 * pool (pool.c).  Dependencies run one way: pool.c uses client.c's
 * connections, both build messages with client_mail.c, and all three fill
 * in the result object (result.c, result_int.h). */
#ifndef SMTPC_CLIENT_INT_H
#define SMTPC_CLIENT_INT_H

#include "result_int.h"

/* One connection: the socket, the TLS layer over it and the session. */
typedef struct smtpc__conn {
  smtpc_socket *sock;
  smtpc_tls *tls;
  smtpc_session *s;
  int64_t last_used_ms; /* monotonic; set by the pool */
  unsigned messages;    /* transactions sent on it */
  unsigned timeout_ms;  /* smtpc_client_config::timeout_ms, for messages */
  int broken;           /* the session failed after the last send's outcome
                           was settled (e.g. an out-of-sequence 354): never
                           reuse it, whatever that outcome was */
  int dsn_asked;        /* the message being sent asked for DSN */
  struct smtpc__conn *next;
} smtpc__conn;

/* Opens c (connect, TLS, greeting, EHLO, STARTTLS, AUTH); on failure
 * records why in r, frees what was made and returns the error. */
int smtpc__conn_open(smtpc__conn *c, const smtpc_client_config *cfg,
                     smtpc_result *r);
/* Sends one transaction of msg on the open connection; the outcome (and
 * the transaction) goes to r, replacing an earlier attempt's. */
int smtpc__conn_send(smtpc__conn *c, smtpc_msg *msg, smtpc_result *r);
/* QUIT (if the connection is still in sync and quit is set), then frees
 * everything and zeroes c. */
void smtpc__conn_close(smtpc__conn *c, int quit);

/* Builds a message from a smtpc_mail; on failure records why in r. */
int smtpc__mail_build(const smtpc_mail *mail, const smtpc_mem *mem,
                      smtpc_msg **out, smtpc_result *r);

#endif /* SMTPC_CLIENT_INT_H */
