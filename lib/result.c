/* SPDX-License-Identifier: MIT */
/* The result object of the one-call API and the pool (smtpc_result): what
 * happened, where, in one line for the logs, with the deciding reply and
 * the transaction; and the retry classification of results, transactions
 * and bare status codes.  client.c, client_mail.c and pool.c fill results
 * in through smtpc__result_set(); nothing here calls back into them. */
#include "result_int.h"

#include <stdarg.h>
#include <stdio.h>

/* ---- the result object --------------------------------------------------- */

smtpc_result *smtpc__result_new(const smtpc_mem *mem) {
  smtpc_mem m;
  smtpc_result *r;
  int rc;
  r = smtpc__new_object(&m, mem, sizeof(*r), &rc);
  if (r == NULL)
    return NULL;
  r->mem = m;
  r->status = SMTPC_ERR_INTERNAL;
  r->stage = SMTPC_STAGE_SETUP;
  return r;
}

void smtpc__result_set(smtpc_result *r, int status, smtpc_stage stage,
                       const char *fmt, ...) {
  va_list ap;
  size_t i;
  r->status = status;
  r->stage = stage;
  r->described = 1;
  va_start(ap, fmt);
  vsnprintf(r->message, sizeof(r->message), fmt, ap);
  va_end(ap);
  /* one printable line, whatever a server or a caller put in it */
  for (i = 0; r->message[i] != '\0'; i++)
    if ((unsigned char)r->message[i] < 32 || r->message[i] == 127)
      r->message[i] = ' ';
}

int smtpc__result_finish(smtpc_result *r, smtpc_result **out) {
  int st = r->status;
  if (out != NULL)
    *out = r;
  else
    smtpc_result_free(r);
  return st;
}

void smtpc__result_keep_reply(smtpc_result *r, const smtpc_reply *rep) {
  smtpc__reply_free(&r->mem, r->reply);
  r->reply =
      rep != NULL ? smtpc__reply_ref((smtpc_reply *)(uintptr_t)rep) : NULL;
}

void smtpc_result_free(smtpc_result *r) {
  if (r == NULL)
    return;
  smtpc__reply_free(&r->mem, r->reply);
  smtpc_txn_free(r->txn);
  smtpc__free(&r->mem, r);
}

int smtpc_result_status(const smtpc_result *r) {
  return r != NULL ? r->status : SMTPC_ERR_INVALID_ARGUMENT;
}

smtpc_stage smtpc_result_stage(const smtpc_result *r) {
  return r != NULL ? r->stage : SMTPC_STAGE_SETUP;
}

const char *smtpc_result_message(const smtpc_result *r) {
  return r != NULL ? r->message : "";
}

const smtpc_reply *smtpc_result_reply(const smtpc_result *r) {
  return r != NULL ? r->reply : NULL;
}

const smtpc_txn *smtpc_result_txn(const smtpc_result *r) {
  return r != NULL ? r->txn : NULL;
}

smtpc_tls_verify smtpc_result_tls_verify(const smtpc_result *r) {
  return r != NULL ? r->verify : SMTPC_TLS_VERIFY_OK;
}

unsigned smtpc_result_attempts(const smtpc_result *r) {
  return r != NULL ? r->attempts : 0;
}

const char *smtpc_stage_name(smtpc_stage stage) {
  static const char *const names[] = {
      "setup", "pool",     "resolve", "connect", "TLS", "greeting",
      "EHLO",  "STARTTLS", "AUTH",    "send",    "done"};
  if ((unsigned)stage >= sizeof(names) / sizeof(names[0]))
    return "unknown";
  return names[stage];
}

const char *smtpc_retry_name(smtpc_retry retry) {
  switch (retry) {
  case SMTPC_RETRY_NONE: return "none";
  case SMTPC_RETRY_TRANSIENT: return "transient";
  case SMTPC_RETRY_PERMANENT: return "permanent";
  case SMTPC_RETRY_UNKNOWN: return "unknown";
  }
  return "unknown";
}

/* ---- retry classification ------------------------------------------------ */

