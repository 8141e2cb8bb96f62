/* SPDX-License-Identifier: MIT */
/* SASL client mechanisms for SMTP AUTH (RFC 4954).
 *
 * Each mechanism is a tiny state machine: an optional initial response,
 * then one response per 334 challenge.  The functions here produce raw
 * bytes; the session base64-encodes them, never traces them, and wipes
 * every buffer that held a secret. */
#include "smtpc_int.h"

#include "ascii.h"

#include <string.h>

void smtpc__wipe(void *p, size_t n) {
  /* a volatile pointer keeps the stores from being optimised away */
  volatile unsigned char *v = p;
  while (n--)
    *v++ = 0;
}

void smtpc__free_secret(const smtpc_mem *m, char *p) {
  if (p == NULL)
    return;
  smtpc__wipe(p, strlen(p));
  smtpc__free(m, p);
}

const char *smtpc__auth_name(smtpc_auth_mech mech) {
  switch (mech) {
  case SMTPC_AUTH_PLAIN: return "PLAIN";
  case SMTPC_AUTH_LOGIN: return "LOGIN";
  case SMTPC_AUTH_CRAM_MD5: return "CRAM-MD5";
  case SMTPC_AUTH_XOAUTH2: return "XOAUTH2";
  case SMTPC_AUTH_OAUTHBEARER: return "OAUTHBEARER";
  default: return "";
  }
}

/* 1 if the space-separated list holds name (case-insensitive). */
static int offered_has(const char *list, const char *name) {
  size_t n = strlen(name);
  while (list != NULL && *list) {
    size_t w;
    while (*list == ' ')
      list++;
    w = strcspn(list, " ");
    if (w == n && smtpc__strncasecmp(list, name, n) == 0)
      return 1;
    list += w;
  }
  return 0;
}

int smtpc__auth_choose(const char *offered, smtpc_auth_mech want) {
  static const smtpc_auth_mech pref[] = {SMTPC_AUTH_CRAM_MD5, SMTPC_AUTH_PLAIN,
                                         SMTPC_AUTH_LOGIN};
  size_t i;
  if (want != SMTPC_AUTH_AUTO)
    /* A named mechanism is used only if offered; XOAUTH2 and OAUTHBEARER
     * never stand in for each other. */
    return offered_has(offered, smtpc__auth_name(want))
               ? (int)want
               : SMTPC_ERR_AUTH_UNSUPPORTED;
  for (i = 0; i < sizeof(pref) / sizeof(pref[0]); i++)
    if (offered_has(offered, smtpc__auth_name(pref[i])))
      return (int)pref[i];
  return SMTPC_ERR_AUTH_UNSUPPORTED;
}

/* RFC 5801 saslname: "," and "=" escaped as "=2C" and "=3D". */
static int append_saslname(smtpc__buf *out, const smtpc_mem *m, const char *s) {
  int rv = SMTPC_OK;
  for (; *s && rv == SMTPC_OK; s++) {
    if (*s == ',')
      rv = smtpc__buf_append(out, m, "=2C", 3);
    else if (*s == '=')
      rv = smtpc__buf_append(out, m, "=3D", 3);
    else
      rv = smtpc__buf_append(out, m, s, 1);
  }
  return rv;
}

