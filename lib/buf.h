/* SPDX-License-Identifier: MIT */
/* The growable byte buffer (buf.c): the session's input and output, the
 * reply parser's lines, the SASL exchanges.  A buffer that held a secret is
 * marked and wiped. */
#ifndef SMTPC_BUF_H
#define SMTPC_BUF_H

#include <smtpc/base.h>

#include <stddef.h>
#include <string.h>

typedef struct smtpc__buf {
  unsigned char *data;
  size_t len; /* bytes held */
  size_t off; /* bytes already consumed from the front */
  size_t cap;
  int wipe; /* holds or held a secret: every byte is wiped before the
                 block is freed or left behind by a move, and the whole
                 block once it has been consumed to the end */
} smtpc__buf;

/* Frees the block (wiping it first when b->wipe is set). */
void smtpc__buf_free(smtpc__buf *b, const smtpc_mem *m);
/* Ensures room for n more bytes after len (compacting consumed bytes). */
int smtpc__buf_reserve(smtpc__buf *b, const smtpc_mem *m, size_t n);
int smtpc__buf_append_slow(smtpc__buf *b, const smtpc_mem *m, const void *p,
                           size_t n);
#ifdef __OPTIMIZE_SIZE__
/* -Os (small targets): one out-of-line copy of the code. */
#define smtpc__buf_append smtpc__buf_append_slow
#else
/* Appends n bytes.  Inline: the common case (room left) is a memcpy; this
 * runs a few dozen times per message (commands, reply lines). */
static inline int smtpc__buf_append(smtpc__buf *b, const smtpc_mem *m,
                                    const void *p, size_t n) {
  if (n > 0 && b->cap - b->len >= n) {
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return SMTPC_OK;
  }
  return smtpc__buf_append_slow(b, m, p, n);
}
#endif
int smtpc__buf_append_str(smtpc__buf *b, const smtpc_mem *m, const char *s);
/* Unconsumed bytes. */
static inline size_t smtpc__buf_avail(const smtpc__buf *b) {
  return b->len - b->off;
}
static inline unsigned char *smtpc__buf_head(const smtpc__buf *b) {
  /* an unallocated buffer has no head (NULL + 0 is undefined in C) */
  return b->data != NULL ? b->data + b->off : b->data;
}
/* Consumes n bytes; a buffer consumed to the end starts again at offset 0,
 * and one marked wipe is wiped whole and unmarked then. */
void smtpc__buf_consume(smtpc__buf *b, size_t n);
void smtpc__buf_reset(smtpc__buf *b);

#endif /* SMTPC_BUF_H */
