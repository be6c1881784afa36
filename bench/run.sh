#!/usr/bin/env bash
# The benchmark suite: one command, every number next to the machine's bound.
#
#   bench/run.sh [--quick]
#
# 1. Builds a release tree (build-release/).
# 2. Measures the bound with bench/bound (raw TCP, the same message sizes as
#    NVMe/TCP 4 KiB and 128 KiB reads and writes), server on TARGET_CPU and
#    client on LOAD_CPU, blocking and busy-polling, at 1, 32 and 128 outstanding.
#    Then the 4 KiB polling QD128 exchange once more with the server reading
#    and writing a memory the size of each namespace (bound --mem), to show
#    what the RAM namespace's DRAM traffic alone costs.
# 3. Starts fabriqd (one reactor, RAM namespace) pinned to TARGET_CPU and runs
#    fabriq perf pinned to LOAD_CPU over the matrix: 4 KiB randread/randwrite
#    at QD 1/32/128, 128 KiB read/write at QD 32, digests off/on, polling
#    (target busy-poll + perf --poll) and not polling (both sleep). The RAM
#    namespace is written once before each series so reads touch real memory.
#    A last polling series repeats the 4 KiB cases on a namespace small enough
#    to stay in the CPU cache (HOT_NS_SIZE), like the bound's one buffer: the
#    difference to the main series is the cost of reading and writing DRAM.
# 4. Times the digest (CRC32C) of a 4 KiB block on LOAD_CPU, in the cache and
#    from a 1 GiB memory, with ISA-L alone and with Fabriq's path.
# 5. Records target and host CPU use per case and the target's idle CPU over
#    5 s with a host connected and no I/O.
# 6. Writes bench/results/<time>/{results.json,results.md,iops.svg,latency.svg}
#    and prints the table.
#
# Environment: TARGET_CPU (0), LOAD_CPU (1), SECONDS_PER_CASE (5), WARMUP (1),
# NS_SIZE (1G), HOT_NS_SIZE (16M), ROUNDS (1). With ROUNDS=N, steps 2 and 3
# run N times in turn (bound, then Fabriq) and the report takes each case's
# median round by IOPS, with the spread: a shared machine's neighbours move
# single runs by 10-30%.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_CPU=${TARGET_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SECS=${SECONDS_PER_CASE:-5}
WARMUP=${WARMUP:-1}
NS_SIZE=${NS_SIZE:-1G}
HOT_NS_SIZE=${HOT_NS_SIZE:-16M}
ROUNDS=${ROUNDS:-1}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a positive integer, not '$ROUNDS'" >&2; exit 2; }
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1 && SECS=2 && WARMUP=0.5

