/* SPDX-License-Identifier: MIT */
/* DKIM signing: RFC 8463 Appendix A's known answers, RFC 6376's
 * canonicalization rules one case each, the exact DKIM-Signature fields
 * (h= with oversigning, t=, x=, i=, folding), several signatures, the
 * errors, the signed body of two passes (memory, rewindable stream, spool,
 * a source that changes between passes) and a signed message through the
 * session, byte for byte. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "rfc8463.h"
#include "testutil.h"

#include "../lib/dkim_int.h"

#include <smtpc/smtpc.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- RFC 8463 Appendix A ---- */

#define A_HDR                                                                  \
  "From: Joe SixPack <joe@football.example.com>\r\n"                           \
  "To: Suzie Q <suzie@shopping.example.net>\r\n"                               \
  "Subject: Is dinner ready?\r\n"                                              \
  "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"                            \
  "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
#define A_BODY                                                                 \
  "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n"
#define A_NAMES "from:to:subject:date:message-id:from:subject:date"
#define A_ED_FIELD                                                             \
  "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"              \
  " d=football.example.com; i=@football.example.com;\r\n"                      \
  " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"                    \
  " subject : date : message-id : from : subject : date;\r\n"                  \
  " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"                      \
  " b="
#define A_RSA_FIELD                                                            \
  "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"                  \
  " d=football.example.com; i=@football.example.com;\r\n"                      \
  " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"              \
  " date : message-id : from : subject : date;\r\n"                            \
  " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"                      \
  " b="
/* The relaxed header data of A.3's Ed25519 signature, written out. */
#define A_ED_CANON                                                             \
  "from:Joe SixPack <joe@football.example.com>\r\n"                            \
  "to:Suzie Q <suzie@shopping.example.net>\r\n"                                \
  "subject:Is dinner ready?\r\n"                                               \
  "date:Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"                             \
  "message-id:<20030712040037.46341.5F8J@football.example.com>\r\n"            \
  "dkim-signature:v=1; a=ed25519-sha256; c=relaxed/relaxed; "                  \
  "d=football.example.com; i=@football.example.com; q=dns/txt; s=brisbane; "   \
  "t=1528637909; h=from : to : subject : date : message-id : from : subject "  \
  ": date; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b="

static const char a_rsa_key[] = RFC8463_RSA_PEM;

