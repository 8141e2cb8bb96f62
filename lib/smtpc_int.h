/* SPDX-License-Identifier: MIT */
/* Internal declarations shared between the library's source files.
 * Cross-file functions are named smtpc__<module>_<verb>. */
#ifndef SMTPC_INT_H
#define SMTPC_INT_H

/* A static function inlined at every call even with -Os (where GCC keeps
 * one out-of-line copy of a function with two callers). */
#if defined(__GNUC__)
#define SMTPC__ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define SMTPC__ALWAYS_INLINE static inline
#endif

#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <smtpc/smtpc.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- memory (mem.c) ------------------------------------------------------ */

/* Fills *dst from src, or with libc defaults when src is NULL.
 * Returns SMTPC_ERR_INVALID_ARGUMENT if src lacks a hook. */
int smtpc__mem_init(smtpc_mem *dst, const smtpc_mem *src);
void *smtpc__malloc(const smtpc_mem *m, size_t n);
/* n * size with overflow check; NULL on overflow or failure. */
void *smtpc__calloc(const smtpc_mem *m, size_t n, size_t size);
/* A constructor's first step: copies the caller's hooks (NULL: the C
 * library's) into *m and allocates size zeroed bytes with them.  NULL with
 * *rc = SMTPC_ERR_INVALID_ARGUMENT (incomplete hooks) or SMTPC_ERR_NOMEM. */
void *smtpc__new_object(smtpc_mem *m, const smtpc_mem *mem, size_t size,
                        int *rc);
void *smtpc__realloc(const smtpc_mem *m, void *p, size_t n);
void smtpc__free(const smtpc_mem *m, void *p);
char *smtpc__strdup(const smtpc_mem *m, const char *s);
char *smtpc__strndup(const smtpc_mem *m, const char *s, size_t n);

/* ASCII case-insensitive comparisons (locale independent). */
int smtpc__strcasecmp(const char *a, const char *b);
int smtpc__strncasecmp(const char *a, const char *b, size_t n);

#include "buf.h" /* the growable byte buffer */

/* ---- replies (reply.c) --------------------------------------------------- */

/* One allocation: this struct, then line_off[], raw, text.  Shared by
 * reference count between the session (last reply) and transactions
 * (per-recipient and final replies), so keeping a reply never copies it. */
struct smtpc_reply {
  unsigned refs;
  int code;
  char enhanced[24]; /* "x.y.z" or "" */
  size_t nlines;
  char *raw;        /* the lines, each NUL-terminated, back to back */
  size_t *line_off; /* offset of each line in raw */
  char *text;       /* texts joined with '\n' */
};

/* Drops a reference; frees on the last. */
void smtpc__reply_free(const smtpc_mem *m, smtpc_reply *r);
/* Takes another reference. */
smtpc_reply *smtpc__reply_ref(smtpc_reply *r);
/* What a transaction keeps of each RCPT reply (smtpc_txn_rcpt_reply()):
 * up to SMTPC__RCPT_REPLY_MAX bytes of reply lines while its RCPT replies
 * take less than SMTPC__RCPT_REPLIES_BUDGET bytes, SMTPC__RCPT_REPLY_MIN
 * after that.  Code and enhanced code are always kept. */
#define SMTPC__RCPT_REPLY_MAX 512
#define SMTPC__RCPT_REPLY_MIN 80
#define SMTPC__RCPT_REPLIES_BUDGET 65536
/* Bytes r takes in memory. */
size_t smtpc__reply_size(const smtpc_reply *r);
/* r itself (another reference) when its lines take at most max bytes, else
 * a copy that keeps the first line (cut to max bytes, on a UTF-8 boundary)
 * and the whole lines after it that fit in max; code and enhanced code are
 * kept.  NULL when out of memory. */
smtpc_reply *smtpc__reply_bounded(const smtpc_mem *m, smtpc_reply *r,
                                  size_t max);

