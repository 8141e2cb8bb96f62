# SPDX-License-Identifier: MIT
# BBC micro:bit (QEMU -M microbit): nRF51822, Cortex-M0, 256 KiB of flash at
# 0, 16 KiB of RAM at 0x20000000.
CPU := -mcpu=cortex-m0
FLASH_ORIGIN := 0x00000000
FLASH_SIZE := 256K
RAM_ORIGIN := 0x20000000
ARENA_notify := 4096
STACK_notify := 2048
RAM_notify := 16K
ARENA_full := 7168
STACK_full := 2048
RAM_full := 16K
