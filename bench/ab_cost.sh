#!/usr/bin/env bash
# What a command costs the target, in two builds side by side.
#
#   bench/ab_cost.sh OLD_BUILD NEW_BUILD [MORE_BUILDS...]
#
# Each is a build directory (bench/ab.sh leaves them in bench/ab/<rev>/build);
# every build after the first is compared with the first. Each round starts
# each build's fabriqd (one
# reactor, RAM namespace, pinned to TARGET_CPU) in turn and drives it with
# that build's `fabriq perf` (pinned to LOAD_CPU) while `perf stat` counts
# fabriqd's CPU time (task-clock), its system calls and its
# io_uring_enter calls, and the same of the host process; the report divides
# each by the commands completed.
# On a shared machine IOPS move by tens of percent when a neighbour takes
# the CPU, but a command's CPU time and system calls barely do: a target
# that was descheduled completes fewer commands, each at the same cost.
# Needs perf (linux-perf) and the raw_syscalls tracepoints (root).
#
# Environment: TARGET_CPU (0), LOAD_CPU (1), SECONDS_PER_CASE (5),
# NS_SIZE (1G), ROUNDS (3), MODES ("default poll"), CASES ("randread:1
# randread:32"). Results: bench/results/<time>-cost/{raw.jsonl,results.md}.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_check_builds "$0" "$@"
builds=("$@")
command -v perf >/dev/null || { echo "perf is not installed" >&2; exit 2; }
TARGET_CPU=${TARGET_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SECS=${SECONDS_PER_CASE:-5}
NS_SIZE=${NS_SIZE:-1G}
ROUNDS=${ROUNDS:-3}
MODES=${MODES:-default poll}
read -r -a cases <<<"${CASES:-randread:1 randread:32}"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a positive integer, not '$ROUNDS'" >&2; exit 2; }
for m in $MODES; do
	[[ $m == default || $m == poll ]] || { echo "MODES takes 'default' and 'poll', not '$m'" >&2; exit 2; }
done
for c in "${cases[@]}"; do
	[[ $c =~ ^rand(read|write):[1-9][0-9]*$ ]] || { echo "CASES takes randread:QD and randwrite:QD, not '$c'" >&2; exit 2; }
done

OUT=bench/results/$(date -u +%Y%m%dT%H%M%SZ)-cost
mkdir -p "$OUT"
RAW=$OUT/raw.jsonl
: >"$RAW"
NQN=nqn.2026-11.io.fabriq:bench
PORT=$(bench_free_port)
# What is counted, on the target and on the host alike.
EVENTS=task-clock,raw_syscalls:sys_enter,syscalls:sys_enter_io_uring_enter
TRID="trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$PORT subnqn:$NQN"

for round in $(seq 1 "$ROUNDS"); do
	for mode in $MODES; do
		# Rotate which build goes first, so none always follows another.
		for k in $(seq 0 $(($# - 1))); do
			side=$(((k + round - 1) % $#))
			b=${builds[$side]}
			bench_start_fabriqd "$b/tools/fabriqd/fabriqd" "$PORT" --nqn $NQN --ns "ram:$NS_SIZE" \
				--reactors 1 --busy-poll-us "$([ "$mode" = poll ] && echo 1000000 || echo 0)"
			# The whole namespace written first (bench_prefill), under the
			# same counters as the cases.
			bench_prefill "$FQD_PID" "$NS_SIZE" "$TRID" perf stat -x, -e "$EVENTS" -o /dev/null -- \
				taskset -c "$LOAD_CPU" "$b/tools/fabriq/fabriq" perf
			for c in "${cases[@]}"; do
				wl=${c%%:*} qd=${c#*:}
				perf stat -x, -e "$EVENTS" \
					-p "$FQD_PID" -o "$OUT/stat.csv" &
				stat_pid=$!
				sleep 0.2 # perf attaches
				# The host is counted too, whole process (connecting is a few
				# milliseconds of a run of seconds). With --poll it spins, so its
				# CPU per command is 1/IOPS there; its system calls still count.
				perf stat -x, -e "$EVENTS" \
					-o "$OUT/host.csv" -- taskset -c "$LOAD_CPU" "$b/tools/fabriq/fabriq" perf -r "$TRID" \
					-w "$wl" -o 4k -q "$qd" -t "$SECS" --warmup 0 --disable-sqflow \
					$([ "$mode" = poll ] && echo --poll || echo --no-poll) --json >"$OUT/perf.json"
				kill -INT "$stat_pid"
				wait "$stat_pid" || true
				python3 - "$OUT/stat.csv" "$OUT/host.csv" "$OUT/perf.json" "$side" "$round" "$mode" "$wl" "$qd" \
					<<-'PY' | tee -a "$RAW"
					import json, sys
					stat, hstat, perfj, side, rnd, mode, wl, qd = sys.argv[1:9]
					def counts(path):
					    v = {}
					    for line in open(path):
					        f = line.strip().split(',')
					        if len(f) > 2 and f[0] and f[0][0].isdigit():
					            v[f[2]] = float(f[0])
					    return v
					v, h = counts(stat), counts(hstat)
					t = json.load(open(perfj))['total']
					n = t['reads'] + t['writes']
					print(json.dumps({'side': int(side), 'round': int(rnd), 'mode': mode, 'workload': wl,
					                  'qd': int(qd), 'iops': t['iops'], 'commands': n,
					                  'cpu_ns_per_cmd': v['task-clock'] * 1e6 / n,
					                  'syscalls_per_cmd': v['raw_syscalls:sys_enter'] / n,
					                  'enters_per_cmd': v['syscalls:sys_enter_io_uring_enter'] / n,
					                  'host_cpu_ns_per_cmd': h['task-clock'] * 1e6 / n,
					                  'host_syscalls_per_cmd': h['raw_syscalls:sys_enter'] / n,
					                  'host_enters_per_cmd': h['syscalls:sys_enter_io_uring_enter'] / n}))
				PY
			done
			bench_stop_fabriqd
		done
	done
done

python3 - "$RAW" "$OUT" "$@" <<'PY'
import json, statistics, sys
raw, out, builds = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = [json.loads(l) for l in open(raw)]
keys = sorted({(r['mode'], r['workload'], r['qd']) for r in rows})
lines = ['builds: %s; medians over %d rounds, each build against build 0' % (
    ', '.join('%d = %s' % (i, b) for i, b in enumerate(builds)), max(r['round'] for r in rows)), '']
cols = ('iops', 'cpu_ns_per_cmd', 'syscalls_per_cmd', 'enters_per_cmd',
        'host_cpu_ns_per_cmd', 'host_syscalls_per_cmd', 'host_enters_per_cmd')
med = {}
for mode, wl, qd in keys:
    for side in range(len(builds)):
        rr = [r for r in rows if (r['mode'], r['workload'], r['qd'], r['side']) == (mode, wl, qd, side)]
        med[mode, wl, qd, side] = {k: statistics.median(r[k] for r in rr) for k in cols}
for who, pre in (('target (fabriqd)', ''), ('host (fabriq perf; spins with --poll)', 'host_')):
    lines += ['### ' + who, '',
              '| mode | case | QD | build | IOPS | /build 0 | CPU ns/cmd | /build 0 | syscalls/cmd '
              '| io_uring_enter/cmd |',
              '|---|---|---|---|---|---|---|---|---|---|']
    for mode, wl, qd in keys:
        o = med[mode, wl, qd, 0]
        for side in range(len(builds)):
            n = med[mode, wl, qd, side]
            lines.append('| %s | %s 4K | %d | %d | %.0f | %.3f | %.0f | %.3f | %.3f | %.3f |' % (
                mode, wl, qd, side, n['iops'], n['iops'] / o['iops'], n[pre + 'cpu_ns_per_cmd'],
                n[pre + 'cpu_ns_per_cmd'] / o[pre + 'cpu_ns_per_cmd'],
                n[pre + 'syscalls_per_cmd'], n[pre + 'enters_per_cmd']))
    lines.append('')
open(out + '/results.md', 'w').write('\n'.join(lines) + '\n')
print('\n'.join(lines))
PY
echo "results in $OUT"
