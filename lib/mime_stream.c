/* SPDX-License-Identifier: MIT */
/* Building and reading the body of a MIME message (mime.c has the model):
 * the program of segments, and the readers that walk it.
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

#define MAX_TEXT_LINE 78 /* longer text lines go out quoted-printable */
#define BOUNDARY_TRIES 8
/* The input buffer holds whole base64 lines of input (57 bytes each), as
 * many as fit in the size smtpc_msg_set_buffer_size() set. */
#define B64_LINE_IN 57
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
  size_t icap, ocap; /* sizes of ibuf and obuf, fixed when the body began */
  int err;           /* sticky */
} reader;

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
    i = smtpc__mime_word(p->type, n, i, &ts);
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

/* The Content-Type field of a multipart entity with boundary b, and the
 * blank line that ends the entity's header. */
static void hw_multipart_head(smtpc__hw *h, int node, const char *b) {
  const char *sub = node == N_MIXED ? "multipart/mixed"
                    : node == N_ALT ? "multipart/alternative"
                                    : "multipart/related";
  char q[SMTPC__MIME_RND_LEN + 16];
  size_t bn = strlen(b);
  smtpc__hw_field(h, "Content-Type");
  smtpc__hw_token(h, " ", 1, sub, strlen(sub), ";");
  if (node == N_REL) /* RFC 2387 3.1: the type of the root part */
    smtpc__hw_token(h, " ", 1, "type=\"text/html\"", 16, ";");
  memcpy(q, "boundary=\"", 10);
  memcpy(q + 10, b, bn);
  q[10 + bn] = '"';
  smtpc__hw_token(h, " ", 1, q, 11 + bn, NULL);
  smtpc__hw_end(h);
  smtpc__hw_end(h);
}

/* The inline parts (inl 1) or the attachments (inl 0), each after a
 * delimiter line; *first is set while no delimiter has been written. */
static int emit_parts(smtpc_msg *m, smtpc__hw *h, const char *b, int inl,
                      int *first) {
  size_t i;
  int rv;
  for (i = 0; i < m->nparts; i++) {
    if (m->parts[i].is_inline != inl)
      continue;
    delim(h, b, *first, 0);
    *first = 0;
    if ((rv = emit_part(m, h, i)) != SMTPC_OK)
      return rv;
  }
  return SMTPC_OK;
}

static int emit_multipart(smtpc_msg *m, smtpc__hw *h, int node) {
  char b[SMTPC__MIME_RND_LEN + 5];
  size_t i;
  int rv, first = 1, has_inline = 0, core;
  char kind = node == N_MIXED ? 'm' : node == N_ALT ? 'a' : 'r';
  boundary(m, kind, b);
  hw_multipart_head(h, node, b);
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
    rv = emit_parts(m, h, b, 0, &first);
    break;
  case N_ALT:
    delim(h, b, 1, 0);
    if ((rv = emit(m, h, N_TEXT, 0)) != SMTPC_OK)
      return rv;
    delim(h, b, 0, 0);
    rv = emit(m, h, has_inline ? N_REL : N_HTML, 0);
    break;
  default: /* N_REL */
    delim(h, b, 1, 0);
    first = 0;
    if ((rv = emit(m, h, N_HTML, 0)) != SMTPC_OK)
      return rv;
    rv = emit_parts(m, h, b, 1, &first);
    break;
  }
  if (rv != SMTPC_OK)
    return rv;
  delim(h, b, 0, 1);
  return h->rv;
}

