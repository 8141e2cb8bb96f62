/* SPDX-License-Identifier: MIT */
/* STARTTLS policy and SMTP AUTH, through the scripted transport: exact
 * bytes both ways, and proof that nothing reaches the server when it must
 * not (the script simply ends: any further client byte is a mismatch). */
#include "testutil.h"

#include "smtpc_int.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define GREETING "220 mx.example ESMTP\r\n"
#define EHLO_CMD "EHLO client.test\r\n"

typedef struct fixture {
  tu_alloc a;
  ts *t;
  smtpc_session *s;
  smtpc_io io;
  tu_bytes trace;
} fixture;

static void on_trace(void *user, smtpc_trace_dir dir, const char *line,
                     size_t len) {
  tu_bytes *b = user;
  tu_bytes_append_str(b, dir == SMTPC_TRACE_IN    ? "S: "
                         : dir == SMTPC_TRACE_OUT ? "C: "
                                                  : "*: ");
  tu_bytes_append(b, line, len);
  tu_bytes_append_str(b, "\n");
}

static void fx_init(fixture *f, const ts_mode *mode) {
  memset(f, 0, sizeof(*f));
  tu_alloc_init(&f->a, 0);
  f->t = ts_new();
  if (mode != NULL)
    ts_set_mode(f->t, mode);
  ck_assert_int_eq(smtpc_session_new(&f->s, &f->a.mem), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_ehlo_name(f->s, "client.test"), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_server_name(f->s, "mx.example"), SMTPC_OK);
  smtpc_session_set_trace(f->s, on_trace, &f->trace);
}

static int fx_open(fixture *f) {
  int rv;
  ck_assert_int_eq(ts_attach(f->t, f->s, &f->io), SMTPC_OK);
  TS_LOOP(rv, smtpc_session_open(f->s));
  return rv;
}

static void fx_fini(fixture *f) {
  ts_done(f->t);
  smtpc_session_free(f->s);
  ts_free(f->t);
  tu_bytes_free(&f->trace);
  TU_ASSERT_NO_LEAKS(&f->a);
}

static int fx_quit(fixture *f) {
  int rv;
  TS_LOOP(rv, smtpc_session_quit(f->s));
  return rv;
}

static const char *trace_str(fixture *f) {
  return f->trace.p ? (const char *)f->trace.p : "";
}

/* ---- STARTTLS -------------------------------------------------------------- */

/* Records phase changes as letters: N(ew) G(reeting) H(ello) S(TARTTLS)
 * T(LS handshake) A(UTH) R(eady) Q(uit) B(roken). */
static void on_phase(void *user, smtpc__phase from, smtpc__phase to) {
  tu_bytes *b = user;
  (void)from;
  tu_bytes_append(b, &"NGHSTARQB"[to], 1);
}

