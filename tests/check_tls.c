/* SPDX-License-Identifier: MIT */
/* Tests for the TLS adapter (lib/io_mbedtls.c, or lib/tls_none.c).
 *
 * Real mbedTLS handshakes in one process and one thread: the client is an
 * smtpc_tls wrapping a mock non-blocking in-memory transport; the server is
 * an mbedTLS server context on the other end of the same pair of byte rings.
 * The test alternates between the two, every loop bounded.  Transport
 * variants: plain, "flaky" (every other send and recv of the client's lower
 * transport would block) and flaky with short reads and writes (7 bytes).
 *
 * Certificates are made at start-up with the openssl command into a
 * temporary directory: a CA, a server certificate for DNS:localhost and
 * IP:127.0.0.1, the same key signed by another CA, a self-signed one, an
 * expired one (openssl ca -startdate/-enddate: 2020-01-01 to 2020-01-02),
 * one with five subjectAltNames, one with a CN and no subjectAltName, one
 * with only IP:127.0.0.1, wildcards (*.test, *.example.test,
 * f*.example.test), an RSA one (for RSA key exchanges) and a client
 * certificate.  All keys are throwaway ones made for the run.  Without
 * openssl the test is skipped (exit 77).
 *
 * Nothing here opens a socket. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <smtpc/smtpc.h>

#include "smtpc_int.h"
#include "tls_host.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- HMAC-MD5 (either implementation) ------------------------------------ */

/* RFC 2202 section 2, test cases 1, 2 and 6 (key longer than a block). */
START_TEST(hmac_md5_vectors) {
  static const struct {
    const char *key;
    size_t klen;
    const char *msg;
    const char *mac;
  } v[] = {{"\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b",
            16, "Hi There", "9294727a3638bb1c13f48ef8158bfc9d"},
           {"Jefe", 4, "what do ya want for nothing?",
            "750c783e6ab0b503eaa86e310a5db738"},
           {NULL, 80, "Test Using Larger Than Block-Size Key - Hash Key First",
            "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"}};
  size_t i, j;
  for (i = 0; i < sizeof v / sizeof v[0]; i++) {
    unsigned char key[80], mac[16];
    char hex[33];
    if (v[i].key != NULL)
      memcpy(key, v[i].key, v[i].klen);
    else
      memset(key, 0xaa, sizeof key);
    ck_assert_int_eq(smtpc__hmac_md5(key, v[i].klen,
                                     (const unsigned char *)v[i].msg,
                                     strlen(v[i].msg), mac),
                     SMTPC_OK);
    for (j = 0; j < 16; j++)
      snprintf(hex + 2 * j, 3, "%02x", mac[j]);
    ck_assert_str_eq(hex, v[i].mac);
  }
}
END_TEST

/* ---- server names (lib/tls_host.c, no mbedTLS) --------------------------- */

/* The C library's allocator as an smtpc_mem. */
static smtpc_mem libc_mem(void) {
  smtpc_mem m;
  ck_assert_int_eq(smtpc__mem_init(&m, NULL), SMTPC_OK);
  return m;
}

/* What a handshake verifies: DNS names and address literals, normalised;
 * anything else refused. */
START_TEST(host_peer_names) {
  static const struct {
    const char *in, *name;
    size_t ip_len;
    const char *ip; /* ip_len bytes */
  } ok[] = {
      {"mx.example.org", "mx.example.org", 0, NULL},
      {"mx.example.org.", "mx.example.org", 0, NULL},
      {"MX.Example.ORG", "MX.Example.ORG", 0, NULL},
      {"under_score.example", "under_score.example", 0, NULL},
      {"01.2.3.4", "01.2.3.4", 0, NULL}, /* no address: a (numeric) name */
      {"127.0.0.1", "127.0.0.1", 4, "\x7f\0\0\x01"},
      {"[127.0.0.1]", "127.0.0.1", 4, "\x7f\0\0\x01"},
      {"::1", "::1", 16, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01"},
      {"[IPv6:::1]", "::1", 16, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01"},
      {"1::", "1::", 16, "\0\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0"},
      {"2001:DB8::a:1", "2001:DB8::a:1", 16,
       "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\x0a\0\x01"},
      {"::ffff:1.2.3.4", "::ffff:1.2.3.4", 16,
       "\0\0\0\0\0\0\0\0\0\0\xff\xff\x01\x02\x03\x04"},
      {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8", 16,
       "\0\x01\0\x02\0\x03\0\x04\0\x05\0\x06\0\x07\0\x08"}};
  static const char *const bad[] = {"",
                                    "a b",
                                    "host\n",
                                    "[]",
                                    "[notip]",
                                    "bad:name",
                                    "a/b",
                                    "*.example",
                                    "[1.2.3.4",
                                    "1:2:3",
                                    "[IPv6:1.2.3.4]",
                                    ".",
                                    ":1::",
                                    "1:::2",
                                    "1::2::3",
                                    "1:2:3:4:5:6:7:8:9",
                                    "1:2:3:4:5:6:7::8",
                                    "[mx.example.org]",
                                    "12345::1",
                                    "1:",
                                    "\x80.example"};
  smtpc_mem m = libc_mem();
  smtpc__tls_peer p;
  size_t i;
  memset(&p, 0, sizeof p);
  for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    ck_assert_msg(smtpc__tls_peer_set(&p, &m, ok[i].in) == SMTPC_OK,
                  "\"%s\" refused", ok[i].in);
    ck_assert_str_eq(p.name, ok[i].name);
    ck_assert_uint_eq(p.ip_len, ok[i].ip_len);
    if (ok[i].ip_len != 0)
      ck_assert_msg(memcmp(p.ip, ok[i].ip, ok[i].ip_len) == 0, "%s: address",
                    ok[i].in);
  }
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ck_assert_msg(smtpc__tls_peer_set(&p, &m, bad[i]) == SMTPC_ERR_BAD_ARGUMENT,
                  "\"%s\" accepted", bad[i]);
    ck_assert_ptr_eq(p.name, NULL); /* a failure leaves it empty */
    ck_assert_uint_eq(p.ip_len, 0);
  }
  smtpc__tls_peer_clear(&p, &m);
}
END_TEST

/* RFC 9525: dNSName entries for names (wildcard only as the whole first
 * label, standing for exactly one label, with two labels after it),
 * iPAddress entries for addresses, nothing else counts. */
START_TEST(host_san_rules) {
  static const struct {
    const char *peer;
    int tag;
    const char *id;
    size_t len; /* 0: strlen(id) */
    int match;
  } v[] = {{"mx.example.test", SMTPC__SAN_DNS, "mx.example.test", 0, 1},
           {"MX.example.TEST", SMTPC__SAN_DNS, "mx.EXAMPLE.test", 0, 1},
           {"mx.example.test", SMTPC__SAN_DNS, "mx.example.test.", 0, 0},
           {"mx.example.test", SMTPC__SAN_DNS, "mx.example", 0, 0},
           {"a.example.test", SMTPC__SAN_DNS, "*.example.test", 0, 1},
           {"example.test", SMTPC__SAN_DNS, "*.example.test", 0, 0},
           {"a.b.example.test", SMTPC__SAN_DNS, "*.example.test", 0, 0},
           {"example.test", SMTPC__SAN_DNS, "*.test", 0, 0},
           {"a.example.test", SMTPC__SAN_DNS, "*.test", 0, 0},
           {"f.example.test", SMTPC__SAN_DNS, "f*.example.test", 0, 0},
           {"a.example.test", SMTPC__SAN_DNS, "*.example..test", 0, 0},
           {"a.example.test", SMTPC__SAN_DNS, "*", 0, 0},
           {"mx.example.test", SMTPC__SAN_IP, "mx.example.test", 0, 0},
           {"127.0.0.1", SMTPC__SAN_IP, "\x7f\0\0\x01", 4, 1},
           {"[127.0.0.1]", SMTPC__SAN_IP, "\x7f\0\0\x02", 4, 0},
           {"127.0.0.1", SMTPC__SAN_DNS, "127.0.0.1", 0, 0},
           {"::ffff:127.0.0.1", SMTPC__SAN_IP, "\x7f\0\0\x01", 4, 0},
           {"::1", SMTPC__SAN_IP, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16, 1},
           {"mx.example.test", 0x81 /* rfc822Name */, "mx.example.test", 0, 0}};
  smtpc_mem m = libc_mem();
  smtpc__tls_peer p;
  size_t i;
  memset(&p, 0, sizeof p);
  for (i = 0; i < sizeof v / sizeof v[0]; i++) {
    size_t n = v[i].len != 0 ? v[i].len : strlen(v[i].id);
    ck_assert_int_eq(smtpc__tls_peer_set(&p, &m, v[i].peer), SMTPC_OK);
    ck_assert_msg(
        smtpc__tls_san_names_peer(&p, v[i].tag, (const unsigned char *)v[i].id,
                                  n) == v[i].match,
        "%s against entry %zu: expected %d", v[i].peer, i, v[i].match);
  }
  smtpc__tls_peer_clear(&p, &m);
  /* no name (verification off): nothing matches */
  ck_assert_int_eq(smtpc__tls_san_names_peer(&p, SMTPC__SAN_DNS,
                                             (const unsigned char *)"x", 1),
                   0);
}
END_TEST

/* The names error messages show: three at most, addresses formatted,
 * untrusted bytes made printable, the CN only when there is nothing else. */
START_TEST(host_names_shown) {
  static const unsigned char ip4[4] = {192, 0, 2, 1};
  static const unsigned char ip6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                        0,    0,    0,    0,    0, 0, 0, 1};
  smtpc__tls_names n;
  char buf[48];
  smtpc__tls_names_init(&n);
  smtpc__tls_names_add(&n, SMTPC__SAN_DNS, (const unsigned char *)"a.example",
                       9);
  smtpc__tls_names_end(&n, (const unsigned char *)"cn", 2);
  ck_assert_str_eq(n.text, "a.example");

  smtpc__tls_names_init(&n);
  smtpc__tls_names_add(&n, SMTPC__SAN_DNS, (const unsigned char *)"a\n b", 4);
  smtpc__tls_names_add(&n, 0x81, (const unsigned char *)"x@y", 3);
  smtpc__tls_names_add(&n, SMTPC__SAN_IP, ip4, 4);
  smtpc__tls_names_add(&n, SMTPC__SAN_IP, ip6, 16);
  smtpc__tls_names_add(&n, SMTPC__SAN_DNS, (const unsigned char *)"d", 1);
  smtpc__tls_names_add(&n, SMTPC__SAN_DNS, (const unsigned char *)"e", 1);
  smtpc__tls_names_end(&n, NULL, 0);
  ck_assert_str_eq(n.text, "a??b (or 192.0.2.1, 2001:db8:0:0:0:0:0:1 and 2 "
                           "more)");

  smtpc__tls_names_init(&n);
  smtpc__tls_names_end(&n, (const unsigned char *)"mx\x01", 3);
  ck_assert_str_eq(n.text, "mx?");
  smtpc__tls_names_init(&n);
  smtpc__tls_names_end(&n, NULL, 0);
  ck_assert_str_eq(n.text, "no name");
  smtpc__tls_format_ip(buf, sizeof buf, ip4, 3);
  ck_assert_str_eq(buf, "(bad address)");
}
END_TEST

#ifndef SMTPC_HAVE_MBEDTLS

/* ---- built without mbedTLS: every call says so --------------------------- */

START_TEST(none_not_supported) {
  smtpc_tls *t = (smtpc_tls *)1;
  smtpc_io io, out;
  memset(&io, 0, sizeof io);
  ck_assert_int_eq(smtpc_tls_new(&t, NULL, SMTPC_SECURITY_STARTTLS),
                   SMTPC_ERR_NOT_SUPPORTED);
  ck_assert_ptr_eq(t, NULL);
  ck_assert_int_eq(smtpc_tls_set_hostname(NULL, "x"), SMTPC_ERR_NOT_SUPPORTED);
  ck_assert_int_eq(smtpc_tls_set_cafile(NULL, "x"), SMTPC_ERR_NOT_SUPPORTED);
  ck_assert_int_eq(smtpc_tls_set_capath(NULL, "x"), SMTPC_ERR_NOT_SUPPORTED);
  ck_assert_int_eq(smtpc_tls_set_client_cert(NULL, "x", "y"),
                   SMTPC_ERR_NOT_SUPPORTED);
  ck_assert_int_eq(smtpc_tls_wrap(NULL, &io, &out), SMTPC_ERR_NOT_SUPPORTED);
  smtpc_tls_insecure_skip_verify(NULL, 1);
  smtpc_tls_free(NULL);
  ck_assert_int_eq(smtpc_tls_verify_result(NULL), SMTPC_TLS_VERIFY_OK);
  ck_assert_int_eq(smtpc_tls_is_active(NULL), 0);
  ck_assert_str_eq(smtpc_tls_description(NULL), "");
  ck_assert_ptr_ne(smtpc_tls_last_error(NULL), NULL);
}
END_TEST

int main(void) {
  Suite *s = suite_create("tls_none");
  TCase *tc = tcase_create("api");
  SRunner *sr;
  int failed;
  tcase_add_test(tc, hmac_md5_vectors);
  tcase_add_test(tc, none_not_supported);
  tcase_add_test(tc, host_peer_names);
  tcase_add_test(tc, host_san_rules);
  tcase_add_test(tc, host_names_shown);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_ENV);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#else /* SMTPC_HAVE_MBEDTLS */

/* The library's version layer: the headers this mbedTLS has (no 2.x ones
 * in a 4.x build), PSA initialisation and the RNG for the test server. */
#include "io_mbedtls_compat.h"

