/* SPDX-License-Identifier: MIT */
/* DKIM signing (RFC 6376; RFC 8301 for the algorithms, RFC 8463 for
 * Ed25519): the signing identities, the canonicalizers, the
 * DKIM-Signature fields and the signed body of two passes.
 *
 * The message is hashed as the server will receive it: line ends as the
 * session writes them (data.c: CRLF stays, a bare CR or LF becomes CRLF, a
 * last line without one gets one), before dot-stuffing.  Only the header
 * block is kept (to choose and hash the fields once the body hash is known,
 * since bh= is part of the signed data); the body streams through one hash
 * per body canonicalization in use. */
#include "dkim_int.h"

#include "ascii.h"
#include "mime_int.h"

#include <stdio.h>
#include <time.h>

#define MAX_KEYS 8
#define LINE_MAX_DKIM 78 /* fold the fields before this column */

struct smtpc_dkim {
  smtpc_mem mem;
  char *domain;
  char *selector;
  char *auid;
  smtpc__dkim_key *key;
  smtpc_dkim_algo algo; /* 0: no key and no callback */
  smtpc_dkim_sign_cb cb;
  void *user;
  smtpc_dkim_canon hc, bc;
  char *sign;     /* NULL: SMTPC_DKIM_DEFAULT_HEADERS */
  char *oversign; /* NULL: SMTPC_DKIM_DEFAULT_OVERSIGN */
  int64_t t;
  uint32_t expire;
};

/* ---- identities ---------------------------------------------------------- */

/* A d= or s= value: letters, digits, '-', '_' and '.', 1..253 octets. */
static int name_ok(const char *s) {
  size_t i, n = strlen(s);
  if (n == 0 || n > 253)
    return 0;
  for (i = 0; i < n; i++)
    if (!smtpc__isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' &&
        s[i] != '.')
      return 0;
  return 1;
}

