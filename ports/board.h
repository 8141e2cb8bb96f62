/* SPDX-License-Identifier: MIT */
/* board.h -- what a board gives the firmware (ports/firmware.c).
 *
 * A board file (ports/<board>/board.c) drives the serial port that carries
 * the SMTP connection and supplies entropy; ports/cortexm.c gives every
 * Cortex-M board its start-up, the millisecond clock (SysTick), stack
 * painting and semihosting (the report and the exit status under QEMU). */
#ifndef SMTPC_PORT_BOARD_H
#define SMTPC_PORT_BOARD_H

#include <stddef.h>
#include <stdint.h>

/* ---- the board (ports/<board>/board.c) ---------------------------------- */

/* Name of the board, e.g. "mps2-an386". */
extern const char board_name[];
/* SysTick clock in Hz (the core clock). */
extern const uint32_t board_core_hz;
/* Sets up the serial port that carries SMTP. */
void board_init(void);
/* Writes one byte to it, waiting while the transmitter is busy. */
void board_putc(unsigned char c);
/* The next received byte, or -1 when none is waiting. */
int board_getc(void);
/* Fills buf with len bytes for Message-ID and MIME boundaries: unique, not
 * secret (the message shows them).  0, or -1 when the source failed. */
int board_random(unsigned char *buf, size_t len);

/* ---- every Cortex-M board (ports/cortexm.c) ----------------------------- */

/* Milliseconds since reset (SysTick). */
uint32_t board_ms(void);
/* Seconds since 1970 when the board started (the host's clock through
 * semihosting, where a product would ask its RTC or SNTP), or 0. */
int64_t board_boot_time(void);
/* Writes a NUL-terminated line to the host (semihosting SYS_WRITE0). */
void board_report(const char *s);
/* Ends the program with an exit status for QEMU (semihosting). */
void board_exit(int status) __attribute__((noreturn));
/* Bytes of stack used at most since the last board_stack_repaint(). */
size_t board_stack_peak(void);
/* Paints the unused stack again, to measure a new peak from here. */
void board_stack_repaint(void);
/* Size of the stack region. */
size_t board_stack_size(void);

#endif
