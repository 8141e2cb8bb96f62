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
 * Boundaries are "=_" + a kind letter + "_" + 24 random letters and digits,
 * one per multipart kind (mixed, alternative, related), all of one length so
 * none is a prefix of another.  Base64 output never contains '_' and
 * quoted-printable output never has '=' followed by '_' (qp.c), so a
 * boundary cannot occur in an encoded part whatever its content, streamed
 * or not.  The only parts sent unencoded are 7bit/8bit text parts, which are
 * in memory: the random string is checked against them and drawn again on a
 * match; after 8 matches (a seed chosen against us) the part goes out as
 * quoted-printable instead. */
#include "mime_int.h"

#include "ascii.h"

#include <string.h>

#define FOLD_AT 78       /* fold header lines beyond this column */
#define MAX_LINE 998     /* RFC 5322 2.1.1 hard limit, without CRLF */
#define MAX_TEXT_LINE 78 /* longer text lines go out quoted-printable */
#define MAX_NAME 76      /* header field name */
#define MAX_FILENAME 1024
#define MAX_TYPE 200
#define QUOTED_MAX 60 /* longer ASCII names and file names get encoded */
#define BOUNDARY_TRIES 8
#define IBUF_SIZE 32832 /* 576 base64 lines of input per source read */
#define OBUF_SIZE 32768
#define MAX_SPINS 1000000L /* fill steps per read call */

enum { SEG_LIT, SEG_TEXT, SEG_BIN };
enum { ENC_7BIT, ENC_8BIT, ENC_QP };
enum { N_NONE, N_TEXT, N_HTML, N_ALT, N_REL, N_MIXED };

typedef struct smtpc__seg {
  int kind;
  int enc;                  /* SEG_TEXT */
  size_t off, len;          /* SEG_LIT: range of lit; SEG_TEXT: src length */
  const unsigned char *src; /* SEG_TEXT */
  size_t part;              /* SEG_BIN */
} seg;

/* The state of one body handed out by smtpc_msg_body().  Each body has its
 * own, so one message can be queued in several transactions; all read the
 * same program while it lasts (gen).  Readers stay on the message's list
 * until smtpc_msg_free(); their buffers are freed as soon as they finish. */
typedef struct smtpc__reader {
  struct smtpc_msg *m;
  struct smtpc__reader *next;
  unsigned gen; /* the program generation this body reads */
  int finished; /* returned 0 or an error; the buffers are gone */
  size_t seg;   /* current segment */
  size_t pos;   /* position in a literal, text or memory source */
  int started;  /* the current binary segment has been set up */
  int eof;      /* its source has ended */
  int64_t got;  /* bytes read from it */
  void *file;   /* open file of a SMTPC__SRC_FILE part */
  smtpc__qp qp;
  smtpc__crlf crlf;
  smtpc__b64s b64;
  unsigned char *ibuf;
  size_t ilen, ioff;
  unsigned char *obuf;
  size_t olen, ooff;
  int err; /* sticky */
} reader;

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

static size_t fmt_uint(char *out, uint64_t v, size_t width) {
  char tmp[24];
  size_t n = 0, i;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v > 0 && n < sizeof(tmp));
  while (n < width && n < sizeof(tmp))
    tmp[n++] = '0';
  for (i = 0; i < n; i++)
    out[i] = tmp[n - 1 - i];
  return n;
}

/* ---- dates (RFC 5322 3.3) ------------------------------------------------ */

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t days_from_civil(int64_t y, int mo, int d) {
  int64_t era, yoe, doy, doe;
  y -= mo <= 2;
  era = floor_div(y, 400);
  yoe = y - era * 400;
  doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *mo, int *d) {
  int64_t era, doe, yoe, doy, mp;
  z += 719468;
  era = floor_div(z, 146097);
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *mo = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*mo <= 2);
}

/* Local seconds of (t, off), or 0 when out of the years 1900..9999. */
int smtpc__mime_local_time(int64_t t, int off, int64_t *lt) {
  int64_t lo = days_from_civil(1900, 1, 1) * 86400;
  int64_t hi = days_from_civil(10000, 1, 1) * 86400;
  if (off < -1439 || off > 1439 || t < lo - 86400 || t > hi + 86400)
    return 0;
  *lt = t + (int64_t)off * 60;
  return *lt >= lo && *lt < hi;
}

/* "Thu, 01 Jan 1970 00:00:00 +0000"; out needs 32 bytes. */
static size_t fmt_date(char *out, int64_t t, int off) {
  static const char wdays[] = "SunMonTueWedThuFriSat";
  static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  int64_t lt = 0, days, secs, y;
  int mo, d, aoff = off < 0 ? -off : off;
  size_t n = 0;
  (void)smtpc__mime_local_time(t, off, &lt);
  days = floor_div(lt, 86400);
  secs = lt - days * 86400;
  civil_from_days(days, &y, &mo, &d);
  memcpy(out, wdays + ((days % 7 + 11) % 7) * 3, 3);
  n = 3;
  out[n++] = ',';
  out[n++] = ' ';
  n += fmt_uint(out + n, (uint64_t)d, 2);
  out[n++] = ' ';
  memcpy(out + n, months + (mo - 1) * 3, 3);
  n += 3;
  out[n++] = ' ';
  n += fmt_uint(out + n, (uint64_t)y, 4);
  out[n++] = ' ';
  n += fmt_uint(out + n, (uint64_t)(secs / 3600), 2);
  out[n++] = ':';
  n += fmt_uint(out + n, (uint64_t)(secs / 60 % 60), 2);
  out[n++] = ':';
  n += fmt_uint(out + n, (uint64_t)(secs % 60), 2);
  out[n++] = ' ';
  out[n++] = off < 0 ? '-' : '+';
  n += fmt_uint(out + n, (uint64_t)(aoff / 60 * 100 + aoff % 60), 4);
  out[n] = '\0';
  return n;
}

