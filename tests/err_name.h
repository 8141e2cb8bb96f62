/* SPDX-License-Identifier: MIT */
/* The name of an smtpc error code without its prefix ("OK",
 * "INVALID_ARGUMENT", "RESOLVE", ...), for test output, built from the one
 * list in lib/errors.h.  Header-only: tests/client_send links the shared
 * library, which does not export internals.  Returns NULL for a value that
 * is no error code. */
#ifndef SMTPC_TEST_ERR_NAME_H
#define SMTPC_TEST_ERR_NAME_H

#include <smtpc/smtpc.h>

#include "errors.h"

#include <stddef.h>
#include <string.h>

#define SMTPC__ERR_NAME_ROW(code, text) {code, #code},

static const char *err_name(int e) {
  static const struct {
    int code;
    const char *name;
  } rows[] = {SMTPC__ERRORS(SMTPC__ERR_NAME_ROW)};
  size_t i;
  for (i = 0; i < sizeof rows / sizeof rows[0]; i++)
    if (rows[i].code == e) {
      const char *n = rows[i].name;
      return n + (strncmp(n, "SMTPC_ERR_", 10) == 0 ? 10 : 6); /* SMTPC_ */
    }
  return NULL;
}

#endif /* SMTPC_TEST_ERR_NAME_H */
