/* SPDX-License-Identifier: MIT */
/* EHLO reply parser (RFC 5321 4.1.1.1 and the extension RFCs).
 *
 *   ehlo-ok-rsp = "250" SP Domain [ SP ehlo-greet ] CRLF
 *               / ( "250-" Domain [ SP ehlo-greet ] CRLF
 *                 *( "250-" ehlo-line CRLF )
 *                 "250" SP ehlo-line CRLF )
 *   ehlo-line   = ehlo-keyword *( SP ehlo-param )
 *
 * Keywords are case-insensitive and stored upper-cased.  Lines that are not
 * a valid keyword are skipped: an unknown or odd extension must never stop a
 * client from sending mail. */
#include "smtpc_int.h"

#include "ascii.h"

#include <string.h>

void smtpc__caps_clear(smtpc__caps *c, const smtpc_mem *m) {
  size_t i;
  for (i = 0; i < c->n; i++) {
    smtpc__free(m, c->list[i].keyword);
    smtpc__free(m, c->list[i].params);
  }
  smtpc__free(m, c->list);
  smtpc__free(m, c->auth);
  memset(c, 0, sizeof(*c));
  c->size = -1;
}

const char *smtpc__caps_params(const smtpc__caps *c, const char *keyword) {
  size_t i;
  /* AUTH and legacy AUTH= lines are merged into one mechanism list. */
  if (c->auth != NULL && smtpc__strcasecmp(keyword, "AUTH") == 0)
    return c->auth;
  for (i = 0; i < c->n; i++)
    if (smtpc__strcasecmp(c->list[i].keyword, keyword) == 0)
      return c->list[i].params;
  return NULL;
}

/* Appends the space-separated mechanisms in s to c->auth, upper-cased,
 * skipping ones already present. */
static int add_auth(smtpc__caps *c, const smtpc_mem *m, const char *s) {
  while (*s) {
    size_t n, have = c->auth ? strlen(c->auth) : 0, k;
    const char *w;
    char *na;
    int dup = 0;
    while (*s == ' ')
      s++;
    n = strcspn(s, " ");
    if (n == 0)
      break;
    /* duplicate check */
    for (w = c->auth; w && *w;) {
      size_t wn = strcspn(w, " ");
      if (wn == n && smtpc__strncasecmp(w, s, n) == 0) {
        dup = 1;
        break;
      }
      w += wn;
      while (*w == ' ')
        w++;
    }
    if (!dup) {
      na = smtpc__realloc(m, c->auth, have + n + 2);
      if (na == NULL)
        return SMTPC_ERR_NOMEM;
      c->auth = na;
      if (have > 0)
        na[have++] = ' ';
      for (k = 0; k < n; k++)
        na[have + k] = (char)smtpc__toupper((unsigned char)s[k]);
      na[have + n] = '\0';
    }
    s += n;
  }
  return SMTPC_OK;
}

/* Parses "SIZE [n]": the number, or 0 ("no stated limit", RFC 1870) when
 * there is none or it is not a plain decimal. */
static int64_t parse_size(const char *p) {
  int64_t v = 0;
  if (*p == '\0')
    return 0;
  for (; smtpc__isdigit((unsigned char)*p); p++) {
    if (v > (INT64_MAX - 9) / 10)
      return 0; /* absurdly large: behave as unlimited */
    v = v * 10 + (*p - '0');
  }
  return (*p == '\0' || *p == ' ') ? v : 0;
}

#ifndef SMTPC_NO_LIMITS
/* RFC 9422 4: "LIMITS" *(SP name "=" value), names case-insensitive.  Only
 * MAILMAX, RCPTMAX and RCPTDOMAINMAX are known; a value that is not a
 * decimal from 1 to 10^9 leaves its limit unset (unknown or malformed
 * limits are ignored), and the first of a repeated name counts. */
static void parse_limits(smtpc__caps *c, const char *p) {
  static const char *const names[3] = {
      "MAILMAX=", "RCPTMAX=", "RCPTDOMAINMAX="};
  size_t *const slot[3] = {&c->mailmax, &c->rcptmax, &c->rcptdommax};
  while (*p != '\0') {
    size_t i, n = 0, digits = 0;
    uint64_t v = 0;
    for (i = 0; i < 3; i++) {
      n = strlen(names[i]);
      if (smtpc__strncasecmp(p, names[i], n) == 0)
        break;
    }
    if (i < 3) {
      const char *q = p + n;
      while (smtpc__isdigit((unsigned char)*q) && digits < 11) {
        v = v * 10 + (uint64_t)(*q++ - '0');
        digits++;
      }
      if ((*q == ' ' || *q == '\0') && digits > 0 && digits <= 10 && v >= 1 &&
          v <= 1000000000u && *slot[i] == 0)
        *slot[i] = (size_t)v;
    }
    p += strcspn(p, " ");
    p += strspn(p, " ");
  }
}
#endif

