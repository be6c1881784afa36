#!/usr/bin/env bash
# Install the Debian 12 packages Fabriq needs to build, test and run.
# Usage: scripts/deps.sh [--test] [--fio]
#   --test  adds fuzzing, format, interop and fio tools (implies --fio)
#   --fio   installs fio and prepares its source for the fio engine (tools/fio)
# When another apt or dpkg holds its lock (unattended upgrades at boot), wait
# for it with a message, up to DEPS_LOCK_WAIT seconds (default 900).
set -euo pipefail

# The fio engine is compiled against fio's own headers, which Debian does not
# package. They are taken from the source package of the installed fio and
# configured here, at this fixed path (the default of the meson option fio_src).
FIO_SRC_DIR=/var/cache/fabriq
FIO_VERSION=3.33

want_test=0
want_fio=0
for a in "$@"; do
	case "$a" in
	--test) want_test=1 want_fio=1 ;;
	--fio) want_fio=1 ;;
	*)
		echo "deps: unknown option '$a' (expected --test or --fio)" >&2
		exit 2
		;;
	esac
done

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

# shellcheck source=scripts/lib/apt-lock.sh
. "$(dirname "$0")/lib/apt-lock.sh"
# apt waits on its own too (DPkg::Lock::Timeout), should another run take the
# lock between our check and apt's start.
lockwait=(-o "DPkg::Lock::Timeout=${DEPS_LOCK_WAIT:-900}")
apt_get() {
	wait_for_apt_locks "${DEPS_LOCK_WAIT:-900}"
	$SUDO apt-get "${lockwait[@]}" "$@"
}

pkgs=(gcc meson ninja-build pkg-config liburing-dev libisal-dev libinih-dev libjson-c-dev libfuse3-dev fuse3 libnvme-dev)
if [ $want_test -eq 1 ]; then
	pkgs+=(libcmocka-dev clang libclang-rt-14-dev clang-format python3 procps iproute2 bc util-linux groff-base e2fsprogs)
	# the kernel peer in qemu (tests/interop/kpeer/kpeer.sh, docs/testing.md)
	pkgs+=(qemu-system-x86 linux-image-amd64 busybox-static nvme-cli cpio socat kmod xz-utils coreutils)
	# fabriqd --metrics-listen: promtool checks the exposition, curl scrapes it
	pkgs+=(prometheus curl)
fi
if [ $want_fio -eq 1 ]; then
	# dpkg-dev unpacks the source package. Of fio's Build-Depends, only the
	# libraries that change a CONFIG_ macro seen by the headers an engine
	# includes are needed: libaio and rdma (the io_u union, io_u.h), libnuma
	# (thread_data, fio.h), zlib (iolog.h); and libnbd, which configure
	# insists on when asked for it as debian/rules does. The others (GTK for
	# gfio, rbd, glusterfs, pmem) only add engines or programs of their own.
	pkgs+=(fio dpkg-dev libaio-dev zlib1g-dev libnuma-dev librdmacm-dev libibverbs-dev libnbd-dev)
fi

# fio's source needs a deb-src entry for the mirror the binaries come from.
add_deb_src() {
	local f=/etc/apt/sources.list.d/fabriq-deb-src.sources
	[ -e "$f" ] && return 1
	$SUDO tee "$f" >/dev/null <<-EOS
		Types: deb-src
		URIs: http://deb.debian.org/debian
		Suites: bookworm bookworm-updates
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOS
	return 0
}

# Unpack fio's source and configure it with the options of debian/rules, so
# config-host.h, and with it the layout of fio's structures, matches the
# installed /usr/bin/fio (tests/func/fio/abi.sh checks that).
fio_source() {
	local dir=$FIO_SRC_DIR/fio-$FIO_VERSION
	local have
	have=$(dpkg-query -W -f='${Version}' fio)
	case "$have" in
	"$FIO_VERSION"-*) ;;
	*)
		echo "deps: installed fio is $have, the engine expects $FIO_VERSION" >&2
		exit 1
		;;
	esac
	[ -f "$dir/config-host.h" ] && return 0
	if add_deb_src; then
		apt_get update -qq
	fi
	$SUDO mkdir -p "$FIO_SRC_DIR"
	(cd "$FIO_SRC_DIR" && apt_get source -qq "fio=$have" >/dev/null)
	grep -q -- '--disable-native --prefix=/usr --enable-gfio --enable-libnbd' "$dir/debian/rules" || {
		echo "deps: debian/rules of fio $have configures fio differently; update scripts/deps.sh" >&2
		exit 1
	}
	# --enable-gfio is left out: it only decides whether the GTK front end
	# (Debian's separate gfio package) is built, no header tests its
	# CONFIG_GFIO, and it would need GTK's development packages.
	(cd "$dir" && $SUDO ./configure --disable-native --prefix=/usr --enable-libnbd >/dev/null) || {
		echo "deps: configuring fio in $dir failed; see $dir/config.log" >&2
		exit 1
	}
	echo "deps: fio $have source configured in $dir"
}

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	apt_get update -qq
	apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ $want_fio -eq 1 ]; then
	fio_source
fi
