#!/bin/sh
# Runs inside the kernel peer guest (busybox sh, kpeer host --script) after
# the peer connected volume p0/vol (DEV) and ran its checks: the kernel
# NVMe/TCP host on fabriqd's volume subsystems. kernel_volume.sh on the
# other side makes the pool, the volume, the snapshot, the clone and the
# resize; the markers "KVOL: ..." are the hand-over points.
#
#   1. volume p0/vol: ext2, files with known checksums, unmount, disconnect;
#      "KVOL: SNAPSHOT-NOW": the host snapshots p0/vol@s1 and clones it as
#      p0/cl (the guest waits until discovery lists the clone);
#   2. the snapshot: a read-only disk (Identify NSATTR), mounts with -o ro,
#      same checksums; writes fail in the kernel and, sent raw, at the target
#      (Namespace Is Write Protected);
#   3. the clone: mounted read-write, same checksums, a new file; the origin
#      mounted again does not have it;
#   4. with p0/vol connected, "KVOL: RESIZE-NOW": the host grows it; the new
#      size must reach the block device through the Namespace Attribute
#      Changed event, with no reconnect. The peer disconnects it at the end.
set -e
BASE=nqn.2026-01.io.fabriq:vol:p0
VOL=$BASE:vol
SNAP=$BASE:vol@s1
CLONE=$BASE:cl
MiB=1048576
SIZE1=$((256 * MiB)) # the size kernel_volume.sh creates p0/vol with
SIZE2=$((384 * MiB)) # and resizes it to

say() { echo "KVOL: $*"; }
die() {
	echo "KVOL: FAIL $*"
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

# The namespace block device (name under /sys/block) of subsystem $1: the
# multipath head nvmeXnY, or without native multipath the controller's
# nvmeXnY. Never a path device nvmeXcYnZ, which appears before the head and
# cannot be opened.
DEVNAME=""
find_dev() {
	DEVNAME=""
	for s in /sys/class/nvme-subsystem/* /sys/class/nvme/*; do
		[ "$(cat "$s/subsysnqn" 2>/dev/null)" = "$1" ] || continue
		for b in "$s"/nvme*n*; do
			case ${b##*/} in nvme*c*n*) continue ;; esac
			[ -e "$b/size" ] && DEVNAME=${b##*/} && return 0
		done
	done
	return 1
}
subsys_gone() { ! find_dev "$1"; }
attach() {
	nvme connect -t tcp -a "$TRADDR" -s "$TRSVCID" -n "$1" >/dev/null || die "nvme connect $1"
	wait_for 100 find_dev "$1" || die "no block device for $1 after connect"
	echo "$1: /dev/$DEVNAME, $(cat "/sys/block/$DEVNAME/size") sectors, ro $(cat "/sys/block/$DEVNAME/ro")"
}
detach() {
	nvme disconnect -n "$1" >/dev/null || die "nvme disconnect $1"
	wait_for 100 subsys_gone "$1" || die "$1 still present after disconnect"
}
bytes() { echo $(($(cat "/sys/block/$1/size") * 512)); }

mkdir -p /mnt/v

say "volume: ext2 and files"
find_dev "$VOL" || die "p0/vol is not connected"
V=$DEVNAME
[ "/dev/$V" = "$DEV" ] || die "p0/vol is /dev/$V, the peer said $DEV"
[ "$(bytes "$V")" = $SIZE1 ] || die "$V: $(bytes "$V") bytes, not $SIZE1"
[ "$(cat "/sys/block/$V/ro")" = 0 ] || die "the volume $V is read-only"
mke2fs -q -F -b 4096 "/dev/$V" >/dev/null 2>&1 || mke2fs -F -b 4096 "/dev/$V"
mount -t ext2 "/dev/$V" /mnt/v
i=0
while [ $i -lt 6 ]; do
	dd if=/dev/urandom of=/mnt/v/f$i bs=64k count=$((i * 5 + 1)) 2>/dev/null
	i=$((i + 1))
done
mkdir -p /mnt/v/dir
echo "written before the snapshot" >/mnt/v/dir/note
(cd /mnt/v && md5sum f* dir/note) >/tmp/sums
cat /tmp/sums
sync
umount /mnt/v
detach "$VOL"

# The host reads volume_info, snapshots and clones when it sees this line.
say "SNAPSHOT-NOW"
listed() { nvme discover -t tcp -a "$TRADDR" -s "$TRSVCID" 2>/dev/null | grep -q "subnqn: *$CLONE\$"; }
wait_for 600 listed || die "discovery did not list $CLONE within 60 s"

