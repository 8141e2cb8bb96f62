/* SPDX-License-Identifier: MIT */
/* SHA-256 (FIPS 180-4) -- placeholder until the implementation lands. */
#include "dkim_int.h"
