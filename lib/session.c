/* SPDX-License-Identifier: MIT */
/* The SMTP session engine.
 *
 * One loop (drive) moves the session forward: it flushes pending output,
 * streams a message body when one is open, reads and dispatches replies to
 * the commands in flight, and composes the next commands.  Every command sent
 * pushes an expectation; replies are matched to expectations strictly in
 * order (RFC 2920 3.1: "counting each separate response").  Whenever the
 * transport would block the loop returns SMTPC_ERR_WANT_READ/WANT_WRITE and
 * resumes exactly there on the next call. */
#include "session_int.h"

#include "domain.h"

#include <stdio.h>
#include <string.h>

/* Default I/O buffer sizes (smtpc_session_set_limit() changes them). */
#define IN_CHUNK 16384   /* bytes asked of recv() at once */
#define OUT_HIGH 65536   /* body bytes encoded before flushing */
#define BODY_CHUNK 16384 /* bytes asked of a streamed body at once */
#define BDAT_CHUNK 65536 /* octets of message data per BDAT command */
/* ---- small helpers ------------------------------------------------------- */

static void trace(smtpc_session *s, smtpc_trace_dir dir, const char *line,
                  size_t len) {
  if (s->trace != NULL)
    s->trace(s->trace_user, dir, line, len);
}

/* The one place the phase changes. */
static void set_phase(smtpc_session *s, phase to) {
  if (s->ph == to)
    return;
  if (s->phase_hook != NULL)
    s->phase_hook(s->phase_user, s->ph, to);
  if (to == PH_BROKEN)
    s->broke_in = s->ph;
  s->ph = to;
}

static int is_opening(const smtpc_session *s) {
  return s->ph >= PH_GREETING && s->ph <= PH_AUTH;
}

static int reply_class_error(int code) {
  if (code == 421)
    return SMTPC_ERR_SERVICE_CLOSING;
  if (code >= 500)
    return SMTPC_ERR_REPLY_PERMANENT;
  if (code >= 400)
    return SMTPC_ERR_REPLY_TEMPORARY;
  return SMTPC_ERR_PROTOCOL; /* a 1xx/3xx where none belongs */
}

static unsigned timeout_for(const smtpc_session *s, ex_kind k) {
  switch (k) {
  case EX_GREETING: return s->timeouts[SMTPC_TIMEOUT_GREETING];
  case EX_MAIL: return s->timeouts[SMTPC_TIMEOUT_MAIL];
  case EX_RCPT: return s->timeouts[SMTPC_TIMEOUT_RCPT];
  case EX_DATA: return s->timeouts[SMTPC_TIMEOUT_DATA_INIT];
  case EX_DATA_END: return s->timeouts[SMTPC_TIMEOUT_DATA_END];
#ifndef SMTPC_NO_CHUNKING
  case EX_BDAT: return s->timeouts[SMTPC_TIMEOUT_DATA_BLOCK];
#endif
  default: return s->timeouts[SMTPC_TIMEOUT_OTHER];
  }
}

static void arm(smtpc_session *s, unsigned ms) {
  s->cur_timeout = ms;
  if (s->have_io && s->io.set_timeout != NULL)
    s->io.set_timeout(s->io.ctx, ms);
}

/* 1 if a new MAIL must wait for this reply: all but those that end a
 * message or clean up after one, and the envelope of a message whose body
 * went ahead (its BDAT LAST leaves before the next MAIL, so no reply can
 * put the next envelope inside a message: the danger of DATA's 354). */
static int ex_blocks(ex_kind kind, const smtpc_txn *t) {
  return kind != EX_DATA_END && kind != EX_RSET_TXN && kind != EX_RSET_CHECK &&
         !(t != NULL && TXN_AHEAD(t));
}

static int push_expect(smtpc_session *s, ex_kind kind, smtpc_txn *t,
                       size_t idx) {
  expect *e;
  if (s->ex_head > 0 && s->ex_head == s->ex_len)
    s->ex_head = s->ex_len = 0;
  if (s->ex_len == s->ex_cap) {
    size_t ncap = s->ex_cap ? s->ex_cap * 2 : 16;
    expect *n;
    if (s->ex_head > 0) { /* compact before growing */
      memmove(s->ex, s->ex + s->ex_head,
              (s->ex_len - s->ex_head) * sizeof(*s->ex));
      s->ex_len -= s->ex_head;
      s->ex_head = 0;
    }
    if (s->ex_len == s->ex_cap) {
      if (ncap > SIZE_MAX / sizeof(*s->ex))
        return SMTPC_ERR_NOMEM;
      n = smtpc__realloc(&s->mem, s->ex, ncap * sizeof(*s->ex));
      if (n == NULL)
        return SMTPC_ERR_NOMEM;
      s->ex = n;
      s->ex_cap = ncap;
    }
  }
  e = &s->ex[s->ex_len++];
  if (t != NULL)
    t->pending++;
  s->blocking += (size_t)ex_blocks(kind, t);
  e->kind = kind;
  e->t = t;
  e->idx = idx;
  e->seq = ++s->next_seq;
  return SMTPC_OK;
}

static int compose_mail(smtpc_session *s, smtpc_txn *t) {
  smtpc__mail_params mp;
  const char *from = t->wire_from ? t->wire_from : t->from;
  mp.size = t->body.size;
  mp.body8bit = TXN_BINARY(t) ? SMTPC__BODY_BINARY : t->body8;
  mp.smtputf8 = t->smtputf8;
  mp.ret = 0;
  mp.envid = NULL;
  if (TXN_RTLS(t) != NULL)
    return t->rtls->mail(s, t, &mp, from);
  if (t->dsn_sent)
    return t->dsn->mail(s, t, &mp, from);
  return smtpc__cmd_mail_plain(&s->out, &s->mem, from, &mp);
}

static int compose_rcpt(smtpc_session *s, smtpc_txn *t, size_t idx) {
  const char *to = t->wire_rcpts ? t->wire_rcpts[idx] : t->rcpts[idx];
  if (t->dsn_sent)
    return t->dsn->rcpt(s, t, idx, to);
  return smtpc__cmd_rcpt_plain(&s->out, &s->mem, to);
}

static int dsn_mail(smtpc_session *s, smtpc_txn *t, smtpc__mail_params *mp,
                    const char *from) {
  mp->ret = (int)t->ret;
  mp->envid = t->envid;
  mp->requiretls = 0;
  return smtpc__cmd_mail(&s->out, &s->mem, from, mp);
}

/* RCPT with NOTIFY and ORCPT.  ORCPT goes with every recipient that has
 * NOTIFY or an ORCPT of its own; by default it is the address as sent
 * (RFC 3461 4.2: on first submission it MUST equal the RCPT address), and
 * it is left out when its encoding would pass the 500 characters a server
 * must take.  A caller's ORCPT was checked to fit. */
static int dsn_rcpt(smtpc_session *s, smtpc_txn *t, size_t idx,
                    const char *to) {
  char orcpt[SMTPC__ORCPT_MAX + 1];
  const char *o = NULL, *given = t->orcpt ? t->orcpt[idx] : NULL;
  unsigned notify = t->notify ? t->notify[idx] : 0;
  if ((given != NULL || notify != 0) &&
      smtpc__orcpt_encode(orcpt, given ? given : to, t->smtputf8) == SMTPC_OK)
    o = orcpt;
  return smtpc__cmd_rcpt(&s->out, &s->mem, to, notify, o);
}

const smtpc__dsn_ops smtpc__session_dsn = {dsn_mail, dsn_rcpt};

/* Appends a command line to the output and traces it. */
static int send_cmd(smtpc_session *s, const char *verb, const char *arg,
                    ex_kind kind, smtpc_txn *t, size_t idx) {
  size_t before = s->out.len;
  int rv;
  if (kind == EX_MAIL)
    /* addresses were validated by smtpc_session_queue() */
    rv = compose_mail(s, t);
  else if (kind == EX_RCPT)
    rv = compose_rcpt(s, t, idx);
  else
    rv = smtpc__cmd_simple(&s->out, &s->mem, verb, arg);
  if (rv != SMTPC_OK) {
    s->out.len = before;
    return rv;
  }
  trace(s, SMTPC_TRACE_OUT, (const char *)s->out.data + before,
        s->out.len - before - 2);
  rv = push_expect(s, kind, t, idx);
  if (rv != SMTPC_OK)
    s->out.len = before;
  return rv;
}

/* Sends EHLO or HELO with the configured name, or the default one. */
static int send_hello(smtpc_session *s, int helo) {
  const char *name = s->ehlo_name;
  char def[256];
  int rv;
  if (name == NULL) {
    smtpc_default_ehlo_name(def, sizeof(def));
    name = def;
  }
  rv = send_cmd(s, helo ? "HELO" : "EHLO", name, helo ? EX_HELO : EX_EHLO, NULL,
                0);
  if (rv == SMTPC_OK)
    set_phase(s, PH_HELLO);
  return rv;
}

/* Traces every line of a received reply. */
static void trace_reply(smtpc_session *s, const smtpc_reply *r) {
  size_t i;
  if (s->trace == NULL)
    return;
  for (i = 0; i < r->nlines; i++) {
    const char *l = smtpc_reply_line(r, i);
    trace(s, SMTPC_TRACE_IN, l, strlen(l));
  }
}

/* ---- transactions -------------------------------------------------------- */

static void unlink_txn(smtpc_session *s, smtpc_txn *t) {
  smtpc_txn **pp = &s->head, *prev = NULL;
  while (*pp != NULL && *pp != t) {
    prev = *pp;
    pp = &(*pp)->next;
  }
  if (*pp == t) {
    *pp = t->next;
    if (s->tail == t)
      s->tail = prev;
  }
  t->next = NULL;
}

/* Transactions leave the QUEUED phase strictly in order. */
static void leave_queued(smtpc_session *s, smtpc_txn *t) {
  if (s->queued == t)
    s->queued = t->next;
}

/* Completes a transaction with a status; frees it if nobody holds it. */
static void txn_complete(smtpc_session *s, smtpc_txn *t, int status) {
  if (t->phase == TP_DONE)
    return;
  leave_queued(s, t);
  if (t->phase != TP_QUEUED)
    INFLIGHT_SUB(s);
  if (MULTI_ROUND(t) && status != SMTPC_OK && status != SMTPC_ERR_PARTIAL) {
    /* the round on its way failed without a reply for it (a broken
     * session): its recipients were accepted by RCPT, not delivered.
     * Between rounds (TP_ROUND) the range is a finished round's. */
    size_t i;
    for (i = t->rfirst; i < t->rend && t->phase != TP_ROUND; i++)
      if (t->rreplies[i] != NULL && t->rreplies[i]->code / 100 == 2) {
        smtpc__txn_drop_rcpt_reply(t, i);
        t->accepted--;
      }
    if (t->delivered > 0)
      status = SMTPC_ERR_PARTIAL; /* an earlier round was delivered */
  }
  if (ROUND_TXN(s) == t)
    s->round_txn = NULL;
  t->status = status;
  t->phase = TP_DONE;
  if (s->body_txn == t) {
    s->body_txn = NULL;
    s->bdat_held = 0; /* a chunk held for the envelope is dropped */
  }
  unlink_txn(s, t);
  t->s = NULL;
  if (!t->caller_owned && t->pending == 0)
    smtpc__txn_destroy(t);
}

/* Drops an expectation's hold on its transaction (after its reply was
 * handled, or when the session goes away). */
