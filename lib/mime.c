/* SPDX-License-Identifier: MIT */
/* The MIME builder (see smtpc/mime.h).
 *
 * A message is a set of copied inputs.  smtpc_msg_body() turns them into a
 * "program": a list of segments, each either literal bytes (headers,
 * boundary lines; kept in one buffer), a text part to encode from memory
 * (7bit/8bit with CRLF normalisation, or quoted-printable), or an
 * attachment to base64 from memory, a file or a stream.  The program is
 * built again only after the message changes.  Each body handed out gets a
 * reader that walks the program with two fixed buffers (input and output),
 * so the memory used does not depend on the attachment sizes.  Every
 * segment's output size is known in advance except that of a stream or
 * pipe of unknown size, so the message size usually is too.
 *
 * This file holds the message: its setters, its lifecycle and the checks
 * on what is set.  mime_header.c writes the header fields and
 * mime_stream.c builds the program and reads it out; mime_int.h has what
 * the three share. */
#include "mime_int.h"

#include "ascii.h"
#include "domain.h"

#include <string.h>

#define MAX_LINE 998 /* RFC 5322 2.1.1 hard limit, without CRLF */
#define MAX_NAME 76  /* header field name */
#define MAX_FILENAME 1024
#define MAX_TYPE 200

/* ---- small helpers ------------------------------------------------------- */

static void touch(smtpc_msg *m) { m->stale = 1; }

void *smtpc__mime_grow(const smtpc_mem *mem, void *arr, size_t *cap, size_t n,
                       size_t elem) {
  size_t ncap;
  void *p;
  if (n < *cap)
    return arr;
  ncap = *cap ? *cap * 2 : 4;
  if (ncap < *cap || ncap > SIZE_MAX / elem)
    return NULL;
  p = smtpc__realloc(mem, arr, ncap * elem);
  if (p == NULL)
    return NULL;
  *cap = ncap;
  return p;
}

/* RFC 2045 token character. */
static int is_tokenc(int c) {
  return c > 32 && c < 127 && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

size_t smtpc__mime_find(const unsigned char *hay, size_t n, const char *needle,
                        size_t k) {
  size_t i;
  if (k == 0 || n < k)
    return SIZE_MAX;
  for (i = 0; i + k <= n; i++) {
    const unsigned char *p = memchr(hay + i, needle[0], n - k + 1 - i);
    if (p == NULL)
      return SIZE_MAX;
    i = (size_t)(p - hay);
    if (memcmp(p, needle, k) == 0)
      return i;
  }
  return SIZE_MAX;
}

size_t smtpc__mime_word(const char *s, size_t n, size_t i, size_t *word) {
  while (i < n && smtpc__isws((unsigned char)s[i]))
    i++;
  *word = i;
  while (i < n && !smtpc__isws((unsigned char)s[i]))
    i++;
  return i;
}

size_t smtpc__mime_utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len, i;
  uint32_t v;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
    v = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    v = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    v = c & 0x07;
  } else {
    return 0;
  }
  if (n < len)
    return 0;
  for (i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    v = v << 6 | (s[i] & 0x3fu);
  }
  if ((len == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) ||
      (len == 4 && (v < 0x10000 || v > 0x10ffff)))
    return 0;
  return len;
}

static int utf8_valid(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    size_t k = smtpc__mime_utf8_len(s + i, n - i);
    if (k == 0)
      return 0;
    i += k;
  }
  return 1;
}

/* Header text: valid UTF-8 without control characters (TAB allowed when
 * allow_tab). */
static int check_htext(const char *s, int allow_tab) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i, n = strlen(s);
  for (i = 0; i < n; i++)
    if ((p[i] < 32 && !(allow_tab && p[i] == '\t')) || p[i] == 127)
      return SMTPC_ERR_BAD_ARGUMENT;
  return utf8_valid(p, n) ? SMTPC_OK : SMTPC_ERR_BAD_ARGUMENT;
}

/* ---- lifecycle ----------------------------------------------------------- */

