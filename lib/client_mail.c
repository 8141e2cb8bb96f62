/* SPDX-License-Identifier: MIT */
/* smtpc_mail -> smtpc_msg: the simple message of the one-call API, built
 * with the MIME builder.  Addresses are given as "addr" or
 * "Display Name <addr>"; everything else is checked by the builder, whose
 * error is reported with the field it came from. */
#include "client_int.h"

#include <smtpc/dkim.h>

#include <string.h>

/* Splits "Name <addr>" (or a bare "addr") in the copy buf: *name is NULL
 * when there is none.  Surrounding blanks and one pair of double quotes
 * around the name are dropped; the builder quotes or encodes it again. */
static int split_address(char *buf, const char **name, const char **addr) {
  size_t n = strlen(buf);
  char *lt;
  while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
    buf[--n] = '\0';
  while (*buf == ' ' || *buf == '\t')
    buf++, n--;
  *name = NULL;
  *addr = buf;
  if (n == 0 || buf[n - 1] != '>')
    return SMTPC_OK;
  lt = strrchr(buf, '<');
  if (lt == NULL)
    return SMTPC_ERR_BAD_ADDRESS;
  buf[n - 1] = '\0';
  *addr = lt + 1;
  *lt = '\0';
  n = (size_t)(lt - buf);
  while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
    buf[--n] = '\0';
  if (n >= 2 && buf[0] == '"' && buf[n - 1] == '"') {
    buf[n - 1] = '\0';
    buf++;
    n -= 2;
  }
  if (n > 0)
    *name = buf;
  return SMTPC_OK;
}

typedef int (*add_fn)(smtpc_msg *m, const char *name, const char *addr);

static int add_address(smtpc_msg *m, const smtpc_mem *mem, add_fn add,
                       const char *field, const char *value, smtpc_result *r) {
  const char *name, *addr;
  char *copy;
  int rc;
  if (value == NULL) {
    smtpc__result_set(r, SMTPC_ERR_INVALID_ARGUMENT, SMTPC_STAGE_SETUP,
                      "mail: %s: no address", field);
    return r->status;
  }
  copy = smtpc__strdup(mem, value);
  if (copy == NULL) {
    smtpc__result_set(r, SMTPC_ERR_NOMEM, SMTPC_STAGE_SETUP, "mail: %s",
                      smtpc_strerror(SMTPC_ERR_NOMEM));
    return r->status;
  }
  rc = split_address(copy, &name, &addr);
  if (rc == SMTPC_OK)
    rc = add(m, name, addr);
  smtpc__free(mem, copy);
  if (rc != SMTPC_OK)
    smtpc__result_set(r, rc, SMTPC_STAGE_SETUP, "mail: %s \"%s\": %s", field,
                      value, smtpc_strerror(rc));
  return rc;
}

static int add_list(smtpc_msg *m, const smtpc_mem *mem, add_fn add,
                    const char *field, const char *const *list,
                    smtpc_result *r) {
  size_t i;
  int rc;
  for (i = 0; list != NULL && list[i] != NULL; i++)
    if ((rc = add_address(m, mem, add, field, list[i], r)) != SMTPC_OK)
      return rc;
  return SMTPC_OK;
}

static int add_part(smtpc_msg *m, const smtpc_attachment *a, smtpc_result *r) {
  int rc;
  if (a->path != NULL)
    rc = a->content_id != NULL
             ? smtpc_msg_add_inline_file(m, a->path, a->filename,
                                         a->content_type, a->content_id)
             : smtpc_msg_add_attachment_file(m, a->path, a->filename,
                                             a->content_type);
  else if (a->data != NULL || a->len == 0)
    rc = a->content_id != NULL
             ? smtpc_msg_add_inline_memory(m, a->data, a->len, a->filename,
                                           a->content_type, a->content_id)
             : smtpc_msg_add_attachment_memory(m, a->data, a->len, a->filename,
                                               a->content_type);
  else
    rc = SMTPC_ERR_INVALID_ARGUMENT;
  if (rc != SMTPC_OK)
    smtpc__result_set(r, rc, SMTPC_STAGE_SETUP, "mail: attachment \"%s\": %s",
                      a->filename ? a->filename
                      : a->path   ? a->path
                                  : "(memory)",
                      smtpc_strerror(rc));
  return rc;
}

