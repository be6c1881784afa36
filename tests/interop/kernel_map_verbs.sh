#!/usr/bin/env bash
# `fabriq volume info|resize|throttle|suspend|resume DEVICE` for a kernel
# mapping (docs/map.md "Resizing a mapped volume"): the volume verbs take
# the device `fabriq map --via kernel` made on the machine that runs the
# daemon. Here that machine is the kernel peer guest (Linux 6.1): fabriqd
# and fabriq go into its initramfs (kpeer --add), and the guest script
# kernel-map-verbs-script.sh starts fabriqd on 127.0.0.1 with a pool in
# RAM, maps a thin volume through the kernel NVMe/TCP host and drives each
# verb by /dev/nvmeXnY and by /dev/fabriq/POOL/VOLUME. Nothing of fabriq
# runs on this side: the --target forward kpeer wants is never used.
#
# Usage: kernel_map_verbs.sh FABRIQD FABRIQ
set -euo pipefail
FABRIQD=$(realpath "$1")
FABRIQ=$(realpath "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/interop/lib.sh
. "$HERE/lib.sh"

kpeer_prepare
T0=$SECONDS
WORK=$(mktemp -d /var/tmp/fq-kverbs.XXXXXX)
KPPID=""
cleanup() {
	[ -n "$KPPID" ] && kill "$KPPID" 2>/dev/null && wait "$KPPID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

# kpeer host needs a --target; nothing listens there and the guest script
# never connects to it (its target is the fabriqd inside the guest).
"$KPEER" host --target 127.0.0.1:"$(free_port)" --nqn nqn.2026-01.io.fabriq:vol:p0:db --quiet \
	--script-only --script "$HERE/kernel-map-verbs-script.sh" --add "$FABRIQD" --add "$FABRIQ" \
	--timeout 120 >"$WORK/host.out" 2>&1 &
KPPID=$!
rc=0
wait $KPPID || rc=$?
KPPID=""
rundir=$(kpeer_run_dir "$WORK/host.out")
[ -n "$rundir" ] && grep -a -E "KVERBS:|held|completed after|MiB after" "$rundir/console.log" | tr -d '\r'
if [ $rc -ne 0 ]; then
	cat "$WORK/host.out"
	[ -n "$rundir" ] && tail -80 "$rundir/console.log"
	fail "the volume verbs on a kernel-mapped device failed in the guest"
fi
tail -n1 "$WORK/host.out"
grep -a -q "KVERBS: OK" "$rundir/console.log" || fail "the guest script did not finish"
echo "kernel map volume verbs interop: passed in $((SECONDS - T0)) s"