/* ---- randomness ---------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static int get_random(smtpc_msg *m, unsigned char *buf, size_t n) {
  size_t i;
  if (m->seeded) {
    for (i = 0; i < n; i++)
      buf[i] = (unsigned char)(splitmix64(&m->seed) >> 56);
    return SMTPC_OK;
  }
  if (m->plat.random == NULL)
    return SMTPC_ERR_NOT_SUPPORTED;
  return m->plat.random(m->plat.user, buf, n);
}

static int new_rnd(smtpc_msg *m) {
  static const char set[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  unsigned char b[SMTPC__MIME_RND_LEN];
  size_t i;
  int rv = get_random(m, b, sizeof(b));
  if (rv != SMTPC_OK)
    return rv;
  for (i = 0; i < SMTPC__MIME_RND_LEN; i++)
    m->rnd[i] = set[b[i] % 62];
  m->rnd[SMTPC__MIME_RND_LEN] = '\0';
  m->have_rnd = 1;
  return SMTPC_OK;
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

/* Ends a reader: closes its file, frees its buffers, makes err sticky. */
static void reader_finish(reader *r, int err) {
  smtpc_msg *m = r->m;
  if (r->file != NULL && m->plat.file_close != NULL)
    m->plat.file_close(m->plat.user, r->file);
  r->file = NULL;
  smtpc__free(&m->mem, r->ibuf);
  smtpc__free(&m->mem, r->obuf);
  r->ibuf = r->obuf = NULL;
  r->olen = r->ooff = 0;
  r->finished = 1;
  if (r->err == SMTPC_OK)
    r->err = err;
}

/* Ends every reader that has not finished (with err). */
void smtpc__mime_readers_stop(smtpc_msg *m, int err) {
  reader *r;
  for (r = m->readers; r != NULL; r = r->next)
    if (!r->finished)
      reader_finish(r, err);
}

void smtpc__mime_readers_free(smtpc_msg *m) {
  smtpc__mime_readers_stop(m, SMTPC_ERR_INVALID_STATE);
  while (m->readers != NULL) {
    reader *r = m->readers;
    m->readers = r->next;
    smtpc__free(&m->mem, r);
  }
}

