#!/usr/bin/env bash
# kill -9 of fabriqd under load on a thin volume, 100 rounds (the functional
# suite runs 5): tests/func/target/test_volume_kill.py with FQ_KILL_ROUNDS.
#   bench/volume_kill.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-test}
N=${2:-100}
[ -x "$B/tools/fabriqd/fabriqd" ] || { echo "no $B/tools/fabriqd/fabriqd: build with -Dtests=true first" >&2; exit 2; }
FQ_KILL_ROUNDS=$N meson test -C "$B" target_volume_kill --print-errorlogs --timeout-multiplier 20
grep -a "rounds," "$B/meson-logs/testlog.txt" | tail -1
