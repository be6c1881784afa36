#!/usr/bin/env bash
# bench/bound, the yardstick of the benchmark suite: read- and write-shaped
# exchanges finish and report, with and without a server memory (--mem), and
# bad arguments are refused. Throughput is the benchmark suite's business.
set -euo pipefail
BOUND=$1
fail() { echo "FAIL: $*"; exit 1; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

exchange() { # req rsp [server args...]
	local p pid out req=$1 rsp=$2
	shift 2
	p=$(port)
	"$BOUND" server --port "$p" "$@" &
	pid=$!
	out=$(timeout 60 "$BOUND" client --port "$p" --req "$req" --rsp "$rsp" --qd 8 --seconds 0.3 --json) ||
		{ kill $pid; fail "client req $req rsp $rsp $*"; }
	kill $pid
	wait $pid 2>/dev/null || true
	python3 -c "
import json,sys
d=json.loads('''$out''')
assert d['ops'] > 100 and d['req'] == $req and d['rsp'] == $rsp, d
assert 0 < d['p50_us'] <= d['p99_us'], d" || fail "report of req $req rsp $rsp $*: $out"
}

exchange 72 4120
exchange 4168 24
exchange 72 4120 --mem 8M
exchange 4168 24 --mem 8M --poll
# Replies smaller than the 24-byte header and 128 KiB data parts with --mem.
exchange 72 16 --mem 1M
exchange 131144 24 --mem 1M
exchange 72 131096 --mem 1M

for bad in 0 12X 1Q -5 ""; do
	rc=0
	"$BOUND" server --port 1 --mem "$bad" 2>/dev/null || rc=$?
	[ $rc = 2 ] || fail "--mem '$bad' accepted (exit $rc)"
done
echo "bound: ok"
