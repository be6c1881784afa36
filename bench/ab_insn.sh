#!/usr/bin/env bash
# What a command costs the target in instructions, in two builds side by side.
#
#   bench/ab_insn.sh OLD_BUILD NEW_BUILD [MORE_BUILDS...]
#
# Each is a build directory (bench/ab.sh leaves them in bench/ab/<rev>/build);
# every build after the first is compared with the first. For each case and
# build, fabriqd (one reactor, RAM namespace) runs under valgrind's
# callgrind, driven natively by that build's `fabriq perf`. Callgrind counts
# the user-space instructions executed, which do not move with what else
# the machine does (the IOPS of bench/ab.sh move by tens of percent here);
# the report divides them by the commands completed. System calls and the
# kernel's work are not counted: bench/ab_cost.sh counts those. The count is
# what callgrind dumps between the end of the prefill and the end of the
# case (the first dump zeroes the counters). The target runs in the
# sleeping (default) mode: a busy-polling one spins instructions that are
# no command's cost.
#
# Only the target: valgrind (3.19) runs one thread at a time and lets no
# other run while a thread sleeps in io_uring_enter, so a program whose
# threads wait on each other across io_uring (the threaded host of
# `fabriq perf`) stalls under it. fabriqd's main thread only waits for
# signals once the target is up.
#
# Environment: TARGET_CPU (0), LOAD_CPU (1), SECONDS_PER_CASE (6),
# NS_SIZE (64M), CASES ("randread:1 randread:32 randwrite:1 randwrite:32").
# Results: bench/results/<time>-insn/{raw.jsonl,results.md}, the self cost
# per function and command of each build (functions-<case>.txt), and
# callgrind's dumps (target-<case>-b<n>.<pid>.2, for callgrind_annotate
# --inclusive=yes).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_check_builds "$0" "$@"
builds=("$@")
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }
TARGET_CPU=${TARGET_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SECS=${SECONDS_PER_CASE:-6}
NS_SIZE=${NS_SIZE:-64M}
read -r -a cases <<<"${CASES:-randread:1 randread:32 randwrite:1 randwrite:32}"
for c in "${cases[@]}"; do
	[[ $c =~ ^rand(read|write):[1-9][0-9]*$ ]] || { echo "CASES takes randread:QD and randwrite:QD, not '$c'" >&2; exit 2; }
done
[[ $SECS =~ ^[1-9][0-9]*$ ]] || { echo "SECONDS_PER_CASE must be a positive integer, not '$SECS'" >&2; exit 2; }

OUT=bench/results/$(date -u +%Y%m%dT%H%M%SZ)-insn
mkdir -p "$OUT"
RAW=$OUT/raw.jsonl
: >"$RAW"
NQN=nqn.2026-11.io.fabriq:bench
# A fabriqd under valgrind does not stop on SIGTERM (see start_target).
trap '[ -n "$FQD_PID" ] && kill -KILL "$FQD_PID" 2>/dev/null; true' EXIT
# Names written in full in every dump, so that callgrind_annotate reads each alone.
CG=(valgrind --tool=callgrind --quiet --compress-strings=no --compress-pos=no)

# Instructions (Ir) in one callgrind output file.
ir_of() { awk '/^(summary|totals):/ { print $2; exit }' "$1"; }

trid() { echo "trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$1 subnqn:$NQN"; }

# Start fabriqd from build $1 on port $2 under callgrind (writing
# $3.<pid>[.<dump>]), wait until it serves, write its whole namespace. If the
# reactor goes to sleep before the main thread has handed it the listener,
# valgrind never runs the main thread again and the target never serves
# (natively the main thread's message wakes the reactor): a start whose
# first ICReq goes unanswered is retried.
start_target() {
	local b=$1 port=$2 cgout=$3 try
	for try in $(seq 12); do
		taskset -c "$TARGET_CPU" "${CG[@]}" --callgrind-out-file="$cgout.%p" \
			"$b/tools/fabriqd/fabriqd" --listen "127.0.0.1:$port" --nqn $NQN \
			--ns "ram:$NS_SIZE" --reactors 1 --busy-poll-us 0 --log-level warn \
			>>"$OUT/fabriqd.log" 2>&1 &
		FQD_PID=$!
		# An ICReq answered within 5 s: the target serves.
		if python3 - "$port" <<'PY' 2>/dev/null; then
import socket, struct, sys, time
port = int(sys.argv[1])
end = time.time() + 30
while True:
    try:
        s = socket.create_connection(('127.0.0.1', port), 0.2)
        break
    except OSError:
        if time.time() > end:
            sys.exit(1)
        time.sleep(0.1)
# ICReq (NVMe/TCP 1.0 3.6.2.2): type 0, HLEN 128, PLEN 128, PFV 0, HPDA 0, no digests.
s.sendall(struct.pack('<BBBBIHBBI', 0, 0, 128, 0, 128, 0, 0, 0, 0) + bytes(112))
s.settimeout(5)
got = b''
while len(got) < 128:
    b = s.recv(128 - len(got))
    if not b:
        sys.exit(1)
    got += b
sys.exit(0 if got[0] == 1 else 1)
PY
			bench_prefill "$FQD_PID" "$NS_SIZE" "$(trid "$port")" \
				taskset -c "$LOAD_CPU" "$b/tools/fabriq/fabriq" perf
			return 0
		fi
		kill -KILL "$FQD_PID"
		wait "$FQD_PID" 2>/dev/null || true
		FQD_PID=
		rm -f "$cgout".*
		echo "fabriqd ($b) did not serve (try $try), starting it again" >&2
	done
	echo "fabriqd ($b) did not serve in 12 tries; log:" >&2
	tail "$OUT/fabriqd.log" "$OUT/perf.log" >&2
	exit 1
}

# Commands completed by one case of build $1's `fabriq perf` against port $2.
run_perf() {
	taskset -c "$LOAD_CPU" "$1/tools/fabriq/fabriq" perf -r "$(trid "$2")" -w "${3%%:*}" -o 4k \
		-q "${3#*:}" -t "$SECS" --disable-sqflow --no-poll --json |
		python3 -c "import json,sys; t=json.load(sys.stdin)['total']; print(t['reads']+t['writes'])"
}

for c in "${cases[@]}"; do
	for k in "${!builds[@]}"; do
		b=${builds[$k]}
		port=$(bench_free_port)
		tag=$OUT/target-${c/:/-qd}-b$k
		start_target "$b" "$port" "$tag"
		# The first dump takes start-up and prefill (and zeroes the
		# counters); the second the case alone.
		callgrind_control -d "$FQD_PID" >/dev/null 2>&1
		n=$(run_perf "$b" "$port" "$c")
		callgrind_control -d "$FQD_PID" >/dev/null 2>&1
		# SIGTERM would wait for the main thread, which valgrind may
		# never run again (see above): what counts is dumped.
		kill -KILL "$FQD_PID"
		wait "$FQD_PID" 2>/dev/null || true
		FQD_PID=
		f=$(ls -v "$tag".*.2 2>/dev/null | tail -1)
		[ -n "$f" ] || { echo "no second callgrind dump for $tag" >&2; exit 1; }
		ir=$(ir_of "$f")
		echo "{\"case\": \"$c\", \"build\": $k, \"dir\": \"$b\", \"ir\": $ir, \"cmds\": $n, \"file\": \"$f\"}" |
			tee -a "$RAW"
	done
done

python3 - "$RAW" "$OUT" "${builds[@]}" <<'PY'
import json, sys
raw, out, builds = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = [json.loads(l) for l in open(raw)]
lines = ['builds: ' + ', '.join('%d = %s' % (i, b) for i, b in enumerate(builds)), '',
         '| case | QD | build | commands | instructions/cmd | /build 0 |',
         '|---|---|---|---|---|---|']
base = {}
for r in rows:
    per = r['ir'] / r['cmds']
    key = r['case']
    if r['build'] == 0:
        base[key] = per
    wl, qd = r['case'].split(':')
    lines.append('| %s 4K | %s | %d | %d | %.0f | %.3f |' % (
        wl, qd, r['build'], r['cmds'], per, per / base[key]))
open(out + '/results.md', 'w').write('\n'.join(lines) + '\n')
print('\n'.join(lines))

# Self cost per function and command, each build beside build 0, largest
# differences first. callgrind_annotate (3.19) folds the self cost of a
# dump taken mid-run into the thread's first frame, so the file is read
# here: a cost line after "calls=" is the callee's inclusive cost.
def self_costs(path):
    cost, fn, callee = {}, None, False
    for line in open(path):
        if line.startswith('fn='):
            fn = line[3:].strip()
        elif line.startswith('calls='):
            callee = True
        elif line[:1].isdigit() or line[:1] in '+-*':
            if callee:
                callee = False
            elif fn:
                cost[fn] = cost.get(fn, 0) + int(line.split()[1])
    return cost

for case in dict.fromkeys(r['case'] for r in rows):
    rs = sorted((r for r in rows if r['case'] == case), key=lambda r: r['build'])
    per = [{f: v / r['cmds'] for f, v in self_costs(r['file']).items()} for r in rs]
    fns = sorted(set().union(*per), key=lambda f: -max(abs(p.get(f, 0) - per[0].get(f, 0)) for p in per))
    with open('%s/functions-%s.txt' % (out, case.replace(':', '-qd')), 'w') as fh:
        fh.write('instructions per command, self cost; builds ' + ' '.join(str(r['build']) for r in rs) + '\n')
        for f in fns[:60]:
            fh.write(' '.join('%8.1f' % p.get(f, 0) for p in per) + '  ' + f + '\n')
PY
echo "results in $OUT"
