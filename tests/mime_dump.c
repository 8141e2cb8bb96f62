/* SPDX-License-Identifier: MIT */
/* mime_dump DIR -- builds every message of a table with the MIME builder and
 * writes, for case NN:
 *   DIR/NN.eml     the message, read through the body reader in random
 *                  chunk sizes (and checked against the announced size)
 *   DIR/NN.json    what the message must decode to (headers as UTF-8
 *                  strings, texts, parts with their types and names)
 *   DIR/NN.K.bin   the bytes attachment K must decode to
 * tests/mime_parse.py then parses each message with Python's email package
 * (strict policy) and compares.  Run by tests/check_mime_python.sh.
 * Exit status: 0, or 1 with a message on stderr. */
#include <smtpc/smtpc.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARTS 12
#define MAX_ADDRS 8
#define MAX_HDRS 4
#define MIB (1024u * 1024u)

enum { MEM, FILE_, STREAM, STREAM_UNKNOWN };

typedef struct addr {
  const char *name;
  const char *addr;
} addr;

typedef struct attach {
  int src;          /* MEM, FILE_, STREAM, STREAM_UNKNOWN */
  size_t size;      /* random binary of this size ... */
  const char *data; /* ... unless data is set (NUL-terminated) */
  const char *filename;
  const char *type; /* NULL: guessed */
  const char *cid;  /* inline part when set */
} attach;

typedef struct mcase {
  const char *label;
  addr from, sender, reply_to;
  addr to[MAX_ADDRS], cc[MAX_ADDRS], bcc[MAX_ADDRS];
  const char *subject;
  const char *hdr[MAX_HDRS][2];
  const char *text, *html;
  int long_line; /* append a 2000-octet line to the text */
  int allow8bit;
  attach parts[MAX_PARTS];
} mcase;

static const char *const JORG = "J\xc3\xb6rg M\xc3\xbcller";
static const char *const TARO =
    "\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e";

