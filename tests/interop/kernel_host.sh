#!/usr/bin/env bash
# Interoperability: the Linux 6.1 kernel NVMe/TCP host (nvme-cli in qemu,
# through kpeer/kpeer.sh) against fabriqd. Namespaces added and removed while
# the host is connected, by SIGHUP (nschange) and over the management socket
# (rpcchange), reach it through the async event. Every scenario discovers or connects,
# identifies, writes random data at both ends of every namespace with dd and
# reads it back (md5), flushes, and in most scenarios builds an ext2 file
# system, remounts it and verifies the files (scenario copy: sends the Copy
# command with nvme-cli instead); then disconnects. After each
# scenario fabriqd must still answer an ICReq, and at the end SIGTERM must
# stop it with status 0.
#
# Usage: kernel_host.sh FABRIQD [SCENARIO...]
set -euo pipefail
FABRIQD=$(realpath "$1")
shift
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/interop/lib.sh
. "$HERE/lib.sh"

kpeer_prepare
WORK=$(mktemp -d /var/tmp/fq-interop.XXXXXX)
PORT=$(free_port)
DPORT=$(free_port)
NQN=nqn.2026-11.io.fabriq:interop
LOG=$WORK/fabriqd.log
PID=""
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

start_target() {
	"$FABRIQD" --listen 127.0.0.1:$PORT --discovery-port $DPORT --nqn $NQN "$@" >"$LOG" 2>&1 &
	PID=$!
	for _ in $(seq 50); do
		"$KPEER" probe --port $PORT >/dev/null 2>&1 && return 0
		kill -0 $PID 2>/dev/null || { cat "$LOG"; fail "fabriqd exited at start"; }
		sleep 0.1
	done
	cat "$LOG"
	fail "fabriqd did not come up on port $PORT"
}

stop_target() {
	kill -TERM "$PID"
	local rc=0
	wait "$PID" || rc=$?
	PID=""
	[ $rc -eq 0 ] || { tail -50 "$LOG"; fail "fabriqd exited with status $rc after SIGTERM"; }
	if grep -E " error: " "$LOG"; then
		fail "fabriqd logged errors"
	fi
}

run_host() {
	local name=$1
	shift
	echo "--- scenario $name: kernel host $*"
	if ! "$KPEER" host --target 127.0.0.1:$PORT --nqn $NQN --quiet "$@" >"$WORK/$name.out" 2>&1; then
		cat "$WORK/$name.out"
		rundir=$(kpeer_run_dir "$WORK/$name.out")
		[ -n "$rundir" ] && tail -60 "$rundir/console.log"
		tail -40 "$LOG"
		fail "scenario $name failed"
	fi
	tail -n1 "$WORK/$name.out"
	kill -0 "$PID" 2>/dev/null || fail "fabriqd died during scenario $name"
	"$KPEER" probe --port $PORT >/dev/null || fail "fabriqd stopped answering after scenario $name"
}

# One JSON-RPC request on fabriqd's management socket; fails unless it succeeds.
rpc() { # socket method params-json
	python3 - "$@" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
s.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": sys.argv[2],
                      "params": json.loads(sys.argv[3])}).encode() + b"\n")
r = json.loads(s.makefile().readline())
print(sys.argv[2], json.dumps(r.get("result", r.get("error"))))
sys.exit(0 if "result" in r else 1)
PY
}

# The guest of the nschange scripts: wait for its READY, make the change
# with @change_fn, then expect the guest's verdict.
ns_change_scenario() { # name change_fn
	local name=$1 change=$2
	"$KPEER" host --target 127.0.0.1:$PORT --nqn $NQN --quiet --no-discover --io-mb 1 \
		--script "$HERE/nschange-script.sh" >"$WORK/$name.out" 2>&1 &
	KPPID=$!
	console=""
	for _ in $(seq 600); do
		rundir=$(kpeer_run_dir "$WORK/$name.out")
		if [ -n "$rundir" ] && grep -q "NSCHANGE: READY" "$rundir/console.log" 2>/dev/null; then
			console=$rundir/console.log
			break
		fi
		sleep 0.5
	done
	[ -n "$console" ] || { cat "$WORK/$name.out"; fail "guest never reached the namespace-change step"; }
	$change
	if ! wait "$KPPID"; then
		tail -40 "$console"
		tail -20 "$LOG"
		fail "scenario $name failed"
	fi
	grep "NSCHANGE:" "$console"
}

