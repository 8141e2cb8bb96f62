/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: the internationalised-address and DSN helpers of
 * lib/command.c, checked against independent code here.
 *
 * Input:
 *   byte 0   bit 0     is_from for smtpc__check_mailbox()
 *            bit 1     raw (utf-8-addr-unitext) for the RFC 6533 forms
 *            bits 2-5  NOTIFY bits for the composed RCPT (NEVER is made to
 *                      stand alone)
 *            bits 6-7  RET for the composed MAIL
 *   the rest the text (for the string functions: up to the first NUL)
 *
 * Checks:
 *   smtpc__utf8_seq() agrees with the decoder below (RFC 3629 table 3-7
 *   by ranges) at every offset; smtpc__check_mailbox() never accepts
 *   ill-formed UTF-8, a C0 or C1 control or DEL, or more than 254 octets,
 *   and smtpc__addr_utf8() says where its non-ASCII octets are;
 *   smtpc__xtext() writes only '!'..'~' without '=', '+' only as "+HH"
 *   (upper case), exactly 1 or 3 characters per octet, and decodes back;
 *   smtpc__utf8_addr_xtext() is 0 exactly for ill-formed input, otherwise
 *   writes no '+', '=', space or control, '\' only in "\x{HEX}" (2-6
 *   upper-case digits, no needless leading zero), raw octets >= 0x80 only
 *   in the raw form, and decodes back;
 *   smtpc__check_envid() accepts exactly non-empty printable ASCII of at
 *   most 100 characters once encoded;
 *   smtpc__orcpt_encode() is "rfc822;" + xtext or "utf-8;" + the RFC 6533
 *   form, never over 500 characters with "ORCPT=", and refuses only what
 *   is over or ill-formed;
 *   smtpc__cmd_mail() / smtpc__cmd_rcpt() with an accepted mailbox give
 *   exactly the line built here. */
#include "smtpc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                                              \
  do {                                                                         \
    fprintf(stderr, "fuzz_intl: " __VA_ARGS__);                                \
    fputc('\n', stderr);                                                       \
    abort();                                                                   \
  } while (0)

static void *m_malloc(void *u, size_t n) {
  (void)u;
  return malloc(n);
}
static void *m_realloc(void *u, void *p, size_t n) {
  (void)u;
  return realloc(p, n);
}
static void m_free(void *u, void *p) {
  (void)u;
  free(p);
}
static const smtpc_mem mem = {NULL, m_malloc, m_realloc, m_free};

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL)
    abort();
  return p;
}

/* Well-formed UTF-8 by the byte ranges of RFC 3629 section 4: the length of
 * the sequence at p[0..n) and its code point, or 0. */
static size_t ref_seq(const unsigned char *p, size_t n, unsigned long *cp) {
  unsigned char b0 = p[0];
  size_t len, i;
  unsigned char lo = 0x80, hi = 0xBF;
  unsigned long c;
  if (n == 0)
    return 0;
  if (b0 <= 0x7F) {
    *cp = b0;
    return 1;
  }
  if (b0 >= 0xC2 && b0 <= 0xDF)
    len = 2, c = b0 & 0x1Fu;
  else if (b0 == 0xE0)
    len = 3, lo = 0xA0, c = 0;
  else if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF)
    len = 3, c = b0 & 0x0Fu;
  else if (b0 == 0xED)
    len = 3, hi = 0x9F, c = 0x0D;
  else if (b0 == 0xF0)
    len = 4, lo = 0x90, c = 0;
  else if (b0 >= 0xF1 && b0 <= 0xF3)
    len = 4, c = b0 & 0x07u;
  else if (b0 == 0xF4)
    len = 4, hi = 0x8F, c = 4;
  else
    return 0;
  if (n < len)
    return 0;
  /* only the second octet has a narrowed range */
  if (p[1] < lo || p[1] > hi)
    return 0;
  for (i = 1; i < len; i++) {
    if (p[i] < 0x80 || p[i] > 0xBF)
      return 0;
    c = (c << 6) | (p[i] & 0x3Fu);
  }
  *cp = c;
  return len;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1; /* lower case is not what the library writes */
}

