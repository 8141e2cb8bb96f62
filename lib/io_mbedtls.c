/* SPDX-License-Identifier: MIT */
/* The mbedTLS adapter (include/smtpc/tls.h): TLS over any smtpc_io.
 *
 * Builds against mbedTLS 2.28 LTS (Debian 12) and 3.x; the differences are
 * guarded on MBEDTLS_VERSION_NUMBER right where they occur (search for it).
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
 * itself against subjectAltName (RFC 9525): a DNS name against the dNSName
 * entries only (never the subject CN), with a wildcard only as the whole
 * left-most label of an entry that has at least two more labels; an IP
 * literal against the iPAddress entries.  mbedTLS's own matcher cannot be
 * told either rule (2.28 and 3.x fall back to the CN when there is no
 * subjectAltName and let "*.test" match "example.test"), and the same code
 * then serves every mbedTLS version.  A DNS name still goes to
 * mbedtls_ssl_set_hostname for SNI, so mbedTLS matches it too; its rules
 * accept everything ours do, so ours decide.  An address gets no SNI
 * (RFC 6066 section 3).  The callback also records what the messages of
 * smtpc_tls_last_error() need (names in the certificate, self-signed,
 * validity dates), so no peer certificate has to be kept after the
 * handshake (MBEDTLS_SSL_KEEP_PEER_CERTIFICATE may be off).
 *
 * Cipher suites: only ephemeral ECDH with an AEAD cipher (see suites_wanted),
 * whatever the mbedTLS build would offer by default.
 *
 * No global state: each object owns its entropy, DRBG, configuration and
 * certificates.  (mbedTLS 3.x with TLS 1.3 or MBEDTLS_USE_PSA_CRYPTO needs
 * psa_crypto_init(), which is process-wide and idempotent; it is called from
 * smtpc_tls_new().)
 *
 * This file also supplies smtpc__hmac_md5() for CRAM-MD5 from mbedTLS
 * (lib/md5.c has the built-in one for builds without mbedTLS). */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "smtpc_int.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/version.h> /* pulls config.h (2.x) or build_info.h (3.x) */

#if MBEDTLS_VERSION_NUMBER >= 0x04000000
#error "libsmtpc supports mbedTLS 2.28 and 3.x (4.x removed the RNG arguments used here)"
#endif
#if MBEDTLS_VERSION_NUMBER < 0x02100000
#error "libsmtpc needs mbedTLS 2.16 or later (2.28 LTS or 3.x recommended)"
#endif

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#if MBEDTLS_VERSION_NUMBER < 0x03000000 && !defined(MBEDTLS_NO_PLATFORM_ENTROPY)
#include <mbedtls/entropy_poll.h> /* private in 3.x: see os_entropy() */
#endif
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/x509_crt.h>

#ifdef SMTPC_HAVE_PTHREADS
#include <pthread.h>
#endif

/* 3.x (TLS 1.3, PSA-based paths) and 2.28 built with MBEDTLS_USE_PSA_CRYPTO
 * need the PSA core initialised. */
#if defined(MBEDTLS_PSA_CRYPTO_C) &&                                          \
    (MBEDTLS_VERSION_NUMBER >= 0x03000000 || defined(MBEDTLS_USE_PSA_CRYPTO))
#include <psa/crypto.h>
#define SMTPC__TLS_PSA_INIT 1
#endif

/* 2.x: the DRBG is seeded straight from the OS (see os_entropy()).  3.x
 * keeps entropy_poll.h private and has no HAVEGE: mbedtls_entropy_func. */
#if MBEDTLS_VERSION_NUMBER < 0x03000000 && !defined(MBEDTLS_NO_PLATFORM_ENTROPY)
#define SMTPC__TLS_OS_ENTROPY 1
#endif

/* Struct members that 3.x made private (still there, under another name). */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define SMTPC__MBED_PRIV(f) MBEDTLS_PRIVATE(f)
#else
#define SMTPC__MBED_PRIV(f) f
#endif

/* Sessions a smtpc_tls_cache keeps (least recently used goes first). */
#define SMTPC__TLS_CACHE_SLOTS 8

/* Bound on retries inside one call (TLS 1.3 tickets, records that carried no
 * application data).  Exhausting it returns a would-block code: the caller
 * simply calls again. */
#define SMTPC__TLS_RETRIES 64

/* Bytes of a TLS record holding one alert: header (5) and alert (2). */
#define SMTPC__TLS_ALERT_BYTES 7

/* Close_notify attempts in close() over a non-blocking transport. */
#define SMTPC__TLS_CLOSE_TRIES 4

/* ASN.1 tags of GeneralName choices in subjectAltName (RFC 5280 4.2.1.6):
 * context-specific, primitive, [2] dNSName and [7] iPAddress. */
#define SAN_TAG_DNS 0x82
#define SAN_TAG_IP 0x87

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
 * widen the list).  TLS 1.3 (mbedTLS 3.x) has only AEAD suites; this list
 * also governs them, so they are named too. */
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

struct smtpc_tls {
  smtpc_mem mem;
  int implicit;      /* SMTPC_SECURITY_IMPLICIT: handshake at the start */
  enum tls_state state;
  int fail_code;     /* returned again by every call in ST_FAILED */
  int skip_verify;   /* smtpc_tls_insecure_skip_verify() */
  int have_ca;       /* ca holds at least one trusted certificate */
  int have_own_cert; /* own_cert and own_key are loaded and match */
  int host_applied;  /* this handshake's server name is set up */
  int lower_err;     /* smtpc error the lower transport returned, or 0 */
  int out_pending;   /* a read left a record (an alert) partly sent */
  int offered;       /* this handshake offered a cached session */
  int resumed;       /* ... and the server resumed it */
  unsigned long lower_in; /* bytes received from the lower transport */
  smtpc_io lower;

  char *hostname;    /* smtpc_tls_set_hostname(), normalised */
  char *peer_host;   /* the name this handshake verifies, normalised */
  size_t ip_len;     /* 4 or 16 when peer_host is an address, else 0 */
  unsigned char ip[16];

  /* Filled by the verify callback, for error messages. */
  char leaf_names[160]; /* names in the server certificate, printable */
  int leaf_self_signed;
  int leaf_no_dns;      /* verifying a DNS name, and no dNSName entry */
  int time_depth;       /* depth of the lowest out-of-date certificate */
  uint32_t time_flags;  /* its EXPIRED / FUTURE flags */
  mbedtls_x509_time time_from, time_to;

  smtpc_tls_verify verify;
  char err[320];
  char desc[128];

  smtpc_tls_cache *cache;     /* smtpc_tls_set_cache(), or NULL */
  unsigned char trust_id[32]; /* what decides trust: see note_trust() */
  unsigned char offered_master[48];

#ifndef SMTPC__TLS_OS_ENTROPY
  mbedtls_entropy_context entropy;
#endif
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt ca;
  mbedtls_x509_crt own_cert;
  mbedtls_pk_context own_key;
  int suites[SMTPC__TLS_NSUITES + 1]; /* suites_wanted this build has, 0 */
  mbedtls_ssl_config conf;
  mbedtls_ssl_context ssl;
};

