/* SPDX-License-Identifier: MIT */
/* Server names for the TLS adapter: normalising, RFC 9525 matching and the
 * names shown in messages (tls_host.h).  No mbedTLS here: the adapter hands
 * over the raw subjectAltName entries, so the rules are the same on every
 * mbedTLS version (whose own matcher falls back to the subject CN and lets
 * "*.test" match "example.test") and are tested without a handshake. */
#include "tls_host.h"

#include <stdio.h>
#include <string.h>

/* ---- parsing ------------------------------------------------------------- */

/* Strict dotted quad, no leading zeros, whole string.  1 on success. */
static int parse_ipv4(const char *s, size_t n, unsigned char out[4]) {
  size_t i = 0;
  int part;
  for (part = 0; part < 4; part++) {
    unsigned v = 0;
    size_t digits = 0;
    if (part > 0) {
      if (i >= n || s[i] != '.')
        return 0;
      i++;
    }
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      if (digits == 1 && v == 0)
        return 0; /* leading zero */
      v = v * 10 + (unsigned)(s[i] - '0');
      if (++digits > 3 || v > 255)
        return 0;
      i++;
    }
    if (digits == 0)
      return 0;
    out[part] = (unsigned char)v;
  }
  return i == n;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* One group of up to four hex digits at s[*i..n), then ':' or the end.
 * Returns the group's value, -1 for a syntax error, -2 when s[*i..n) is an
 * embedded dotted quad (left to the caller). */
static long ipv6_group(const char *s, size_t n, size_t *i) {
  size_t j = *i, digits = 0;
  long v = 0;
  while (j < n && hexval(s[j]) >= 0 && digits < 5) {
    v = v << 4 | hexval(s[j]);
    j++;
    digits++;
  }
  if (j < n && s[j] == '.')
    return -2;
  if (digits == 0 || digits > 4)
    return -1;
  *i = j;
  return v;
}

/* Places the groups before and after "::" (len bytes, the gap at gap). */
static int ipv6_finish(const unsigned char *tmp, size_t len, int have_gap,
                       size_t gap, unsigned char out[16]) {
  if (!have_gap) {
    if (len != 16)
      return 0;
    memcpy(out, tmp, 16);
    return 1;
  }
  if (len > 14)
    return 0; /* "::" must stand for at least one group */
  memset(out, 0, 16);
  memcpy(out, tmp, gap);
  memcpy(out + 16 - (len - gap), tmp + gap, len - gap);
  return 1;
}

/* RFC 4291 section 2.2 text form (with "::" and a dotted-quad tail).
 * 1 on success. */
static int parse_ipv6(const char *s, size_t n, unsigned char out[16]) {
  unsigned char tmp[16];
  size_t i = 0, len = 0, gap = 0;
  int have_gap = 0;

  if (n >= 2 && s[0] == ':' && s[1] == ':') {
    have_gap = 1;
    i = 2;
  } else if (n >= 1 && s[0] == ':') {
    return 0;
  }
  while (i < n) {
    long v = ipv6_group(s, n, &i);
    if (v == -2) { /* embedded IPv4, must end the string */
      if (len > 12 || !parse_ipv4(s + i, n - i, tmp + len))
        return 0;
      len += 4;
      break;
    }
    if (v < 0 || len > 14)
      return 0;
    tmp[len++] = (unsigned char)(v >> 8);
    tmp[len++] = (unsigned char)(v & 0xff);
    if (i == n)
      break;
    if (s[i] != ':' || ++i == n)
      return 0; /* not a separator, or a trailing single colon */
    if (s[i] == ':') {
      if (have_gap)
        return 0;
      have_gap = 1;
      gap = len;
      i++;
    }
  }
  return ipv6_finish(tmp, len, have_gap, gap, out);
}

/* 1 if s[0..n) is a DNS name of letters, digits, '-', '_' and '.'. */
static int dns_name_ok(const char *s, size_t n) {
  size_t i;
  if (n == 0 || n > 253)
    return 0;
  for (i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
      return 0;
  }
  return 1;
}

