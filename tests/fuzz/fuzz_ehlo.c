/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: the EHLO capability parser (lib/ehlo.c) on replies
 * from the real reply parser, and the queries made of its result.
 *
 * Input:
 *   byte 0     bit 0: the reply parser reads enhanced status codes
 *   the rest   a server reply ("250-mx.example\r\n250-SIZE 1000\r\n...");
 *              whatever follows the first complete reply is a keyword to
 *              look up (up to its first NUL, CR or LF, at most 64 bytes)
 *
 * Checked: parsing never fails but for memory; every stored keyword is a
 * valid ehlo-keyword in upper case and its parameters hold no control
 * line breaks or leading separators; the feature flags, the SIZE value and
 * the AUTH mechanism list agree with the stored keywords; the list is
 * upper case, single-spaced and free of duplicates; lookups are
 * case-insensitive; the mechanism chooser only picks offered mechanisms;
 * parsing the same reply again (into the used structure) gives the same
 * result. */
#include "smtpc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                                              \
  do {                                                                         \
    fprintf(stderr, "fuzz_ehlo: " __VA_ARGS__);                                \
    fputc('\n', stderr);                                                       \
    abort();                                                                   \
  } while (0)

static const struct {
  const char *kw;
  unsigned flag;
} known[] = {
    {"PIPELINING", SMTPC__CAP_PIPELINING},
    {"SIZE", SMTPC__CAP_SIZE},
    {"8BITMIME", SMTPC__CAP_8BITMIME},
    {"STARTTLS", SMTPC__CAP_STARTTLS},
    {"ENHANCEDSTATUSCODES", SMTPC__CAP_ENHANCED},
    {"SMTPUTF8", SMTPC__CAP_SMTPUTF8},
    {"CHUNKING", SMTPC__CAP_CHUNKING},
    {"DSN", SMTPC__CAP_DSN},
};

static int upper_kw_ok(const char *k) {
  size_t i;
  if (!((k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= '0' && k[0] <= '9')))
    return 0;
  for (i = 1; k[i]; i++)
    if (!((k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= '0' && k[i] <= '9') ||
          k[i] == '-'))
      return 0;
  return 1;
}