/* Sessions kept for resumption (RFC 5246 7.4.1.2 session IDs and RFC 5077
 * tickets), keyed by server name and trust settings. */
typedef struct cache_entry {
  char *host; /* normalised server name; NULL: slot free */
  unsigned char trust_id[32];
  int skip_verify;
  unsigned long used; /* for least-recently-used replacement */
  mbedtls_ssl_session sess;
} cache_entry;

struct smtpc_tls_cache {
  smtpc_mem mem;
#ifdef SMTPC_HAVE_PTHREADS
  pthread_mutex_t lock;
#endif
  unsigned long clock;
  cache_entry e[SMTPC__TLS_CACHE_SLOTS];
};

/* ---- messages ------------------------------------------------------------ */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void set_err(smtpc_tls *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  (void)vsnprintf(t->err, sizeof t->err, fmt, ap);
  va_end(ap);
}

/* mbedTLS's description of an error code ("" without MBEDTLS_ERROR_C). */
static void mbed_strerror(int ret, char *buf, size_t len) {
#if defined(MBEDTLS_ERROR_C)
  mbedtls_strerror(ret, buf, len);
#else
  (void)ret;
  if (len > 0)
    buf[0] = '\0';
#endif
}

/* "what: mbedTLS text (-0x1234)". */
static void set_mbed_err(smtpc_tls *t, const char *what, int ret) {
  char m[160];
  unsigned code = ret < 0 ? 0u - (unsigned)ret : (unsigned)ret;
  mbed_strerror(ret, m, sizeof m);
  if (m[0] != '\0')
    set_err(t, "%s: %s (-0x%04x)", what, m, code);
  else
    set_err(t, "%s (mbedTLS error -0x%04x)", what, code);
}

/* Appends printable bytes of p[0..n) to dst (NUL-terminated, capacity cap),
 * replacing anything else by '?': certificate contents are untrusted and end
 * up in logs. */
