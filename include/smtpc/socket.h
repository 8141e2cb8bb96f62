/* SPDX-License-Identifier: MIT */
/**
 * \file socket.h
 * \brief The built-in plain TCP transport (POSIX sockets, IPv4 and IPv6).
 *
 * Included by smtpc.h; needs only base.h.  The transport resolves the host
 * with getaddrinfo(), tries each address in turn with a connect timeout,
 * and uses non-blocking sockets.  In blocking mode (the default) send and
 * recv wait with poll() until the deadline armed by smtpc_io::set_timeout;
 * in non-blocking mode they return ::SMTPC_ERR_WANT_READ /
 * ::SMTPC_ERR_WANT_WRITE and the caller polls smtpc_socket_fd().
 */
#ifndef SMTPC_SOCKET_H
#define SMTPC_SOCKET_H

#include <smtpc/base.h>

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * \brief Creates an unconnected socket transport.
 * \param[out] out Receives the transport.
 * \param[in] mem Allocator hooks (copied) or NULL.
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p out is NULL.
 * \retval SMTPC_ERR_NOMEM Allocation failed.
 */
SMTPC_API int smtpc_socket_new(smtpc_socket **out, const smtpc_mem *mem);

/**
 * \brief Closes (if open) and frees the transport.
 * \param[in] sock The transport; NULL is a no-op.
 */
SMTPC_API void smtpc_socket_free(smtpc_socket *sock);

/**
 * \brief Resolves \p host and connects to the first address that answers,
 *        trying each in turn (IPv6 and IPv4).  Always blocks, bounded by
 *        \p timeout_ms per address.
 * \param[in] sock The transport.
 * \param[in] host Host name or address literal.
 * \param[in] port Service name or port number, e.g. "25".
 * \param[in] timeout_ms Connect timeout per address; 0 means no limit.
 * \retval SMTPC_OK Connected.
 * \retval SMTPC_ERR_RESOLVE The name did not resolve.
 * \retval SMTPC_ERR_CONNECT No address accepted (refused or unreachable).
 * \retval SMTPC_ERR_TIMEOUT Every address timed out.
 * \retval SMTPC_ERR_INVALID_ARGUMENT A NULL or empty argument, or \p port
 *         is neither a number nor a known service name.
 * \retval SMTPC_ERR_INVALID_STATE Already connected.
 */
SMTPC_API int smtpc_socket_connect(smtpc_socket *sock, const char *host,
                                   const char *port, unsigned timeout_ms);

/**
 * \brief Chooses blocking (default) or non-blocking send/recv.
 * \param[in] sock The transport.
 * \param[in] blocking Non-zero to wait inside send/recv with poll().
 */
SMTPC_API void smtpc_socket_set_blocking(smtpc_socket *sock, int blocking);

/**
 * \brief Fills \p io with callbacks that move bytes over \p sock.
 * \param[in] sock The transport (must outlive the session using \p io).
 * \param[out] io The callbacks.
 */
SMTPC_API void smtpc_socket_io(smtpc_socket *sock, smtpc_io *io);

/**
 * \brief The socket's file descriptor, for poll()/epoll in an event loop.
 * \param[in] sock The transport.
 * \return The descriptor, or -1 when not connected.
 */
SMTPC_API int smtpc_socket_fd(const smtpc_socket *sock);

/**
 * \brief The EHLO name to use on this connection: the host's fully
 *        qualified name when it has one, else an address literal of the
 *        local end ("[192.0.2.1]" or "[IPv6:2001:db8::1]").
 * \param[in] sock A connected transport.
 * \param[out] buf Destination.
 * \param[in] len Its size (256 is always enough).
 * \retval SMTPC_OK Success.
 * \retval SMTPC_ERR_INVALID_STATE Not connected.
 * \retval SMTPC_ERR_INVALID_ARGUMENT \p buf too small.
 */
SMTPC_API int smtpc_socket_ehlo_name(const smtpc_socket *sock, char *buf,
                                     size_t len);

/**
 * \brief The last OS error (errno) seen by the transport, for messages.
 * \param[in] sock The transport.
 * \return The errno value, or 0.
 */
SMTPC_API int smtpc_socket_last_errno(const smtpc_socket *sock);

/**
 * \brief Why the name lookup of the last smtpc_socket_connect() failed
 *        (when it returned ::SMTPC_ERR_RESOLVE), in the resolver's words,
 *        e.g. "Name or service not known" (no such name) or "Temporary
 *        failure in name resolution" (try again later).
 * \param[in] sock The transport.
 * \return A string owned by \p sock, "" when the lookup did not fail.
 */
SMTPC_API const char *smtpc_socket_resolve_error(const smtpc_socket *sock);

#ifdef __cplusplus
}
#endif

#endif /* SMTPC_SOCKET_H */
