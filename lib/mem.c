/* SPDX-License-Identifier: MIT */
/* Allocation through the caller's hooks, and small string helpers. */
#include "smtpc_int.h"

#include "ascii.h"

#include <stdlib.h>
#include <string.h>

static void *libc_malloc(void *user, size_t n) {
  (void)user;
  return malloc(n);
}

static void *libc_realloc(void *user, void *p, size_t n) {
  (void)user;
  return realloc(p, n);
}

static void libc_free(void *user, void *p) {
  (void)user;
  free(p);
}

int smtpc__mem_init(smtpc_mem *dst, const smtpc_mem *src) {
  if (src == NULL) {
    dst->user = NULL;
    dst->malloc = libc_malloc;
    dst->realloc = libc_realloc;
    dst->free = libc_free;
    return SMTPC_OK;
  }
  if (src->malloc == NULL || src->realloc == NULL || src->free == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  *dst = *src;
  return SMTPC_OK;
}

void *smtpc__malloc(const smtpc_mem *m, size_t n) {
  return m->malloc(m->user, n == 0 ? 1 : n);
}

void *smtpc__new_object(smtpc_mem *m, const smtpc_mem *mem, size_t size,
                        int *rc) {
  void *p;
  *rc = smtpc__mem_init(m, mem);
  if (*rc != SMTPC_OK)
    return NULL;
  p = smtpc__calloc(m, 1, size);
  if (p == NULL)
    *rc = SMTPC_ERR_NOMEM;
  return p;
}

void *smtpc__calloc(const smtpc_mem *m, size_t n, size_t size) {
  void *p;
  if (size != 0 && n > SIZE_MAX / size)
    return NULL;
  p = smtpc__malloc(m, n * size);
  if (p != NULL)
    memset(p, 0, n * size);
  return p;
}

void *smtpc__realloc(const smtpc_mem *m, void *p, size_t n) {
  return m->realloc(m->user, p, n == 0 ? 1 : n);
}

void smtpc__free(const smtpc_mem *m, void *p) {
  if (p != NULL)
    m->free(m->user, p);
}

char *smtpc__strndup(const smtpc_mem *m, const char *s, size_t n) {
  char *d;
  if (n == SIZE_MAX)
    return NULL;
  d = smtpc__malloc(m, n + 1);
  if (d == NULL)
    return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

char *smtpc__strdup(const smtpc_mem *m, const char *s) {
  return smtpc__strndup(m, s, strlen(s));
}

int smtpc__strncasecmp(const char *a, const char *b, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    int ca = smtpc__tolower((unsigned char)a[i]);
    int cb = smtpc__tolower((unsigned char)b[i]);
    if (ca != cb)
      return ca - cb;
    if (ca == 0)
      break;
  }
  return 0;
}

int smtpc__strcasecmp(const char *a, const char *b) {
  return smtpc__strncasecmp(a, b, SIZE_MAX);
}