int smtpc__caps_parse(smtpc__caps *c, const smtpc_mem *m,
                      const smtpc_reply *r) {
  size_t i;
  smtpc__caps_clear(c, m);
  if (r->nlines > 1) {
    c->list = smtpc__calloc(m, r->nlines - 1, sizeof(*c->list));
    if (c->list == NULL)
      return SMTPC_ERR_NOMEM;
  }
  for (i = 1; i < r->nlines; i++) {
    const char *l = r->raw + r->line_off[i];
    const char *kw = strlen(l) > 4 ? l + 4 : "";
    size_t kn = 0, k;
    const char *params;
    smtpc__cap *cap;
    int legacy_auth = 0;
    /* ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
    while (smtpc__isalnum((unsigned char)kw[kn]) || (kn > 0 && kw[kn] == '-'))
      kn++;
    if (kn == 0)
      continue;
    if (kw[kn] == '=' && kn == 4 && smtpc__strncasecmp(kw, "AUTH", 4) == 0) {
      legacy_auth = 1; /* pre-RFC 2554 "AUTH=LOGIN PLAIN" */
    } else if (kw[kn] != '\0' && kw[kn] != ' ') {
      continue;
    }
    params = kw + kn;
    while (*params == ' ' || *params == '=')
      params++;
    if (legacy_auth) {
      if (add_auth(c, m, params) != SMTPC_OK)
        return SMTPC_ERR_NOMEM;
      c->flags |= SMTPC__CAP_AUTH;
      if (smtpc__caps_params(c, "AUTH") != NULL)
        continue;
    }
    cap = &c->list[c->n];
    cap->keyword = smtpc__strndup(m, kw, kn);
    cap->params = smtpc__strdup(m, params);
    if (cap->keyword == NULL || cap->params == NULL) {
      smtpc__free(m, cap->keyword);
      smtpc__free(m, cap->params);
      cap->keyword = cap->params = NULL;
      return SMTPC_ERR_NOMEM;
    }
    c->n++;
    for (k = 0; k < kn; k++)
      cap->keyword[k] = (char)smtpc__toupper(cap->keyword[k]);
    if (strcmp(cap->keyword, "PIPELINING") == 0)
      c->flags |= SMTPC__CAP_PIPELINING;
    else if (strcmp(cap->keyword, "8BITMIME") == 0)
      c->flags |= SMTPC__CAP_8BITMIME;
    else if (strcmp(cap->keyword, "STARTTLS") == 0)
      c->flags |= SMTPC__CAP_STARTTLS;
    else if (strcmp(cap->keyword, "ENHANCEDSTATUSCODES") == 0)
      c->flags |= SMTPC__CAP_ENHANCED;
    else if (strcmp(cap->keyword, "SMTPUTF8") == 0)
      c->flags |= SMTPC__CAP_SMTPUTF8;
    else if (strcmp(cap->keyword, "CHUNKING") == 0)
      c->flags |= SMTPC__CAP_CHUNKING;
    else if (strcmp(cap->keyword, "DSN") == 0)
      c->flags |= SMTPC__CAP_DSN;
    else if (strcmp(cap->keyword, "SIZE") == 0) {
      c->flags |= SMTPC__CAP_SIZE;
      c->size = parse_size(params); /* RFC 1870: "SIZE" alone = no limit */
#ifndef SMTPC_NO_LIMITS
    } else if (strcmp(cap->keyword, "LIMITS") == 0) {
      parse_limits(c, params);
#endif
    } else if (strcmp(cap->keyword, "AUTH") == 0 && !legacy_auth) {
      c->flags |= SMTPC__CAP_AUTH;
      if (add_auth(c, m, params) != SMTPC_OK)
        return SMTPC_ERR_NOMEM;
    }
  }
  if (c->auth == NULL && (c->flags & SMTPC__CAP_AUTH)) {
    c->auth = smtpc__strdup(m, "");
    if (c->auth == NULL)
      return SMTPC_ERR_NOMEM;
  }
  return SMTPC_OK;
}
