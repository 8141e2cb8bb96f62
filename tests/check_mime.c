/* SPDX-License-Identifier: MIT */
/* Unit tests for the MIME builder (lib/mime.c, lib/mime_header.c,
 * lib/mime_stream.c) and its streaming encoders (lib/qp.c,
 * lib/base64_stream.c).
 *
 *   golden      byte-exact messages for each structure (fixed date, seed)
 *   qp / b64    encoder edge cases, a reference model, and invariance under
 *               every input chunk size and output capacity
 *   reader      the body read with every chunk size 1..N gives the same
 *               bytes; size announced == bytes produced; streams, files,
 *               would-block, size mismatches, re-reading, staleness
 *   headers     injection attempts rejected; folding; encoded-word limits;
 *               dates; envelope de-duplication; Bcc never in a header
 *   alloc       allocation-failure sweep over a full message
 *
 * After an intended change of the output, run with
 * SMTPC_MIME_GOLDEN_DUMP=1 CK_FORK=no to print every golden message as a C
 * literal to stderr (the golden test then passes without comparing). */
#include "testutil.h"

#include "mime_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------- */

static unsigned long rng_next(unsigned long *s) {
  *s = *s * 6364136223846793005UL + 1442695040888963407UL;
  return (*s >> 33) & 0x7fffffffUL;
}

/* Reads the whole body with reads of `chunk` bytes into a heap buffer of
 * exactly that size (so an overrun trips ASan/valgrind).  Would-block
 * returns are retried.  Returns 0 or the error the reader returned. */
static int read_all(const smtpc_body *b, size_t chunk, tu_bytes *out) {
  unsigned char *buf = malloc(chunk);
  long spins = 0;
  int rv = 0;
  ck_assert_ptr_nonnull(buf);
  ck_assert(b->read != NULL);
  for (;;) {
    smtpc_ssize n = b->read(b->ctx, buf, chunk);
    TU_CHECK(++spins < 50000000L, "reader does not end");
    if (n == SMTPC_ERR_WANT_READ)
      continue;
    if (n < 0) {
      rv = (int)n;
      break;
    }
    if (n == 0)
      break;
    TU_CHECK((size_t)n <= chunk, "read %ld > %zu", (long)n, chunk);
    tu_bytes_append(out, buf, (size_t)n);
  }
  free(buf);
  return rv;
}

/* smtpc_msg_body + read everything; checks the announced size. */
static void body_bytes(smtpc_msg *m, size_t chunk, tu_bytes *out) {
  smtpc_body b;
  ck_assert_int_eq(smtpc_msg_body(m, &b), SMTPC_OK);
  ck_assert_int_eq(b.version, SMTPC_BODY_VERSION);
  ck_assert_int_eq(read_all(&b, chunk, out), 0);
  if (b.size >= 0)
    ck_assert_msg(b.size == (int64_t)out->n,
                  "announced size %lld, produced %zu", (long long)b.size,
                  out->n);
}

/* No bare CR or LF; no line longer than max_line; header lines (up to the
 * first empty line) no longer than max_hdr. */
static void check_lines(const tu_bytes *b, size_t max_hdr, size_t max_line) {
  size_t i, start = 0;
  int in_hdr = 1;
  for (i = 0; i < b->n; i++) {
    if (b->p[i] == '\r') {
      size_t len = i - start;
      TU_CHECK(i + 1 < b->n && b->p[i + 1] == '\n', "bare CR at %zu", i);
      TU_CHECK(len <= max_line, "line of %zu octets at %zu: %s", len, start,
               tu_escape(b->p + start, len));
      if (in_hdr) {
        TU_CHECK(len <= max_hdr, "header line of %zu octets: %s", len,
                 tu_escape(b->p + start, len));
        if (len == 0)
          in_hdr = 0;
      }
      i++;
      start = i + 1;
    } else {
      TU_CHECK(b->p[i] != '\n', "bare LF at %zu", i);
    }
  }
  TU_CHECK(b->n - start <= max_line, "last line too long");
}

/* Value of the first header field `name` (unfolded: CRLF removed), or NULL.
 * Result is malloc'ed. */
static char *header_of(const tu_bytes *b, const char *name) {
  size_t nl = strlen(name), i = 0;
  const char *p = (const char *)b->p;
  while (i < b->n && !(p[i] == '\r' && (i == 0 || p[i - 1] == '\n'))) {
    if ((i == 0 || p[i - 1] == '\n') && strncasecmp(p + i, name, nl) == 0 &&
        p[i + nl] == ':') {
      size_t j = i + nl + 1, k = 0;
      char *v = malloc(b->n);
      ck_assert_ptr_nonnull(v);
      while (j < b->n) {
        if (p[j] == '\r' && j + 2 < b->n &&
            (p[j + 2] == ' ' || p[j + 2] == '\t')) {
          j += 2;
          continue;
        }
        if (p[j] == '\r')
          break;
        v[k++] = p[j++];
      }
      v[k] = '\0';
      return v;
    }
    i++;
  }
  return NULL;
}

static int contains(const tu_bytes *b, const char *s) {
  size_t n = strlen(s), i;
  for (i = 0; i + n <= b->n; i++)
    if (memcmp(b->p + i, s, n) == 0)
      return 1;
  return 0;
}

/* A stream over memory: returns at most `chunk` bytes per call (0 = all
 * asked), and would-block every other call when `block`. */
typedef struct mstream {
  const unsigned char *p;
  size_t n, pos, chunk;
  int block, toggle;
  unsigned long rng; /* non-zero: random chunk sizes 1..97 */
  int fail_at_end;   /* return this error instead of 0 at the end */
  int overflow;      /* claim one byte more than asked for */
  long calls;
  size_t max_len; /* the most bytes asked for in one call */
} mstream;

static smtpc_ssize ms_read(void *ctx, unsigned char *buf, size_t len) {
  mstream *s = ctx;
  size_t k = s->n - s->pos;
  s->calls++;
  if (len > s->max_len)
    s->max_len = len;
  if (s->block && (s->toggle ^= 1))
    return SMTPC_ERR_WANT_READ;
  if (k == 0 && s->fail_at_end)
    return s->fail_at_end;
  if (s->rng != 0) {
    size_t r = 1 + rng_next(&s->rng) % 97;
    if (k > r)
      k = r;
  }
  if (s->chunk > 0 && k > s->chunk)
    k = s->chunk;
  if (k > len)
    k = len;
  memcpy(buf, s->p + s->pos, k);
  s->pos += k;
  if (s->overflow)
    return (smtpc_ssize)len + 1;
  return (smtpc_ssize)k;
}

/* In-memory file system for the platform hooks. */
typedef struct fakefs {
  const char *path;
  const unsigned char *data;
  size_t n;
  int grow_after; /* opens after which the file has one byte more */
  int opens, closes;
  int read_error; /* file_read fails */
} fakefs;

typedef struct fakefile {
  fakefs *fs;
  size_t pos, n;
} fakefile;

static int fs_open(void *user, const char *path, void **file, int64_t *size) {
  fakefs *fs = user;
  fakefile *f;
  if (strcmp(path, fs->path) != 0)
    return SMTPC_ERR_IO;
  f = calloc(1, sizeof(*f));
  ck_assert_ptr_nonnull(f);
  f->fs = fs;
  fs->opens++;
  f->n = fs->n + (fs->grow_after > 0 && fs->opens > fs->grow_after);
  *size = (int64_t)f->n;
  *file = f;
  return SMTPC_OK;
}

static smtpc_ssize fs_read(void *user, void *file, unsigned char *buf,
                           size_t len) {
  fakefile *f = file;
  size_t k = f->n - f->pos;
  (void)user;
  if (f->fs->read_error)
    return SMTPC_ERR_IO;
  if (k > len)
    k = len;
  if (k > 1000)
    k = 1000;
  for (size_t i = 0; i < k; i++)
    buf[i] = f->pos + i < f->fs->n ? f->fs->data[f->pos + i] : 'X';
  f->pos += k;
  return (smtpc_ssize)k;
}

static void fs_close(void *user, void *file) {
  fakefs *fs = user;
  fs->closes++;
  free(file);
}

static int fixed_now(void *user, int64_t *now, int *off) {
  (void)user;
  *now = 1234567890; /* Fri, 13 Feb 2009 23:31:30 UTC */
  *off = -300;
  return SMTPC_OK;
}

static int zero_random(void *user, unsigned char *buf, size_t len) {
  int *calls = user;
  if (calls != NULL)
    (*calls)++;
  memset(buf, 0, len);
  return SMTPC_OK;
}

static int failing_now(void *user, int64_t *now, int *off) {
  (void)user;
  *now = 0;
  *off = 0;
  return SMTPC_ERR_IO;
}

static int far_future(void *user, int64_t *now, int *off) {
  (void)user;
  *now = INT64_MAX;
  *off = 0;
  return SMTPC_OK;
}

/* Fails from the (*user)-th call on (user NULL: always). */
static int failing_random(void *user, unsigned char *buf, size_t len) {
  int *left = user;
  memset(buf, 7, len);
  if (left != NULL && --*left > 0)
    return SMTPC_OK;
  return SMTPC_ERR_IO;
}

static void fake_platform(smtpc_msg_platform *p, fakefs *fs) {
  memset(p, 0, sizeof(*p));
  p->version = SMTPC_MSG_PLATFORM_VERSION;
  p->user = fs;
  p->now = fixed_now;
  p->file_open = fs_open;
  p->file_read = fs_read;
  p->file_close = fs_close;
}

static smtpc_msg *new_msg(void) {
  smtpc_msg *m;
  ck_assert_int_eq(smtpc_msg_new(&m, NULL), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_seed(m, 1), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_date(m, 1700000000, 60), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_from(m, "Alice Example", "alice@example.org"),
                   SMTPC_OK);
  return m;
}

/* Deterministic binary test data. */
static unsigned char *make_bin(size_t n, unsigned long seed) {
  unsigned char *p = malloc(n ? n : 1);
  size_t i;
  ck_assert_ptr_nonnull(p);
  for (i = 0; i < n; i++)
    p[i] = (unsigned char)(rng_next(&seed) >> 7);
  return p;
}

/* ---- golden messages ----------------------------------------------------- */

static const unsigned char png[] = {0x89, 'P',  'N', 'G', '\r', '\n',
                                    0x1a, '\n', 0,   0,   0,    13};

/* Builds golden case i into m (new_msg() defaults). */
static void golden_build(int i, smtpc_msg *m) {
  static const char pdf[] = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n";
  switch (i) {
  case 0: /* text only; LF line ends become CRLF */
    ck_assert_int_eq(smtpc_msg_add_to(m, "Bob", "bob@example.net"), 0);
    ck_assert_int_eq(smtpc_msg_set_subject(m, "Plain text"), 0);
    ck_assert_int_eq(
        smtpc_msg_set_text(m, "Hello Bob,\n\nthree lines.\r\nLast\rone.\n",
                           SIZE_MAX),
        0);
    break;
  case 1: /* text + html: multipart/alternative */
    ck_assert_int_eq(smtpc_msg_add_to(m, NULL, "bob@example.net"), 0);
    ck_assert_int_eq(smtpc_msg_set_subject(m, "Alternative"), 0);
    ck_assert_int_eq(smtpc_msg_set_text(m, "Hello *Bob*\n", SIZE_MAX), 0);
    ck_assert_int_eq(
        smtpc_msg_set_html(m, "<p>Hello <b>Bob</b></p>\n", SIZE_MAX), 0);
    break;
  case 2: /* text + attachment: multipart/mixed */
    ck_assert_int_eq(smtpc_msg_add_to(m, NULL, "bob@example.net"), 0);
    ck_assert_int_eq(smtpc_msg_set_subject(m, "Report"), 0);
    ck_assert_int_eq(smtpc_msg_set_text(m, "See attached.", SIZE_MAX), 0);
    ck_assert_int_eq(smtpc_msg_add_attachment_memory(m, pdf, sizeof(pdf) - 1,
                                                     "report.pdf", NULL),
                     0);
    break;
  case 3: /* text + html + inline image + attachment */
    ck_assert_int_eq(smtpc_msg_add_to(m, NULL, "bob@example.net"), 0);
    ck_assert_int_eq(smtpc_msg_set_subject(m, "Newsletter"), 0);
    ck_assert_int_eq(smtpc_msg_set_text(m, "Our logo.\n", SIZE_MAX), 0);
    ck_assert_int_eq(
        smtpc_msg_set_html(m, "<img src=\"cid:logo@example.org\">\n", SIZE_MAX),
        0);
    ck_assert_int_eq(smtpc_msg_add_inline_memory(m, png, sizeof(png),
                                                 "logo.png", NULL,
                                                 "logo@example.org"),
                     0);
    ck_assert_int_eq(
        smtpc_msg_add_attachment_memory(m, "a,b\n1,2\n", 8, "data.csv", NULL),
        0);
    break;
  case 4: /* non-ASCII everywhere */
    ck_assert_int_eq(
        smtpc_msg_set_from(m, "J\xc3\xb6rg M\xc3\xbcller", "joerg@example.org"),
        0);
    ck_assert_int_eq(smtpc_msg_add_to(m,
                                      "\xe5\xb1\xb1\xe7\x94\xb0 "
                                      "\xe5\xa4\xaa\xe9\x83\x8e",
                                      "taro@example.jp"),
                     0);
    ck_assert_int_eq(
        smtpc_msg_add_cc(m, "Zo\xc3\xab O'Brien, Esq.", "zoe@example.ie"), 0);
    ck_assert_int_eq(
        smtpc_msg_set_subject(m, "Gr\xc3\xbc\xc3\x9f"
                                 "e aus K\xc3\xb6ln: "
                                 "\xe2\x82\xac 100 f\xc3\xbcr alle "
                                 "Teilnehmer des Workshops \xf0\x9f\x8e\x89"),
        0);
    ck_assert_int_eq(smtpc_msg_set_text(m,
                                        "Sch\xc3\xb6ne Gr\xc3\xbc\xc3\x9f"
                                        "e!\n",
                                        SIZE_MAX),
                     0);
    ck_assert_int_eq(
        smtpc_msg_add_attachment_memory(m, "x", 1,
                                        "\xc3\x9c"
                                        "bersicht der Ausgaben f\xc3\xbcr das "
                                        "Gesch\xc3\xa4"
                                        "ftsjahr 2023 (endg\xc3\xbcltig).xlsx",
                                        NULL),
        0);
    break;
  case 5: /* custom headers, Sender, Reply-To, Bcc, explicit Message-ID */
    ck_assert_int_eq(smtpc_msg_add_to(m, NULL, "bob@example.net"), 0);
    ck_assert_int_eq(smtpc_msg_add_bcc(m, "Hidden", "secret@example.net"), 0);
    ck_assert_int_eq(smtpc_msg_set_sender(m, NULL, "bounces@example.org"), 0);
    ck_assert_int_eq(smtpc_msg_set_reply_to(m, "Help Desk", "help@example.org"),
                     0);
    ck_assert_int_eq(smtpc_msg_set_message_id(m, "12345.abc@example.org"), 0);
    ck_assert_int_eq(smtpc_msg_set_subject(m, "Headers"), 0);
    ck_assert_int_eq(smtpc_msg_add_header(m, "X-Priority", "1"), 0);
    ck_assert_int_eq(
        smtpc_msg_add_header(
            m, "List-Unsubscribe",
            "<mailto:unsubscribe@example.org?subject=unsubscribe>, "
            "<https://example.org/unsubscribe?id=0123456789abcdef>"),
        0);
    ck_assert_int_eq(
        smtpc_msg_add_header(m, "X-Comment", "caf\xc3\xa9 cr\xc3\xa8me"), 0);
    ck_assert_int_eq(smtpc_msg_set_text(m, "Body.\n", SIZE_MAX), 0);
    break;
  case 6: /* 8BITMIME allowed: 8bit text; long line: quoted-printable html */
    ck_assert_int_eq(smtpc_msg_add_to(m, NULL, "bob@example.net"), 0);
    ck_assert_int_eq(smtpc_msg_set_8bitmime(m, 1), 0);
    ck_assert_int_eq(smtpc_msg_set_text(m,
                                        "Gr\xc3\xbc\xc3\x9f"
                                        "e\n",
                                        SIZE_MAX),
                     0);
    ck_assert_int_eq(
        smtpc_msg_set_html(m,
                           "<p>A line that is longer than seventy-eight "
                           "octets, so it goes out quoted-printable = "
                           "fine.</p>  \n",
                           SIZE_MAX),
        0);
    break;
  default: /* 7: attachments only, one empty, no subject */
    ck_assert_int_eq(smtpc_msg_add_to(m, NULL, "bob@example.net"), 0);
    ck_assert_int_eq(
        smtpc_msg_add_attachment_memory(m, NULL, 0, "empty.bin", NULL), 0);
    ck_assert_int_eq(smtpc_msg_add_attachment_memory(
                         m,
                         "0123456789012345678901234567890123456789012345"
                         "678901234567890",
                         61, NULL, "text/plain; charset=us-ascii"),
                     0);
    break;
  }
}

