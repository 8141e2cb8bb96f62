/* SPDX-License-Identifier: MIT */
/* The mbedTLS adapter (include/smtpc/tls.h): TLS over any smtpc_io.
 *
 * Builds against mbedTLS 2.28 LTS, 3.6 LTS and 4.x; what differs between
 * them is in io_mbedtls_compat.c.  Server names and their matching are in
 * tls_host.c (no mbedTLS there), the session cache in io_mbedtls_cache.c.
 *
 * The wrapper is a small state machine:
 *
 *   CLEAR      STARTTLS mode before smtpc_io::starttls: send and recv go
 *              straight to the lower transport with the caller's buffer and
 *              length, so nothing is read ahead (the session must see every
 *              cleartext byte to detect injection after the 220 to STARTTLS);
 *   HANDSHAKE  starttls() was called (or implicit mode, from the start): any
 *              call continues the handshake;
 *   ACTIVE     handshake done and the peer verified (or verification off):
 *              records through mbedtls_ssl_write / mbedtls_ssl_read;
 *   FAILED     a fatal error happened: every call returns it again (mbedTLS:
 *              after any error other than would-block, stop using the
 *              context);
 *   CLOSED     close() was called; smtpc_tls_wrap() starts over.
 *
 * mbedTLS reads exactly one record header, then exactly the rest of that
 * record, from its bio: it never asks the lower transport for bytes beyond
 * the record it is processing.  So bytes after the server's last handshake
 * record stay in the lower transport until the caller reads.
 *
 * Verification: MBEDTLS_SSL_VERIFY_REQUIRED against the configured CAs (or
 * the system bundle), plus the host name, which the verify callback checks
 * itself against subjectAltName with tls_host.c's RFC 9525 rules (mbedTLS's
 * own matcher falls back to the CN and accepts "*.test" for "example.test",
 * on every version).  A DNS name still goes to mbedtls_ssl_set_hostname for
 * SNI, so mbedTLS matches it too; its rules accept everything ours do, so
 * ours decide.  An address gets no SNI (RFC 6066 section 3).  The callback
 * also records what the messages of smtpc_tls_last_error() need, so no peer
 * certificate has to be kept after the handshake.
 *
 * Resumption (smtpc_tls_cache): a handshake that offered a cached session
 * was resumed exactly when the server did not authenticate with its
 * certificate, that is when the verify callback never ran.  (mbedTLS has no
 * public "resumed" call; with insecure_skip_verify the handshake runs with
 * MBEDTLS_SSL_VERIFY_OPTIONAL instead of NONE so that the callback still
 * sees every certificate, and its verdict is ignored.)  TLS 1.2 sessions
 * are stored when the handshake ends; TLS 1.3 tickets arrive after it, so
 * those sessions are stored whenever mbedTLS reports a ticket, in the
 * handshake or in any later read or write.
 *
 * Cipher suites: only ephemeral ECDH with an AEAD cipher (see suites_wanted),
 * whatever the mbedTLS build would offer by default.
 *
 * No global state: each object owns its randomness, configuration and
 * certificates.  (PSA's psa_crypto_init() is process-wide and idempotent.) */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "io_mbedtls_cache.h"
#include "io_mbedtls_compat.h"
#include "tls_host.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/oid.h>

/* Bound on retries inside one call (TLS 1.3 tickets, records that carried no
 * application data).  Exhausting it returns a would-block code: the caller
 * simply calls again. */
#define SMTPC__TLS_RETRIES 64

/* Bytes of a TLS record holding one alert: header (5) and alert (2). */
#define SMTPC__TLS_ALERT_BYTES 7

/* Close_notify attempts in close() over a non-blocking transport. */
#define SMTPC__TLS_CLOSE_TRIES 4

/* The cipher suites offered, most preferred first (mbedTLS's own order),
 * those the mbedTLS build lacks left out at smtpc_tls_wrap().  Ephemeral
 * ECDH only: no RSA key transport (no forward secrecy; RFC 9325 section
 * 4 says it SHOULD NOT be negotiated) and no finite-field DHE (the client
 * cannot choose the group, and mbedTLS accepts 1024-bit ones by default).
 * AEAD only: no CBC (padding oracles, MAC-then-encrypt) and so no SHA-1
 * record MAC; no CCM_8 (short tag), CAMELLIA or ARIA (rarely offered,
 * nothing gained).  RFC 9325 section 4.2 recommends the AES-GCM ones;
 * ChaCha20-Poly1305 (RFC 7905) helps CPUs without AES instructions.  A
 * server that has none of them fails the handshake (there is no setting to
 * widen the list).  TLS 1.3 (mbedTLS 3.x, 4.x) has only AEAD suites; this
 * list also governs them, so they are named too. */
static const int suites_wanted[] = {
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
    MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
    MBEDTLS_TLS1_3_AES_128_GCM_SHA256,
#endif
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256};
#define SMTPC__TLS_NSUITES (sizeof suites_wanted / sizeof suites_wanted[0])

/* System CA bundles, first readable one wins.  SMTPC_CA_BUNDLE may name the
 * platform's at build time. */
static const char *const ca_bundles[] = {
#ifdef SMTPC_CA_BUNDLE
    SMTPC_CA_BUNDLE,
#endif
    "/etc/ssl/certs/ca-certificates.crt", /* Debian, Ubuntu, Arch, Gentoo */
    "/etc/pki/tls/certs/ca-bundle.crt",   /* Fedora, RHEL */
    "/etc/ssl/ca-bundle.pem",             /* openSUSE */
    "/etc/ssl/cert.pem"                   /* Alpine, BSDs, macOS */
};