#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_ticket.h>

/* The protocol versions the client can negotiate with this mbedTLS (2.28:
 * TLS 1.2 only).  Tests that differ between them say why: the protocols
 * differ, not the library's rules. */
#if defined(MBEDTLS_SSL_PROTO_TLS1_3) && MBEDTLS_VERSION_NUMBER >= 0x03020000
#define HAVE_TLS13 1
#endif

#include <sys/stat.h>
#include <unistd.h>

/* Upper bound on alternations in any loop (a handshake with 7-byte writes
 * and a blocking transport needs a few thousand). */
#define MAX_SPINS 200000L

/* ---- certificates ---------------------------------------------------------- */

static char certdir[512];

/* dir/name, in a small ring of buffers. */
static const char *path(const char *name) {
  static char buf[8][600];
  static unsigned k;
  char *p = buf[k++ % 8];
  snprintf(p, sizeof buf[0], "%s/%s", certdir, name);
  return p;
}

static const char gen_script[] =
    "set -e\n"
    "cat > ca.cnf <<'EOF'\n"
    "[req]\n"
    "distinguished_name = dn\n"
    "prompt = no\n"
    "[dn]\n"
    "CN = placeholder\n"
    "[v3_ca]\n"
    "basicConstraints = critical,CA:TRUE\n"
    "keyUsage = critical,keyCertSign,cRLSign\n"
    "subjectKeyIdentifier = hash\n"
    "[v3_srv]\n"
    "basicConstraints = CA:FALSE\n"
    "keyUsage = critical,digitalSignature\n"
    "extendedKeyUsage = serverAuth\n"
    "subjectAltName = DNS:localhost,IP:127.0.0.1\n"
    "[v3_many]\n"
    "basicConstraints = CA:FALSE\n"
    "subjectAltName = DNS:a.example,DNS:b.example,DNS:c.example,"
    "DNS:d.example,IP:192.0.2.1\n"
    "[v3_nosan]\n"
    "basicConstraints = CA:FALSE\n"
    "[v3_iponly]\n"
    "basicConstraints = CA:FALSE\n"
    "subjectAltName = IP:127.0.0.1\n"
    "[v3_wild1]\n"
    "basicConstraints = CA:FALSE\n"
    "subjectAltName = DNS:*.test\n"
    "[v3_wild2]\n"
    "basicConstraints = CA:FALSE\n"
    "subjectAltName = DNS:*.example.test\n"
    "[v3_partial]\n"
    "basicConstraints = CA:FALSE\n"
    "subjectAltName = DNS:f*.example.test\n"
    "[v3_rsa]\n"
    "basicConstraints = CA:FALSE\n"
    "keyUsage = critical,digitalSignature,keyEncipherment\n"
    "extendedKeyUsage = serverAuth\n"
    "subjectAltName = DNS:localhost,IP:127.0.0.1\n"
    "[v3_cli]\n"
    "basicConstraints = CA:FALSE\n"
    "keyUsage = critical,digitalSignature\n"
    "extendedKeyUsage = clientAuth\n"
    "[ca]\n"
    "default_ca = testca\n"
    "[testca]\n"
    "dir = .\n"
    "database = index.txt\n"
    "new_certs_dir = .\n"
    "serial = serial\n"
    "default_md = sha256\n"
    "policy = pol\n"
    "unique_subject = no\n"
    "copy_extensions = none\n"
    "[pol]\n"
    "commonName = supplied\n"
    "EOF\n"
    ": > index.txt\n"
    "echo 1000 > serial\n"
    "key() { openssl genpkey -algorithm EC -pkeyopt "
    "ec_paramgen_curve:P-256 -out \"$1\"; }\n"
    "key ca.key; key other.key; key srv.key; key cli.key; key ss.key\n"
    "openssl req -new -x509 -config ca.cnf -extensions v3_ca -key ca.key "
    "-subj '/CN=libsmtpc test CA' -days 3650 -out ca.pem\n"
    "openssl req -new -x509 -config ca.cnf -extensions v3_ca -key other.key "
    "-subj '/CN=other CA' -days 3650 -out other.pem\n"
    "openssl req -new -config ca.cnf -key srv.key -subj '/CN=localhost' "
    "-out srv.csr\n"
    "openssl req -new -config ca.cnf -key cli.key -subj '/CN=client.test' "
    "-out cli.csr\n"
    "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -set_serial 2 "
    "-days 365 -extfile ca.cnf -extensions v3_srv -out srv.pem\n"
    "openssl x509 -req -in srv.csr -CA other.pem -CAkey other.key "
    "-set_serial 3 -days 365 -extfile ca.cnf -extensions v3_srv "
    "-out srv_other.pem\n"
    "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -set_serial 5 "
    "-days 365 -extfile ca.cnf -extensions v3_many -out many.pem\n"
    "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -set_serial 6 "
    "-days 365 -extfile ca.cnf -extensions v3_nosan -out nosan.pem\n"
    "sign() { openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
    "-set_serial \"$1\" -days 365 -extfile ca.cnf -extensions \"v3_$2\" "
    "-out \"$2.pem\"; }\n"
    "sign 7 iponly; sign 8 wild1; sign 9 wild2; sign 10 partial\n"
    "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
    "-out rsa.key\n"
    "openssl req -new -config ca.cnf -key rsa.key -subj '/CN=localhost' "
    "-out rsa.csr\n"
    "openssl x509 -req -in rsa.csr -CA ca.pem -CAkey ca.key -set_serial 11 "
    "-days 365 -extfile ca.cnf -extensions v3_rsa -out rsa.pem\n"
    "openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -set_serial 4 "
    "-days 365 -extfile ca.cnf -extensions v3_cli -out cli.pem\n"
    "openssl req -new -x509 -config ca.cnf -extensions v3_srv -key ss.key "
    "-subj '/CN=localhost' -days 365 -out ss.pem\n"
    /* OpenSSL 3.0's x509 and req cannot backdate; ca can. */
    "openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key "
    "-in srv.csr -out expired.pem -startdate 20200101000000Z "
    "-enddate 20200102000000Z -extfile ca.cnf -extensions v3_srv -notext\n"
    "mkdir cadir emptydir\n"
    "cp ca.pem cadir/\n";

/* Returns 0 on success, 77 when openssl is missing, 99 on failure. */
static int make_certs(void) {
  const char *tmp = getenv("TMPDIR");
  char cmd[1400];
  FILE *f;
  if (system("command -v openssl >/dev/null 2>&1") != 0) {
    fprintf(stderr, "check_tls: openssl not found, skipping\n");
    return 77;
  }
  snprintf(certdir, sizeof certdir, "%s/check_tls.XXXXXX",
           tmp != NULL && *tmp != '\0' && strlen(tmp) < 400 ? tmp : "/tmp");
  if (mkdtemp(certdir) == NULL) {
    perror("check_tls: mkdtemp");
    return 99;
  }
  f = fopen(path("gen.sh"), "w");
  if (f == NULL || fputs(gen_script, f) < 0 || fclose(f) != 0) {
    perror("check_tls: gen.sh");
    return 99;
  }
  snprintf(cmd, sizeof cmd, "cd '%s' && sh gen.sh >gen.log 2>&1", certdir);
  if (system(cmd) != 0) {
    snprintf(cmd, sizeof cmd, "cat '%s/gen.log' >&2", certdir);
    if (system(cmd) != 0)
      fprintf(stderr, "check_tls: no log\n");
    fprintf(stderr, "check_tls: generating certificates failed\n");
    return 99;
  }
  return 0;
}

static void remove_certs(void) {
  char cmd[700];
  if (certdir[0] == '\0' || strstr(certdir, "check_tls.") == NULL)
    return;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", certdir);
  if (system(cmd) != 0)
    fprintf(stderr, "check_tls: could not remove %s\n", certdir);
}

/* ---- byte rings ---------------------------------------------------------- */

#define RING_CAP 4096

typedef struct ring {
  unsigned char b[RING_CAP];
  size_t head, len;
  size_t total; /* bytes ever put */
  int closed;   /* the writer closed: empty means end of stream */
} ring;

static size_t ring_put(ring *r, const unsigned char *p, size_t n) {
  size_t i;
  if (n > RING_CAP - r->len)
    n = RING_CAP - r->len;
  for (i = 0; i < n; i++)
    r->b[(r->head + r->len + i) % RING_CAP] = p[i];
  r->len += n;
  r->total += n;
  return n;
}

static size_t ring_get(ring *r, unsigned char *p, size_t n) {
  size_t i;
  if (n > r->len)
    n = r->len;
  for (i = 0; i < n; i++)
    p[i] = r->b[(r->head + i) % RING_CAP];
  r->head = (r->head + n) % RING_CAP;
  r->len -= n;
  return n;
}

/* ---- the client's lower transport ---------------------------------------- */

typedef struct mock {
  ring *in, *out;
  int flaky; /* every other send / recv would block */
  unsigned flip_r, flip_w;
  size_t chunk; /* most bytes per call, 0 = no limit */
  int fail;     /* when non-zero, send and recv return it */
  long recv_calls, send_calls, close_calls, timeout_calls;
  size_t last_recv_len;
  unsigned last_timeout;
} mock;

static smtpc_ssize mock_send(void *ctx, const unsigned char *buf, size_t len) {
  mock *m = ctx;
  m->send_calls++;
  if (m->fail != 0)
    return m->fail;
  if (m->flaky && (m->flip_w++ & 1u) == 0)
    return SMTPC_ERR_WANT_WRITE;
  if (m->chunk != 0 && len > m->chunk)
    len = m->chunk;
  len = ring_put(m->out, buf, len);
  return len == 0 ? SMTPC_ERR_WANT_WRITE : (smtpc_ssize)len;
}

static smtpc_ssize mock_recv(void *ctx, unsigned char *buf, size_t len) {
  mock *m = ctx;
  m->recv_calls++;
  m->last_recv_len = len;
  if (m->fail != 0)
    return m->fail;
  if (m->flaky && (m->flip_r++ & 1u) == 0)
    return SMTPC_ERR_WANT_READ;
  if (m->in->len == 0)
    return m->in->closed ? 0 : SMTPC_ERR_WANT_READ;
  if (m->chunk != 0 && len > m->chunk)
    len = m->chunk;
  return (smtpc_ssize)ring_get(m->in, buf, len);
}

static void mock_set_timeout(void *ctx, unsigned ms) {
  mock *m = ctx;
  m->timeout_calls++;
  m->last_timeout = ms;
}

static void mock_close(void *ctx) {
  mock *m = ctx;
  m->close_calls++;
  m->out->closed = 1;
}

/* ---- the server ------------------------------------------------------------ */

static int mbed_want(int r) {
  return r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE;
}

enum {
  SRV_REQUIRE_CLIENT_CERT = 1u << 0,
  SRV_TLS11_ONLY = 1u << 1,
  SRV_RENEGOTIATION = 1u << 2,
  SRV_TLS12_MAX = 1u << 3
};

typedef struct server {
  ring *in, *out;
  smtpc__tls_rng rng;
  mbedtls_ssl_config conf;
  mbedtls_ssl_context ssl;
  mbedtls_x509_crt cert, ca;
  mbedtls_pk_context key;
  char sni[300]; /* the name the client sent, "" for none */
  int sni_calls;
  int hs;        /* last mbedtls_ssl_handshake() result */
  int suites[2]; /* see server_only_suite() */
  /* What the server sent until its handshake ended (for TLS 1.3 that
   * includes its NewSessionTicket). */
  unsigned char hs_out[16384];
  size_t hs_out_len;
} server;

static int srv_send(void *ctx, const unsigned char *buf, size_t len) {
  server *s = ctx;
  size_t n = ring_put(s->out, buf, len);
  if (mbed_want(s->hs) && n <= sizeof s->hs_out - s->hs_out_len) {
    memcpy(s->hs_out + s->hs_out_len, buf, n);
    s->hs_out_len += n;
  }
  return n == 0 ? MBEDTLS_ERR_SSL_WANT_WRITE : (int)n;
}

static int srv_recv(void *ctx, unsigned char *buf, size_t len) {
  server *s = ctx;
  if (s->in->len == 0)
    return s->in->closed ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
  return (int)ring_get(s->in, buf, len);
}

static int srv_sni(void *ctx, mbedtls_ssl_context *ssl,
                   const unsigned char *name, size_t len) {
  server *s = ctx;
  (void)ssl;
  s->sni_calls++;
  if (len >= sizeof s->sni)
    len = sizeof s->sni - 1;
  memcpy(s->sni, name, len);
  s->sni[len] = '\0';
  return 0;
}

