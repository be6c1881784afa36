#!/bin/sh
# Runs inside the kernel peer guest (kpeer). Announces itself, then waits for the
# target to add namespace 3 and remove namespace 2 (the test sends fabriqd a
# SIGHUP after seeing the marker). The kernel learns of it only through the
# Namespace Attribute Changed async event and the Changed Namespace List log.
echo "NSCHANGE: READY"
ctrl=${CTRL:-/dev/nvme0}
c=$(basename "$ctrl")
i=0
while [ $i -lt 120 ]; do
	if [ -b /dev/${c}n3 ] && [ ! -b /dev/${c}n2 ]; then
		echo "NSCHANGE: namespace 3 appeared and namespace 2 went away after $i s"
		dd if=/dev/urandom of=/tmp/p3 bs=4096 count=16 2>/dev/null
		dd if=/tmp/p3 of=/dev/${c}n3 bs=4096 count=16 oflag=direct 2>/dev/null
		dd if=/dev/${c}n3 of=/tmp/r3 bs=4096 count=16 iflag=direct 2>/dev/null
		cmp /tmp/p3 /tmp/r3 && echo "NSCHANGE: OK" && exit 0
		echo "NSCHANGE: data mismatch on the new namespace"
		exit 1
	fi
	sleep 1
	i=$((i + 1))
done
echo "NSCHANGE: no namespace change seen"
ls /dev/nvme*
exit 1