typedef struct smtpc__reply_parser {
  const smtpc_mem *mem;
  size_t max_line;  /* octets incl. CRLF */
  size_t max_bytes; /* octets in a whole reply */
  size_t max_lines;
  int enhanced; /* parse RFC 3463 codes (ENHANCEDSTATUSCODES seen) */
  /* state of the reply being parsed */
  smtpc__buf line; /* current partial line (without CRLF) */
  smtpc__buf raw;  /* finished lines, NUL-terminated */
  smtpc__buf offs; /* size_t offsets into raw */
  size_t nlines;
  size_t total;
  int code;
  int done; /* a complete reply is ready for take */
  int err;  /* sticky error */
} smtpc__reply_parser;

void smtpc__reply_parser_init(smtpc__reply_parser *p, const smtpc_mem *m);
void smtpc__reply_parser_free(smtpc__reply_parser *p);
/* Forgets any partial reply. */
void smtpc__reply_parser_reset(smtpc__reply_parser *p);
/* Feeds bytes. Stops right after the last line of a reply.
 * Returns 1 when a complete reply is ready (*consumed tells how many bytes
 * were used), 0 when every byte was used and more are needed, or a negative
 * smtpc_error (sticky until reset). */
int smtpc__reply_parser_feed(smtpc__reply_parser *p, const unsigned char *in,
                             size_t len, size_t *consumed);
/* Moves the completed reply out. */
int smtpc__reply_parser_take(smtpc__reply_parser *p, smtpc_reply **out);
/* 1 if a reply has been started but not finished. */
int smtpc__reply_parser_busy(const smtpc__reply_parser *p);

/* ---- EHLO capabilities (ehlo.c) ------------------------------------------ */

enum {
  SMTPC__CAP_PIPELINING = 1u << 0,
  SMTPC__CAP_SIZE = 1u << 1,
  SMTPC__CAP_8BITMIME = 1u << 2,
  SMTPC__CAP_AUTH = 1u << 3,
  SMTPC__CAP_STARTTLS = 1u << 4,
  SMTPC__CAP_ENHANCED = 1u << 5,
  SMTPC__CAP_SMTPUTF8 = 1u << 6,
  SMTPC__CAP_CHUNKING = 1u << 7,
  SMTPC__CAP_DSN = 1u << 8
};

typedef struct smtpc__cap {
  char *keyword; /* upper-cased */
  char *params;  /* "" when none */
} smtpc__cap;

typedef struct smtpc__caps {
  unsigned flags;
  int64_t size; /* -1 not offered, 0 offered without limit, else limit */
  /* RFC 9422 LIMITS (0: none stated) */
  size_t mailmax, rcptmax, rcptdommax;
  char *auth; /* AUTH mechanisms, upper-cased, space separated ("" none) */
  smtpc__cap *list;
  size_t n;
} smtpc__caps;

/* Parses an EHLO reply (first line = greeting, rest = keywords). Clears c
 * first. Returns SMTPC_OK or SMTPC_ERR_NOMEM. Malformed keyword lines are
 * ignored (RFC 5321 4.1.1.1: unknown extensions are not errors). */
int smtpc__caps_parse(smtpc__caps *c, const smtpc_mem *m, const smtpc_reply *r);
void smtpc__caps_clear(smtpc__caps *c, const smtpc_mem *m);
/* Parameters of a keyword (case-insensitive) or NULL. */
const char *smtpc__caps_params(const smtpc__caps *c, const char *keyword);

/* ---- command composer (command.c) ---------------------------------------- */

/* Validates a mailbox for MAIL/RCPT (no angle brackets). is_from allows ""
 * (null reverse-path); rcpt allows "postmaster". SMTPC_OK or
 * SMTPC_ERR_BAD_ADDRESS. */
int smtpc__check_mailbox(const char *addr, int is_from);
/* The same, with the SMTPC__UTF8_* parts of a valid address in *utf8 (may
 * be NULL): one pass over an ASCII address, as smtpc_session_queue() needs
 * both. */
int smtpc__check_mailbox_utf8(const char *addr, int is_from, unsigned *utf8);
/* Validates a command argument: non-empty, at most 500 octets, no control
 * characters (CR, LF, NUL, ...); octets >= 0x80 pass (UTF-8 SASL names). */
int smtpc__check_arg(const char *arg, int allow_space);

