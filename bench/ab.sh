#!/usr/bin/env bash
# Two revisions of Fabriq side by side: is the new one as fast as the old?
#
#   bench/ab.sh [OLD_REV [NEW_REV]]     (defaults: 9a3e919 and HEAD)
#
# Each revision is checked out into bench/ab/<rev>/ (git worktree) and built
# there with the same options (release, no tests). Each round starts one
# fabriqd per revision (one reactor, RAM namespace, pinned to TARGET_CPU),
# and with AA=1 (the default) a second one of OLD, the A/A control. All are
# up at once, every one but the instance measured held with SIGSTOP (a
# stopped polling target spins no more); each case then runs on each
# instance back to back, with that revision's `fabriq perf` (pinned to
# LOAD_CPU): 4 KiB randread and randwrite at QD 1, 32 and 128, in the
# default mode (both sides sleep) and in the polling mode (target
# busy-polls, perf --poll). The instances of one case run seconds apart,
# not a round apart, and the order rotates each round.
#
# The report takes, per case and revision, the median IOPS and the median
# p50 latency over the rounds (ROUNDS, default 3) and gives new/old (the
# verdict: within 3%, IOPS at least 0.97x, QD1 p50 at most 1.03x), the
# median of the per-round new/old ratios, and again/old: OLD against
# itself. When again/old is outside 3% the machine moved more than the
# goal between instances, and new/old says no more than that.
#
# Environment: TARGET_CPU (0), LOAD_CPU (1), SECONDS_PER_CASE (5),
# WARMUP (1), NS_SIZE (1G), ROUNDS (3), MODES ("default poll"), AA (1),
# CASES (workload:QD pairs, default "randread:1 randread:32 randread:128
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
AA=${AA:-1}
[[ $AA == 0 || $AA == 1 ]] || { echo "AA takes 0 or 1, not '$AA'" >&2; exit 2; }
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

read -r -a cases <<<"${CASES:-randread:1 randread:32 randread:128 randwrite:1 randwrite:32 randwrite:128}"
for c in "${cases[@]}"; do
	[[ $c =~ ^rand(read|write):[1-9][0-9]*$ ]] || { echo "CASES takes randread:QD and randwrite:QD, not '$c'" >&2; exit 2; }
done
# The instances of a round: label and build. "again" is a second instance
# of OLD, the A/A control: its ratio to OLD is what the machine alone moves.
labels=(old new)
declare -A BUILD=([old]=${DIR[$OLD]} [new]=${DIR[$NEW]})
if [ "$AA" = 1 ]; then
	labels+=(again)
	BUILD[again]=${DIR[$OLD]}
fi
declare -A PID PORT
# A stopped fabriqd keeps its listener; stopped, a polling one spins no more.
stop_all() {
	for l in "${!PID[@]}"; do
		kill -CONT "${PID[$l]}" 2>/dev/null || true
		kill -TERM "${PID[$l]}" 2>/dev/null || true
	done
}
trap stop_all EXIT
trid() { echo "trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:${PORT[$1]} subnqn:$NQN"; }