static void release_txn(smtpc_txn *t) {
  if (t == NULL)
    return;
  t->pending--;
  if (t->pending == 0 && t->phase == TP_DONE && !t->caller_owned)
    smtpc__txn_destroy(t);
}

/* The lines of p[0..n), which holds no LF, split at its CRs (each a bare
 * CR, sent as CRLF): raises *longest to the longest in content octets and
 * adds one octet per CR to *extra.  Returns the last line's length. */
static size_t scan_cr_lines(const unsigned char *p, size_t n, size_t *longest,
                            int64_t *extra) {
  const unsigned char *cr;
  while ((cr = memchr(p, '\r', n)) != NULL) {
    size_t len = (size_t)(cr - p);
    if (len > *longest)
      *longest = len;
    (*extra)++;
    p = cr + 1;
    n -= len + 1;
  }
  if (n > *longest)
    *longest = n;
  return n;
}

/* Scans a memory body once, line by line with memchr, by the rules of the
 * body writer: the longest line in content octets (RFC 5321 4.5.3.1.6: a
 * dot added for transparency does not count, so a 998-octet line starting
 * with "." is legal), its size on the wire with line ends normalised to
 * CRLF, and whether it has 8-bit octets -- for the SIZE and BODY parameters
 * and to refuse a message before MAIL.  Only that: the caller may change
 * the body before it is sent, so the body writer checks and encodes every
 * octet again (the scan never lets anything through unencoded). */
static void scan_body(const unsigned char *p, size_t n, size_t *maxline,
                      int64_t *wire, int *has8) {
  const unsigned char *end = p + n;
  size_t longest = 0;
  int64_t extra = 0; /* octets added by normalising line ends */
  *has8 = smtpc__has_8bit(p, n);
  while (p < end) {
    const unsigned char *lf = memchr(p, '\n', (size_t)(end - p)), *eol = lf;
    size_t last;
    if (lf == NULL)
      eol = end;
    else if (lf > p && lf[-1] == '\r')
      eol = lf - 1; /* CR LF */
    else
      extra++; /* bare LF becomes CRLF */
    last = scan_cr_lines(p, (size_t)(eol - p), &longest, &extra);
    if (lf == NULL) {
      if (last > 0)
        extra += 2; /* no final line end */
      break;
    }
    p = lf + 1;
  }
  *maxline = longest;
  *wire = (int64_t)n + extra;
}

static int use_pipelining(const smtpc_session *s) {
  return s->pipelining && (s->caps.flags & SMTPC__CAP_PIPELINING);
}

static int begin_body(smtpc_session *s, smtpc_txn *t) {
  t->phase = TP_BODY;
  if (!TXN_AHEAD(t)) /* else the step stays with the envelope's replies */
    t->step = SMTPC_STEP_BODY;
  s->body_txn = t;
  smtpc__dot_init(&s->dot, t->reject8);
  s->dot.nostuff = TXN_BDAT(t);
  s->chunk_len = s->chunk_off = 0;
  s->bdat_len = 0;
  s->bdat_held = 0;
  arm(s, s->timeouts[SMTPC_TIMEOUT_DATA_BLOCK]);
  return SMTPC_OK;
}

/* 1 while replies to the envelope of a body that went ahead are awaited
 * (every RCPT of such a message went in its first group). */
static int envelope_pending(const smtpc_txn *t) {
  return t->answered < TXN_REND(t);
}

/* Composes the next group of RCPT commands: with PIPELINING up to
 * RCPT_GROUP of them followed by DATA when they are the last (RFC 2920:
 * MAIL, every RCPT and DATA in one group); without, a single RCPT. */
static int send_rcpt_group(smtpc_session *s, smtpc_txn *t) {
  size_t end = t->rcpt_sent + (use_pipelining(s) ? RCPT_GROUP : 1);
  int rv;
  if (end > TXN_REND(t))
    end = TXN_REND(t);
  while (t->rcpt_sent < end) {
    if ((rv = send_cmd(s, NULL, NULL, EX_RCPT, t, t->rcpt_sent)) != SMTPC_OK)
      return rv;
    t->rcpt_sent++;
  }
  /* BDAT waits for every envelope reply (RFC 3030 2) */
  if (t->rcpt_sent == TXN_REND(t) && use_pipelining(s) && !TXN_BDAT(t))
    return send_cmd(s, "DATA", NULL, EX_DATA, t, 0);
  return SMTPC_OK;
}

/* Sends the RSET owed before the next MAIL: the health check of a reused
 * connection, or the clean-up after a failed transaction. */
static int send_rset_if_owed(smtpc_session *s) {
  if (s->need_check) {
    s->need_check = 0;
    s->need_rset = 0;
    s->check_pending = 1;
    return send_cmd(s, "RSET", NULL, EX_RSET_CHECK, NULL, 0);
  }
  if (s->need_rset) {
    s->need_rset = 0;
    return send_cmd(s, "RSET", NULL, EX_RSET_TXN, NULL, 0);
  }
  return SMTPC_OK;
}

/* 1 if the header section of a message in memory (up to the first empty
 * line) holds an octet above 127: UTF-8 header fields (RFC 6532). */
static int header_has8(const unsigned char *p, size_t n) {
  size_t i;
  int bol = 1;
  for (i = 0; i < n; i++) {
    if (p[i] >= 0x80)
      return 1;
    if (p[i] == '\n') {
      if (bol)
        return 0;
      bol = 1;
    } else if (p[i] != '\r') {
      bol = 0;
    }
  }
  return 0;
}

/* "local@" + the A-label form of the domain, or NULL with *rv set. */
static char *to_alabel(smtpc_session *s, const char *addr, int *rv) {
  char buf[SMTPC__ADDR_BUF], *out;
  if ((*rv = smtpc__addr_alabel(s->idna, s->idna_user, addr, buf)) != SMTPC_OK)
    return NULL;
  if ((out = smtpc__strdup(&s->mem, buf)) == NULL)
    *rv = SMTPC_ERR_NOMEM;
  return out;
}

/* The A-label form of every address with a UTF-8 domain. */
static int make_wire(smtpc_session *s, smtpc_txn *t) {
  size_t i;
  int rv = SMTPC_OK;
  if (smtpc__addr_utf8(t->from) &&
      (t->wire_from = to_alabel(s, t->from, &rv)) == NULL)
    return rv;
  if ((t->wire_rcpts = smtpc__malloc(&s->mem, t->nrcpt * sizeof(char *))) ==
      NULL)
    return SMTPC_ERR_NOMEM;
  for (i = 0; i < t->nrcpt; i++)
    t->wire_rcpts[i] = NULL;
  for (i = 0; i < t->nrcpt; i++) {
    const char *a = t->rcpts[i];
    if (smtpc__addr_utf8(a) == 0)
      t->wire_rcpts[i] = smtpc__strdup(&s->mem, a), rv = SMTPC_ERR_NOMEM;
    else
      t->wire_rcpts[i] = to_alabel(s, a, &rv);
    if (t->wire_rcpts[i] == NULL)
      return rv;
  }
  return SMTPC_OK;
}

const smtpc__idna_ops smtpc__session_idna = {make_wire};

/* SMTPUTF8 (RFC 6531 3.2, 3.4) and DSN (RFC 3461 5.2.2) against what the
 * server offers.  SMTPUTF8 goes on MAIL exactly when an address or the
 * header is UTF-8 and the server offers it; without it a UTF-8 local part
 * or header cannot be sent at all, and a UTF-8 domain goes as an A-label.
 * A transaction that cannot be sent completes here, before MAIL. */
static int check_intl(smtpc_session *s, smtpc_txn *t, int has8) {
  const smtpc__caps *c = &s->caps;
  int hdr8 = t->body.type == SMTPC_BODY_SMTPUTF8 ||
             (t->body.type == SMTPC_BODY_AUTO && t->body.read == NULL && has8 &&
              header_has8(t->body.data, t->body.len));
  int rv;
  smtpc__txn_free_wire(t); /* a transaction retried on a new connection */
  t->smtputf8 = 0;
  t->dsn_sent = 0;
  if (TXN_RTLS(t) != NULL && (rv = t->rtls->check(s, t)) != SMTPC_OK) {
    txn_complete(s, t, rv);
    return SMTPC_OK;
  }
  if (c->flags & SMTPC__CAP_SMTPUTF8) {
    t->smtputf8 = hdr8 || t->utf8 != 0;
  } else if (hdr8 || (t->utf8 & SMTPC__UTF8_LOCAL)) {
    txn_complete(s, t, SMTPC_ERR_SMTPUTF8_UNSUPPORTED);
    return SMTPC_OK;
  } else if (t->utf8 & SMTPC__UTF8_DOMAIN) {
    rv = s->idna_ops != NULL && s->idna != NULL ? s->idna_ops->wire(s, t)
                                                : SMTPC_ERR_IDNA_UNAVAILABLE;
    if (rv != SMTPC_OK) {
      smtpc__txn_free_wire(t);
      if (rv == SMTPC_ERR_NOMEM)
        return rv;
      txn_complete(s, t, rv);
      return SMTPC_OK;
    }
  }
  if (t->dsn_asked && t->dsn != NULL) {
    if (c->flags & SMTPC__CAP_DSN) {
      t->dsn_sent = 1;
    } else if (t->dsn_flags & SMTPC_DSN_REQUIRED) {
      txn_complete(s, t, SMTPC_ERR_DSN_UNSUPPORTED);
      return SMTPC_OK;
    }
  }
  return SMTPC_OK;
}

/* ---- RFC 9422 LIMITS: a message to more recipients (or recipient domains)
 * than the server takes at once goes in several transactions, "rounds" of
 * the same body, each recipient keeping its own result ------------------ */

#ifndef SMTPC_NO_LIMITS
static const char *rcpt_domain(const smtpc_txn *t, size_t i) {
  const char *a = t->wire_rcpts ? t->wire_rcpts[i] : t->rcpts[i];
  const char *at = strrchr(a, '@');
  return at != NULL ? at + 1 : "";
}

/* The end of the round of at most RCPTMAX recipients and RCPTDOMAINMAX
 * distinct domains that starts at recipient first (never empty). */
static size_t round_end(smtpc_session *s, const smtpc_txn *t, size_t first) {
  size_t end = t->nrcpt, dmax = s->caps.rcptdommax, ndom = 0, i, j;
  const char **dom;
  if (s->caps.rcptmax != 0 && end - first > s->caps.rcptmax)
    end = first + s->caps.rcptmax;
  if (dmax == 0 || end - first <= dmax)
    return end;
  /* the distinct domains so far: at most dmax of them are compared */
  if ((dom = smtpc__malloc(&s->mem, dmax * sizeof(*dom))) == NULL)
    return first + 1; /* one recipient is one domain */
  for (i = first; i < end; i++) {
    const char *d = rcpt_domain(t, i);
    for (j = 0; j < ndom && smtpc__strcasecmp(dom[j], d) != 0; j++)
      ;
    if (j == ndom) {
      if (ndom == dmax) {
        end = i;
        break;
      }
      dom[ndom++] = d;
    }
  }
  smtpc__free(&s->mem, dom);
  return end;
}
#else
#define round_end(s, t, first) ((void)(s), (void)(first), (t)->nrcpt)
#endif

static int send_envelope(smtpc_session *s, smtpc_txn *t);