/* Non-ASCII parts of a mailbox (smtpc__addr_utf8()). */
enum { SMTPC__UTF8_LOCAL = 1u << 0, SMTPC__UTF8_DOMAIN = 1u << 1 };
unsigned smtpc__addr_utf8(const char *addr);
/* The length of the well-formed UTF-8 sequence at p[0..n) (1 for ASCII),
 * its code point in *cp (may be NULL); 0 when ill-formed (overlong,
 * surrogate, above U+10FFFF, truncated). */
size_t smtpc__utf8_seq(const unsigned char *p, size_t n, uint32_t *cp);

/* addr (a valid mailbox with a UTF-8 domain and an ASCII local part) with
 * its domain converted by cb, into out (SMTPC__ADDR_BUF octets): "local@"
 * + an RFC 5321 LDH domain.  SMTPC_ERR_IDNA_UNAVAILABLE when cb is NULL or
 * says NOT_SUPPORTED, SMTPC_ERR_NOMEM passed on, SMTPC_ERR_BAD_ADDRESS for
 * any other failure or a result that is not an ASCII domain that fits. */
#define SMTPC__ADDR_BUF 256
int smtpc__addr_alabel(smtpc_idna_cb cb, void *user, const char *addr,
                       char *out);

/* RFC 3461: ENVID at most 100 characters as sent; the ORCPT parameter at
 * most 500 ("ORCPT=" included). */
#define SMTPC__ENVID_MAX 100
#define SMTPC__ORCPT_MAX 500
/* xtext (RFC 3461 4): "+HH" for '+', '=' and octets outside '!'..'~'.
 * dst holds 3 * n + 1; returns the length written (NUL-terminated). */
size_t smtpc__xtext(char *dst, const char *src, size_t n);
/* RFC 6533 3 utf-8-addr-xtext (raw = 0: non-ASCII as \x{HEX}) or
 * utf-8-addr-unitext (raw = 1: non-ASCII as it is).  dst holds 10 * n + 1;
 * 0 for ill-formed UTF-8. */
size_t smtpc__utf8_addr_xtext(char *dst, const char *src, size_t n, int raw);
/* SMTPC_OK if envid is printable US-ASCII of at most 100 characters once
 * xtext-encoded, else SMTPC_ERR_BAD_ARGUMENT. */
int smtpc__check_envid(const char *envid);
/* Writes the ORCPT value for addr into dst (SMTPC__ORCPT_MAX + 1 octets):
 * "rfc822;" + xtext for an ASCII address, "utf-8;" + the RFC 6533 form
 * (raw: with SMTPUTF8) for a UTF-8 one.  SMTPC_ERR_BAD_ARGUMENT when the
 * parameter would pass 500 characters, SMTPC_ERR_BAD_ADDRESS for bad
 * UTF-8. */
int smtpc__orcpt_encode(char *dst, const char *addr, int raw);

/* SMTPC_OK for a valid NOTIFY bit set (NEVER alone), else
 * SMTPC_ERR_INVALID_ARGUMENT (txn.c). */
int smtpc__check_notify(unsigned notify);

/* smtpc__mail_params.body8bit for BODY=BINARYMIME (RFC 3030 3). */
#define SMTPC__BODY_BINARY 2

/* What MAIL carries besides the reverse-path. */
typedef struct smtpc__mail_params {
  int64_t size;      /* SIZE=, or < 0 for none */
  int body8bit;      /* BODY=8BITMIME, or SMTPC__BODY_BINARY: BINARYMIME */
  int smtputf8;      /* SMTPUTF8 */
  int ret;           /* smtpc_dsn_ret: RET=FULL / RET=HDRS, or none */
  const char *envid; /* ENVID=xtext (checked), or NULL */
  int requiretls;    /* REQUIRETLS (RFC 8689) */
} smtpc__mail_params;

/* Appends "MAIL FROM:<from>[ SIZE=n][ BODY=8BITMIME][ SMTPUTF8][ RET=..]
 * [ ENVID=..][ REQUIRETLS]\r\n" and "RCPT TO:<to>[ NOTIFY=..][ ORCPT=orcpt]\r\n"
 * (notify: SMTPC_NOTIFY_* bits, 0 for none; orcpt already encoded, or
 * NULL).  The addresses are not checked here: the caller has had them pass
 * smtpc__check_mailbox() (smtpc_session_queue() checks every address of a
 * transaction when it is queued). */
int smtpc__cmd_mail(smtpc__buf *out, const smtpc_mem *m, const char *from,
                    const smtpc__mail_params *mp);
