/* SPDX-License-Identifier: MIT */
/* heap_per_session -- how much heap one libsmtpc session takes.
 *
 *   heap_per_session [MSGFILE]
 *
 * Runs sessions against an in-process fake SMTP server (the transport
 * callbacks answer every command at once: no socket, no clock), with a
 * counting smtpc_mem allocator, and prints one JSON line per scenario:
 *
 *   one_msg_1rcpt   open, one 1 KiB message (MSGFILE, or a built-in one)
 *                   to 1 recipient, QUIT, free
 *   one_msg_10rcpt  the same with 10 recipients
 *   stream_64mib    one 64 MiB message streamed through a read callback
 *                   (smtpc_body_init_stream), generated on the fly
 *   allocs_per_msg  malloc+realloc calls per message, slope between 1 and
 *                   101 messages on one session (1 recipient)
 *
 * Fields: peak_bytes (most bytes live at once, whole session), peak_io
 * (I/O buffers live at that moment), peak_beyond_io (most bytes live at
 * once in blocks that never served as an I/O buffer), allocs, and for the
 * last scenario allocs_per_msg / frees_per_msg.  A block counts as an I/O
 * buffer when the session hands a pointer into it to the transport's send
 * or recv callback (its output and input buffers).  Sizes are the sizes the
 * library asked for, without malloc's own overhead.
 * Exit 0 when every scenario delivered its messages. */
#include <smtpc/smtpc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- counting allocator ------------------------------------------------- */

#define MAX_BLOCKS 65536
#define MAX_EVENTS 1000000

typedef struct {
  unsigned char *p; /* user pointer, NULL when free */
  size_t size;
  size_t lineage; /* stays the same across realloc */
} block;

typedef struct {
  size_t lineage;
  long long delta;
} event;

typedef struct {
  block blocks[MAX_BLOCKS];
  size_t nblocks;
  event *ev;
  size_t nev;
  unsigned char *io_lineage; /* 1 if the lineage served as an I/O buffer */
  size_t next_lineage;
  size_t cur, peak;
  unsigned long mallocs, reallocs, frees;
  int overflow;
} counter;

static block *find_block(counter *c, const void *p) {
  size_t i;
  for (i = 0; i < c->nblocks; i++)
    if (c->blocks[i].p == p)
      return &c->blocks[i];
  return NULL;
}

static block *containing(counter *c, const void *p) {
  size_t i;
  const unsigned char *q = p;
  for (i = 0; i < c->nblocks; i++)
    if (c->blocks[i].p != NULL && q >= c->blocks[i].p &&
        q <= c->blocks[i].p + c->blocks[i].size)
      return &c->blocks[i];
  return NULL;
}

static void log_event(counter *c, size_t lineage, long long delta) {
  if (c->nev >= MAX_EVENTS || lineage >= MAX_EVENTS) {
    c->overflow = 1;
    return;
  }
  c->ev[c->nev].lineage = lineage;
  c->ev[c->nev].delta = delta;
  c->nev++;
  c->cur = (size_t)((long long)c->cur + delta);
  if (c->cur > c->peak)
    c->peak = c->cur;
}

static block *new_slot(counter *c) {
  size_t i;
  for (i = 0; i < c->nblocks; i++)
    if (c->blocks[i].p == NULL)
      return &c->blocks[i];
  if (c->nblocks == MAX_BLOCKS) {
    c->overflow = 1;
    return NULL;
  }
  return &c->blocks[c->nblocks++];
}

static void *c_malloc(void *user, size_t size) {
  counter *c = user;
  block *b = new_slot(c);
  unsigned char *p;
  if (b == NULL)
    return NULL;
  p = malloc(size ? size : 1);
  if (p == NULL)
    return NULL;
  c->mallocs++;
  b->p = p;
  b->size = size;
  b->lineage = c->next_lineage++;
  log_event(c, b->lineage, (long long)size);
  return p;
}

static void *c_realloc(void *user, void *ptr, size_t size) {
  counter *c = user;
  block *b;
  unsigned char *p;
  if (ptr == NULL)
    return c_malloc(user, size);
  b = find_block(c, ptr);
  if (b == NULL) {
    c->overflow = 1;
    return NULL;
  }
  p = realloc(ptr, size ? size : 1);
  if (p == NULL)
    return NULL;
  c->reallocs++;
  log_event(c, b->lineage, (long long)size - (long long)b->size);
  b->p = p;
  b->size = size;
  return p;
}

