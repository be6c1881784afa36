#!/bin/sh
# `fabriq storage` on the file backend: the JSON statistics must add up to
# the workload that was asked for.
set -eu
prog=$1
dir=$(mktemp -d "${TMPDIR:-/tmp}/fq-storage-cli.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
cat >"$dir/s.ini" <<EOT
backend = file
file_path = $dir/d.img
file_size = 16M
[names]
data = nsid:1
EOT
"$prog" -c "$dir/s.ini" --workload randrw --size 3000 --ops 3000 --depth 16 --json >"$dir/out.json"
python3 - "$dir/out.json" <<'EOT'
import json, sys
j = json.load(open(sys.argv[1]))
r, w = j["ops"]["read"], j["ops"]["write"]
assert j["result"] == 0, j
assert r["ops"] + w["ops"] == 3000, (r["ops"], w["ops"])
assert r["bytes"] == 3000 * r["ops"] and w["bytes"] == 3000 * w["ops"]
assert r["errors"] == 0 and w["errors"] == 0
assert r["ops"] > 1000 and w["ops"] > 1000  # --mix 50
assert j["rmw_reads"] > 0  # 3000-byte writes are unaligned
assert j["outstanding_max"] <= 16
print("fabriq storage: %d reads, %d writes, %d rmw reads" % (r["ops"], w["ops"], j["rmw_reads"]))
EOT
# Errors are reported, with a non-zero status.
if "$prog" -c "$dir/s.ini" --name missing 2>"$dir/err"; then exit 1; fi
grep -q "unknown name 'missing'" "$dir/err"
