/* SPDX-License-Identifier: MIT */
/* Session options (set before smtpc_session_open()) and the accessors of
 * what the session learned: the setters copy and check their arguments; the
 * engine in session.c reads the fields. */
#include "session_int.h"

#include <string.h>

int smtpc_session_set_io(smtpc_session *s, const smtpc_io *io) {
  if (s == NULL || io == NULL || io->version != SMTPC_IO_VERSION ||
      io->send == NULL || io->recv == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (s->ph != PH_NEW || s->mem_mode)
    return SMTPC_ERR_INVALID_STATE;
  s->io = *io;
  s->have_io = 1;
  return SMTPC_OK;
}

static int set_string(smtpc_session *s, char **dst, const char *v,
                      int allow_space) {
  char *d;
  int rv;
  if (s == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if ((rv = smtpc__check_arg(v, allow_space)) != SMTPC_OK)
    return rv;
  d = smtpc__strdup(&s->mem, v);
  if (d == NULL)
    return SMTPC_ERR_NOMEM;
  smtpc__free(&s->mem, *dst);
  *dst = d;
  return SMTPC_OK;
}

int smtpc_session_set_ehlo_name(smtpc_session *s, const char *name) {
  if (name != NULL && smtpc__has_8bit(name, strlen(name)))
    return SMTPC_ERR_BAD_ARGUMENT; /* a domain or address literal: ASCII */
  return set_string(s, s ? &s->ehlo_name : NULL, name, 0);
}

int smtpc_session_set_server_name(smtpc_session *s, const char *host) {
  return set_string(s, s ? &s->server_name : NULL, host, 0);
}

int smtpc_session_set_timeout(smtpc_session *s, smtpc_timeout_kind kind,
                              unsigned timeout_ms) {
  if (s == NULL || (unsigned)kind > SMTPC_TIMEOUT_OTHER)
    return SMTPC_ERR_INVALID_ARGUMENT;
  s->timeouts[kind] = timeout_ms;
  return SMTPC_OK;
}

int smtpc_session_set_timeout_all(smtpc_session *s, unsigned timeout_ms) {
  size_t i;
  if (s == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  for (i = 0; i <= SMTPC_TIMEOUT_OTHER; i++)
    s->timeouts[i] = timeout_ms;
  return SMTPC_OK;
}

unsigned smtpc_session_current_timeout(const smtpc_session *s) {
  return s ? s->cur_timeout : 0;
}

int smtpc_session_set_limit(smtpc_session *s, smtpc_limit which, size_t value) {
  if (s == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  switch (which) {
  case SMTPC_LIMIT_REPLY_LINE:
    if (value < 64)
      return SMTPC_ERR_INVALID_ARGUMENT;
    s->parser.max_line = value;
    return SMTPC_OK;
  case SMTPC_LIMIT_REPLY_BYTES:
    if (value < 64)
      return SMTPC_ERR_INVALID_ARGUMENT;
    s->parser.max_bytes = value;
    return SMTPC_OK;
  case SMTPC_LIMIT_REPLY_LINES:
    if (value < 1)
      return SMTPC_ERR_INVALID_ARGUMENT;
    s->parser.max_lines = value;
    return SMTPC_OK;
#ifndef SMTPC_NO_CHUNKING
  case SMTPC_LIMIT_MESSAGE_WINDOW:
    if (value < 1 || value > 4096)
      return SMTPC_ERR_INVALID_ARGUMENT;
    s->window = value;
    return SMTPC_OK;
#endif
  case SMTPC_LIMIT_READ_BUFFER:
  case SMTPC_LIMIT_WRITE_BUFFER:
  case SMTPC_LIMIT_BODY_CHUNK:
#ifndef SMTPC_NO_CHUNKING
  case SMTPC_LIMIT_BDAT_CHUNK:
#endif
    if (value < 64 || value > ((size_t)1 << 30))
      return SMTPC_ERR_INVALID_ARGUMENT;
    if (which == SMTPC_LIMIT_READ_BUFFER)
      s->in_chunk = value;
    else if (which == SMTPC_LIMIT_WRITE_BUFFER)
      s->out_high = value;
    else if (s->body_txn != NULL)
      return SMTPC_ERR_INVALID_STATE;
    else if (which == SMTPC_LIMIT_BODY_CHUNK) {
      smtpc__free(&s->mem, s->chunk); /* reallocated at the new size */
      s->chunk = NULL;
      s->body_chunk = value;
    } else {
      smtpc__free(&s->mem, s->bdat);
      s->bdat = NULL;
      s->bdat_chunk = value;
    }
    return SMTPC_OK;
  default: return SMTPC_ERR_INVALID_ARGUMENT;
  }
}

int smtpc_session_set_flag(smtpc_session *s, smtpc_flag flag, int on) {
  if (s == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  switch (flag) {
  case SMTPC_FLAG_PIPELINING: s->pipelining = on != 0; return SMTPC_OK;
  case SMTPC_FLAG_CHUNKING:
#ifdef SMTPC_NO_CHUNKING
    return on ? SMTPC_ERR_NOT_SUPPORTED : SMTPC_OK;
#else
    s->chunking = on != 0;
    s->bdat_ops = &smtpc__session_bdat; /* kept: a body may be on its way */
    return SMTPC_OK;
#endif
  case SMTPC_FLAG_HELO_ONLY: s->helo_only = on != 0; return SMTPC_OK;
  case SMTPC_FLAG_ALLOW_PLAINTEXT_AUTH:
    s->allow_plain_auth = on != 0;
    return SMTPC_OK;
  default: return SMTPC_ERR_INVALID_ARGUMENT;
  }
}

void smtpc_session_set_trace(smtpc_session *s, smtpc_trace_cb cb, void *user) {
  if (s == NULL)
    return;
  s->trace = cb;
  s->trace_user = user;
}

int smtpc_session_set_tls_policy(smtpc_session *s, smtpc_security security) {
  if (s == NULL || (unsigned)security > SMTPC_SECURITY_NONE)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (s->ph != PH_NEW)
    return SMTPC_ERR_INVALID_STATE;
  s->security = security;
  return SMTPC_OK;
}

/* A bearer token is printable ASCII (RFC 6750 2.1 b64token). */
static int has_control(const char *p) {
  for (; *p != '\0'; p++)
    if ((unsigned char)*p < 32 || *p == 127)
      return 1;
  return 0;
}

int smtpc_session_set_auth(smtpc_session *s, smtpc_auth_mech mech,
                           const char *user, const char *secret,
                           const char *authzid) {
  char *u, *p, *z = NULL;
  if (s == NULL || (unsigned)mech > SMTPC_AUTH_OAUTHBEARER)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (s->ph != PH_NEW)
    return SMTPC_ERR_INVALID_STATE;
  if (smtpc__check_arg(user, 1) != SMTPC_OK || secret == NULL ||
      *secret == '\0' ||
      (authzid != NULL && smtpc__check_arg(authzid, 1) != SMTPC_OK))
    return SMTPC_ERR_BAD_ARGUMENT;
  if ((mech == SMTPC_AUTH_XOAUTH2 || mech == SMTPC_AUTH_OAUTHBEARER) &&
      has_control(secret))
    return SMTPC_ERR_BAD_ARGUMENT; /* ^A would add SASL fields (RFC 7628) */
  u = smtpc__strdup(&s->mem, user);
  p = smtpc__strdup(&s->mem, secret);
  if (authzid != NULL)
    z = smtpc__strdup(&s->mem, authzid);
  if (u == NULL || p == NULL || (authzid != NULL && z == NULL)) {
    smtpc__free(&s->mem, u);
    smtpc__free_secret(&s->mem, p);
    smtpc__free(&s->mem, z);
    return SMTPC_ERR_NOMEM;
  }
  smtpc__free(&s->mem, s->auth_user);
  smtpc__free_secret(&s->mem, s->auth_secret);
  smtpc__free(&s->mem, s->auth_authzid);
  s->auth_user = u;
  s->auth_secret = p;
  s->auth_authzid = z;
  s->auth_want = mech;
  s->auth = &smtpc__session_auth;
  return SMTPC_OK;
}

smtpc_auth_mech smtpc_session_auth_mech(const smtpc_session *s) {
  return s ? s->auth_used : SMTPC_AUTH_AUTO;
}

const smtpc_reply *smtpc_session_last_reply(const smtpc_session *s) {
  return s ? s->last : NULL;
}

int smtpc_session_has_ext(const smtpc_session *s, const char *keyword) {
  if (s == NULL || keyword == NULL)
    return 0;
  return smtpc__caps_params(&s->caps, keyword) != NULL;
}

const char *smtpc_session_ext_params(const smtpc_session *s,
                                     const char *keyword) {
  if (s == NULL || keyword == NULL)
    return NULL;
  return smtpc__caps_params(&s->caps, keyword);
}

int64_t smtpc_session_max_size(const smtpc_session *s) {
  if (s == NULL || !(s->caps.flags & SMTPC__CAP_SIZE))
    return -1;
  return s->caps.size;
}

void smtpc__session_set_phase_hook(smtpc_session *s, smtpc__phase_hook hook,
                                   void *user) {
  s->phase_hook = hook;
  s->phase_user = user;
}

int smtpc_session_set_idna(smtpc_session *s, smtpc_idna_cb cb, void *user) {
  if (s == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  s->idna = cb;
  s->idna_user = user;
  s->idna_ops = cb != NULL ? &smtpc__session_idna : NULL;
  return SMTPC_OK;
}