enum tls_state {
  ST_NEW = 0,   /* not wrapped yet */
  ST_CLEAR,     /* STARTTLS mode, before the upgrade */
  ST_HANDSHAKE, /* handshake running */
  ST_ACTIVE,    /* encrypted and verified */
  ST_FAILED,    /* fatal error, sticky */
  ST_CLOSED     /* closed */
};

/* What one connection (one smtpc_tls_wrap()) knows.  Zero is the state of
 * a fresh wrap: reset with one memset (after freeing peer.name). */
typedef struct tls_conn {
  enum tls_state state;
  int fail_code;          /* returned again by every call in ST_FAILED */
  int host_applied;       /* this handshake's server name is set up */
  int lower_err;          /* smtpc error the lower transport returned, or 0 */
  int out_pending;        /* a read left a record (an alert) partly sent */
  int offered;            /* this handshake offered a cached session */
  int cert_seen;          /* the verify callback ran: a full handshake */
  int resumed;            /* offered, and the server resumed it */
  unsigned long lower_in; /* bytes received from the lower transport */
  smtpc_io lower;
  smtpc__tls_peer peer; /* the name this handshake verifies */

  /* Filled by the verify callback, for error messages. */
  smtpc__tls_names leaf; /* names in the server certificate */
  int leaf_self_signed;
  int leaf_no_dns;     /* verifying a DNS name, and no dNSName entry */
  int time_depth;      /* depth of the lowest out-of-date certificate */
  uint32_t time_flags; /* its EXPIRED / FUTURE flags */
  mbedtls_x509_time time_from, time_to;

  smtpc_tls_verify verify;
  char err[320];
  char desc[128];
} tls_conn;

struct smtpc_tls {
  smtpc_mem mem;
  int implicit;           /* SMTPC_SECURITY_IMPLICIT: handshake at the start */
  int skip_verify;        /* smtpc_tls_insecure_skip_verify() */
  int have_ca;            /* ca holds at least one trusted certificate */
  int have_own_cert;      /* own_cert and own_key are loaded and match */
  char *hostname;         /* smtpc_tls_set_hostname(), normalised */
  smtpc_tls_cache *cache; /* smtpc_tls_set_cache(), or NULL */
  unsigned char trust_id[32]; /* what decides trust: see note_trust() */
  tls_conn c;

  smtpc__tls_rng rng;
  mbedtls_x509_crt ca;
  mbedtls_x509_crt own_cert;
  mbedtls_pk_context own_key;
  int suites[SMTPC__TLS_NSUITES + 1]; /* suites_wanted this build has, 0 */
  mbedtls_ssl_config conf;
  mbedtls_ssl_context ssl;
};

/* ---- messages ------------------------------------------------------------ */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
set_err(smtpc_tls *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  (void)vsnprintf(t->c.err, sizeof t->c.err, fmt, ap);
  va_end(ap);
}

/* "what: mbedTLS text (-0x1234)". */
static void set_mbed_err(smtpc_tls *t, const char *what, int ret) {
  char m[160];
  unsigned code = ret < 0 ? 0u - (unsigned)ret : (unsigned)ret;
  smtpc__tls_strerror(ret, m, sizeof m);
  if (m[0] != '\0')
    set_err(t, "%s: %s (-0x%04x)", what, m, code);
  else
    set_err(t, "%s (mbedTLS error -0x%04x)", what, code);
}

/* ---- lifecycle ----------------------------------------------------------- */

