#!/usr/bin/env bash
# scripts/run.sh must show the compiler's error and say the build failed,
# not exit 1 without a word. Builds a copy of the tree with one source broken.
# Usage: run_shows_build_errors.sh SOURCE_ROOT
set -euo pipefail
root=$1
work=$(mktemp -d /var/tmp/fq-runsh.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
# Copy the sources only (no build directories).
(cd "$root" && tar --exclude='./build*' --exclude='./.git' -cf - .) | tar -C "$work" -xf -
echo '#error fabriq_injected_build_error' >>"$work/src/util/log.c"
rc=0
out=$(cd "$work" && FABRIQ_SKIP_DEPS=1 timeout 600 scripts/run.sh 2>&1) || rc=$?
[ $rc -ne 0 ] || fail "run.sh succeeded with a broken source"
grep -q 'fabriq_injected_build_error' <<<"$out" || fail "the compiler's error was not shown: $out"
grep -q 'run.sh: build failed' <<<"$out" || fail "no 'build failed' line: $out"
echo "run.sh shows build errors: ok (exit $rc)"
