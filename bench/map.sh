#!/usr/bin/env bash
# What `fabriq map --via user` costs: fio on the mapped loop device against
# fabriq perf on the same volume, in the same run (docs/map.md).
#
#   sudo bench/map.sh
#
# fabriqd (one reactor on TARGET_CPU) serves a 1 GiB thin volume of a pool
# on a file in DIR; the volume is filled through the mapped device first (so
# reads hit allocated clusters), then for each case fio (ioengine=io_uring,
# direct=1, on LOAD_CPU) reads the loop device and fabriq perf (on LOAD_CPU)
# reads the volume's subsystem directly:
#   4 KiB randread at QD32 (goal: map >= 0.25x perf),
#   128 KiB sequential read at QD8 (goal: map >= 0.5x perf).
# fabriq perf hands its commands to the socket 8 at a time; fio, for the
# goal lines, submits to the loop device 8 at a time too (FIO_OPTS, below),
# so that both sides batch alike. Each case is also run with fio's defaults
# (one io_uring_enter, and one pass through the loop device, per I/O), and
# reported beside it without a goal: what an application that submits one
# I/O at a time gets.
# Last, the same fio cases on a loop device over a FUSE file that
# bench/fuse_mem.c (or, with FUSE_RING=yes, bench/fuse_uring_mem.c) serves
# from memory (one thread, nothing behind it): what the loop device and the
# FUSE round trip alone allow on this machine, the bound of the map column.
# The map serving process (FUSE threads and libfabriq) is left to the
# scheduler, as a user's would be. Needs root, fio, /dev/fuse and loop devices.
#
# FUSE_RING (auto, yes or no; default yes where the kernel has FUSE over
# io_uring, else no) is the map's `fuse_ring` setting (docs/map.md): with
# yes the serving process takes FUSE requests through io_uring, switching
# the kernel's fuse.enable_uring on for the run (and back off after it, if
# it was off).
#
# With PERF_STAT=1, `perf stat` counts the serving process's context
# switches, system calls and CPU time during the map's 4 KiB case, and how
# idle each CPU was meanwhile (perf-stat-rr4k.txt in the results).
#
# FIO_OPTS are fio's options for the goal lines, the map's and the bound's
# (default "--iodepth_batch_submit=8 --iodepth_batch_complete_max=8").
#
# Environment: DIR (/var/tmp), TARGET_CPU (0), LOAD_CPU (1), SECONDS_PER_CASE (10),
# FUSE_RING, PERF_STAT (0), FIO_OPTS.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${DIR:-/var/tmp}
TARGET_CPU=${TARGET_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SECS=${SECONDS_PER_CASE:-10}
FIO_OPTS=${FIO_OPTS---iodepth_batch_submit=8 --iodepth_batch_complete_max=8}
RING_PARAM=/sys/module/fuse/parameters/enable_uring
RING_WAS=$(cat "$RING_PARAM" 2>/dev/null || echo none)
if [ -z "${FUSE_RING:-}" ]; then
	FUSE_RING=no
	[ "$RING_WAS" != none ] && FUSE_RING=yes
fi
[ "$(id -u)" = 0 ] || { echo "bench/map.sh: needs root (FUSE and loop devices)" >&2; exit 2; }
command -v fio >/dev/null || { echo "bench/map.sh: needs fio (apt-get install fio)" >&2; exit 2; }

scripts/deps.sh
[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release -Dtests=false >/dev/null
ninja -C build-release >/dev/null
FQ=build-release/tools/fabriq/fabriq
FQD=build-release/tools/fabriqd/fabriqd
OUT=bench/results/$(date -u +%Y%m%dT%H%M%SZ)-map
mkdir -p "$OUT"
WORK=$(mktemp -d "$DIR/fabriq-mapbench-XXXXXX")
POOL=mb$$
MEMLOOP=
MEM_PID=
. bench/lib.sh
cleanup() {
	"$FQ" unmap --force "$POOL/v1" >/dev/null 2>&1 || true
	[ -n "$MEMLOOP" ] && losetup -d "$MEMLOOP" 2>/dev/null
	[ -n "$MEM_PID" ] && kill "$MEM_PID" 2>/dev/null && wait "$MEM_PID" 2>/dev/null
	[ -n "$FQD_PID" ] && kill "$FQD_PID" 2>/dev/null
	[ "$RING_WAS" = N ] && echo N >"$RING_PARAM"
	rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(bench_free_port)
DPORT=$(bench_free_port)
NQN=nqn.2026-01.io.fabriq:vol:$POOL:v1
cat >"$WORK/fabriqd.ini" <<EOF
[target]
reactors = 1

[port "io"]
address = 127.0.0.1
port = $PORT

[port "disc"]
address = 127.0.0.1
port = $DPORT
discovery_only = yes

[pool "$POOL"]
bdev = file:$WORK/pool.img:2G
create = yes
volume = v1:1G
EOF
taskset -c "$TARGET_CPU" "$FQD" -c "$WORK/fabriqd.ini" --log-level warn >>"$OUT/fabriqd.log" 2>&1 &
FQD_PID=$!
for _ in $(seq 100); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null && break
	sleep 0.1
done

printf '[map]\nfuse_ring = %s\n' "$FUSE_RING" >"$WORK/fabriq.conf"
DEV=$("$FQ" map "tcp://127.0.0.1:$DPORT/$POOL/v1" --via user --config "$WORK/fabriq.conf")
echo "mapped $DEV (fuse_ring = $FUSE_RING)" | tee "$OUT/summary.txt"
grep -h "map-serve: FUSE" /run/fabriq/map/"$POOL"/*.log 2>/dev/null | tee -a "$OUT/summary.txt" || true
dd if=/dev/urandom of="$DEV" bs=1M count=1024 oflag=direct status=none

fio_case() { # name rw bs depth [device]; fio's options in $OPTS
	# shellcheck disable=SC2086 # OPTS is a list of options
	taskset -c "$LOAD_CPU" fio --name="$1" --filename="${5:-$DEV}" --ioengine=io_uring --direct=1 \
		--rw="$2" --bs="$3" --iodepth="$4" --time_based --runtime="$SECS" --ramp_time=1 \
		$OPTS --output-format=json >"$OUT/fio-$1.json"
	python3 -c "import json,sys; j=json.load(open('$OUT/fio-$1.json'))['jobs'][0]['read']; print('%.0f %.1f' % (j['iops'], j['bw_bytes']/1048576))"
}
perf_case() { # name workload size depth
	taskset -c "$LOAD_CPU" "$FQ" perf --traddr 127.0.0.1 --trsvcid "$PORT" --nqn "$NQN" \
		-w "$2" -o "$3" -q "$4" -t "$SECS" --warmup 1 --json >"$OUT/perf-$1.json"
	python3 -c "
import json; j=json.load(open('$OUT/perf-$1.json'))
t=j['total']
print('%.0f %.1f' % (t['iops'], t['mib_per_s']))"
}

report() { # label map perf [goal]
	python3 -c "
m=[float(x) for x in '$2'.split()]; p=[float(x) for x in '$3'.split()]
g='${4:-}'
print('%-26s map %9.0f IOPS %8.1f MiB/s | perf %9.0f IOPS %8.1f MiB/s | ratio %.2f%s' % ('$1', m[0], m[1], p[0], p[1], m[0]/p[0], ' (goal >= %s)' % g if g else ''))" | tee -a "$OUT/summary.txt"
}

STAT_PID=
if [ "${PERF_STAT:-0}" = 1 ]; then
	SERVE_PID=$(pgrep -f -- "map-serve .*--file /run/fabriq/map/$POOL/v1" | head -1)
	(sleep 2 && grep '^cpu[0-9]' /proc/stat >"$OUT/cpu0.txt" &&
		perf stat -e task-clock,context-switches,cpu-migrations,raw_syscalls:sys_enter \
			-p "$SERVE_PID" -o "$OUT/perf-stat-rr4k.txt" -- sleep $((SECS - 2)) &&
		grep '^cpu[0-9]' /proc/stat >"$OUT/cpu1.txt" && python3 -c "
a={l.split()[0]: [int(x) for x in l.split()[1:]] for l in open('$OUT/cpu0.txt')}
b={l.split()[0]: [int(x) for x in l.split()[1:]] for l in open('$OUT/cpu1.txt')}
for c in sorted(a):
    d=[y-x for x,y in zip(a[c],b[c])]
    print('%s idle %.0f %%' % (c, 100.0*(d[3]+d[4])/max(1,sum(d))))" >>"$OUT/perf-stat-rr4k.txt") &
	STAT_PID=$!
fi
OPTS=$FIO_OPTS
m=$(fio_case rr4k randread 4k 32)
if [ -n "$STAT_PID" ]; then wait "$STAT_PID"; fi
OPTS=
m1=$(fio_case rr4k-defaults randread 4k 32)
p=$(perf_case rr4k randread 4K 32)
report "4 KiB randread QD32" "$m" "$p" 0.25
report "  (fio defaults)" "$m1" "$p"
OPTS=$FIO_OPTS
m=$(fio_case sr128k read 128k 8)
OPTS=
m1=$(fio_case sr128k-defaults read 128k 8)
p=$(perf_case sr128k read 128K 8)
report "128 KiB seq read QD8" "$m" "$p" 0.5
report "  (fio defaults)" "$m1" "$p"

"$FQ" unmap "$POOL/v1" >/dev/null
bench_stop_fabriqd

# The bound takes FUSE requests the same way as the map did: through
# io_uring (bench/fuse_uring_mem.c) or through /dev/fuse (bench/fuse_mem.c).
touch "$WORK/memfile"
if [ "$FUSE_RING" = yes ]; then
	build-release/bench/fuse_uring_mem "$WORK/memfile" 1024 64 2>>"$OUT/fuse_mem.log" &
else
	cc -O2 -std=gnu11 bench/fuse_mem.c $(pkg-config --cflags --libs fuse3) -o "$WORK/fuse_mem"
	"$WORK/fuse_mem" "$WORK/memfile" 1024 &
fi
MEM_PID=$!
for _ in $(seq 50); do
	grep -q " $WORK/memfile " /proc/mounts && break
	sleep 0.1
done
MEMLOOP=$(losetup --direct-io=on -f --show "$WORK/memfile")
bound() { # label fio-result
	python3 -c "
m=[float(x) for x in '$2'.split()]
print('%-26s FUSE from memory %9.0f IOPS %8.1f MiB/s (bound of map)' % ('$1', m[0], m[1]))" |
		tee -a "$OUT/summary.txt"
}
OPTS=$FIO_OPTS
bound "4 KiB randread QD32" "$(fio_case mem-rr4k randread 4k 32 "$MEMLOOP")"
bound "128 KiB seq read QD8" "$(fio_case mem-sr128k read 128k 8 "$MEMLOOP")"
OPTS=
bound "  (fio defaults)" "$(fio_case mem-rr4k-defaults randread 4k 32 "$MEMLOOP")"
bound "  (fio defaults)" "$(fio_case mem-sr128k-defaults read 128k 8 "$MEMLOOP")"
losetup -d "$MEMLOOP"
MEMLOOP=
kill "$MEM_PID"
wait "$MEM_PID" || true
MEM_PID=
echo "results in $OUT"