static void server_init(server *s, ring *in, ring *out, const char *cert,
                        const char *key, unsigned flags) {
  memset(s, 0, sizeof *s);
  s->in = in;
  s->out = out;
  s->hs = MBEDTLS_ERR_SSL_WANT_READ;
  smtpc__tls_rng_init(&s->rng);
  mbedtls_ssl_config_init(&s->conf);
  mbedtls_ssl_init(&s->ssl);
  mbedtls_x509_crt_init(&s->cert);
  mbedtls_x509_crt_init(&s->ca);
  mbedtls_pk_init(&s->key);
  /* psa_crypto_init() where needed, and the RNG (none with 4.x) */
  ck_assert_int_eq(smtpc__tls_crypto_start(&s->rng), SMTPC_OK);
  ck_assert_int_eq(mbedtls_x509_crt_parse_file(&s->cert, path(cert)), 0);
  ck_assert_int_eq(smtpc__tls_parse_keyfile(&s->key, path(key), &s->rng), 0);
  ck_assert_int_eq(mbedtls_ssl_config_defaults(&s->conf, MBEDTLS_SSL_IS_SERVER,
                                               MBEDTLS_SSL_TRANSPORT_STREAM,
                                               MBEDTLS_SSL_PRESET_DEFAULT),
                   0);
  smtpc__tls_conf_rng(&s->conf, &s->rng);
  ck_assert_int_eq(mbedtls_ssl_conf_own_cert(&s->conf, &s->cert, &s->key), 0);
  mbedtls_ssl_conf_sni(&s->conf, srv_sni, s);
  if (flags & SRV_REQUIRE_CLIENT_CERT) {
    ck_assert_int_eq(mbedtls_x509_crt_parse_file(&s->ca, path("ca.pem")), 0);
    mbedtls_ssl_conf_ca_chain(&s->conf, &s->ca, NULL);
    mbedtls_ssl_conf_authmode(&s->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  } else {
    mbedtls_ssl_conf_authmode(&s->conf, MBEDTLS_SSL_VERIFY_NONE);
  }
#if MBEDTLS_VERSION_NUMBER < 0x03000000 && defined(MBEDTLS_SSL_PROTO_TLS1_1)
  if (flags & SRV_TLS11_ONLY) {
    mbedtls_ssl_conf_min_version(&s->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_2);
    mbedtls_ssl_conf_max_version(&s->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_2);
  }
#endif
#if defined(MBEDTLS_SSL_RENEGOTIATION)
  if (flags & SRV_RENEGOTIATION)
    mbedtls_ssl_conf_renegotiation(&s->conf, MBEDTLS_SSL_RENEGOTIATION_ENABLED);
#endif
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
  /* before mbedtls_ssl_setup(), which picks the version to start with */
  if (flags & SRV_TLS12_MAX)
    mbedtls_ssl_conf_max_tls_version(&s->conf, MBEDTLS_SSL_VERSION_TLS1_2);
#endif
  ck_assert_int_eq(mbedtls_ssl_setup(&s->ssl, &s->conf), 0);
  mbedtls_ssl_set_bio(&s->ssl, s, srv_send, srv_recv, NULL);
}

/* Limits the server to one cipher suite (before its handshake starts; for
 * a TLS 1.2 suite the server needs SRV_TLS12_MAX with mbedTLS 3.x). */
static void server_only_suite(server *s, int suite) {
  s->suites[0] = suite;
  s->suites[1] = 0;
  mbedtls_ssl_conf_ciphersuites(&s->conf, s->suites);
}

static void server_free(server *s) {
  mbedtls_ssl_free(&s->ssl);
  mbedtls_ssl_config_free(&s->conf);
  mbedtls_x509_crt_free(&s->cert);
  mbedtls_x509_crt_free(&s->ca);
  mbedtls_pk_free(&s->key);
  smtpc__tls_rng_free(&s->rng);
}

/* 1 if a ServerHello the server sent carries the pre_shared_key extension
 * (41): a TLS 1.3 server that accepts a ticket says so there, and then
 * sends no Certificate (RFC 8446 4.2.11, 2.2).  Walks the plaintext
 * handshake records of what it sent. */
static int server_hello_has_psk(const server *s) {
  const unsigned char *p = s->hs_out, *end = s->hs_out + s->hs_out_len;
  while (end - p >= 5) {
    size_t rlen = (size_t)p[3] << 8 | p[4];
    const unsigned char *m = p + 5, *mend = m + rlen;
    if (rlen > (size_t)(end - m))
      break;
    /* a handshake record holding a ServerHello: type, length, version,
     * random, session ID, suite, compression, extensions */
    if (p[0] == 22 && rlen > 4 + 2 + 32 + 1 && m[0] == 2) {
      const unsigned char *x = m + 4 + 2 + 32;
      x += 1 + x[0] + 2 + 1 + 2;
      while (x + 4 <= mend) {
        size_t xlen = (size_t)x[2] << 8 | x[3];
        if (x[0] == 0 && x[1] == 41)
          return 1;
        x += 4 + xlen;
      }
    }
    p = mend;
  }
  return 0;
}

/* Whether the server authenticated with its certificate in this handshake
 * (a full handshake; a resumed one never does), from what it sent.  TLS
 * 1.2: its certificate's bytes are there.  TLS 1.3 encrypts the
 * Certificate message, but a server that resumes has said so in its
 * ServerHello. */
static int server_sent_cert(const server *s) {
  const unsigned char *der = s->cert.raw.p;
  size_t n = s->cert.raw.len, i;
  if (strcmp(mbedtls_ssl_get_version(&s->ssl), "TLSv1.3") == 0)
    return !server_hello_has_psk(s);
  for (i = 0; i + n <= s->hs_out_len; i++)
    if (memcmp(s->hs_out + i, der, n) == 0)
      return 1;
  return 0;
}

static int want(smtpc_ssize r) {
  return r == SMTPC_ERR_WANT_READ || r == SMTPC_ERR_WANT_WRITE;
}

/* Advances the server's handshake if it is not finished. */
static void server_step(server *s) {
  if (!mbed_want(s->hs))
    return;
  s->hs = mbedtls_ssl_handshake(&s->ssl);
  if (s->hs != 0 && !mbed_want(s->hs)) {
    /* Like a real server: tell the client, then hang up.  (mbedTLS itself
     * sends no alert for some failures, e.g. a missing client
     * certificate.) */
    (void)mbedtls_ssl_send_alert_message(
        &s->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
        MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
    s->out->closed = 1;
  }
}

/* ---- a client and a server joined by two rings --------------------------- */

/* Transport variants for the loop tests. */
static const struct variant {
  const char *name;
  int flaky;
  size_t chunk;
} variants[] = {{"plain", 0, 0}, {"flaky", 1, 0}, {"flaky+7", 1, 7}};
#define NVARIANTS ((int)(sizeof variants / sizeof variants[0]))

typedef struct pair {
  ring c2s, s2c;
  mock low;
  smtpc_io lower;
  server srv;
  int have_srv;
  smtpc_tls *tls;
  smtpc_io io;
} pair;

/* A client in mode (CA ca.pem unless cafile is given; "" for none) and,
 * when cert is non-NULL, a server presenting cert/key.  Not wrapped yet. */
static pair *pair_new(smtpc_security mode, const char *cafile, const char *cert,
                      const char *key, unsigned srv_flags, int variant) {
  pair *p = calloc(1, sizeof *p);
  ck_assert_ptr_ne(p, NULL);
  p->low.in = &p->s2c;
  p->low.out = &p->c2s;
  p->low.flaky = variants[variant].flaky;
  p->low.chunk = variants[variant].chunk;
  p->lower.version = SMTPC_IO_VERSION;
  p->lower.ctx = &p->low;
  p->lower.send = mock_send;
  p->lower.recv = mock_recv;
  p->lower.set_timeout = mock_set_timeout;
  p->lower.close = mock_close;
  if (cert != NULL) {
    server_init(&p->srv, &p->c2s, &p->s2c, cert, key, srv_flags);
    p->have_srv = 1;
  }
  ck_assert_int_eq(smtpc_tls_new(&p->tls, NULL, mode), SMTPC_OK);
  if (cafile == NULL)
    cafile = "ca.pem";
  if (*cafile != '\0')
    ck_assert_int_eq(smtpc_tls_set_cafile(p->tls, path(cafile)), SMTPC_OK);
  return p;
}

static void pair_wrap(pair *p) {
  ck_assert_int_eq(smtpc_tls_wrap(p->tls, &p->lower, &p->io), SMTPC_OK);
  ck_assert_int_eq(p->io.version, SMTPC_IO_VERSION);
  ck_assert(p->io.send != NULL && p->io.recv != NULL);
  ck_assert(p->io.starttls != NULL && p->io.is_secure != NULL);
  ck_assert(p->io.set_timeout != NULL && p->io.close != NULL);
  ck_assert_int_eq(p->io.is_secure(p->io.ctx), 0);
}

static void pair_free(pair *p) {
  smtpc_tls_free(p->tls);
  if (p->have_srv)
    server_free(&p->srv);
  free(p);
}

/* Calls starttls until it stops blocking while the server handshakes;
 * returns its result.  When it succeeded, the server's handshake is over
 * too (successful or not). */
static int run_starttls(pair *p, const char *servername) {
  int rc = SMTPC_ERR_WANT_READ;
  long i;
  for (i = 0; i < MAX_SPINS; i++) {
    if (want(rc))
      rc = p->io.starttls(p->io.ctx, servername);
    server_step(&p->srv);
    if (rc == SMTPC_OK && !mbed_want(p->srv.hs))
      break;
    if (!want(rc) && rc != SMTPC_OK)
      break;
  }
  ck_assert_msg(i < MAX_SPINS, "handshake still running after %ld steps", i);
  return rc;
}

/* run_starttls(); on success the server's handshake succeeded too. */
static int do_starttls(pair *p, const char *servername) {
  int rc = run_starttls(p, servername);
  if (rc == SMTPC_OK)
    ck_assert_int_eq(p->srv.hs, 0);
  return rc;
}

/* Client sends data[0..n), the server reads and compares it. */
static void xfer_c2s(pair *p, const void *data, size_t n) {
  const unsigned char *d = data;
  unsigned char *rx = malloc(n + 1);
  size_t sent = 0, got = 0;
  long i;
  ck_assert_ptr_ne(rx, NULL);
  for (i = 0; i < MAX_SPINS && got < n; i++) {
    if (sent < n) {
      smtpc_ssize r = p->io.send(p->io.ctx, d + sent, n - sent);
      ck_assert_msg(r > 0 || want(r), "client send: %ld", (long)r);
      if (r > 0) {
        ck_assert_uint_le((size_t)r, n - sent);
        sent += (size_t)r;
      }
    }
    {
      int r = mbedtls_ssl_read(&p->srv.ssl, rx + got, n - got);
      ck_assert_msg(r > 0 || mbed_want(r), "server read: -0x%04x",
                    (unsigned)-r);
      if (r > 0)
        got += (size_t)r;
    }
  }
  ck_assert_uint_eq(sent, n);
  ck_assert_uint_eq(got, n);
  ck_assert(memcmp(rx, d, n) == 0);
  free(rx);
}

/* The server sends data[0..n), the client reads and compares it. */
static void xfer_s2c(pair *p, const void *data, size_t n) {
  const unsigned char *d = data;
  unsigned char *rx = malloc(n + 1);
  size_t sent = 0, got = 0;
  long i;
  ck_assert_ptr_ne(rx, NULL);
  for (i = 0; i < MAX_SPINS && got < n; i++) {
    if (sent < n) {
      int r = mbedtls_ssl_write(&p->srv.ssl, d + sent, n - sent);
      ck_assert_msg(r > 0 || mbed_want(r), "server write: -0x%04x",
                    (unsigned)-r);
      if (r > 0)
        sent += (size_t)r;
    }
    {
      smtpc_ssize r = p->io.recv(p->io.ctx, rx + got, n - got);
      ck_assert_msg(r > 0 || want(r), "client recv: %ld", (long)r);
      if (r > 0) {
        ck_assert_uint_le((size_t)r, n - got);
        got += (size_t)r;
      }
    }
  }
  ck_assert_uint_eq(sent, n);
  ck_assert_uint_eq(got, n);
  ck_assert(memcmp(rx, d, n) == 0);
  free(rx);
}

/* Raw (cleartext) bytes: server -> ring, client reads through the wrapper. */
static void clear_s2c(pair *p, const char *s) {
  size_t n = strlen(s), got = 0;
  char rx[256];
  long i;
  ck_assert_uint_lt(n, sizeof rx);
  ck_assert_uint_eq(ring_put(&p->s2c, (const unsigned char *)s, n), n);
  for (i = 0; i < MAX_SPINS && got < n; i++) {
    smtpc_ssize r = p->io.recv(p->io.ctx, (unsigned char *)rx + got, n - got);
    ck_assert_msg(r > 0 || want(r), "clear recv: %ld", (long)r);
    if (r > 0)
      got += (size_t)r;
  }
  ck_assert_uint_eq(got, n);
  ck_assert(memcmp(rx, s, n) == 0);
}

/* Client sends cleartext through the wrapper; it arrives as is. */
static void clear_c2s(pair *p, const char *s) {
  size_t n = strlen(s), sent = 0;
  unsigned char rx[256];
  long i;
  for (i = 0; i < MAX_SPINS && sent < n; i++) {
    smtpc_ssize r =
        p->io.send(p->io.ctx, (const unsigned char *)s + sent, n - sent);
    ck_assert_msg(r > 0 || want(r), "clear send: %ld", (long)r);
    if (r > 0)
      sent += (size_t)r;
  }
  ck_assert_uint_eq(sent, n);
  ck_assert_uint_eq(p->c2s.len, n);
  ck_assert_uint_eq(ring_get(&p->c2s, rx, n), n);
  ck_assert(memcmp(rx, s, n) == 0);
}

/* A handshake that must fail: returns starttls's result. */
static int failing_starttls(pair *p, const char *servername) {
  int rc = do_starttls(p, servername);
  ck_assert_msg(rc != SMTPC_OK, "handshake unexpectedly succeeded");
  ck_assert_int_eq(p->io.is_secure(p->io.ctx), 0);
  ck_assert_int_eq(smtpc_tls_is_active(p->tls), 0);
  ck_assert_str_eq(smtpc_tls_description(p->tls), "");
  /* sticky: the connection is unusable */
  ck_assert_int_eq(p->io.starttls(p->io.ctx, servername), rc);
  ck_assert_int_eq((int)p->io.send(p->io.ctx, (const unsigned char *)"x", 1),
                   rc);
  {
    unsigned char b[8];
    ck_assert_int_eq((int)p->io.recv(p->io.ctx, b, sizeof b), rc);
  }
  return rc;
}

static void assert_contains(const char *hay, const char *needle) {
  ck_assert_msg(strstr(hay, needle) != NULL, "\"%s\" does not contain \"%s\"",
                hay, needle);
}

/* ---- STARTTLS and implicit TLS ------------------------------------------- */

START_TEST(starttls_ok) {
  pair *p =
      pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv.pem", "srv.key", 0, _i);
  unsigned char *big;
  size_t i;
  pair_wrap(p);
  ck_assert_int_eq(p->low.recv_calls + p->low.send_calls, 0);
  /* cleartext phase, untouched */
  clear_s2c(p, "220 mx ESMTP\r\n");
  clear_c2s(p, "EHLO client.test\r\n");
  clear_s2c(p, "250-mx\r\n250 STARTTLS\r\n");
  clear_c2s(p, "STARTTLS\r\n");
  clear_s2c(p, "220 go ahead\r\n");
  ck_assert_int_eq(p->io.is_secure(p->io.ctx), 0);
  ck_assert_str_eq(smtpc_tls_description(p->tls), "");

  ck_assert_int_eq(do_starttls(p, "localhost"), SMTPC_OK);
  ck_assert_int_eq(p->io.is_secure(p->io.ctx), 1);
  ck_assert_int_eq(smtpc_tls_is_active(p->tls), 1);
  ck_assert_int_eq(smtpc_tls_verify_result(p->tls), SMTPC_TLS_VERIFY_OK);
  ck_assert_str_eq(smtpc_tls_last_error(p->tls), "");
  ck_assert_msg(strncmp(smtpc_tls_description(p->tls), "TLSv1.", 6) == 0 &&
                    strstr(smtpc_tls_description(p->tls), " TLS") != NULL,
                "description \"%s\"", smtpc_tls_description(p->tls));
  ck_assert_str_eq(p->srv.sni, "localhost"); /* SNI sent */
  /* a second STARTTLS is a session bug */
  ck_assert_int_eq(p->io.starttls(p->io.ctx, "localhost"),
                   SMTPC_ERR_INVALID_STATE);

  xfer_c2s(p, "EHLO client.test\r\n", 18);
  xfer_s2c(p, "250-mx\r\n250 AUTH PLAIN\r\n", 24);
  /* exact bytes across many records, partial writes and short reads */
  big = malloc(100000);
  ck_assert_ptr_ne(big, NULL);
  for (i = 0; i < 100000; i++)
    big[i] = (unsigned char)(i * 7 + i / 251);
  xfer_c2s(p, big, 100000);
  xfer_s2c(p, big, 100000);
  free(big);
  pair_free(p);
}
END_TEST

START_TEST(implicit_ok) {
  pair *p =
      pair_new(SMTPC_SECURITY_IMPLICIT, NULL, "srv.pem", "srv.key", 0, _i);
  unsigned char buf[64];
  size_t got = 0;
  int greeted = 0;
  long i;
  ck_assert_int_eq(smtpc_tls_set_hostname(p->tls, "localhost"), SMTPC_OK);
  pair_wrap(p);
  /* the first recv runs the handshake, then reads the greeting */
  for (i = 0; i < MAX_SPINS && got < 16; i++) {
    smtpc_ssize r = p->io.recv(p->io.ctx, buf + got, sizeof buf - got);
    ck_assert_msg(r > 0 || want(r), "recv: %ld (%s)", (long)r,
                  smtpc_tls_last_error(p->tls));
    if (r > 0)
      got += (size_t)r;
    server_step(&p->srv);
    if (p->srv.hs == 0 && !greeted) {
      ck_assert_int_eq(
          mbedtls_ssl_write(&p->srv.ssl,
                            (const unsigned char *)"220 mx ESMTP\r\n", 14),
          14);
      greeted = 1;
    }
    if (got == 14)
      break;
  }
  ck_assert_uint_eq(got, 14);
  ck_assert(memcmp(buf, "220 mx ESMTP\r\n", 14) == 0);
  ck_assert_int_eq(p->io.is_secure(p->io.ctx), 1);
  ck_assert_int_eq(smtpc_tls_is_active(p->tls), 1);
  ck_assert_str_eq(p->srv.sni, "localhost");
  /* implicit TLS has no STARTTLS */
  ck_assert_int_eq(p->io.starttls(p->io.ctx, "localhost"),
                   SMTPC_ERR_INVALID_STATE);
  xfer_c2s(p, "EHLO client.test\r\n", 18);
  xfer_s2c(p, "250 mx\r\n", 8);
  pair_free(p);
}
END_TEST

/* Implicit mode started by a send instead of a recv. */
START_TEST(implicit_send_first) {
  pair *p = pair_new(SMTPC_SECURITY_IMPLICIT, NULL, "srv.pem", "srv.key", 0, 0);
  ck_assert_int_eq(smtpc_tls_set_hostname(p->tls, "localhost"), SMTPC_OK);
  pair_wrap(p);
  ck_assert_int_eq(p->io.is_secure(p->io.ctx), 0);
  xfer_c2s(p, "EHLO client.test\r\n", 18); /* drives both handshakes */
  ck_assert_int_eq(p->io.is_secure(p->io.ctx), 1);
  pair_free(p);
}
END_TEST

START_TEST(implicit_without_hostname) {
  pair *p = pair_new(SMTPC_SECURITY_IMPLICIT, NULL, "srv.pem", "srv.key", 0, 0);
  unsigned char b[8];
  pair_wrap(p);
  ck_assert_int_eq((int)p->io.recv(p->io.ctx, b, sizeof b),
                   SMTPC_ERR_CERTIFICATE);
  ck_assert_int_eq(smtpc_tls_verify_result(p->tls), SMTPC_TLS_VERIFY_HOSTNAME);
  assert_contains(smtpc_tls_last_error(p->tls), "smtpc_tls_set_hostname");
  ck_assert_int_eq(p->low.send_calls, 0); /* nothing went out */
  pair_free(p);
}
END_TEST

/* ---- verification -------------------------------------------------------- */

START_TEST(wrong_hostname) {
  pair *p =
      pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv.pem", "srv.key", 0, _i);
  pair_wrap(p);
  ck_assert_int_eq(failing_starttls(p, "mx.example.org"),
                   SMTPC_ERR_CERTIFICATE);
  ck_assert_int_eq(smtpc_tls_verify_result(p->tls), SMTPC_TLS_VERIFY_HOSTNAME);
  ck_assert_str_eq(smtpc_tls_last_error(p->tls),
                   "certificate is for localhost (or 127.0.0.1), not "
                   "mx.example.org");
  pair_free(p);
}
END_TEST

/* smtpc_tls_set_hostname() wins over the name the session passes. */
START_TEST(configured_hostname_wins) {
  pair *p = pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv.pem", "srv.key", 0, 0);
  ck_assert_int_eq(smtpc_tls_set_hostname(p->tls, "localhost."), SMTPC_OK);
  pair_wrap(p);
  ck_assert_int_eq(do_starttls(p, "wrong.example"), SMTPC_OK);
  ck_assert_str_eq(p->srv.sni, "localhost"); /* trailing dot dropped */
  pair_free(p);

  p = pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv.pem", "srv.key", 0, 0);
  ck_assert_int_eq(smtpc_tls_set_hostname(p->tls, "mx.example.org"), SMTPC_OK);
  pair_wrap(p);
  ck_assert_int_eq(failing_starttls(p, "localhost"), SMTPC_ERR_CERTIFICATE);
  ck_assert_int_eq(smtpc_tls_verify_result(p->tls), SMTPC_TLS_VERIFY_HOSTNAME);
  assert_contains(smtpc_tls_last_error(p->tls), "not mx.example.org");
  pair_free(p);
}
END_TEST

START_TEST(no_hostname) {
  pair *p = pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv.pem", "srv.key", 0, 0);
  pair_wrap(p);
  ck_assert_int_eq(p->io.starttls(p->io.ctx, NULL), SMTPC_ERR_CERTIFICATE);
  ck_assert_int_eq(smtpc_tls_verify_result(p->tls), SMTPC_TLS_VERIFY_HOSTNAME);
  ck_assert_int_eq(p->low.send_calls, 0);
  ck_assert_int_eq(p->io.starttls(p->io.ctx, NULL), SMTPC_ERR_CERTIFICATE);
  pair_free(p);
}
END_TEST

/* Address literals: checked against iPAddress, no SNI. */
START_TEST(ip_hostname) {
  static const char *const ok[] = {"127.0.0.1", "[127.0.0.1]"};
  static const char *const bad[] = {"127.0.0.2", "::1", "[IPv6:::1]",
                                    "::ffff:127.0.0.1"};
  static const char *const shown[] = {"127.0.0.2", "::1", "::1",
                                      "::ffff:127.0.0.1"};
  size_t i;
  for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    pair *p =
        pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv.pem", "srv.key", 0, 0);
    pair_wrap(p);
    ck_assert_msg(do_starttls(p, ok[i]) == SMTPC_OK, "%s: %s", ok[i],
                  smtpc_tls_last_error(p->tls));
    ck_assert_int_eq(p->srv.sni_calls, 0);
    pair_free(p);
  }
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    pair *p =
        pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv.pem", "srv.key", 0, 0);
    pair_wrap(p);
    ck_assert_int_eq(failing_starttls(p, bad[i]), SMTPC_ERR_CERTIFICATE);
    ck_assert_int_eq(smtpc_tls_verify_result(p->tls),
                     SMTPC_TLS_VERIFY_HOSTNAME);
    {
      char want_msg[128];
      snprintf(want_msg, sizeof want_msg,
               "certificate is for localhost (or 127.0.0.1), not %s", shown[i]);
      ck_assert_str_eq(smtpc_tls_last_error(p->tls), want_msg);
    }
    ck_assert_int_eq(p->srv.sni_calls, 0);
    pair_free(p);
  }
}
END_TEST

