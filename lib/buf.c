/* SPDX-License-Identifier: MIT */
/* A growable byte buffer with a consumed-prefix offset. */
#include "smtpc_int.h"

#include <string.h>

void smtpc__buf_free(smtpc__buf *b, const smtpc_mem *m) {
  if (b->wipe && b->data != NULL)
    smtpc__wipe(b->data, b->cap);
  smtpc__free(m, b->data);
  b->data = NULL;
  b->len = b->off = b->cap = 0;
  b->wipe = 0;
}

/* Moves a secret-holding buffer to a new block of cap bytes: realloc could
 * leave a copy behind in the old block. */
static unsigned char *move_wiped(smtpc__buf *b, const smtpc_mem *m,
                                 size_t cap) {
  unsigned char *p = smtpc__malloc(m, cap);
  if (p == NULL)
    return NULL;
  if (b->data != NULL) {
    memcpy(p, b->data, b->len);
    smtpc__wipe(b->data, b->cap);
    smtpc__free(m, b->data);
  }
  return p;
}

int smtpc__buf_reserve(smtpc__buf *b, const smtpc_mem *m, size_t n) {
  size_t need, cap;
  unsigned char *p;
  if (b->off > 0 && b->cap - b->len < n) {
    /* Compact: drop the consumed prefix before growing. */
    memmove(b->data, b->data + b->off, b->len - b->off);
    if (b->wipe) /* the tail still holds what was moved */
      smtpc__wipe(b->data + b->len - b->off, b->off);
    b->len -= b->off;
    b->off = 0;
  }
  if (b->cap - b->len >= n)
    return SMTPC_OK;
  if (n > SIZE_MAX - b->len)
    return SMTPC_ERR_NOMEM;
  need = b->len + n;
  cap = b->cap ? b->cap : 256;
  while (cap < need) {
    if (cap > SIZE_MAX / 2) {
      cap = need;
      break;
    }
    cap *= 2;
  }
  p = b->wipe ? move_wiped(b, m, cap) : smtpc__realloc(m, b->data, cap);
  if (p == NULL)
    return SMTPC_ERR_NOMEM;
  b->data = p;
  b->cap = cap;
  return SMTPC_OK;
}

int smtpc__buf_append_slow(smtpc__buf *b, const smtpc_mem *m, const void *p,
                           size_t n) {
  int rv = smtpc__buf_reserve(b, m, n);
  if (rv != SMTPC_OK)
    return rv;
  if (n > 0)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  return SMTPC_OK;
}

int smtpc__buf_append_str(smtpc__buf *b, const smtpc_mem *m, const char *s) {
  return smtpc__buf_append(b, m, s, strlen(s));
}

void smtpc__buf_consume(smtpc__buf *b, size_t n) {
  b->off += n;
  if (b->off >= b->len) {
    if (b->wipe) {
      smtpc__wipe(b->data, b->cap);
      b->wipe = 0;
    }
    b->off = b->len = 0;
  }
}

void smtpc__buf_reset(smtpc__buf *b) {
  if (b->wipe && b->data != NULL) {
    smtpc__wipe(b->data, b->cap);
    b->wipe = 0;
  }
  b->off = b->len = 0;
}
