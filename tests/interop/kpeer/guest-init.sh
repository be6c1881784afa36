#!/bin/busybox sh
# /init of the kpeer guest (busybox sh, PID 1). Part of the cached initramfs.
#
# The role comes from "kpeer.role=" on the kernel command line; its settings
# from /kpeer/run.conf, a second cpio archive that kpeer.sh builds for every
# run. Progress markers ("KPEER: <word> ...") go to the console (ttyS0) and,
# alone, to ttyS1, which kpeer.sh reads as the result channel.

/bin/busybox --install -s
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc none /proc
mount -t sysfs none /sys
mount -t devtmpfs none /dev 2>/dev/null
mount -t tmpfs none /tmp
mount -t tmpfs none /run
exec </dev/console >/dev/console 2>&1

ROLE=none
for word in $(cat /proc/cmdline); do
	case $word in kpeer.role=*) ROLE=${word#kpeer.role=} ;; esac
done
[ -r /kpeer/run.conf ] && . /kpeer/run.conf

mark() {
	echo
	echo "KPEER: $*"
	[ -c /dev/ttyS1 ] && echo "KPEER: $*" >/dev/ttyS1
}
step() {
	echo "+ $*"
	"$@"
}
uptime_s() { cut -d' ' -f1 /proc/uptime; }
halt_guest() {
	sync
	mark "END $ROLE uptime=$(uptime_s)"
	poweroff -f
	sleep 30
}
fail() {
	echo "---- kernel log (last 40 lines) ----"
	dmesg | tail -n 40
	mark "FAIL $ROLE: $*"
	halt_guest
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
load() {
	modprobe "$@" || echo "kpeer: modprobe $* failed" >&2
}

net_up() {
	load virtio_pci
	load virtio_net
	wait_for 100 test -e /sys/class/net/eth0 || fail "no eth0"
	ip link set lo up
	ip link set eth0 up
	# QEMU user networking: the guest is 10.0.2.15, the gateway 10.0.2.2.
	ip addr add 10.0.2.15/24 dev eth0
	ip route add default via 10.0.2.2
}

echo /sbin/modprobe >/proc/sys/kernel/modprobe
echo "kpeer: kernel $(uname -r), role $ROLE, $(nproc) cpu(s), up $(uptime_s) s"
# CRC32C for digests and file systems; the accelerated one when the CPU has it.
load crc32c_generic
modprobe crc32c-intel 2>/dev/null
load crct10dif_generic
load crc64_rocksoft_generic
load configfs
mount -t configfs none /sys/kernel/config
# From here on the console shows nvme/nvmet kernel messages. The line written
# to /dev/kmsg first flushes what "quiet" held back during boot, so that
# raising the level does not replay the whole boot log.
echo "<5>kpeer: init running" >/dev/kmsg
echo "${PRINTK:-7}" >/proc/sys/kernel/printk

# ---------------------------------------------------------------------------
# host role: the guest kernel connects to a target on the machine running qemu

# Block devices of $NQN's namespaces, in namespace order.
namespace_devs() {
	{
		for s in /sys/class/nvme-subsystem/*; do
			[ "$(cat "$s/subsysnqn" 2>/dev/null)" = "$NQN" ] || continue
			for b in "$s"/nvme*n*; do [ -e "$b/size" ] && echo "/dev/${b##*/}"; done
		done
		for b in /sys/class/nvme/"$CTRL"/"$CTRL"n*; do
			[ -e "$b/size" ] && echo "/dev/${b##*/}"
		done
	} | sort -u | sort -t n -k 3n
}

md5_of() { md5sum | cut -d' ' -f1; }

# Identify one namespace, then write random data at its start and its end,
# read both back uncached and compare, and round-trip single blocks.
check_namespace() {
	dev=$1
	step nvme id-ns "$dev" || fail "id-ns $dev"
	bytes=$(blockdev --getsize64 "$dev")
	lbs=$(blockdev --getss "$dev")
	echo "$dev: $bytes bytes, $lbs-byte blocks"
	[ "$IO_MB" -eq 0 ] && return 0
	mb=$IO_MB
	[ $((mb * 1048576)) -le "$bytes" ] || mb=$((bytes / 1048576))
	[ "$mb" -ge 1 ] || fail "$dev is smaller than 1 MiB"
	end=$((bytes / 1048576 - mb))
	dd if=/dev/urandom of=/tmp/data bs=1M count="$mb" 2>/dev/null
	want=$(md5_of </tmp/data)
	t0=$(uptime_s)
	step dd if=/tmp/data of="$dev" bs=1M count="$mb" oflag=direct conv=fsync ||
		fail "write $dev at 0"
	step dd if=/tmp/data of="$dev" bs=1M count="$mb" seek="$end" oflag=direct conv=fsync ||
		fail "write $dev at $end MiB"
	step nvme flush "$dev" || fail "flush $dev"
	echo 3 >/proc/sys/vm/drop_caches
	t1=$(uptime_s)
	got=$(dd if="$dev" bs=1M count="$mb" iflag=direct 2>/dev/null | md5_of)
	[ "$got" = "$want" ] || fail "$dev: data read at 0 differs ($got, wrote $want)"
	got=$(dd if="$dev" bs=1M count="$mb" skip="$end" iflag=direct 2>/dev/null | md5_of)
	[ "$got" = "$want" ] || fail "$dev: data read at $end MiB differs ($got, wrote $want)"
	t2=$(uptime_s)
	for lba in 1 7 33 129; do
		dd if=/dev/urandom of=/tmp/block bs="$lbs" count=1 2>/dev/null
		dd if=/tmp/block of="$dev" bs="$lbs" seek="$lba" count=1 oflag=direct 2>/dev/null ||
			fail "$dev: write of block $lba"
		a=$(md5_of </tmp/block)
		b=$(dd if="$dev" bs="$lbs" skip="$lba" count=1 iflag=direct 2>/dev/null | md5_of)
		[ "$a" = "$b" ] || fail "$dev: block $lba differs after a round trip"
	done
	echo "$dev: data OK ($mb MiB at 0 and at $end MiB md5 $want; writes $(
		awk "BEGIN{printf \"%.1f\", $t1-$t0}") s, reads $(awk "BEGIN{printf \"%.1f\", $t2-$t1}") s;" \
		"4 single blocks)"
}