/* The message lists a few names of the certificate, not all. */
START_TEST(many_names) {
  pair *p =
      pair_new(SMTPC_SECURITY_STARTTLS, NULL, "many.pem", "srv.key", 0, 0);
  pair_wrap(p);
  ck_assert_int_eq(failing_starttls(p, "localhost"), SMTPC_ERR_CERTIFICATE);
  ck_assert_str_eq(smtpc_tls_last_error(p->tls),
                   "certificate is for a.example (or b.example, c.example "
                   "and 2 more), not localhost");
  pair_free(p);
}
END_TEST

/* A handshake with cert against name that must fail name verification
 * (mbedTLS flags MBEDTLS_X509_BADCERT_CN_MISMATCH, and only that, give
 * SMTPC_TLS_VERIFY_HOSTNAME); returns the pair for more checks. */
static pair *name_refused(const char *cert, const char *name) {
  pair *p = pair_new(SMTPC_SECURITY_STARTTLS, NULL, cert, "srv.key", 0, 0);
  int rc;
  pair_wrap(p);
  rc = do_starttls(p, name);
  ck_assert_msg(rc != SMTPC_OK, "%s accepted for %s", cert, name);
  ck_assert_int_eq(failing_starttls(p, name), SMTPC_ERR_CERTIFICATE);
  ck_assert_int_eq(smtpc_tls_verify_result(p->tls), SMTPC_TLS_VERIFY_HOSTNAME);
  return p;
}

/* The subject CN is no name (RFC 9525): without a dNSName entry in
 * subjectAltName a DNS name never matches (mbedTLS 2.28 and 3.x alone fall
 * back to the CN).  An address must be an iPAddress entry, as always. */
START_TEST(cn_not_used) {
  static const char no_dns[] =
      "certificate has no DNS name in subjectAltName to match localhost (the "
      "subject CN is not used, RFC 9525)";
  pair *p = name_refused("nosan.pem", "localhost"); /* CN=localhost */
  ck_assert_str_eq(smtpc_tls_last_error(p->tls), no_dns);
  pair_free(p);
  p = name_refused("iponly.pem", "localhost"); /* CN=localhost too */
  ck_assert_str_eq(smtpc_tls_last_error(p->tls), no_dns);
  pair_free(p);
  p = name_refused("nosan.pem", "127.0.0.1");
  ck_assert_str_eq(smtpc_tls_last_error(p->tls),
                   "certificate is for localhost, not 127.0.0.1");
  pair_free(p);

  p = pair_new(SMTPC_SECURITY_STARTTLS, NULL, "iponly.pem", "srv.key", 0, 0);
  pair_wrap(p);
  ck_assert_int_eq(do_starttls(p, "127.0.0.1"), SMTPC_OK);
  pair_free(p);
  /* verification off: no name check either */
  p = pair_new(SMTPC_SECURITY_STARTTLS, "", "nosan.pem", "srv.key", 0, 0);
  smtpc_tls_insecure_skip_verify(p->tls, 1);
  pair_wrap(p);
  ck_assert_int_eq(do_starttls(p, "localhost"), SMTPC_OK);
  pair_free(p);
}
END_TEST

/* A wildcard is the whole left-most label, stands for exactly one label,
 * and needs at least two labels after it (RFC 9525). */
