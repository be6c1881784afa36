#!/usr/bin/env bash
# Fail if any C source differs from what clang-format (config: .clang-format)
# makes of it, or if generated files (Python bytecode, build output) are tracked.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h')
bad=0
for f in $files; do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "format: $f differs from clang-format (run: clang-format -i $f)"
		bad=1
	fi
done
generated=$(git ls-files | grep -E '(^|/)__pycache__/|\.py[co]$|\.o$|^build[^/]*/' || true)
if [ -n "$generated" ]; then
	echo "format: generated files are tracked (git rm --cached them; .gitignore covers them):"
	echo "$generated" | sed 's/^/    /'
	bad=1
fi
exit $bad
