#!/usr/bin/env bash
# How close a volume throttle (fabriq volume throttle, docs/volumes.md "QoS
# and control") holds I/O to its limits, measured with fabriq perf.
#
#   bench/vol_qos.sh
#
# fabriqd (one reactor, pinned to TARGET_CPU) serves two thin volumes of a
# RAM pool, a and b, each on its own subsystem. For each case one limit is
# set on a over the management socket and fabriq perf (pinned to LOAD_CPU)
# pushes far more than the limit at it for SECONDS_PER_CASE; the report
# gives the rate it got as a share of the limit (the goal is 0.95..1.05),
# next to what the same workload got on the unlimited volume b just before
# (on a loaded machine a limit near that cannot be reached).
# The burst (BURST_MS, default 100) lets up to that much of the rate through
# at the start, which perf's warm-up absorbs. The depth must cover the
# rate times the round trip plus the up to 1 ms an I/O waits for the
# release timer, or the host, not the limit, sets the rate (hence QD127 at
# 20000 IOPS). Last, the neighbour: b's IOPS alone, and while a is
# saturated against its limit at the same time (both perf processes share
# LOAD_CPU, so b's second number is also bounded by the load generator).
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
FQ=build-release/tools/fabriq/fabriq
FQD=build-release/tools/fabriqd/fabriqd
OUT=bench/results/$(date -u +%Y%m%dT%H%M%SZ)-vol-qos
mkdir -p "$OUT"
RAW=$OUT/raw.jsonl
: >"$RAW"
. bench/lib.sh
PORT=$(bench_free_port)
SOCK=$OUT/fabriqd.sock
trid() { echo "trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$PORT subnqn:nqn.2026-01.io.fabriq:vol:p0:$1"; }
cat >"$OUT/fabriqd.ini" <<INI
[target]
reactors = 1

[port "io"]
address = 127.0.0.1
port = $PORT

[pool "p0"]
bdev = ram:3G
create = yes
cluster_size = 1M
volume = a:1G
volume = b:1G

[subsystem "nqn.2026-11.io.fabriq:bench-ram"]
namespace = ram:1M
INI
taskset -c "$TARGET_CPU" $FQD -c "$OUT/fabriqd.ini" --rpc-socket "$SOCK" --log-level warn \
	>>"$OUT/fabriqd.log" 2>&1 &
FQD_PID=$!
for _ in $(seq 100); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null &&
		[ -S "$SOCK" ] && break
	sleep 0.1
done

perf_json() { # volume workload size qd
	taskset -c "$LOAD_CPU" $FQ perf -r "$(trid "$1")" -n 1 -w "$2" -o "$3" -q "$4" -t "$SECS" \
		--warmup 1 --no-poll --json
}
throttle() { $FQ volume throttle "p0/$1" "$2" -S "$SOCK" >/dev/null; }
none="read_iops=0,write_iops=0,read_bps=0,write_bps=0,burst_ms=$BURST_MS"

# Every cluster written once, so reads and writes measure the limit, not allocation.
for v in a b; do
	$FQ write -r "$(trid $v)" --nsid 1 --offset 0 --length 1G --pattern 0x5a \
		--queue-depth 16 >/dev/null
done

# limit-key limit workload io-size qd; measured in IOPS or bytes/s as the key says
cases=("read_iops 5000 randread 4k 127" "read_iops 20000 randread 4k 127"
	"write_iops 10000 randwrite 4k 127" "read_bps 52428800 read 128k 16"
	"write_bps 104857600 write 128k 16")
for c in "${cases[@]}"; do
	read -r key limit wl size qd <<<"$c"
	# What the machine gives unlimited right now (b), then a under the limit.
	cap=$(perf_json b "$wl" "$size" "$qd" | python3 -c "
import json,sys; t=json.load(sys.stdin)['total']
print(t['iops'] if '$key'.endswith('iops') else t['mib_per_s'] * 1048576)")
	throttle a "$none,$key=$limit"
	perf_json a "$wl" "$size" "$qd" | python3 -c "
import json,sys; t=json.load(sys.stdin)['total']
got = t['iops'] if '$key'.endswith('iops') else t['mib_per_s'] * 1048576
print(json.dumps({'kind':'limit','key':'$key','limit':$limit,'workload':'$wl','io_size':'$size','qd':$qd,
  'got':got,'share':got / $limit,'unlimited':$cap}))" | tee -a "$RAW"
done

# The neighbour: b alone, then with a limited to 5000 reads/s and saturated.
throttle a "$none,read_iops=5000"
perf_json b randread 4k 32 | python3 -c "
import json,sys; t=json.load(sys.stdin)['total']
print(json.dumps({'kind':'neighbour','alone':True,'iops':t['iops']}))" | tee -a "$RAW"
perf_json a randread 4k 127 >"$OUT/limited.json" &
BG=$!
perf_json b randread 4k 32 | python3 -c "
import json,sys; t=json.load(sys.stdin)['total']
print(json.dumps({'kind':'neighbour','alone':False,'iops':t['iops']}))" | tee -a "$RAW"
wait $BG
python3 -c "
import json; t=json.load(open('$OUT/limited.json'))['total']
print(json.dumps({'kind':'limited_beside','limit':5000,'iops':t['iops'],'share':t['iops']/5000}))" | tee -a "$RAW"
bench_stop_fabriqd

python3 - "$RAW" "$OUT/results.md" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
out = ['| limit on volume a | workload | b unlimited just before | a got | share of the limit |',
       '|---|---|---|---|---|']
for r in rows:
    if r['kind'] == 'limit':
        out.append('| %s=%d | %s %s QD%d | %.0f | %.0f | %.3f%s |' % (
            r['key'], r['limit'], r['workload'], r['io_size'], r['qd'], r['unlimited'], r['got'],
            r['share'], '' if 0.95 <= r['share'] <= 1.05 else ' **outside 5%**'))
n = {r['alone']: r['iops'] for r in rows if r['kind'] == 'neighbour'}
lim = [r for r in rows if r['kind'] == 'limited_beside'][0]
out.append('')
out.append('volume b next to a (read_iops=5000, saturated): %.0f IOPS alone, %.0f while a runs '
           '(a got %.0f, %.3f of its limit)' % (n[True], n[False], lim['iops'], lim['share']))
open(sys.argv[2], 'w').write('\n'.join(out) + '\n')
print('\n'.join(out))
PY
echo "results in $OUT"
