#!/usr/bin/env bash
# scripts/run-suite.sh must fail a suite that ran no test, fewer tests than the
# project lists, or skipped one, and pass a suite that really ran.
# Usage: suite_guard.sh SOURCE_ROOT
set -euo pipefail
root=$1
# The runs below are of a throwaway project: keep them out of the caller's count.
unset FQ_TEST_TALLY
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# A small project: suite "x" has a passing test, suite "y" one that skips
# (exit 77, meson's skip code) and a cmocka-style program that lists a
# skipped case, suite "z" none at all.
mkdir "$work/proj"
cat >"$work/proj/meson.build" <<'M'
project('guard')
sh = find_program('sh')
test('pass', sh, args : ['-c', 'exit 0'], suite : 'x')
test('skip77', sh, args : ['-c', 'exit 77'], suite : 'y')
test('cmocka', sh, args : ['-c', 'echo "[  SKIPPED ] some_case"'], suite : 'y')
M
meson setup "$work/b" "$work/proj" >/dev/null
printf 'x 1\ny 1\nz 1\nw 2\n' >"$work/suites.txt"
export FQ_SUITES_FILE=$work/suites.txt

run() {
	local out=$work/out rc=0
	"$root/scripts/run-suite.sh" "$work/b" "$@" >"$out" 2>&1 || rc=$?
	cat "$out"
	return $rc
}

run x >"$work/x.log" || fail "a suite whose test passed was refused: $(cat "$work/x.log")"
grep -q '^suite x .*: 1 passed, 0 failed, 0 skipped$' "$work/x.log" ||
	fail "no count line for suite x: $(cat "$work/x.log")"

if run y >"$work/y.log"; then fail "a suite with skipped tests passed"; fi
grep -q 'skipped 1 test(s) and 1 case(s)' "$work/y.log" || fail "skips not named: $(cat "$work/y.log")"

if run z >"$work/z.log"; then fail "a suite that defines no test passed"; fi
grep -q 'defines no test' "$work/z.log" || fail "no 'defines no test' message: $(cat "$work/z.log")"

# Fewer tests defined than the project says it has.
printf 'x 2\n' >"$work/suites.txt"
if run x >"$work/x2.log"; then fail "a suite below its listed minimum passed"; fi
grep -q 'says the project has at least 2' "$work/x2.log" || fail "minimum not named: $(cat "$work/x2.log")"

# The real case the README order used to hit: the project itself configured
# without tests.
meson setup "$work/notests" "$root" -Dtests=false >/dev/null
unset FQ_SUITES_FILE
if run_out=$("$root/scripts/run-suite.sh" "$work/notests" unit 2>&1); then
	fail "a build configured with -Dtests=false passed the unit suite"
fi
grep -q 'defines no test' <<<"$run_out" || fail "no clear message: $run_out"
echo "suite guard: ok"
