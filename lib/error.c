/* SPDX-License-Identifier: MIT */
/* Error strings and the library version. */
#include "smtpc_int.h"

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
const char *smtpc_strerror(int err) {
  switch (err) {
  case SMTPC_OK: return "success";
  case SMTPC_ERR_WANT_READ: return "operation would block waiting to read";
  case SMTPC_ERR_WANT_WRITE: return "operation would block waiting to write";
  case SMTPC_ERR_INVALID_ARGUMENT: return "invalid argument";
  case SMTPC_ERR_INVALID_STATE: return "call not allowed in the session's current state";
  case SMTPC_ERR_BAD_ADDRESS: return "malformed mail address (or CR, LF, NUL or space in it)";
  case SMTPC_ERR_BAD_ARGUMENT: return "command argument contains CR, LF, NUL or a control character";
  case SMTPC_ERR_8BIT_UNSUPPORTED: return "message has 8-bit bytes but the server does not offer 8BITMIME";
  case SMTPC_ERR_MESSAGE_TOO_BIG: return "message is larger than the server's SIZE limit";
  case SMTPC_ERR_BODY_READ: return "the message body source failed; message not sent";
  case SMTPC_ERR_BODY_LINE_TOO_LONG: return "message has a line longer than 998 octets; message not sent";
  case SMTPC_ERR_NOT_SUPPORTED: return "feature not built into this library";
  case SMTPC_ERR_PROTOCOL: return "malformed reply from server";
  case SMTPC_ERR_REPLY_LINE_TOO_LONG: return "server reply line exceeds the configured limit";
  case SMTPC_ERR_REPLY_TOO_LARGE: return "server reply exceeds the configured size or line limit";
  case SMTPC_ERR_REPLY_TEMPORARY: return "server answered with a temporary failure (4xx)";
  case SMTPC_ERR_REPLY_PERMANENT: return "server answered with a permanent failure (5xx)";
  case SMTPC_ERR_SERVICE_CLOSING: return "server is closing the connection (421 or idle close): reconnect";
  case SMTPC_ERR_GREETING_REFUSED: return "server refused the connection in its greeting (554)";
  case SMTPC_ERR_NO_RECIPIENTS: return "every recipient was rejected";
  case SMTPC_ERR_PARTIAL: return "message accepted for some recipients only";
  case SMTPC_ERR_UNEXPECTED_DATA: return "server sent data the client did not ask for";
  case SMTPC_ERR_EXTENSION_UNSUPPORTED: return "server does not offer a required extension";
  case SMTPC_ERR_STARTTLS_UNAVAILABLE: return "STARTTLS required but unavailable or refused";
  case SMTPC_ERR_AUTH_FAILED: return "authentication failed";
  case SMTPC_ERR_AUTH_INSECURE: return "refusing to send credentials over an unencrypted connection (allow plaintext auth explicitly to override)";
  case SMTPC_ERR_AUTH_UNSUPPORTED: return "no AUTH mechanism supported by both client and server";
  case SMTPC_ERR_AUTH_BAD_CHALLENGE: return "malformed AUTH challenge from server";
  case SMTPC_ERR_IO: return "transport I/O error";
  case SMTPC_ERR_EOF: return "connection closed by server";
  case SMTPC_ERR_TIMEOUT: return "timed out waiting for the server";
  case SMTPC_ERR_RESOLVE: return "host name could not be resolved";
  case SMTPC_ERR_CONNECT: return "could not connect to any address of the host";
  case SMTPC_ERR_TLS: return "TLS failure";
  case SMTPC_ERR_CERTIFICATE: return "server certificate not trusted";
  case SMTPC_ERR_NOMEM: return "out of memory";
  case SMTPC_ERR_CALLBACK: return "a callback broke its contract";
  case SMTPC_ERR_INTERNAL: return "internal error";
  default: return "unknown error";
  }
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
