#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tls_headers.sh -- every mbedTLS and PSA header the library and its tests
# were compiled with comes from one include directory.
#
# The trap it guards against: with Debian 12's mbedTLS 2.28 headers in
# /usr/include, a build against 4.x (or 3.6) in another prefix finds there
# any header the newer version no longer ships (ctr_drbg.h, entropy.h,
# sha512.h...) and may compile against a mix, with misleading errors or
# none at all.  Reads the dependency files the compiler wrote
# (lib/.deps/*.Plo, tests/.deps/*.Po).  Skips (77) in a build without
# mbedTLS or without dependency tracking.
set -u -o pipefail

top_builddir=${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
if ! grep -q '^#define SMTPC_HAVE_MBEDTLS 1' "$top_builddir/config.h" 2>/dev/null; then
    echo "tls_headers: built without mbedTLS, skipping"
    exit 77
fi
shopt -s nullglob
deps=("$top_builddir"/lib/.deps/*.Plo "$top_builddir"/tests/.deps/*.Po)
shopt -u nullglob
if ((${#deps[@]} == 0)); then
    echo "tls_headers: no dependency files (dependency tracking off?), skipping"
    exit 77
fi

# The directory each header was found below: .../include for
# .../include/mbedtls/ssl.h, .../include/mbedtls/private/ecp.h,
# .../include/psa/crypto.h and .../include/tf-psa-crypto/build_info.h.
mapfile -t roots < <(cat "${deps[@]}" | tr ' \\' '\n\n' |
    grep -E '/(mbedtls|psa|tf-psa-crypto)(/private)?/[^/]+\.h:?$' |
    sed -E 's#:$##; s#/(mbedtls|psa|tf-psa-crypto)(/private)?/[^/]+\.h$##' |
    sort -u | while read -r d; do readlink -f "$d" || echo "$d"; done | sort -u)

if ((${#roots[@]} == 0)); then
    echo "tls_headers: FAIL: built with mbedTLS, yet no mbedTLS header in ${#deps[@]} dependency files"
    exit 1
fi
if ((${#roots[@]} > 1)); then
    echo "tls_headers: FAIL: mbedTLS headers come from ${#roots[@]} directories:"
    for r in "${roots[@]}"; do
        printf '  %s, e.g. %s\n' "$r" "$(cat "${deps[@]}" | tr ' \\' '\n\n' |
            grep -E -- "^$r/(mbedtls|psa|tf-psa-crypto)/" | head -n 1)"
    done
    echo "tls_headers: put the intended mbedTLS first (MBEDTLS_CFLAGS or PKG_CONFIG_PATH), or remove the other"
    exit 1
fi
echo "tls_headers: every mbedTLS header from ${roots[0]} (${#deps[@]} dependency files)"
exit 0
