/* SPDX-License-Identifier: MIT */
/* platform_port.c -- the platform hooks the library's core and MIME builder
 * call (see bench/check-embedded.sh, "platform hooks a port must supply"),
 * for a board without an operating system.  They stand in for
 * lib/platform_posix.c and lib/platform_mime_posix.c, which a bare-metal
 * build leaves out; the library's own files are built unmodified. */
#include <smtpc/smtpc.h>

#include "board.h"

#include <string.h>

#ifndef FW_EHLO_NAME
#define FW_EHLO_NAME "sensor-1.example.test"
#endif

/* The name the device greets with: its own, from its configuration. */
int smtpc_default_ehlo_name(char *buf, size_t len) {
  static const char name[] = FW_EHLO_NAME;
  if (buf == NULL || len < sizeof name)
    return SMTPC_ERR_INVALID_ARGUMENT;
  memcpy(buf, name, sizeof name);
  return SMTPC_OK;
}

static int port_now(void *user, int64_t *now, int *utc_offset) {
  int64_t boot = board_boot_time();
  (void)user;
  if (boot <= 0)
    return SMTPC_ERR_IO; /* no clock: set the Date with smtpc_msg_set_date */
  *now = boot + (int64_t)(board_ms() / 1000u);
  *utc_offset = 0;
  return SMTPC_OK;
}

static int port_random(void *user, unsigned char *buf, size_t len) {
  (void)user;
  return board_random(buf, len) == 0 ? SMTPC_OK : SMTPC_ERR_IO;
}

/* The MIME builder's defaults (lib/mime_int.h): a clock and entropy; no
 * files (attachments come from memory or streams). */
void smtpc__mime_platform_default(smtpc_msg_platform *p);
void smtpc__mime_platform_default(smtpc_msg_platform *p) {
  memset(p, 0, sizeof(*p));
  p->version = SMTPC_MSG_PLATFORM_VERSION;
  p->now = port_now;
  p->random = port_random;
}

/* No IDNA converter on the board: a UTF-8 domain needs a server with
 * SMTPUTF8 (or smtpc_session_set_idna() with the product's own), and no
 * conversion code is linked. */
struct smtpc__idna_ops;
void smtpc__platform_idna(smtpc_idna_cb *cb,
                          const struct smtpc__idna_ops **ops);
void smtpc__platform_idna(smtpc_idna_cb *cb,
                          const struct smtpc__idna_ops **ops) {
  *cb = NULL;
  *ops = NULL;
}
