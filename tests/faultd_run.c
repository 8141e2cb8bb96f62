/* SPDX-License-Identifier: MIT */
/* Runs tests/faultd.py for the Check suites: see faultd_run.h. */
#include "faultd_run.h"

#include "testutil.h"
#include "err_name.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t faultd_pid = -1;
static char log_path[256];
static const char *const *all_specs;
static size_t nspecs;
static char (*ports)[16];

long tf_now_ms(void) {
  struct timespec tv;
  clock_gettime(CLOCK_MONOTONIC, &tv);
  return (long)tv.tv_sec * 1000L + tv.tv_nsec / 1000000L;
}

void tf_sleep_ms(long ms) {
  struct timespec tv;
  tv.tv_sec = ms / 1000;
  tv.tv_nsec = (ms % 1000) * 1000000L;
  while (nanosleep(&tv, &tv) != 0 && errno == EINTR)
    ;
}

const char *tf_log_path(void) { return log_path; }

const char *tf_port_of(const char *spec) {
  size_t i;
  for (i = 0; i < nspecs; i++)
    if (strcmp(all_specs[i], spec) == 0 && ports[i][0] != '\0')
      return ports[i];
  ck_abort_msg("scenario %s: faultd has no port for it", spec);
  return NULL;
}

static const char *faultd_script(void) {
  static char path[1024];
  const char *top = getenv("top_srcdir");
  const char *cands[] = {"tests/faultd.py", "../tests/faultd.py", "faultd.py"};
  size_t i;
  if (top != NULL && *top != '\0') {
    snprintf(path, sizeof(path), "%s/tests/faultd.py", top);
    if (access(path, R_OK) == 0)
      return path;
  }
  for (i = 0; i < sizeof(cands) / sizeof(cands[0]); i++)
    if (access(cands[i], R_OK) == 0)
      return cands[i];
  return NULL;
}

/* Reads one line from fd into buf (bounded by the deadline).  Returns its
 * length, or -1 on EOF / timeout. */
static int read_line(int fd, char *buf, size_t cap, long deadline) {
  size_t n = 0;
  while (n + 1 < cap) {
    struct pollfd p;
    long left = deadline - tf_now_ms();
    char c;
    ssize_t r;
    if (left <= 0)
      return -1;
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, (int)left) <= 0)
      continue;
    r = read(fd, &c, 1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    if (c == '\n') {
      buf[n] = '\0';
      return (int)n;
    }
    buf[n++] = c;
  }
  buf[n] = '\0';
  return (int)n;
}

void tf_faultd_stop(void) {
  long end;
  int st;
  free(ports);
  ports = NULL;
  nspecs = 0;
  if (faultd_pid <= 0)
    return;
  kill(faultd_pid, SIGTERM);
  end = tf_now_ms() + 3000;
  while (waitpid(faultd_pid, &st, WNOHANG) == 0) {
    if (tf_now_ms() > end) {
      kill(faultd_pid, SIGKILL);
      waitpid(faultd_pid, &st, 0);
      break;
    }
    tf_sleep_ms(20);
  }
  faultd_pid = -1;
}

int tf_faultd_start(const char *who, const char *const *specs, size_t n) {
  const char *script = faultd_script();
  const char *py = getenv("PYTHON");
  const char *tmp = getenv("TMPDIR");
  const char **argv;
  char line[256];
  int pfd[2], fd, got = 0;
  size_t i, k;
  long deadline;

  if (script == NULL) {
    fprintf(stderr, "%s: tests/faultd.py not found\n", who);
    return -1;
  }
  if (py == NULL || *py == '\0')
    py = "python3";
  snprintf(log_path, sizeof(log_path), "%s/%s.XXXXXX",
           tmp && *tmp ? tmp : "/tmp", who);
  if ((fd = mkstemp(log_path)) < 0) {
    fprintf(stderr, "%s: mkstemp: %s\n", who, strerror(errno));
    return -1;
  }
  close(fd);
  argv = calloc(n + 12, sizeof(*argv));
  if (argv == NULL)
    return -1;
  nspecs = n;
  all_specs = specs;
  ports = calloc(n, sizeof(*ports));
  if (ports == NULL) {
    free(argv);
    return -1;
  }
  k = 0;
  argv[k++] = py;
  argv[k++] = script;
  argv[k++] = "--log";
  argv[k++] = log_path;
  argv[k++] = "--timeout";
  argv[k++] = "600";
  argv[k++] = "--conn-timeout";
  argv[k++] = "30";
  for (i = 0; i < n; i++)
    argv[k++] = specs[i];
  argv[k] = NULL;
  if (pipe(pfd) != 0) {
    free(argv);
    return -1;
  }
  fflush(NULL);
  faultd_pid = fork();
  if (faultd_pid < 0) {
    free(argv);
    return -1;
  }
  if (faultd_pid == 0) {
    dup2(pfd[1], 1);
    close(pfd[0]);
    close(pfd[1]);
    execvp(py, (char *const *)argv);
    fprintf(stderr, "%s: cannot run %s: %s\n", who, py, strerror(errno));
    _exit(127);
  }
  free(argv);
  close(pfd[1]);
  deadline = tf_now_ms() + 30000;
  if (read_line(pfd[0], line, sizeof(line), deadline) < 0) {
    fprintf(stderr, "%s: faultd did not start\n", who);
    close(pfd[0]);
    tf_faultd_stop();
    return -1;
  }
  while (read_line(pfd[0], line, sizeof(line), deadline) >= 0) {
    char *sp = strchr(line, ' ');
    if (strcmp(line, "ready") == 0)
      break;
    if (sp == NULL)
      continue;
    *sp = '\0';
    for (i = 0; i < n; i++)
      if (strcmp(specs[i], line) == 0) {
        snprintf(ports[i], sizeof(ports[i]), "%s", sp + 1);
        got++;
      }
  }
  close(pfd[0]);
  if (got != (int)n) {
    fprintf(stderr, "%s: faultd announced %d of %d ports\n", who, got, (int)n);
    tf_faultd_stop();
    return -1;
  }
  return 0;
}