int smtpc_tls_new(smtpc_tls **out, const smtpc_mem *mem,
                  smtpc_security security) {
  smtpc_mem m;
  smtpc_tls *t;
  int rc;

  if (out == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (security != SMTPC_SECURITY_STARTTLS &&
      security != SMTPC_SECURITY_IMPLICIT &&
      security != SMTPC_SECURITY_OPPORTUNISTIC)
    return SMTPC_ERR_INVALID_ARGUMENT; /* NONE: nothing to wrap */
  t = smtpc__new_object(&m, mem, sizeof *t, &rc);
  if (t == NULL)
    return rc;
  t->mem = m;
  t->implicit = security == SMTPC_SECURITY_IMPLICIT;
  smtpc__tls_rng_init(&t->rng);
  mbedtls_x509_crt_init(&t->ca);
  mbedtls_x509_crt_init(&t->own_cert);
  mbedtls_pk_init(&t->own_key);
  mbedtls_ssl_config_init(&t->conf);
  mbedtls_ssl_init(&t->ssl);
  /* psa_crypto_init() (where needed) before anything touches keys or
   * certificates. */
  rc = smtpc__tls_crypto_start(&t->rng);
  if (rc != SMTPC_OK) {
    smtpc_tls_free(t);
    return rc;
  }
  *out = t;
  return SMTPC_OK;
}

void smtpc_tls_free(smtpc_tls *tls) {
  smtpc_mem m;
  if (tls == NULL)
    return;
  /* mbedTLS zeroises keys and session secrets as it frees them. */
  mbedtls_ssl_free(&tls->ssl);
  mbedtls_ssl_config_free(&tls->conf);
  mbedtls_pk_free(&tls->own_key);
  mbedtls_x509_crt_free(&tls->own_cert);
  mbedtls_x509_crt_free(&tls->ca);
  smtpc__tls_rng_free(&tls->rng);
  smtpc__free(&tls->mem, tls->hostname);
  smtpc__tls_peer_clear(&tls->c.peer, &tls->mem);
  m = tls->mem;
  smtpc__free(&m, tls);
}

/* ---- configuration ------------------------------------------------------- */

/* Folds a trust setting into trust_id: SHA-256(trust_id || tag || value).
 * A cached session is offered only to a handshake whose trust_id (and
 * server name and verification switch) match the one that made it, so a
 * session verified against one set of CAs never stands in for a
 * verification against another. */
static int note_trust(smtpc_tls *t, char tag, const char *value) {
  size_t n = strlen(value);
  unsigned char *buf;
  int rc;
  buf = smtpc__malloc(&t->mem, sizeof t->trust_id + 1 + n);
  if (buf == NULL)
    return SMTPC_ERR_NOMEM;
  memcpy(buf, t->trust_id, sizeof t->trust_id);
  buf[sizeof t->trust_id] = (unsigned char)tag;
  memcpy(buf + sizeof t->trust_id + 1, value, n);
  rc = smtpc__tls_sha256(buf, sizeof t->trust_id + 1 + n, t->trust_id);
  smtpc__free(&t->mem, buf);
  return rc;
}

int smtpc_tls_set_hostname(smtpc_tls *tls, const char *host) {
  smtpc__tls_peer p;
  int rc;
  if (tls == NULL || host == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  memset(&p, 0, sizeof p);
  rc = smtpc__tls_peer_set(&p, &tls->mem, host);
  if (rc != SMTPC_OK)
    return rc;
  smtpc__free(&tls->mem, tls->hostname);
  tls->hostname = p.name; /* the normalised form */
  return SMTPC_OK;
}

/* Certificates in a chain. */
static size_t crt_count(const mbedtls_x509_crt *c) {
  size_t n = 0;
  for (; c != NULL; c = c->next)
    if (c->raw.len != 0)
      n++;
  return n;
}

int smtpc_tls_set_cafile(smtpc_tls *tls, const char *path) {
  int ret;
  if (tls == NULL || path == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  /* Appends; a positive result counts certificates that failed to parse
   * while at least one was loaded (like curl, the good ones are used). */
  ret = mbedtls_x509_crt_parse_file(&tls->ca, path);
  if (ret < 0) {
    char what[200];
    (void)snprintf(what, sizeof what, "cannot load CA file %s", path);
    set_mbed_err(tls, what, ret);
    return SMTPC_ERR_CERTIFICATE;
  }
  tls->have_ca = crt_count(&tls->ca) > 0;
  return note_trust(tls, 'f', path);
}

int smtpc_tls_set_capath(smtpc_tls *tls, const char *path) {
  size_t before;
  int ret;
  if (tls == NULL || path == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  before = crt_count(&tls->ca);
  ret = mbedtls_x509_crt_parse_path(&tls->ca, path);
  if (ret < 0) {
    char what[200];
    (void)snprintf(what, sizeof what, "cannot read CA directory %s", path);
    set_mbed_err(tls, what, ret);
    return SMTPC_ERR_CERTIFICATE;
  }
  if (crt_count(&tls->ca) == before) {
    set_err(tls, "no CA certificate could be loaded from %s", path);
    return SMTPC_ERR_CERTIFICATE;
  }
  tls->have_ca = 1;
  return note_trust(tls, 'd', path);
}

/* Drops the client certificate and key. */
static void own_cert_clear(smtpc_tls *t) {
  t->have_own_cert = 0;
  mbedtls_x509_crt_free(&t->own_cert);
  mbedtls_x509_crt_init(&t->own_cert);
  mbedtls_pk_free(&t->own_key);
  mbedtls_pk_init(&t->own_key);
}

int smtpc_tls_set_client_cert(smtpc_tls *tls, const char *certfile,
                              const char *keyfile) {
  char what[200];
  int ret;
  if (tls == NULL || certfile == NULL || keyfile == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  own_cert_clear(tls); /* a failed call leaves none configured */
  ret = mbedtls_x509_crt_parse_file(&tls->own_cert, certfile);
  if (ret != 0) {
    (void)snprintf(what, sizeof what, "cannot load client certificate %s",
                   certfile);
    goto fail;
  }
  ret = smtpc__tls_parse_keyfile(&tls->own_key, keyfile, &tls->rng);
  if (ret != 0) {
    (void)snprintf(what, sizeof what, "cannot load client key %s", keyfile);
    goto fail;
  }
  ret = smtpc__tls_check_pair(&tls->own_cert.pk, &tls->own_key, &tls->rng);
  if (ret != 0) {
    (void)snprintf(what, sizeof what,
                   "client key %s does not match certificate %s", keyfile,
                   certfile);
    goto fail;
  }
  if ((ret = note_trust(tls, 'c', certfile)) != SMTPC_OK ||
      (ret = note_trust(tls, 'k', keyfile)) != SMTPC_OK)
    return ret;
  tls->have_own_cert = 1;
  return SMTPC_OK;
fail:
  set_mbed_err(tls, what, ret);
  own_cert_clear(tls);
  return SMTPC_ERR_CERTIFICATE;
}

void smtpc_tls_insecure_skip_verify(smtpc_tls *tls, int yes) {
  if (tls != NULL)
    tls->skip_verify = yes != 0;
}

int smtpc_tls_set_cache(smtpc_tls *tls, smtpc_tls_cache *cache) {
  if (tls == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  tls->cache = cache;
  return SMTPC_OK;
}

/* Loads the first system CA bundle that yields a certificate. */
static int load_system_ca(smtpc_tls *t) {
  size_t i;
  for (i = 0; i < sizeof ca_bundles / sizeof ca_bundles[0]; i++) {
    if (mbedtls_x509_crt_parse_file(&t->ca, ca_bundles[i]) >= 0 &&
        crt_count(&t->ca) > 0) {
      t->have_ca = 1;
      return SMTPC_OK;
    }
  }
  set_err(t,
          "no trusted CA certificates: system bundle %s not found "
          "(use smtpc_tls_set_cafile)",
          ca_bundles[0]);
  return SMTPC_ERR_CERTIFICATE;
}

/* ---- verification -------------------------------------------------------- */

/* The subject CN of crt (shown in messages, never matched), or NULL. */
static const mbedtls_x509_name *subject_cn(const mbedtls_x509_crt *crt) {
  const mbedtls_x509_name *name;
  for (name = &crt->subject; name != NULL; name = name->next)
    if (name->oid.p != NULL &&
        MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &name->oid) == 0)
      return name;
  return NULL;
}

/* Checks the server certificate's names (RFC 9525, tls_host.c) and records
 * them for messages.  Returns 1 if one names the peer; *dns_seen: whether
 * there was any dNSName entry. */
static int leaf_names(smtpc_tls *t, const mbedtls_x509_crt *crt,
                      int *dns_seen) {
  const mbedtls_x509_sequence *san;
  const mbedtls_x509_name *cn;
  int match = 0;
  *dns_seen = 0;
  smtpc__tls_names_init(&t->c.leaf);
  for (san = &crt->subject_alt_names; san != NULL; san = san->next) {
    const mbedtls_x509_buf *b = &san->buf;
    if (b->tag == SMTPC__SAN_DNS && b->p != NULL)
      *dns_seen = 1;
    if (smtpc__tls_san_names_peer(&t->c.peer, b->tag, b->p, b->len))
      match = 1;
    smtpc__tls_names_add(&t->c.leaf, b->tag, b->p, b->len);
  }
  cn = subject_cn(crt);
  smtpc__tls_names_end(&t->c.leaf, cn != NULL ? cn->val.p : NULL,
                       cn != NULL ? cn->val.len : 0);
  return match;
}

/* Called by mbedTLS for each certificate of the chain, the top first and
 * the server's own (depth 0) last; may add flags.  Runs only when the
 * server sent its certificate: never in a resumed handshake. */
static int verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth,
                     uint32_t *flags) {
  smtpc_tls *t = ctx;
  tls_conn *c = &t->c;
  int dns_seen;
  c->cert_seen = 1;
  if (*flags & (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE)) {
    c->time_depth = depth;
    c->time_flags = *flags;
    c->time_from = crt->valid_from;
    c->time_to = crt->valid_to;
  }
  if (depth != 0)
    return 0;
  c->leaf_self_signed =
      crt->issuer_raw.len == crt->subject_raw.len &&
      crt->issuer_raw.p != NULL && crt->subject_raw.p != NULL &&
      memcmp(crt->issuer_raw.p, crt->subject_raw.p, crt->subject_raw.len) == 0;
  /* IP-ID: mbedTLS was given no host name for an address (see
   * begin_handshake), so this is the only name check.  DNS-ID: ours is
   * stricter than mbedTLS's (see the top of this file). */
  if (!leaf_names(t, crt, &dns_seen) && c->peer.name != NULL)
    *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
  c->leaf_no_dns = c->peer.name != NULL && c->peer.ip_len == 0 && !dns_seen;
  return 0;
}

/* The message for a name or "other" verification failure. */
static int cert_error_other(smtpc_tls *t, uint32_t flags) {
  tls_conn *c = &t->c;
  if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
    const char *host = c->peer.name != NULL ? c->peer.name : "(no name)";
    c->verify = SMTPC_TLS_VERIFY_HOSTNAME;
    if (c->leaf_no_dns)
      set_err(t,
              "certificate has no DNS name in subjectAltName to match %s "
              "(the subject CN is not used, RFC 9525)",
              host);
    else
      set_err(t, "certificate is for %s, not %s", c->leaf.text, host);
  } else {
    char info[200];
    smtpc__tls_verify_info(info, sizeof info, flags);
    c->verify = SMTPC_TLS_VERIFY_OTHER;
    if (info[0] != '\0')
      set_err(t, "certificate rejected: %s", info);
    else
      set_err(t, "certificate rejected (verification flags 0x%lx)",
              (unsigned long)flags);
  }
  return SMTPC_ERR_CERTIFICATE;
}

/* Sets verify and the message from mbedTLS verification flags. */
static int cert_error(smtpc_tls *t, uint32_t flags) {
  tls_conn *c = &t->c;
  const char *ca = c->time_depth > 0 ? "CA certificate" : "certificate";
  const char *names = c->leaf.text;
  if (names[0] == '\0') /* the callback never saw the certificate */
    (void)snprintf(c->leaf.text, sizeof c->leaf.text, "the server");
  if (flags & MBEDTLS_X509_BADCERT_REVOKED) {
    c->verify = SMTPC_TLS_VERIFY_REVOKED;
    set_err(t, "certificate for %s has been revoked", names);
  } else if (flags & MBEDTLS_X509_BADCERT_MISSING) {
    c->verify = SMTPC_TLS_VERIFY_OTHER;
    set_err(t, "server sent no certificate");
  } else if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
    c->verify = SMTPC_TLS_VERIFY_UNKNOWN_CA;
    set_err(t, "certificate for %s is %snot issued by a trusted CA%s", names,
            c->leaf_self_signed ? "self-signed (" : "",
            c->leaf_self_signed ? ")" : "");
  } else if (flags & MBEDTLS_X509_BADCERT_EXPIRED) {
    const mbedtls_x509_time *d = &c->time_to;
    c->verify = SMTPC_TLS_VERIFY_EXPIRED;
    set_err(t,
            "%s has expired (not valid after %04d-%02d-%02d %02d:%02d:%02d "
            "UTC)",
            ca, d->year, d->mon, d->day, d->hour, d->min, d->sec);
  } else if (flags & MBEDTLS_X509_BADCERT_FUTURE) {
    const mbedtls_x509_time *d = &c->time_from;
    c->verify = SMTPC_TLS_VERIFY_EXPIRED;
    set_err(t,
            "%s is not yet valid (not before %04d-%02d-%02d "
            "%02d:%02d:%02d UTC)",
            ca, d->year, d->mon, d->day, d->hour, d->min, d->sec);
  } else {
    return cert_error_other(t, flags);
  }
  return SMTPC_ERR_CERTIFICATE;
}

/* ---- state helpers ------------------------------------------------------- */

static int fail(smtpc_tls *t, int code) {
  t->c.state = ST_FAILED;
  t->c.fail_code = code;
  return code;
}

/* Maps a fatal mbedTLS result of a handshake, read or write to an smtpc
 * error (with its message).  what: "during the TLS handshake", ... */
static int map_error(smtpc_tls *t, int ret, const char *what) {
  char buf[96];
  if (t->c.lower_err != 0) {
    set_err(t, "transport failed %s: %s", what, smtpc_strerror(t->c.lower_err));
    return t->c.lower_err;
  }
  if (ret == MBEDTLS_ERR_SSL_CONN_EOF) {
    set_err(t, "server closed the connection %s", what);
    return SMTPC_ERR_EOF;
  }
  if (ret == MBEDTLS_ERR_SSL_ALLOC_FAILED) {
    set_err(t, "out of memory %s", what);
    return SMTPC_ERR_NOMEM;
  }
  if (smtpc__tls_is_version_error(ret)) {
    set_err(t, "server does not support TLS 1.2 or later");
    return SMTPC_ERR_TLS;
  }
  if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE &&
      t->c.state == ST_HANDSHAKE && t->c.lower_in <= SMTPC__TLS_ALERT_BYTES) {
    /* An alert was all the server sent: it took nothing in the
     * ClientHello, most likely neither version nor cipher suites. */
    set_err(t, "server refused the TLS handshake with a fatal alert; it may "
               "not support TLS 1.2 or later with ECDHE and AES-GCM or "
               "ChaCha20-Poly1305 (all that libsmtpc offers)");
    return SMTPC_ERR_TLS;
  }
  if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
    set_err(t, "server sent a fatal TLS alert %s", what);
    return SMTPC_ERR_TLS;
  }
  (void)snprintf(buf, sizeof buf, "TLS failure %s", what);
  set_mbed_err(t, buf, ret);
  return SMTPC_ERR_TLS;
}

