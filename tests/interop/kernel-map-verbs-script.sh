#!/bin/sh
# Runs inside the kernel peer guest (busybox sh, kpeer host --script-only),
# which holds fabriqd and fabriq (--add): the daemon runs here, on
# 127.0.0.1, with a pool in RAM, so `fabriq volume` reaches its management
# socket on the machine where the volume is mapped through the kernel
# NVMe/TCP host. Each volume verb that names one volume is given the
# mapped device, as /dev/nvmeXnY and as the link /dev/fabriq/p0/db:
# info (text and --json), resize (the block device follows through the
# Namespace Attribute Changed event, no remap), throttle, suspend (a
# direct write to the device waits) and resume (it completes); a device
# fabriq map did not make is refused. Markers "KVERBS: ..." for the host.
set -e
SOCK=/run/fabriq/fabriqd.sock
URI=tcp://127.0.0.1:8009/p0/db
SUBNQN=nqn.2026-01.io.fabriq:vol:p0:db
OTHERNQN=nqn.2026-01.io.fabriq:vol:p0:other
MiB=1048576
FQD_PID=""
say() { echo "KVERBS: $*"; }
die() {
	echo "KVERBS: FAIL $*"
	echo "---- fabriqd log ----"
	cat /tmp/fqd.log 2>/dev/null || true
	fabriq showmapped 2>/dev/null || true
	dmesg | grep -i nvme | tail -n 20
	exit 1
}
# Wait up to $1 tenths of a second for the condition in the other arguments.
wait_for() {
	n=$1
	shift
	while ! "$@"; do
		[ "$n" -le 0 ] && return 1
		n=$((n - 1))
		sleep 0.1
	done
}
# expect EXIT MESSAGE-FRAGMENT COMMAND...
expect() {
	want=$1 msg=$2
	shift 2
	rc=0
	"$@" >/tmp/out 2>/tmp/err || rc=$?
	[ "$rc" = "$want" ] || die "$*: exit $rc, expected $want: $(cat /tmp/err)"
	grep -q -- "$msg" /tmp/err || die "$*: message '$(cat /tmp/err)' lacks '$msg'"
}
# The value of KEY in the JSON of FILE (numbers and strings; the first one,
# so "state" is the volume's, not a path's).
jval() { grep -o "\"$1\": *[^,}]*" "$2" | head -n1 | sed 's/^[^:]*: *//; s/"//g; s/ *$//'; }
# volume info DEVICE --json into /tmp/info.json
info() { fabriq volume info "$1" --json >/tmp/info.json || die "volume info $1 --json"; }
# The controllers (nvmeN) of subsystem $1, on one line (the glob sorts them).
ctrls() {
	for s in /sys/class/nvme-subsystem/*; do
		[ "$(cat "$s/subsysnqn" 2>/dev/null)" = "$1" ] || continue
		for c in "$s"/nvme*; do
			case ${c##*/} in nvme*n*) ;; *) printf '%s ' "${c##*/}" ;; esac
		done
	done
}

say "fabriqd in the guest: $(uname -r), $(nproc) cpu(s), $(($(grep MemTotal /proc/meminfo | tr -dc 0-9) / 1024)) MiB"
mkdir -p /run/fabriq
cat >/tmp/fqd.ini <<INI
[target]
reactors = 1
[port "io"]
address = 127.0.0.1
port = 4420
[port "disc"]
address = 127.0.0.1
port = 8009
discovery_only = yes
[rpc]
socket = $SOCK
[pool "p0"]
bdev = ram:256M
create = yes
INI
fabriqd -c /tmp/fqd.ini >/tmp/fqd.log 2>&1 &
FQD_PID=$!
up() { kill -0 $FQD_PID 2>/dev/null || die "fabriqd exited at start"; fabriq pool info p0 >/dev/null 2>&1; }
wait_for 100 up || die "fabriqd did not answer on $SOCK"
# Two volumes of other sizes, so that a device taken for the wrong one shows.
fabriq volume create p0/other 32M >/dev/null || die "volume create p0/other"
fabriq volume create p0/db 64M >/dev/null || die "volume create p0/db"

