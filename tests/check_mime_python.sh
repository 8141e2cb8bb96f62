#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check_mime_python.sh -- every message structure the MIME builder makes is
# parsed back by Python's standard email package with the strict default
# policy (tests/mime_dump writes the messages and their expectations,
# tests/mime_parse.py checks them).  Skips (77) without python3 or when
# tests/mime_dump was not built.  make check exports top_srcdir and
# top_builddir.
set -euo pipefail

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
dump=$top_builddir/tests/mime_dump

command -v python3 >/dev/null || { echo "SKIP: python3 not found"; exit 77; }
python3 -c 'import email.policy' 2>/dev/null ||
    { echo "SKIP: python3 has no email package"; exit 77; }
[[ -x $dump ]] || { echo "SKIP: $dump not built"; exit 77; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/smtpc-mime.XXXXXX")
trap 'rm -rf "$dir"' EXIT
"$dump" "$dir"
python3 "$top_srcdir/tests/mime_parse.py" "$dir"
