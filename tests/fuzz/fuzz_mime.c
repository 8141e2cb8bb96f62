/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: the MIME builder (smtpc/mime.h), public API only.
 *
 * Input:
 *   byte 0   bit 0 allow 8bit (smtpc_msg_set_8bitmime), bit 1 build and
 *            read the body a second time (must give the same bytes)
 *   byte 1   read size for the body's reader (0 = 4096)
 *   then     operations: an op byte (mod 17) and its arguments, each a
 *            length byte and that many bytes (cut short at the end):
 *     0 from(name, addr)     1 to(name, addr)        2 cc(name, addr)
 *     3 bcc(name, addr)      4 subject(s)            5 header(name, value)
 *     6 text(bytes)          7 html(bytes)
 *     8 attachment(data, filename, type)
 *     9 inline(data, filename, type, content-id)
 *    10 stream attachment(data, filename, type, flags: bit 0 size unknown,
 *       bit 1 WANT_READ every other call, bits 4-7 bytes per read)
 *    11 reply-to(name, addr) 12 sender(name, addr)   13 message-id(id)
 *    14 8bit(flag)           15 date(8 bytes time, 2 bytes offset)
 *    16 file attachment(data, path, filename, type) from in-memory files
 *   A string argument is cut at its first NUL; an empty optional one
 *   (name, filename, type) is passed as NULL.
 *
 * The rule: smtpc_msg_body() fails (only with ::SMTPC_ERR_INVALID_STATE,
 * and only without From or with inline parts but no HTML), or the message
 * read from the body has every line ending in CRLF, no bare CR, LF or NUL,
 * no line over 998 octets, only 7-bit bytes unless 8bit was allowed and the
 * body says 8BITMIME, exactly body.size bytes when that is known, and
 * parses: unfoldable header fields with the mandatory ones and no Bcc, a
 * MIME tree whose boundaries never occur inside a part, with one leaf per
 * text/HTML body and part added, each decoding (7bit, quoted-printable,
 * base64) to exactly the bytes given (text with CRLF line ends). */
#include <smtpc/smtpc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                                              \
  do {                                                                         \
    fprintf(stderr, "fuzz_mime: " __VA_ARGS__);                                \
    fputc('\n', stderr);                                                       \
    abort();                                                                   \
  } while (0)

#define MAX_OPS 48
#define MAX_PARTS 16
#define MAX_FILES 8
#define MAX_DEPTH 8

/* ---- small byte strings (test side, libc memory) ------------------------- */

typedef struct bytes {
  unsigned char *p;
  size_t n, cap;
} bytes;

static void put(bytes *b, const void *p, size_t n) {
  if (b->cap - b->n < n + 1) {
    size_t c = b->cap ? b->cap : 256;
    while (c - b->n < n + 1)
      c *= 2;
    if ((b->p = realloc(b->p, c)) == NULL)
      abort();
    b->cap = c;
  }
  if (n > 0)
    memcpy(b->p + b->n, p, n);
  b->n += n;
  b->p[b->n] = '\0';
}

/* Text as the builder must send it: CRLF, LF and lone CR become CRLF. */
static void put_norm(bytes *b, const unsigned char *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (p[i] == '\r' || p[i] == '\n') {
      if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')
        i++;
      put(b, "\r\n", 2);
    } else {
      put(b, p + i, 1);
    }
  }
}

/* ---- input reading ------------------------------------------------------- */

typedef struct input {
  const uint8_t *p;
  size_t n;
} input;

/* The next argument: a length byte and up to that many bytes. */
static void arg(input *in, const unsigned char **p, size_t *n) {
  size_t len = 0;
  if (in->n > 0) {
    len = in->p[0];
    in->p++;
    in->n--;
  }
  if (len > in->n)
    len = in->n;
  *p = in->p;
  *n = len;
  in->p += len;
  in->n -= len;
}

/* The next argument as a C string (cut at a NUL); NULL for an empty one
 * when optional.  Strings live in a pool freed after the run. */