static void append_printable(char *dst, size_t cap, const unsigned char *p,
                             size_t n) {
  size_t len = strlen(dst), i;
  for (i = 0; i < n && len + 1 < cap; i++)
    dst[len++] = (p[i] > 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
  dst[len] = '\0';
}

/* Appends our own text (trusted, spaces allowed). */
static void append_str(char *dst, size_t cap, const char *s) {
  size_t len = strlen(dst), n = strlen(s);
  if (n > cap - 1 - len)
    n = cap - 1 - len;
  memcpy(dst + len, s, n);
  dst[len + n] = '\0';
}

/* Formats a 4- or 16-byte address. */
static void format_ip(char *out, size_t cap, const unsigned char *ip,
                      size_t len) {
  if (len == 4) {
    (void)snprintf(out, cap, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
  } else if (len == 16) {
    size_t i, o = 0;
    out[0] = '\0';
    for (i = 0; i < 16 && o < cap; i += 2) {
      int n = snprintf(out + o, cap - o, i == 0 ? "%x" : ":%x",
                       (unsigned)(ip[i] << 8 | ip[i + 1]));
      if (n < 0)
        break;
      o += (size_t)n;
    }
  } else {
    (void)snprintf(out, cap, "(bad address)");
  }
}

/* ---- host names ---------------------------------------------------------- */

/* Strict dotted quad, no leading zeros, whole string.  1 on success. */
static int parse_ipv4(const char *s, size_t n, unsigned char out[4]) {
  size_t i = 0;
  int part;
  for (part = 0; part < 4; part++) {
    unsigned v = 0;
    size_t digits = 0;
    if (part > 0) {
      if (i >= n || s[i] != '.')
        return 0;
      i++;
    }
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      if (digits == 1 && v == 0)
        return 0; /* leading zero */
      v = v * 10 + (unsigned)(s[i] - '0');
      if (++digits > 3 || v > 255)
        return 0;
      i++;
    }
    if (digits == 0)
      return 0;
    out[part] = (unsigned char)v;
  }
  return i == n;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* RFC 4291 section 2.2 text form (with "::" and a dotted-quad tail).
 * 1 on success. */
static int parse_ipv6(const char *s, size_t n, unsigned char out[16]) {
  unsigned char tmp[16];
  size_t i = 0, len = 0, gap = 0;
  int have_gap = 0;

  if (n >= 2 && s[0] == ':' && s[1] == ':') {
    have_gap = 1;
    i = 2;
  } else if (n >= 1 && s[0] == ':') {
    return 0;
  }
  while (i < n) {
    size_t j = i, digits = 0;
    unsigned v = 0;
    while (j < n && hexval(s[j]) >= 0 && digits < 5) {
      v = v << 4 | (unsigned)hexval(s[j]);
      j++;
      digits++;
    }
    if (j < n && s[j] == '.') { /* embedded IPv4, must end the string */
      if (len > 12 || !parse_ipv4(s + i, n - i, tmp + len))
        return 0;
      len += 4;
      i = n;
      break;
    }
    if (digits == 0 || digits > 4 || len > 14)
      return 0;
    tmp[len++] = (unsigned char)(v >> 8);
    tmp[len++] = (unsigned char)(v & 0xff);
    i = j;
    if (i == n)
      break;
    if (s[i] != ':')
      return 0;
    i++;
    if (i < n && s[i] == ':') {
      if (have_gap)
        return 0;
      have_gap = 1;
      gap = len;
      i++;
    } else if (i == n) {
      return 0; /* trailing single colon */
    }
  }
  if (!have_gap) {
    if (len != 16)
      return 0;
    memcpy(out, tmp, 16);
    return 1;
  }
  if (len > 14)
    return 0; /* "::" must stand for at least one group */
  memset(out, 0, 16);
  memcpy(out, tmp, gap);
  memcpy(out + 16 - (len - gap), tmp + gap, len - gap);
  return 1;
}

/* Normalises a server name: an IP literal (optionally in brackets, with the
 * "IPv6:" tag of RFC 5321 address literals) or a DNS name of letters,
 * digits, '-', '_' and '.', without one trailing dot.  Sets *out (allocated)
 * and ip/ip_len (ip_len = 0 for a DNS name).
 * SMTPC_OK, SMTPC_ERR_BAD_ARGUMENT or SMTPC_ERR_NOMEM. */
static int norm_host(const smtpc_mem *m, const char *in, char **out,
                     unsigned char ip[16], size_t *ip_len) {
  size_t n = strlen(in), i;
  const char *s = in;
  int bracket = 0;

  *out = NULL;
  *ip_len = 0;
  if (n == 0 || n > 260)
    return SMTPC_ERR_BAD_ARGUMENT;
  for (i = 0; i < n; i++)
    if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
      return SMTPC_ERR_BAD_ARGUMENT;
  if (s[0] == '[') {
    if (n < 3 || s[n - 1] != ']')
      return SMTPC_ERR_BAD_ARGUMENT;
    bracket = 1;
    s++;
    n -= 2;
    if (n > 5 && smtpc__strncasecmp(s, "IPv6:", 5) == 0) {
      s += 5;
      n -= 5;
      if (!parse_ipv6(s, n, ip))
        return SMTPC_ERR_BAD_ARGUMENT;
      *ip_len = 16;
    }
  }
  if (*ip_len == 0) {
    if (parse_ipv4(s, n, ip))
      *ip_len = 4;
    else if (parse_ipv6(s, n, ip))
      *ip_len = 16;
  }
  if (*ip_len == 0) {
    if (bracket)
      return SMTPC_ERR_BAD_ARGUMENT;
    if (s[n - 1] == '.')
      n--; /* absolute form: the same name */
    if (n == 0 || n > 253)
      return SMTPC_ERR_BAD_ARGUMENT;
    for (i = 0; i < n; i++) {
      char c = s[i];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
        return SMTPC_ERR_BAD_ARGUMENT;
    }
  }
  *out = smtpc__strndup(m, s, n);
  return *out == NULL ? SMTPC_ERR_NOMEM : SMTPC_OK;
}

/* ---- lifecycle ----------------------------------------------------------- */

#ifdef SMTPC__TLS_OS_ENTROPY
/* The DRBG's entropy: the OS generator (getrandom(2) or /dev/urandom) via
 * mbedTLS's platform source.  mbedtls_entropy_func would also start every
 * other source compiled in; Debian's 2.28 has HAVEGE, whose start-up alone
 * cost 1.1 M instructions per smtpc_tls_new() (5 % of a whole STARTTLS
 * session) and which mbedTLS 3 removed as unsound. */
static int os_entropy(void *ctx, unsigned char *out, size_t len) {
  size_t got;
  (void)ctx;
  while (len > 0) { /* each round makes progress or fails */
    if (mbedtls_platform_entropy_poll(NULL, out, len, &got) != 0 || got == 0 ||
        got > len)
      return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
    out += got;
    len -= got;
  }
  return 0;
}
#endif

int smtpc_tls_new(smtpc_tls **out, const smtpc_mem *mem,
                  smtpc_security security) {
  static const unsigned char pers[] = "libsmtpc tls";
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
  t->state = ST_NEW;
#ifndef SMTPC__TLS_OS_ENTROPY
  mbedtls_entropy_init(&t->entropy);
#endif
  mbedtls_ctr_drbg_init(&t->drbg);
  mbedtls_x509_crt_init(&t->ca);
  mbedtls_x509_crt_init(&t->own_cert);
  mbedtls_pk_init(&t->own_key);
  mbedtls_ssl_config_init(&t->conf);
  mbedtls_ssl_init(&t->ssl);

#ifdef SMTPC__TLS_PSA_INIT
  if (psa_crypto_init() != PSA_SUCCESS) {
    smtpc_tls_free(t);
    return SMTPC_ERR_TLS;
  }
#endif
#ifdef SMTPC__TLS_OS_ENTROPY
  rc = mbedtls_ctr_drbg_seed(&t->drbg, os_entropy, NULL, pers, sizeof pers - 1);
#else
  rc = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
                             pers, sizeof pers - 1);
#endif
  if (rc != 0) {
    smtpc_tls_free(t);
    return SMTPC_ERR_TLS;
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
  mbedtls_ctr_drbg_free(&tls->drbg);
#ifndef SMTPC__TLS_OS_ENTROPY
  mbedtls_entropy_free(&tls->entropy);
#endif
  smtpc__free(&tls->mem, tls->hostname);
  smtpc__free(&tls->mem, tls->peer_host);
  smtpc__wipe(tls->offered_master, sizeof tls->offered_master);
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
  const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
  size_t n = strlen(value);
  unsigned char *buf;
  int ret;
  if (md == NULL)
    return SMTPC_ERR_NOT_SUPPORTED;
  buf = smtpc__malloc(&t->mem, sizeof t->trust_id + 1 + n);
  if (buf == NULL)
    return SMTPC_ERR_NOMEM;
  memcpy(buf, t->trust_id, sizeof t->trust_id);
  buf[sizeof t->trust_id] = (unsigned char)tag;
  memcpy(buf + sizeof t->trust_id + 1, value, n);
  ret = mbedtls_md(md, buf, sizeof t->trust_id + 1 + n, t->trust_id);
  smtpc__free(&t->mem, buf);
  return ret == 0 ? SMTPC_OK : SMTPC_ERR_INTERNAL;
}

int smtpc_tls_set_hostname(smtpc_tls *tls, const char *host) {
  unsigned char ip[16];
  size_t ip_len;
  char *copy;
  int rc;
  if (tls == NULL || host == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  rc = norm_host(&tls->mem, host, &copy, ip, &ip_len);
  if (rc != SMTPC_OK)
    return rc;
  smtpc__free(&tls->mem, tls->hostname);
  tls->hostname = copy;
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

int smtpc_tls_set_client_cert(smtpc_tls *tls, const char *certfile,
                              const char *keyfile) {
  char what[200];
  int ret;
  if (tls == NULL || certfile == NULL || keyfile == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  /* A failed call leaves no client certificate configured. */
  tls->have_own_cert = 0;
  mbedtls_x509_crt_free(&tls->own_cert);
  mbedtls_x509_crt_init(&tls->own_cert);
  mbedtls_pk_free(&tls->own_key);
  mbedtls_pk_init(&tls->own_key);

  ret = mbedtls_x509_crt_parse_file(&tls->own_cert, certfile);
  if (ret != 0) {
    (void)snprintf(what, sizeof what, "cannot load client certificate %s",
                   certfile);
    goto fail;
  }
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
  /* 3.x: the RNG blinds private-key operations during parsing. */
  ret = mbedtls_pk_parse_keyfile(&tls->own_key, keyfile, NULL,
                                 mbedtls_ctr_drbg_random, &tls->drbg);
#else
  ret = mbedtls_pk_parse_keyfile(&tls->own_key, keyfile, NULL);
#endif
  if (ret != 0) {
    (void)snprintf(what, sizeof what, "cannot load client key %s", keyfile);
    goto fail;
  }
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
  ret = mbedtls_pk_check_pair(&tls->own_cert.pk, &tls->own_key,
                              mbedtls_ctr_drbg_random, &tls->drbg);
#else
  ret = mbedtls_pk_check_pair(&tls->own_cert.pk, &tls->own_key);
#endif
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
  mbedtls_x509_crt_free(&tls->own_cert);
  mbedtls_x509_crt_init(&tls->own_cert);
  mbedtls_pk_free(&tls->own_key);
  mbedtls_pk_init(&tls->own_key);
  return SMTPC_ERR_CERTIFICATE;
}

void smtpc_tls_insecure_skip_verify(smtpc_tls *tls, int yes) {
  if (tls != NULL)
    tls->skip_verify = yes != 0;
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
  set_err(t, "no trusted CA certificates: system bundle %s not found "
             "(use smtpc_tls_set_cafile)",
          ca_bundles[0]);
  return SMTPC_ERR_CERTIFICATE;
}

/* ---- verification -------------------------------------------------------- */

/* Collects the names of a server certificate for messages: dNSName and
 * iPAddress entries of subjectAltName, else the subject CN (only shown,
 * never matched). */
static void collect_names(smtpc_tls *t, const mbedtls_x509_crt *crt) {
  const mbedtls_x509_sequence *san;
  const mbedtls_x509_name *name;
  char *out = t->leaf_names;
  size_t cap = sizeof t->leaf_names, shown = 0, more = 0;

  out[0] = '\0';
  for (san = &crt->subject_alt_names; san != NULL; san = san->next) {
    const mbedtls_x509_buf *b = &san->buf;
    char ipbuf[48];
    if (b->p == NULL || b->len == 0 ||
        (b->tag != SAN_TAG_DNS && b->tag != SAN_TAG_IP))
      continue;
    if (shown == 3 || strlen(out) + 24 > cap) {
      more++;
      continue;
    }
    if (shown > 0)
      append_str(out, cap, shown == 1 ? " (or " : ", ");
    if (b->tag == SAN_TAG_DNS) {
      append_printable(out, cap, b->p, b->len);
    } else {
      format_ip(ipbuf, sizeof ipbuf, b->p, b->len);
      append_str(out, cap, ipbuf);
    }
    shown++;
  }
  if (shown > 1) {
    if (more > 0) {
      char tail[40];
      (void)snprintf(tail, sizeof tail, " and %lu more",
                     (unsigned long)more);
      append_str(out, cap, tail);
    }
    append_str(out, cap, ")");
  }
  if (shown > 0)
    return;
  for (name = &crt->subject; name != NULL; name = name->next) {
    if (name->oid.p != NULL && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &name->oid) == 0) {
      append_printable(out, cap, name->val.p, name->val.len);
      return;
    }
  }
  append_str(out, cap, "no name");
}

/* 1 if the certificate lists the address being verified as an iPAddress. */
static int ip_matches(const smtpc_tls *t, const mbedtls_x509_crt *crt) {
  const mbedtls_x509_sequence *san;
  for (san = &crt->subject_alt_names; san != NULL; san = san->next)
    if (san->buf.tag == SAN_TAG_IP && san->buf.len == t->ip_len &&
        san->buf.p != NULL && memcmp(san->buf.p, t->ip, t->ip_len) == 0)
      return 1;
  return 0;
}

/* 1 if p[0..n) equals s[0..n), ignoring ASCII case (p may hold any byte). */
static int same_nocase(const unsigned char *p, const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned a = p[i], b = (unsigned char)s[i];
    if (a >= 'A' && a <= 'Z')
      a += 'a' - 'A';
    if (b >= 'A' && b <= 'Z')
      b += 'a' - 'A';
    if (a != b)
      return 0;
  }
  return 1;
}

/* 1 if p[0..n) is at least two labels, none empty ("example.test"). */
static int two_labels(const unsigned char *p, size_t n) {
  size_t i, labels = 1, len = 0;
  for (i = 0; i < n; i++) {
    if (p[i] != '.') {
      len++;
    } else if (len == 0) {
      return 0;
    } else {
      labels++;
      len = 0;
    }
  }
  return len > 0 && labels >= 2;
}

/* 1 if the dNSName id[0..n) names host (RFC 9525 section 6.3): equal
 * ignoring case, or "*." then at least two labels, where the "*" stands for
 * exactly the first label of host.  So "*.example.test" names
 * "a.example.test" but neither "example.test" nor "a.b.example.test";
 * "*.test" names nothing; "f*.example.test" is no wildcard. */
static int dns_id_matches(const unsigned char *id, size_t n,
                          const char *host) {
  size_t hn = strlen(host);
  const char *dot;
  if (n < 2 || id[0] != '*' || id[1] != '.')
    return n == hn && same_nocase(id, host, n);
  id += 2;
  n -= 2;
  dot = memchr(host, '.', hn);
  if (!two_labels(id, n) || dot == NULL || dot == host)
    return 0;
  return hn - (size_t)(dot + 1 - host) == n && same_nocase(id, dot + 1, n);
}

/* DNS-ID (RFC 9525): 1 if a dNSName entry of subjectAltName names the
 * server.  *seen: whether there was any dNSName entry at all.  The subject
 * CN does not count, whatever mbedTLS would do. */
static int dns_matches(const smtpc_tls *t, const mbedtls_x509_crt *crt,
                       int *seen) {
  const mbedtls_x509_sequence *san;
  *seen = 0;
  for (san = &crt->subject_alt_names; san != NULL; san = san->next) {
    if (san->buf.tag != SAN_TAG_DNS || san->buf.p == NULL)
      continue;
    *seen = 1;
    if (dns_id_matches(san->buf.p, san->buf.len, t->peer_host))
      return 1;
  }
  return 0;
}

/* Called by mbedTLS for each certificate of the chain, the top first and
 * the server's own (depth 0) last; may add flags. */
static int verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth,
                     uint32_t *flags) {
  smtpc_tls *t = ctx;
  if (*flags & (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE)) {
    t->time_depth = depth;
    t->time_flags = *flags;
    t->time_from = crt->valid_from;
    t->time_to = crt->valid_to;
  }
  if (depth != 0)
    return 0;
  collect_names(t, crt);
  t->leaf_self_signed =
      crt->issuer_raw.len == crt->subject_raw.len &&
      crt->issuer_raw.p != NULL && crt->subject_raw.p != NULL &&
      memcmp(crt->issuer_raw.p, crt->subject_raw.p, crt->subject_raw.len) ==
          0;
  /* IP-ID (RFC 9525 section 6.4): mbedTLS was given no host name for an
   * address (see begin_handshake), so this is the only name check.  DNS-ID:
   * ours is stricter than mbedTLS's (see the top of this file). */
  if (t->ip_len != 0) {
    if (!ip_matches(t, crt))
      *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
  } else if (t->peer_host != NULL) {
    int seen;
    if (!dns_matches(t, crt, &seen))
      *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
    t->leaf_no_dns = !seen;
  }
  return 0;
}

/* Sets verify and the message from mbedTLS verification flags. */
static int cert_error(smtpc_tls *t, uint32_t flags) {
  const char *ca = t->time_depth > 0 ? "CA certificate" : "certificate";
  if (t->leaf_names[0] == '\0') /* the callback never saw the certificate */
    (void)snprintf(t->leaf_names, sizeof t->leaf_names, "the server");
  if (flags & MBEDTLS_X509_BADCERT_REVOKED) {
    t->verify = SMTPC_TLS_VERIFY_REVOKED;
    set_err(t, "certificate for %s has been revoked", t->leaf_names);
  } else if (flags & MBEDTLS_X509_BADCERT_MISSING) {
    t->verify = SMTPC_TLS_VERIFY_OTHER;
    set_err(t, "server sent no certificate");
  } else if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
    t->verify = SMTPC_TLS_VERIFY_UNKNOWN_CA;
    if (t->leaf_self_signed)
      set_err(t, "certificate for %s is self-signed (not issued by a "
                 "trusted CA)", t->leaf_names);
    else
      set_err(t, "certificate for %s is not issued by a trusted CA",
              t->leaf_names);
  } else if (flags & MBEDTLS_X509_BADCERT_EXPIRED) {
    const mbedtls_x509_time *d = &t->time_to;
    t->verify = SMTPC_TLS_VERIFY_EXPIRED;
    set_err(t, "%s has expired (not valid after %04d-%02d-%02d %02d:%02d:%02d "
               "UTC)", ca, d->year, d->mon, d->day, d->hour, d->min, d->sec);
  } else if (flags & MBEDTLS_X509_BADCERT_FUTURE) {
    const mbedtls_x509_time *d = &t->time_from;
    t->verify = SMTPC_TLS_VERIFY_EXPIRED;
    set_err(t, "%s is not yet valid (not before %04d-%02d-%02d "
               "%02d:%02d:%02d UTC)", ca, d->year, d->mon, d->day, d->hour,
            d->min, d->sec);
  } else if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
    const char *host = t->peer_host != NULL ? t->peer_host : "(no name)";
    t->verify = SMTPC_TLS_VERIFY_HOSTNAME;
    if (t->leaf_no_dns)
      set_err(t, "certificate has no DNS name in subjectAltName to match %s "
                 "(the subject CN is not used, RFC 9525)", host);
    else
      set_err(t, "certificate is for %s, not %s", t->leaf_names, host);
  } else {
    char info[200] = "";
#if !defined(MBEDTLS_X509_REMOVE_INFO)
    char *nl;
    if (mbedtls_x509_crt_verify_info(info, sizeof info, "", flags) < 0)
      info[0] = '\0';
    nl = strchr(info, '\n');
    if (nl != NULL)
      *nl = '\0';
#endif
    t->verify = SMTPC_TLS_VERIFY_OTHER;
    if (info[0] != '\0')
      set_err(t, "certificate rejected: %s", info);
    else
      set_err(t, "certificate rejected (verification flags 0x%lx)",
              (unsigned long)flags);
  }
  return SMTPC_ERR_CERTIFICATE;
}