/* Expected bytes of golden_build(i) (see the comment at the top to
 * regenerate). */
static const char *const golden[] = {
    /* golden 0 */
    "Date: Tue, 14 Nov 2023 23:13:20 +0100\r\n"
    "From: Alice Example <alice@example.org>\r\n"
    "To: Bob <bob@example.net>\r\n"
    "Subject: Plain text\r\n"
    "Message-ID: <sg7pq4lrypqiksolm6nhjb3pfi@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 7bit\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "\r\n"
    "three lines.\r\n"
    "Last\r\n"
    "one.\r\n",
    /* golden 1 */
    "Date: Tue, 14 Nov 2023 23:13:20 +0100\r\n"
    "From: Alice Example <alice@example.org>\r\n"
    "To: bob@example.net\r\n"
    "Subject: Alternative\r\n"
    "Message-ID: <sg7pq4lrypqiksolm6nhjb3pfi@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; "
    "boundary=\"=_a_fMoeGK2VBC7wB7TQdo2BF5Nl\"\r\n"
    "\r\n"
    "--=_a_fMoeGK2VBC7wB7TQdo2BF5Nl\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 7bit\r\n"
    "\r\n"
    "Hello *Bob*\r\n"
    "\r\n"
    "--=_a_fMoeGK2VBC7wB7TQdo2BF5Nl\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 7bit\r\n"
    "\r\n"
    "<p>Hello <b>Bob</b></p>\r\n"
    "\r\n"
    "--=_a_fMoeGK2VBC7wB7TQdo2BF5Nl--\r\n",
    /* golden 2 */
    "Date: Tue, 14 Nov 2023 23:13:20 +0100\r\n"
    "From: Alice Example <alice@example.org>\r\n"
    "To: bob@example.net\r\n"
    "Subject: Report\r\n"
    "Message-ID: <sg7pq4lrypqiksolm6nhjb3pfi@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; "
    "boundary=\"=_m_fMoeGK2VBC7wB7TQdo2BF5Nl\"\r\n"
    "\r\n"
    "--=_m_fMoeGK2VBC7wB7TQdo2BF5Nl\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 7bit\r\n"
    "\r\n"
    "See attached.\r\n"
    "--=_m_fMoeGK2VBC7wB7TQdo2BF5Nl\r\n"
    "Content-Type: application/pdf; name=\"report.pdf\"\r\n"
    "Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "JVBERi0xLjQKJeLjz9MKMSAwIG9iago=\r\n"
    "--=_m_fMoeGK2VBC7wB7TQdo2BF5Nl--\r\n",
    /* golden 3 */
    "Date: Tue, 14 Nov 2023 23:13:20 +0100\r\n"
    "From: Alice Example <alice@example.org>\r\n"
    "To: bob@example.net\r\n"
    "Subject: Newsletter\r\n"
    "Message-ID: <sg7pq4lrypqiksolm6nhjb3pfi@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; "
    "boundary=\"=_m_fMoeGK2VBC7wB7TQdo2BF5Nl\"\r\n"
    "\r\n"
    "--=_m_fMoeGK2VBC7wB7TQdo2BF5Nl\r\n"
    "Content-Type: multipart/alternative; "
    "boundary=\"=_a_fMoeGK2VBC7wB7TQdo2BF5Nl\"\r\n"
    "\r\n"
    "--=_a_fMoeGK2VBC7wB7TQdo2BF5Nl\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 7bit\r\n"
    "\r\n"
    "Our logo.\r\n"
    "\r\n"
    "--=_a_fMoeGK2VBC7wB7TQdo2BF5Nl\r\n"
    "Content-Type: multipart/related; type=\"text/html\";\r\n"
    " boundary=\"=_r_fMoeGK2VBC7wB7TQdo2BF5Nl\"\r\n"
    "\r\n"
    "--=_r_fMoeGK2VBC7wB7TQdo2BF5Nl\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 7bit\r\n"
    "\r\n"
    "<img src=\"cid:logo@example.org\">\r\n"
    "\r\n"
    "--=_r_fMoeGK2VBC7wB7TQdo2BF5Nl\r\n"
    "Content-Type: image/png; name=\"logo.png\"\r\n"
    "Content-Disposition: inline; filename=\"logo.png\"\r\n"
    "Content-ID: <logo@example.org>\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "iVBORw0KGgoAAAAN\r\n"
    "--=_r_fMoeGK2VBC7wB7TQdo2BF5Nl--\r\n"
    "--=_a_fMoeGK2VBC7wB7TQdo2BF5Nl--\r\n"
    "--=_m_fMoeGK2VBC7wB7TQdo2BF5Nl\r\n"
    "Content-Type: text/csv; name=\"data.csv\"\r\n"
    "Content-Disposition: attachment; filename=\"data.csv\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "YSxiCjEsMgo=\r\n"
    "--=_m_fMoeGK2VBC7wB7TQdo2BF5Nl--\r\n",
    /* golden 4 */
    "Date: Tue, 14 Nov 2023 23:13:20 +0100\r\n"
    "From: =?UTF-8?B?SsO2cmcgTcO8bGxlcg==?= <joerg@example.org>\r\n"
    "To: =?UTF-8?B?5bGx55SwIOWkqumDjg==?= <taro@example.jp>\r\n"
    "Cc: =?UTF-8?B?Wm/DqyBPJ0JyaWVuLCBFc3Eu?= <zoe@example.ie>\r\n"
    "Subject: =?UTF-8?B?R3LDvMOfZQ==?= aus =?UTF-8?B?S8O2bG46IOKCrA==?= 100\r\n"
    " =?UTF-8?Q?f=C3=BCr?= alle Teilnehmer des Workshops "
    "=?UTF-8?B?8J+OiQ==?=\r\n"
    "Message-ID: <sg7pq4lrypqiksolm6nhjb3pfi@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; "
    "boundary=\"=_m_fMoeGK2VBC7wB7TQdo2BF5Nl\"\r\n"
    "\r\n"
    "--=_m_fMoeGK2VBC7wB7TQdo2BF5Nl\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Sch=C3=B6ne Gr=C3=BC=C3=9Fe!\r\n"
    "\r\n"
    "--=_m_fMoeGK2VBC7wB7TQdo2BF5Nl\r\n"
    "Content-Type: "
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet;\r\n"
    " name*0*=UTF-8''%C3%9Cbersicht%20der%20Ausgaben%20f%C3%BCr%20das%20Gesch;"
    "\r\n"
    " name*1*=%C3%A4ftsjahr%202023%20%28endg%C3%BCltig%29.xlsx\r\n"
    "Content-Disposition: attachment;\r\n"
    " filename*0*=UTF-8''%C3%9Cbersicht%20der%20Ausgaben%20f%C3%BCr%20das%"
    "20Gesc;\r\n"
    " filename*1*=h%C3%A4ftsjahr%202023%20%28endg%C3%BCltig%29.xlsx\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "eA==\r\n"
    "--=_m_fMoeGK2VBC7wB7TQdo2BF5Nl--\r\n",
    /* golden 5 */
    "Date: Tue, 14 Nov 2023 23:13:20 +0100\r\n"
    "From: Alice Example <alice@example.org>\r\n"
    "Sender: bounces@example.org\r\n"
    "Reply-To: Help Desk <help@example.org>\r\n"
    "To: bob@example.net\r\n"
    "Subject: Headers\r\n"
    "Message-ID: <12345.abc@example.org>\r\n"
    "X-Priority: 1\r\n"
    "List-Unsubscribe: "
    "<mailto:unsubscribe@example.org?subject=unsubscribe>,\r\n"
    " <https://example.org/unsubscribe?id=0123456789abcdef>\r\n"
    "X-Comment: =?UTF-8?B?Y2Fmw6kgY3LDqG1l?=\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 7bit\r\n"
    "\r\n"
    "Body.\r\n",
    /* golden 6 */
    "Date: Tue, 14 Nov 2023 23:13:20 +0100\r\n"
    "From: Alice Example <alice@example.org>\r\n"
    "To: bob@example.net\r\n"
    "Message-ID: <sg7pq4lrypqiksolm6nhjb3pfi@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; "
    "boundary=\"=_a_fMoeGK2VBC7wB7TQdo2BF5Nl\"\r\n"
    "\r\n"
    "--=_a_fMoeGK2VBC7wB7TQdo2BF5Nl\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Gr\xc3"
    "\xbc"
    "\xc3"
    "\x9f"
    "e\r\n"
    "\r\n"
    "--=_a_fMoeGK2VBC7wB7TQdo2BF5Nl\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "<p>A line that is longer than seventy-eight octets, so it goes out "
    "quoted-p=\r\n"
    "rintable =3D fine.</p> =20\r\n"
    "\r\n"
    "--=_a_fMoeGK2VBC7wB7TQdo2BF5Nl--\r\n",
    /* golden 7 */
    "Date: Tue, 14 Nov 2023 23:13:20 +0100\r\n"
    "From: Alice Example <alice@example.org>\r\n"
    "To: bob@example.net\r\n"
    "Message-ID: <sg7pq4lrypqiksolm6nhjb3pfi@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; "
    "boundary=\"=_m_fMoeGK2VBC7wB7TQdo2BF5Nl\"\r\n"
    "\r\n"
    "--=_m_fMoeGK2VBC7wB7TQdo2BF5Nl\r\n"
    "Content-Type: application/octet-stream; name=\"empty.bin\"\r\n"
    "Content-Disposition: attachment; filename=\"empty.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "\r\n"
    "--=_m_fMoeGK2VBC7wB7TQdo2BF5Nl\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "Content-Disposition: attachment\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzND"
    "U2\r\n"
    "Nzg5MA==\r\n"
    "--=_m_fMoeGK2VBC7wB7TQdo2BF5Nl--\r\n",
};

static void dump_literal(FILE *f, int i, const tu_bytes *b) {
  size_t k;
  fprintf(f, "/* golden %d */\n\"", i);
  for (k = 0; k < b->n; k++) {
    unsigned char c = b->p[k];
    if (c == '\n') {
      fputs("\\n\"\n\"", f);
    } else if (c == '\r') {
      fputs("\\r", f);
    } else if (c == '"' || c == '\\') {
      fprintf(f, "\\%c", c);
    } else if (c < 32 || c >= 127) {
      fprintf(f, "\\x%02x\"\"", c);
    } else {
      fputc(c, f);
    }
  }
  fputs("\",\n", f);
}

START_TEST(golden_structures) {
  smtpc_msg *m = new_msg();
  tu_bytes out = {0};
  golden_build(_i, m);
  body_bytes(m, 4096, &out);
  if (getenv("SMTPC_MIME_GOLDEN_DUMP") != NULL) {
    dump_literal(stderr, _i, &out);
  } else {
    ck_assert_int_lt(_i, (int)(sizeof(golden) / sizeof(golden[0])));
    TU_ASSERT_BYTES_STR(out.p, out.n, golden[_i]);
  }
  /* a type token longer than the first line stays on it (case 4) */
  check_lines(&out, _i == 4 ? 82 : 78, _i == 4 ? 82 : 78);
  tu_bytes_free(&out);
  smtpc_msg_free(m);
}
END_TEST

/* Every chunk size 1..300 (and some large ones) gives the same bytes. */
START_TEST(golden_chunk_invariance) {
  static const size_t big[] = {4095, 4096, 4097, 8191, 8192, 8193, 65536};
  smtpc_msg *m = new_msg();
  tu_bytes ref = {0};
  size_t c;
  golden_build(_i, m);
  body_bytes(m, 1 << 20, &ref);
  for (c = 1; c <= 300 + sizeof(big) / sizeof(big[0]); c++) {
    tu_bytes out = {0};
    size_t chunk = c <= 300 ? c : big[c - 301];
    body_bytes(m, chunk, &out);
    if (out.n != ref.n || memcmp(out.p, ref.p, ref.n) != 0) {
      char msg[2048];
      tu_bytes_diff(msg, sizeof(msg), ref.p, ref.n, out.p, out.n);
      ck_abort_msg("chunk %zu: %s", chunk, msg);
    }
    tu_bytes_free(&out);
  }
  tu_bytes_free(&ref);
  smtpc_msg_free(m);
}
END_TEST

