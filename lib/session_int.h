/* SPDX-License-Identifier: MIT */
/* Internals of the session engine shared by session.c (the engine),
 * txn.c (the transaction object) and session_opts.c (options and
 * accessors). */
#ifndef SMTPC_SESSION_INT_H
#define SMTPC_SESSION_INT_H

#include "smtpc_int.h"

/* RCPT commands per pipelined group.  RFC 2920 3.1 warns that a client
 * which writes a whole group before reading can deadlock once the server's
 * replies fill the window; 128 commands (about 5 KiB out, 3 KiB back) stay
 * far below any socket buffer.  Larger envelopes go in several groups. */
#define RCPT_GROUP 128

/* BDAT chunks (not LAST) in flight at once with PIPELINING: a failed chunk
 * makes the server discard the ones after it, so more buys nothing but
 * wasted bytes; without PIPELINING each chunk waits for its reply. */
#define BDAT_WINDOW 4

/* Messages in flight at once by default (SMTPC_LIMIT_MESSAGE_WINDOW): with
 * PIPELINING and BDAT a message needs no reply before the next one's MAIL
 * (RFC 2920 3.1 lists DATA, not BDAT, as a command to wait after), so a
 * queue of small messages leaves in one flight. */
#define MESSAGE_WINDOW 16

/* -DSMTPC_NO_CHUNKING (small targets): no BDAT; the engine's BDAT branches
 * compile away and SMTPC_FLAG_CHUNKING is refused. */
/* Without BDAT no body goes ahead of its envelope's replies, so at most
 * two messages are ever in flight and the window is not tracked. */
#ifdef SMTPC_NO_CHUNKING
#define TXN_BDAT(t) ((void)(t), 0)
#define TXN_BINARY(t) ((void)(t), 0)
#define TXN_AHEAD(t) ((void)(t), 0)
#define INFLIGHT_ADD(s) ((void)(s))
#define INFLIGHT_SUB(s) ((void)(s))
#define WINDOW_FULL(s) ((void)(s), 0)
#define LATER_IN_FLIGHT(s) ((void)(s), 0)
#else
#define TXN_BDAT(t) ((t)->bdat)
#define TXN_BINARY(t) ((t)->binary)
#define TXN_AHEAD(t) ((t)->ahead)
#define INFLIGHT_ADD(s) ((s)->inflight++)
#define INFLIGHT_SUB(s) ((s)->inflight -= (s)->inflight > 0)
#define WINDOW_FULL(s) ((s)->inflight >= (s)->window)
#define LATER_IN_FLIGHT(s) ((s)->inflight > 1)
#endif

/* -DSMTPC_NO_REQUIRETLS (small targets): the engine's two REQUIRETLS hooks
 * compile away and smtpc_txn_set_requiretls() refuses. */
#ifdef SMTPC_NO_REQUIRETLS
#define TXN_RTLS(t) ((void)(t), (const struct smtpc__rtls_ops *)0)
#else
#define TXN_RTLS(t) ((t)->rtls)
#endif

/* -DSMTPC_NO_LIMITS (small targets): RFC 9422 LIMITS are not parsed and a
 * message always goes in one transaction ("round"). */
#ifdef SMTPC_NO_LIMITS
#define ROUNDS_LEFT(t) ((void)(t), 0)
#define ROUND_TXN(s) ((void)(s), (smtpc_txn *)NULL)
#define MULTI_ROUND(t) ((void)(t), 0)
#define TXN_REND(t) ((t)->nrcpt)
#define TXN_RACC(t) ((t)->accepted)
#define RACC_INC(t) ((void)(t))
#define TXN_DELIVERED(t) ((t)->accepted)
#define ROUND_DELIVERED(t) ((void)(t))
#else
#define ROUNDS_LEFT(t) ((t)->rend < (t)->nrcpt)
#define ROUND_TXN(s) ((s)->round_txn)
#define MULTI_ROUND(t) ((t)->rfirst != 0 || (t)->rend != (t)->nrcpt)
#define TXN_REND(t) ((t)->rend) /* the end of the current round */
#define TXN_RACC(t) ((t)->racc) /* recipients accepted in this round */
#define RACC_INC(t) ((t)->racc++)
#define TXN_DELIVERED(t) ((t)->delivered)
#define ROUND_DELIVERED(t) ((t)->delivered += (t)->racc)
#endif

