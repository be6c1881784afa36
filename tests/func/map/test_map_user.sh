#!/usr/bin/env bash
# fabriq map --via user end to end (needs root, /dev/fuse and loop devices;
# fails, never skips, without them): a thin volume of a pool on a file
# (subsystem nqn.2026-01.io.fabriq:vol:POOL:VOLUME) is mapped through FUSE
# and a loop device; ext4 is made, mounted, written, checked after unmap and
# map again; unmap refuses a mounted device; kill -9 of fabriqd while mapped
# and idle, restart, remap: same device, the file system is clean and the
# data is there; `fabriq volume info|resize` name the volume by its mapped
# device, and the device grows without a remap; mapall/unmapall; the clear
# errors.
#   test_map_user.sh FABRIQD FABRIQ [RING]
# RING: the map's fuse_ring setting (docs/map.md), "no" (default: FUSE
# requests through /dev/fuse) or "yes" (through io_uring; the kernel's
# fuse.enable_uring is switched on for the test and back off after it).
# The serving process's closing log line must show the requests went the
# way asked. On a kernel without FUSE over io_uring, "yes" checks that the
# map is refused with the reason, and stops there.
set -euo pipefail
FQD=$1
FQ=$2
RING=${3:-no}
RING_PARAM=/sys/module/fuse/parameters/enable_uring
RING_WAS=$(cat "$RING_PARAM" 2>/dev/null || echo none)
T=$(mktemp -d /tmp/fq-map.XXXXXX)
POOL=t$$
VOL=vol1
SOCK=
FQD_PID=
U=
fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() {
	mountpoint -q "$T/mnt" 2>/dev/null && umount -l "$T/mnt"
	"$FQ" unmap --force "$POOL/$VOL" >/dev/null 2>&1 || true
	[ -n "$FQD_PID" ] && kill -9 "$FQD_PID" 2>/dev/null
	rm -rf "$T" "${U:-}" "/run/fabriq/map/$POOL"
	rmdir "/dev/fabriq/$POOL" 2>/dev/null || true
	[ "$RING_WAS" = N ] && echo N >"$RING_PARAM"
	true
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || fail "needs root (FUSE mounts and loop devices)"
for c in mkfs.ext4 fsck.ext4 losetup fusermount3; do
	command -v $c >/dev/null || fail "$c is missing (scripts/deps.sh --test installs it)"
done
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P=$(port)
DP=$(port)
start_target() {
	cat >"$T/fqd.ini" <<-EOF
		[target]
		reactors = 1
		[port "io"]
		address = 127.0.0.1
		port = $P
		[port "disc"]
		address = 127.0.0.1
		port = $DP
		discovery_only = yes
		[rpc]
		socket = $SOCK
		[pool "$POOL"]
		bdev = file:$T/v.img:1G
		create = yes
		volume = $VOL:256M
	EOF
	"$FQD" -c "$T/fqd.ini" --log-level warn >>"$T/fqd.log" 2>&1 &
	FQD_PID=$!
	# After the kill -9 below, fabriqd waits (up to 15 s) for the old
	# connections to close before it can listen again.
	for _ in $(seq 200); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $P), 0.2)" 2>/dev/null && return
		sleep 0.1
	done
	{ ss -tanp 2>/dev/null | grep ":$P" >&2; } || true
	fail "fabriqd did not start: $(cat "$T/fqd.log")"
}
SOCK=$T/fqd.sock
mkdir -p "$T/mnt"
start_target
URI=tcp://127.0.0.1:$DP/$POOL/$VOL
CONF=$T/map.conf
printf '[map]\nfuse_ring = %s\n' "$RING" >"$CONF"
LOG=/run/fabriq/map/$POOL/$VOL.log
# The serving process's count of requests each way, from its closing line.
served() { # dev|ring
	local l
	l=$(grep "FUSE requests through /dev/fuse" "$LOG" | tail -1)
	[ -n "$l" ] || fail "no closing line in $LOG"
	if [ "$1" = dev ]; then
		sed -E 's/.* ([0-9]+) FUSE requests through .*/\1/' <<<"$l"
	else
		sed -E 's/.*, ([0-9]+) through io_uring.*/\1/' <<<"$l"
	fi
}

if [ "$RING" = yes ] && [ "$RING_WAS" = none ]; then
	echo "== this kernel has no FUSE over io_uring: the map is refused, with the reason"
	rc=0
	"$FQ" map "$URI" --via user --config "$CONF" 2>"$T/err" || rc=$?
	[ $rc = 5 ] || fail "map with fuse_ring = yes on a kernel without it: exit $rc, expected 5"
	grep -q "fuse_ring = yes, but this kernel has no FUSE over io_uring" "$T/err" ||
		fail "map message: $(cat "$T/err")"
	echo "map (fuse_ring = yes, kernel without it): refused as it should be"
	exit 0
fi