typedef struct pool {
  char *s[MAX_OPS * 4 + 8];
  size_t n;
} pool;

static char *str_arg(input *in, pool *pl, int optional) {
  const unsigned char *p;
  size_t n;
  char *s;
  arg(in, &p, &n);
  if ((s = malloc(n + 1)) == NULL)
    abort();
  memcpy(s, p, n);
  s[n] = '\0';
  pl->s[pl->n++] = s;
  if (optional && *s == '\0')
    return NULL;
  return s;
}

/* ---- streams and files --------------------------------------------------- */

typedef struct stream {
  const unsigned char *p;
  size_t n, pos;
  size_t step;
  int block, toggle;
} stream;

static smtpc_ssize stream_read(void *ctx, unsigned char *buf, size_t len) {
  stream *s = ctx;
  size_t k = s->n - s->pos;
  if (s->block && (s->toggle ^= 1) != 0)
    return SMTPC_ERR_WANT_READ;
  if (k > len)
    k = len;
  if (s->step > 0 && k > s->step)
    k = s->step;
  memcpy(buf, s->p + s->pos, k);
  s->pos += k;
  return (smtpc_ssize)k;
}

typedef struct vfile {
  const char *path;
  const unsigned char *p;
  size_t n;
} vfile;

typedef struct files {
  vfile f[MAX_FILES];
  size_t n;
  long open;
} files;

typedef struct handle {
  const vfile *f;
  size_t pos;
} handle;

static int p_now(void *user, int64_t *now, int *off) {
  (void)user;
  *now = 1700000000;
  *off = 60;
  return SMTPC_OK;
}

static int p_random(void *user, unsigned char *buf, size_t len) {
  size_t i;
  (void)user;
  for (i = 0; i < len; i++)
    buf[i] = (unsigned char)(i * 37 + 11);
  return SMTPC_OK;
}

static int p_open(void *user, const char *path, void **file, int64_t *size) {
  files *fs = user;
  size_t i;
  for (i = fs->n; i-- > 0;)
    if (strcmp(fs->f[i].path, path) == 0) {
      handle *h = malloc(sizeof(*h));
      if (h == NULL)
        abort();
      h->f = &fs->f[i];
      h->pos = 0;
      *file = h;
      *size = (int64_t)fs->f[i].n;
      fs->open++;
      return SMTPC_OK;
    }
  return SMTPC_ERR_IO;
}

static smtpc_ssize p_read(void *user, void *file, unsigned char *buf,
                          size_t len) {
  handle *h = file;
  size_t k = h->f->n - h->pos;
  (void)user;
  if (k > len)
    k = len;
  memcpy(buf, h->f->p + h->pos, k);
  h->pos += k;
  return (smtpc_ssize)k;
}

static void p_close(void *user, void *file) {
  ((files *)user)->open--;
  free(file);
}

/* ---- message parsing ----------------------------------------------------- */

typedef struct leaf {
  bytes content; /* decoded */
  int is_text;   /* a text/plain or text/html body (no disposition) */
  int html;
} leaf;

typedef struct tree {
  leaf l[MAX_PARTS + 2];
  size_t n;
  int utf8_hdr; /* the body is SMTPC_BODY_SMTPUTF8: UTF-8 in the top header */
} tree;

static int ci_prefix(const char *s, const char *p) {
  for (; *p; s++, p++) {
    char a = *s, b = *p;
    if (a >= 'A' && a <= 'Z')
      a = (char)(a + 32);
    if (a != b)
      return 0;
  }
  return 1;
}