START_TEST(wildcards) {
  static const struct {
    const char *cert, *san, *name;
    int ok;
  } v[] = {{"wild1.pem", "*.test", "example.test", 0},
           {"wild1.pem", "*.test", "a.example.test", 0},
           {"wild2.pem", "*.example.test", "a.example.test", 1},
           {"wild2.pem", "*.example.test", "MX-1.Example.TEST", 1},
           {"wild2.pem", "*.example.test", "example.test", 0},
           {"wild2.pem", "*.example.test", "a.b.example.test", 0},
           {"wild2.pem", "*.example.test", ".example.test", 0},
           {"partial.pem", "f*.example.test", "f.example.test", 0},
           {"partial.pem", "f*.example.test", "foo.example.test", 0}};
  size_t i;
  for (i = 0; i < sizeof v / sizeof v[0]; i++) {
    pair *p;
    if (v[i].ok) {
      p = pair_new(SMTPC_SECURITY_STARTTLS, NULL, v[i].cert, "srv.key", 0, 0);
      pair_wrap(p);
      ck_assert_msg(do_starttls(p, v[i].name) == SMTPC_OK, "%s for %s: %s",
                    v[i].san, v[i].name, smtpc_tls_last_error(p->tls));
      ck_assert_str_eq(p->srv.sni, v[i].name);
    } else {
      char want_msg[128];
      p = name_refused(v[i].cert, v[i].name);
      snprintf(want_msg, sizeof want_msg, "certificate is for %s, not %s",
               v[i].san, v[i].name);
      ck_assert_str_eq(smtpc_tls_last_error(p->tls), want_msg);
    }
    pair_free(p);
  }
}
END_TEST

START_TEST(self_signed) {
  pair *p = pair_new(SMTPC_SECURITY_STARTTLS, NULL, "ss.pem", "ss.key", 0, _i);
  pair_wrap(p);
  ck_assert_int_eq(failing_starttls(p, "localhost"), SMTPC_ERR_CERTIFICATE);
  ck_assert_int_eq(smtpc_tls_verify_result(p->tls),
                   SMTPC_TLS_VERIFY_UNKNOWN_CA);
  ck_assert_str_eq(smtpc_tls_last_error(p->tls),
                   "certificate for localhost (or 127.0.0.1) is self-signed "
                   "(not issued by a trusted CA)");
  pair_free(p);
}
END_TEST

START_TEST(unknown_ca) {
  pair *p =
      pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv_other.pem", "srv.key", 0, 0);
  pair_wrap(p);
  ck_assert_int_eq(failing_starttls(p, "localhost"), SMTPC_ERR_CERTIFICATE);
  ck_assert_int_eq(smtpc_tls_verify_result(p->tls),
                   SMTPC_TLS_VERIFY_UNKNOWN_CA);
  ck_assert_str_eq(smtpc_tls_last_error(p->tls),
                   "certificate for localhost (or 127.0.0.1) is not issued "
                   "by a trusted CA");
  pair_free(p);
}
END_TEST

START_TEST(expired) {
  pair *p =
      pair_new(SMTPC_SECURITY_STARTTLS, NULL, "expired.pem", "srv.key", 0, _i);
  pair_wrap(p);
  ck_assert_int_eq(failing_starttls(p, "localhost"), SMTPC_ERR_CERTIFICATE);
  ck_assert_int_eq(smtpc_tls_verify_result(p->tls), SMTPC_TLS_VERIFY_EXPIRED);
  ck_assert_str_eq(smtpc_tls_last_error(p->tls),
                   "certificate has expired (not valid after 2020-01-02 "
                   "00:00:00 UTC)");
  pair_free(p);
}
END_TEST

/* The system bundle is loaded when no CA is configured, and does not trust
 * the test CA. */
START_TEST(system_bundle) {
  pair *p = pair_new(SMTPC_SECURITY_STARTTLS, "", "srv.pem", "srv.key", 0, 0);
  int rc = smtpc_tls_wrap(p->tls, &p->lower, &p->io);
  if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) != 0) {
    ck_assert_int_eq(rc, SMTPC_ERR_CERTIFICATE);
    assert_contains(smtpc_tls_last_error(p->tls), "ca-certificates.crt");
  } else {
    ck_assert_int_eq(rc, SMTPC_OK);
    ck_assert_int_eq(failing_starttls(p, "localhost"), SMTPC_ERR_CERTIFICATE);
    ck_assert_int_eq(smtpc_tls_verify_result(p->tls),
                     SMTPC_TLS_VERIFY_UNKNOWN_CA);
  }
  pair_free(p);
}
END_TEST

START_TEST(insecure_skip_verify) {
  pair *p = pair_new(SMTPC_SECURITY_STARTTLS, "", "ss.pem", "ss.key", 0, _i);
  smtpc_tls_insecure_skip_verify(p->tls, 1);
  pair_wrap(p);
  /* self-signed, and not even the right name */
  ck_assert_int_eq(do_starttls(p, "mx.example.org"), SMTPC_OK);
  /* encrypted but not verified: 2 (enough for the TLS policy, never for
   * REQUIRETLS) */
  ck_assert_int_eq(p->io.is_secure(p->io.ctx), 2);
  ck_assert_int_eq(smtpc_tls_verify_result(p->tls), SMTPC_TLS_VERIFY_OK);
  xfer_s2c(p, "250 ok\r\n", 8);
  pair_free(p);

  /* no name at all is fine too */
  p = pair_new(SMTPC_SECURITY_STARTTLS, "", "ss.pem", "ss.key", 0, 0);
  smtpc_tls_insecure_skip_verify(p->tls, 1);
  pair_wrap(p);
  ck_assert_int_eq(do_starttls(p, NULL), SMTPC_OK);
  ck_assert_int_eq(p->srv.sni_calls, 0);
  pair_free(p);
}
END_TEST

START_TEST(ca_files) {
  smtpc_tls *t;
  pair *p;
  ck_assert_int_eq(smtpc_tls_new(&t, NULL, SMTPC_SECURITY_STARTTLS), SMTPC_OK);
  ck_assert_int_eq(smtpc_tls_set_cafile(t, path("missing.pem")),
                   SMTPC_ERR_CERTIFICATE);
  assert_contains(smtpc_tls_last_error(t), "missing.pem");
  ck_assert_int_eq(smtpc_tls_set_cafile(t, path("ca.cnf")), /* not PEM */
                   SMTPC_ERR_CERTIFICATE);
  ck_assert_int_eq(smtpc_tls_set_capath(t, path("missing.d")),
                   SMTPC_ERR_CERTIFICATE);
  ck_assert_int_eq(smtpc_tls_set_capath(t, path("emptydir")),
                   SMTPC_ERR_CERTIFICATE);
  assert_contains(smtpc_tls_last_error(t), "emptydir");
  ck_assert_int_eq(smtpc_tls_set_cafile(NULL, "x"), SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_tls_set_cafile(t, NULL), SMTPC_ERR_INVALID_ARGUMENT);
  smtpc_tls_free(t);

  /* a CA directory works like a file */
  p = pair_new(SMTPC_SECURITY_STARTTLS, "", "srv.pem", "srv.key", 0, 0);
  ck_assert_int_eq(smtpc_tls_set_capath(p->tls, path("cadir")), SMTPC_OK);
  pair_wrap(p);
  ck_assert_int_eq(do_starttls(p, "localhost"), SMTPC_OK);
  pair_free(p);
}
END_TEST

/* ---- client certificates --------------------------------------------------- */

START_TEST(client_cert) {
  pair *p = pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv.pem", "srv.key",
                     SRV_REQUIRE_CLIENT_CERT, _i);
  const mbedtls_x509_crt *peer;
  char dn[128];
  ck_assert_int_eq(
      smtpc_tls_set_client_cert(p->tls, path("cli.pem"), path("cli.key")),
      SMTPC_OK);
  pair_wrap(p);
  ck_assert_int_eq(do_starttls(p, "localhost"), SMTPC_OK);
  ck_assert_uint_eq(mbedtls_ssl_get_verify_result(&p->srv.ssl), 0);
  peer = mbedtls_ssl_get_peer_cert(&p->srv.ssl);
  ck_assert_ptr_ne(peer, NULL);
  ck_assert_int_gt(mbedtls_x509_dn_gets(dn, sizeof dn, &peer->subject), 0);
  ck_assert_str_eq(dn, "CN=client.test");
  xfer_c2s(p, "QUIT\r\n", 6);
  pair_free(p);
}
END_TEST

/* The server wants a client certificate and the client has none: the
 * server refuses with an alert, and the client reports SMTPC_ERR_TLS.
 * Where the protocols differ: with TLS 1.2 the alert ends the client's
 * handshake (it comes before the server's Finished); with TLS 1.3 the
 * client's handshake is complete before the server reads the client's
 * (empty) Certificate (RFC 8446 section 2), so the alert arrives on the
 * first read instead.  (mbedTLS's server sends that alert under the
 * handshake keys, which the client has already left, so the client sees a
 * record it cannot authenticate: an SMTPC_ERR_TLS all the same.)  _i: 0
 * TLS 1.2, 1 TLS 1.3 (when mbedTLS has it). */
START_TEST(client_cert_missing) {
  pair *p =
      pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv.pem", "srv.key",
               SRV_REQUIRE_CLIENT_CERT | (_i == 0 ? SRV_TLS12_MAX : 0), 0);
  int rc;
  pair_wrap(p);
  rc = run_starttls(p, "localhost");
  ck_assert(!mbed_want(p->srv.hs) && p->srv.hs != 0); /* the server refused */
  if (_i == 0) {
    ck_assert_int_eq(rc, SMTPC_ERR_TLS);
    ck_assert_int_eq(failing_starttls(p, "localhost"), SMTPC_ERR_TLS);
    assert_contains(smtpc_tls_last_error(p->tls), "alert");
  } else {
    unsigned char b[8];
    ck_assert_int_eq(rc, SMTPC_OK);
    assert_contains(smtpc_tls_description(p->tls), "TLSv1.3");
    ck_assert_int_eq((int)p->io.recv(p->io.ctx, b, sizeof b), SMTPC_ERR_TLS);
    ck_assert_int_eq(p->io.is_secure(p->io.ctx), 0);
    ck_assert_int_eq((int)p->io.send(p->io.ctx, b, 1), SMTPC_ERR_TLS);
  }
  ck_assert_int_eq(smtpc_tls_verify_result(p->tls), SMTPC_TLS_VERIFY_OK);
  ck_assert_str_ne(smtpc_tls_last_error(p->tls), "");
  pair_free(p);
}
END_TEST

START_TEST(client_cert_bad) {
  smtpc_tls *t;
  ck_assert_int_eq(smtpc_tls_new(&t, NULL, SMTPC_SECURITY_STARTTLS), SMTPC_OK);
  ck_assert_int_eq(
      smtpc_tls_set_client_cert(t, path("cli.pem"), path("srv.key")),
      SMTPC_ERR_CERTIFICATE);
  assert_contains(smtpc_tls_last_error(t), "does not match");
  ck_assert_int_eq(
      smtpc_tls_set_client_cert(t, path("missing.pem"), path("cli.key")),
      SMTPC_ERR_CERTIFICATE);
  assert_contains(smtpc_tls_last_error(t), "missing.pem");
  ck_assert_int_eq(
      smtpc_tls_set_client_cert(t, path("cli.pem"), path("missing.key")),
      SMTPC_ERR_CERTIFICATE);
  assert_contains(smtpc_tls_last_error(t), "missing.key");
  ck_assert_int_eq(
      smtpc_tls_set_client_cert(t, path("cli.pem"), path("cli.key")), SMTPC_OK);
  ck_assert_int_eq(smtpc_tls_set_client_cert(t, NULL, path("cli.key")),
                   SMTPC_ERR_INVALID_ARGUMENT);
  smtpc_tls_free(t);
}
END_TEST

/* ---- protocol versions ----------------------------------------------------- */

START_TEST(tls11_refused) {
#if MBEDTLS_VERSION_NUMBER < 0x03000000 && defined(MBEDTLS_SSL_PROTO_TLS1_1)
  pair *p = pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv.pem", "srv.key",
                     SRV_TLS11_ONLY, 0);
  pair_wrap(p);
  ck_assert_int_eq(failing_starttls(p, "localhost"), SMTPC_ERR_TLS);
  assert_contains(smtpc_tls_last_error(p->tls), "TLS 1.2");
  pair_free(p);
#else
  /* mbedTLS 3.x (or a 2.x built without TLS 1.1) cannot run a TLS 1.1
   * server, so there is nothing to refuse here. */
#endif
}
END_TEST

/* ---- cipher suites --------------------------------------------------------- */

/* The client offers ephemeral ECDH with AEAD only (RFC 9325): a server
 * limited to RSA key transport, finite-field DHE, CBC (with SHA-1 or not),
 * CCM_8 or CAMELLIA finds nothing to choose; one limited to an ECDHE suite
 * with AES-GCM or ChaCha20-Poly1305 works, with an EC or an RSA key.  Suites
 * this mbedTLS lacks are skipped. */
