/* SPDX-License-Identifier: MIT */
/* board.c -- Arm MPS2 with the AN386 image (Cortex-M4) as QEMU models it:
 * UART0 of the CMSDK APB UARTs carries SMTP, SysTick counts at the 25 MHz
 * system clock.  QEMU's mps2-an386 has no random number generator, so the
 * bytes for Message-ID and boundaries come from a counter and the clock
 * mixed by splitmix64: unique per message, not secret (they are shown in
 * the message anyway); a product uses its TRNG here. */
#include "../board.h"

#include <stdint.h>

const char board_name[] = "mps2-an386";
const uint32_t board_core_hz = 25000000u;

#define UART0 0x40004000u
#define UART_DATA (*(volatile uint32_t *)(UART0 + 0x00))
#define UART_STATE (*(volatile uint32_t *)(UART0 + 0x04))
#define UART_CTRL (*(volatile uint32_t *)(UART0 + 0x08))
#define UART_BAUDDIV (*(volatile uint32_t *)(UART0 + 0x10))
#define STATE_TX_FULL 1u
#define STATE_RX_FULL 2u
#define CTRL_TX_EN 1u
#define CTRL_RX_EN 2u
#define SYST_CVR (*(volatile uint32_t *)0xe000e018u)

void board_init(void) {
  UART_BAUDDIV = 16; /* the smallest divider the CMSDK UART takes */
  UART_CTRL = CTRL_TX_EN | CTRL_RX_EN;
}

void board_putc(unsigned char c) {
  while (UART_STATE & STATE_TX_FULL)
    ;
  UART_DATA = c;
}

int board_getc(void) {
  if (!(UART_STATE & STATE_RX_FULL))
    return -1;
  return (int)(UART_DATA & 0xffu);
}

int board_random(unsigned char *buf, size_t len) {
  static uint64_t state;
  size_t i;
  state ^=
      (uint64_t)board_boot_time() << 32 ^ (uint64_t)board_ms() << 8 ^ SYST_CVR;
  for (i = 0; i < len; i++) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    buf[i] = (unsigned char)(z ^ (z >> 31));
  }
  return 0;
}