static size_t put_utf8(unsigned char *d, unsigned long c) {
  if (c < 0x80) {
    d[0] = (unsigned char)c;
    return 1;
  }
  if (c < 0x800) {
    d[0] = (unsigned char)(0xC0 | (c >> 6));
    d[1] = (unsigned char)(0x80 | (c & 0x3F));
    return 2;
  }
  if (c < 0x10000) {
    d[0] = (unsigned char)(0xE0 | (c >> 12));
    d[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    d[2] = (unsigned char)(0x80 | (c & 0x3F));
    return 3;
  }
  d[0] = (unsigned char)(0xF0 | (c >> 18));
  d[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
  d[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
  d[3] = (unsigned char)(0x80 | (c & 0x3F));
  return 4;
}

/* 1 if s[0..n) is well-formed UTF-8 (and, with text, free of C0/C1 and
 * DEL). */
static int ref_utf8(const unsigned char *s, size_t n, int text) {
  size_t i = 0, k;
  unsigned long c;
  while (i < n) {
    if ((k = ref_seq(s + i, n - i, &c)) == 0)
      return 0;
    if (text && (c < 32 || (c >= 127 && c < 160)))
      return 0;
    i += k;
  }
  return 1;
}

static void check_seq(const unsigned char *d, size_t n) {
  size_t i, k, r;
  uint32_t cp;
  unsigned long rc;
  for (i = 0; i < n; i++) {
    cp = 0xFFFFFFFFu;
    k = smtpc__utf8_seq(d + i, n - i, &cp);
    r = ref_seq(d + i, n - i, &rc);
    if (k != r || (k != 0 && cp != rc))
      FAIL("utf8_seq at %zu: %zu U+%lX, reference %zu U+%lX", i, k,
           (unsigned long)cp, r, rc);
  }
}

static size_t xtext_decode(const char *x, size_t n, unsigned char *out) {
  size_t i, o = 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)x[i];
    if (c < '!' || c > '~' || c == '=')
      FAIL("xtext has 0x%02x at %zu", c, i);
    if (c == '+') {
      int h, l;
      if (i + 2 >= n)
        FAIL("xtext '+' at the end");
      h = hexval((unsigned char)x[i + 1]);
      l = hexval((unsigned char)x[i + 2]);
      if (h < 0 || l < 0)
        FAIL("xtext '+' at %zu not followed by two upper-case digits", i);
      c = (unsigned char)(h * 16 + l);
      if (c >= '!' && c <= '~' && c != '+' && c != '=')
        FAIL("xtext encodes '%c', which stands for itself", c);
      i += 2;
    }
    out[o++] = c;
  }
  return o;
}

static void check_xtext(const unsigned char *d, size_t n) {
  char *x = xmalloc(3 * n + 1);
  unsigned char *back = xmalloc(n + 1);
  size_t len = smtpc__xtext(x, (const char *)d, n), want = 0, i, m;
  for (i = 0; i < n; i++)
    want += (d[i] >= '!' && d[i] <= '~' && d[i] != '+' && d[i] != '=') ? 1 : 3;
  if (len != want || x[len] != '\0' || strlen(x) != len)
    FAIL("xtext length %zu, want %zu", len, want);
  m = xtext_decode(x, len, back);
  if (m != n || (n && memcmp(back, d, n) != 0))
    FAIL("xtext does not decode back");
  free(x);
  free(back);
}

/* Decodes the RFC 6533 form; returns the octets written, fails on anything
 * the encoder must not write. */
static size_t ux_decode(const char *x, size_t n, int raw, unsigned char *out) {
  size_t i = 0, o = 0;
  while (i < n) {
    unsigned char c = (unsigned char)x[i];
    if (c == '\\') {
      unsigned long cp = 0;
      size_t j = i + 3, digits = 0;
      if (i + 3 >= n || x[i + 1] != 'x' || x[i + 2] != '{')
        FAIL("'\\' not in \\x{...} at %zu", i);
      while (j < n && x[j] != '}') {
        int h = hexval((unsigned char)x[j]);
        if (h < 0)
          FAIL("bad hex digit in \\x{} at %zu", j);
        cp = cp * 16 + (unsigned long)h;
        j++, digits++;
      }
      if (j == n || digits < 2 || digits > 6)
        FAIL("\\x{} with %zu digits", digits);
      if (digits > 2 && x[i + 3] == '0')
        FAIL("\\x{} with a needless leading zero");
      if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        FAIL("\\x{%lX} is not a scalar value", cp);
      if (cp > ' ' && cp < 127 && cp != '+' && cp != '=' && cp != '\\')
        FAIL("\\x{%lX} escapes a QCHAR", cp);
      if (raw && cp >= 0x80)
        FAIL("raw form escapes U+%lX", cp);
      o += put_utf8(out + o, cp);
      i = j + 1;
      continue;
    }
    if (c >= 0x80) {
      unsigned long cp;
      size_t k = ref_seq((const unsigned char *)x + i, n - i, &cp);
      if (!raw)
        FAIL("octet 0x%02x in the xtext form", c);
      if (k == 0)
        FAIL("ill-formed UTF-8 written at %zu", i);
      memcpy(out + o, x + i, k);
      o += k, i += k;
      continue;
    }
    if (c <= ' ' || c >= 127 || c == '+' || c == '=')
      FAIL("0x%02x written as it is", c);
    out[o++] = c;
    i++;
  }
  return o;
}

static void check_ux(const unsigned char *d, size_t n, int raw) {
  char *x = xmalloc(10 * n + 1);
  unsigned char *back = xmalloc(n + 1);
  size_t len = smtpc__utf8_addr_xtext(x, (const char *)d, n, raw), m;
  int ok = ref_utf8(d, n, 0);
  if (!ok) {
    if (len != 0)
      FAIL("utf8_addr_xtext took ill-formed input");
  } else {
    if (x[len] != '\0' || strlen(x) != len || (n > 0 && len == 0))
      FAIL("utf8_addr_xtext length %zu", len);
    m = ux_decode(x, len, raw, back);
    if (m != n || (n && memcmp(back, d, n) != 0))
      FAIL("utf8_addr_xtext does not decode back");
  }
  free(x);
  free(back);
}

static void check_envid(const char *s) {
  size_t i, enc = 0;
  int ok = s[0] != '\0', rv = smtpc__check_envid(s);
  for (i = 0; s[i]; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 32 || c > 126)
      ok = 0;
    enc += (c >= '!' && c <= '~' && c != '+' && c != '=') ? 1 : 3;
  }
  if (enc > 100)
    ok = 0;
  if ((rv == SMTPC_OK) != ok ||
      (rv != SMTPC_OK && rv != SMTPC_ERR_BAD_ARGUMENT))
    FAIL("check_envid %d, reference %d (%zu encoded)", rv, ok, enc);
}

