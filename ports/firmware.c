/* SPDX-License-Identifier: MIT */
/* firmware.c -- a device that mails its operators, on a microcontroller.
 *
 * One SMTP connection over the board's serial port (under QEMU the UART is
 * a TCP connection to the mail server).  The session runs in memory mode:
 * it never calls a transport; this loop moves its bytes between the UART
 * and smtpc_session_mem_send()/smtpc_session_mem_recv() and keeps its
 * deadlines, which is how a superloop or an RTOS task owns its UART.
 *
 * It sends (1) a plain-text notification to one recipient and, when built
 * with FW_FULL=1, (2) a MIME message (text, HTML and an attachment read
 * from flash) to two recipients with PIPELINING.  Everything the library
 * allocates comes from a static arena (ports/arena.c).  Built with FW_MIME=0
 * (and not FW_FULL), the notification skips the MIME builder: the firmware
 * writes its few header fields itself and the image is some 12 KiB
 * smaller.  Results and figures
 * go to the host by semihosting, one "fw: " line each; the exit status is
 * 0 when every message was accepted for every recipient. */
#include <smtpc/smtpc.h>

#include "arena.h"
#include "board.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifndef FW_FULL
#define FW_FULL 0
#endif
#ifndef FW_MIME /* message (1) through the MIME builder (always with FW_FULL) */
#define FW_MIME 1
#endif
#ifndef FW_ARENA_SIZE
#define FW_ARENA_SIZE 4096
#endif
#define FW_FROM "sensor-1@example.test"
#define FW_TO1 "ops@example.test"
#define FW_TO2 "oncall@example.test"

/* Buffer sizes handed to the library (bytes): small, for a small heap. */
#define FW_READ_BUFFER 64   /* SMTPC_LIMIT_READ_BUFFER (its minimum) */
#define FW_WRITE_BUFFER 128 /* SMTPC_LIMIT_WRITE_BUFFER */
#define FW_BODY_CHUNK 128   /* SMTPC_LIMIT_BODY_CHUNK */
#define FW_MIME_BUFFER 128  /* smtpc_msg_set_buffer_size() */
#define FW_REPLY_BYTES                                                         \
  1024                    /* SMTPC_LIMIT_REPLY_BYTES: Postfix's EHLO is ~200 */
#define FW_REPLY_LINES 24 /* SMTPC_LIMIT_REPLY_LINES */
#define FW_LINE 80        /* received bytes handed over at once */
#define FW_NO_DEADLINE_MS 60000u

static unsigned char heap_mem[FW_ARENA_SIZE]
    __attribute__((section(".arena"), aligned(8)));
static arena heap;