#ifndef SMTPC_NO_CHUNKING
/* BINARYMIME (RFC 3030 3): sets t->binary when the message goes as a
 * binary body, in BDAT chunks whatever SMTPC_FLAG_CHUNKING says.  A body
 * declared binary needs CHUNKING and BINARYMIME, else the transaction
 * completes here.  An AUTO body in memory becomes binary only when it must
 * (a NUL octet or a line over 998 octets) and the server can take it;
 * otherwise it keeps the checks and errors of a text body. */
static void binary_body(smtpc_session *s, smtpc_txn *t) {
  int offered = (s->caps.flags & SMTPC__CAP_CHUNKING) &&
                smtpc__caps_params(&s->caps, "BINARYMIME") != NULL;
  size_t longest = 0;
  int64_t wire;
  int has8;
  t->binary = 0;
  if (t->body.type == SMTPC_BODY_BINARYMIME) {
    if (!offered) {
      txn_complete(s, t, SMTPC_ERR_BINARYMIME_UNSUPPORTED);
      return;
    }
  } else if (t->body.type != SMTPC_BODY_AUTO || t->body.read != NULL ||
             !offered || t->body.len == 0) {
    return;
  } else if (memchr(t->body.data, 0, t->body.len) == NULL) {
    scan_body(t->body.data, t->body.len, &longest, &wire, &has8);
    if (longest <= SMTPC__MAX_BODY_LINE)
      return;
  }
  t->binary = 1;
  s->bdat_ops = &smtpc__session_bdat; /* BDAT even without the flag */
}

/* 1 if a transaction started before t went in BDAT and is not done. */
static int bdat_in_flight(const smtpc_session *s, const smtpc_txn *t) {
  const smtpc_txn *p;
  for (p = s->head; p != NULL && p != t; p = p->next)
    if (p->bdat && p->phase != TP_QUEUED)
      return 1;
  return 0;
}
#endif

/* Checks a queued transaction against the server's extensions and composes
 * its envelope.  A transaction that cannot be sent is completed without a
 * byte reaching the server. */
static int start_txn(smtpc_session *s, smtpc_txn *t) {
  const smtpc__caps *c = &s->caps;
  int has8 = 0, rv;
  int64_t size = t->body.size;
  size_t longest = 0;

  leave_queued(s, t);
#ifndef SMTPC_NO_CHUNKING
  binary_body(s, t);
  if (t->phase == TP_DONE)
    return SMTPC_OK;
#endif
  if (t->body.read == NULL) {
    scan_body(t->body.data, t->body.len, &longest, &size, &has8);
    if (TXN_BINARY(t))
      size = (int64_t)t->body.len; /* sent as it is */
    else if (longest > SMTPC__MAX_BODY_LINE) {
      txn_complete(s, t, SMTPC_ERR_BODY_LINE_TOO_LONG);
      return SMTPC_OK;
    }
  }
  /* SMTPUTF8 first: its error is the specific one for a UTF-8 header */
  if ((rv = check_intl(s, t, has8)) != SMTPC_OK || t->phase == TP_DONE)
    return rv;
  switch (TXN_BINARY(t) ? SMTPC_BODY_BINARYMIME : t->body.type) {
#ifndef SMTPC_NO_CHUNKING
  case SMTPC_BODY_BINARYMIME: /* BODY=BINARYMIME: any octet, no 8BITMIME */
    t->body8 = 0;
    t->reject8 = 0;
    break;
#endif
  case SMTPC_BODY_8BITMIME: t->body8 = 1; break;
  case SMTPC_BODY_SMTPUTF8: t->body8 = 1; break;
  case SMTPC_BODY_7BIT: t->reject8 = 1; break;
  default:
    if (t->body.read == NULL) {
      t->body8 = has8;
      t->reject8 = !has8; /* scanned 7-bit: held to it if the body changes */
    } else if (c->flags & SMTPC__CAP_8BITMIME) {
      t->body8 = 1; /* declaring 8BITMIME for 7-bit content is harmless */
    } else {
      t->reject8 = 1;
    }
    break;
  }
  if (t->body.type == SMTPC_BODY_7BIT && has8) {
    txn_complete(s, t, SMTPC_ERR_8BIT_UNSUPPORTED);
    return SMTPC_OK;
  }
  if (t->body8 && !(c->flags & SMTPC__CAP_8BITMIME) && t->smtputf8) {
    /* RFC 6531 3.1: a server with SMTPUTF8 takes 8-bit data; one that
     * does not also list 8BITMIME gets no BODY parameter it did not offer */
    t->body8 = 0;
    t->reject8 = 0;
  }
  if (t->body8 && !(c->flags & SMTPC__CAP_8BITMIME)) {
    /* RFC 6152 3: never send 8-bit data to a server without 8BITMIME */
    txn_complete(s, t, SMTPC_ERR_8BIT_UNSUPPORTED);
    return SMTPC_OK;
  }
  if (c->flags & SMTPC__CAP_SIZE) {
    /* RFC 1870 6.1: refuse locally what the server said it cannot take */
    if (c->size > 0 && size > c->size) {
      txn_complete(s, t, SMTPC_ERR_MESSAGE_TOO_BIG);
      return SMTPC_OK;
    }
  } else {
    size = -1;
  }
  t->body.size = size;
#ifndef SMTPC_NO_CHUNKING
  t->bdat = t->binary || (s->chunking && s->bdat_ops != NULL &&
                          (c->flags & SMTPC__CAP_CHUNKING));
  /* With PIPELINING the body may follow its envelope at once (RFC 3030
   * 4.2): all of it when it fits in one chunk, else its first chunk waits
   * in memory for the replies, so a refused envelope costs no data. */
#endif
#ifndef SMTPC_NO_LIMITS
  t->rfirst = 0;
  t->rend = round_end(s, t, 0);
#endif
  if (ROUNDS_LEFT(t)) {
    if (t->body.read != NULL && t->body.rewind == NULL) {
      txn_complete(s, t, SMTPC_ERR_RCPT_LIMIT); /* cannot be sent twice */
      return SMTPC_OK;
    }
    s->round_txn = t; /* the next message waits for every round */
  }
#ifndef SMTPC_NO_CHUNKING
  t->ahead =
      t->bdat && use_pipelining(s) && !ROUNDS_LEFT(t) && t->nrcpt <= RCPT_GROUP;
#endif
  return send_envelope(s, t);
}

/* Sends MAIL (after an RSET owed), and with PIPELINING the recipients of
 * this round and DATA, or the start of a body that goes ahead. */
static int send_envelope(smtpc_session *s, smtpc_txn *t) {
  int rv;
#ifndef SMTPC_NO_LIMITS
  if (s->caps.mailmax != 0 && s->mails >= s->caps.mailmax) {
    /* RFC 9422 5.1: no more transactions on this connection */
    txn_complete(s, t, SMTPC_ERR_MAIL_LIMIT);
    return SMTPC_OK;
  }
#endif

  if (TXN_AHEAD(t) && s->inflight > 0)
    /* the outcome of an earlier message is not known yet, and after a
     * failed BDAT "RSET MUST be issued ... before additional commands"
     * (RFC 3030 2): so one goes before every MAIL that follows one */
    s->need_rset = 1;
#ifndef SMTPC_NO_CHUNKING
  else if (s->inflight > 0 && bdat_in_flight(s, t))
    /* the same behind a BDAT message for one that is not sent ahead: a
     * text message with DATA after a binary one */
    s->need_rset = 1;
#endif
  if ((rv = send_rset_if_owed(s)) != SMTPC_OK)
    return rv;
  if ((rv = send_cmd(s, NULL, NULL, EX_MAIL, t, 0)) != SMTPC_OK)
    return rv;
#ifndef SMTPC_NO_LIMITS
  s->mails++;
#endif
  if (t->phase == TP_QUEUED)
    INFLIGHT_ADD(s);
  t->phase = TP_ENVELOPE;
  t->step = SMTPC_STEP_MAIL;
  if (!use_pipelining(s))
    return SMTPC_OK;
  if ((rv = send_rcpt_group(s, t)) != SMTPC_OK || !TXN_AHEAD(t))
    return rv;
  return begin_body(s, t);
}

/* Starts the next round of a message whose previous one has ended. */
static int next_round(smtpc_session *s, smtpc_txn *t) {
  int rv;
  t->rfirst = t->rend;
  t->rend = round_end(s, t, t->rfirst);
  t->racc = 0;
  t->mail_ok = 0;
  t->body_off = 0;
  t->body_octets = 0; /* counted per transaction, like the trace says */
  if (t->rend == t->nrcpt)
    s->round_txn = NULL; /* the last round: later messages may follow */
  if (t->body.read != NULL && (rv = t->body.rewind(t->body.ctx)) != SMTPC_OK) {
    txn_complete(s, t, rv == SMTPC_ERR_NOMEM ? rv : SMTPC_ERR_BODY_READ);
    return SMTPC_OK;
  }
  return send_envelope(s, t);
}

/* A round has ended with status: the next one waits for start_queued(),
 * or the message is complete. */
static int round_done(smtpc_session *s, smtpc_txn *t, int status) {
  if (ROUNDS_LEFT(t)) {
    t->phase = TP_ROUND;
    return SMTPC_OK;
  }
  txn_complete(s, t, status);
  return SMTPC_OK;
}

/* In a message of several rounds, the recipients a failed round had
 * accepted get the reply that refused the message as their outcome. */
static int mark_round(smtpc_txn *t, smtpc_reply *r) {
  size_t i;
  int rv;
  if (!MULTI_ROUND(t))
    return SMTPC_OK; /* one round: the transaction's status says it */
  for (i = t->rfirst; i < t->rend; i++)
    if (t->rreplies[i] != NULL && t->rreplies[i]->code / 100 == 2) {
      if (r->code / 100 == 2) /* a 2xx out of place (a protocol error) */
        smtpc__txn_drop_rcpt_reply(t, i);
      else if ((rv = smtpc__txn_keep_rcpt_reply(t, i, r)) != SMTPC_OK)
        return rv;
      t->accepted--; /* accepted by RCPT, not delivered */
    }
  return SMTPC_OK;
}

/* The next transaction whose envelope has not been sent. */
static smtpc_txn *next_queued(const smtpc_session *s) { return s->queued; }

/* Starts queued transactions while that is allowed: one at a time, or, with
 * PIPELINING, the next one's envelope right behind a finished body. */
static int start_queued(smtpc_session *s) {
  smtpc_txn *t;
  int rv;
  while ((t = ROUND_TXN(s) != NULL ? ROUND_TXN(s) : next_queued(s)) != NULL) {
    if (t == ROUND_TXN(s) && t->phase != TP_ROUND)
      return SMTPC_OK; /* its current round is still on its way */
    /* Only one envelope may be outstanding, and no body: the DATA reply
     * decides what comes next.  DATA ends a group (RFC 2920 3.1): while any
     * envelope reply is outstanding (even of a transaction that already
     * failed) a new MAIL could end up inside a message if DATA were
     * answered 354.  Only end-of-data or RSET replies may be on their way
     * (s->blocking counts the others). */
    if (s->body_txn != NULL || s->blocking > 0 || WINDOW_FULL(s))
      return SMTPC_OK;
    if (s->ex_len > s->ex_head && !use_pipelining(s))
      return SMTPC_OK; /* without pipelining wait for every reply */
    if (!use_pipelining(s) && (s->need_check || s->need_rset))
      /* RSET alone; MAIL follows its reply (RFC 5321 synchronisation:
       * servers like Exim drop clients that talk ahead) */
      return send_rset_if_owed(s);
    if ((rv = t == ROUND_TXN(s) ? next_round(s, t) : start_txn(s, t)) !=
        SMTPC_OK)
      return rv;
    if (t->phase == TP_ENVELOPE)
      return SMTPC_OK;
  }
  return SMTPC_OK;
}

