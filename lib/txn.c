/* SPDX-License-Identifier: MIT */
/* The transaction object: one message's envelope, the replies it got and
 * its outcome, readable by the caller after the session has moved on (or
 * been freed).  The engine (session.c) drives it; this file makes it, keeps
 * its replies and answers the accessors. */
#include "session_int.h"

#include <string.h>

/* A transaction is one allocation: the struct, the reply and address
 * pointer arrays, then the addresses themselves (checked by the caller: each
 * at most 255 octets).  NULL with *rv set when it cannot be made. */
smtpc_txn *smtpc__txn_new(const smtpc_mem *m, const char *from,
                          const char *const *rcpts, size_t nrcpts, int *rv) {
  size_t total = sizeof(smtpc_txn), len, i;
  smtpc_txn *t;
  char *p;
  *rv = SMTPC_ERR_INVALID_ARGUMENT;
  if (nrcpts > (SIZE_MAX - total) / (2 * sizeof(void *)))
    return NULL;
  total += nrcpts * 2 * sizeof(void *);
  for (i = 0; i <= nrcpts; i++) {
    len = strlen(i == 0 ? from : rcpts[i - 1]) + 1;
    if (total > SIZE_MAX - len)
      return NULL;
    total += len;
  }
  *rv = SMTPC_ERR_NOMEM;
  if ((t = smtpc__malloc(m, total)) == NULL)
    return NULL;
  memset(t, 0, sizeof(*t));
  t->mem = *m;
  t->nrcpt = nrcpts;
  t->rreplies = (smtpc_reply **)(void *)(t + 1);
  t->rcpts = (char **)(void *)(t->rreplies + nrcpts);
  p = (char *)(t->rcpts + nrcpts);
  for (i = 0; i <= nrcpts; i++) {
    const char *src = i == 0 ? from : rcpts[i - 1];
    len = strlen(src) + 1;
    memcpy(p, src, len);
    if (i == 0)
      t->from = p;
    else {
      t->rcpts[i - 1] = p;
      t->rreplies[i - 1] = NULL;
    }
    p += len;
  }
  *rv = SMTPC_OK;
  return t;
}

/* A transaction is one allocation: the struct, the reply and address
 * pointer arrays, then the addresses themselves (see smtpc_session_queue). */
void smtpc__txn_destroy(smtpc_txn *t) {
  size_t i;
  const smtpc_mem *m = &t->mem;
  for (i = 0; i < t->nrcpt; i++) {
    smtpc__reply_free(m, t->rreplies[i]);
    if (t->orcpt != NULL)
      smtpc__free(m, t->orcpt[i]);
  }
  smtpc__txn_free_wire(t);
  smtpc__free(m, t->orcpt);
  smtpc__free(m, t->notify);
  smtpc__free(m, t->envid);
  smtpc__reply_free(m, t->final);
  smtpc__free(m, t->queue_id);
  smtpc__free(m, t);
}

void smtpc__txn_free_wire(smtpc_txn *t) {
  size_t i;
  if (t->wire_rcpts != NULL)
    for (i = 0; i < t->nrcpt; i++)
      smtpc__free(&t->mem, t->wire_rcpts[i]);
  smtpc__free(&t->mem, t->wire_rcpts);
  smtpc__free(&t->mem, t->wire_from);
  t->wire_rcpts = NULL;
  t->wire_from = NULL;
}

/* ---- DSN (RFC 3461) --------------------------------------------------------
 * Checked when set, so that bad input is an argument error before anything
 * is sent; encoded when RCPT is composed (the ORCPT form depends on whether
 * SMTPUTF8 is in use, RFC 6533 3). */

static int txn_settable(const smtpc_txn *t) {
  return t->phase == TP_QUEUED && t->s != NULL;
}

int smtpc_txn_set_dsn(smtpc_txn *t, smtpc_dsn_ret ret, const char *envid,
                      unsigned flags) {
  char *e = NULL;
  int rv;
  if (t == NULL || (unsigned)ret > SMTPC_DSN_RET_HDRS ||
      (flags & ~SMTPC_DSN_REQUIRED) != 0)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (!txn_settable(t))
    return SMTPC_ERR_INVALID_STATE;
  if (envid != NULL) {
    if ((rv = smtpc__check_envid(envid)) != SMTPC_OK)
      return rv;
    if ((e = smtpc__strdup(&t->mem, envid)) == NULL)
      return SMTPC_ERR_NOMEM;
  }
  smtpc__free(&t->mem, t->envid);
  t->envid = e;
  t->ret = ret;
  t->dsn_flags = flags;
  t->dsn_asked = 1;
  t->dsn = &smtpc__session_dsn;
  return SMTPC_OK;
}

