/* SPDX-License-Identifier: MIT */
/* PLACEHOLDER until the mbedTLS adapter lands: behaves as tls_none.c. */
#include "tls_none.c"
#undef SMTPC_HAVE_MBEDTLS
#include "md5.c"