int smtpc__mail_build(const smtpc_mail *mail, const smtpc_mem *mem,
                      smtpc_msg **out, smtpc_result *r) {
  smtpc_msg *m = NULL;
  size_t i;
  int rc;
  *out = NULL;
  if ((unsigned)mail->version > SMTPC_MAIL_VERSION) {
    smtpc__result_set(r, SMTPC_ERR_INVALID_ARGUMENT, SMTPC_STAGE_SETUP,
                      "mail: version %d is newer than this library",
                      mail->version);
    return r->status;
  }
  rc = smtpc_msg_new(&m, mem);
  if (rc != SMTPC_OK) {
    smtpc__result_set(r, rc, SMTPC_STAGE_SETUP, "mail: %s", smtpc_strerror(rc));
    return rc;
  }
  rc = add_address(m, mem, smtpc_msg_set_from, "From", mail->from, r);
  if (rc == SMTPC_OK)
    rc = add_list(m, mem, smtpc_msg_add_to, "To", mail->to, r);
  if (rc == SMTPC_OK)
    rc = add_list(m, mem, smtpc_msg_add_cc, "Cc", mail->cc, r);
  if (rc == SMTPC_OK)
    rc = add_list(m, mem, smtpc_msg_add_bcc, "Bcc", mail->bcc, r);
  if (rc == SMTPC_OK && mail->reply_to != NULL)
    rc = add_address(m, mem, smtpc_msg_set_reply_to, "Reply-To", mail->reply_to,
                     r);
  if (rc == SMTPC_OK && mail->subject != NULL &&
      (rc = smtpc_msg_set_subject(m, mail->subject)) != SMTPC_OK)
    smtpc__result_set(r, rc, SMTPC_STAGE_SETUP, "mail: Subject: %s",
                      smtpc_strerror(rc));
  if (rc == SMTPC_OK && mail->text != NULL &&
      (rc = smtpc_msg_set_text(m, mail->text, SIZE_MAX)) != SMTPC_OK)
    smtpc__result_set(r, rc, SMTPC_STAGE_SETUP, "mail: text: %s",
                      smtpc_strerror(rc));
  if (rc == SMTPC_OK && mail->html != NULL &&
      (rc = smtpc_msg_set_html(m, mail->html, SIZE_MAX)) != SMTPC_OK)
    smtpc__result_set(r, rc, SMTPC_STAGE_SETUP, "mail: HTML: %s",
                      smtpc_strerror(rc));
  if (rc == SMTPC_OK && mail->version >= 1 &&
      (mail->dsn_notify != 0 || mail->dsn_ret != SMTPC_DSN_RET_DEFAULT ||
       mail->dsn_envid != NULL || mail->dsn_flags != 0) &&
      (rc = smtpc_msg_set_dsn(m, mail->dsn_ret, mail->dsn_envid,
                              mail->dsn_notify, mail->dsn_flags)) != SMTPC_OK)
    smtpc__result_set(r, rc, SMTPC_STAGE_SETUP, "mail: DSN: %s",
                      rc == SMTPC_ERR_BAD_ARGUMENT
                          ? "the envelope id must be printable ASCII of at "
                            "most 100 characters once xtext-encoded"
                          : smtpc_strerror(rc));
  if (rc == SMTPC_OK && mail->version >= 2 &&
      ((mail->requiretls &&
        (rc = smtpc_msg_set_requiretls(m, 1)) != SMTPC_OK) ||
       (mail->tls_required_no &&
        (rc = smtpc_msg_set_tls_required_no(m, 1)) != SMTPC_OK)))
    smtpc__result_set(r, rc, SMTPC_STAGE_SETUP, "mail: %s",
                      "requiretls and tls_required_no are exclusive");
  for (i = 0; rc == SMTPC_OK && mail->version >= 3 && i < mail->ndkim; i++) {
    rc = mail->dkim != NULL ? smtpc_msg_add_dkim(m, mail->dkim[i])
                            : SMTPC_ERR_INVALID_ARGUMENT;
    if (rc != SMTPC_OK)
      smtpc__result_set(r, rc, SMTPC_STAGE_SETUP, "mail: DKIM identity %zu: %s",
                        i, smtpc_strerror(rc));
  }
  for (i = 0; rc == SMTPC_OK && i < mail->nattachments; i++)
    rc = mail->attachments != NULL ? add_part(m, &mail->attachments[i], r)
                                   : SMTPC_ERR_INVALID_ARGUMENT;
  if (rc != SMTPC_OK) {
    if (!r->described) /* a helper above may have said why already */
      smtpc__result_set(r, rc, SMTPC_STAGE_SETUP, "mail: %s",
                        smtpc_strerror(rc));
    smtpc_msg_free(m);
    return rc;
  }
  *out = m;
  return SMTPC_OK;
}
