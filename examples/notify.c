/* SPDX-License-Identifier: MIT */
/* notify.c -- send a plain-text alert: the shortest complete use of libsmtpc.
 *
 *   notify HOST PORT FROM TO [TEXT]
 *
 * Connects over TCP, says EHLO, sends one message built with the MIME
 * builder and says QUIT, all blocking.  Exit status 0 when the server
 * accepted the message, 1 when not (the reason on stderr), 2 on misuse. */
#include <smtpc/smtpc.h>

#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv) {
  smtpc_socket *sock = NULL;
  smtpc_session *s = NULL;
  smtpc_msg *m = NULL;
  smtpc_txn *t = NULL;
  const smtpc_reply *r = NULL;
  smtpc_io io;
  smtpc_body body;
  const char *from;
  const char *const *rcpts;
  size_t n;
  int rc;

  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: notify HOST PORT FROM TO [TEXT]\n");
    return 2;
  }
  /* The message: the builder adds Date, Message-ID and MIME headers. */
  if ((rc = smtpc_msg_new(&m, NULL)) != SMTPC_OK ||
      (rc = smtpc_msg_set_from(m, "notify", argv[3])) != SMTPC_OK ||
      (rc = smtpc_msg_add_to(m, NULL, argv[4])) != SMTPC_OK ||
      (rc = smtpc_msg_set_subject(m, "Alert: disk almost full")) != SMTPC_OK ||
      (rc = smtpc_msg_set_text(m, argc == 6 ? argv[5] : "/var is 95% full.\n",
                               SIZE_MAX)) != SMTPC_OK)
    goto out;

  /* The connection: a TCP socket, and a session that talks over it. */
  if ((rc = smtpc_socket_new(&sock, NULL)) != SMTPC_OK ||
      (rc = smtpc_socket_connect(sock, argv[1], argv[2], 30000)) != SMTPC_OK ||
      (rc = smtpc_session_new(&s, NULL)) != SMTPC_OK)
    goto out;
  smtpc_socket_io(sock, &io);
  if ((rc = smtpc_session_set_io(s, &io)) != SMTPC_OK ||
      (rc = smtpc_session_open(s)) != SMTPC_OK) /* greeting, EHLO */
    goto out;

  /* Send it: the envelope (MAIL FROM, RCPT TO) comes from From and To. */
  if ((rc = smtpc_msg_body(m, &body)) != SMTPC_OK ||
      (rc = smtpc_msg_envelope(m, &from, &rcpts, &n)) != SMTPC_OK ||
      (rc = smtpc_session_queue(s, from, rcpts, n, &body, &t)) != SMTPC_OK ||
      (rc = smtpc_session_run(s)) != SMTPC_OK)
    goto out;
  rc = smtpc_txn_status(t); /* the reply that decided it: */
  r = rc == SMTPC_ERR_NO_RECIPIENTS ? smtpc_txn_rcpt_reply(t, 0)
                                    : smtpc_txn_reply(t);

out:
  if (rc != SMTPC_OK) {
    if (r == NULL && s != NULL)
      r = smtpc_session_last_reply(s);
    fprintf(stderr, "notify: %s", smtpc_strerror(rc));
    if (r != NULL)
      fprintf(stderr, " (%d %s)", smtpc_reply_code(r), smtpc_reply_text(r));
    fputc('\n', stderr);
  }
  if (s != NULL && !smtpc_error_is_fatal(rc))
    (void)smtpc_session_quit(s);
  smtpc_txn_free(t);
  smtpc_session_free(s);
  smtpc_socket_free(sock); /* closes the connection */
  smtpc_msg_free(m);
  return rc == SMTPC_OK ? 0 : 1;
}
