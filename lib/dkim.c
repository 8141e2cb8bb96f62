/* SPDX-License-Identifier: MIT */
/* DKIM signing -- placeholder until the implementation lands. */
#include "dkim_int.h"
