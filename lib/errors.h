/* SPDX-License-Identifier: MIT */
/* Every error code and its smtpc_strerror() text, once, as an X-macro:
 * X(code, text).  lib/error.c builds smtpc_strerror() from it; the tests
 * build their error-name tables from it (tests/err_name.h), so a new code
 * needs one line here and nothing else. */
#ifndef SMTPC_ERRORS_H
#define SMTPC_ERRORS_H

#define SMTPC__ERRORS(X)                                                       \
  X(SMTPC_OK, "success")                                                       \
  X(SMTPC_ERR_WANT_READ, "operation would block waiting to read")              \
  X(SMTPC_ERR_WANT_WRITE, "operation would block waiting to write")            \
  X(SMTPC_ERR_INVALID_ARGUMENT, "invalid argument")                            \
  X(SMTPC_ERR_INVALID_STATE,                                                   \
    "call not allowed in the session's current state")                         \
  X(SMTPC_ERR_BAD_ADDRESS,                                                     \
    "malformed mail address (or CR, LF, NUL or space in it)")                  \
  X(SMTPC_ERR_BAD_ARGUMENT,                                                    \
    "command argument contains CR, LF, NUL or a control character")            \
  X(SMTPC_ERR_8BIT_UNSUPPORTED,                                                \
    "message has 8-bit bytes but the server does not offer "                   \
    "8BITMIME")                                                                \
  X(SMTPC_ERR_MESSAGE_TOO_BIG,                                                 \
    "message is larger than the server's SIZE limit")                          \
  X(SMTPC_ERR_BODY_READ, "the message body source failed; message not sent")   \
  X(SMTPC_ERR_BODY_LINE_TOO_LONG,                                              \
    "message has a line longer than 998 octets; message not sent")             \
  X(SMTPC_ERR_NOT_SUPPORTED, "feature not built into this library")            \
  X(SMTPC_ERR_SMTPUTF8_UNSUPPORTED,                                            \
    "address or header is UTF-8 but the server does not offer SMTPUTF8; "      \
    "message not sent")                                                        \
  X(SMTPC_ERR_IDNA_UNAVAILABLE,                                                \
    "non-ASCII domain: the server does not offer SMTPUTF8 and no IDNA "        \
    "converter (libidn2) is available for an A-label")                         \
  X(SMTPC_ERR_DSN_UNSUPPORTED,                                                 \
    "delivery status notifications required but the server does not offer "    \
    "DSN; message not sent")                                                   \
  X(SMTPC_ERR_REQUIRETLS_UNAVAILABLE,                                          \
    "REQUIRETLS asked for but the connection is not verified TLS or the "      \
    "server does not offer REQUIRETLS; message not sent")                      \
  X(SMTPC_ERR_BINARYMIME_UNSUPPORTED,                                          \
    "binary body but the server does not offer CHUNKING and BINARYMIME; "      \
    "message not sent")                                                        \
  X(SMTPC_ERR_RCPT_LIMIT,                                                      \
    "more recipients than the server takes per transaction (LIMITS) and a "    \
    "body that cannot be re-read; message not sent")                           \
  X(SMTPC_ERR_MAIL_LIMIT,                                                      \
    "the server takes no more transactions on this connection (LIMITS "        \
    "MAILMAX); send on a new connection")                                      \
  X(SMTPC_ERR_DKIM_KEY,                                                        \
    "DKIM key unusable (unreadable, not RSA-2048+ or Ed25519, or no crypto "   \
    "library for it)")                                                         \
  X(SMTPC_ERR_DKIM_SOURCE,                                                     \
    "message to DKIM-sign cannot be read twice and no spool file was given; "  \
    "message not sent")                                                        \
  X(SMTPC_ERR_DKIM_HEADER,                                                     \
    "message to DKIM-sign has no single From field, a malformed header or "    \
    "one too large; message not sent")                                         \
  X(SMTPC_ERR_PROTOCOL, "malformed or out-of-sequence reply from server")      \
  X(SMTPC_ERR_REPLY_LINE_TOO_LONG,                                             \
    "server reply line exceeds the configured limit")                          \
  X(SMTPC_ERR_REPLY_TOO_LARGE,                                                 \
    "server reply exceeds the configured size or line limit")                  \
  X(SMTPC_ERR_REPLY_TEMPORARY,                                                 \
    "server answered with a temporary failure (4xx)")                          \
  X(SMTPC_ERR_REPLY_PERMANENT,                                                 \
    "server answered with a permanent failure (5xx)")                          \
  X(SMTPC_ERR_SERVICE_CLOSING,                                                 \
    "server is closing the connection (421 or idle close): "                   \
    "reconnect")                                                               \
  X(SMTPC_ERR_GREETING_REFUSED,                                                \
    "server refused the connection in its greeting (554)")                     \
  X(SMTPC_ERR_NO_RECIPIENTS, "every recipient was rejected")                   \
  X(SMTPC_ERR_PARTIAL, "message accepted for some recipients only")            \
  X(SMTPC_ERR_UNEXPECTED_DATA, "server sent data the client did not ask for")  \
  X(SMTPC_ERR_EXTENSION_UNSUPPORTED,                                           \
    "server does not offer a required extension")                              \
  X(SMTPC_ERR_STARTTLS_UNAVAILABLE,                                            \
    "STARTTLS required but unavailable or refused")                            \
  X(SMTPC_ERR_AUTH_FAILED, "authentication failed")                            \
  X(SMTPC_ERR_AUTH_INSECURE,                                                   \
    "refusing to send credentials over an unencrypted connection "             \
    "(allow plaintext auth explicitly to override)")                           \
  X(SMTPC_ERR_AUTH_UNSUPPORTED,                                                \
    "no AUTH mechanism supported by both client and server")                   \
  X(SMTPC_ERR_AUTH_BAD_CHALLENGE, "malformed AUTH challenge from server")      \
  X(SMTPC_ERR_IO, "transport I/O error")                                       \
  X(SMTPC_ERR_EOF, "connection closed by server")                              \
  X(SMTPC_ERR_TIMEOUT, "timed out waiting for the server")                     \
  X(SMTPC_ERR_RESOLVE, "host name could not be resolved")                      \
  X(SMTPC_ERR_CONNECT, "could not connect to any address of the host")         \
  X(SMTPC_ERR_TLS, "TLS failure")                                              \
  X(SMTPC_ERR_CERTIFICATE, "server certificate not trusted")                   \
  X(SMTPC_ERR_NOMEM, "out of memory")                                          \
  X(SMTPC_ERR_CALLBACK, "a callback broke its contract")                       \
  X(SMTPC_ERR_INTERNAL, "internal error")

#endif /* SMTPC_ERRORS_H */
