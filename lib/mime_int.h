/* SPDX-License-Identifier: MIT */
/* Internal declarations of the MIME builder (mime.c, mime_header.c,
 * mime_stream.c) and its streaming encoders (qp.c, base64_stream.c,
 * platform_mime_posix.c).
 *
 * The encoders are push-style and resumable: each call takes some input and
 * writes into the caller's output space, stopping when fewer than
 * SMTPC__ENC_RESERVE bytes of room remain, and reports how much input it
 * used.  Their output depends only on the input bytes, never on how the
 * input or the output space was cut into calls. */
#ifndef SMTPC_MIME_INT_H
#define SMTPC_MIME_INT_H

#include "smtpc_int.h"

/* Output room an encoder step needs; an encoder makes no progress with less. */
#define SMTPC__ENC_RESERVE 16

/* ---- quoted-printable, RFC 2045 section 6.7 (qp.c) ----------------------- */

/* Longest encoded line without its CRLF (rule 5). */
#define SMTPC__QP_LINE 76

typedef struct smtpc__qp {
  size_t col; /* characters on the current output line */
  int cr;     /* the last input byte was a CR (a following LF is eaten) */
  int ws;     /* a space or tab waiting to see whether a line end follows */
} smtpc__qp;

void smtpc__qp_init(smtpc__qp *q);
/* Encodes text: CRLF, LF and lone CR become hard line breaks (CRLF);
 * printable ASCII other than '=' stays literal; a space or tab stays literal
 * unless a line end or the end of input follows it; everything else becomes
 * =XX.  Lines are broken with soft breaks ("=" CRLF) so that no encoded line
 * exceeds 76 characters.  Returns the bytes written; *consumed gets the
 * input used. */
size_t smtpc__qp_encode(smtpc__qp *q, const unsigned char *in, size_t inlen,
                        size_t *consumed, unsigned char *out, size_t outcap);
/* Ends the input (a pending space or tab is encoded).  out needs
 * SMTPC__ENC_RESERVE bytes.  Resets q.  Returns the bytes written. */
size_t smtpc__qp_finish(smtpc__qp *q, unsigned char *out);

/* ---- line-end normalisation for 7bit / 8bit text (qp.c) ------------------ */

typedef struct smtpc__crlf {
  int cr; /* the last input byte was a CR */
} smtpc__crlf;

void smtpc__crlf_init(smtpc__crlf *c);
/* Copies text, writing CRLF for each CRLF, LF or lone CR.  Returns the bytes
 * written (outcap >= 2 for progress); *consumed gets the input used. */
size_t smtpc__crlf_encode(smtpc__crlf *c, const unsigned char *in, size_t inlen,
                          size_t *consumed, unsigned char *out, size_t outcap);

/* ---- base64 in 76-column lines, RFC 2045 section 6.8 (base64_stream.c) --- */

typedef struct smtpc__b64s {
  unsigned char pend[3]; /* input bytes waiting for a full group */
  size_t npend;
  size_t col; /* characters on the current output line */
} smtpc__b64s;

void smtpc__b64s_init(smtpc__b64s *s);
/* Encodes binary input.  Lines are separated by CRLF; the last line has
 * none.  Returns the bytes written; *consumed gets the input used. */
size_t smtpc__b64s_encode(smtpc__b64s *s, const unsigned char *in, size_t inlen,
                          size_t *consumed, unsigned char *out, size_t outcap);
/* Ends the input (pads the last group).  out needs SMTPC__ENC_RESERVE
 * bytes.  Resets s.  Returns the bytes written. */
size_t smtpc__b64s_finish(smtpc__b64s *s, unsigned char *out);
/* Exact output size for n input bytes; -1 if it does not fit an int64_t. */
int64_t smtpc__b64s_size(int64_t n);

/* ---- the message (mime.c) ------------------------------------------------ */

/* Random characters in a boundary. */
#define SMTPC__MIME_RND_LEN 24
/* Longest Content-ID, without the angle brackets. */
#define SMTPC__MIME_MAX_CID 250

/* smtpc__rcpt.kind */
enum { SMTPC__RCPT_TO, SMTPC__RCPT_CC, SMTPC__RCPT_BCC };
/* smtpc__part.src */
enum { SMTPC__SRC_MEM, SMTPC__SRC_FILE, SMTPC__SRC_STREAM };