scripts/deps.sh
[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release -Dtests=false >/dev/null
ninja -C build-release >/dev/null

OUT=bench/results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
RAW=$OUT/raw.jsonl
: >"$RAW"
BOUND=build-release/bench/bound
PERF="build-release/tools/fabriq/fabriq perf"
FQD=build-release/tools/fabriqd/fabriqd
IDLE=build-release/bench/idle_host
NQN=nqn.2026-11.io.fabriq:bench
. bench/lib.sh
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

echo "== machine"
{
	echo "{\"kind\":\"machine\",\"cpu\":\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')\","
	echo "\"cpus\":$(nproc),\"kernel\":\"$(uname -r)\",\"mem_gib\":$(awk '/MemTotal/{printf "%.0f", $2/1048576}' /proc/meminfo),"
	echo "\"target_cpu\":$TARGET_CPU,\"load_cpu\":$LOAD_CPU,\"seconds\":$SECS,\"rounds\":$ROUNDS,\"commit\":\"$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\"}"
} | tr -d '\n' >>"$RAW"
echo >>"$RAW"
tail -1 "$RAW"

run_bound() { # name req rsp qd poll [memory size]
	local port pid mem=${6:-}
	port=$(bench_free_port)
	$BOUND server --port "$port" --cpu "$TARGET_CPU" $([ "$5" = 1 ] && echo --poll) \
		${mem:+--mem "$mem"} &
	pid=$!
	sleep 0.3
	$BOUND client --port "$port" --cpu "$LOAD_CPU" --req "$2" --rsp "$3" --qd "$4" \
		--seconds "$SECS" $([ "$5" = 1 ] && echo --poll) --json |
		sed "s/^{/{\"kind\":\"bound\",\"round\":$ROUND,\"name\":\"$1\",${mem:+\"mem\":\"$mem\",}/" |
		tee -a "$RAW"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
}
run_bounds() {
	for poll in 0 1; do
		for qd in 1 32 128; do
			run_bound read4k 72 4120 $qd $poll
			run_bound write4k 4168 24 $qd $poll
		done
		run_bound read128k 72 131096 32 $poll
		run_bound write128k 131144 24 32 $poll
	done
	# The same exchange with the server reading and writing a namespace-sized
	# memory, like the RAM backend: what DRAM adds to the bound on this machine.
	for mem in "$NS_SIZE" "$HOT_NS_SIZE"; do
		run_bound read4k 72 4120 128 1 "$mem"
		run_bound write4k 4168 24 128 1 "$mem"
	done
}

PORT=$(bench_free_port)
TRID="trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$PORT subnqn:$NQN"
start_target() { # busy_poll_us [namespace size]
	bench_start_fabriqd $FQD "$PORT" --nqn $NQN --ns "ram:${2:-$NS_SIZE}" --reactors 1 \
		--busy-poll-us "$1"
}
stop_target() { bench_stop_fabriqd; }

cases=("randread 4096 1" "randread 4096 32" "randread 4096 128" "randwrite 4096 1"
	"randwrite 4096 32" "randwrite 4096 128" "read 131072 32" "write 131072 32")
[ $QUICK = 1 ] && cases=("randread 4096 1" "randread 4096 128" "randwrite 4096 128")
run_series() { # poll digest namespace-size case...
	local poll=$1 dg=$2 ns=$3 busy
	shift 3
	busy=$([ "$poll" = 1 ] && echo 1000000 || echo 0)
	start_target "$busy" "$ns"
	# Write the whole namespace once: reads of never-written RAM all hit
	# one shared zero page, which is cache-hot and flatters read numbers.
	taskset -c "$LOAD_CPU" $PERF -r "$TRID" -w write -o 128k -q 32 -t 1 --json >/dev/null
	for c in "$@"; do
		read -r wl size qd <<<"$c"
		t0=$(cpu_ticks "$FQD_PID")
		s0=$(date +%s.%N)
		json=$(taskset -c "$LOAD_CPU" $PERF -r "$TRID" -w "$wl" -o "$size" -q "$qd" \
			-t "$SECS" --warmup "$WARMUP" --json --disable-sqflow $([ "$poll" = 1 ] && echo --poll || echo --no-poll) \
			$([ "$dg" = 1 ] && echo --hdr-digest --data-digest))
		s1=$(date +%s.%N)
		t1=$(cpu_ticks "$FQD_PID")
		tcpu=$(echo "scale=2; 100*($t1-$t0)/$HZ/($s1-$s0)" | bc)
		echo "$json" | python3 -c "
import json,sys
d=json.load(sys.stdin); t=d['total']
print(json.dumps({'kind':'perf','round':$ROUND,'workload':'$wl','io_size':$size,'qd':$qd,'poll':$poll==1,
  'digest':$dg==1,'ns':'$ns','main':'$ns'=='$NS_SIZE','iops':t['iops'],'mib_s':t['mib_per_s'],
  'mean_us':t['lat_mean_us'],'p50_us':t['p50_us'],'p90_us':t['p90_us'],'p99_us':t['p99_us'],
  'p99_9_us':t['p99_9_us'],'p99_99_us':t['p99_99_us'],'max_us':t['lat_max_us'],
  'errors':t['errors'],'host_cpu_pct':d['cpu_pct'],'target_cpu_pct':$tcpu}))" | tee -a "$RAW"
	done
	stop_target
}
run_matrix() {
	for poll in 0 1; do # sleeping (the default) first: see docs/performance.md on throttling
		for dg in 0 1; do
			run_series $poll $dg "$NS_SIZE" "${cases[@]}"
		done
	done
	hot=()
	for c in "${cases[@]}"; do
		if [[ $c == *" 4096 "* ]]; then hot+=("$c"); fi
	done
	if [ "$HOT_NS_SIZE" != "$NS_SIZE" ]; then
		run_series 1 0 "$HOT_NS_SIZE" "${hot[@]}"
	fi
}

for ROUND in $(seq 1 "$ROUNDS"); do
	echo "== round $ROUND of $ROUNDS: bound (raw TCP, same message sizes)"
	run_bounds
	echo "== round $ROUND of $ROUNDS: fabriq perf against fabriqd"
	run_matrix
done

echo "== digest compute (CRC32C of a 4 KiB block: ISA-L alone and Fabriq's path)"
taskset -c "$LOAD_CPU" build-release/bench/crc_speed | tee -a "$RAW"

echo "== idle target CPU (host connected, no I/O, 5 s)"
start_target 0
$IDLE "$TRID" 7 >/dev/null &
IDLE_PID=$!
sleep 1
t0=$(cpu_ticks "$FQD_PID")
sleep 5
t1=$(cpu_ticks "$FQD_PID")
wait "$IDLE_PID"
stop_target
echo "{\"kind\":\"idle\",\"seconds\":5,\"target_cpu_pct\":$(echo "scale=2; 100*($t1-$t0)/$HZ/5" | bc)}" | tee -a "$RAW"

echo "== allocations on the steady-state I/O path (counting allocator, 3 s windows)"
bench/alloc_check.sh build-release | tee -a "$RAW" || echo "allocation check: the I/O path allocated"

python3 bench/report.py "$RAW" "$OUT"
echo "results: $OUT"
