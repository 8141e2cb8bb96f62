/* SPDX-License-Identifier: MIT */
/* tls_setup -- the cost of setting up a secured, authenticated session
 * with libsmtpc's mbedTLS adapter, for bench/run.sh.
 *
 *   BENCH_PASS=SECRET tls_setup HOST PORT COUNT CAFILE USER [resume]
 *
 * COUNT times, one after the other: connect, EHLO, STARTTLS, handshake
 * (certificate verified against CAFILE and HOST), EHLO, AUTH PLAIN as USER,
 * NOOP, QUIT, close (the NOOP because that is how the libcurl peer gets an
 * authenticated session without a message: see peer_curl_tls.c); every session builds its TLS state from scratch (CA file
 * parsed, DRBG seeded, full handshake: no session resumption), as a client
 * that connects now and then would.  COUNT may be 0 (process start-up
 * only), so that callgrind's count for COUNT=1 minus COUNT=0, or the slope
 * over COUNT, is the cost of one session.  The password comes from the
 * environment: never on the command line.
 *
 * Prints nothing on stdout.  Exit 0 only if every session authenticated;
 * 1 when one failed (the first failure is reported on stderr); 2 on a
 * usage error.  bench/peer_curl_tls.c is the libcurl peer.
 *
 * With "resume", the sessions share one smtpc_tls_cache: every session
 * after the first resumes the TLS session of the one before (an abbreviated
 * handshake), as a pool or an application that keeps a cache reconnects;
 * a session that was not resumed fails the run, so the figure cannot
 * silently be a full handshake's. */
#include <smtpc/smtpc.h>
#include <smtpc/tls.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define MAX_COUNT 1000000UL
#define TIMEOUT_MS 30000u /* connect and per-reply deadline */

/* One session; SMTPC_OK once AUTH and NOOP succeeded and QUIT was sent. */
static int one_session(const char *host, const char *port, const char *cafile,
                       const char *user, const char *pass,
                       smtpc_tls_cache *cache, int must_resume) {
  smtpc_socket *sock = NULL;
  smtpc_tls *tls = NULL;
  smtpc_session *s = NULL;
  smtpc_io plain, io;
  int rc;

  if ((rc = smtpc_socket_new(&sock, NULL)) == SMTPC_OK &&
      (rc = smtpc_socket_connect(sock, host, port, TIMEOUT_MS)) == SMTPC_OK &&
      (rc = smtpc_tls_new(&tls, NULL, SMTPC_SECURITY_STARTTLS)) == SMTPC_OK &&
      (rc = smtpc_tls_set_hostname(tls, host)) == SMTPC_OK &&
      (rc = smtpc_tls_set_cafile(tls, cafile)) == SMTPC_OK &&
      (cache == NULL || (rc = smtpc_tls_set_cache(tls, cache)) == SMTPC_OK)) {
    smtpc_socket_io(sock, &plain);
    if ((rc = smtpc_tls_wrap(tls, &plain, &io)) == SMTPC_OK &&
        (rc = smtpc_session_new(&s, NULL)) == SMTPC_OK &&
        (rc = smtpc_session_set_io(s, &io)) == SMTPC_OK &&
        (rc = smtpc_session_set_ehlo_name(s, "bench.local")) == SMTPC_OK &&
        (rc = smtpc_session_set_timeout_all(s, TIMEOUT_MS)) == SMTPC_OK &&
        (rc = smtpc_session_set_tls_policy(s, SMTPC_SECURITY_STARTTLS)) ==
            SMTPC_OK &&
        (rc = smtpc_session_set_auth(s, SMTPC_AUTH_PLAIN, user, pass, NULL)) ==
            SMTPC_OK)
      rc = smtpc_session_open(s); /* EHLO STARTTLS EHLO AUTH */
    if (rc == SMTPC_OK && must_resume && !smtpc_tls_is_resumed(tls)) {
      fprintf(stderr, "tls_setup: the TLS session was not resumed\n");
      rc = SMTPC_ERR_TLS;
    }
    if (rc == SMTPC_OK)
      rc = smtpc_session_noop(s);
    if (rc == SMTPC_OK)
      rc = smtpc_session_quit(s);
  }
  if (rc != SMTPC_OK)
    fprintf(stderr, "tls_setup: %s%s%s\n", smtpc_strerror(rc),
            tls && *smtpc_tls_last_error(tls) ? ": " : "",
            tls ? smtpc_tls_last_error(tls) : "");
  if (s != NULL)
    smtpc_session_close(s);
  smtpc_session_free(s);
  smtpc_tls_free(tls);
  smtpc_socket_free(sock);
  return rc;
}

int main(int argc, char **argv) {
  const char *pass = getenv("BENCH_PASS");
  smtpc_tls_cache *cache = NULL;
  unsigned long count, i;
  int rc = 0;

  if ((argc != 6 && argc != 7) || pass == NULL ||
      parse_ulong(argv[3], 0, MAX_COUNT, &count) != 0 ||
      (argc == 7 && strcmp(argv[6], "resume") != 0)) {
    fprintf(stderr, "usage: BENCH_PASS=SECRET tls_setup HOST PORT COUNT "
                    "CAFILE USER [resume]\n");
    return 2;
  }
  if (argc == 7 && smtpc_tls_cache_new(&cache, NULL) != SMTPC_OK) {
    fprintf(stderr, "tls_setup: cannot create the TLS session cache\n");
    return 1;
  }
  for (i = 0; i < count && rc == 0; i++)
    if (one_session(argv[1], argv[2], argv[4], argv[5], pass, cache,
                    cache != NULL && i > 0) != SMTPC_OK) {
      fprintf(stderr, "tls_setup: session %lu of %lu failed\n", i + 1, count);
      rc = 1;
    }
  smtpc_tls_cache_free(cache);
  return rc;
}
