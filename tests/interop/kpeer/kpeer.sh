#!/usr/bin/env bash
# kpeer.sh - the Linux kernel as an NVMe/TCP peer, booted in QEMU.
#
# Boots Debian's packaged kernel (linux-image-amd64, found under /boot) with a
# small initramfs (busybox-static, nvme-cli, the NVMe/TCP host and target
# modules) and lets it act as the NVMe/TCP host or the NVMe/TCP target for a
# program running on this machine. The machine's own kernel needs no NVMe
# support, and no root: QEMU's user-mode network does the plumbing.
#
# Traffic stays on 127.0.0.1. The user network runs with restrict=on, so the
# guest reaches nothing but the two forwards set up here:
#
#   host role    guest -> 10.0.2.100:4420 --guestfwd--> socat -> 127.0.0.1:PORT
#                (QEMU starts one socat per guest connection)
#   target role  127.0.0.1:PORT --hostfwd--> guest 10.0.2.15:4420 (nvmet-tcp)
#
# Documentation: docs/testing.md. Usage: kpeer.sh help
set -euo pipefail

ME=kpeer
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GUEST_INIT=$HERE/guest-init.sh
UTIL=$HERE/kpeer_util.py
# Bump when the layout of the initramfs changes in a way its inputs' hashes
# do not show; the cache directory is keyed by kernel version and this number.
FORMAT=1

DIR=${KPEER_DIR:-/var/tmp/fabriq-kpeer}
ACCEL=${KPEER_ACCEL:-auto}
MEM_MB=${KPEER_MEM:-1024}
CPUS=${KPEER_CPUS:-}
KVER=${KPEER_KVER:-}

FWD_IP=10.0.2.100  # host role: the address the guest connects to
GUEST_PORT=4420    # NVMe/TCP port inside the guest

# Modules for the initramfs; their dependencies are added from modules.dep.
# A leading "?" marks one that another kernel build may lack or have built in.
MODULES="virtio_pci virtio_net configfs crc32c_generic ?crc32c-intel crct10dif_generic
	?crc64_rocksoft_generic nvme-tcp nvmet-tcp null_blk brd ext4"

say() { printf '%s: %s\n' "$ME" "$*" >&2; }
die() {
	say "error: $*"
	exit 2
}

