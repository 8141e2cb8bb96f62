/* SPDX-License-Identifier: MIT */
/* smtpc_idna_to_ascii(): the default ::smtpc_idna_cb.  IDNA2008 with the
 * UTS #46 mapping needs Unicode tables (NFC, the mapping, bidi rules) far
 * larger than the protocol core, so it is GNU libidn2's job when configure
 * finds it.  Without it the function says so and a non-ASCII domain needs
 * SMTPUTF8 or the caller's own converter (an embedded build may give one
 * that only accepts what its product needs). */
#include "smtpc_int.h"

#include "domain.h"

#include <string.h>

#ifdef SMTPC_HAVE_LIBIDN2
#include <idn2.h>
#include <stdlib.h>

int smtpc_idna_to_ascii(void *user, const char *domain, char *out,
                        size_t outlen) {
  char *a = NULL;
  size_t n;
  int rc;
  (void)user;
  if (domain == NULL || out == NULL || outlen == 0)
    return SMTPC_ERR_INVALID_ARGUMENT;
  /* NFC first (RFC 6532 3.1 asks senders for it), then UTS #46
   * non-transitional processing: "ß" stays "ß" (xn--zca), as IDNA2008 and
   * the browsers do.  Not IDN2_USE_STD3_ASCII_RULES: libidn2 2.3.3 then
   * drops the characters STD3 disallows instead of failing ("a/bé" and
   * "a bé" both become xn--ab-cja, another domain); without it they stay
   * and the check below refuses them. */
  rc = idn2_to_ascii_8z(domain, &a, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  if (rc != IDN2_OK) {
    if (rc == IDN2_MALLOC)
      return SMTPC_ERR_NOMEM;
    return SMTPC_ERR_BAD_ADDRESS;
  }
  n = strlen(a);
  /* the result must be an RFC 5321 domain: LDH labels of 1 to 63 octets */
  if (!smtpc__check_domain(a, n, 0)) {
    idn2_free(a);
    return SMTPC_ERR_BAD_ADDRESS;
  }
  if (n + 1 > outlen) {
    idn2_free(a);
    return SMTPC_ERR_INVALID_ARGUMENT;
  }
  memcpy(out, a, n + 1);
  idn2_free(a);
  return SMTPC_OK;
}
#else
int smtpc_idna_to_ascii(void *user, const char *domain, char *out,
                        size_t outlen) {
  (void)user;
  if (domain == NULL || out == NULL || outlen == 0)
    return SMTPC_ERR_INVALID_ARGUMENT;
  out[0] = '\0';
  return SMTPC_ERR_NOT_SUPPORTED;
}
#endif
