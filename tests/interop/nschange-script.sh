#!/bin/sh
# Runs inside the kernel peer guest (kpeer). Announces itself, then waits for the
# target to add namespace 3 and remove namespace 2 (the test sends fabriqd a
# SIGHUP, or calls ns_add/ns_remove on its socket, after seeing the marker).
# The kernel learns of it only through the Namespace Attribute Changed async
# event and the Changed Namespace List log.
#
# Namespaces are found by NSID (sysfs "nsid"), not by device name: with
# native multipath the disk is named after the namespace head's instance,
# which the kernel may reuse, so namespace 3 can become /dev/nvme0n2 when
# the removal is seen first.
echo "NSCHANGE: READY"

# The block device of namespace $1, or nothing.
dev_of() {
	for d in /sys/block/nvme*n*; do
		[ -r "$d/nsid" ] || continue
		case $(basename "$d") in *c*) continue ;; esac # a path under a multipath head
		[ "$(cat "$d/nsid")" = "$1" ] && echo "/dev/$(basename "$d")" && return
	done
}

i=0
while [ $i -lt 120 ]; do
	n3=$(dev_of 3)
	if [ -n "$n3" ] && [ -b "$n3" ] && [ -z "$(dev_of 2)" ]; then
		echo "NSCHANGE: namespace 3 appeared ($n3) and namespace 2 went away after $i s"
		dd if=/dev/urandom of=/tmp/p3 bs=4096 count=16 2>/dev/null
		dd if=/tmp/p3 of="$n3" bs=4096 count=16 oflag=direct 2>/dev/null
		dd if="$n3" of=/tmp/r3 bs=4096 count=16 iflag=direct 2>/dev/null
		cmp /tmp/p3 /tmp/r3 && echo "NSCHANGE: OK" && exit 0
		echo "NSCHANGE: data mismatch on the new namespace"
		exit 1
	fi
	sleep 1
	i=$((i + 1))
done
echo "NSCHANGE: no namespace change seen"
for d in /sys/block/nvme*; do echo "$d nsid=$(cat "$d/nsid" 2>/dev/null)"; done
exit 1
