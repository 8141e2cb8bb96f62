/* SPDX-License-Identifier: MIT */
/* ASCII character classes for the protocol grammars (RFC 5234 core rules,
 * RFC 5321, RFC 5322).  <ctype.h> is no substitute: its answers depend on
 * the locale, and it is undefined for negative char values.
 *
 * Each is static inline and a few instructions, so a call costs no more code
 * than the copies it replaces; one a file does not call costs nothing.
 * Pass an octet as an unsigned char value: octets >= 0x80 are in no
 * class. */
#ifndef SMTPC_ASCII_H
#define SMTPC_ASCII_H

#include <stdint.h>

/* ALPHA */
static inline int smtpc__isalpha(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* DIGIT */
static inline int smtpc__isdigit(int c) { return c >= '0' && c <= '9'; }

/* ALPHA / DIGIT: RFC 5321 Let-dig, and the first character of an EHLO
 * keyword. */
static inline int smtpc__isalnum(int c) {
  return smtpc__isalpha(c) || smtpc__isdigit(c);
}

/* WSP: space or horizontal tab. */
static inline int smtpc__isws(int c) { return c == ' ' || c == '\t'; }

/* RFC 5322 3.2.3 atext: what a dot-atom is made of (and an RFC 5321
 * Dot-string), i.e. VCHAR less the specials ( ) < > [ ] : ; @ \ , . and
 * DQUOTE.  Bit c - 32 of the set; a table rather than strchr() so that
 * it stays a few instructions where it is inlined (tests/check_command.c
 * checks it against the list for every octet). */
static inline int smtpc__isatext(int c) {
  static const uint32_t set[3] = {0xA3FFACFAu, 0xC7FFFFFEu, 0x7FFFFFFFu};
  unsigned u = (unsigned)c - 32u;
  return u < 96u && (set[u >> 5] >> (u & 31u) & 1u) != 0;
}

static inline int smtpc__tolower(int c) {
  return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static inline int smtpc__toupper(int c) {
  return (c >= 'a' && c <= 'z') ? c - ('a' - 'A') : c;
}

/* The hex digit of v's low four bits, upper case (MIME: RFC 2045 6.7,
 * RFC 2047, RFC 2231) or lower case (CRAM-MD5: RFC 2195).  The string
 * literals are merged across objects by the linker. */
static inline char smtpc__hexdigit(unsigned v) {
  return "0123456789ABCDEF"[v & 15];
}

static inline char smtpc__hexdigit_lower(unsigned v) {
  return "0123456789abcdef"[v & 15];
}

/* The value of a hex digit of either case, or -1. */
static inline int smtpc__hexval(int c) {
  if (smtpc__isdigit(c))
    return c - '0';
  c = smtpc__tolower(c);
  return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

#endif /* SMTPC_ASCII_H */