usage() {
	cat <<EOF
Usage: kpeer.sh COMMAND [OPTIONS]

The Linux kernel (Debian's linux-image-amd64) in QEMU as an NVMe/TCP host or
target for a program on this machine. All traffic stays on 127.0.0.1.

Commands:
  host --target 127.0.0.1:PORT --nqn NQN [options]
      The guest is the NVMe/TCP host. It runs nvme discover and connect,
      list-subsys, id-ctrl, list-ns, list, id-ns for every namespace, writes
      random data with O_DIRECT at the start and the end of every namespace,
      flushes, reads both back and compares, round-trips four single blocks,
      runs the --script, and disconnects. Exit status 0 only on PASS.
        --digest | --hdr-digest | --data-digest   request digests
        --hostnqn NQN        host NQN (default: a random uuid NQN)
        --nr-io-queues N     I/O queues (default: one per guest CPU)
        --queue-size N       I/O queue size
        --connect-opts STR   more nvme connect options ("--keep-alive-tmo=5")
        --io-mb N            MiB written at each end of a namespace (16; 0: none)
        --no-discover        skip nvme discover
        --script FILE        busybox sh script run in the guest after the checks,
                             before the disconnect, with DEV (first namespace),
                             DEVS, CTRL, NQN, TRADDR, TRSVCID, HOSTNQN set;
                             it must exit 0
        --timeout S          limit for the whole guest run (default 900)
        --fwd GPORT:PORT     also forward the guest's 10.0.2.100:GPORT to
                             127.0.0.1:PORT (repeatable): more target ports
                             (a discovery port, a second path)
        --script-only        no nvme discover/connect and no built-in checks:
                             the guest (nvme-tcp loaded, /etc/nvme/hostnqn and
                             hostid written) only runs the --script

  target --port PORT [options]
      The guest is the NVMe/TCP target (nvmet-tcp), reachable at
      127.0.0.1:PORT. Once the target answers an ICReq through the forward,
      prints "KPEER_READY 127.0.0.1:PORT NQN"; then runs until --seconds pass
      or it is killed. Digests need no option (nvmet grants what is asked).
        --nqn NQN            subsystem NQN (default nqn.2026-11.test:kernel-target)
        --seconds N          lifetime after ready (default 600)
        --size-mb N          size of each namespace (default 256)
        --namespaces N       number of namespaces, 1-16 (default 1)
        --backing null_blk|brd  RAM disk driver (default null_blk)
        --block-size 512|4096   null_blk logical block size (default 512)
        --ready-file FILE    also write "127.0.0.1:PORT NQN" to FILE when ready
        --no-probe           announce ready without the ICReq check

  probe --port PORT [--addr 127.x.x.x] [--digest]
      Send an ICReq and check the ICResp.

  build [--force]     Build (or rebuild) the cached initramfs; the other
                      commands do it when needed.
  contents            List the files of the cached initramfs.
  selftest [--digest] A target guest and a host guest connected through
                      127.0.0.1 (two boots: minutes under TCG).
  shell [--target 127.0.0.1:PORT] [--port PORT]
                      Interactive guest shell; the forwards as for host and
                      target. Leave with "poweroff -f".
  accel               Print the accelerator that would be used (kvm or tcg).

Options of host, target, selftest and shell:
  --add FILE          put the executable FILE, with the shared libraries it
                      needs, in the guest's /usr/local/bin (repeatable)
  --quiet             do not copy the guest console to stdout
  --verbose-boot      show the kernel's boot messages
  --printk N          guest console log level after boot (default 7)
  --cpus N, --mem MB  guest CPUs (host 2, target 1) and memory (1024)

Environment: KPEER_DIR (cache and run directories, default
/var/tmp/fabriq-kpeer), KPEER_ACCEL (auto, kvm, tcg), KPEER_KVER (a kernel
version under /boot), KPEER_MEM, KPEER_CPUS, KPEER_BZIMAGE=1 (boot the
bzImage, not the extracted vmlinux).

Every guest run gets a directory \$KPEER_DIR/runs/ROLE-DATE-XXXX with
console.log, result.log (the "KPEER: ..." markers), qemu.cmd, qemu.log and
socat.log; the 40 newest are kept.
EOF
}

# ---------------------------------------------------------------------------
# argument checks (values end up in the guest's shell configuration)

need_uint() { [[ ${2:-} =~ ^[0-9]+$ ]] || die "$1: '${2:-}' is not a number"; }
need_port() {
	need_uint "$1" "$2"
	((10#$2 >= 1 && 10#$2 <= 65535)) || die "$1: port $2 is out of range"
}
need_word() { [[ ${2:-} =~ ^[A-Za-z0-9._:@+-]+$ ]] || die "$1: '${2:-}' has characters other than A-Z a-z 0-9 . _ : @ + -"; }
need_loopback() {
	[[ $2 =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] ||
		die "$1: '$2' is not a loopback address (127.x.x.x); kpeer talks to this machine only"
}
# "127.0.0.1:PORT" (or localhost:PORT) -> ADDR PORT
split_target() {
	local addr=${2%:*} port=${2##*:}
	[[ $2 == *:* ]] || die "$1: '$2' is not ADDR:PORT"
	[[ $addr == localhost ]] && addr=127.0.0.1
	need_loopback "$1" "$addr"
	need_port "$1" "$port"
	T_ADDR=$addr
	T_PORT=$port
}
port_busy() { [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]; }

# ---------------------------------------------------------------------------
# tools, kernel, accelerator

# Everything comes from Debian packages that scripts/deps.sh --test installs.
check_tools() {
	local missing=() t p
	for t in qemu-system-x86_64:qemu-system-x86 busybox:busybox-static nvme:nvme-cli \
		cpio:cpio socat:socat depmod:kmod python3:python3 ss:iproute2 timeout:coreutils; do
		# (command -v also reports a file that is not executable)
		p=$(command -v "${t%%:*}" 2>/dev/null) && [[ -x $p ]] || missing+=("${t#*:}")
	done
	compgen -G '/boot/vmlinuz-*' >/dev/null || missing+=(linux-image-amd64)
	if ((${#missing[@]})); then
		p=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
		die "missing packages: ${p% } (install them with scripts/deps.sh --test)"
	fi
	if [[ $(busybox 2>&1 | head -n1) != *BusyBox* ]] || ldd "$(command -v busybox)" >/dev/null 2>&1; then
		die "$(command -v busybox) is not a static busybox (install busybox-static)"
	fi
}

# The newest kernel under /boot whose modules include nvme-tcp; on Debian 12
# that is linux-image-amd64's 6.1. The running kernel does not matter.
pick_kernel() {
	local v
	if [[ -z $KVER ]]; then
		KVER=$(for v in /boot/vmlinuz-*; do
			v=${v#/boot/vmlinuz-}
			if grep -q '/nvme-tcp\.ko' "/lib/modules/$v/modules.dep" 2>/dev/null; then echo "$v"; fi
		done | sort -V | tail -n1)
		[[ -n $KVER ]] || die "no kernel under /boot has NVMe/TCP modules (apt-get install linux-image-amd64)"
	fi
	need_word KPEER_KVER "$KVER"
	VMLINUZ=/boot/vmlinuz-$KVER
	MODDIR=/lib/modules/$KVER
	[[ -r $VMLINUZ ]] || die "cannot read $VMLINUZ (kernel $KVER)"
	[[ -r $MODDIR/modules.dep ]] || die "no modules for kernel $KVER in $MODDIR"
	CACHE=$DIR/$KVER-f$FORMAT
}

# KVM when /dev/kvm is usable with a hardware virtualisation module (a kvm
# module without kvm_intel/kvm_amd cannot run a stock kernel); TCG otherwise.
pick_accel() {
	case $ACCEL in
	kvm | tcg) ;;
	auto)
		ACCEL=tcg
		if [[ -r /dev/kvm && -w /dev/kvm ]] && [[ -d /sys/module/kvm_intel || -d /sys/module/kvm_amd ]]; then
			ACCEL=kvm
		fi
		;;
	*) die "KPEER_ACCEL: '$ACCEL' is not auto, kvm or tcg" ;;
	esac
	if [[ $ACCEL == kvm ]]; then
		QEMU_ACCEL=(-accel kvm -cpu host)
	else
		# shellcheck disable=SC2054  # commas are part of the QEMU option
		QEMU_ACCEL=(-accel tcg,thread=multi -cpu max)
	fi
}

# ---------------------------------------------------------------------------
# the cached initramfs and kernel

# Module paths (relative to $MODDIR) for the names given, dependencies first.
module_list() {
	awk -v want="$*" '
	function add(p,   n, i, d) {
		if (p in seen) return
		seen[p] = 1
		n = split(dep[p], d, " ")
		for (i = n; i >= 1; i--) add(d[i])
		print p
	}
	{
		p = $1; sub(/:$/, "", p)
		$1 = ""; dep[p] = $0
		n = p; sub(/^.*\//, "", n); sub(/\.ko.*$/, "", n); gsub(/-/, "_", n)
		byname[n] = p
	}
	END {
		k = split(want, w, " ")
		for (i = 1; i <= k; i++) {
			n = w[i]; optional = sub(/^\?/, "", n); gsub(/-/, "_", n)
			if (n in byname) add(byname[n])
			else if (!optional) { print "module " n " is not in modules.dep" > "/dev/stderr"; bad = 1 }
		}
		exit bad
	}' "$MODDIR/modules.dep"
}

# Copy an executable and the shared libraries ldd reports into ROOT.
add_program() { # root file dest
	local root=$1 src=$2 dst=$3 lib
	install -D -m 0755 "$(readlink -f "$src")" "$root$dst"
	for lib in $(ldd "$src" 2>/dev/null | grep -o '/[^ )]*' || true); do
		case $lib in
		/lib/* | /lib64/* | /usr/lib/*)
			[[ -e $root$lib ]] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
			;;
		*)
			# A library of the build tree, found through the program's
			# RUNPATH, which means nothing in the guest: put it where the
			# guest's loader searches by default.
			install -D -m 0755 "$(readlink -f "$lib")" "$root/lib/x86_64-linux-gnu/${lib##*/}"
			;;
		esac
	done
}

# What the initramfs is made of; a change rebuilds it.
inputs_hash() {
	{
		echo "format $FORMAT kernel $KVER modules $MODULES"
		sha256sum "$GUEST_INIT" "$(command -v busybox)" "$(command -v nvme)" "$MODDIR/modules.dep"
		ldd "$(command -v nvme)" | grep -o '/[^ )]*' | xargs -r readlink -f | xargs -r sha256sum
	} | sha256sum | cut -c1-32
}

build_initramfs() { # force
	local force=$1 want root list m
	INITRAMFS=$CACHE/initramfs.cpio
	want=$(inputs_hash)
	if [[ $force == 0 && -s $INITRAMFS && $(cat "$CACHE/inputs" 2>/dev/null) == "$want" ]]; then
		return 0
	fi
	say "building the initramfs for $KVER in $CACHE"
	mkdir -p "$CACHE"
	root=$(mktemp -d "$CACHE/root.XXXXXX")
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,dev,proc,sys,tmp,run,mnt,etc,kpeer}
	add_program "$root" "$(command -v busybox)" /bin/busybox
	add_program "$root" "$(command -v nvme)" /usr/sbin/nvme
	install -m 0755 "$GUEST_INIT" "$root/init"

	# shellcheck disable=SC2086  # MODULES is a word list
	list=$(module_list $MODULES) || die "kernel $KVER lacks modules kpeer needs"
	for m in $list; do
		mkdir -p "$root/lib/modules/$KVER/${m%/*}"
		case $m in
		*.ko) cp "$MODDIR/$m" "$root/lib/modules/$KVER/$m" ;;
		# busybox modprobe loads uncompressed modules only
		*.ko.xz) xz -dc "$MODDIR/$m" >"$root/lib/modules/$KVER/${m%.xz}" ;;
		*.ko.zst) zstd -dcq "$MODDIR/$m" >"$root/lib/modules/$KVER/${m%.zst}" ;;
		*.ko.gz) gzip -dc "$MODDIR/$m" >"$root/lib/modules/$KVER/${m%.gz}" ;;
		*) die "unexpected module file $m" ;;
		esac
	done
	cp "$MODDIR/modules.builtin" "$MODDIR/modules.builtin.modinfo" "$MODDIR/modules.order" \
		"$root/lib/modules/$KVER/" 2>/dev/null || true
	depmod -b "$root" "$KVER" || die "depmod failed for the initramfs"

	# Uncompressed: under TCG, unpacking costs the guest more than it saves.
	(cd "$root" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc --owner=0:0 --quiet) >"$INITRAMFS.new"
	mv "$INITRAMFS.new" "$INITRAMFS"
	echo "$want" >"$CACHE/inputs"
	rm -rf "$root"
	say "initramfs $INITRAMFS ($(du -h "$INITRAMFS" | cut -f1), $(wc -w <<<"$list") modules)"
}