/* ---- state helpers ------------------------------------------------------- */

static int fail(smtpc_tls *t, int code) {
  t->state = ST_FAILED;
  t->fail_code = code;
  return code;
}

/* Maps a fatal mbedTLS result of a handshake, read or write to an smtpc
 * error (with its message).  what: "during the TLS handshake", ... */
static int map_error(smtpc_tls *t, int ret, const char *what) {
  char buf[96];
  if (t->lower_err != 0) {
    set_err(t, "transport failed %s: %s", what, smtpc_strerror(t->lower_err));
    return t->lower_err;
  }
  if (ret == MBEDTLS_ERR_SSL_CONN_EOF) {
    set_err(t, "server closed the connection %s", what);
    return SMTPC_ERR_EOF;
  }
  if (ret == MBEDTLS_ERR_SSL_ALLOC_FAILED) {
    set_err(t, "out of memory %s", what);
    return SMTPC_ERR_NOMEM;
  }
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
  if (ret == MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION) {
#else
  if (ret == MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION) {
#endif
    set_err(t, "server does not support TLS 1.2 or later");
    return SMTPC_ERR_TLS;
  }
  if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE &&
      t->state == ST_HANDSHAKE && t->lower_in <= SMTPC__TLS_ALERT_BYTES) {
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

/* ---- session cache (resumption) ------------------------------------------ */

static void cache_lock(smtpc_tls_cache *c) {
#ifdef SMTPC_HAVE_PTHREADS
  (void)pthread_mutex_lock(&c->lock);
#else
  (void)c;
#endif
}

static void cache_unlock(smtpc_tls_cache *c) {
#ifdef SMTPC_HAVE_PTHREADS
  (void)pthread_mutex_unlock(&c->lock);
#else
  (void)c;
#endif
}

int smtpc_tls_cache_new(smtpc_tls_cache **out, const smtpc_mem *mem) {
  smtpc_mem m;
  smtpc_tls_cache *c;
  size_t i;
  int rc;
  if (out == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  c = smtpc__new_object(&m, mem, sizeof *c, &rc);
  if (c == NULL)
    return rc;
  c->mem = m;
#ifdef SMTPC_HAVE_PTHREADS
  if (pthread_mutex_init(&c->lock, NULL) != 0) {
    smtpc__free(&m, c);
    return SMTPC_ERR_INTERNAL;
  }
#endif
  for (i = 0; i < SMTPC__TLS_CACHE_SLOTS; i++)
    mbedtls_ssl_session_init(&c->e[i].sess);
  *out = c;
  return SMTPC_OK;
}

/* Empties a slot; mbedTLS zeroises the session's secrets as it frees. */
static void entry_clear(smtpc_tls_cache *c, cache_entry *e) {
  smtpc__free(&c->mem, e->host);
  e->host = NULL;
  mbedtls_ssl_session_free(&e->sess);
  mbedtls_ssl_session_init(&e->sess);
}

void smtpc_tls_cache_free(smtpc_tls_cache *cache) {
  smtpc_mem m;
  size_t i;
  if (cache == NULL)
    return;
  for (i = 0; i < SMTPC__TLS_CACHE_SLOTS; i++)
    entry_clear(cache, &cache->e[i]);
#ifdef SMTPC_HAVE_PTHREADS
  (void)pthread_mutex_destroy(&cache->lock);
#endif
  m = cache->mem;
  smtpc__free(&m, cache);
}

int smtpc_tls_set_cache(smtpc_tls *tls, smtpc_tls_cache *cache) {
  if (tls == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;
  tls->cache = cache;
  return SMTPC_OK;
}

/* The slot for t's handshake (same server name, trust settings and
 * verification switch), or NULL.  The cache is locked. */
static cache_entry *cache_find(smtpc_tls_cache *c, const smtpc_tls *t) {
  size_t i;
  for (i = 0; i < SMTPC__TLS_CACHE_SLOTS; i++) {
    cache_entry *e = &c->e[i];
    if (e->host != NULL && e->skip_verify == t->skip_verify &&
        strcmp(e->host, t->peer_host) == 0 &&
        memcmp(e->trust_id, t->trust_id, sizeof e->trust_id) == 0)
      return e;
  }
  return NULL;
}

/* Before the handshake: offers the cached session, if any.  The server may
 * resume it (no certificate, no key exchange: RFC 5246 7.3 abbreviated
 * handshake) or ignore it (a full handshake, verified as always). */
static void cache_offer(smtpc_tls *t) {
  cache_entry *e;
  t->offered = 0;
  if (t->cache == NULL || t->peer_host == NULL)
    return;
  cache_lock(t->cache);
  e = cache_find(t->cache, t);
  if (e != NULL && mbedtls_ssl_set_session(&t->ssl, &e->sess) == 0) {
    t->offered = 1;
    memcpy(t->offered_master, e->sess.SMTPC__MBED_PRIV(master),
           sizeof t->offered_master);
    e->used = ++t->cache->clock;
  }
  cache_unlock(t->cache);
}

/* After a successful handshake: keeps its session (with a new ticket, if
 * the server sent one) for the next connection.  Best effort: a failure
 * here only means the next handshake is a full one. */
static void cache_store(smtpc_tls *t) {
  mbedtls_ssl_session sess;
  cache_entry *e;
  char *host;
  size_t i;
  if (t->cache == NULL || t->peer_host == NULL)
    return;
  host = smtpc__strdup(&t->cache->mem, t->peer_host);
  if (host == NULL)
    return;
  mbedtls_ssl_session_init(&sess);
  if (mbedtls_ssl_get_session(&t->ssl, &sess) != 0) {
    mbedtls_ssl_session_free(&sess);
    smtpc__free(&t->cache->mem, host);
    return;
  }
  cache_lock(t->cache);
  e = cache_find(t->cache, t);
  if (e == NULL) {
    e = &t->cache->e[0];
    for (i = 1; i < SMTPC__TLS_CACHE_SLOTS && e->host != NULL; i++)
      if (t->cache->e[i].host == NULL || t->cache->e[i].used < e->used)
        e = &t->cache->e[i];
    entry_clear(t->cache, e);
    e->host = host;
    host = NULL;
    memcpy(e->trust_id, t->trust_id, sizeof e->trust_id);
    e->skip_verify = t->skip_verify;
  } else {
    mbedtls_ssl_session_free(&e->sess);
  }
  e->sess = sess; /* the slot owns what sess pointed to now */
  e->used = ++t->cache->clock;
  cache_unlock(t->cache);
  /* The copy on the stack holds the master secret (and with TLS 1.3 the
   * resumption key): wipe it, without freeing what the slot now owns. */
  mbedtls_platform_zeroize(&sess, sizeof sess);
  smtpc__free(&t->cache->mem, host);
}

/* After a failed handshake that offered a session: forgets it, so a
 * session the server chokes on is not offered again. */
static void cache_drop(smtpc_tls *t) {
  cache_entry *e;
  if (t->cache == NULL || !t->offered)
    return;
  cache_lock(t->cache);
  e = cache_find(t->cache, t);
  if (e != NULL)
    entry_clear(t->cache, e);
  cache_unlock(t->cache);
}

/* ---- handshake ------------------------------------------------------------ */

/* Sets this handshake's server name: the configured one, else the one the
 * session passes to starttls(). */
static int begin_handshake(smtpc_tls *t, const char *servername) {
  const char *name = t->hostname != NULL ? t->hostname : servername;
  int ret, rc;

  smtpc__free(&t->mem, t->peer_host);
  t->peer_host = NULL;
  t->ip_len = 0;
  if (name != NULL) {
    rc = norm_host(&t->mem, name, &t->peer_host, t->ip, &t->ip_len);
    if (rc == SMTPC_ERR_BAD_ARGUMENT)
      set_err(t, "invalid server name for TLS");
    if (rc != SMTPC_OK)
      return rc;
  }
  if (!t->skip_verify && t->peer_host == NULL) {
    t->verify = SMTPC_TLS_VERIFY_HOSTNAME;
    set_err(t, "no server name to verify the certificate against "
               "(smtpc_tls_set_hostname)");
    return SMTPC_ERR_CERTIFICATE;
  }
  mbedtls_ssl_conf_authmode(&t->conf, t->skip_verify
                                          ? MBEDTLS_SSL_VERIFY_NONE
                                          : MBEDTLS_SSL_VERIFY_REQUIRED);
  /* A DNS name goes to mbedTLS for SNI and its name check.  For an address
   * an explicit NULL: no SNI, and (mbedTLS >= 2.28.10 / 3.6.3) the explicit
   * "no host name" that keeps verification from failing with
   * MBEDTLS_ERR_SSL_CERTIFICATE_VERIFICATION_WITHOUT_HOSTNAME; verify_cb
   * checks the address instead. */
  ret = mbedtls_ssl_set_hostname(
      &t->ssl, t->peer_host != NULL && t->ip_len == 0 ? t->peer_host : NULL);
  if (ret != 0) {
    set_mbed_err(t, "cannot set the TLS server name", ret);
    return ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? SMTPC_ERR_NOMEM
                                               : SMTPC_ERR_TLS;
  }
  t->host_applied = 1;
  cache_offer(t);
  return SMTPC_OK;
}

/* Runs or continues the handshake. */
static int handshake(smtpc_tls *t) {
  int ret = 0, i, rc;
  uint32_t flags;

  if (!t->host_applied) {
    rc = begin_handshake(t, NULL);
    if (rc != SMTPC_OK)
      return fail(t, rc);
  }
  for (i = 0; i < SMTPC__TLS_RETRIES; i++) {
    t->lower_err = 0;
    ret = mbedtls_ssl_handshake(&t->ssl);
#ifdef MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
    /* 3.x, TLS 1.3: a ticket is reported, not an error; go on. */
    if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
      continue;
#endif
    break;
  }
  if (ret == 0) {
    const char *suite = mbedtls_ssl_get_ciphersuite(&t->ssl);
    const mbedtls_ssl_session *now = t->ssl.SMTPC__MBED_PRIV(session);
    t->state = ST_ACTIVE;
    t->verify = SMTPC_TLS_VERIFY_OK;
    t->err[0] = '\0';
    /* Resumed: the server took the offered session, so the master secret
     * is the offered one (a full handshake makes a fresh random one). */
    t->resumed = t->offered && now != NULL &&
                 memcmp(t->offered_master, now->SMTPC__MBED_PRIV(master),
                        sizeof t->offered_master) == 0;
    smtpc__wipe(t->offered_master, sizeof t->offered_master);
    (void)snprintf(t->desc, sizeof t->desc, "%s %s%s",
                   mbedtls_ssl_get_version(&t->ssl),
                   suite != NULL ? suite : "?",
                   t->resumed ? " (resumed)" : "");
    cache_store(t);
    return SMTPC_OK;
  }
  if (ret == MBEDTLS_ERR_SSL_WANT_READ)
    return SMTPC_ERR_WANT_READ;
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
    return SMTPC_ERR_WANT_WRITE;
#ifdef MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
  if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
    return SMTPC_ERR_WANT_READ; /* retries used up: call again */
#endif
  cache_drop(t);
  smtpc__wipe(t->offered_master, sizeof t->offered_master);
  flags = mbedtls_ssl_get_verify_result(&t->ssl);
  if (!t->skip_verify && t->lower_err == 0 && flags != 0 &&
      flags != UINT32_MAX)
    return fail(t, cert_error(t, flags));
  return fail(t, map_error(t, ret, "during the TLS handshake"));
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
    t->lower_err = SMTPC_ERR_CALLBACK; /* claimed more than asked for */
    return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
  }
  if (n < 0) {
    t->lower_err = (int)n;
    return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
  }
  return (int)n;
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len) {
  smtpc_tls *t = ctx;
  smtpc_ssize n;
  if (len > INT_MAX)
    len = INT_MAX;
  n = t->lower.send(t->lower.ctx, buf, len);
  if (n == 0 && len > 0) {
    t->lower_err = SMTPC_ERR_IO; /* no progress and no reason */
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
  n = t->lower.recv(t->lower.ctx, buf, len);
  if (n > 0 && n <= (smtpc_ssize)len)
    t->lower_in += (unsigned long)n;
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
  if (!t->out_pending)
    return 0;
  t->lower_err = 0;
  ret = mbedtls_ssl_write(&t->ssl, none, 0);
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == MBEDTLS_ERR_SSL_WANT_READ)
    return ret;
  t->out_pending = 0;
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
    t->lower_err = 0;
    ret = mbedtls_ssl_write(&t->ssl, buf, len);
#ifdef MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
    if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
      continue;
#endif
    break;
  }
  if (ret > 0)
    return ret;
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == 0)
    return SMTPC_ERR_WANT_WRITE;
  if (ret == MBEDTLS_ERR_SSL_WANT_READ)
    return SMTPC_ERR_WANT_READ;
#ifdef MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
  if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
    return SMTPC_ERR_WANT_WRITE;
#endif
  return fail(t, map_error(t, ret, "while sending"));
}

static smtpc_ssize tls_read(smtpc_tls *t, unsigned char *buf, size_t len) {
  int ret = 0, i;
  if (len > INT_MAX)
    len = INT_MAX;
  for (i = 0; i < SMTPC__TLS_RETRIES; i++) {
    unsigned long before = t->lower_in;
    ret = flush_pending(t);
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == MBEDTLS_ERR_SSL_WANT_READ)
      return ret == MBEDTLS_ERR_SSL_WANT_WRITE ? SMTPC_ERR_WANT_WRITE
                                               : SMTPC_ERR_WANT_READ;
    if (ret != 0)
      return fail(t, map_error(t, ret, "while sending"));
    t->lower_err = 0;
    ret = mbedtls_ssl_read(&t->ssl, buf, len);
    if (ret > 0)
      return ret;
    if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
        ret == MBEDTLS_ERR_SSL_CONN_EOF)
      /* End of stream, with or without close_notify: SMTP replies are
       * self-delimiting, so a truncated reply is seen by the parser. */
      return 0;
#ifdef MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
    if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
      continue;
#endif
    if (ret == MBEDTLS_ERR_SSL_WANT_READ) {
      /* The call may have consumed a record without application data (a
       * warning alert, a HelloRequest that was refused): if it made
       * progress, or mbedTLS holds more input, read again rather than
       * have the caller wait for the transport. */
      if (mbedtls_ssl_check_pending(&t->ssl) || t->lower_in != before)
        continue;
      return SMTPC_ERR_WANT_READ;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
      t->out_pending = 1;
      return SMTPC_ERR_WANT_WRITE;
    }
    return fail(t, map_error(t, ret, "while receiving"));
  }
  return SMTPC_ERR_WANT_READ; /* retries used up: call again */
}

