/* SPDX-License-Identifier: MIT */
/* notify.c -- send a plain-text alert in one call: the shortest complete use
 * of libsmtpc.
 *
 *   notify HOST PORT FROM TO [TEXT]
 *
 * smtpc_send() connects, says EHLO, does STARTTLS (required and verified
 * unless SMTP_TLS=none), authenticates when SMTP_USER and SMTP_PASSWORD are
 * set, sends one message built with the MIME builder and says QUIT.
 * SMTP_CAFILE names a CA bundle other than the system's.  Exit status 0
 * when the server accepted the message, 1 when not (the step that failed
 * and why on stderr), 2 on misuse. */
#include <smtpc/smtpc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  smtpc_client_config cfg = {0}; /* zero: STARTTLS required, verified */
  smtpc_mail mail = {0};
  const char *to[2] = {NULL, NULL};
  const char *tls = getenv("SMTP_TLS");
  smtpc_result *res;
  int rc;

  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: notify HOST PORT FROM TO [TEXT]\n");
    return 2;
  }
  cfg.host = argv[1];
  cfg.port = argv[2];
  if (tls != NULL && strcmp(tls, "none") == 0)
    cfg.security = SMTPC_SECURITY_NONE;
  cfg.ca_file = getenv("SMTP_CAFILE");
  cfg.user = getenv("SMTP_USER");
  cfg.password = getenv("SMTP_PASSWORD");

  to[0] = argv[4];
  mail.from = argv[3];
  mail.to = to;
  mail.subject = "Alert: disk almost full";
  mail.text = argc == 6 ? argv[5] : "/var is 95% full.\n";

  rc = smtpc_send(&cfg, &mail, &res);
  if (rc != SMTPC_OK) /* e.g. "RCPT TO:<x@example.org>: 550 5.1.1 ..." */
    fprintf(stderr, "notify: %s\n", smtpc_result_message(res));
  smtpc_result_free(res);
  return rc == SMTPC_OK ? 0 : 1;
}
