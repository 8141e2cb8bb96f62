#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# format.sh -- every C file git tracks is formatted as .clang-format says
# (the house style of STYLE.md).  CI runs it on its fresh clone; fix a
# finding with `clang-format -i FILE`.  Prints TAP, exits 1 on a finding.
set -euo pipefail
cd "${top_srcdir:-$(dirname "$0")/..}"
cf=${CLANG_FORMAT:-clang-format}
command -v "$cf" >/dev/null || { echo "format.sh: $cf not found" >&2; exit 2; }
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || {
    echo "format.sh: not a git checkout" >&2
    exit 2
}
bad=()
while IFS= read -r -d '' f; do
    "$cf" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files -z -- '*.c' '*.h')
if ((${#bad[@]} == 0)); then
    echo "ok 1 - every tracked C file is formatted ($("$cf" --version | head -1))"
    echo "1..1"
    exit 0
fi
echo "not ok 1 - ${#bad[@]} file(s) differ from .clang-format:"
printf '#   %s\n' "${bad[@]}"
"$cf" --dry-run "${bad[0]}" 2>&1 | head -20 | sed 's/^/#   /'
echo "1..1"
exit 1
