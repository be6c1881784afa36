#!/usr/bin/env bash
# What thin volumes cost: pool metadata at scale (bench/vol_meta.c) and the
# data path of a volume against the same file served raw, with fabriq perf.
#
#   bench/volume.sh
#
# 1. vol_meta on a sparse file in DIR: for each count in CLUSTERS, first
#    writes into that many 1 MiB clusters of one thin volume (4 KiB each,
#    QD64), the pool's open after it is abandoned (the journal replays, as
#    after a kill -9) and after a clean close, and the heap the open takes per
#    million mapped clusters; then snapshot and clone times of a 100 GiB
#    volume with 10 GiB written (median and maximum of 11).
# 2. fabriqd (one reactor on TARGET_CPU) serves a thin volume (namespace 1)
#    and a raw file of the same size (namespace 2) from DIR; fabriq perf on
#    LOAD_CPU fills both with fabriq write, then runs 4 KiB randread and
#    randwrite at QD32 on each (first writes are vol_meta's part). The report gives the volume's share of
#    the raw file's IOPS (the goal is 0.95 or more).
#
# HOST_POLL (poll or no-poll, default poll) is fabriq perf's completion
# mode. Polling fills LOAD_CPU, so the kernel's io_uring worker that does
# the buffered writes to both files (one at a time per file) shares
# TARGET_CPU with the reactor and writeback; with no-poll it can run on
# LOAD_CPU too.
#
# Environment: DIR (/var/tmp), CLUSTERS ("10000 100000 1000000"), VOL_SIZE
# (4G), TARGET_CPU (0), LOAD_CPU (1), SECONDS_PER_CASE (10), ROUNDS (5: the
# volume and raw cases alternate that many times; medians are reported),
# META (1; 0 skips part 1), HOST_POLL (poll).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${DIR:-/var/tmp}
CLUSTERS=${CLUSTERS:-"10000 100000 1000000"}
VOL_SIZE=${VOL_SIZE:-4G}
TARGET_CPU=${TARGET_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SECS=${SECONDS_PER_CASE:-10}
ROUNDS=${ROUNDS:-5}
META=${META:-1}
HOST_POLL=${HOST_POLL:-poll}
[[ $HOST_POLL == poll || $HOST_POLL == no-poll ]] ||
	{ echo "HOST_POLL takes poll or no-poll, not '$HOST_POLL'" >&2; exit 2; }

scripts/deps.sh
[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release -Dtests=false >/dev/null
ninja -C build-release >/dev/null
PERF="build-release/tools/fabriq/fabriq perf"
FQD=build-release/tools/fabriqd/fabriqd
NQN=nqn.2026-11.io.fabriq:bench
OUT=bench/results/$(date -u +%Y%m%dT%H%M%SZ)-volume
mkdir -p "$OUT"
RAW=$OUT/raw.jsonl
: >"$RAW"
WORK=$(mktemp -d "$DIR/fabriq-volbench-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
. bench/lib.sh
trap '[ -n "$FQD_PID" ] && kill "$FQD_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

if [ "$META" != 0 ]; then
	# shellcheck disable=SC2086
	build-release/bench/vol_meta "$WORK/meta.img" $CLUSTERS | tee -a "$RAW"
	rm -f "$WORK/meta.img" # its page cache is not the data path's
fi

PORT=$(bench_free_port)
TRID="trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$PORT subnqn:$NQN"
cat >"$WORK/fabriqd.ini" <<EOF
[target]
reactors = 1

[port "io"]
address = 127.0.0.1
port = $PORT

[pool "p0"]
bdev = file:$WORK/pool.img:$((2 * ${VOL_SIZE%G}))G
create = yes
volume = v:$VOL_SIZE

[subsystem "$NQN"]
namespace = vol:p0/v
namespace = file:$WORK/raw.img:$VOL_SIZE
EOF
taskset -c "$TARGET_CPU" "$FQD" -c "$WORK/fabriqd.ini" --log-level warn >>"$OUT/fabriqd.log" 2>&1 &
FQD_PID=$!
for _ in $(seq 100); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null && break
	sleep 0.1
done

perf_case() { # label nsid workload size qd
	# Each case starts with no dirty page of the others: without this, the
	# writeback of the fill (after its 30 s expiry) or of the previous
	# randwrite lands inside whichever case runs then and slows it.
	sync
	taskset -c "$LOAD_CPU" $PERF -r "$TRID" -n "$2" -w "$3" -o "$4" -q "$5" -t "$SECS" --warmup 1 \
		--"$HOST_POLL" --json | python3 -c "
import json,sys; t=json.load(sys.stdin)['total']
print(json.dumps({'kind':'perf','case':'$1','nsid':$2,'workload':'$3','io_size':'$4','qd':$5,
  'iops':t['iops'],'mib_per_s':t['mib_per_s']}))" | tee -a "$RAW"
}

for ns in 1 2; do
	taskset -c "$LOAD_CPU" build-release/tools/fabriq/fabriq write -r "$TRID" --nsid "$ns" \
		--offset 0 --length "$VOL_SIZE" --pattern 0x5a --queue-depth 16 >/dev/null
done
# Alternated, ROUNDS times: on a shared machine the noise between two runs
# is larger than the difference measured, so the report takes medians.
# The order within a pair changes every round, so neither side always
# runs first.
for r in $(seq "$ROUNDS"); do
	for wl in randread randwrite; do
		if [ $((r % 2)) = 1 ]; then
			perf_case volume 1 "$wl" 4k 32
			perf_case raw 2 "$wl" 4k 32
		else
			perf_case raw 2 "$wl" 4k 32
			perf_case volume 1 "$wl" 4k 32
		fi
	done
done
bench_stop_fabriqd

python3 - "$RAW" "$OUT/results.md" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
out = []
for r in rows:
    if r['kind'] == 'pool_open':
        out.append('- %d clusters: %.0f first writes/s; open after abandon %.1f ms (%d journal '
                   'entries), after a clean close %.1f ms; heap %.2f MiB per million clusters'
                   % (r['clusters'], r['first_write_allocs_per_s'], r['open_after_kill_s'] * 1e3,
                      r['journal_replayed'], r['open_after_clean_s'] * 1e3,
                      r['heap_mib_per_million_clusters']))
    elif r['kind'] == 'snapshot':
        out.append('- snapshot of a %d GiB volume with %d GiB written: median %.2f ms (max %.2f); '
                   'clone median %.2f ms (max %.2f)'
                   % (r['volume_bytes'] >> 30, r['allocated_bytes'] >> 30, r['snapshot_ms_median'],
                      r['snapshot_ms_max'], r['clone_ms_median'], r['clone_ms_max']))
import statistics
perf = {}
for r in rows:
    if r['kind'] == 'perf':
        perf.setdefault((r['case'], r['workload']), []).append(r['iops'])
for wl in ('randread', 'randwrite'):
    v, r = perf.get(('volume', wl)), perf.get(('raw', wl))
    if v and r:
        ratios = sorted(a / b for a, b in zip(v, r))
        out.append('- 4 KiB %s QD32, %d alternated rounds: allocated thin volume %.0f IOPS '
                   '(median; %.0f..%.0f), raw file %.0f (%.0f..%.0f); volume/raw per round '
                   'median %.3f (%.3f..%.3f)'
                   % (wl, len(v), statistics.median(v), min(v), max(v), statistics.median(r),
                      min(r), max(r), statistics.median(ratios), ratios[0], ratios[-1]))
open(sys.argv[2], 'w').write('\n'.join(out) + '\n')
print('\n'.join(out))
PY