static void c_free(void *user, void *ptr) {
  counter *c = user;
  block *b;
  if (ptr == NULL)
    return;
  b = find_block(c, ptr);
  if (b == NULL) {
    c->overflow = 1;
    return;
  }
  c->frees++;
  log_event(c, b->lineage, -(long long)b->size);
  b->p = NULL;
  free(ptr);
}

static void mark_io(counter *c, const void *p) {
  block *b = containing(c, p);
  if (b != NULL && b->lineage < MAX_EVENTS)
    c->io_lineage[b->lineage] = 1;
}

/* Replays the events: peak of everything, I/O bytes at that peak, and the
 * peak of bytes in blocks that never were I/O buffers. */
static void replay(const counter *c, size_t *peak, size_t *peak_io,
                   size_t *peak_beyond) {
  size_t i;
  long long all = 0, io = 0, rest = 0;
  *peak = *peak_io = *peak_beyond = 0;
  for (i = 0; i < c->nev; i++) {
    const event *e = &c->ev[i];
    all += e->delta;
    if (c->io_lineage[e->lineage])
      io += e->delta;
    else
      rest += e->delta;
    if ((size_t)all > *peak) {
      *peak = (size_t)all;
      *peak_io = (size_t)io;
    }
    if ((size_t)rest > *peak_beyond)
      *peak_beyond = (size_t)rest;
  }
}

/* ---- fake server in the transport callbacks ------------------------------ */

typedef struct {
  counter *cnt;
  char out[65536]; /* replies not yet read by the client */
  size_t olen, ooff;
  char line[2048];
  size_t llen;
  int data_mode;
  unsigned char tail[5];
  unsigned long messages;
} fake;

static void queue_reply(fake *f, const char *r) {
  size_t n = strlen(r);
  if (f->ooff == f->olen)
    f->ooff = f->olen = 0;
  if (n <= sizeof(f->out) - f->olen) {
    memcpy(f->out + f->olen, r, n);
    f->olen += n;
  }
}