# QEMU can enter an uncompressed kernel through PVH (CONFIG_PVH), which
# spares the guest the decompression of the bzImage (seconds under TCG).
prepare_kernel() {
	BOOT_KERNEL=$VMLINUZ
	[[ ${KPEER_BZIMAGE:-0} == 1 ]] && return 0
	grep -q '^CONFIG_PVH=y' "/boot/config-$KVER" 2>/dev/null || return 0
	local out=$CACHE/vmlinux
	if [[ ! -s $out || $out -ot $VMLINUZ ]]; then
		if ! python3 "$UTIL" vmlinux "$VMLINUZ" "$out.new"; then
			rm -f "$out.new"
			say "booting the bzImage"
			return 0
		fi
		mv "$out.new" "$out"
	fi
	BOOT_KERNEL=$out
}

# Tools, kernel, cache (built under a lock: test runs may start together).
prepare() { # force-rebuild
	check_tools
	mkdir -p "$DIR/runs"
	pick_kernel
	mkdir -p "$CACHE"
	exec {lockfd}>"$DIR/build.lock"
	flock "$lockfd"
	build_initramfs "${1:-0}"
	prepare_kernel
	flock -u "$lockfd"
	exec {lockfd}>&-
	pick_accel
}

# ---------------------------------------------------------------------------
# one guest run