/* ---- fatal errors -------------------------------------------------------- */

/* Breaks the session: every unfinished transaction gets err. */
static int fail_session(smtpc_session *s, int err) {
  smtpc_txn *t;
  if (s->ph == PH_BROKEN)
    return s->fatal;
  set_phase(s, PH_BROKEN);
  s->fatal = err;
  while ((t = s->head) != NULL)
    txn_complete(s, t, err);
  if (s->op != OP_NONE && s->op_result == SMTPC__PENDING)
    s->op_result = err;
  if (s->open_result == SMTPC__PENDING)
    s->open_result = err;
  return err;
}

/* Breaks the session for a reason given by a reply: the dialogue is still
 * in step, so QUIT may be sent politely. */
static int fail_sync(smtpc_session *s, int err) {
  int rv = fail_session(s, err);
  s->can_quit = 1;
  return rv;
}

static int session_secure(const smtpc_session *s) {
  if (s->mem_mode)
    return (s->mem_flags & SMTPC_MEM_SECURE) || (s->tls_up && s->mem_secure);
  if (!s->have_io)
    return 0;
  if (s->io.is_secure != NULL)
    return s->io.is_secure(s->io.ctx) > 0; /* 2: encrypted, unverified */
  return s->tls_up;
}

/* REQUIRETLS (RFC 8689 4.2.1): MAIL carries it only over TLS with a
 * verified certificate (a transport reporting 2, encrypted but unverified,
 * does not qualify) and when the EHLO after TLS offers it (what came
 * before TLS was forgotten); otherwise the message MUST NOT be sent. */
static int rtls_check(smtpc_session *s, smtpc_txn *t) {
  t->rtls_sent = 0; /* a transaction retried on a new connection */
  if (!session_secure(s) ||
      (!s->mem_mode && s->io.is_secure != NULL &&
       s->io.is_secure(s->io.ctx) != 1) ||
      smtpc__caps_params(&s->caps, "REQUIRETLS") == NULL)
    return SMTPC_ERR_REQUIRETLS_UNAVAILABLE;
  t->rtls_sent = 1;
  return SMTPC_OK;
}

/* MAIL with REQUIRETLS after any DSN parameters. */
static int rtls_mail(smtpc_session *s, smtpc_txn *t, smtpc__mail_params *mp,
                     const char *from) {
  if (t->dsn_sent) {
    mp->ret = (int)t->ret;
    mp->envid = t->envid;
  }
  mp->requiretls = 1;
  return smtpc__cmd_mail(&s->out, &s->mem, from, mp);
}

const smtpc__rtls_ops smtpc__session_rtls = {rtls_check, rtls_mail};

/* 1 if the transport can be upgraded after STARTTLS. */
static int can_starttls(const smtpc_session *s) {
  if (s->mem_mode)
    return (s->mem_flags & SMTPC_MEM_STARTTLS) != 0;
  return s->have_io && s->io.starttls != NULL;
}

static void become_ready(smtpc_session *s) {
  set_phase(s, PH_READY);
  s->open_result = SMTPC_OK;
}

/* Wipes and frees a buffer that held secret material. */
static void wipe_buf(smtpc_session *s, smtpc__buf *b) {
  if (b->data != NULL)
    smtpc__wipe(b->data, b->cap);
  smtpc__buf_free(b, &s->mem);
}

/* Appends an AUTH line ("AUTH MECH [resp]" or a bare response) with raw
 * bytes base64-encoded; traces it redacted; wipes the raw bytes. */
static int send_auth_line(smtpc_session *s, const char *mech, smtpc__buf *raw,
                          int has, ex_kind kind) {
  size_t enc = smtpc__b64_encoded_len(smtpc__buf_avail(raw));
  size_t before = s->out.len, need;
  int rv;
  char *line;
  need = (mech ? strlen(mech) + 6 : 0) + enc + 4;
  s->out.wipe = 1; /* wiped once flushed, moved or freed */
  if (enc == 0 && smtpc__buf_avail(raw) > 0)
    rv = SMTPC_ERR_NOMEM;
  else
    rv = smtpc__buf_reserve(&s->out, &s->mem, need);
  if (rv == SMTPC_OK) {
    line = (char *)s->out.data + s->out.len;
    if (mech != NULL) {
      memcpy(line, "AUTH ", 5);
      memcpy(line + 5, mech, strlen(mech));
      s->out.len += 5 + strlen(mech);
    }
    if (has) {
      if (mech)
        s->out.data[s->out.len++] = ' ';
      if (smtpc__buf_avail(raw) == 0) {
        /* RFC 4954 4: an empty initial response is "="; an empty answer to
         * a challenge is an empty line */
        if (mech != NULL)
          s->out.data[s->out.len++] = '=';
      } else
        s->out.len +=
            smtpc__b64_encode(smtpc__buf_head(raw), smtpc__buf_avail(raw),
                              (char *)s->out.data + s->out.len);
    }
    memcpy(s->out.data + s->out.len, "\r\n", 2);
    s->out.len += 2;
    if (s->trace != NULL) {
      char note[64];
      int k = snprintf(note, sizeof(note), "%s%s%s", mech ? "AUTH " : "",
                       mech ? mech : "",
                       has ? (mech ? " <redacted>" : "<redacted>") : "");
      trace(s, SMTPC_TRACE_OUT, note, k > 0 ? (size_t)k : 0);
    }
    rv = push_expect(s, kind, NULL, 0);
    if (rv != SMTPC_OK) {
      smtpc__wipe(s->out.data + before, s->out.len - before);
      s->out.len = before;
    }
  }
  wipe_buf(s, raw);
  return rv;
}

static int start_auth(smtpc_session *s) {
  smtpc__buf raw = {NULL, 0, 0, 0, 1};
  int rv, has = 0;
  if (!session_secure(s) && !s->allow_plain_auth)
    return fail_sync(s, SMTPC_ERR_AUTH_INSECURE);
  if (!(s->caps.flags & SMTPC__CAP_AUTH))
    return fail_sync(s, SMTPC_ERR_AUTH_UNSUPPORTED);
  rv = smtpc__auth_choose(s->caps.auth, s->auth_want);
  if (rv < 0)
    return fail_sync(s, rv);
  s->auth_mech = (smtpc_auth_mech)rv;
  s->auth_step = 0;
  set_phase(s, PH_AUTH);
  rv = smtpc__auth_initial(&raw, &s->mem, s->auth_mech, s->auth_user,
                           s->auth_secret, s->auth_authzid, &has);
  if (rv == SMTPC_OK)
    rv = send_auth_line(s, smtpc__auth_name(s->auth_mech), &raw, has, EX_AUTH);
  else
    wipe_buf(s, &raw);
  return rv == SMTPC_OK ? SMTPC_OK : fail_session(s, rv);
}

/* TLS or nothing: STARTTLS required, or implicit TLS (secure from the
 * start). */
static int tls_required(const smtpc_session *s) {
  return s->security == SMTPC_SECURITY_STARTTLS ||
         s->security == SMTPC_SECURITY_IMPLICIT;
}

/* Once the connection is as secure as it will get: the TLS policy, then
 * AUTH or ready. */
static int after_security(smtpc_session *s) {
  if (tls_required(s) && !session_secure(s))
    /* RFC 3207 4.1 / RFC 8314: never fall back to clear text */
    return fail_sync(s, SMTPC_ERR_STARTTLS_UNAVAILABLE);
  if (s->auth_user != NULL && s->auth != NULL)
    return s->auth->start(s);
  become_ready(s);
  return SMTPC_OK;
}

/* After an EHLO or HELO: STARTTLS when it is wanted and possible (not after
 * the EHLO that follows a handshake), else on to the policy and AUTH. */
static int after_hello(smtpc_session *s) {
  int rv;
  if (!session_secure(s) && !s->tls_up && s->security != SMTPC_SECURITY_NONE &&
      (s->caps.flags & SMTPC__CAP_STARTTLS) && can_starttls(s)) {
    if ((rv = send_cmd(s, "STARTTLS", NULL, EX_STARTTLS, NULL, 0)) == SMTPC_OK)
      set_phase(s, PH_STARTTLS);
    return rv;
  }
  return after_security(s);
}

/* The most decoded bytes of a challenge kept: more than any mechanism needs
 * (an XOAUTH2 error is a few hundred bytes of JSON). */
#define AUTH_CHALLENGE_MAX 8192

static int on_auth(smtpc_session *s, const smtpc_reply *r) {
  smtpc__buf raw = {NULL, 0, 0, 0, 1};
  unsigned char *chal;
  size_t clen = 0, cap;
  const char *l;
  int rv;
  if (r->code == 235) {
    s->auth_used = s->auth_mech;
    /* the secret is not needed any more */
    smtpc__free_secret(&s->mem, s->auth_secret);
    s->auth_secret = NULL;
    become_ready(s);
    return SMTPC_OK;
  }
  if (r->code != 334)
    return fail_sync(s, SMTPC_ERR_AUTH_FAILED);
  /* "334 " base64 challenge: strictly decoded, bounded */
  l = smtpc_reply_line(r, 0);
  l = strlen(l) > 4 ? l + 4 : "";
  /* on the heap, sized to the challenge: no 8 KiB frame on a small stack */
  cap = strlen(l) / 4 * 3 + 3;
  if (cap > AUTH_CHALLENGE_MAX)
    cap = AUTH_CHALLENGE_MAX;
  if ((chal = smtpc__malloc(&s->mem, cap)) == NULL)
    return fail_session(s, SMTPC_ERR_NOMEM);
  rv = r->nlines == 1 ? smtpc__b64_decode(l, strlen(l), chal, cap, &clen)
                      : SMTPC_ERR_PROTOCOL;
  if (rv == SMTPC_OK)
    rv = smtpc__auth_respond(&raw, &s->mem, s->auth_mech, s->auth_step, chal,
                             clen, s->auth_user, s->auth_secret);
  smtpc__wipe(chal, cap);
  smtpc__free(&s->mem, chal);
  if (rv == SMTPC_ERR_NOMEM) {
    wipe_buf(s, &raw);
    return fail_session(s, rv);
  }
  if (rv != SMTPC_OK) {
    /* RFC 4954 4: cancel with "*"; the server answers 501 */
    wipe_buf(s, &raw);
    rv = smtpc__buf_append(&s->out, &s->mem, "*\r\n", 3);
    if (rv == SMTPC_OK)
      rv = push_expect(s, EX_AUTH_CANCEL, NULL, 0);
    trace(s, SMTPC_TRACE_OUT, "*", 1);
    return rv == SMTPC_OK ? SMTPC_OK : fail_session(s, rv);
  }
  s->auth_step++;
  rv = send_auth_line(s, NULL, &raw, 1, EX_AUTH);
  return rv == SMTPC_OK ? SMTPC_OK : fail_session(s, rv);
}

/* AUTH is reached only through this table, which smtpc_session_set_auth()
 * installs: a program that never sets credentials links none of the AUTH
 * code, SASL mechanisms and MD5 included (-ffunction-sections with
 * --gc-sections; some 3 KiB of a Cortex-M image). */
const smtpc__auth_ops smtpc__session_auth = {start_auth, on_auth};

