/* SPDX-License-Identifier: MIT */
/* Domain names and address literals (RFC 5321 4.1.2, 4.1.3; RFC 5322
 * 3.4.1): one set of rules for the MAIL/RCPT paths (command.c), the
 * Message-ID (mime.c) and the EHLO name the system gives (platform_posix.c).
 *
 * static inline with the flags a constant at each call: every caller gets a
 * copy specialised to its own rules, so the protocol core keeps the size of
 * the check it had before these were shared (a Cortex-M4 port has no use
 * for the host-name rules and pays nothing for them). */
#ifndef SMTPC_DOMAIN_H
#define SMTPC_DOMAIN_H

#include "smtpc_int.h"

#include "ascii.h"

/* 1 if s[0..n) is "[" dtext "]" with dtext printable ASCII other than
 * "[", "]" and "\": RFC 5322's no-fold-literal, which may be empty, and
 * the frame of an RFC 5321 address-literal (whose callers ask for n >= 3
 * and leave the contents to the server). */
static inline int smtpc__check_literal(const char *s, size_t n) {
  size_t i;
  if (n < 2 || s[0] != '[' || s[n - 1] != ']')
    return 0;
  for (i = 1; i + 1 < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 33 || c > 126 || c == '[' || c == ']' || c == '\\')
      return 0;
  }
  return 1;
}

/* smtpc__check_domain() flags.  With none, d must be an RFC 5321 Domain
 * name of at most 255 octets: LDH labels of 1 to 63 octets that neither
 * start nor end with '-'. */
enum {
  /* an address-literal ("[192.0.2.1]") is accepted too */
  SMTPC__DOM_LITERAL = 1u << 0,
  /* a host name as the system names itself: '-' may start or end a label
   * (what gethostname() may give), at most 253 octets */
  SMTPC__DOM_HOSTNAME = 1u << 1,
  /* at least two labels, and not "localhost" or "localhost.<anything>" */
  SMTPC__DOM_FQDN = 1u << 2,
  /* octets >= 0x80 count as letters (U-labels, RFC 6531 3.3; the caller
   * checks that the UTF-8 is well formed); a label holding one may pass
   * 63 octets, since its A-label is what must fit */
  SMTPC__DOM_UTF8 = 1u << 3
};

/* 1 if d[0..n) is a domain as flags ask, else 0.
 * Domain = sub-domain *("." sub-domain) / address-literal, where
 * sub-domain = Let-dig [Ldh-str]. */
static inline int smtpc__check_domain(const char *d, size_t n, unsigned flags) {
  size_t i, label = 0, dots = 0;
  int lax = (flags & SMTPC__DOM_HOSTNAME) != 0, u = 0;
  if (n == 0 || n > (lax ? 253u : 255u))
    return 0;
  if (d[0] == '[')
    return (flags & SMTPC__DOM_LITERAL) && n >= 3 && smtpc__check_literal(d, n);
  if ((flags & SMTPC__DOM_FQDN) && n >= 9 &&
      smtpc__strncasecmp(d, "localhost", 9) == 0 && (n == 9 || d[9] == '.'))
    return 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)d[i];
    if (c == '.') {
      if (label == 0 || (!lax && d[i - 1] == '-'))
        return 0;
      dots++;
      label = 0;
      u = 0;
    } else if ((flags & SMTPC__DOM_UTF8) && c >= 0x80) {
      u = 1;
      label++;
    } else if (smtpc__isalnum(c) || (c == '-' && (lax || label > 0))) {
      if (++label > 63 && !u)
        return 0;
    } else {
      return 0;
    }
  }
  return label > 0 && (lax || d[n - 1] != '-') &&
         (dots > 0 || !(flags & SMTPC__DOM_FQDN));
}

#endif /* SMTPC_DOMAIN_H */