/* ---- smtpc_io callbacks -------------------------------------------------- */

static smtpc_ssize io_send(void *ctx, const unsigned char *buf, size_t len) {
  smtpc_tls *t = ctx;
  int rc;
  switch (t->state) {
  case ST_CLEAR:
    return t->lower.send(t->lower.ctx, buf, len);
  case ST_HANDSHAKE:
    rc = handshake(t);
    if (rc != SMTPC_OK)
      return rc;
    break;
  case ST_ACTIVE:
    break;
  case ST_FAILED:
    return t->fail_code;
  case ST_NEW:
  case ST_CLOSED:
  default:
    return SMTPC_ERR_INVALID_STATE;
  }
  return tls_write(t, buf, len);
}

static smtpc_ssize io_recv(void *ctx, unsigned char *buf, size_t len) {
  smtpc_tls *t = ctx;
  int rc;
  switch (t->state) {
  case ST_CLEAR:
    /* Exactly the caller's request: no read-ahead before the upgrade. */
    return t->lower.recv(t->lower.ctx, buf, len);
  case ST_HANDSHAKE:
    rc = handshake(t);
    if (rc != SMTPC_OK)
      return rc;
    break;
  case ST_ACTIVE:
    break;
  case ST_FAILED:
    return t->fail_code;
  case ST_NEW:
  case ST_CLOSED:
  default:
    return SMTPC_ERR_INVALID_STATE;
  }
  if (len == 0) /* 0 would read as end of stream */
    return SMTPC_ERR_INVALID_ARGUMENT;
  return tls_read(t, buf, len);
}

