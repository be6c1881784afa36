#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   1. install dependencies (Debian 12), 2. format check, 3. build,
#   4. unit + functional tests, 5. the same under ASan+UBSan,
#   6. fuzz smoke (libFuzzer, bounded time), 7. interoperability with the
#      Linux kernel host and target in qemu (tests/interop/kpeer/kpeer.sh).
# Environment: FUZZ_SECONDS (default 20), SKIP_INTEROP=1, SKIP_FUZZ=1.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C.UTF-8

step() { printf '\n=== %s ===\n' "$*"; }

step "dependencies"
scripts/deps.sh --test

step "format"
scripts/check-format.sh

step "build"
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build

step "unit and functional tests"
meson test -C build --suite unit --suite func --print-errorlogs --num-processes 2

step "unit and functional tests under ASan+UBSan"
[ -f build-asan/build.ninja ] ||
	meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
ninja -C build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-asan --suite unit --suite func --print-errorlogs --num-processes 2

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
	step "fuzz smoke (${FUZZ_SECONDS:-20} s per harness)"
	FUZZ_SECONDS=${FUZZ_SECONDS:-20} scripts/fuzz-smoke.sh
fi

if [ "${SKIP_INTEROP:-0}" != 1 ]; then
	step "interoperability with the Linux kernel (qemu)"
	meson test -C build --suite interop --print-errorlogs --num-processes 1
fi

step "all tests passed"