__attribute__((noinline)) static void reportf(const char *fmt, ...) {
  static char line[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  strcat(line, "\n");
  board_report(line);
}

/* ---- the transport: the UART --------------------------------------------- */

/* Waits for a byte until deadline (board_ms()); -1 when none came.  Kept on
 * its own so that bench/embedded-icount.sh can leave the waiting out of
 * the instruction counts. */
__attribute__((noinline)) static int wait_byte(uint32_t start, uint32_t limit) {
  int c;
  while ((c = board_getc()) < 0)
    if (board_ms() - start >= limit)
      return -1;
  return c;
}

/* Does what the session asked for after an operation returned WANT_WRITE
 * or WANT_READ: writes its output, or hands over the next received line
 * (or FW_LINE bytes of it) once it is complete.  A silent server past the
 * session's deadline is reported to it as a timeout. */
static int move_bytes(smtpc_session *s) {
  const unsigned char *out;
  unsigned char in[FW_LINE];
  size_t n = smtpc_session_mem_send(s, &out), i;
  uint32_t start, limit;
  int c;
  if (n > 0) {
    for (i = 0; i < n; i++)
      board_putc(out[i]);
    return smtpc_session_mem_sent(s, n);
  }
  if (!smtpc_session_want_read(s))
    return SMTPC_ERR_INVALID_STATE; /* not reached: no STARTTLS here */
  start = board_ms();
  limit = smtpc_session_current_timeout(s);
  if (limit == 0)
    limit = FW_NO_DEADLINE_MS;
  for (n = 0; n < sizeof in; n++) {
    if ((c = wait_byte(start, limit)) < 0) {
      if (n > 0)
        break;
      return smtpc_session_mem_error(s, SMTPC_ERR_TIMEOUT);
    }
    in[n] = (unsigned char)c;
    if (c == '\n') {
      n++;
      break;
    }
  }
  return smtpc_session_mem_recv(s, in, n);
}

/* Calls op until it no longer waits for the transport (bounded). */
static int drive(smtpc_session *s, int (*op)(smtpc_session *)) {
  long spins = 0;
  int rc;
  while ((rc = op(s)) == SMTPC_ERR_WANT_READ || rc == SMTPC_ERR_WANT_WRITE) {
    if (++spins > 200000 || move_bytes(s) != SMTPC_OK)
      return (rc = op(s)) == SMTPC_ERR_WANT_READ || rc == SMTPC_ERR_WANT_WRITE
                 ? SMTPC_ERR_TIMEOUT
                 : rc;
  }
  return rc;
}

/* ---- the messages -------------------------------------------------------- */

static const char notify_text[] =
    "Sensor 1 reports 81 C at the pump housing (limit 75 C).\n"
    "Reading taken 12 s after the alarm; the pump is still running.\n";

#if FW_FULL
static const char report_text[] =
    "Daily report of sensor 1.\n"
    "Highest temperature: 81 C; lowest: 19 C; 1440 readings.\n"
    ".\n"
    "The readings are attached (readings.bin, one byte per minute).\n";
static const char report_html[] =
    "<html><body><h1>Daily report of sensor 1</h1>\n"
    "<p>Highest temperature: <b>81&nbsp;&deg;C</b>; lowest: 19&nbsp;&deg;C; "
    "1440 readings.</p>\n"
    "<p>The readings are attached.</p></body></html>\n";

/* The attachment, in flash: 256 bytes, every value once, in a scrambled
 * order (i * 167 + 13 mod 256), read through a stream callback so that it
 * is never copied into RAM. */
#define B1(i) (unsigned char)(((i)*167 + 13) & 255)
#define B4(i) B1(i), B1(i + 1), B1(i + 2), B1(i + 3)
#define B16(i) B4(i), B4(i + 4), B4(i + 8), B4(i + 12)
#define B64(i) B16(i), B16(i + 16), B16(i + 32), B16(i + 48)
static const unsigned char readings[256] = {B64(0), B64(64), B64(128),
                                            B64(192)};

typedef struct flash_reader {
  const unsigned char *p;
  size_t n, pos;
} flash_reader;

static smtpc_ssize flash_read(void *ctx, unsigned char *buf, size_t len) {
  flash_reader *f = ctx;
  size_t k = f->n - f->pos;
  if (k > len)
    k = len;
  memcpy(buf, f->p + f->pos, k);
  f->pos += k;
  return (smtpc_ssize)k;
}
#endif

/* Reports every recipient's reply, the status and the queue id. */
__attribute__((noinline)) static void report_txn(const smtpc_txn *t, int which,
                                                 int rc, const char *msgid) {
  size_t i;
  for (i = 0; t != NULL && i < smtpc_txn_rcpt_count(t); i++) {
    const smtpc_reply *r = smtpc_txn_rcpt_reply(t, i);
    reportf("fw: msg%d rcpt %s %d %s", which, smtpc_txn_rcpt(t, i),
            r != NULL ? smtpc_reply_code(r) : 0,
            r != NULL ? smtpc_reply_text(r) : "(no reply)");
  }
  reportf("fw: msg%d status %d (%s) queue-id %s message-id %s", which, rc,
          smtpc_strerror(rc),
          t != NULL && smtpc_txn_queue_id(t) != NULL ? smtpc_txn_queue_id(t)
                                                     : "-",
          msgid);
}

#if !FW_MIME && !FW_FULL
/* ---- the notification without the MIME builder --------------------------- */

/* RFC 5322 date of t (seconds since 1970, UTC), e.g. "Mon, 07 Dec 2026
 * 10:59:16 +0000" (civil-from-days, proleptic Gregorian). */
static void rfc5322_date(char *out, size_t cap, uint32_t t) {
  static const char wd[] = "ThuFriSatSunMonTueWed"; /* 1970-01-01: Thu */
  static const char mo[] = "MarAprMayJunJulAugSepOctNovDecJanFeb";
  /* 32-bit arithmetic (good until 2106): no 64-bit division linked in */
  uint32_t days = t / 86400, secs = t % 86400, z = days + 719468;
  uint32_t era = z / 146097, doe = z - era * 146097;
  uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  uint32_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
  unsigned y = (unsigned)(yoe + era * 400 + (mp >= 10));
  snprintf(out, cap, "%.3s, %02u %.3s %04u %02u:%02u:%02u +0000",
           wd + 3 * (days % 7), (unsigned)d, mo + 3 * mp, y,
           (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60),
           (unsigned)(secs % 60));
}

typedef struct lean_body {
  char head[320];
  size_t head_len, pos;
} lean_body;

/* The smtpc_body reader: the header (RAM), then the text (flash). */
static smtpc_ssize lean_read(void *ctx, unsigned char *buf, size_t len) {
  lean_body *b = ctx;
  size_t total = b->head_len + sizeof notify_text - 1, k = 0;
  while (k < len && b->pos < total) {
    buf[k++] = (unsigned char)(b->pos < b->head_len
                                   ? b->head[b->pos]
                                   : notify_text[b->pos - b->head_len]);
    b->pos++;
  }
  return (smtpc_ssize)k;
}

static int send_message(smtpc_session *s, int which, void *ctx) {
  static lean_body lb;
  static const char *const to[] = {FW_TO1};
  unsigned char id[12];
  char date[40], msgid[2 * sizeof id + sizeof "@example.test"];
  smtpc_txn *t = NULL;
  smtpc_body body;
  size_t i;
  int rc, n;
  (void)ctx;
  if (board_random(id, sizeof id) != 0 || board_boot_time() <= 0)
    return SMTPC_ERR_IO;
  for (i = 0; i < sizeof id; i++)
    snprintf(msgid + 2 * i, 3, "%02x", id[i]);
  memcpy(msgid + 2 * i, "@example.test", sizeof "@example.test");
  rfc5322_date(date, sizeof date,
               (uint32_t)board_boot_time() + board_ms() / 1000u);
  n = snprintf(lb.head, sizeof lb.head,
               "Date: %s\r\nFrom: Sensor 1 <" FW_FROM ">\r\n"
               "To: Operations <" FW_TO1 ">\r\n"
               "Subject: Sensor 1: temperature alarm\r\n"
               "Message-ID: <%s>\r\nMIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=us-ascii\r\n\r\n",
               date, msgid);
  lb.head_len = (size_t)n;
  lb.pos = 0;
  smtpc_body_init_stream(&body, lean_read, &lb,
                         (int64_t)(lb.head_len + sizeof notify_text - 1));
  rc = smtpc_session_queue(s, FW_FROM, to, 1, &body, &t);
  if (rc == SMTPC_OK)
    rc = drive(s, smtpc_session_run);
  if (rc == SMTPC_OK)
    rc = smtpc_txn_status(t);
  report_txn(t, which, rc, msgid);
  smtpc_txn_free(t);
  return rc;
}
#else
static int build(smtpc_msg *m, int which, void *ctx) {
  int rc = smtpc_msg_set_buffer_size(m, FW_MIME_BUFFER);
  if (rc == SMTPC_OK)
    rc = smtpc_msg_set_from(m, "Sensor 1", FW_FROM);
  if (rc == SMTPC_OK)
    rc = smtpc_msg_add_to(m, "Operations", FW_TO1);
  if (which == 1) {
    if (rc == SMTPC_OK)
      rc = smtpc_msg_set_subject(m, "Sensor 1: temperature alarm");
    if (rc == SMTPC_OK)
      rc = smtpc_msg_set_text(m, notify_text, sizeof notify_text - 1);
    return rc;
  }
#if FW_FULL
  if (rc == SMTPC_OK)
    rc = smtpc_msg_add_to(m, "On call", FW_TO2);
  if (rc == SMTPC_OK)
    rc = smtpc_msg_set_subject(m,
                               "Sensor 1: daily report \xe2\x80\x94 81 \xc2\xb0"
                               "C peak");
  if (rc == SMTPC_OK)
    rc = smtpc_msg_set_text(m, report_text, sizeof report_text - 1);
  if (rc == SMTPC_OK)
    rc = smtpc_msg_set_html(m, report_html, sizeof report_html - 1);
  if (rc == SMTPC_OK)
    rc = smtpc_msg_add_attachment_stream(m, flash_read, ctx, sizeof readings,
                                         "readings.bin",
                                         "application/octet-stream");
#else
  (void)ctx;
#endif
  return rc;
}

/* Builds message `which`, sends it on the open session and reports every
 * recipient's reply and the queue id.  SMTPC_OK when all accepted it. */
static int send_message(smtpc_session *s, int which, void *ctx) {
  smtpc_msg *m = NULL;
  smtpc_txn *t = NULL;
  smtpc_body body;
  const char *from;
  const char *const *rcpts;
  size_t n;
  int rc = smtpc_msg_new(
      &m, &(smtpc_mem){&heap, arena_malloc, arena_realloc, arena_free});
  if (rc == SMTPC_OK)
    rc = build(m, which, ctx);
  if (rc == SMTPC_OK)
    rc = smtpc_msg_set_8bitmime(m, smtpc_session_has_ext(s, "8BITMIME"));
  if (rc == SMTPC_OK)
    rc = smtpc_msg_body(m, &body);
  if (rc == SMTPC_OK)
    rc = smtpc_msg_envelope(m, &from, &rcpts, &n);
  if (rc == SMTPC_OK)
    rc = smtpc_session_queue(s, from, rcpts, n, &body, &t);
  if (rc == SMTPC_OK)
    rc = drive(s, smtpc_session_run);
  if (rc == SMTPC_OK)
    rc = smtpc_txn_status(t);
  report_txn(t, which, rc,
             m != NULL && smtpc_msg_message_id(m) != NULL
                 ? smtpc_msg_message_id(m)
                 : "-");
  smtpc_txn_free(t);
  smtpc_msg_free(m);
  return rc;
}
#endif

static int stack_overflow;

/* Figures of the part just done; then a new measurement starts. */
__attribute__((noinline)) static void measure(const char *what) {
  if (board_stack_peak() + 64 > board_stack_size()) {
    reportf("fw: %s: the stack (%u bytes) overflowed or nearly did", what,
            (unsigned)board_stack_size());
    stack_overflow = 1;
  }
  reportf("fw: %s heap-peak %u heap-peak-in-use %u stack-peak %u "
          "heap-allocs %lu",
          what, (unsigned)heap.peak_top, (unsigned)heap.peak_in_use,
          (unsigned)board_stack_peak(), heap.allocs);
  arena_reset_peak(&heap);
  board_stack_repaint();
}

static int session_setup(smtpc_session *s) {
  int rc = smtpc_session_set_memory_mode(s, 0);
  if (rc == SMTPC_OK)
    rc = smtpc_session_set_limit(s, SMTPC_LIMIT_READ_BUFFER, FW_READ_BUFFER);
  if (rc == SMTPC_OK)
    rc = smtpc_session_set_limit(s, SMTPC_LIMIT_WRITE_BUFFER, FW_WRITE_BUFFER);
  if (rc == SMTPC_OK)
    rc = smtpc_session_set_limit(s, SMTPC_LIMIT_BODY_CHUNK, FW_BODY_CHUNK);
  if (rc == SMTPC_OK)
    rc = smtpc_session_set_limit(s, SMTPC_LIMIT_REPLY_BYTES, FW_REPLY_BYTES);
  if (rc == SMTPC_OK)
    rc = smtpc_session_set_limit(s, SMTPC_LIMIT_REPLY_LINES, FW_REPLY_LINES);
  return rc;
}

int main(void) {
  smtpc_session *s = NULL;
  int rc, rc1, rc2 = SMTPC_OK, q;
  void *ctx = NULL;
#if FW_FULL
  flash_reader fr = {readings, sizeof readings, 0};
  ctx = &fr;
#endif
  board_init();
  arena_init(&heap, heap_mem, sizeof heap_mem);
  reportf("fw: start board %s libsmtpc %s arena %u stack %u", board_name,
          smtpc_version(), (unsigned)sizeof heap_mem,
          (unsigned)board_stack_size());
  rc = smtpc_session_new(
      &s, &(smtpc_mem){&heap, arena_malloc, arena_realloc, arena_free});
  if (rc == SMTPC_OK)
    rc = session_setup(s);
  if (rc == SMTPC_OK)
    rc = drive(s, smtpc_session_open);
  if (rc != SMTPC_OK) {
    reportf("fw: open failed: %d (%s)", rc, smtpc_strerror(rc));
    smtpc_session_free(s);
    return 1;
  }
  reportf("fw: connected; PIPELINING %s, 8BITMIME %s",
          smtpc_session_has_ext(s, "PIPELINING") ? "yes" : "no",
          smtpc_session_has_ext(s, "8BITMIME") ? "yes" : "no");
  rc1 = send_message(s, 1, NULL);
  measure("msg1");
  if (FW_FULL && !smtpc_error_is_fatal(rc1)) {
    rc2 = send_message(s, 2, ctx);
    measure("msg2");
  }
  q = smtpc_error_is_fatal(rc1) || smtpc_error_is_fatal(rc2)
          ? SMTPC_OK
          : drive(s, smtpc_session_quit);
  smtpc_session_free(s);
  reportf("fw: done msg1 %d msg2 %d quit %d heap-left %u allocs %lu "
          "failures %lu",
          rc1, rc2, q, (unsigned)heap.in_use, heap.allocs, heap.failures);
  return rc1 == SMTPC_OK && rc2 == SMTPC_OK && q == SMTPC_OK && heap.in_use == 0
             ? 0
             : 1;
}
