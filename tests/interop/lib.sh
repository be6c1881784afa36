# shellcheck shell=bash
# Helpers shared by the interoperability scripts.

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# The Linux kernel peer in qemu (docs/testing.md). KERNEL_PEER may name
# another program with the same interface, to compare the two.
KPEER=${KERNEL_PEER:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kpeer/kpeer.sh}

# Check the peer's tools and build its cached initramfs, so that a missing
# package fails the test at once with a message that names it.
kpeer_prepare() {
	"$KPEER" build || fail "the kernel peer cannot run ($KPEER build failed; scripts/deps.sh --test installs what it needs)"
}

# The guest run directory that a peer command announced in its output FILE.
kpeer_run_dir() {
	grep -o '/[^ ]*/runs/[^] ,]*' "$1" 2>/dev/null | head -n1 || true
}

# An unused TCP port on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
