#!/usr/bin/env bash
# The fio engine against fabriqd, run by the installed /usr/bin/fio: verify
# jobs (write, then read back and check every block) for randwrite and randrw,
# 4 KiB and 128 KiB, one and two jobs (each job on its own range, its own
# controller and qpair), and with fio's iodepth_batch options; submission,
# completion and total latency for every I/O, adding up; a read of data
# written with another pattern must fail verification; a bad filename must be
# refused with a message naming it.
set -euo pipefail
FQD=$1
ENGINE=$2
FIO=${FIO:-/usr/bin/fio}
fail() { echo "FAIL: $*"; cat "$LOG"; exit 1; }
[ -x "$FIO" ] || { echo "FAIL: $FIO not found (scripts/deps.sh --test installs fio)"; exit 1; }
[ -f "$ENGINE" ] || { echo "FAIL: $ENGINE was not built: meson found no configured fio source (scripts/deps.sh --test prepares it; meson option fio_src)"; exit 1; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
NQN=nqn.2026-11.io.fabriq:fio-test
LOG=$(mktemp)
OUT=$(mktemp)
"$FQD" --listen 127.0.0.1:$PORT --nqn $NQN --ns ram:64M --ns ram:8M,bs=4096 --reactors 1 >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -f "$LOG" "$OUT"' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
FILE="trtype=TCP adrfam=IPv4 traddr=127.0.0.1 trsvcid=$PORT subnqn=${NQN/:/\\:}"

runfio() { # expected-exit args...
	local want=$1 rc=0
	shift
	timeout -s KILL 120 "$FIO" --ioengine="$ENGINE" --output-format=json --output="$OUT" "$@" \
		>>"$LOG" 2>&1 || rc=$?
	[ "$rc" = "$want" ] || { cat "$OUT" >>"$LOG"; fail "fio $* exited $rc, expected $want"; }
}
# fio may print a warning before the JSON (two writers on one file, even when
# offset_increment keeps them apart).
check() {
	python3 -c "import json; t=open('$OUT').read(); d=json.loads(t[t.index('{'):]); assert $1, d['jobs']" ||
		fail "$2"
}

for rw in randwrite randrw; do
	for bs in 4k 128k; do
		for jobs in 1 2; do
			runfio 0 --name=v --thread=1 --filename="$FILE ns=1" --rw=$rw --bs=$bs --iodepth=16 \
				--size=16M --numjobs=$jobs --offset_increment=16M --verify=crc32c \
				--verify_fatal=1 --do_verify=1
			check "len(d['jobs']) == $jobs" "$rw $bs numjobs=$jobs: $jobs job reports"
			check "all(j['error'] == 0 for j in d['jobs'])" "$rw $bs numjobs=$jobs: errors"
			# Every job wrote and then read back what it wrote.
			check "all(j['write']['io_bytes'] > 0 and j['read']['io_bytes'] >= j['write']['io_bytes'] // 2 for j in d['jobs'])" \
				"$rw $bs numjobs=$jobs: no write or no verify reads"
		done
	done
done

# fio's batching options change what getevents is asked for: several units
# at once (min 4, max 16), or only a look without waiting (min 0: fio reaps
# when it finds something and waits only with the queue full). Every block
# still verifies, polling and sleeping.
for batch in "--iodepth_batch_submit=8 --iodepth_batch_complete_min=4 --iodepth_batch_complete_max=16" \
	"--iodepth_batch_complete_min=0 --iodepth_batch_complete_max=0"; do
	for poll in 1 0; do
		# shellcheck disable=SC2086 # $batch is several options
		runfio 0 --name=b --thread=1 --filename="$FILE ns=1" --rw=randrw --bs=4k --iodepth=32 \
			--size=8M --verify=crc32c --verify_fatal=1 --do_verify=1 --busy_poll=$poll $batch
		check "d['jobs'][0]['error'] == 0 and d['jobs'][0]['write']['io_bytes'] > 0 and d['jobs'][0]['read']['io_bytes'] >= d['jobs'][0]['write']['io_bytes'] // 2" \
			"verify with $batch busy_poll=$poll"
	done
done

# Latencies: the engine stamps units as issued when the poll that sends them
# starts and reports submission latency itself (fio leaves that to engines
# with a commit hook). Every I/O then has a submission, a completion and a
# total latency, and for each one total = submission + completion, so the
# means add up too.
for poll in 1 0; do
	runfio 0 --name=l --thread=1 --filename="$FILE ns=1" --rw=randread --bs=4k --iodepth=8 \
		--size=8M --busy_poll=$poll
	check "d['jobs'][0]['read']['total_ios'] == 2048" "latency job: I/O count"
	for s in slat_ns clat_ns lat_ns; do
		check "d['jobs'][0]['read']['$s']['N'] == 2048" "busy_poll=$poll: $s has not one sample per I/O"
	done
	check "abs(d['jobs'][0]['read']['slat_ns']['mean'] + d['jobs'][0]['read']['clat_ns']['mean'] - d['jobs'][0]['read']['lat_ns']['mean']) <= 1e-6 * d['jobs'][0]['read']['lat_ns']['mean'] + 1" \
		"busy_poll=$poll: mean submission + completion latency differs from mean total latency"
	check "0 <= d['jobs'][0]['read']['slat_ns']['min'] and d['jobs'][0]['read']['slat_ns']['max'] <= d['jobs'][0]['read']['lat_ns']['max']" \
		"busy_poll=$poll: submission latency outside 0..total"
done

# Processes instead of threads, and sleeping instead of polling.
runfio 0 --name=p --filename="$FILE ns=1" --rw=randwrite --bs=4k --iodepth=8 --size=8M \
	--numjobs=2 --offset_increment=8M --verify=crc32c --verify_fatal=1 --busy_poll=0
check "all(j['error'] == 0 and j['read']['io_bytes'] > 0 for j in d['jobs'])" "forked jobs"

# Verification reads the namespace: blocks written with one pattern fail a
# check against another.
runfio 0 --name=w --thread=1 --filename="$FILE ns=2" --rw=write --bs=4k --size=8M \
	--verify=pattern --verify_pattern=0x5a --do_verify=0
runfio 0 --name=r --thread=1 --filename="$FILE ns=2" --rw=read --bs=4k --size=8M \
	--verify=pattern --verify_pattern=0x5a --verify_only=1
check "d['jobs'][0]['read']['io_bytes'] == 8 << 20" "pattern read back"
rc=0
"$FIO" --ioengine="$ENGINE" --name=r --thread=1 --filename="$FILE ns=2" --rw=read --bs=4k \
	--size=8M --verify=pattern --verify_pattern=0xa5 --verify_only=1 >"$OUT" 2>&1 || rc=$?
[ $rc != 0 ] && grep -q 'verify: bad magic\|pattern' "$OUT" || { cat "$OUT"; fail "another pattern passed verification"; }

# Bad filenames: fio exits non-zero and the message names the wrong part.
bad() { # filename expected-text
	rc=0
	timeout -s KILL 60 "$FIO" --ioengine="$ENGINE" --name=b --thread=1 --filename="$1" --rw=read \
		--size=1M >"$OUT" 2>&1 || rc=$?
	[ $rc != 0 ] || { cat "$OUT"; fail "filename '$1' accepted"; }
	grep -qF -- "$2" "$OUT" || { cat "$OUT"; fail "no '$2' in the error for '$1'"; }
}
bad "$FILE ns=7" "namespace 7"
bad "$FILE ns=x" "bad namespace ID 'ns=x'"
bad "$FILE color=blue" "bad transport ID"
bad "traddr=127.0.0.1 trsvcid=$PORT" "has no subnqn="
bad "$FILE junk" "'junk' in filename"
bad "trtype=TCP adrfam=IPv4 traddr=127.0.0.1 trsvcid=1 subnqn=${NQN/:/\\:}" "Connection refused"

kill -TERM $PID
wait $PID || fail "fabriqd exit status"
trap - EXIT
rm -f "$LOG" "$OUT"
echo "fio engine tests passed"
