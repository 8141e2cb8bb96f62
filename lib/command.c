/* SPDX-License-Identifier: MIT */
/* Command composer and argument validation.
 *
 * Nothing the caller passes can add a line to the dialogue: CR, LF and NUL
 * are refused everywhere, and mailboxes are checked against the RFC 5321
 * section 4.1.2 grammar, extended by RFC 6531 3.3: UTF-8 is allowed in the
 * local part and in domain labels (U-labels) and must be well formed. */
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
      } else if (c < 32 || c == 127 || c == '"') {
        return 0; /* qtextSMTP, with UTF8-non-ascii (RFC 6531 3.3) */
      }
    }
    return 1;
  }
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)l[i];
    if (c == '.') {
      if (i == 0 || i + 1 == n || l[i - 1] == '.')
        return 0;
    } else if (!smtpc__isatext(c) && c < 0x80) {
      return 0;
    }
  }
  return 1;
}

size_t smtpc__utf8_seq(const unsigned char *p, size_t n, uint32_t *cp) {
  uint32_t c, min;
  size_t len, i;
  if (n == 0)
    return 0;
  c = p[0];
  if (c < 0x80)
    len = 1, min = 0;
  else if (c >= 0xC2 && c <= 0xDF)
    len = 2, min = 0x80, c &= 0x1F;
  else if (c >= 0xE0 && c <= 0xEF)
    len = 3, min = 0x800, c &= 0x0F;
  else if (c >= 0xF0 && c <= 0xF4)
    len = 4, min = 0x10000, c &= 0x07;
  else
    return 0;
  if (len > n)
    return 0;
  for (i = 1; i < len; i++) {
    if ((p[i] & 0xC0) != 0x80)
      return 0;
    c = c << 6 | (p[i] & 0x3Fu);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
    return 0;
  if (cp != NULL)
    *cp = c;
  return len;
}

/* 1 if s[0..n) is well-formed UTF-8 without C0 or C1 controls and DEL. */
static int utf8_text(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0, k;
  uint32_t c;
  while (i < n) {
    if (p[i] < 0x80) { /* ASCII: every address, almost always */
      if (p[i] < 32 || p[i] == 127)
        return 0;
      i++;
      continue;
    }
    if ((k = smtpc__utf8_seq(p + i, n - i, &c)) == 0 || c < 160)
      return 0; /* ill-formed, or a C1 control */
    i += k;
  }
  return 1;
}

unsigned smtpc__addr_utf8(const char *addr) {
  const char *at, *p;
  unsigned f = 0;
  if (!smtpc__has_8bit(addr, strlen(addr)))
    return 0;              /* every ASCII address: one word-at-a-time scan */
  at = strrchr(addr, '@'); /* the domain starts after the last '@' */
  for (p = addr; *p; p++)
    if ((unsigned char)*p >= 0x80)
      f |= (at != NULL && p > at) ? SMTPC__UTF8_DOMAIN : SMTPC__UTF8_LOCAL;
  return f;
}

int smtpc__addr_alabel(smtpc_idna_cb cb, void *user, const char *addr,
                       char *out) {
  const char *at = strrchr(addr, '@'), *z;
  char dom[256];
  size_t nl = (size_t)(at - addr) + 1, nd;
  int rv;
  if (cb == NULL)
    return SMTPC_ERR_IDNA_UNAVAILABLE;
  rv = cb(user, at + 1, dom, sizeof(dom));
  if (rv == SMTPC_ERR_NOT_SUPPORTED)
    return SMTPC_ERR_IDNA_UNAVAILABLE;
  if (rv == SMTPC_ERR_NOMEM)
    return rv;
  if (rv != SMTPC_OK)
    return SMTPC_ERR_BAD_ADDRESS; /* no A-label (that fits) */
  z = memchr(dom, '\0', sizeof(dom));
  nd = z != NULL ? (size_t)(z - dom) : sizeof(dom);
  if (nd == sizeof(dom) || nl + nd > 254 || smtpc__has_8bit(dom, nd) ||
      dom[0] == '[')
    return SMTPC_ERR_BAD_ADDRESS;
  memcpy(out, addr, nl);
  memcpy(out + nl, dom, nd + 1);
  /* what a callback gives is checked like the caller's addresses (the one
   * domain check of this file, so it stays inlined once) */
  return smtpc__check_mailbox(out, 0);
}

int smtpc__check_mailbox(const char *addr, int is_from) {
  return smtpc__check_mailbox_utf8(addr, is_from, NULL);
}

int smtpc__check_mailbox_utf8(const char *addr, int is_from, unsigned *utf8) {
  size_t n, at;
  const char *p;
  if (utf8 != NULL)
    *utf8 = 0;
  if (addr == NULL)
    return SMTPC_ERR_BAD_ADDRESS;
  n = strlen(addr);
  /* the grammar checks below refuse every ASCII control; UTF-8 is checked
   * here, only when there is some (a word-at-a-time scan otherwise) */
  if (smtpc__has_8bit(addr, n)) {
    if (!utf8_text(addr, n))
      return SMTPC_ERR_BAD_ADDRESS;
    if (utf8 != NULL)
      *utf8 = smtpc__addr_utf8(addr);
  }
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
      !smtpc__check_domain(p + 1, n - at - 1,
                           SMTPC__DOM_LITERAL | SMTPC__DOM_UTF8))
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

size_t smtpc__xtext(char *dst, const char *src, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  size_t i, o = 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)src[i];
    if (c >= '!' && c <= '~' && c != '+' && c != '=') {
      dst[o++] = (char)c;
    } else {
      dst[o++] = '+';
      dst[o++] = hex[c >> 4];
      dst[o++] = hex[c & 15];
    }
  }
  dst[o] = '\0';
  return o;
}