START_TEST(cipher_suites) {
  static const struct {
    int suite;
    int rsa; /* the server has the RSA key (else the EC one) */
    int ok;
  } v[] = {
#ifdef MBEDTLS_TLS_RSA_WITH_AES_128_CBC_SHA
      {MBEDTLS_TLS_RSA_WITH_AES_128_CBC_SHA, 1, 0},
#endif
#ifdef MBEDTLS_TLS_RSA_WITH_AES_128_GCM_SHA256
      {MBEDTLS_TLS_RSA_WITH_AES_128_GCM_SHA256, 1, 0},
#endif
#ifdef MBEDTLS_TLS_DHE_RSA_WITH_AES_128_GCM_SHA256
      {MBEDTLS_TLS_DHE_RSA_WITH_AES_128_GCM_SHA256, 1, 0},
#endif
      {MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, 1, 0},
      {MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, 0, 0},
      {MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384, 0, 0},
      {MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, 0, 0},
      {MBEDTLS_TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_GCM_SHA256, 0, 0},
      {MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 0, 1},
      {MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, 0, 1},
      {MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, 1, 1}};
  size_t i, ran = 0;
  for (i = 0; i < sizeof v / sizeof v[0]; i++) {
    const char *name = mbedtls_ssl_get_ciphersuite_name(v[i].suite);
    pair *p;
    if (mbedtls_ssl_ciphersuite_from_id(v[i].suite) == NULL)
      continue; /* not in this mbedTLS build */
    p = pair_new(SMTPC_SECURITY_STARTTLS, NULL,
                 v[i].rsa ? "rsa.pem" : "srv.pem",
                 v[i].rsa ? "rsa.key" : "srv.key", SRV_TLS12_MAX, 0);
    server_only_suite(&p->srv, v[i].suite);
    pair_wrap(p);
    if (v[i].ok) {
      ck_assert_msg(do_starttls(p, "localhost") == SMTPC_OK, "%s: %s", name,
                    smtpc_tls_last_error(p->tls));
      assert_contains(smtpc_tls_description(p->tls), name);
      xfer_c2s(p, "EHLO client.test\r\n", 18);
      ran++;
    } else {
      ck_assert_msg(do_starttls(p, "localhost") == SMTPC_ERR_TLS,
                    "%s negotiated: %s", name, smtpc_tls_description(p->tls));
      assert_contains(smtpc_tls_last_error(p->tls), "alert");
    }
    pair_free(p);
  }
  ck_assert_uint_ge(ran, 1);
}
END_TEST

/* ---- the transport underneath ---------------------------------------------- */

/* Bytes that follow the 220 in the clear stay in the lower transport: the
 * wrapper reads exactly what the caller asks for, never ahead, so the
 * session can see them and abort (RFC 3207 section 5 / DESIGN.md). */
START_TEST(clear_bytes_not_consumed) {
  pair *p = pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv.pem", "srv.key", 0, 0);
  static const char in[] = "220 go ahead\r\nINJECTED";
  unsigned char b[64];
  smtpc_ssize r;
  pair_wrap(p);
  ck_assert_int_eq(p->low.recv_calls, 0);
  ring_put(&p->s2c, (const unsigned char *)in, sizeof in - 1);
  r = p->io.recv(p->io.ctx, b, 14);
  ck_assert_int_eq((int)r, 14);
  ck_assert(memcmp(b, "220 go ahead\r\n", 14) == 0);
  ck_assert_int_eq(p->low.recv_calls, 1);
  ck_assert_uint_eq(p->low.last_recv_len, 14);
  ck_assert_uint_eq(p->s2c.len, 8); /* "INJECTED" untouched */
  /* a larger request gets exactly what is there, in one lower call */
  r = p->io.recv(p->io.ctx, b, sizeof b);
  ck_assert_int_eq((int)r, 8);
  ck_assert(memcmp(b, "INJECTED", 8) == 0);
  ck_assert_int_eq(p->low.recv_calls, 2);
  ck_assert_uint_eq(p->low.last_recv_len, sizeof b);
  pair_free(p);

  /* Had the caller not read them, the handshake would not skip them: they
   * are parsed as a (bad) TLS record and the handshake fails. */
  p = pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv.pem", "srv.key", 0, 0);
  pair_wrap(p);
  ring_put(&p->s2c, (const unsigned char *)"INJECTED", 8);
  ck_assert_int_eq(failing_starttls(p, "localhost"), SMTPC_ERR_TLS);
  pair_free(p);
}
END_TEST

START_TEST(eof_during_handshake) {
  pair *p = pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv.pem", "srv.key", 0, 0);
  int rc;
  pair_wrap(p);
  p->s2c.closed = 1; /* the server hangs up instead of answering */
  rc = p->io.starttls(p->io.ctx, "localhost");
  ck_assert_int_eq(rc, SMTPC_ERR_EOF);
  assert_contains(smtpc_tls_last_error(p->tls), "closed");
  ck_assert_int_eq(p->io.is_secure(p->io.ctx), 0);
  pair_free(p);
}
END_TEST

/* Transport errors come back unchanged (a timeout stays a timeout). */
START_TEST(lower_error_passthrough) {
  pair *p = pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv.pem", "srv.key", 0, 0);
  unsigned char b[8];
  pair_wrap(p);
  p->low.fail = SMTPC_ERR_TIMEOUT;
  ck_assert_int_eq(p->io.starttls(p->io.ctx, "localhost"), SMTPC_ERR_TIMEOUT);
  assert_contains(smtpc_tls_last_error(p->tls), "timed out");
  ck_assert_int_eq(p->io.starttls(p->io.ctx, "localhost"), SMTPC_ERR_TIMEOUT);
  pair_free(p);

  /* after the handshake too */
  p = pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv.pem", "srv.key", 0, 0);
  pair_wrap(p);
  ck_assert_int_eq(do_starttls(p, "localhost"), SMTPC_OK);
  p->low.fail = SMTPC_ERR_IO;
  ck_assert_int_eq((int)p->io.recv(p->io.ctx, b, sizeof b), SMTPC_ERR_IO);
  ck_assert_int_eq(p->io.is_secure(p->io.ctx), 0);
  ck_assert_int_eq((int)p->io.send(p->io.ctx, b, 1), SMTPC_ERR_IO);
  pair_free(p);
}
END_TEST

START_TEST(set_timeout_and_close) {
  pair *p = pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv.pem", "srv.key", 0, 0);
  unsigned char b[16];
  int r = 0;
  long i;
  pair_wrap(p);
  p->io.set_timeout(p->io.ctx, 1234);
  ck_assert_int_eq(p->low.timeout_calls, 1);
  ck_assert_uint_eq(p->low.last_timeout, 1234);
  ck_assert_int_eq(do_starttls(p, "localhost"), SMTPC_OK);
  p->io.set_timeout(p->io.ctx, 0);
  ck_assert_int_eq(p->low.timeout_calls, 2);
  ck_assert_uint_eq(p->low.last_timeout, 0);

  p->io.close(p->io.ctx);
  ck_assert_int_eq(p->low.close_calls, 1);
  ck_assert_int_eq(p->io.is_secure(p->io.ctx), 0);
  ck_assert_int_eq((int)p->io.send(p->io.ctx, b, 1), SMTPC_ERR_INVALID_STATE);
  /* the server saw close_notify */
  for (i = 0; i < 100; i++) {
    r = mbedtls_ssl_read(&p->srv.ssl, b, sizeof b);
    if (!mbed_want(r))
      break;
  }
  ck_assert_int_eq(r, MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY);
  pair_free(p);
}
END_TEST

/* close_notify from the server reads as end of stream, and so does a plain
 * transport EOF. */
START_TEST(peer_close) {
  pair *p =
      pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv.pem", "srv.key", 0, _i);
  unsigned char b[16];
  smtpc_ssize r = SMTPC_ERR_WANT_READ;
  long i;
  int c = MBEDTLS_ERR_SSL_WANT_WRITE;
  pair_wrap(p);
  ck_assert_int_eq(do_starttls(p, "localhost"), SMTPC_OK);
  xfer_s2c(p, "221 bye\r\n", 9);
  for (i = 0; i < MAX_SPINS && want(r); i++) {
    if (mbed_want(c))
      c = mbedtls_ssl_close_notify(&p->srv.ssl);
    r = p->io.recv(p->io.ctx, b, sizeof b);
  }
  ck_assert_int_eq((int)r, 0);
  pair_free(p);

  p = pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv.pem", "srv.key", 0, _i);
  pair_wrap(p);
  ck_assert_int_eq(do_starttls(p, "localhost"), SMTPC_OK);
  p->s2c.closed = 1;
  r = SMTPC_ERR_WANT_READ;
  for (i = 0; i < 100 && want(r); i++)
    r = p->io.recv(p->io.ctx, b, sizeof b);
  ck_assert_int_eq((int)r, 0);
  pair_free(p);
}
END_TEST

/* A record without application data (a HelloRequest, refused with a
 * no_renegotiation alert because renegotiation is off) followed by data:
 * recv returns the data, without a would-block while the data already sits
 * in the transport.  With the blocking variants the alert's write blocks
 * inside mbedtls_ssl_read(); the next send must still deliver its own bytes
 * (mbedTLS would otherwise flush the alert in their place and report them
 * sent: see flush_pending() in io_mbedtls.c).  TLS 1.2 on every version: a
 * HelloRequest exists only there (TLS 1.3 has no renegotiation, RFC 8446
 * 4.1.2), so the server stops at TLS 1.2. */
START_TEST(non_data_record) {
#if defined(MBEDTLS_SSL_RENEGOTIATION)
  pair *p = pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv.pem", "srv.key",
                     SRV_RENEGOTIATION | SRV_TLS12_MAX, _i);
  unsigned char b[32];
  smtpc_ssize r = SMTPC_ERR_WANT_READ;
  long i;
  pair_wrap(p);
  ck_assert_int_eq(do_starttls(p, "localhost"), SMTPC_OK);
  ck_assert_int_eq(mbedtls_ssl_renegotiate(&p->srv.ssl), 0);
  ck_assert_int_eq(
      mbedtls_ssl_write(&p->srv.ssl, (const unsigned char *)"250 ok\r\n", 8),
      8);
  for (i = 0; i < 100 && want(r); i++)
    r = p->io.recv(p->io.ctx, b, sizeof b);
  ck_assert_int_eq((int)r, 8);
  ck_assert(memcmp(b, "250 ok\r\n", 8) == 0);
  if (_i == 0) /* nothing blocks: one call was enough */
    ck_assert_int_eq(i, 1);
  xfer_c2s(p, "QUIT\r\n", 6);
  pair_free(p);
#else
  /* This mbedTLS was built without renegotiation: no HelloRequest. */
#endif
}
END_TEST

/* One object, several connections. */
START_TEST(rewrap) {
  pair *p = pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv.pem", "srv.key", 0, 0);
  pair_wrap(p);
  ck_assert_int_eq(do_starttls(p, "localhost"), SMTPC_OK);
  p->io.close(p->io.ctx);
  ck_assert_int_eq(p->io.is_secure(p->io.ctx), 0);
  ck_assert_str_ne(smtpc_tls_description(p->tls), "");
  /* fresh transport and server */
  server_free(&p->srv);
  memset(&p->c2s, 0, sizeof p->c2s);
  memset(&p->s2c, 0, sizeof p->s2c);
  server_init(&p->srv, &p->c2s, &p->s2c, "srv.pem", "srv.key", 0);
  pair_wrap(p);
  ck_assert_str_eq(smtpc_tls_description(p->tls), "");
  clear_s2c(p, "220 again\r\n");
  ck_assert_int_eq(do_starttls(p, "localhost"), SMTPC_OK);
  xfer_s2c(p, "250 ok\r\n", 8);
  pair_free(p);
}
END_TEST

/* ---- API edges --------------------------------------------------------------- */