/* smtpc_msg_set_buffer_size() changes how much a read returns, never the
 * bytes: every golden message is the same with buffers of 64 bytes up. */
START_TEST(golden_buffer_sizes) {
  static const size_t sizes[] = {64, 65, 113, 114, 128, 1000, 0};
  smtpc_msg *m = new_msg();
  tu_bytes ref = {0};
  size_t k;
  golden_build(_i, m);
  body_bytes(m, 1 << 20, &ref);
  smtpc_msg_free(m);
  for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
    tu_bytes out = {0};
    m = new_msg();
    ck_assert_int_eq(smtpc_msg_set_buffer_size(m, sizes[k]), SMTPC_OK);
    golden_build(_i, m);
    body_bytes(m, (k & 1) ? 7 : 4096, &out);
    TU_ASSERT_BYTES(out.p, out.n, ref.p, ref.n);
    tu_bytes_free(&out);
    smtpc_msg_free(m);
  }
  tu_bytes_free(&ref);
}
END_TEST

/* The two buffers of a body are the size asked for: the heap a body takes
 * and the most a stream attachment is asked for at once follow it. */
START_TEST(buffer_size_bounds_heap) {
  static const struct {
    size_t size, stream_ask;
  } c[] = {{64, 57}, {128, 114}, {1000, 969}, {0, 32718}};
  unsigned char *data = make_bin(5000, 3);
  size_t k;
  for (k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
    tu_alloc a;
    smtpc_msg *m;
    smtpc_body b;
    mstream st;
    tu_bytes o = {0};
    size_t before, size = c[k].size != 0 ? c[k].size : 32768;
    tu_alloc_init(&a, 0);
    memset(&st, 0, sizeof(st));
    st.p = data;
    st.n = 5000;
    ck_assert_int_eq(smtpc_msg_new(&m, &a.mem), SMTPC_OK);
    ck_assert_int_eq(smtpc_msg_set_seed(m, 1), SMTPC_OK);
    ck_assert_int_eq(smtpc_msg_set_date(m, 1700000000, 0), SMTPC_OK);
    ck_assert_int_eq(smtpc_msg_set_from(m, NULL, "a@example.org"), SMTPC_OK);
    ck_assert_int_eq(smtpc_msg_set_buffer_size(m, c[k].size), SMTPC_OK);
    ck_assert_int_eq(
        smtpc_msg_add_attachment_stream(m, ms_read, &st, 5000, "d.bin", NULL),
        SMTPC_OK);
    /* build the program first, so that the difference is the reader's */
    ck_assert_int_eq(smtpc_msg_envelope(m, &(const char *){NULL},
                                        &(const char *const *){NULL},
                                        &(size_t){0}),
                     SMTPC_OK);
    before = a.live_bytes;
    ck_assert_int_eq(smtpc_msg_body(m, &b), SMTPC_OK);
    ck_assert_msg(a.live_bytes - before >= 2 * size - 57 &&
                      a.live_bytes - before <= 2 * size + 4096,
                  "size %zu: body took %zu bytes", size, a.live_bytes - before);
    ck_assert_int_eq(read_all(&b, 300, &o), 0);
    ck_assert_uint_eq(st.max_len, c[k].stream_ask);
    ck_assert_uint_eq(st.pos, 5000);
    tu_bytes_free(&o);
    smtpc_msg_free(m);
    TU_ASSERT_NO_LEAKS(&a);
  }
  ck_assert_int_eq(smtpc_msg_set_buffer_size(NULL, 128),
                   SMTPC_ERR_INVALID_ARGUMENT);
  {
    smtpc_msg *m = new_msg();
    ck_assert_int_eq(smtpc_msg_set_buffer_size(m, 63),
                     SMTPC_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(smtpc_msg_set_buffer_size(m, ((size_t)1 << 24) + 1),
                     SMTPC_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(smtpc_msg_set_buffer_size(m, (size_t)1 << 24), SMTPC_OK);
    smtpc_msg_free(m);
  }
  free(data);
}
END_TEST

/* ---- quoted-printable ---------------------------------------------------- */

/* Encodes in[0..n) feeding `chunk` bytes at a time (0 = all) into output
 * space of `cap` bytes per call. */
static void qp_run(const void *input, size_t n, size_t chunk, size_t cap,
                   tu_bytes *out) {
  const unsigned char *in = input;
  unsigned char *buf = malloc(cap);
  smtpc__qp q;
  size_t pos = 0;
  long spins = 0;
  ck_assert_ptr_nonnull(buf);
  smtpc__qp_init(&q);
  while (pos < n) {
    size_t k = n - pos, used = 0, w;
    if (chunk > 0 && k > chunk)
      k = chunk;
    w = smtpc__qp_encode(&q, in + pos, k, &used, buf, cap);
    TU_CHECK(w <= cap, "wrote %zu into %zu", w, cap);
    TU_CHECK(used <= k, "used %zu of %zu", used, k);
    TU_CHECK(w > 0 || used > 0, "no progress");
    TU_CHECK(++spins < 10000000L, "loops");
    tu_bytes_append(out, buf, w);
    pos += used;
  }
  {
    size_t w = smtpc__qp_finish(&q, buf);
    TU_CHECK(w <= SMTPC__ENC_RESERVE, "finish wrote %zu", w);
    tu_bytes_append(out, buf, w);
  }
  free(buf);
}

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Strict decoder and validator of the encoder's output. */
static void qp_check_decode(const tu_bytes *e, tu_bytes *dec) {
  size_t i = 0, col = 0;
  while (i < e->n) {
    unsigned char c = e->p[i];
    if (c == '\r') {
      TU_CHECK(i + 1 < e->n && e->p[i + 1] == '\n', "bare CR");
      TU_CHECK(i == 0 || (e->p[i - 1] != ' ' && e->p[i - 1] != '\t'),
               "white space at line end");
      tu_bytes_append(dec, "\r\n", 2);
      i += 2;
      col = 0;
      continue;
    }
    TU_CHECK(c != '\n', "bare LF");
    if (c == '=') {
      TU_CHECK(i + 2 < e->n, "truncated =");
      if (e->p[i + 1] == '\r') {
        TU_CHECK(e->p[i + 2] == '\n', "soft break without LF");
        TU_CHECK(col + 1 <= SMTPC__QP_LINE, "line of %zu", col + 1);
        i += 3;
        col = 0;
        continue;
      }
      TU_CHECK(hexval(e->p[i + 1]) >= 0 && hexval(e->p[i + 2]) >= 0,
               "bad escape %s", tu_escape(e->p + i, 3));
      {
        unsigned char v =
            (unsigned char)(hexval(e->p[i + 1]) * 16 + hexval(e->p[i + 2]));
        /* only what must be encoded is */
        TU_CHECK(!(v >= 33 && v <= 126 && v != '='), "needless =%02X", v);
        tu_bytes_append(dec, &v, 1);
      }
      i += 3;
      col += 3;
    } else {
      TU_CHECK((c >= 33 && c <= 126) || c == ' ' || c == '\t', "raw octet %02x",
               c);
      tu_bytes_append(dec, &c, 1);
      i++;
      col++;
    }
    TU_CHECK(col <= SMTPC__QP_LINE, "line over 76 at %zu", i);
  }
  TU_CHECK(e->n == 0 || (e->p[e->n - 1] != ' ' && e->p[e->n - 1] != '\t'),
           "white space at the end");
  TU_CHECK(!contains(e, "=_"), "=_ in quoted-printable output");
}

/* CRLF, LF and lone CR all become CRLF. */
static void normalise(const unsigned char *in, size_t n, tu_bytes *out) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (in[i] == '\r' || in[i] == '\n') {
      if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n')
        i++;
      tu_bytes_append(out, "\r\n", 2);
    } else {
      tu_bytes_append(out, in + i, 1);
    }
  }
}

static const struct {
  const char *in;
  const char *out;
} qp_cases[] = {
    {"", ""},
    {"abc", "abc"},
    {"a=b", "a=3Db"},
    {"a b", "a b"},
    {"a ", "a=20"},
    {"a\t", "a=09"},
    {"a \n", "a=20\r\n"},
    {"a\t\r\nb", "a=09\r\nb"},
    {"a  b  ", "a  b =20"},
    {"a \rb", "a=20\r\nb"},
    {"\n", "\r\n"},
    {"\r", "\r\n"},
    {"\r\n", "\r\n"},
    {"\r\r\n\n", "\r\n\r\n\r\n"},
    {"caf\xc3\xa9", "caf=C3=A9"},
    {"\x7f\x01~!", "=7F=01~!"},
    {"=_boundary", "=3D_boundary"},
    {".\n..", ".\r\n.."},
    {"From here", "From here"},
    /* 75 characters fit; the 76th needs a soft break */
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aa",
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aa"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aab",
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aa="
     "\r\nb"},
    /* an escape is never split: 73 + 3 > 75 */
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "=",
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "="
     "\r\n=3D"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "=",
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa="
     "3D"},
    /* a space before a soft break stays literal (it is not at a line end) */
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "a bb",
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "a =\r\n"
     "bb"},
};

START_TEST(qp_table) {
  const char *in = qp_cases[_i].in;
  size_t n = strlen(in), chunk, cap;
  tu_bytes ref = {0}, dec = {0}, norm = {0};
  qp_run(in, n, 0, 4096, &ref);
  TU_ASSERT_BYTES_STR(ref.p, ref.n, qp_cases[_i].out);
  for (chunk = 0; chunk <= 7; chunk++)
    for (cap = SMTPC__ENC_RESERVE; cap <= SMTPC__ENC_RESERVE + 9; cap++) {
      tu_bytes o = {0};
      qp_run(in, n, chunk, cap, &o);
      TU_ASSERT_BYTES(o.p, o.n, ref.p, ref.n);
      tu_bytes_free(&o);
    }
  qp_check_decode(&ref, &dec);
  normalise((const unsigned char *)in, n, &norm);
  TU_ASSERT_BYTES(dec.p, dec.n, norm.p, norm.n);
  tu_bytes_free(&ref);
  tu_bytes_free(&dec);
  tu_bytes_free(&norm);
}
END_TEST

START_TEST(qp_nul_with_explicit_length) {
  static const unsigned char in[] = {'a', 0, 'b'};
  tu_bytes o = {0};
  qp_run(in, 3, 0, 64, &o);
  TU_ASSERT_BYTES_STR(o.p, o.n, "a=00b");
  tu_bytes_free(&o);
}
END_TEST

/* Random inputs over an alphabet rich in edge cases: the output decodes to
 * the normalised input, obeys the line rules, and does not depend on the
 * chunking. */
START_TEST(qp_random_property) {
  static const unsigned char alpha[] = {'a', ' ', '\t', '\r', '\n', '=',
                                        '_', 0,   0xc3, 0xff, '.',  '-'};
  unsigned long rng = 12345;
  int iter;
  for (iter = 0; iter < 400; iter++) {
    size_t n = rng_next(&rng) % 400, i;
    unsigned char *in = malloc(n + 1);
    tu_bytes ref = {0}, o = {0}, dec = {0}, norm = {0};
    ck_assert_ptr_nonnull(in);
    for (i = 0; i < n; i++)
      in[i] = (rng_next(&rng) % 3 == 0) ? alpha[rng_next(&rng) % sizeof(alpha)]
                                        : (unsigned char)('a' + i % 26);
    qp_run(in, n, 0, 1 << 16, &ref);
    qp_run(in, n, 1 + rng_next(&rng) % 13,
           SMTPC__ENC_RESERVE + rng_next(&rng) % 40, &o);
    TU_ASSERT_BYTES(o.p, o.n, ref.p, ref.n);
    qp_check_decode(&ref, &dec);
    normalise(in, n, &norm);
    TU_ASSERT_BYTES(dec.p, dec.n, norm.p, norm.n);
    free(in);
    tu_bytes_free(&ref);
    tu_bytes_free(&o);
    tu_bytes_free(&dec);
    tu_bytes_free(&norm);
  }
}
END_TEST

START_TEST(crlf_normaliser) {
  static const char *const ins[] = {"",     "a",          "a\nb", "a\r\nb",
                                    "a\rb", "\r\r\n\n\r", "x\r"};
  size_t k;
  for (k = 0; k < sizeof(ins) / sizeof(ins[0]); k++) {
    size_t n = strlen(ins[k]), chunk, cap;
    tu_bytes norm = {0};
    normalise((const unsigned char *)ins[k], n, &norm);
    for (chunk = 1; chunk <= 4; chunk++)
      for (cap = 2; cap <= 6; cap++) {
        tu_bytes o = {0};
        unsigned char *buf = malloc(cap);
        smtpc__crlf c;
        size_t pos = 0;
        smtpc__crlf_init(&c);
        while (pos < n) {
          size_t used, take = n - pos < chunk ? n - pos : chunk;
          size_t w = smtpc__crlf_encode(&c, (const unsigned char *)ins[k] + pos,
                                        take, &used, buf, cap);
          ck_assert(w > 0 || used > 0);
          tu_bytes_append(&o, buf, w);
          pos += used;
        }
        TU_ASSERT_BYTES(o.p, o.n, norm.p, norm.n);
        free(buf);
        tu_bytes_free(&o);
      }
    tu_bytes_free(&norm);
  }
}
END_TEST

/* ---- base64 -------------------------------------------------------------- */

static void b64_ref(const unsigned char *in, size_t n, tu_bytes *out) {
  size_t el = smtpc__b64_encoded_len(n), i;
  char *e = malloc(el + 1);
  ck_assert_ptr_nonnull(e);
  smtpc__b64_encode(in, n, e);
  for (i = 0; i < el; i += 76) {
    if (i > 0)
      tu_bytes_append(out, "\r\n", 2);
    tu_bytes_append(out, e + i, el - i < 76 ? el - i : 76);
  }
  free(e);
}

static void b64_run(const unsigned char *in, size_t n, size_t chunk, size_t cap,
                    tu_bytes *out) {
  unsigned char *buf = malloc(cap);
  smtpc__b64s s;
  size_t pos = 0;
  long spins = 0;
  ck_assert_ptr_nonnull(buf);
  smtpc__b64s_init(&s);
  while (pos < n) {
    size_t k = n - pos, used = 0, w;
    if (chunk > 0 && k > chunk)
      k = chunk;
    w = smtpc__b64s_encode(&s, in + pos, k, &used, buf, cap);
    TU_CHECK(w <= cap && used <= k && (w > 0 || used > 0), "bad step");
    TU_CHECK(++spins < 10000000L, "loops");
    tu_bytes_append(out, buf, w);
    pos += used;
  }
  tu_bytes_append(out, buf, smtpc__b64s_finish(&s, buf));
  free(buf);
}