/* ---- session cache (io_mbedtls_cache.c) ---------------------------------------- */

static smtpc__tls_cache_key cache_key(const smtpc_tls *t) {
  smtpc__tls_cache_key k;
  k.host = t->c.peer.name;
  k.trust_id = t->trust_id;
  k.skip_verify = t->skip_verify;
  return k;
}

/* Keeps the connection's session (with its ticket) for the next one. */
static void cache_store(smtpc_tls *t) {
  smtpc__tls_cache_key k = cache_key(t);
  smtpc__tls_cache_store(t->cache, &k, &t->ssl);
}

/* mbedTLS reported a TLS 1.3 ticket (handshake, read or write): the
 * session can be exported with it now. */
static void ticket_arrived(smtpc_tls *t) { cache_store(t); }

/* ---- handshake ------------------------------------------------------------ */

/* Sets this handshake's server name: the configured one, else the one the
 * session passes to starttls(); then offers a cached session. */
static int begin_handshake(smtpc_tls *t, const char *servername) {
  const char *name = t->hostname != NULL ? t->hostname : servername;
  smtpc__tls_cache_key k;
  int ret, rc;

  smtpc__tls_peer_clear(&t->c.peer, &t->mem);
  if (name != NULL) {
    rc = smtpc__tls_peer_set(&t->c.peer, &t->mem, name);
    if (rc == SMTPC_ERR_BAD_ARGUMENT)
      set_err(t, "invalid server name for TLS");
    if (rc != SMTPC_OK)
      return rc;
  }
  if (!t->skip_verify && t->c.peer.name == NULL) {
    t->c.verify = SMTPC_TLS_VERIFY_HOSTNAME;
    set_err(t, "no server name to verify the certificate against "
               "(smtpc_tls_set_hostname)");
    return SMTPC_ERR_CERTIFICATE;
  }
  /* A DNS name goes to mbedTLS for SNI and its name check.  For an address
   * an explicit NULL: no SNI, and (mbedTLS >= 2.28.10 / 3.6.3) the explicit
   * "no host name" that keeps verification from failing with
   * MBEDTLS_ERR_SSL_CERTIFICATE_VERIFICATION_WITHOUT_HOSTNAME; verify_cb
   * checks the address instead. */
  ret = mbedtls_ssl_set_hostname(&t->ssl,
                                 t->c.peer.ip_len == 0 ? t->c.peer.name : NULL);
  if (ret != 0) {
    set_mbed_err(t, "cannot set the TLS server name", ret);
    return ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? SMTPC_ERR_NOMEM
                                               : SMTPC_ERR_TLS;
  }
  t->c.host_applied = 1;
  k = cache_key(t);
  t->c.offered = smtpc__tls_cache_offer(t->cache, &k, &t->ssl);
  return SMTPC_OK;
}