echo "== map, mkfs, mount, write (fuse_ring = $RING)"
DEV=$("$FQ" map "$URI" --via user --io-timeout 30 --config "$CONF")
[[ $DEV == /dev/loop* ]] || fail "map printed '$DEV'"
[ "$(readlink "/dev/fabriq/$POOL/$VOL")" = "$DEV" ] || fail "no link /dev/fabriq/$POOL/$VOL -> $DEV"
[ "$(blockdev --getsize64 "$DEV")" = $((256 << 20)) ] || fail "device size $(blockdev --getsize64 "$DEV")"
"$FQ" showmapped --json | python3 -c "
import json,sys; m=[x for x in json.load(sys.stdin) if x['volume']=='$POOL/$VOL']
assert len(m)==1 and m[0]['device']=='$DEV' and m[0]['state']=='live' and m[0]['mode']=='user', m
assert m[0]['fuse']==('io_uring' if '$RING'=='yes' else '/dev/fuse'), m"
mkfs.ext4 -q -F "/dev/fabriq/$POOL/$VOL"
mount "/dev/fabriq/$POOL/$VOL" "$T/mnt"
head -c 24M /dev/urandom >"$T/mnt/big"
head -c 100K /dev/urandom >"$T/mnt/small"
(cd "$T/mnt" && sha256sum big small) >"$T/sums"
sync

echo "== unmap refuses a mounted device"
rc=0
"$FQ" unmap "$POOL/$VOL" 2>"$T/err" || rc=$?
[ $rc = 2 ] || fail "unmap of a mounted device: exit $rc"
grep -q "is mounted on" "$T/err" || fail "unmap message: $(cat "$T/err")"
umount "$T/mnt"
"$FQ" unmap "$POOL/$VOL" >/dev/null
[ ! -e "/dev/fabriq/$POOL/$VOL" ] || fail "link left after unmap"
# mkfs and 24 MiB of files are hundreds of requests: they went the way asked.
if [ "$RING" = yes ]; then
	[ "$(served ring)" -gt 100 ] || fail "fuse_ring = yes, but: $(tail -3 "$LOG")"
	grep -q "FUSE requests come through io_uring" "$LOG" || fail "no ring start in $LOG"
else
	[ "$(served ring)" = 0 ] && [ "$(served dev)" -gt 100 ] ||
		fail "fuse_ring = no, but: $(tail -3 "$LOG")"
fi
losetup -l | grep -q "/run/fabriq/map/$POOL/$VOL" && fail "loop device left after unmap"
"$FQ" showmapped --json | python3 -c "
import json,sys; assert not [x for x in json.load(sys.stdin) if x['volume']=='$POOL/$VOL']"

echo "== map again: the data is there"
DEV=$("$FQ" map "$URI" --via user --io-timeout 30 --config "$CONF")
mount "$DEV" "$T/mnt"
(cd "$T/mnt" && sha256sum -c --quiet "$T/sums") || fail "data differs after map again"
umount "$T/mnt"

echo "== kill -9 fabriqd while mapped and idle, restart, remap"
kill -9 $FQD_PID
wait $FQD_PID 2>/dev/null || true
start_target
DEV2=$("$FQ" remap "$POOL/$VOL" --io-timeout 30 --config "$CONF")
[ "$DEV2" = "$DEV" ] || fail "remap gave $DEV2, not $DEV"
fsck.ext4 -n "$DEV" >"$T/fsck" 2>&1 || fail "fsck after the target restart: $(cat "$T/fsck")"
mount "$DEV" "$T/mnt"
(cd "$T/mnt" && sha256sum -c --quiet "$T/sums") || fail "data differs after the restart"
echo more >"$T/mnt/after"
umount "$T/mnt"

echo "== volume verbs on the mapped device; resize while mapped"
"$FQ" volume info "$DEV" -S "$SOCK" --json | python3 -c "
import json,sys; v=json.load(sys.stdin); assert v['name']=='$VOL' and v['size']==256<<20, v"
"$FQ" volume resize "/dev/fabriq/$POOL/$VOL" 512M -S "$SOCK" >/dev/null
for _ in $(seq 100); do
	[ "$(blockdev --getsize64 "$DEV")" = $((512 << 20)) ] && break
	sleep 0.1
done
[ "$(blockdev --getsize64 "$DEV")" = $((512 << 20)) ] ||
	fail "the device did not grow: $(blockdev --getsize64 "$DEV") bytes"
# Offline (online resizing needs CAP_SYS_RESOURCE, which containers may
# lack); resize2fs wants a full check first, and -p records it.
e2fsck -f -p "$DEV" >"$T/resize" 2>&1 || fail "fsck after the resize: $(cat "$T/resize")"
resize2fs "$DEV" >"$T/resize" 2>&1 || fail "resize2fs: $(cat "$T/resize")"
mount "$DEV" "$T/mnt"
[ "$(df -B1M --output=size "$T/mnt" | tail -1)" -gt 400 ] || fail "the file system did not grow"
(cd "$T/mnt" && sha256sum -c --quiet "$T/sums") || fail "data differs after the resize"
umount "$T/mnt"

