/* SPDX-License-Identifier: MIT */
/* arena.c -- first-fit allocator over a static array, with a high-water mark.
 *
 * Blocks are laid end to end, each after an 8-byte header that holds its
 * size (a multiple of 8, header included) and whether it is free.  malloc
 * takes the first free block that fits and splits it; free merges a block
 * with the free blocks after it and before it, so the arena never holds two
 * free neighbours; realloc grows in place into a free neighbour when it
 * can.  The walk is linear: the library keeps a few dozen blocks. */
#include "arena.h"

#include <stdint.h>
#include <string.h>

typedef struct hdr {
  uint32_t size; /* of the block, header included */
  uint32_t free;
} hdr;

#define HDR sizeof(hdr)
#define ROUND(n) (((n) + 7u) & ~(size_t)7u)

static hdr *at(const arena *a, size_t off) { return (hdr *)(a->base + off); }
static size_t off_of(const arena *a, const hdr *h) {
  return (size_t)((const unsigned char *)h - a->base);
}
static hdr *next(const arena *a, hdr *h) {
  size_t o = off_of(a, h) + h->size;
  return o < a->size ? at(a, o) : NULL;
}

/* Books a change of delta bytes in use; end is the end (offset) of the
 * block allocated, grown or freed.  The top moves up with an allocation
 * and is searched for again only when the top block was freed. */
static void account(arena *a, long delta, size_t end) {
  size_t o;
  a->in_use = (size_t)((long)a->in_use + delta);
  if (a->in_use > a->peak_in_use)
    a->peak_in_use = a->in_use;
  if (delta > 0 && end > a->top)
    a->top = end;
  else if (delta < 0 && end >= a->top) {
    a->top = 0;
    for (o = 0; o < a->size; o += at(a, o)->size)
      if (!at(a, o)->free)
        a->top = o + at(a, o)->size;
  }
  if (a->top > a->peak_top)
    a->peak_top = a->top;
}

void arena_init(arena *a, void *base, size_t size) {
  memset(a, 0, sizeof(*a));
  a->base = base;
  a->size = size & ~(size_t)7u;
  at(a, 0)->size = (uint32_t)a->size;
  at(a, 0)->free = 1;
}

void arena_reset_peak(arena *a) {
  a->peak_in_use = a->in_use;
  a->peak_top = a->top;
}

/* Cuts h to need bytes when the rest can hold a block of its own. */
static void split(arena *a, hdr *h, size_t need) {
  if (h->size - need >= HDR + 8) {
    hdr *rest = at(a, off_of(a, h) + need);
    rest->size = (uint32_t)(h->size - need);
    rest->free = 1;
    h->size = (uint32_t)need;
  }
}

void *arena_malloc(void *user, size_t n) {
  arena *a = user;
  size_t need, o;
  if (n == 0 || n > a->size)
    return a->failures++, (void *)0;
  need = ROUND(n) + HDR;
  for (o = 0; o < a->size; o += at(a, o)->size) {
    hdr *h = at(a, o);
    if (h->free && h->size >= need) {
      split(a, h, need);
      h->free = 0;
      a->allocs++;
      account(a, (long)h->size, o + h->size);
      return h + 1;
    }
  }
  a->failures++;
  return NULL;
}

void arena_free(void *user, void *p) {
  arena *a = user;
  hdr *h, *n, *prev = NULL;
  size_t o;
  if (p == NULL)
    return;
  h = (hdr *)p - 1;
  h->free = 1;
  account(a, -(long)h->size, off_of(a, h) + h->size);
  while ((n = next(a, h)) != NULL && n->free)
    h->size += n->size;
  for (o = 0; o < off_of(a, h); o += at(a, o)->size)
    prev = at(a, o);
  if (prev != NULL && prev->free)
    prev->size += h->size;
}

void *arena_realloc(void *user, void *p, size_t n) {
  arena *a = user;
  hdr *h, *nx;
  size_t need;
  void *q;
  if (p == NULL)
    return arena_malloc(user, n);
  if (n == 0 || n > a->size)
    return a->failures++, (void *)0;
  h = (hdr *)p - 1;
  need = ROUND(n) + HDR;
  if (need <= h->size)
    return p; /* shrinking keeps the block */
  nx = next(a, h);
  if (nx != NULL && nx->free && h->size + nx->size >= need) {
    size_t old = h->size;
    h->size += nx->size;
    split(a, h, need);
    a->allocs++;
    account(a, (long)h->size - (long)old, off_of(a, h) + h->size);
    return p;
  }
  if ((q = arena_malloc(user, n)) == NULL)
    return NULL;
  memcpy(q, p, h->size - HDR);
  arena_free(user, p);
  return q;
}