/* The handshake succeeded. */
static int handshake_done(smtpc_tls *t) {
  const char *suite = mbedtls_ssl_get_ciphersuite(&t->ssl);
  tls_conn *c = &t->c;
  c->state = ST_ACTIVE;
  c->verify = SMTPC_TLS_VERIFY_OK;
  c->err[0] = '\0';
  /* A server that resumes the offered session does not authenticate again:
   * no certificate, so the verify callback never ran (see the top). */
  c->resumed = c->offered && !c->cert_seen;
  (void)snprintf(c->desc, sizeof c->desc, "%s %s%s",
                 mbedtls_ssl_get_version(&t->ssl), suite != NULL ? suite : "?",
                 c->resumed ? " (resumed)" : "");
  /* TLS 1.3: the session has no ticket yet (ticket_arrived() stores it). */
  if (!smtpc__tls_is_tls13(&t->ssl))
    cache_store(t);
  return SMTPC_OK;
}

/* The handshake failed with ret. */
static int handshake_failed(smtpc_tls *t, int ret) {
  uint32_t flags;
  if (t->c.offered) { /* a session the server chokes on is not offered again */
    smtpc__tls_cache_key k = cache_key(t);
    smtpc__tls_cache_drop(t->cache, &k);
  }
  flags = mbedtls_ssl_get_verify_result(&t->ssl);
  if (!t->skip_verify && t->c.lower_err == 0 && flags != 0 &&
      flags != UINT32_MAX)
    return fail(t, cert_error(t, flags));
  return fail(t, map_error(t, ret, "during the TLS handshake"));
}