static void command(fake *f) {
  const char *l = f->line;
  if (strncmp(l, "EHLO", 4) == 0)
    queue_reply(f, "250-fake\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                   "250-SIZE 0\r\n250 ENHANCEDSTATUSCODES\r\n");
  else if (strncmp(l, "MAIL", 4) == 0)
    queue_reply(f, "250 2.1.0 Ok\r\n");
  else if (strncmp(l, "RCPT", 4) == 0)
    queue_reply(f, "250 2.1.5 Ok\r\n");
  else if (strncmp(l, "DATA", 4) == 0) {
    queue_reply(f, "354 End data with <CR><LF>.<CR><LF>\r\n");
    f->data_mode = 1;
    memcpy(f->tail, "\0\0\0\r\n", 5);
  } else if (strncmp(l, "QUIT", 4) == 0)
    queue_reply(f, "221 2.0.0 Bye\r\n");
  else
    queue_reply(f, "250 2.0.0 Ok\r\n");
}

static smtpc_ssize f_send(void *ctx, const unsigned char *buf, size_t len) {
  fake *f = ctx;
  size_t i;
  mark_io(f->cnt, buf);
  for (i = 0; i < len; i++) {
    unsigned char b = buf[i];
    if (f->data_mode) {
      memmove(f->tail, f->tail + 1, 4);
      f->tail[4] = b;
      if (memcmp(f->tail, "\r\n.\r\n", 5) == 0) {
        f->data_mode = 0;
        f->messages++;
        queue_reply(f, "250 2.0.0 Ok: queued as F1\r\n");
      }
      continue;
    }
    if (b == '\n') {
      f->line[f->llen] = '\0';
      command(f);
      f->llen = 0;
    } else if (f->llen + 1 < sizeof(f->line)) {
      f->line[f->llen++] = (char)b;
    }
  }
  return (smtpc_ssize)len;
}

static smtpc_ssize f_recv(void *ctx, unsigned char *buf, size_t len) {
  fake *f = ctx;
  size_t n = f->olen - f->ooff;
  mark_io(f->cnt, buf);
  if (n == 0)
    return SMTPC_ERR_WANT_READ; /* cannot happen: every command is answered */
  if (n > len)
    n = len;
  memcpy(buf, f->out + f->ooff, n);
  f->ooff += n;
  return (smtpc_ssize)n;
}

/* ---- body sources --------------------------------------------------------- */

static const char builtin_msg[] = "From: Bench <bench@example.com>\r\n"
                                  "To: Rcpt <rcpt0@example.com>\r\n"
                                  "Subject: heap_per_session\r\n"
                                  "Message-ID: <heap.0@bench.local>\r\n"
                                  "\r\n"
                                  "A small message.\r\n";

typedef struct {
  unsigned long long left;
  size_t col;
} gen;

/* 76 characters + CRLF per line, "left" octets in all. */
static smtpc_ssize gen_read(void *ctx, unsigned char *buf, size_t len) {
  gen *g = ctx;
  size_t i;
  if (len > g->left)
    len = (size_t)g->left;
  for (i = 0; i < len; i++) {
    if (g->col == 76)
      buf[i] = '\r';
    else if (g->col == 77)
      buf[i] = '\n';
    else
      buf[i] = (unsigned char)('A' + g->col % 26);
    g->col = g->col == 77 ? 0 : g->col + 1;
  }
  g->left -= len;
  return (smtpc_ssize)len;
}

/* ---- scenarios ------------------------------------------------------------ */

typedef struct {
  const unsigned char *msg;
  size_t msglen;
  unsigned long long stream_len; /* > 0: stream this many octets */
  size_t nrcpt;
  unsigned long count;
} scenario;

static int run(const scenario *sc, counter *c, fake *f) {
  smtpc_mem mem = {0};
  smtpc_io io;
  smtpc_session *s = NULL;
  smtpc_body body;
  gen g;
  char addr[16][32];
  const char *rcpts[16];
  unsigned long i;
  size_t k;
  int rc, guard;

  memset(f, 0, sizeof *f);
  f->cnt = c;
  queue_reply(f, "220 fake ESMTP\r\n");
  mem.user = c;
  mem.malloc = c_malloc;
  mem.realloc = c_realloc;
  mem.free = c_free;
  memset(&io, 0, sizeof io);
  io.version = SMTPC_IO_VERSION;
  io.ctx = f;
  io.send = f_send;
  io.recv = f_recv;
  for (k = 0; k < sc->nrcpt && k < 16; k++) {
    snprintf(addr[k], sizeof addr[k], "rcpt%zu@example.com", k);
    rcpts[k] = addr[k];
  }
  if ((rc = smtpc_session_new(&s, &mem)) != SMTPC_OK ||
      (rc = smtpc_session_set_io(s, &io)) != SMTPC_OK ||
      (rc = smtpc_session_set_ehlo_name(s, "bench.local")) != SMTPC_OK)
    goto out;
  for (guard = 0;
       (rc = smtpc_session_open(s)) == SMTPC_ERR_WANT_READ && guard < 100;
       guard++)
    ;
  if (rc != SMTPC_OK)
    goto out;
  for (i = 0; i < sc->count; i++) {
    if (sc->stream_len > 0) {
      g.left = sc->stream_len;
      g.col = 0;
      smtpc_body_init_stream(&body, gen_read, &g, (int64_t)sc->stream_len);
    } else {
      smtpc_body_init_memory(&body, sc->msg, sc->msglen);
    }
    if ((rc = smtpc_session_queue(s, "bench@example.com", rcpts, sc->nrcpt,
                                  &body, NULL)) != SMTPC_OK)
      goto out;
  }
  for (guard = 0;
       (rc = smtpc_session_run(s)) == SMTPC_ERR_WANT_READ && guard < 100;
       guard++)
    ;
  if (rc != SMTPC_OK)
    goto out;
  for (guard = 0;
       (rc = smtpc_session_quit(s)) == SMTPC_ERR_WANT_READ && guard < 100;
       guard++)
    ;
out:
  smtpc_session_free(s);
  if (rc != SMTPC_OK)
    fprintf(stderr, "heap_per_session: %s\n", smtpc_strerror(rc));
  if (f->messages != sc->count) {
    fprintf(stderr, "heap_per_session: %lu of %lu messages delivered\n",
            f->messages, sc->count);
    return -1;
  }
  return rc == SMTPC_OK ? 0 : -1;
}

static counter *counter_new(void) {
  counter *c = calloc(1, sizeof *c);
  if (c == NULL)
    return NULL;
  c->ev = calloc(MAX_EVENTS, sizeof *c->ev);
  c->io_lineage = calloc(MAX_EVENTS, 1);
  if (c->ev == NULL || c->io_lineage == NULL)
    return NULL;
  return c;
}

static void counter_free(counter *c) {
  if (c == NULL)
    return;
  free(c->ev);
  free(c->io_lineage);
  free(c);
}

static int report(const char *name, const scenario *sc) {
  static fake f;
  counter *c = counter_new();
  size_t peak, peak_io, beyond;
  int rc;
  if (c == NULL)
    return -1;
  rc = run(sc, c, &f);
  replay(c, &peak, &peak_io, &beyond);
  printf("{\"scenario\": \"%s\", \"ok\": %s, \"messages\": %lu, "
         "\"rcpts\": %zu, \"body_octets\": %llu, \"peak_bytes\": %zu, "
         "\"peak_io\": %zu, \"peak_beyond_io\": %zu, \"allocs\": %lu, "
         "\"leaked\": %zu, \"overflow\": %d}\n",
         name, rc == 0 ? "true" : "false", sc->count, sc->nrcpt,
         sc->stream_len > 0 ? sc->stream_len : (unsigned long long)sc->msglen,
         peak, peak_io, beyond, c->mallocs + c->reallocs, c->cur, c->overflow);
  counter_free(c);
  return rc;
}

static int allocs_per_msg(const scenario *base) {
  static fake f;
  scenario sc = *base;
  unsigned long a[2], fr[2];
  unsigned long counts[2] = {1, 101};
  int i, rc = 0;
  for (i = 0; i < 2; i++) {
    counter *c = counter_new();
    if (c == NULL)
      return -1;
    sc.count = counts[i];
    if (run(&sc, c, &f) != 0)
      rc = -1;
    a[i] = c->mallocs + c->reallocs;
    fr[i] = c->frees;
    counter_free(c);
  }
  printf("{\"scenario\": \"allocs_per_msg\", \"ok\": %s, \"rcpts\": %zu, "
         "\"allocs_per_msg\": %.2f, \"frees_per_msg\": %.2f}\n",
         rc == 0 ? "true" : "false", sc.nrcpt,
         (double)(a[1] - a[0]) / (double)(counts[1] - counts[0]),
         (double)(fr[1] - fr[0]) / (double)(counts[1] - counts[0]));
  return rc;
}

int main(int argc, char **argv) {
  scenario sc;
  unsigned char *msg = NULL;
  size_t msglen = 0;
  int rc = 0;

  if (argc > 2) {
    fprintf(stderr, "usage: heap_per_session [MSGFILE]\n");
    return 2;
  }
  if (argc == 2) {
    FILE *fp = fopen(argv[1], "rb");
    long n;
    if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) <= 0 ||
        n > (1L << 20) || fseek(fp, 0, SEEK_SET) != 0 ||
        (msg = malloc((size_t)n)) == NULL ||
        fread(msg, 1, (size_t)n, fp) != (size_t)n) {
      fprintf(stderr, "heap_per_session: %s: cannot read (1 MiB at most)\n",
              argv[1]);
      return 2;
    }
    fclose(fp);
    msglen = (size_t)n;
  }
  memset(&sc, 0, sizeof sc);
  sc.msg = msg ? msg : (const unsigned char *)builtin_msg;
  sc.msglen = msg ? msglen : sizeof(builtin_msg) - 1;
  sc.count = 1;
  sc.nrcpt = 1;
  rc |= report("one_msg_1rcpt", &sc);
  sc.nrcpt = 10;
  rc |= report("one_msg_10rcpt", &sc);
  sc.nrcpt = 1;
  sc.stream_len = 64ULL << 20;
  rc |= report("stream_64mib", &sc);
  sc.stream_len = 0;
  rc |= allocs_per_msg(&sc);
  free(msg);
  return rc == 0 ? 0 : 1;
}
