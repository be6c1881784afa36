#!/bin/sh
# Run the fault tests N times in a row (default 50) while a busy loop keeps
# one core loaded, to shake out races that show only under load. Not part of
# the normal test run: 50 rounds take about ten minutes.
#
#   scripts/fault-loop.sh [N] [BUILD_DIR]     (BUILD_DIR defaults to build)
#
# The fault tests (meson test names):
#   host-fabriqd-kill       target killed mid-I/O and restarted, target
#                           frozen (SIGSTOP) mid-I/O, idle keep-alive
#   host-connect-failures   refused TCP connect, listener that never answers
#   target_host_killed      hosts that vanish mid-command (fabriqd side)
#   target_kato             keep-alive timeout on the target
#
# Prints one line per round and a pass/fail count; the logs of failed
# rounds are kept. Exit status 0 only if every round passed.
set -u

n=${1:-50}
build=${2:-build}
tests="host-fabriqd-kill host-connect-failures target_host_killed target_kato"

case $n in '' | *[!0-9]*) echo "fault-loop: N must be a number, not '$n'" >&2; exit 2 ;; esac
[ -d "$build" ] || { echo "fault-loop: no build directory '$build'" >&2; exit 2; }
ninja -C "$build" >/dev/null || exit 1
logs=$(mktemp -d "${TMPDIR:-/tmp}/fq-fault-loop.XXXXXX")

# The busy loop runs on the last CPU; the tests run wherever the scheduler
# puts them, so they share that core with it part of the time.
cpu=$(($(nproc) - 1))
taskset -c "$cpu" sh -c 'while :; do :; done' &
busy=$!
trap 'kill "$busy" 2>/dev/null' EXIT INT TERM

# The target tests are Python: keep them from rewriting tracked bytecode.
export PYTHONDONTWRITEBYTECODE=1
pass=0
fail=0
t0=$(date +%s)
i=1
while [ "$i" -le "$n" ]; do
	# shellcheck disable=SC2086
	if meson test -C "$build" --no-rebuild --print-errorlogs $tests >"$logs/round$i.log" 2>&1; then
		pass=$((pass + 1))
		rm -f "$logs/round$i.log"
		echo "round $i: pass"
	else
		fail=$((fail + 1))
		cp "$build/meson-logs/testlog.txt" "$logs/round$i.testlog.txt" 2>/dev/null
		echo "round $i: FAIL ($logs/round$i.log)"
		grep -E "^ *[0-9]+/[0-9]+ .* FAIL|check failed" "$logs/round$i.log" | head -5
	fi
	i=$((i + 1))
done
echo "fault-loop: $pass passed, $fail failed of $n rounds in $(($(date +%s) - t0)) s (busy CPU $cpu)"
[ "$fail" -eq 0 ] && rmdir "$logs" 2>/dev/null
[ "$fail" -eq 0 ]
