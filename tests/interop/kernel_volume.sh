#!/usr/bin/env bash
# Thin volumes, snapshots, clones and a resize with the Linux 6.1 kernel
# NVMe/TCP host (nvme-cli in the kernel peer guest) against fabriqd on this
# machine. fabriqd starts with its management socket; `fabriq pool create`
# makes a pool on a sparse file and `fabriq volume create` a thin volume,
# exported as nqn.2026-01.io.fabriq:vol:p0:vol. The guest runs
# kernel-volume-script.sh; at its markers this side acts:
#
#   KVOL: SNAPSHOT-NOW  the volume holds an ext2 file system with files:
#                       volume_info's allocated_bytes must be well below the
#                       size (thin), then `fabriq volume snapshot p0/vol@s1`
#                       and `fabriq volume clone p0/vol@s1 p0/cl`;
#   KVOL: RESIZE-NOW    `fabriq volume resize p0/vol 384M` while the guest
#                       holds the volume connected.
#
# At the end fabriqd must stop with status 0 and `fabriq pool check` find
# the pool file clean.
#
# Usage: kernel_volume.sh FABRIQD FABRIQ
set -euo pipefail
FABRIQD=$(realpath "$1")
FABRIQ=$(realpath "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/interop/lib.sh
. "$HERE/lib.sh"

kpeer_prepare
T0=$SECONDS
WORK=$(mktemp -d /var/tmp/fq-kvol.XXXXXX)
PORT=$(free_port)
SOCK=$WORK/fabriqd.sock
LOG=$WORK/fabriqd.log
POOL_FILE=$WORK/p0.img
MiB=1048576
SIZE1=$((256 * MiB)) # kernel-volume-script.sh expects these two sizes
SIZE2=$((384 * MiB))
PID=""
KPPID=""
cleanup() {
	[ -n "$KPPID" ] && kill "$KPPID" 2>/dev/null && wait "$KPPID" 2>/dev/null
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

fq() { "$FABRIQ" "$@" -S "$SOCK"; }
# A field of `fabriq volume info --json`.
vol_field() {
	fq volume info "$1" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

# The volume subsystems are created over the socket; fabriqd needs one
# subsystem to start with. One reactor: volumes need it (docs/rpc.md).
"$FABRIQD" --listen 127.0.0.1:"$PORT" --nqn nqn.2026-01.io.fabriq:kvol-boot --ns ram:1M \
	--reactors 1 --rpc-socket "$SOCK" >"$LOG" 2>&1 &
PID=$!
for _ in $(seq 50); do
	"$KPEER" probe --port "$PORT" >/dev/null 2>&1 && [ -S "$SOCK" ] && break
	kill -0 $PID 2>/dev/null || { cat "$LOG"; fail "fabriqd exited at start"; }
	sleep 0.1
done
[ -S "$SOCK" ] || { cat "$LOG"; fail "fabriqd did not come up"; }

fq pool create p0 "$POOL_FILE" --size 2G >/dev/null || fail "pool create"
fq volume create p0/vol 256M >/dev/null || fail "volume create"
[ "$(vol_field p0/vol size)" = $SIZE1 ] || fail "p0/vol is not $SIZE1 bytes"

# The peer connects p0/vol, identifies it, round-trips 1 MiB at each end,
# then runs the script, and disconnects p0/vol after it.
"$KPEER" host --target 127.0.0.1:"$PORT" --nqn nqn.2026-01.io.fabriq:vol:p0:vol --quiet \
	--io-mb 1 --script "$HERE/kernel-volume-script.sh" --timeout 240 >"$WORK/host.out" 2>&1 &
KPPID=$!

# Stop the guest and fail with what went wrong.
abort() {
	echo "FAIL: $*" >&2
	kill "$KPPID" 2>/dev/null
	wait "$KPPID" 2>/dev/null
	KPPID=""
	rundir=$(kpeer_run_dir "$WORK/host.out")
	[ -n "$rundir" ] && tail -40 "$rundir/console.log"
	tail -20 "$LOG"
	exit 1
}

snapped=0
resized=0
while kill -0 $KPPID 2>/dev/null; do
	rundir=$(kpeer_run_dir "$WORK/host.out")
	console=${rundir:+$rundir/console.log}
	if ((!snapped)) && [ -n "$console" ] && grep -a -q "KVOL: SNAPSHOT-NOW" "$console" 2>/dev/null; then
		alloc=$(vol_field p0/vol allocated_bytes) || abort "volume info p0/vol"
		echo "p0/vol after mkfs and the files:" \
			"allocated_bytes $alloc of $SIZE1;" \
			"pool file $(du -k "$POOL_FILE" | cut -f1) KiB on disk of $(($(stat -c %s "$POOL_FILE") / 1024))"
		((alloc > 0)) || abort "allocated_bytes is 0 after mkfs and files"
		((alloc * 2 < SIZE1)) || abort "p0/vol is not thin: $alloc of $SIZE1 bytes allocated"
		fq volume snapshot p0/vol@s1 >/dev/null || abort "volume snapshot"
		fq volume clone p0/vol@s1 p0/cl >/dev/null || abort "volume clone"
		snapped=1
	fi
	if ((snapped && !resized)) && grep -a -q "KVOL: RESIZE-NOW" "$console" 2>/dev/null; then
		fq volume resize p0/vol 384M >/dev/null || abort "volume resize"
		resized=1
	fi
	sleep 0.2
done
rc=0
wait $KPPID || rc=$?
KPPID=""
rundir=$(kpeer_run_dir "$WORK/host.out")
[ -n "$rundir" ] && grep -a -E "KVOL:|seen .* after RESIZE-NOW|dd to the snapshot|raw Write" \
	"$rundir/console.log" | tr -d '\r'
if [ $rc -ne 0 ]; then
	cat "$WORK/host.out"
	[ -n "$rundir" ] && tail -80 "$rundir/console.log"
	tail -40 "$LOG"
	fail "the guest's volume script failed"
fi
tail -n1 "$WORK/host.out"
grep -a -q "KVOL: OK" "$rundir/console.log" || fail "the guest script did not finish"
((snapped && resized)) || fail "the guest never asked for the snapshot or the resize"

# The target's view matches what the guest saw.
[ "$(vol_field p0/vol size)" = $SIZE2 ] || fail "p0/vol is not $SIZE2 bytes after the resize"
[ "$(vol_field p0/cl parent)" = vol@s1 ] || fail "p0/cl's parent is not vol@s1"
[ "$(vol_field p0/vol@s1 state)" = read-only ] || fail "p0/vol@s1 is not read-only"

kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
PID=""
[ $rc -eq 0 ] || { tail -50 "$LOG"; fail "fabriqd exited with status $rc after SIGTERM"; }
"$FABRIQ" pool check "$POOL_FILE" || fail "the pool file does not check clean"
echo "kernel volume interop: passed in $((SECONDS - T0)) s"
