#!/usr/bin/env bash
# fio with the fabriq engine against fabriq perf, on the same case and the
# same pinning: 4 KiB random reads at queue depth 32, one job, SQ flow
# control off; both sides sleep in the kernel (POLL=1: both busy-poll, as in
# bench/run.sh's polling series; on a busy shared machine spinning sides
# starve each other and the numbers swing by 10x).
# The runs alternate, ROUNDS times (default 3); the report takes each side's
# median IOPS and gives fio's share of perf's (the goal is >= 0.9).
#
# fio runs twice a round: with its defaults ("fio"), and with the work
# `fabriq perf` does not do either turned off ("fio-lean"): perf draws
# offsets at random with no map of blocks already visited and times only
# completion latency, while fio by default keeps a random map, takes
# submission and total latency as well, and hands completions out one at a
# time. The lean run sets norandommap, randrepeat=0, disable_slat,
# disable_lat (completion latency and its percentiles stay) and
# iodepth_batch_complete_max=32. Both ratios are reported.
#
#   bench/fio.sh        Environment: TARGET_CPU (0), LOAD_CPU (1),
#                       SECONDS_PER_CASE (5), NS_SIZE (1G), ROUNDS (3), POLL (0)
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_CPU=${TARGET_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SECS=${SECONDS_PER_CASE:-5}
NS_SIZE=${NS_SIZE:-1G}
ROUNDS=${ROUNDS:-3}
POLL=${POLL:-0}
[[ $POLL =~ ^[01]$ ]] || { echo "POLL must be 0 or 1, not '$POLL'" >&2; exit 2; }
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a positive integer, not '$ROUNDS'" >&2; exit 2; }

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
# Reads of never-written RAM hit one shared zero page: write it all first.
taskset -c "$LOAD_CPU" $PERF -r "$TRID" -w write -o 128k -q 32 -t 1 --json >/dev/null

for round in $(seq 1 "$ROUNDS"); do
	taskset -c "$LOAD_CPU" $PERF -r "$TRID" -w randread -o 4k -q 32 -t "$SECS" --warmup 1 \
		$([ "$POLL" = 1 ] && echo --poll || echo --no-poll) --disable-sqflow --json | python3 -c "
import json,sys; t=json.load(sys.stdin)['total']
print(json.dumps({'kind':'perf','round':$round,'iops':t['iops'],'p50_us':t['p50_us'],'p99_us':t['p99_us']}))" |
		tee -a "$RAW"
	for kind in fio fio-lean; do
		lean=()
		[ "$kind" = fio-lean ] && lean=(--norandommap=1 --randrepeat=0 --disable_slat=1 --disable_lat=1
			--iodepth_batch_complete_max=32)
		taskset -c "$LOAD_CPU" fio --ioengine="$ENGINE" --name=fio --thread=1 --numjobs=1 \
			--filename="$FILE" --rw=randread --bs=4k --iodepth=32 --time_based=1 --runtime="$SECS" \
			--ramp_time=1 --busy_poll="$POLL" --disable_sqflow=1 "${lean[@]}" --output-format=json | python3 -c "
import json,sys; t=sys.stdin.read(); r=json.loads(t[t.index('{'):])['jobs'][0]['read']
print(json.dumps({'kind':'$kind','round':$round,'iops':r['iops'],'p50_us':r['clat_ns']['percentile']['50.000000']/1000,
  'p99_us':r['clat_ns']['percentile']['99.000000']/1000}))" | tee -a "$RAW"
	done
done
bench_stop_fabriqd

python3 - "$RAW" "$OUT/results.json" "$POLL" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
res = {}
names = {'perf': 'fabriq perf', 'fio': 'fio+engine', 'fio-lean': 'fio+engine lean'}
for k in names:
    r = [x['iops'] for x in rows if x['kind'] == k]
    p50 = [x['p50_us'] for x in rows if x['kind'] == k]
    res[k] = {'median_iops': statistics.median(r), 'min_iops': min(r), 'max_iops': max(r),
              'median_p50_us': statistics.median(p50)}
res['ratio'] = res['fio']['median_iops'] / res['perf']['median_iops']
res['ratio_lean'] = res['fio-lean']['median_iops'] / res['perf']['median_iops']
# Per round, each fio run against the perf run next to it: rounds disturbed
# by other work show up here instead of hiding in a median.
res['round_ratios'] = {k: [round(f['iops'] / p['iops'], 3) for p in rows if p['kind'] == 'perf'
                           for f in rows if f['kind'] == k and f['round'] == p['round']]
                       for k in ('fio', 'fio-lean')}
res['goal'] = 0.9
res['poll'] = sys.argv[3] == '1'
json.dump(res, open(sys.argv[2], 'w'), indent=1)
print('4 KiB randread QD32, 1 job, poll=%s; median of %d rounds (min-max)' % (sys.argv[3], len([x for x in rows if x['kind'] == 'fio'])))
for k, n in names.items():
    print('  %-16s %9.0f IOPS  (%.0f-%.0f)  p50 %.1f us' % (n, res[k]['median_iops'], res[k]['min_iops'], res[k]['max_iops'], res[k]['median_p50_us']))
for k, n in (('ratio', 'fio / perf'), ('ratio_lean', 'fio lean / perf')):
    rr = res['round_ratios']['fio' if k == 'ratio' else 'fio-lean']
    print('  %-16s %.2f  rounds %s  (goal >= %.1f: %s)' % (n, res[k], ' '.join('%.2f' % x for x in rr), res['goal'], 'met' if res[k] >= res['goal'] else 'NOT met'))
PY
echo "results in $OUT"