static int io_starttls(void *ctx, const char *servername) {
  smtpc_tls *t = ctx;
  int rc;
  if (t->implicit)
    return SMTPC_ERR_INVALID_STATE; /* implicit TLS: no second layer */
  switch (t->state) {
  case ST_CLEAR:
    rc = begin_handshake(t, servername);
    if (rc != SMTPC_OK)
      return fail(t, rc);
    t->state = ST_HANDSHAKE;
    return handshake(t);
  case ST_HANDSHAKE: /* called again after a would-block */
    return handshake(t);
  case ST_FAILED:
    return t->fail_code;
  case ST_NEW:
  case ST_ACTIVE:
  case ST_CLOSED:
  default:
    return SMTPC_ERR_INVALID_STATE;
  }
}

static void io_set_timeout(void *ctx, unsigned timeout_ms) {
  smtpc_tls *t = ctx;
  if (t->lower.set_timeout != NULL)
    t->lower.set_timeout(t->lower.ctx, timeout_ms);
}

static void io_close(void *ctx) {
  smtpc_tls *t = ctx;
  if (t->state == ST_ACTIVE) {
    /* Best effort over a non-blocking transport: a few attempts, then the
     * connection is closed anyway (RFC 8446 6.1 allows closing without
     * waiting for the peer's close_notify). */
    int i;
    for (i = 0; i < SMTPC__TLS_CLOSE_TRIES; i++) {
      int ret;
      t->lower_err = 0;
      ret = mbedtls_ssl_close_notify(&t->ssl);
      if (ret != MBEDTLS_ERR_SSL_WANT_WRITE && ret != MBEDTLS_ERR_SSL_WANT_READ)
        break;
    }
  }
  if (t->state != ST_NEW)
    t->state = ST_CLOSED;
  if (t->lower.close != NULL)
    t->lower.close(t->lower.ctx);
}

