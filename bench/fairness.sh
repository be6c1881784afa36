#!/usr/bin/env bash
# The receive budget at work: does one connection flooding reads starve a
# second connection on the same reactor?
#
#   bench/fairness.sh [OLD_REV]
#
# fabriqd runs one reactor (TARGET_CPU). A QD1 4 KiB randread `fabriq perf`
# measures its p50 latency alone, then while a second `fabriq perf` floods
# the same reactor with 4 KiB randreads at QD 128 on another connection.
# The goal: the QD1 p50 under the flood stays within 2x of alone. Both
# clients share LOAD_CPU on a 2-core machine, so part of the rise is the
# flooding client's CPU, not the target: read the ratio with that in mind.
# With OLD_REV (for example the commit before the budget), the same is
# measured for that revision's fabriqd, built with bench/ab.sh's layout,
# in alternation.
#
# Environment: TARGET_CPU (0), LOAD_CPU (1), SECONDS_PER_CASE (5), ROUNDS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:-}
TARGET_CPU=${TARGET_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SECS=${SECONDS_PER_CASE:-5}
ROUNDS=${ROUNDS:-3}

scripts/deps.sh
[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release -Dtests=false >/dev/null
ninja -C build-release >/dev/null
declare -A FQD=([HEAD]=build-release/tools/fabriqd/fabriqd)
revs=(HEAD)
if [ -n "$OLD" ]; then
	sha=$(git rev-parse --short=12 "$OLD^{commit}") || { echo "no revision '$OLD'" >&2; exit 2; }
	d=bench/ab/$sha
	[ -d "$d" ] || git worktree add --detach -q "$d" "$sha"
	[ -f "$d/build/build.ninja" ] || meson setup "$d/build" "$d" --buildtype=release -Dtests=false >/dev/null
	ninja -C "$d/build" >/dev/null
	FQD[$OLD]=$d/build/tools/fabriqd/fabriqd
	revs=("$OLD" HEAD)
fi
PERF="build-release/tools/fabriq/fabriq perf"
NQN=nqn.2026-11.io.fabriq:bench
OUT=bench/results/$(date -u +%Y%m%dT%H%M%SZ)-fairness
mkdir -p "$OUT"
RAW=$OUT/raw.jsonl
: >"$RAW"
. bench/lib.sh
PORT=$(bench_free_port)
TRID="trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$PORT subnqn:$NQN"

qd1() {
	taskset -c "$LOAD_CPU" $PERF -r "$TRID" -w randread -o 4k -q 1 -t "$SECS" --warmup 1 --no-poll --json |
		python3 -c "import json,sys; print(json.load(sys.stdin)['total']['p50_us'])"
}
for round in $(seq 1 "$ROUNDS"); do
	for rev in "${revs[@]}"; do
		bench_start_fabriqd "${FQD[$rev]}" "$PORT" --nqn $NQN --ns ram:1G --reactors 1
		bench_prefill "$FQD_PID" 1G "$TRID" taskset -c "$LOAD_CPU" $PERF
		alone=$(qd1)
		taskset -c "$LOAD_CPU" $PERF -r "$TRID" -w randread -o 4k -q 128 -t $((SECS + 3)) --no-poll \
			--json >"$OUT/flood.json" &
		flood=$!
		sleep 1
		loaded=$(qd1)
		wait $flood
		fiops=$(python3 -c "import json; print(json.load(open('$OUT/flood.json'))['total']['iops'])")
		echo "{\"rev\":\"$rev\",\"round\":$round,\"alone_p50_us\":$alone,\"flooded_p50_us\":$loaded,\"flood_iops\":$fiops}" |
			tee -a "$RAW"
		bench_stop_fabriqd
	done
done

python3 - "$RAW" "$OUT/results.md" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
out = ['| revision | QD1 p50 alone (us) | QD1 p50 under a QD128 flood (us) | ratio | flood IOPS |', '|---|---|---|---|---|']
for rev in dict.fromkeys(r['rev'] for r in rows):
    rr = [r for r in rows if r['rev'] == rev]
    a = statistics.median(r['alone_p50_us'] for r in rr)
    f = statistics.median(r['flooded_p50_us'] for r in rr)
    i = statistics.median(r['flood_iops'] for r in rr)
    out.append('| %s | %.1f | %.1f | %.2f%s | %.0f |' % (rev, a, f, f / a, '' if f / a <= 2 else ' **over 2x**', i))
open(sys.argv[2], 'w').write('\n'.join(out) + '\n')
print('\n'.join(out))
PY
echo "results in $OUT"