typedef struct smtpc__mbox {
  char *name; /* NULL or "" for none */
  char *addr; /* NULL when unset */
} smtpc__mbox;

typedef struct smtpc__rcpt {
  smtpc__mbox mb;
  int kind;
  int has_notify; /* smtpc_msg_set_notify() named this address */
  unsigned notify;
  char *orcpt; /* NULL: the address */
} smtpc__rcpt;

typedef struct smtpc__field {
  char *name;
  char *value;
} smtpc__field;

typedef struct smtpc__part {
  int src;
  int is_inline;
  unsigned char *data; /* SMTPC__SRC_MEM (owned) */
  size_t len;
  char *path;             /* SMTPC__SRC_FILE */
  smtpc_msg_read_cb read; /* SMTPC__SRC_STREAM */
  void *ctx;
  int consumed;   /* a reader started this stream */
  int64_t size;   /* -1 unknown */
  char *filename; /* NULL for none */
  char *type;
  char *cid; /* inline parts */
} smtpc__part;

typedef struct smtpc__textpart {
  unsigned char *p;
  size_t len;
  int set;
  int enc; /* chosen by build() */
} smtpc__textpart;

/* Default size of each of the two buffers of a body being read. */
#define SMTPC__MIME_BUFSIZE 32768
/* Bounds of smtpc_msg_set_buffer_size(). */
#define SMTPC__MIME_BUFSIZE_MIN 64
#define SMTPC__MIME_BUFSIZE_MAX ((size_t)1 << 24)

struct smtpc_msg {
  smtpc_mem mem;
  smtpc_msg_platform plat;
  int seeded;
  uint64_t seed;
  smtpc__mbox from, sender, reply_to;
  smtpc__rcpt *rcpts;
  size_t nrcpts, caprcpts;
  char *subject;
  int have_date;
  int64_t date;
  int date_off;
  char *msgid;
  smtpc__field *fields;
  size_t nfields, capfields;
  smtpc__textpart txt, html;
  smtpc__part *parts;
  size_t nparts, capparts;
  int allow8bit;
  int allow_utf8;     /* smtpc_msg_set_smtputf8() */
  int utf8hdr;        /* the built header holds UTF-8 addresses */
  smtpc_idna_cb idna; /* A-labels when UTF-8 is not allowed */
  void *idna_user;
  /* DSN for the envelope (smtpc_msg_set_dsn(), smtpc_msg_set_notify()) */
  int dsn_set;
  smtpc_dsn_ret dsn_ret;
  char *dsn_envid;
  unsigned dsn_flags;
  unsigned dsn_notify; /* for every recipient not named */
  /* RFC 8689: REQUIRETLS for the envelope, or the header field
   * "TLS-Required: No"; never both */
  int requiretls;
  int tls_required_no;
  /* DKIM (dkim.c): NULL until smtpc_msg_add_dkim(), which allocates the
   * identities and the list of signed bodies handed out, and sets the
   * hooks that wrap and free them (so the builder alone links no DKIM code
   * and carries two pointers for it) */
  struct smtpc__msg_dkim *dkim;
  const struct smtpc__msg_dkim_ops *dkim_ops;
  size_t bufsize; /* of each reader buffer; 0: SMTPC__MIME_BUFSIZE */
  char rnd[SMTPC__MIME_RND_LEN + 1];
  int have_rnd;
  /* the program, built by smtpc_msg_body() when stale */
  smtpc__buf lit;
  size_t lit_mark;
  struct smtpc__seg *segs;
  size_t nsegs, capsegs;
  int stale;    /* changed since the program was built */
  unsigned gen; /* bumped by every build: older readers are invalid */
  int64_t size; /* of the program's output, -1 unknown */
  int any8bit;
  struct smtpc__reader *readers;
  const char **env;
  size_t nenv;
};

/* Returns arr (an array of *cap items of elem bytes, n in use), moved if
 * need be so it holds one more item, or NULL (arr untouched) on failure. */
void *smtpc__mime_grow(const smtpc_mem *mem, void *arr, size_t *cap, size_t n,
                       size_t elem);
/* Offset of the first needle[0..k) in hay[0..n), or SIZE_MAX. */
size_t smtpc__mime_find(const unsigned char *hay, size_t n, const char *needle,
                        size_t k);
/* Length of the UTF-8 sequence at s[0..n), or 0 if it is not a valid,
 * shortest-form encoding of a scalar value. */