int smtpc__auth_initial(smtpc__buf *out, const smtpc_mem *m,
                        smtpc_auth_mech mech, const char *user,
                        const char *secret, const char *authzid, int *has) {
  int rv;
  *has = 0;
  out->wipe = 1; /* growing must not leave the secret behind */
  switch (mech) {
  case SMTPC_AUTH_PLAIN:
    /* RFC 4616: [authzid] NUL authcid NUL passwd */
    *has = 1;
    if ((authzid != NULL &&
         (rv = smtpc__buf_append_str(out, m, authzid)) != SMTPC_OK) ||
        (rv = smtpc__buf_append(out, m, "", 1)) != SMTPC_OK ||
        (rv = smtpc__buf_append_str(out, m, user)) != SMTPC_OK ||
        (rv = smtpc__buf_append(out, m, "", 1)) != SMTPC_OK ||
        (rv = smtpc__buf_append_str(out, m, secret)) != SMTPC_OK)
      return rv;
    return SMTPC_OK;
  case SMTPC_AUTH_XOAUTH2:
    /* "user=" user ^A "auth=Bearer " token ^A ^A */
    *has = 1;
    if ((rv = smtpc__buf_append_str(out, m, "user=")) != SMTPC_OK ||
        (rv = smtpc__buf_append_str(out, m, user)) != SMTPC_OK ||
        (rv = smtpc__buf_append_str(out, m, "\001auth=Bearer ")) != SMTPC_OK ||
        (rv = smtpc__buf_append_str(out, m, secret)) != SMTPC_OK ||
        (rv = smtpc__buf_append(out, m, "\001\001", 2)) != SMTPC_OK)
      return rv;
    return SMTPC_OK;
  case SMTPC_AUTH_OAUTHBEARER:
    /* RFC 7628 3.1: gs2-header kvsep "auth=Bearer " token kvsep kvsep */
    *has = 1;
    if ((rv = smtpc__buf_append_str(out, m, "n,a=")) != SMTPC_OK ||
        (rv = append_saslname(out, m, user)) != SMTPC_OK ||
        (rv = smtpc__buf_append_str(out, m, ",\001auth=Bearer ")) != SMTPC_OK ||
        (rv = smtpc__buf_append_str(out, m, secret)) != SMTPC_OK ||
        (rv = smtpc__buf_append(out, m, "\001\001", 2)) != SMTPC_OK)
      return rv;
    return SMTPC_OK;
  case SMTPC_AUTH_LOGIN:
  case SMTPC_AUTH_CRAM_MD5: return SMTPC_OK;
  default: return SMTPC_ERR_INTERNAL;
  }
}

int smtpc__auth_respond(smtpc__buf *out, const smtpc_mem *m,
                        smtpc_auth_mech mech, unsigned step,
                        const unsigned char *chal, size_t clen,
                        const char *user, const char *secret) {
  out->wipe = 1; /* growing must not leave the secret behind */
  switch (mech) {
  case SMTPC_AUTH_LOGIN:
    /* The challenge text ("Username:", "User Name", ...) varies between
     * servers and is ignored: first the user, then the password. */
    (void)chal;
    if (step == 0)
      return smtpc__buf_append_str(out, m, user);
    if (step == 1)
      return smtpc__buf_append_str(out, m, secret);
    return SMTPC_ERR_AUTH_BAD_CHALLENGE;
  case SMTPC_AUTH_CRAM_MD5: {
    /* RFC 2195: user SP hex(HMAC-MD5(password, challenge)) */
    unsigned char mac[16];
    char txt[33];
    int rv;
    unsigned i;
    if (step != 0 || clen == 0)
      return SMTPC_ERR_AUTH_BAD_CHALLENGE;
    rv = smtpc__hmac_md5((const unsigned char *)secret, strlen(secret), chal,
                         clen, mac);
    if (rv != SMTPC_OK)
      return rv;
    for (i = 0; i < 16; i++) {
      txt[2 * i] = smtpc__hexdigit_lower(mac[i] >> 4);
      txt[2 * i + 1] = smtpc__hexdigit_lower(mac[i]);
    }
    txt[32] = '\0';
    smtpc__wipe(mac, sizeof(mac));
    if ((rv = smtpc__buf_append_str(out, m, user)) != SMTPC_OK ||
        (rv = smtpc__buf_append(out, m, " ", 1)) != SMTPC_OK)
      return rv;
    return smtpc__buf_append(out, m, txt, 32);
  }
  case SMTPC_AUTH_XOAUTH2:
    /* A challenge carries the server's JSON error; SASL requires an empty
     * response, after which the server sends the failure reply. */
    return step == 0 ? SMTPC_OK : SMTPC_ERR_AUTH_BAD_CHALLENGE;
  case SMTPC_AUTH_OAUTHBEARER:
    /* RFC 7628 3.2.3: the dummy response is a single kvsep (%x01). */
    return step == 0 ? smtpc__buf_append(out, m, "\001", 1)
                     : SMTPC_ERR_AUTH_BAD_CHALLENGE;
  case SMTPC_AUTH_PLAIN:
  default:
    /* the initial response carried everything */
    return SMTPC_ERR_AUTH_BAD_CHALLENGE;
  }
}