int smtpc_dkim_new(smtpc_dkim **out, const char *domain, const char *selector,
                   const smtpc_mem *mem) {
  smtpc_dkim *k;
  smtpc_mem mm;
  int rc;
  if (out == NULL || domain == NULL || selector == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (!name_ok(domain) || !name_ok(selector))
    return SMTPC_ERR_BAD_ARGUMENT;
  if ((k = smtpc__new_object(&mm, mem, sizeof(*k), &rc)) == NULL)
    return rc;
  k->mem = mm;
  k->t = SMTPC_DKIM_TIME_NOW;
  k->domain = smtpc__strdup(&k->mem, domain);
  k->selector = smtpc__strdup(&k->mem, selector);
  if (k->domain == NULL || k->selector == NULL) {
    smtpc_dkim_free(k);
    return SMTPC_ERR_NOMEM;
  }
  *out = k;
  return SMTPC_OK;
}

void smtpc_dkim_free(smtpc_dkim *k) {
  smtpc_mem mem;
  if (k == NULL)
    return;
  mem = k->mem;
  smtpc__dkim_key_free(k->key);
  smtpc__free(&mem, k->domain);
  smtpc__free(&mem, k->selector);
  smtpc__free(&mem, k->auid);
  smtpc__free(&mem, k->sign);
  smtpc__free(&mem, k->oversign);
  smtpc__wipe(k, sizeof(*k));
  smtpc__free(&mem, k);
}

int smtpc_dkim_set_key(smtpc_dkim *k, const void *key, size_t len,
                       const char *password) {
  smtpc__dkim_key *nk = NULL;
  smtpc_dkim_algo algo = SMTPC_DKIM_RSA_SHA256;
  int rc;
  if (k == NULL || key == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  rc = smtpc__dkim_key_load(&k->mem, key, len, password, 2048, &nk, &algo);
  if (rc != SMTPC_OK)
    return rc;
  smtpc__dkim_key_free(k->key);
  k->key = nk;
  k->algo = algo;
  k->cb = NULL;
  k->user = NULL;
  return SMTPC_OK;
}

int smtpc_dkim_set_key_file(smtpc_dkim *k, const char *path,
                            const char *password) {
  unsigned char *buf;
  size_t len = 0, cap = 16384;
  FILE *f;
  int rc;
  if (k == NULL || path == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if ((f = fopen(path, "rb")) == NULL)
    return SMTPC_ERR_IO;
  if ((buf = smtpc__malloc(&k->mem, cap)) == NULL) {
    fclose(f);
    return SMTPC_ERR_NOMEM;
  }
  /* a key file is small: 16 KiB holds RSA-8192 in PEM */
  len = fread(buf, 1, cap, f);
  rc = ferror(f)                ? SMTPC_ERR_IO
       : len == cap || len == 0 ? SMTPC_ERR_DKIM_KEY
                                : SMTPC_OK;
  fclose(f);
  if (rc == SMTPC_OK)
    rc = smtpc_dkim_set_key(k, buf, len, password);
  smtpc__wipe(buf, cap);
  smtpc__free(&k->mem, buf);
  return rc;
}

int smtpc_dkim_set_signer(smtpc_dkim *k, smtpc_dkim_algo algo,
                          smtpc_dkim_sign_cb cb, void *user) {
  if (k == NULL ||
      (algo != SMTPC_DKIM_RSA_SHA256 && algo != SMTPC_DKIM_ED25519_SHA256))
    return SMTPC_ERR_INVALID_ARGUMENT;
  smtpc__dkim_key_free(k->key);
  k->key = NULL;
  k->cb = cb;
  k->user = user;
  k->algo = cb != NULL ? algo : (smtpc_dkim_algo)0;
  return SMTPC_OK;
}

int smtpc_dkim_algo_of(const smtpc_dkim *k) {
  return k != NULL ? (int)k->algo : 0;
}

int smtpc_dkim_set_canon(smtpc_dkim *k, smtpc_dkim_canon header,
                         smtpc_dkim_canon body) {
  if (k == NULL ||
      (header != SMTPC_DKIM_RELAXED && header != SMTPC_DKIM_SIMPLE) ||
      (body != SMTPC_DKIM_RELAXED && body != SMTPC_DKIM_SIMPLE))
    return SMTPC_ERR_INVALID_ARGUMENT;
  k->hc = header;
  k->bc = body;
  return SMTPC_OK;
}

/* 1 if the name list s (colon-separated) names n[0..len), ignoring case. */
static int in_list(const char *s, const char *n, size_t len) {
  while (*s != '\0') {
    const char *e = strchr(s, ':');
    size_t l = e != NULL ? (size_t)(e - s) : strlen(s);
    if (l == len && smtpc__strncasecmp(s, n, len) == 0)
      return 1;
    if (e == NULL)
      break;
    s = e + 1;
  }
  return 0;
}

/* A lower-case copy of a name list into *dst, or SMTPC_ERR_BAD_ARGUMENT
 * for an empty or invalid name (empty lists are fine when allow_empty). */
static int set_list(smtpc_dkim *k, char **dst, const char *src,
                    int allow_empty) {
  size_t i, n, start = 0;
  char *c;
  if (src == NULL) {
    smtpc__free(&k->mem, *dst);
    *dst = NULL;
    return SMTPC_OK;
  }
  n = strlen(src);
  if (n == 0 && !allow_empty)
    return SMTPC_ERR_BAD_ARGUMENT;
  for (i = 0; i <= n; i++) {
    unsigned char ch = (unsigned char)src[i];
    if (ch == ':' || ch == '\0') {
      if (n > 0 &&
          (i == start ||
           (i - start == 14 &&
            smtpc__strncasecmp(src + start, "dkim-signature", 14) == 0)))
        return SMTPC_ERR_BAD_ARGUMENT;
      start = i + 1;
    } else if (ch < 33 || ch > 126) {
      return SMTPC_ERR_BAD_ARGUMENT;
    }
  }
  if ((c = smtpc__strdup(&k->mem, src)) == NULL)
    return SMTPC_ERR_NOMEM;
  for (i = 0; i < n; i++)
    c[i] = (char)smtpc__tolower((unsigned char)c[i]);
  smtpc__free(&k->mem, *dst);
  *dst = c;
  return SMTPC_OK;
}

int smtpc_dkim_set_headers(smtpc_dkim *k, const char *sign,
                           const char *oversign) {
  char *s0, *o0;
  int rc;
  if (k == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  /* both or neither: keep the old lists until both are good */
  s0 = k->sign;
  o0 = k->oversign;
  k->sign = k->oversign = NULL;
  if ((rc = set_list(k, &k->sign, sign, 0)) == SMTPC_OK &&
      (rc = set_list(k, &k->oversign, oversign, 1)) == SMTPC_OK) {
    smtpc__free(&k->mem, s0);
    smtpc__free(&k->mem, o0);
    return SMTPC_OK;
  }
  smtpc__free(&k->mem, k->sign);
  smtpc__free(&k->mem, k->oversign);
  k->sign = s0;
  k->oversign = o0;
  return rc;
}

int smtpc_dkim_set_time(smtpc_dkim *k, int64_t t) {
  /* t= is at most 12 digits (RFC 6376 3.5) */
  if (k == NULL || t < SMTPC_DKIM_TIME_NONE || t > INT64_C(999999999999))
    return SMTPC_ERR_INVALID_ARGUMENT;
  k->t = t;
  return SMTPC_OK;
}

int smtpc_dkim_set_expire(smtpc_dkim *k, uint32_t seconds) {
  if (k == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  k->expire = seconds;
  return SMTPC_OK;
}

int smtpc_dkim_set_identity(smtpc_dkim *k, const char *auid) {
  const char *at;
  size_t i, dl, dn;
  char *c;
  if (k == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (auid == NULL) {
    smtpc__free(&k->mem, k->auid);
    k->auid = NULL;
    return SMTPC_OK;
  }
  if ((at = strrchr(auid, '@')) == NULL)
    return SMTPC_ERR_BAD_ARGUMENT;
  if (at - auid > 64) /* RFC 5321 4.5.3.1.1: a local part's limit */
    return SMTPC_ERR_BAD_ARGUMENT;
  for (i = 0; auid + i < at; i++) /* dkim-quoted-printable needs none */
    if ((unsigned char)auid[i] < 33 || (unsigned char)auid[i] > 126 ||
        auid[i] == ';' || auid[i] == '=' || auid[i] == '@')
      return SMTPC_ERR_BAD_ARGUMENT;
  dl = strlen(at + 1);
  dn = strlen(k->domain);
  /* the domain is d= or a subdomain of it (RFC 6376 3.5 i=) */
  if (!name_ok(at + 1) || dl < dn ||
      smtpc__strcasecmp(at + 1 + dl - dn, k->domain) != 0 ||
      (dl > dn && at[dl - dn] != '.'))
    return SMTPC_ERR_BAD_ARGUMENT;
  if ((c = smtpc__strdup(&k->mem, auid)) == NULL)
    return SMTPC_ERR_NOMEM;
  smtpc__free(&k->mem, k->auid);
  k->auid = c;
  return SMTPC_OK;
}

int smtpc_dkim_dns_record(const smtpc_dkim *k, char *buf, size_t size) {
  static const char rsa[] = "v=DKIM1; k=rsa; p=";
  static const char ed[] = "v=DKIM1; k=ed25519; p=";
  const char *pre;
  size_t pl;
  if (k == NULL || buf == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (k->key == NULL)
    return SMTPC_ERR_INVALID_STATE;
  pre = k->algo == SMTPC_DKIM_ED25519_SHA256 ? ed : rsa;
  pl = strlen(pre);
  if (size <= pl)
    return SMTPC_ERR_INVALID_ARGUMENT;
  memcpy(buf, pre, pl);
  return smtpc__dkim_key_public(k->key, buf + pl, size - pl);
}

/* ---- body canonicalization (RFC 6376 3.4.3, 3.4.4) ----------------------- */

typedef struct bcanon {
  smtpc__sha256 sha;
  uint64_t nl; /* line ends held back: they may be trailing empty lines */
  int cr;      /* a CR ended the last input */
  int wsp;     /* relaxed: WSP held back (dropped at a line end) */
  int any;     /* content was hashed */
  int relaxed;
  int binary; /* only CRLF ends a line; other CRs and LFs are content */
  unsigned char ob[1024];
  size_t o;
} bcanon;

static void bc_put(bcanon *b, unsigned char c) {
  if (b->o == sizeof b->ob) {
    smtpc__sha256_update(&b->sha, b->ob, b->o);
    b->o = 0;
  }
  b->ob[b->o++] = c;
}

/* A content octet: the held line ends and space go first. */
static void bc_content(bcanon *b, unsigned char c) {
  for (; b->nl > 0; b->nl--) {
    bc_put(b, '\r');
    bc_put(b, '\n');
  }
  if (b->wsp) {
    bc_put(b, ' ');
    b->wsp = 0;
  }
  bc_put(b, c);
  b->any = 1;
}

static void bc_eol(bcanon *b) {
  b->wsp = 0; /* relaxed: trailing WSP goes */
  b->nl++;
}

/* Octets a canonicalizer must look at: 3 for CR and LF (either form), 1
 * for SP and HTAB (relaxed only); the rest is copied as it is. */
static const unsigned char special[256] = {
    ['\t'] = 1, ['\n'] = 3, ['\r'] = 3, [' '] = 1};

static void bc_feed(bcanon *b, const unsigned char *p, size_t n) {
  const unsigned mask = b->relaxed ? 1u : 2u;
  size_t i = 0;
  while (i < n) {
    unsigned char c;
    if (!b->cr && b->nl == 0 && !b->wsp) { /* copy plain octets */
      unsigned char *ob = b->ob;
      size_t o = b->o, j = i, end = i + (sizeof b->ob - o);
      if (end > n)
        end = n;
      while (j < end && !(special[p[j]] & mask))
        ob[o++] = p[j++];
      if (j > i)
        b->any = 1;
      b->o = o;
      if (o == sizeof b->ob) {
        smtpc__sha256_update(&b->sha, ob, o);
        b->o = 0;
      }
      i = j;
      if (i == n)
        break;
      if (!(special[p[i]] & mask))
        continue; /* the buffer was full */
    }
    c = p[i++];
    if (b->cr) {
      b->cr = 0;
      if (c == '\n') {
        bc_eol(b);
        continue;
      }
      if (b->binary)
        bc_content(b, '\r');
      else
        bc_eol(b); /* a bare CR goes as CRLF */
    }
    if (c == '\r')
      b->cr = 1;
    else if (c == '\n' && !b->binary)
      bc_eol(b); /* a bare LF goes as CRLF */
    else if (b->relaxed && (c == ' ' || c == '\t'))
      b->wsp = 1;
    else
      bc_content(b, c);
  }
}

static void bc_final(bcanon *b, unsigned char out[32]) {
  if (b->cr) {
    b->cr = 0;
    if (b->binary)
      bc_content(b, '\r');
    else
      bc_eol(b);
  }
  /* one CRLF ends the last line; empty lines at the end are dropped; an
   * empty body is CRLF in simple and nothing in relaxed */
  if (b->any || !b->relaxed) {
    bc_put(b, '\r');
    bc_put(b, '\n');
  }
  smtpc__sha256_update(&b->sha, b->ob, b->o);
  smtpc__sha256_final(&b->sha, out);
}

/* ---- one message ---------------------------------------------------------- */

typedef struct field {
  size_t off, len; /* the field with its CRLF, in the header block */
  size_t nlen;     /* its name's length */
} field;

struct smtpc_dkim_ctx {
  smtpc_mem mem;
  const smtpc_dkim *keys[MAX_KEYS];
  size_t n;
  int binary;
  int in_body;
  int done;
  int hcr;  /* header: a CR ended the last input */
  int hbol; /* header: at the start of a line */
  smtpc__buf hdr;
  bcanon bc[2]; /* by smtpc_dkim_canon */
  unsigned use; /* bit per canonicalization in use */
  smtpc__buf out;
  int err; /* sticky: an update failed, the message cannot be signed */
};

int smtpc_dkim_ctx_new(smtpc_dkim_ctx **out, const smtpc_dkim *const *keys,
                       size_t n, unsigned flags, const smtpc_mem *mem) {
  smtpc_dkim_ctx *c;
  smtpc_mem mm;
  size_t i;
  int rc;
  if (out == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (keys == NULL || n == 0 || n > MAX_KEYS || (flags & ~SMTPC_DKIM_BINARY))
    return SMTPC_ERR_INVALID_ARGUMENT;
  for (i = 0; i < n; i++) {
    if (keys[i] == NULL)
      return SMTPC_ERR_INVALID_ARGUMENT;
    if (keys[i]->algo == 0)
      return SMTPC_ERR_DKIM_KEY;
  }
  if ((c = smtpc__new_object(&mm, mem, sizeof(*c), &rc)) == NULL)
    return rc;
  c->mem = mm;
  c->n = n;
  c->binary = (flags & SMTPC_DKIM_BINARY) != 0;
  c->hbol = 1;
  for (i = 0; i < n; i++) {
    c->keys[i] = keys[i];
    c->use |= 1u << keys[i]->bc;
  }
  for (i = 0; i < 2; i++) {
    smtpc__sha256_init(&c->bc[i].sha);
    c->bc[i].relaxed = i == SMTPC_DKIM_RELAXED;
    c->bc[i].binary = c->binary;
  }
  *out = c;
  return SMTPC_OK;
}

void smtpc_dkim_ctx_free(smtpc_dkim_ctx *c) {
  smtpc_mem mem;
  if (c == NULL)
    return;
  mem = c->mem;
  smtpc__buf_free(&c->hdr, &mem);
  smtpc__buf_free(&c->out, &mem);
  smtpc__free(&mem, c);
}

/* Ends a header line: the empty one ends the header.  1 at its end. */
static int hdr_eol(smtpc_dkim_ctx *c, int *rc) {
  if (c->hbol) {
    c->in_body = 1;
    return 1;
  }
  *rc = smtpc__buf_append(&c->hdr, &c->mem, "\r\n", 2);
  c->hbol = 1;
  return 0;
}

static int hdr_put(smtpc_dkim_ctx *c, unsigned char ch) {
  c->hbol = 0;
  if (c->hdr.len >= SMTPC_DKIM_MAX_HEADER)
    return SMTPC_ERR_DKIM_HEADER;
  return smtpc__buf_append(&c->hdr, &c->mem, &ch, 1);
}

/* Takes header octets from p[0..n) until the empty line; *used says how
 * many (the rest is body). */
static int hdr_feed(smtpc_dkim_ctx *c, const unsigned char *p, size_t n,
                    size_t *used) {
  size_t i;
  int rc = SMTPC_OK;
  for (i = 0; i < n && rc == SMTPC_OK; i++) {
    unsigned char ch = p[i];
    if (c->hcr) {
      c->hcr = 0;
      if (ch == '\n') {
        if (hdr_eol(c, &rc)) {
          i++;
          break;
        }
        continue;
      }
      if (c->binary) { /* a header's lines end in CRLF, binary or not */
        rc = SMTPC_ERR_DKIM_HEADER;
        break;
      }
      if (hdr_eol(c, &rc))
        break; /* ch is the body's first octet */
    }
    if (ch == '\r')
      c->hcr = 1;
    else if (ch == '\n' && c->binary)
      rc = SMTPC_ERR_DKIM_HEADER;
    else if (ch == '\n') {
      if (hdr_eol(c, &rc)) {
        i++;
        break;
      }
    } else
      rc = hdr_put(c, ch);
  }
  *used = i;
  return rc;
}

int smtpc_dkim_ctx_update(smtpc_dkim_ctx *c, const void *data, size_t len) {
  const unsigned char *p = data;
  size_t used = 0, i;
  int rc;
  if (c == NULL || (data == NULL && len > 0))
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (c->done)
    return SMTPC_ERR_INVALID_STATE;
  if (c->err)
    return c->err;
  if (!c->in_body) {
    if ((rc = hdr_feed(c, p, len, &used)) != SMTPC_OK)
      return c->err = rc;
  }
  if (used < len)
    for (i = 0; i < 2; i++)
      if (c->use & (1u << i))
        bc_feed(&c->bc[i], p + used, len - used);
  return SMTPC_OK;
}

/* The fields of the header block: *fs (caller frees) and *nf.  A line that
 * is neither a field nor a continuation is refused. */
static int parse_fields(const smtpc_mem *mem, const unsigned char *h,
                        size_t len, field **fs, size_t *nf) {
  size_t pos = 0, n = 0, cap = 0;
  field *f = NULL;
  *fs = NULL;
  *nf = 0;
  while (pos < len) {
    const unsigned char *eol = memchr(h + pos, '\n', len - pos);
    size_t end = (size_t)(eol - h) + 1, i;
    if (smtpc__isws(h[pos])) { /* a continuation line */
      if (n == 0)
        goto bad;
      f[n - 1].len = end - f[n - 1].off;
      pos = end;
      continue;
    }
    for (i = pos; i < end && h[i] != ':' && h[i] > 32 && h[i] < 127; i++)
      ;
    if (i == pos)
      goto bad;
    {
      size_t nl = i - pos;
      while (i < end && smtpc__isws(h[i])) /* obsolete "Name :" */
        i++;
      if (i == end || h[i] != ':')
        goto bad;
      if (n == cap) {
        field *g;
        cap = cap ? cap * 2 : 32;
        if ((g = smtpc__realloc(mem, f, cap * sizeof(*f))) == NULL) {
          smtpc__free(mem, f);
          return SMTPC_ERR_NOMEM;
        }
        f = g;
      }
      f[n].off = pos;
      f[n].len = end - pos;
      f[n].nlen = nl;
      n++;
    }
    pos = end;
  }
  *fs = f;
  *nf = n;
  return SMTPC_OK;
bad:
  smtpc__free(mem, f);
  return SMTPC_ERR_DKIM_HEADER;
}

/* Hashes one header field (name and value, CRLF unless no_crlf) in the
 * relaxed (RFC 6376 3.4.2) or simple form. */
static void hash_field(smtpc__sha256 *sha, const unsigned char *p, size_t len,
                       size_t nlen, smtpc_dkim_canon canon, int no_crlf) {
  unsigned char ob[256];
  size_t o = 0, i;
  int sp = 0, val = 0;
  if (canon == SMTPC_DKIM_SIMPLE) {
    if (no_crlf && len >= 2 && p[len - 2] == '\r')
      len -= 2;
    smtpc__sha256_update(sha, p, len);
    return;
  }
  for (i = 0; i < nlen; i++) {
    ob[o++] = (unsigned char)smtpc__tolower(p[i]);
    if (o == sizeof ob) {
      smtpc__sha256_update(sha, ob, o);
      o = 0;
    }
  }
  while (p[i] != ':')
    i++;
  for (i++; i < len; i++) {
    unsigned char ch = p[i];
    if (ch == '\r' || ch == '\n' || ch == ' ' || ch == '\t') {
      sp = 1; /* unfolded; runs of WSP become one SP */
      continue;
    }
    if (o + 3 > sizeof ob) {
      smtpc__sha256_update(sha, ob, o);
      o = 0;
    }
    if (!val) {
      ob[o++] = ':';
      val = 1;
    } else if (sp) {
      ob[o++] = ' ';
    }
    sp = 0;
    ob[o++] = ch;
  }
  if (!val)
    ob[o++] = ':'; /* an empty value */
  if (!no_crlf) {
    if (o + 2 > sizeof ob) {
      smtpc__sha256_update(sha, ob, o);
      o = 0;
    }
    ob[o++] = '\r';
    ob[o++] = '\n';
  }
  smtpc__sha256_update(sha, ob, o);
}

/* Appends s to the field being built, folding before it when the line would
 * pass LINE_MAX_DKIM; *col tracks the column.  sep goes before s on the
 * same line (or before the fold). */
static int fold_add(smtpc_dkim_ctx *c, size_t *col, const char *sep,
                    const char *s, size_t n) {
  size_t sl = strlen(sep);
  int rc = smtpc__buf_append(&c->out, &c->mem, sep, sl);
  *col += sl;
  /* the line may still get a ";" after s */
  if (rc == SMTPC_OK && *col > 1 && *col + n + 1 > LINE_MAX_DKIM) {
    /* drop a trailing space of sep: FWS is CRLF then WSP */
    if (sl > 0 && sep[sl - 1] == ' ')
      c->out.len--;
    rc = smtpc__buf_append(&c->out, &c->mem, "\r\n ", 3);
    *col = 1;
  }
  if (rc == SMTPC_OK)
    rc = smtpc__buf_append(&c->out, &c->mem, s, n);
  *col += n;
  return rc;
}

static int fold_str(smtpc_dkim_ctx *c, size_t *col, const char *sep,
                    const char *s) {
  return fold_add(c, col, sep, s, strlen(s));
}

/* The h= list of key k for the fields fs: each field the key signs, in
 * message order, then each oversigned name once more. */
static int add_h(smtpc_dkim_ctx *c, size_t *col, const smtpc_dkim *k,
                 const unsigned char *h, const field *fs, size_t nf,
                 smtpc__buf *names) {
  const char *sign = k->sign != NULL ? k->sign : SMTPC_DKIM_DEFAULT_HEADERS;
  const char *over =
      k->oversign != NULL ? k->oversign : SMTPC_DKIM_DEFAULT_OVERSIGN;
  size_t i, start;
  int rc = SMTPC_OK;
  names->len = 0;
  for (i = 0; i < nf && rc == SMTPC_OK; i++) {
    const char *nm = (const char *)h + fs[i].off;
    size_t l = fs[i].nlen;
    if ((l == 4 && smtpc__strncasecmp(nm, "from", 4) == 0) ||
        in_list(sign, nm, l) || in_list(over, nm, l)) {
      if (names->len > 0)
        rc = smtpc__buf_append(names, &c->mem, ":", 1);
      if (rc == SMTPC_OK)
        rc = smtpc__buf_append(names, &c->mem, nm, l);
    }
  }
  if (rc == SMTPC_OK && over[0] != '\0') {
    if (names->len > 0)
      rc = smtpc__buf_append(names, &c->mem, ":", 1);
    if (rc == SMTPC_OK)
      rc = smtpc__buf_append_str(names, &c->mem, over);
  }
  if (rc != SMTPC_OK)
    return rc;
  /* lower case, folded at the colons */
  for (i = 0; i < names->len; i++)
    names->data[i] = (unsigned char)smtpc__tolower(names->data[i]);
  for (start = 0, i = 0; i <= names->len && rc == SMTPC_OK; i++) {
    if (i == names->len || names->data[i] == ':') {
      rc = fold_add(c, col, start == 0 ? "; h=" : ":",
                    (const char *)names->data + start, i - start);
      start = i + 1;
    }
  }
  return rc;
}

/* Hashes the fields named by h= (names, colon-separated, lower case) the
 * way a verifier picks them: for each name the last instance not yet
 * used, nothing when there is none (RFC 6376 5.4.2). */
static void hash_selected(smtpc__sha256 *sha, const unsigned char *h,
                          const field *fs, size_t nf, unsigned char *used,
                          const smtpc__buf *names, smtpc_dkim_canon canon) {
  size_t start = 0, i, j;
  memset(used, 0, nf);
  for (i = 0; i <= names->len; i++) {
    if (i < names->len && names->data[i] != ':')
      continue;
    for (j = nf; j-- > 0;) {
      if (!used[j] && fs[j].nlen == i - start &&
          smtpc__strncasecmp((const char *)h + fs[j].off,
                             (const char *)names->data + start,
                             i - start) == 0) {
        used[j] = 1;
        hash_field(sha, h + fs[j].off, fs[j].len, fs[j].nlen, canon, 0);
        break;
      }
    }
    start = i + 1;
  }
}

static const char *const algo_name[] = {"", "rsa-sha256", "ed25519-sha256"};
static const char *const canon_name[] = {"relaxed", "simple"};

/* Builds, signs and appends key k's DKIM-Signature field. */
static int sign_one(smtpc_dkim_ctx *c, const smtpc_dkim *k, const field *fs,
                    size_t nf, unsigned char *used, const char *bh,
                    int64_t now) {
  const unsigned char *h = c->hdr.data;
  smtpc__buf names = {0};
  smtpc__sha256 sha;
  unsigned char digest[32], sig[SMTPC_DKIM_MAX_SIG];
  /* a tag: "i=", 64 octets of local part, "@" and a 253-octet domain */
  char tmp[2 + 64 + 1 + 253 + 1], b64[SMTPC_DKIM_MAX_SIG * 4 / 3 + 8];
  size_t start = c->out.len, col = 16, siglen = 0, i, bl;
  int64_t t = k->t == SMTPC_DKIM_TIME_NOW ? now : k->t;
  int rc;

  rc = smtpc__buf_append_str(&c->out, &c->mem, "DKIM-Signature: v=1");
  col += 3;
  snprintf(tmp, sizeof tmp, "a=%s", algo_name[k->algo]);
  if (rc == SMTPC_OK)
    rc = fold_str(c, &col, "; ", tmp);
  snprintf(tmp, sizeof tmp, "c=%s/%s", canon_name[k->hc], canon_name[k->bc]);
  if (rc == SMTPC_OK)
    rc = fold_str(c, &col, "; ", tmp);
  snprintf(tmp, sizeof tmp, "d=%s", k->domain);
  if (rc == SMTPC_OK)
    rc = fold_str(c, &col, "; ", tmp);
  snprintf(tmp, sizeof tmp, "s=%s", k->selector);
  if (rc == SMTPC_OK)
    rc = fold_str(c, &col, "; ", tmp);
  if (k->auid != NULL) {
    snprintf(tmp, sizeof tmp, "i=%s", k->auid);
    if (rc == SMTPC_OK)
      rc = fold_str(c, &col, "; ", tmp);
  }
  if (t >= 0) {
    snprintf(tmp, sizeof tmp, "t=%lld", (long long)t);
    if (rc == SMTPC_OK)
      rc = fold_str(c, &col, "; ", tmp);
  }
  if (k->expire > 0 && (t >= 0 || now >= 0)) {
    snprintf(tmp, sizeof tmp, "x=%lld",
             (long long)((t >= 0 ? t : now) + (int64_t)k->expire));
    if (rc == SMTPC_OK)
      rc = fold_str(c, &col, "; ", tmp);
  }
  if (rc == SMTPC_OK)
    rc = add_h(c, &col, k, h, fs, nf, &names);
  snprintf(tmp, sizeof tmp, "bh=%s", bh);
  if (rc == SMTPC_OK)
    rc = fold_str(c, &col, "; ", tmp);
  /* b= starts a line of its own so its value can fill whole lines */
  if (rc == SMTPC_OK)
    rc = smtpc__buf_append_str(&c->out, &c->mem, ";\r\n b=");
  col = 3;
  if (rc != SMTPC_OK) {
    smtpc__buf_free(&names, &c->mem);
    return rc;
  }

  /* the signed data: the fields of h=, then this field with b= empty and
   * without its CRLF (RFC 6376 3.7) */
  smtpc__sha256_init(&sha);
  hash_selected(&sha, h, fs, nf, used, &names, k->hc);
  smtpc__buf_free(&names, &c->mem);
  hash_field(&sha, c->out.data + start, c->out.len - start, 14, k->hc, 1);
  smtpc__sha256_final(&sha, digest);

  if (k->cb != NULL) {
    rc = k->cb(k->user, k->algo, digest, sig, sizeof sig, &siglen);
    if (rc == SMTPC_OK && (siglen == 0 || siglen > sizeof sig))
      rc = SMTPC_ERR_CALLBACK;
    else if (rc > 0)
      rc = SMTPC_ERR_CALLBACK;
  } else {
    rc = smtpc__dkim_key_sign(k->key, digest, sig, sizeof sig, &siglen);
  }
  smtpc__wipe(digest, sizeof digest);
  if (rc != SMTPC_OK)
    return rc;
  bl = smtpc__b64_encode(sig, siglen, b64);
  for (i = 0; i < bl && rc == SMTPC_OK;) {
    size_t take = LINE_MAX_DKIM - col;
    if (take > bl - i)
      take = bl - i;
    rc = smtpc__buf_append(&c->out, &c->mem, b64 + i, take);
    i += take;
    col += take;
    if (i < bl && rc == SMTPC_OK) {
      rc = smtpc__buf_append(&c->out, &c->mem, "\r\n ", 3);
      col = 1;
    }
  }
  if (rc == SMTPC_OK)
    rc = smtpc__buf_append(&c->out, &c->mem, "\r\n", 2);
  return rc;
}

int smtpc_dkim_ctx_final(smtpc_dkim_ctx *c, const char **fields, size_t *len) {
  unsigned char bhash[2][32], *used = NULL;
  char bh[2][48];
  field *fs = NULL;
  size_t nf = 0, i, nfrom = 0;
  int64_t now;
  int rc = SMTPC_OK;
  if (c == NULL || fields == NULL || len == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (c->done) {
    if (c->out.data == NULL)
      return SMTPC_ERR_INVALID_STATE;
    *fields = (const char *)c->out.data;
    *len = c->out.len;
    return SMTPC_OK;
  }
  c->done = 1;
  if (c->err) /* part of the message was not taken */
    return c->err;
  if (!c->in_body) { /* the message ended in its header */
    if (c->hcr && c->binary)
      rc = SMTPC_ERR_DKIM_HEADER; /* a bare CR */
    if (rc == SMTPC_OK && (c->hcr || !c->hbol)) {
      rc = smtpc__buf_append(&c->hdr, &c->mem, "\r\n", 2);
      c->hbol = 1;
    }
    c->hcr = 0;
  }
  for (i = 0; i < 2; i++)
    if (c->use & (1u << i)) {
      bc_final(&c->bc[i], bhash[i]);
      smtpc__b64_encode(bhash[i], 32, bh[i]);
    }
  if (rc == SMTPC_OK)
    rc = parse_fields(&c->mem, c->hdr.data, c->hdr.len, &fs, &nf);
  for (i = 0; i < nf; i++)
    if (fs[i].nlen == 4 &&
        smtpc__strncasecmp((const char *)c->hdr.data + fs[i].off, "from", 4) ==
            0)
      nfrom++;
  if (rc == SMTPC_OK && nfrom != 1)
    rc = SMTPC_ERR_DKIM_HEADER; /* RFC 5322 3.6: exactly one */
  if (rc == SMTPC_OK && (used = smtpc__malloc(&c->mem, nf)) == NULL)
    rc = SMTPC_ERR_NOMEM;
  {
    time_t tt = time(NULL);
    now = tt == (time_t)-1 ? -1 : (int64_t)tt;
  }
  for (i = 0; i < c->n && rc == SMTPC_OK; i++)
    rc = sign_one(c, c->keys[i], fs, nf, used, bh[c->keys[i]->bc], now);
  smtpc__free(&c->mem, used);
  smtpc__free(&c->mem, fs);
  smtpc__buf_free(&c->hdr, &c->mem);
  if (rc != SMTPC_OK) {
    smtpc__buf_free(&c->out, &c->mem);
    c->out.len = 0;
    return rc;
  }
  *fields = (const char *)c->out.data;
  *len = c->out.len;
  return SMTPC_OK;
}

/* ---- signed bodies ---------------------------------------------------------- */

/* A cheap fingerprint of the octets of each pass (length and a 64-bit
 * multiply-xor hash, independent of how the octets are split): the second
 * pass must give what the first signed, or the message is abandoned. */
typedef struct fprint {
  uint64_t h, len, w;
  unsigned k; /* octets in w */
} fprint;

static void fp_feed(fprint *f, const unsigned char *p, size_t n) {
  size_t i = 0;
  f->len += n;
  while (i < n) {
    if (f->k == 0 && n - i >= 8) {
      uint64_t w;
      memcpy(&w, p + i, 8);
      f->h =
          (f->h ^ w) * UINT64_C(0x100000001b3) + UINT64_C(0x9e3779b97f4a7c15);
      f->h ^= f->h >> 29;
      i += 8;
      continue;
    }
    f->w |= (uint64_t)p[i++] << (8 * f->k);
    if (++f->k == 8) {
      f->h = (f->h ^ f->w) * UINT64_C(0x100000001b3) +
             UINT64_C(0x9e3779b97f4a7c15);
      f->h ^= f->h >> 29;
      f->w = 0;
      f->k = 0;
    }
  }
}

static int fp_equal(const fprint *a, const fprint *b) {
  return a->h == b->h && a->len == b->len && a->w == b->w && a->k == b->k;
}

#define SRC_MEMORY 0
#define SRC_REWIND 1
#define SRC_SPOOL 2

struct smtpc_dkim_body {
  smtpc_mem mem;
  smtpc_body in;
  FILE *spool;
  int src;
  char *fields;
  size_t flen;
  size_t fpos;     /* fields sent */
  uint64_t off;    /* source octets sent (memory) */
  int need_rewind; /* the source was read since its last rewind */
  int err;         /* sticky error of this pass */
  int eof;
  fprint first, now;
  int64_t size;
  smtpc_body_type type;
};

/* Line and 8-bit scan of the first pass, for the type and the line limit. */
typedef struct scan {
  int hdr_done, bol, cr;
  size_t line, maxline;
  int hdr8, body8;
} scan;

static void scan_feed(scan *s, const unsigned char *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c, acc = 0;
    size_t j = i;
    while (j < n && !(special[p[j]] & 2u)) /* a run of content */
      acc |= p[j++];
    if (j > i) {
      s->cr = 0;
      s->bol = 0;
      s->line += j - i;
      if (acc & 0x80) {
        if (s->hdr_done)
          s->body8 = 1;
        else
          s->hdr8 = 1;
      }
      i = j;
      if (i == n)
        break;
    }
    c = p[i++];
    if (c == '\n' && s->cr) {
      s->cr = 0;
      continue;
    }
    s->cr = c == '\r';
    if (s->line == 0 && !s->hdr_done && s->bol)
      s->hdr_done = 1;
    if (s->line > s->maxline)
      s->maxline = s->line;
    s->line = 0;
    s->bol = 1;
  }
}

void smtpc_dkim_body_free(smtpc_dkim_body *b) {
  smtpc_mem mem;
  if (b == NULL)
    return;
  mem = b->mem;
  smtpc__free(&mem, b->fields);
  smtpc__free(&mem, b);
}

/* The first pass: every octet of the source into the signer (and the
 * spool); the source is then ready to be read again. */
static int first_pass(smtpc_dkim_body *b, smtpc_dkim_ctx *c, scan *sc) {
  unsigned char *buf;
  const size_t cap = 16384;
  uint64_t total = 0;
  int rc = SMTPC_OK;
  if (b->src == SRC_MEMORY) {
    fp_feed(&b->first, b->in.data, b->in.len);
    scan_feed(sc, b->in.data, b->in.len);
    b->size = (int64_t)b->in.len;
    return smtpc_dkim_ctx_update(c, b->in.data, b->in.len);
  }
  if ((buf = smtpc__malloc(&b->mem, cap)) == NULL)
    return SMTPC_ERR_NOMEM;
  for (;;) {
    smtpc_ssize r = b->in.read(b->in.ctx, buf, cap);
    if (r == 0)
      break;
    if (r < 0 || (size_t)r > cap) {
      rc = r == SMTPC_ERR_NOMEM ? SMTPC_ERR_NOMEM : SMTPC_ERR_BODY_READ;
      break;
    }
    total += (uint64_t)r;
    fp_feed(&b->first, buf, (size_t)r);
    scan_feed(sc, buf, (size_t)r);
    if ((rc = smtpc_dkim_ctx_update(c, buf, (size_t)r)) != SMTPC_OK)
      break;
    if (b->spool != NULL && fwrite(buf, 1, (size_t)r, b->spool) != (size_t)r) {
      rc = SMTPC_ERR_IO;
      break;
    }
  }
  smtpc__free(&b->mem, buf);
  if (rc == SMTPC_OK && b->in.size >= 0 && total != (uint64_t)b->in.size)
    rc = SMTPC_ERR_BODY_READ; /* the declared size was wrong */
  if (rc == SMTPC_OK && b->src == SRC_SPOOL &&
      (fflush(b->spool) != 0 || fseek(b->spool, 0, SEEK_SET) != 0))
    rc = SMTPC_ERR_IO;
  if (rc == SMTPC_OK && b->src == SRC_REWIND &&
      (rc = b->in.rewind(b->in.ctx)) > 0)
    rc = SMTPC_ERR_CALLBACK;
  b->size = (int64_t)total;
  return rc;
}

int smtpc_dkim_body_new(smtpc_dkim_body **out, const smtpc_dkim *const *keys,
                        size_t n, const smtpc_body *in, void *spool,
                        const smtpc_mem *mem) {
  smtpc_dkim_body *b;
  smtpc_dkim_ctx *c = NULL;
  smtpc_mem mm;
  scan sc;
  const char *f;
  size_t fl;
  int rc;
  if (out == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (in == NULL || (in->version != 0 && in->version != SMTPC_BODY_VERSION) ||
      (in->read == NULL && in->data == NULL && in->len > 0) ||
      (unsigned)in->type > SMTPC_BODY_BINARYMIME)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if ((b = smtpc__new_object(&mm, mem, sizeof(*b), &rc)) == NULL)
    return rc;
  b->mem = mm;
  /* a version-0 body ends before rewind: copy only what it has */
  memcpy(&b->in, in,
         in->version == 0 ? offsetof(smtpc_body, rewind) : sizeof(*in));
  b->in.version = SMTPC_BODY_VERSION;
  b->spool = spool;
  b->src = in->read == NULL       ? SRC_MEMORY
           : b->in.rewind != NULL ? SRC_REWIND
           : spool != NULL        ? SRC_SPOOL
                                  : -1;
  if (b->src < 0) {
    smtpc_dkim_body_free(b);
    return SMTPC_ERR_DKIM_SOURCE;
  }
  if (b->src != SRC_SPOOL)
    b->spool = NULL;
  memset(&sc, 0, sizeof sc);
  sc.bol = 1;
  rc = smtpc_dkim_ctx_new(
      &c, keys, n, in->type == SMTPC_BODY_BINARYMIME ? SMTPC_DKIM_BINARY : 0,
      &b->mem);
  if (rc == SMTPC_OK)
    rc = first_pass(b, c, &sc);
  if (sc.line > sc.maxline)
    sc.maxline = sc.line;
  if (rc == SMTPC_OK && in->type != SMTPC_BODY_BINARYMIME && sc.maxline > 998)
    rc = SMTPC_ERR_BODY_LINE_TOO_LONG;
  if (rc == SMTPC_OK && (rc = smtpc_dkim_ctx_final(c, &f, &fl)) == SMTPC_OK) {
    if ((b->fields = smtpc__malloc(&b->mem, fl)) == NULL)
      rc = SMTPC_ERR_NOMEM;
    else {
      memcpy(b->fields, f, fl);
      b->flen = fl;
    }
  }
  smtpc_dkim_ctx_free(c);
  if (rc != SMTPC_OK) {
    smtpc_dkim_body_free(b);
    return rc;
  }
  b->size += (int64_t)b->flen;
  b->type = in->type;
  if (b->type == SMTPC_BODY_AUTO) /* what the session would decide */
    b->type = sc.hdr8    ? SMTPC_BODY_SMTPUTF8
              : sc.body8 ? SMTPC_BODY_8BITMIME
                         : SMTPC_BODY_7BIT;
  *out = b;
  return SMTPC_OK;
}

static int dkb_rewind(void *ctx) {
  smtpc_dkim_body *b = ctx;
  b->fpos = 0;
  b->off = 0;
  b->err = 0;
  b->eof = 0;
  memset(&b->now, 0, sizeof b->now);
  b->need_rewind = 1;
  return SMTPC_OK;
}

/* The source from its first octet again. */
static int source_rewind(smtpc_dkim_body *b) {
  int rc = SMTPC_OK;
  if (b->src == SRC_REWIND)
    rc = b->in.rewind(b->in.ctx);
  else if (b->src == SRC_SPOOL)
    rc = fseek(b->spool, 0, SEEK_SET) == 0 ? SMTPC_OK : SMTPC_ERR_IO;
  return rc > 0 ? SMTPC_ERR_CALLBACK : rc;
}

static smtpc_ssize dkb_read(void *ctx, unsigned char *buf, size_t len) {
  smtpc_dkim_body *b = ctx;
  smtpc_ssize r;
  if (b->err)
    return b->err;
  if (b->eof || len == 0)
    return 0;
  if (b->fpos < b->flen) {
    size_t n = b->flen - b->fpos;
    if (n > len)
      n = len;
    memcpy(buf, b->fields + b->fpos, n);
    b->fpos += n;
    return (smtpc_ssize)n;
  }
  if (b->need_rewind) {
    int rc = source_rewind(b);
    if (rc != SMTPC_OK)
      return b->err = rc;
    b->need_rewind = 0;
  }
  if (b->src == SRC_MEMORY) {
    size_t n = b->in.len - (size_t)b->off;
    if (n > len)
      n = len;
    if (n > 0) /* an empty body may have no data pointer */
      memcpy(buf, (const unsigned char *)b->in.data + b->off, n);
    r = (smtpc_ssize)n;
  } else if (b->src == SRC_SPOOL) {
    size_t n = fread(buf, 1, len, b->spool);
    if (n == 0 && ferror(b->spool))
      return b->err = SMTPC_ERR_IO;
    r = (smtpc_ssize)n;
  } else {
    r = b->in.read(b->in.ctx, buf, len);
    if (r == SMTPC_ERR_WANT_READ)
      return r;
    if (r < 0)
      return b->err = (int)r;
    if ((size_t)r > len)
      return b->err = SMTPC_ERR_CALLBACK;
  }
  if (r > 0) {
    b->off += (uint64_t)r;
    fp_feed(&b->now, buf, (size_t)r);
    return r;
  }
  /* the end: the same octets as the signed pass, or no end of data */
  if (!fp_equal(&b->now, &b->first))
    return b->err = SMTPC_ERR_BODY_READ;
  b->eof = 1;
  b->need_rewind = 1;
  return 0;
}

void smtpc_dkim_body_get(smtpc_dkim_body *b, smtpc_body *body) {
  if (b == NULL || body == NULL)
    return;
  memset(body, 0, sizeof(*body));
  body->version = SMTPC_BODY_VERSION;
  body->read = dkb_read;
  body->ctx = b;
  body->size = b->size;
  body->type = b->type;
  body->rewind = dkb_rewind;
  /* a fresh body starts at the first octet; the source is rewound before
   * its first read unless this is the pass right after signing */
  if (b->fpos != 0 || b->off != 0 || b->eof || b->err) {
    dkb_rewind(b);
  } else {
    memset(&b->now, 0, sizeof b->now);
  }
}

const char *smtpc_dkim_body_fields(const smtpc_dkim_body *b, size_t *len) {
  if (len != NULL)
    *len = b != NULL ? b->flen : 0;
  return b != NULL ? b->fields : NULL;
}

/* Tests: RFC 8463 Appendix A's signed data, from its own field text. */
int smtpc__dkim_header_digest(const unsigned char *hdr, size_t hlen,
                              const char *names, const char *sigfield,
                              smtpc_dkim_canon canon, unsigned char out[32]) {
  smtpc_mem mem;
  smtpc__buf nb = {0};
  smtpc__sha256 sha;
  field *fs = NULL;
  unsigned char *used;
  size_t nf = 0;
  int rc;
  smtpc__mem_init(&mem, NULL);
  if ((rc = parse_fields(&mem, hdr, hlen, &fs, &nf)) != SMTPC_OK)
    return rc;
  nb.data = (unsigned char *)(uintptr_t)names;
  nb.len = strlen(names);
  if ((used = smtpc__malloc(&mem, nf + 1)) == NULL) {
    smtpc__free(&mem, fs);
    return SMTPC_ERR_NOMEM;
  }
  smtpc__sha256_init(&sha);
  hash_selected(&sha, hdr, fs, nf, used, &nb, canon);
  hash_field(&sha, (const unsigned char *)sigfield, strlen(sigfield), 14, canon,
             1);
  smtpc__sha256_final(&sha, out);
  smtpc__free(&mem, used);
  smtpc__free(&mem, fs);
  return SMTPC_OK;
}

/* ---- the MIME builder's bodies ------------------------------------------- */

typedef struct msg_signed {
  struct msg_signed *next;
  smtpc_dkim_body *b;
} msg_signed;

struct smtpc__msg_dkim {
  const smtpc_dkim *keys[MAX_KEYS];
  size_t n;
  msg_signed *bodies; /* handed out by smtpc_msg_body(), freed with m */
};

static void msg_dkim_free(smtpc_msg *m) {
  struct smtpc__msg_dkim *d = m->dkim;
  while (d->bodies != NULL) {
    msg_signed *s = d->bodies;
    d->bodies = s->next;
    smtpc_dkim_body_free(s->b);
    smtpc__free(&m->mem, s);
  }
  smtpc__free(&m->mem, d);
  m->dkim = NULL;
}

/* smtpc_msg_body()'s last step: the built body, signed. */
static int msg_dkim_wrap(smtpc_msg *m, smtpc_body *body) {
  struct smtpc__msg_dkim *d = m->dkim;
  msg_signed *s = smtpc__malloc(&m->mem, sizeof(*s));
  int rc;
  if (s == NULL)
    return SMTPC_ERR_NOMEM;
  rc = smtpc_dkim_body_new(&s->b, d->keys, d->n, body, NULL, &m->mem);
  if (rc != SMTPC_OK) {
    smtpc__free(&m->mem, s);
    return rc;
  }
  s->next = d->bodies;
  d->bodies = s;
  smtpc_dkim_body_get(s->b, body);
  return SMTPC_OK;
}

static const smtpc__msg_dkim_ops msg_dkim_ops = {msg_dkim_wrap, msg_dkim_free};

int smtpc_msg_add_dkim(smtpc_msg *m, const smtpc_dkim *k) {
  if (m == NULL || k == NULL || (m->dkim != NULL && m->dkim->n == MAX_KEYS))
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (k->algo == 0)
    return SMTPC_ERR_DKIM_KEY;
  if (m->dkim == NULL &&
      (m->dkim = smtpc__calloc(&m->mem, 1, sizeof(*m->dkim))) == NULL)
    return SMTPC_ERR_NOMEM;
  m->dkim->keys[m->dkim->n++] = k;
  m->dkim_ops = &msg_dkim_ops;
  return SMTPC_OK;
}