new_run() { # role
	RUN=$(mktemp -d "$DIR/runs/$1-$(date +%Y%m%d-%H%M%S)-XXXX")
	# keep the 40 newest run directories
	find "$DIR/runs" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' | sort -rn |
		tail -n +41 | cut -d' ' -f2- | xargs -r rm -rf
	say "run directory: $RUN"
}

# The per-run archive: /kpeer/run.conf, the script, added programs. The
# kernel unpacks it over the cached one (archives may be concatenated).
make_initrd() { # NAME=VALUE...
	local root=$RUN/initrd.d kv f
	mkdir -p "$root/kpeer"
	for kv in "$@"; do printf "%s='%s'\n" "${kv%%=*}" "${kv#*=}"; done >"$root/kpeer/run.conf"
	[[ -n $SCRIPT ]] && install -m 0755 "$SCRIPT" "$root/kpeer/script.sh"
	for f in "${ADD[@]}"; do add_program "$root" "$f" "/usr/local/bin/${f##*/}"; done
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) >"$RUN/run.cpio"
	cat "$INITRAMFS" "$RUN/run.cpio" >"$RUN/initrd"
	rm -rf "$root" "$RUN/run.cpio"
}

QEMU_PID=""
TAIL_PID=""
stop_guest() {
	if [[ -n $QEMU_PID ]] && kill -0 "$QEMU_PID" 2>/dev/null; then
		kill "$QEMU_PID" 2>/dev/null || true
		wait "$QEMU_PID" 2>/dev/null || true
	fi
	if [[ -n $TAIL_PID ]]; then kill "$TAIL_PID" 2>/dev/null || true; fi
	QEMU_PID=""
	TAIL_PID=""
}
guard() {
	trap stop_guest EXIT
	trap 'stop_guest; exit 130' INT
	trap 'stop_guest; exit 143' TERM
}
unguard() { trap - EXIT INT TERM; }

