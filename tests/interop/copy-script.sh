#!/bin/sh
# Runs inside the kernel peer guest (kpeer) against fabriqd: the Linux host
# sees the Copy command offered (Identify Controller ONCS bit 8, the
# namespace's MSRC/MSSRL/MCL) and nvme-cli's copy, passed through the
# kernel, copies two ranges in order on the target.
set -e
dev=${DEV:-/dev/nvme0n1}
ctrl=/dev/${CTRL:-nvme0} # the guest names it without /dev
oncs=$(nvme id-ctrl "$ctrl" | awk '$1 == "oncs" {print $3}')
echo "COPY: oncs $oncs"
[ $((oncs & 0x100)) -ne 0 ] || { echo "COPY: ONCS does not offer Copy"; exit 1; }
nvme id-ns "$dev" | grep -E '^(mssrl|mcl|msrc) ' | sed 's/^/COPY: /'
bs=$(cat /sys/block/$(basename "$dev")/queue/logical_block_size)
dd if=/dev/urandom of=/tmp/src bs="$bs" count=16 2>/dev/null
dd if=/tmp/src of="$dev" bs="$bs" seek=100 count=16 oflag=direct 2>/dev/null
# Blocks 108-115 then 100-107 to block 5000 (NLB is 0's based for nvme-cli).
nvme copy "$dev" --sdlba=5000 --slbs=108,100 --blocks=7,7
dd if="$dev" of=/tmp/dst bs="$bs" skip=5000 count=16 iflag=direct 2>/dev/null
dd if=/tmp/src of=/tmp/want bs="$bs" skip=8 count=8 2>/dev/null
dd if=/tmp/src bs="$bs" count=8 2>/dev/null >>/tmp/want
cmp /tmp/want /tmp/dst || { echo "COPY: destination differs"; exit 1; }
dd if="$dev" of=/tmp/again bs="$bs" skip=100 count=16 iflag=direct 2>/dev/null
cmp /tmp/src /tmp/again || { echo "COPY: the source changed"; exit 1; }
echo "COPY: OK"
