# Helpers shared by the interoperability scripts.

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# kernel-peer lives in the shared tools next to the project; CI has it there.
find_kernel_peer() {
	local top
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	for kp in "${KERNEL_PEER:-}" "$top/../shared/tools/kernel-peer" /work/shared/tools/kernel-peer; do
		[ -n "$kp" ] && [ -x "$kp" ] && { echo "$kp"; return 0; }
	done
	fail "kernel-peer not found (set KERNEL_PEER=/path/to/kernel-peer)"
}

# An unused TCP port on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
