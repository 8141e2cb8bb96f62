/* SPDX-License-Identifier: MIT */
/* html_report.c -- an HTML report with a plain-text alternative and a CSV
 * attachment, built with the MIME builder (multipart/mixed holding a
 * multipart/alternative and the attachment).
 *
 *   html_report HOST PORT FROM TO
 *
 * Exit status 0 when the server accepted the message, 1 when not. */
#include <smtpc/smtpc.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char text[] = "Daily report\n\nhost   load  disk\n"
                           "web1   0.42  61%\ndb1    1.70  88%\n";
static const char html[] =
    "<html><body><h1>Daily report</h1>\n<table>\n"
    "<tr><th>host</th><th>load</th><th>disk</th></tr>\n"
    "<tr><td>web1</td><td>0.42</td><td>61%</td></tr>\n"
    "<tr><td>db1</td><td>1.70</td><td><b>88%</b></td></tr>\n"
    "</table></body></html>\n";
static const char csv[] = "host,load,disk\r\nweb1,0.42,61\r\ndb1,1.70,88\r\n";

int main(int argc, char **argv) {
  smtpc_socket *sock = NULL;
  smtpc_session *s = NULL;
  smtpc_msg *m = NULL;
  smtpc_txn *t = NULL;
  smtpc_io io;
  smtpc_body body;
  const char *from;
  const char *const *rcpts;
  size_t n;
  int rc;

  if (argc != 5) {
    fprintf(stderr, "usage: html_report HOST PORT FROM TO\n");
    return 2;
  }
  if ((rc = smtpc_msg_new(&m, NULL)) != SMTPC_OK ||
      (rc = smtpc_msg_set_from(m, "Report robot", argv[3])) != SMTPC_OK ||
      (rc = smtpc_msg_add_to(m, "Operations", argv[4])) != SMTPC_OK ||
      (rc = smtpc_msg_set_subject(m, "Daily report – 2 hosts")) != SMTPC_OK ||
      (rc = smtpc_msg_set_text(m, text, SIZE_MAX)) != SMTPC_OK ||
      (rc = smtpc_msg_set_html(m, html, SIZE_MAX)) != SMTPC_OK ||
      (rc = smtpc_msg_add_attachment_memory(m, csv, strlen(csv), "report.csv",
                                            "text/csv")) != SMTPC_OK)
    goto out;

  if ((rc = smtpc_socket_new(&sock, NULL)) != SMTPC_OK ||
      (rc = smtpc_socket_connect(sock, argv[1], argv[2], 30000)) != SMTPC_OK ||
      (rc = smtpc_session_new(&s, NULL)) != SMTPC_OK)
    goto out;
  smtpc_socket_io(sock, &io);
  if ((rc = smtpc_session_set_io(s, &io)) != SMTPC_OK ||
      (rc = smtpc_session_open(s)) != SMTPC_OK)
    goto out;

  /* 8-bit text may go out unencoded when the server offers 8BITMIME. */
  if ((rc = smtpc_msg_set_8bitmime(m, smtpc_session_has_ext(s, "8BITMIME"))) !=
          SMTPC_OK ||
      (rc = smtpc_msg_body(m, &body)) != SMTPC_OK ||
      (rc = smtpc_msg_envelope(m, &from, &rcpts, &n)) != SMTPC_OK ||
      (rc = smtpc_session_queue(s, from, rcpts, n, &body, &t)) != SMTPC_OK ||
      (rc = smtpc_session_run(s)) != SMTPC_OK)
    goto out;
  rc = smtpc_txn_status(t);
  printf("%s: %s\n", smtpc_msg_message_id(m), smtpc_strerror(rc));

out:
  if (rc != SMTPC_OK)
    fprintf(stderr, "html_report: %s\n", smtpc_strerror(rc));
  if (s != NULL && !smtpc_error_is_fatal(rc))
    (void)smtpc_session_quit(s);
  smtpc_txn_free(t);
  smtpc_session_free(s);
  smtpc_socket_free(sock);
  smtpc_msg_free(m);
  return rc == SMTPC_OK ? 0 : 1;
}
