/* SPDX-License-Identifier: MIT */
/* peer_curl_tls -- the libcurl peer of bench/tls_setup, same interface:
 *
 *   BENCH_PASS=SECRET peer_curl_tls HOST PORT COUNT CAFILE USER [1.2] [resume]
 *
 * COUNT times: a fresh easy handle connects to smtp://HOST:PORT with
 * CURLOPT_USE_SSL = CURLUSESSL_ALL (STARTTLS required, certificate checked
 * against CAFILE and HOST), AUTH PLAIN as USER, and CURLOPT_CUSTOMREQUEST
 * "NOOP" without recipients, so the transfer is greeting, EHLO, STARTTLS,
 * EHLO, AUTH, NOOP; curl_easy_cleanup() then sends QUIT.  (With
 * CURLOPT_CONNECT_ONLY libcurl 7.88 closes without QUIT.)  The TLS
 * session cache is off and every handle is new, so every session does a
 * full handshake, like tls_setup.  TLSMAX "1.2" caps the protocol at
 * TLS 1.2 (what mbedTLS 2.28 speaks); the default lets OpenSSL choose.
 * "resume" turns libcurl's TLS session cache on and shares it between the
 * handles (CURLSH, CURL_LOCK_DATA_SSL_SESSION): the peer of
 * "tls_setup ... resume".  Exit 0 only if every session authenticated. */
#include <curl/curl.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define MAX_COUNT 1000000UL

/* The NOOP reply is the transfer's "data": dropped, stdout stays quiet. */
static size_t discard(char *buf, size_t size, size_t nitems, void *ud) {
  (void)buf;
  (void)ud;
  return size * nitems;
}

int main(int argc, char **argv) {
  const char *pass = getenv("BENCH_PASS");
  unsigned long count, i;
  long tlsmax = CURL_SSLVERSION_MAX_DEFAULT;
  int resume = 0, k;
  CURLSH *share = NULL;
  char url[512];
  CURLcode rc = CURLE_OK;

  for (k = 6; k < argc; k++) {
    if (strcmp(argv[k], "1.2") == 0)
      tlsmax = CURL_SSLVERSION_MAX_TLSv1_2;
    else if (strcmp(argv[k], "resume") == 0)
      resume = 1;
    else
      break;
  }
  if (argc < 6 || k < argc || argc > 8 || pass == NULL ||
      parse_ulong(argv[3], 0, MAX_COUNT, &count) != 0) {
    fprintf(stderr, "usage: BENCH_PASS=SECRET peer_curl_tls HOST PORT COUNT "
                    "CAFILE USER [1.2] [resume]\n");
    return 2;
  }
  snprintf(url, sizeof url, "smtp://%s:%s/bench.local", argv[1], argv[2]);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 2;
  if (resume) {
    share = curl_share_init();
    if (share == NULL ||
        curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) !=
            CURLSHE_OK)
      return 2;
  }
  for (i = 0; i < count && rc == CURLE_OK; i++) {
    CURL *c = curl_easy_init();
    if (c == NULL)
      return 2;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    curl_easy_setopt(c, CURLOPT_SSLVERSION,
                     (long)CURL_SSLVERSION_TLSv1_2 | tlsmax);
    curl_easy_setopt(c, CURLOPT_CAINFO, argv[4]);
    curl_easy_setopt(c, CURLOPT_CAPATH, NULL); /* only CAFILE, as tls_setup */
    curl_easy_setopt(c, CURLOPT_SSL_SESSIONID_CACHE, (long)resume);
    if (share != NULL)
      curl_easy_setopt(c, CURLOPT_SHARE, share);
    curl_easy_setopt(c, CURLOPT_USERNAME, argv[5]);
    curl_easy_setopt(c, CURLOPT_PASSWORD, pass);
    curl_easy_setopt(c, CURLOPT_LOGIN_OPTIONS, "AUTH=PLAIN");
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "NOOP");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
      fprintf(stderr, "peer_curl_tls: session %lu of %lu: %s\n", i + 1, count,
              curl_easy_strerror(rc));
    curl_easy_cleanup(c); /* QUIT */
  }
  if (share != NULL)
    curl_share_cleanup(share);
  curl_global_cleanup();
  return rc == CURLE_OK ? 0 : 1;
}
