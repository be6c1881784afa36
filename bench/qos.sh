#!/usr/bin/env bash
# How close the qos layer holds I/O to its limits, measured with fabriq perf.
#
#   bench/qos.sh
#
# fabriqd (one reactor, pinned to TARGET_CPU) serves a RAM namespace under
# `qos:` with one limit at a time; fabriq perf (pinned to LOAD_CPU) pushes
# far more than the limit for SECONDS_PER_CASE and the report gives the rate
# it got as a share of the limit (the goal is 0.95..1.05). The burst
# (BURST_MS, default 100) lets up to that much of the rate through at the
# start of a run, which the warm-up of perf absorbs. Last, a plain namespace
# next to a limited one: its IOPS alone and while the limited one is
# saturated at the same time (the limit must not hold it back).
#
# Environment: TARGET_CPU (0), LOAD_CPU (1), SECONDS_PER_CASE (5), BURST_MS (100).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_CPU=${TARGET_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SECS=${SECONDS_PER_CASE:-5}
BURST_MS=${BURST_MS:-100}

scripts/deps.sh
[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release -Dtests=false >/dev/null
ninja -C build-release >/dev/null
PERF="build-release/tools/fabriq/fabriq perf"
FQD=build-release/tools/fabriqd/fabriqd
NQN=nqn.2026-11.io.fabriq:bench
OUT=bench/results/$(date -u +%Y%m%dT%H%M%SZ)-qos
mkdir -p "$OUT"
RAW=$OUT/raw.jsonl
: >"$RAW"
. bench/lib.sh
PORT=$(bench_free_port)
TRID="trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$PORT subnqn:$NQN"

start_target() { # --ns arguments...
	bench_start_fabriqd $FQD "$PORT" --nqn $NQN --reactors 1 "$@"
}
stop_target() { bench_stop_fabriqd; }
perf_json() { # nsid workload size qd
	taskset -c "$LOAD_CPU" $PERF -r "$TRID" -n "$1" -w "$2" -o "$3" -q "$4" -t "$SECS" --warmup 1 --no-poll --json
}

# limit-key limit workload io-size qd; measured in IOPS or bytes/s as the key says
cases=("read_iops 5000 randread 4k 32" "read_iops 20000 randread 4k 32"
	"write_iops 10000 randwrite 4k 32" "read_bps 52428800 read 128k 16"
	"write_bps 104857600 write 128k 16")
for c in "${cases[@]}"; do
	read -r key limit wl size qd <<<"$c"
	start_target --ns "qos:$key=$limit,burst_ms=$BURST_MS+ram:1G"
	perf_json 1 "$wl" "$size" "$qd" | python3 -c "
import json,sys; t=json.load(sys.stdin)['total']
got = t['iops'] if '$key'.endswith('iops') else t['mib_per_s'] * 1048576
print(json.dumps({'kind':'limit','key':'$key','limit':$limit,'workload':'$wl','io_size':'$size','got':got,
  'share':got / $limit}))" | tee -a "$RAW"
	stop_target
done

# The neighbour: namespace 2 alone, then with namespace 1 (limited) saturated.
start_target --ns "qos:read_iops=5000,burst_ms=$BURST_MS+ram:1G" --ns ram:1G
perf_json 2 randread 4k 32 | python3 -c "
import json,sys; t=json.load(sys.stdin)['total']
print(json.dumps({'kind':'neighbour','alone':True,'iops':t['iops']}))" | tee -a "$RAW"
perf_json 1 randread 4k 32 >/dev/null &
BG=$!
perf_json 2 randread 4k 32 | python3 -c "
import json,sys; t=json.load(sys.stdin)['total']
print(json.dumps({'kind':'neighbour','alone':False,'iops':t['iops']}))" | tee -a "$RAW"
wait $BG
stop_target

python3 - "$RAW" "$OUT/results.md" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
out = ['| limit | workload | got | share of the limit |', '|---|---|---|---|']
for r in rows:
    if r['kind'] == 'limit':
        out.append('| %s=%d | %s %s | %.0f | %.3f%s |' % (r['key'], r['limit'], r['workload'], r['io_size'],
                   r['got'], r['share'], '' if 0.95 <= r['share'] <= 1.05 else ' **outside 5%**'))
n = {r['alone']: r['iops'] for r in rows if r['kind'] == 'neighbour'}
out.append('')
out.append('plain namespace next to a limited one: %.0f IOPS alone, %.0f while the limited one runs' % (n[True], n[False]))
open(sys.argv[2], 'w').write('\n'.join(out) + '\n')
print('\n'.join(out))
PY
echo "results in $OUT"
