/* SPDX-License-Identifier: MIT */
/* Command composer and argument validation.
 *
 * Nothing the caller passes can add a line to the dialogue: CR, LF and NUL
 * are refused everywhere, and mailboxes are checked against the RFC 5321
 * section 4.1.2 grammar (ASCII only; SMTPUTF8 is not used yet). */
#include "smtpc_int.h"

#include "ascii.h"
#include "domain.h"

#include <stdio.h>
#include <string.h>

/* RFC 5321 4.5.3.1: local-part 64, domain 255, path 256 incl. "<>". */
#define MAX_LOCAL 64
#define MAX_PATH 254

/* Local-part = Dot-string / Quoted-string */
static int check_local(const char *l, size_t n) {
  size_t i;
  if (n == 0 || n > MAX_LOCAL)
    return 0;
  if (l[0] == '"') {
    if (n < 2 || l[n - 1] != '"')
      return 0;
    for (i = 1; i + 1 < n; i++) {
      unsigned char c = (unsigned char)l[i];
      if (c == '\\') {
        /* quoted-pairSMTP = %d92 %d32-126 */
        i++;
        if (i + 1 >= n || (unsigned char)l[i] < 32 || (unsigned char)l[i] > 126)
          return 0;
      } else if (c < 32 || c > 126 || c == '"') {
        return 0;
      }
    }
    return 1;
  }
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)l[i];
    if (c == '.') {
      if (i == 0 || i + 1 == n || l[i - 1] == '.')
        return 0;
    } else if (!smtpc__isatext(c)) {
      return 0;
    }
  }
  return 1;
}

int smtpc__check_mailbox(const char *addr, int is_from) {
  size_t n, at;
  const char *p;
  if (addr == NULL)
    return SMTPC_ERR_BAD_ADDRESS;
  n = strlen(addr);
  if (n == 0)
    return is_from ? SMTPC_OK : SMTPC_ERR_BAD_ADDRESS; /* "<>" */
  if (n > MAX_PATH)
    return SMTPC_ERR_BAD_ADDRESS;
  if (!is_from && smtpc__strcasecmp(addr, "postmaster") == 0)
    return SMTPC_OK; /* RFC 5321 4.1.1.3 "<Postmaster>" */
  /* the domain starts after the last '@' (a quoted local part may hold @) */
  p = strrchr(addr, '@');
  if (p == NULL)
    return SMTPC_ERR_BAD_ADDRESS;
  at = (size_t)(p - addr);
  if (!check_local(addr, at) ||
      !smtpc__check_domain(p + 1, n - at - 1, SMTPC__DOM_LITERAL))
    return SMTPC_ERR_BAD_ADDRESS;
  return SMTPC_OK;
}

int smtpc__check_arg(const char *arg, int allow_space) {
  const unsigned char *p;
  if (arg == NULL || *arg == '\0')
    return SMTPC_ERR_BAD_ARGUMENT;
  for (p = (const unsigned char *)arg; *p; p++) {
    if (*p < 32 || *p == 127 || (*p == ' ' && !allow_space))
      return SMTPC_ERR_BAD_ARGUMENT;
  }
  if (p - (const unsigned char *)arg > 500)
    return SMTPC_ERR_BAD_ARGUMENT; /* command line limit 512 (4.5.3.1.4) */
  return SMTPC_OK;
}

/* Appends the pieces with one reservation (commands are hot: one MAIL and
 * one RCPT per recipient for every message). */
static int append_parts(smtpc__buf *out, const smtpc_mem *m,
                        const char *const *parts, const size_t *lens,
                        size_t n) {
  size_t i, total = 0;
  unsigned char *d;
  int rv;
  for (i = 0; i < n; i++)
    total += lens[i]; /* each part is short: a path is at most 256 octets */
  if ((rv = smtpc__buf_reserve(out, m, total)) != SMTPC_OK)
    return rv;
  d = out->data + out->len;
  for (i = 0; i < n; i++) {
    memcpy(d, parts[i], lens[i]);
    d += lens[i];
  }
  out->len += total;
  return SMTPC_OK;
}

int smtpc__cmd_mail(smtpc__buf *out, const smtpc_mem *m, const char *from,
                    int64_t size, int body8bit) {
  char num[32];
  const char *parts[5];
  size_t lens[5], n = 0;
  parts[n] = "MAIL FROM:<", lens[n++] = 11;
  parts[n] = from, lens[n++] = strlen(from);
  parts[n] = ">", lens[n++] = 1;
  if (size >= 0) {
    int k = snprintf(num, sizeof(num), " SIZE=%lld", (long long)size);
    parts[n] = num, lens[n++] = k > 0 ? (size_t)k : 0;
  }
  if (body8bit)
    parts[n] = " BODY=8BITMIME\r\n", lens[n++] = 16;
  else
    parts[n] = "\r\n", lens[n++] = 2;
  return append_parts(out, m, parts, lens, n);
}

int smtpc__cmd_rcpt(smtpc__buf *out, const smtpc_mem *m, const char *to) {
  const char *parts[3];
  size_t lens[3];
  parts[0] = "RCPT TO:<", lens[0] = 9;
  parts[1] = to, lens[1] = strlen(to);
  parts[2] = ">\r\n", lens[2] = 3;
  return append_parts(out, m, parts, lens, 3);
}

int smtpc__cmd_simple(smtpc__buf *out, const smtpc_mem *m, const char *verb,
                      const char *arg) {
  int rv;
  if (arg != NULL && (rv = smtpc__check_arg(arg, 1)) != SMTPC_OK)
    return rv;
  if ((rv = smtpc__buf_append_str(out, m, verb)))
    return rv;
  if (arg != NULL && ((rv = smtpc__buf_append(out, m, " ", 1)) ||
                      (rv = smtpc__buf_append_str(out, m, arg))))
    return rv;
  return smtpc__buf_append(out, m, "\r\n", 2);
}