int smtpc__check_notify(unsigned notify) {
  if ((notify & ~(SMTPC_NOTIFY_NEVER | SMTPC_NOTIFY_SUCCESS |
                  SMTPC_NOTIFY_FAILURE | SMTPC_NOTIFY_DELAY)) != 0 ||
      ((notify & SMTPC_NOTIFY_NEVER) && notify != SMTPC_NOTIFY_NEVER))
    return SMTPC_ERR_INVALID_ARGUMENT; /* NEVER stands alone (4.1) */
  return SMTPC_OK;
}

int smtpc_txn_set_notify(smtpc_txn *t, size_t i, unsigned notify,
                         const char *orcpt) {
  char enc[SMTPC__ORCPT_MAX + 1], *o = NULL;
  size_t k;
  int rv;
  if (t == NULL || (i >= t->nrcpt && i != SMTPC_ALL_RCPTS) ||
      (i == SMTPC_ALL_RCPTS && orcpt != NULL) ||
      smtpc__check_notify(notify) != SMTPC_OK)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (!txn_settable(t))
    return SMTPC_ERR_INVALID_STATE;
  if (orcpt != NULL) {
    /* the longer (utf-8-addr-xtext) form must fit, whatever the server */
    if ((rv = smtpc__check_mailbox(orcpt, 0)) != SMTPC_OK ||
        (rv = smtpc__orcpt_encode(enc, orcpt, 0)) != SMTPC_OK)
      return rv;
    if ((o = smtpc__strdup(&t->mem, orcpt)) == NULL)
      return SMTPC_ERR_NOMEM;
  }
  if (t->notify == NULL) {
    if ((t->notify = smtpc__malloc(&t->mem, t->nrcpt * sizeof(unsigned))) ==
        NULL) {
      smtpc__free(&t->mem, o);
      return SMTPC_ERR_NOMEM;
    }
    for (k = 0; k < t->nrcpt; k++)
      t->notify[k] = 0;
  }
  if (o != NULL && t->orcpt == NULL) {
    if ((t->orcpt = smtpc__malloc(&t->mem, t->nrcpt * sizeof(char *))) ==
        NULL) {
      smtpc__free(&t->mem, o);
      return SMTPC_ERR_NOMEM;
    }
    for (k = 0; k < t->nrcpt; k++)
      t->orcpt[k] = NULL;
  }
  if (notify != 0 || o != NULL) { /* else nothing is asked for */
    t->dsn_asked = 1;
    t->dsn = &smtpc__session_dsn;
  }
  for (k = 0; k < t->nrcpt; k++) {
    if (i != SMTPC_ALL_RCPTS && k != i)
      continue;
    t->notify[k] = notify;
    if (i != SMTPC_ALL_RCPTS && t->orcpt != NULL) {
      smtpc__free(&t->mem, t->orcpt[k]);
      t->orcpt[k] = o;
    }
  }
  return SMTPC_OK;
}

int smtpc_txn_dsn_sent(const smtpc_txn *t) { return t != NULL && t->dsn_sent; }

int smtpc_txn_smtputf8(const smtpc_txn *t) { return t != NULL && t->smtputf8; }

/* ---- REQUIRETLS (RFC 8689) ------------------------------------------------
 * Through a pointer like DSN: a program that never asks links none of it. */

