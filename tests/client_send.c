/* SPDX-License-Identifier: MIT */
/* client_send: a thin command line over smtpc_send() and smtpc_verify()
 * for tests/interop_client.sh.  It maps its arguments one to one onto
 * smtpc_client_config and smtpc_mail and prints the outcome on one line:
 *
 *   status=OK stage=done retry=none attempts=1 mech=- message=accepted: ...
 *
 * (status is the smtpc_error name without SMTPC_ERR_, stage and retry the
 * names from smtpc_stage_name() and smtpc_retry_name()).
 *
 * usage: client_send --host H --port P [--tls none|starttls|implicit|try]
 *          [--cafile F] [--user U --password-env VAR] [--auth
 *          auto|plain|login|cram-md5] [--allow-plaintext-auth]
 *          [--timeout-ms N] [--repeat N] (--verify | --from A --to A...
 *          [--cc A]... [--bcc A]... [--subject S] [--text T] [--html H]
 *          [--attach F]... [--notify BITS] [--ret full|hdrs] [--envid ID]
 *          [--dsn-required] [--dkim-key F --dkim-selector S]...
 *          [--dkim-domain D] [--pool]) [--trace] [--bdat]
 * --repeat N (1-5) does it N times, one line each, the calls sharing one
 * smtpc_tls_cache (smtpc_client_config.tls_cache), and stops at the first
 * failure.  --notify takes the SMTPC_NOTIFY_* bits as a number; --trace
 * prints the client's commands on stderr as "C: ...".  Each --dkim-key
 * adds a DKIM signature (smtpc_mail.dkim) with the --dkim-selector that
 * follows it, for --dkim-domain (default: the domain of --from); --pool
 * sends through an smtpc_pool (smtpc_pool_send()) instead of smtpc_send().  Exit: 0 OK, 2
 * PARTIAL, 1 any other outcome, 64 usage. */
#include <smtpc/smtpc.h>

#include "err_name.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIST 16

static const char *status_name(int e) {
  const char *n = err_name(e);
  return n != NULL ? n : "OTHER";
}

static int usage(const char *why) {
  fprintf(stderr, "client_send: %s\n", why);
  return 64;
}

/* Appends v to a NULL-terminated list of at most MAX_LIST entries. */
static int push(const char **list, const char *v) {
  int i;
  for (i = 0; i < MAX_LIST; i++)
    if (list[i] == NULL) {
      list[i] = v;
      return 0;
    }
  return -1;
}

static void trace(void *user, smtpc_trace_dir dir, const char *line,
                  size_t len) {
  (void)user;
  if (dir == SMTPC_TRACE_OUT)
    fprintf(stderr, "C: %.*s\n", (int)len, line);
}

