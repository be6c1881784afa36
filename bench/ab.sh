#!/usr/bin/env bash
# Two revisions of Fabriq side by side: is the new one as fast as the old?
#
#   bench/ab.sh [OLD_REV [NEW_REV]]     (defaults: 9a3e919 and HEAD)
#
# Each revision is checked out into bench/ab/<rev>/ (git worktree) and built
# there with the same options (release, no tests). Every case then runs
# once per revision per round, alternating, so that what the machine's
# neighbours do falls on both alike: each revision's own fabriqd (one
# reactor, RAM namespace, pinned to TARGET_CPU) against its own
# `fabriq perf` (pinned to LOAD_CPU), 4 KiB randread and randwrite at
# QD 1, 32 and 128, in the default mode (both sides sleep) and in the
# polling mode (target busy-polls, perf --poll). The report takes, per case
# and revision, the median IOPS and the median p50 latency over the rounds
# (ROUNDS, default 3) and gives new/old; the goal is within 3% (IOPS at
# least 0.97x, QD1 p50 at most 1.03x). On a shared 2-core machine single
# rounds move by 10-30%: read the spread before the verdict.
#
# Environment: TARGET_CPU (0), LOAD_CPU (1), SECONDS_PER_CASE (5),
# WARMUP (1), NS_SIZE (1G), ROUNDS (3), MODES ("default poll"), CASES
# (workload:QD pairs, default "randread:1 randread:32 randread:128
# randwrite:1 randwrite:32 randwrite:128").
# Results: bench/results/<time>-ab/{raw.jsonl,results.json,results.md}.
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:-9a3e919}
NEW=${2:-HEAD}
TARGET_CPU=${TARGET_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SECS=${SECONDS_PER_CASE:-5}
WARMUP=${WARMUP:-1}
NS_SIZE=${NS_SIZE:-1G}
ROUNDS=${ROUNDS:-3}
MODES=${MODES:-default poll}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a positive integer, not '$ROUNDS'" >&2; exit 2; }
for m in $MODES; do
	[[ $m == default || $m == poll ]] || { echo "MODES takes 'default' and 'poll', not '$m'" >&2; exit 2; }
done

scripts/deps.sh
declare -A DIR
for rev in "$OLD" "$NEW"; do
	sha=$(git rev-parse --short=12 "$rev^{commit}") || { echo "no revision '$rev'" >&2; exit 2; }
	d=bench/ab/$sha
	if [ ! -d "$d" ]; then
		git worktree add --detach -q "$d" "$sha"
	fi
	[ -f "$d/build/build.ninja" ] || meson setup "$d/build" "$d" --buildtype=release -Dtests=false >/dev/null
	echo "building $rev ($sha) in $d/build"
	ninja -C "$d/build" >/dev/null
	DIR[$rev]=$d/build
done

OUT=bench/results/$(date -u +%Y%m%dT%H%M%SZ)-ab
mkdir -p "$OUT"
RAW=$OUT/raw.jsonl
: >"$RAW"
NQN=nqn.2026-11.io.fabriq:bench
. bench/lib.sh
PORT=$(bench_free_port)
TRID="trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$PORT subnqn:$NQN"

start_target() { # build-dir busy-poll-us
	bench_start_fabriqd "$1/tools/fabriqd/fabriqd" "$PORT" --nqn $NQN --ns "ram:$NS_SIZE" \
		--reactors 1 --busy-poll-us "$2"
}
stop_target() { bench_stop_fabriqd; }

read -r -a cases <<<"${CASES:-randread:1 randread:32 randread:128 randwrite:1 randwrite:32 randwrite:128}"
for c in "${cases[@]}"; do
	[[ $c =~ ^rand(read|write):[1-9][0-9]*$ ]] || { echo "CASES takes randread:QD and randwrite:QD, not '$c'" >&2; exit 2; }
done
for round in $(seq 1 "$ROUNDS"); do
	for mode in $MODES; do
		for rev in "$OLD" "$NEW"; do
			b=${DIR[$rev]}
			start_target "$b" $([ "$mode" = poll ] && echo 1000000 || echo 0)
			# Reads of never-written RAM hit one shared zero page: write it all first.
			taskset -c "$LOAD_CPU" "$b/tools/fabriq/fabriq" perf -r "$TRID" -w write -o 128k -q 32 -t 1 \
				--json >/dev/null
			for c in "${cases[@]}"; do
				wl=${c%%:*} qd=${c#*:}
				taskset -c "$LOAD_CPU" "$b/tools/fabriq/fabriq" perf -r "$TRID" -w "$wl" -o 4k -q "$qd" \
					-t "$SECS" --warmup "$WARMUP" --disable-sqflow \
					$([ "$mode" = poll ] && echo --poll || echo --no-poll) --json | python3 -c "
import json,sys; t=json.load(sys.stdin)['total']
print(json.dumps({'rev':'$rev','round':$round,'mode':'$mode','workload':'$wl','qd':$qd,
  'iops':t['iops'],'p50_us':t['p50_us']}))" | tee -a "$RAW"
			done
			stop_target
		done
	done
done

python3 - "$RAW" "$OUT" "$OLD" "$NEW" <<'PY'
import json, statistics, sys
raw, out, old, new = sys.argv[1:5]
rows = [json.loads(l) for l in open(raw)]
keys = sorted({(r['mode'], r['workload'], r['qd']) for r in rows}, key=lambda k: (k[0], k[1], k[2]))
res, lines, ok = [], [], True
lines.append('| mode | case | QD | %s IOPS | %s IOPS | new/old | %s p50 us | %s p50 us | new/old |' % (old, new, old, new))
lines.append('|---|---|---|---|---|---|---|---|---|')
for mode, wl, qd in keys:
    side = {}
    for rev in (old, new):
        rr = [r for r in rows if (r['mode'], r['workload'], r['qd'], r['rev']) == (mode, wl, qd, rev)]
        side[rev] = {'iops': statistics.median(r['iops'] for r in rr),
                     'iops_min': min(r['iops'] for r in rr), 'iops_max': max(r['iops'] for r in rr),
                     'p50_us': statistics.median(r['p50_us'] for r in rr)}
    ri = side[new]['iops'] / side[old]['iops']
    rl = side[new]['p50_us'] / side[old]['p50_us'] if side[old]['p50_us'] else float('nan')
    case_ok = ri >= 0.97 and (qd != 1 or rl <= 1.03)
    ok &= case_ok
    res.append({'mode': mode, 'workload': wl, 'qd': qd, 'old': side[old], 'new': side[new],
                'iops_ratio': ri, 'p50_ratio': rl, 'within_3pct': case_ok})
    lines.append('| %s | %s 4K | %d | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) | %.3f | %.1f | %.1f | %.3f |%s' % (
        mode, wl, qd, side[old]['iops'], side[old]['iops_min'], side[old]['iops_max'],
        side[new]['iops'], side[new]['iops_min'], side[new]['iops_max'], ri,
        side[old]['p50_us'], side[new]['p50_us'], rl, '' if case_ok else ' **outside 3%**'))
json.dump({'old': old, 'new': new, 'rounds': max(r['round'] for r in rows), 'cases': res,
           'all_within_3pct': ok}, open(out + '/results.json', 'w'), indent=1)
open(out + '/results.md', 'w').write('\n'.join(lines) + '\n')
print('\n'.join(lines))
print('all cases within 3%%: %s (median of %d rounds)' % ('yes' if ok else 'no', max(r['round'] for r in rows)))
PY
echo "results in $OUT"