START_TEST(test_starttls_required_then_auth) {
  fixture f;
  tu_bytes phases = {0};
  fx_init(&f, &ts_modes[_i]);
  smtpc__session_set_phase_hook(f.s, on_phase, &phases);
  ck_assert_int_eq(smtpc_session_set_tls_policy(f.s, SMTPC_SECURITY_STARTTLS),
                   SMTPC_OK);
  ck_assert_int_eq(
      smtpc_session_set_auth(f.s, SMTPC_AUTH_AUTO, "user", "pass", NULL),
      SMTPC_OK);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "250-mx.example\r\n250-SIZE 1000\r\n250-PIPELINING\r\n"
                 "250 STARTTLS\r\n");
  ts_client(f.t, "STARTTLS\r\n");
  ts_server(f.t, "220 2.0.0 Ready to start TLS\r\n");
  ts_starttls(f.t, "mx.example");
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "250-mx.example\r\n250-AUTH PLAIN LOGIN\r\n"
                 "250 ENHANCEDSTATUSCODES\r\n");
  ts_client(f.t, "AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
  ts_server(f.t, "235 2.7.0 Authentication successful\r\n");
  ts_client(f.t, "QUIT\r\n");
  ts_server(f.t, "221 2.0.0 Bye\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_is_secure(f.s), 1);
  ck_assert_int_eq(smtpc_session_auth_mech(f.s), SMTPC_AUTH_PLAIN);
  /* capabilities from before TLS are forgotten (RFC 3207 4.2) */
  ck_assert_int_eq(smtpc_session_max_size(f.s), -1);
  ck_assert_int_eq(smtpc_session_has_ext(f.s, "PIPELINING"), 0);
  ck_assert_str_eq(smtpc_session_ext_params(f.s, "AUTH"), "PLAIN LOGIN");
  /* no byte of the credentials in the trace */
  ck_assert_ptr_nonnull(strstr(trace_str(&f), "C: AUTH PLAIN <redacted>\n"));
  ck_assert_ptr_null(strstr(trace_str(&f), "AHVzZXIAcGFzcw"));
  ck_assert_ptr_null(strstr(trace_str(&f), "pass"));
  ck_assert_int_eq(fx_quit(&f), SMTPC_OK);
  /* the opening sequence, one phase change at a time */
  tu_bytes_append(&phases, "", 1);
  ck_assert_str_eq((const char *)phases.p, "GHSTHARQ");
  tu_bytes_free(&phases);
  fx_fini(&f);
}
END_TEST

START_TEST(test_required_not_offered) {
  fixture f;
  fx_init(&f, &ts_modes[_i]);
  smtpc_session_set_tls_policy(f.s, SMTPC_SECURITY_STARTTLS);
  smtpc_session_set_auth(f.s, SMTPC_AUTH_AUTO, "user", "pass", NULL);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "250-mx.example\r\n250 AUTH PLAIN\r\n");
  /* no AUTH, no MAIL: only the polite QUIT */
  ts_client(f.t, "QUIT\r\n");
  ts_server(f.t, "221 Bye\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_ERR_STARTTLS_UNAVAILABLE);
  ck_assert_int_eq(smtpc_session_run(f.s), SMTPC_ERR_STARTTLS_UNAVAILABLE);
  ck_assert_int_eq(fx_quit(&f), SMTPC_OK);
  fx_fini(&f);
}
END_TEST

START_TEST(test_required_refused) {
  fixture f;
  fx_init(&f, &ts_modes[_i]);
  smtpc_session_set_tls_policy(f.s, SMTPC_SECURITY_STARTTLS);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "250-mx.example\r\n250 STARTTLS\r\n");
  ts_client(f.t, "STARTTLS\r\n");
  ts_server(f.t, "454 4.7.0 TLS not available due to temporary reason\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_ERR_STARTTLS_UNAVAILABLE);
  ck_assert_int_eq(smtpc_reply_code(smtpc_session_last_reply(f.s)), 454);
  ck_assert_int_eq(ts_sent_before_tls(f.t), (size_t)-1);
  fx_fini(&f);
}
END_TEST

START_TEST(test_required_transport_without_tls) {
  fixture f;
  fx_init(&f, NULL);
  ts_set_has_starttls(f.t, 0);
  smtpc_session_set_tls_policy(f.s, SMTPC_SECURITY_STARTTLS);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "250-mx.example\r\n250 STARTTLS\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_ERR_STARTTLS_UNAVAILABLE);
  fx_fini(&f);
}
END_TEST

/* The session reads the one security setting: IMPLICIT demands TLS like
 * STARTTLS (a transport that is not secure from the start gets STARTTLS or
 * nothing); NONE, like a session that was never told, never sends
 * STARTTLS, even when offered. */
START_TEST(test_security_implicit_and_none) {
  int variant;
  for (variant = 0; variant < 3; variant++) {
    fixture f;
    fx_init(&f, NULL);
    if (variant == 0)
      ts_set_has_starttls(f.t, 0);
    if (variant == 0)
      ck_assert_int_eq(
          smtpc_session_set_tls_policy(f.s, SMTPC_SECURITY_IMPLICIT), SMTPC_OK);
    else if (variant == 1)
      ck_assert_int_eq(smtpc_session_set_tls_policy(f.s, SMTPC_SECURITY_NONE),
                       SMTPC_OK);
    ts_server(f.t, GREETING);
    ts_client(f.t, EHLO_CMD);
    ts_server(f.t, "250-mx.example\r\n250 STARTTLS\r\n");
    if (variant == 0) {
      ck_assert_int_eq(fx_open(&f), SMTPC_ERR_STARTTLS_UNAVAILABLE);
    } else {
      ck_assert_int_eq(fx_open(&f), SMTPC_OK);
      ck_assert_int_eq(smtpc_session_is_secure(f.s), 0);
    }
    fx_fini(&f);
  }
}
END_TEST

START_TEST(test_opportunistic_falls_back) {
  int variant;
  for (variant = 0; variant < 2; variant++) {
    fixture f;
    fx_init(&f, NULL);
    smtpc_session_set_tls_policy(f.s, SMTPC_SECURITY_OPPORTUNISTIC);
    ts_server(f.t, GREETING);
    ts_client(f.t, EHLO_CMD);
    if (variant == 0) {
      ts_server(f.t, "250-mx.example\r\n250 PIPELINING\r\n");
    } else {
      ts_server(f.t, "250-mx.example\r\n250 STARTTLS\r\n");
      ts_client(f.t, "STARTTLS\r\n");
      ts_server(f.t, "454 4.7.0 TLS not available\r\n");
    }
    ts_client(f.t, "NOOP\r\n");
    ts_server(f.t, "250 ok\r\n");
    ck_assert_int_eq(fx_open(&f), SMTPC_OK);
    ck_assert_int_eq(smtpc_session_is_secure(f.s), 0);
    {
      int rv;
      TS_LOOP(rv, smtpc_session_noop(f.s));
      ck_assert_int_eq(rv, SMTPC_OK);
    }
    fx_fini(&f);
  }
}
END_TEST

/* Bytes after the 220 to STARTTLS, before the handshake, could be a reply
 * injected by an attacker to be read as if it came over TLS.  Bytes that
 * arrive with the 220 are refused here; bytes that arrive later reach the
 * TLS layer, which reads them as (broken) records (see check_tls). */
START_TEST(test_starttls_injection) {
  fixture f;
  ts_mode whole = {0, 0, _i, 0};
  fx_init(&f, &whole);
  smtpc_session_set_tls_policy(f.s, SMTPC_SECURITY_STARTTLS);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "250-mx.example\r\n250 STARTTLS\r\n");
  ts_client(f.t, "STARTTLS\r\n");
  ts_server(f.t, "220 2.0.0 Ready\r\n250-injected\r\n250 AUTH PLAIN\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_ERR_UNEXPECTED_DATA);
  ck_assert_int_eq(ts_sent_before_tls(f.t), (size_t)-1);
  fx_fini(&f);
}
END_TEST

START_TEST(test_starttls_handshake_fails) {
  static const int errs[] = {SMTPC_ERR_CERTIFICATE, SMTPC_ERR_TLS};
  size_t k;
  for (k = 0; k < 2; k++) {
    fixture f;
    fx_init(&f, NULL);
    smtpc_session_set_tls_policy(f.s, SMTPC_SECURITY_OPPORTUNISTIC);
    smtpc_session_set_auth(f.s, SMTPC_AUTH_AUTO, "user", "pass", NULL);
    ts_server(f.t, GREETING);
    ts_client(f.t, EHLO_CMD);
    ts_server(f.t, "250-mx.example\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n");
    ts_client(f.t, "STARTTLS\r\n");
    ts_server(f.t, "220 Ready\r\n");
    ts_starttls_fail(f.t, "mx.example", errs[k]);
    ck_assert_int_eq(fx_open(&f), errs[k]);
    /* nothing after a failed handshake, not even QUIT */
    ck_assert_int_eq(fx_quit(&f), SMTPC_OK);
    fx_fini(&f);
  }
}
END_TEST

/* ---- AUTH ---------------------------------------------------------------------- */

START_TEST(test_auth_refused_in_clear) {
  fixture f;
  fx_init(&f, NULL);
  smtpc_session_set_auth(f.s, SMTPC_AUTH_AUTO, "user", "pass", NULL);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "250-mx.example\r\n250 AUTH PLAIN LOGIN\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_ERR_AUTH_INSECURE);
  ck_assert_str_eq(smtpc_strerror(SMTPC_ERR_AUTH_INSECURE),
                   "refusing to send credentials over an unencrypted "
                   "connection (allow plaintext auth explicitly to override)");
  fx_fini(&f);
}
END_TEST

START_TEST(test_auth_login) {
  fixture f;
  fx_init(&f, &ts_modes[_i]);
  smtpc_session_set_flag(f.s, SMTPC_FLAG_ALLOW_PLAINTEXT_AUTH, 1);
  smtpc_session_set_auth(f.s, SMTPC_AUTH_LOGIN, "user", "pass", NULL);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "250-mx.example\r\n250-AUTH=LOGIN\r\n250 AUTH PLAIN\r\n");
  ts_client(f.t, "AUTH LOGIN\r\n");
  ts_server(f.t, "334 VXNlcm5hbWU6\r\n");
  ts_client(f.t, "dXNlcg==\r\n");
  /* the prompt text varies ("User Name", "Password:"...) and is ignored */
  ts_server(f.t, "334 UGFzc3dvcmQgcGxlYXNl\r\n");
  ts_client(f.t, "cGFzcw==\r\n");
  ts_server(f.t, "235 ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_auth_mech(f.s), SMTPC_AUTH_LOGIN);
  ck_assert_ptr_null(strstr(trace_str(&f), "dXNlcg=="));
  ck_assert_ptr_null(strstr(trace_str(&f), "cGFzcw=="));
  fx_fini(&f);
}
END_TEST

/* RFC 2195's own example. */
START_TEST(test_auth_cram_md5) {
  fixture f;
  fx_init(&f, &ts_modes[_i]);
  smtpc_session_set_flag(f.s, SMTPC_FLAG_ALLOW_PLAINTEXT_AUTH, 1);
  smtpc_session_set_auth(f.s, SMTPC_AUTH_AUTO, "tim", "tanstaaftanstaaf", NULL);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "250-mx.example\r\n250 AUTH LOGIN PLAIN CRAM-MD5\r\n");
  ts_client(f.t, "AUTH CRAM-MD5\r\n");
  ts_server(f.t,
            "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n");
  ts_client(f.t, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n");
  ts_server(f.t, "235 2.7.0 ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_auth_mech(f.s), SMTPC_AUTH_CRAM_MD5);
  fx_fini(&f);
}
END_TEST

START_TEST(test_auth_plain_authzid) {
  fixture f;
  fx_init(&f, NULL);
  smtpc_session_set_flag(f.s, SMTPC_FLAG_ALLOW_PLAINTEXT_AUTH, 1);
  smtpc_session_set_auth(f.s, SMTPC_AUTH_AUTO, "user", "pass", "admin");
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "250-mx.example\r\n250 AUTH LOGIN PLAIN\r\n");
  ts_client(f.t, "AUTH PLAIN YWRtaW4AdXNlcgBwYXNz\r\n");
  ts_server(f.t, "235 ok\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  fx_fini(&f);
}
END_TEST

START_TEST(test_auth_wrong_password) {
  fixture f;
  fx_init(&f, &ts_modes[_i]);
  smtpc_session_set_flag(f.s, SMTPC_FLAG_ALLOW_PLAINTEXT_AUTH, 1);
  smtpc_session_set_auth(f.s, SMTPC_AUTH_PLAIN, "user", "pass", NULL);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "250-mx.example\r\n250-ENHANCEDSTATUSCODES\r\n"
                 "250 AUTH PLAIN\r\n");
  ts_client(f.t, "AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
  ts_server(f.t, "535 5.7.8 Error: authentication failed: authentication "
                 "failure\r\n");
  ts_client(f.t, "QUIT\r\n");
  ts_server(f.t, "221 2.0.0 Bye\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_ERR_AUTH_FAILED);
  ck_assert_int_eq(smtpc_reply_code(smtpc_session_last_reply(f.s)), 535);
  ck_assert_str_eq(smtpc_reply_enhanced(smtpc_session_last_reply(f.s)),
                   "5.7.8");
  ck_assert_int_eq(smtpc_session_run(f.s), SMTPC_ERR_AUTH_FAILED);
  ck_assert_int_eq(fx_quit(&f), SMTPC_OK);
  fx_fini(&f);
}
END_TEST

START_TEST(test_auth_other_failures) {
  static const char *const replies[] = {
      "454 4.7.0 Temporary authentication failure\r\n",
      "534 5.7.9 Authentication mechanism is too weak\r\n",
      "530 5.7.0 Must issue a STARTTLS command first\r\n"};
  size_t k;
  for (k = 0; k < 3; k++) {
    fixture f;
    fx_init(&f, NULL);
    smtpc_session_set_flag(f.s, SMTPC_FLAG_ALLOW_PLAINTEXT_AUTH, 1);
    smtpc_session_set_auth(f.s, SMTPC_AUTH_PLAIN, "user", "pass", NULL);
    ts_server(f.t, GREETING);
    ts_client(f.t, EHLO_CMD);
    ts_server(f.t, "250-mx.example\r\n250 AUTH PLAIN\r\n");
    ts_client(f.t, "AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
    ts_server(f.t, replies[k]);
    ck_assert_int_eq(fx_open(&f), SMTPC_ERR_AUTH_FAILED);
    ck_assert_int_eq(smtpc_reply_code(smtpc_session_last_reply(f.s)),
                     atoi(replies[k]));
    fx_fini(&f);
  }
}
END_TEST

START_TEST(test_auth_421) {
  fixture f;
  fx_init(&f, NULL);
  smtpc_session_set_flag(f.s, SMTPC_FLAG_ALLOW_PLAINTEXT_AUTH, 1);
  smtpc_session_set_auth(f.s, SMTPC_AUTH_LOGIN, "user", "pass", NULL);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "250-mx.example\r\n250 AUTH LOGIN\r\n");
  ts_client(f.t, "AUTH LOGIN\r\n");
  ts_server(f.t, "421 4.4.2 timeout\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_ERR_SERVICE_CLOSING);
  fx_fini(&f);
}
END_TEST

START_TEST(test_auth_bad_challenges) {
  static const char *const bad[] = {
      "334 !!notbase64\r\n",      "334 VXNlcm5hbWU\r\n",
      "334 VXNlcm5hbWU6=\r\n",    "334 VX Nlcm5h\r\n",
      "334-VXNl\r\n334 VXNl\r\n", "334 VXNlcm5hbWV=\r\n"};
  size_t k;
  for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
    fixture f;
    fx_init(&f, NULL);
    smtpc_session_set_flag(f.s, SMTPC_FLAG_ALLOW_PLAINTEXT_AUTH, 1);
    smtpc_session_set_auth(f.s, SMTPC_AUTH_LOGIN, "user", "pass", NULL);
    ts_server(f.t, GREETING);
    ts_client(f.t, EHLO_CMD);
    ts_server(f.t, "250-mx.example\r\n250 AUTH LOGIN\r\n");
    ts_client(f.t, "AUTH LOGIN\r\n");
    ts_server(f.t, bad[k]);
    ts_client(f.t, "*\r\n"); /* RFC 4954 4: cancel */
    ts_server(f.t, "501 5.7.0 Authentication aborted\r\n");
    ck_assert_msg(fx_open(&f) == SMTPC_ERR_AUTH_BAD_CHALLENGE, "case %zu", k);
    fx_fini(&f);
  }
}
END_TEST

/* A challenge beyond what any mechanism needs is refused, not buffered. */
START_TEST(test_auth_overlong_challenge) {
  fixture f;
  char *line = malloc(20000);
  size_t i;
  fx_init(&f, NULL);
  smtpc_session_set_limit(f.s, SMTPC_LIMIT_REPLY_LINE, 30000);
  smtpc_session_set_flag(f.s, SMTPC_FLAG_ALLOW_PLAINTEXT_AUTH, 1);
  smtpc_session_set_auth(f.s, SMTPC_AUTH_CRAM_MD5, "user", "pass", NULL);
  memcpy(line, "334 ", 4);
  for (i = 4; i < 4 + 12000; i++)
    line[i] = 'A';
  memcpy(line + i, "\r\n", 3);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "250-mx.example\r\n250 AUTH CRAM-MD5\r\n");
  ts_client(f.t, "AUTH CRAM-MD5\r\n");
  ts_server(f.t, line);
  ts_client(f.t, "*\r\n");
  ts_server(f.t, "501 5.7.0 aborted\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_ERR_AUTH_BAD_CHALLENGE);
  fx_fini(&f);
  free(line);
}
END_TEST

START_TEST(test_auth_unsupported) {
  /* a named mechanism that is not offered; nothing offered at all; and
   * XOAUTH2 asked while only OAUTHBEARER is offered */
  static const char *const ehlo[] = {"250-mx\r\n250 AUTH LOGIN\r\n",
                                     "250 mx\r\n",
                                     "250-mx\r\n250 AUTH OAUTHBEARER\r\n"};
  static const smtpc_auth_mech want[] = {SMTPC_AUTH_CRAM_MD5, SMTPC_AUTH_AUTO,
                                         SMTPC_AUTH_XOAUTH2};
  size_t k;
  for (k = 0; k < 3; k++) {
    fixture f;
    fx_init(&f, NULL);
    smtpc_session_set_flag(f.s, SMTPC_FLAG_ALLOW_PLAINTEXT_AUTH, 1);
    smtpc_session_set_auth(f.s, want[k], "user", "tok", NULL);
    ts_server(f.t, GREETING);
    ts_client(f.t, EHLO_CMD);
    ts_server(f.t, ehlo[k]);
    ck_assert_int_eq(fx_open(&f), SMTPC_ERR_AUTH_UNSUPPORTED);
    fx_fini(&f);
  }
}
END_TEST

START_TEST(test_auth_xoauth2) {
  fixture f;
  fx_init(&f, &ts_modes[_i]);
  smtpc_session_set_flag(f.s, SMTPC_FLAG_ALLOW_PLAINTEXT_AUTH, 1);
  smtpc_session_set_auth(f.s, SMTPC_AUTH_XOAUTH2, "u@example.com", "tok", NULL);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "250-mx\r\n250 AUTH LOGIN PLAIN XOAUTH2 OAUTHBEARER\r\n");
  ts_client(
      f.t, "AUTH XOAUTH2 dXNlcj11QGV4YW1wbGUuY29tAWF1dGg9QmVhcmVyIHRvawEB\r\n");
  ts_server(f.t, "235 2.7.0 Accepted\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_auth_mech(f.s), SMTPC_AUTH_XOAUTH2);
  fx_fini(&f);
}
END_TEST

/* The error challenge carries JSON; the client answers with an empty line
 * and the server then fails the exchange. */
START_TEST(test_auth_xoauth2_error) {
  fixture f;
  fx_init(&f, &ts_modes[_i]);
  smtpc_session_set_flag(f.s, SMTPC_FLAG_ALLOW_PLAINTEXT_AUTH, 1);
  smtpc_session_set_auth(f.s, SMTPC_AUTH_XOAUTH2, "u@example.com", "tok", NULL);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "250-mx\r\n250 AUTH XOAUTH2\r\n");
  ts_client(
      f.t, "AUTH XOAUTH2 dXNlcj11QGV4YW1wbGUuY29tAWF1dGg9QmVhcmVyIHRvawEB\r\n");
  ts_server(f.t, "334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiQmVhcmVyIn0=\r\n");
  ts_client(f.t, "\r\n");
  ts_server(f.t, "535 5.7.8 Username and Password not accepted\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_ERR_AUTH_FAILED);
  fx_fini(&f);
}
END_TEST

START_TEST(test_auth_oauthbearer) {
  fixture f;
  fx_init(&f, NULL);
  smtpc_session_set_flag(f.s, SMTPC_FLAG_ALLOW_PLAINTEXT_AUTH, 1);
  smtpc_session_set_auth(f.s, SMTPC_AUTH_OAUTHBEARER, "u@example.com", "tok",
                         NULL);
  ts_server(f.t, GREETING);
  ts_client(f.t, EHLO_CMD);
  ts_server(f.t, "250-mx\r\n250 AUTH XOAUTH2 OAUTHBEARER\r\n");
  ts_client(f.t, "AUTH OAUTHBEARER "
                 "bixhPXVAZXhhbXBsZS5jb20sAWF1dGg9QmVhcmVyIHRvawEB\r\n");
  /* RFC 7628 3.2.2 error, then the dummy response %x01 */
  ts_server(f.t, "334 eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n");
  ts_client(f.t, "AQ==\r\n");
  ts_server(f.t, "535 5.7.8 invalid token\r\n");
  ck_assert_int_eq(fx_open(&f), SMTPC_ERR_AUTH_FAILED);
  fx_fini(&f);
}
END_TEST

START_TEST(test_auth_bad_arguments) {
  fixture f;
  fx_init(&f, NULL);
  ck_assert_int_eq(
      smtpc_session_set_auth(f.s, SMTPC_AUTH_PLAIN, "us\r\ner", "p", NULL),
      SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_session_set_auth(f.s, SMTPC_AUTH_PLAIN, "", "p", NULL),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_session_set_auth(f.s, SMTPC_AUTH_PLAIN, "u", "", NULL),
                   SMTPC_ERR_BAD_ARGUMENT);
  /* a token is printable: ^A would smuggle SASL key/value pairs */
  ck_assert_int_eq(smtpc_session_set_auth(f.s, SMTPC_AUTH_XOAUTH2, "u",
                                          "tok\001auth=Bearer x", NULL),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(
      smtpc_session_set_auth(f.s, SMTPC_AUTH_OAUTHBEARER, "u", "tok\r\n", NULL),
      SMTPC_ERR_BAD_ARGUMENT);
  /* a password is base64-encoded on the wire: any byte but NUL goes */
  ck_assert_int_eq(
      smtpc_session_set_auth(f.s, SMTPC_AUTH_PLAIN, "u", "p\001a\r\nss", NULL),
      SMTPC_OK);
  ck_assert_int_eq(
      smtpc_session_set_auth(f.s, SMTPC_AUTH_PLAIN, "u\001", "p", NULL),
      SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(
      smtpc_session_set_auth(f.s, (smtpc_auth_mech)9, "u", "p", NULL),
      SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_session_set_tls_policy(f.s, (smtpc_security)7),
                   SMTPC_ERR_INVALID_ARGUMENT);
  tu_bytes_free(&f.trace);
  smtpc_session_free(f.s);
  ts_free(f.t);
  TU_ASSERT_NO_LEAKS(&f.a);
}
END_TEST

/* ---- codecs ----------------------------------------------------------------- */

START_TEST(test_base64_vectors) {
  /* RFC 4648 section 10 */
  static const char *const plain[] = {"",     "f",     "fo",    "foo",
                                      "foob", "fooba", "foobar"};
  static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                    "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  static const char *const bad[] = {
      "Zg=", "Zg=a", "Z===", "Zh==", "Zm9=", "Zm 9", "Zm9v\n", "=Zm9", "Zm=v"};
  unsigned char out[16];
  char txt[16];
  size_t i, n;
  for (i = 0; i < 7; i++) {
    ck_assert_uint_eq(smtpc__b64_encode((const unsigned char *)plain[i],
                                        strlen(plain[i]), txt),
                      strlen(enc[i]));
    ck_assert_str_eq(txt, enc[i]);
    ck_assert_int_eq(
        smtpc__b64_decode(enc[i], strlen(enc[i]), out, sizeof(out), &n),
        SMTPC_OK);
    ck_assert_uint_eq(n, strlen(plain[i]));
    ck_assert(memcmp(out, plain[i], n) == 0);
  }
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    ck_assert_msg(smtpc__b64_decode(bad[i], strlen(bad[i]), out, sizeof(out),
                                    &n) == SMTPC_ERR_PROTOCOL,
                  "accepted %s", bad[i]);
  ck_assert_int_eq(smtpc__b64_decode("Zm9vYmFy", 8, out, 5, &n),
                   SMTPC_ERR_REPLY_TOO_LARGE);
}
END_TEST

START_TEST(test_hmac_md5_vectors) {
  /* RFC 2104 appendix / RFC 2202 section 2 */
  unsigned char mac[16], key[80];
  static const unsigned char want1[16] = {0x92, 0x94, 0x72, 0x7a, 0x36, 0x38,
                                          0xbb, 0x1c, 0x13, 0xf4, 0x8e, 0xf8,
                                          0x15, 0x8b, 0xfc, 0x9d};
  static const unsigned char want2[16] = {0x75, 0x0c, 0x78, 0x3e, 0x6a, 0xb0,
                                          0xb5, 0x03, 0xea, 0xa8, 0x6e, 0x31,
                                          0x0a, 0x5d, 0xb7, 0x38};
  static const unsigned char want6[16] = {0x6b, 0x1a, 0xb7, 0xfe, 0x4b, 0xd7,
                                          0xbf, 0x8f, 0x0b, 0x62, 0xe6, 0xce,
                                          0x61, 0xb9, 0xd0, 0xcd};
  memset(key, 0x0b, 16);
  smtpc__hmac_md5(key, 16, (const unsigned char *)"Hi There", 8, mac);
  ck_assert(memcmp(mac, want1, 16) == 0);
  smtpc__hmac_md5((const unsigned char *)"Jefe", 4,
                  (const unsigned char *)"what do ya want for nothing?", 28,
                  mac);
  ck_assert(memcmp(mac, want2, 16) == 0);
  memset(key, 0xaa, 80); /* key longer than a block */
  smtpc__hmac_md5(key, 80,
                  (const unsigned char *)"Test Using Larger Than Block-Size "
                                         "Key - Hash Key First",
                  54, mac);
  ck_assert(memcmp(mac, want6, 16) == 0);
}
END_TEST

/* ---- secrets are wiped (review finding 3) ---------------------------------- */

/* An allocator that looks into every block it takes back -- freed, or left
 * by realloc, which here always moves -- for needles: the secret, and the
 * base64 text that carried it.  Blocks carry their size in a header. */
typedef struct scan_alloc {
  smtpc_mem mem;
  const char *needle[4];
  size_t nneedles;
  long live;
  long hits;
  char where[160];
} scan_alloc;

static void scan_block(scan_alloc *a, const unsigned char *p, size_t n,
                       const char *how) {
  size_t i, k;
  for (k = 0; k < a->nneedles; k++) {
    size_t l = strlen(a->needle[k]);
    for (i = 0; l > 0 && i + l <= n; i++) {
      if (memcmp(p + i, a->needle[k], l) == 0) {
        a->hits++;
        snprintf(a->where, sizeof(a->where),
                 "needle %zu (%.12s...) at offset %zu of a %zu-byte block "
                 "(%s)",
                 k, a->needle[k], i, n, how);
        break;
      }
    }
  }
}

static void *scan_malloc(void *user, size_t n) {
  scan_alloc *a = user;
  size_t *h = malloc(sizeof(size_t) * 2 + n);
  if (h == NULL)
    return NULL;
  h[0] = n;
  memset(h + 2, 0, n); /* the scan reads whole blocks */
  a->live++;
  return h + 2;
}

static void scan_free(void *user, void *p) {
  scan_alloc *a = user;
  size_t *h;
  if (p == NULL)
    return;
  h = (size_t *)p - 2;
  scan_block(a, p, h[0], "free");
  a->live--;
  free(h);
}

static void *scan_realloc(void *user, void *p, size_t n) {
  scan_alloc *a = user;
  void *q;
  size_t old;
  if (p == NULL)
    return scan_malloc(user, n);
  old = ((size_t *)p - 2)[0];
  if ((q = scan_malloc(user, n)) == NULL)
    return NULL;
  memcpy(q, p, old < n ? old : n);
  scan_block(a, p, old, "left by realloc");
  a->live--;
  free((size_t *)p - 2);
  return q;
}

static char *b64_of(const void *p, size_t n) {
  char *out = malloc(smtpc__b64_encoded_len(n) + 1);
  ck_assert_ptr_nonnull(out);
  out[smtpc__b64_encode(p, n, out)] = '\0';
  return out;
}

/* Opens a session that authenticates with mech, quits and is freed; fails
 * if any block the library gave back held a needle. */
static void auth_and_scan(smtpc_auth_mech mech, size_t secret_len) {
  static const char *const names[] = {"",         "PLAIN",   "LOGIN",
                                      "CRAM-MD5", "XOAUTH2", "OAUTHBEARER"};
  scan_alloc a;
  ts *t = ts_new();
  smtpc_session *s;
  smtpc_io io;
  char *secret = malloc(secret_len + 1), *payload, *b64, line[4096];
  size_t i, plen;
  int rv;
  ck_assert_ptr_nonnull(secret);
  for (i = 0; i < secret_len; i++)
    secret[i] = (char)('A' + (i * 7 + i / 26) % 58);
  secret[secret_len] = '\0';
  if (mech == SMTPC_AUTH_CRAM_MD5) /* RFC 2195's example, user "tim" */
    memcpy(secret, "tanstaaftanstaaf", secret_len = 16), secret[16] = '\0';
  payload = malloc(secret_len + 64);
  ck_assert_ptr_nonnull(payload);
  /* what goes over the wire, base64-encoded */
  if (mech == SMTPC_AUTH_PLAIN)
    plen = (size_t)sprintf(payload, "%cuser%c%s", 0, 0, secret);
  else if (mech == SMTPC_AUTH_XOAUTH2)
    plen =
        (size_t)sprintf(payload, "user=user\001auth=Bearer %s\001\001", secret);
  else if (mech == SMTPC_AUTH_OAUTHBEARER)
    plen =
        (size_t)sprintf(payload, "n,a=user,\001auth=Bearer %s\001\001", secret);
  else if (mech == SMTPC_AUTH_CRAM_MD5)
    plen = (size_t)sprintf(payload, "tim b913a602c7eda7a495b4e6e7334d3890");
  else
    plen = (size_t)sprintf(payload, "%s", secret);
  b64 = b64_of(payload, plen);

  memset(&a, 0, sizeof(a));
  a.mem.user = &a;
  a.mem.malloc = scan_malloc;
  a.mem.realloc = scan_realloc;
  a.mem.free = scan_free;
  a.needle[a.nneedles++] = secret;
  /* the base64 text from its 9th character on encodes secret bytes */
  a.needle[a.nneedles++] = strlen(b64) > 8 ? b64 + 8 : b64;
  if (mech == SMTPC_AUTH_CRAM_MD5)
    a.needle[a.nneedles++] = payload; /* the digest is a credential too */

  ck_assert_int_eq(smtpc_session_new(&s, &a.mem), SMTPC_OK);
  ck_assert_int_eq(smtpc_session_set_ehlo_name(s, "client.test"), SMTPC_OK);
  smtpc_session_set_flag(s, SMTPC_FLAG_ALLOW_PLAINTEXT_AUTH, 1);
  ck_assert_int_eq(
      smtpc_session_set_auth(
          s, mech, mech == SMTPC_AUTH_CRAM_MD5 ? "tim" : "user", secret, NULL),
      SMTPC_OK);
  ts_server(t, GREETING);
  ts_client(t, EHLO_CMD);
  ts_server(t, "250-mx.example\r\n"
               "250 AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER\r\n");
  if (mech == SMTPC_AUTH_LOGIN) {
    ts_client(t, "AUTH LOGIN\r\n");
    ts_server(t, "334 VXNlcm5hbWU6\r\n");
    ts_client(t, "dXNlcg==\r\n");
    ts_server(t, "334 UGFzc3dvcmQ6\r\n");
    snprintf(line, sizeof(line), "%s\r\n", b64);
  } else if (mech == SMTPC_AUTH_CRAM_MD5) {
    ts_client(t, "AUTH CRAM-MD5\r\n");
    ts_server(t, "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"
                 "\r\n");
    snprintf(line, sizeof(line), "%s\r\n", b64);
  } else {
    snprintf(line, sizeof(line), "AUTH %s %s\r\n", names[mech], b64);
  }
  ts_client(t, line);
  ts_server(t, "235 2.7.0 ok\r\n");
  ts_client(t, "QUIT\r\n");
  ts_server(t, "221 bye\r\n");
  ts_io(t, &io);
  ck_assert_int_eq(smtpc_session_set_io(s, &io), SMTPC_OK);
  TS_LOOP(rv, smtpc_session_open(s));
  ck_assert_int_eq(rv, SMTPC_OK);
  ck_assert_int_eq(smtpc_session_auth_mech(s), mech);
  TS_LOOP(rv, smtpc_session_quit(s));
  ck_assert_int_eq(rv, SMTPC_OK);
  ts_done(t);
  smtpc_session_free(s);
  ts_free(t);
  ck_assert_int_eq(a.live, 0);
  ck_assert_msg(a.hits == 0,
                "%s, secret of %zu bytes: %ld freed block(s) "
                "held it; last: %s",
                names[mech], secret_len, a.hits, a.where);
  free(b64);
  free(payload);
  free(secret);
}

START_TEST(test_auth_secrets_wiped) {
  static const struct {
    smtpc_auth_mech mech;
    size_t len;
  } cases[] = {{SMTPC_AUTH_PLAIN, 20},       {SMTPC_AUTH_PLAIN, 600},
               {SMTPC_AUTH_LOGIN, 20},       {SMTPC_AUTH_LOGIN, 900},
               {SMTPC_AUTH_CRAM_MD5, 16},    {SMTPC_AUTH_XOAUTH2, 1500},
               {SMTPC_AUTH_OAUTHBEARER, 700}};
  auth_and_scan(cases[_i].mech, cases[_i].len);
}
END_TEST

static Suite *auth_suite(void) {
  Suite *s = suite_create("auth");
  TCase *tc = tcase_create("starttls+auth");
  int n = (int)ts_nmodes;
  tcase_add_loop_test(tc, test_starttls_required_then_auth, 0, n);
  tcase_add_loop_test(tc, test_required_not_offered, 0, n);
  tcase_add_loop_test(tc, test_required_refused, 0, n);
  tcase_add_test(tc, test_required_transport_without_tls);
  tcase_add_test(tc, test_security_implicit_and_none);
  tcase_add_test(tc, test_opportunistic_falls_back);
  tcase_add_loop_test(tc, test_starttls_injection, 0, 2);
  tcase_add_test(tc, test_starttls_handshake_fails);
  tcase_add_test(tc, test_auth_refused_in_clear);
  tcase_add_loop_test(tc, test_auth_login, 0, n);
  tcase_add_loop_test(tc, test_auth_cram_md5, 0, n);
  tcase_add_test(tc, test_auth_plain_authzid);
  tcase_add_loop_test(tc, test_auth_wrong_password, 0, n);
  tcase_add_test(tc, test_auth_other_failures);
  tcase_add_test(tc, test_auth_421);
  tcase_add_test(tc, test_auth_bad_challenges);
  tcase_add_test(tc, test_auth_overlong_challenge);
  tcase_add_test(tc, test_auth_unsupported);
  tcase_add_loop_test(tc, test_auth_xoauth2, 0, n);
  tcase_add_loop_test(tc, test_auth_xoauth2_error, 0, n);
  tcase_add_test(tc, test_auth_oauthbearer);
  tcase_add_test(tc, test_auth_bad_arguments);
  tcase_add_loop_test(tc, test_auth_secrets_wiped, 0, 7);
  tcase_add_test(tc, test_base64_vectors);
  tcase_add_test(tc, test_hmac_md5_vectors);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(auth_suite());
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
