#!/bin/sh
# Runs inside the kernel peer guest (kpeer) (busybox sh) after the built-in checks:
# make an ext2 file system on the first namespace, write files, remount and
# verify them. DEV is the first namespace block device.
set -e
echo "fs-script: mke2fs on $DEV"
# 4 KiB file system blocks work on 512-byte and 4 KiB sector namespaces alike.
mke2fs -q -F -b 4096 "$DEV" >/dev/null 2>&1 || mke2fs -F -b 4096 "$DEV"
mkdir -p /mnt/fq
mount -t ext2 "$DEV" /mnt/fq
i=0
while [ $i -lt 8 ]; do
	dd if=/dev/urandom of=/mnt/fq/file$i bs=64k count=$((i + 1)) 2>/dev/null
	i=$((i + 1))
done
mkdir -p /mnt/fq/dir/sub
echo "fabriq interop" > /mnt/fq/dir/sub/hello.txt
md5sum /mnt/fq/file* /mnt/fq/dir/sub/hello.txt > /tmp/sums
sync
umount /mnt/fq
echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
mount -t ext2 "$DEV" /mnt/fq
md5sum -c /tmp/sums
grep -q "fabriq interop" /mnt/fq/dir/sub/hello.txt
umount /mnt/fq
echo "fs-script: OK"
