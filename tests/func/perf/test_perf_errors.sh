#!/usr/bin/env bash
# fabriq perf when things go wrong: the target dies mid-run (perf must stop
# soon, report the I/O done until then and exit 3), -q beyond what the
# queues hold (the JSON config shows the depth used), and bad option values
# (exit 2, the message names the value). Also fabriqd's default reactor count.
set -euo pipefail
FQD=$1
FABRIQ=$2
NQN=nqn.2026-11.io.fabriq:perf-errors
LOG=$(mktemp)
OUT=$(mktemp)
ERR=$(mktemp)
PID=
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -f "$LOG" "$OUT" "$ERR"' EXIT
fail() { echo "FAIL: $*"; echo "--- stderr"; cat "$ERR"; echo "--- stdout"; cat "$OUT"; echo "--- fabriqd"; cat "$LOG"; exit 1; }
check() { python3 -c "import json,sys; d=json.load(open('$OUT')); assert $1, d" || fail "$2"; }
start() {
	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	"$FQD" --listen 127.0.0.1:$PORT --nqn $NQN --ns ram:16M "$@" >"$LOG" 2>&1 &
	PID=$!
	for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
	TRID="trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$PORT subnqn:$NQN"
}

# fabriqd's default reactor count is what docs/configuration.md says:
# one on a machine with up to 2 CPUs, half the CPUs above that.
start
ncpu=$(nproc)
want=$((ncpu <= 2 ? 1 : ncpu / 2))
for _ in $(seq 50); do grep -q "ready:" "$LOG" && break; sleep 0.1; done
grep -q "ready: $want reactor(s)" "$LOG" || fail "default reactors on $ncpu CPUs should be $want"

# -q far beyond the target's queue size: the run is clamped and says so.
"$FABRIQ" perf -r "$TRID" -q 100000 -t 0.5 --json >"$OUT" 2>"$ERR" || fail "clamped run"
check "d['config']['depth'] == 127 and d['config']['depth_requested'] == 100000" "JSON config shows the clamped depth (max_queue_size 128 - 1)"
grep -q "100000" "$ERR" || fail "clamp message names the requested depth"

# The target dies 1.5 s into a 6 s run.
set +e
(sleep 1.5; kill -9 $PID) &
KILLER=$!
t0=$(date +%s%N)
timeout 30 "$FABRIQ" perf -r "$TRID" -q 16 -t 6 --json >"$OUT" 2>"$ERR"
rc=$?
t1=$(date +%s%N)
set -e
wait $KILLER
wait $PID 2>/dev/null || true
PID=
elapsed_ms=$(((t1 - t0) / 1000000))
[ $rc -eq 3 ] || fail "exit status $rc after the target died, want 3"
[ $elapsed_ms -lt 4500 ] || fail "perf ran ${elapsed_ms} ms of its 6 s after the target died"
grep -qi "connection lost" "$ERR" || fail "stderr names the error"
check "d['total']['reads'] > 0" "I/O done before the failure is reported"
check "d['config']['seconds'] < 4" "measured time ends at the failure"
check "abs(d['total']['iops'] - d['total']['reads'] / d['config']['seconds']) <= 0.01 * d['total']['iops']" "IOPS over the time until the failure"
check "'connection lost' in d['error']" "JSON carries the error"

# Bad values: exit 2 before connecting, and the message names the value.
bad() {
	local val=$1
	shift
	set +e
	"$FABRIQ" perf -r "trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:9 subnqn:$NQN" "$@" >"$OUT" 2>"$ERR"
	rc=$?
	set -e
	[ $rc -eq 2 ] || fail "perf $* exited $rc, want 2"
	grep -q -- "$val" "$ERR" || fail "perf $*: message does not name '$val'"
}
bad 9999 -c 9999
bad 9999 -c 0,9999
bad 4096 -c 4096-4097
bad 0 -q 0
bad 3 -o 3
bad bogus -w bogus
bad 200 -w randrw -M 200
bad abc -t abc
bad 0 -P 0
echo "perf error tests passed"