/* The seed nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A= as PKCS#8. */
static const char a_ed_key[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";

static void b64(const unsigned char *p, size_t n, char *out) {
  smtpc__b64_encode(p, n, out);
}

/* ---- a signer callback that records the digest ---- */

typedef struct cbsig {
  unsigned char digest[32];
  int calls;
  int rc;
  size_t len; /* the signature's length: octets 1, 2, 3... */
} cbsig;

static int cb_sign(void *user, smtpc_dkim_algo algo,
                   const unsigned char digest[32], unsigned char *sig,
                   size_t sig_size, size_t *sig_len) {
  cbsig *c = user;
  size_t i;
  (void)algo;
  memcpy(c->digest, digest, 32);
  c->calls++;
  if (c->rc != SMTPC_OK)
    return c->rc;
  ck_assert_uint_eq(sig_size, SMTPC_DKIM_MAX_SIG);
  for (i = 0; i < c->len; i++)
    sig[i] = (unsigned char)(i + 1);
  *sig_len = c->len;
  return SMTPC_OK;
}

static smtpc_dkim *cb_key(const char *d, const char *s, smtpc_dkim_algo algo,
                          cbsig *c, const smtpc_mem *mem) {
  smtpc_dkim *k = NULL;
  ck_assert_int_eq(smtpc_dkim_new(&k, d, s, mem), SMTPC_OK);
  memset(c, 0, sizeof(*c));
  c->len = 4;
  ck_assert_int_eq(smtpc_dkim_set_signer(k, algo, cb_sign, c), SMTPC_OK);
  ck_assert_int_eq(smtpc_dkim_set_time(k, 1700000000), SMTPC_OK);
  return k;
}

/* Signs msg (split in pieces of step octets, 0: whole) with one key;
 * the fields into out (NUL-terminated, malloc'd). */
static int sign_msg(smtpc_dkim *const *keys, size_t n, const char *msg,
                    size_t len, size_t step, unsigned flags, char **out) {
  smtpc_dkim_ctx *c = NULL;
  const char *f;
  size_t fl, i;
  int rc =
      smtpc_dkim_ctx_new(&c, (const smtpc_dkim *const *)keys, n, flags, NULL);
  if (rc != SMTPC_OK)
    return rc;
  for (i = 0; i < len && rc == SMTPC_OK;) {
    size_t take = step == 0 || step > len - i ? len - i : step;
    rc = smtpc_dkim_ctx_update(c, msg + i, take);
    i += take;
  }
  if (rc == SMTPC_OK)
    rc = smtpc_dkim_ctx_final(c, &f, &fl);
  if (rc == SMTPC_OK) {
    *out = malloc(fl + 1);
    memcpy(*out, f, fl);
    (*out)[fl] = '\0';
  }
  smtpc_dkim_ctx_free(c);
  return rc;
}

/* The value of tag (e.g. "bh=") in the first field, FWS removed. */
static char *tag_of(const char *fields, const char *tag, char *out,
                    size_t cap) {
  const char *p = fields;
  size_t tl = strlen(tag), o = 0;
  for (;;) {
    p = strstr(p, tag);
    ck_assert_ptr_nonnull(p);
    if (p[-1] == ' ' || p[-1] == ';')
      break;
    p++;
  }
  for (p += tl; *p != '\0' && *p != ';' && o + 1 < cap; p++)
    if (*p != ' ' && *p != '\r' && *p != '\n' && *p != '\t')
      out[o++] = *p;
  out[o] = '\0';
  return out;
}

static void sha_b64(const char *data, size_t n, char *out) {
  smtpc__sha256 s;
  unsigned char d[32];
  smtpc__sha256_init(&s);
  smtpc__sha256_update(&s, data, n);
  smtpc__sha256_final(&s, d);
  b64(d, 32, out);
}

/* bh= of body (after a minimal header) in the given body canonicalization */
static void body_hash(const char *body, size_t blen, smtpc_dkim_canon bc,
                      unsigned flags, char *out) {
  char msg[4096], *f = NULL, v[64];
  cbsig cs;
  smtpc_dkim *k =
      cb_key("example.org", "s", SMTPC_DKIM_ED25519_SHA256, &cs, NULL);
  size_t hl = strlen("From: a@example.org\r\n\r\n");
  ck_assert_uint_lt(blen + hl, sizeof msg);
  memcpy(msg, "From: a@example.org\r\n\r\n", hl);
  memcpy(msg + hl, body, blen);
  ck_assert_int_eq(smtpc_dkim_set_canon(k, SMTPC_DKIM_RELAXED, bc), SMTPC_OK);
  ck_assert_int_eq(sign_msg(&k, 1, msg, hl + blen, 0, flags, &f), SMTPC_OK);
  strcpy(out, tag_of(f, "bh=", v, sizeof v));
  /* byte by byte gives the same */
  free(f);
  ck_assert_int_eq(sign_msg(&k, 1, msg, hl + blen, 1, flags, &f), SMTPC_OK);
  ck_assert_str_eq(tag_of(f, "bh=", v, sizeof v), out);
  free(f);
  smtpc_dkim_free(k);
}

/* Asserts bh= of body is the SHA-256 of canon. */
#define ASSERT_BODY(body, bc, canon)                                           \
  do {                                                                         \
    char got_[64], want_[64];                                                  \
    body_hash((body), sizeof(body) - 1, (bc), 0, got_);                        \
    sha_b64((canon), sizeof(canon) - 1, want_);                                \
    ck_assert_str_eq(got_, want_);                                             \
  } while (0)

START_TEST(test_rfc8463_body_hash) {
  char got[64];
  body_hash(A_BODY, strlen(A_BODY), SMTPC_DKIM_RELAXED, 0, got);
  ck_assert_str_eq(got, RFC8463_BH);
}
END_TEST

/* The header data of A.3's Ed25519 signature, through the library's field
 * picker and relaxed canonicalizer, hashes as written out by hand. */
START_TEST(test_rfc8463_header_data) {
  unsigned char d[32];
  char got[64], want[64];
  ck_assert_int_eq(smtpc__dkim_header_digest((const unsigned char *)A_HDR,
                                             strlen(A_HDR), A_NAMES, A_ED_FIELD,
                                             SMTPC_DKIM_RELAXED, d),
                   SMTPC_OK);
  b64(d, 32, got);
  sha_b64(A_ED_CANON, strlen(A_ED_CANON), want);
  ck_assert_str_eq(got, want);
}
END_TEST

/* The whole chain: the RFC's keys sign the RFC's header data into the
 * RFC's b= values (both schemes are deterministic). */
static void known_b(const char *key, const char *field, const char *want,
                    int have) {
  smtpc__dkim_key *k = NULL;
  smtpc_dkim_algo algo;
  unsigned char d[32], sig[SMTPC_DKIM_MAX_SIG];
  char got[SMTPC_DKIM_MAX_SIG * 2];
  size_t len = 0;
  int rc = smtpc__dkim_key_load(NULL, (const unsigned char *)key, strlen(key),
                                NULL, 1024, &k, &algo);
  if (rc == SMTPC_ERR_DKIM_KEY && !have) /* built without its library */
    return;
  ck_assert_int_eq(rc, SMTPC_OK);
  ck_assert_int_eq(smtpc__dkim_header_digest((const unsigned char *)A_HDR,
                                             strlen(A_HDR), A_NAMES, field,
                                             SMTPC_DKIM_RELAXED, d),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc__dkim_key_sign(k, d, sig, sizeof sig, &len), SMTPC_OK);
  b64(sig, len, got);
  ck_assert_str_eq(got, want);
  smtpc__dkim_key_free(k);
}

START_TEST(test_rfc8463_ed25519) {
#ifdef SMTPC_HAVE_SODIUM
  known_b(a_ed_key, A_ED_FIELD, RFC8463_ED_B, 1);
#else
  known_b(a_ed_key, A_ED_FIELD, RFC8463_ED_B, 0);
#endif
}
END_TEST

START_TEST(test_rfc8463_rsa) {
#ifdef SMTPC_HAVE_MBEDTLS
  known_b(a_rsa_key, A_RSA_FIELD, RFC8463_RSA_B, 1);
#else
  known_b(a_rsa_key, A_RSA_FIELD, RFC8463_RSA_B, 0);
#endif
}
END_TEST

/* RFC 8301: the RFC's own 1024-bit key is refused for signing. */
START_TEST(test_rsa1024_refused) {
  smtpc_dkim *k = NULL;
  ck_assert_int_eq(smtpc_dkim_new(&k, "football.example.com", "test", NULL),
                   SMTPC_OK);
  ck_assert_int_eq(smtpc_dkim_set_key(k, a_rsa_key, strlen(a_rsa_key), NULL),
                   SMTPC_ERR_DKIM_KEY);
  ck_assert_int_eq(smtpc_dkim_algo_of(k), 0);
  smtpc_dkim_free(k);
}
END_TEST

/* The CPU's SHA instructions (when it has them) and the portable code
 * agree on every length from 0 to 700 and every split. */
START_TEST(test_sha256_paths) {
  unsigned char m[700], d1[32], d2[32];
  smtpc__sha256 a, b;
  size_t len, i;
  for (i = 0; i < sizeof m; i++)
    m[i] = (unsigned char)(i * 2654435761u >> 13);
  for (len = 0; len <= sizeof m; len++) {
    smtpc__sha256_init(&a);
    smtpc__sha256_init(&b);
    b.hw = 0;
    smtpc__sha256_update(&a, m, len / 3);
    smtpc__sha256_update(&a, m + len / 3, len - len / 3);
    smtpc__sha256_update(&b, m, len);
    smtpc__sha256_final(&a, d1);
    smtpc__sha256_final(&b, d2);
    ck_assert_msg(memcmp(d1, d2, 32) == 0, "length %zu", len);
  }
}
END_TEST

/* ---- RFC 6376 3.4: canonicalization, one rule per test ---- */

/* 3.4.5's example, relaxed body: " C \r\nD \t E\r\n\r\n\r\n". */
START_TEST(test_relaxed_body_example) {
  ASSERT_BODY(" C \r\nD \t E\r\n\r\n\r\n", SMTPC_DKIM_RELAXED, " C\r\nD E\r\n");
}
END_TEST

START_TEST(test_simple_body_example) {
  ASSERT_BODY(" C \r\nD \t E\r\n\r\n\r\n", SMTPC_DKIM_SIMPLE,
              " C \r\nD \t E\r\n");
}
END_TEST

/* Asserts the signed header data of hdr (fields a and b, then a bare
 * DKIM-Signature field) in canon hashes as want. */
static void assert_header_data(const char *hdr, smtpc_dkim_canon canon,
                               const char *want) {
  unsigned char d[32];
  char got[64], w[64];
  ck_assert_int_eq(smtpc__dkim_header_digest((const unsigned char *)hdr,
                                             strlen(hdr), "a:b",
                                             "DKIM-Signature: b=", canon, d),
                   SMTPC_OK);
  b64(d, 32, got);
  sha_b64(want, strlen(want), w);
  ck_assert_str_eq(got, w);
}

/* 3.4.5's example, header: "A: X" and "B : Y<TAB><CRLF><TAB>Z  " relaxed
 * become "a:X" and "b:Y Z". */
START_TEST(test_relaxed_header_example) {
  assert_header_data("A: X\r\nB : Y\t\r\n\tZ  \r\n", SMTPC_DKIM_RELAXED,
                     "a:X\r\nb:Y Z\r\ndkim-signature:b=");
}
END_TEST

START_TEST(test_simple_header_example) {
  assert_header_data("A: X\r\nB : Y\t\r\n\tZ  \r\n", SMTPC_DKIM_SIMPLE,
                     "A: X\r\nB : Y\t\r\n\tZ  \r\nDKIM-Signature: b=");
}
END_TEST

/* 3.4.3: an empty body is one CRLF; 3.4.4: the null string. */
START_TEST(test_empty_body) {
  char got[64];
  body_hash("", 0, SMTPC_DKIM_SIMPLE, 0, got);
  ck_assert_str_eq(got, "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
  body_hash("", 0, SMTPC_DKIM_RELAXED, 0, got);
  ck_assert_str_eq(got, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  /* only empty lines: the same */
  body_hash("\r\n\r\n", 4, SMTPC_DKIM_SIMPLE, 0, got);
  ck_assert_str_eq(got, "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
  body_hash("\r\n\r\n", 4, SMTPC_DKIM_RELAXED, 0, got);
  ck_assert_str_eq(got, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}
END_TEST

/* 3.4.4: lines of only whitespace at the end become empty, then go. */
START_TEST(test_relaxed_whitespace_lines_at_end) {
  ASSERT_BODY("a\r\n \t\r\n  \r\n", SMTPC_DKIM_RELAXED, "a\r\n");
  ASSERT_BODY(" \r\n\t\r\n", SMTPC_DKIM_RELAXED, "");
  /* ...but in simple they are content */
  ASSERT_BODY("a\r\n \t\r\n\r\n", SMTPC_DKIM_SIMPLE, "a\r\n \t\r\n");
}
END_TEST

/* Empty lines inside the body stay; only those at the end go. */
START_TEST(test_inner_empty_lines) {
  ASSERT_BODY("a\r\n\r\n  \r\nb\r\n\r\n", SMTPC_DKIM_RELAXED,
              "a\r\n\r\n\r\nb\r\n");
  ASSERT_BODY("a\r\n\r\n\r\nb\r\n\r\n", SMTPC_DKIM_SIMPLE,
              "a\r\n\r\n\r\nb\r\n");
}
END_TEST

/* A last line without CRLF gets one (the session sends one, too). */
START_TEST(test_missing_final_crlf) {
  ASSERT_BODY("a\r\nb", SMTPC_DKIM_SIMPLE, "a\r\nb\r\n");
  ASSERT_BODY("a\r\nb  ", SMTPC_DKIM_RELAXED, "a\r\nb\r\n");
}
END_TEST

/* Relaxed keeps leading space (as one SP) and collapses inner runs. */
START_TEST(test_relaxed_inner_space) {
  ASSERT_BODY("  a \t b\t\r\n", SMTPC_DKIM_RELAXED, " a b\r\n");
}
END_TEST

/* Bare LF and bare CR are hashed as the CRLF the session sends. */
START_TEST(test_bare_line_ends) {
  ASSERT_BODY("a\nb\rc\r\r\nd\n\n", SMTPC_DKIM_SIMPLE,
              "a\r\nb\r\nc\r\n\r\nd\r\n");
  ASSERT_BODY("a \nb\n", SMTPC_DKIM_RELAXED, "a\r\nb\r\n");
}
END_TEST

/* A binary message's header must use CRLF: a bare CR or LF in it is
 * refused rather than hashed in a way no verifier would. */
START_TEST(test_binary_header_line_ends) {
  static const char *const bad[] = {
      "From: a@example.org\nSubject: x\r\n\r\nbody\r\n",
      "From: a@example.org\r\nSubject: x\ry\r\n\r\nbody\r\n",
      "From: a@example.org\r\nSubject: x\r",
  };
  cbsig cs;
  smtpc_dkim *k =
      cb_key("example.org", "s", SMTPC_DKIM_ED25519_SHA256, &cs, NULL);
  size_t i;
  for (i = 0; i < 3; i++) {
    char *f = NULL;
    ck_assert_msg(sign_msg(&k, 1, bad[i], strlen(bad[i]), 0, SMTPC_DKIM_BINARY,
                           &f) == SMTPC_ERR_DKIM_HEADER,
                  "case %zu", i);
    /* as text they are CRLF: fine, but for "y", which is no field */
    ck_assert_int_eq(sign_msg(&k, 1, bad[i], strlen(bad[i]), 0, 0, &f),
                     i == 1 ? SMTPC_ERR_DKIM_HEADER : SMTPC_OK);
    if (i != 1)
      free(f);
  }
  smtpc_dkim_free(k);
}
END_TEST

/* A binary body (BINARYMIME): only CRLF ends a line. */
START_TEST(test_binary_line_ends) {
  char got[64], want[64];
  static const char body[] = "a\nb\rc\r\n\r\n";
  static const char canon[] = "a\nb\rc\r\n";
  body_hash(body, sizeof body - 1, SMTPC_DKIM_SIMPLE, SMTPC_DKIM_BINARY, got);
  sha_b64(canon, sizeof canon - 1, want);
  ck_assert_str_eq(got, want);
}
END_TEST

/* A dot line is hashed unstuffed (the server removes the stuffing). */
START_TEST(test_dot_lines) {
  ASSERT_BODY(".\r\n..x\r\n", SMTPC_DKIM_SIMPLE, ".\r\n..x\r\n");
}
END_TEST

/* A CRLF split across two updates is one line end (go-msgauth#38). */
START_TEST(test_split_crlf) {
  static const char msg[] =
      "From: a@example.org\r\nSubject:  x \r\n\r\na \r\n\r\nb\r\n\r\n";
  cbsig cs;
  smtpc_dkim *k =
      cb_key("example.org", "s", SMTPC_DKIM_ED25519_SHA256, &cs, NULL);
  char *whole = NULL, *f = NULL;
  size_t step;
  ck_assert_int_eq(sign_msg(&k, 1, msg, sizeof msg - 1, 0, 0, &whole),
                   SMTPC_OK);
  for (step = 1; step < sizeof msg; step++) {
    ck_assert_int_eq(sign_msg(&k, 1, msg, sizeof msg - 1, step, 0, &f),
                     SMTPC_OK);
    ck_assert_str_eq(f, whole);
    free(f);
  }
  free(whole);
  smtpc_dkim_free(k);
}
END_TEST

/* ---- the fields ---- */

/* The exact field: tags in order, h= with each signed field once per
 * occurrence in message order then From, To, Subject and Date once more;
 * Received is not signed; the digest is that of the fields a verifier
 * picks (bottom-up) and of this field with b= empty. */
START_TEST(test_field_exact) {
  static const char msg[] = "Received: from x\r\n"
                            "From: A <a@example.org>\r\n"
                            "To: b@example.net\r\n"
                            "Subject: hi\r\n"
                            "To: c@example.net\r\n"
                            "\r\n"
                            "body\r\n";
  static const char want[] =
      "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org;"
      "\r\n s=sel; t=1700000000; x=1700086400; "
      "h=from:to:subject:to:from:to:subject:date;\r\n bh=" /* filled below */;
  static const char data[] = "from:A <a@example.org>\r\n"
                             "to:c@example.net\r\n" /* the last To first */
                             "subject:hi\r\n"
                             "to:b@example.net\r\n";
  cbsig cs;
  smtpc_dkim *k =
      cb_key("example.org", "sel", SMTPC_DKIM_ED25519_SHA256, &cs, NULL);
  char *f = NULL, exp[1024], bh[64], dig[64], canon[2048];
  ck_assert_int_eq(smtpc_dkim_set_expire(k, 86400), SMTPC_OK);
  ck_assert_int_eq(sign_msg(&k, 1, msg, sizeof msg - 1, 0, 0, &f), SMTPC_OK);
  sha_b64("body\r\n", 6, bh);
  snprintf(exp, sizeof exp, "%s%s;\r\n b=AQIDBA==\r\n", want, bh);
  ck_assert_str_eq(f, exp);
  /* the signed data */
  snprintf(canon, sizeof canon,
           "%sdkim-signature:v=1; a=ed25519-sha256; c=relaxed/relaxed; "
           "d=example.org; s=sel; t=1700000000; x=1700086400; "
           "h=from:to:subject:to:from:to:subject:date; bh=%s; b=",
           data, bh);
  sha_b64(canon, strlen(canon), dig);
  {
    char got[64];
    b64(cs.digest, 32, got);
    ck_assert_str_eq(got, dig);
  }
  ck_assert_int_eq(cs.calls, 1);
  free(f);
  smtpc_dkim_free(k);
}
END_TEST

/* simple/simple: the field itself is hashed as written, folds included. */
START_TEST(test_field_simple) {
  static const char msg[] = "From: a@example.org\r\n\r\nx\r\n";
  cbsig cs;
  smtpc_dkim *k = cb_key("example.org", "s1", SMTPC_DKIM_RSA_SHA256, &cs, NULL);
  char *f = NULL, canon[1024], dig[64], got[64], bh[64];
  ck_assert_int_eq(
      smtpc_dkim_set_canon(k, SMTPC_DKIM_SIMPLE, SMTPC_DKIM_SIMPLE), SMTPC_OK);
  ck_assert_int_eq(smtpc_dkim_set_time(k, SMTPC_DKIM_TIME_NONE), SMTPC_OK);
  ck_assert_int_eq(smtpc_dkim_set_identity(k, "bounce@mail.example.org"),
                   SMTPC_OK);
  ck_assert_int_eq(sign_msg(&k, 1, msg, sizeof msg - 1, 0, 0, &f), SMTPC_OK);
  sha_b64("x\r\n", 3, bh);
  snprintf(canon, sizeof canon,
           "DKIM-Signature: v=1; a=rsa-sha256; c=simple/simple; "
           "d=example.org; s=s1;\r\n i=bounce@mail.example.org; "
           "h=from:from:to:subject:date;\r\n bh=%s;\r\n b=",
           bh);
  ck_assert_int_eq(strncmp(f, canon, strlen(canon)), 0);
  ck_assert_str_eq(f + strlen(canon), "AQIDBA==\r\n");
  {
    char data[1200];
    snprintf(data, sizeof data, "From: a@example.org\r\n%s", canon);
    sha_b64(data, strlen(data), dig);
  }
  b64(cs.digest, 32, got);
  ck_assert_str_eq(got, dig);
  free(f);
  smtpc_dkim_free(k);
}
END_TEST

/* A long signature is folded in b=; no line passes 78 octets. */
START_TEST(test_field_folding) {
  static const char msg[] = "From: a@example.org\r\n\r\n";
  cbsig cs;
  smtpc_dkim *k =
      cb_key("a-rather-long-signing-domain.example.org",
             "selector-2026-december", SMTPC_DKIM_RSA_SHA256, &cs, NULL);
  char *f = NULL, bv[1200];
  const char *p;
  size_t i;
  cs.len = 512; /* RSA-4096 */
  ck_assert_int_eq(smtpc_dkim_set_headers(
                       k, "from:to:subject:date:message-id:list-unsubscribe",
                       "from:to:subject:date:message-id:list-unsubscribe"),
                   SMTPC_OK);
  ck_assert_int_eq(sign_msg(&k, 1, msg, sizeof msg - 1, 0, 0, &f), SMTPC_OK);
  for (p = f; *p != '\0';) {
    const char *e = strstr(p, "\r\n");
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_le((size_t)(e - p), 78);
    p = e + 2;
    if (*p != '\0')
      ck_assert(*p == ' ');
  }
  tag_of(f, "b=", bv, sizeof bv);
  ck_assert_uint_eq(strlen(bv), 684);
  {
    unsigned char raw[600];
    size_t n = 0;
    ck_assert_int_eq(smtpc__b64_decode(bv, strlen(bv), raw, sizeof raw, &n),
                     SMTPC_OK);
    ck_assert_uint_eq(n, 512);
    for (i = 0; i < n; i++)
      ck_assert_uint_eq(raw[i], (unsigned char)(i + 1));
  }
  free(f);
  smtpc_dkim_free(k);
}
END_TEST

/* Two signatures (RSA relaxed, Ed25519 simple body): two fields in key
 * order, each with its own body hash. */
START_TEST(test_two_signatures) {
  static const char msg[] = "From: a@example.org\r\n\r\nx  y \r\n\r\n";
  cbsig c1, c2;
  smtpc_dkim *k[2];
  char *f = NULL, v[64], w[64];
  const char *second;
  k[0] = cb_key("example.org", "rsa", SMTPC_DKIM_RSA_SHA256, &c1, NULL);
  k[1] = cb_key("example.org", "ed", SMTPC_DKIM_ED25519_SHA256, &c2, NULL);
  ck_assert_int_eq(
      smtpc_dkim_set_canon(k[1], SMTPC_DKIM_RELAXED, SMTPC_DKIM_SIMPLE),
      SMTPC_OK);
  ck_assert_int_eq(sign_msg(k, 2, msg, sizeof msg - 1, 0, 0, &f), SMTPC_OK);
  ck_assert_int_eq(strncmp(f, "DKIM-Signature: v=1; a=rsa-sha256;", 34), 0);
  second = strstr(f + 1, "DKIM-Signature: v=1; a=ed25519-sha256; "
                         "c=relaxed/simple;");
  ck_assert_ptr_nonnull(second);
  sha_b64("x y\r\n", 5, w);
  ck_assert_str_eq(tag_of(f, "bh=", v, sizeof v), w);
  sha_b64("x  y \r\n", 7, w);
  ck_assert_str_eq(tag_of(second, "bh=", v, sizeof v), w);
  ck_assert_int_eq(c1.calls, 1);
  ck_assert_int_eq(c2.calls, 1);
  free(f);
  smtpc_dkim_free(k[0]);
  smtpc_dkim_free(k[1]);
}
END_TEST

/* ---- errors ---- */

START_TEST(test_header_errors) {
  static const char *const bad[] = {
      "To: b@example.org\r\n\r\nx\r\n",              /* no From */
      "From: a@x.org\r\nFrom: b@x.org\r\n\r\nx\r\n", /* two */
      "From: a@x.org\r\nnot a field\r\n\r\nx\r\n",   /* no colon */
      " folded first\r\nFrom: a@x.org\r\n\r\nx\r\n", /* no field */
      "\r\nFrom: a@x.org\r\n",                       /* all body */
      "From: a@x.org\r\n: no name\r\n\r\n",          /* no name */
  };
  cbsig cs;
  smtpc_dkim *k =
      cb_key("example.org", "s", SMTPC_DKIM_ED25519_SHA256, &cs, NULL);
  size_t i;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *f = NULL;
    ck_assert_msg(sign_msg(&k, 1, bad[i], strlen(bad[i]), 0, 0, &f) ==
                      SMTPC_ERR_DKIM_HEADER,
                  "case %zu", i);
  }
  ck_assert_int_eq(cs.calls, 0);
  smtpc_dkim_free(k);
}
END_TEST

START_TEST(test_header_too_big) {
  size_t n = SMTPC_DKIM_MAX_HEADER + 100, i;
  char *msg = malloc(n + 64), *f = NULL;
  cbsig cs;
  smtpc_dkim *k =
      cb_key("example.org", "s", SMTPC_DKIM_ED25519_SHA256, &cs, NULL);
  strcpy(msg, "From: a@example.org\r\nX-Big: ");
  for (i = strlen(msg); i < n; i++)
    msg[i] = (i % 70) == 0 ? '\n' : 'x';
  memcpy(msg + n, "\r\n\r\nbody\r\n", 10);
  ck_assert_int_eq(sign_msg(&k, 1, msg, n + 10, 0, 0, &f),
                   SMTPC_ERR_DKIM_HEADER);
  /* the error sticks: the rest of the message and final refuse too */
  {
    smtpc_dkim_ctx *c = NULL;
    const char *fl;
    size_t l;
    ck_assert_int_eq(
        smtpc_dkim_ctx_new(&c, (const smtpc_dkim *const *)&k, 1, 0, NULL),
        SMTPC_OK);
    ck_assert_int_eq(smtpc_dkim_ctx_update(c, msg, n), SMTPC_ERR_DKIM_HEADER);
    ck_assert_int_eq(smtpc_dkim_ctx_update(c, "\r\n\r\nx", 5),
                     SMTPC_ERR_DKIM_HEADER);
    ck_assert_int_eq(smtpc_dkim_ctx_final(c, &fl, &l), SMTPC_ERR_DKIM_HEADER);
    ck_assert_int_eq(cs.calls, 0);
    smtpc_dkim_ctx_free(c);
  }
  free(msg);
  smtpc_dkim_free(k);
}
END_TEST

START_TEST(test_argument_errors) {
  smtpc_dkim *k = NULL;
  smtpc_dkim_ctx *c = NULL;
  ck_assert_int_eq(smtpc_dkim_new(&k, "exa mple.org", "s", NULL),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_dkim_new(&k, "example.org", "s;x", NULL),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_dkim_new(&k, "", "s", NULL), SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_dkim_new(&k, "example.org", "s", NULL), SMTPC_OK);
  /* no key yet */
  ck_assert_int_eq(
      smtpc_dkim_ctx_new(&c, (const smtpc_dkim *const *)&k, 1, 0, NULL),
      SMTPC_ERR_DKIM_KEY);
  ck_assert_int_eq(smtpc_dkim_set_key(k, "garbage", 7, NULL),
                   SMTPC_ERR_DKIM_KEY);
  ck_assert_int_eq(smtpc_dkim_set_key_file(k, "/nonexistent/key.pem", NULL),
                   SMTPC_ERR_IO);
  ck_assert_int_eq(smtpc_dkim_set_headers(k, "from:dkim-signature", NULL),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_dkim_set_headers(k, "from::to", NULL),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_dkim_set_headers(k, "from:t o", NULL),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_dkim_set_headers(k, "", NULL), SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_dkim_set_headers(k, "from:to", ""), SMTPC_OK);
  ck_assert_int_eq(smtpc_dkim_set_identity(k, "a@example.net"),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_dkim_set_identity(k, "a@badexample.org"),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_dkim_set_identity(k, "a b@example.org"),
                   SMTPC_ERR_BAD_ARGUMENT);
  ck_assert_int_eq(smtpc_dkim_set_identity(k, "@sub.example.org"), SMTPC_OK);
  {
    /* the longest i= fits the field whole; one octet more is refused */
    char id[400];
    size_t i;
    char dom[260];
    smtpc_dkim *kk = NULL;
    cbsig cs;
    char *f = NULL, v[400];
    static const char msg[] = "From: a@x.org\r\n\r\n";
    dom[0] = '@'; /* a 253-octet domain: 25 labels of 9 and "org" */
    for (i = 0; i < 25; i++)
      memcpy(dom + 1 + 10 * i, "a23456789.", 10);
    strcpy(dom + 251, "org");
    ck_assert_uint_eq(strlen(dom), 254);
    ck_assert_int_eq(smtpc_dkim_new(&kk, "org", "s", NULL), SMTPC_OK);
    memset(&cs, 0, sizeof cs);
    cs.len = 4;
    ck_assert_int_eq(
        smtpc_dkim_set_signer(kk, SMTPC_DKIM_RSA_SHA256, cb_sign, &cs),
        SMTPC_OK);
    for (i = 0; i < 64; i++)
      id[i] = 'l';
    strcpy(id + 64, dom);
    ck_assert_int_eq(smtpc_dkim_set_identity(kk, id), SMTPC_OK);
    ck_assert_int_eq(sign_msg(&kk, 1, msg, sizeof msg - 1, 0, 0, &f), SMTPC_OK);
    ck_assert_str_eq(tag_of(f, "i=", v, sizeof v), id);
    free(f);
    id[64] = 'l';
    strcpy(id + 65, dom);
    ck_assert_int_eq(smtpc_dkim_set_identity(kk, id), SMTPC_ERR_BAD_ARGUMENT);
    smtpc_dkim_free(kk);
  }
  ck_assert_int_eq(smtpc_dkim_set_time(k, -3), SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(
      smtpc_dkim_set_canon(k, (smtpc_dkim_canon)2, SMTPC_DKIM_SIMPLE),
      SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_dkim_set_signer(k, (smtpc_dkim_algo)3, cb_sign, NULL),
                   SMTPC_ERR_INVALID_ARGUMENT);
  {
    char rec[64];
    ck_assert_int_eq(smtpc_dkim_dns_record(k, rec, sizeof rec),
                     SMTPC_ERR_INVALID_STATE);
  }
  smtpc_dkim_free(k);
}
END_TEST

/* A callback's error fails the signing with it; a bad length is
 * SMTPC_ERR_CALLBACK. */
START_TEST(test_callback_errors) {
  static const char msg[] = "From: a@example.org\r\n\r\nx\r\n";
  cbsig cs;
  smtpc_dkim *k =
      cb_key("example.org", "s", SMTPC_DKIM_ED25519_SHA256, &cs, NULL);
  char *f = NULL;
  cs.rc = SMTPC_ERR_IO;
  ck_assert_int_eq(sign_msg(&k, 1, msg, sizeof msg - 1, 0, 0, &f),
                   SMTPC_ERR_IO);
  cs.rc = SMTPC_OK;
  cs.len = 0;
  ck_assert_int_eq(sign_msg(&k, 1, msg, sizeof msg - 1, 0, 0, &f),
                   SMTPC_ERR_CALLBACK);
  smtpc_dkim_free(k);
}
END_TEST

/* ---- signed bodies ---- */

/* Signs in with the one key k (spool for a one-shot stream) into *db. */
static int body_of(smtpc_dkim *k, const smtpc_body *in, FILE *spool,
                   smtpc_dkim_body **db) {
  return smtpc_dkim_body_new(db, (const smtpc_dkim *const *)&k, 1, in, spool,
                             NULL);
}

#define SB_MSG                                                                 \
  "From: A <a@example.org>\r\nTo: b@example.net\r\nSubject: s\r\n\r\n"         \
  "line one\r\n.dot line\r\n"

static size_t read_all(smtpc_body *b, char *out, size_t cap) {
  size_t n = 0;
  for (;;) {
    smtpc_ssize r =
        b->read(b->ctx, (unsigned char *)out + n, cap - n > 7 ? 7 : cap - n);
    ck_assert_int_ge(r, 0);
    if (r == 0)
      return n;
    n += (size_t)r;
    ck_assert_uint_lt(n, cap);
  }
}

static void check_signed(smtpc_dkim_body *db, const char *msg) {
  smtpc_body b;
  char out[4096], want[4096];
  size_t fl, n;
  const char *f = smtpc_dkim_body_fields(db, &fl);
  snprintf(want, sizeof want, "%.*s%s", (int)fl, f, msg);
  smtpc_dkim_body_get(db, &b);
  ck_assert_int_eq(b.size, (int64_t)strlen(want));
  n = read_all(&b, out, sizeof out);
  TU_ASSERT_BYTES_STR(out, n, want);
  /* again after a rewind: the same */
  ck_assert_int_eq(b.rewind(b.ctx), SMTPC_OK);
  n = read_all(&b, out, sizeof out);
  TU_ASSERT_BYTES_STR(out, n, want);
  /* and from a second body of the same */
  smtpc_dkim_body_get(db, &b);
  n = read_all(&b, out, sizeof out);
  TU_ASSERT_BYTES_STR(out, n, want);
}

START_TEST(test_body_memory) {
  cbsig cs;
  smtpc_dkim *k =
      cb_key("example.org", "s", SMTPC_DKIM_ED25519_SHA256, &cs, NULL);
  smtpc_dkim_body *db = NULL;
  smtpc_body in, b;
  smtpc_body_init_memory(&in, SB_MSG, strlen(SB_MSG));
  ck_assert_int_eq(body_of(k, &in, NULL, &db), SMTPC_OK);
  smtpc_dkim_free(k); /* not needed once signed */
  check_signed(db, SB_MSG);
  smtpc_dkim_body_get(db, &b);
  ck_assert_int_eq(b.type, SMTPC_BODY_7BIT);
  smtpc_dkim_body_free(db);
}
END_TEST

/* The type an AUTO body would have had. */
START_TEST(test_body_types) {
  static const char *const msgs[] = {
      "From: a@example.org\r\n\r\nplain\r\n",
      "From: a@example.org\r\n\r\ncaf\xc3\xa9\r\n",
      "From: J\xc3\xb6rg <a@example.org>\r\n\r\nplain\r\n",
  };
  static const smtpc_body_type want[] = {SMTPC_BODY_7BIT, SMTPC_BODY_8BITMIME,
                                         SMTPC_BODY_SMTPUTF8};
  cbsig cs;
  smtpc_dkim *k =
      cb_key("example.org", "s", SMTPC_DKIM_ED25519_SHA256, &cs, NULL);
  size_t i;
  for (i = 0; i < 3; i++) {
    smtpc_dkim_body *db = NULL;
    smtpc_body in, b;
    smtpc_body_init_memory(&in, msgs[i], strlen(msgs[i]));
    ck_assert_int_eq(body_of(k, &in, NULL, &db), SMTPC_OK);
    smtpc_dkim_body_get(db, &b);
    ck_assert_int_eq(b.type, want[i]);
    smtpc_dkim_body_free(db);
  }
  smtpc_dkim_free(k);
}
END_TEST

START_TEST(test_body_long_line) {
  char msg[1200];
  cbsig cs;
  smtpc_dkim *k =
      cb_key("example.org", "s", SMTPC_DKIM_ED25519_SHA256, &cs, NULL);
  smtpc_dkim_body *db = NULL;
  smtpc_body in;
  strcpy(msg, "From: a@example.org\r\n\r\n");
  memset(msg + strlen(msg), 'x', 999);
  msg[23 + 999] = '\0';
  smtpc_body_init_memory(&in, msg, strlen(msg));
  ck_assert_int_eq(body_of(k, &in, NULL, &db), SMTPC_ERR_BODY_LINE_TOO_LONG);
  ck_assert_ptr_null(db);
  /* 998 is fine */
  msg[23 + 998] = '\0';
  smtpc_body_init_memory(&in, msg, strlen(msg));
  ck_assert_int_eq(body_of(k, &in, NULL, &db), SMTPC_OK);
  smtpc_dkim_body_free(db);
  smtpc_dkim_free(k);
}
END_TEST

START_TEST(test_body_rewindable_stream) {
  cbsig cs;
  smtpc_dkim *k =
      cb_key("example.org", "s", SMTPC_DKIM_ED25519_SHA256, &cs, NULL);
  smtpc_dkim_body *db = NULL;
  smtpc_body in;
  tu_src src = {SB_MSG, strlen(SB_MSG), 0, 0};
  smtpc_body_init_stream(&in, tu_src_read, &src, -1);
  in.rewind = tu_src_rewind;
  ck_assert_int_eq(body_of(k, &in, NULL, &db), SMTPC_OK);
  ck_assert_int_eq(src.rewinds, 1); /* after the signing pass */
  check_signed(db, SB_MSG);
  smtpc_dkim_body_free(db);
  smtpc_dkim_free(k);
}
END_TEST

/* A one-shot stream: refused without a spool, read back from one. */
START_TEST(test_body_spool) {
  cbsig cs;
  smtpc_dkim *k =
      cb_key("example.org", "s", SMTPC_DKIM_ED25519_SHA256, &cs, NULL);
  smtpc_dkim_body *db = NULL;
  smtpc_body in;
  tu_src src = {SB_MSG, strlen(SB_MSG), 0, 0};
  FILE *spool;
  smtpc_body_init_stream(&in, tu_src_read, &src, -1);
  ck_assert_int_eq(body_of(k, &in, NULL, &db), SMTPC_ERR_DKIM_SOURCE);
  ck_assert_uint_eq(src.off, 0); /* nothing read */
  spool = tmpfile();
  ck_assert_ptr_nonnull(spool);
  ck_assert_int_eq(body_of(k, &in, spool, &db), SMTPC_OK);
  check_signed(db, SB_MSG);
  smtpc_dkim_body_free(db);
  fclose(spool);
  smtpc_dkim_free(k);
}
END_TEST

/* A source that gives other octets the second time: the signed body fails
 * at its end instead of ending the data (no wrongly signed message). */
typedef struct fickle {
  char buf[256];
  size_t len, off;
} fickle;

static smtpc_ssize fickle_read(void *ctx, unsigned char *buf, size_t len) {
  fickle *f = ctx;
  size_t n = f->len - f->off;
  if (n > len)
    n = len;
  memcpy(buf, f->buf + f->off, n);
  f->off += n;
  return (smtpc_ssize)n;
}

static int fickle_rewind(void *ctx) {
  fickle *f = ctx;
  f->off = 0;
  f->buf[f->len - 3] ^= 1; /* a different last letter each pass */
  return SMTPC_OK;
}

START_TEST(test_body_changed_source) {
  cbsig cs;
  smtpc_dkim *k =
      cb_key("example.org", "s", SMTPC_DKIM_ED25519_SHA256, &cs, NULL);
  smtpc_dkim_body *db = NULL;
  smtpc_body in, b;
  fickle src;
  unsigned char out[512];
  smtpc_ssize r;
  size_t total = 0;
  int spins = 0;
  strcpy(src.buf, SB_MSG);
  src.len = strlen(SB_MSG);
  src.off = 0;
  smtpc_body_init_stream(&in, fickle_read, &src, -1);
  in.rewind = fickle_rewind;
  ck_assert_int_eq(body_of(k, &in, NULL, &db), SMTPC_OK);
  smtpc_dkim_body_get(db, &b);
  do {
    r = b.read(b.ctx, out, sizeof out);
    if (r > 0)
      total += (size_t)r;
  } while (r > 0 && ++spins < 100);
  ck_assert_int_eq(r, SMTPC_ERR_BODY_READ);
  ck_assert_uint_gt(total, strlen(SB_MSG));
  smtpc_dkim_body_free(db);
  smtpc_dkim_free(k);
}
END_TEST

/* A declared size that is not the real one is refused. */
START_TEST(test_body_wrong_size) {
  cbsig cs;
  smtpc_dkim *k =
      cb_key("example.org", "s", SMTPC_DKIM_ED25519_SHA256, &cs, NULL);
  smtpc_dkim_body *db = NULL;
  smtpc_body in;
  tu_src src = {SB_MSG, strlen(SB_MSG), 0, 0};
  smtpc_body_init_stream(&in, tu_src_read, &src, 5);
  in.rewind = tu_src_rewind;
  ck_assert_int_eq(body_of(k, &in, NULL, &db), SMTPC_ERR_BODY_READ);
  smtpc_dkim_free(k);
}
END_TEST

/* Every allocation of signing a body refused in turn: NOMEM, no leak. */
static int sweep_scenario(tu_alloc *a, void *arg) {
  cbsig cs;
  smtpc_dkim *k[2] = {NULL, NULL};
  smtpc_dkim_body *db = NULL;
  smtpc_body in;
  int rc;
  (void)arg;
  memset(&cs, 0, sizeof cs);
  cs.len = 64;
  if ((rc = smtpc_dkim_new(&k[0], "example.org", "a", &a->mem)) != SMTPC_OK)
    return rc;
  if ((rc = smtpc_dkim_new(&k[1], "example.org", "b", &a->mem)) != SMTPC_OK)
    goto out;
  smtpc_dkim_set_signer(k[0], SMTPC_DKIM_RSA_SHA256, cb_sign, &cs);
  smtpc_dkim_set_signer(k[1], SMTPC_DKIM_ED25519_SHA256, cb_sign, &cs);
  if ((rc = smtpc_dkim_set_headers(k[1], "from:to:x-custom", "subject")) !=
      SMTPC_OK)
    goto out;
  if ((rc = smtpc_dkim_set_identity(k[1], "me@example.org")) != SMTPC_OK)
    goto out;
  smtpc_body_init_memory(&in, SB_MSG, strlen(SB_MSG));
  rc = smtpc_dkim_body_new(&db, (const smtpc_dkim *const *)k, 2, &in, NULL,
                           &a->mem);
  if (rc == SMTPC_OK) {
    smtpc_body b;
    char out[4096];
    smtpc_dkim_body_get(db, &b);
    read_all(&b, out, sizeof out);
  }
  smtpc_dkim_body_free(db);
out:
  smtpc_dkim_free(k[0]);
  smtpc_dkim_free(k[1]);
  return rc;
}

START_TEST(test_alloc_sweep) {
  ck_assert_int_gt(tu_alloc_sweep(sweep_scenario, NULL, 200), 3);
}
END_TEST

/* ---- the MIME builder and the one-call API ---- */

static smtpc_msg *seeded_msg(void) {
  smtpc_msg *m = NULL;
  ck_assert_int_eq(smtpc_msg_new(&m, NULL), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_seed(m, 42), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_date(m, 1700000000, 60), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_from(m, "A", "a@example.org"), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_add_to(m, NULL, "b@example.net"), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_subject(m, "caf\xc3\xa9 report"), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_set_text(m, "hello\n.\nbye", SIZE_MAX), SMTPC_OK);
  ck_assert_int_eq(
      smtpc_msg_add_attachment_memory(m, "\x00\x01\xff", 3, "a.bin", NULL),
      SMTPC_OK);
  return m;
}

/* A signed builder body is the signature fields, then exactly the bytes
 * of the same message unsigned; and the fields sign those bytes. */
START_TEST(test_msg_signed) {
  smtpc_msg *m = seeded_msg(), *plain = seeded_msg();
  cbsig cs;
  smtpc_dkim *k =
      cb_key("example.org", "s", SMTPC_DKIM_ED25519_SHA256, &cs, NULL);
  smtpc_body b, pb;
  static char out[65536], want[65536];
  char *f = NULL;
  size_t n, pn;
  ck_assert_int_eq(smtpc_msg_add_dkim(m, k), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_body(m, &b), SMTPC_OK);
  ck_assert(b.rewind != NULL);
  ck_assert_int_eq(smtpc_msg_body(plain, &pb), SMTPC_OK);
  n = read_all(&b, out, sizeof out);
  pn = read_all(&pb, want, sizeof want);
  ck_assert_uint_gt(n, pn);
  ck_assert_int_eq(b.size, (int64_t)n);
  TU_ASSERT_BYTES(out + (n - pn), pn, want, pn);
  ck_assert_int_eq(strncmp(out, "DKIM-Signature: v=1; a=ed25519-sha256;", 38),
                   0);
  /* the same fields as signing the unsigned bytes directly */
  ck_assert_int_eq(sign_msg(&k, 1, want, pn, 0, 0, &f), SMTPC_OK);
  TU_ASSERT_BYTES(out, n - pn, f, strlen(f));
  free(f);
  /* a second body of the message: the same bytes */
  ck_assert_int_eq(smtpc_msg_body(m, &b), SMTPC_OK);
  ck_assert_uint_eq(read_all(&b, want, sizeof want), n);
  TU_ASSERT_BYTES(want, n, out, n);
  smtpc_msg_free(m);
  smtpc_msg_free(plain);
  smtpc_dkim_free(k);
}
END_TEST

static smtpc_ssize one_shot(void *ctx, unsigned char *buf, size_t len) {
  (void)ctx;
  (void)buf;
  (void)len;
  return 0;
}

START_TEST(test_msg_stream_part) {
  smtpc_msg *m = seeded_msg();
  cbsig cs;
  smtpc_dkim *k =
      cb_key("example.org", "s", SMTPC_DKIM_ED25519_SHA256, &cs, NULL);
  smtpc_dkim *none = NULL;
  smtpc_body b;
  ck_assert_int_eq(smtpc_dkim_new(&none, "example.org", "x", NULL), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_add_dkim(m, none), SMTPC_ERR_DKIM_KEY);
  ck_assert_int_eq(
      smtpc_msg_add_attachment_stream(m, one_shot, NULL, 0, "s.txt", NULL),
      SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_add_dkim(m, k), SMTPC_OK);
  ck_assert_int_eq(smtpc_msg_body(m, &b), SMTPC_ERR_DKIM_SOURCE);
  smtpc_msg_free(m);
  smtpc_dkim_free(k);
  smtpc_dkim_free(none);
}
END_TEST

/* ---- through the session ---- */

#define GREETING "220 mx.example ESMTP ready\r\n"
#define EHLO_CMD "EHLO client.test\r\n"

/* Scripts one pipelined transaction to rcpt ("MAIL...SIZE=n" when size is
 * not 0) that carries the signed fields fl, then SB_MSG dot-stuffed. */
static void script_signed(ts *t, const char *rcpt, size_t size, const char *fl,
                          size_t flen) {
  char data[4096], sz[32] = "";
  if (size > 0)
    snprintf(sz, sizeof sz, " SIZE=%zu", size);
  snprintf(data, sizeof data,
           "MAIL FROM:<a@example.org>%s\r\nRCPT TO:<%s>\r\nDATA\r\n", sz, rcpt);
  ts_client_flight(t, data);
  ts_server(t, "250 ok\r\n250 ok\r\n354 go\r\n");
  snprintf(data, sizeof data,
           "%.*sFrom: A <a@example.org>\r\n"
           "To: b@example.net\r\nSubject: s\r\n\r\n"
           "line one\r\n..dot line\r\n.\r\n",
           (int)flen, fl);
  ts_client(t, data);
  ts_server(t, "250 2.0.0 queued\r\n");
}

/* Queues the signed body of db to rcpts, runs the session and checks the
 * message went to all of them. */
static void run_signed(tu_fx *f, smtpc_dkim_body *db, const char *const *rcpts,
                       size_t n) {
  smtpc_body b;
  smtpc_txn *t = NULL;
  ck_assert_int_eq(tu_fx_open(f), SMTPC_OK);
  smtpc_dkim_body_get(db, &b);
  ck_assert_int_eq(smtpc_session_queue(f->s, "a@example.org", rcpts, n, &b, &t),
                   SMTPC_OK);
  ck_assert_int_eq(tu_fx_run(f), SMTPC_OK);
  ck_assert_int_eq(smtpc_txn_status(t), SMTPC_OK);
  ck_assert_uint_eq(smtpc_txn_accepted_count(t), n);
  smtpc_txn_free(t);
}

static void fx_start(tu_fx *f, int mode, const char *ehlo) {
  tu_fx_init(f, &ts_modes[mode]);
  ts_server(f->t, GREETING);
  ts_client(f->t, EHLO_CMD);
  ts_server(f->t, ehlo);
}

START_TEST(test_session_sends_signed) {
  static const char ehlo[] =
      "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 100000\r\n";
  static const char *const to[] = {"b@example.net"};
  tu_fx f;
  cbsig cs;
  smtpc_dkim *k =
      cb_key("example.org", "s", SMTPC_DKIM_ED25519_SHA256, &cs, NULL);
  smtpc_dkim_body *db = NULL;
  smtpc_body in;
  const char *fl;
  size_t flen;
  smtpc_body_init_memory(&in, SB_MSG, strlen(SB_MSG));
  ck_assert_int_eq(body_of(k, &in, NULL, &db), SMTPC_OK);
  fl = smtpc_dkim_body_fields(db, &flen);
  fx_start(&f, _i, ehlo);
  /* SIZE counts the fields too */
  script_signed(f.t, to[0], flen + strlen(SB_MSG), fl, flen);
  run_signed(&f, db, to, 1);
  tu_fx_fini(&f);
  smtpc_dkim_body_free(db);
  smtpc_dkim_free(k);
}
END_TEST

/* RCPTMAX=1 and two recipients (RFC 9422): the signed body is sent twice,
 * rewound in between, the same fields and message both times; a rewindable
 * stream source is read once to sign and once more for the second round,
 * and signed once. */
START_TEST(test_session_rounds) {
  static const char ehlo[] =
      "250-mx.example\r\n250-PIPELINING\r\n250 LIMITS RCPTMAX=1\r\n";
  static const char *const to[] = {"b@example.net", "c@example.net"};
  tu_fx f;
  cbsig cs;
  smtpc_dkim *k =
      cb_key("example.org", "s", SMTPC_DKIM_ED25519_SHA256, &cs, NULL);
  smtpc_dkim_body *db = NULL;
  smtpc_body in;
  tu_src src = {SB_MSG, strlen(SB_MSG), 0, 0};
  const char *fl;
  size_t flen;
  smtpc_body_init_stream(&in, tu_src_read, &src, -1);
  in.rewind = tu_src_rewind;
  ck_assert_int_eq(body_of(k, &in, NULL, &db), SMTPC_OK);
  fl = smtpc_dkim_body_fields(db, &flen);
  fx_start(&f, _i, ehlo);
  script_signed(f.t, to[0], 0, fl, flen);
  script_signed(f.t, to[1], 0, fl, flen);
  run_signed(&f, db, to, 2);
  ck_assert_int_eq(src.rewinds, 2);
  ck_assert_int_eq(cs.calls, 1);
  tu_fx_fini(&f);
  smtpc_dkim_body_free(db);
  smtpc_dkim_free(k);
}
END_TEST

static Suite *dkim_suite(void) {
  Suite *s = suite_create("dkim");
  TCase *tc = tcase_create("known answers");
  tcase_add_test(tc, test_rfc8463_body_hash);
  tcase_add_test(tc, test_rfc8463_header_data);
  tcase_add_test(tc, test_rfc8463_ed25519);
  tcase_add_test(tc, test_rfc8463_rsa);
  tcase_add_test(tc, test_rsa1024_refused);
  tcase_add_test(tc, test_sha256_paths);
  suite_add_tcase(s, tc);
  tc = tcase_create("canonicalization");
  tcase_add_test(tc, test_relaxed_body_example);
  tcase_add_test(tc, test_simple_body_example);
  tcase_add_test(tc, test_relaxed_header_example);
  tcase_add_test(tc, test_simple_header_example);
  tcase_add_test(tc, test_empty_body);
  tcase_add_test(tc, test_relaxed_whitespace_lines_at_end);
  tcase_add_test(tc, test_inner_empty_lines);
  tcase_add_test(tc, test_missing_final_crlf);
  tcase_add_test(tc, test_relaxed_inner_space);
  tcase_add_test(tc, test_bare_line_ends);
  tcase_add_test(tc, test_binary_line_ends);
  tcase_add_test(tc, test_binary_header_line_ends);
  tcase_add_test(tc, test_dot_lines);
  tcase_add_test(tc, test_split_crlf);
  suite_add_tcase(s, tc);
  tc = tcase_create("fields");
  tcase_add_test(tc, test_field_exact);
  tcase_add_test(tc, test_field_simple);
  tcase_add_test(tc, test_field_folding);
  tcase_add_test(tc, test_two_signatures);
  tcase_add_test(tc, test_header_errors);
  tcase_add_test(tc, test_header_too_big);
  tcase_add_test(tc, test_argument_errors);
  tcase_add_test(tc, test_callback_errors);
  suite_add_tcase(s, tc);
  tc = tcase_create("bodies");
  tcase_add_test(tc, test_body_memory);
  tcase_add_test(tc, test_body_types);
  tcase_add_test(tc, test_body_long_line);
  tcase_add_test(tc, test_body_rewindable_stream);
  tcase_add_test(tc, test_body_spool);
  tcase_add_test(tc, test_body_changed_source);
  tcase_add_test(tc, test_body_wrong_size);
  tcase_add_test(tc, test_alloc_sweep);
  tcase_add_test(tc, test_msg_signed);
  tcase_add_test(tc, test_msg_stream_part);
  tcase_add_loop_test(tc, test_session_sends_signed, 0, (int)ts_nmodes);
  tcase_add_loop_test(tc, test_session_rounds, 0, (int)ts_nmodes);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(dkim_suite());
  int failed;
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