/* Finds a field in a header block (unfolded into out). */
static int field(const unsigned char *h, size_t n, const char *name,
                 bytes *out) {
  size_t i = 0, k = strlen(name);
  out->n = 0;
  while (i < n) {
    size_t e = i;
    while (e + 1 < n && !(h[e] == '\r' && h[e + 1] == '\n'))
      e++;
    if (e - i > k && h[i + k] == ':' && ci_prefix((const char *)h + i, name)) {
      size_t j = i + k + 1;
      for (;;) {
        put(out, h + j, e - j);
        i = e + 2;
        if (i >= n || (h[i] != ' ' && h[i] != '\t'))
          break;
        j = i;
        e = i;
        while (e + 1 < n && !(h[e] == '\r' && h[e + 1] == '\n'))
          e++;
      }
      return 1;
    }
    i = e + 2;
  }
  return 0;
}

/* Checks a header block: every line a field "name:" or a continuation. */
static void check_headers(const unsigned char *h, size_t n, int utf8) {
  size_t i = 0;
  int first = 1;
  while (i < n) {
    size_t e = i, k;
    while (e + 1 < n && !(h[e] == '\r' && h[e + 1] == '\n'))
      e++;
    if (h[i] == ' ' || h[i] == '\t') {
      if (first)
        FAIL("header block starts with a continuation line");
      for (k = i; k < e && (h[k] == ' ' || h[k] == '\t'); k++)
        ;
      if (k == e)
        FAIL("header continuation line of white space only");
    } else {
      for (k = i; k < e && h[k] != ':'; k++)
        if (h[k] < 33 || h[k] > 126)
          FAIL("bad field name character 0x%02x", h[k]);
      if (k == i || k == e)
        FAIL("header line without a field name and colon");
    }
    for (k = i; k < e; k++)
      if (h[k] >= 0x80 && !utf8)
        FAIL("8-bit byte in a header field");
    first = 0;
    i = e + 2;
  }
}

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static void decode_qp(const unsigned char *p, size_t n, bytes *out) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (p[i] != '=') {
      put(out, p + i, 1);
      continue;
    }
    if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n') {
      i += 2; /* soft line break */
      continue;
    }
    if (i + 2 < n && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
      unsigned char c =
          (unsigned char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
      put(out, &c, 1);
      i += 2;
      continue;
    }
    FAIL("bad quoted-printable escape");
  }
}

static int b64v(int c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

static void decode_b64(const unsigned char *p, size_t n, bytes *out) {
  unsigned acc = 0;
  int bits = 0, pad = 0;
  size_t i, col = 0;
  for (i = 0; i < n; i++) {
    int v;
    if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') {
      if (col != 76)
        FAIL("base64 line of %zu characters before the last", col);
      col = 0;
      i++;
      continue;
    }
    col++;
    if (p[i] == '=') {
      pad++;
      continue;
    }
    if (pad || (v = b64v(p[i])) < 0)
      FAIL("bad base64 character 0x%02x", p[i]);
    acc = acc << 6 | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      unsigned char c = (unsigned char)(acc >> (bits - 8));
      bits -= 8;
      put(out, &c, 1);
    }
  }
  if (col > 76)
    FAIL("base64 line of %zu characters", col);
}

