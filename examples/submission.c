/* SPDX-License-Identifier: MIT */
/* submission.c -- message submission (RFC 6409, port 587): STARTTLS is
 * required and the server certificate verified before AUTH; nothing is
 * sent in clear text.
 *
 *   SMTP_HOST=smtp.example.org SMTP_USER=me SMTP_PASS=... submission FROM TO
 *
 * Optional: SMTP_PORT (default 587), SMTP_CAFILE (PEM CA bundle instead of
 * the system one).  Exit status 0 when the message was accepted. */
#include <smtpc/smtpc.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  const char *host = getenv("SMTP_HOST"), *port = getenv("SMTP_PORT");
  const char *user = getenv("SMTP_USER"), *pass = getenv("SMTP_PASS");
  const char *cafile = getenv("SMTP_CAFILE"), *from;
  const char *const *rcpts;
  /* one setting for the TLS layer and the session: STARTTLS, required */
  const smtpc_security sec = SMTPC_SECURITY_STARTTLS;
  smtpc_socket *sock = NULL;
  smtpc_tls *tls = NULL;
  smtpc_session *s = NULL;
  smtpc_msg *m = NULL;
  smtpc_txn *t = NULL;
  smtpc_io plain, io;
  smtpc_body body;
  size_t n;
  int rc;

  if (argc != 3 || host == NULL || user == NULL || pass == NULL) {
    fprintf(stderr, "usage: SMTP_HOST=H SMTP_USER=U SMTP_PASS=P "
                    "[SMTP_PORT=587] [SMTP_CAFILE=F] submission FROM TO\n");
    return 2;
  }
  if (port == NULL)
    port = "587";
  if ((rc = smtpc_socket_new(&sock, NULL)) != SMTPC_OK ||
      (rc = smtpc_socket_connect(sock, host, port, 30000)) != SMTPC_OK ||
      (rc = smtpc_tls_new(&tls, NULL, sec)) != SMTPC_OK ||
      (rc = smtpc_tls_set_hostname(tls, host)) != SMTPC_OK ||
      (cafile && (rc = smtpc_tls_set_cafile(tls, cafile)) != SMTPC_OK))
    goto out;
  smtpc_socket_io(sock, &plain);
  if ((rc = smtpc_tls_wrap(tls, &plain, &io)) != SMTPC_OK || /* TLS on top */
      (rc = smtpc_session_new(&s, NULL)) != SMTPC_OK ||
      (rc = smtpc_session_set_io(s, &io)) != SMTPC_OK ||
      (rc = smtpc_session_set_tls_policy(s, sec)) != SMTPC_OK ||
      (rc = smtpc_session_set_auth(s, SMTPC_AUTH_AUTO, user, pass, NULL)) !=
          SMTPC_OK ||
      (rc = smtpc_session_open(s)) != SMTPC_OK) /* EHLO STARTTLS EHLO AUTH */
    goto out;
  printf("%s, authenticated as %s\n", smtpc_tls_description(tls), user);

  if ((rc = smtpc_msg_new(&m, NULL)) != SMTPC_OK ||
      (rc = smtpc_msg_set_from(m, NULL, argv[1])) != SMTPC_OK ||
      (rc = smtpc_msg_add_to(m, NULL, argv[2])) != SMTPC_OK ||
      (rc = smtpc_msg_set_subject(m, "Submitted over STARTTLS")) != SMTPC_OK ||
      (rc = smtpc_msg_set_text(m, "Sent with AUTH after STARTTLS.\n",
                               SIZE_MAX)) != SMTPC_OK ||
      (rc = smtpc_msg_body(m, &body)) != SMTPC_OK ||
      (rc = smtpc_msg_envelope(m, &from, &rcpts, &n)) != SMTPC_OK ||
      (rc = smtpc_session_queue(s, from, rcpts, n, &body, &t)) != SMTPC_OK ||
      (rc = smtpc_session_run(s)) != SMTPC_OK)
    goto out;
  rc = smtpc_txn_status(t);

out:
  if (rc != SMTPC_OK) /* e.g. "certificate is for mx.example.org, not ..." */
    fprintf(stderr, "submission: %s%s%s\n", smtpc_strerror(rc),
            tls && *smtpc_tls_last_error(tls) ? ": " : "",
            tls ? smtpc_tls_last_error(tls) : "");
  if (s != NULL && !smtpc_error_is_fatal(rc))
    (void)smtpc_session_quit(s);
  smtpc_txn_free(t);
  smtpc_session_free(s);
  smtpc_tls_free(tls);
  smtpc_socket_free(sock);
  smtpc_msg_free(m);
  return rc == SMTPC_OK ? 0 : 1;
}
