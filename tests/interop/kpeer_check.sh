#!/usr/bin/env bash
# Checks of the kernel peer harness itself (kpeer/kpeer.sh), cheap next to
# the scenarios that use it: the initramfs is built from scratch into a
# fresh cache, holds what the guest needs and is reused; bad arguments are
# refused with a message naming them (addresses other than loopback above
# all); the ICReq probe accepts fabriqd and rejects listeners that do not
# speak NVMe/TCP; and one short guest boot runs a program put into the
# initramfs with --add (the fabriq CLI, talking to fabriqd from the guest).
#
# Usage: kpeer_check.sh FABRIQD FABRIQ
set -euo pipefail
FABRIQD=$(realpath "$1")
FABRIQ=$(realpath "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/interop/lib.sh
. "$HERE/lib.sh"
KPEER=$HERE/kpeer/kpeer.sh # this checks the harness in the tree, not KERNEL_PEER

WORK=$(mktemp -d /var/tmp/fq-kpeer-check.XXXXXX)
export KPEER_DIR=$WORK/cache
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT
fails=0
ok() { echo "ok: $*"; }
bad() {
	echo "NOT OK: $*"
	fails=$((fails + 1))
}

# --- a fresh cache is built, then reused -----------------------------------
"$KPEER" build >"$WORK/build1.out" 2>&1 || { cat "$WORK/build1.out"; fail "build into an empty cache failed"; }
grep -q "building the initramfs" "$WORK/build1.out" && ok "fresh cache: initramfs built" ||
	bad "fresh cache: no build reported"
"$KPEER" build >"$WORK/build2.out" 2>&1 || fail "second build failed"
grep -q "building the initramfs" "$WORK/build2.out" && bad "cache not reused" || ok "cache reused"

"$KPEER" contents >"$WORK/contents" || fail "contents failed"
for f in init bin/busybox usr/sbin/nvme lib64/ld-linux-x86-64.so.2 \
	'lib/modules/[^/]*/modules.dep' '/nvme-tcp.ko' '/nvme-fabrics.ko' '/nvmet.ko' '/nvmet-tcp.ko' \
	'/null_blk.ko' '/brd.ko' '/ext4.ko' '/configfs.ko' '/virtio_net.ko' '/virtio_pci.ko' \
	'/crc32c_generic.ko'; do
	grep -q "${f}\$" "$WORK/contents" && ok "initramfs has $f" || bad "initramfs lacks $f"
done
# every library nvme-cli needs
for lib in $(ldd "$(command -v nvme)" | grep -o '/[^ )]*'); do
	grep -qx "${lib#/}" "$WORK/contents" && ok "initramfs has $lib" || bad "initramfs lacks $lib"
done

# --- bad arguments -----------------------------------------------------------
# refused: expect the exit status 2 and a message containing TEXT
refused() { # TEXT -- kpeer arguments
	local text=$1 rc=0
	shift 2
	"$KPEER" "$@" >"$WORK/refused.out" 2>&1 || rc=$?
	if [ $rc -eq 2 ] && grep -qF -- "$text" "$WORK/refused.out"; then
		ok "refused: $* ($(tail -n1 "$WORK/refused.out"))"
	else
		bad "kpeer $* exited $rc: $(cat "$WORK/refused.out")"
	fi
}
refused "'10.1.2.3' is not a loopback address" -- host --target 10.1.2.3:4420 --nqn nqn.a:b
refused "'192.168.0.1' is not a loopback address" -- host --target 192.168.0.1:4420 --nqn nqn.a:b
refused "'example.org' is not a loopback address" -- host --target example.org:4420 --nqn nqn.a:b
refused "'10.0.2.2' is not a loopback address" -- probe --addr 10.0.2.2 --port 4420
refused "port 70000 is out of range" -- host --target 127.0.0.1:70000 --nqn nqn.a:b
refused "--nqn NQN is required" -- host --target 127.0.0.1:4420
refused "'nqn.a;reboot'" -- host --target 127.0.0.1:4420 --nqn 'nqn.a;reboot'
refused "'1000' is not 512 or 4096" -- target --port 4420 --block-size 1000
refused "'zram' is not null_blk or brd" -- target --port 4420 --backing zram
refused "'--bogus'" -- target --port 4420 --bogus
refused "'/nonexistent' is not an executable file" -- host --target 127.0.0.1:1 --nqn nqn.a:b --add /nonexistent
refused "--port needs a value" -- probe --port
refused "unknown command 'frobnicate'" -- frobnicate

# --- the ICReq probe -----------------------------------------------------------
PORT=$(free_port)
NQN=nqn.2026-11.io.fabriq:kpeer-check
"$FABRIQD" --listen 127.0.0.1:$PORT --discovery-port "$(free_port)" --nqn $NQN --ns ram:16M \
	>"$WORK/fabriqd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do "$KPEER" probe --port $PORT >/dev/null 2>&1 && break; sleep 0.1; done
"$KPEER" probe --port $PORT && ok "probe fabriqd" || bad "probe of fabriqd failed"
"$KPEER" probe --port $PORT --digest | grep -q 'dgst=0x03' && ok "probe fabriqd with digests" ||
	bad "probe with digests failed"

# Listeners that are not NVMe/TCP targets: one closes at once, one answers
# with a PDU that is not an ICResp.
fake_port() { # mode -> prints the port once listening
	python3 - "$1" <<'PY' &
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
c.recv(128)
if sys.argv[1] == "wrong":
    c.sendall(bytes([0x04, 0, 24, 0, 24, 0, 0, 0]) + bytes(120))
c.close()
PY
	PIDS+=($!)
}
for mode in close wrong; do
	fake_port $mode >"$WORK/fake.port"
	for _ in $(seq 50); do [ -s "$WORK/fake.port" ] && break; sleep 0.1; done
	if "$KPEER" probe --port "$(cat "$WORK/fake.port")" >"$WORK/probe.out" 2>&1; then
		bad "probe accepted a listener that does '$mode'"
	else
		ok "probe rejects a listener that does '$mode': $(tail -n1 "$WORK/probe.out")"
	fi
done

# --- one guest run with an added program -----------------------------------------
cat >"$WORK/add-script.sh" <<'EOF'
#!/bin/sh
set -e
command -v fabriq
fabriq list -t tcp -a "$TRADDR" -s "$TRSVCID" -n "$NQN"
echo "ADDED-PROGRAM-RAN"
EOF
if "$KPEER" host --target 127.0.0.1:$PORT --nqn $NQN --quiet --no-discover --io-mb 1 \
	--add "$FABRIQ" --script "$WORK/add-script.sh" >"$WORK/add.out" 2>&1 &&
	grep -q "ADDED-PROGRAM-RAN" "$(kpeer_run_dir "$WORK/add.out")/console.log"; then
	ok "--add: fabriq ran in the guest ($(tail -n1 "$WORK/add.out"))"
else
	cat "$WORK/add.out"
	rundir=$(kpeer_run_dir "$WORK/add.out")
	[ -n "$rundir" ] && tail -40 "$rundir/console.log"
	bad "--add: the added program did not run in the guest"
fi

[ $fails -eq 0 ] || fail "$fails kpeer check(s) failed"
echo "kpeer checks: all passed"