/* Input nobody asked for, found before sending a new command.  A server
 * shutting down says 421 unprompted (RFC 5321 3.8), possibly in the same
 * segment as its last reply: that is "reconnect".  Anything else is a
 * protocol violation. */
static int unsolicited(smtpc_session *s) {
  size_t consumed = 0;
  const unsigned char *p = smtpc__buf_head(&s->in);
  size_t n = smtpc__buf_avail(&s->in);
  int rv = smtpc__reply_parser_feed(&s->parser, p, n, &consumed);
  if (rv == 1) {
    smtpc_reply *r = NULL;
    smtpc__buf_consume(&s->in, consumed);
    if (smtpc__reply_parser_take(&s->parser, &r) != SMTPC_OK)
      return fail_session(s, SMTPC_ERR_NOMEM);
    smtpc__reply_free(&s->mem, s->last);
    s->last = r;
    trace_reply(s, r);
    return fail_session(s, r->code == 421 ? SMTPC_ERR_SERVICE_CLOSING
                                          : SMTPC_ERR_UNEXPECTED_DATA);
  }
  if (rv == 0 && n >= 3 && memcmp(p, "421", 3) == 0)
    return fail_session(s, SMTPC_ERR_SERVICE_CLOSING);
  return fail_session(s, SMTPC_ERR_UNEXPECTED_DATA);
}

/* ---- reply handling ------------------------------------------------------ */

static int after_txn_failure(smtpc_session *s, smtpc_txn *t, int status) {
  /* MAIL was accepted, so the server holds a transaction: RSET it before
   * the next MAIL (RFC 5321 4.1.1.5) -- unless a later message already
   * went out, which start_txn() sent behind an RSET. */
  if (t->mail_ok && !LATER_IN_FLIGHT(s))
    s->need_rset = 1;
  if (status == SMTPC_ERR_NO_RECIPIENTS && ROUNDS_LEFT(t))
    return round_done(s, t, status); /* the next round may do better */
  if (t->final != NULL && mark_round(t, t->final) != SMTPC_OK)
    return fail_session(s, SMTPC_ERR_NOMEM);
  txn_complete(s, t, status);
  return SMTPC_OK;
}

/* ---- reply handlers: one per expectation kind ---------------------------- */

/* RFC 5321 3.8: a 421 means the server is closing the channel, whatever
 * command it answers (only a QUIT may get it and still succeed).  The one
 * place that rule lives: the transaction the reply belonged to keeps it. */
static int on_421(smtpc_session *s, const expect *e, smtpc_reply *r) {
  smtpc_txn *t = e->t;
  if (t != NULL && t->phase != TP_DONE) {
    smtpc__txn_set_final(t, r);
    if (e->kind == EX_RCPT && t->rreplies[e->idx] == NULL)
      (void)smtpc__txn_keep_rcpt_reply(t, e->idx, r); /* failing anyway */
  }
  return fail_session(s, SMTPC_ERR_SERVICE_CLOSING);
}

static int on_greeting(smtpc_session *s, const smtpc_reply *r) {
  if (r->code == 220)
    return send_hello(s, s->helo_only);
  if (r->code == 554) /* RFC 5321 3.1: wait for QUIT */
    return fail_sync(s, SMTPC_ERR_GREETING_REFUSED);
  return fail_session(s, reply_class_error(r->code));
}

static int on_hello(smtpc_session *s, ex_kind kind, const smtpc_reply *r) {
  int rv;
  if (r->code == 250) {
    if (kind == EX_EHLO) {
      if ((rv = smtpc__caps_parse(&s->caps, &s->mem, r)) != SMTPC_OK)
        return fail_session(s, rv);
      s->parser.enhanced = (s->caps.flags & SMTPC__CAP_ENHANCED) != 0;
    } else {
      smtpc__caps_clear(&s->caps, &s->mem);
    }
    return after_hello(s);
  }
  if (kind == EX_EHLO && r->code >= 500 && r->code != 554)
    /* RFC 5321 3.2: a server that does not know EHLO answers 5xx */
    return send_hello(s, 1);
  return fail_session(s, reply_class_error(r->code));
}

static int on_starttls(smtpc_session *s, const smtpc_reply *r) {
  if (r->code == 220) {
    /* RFC 3207 / CVE-2021-22947 class: any byte already received now
     * arrived in clear after the 220 and could be an injected reply. */
    if (smtpc__buf_avail(&s->in) > 0 || smtpc__reply_parser_busy(&s->parser))
      return fail_session(s, SMTPC_ERR_UNEXPECTED_DATA);
    set_phase(s, PH_HANDSHAKE);
    return SMTPC_OK;
  }
  s->starttls_refused = 1;
  if (tls_required(s))
    return fail_sync(s, SMTPC_ERR_STARTTLS_UNAVAILABLE);
  return after_security(s); /* opportunistic: go on in clear */
}

static int on_rset(smtpc_session *s, ex_kind kind, const smtpc_reply *r) {
  if (kind == EX_RSET_CHECK)
    s->check_pending = 0;
  if (r->code != 250)
    return fail_session(s, reply_class_error(r->code));
  return SMTPC_OK;
}

static int on_op(smtpc_session *s, const smtpc_reply *r) {
  int code = r->code;
  if (s->op == OP_QUIT)
    s->op_result = SMTPC_OK; /* whatever it says, we are leaving */
  else if (code == 250 || (s->op == OP_VRFY && (code == 251 || code == 252)))
    s->op_result = SMTPC_OK;
  else
    s->op_result = reply_class_error(code);
  return SMTPC_OK;
}

static int on_mail(smtpc_session *s, smtpc_txn *t, smtpc_reply *r) {
  if (r->code / 100 == 2) {
    t->mail_ok = 1;
    t->step = SMTPC_STEP_RCPT;
    return use_pipelining(s) ? SMTPC_OK : send_rcpt_group(s, t);
  }
  smtpc__txn_set_final(t, r);
  return after_txn_failure(s, t, reply_class_error(r->code));
}

static int on_rcpt(smtpc_session *s, smtpc_txn *t, size_t idx, smtpc_reply *r) {
  int rv;
  /* keep code, enhanced code and a bounded text */
  if ((rv = smtpc__txn_keep_rcpt_reply(t, idx, r)) != SMTPC_OK)
    return fail_session(s, rv);
  t->answered++;
  if (r->code / 100 == 2) {
    t->accepted++;
    RACC_INC(t);
  }
  if (idx + 1 != t->rcpt_sent)
    return SMTPC_OK; /* more replies of this group to come */
  if (t->rcpt_sent < TXN_REND(t))
    return send_rcpt_group(s, t);
  if (TXN_BDAT(t)) {      /* every envelope reply is in: the chunks may go */
    if (TXN_RACC(t) == 0) /* data already sent gets a refusal, counted */
      return after_txn_failure(s, t, SMTPC_ERR_NO_RECIPIENTS);
    if (!TXN_AHEAD(t))
      return begin_body(s, t);
    if (s->body_txn == t)
      s->bdat_held = 0; /* a held chunk may go now */
    t->step = t->phase == TP_END ? SMTPC_STEP_DATA_END : SMTPC_STEP_BODY;
    return SMTPC_OK;
  }
  if (use_pipelining(s)) {
    t->step = SMTPC_STEP_DATA;
    return SMTPC_OK; /* DATA went with the last group */
  }
  if (TXN_RACC(t) == 0)
    return after_txn_failure(s, t, SMTPC_ERR_NO_RECIPIENTS);
  t->step = SMTPC_STEP_DATA;
  return send_cmd(s, "DATA", NULL, EX_DATA, t, 0);
}

static int on_data(smtpc_session *s, smtpc_txn *t, smtpc_reply *r) {
  int rv;
  if (r->code == 354 && TXN_RACC(t) > 0)
    return begin_body(s, t);
  if (r->code == 354) {
    /* RFC 2920 3.1: DATA accepted though no recipient was: end the
     * (empty) message with a single dot. */
    if ((rv = smtpc__buf_append(&s->out, &s->mem, ".\r\n", 3)) ||
        (rv = push_expect(s, EX_DATA_END, t, 0)))
      return fail_session(s, rv);
    trace(s, SMTPC_TRACE_OUT, ".", 1);
    t->phase = TP_END;
    t->step = SMTPC_STEP_DATA_END;
    return SMTPC_OK;
  }
  smtpc__txn_set_final(t, r);
  return after_txn_failure(s, t,
                           TXN_RACC(t) == 0 ? SMTPC_ERR_NO_RECIPIENTS
                                            : reply_class_error(r->code));
}

static int on_data_end(smtpc_session *s, smtpc_txn *t, smtpc_reply *r) {
  int rv;
  smtpc__txn_set_final(t, r);
  if (TXN_BDAT(t) && r->code / 100 != 2 && !LATER_IN_FLIGHT(s))
    /* RFC 3030 2: after a failed BDAT, LAST included, RSET MUST come
     * before more commands (a later message went behind one already) */
    s->need_rset = 1;
  if (TXN_RACC(t) == 0)
    return round_done(s, t, SMTPC_ERR_NO_RECIPIENTS);
  if (r->code / 100 == 2) {
    if ((rv = smtpc__txn_find_queue_id(t)) != SMTPC_OK)
      return fail_session(s, rv);
    ROUND_DELIVERED(t);
    return round_done(
        s, t, TXN_DELIVERED(t) == t->nrcpt ? SMTPC_OK : SMTPC_ERR_PARTIAL);
  }
  if (mark_round(t, r) != SMTPC_OK)
    return fail_session(s, SMTPC_ERR_NOMEM);
  return round_done(s, t, reply_class_error(r->code));
}

/* A reply to a BDAT chunk that is not the last.  The first refusal ends
 * the transaction: no further chunk goes out (RFC 3030 2: the state is then
 * indeterminate), the replies to chunks already in flight are only
 * counted, and RSET comes before the next MAIL. */
static int on_bdat(smtpc_session *s, smtpc_txn *t, smtpc_reply *r) {
  if (r->code / 100 == 2)
    return SMTPC_OK;
  smtpc__txn_set_final(t, r);
  t->step = SMTPC_STEP_BODY; /* even if the LAST chunk is on its way */
  if (s->body_txn == t)
    s->body_txn = NULL;
  return after_txn_failure(s, t, reply_class_error(r->code));
}

/* A reply to MAIL, RCPT, DATA or the end of data. */
static int on_txn_reply(smtpc_session *s, const expect *e, smtpc_reply *r) {
  smtpc_txn *t = e->t;
  if (t == NULL || t->phase == TP_DONE) {
    /* The transaction already failed; later pipelined replies only need
     * to be counted -- except a 354, after which the server reads message
     * text for a transaction it refused (it should have said 503).  A next
     * envelope would become message text and a "." might deliver a message
     * nobody composed: the session is out of step.  It breaks without QUIT
     * (the server then drops the unfinished message) and is never reused. */
    if (e->kind == EX_DATA && r->code == 354)
      return fail_session(s, SMTPC_ERR_PROTOCOL);
    return SMTPC_OK;
  }
  switch (e->kind) {
  case EX_MAIL: return on_mail(s, t, r);
  case EX_RCPT: return on_rcpt(s, t, e->idx, r);
  case EX_DATA: return on_data(s, t, r);
#ifndef SMTPC_NO_CHUNKING
  case EX_BDAT: return s->bdat_ops->reply(s, t, r); /* only BDAT pushes it */
#endif
  default: return on_data_end(s, t, r);
  }
}