role_host() {
	load nvme-tcp
	net_up
	[ -n "$HOSTNQN" ] || HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:$(cat /proc/sys/kernel/random/uuid)
	case $HOSTNQN in
	*:uuid:*-*-*-*-*) HOSTID=${HOSTNQN##*:uuid:} ;;
	*) HOSTID=$(cat /proc/sys/kernel/random/uuid) ;;
	esac
	mkdir -p /etc/nvme
	echo "$HOSTNQN" >/etc/nvme/hostnqn
	echo "$HOSTID" >/etc/nvme/hostid
	digests=""
	[ "$HDR_DIGEST" = 1 ] && digests="$digests --hdr-digest"
	[ "$DATA_DIGEST" = 1 ] && digests="$digests --data-digest"
	where="-t tcp -a $TRADDR -s $TRSVCID -q $HOSTNQN -I $HOSTID"
	if [ "$SCRIPT_ONLY" = 1 ]; then
		# The script does the connecting (fabriq map --via kernel, say).
		echo "---- script ----"
		(
			export NQN TRADDR TRSVCID HOSTNQN
			sh /kpeer/script.sh
		) || fail "script exited with status $?"
		echo "---- script passed ----"
		dmesg | grep -E 'nvme' | tail -n 20
		mark "PASS host nqn=$NQN script-only"
		return 0
	fi

	if [ "$DISCOVER" = 1 ]; then
		# shellcheck disable=SC2086
		step nvme discover $where $digests || fail "nvme discover"
	fi
	extra=""
	[ -n "$NR_IO_QUEUES" ] && extra="$extra --nr-io-queues=$NR_IO_QUEUES"
	[ -n "$QUEUE_SIZE" ] && extra="$extra --queue-size=$QUEUE_SIZE"
	# shellcheck disable=SC2086
	step nvme connect $where -n "$NQN" $digests $extra $CONNECT_OPTS || fail "nvme connect"

	CTRL=""
	find_ctrl() {
		for c in /sys/class/nvme/nvme*; do
			[ "$(cat "$c/subsysnqn" 2>/dev/null)" = "$NQN" ] &&
				[ "$(cat "$c/transport")" = tcp ] && CTRL=${c##*/}
		done
		[ -n "$CTRL" ]
	}
	wait_for 100 find_ctrl || fail "no controller for $NQN after connect"
	c=/sys/class/nvme/$CTRL
	echo "/dev/$CTRL: $(cat "$c/transport") $(cat "$c/address"), queues $(cat "$c/queue_count")," \
		"sqsize $(cat "$c/sqsize"), state $(cat "$c/state")"
	step nvme list-subsys || fail "nvme list-subsys"
	step nvme id-ctrl "/dev/$CTRL" || fail "nvme id-ctrl"
	step nvme list-ns "/dev/$CTRL" || fail "nvme list-ns"
	active=$(nvme list-ns "/dev/$CTRL" 2>/dev/null | grep -c ':0x')
	# The kernel scans namespaces asynchronously after the connect.
	enough_devs() {
		DEVS=$(namespace_devs)
		[ "$(echo "$DEVS" | wc -w)" -ge "$active" ]
	}
	wait_for 100 enough_devs
	step nvme list || fail "nvme list"
	ndev=$(echo "$DEVS" | wc -w)
	echo "active namespaces: $active; block devices:" $DEVS
	[ "$ndev" -ge "$active" ] || fail "only $ndev of $active namespaces have a block device"
	[ "$ndev" -gt 0 ] || [ "$IO_MB" -eq 0 ] || fail "no namespace to write to"
	for d in $DEVS; do check_namespace "$d"; done
	# shellcheck disable=SC2086
	set -- $DEVS
	DEV=${1:-}

	if [ -r /kpeer/script.sh ]; then
		echo "---- script ----"
		(
			export DEV DEVS CTRL NQN TRADDR TRSVCID HOSTNQN
			sh /kpeer/script.sh
		) || fail "script exited with status $?"
		echo "---- script passed ----"
	fi

	step nvme disconnect -n "$NQN" || fail "nvme disconnect"
	gone() { [ ! -e "/sys/class/nvme/$CTRL" ]; }
	wait_for 50 gone || fail "$CTRL still present after disconnect"
	dmesg | grep -E 'nvme' | tail -n 20
	mark "PASS host nqn=$NQN hdr_digest=$HDR_DIGEST data_digest=$DATA_DIGEST io_mb=$IO_MB"
}

