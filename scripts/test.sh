#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   1. install dependencies (Debian 12), 2. format and tree check, 3. build,
#   4. unit, functional and script tests, 5. unit and functional tests under
#   ASan+UBSan, 6. fuzz smoke (libFuzzer, bounded time), 7. interoperability
#   with the Linux kernel host and target in qemu
#   (tests/interop/kpeer/kpeer.sh).
#
# It builds in its own directories (build-test, build-asan, build-fuzz), never
# in scripts/run.sh's build/, which has no tests. Every suite goes through
# scripts/run-suite.sh, which fails a suite that defines or runs fewer tests
# than tests/suites.txt lists, or skips any. The last line counts every test
# that ran.
#
# Environment: FUZZ_SECONDS (default 20), SKIP_INTEROP=1, SKIP_FUZZ=1 (each
# says so in the output, and the closing line names what was left out).
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C.UTF-8

step() { printf '\n=== %s ===\n' "$*"; }

tally=$(mktemp)
trap 'rm -f "$tally"' EXIT
export FQ_TEST_TALLY=$tally
left_out=()

step "dependencies"
scripts/deps.sh --test

step "format and tracked files"
scripts/check-format.sh

step "build (build-test)"
if [ -f build-test/build.ninja ]; then
	meson configure build-test -Dtests=true >/dev/null
else
	meson setup build-test -Dtests=true >/dev/null
fi
ninja -C build-test

step "unit, functional and script tests"
for s in unit func scripts; do
	scripts/run-suite.sh build-test "$s" --print-errorlogs --num-processes 2
done

step "unit and functional tests under ASan+UBSan (build-asan)"
# Without link-time optimisation: this build is for finding bugs, and LTO
# would triple its link time (build-test checks the optimised build).
if [ -f build-asan/build.ninja ]; then
	meson configure build-asan -Dtests=true -Db_lto=false >/dev/null
else
	meson setup build-asan -Dtests=true -Db_sanitize=address,undefined -Db_lundef=false \
		-Db_lto=false >/dev/null
fi
ninja -C build-asan
for s in unit func; do
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		scripts/run-suite.sh build-asan "$s" --print-errorlogs --num-processes 2
done

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
	step "fuzz smoke (${FUZZ_SECONDS:-20} s per harness)"
	FUZZ_SECONDS=${FUZZ_SECONDS:-20} scripts/fuzz-smoke.sh
else
	step "fuzz smoke: left out (SKIP_FUZZ=1)"
	left_out+=(fuzz)
fi

if [ "${SKIP_INTEROP:-0}" != 1 ]; then
	step "interoperability with the Linux kernel (qemu)"
	scripts/run-suite.sh build-test interop --print-errorlogs --num-processes 1
else
	step "interoperability: left out (SKIP_INTEROP=1)"
	left_out+=(interop)
fi

read -r passed failed skipped < <(awk '{ p += $1; f += $2; s += $3 } END { print p + 0, f + 0, s + 0 }' "$tally")
step "all suites passed${left_out[*]:+ (left out: ${left_out[*]})}"
echo "tests: $passed passed, $failed failed, $skipped skipped"