/* Runs or continues the handshake. */
static int handshake(smtpc_tls *t) {
  int ret = 0, i, rc;

  if (!t->c.host_applied) {
    rc = begin_handshake(t, NULL);
    if (rc != SMTPC_OK)
      return fail(t, rc);
  }
  for (i = 0; i < SMTPC__TLS_RETRIES; i++) {
    t->c.lower_err = 0;
    ret = mbedtls_ssl_handshake(&t->ssl);
    if (!SMTPC__TLS_IS_TICKET(ret))
      break;
    ticket_arrived(t);
  }
  if (ret == 0)
    return handshake_done(t);
  if (ret == MBEDTLS_ERR_SSL_WANT_READ || SMTPC__TLS_IS_TICKET(ret))
    return SMTPC_ERR_WANT_READ; /* (retries used up: call again) */
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
    return SMTPC_ERR_WANT_WRITE;
  return handshake_failed(t, ret);
}

/* ---- bio shims (mbedTLS -> lower transport) ------------------------------ */

/* Lower result to mbedTLS: bytes, or a would-block code, or (any other
 * smtpc error, kept in lower_err so the caller gets it back unchanged)
 * a generic mbedTLS error that makes the current operation fail. */
static int bio_result(smtpc_tls *t, smtpc_ssize n, size_t len) {
  if (n == SMTPC_ERR_WANT_READ)
    return MBEDTLS_ERR_SSL_WANT_READ;
  if (n == SMTPC_ERR_WANT_WRITE)
    return MBEDTLS_ERR_SSL_WANT_WRITE;
  if (n > (smtpc_ssize)len) {
    t->c.lower_err = SMTPC_ERR_CALLBACK; /* claimed more than asked for */
    return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
  }
  if (n < 0) {
    t->c.lower_err = (int)n;
    return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
  }
  return (int)n;
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len) {
  smtpc_tls *t = ctx;
  smtpc_ssize n;
  if (len > INT_MAX)
    len = INT_MAX;
  n = t->c.lower.send(t->c.lower.ctx, buf, len);
  if (n == 0 && len > 0) {
    t->c.lower_err = SMTPC_ERR_IO; /* no progress and no reason */
    return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
  }
  return bio_result(t, n, len);
}

/* 0 from the lower recv is end of stream; mbedTLS turns it into
 * MBEDTLS_ERR_SSL_CONN_EOF. */
static int bio_recv(void *ctx, unsigned char *buf, size_t len) {
  smtpc_tls *t = ctx;
  smtpc_ssize n;
  if (len > INT_MAX)
    len = INT_MAX;
  n = t->c.lower.recv(t->c.lower.ctx, buf, len);
  if (n > 0 && n <= (smtpc_ssize)len)
    t->c.lower_in += (unsigned long)n;
  return bio_result(t, n, len);
}

/* ---- records ------------------------------------------------------------- */

/* When mbedtls_ssl_read() must send something itself (the no_renegotiation
 * alert answering a HelloRequest) and the transport blocks, it returns
 * WANT_WRITE with the record still in its output buffer.  A later
 * mbedtls_ssl_read() does not flush it, and a later mbedtls_ssl_write()
 * flushes it *instead of* writing the caller's data yet reports that data as
 * written (2.28 and 3.x: "out_left != 0" means "retry of the previous
 * write").  So after such a read the pending record is flushed here first,
 * with a zero-length write: with output pending that only flushes; with
 * nothing pending (the WANT_WRITE came from the lower recv) it sends an empty
 * application-data record, which TLS allows (RFC 5246 6.2.1, RFC 8446 5.1).
 * Returns 0 or an mbedTLS error / would-block code. */
static int flush_pending(smtpc_tls *t) {
  static const unsigned char none[1] = {0};
  int ret;
  if (!t->c.out_pending)
    return 0;
  t->c.lower_err = 0;
  ret = mbedtls_ssl_write(&t->ssl, none, 0);
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == MBEDTLS_ERR_SSL_WANT_READ)
    return ret;
  t->c.out_pending = 0;
  return ret < 0 ? ret : 0;
}

