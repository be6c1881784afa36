#!/usr/bin/env bash
# Install the Debian 12 packages Fabriq needs to build, test and run.
# Usage: scripts/deps.sh [--test]   (--test adds fuzzing, format and interop tools)
# When another apt or dpkg holds its lock (unattended upgrades at boot), wait
# for it with a message, up to DEPS_LOCK_WAIT seconds (default 900).
set -euo pipefail

pkgs=(gcc meson ninja-build pkg-config liburing-dev libisal-dev libinih-dev libjson-c-dev)
if [ "${1:-}" = "--test" ]; then
	pkgs+=(libcmocka-dev clang libclang-rt-14-dev clang-format python3 procps iproute2 bc util-linux groff-base)
	# the kernel peer in qemu (tests/interop/kpeer/kpeer.sh, docs/testing.md)
	pkgs+=(qemu-system-x86 linux-image-amd64 busybox-static nvme-cli cpio socat kmod xz-utils coreutils)
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# shellcheck source=scripts/lib/apt-lock.sh
. "$(dirname "$0")/lib/apt-lock.sh"
wait_for_apt_locks "${DEPS_LOCK_WAIT:-900}"
# apt waits on its own too, should another run take the lock between the
# check above and apt's start.
lockwait=(-o "DPkg::Lock::Timeout=${DEPS_LOCK_WAIT:-900}")
$SUDO apt-get "${lockwait[@]}" update -qq
wait_for_apt_locks "${DEPS_LOCK_WAIT:-900}"
$SUDO apt-get "${lockwait[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
