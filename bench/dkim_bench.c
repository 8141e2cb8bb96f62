/* SPDX-License-Identifier: MIT */
/* dkim_bench -- cost, throughput and memory of DKIM signing (a benchmark,
 * not a test; bench/dkim.py runs it beside dkimpy and mailauth).
 *
 *   dkim_bench sign1k KEYFILE N [MSG]
 *       Signs a message of about 1 KiB (MSG, or a built-in 1024-octet one)
 *       N times, each through smtpc_dkim_ctx_new(), one
 *       smtpc_dkim_ctx_update() with the whole message and
 *       smtpc_dkim_ctx_final(), with one key.  Under callgrind the
 *       instructions per signature are the slope between N = 1 and
 *       N = 101: (Ir(101) - Ir(1)) / 100, so loading the key, the start-up
 *       and the exit cancel out.
 *   dkim_bench mbps KEYFILE FILE [REPS]
 *       Signs FILE through smtpc_dkim_body_new() over a rewindable
 *       smtpc_body that reads the file (fread, and fseek for the rewind),
 *       then reads the signed body to the end into a discard buffer in
 *       65536-octet calls, as a session does.  Prints MB/s (10^6 octets of
 *       FILE per wall-clock second, best of REPS, default 3) of the whole
 *       (both passes) and of the first pass alone, the same by CPU time
 *       (getrusage: user + system, best of REPS; a loaded machine stretches
 *       the wall clock), and the fields.
 *   dkim_bench rss KEYFILE FILE [nosign]
 *       The same send-like read of the whole body, once, signed or (with
 *       nosign: the key is not even loaded) the plain file body; prints the
 *       peak RSS (getrusage ru_maxrss, and VmHWM from /proc/self/status)
 *       before and after.
 *
 * KEYFILE "callback" signs through smtpc_dkim_set_signer() with a callback
 * that returns 64 fixed octets: canonicalization and hashing without the
 * public-key operation.  The signatures carry a fixed t= so that every run
 * signs the same bytes. */
#include <smtpc/smtpc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define CHUNK 65536
#define SIGN_TIME 1767225600 /* 2026-01-01T00:00:00Z */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* User + system CPU seconds of this process so far. */
static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long maxrss_kib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss; /* KiB on Linux */
}

/* The peak RSS of this program's own memory (VmHWM): unlike ru_maxrss it
 * does not start from the high-water mark of the process that started it
 * (Linux carries that over fork and exec: from Python that is ~15 MiB). */
static long vmhwm_kib(void) {
  char line[256];
  long v = -1;
  FILE *f = fopen("/proc/self/status", "r");
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof(line), f) != NULL)
    if (strncmp(line, "VmHWM:", 6) == 0) {
      v = strtol(line + 6, NULL, 10);
      break;
    }
  fclose(f);
  return v;
}

static void die(const char *what, int rv) {
  fprintf(stderr, "dkim_bench: %s: %s\n", what, smtpc_strerror(rv));
  exit(1);
}

static void usage(void) {
  fprintf(stderr, "usage: dkim_bench sign1k KEYFILE N [MSG]\n"
                  "       dkim_bench mbps KEYFILE FILE [REPS]\n"
                  "       dkim_bench rss KEYFILE FILE [nosign]\n");
  exit(2);
}

static int use_callback; /* KEYFILE "callback" */

static const char *algo_name(const smtpc_dkim *k) {
  if (use_callback)
    return "callback (no public-key operation)";
  switch (smtpc_dkim_algo_of(k)) {
  case SMTPC_DKIM_RSA_SHA256: return "rsa-sha256";
  case SMTPC_DKIM_ED25519_SHA256: return "ed25519-sha256";
  default: return "none";
  }
}

static int fixed_sign(void *user, smtpc_dkim_algo algo,
                      const unsigned char digest[32], unsigned char *sig,
                      size_t sig_size, size_t *sig_len) {
  (void)user;
  (void)algo;
  if (sig_size < 64)
    return SMTPC_ERR_DKIM_KEY;
  memset(sig, 0x5a, 64);
  sig[0] = digest[0];
  *sig_len = 64;
  return SMTPC_OK;
}

static smtpc_dkim *load_key(const char *path) {
  smtpc_dkim *k;
  int rv;
  if ((rv = smtpc_dkim_new(&k, "example.com", "bench", NULL)) != SMTPC_OK)
    die("smtpc_dkim_new", rv);
  use_callback = strcmp(path, "callback") == 0;
  if (use_callback)
    rv = smtpc_dkim_set_signer(k, SMTPC_DKIM_ED25519_SHA256, fixed_sign, NULL);
  else
    rv = smtpc_dkim_set_key_file(k, path, NULL);
  if (rv != SMTPC_OK)
    die(path, rv);
  if ((rv = smtpc_dkim_set_time(k, SIGN_TIME)) != SMTPC_OK)
    die("smtpc_dkim_set_time", rv);
  return k;
}

/* ---- sign1k -------------------------------------------------------------- */