START_TEST(api_misuse) {
  static const char *const bad[] = {
      "",    "a b",       "host\n",   "[]",    "[notip]",        "bad:name",
      "a/b", "*.example", "[1.2.3.4", "1:2:3", "[IPv6:1.2.3.4]", "."};
  static const char *const good[] = {
      "mx.example.org",  "mx.example.org.",    "MX.Example.ORG",
      "127.0.0.1",       "[127.0.0.1]",        "::1",
      "[IPv6:::1]",      "2001:db8::1",        "::ffff:1.2.3.4",
      "1:2:3:4:5:6:7:8", "under_score.example"};
  smtpc_tls *t = (smtpc_tls *)1;
  smtpc_io lower, out;
  size_t i;

  ck_assert_int_eq(smtpc_tls_new(NULL, NULL, SMTPC_SECURITY_STARTTLS),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_tls_new(&t, NULL, (smtpc_security)7),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_eq(t, NULL);
  t = (smtpc_tls *)1;
  ck_assert_int_eq(smtpc_tls_new(&t, NULL, SMTPC_SECURITY_NONE),
                   SMTPC_ERR_INVALID_ARGUMENT); /* nothing to wrap */
  ck_assert_ptr_eq(t, NULL);
  /* opportunistic STARTTLS wraps like STARTTLS: the session decides */
  ck_assert_int_eq(smtpc_tls_new(&t, NULL, SMTPC_SECURITY_OPPORTUNISTIC),
                   SMTPC_OK);
  smtpc_tls_free(t);
  t = NULL;
  smtpc_tls_free(NULL);
  ck_assert_int_eq(smtpc_tls_verify_result(NULL), SMTPC_TLS_VERIFY_OK);
  ck_assert_str_eq(smtpc_tls_last_error(NULL), "");
  ck_assert_str_eq(smtpc_tls_description(NULL), "");
  ck_assert_int_eq(smtpc_tls_is_active(NULL), 0);
  smtpc_tls_insecure_skip_verify(NULL, 1);

  ck_assert_int_eq(smtpc_tls_new(&t, NULL, SMTPC_SECURITY_STARTTLS), SMTPC_OK);
  ck_assert_str_eq(smtpc_tls_last_error(t), "");
  ck_assert_int_eq(smtpc_tls_is_active(t), 0);
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    ck_assert_msg(smtpc_tls_set_hostname(t, bad[i]) == SMTPC_ERR_BAD_ARGUMENT,
                  "\"%s\" accepted", bad[i]);
  for (i = 0; i < sizeof good / sizeof good[0]; i++)
    ck_assert_msg(smtpc_tls_set_hostname(t, good[i]) == SMTPC_OK,
                  "\"%s\" refused", good[i]);
  ck_assert_int_eq(smtpc_tls_set_hostname(t, NULL), SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_tls_set_hostname(NULL, "x"),
                   SMTPC_ERR_INVALID_ARGUMENT);

  memset(&lower, 0, sizeof lower);
  lower.version = SMTPC_IO_VERSION;
  lower.send = mock_send;
  ck_assert_int_eq(smtpc_tls_wrap(t, &lower, &out),
                   SMTPC_ERR_INVALID_ARGUMENT); /* no recv */
  lower.recv = mock_recv;
  lower.version = SMTPC_IO_VERSION + 1;
  ck_assert_int_eq(smtpc_tls_wrap(t, &lower, &out), SMTPC_ERR_INVALID_ARGUMENT);
  lower.version = SMTPC_IO_VERSION;
  ck_assert_int_eq(smtpc_tls_wrap(NULL, &lower, &out),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_tls_wrap(t, NULL, &out), SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_tls_wrap(t, &lower, NULL), SMTPC_ERR_INVALID_ARGUMENT);
  smtpc_tls_free(t);
}
END_TEST

/* Optional lower callbacks may be missing. */
START_TEST(minimal_lower) {
  pair *p = pair_new(SMTPC_SECURITY_STARTTLS, NULL, "srv.pem", "srv.key", 0, 0);
  p->lower.set_timeout = NULL;
  p->lower.close = NULL;
  pair_wrap(p);
  p->io.set_timeout(p->io.ctx, 10);
  ck_assert_int_eq(do_starttls(p, "localhost"), SMTPC_OK);
  p->io.close(p->io.ctx);
  ck_assert_int_eq(p->low.timeout_calls, 0);
  ck_assert_int_eq(p->low.close_calls, 0);
  pair_free(p);
}
END_TEST

/* ---- allocation failures ----------------------------------------------------- */

typedef struct counting {
  long calls, fail_at, live;
} counting;

static void *c_malloc(void *u, size_t n) {
  counting *c = u;
  void *p;
  if (c->calls++ == c->fail_at)
    return NULL;
  p = malloc(n);
  if (p != NULL)
    c->live++;
  return p;
}

static void *c_realloc(void *u, void *old, size_t n) {
  counting *c = u;
  void *p;
  if (c->calls++ == c->fail_at)
    return NULL;
  p = realloc(old, n);
  if (p != NULL && old == NULL)
    c->live++;
  return p;
}

static void c_free(void *u, void *p) {
  counting *c = u;
  if (p != NULL)
    c->live--;
  free(p);
}

/* Every allocation of a whole connection fails in turn: each call reports
 * SMTPC_ERR_NOMEM cleanly and nothing leaks. */
START_TEST(alloc_failures) {
  long k;
  int completed = 0;
  for (k = 0; k < 100 && !completed; k++) {
    counting c = {0, k, 0};
    smtpc_mem mem = {&c, c_malloc, c_realloc, c_free};
    pair *p = calloc(1, sizeof *p);
    int rc;
    ck_assert_ptr_ne(p, NULL);
    p->low.in = &p->s2c;
    p->low.out = &p->c2s;
    p->lower.version = SMTPC_IO_VERSION;
    p->lower.ctx = &p->low;
    p->lower.send = mock_send;
    p->lower.recv = mock_recv;
    server_init(&p->srv, &p->c2s, &p->s2c, "srv.pem", "srv.key", 0);
    p->have_srv = 1;
    rc = smtpc_tls_new(&p->tls, &mem, SMTPC_SECURITY_STARTTLS);
    if (rc == SMTPC_OK)
      rc = smtpc_tls_set_hostname(p->tls, "localhost");
    if (rc == SMTPC_OK)
      rc = smtpc_tls_set_cafile(p->tls, path("ca.pem"));
    if (rc == SMTPC_OK)
      rc = smtpc_tls_wrap(p->tls, &p->lower, &p->io);
    if (rc == SMTPC_OK)
      rc = do_starttls(p, "ignored.example");
    if (rc == SMTPC_OK) {
      xfer_c2s(p, "NOOP\r\n", 6);
      completed = c.calls <= k; /* no allocation was refused */
    } else {
      ck_assert_msg(rc == SMTPC_ERR_NOMEM, "fail_at %ld: %d", k, rc);
    }
    pair_free(p);
    ck_assert_int_eq(c.live, 0);
  }
  ck_assert(completed);
}
END_TEST

/* ---- session resumption (smtpc_tls_cache) --------------------------------- */

/* How a test server resumes sessions, by protocol: TLS 1.2 with a session-ID
 * cache (RFC 5246) or tickets (RFC 5077); TLS 1.3 only with tickets (RFC
 * 8446 2.2: it has no session IDs).  Every resumption test runs for each
 * this mbedTLS has, with the same expectations. */
typedef struct proto {
  const char *name;
  unsigned srv_flags; /* SRV_TLS12_MAX: the server stops at TLS 1.2 */
  int tickets;
} proto;

static const proto protos[] = {{"TLS 1.2, session ID", SRV_TLS12_MAX, 0},
                               {"TLS 1.2, ticket", SRV_TLS12_MAX, 1},
#ifdef HAVE_TLS13
                               {"TLS 1.3, ticket", 0, 1}
#endif
};
#define NPROTOS ((int)(sizeof protos / sizeof protos[0]))

/* What a server keeps to resume sessions (the session-ID cache or the
 * ticket key of one protocol), shared by the servers of one test like the
 * processes of a real MTA; hits counts the sessions it found. */
typedef struct resumer {
  const proto *pr;
  mbedtls_ssl_cache_context cache;
  mbedtls_ssl_ticket_context ticket;
  smtpc__tls_rng rng;
  long hits;
} resumer;

static int hit_ticket_write(void *ctx, const mbedtls_ssl_session *sess,
                            unsigned char *start, const unsigned char *end,
                            size_t *tlen, uint32_t *lifetime) {
  resumer *r = ctx;
  return mbedtls_ssl_ticket_write(&r->ticket, sess, start, end, tlen, lifetime);
}

static int hit_ticket_parse(void *ctx, mbedtls_ssl_session *sess,
                            unsigned char *buf, size_t len) {
  resumer *r = ctx;
  int ret = mbedtls_ssl_ticket_parse(&r->ticket, sess, buf, len);
  if (ret == 0)
    r->hits++;
  return ret;
}

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
static int hit_cache_get(void *ctx, unsigned char const *id, size_t id_len,
                         mbedtls_ssl_session *sess) {
  resumer *r = ctx;
  int ret = mbedtls_ssl_cache_get(&r->cache, id, id_len, sess);
  if (ret == 0)
    r->hits++;
  return ret;
}

static int hit_cache_set(void *ctx, unsigned char const *id, size_t id_len,
                         const mbedtls_ssl_session *sess) {
  resumer *r = ctx;
  return mbedtls_ssl_cache_set(&r->cache, id, id_len, sess);
}
#else
static int hit_cache_get(void *ctx, mbedtls_ssl_session *sess) {
  resumer *r = ctx;
  int ret = mbedtls_ssl_cache_get(&r->cache, sess);
  if (ret == 0)
    r->hits++;
  return ret;
}

static int hit_cache_set(void *ctx, const mbedtls_ssl_session *sess) {
  resumer *r = ctx;
  return mbedtls_ssl_cache_set(&r->cache, sess);
}
#endif

static void resumer_init(resumer *r, const proto *pr) {
  memset(r, 0, sizeof *r);
  r->pr = pr;
  mbedtls_ssl_cache_init(&r->cache);
  mbedtls_ssl_ticket_init(&r->ticket);
  smtpc__tls_rng_init(&r->rng);
  ck_assert_int_eq(smtpc__tls_crypto_start(&r->rng), SMTPC_OK);
#ifdef SMTPC__MBEDTLS_4
  ck_assert_int_eq(mbedtls_ssl_ticket_setup(&r->ticket, PSA_ALG_GCM,
                                            PSA_KEY_TYPE_AES, 256, 3600),
                   0);
#else
  ck_assert_int_eq(mbedtls_ssl_ticket_setup(&r->ticket, mbedtls_ctr_drbg_random,
                                            &r->rng.drbg,
                                            MBEDTLS_CIPHER_AES_256_GCM, 3600),
                   0);
#endif
}

static void resumer_free(resumer *r) {
  mbedtls_ssl_cache_free(&r->cache);
  mbedtls_ssl_ticket_free(&r->ticket);
  smtpc__tls_rng_free(&r->rng);
}

/* One connection's settings and outcome. */
typedef struct conn_case {
  const char *cert, *key; /* the server's certificate ("srv.pem") */
  const char *cafile;     /* client CA as in pair_new (NULL: ca.pem) */
  const char *extra_ca;   /* a second CA file for the client, or NULL */
  const char *name;       /* the name to verify ("localhost") */
  int skip_verify;
  unsigned srv_flags;
  int variant;
  int no_read; /* close right after the handshake, reading nothing */
  /* out */
  int resumed;      /* what the client says */
  int srv_resumed;  /* what the server did: found the session, and did not
                       authenticate with its certificate */
  size_t srv_bytes; /* what the server sent during the handshake */
  char desc[128];
} conn_case;

/* A STARTTLS handshake with the cache against a server that can resume
 * through r (or not, r NULL); on success a few bytes each way (unless
 * no_read).  Whatever the client says about resumption must be what the
 * server did.  Returns starttls's result. */
static int cached_conn(smtpc_tls_cache *cache, resumer *r, conn_case *cc) {
  pair *p = pair_new(SMTPC_SECURITY_STARTTLS, cc->cafile,
                     cc->cert ? cc->cert : "srv.pem",
                     cc->key ? cc->key : "srv.key", cc->srv_flags, cc->variant);
  long hits = r != NULL ? r->hits : 0;
  int rc, srv_cert;
  if (r != NULL && r->pr->tickets)
    mbedtls_ssl_conf_session_tickets_cb(&p->srv.conf, hit_ticket_write,
                                        hit_ticket_parse, r);
  else if (r != NULL)
    mbedtls_ssl_conf_session_cache(&p->srv.conf, r, hit_cache_get,
                                   hit_cache_set);
  if (cc->extra_ca != NULL)
    ck_assert_int_eq(smtpc_tls_set_cafile(p->tls, path(cc->extra_ca)),
                     SMTPC_OK);
  smtpc_tls_insecure_skip_verify(p->tls, cc->skip_verify);
  ck_assert_int_eq(smtpc_tls_set_cache(p->tls, cache), SMTPC_OK);
  pair_wrap(p);
  ck_assert_int_eq(smtpc_tls_is_resumed(p->tls), 0);
  rc = do_starttls(p, cc->name ? cc->name : "localhost");
  cc->srv_bytes = p->s2c.total;
  cc->resumed = smtpc_tls_is_resumed(p->tls);
  srv_cert = server_sent_cert(&p->srv);
  cc->srv_resumed = r != NULL && r->hits > hits && !srv_cert;
  (void)snprintf(cc->desc, sizeof cc->desc, "%s",
                 smtpc_tls_description(p->tls));
  if (rc == SMTPC_OK) {
    const char *d = smtpc_tls_description(p->tls);
    size_t n = strlen(d);
    ck_assert_msg(cc->srv_resumed || srv_cert,
                  "the server neither resumed nor sent its certificate");
    ck_assert_msg(cc->resumed == cc->srv_resumed,
                  "\"%s\": the client says %s, the server %s (it sent %zu "
                  "bytes%s)",
                  d, cc->resumed ? "resumed" : "full handshake",
                  cc->srv_resumed ? "resumed" : "did a full handshake",
                  cc->srv_bytes, srv_cert ? " and its certificate" : "");
    ck_assert_int_eq(n > 10 && strcmp(d + n - 10, " (resumed)") == 0,
                     cc->resumed);
    if (!cc->no_read) {
      xfer_c2s(p, "EHLO client.test\r\n", 18);
      xfer_s2c(p, "250 mx\r\n", 8);
    }
  } else {
    ck_assert_int_eq(cc->resumed, 0);
  }
  pair_free(p);
  return rc;
}

static conn_case good_case(int variant, const proto *pr) {
  conn_case cc;
  memset(&cc, 0, sizeof cc);
  cc.variant = variant;
  cc.srv_flags = pr->srv_flags;
  return cc;
}

/* The second and third connections resume the first's session: no
 * certificate, no key exchange signed by the server -- it sends a fraction
 * of the bytes -- and the records work both ways.  (_i: transport variant
 * and protocol.) */
START_TEST(resume) {
  const proto *pr = &protos[_i / NVARIANTS];
  int variant = _i % NVARIANTS;
  smtpc_tls_cache *cache;
  resumer r;
  conn_case full = good_case(variant, pr), again = good_case(variant, pr),
            third = good_case(variant, pr);
  resumer_init(&r, pr);
  ck_assert_int_eq(smtpc_tls_cache_new(&cache, NULL), SMTPC_OK);
  ck_assert_int_eq(cached_conn(cache, &r, &full), SMTPC_OK);
  ck_assert_int_eq(full.resumed, 0);
  ck_assert_int_eq(cached_conn(cache, &r, &again), SMTPC_OK);
  ck_assert_msg(again.resumed == 1, "%s: not resumed", pr->name);
  ck_assert_msg(again.srv_bytes * 2 < full.srv_bytes,
                "%s: resumed handshake: server sent %zu bytes, full one %zu",
                pr->name, again.srv_bytes, full.srv_bytes);
  ck_assert_int_eq(cached_conn(cache, &r, &third), SMTPC_OK);
  ck_assert_int_eq(third.resumed, 1);
  smtpc_tls_cache_free(cache);
  resumer_free(&r);
}
END_TEST

/* Where the protocols differ.  A TLS 1.2 session (ID or ticket) is complete
 * when the handshake ends; a TLS 1.3 ticket comes after the handshake
 * (RFC 8446 4.6.1) and is stored when a read meets it.  So after a
 * connection that read nothing after its handshake, the next one resumes
 * with TLS 1.2 but not with TLS 1.3 -- and says so truthfully; after one
 * that read, both resume. */
START_TEST(resume_ticket_after_handshake) {
  const proto *pr = &protos[_i];
  int tls13 = !(pr->srv_flags & SRV_TLS12_MAX);
  smtpc_tls_cache *cache;
  resumer r;
  conn_case a = good_case(0, pr), b = good_case(0, pr), c = good_case(0, pr);
  resumer_init(&r, pr);
  ck_assert_int_eq(smtpc_tls_cache_new(&cache, NULL), SMTPC_OK);
  a.no_read = 1;
  ck_assert_int_eq(cached_conn(cache, &r, &a), SMTPC_OK);
  ck_assert_int_eq(cached_conn(cache, &r, &b), SMTPC_OK);
  ck_assert_msg(b.resumed == !tls13, "%s: resumed %d", pr->name, b.resumed);
  ck_assert_int_eq(cached_conn(cache, &r, &c), SMTPC_OK);
  ck_assert_int_eq(c.resumed, 1);
  smtpc_tls_cache_free(cache);
  resumer_free(&r);
}
END_TEST

/* Without a cache nothing is resumed, even against a server that could. */
START_TEST(resume_needs_cache) {
  resumer r;
  conn_case a = good_case(0, &protos[_i]), b = good_case(0, &protos[_i]);
  resumer_init(&r, &protos[_i]);
  ck_assert_int_eq(cached_conn(NULL, &r, &a), SMTPC_OK);
  ck_assert_int_eq(cached_conn(NULL, &r, &b), SMTPC_OK);
  ck_assert_int_eq(a.resumed + b.resumed, 0);
  ck_assert_uint_gt(b.srv_bytes * 2, a.srv_bytes);
  resumer_free(&r);
}
END_TEST

/* A session is offered only for the name it was verified for: the server
 * here would resume anything, yet the other name gets a full handshake and
 * fails verification; the first name still resumes afterwards. */
START_TEST(resume_checks_name) {
  const proto *pr = &protos[_i];
  smtpc_tls_cache *cache;
  resumer r;
  conn_case a = good_case(0, pr), other = good_case(0, pr),
            b = good_case(0, pr);
  resumer_init(&r, pr);
  ck_assert_int_eq(smtpc_tls_cache_new(&cache, NULL), SMTPC_OK);
  ck_assert_int_eq(cached_conn(cache, &r, &a), SMTPC_OK);
  other.name = "mx.example.org";
  ck_assert_int_eq(cached_conn(cache, &r, &other), SMTPC_ERR_CERTIFICATE);
  ck_assert_int_eq(cached_conn(cache, &r, &b), SMTPC_OK);
  ck_assert_int_eq(b.resumed, 1);
  smtpc_tls_cache_free(cache);
  resumer_free(&r);
}
END_TEST

/* ... and only under the trust settings it was verified with: a session of
 * an unverified connection never stands in for a verified one, and other
 * CA files mean a full (verified) handshake. */
START_TEST(resume_checks_trust) {
  const proto *pr = &protos[_i];
  smtpc_tls_cache *cache;
  resumer r;
  conn_case insecure = good_case(0, pr), strict = good_case(0, pr),
            strict2 = good_case(0, pr), more_ca = good_case(0, pr),
            strict3 = good_case(0, pr);
  resumer_init(&r, pr);
  ck_assert_int_eq(smtpc_tls_cache_new(&cache, NULL), SMTPC_OK);
  insecure.cert = "ss.pem";
  insecure.key = "ss.key";
  insecure.cafile = "";
  insecure.skip_verify = 1;
  ck_assert_int_eq(cached_conn(cache, &r, &insecure), SMTPC_OK);
  strict.cert = "ss.pem";
  strict.key = "ss.key";
  ck_assert_int_eq(cached_conn(cache, &r, &strict), SMTPC_ERR_CERTIFICATE);
  /* the unverified session still resumes for an unverified connection */
  insecure.resumed = 0;
  ck_assert_int_eq(cached_conn(cache, &r, &insecure), SMTPC_OK);
  ck_assert_int_eq(insecure.resumed, 1);

  ck_assert_int_eq(cached_conn(cache, &r, &strict2), SMTPC_OK);
  ck_assert_int_eq(strict2.resumed, 0);
  more_ca.extra_ca = "other.pem";
  ck_assert_int_eq(cached_conn(cache, &r, &more_ca), SMTPC_OK);
  ck_assert_int_eq(more_ca.resumed, 0);
  ck_assert_int_eq(cached_conn(cache, &r, &strict3), SMTPC_OK);
  ck_assert_int_eq(strict3.resumed, 1);
  smtpc_tls_cache_free(cache);
  resumer_free(&r);
}
END_TEST

/* A server that does not know the session answers with a full handshake,
 * whose session replaces the old one, and the client does not call it
 * resumed (mbedTLS 3.6 did, under TLS 1.3, before the verify-callback
 * signal); a handshake that fails after offering a session forgets it. */
START_TEST(resume_refused_and_dropped) {
  const proto *pr = &protos[_i];
  smtpc_tls_cache *cache;
  resumer r1, r2;
  conn_case a = good_case(0, pr), b = good_case(0, pr), c = good_case(0, pr),
            d = good_case(0, pr), e = good_case(0, pr), f = good_case(0, pr);
  resumer_init(&r1, pr);
  resumer_init(&r2, pr);
  ck_assert_int_eq(smtpc_tls_cache_new(&cache, NULL), SMTPC_OK);
  ck_assert_int_eq(cached_conn(cache, &r1, &a), SMTPC_OK);
  ck_assert_int_eq(cached_conn(cache, &r2, &b), SMTPC_OK); /* unknown here */
  ck_assert_int_eq(b.resumed, 0);
  ck_assert_int_eq(cached_conn(cache, &r2, &c), SMTPC_OK); /* b's session */
  ck_assert_int_eq(c.resumed, 1);
  ck_assert_int_eq(cached_conn(cache, &r1, &d), SMTPC_OK); /* not a's */
  ck_assert_int_eq(d.resumed, 0);
  /* offered to a server that cannot resume it and then fails verification
   * (self-signed): forgotten, so r1, which knows it, cannot resume it */
  e.cert = "ss.pem";
  e.key = "ss.key";
  ck_assert_int_eq(cached_conn(cache, NULL, &e), SMTPC_ERR_CERTIFICATE);
  ck_assert_int_eq(cached_conn(cache, &r1, &f), SMTPC_OK);
  ck_assert_int_eq(f.resumed, 0);
  smtpc_tls_cache_free(cache);
  resumer_free(&r1);
  resumer_free(&r2);
}
END_TEST

/* Sessions of up to 8 servers; the least recently used one goes. */
START_TEST(resume_lru) {
  static const char *const names[] = {"n0.test", "n1.test", "n2.test",
                                      "n3.test", "n4.test", "n5.test",
                                      "n6.test", "n7.test", "n8.test"};
  const proto *pr = &protos[_i];
  smtpc_tls_cache *cache;
  resumer r;
  size_t i;
  resumer_init(&r, pr);
  ck_assert_int_eq(smtpc_tls_cache_new(&cache, NULL), SMTPC_OK);
  for (i = 0; i < 9; i++) {
    conn_case cc = good_case(0, pr);
    cc.name = names[i];
    cc.skip_verify = 1;
    ck_assert_int_eq(cached_conn(cache, &r, &cc), SMTPC_OK);
    ck_assert_int_eq(cc.resumed, 0);
    if (i == 7) { /* 8 kept; n0 used again: n1 becomes the oldest */
      cc.name = names[0];
      ck_assert_int_eq(cached_conn(cache, &r, &cc), SMTPC_OK);
      ck_assert_int_eq(cc.resumed, 1);
    }
  }
  /* n8 took n1's slot: every other name resumes, n1 comes last */
  for (i = 0; i < 9; i++) {
    conn_case cc = good_case(0, pr);
    cc.name = names[i == 8 ? 1 : i == 0 ? 0 : i + 1];
    cc.skip_verify = 1;
    ck_assert_int_eq(cached_conn(cache, &r, &cc), SMTPC_OK);
    ck_assert_msg(cc.resumed == (i != 8), "%s: resumed %d", cc.name,
                  cc.resumed);
  }
  smtpc_tls_cache_free(cache);
  resumer_free(&r);
}
END_TEST

START_TEST(cache_api) {
  smtpc_tls_cache *cache = (smtpc_tls_cache *)&cache;
  counting c = {0, 0, 0};
  smtpc_mem mem = {&c, c_malloc, c_realloc, c_free};
  smtpc_mem half = {NULL, c_malloc, NULL, NULL};
  ck_assert_int_eq(smtpc_tls_cache_new(NULL, NULL), SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_tls_cache_new(&cache, &half),
                   SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_eq(cache, NULL);
  cache = (smtpc_tls_cache *)&cache;
  ck_assert_int_eq(smtpc_tls_cache_new(&cache, &mem), SMTPC_ERR_NOMEM);
  ck_assert_ptr_eq(cache, NULL);
  ck_assert_int_eq(c.live, 0);
  ck_assert_int_eq(smtpc_tls_set_cache(NULL, NULL), SMTPC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(smtpc_tls_is_resumed(NULL), 0);
  smtpc_tls_cache_free(NULL);
  /* with the allocator's memory: the cache and its host names */
  c.fail_at = 1000;
  ck_assert_int_eq(smtpc_tls_cache_new(&cache, &mem), SMTPC_OK);
  {
    resumer r;
    conn_case a = good_case(0, &protos[_i]), b = good_case(0, &protos[_i]);
    resumer_init(&r, &protos[_i]);
    ck_assert_int_eq(cached_conn(cache, &r, &a), SMTPC_OK);
    ck_assert_int_eq(c.live, 2); /* the cache and "localhost" */
    ck_assert_int_eq(cached_conn(cache, &r, &b), SMTPC_OK);
    ck_assert_int_eq(b.resumed, 1);
    resumer_free(&r);
  }
  smtpc_tls_cache_free(cache);
  ck_assert_int_eq(c.live, 0);
}
END_TEST

/* ---- runner -------------------------------------------------------------- */

static Suite *tls_suite(void) {
  Suite *s = suite_create("tls");
  TCase *tc = tcase_create("mbedtls");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, hmac_md5_vectors);
  tcase_add_test(tc, host_peer_names);
  tcase_add_test(tc, host_san_rules);
  tcase_add_test(tc, host_names_shown);
  tcase_add_loop_test(tc, starttls_ok, 0, NVARIANTS);
  tcase_add_loop_test(tc, implicit_ok, 0, NVARIANTS);
  tcase_add_test(tc, implicit_send_first);
  tcase_add_test(tc, implicit_without_hostname);
  tcase_add_loop_test(tc, wrong_hostname, 0, NVARIANTS);
  tcase_add_test(tc, configured_hostname_wins);
  tcase_add_test(tc, no_hostname);
  tcase_add_test(tc, ip_hostname);
  tcase_add_test(tc, many_names);
  tcase_add_test(tc, cn_not_used);
  tcase_add_test(tc, wildcards);
  tcase_add_loop_test(tc, self_signed, 0, NVARIANTS);
  tcase_add_test(tc, unknown_ca);
  tcase_add_loop_test(tc, expired, 0, NVARIANTS);
  tcase_add_test(tc, system_bundle);
  tcase_add_loop_test(tc, insecure_skip_verify, 0, NVARIANTS);
  tcase_add_test(tc, ca_files);
  tcase_add_loop_test(tc, client_cert, 0, NVARIANTS);
#ifdef HAVE_TLS13
  tcase_add_loop_test(tc, client_cert_missing, 0, 2);
#else
  tcase_add_loop_test(tc, client_cert_missing, 0, 1);
#endif
  tcase_add_test(tc, client_cert_bad);
  tcase_add_test(tc, tls11_refused);
  tcase_add_test(tc, cipher_suites);
  tcase_add_test(tc, clear_bytes_not_consumed);
  tcase_add_test(tc, eof_during_handshake);
  tcase_add_test(tc, lower_error_passthrough);
  tcase_add_test(tc, set_timeout_and_close);
  tcase_add_loop_test(tc, peer_close, 0, NVARIANTS);
  tcase_add_loop_test(tc, non_data_record, 0, NVARIANTS);
  tcase_add_test(tc, rewrap);
  tcase_add_test(tc, api_misuse);
  tcase_add_test(tc, minimal_lower);
  tcase_add_test(tc, alloc_failures);
  tcase_add_loop_test(tc, resume, 0, NVARIANTS * NPROTOS);
  tcase_add_loop_test(tc, resume_ticket_after_handshake, 0, NPROTOS);
  tcase_add_loop_test(tc, resume_needs_cache, 0, NPROTOS);
  tcase_add_loop_test(tc, resume_checks_name, 0, NPROTOS);
  tcase_add_loop_test(tc, resume_checks_trust, 0, NPROTOS);
  tcase_add_loop_test(tc, resume_refused_and_dropped, 0, NPROTOS);
  tcase_add_loop_test(tc, resume_lru, 0, NPROTOS);
  tcase_add_loop_test(tc, cache_api, 0, NPROTOS);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr;
  int failed, rc = make_certs();
  if (rc != 0) {
    remove_certs();
    return rc;
  }
  sr = srunner_create(tls_suite());
  srunner_run_all(sr, CK_ENV);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  remove_certs();
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* SMTPC_HAVE_MBEDTLS */