say "map --via kernel"
DEV=$(fabriq map --via kernel "$URI") || die "map"
echo "mapped at $DEV"
case $DEV in /dev/nvme*n*) ;; *) die "map printed '$DEV', not a namespace head" ;; esac
LINK=/dev/fabriq/p0/db
[ "$(readlink $LINK)" = "$DEV" ] || die "no link $LINK -> $DEV"
SYS=/sys/block/${DEV#/dev/}/size
[ "$(cat "$SYS")" = $((64 * MiB / 512)) ] || die "$DEV has $(cat "$SYS") sectors, not 64 MiB"
CTRLS=$(ctrls $SUBNQN)
[ -n "$CTRLS" ] || die "no controller of $SUBNQN"
fabriq showmapped

say "volume info by the device"
for d in "$DEV" "$LINK"; do
	fabriq volume info "$d" >/tmp/info.txt || die "volume info $d"
	head -n1 /tmp/info.txt | grep -q '^p0/db  thin$' || die "volume info $d: $(cat /tmp/info.txt)"
	grep -q 'size 64 MiB' /tmp/info.txt || die "volume info $d: $(cat /tmp/info.txt)"
	info "$d"
	[ "$(jval pool /tmp/info.json)" = p0 ] || die "volume info $d --json: pool $(jval pool /tmp/info.json)"
	[ "$(jval name /tmp/info.json)" = db ] || die "volume info $d --json: name $(jval name /tmp/info.json)"
	[ "$(jval size /tmp/info.json)" = $((64 * MiB)) ] || die "volume info $d --json: size $(jval size /tmp/info.json)"
	[ "$(jval nqn /tmp/info.json)" = $SUBNQN ] || die "volume info $d --json: nqn $(jval nqn /tmp/info.json)"
done

say "volume resize by the device: the block device follows, no remap"
size=64
for d in "$DEV" "$LINK"; do
	size=$((size + 32))
	want=$((size * MiB / 512))
	fabriq volume resize "$d" ${size}M >/dev/null || die "volume resize $d ${size}M"
	info "$d"
	[ "$(jval size /tmp/info.json)" = $((size * MiB)) ] || die "volume info after resize: size $(jval size /tmp/info.json)"
	grown() { [ "$(cat "$SYS")" = "$want" ]; }
	# The Namespace Attribute Changed event makes the kernel re-read the namespace.
	wait_for 100 grown || die "after volume resize $d ${size}M, $DEV has $(cat "$SYS") sectors, not $want"
	[ "$(blockdev --getsize64 "$DEV")" = $((size * MiB)) ] || die "blockdev --getsize64 $DEV: $(blockdev --getsize64 "$DEV")"
	echo "$DEV: $size MiB after volume resize $d"
done
[ "$(ctrls $SUBNQN)" = "$CTRLS" ] || die "the controllers changed across the resize: $CTRLS -> $(ctrls $SUBNQN)"
[ "$(readlink $LINK)" = "$DEV" ] || die "the link moved across the resize"

say "volume throttle by the device"
iops=700
for d in "$DEV" "$LINK"; do
	iops=$((iops + 100))
	fabriq volume throttle "$d" write_iops=$iops >/dev/null || die "volume throttle $d"
	info "$d"
	[ "$(jval write_iops /tmp/info.json)" = $iops ] || die "after throttle $d write_iops=$iops: $(cat /tmp/info.json)"
	fabriq volume info "$d" | grep -q "write_iops $iops" || die "volume info $d: $(fabriq volume info "$d")"
done
# p0/other kept its limits: the verbs went to p0/db only.
fabriq volume info p0/other --json >/tmp/other.json
[ "$(jval write_iops /tmp/other.json)" = 0 ] || die "p0/other was throttled: $(cat /tmp/other.json)"
fabriq volume throttle "$DEV" write_iops=0 >/dev/null || die "volume throttle $DEV write_iops=0"

say "volume suspend / resume by the device"
dd if=/dev/urandom of=/tmp/block bs=4096 count=2 2>/dev/null
want=$(md5sum </tmp/block | cut -d' ' -f1)
seek=100
for pair in "$DEV $LINK" "$LINK $DEV"; do
	# shellcheck disable=SC2086  # two words, neither with blanks
	set -- $pair
	fabriq volume suspend "$1" >/dev/null || die "volume suspend $1"
	info "$2"
	[ "$(jval state /tmp/info.json)" = suspended ] || die "after suspend $1: state $(jval state /tmp/info.json)"
	dd if=/tmp/block of="$DEV" bs=4096 seek=$seek count=2 oflag=direct 2>/tmp/dd.err &
	dd_pid=$!
	sleep 1
	kill -0 $dd_pid 2>/dev/null || die "a write to $DEV completed while p0/db was suspended"
	echo "write to $DEV held after 1 s while suspended ($1)"
	fabriq volume resume "$2" >/dev/null || die "volume resume $2"
	rc=0
	wait $dd_pid || rc=$?
	[ $rc = 0 ] || die "the held write failed after resume: status $rc: $(cat /tmp/dd.err)"
	info "$1"
	[ "$(jval state /tmp/info.json)" = online ] || die "after resume $2: state $(jval state /tmp/info.json)"
	got=$(dd if="$DEV" bs=4096 skip=$seek count=2 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
	[ "$got" = "$want" ] || die "the blocks written while suspended read back differently"
	echo "the held write completed after volume resume $2"
	seek=$((seek + 100))
done

say "errors"
# A namespace the kernel connected without fabriq map: no mapping record.
nvme connect -t tcp -a 127.0.0.1 -s 4420 -n $OTHERNQN >/dev/null || die "nvme connect $OTHERNQN"
ODEV=""
other_dev() {
	for s in /sys/class/nvme-subsystem/*; do
		[ "$(cat "$s/subsysnqn" 2>/dev/null)" = $OTHERNQN ] || continue
		for b in "$s"/nvme*n*; do
			[ -e "$b/size" ] && ODEV=/dev/${b##*/} && return 0
		done
	done
	return 1
}
wait_for 100 other_dev || die "no block device for $OTHERNQN"
[ -b "$ODEV" ] || die "$ODEV is not a block device"
for v in info suspend; do
	expect 2 "$ODEV is not a device fabriq map made here" fabriq volume $v "$ODEV"
done
expect 2 "is not a device fabriq map made here" fabriq volume resize "$ODEV" 128M
expect 2 "is not a device fabriq map made here" fabriq volume throttle /dev/fabriq/p0/nope write_iops=5
fabriq volume info p0/other --json >/tmp/other.json
[ "$(jval size /tmp/other.json)" = $((32 * MiB)) ] || die "p0/other changed: $(cat /tmp/other.json)"
[ "$(jval state /tmp/other.json)" = online ] || die "p0/other changed: $(cat /tmp/other.json)"
nvme disconnect -n $OTHERNQN >/dev/null || die "nvme disconnect $OTHERNQN"

say "unmap: the device no longer names the volume"
fabriq unmap p0/db >/dev/null || die "unmap"
expect 2 "is not a device fabriq map made here" fabriq volume info "$LINK"

kill -TERM $FQD_PID
rc=0
wait $FQD_PID || rc=$?
[ $rc = 0 ] || die "fabriqd exited with status $rc after SIGTERM"
say "OK"
