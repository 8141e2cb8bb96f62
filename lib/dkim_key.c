/* SPDX-License-Identifier: MIT */
/* DKIM private keys -- placeholder until the implementation lands. */
#include "dkim_int.h"