/* The one dispatch: the 421 rule first, then the handler of the kind. */
static int handle_reply(smtpc_session *s, const expect *e, smtpc_reply *r) {
  if (r->code == 421 && !(e->kind == EX_OP && s->op == OP_QUIT)) {
    if (e->kind == EX_RSET_CHECK)
      s->check_pending = 0;
    return on_421(s, e, r);
  }
  switch (e->kind) {
  case EX_GREETING: return on_greeting(s, r);
  case EX_EHLO:
  case EX_HELO: return on_hello(s, e->kind, r);
  case EX_STARTTLS: return on_starttls(s, r);
  case EX_AUTH: return s->auth->reply(s, r); /* only AUTH pushes EX_AUTH */
  case EX_AUTH_CANCEL: return fail_sync(s, SMTPC_ERR_AUTH_BAD_CHALLENGE);
  case EX_RSET_CHECK:
  case EX_RSET_TXN: return on_rset(s, e->kind, r);
  case EX_OP: return on_op(s, r);
  case EX_MAIL:
  case EX_RCPT:
  case EX_DATA:
  case EX_BDAT:
  case EX_DATA_END: return on_txn_reply(s, e, r);
  }
  return fail_session(s, SMTPC_ERR_INTERNAL);
}

/* ---- the engine ---------------------------------------------------------- */

static int io_error(smtpc_session *s, smtpc_ssize rv) {
  int err = (int)rv;
  if (rv >= 0 || rv < -999)
    err = SMTPC_ERR_CALLBACK;
  /* A connection that died while the health check was outstanding was
   * closed by the server while idle: tell the caller to reconnect. */
  if (s->check_pending && (err == SMTPC_ERR_EOF || err == SMTPC_ERR_IO))
    err = SMTPC_ERR_SERVICE_CLOSING;
  return fail_session(s, err);
}

/* n bytes of output left for the peer. */
static void out_sent(smtpc_session *s, size_t n) {
  smtpc__buf_consume(&s->out, n);
  if (s->body_txn != NULL)
    arm(s, s->timeouts[SMTPC_TIMEOUT_DATA_BLOCK]); /* per block sent */
}

/* Callback mode: writes the output through io.send. */
static int flush(smtpc_session *s) {
  while (smtpc__buf_avail(&s->out) > 0) {
    size_t n = smtpc__buf_avail(&s->out);
    smtpc_ssize w = s->io.send(s->io.ctx, smtpc__buf_head(&s->out), n);
    if (w == SMTPC_ERR_WANT_READ || w == SMTPC_ERR_WANT_WRITE)
      return (int)w;
    if (w <= 0 || (size_t)w > n)
      return io_error(s, w == 0 ? SMTPC_ERR_CALLBACK : w);
    out_sent(s, (size_t)w);
  }
  return SMTPC_OK;
}

/* Callback mode: reads what io.recv has into the input buffer. */
static int recv_some(smtpc_session *s) {
  smtpc_ssize n;
  int rv;
  if ((rv = smtpc__buf_reserve(&s->in, &s->mem, s->in_chunk)) != SMTPC_OK)
    return fail_session(s, rv);
  n = s->io.recv(s->io.ctx, s->in.data + s->in.len, s->in_chunk);
  if (n == SMTPC_ERR_WANT_READ || n == SMTPC_ERR_WANT_WRITE)
    return (int)n;
  if (n == 0) {
    s->in_eof = 1;
    return SMTPC_OK;
  }
  if (n < 0 || (size_t)n > s->in_chunk)
    return io_error(s, n);
  s->in.len += (size_t)n;
  return SMTPC_OK;
}

/* Aborts a message whose body cannot be completed: the connection is closed
 * before the end-of-data sequence so the server cannot accept a truncated
 * message. */
static int abort_body(smtpc_session *s, int err) {
  smtpc_txn *t = s->body_txn;
  if (s->have_io && s->io.close != NULL)
    s->io.close(s->io.ctx);
  s->have_io = 0;
  smtpc__buf_reset(&s->out); /* memory mode: nothing more may leave */
  if (t != NULL)
    txn_complete(s, t, err);
  return fail_session(s, err);
}

/* Encodes body bytes into the output buffer until it holds OUT_HIGH bytes
 * or the body ends.  Returns OK, WANT_READ (body source not ready) or an
 * error. */
/* Points *src at the next body bytes (*len of them; 0 at the end of the
 * body).  Returns OK, WANT_READ (a streamed source is not ready) or an
 * error (the body is abandoned). */
/* Inlined into both pumps: a program without BDAT links pump_bdat() not
 * at all, and a shared out-of-line copy would cost it ~150 bytes. */
SMTPC__ALWAYS_INLINE int next_body_bytes(smtpc_session *s, smtpc_txn *t,
                                         const unsigned char **src,
                                         size_t *len) {
  if (t->body.read == NULL) {
    *src = (const unsigned char *)t->body.data + t->body_off;
    *len = t->body.len - t->body_off;
    return SMTPC_OK;
  }
  if (s->chunk_off == s->chunk_len) {
    smtpc_ssize n;
    if (s->chunk == NULL &&
        (s->chunk = smtpc__malloc(&s->mem, s->body_chunk)) == NULL)
      return fail_session(s, SMTPC_ERR_NOMEM);
    n = t->body.read(t->body.ctx, s->chunk, s->body_chunk);
    if (n == SMTPC_ERR_WANT_READ)
      return SMTPC_ERR_WANT_READ;
    if (n < 0 || (size_t)n > s->body_chunk)
      return abort_body(s, SMTPC_ERR_BODY_READ);
    s->chunk_len = (size_t)n;
    s->chunk_off = 0;
  }
  *src = s->chunk + s->chunk_off;
  *len = s->chunk_len - s->chunk_off;
  return SMTPC_OK;
}

/* The end of the body: a line end if needed, then "." CRLF. */
static int end_body(smtpc_session *s, smtpc_txn *t) {
  unsigned char fin[5];
  size_t n = smtpc__dot_finish(&s->dot, fin);
  int rv;
  if ((rv = smtpc__buf_append(&s->out, &s->mem, fin, n)) != SMTPC_OK ||
      (rv = push_expect(s, EX_DATA_END, t, 0)) != SMTPC_OK)
    return fail_session(s, rv);
  if (s->trace != NULL) {
    char note[64];
    int k = snprintf(note, sizeof(note), "(%llu octets of message body)",
                     (unsigned long long)t->body_octets);
    trace(s, SMTPC_TRACE_INFO, note, k > 0 ? (size_t)k : 0);
  }
  trace(s, SMTPC_TRACE_OUT, ".", 1);
  t->phase = TP_END;
  t->step = SMTPC_STEP_DATA_END;
  s->body_txn = NULL;
  return SMTPC_OK;
}

/* Emits the filled chunk: "BDAT n[ LAST]" CRLF and its n octets. */
static int emit_chunk(smtpc_session *s, smtpc_txn *t, int last) {
  char cmd[48];
  size_t before = s->out.len;
  int k = snprintf(cmd, sizeof(cmd), "BDAT %lu%s\r\n",
                   (unsigned long)s->bdat_len, last ? " LAST" : "");
  int rv;
  if (k <= 0 || (size_t)k >= sizeof(cmd))
    return fail_session(s, SMTPC_ERR_INTERNAL);
  if ((rv = smtpc__buf_append(&s->out, &s->mem, cmd, (size_t)k)) != SMTPC_OK ||
      (rv = smtpc__buf_append(&s->out, &s->mem, s->bdat, s->bdat_len)) !=
          SMTPC_OK ||
      (rv = push_expect(s, last ? EX_DATA_END : EX_BDAT, t, 0)) != SMTPC_OK) {
    s->out.len = before;
    return fail_session(s, rv);
  }
  trace(s, SMTPC_TRACE_OUT, cmd, (size_t)k - 2);
  s->bdat_len = 0;
  if (!last) {
    s->bdat_out++;
    return SMTPC_OK;
  }
  if (s->trace != NULL) {
    char note[64];
    int n = snprintf(note, sizeof(note), "(%llu octets of message body)",
                     (unsigned long long)t->body_octets);
    trace(s, SMTPC_TRACE_INFO, note, n > 0 ? (size_t)n : 0);
  }
  t->phase = TP_END;
  if (!envelope_pending(t))
    t->step = SMTPC_STEP_DATA_END;
  s->body_txn = NULL;
  return SMTPC_OK;
}

/* 1 while a BDAT body may not send another chunk before a reply. */
SMTPC__ALWAYS_INLINE int bdat_window_full(const smtpc_session *s) {
  return s->body_txn != NULL && TXN_BDAT(s->body_txn) &&
         (s->bdat_held ||
          s->bdat_out >= (use_pipelining(s) ? BDAT_WINDOW : 1u));
}

/* The body in BDAT chunks: each chunk is filled with the encoded body (line
 * ends made CRLF, nothing stuffed) and sent whole with its count.  The
 * chunk that holds the end of the body is the LAST one; only a streamed
 * body that ends exactly at a chunk's end gives "BDAT 0 LAST".  A binary
 * body (BINARYMIME) bypasses the encoder: its octets fill the chunks as
 * they are, with nothing added at the end. */
static int pump_bdat(smtpc_session *s, smtpc_txn *t) {
  /* the encoder wants 3 octets of room; a binary copy needs 1 */
  size_t room = t->binary ? 1 : 3;
  int rv;
  if (s->bdat == NULL &&
      (s->bdat = smtpc__malloc(&s->mem, s->bdat_chunk)) == NULL)
    return fail_session(s, SMTPC_ERR_NOMEM);
  while (smtpc__buf_avail(&s->out) < s->out_high && !bdat_window_full(s)) {
    int last = 0;
    while (s->bdat_len + room <= s->bdat_chunk) {
      const unsigned char *src = NULL;
      size_t srclen = 0, used = 0;
      smtpc_ssize w;
      if ((rv = next_body_bytes(s, t, &src, &srclen)) != SMTPC_OK)
        return rv; /* WANT_READ keeps the chunk filled so far */
      if (srclen == 0) {
        last = 1;
        break;
      }
      if (t->binary) {
        used = s->bdat_chunk - s->bdat_len;
        if (used > srclen)
          used = srclen;
        memcpy(s->bdat + s->bdat_len, src, used);
        w = (smtpc_ssize)used;
      } else {
        w = smtpc__dot_encode(&s->dot, src, srclen, s->bdat + s->bdat_len,
                              s->bdat_chunk - s->bdat_len, &used);
      }
      if (w < 0)
        return abort_body(s, (int)w);
      s->bdat_len += (size_t)w;
      t->body_octets += (uint64_t)w;
      if (t->body.read == NULL)
        t->body_off += used;
      else
        s->chunk_off += used;
      if (w == 0 && used == 0)
        break; /* the encoder needs more room: the chunk is full */
    }
    /* a body in memory that ended with this chunk needs no empty LAST */
    if (!last && t->body.read == NULL && t->body_off == t->body.len &&
        (t->binary ||
         s->bdat_chunk - s->bdat_len >= (s->dot.cr || !s->dot.bol ? 2u : 0u)))
      last = 1; /* room for the final line end, if one is needed */
    if (!last && envelope_pending(t)) {
      s->bdat_held = 1; /* the first chunk waits for the envelope */
      return SMTPC_OK;
    }
    if (last && !t->binary)
      s->bdat_len += smtpc__dot_finish(&s->dot, s->bdat + s->bdat_len);
    if ((rv = emit_chunk(s, t, last)) != SMTPC_OK || last)
      return rv;
  }
  return SMTPC_OK;
}

