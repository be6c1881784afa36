#!/usr/bin/env bash
# Does a busy management socket slow the I/O down? 4 KiB random reads at
# QD 32 with `fabriq perf`, alone and while 100 clients hammer fabriqd's
# management socket (subsystem_list, controller_list, iostat, config_dump,
# each client on a connection of its own, reconnecting every 20 requests).
# The goal is at most 5% fewer IOPS under the load (docs/management.md);
# not a CI gate.
#
#   bench/rpc_load.sh
#
# fabriqd (one reactor, RAM namespace) is pinned to TARGET_CPU with all its
# threads, so the management thread that answers the clients competes with
# the reactor for that CPU, which is what this measures. fabriq perf is
# pinned to LOAD_CPU; the clients run there too, at nice 19, so that they
# take what perf leaves. Rounds alternate alone / loaded.
#
# Environment: TARGET_CPU (0), LOAD_CPU (1), SECONDS_PER_CASE (5),
# WARMUP (1), ROUNDS (3), CLIENTS (100), BUILD (build-release).
# Results: bench/results/<time>-rpc-load/{raw.jsonl,results.json,results.md}.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_CPU=${TARGET_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SECS=${SECONDS_PER_CASE:-5}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-100}
BUILD=${BUILD:-build-release}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a positive integer, not '$ROUNDS'" >&2; exit 2; }

scripts/deps.sh
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" --buildtype=release -Dtests=false >/dev/null
ninja -C "$BUILD" >/dev/null
PERF="$BUILD/tools/fabriq/fabriq perf"
OUT=bench/results/$(date -u +%Y%m%dT%H%M%SZ)-rpc-load
mkdir -p "$OUT"
RAW=$OUT/raw.jsonl
: >"$RAW"
SOCK=$OUT/fabriqd.sock
NQN=nqn.2026-11.io.fabriq:bench
. bench/lib.sh
PORT=$(bench_free_port)
TRID="trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$PORT subnqn:$NQN"

HAMMER_PID=
trap '[ -n "$HAMMER_PID" ] && kill "$HAMMER_PID" 2>/dev/null; [ -n "$FQD_PID" ] && kill "$FQD_PID" 2>/dev/null; true' EXIT

# CLIENTS threads, each a loop of requests on its own connection until killed;
# the count of answers goes to $OUT/hammer-ROUND.txt at SIGTERM.
hammer() { # round
	taskset -c "$LOAD_CPU" nice -n 19 python3 - "$SOCK" "$CLIENTS" "$OUT/hammer-$1.txt" <<'PY' &
import json, signal, socket, sys, threading, time
path, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
stop = threading.Event()
done = [0] * n
errors = []
methods = ["subsystem_list", "controller_list", "iostat", "config_dump"]

def client(i):
    k = 0
    while not stop.is_set():
        try:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(30)
            s.connect(path)
            f = s.makefile("rwb")
            for _ in range(20):
                f.write(json.dumps({"jsonrpc": "2.0", "id": k, "method": methods[k % 4]}).encode()
                        + b"\n")
                f.flush()
                r = json.loads(f.readline())
                if "result" not in r:
                    errors.append(r)
                k += 1
                done[i] += 1
            s.close()
        except OSError as e:
            if not stop.is_set():
                errors.append(repr(e))

def finish(*_):
    stop.set()

signal.signal(signal.SIGTERM, finish)
ts = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(n)]
t0 = time.monotonic()
for t in ts:
    t.start()
while not stop.wait(0.2):
    pass
open(out, "w").write("%d %d %.3f\n" % (sum(done), len(errors), time.monotonic() - t0))
PY
	HAMMER_PID=$!
}

bench_start_fabriqd "$BUILD/tools/fabriqd/fabriqd" "$PORT" --nqn $NQN --ns ram:1G --reactors 1 \
	--rpc-socket "$SOCK"
bench_prefill "$FQD_PID" 1G "$TRID" taskset -c "$LOAD_CPU" $PERF
for round in $(seq 1 "$ROUNDS"); do
	for load in alone loaded; do
		if [ $load = loaded ]; then
			hammer "$round"
			sleep 1 # every client connected and busy
		fi
		taskset -c "$LOAD_CPU" $PERF -r "$TRID" -w randread -o 4k -q 32 -t "$SECS" --warmup "$WARMUP" \
			--no-poll --json >"$OUT/perf.json"
		answers=0 errors=0 elapsed=1
		if [ $load = loaded ]; then
			kill -TERM "$HAMMER_PID"
			wait "$HAMMER_PID" || true
			HAMMER_PID=
			read -r answers errors elapsed <"$OUT/hammer-$round.txt"
		fi
		python3 -c "
import json; t=json.load(open('$OUT/perf.json'))['total']
print(json.dumps({'round':$round,'load':'$load','iops':t['iops'],'p99_us':t.get('p99_us'),
  'rpc_answers_per_s':$answers/$elapsed,'rpc_errors':$errors}))" | tee -a "$RAW"
	done
done
bench_stop_fabriqd

python3 - "$RAW" "$OUT" "$CLIENTS" <<'PY'
import json, os, platform, statistics, sys, time
raw, out, clients = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = [json.loads(l) for l in open(raw)]
alone = [r['iops'] for r in rows if r['load'] == 'alone']
loaded = [r['iops'] for r in rows if r['load'] == 'loaded']
ratio = statistics.median(loaded) / statistics.median(alone)
rps = statistics.median(r['rpc_answers_per_s'] for r in rows if r['load'] == 'loaded')
errs = sum(r['rpc_errors'] for r in rows)
cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')),
           platform.machine())
head = '%s, %s (%d CPUs), Linux %s, median of %d rounds' % (
    time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), cpu, os.cpu_count(), platform.release(),
    len(alone))
lines = ['| 4K randread QD32 | IOPS (range) |', '|---|---|',
         '| alone | %.0f (%.0f-%.0f) |' % (statistics.median(alone), min(alone), max(alone)),
         '| %d RPC clients | %.0f (%.0f-%.0f) |' % (clients, statistics.median(loaded), min(loaded),
                                                    max(loaded)),
         '', 'loaded/alone %.3f (goal >= 0.95); %.0f RPC answers/s; %d RPC errors' % (
             ratio, rps, errs)]
json.dump({'alone': alone, 'loaded': loaded, 'ratio': ratio, 'rpc_answers_per_s': rps,
           'rpc_errors': errs}, open(out + '/results.json', 'w'), indent=1)
open(out + '/results.md', 'w').write(head + '\n\n' + '\n'.join(lines) + '\n')
print(head)
print('\n'.join(lines))
PY
echo "results in $OUT"