smtpc_retry smtpc_retry_classify(int status, smtpc_step step,
                                 const smtpc_reply *reply) {
  int code = reply != NULL ? smtpc_reply_code(reply) : 0;
  if (status == SMTPC_OK || status == SMTPC_ERR_PARTIAL)
    return SMTPC_RETRY_NONE;
  /* A reply is the server's own verdict (RFC 5321 4.2.1): 4yz transient,
   * 5yz permanent -- even when it ends the connection (421). */
  if (code >= 400 && code < 500)
    return SMTPC_RETRY_TRANSIENT;
  if (code >= 500 && code < 600)
    return SMTPC_RETRY_PERMANENT;
  switch (status) {
  case SMTPC_ERR_REPLY_PERMANENT:
  case SMTPC_ERR_GREETING_REFUSED:
  case SMTPC_ERR_BAD_ADDRESS:
  case SMTPC_ERR_BAD_ARGUMENT:
  case SMTPC_ERR_INVALID_ARGUMENT:
  case SMTPC_ERR_INVALID_STATE:
  case SMTPC_ERR_8BIT_UNSUPPORTED:
  case SMTPC_ERR_SMTPUTF8_UNSUPPORTED:
  case SMTPC_ERR_IDNA_UNAVAILABLE:
  case SMTPC_ERR_DSN_UNSUPPORTED:
  case SMTPC_ERR_REQUIRETLS_UNAVAILABLE:
  case SMTPC_ERR_RCPT_LIMIT:
  case SMTPC_ERR_DKIM_KEY:
  case SMTPC_ERR_DKIM_SOURCE:
  case SMTPC_ERR_DKIM_HEADER:
  case SMTPC_ERR_BINARYMIME_UNSUPPORTED:
  case SMTPC_ERR_MESSAGE_TOO_BIG:
  case SMTPC_ERR_BODY_LINE_TOO_LONG:
  case SMTPC_ERR_NOT_SUPPORTED:
  case SMTPC_ERR_EXTENSION_UNSUPPORTED:
  case SMTPC_ERR_STARTTLS_UNAVAILABLE:
  case SMTPC_ERR_AUTH_FAILED:
  case SMTPC_ERR_AUTH_INSECURE:
  case SMTPC_ERR_AUTH_UNSUPPORTED:
  case SMTPC_ERR_CERTIFICATE: return SMTPC_RETRY_PERMANENT;
  case SMTPC_ERR_REPLY_TEMPORARY:
  case SMTPC_ERR_MAIL_LIMIT: return SMTPC_RETRY_TRANSIENT;
  default:
    /* The connection (or the library) failed without a verdict.  Once the
     * end of data is out, the server may have taken the message
     * (RFC 5321 4.1.1.4, 6.1): only the caller can decide to risk a
     * duplicate. */
    return step == SMTPC_STEP_DATA_END ? SMTPC_RETRY_UNKNOWN
                                       : SMTPC_RETRY_TRANSIENT;
  }
}

smtpc_retry smtpc_txn_retry(const smtpc_txn *t) {
  int st = smtpc_txn_status(t);
  size_t i, n;
  if (!smtpc_txn_is_complete(t))
    return SMTPC_RETRY_TRANSIENT;
  if (st == SMTPC_ERR_NO_RECIPIENTS) {
    n = smtpc_txn_rcpt_count(t);
    for (i = 0; i < n; i++)
      if (smtpc_reply_code(smtpc_txn_rcpt_reply(t, i)) / 100 != 5)
        return SMTPC_RETRY_TRANSIENT;
    return SMTPC_RETRY_PERMANENT;
  }
  return smtpc_retry_classify(st, smtpc_txn_step(t), smtpc_txn_reply(t));
}

smtpc_retry smtpc_txn_rcpt_retry(const smtpc_txn *t, size_t i) {
  const smtpc_reply *rr = smtpc_txn_rcpt_reply(t, i);
  int code = smtpc_reply_code(rr), st = smtpc_txn_status(t);
  if (code >= 400 && code < 600) /* this recipient was refused */
    return code < 500 ? SMTPC_RETRY_TRANSIENT : SMTPC_RETRY_PERMANENT;
  if (code / 100 == 2 && (st == SMTPC_OK || st == SMTPC_ERR_PARTIAL))
    return SMTPC_RETRY_NONE;
  if (rr == NULL && st == SMTPC_ERR_PARTIAL)
    return SMTPC_RETRY_TRANSIENT; /* not reached (LIMITS, a lost link) */
  return smtpc_txn_retry(t);
}

smtpc_retry smtpc_result_retry(const smtpc_result *r) {
  if (r == NULL)
    return SMTPC_RETRY_PERMANENT;
  if (r->txn != NULL)
    return smtpc_txn_retry(r->txn);
  return smtpc_retry_classify(r->status, SMTPC_STEP_NONE, r->reply);
}