say "snapshot: read-only"
attach "$SNAP"
S=$DEVNAME
[ "$(bytes "$S")" = $SIZE1 ] || die "snapshot $S: $(bytes "$S") bytes, not $SIZE1"
# Identify Namespace NSATTR bit 0 (write protected) makes the kernel set
# the disk read-only.
[ "$(cat "/sys/block/$S/ro")" = 1 ] || die "the kernel does not see the snapshot $S as read-only"
nvme id-ns "/dev/$S" | grep -E '^(nsze|nuse|nsfeat|nsattr)' || true
mount -t ext2 -o ro "/dev/$S" /mnt/v || die "mount -o ro of the snapshot"
(cd /mnt/v && md5sum -c /tmp/sums) || die "the snapshot's files differ"
umount /mnt/v
before=$(dd if="/dev/$S" bs=4096 count=1 iflag=direct 2>/dev/null | md5sum)
dd if=/dev/urandom of=/tmp/blk bs=4096 count=1 2>/dev/null
if dd if=/tmp/blk of="/dev/$S" bs=4096 count=1 oflag=direct 2>/tmp/err; then
	die "dd wrote to the snapshot"
fi
echo "dd to the snapshot: $(grep -m1 'dd:' /tmp/err)"
# Past the kernel's read-only check: a raw Write must fail at the target.
if nvme write "/dev/$S" --start-block=0 --block-count=7 --data-size=4096 --data=/tmp/blk \
	--force >/tmp/out 2>&1; then
	die "a raw Write to the snapshot succeeded: $(cat /tmp/out)"
fi
echo "raw Write to the snapshot: $(cat /tmp/out)"
grep -qi "write protected" /tmp/out || die "the raw Write did not fail with Namespace Is Write Protected"
echo 3 >/proc/sys/vm/drop_caches
after=$(dd if="/dev/$S" bs=4096 count=1 iflag=direct 2>/dev/null | md5sum)
[ "$before" = "$after" ] || die "the snapshot's first block changed"
detach "$SNAP"

say "clone: read-write, its own data"
attach "$CLONE"
C=$DEVNAME
[ "$(cat "/sys/block/$C/ro")" = 0 ] || die "the clone $C is read-only"
mount -t ext2 "/dev/$C" /mnt/v || die "mount of the clone"
(cd /mnt/v && md5sum -c /tmp/sums) || die "the clone's files differ"
dd if=/dev/urandom of=/mnt/v/clone-only bs=64k count=4 2>/dev/null
echo "written to the clone" >>/mnt/v/dir/note
clone_sum=$(md5sum </mnt/v/clone-only)
umount /mnt/v
mount -t ext2 "/dev/$C" /mnt/v
[ "$(md5sum </mnt/v/clone-only)" = "$clone_sum" ] || die "the clone's new file differs after a remount"
umount /mnt/v
detach "$CLONE"

say "origin: unchanged by the clone"
attach "$VOL"
V=$DEVNAME
mount -t ext2 "/dev/$V" /mnt/v || die "mount of the origin"
(cd /mnt/v && md5sum -c /tmp/sums) || die "the origin's files differ"
[ ! -e /mnt/v/clone-only ] || die "the origin has the file written to the clone"
umount /mnt/v

say "resize while connected"
# A reconnect or a new controller would also bring the new size: there
# must be neither.
links() { dmesg | grep -c -i "new ctrl\|reconnect" || true; }
links_before=$(links)
# The host grows p0/vol when it sees this line.
say "RESIZE-NOW"
t0=$(cut -d' ' -f1 /proc/uptime)
grown() { [ "$(bytes "$V")" = $SIZE2 ]; }
wait_for 300 grown || die "$V: still $(bytes "$V") bytes 30 s after RESIZE-NOW (expected $SIZE2)"
t1=$(cut -d' ' -f1 /proc/uptime)
echo "$V: $(bytes "$V") bytes, seen $(awk "BEGIN{printf \"%.1f\", $t1-$t0}") s after RESIZE-NOW"
[ "$(links)" = "$links_before" ] || die "the controller reconnected during the resize"
[ "$(blockdev --getsize64 "/dev/$V")" = $SIZE2 ] || die "blockdev --getsize64 /dev/$V: $(blockdev --getsize64 "/dev/$V")"
dmesg | grep "$V: detected capacity change" || true
# The new end is usable: write the last MiB, read it back.
dd if=/dev/urandom of=/tmp/tail bs=1M count=1 2>/dev/null
dd if=/tmp/tail of="/dev/$V" bs=1M seek=$((SIZE2 / MiB - 1)) count=1 oflag=direct conv=fsync 2>/dev/null ||
	die "write of the grown part"
[ "$(dd if="/dev/$V" bs=1M skip=$((SIZE2 / MiB - 1)) count=1 iflag=direct 2>/dev/null | md5sum)" = \
	"$(md5sum </tmp/tail)" ] || die "the grown part reads back different data"
mount -t ext2 "/dev/$V" /mnt/v || die "mount after the resize"
(cd /mnt/v && md5sum -c /tmp/sums) || die "the files differ after the resize"
umount /mnt/v
say "OK"
