#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Build the libFuzzer harnesses and run each one for a bounded time.
#
#   scripts/fuzz-smoke.sh            # every harness, FUZZ_SECONDS each (default 20)
#   scripts/fuzz-smoke.sh tcp_decode # only fuzz_tcp_decode
#
# Every executable build-fuzz/tests/fuzz/fuzz_<name> is run on a scratch copy
# of tests/fuzz/corpus/<name>/ (when that exists), so the checked-in seeds
# never change. Exits non-zero if any harness crashes, leaks, times out on an
# input or trips a sanitizer; the reproducer is kept in build-fuzz/artifacts/.
#
# Environment: FUZZ_SECONDS (run time per harness), FUZZ_BUILD_DIR (default
# build-fuzz), CC (default clang).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bdir=${FUZZ_BUILD_DIR:-build-fuzz}
secs=${FUZZ_SECONDS:-20}

if [[ ! -f "$bdir/build.ninja" ]]; then
	CC=${CC:-clang} meson setup "$bdir" -Dfuzz=true -Dtests=true -Db_lto=false
else
	meson configure "$bdir" -Dfuzz=true -Dtests=true -Db_lto=false >/dev/null
fi

# Build only the harnesses: the rest of the tree is not needed here. The
# target list is read after build.ninja is brought up to date, so a stale
# build directory cannot hide a newer harness.
ninja -C "$bdir" build.ninja >/dev/null
mapfile -t targets < <(ninja -C "$bdir" -t targets all |
	sed -n 's|^\(tests/fuzz/fuzz_[A-Za-z0-9_]*\): .*|\1|p' | sort -u)
if [[ ${#targets[@]} -eq 0 ]]; then
	echo "fuzz-smoke: no fuzz_* targets in $bdir" >&2
	exit 1
fi
ninja -C "$bdir" -j2 "${targets[@]}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts="$bdir/artifacts"
mkdir -p "$artifacts"

failed=()
ran=0
for bin in "$bdir"/tests/fuzz/fuzz_*; do
	[[ -f "$bin" && -x "$bin" ]] || continue
	name=$(basename "$bin")
	short=${name#fuzz_}
	if [[ $# -gt 0 && ! " $* " =~ " $short " ]]; then
		continue
	fi
	corpus="$work/corpus-$short"
	mkdir -p "$corpus"
	if [[ -d "tests/fuzz/corpus/$short" ]]; then
		cp -R "tests/fuzz/corpus/$short/." "$corpus/"
	fi
	log="$work/$short.log"
	echo "fuzz-smoke: $name for ${secs}s ($(find "$corpus" -type f | wc -l) seeds)"
	ran=$((ran + 1))
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$artifacts/$short-" -print_final_stats=1 \
		"$corpus" >"$log" 2>&1; then
		grep -E '^stat::number_of_executed_units|^Done ' "$log" | sed 's/^/    /' || true
	else
		echo "fuzz-smoke: $name FAILED; last lines of its log:" >&2
		tail -n 40 "$log" >&2
		failed+=("$name")
	fi
done

if [[ $ran -eq 0 ]]; then
	echo "fuzz-smoke: no harness ran" >&2
	exit 1
fi
if [[ ${#failed[@]} -gt 0 ]]; then
	echo "fuzz-smoke: ${#failed[@]} of $ran harness(es) failed: ${failed[*]}" >&2
	echo "fuzz-smoke: reproducers are in $artifacts/" >&2
	exit 1
fi
echo "fuzz-smoke: $ran passed, 0 failed"
