#!/usr/bin/env bash
# FUSE over io_uring against classic /dev/fuse as the bound of `fabriq map
# --via user` (docs/map.md, Throughput): the same FUSE file served from
# memory by bench/fuse_mem.c (read/writev on /dev/fuse) and by
# bench/fuse_uring_mem.c (io_uring commands), each under a loop device with
# direct I/O, read by fio (ioengine=io_uring, direct=1, on LOAD_CPU, the
# servers left to the scheduler) in alternation, ROUNDS times:
#   4 KiB randread at QD32 and 128 KiB sequential read at QD8.
# With PERF_STAT=1 (the default), during each 4 KiB case `perf stat` counts
# the server's CPU time, context switches and system calls over WINDOW
# seconds, and /proc/stat how busy the machine was, to give CPU per request.
# Counting system calls costs the classic server (two per request) more
# than the ring one: take the IOPS from a PERF_STAT=0 run.
#
#   sudo bench/fuse_uring.sh
#
# Sets /sys/module/fuse/parameters/enable_uring to Y for the run and puts
# the old value back. Needs root, fio, perf, and a kernel with
# CONFIG_FUSE_IO_URING (6.14+).
#
# Environment: DIR (/var/tmp), LOAD_CPU (1), SECONDS_PER_CASE (10), ROUNDS (3),
# ENTRIES (32 ring entries per queue), PERF_STAT (1), SERVER_CPU (unset: the
# servers are not pinned; a CPU list pins both).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${DIR:-/var/tmp}
LOAD_CPU=${LOAD_CPU:-1}
SECS=${SECONDS_PER_CASE:-10}
ROUNDS=${ROUNDS:-3}
ENTRIES=${ENTRIES:-32}
PERF_STAT=${PERF_STAT:-1}
WINDOW=$((SECS - 3))
PARAM=/sys/module/fuse/parameters/enable_uring
[ "$(id -u)" = 0 ] || { echo "bench/fuse_uring.sh: needs root" >&2; exit 2; }
[ -w "$PARAM" ] || { echo "bench/fuse_uring.sh: no $PARAM (CONFIG_FUSE_IO_URING)" >&2; exit 2; }

