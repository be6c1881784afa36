#!/usr/bin/env bash
# fabriq map --via kernel in the kernel peer guest (Linux 6.1 with nvme-tcp)
# against fabriqd on this machine. fabriqd exports the volume subsystem
# nqn.2026-01.io.fabriq:vol:p0:db (a file namespace standing in for a pool
# volume) on two ports, each advertising the guest-side address of its
# forward, so discovery lists two paths; the guest maps p0/db, which must
# give one multipath device over two controllers, then runs
# kernel-map-script.sh (ext2, errors, unmap, map again, verify). Midway
# the guest asks for a target restart (KMAP: RESTART-TARGET): fabriqd is
# killed with -9 and started again, and the guest's remap must bring both
# paths back under the same device with the mounted file system intact.
#
# Usage: kernel_map.sh FABRIQD FABRIQ
set -euo pipefail
FABRIQD=$(realpath "$1")
FABRIQ=$(realpath "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/interop/lib.sh
. "$HERE/lib.sh"

kpeer_prepare
WORK=$(mktemp -d /var/tmp/fq-kmap.XXXXXX)
P1=$(free_port)
P2=$(free_port)
DP=$(free_port)
NQN=nqn.2026-01.io.fabriq:vol:p0:db
LOG=$WORK/fabriqd.log
PID=""
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

# The guest reaches 10.0.2.100:4420, :4421 and :8009 through kpeer's forwards.
cat >"$WORK/fabriqd.ini" <<INI
[port "a"]
address = 127.0.0.1
port = $P1
advertise = 10.0.2.100:4420
[port "b"]
address = 127.0.0.1
port = $P2
advertise = 10.0.2.100:4421
[port "disc"]
address = 127.0.0.1
port = $DP
discovery_only = yes
advertise = 10.0.2.100:8009
[subsystem "$NQN"]
namespace = file:$WORK/db.img:64M
INI
start_target() {
	# After a kill -9 the old listeners may hold the ports for a moment (the
	# io_uring goes after the process): retry the bind.
	for _ in $(seq 40); do
		"$FABRIQD" -c "$WORK/fabriqd.ini" >>"$LOG" 2>&1 &
		PID=$!
		for _ in $(seq 50); do
			"$KPEER" probe --port "$P2" >/dev/null 2>&1 && "$KPEER" probe --port "$P1" >/dev/null 2>&1 &&
				return 0
			kill -0 "$PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$PID" 2>/dev/null && break
		tail -1 "$LOG" | grep -q "Address already in use" || break
		sleep 0.5
	done
	cat "$LOG"
	fail "fabriqd did not start"
}
start_target

"$KPEER" host --target 127.0.0.1:$P1 --fwd 4421:$P2 --fwd 8009:$DP --nqn $NQN --quiet \
	--script-only --script "$HERE/kernel-map-script.sh" --add "$FABRIQ" --timeout 240 \
	>"$WORK/host.out" 2>&1 &
KPPID=$!
restarted=0
while kill -0 $KPPID 2>/dev/null; do
	rundir=$(kpeer_run_dir "$WORK/host.out")
	if ((!restarted)) && [ -n "$rundir" ] && grep -a -q "KMAP: RESTART-TARGET" "$rundir/console.log" 2>/dev/null; then
		kill -9 "$PID"
		wait "$PID" 2>/dev/null || true
		echo "--- fabriqd killed (-9), starting it again" >>"$LOG"
		start_target
		restarted=1
	fi
	sleep 0.2
done
rc=0
wait $KPPID || rc=$?
rundir=$(kpeer_run_dir "$WORK/host.out")
[ -n "$rundir" ] && grep -a "KMAP:" "$rundir/console.log" | tr -d '\r'
if [ $rc -ne 0 ]; then
	cat "$WORK/host.out"
	[ -n "$rundir" ] && tail -80 "$rundir/console.log"
	tail -40 "$LOG"
	fail "fabriq map --via kernel in the guest failed"
fi
tail -n1 "$WORK/host.out"
grep -a -q "KMAP: OK" "$rundir/console.log" || fail "the guest script did not finish"
((restarted)) || fail "the guest never asked for the target restart"

kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
PID=""
[ $rc -eq 0 ] || { tail -50 "$LOG"; fail "fabriqd exited with status $rc after SIGTERM"; }
echo "kernel map interop: passed"
