#!/usr/bin/env bash
# Show that the steady-state I/O path allocates nothing: run fabriqd and
# fabriq perf under the counting allocator (bench/alloc_count.c), read both
# counters after the warm-up and again 3 s later, and report the difference.
#   bench/alloc_check.sh [BUILD_DIR]   (default build-release)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-release}
SHIM=$(realpath "$B/bench/alloc_count.so")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
NQN=nqn.2026-11.io.fabriq:alloc
T=$(mktemp -d)
LD_PRELOAD=$SHIM "$B/tools/fabriqd/fabriqd" --listen 127.0.0.1:$PORT --nqn $NQN \
	--ns ram:256M --ns "file:$T/ns.img:256M" --reactors 1 --log-level warn >/dev/null 2>"$T/fqd.err" &
FQD=$!
sleep 0.5
result=0
for ns in 1 2; do
	for wl in randread randwrite; do
		LD_PRELOAD=$SHIM "$B/tools/fabriq/fabriq" perf -r "trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$PORT subnqn:$NQN" \
			-n $ns -w $wl -o 4k -q 32 -t 6 --json >/dev/null 2>"$T/perf.err" &
		PERF=$!
		sleep 2
		kill -USR1 $FQD; kill -USR1 $PERF
		sleep 3
		kill -USR1 $FQD; kill -USR1 $PERF
		wait $PERF
		sleep 0.2
		read -r t0 t1 <<<"$(grep -o 'allocs=[0-9]*' "$T/fqd.err" | tail -2 | cut -d= -f2 | tr '\n' ' ')"
		read -r p0 p1 <<<"$(grep -o 'allocs=[0-9]*' "$T/perf.err" | tail -2 | cut -d= -f2 | tr '\n' ' ')"
		ns_kind=$([ $ns = 1 ] && echo ram || echo file)
		echo "{\"kind\":\"alloc\",\"namespace\":\"$ns_kind\",\"workload\":\"$wl\",\"window_s\":3,\"target_allocs\":$((t1 - t0)),\"host_allocs\":$((p1 - p0)),\"target_allocs_since_start\":$t1,\"host_allocs_since_start\":$p1}"
		[ $((t1 - t0)) -eq 0 ] && [ $((p1 - p0)) -eq 0 ] || result=1
	done
done
kill -TERM $FQD
wait $FQD || true
rm -rf "$T"
exit $result
