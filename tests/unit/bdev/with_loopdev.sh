#!/usr/bin/env bash
# Run a test program with FQ_TEST_BLKDEV naming a fresh 64 MiB loop device, so
# the block-device paths of the file backend are exercised on every run rather
# than only where someone exports a spare disk. Needs root (losetup); without
# it the test fails with a message instead of passing untested.
# Usage: with_loopdev.sh PROGRAM [ARGS...]
set -euo pipefail
img=$(mktemp /var/tmp/fq-loopdev.XXXXXX)
dev=""
cleanup() {
	[ -n "$dev" ] && losetup -d "$dev" 2>/dev/null
	rm -f "$img"
}
trap cleanup EXIT
truncate -s 64M "$img"
if ! dev=$(losetup --find --show "$img" 2>&1); then
	echo "with_loopdev: cannot attach a loop device ($dev); the block-device test needs root and loop support" >&2
	dev=""
	exit 1
fi
FQ_TEST_BLKDEV=$dev "$@"
