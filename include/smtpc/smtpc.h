/* SPDX-License-Identifier: MIT */
/**
 * \file smtpc.h
 * \brief libsmtpc: an embeddable, transport-agnostic SMTP client.  The one
 *        header to include.
 *
 * It includes every public header, each of which also compiles on its own:
 * - base.h: error codes, allocator, transport and body interfaces, the
 *   security setting, the opaque types;
 * - session.h: the SMTP session, its transactions and replies;
 * - socket.h: the built-in TCP transport;
 * - tls.h: the mbedTLS adapter;
 * - mime.h: the MIME message builder;
 * - client.h: one-call sending, configuration checks, retry
 *   classification and the connection pool;
 * - dkim.h: DKIM signing.
 *
 * The core parses server replies and composes commands; it never touches a
 * socket.  Bytes move through the caller's ::smtpc_io callbacks (or the
 * built-in socket transport, see smtpc_socket_new()).  Every operation that
 * may block returns ::SMTPC_ERR_WANT_READ or ::SMTPC_ERR_WANT_WRITE when the
 * transport would block; call it again with the same arguments once the
 * transport is ready.  A blocking program simply uses a blocking transport.
 *
 * Typical use:
 * \code
 * smtpc_session *s;
 * smtpc_txn *t;
 * smtpc_session_new(&s, NULL);
 * smtpc_session_set_io(s, &io);
 * smtpc_session_open(s);                         // greeting + EHLO
 * smtpc_session_queue(s, "a@example.org", rcpts, 2, &body, &t);
 * smtpc_session_run(s);                          // MAIL, RCPT..., DATA, body
 * printf("%d accepted\n", (int)smtpc_txn_accepted_count(t));
 * smtpc_txn_free(t);
 * smtpc_session_quit(s);
 * smtpc_session_free(s);
 * \endcode
 */
#ifndef SMTPC_SMTPC_H
#define SMTPC_SMTPC_H

#include <smtpc/base.h>
#include <smtpc/session.h>
#include <smtpc/socket.h>
#include <smtpc/tls.h>
#include <smtpc/mime.h>
#include <smtpc/client.h>
#include <smtpc/dkim.h>

#endif /* SMTPC_SMTPC_H */