echo "== throttle, suspend and resume name the volume by its device"
"$FQ" volume throttle "$DEV" read_iops=1000,write_bps=64M -S "$SOCK" >/dev/null
"$FQ" volume suspend "/dev/fabriq/$POOL/$VOL" -S "$SOCK" >/dev/null
"$FQ" volume info "$DEV" -S "$SOCK" --json | python3 -c "
import json,sys; v=json.load(sys.stdin)
assert v['state']=='suspended' and v['qos']['read_iops']==1000 and v['qos']['write_bps']==64<<20, v"
"$FQ" volume resume "$DEV" -S "$SOCK" >/dev/null
"$FQ" volume throttle "$DEV" read_iops=0,write_bps=0 -S "$SOCK" >/dev/null
"$FQ" volume info "$DEV" -S "$SOCK" --json | python3 -c "
import json,sys; v=json.load(sys.stdin); assert v['state']=='online' and v['qos']['read_iops']==0, v"

echo "== errors"
expect() { # exit-code message-fragment command...
	local want=$1 msg=$2 rc=0
	shift 2
	"$@" >/dev/null 2>"$T/err" || rc=$?
	[ $rc = "$want" ] || fail "$*: exit $rc, expected $want ($(cat "$T/err"))"
	grep -q -- "$msg" "$T/err" || fail "$*: message '$(cat "$T/err")' lacks '$msg'"
}
expect 2 "already mapped" "$FQ" map "$URI"
expect 1 "no volume $POOL/nope" "$FQ" map "tcp://127.0.0.1:$DP/$POOL/nope"
expect 3 "unreachable" "$FQ" map "tcp://127.0.0.1:$(port)/$POOL/other"
expect 2 "bad volume URI" "$FQ" map "127.0.0.1:$DP/only-pool"
expect 2 "only tcp://" "$FQ" map "rdma://127.0.0.1/$POOL/$VOL"
# This machine's kernel has no nvme-tcp (the kernel mode is tested in qemu,
# tests/interop/kernel_map.sh); where it has one, the check does not apply.
if [ ! -d /sys/module/nvme_tcp ] && ! modprobe -n nvme-tcp 2>/dev/null; then
	expect 5 "no NVMe/TCP host" "$FQ" map "tcp://127.0.0.1:$DP/$POOL/other" --via kernel
fi
expect 2 "takes user, kernel or auto" "$FQ" map "$URI" --via nbd
printf '[map]\nctrl_loss_tmo = -5\n' >"$T/bad.conf"
expect 2 "ctrl_loss_tmo = '-5' is not a number in -1..31536000" "$FQ" map "$URI" --config "$T/bad.conf"
printf '[map]\nfuse_ring = maybe\n' >"$T/bad.conf"
expect 2 "fuse_ring takes auto, yes or no, not 'maybe'" "$FQ" map "$URI" --config "$T/bad.conf"
printf '[map]\nkeepalive = 5\n' >"$T/bad.conf"
expect 2 "unknown key 'keepalive'" "$FQ" map "$URI" --config "$T/bad.conf"
expect 2 "is not mapped" "$FQ" unmap "$POOL/nope"
expect 2 "is not a device fabriq map made here" "$FQ" volume info /dev/null -S "$SOCK"
# The unprivileged user may not be able to enter the build tree (a clone in
# a 0700 directory), so it runs a copy of the program and of the libraries it
# loads from the tree, in a directory it can read.
U=$(mktemp -d /tmp/fq-map-nobody.XXXXXX)
chmod 0755 "$U"
cp "$FQ" "$U/fabriq"
ldd "$FQ" | awk '$3 ~ /^\// && $3 !~ /^\/(usr\/)?lib/ { print $3 }' | while read -r lib; do
	cp "$lib" "$U/"
done
chmod -R a+rX "$U"
expect 5 "needs root" env LD_LIBRARY_PATH="$U" setpriv --reuid=65534 --regid=65534 --clear-groups "$U/fabriq" map "$URI"
rm -rf "$U"
"$FQ" unmap "$POOL/$VOL" >/dev/null

echo "== mapall / unmapall"
printf '# volumes to map at boot\n\n%s   # the test volume\n' "$URI" >"$T/maps"
"$FQ" mapall -f "$T/maps" --via user --config "$CONF" >/dev/null
[ -L "/dev/fabriq/$POOL/$VOL" ] || fail "mapall did not map $URI"
"$FQ" unmapall -f "$T/maps" >/dev/null
[ ! -e "/dev/fabriq/$POOL/$VOL" ] || fail "unmapall did not unmap $URI"

kill -TERM $FQD_PID
wait $FQD_PID || fail "fabriqd exited with an error"
FQD_PID=
U=
echo "map: all passed"