size_t smtpc__mime_utf8_len(const unsigned char *s, size_t n);
/* Skips the white space (SP, HTAB) at s[i] and the word after it, as
 * header folding sees them.  Returns where the word ends; *word gets where
 * it starts (the end too when only white space is left). */
size_t smtpc__mime_word(const char *s, size_t n, size_t i, size_t *word);
/* Opens path through the platform hooks: SMTPC_OK with *fh and *size
 * (-1 unknown) set, SMTPC_ERR_NOT_SUPPORTED without file hooks, or the
 * hook's error (SMTPC_ERR_IO when it is not an smtpc_error); *fh is NULL
 * then. */
int smtpc__mime_file_open(smtpc_msg *m, const char *path, void **fh,
                          int64_t *size);

/* The form of addr for a header field: as it is when it is ASCII or UTF-8
 * is allowed (m->utf8hdr is then set), else with its domain as an A-label
 * in out (SMTPC__MIME_ADDR_MAX octets).  *res points at the result.
 * SMTPC_ERR_SMTPUTF8_UNSUPPORTED for a UTF-8 local part without UTF-8. */
#define SMTPC__MIME_ADDR_MAX SMTPC__ADDR_BUF
int smtpc__mime_addr(smtpc_msg *m, const char *addr, char *out,
                     const char **res);

/* ---- the header writer (mime_header.c) ----------------------------------- */

/* Writes header fields into m->lit, folding before white space so that
 * lines stay within 78 columns where the tokens allow. */
typedef struct smtpc__hw {
  smtpc_msg *m;
  size_t col; /* octets on the current line */
  int tok;    /* a token follows the field name */
  int rv;     /* sticky error */
} smtpc__hw;

/* n bytes as they are. */
void smtpc__hw_put(smtpc__hw *h, const void *p, size_t n);
void smtpc__hw_str(smtpc__hw *h, const char *s);
/* Starts a field: "name:". */
void smtpc__hw_field(smtpc__hw *h, const char *name);
/* Ends a line (a field, or the header block when no field is open). */
void smtpc__hw_end(smtpc__hw *h);
/* White space sep, then tok and suf (NULL for none) as one unbreakable
 * token, folded before sep when it would pass the fold column. */
void smtpc__hw_token(smtpc__hw *h, const char *sep, size_t sepn,
                     const void *tok, size_t tokn, const char *suf);
/* " attr=..." carrying a file name (quoted, or RFC 2231 encoded and split
 * when need be); suf follows the last piece. */
void smtpc__hw_param_name(smtpc__hw *h, const char *attr, const char *val,
                          const char *suf);
/* The message's own header fields, Date to MIME-Version. */
void smtpc__hw_message(smtpc__hw *h);
/* Local seconds of (t, off minutes), or 0 when out of the years
 * 1900..9999 (the Date field's range). */
int smtpc__mime_local_time(int64_t t, int off, int64_t *lt);
/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), for the Date field and platform_mime_posix.c's UTC
 * offset.  Inline: the Date checks call it with constants, which the
 * compiler folds. */
static inline int64_t smtpc__mime_days_from_civil(int64_t y, int mo, int d) {
  int64_t era, yoe, doy, doe;
  y -= mo <= 2;
  era = (y >= 0 ? y : y - 399) / 400; /* rounded down */
  yoe = y - era * 400;
  doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* ---- building and reading the body (mime_stream.c) ---------------------- */

/* Ends every reader of m that has not finished (with err): the program it
 * reads, or the hooks of its open file, are going away. */
void smtpc__mime_readers_stop(smtpc_msg *m, int err);
/* Ends and frees every reader of m (smtpc_msg_free()). */
void smtpc__mime_readers_free(smtpc_msg *m);

/* ---- platform defaults (platform_mime_posix.c) ----------------------------
 */

/* Fills p with the default hooks of this platform.  A bare-metal build
 * supplies its own version of this function (hooks it lacks left NULL). */
void smtpc__mime_platform_default(smtpc_msg_platform *p);

/* What smtpc_msg_body() and smtpc_msg_free() call when a message signs. */
typedef struct smtpc__msg_dkim_ops {
  int (*wrap)(smtpc_msg *m, smtpc_body *body);
  void (*free)(smtpc_msg *m);
} smtpc__msg_dkim_ops;

#endif /* SMTPC_MIME_INT_H */
