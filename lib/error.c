/* SPDX-License-Identifier: MIT */
/* Error strings and the library version. */
#include "smtpc_int.h"

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
/* Every error and its text, once: smtpc_strerror() walks the codes and the
 * NUL-separated texts side by side (a switch costs a jump table and a
 * pointer per case: about 350 bytes more on Cortex-M4). */
#define SMTPC__ERRORS(X) \
  X(SMTPC_OK, "success") \
  X(SMTPC_ERR_WANT_READ, "operation would block waiting to read") \
  X(SMTPC_ERR_WANT_WRITE, "operation would block waiting to write") \
  X(SMTPC_ERR_INVALID_ARGUMENT, "invalid argument") \
  X(SMTPC_ERR_INVALID_STATE, \
    "call not allowed in the session's current state") \
  X(SMTPC_ERR_BAD_ADDRESS, \
    "malformed mail address (or CR, LF, NUL or space in it)") \
  X(SMTPC_ERR_BAD_ARGUMENT, \
    "command argument contains CR, LF, NUL or a control character") \
  X(SMTPC_ERR_8BIT_UNSUPPORTED, \
    "message has 8-bit bytes but the server does not offer " \
    "8BITMIME") \
  X(SMTPC_ERR_MESSAGE_TOO_BIG, \
    "message is larger than the server's SIZE limit") \
  X(SMTPC_ERR_BODY_READ, "the message body source failed; message not sent") \
  X(SMTPC_ERR_BODY_LINE_TOO_LONG, \
    "message has a line longer than 998 octets; message not sent") \
  X(SMTPC_ERR_NOT_SUPPORTED, "feature not built into this library") \
  X(SMTPC_ERR_PROTOCOL, "malformed reply from server") \
  X(SMTPC_ERR_REPLY_LINE_TOO_LONG, \
    "server reply line exceeds the configured limit") \
  X(SMTPC_ERR_REPLY_TOO_LARGE, \
    "server reply exceeds the configured size or line limit") \
  X(SMTPC_ERR_REPLY_TEMPORARY, \
    "server answered with a temporary failure (4xx)") \
  X(SMTPC_ERR_REPLY_PERMANENT, \
    "server answered with a permanent failure (5xx)") \
  X(SMTPC_ERR_SERVICE_CLOSING, \
    "server is closing the connection (421 or idle close): " \
    "reconnect") \
  X(SMTPC_ERR_GREETING_REFUSED, \
    "server refused the connection in its greeting (554)") \
  X(SMTPC_ERR_NO_RECIPIENTS, "every recipient was rejected") \
  X(SMTPC_ERR_PARTIAL, "message accepted for some recipients only") \
  X(SMTPC_ERR_UNEXPECTED_DATA, \
    "server sent data the client did not ask for") \
  X(SMTPC_ERR_EXTENSION_UNSUPPORTED, \
    "server does not offer a required extension") \
  X(SMTPC_ERR_STARTTLS_UNAVAILABLE, \
    "STARTTLS required but unavailable or refused") \
  X(SMTPC_ERR_AUTH_FAILED, "authentication failed") \
  X(SMTPC_ERR_AUTH_INSECURE, \
    "refusing to send credentials over an unencrypted connection " \
    "(allow plaintext auth explicitly to override)") \
  X(SMTPC_ERR_AUTH_UNSUPPORTED, \
    "no AUTH mechanism supported by both client and server") \
  X(SMTPC_ERR_AUTH_BAD_CHALLENGE, "malformed AUTH challenge from server") \
  X(SMTPC_ERR_IO, "transport I/O error") \
  X(SMTPC_ERR_EOF, "connection closed by server") \
  X(SMTPC_ERR_TIMEOUT, "timed out waiting for the server") \
  X(SMTPC_ERR_RESOLVE, "host name could not be resolved") \
  X(SMTPC_ERR_CONNECT, "could not connect to any address of the host") \
  X(SMTPC_ERR_TLS, "TLS failure") \
  X(SMTPC_ERR_CERTIFICATE, "server certificate not trusted") \
  X(SMTPC_ERR_NOMEM, "out of memory") \
  X(SMTPC_ERR_CALLBACK, "a callback broke its contract") \
  X(SMTPC_ERR_INTERNAL, "internal error")

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
  case SMTPC_ERR_BODY_READ:
    return 1;
  default:
    return 0;
  }
}

const char *smtpc_version(void) { return PACKAGE_VERSION; }
