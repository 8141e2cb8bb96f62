/* SPDX-License-Identifier: MIT */
/* peer_esmtp -- the libESMTP peer of smtpc-bench, same interface:
 *
 *   peer_esmtp HOST PORT COUNT MSGFILE NRCPT
 *
 * One libESMTP session (one connection) carrying COUNT messages, each with
 * NRCPT recipients and the bytes of MSGFILE fed from memory through a
 * message callback.  The message already has Date, Message-ID, From and To,
 * so libESMTP adds no header.  Prints nothing on stdout; exit 0 only if
 * every message got 2xx after end-of-data. */
#include <stddef.h> /* libesmtp.h uses size_t without including it */

#include <libesmtp.h>

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
  const char *data;
  size_t len;
} src;

/* libESMTP's message callback: len == NULL rewinds; otherwise return the
 * next chunk (here: the whole message once) and then NULL. *ctx is ours,
 * libESMTP frees it with free(). */
static const char *msg_cb(void **ctx, int *len, void *arg) {
  const src *s = arg;
  int *state = *ctx;
  if (state == NULL) {
    state = malloc(sizeof *state);
    if (state == NULL)
      return NULL;
    *ctx = state;
    *state = 0;
  }
  if (len == NULL) {
    *state = 0;
    return NULL;
  }
  if (*state) {
    *len = 0;
    return NULL;
  }
  *state = 1;
  *len = (int)s->len;
  return s->data;
}

static const char *map_file(const char *path, size_t *len) {
  struct stat st;
  void *p;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0 ||
      st.st_size > 0x7fffffff) {
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
  unsigned long count, nrcpt, i, k, ok = 0, failed = 0;
  smtp_session_t session;
  smtp_message_t *msgs;
  char server[512], addr[64];
  src body;

  if (argc != 6 || parse_ulong(argv[3], 1, MAX_COUNT, &count) != 0 ||
      parse_ulong(argv[5], 1, MAX_RCPT, &nrcpt) != 0) {
    fprintf(stderr, "usage: peer_esmtp HOST PORT COUNT MSGFILE NRCPT\n");
    return 2;
  }
  body.data = map_file(argv[4], &body.len);
  if (body.data == NULL) {
    fprintf(stderr, "peer_esmtp: %s: cannot read\n", argv[4]);
    return 2;
  }
  msgs = calloc(count, sizeof *msgs);
  session = smtp_create_session();
  if (msgs == NULL || session == NULL)
    return 2;
  snprintf(server, sizeof server, "%s:%s", argv[1], argv[2]);
  if (!smtp_set_server(session, server) ||
      !smtp_set_hostname(session, "bench.local"))
    return 2;
  for (i = 0; i < count; i++) {
    smtp_message_t m = smtp_add_message(session);
    if (m == NULL || !smtp_set_reverse_path(m, "bench@example.com") ||
        !smtp_set_messagecb(m, msg_cb, &body))
      return 2;
    for (k = 0; k < nrcpt; k++) {
      snprintf(addr, sizeof addr, "rcpt%lu@example.com", k);
      if (smtp_add_recipient(m, addr) == NULL)
        return 2;
    }
    msgs[i] = m;
  }
  if (!smtp_start_session(session)) {
    char buf[128];
    fprintf(stderr, "peer_esmtp: %s\n",
            smtp_strerror(smtp_errno(), buf, sizeof buf));
  }
  for (i = 0; i < count; i++) {
    const smtp_status_t *st = smtp_message_transfer_status(msgs[i]);
    if (st != NULL && st->code / 100 == 2)
      ok++;
    else if (failed++ < 5)
      fprintf(stderr, "peer_esmtp: message %lu: %d %s\n", i + 1,
              st ? st->code : 0, st && st->text ? st->text : "");
  }
  smtp_destroy_session(session);
  free(msgs);
  munmap((void *)body.data, body.len);
  return ok == count ? 0 : 1;
}