/* The whole log (malloc'd, NUL-terminated). */
char *tf_log_read(void) {
  FILE *f = fopen(log_path, "rb");
  char *p = NULL;
  size_t n = 0, cap = 0, r;
  ck_assert_msg(f != NULL, "cannot open faultd log %s", log_path);
  for (;;) {
    if (cap - n < 65536) {
      cap = cap ? cap * 2 : 262144;
      p = realloc(p, cap);
      ck_assert_ptr_nonnull(p);
    }
    r = fread(p + n, 1, cap - n - 1, f);
    if (r == 0)
      break;
    n += r;
  }
  fclose(f);
  p[n] = '\0';
  return p;
}

char *tf_log_lines(const char *log, const char *tag, const char *prefix,
                   int *count) {
  size_t tl = strlen(tag), pl = strlen(prefix), n = 0;
  const char *p = log;
  char *out = malloc(strlen(log) + 1);
  int k = 0;
  ck_assert_ptr_nonnull(out);
  for (;;) {
    const char *nl = strchr(p, '\n');
    if (nl == NULL)
      break;
    if ((size_t)(nl - p) >= tl + 1 + pl && strncmp(p, tag, tl) == 0 &&
        p[tl] == ' ' && strncmp(p + tl + 1, prefix, pl) == 0) {
      memcpy(out + n, p + tl + 1, (size_t)(nl - p) - tl);
      n += (size_t)(nl - p) - tl;
      k++;
    }
    p = nl + 1;
  }
  out[n] = '\0';
  if (count != NULL)
    *count = k;
  return out;
}

char *tf_log_wait_end(const char *tag, long wait_ms) {
  long end = tf_now_ms() + wait_ms;
  for (;;) {
    char *log = tf_log_read();
    int n;
    free(tf_log_lines(log, tag, "END ", &n));
    if (n > 0)
      return log;
    free(log);
    if (tf_now_ms() > end)
      ck_abort_msg("%s: faultd did not log the end of the connection "
                   "within %ld ms (log %s)",
                   tag, wait_ms, tf_log_path());
    tf_sleep_ms(20);
  }
}

const char *tf_err_name(int e) {
  const char *n = err_name(e);
  return n != NULL ? n : smtpc_strerror(e);
}

int tf_run_suite(const char *who, const char *const *specs, size_t n,
                 Suite *suite, const char *keep_env) {
  SRunner *sr;
  int failed;
  long t0 = tf_now_ms();
  if (tf_faultd_start(who, specs, n) != 0) {
    fprintf(stderr, "%s: SKIP: cannot start tests/faultd.py\n", who);
    if (tf_log_path()[0] != '\0')
      unlink(tf_log_path());
    srunner_free(srunner_create(suite)); /* frees the suite */
    return 77;
  }
  sr = srunner_create(suite);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  tf_faultd_stop();
  if (failed != 0 || getenv(keep_env) != NULL)
    fprintf(stderr, "%s: faultd log kept in %s\n", who, tf_log_path());
  else
    unlink(tf_log_path());
  fprintf(stderr, "%s: %ld ms\n", who, tf_now_ms() - t0);
  return failed == 0 ? 0 : 1;
}