static smtpc_ssize tls_write(smtpc_tls *t, const unsigned char *buf,
                             size_t len) {
  int ret = 0, i;
  if (len == 0)
    return 0;
  if (len > INT_MAX)
    len = INT_MAX;
  ret = flush_pending(t);
  for (i = 0; ret == 0 && i < SMTPC__TLS_RETRIES; i++) {
    t->c.lower_err = 0;
    ret = mbedtls_ssl_write(&t->ssl, buf, len);
    if (!SMTPC__TLS_IS_TICKET(ret))
      break;
    ticket_arrived(t);
    ret = 0;
  }
  if (ret > 0)
    return ret;
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == 0)
    return SMTPC_ERR_WANT_WRITE;
  if (ret == MBEDTLS_ERR_SSL_WANT_READ)
    return SMTPC_ERR_WANT_READ;
  return fail(t, map_error(t, ret, "while sending"));
}

/* read_once(): nothing yet, but worth reading again at once. */
#define READ_AGAIN ((smtpc_ssize)INT_MIN)

/* One mbedtls_ssl_read(), after flushing what an earlier one left: bytes,
 * 0 for end of stream, an smtpc error, or READ_AGAIN. */
static smtpc_ssize read_once(smtpc_tls *t, unsigned char *buf, size_t len) {
  unsigned long before = t->c.lower_in;
  int ret = flush_pending(t);
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == MBEDTLS_ERR_SSL_WANT_READ)
    return ret == MBEDTLS_ERR_SSL_WANT_WRITE ? SMTPC_ERR_WANT_WRITE
                                             : SMTPC_ERR_WANT_READ;
  if (ret != 0)
    return fail(t, map_error(t, ret, "while sending"));
  t->c.lower_err = 0;
  ret = mbedtls_ssl_read(&t->ssl, buf, len);
  if (ret > 0)
    return ret;
  if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
      ret == MBEDTLS_ERR_SSL_CONN_EOF)
    /* End of stream, with or without close_notify: SMTP replies are
     * self-delimiting, so a truncated reply is seen by the parser. */
    return 0;
  if (SMTPC__TLS_IS_TICKET(ret)) {
    ticket_arrived(t);
    return READ_AGAIN;
  }
  if (ret == MBEDTLS_ERR_SSL_WANT_READ) {
    /* The call may have consumed a record without application data (a
     * warning alert, a HelloRequest that was refused): if it made
     * progress, or mbedTLS holds more input, read again rather than have
     * the caller wait for the transport. */
    if (mbedtls_ssl_check_pending(&t->ssl) || t->c.lower_in != before)
      return READ_AGAIN;
    return SMTPC_ERR_WANT_READ;
  }
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
    t->c.out_pending = 1;
    return SMTPC_ERR_WANT_WRITE;
  }
  return fail(t, map_error(t, ret, "while receiving"));
}

static smtpc_ssize tls_read(smtpc_tls *t, unsigned char *buf, size_t len) {
  int i;
  if (len > INT_MAX)
    len = INT_MAX;
  for (i = 0; i < SMTPC__TLS_RETRIES; i++) {
    smtpc_ssize n = read_once(t, buf, len);
    if (n != READ_AGAIN)
      return n;
  }
  return SMTPC_ERR_WANT_READ; /* retries used up: call again */
}

/* ---- smtpc_io callbacks -------------------------------------------------- */

/* Before a record: continues the handshake if it runs; SMTPC_OK once
 * records can flow, else what to return. */
static int ready_for_records(smtpc_tls *t) {
  switch (t->c.state) {
  case ST_HANDSHAKE: return handshake(t);
  case ST_ACTIVE: return SMTPC_OK;
  case ST_FAILED: return t->c.fail_code;
  case ST_NEW:
  case ST_CLEAR:
  case ST_CLOSED:
  default: return SMTPC_ERR_INVALID_STATE;
  }
}

static smtpc_ssize io_send(void *ctx, const unsigned char *buf, size_t len) {
  smtpc_tls *t = ctx;
  int rc;
  if (t->c.state == ST_CLEAR)
    return t->c.lower.send(t->c.lower.ctx, buf, len);
  rc = ready_for_records(t);
  return rc != SMTPC_OK ? rc : tls_write(t, buf, len);
}

static smtpc_ssize io_recv(void *ctx, unsigned char *buf, size_t len) {
  smtpc_tls *t = ctx;
  int rc;
  if (t->c.state == ST_CLEAR) /* the caller's request exactly: no read-ahead */
    return t->c.lower.recv(t->c.lower.ctx, buf, len);
  rc = ready_for_records(t);
  if (rc != SMTPC_OK)
    return rc;
  if (len == 0) /* 0 would read as end of stream */
    return SMTPC_ERR_INVALID_ARGUMENT;
  return tls_read(t, buf, len);
}

static int io_starttls(void *ctx, const char *servername) {
  smtpc_tls *t = ctx;
  int rc;
  if (t->implicit)
    return SMTPC_ERR_INVALID_STATE; /* implicit TLS: no second layer */
  switch (t->c.state) {
  case ST_CLEAR:
    rc = begin_handshake(t, servername);
    if (rc != SMTPC_OK)
      return fail(t, rc);
    t->c.state = ST_HANDSHAKE;
    return handshake(t);
  case ST_HANDSHAKE: /* called again after a would-block */ return handshake(t);
  case ST_FAILED: return t->c.fail_code;
  case ST_NEW:
  case ST_ACTIVE:
  case ST_CLOSED:
  default: return SMTPC_ERR_INVALID_STATE;
  }
}

static void io_set_timeout(void *ctx, unsigned timeout_ms) {
  smtpc_tls *t = ctx;
  if (t->c.lower.set_timeout != NULL)
    t->c.lower.set_timeout(t->c.lower.ctx, timeout_ms);
}

