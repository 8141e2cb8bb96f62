/* SPDX-License-Identifier: MIT */
/* Server names for the TLS adapter (tls_host.c), without mbedTLS: the name a
 * handshake verifies, normalised, and the RFC 9525 rules that decide whether
 * a subjectAltName entry names it; plus the list of a certificate's names
 * that error messages show.  Unit-tested on their own in tests/check_tls.c,
 * in builds with and without TLS. */
#ifndef SMTPC_TLS_HOST_H
#define SMTPC_TLS_HOST_H

#include "smtpc_int.h"

/* ASN.1 tags of GeneralName choices in subjectAltName (RFC 5280 4.2.1.6):
 * context-specific, primitive, [2] dNSName and [7] iPAddress. */
#define SMTPC__SAN_DNS 0x82
#define SMTPC__SAN_IP 0x87

/* The server a handshake verifies. */
typedef struct smtpc__tls_peer {
  char *name;           /* normalised (see smtpc__tls_peer_set), or NULL */
  size_t ip_len;        /* 4 or 16 when name is an address, else 0 */
  unsigned char ip[16]; /* the address */
} smtpc__tls_peer;

/* Normalises a server name into *p (freeing what p held first): an IP
 * literal (optionally in brackets, with the "IPv6:" tag of RFC 5321 address
 * literals) or a DNS name of letters, digits, '-', '_' and '.', without one
 * trailing dot.  name is allocated with m.  On failure p is left empty.
 * SMTPC_OK, SMTPC_ERR_BAD_ARGUMENT or SMTPC_ERR_NOMEM. */
int smtpc__tls_peer_set(smtpc__tls_peer *p, const smtpc_mem *m, const char *in);
/* Frees p->name and empties p. */
void smtpc__tls_peer_clear(smtpc__tls_peer *p, const smtpc_mem *m);

/* 1 if the subjectAltName entry (tag, id[0..n)) names the peer: for an
 * address, an iPAddress entry with the same bytes (RFC 9525 6.4); for a DNS
 * name, a dNSName entry equal to it ignoring case, or "*." and at least two
 * labels, where "*" stands for exactly the first label of the name (6.3).
 * Any other entry, and any entry for a peer without a name, is 0. */
int smtpc__tls_san_names_peer(const smtpc__tls_peer *p, int tag,
                              const unsigned char *id, size_t n);

/* A certificate's names as error messages show them: up to three
 * subjectAltName entries ("a.example (or b.example, c.example and 2 more)"),
 * printable bytes only (certificate contents are untrusted and end up in
 * logs). */
typedef struct smtpc__tls_names {
  char text[160];
  size_t shown, more;
} smtpc__tls_names;

void smtpc__tls_names_init(smtpc__tls_names *n);
/* Adds a subjectAltName entry; other tags than dNSName and iPAddress are
 * ignored. */
void smtpc__tls_names_add(smtpc__tls_names *n, int tag, const unsigned char *id,
                          size_t len);
/* Ends the list; with no entry shown, uses cn[0..cn_len) (the subject CN,
 * shown, never matched) or, when cn is NULL, "no name". */
void smtpc__tls_names_end(smtpc__tls_names *n, const unsigned char *cn,
                          size_t cn_len);

/* Formats a 4- or 16-byte address ("192.0.2.1", "2001:db8:0:0:0:0:0:1"). */
void smtpc__tls_format_ip(char *out, size_t cap, const unsigned char *ip,
                          size_t len);

#endif /* SMTPC_TLS_HOST_H */