int main(int argc, char **argv) {
  smtpc_client_config cfg;
  smtpc_mail mail;
  smtpc_attachment att[MAX_LIST];
  const char *to[MAX_LIST + 1], *cc[MAX_LIST + 1], *bcc[MAX_LIST + 1];
  const char *attach[MAX_LIST + 1];
  smtpc_result *res = NULL;
  smtpc_tls_cache *cache = NULL;
  smtpc_dkim *dk[MAX_LIST];
  const char *dkey[MAX_LIST + 1], *dsel[MAX_LIST + 1], *ddom = NULL;
  smtpc_pool *pool = NULL;
  int verify = 0, use_pool = 0, i, rv = SMTPC_OK;
  size_t ndk = 0, nsel = 0;
  unsigned long repeat = 1, k;
  size_t n;

  memset(&cfg, 0, sizeof(cfg));
  cfg.version = SMTPC_CLIENT_CONFIG_VERSION;
  memset(&mail, 0, sizeof(mail));
  mail.version = SMTPC_MAIL_VERSION;
  memset(att, 0, sizeof(att));
  memset(to, 0, sizeof(to));
  memset(cc, 0, sizeof(cc));
  memset(bcc, 0, sizeof(bcc));
  memset(attach, 0, sizeof(attach));
  memset(dk, 0, sizeof(dk));
  cfg.ehlo_name = "client-send.test";
  cfg.timeout_ms = 20000;
  cfg.connect_timeout_ms = 10000;

  for (i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(o, "--verify") == 0) {
      verify = 1;
      continue;
    }
    if (strcmp(o, "--allow-plaintext-auth") == 0) {
      cfg.allow_plaintext_auth = 1;
      continue;
    }
    if (strcmp(o, "--dsn-required") == 0) {
      mail.dsn_flags = SMTPC_DSN_REQUIRED;
      continue;
    }
    if (strcmp(o, "--bdat") == 0) {
      cfg.bdat = 1;
      continue;
    }
    if (strcmp(o, "--pool") == 0) {
      use_pool = 1;
      continue;
    }
    if (strcmp(o, "--trace") == 0) {
      cfg.trace = trace;
      continue;
    }
    if (v == NULL)
      return usage("an option lacks its value");
    i++;
    if (strcmp(o, "--host") == 0)
      cfg.host = v;
    else if (strcmp(o, "--port") == 0)
      cfg.port = v;
    else if (strcmp(o, "--cafile") == 0)
      cfg.ca_file = v;
    else if (strcmp(o, "--user") == 0)
      cfg.user = v;
    else if (strcmp(o, "--password-env") == 0) {
      /* never on the command line: ps(1) would show it */
      cfg.password = getenv(v);
      if (cfg.password == NULL)
        return usage("--password-env: variable not set");
    } else if (strcmp(o, "--timeout-ms") == 0)
      cfg.timeout_ms = (unsigned)strtoul(v, NULL, 10);
    else if (strcmp(o, "--repeat") == 0) {
      repeat = strtoul(v, NULL, 10);
      if (repeat < 1 || repeat > 5)
        return usage("--repeat: 1 to 5");
    } else if (strcmp(o, "--tls") == 0) {
      if (strcmp(v, "none") == 0)
        cfg.security = SMTPC_SECURITY_NONE;
      else if (strcmp(v, "starttls") == 0)
        cfg.security = SMTPC_SECURITY_STARTTLS;
      else if (strcmp(v, "implicit") == 0)
        cfg.security = SMTPC_SECURITY_IMPLICIT;
      else if (strcmp(v, "try") == 0)
        cfg.security = SMTPC_SECURITY_OPPORTUNISTIC;
      else
        return usage("--tls: none, starttls, implicit or try");
    } else if (strcmp(o, "--auth") == 0) {
      if (strcmp(v, "auto") == 0)
        cfg.auth = SMTPC_AUTH_AUTO;
      else if (strcmp(v, "plain") == 0)
        cfg.auth = SMTPC_AUTH_PLAIN;
      else if (strcmp(v, "login") == 0)
        cfg.auth = SMTPC_AUTH_LOGIN;
      else if (strcmp(v, "cram-md5") == 0)
        cfg.auth = SMTPC_AUTH_CRAM_MD5;
      else
        return usage("--auth: auto, plain, login or cram-md5");
    } else if (strcmp(o, "--from") == 0)
      mail.from = v;
    else if (strcmp(o, "--to") == 0) {
      if (push(to, v) != 0)
        return usage("too many --to");
    } else if (strcmp(o, "--cc") == 0) {
      if (push(cc, v) != 0)
        return usage("too many --cc");
    } else if (strcmp(o, "--bcc") == 0) {
      if (push(bcc, v) != 0)
        return usage("too many --bcc");
    } else if (strcmp(o, "--attach") == 0) {
      if (push(attach, v) != 0)
        return usage("too many --attach");
    } else if (strcmp(o, "--subject") == 0)
      mail.subject = v;
    else if (strcmp(o, "--text") == 0)
      mail.text = v;
    else if (strcmp(o, "--html") == 0)
      mail.html = v;
    else if (strcmp(o, "--dkim-key") == 0) {
      if (ndk == MAX_LIST)
        return usage("too many --dkim-key");
      dkey[ndk++] = v;
    } else if (strcmp(o, "--dkim-selector") == 0) {
      if (nsel + 1 != ndk)
        return usage("--dkim-selector: one after each --dkim-key");
      dsel[nsel++] = v;
    } else if (strcmp(o, "--dkim-domain") == 0)
      ddom = v;
    else if (strcmp(o, "--notify") == 0)
      mail.dsn_notify = (unsigned)strtoul(v, NULL, 10);
    else if (strcmp(o, "--envid") == 0)
      mail.dsn_envid = v;
    else if (strcmp(o, "--ret") == 0)
      mail.dsn_ret = strcmp(v, "full") == 0   ? SMTPC_DSN_RET_FULL
                     : strcmp(v, "hdrs") == 0 ? SMTPC_DSN_RET_HDRS
                                              : (smtpc_dsn_ret)99;
    else
      return usage("unknown option");
  }
  if (cfg.host == NULL)
    return usage("--host is required");

  mail.to = to[0] != NULL ? to : NULL;
  mail.cc = cc[0] != NULL ? cc : NULL;
  mail.bcc = bcc[0] != NULL ? bcc : NULL;
  for (n = 0; attach[n] != NULL; n++)
    att[n].path = attach[n];
  mail.attachments = n > 0 ? att : NULL;
  mail.nattachments = n;
  if (nsel != ndk)
    return usage("--dkim-key: each needs a --dkim-selector");
  if (ddom == NULL && ndk > 0 && mail.from != NULL) {
    ddom = strrchr(mail.from, '@');
    ddom = ddom != NULL ? ddom + 1 : NULL;
  }
  for (n = 0; n < ndk; n++) {
    char dom[256];
    size_t l = ddom != NULL ? strcspn(ddom, ">") : 0;
    if (l == 0 || l >= sizeof dom)
      return usage("--dkim-domain is needed");
    memcpy(dom, ddom, l);
    dom[l] = '\0';
    if ((rv = smtpc_dkim_new(&dk[n], dom, dsel[n], NULL)) != SMTPC_OK ||
        (rv = smtpc_dkim_set_key_file(dk[n], dkey[n], NULL)) != SMTPC_OK) {
      printf("status=%s stage=setup message=DKIM key %s\n", status_name(rv),
             dkey[n]);
      for (l = 0; l <= n; l++)
        smtpc_dkim_free(dk[l]);
      return 1;
    }
  }
  mail.dkim = (const smtpc_dkim *const *)dk;
  mail.ndkim = ndk;
  if (use_pool && (rv = smtpc_pool_new(&pool, &cfg, NULL)) != SMTPC_OK) {
    fprintf(stderr, "client_send: smtpc_pool_new: %s\n", smtpc_strerror(rv));
    return 1;
  }
  if (repeat > 1) {
    if (smtpc_tls_cache_new(&cache, NULL) != SMTPC_OK) {
      fprintf(stderr, "client_send: cannot create the TLS session cache\n");
      return 1;
    }
    cfg.tls_cache = cache;
  }
  for (k = 0; k < repeat && rv == SMTPC_OK; k++) {
    rv = verify ? smtpc_verify(&cfg, &res)
         : pool ? smtpc_pool_send(pool, &mail, 10000, &res)
                : smtpc_send(&cfg, &mail, &res);
    printf("status=%s stage=%s retry=%s attempts=%u message=%s\n",
           status_name(rv), smtpc_stage_name(smtpc_result_stage(res)),
           smtpc_retry_name(smtpc_result_retry(res)),
           smtpc_result_attempts(res), smtpc_result_message(res));
    smtpc_result_free(res);
    res = NULL;
  }
  smtpc_pool_free(pool);
  smtpc_tls_cache_free(cache);
  for (n = 0; n < ndk; n++)
    smtpc_dkim_free(dk[n]);
  return rv == SMTPC_OK ? 0 : rv == SMTPC_ERR_PARTIAL ? 2 : 1;
}
