/* SPDX-License-Identifier: MIT */
/* Shared by the benchmark programs (libsmtpc's and the peers built by
 * bench/Makefile.peers): strict parsing of their numeric arguments. */
#ifndef SMTPC_BENCH_UTIL_H
#define SMTPC_BENCH_UTIL_H

#include <errno.h>
#include <stdlib.h>

/* A decimal number in [lo, hi] and nothing else (no sign, no spaces, no
 * trailing characters); 0 on success, -1 otherwise. */
static int parse_ulong(const char *s, unsigned long lo, unsigned long hi,
                       unsigned long *out) {
  char *end;
  unsigned long v;
  if (s == NULL || *s < '0' || *s > '9')
    return -1;
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi)
    return -1;
  *out = v;
  return 0;
}

#endif /* SMTPC_BENCH_UTIL_H */