/* A 1024-octet message in the layout of bench/mkmsg.py: a header block and
 * 78-octet body lines, CRLF. */
static size_t builtin_msg(char *out, size_t size) {
  static const char head[] = "From: Bench <bench@example.com>\r\n"
                             "To: Rcpt <rcpt0@example.com>\r\n"
                             "Subject: libsmtpc DKIM benchmark message\r\n"
                             "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
                             "Message-ID: <bench.0@bench.local>\r\n"
                             "MIME-Version: 1.0\r\n"
                             "Content-Type: text/plain; charset=us-ascii\r\n"
                             "\r\n";
  static const char alpha[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n = sizeof(head) - 1, line = 0, i;
  memcpy(out, head, n);
  while (size - n >= 78 + 4) {
    for (i = 0; i < 76; i++)
      out[n + i] = alpha[(line + i) % 64];
    out[n + 76] = '\r';
    out[n + 77] = '\n';
    n += 78;
    line++;
  }
  memset(out + n, 'z', size - n - 2);
  out[size - 2] = '\r';
  out[size - 1] = '\n';
  return size;
}

static char *read_small(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *p;
  long n;
  if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
      n > 16L * 1024 * 1024 || fseek(f, 0, SEEK_SET) != 0) {
    perror(path);
    exit(1);
  }
  if ((p = malloc((size_t)n + 1)) == NULL ||
      fread(p, 1, (size_t)n, f) != (size_t)n) {
    perror(path);
    exit(1);
  }
  fclose(f);
  *len = (size_t)n;
  return p;
}

static int do_sign1k(int argc, char **argv) {
  const smtpc_dkim *keys[1];
  smtpc_dkim *k;
  char *msg;
  size_t len, flen = 0;
  const char *fields = NULL;
  unsigned long n, i;
  char *end;
  if (argc < 4 || argc > 5)
    usage();
  n = strtoul(argv[3], &end, 10);
  if (*end != '\0' || n < 1)
    usage();
  if (argc == 5) {
    msg = read_small(argv[4], &len);
  } else {
    if ((msg = malloc(1024)) == NULL)
      exit(1);
    len = builtin_msg(msg, 1024);
  }
  k = load_key(argv[2]);
  keys[0] = k;
  for (i = 0; i < n; i++) {
    smtpc_dkim_ctx *c;
    int rv;
    if ((rv = smtpc_dkim_ctx_new(&c, keys, 1, 0, NULL)) != SMTPC_OK)
      die("smtpc_dkim_ctx_new", rv);
    if ((rv = smtpc_dkim_ctx_update(c, msg, len)) != SMTPC_OK)
      die("smtpc_dkim_ctx_update", rv);
    if ((rv = smtpc_dkim_ctx_final(c, &fields, &flen)) != SMTPC_OK)
      die("smtpc_dkim_ctx_final", rv);
    if (i + 1 == n)
      printf("sign1k: %lu signatures of a %zu-octet message, %s, %zu octets "
             "of fields:\n%.*s",
             n, len, algo_name(k), flen, (int)flen, fields);
    smtpc_dkim_ctx_free(c);
  }
  smtpc_dkim_free(k);
  free(msg);
  return 0;
}

/* ---- a rewindable body over a FILE * --------------------------------------- */

static smtpc_ssize file_read(void *ctx, unsigned char *buf, size_t len) {
  FILE *f = ctx;
  size_t n = fread(buf, 1, len, f);
  if (n == 0 && ferror(f))
    return SMTPC_ERR_IO;
  return (smtpc_ssize)n;
}

static int file_rewind(void *ctx) {
  FILE *f = ctx;
  clearerr(f);
  return fseek(f, 0, SEEK_SET) == 0 ? SMTPC_OK : SMTPC_ERR_IO;
}

static FILE *open_body(const char *path, smtpc_body *body) {
  FILE *f = fopen(path, "rb");
  long size;
  if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
      fseek(f, 0, SEEK_SET) != 0) {
    perror(path);
    exit(1);
  }
  smtpc_body_init_stream(body, file_read, f, (int64_t)size);
  body->rewind = file_rewind;
  return f;
}

/* Reads the whole body as a session would; returns the octets read. */
static uint64_t drain(const smtpc_body *b, unsigned char *buf) {
  uint64_t total = 0;
  for (;;) {
    smtpc_ssize n = b->read(b->ctx, buf, CHUNK);
    if (n == SMTPC_ERR_WANT_READ)
      continue;
    if (n < 0)
      die("read", (int)n);
    if (n == 0)
      return total;
    total += (uint64_t)n;
  }
}

/* Signs src and reads the signed body to the end; *t1 receives the time
 * when the first pass ended.  Returns the fields' length. */