static void io_close(void *ctx) {
  smtpc_tls *t = ctx;
  if (t->c.state == ST_ACTIVE) {
    /* Best effort over a non-blocking transport: a few attempts, then the
     * connection is closed anyway (RFC 8446 6.1 allows closing without
     * waiting for the peer's close_notify). */
    int i;
    for (i = 0; i < SMTPC__TLS_CLOSE_TRIES; i++) {
      int ret;
      t->c.lower_err = 0;
      ret = mbedtls_ssl_close_notify(&t->ssl);
      if (ret != MBEDTLS_ERR_SSL_WANT_WRITE && ret != MBEDTLS_ERR_SSL_WANT_READ)
        break;
    }
  }
  if (t->c.state != ST_NEW)
    t->c.state = ST_CLOSED;
  if (t->c.lower.close != NULL)
    t->c.lower.close(t->c.lower.ctx);
}

/* 2 when the certificate was not verified: encrypted, which the TLS
 * policy takes, but not enough for REQUIRETLS (see smtpc_io::is_secure). */
static int io_is_secure(void *ctx) {
  const smtpc_tls *t = ctx;
  if (t->c.state != ST_ACTIVE)
    return 0;
  return t->skip_verify ? 2 : 1;
}

/* ---- wrap ---------------------------------------------------------------- */

/* Fills t->suites with the suites_wanted this mbedTLS build has (0 ends
 * the list); returns how many. */
static size_t pick_suites(smtpc_tls *t) {
  size_t i, n = 0;
  for (i = 0; i < SMTPC__TLS_NSUITES; i++)
    if (mbedtls_ssl_ciphersuite_from_id(suites_wanted[i]) != NULL)
      t->suites[n++] = suites_wanted[i];
  t->suites[n] = 0;
  return n;
}

/* A new connection: forgets everything about the previous one. */
static void conn_reset(smtpc_tls *t) {
  mbedtls_ssl_free(&t->ssl);
  mbedtls_ssl_config_free(&t->conf);
  mbedtls_ssl_init(&t->ssl);
  mbedtls_ssl_config_init(&t->conf);
  smtpc__tls_peer_clear(&t->c.peer, &t->mem);
  memset(&t->c, 0, sizeof t->c);
}

/* The client configuration and context for one connection. */
static int setup_ssl(smtpc_tls *t) {
  int ret = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT,
                                        MBEDTLS_SSL_TRANSPORT_STREAM,
                                        MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret != 0)
    goto mbed_fail;
  smtpc__tls_conf_client(&t->conf, &t->rng);
  if (pick_suites(t) == 0) {
    set_err(t, "TLS set-up failed: this mbedTLS has none of the cipher "
               "suites libsmtpc offers (ECDHE with AES-GCM or "
               "ChaCha20-Poly1305)");
    return SMTPC_ERR_TLS;
  }
  mbedtls_ssl_conf_ciphersuites(&t->conf, t->suites);
  /* OPTIONAL when not verifying: the callback still sees the certificate
   * (see the top of this file), and its verdict does not count. */
  mbedtls_ssl_conf_authmode(&t->conf, t->skip_verify
                                          ? MBEDTLS_SSL_VERIFY_OPTIONAL
                                          : MBEDTLS_SSL_VERIFY_REQUIRED);
  if (t->have_ca)
    mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
  mbedtls_ssl_conf_verify(&t->conf, verify_cb, t);
  if (t->have_own_cert && (ret = mbedtls_ssl_conf_own_cert(
                               &t->conf, &t->own_cert, &t->own_key)) != 0)
    goto mbed_fail;
  if ((ret = mbedtls_ssl_setup(&t->ssl, &t->conf)) != 0)
    goto mbed_fail;
  mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);
  return SMTPC_OK;
mbed_fail:
  set_mbed_err(t, "TLS set-up failed", ret);
  return ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? SMTPC_ERR_NOMEM : SMTPC_ERR_TLS;
}

int smtpc_tls_wrap(smtpc_tls *tls, const smtpc_io *lower, smtpc_io *out) {
  int rc;
  if (tls == NULL || lower == NULL || out == NULL ||
      lower->version != SMTPC_IO_VERSION || lower->send == NULL ||
      lower->recv == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  conn_reset(tls);
  if (!tls->skip_verify && !tls->have_ca &&
      (rc = load_system_ca(tls)) != SMTPC_OK)
    return rc;
  if ((rc = setup_ssl(tls)) != SMTPC_OK)
    return rc;
  tls->c.lower = *lower;
  tls->c.state = tls->implicit ? ST_HANDSHAKE : ST_CLEAR;
  memset(out, 0, sizeof *out);
  out->version = SMTPC_IO_VERSION;
  out->ctx = tls;
  out->send = io_send;
  out->recv = io_recv;
  out->starttls = io_starttls;
  out->set_timeout = io_set_timeout;
  out->close = io_close;
  out->is_secure = io_is_secure;
  return SMTPC_OK;
}

/* ---- queries ------------------------------------------------------------- */

smtpc_tls_verify smtpc_tls_verify_result(const smtpc_tls *tls) {
  return tls == NULL ? SMTPC_TLS_VERIFY_OK : tls->c.verify;
}

const char *smtpc_tls_last_error(const smtpc_tls *tls) {
  return tls == NULL ? "" : tls->c.err;
}

int smtpc_tls_is_active(const smtpc_tls *tls) {
  return tls != NULL && tls->c.state == ST_ACTIVE;
}

const char *smtpc_tls_description(const smtpc_tls *tls) {
  return tls == NULL ? "" : tls->c.desc;
}

int smtpc_tls_is_resumed(const smtpc_tls *tls) {
  return tls != NULL && tls->c.state == ST_ACTIVE && tls->c.resumed;
}
