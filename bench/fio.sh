#!/usr/bin/env bash
# fio with the fabriq engine against fabriq perf, on the same cases and the
# same pinning, alternating; reports each side's median IOPS over ROUNDS
# rounds and fio's share of perf's (the goal is >= 0.9 in every case).
#
# Cases (CASES, "rw:bs:qd" words): 4 KiB random reads at queue depth 1 and
# 32, 4 KiB random writes at 32, 128 KiB sequential reads at 32. One job /
# one worker thread, one qpair, SQ flow control off, the RAM namespace
# written once before the reads (reads of never-written RAM hit one shared
# zero page). Both clients run pinned to LOAD_CPU (taskset, the whole
# process: perf's worker and fio's job thread alike), fabriqd to TARGET_CPU
# with one reactor. Both sides sleep in the kernel between completions
# (POLL=1: both busy-poll; on a busy shared machine spinning sides starve
# each other and the numbers swing by 10x).
#
# What makes the comparison fair: both measure the same thing for the same
# time, SECONDS_PER_CASE measured after 1 s not counted (perf --warmup 1,
# fio ramp_time=1), and fio is asked not to do the work perf does not do:
#   norandommap=1 randrepeat=0   perf draws random offsets without a map of
#                                the blocks already visited
#   disable_slat=1 disable_lat=1 perf times one latency per I/O, from submit
#                                to completion: fio's clat (kept, with its
#                                percentiles); fio would also take
#                                submission and total latency
#   thread=1                     perf's worker is a thread
# fio's own completion batching stays at its default (one event per
# getevents, handed from what the engine already holds, without a system
# call): fio then takes one completion and queues its successor in turn,
# as perf's completion callback does. With iodepth_batch_complete_max=QD fio
# works through every completion of a poll before the first new command
# leaves, and measured slower (0.82 of perf against 1.01, 4 KiB randread
# QD32, 7 rounds, run 20261207T044727Z-fioab in bench/results).
# The clock source stays fio's default (clock_gettime, as perf) and
# latency is still measured (gtod_reduce would drop it). That run is
# "fio"; "fio-defaults" runs the same job without those options and is
# reported for information.
#
# Each round runs every case as perf, fio, fio-defaults, in that order in
# odd rounds and reversed in even ones, so drift on a shared machine hits
# both sides alike; the per-round ratios show disturbed rounds.
#
#   bench/fio.sh        Environment: TARGET_CPU (0), LOAD_CPU (1),
#                       SECONDS_PER_CASE (3), NS_SIZE (1G), ROUNDS (3), POLL (0),
#                       CASES ("randread:4k:1 randread:4k:32 randwrite:4k:32 read:128k:32")
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_CPU=${TARGET_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SECS=${SECONDS_PER_CASE:-3}
NS_SIZE=${NS_SIZE:-1G}
ROUNDS=${ROUNDS:-3}
POLL=${POLL:-0}
CASES=${CASES:-randread:4k:1 randread:4k:32 randwrite:4k:32 read:128k:32}
[[ $POLL =~ ^[01]$ ]] || { echo "POLL must be 0 or 1, not '$POLL'" >&2; exit 2; }
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a positive integer, not '$ROUNDS'" >&2; exit 2; }
[[ $SECS =~ ^[1-9][0-9]*$ ]] || { echo "SECONDS_PER_CASE must be a positive integer, not '$SECS'" >&2; exit 2; }
for c in $CASES; do
	[[ $c =~ ^(randread|randwrite|read|write):[0-9]+[kKmM]?:[1-9][0-9]*$ ]] ||
		{ echo "bad case '$c' in CASES: expected rw:bs:qd, rw one of randread randwrite read write (e.g. randread:4k:32)" >&2; exit 2; }
done

scripts/deps.sh --fio
[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release -Dtests=false >/dev/null
ninja -C build-release -j2 >/dev/null
ENGINE=$PWD/build-release/tools/fio/fabriq-fio.so
[ -f "$ENGINE" ] || { echo "no $ENGINE: meson found no fio source (scripts/deps.sh --fio)" >&2; exit 1; }
PERF="build-release/tools/fabriq/fabriq perf"
FQD=build-release/tools/fabriqd/fabriqd
NQN=nqn.2026-11.io.fabriq:bench
OUT=bench/results/$(date -u +%Y%m%dT%H%M%SZ)-fio
mkdir -p "$OUT"
RAW=$OUT/raw.jsonl
: >"$RAW"
. bench/lib.sh
PORT=$(bench_free_port)
TRID="trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$PORT subnqn:$NQN"
FILE="trtype=TCP adrfam=IPv4 traddr=127.0.0.1 trsvcid=$PORT subnqn=${NQN/:/\\:} ns=1"

bench_start_fabriqd $FQD "$PORT" --nqn $NQN --ns "ram:$NS_SIZE" --reactors 1 \
	--busy-poll-us $([ "$POLL" = 1 ] && echo 1000000 || echo 0)
bench_prefill "$FQD_PID" "$NS_SIZE" "$TRID" taskset -c "$LOAD_CPU" $PERF

# run KIND ROUND RW BS QD: one measurement, one JSON line into $RAW.
run() {
	local kind=$1 round=$2 rw=$3 bs=$4 qd=$5 dir=read fair=()
	[[ $rw == *write ]] && dir=write
	if [ "$kind" = perf ]; then
		taskset -c "$LOAD_CPU" $PERF -r "$TRID" -w "$rw" -o "$bs" -q "$qd" -t "$SECS" --warmup 1 \
			$([ "$POLL" = 1 ] && echo --poll || echo --no-poll) --disable-sqflow --json | python3 -c "
import json,sys; t=json.load(sys.stdin)['total']
print(json.dumps({'kind':'perf','case':'$rw:$bs:$qd','round':$round,'iops':t['iops'],'p50_us':t['p50_us'],'p99_us':t['p99_us']}))"
		return
	fi
	[ "$kind" = fio ] && fair=(--norandommap=1 --randrepeat=0 --disable_slat=1 --disable_lat=1)
	taskset -c "$LOAD_CPU" fio --ioengine="$ENGINE" --name=fio --thread=1 --numjobs=1 \
		--filename="$FILE" --rw="$rw" --bs="$bs" --iodepth="$qd" --time_based=1 --runtime="$SECS" \
		--ramp_time=1 --busy_poll="$POLL" --disable_sqflow=1 "${fair[@]}" --output-format=json | python3 -c "
import json,sys; t=sys.stdin.read(); r=json.loads(t[t.index('{'):])['jobs'][0]['$dir']
print(json.dumps({'kind':'$kind','case':'$rw:$bs:$qd','round':$round,'iops':r['iops'],
  'p50_us':r['clat_ns']['percentile']['50.000000']/1000,'p99_us':r['clat_ns']['percentile']['99.000000']/1000}))"
}

for round in $(seq 1 "$ROUNDS"); do
	kinds="perf fio fio-defaults"
	[ $((round % 2)) = 0 ] && kinds="fio-defaults fio perf"
	for c in $CASES; do
		IFS=: read -r rw bs qd <<<"$c"
		for kind in $kinds; do
			run "$kind" "$round" "$rw" "$bs" "$qd" | tee -a "$RAW"
		done
	done
done
bench_stop_fabriqd

python3 - "$RAW" "$OUT/results.json" "$POLL" "$CASES" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cases = sys.argv[4].split()
names = {'perf': 'fabriq perf', 'fio': 'fio+engine', 'fio-defaults': 'fio defaults'}
res = {'goal': 0.9, 'poll': sys.argv[3] == '1', 'cases': {}}
print('1 job, poll=%s; median of %d rounds (min-max)' % (sys.argv[3], max(r['round'] for r in rows)))
for c in cases:
    cr = [r for r in rows if r['case'] == c]
    out = {}
    for k in names:
        iops = [r['iops'] for r in cr if r['kind'] == k]
        out[k] = {'median_iops': statistics.median(iops), 'min_iops': min(iops), 'max_iops': max(iops),
                  'median_p50_us': statistics.median(r['p50_us'] for r in cr if r['kind'] == k)}
    for k in ('fio', 'fio-defaults'):
        out['ratio_' + k] = out[k]['median_iops'] / out['perf']['median_iops']
        # Per round, each fio run against the perf run of its round: rounds
        # disturbed by other work show up here instead of hiding in a median.
        out['round_ratios_' + k] = [round(f['iops'] / p['iops'], 3) for p in cr if p['kind'] == 'perf'
                                    for f in cr if f['kind'] == k and f['round'] == p['round']]
    res['cases'][c] = out
    rw, bs, qd = c.split(':')
    print('%s %s QD%s' % (bs, rw, qd))
    for k, n in names.items():
        print('  %-14s %9.0f IOPS  (%.0f-%.0f)  p50 %.1f us' % (n, out[k]['median_iops'], out[k]['min_iops'],
              out[k]['max_iops'], out[k]['median_p50_us']))
    for k in ('fio', 'fio-defaults'):
        print('  %-14s %.2f  rounds %s%s' % (names[k] + ' / perf', out['ratio_' + k],
              ' '.join('%.2f' % x for x in out['round_ratios_' + k]),
              ('  (goal >= %.1f: %s)' % (res['goal'], 'met' if out['ratio_fio'] >= res['goal'] else 'NOT met'))
              if k == 'fio' else ''))
res['met'] = all(res['cases'][c]['ratio_fio'] >= res['goal'] for c in cases)
json.dump(res, open(sys.argv[2], 'w'), indent=1)
print('goal fio >= %.1f x perf in every case: %s' % (res['goal'], 'met' if res['met'] else 'NOT met'))
PY
echo "results in $OUT"