[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release -Dtests=false >/dev/null
ninja -C build-release bench/fuse_uring_mem >/dev/null
OUT=bench/results/$(date -u +%Y%m%dT%H%M%SZ)-fuse-uring
mkdir -p "$OUT"
WORK=$(mktemp -d "$DIR/fabriq-furing-XXXXXX")
OLD=$(cat "$PARAM")
declare -A PID LOOP
cleanup() {
	for s in mem uring; do
		[ -n "${LOOP[$s]:-}" ] && losetup -d "${LOOP[$s]}" 2>/dev/null
		umount "$WORK/$s" 2>/dev/null
		[ -n "${PID[$s]:-}" ] && kill "${PID[$s]}" 2>/dev/null && wait "${PID[$s]}" 2>/dev/null
	done
	echo "$OLD" >"$PARAM"
	rm -rf "$WORK"
}
trap cleanup EXIT
echo Y >"$PARAM"

# shellcheck disable=SC2046 # pkg-config prints several flags
cc -O2 -std=gnu11 bench/fuse_mem.c $(pkg-config --cflags --libs fuse3) -o "$WORK/fuse_mem"
start() { # name binary [entries]
	local s=$1 bin=$2
	shift 2
	touch "$WORK/$s"
	if [ -n "${SERVER_CPU:-}" ]; then
		taskset -c "$SERVER_CPU" "$bin" "$WORK/$s" 1024 "$@" >>"$OUT/$s.log" 2>&1 &
	else
		"$bin" "$WORK/$s" 1024 "$@" >>"$OUT/$s.log" 2>&1 &
	fi
	PID[$s]=$!
	for _ in $(seq 50); do
		grep -q " $WORK/$s " /proc/mounts && break
		sleep 0.1
	done
	LOOP[$s]=$(losetup --direct-io=on -f --show "$WORK/$s")
}
start mem "$WORK/fuse_mem"
start uring build-release/bench/fuse_uring_mem "$ENTRIES"
sleep 0.5
grep -q queues "$OUT/uring.log" || { echo "ring not registered:" >&2; cat "$OUT/uring.log" >&2; exit 1; }

fio_case() { # name rw bs depth device
	taskset -c "$LOAD_CPU" fio --name="$1" --filename="$5" --ioengine=io_uring --direct=1 \
		--rw="$2" --bs="$3" --iodepth="$4" --time_based --runtime="$SECS" --ramp_time=1 \
		--output-format=json >"$OUT/fio-$1.json"
}
stat_case() { # name pid: CPU of the server and of the machine over WINDOW s
	sleep 2
	grep '^cpu ' /proc/stat >"$OUT/cpu0-$1.txt"
	perf stat -x, -e task-clock,context-switches,raw_syscalls:sys_enter -p "$2" \
		-o "$OUT/perf-$1.txt" -- sleep "$WINDOW"
	grep '^cpu ' /proc/stat >"$OUT/cpu1-$1.txt"
}
row() { # name
	python3 - "$OUT" "$1" "$WINDOW" <<'EOF' | tee -a "$OUT/summary.txt"
import json, os, sys
out, name, win = sys.argv[1], sys.argv[2], float(sys.argv[3])
j = json.load(open(f"{out}/fio-{name}.json"))["jobs"][0]["read"]
line = "%-18s %9.0f IOPS %8.1f MiB/s" % (name, j["iops"], j["bw_bytes"] / 1048576)
if os.path.exists(f"{out}/perf-{name}.txt"):
    c = {}
    for l in open(f"{out}/perf-{name}.txt"):
        f = l.strip().split(",")
        if len(f) > 2 and f[0] and f[0][0].isdigit():
            c[f[2]] = float(f[0])
    a = [int(x) for x in open(f"{out}/cpu0-{name}.txt").read().split()[1:]]
    b = [int(x) for x in open(f"{out}/cpu1-{name}.txt").read().split()[1:]]
    d = [y - x for x, y in zip(a, b)]
    busy = 1 - (d[3] + d[4]) / max(1, sum(d))
    reqs = j["iops"] * win
    line += " | server %.2f us CPU, %.2f cs, %.2f syscalls /req | machine %.0f %% busy, %.2f us CPU/req" % (
        c.get("task-clock", 0) * 1000 / reqs, c.get("context-switches", 0) / reqs,
        c.get("raw_syscalls:sys_enter", 0) / reqs, 100 * busy, busy * 2 * win * 1e6 / reqs)
print(line)
EOF
}
for r in $(seq "$ROUNDS"); do
	order="mem uring"
	[ $((r % 2)) = 0 ] && order="uring mem"
	for s in $order; do
		st=
		if [ "$PERF_STAT" = 1 ]; then
			stat_case "$s-rr4k-$r" "${PID[$s]}" &
			st=$!
		fi
		fio_case "$s-rr4k-$r" randread 4k 32 "${LOOP[$s]}"
		[ -z "$st" ] || wait "$st"
		row "$s-rr4k-$r"
	done
	for s in $order; do
		fio_case "$s-sr128k-$r" read 128k 8 "${LOOP[$s]}"
		row "$s-sr128k-$r"
	done
done
python3 - "$OUT" <<'EOF' | tee -a "$OUT/summary.txt"
import glob, json, statistics, sys
out = sys.argv[1]
for case in ("rr4k", "sr128k"):
    med = {}
    for s in ("mem", "uring"):
        v = [json.load(open(f))["jobs"][0]["read"] for f in sorted(glob.glob(f"{out}/fio-{s}-{case}-*.json"))]
        med[s] = (statistics.median(x["iops"] for x in v), statistics.median(x["bw_bytes"] / 1048576 for x in v))
        print("median %-6s %-6s %9.0f IOPS %8.1f MiB/s" % (case, s, *med[s]))
    print("median %-6s uring/mem %.2f" % (case, med["uring"][0] / med["mem"][0]))
EOF
echo "results in $OUT"
