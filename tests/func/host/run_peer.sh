#!/bin/sh
# Start an NVMe/TCP target on a free loopback port, run a test program
# against it with --trid (and --kill-cmd/--restart-cmd for fault tests), then
# stop the target.
#
#   run_peer.sh kernel             PROGRAM [ARGS...]   Linux nvmet in qemu
#   run_peer.sh kernel-4k          PROGRAM [ARGS...]   the same, 4096-byte blocks
#   run_peer.sh fabriqd:PATH       PROGRAM [ARGS...]   fabriqd
#   run_peer.sh fabriqd-acl:PATH   PROGRAM [ARGS...]   fabriqd with an allow-list
#   run_peer.sh --kill|--restart|--stop|--cont DIR     (used by fault tests)
#
# Exit status: the program's; 1 when the kernel peer cannot run (a missing
# package is a failure, never a skip).
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
# The Linux kernel peer in qemu (docs/testing.md); KERNEL_PEER may name
# another program with the same interface, to compare the two.
KPEER=${KERNEL_PEER:-$repo/tests/interop/kpeer/kpeer.sh}
KERNEL_NQN=nqn.2026-11.test:kernel-target
FABRIQD_NQN=nqn.2026-11.test:host-func
ALLOWED_HOST=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000a110e

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_peer() {
	dir=$1
	kind=$(cat "$dir/kind")
	port=$(cat "$dir/port")
	rm -f "$dir/ready"
	case $kind in
	kernel*)
		bs=512
		[ "$kind" = kernel-4k ] && bs=4096
		setsid "$KPEER" target --port "$port" --size-mb 256 --block-size $bs \
			--ready-file "$dir/ready" --seconds 3000 --quiet \
			>>"$dir/peer.log" 2>&1 &
		echo $! >"$dir/pid"
		limit=600 ;;
	fabriqd*)
		bin=$(cat "$dir/bin")
		acl=""
		[ "$kind" = fabriqd-acl ] && acl="--allow-host $ALLOWED_HOST"
		# shellcheck disable=SC2086
		setsid "$bin" --listen "127.0.0.1:$port" --discovery-port "$(cat "$dir/dport")" \
			--nqn "$FABRIQD_NQN" --ns ram:64M $acl >>"$dir/peer.log" 2>&1 &
		echo $! >"$dir/pid"
		limit=40 ;;
	esac
	t=0
	while [ $t -lt $((limit * 2)) ]; do
		pid=$(cat "$dir/pid")
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "run_peer: target exited early:" >&2
			tail -20 "$dir/peer.log" >&2
			return 1
		fi
		case $kind in
		kernel*) [ -e "$dir/ready" ] && return 0 ;;
		*) ss -ltn 2>/dev/null | grep -q "127.0.0.1:$port " && return 0 ;;
		esac
		sleep 0.5
		t=$((t + 1))
	done
	echo "run_peer: target not ready after ${limit}s" >&2
	tail -20 "$dir/peer.log" >&2
	return 1
}

# The peer and every process below it, deepest first (qemu runs under
# timeout(1), which puts itself in a process group of its own).
tree() {
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		tree "$c"
	done
	echo "$1"
}

stop_peer() {
	dir=$1
	[ -f "$dir/pid" ] || return 0
	pid=$(cat "$dir/pid")
	pids=$(tree "$pid")
	# SIGKILL: the target dies without closing its connections cleanly.
	kill -KILL $pids 2>/dev/null
	n=0
	while kill -0 "$pid" 2>/dev/null && [ $n -lt 100 ]; do
		sleep 0.2
		n=$((n + 1))
	done
	rm -f "$dir/pid"
}

# Freeze or thaw the whole peer (SIGSTOP/SIGCONT): a target that stops answering.
signal_peer() {
	[ -f "$2/pid" ] || return 1
	kill "-$1" $(tree "$(cat "$2/pid")") 2>/dev/null
}

case ${1:-} in
--kill) stop_peer "$2"; exit 0 ;;
--stop) signal_peer STOP "$2"; exit $? ;;
--cont) signal_peer CONT "$2"; exit $? ;;
--restart) start_peer "$2"; exit $? ;;
esac

[ $# -ge 2 ] || { echo "usage: $0 kernel|fabriqd:PATH PROGRAM [ARGS...]" >&2; exit 2; }
peer=$1
prog=$2
shift 2
dir=$(mktemp -d "${TMPDIR:-/tmp}/fq-peer.XXXXXX")
trap 'stop_peer "$dir"; rm -rf "$dir"' EXIT INT TERM
free_port >"$dir/port"
port=$(cat "$dir/port")
disc=""
case $peer in
kernel | kernel-4k)
	# Checks the tools and builds the cached initramfs: the interoperability
	# tests must run, so a missing package fails here with its name.
	if ! "$KPEER" build; then
		echo "FAIL: the kernel peer cannot run ($KPEER build failed; scripts/deps.sh --test installs what it needs)"
		exit 1
	fi
	echo "$peer" >"$dir/kind"
	nqn=$KERNEL_NQN ;;
fabriqd:* | fabriqd-acl:*)
	echo "${peer%%:*}" >"$dir/kind"
	echo "${peer#*:}" >"$dir/bin"
	free_port >"$dir/dport"
	disc="--disc-port $(cat "$dir/dport")"
	nqn=$FABRIQD_NQN ;;
*) echo "unknown peer $peer" >&2; exit 2 ;;
esac
t0=$(date +%s)
start_peer "$dir" || exit 1
echo "target $peer ready on 127.0.0.1:$port after $(( $(date +%s) - t0 )) s"
# shellcheck disable=SC2086
"$prog" --trid "traddr:127.0.0.1 trsvcid:$port subnqn:$nqn" $disc \
	--kill-cmd "$0 --kill $dir" --restart-cmd "$0 --restart $dir" \
	--stop-cmd "$0 --stop $dir" --cont-cmd "$0 --cont $dir" "$@"
rc=$?
echo "test program exited $rc after $(( $(date +%s) - t0 )) s in total"
exit $rc
