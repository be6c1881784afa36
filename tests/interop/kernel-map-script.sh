#!/bin/sh
# Runs inside the kernel peer guest (busybox sh, kpeer host --script-only):
# fabriq map --via kernel of volume p0/db, whose subsystem fabriqd exports on
# two ports that its discovery log lists (two paths, one multipath device);
# ext2, files, unmap, map again, verify; the [map] connect options reach the
# kernel; the errors a user meets. Markers "KMAP: ..." for the host side.
set -e
URI=tcp://$TRADDR:8009/p0/db
SUBNQN=nqn.2026-01.io.fabriq:vol:p0:db
say() { echo "KMAP: $*"; }
die() {
	echo "KMAP: FAIL $*"
	fabriq showmapped || true
	exit 1
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
ctrls() {
	for s in /sys/class/nvme-subsystem/*; do
		[ "$(cat "$s/subsysnqn" 2>/dev/null)" = "$SUBNQN" ] || continue
		ls "$s" | grep -c '^nvme[0-9]*$' || true
		return 0
	done
	echo 0
}
# The mapping's state (showmapped --json lists the paths' states first).
state() { fabriq showmapped --json | grep -o '"state": *"[a-z]*"' | tail -n1 | grep -o '[a-z]*"$' | tr -d '"'; }

mkdir -p /etc/fabriq
cat >/etc/fabriq/fabriq.conf <<INI
[map]
keep_alive_tmo = 7
; a multiple of reconnect_delay: the kernel rounds it up to one
ctrl_loss_tmo = 42
reconnect_delay = 3
nr_io_queues = 2
INI

say "map (auto: the kernel, nvme-tcp is loaded)"
DEV=$(fabriq map "$URI") || die "map"
echo "mapped at $DEV"
case $DEV in /dev/nvme*n1) ;; *) die "map printed '$DEV', not a namespace head" ;; esac
[ "$(readlink /dev/fabriq/p0/db)" = "$DEV" ] || die "no link /dev/fabriq/p0/db -> $DEV"
[ "$(ctrls)" = 2 ] || die "subsystem $SUBNQN has $(ctrls) controllers, not 2 (one per path)"
for c in /sys/class/nvme-subsystem/*/nvme*; do
	n=${c##*/}
	case $n in nvme*n*) continue ;; esac
	[ "$(cat "$c/subsysnqn")" = "$SUBNQN" ] || continue
	echo "$n: $(cat "$c/address") $(cat "$c/state") queues $(cat "$c/queue_count")" \
		"kato $(cat "$c/kato" 2>/dev/null) ctrl_loss_tmo $(cat "$c/ctrl_loss_tmo" 2>/dev/null) reconnect_delay $(cat "$c/reconnect_delay" 2>/dev/null)"
	[ "$(cat "$c/queue_count")" = 3 ] || die "$n: queue_count $(cat "$c/queue_count"), not 1 + nr_io_queues 2"
	[ ! -e "$c/ctrl_loss_tmo" ] || [ "$(cat "$c/ctrl_loss_tmo")" = 42 ] || die "$n: ctrl_loss_tmo $(cat "$c/ctrl_loss_tmo")"
	[ ! -e "$c/kato" ] || [ "$(cat "$c/kato")" = 7 ] || die "$n: kato $(cat "$c/kato")"
	[ ! -e "$c/reconnect_delay" ] || [ "$(cat "$c/reconnect_delay")" = 3 ] || die "$n: reconnect_delay $(cat "$c/reconnect_delay")"
done
[ "$(cat /etc/fabriq/hostnqn 2>/dev/null || cat /etc/nvme/hostnqn)" = "$(cat /sys/class/nvme/nvme0/hostnqn)" ] ||
	die "the controllers' host NQN is not the stable one"
fabriq showmapped
fabriq showmapped --json >/tmp/sm
grep -q '"mode": *"kernel"' /tmp/sm || die "showmapped: no kernel mode: $(cat /tmp/sm)"
grep -q '"state": *"live"' /tmp/sm || die "showmapped: not live: $(cat /tmp/sm)"
[ "$(grep -o '"controller"' /tmp/sm | wc -l)" = 2 ] || die "showmapped: not two paths: $(cat /tmp/sm)"
say "multipath OK: $DEV over $(ctrls) paths"

say "ext2, files"
mke2fs -q -F -b 4096 /dev/fabriq/p0/db >/dev/null 2>&1 || mke2fs -F -b 4096 /dev/fabriq/p0/db
mkdir -p /mnt/v
mount -t ext2 /dev/fabriq/p0/db /mnt/v
i=0
while [ $i -lt 6 ]; do
	dd if=/dev/urandom of=/mnt/v/f$i bs=64k count=$((i * 3 + 1)) 2>/dev/null
	i=$((i + 1))
done
(cd /mnt/v && md5sum f*) >/tmp/sums
sync

say "errors"
expect 2 "is mounted on" fabriq unmap p0/db
expect 2 "already mapped" fabriq map "$URI" --via kernel
expect 1 "no volume p0/nope" fabriq map "tcp://$TRADDR:8009/p0/nope" --via kernel
expect 2 "is not mapped" fabriq unmap p0/nope
expect 2 "not 'nbd'" fabriq map "$URI" --via nbd
echo "[map]
keep_alive_tmo = soon" >/tmp/bad.conf
expect 2 "keep_alive_tmo" fabriq map "$URI" --config /tmp/bad.conf

say "remap with both paths live: same device"
[ "$(fabriq remap p0/db)" = "$DEV" ] || die "remap changed the device"

say "a path deleted: remap connects it again"
for c in /sys/class/nvme-subsystem/*/nvme*; do
	case ${c##*/} in nvme*n*) continue ;; esac
	[ "$(cat "$c/subsysnqn")" = "$SUBNQN" ] && victim=${c##*/}
done
echo 1 >"/sys/class/nvme/$victim/delete_controller"
n=0
while [ "$(ctrls)" != 1 ]; do
	[ $n -lt 100 ] || die "$victim still there"
	n=$((n + 1))
	sleep 0.1
done
fabriq showmapped
[ "$(state)" = degraded ] || die "one of two paths deleted, yet the state is $(state)"
[ "$(fabriq remap p0/db)" = "$DEV" ] || die "remap after a deleted path changed the device"
[ "$(state)" = live ] || die "not live after remap: $(state)"
[ "$(ctrls)" = 2 ] || die "remap left $(ctrls) paths"
fabriq showmapped

say "target restart while mapped and mounted"
# The host side kills fabriqd (-9) when it sees this line, and starts it again.
say "RESTART-TARGET"
n=0
while [ "$(state)" = live ]; do
	[ $n -lt 300 ] || die "the paths stayed live for 30 s after the target was killed"
	n=$((n + 1))
	sleep 0.1
done
echo "state after the kill: $(state)"
fabriq showmapped
[ "$(fabriq remap p0/db --io-timeout 60)" = "$DEV" ] || die "remap after the restart changed the device"
[ "$(state)" = live ] || die "not live after remap: $(state)"
echo 3 >/proc/sys/vm/drop_caches
(cd /mnt/v && md5sum -c /tmp/sums) || die "data differs after the target restart"
echo after >/mnt/v/after
sync

say "unmap, map again, verify"
umount /mnt/v
fabriq unmap p0/db || die "unmap"
[ "$(ctrls)" = 0 ] || die "$(ctrls) controllers left after unmap"
[ ! -e /dev/fabriq/p0/db ] || die "link left after unmap"
fabriq showmapped --json | grep -q p0/db && die "showmapped lists p0/db after unmap"
DEV=$(fabriq map "$URI" --via kernel) || die "map again"
[ "$(ctrls)" = 2 ] || die "map again: $(ctrls) paths"
echo 3 >/proc/sys/vm/drop_caches
mount -t ext2 /dev/fabriq/p0/db /mnt/v
(cd /mnt/v && md5sum -c /tmp/sums) || die "data differs after map again"
grep -q after /mnt/v/after || die "the file written after the restart is gone"
umount /mnt/v

say "mapall / unmapall"
printf '# at boot\n%s  # the volume\n' "$URI" >/tmp/maps
fabriq unmap p0/db >/dev/null || die "unmap before mapall"
fabriq mapall -f /tmp/maps --via kernel || die "mapall"
[ "$(ctrls)" = 2 ] || die "mapall: $(ctrls) paths"
fabriq unmapall -f /tmp/maps || die "unmapall"
[ "$(ctrls)" = 0 ] || die "unmapall left $(ctrls) paths"
DEV=$(fabriq map "$URI" --via kernel) || die "map after unmapall"

say "unmap --force while mounted"
mount -t ext2 "$DEV" /mnt/v
fabriq unmap --force p0/db || die "unmap --force"
[ "$(ctrls)" = 0 ] || die "$(ctrls) controllers left after unmap --force"
say "OK"
