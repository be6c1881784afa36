# SPDX-License-Identifier: MIT
# Helpers the bench scripts share: the build directories checked, a free
# loopback port, one fabriqd started on TARGET_CPU, waited for, stopped and
# checked, its RAM namespace written. The functions read OUT (the run's
# result directory, which receives fabriqd.log), TARGET_CPU and LOAD_CPU
# when they are called.

bench_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# bench_check_builds SCRIPT BUILD...: at least two build directories, each
# with a fabriqd (bench/ab.sh leaves them in bench/ab/<rev>/build).
bench_check_builds() {
	local me=$1 b
	shift
	[ $# -ge 2 ] || { echo "usage: $me OLD_BUILD NEW_BUILD [MORE_BUILDS...]" >&2; exit 2; }
	for b in "$@"; do
		[ -x "$b/tools/fabriqd/fabriqd" ] || { echo "$b: no tools/fabriqd/fabriqd (build it first)" >&2; exit 2; }
	done
}

FQD_PID=
trap '[ -n "$FQD_PID" ] && kill "$FQD_PID" 2>/dev/null; true' EXIT

# bench_start_fabriqd BINARY PORT ARGS...: listen on 127.0.0.1:PORT, return
# once the port accepts connections (exit with the log's tail if it never does).
bench_start_fabriqd() {
	local bin=$1 port=$2
	shift 2
	taskset -c "$TARGET_CPU" "$bin" --listen "127.0.0.1:$port" "$@" --log-level warn \
		>>"$OUT/fabriqd.log" 2>&1 &
	FQD_PID=$!
	for _ in $(seq 50); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" \
			2>/dev/null && return 0
		sleep 0.1
	done
	echo "$bin did not come up; log:" >&2
	tail "$OUT/fabriqd.log" >&2
	exit 1
}

# Stop it with SIGTERM; a non-zero exit status fails the run.
bench_stop_fabriqd() {
	kill -TERM "$FQD_PID"
	wait "$FQD_PID" || {
		echo "fabriqd exited with an error; log:" >&2
		tail "$OUT/fabriqd.log" >&2
		exit 1
	}
	FQD_PID=
}

# Resident KiB of fabriqd $1's anonymous mapping of exactly $2 KiB (its RAM
# namespace), 0 when there is none.
bench_ram_resident_kb() {
	python3 - "$1" "$2" <<'PY'
import sys
pid, want = sys.argv[1], int(sys.argv[2])
best = size = 0
for line in open('/proc/%s/smaps' % pid):
    f = line.split()
    if '-' in f[0] and ':' not in f[0]:
        size = 0
    elif f[0] == 'Size:':
        size = int(f[1])
    elif f[0] == 'Rss:' and size == want:
        best = max(best, int(f[1]))
print(best)
PY
}

# bench_prefill PID SIZE TRID CMD...: write the whole RAM namespace (SIZE,
# e.g. 1G) of fabriqd PID with sequential 128 KiB writes, `CMD -r TRID -w
# write ...` (CMD: the `fabriq perf` command line, with its taskset).
# Reads of never-written RAM would share one zero page (cache-hot: it
# flatters them) or, as seen here, fault memory in while they are measured:
# the mapping is MADV_HUGEPAGE, each fault zeroes 2 MiB, and one such case
# made 681 IOPS where the next made 407 K (a one-second prefill had written
# a third of 1 GiB). So the writes run, longer each time, until the whole
# mapping is resident.
bench_prefill() {
	local pid=$1 size=$2 trid=$3 kb have=0 secs
	shift 3
	kb=$(($(numfmt --from=iec "$size") / 1024))
	for secs in 1 2 4 8 16; do
		"$@" -r "$trid" -w write -o 128k -q 32 -t "$secs" --json >/dev/null
		have=$(bench_ram_resident_kb "$pid" "$kb")
		[ "$have" -ge "$kb" ] && return 0
	done
	echo "prefill: only $have of $kb KiB of the namespace resident after 31 s of writes" >&2
	return 1
}