size_t smtpc__utf8_addr_xtext(char *dst, const char *src, size_t n, int raw) {
  static const char hex[] = "0123456789ABCDEF";
  const unsigned char *p = (const unsigned char *)src;
  size_t i = 0, o = 0, k;
  uint32_t c;
  while (i < n) {
    if ((k = smtpc__utf8_seq(p + i, n - i, &c)) == 0)
      return 0;
    if (c > ' ' && c < 127 && c != '+' && c != '=' && c != '\\') {
      dst[o++] = (char)c; /* QCHAR */
    } else if (raw && c >= 0x80) {
      memcpy(dst + o, p + i, k); /* QUCHAR: as it is (RFC 6533 3) */
      o += k;
    } else {
      /* EmbeddedUnicodeChar: \x{HEXPOINT}, 2 to 6 upper-case digits */
      int sh = c > 0xFFFFF  ? 20
               : c > 0xFFFF ? 16
               : c > 0xFFF  ? 12
               : c > 0xFF   ? 8
                            : 4;
      dst[o++] = '\\', dst[o++] = 'x', dst[o++] = '{';
      for (; sh >= 0; sh -= 4)
        dst[o++] = hex[(c >> sh) & 15];
      dst[o++] = '}';
    }
    i += k;
  }
  dst[o] = '\0';
  return o;
}

int smtpc__check_envid(const char *envid) {
  size_t i, enc = 0;
  if (envid == NULL || envid[0] == '\0')
    return SMTPC_ERR_BAD_ARGUMENT;
  /* printable US-ASCII before encoding; at most 100 characters as sent
   * (RFC 3461 4.4, 5.4) */
  for (i = 0; envid[i] != '\0'; i++) {
    unsigned char c = (unsigned char)envid[i];
    if (c < 32 || c > 126)
      return SMTPC_ERR_BAD_ARGUMENT;
    enc += (c > ' ' && c != '+' && c != '=') ? 1 : 3;
    if (enc > SMTPC__ENVID_MAX)
      return SMTPC_ERR_BAD_ARGUMENT;
  }
  return SMTPC_OK;
}

int smtpc__orcpt_encode(char *dst, const char *addr, int raw) {
  size_t n = strlen(addr), i, o;
  int ascii = 1;
  if (n == 0 || !utf8_text(addr, n))
    return SMTPC_ERR_BAD_ADDRESS;
  for (i = 0; i < n; i++)
    if ((unsigned char)addr[i] >= 0x80)
      ascii = 0;
  /* the worst case of either encoding is 10 octets per input octet
   * (\x{HH} for a control character); the limit is checked as it goes */
  if (n > SMTPC__ORCPT_MAX)
    return SMTPC_ERR_BAD_ARGUMENT;
  {
    char tmp[SMTPC__ORCPT_MAX * 10 + 16];
    if (ascii) {
      memcpy(tmp, "rfc822;", 7);
      o = 7 + smtpc__xtext(tmp + 7, addr, n);
    } else {
      memcpy(tmp, "utf-8;", 6);
      o = 6 + smtpc__utf8_addr_xtext(tmp + 6, addr, n, raw);
    }
    /* "The entire ORCPT parameter MAY be up to 500 characters" (4.2) */
    if (o + 6 > SMTPC__ORCPT_MAX)
      return SMTPC_ERR_BAD_ARGUMENT;
    memcpy(dst, tmp, o + 1);
  }
  return SMTPC_OK;
}

/* "MAIL FROM:<from>[ SIZE=n][ BODY=8BITMIME|BINARYMIME][ SMTPUTF8]" as
 * parts; num holds the SIZE text.  Returns the number of parts. */