/* What a pending reply answers. */
typedef enum {
  EX_GREETING,
  EX_EHLO,
  EX_HELO,
  EX_RSET_CHECK, /* health check before reusing the connection */
  EX_RSET_TXN,   /* cleans up after a failed transaction */
  EX_MAIL,
  EX_RCPT,
  EX_DATA,
  EX_DATA_END, /* the end of data: "." or BDAT ... LAST */
  EX_BDAT,     /* a BDAT chunk that is not the last (RFC 3030) */
  EX_STARTTLS,
  EX_AUTH,        /* AUTH command or a response to a 334 challenge */
  EX_AUTH_CANCEL, /* "*" sent after a bad challenge (RFC 4954 4) */
  EX_OP           /* RSET / NOOP / VRFY / QUIT called by the user */
} ex_kind;

typedef struct {
  ex_kind kind;
  smtpc_txn *t;
  size_t idx;   /* recipient index for EX_RCPT */
  unsigned seq; /* identifies the wait for set_timeout */
} expect;

typedef enum { OP_NONE, OP_RSET, OP_NOOP, OP_VRFY, OP_QUIT } op_kind;

/* Where the session is.  The opening sequence is PH_GREETING, PH_HELLO,
 * [PH_STARTTLS, PH_HANDSHAKE, PH_HELLO], [PH_AUTH], PH_READY; every change
 * goes through set_phase().  The values are smtpc__phase (smtpc_int.h). */
typedef smtpc__phase phase;

typedef enum {
  TP_QUEUED,   /* nothing sent */
  TP_ENVELOPE, /* MAIL (and maybe RCPT/DATA) sent */
  TP_BODY,     /* 354 received, body streaming */
  TP_END,      /* end-of-data sent, awaiting the final reply */
  TP_ROUND,    /* between two transactions of one message (LIMITS) */
  TP_DONE
} txn_phase;

struct smtpc_txn {
  smtpc_mem mem;
  smtpc_session *s; /* NULL once detached from a freed session */
  smtpc_txn *next;
  char *from;
  char **rcpts;
  smtpc_reply **rreplies;
  size_t nrcpt;
  size_t accepted;
  size_t answered;     /* RCPT replies received */
  size_t rcpt_sent;    /* RCPT commands composed */
  size_t pending;      /* expectations still pointing here */
  size_t rreply_bytes; /* memory taken by rreplies */
  smtpc_step step;
  uint64_t body_octets; /* bytes of body written (after encoding) */
  smtpc_reply *final;
  char *queue_id;
  smtpc_body body;
  size_t body_off; /* bytes of an in-memory body consumed */
  int status;
  txn_phase phase;
  int mail_ok;
  int body8;        /* BODY=8BITMIME declared */
  int reject8;      /* fail on an 8-bit octet (no 8BITMIME declared) */
  int caller_owned; /* the caller holds a pointer */
  int bdat;         /* the body goes in BDAT chunks (RFC 3030) */
  int ahead;        /* BDAT body started before the envelope's replies */
  /* RFC 9422 LIMITS: the recipients [rfirst, rend) go in the current
   * transaction ("round") of this message; racc of them were accepted,
   * delivered counts those of rounds whose end of data was accepted */
  size_t rfirst, rend, racc, delivered;
  int binary;    /* BODY=BINARYMIME: BDAT, octets sent unchanged */
  unsigned utf8; /* SMTPC__UTF8_* of every address, ORed */
  int smtputf8;  /* SMTPUTF8 sent on MAIL */
  /* addresses as sent when they differ from the caller's (A-labels for a
   * server without SMTPUTF8), else NULL */
  char *wire_from;
  char **wire_rcpts;
  /* DSN (RFC 3461): asked for with smtpc_txn_set_dsn()/set_notify() */
  int dsn_asked;
  int dsn_sent; /* the parameters went out (the server offers DSN) */
  unsigned dsn_flags;
  smtpc_dsn_ret ret;
  char *envid;
  unsigned *notify; /* per recipient, or NULL */
  /* &smtpc__session_dsn, set by smtpc_txn_set_dsn()/_set_notify():
   * through a pointer, so a program that never asks for DSN links none of
   * its encoders */
  const struct smtpc__dsn_ops *dsn;
  char **orcpt; /* per recipient as given, or NULL (the RCPT address) */
  /* REQUIRETLS (RFC 8689): &smtpc__session_rtls when asked for with
   * smtpc_txn_set_requiretls(), else NULL (none of it linked) */
  const struct smtpc__rtls_ops *rtls;
  int rtls_sent; /* MAIL carried REQUIRETLS */
};

