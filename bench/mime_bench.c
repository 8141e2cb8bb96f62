/* SPDX-License-Identifier: MIT */
/* mime_bench -- throughput and memory of the MIME builder's streaming
 * reader (a benchmark, not a test).
 *
 *   1. peak RSS while streaming a 1 GiB file attachment (a sparse temporary
 *      file in $TMPDIR or /tmp, deleted afterwards); measured first, before
 *      the other runs allocate anything large
 *   2. base64: a generated stream attachment through the reader
 *   3. quoted-printable: a UTF-8 text part with long lines through the
 *      reader (smtpc_msg_body() is timed apart: it encodes the text once to
 *      announce the size)
 *
 * Usage: mime_bench [-f FILE_MIB] [-b BASE64_MIB] [-q QP_MIB] [-c CHUNK]
 * Every body is read in smtpc_body::read calls of CHUNK bytes (default
 * 65536), as the session does.  MB/s are 10^6 bytes of input per second. */
#include <smtpc/smtpc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024.0 * 1024.0)

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long maxrss_kib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss; /* KiB on Linux */
}

static void die(const char *what, int rv) {
  fprintf(stderr, "mime_bench: %s: %s\n", what, smtpc_strerror(rv));
  exit(1);
}

/* Reads the whole body; returns the bytes produced. */
static uint64_t drain(const smtpc_body *b, unsigned char *buf, size_t chunk) {
  uint64_t total = 0;
  for (;;) {
    smtpc_ssize n = b->read(b->ctx, buf, chunk);
    if (n == SMTPC_ERR_WANT_READ)
      continue;
    if (n < 0)
      die("read", (int)n);
    if (n == 0)
      return total;
    total += (uint64_t)n;
  }
}

static smtpc_msg *new_msg(void) {
  smtpc_msg *m;
  int rv;
  if ((rv = smtpc_msg_new(&m, NULL)) != SMTPC_OK)
    die("smtpc_msg_new", rv);
  smtpc_msg_set_from(m, NULL, "bench@example.org");
  smtpc_msg_add_to(m, NULL, "sink@example.org");
  smtpc_msg_set_subject(m, "benchmark");
  return m;
}

/* A stream of `left` bytes cycled from a 64 KiB block of random bytes. */
typedef struct gen {
  unsigned char block[65536];
  uint64_t left;
  size_t pos;
} gen;

static smtpc_ssize gen_read(void *ctx, unsigned char *buf, size_t len) {
  gen *g = ctx;
  size_t k = sizeof(g->block) - g->pos;
  if (k > len)
    k = len;
  if (k > g->left)
    k = (size_t)g->left;
  memcpy(buf, g->block + g->pos, k);
  g->pos = (g->pos + k) % sizeof(g->block);
  g->left -= k;
  return (smtpc_ssize)k;
}

static void bench_file(unsigned file_mib, size_t chunk) {
  char path[4096];
  const char *tmp = getenv("TMPDIR");
  unsigned char *buf;
  smtpc_msg *m;
  smtpc_body b;
  FILE *f;
  long before, after;
  double t0, t1;
  uint64_t out;
  int fd, rv;
  snprintf(path, sizeof(path), "%s/mime_bench_XXXXXX",
           tmp != NULL ? tmp : "/tmp");
  fd = mkstemp(path);
  if (fd < 0 || ftruncate(fd, (off_t)file_mib * 1024 * 1024) != 0) {
    perror("mime_bench: temporary file");
    exit(1);
  }
  /* some non-zero content at the start and the end */
  f = fdopen(fd, "r+b");
  if (f == NULL) {
    perror("mime_bench: fdopen");
    exit(1);
  }
  fputs("mime_bench start", f);
  fseek(f, -14L, SEEK_END);
  fputs("mime_bench end", f);
  fclose(f);
  buf = malloc(chunk);
  if (buf == NULL)
    exit(1);
  before = maxrss_kib();
  m = new_msg();
  smtpc_msg_set_text(m, "A big file.\n", SIZE_MAX);
  if ((rv = smtpc_msg_add_attachment_file(m, path, "big.bin", NULL)) != 0)
    die("add_attachment_file", rv);
  if ((rv = smtpc_msg_body(m, &b)) != 0)
    die("smtpc_msg_body", rv);
  t0 = now_s();
  out = drain(&b, buf, chunk);
  t1 = now_s();
  after = maxrss_kib();
  if (b.size != (int64_t)out) {
    fprintf(stderr, "mime_bench: size %lld announced, %llu produced\n",
            (long long)b.size, (unsigned long long)out);
    exit(1);
  }
  printf("file     %5u MiB attachment -> %.1f MiB message in %.2f s "
         "(%.0f MB/s of input)\n",
         file_mib, (double)out / MIB, t1 - t0,
         (double)file_mib * MIB / 1e6 / (t1 - t0));
  printf("         peak RSS %ld KiB before, %ld KiB after streaming "
         "(+%ld KiB)\n",
         before, after, after - before);
  smtpc_msg_free(m);
  free(buf);
  unlink(path);
}