int smtpc__cmd_rcpt(smtpc__buf *out, const smtpc_mem *m, const char *to,
                    unsigned notify, const char *orcpt);
/* The same without the DSN and REQUIRETLS parameters (mp->ret, mp->envid
 * and mp->requiretls are ignored): what the session links when neither is
 * asked for. */
int smtpc__cmd_mail_plain(smtpc__buf *out, const smtpc_mem *m, const char *from,
                          const smtpc__mail_params *mp);
int smtpc__cmd_rcpt_plain(smtpc__buf *out, const smtpc_mem *m, const char *to);
/* Appends "VERB[ arg]\r\n" (arg may be NULL). */
int smtpc__cmd_simple(smtpc__buf *out, const smtpc_mem *m, const char *verb,
                      const char *arg);

/* ---- body writer (data.c) ------------------------------------------------ */

/* RFC 5321 4.5.3.1.6: 998 octets of text plus CRLF, not counting a dot
 * added for transparency. */
#define SMTPC__MAX_BODY_LINE 998

typedef struct smtpc__dot {
  int bol;        /* at the beginning of a line */
  int cr;         /* a CR is pending (not yet known to be CRLF) */
  size_t linelen; /* content octets on the current line (no stuffed dot) */
  int saw8bit;    /* an octet >= 0x80 was seen */
  int reject8bit; /* fail on an 8-bit octet */
  int nostuff;    /* BDAT (RFC 3030): line ends normalised, no dot-stuffing
                     and no "." line at the end; set after smtpc__dot_init() */
  int err;        /* sticky error */
} smtpc__dot;

void smtpc__dot_init(smtpc__dot *d, int reject8bit);
/* Encodes in[] into out[] (normalising bare CR / bare LF to CRLF and stuffing
 * a leading '.'), stopping when out has fewer than 3 free bytes.
 * *consumed gets the input used; returns bytes written, or a negative error
 * (SMTPC_ERR_BODY_LINE_TOO_LONG, SMTPC_ERR_8BIT_UNSUPPORTED). */
smtpc_ssize smtpc__dot_encode(smtpc__dot *d, const unsigned char *in,
                              size_t inlen, unsigned char *out, size_t outcap,
                              size_t *consumed);
/* Writes the pending line end (if any) and "." CRLF (only the line end with
 * nostuff). out needs 5 bytes.  Returns bytes written. */
size_t smtpc__dot_finish(smtpc__dot *d, unsigned char *out);
/* 1 if any octet >= 0x80 is in buf. */
int smtpc__has_8bit(const void *buf, size_t len);

/* ---- base64 (base64.c) ---------------------------------------------------- */

/* The RFC 4648 alphabet, shared with the streaming encoder (mime). */
extern const char smtpc__b64_alphabet[65];
/* Encoded length of n bytes (without NUL); 0 on overflow for huge n. */
size_t smtpc__b64_encoded_len(size_t n);
/* Writes the encoding and a NUL; out needs encoded_len(n) + 1 bytes.
 * Returns the length written (without NUL). */
size_t smtpc__b64_encode(const unsigned char *in, size_t n, char *out);
/* Strict decode (RFC 4648 4): SMTPC_OK, SMTPC_ERR_PROTOCOL for anything
 * malformed, SMTPC_ERR_REPLY_TOO_LARGE when out is too small. */
int smtpc__b64_decode(const char *in, size_t n, unsigned char *out, size_t cap,
                      size_t *outlen);

/* ---- secrets and SASL (auth.c, md5.c / io_mbedtls.c) ---------------------- */

/* Overwrites n bytes in a way the compiler cannot drop. */
void smtpc__wipe(void *p, size_t n);
/* Frees a NUL-terminated secret after wiping it. */
void smtpc__free_secret(const smtpc_mem *m, char *p);
/* HMAC-MD5 (RFC 2104); from mbedTLS when built with it. */
int smtpc__hmac_md5(const unsigned char *key, size_t klen,
                    const unsigned char *msg, size_t mlen,
                    unsigned char out[16]);

