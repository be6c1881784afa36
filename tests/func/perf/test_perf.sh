#!/usr/bin/env bash
# fabriq perf against fabriqd: JSON report consistent with the workload, a
# --verify write pass then a --verify read pass with no mismatch, and a
# --verify read of never-written blocks that must report mismatches and fail.
set -euo pipefail
FQD=$1
FABRIQ=$2
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
NQN=nqn.2026-11.io.fabriq:perf-test
LOG=$(mktemp)
"$FQD" --listen 127.0.0.1:$PORT --nqn $NQN --ns ram:16M --ns ram:16M,bs=4096 --reactors 1 >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -f "$LOG"' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
TRID="trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$PORT subnqn:$NQN"
fail() { echo "FAIL: $*"; cat "$LOG"; exit 1; }
check() { python3 -c "import json,sys; d=json.load(open('$1')); assert $2, d" || fail "$3"; }

out=$(mktemp)
# Mixed workload over both namespaces, two threads: per-namespace and total counts agree.
"$FABRIQ" perf -r "$TRID" -w randrw -M 70 -o 4k -q 8 -t 1 -c 2 --json >"$out" || fail "randrw run"
check "$out" "len(d['namespaces']) == 2" "two namespaces reported"
check "$out" "d['total']['errors'] == 0 and d['total']['iops'] > 0" "no errors, some IOPS"
check "$out" "d['total']['reads'] + d['total']['writes'] == sum(n['reads'] + n['writes'] for n in d['namespaces'])" "totals add up"
check "$out" "0.55 < d['total']['reads'] / (d['total']['reads'] + d['total']['writes']) < 0.85" "read mix near 70%"
check "$out" "d['total']['p50_us'] <= d['total']['p99_us'] <= d['total']['lat_max_us']" "percentiles ordered"

# Sequential write pass with --verify covers namespace 1 (16 MiB / 64 KiB = 256 I/Os per pass).
"$FABRIQ" perf -r "$TRID" -n 1 -w write -o 64k -q 4 -t 1 --verify --json >"$out" || fail "verify write"
check "$out" "d['total']['writes'] >= 256" "write pass covered the namespace"
"$FABRIQ" perf -r "$TRID" -n 1 -w randread -o 4k -q 16 -t 1 --verify --json >"$out" || fail "verify read found mismatches"
check "$out" "d['total']['verify_errors'] == 0 and d['total']['reads'] > 0" "verified reads"

# Same verified reads with SQ flow control disabled: the target completes
# reads with C2HData SUCCESS and no CapsuleResp.
"$FABRIQ" perf -r "$TRID" -n 1 -w randread -o 4k -q 16 -t 1 --verify --disable-sqflow --json >"$out" ||
	fail "verify read without SQ flow control"
check "$out" "d['total']['verify_errors'] == 0 and d['total']['reads'] > 0" "verified reads, SUCCESS path"

# Namespace 2 was never written with the pattern: verification must catch it.
if "$FABRIQ" perf -r "$TRID" -n 2 -w randread -o 4k -q 4 -t 1 --verify --json >"$out"; then
	fail "verify read of unwritten blocks succeeded"
fi
check "$out" "d['total']['verify_errors'] > 0" "mismatches counted"

kill -TERM $PID
wait $PID || fail "fabriqd exit status"

# Busy polling on both sides: the target spins for 200 us after each event
# and then sleeps, the host spins throughout. Data must survive the switch
# between non-blocking attempts and armed io_uring operations: large
# writes (short sends), verified reads, and an idle gap that puts the
# target to sleep between passes.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TRID="trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$PORT subnqn:$NQN"
"$FQD" --listen 127.0.0.1:$PORT --nqn $NQN --ns ram:16M --reactors 1 --busy-poll-us 200 >"$LOG" 2>&1 &
PID=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
"$FABRIQ" perf -r "$TRID" -w write -o 128k -q 16 -t 1 --poll --verify --json >"$out" || fail "busy-poll verify write"
check "$out" "d['total']['writes'] >= 128 and d['total']['errors'] == 0" "busy-poll write pass covered the namespace"
sleep 0.3
"$FABRIQ" perf -r "$TRID" -w randread -o 4k -q 32 -t 1 --poll --verify --disable-sqflow --json >"$out" ||
	fail "busy-poll verify read"
check "$out" "d['total']['verify_errors'] == 0 and d['total']['reads'] > 1000" "busy-poll verified reads"
# Large writes with data digests: the target reads most of each 128 KiB
# H2CData payload straight into the request buffer and checks its CRC there.
"$FABRIQ" perf -r "$TRID" -w write -o 128k -q 8 -t 1 --hdr-digest --data-digest --verify --json >"$out" ||
	fail "verify write with digests"
check "$out" "d['total']['writes'] >= 128 and d['total']['errors'] == 0" "digest write pass covered the namespace"
"$FABRIQ" perf -r "$TRID" -w read -o 128k -q 8 -t 1 --hdr-digest --data-digest --verify --json >"$out" ||
	fail "verify read with digests"
check "$out" "d['total']['verify_errors'] == 0 and d['total']['reads'] > 0" "digest-written data reads back"
"$FABRIQ" perf -r "$TRID" -w randread -o 4k -q 1 -t 1 --no-poll --verify --json >"$out" ||
	fail "sleeping host against a busy-polling target"
check "$out" "d['total']['verify_errors'] == 0 and d['total']['reads'] > 100" "sleeping host verified reads"
kill -TERM $PID
wait $PID || fail "fabriqd exit status (busy poll)"
trap - EXIT
rm -f "$LOG" "$out"
echo "perf tests passed"