for round in $(seq 1 "$ROUNDS"); do
	# Rotate the order each round, so that no instance always starts (and
	# runs) first: the instance started last was seen slower at QD1 in an
	# A/A run whatever its build.
	n=${#labels[@]}
	order=()
	for i in $(seq 0 $((n - 1))); do
		order+=("${labels[$(((i + round - 1) % n))]}")
	done
	for mode in $MODES; do
		busy=0 pflag=--no-poll
		[ "$mode" = poll ] && busy=1000000 pflag=--poll
		for l in "${order[@]}"; do
			b=${BUILD[$l]}
			PORT[$l]=$(bench_free_port)
			bench_start_fabriqd "$b/tools/fabriqd/fabriqd" "${PORT[$l]}" --nqn $NQN --ns "ram:$NS_SIZE" \
				--reactors 1 --busy-poll-us "$busy"
			PID[$l]=$FQD_PID
			FQD_PID=
			bench_prefill "${PID[$l]}" "$NS_SIZE" "$(trid "$l")" \
				taskset -c "$LOAD_CPU" "$b/tools/fabriq/fabriq" perf
			kill -STOP "${PID[$l]}"
		done
		for c in "${cases[@]}"; do
			wl=${c%%:*} qd=${c#*:}
			# The instances of a case run back to back, only the one
			# measured awake: seconds apart rather than a whole round.
			for l in "${order[@]}"; do
				b=${BUILD[$l]}
				kill -CONT "${PID[$l]}"
				taskset -c "$LOAD_CPU" "$b/tools/fabriq/fabriq" perf -r "$(trid "$l")" -w "$wl" -o 4k \
					-q "$qd" -t "$SECS" --warmup "$WARMUP" --disable-sqflow \
					"$pflag" --json | python3 -c "
import json,sys; t=json.load(sys.stdin)['total']
print(json.dumps({'rev':'$l','round':$round,'mode':'$mode','workload':'$wl','qd':$qd,
  'iops':t['iops'],'p50_us':t['p50_us']}))" | tee -a "$RAW"
				kill -STOP "${PID[$l]}"
			done
		done
		for l in "${order[@]}"; do
			kill -CONT "${PID[$l]}"
			FQD_PID=${PID[$l]}
			unset "PID[$l]"
			bench_stop_fabriqd
		done
	done
done

python3 - "$RAW" "$OUT" "$OLD" "$NEW" <<'PY'
import json, statistics, sys
raw, out, old, new = sys.argv[1:5]
rows = [json.loads(l) for l in open(raw)]
keys = sorted({(r['mode'], r['workload'], r['qd']) for r in rows}, key=lambda k: (k[0], k[1], k[2]))
aa = any(r['rev'] == 'again' for r in rows)
med = statistics.median

def pick(k, lab):
    return {r['round']: r for r in rows if (r['mode'], r['workload'], r['qd']) == k and r['rev'] == lab}

def paired(a, b, f):
    return med(f(b[i]) / f(a[i]) for i in a if i in b and f(a[i]))

res, lines, ok, aa_ok = [], [], True, True
lines.append('| mode | case | QD | %s IOPS | %s IOPS | new/old | paired | %sp50 new/old |' %
             (old, new, 'A/A again/old | ' if aa else ''))
lines.append('|---|---|---|---|---|---|---|%s---|' % ('---|' if aa else ''))
for k in keys:
    mode, wl, qd = k
    side = {}
    for lab in ('old', 'new'):
        rr = list(pick(k, lab).values())
        side[lab] = {'iops': med(r['iops'] for r in rr), 'iops_min': min(r['iops'] for r in rr),
                     'iops_max': max(r['iops'] for r in rr), 'p50_us': med(r['p50_us'] for r in rr)}
    ri = side['new']['iops'] / side['old']['iops']
    rp = paired(pick(k, 'old'), pick(k, 'new'), lambda r: r['iops'])
    rl = side['new']['p50_us'] / side['old']['p50_us'] if side['old']['p50_us'] else float('nan')
    case_ok = ri >= 0.97 and (qd != 1 or rl <= 1.03)
    ok &= case_ok
    c = {'mode': mode, 'workload': wl, 'qd': qd, 'old': side['old'], 'new': side['new'],
         'iops_ratio': ri, 'paired_iops_ratio': rp, 'p50_ratio': rl, 'within_3pct': case_ok}
    aacol = ''
    if aa:
        again = list(pick(k, 'again').values())
        ra = med(r['iops'] for r in again) / side['old']['iops']
        c['aa_iops_ratio'] = ra
        aa_ok &= 0.97 <= ra <= 1 / 0.97
        aacol = '%.3f | ' % ra
    res.append(c)
    lines.append('| %s | %s 4K | %d | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) | %.3f | %.3f | %s%s |%s' % (
        mode, wl, qd, side['old']['iops'], side['old']['iops_min'], side['old']['iops_max'],
        side['new']['iops'], side['new']['iops_min'], side['new']['iops_max'], ri, rp, aacol,
        '%.3f' % rl if qd == 1 else '-', '' if case_ok else ' **outside 3%**'))
rounds = max(r['round'] for r in rows)
summary = {'old': old, 'new': new, 'rounds': rounds, 'cases': res, 'all_within_3pct': ok}
if aa:
    summary['aa_all_within_3pct'] = aa_ok
json.dump(summary, open(out + '/results.json', 'w'), indent=1)
open(out + '/results.md', 'w').write('\n'.join(lines) + '\n')
print('\n'.join(lines))
print('all cases within 3%%: %s (median of %d rounds)' % ('yes' if ok else 'no', rounds))
if aa:
    print('the A/A control (OLD against itself) within 3%% in every case: %s%s' % (
        'yes' if aa_ok else 'no',
        '' if aa_ok else ' -- the machine moved more than 3% between instances: rerun'))
PY
echo "results in $OUT"