/* Parses in[0..n) into name bounds and the address, if it is one. */
static int parse_peer(const char *s, size_t n, const char **name,
                      size_t *name_len, unsigned char ip[16], size_t *ip_len) {
  int bracket = 0;
  *ip_len = 0;
  if (s[0] == '[') {
    if (n < 3 || s[n - 1] != ']')
      return SMTPC_ERR_BAD_ARGUMENT;
    bracket = 1;
    s++;
    n -= 2;
    if (n > 5 && smtpc__strncasecmp(s, "IPv6:", 5) == 0) {
      s += 5;
      n -= 5;
      if (!parse_ipv6(s, n, ip))
        return SMTPC_ERR_BAD_ARGUMENT;
      *ip_len = 16;
    }
  }
  if (*ip_len == 0) {
    if (parse_ipv4(s, n, ip))
      *ip_len = 4;
    else if (parse_ipv6(s, n, ip))
      *ip_len = 16;
  }
  if (*ip_len == 0) {
    if (bracket)
      return SMTPC_ERR_BAD_ARGUMENT;
    if (s[n - 1] == '.')
      n--; /* absolute form: the same name */
    if (!dns_name_ok(s, n))
      return SMTPC_ERR_BAD_ARGUMENT;
  }
  *name = s;
  *name_len = n;
  return SMTPC_OK;
}

void smtpc__tls_peer_clear(smtpc__tls_peer *p, const smtpc_mem *m) {
  smtpc__free(m, p->name);
  memset(p, 0, sizeof *p);
}

int smtpc__tls_peer_set(smtpc__tls_peer *p, const smtpc_mem *m,
                        const char *in) {
  size_t n = strlen(in), i, name_len = 0;
  const char *name = NULL;
  int rc;

  smtpc__tls_peer_clear(p, m);
  if (n == 0 || n > 260)
    return SMTPC_ERR_BAD_ARGUMENT;
  for (i = 0; i < n; i++)
    if ((unsigned char)in[i] <= 0x20 || (unsigned char)in[i] >= 0x7f)
      return SMTPC_ERR_BAD_ARGUMENT;
  rc = parse_peer(in, n, &name, &name_len, p->ip, &p->ip_len);
  if (rc == SMTPC_OK) {
    p->name = smtpc__strndup(m, name, name_len);
    if (p->name == NULL)
      rc = SMTPC_ERR_NOMEM;
  }
  if (rc != SMTPC_OK)
    smtpc__tls_peer_clear(p, m);
  return rc;
}

/* ---- matching (RFC 9525) -------------------------------------------------- */

/* 1 if p[0..n) equals s[0..n), ignoring ASCII case (p may hold any byte). */
static int same_nocase(const unsigned char *p, const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned a = p[i], b = (unsigned char)s[i];
    if (a >= 'A' && a <= 'Z')
      a += 'a' - 'A';
    if (b >= 'A' && b <= 'Z')
      b += 'a' - 'A';
    if (a != b)
      return 0;
  }
  return 1;
}

/* 1 if p[0..n) is at least two labels, none empty ("example.test"). */
static int two_labels(const unsigned char *p, size_t n) {
  size_t i, labels = 1, len = 0;
  for (i = 0; i < n; i++) {
    if (p[i] != '.') {
      len++;
    } else if (len == 0) {
      return 0;
    } else {
      labels++;
      len = 0;
    }
  }
  return len > 0 && labels >= 2;
}

/* 1 if the dNSName id[0..n) names host (RFC 9525 section 6.3): equal
 * ignoring case, or "*." then at least two labels, where the "*" stands for
 * exactly the first label of host.  So "*.example.test" names
 * "a.example.test" but neither "example.test" nor "a.b.example.test";
 * "*.test" names nothing; "f*.example.test" is no wildcard. */
