/* SPDX-License-Identifier: MIT */
/* peer_curl -- the libcurl peer of smtpc-bench, same interface:
 *
 *   peer_curl HOST PORT COUNT MSGFILE NRCPT
 *
 * One easy handle reused for COUNT transfers, so libcurl keeps one
 * connection (EHLO bench.local once, then MAIL/RCPT/DATA per message);
 * the body is fed from memory through CURLOPT_READFUNCTION.  Prints nothing
 * on stdout; exit 0 only if every transfer succeeded (libcurl reports an
 * error unless the end of data got a 2xx reply). */
#include <curl/curl.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"

#define MAX_COUNT 100000000UL
#define MAX_RCPT 10000UL

typedef struct {
  const unsigned char *data;
  size_t len, off;
} src;

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud) {
  src *s = ud;
  size_t room = size * nitems, n = s->len - s->off;
  if (n > room)
    n = room;
  memcpy(buf, s->data + s->off, n);
  s->off += n;
  return n;
}

static const unsigned char *map_file(const char *path, size_t *len) {
  struct stat st;
  void *p;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0) {
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  *len = (size_t)st.st_size;
  p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  return p == MAP_FAILED ? NULL : p;
}

int main(int argc, char **argv) {
  unsigned long count, nrcpt, i, ok = 0;
  struct curl_slist *rcpts = NULL;
  char url[512], addr[64];
  src body;
  CURL *c;
  CURLcode rc = CURLE_OK;

  if (argc != 6 || parse_ulong(argv[3], 1, MAX_COUNT, &count) != 0 ||
      parse_ulong(argv[5], 1, MAX_RCPT, &nrcpt) != 0) {
    fprintf(stderr, "usage: peer_curl HOST PORT COUNT MSGFILE NRCPT\n");
    return 2;
  }
  body.data = map_file(argv[4], &body.len);
  if (body.data == NULL) {
    fprintf(stderr, "peer_curl: %s: cannot read\n", argv[4]);
    return 2;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 2;
  c = curl_easy_init();
  if (c == NULL)
    return 2;
  for (i = 0; i < nrcpt; i++) {
    struct curl_slist *n;
    snprintf(addr, sizeof addr, "<rcpt%lu@example.com>", i);
    n = curl_slist_append(rcpts, addr);
    if (n == NULL)
      return 2;
    rcpts = n;
  }
  /* The URL path is the EHLO name. */
  snprintf(url, sizeof url, "smtp://%s:%s/bench.local", argv[1], argv[2]);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, "<bench@example.com>");
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpts);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
  curl_easy_setopt(c, CURLOPT_READDATA, &body);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body.len);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 600L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 60L);
  for (i = 0; i < count; i++) {
    body.off = 0;
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
      fprintf(stderr, "peer_curl: message %lu: %s\n", i + 1,
              curl_easy_strerror(rc));
      break;
    }
    ok++;
  }
  curl_easy_cleanup(c); /* sends QUIT */
  curl_slist_free_all(rcpts);
  curl_global_cleanup();
  munmap((void *)body.data, body.len);
  return ok == count ? 0 : 1;
}