# ---------------------------------------------------------------------------
# target role: nvmet-tcp on guest port 4420, RAM-backed namespaces

role_target() {
	load nvmet-tcp
	net_up
	devs=""
	if [ "$BACKING" = brd ]; then
		load brd rd_nr="$NAMESPACES" rd_size=$((SIZE_MB * 1024)) max_part=0
		i=0
		while [ $i -lt "$NAMESPACES" ]; do
			devs="$devs /dev/ram$i"
			i=$((i + 1))
		done
	else
		load null_blk nr_devices=0
		i=0
		while [ $i -lt "$NAMESPACES" ]; do
			nb=/sys/kernel/config/nullb/kpeer$i
			mkdir "$nb" || fail "null_blk: cannot create $nb"
			echo "$SIZE_MB" >"$nb/size"
			echo "$BLOCK_SIZE" >"$nb/blocksize"
			echo 1 >"$nb/memory_backed"
			echo 1 >"$nb/power" || fail "null_blk: cannot power on $nb"
			# Linux 6.1 names the disk after the configfs directory.
			name=kpeer$i
			[ -e "/sys/block/$name" ] || name=nullb$(cat "$nb/index")
			devs="$devs /dev/$name"
			i=$((i + 1))
		done
	fi
	for d in $devs; do
		wait_for 100 test -b "$d" || fail "block device $d did not appear"
	done

	cfg=/sys/kernel/config/nvmet
	sub=$cfg/subsystems/$NQN
	mkdir "$sub" || fail "nvmet: cannot create subsystem $NQN"
	echo 1 >"$sub/attr_allow_any_host"
	[ -e "$sub/attr_model" ] && echo "kpeer nvmet" >"$sub/attr_model"
	nsid=1
	for d in $devs; do
		mkdir "$sub/namespaces/$nsid"
		printf '%s' "$d" >"$sub/namespaces/$nsid/device_path"
		echo 1 >"$sub/namespaces/$nsid/enable" || fail "nvmet: namespace $nsid ($d)"
		echo "namespace $nsid: $d, $(blockdev --getsize64 "$d") bytes, $(blockdev --getss "$d")-byte blocks"
		nsid=$((nsid + 1))
	done
	port=$cfg/ports/1
	mkdir "$port"
	echo tcp >"$port/addr_trtype"
	echo ipv4 >"$port/addr_adrfam"
	echo 0.0.0.0 >"$port/addr_traddr"
	echo 4420 >"$port/addr_trsvcid"
	ln -s "$sub" "$port/subsystems/$NQN" || fail "nvmet: cannot enable the port"
	listening() { netstat -ltn 2>/dev/null | grep -q ':4420 '; }
	wait_for 50 listening || fail "nvmet-tcp is not listening on port 4420"
	mark "READY target nqn=$NQN namespaces=$NAMESPACES size_mb=$SIZE_MB backing=$BACKING block_size=$BLOCK_SIZE"
	sleep "$LIFETIME"
	echo "---- block device statistics ----"
	for d in $devs; do echo "$d: $(cat "/sys/block/${d#/dev/}/stat")"; done
	dmesg | grep nvmet | tail -n 30
}

# ---------------------------------------------------------------------------
case $ROLE in
host) role_host ;;
target) role_target ;;
boot) mark "BOOTED uptime=$(uptime_s)" ;;
shell)
	load nvme-tcp
	load nvmet-tcp
	net_up
	echo "kpeer shell: modules loaded, eth0 up; leave with 'poweroff -f'"
	setsid cttyhack sh -l
	;;
*) mark "FAIL unknown role '$ROLE'" ;;
esac
halt_guest
