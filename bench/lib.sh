# SPDX-License-Identifier: MIT
# Helpers the bench scripts share: a free loopback port, and one fabriqd
# started on TARGET_CPU, waited for, stopped and checked. Source it after
# setting OUT (the run's result directory, which receives fabriqd.log) and
# TARGET_CPU.

bench_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
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
