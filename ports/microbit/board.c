/* SPDX-License-Identifier: MIT */
/* board.c -- BBC micro:bit (nRF51822: Cortex-M0, 16 KiB of RAM, 256 KiB of
 * flash) as QEMU models it: the UART carries SMTP, SysTick counts at the
 * 16 MHz core clock, and the RNG peripheral gives the random bytes. */
#include "../board.h"

#include <stdint.h>

const char board_name[] = "microbit";
const uint32_t board_core_hz = 16000000u;

#define REG(a) (*(volatile uint32_t *)(a))
#define UART 0x40002000u
#define UART_STARTRX REG(UART + 0x000)
#define UART_STARTTX REG(UART + 0x008)
#define UART_RXDRDY REG(UART + 0x108)
#define UART_TXDRDY REG(UART + 0x11c)
#define UART_ENABLE REG(UART + 0x500)
#define UART_RXD REG(UART + 0x518)
#define UART_TXD REG(UART + 0x51c)
#define RNG 0x4000d000u
#define RNG_START REG(RNG + 0x000)
#define RNG_STOP REG(RNG + 0x004)
#define RNG_VALRDY REG(RNG + 0x100)
#define RNG_VALUE REG(RNG + 0x508)

void board_init(void) {
  UART_ENABLE = 4;
  UART_STARTTX = 1;
  UART_STARTRX = 1;
}

void board_putc(unsigned char c) {
  UART_TXDRDY = 0;
  UART_TXD = c;
  while (!UART_TXDRDY)
    ;
}

int board_getc(void) {
  if (!UART_RXDRDY)
    return -1;
  UART_RXDRDY = 0; /* reading RXD raises it again while bytes wait */
  return (int)(UART_RXD & 0xffu);
}

int board_random(unsigned char *buf, size_t len) {
  size_t i;
  uint32_t spins;
  RNG_START = 1;
  for (i = 0; i < len; i++) {
    RNG_VALRDY = 0;
    for (spins = 0; !RNG_VALRDY; spins++)
      if (spins > 1000000u)
        return RNG_STOP = 1, -1;
    buf[i] = (unsigned char)RNG_VALUE;
  }
  RNG_STOP = 1;
  return 0;
}