static size_t mail_head(const char **parts, size_t *lens, char *num,
                        size_t numlen, const char *from,
                        const smtpc__mail_params *mp) {
  size_t n = 0;
  parts[n] = "MAIL FROM:<", lens[n++] = 11;
  parts[n] = from, lens[n++] = strlen(from);
  parts[n] = ">", lens[n++] = 1;
  if (mp->size >= 0) {
    int k = snprintf(num, numlen, " SIZE=%lld", (long long)mp->size);
    parts[n] = num, lens[n++] = k > 0 ? (size_t)k : 0;
  }
#ifndef SMTPC_NO_CHUNKING
  if (mp->body8bit == SMTPC__BODY_BINARY)
    parts[n] = " BODY=BINARYMIME", lens[n++] = 16;
#endif
  if (mp->body8bit == 1)
    parts[n] = " BODY=8BITMIME", lens[n++] = 14;
  if (mp->smtputf8)
    parts[n] = " SMTPUTF8", lens[n++] = 9;
  return n;
}

int smtpc__cmd_mail_plain(smtpc__buf *out, const smtpc_mem *m, const char *from,
                          const smtpc__mail_params *mp) {
  char num[32];
  const char *parts[8]; /* at most 7 */
  size_t lens[8], n = mail_head(parts, lens, num, sizeof(num), from, mp);
  parts[n] = "\r\n", lens[n++] = 2;
  return append_parts(out, m, parts, lens, n);
}

int smtpc__cmd_mail(smtpc__buf *out, const smtpc_mem *m, const char *from,
                    const smtpc__mail_params *mp) {
  char num[32], envid[SMTPC__ENVID_MAX + 8];
  const char *parts[11]; /* at most 10 */
  size_t lens[11], n = mail_head(parts, lens, num, sizeof(num), from, mp);
  if (mp->ret == SMTPC_DSN_RET_FULL)
    parts[n] = " RET=FULL", lens[n++] = 9;
  else if (mp->ret == SMTPC_DSN_RET_HDRS)
    parts[n] = " RET=HDRS", lens[n++] = 9;
  if (mp->envid != NULL) {
    /* checked by smtpc__check_envid(): at most 100 octets encoded */
    memcpy(envid, " ENVID=", 7);
    parts[n] = envid;
    lens[n++] = 7 + smtpc__xtext(envid + 7, mp->envid, strlen(mp->envid));
  }
  if (mp->requiretls) /* RFC 8689 2: after the other parameters here */
    parts[n] = " REQUIRETLS", lens[n++] = 11;
  parts[n] = "\r\n", lens[n++] = 2;
  return append_parts(out, m, parts, lens, n);
}

int smtpc__cmd_rcpt_plain(smtpc__buf *out, const smtpc_mem *m, const char *to) {
  const char *parts[3];
  size_t lens[3];
  parts[0] = "RCPT TO:<", lens[0] = 9;
  parts[1] = to, lens[1] = strlen(to);
  parts[2] = ">\r\n", lens[2] = 3;
  return append_parts(out, m, parts, lens, 3);
}

int smtpc__cmd_rcpt(smtpc__buf *out, const smtpc_mem *m, const char *to,
                    unsigned notify, const char *orcpt) {
  char nt[40];
  /* "RCPT TO:<", to, ">", NOTIFY, " ORCPT=", orcpt, CRLF */
  const char *parts[7];
  size_t lens[7], n = 0;
  parts[n] = "RCPT TO:<", lens[n++] = 9;
  parts[n] = to, lens[n++] = strlen(to);
  parts[n] = ">", lens[n++] = 1;
  if (notify != 0) {
    size_t k = 8;
    memcpy(nt, " NOTIFY=", 8);
    if (notify & SMTPC_NOTIFY_NEVER) {
      memcpy(nt + k, "NEVER", 5), k += 5;
    } else {
      static const char *const names[] = {"SUCCESS", "FAILURE", "DELAY"};
      static const unsigned bits[] = {SMTPC_NOTIFY_SUCCESS,
                                      SMTPC_NOTIFY_FAILURE, SMTPC_NOTIFY_DELAY};
      size_t i;
      for (i = 0; i < 3; i++) {
        if (!(notify & bits[i]))
          continue;
        if (k > 8)
          nt[k++] = ',';
        memcpy(nt + k, names[i], strlen(names[i]));
        k += strlen(names[i]);
      }
    }
    parts[n] = nt, lens[n++] = k;
  }
  if (orcpt != NULL) {
    parts[n] = " ORCPT=", lens[n++] = 7;
    parts[n] = orcpt, lens[n++] = strlen(orcpt);
  }
  parts[n] = "\r\n", lens[n++] = 2;
  return append_parts(out, m, parts, lens, n);
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