# Start QEMU in the background with the forward NETFWD; the console goes to
# console.log (and stdout unless --quiet), markers to result.log.
start_guest() { # role limit-seconds
	local role=$1 limit=$2 cmdline="console=ttyS0 panic=-1 kpeer.role=$1"
	[[ $VERBOSE_BOOT == 1 ]] || cmdline+=" quiet"
	: >"$RUN/console.log"
	: >"$RUN/result.log"
	# shellcheck disable=SC2054  # commas are part of QEMU options
	local cmd=(timeout -k 10 "$limit" qemu-system-x86_64 "${QEMU_ACCEL[@]}"
		-m "$MEM_MB" -smp "$CPUS" -nodefaults -no-user-config -display none -no-reboot
		-kernel "$BOOT_KERNEL" -initrd "$RUN/initrd" -append "$cmdline"
		-serial "file:$RUN/console.log" -serial "file:$RUN/result.log"
		-netdev "user,id=net0,restrict=on,ipv6=off$NETFWD"
		-device virtio-net-pci,netdev=net0)
	printf '%q ' "${cmd[@]}" >"$RUN/qemu.cmd"
	echo >>"$RUN/qemu.cmd"
	say "$role guest: kernel $KVER, $ACCEL, $CPUS cpu(s), $MEM_MB MiB"
	"${cmd[@]}" </dev/null >"$RUN/qemu.log" 2>&1 &
	QEMU_PID=$!
	T0=$SECONDS
	if [[ $QUIET == 0 ]]; then
		tail -n +1 -F -s 0.2 --pid="$QEMU_PID" "$RUN/console.log" 2>/dev/null &
		TAIL_PID=$!
	fi
}

wait_guest() {
	QEMU_RC=0
	wait "$QEMU_PID" || QEMU_RC=$?
	QEMU_PID=""
	rm -f "$RUN/initrd"
	if [[ -n $TAIL_PID ]]; then
		wait "$TAIL_PID" 2>/dev/null || true
		TAIL_PID=""
	fi
	[[ -s $RUN/qemu.log ]] && sed 's/^/qemu: /' "$RUN/qemu.log" >&2
	if [[ $QEMU_RC == 124 || $QEMU_RC == 137 ]]; then say "the guest ran out of time"; fi
	return 0
}

marker() { grep -a -m1 "^KPEER: $1" "$RUN/result.log" 2>/dev/null | tr -d '\r' || true; }

# ---------------------------------------------------------------------------
# commands