/* The AUTH steps of session.c, installed by smtpc_session_set_auth(). */
typedef struct smtpc__auth_ops {
  int (*start)(smtpc_session *s);
  int (*reply)(smtpc_session *s, const smtpc_reply *r);
} smtpc__auth_ops;
extern const smtpc__auth_ops smtpc__session_auth;

struct smtpc_session {
  smtpc_mem mem;
  smtpc_io io;
  int have_io;
  int mem_mode;       /* memory mode: the caller moves the bytes */
  unsigned mem_flags; /* SMTPC_MEM_* */
  int mem_secure;     /* memory mode: the upgraded transport is secure */
  int in_eof;         /* the peer closed its side */
  int need;           /* memory mode: what the engine waits for */
  phase ph;
  phase broke_in;               /* the phase PH_BROKEN was entered from */
  smtpc__phase_hook phase_hook; /* tests: sees every phase change */
  void *phase_user;
  int fatal; /* sticky error once PH_BROKEN */
  char *ehlo_name;
  char *server_name;
  unsigned timeouts[7];
  unsigned cur_timeout;
  unsigned armed_seq;
  unsigned next_seq;
  int pipelining; /* flag: use PIPELINING when offered */
  int chunking;   /* flag: use BDAT when CHUNKING is offered */
  const struct smtpc__bdat_ops *bdat_ops; /* set with the flag */
  int helo_only;
  smtpc_trace_cb trace;
  void *trace_user;

  smtpc__reply_parser parser;
  smtpc__caps caps;
  smtpc__buf out;
  smtpc__buf in;
  smtpc_reply *last;
  int open_result; /* result of open(): SMTPC__PENDING until ready
                             or failed */

  expect *ex; /* FIFO of pending replies */
  size_t ex_head, ex_len, ex_cap;

  smtpc_txn *head, *tail; /* incomplete transactions, in order */
  smtpc_txn *queued;      /* first one whose envelope is not yet sent */
  size_t blocking;        /* pending replies a new MAIL must wait for */
  smtpc_txn *body_txn;    /* transaction whose body is streaming */
  smtpc__dot dot;
  unsigned char *chunk; /* read buffer for streamed bodies */
  size_t chunk_len, chunk_off;
  unsigned char *bdat; /* the BDAT chunk being filled (bdat_chunk octets) */
  size_t bdat_len, bdat_chunk;
  unsigned bdat_out;    /* BDAT chunks sent, replies awaited */
  int bdat_held;        /* a full chunk waits for the envelope's replies */
  size_t inflight;      /* transactions past QUEUED and not yet DONE */
  size_t mails;         /* MAIL commands sent on this connection */
  smtpc_txn *round_txn; /* a message with rounds still to start */
  size_t window;        /* most transactions in flight at once */

  int used;          /* a run() has completed on this connection */
  int need_check;    /* send a health-check RSET before the next MAIL */
  int check_pending; /* the health check reply has not arrived yet */
  int need_rset;     /* server holds a failed transaction */

  op_kind op;
  int op_result; /* SMTPC__PENDING while the op is in flight */
  char *op_arg;