START_TEST(b64_sizes) {
  static const size_t sizes[] = {0,   1,    2,    3,    4,    56,   57,
                                 58,  59,   76,   77,   113,  114,  115,
                                 171, 1000, 4103, 4104, 4105, 65537};
  size_t k;
  for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
    size_t n = sizes[k], i;
    unsigned char *in = make_bin(n, n + 1);
    tu_bytes ref = {0}, o = {0};
    b64_ref(in, n, &ref);
    b64_run(in, n, 0, 1 << 20, &o);
    TU_ASSERT_BYTES(o.p, o.n, ref.p, ref.n);
    ck_assert_int_eq(smtpc__b64s_size((int64_t)n), (int64_t)ref.n);
    for (i = 0; i < ref.n; i++)
      TU_CHECK(ref.p[i] != '_' && ref.p[i] != '-', "boundary character");
    tu_bytes_free(&o);
    if (n <= 1000) {
      size_t chunk, cap;
      for (chunk = 1; chunk <= 8; chunk++)
        for (cap = SMTPC__ENC_RESERVE; cap <= 100; cap += 7) {
          tu_bytes c = {0};
          b64_run(in, n, chunk, cap, &c);
          TU_ASSERT_BYTES(c.p, c.n, ref.p, ref.n);
          tu_bytes_free(&c);
        }
    }
    check_lines(&ref, 76, 76);
    free(in);
    tu_bytes_free(&ref);
  }
  ck_assert_int_eq(smtpc__b64s_size(-1), -1);
  ck_assert_int_eq(smtpc__b64s_size(INT64_MAX), -1);
}
END_TEST

/* ---- the reader ---------------------------------------------------------- */

/* Streams with random chunking and would-block give the same message as
 * memory, for every read size. */
START_TEST(reader_stream_equals_memory) {
  size_t n = 20000, c;
  unsigned char *data = make_bin(n, 7);
  smtpc_msg *mm = new_msg(), *ms;
  tu_bytes ref = {0};
  ck_assert_int_eq(smtpc_msg_set_text(mm, "text", SIZE_MAX), 0);
  ck_assert_int_eq(smtpc_msg_add_attachment_memory(mm, data, n, "d.bin", NULL),
                   0);
  body_bytes(mm, 4096, &ref);
  for (c = 1; c <= 130; c += (c < 20 ? 1 : 9)) {
    mstream st;
    tu_bytes o = {0};
    smtpc_body b;
    memset(&st, 0, sizeof(st));
    st.p = data;
    st.n = n;
    st.rng = c;
    st.block = (int)(c & 1);
    ms = new_msg();
    ck_assert_int_eq(smtpc_msg_set_text(ms, "text", SIZE_MAX), 0);
    ck_assert_int_eq(smtpc_msg_add_attachment_stream(ms, ms_read, &st,
                                                     (c & 2) ? -1 : (int64_t)n,
                                                     "d.bin", NULL),
                     0);
    ck_assert_int_eq(smtpc_msg_body(ms, &b), 0);
    ck_assert(b.size == ((c & 2) ? -1 : (int64_t)ref.n));
    ck_assert_int_eq(read_all(&b, c, &o), 0);
    TU_ASSERT_BYTES(o.p, o.n, ref.p, ref.n);
    /* a stream is read once */
    ck_assert_int_eq(smtpc_msg_body(ms, &b), SMTPC_ERR_INVALID_STATE);
    tu_bytes_free(&o);
    smtpc_msg_free(ms);
  }
  tu_bytes_free(&ref);
  smtpc_msg_free(mm);
  free(data);
}
END_TEST

START_TEST(reader_would_block_passthrough) {
  mstream st;
  smtpc_msg *m = new_msg();
  smtpc_body b;
  unsigned char buf[64];
  smtpc_ssize r;
  long blocked = 0, spins = 0;
  memset(&st, 0, sizeof(st));
  st.p = (const unsigned char *)"abc";
  st.n = 3;
  st.block = 1;
  ck_assert_int_eq(
      smtpc_msg_add_attachment_stream(m, ms_read, &st, 3, NULL, NULL), 0);
  ck_assert_int_eq(smtpc_msg_body(m, &b), 0);
  do { /* one byte at a time: the stream is reached with nothing to return */
    r = b.read(b.ctx, buf, 1);
    if (r == SMTPC_ERR_WANT_READ)
      blocked++;
    ck_assert(++spins < 100000);
  } while (r != 0 && (r > 0 || r == SMTPC_ERR_WANT_READ));
  ck_assert_int_eq((int)r, 0);
  ck_assert_int_gt(blocked, 0);
  smtpc_msg_free(m);
}
END_TEST

START_TEST(reader_stream_errors) {
  /* size mismatch (shorter, longer), error passthrough */
  static const struct {
    int64_t declared;
    size_t actual;
    int fail;
    int want;
  } c[] = {{10, 9, 0, SMTPC_ERR_CALLBACK},
           {10, 11, 0, SMTPC_ERR_CALLBACK},
           {-1, 5, SMTPC_ERR_IO, SMTPC_ERR_IO},
           {5, 5, SMTPC_ERR_TIMEOUT, SMTPC_ERR_TIMEOUT}};
  size_t k;
  for (k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
    mstream st;
    smtpc_msg *m = new_msg();
    smtpc_body b;
    tu_bytes o = {0};
    unsigned char one;
    memset(&st, 0, sizeof(st));
    st.p = (const unsigned char *)"0123456789abcdef";
    st.n = c[k].actual;
    st.fail_at_end = c[k].fail;
    ck_assert_int_eq(smtpc_msg_add_attachment_stream(m, ms_read, &st,
                                                     c[k].declared, "x", NULL),
                     0);
    ck_assert_int_eq(smtpc_msg_body(m, &b), 0);
    ck_assert_int_eq(read_all(&b, 7, &o), c[k].want);
    /* sticky */
    ck_assert_int_eq((int)b.read(b.ctx, &one, 1), c[k].want);
    tu_bytes_free(&o);
    smtpc_msg_free(m);
  }
  /* a stream that claims more than the buffer holds */
  {
    mstream st;
    smtpc_msg *m = new_msg();
    smtpc_body b;
    tu_bytes o = {0};
    memset(&st, 0, sizeof(st));
    st.p = (const unsigned char *)"abc";
    st.n = 3;
    st.overflow = 1;
    ck_assert_int_eq(
        smtpc_msg_add_attachment_stream(m, ms_read, &st, -1, NULL, NULL), 0);
    ck_assert_int_eq(smtpc_msg_body(m, &b), 0);
    ck_assert_int_eq(read_all(&b, 100, &o), SMTPC_ERR_CALLBACK);
    tu_bytes_free(&o);
    smtpc_msg_free(m);
  }
}
END_TEST

START_TEST(reader_files) {
  fakefs fs;
  smtpc_msg_platform p;
  smtpc_msg *m = new_msg();
  unsigned char *data = make_bin(5000, 3);
  tu_bytes a = {0}, b2 = {0}, ref = {0};
  smtpc_msg *mm = new_msg();
  smtpc_body b;
  memset(&fs, 0, sizeof(fs));
  fs.path = "/data/report.pdf";
  fs.data = data;
  fs.n = 5000;
  fake_platform(&p, &fs);
  ck_assert_int_eq(smtpc_msg_set_platform(m, &p), 0);
  ck_assert_int_eq(smtpc_msg_add_attachment_file(m, "/nope", NULL, NULL),
                   SMTPC_ERR_IO);
  ck_assert_int_eq(smtpc_msg_add_attachment_file(m, fs.path, NULL, NULL), 0);
  ck_assert_int_eq(fs.opens, 1);
  ck_assert_int_eq(fs.closes, 1);
  /* same as memory with the base name and a guessed type */
  ck_assert_int_eq(
      smtpc_msg_add_attachment_memory(mm, data, 5000, "report.pdf", NULL), 0);
  body_bytes(mm, 999, &ref);
  body_bytes(m, 999, &a);
  TU_ASSERT_BYTES(a.p, a.n, ref.p, ref.n);
  ck_assert(contains(&a, "Content-Type: application/pdf; name=\"report.pdf\""));
  /* a file is read again for every body */
  body_bytes(m, 4096, &b2);
  TU_ASSERT_BYTES(b2.p, b2.n, ref.p, ref.n);
  ck_assert_int_eq(fs.opens, 3);
  ck_assert_int_eq(fs.closes, 3);
  /* the file grew since it was added: SMTPC_ERR_IO, not a wrong size */
  fs.grow_after = 3;
  tu_bytes_free(&a);
  ck_assert_int_eq(smtpc_msg_body(m, &b), 0);
  ck_assert_int_eq(read_all(&b, 100, &a), SMTPC_ERR_IO);
  ck_assert_int_eq(fs.opens, fs.closes);
  fs.grow_after = 0;
  fs.read_error = 1;
  tu_bytes_free(&a);
  ck_assert_int_eq(smtpc_msg_body(m, &b), 0);
  ck_assert_int_eq(read_all(&b, 100, &a), SMTPC_ERR_IO);
  ck_assert_int_eq(fs.opens, fs.closes);
  /* the file disappears between smtpc_msg_add_*() and the read */
  fs.read_error = 0;
  fs.path = "/data/moved.pdf";
  tu_bytes_free(&a);
  ck_assert_int_eq(smtpc_msg_body(m, &b), 0);
  ck_assert_int_eq(read_all(&b, 100, &a), SMTPC_ERR_IO);
  ck_assert_int_eq(fs.opens, fs.closes);
  fs.path = "/data/report.pdf";
  /* freeing in the middle of a file closes it */
  fs.read_error = 0;
  {
    unsigned char buf[2000];
    ck_assert_int_eq(smtpc_msg_body(m, &b), 0);
    ck_assert_int_gt((int)b.read(b.ctx, buf, sizeof(buf)), 0);
    ck_assert_int_gt((int)b.read(b.ctx, buf, sizeof(buf)), 0);
  }
  smtpc_msg_free(m);
  ck_assert_int_eq(fs.opens, fs.closes);
  /* inline files; a path ending in '/' gives no file name */
  {
    smtpc_msg *mi = new_msg();
    tu_bytes o = {0};
    ck_assert_int_eq(smtpc_msg_set_platform(mi, &p), 0);
    ck_assert_int_eq(smtpc_msg_set_html(mi, "<img src=cid:i@x>", SIZE_MAX), 0);
    ck_assert_int_eq(
        smtpc_msg_add_inline_file(mi, fs.path, NULL, "image/png", "i@x"), 0);
    body_bytes(mi, 4096, &o);
    ck_assert(contains(&o, "Content-Type: image/png; name=\"report.pdf\"\r\n"
                           "Content-Disposition: inline; "
                           "filename=\"report.pdf\"\r\n"
                           "Content-ID: <i@x>\r\n"));
    tu_bytes_free(&o);
    smtpc_msg_free(mi);
    mi = new_msg();
    ck_assert_int_eq(smtpc_msg_set_platform(mi, &p), 0);
    fs.path = "/dir/";
    ck_assert_int_eq(smtpc_msg_add_attachment_file(mi, fs.path, NULL, NULL), 0);
    body_bytes(mi, 4096, &o);
    ck_assert(contains(&o, "Content-Type: application/octet-stream\r\n"
                           "Content-Disposition: attachment\r\n"));
    tu_bytes_free(&o);
    smtpc_msg_free(mi);
    fs.path = "/data/report.pdf";
  }
  smtpc_msg_free(mm);
  free(data);
  tu_bytes_free(&a);
  tu_bytes_free(&b2);
  tu_bytes_free(&ref);
}
END_TEST

/* The POSIX default hooks on a real file. */
START_TEST(reader_posix_file) {
  char path[] = "/tmp/check_mime_XXXXXX";
  int fd = mkstemp(path);
  unsigned char *data = make_bin(100000, 9);
  smtpc_msg *m = new_msg(), *mm = new_msg();
  tu_bytes a = {0}, ref = {0};
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq((int)write(fd, data, 100000), 100000);
  close(fd);
  ck_assert_int_eq(smtpc_msg_add_attachment_file(m, path, "x.bin", NULL), 0);
  ck_assert_int_eq(
      smtpc_msg_add_attachment_memory(mm, data, 100000, "x.bin", NULL), 0);
  body_bytes(m, 3000, &a);
  body_bytes(mm, 3000, &ref);
  TU_ASSERT_BYTES(a.p, a.n, ref.p, ref.n);
  unlink(path);
  ck_assert_int_eq(smtpc_msg_add_attachment_file(m, path, NULL, NULL),
                   SMTPC_ERR_IO);
  ck_assert_int_eq(smtpc_msg_add_attachment_file(m, "/tmp", NULL, NULL),
                   SMTPC_ERR_IO);
  smtpc_msg_free(m);
  smtpc_msg_free(mm);
  free(data);
  tu_bytes_free(&a);
  tu_bytes_free(&ref);
}
END_TEST

START_TEST(reader_stale_and_reread) {
  smtpc_msg *m = new_msg();
  smtpc_body b;
  tu_bytes a = {0}, a2 = {0};
  unsigned char buf[16];
  ck_assert_int_eq(smtpc_msg_set_text(m, "one", SIZE_MAX), 0);
  body_bytes(m, 5, &a);
  body_bytes(m, 7, &a2);
  TU_ASSERT_BYTES(a2.p, a2.n, a.p, a.n);
  /* the generated Message-ID and date stay */
  ck_assert_ptr_nonnull(smtpc_msg_message_id(m));
  ck_assert_int_eq(smtpc_msg_body(m, &b), 0);
  ck_assert_int_eq(smtpc_msg_set_text(m, "two", SIZE_MAX), 0);
  ck_assert_int_eq((int)b.read(b.ctx, buf, sizeof(buf)),
                   SMTPC_ERR_INVALID_STATE);
  tu_bytes_free(&a2);
  body_bytes(m, 7, &a2);
  ck_assert(contains(&a2, "\r\n\r\ntwo\r\n"));
  ck_assert_uint_eq(a2.n, a.n);
  smtpc_msg_free(m);
  tu_bytes_free(&a);
  tu_bytes_free(&a2);
}
END_TEST

/* One message, two bodies (two transactions): each reads the whole message,
 * with its own position and its own file handle. */