static const mcase cases[] = {
    {"text only",
     {"Alice", "alice@example.org"},
     {0},
     {0},
     {{"Bob", "bob@example.net"}},
     {{0}},
     {{0}},
     "Plain",
     {{0}},
     "Hello Bob,\nbye.\n",
     NULL,
     0,
     0,
     {{0}}},
    {"utf-8 text, subject and names",
     {NULL, "joerg@example.org"},
     {0},
     {0},
     {{NULL, "taro@example.jp"}},
     {{0}},
     {{0}},
     "Gr\xc3\xbc\xc3\x9f"
     "e aus K\xc3\xb6ln \xe2\x80\x93 \xe2\x82\xac 100",
     {{0}},
     "Sch\xc3\xb6ne Gr\xc3\xbc\xc3\x9f"
     "e,\r\nJ\xc3\xb6rg",
     NULL,
     0,
     0,
     {{0}}},
    {"html only",
     {"Alice", "alice@example.org"},
     {0},
     {0},
     {{"Bob", "bob@example.net"}},
     {{0}},
     {{0}},
     "HTML",
     {{0}},
     NULL,
     "<p>caf\xc3\xa9 = good</p>",
     0,
     0,
     {{0}}},
    {"text and html",
     {"Alice", "alice@example.org"},
     {0},
     {0},
     {{"Bob", "bob@example.net"}},
     {{0}},
     {{0}},
     "Alternative",
     {{0}},
     "Hello *Bob*\n",
     "<p>Hello <b>Bob</b></p>\n",
     0,
     0,
     {{0}}},
    {"text, html and inline images",
     {"Alice", "alice@example.org"},
     {0},
     {0},
     {{"Bob", "bob@example.net"}},
     {{0}},
     {{0}},
     "Related",
     {{0}},
     "Logo below.\n",
     "<p><img src=\"cid:logo@example.org\"><img src=\"cid:s@x\"></p>\n",
     0,
     0,
     {{MEM, 300, NULL, "logo.png", NULL, "logo@example.org"},
      {STREAM, 5000, NULL, "spacer.gif", NULL, "s@x"}}},
    {"small attachments",
     {"Alice", "alice@example.org"},
     {0},
     {0},
     {{"Bob", "bob@example.net"}},
     {{0}},
     {{0}},
     "Sizes",
     {{0}},
     "Seven attachments.\n",
     NULL,
     0,
     0,
     {{MEM, 0, NULL, "size0.bin", NULL, NULL},
      {MEM, 1, NULL, "size1.bin", NULL, NULL},
      {MEM, 2, NULL, "size2.bin", NULL, NULL},
      {MEM, 3, NULL, "size3.bin", NULL, NULL},
      {MEM, 57, NULL, "size57.bin", NULL, NULL},
      {MEM, 76, NULL, "size76.bin", NULL, NULL},
      {MEM, 77, NULL, "size77.bin", NULL, NULL}}},
    {"1 MiB from memory",
     {"Alice", "alice@example.org"},
     {0},
     {0},
     {{"Bob", "bob@example.net"}},
     {{0}},
     {{0}},
     "Big memory",
     {{0}},
     NULL,
     NULL,
     0,
     0,
     {{MEM, MIB, NULL, "random.bin", NULL, NULL}}},
    {"1 MiB from a file",
     {"Alice", "alice@example.org"},
     {0},
     {0},
     {{"Bob", "bob@example.net"}},
     {{0}},
     {{0}},
     "Big file",
     {{0}},
     "File attached.\n",
     NULL,
     0,
     0,
     {{FILE_, MIB, NULL, NULL, NULL, NULL},
      {FILE_, 3, NULL, "tiny.pdf", NULL, NULL}}},
    {"1 MiB from streams of known and unknown size",
     {"Alice", "alice@example.org"},
     {0},
     {0},
     {{"Bob", "bob@example.net"}},
     {{0}},
     {{0}},
     "Big stream",
     {{0}},
     "Streams attached.\n",
     NULL,
     0,
     0,
     {{STREAM_UNKNOWN, MIB, NULL, "unknown.dat", "application/x-test", NULL},
      {STREAM, MIB + 1, NULL, "known.dat", NULL, NULL},
      {STREAM_UNKNOWN, 0, NULL, "empty.dat", NULL, NULL}}},
    {"file names",
     {"Alice", "alice@example.org"},
     {0},
     {0},
     {{"Bob", "bob@example.net"}},
     {{0}},
     {{0}},
     "Names",
     {{0}},
     "Names.\n",
     NULL,
     0,
     0,
     {{MEM, 10, NULL, "\xe2\x82\xac rates.pdf", NULL, NULL},
      {MEM, 10, NULL,
       "\xc3\x9c"
       "bersicht der Ausgaben f\xc3\xbcr das Gesch\xc3\xa4"
       "ftsjahr 2023 (endg\xc3\xbcltig, Version 2).xlsx",
       NULL, NULL},
      {MEM, 10, NULL, "with \"quotes\" and \\backslash.txt", NULL, NULL},
      {MEM, 10, NULL,
       /* not both starting and ending with '"': Python's email package
        * strips such quotes even from an RFC 2231 value */
       "\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\\\\\\\\\\\\\\\\\\\\\".txt",
       NULL, NULL},
      {MEM, 10, NULL, "=?UTF-8?B?eA==?=", NULL, NULL},
      {MEM, 10, NULL, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e.txt", NULL, NULL},
      {MEM, 10, NULL, "semi;colon, comma = equals.csv", NULL, NULL},
      {MEM, 0, "a,b\r\n1,2\r\n", NULL, "text/csv; charset=us-ascii", NULL}}},
    {"headers and recipients",
     {"Ann O'Neil, PhD", "ann@example.org"},
     {"Mail Robot", "robot@example.org"},
     {"Help \"Desk\"", "help@example.org"},
     {{"Bob", "bob@example.net"},
      {"", "plain@example.net"},
      {"\xc3\x89"
       "milie Dupont-Durand",
       "emilie@example.fr"},
      {"A very long display name that is certainly longer than one header line",
       "long@example.net"},
      {"\xe9\x95\xb7\xe3\x81\x84\xe5\x90\x8d\xe5\x89\x8d\xe3\x81\xae"
       "\xe4\xbe\x8b\xe3\x81\xa7\xe3\x81\x99\xe3\x80\x82\xe9\x95\xb7"
       "\xe3\x81\x84\xe5\x90\x8d\xe5\x89\x8d\xe3\x81\xae\xe4\xbe\x8b",
       "cjk@example.jp"},
      {"Gr\xc3\xbc\xc3\x9f"
       "e an \xc3\xa9\xc3\xa9\xc3\xa9 and "
       "\xc3\xa0\xc3\xa0\xc3\xa0\xc3\xa0 \xc3\xa8\xc3\xa8\xc3\xa8"
       "\xc3\xa8\xc3\xa8 \xc3\xb9\xc3\xb9\xc3\xb9 \xc3\xa7\xc3\xa7"
       "\xc3\xa7\xc3\xa7\xc3\xa7\xc3\xa7 \xc3\xb4\xc3\xb4",
       "accents@example.fr"}},
     {{"\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e", "taro@example.jp"},
      {"x=?y", "q@example.net"},
      {"Dr. Who", "who@example.net"},
      {"Zo\xc3\xab  Two", "two@example.net"},
      {"Zo\xc3\xab"
       "abcdef  Two",
       "six@example.net"},
      {"back\\slash \"quoted\"", "bs@example.net"}},
     {{"Hidden", "hidden@example.net"}, {NULL, "bob@EXAMPLE.net"}},
     "Headers",
     {{"X-Priority", "1"},
      {"List-Unsubscribe",
       "<mailto:unsubscribe@example.org?subject=unsubscribe>, "
       "<https://example.org/unsubscribe?id=0123456789abcdef0123456789>"},
      {"X-Comment", "caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9"
                    "e"},
      {"X-Empty", ""}},
     "Body.\n",
     NULL,
     0,
     0,
     {{0}}},
    {"8bit allowed",
     {NULL, "joerg@example.org"},
     {0},
     {0},
     {{NULL, "bob@example.net"}},
     {{0}},
     {{0}},
     "8bit",
     {{0}},
     "Gr\xc3\xbc\xc3\x9f"
     "e\n",
     "<p>Gr\xc3\xbc\xc3\x9f"
     "e</p>",
     0,
     1,
     {{0}}},
    {"long subject and long line",
     {NULL, "a@example.org"},
     {0},
     {0},
     {{NULL, "b@example.net"}},
     {{0}},
     {{0}},
     "\xf0\x9f\x98\x80\xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"
     "\xe3\x81\xae\xe4\xbb\xb6\xe5\x90\x8d\xe3\x81\xa7\xe3\x81\x99\xe3\x80\x82"
     "\xe9\x95\xb7\xe3\x81\x84\xe4\xbb\xb6\xe5\x90\x8d\xe3\x81\xaf\xe5\x88\x86"
     "\xe5\x89\xb2\xe3\x81\x95\xe3\x82\x8c\xe3\x81\xbe\xe3\x81\x99 and then "
     "plain ASCII words that go on and on until the line is long enough to "
     "fold several times \xf0\x9f\x8e\x89",
     {{0}},
     "Before the long line.\n",
     NULL,
     1,
     0,
     {{0}}},
    {"tricky text",
     {NULL, "a@example.org"},
     {0},
     {0},
     {{NULL, "b@example.net"}},
     {{0}},
     {{0}},
     "=?UTF-8?Q?not_encoded?= and =_ and \xc3\xa9",
     {{0}},
     "trailing spaces   \nlone CR\rthen LF\n=_not a boundary\n.dot line\n"
     "From the start\n-- \nsig\n\ttab\t\n",
     NULL,
     0,
     0,
     {{0}}},
    {"empty text, no subject",
     {NULL, "a@example.org"},
     {0},
     {0},
     {{NULL, "b@example.net"}},
     {{0}},
     {{0}},
     NULL,
     {{0}},
     "",
     NULL,
     0,
     0,
     {{0}}},
    {"everything",
     {JORG, "joerg@example.org"},
     {0},
     {"Team", "team@example.org"},
     {{TARO, "taro@example.jp"}},
     {{"Zo\xc3\xab", "zoe@example.ie"}},
     {{NULL, "boss@example.org"}},
     "Quartalsbericht f\xc3\xbcr Q3 \xe2\x80\x93 bitte lesen",
     {{"X-Mailer", "libsmtpc mime_dump"}},
     "Hallo,\nanbei der Bericht.\n",
     "<p>Hallo,</p><p>anbei der <b>Bericht</b>.</p><img src=\"cid:c@x\">",
     0,
     0,
     {{MEM, 2000, NULL, "chart.png", NULL, "c@x"},
      {FILE_, 100000, NULL, "Bericht Q3.pdf", NULL, NULL},
      {STREAM, 77, NULL, "\xc3\xbc.bin", NULL, NULL}}},
};

/* ---- helpers ------------------------------------------------------------- */

static const char *g_dir;

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("mime_dump: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static unsigned long rng_next(unsigned long *s) {
  *s = *s * 6364136223846793005UL + 1442695040888963407UL;
  return (*s >> 33) & 0x7fffffffUL;
}

static char *path_of(char *buf, size_t cap, int ci, int k, const char *ext) {
  if (k < 0)
    snprintf(buf, cap, "%s/%02d.%s", g_dir, ci, ext);
  else
    snprintf(buf, cap, "%s/%02d.%d.%s", g_dir, ci, k, ext);
  return buf;
}

static void write_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (f == NULL || (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
    die("cannot write %s", path);
}

static void json_str(FILE *f, const char *s, size_t n) {
  size_t i;
  if (s == NULL) {
    fputs("null", f);
    return;
  }
  fputc('"', f);
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

static void json_cstr(FILE *f, const char *s) {
  json_str(f, s, s != NULL ? strlen(s) : 0);
}

static void json_addr(FILE *f, const addr *a) {
  if (a->addr == NULL) {
    fputs("null", f);
    return;
  }
  fputc('[', f);
  json_cstr(f, a->name != NULL ? a->name : "");
  fputc(',', f);
  json_cstr(f, a->addr);
  fputc(']', f);
}

static void json_addrs(FILE *f, const addr *a) {
  int i;
  fputc('[', f);
  for (i = 0; i < MAX_ADDRS && a[i].addr != NULL; i++) {
    if (i > 0)
      fputc(',', f);
    json_addr(f, &a[i]);
  }
  fputc(']', f);
}

typedef struct stream {
  const unsigned char *p;
  size_t n, pos;
  unsigned long rng;
} stream;

static smtpc_ssize stream_read(void *ctx, unsigned char *buf, size_t len) {
  stream *s = ctx;
  size_t k = s->n - s->pos, r = 1 + rng_next(&s->rng) % 9000;
  if (rng_next(&s->rng) % 5 == 0)
    return SMTPC_ERR_WANT_READ;
  if (k > r)
    k = r;
  if (k > len)
    k = len;
  memcpy(buf, s->p + s->pos, k);
  s->pos += k;
  return (smtpc_ssize)k;
}

static void check(int rv, const char *what, int ci) {
  if (rv != SMTPC_OK)
    die("case %d: %s: %s", ci, what, smtpc_strerror(rv));
}

/* ---- one case ------------------------------------------------------------ */

static void dump_case(int ci, const mcase *c) {
  smtpc_msg *m;
  smtpc_body body;
  unsigned char *data[MAX_PARTS] = {0};
  stream streams[MAX_PARTS];
  char path[4096], *text = NULL;
  size_t tlen = 0, np = 0, i, total = 0;
  unsigned char *buf;
  unsigned long rng = (unsigned long)ci + 1;
  FILE *f;
  int k, rv;
  long spins = 0;

  check(smtpc_msg_new(&m, NULL), "new", ci);
  check(smtpc_msg_set_seed(m, (uint64_t)ci), "seed", ci);
  check(smtpc_msg_set_date(m, 1700000000 + ci, 60 * (ci % 5) - 120), "date",
        ci);
  check(smtpc_msg_set_from(m, c->from.name, c->from.addr), "from", ci);
  if (c->sender.addr != NULL)
    check(smtpc_msg_set_sender(m, c->sender.name, c->sender.addr), "sender",
          ci);
  if (c->reply_to.addr != NULL)
    check(smtpc_msg_set_reply_to(m, c->reply_to.name, c->reply_to.addr),
          "reply-to", ci);
  for (k = 0; k < MAX_ADDRS && c->to[k].addr != NULL; k++)
    check(smtpc_msg_add_to(m, c->to[k].name, c->to[k].addr), "to", ci);
  for (k = 0; k < MAX_ADDRS && c->cc[k].addr != NULL; k++)
    check(smtpc_msg_add_cc(m, c->cc[k].name, c->cc[k].addr), "cc", ci);
  for (k = 0; k < MAX_ADDRS && c->bcc[k].addr != NULL; k++)
    check(smtpc_msg_add_bcc(m, c->bcc[k].name, c->bcc[k].addr), "bcc", ci);
  if (c->subject != NULL)
    check(smtpc_msg_set_subject(m, c->subject), "subject", ci);
  for (k = 0; k < MAX_HDRS && c->hdr[k][0] != NULL; k++)
    check(smtpc_msg_add_header(m, c->hdr[k][0], c->hdr[k][1]), "header", ci);
  if (c->text != NULL) {
    size_t n = strlen(c->text);
    tlen = n + (c->long_line ? 2001 : 0);
    text = malloc(tlen + 1);
    if (text == NULL)
      die("out of memory");
    memcpy(text, c->text, n);
    if (c->long_line) {
      for (i = 0; i < 2000; i++)
        text[n + i] = (char)(i % 50 == 49 ? ' ' : 'a' + i % 26);
      text[n + 2000] = '\n';
    }
    text[tlen] = '\0';
    check(smtpc_msg_set_text(m, text, tlen), "text", ci);
  }
  if (c->html != NULL)
    check(smtpc_msg_set_html(m, c->html, SIZE_MAX), "html", ci);
  check(smtpc_msg_set_8bitmime(m, c->allow8bit), "8bitmime", ci);

  for (np = 0;
       np < MAX_PARTS && (c->parts[np].size > 0 || c->parts[np].data != NULL ||
                          c->parts[np].filename != NULL);
       np++) {
    const attach *a = &c->parts[np];
    size_t n = a->data != NULL ? strlen(a->data) : a->size;
    data[np] = malloc(n + 1);
    if (data[np] == NULL)
      die("out of memory");
    if (a->data != NULL)
      memcpy(data[np], a->data, n);
    else
      for (i = 0; i < n; i++)
        data[np][i] = (unsigned char)(rng_next(&rng) >> 11);
    write_file(path_of(path, sizeof(path), ci, (int)np, "bin"), data[np], n);
    switch (a->src) {
    case MEM:
      rv = a->cid != NULL
               ? smtpc_msg_add_inline_memory(m, data[np], n, a->filename,
                                             a->type, a->cid)
               : smtpc_msg_add_attachment_memory(m, data[np], n, a->filename,
                                                 a->type);
      break;
    case FILE_:
      /* the attachment's own .bin file; the shown name defaults to it */
      rv =
          a->cid != NULL
              ? smtpc_msg_add_inline_file(m, path, a->filename, a->type, a->cid)
              : smtpc_msg_add_attachment_file(m, path, a->filename, a->type);
      break;
    default:
      streams[np].p = data[np];
      streams[np].n = n;
      streams[np].pos = 0;
      streams[np].rng = rng_next(&rng) + 1;
      rv = a->cid != NULL
               ? smtpc_msg_add_inline_stream(m, stream_read, &streams[np],
                                             a->src == STREAM ? (int64_t)n : -1,
                                             a->filename, a->type, a->cid)
               : smtpc_msg_add_attachment_stream(
                     m, stream_read, &streams[np],
                     a->src == STREAM ? (int64_t)n : -1, a->filename, a->type);
      break;
    }
    check(rv, "attachment", ci);
  }

  /* the message, read in random chunk sizes */
  check(smtpc_msg_body(m, &body), "body", ci);
  f = fopen(path_of(path, sizeof(path), ci, -1, "eml"), "wb");
  if (f == NULL)
    die("cannot write %s", path);
  buf = malloc(70000);
  if (buf == NULL)
    die("out of memory");
  for (;;) {
    size_t want = 1 + rng_next(&rng) % (rng_next(&rng) % 2 ? 100 : 70000);
    smtpc_ssize n = body.read(body.ctx, buf, want);
    if (++spins > 100000000L)
      die("case %d: the reader does not end", ci);
    if (n == SMTPC_ERR_WANT_READ)
      continue;
    if (n < 0)
      die("case %d: read: %s", ci, smtpc_strerror((int)n));
    if (n == 0)
      break;
    if ((size_t)n > want || fwrite(buf, 1, (size_t)n, f) != (size_t)n)
      die("case %d: bad read or write", ci);
    total += (size_t)n;
  }
  free(buf);
  if (fclose(f) != 0)
    die("cannot write %s", path);
  if (body.size >= 0 && (size_t)body.size != total)
    die("case %d: announced %lld bytes, produced %zu", ci, (long long)body.size,
        total);

  /* the expectations */
  f = fopen(path_of(path, sizeof(path), ci, -1, "json"), "wb");
  if (f == NULL)
    die("cannot write %s", path);
  fputs("{\"label\": ", f);
  json_cstr(f, c->label);
  fprintf(f, ",\n \"size\": %lld, \"body_type\": %d, \"date\": [%d, %d]",
          (long long)body.size, (int)body.type, 1700000000 + ci,
          60 * (ci % 5) - 120);
  fputs(",\n \"message_id\": ", f);
  json_cstr(f, smtpc_msg_message_id(m));
  fputs(",\n \"from\": ", f);
  json_addr(f, &c->from);
  fputs(", \"sender\": ", f);
  json_addr(f, &c->sender);
  fputs(", \"reply_to\": ", f);
  json_addr(f, &c->reply_to);
  fputs(",\n \"to\": ", f);
  json_addrs(f, c->to);
  fputs(", \"cc\": ", f);
  json_addrs(f, c->cc);
  fputs(", \"bcc\": ", f);
  json_addrs(f, c->bcc);
  fputs(",\n \"subject\": ", f);
  json_cstr(f, c->subject);
  fputs(",\n \"headers\": [", f);
  for (k = 0; k < MAX_HDRS && c->hdr[k][0] != NULL; k++) {
    fputs(k > 0 ? ", [" : "[", f);
    json_cstr(f, c->hdr[k][0]);
    fputc(',', f);
    json_cstr(f, c->hdr[k][1]);
    fputc(']', f);
  }
  fputs("],\n \"text\": ", f);
  json_str(f, text, tlen);
  fputs(",\n \"html\": ", f);
  json_cstr(f, c->html);
  fputs(",\n \"parts\": [", f);
  for (i = 0; i < np; i++) {
    const attach *a = &c->parts[i];
    const char *fname = a->filename;
    if (fname == NULL && a->src == FILE_)
      fname = strrchr(path_of(path, sizeof(path), ci, (int)i, "bin"), '/') + 1;
    fputs(i > 0 ? ",\n  {" : "\n  {", f);
    fputs("\"filename\": ", f);
    json_cstr(f, fname);
    fputs(", \"type\": ", f);
    json_cstr(f, a->type != NULL ? a->type : smtpc_msg_guess_type(fname));
    fputs(", \"cid\": ", f);
    json_cstr(f, a->cid);
    fputs(", \"bin\": ", f);
    json_cstr(f,
              strrchr(path_of(path, sizeof(path), ci, (int)i, "bin"), '/') + 1);
    fputc('}', f);
  }
  fputs("]}\n", f);
  if (fclose(f) != 0)
    die("cannot write %s", path);

  smtpc_msg_free(m);
  for (i = 0; i < np; i++)
    free(data[i]);
  free(text);
}

int main(int argc, char **argv) {
  size_t i;
  if (argc != 2) {
    fprintf(stderr, "usage: mime_dump DIR\n");
    return 2;
  }
  g_dir = argv[1];
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    dump_case((int)i, &cases[i]);
  printf("mime_dump: %zu messages written to %s\n",
         sizeof(cases) / sizeof(cases[0]), g_dir);
  return 0;
}