ADD=()
SCRIPT=""
QUIET=0
VERBOSE_BOOT=0
PRINTK=7
# Options shared by the guest commands; sets NOPT to the words used (0: none).
common_opt() {
	NOPT=1
	case $1 in
	--add)
		[[ -f ${2:-} && -x ${2:-} ]] || die "--add: '${2:-}' is not an executable file"
		[[ ${2##*/} =~ ^[A-Za-z0-9._+-]+$ ]] || die "--add: unusual file name '${2##*/}'"
		ADD+=("$2")
		NOPT=2
		;;
	--quiet) QUIET=1 ;;
	--verbose-boot) VERBOSE_BOOT=1 ;;
	--printk) need_uint --printk "${2:-}" && PRINTK=$2 && NOPT=2 ;;
	--cpus) need_uint --cpus "${2:-}" && CPUS=$2 && NOPT=2 ;;
	--mem) need_uint --mem "${2:-}" && MEM_MB=$2 && NOPT=2 ;;
	*) NOPT=0 ;;
	esac
}
# "--opt VALUE" with VALUE present
value() { [[ $# -ge 2 ]] || die "$1 needs a value"; }

cmd_host() {
	local target="" nqn="" hdr=0 data=0 hostnqn="" nrq="" qsize="" copts="" io_mb=16
	local discover=1 limit=900 fwds=() script_only=0 f
	while [[ $# -gt 0 ]]; do
		common_opt "$@"
		if ((NOPT)); then
			shift "$NOPT"
			continue
		fi
		case $1 in
		--digest) hdr=1 data=1 ;;
		--hdr-digest) hdr=1 ;;
		--data-digest) data=1 ;;
		--no-discover) discover=0 ;;
		--script-only) script_only=1 ;;
		--target | --nqn | --hostnqn | --nr-io-queues | --queue-size | --connect-opts | --io-mb | \
			--script | --timeout | --fwd)
			value "$@"
			case $1 in
			--fwd) fwds+=("$2") ;;
			--target) target=$2 ;;
			--nqn) nqn=$2 ;;
			--hostnqn) hostnqn=$2 ;;
			--nr-io-queues) nrq=$2 ;;
			--queue-size) qsize=$2 ;;
			--connect-opts) copts=$2 ;;
			--io-mb) io_mb=$2 ;;
			--script) SCRIPT=$2 ;;
			--timeout) limit=$2 ;;
			esac
			shift
			;;
		*) die "host: unknown option '$1'" ;;
		esac
		shift
	done
	[[ -n $target ]] || die "host: --target 127.0.0.1:PORT is required"
	[[ -n $nqn ]] || die "host: --nqn NQN is required"
	split_target --target "$target"
	need_word --nqn "$nqn"
	[[ -z $hostnqn ]] || need_word --hostnqn "$hostnqn"
	[[ -z $nrq ]] || need_uint --nr-io-queues "$nrq"
	[[ -z $qsize ]] || need_uint --queue-size "$qsize"
	need_uint --io-mb "$io_mb"
	need_uint --timeout "$limit"
	[[ $copts =~ ^[A-Za-z0-9=._:,\ -]*$ ]] || die "--connect-opts: '$copts' has unexpected characters"
	[[ -z $SCRIPT || -r $SCRIPT ]] || die "--script: cannot read '$SCRIPT'"
	((script_only == 0)) || [[ -n $SCRIPT ]] || die "--script-only needs a --script"
	for f in "${fwds[@]}"; do
		[[ $f == *:* ]] || die "--fwd: '$f' is not GPORT:PORT"
		need_port --fwd "${f%%:*}"
		need_port --fwd "${f#*:}"
		[[ ${f%%:*} != "$GUEST_PORT" ]] || die "--fwd: guest port $GUEST_PORT is the --target's"
	done
	CPUS=${CPUS:-2}
	prepare
	new_run host
	make_initrd TRADDR=$FWD_IP TRSVCID=$GUEST_PORT NQN="$nqn" HOSTNQN="$hostnqn" \
		HDR_DIGEST=$hdr DATA_DIGEST=$data NR_IO_QUEUES="$nrq" QUEUE_SIZE="$qsize" \
		CONNECT_OPTS="$copts" IO_MB="$io_mb" DISCOVER=$discover PRINTK="$PRINTK" \
		SCRIPT_ONLY=$script_only
	# Each guest connection to FWD_IP:4420 gets its own socat to the target
	# (",," is a literal comma inside a QEMU option).
	NETFWD=",guestfwd=tcp:$FWD_IP:$GUEST_PORT-cmd:socat -lf $RUN/socat.log STDIO TCP4:$T_ADDR:$T_PORT,,nodelay"
	for f in "${fwds[@]}"; do
		NETFWD+=",guestfwd=tcp:$FWD_IP:${f%%:*}-cmd:socat -lf $RUN/socat.log STDIO TCP4:$T_ADDR:${f#*:},,nodelay"
	done
	guard
	start_guest host "$limit"
	wait_guest
	unguard
	local res
	res=$(marker '\(PASS\|FAIL\)')
	if [[ $res != "KPEER: PASS"* && -s $RUN/socat.log ]]; then
		say "socat to $T_ADDR:$T_PORT said:"
		sed 's/^/  /' "$RUN/socat.log" >&2
	fi
	[[ -n $res ]] || res="FAIL no result (qemu exit status $QEMU_RC)"
	echo "kpeer host: ${res#KPEER: } [$((SECONDS - T0)) s, $RUN]"
	[[ $res == "KPEER: PASS"* ]]
}

