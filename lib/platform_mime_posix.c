/* SPDX-License-Identifier: MIT */
/* POSIX defaults for the MIME builder's platform hooks (see
 * smtpc_msg_platform in smtpc/mime.h): the clock and the local UTC offset,
 * random bytes from /dev/urandom, and files through stdio.  The builder
 * (mime.c, mime_stream.c) reaches the platform only through these hooks;
 * a bare-metal build replaces this file with one defining
 * smtpc__mime_platform_default() for its own hooks. */
#include "mime_int.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int64_t tm_minutes(const struct tm *t) {
  return smtpc__mime_days_from_civil((int64_t)t->tm_year + 1900, t->tm_mon + 1,
                                     t->tm_mday) *
             1440 +
         t->tm_hour * 60 + t->tm_min;
}

static int posix_now(void *user, int64_t *now, int *utc_offset) {
  time_t t = time(NULL);
  struct tm lt, gt;
  int64_t off;
  (void)user;
  if (t == (time_t)-1)
    return SMTPC_ERR_IO;
  *now = (int64_t)t;
  *utc_offset = 0;
  /* localtime - gmtime of the same instant; tm_gmtoff is not POSIX */
  if (localtime_r(&t, &lt) != NULL && gmtime_r(&t, &gt) != NULL) {
    off = tm_minutes(&lt) - tm_minutes(&gt);
    if (off > -1440 && off < 1440)
      *utc_offset = (int)off;
  }
  return SMTPC_OK;
}

static int posix_random(void *user, unsigned char *buf, size_t len) {
  FILE *f = fopen("/dev/urandom", "rb");
  size_t n;
  (void)user;
  if (f == NULL)
    return SMTPC_ERR_IO;
  n = fread(buf, 1, len, f);
  fclose(f);
  return n == len ? SMTPC_OK : SMTPC_ERR_IO;
}

static int posix_file_open(void *user, const char *path, void **file,
                           int64_t *size) {
  FILE *f;
  struct stat st;
  (void)user;
  *file = NULL;
  *size = -1;
  f = fopen(path, "rb");
  if (f == NULL)
    return SMTPC_ERR_IO;
  if (fstat(fileno(f), &st) != 0) {
    fclose(f);
    return SMTPC_ERR_IO;
  }
  if (S_ISDIR(st.st_mode)) {
    fclose(f);
    return SMTPC_ERR_IO;
  }
  if (S_ISREG(st.st_mode))
    *size = (int64_t)st.st_size;
  *file = f;
  return SMTPC_OK;
}

static smtpc_ssize posix_file_read(void *user, void *file, unsigned char *buf,
                                   size_t len) {
  FILE *f = file;
  size_t n;
  (void)user;
  n = fread(buf, 1, len, f);
  if (n == 0 && ferror(f))
    return SMTPC_ERR_IO;
  return (smtpc_ssize)n;
}

static void posix_file_close(void *user, void *file) {
  (void)user;
  if (file != NULL)
    fclose(file);
}

void smtpc__mime_platform_default(smtpc_msg_platform *p) {
  memset(p, 0, sizeof(*p));
  p->version = SMTPC_MSG_PLATFORM_VERSION;
  p->now = posix_now;
  p->random = posix_random;
  p->file_open = posix_file_open;
  p->file_read = posix_file_read;
  p->file_close = posix_file_close;
}
