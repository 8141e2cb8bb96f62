# SPDX-License-Identifier: MIT
# Arm MPS2 AN386 (QEMU -M mps2-an386): Cortex-M4, code in SSRAM1 at 0, data
# in SSRAM2 at 0x20000000 (4 MiB each).  The RAM region is cut to what each
# firmware is meant to fit in, so that the link fails if it does not.
CPU := -mcpu=cortex-m4
FLASH_ORIGIN := 0x00000000
FLASH_SIZE := 256K
RAM_ORIGIN := 0x20000000
# notify must fit in 8 KiB of RAM all told (the goal of issue 16): the
# link fails if static data, arena and stack do not.
ARENA_notify := 4096
STACK_notify := 2048
RAM_notify := 8K
ARENA_full := 7168
STACK_full := 2048
RAM_full := 12K