void smtpc_msg_free(smtpc_msg *m) {
  const smtpc_mem *mem;
  size_t i;
  if (m == NULL)
    return;
  mem = &m->mem;
  smtpc__mime_readers_free(m);
  mbox_free(mem, &m->from);
  mbox_free(mem, &m->sender);
  mbox_free(mem, &m->reply_to);
  for (i = 0; i < m->nrcpts; i++)
    mbox_free(mem, &m->rcpts[i].mb);
  smtpc__free(mem, m->rcpts);
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

int smtpc_msg_set_8bitmime(smtpc_msg *m, int on) {
  if (m == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  m->allow8bit = on != 0;
  touch(m);
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

/* local parts byte for byte, domains ignoring ASCII case */
static int same_addr(const char *a, const char *b) {
  const char *da = strrchr(a, '@'), *db = strrchr(b, '@');
  size_t la = (size_t)(da - a), lb = (size_t)(db - b);
  return la == lb && memcmp(a, b, la) == 0 &&
         smtpc__strcasecmp(da + 1, db + 1) == 0;
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
  size_t n = strlen(id), l, i;
  if (at == NULL || n > 250)
    return 0;
  l = (size_t)(at - id);
  if (!check_dot_atom(id, l))
    return 0;
  if (at[1] == '[') {
    if (n - l < 3 || id[n - 1] != ']')
      return 0;
    for (i = l + 2; i + 1 < n; i++) {
      unsigned char c = (unsigned char)id[i];
      if (c < 33 || c > 126 || c == '[' || c == ']' || c == '\\')
        return 0;
    }
    return 1;
  }
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
    while (i < n && smtpc__isws((unsigned char)v[i]))
      i++;
    w = i;
    while (i < n && !smtpc__isws((unsigned char)v[i]))
      i++;
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
  if (m == NULL || (data == NULL && len > 0) || len > INT64_MAX)
    return SMTPC_ERR_INVALID_ARGUMENT;
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

static int add_file(smtpc_msg *m, int is_inline, const char *path,
                    const char *filename, const char *type, const char *cid) {
  smtpc__part p;
  void *fh = NULL;
  int64_t size = -1;
  int rv;
  if (m == NULL || path == NULL || path[0] == '\0')
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (m->plat.file_open == NULL || m->plat.file_read == NULL ||
      m->plat.file_close == NULL)
    return SMTPC_ERR_NOT_SUPPORTED;
  if (filename == NULL) {
    const char *slash = strrchr(path, '/');
    filename = slash != NULL ? slash + 1 : path;
    if (filename[0] == '\0')
      filename = NULL;
  }
  rv = m->plat.file_open(m->plat.user, path, &fh, &size);
  if (rv != SMTPC_OK)
    return rv < 0 ? rv : SMTPC_ERR_IO;
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

/* ---- header writer ------------------------------------------------------- */

void smtpc__hw_put(smtpc__hw *h, const void *p, size_t n) {
  if (h->rv == SMTPC_OK && n > 0)
    h->rv = smtpc__buf_append(&h->m->lit, &h->m->mem, p, n);
  h->col += n;
}

void smtpc__hw_str(smtpc__hw *h, const char *s) {
  smtpc__hw_put(h, s, strlen(s));
}

void smtpc__hw_field(smtpc__hw *h, const char *name) {
  h->col = 0;
  h->tok = 0;
  smtpc__hw_str(h, name);
  smtpc__hw_put(h, ":", 1);
}

void smtpc__hw_end(smtpc__hw *h) {
  smtpc__hw_put(h, "\r\n", 2);
  h->col = 0;
}

/* White space sep, then tok and suf as one unbreakable token.  Folds (CRLF
 * before sep) when the token would pass the fold column and a token already
 * stands on the line; never makes a line of white space only. */
void smtpc__hw_token(smtpc__hw *h, const char *sep, size_t sepn,
                     const void *tok, size_t tokn, const char *suf) {
  size_t sufn = suf != NULL ? strlen(suf) : 0;
  if (h->tok && sepn > 0 && tokn + sufn > 0 &&
      h->col + sepn + tokn + sufn > FOLD_AT) {
    smtpc__hw_put(h, "\r\n", 2);
    h->col = 0;
  }
  smtpc__hw_put(h, sep, sepn);
  smtpc__hw_put(h, tok, tokn);
  smtpc__hw_put(h, suf, sufn);
  if (tokn + sufn > 0)
    h->tok = 1;
}

/* Characters a Q encoded-word may carry literally anywhere, including in
 * a phrase (RFC 2047 5(3)). */
static int q_safe(unsigned char c) {
  return smtpc__isalnum(c) || c == '!' || c == '*' || c == '+' || c == '-' ||
         c == '/';
}

/* s[0..n) (valid UTF-8) as RFC 2047 encoded-words of at most 75
 * characters, B or Q whichever is shorter overall, never splitting a
 * character; the first word after sep, the others after a space; suf right
 * after the last. */
static void hw_encoded(smtpc__hw *h, const char *sep, size_t sepn,
                       const unsigned char *s, size_t n, const char *suf) {
  size_t qlen = 0, blen, i = 0, sufn = suf != NULL ? strlen(suf) : 0;
  int useq, first = 1, whole;
  for (i = 0; i < n; i++)
    qlen += (q_safe(s[i]) || s[i] == ' ') ? 1 : 3;
  blen = (n + 2) / 3 * 4;
  useq = qlen <= blen;
  /* text that fits one word stays one word (folded to the next line if
   * need be): fewer adjacent encoded-words for decoders to get wrong */
  whole = 12 + (useq ? qlen : blen) + sufn <= 75;
  i = 0;
  while (i < n) {
    char w[96];
    size_t wl = 10, start = i, limit = 75, maxb, used;
    size_t wsn = first ? sepn : 1;
    /* fill the current line when a useful word fits there, else the word
     * goes (whole) to a continuation line */
    used = h->col + wsn + sufn;
    if (!whole && used + 24 <= FOLD_AT && FOLD_AT - used < limit)
      limit = FOLD_AT - used;
    maxb = (limit - 12) / 4 * 3;
    memcpy(w, useq ? "=?UTF-8?Q?" : "=?UTF-8?B?", 10);
    while (i < n) {
      size_t cl = smtpc__mime_utf8_len(s + i, n - i), cost = 0, k;
      if (cl == 0)
        cl = 1; /* not reached: input is validated */
      if (useq) {
        for (k = 0; k < cl; k++)
          cost += (q_safe(s[i + k]) || s[i + k] == ' ') ? 1 : 3;
        if (wl + cost + 2 > limit && i > start)
          break;
        for (k = 0; k < cl; k++) {
          unsigned char c = s[i + k];
          if (q_safe(c)) {
            w[wl++] = (char)c;
          } else if (c == ' ') {
            w[wl++] = '_';
          } else {
            w[wl++] = '=';
            w[wl++] = smtpc__hexdigit(c >> 4);
            w[wl++] = smtpc__hexdigit(c);
          }
        }
      } else if (i + cl - start > maxb && i > start) {
        break;
      }
      i += cl;
    }
    if (!useq)
      wl += smtpc__b64_encode(s + start, i - start, w + wl);
    w[wl++] = '?';
    w[wl++] = '=';
    smtpc__hw_token(h, first ? sep : " ", first ? sepn : 1, w, wl,
                    i == n ? suf : NULL);
    first = 0;
  }
}

enum { W_RAW, W_TEXT, W_PHRASE };

/* A token that must be encoded: 8-bit, "=?" (a decoder could take it for
 * an encoded-word), too long to fold, or (in a phrase) not an atom. */
static int needs_ew(const unsigned char *t, size_t n, int mode) {
  size_t i;
  if (mode == W_RAW)
    return 0;
  if (n > FOLD_AT - 1)
    return 1;
  for (i = 0; i < n; i++)
    if (t[i] >= 0x80 || (t[i] == '=' && i + 1 < n && t[i + 1] == '?') ||
        (mode == W_PHRASE && !smtpc__isatext(t[i])))
      return 1;
  return 0;
}

/* Words separated by white space, folded at that white space: the text of
 * an unstructured field (RFC 5322 3.2.5; W_RAW writes it as given, W_TEXT
 * encodes what needs it) or a phrase (W_PHRASE: words that are not atoms
 * get encoded).  Consecutive words that need encoding become encoded-words
 * together with the white space between them; the white space around such
 * a run stays literal, since decoders keep white space between an
 * encoded-word and plain text.  Encoding word by word keeps ASCII words
 * readable and, for display names, avoids adjacent encoded-words where it
 * can: RFC 2047 6.2 drops the white space between those, and some parsers
 * (Python's email package in phrases) do not. */
static void hw_words(smtpc__hw *h, const char *value, int mode) {
  const unsigned char *v = (const unsigned char *)value;
  size_t n = strlen(value), i = 0;
  int first = 1;
  while (i < n) {
    size_t ws = i, ts, te;
    const char *sep;
    size_t sepn;
    while (i < n && smtpc__isws(v[i]))
      i++;
    ts = i;
    while (i < n && !smtpc__isws(v[i]))
      i++;
    te = i;
    sep = (const char *)v + ws;
    sepn = ts - ws;
    if (first && sepn == 0) {
      sep = " ";
      sepn = 1;
    }
    first = 0;
    if (te > ts && needs_ew(v + ts, te - ts, mode)) {
      /* extend over following words that need encoding too */
      size_t j = i, end = te;
      while (j < n) {
        size_t a = j, b;
        while (a < n && smtpc__isws(v[a]))
          a++;
        b = a;
        while (b < n && !smtpc__isws(v[b]))
          b++;
        if (b == a || !needs_ew(v + a, b - a, mode))
          break;
        end = b;
        j = b;
      }
      hw_encoded(h, sep, sepn, v + ts, end - ts, NULL);
      i = end;
    } else {
      smtpc__hw_token(h, sep, sepn, v + ts, te - ts, NULL);
    }
  }
}

/* A display name (RFC 5322 phrase): a short ASCII name that is not a run
 * of atoms becomes a quoted string; otherwise atoms and encoded-words
 * (hw_words), or one run of encoded-words when its spacing (leading,
 * trailing or double spaces) could not survive as phrase white space. */
static void hw_phrase(smtpc__hw *h, const char *name) {
  const unsigned char *s = (const unsigned char *)name;
  size_t n = strlen(name), i, wlen = 0, esc = 0;
  int atoms = 1, ascii = 1, spacing = n == 0 || s[0] == ' ' || s[n - 1] == ' ';
  for (i = 0; i < n; i++) {
    if (s[i] >= 0x80)
      ascii = 0;
    if (s[i] == '"' || s[i] == '\\')
      esc++;
    if (s[i] == ' ') {
      if (i > 0 && s[i - 1] == ' ')
        spacing = 1;
      wlen = 0;
    } else if (!smtpc__isatext(s[i]) || ++wlen > FOLD_AT - 2) {
      atoms = 0;
    }
  }
  if (smtpc__mime_find(s, n, "=?", 2) != SIZE_MAX)
    ascii = atoms = 0;
  if (ascii && !spacing && atoms) {
    hw_words(h, name, W_PHRASE);
  } else if (ascii && n + esc <= QUOTED_MAX) {
    char q[QUOTED_MAX + 3];
    size_t k = 0;
    q[k++] = '"';
    for (i = 0; i < n; i++) {
      if (s[i] == '"' || s[i] == '\\')
        q[k++] = '\\';
      q[k++] = (char)s[i];
    }
    q[k++] = '"';
    smtpc__hw_token(h, " ", 1, q, k, NULL);
  } else if (spacing) {
    hw_encoded(h, " ", 1, s, n, NULL);
  } else {
    hw_words(h, name, W_PHRASE);
  }
}

static void hw_mailbox(smtpc__hw *h, const smtpc__mbox *b, int last) {
  const char *suf = last ? NULL : ",";
  if (b->name != NULL && b->name[0] != '\0') {
    char a[300];
    size_t n = strlen(b->addr);
    hw_phrase(h, b->name);
    a[0] = '<';
    memcpy(a + 1, b->addr, n); /* addresses are at most 254 octets */
    a[n + 1] = '>';
    smtpc__hw_token(h, " ", 1, a, n + 2, suf);
  } else {
    smtpc__hw_token(h, " ", 1, b->addr, strlen(b->addr), suf);
  }
}

static void hw_rcpts(smtpc__hw *h, const smtpc_msg *m, int kind,
                     const char *name) {
  size_t i, last = SIZE_MAX;
  for (i = 0; i < m->nrcpts; i++)
    if (m->rcpts[i].kind == kind)
      last = i;
  if (last == SIZE_MAX)
    return;
  smtpc__hw_field(h, name);
  for (i = 0; i <= last; i++)
    if (m->rcpts[i].kind == kind)
      hw_mailbox(h, &m->rcpts[i].mb, i == last);
  smtpc__hw_end(h);
}

static void hw_single(smtpc__hw *h, const char *name, const smtpc__mbox *b) {
  if (b->addr == NULL)
    return;
  smtpc__hw_field(h, name);
  hw_mailbox(h, b, 1);
  smtpc__hw_end(h);
}

/* RFC 2231 attribute-char, less a few that some readers mishandle. */
static int pct_safe(unsigned char c) {
  return smtpc__isalnum(c) || (c != 0 && strchr("!#$&+-.^_`|~", c) != NULL);
}

/* A parameter carrying a file name: attr="name" for short printable ASCII,
 * else RFC 2231 attr*=UTF-8''%xx (split into attr*0*, attr*1*, ... when
 * long, never inside a character).  suf follows the last piece. */
void smtpc__hw_param_name(smtpc__hw *h, const char *attr, const char *val,
                          const char *suf) {
  const unsigned char *s = (const unsigned char *)val;
  size_t n = strlen(val), i, an = strlen(attr), plen = 0, esc = 0;
  int ascii = smtpc__mime_find(s, n, "=?", 2) == SIZE_MAX;
  /* attr="..." with at most QUOTED_MAX characters inside, or one piece */
  char buf[8 + 3 + QUOTED_MAX + 32];
  for (i = 0; i < n; i++) {
    if (s[i] < 32 || s[i] > 126)
      ascii = 0;
    if (s[i] == '"' || s[i] == '\\')
      esc++;
    plen += pct_safe(s[i]) ? 1 : 3;
  }
  if (n + esc > QUOTED_MAX)
    ascii = 0;
  if (ascii) {
    size_t k = 0;
    memcpy(buf, attr, an);
    k = an;
    buf[k++] = '=';
    buf[k++] = '"';
    for (i = 0; i < n; i++) {
      if (s[i] == '"' || s[i] == '\\')
        buf[k++] = '\\';
      buf[k++] = (char)s[i];
    }
    buf[k++] = '"';
    smtpc__hw_token(h, " ", 1, buf, k, suf);
    return;
  }
  {
    /* one piece if " attr*=UTF-8''..." fits a continuation line */
    int single = 1 + an + 10 + plen + 1 <= FOLD_AT;
    unsigned sec = 0;
    i = 0;
    while (i < n) { /* file names are not empty */
      size_t k = 0, start = i;
      memcpy(buf, attr, an);
      k = an;
      buf[k++] = '*';
      if (!single) {
        k += fmt_uint(buf + k, sec, 1);
        buf[k++] = '*';
      }
      buf[k++] = '=';
      if (sec == 0) {
        memcpy(buf + k, "UTF-8''", 7);
        k += 7;
      }
      while (i < n) {
        size_t cl = smtpc__mime_utf8_len(s + i, n - i), cost = 0, j;
        if (cl == 0)
          cl = 1;
        for (j = 0; j < cl; j++)
          cost += pct_safe(s[i + j]) ? 1 : 3;
        if (!single && k + cost > FOLD_AT - 4 && i > start)
          break;
        for (j = 0; j < cl; j++) {
          unsigned char c = s[i + j];
          if (pct_safe(c)) {
            buf[k++] = (char)c;
          } else {
            buf[k++] = '%';
            buf[k++] = smtpc__hexdigit(c >> 4);
            buf[k++] = smtpc__hexdigit(c);
          }
        }
        i += cl;
        if (single && k > sizeof(buf) - 16)
          break; /* not reached: single means it all fits */
      }
      smtpc__hw_token(h, " ", 1, buf, k, i >= n ? suf : ";");
      sec++;
    }
  }
}

/* The message's own header fields, Date to MIME-Version (the entity
 * fields of the body follow them). */
void smtpc__hw_message(smtpc__hw *h) {
  const smtpc_msg *m = h->m;
  char date[40];
  size_t i;
  fmt_date(date, m->date, m->date_off);
  smtpc__hw_field(h, "Date");
  smtpc__hw_token(h, " ", 1, date, strlen(date), NULL);
  smtpc__hw_end(h);
  hw_single(h, "From", &m->from);
  hw_single(h, "Sender", &m->sender);
  hw_single(h, "Reply-To", &m->reply_to);
  hw_rcpts(h, m, SMTPC__RCPT_TO, "To");
  hw_rcpts(h, m, SMTPC__RCPT_CC, "Cc");
  if (m->subject != NULL) {
    smtpc__hw_field(h, "Subject");
    hw_words(h, m->subject, W_TEXT);
    smtpc__hw_end(h);
  }
  smtpc__hw_field(h, "Message-ID");
  smtpc__hw_put(h, " <", 2);
  smtpc__hw_str(h, m->msgid);
  smtpc__hw_put(h, ">", 1);
  smtpc__hw_end(h);
  for (i = 0; i < m->nfields; i++) {
    const char *v = m->fields[i].value;
    smtpc__hw_field(h, m->fields[i].name);
    hw_words(h, v, smtpc__has_8bit(v, strlen(v)) ? W_TEXT : W_RAW);
    smtpc__hw_end(h);
  }
  smtpc__hw_str(h, "MIME-Version: 1.0\r\n");
}

/* ---- building ------------------------------------------------------------ */

static int close_lit(smtpc_msg *m) {
  seg *s;
  if (m->lit.len == m->lit_mark)
    return SMTPC_OK;
  s = smtpc__mime_grow(&m->mem, m->segs, &m->capsegs, m->nsegs, sizeof(seg));
  if (s == NULL)
    return SMTPC_ERR_NOMEM;
  m->segs = s;
  s = &m->segs[m->nsegs++];
  memset(s, 0, sizeof(*s));
  s->kind = SEG_LIT;
  s->off = m->lit_mark;
  s->len = m->lit.len - m->lit_mark;
  m->lit_mark = m->lit.len;
  return SMTPC_OK;
}

static int push_seg(smtpc_msg *m, const seg *in) {
  seg *s;
  int rv = close_lit(m);
  if (rv != SMTPC_OK)
    return rv;
  s = smtpc__mime_grow(&m->mem, m->segs, &m->capsegs, m->nsegs, sizeof(seg));
  if (s == NULL)
    return SMTPC_ERR_NOMEM;
  m->segs = s;
  m->segs[m->nsegs++] = *in;
  return SMTPC_OK;
}

/* Chooses 7bit, 8bit or quoted-printable for a text part. */
static int choose_enc(const smtpc__textpart *t, int allow8bit) {
  size_t i, line = 0, maxline = 0;
  int has8 = 0, nul = 0;
  for (i = 0; i < t->len; i++) {
    unsigned char c = t->p[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < t->len && t->p[i + 1] == '\n')
        i++;
      line = 0;
      continue;
    }
    if (++line > maxline)
      maxline = line;
    if (c >= 0x80)
      has8 = 1;
    else if (c == 0)
      nul = 1;
  }
  if (nul || maxline > MAX_TEXT_LINE)
    return ENC_QP;
  if (has8)
    return allow8bit ? ENC_8BIT : ENC_QP;
  return ENC_7BIT;
}

static const char *enc_name(int enc) {
  return enc == ENC_QP ? "quoted-printable" : enc == ENC_8BIT ? "8bit" : "7bit";
}

static void boundary(const smtpc_msg *m, char kind, char *out) {
  out[0] = '=';
  out[1] = '_';
  out[2] = kind;
  out[3] = '_';
  memcpy(out + 4, m->rnd, SMTPC__MIME_RND_LEN + 1);
}

static int emit(smtpc_msg *m, smtpc__hw *h, int node, int top);

static int emit_text(smtpc_msg *m, smtpc__hw *h, const smtpc__textpart *t,
                     int html, int top) {
  seg s;
  int rv;
  smtpc__hw_field(h, "Content-Type");
  smtpc__hw_token(h, " ", 1, html ? "text/html" : "text/plain", html ? 9 : 10,
                  ";");
  smtpc__hw_token(h, " ", 1, "charset=utf-8", 13, NULL);
  smtpc__hw_end(h);
  smtpc__hw_field(h, "Content-Transfer-Encoding");
  smtpc__hw_token(h, " ", 1, enc_name(t->enc), strlen(enc_name(t->enc)), NULL);
  smtpc__hw_end(h);
  smtpc__hw_end(h);
  if (h->rv != SMTPC_OK)
    return h->rv;
  if (t->len > 0) {
    memset(&s, 0, sizeof(s));
    s.kind = SEG_TEXT;
    s.enc = t->enc;
    s.src = t->p;
    s.len = t->len;
    if ((rv = push_seg(m, &s)) != SMTPC_OK)
      return rv;
    /* a message ends with a line break (the part of a multipart is ended
     * by the CRLF of the next boundary line instead) */
    if (top && t->p[t->len - 1] != '\n' && t->p[t->len - 1] != '\r')
      smtpc__hw_end(h);
  }
  return h->rv;
}

static int emit_part(smtpc_msg *m, smtpc__hw *h, size_t idx) {
  const smtpc__part *p = &m->parts[idx];
  seg s;
  size_t i = 0, n = strlen(p->type);
  smtpc__hw_field(h, "Content-Type");
  /* the type as given, folded at its white space */
  while (i < n) {
    size_t ws = i, ts;
    while (i < n && smtpc__isws((unsigned char)p->type[i]))
      i++;
    ts = i;
    while (i < n && !smtpc__isws((unsigned char)p->type[i]))
      i++;
    smtpc__hw_token(h, ws == ts ? " " : p->type + ws, ws == ts ? 1 : ts - ws,
                    p->type + ts, i - ts,
                    (i == n && p->filename != NULL) ? ";" : NULL);
  }
  if (p->filename != NULL)
    smtpc__hw_param_name(h, "name", p->filename, NULL);
  smtpc__hw_end(h);
  smtpc__hw_field(h, "Content-Disposition");
  if (p->is_inline)
    smtpc__hw_token(h, " ", 1, "inline", 6, p->filename != NULL ? ";" : NULL);
  else
    smtpc__hw_token(h, " ", 1, "attachment", 10,
                    p->filename != NULL ? ";" : NULL);
  if (p->filename != NULL)
    smtpc__hw_param_name(h, "filename", p->filename, NULL);
  smtpc__hw_end(h);
  if (p->is_inline) {
    char c[SMTPC__MIME_MAX_CID + 2];
    size_t k = strlen(p->cid);
    c[0] = '<';
    memcpy(c + 1, p->cid, k);
    c[k + 1] = '>';
    smtpc__hw_field(h, "Content-ID");
    smtpc__hw_token(h, " ", 1, c, k + 2, NULL);
    smtpc__hw_end(h);
  }
  smtpc__hw_field(h, "Content-Transfer-Encoding");
  smtpc__hw_token(h, " ", 1, "base64", 6, NULL);
  smtpc__hw_end(h);
  smtpc__hw_end(h);
  if (h->rv != SMTPC_OK)
    return h->rv;
  memset(&s, 0, sizeof(s));
  s.kind = SEG_BIN;
  s.part = idx;
  return push_seg(m, &s);
}

static void delim(smtpc__hw *h, const char *b, int first, int close) {
  if (!first)
    smtpc__hw_put(h, "\r\n", 2);
  smtpc__hw_put(h, "--", 2);
  smtpc__hw_str(h, b);
  if (close)
    smtpc__hw_put(h, "--", 2);
  else
    smtpc__hw_put(h, "\r\n", 2);
  h->col = 0;
}

/* The entity for the text/HTML bodies (N_NONE when there is none). */
static int core_node(const smtpc_msg *m, int has_inline) {
  int html = m->html.set ? (has_inline ? N_REL : N_HTML) : N_NONE;
  if (m->txt.set && m->html.set)
    return N_ALT;
  if (m->html.set)
    return html;
  return m->txt.set ? N_TEXT : N_NONE;
}

static int emit_multipart(smtpc_msg *m, smtpc__hw *h, int node) {
  char b[SMTPC__MIME_RND_LEN + 5];
  size_t i;
  int rv, first = 1, has_inline = 0, core;
  char kind = node == N_MIXED ? 'm' : node == N_ALT ? 'a' : 'r';
  const char *sub = node == N_MIXED ? "multipart/mixed"
                    : node == N_ALT ? "multipart/alternative"
                                    : "multipart/related";
  char q[SMTPC__MIME_RND_LEN + 16];
  size_t k;
  boundary(m, kind, b);
  smtpc__hw_field(h, "Content-Type");
  smtpc__hw_token(h, " ", 1, sub, strlen(sub), ";");
  if (node == N_REL) /* RFC 2387 3.1: the type of the root part */
    smtpc__hw_token(h, " ", 1, "type=\"text/html\"", 16, ";");
  k = 0;
  memcpy(q, "boundary=\"", 10);
  k = 10;
  memcpy(q + k, b, strlen(b));
  k += strlen(b);
  q[k++] = '"';
  smtpc__hw_token(h, " ", 1, q, k, NULL);
  smtpc__hw_end(h);
  smtpc__hw_end(h);
  for (i = 0; i < m->nparts; i++)
    has_inline |= m->parts[i].is_inline;
  switch (node) {
  case N_MIXED:
    core = core_node(m, has_inline);
    if (core != N_NONE) {
      delim(h, b, first, 0);
      first = 0;
      if ((rv = emit(m, h, core, 0)) != SMTPC_OK)
        return rv;
    }
    for (i = 0; i < m->nparts; i++) {
      if (m->parts[i].is_inline)
        continue;
      delim(h, b, first, 0);
      first = 0;
      if ((rv = emit_part(m, h, i)) != SMTPC_OK)
        return rv;
    }
    break;
  case N_ALT:
    delim(h, b, 1, 0);
    if ((rv = emit(m, h, N_TEXT, 0)) != SMTPC_OK)
      return rv;
    delim(h, b, 0, 0);
    if ((rv = emit(m, h, has_inline ? N_REL : N_HTML, 0)) != SMTPC_OK)
      return rv;
    break;
  default: /* N_REL */
    delim(h, b, 1, 0);
    if ((rv = emit(m, h, N_HTML, 0)) != SMTPC_OK)
      return rv;
    for (i = 0; i < m->nparts; i++) {
      if (!m->parts[i].is_inline)
        continue;
      delim(h, b, 0, 0);
      if ((rv = emit_part(m, h, i)) != SMTPC_OK)
        return rv;
    }
    break;
  }
  delim(h, b, 0, 1);
  return h->rv;
}

static int emit(smtpc_msg *m, smtpc__hw *h, int node, int top) {
  switch (node) {
  case N_TEXT:
    return emit_text(m, h, &m->txt, 0, top);
  case N_HTML:
    return emit_text(m, h, &m->html, 1, top);
  default:
    return emit_multipart(m, h, node);
  }
}

/* Draws boundaries until none occurs in a part sent unencoded. */
static int pick_boundaries(smtpc_msg *m) {
  smtpc__textpart *ts[2];
  int tries, rv, k;
  ts[0] = &m->txt;
  ts[1] = &m->html;
  if (!m->have_rnd && (rv = new_rnd(m)) != SMTPC_OK)
    return rv;
  for (tries = 0;; tries++) {
    int clash = 0;
    for (k = 0; k < 2; k++) {
      if (ts[k]->enc == ENC_QP ||
          smtpc__mime_find(ts[k]->p, ts[k]->len, m->rnd, SMTPC__MIME_RND_LEN) ==
              SIZE_MAX)
        continue;
      clash = 1;
      if (tries >= BOUNDARY_TRIES)
        ts[k]->enc = ENC_QP; /* cannot contain "=_" */
    }
    if (!clash || tries >= BOUNDARY_TRIES)
      return SMTPC_OK;
    if ((rv = new_rnd(m)) != SMTPC_OK)
      return rv;
  }
}

static int gen_msgid(smtpc_msg *m) {
  static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
  unsigned char r[16];
  const char *dom = strrchr(m->from.addr, '@') + 1;
  size_t dn = strlen(dom), i, k = 0;
  uint32_t acc = 0;
  unsigned bits = 0;
  char *id;
  int rv = get_random(m, r, sizeof(r));
  if (rv != SMTPC_OK)
    return rv;
  if ((id = smtpc__malloc(&m->mem, 27 + dn + 1)) == NULL)
    return SMTPC_ERR_NOMEM;
  for (i = 0; i < sizeof(r); i++) {
    acc = acc << 8 | r[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      id[k++] = b32[acc >> bits & 31];
    }
  }
  id[k++] = b32[acc << (5 - bits) & 31];
  id[k++] = '@';
  memcpy(id + k, dom, dn + 1);
  m->msgid = id;
  return SMTPC_OK;
}

static int build(smtpc_msg *m, int *any8bit) {
  size_t i, natt = 0, ninl = 0;
  int rv, root;
  smtpc__hw h;
  memset(&h, 0, sizeof(h));
  h.m = m;
  smtpc__buf_reset(&m->lit);
  m->lit_mark = 0;
  m->nsegs = 0;
  for (i = 0; i < m->nparts; i++) {
    if (m->parts[i].is_inline)
      ninl++;
    else
      natt++;
  }
  m->txt.enc = choose_enc(&m->txt, m->allow8bit);
  m->html.enc = choose_enc(&m->html, m->allow8bit);
  root = core_node(m, ninl > 0);
  if (natt > 0)
    root = N_MIXED;
  else if (root == N_NONE)
    root = N_TEXT; /* an empty text/plain body */
  if (root != N_TEXT && root != N_HTML && (rv = pick_boundaries(m)) != SMTPC_OK)
    return rv;
  *any8bit = (m->txt.set && m->txt.enc == ENC_8BIT) ||
             (m->html.set && m->html.enc == ENC_8BIT);
  smtpc__hw_message(&h);
  if (h.rv != SMTPC_OK)
    return h.rv;
  if ((rv = emit(m, &h, root, 1)) != SMTPC_OK)
    return rv;
  if (root != N_TEXT && root != N_HTML)
    smtpc__hw_end(&h); /* after the close delimiter */
  if (h.rv != SMTPC_OK)
    return h.rv;
  return close_lit(m);
}

/* Output size of one segment, or -1 when unknown. */
static int64_t seg_size(const smtpc_msg *m, const seg *s) {
  if (s->kind == SEG_LIT)
    return (int64_t)s->len;
  if (s->kind == SEG_BIN)
    return smtpc__b64s_size(m->parts[s->part].size);
  if (s->enc == ENC_QP) {
    unsigned char tmp[512];
    smtpc__qp q;
    size_t pos = 0;
    int64_t n = 0;
    smtpc__qp_init(&q);
    while (pos < s->len) {
      size_t used;
      n += (int64_t)smtpc__qp_encode(&q, s->src + pos, s->len - pos, &used, tmp,
                                     sizeof(tmp));
      pos += used;
    }
    return n + (int64_t)smtpc__qp_finish(&q, tmp);
  } else {
    size_t i;
    int64_t n = 0;
    for (i = 0; i < s->len; i++) {
      if (s->src[i] == '\r' && i + 1 < s->len && s->src[i + 1] == '\n')
        i++;
      n += (s->src[i] == '\r' || s->src[i] == '\n') ? 2 : 1;
    }
    return n;
  }
}

static smtpc_ssize msg_read(void *ctx, unsigned char *buf, size_t len);

static void next_seg(reader *r) {
  r->seg++;
  r->pos = 0;
  r->started = 0;
  r->eof = 0;
  r->got = 0;
  r->ilen = r->ioff = 0;
  smtpc__qp_init(&r->qp);
  smtpc__crlf_init(&r->crlf);
  smtpc__b64s_init(&r->b64);
}

/* Builds the program: date and Message-ID fixed, boundaries drawn, headers
 * written, sizes summed. */
static int rebuild(smtpc_msg *m) {
  int64_t size = 0;
  size_t i;
  int rv;
  /* the old program goes away: its readers must stop */
  smtpc__mime_readers_stop(m, SMTPC_ERR_INVALID_STATE);
  m->gen++;
  if (!m->have_date) {
    int64_t now;
    int off;
    if (m->plat.now == NULL)
      return SMTPC_ERR_NOT_SUPPORTED;
    if ((rv = m->plat.now(m->plat.user, &now, &off)) != SMTPC_OK)
      return rv;
    if ((rv = smtpc_msg_set_date(m, now, off)) != SMTPC_OK)
      return rv;
  }
  if (m->msgid == NULL && (rv = gen_msgid(m)) != SMTPC_OK)
    return rv;
  if ((rv = build(m, &m->any8bit)) != SMTPC_OK)
    return rv;
  for (i = 0; i < m->nsegs; i++) {
    int64_t k = seg_size(m, &m->segs[i]);
    if (k < 0 || size < 0 || k > INT64_MAX - size)
      size = -1;
    else
      size += k;
  }
  m->size = size;
  m->stale = 0;
  return SMTPC_OK;
}

int smtpc_msg_body(smtpc_msg *m, smtpc_body *body) {
  size_t i;
  reader *r;
  int rv, has_inline = 0, has_stream = 0;
  if (m == NULL || body == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (m->from.addr == NULL)
    return SMTPC_ERR_INVALID_STATE;
  for (i = 0; i < m->nparts; i++) {
    if (m->parts[i].src == SMTPC__SRC_STREAM) {
      if (m->parts[i].consumed)
        return SMTPC_ERR_INVALID_STATE;
      has_stream = 1;
    }
    has_inline |= m->parts[i].is_inline;
  }
  if (has_inline && !m->html.set)
    return SMTPC_ERR_INVALID_STATE;
  r = smtpc__calloc(&m->mem, 1, sizeof(*r));
  if (r == NULL)
    return SMTPC_ERR_NOMEM;
  r->m = m;
  r->ibuf = smtpc__malloc(&m->mem, IBUF_SIZE);
  r->obuf = smtpc__malloc(&m->mem, OBUF_SIZE);
  if (r->ibuf == NULL || r->obuf == NULL) {
    rv = SMTPC_ERR_NOMEM;
    goto fail;
  }
  if (m->stale && (rv = rebuild(m)) != SMTPC_OK) {
    m->stale = 1;
    goto fail;
  }
  /* a stream is read once: only the newest body may read it */
  if (has_stream)
    smtpc__mime_readers_stop(m, SMTPC_ERR_INVALID_STATE);
  r->gen = m->gen;
  r->seg = (size_t)-1;
  next_seg(r);
  r->next = m->readers;
  m->readers = r;
  body->version = SMTPC_BODY_VERSION;
  body->read = msg_read;
  body->ctx = r;
  body->data = NULL;
  body->len = 0;
  body->size = m->size;
  body->type = m->any8bit ? SMTPC_BODY_8BITMIME : SMTPC_BODY_7BIT;
  return SMTPC_OK;
fail:
  smtpc__free(&m->mem, r->ibuf);
  smtpc__free(&m->mem, r->obuf);
  smtpc__free(&m->mem, r);
  return rv;
}

/* ---- the reader ---------------------------------------------------------- */

static int fill_bin(reader *r, const seg *s) {
  smtpc_msg *m = r->m;
  smtpc__part *p = &m->parts[s->part];
  const unsigned char *in;
  size_t avail, used;
  int is_file = p->src == SMTPC__SRC_FILE;
  int mismatch = is_file ? SMTPC_ERR_IO : SMTPC_ERR_CALLBACK;
  if (!r->started) {
    r->started = 1;
    if (is_file) {
      int64_t sz = -1;
      int rv;
      if (m->plat.file_open == NULL || m->plat.file_read == NULL ||
          m->plat.file_close == NULL)
        return SMTPC_ERR_NOT_SUPPORTED;
      rv = m->plat.file_open(m->plat.user, p->path, &r->file, &sz);
      if (rv != SMTPC_OK) {
        r->file = NULL;
        return rv < 0 ? rv : SMTPC_ERR_IO;
      }
      if (p->size >= 0 && sz != p->size)
        return SMTPC_ERR_IO;
    } else if (p->src == SMTPC__SRC_STREAM) {
      p->consumed = 1;
    }
  }
  if (p->src == SMTPC__SRC_MEM) {
    in = p->data + r->pos;
    avail = p->len - r->pos;
    r->eof = avail == 0;
  } else {
    if (r->ioff == r->ilen && !r->eof) {
      smtpc_ssize n =
          is_file ? m->plat.file_read(m->plat.user, r->file, r->ibuf, IBUF_SIZE)
                  : p->read(p->ctx, r->ibuf, IBUF_SIZE);
      if (n == SMTPC_ERR_WANT_READ)
        return SMTPC_ERR_WANT_READ;
      if (n < 0)
        return is_file                                    ? SMTPC_ERR_IO
               : (n >= -999 && n != SMTPC_ERR_WANT_WRITE) ? (int)n
                                                          : SMTPC_ERR_CALLBACK;
      if (n > IBUF_SIZE)
        return SMTPC_ERR_CALLBACK;
      if (n == 0) {
        r->eof = 1;
        if (p->size >= 0 && r->got != p->size)
          return mismatch;
      } else {
        r->ilen = (size_t)n;
        r->ioff = 0;
        r->got += n;
        if (p->size >= 0 && r->got > p->size)
          return mismatch;
      }
    }
    in = r->ibuf + r->ioff;
    avail = r->ilen - r->ioff;
  }
  if (avail > 0) {
    r->olen = smtpc__b64s_encode(&r->b64, in, avail, &used, r->obuf, OBUF_SIZE);
    if (p->src == SMTPC__SRC_MEM)
      r->pos += used;
    else
      r->ioff += used;
  } else if (r->eof) {
    r->olen = smtpc__b64s_finish(&r->b64, r->obuf);
    if (r->file != NULL)
      m->plat.file_close(m->plat.user, r->file);
    r->file = NULL;
    next_seg(r);
  }
  return SMTPC_OK;
}

/* Refills the (empty) output buffer from the current segment, or moves to
 * the next one. */
static int fill(reader *r) {
  smtpc_msg *m = r->m;
  const seg *s = &m->segs[r->seg];
  size_t n, used;
  r->olen = r->ooff = 0;
  switch (s->kind) {
  case SEG_LIT:
    n = s->len - r->pos;
    if (n > OBUF_SIZE)
      n = OBUF_SIZE;
    memcpy(r->obuf, m->lit.data + s->off + r->pos, n);
    r->olen = n;
    r->pos += n;
    if (r->pos == s->len)
      next_seg(r);
    return SMTPC_OK;
  case SEG_TEXT:
    if (r->pos < s->len) {
      if (s->enc == ENC_QP)
        r->olen = smtpc__qp_encode(&r->qp, s->src + r->pos, s->len - r->pos,
                                   &used, r->obuf, OBUF_SIZE);
      else
        r->olen = smtpc__crlf_encode(&r->crlf, s->src + r->pos, s->len - r->pos,
                                     &used, r->obuf, OBUF_SIZE);
      r->pos += used;
    } else {
      if (s->enc == ENC_QP)
        r->olen = smtpc__qp_finish(&r->qp, r->obuf);
      next_seg(r);
    }
    return SMTPC_OK;
  default:
    return fill_bin(r, s);
  }
}

/* The smtpc_body read callback; ctx is the body's reader. */
static smtpc_ssize msg_read(void *ctx, unsigned char *buf, size_t len) {
  reader *r = ctx;
  smtpc_msg *m;
  size_t done = 0;
  long spins = 0;
  if (r == NULL || (buf == NULL && len > 0))
    return SMTPC_ERR_INVALID_ARGUMENT;
  m = r->m;
  if (!r->finished && (m->stale || r->gen != m->gen))
    reader_finish(r, SMTPC_ERR_INVALID_STATE); /* the message changed */
  if (r->finished)
    return r->err; /* SMTPC_OK (0) after the end */
  if (len > (size_t)PTRDIFF_MAX)
    len = (size_t)PTRDIFF_MAX;
  while (done < len) {
    int rv;
    if (r->ooff < r->olen) {
      size_t n = r->olen - r->ooff;
      if (n > len - done)
        n = len - done;
      memcpy(buf + done, r->obuf + r->ooff, n);
      r->ooff += n;
      done += n;
      continue;
    }
    if (r->seg >= m->nsegs) {
      if (done == 0)
        reader_finish(r, SMTPC_OK); /* the end: free the buffers now */
      break;
    }
    if (++spins > MAX_SPINS) {
      if (done > 0)
        break;
      /* not reached: every step makes progress */
      reader_finish(r, SMTPC_ERR_INTERNAL);
      return r->err;
    }
    rv = fill(r);
    if (rv == SMTPC_ERR_WANT_READ) {
      if (done > 0)
        break;
      return rv;
    }
    if (rv != SMTPC_OK) {
      reader_finish(r, rv);
      return rv;
    }
  }
  return (smtpc_ssize)done;
}
