/* SPDX-License-Identifier: MIT */
/* cortexm.c -- start-up and the board services every Cortex-M board shares:
 * the vector table, the reset handler (.data, .bss, thread-local storage,
 * stack painting), a millisecond clock on SysTick, and semihosting for the
 * report and the exit status.  Works on ARMv6-M (Cortex-M0) and ARMv7-M. */
#include "board.h"

#include <stdint.h>
#include <string.h>

/* From ports/cortexm.ld. */
extern uint32_t __data_start[], __data_end[], __data_load[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_limit[], __stack_top[];
extern char __tls_base[];

int main(void);
void _set_tls(void *tls); /* picolibc: where thread-local errno lives */

#define STACK_PAINT 0xa5a5a5a5u
#define SYST_CSR (*(volatile uint32_t *)0xe000e010u)
#define SYST_RVR (*(volatile uint32_t *)0xe000e014u)
#define SYST_CVR (*(volatile uint32_t *)0xe000e018u)

static volatile uint32_t ticks;
static int64_t boot_time;

/* ---- semihosting (QEMU: -semihosting-config enable=on,target=native) --- */

enum {
  SYS_WRITE0 = 0x04,
  SYS_TIME = 0x11,
  SYS_EXIT = 0x18,
  SYS_EXIT_EXTENDED = 0x20,
  ADP_STOPPED_APPLICATION_EXIT = 0x20026,
  ADP_STOPPED_RUNTIME_ERROR = 0x20023
};

static int semihost(int op, const void *arg) {
  register int r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void board_report(const char *s) { semihost(SYS_WRITE0, s); }

void board_exit(int status) {
  uint32_t block[2];
  block[0] = ADP_STOPPED_APPLICATION_EXIT;
  block[1] = (uint32_t)status;
  semihost(SYS_EXIT_EXTENDED, block);
  /* a host without the extended call: status 0 or 1 */
  semihost(SYS_EXIT,
           (const void *)(uintptr_t)(status == 0 ? ADP_STOPPED_APPLICATION_EXIT
                                                 : ADP_STOPPED_RUNTIME_ERROR));
  for (;;)
    __asm__ volatile("wfi");
}

int64_t board_boot_time(void) { return boot_time; }

/* ---- clock --------------------------------------------------------------- */

uint32_t board_ms(void) { return ticks; }

static void systick_handler(void) { ticks++; }

/* ---- stack --------------------------------------------------------------- */

static uintptr_t current_sp(void) {
  uintptr_t sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  return sp;
}

/* Paints from the bottom of the stack to 64 bytes below the current frame
 * (room for an interrupt that comes meanwhile). */
void board_stack_repaint(void) {
  volatile uint32_t *p = __stack_limit;
  uint32_t *end = (uint32_t *)((current_sp() - 64) & ~(uintptr_t)3);
  while ((uint32_t *)p < end)
    *p++ = STACK_PAINT;
}

size_t board_stack_peak(void) {
  const uint32_t *p = __stack_limit;
  while (p < __stack_top && *p == STACK_PAINT)
    p++;
  return (size_t)((const char *)__stack_top - (const char *)p);
}

size_t board_stack_size(void) {
  return (size_t)((const char *)__stack_top - (const char *)__stack_limit);
}

/* ---- reset and faults ---------------------------------------------------- */

static void fault_handler(void) {
  board_report("fw: FAULT (hard fault or unexpected exception)\n");
  board_exit(70);
}

void reset_handler(void); /* the ELF entry point (cortexm.ld) */
void reset_handler(void) {
  uint32_t *src = __data_load, *dst = __data_start;
  while (dst < __data_end)
    *dst++ = *src++;
  for (dst = __bss_start; dst < __bss_end; dst++)
    *dst = 0;
  _set_tls(__tls_base);
  board_stack_repaint();
  boot_time = semihost(SYS_TIME, 0);
  SYST_RVR = board_core_hz / 1000 - 1;
  SYST_CVR = 0;
  SYST_CSR = 7; /* enable, interrupt, core clock */
  board_exit(main());
}

/* The 16 system exceptions; no device interrupt is used. */
typedef void (*vector)(void);
__attribute__((section(".vectors"), used)) static const vector vectors[16] = {
    (vector)(uintptr_t)__stack_top,
    reset_handler,
    fault_handler, /* NMI */
    fault_handler, /* HardFault */
    fault_handler, /* MemManage (v7-M) */
    fault_handler, /* BusFault (v7-M) */
    fault_handler, /* UsageFault (v7-M) */
    0,
    0,
    0,
    0,
    fault_handler, /* SVCall */
    fault_handler, /* DebugMonitor (v7-M) */
    0,
    fault_handler, /* PendSV */
    systick_handler,
};
