#!/bin/sh
# Run the storage conformance suite over one backend.
#
#   run_storage.sh file    PROGRAM            two temporary files
#   run_storage.sh nvmeof  PROGRAM FABRIQD    fabriqd on a free loopback port,
#                                             plus the "target stopped" test
#   run_storage.sh --kill DIR | --restart DIR (used by that test)
#
# The same program and the same names ("data": 512-byte blocks, "big":
# 4096-byte blocks) are used for both; only the backend lines differ.
set -u

NQN=nqn.2026-11.test:storage

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_target() {
	dir=$1
	port=$(cat "$dir/port")
	setsid "$(cat "$dir/bin")" --listen "127.0.0.1:$port" --nqn "$NQN" \
		--ns ram:64M --ns ram:64M,bs=4096 --log-level warn >>"$dir/target.log" 2>&1 &
	echo $! >"$dir/pid"
	t=0
	while [ $t -lt 80 ]; do
		kill -0 "$(cat "$dir/pid")" 2>/dev/null || { cat "$dir/target.log" >&2; return 1; }
		ss -ltn 2>/dev/null | grep -q "127.0.0.1:$port " && return 0
		sleep 0.25
		t=$((t + 1))
	done
	echo "run_storage: fabriqd not listening after 20 s" >&2
	return 1
}

stop_target() {
	dir=$1
	[ -f "$dir/pid" ] || return 0
	pid=$(cat "$dir/pid")
	kill -TERM "$pid" 2>/dev/null
	t=0
	while kill -0 "$pid" 2>/dev/null && [ $t -lt 50 ]; do sleep 0.1; t=$((t + 1)); done
	kill -KILL -- "-$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	rm -f "$dir/pid"
}

case ${1:-} in
--kill) stop_target "$2"; exit 0 ;;
--restart) start_target "$2"; exit $? ;;
esac

[ $# -ge 2 ] || { echo "usage: $0 file|nvmeof PROGRAM [FABRIQD]" >&2; exit 2; }
kind=$1
prog=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/fq-storage.XXXXXX")
trap 'stop_target "$dir"; rm -rf "$dir"' EXIT INT TERM

common="max_batch_size = 16
retry_count = 3
[names]
data = nsid:1
big = nsid:2"

case $kind in
file)
	cat >"$dir/storage.ini" <<EOT
[storage]
backend = file
file_path = $dir/data.img
file_path = $dir/big.img,bs=4096
file_size = 64M
$common
EOT
	;;
nvmeof)
	[ $# -ge 3 ] || { echo "nvmeof needs the fabriqd path" >&2; exit 2; }
	echo "$3" >"$dir/bin"
	free_port >"$dir/port"
	start_target "$dir" || exit 1
	cat >"$dir/storage.ini" <<EOT
[storage]
backend = nvmeof
transport = tcp
target_addr = 127.0.0.1
target_port = $(cat "$dir/port")
target_nqn = $NQN
io_queue_count = 2
queue_depth = 32
keep_alive_interval = 1
reconnect_delay_ms = 300
connect_timeout_ms = 2000
io_timeout_ms = 5000
$common
EOT
	set -- --kill-cmd "$0 --kill $dir" --restart-cmd "$0 --restart $dir"
	;;
*) echo "unknown backend $kind" >&2; exit 2 ;;
esac
[ "$kind" = file ] && set --
"$prog" --config "$dir/storage.ini" "$@"