static void bench_base64(unsigned mib, size_t chunk) {
  gen *g = malloc(sizeof(*g));
  unsigned char *buf = malloc(chunk);
  unsigned long s = 1;
  smtpc_msg *m = new_msg();
  smtpc_body b;
  double t0, t1;
  uint64_t out;
  size_t i;
  int rv;
  if (g == NULL || buf == NULL)
    exit(1);
  for (i = 0; i < sizeof(g->block); i++) {
    s = s * 6364136223846793005UL + 1442695040888963407UL;
    g->block[i] = (unsigned char)(s >> 56);
  }
  g->left = (uint64_t)mib * 1024 * 1024;
  g->pos = 0;
  if ((rv = smtpc_msg_add_attachment_stream(m, gen_read, g, (int64_t)g->left,
                                            "r.bin", NULL)) != 0)
    die("add_attachment_stream", rv);
  if ((rv = smtpc_msg_body(m, &b)) != 0)
    die("smtpc_msg_body", rv);
  t0 = now_s();
  out = drain(&b, buf, chunk);
  t1 = now_s();
  printf("base64   %5u MiB -> %.1f MiB in %.2f s: %.0f MB/s of input "
         "(%.0f MB/s of output)\n",
         mib, (double)out / MIB, t1 - t0, (double)mib * MIB / 1e6 / (t1 - t0),
         (double)out / 1e6 / (t1 - t0));
  smtpc_msg_free(m);
  free(g);
  free(buf);
}

static void bench_qp(unsigned mib, size_t chunk) {
  /* German prose: mostly ASCII, some 2-byte UTF-8, '=' and long lines */
  static const char para[] =
      "Die Gr\xc3\xb6\xc3\x9f"
      "e der Datei betr\xc3\xa4gt 1 GiB; "
      "a = b + c \xe2\x80\x93 \xc3\xbc"
      "berall gleich. "
      "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do "
      "eiusmod tempor incididunt ut labore et dolore magna aliqua.\n";
  size_t len = (size_t)mib * 1024 * 1024, i, pl = sizeof(para) - 1;
  char *text = malloc(len);
  unsigned char *buf = malloc(chunk);
  smtpc_msg *m = new_msg();
  smtpc_body b;
  double t0, t1, t2;
  uint64_t out;
  int rv;
  if (text == NULL || buf == NULL)
    exit(1);
  for (i = 0; i + pl <= len; i += pl)
    memcpy(text + i, para, pl);
  memset(text + i, 'x', len - i);
  if ((rv = smtpc_msg_set_text(m, text, len)) != 0)
    die("set_text", rv);
  free(text);
  t0 = now_s();
  if ((rv = smtpc_msg_body(m, &b)) != 0)
    die("smtpc_msg_body", rv);
  t1 = now_s();
  out = drain(&b, buf, chunk);
  t2 = now_s();
  printf("qp       %5u MiB -> %.1f MiB in %.2f s: %.0f MB/s of input "
         "(%.0f MB/s of output); smtpc_msg_body (sizing pass) %.2f s\n",
         mib, (double)out / MIB, t2 - t1, (double)len / 1e6 / (t2 - t1),
         (double)out / 1e6 / (t2 - t1), t1 - t0);
  smtpc_msg_free(m);
  free(buf);
}

int main(int argc, char **argv) {
  unsigned file_mib = 1024, b64_mib = 512, qp_mib = 64;
  size_t chunk = 65536;
  int i;
  for (i = 1; i + 1 < argc; i += 2) {
    unsigned long v = strtoul(argv[i + 1], NULL, 10);
    if (strcmp(argv[i], "-f") == 0)
      file_mib = (unsigned)v;
    else if (strcmp(argv[i], "-b") == 0)
      b64_mib = (unsigned)v;
    else if (strcmp(argv[i], "-q") == 0)
      qp_mib = (unsigned)v;
    else if (strcmp(argv[i], "-c") == 0 && v > 0)
      chunk = (size_t)v;
    else
      break;
  }
  if (i < argc) {
    fprintf(stderr,
            "usage: mime_bench [-f FILE_MIB] [-b BASE64_MIB] [-q QP_MIB] "
            "[-c CHUNK]\n");
    return 2;
  }
  printf("libsmtpc %s, read chunk %zu bytes\n", smtpc_version(), chunk);
  if (file_mib > 0)
    bench_file(file_mib, chunk);
  if (b64_mib > 0)
    bench_base64(b64_mib, chunk);
  if (qp_mib > 0)
    bench_qp(qp_mib, chunk);
  return 0;
}