const smtpc__bdat_ops smtpc__session_bdat = {pump_bdat, on_bdat};

static int pump_body(smtpc_session *s) {
  smtpc_txn *t = s->body_txn;
  int rv;
  if (TXN_BDAT(t))
    return s->bdat_ops->pump(s, t);
  while (smtpc__buf_avail(&s->out) < s->out_high) {
    const unsigned char *src = NULL;
    size_t srclen = 0, used = 0;
    smtpc_ssize w;
    if ((rv = next_body_bytes(s, t, &src, &srclen)) != SMTPC_OK)
      return rv;
    if (srclen == 0)
      return end_body(s, t);
    if ((rv = smtpc__buf_reserve(&s->out, &s->mem, s->out_high)) != SMTPC_OK)
      return fail_session(s, rv);
    /* always encoded: a memory body may have changed since scan_body() */
    w = smtpc__dot_encode(&s->dot, src, srclen, s->out.data + s->out.len,
                          s->out.cap - s->out.len, &used);
    if (w < 0)
      return abort_body(s, (int)w);
    s->out.len += (size_t)w;
    t->body_octets += (uint64_t)w;
    if (t->body.read == NULL)
      t->body_off += used;
    else
      s->chunk_off += used;
  }
  return SMTPC_OK;
}

/* Parses and dispatches one reply from the input.  Returns OK when a reply
 * was handled, SMTPC__NEED_READ when more input is needed. */
static int read_reply(smtpc_session *s) {
  expect e;
  smtpc_reply *r;
  int rv;
  e = s->ex[s->ex_head];
  if (s->armed_seq != e.seq) {
    s->armed_seq = e.seq;
    arm(s, timeout_for(s, e.kind));
  }
  for (;;) {
    size_t consumed = 0;
    if (smtpc__buf_avail(&s->in) > 0) {
      rv = smtpc__reply_parser_feed(&s->parser, smtpc__buf_head(&s->in),
                                    smtpc__buf_avail(&s->in), &consumed);
      smtpc__buf_consume(&s->in, consumed);
      if (rv < 0)
        return fail_session(s, rv);
      if (rv == 1)
        break;
    }
    if (!s->in_eof)
      return SMTPC__NEED_READ;
    /* RFC 5321 3.8: a close without 421 is treated as a 451 for the
     * transaction; after QUIT it is the normal end. */
    if (e.kind == EX_OP && s->op == OP_QUIT) {
      s->ex_head++;
      s->blocking--; /* QUIT blocks */
      s->op_result = SMTPC_OK;
      return SMTPC_OK;
    }
    return io_error(s, SMTPC_ERR_EOF);
  }
  if ((rv = smtpc__reply_parser_take(&s->parser, &r)) != SMTPC_OK)
    return fail_session(s, rv);
  smtpc__reply_free(&s->mem, s->last);
  s->last = r;
  trace_reply(s, r);
  s->ex_head++;
  s->blocking -= (size_t)ex_blocks(e.kind, e.t);
  if (e.kind == EX_BDAT && s->bdat_out > 0)
    s->bdat_out--; /* also for a transaction that already failed */
  rv = handle_reply(s, &e, r);
  release_txn(e.t);
  return rv;
}

/* After the transport's STARTTLS handshake ended with rv: EHLO again over
 * TLS, or the session fails. */
static int finish_starttls(smtpc_session *s, int rv) {
  if (rv != SMTPC_OK) {
    /* transport failures keep their meaning; anything else in the
     * handshake is a TLS failure */
    if (rv != SMTPC_ERR_CERTIFICATE && rv != SMTPC_ERR_NOMEM &&
        rv != SMTPC_ERR_TIMEOUT && rv != SMTPC_ERR_EOF && rv != SMTPC_ERR_IO)
      rv = SMTPC_ERR_TLS;
    return fail_session(s, rv);
  }
  s->tls_up = 1;
  if (!session_secure(s))
    return fail_session(s, SMTPC_ERR_STARTTLS_UNAVAILABLE);
  trace(s, SMTPC_TRACE_INFO, "(TLS handshake complete)", 24);
  /* RFC 3207 4.2: forget everything learned before TLS */
  smtpc__caps_clear(&s->caps, &s->mem);
  s->parser.enhanced = 0;
  if ((rv = send_hello(s, 0)) != SMTPC_OK)
    return fail_session(s, rv);
  return SMTPC_OK;
}

/* The engine: works on the buffered input and composes output until nothing
 * is left to do (or the caller's goal is reached: *goal is no longer
 * SMTPC__PENDING).  It never touches the transport: it returns
 * SMTPC__NEED_WRITE (output to send), SMTPC__NEED_READ (a reply is awaited)
 * or SMTPC__NEED_TLS (upgrade the transport now), and drive() or the
 * memory-mode caller does that. */
static int engine(smtpc_session *s, const int *goal) {
  int rv;
  unsigned rounds = 0;
  for (;;) {
    if (s->ph == PH_BROKEN)
      return s->fatal;
    if (++rounds > 1000000u)
      return fail_session(s, SMTPC_ERR_INTERNAL); /* cannot happen */
    if (s->body_txn != NULL && !bdat_window_full(s) &&
        smtpc__buf_avail(&s->out) < s->out_high) {
      /* body bytes join the commands before them in one write: an
       * envelope and the BDAT chunk behind it leave in one flight */
      if ((rv = pump_body(s)) != SMTPC_OK)
        return rv;
      if (s->body_txn == NULL && s->ph != PH_BROKEN) {
        /* RFC 2920 3.1: the next envelope may share the flight of this
         * body's end. */
        if ((rv = start_queued(s)) != SMTPC_OK)
          return fail_session(s, rv);
      }
      continue;
    }
    if (smtpc__buf_avail(&s->out) > 0) {
      if (s->body_txn == NULL && s->ex_len > s->ex_head &&
          s->armed_seq != s->ex[s->ex_head].seq) {
        /* Commands are being written: the deadline for the first reply
         * covers this write too. */
        s->armed_seq = s->ex[s->ex_head].seq;
        arm(s, timeout_for(s, s->ex[s->ex_head].kind));
      }
      return SMTPC__NEED_WRITE;
    }
    if (s->ph == PH_HANDSHAKE)
      return SMTPC__NEED_TLS;
    if (s->ex_len > s->ex_head) {
      if ((rv = read_reply(s)) != SMTPC_OK)
        return rv;
      if (goal == NULL && s->ph == PH_READY &&
          (rv = start_queued(s)) != SMTPC_OK)
        return fail_session(s, rv);
      continue;
    }
    if (goal != NULL && *goal != SMTPC__PENDING)
      return SMTPC_OK;
    if (goal == NULL && s->ph == PH_READY &&
        (next_queued(s) != NULL ||
         (ROUND_TXN(s) != NULL && ROUND_TXN(s)->phase == TP_ROUND))) {
      if (smtpc__buf_avail(&s->in) > 0)
        return unsolicited(s);
      if ((rv = start_queued(s)) != SMTPC_OK)
        return fail_session(s, rv);
      continue;
    }
    return SMTPC_OK;
  }
}

/* Callback mode is a loop over the engine that does the transport's part
 * with the smtpc_io callbacks; memory mode returns at once with what the
 * caller is to do (WANT_READ: feed input, WANT_WRITE: take output, or
 * upgrade the transport). */
static int drive(smtpc_session *s, const int *goal) {
  unsigned rounds = 0;
  for (;;) {
    int rv = engine(s, goal);
    s->need = rv;
    if (s->mem_mode || rv == SMTPC_OK || rv > SMTPC__NEED_READ ||
        rv < SMTPC__NEED_TLS) {
      if (rv == SMTPC__NEED_READ)
        return SMTPC_ERR_WANT_READ;
      if (rv == SMTPC__NEED_WRITE || rv == SMTPC__NEED_TLS)
        return SMTPC_ERR_WANT_WRITE;
      return rv;
    }
    if (++rounds > 1000000u)
      return fail_session(s, SMTPC_ERR_INTERNAL); /* cannot happen */
    if (rv == SMTPC__NEED_WRITE)
      rv = flush(s);
    else if (rv == SMTPC__NEED_READ)
      rv = recv_some(s);
    else {
      rv = s->io.starttls(s->io.ctx, s->server_name);
      if (rv == SMTPC_ERR_WANT_READ || rv == SMTPC_ERR_WANT_WRITE)
        return rv;
      rv = finish_starttls(s, rv);
    }
    if (rv != SMTPC_OK)
      return rv;
  }
}

/* ---- public API ---------------------------------------------------------- */