cmd_target() {
	local port="" nqn=nqn.2026-11.test:kernel-target seconds=600 size_mb=256 nns=1
	local backing=null_blk bs=512 ready_file="" probe=1
	while [[ $# -gt 0 ]]; do
		common_opt "$@"
		if ((NOPT)); then
			shift "$NOPT"
			continue
		fi
		case $1 in
		--no-probe) probe=0 ;;
		--digest | --hdr-digest | --data-digest) ;;
		--port | --nqn | --seconds | --size-mb | --namespaces | --backing | --block-size | --ready-file)
			value "$@"
			case $1 in
			--port) port=$2 ;;
			--nqn) nqn=$2 ;;
			--seconds) seconds=$2 ;;
			--size-mb) size_mb=$2 ;;
			--namespaces) nns=$2 ;;
			--backing) backing=$2 ;;
			--block-size) bs=$2 ;;
			--ready-file) ready_file=$2 ;;
			esac
			shift
			;;
		*) die "target: unknown option '$1'" ;;
		esac
		shift
	done
	[[ -n $port ]] || die "target: --port PORT is required"
	need_port --port "$port"
	need_word --nqn "$nqn"
	need_uint --seconds "$seconds"
	need_uint --size-mb "$size_mb"
	need_uint --namespaces "$nns"
	((size_mb >= 1)) || die "--size-mb: $size_mb is too small"
	((nns >= 1 && nns <= 16)) || die "--namespaces: $nns is not within 1-16"
	[[ $backing == null_blk || $backing == brd ]] || die "--backing: '$backing' is not null_blk or brd"
	[[ $bs == 512 || $bs == 4096 ]] || die "--block-size: '$bs' is not 512 or 4096"
	[[ $backing == null_blk || $bs == 512 ]] || die "--block-size: brd has 512-byte blocks only"
	port_busy "$port" && die "--port: 127.0.0.1:$port is in use"
	CPUS=${CPUS:-1}
	((MEM_MB >= nns * size_mb + 384)) || MEM_MB=$((nns * size_mb + 384))
	prepare
	new_run target
	SCRIPT=""
	make_initrd NQN="$nqn" LIFETIME="$seconds" SIZE_MB="$size_mb" NAMESPACES="$nns" \
		BACKING="$backing" BLOCK_SIZE="$bs" PRINTK="$PRINTK"
	[[ -z $ready_file ]] || rm -f "$ready_file"
	NETFWD=",hostfwd=tcp:127.0.0.1:$port-:$GUEST_PORT"
	guard
	# the lifetime plus time to boot
	start_guest target $((seconds + 600))
	local ready=0
	while kill -0 "$QEMU_PID" 2>/dev/null; do
		[[ -n $(marker READY) ]] && ready=1 && break
		[[ -n $(marker FAIL) ]] && break
		sleep 0.2
	done
	if ((ready && probe)); then
		python3 "$UTIL" probe 127.0.0.1 "$port" 0 || ready=0
	fi
	if ((ready)); then
		echo "KPEER_READY 127.0.0.1:$port $nqn (after $((SECONDS - T0)) s, $RUN)"
		[[ -z $ready_file ]] || echo "127.0.0.1:$port $nqn" >"$ready_file"
	else
		say "the target did not become ready"
		stop_guest
	fi
	[[ -z $QEMU_PID ]] || wait_guest
	unguard
	echo "kpeer target: $(grep -a '^KPEER: ' "$RUN/result.log" | tr -d '\r' | sed 's/^KPEER: //' |
		paste -sd';' -) [$RUN]"
	((ready)) && [[ -n $(marker END) && -z $(marker FAIL) ]]
}

cmd_probe() {
	local addr=127.0.0.1 port="" dgst=0
	while [[ $# -gt 0 ]]; do
		case $1 in
		--digest) dgst=3 ;;
		--addr | --port)
			value "$@"
			[[ $1 == --addr ]] && addr=$2 || port=$2
			shift
			;;
		*) die "probe: unknown option '$1'" ;;
		esac
		shift
	done
	[[ -n $port ]] || die "probe: --port PORT is required"
	need_port --port "$port"
	need_loopback --addr "$addr"
	python3 "$UTIL" probe "$addr" "$port" "$dgst"
}

