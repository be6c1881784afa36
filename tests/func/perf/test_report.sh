#!/usr/bin/env bash
# The benchmark suite's reporting: bench/crc_speed checks that ISA-L and
# Fabriq's digest path agree and reports both timings; bench/report.py turns a
# run's raw lines into the table, the goals (with their pass/fail verdicts)
# and the plots. The numbers are the suite's business; this checks the plumbing.
set -euo pipefail
CRC=$1
REPORT=$2
fail() { echo "FAIL: $*"; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

out=$("$CRC" --mem 8) || fail "crc_speed --mem 8"
python3 -c "
import json
d=json.loads('''$out''')
assert d['kind'] == 'crc' and d['block'] == 4096 and d['mem_mib'] == 8, d
for k in ('hot_isal_ns', 'hot_fabriq_ns', 'hot_uncached_ns', 'cold_isal_ns', 'cold_fabriq_ns'):
    assert 0 < d[k][0] <= d[k][1], (k, d)" || fail "crc_speed report: $out"
"$CRC" --mem 0 2>/dev/null && fail "crc_speed accepted --mem 0"
"$CRC" --mem 8x 2>/dev/null && fail "crc_speed accepted --mem 8x"
"$CRC" --bogus 2>/dev/null && fail "crc_speed accepted --bogus"

# Three rounds' worth of raw lines for some cases: a bound, polling randread
# QD32 with and without digests, QD1 for the latency goal, the idle and
# allocation rows. Each case is reported by its median round.
perf() { # qd digest iops p50
	echo "{\"kind\":\"perf\",\"workload\":\"randread\",\"io_size\":4096,\"qd\":$1,\"poll\":true,\"digest\":$2,\"ns\":\"1G\",\"main\":true,\"iops\":$3,\"mib_s\":1.0,\"mean_us\":1.0,\"p50_us\":$4,\"p90_us\":1.0,\"p99_us\":1.0,\"p99_9_us\":1.0,\"p99_99_us\":1.0,\"max_us\":1.0,\"errors\":0,\"host_cpu_pct\":99,\"target_cpu_pct\":99}"
}
{
	echo '{"kind":"machine","cpu":"test cpu","cpus":2,"kernel":"k","mem_gib":1,"target_cpu":0,"load_cpu":1,"seconds":1,"commit":"abc"}'
	echo '{"kind":"bound","name":"read4k","req":72,"rsp":4120,"qd":128,"poll":true,"ops":1,"seconds":1,"iops":1000000,"mean_us":1,"p50_us":100,"p99_us":1}'
	echo '{"kind":"bound","name":"read4k","req":72,"rsp":4120,"qd":1,"poll":true,"ops":1,"seconds":1,"iops":1,"mean_us":1,"p50_us":10,"p99_us":1}'
	perf 32 false 500000 31
	perf 32 false 900000 30
	perf 32 false 950000 29
	echo '{"kind":"bound","name":"read4k","req":72,"rsp":4120,"qd":128,"poll":true,"ops":1,"seconds":1,"iops":1200000,"mean_us":1,"p50_us":90,"p99_us":1}'
	echo '{"kind":"bound","name":"read4k","req":72,"rsp":4120,"qd":128,"poll":true,"ops":1,"seconds":1,"iops":800000,"mean_us":1,"p50_us":110,"p99_us":1}'
	perf 32 true 810000 33
	perf 1 false 80000 12
	echo '{"kind":"idle","seconds":5,"target_cpu_pct":0.2}'
	echo '{"kind":"alloc","namespace":"ram","workload":"randread","target_allocs":0,"host_allocs":3}'
	echo "$out"
} >"$dir/raw.jsonl"
python3 "$REPORT" "$dir/raw.jsonl" "$dir" >"$dir/stdout" || fail "report.py"
for f in results.json results.md iops.svg latency.svg; do
	[ -s "$dir/$f" ] || fail "report.py did not write $f"
done
python3 - "$dir/results.json" <<'PY' || fail "results.json goals"
import json, sys
d = json.load(open(sys.argv[1]))
g = {x["goal"]: x for x in d["goals"]}
def one(prefix):
    m = [v for k, v in g.items() if k.startswith(prefix)]
    assert len(m) == 1, (prefix, list(g))
    return m[0]
q32 = one("4K randread QD32 polling, digests off: IOPS")
assert abs(q32["value"] - 0.9) < 1e-9 and q32["pass"], q32
lat = one("4K randread QD1 polling, digests off: p50")
assert abs(lat["value"] - 1.2) < 1e-9 and not lat["pass"], lat
dg = one("digest cost, 4K randread QD32 polling")
assert abs(dg["value"] - 0.1) < 1e-9 and dg["pass"], dg
assert one("target idle CPU")["pass"]
alloc = one("no allocation")
assert alloc["value"] == 3 and not alloc["pass"], alloc
assert d["crc"]["mem_mib"] == 8
row = [p for p in d["perf"] if p["qd"] == 32 and not p["digest"]]
assert len(row) == 1 and row[0]["rounds"] == 3 and row[0]["p50_us"] == 30, row
assert row[0]["iops_min"] == 500000 and row[0]["iops_max"] == 950000, row
b = [x for x in d["bound"] if x["qd"] == 128]
assert len(b) == 1 and b[0]["iops"] == 1000000 and b[0]["rounds"] == 3, b
PY
grep -q "Every case ran in 3 rounds" "$dir/results.md" || fail "no rounds sentence"
grep -q "| 900000 | 500k–950k |" "$dir/results.md" || fail "no IOPS range"
grep -q "## Digest compute: CRC32C of one 4 KiB block" "$dir/results.md" || fail "no digest table"
grep -q "| random block of 8 MiB (target read from RAM) |" "$dir/results.md" || fail "no cold digest row"
echo "ok"
