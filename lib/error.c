/* SPDX-License-Identifier: MIT */
/* Error strings and the library version. */
#include "smtpc_int.h"
#include "errors.h"

#include <string.h>

#ifdef SMTPC_NO_ERROR_STRINGS
/* Small targets: one text per class of error (about 2 KiB less code); the
 * numeric code carries the detail.  Like curl's CURL_DISABLE_VERBOSE_STRINGS
 * or mbedTLS without MBEDTLS_ERROR_C. */
const char *smtpc_strerror(int err) {
  if (err == SMTPC_OK)
    return "success";
  if (err > SMTPC_ERR_INVALID_ARGUMENT)
    return "operation would block";
  if (err > SMTPC_ERR_PROTOCOL)
    return "invalid use or message (SMTPC_ERR -1xx)";
  if (err > SMTPC_ERR_IO)
    return "server refused or misbehaved (SMTPC_ERR -2xx)";
  if (err > SMTPC_ERR_NOMEM)
    return "transport or TLS failure (SMTPC_ERR -3xx)";
  return "fatal error (SMTPC_ERR -9xx)";
}
#else
/* smtpc_strerror() walks the codes and the NUL-separated texts side by
 * side (a switch costs a jump table and a pointer per case: about 350 bytes
 * more on Cortex-M4). */
#define SMTPC__CODE(code, text) code,
#define SMTPC__TEXT(code, text) text "\0"
static const short error_codes[] = {SMTPC__ERRORS(SMTPC__CODE)};
static const char error_texts[] = SMTPC__ERRORS(SMTPC__TEXT);

const char *smtpc_strerror(int err) {
  const char *t = error_texts;
  size_t i;
  for (i = 0; i < sizeof error_codes / sizeof error_codes[0]; i++) {
    if (error_codes[i] == err)
      return t;
    t += strlen(t) + 1;
  }
  return "unknown error";
}
#endif

int smtpc_error_is_fatal(int err) {
  if (err <= -900)
    return 1;
  switch (err) {
  case SMTPC_ERR_PROTOCOL:
  case SMTPC_ERR_REPLY_LINE_TOO_LONG:
  case SMTPC_ERR_REPLY_TOO_LARGE:
  case SMTPC_ERR_SERVICE_CLOSING:
  case SMTPC_ERR_GREETING_REFUSED:
  case SMTPC_ERR_UNEXPECTED_DATA:
  case SMTPC_ERR_IO:
  case SMTPC_ERR_EOF:
  case SMTPC_ERR_TIMEOUT:
  case SMTPC_ERR_TLS:
  case SMTPC_ERR_CERTIFICATE:
  case SMTPC_ERR_BODY_READ: return 1;
  default: return 0;
  }
}

const char *smtpc_version(void) { return PACKAGE_VERSION; }