cmd_selftest() {
	local digest="" opts=() port nqn=nqn.2026-11.test:kpeer-selftest rc=0 tpid ready
	while [[ $# -gt 0 ]]; do
		common_opt "$@"
		if ((NOPT)); then
			opts+=("${@:1:NOPT}")
			shift "$NOPT"
			continue
		fi
		case $1 in
		--digest) digest=--digest ;;
		*) die "selftest: unknown option '$1'" ;;
		esac
		shift
	done
	prepare
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	ready=$(mktemp "$DIR/selftest.XXXXXX")
	rm -f "$ready"
	"$0" target --port "$port" --nqn "$nqn" --seconds 1200 --ready-file "$ready" "${opts[@]}" \
		> >(sed -u 's/^/[target] /') 2>&1 &
	tpid=$!
	while [[ ! -s $ready ]] && kill -0 "$tpid" 2>/dev/null; do sleep 0.5; done
	if [[ ! -s $ready ]]; then
		wait "$tpid" || true
		echo "kpeer selftest: FAIL (the target guest did not come up)"
		return 1
	fi
	python3 "$UTIL" probe 127.0.0.1 "$port" 3 || rc=1
	"$0" host --target "127.0.0.1:$port" --nqn "$nqn" $digest "${opts[@]}" || rc=1
	kill "$tpid" 2>/dev/null || true
	wait "$tpid" 2>/dev/null || true
	rm -f "$ready"
	if ((rc == 0)); then echo "kpeer selftest: PASS"; else echo "kpeer selftest: FAIL"; fi
	return "$rc"
}

cmd_shell() {
	NETFWD=""
	while [[ $# -gt 0 ]]; do
		common_opt "$@"
		if ((NOPT)); then
			shift "$NOPT"
			continue
		fi
		case $1 in
		--target)
			value "$@"
			split_target --target "$2"
			NETFWD+=",guestfwd=tcp:$FWD_IP:$GUEST_PORT-cmd:socat STDIO TCP4:$T_ADDR:$T_PORT,,nodelay"
			shift
			;;
		--port)
			value "$@"
			need_port --port "$2"
			NETFWD+=",hostfwd=tcp:127.0.0.1:$2-:$GUEST_PORT"
			shift
			;;
		*) die "shell: unknown option '$1'" ;;
		esac
		shift
	done
	CPUS=${CPUS:-2}
	prepare
	new_run shell
	make_initrd PRINTK="$PRINTK"
	local cmdline="console=ttyS0 panic=-1 kpeer.role=shell"
	[[ $VERBOSE_BOOT == 1 ]] || cmdline+=" quiet"
	exec qemu-system-x86_64 "${QEMU_ACCEL[@]}" -m "$MEM_MB" -smp "$CPUS" \
		-nodefaults -no-user-config -display none -no-reboot \
		-kernel "$BOOT_KERNEL" -initrd "$RUN/initrd" -append "$cmdline" \
		-serial mon:stdio -serial "file:$RUN/result.log" \
		-netdev "user,id=net0,restrict=on,ipv6=off$NETFWD" -device virtio-net-pci,netdev=net0
}

cmd_build() {
	local force=0
	while [[ $# -gt 0 ]]; do
		case $1 in
		--force) force=1 ;;
		*) die "build: unknown option '$1'" ;;
		esac
		shift
	done
	prepare "$force"
	echo "kernel $KVER ($BOOT_KERNEL), initramfs $INITRAMFS, accelerator $ACCEL"
}

cmd_contents() {
	[[ $# -eq 0 ]] || die "contents: no options expected"
	prepare
	cpio -it --quiet <"$INITRAMFS"
}

main() {
	local command=${1:-help}
	[[ $# -eq 0 ]] || shift
	case $command in
	host) cmd_host "$@" ;;
	target) cmd_target "$@" ;;
	probe) cmd_probe "$@" ;;
	build) cmd_build "$@" ;;
	contents) cmd_contents "$@" ;;
	selftest) cmd_selftest "$@" ;;
	shell) cmd_shell "$@" ;;
	accel)
		check_tools
		pick_accel
		echo "$ACCEL"
		;;
	help | -h | --help) usage ;;
	*)
		usage >&2
		die "unknown command '$command'"
		;;
	esac
}

main "$@"
