/* SPDX-License-Identifier: MIT */
/* The result object (result.c): the outcome of a one-call operation or a
 * pool send, filled in by client.c, client_mail.c and pool.c. */
#ifndef SMTPC_RESULT_INT_H
#define SMTPC_RESULT_INT_H

#include "smtpc_int.h"

struct smtpc_result {
  smtpc_mem mem;
  int status; /* SMTPC_ERR_INTERNAL until the first result_set */
  smtpc_stage stage;
  int described; /* smtpc__result_set() has been called */
  smtpc_tls_verify verify;
  unsigned attempts;
  smtpc_reply *reply; /* a reference, or NULL */
  smtpc_txn *txn;     /* owned, or NULL */
  char message[400];
};

smtpc_result *smtpc__result_new(const smtpc_mem *mem);
/* Sets status, stage and the message (printf-style), and marks the result
 * described. */
void smtpc__result_set(smtpc_result *r, int status, smtpc_stage stage,
                       const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* Keeps a reference to rep (or none, with NULL) as the deciding reply. */
void smtpc__result_keep_reply(smtpc_result *r, const smtpc_reply *rep);
/* Hands the result to the caller or frees it; returns its status. */
int smtpc__result_finish(smtpc_result *r, smtpc_result **out);

#endif /* SMTPC_RESULT_INT_H */