  smtpc_security security; /* smtpc_session_set_tls_policy() */
  int starttls_refused;    /* the server did not take STARTTLS */
  int tls_up;              /* the transport was upgraded after STARTTLS */
  int allow_plain_auth;
  smtpc_auth_mech auth_want;
  const struct smtpc__auth_ops *auth; /* set with the credentials */
  smtpc_auth_mech auth_mech;          /* in progress */
  smtpc_auth_mech auth_used;          /* succeeded */
  unsigned auth_step;
  char *auth_user;
  char *auth_secret;
  char *auth_authzid;
  int can_quit;       /* broken by a reply, connection still in sync */
  smtpc_idna_cb idna; /* A-labels for a server without SMTPUTF8 */
  void *idna_user;
  const struct smtpc__idna_ops *idna_ops; /* NULL: no conversion linked */
  size_t in_chunk, out_high, body_chunk;  /* I/O buffer sizes */
};

/* Converting a transaction's UTF-8 domains to A-labels (session.c).  The
 * session reaches it through s->idna_ops, set by the platform's default
 * (smtpc__platform_idna()) or smtpc_session_set_idna(): a port whose
 * platform gives none links none of it. */
typedef struct smtpc__idna_ops {
  int (*wire)(smtpc_session *s, smtpc_txn *t);
} smtpc__idna_ops;
extern const smtpc__idna_ops smtpc__session_idna;
/* The platform's default converter and the ops that use it (POSIX:
 * smtpc_idna_to_ascii() and &smtpc__session_idna; ports may give NULL). */
void smtpc__platform_idna(smtpc_idna_cb *cb, const smtpc__idna_ops **ops);

/* Sending a body in BDAT chunks and taking a chunk's reply (session.c),
 * installed by smtpc_session_set_flag(SMTPC_FLAG_CHUNKING): a program that
 * never asks for BDAT links none of it. */
typedef struct smtpc__bdat_ops {
  int (*pump)(smtpc_session *s, smtpc_txn *t);
  int (*reply)(smtpc_session *s, smtpc_txn *t, smtpc_reply *r);
} smtpc__bdat_ops;
extern const smtpc__bdat_ops smtpc__session_bdat;

/* Composing MAIL and RCPT with DSN parameters (session.c). */
typedef struct smtpc__dsn_ops {
  int (*mail)(smtpc_session *s, smtpc_txn *t, smtpc__mail_params *mp,
              const char *from);
  int (*rcpt)(smtpc_session *s, smtpc_txn *t, size_t idx, const char *to);
} smtpc__dsn_ops;
extern const smtpc__dsn_ops smtpc__session_dsn;

/* REQUIRETLS (session.c): check decides before MAIL whether the
 * transaction may go (SMTPC_OK) or completes with the error returned;
 * mail composes MAIL with the parameter. */
typedef struct smtpc__rtls_ops {
  int (*check)(smtpc_session *s, smtpc_txn *t);
  int (*mail)(smtpc_session *s, smtpc_txn *t, smtpc__mail_params *mp,
              const char *from);
} smtpc__rtls_ops;
extern const smtpc__rtls_ops smtpc__session_rtls;

/* ---- txn.c ----------------------------------------------------------------- */

/* A new transaction for from and rcpts (checked by the caller), in one
 * allocation; NULL with *rv set (NOMEM, or INVALID_ARGUMENT on overflow). */
smtpc_txn *smtpc__txn_new(const smtpc_mem *m, const char *from,
                          const char *const *rcpts, size_t nrcpts, int *rv);
void smtpc__txn_destroy(smtpc_txn *t);
/* Keeps r as the transaction's final reply (a reference, not a copy). */
void smtpc__txn_set_final(smtpc_txn *t, smtpc_reply *r);
/* Sets t->queue_id from the final reply, when it names one. */
int smtpc__txn_find_queue_id(smtpc_txn *t);
/* Frees the A-label copies of the addresses. */
void smtpc__txn_free_wire(smtpc_txn *t);
/* Keeps a bounded copy of the reply to RCPT idx. */
int smtpc__txn_keep_rcpt_reply(smtpc_txn *t, size_t idx, smtpc_reply *r);
/* Forgets the reply kept for RCPT idx (a recipient of a round that was
 * never completed: LIMITS). */
void smtpc__txn_drop_rcpt_reply(smtpc_txn *t, size_t idx);

#endif /* SMTPC_SESSION_INT_H */