/* Parses one entity (headers, blank line, body) into leaves. */
static void parse_entity(const unsigned char *p, size_t n, int depth, tree *t) {
  size_t hend = 0;
  bytes ct = {NULL, 0, 0}, cte = {NULL, 0, 0}, cd = {NULL, 0, 0};
  const unsigned char *body;
  size_t blen;
  if (depth > MAX_DEPTH)
    FAIL("MIME tree deeper than %d", MAX_DEPTH);
  /* headers end at the first empty line */
  if (n >= 2 && p[0] == '\r' && p[1] == '\n') {
    hend = 0;
  } else {
    for (hend = 0; hend + 3 < n; hend++)
      if (memcmp(p + hend, "\r\n\r\n", 4) == 0)
        break;
    if (hend + 3 >= n)
      FAIL("entity without the empty line after its header");
    hend += 2;
  }
  check_headers(p, hend, depth == 0 && t->utf8_hdr);
  body = p + hend + 2;
  blen = n - hend - 2;
  if (!field(p, hend, "content-type", &ct) || ct.n < 2)
    FAIL("entity without Content-Type");
  field(p, hend, "content-transfer-encoding", &cte);
  if (ci_prefix((const char *)ct.p + 1, "multipart/")) {
    const char *b = strstr((const char *)ct.p, "boundary=\"");
    char bnd[128];
    size_t bl, i = 0, start = 0, parts = 0;
    int closed = 0;
    if (b == NULL)
      FAIL("multipart without boundary=\"...\"");
    b += 10;
    bl = strcspn(b, "\"");
    if (bl == 0 || bl > 70 || b[bl] != '"')
      FAIL("bad boundary");
    bnd[0] = '-';
    bnd[1] = '-';
    memcpy(bnd + 2, b, bl);
    bl += 2;
    bnd[bl] = '\0';
    /* delimiter lines: at the start of the body or after CRLF */
    while (i + bl <= blen) {
      if ((i == 0 || (i >= 2 && body[i - 2] == '\r' && body[i - 1] == '\n')) &&
          memcmp(body + i, bnd, bl) == 0) {
        int close = i + bl + 2 <= blen && body[i + bl] == '-' &&
                    body[i + bl + 1] == '-';
        size_t after = i + bl + (close ? 2 : 0);
        if (closed)
          FAIL("boundary after the close delimiter");
        if (!close && (after + 2 > blen || body[after] != '\r' ||
                       body[after + 1] != '\n'))
          FAIL("delimiter line with trailing text");
        if (start > 0) {
          size_t end = i >= 2 ? i - 2 : 0; /* the CRLF belongs to it */
          parse_entity(body + start, end - start, depth + 1, t);
          parts++;
        } else if (i != 0) {
          FAIL("preamble before the first delimiter");
        }
        if (close) {
          closed = 1;
          i = after;
          break;
        }
        start = after + 2;
        i = start;
        continue;
      }
      i++;
    }
    if (!closed)
      FAIL("multipart without its close delimiter");
    if (parts == 0)
      FAIL("multipart without parts");
    if (i != blen && !(i + 2 == blen && body[i] == '\r' && body[i + 1] == '\n'))
      FAIL("%zu bytes after the close delimiter", blen - i);
  } else {
    leaf *l;
    if (t->n == sizeof(t->l) / sizeof(t->l[0]))
      FAIL("too many leaves");
    l = &t->l[t->n++];
    memset(l, 0, sizeof(*l));
    field(p, hend, "content-disposition", &cd);
    l->is_text = cd.n == 0;
    l->html = ci_prefix((const char *)ct.p + 1, "text/html");
    if (cte.n == 0)
      FAIL("leaf without Content-Transfer-Encoding");
    if (strcmp((const char *)cte.p, " base64") == 0)
      decode_b64(body, blen, &l->content);
    else if (strcmp((const char *)cte.p, " quoted-printable") == 0)
      decode_qp(body, blen, &l->content);
    else if (strcmp((const char *)cte.p, " 7bit") == 0 ||
             strcmp((const char *)cte.p, " 8bit") == 0)
      put(&l->content, body, blen);
    else
      FAIL("unknown transfer encoding \"%s\"", cte.p);
    if (l->content.p == NULL)
      put(&l->content, "", 0);
  }
  free(ct.p);
  free(cte.p);
  free(cd.p);
}

/* ---- the run ------------------------------------------------------------- */

typedef struct added {
  const unsigned char *p; /* a part's bytes */
  size_t n;
} added;

static int read_body(const smtpc_body *b, size_t chunk, bytes *out) {
  unsigned char buf[4096];
  long spins = 0;
  for (;;) {
    smtpc_ssize r = b->read(b->ctx, buf, chunk);
    if (r == SMTPC_ERR_WANT_READ) {
      if (++spins > 1000000L)
        FAIL("body reader keeps blocking");
      continue;
    }
    if (r < 0)
      return (int)r;
    if ((size_t)r > chunk)
      FAIL("reader returned %ld for %zu", (long)r, chunk);
    if (r == 0)
      return SMTPC_OK;
    put(out, buf, (size_t)r);
  }
}