static int emit(smtpc_msg *m, smtpc__hw *h, int node, int top) {
  switch (node) {
  case N_TEXT: return emit_text(m, h, &m->txt, 0, top);
  case N_HTML: return emit_text(m, h, &m->html, 1, top);
  default: return emit_multipart(m, h, node);
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
  char conv[SMTPC__MIME_ADDR_MAX];
  const char *addr, *dom;
  size_t dn, i, k = 0;
  uint32_t acc = 0;
  unsigned bits = 0;
  char *id;
  /* the A-label form of the domain when there is one, even where UTF-8
   * is allowed: Message-IDs are compared and parsed by older software */
  char tmp[SMTPC__MIME_ADDR_MAX + 2];
  int allow = m->allow_utf8, rv;
  dom = strrchr(m->from.addr, '@') + 1;
  dn = strlen(dom);
  tmp[0] = 'x';
  tmp[1] = '@';
  memcpy(tmp + 2, dom, dn + 1); /* a domain is at most 255 octets */
  m->allow_utf8 = 0;
  rv = smtpc__mime_addr(m, tmp, conv, &addr);
  m->allow_utf8 = allow;
  if (rv == SMTPC_OK) {
    dom = addr + 2;
    dn = strlen(dom);
  } else if (!allow) {
    return rv;
  }
  if ((rv = get_random(m, r, sizeof(r))) != SMTPC_OK)
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
  /* a UTF-8 Message-ID domain (no A-label for it) needs SMTPUTF8 too */
  m->utf8hdr = m->msgid != NULL && smtpc__has_8bit(m->msgid, strlen(m->msgid));
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

/* smtpc_body::rewind of a body without stream parts: the same bytes
 * again, from the start (the program is fixed until the message changes). */
static int msg_rewind(void *ctx) {
  reader *r = ctx;
  smtpc_msg *m = r->m;
  if (r->err != SMTPC_OK)
    return r->err;
  if (m->stale || r->gen != m->gen)
    return SMTPC_ERR_INVALID_STATE; /* the message changed */
  if (r->file != NULL && m->plat.file_close != NULL)
    m->plat.file_close(m->plat.user, r->file);
  r->file = NULL;
  if (r->ibuf == NULL)
    r->ibuf = smtpc__malloc(&m->mem, r->icap);
  if (r->obuf == NULL)
    r->obuf = smtpc__malloc(&m->mem, r->ocap);
  if (r->ibuf == NULL || r->obuf == NULL) {
    reader_finish(r, SMTPC_ERR_NOMEM);
    return SMTPC_ERR_NOMEM;
  }
  r->finished = 0;
  r->olen = r->ooff = 0;
  r->seg = (size_t)-1;
  next_seg(r);
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
  r->ocap = m->bufsize != 0 ? m->bufsize : SMTPC__MIME_BUFSIZE;
  r->icap = r->ocap / B64_LINE_IN * B64_LINE_IN;
  if (r->icap == 0)
    r->icap = r->ocap;
  r->ibuf = smtpc__malloc(&m->mem, r->icap);
  r->obuf = smtpc__malloc(&m->mem, r->ocap);
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
  body->rewind = has_stream ? NULL : msg_rewind;
  body->type = m->utf8hdr   ? SMTPC_BODY_SMTPUTF8
               : m->any8bit ? SMTPC_BODY_8BITMIME
                            : SMTPC_BODY_7BIT;
  return m->dkim_ops != NULL ? m->dkim_ops->wrap(m, body) : SMTPC_OK;
fail:
  smtpc__free(&m->mem, r->ibuf);
  smtpc__free(&m->mem, r->obuf);
  smtpc__free(&m->mem, r);
  return rv;
}

/* ---- the reader ---------------------------------------------------------- */

/* Opens the source of a binary segment when the reader first gets to it. */
static int bin_start(reader *r, smtpc__part *p) {
  smtpc_msg *m = r->m;
  r->started = 1;
  if (p->src == SMTPC__SRC_FILE) {
    int64_t sz = -1;
    int rv = smtpc__mime_file_open(m, p->path, &r->file, &sz);
    if (rv != SMTPC_OK)
      return rv;
    if (p->size >= 0 && sz != p->size)
      return SMTPC_ERR_IO;
  } else if (p->src == SMTPC__SRC_STREAM) {
    p->consumed = 1;
  }
  return SMTPC_OK;
}

/* Reads the next chunk of a file or stream once the input buffer is used
 * up, checking the total against the size the part was given. */
static int bin_refill(reader *r, const smtpc__part *p) {
  smtpc_msg *m = r->m;
  int is_file = p->src == SMTPC__SRC_FILE;
  int mismatch = is_file ? SMTPC_ERR_IO : SMTPC_ERR_CALLBACK;
  smtpc_ssize n;
  if (r->ioff != r->ilen || r->eof)
    return SMTPC_OK;
  n = is_file ? m->plat.file_read(m->plat.user, r->file, r->ibuf, r->icap)
              : p->read(p->ctx, r->ibuf, r->icap);
  if (n == SMTPC_ERR_WANT_READ)
    return SMTPC_ERR_WANT_READ;
  if (n < 0)
    return is_file                                    ? SMTPC_ERR_IO
           : (n >= -999 && n != SMTPC_ERR_WANT_WRITE) ? (int)n
                                                      : SMTPC_ERR_CALLBACK;
  if ((size_t)n > r->icap)
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
  return SMTPC_OK;
}

static int fill_bin(reader *r, const seg *s) {
  smtpc_msg *m = r->m;
  smtpc__part *p = &m->parts[s->part];
  const unsigned char *in;
  size_t avail, used;
  int rv;
  if (!r->started && (rv = bin_start(r, p)) != SMTPC_OK)
    return rv;
  if (p->src == SMTPC__SRC_MEM) {
    in = p->data + r->pos;
    avail = p->len - r->pos;
    r->eof = avail == 0;
  } else {
    if ((rv = bin_refill(r, p)) != SMTPC_OK)
      return rv;
    in = r->ibuf + r->ioff;
    avail = r->ilen - r->ioff;
  }
  if (avail > 0) {
    r->olen = smtpc__b64s_encode(&r->b64, in, avail, &used, r->obuf, r->ocap);
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
    if (n > r->ocap)
      n = r->ocap;
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
                                   &used, r->obuf, r->ocap);
      else
        r->olen = smtpc__crlf_encode(&r->crlf, s->src + r->pos, s->len - r->pos,
                                     &used, r->obuf, r->ocap);
      r->pos += used;
    } else {
      if (s->enc == ENC_QP)
        r->olen = smtpc__qp_finish(&r->qp, r->obuf);
      next_seg(r);
    }
    return SMTPC_OK;
  default: return fill_bin(r, s);
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