static size_t sign_and_read(const smtpc_dkim *const *keys,
                            const smtpc_body *src, unsigned char *buf,
                            double *t1, int print) {
  smtpc_dkim_body *sb;
  smtpc_body out;
  const char *fields;
  size_t flen = 0;
  uint64_t got;
  int rv;
  if ((rv = smtpc_dkim_body_new(&sb, keys, 1, src, NULL, NULL)) != SMTPC_OK)
    die("smtpc_dkim_body_new", rv);
  *t1 = now_s();
  fields = smtpc_dkim_body_fields(sb, &flen);
  smtpc_dkim_body_get(sb, &out);
  got = drain(&out, buf);
  if (out.size >= 0 && (uint64_t)out.size != got) {
    fprintf(stderr,
            "dkim_bench: signed body announced %lld octets, gave %llu\n",
            (long long)out.size, (unsigned long long)got);
    exit(1);
  }
  if (src->size >= 0 && got != (uint64_t)src->size + flen) {
    fprintf(stderr,
            "dkim_bench: signed body of %llu octets is not %lld + %zu "
            "octets of fields\n",
            (unsigned long long)got, (long long)src->size, flen);
    exit(1);
  }
  if (print)
    printf("fields (%zu octets):\n%.*s", flen, (int)flen, fields);
  smtpc_dkim_body_free(sb);
  return flen;
}

static int do_mbps(int argc, char **argv) {
  const smtpc_dkim *keys[1];
  smtpc_dkim *k;
  smtpc_body src;
  unsigned char *buf = malloc(CHUNK);
  double best = 0, best_pass1 = 0, best_cpu = 0, mb;
  unsigned long reps = 3, r;
  FILE *f;
  if (argc < 4 || argc > 5 || buf == NULL)
    usage();
  if (argc == 5 && (reps = strtoul(argv[4], NULL, 10)) < 1)
    usage();
  k = load_key(argv[2]);
  keys[0] = k;
  f = open_body(argv[3], &src);
  mb = (double)src.size / 1e6;
  for (r = 0; r < reps; r++) {
    double t0, t1, t2, c0, c1;
    if (file_rewind(f) != SMTPC_OK)
      die("rewind", SMTPC_ERR_IO);
    c0 = cpu_s();
    t0 = now_s();
    sign_and_read(keys, &src, buf, &t1, r + 1 == reps);
    t2 = now_s();
    c1 = cpu_s();
    printf("run %lu: first pass %.3f s, second pass %.3f s, %.0f MB/s; "
           "CPU %.3f s\n",
           r + 1, t1 - t0, t2 - t1, mb / (t2 - t0), c1 - c0);
    if (r == 0 || c1 - c0 < best_cpu)
      best_cpu = c1 - c0;
    if (r == 0 || t2 - t0 < best)
      best = t2 - t0;
    if (r == 0 || t1 - t0 < best_pass1)
      best_pass1 = t1 - t0;
  }
  printf("mbps: %lld octets, %s, best of %lu: %.0f MB/s signed and read "
         "(%.3f s), first pass alone %.0f MB/s (%.3f s); by CPU time "
         "(user + system) %.0f MB/s (%.3f s)\n",
         (long long)src.size, algo_name(k), reps, mb / best, best,
         mb / best_pass1, best_pass1, mb / best_cpu, best_cpu);
  fclose(f);
  smtpc_dkim_free(k);
  free(buf);
  return 0;
}

static int do_rss(int argc, char **argv) {
  const smtpc_dkim *keys[1];
  smtpc_dkim *k = NULL;
  smtpc_body src;
  unsigned char *buf = malloc(CHUNK);
  long before, after, hwm_before, hwm_after;
  double t0, t1, t2;
  int sign;
  FILE *f;
  if (argc < 4 || argc > 5 || buf == NULL)
    usage();
  if (argc == 5 && strcmp(argv[4], "nosign") != 0)
    usage();
  sign = argc == 4;
  memset(buf, 0, CHUNK); /* resident before the measurement starts */
  if (sign) {
    k = load_key(argv[2]);
    keys[0] = k;
  }
  f = open_body(argv[3], &src);
  before = maxrss_kib();
  hwm_before = vmhwm_kib();
  t0 = now_s();
  if (sign) {
    sign_and_read(keys, &src, buf, &t1, 0);
  } else {
    uint64_t got = drain(&src, buf);
    if (got != (uint64_t)src.size) {
      fprintf(stderr, "dkim_bench: read %llu of %lld octets\n",
              (unsigned long long)got, (long long)src.size);
      exit(1);
    }
    t1 = now_s();
  }
  t2 = now_s();
  after = maxrss_kib();
  hwm_after = vmhwm_kib();
  printf("rss: %lld octets, %s: peak RSS %ld KiB (%ld KiB before reading), "
         "VmHWM %ld KiB (%ld KiB before), %.2f s\n",
         (long long)src.size, sign ? algo_name(k) : "no signing", after, before,
         hwm_after, hwm_before, t2 - t0);
  (void)t1;
  fclose(f);
  smtpc_dkim_free(k);
  free(buf);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2)
    usage();
  if (strcmp(argv[1], "sign1k") == 0)
    return do_sign1k(argc, argv);
  if (strcmp(argv[1], "mbps") == 0)
    return do_mbps(argc, argv);
  if (strcmp(argv[1], "rss") == 0)
    return do_rss(argc, argv);
  usage();
  return 2;
}