/* allow_utf8: smtpc_msg_set_smtputf8() was on and a UTF-8 address was
 * given, so the body may be SMTPC_BODY_SMTPUTF8. */
static void check_message(const bytes *msg, const smtpc_body *b, int allow8,
                          int allow_utf8, tree *t) {
  size_t i, line = 0, hend, in_hdr = 1;
  bytes f = {NULL, 0, 0};
  if (b->size != -1 && (uint64_t)b->size != msg->n)
    FAIL("body.size %lld, %zu bytes read", (long long)b->size, msg->n);
  if (b->type != SMTPC_BODY_7BIT &&
      !(allow8 && b->type == SMTPC_BODY_8BITMIME) &&
      !(allow_utf8 && b->type == SMTPC_BODY_SMTPUTF8))
    FAIL("body type %d with 8bit %s, UTF-8 addresses %s", (int)b->type,
         allow8 ? "allowed" : "not allowed",
         allow_utf8 ? "allowed" : "not allowed");
  for (i = 0; i < msg->n; i++) {
    unsigned char c = msg->p[i];
    if (c == '\0')
      FAIL("NUL at offset %zu", i);
    if (c == '\r' && (i + 1 == msg->n || msg->p[i + 1] != '\n'))
      FAIL("bare CR at offset %zu", i);
    if (c == '\n' && (i == 0 || msg->p[i - 1] != '\r'))
      FAIL("bare LF at offset %zu", i);
    if (c >= 0x80 && b->type == SMTPC_BODY_7BIT)
      FAIL("8-bit byte at offset %zu of a 7-bit body", i);
    /* RFC 6532: UTF-8 in the header only for a message sent with SMTPUTF8 */
    if (c >= 0x80 && in_hdr && b->type != SMTPC_BODY_SMTPUTF8)
      FAIL("8-bit byte at offset %zu of the header, body type %d", i,
           (int)b->type);
    if (c == '\r')
      continue;
    if (c == '\n') {
      if (line == 0)
        in_hdr = 0;
      line = 0;
      continue;
    }
    if (++line > 998)
      FAIL("line of more than 998 octets ending after offset %zu", i);
  }
  if (msg->n < 2 || msg->p[msg->n - 2] != '\r' || msg->p[msg->n - 1] != '\n')
    FAIL("message does not end with CRLF");
  for (hend = 0; hend + 3 < msg->n; hend++)
    if (memcmp(msg->p + hend, "\r\n\r\n", 4) == 0)
      break;
  if (hend + 3 >= msg->n)
    FAIL("no empty line after the header");
  hend += 2;
  {
    static const char *const must[] = {"date", "from", "message-id",
                                       "mime-version"};
    for (i = 0; i < 4; i++)
      if (!field(msg->p, hend, must[i], &f))
        FAIL("no %s field", must[i]);
    if (field(msg->p, hend, "bcc", &f))
      FAIL("a Bcc field was written");
  }
  free(f.p);
  t->utf8_hdr = b->type == SMTPC_BODY_SMTPUTF8;
  parse_entity(msg->p, msg->n, 0, t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  smtpc_msg *m = NULL;
  smtpc_msg_platform plat;
  smtpc_body body;
  files fs;
  pool pl;
  stream streams[MAX_PARTS];
  added parts[MAX_PARTS];
  size_t nstreams = 0, nparts = 0, nops = 0, chunk, i;
  input in;
  int allow8, again, rv, have_from = 0, allow_utf8, utf8_addr = 0;
  int text_set = 0, html_set = 0;
  const unsigned char *text = NULL, *html = NULL;
  size_t text_len = 0, html_len = 0, ninline = 0, nattach = 0;
  bytes msg = {NULL, 0, 0};
  tree t;

  if (size < 2)
    return 0;
  allow8 = data[0] & 1;
  again = (data[0] >> 1) & 1;
  allow_utf8 = (data[0] >> 2) & 1;
  chunk = data[1] ? data[1] : 4096;
  in.p = data + 2;
  in.n = size - 2;
  memset(&fs, 0, sizeof(fs));
  pl.n = 0;
  memset(&t, 0, sizeof(t));

  if (smtpc_msg_new(&m, NULL) != SMTPC_OK)
    FAIL("msg_new");
  memset(&plat, 0, sizeof(plat));
  plat.version = SMTPC_MSG_PLATFORM_VERSION;
  plat.user = &fs;
  plat.now = p_now;
  plat.random = p_random;
  plat.file_open = p_open;
  plat.file_read = p_read;
  plat.file_close = p_close;
  if (smtpc_msg_set_platform(m, &plat) != SMTPC_OK ||
      smtpc_msg_set_seed(m, 0x5eed) != SMTPC_OK ||
      smtpc_msg_set_8bitmime(m, allow8) != SMTPC_OK ||
      smtpc_msg_set_smtputf8(m, allow_utf8) != SMTPC_OK)
    FAIL("setup");

  while (in.n > 0 && nops++ < MAX_OPS) {
    int op = in.p[0] % 17;
    const unsigned char *p;
    size_t n;
    char *a, *b, *c;
    in.p++;
    in.n--;
    switch (op) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 11:
    case 12:
      a = str_arg(&in, &pl, 1);
      b = str_arg(&in, &pl, 0);
      rv = op == 0    ? smtpc_msg_set_from(m, a, b)
           : op == 1  ? smtpc_msg_add_to(m, a, b)
           : op == 2  ? smtpc_msg_add_cc(m, a, b)
           : op == 3  ? smtpc_msg_add_bcc(m, a, b)
           : op == 11 ? smtpc_msg_set_reply_to(m, a, b)
                      : smtpc_msg_set_sender(m, a, b);
      if (op == 0 && rv == SMTPC_OK)
        have_from = 1;
      for (c = b; rv == SMTPC_OK && c != NULL && *c != '\0'; c++)
        if ((unsigned char)*c >= 0x80)
          utf8_addr = 1;
      break;
    case 4: rv = smtpc_msg_set_subject(m, str_arg(&in, &pl, 0)); break;
    case 5:
      a = str_arg(&in, &pl, 0);
      rv = smtpc_msg_add_header(m, a, str_arg(&in, &pl, 0));
      break;
    case 6:
    case 7:
      arg(&in, &p, &n);
      rv = op == 6 ? smtpc_msg_set_text(m, (const char *)p, n)
                   : smtpc_msg_set_html(m, (const char *)p, n);
      if (rv == SMTPC_OK && op == 6) {
        text_set = 1;
        text = p;
        text_len = n;
      } else if (rv == SMTPC_OK) {
        html_set = 1;
        html = p;
        html_len = n;
      }
      break;
    case 8:
    case 9:
      arg(&in, &p, &n);
      a = (char *)str_arg(&in, &pl, 1);
      b = str_arg(&in, &pl, 1);
      c = op == 9 ? str_arg(&in, &pl, 0) : NULL;
      if (nparts == MAX_PARTS) {
        rv = -1; /* the harness keeps track of that many */
        break;
      }
      if (op == 8) {
        rv = smtpc_msg_add_attachment_memory(m, p, n, a, b);
      } else {
        rv = smtpc_msg_add_inline_memory(m, p, n, a, b, c);
      }
      if (rv == SMTPC_OK) {
        parts[nparts].p = p;
        parts[nparts++].n = n;
        if (op == 8)
          nattach++;
        else
          ninline++;
      }
      break;
    case 10: {
      const unsigned char *fl;
      size_t fn;
      stream *s;
      arg(&in, &p, &n);
      a = (char *)str_arg(&in, &pl, 1);
      b = str_arg(&in, &pl, 1);
      arg(&in, &fl, &fn);
      if (nstreams == MAX_PARTS || nparts == MAX_PARTS) {
        rv = -1;
        break;
      }
      s = &streams[nstreams];
      s->p = p;
      s->n = n;
      s->pos = 0;
      s->toggle = 0;
      s->block = fn > 0 && (fl[0] & 2);
      s->step = fn > 0 ? (size_t)(fl[0] >> 4) : 0;
      rv = smtpc_msg_add_attachment_stream(
          m, stream_read, s, (fn > 0 && (fl[0] & 1)) ? -1 : (int64_t)n, a, b);
      if (rv == SMTPC_OK) {
        nstreams++;
        parts[nparts].p = p;
        parts[nparts++].n = n;
        nattach++;
      }
      break;
    }
    case 13: rv = smtpc_msg_set_message_id(m, str_arg(&in, &pl, 0)); break;
    case 14:
      arg(&in, &p, &n);
      allow8 = n > 0 && (p[0] & 1);
      rv = smtpc_msg_set_8bitmime(m, allow8);
      break;
    case 15: {
      int64_t tm = 0;
      int off;
      arg(&in, &p, &n);
      for (i = 0; i < 8 && i < n; i++)
        tm = (int64_t)((uint64_t)tm << 8 | p[i]);
      off = n >= 10 ? (int)(int16_t)(p[8] << 8 | p[9]) : 0;
      rv = smtpc_msg_set_date(m, tm, off);
      break;
    }
    default: /* 16 */
      arg(&in, &p, &n);
      a = str_arg(&in, &pl, 0);
      b = (char *)str_arg(&in, &pl, 1);
      c = str_arg(&in, &pl, 1);
      if (fs.n == MAX_FILES || nparts == MAX_PARTS) {
        rv = -1;
        break;
      }
      for (i = 0; i < fs.n && strcmp(fs.f[i].path, a) != 0; i++)
        ;
      if (i < fs.n) { /* files do not change under the message */
        rv = -1;
        break;
      }
      fs.f[fs.n].path = a;
      fs.f[fs.n].p = p;
      fs.f[fs.n].n = n;
      fs.n++;
      rv = smtpc_msg_add_attachment_file(m, a, b, c);
      if (rv == SMTPC_OK) {
        parts[nparts].p = p;
        parts[nparts++].n = n;
        nattach++;
      }
      break;
    }
    if (rv > 0 || rv == SMTPC_ERR_NOMEM || rv <= -900)
      FAIL("op %d returned %d", op, rv);
  }
  if (fs.open != 0)
    FAIL("%ld files left open after adding", fs.open);

  rv = smtpc_msg_body(m, &body);
  if (rv != SMTPC_OK) {
    if (getenv("FUZZ_MIME_DUMP") != NULL)
      fprintf(stderr, "smtpc_msg_body: %d (%s)\n", rv, smtpc_strerror(rv));
    /* a UTF-8 address without SMTPUTF8: a domain with no A-label (or no
     * converter), or a UTF-8 local part, cannot be written */
    if (utf8_addr && !allow_utf8 &&
        (rv == SMTPC_ERR_SMTPUTF8_UNSUPPORTED || rv == SMTPC_ERR_BAD_ADDRESS ||
         rv == SMTPC_ERR_IDNA_UNAVAILABLE))
      goto done;
    if (rv != SMTPC_ERR_INVALID_STATE)
      FAIL("smtpc_msg_body: %d (%s)", rv, smtpc_strerror(rv));
    if (have_from && !(ninline > 0 && !html_set))
      FAIL("smtpc_msg_body refused a message with From and no stray inline "
           "part");
    goto done;
  }
  if (!have_from)
    FAIL("a body without From");
  if (ninline > 0 && !html_set)
    FAIL("a body with inline parts and no HTML");
  if (body.version != SMTPC_BODY_VERSION || body.read == NULL)
    FAIL("body not a stream");
  rv = read_body(&body, chunk, &msg);
  if (rv != SMTPC_OK)
    FAIL("reading the body: %d (%s)", rv, smtpc_strerror(rv));
  if (fs.open != 0)
    FAIL("%ld files left open after reading", fs.open);
  if (getenv("FUZZ_MIME_DUMP") != NULL) /* for reading a crash */
    fwrite(msg.p, 1, msg.n, stderr);
  check_message(&msg, &body, allow8, allow_utf8 && utf8_addr, &t);

  /* one leaf per body and part, each decoding to the bytes given */
  {
    size_t want = (size_t)text_set + (size_t)html_set + ninline + nattach;
    size_t texts = 0, k;
    int used[MAX_PARTS + 2] = {0};
    if (want == 0)
      want = 1; /* an empty text/plain body */
    if (t.n != want)
      FAIL("%zu MIME leaves for %zu bodies and parts", t.n, want);
    for (i = 0; i < t.n; i++) {
      bytes exp = {NULL, 0, 0};
      const leaf *l = &t.l[i];
      if (!l->is_text)
        continue;
      texts++;
      if (l->html ? !html_set : !(text_set || want == 1))
        FAIL("unexpected text leaf");
      put_norm(&exp, l->html ? html : text, l->html ? html_len : text_len);
      if (t.n == 1 && exp.n > 0 && !(exp.n >= 2 && exp.p[exp.n - 1] == '\n'))
        put(&exp, "\r\n", 2); /* a message ends with a line break */
      if (exp.p == NULL)
        put(&exp, "", 0);
      if (exp.n != l->content.n || memcmp(exp.p, l->content.p, exp.n) != 0)
        FAIL("%s body does not decode to its input", l->html ? "HTML" : "text");
      free(exp.p);
    }
    if (texts != (size_t)text_set + (size_t)html_set &&
        !(texts == 1 && want == 1 && !text_set && !html_set))
      FAIL("%zu text leaves", texts);
    for (k = 0; k < nparts; k++) {
      for (i = 0; i < t.n; i++)
        if (!t.l[i].is_text && !used[i] && t.l[i].content.n == parts[k].n &&
            (parts[k].n == 0 ||
             memcmp(t.l[i].content.p, parts[k].p, parts[k].n) == 0))
          break;
      if (i == t.n)
        FAIL("part %zu (%zu bytes) is not in the message", k, parts[k].n);
      used[i] = 1;
    }
  }

  if (again) {
    /* the same bytes again, unless a stream was read (then refused) */
    bytes second = {NULL, 0, 0};
    rv = smtpc_msg_body(m, &body);
    if (nstreams > 0) {
      if (rv != SMTPC_ERR_INVALID_STATE)
        FAIL("second body of a message with a stream: %d", rv);
    } else {
      if (rv != SMTPC_OK)
        FAIL("second smtpc_msg_body: %d", rv);
      if (read_body(&body, chunk, &second) != SMTPC_OK || second.n != msg.n ||
          memcmp(second.p, msg.p, msg.n) != 0)
        FAIL("the second reading differs from the first");
    }
    free(second.p);
  }
  {
    const char *from, *const *rcpts;
    size_t n;
    if (smtpc_msg_envelope(m, &from, &rcpts, &n) != SMTPC_OK || from == NULL)
      FAIL("envelope");
    for (i = 0; i < n; i++)
      /* (quoted local parts and address literals may hold ' ', '<', '>') */
      if (rcpts[i] == NULL || strpbrk(rcpts[i], "\r\n") != NULL)
        FAIL("bad envelope recipient");
  }

done:
  smtpc_msg_free(m);
  if (fs.open != 0)
    FAIL("%ld files left open after free", fs.open);
  for (i = 0; i < t.n; i++)
    free(t.l[i].content.p);
  for (i = 0; i < pl.n; i++)
    free(pl.s[i]);
  free(msg.p);
  return 0;
}