rpc_change() {
	rpc "$WORK/fabriqd.sock" ns_add "{\"nqn\": \"$NQN\", \"bdev\": \"ram:8M\", \"nsid\": 3}" ||
		fail "ns_add over the socket failed"
	rpc "$WORK/fabriqd.sock" ns_remove "{\"nqn\": \"$NQN\", \"nsid\": 2}" ||
		fail "ns_remove over the socket failed"
}

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(plain digest hdrdigest nschange rpcchange copy)

for s in "${scenarios[@]}"; do
	case $s in
	plain)
		# 512-byte RAM + 4 KiB file namespace, two I/O queues, discovery, ext2.
		start_target --ns ram:64M --ns "file:$WORK/ns2.img:64M,bs=4096"
		run_host plain --nr-io-queues 2 --io-mb 8 --script "$HERE/fs-script.sh"
		stop_target
		;;
	digest)
		# Header and data digests, 4 KiB RAM + 512-byte file namespace.
		start_target --ns ram:64M,bs=4096 --ns "file:$WORK/ns3.img:64M"
		run_host digest --digest --nr-io-queues 2 --io-mb 8 --script "$HERE/fs-script.sh"
		stop_target
		;;
	hdrdigest)
		# Header digest only, one I/O queue, an allow-listed host.
		start_target --ns ram:32M --allow-host nqn.2026-11.io.fabriq:interop-host
		run_host hdrdigest --hdr-digest --nr-io-queues 1 --io-mb 4 \
			--hostnqn nqn.2026-11.io.fabriq:interop-host
		stop_target
		;;
	copy)
		# The Copy command from the kernel host (nvme-cli passthrough):
		# ONCS and the namespace limits seen, data copied on the target.
		start_target --ns ram:64M --ns "file:$WORK/ns4.img:64M,bs=4096"
		run_host copy --nr-io-queues 1 --io-mb 1 --no-discover \
			--script "$HERE/copy-script.sh"
		stop_target
		;;
	nschange)
		# Namespaces added and removed at runtime (SIGHUP): the kernel host
		# must pick the change up through the async event, with no reconnect.
		cat >"$WORK/ns.ini" <<INI
[port "io"]
address = 127.0.0.1
port = $PORT
[subsystem "$NQN"]
namespace = ram:16M,nsid=1
namespace = ram:16M,nsid=2
INI
		"$FABRIQD" -c "$WORK/ns.ini" >"$LOG" 2>&1 &
		PID=$!
		for _ in $(seq 50); do "$KPEER" probe --port $PORT >/dev/null 2>&1 && break; sleep 0.1; done
		"$KPEER" host --target 127.0.0.1:$PORT --nqn $NQN --quiet --no-discover --io-mb 1 \
			--script "$HERE/nschange-script.sh" >"$WORK/nschange.out" 2>&1 &
		KPPID=$!
		console=""
		for _ in $(seq 600); do
			rundir=$(kpeer_run_dir "$WORK/nschange.out")
			if [ -n "$rundir" ] && grep -q "NSCHANGE: READY" "$rundir/console.log" 2>/dev/null; then
				console=$rundir/console.log
				break
			fi
			sleep 0.5
		done
		[ -n "$console" ] || { cat "$WORK/nschange.out"; fail "guest never reached the namespace-change step"; }
		sed -i 's/^namespace = ram:16M,nsid=2$/namespace = ram:8M,nsid=3/' "$WORK/ns.ini"
		kill -HUP "$PID"
		if ! wait "$KPPID"; then
			tail -40 "$console"
			tail -20 "$LOG"
			fail "scenario nschange failed"
		fi
		grep "NSCHANGE:" "$console"
		grep -q "namespace 3 added" "$LOG" || fail "fabriqd did not log the added namespace"
		stop_target
		;;
	rpcchange)
		# The same change made through the management socket (ns_add, ns_remove):
		# the guest sees namespace 3 appear and namespace 2 go (nvme list's devices).
		start_target --ns ram:16M --ns ram:16M --rpc-socket "$WORK/fabriqd.sock"
		ns_change_scenario rpcchange rpc_change
		grep -q "namespace 3 added" "$LOG" || fail "fabriqd did not log the added namespace"
		stop_target
		;;
	*)
		fail "unknown scenario $s"
		;;
	esac
done
echo "kernel host interop: all scenarios passed (${scenarios[*]})"
