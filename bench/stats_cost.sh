#!/usr/bin/env bash
# What the per-namespace I/O statistics cost: 4 KiB random reads (and
# writes) at QD 32 against a fabriqd built as usual and one built with
# -Dio_stats=false, which compiles out every per-command counter and the
# latency histograms (src/target/tgt.h, fq_stat_add). The goal is at most
# 2% fewer IOPS with the statistics (docs/management.md); not a CI gate.
#
#   bench/stats_cost.sh
#
# Both builds come from the working tree (bench/stats/{on,off}, release,
# no tests). Each round runs every case once per build, alternating, so
# that what the machine's neighbours do falls on both alike: that build's
# fabriqd (one reactor, RAM namespace, pinned to TARGET_CPU) against the
# same `fabriq perf` (the `on` build's, pinned to LOAD_CPU), in the default
# mode (both sides sleep when idle). The report gives, per case, the median
# IOPS of each build over the rounds with the range, and on/off; and the
# target's CPU time per command (utime + stime of fabriqd over the run, from
# /proc/PID/stat, divided by the commands perf completed), which the
# machine's neighbours disturb less than IOPS do on a shared machine. Last,
# bench/stats_add times the statistics' updates of one command alone, in a
# loop, and the report gives that as a share of the CPU time per command.
#
# Environment: TARGET_CPU (0), LOAD_CPU (1), SECONDS_PER_CASE (5),
# WARMUP (0: every command of the run is counted), NS_SIZE (1G), ROUNDS (5),
# CASES ("randread 32" "randwrite 32" as one string: "randread 32,randwrite 32").
# Results: bench/results/<time>-stats-cost/{raw.jsonl,results.json,results.md}.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_CPU=${TARGET_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SECS=${SECONDS_PER_CASE:-5}
WARMUP=${WARMUP:-0}
NS_SIZE=${NS_SIZE:-1G}
ROUNDS=${ROUNDS:-5}
IFS=, read -r -a cases <<<"${CASES:-randread 32,randwrite 32}"
TICK=$(getconf CLK_TCK)
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a positive integer, not '$ROUNDS'" >&2; exit 2; }

scripts/deps.sh
for v in on off; do
	d=bench/stats/$v
	stats=true
	[ $v = on ] || stats=false
	[ -f "$d/build.ninja" ] ||
		meson setup "$d" --buildtype=release -Dtests=false -Dio_stats=$stats >/dev/null
	echo "building io_stats=$v in $d"
	ninja -C "$d" >/dev/null
done
PERF=bench/stats/on/tools/fabriq/fabriq

OUT=bench/results/$(date -u +%Y%m%dT%H%M%SZ)-stats-cost
mkdir -p "$OUT"
RAW=$OUT/raw.jsonl
: >"$RAW"
NQN=nqn.2026-11.io.fabriq:bench
. bench/lib.sh
PORT=$(bench_free_port)
TRID="trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$PORT subnqn:$NQN"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$FQD_PID/stat"; }
for round in $(seq 1 "$ROUNDS"); do
	for v in on off; do
		bench_start_fabriqd "bench/stats/$v/tools/fabriqd/fabriqd" "$PORT" --nqn $NQN \
			--ns "ram:$NS_SIZE" --reactors 1
		bench_prefill "$FQD_PID" "$NS_SIZE" "$TRID" taskset -c "$LOAD_CPU" $PERF perf
		for c in "${cases[@]}"; do
			read -r wl qd <<<"$c"
			c0=$(cpu_ticks)
			taskset -c "$LOAD_CPU" $PERF perf -r "$TRID" -w "$wl" -o 4k -q "$qd" -t "$SECS" \
				--warmup "$WARMUP" --no-poll --json >"$OUT/perf.json"
			c1=$(cpu_ticks)
			python3 -c "
import json; t=json.load(open('$OUT/perf.json'))['total']
ops = t['reads'] + t['writes']
print(json.dumps({'stats':'$v','round':$round,'workload':'$wl','qd':$qd,'iops':t['iops'],
  'p50_us':t['p50_us'],'cpu_us_per_io':($c1 - $c0) * 1e6 / $TICK / max(ops, 1)}))" | tee -a "$RAW"
		done
		bench_stop_fabriqd
	done
done

# The statistics alone, timed in a loop (deterministic where the runs above are noisy).
ninja -C bench/stats/on bench/stats_add >/dev/null
taskset -c "$TARGET_CPU" bench/stats/on/bench/stats_add >"$OUT/stats_add.json"

python3 - "$RAW" "$OUT" <<'PY'
import json, os, platform, statistics, sys, time
raw, out = sys.argv[1:3]
rows = [json.loads(l) for l in open(raw)]
alone = json.load(open(out + '/stats_add.json'))
keys = sorted({(r['workload'], r['qd']) for r in rows})
lines = ['| case | QD | with statistics IOPS | without IOPS | with/without | target CPU us/command with | without | with/without |',
         '|---|---|---|---|---|---|---|---|']
res = []
for wl, qd in keys:
    side = {}
    for v in ('on', 'off'):
        it = [r['iops'] for r in rows if (r['workload'], r['qd'], r['stats']) == (wl, qd, v)]
        cpu = [r['cpu_us_per_io'] for r in rows if (r['workload'], r['qd'], r['stats']) == (wl, qd, v)]
        side[v] = {'iops': statistics.median(it), 'min': min(it), 'max': max(it),
                   'cpu_us_per_io': statistics.median(cpu)}
    ratio = side['on']['iops'] / side['off']['iops']
    cratio = side['on']['cpu_us_per_io'] / side['off']['cpu_us_per_io']
    res.append({'workload': wl, 'qd': qd, 'on': side['on'], 'off': side['off'], 'ratio': ratio,
                'cpu_ratio': cratio})
    lines.append('| %s 4K | %d | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) | %.3f | %.2f | %.2f | %.3f |' % (
        wl, qd, side['on']['iops'], side['on']['min'], side['on']['max'],
        side['off']['iops'], side['off']['min'], side['off']['max'], ratio,
        side['on']['cpu_us_per_io'], side['off']['cpu_us_per_io'], cratio))
model = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')),
           platform.machine())
meta = {'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), 'cpu': model,
        'cpus': os.cpu_count(), 'kernel': platform.release(),
        'rounds': max(r['round'] for r in rows)}
for r in res:
    r['stats_share_of_cpu'] = alone['ns_per_command_median'] / (r['on']['cpu_us_per_io'] * 1000)
lines.append('')
lines.append('The statistics alone (bench/stats_add): %.1f ns per command (median batch), %s of the '
             'target CPU time per command measured above.' % (
                 alone['ns_per_command_median'],
                 ', '.join('%.2f%% (%s)' % (100 * r['stats_share_of_cpu'], r['workload'])
                           for r in res)))
json.dump({'meta': meta, 'cases': res, 'stats_add': alone}, open(out + '/results.json', 'w'),
          indent=1)
head = '%s, %s (%d CPUs), Linux %s, load average %s at the end, median of %d rounds' % (
    meta['date'], meta['cpu'], meta['cpus'], meta['kernel'], open('/proc/loadavg').read().split()[0],
    meta['rounds'])
open(out + '/results.md', 'w').write(head + '\n\n' + '\n'.join(lines) + '\n')
print(head)
print('\n'.join(lines))
PY
echo "results in $OUT"