static void lower(char *d, const char *s, size_t cap) {
  size_t i;
  for (i = 0; s[i] && i + 1 < cap; i++)
    d[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
  d[i] = '\0';
}

/* 1 if the space-separated list holds word (case-insensitive). */
static int list_has(const char *list, const char *word, size_t n) {
  while (*list) {
    size_t w = strcspn(list, " ");
    if (w == n && smtpc__strncasecmp(list, word, n) == 0)
      return 1;
    list += w;
    while (*list == ' ')
      list++;
  }
  return 0;
}

/* The first stored params of kw, searching the list the way a reader
 * would (NULL when absent). */
static const char *first_params(const smtpc__caps *c, const char *kw) {
  size_t i;
  for (i = 0; i < c->n; i++)
    if (strcmp(c->list[i].keyword, kw) == 0)
      return c->list[i].params;
  return NULL;
}

/* The params of the last kw line (the one SIZE is taken from). */
static const char *last_params(const smtpc__caps *c, const char *kw) {
  size_t i;
  const char *p = NULL;
  for (i = 0; i < c->n; i++)
    if (strcmp(c->list[i].keyword, kw) == 0)
      p = c->list[i].params;
  return p;
}

static void check_caps(const smtpc__caps *c, const smtpc_reply *r) {
  size_t i;
  char low[96];
  if (c->n > (r->nlines > 0 ? r->nlines - 1 : 0))
    FAIL("%zu capabilities from %zu lines", c->n, r->nlines);
  for (i = 0; i < c->n; i++) {
    const char *k = c->list[i].keyword, *p = c->list[i].params, *q;
    if (k == NULL || p == NULL)
      FAIL("capability %zu has a NULL field", i);
    if (!upper_kw_ok(k))
      FAIL("bad stored keyword \"%s\"", k);
    if (*p == ' ' || *p == '=')
      FAIL("params of %s start with a separator", k);
    for (q = p; *q; q++)
      if (*q == '\r' || *q == '\n')
        FAIL("params of %s hold a line break", k);
  }
  for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
    int have = first_params(c, known[i].kw) != NULL;
    if (have != ((c->flags & known[i].flag) != 0))
      FAIL("flag for %s is %d but the keyword is %s", known[i].kw,
           (c->flags & known[i].flag) != 0, have ? "there" : "absent");
    if (have != (smtpc__caps_params(c, known[i].kw) != NULL))
      FAIL("lookup of %s disagrees with the list", known[i].kw);
    lower(low, known[i].kw, sizeof(low));
    if (smtpc__caps_params(c, low) != smtpc__caps_params(c, known[i].kw))
      FAIL("lookup of %s is case-sensitive", known[i].kw);
  }
  if ((c->flags & SMTPC__CAP_SIZE) ? c->size < 0 : c->size != -1)
    FAIL("SIZE flag %d with size %lld", (c->flags & SMTPC__CAP_SIZE) != 0,
         (long long)c->size);
  if (c->flags & SMTPC__CAP_SIZE) {
    /* a plain decimal of up to 18 digits is taken as it is */
    const char *p = last_params(c, "SIZE");
    size_t d = strspn(p, "0123456789");
    if (d > 0 && d <= 18 && (p[d] == '\0' || p[d] == ' ') &&
        c->size != strtoll(p, NULL, 10))
      FAIL("SIZE \"%s\" read as %lld", p, (long long)c->size);
  }
  if (((c->flags & SMTPC__CAP_AUTH) != 0) != (c->auth != NULL))
    FAIL("AUTH flag and mechanism list disagree");
  if (c->auth != NULL) {
    const char *a = c->auth, *w;
    size_t len = strlen(a);
    if (a[0] == ' ' || (len > 0 && a[len - 1] == ' ') || strstr(a, "  "))
      FAIL("AUTH list \"%s\" is not single-spaced", a);
    for (w = a; *w; w++)
      if (*w >= 'a' && *w <= 'z')
        FAIL("AUTH list \"%s\" is not upper case", a);
    for (w = a; *w;) {
      size_t n = strcspn(w, " ");
      if (list_has(w + n, w, n))
        FAIL("AUTH list \"%s\" repeats a mechanism", a);
      w += n;
      while (*w == ' ')
        w++;
    }
    if (smtpc__caps_params(c, "AUTH") != c->auth ||
        smtpc__caps_params(c, "auth") != c->auth)
      FAIL("AUTH lookup does not give the merged list");
  }
  /* the chooser picks only what is offered */
  for (i = SMTPC_AUTH_AUTO; i <= SMTPC_AUTH_OAUTHBEARER; i++) {
    int m = smtpc__auth_choose(c->auth ? c->auth : "", (smtpc_auth_mech)i);
    if (m == SMTPC_ERR_AUTH_UNSUPPORTED)
      continue;
    if (m < SMTPC_AUTH_PLAIN || m > SMTPC_AUTH_OAUTHBEARER)
      FAIL("auth_choose returned %d", m);
    if (i != SMTPC_AUTH_AUTO && (size_t)m != i)
      FAIL("asked for mechanism %zu, got %d", i, m);
    {
      const char *name = smtpc__auth_name((smtpc_auth_mech)m);
      if (c->auth == NULL || !list_has(c->auth, name, strlen(name)))
        FAIL("chose %s, which is not offered", name);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  smtpc_mem mem;
  smtpc__reply_parser p;
  smtpc__caps caps;
  smtpc_reply *r = NULL;
  size_t used = 0, i;
  unsigned flags;
  int64_t sz;
  char *auth = NULL;
  char query[65];
  int rv;
  if (size < 1)
    return 0;
  smtpc__mem_init(&mem, NULL);
  smtpc__reply_parser_init(&p, &mem);
  p.enhanced = data[0] & 1;
  rv = smtpc__reply_parser_feed(&p, data + 1, size - 1, &used);
  if (rv == 1 && smtpc__reply_parser_take(&p, &r) != SMTPC_OK)
    FAIL("take failed");
  smtpc__reply_parser_free(&p);
  if (r == NULL)
    return 0;
  data += 1 + used;
  size -= 1 + used;
  for (i = 0; i < size && i < sizeof(query) - 1 && data[i] && data[i] != '\r' &&
              data[i] != '\n';
       i++)
    query[i] = (char)data[i];
  query[i] = '\0';

  memset(&caps, 0, sizeof(caps));
  caps.size = -1;
  if (smtpc__caps_parse(&caps, &mem, r) != SMTPC_OK)
    FAIL("caps_parse failed");
  check_caps(&caps, r);
  {
    /* any keyword may be asked for; the answer is a stored string */
    const char *a = smtpc__caps_params(&caps, query), *b;
    char low[sizeof(query)];
    lower(low, query, sizeof(low));
    b = smtpc__caps_params(&caps, low);
    if (a != b)
      FAIL("lookup of \"%s\" is case-sensitive", query);
    if (a != NULL && a != caps.auth) {
      for (i = 0; i < caps.n && caps.list[i].params != a; i++)
        ;
      if (i == caps.n)
        FAIL("lookup of \"%s\" returned a foreign pointer", query);
    }
  }
  /* parsing again into the used structure clears it first */
  flags = caps.flags;
  sz = caps.size;
  if (caps.auth != NULL && (auth = strdup(caps.auth)) == NULL)
    abort();
  if (smtpc__caps_parse(&caps, &mem, r) != SMTPC_OK)
    FAIL("second caps_parse failed");
  if (caps.flags != flags || caps.size != sz ||
      (auth == NULL) != (caps.auth == NULL) ||
      (auth != NULL && strcmp(auth, caps.auth) != 0))
    FAIL("second parse of the same reply differs");
  free(auth);
  smtpc__caps_clear(&caps, &mem);
  if (caps.n != 0 || caps.list != NULL || caps.auth != NULL || caps.size != -1)
    FAIL("caps_clear left state behind");
  smtpc__reply_free(&mem, r);
  return 0;
}