static int io_is_secure(void *ctx) {
  const smtpc_tls *t = ctx;
  return t->state == ST_ACTIVE;
}

/* ---- wrap ---------------------------------------------------------------- */

/* TLS 1.2 is the minimum (RFC 8314 section 4.1, RFC 8996). */
static void set_min_version(mbedtls_ssl_config *conf) {
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
  mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
#elif MBEDTLS_VERSION_NUMBER >= 0x03000000
  (void)conf; /* 3.0 and 3.1 have no TLS below 1.2 */
#else
  mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                               MBEDTLS_SSL_MINOR_VERSION_3);
#endif
}

#if MBEDTLS_VERSION_NUMBER < 0x03000000 && defined(MBEDTLS_ECP_C)
/* Key exchange curves, most preferred first.  mbedTLS 2.x offers them in
 * its internal order, secp521r1 first, and servers commonly follow the
 * client's order (OpenSSL does unless told to prefer its own, e.g. Postfix
 * by default): every handshake then paid two P-521 multiplications, ~90 %
 * of a STARTTLS + AUTH session's instructions (bench/RESULTS.md).  This is
 * mbedTLS 3.x's default list, where x25519 and P-256 come first; the
 * weaker or rarely used curves of 2.x's list (192/224 bit, secp256k1) are
 * left out, as 3.x does. */
