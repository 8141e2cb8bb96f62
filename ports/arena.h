/* SPDX-License-Identifier: MIT */
/* arena.h -- a heap over one static array for the library (smtpc_mem), which
 * records its high-water mark. */
#ifndef SMTPC_PORT_ARENA_H
#define SMTPC_PORT_ARENA_H

#include <stddef.h>

typedef struct arena {
  unsigned char *base;
  size_t size;
  size_t in_use;      /* bytes of live blocks, headers included */
  size_t peak_in_use; /* the most of in_use since arena_reset_peak() */
  size_t top;         /* end of the highest live block (offset) */
  size_t peak_top;    /* the most of top: the arena size that was needed */
  unsigned long allocs, failures;
} arena;

/* Takes size bytes at base (8-byte aligned) as one free block. */
void arena_init(arena *a, void *base, size_t size);
/* The smtpc_mem hooks; user is the arena. */
void *arena_malloc(void *user, size_t n);
void *arena_realloc(void *user, void *p, size_t n);
void arena_free(void *user, void *p);
/* Starts a new high-water measurement from what is in use now. */
void arena_reset_peak(arena *a);

#endif