static int dns_id_matches(const unsigned char *id, size_t n, const char *host) {
  size_t hn = strlen(host);
  const char *dot;
  if (n < 2 || id[0] != '*' || id[1] != '.')
    return n == hn && same_nocase(id, host, n);
  id += 2;
  n -= 2;
  dot = memchr(host, '.', hn);
  if (!two_labels(id, n) || dot == NULL || dot == host)
    return 0;
  return hn - (size_t)(dot + 1 - host) == n && same_nocase(id, dot + 1, n);
}

int smtpc__tls_san_names_peer(const smtpc__tls_peer *p, int tag,
                              const unsigned char *id, size_t n) {
  if (p->name == NULL || id == NULL)
    return 0;
  if (p->ip_len != 0)
    return tag == SMTPC__SAN_IP && n == p->ip_len && memcmp(id, p->ip, n) == 0;
  return tag == SMTPC__SAN_DNS && dns_id_matches(id, n, p->name);
}

/* ---- names for messages --------------------------------------------------- */

/* Appends printable bytes of p[0..n) to dst (NUL-terminated, capacity cap),
 * replacing anything else by '?'. */
static void append_printable(char *dst, size_t cap, const unsigned char *p,
                             size_t n) {
  size_t len = strlen(dst), i;
  for (i = 0; i < n && len + 1 < cap; i++)
    dst[len++] = (p[i] > 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
  dst[len] = '\0';
}

/* Appends our own text (trusted, spaces allowed). */
static void append_str(char *dst, size_t cap, const char *s) {
  size_t len = strlen(dst), n = strlen(s);
  if (n > cap - 1 - len)
    n = cap - 1 - len;
  memcpy(dst + len, s, n);
  dst[len + n] = '\0';
}

void smtpc__tls_format_ip(char *out, size_t cap, const unsigned char *ip,
                          size_t len) {
  if (len == 4) {
    (void)snprintf(out, cap, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
  } else if (len == 16) {
    size_t i, o = 0;
    out[0] = '\0';
    for (i = 0; i < 16 && o < cap; i += 2) {
      int k = snprintf(out + o, cap - o, i == 0 ? "%x" : ":%x",
                       (unsigned)(ip[i] << 8 | ip[i + 1]));
      if (k < 0)
        break;
      o += (size_t)k;
    }
  } else {
    (void)snprintf(out, cap, "(bad address)");
  }
}

void smtpc__tls_names_init(smtpc__tls_names *n) {
  n->text[0] = '\0';
  n->shown = 0;
  n->more = 0;
}

void smtpc__tls_names_add(smtpc__tls_names *n, int tag, const unsigned char *id,
                          size_t len) {
  char ipbuf[48];
  if (id == NULL || len == 0 || (tag != SMTPC__SAN_DNS && tag != SMTPC__SAN_IP))
    return;
  if (n->shown == 3 || strlen(n->text) + 24 > sizeof n->text) {
    n->more++;
    return;
  }
  if (n->shown > 0)
    append_str(n->text, sizeof n->text, n->shown == 1 ? " (or " : ", ");
  if (tag == SMTPC__SAN_DNS) {
    append_printable(n->text, sizeof n->text, id, len);
  } else {
    smtpc__tls_format_ip(ipbuf, sizeof ipbuf, id, len);
    append_str(n->text, sizeof n->text, ipbuf);
  }
  n->shown++;
}

void smtpc__tls_names_end(smtpc__tls_names *n, const unsigned char *cn,
                          size_t cn_len) {
  if (n->shown > 1) {
    if (n->more > 0) {
      char tail[40];
      (void)snprintf(tail, sizeof tail, " and %lu more",
                     (unsigned long)n->more);
      append_str(n->text, sizeof n->text, tail);
    }
    append_str(n->text, sizeof n->text, ")");
  }
  if (n->shown > 0)
    return;
  if (cn != NULL)
    append_printable(n->text, sizeof n->text, cn, cn_len);
  else
    append_str(n->text, sizeof n->text, "no name");
}