START_TEST(reader_concurrent_bodies) {
  fakefs fs;
  smtpc_msg_platform p;
  smtpc_msg *m = new_msg();
  unsigned char *data = make_bin(70000, 5);
  smtpc_body b1, b2;
  tu_bytes o1 = {0}, o2 = {0}, ref = {0};
  unsigned char buf[777];
  int end1 = 0, end2 = 0, open_peak = 0;
  long spins = 0;
  memset(&fs, 0, sizeof(fs));
  fs.path = "/f.bin";
  fs.data = data;
  fs.n = 70000;
  fake_platform(&p, &fs);
  ck_assert_int_eq(smtpc_msg_set_platform(m, &p), 0);
  ck_assert_int_eq(smtpc_msg_set_text(m, "two bodies", SIZE_MAX), 0);
  ck_assert_int_eq(smtpc_msg_add_attachment_file(m, "/f.bin", NULL, NULL), 0);
  ck_assert_int_eq(
      smtpc_msg_add_attachment_memory(m, data, 5000, "m.bin", NULL), 0);
  body_bytes(m, 4096, &ref);
  ck_assert_int_eq(smtpc_msg_body(m, &b1), 0);
  ck_assert_int_eq(smtpc_msg_body(m, &b2), 0);
  ck_assert(b1.ctx != b2.ctx);
  ck_assert(b1.size == (int64_t)ref.n && b2.size == b1.size);
  while (!end1 || !end2) {
    smtpc_ssize n;
    ck_assert(++spins < 100000);
    if (!end1) {
      n = b1.read(b1.ctx, buf, 777);
      ck_assert_int_ge((int)n, 0);
      end1 = n == 0;
      tu_bytes_append(&o1, buf, (size_t)n);
    }
    if (!end2) {
      n = b2.read(b2.ctx, buf, 500);
      ck_assert_int_ge((int)n, 0);
      end2 = n == 0;
      tu_bytes_append(&o2, buf, (size_t)n);
    }
    if (fs.opens - fs.closes > open_peak)
      open_peak = fs.opens - fs.closes;
  }
  ck_assert_int_eq(open_peak, 2); /* one handle per body */
  TU_ASSERT_BYTES(o1.p, o1.n, ref.p, ref.n);
  TU_ASSERT_BYTES(o2.p, o2.n, ref.p, ref.n);
  ck_assert_int_eq(fs.opens, fs.closes);
  /* a finished body keeps answering 0 */
  ck_assert_int_eq((int)b1.read(b1.ctx, buf, 1), 0);
  smtpc_msg_free(m);
  tu_bytes_free(&o1);
  tu_bytes_free(&o2);
  tu_bytes_free(&ref);
  free(data);
}
END_TEST

/* With a stream attachment only the newest body may read. */
START_TEST(reader_stream_newest_body) {
  mstream st;
  smtpc_msg *m = new_msg();
  smtpc_body b1, b2;
  tu_bytes o = {0};
  unsigned char c;
  memset(&st, 0, sizeof(st));
  st.p = (const unsigned char *)"stream";
  st.n = 6;
  ck_assert_int_eq(
      smtpc_msg_add_attachment_stream(m, ms_read, &st, 6, "s.txt", NULL), 0);
  ck_assert_int_eq(smtpc_msg_body(m, &b1), 0);
  ck_assert_int_eq(smtpc_msg_body(m, &b2), 0);
  ck_assert_int_eq((int)b1.read(b1.ctx, &c, 1), SMTPC_ERR_INVALID_STATE);
  ck_assert_int_eq(read_all(&b2, 64, &o), 0);
  ck_assert(contains(&o, "c3RyZWFt\r\n")); /* "stream" */
  ck_assert_int_eq(smtpc_msg_body(m, &b1), SMTPC_ERR_INVALID_STATE);
  tu_bytes_free(&o);
  smtpc_msg_free(m);
}
END_TEST

/* A 2000-octet line is not sent raw; nothing exceeds 78 octets. */
START_TEST(long_line_encoded) {
  smtpc_msg *m = new_msg();
  char *t = malloc(2100);
  tu_bytes o = {0};
  size_t i;
  int k;
  ck_assert_ptr_nonnull(t);
  for (k = 0; k < 2; k++) {
    for (i = 0; i < 2000; i++)
      t[i] = (char)('a' + i % 26);
    memcpy(t + 2000, "\nshort\n", 8);
    if (k == 1)
      ck_assert_int_eq(smtpc_msg_set_8bitmime(m, 1), 0);
    ck_assert_int_eq(smtpc_msg_set_text(m, t, SIZE_MAX), 0);
    tu_bytes_free(&o);
    body_bytes(m, 4096, &o);
    ck_assert(contains(&o, "Content-Transfer-Encoding: quoted-printable"));
    check_lines(&o, 78, 78);
  }
  free(t);
  tu_bytes_free(&o);
  smtpc_msg_free(m);
}
END_TEST

START_TEST(transfer_encodings) {
  static const struct {
    const char *text;
    int allow8;
    const char *cte;
    smtpc_body_type type;
  } c[] = {
      {"ascii\n", 0, "7bit", SMTPC_BODY_7BIT},
      {"ascii\n", 1, "7bit", SMTPC_BODY_7BIT},
      {"caf\xc3\xa9\n", 0, "quoted-printable", SMTPC_BODY_7BIT},
      {"caf\xc3\xa9\n", 1, "8bit", SMTPC_BODY_8BITMIME},
      /* exactly 78 octets: still 7bit */
      {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
       "aaaaaaa",
       0, "7bit", SMTPC_BODY_7BIT},
      {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
       "aaaaaaaa",
       0, "quoted-printable", SMTPC_BODY_7BIT},
      {"trailing space \n", 0, "7bit", SMTPC_BODY_7BIT},
  };
  size_t k;
  for (k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
    smtpc_msg *m = new_msg();
    smtpc_body b;
    tu_bytes o = {0};
    char want[80];
    ck_assert_int_eq(smtpc_msg_set_8bitmime(m, c[k].allow8), 0);
    ck_assert_int_eq(smtpc_msg_set_text(m, c[k].text, SIZE_MAX), 0);
    ck_assert_int_eq(smtpc_msg_body(m, &b), 0);
    ck_assert_int_eq(b.type, c[k].type);
    ck_assert_int_eq(read_all(&b, 100, &o), 0);
    snprintf(want, sizeof(want), "Content-Transfer-Encoding: %s\r\n", c[k].cte);
    ck_assert_msg(contains(&o, want), "case %zu: %s", k, tu_escape(o.p, o.n));
    tu_bytes_free(&o);
    smtpc_msg_free(m);
  }
  /* text with a NUL (explicit length) goes quoted-printable */
  {
    smtpc_msg *m = new_msg();
    tu_bytes o = {0};
    ck_assert_int_eq(smtpc_msg_set_text(m, "a\0b", 3), 0);
    body_bytes(m, 100, &o);
    ck_assert(contains(&o, "quoted-printable\r\n\r\na=00b\r\n"));
    tu_bytes_free(&o);
    smtpc_msg_free(m);
  }
}
END_TEST

/* Random strings that keep clashing with 7bit text: a new one is drawn,
 * and after 8 clashes the part goes quoted-printable. */
START_TEST(boundary_collision) {
  smtpc_msg_platform p;
  smtpc_msg *m;
  tu_bytes o = {0};
  int calls = 0;
  const char *zeros = "x 000000000000000000000000 y\n";
  ck_assert_int_eq(smtpc_msg_new(&m, NULL), 0);
  memset(&p, 0, sizeof(p));
  p.version = SMTPC_MSG_PLATFORM_VERSION;
  p.user = &calls;
  p.now = fixed_now;
  p.random = zero_random;
  ck_assert_int_eq(smtpc_msg_set_platform(m, &p), 0);
  ck_assert_int_eq(smtpc_msg_set_from(m, NULL, "a@example.org"), 0);
  ck_assert_int_eq(smtpc_msg_set_text(m, zeros, SIZE_MAX), 0);
  ck_assert_int_eq(smtpc_msg_set_html(m, "<p>hi</p>", SIZE_MAX), 0);
  body_bytes(m, 100, &o);
  /* 1 Message-ID + 1 + 8 boundary draws */
  ck_assert_int_eq(calls, 10);
  ck_assert(contains(&o, "boundary=\"=_a_000000000000000000000000\""));
  ck_assert(contains(&o, "quoted-printable\r\n\r\nx 00000000"));
  ck_assert(contains(&o, "7bit\r\n\r\n<p>hi</p>\r\n--=_a_"));
  ck_assert(contains(&o, "Date: Fri, 13 Feb 2009 18:31:30 -0500\r\n"));
  tu_bytes_free(&o);
  smtpc_msg_free(m);
  /* with a seed the first clash is simply redrawn */
  {
    smtpc_msg *a = new_msg();
    tu_bytes t = {0};
    char *bnd, *q, text[64];
    ck_assert_int_eq(smtpc_msg_set_text(a, "x", SIZE_MAX), 0);
    ck_assert_int_eq(smtpc_msg_set_html(a, "y", SIZE_MAX), 0);
    body_bytes(a, 100, &t);
    bnd = strstr((char *)t.p, "boundary=\"=_a_");
    ck_assert_ptr_nonnull(bnd);
    bnd += 14;
    q = strchr(bnd, '"');
    snprintf(text, sizeof(text), "%.*s\n", (int)(q - bnd), bnd);
    smtpc_msg_free(a);
    a = new_msg();
    ck_assert_int_eq(smtpc_msg_set_text(a, text, SIZE_MAX), 0);
    ck_assert_int_eq(smtpc_msg_set_html(a, "y", SIZE_MAX), 0);
    tu_bytes_free(&t);
    body_bytes(a, 100, &t);
    ck_assert(contains(&t, "7bit\r\n\r\n"));
    ck_assert(!contains(&t, "quoted-printable"));
    text[24] = '\0';
    {
      char b2[96];
      snprintf(b2, sizeof(b2), "boundary=\"=_a_%.24s\"", text);
      ck_assert(!contains(&t, b2));
    }
    tu_bytes_free(&t);
    smtpc_msg_free(a);
  }
}
END_TEST

/* ---- headers ------------------------------------------------------------- */

