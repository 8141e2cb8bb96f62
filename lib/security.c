/* SPDX-License-Identifier: MIT */
/* smtpc_session_set_tls_policy(): the session's view of the one security
 * setting (smtpc_security) shared with the one-call API and the TLS
 * adapter.
 *
 * Transitional: the engine (session.c) still stores the three STARTTLS
 * policies it has always had, so this maps the public values onto them --
 * STARTTLS and IMPLICIT both demand a secure connection (an implicit-TLS
 * transport is secure from the start), OPPORTUNISTIC tries STARTTLS, NONE
 * never sends it.  Once session.c takes smtpc_security itself this file
 * goes (see the block at the end of smtpc_int.h). */
#define SMTPC__PUBLIC_TLS_POLICY
#include "smtpc_int.h"

int smtpc_session_set_tls_policy(smtpc_session *s, smtpc_security security) {
  smtpc__tls_policy policy;
  switch (security) {
  case SMTPC_SECURITY_STARTTLS:
  case SMTPC_SECURITY_IMPLICIT:
    policy = SMTPC__TLS_REQUIRED;
    break;
  case SMTPC_SECURITY_OPPORTUNISTIC:
    policy = SMTPC__TLS_OPPORTUNISTIC;
    break;
  case SMTPC_SECURITY_NONE:
    policy = SMTPC__TLS_NONE;
    break;
  default:
    return SMTPC_ERR_INVALID_ARGUMENT;
  }
  return smtpc__session_set_tls_policy(s, policy);
}