int smtpc_msg_new(smtpc_msg **out, const smtpc_mem *mem) {
  smtpc_mem mm;
  smtpc_msg *m;
  int rc;
  if (out == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  m = smtpc__new_object(&mm, mem, sizeof(*m), &rc);
  if (m == NULL)
    return rc;
  m->mem = mm;
  smtpc__mime_platform_default(&m->plat);
  m->idna = smtpc_idna_to_ascii;
  m->stale = 1;
  *out = m;
  return SMTPC_OK;
}

static void mbox_free(const smtpc_mem *mem, smtpc__mbox *b) {
  smtpc__free(mem, b->name);
  smtpc__free(mem, b->addr);
  b->name = b->addr = NULL;
}

static void part_free(const smtpc_mem *mem, smtpc__part *p) {
  smtpc__free(mem, p->data);
  smtpc__free(mem, p->path);
  smtpc__free(mem, p->filename);
  smtpc__free(mem, p->type);
  smtpc__free(mem, p->cid);
}

void smtpc_msg_free(smtpc_msg *m) {
  const smtpc_mem *mem;
  size_t i;
  if (m == NULL)
    return;
  mem = &m->mem;
  if (m->dkim_ops != NULL)
    m->dkim_ops->free(m);
  smtpc__mime_readers_free(m);
  mbox_free(mem, &m->from);
  mbox_free(mem, &m->sender);
  mbox_free(mem, &m->reply_to);
  for (i = 0; i < m->nrcpts; i++) {
    mbox_free(mem, &m->rcpts[i].mb);
    smtpc__free(mem, m->rcpts[i].orcpt);
  }
  smtpc__free(mem, m->rcpts);
  smtpc__free(mem, m->dsn_envid);
  smtpc__free(mem, m->subject);
  smtpc__free(mem, m->msgid);
  for (i = 0; i < m->nfields; i++) {
    smtpc__free(mem, m->fields[i].name);
    smtpc__free(mem, m->fields[i].value);
  }
  smtpc__free(mem, m->fields);
  smtpc__free(mem, m->txt.p);
  smtpc__free(mem, m->html.p);
  for (i = 0; i < m->nparts; i++)
    part_free(mem, &m->parts[i]);
  smtpc__free(mem, m->parts);
  smtpc__buf_free(&m->lit, mem);
  smtpc__free(mem, m->segs);
  smtpc__free(mem, (void *)m->env);
  smtpc__free(mem, m);
}

int smtpc_msg_set_platform(smtpc_msg *m, const smtpc_msg_platform *platform) {
  if (m == NULL ||
      (platform != NULL && platform->version != SMTPC_MSG_PLATFORM_VERSION))
    return SMTPC_ERR_INVALID_ARGUMENT;
  /* open files belong to the hooks that opened them */
  smtpc__mime_readers_stop(m, SMTPC_ERR_INVALID_STATE);
  if (platform == NULL)
    smtpc__mime_platform_default(&m->plat);
  else
    m->plat = *platform;
  touch(m);
  return SMTPC_OK;
}

int smtpc_msg_set_seed(smtpc_msg *m, uint64_t seed) {
  if (m == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  m->seeded = 1;
  m->seed = seed;
  m->have_rnd = 0;
  touch(m);
  return SMTPC_OK;
}

int smtpc_msg_set_buffer_size(smtpc_msg *m, size_t size) {
  if (m == NULL || (size != 0 && (size < SMTPC__MIME_BUFSIZE_MIN ||
                                  size > SMTPC__MIME_BUFSIZE_MAX)))
    return SMTPC_ERR_INVALID_ARGUMENT;
  m->bufsize = size; /* the bytes produced do not change: no touch() */
  return SMTPC_OK;
}

int smtpc_msg_set_8bitmime(smtpc_msg *m, int on) {
  if (m == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  m->allow8bit = on != 0;
  touch(m);
  return SMTPC_OK;
}

/* local parts byte for byte, domains ignoring ASCII case */
static int same_addr(const char *a, const char *b) {
  const char *da = strrchr(a, '@'), *db = strrchr(b, '@');
  size_t la = (size_t)(da - a), lb = (size_t)(db - b);
  return la == lb && memcmp(a, b, la) == 0 &&
         smtpc__strcasecmp(da + 1, db + 1) == 0;
}

int smtpc_msg_set_smtputf8(smtpc_msg *m, int on) {
  if (m == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  m->allow_utf8 = on != 0;
  touch(m);
  return SMTPC_OK;
}

int smtpc_msg_set_idna(smtpc_msg *m, smtpc_idna_cb cb, void *user) {
  if (m == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  m->idna = cb;
  m->idna_user = user;
  touch(m);
  return SMTPC_OK;
}

int smtpc__mime_addr(smtpc_msg *m, const char *addr, char *out,
                     const char **res) {
  unsigned u = smtpc__addr_utf8(addr);
  int rv;
  *res = addr;
  if (u == 0)
    return SMTPC_OK;
  if (m->allow_utf8) {
    m->utf8hdr = 1; /* RFC 6532: the message needs SMTPUTF8 */
    return SMTPC_OK;
  }
  if (u & SMTPC__UTF8_LOCAL)
    return SMTPC_ERR_SMTPUTF8_UNSUPPORTED;
  if ((rv = smtpc__addr_alabel(m->idna, m->idna_user, addr, out)) == SMTPC_OK)
    *res = out;
  return rv;
}

/* ---- DSN for the envelope ------------------------------------------------ */

int smtpc_msg_set_dsn(smtpc_msg *m, smtpc_dsn_ret ret, const char *envid,
                      unsigned notify, unsigned flags) {
  char *e = NULL;
  int rv;
  if (m == NULL || (unsigned)ret > SMTPC_DSN_RET_HDRS ||
      (flags & ~SMTPC_DSN_REQUIRED) != 0 ||
      smtpc__check_notify(notify) != SMTPC_OK)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (envid != NULL) {
    if ((rv = smtpc__check_envid(envid)) != SMTPC_OK)
      return rv;
    if ((e = smtpc__strdup(&m->mem, envid)) == NULL)
      return SMTPC_ERR_NOMEM;
  }
  smtpc__free(&m->mem, m->dsn_envid);
  m->dsn_envid = e;
  m->dsn_ret = ret;
  m->dsn_notify = notify;
  m->dsn_flags = flags;
  m->dsn_set = 1;
  return SMTPC_OK;
}

int smtpc_msg_set_notify(smtpc_msg *m, const char *addr, unsigned notify,
                         const char *orcpt) {
  char enc[SMTPC__ORCPT_MAX + 1];
  size_t i, found = 0;
  int rv;
  if (m == NULL || addr == NULL || smtpc__check_notify(notify) != SMTPC_OK)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (orcpt != NULL && ((rv = smtpc__check_mailbox(orcpt, 0)) != SMTPC_OK ||
                        (rv = smtpc__orcpt_encode(enc, orcpt, 0)) != SMTPC_OK))
    return rv;
  for (i = 0; i < m->nrcpts; i++) {
    smtpc__rcpt *r = &m->rcpts[i];
    char *o = NULL;
    if (strchr(addr, '@') == NULL || !same_addr(r->mb.addr, addr))
      continue;
    if (orcpt != NULL && (o = smtpc__strdup(&m->mem, orcpt)) == NULL)
      return SMTPC_ERR_NOMEM;
    smtpc__free(&m->mem, r->orcpt);
    r->orcpt = o;
    r->notify = notify;
    r->has_notify = 1;
    found++;
  }
  if (found == 0)
    return SMTPC_ERR_INVALID_STATE; /* not a recipient */
  m->dsn_set = 1;
  return SMTPC_OK;
}

int smtpc__msg_dsn_asked(const smtpc_msg *m) { return m->dsn_set; }

/* ---- REQUIRETLS and TLS-Required (RFC 8689) ------------------------------ */

/* 1 if the caller added a TLS-Required field. */
static int has_tls_required_field(const smtpc_msg *m) {
  size_t i;
  for (i = 0; i < m->nfields; i++)
    if (smtpc__strcasecmp(m->fields[i].name, "TLS-Required") == 0)
      return 1;
  return 0;
}

int smtpc_msg_set_requiretls(smtpc_msg *m, int on) {
  if (m == NULL || (on && m->tls_required_no))
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (on && has_tls_required_field(m))
    return SMTPC_ERR_INVALID_STATE;
  m->requiretls = on != 0;
  return SMTPC_OK;
}

int smtpc_msg_set_tls_required_no(smtpc_msg *m, int on) {
  if (m == NULL || (on && m->requiretls))
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (on && has_tls_required_field(m))
    return SMTPC_ERR_INVALID_STATE; /* RFC 8689 3: at most one */
  m->tls_required_no = on != 0;
  touch(m);
  return SMTPC_OK;
}

int smtpc__msg_apply_requiretls(const smtpc_msg *m, smtpc_txn *t) {
  return m->requiretls ? smtpc_txn_set_requiretls(t, 1) : SMTPC_OK;
}

int smtpc__msg_apply_dsn(smtpc_msg *m, smtpc_txn *t) {
  size_t i, j, n = smtpc_txn_rcpt_count(t);
  int rv;
  if (!m->dsn_set)
    return SMTPC_OK;
  if ((rv = smtpc_txn_set_dsn(t, m->dsn_ret, m->dsn_envid, m->dsn_flags)) !=
      SMTPC_OK)
    return rv;
  for (i = 0; i < n; i++) {
    const char *a = smtpc_txn_rcpt(t, i);
    unsigned notify = m->dsn_notify;
    const char *orcpt = NULL;
    for (j = 0; j < m->nrcpts; j++) {
      if (m->rcpts[j].has_notify && same_addr(m->rcpts[j].mb.addr, a)) {
        notify = m->rcpts[j].notify;
        orcpt = m->rcpts[j].orcpt;
        break;
      }
    }
    if ((notify != 0 || orcpt != NULL) &&
        (rv = smtpc_txn_set_notify(t, i, notify, orcpt)) != SMTPC_OK)
      return rv;
  }
  return SMTPC_OK;
}

/* ---- addresses ----------------------------------------------------------- */

static int check_addr(const char *addr) {
  if (addr == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (strchr(addr, '@') == NULL || smtpc__check_mailbox(addr, 0) != SMTPC_OK)
    return SMTPC_ERR_BAD_ADDRESS;
  return SMTPC_OK;
}

/* Validates and copies (name, addr) into *b, replacing its content. */
static int mbox_set(smtpc_msg *m, smtpc__mbox *b, const char *name,
                    const char *addr) {
  char *n = NULL, *a;
  int rv;
  if (m == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if ((rv = check_addr(addr)) != SMTPC_OK)
    return rv;
  if (name != NULL && name[0] != '\0') {
    if ((rv = check_htext(name, 0)) != SMTPC_OK)
      return rv;
    if ((n = smtpc__strdup(&m->mem, name)) == NULL)
      return SMTPC_ERR_NOMEM;
  }
  if ((a = smtpc__strdup(&m->mem, addr)) == NULL) {
    smtpc__free(&m->mem, n);
    return SMTPC_ERR_NOMEM;
  }
  mbox_free(&m->mem, b);
  b->name = n;
  b->addr = a;
  touch(m);
  return SMTPC_OK;
}

int smtpc_msg_set_from(smtpc_msg *m, const char *name, const char *addr) {
  return m == NULL ? SMTPC_ERR_INVALID_ARGUMENT
                   : mbox_set(m, &m->from, name, addr);
}

int smtpc_msg_set_sender(smtpc_msg *m, const char *name, const char *addr) {
  return m == NULL ? SMTPC_ERR_INVALID_ARGUMENT
                   : mbox_set(m, &m->sender, name, addr);
}

int smtpc_msg_set_reply_to(smtpc_msg *m, const char *name, const char *addr) {
  return m == NULL ? SMTPC_ERR_INVALID_ARGUMENT
                   : mbox_set(m, &m->reply_to, name, addr);
}

static int add_rcpt(smtpc_msg *m, int kind, const char *name,
                    const char *addr) {
  smtpc__rcpt *r;
  int rv;
  if (m == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (kind == SMTPC__RCPT_BCC)
    name = NULL; /* never written anywhere */
  r = smtpc__mime_grow(&m->mem, m->rcpts, &m->caprcpts, m->nrcpts,
                       sizeof(smtpc__rcpt));
  if (r == NULL)
    return SMTPC_ERR_NOMEM;
  m->rcpts = r;
  r = &m->rcpts[m->nrcpts];
  memset(r, 0, sizeof(*r));
  if ((rv = mbox_set(m, &r->mb, name, addr)) != SMTPC_OK)
    return rv;
  r->kind = kind;
  m->nrcpts++;
  return SMTPC_OK;
}

int smtpc_msg_add_to(smtpc_msg *m, const char *name, const char *addr) {
  return add_rcpt(m, SMTPC__RCPT_TO, name, addr);
}

int smtpc_msg_add_cc(smtpc_msg *m, const char *name, const char *addr) {
  return add_rcpt(m, SMTPC__RCPT_CC, name, addr);
}

int smtpc_msg_add_bcc(smtpc_msg *m, const char *name, const char *addr) {
  return add_rcpt(m, SMTPC__RCPT_BCC, name, addr);
}

int smtpc_msg_envelope(smtpc_msg *m, const char **from,
                       const char *const **rcpts, size_t *n) {
  size_t i, j, k = 0;
  const char **env;
  if (m == NULL || from == NULL || rcpts == NULL || n == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  *from = NULL;
  *rcpts = NULL;
  *n = 0;
  if (m->from.addr == NULL && m->sender.addr == NULL)
    return SMTPC_ERR_INVALID_STATE;
  env = smtpc__calloc(&m->mem, m->nrcpts, sizeof(*env));
  if (env == NULL)
    return SMTPC_ERR_NOMEM;
  for (i = 0; i < m->nrcpts; i++) {
    const char *a = m->rcpts[i].mb.addr;
    for (j = 0; j < k && !same_addr(env[j], a); j++)
      ;
    if (j == k)
      env[k++] = a;
  }
  smtpc__free(&m->mem, (void *)m->env);
  m->env = env;
  m->nenv = k;
  *from = m->sender.addr != NULL ? m->sender.addr : m->from.addr;
  *rcpts = k > 0 ? env : NULL;
  *n = k;
  return SMTPC_OK;
}

/* ---- simple header fields ------------------------------------------------ */

int smtpc_msg_set_subject(smtpc_msg *m, const char *subject) {
  char *s = NULL;
  int rv;
  if (m == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (subject != NULL) {
    if ((rv = check_htext(subject, 1)) != SMTPC_OK)
      return rv;
    if ((s = smtpc__strdup(&m->mem, subject)) == NULL)
      return SMTPC_ERR_NOMEM;
  }
  smtpc__free(&m->mem, m->subject);
  m->subject = s;
  touch(m);
  return SMTPC_OK;
}

int smtpc_msg_set_date(smtpc_msg *m, int64_t unix_time, int utc_offset) {
  int64_t lt;
  if (m == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (!smtpc__mime_local_time(unix_time, utc_offset, &lt))
    return SMTPC_ERR_BAD_ARGUMENT;
  m->have_date = 1;
  m->date = unix_time;
  m->date_off = utc_offset;
  touch(m);
  return SMTPC_OK;
}

static int check_dot_atom(const char *s, size_t n) {
  size_t i;
  if (n == 0 || s[0] == '.' || s[n - 1] == '.')
    return 0;
  for (i = 0; i < n; i++) {
    if (s[i] == '.') {
      if (s[i - 1] == '.')
        return 0;
    } else if (!smtpc__isatext((unsigned char)s[i])) {
      return 0;
    }
  }
  return 1;
}

/* RFC 5322 3.6.4 msg-id without the angle brackets. */
static int check_msgid(const char *id) {
  const char *at = strchr(id, '@');
  size_t n = strlen(id), l;
  if (at == NULL || n > 250)
    return 0;
  l = (size_t)(at - id);
  if (!check_dot_atom(id, l))
    return 0;
  if (at[1] == '[')
    return smtpc__check_literal(at + 1, n - l - 1);
  return check_dot_atom(at + 1, n - l - 1);
}

int smtpc_msg_set_message_id(smtpc_msg *m, const char *id) {
  char *s;
  if (m == NULL || id == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (!check_msgid(id))
    return SMTPC_ERR_BAD_ARGUMENT;
  if ((s = smtpc__strdup(&m->mem, id)) == NULL)
    return SMTPC_ERR_NOMEM;
  smtpc__free(&m->mem, m->msgid);
  m->msgid = s;
  touch(m);
  return SMTPC_OK;
}

const char *smtpc_msg_message_id(const smtpc_msg *m) {
  return m == NULL ? NULL : m->msgid;
}

static const char *const reserved[] = {
    "from", "sender",  "reply-to", "to",         "cc",
    "bcc",  "subject", "date",     "message-id", "mime-version"};

/* Longest line an ASCII value gives when folded only at its white space,
 * the first line starting with "name: ". */
static size_t longest_folded(size_t namelen, const char *v) {
  size_t i = 0, n = strlen(v), best = 0, first = 1;
  while (i < n) {
    size_t ws = i, w;
    i = smtpc__mime_word(v, n, i, &w);
    if (first) {
      best = namelen + 1 + (w == ws ? 1 : w - ws) + (i - w);
      first = 0;
    } else if (i - ws > best) {
      best = i - ws;
    }
  }
  return best;
}

int smtpc_msg_add_header(smtpc_msg *m, const char *name, const char *value) {
  size_t i, n;
  smtpc__field *f;
  int rv;
  if (m == NULL || name == NULL || value == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  n = strlen(name);
  if (n == 0 || n > MAX_NAME)
    return SMTPC_ERR_BAD_ARGUMENT;
  for (i = 0; i < n; i++) /* ftext = %d33-57 / %d59-126 */
    if ((unsigned char)name[i] < 33 || (unsigned char)name[i] > 126 ||
        name[i] == ':')
      return SMTPC_ERR_BAD_ARGUMENT;
  for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
    if (smtpc__strcasecmp(name, reserved[i]) == 0)
      return SMTPC_ERR_BAD_ARGUMENT;
  if (smtpc__strncasecmp(name, "content-", 8) == 0)
    return SMTPC_ERR_BAD_ARGUMENT;
  /* the library writes TLS-Required itself (RFC 8689 3: at most one), and
   * it contradicts REQUIRETLS */
  if ((m->tls_required_no || m->requiretls) &&
      smtpc__strcasecmp(name, "TLS-Required") == 0)
    return SMTPC_ERR_BAD_ARGUMENT;
  if ((rv = check_htext(value, 1)) != SMTPC_OK)
    return rv;
  /* an ASCII value is written as given: it must fold under the limit (an
   * 8-bit one is encoded, and encoded words fold anywhere) */
  if (!smtpc__has_8bit(value, strlen(value)) &&
      longest_folded(n, value) > MAX_LINE)
    return SMTPC_ERR_BAD_ARGUMENT;
  f = smtpc__mime_grow(&m->mem, m->fields, &m->capfields, m->nfields,
                       sizeof(smtpc__field));
  if (f == NULL)
    return SMTPC_ERR_NOMEM;
  m->fields = f;
  f = &m->fields[m->nfields];
  f->name = smtpc__strdup(&m->mem, name);
  f->value = smtpc__strdup(&m->mem, value);
  if (f->name == NULL || f->value == NULL) {
    smtpc__free(&m->mem, f->name);
    smtpc__free(&m->mem, f->value);
    return SMTPC_ERR_NOMEM;
  }
  m->nfields++;
  touch(m);
  return SMTPC_OK;
}

/* ---- bodies and parts ---------------------------------------------------- */

static int set_text(smtpc_msg *m, smtpc__textpart *t, const char *s,
                    size_t len) {
  unsigned char *p = NULL;
  if (m == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (s != NULL) {
    if (len == SIZE_MAX)
      len = strlen(s);
    if (!utf8_valid((const unsigned char *)s, len))
      return SMTPC_ERR_BAD_ARGUMENT;
    if ((p = smtpc__malloc(&m->mem, len)) == NULL)
      return SMTPC_ERR_NOMEM;
    if (len > 0)
      memcpy(p, s, len);
  }
  smtpc__free(&m->mem, t->p);
  t->p = p;
  t->len = s != NULL ? len : 0;
  t->set = s != NULL;
  touch(m);
  return SMTPC_OK;
}

int smtpc_msg_set_text(smtpc_msg *m, const char *text, size_t len) {
  return m == NULL ? SMTPC_ERR_INVALID_ARGUMENT
                   : set_text(m, &m->txt, text, len);
}

int smtpc_msg_set_html(smtpc_msg *m, const char *html, size_t len) {
  return m == NULL ? SMTPC_ERR_INVALID_ARGUMENT
                   : set_text(m, &m->html, html, len);
}

static const struct {
  const char *ext;
  const char *type;
} types[] = {
    {"txt", "text/plain"},
    {"text", "text/plain"},
    {"log", "text/plain"},
    {"html", "text/html"},
    {"htm", "text/html"},
    {"csv", "text/csv"},
    {"ics", "text/calendar"},
    {"xml", "application/xml"},
    {"json", "application/json"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"svg", "image/svg+xml"},
    {"webp", "image/webp"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tar", "application/x-tar"},
    {"doc", "application/msword"},
    {"docx", "application/"
             "vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"xls", "application/vnd.ms-excel"},
    {"xlsx",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"ppt", "application/vnd.ms-powerpoint"},
    {"pptx", "application/"
             "vnd.openxmlformats-officedocument.presentationml.presentation"},
    {"odt", "application/vnd.oasis.opendocument.text"},
    {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
    {"mp3", "audio/mpeg"},
    {"wav", "audio/wav"},
    {"mp4", "video/mp4"},
};

const char *smtpc_msg_guess_type(const char *filename) {
  const char *dot, *slash;
  size_t i;
  if (filename == NULL)
    return "application/octet-stream";
  dot = strrchr(filename, '.');
  slash = strrchr(filename, '/');
  if (dot != NULL && (slash == NULL || dot > slash)) {
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
      if (smtpc__strcasecmp(dot + 1, types[i].ext) == 0)
        return types[i].type;
  }
  return "application/octet-stream";
}

static int check_filename(const char *f) {
  size_t n = strlen(f);
  if (n == 0 || n > MAX_FILENAME)
    return SMTPC_ERR_BAD_ARGUMENT;
  return check_htext(f, 0);
}

/* "type/subtype" followed by optional parameters: printable ASCII, no
 * multipart or message type (they would break the structure or need other
 * encodings than base64). */
static int check_type(const char *t) {
  size_t i = 0, n = strlen(t), k;
  if (n == 0 || n > MAX_TYPE)
    return SMTPC_ERR_BAD_ARGUMENT;
  while (i < n && is_tokenc((unsigned char)t[i]))
    i++;
  k = i;
  if (k == 0 || i >= n || t[i++] != '/')
    return SMTPC_ERR_BAD_ARGUMENT;
  if ((k == 9 && smtpc__strncasecmp(t, "multipart", 9) == 0) ||
      (k == 7 && smtpc__strncasecmp(t, "message", 7) == 0))
    return SMTPC_ERR_BAD_ARGUMENT;
  k = i;
  while (i < n && is_tokenc((unsigned char)t[i]))
    i++;
  if (i == k)
    return SMTPC_ERR_BAD_ARGUMENT;
  if (i == n)
    return SMTPC_OK;
  /* parameters: must start with ';' after optional white space */
  k = i;
  while (k < n && smtpc__isws((unsigned char)t[k]))
    k++;
  if (k == n || t[k] != ';')
    return SMTPC_ERR_BAD_ARGUMENT;
  for (; i < n; i++)
    if (((unsigned char)t[i] < 32 || (unsigned char)t[i] > 126) && t[i] != '\t')
      return SMTPC_ERR_BAD_ARGUMENT;
  if (smtpc__isws((unsigned char)t[n - 1]) || t[n - 1] == ';')
    return SMTPC_ERR_BAD_ARGUMENT;
  return SMTPC_OK;
}

static int check_cid(const char *c) {
  size_t i, n = strlen(c);
  if (n == 0 || n > SMTPC__MIME_MAX_CID)
    return SMTPC_ERR_BAD_ARGUMENT;
  for (i = 0; i < n; i++)
    if (!smtpc__isatext((unsigned char)c[i]) && c[i] != '.' && c[i] != '@')
      return SMTPC_ERR_BAD_ARGUMENT;
  return SMTPC_OK;
}

/* Validates the names, copies them into p, appends p (whose source fields
 * the caller filled and which owns p->data / p->path from here on). */
static int add_part(smtpc_msg *m, smtpc__part *p, const char *filename,
                    const char *type, const char *cid) {
  smtpc__part *np;
  int rv = SMTPC_OK;
  if (filename != NULL && (rv = check_filename(filename)) != SMTPC_OK)
    goto fail;
  if (type == NULL)
    type = smtpc_msg_guess_type(filename);
  else if ((rv = check_type(type)) != SMTPC_OK)
    goto fail;
  if (p->is_inline && (cid == NULL || (rv = check_cid(cid)) != SMTPC_OK)) {
    if (cid == NULL)
      rv = SMTPC_ERR_INVALID_ARGUMENT;
    goto fail;
  }
  rv = SMTPC_ERR_NOMEM;
  if (filename != NULL &&
      (p->filename = smtpc__strdup(&m->mem, filename)) == NULL)
    goto fail;
  if ((p->type = smtpc__strdup(&m->mem, type)) == NULL)
    goto fail;
  if (cid != NULL && p->is_inline &&
      (p->cid = smtpc__strdup(&m->mem, cid)) == NULL)
    goto fail;
  if ((np = smtpc__mime_grow(&m->mem, m->parts, &m->capparts, m->nparts,
                             sizeof(smtpc__part))) == NULL)
    goto fail;
  m->parts = np;
  m->parts[m->nparts++] = *p;
  touch(m);
  return SMTPC_OK;
fail:
  part_free(&m->mem, p);
  return rv;
}

static int add_memory(smtpc_msg *m, int is_inline, const void *data, size_t len,
                      const char *filename, const char *type, const char *cid) {
  smtpc__part p;
  if (m == NULL || (data == NULL && len > 0))
    return SMTPC_ERR_INVALID_ARGUMENT;
#if SIZE_MAX > INT64_MAX /* else every len fits (and the test would warn) */
  if (len > INT64_MAX)
    return SMTPC_ERR_INVALID_ARGUMENT;
#endif
  memset(&p, 0, sizeof(p));
  p.src = SMTPC__SRC_MEM;
  p.is_inline = is_inline;
  p.len = len;
  p.size = (int64_t)len;
  if ((p.data = smtpc__malloc(&m->mem, len)) == NULL)
    return SMTPC_ERR_NOMEM;
  if (len > 0)
    memcpy(p.data, data, len);
  return add_part(m, &p, filename, type, cid);
}

int smtpc__mime_file_open(smtpc_msg *m, const char *path, void **fh,
                          int64_t *size) {
  int rv;
  if (m->plat.file_open == NULL || m->plat.file_read == NULL ||
      m->plat.file_close == NULL)
    return SMTPC_ERR_NOT_SUPPORTED;
  rv = m->plat.file_open(m->plat.user, path, fh, size);
  if (rv != SMTPC_OK) {
    *fh = NULL;
    return rv < 0 ? rv : SMTPC_ERR_IO;
  }
  return SMTPC_OK;
}

static int add_file(smtpc_msg *m, int is_inline, const char *path,
                    const char *filename, const char *type, const char *cid) {
  smtpc__part p;
  void *fh = NULL;
  int64_t size = -1;
  int rv;
  if (m == NULL || path == NULL || path[0] == '\0')
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (filename == NULL) {
    const char *slash = strrchr(path, '/');
    filename = slash != NULL ? slash + 1 : path;
    if (filename[0] == '\0')
      filename = NULL;
  }
  if ((rv = smtpc__mime_file_open(m, path, &fh, &size)) != SMTPC_OK)
    return rv;
  m->plat.file_close(m->plat.user, fh);
  memset(&p, 0, sizeof(p));
  p.src = SMTPC__SRC_FILE;
  p.is_inline = is_inline;
  p.size = size < 0 ? -1 : size;
  if ((p.path = smtpc__strdup(&m->mem, path)) == NULL)
    return SMTPC_ERR_NOMEM;
  return add_part(m, &p, filename, type, cid);
}

static int add_stream(smtpc_msg *m, int is_inline, smtpc_msg_read_cb read,
                      void *ctx, int64_t size, const char *filename,
                      const char *type, const char *cid) {
  smtpc__part p;
  if (m == NULL || read == NULL || size < -1)
    return SMTPC_ERR_INVALID_ARGUMENT;
  memset(&p, 0, sizeof(p));
  p.src = SMTPC__SRC_STREAM;
  p.is_inline = is_inline;
  p.read = read;
  p.ctx = ctx;
  p.size = size;
  return add_part(m, &p, filename, type, cid);
}

int smtpc_msg_add_attachment_memory(smtpc_msg *m, const void *data, size_t len,
                                    const char *filename,
                                    const char *content_type) {
  return add_memory(m, 0, data, len, filename, content_type, NULL);
}

int smtpc_msg_add_attachment_file(smtpc_msg *m, const char *path,
                                  const char *filename,
                                  const char *content_type) {
  return add_file(m, 0, path, filename, content_type, NULL);
}

int smtpc_msg_add_attachment_stream(smtpc_msg *m, smtpc_msg_read_cb read,
                                    void *ctx, int64_t size,
                                    const char *filename,
                                    const char *content_type) {
  return add_stream(m, 0, read, ctx, size, filename, content_type, NULL);
}

int smtpc_msg_add_inline_memory(smtpc_msg *m, const void *data, size_t len,
                                const char *filename, const char *content_type,
                                const char *content_id) {
  return add_memory(m, 1, data, len, filename, content_type, content_id);
}

int smtpc_msg_add_inline_file(smtpc_msg *m, const char *path,
                              const char *filename, const char *content_type,
                              const char *content_id) {
  return add_file(m, 1, path, filename, content_type, content_id);
}

int smtpc_msg_add_inline_stream(smtpc_msg *m, smtpc_msg_read_cb read, void *ctx,
                                int64_t size, const char *filename,
                                const char *content_type,
                                const char *content_id) {
  return add_stream(m, 1, read, ctx, size, filename, content_type, content_id);
}
