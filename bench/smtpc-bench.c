/* SPDX-License-Identifier: MIT */
/* smtpc-bench -- libsmtpc throughput driver for bench/run.sh.
 *
 *   smtpc-bench HOST PORT COUNT MSGFILE NRCPT [data|bdat [QUEUED]]
 *
 * One connection, EHLO bench.local, COUNT transactions (MAIL
 * FROM:<bench@example.com>, RCPT TO:<rcptK@example.com> for K = 0..NRCPT-1,
 * body = the bytes of MSGFILE, a complete CRLF message, sent as they are
 * through smtpc_body_init_memory()), QUIT.  Transactions are queued QUEUED
 * (default 256) at a time and run with smtpc_session_run(), so with
 * PIPELINING a message's body and end-of-data share a flight with the next
 * envelope.  "bdat" sets SMTPC_FLAG_CHUNKING (BDAT when the server offers
 * CHUNKING; with PIPELINING the queued messages leave in one flight).
 *
 * Prints nothing on stdout.  Exit 0 only if every transaction got 2xx after
 * end-of-data; 1 when some did not; 2 on a usage or set-up error.
 * Other tools drive this interface: keep it exactly. */
#include <smtpc/smtpc.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"

#define BATCH 256             /* transactions per smtpc_session_run() */
#define MAX_COUNT 100000000UL /* bound on COUNT */
#define MAX_RCPT 10000UL      /* bound on NRCPT */
#define TIMEOUT_MS 60000u     /* connect and per-reply deadline */

/* Maps (or, failing that, reads) the whole file.  *mapped tells which. */
static int load_file(const char *path, const unsigned char **data, size_t *len,
                     int *mapped) {
  struct stat st;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  size_t got = 0;
  unsigned char *buf;
  *data = NULL;
  *len = 0;
  *mapped = 0;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
      (unsigned long long)st.st_size > (size_t)-1 / 2) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  *len = (size_t)st.st_size;
  if (*len == 0) {
    close(fd);
    *data = (const unsigned char *)"";
    return 0;
  }
  {
    void *p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
      close(fd);
      *data = p;
      *mapped = 1;
      return 0;
    }
  }
  buf = malloc(*len);
  if (buf == NULL) {
    close(fd);
    return -1;
  }
  while (got < *len) {
    ssize_t n = read(fd, buf + got, *len - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      free(buf);
      close(fd);
      return -1;
    }
    got += (size_t)n;
  }
  close(fd);
  *data = buf;
  return 0;
}

int main(int argc, char **argv) {
  unsigned long count, nrcpt, done = 0, ok = 0, failed = 0, k, batch = BATCH;
  const unsigned char *msg;
  size_t msglen;
  int mapped, rc, ex = 1;
  char **rcpts = NULL;
  smtpc_socket *sock = NULL;
  smtpc_session *s = NULL;
  smtpc_io io;
  smtpc_body body;
  smtpc_txn *txns[BATCH];

  if (argc < 6 || argc > 8 || parse_ulong(argv[3], 1, MAX_COUNT, &count) != 0 ||
      parse_ulong(argv[5], 1, MAX_RCPT, &nrcpt) != 0 ||
      (argc > 6 && strcmp(argv[6], "data") != 0 &&
       strcmp(argv[6], "bdat") != 0) ||
      (argc > 7 && parse_ulong(argv[7], 1, BATCH, &batch) != 0)) {
    fprintf(stderr, "usage: smtpc-bench HOST PORT COUNT MSGFILE NRCPT "
                    "[data|bdat [QUEUED]]\n");
    return 2;
  }
  if (load_file(argv[4], &msg, &msglen, &mapped) != 0) {
    fprintf(stderr, "smtpc-bench: %s: cannot read\n", argv[4]);
    return 2;
  }
  rcpts = calloc(nrcpt, sizeof *rcpts);
  if (rcpts == NULL)
    return 2;
  for (k = 0; k < nrcpt; k++) {
    rcpts[k] = malloc(48);
    if (rcpts[k] == NULL)
      return 2;
    snprintf(rcpts[k], 48, "rcpt%lu@example.com", k);
  }

  if ((rc = smtpc_socket_new(&sock, NULL)) != SMTPC_OK ||
      (rc = smtpc_socket_connect(sock, argv[1], argv[2], TIMEOUT_MS)) !=
          SMTPC_OK) {
    fprintf(stderr, "smtpc-bench: connect %s:%s: %s\n", argv[1], argv[2],
            smtpc_strerror(rc));
    ex = 2;
    goto out;
  }
  smtpc_socket_io(sock, &io);
  if ((rc = smtpc_session_new(&s, NULL)) != SMTPC_OK ||
      (rc = smtpc_session_set_io(s, &io)) != SMTPC_OK ||
      (rc = smtpc_session_set_ehlo_name(s, "bench.local")) != SMTPC_OK ||
      (rc = smtpc_session_set_timeout_all(s, TIMEOUT_MS)) != SMTPC_OK ||
      (rc = smtpc_session_set_flag(s, SMTPC_FLAG_CHUNKING,
                                   argc > 6 && argv[6][0] == 'b')) !=
          SMTPC_OK ||
      (rc = smtpc_session_open(s)) != SMTPC_OK) {
    fprintf(stderr, "smtpc-bench: open: %s\n", smtpc_strerror(rc));
    ex = 2;
    goto out;
  }

  smtpc_body_init_memory(&body, msg, msglen);
  rc = SMTPC_OK;
  while (done < count && rc == SMTPC_OK) {
    unsigned long n = count - done > batch ? batch : count - done, i, q = 0;
    for (i = 0; i < n; i++) {
      rc = smtpc_session_queue(s, "bench@example.com",
                               (const char *const *)rcpts, nrcpt, &body,
                               &txns[i]);
      if (rc != SMTPC_OK)
        break;
      q++;
    }
    if (q > 0) {
      int rrc = smtpc_session_run(s);
      if (rc == SMTPC_OK)
        rc = rrc;
    }
    for (i = 0; i < q; i++) {
      const smtpc_reply *r = smtpc_txn_reply(txns[i]);
      int st = smtpc_txn_status(txns[i]);
      if (st == SMTPC_OK && r != NULL && smtpc_reply_code(r) / 100 == 2)
        ok++;
      else if (failed++ < 5) /* the first few only */
        fprintf(stderr, "smtpc-bench: message %lu: %s (%d %s)\n", done + i + 1,
                smtpc_strerror(st), smtpc_reply_code(r),
                r ? smtpc_reply_text(r) : "");
      smtpc_txn_free(txns[i]);
    }
    done += n;
  }
  if (rc != SMTPC_OK)
    fprintf(stderr, "smtpc-bench: %s\n", smtpc_strerror(rc));
  if (rc == SMTPC_OK || !smtpc_error_is_fatal(rc))
    (void)smtpc_session_quit(s);
  smtpc_session_close(s);
  if (ok == count && rc == SMTPC_OK)
    ex = 0;
  else
    fprintf(stderr, "smtpc-bench: %lu of %lu messages accepted\n", ok, count);
out:
  smtpc_session_free(s);
  smtpc_socket_free(sock);
  if (rcpts != NULL)
    for (k = 0; k < nrcpt; k++)
      free(rcpts[k]);
  free(rcpts);
  if (mapped)
    munmap((void *)msg, msglen);
  else if (msglen > 0)
    free((void *)msg);
  return ex;
}