static void check_orcpt(const char *s, int raw) {
  char dst[SMTPC__ORCPT_MAX + 1];
  size_t n = strlen(s), i, want_len;
  int ascii = 1, rv, text = ref_utf8((const unsigned char *)s, n, 1);
  char *want = xmalloc(10 * n + 16);
  for (i = 0; i < n; i++)
    if ((unsigned char)s[i] >= 0x80)
      ascii = 0;
  if (ascii) {
    memcpy(want, "rfc822;", 7);
    want_len = 7 + smtpc__xtext(want + 7, s, n);
  } else {
    memcpy(want, "utf-8;", 6);
    want_len = 6 + smtpc__utf8_addr_xtext(want + 6, s, n, raw);
  }
  rv = smtpc__orcpt_encode(dst, s, raw);
  if (n == 0 || !text) {
    if (rv != SMTPC_ERR_BAD_ADDRESS)
      FAIL("orcpt_encode of bad text: %d", rv);
  } else if (want_len + 6 > SMTPC__ORCPT_MAX) {
    if (rv != SMTPC_ERR_BAD_ARGUMENT)
      FAIL("orcpt_encode of %zu characters: %d", want_len, rv);
  } else {
    if (rv != SMTPC_OK || strlen(dst) != want_len ||
        memcmp(dst, want, want_len) != 0)
      FAIL("orcpt_encode %d: \"%s\"", rv, rv == SMTPC_OK ? dst : "");
  }
  if (rv == SMTPC_OK && strlen("ORCPT=") + strlen(dst) > SMTPC__ORCPT_MAX)
    FAIL("ORCPT of %zu characters", strlen(dst) + 6);
  free(want);
}