static const mbedtls_ecp_group_id curves[] = {
#if defined(MBEDTLS_ECP_DP_CURVE25519_ENABLED)
    MBEDTLS_ECP_DP_CURVE25519,
#endif
#if defined(MBEDTLS_ECP_DP_SECP256R1_ENABLED)
    MBEDTLS_ECP_DP_SECP256R1,
#endif
#if defined(MBEDTLS_ECP_DP_SECP384R1_ENABLED)
    MBEDTLS_ECP_DP_SECP384R1,
#endif
#if defined(MBEDTLS_ECP_DP_CURVE448_ENABLED)
    MBEDTLS_ECP_DP_CURVE448,
#endif
#if defined(MBEDTLS_ECP_DP_SECP521R1_ENABLED)
    MBEDTLS_ECP_DP_SECP521R1,
#endif
#if defined(MBEDTLS_ECP_DP_BP256R1_ENABLED)
    MBEDTLS_ECP_DP_BP256R1,
#endif
#if defined(MBEDTLS_ECP_DP_BP384R1_ENABLED)
    MBEDTLS_ECP_DP_BP384R1,
#endif
#if defined(MBEDTLS_ECP_DP_BP512R1_ENABLED)
    MBEDTLS_ECP_DP_BP512R1,
#endif
    MBEDTLS_ECP_DP_NONE};
#endif

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

int smtpc_tls_wrap(smtpc_tls *tls, const smtpc_io *lower, smtpc_io *out) {
  smtpc_tls *t = tls;
  int ret, rc;

  if (t == NULL || lower == NULL || out == NULL ||
      lower->version != SMTPC_IO_VERSION || lower->send == NULL ||
      lower->recv == NULL)
    return SMTPC_ERR_INVALID_ARGUMENT;

  /* A new connection: forget everything about the previous one. */
  mbedtls_ssl_free(&t->ssl);
  mbedtls_ssl_config_free(&t->conf);
  mbedtls_ssl_init(&t->ssl);
  mbedtls_ssl_config_init(&t->conf);
  smtpc__free(&t->mem, t->peer_host);
  t->peer_host = NULL;
  t->ip_len = 0;
  t->state = ST_NEW;
  t->fail_code = 0;
  t->host_applied = 0;
  t->lower_err = 0;
  t->out_pending = 0;
  t->offered = 0;
  t->resumed = 0;
  smtpc__wipe(t->offered_master, sizeof t->offered_master);
  t->lower_in = 0;
  t->verify = SMTPC_TLS_VERIFY_OK;
  t->err[0] = '\0';
  t->desc[0] = '\0';
  t->leaf_names[0] = '\0';
  t->leaf_self_signed = 0;
  t->leaf_no_dns = 0;
  t->time_depth = 0;
  t->time_flags = 0;

  if (!t->skip_verify && !t->have_ca) {
    rc = load_system_ca(t);
    if (rc != SMTPC_OK)
      return rc;
  }
  ret = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT,
                                    MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret != 0)
    goto mbed_fail;
  set_min_version(&t->conf);
  if (pick_suites(t) == 0) {
    set_err(t, "TLS set-up failed: this mbedTLS has none of the cipher "
               "suites libsmtpc offers (ECDHE with AES-GCM or "
               "ChaCha20-Poly1305)");
    return SMTPC_ERR_TLS;
  }
  mbedtls_ssl_conf_ciphersuites(&t->conf, t->suites);
#if MBEDTLS_VERSION_NUMBER < 0x03000000 && defined(MBEDTLS_ECP_C)
  mbedtls_ssl_conf_curves(&t->conf, curves);
#endif
  mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
  mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  if (t->have_ca)
    mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
  mbedtls_ssl_conf_verify(&t->conf, verify_cb, t);
  if (t->have_own_cert) {
    ret = mbedtls_ssl_conf_own_cert(&t->conf, &t->own_cert, &t->own_key);
    if (ret != 0)
      goto mbed_fail;
  }
  ret = mbedtls_ssl_setup(&t->ssl, &t->conf);
  if (ret != 0)
    goto mbed_fail;
  mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);

  t->lower = *lower;
  t->state = t->implicit ? ST_HANDSHAKE : ST_CLEAR;
  memset(out, 0, sizeof *out);
  out->version = SMTPC_IO_VERSION;
  out->ctx = t;
  out->send = io_send;
  out->recv = io_recv;
  out->starttls = io_starttls;
  out->set_timeout = io_set_timeout;
  out->close = io_close;
  out->is_secure = io_is_secure;
  return SMTPC_OK;

mbed_fail:
  set_mbed_err(t, "TLS set-up failed", ret);
  return ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? SMTPC_ERR_NOMEM : SMTPC_ERR_TLS;
}

/* ---- queries ------------------------------------------------------------- */

smtpc_tls_verify smtpc_tls_verify_result(const smtpc_tls *tls) {
  return tls == NULL ? SMTPC_TLS_VERIFY_OK : tls->verify;
}

const char *smtpc_tls_last_error(const smtpc_tls *tls) {
  return tls == NULL ? "" : tls->err;
}

int smtpc_tls_is_active(const smtpc_tls *tls) {
  return tls != NULL && tls->state == ST_ACTIVE;
}

const char *smtpc_tls_description(const smtpc_tls *tls) {
  return tls == NULL ? "" : tls->desc;
}

int smtpc_tls_is_resumed(const smtpc_tls *tls) {
  return tls != NULL && tls->state == ST_ACTIVE && tls->resumed;
}

/* ---- HMAC-MD5 for CRAM-MD5 (auth.c) -------------------------------------- */

int smtpc__hmac_md5(const unsigned char *key, size_t klen,
                    const unsigned char *msg, size_t mlen,
                    unsigned char out[16]) {
  /* NULL when this mbedTLS was built without MD5 (possible in 3.x). */
  const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_MD5);
  if (md == NULL)
    return SMTPC_ERR_NOT_SUPPORTED;
  /* mbedtls_md_hmac() zeroises its padded-key context when done. */
  if (mbedtls_md_hmac(md, key, klen, msg, mlen, out) != 0)
    return SMTPC_ERR_INTERNAL;
  return SMTPC_OK;
}