START_TEST(header_injection_rejected) {
  smtpc_msg *m = new_msg();
  static const char *const bad_text[] = {"a\r\nBcc: x@y.z",
                                         "a\nb",
                                         "a\rb",
                                         ("a\x01"
                                          "b"),
                                         "\xc3",
                                         "\xed\xa0\x80",
                                         "\xc0\xaf",
                                         "a\x7f"};
  static const char *const bad_names[] = {"",
                                          "X Y",
                                          "X:Y",
                                          "X\r\nY",
                                          "X\xc3\xa9",
                                          "From",
                                          "to",
                                          "BCC",
                                          "Subject",
                                          "Content-Type",
                                          "content-transfer-encoding",
                                          "MIME-Version",
                                          "Message-ID",
                                          "Date",
                                          "Reply-To",
                                          "Sender",
                                          "Cc",
                                          "x123456789x123456789x123456789x1234"
                                          "56789x123456789x123456789x123456789x"
                                          "12345678"};
  size_t k;
  char longv[1200];
  for (k = 0; k < sizeof(bad_text) / sizeof(bad_text[0]); k++) {
    ck_assert_int_eq(smtpc_msg_set_subject(m, bad_text[k]),
                     SMTPC_ERR_BAD_ARGUMENT);
    ck_assert_int_eq(smtpc_msg_add_header(m, "X-Test", bad_text[k]),
                     SMTPC_ERR_BAD_ARGUMENT);
    ck_assert_int_eq(smtpc_msg_add_to(m, bad_text[k], "a@example.org"),
                     SMTPC_ERR_BAD_ARGUMENT);
    ck_assert_int_eq(smtpc_msg_set_from(m, bad_text[k], "a@example.org"),
                     SMTPC_ERR_BAD_ARGUMENT);
    ck_assert_int_eq(
        smtpc_msg_add_attachment_memory(m, "x", 1, bad_text[k], NULL),
        SMTPC_ERR_BAD_ARGUMENT);
  }
  /* TAB is allowed in subjects and values, not in names or file names */
  ck_assert_int_eq(smtpc_msg_set_subject(m, "a\tb"), 0);
  ck_assert_int_eq(smtpc_msg_add_to(m, "a\tb", "a@example.org"),
                   SMTPC_ERR_BAD_ARGUMENT);
  for (k = 0; k < sizeof(bad_names) / sizeof(bad_names[0]); k++)
    ck_assert_msg(smtpc_msg_add_header(m, bad_names[k], "v") ==
                      SMTPC_ERR_BAD_ARGUMENT,
                  "name %s", bad_names[k]);
  /* an unfoldable ASCII run */
  memset(longv, 'a', 1100);
  longv[1100] = '\0';
  ck_assert_int_eq(smtpc_msg_add_header(m, "X-Long", longv),
                   SMTPC_ERR_BAD_ARGUMENT);
  longv[500] = ' ';
  ck_assert_int_eq(smtpc_msg_add_header(m, "X-Long", longv), 0);
  /* addresses */
  ck_assert_int_eq(smtpc_msg_add_to(m, NULL, "a@b.c\r\nRCPT TO:<x@y.z>"),
                   SMTPC_ERR_BAD_ADDRESS);
  ck_assert_int_eq(smtpc_msg_add_to(m, NULL, "postmaster"),
                   SMTPC_ERR_BAD_ADDRESS);
  ck_assert_int_eq(smtpc_msg_add_cc(m, NULL, "<a@b.c>"), SMTPC_ERR_BAD_ADDRESS);
  ck_assert_int_eq(smtpc_msg_add_bcc(m, NULL, "a b@c.d"),
                   SMTPC_ERR_BAD_ADDRESS);
  ck_assert_int_eq(smtpc_msg_set_from(m, NULL, ""), SMTPC_ERR_BAD_ADDRESS);
  ck_assert_int_eq(smtpc_msg_set_from(m, NULL, NULL),
                   SMTPC_ERR_INVALID_ARGUMENT);
  /* content types, content ids, message ids */
  ck_assert_int_eq(
      smtpc_msg_add_attachment_memory(m, "x", 1, "x", "text/plain\r\nX: y"),
      SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_add_attachment_memory(m, "x", 1, "x", "text"),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(
      smtpc_msg_add_attachment_memory(m, "x", 1, "x", "multipart/mixed"),
      SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(
      smtpc_msg_add_attachment_memory(m, "x", 1, "x", "message/rfc822"),
      SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(
      smtpc_msg_add_attachment_memory(m, "x", 1, "x", "text/plain x"),
      SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(
      smtpc_msg_add_attachment_memory(m, "x", 1, "x", "text/plain;"),
      SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_add_attachment_memory(m, "x", 1, "", NULL),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_add_inline_memory(m, "x", 1, "x.png", NULL, "a>b"),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(
      smtpc_msg_add_inline_memory(m, "x", 1, "x.png", NULL, "a\r\nb"),
      SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_add_inline_memory(m, "x", 1, "x.png", NULL, NULL),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_set_message_id(m, "<a@b>"),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_set_message_id(m, "a@b\r\nX: y"),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_set_message_id(m, "ab"), SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_set_message_id(m, "a..b@c"),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_set_message_id(m, "@b"), SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_set_message_id(m, "a@"), SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_set_message_id(m, "a@["), SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_set_message_id(m, "a@[b\\]"),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_set_message_id(m, "a@b@c"),
                   SMTPC_ERR_BAD_ARGUMENT);
  {
    static const char *const bad_types[] = {"text/",
                                            "/plain",
                                            "text/plain; a=\x01",
                                            "text/plain; a=b ",
                                            "text/plain x=y",
                                            "text/pl ain",
                                            "te(xt/plain",
                                            "text/plain;\t",
                                            "Multipart/Mixed",
                                            "MESSAGE/partial"};
    for (k = 0; k < sizeof(bad_types) / sizeof(bad_types[0]); k++)
      ck_assert_msg(smtpc_msg_add_attachment_memory(
                        m, "x", 1, "x", bad_types[k]) == SMTPC_ERR_BAD_ARGUMENT,
                    "type %s", bad_types[k]);
    ck_assert_int_eq(smtpc_msg_add_attachment_memory(
                         m, "x", 1, "x", "text/plain ;\tcharset=\"a b\""),
                     0);
  }
  ck_assert_int_eq(smtpc_msg_set_message_id(m, "a@[1.2.3.4]"), 0);
  ck_assert_int_eq(smtpc_msg_set_text(m, "\xff", SIZE_MAX),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_set_html(m, "\xe2\x82", SIZE_MAX),
                   SMTPC_ERR_BAD_ARGUMENT);
  /* nothing rejected made it into the message */
  {
    tu_bytes o = {0};
    body_bytes(m, 4096, &o);
    ck_assert(!contains(&o, "RCPT"));
    ck_assert(!contains(&o, "Bcc"));
    ck_assert(!contains(&o, "X: y"));
    check_lines(&o, 998, 998);
    tu_bytes_free(&o);
  }
  smtpc_msg_free(m);
}
END_TEST

START_TEST(null_arguments) {
  smtpc_msg *m = new_msg();
  smtpc_body b;
  const char *f;
  const char *const *r;
  size_t n;
  ck_assert_int_eq(smtpc_msg_new(NULL, NULL), SMTPC_ERR_INVALID_ARGUMENT);
  {
    smtpc_mem bad = {0};
    smtpc_msg *x = (smtpc_msg *)&bad;
    ck_assert_int_eq(smtpc_msg_new(&x, &bad), SMTPC_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(x);
  }
  smtpc_msg_free(NULL);
  ck_assert_int_eq(smtpc_msg_set_from(NULL, NULL, "a@b.c"),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_set_subject(NULL, "x"),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_body(NULL, &b), SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_body(m, NULL), SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_envelope(m, NULL, &r, &n),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_add_attachment_memory(m, NULL, 1, "x", NULL),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_add_attachment_stream(m, NULL, NULL, 1, "x", NULL),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(
      smtpc_msg_add_attachment_stream(m, ms_read, NULL, -2, "x", NULL),
      SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_add_attachment_file(m, NULL, "x", NULL),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_add_header(m, NULL, "v"),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_set_message_id(m, NULL),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_null(smtpc_msg_message_id(NULL));
  {
    smtpc_msg_platform p;
    memset(&p, 0, sizeof(p));
    /* version 0, no hooks: valid (the features that need one fail) */
    ck_assert_int_eq(smtpc_msg_set_platform(m, &p), SMTPC_OK);
    p.version = SMTPC_MSG_PLATFORM_VERSION + 1; /* newer than the library */
    ck_assert_int_eq(smtpc_msg_set_platform(m, &p), SMTPC_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(smtpc_msg_set_platform(m, NULL), 0);
  }
  smtpc_msg_free(m);
  /* no From: no body, no envelope */
  ck_assert_int_eq(smtpc_msg_new(&m, NULL), 0);
  ck_assert_int_eq(smtpc_msg_body(m, &b), SMTPC_ERR_INVALID_STATE);
  ck_assert_int_eq(smtpc_msg_envelope(m, &f, &r, &n), SMTPC_ERR_INVALID_STATE);
  ck_assert_int_eq(smtpc_msg_set_sender(m, NULL, "s@example.org"), 0);
  ck_assert_int_eq(smtpc_msg_envelope(m, &f, &r, &n), 0);
  ck_assert_str_eq(f, "s@example.org");
  ck_assert_uint_eq(n, 0);
  ck_assert_ptr_null(r);
  ck_assert_int_eq(smtpc_msg_body(m, &b), SMTPC_ERR_INVALID_STATE);
  smtpc_msg_free(m);
}
END_TEST

START_TEST(platform_missing_hooks) {
  smtpc_msg_platform p;
  smtpc_msg *m;
  smtpc_body b;
  memset(&p, 0, sizeof(p));
  p.version = SMTPC_MSG_PLATFORM_VERSION;
  ck_assert_int_eq(smtpc_msg_new(&m, NULL), 0);
  ck_assert_int_eq(smtpc_msg_set_platform(m, &p), 0);
  ck_assert_int_eq(smtpc_msg_set_from(m, NULL, "a@example.org"), 0);
  ck_assert_int_eq(
      smtpc_msg_add_attachment_file(m, "/etc/hostname", NULL, NULL),
      SMTPC_ERR_NOT_SUPPORTED);
  ck_assert_int_eq(smtpc_msg_body(m, &b), SMTPC_ERR_NOT_SUPPORTED); /* now */
  ck_assert_int_eq(smtpc_msg_set_date(m, 0, 0), 0);
  ck_assert_int_eq(smtpc_msg_body(m, &b), SMTPC_ERR_NOT_SUPPORTED); /* rnd */
  ck_assert_int_eq(smtpc_msg_set_message_id(m, "x@y"), 0);
  ck_assert_int_eq(smtpc_msg_body(m, &b), 0); /* a text body needs neither */
  ck_assert_int_eq(smtpc_msg_set_html(m, "h", SIZE_MAX), 0);
  ck_assert_int_eq(smtpc_msg_set_text(m, "t", SIZE_MAX), 0);
  ck_assert_int_eq(smtpc_msg_body(m, &b), SMTPC_ERR_NOT_SUPPORTED);
  ck_assert_int_eq(smtpc_msg_set_seed(m, 5), 0);
  ck_assert_int_eq(smtpc_msg_body(m, &b), 0);
  smtpc_msg_free(m);
  /* failing hooks: their error comes back */
  {
    int left = 2; /* the Message-ID draw works, the boundary draw fails */
    ck_assert_int_eq(smtpc_msg_new(&m, NULL), 0);
    p.now = failing_now;
    p.random = failing_random;
    p.user = NULL;
    ck_assert_int_eq(smtpc_msg_set_platform(m, &p), 0);
    ck_assert_int_eq(smtpc_msg_set_from(m, NULL, "a@example.org"), 0);
    ck_assert_int_eq(smtpc_msg_body(m, &b), SMTPC_ERR_IO);
    p.now = far_future;
    ck_assert_int_eq(smtpc_msg_set_platform(m, &p), 0);
    ck_assert_int_eq(smtpc_msg_body(m, &b), SMTPC_ERR_BAD_ARGUMENT);
    ck_assert_int_eq(smtpc_msg_set_date(m, 0, 0), 0);
    ck_assert_int_eq(smtpc_msg_body(m, &b), SMTPC_ERR_IO); /* Message-ID */
    p.user = &left;
    ck_assert_int_eq(smtpc_msg_set_platform(m, &p), 0);
    ck_assert_int_eq(smtpc_msg_set_html(m, "h", SIZE_MAX), 0);
    ck_assert_int_eq(smtpc_msg_set_text(m, "t", SIZE_MAX), 0);
    ck_assert_int_eq(smtpc_msg_body(m, &b), SMTPC_ERR_IO); /* boundary */
    smtpc_msg_free(m);
  }
  /* defaults: real clock and /dev/urandom */
  ck_assert_int_eq(smtpc_msg_new(&m, NULL), 0);
  ck_assert_int_eq(smtpc_msg_set_from(m, NULL, "a@example.org"), 0);
  ck_assert_int_eq(smtpc_msg_body(m, &b), 0);
  ck_assert_ptr_nonnull(strstr(smtpc_msg_message_id(m), "@example.org"));
  ck_assert_uint_eq(strlen(smtpc_msg_message_id(m)), 26 + 12);
  smtpc_msg_free(m);
}
END_TEST

/* Inline parts need an HTML body. */
START_TEST(inline_needs_html) {
  smtpc_msg *m = new_msg();
  smtpc_body b;
  ck_assert_int_eq(smtpc_msg_set_text(m, "t", SIZE_MAX), 0);
  ck_assert_int_eq(
      smtpc_msg_add_inline_memory(m, png, sizeof(png), "l.png", NULL, "l@x"),
      0);
  ck_assert_int_eq(smtpc_msg_body(m, &b), SMTPC_ERR_INVALID_STATE);
  ck_assert_int_eq(smtpc_msg_set_html(m, "<img src=cid:l@x>", SIZE_MAX), 0);
  ck_assert_int_eq(smtpc_msg_body(m, &b), 0);
  smtpc_msg_free(m);
}
END_TEST

START_TEST(dates) {
  static const struct {
    int64_t t;
    int off;
    const char *want;
  } c[] = {
      {0, 0, "Thu, 01 Jan 1970 00:00:00 +0000"},
      {951782400, -330, "Mon, 28 Feb 2000 18:30:00 -0530"},
      {951782400, 0, "Tue, 29 Feb 2000 00:00:00 +0000"},
      {-2208988800LL, 0, "Mon, 01 Jan 1900 00:00:00 +0000"},
      {253402300799LL, 0, "Fri, 31 Dec 9999 23:59:59 +0000"},
      {1700000000, 1439, "Wed, 15 Nov 2023 22:12:20 +2359"},
      {4102444800LL, 345, "Fri, 01 Jan 2100 05:45:00 +0545"},
  };
  size_t k;
  for (k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
    smtpc_msg *m = new_msg();
    tu_bytes o = {0};
    char *d;
    ck_assert_int_eq(smtpc_msg_set_date(m, c[k].t, c[k].off), 0);
    body_bytes(m, 100, &o);
    d = header_of(&o, "Date");
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(d + 1, c[k].want);
    free(d);
    tu_bytes_free(&o);
    smtpc_msg_free(m);
  }
  {
    smtpc_msg *m = new_msg();
    ck_assert_int_eq(smtpc_msg_set_date(m, 0, 1440), SMTPC_ERR_BAD_ARGUMENT);
    ck_assert_int_eq(smtpc_msg_set_date(m, 0, -1440), SMTPC_ERR_BAD_ARGUMENT);
    ck_assert_int_eq(smtpc_msg_set_date(m, -2208988801LL, 0),
                     SMTPC_ERR_BAD_ARGUMENT);
    ck_assert_int_eq(smtpc_msg_set_date(m, -2208988800LL, -1),
                     SMTPC_ERR_BAD_ARGUMENT);
    ck_assert_int_eq(smtpc_msg_set_date(m, 253402300800LL, 0),
                     SMTPC_ERR_BAD_ARGUMENT);
    ck_assert_int_eq(smtpc_msg_set_date(m, INT64_MAX, 0),
                     SMTPC_ERR_BAD_ARGUMENT);
    ck_assert_int_eq(smtpc_msg_set_date(m, INT64_MIN, 0),
                     SMTPC_ERR_BAD_ARGUMENT);
    smtpc_msg_free(m);
  }
}
END_TEST

START_TEST(envelope_dedup) {
  smtpc_msg *m = new_msg();
  const char *from;
  const char *const *r;
  size_t n;
  tu_bytes o = {0};
  ck_assert_int_eq(smtpc_msg_add_to(m, "A", "a@example.org"), 0);
  ck_assert_int_eq(smtpc_msg_add_to(m, NULL, "a@EXAMPLE.org"), 0);  /* dup */
  ck_assert_int_eq(smtpc_msg_add_cc(m, NULL, "A@example.org"), 0);  /* not */
  ck_assert_int_eq(smtpc_msg_add_bcc(m, NULL, "a@example.ORG"), 0); /* dup */
  ck_assert_int_eq(smtpc_msg_add_bcc(m, "Hidden Name", "b@example.org"), 0);
  ck_assert_int_eq(smtpc_msg_add_cc(m, NULL, "c@example.org"), 0);
  ck_assert_int_eq(smtpc_msg_envelope(m, &from, &r, &n), 0);
  ck_assert_str_eq(from, "alice@example.org");
  ck_assert_uint_eq(n, 4);
  ck_assert_str_eq(r[0], "a@example.org");
  ck_assert_str_eq(r[1], "A@example.org");
  ck_assert_str_eq(r[2], "b@example.org");
  ck_assert_str_eq(r[3], "c@example.org");
  ck_assert_int_eq(smtpc_msg_set_sender(m, NULL, "bounce@example.org"), 0);
  ck_assert_int_eq(smtpc_msg_envelope(m, &from, &r, &n), 0);
  ck_assert_str_eq(from, "bounce@example.org");
  body_bytes(m, 4096, &o);
  ck_assert(!contains(&o, "b@example.org"));
  ck_assert(!contains(&o, "Hidden"));
  ck_assert(!contains(&o, "Bcc"));
  ck_assert(contains(&o, "To: A <a@example.org>, a@EXAMPLE.org\r\n"));
  ck_assert(contains(&o, "Cc: A@example.org, c@example.org\r\n"));
  ck_assert(contains(&o, "Sender: bounce@example.org\r\n"));
  tu_bytes_free(&o);
  smtpc_msg_free(m);
}
END_TEST

/* Decodes the encoded-words of an unfolded header value (test side). */
static void decode_words(const char *v, tu_bytes *out, int *nwords) {
  const char *p = v;
  *nwords = 0;
  while (*p) {
    const char *s = strstr(p, "=?UTF-8?");
    const char *e;
    char enc;
    size_t wl;
    if (s == NULL) {
      tu_bytes_append_str(out, p);
      break;
    }
    tu_bytes_append(out, p, (size_t)(s - p));
    enc = s[8];
    e = strstr(s + 10, "?=");
    ck_assert_ptr_nonnull(e);
    wl = (size_t)(e + 2 - s);
    TU_CHECK(wl <= 75, "encoded word of %zu characters", wl);
    {
      tu_bytes w = {0};
      if (enc == 'B') {
        unsigned char d[64];
        size_t dl;
        ck_assert_int_eq(
            smtpc__b64_decode(s + 10, (size_t)(e - s - 10), d, sizeof(d), &dl),
            0);
        tu_bytes_append(&w, d, dl);
      } else {
        const char *q;
        ck_assert_int_eq(enc, 'Q');
        for (q = s + 10; q < e; q++) {
          if (*q == '_') {
            tu_bytes_append(&w, " ", 1);
          } else if (*q == '=') {
            unsigned char c = (unsigned char)(hexval((unsigned char)q[1]) * 16 +
                                              hexval((unsigned char)q[2]));
            tu_bytes_append(&w, &c, 1);
            q += 2;
          } else {
            tu_bytes_append(&w, q, 1);
          }
        }
      }
      /* each word holds whole characters: valid UTF-8 by itself */
      {
        smtpc_msg *chk;
        char *z = malloc(w.n + 1);
        memcpy(z, w.p, w.n);
        z[w.n] = '\0';
        ck_assert_int_eq(smtpc_msg_new(&chk, NULL), 0);
        TU_CHECK(smtpc_msg_set_subject(chk, z) == 0,
                 "word is not valid UTF-8: %s", tu_escape(w.p, w.n));
        smtpc_msg_free(chk);
        free(z);
      }
      tu_bytes_append(out, w.p, w.n);
      tu_bytes_free(&w);
    }
    (*nwords)++;
    p = e + 2;
    /* white space between two encoded words is not content */
    {
      const char *q = p;
      while (*q == ' ' || *q == '\t')
        q++;
      if (strncmp(q, "=?UTF-8?", 8) == 0)
        p = q;
    }
  }
}

START_TEST(subject_folding) {
  static const char *const subjects[] = {
      "short",
      "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0"
      "\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f"
      "\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98"
      "\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80",
      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe4\xbb\xb6\xe5\x90"
      "\x8d\xe3\x81\xa7\xe3\x81\x99\xe3\x80\x82\xe9\x95\xb7\xe3\x81\x84\xe4"
      "\xbb\xb6\xe5\x90\x8d\xe3\x81\xaf\xe5\x88\x86\xe5\x89\xb2\xe3\x81\x95"
      "\xe3\x82\x8c\xe3\x81\xbe\xe3\x81\x99\xe3\x80\x82\xe6\x97\xa5\xe6\x9c"
      "\xac\xe8\xaa\x9e\xe3\x81\xae\xe4\xbb\xb6\xe5\x90\x8d\xe3\x81\xa7\xe3"
      "\x81\x99",
      "mostly ascii with one \xc3\xa9 in the middle of a rather long subject "
      "line that must fold twice or more to stay short",
      "=?UTF-8?Q?not_an_encoded_word?= literal",
      "averyveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryvery"
      "veryverylongword and more",
      "tab\there  double  spaces",
      "Zo\xc3\xab"
      "abcdefgh Zo\xc3\xab"
      "abcdefgh",
  };
  size_t k;
  for (k = 0; k < sizeof(subjects) / sizeof(subjects[0]); k++) {
    smtpc_msg *m = new_msg();
    tu_bytes o = {0}, dec = {0};
    char *v;
    int nw;
    ck_assert_int_eq(smtpc_msg_set_subject(m, subjects[k]), 0);
    body_bytes(m, 4096, &o);
    check_lines(&o, 78, 78);
    v = header_of(&o, "Subject");
    ck_assert_ptr_nonnull(v);
    decode_words(v + 1, &dec, &nw);
    tu_bytes_append(&dec, "", 0);
    ck_assert_msg(strcmp((char *)dec.p, subjects[k]) == 0,
                  "subject %zu decodes to %s", k, tu_escape(dec.p, dec.n));
    if (k == 0 || k == 6)
      ck_assert_int_eq(nw, 0);
    free(v);
    tu_bytes_free(&o);
    tu_bytes_free(&dec);
    smtpc_msg_free(m);
  }
}
END_TEST

START_TEST(many_recipients_fold) {
  smtpc_msg *m = new_msg();
  tu_bytes o = {0};
  int i;
  for (i = 0; i < 1000; i++) { /* headers larger than the output buffer */
    char a[40], nm[40];
    snprintf(a, sizeof(a), "user%d@example.org", i);
    snprintf(nm, sizeof(nm), "%s %d",
             i % 3 == 0   ? "User"
             : i % 3 == 1 ? "\xc3\x9cser"
                          : "Us\"er",
             i);
    ck_assert_int_eq(
        i % 2 ? smtpc_msg_add_to(m, nm, a) : smtpc_msg_add_cc(m, nm, a), 0);
  }
  ck_assert_int_eq(
      smtpc_msg_set_from(m,
                         "A very long display name that is much longer than "
                         "a header line should be, with, commas",
                         "alice@example.org"),
      0);
  body_bytes(m, 4096, &o);
  check_lines(&o, 78, 78);
  tu_bytes_free(&o);
  smtpc_msg_free(m);
}
END_TEST

START_TEST(display_names) {
  static const struct {
    const char *name;
    const char *want;
  } c[] = {
      {"Plain Name", "To: Plain Name <x@example.org>\r\n"},
      {"a  b", "To: \"a  b\" <x@example.org>\r\n"},
      {" lead", "To: \" lead\" <x@example.org>\r\n"},
      {"Zo\xc3\xab  Two", "To: =?UTF-8?B?Wm/DqyAgVHdv?= <x@example.org>\r\n"},
      {"Zo\xc3\xab"
       "abcdef  Two",
       "To: =?UTF-8?Q?Zo=C3=ABabcdef__Two?= <x@example.org>\r\n"},
      {"Zo\xc3\xab Two", "To: =?UTF-8?Q?Zo=C3=AB?= Two <x@example.org>\r\n"},
      {"\xc3\x89milie Dupont",
       "To: =?UTF-8?Q?=C3=89milie?= Dupont <x@example.org>\r\n"},
      {"=?x?= y", "To: =?UTF-8?B?PT94Pz0=?= y <x@example.org>\r\n"},
      {"back\\slash \"q\"",
       "To: \"back\\\\slash \\\"q\\\"\" <x@example.org>\r\n"},
  };
  size_t k;
  for (k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
    smtpc_msg *m = new_msg();
    tu_bytes o = {0};
    ck_assert_int_eq(smtpc_msg_add_to(m, c[k].name, "x@example.org"), 0);
    body_bytes(m, 4096, &o);
    ck_assert_msg(contains(&o, c[k].want), "%s: %s", c[k].want,
                  tu_escape(o.p, o.n));
    tu_bytes_free(&o);
    smtpc_msg_free(m);
  }
}
END_TEST

/* ---- UTF-8 addresses (RFC 6532) and A-labels ------------------------------ */

/* A converter that knows one domain, so that the bytes do not depend on
 * libidn2 being built in. */
static int test_idna(void *user, const char *dom, char *out, size_t len) {
  int *calls = user;
  (*calls)++;
  if (strcmp(dom, "b\xc3\xbc"
                  "cher.example") != 0)
    return SMTPC_ERR_BAD_ADDRESS;
  ck_assert_uint_ge(len, 22);
  memcpy(out, "xn--bcher-kva.example", 22);
  return SMTPC_OK;
}

static smtpc_msg *utf8_msg(int allow, int *calls) {
  smtpc_msg *m;
  ck_assert_int_eq(smtpc_msg_new(&m, NULL), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_seed(m, 1), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_date(m, 1700000000, 60), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_idna(m, test_idna, calls), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_smtputf8(m, allow), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_from(m, "J\xc3\xb6rg",
                                      "info@b\xc3\xbc"
                                      "cher.example"),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_text(m, "hi\n", SIZE_MAX), SMTPC_OK);
  return m;
}

START_TEST(utf8_addresses_allowed) {
  int calls = 0;
  smtpc_msg *m = utf8_msg(1, &calls);
  smtpc_body b;
  tu_bytes o = {0};
  ck_assert_int_eq(smtpc_msg_add_to(m, NULL, "jos\xc3\xa9@example.org"), 0);
  ck_assert_int_eq(smtpc_msg_body(m, &b), SMTPC_OK);
  /* UTF-8 in the header: the session must send SMTPUTF8 */
  ck_assert_int_eq(b.type, SMTPC_BODY_SMTPUTF8);
  ck_assert_int_eq(read_all(&b, 4096, &o), 0);
  /* the name stays an encoded-word; the addresses go as they are */
  ck_assert_msg(contains(&o, "From: =?UTF-8?B?SsO2cmc=?= "
                             "<info@b\xc3\xbc"
                             "cher.example>\r\n"),
                "%s", tu_escape(o.p, o.n));
  ck_assert_msg(contains(&o, "To: jos\xc3\xa9@example.org\r\n"), "%s",
                tu_escape(o.p, o.n));
  /* the Message-ID takes the A-label where there is one */
  ck_assert_msg(contains(&o, "@xn--bcher-kva.example>\r\n"), "%s",
                tu_escape(o.p, o.n));
  tu_bytes_free(&o);
  smtpc_msg_free(m);
}
END_TEST

START_TEST(utf8_domains_as_alabels) {
  int calls = 0;
  size_t n8;
  smtpc_msg *m = utf8_msg(0, &calls);
  smtpc_body b;
  tu_bytes o = {0};
  ck_assert_int_eq(smtpc_msg_add_to(m,
                                    "B\xc3\xbc"
                                    "cher",
                                    "orders@b\xc3\xbc"
                                    "cher.example"),
                   0);
  ck_assert_int_eq(smtpc_msg_body(m, &b), SMTPC_OK);
  ck_assert_int_eq(b.type, SMTPC_BODY_7BIT);
  ck_assert_int_eq(read_all(&b, 4096, &o), 0);
  ck_assert_msg(contains(&o, "From: =?UTF-8?B?SsO2cmc=?= "
                             "<info@xn--bcher-kva.example>\r\n"),
                "%s", tu_escape(o.p, o.n));
  ck_assert_msg(contains(&o, "To: =?UTF-8?Q?B=C3=BCcher?= "
                             "<orders@xn--bcher-kva.example>\r\n"),
                "%s", tu_escape(o.p, o.n));
  for (n8 = 0; n8 < o.n; n8++)
    ck_assert_msg(o.p[n8] < 0x80, "8-bit octet at %zu", n8);
  ck_assert_int_gt(calls, 0);
  tu_bytes_free(&o);
  smtpc_msg_free(m);
}
END_TEST

START_TEST(utf8_refusals) {
  int calls = 0;
  smtpc_msg *m = utf8_msg(0, &calls);
  smtpc_body b;
  const char *from;
  const char *const *rcpts;
  size_t n;
  /* a UTF-8 local part has no ASCII form */
  ck_assert_int_eq(smtpc_msg_add_to(m, NULL, "jos\xc3\xa9@example.org"), 0);
  ck_assert_int_eq(smtpc_msg_body(m, &b), SMTPC_ERR_SMTPUTF8_UNSUPPORTED);
  /* the envelope keeps the addresses as given: the session decides */
  ck_assert_int_eq(smtpc_msg_envelope(m, &from, &rcpts, &n), SMTPC_OK);
  ck_assert_str_eq(from, "info@b\xc3\xbc"
                         "cher.example");
  ck_assert_str_eq(rcpts[0], "jos\xc3\xa9@example.org");
  smtpc_msg_free(m);

  /* no converter: the domain cannot be sent to a server without SMTPUTF8 */
  m = utf8_msg(0, &calls);
  ck_assert_int_eq(smtpc_msg_add_to(m, NULL, "x@example.org"), 0);
  ck_assert_int_eq(smtpc_msg_set_idna(m, NULL, NULL), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_body(m, &b), SMTPC_ERR_IDNA_UNAVAILABLE);
  smtpc_msg_free(m);

  /* a domain the converter refuses */
  m = utf8_msg(0, &calls);
  ck_assert_int_eq(smtpc_msg_add_to(m, NULL, "x@\xc3\xa9.example"), 0);
  ck_assert_int_eq(smtpc_msg_body(m, &b), SMTPC_ERR_BAD_ADDRESS);
  smtpc_msg_free(m);

  /* ill-formed UTF-8 never gets in */
  m = utf8_msg(1, &calls);
  ck_assert_int_eq(smtpc_msg_add_to(m, NULL, "jos\xc3@example.org"),
                   SMTPC_ERR_BAD_ADDRESS);
  ck_assert_int_eq(smtpc_msg_add_to(m, NULL,
                                    "a@ex\xc0\xae"
                                    "ample.org"),
                   SMTPC_ERR_BAD_ADDRESS);
  smtpc_msg_free(m);
}
END_TEST

/* The built-in converter: libidn2's UTS #46 non-transitional mapping, or
 * "not built in". */
START_TEST(idna_builtin) {
  char out[256];
  int rv = smtpc_idna_to_ascii(NULL,
                               "B\xc3\xbc"
                               "cher.Example",
                               out, sizeof(out));
  if (rv == SMTPC_ERR_NOT_SUPPORTED) {
    ck_assert_str_eq(out, "");
    return;
  }
  ck_assert_int_eq(rv, SMTPC_OK);
  ck_assert_str_eq(out, "xn--bcher-kva.example"); /* mapped to lower case */
  ck_assert_int_eq(smtpc_idna_to_ascii(NULL, "fa\xc3\x9f.de", out, sizeof(out)),
                   SMTPC_OK);
  ck_assert_str_eq(out, "xn--fa-hia.de"); /* non-transitional: ß stays */
  ck_assert_int_eq(
      smtpc_idna_to_ascii(NULL, "a_b\xc3\xa9.example", out, sizeof(out)),
      SMTPC_ERR_BAD_ADDRESS); /* STD3: no "_" */
  ck_assert_int_eq(smtpc_idna_to_ascii(NULL,
                                       "b\xc3\xbc"
                                       "cher.example",
                                       out, 10),
                   SMTPC_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(dsn_settings) {
  smtpc_msg *m = new_msg();
  char envid[102];
  memset(envid, 'e', 100);
  envid[100] = '\0';
  ck_assert_int_eq(smtpc_msg_add_to(m, NULL, "x@example.org"), 0);
  ck_assert_int_eq(
      smtpc_msg_set_dsn(m, SMTPC_DSN_RET_HDRS, envid, SMTPC_NOTIFY_FAILURE, 0),
      SMTPC_OK);
  envid[100] = 'e', envid[101] = '\0'; /* 101 characters */
  ck_assert_int_eq(smtpc_msg_set_dsn(m, 0, envid, 0, 0),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_set_dsn(m, 0, "a\rb", 0, 0),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_set_dsn(m, 0, "caf\xc3\xa9", 0, 0),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_set_dsn(m, (smtpc_dsn_ret)3, NULL, 0, 0),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(
      smtpc_msg_set_dsn(m, 0, NULL, SMTPC_NOTIFY_NEVER | SMTPC_NOTIFY_DELAY, 0),
      SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_set_dsn(m, 0, NULL, 16, 0),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_set_dsn(m, 0, NULL, 0, 2),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(
      smtpc_msg_set_notify(m, "X@EXAMPLE.ORG", SMTPC_NOTIFY_NEVER, NULL),
      SMTPC_ERR_INVALID_STATE); /* local parts are exact */
  ck_assert_int_eq(smtpc_msg_set_notify(m, "x@EXAMPLE.org", SMTPC_NOTIFY_NEVER,
                                        "old@example.net"),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_notify(m, "x@example.org", SMTPC_NOTIFY_NEVER,
                                        "bad address"),
                   SMTPC_ERR_BAD_ADDRESS);
  ck_assert_int_eq(smtpc_msg_set_notify(m, "nobody@example.org", 0, NULL),
                   SMTPC_ERR_INVALID_STATE);
  smtpc_msg_free(m);
}
END_TEST

START_TEST(filename_params) {
  static const struct {
    const char *name;
    const char *want;
  } c[] = {
      {"a.txt", "filename=\"a.txt\""},
      {"with \"quote\" and \\.txt",
       "filename=\"with \\\"quote\\\" and \\\\.txt\""},
      {"caf\xc3\xa9.txt", "filename*=UTF-8''caf%C3%A9.txt"},
      {"100% (x).txt", "filename=\"100% (x).txt\""},
      /* 60 characters inside the quotes: the longest quoted form */
      {"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\\\\\\\\\\\\\\\\\\\\",
       "filename="
       "\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\""
       "\\\"\\\"\\\""
       "\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\""},
      {"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\\\\\\\\\\\\\\\\\\\\\"",
       "filename*0*=UTF-8''%22%22"},
      {"=?UTF-8?B?eA==?=", "filename*=UTF-8''%3D%3FUTF-8%3FB%3FeA%3D%3D%3F%3D"},
  };
  size_t k;
  for (k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
    smtpc_msg *m = new_msg();
    tu_bytes o = {0};
    ck_assert_int_eq(
        smtpc_msg_add_attachment_memory(m, "x", 1, c[k].name, NULL), 0);
    body_bytes(m, 4096, &o);
    ck_assert_msg(contains(&o, c[k].want), "%s", tu_escape(o.p, o.n));
    check_lines(&o, 78, 78);
    tu_bytes_free(&o);
    smtpc_msg_free(m);
  }
  /* a 1024-byte name of 3-byte characters folds into many pieces */
  {
    smtpc_msg *m = new_msg();
    tu_bytes o = {0};
    char name[1025];
    int i;
    for (i = 0; i < 341; i++)
      memcpy(name + 3 * i, "\xe2\x82\xac", 3);
    name[1023] = 'x';
    name[1024] = '\0';
    ck_assert_int_eq(smtpc_msg_add_attachment_memory(m, "x", 1, name, NULL), 0);
    body_bytes(m, 4096, &o);
    check_lines(&o, 78, 78);
    ck_assert(contains(&o, " filename*0*=UTF-8''%E2%82%AC"));
    ck_assert(contains(&o, " filename*40*="));
    ck_assert(contains(&o, " name*0*=UTF-8''"));
    name[1023] = 'x';
    tu_bytes_free(&o);
    smtpc_msg_free(m);
  }
}
END_TEST

START_TEST(guess_types) {
  ck_assert_str_eq(smtpc_msg_guess_type("a.PDF"), "application/pdf");
  ck_assert_str_eq(smtpc_msg_guess_type("/x.y/photo.JPeG"), "image/jpeg");
  ck_assert_str_eq(smtpc_msg_guess_type("a.tar.gz"), "application/gzip");
  ck_assert_str_eq(smtpc_msg_guess_type("x.docx"),
                   "application/vnd.openxmlformats-officedocument."
                   "wordprocessingml.document");
  ck_assert_str_eq(smtpc_msg_guess_type("x.y/noext"),
                   "application/octet-stream");
  ck_assert_str_eq(smtpc_msg_guess_type(".bashrc"), "application/octet-stream");
  ck_assert_str_eq(smtpc_msg_guess_type(NULL), "application/octet-stream");
  ck_assert_str_eq(smtpc_msg_guess_type("x.ics"), "text/calendar");
  ck_assert_str_eq(smtpc_msg_guess_type("x.svg"), "image/svg+xml");
}
END_TEST

/* ---- allocation failures ------------------------------------------------- */

static const unsigned char *sweep_ref;
static size_t sweep_ref_len;

#define TRY(call)                                                              \
  do {                                                                         \
    int rv_ = (call);                                                          \
    if (rv_ != SMTPC_OK) {                                                     \
      TU_CHECK(rv_ == SMTPC_ERR_NOMEM, "%s gave %d", #call, rv_);              \
      smtpc_msg_free(m);                                                       \
      return rv_;                                                              \
    }                                                                          \
  } while (0)

static int sweep_scenario(tu_alloc *a, void *arg) {
  static fakefs fs;
  smtpc_msg_platform p;
  smtpc_msg *m = NULL;
  mstream st;
  smtpc_body b;
  tu_bytes o = {0};
  int rv;
  (void)arg;
  memset(&fs, 0, sizeof(fs));
  fs.path = "/f/data.json";
  fs.data = (const unsigned char *)"{\"a\": 1}";
  fs.n = 8;
  fake_platform(&p, &fs);
  memset(&st, 0, sizeof(st));
  st.p = png;
  st.n = sizeof(png);
  rv = smtpc_msg_new(&m, &a->mem);
  if (rv != SMTPC_OK)
    return rv;
  TRY(smtpc_msg_set_platform(m, &p));
  TRY(smtpc_msg_set_seed(m, 3));
  TRY(smtpc_msg_set_from(m, "J\xc3\xb6rg", "j@example.org"));
  TRY(smtpc_msg_set_sender(m, NULL, "s@example.org"));
  TRY(smtpc_msg_set_reply_to(m, "R", "r@example.org"));
  TRY(smtpc_msg_add_to(m, "T\xc3\xa9", "t@example.org"));
  TRY(smtpc_msg_add_to(m, NULL, "t2@example.org"));
  TRY(smtpc_msg_add_cc(m, "C", "c@example.org"));
  TRY(smtpc_msg_add_bcc(m, NULL, "b@example.org"));
  TRY(smtpc_msg_add_bcc(m, NULL, "t@EXAMPLE.org"));
  TRY(smtpc_msg_set_subject(m, "Gr\xc3\xbc\xc3\x9f"
                               "e \xe2\x82\xac"));
  TRY(smtpc_msg_add_header(m, "X-A", "b"));
  TRY(smtpc_msg_add_header(m, "X-B", "caf\xc3\xa9"));
  TRY(smtpc_msg_set_text(m, "text\n", SIZE_MAX));
  TRY(smtpc_msg_set_html(m, "<p>caf\xc3\xa9</p>", SIZE_MAX));
  TRY(smtpc_msg_add_inline_stream(m, ms_read, &st, (int64_t)sizeof(png),
                                  "logo.png", NULL, "logo@x"));
  TRY(smtpc_msg_add_attachment_memory(m, "abc", 3, "\xc3\xa9.txt", NULL));
  TRY(smtpc_msg_add_attachment_file(m, fs.path, NULL, NULL));
  {
    const char *f;
    const char *const *r;
    size_t n;
    TRY(smtpc_msg_envelope(m, &f, &r, &n));
    TU_CHECK(n == 4, "%zu recipients", n);
  }
  TRY(smtpc_msg_body(m, &b));
  rv = read_all(&b, 333, &o);
  TU_CHECK(rv == 0, "read gave %d", rv);
  if (sweep_ref == NULL) {
    sweep_ref = malloc(o.n);
    memcpy((void *)sweep_ref, o.p, o.n);
    sweep_ref_len = o.n;
  } else {
    TU_ASSERT_BYTES(o.p, o.n, sweep_ref, sweep_ref_len);
  }
  tu_bytes_free(&o);
  smtpc_msg_free(m);
  TU_CHECK(fs.opens == fs.closes, "file left open");
  return SMTPC_OK;
}

START_TEST(alloc_sweep) {
  tu_alloc a;
  long failing;
  /* reference run without failures */
  tu_alloc_init(&a, 0);
  ck_assert_int_eq(sweep_scenario(&a, NULL), 0);
  TU_ASSERT_NO_LEAKS(&a);
  ck_assert_ptr_nonnull(sweep_ref);
  failing = tu_alloc_sweep(sweep_scenario, NULL, 1000);
  ck_assert_int_gt(failing, 20);
  free((void *)sweep_ref);
  sweep_ref = NULL;
}
END_TEST

/* ---- runner
 * ----------------------------------------------------------------------------
 */

/* RFC 8689 3: "TLS-Required: No" after Message-ID, once; REQUIRETLS and
 * the field never both; a caller's TLS-Required field is refused while
 * either is on. */
START_TEST(tls_required_no) {
  smtpc_msg *m = new_msg();
  tu_bytes out = {0};
  static const char want[] = "Date: Tue, 14 Nov 2023 23:13:20 +0100\r\n"
                             "From: Alice Example <alice@example.org>\r\n"
                             "To: x@example.org\r\n"
                             "Subject: t\r\n"
                             "Message-ID: <id@example.org>\r\n"
                             "TLS-Required: No\r\n"
                             "MIME-Version: 1.0\r\n";
  ck_assert_int_eq(smtpc_msg_add_to(m, NULL, "x@example.org"), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_subject(m, "t"), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_message_id(m, "id@example.org"), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_text(m, "hi\r\n", 4), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_tls_required_no(NULL, 1),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_set_requiretls(NULL, 1),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_set_tls_required_no(m, 1), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_tls_required_no(m, 1), SMTPC_OK); /* once */
  body_bytes(m, 4096, &out);
  ck_assert_uint_ge(out.n, sizeof want - 1);
  ck_assert_mem_eq(out.p, want, sizeof want - 1);
  /* never both, whichever comes second */
  ck_assert_int_eq(smtpc_msg_set_requiretls(m, 1), SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_add_header(m, "TLS-Required", "No"),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_add_header(m, "tls-required", "No"),
                   SMTPC_ERR_BAD_ARGUMENT);
  /* off: no field, and REQUIRETLS may be asked */
  ck_assert_int_eq(smtpc_msg_set_tls_required_no(m, 0), SMTPC_OK);
  tu_bytes_free(&out);
  body_bytes(m, 4096, &out);
  ck_assert(!contains(&out, "TLS-Required"));
  ck_assert_int_eq(smtpc_msg_set_requiretls(m, 1), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_tls_required_no(m, 1),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_msg_add_header(m, "TLS-Required", "No"),
                   SMTPC_ERR_BAD_ARGUMENT);
  tu_bytes_free(&out);
  body_bytes(m, 4096, &out); /* REQUIRETLS is envelope only */
  ck_assert(!contains(&out, "TLS-Required"));
  ck_assert_int_eq(smtpc_msg_set_requiretls(m, 0), SMTPC_OK);
  /* a caller's own field, added first, blocks both options */
  ck_assert_int_eq(smtpc_msg_add_header(m, "TLS-Required", "No"), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_tls_required_no(m, 1),
                   SMTPC_ERR_INVALID_STATE);
  ck_assert_int_eq(smtpc_msg_set_requiretls(m, 1), SMTPC_ERR_INVALID_STATE);
  tu_bytes_free(&out);
  smtpc_msg_free(m);
}
END_TEST

static Suite *mime_suite(void) {
  Suite *s = suite_create("mime");
  TCase *tc = tcase_create("golden");
  int ngolden = 8;
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, golden_structures, 0, ngolden);
  tcase_add_loop_test(tc, golden_chunk_invariance, 0, ngolden);
  tcase_add_loop_test(tc, golden_buffer_sizes, 0, ngolden);
  suite_add_tcase(s, tc);

  tc = tcase_create("codecs");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, qp_table, 0,
                      (int)(sizeof(qp_cases) / sizeof(qp_cases[0])));
  tcase_add_test(tc, qp_nul_with_explicit_length);
  tcase_add_test(tc, qp_random_property);
  tcase_add_test(tc, crlf_normaliser);
  tcase_add_test(tc, b64_sizes);
  suite_add_tcase(s, tc);

  tc = tcase_create("reader");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, reader_stream_equals_memory);
  tcase_add_test(tc, buffer_size_bounds_heap);
  tcase_add_test(tc, reader_would_block_passthrough);
  tcase_add_test(tc, reader_stream_errors);
  tcase_add_test(tc, reader_files);
  tcase_add_test(tc, reader_posix_file);
  tcase_add_test(tc, reader_stale_and_reread);
  tcase_add_test(tc, reader_concurrent_bodies);
  tcase_add_test(tc, reader_stream_newest_body);
  tcase_add_test(tc, long_line_encoded);
  tcase_add_test(tc, transfer_encodings);
  tcase_add_test(tc, boundary_collision);
  suite_add_tcase(s, tc);

  tc = tcase_create("headers");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, header_injection_rejected);
  tcase_add_test(tc, null_arguments);
  tcase_add_test(tc, platform_missing_hooks);
  tcase_add_test(tc, inline_needs_html);
  tcase_add_test(tc, dates);
  tcase_add_test(tc, envelope_dedup);
  tcase_add_test(tc, subject_folding);
  tcase_add_test(tc, many_recipients_fold);
  tcase_add_test(tc, display_names);
  tcase_add_test(tc, utf8_addresses_allowed);
  tcase_add_test(tc, utf8_domains_as_alabels);
  tcase_add_test(tc, utf8_refusals);
  tcase_add_test(tc, idna_builtin);
  tcase_add_test(tc, dsn_settings);
  tcase_add_test(tc, tls_required_no);
  tcase_add_test(tc, filename_params);
  tcase_add_test(tc, guess_types);
  suite_add_tcase(s, tc);

  tc = tcase_create("alloc");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, alloc_sweep);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(mime_suite());
  int failed;
  srunner_run_all(sr, CK_ENV);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