int smtpc_txn_set_requiretls(smtpc_txn *t, int on) {
  if (t == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (!txn_settable(t))
    return SMTPC_ERR_INVALID_STATE;
#ifdef SMTPC_NO_REQUIRETLS
  return on ? SMTPC_ERR_NOT_SUPPORTED : SMTPC_OK;
#else
  t->rtls = on ? &smtpc__session_rtls : NULL;
  return SMTPC_OK;
#endif
}

int smtpc_txn_requiretls(const smtpc_txn *t) {
  return t != NULL && t->rtls_sent;
}

/* Keeps r as the transaction's final reply (a reference, not a copy). */
void smtpc__txn_set_final(smtpc_txn *t, smtpc_reply *r) {
  smtpc__reply_free(&t->mem, t->final);
  t->final = smtpc__reply_ref(r);
}

/* Finds a queue id in a final reply: Postfix "queued as ABC", Exim "id=X",
 * Sendmail "XYZ Message accepted", else none.  A message sent in several
 * rounds (LIMITS) keeps the last one named. */
int smtpc__txn_find_queue_id(smtpc_txn *t) {
  const char *txt = t->final ? t->final->text : "", *p;
  size_t n;
  if ((p = strstr(txt, "queued as ")) != NULL) {
    p += 10;
    n = strcspn(p, " \n;,)");
  } else if ((p = strstr(txt, "id=")) != NULL) {
    p += 3;
    n = strcspn(p, " \n;,)");
  } else if ((p = strstr(txt, " Message accepted")) != NULL) {
    const char *q = p;
    while (q > txt && q[-1] != ' ' && q[-1] != '\n')
      q--;
    n = (size_t)(p - q);
    p = q;
  } else {
    return SMTPC_OK;
  }
  if (n == 0)
    return SMTPC_OK;
  smtpc__free(&t->mem, t->queue_id);
  t->queue_id = smtpc__strndup(&t->mem, p, n);
  return t->queue_id ? SMTPC_OK : SMTPC_ERR_NOMEM;
}

/* Keeps the reply to RCPT idx, bounded (see smtpc_txn_rcpt_reply()): a
 * hostile server could otherwise make every recipient cost a 64 KiB reply
 * (twice: raw lines and text). */
int smtpc__txn_keep_rcpt_reply(smtpc_txn *t, size_t idx, smtpc_reply *r) {
  size_t max = t->rreply_bytes < SMTPC__RCPT_REPLIES_BUDGET
                   ? SMTPC__RCPT_REPLY_MAX
                   : SMTPC__RCPT_REPLY_MIN;
  smtpc_reply *k = smtpc__reply_bounded(&t->mem, r, max);
  if (k == NULL)
    return SMTPC_ERR_NOMEM;
  if (t->rreplies[idx] != NULL) {
    t->rreply_bytes -= smtpc__reply_size(t->rreplies[idx]);
    smtpc__reply_free(&t->mem, t->rreplies[idx]);
  }
  t->rreplies[idx] = k;
  t->rreply_bytes += smtpc__reply_size(k);
  return SMTPC_OK;
}

void smtpc__txn_drop_rcpt_reply(smtpc_txn *t, size_t idx) {
  if (t->rreplies[idx] == NULL)
    return;
  t->rreply_bytes -= smtpc__reply_size(t->rreplies[idx]);
  smtpc__reply_free(&t->mem, t->rreplies[idx]);
  t->rreplies[idx] = NULL;
}

void smtpc_body_init_memory(smtpc_body *body, const void *data, size_t len) {
  if (body == NULL)
    return;
  memset(body, 0, sizeof(*body));
  body->version = SMTPC_BODY_VERSION;
  body->data = data;
  body->len = len;
  body->size = (int64_t)len;
  body->type = SMTPC_BODY_AUTO;
}

void smtpc_body_init_stream(smtpc_body *body,
                            smtpc_ssize (*read)(void *ctx, unsigned char *buf,
                                                size_t len),
                            void *ctx, int64_t size) {
  if (body == NULL)
    return;
  memset(body, 0, sizeof(*body));
  body->version = SMTPC_BODY_VERSION;
  body->read = read;
  body->ctx = ctx;
  body->size = size;
  body->type = SMTPC_BODY_AUTO;
}

void smtpc_txn_free(smtpc_txn *t) {
  if (t == NULL)
    return;
  if (t->s != NULL || t->pending > 0) {
    /* still in the session's hands: it frees it when done with it */
    t->caller_owned = 0;
    return;
  }
  smtpc__txn_destroy(t);
}

int smtpc_txn_status(const smtpc_txn *t) {
  if (t == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  return t->phase == TP_DONE ? t->status : SMTPC_ERR_INVALID_STATE;
}

int smtpc_txn_is_complete(const smtpc_txn *t) {
  return t != NULL && t->phase == TP_DONE;
}

const smtpc_reply *smtpc_txn_reply(const smtpc_txn *t) {
  return t ? t->final : NULL;
}

const char *smtpc_txn_queue_id(const smtpc_txn *t) {
  return t ? t->queue_id : NULL;
}

size_t smtpc_txn_rcpt_count(const smtpc_txn *t) { return t ? t->nrcpt : 0; }

smtpc_step smtpc_txn_step(const smtpc_txn *t) {
  return t ? t->step : SMTPC_STEP_NONE;
}

size_t smtpc_txn_accepted_count(const smtpc_txn *t) {
  return t ? t->accepted : 0;
}

const char *smtpc_txn_rcpt(const smtpc_txn *t, size_t i) {
  if (t == NULL || i >= t->nrcpt)
    return NULL;
  return t->rcpts[i];
}

const smtpc_reply *smtpc_txn_rcpt_reply(const smtpc_txn *t, size_t i) {
  if (t == NULL || i >= t->nrcpt)
    return NULL;
  return t->rreplies[i];
}