/* The mechanism's name on the wire, e.g. "CRAM-MD5". */
const char *smtpc__auth_name(smtpc_auth_mech mech);
/* Chooses a mechanism among the space-separated offered list.  want AUTO
 * picks CRAM-MD5 > PLAIN > LOGIN.  Returns the mechanism, or
 * SMTPC_ERR_AUTH_UNSUPPORTED. */
int smtpc__auth_choose(const char *offered, smtpc_auth_mech want);
/* Appends the raw (not base64) initial response, if the mechanism has one;
 * *has is set to 0 or 1. */
int smtpc__auth_initial(smtpc__buf *out, const smtpc_mem *m,
                        smtpc_auth_mech mech, const char *user,
                        const char *secret, const char *authzid, int *has);
/* Appends the raw response to challenge number step (0-based) of length
 * clen.  SMTPC_ERR_AUTH_BAD_CHALLENGE when the mechanism expects no such
 * challenge. */
int smtpc__auth_respond(smtpc__buf *out, const smtpc_mem *m,
                        smtpc_auth_mech mech, unsigned step,
                        const unsigned char *chal, size_t clen,
                        const char *user, const char *secret);

/* ---- platform hooks (platform_posix.c) ----------------------------------- */

/* Writes the host's FQDN (if gethostname() gives a dotted name) or "" into
 * buf. Returns SMTPC_OK or SMTPC_ERR_INVALID_ARGUMENT if too small. */
int smtpc__platform_fqdn(char *buf, size_t len);
/* 1 if name is a dotted host name fit for EHLO (LDH labels, not localhost). */
int smtpc__platform_name_ok(const char *name);
/* Milliseconds on the monotonic clock (socket deadlines, the pool). */
int64_t smtpc__mono_ms(void);

/* ---- session internals ---------------------------------------------------- */

/* Internal status codes, never returned by a public call (the public codes
 * are -1, -2 and -100 and below). */
#define SMTPC__PENDING (-90) /* an operation or transaction is not done yet */
/* What the session engine waits for (session.c). */
#define SMTPC__NEED_READ (-91)  /* input: a reply is awaited */
#define SMTPC__NEED_WRITE (-92) /* output is ready to be sent */
#define SMTPC__NEED_TLS (-93)   /* the transport is to be upgraded now */

/* Where a session is (session.c: set_phase() is the only writer). */
typedef enum smtpc__phase {
  PH_NEW,       /* not opened */
  PH_GREETING,  /* waiting for the greeting */
  PH_HELLO,     /* EHLO or HELO sent */
  PH_STARTTLS,  /* STARTTLS sent, its reply awaited */
  PH_HANDSHAKE, /* STARTTLS accepted: the transport is to be upgraded */
  PH_AUTH,      /* the AUTH exchange */
  PH_READY,     /* open: transactions and commands */
  PH_QUIT,      /* QUIT answered */
  PH_BROKEN     /* failed: only close and free */
} smtpc__phase;

/* Sees every phase change (tests). */
typedef void (*smtpc__phase_hook)(void *user, smtpc__phase from,
                                  smtpc__phase to);
void smtpc__session_set_phase_hook(smtpc_session *s, smtpc__phase_hook hook,
                                   void *user);
/* The phase, or for a broken session the phase it broke in: where
 * smtpc_session_open() got to (the one-call API maps it to a stage). */
smtpc__phase smtpc__session_phase(const smtpc_session *s);
void smtpc__session_drop_last(smtpc_session *s);
/* 1 if the server takes no more transactions on this connection (RFC 9422
 * MAILMAX reached): the pool retires it. */
int smtpc__session_spent(const smtpc_session *s);
/* Gives t the DSN settings of m (smtpc_msg_set_dsn(), _set_notify()):
 * mime.c, for the one-call API. */
int smtpc__msg_apply_dsn(smtpc_msg *m, smtpc_txn *t);
/* 1 if m asks for DSN. */
int smtpc__msg_dsn_asked(const smtpc_msg *m);
/* Asks REQUIRETLS on t when m does (smtpc_msg_set_requiretls()). */
int smtpc__msg_apply_requiretls(const smtpc_msg *m, smtpc_txn *t);
/* Completes t, queued and not started, with status: nothing is sent. */
void smtpc__session_cancel(smtpc_session *s, smtpc_txn *t, int status);

#endif /* SMTPC_INT_H */