static void check_mailbox(const char *s, int is_from, int raw, unsigned notify,
                          int ret) {
  size_t n = strlen(s), i;
  int rv = smtpc__check_mailbox(s, is_from);
  unsigned f, want = 0;
  const char *at;
  if (rv != SMTPC_OK && rv != SMTPC_ERR_BAD_ADDRESS)
    FAIL("check_mailbox returned %d", rv);
  if (rv != SMTPC_OK)
    return;
  if (!ref_utf8((const unsigned char *)s, n, 1))
    FAIL("check_mailbox accepted ill-formed UTF-8 or a control");
  if (n > 254)
    FAIL("check_mailbox accepted %zu octets", n);
  at = strrchr(s, '@');
  for (i = 0; i < n; i++)
    if ((unsigned char)s[i] >= 0x80)
      want |=
          (at != NULL && s + i > at) ? SMTPC__UTF8_DOMAIN : SMTPC__UTF8_LOCAL;
  if ((f = smtpc__addr_utf8(s)) != want)
    FAIL("addr_utf8 %u, want %u", f, want);

  /* the composers, with this mailbox */
  {
    smtpc__buf b;
    smtpc__mail_params mp;
    char orcpt[SMTPC__ORCPT_MAX + 1], *line;
    const char *o = NULL;
    size_t cap = 2 * n + 2 * SMTPC__ORCPT_MAX + 256, k;
    static const char *const names[] = {"SUCCESS", "FAILURE", "DELAY"};
    line = xmalloc(cap);
    memset(&b, 0, sizeof(b));
    memset(&mp, 0, sizeof(mp));
    mp.size = (long long)n * 1000;
    mp.body8bit = notify & 1;
    mp.smtputf8 = want != 0;
    mp.ret = ret;
    mp.envid = smtpc__check_envid(s) == SMTPC_OK ? s : NULL;
    if (smtpc__cmd_mail(&b, &mem, s, &mp) != SMTPC_OK)
      FAIL("cmd_mail");
    k = (size_t)snprintf(
        line, cap, "MAIL FROM:<%s> SIZE=%lld%s%s%s", s, (long long)mp.size,
        mp.body8bit ? " BODY=8BITMIME" : "", mp.smtputf8 ? " SMTPUTF8" : "",
        ret == 1   ? " RET=FULL"
        : ret == 2 ? " RET=HDRS"
                   : "");
    if (mp.envid != NULL) {
      memcpy(line + k, " ENVID=", 7);
      k += 7 + smtpc__xtext(line + k + 7, s, n);
    }
    memcpy(line + k, "\r\n", 3);
    k += 2;
    if (smtpc__buf_avail(&b) != k || memcmp(smtpc__buf_head(&b), line, k))
      FAIL("MAIL differs: \"%.*s\"", (int)smtpc__buf_avail(&b),
           (const char *)smtpc__buf_head(&b));
    smtpc__buf_free(&b, &mem);

    if (n > 0 && smtpc__orcpt_encode(orcpt, s, raw) == SMTPC_OK)
      o = orcpt;
    memset(&b, 0, sizeof(b));
    if (smtpc__cmd_rcpt(&b, &mem, s, notify, o) != SMTPC_OK)
      FAIL("cmd_rcpt");
    k = (size_t)snprintf(line, cap, "RCPT TO:<%s>", s);
    if (notify != 0) {
      k += (size_t)snprintf(line + k, cap - k, " NOTIFY=");
      if (notify & SMTPC_NOTIFY_NEVER) {
        k += (size_t)snprintf(line + k, cap - k, "NEVER");
      } else {
        int first = 1;
        for (i = 0; i < 3; i++)
          if (notify & (2u << i)) {
            k += (size_t)snprintf(line + k, cap - k, "%s%s", first ? "" : ",",
                                  names[i]);
            first = 0;
          }
      }
    }
    if (o != NULL)
      k += (size_t)snprintf(line + k, cap - k, " ORCPT=%s", o);
    k += (size_t)snprintf(line + k, cap - k, "\r\n");
    if (smtpc__buf_avail(&b) != k || memcmp(smtpc__buf_head(&b), line, k))
      FAIL("RCPT differs: \"%.*s\"", (int)smtpc__buf_avail(&b),
           (const char *)smtpc__buf_head(&b));
    smtpc__buf_free(&b, &mem);
    free(line);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unsigned sel, notify;
  const unsigned char *d;
  size_t n;
  char *s;
  if (size < 1)
    return 0;
  sel = data[0];
  d = data + 1;
  n = size - 1;
  notify = (sel >> 2) & 15u;
  if (notify & SMTPC_NOTIFY_NEVER)
    notify = SMTPC_NOTIFY_NEVER;

  check_seq(d, n);
  check_xtext(d, n);
  check_ux(d, n, (sel >> 1) & 1);

  s = xmalloc(n + 1);
  memcpy(s, d, n);
  s[n] = '\0';
  check_envid(s);
  check_orcpt(s, (sel >> 1) & 1);
  check_mailbox(s, sel & 1, (sel >> 1) & 1, notify, (int)(sel >> 6) % 3);
  free(s);
  return 0;
}