int smtpc_session_new(smtpc_session **out, const smtpc_mem *mem) {
  smtpc_mem m;
  smtpc_session *s;
  int rc;
  if (out == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  s = smtpc__new_object(&m, mem, sizeof(*s), &rc);
  if (s == NULL)
    return rc;
  s->mem = m;
  /* RFC 5321 4.5.3.2 minimums */
  s->timeouts[SMTPC_TIMEOUT_GREETING] = 5 * 60 * 1000;
  s->timeouts[SMTPC_TIMEOUT_MAIL] = 5 * 60 * 1000;
  s->timeouts[SMTPC_TIMEOUT_RCPT] = 5 * 60 * 1000;
  s->timeouts[SMTPC_TIMEOUT_DATA_INIT] = 2 * 60 * 1000;
  s->timeouts[SMTPC_TIMEOUT_DATA_BLOCK] = 3 * 60 * 1000;
  s->timeouts[SMTPC_TIMEOUT_DATA_END] = 10 * 60 * 1000;
  s->timeouts[SMTPC_TIMEOUT_OTHER] = 5 * 60 * 1000;
  s->pipelining = 1;
  smtpc__platform_idna(&s->idna, &s->idna_ops);
  s->in_chunk = IN_CHUNK;
  s->out_high = OUT_HIGH;
  s->body_chunk = BODY_CHUNK;
#ifndef SMTPC_NO_CHUNKING
  s->bdat_chunk = BDAT_CHUNK;
  s->window = MESSAGE_WINDOW;
#endif
  s->ph = PH_NEW;
  s->security = SMTPC_SECURITY_NONE; /* zero would be STARTTLS required */
  s->open_result = SMTPC__PENDING;
  s->op_result = SMTPC_OK;
  smtpc__reply_parser_init(&s->parser, &s->mem);
  s->caps.size = -1;
  *out = s;
  return SMTPC_OK;
}

void smtpc_session_free(smtpc_session *s) {
  smtpc_txn *t;
  smtpc_mem m;
  if (s == NULL)
    return;
  m = s->mem;
  while ((t = s->head) != NULL) {
    /* unfinished: the caller may still read it */
    txn_complete(s, t, s->ph == PH_BROKEN ? s->fatal : SMTPC_ERR_INVALID_STATE);
  }
  for (; s->ex_head < s->ex_len; s->ex_head++)
    release_txn(s->ex[s->ex_head].t);
  smtpc__reply_parser_free(&s->parser);
  smtpc__caps_clear(&s->caps, &m);
  smtpc__buf_free(&s->out, &m);
  smtpc__buf_free(&s->in, &m);
  smtpc__reply_free(&m, s->last);
  smtpc__free(&m, s->ex);
  smtpc__free(&m, s->chunk);
#ifndef SMTPC_NO_CHUNKING
  smtpc__free(&m, s->bdat);
#endif
  smtpc__free(&m, s->ehlo_name);
  smtpc__free(&m, s->server_name);
  smtpc__free(&m, s->op_arg);
  smtpc__free(&m, s->auth_user);
  smtpc__free_secret(&m, s->auth_secret);
  smtpc__free(&m, s->auth_authzid);
  smtpc__free(&m, s);
}

int smtpc_session_is_secure(const smtpc_session *s) {
  return s ? session_secure(s) : 0;
}

int smtpc_session_open(smtpc_session *s) {
  int rv;
  if (s == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (s->ph == PH_NEW) {
    if (!s->have_io && !s->mem_mode)
      return SMTPC_ERR_INVALID_STATE;
    set_phase(s, PH_GREETING);
    if ((rv = push_expect(s, EX_GREETING, NULL, 0)) != SMTPC_OK)
      return fail_session(s, rv);
  } else if (!is_opening(s)) {
    return s->ph == PH_BROKEN ? s->fatal : SMTPC_ERR_INVALID_STATE;
  }
  rv = drive(s, &s->open_result);
  if (rv != SMTPC_OK)
    return rv;
  return s->open_result;
}

int smtpc_session_queue(smtpc_session *s, const char *from,
                        const char *const *rcpts, size_t nrcpts,
                        const smtpc_body *body, smtpc_txn **out) {
  smtpc_txn *t;
  size_t i;
  unsigned utf8, u;
  int rv;
  if (out != NULL)
    *out = NULL;
  if (s == NULL || rcpts == NULL || nrcpts == 0 || body == NULL ||
      body->version < 0 || body->version > SMTPC_BODY_VERSION ||
      (body->read == NULL && body->data == NULL && body->len > 0) ||
      (unsigned)body->type > SMTPC_BODY_BINARYMIME)
    return SMTPC_ERR_INVALID_ARGUMENT;
#ifdef SMTPC_NO_CHUNKING
  if (body->type == SMTPC_BODY_BINARYMIME)
    return SMTPC_ERR_NOT_SUPPORTED; /* binary needs BDAT */
#endif
  if (s->ph == PH_BROKEN || s->ph == PH_QUIT)
    return SMTPC_ERR_INVALID_STATE;
  if (nrcpts > SIZE_MAX / sizeof(char *))
    return SMTPC_ERR_INVALID_ARGUMENT;
  if ((rv = smtpc__check_mailbox_utf8(from, 1, &utf8)) != SMTPC_OK)
    return rv;
  for (i = 0; i < nrcpts; i++) {
    if ((rv = smtpc__check_mailbox_utf8(rcpts[i], 0, &u)) != SMTPC_OK)
      return rv;
    utf8 |= u;
  }
  if ((t = smtpc__txn_new(&s->mem, from, rcpts, nrcpts, &rv)) == NULL)
    return rv;
  t->status = SMTPC__PENDING;
  t->utf8 = utf8;
  /* the first layout ends before rewind (left NULL) */
  memcpy(&t->body, body,
         body->version == 0 ? offsetof(smtpc_body, rewind) : sizeof(*body));
  t->nrcpt = nrcpts;
  t->s = s;
  t->caller_owned = out != NULL;
  if (s->tail != NULL)
    s->tail->next = t;
  else
    s->head = t;
  s->tail = t;
  if (s->queued == NULL)
    s->queued = t;
  if (out != NULL)
    *out = t;
  return SMTPC_OK;
}

int smtpc_session_run(smtpc_session *s) {
  int rv;
  if (s == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (s->ph == PH_BROKEN)
    return s->fatal;
  if (s->ph != PH_READY || s->op != OP_NONE)
    return SMTPC_ERR_INVALID_STATE;
  if (s->used && s->head != NULL && s->head->phase == TP_QUEUED &&
      s->ex_len == s->ex_head && smtpc__buf_avail(&s->out) == 0)
    s->need_check = 1; /* connection reused: verify it before MAIL */
  rv = drive(s, NULL);
  if (rv == SMTPC_OK) {
    s->used = 1;
    s->need_check = 0;
  }
  return rv;
}

static int simple_op(smtpc_session *s, op_kind op, const char *verb,
                     const char *arg) {
  int rv;
  if (s == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (s->op == OP_NONE) {
    if (s->ph == PH_BROKEN && op == OP_QUIT && s->can_quit &&
        s->ex_len == s->ex_head && smtpc__buf_avail(&s->out) == 0 &&
        smtpc__buf_avail(&s->in) == 0) {
      /* the dialogue is in step: say goodbye properly */
      set_phase(s, PH_READY);
      s->can_quit = 0;
      s->fatal = SMTPC_OK;
    }
    if (s->ph == PH_BROKEN)
      return op == OP_QUIT ? SMTPC_OK : s->fatal;
    if (s->ph != PH_READY || s->head != NULL)
      return SMTPC_ERR_INVALID_STATE;
    if (smtpc__buf_avail(&s->in) > 0)
      return unsolicited(s);
    if ((rv = send_cmd(s, verb, arg, EX_OP, NULL, 0)) != SMTPC_OK)
      return rv;
    s->op = op;
    s->op_result = SMTPC__PENDING;
  } else if (s->op != op) {
    return SMTPC_ERR_INVALID_STATE;
  }
  rv = drive(s, &s->op_result);
  if (rv == SMTPC_ERR_WANT_READ || rv == SMTPC_ERR_WANT_WRITE)
    return rv;
  rv = s->op_result;
  s->op = OP_NONE;
  if (op == OP_QUIT) {
    set_phase(s, PH_QUIT);
    return rv == SMTPC_ERR_EOF ? SMTPC_OK : rv;
  }
  if (op == OP_RSET && rv == SMTPC_OK)
    s->need_rset = 0;
  if ((op == OP_RSET || op == OP_NOOP) && rv == SMTPC_OK)
    s->used = 0; /* just checked: the next run needs no health check */
  return rv;
}

int smtpc_session_rset(smtpc_session *s) {
  return simple_op(s, OP_RSET, "RSET", NULL);
}

int smtpc_session_noop(smtpc_session *s) {
  return simple_op(s, OP_NOOP, "NOOP", NULL);
}

int smtpc_session_vrfy(smtpc_session *s, const char *what) {
  if (s != NULL && s->op == OP_NONE && smtpc__check_arg(what, 1) != SMTPC_OK)
    return SMTPC_ERR_BAD_ARGUMENT;
  return simple_op(s, OP_VRFY, "VRFY", what);
}

int smtpc_session_quit(smtpc_session *s) {
  return simple_op(s, OP_QUIT, "QUIT", NULL);
}

void smtpc_session_close(smtpc_session *s) {
  if (s == NULL)
    return;
  if (s->have_io && s->io.close != NULL)
    s->io.close(s->io.ctx);
  s->have_io = 0;
  if (s->ph != PH_BROKEN)
    fail_session(s, SMTPC_ERR_EOF);
}

/* ---- memory mode ----------------------------------------------------------- */

/* Unprocessed input a memory-mode session accepts: more than any reply the
 * parser allows, plus a read's worth. */
#define MEM_IN_MAX (1024 * 1024)

int smtpc_session_set_memory_mode(smtpc_session *s, unsigned flags) {
  if (s == NULL || (flags & ~(SMTPC_MEM_SECURE | SMTPC_MEM_STARTTLS)) != 0)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (s->ph != PH_NEW || s->have_io)
    return SMTPC_ERR_INVALID_STATE;
  s->mem_mode = 1;
  s->mem_flags = flags;
  return SMTPC_OK;
}

int smtpc_session_mem_recv(smtpc_session *s, const void *data, size_t len) {
  int rv;
  if (s == NULL || (data == NULL && len > 0))
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (!s->mem_mode || s->in_eof)
    return SMTPC_ERR_INVALID_STATE;
  if (s->ph == PH_BROKEN || len == 0)
    return SMTPC_OK; /* nothing will read it */
  if (smtpc__buf_avail(&s->in) + len > MEM_IN_MAX)
    return SMTPC_ERR_INVALID_STATE; /* run the session first */
  if ((rv = smtpc__buf_append(&s->in, &s->mem, data, len)) != SMTPC_OK)
    return fail_session(s, rv);
  return SMTPC_OK;
}

size_t smtpc_session_mem_send(const smtpc_session *s,
                              const unsigned char **data) {
  if (data != NULL)
    *data = NULL;
  if (s == NULL || data == NULL || !s->mem_mode)
    return 0;
  *data = smtpc__buf_head(&s->out);
  return smtpc__buf_avail(&s->out);
}

int smtpc_session_mem_sent(smtpc_session *s, size_t n) {
  if (s == NULL || !s->mem_mode || n > smtpc__buf_avail(&s->out))
    return SMTPC_ERR_INVALID_ARGUMENT;
  out_sent(s, n);
  return SMTPC_OK;
}

int smtpc_session_mem_error(smtpc_session *s, int err) {
  if (s == NULL ||
      (err != SMTPC_ERR_EOF && err != SMTPC_ERR_IO && err != SMTPC_ERR_TIMEOUT))
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (!s->mem_mode)
    return SMTPC_ERR_INVALID_STATE;
  if (err == SMTPC_ERR_EOF) {
    s->in_eof = 1; /* what was received before still counts */
    return SMTPC_OK;
  }
  return io_error(s, err);
}

int smtpc_session_want_read(const smtpc_session *s) {
  return s != NULL && s->mem_mode && s->ph != PH_BROKEN && !s->in_eof &&
         smtpc__buf_avail(&s->out) == 0 && s->need == SMTPC__NEED_READ;
}

int smtpc_session_want_write(const smtpc_session *s) {
  return s != NULL && s->mem_mode && smtpc__buf_avail(&s->out) > 0;
}

int smtpc_session_want_starttls(const smtpc_session *s) {
  return s != NULL && s->mem_mode && s->ph == PH_HANDSHAKE &&
         smtpc__buf_avail(&s->out) == 0;
}

int smtpc_session_starttls_done(smtpc_session *s, int result, int secure) {
  if (s == NULL || result > 0)
    return SMTPC_ERR_INVALID_ARGUMENT;
  if (!s->mem_mode || !smtpc_session_want_starttls(s))
    return SMTPC_ERR_INVALID_STATE;
  s->mem_secure = secure != 0;
  return finish_starttls(s, result);
}

/* ---- transaction accessors ----------------------------------------------- */

/* Where smtpc_session_open() got to, or failed: the one-call API maps it
 * to its stage. */
smtpc__phase smtpc__session_phase(const smtpc_session *s) {
  return s->ph == PH_BROKEN ? s->broke_in : s->ph;
}

/* Drops the session's reference to its last reply.  The one-call API calls
 * it before a pooled connection changes threads: afterwards the replies a
 * result holds are referenced by that result alone, so freeing it never
 * touches a count the next thread's session may be changing. */
int smtpc__session_spent(const smtpc_session *s) {
#ifndef SMTPC_NO_LIMITS
  return s->caps.mailmax != 0 && s->mails >= s->caps.mailmax;
#else
  (void)s;
  return 0;
#endif
}

void smtpc__session_drop_last(smtpc_session *s) {
  smtpc__reply_free(&s->mem, s->last);
  s->last = NULL;
}

/* Completes a transaction that has not started with status: nothing of it
 * is sent (the one-call API, when setting it up fails after queueing). */
void smtpc__session_cancel(smtpc_session *s, smtpc_txn *t, int status) {
  if (t->s == s && t->phase == TP_QUEUED)
    txn_complete(s, t, status);
}
