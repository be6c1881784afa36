#!/bin/sh
# The fabriq CLI against a live target: exit codes, data round trips through
# files, pipes and patterns, JSON output. Called by run_peer.sh:
#   cli_test.sh --trid "traddr:A trsvcid:P subnqn:N" [--disc-port P] \
#       [--version VER] [--fabriqd PATH] ... FABRIQ
# --fabriqd says the peer is fabriqd (which serves no ANA log) and checks its
# --version; --version is meson's project version.
set -u
F="" trid="" dport="" version="" fabriqd=""
while [ $# -gt 0 ]; do
	case $1 in
	--trid) trid=$2; shift ;;
	--disc-port) dport=$2; shift ;;
	--version) version=$2; shift ;;
	--fabriqd) fabriqd=$2; shift ;;
	--kill-cmd | --restart-cmd | --stop-cmd | --cont-cmd) shift ;;
	*) F=$1 ;;
	esac
	shift
done
[ -x "$F" ] && [ -n "$trid" ] || { echo "usage: $0 --trid TRID FABRIQ" >&2; exit 2; }
addr=$(echo "$trid" | sed -n 's/.*traddr:\([^ ]*\).*/\1/p')
port=$(echo "$trid" | sed -n 's/.*trsvcid:\([^ ]*\).*/\1/p')
nqn=$(echo "$trid" | sed -n 's/.*subnqn:\([^ ]*\).*/\1/p')
A="-t tcp -a $addr -s $port -n $nqn"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

expect() { # expect CODE DESCRIPTION -- command...
	want=$1 what=$2
	shift 3
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "FAIL $what: exit $got, expected $want"
		sed 's/^/    /' "$tmp/err" "$tmp/out" | head -10
		fails=$((fails + 1))
	else
		echo "PASS $what"
	fi
}

head -c 1000000 /dev/urandom >"$tmp/in.bin"
expect 0 "list" -- $F list $A
grep -q "^1 " "$tmp/out" || { echo "FAIL list shows no namespace 1"; fails=$((fails + 1)); }
expect 0 "list --json" -- $F list $A --json
grep -q '"nsid":1' "$tmp/out" || { echo "FAIL list --json"; fails=$((fails + 1)); }
expect 0 "id-ctrl" -- $F id-ctrl -r "$trid"
grep -q "subnqn *: $nqn" "$tmp/out" || { echo "FAIL id-ctrl subnqn"; fails=$((fails + 1)); }
expect 0 "id-ns --json" -- $F id-ns $A --nsid 1 --json
expect 0 "write file --verify" -- $F write $A --nsid 1 --offset 1M --input "$tmp/in.bin" --verify
expect 0 "read to file" -- $F read $A --nsid 1 --offset 1M --length 1000448 --output "$tmp/out.bin"
cmp -n 1000000 "$tmp/in.bin" "$tmp/out.bin" || { echo "FAIL read data"; fails=$((fails + 1)); }
expect 0 "write pattern" -- $F write $A --offset 2M --length 3M --pattern random:5 --block-size 64K --queue-depth 16
expect 0 "read --verify" -- $F read $A --offset 2M --length 3M --pattern random:5 --verify
expect 4 "read --verify mismatch" -- $F read $A --offset 2M --length 3M --pattern random:6 --verify
expect 0 "write-zeroes" -- $F write-zeroes $A --offset 2M --length 64K
expect 0 "zeroes read back" -- $F read $A --offset 2M --length 64K --pattern 0x00 --verify
expect 0 "trim" -- $F trim $A --offset 4M --length 1M
expect 0 "flush" -- $F flush $A
expect 0 "get-log smart" -- $F get-log $A --log-id 2
expect 0 "get-feature" -- $F get-feature $A --feature-id 7 --json
expect 1 "get-feature bad fid" -- $F get-feature $A --feature-id 0xee
expect 0 "keep-alive" -- $F keep-alive $A --count 2 --interval 10
expect 2 "unaligned offset" -- $F read $A --offset 100 --length 512
expect 2 "missing address" -- $F list -n "$nqn"
expect 2 "unknown option" -- $F list $A --frobnicate
expect 3 "wrong subsystem" -- $F list -a "$addr" -s "$port" -n nqn.2026-11.test:nobody
expect 0 "help" -- $F help read
if [ -n "$dport" ]; then
	expect 0 "discover" -- $F discover -a "$addr" -s "$dport" --json
	grep -q "$nqn" "$tmp/out" || { echo "FAIL discover lists $nqn"; fails=$((fails + 1)); }
fi

fail() {
	echo "FAIL $1"
	sed 's/^/    /' "$tmp/err" "$tmp/out" | head -10
	fails=$((fails + 1))
}

# jcheck DESCRIPTION PYEXPR: stdout is JSON and PYEXPR (over j) holds.
jcheck() {
	if python3 -c 'import json,sys; j=json.loads(open(sys.argv[1]).read()); sys.exit(0 if eval(sys.argv[2]) else 1)' \
		"$tmp/out" "$2" 2>>"$tmp/err"; then
		echo "PASS $1"
	else
		fail "$1: $2"
	fi
}

# tcheck DESCRIPTION REGEX: stdout (text) has a line matching REGEX.
tcheck() {
	if grep -Eq "$2" "$tmp/out"; then echo "PASS $1"; else fail "$1: no line /$2/"; fi
}

# A port nothing listens on: the target is unreachable.
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
L="--traddr $addr --trsvcid $port --nqn $nqn"
ana_rc=0
[ -n "$fabriqd" ] && ana_rc=1

# Every command that talks to a target, with the arguments it needs.
cmds="list|id-ctrl|id-ns|read --length 512|write --length 512 --pattern 0x5a|flush
write-zeroes --length 4K --offset 8M|trim --length 4K --offset 8M|get-log --log-id 2
get-feature --feature-id 7|set-feature --feature-id 0x0b --value 0|keep-alive --count 1 --interval 1
smart-log|error-log|fw-log|changed-ns-log|ana-log"
IFS_SAVE=$IFS
IFS='|
'
for c in $cmds; do
	IFS=$IFS_SAVE
	name=${c%% *}
	want=0
	[ "$name" = ana-log ] && want=$ana_rc
	# shellcheck disable=SC2086
	{
		expect $want "$name -a/-s/-n" -- $F $c $A
		expect $want "$name -r TRID" -- $F $c -r "$trid"
		expect $want "$name --traddr/--trsvcid/--nqn" -- $F $c $L
		expect $want "$name --trid" -- $F $c --trid "$trid"
		if [ $want -eq 0 ]; then
			expect 0 "$name --json" -- $F $c $A --json
			jcheck "$name --json parses" 'isinstance(j, (dict, list))'
		fi
		expect 2 "$name usage error" -- $F $c $A --no-such-option
		expect 2 "$name both address forms" -- $F $c $A -r "$trid"
		expect 3 "$name unreachable target" -- $F $c -a "$addr" -s "$dead" -n "$nqn" --connect-timeout 2000
	}
	IFS='|
'
done
IFS=$IFS_SAVE

# perf keeps spdk_nvme_perf's letters; the address takes the long names.
expect 0 "perf --traddr/--trsvcid/--nqn" -- $F perf $L -t 0.5 -q 4
expect 0 "perf -r TRID --json" -- $F perf -r "$trid" -t 0.5 -q 4 --json
jcheck "perf --json parses" 'isinstance(j, dict)'
expect 2 "perf usage error" -- $F perf $L --no-such-option
expect 2 "perf --trsvcid without --traddr" -- $F perf --trsvcid "$port" --nqn "$nqn"
expect 3 "perf unreachable target" -- $F perf --traddr "$addr" --trsvcid "$dead" --nqn "$nqn" -t 1

# NVMe error statuses exit 1 and are named (fabriqd serves no ANA log).
if [ -n "$fabriqd" ]; then
	expect 1 "get-log unsupported page" -- $F get-log $A --log-id 0x0c
	expect 1 "ana-log on a target without ANA" -- $F ana-log $A
	grep -q "Invalid Log Page" "$tmp/err" || fail "ana-log names the status"
fi

# read --json carries the data.
expect 0 "write 0xab" -- $F write $A --offset 6M --length 512 --pattern 0xab
expect 0 "read --json" -- $F read $A --offset 6M --length 512 --json
jcheck "read --json data" 'j["data"] == "ab" * 512 and j["length"] == 512'
expect 0 "write-zeroes --json" -- $F write-zeroes $A --offset 6M --length 512 --json
jcheck "write-zeroes --json fields" 'j["zeroed"] is True and j["offset"] == 6 << 20'
expect 0 "trim --json" -- $F trim $A --offset 6M --length 512 --json
jcheck "trim --json fields" 'j["deallocated"] is True and j["length"] == 512'

# Decoded logs, text and JSON.
expect 0 "smart-log" -- $F smart-log $A
tcheck "smart-log text" '^power_cycles +: [0-9]+$'
tcheck "smart-log text spare" '^avail_spare +: [0-9]+$'
expect 0 "smart-log --json" -- $F smart-log $A --json
jcheck "smart-log fields" '0 <= j["avail_spare"] <= 100 and j["temperature"] >= 0 and "critical_warning" in j and "host_write_commands" in j'
# fabriqd counts the commands and data of its namespaces and reports 295 K.
if [ -n "$fabriqd" ]; then
	jcheck "smart-log counters" 'j["host_write_commands"] >= 1 and j["data_units_written"] >= 1 and j["temperature"] == 295 and j["power_cycles"] == 1'
fi
expect 0 "error-log" -- $F error-log $A --count 2
tcheck "error-log text" '^error_count +: [0-9]+$'
expect 0 "error-log --json" -- $F error-log $A --json
jcheck "error-log fields" 'len(j["errors"]) >= 1 and all(k in j["errors"][0] for k in ("error_count", "sqid", "cmdid", "status_field", "lba", "nsid"))'
expect 0 "fw-log" -- $F fw-log $A
tcheck "fw-log text" '^afi +: [0-9]+$'
expect 0 "fw-log --json" -- $F fw-log $A --json
jcheck "fw-log fields" '0 <= j["active_slot"] <= 7 and j["afi"] & 7 == j["active_slot"]'
# fabriqd reports its version in slot 1.
if [ -n "$fabriqd" ]; then
	jcheck "fw-log slot 1" 'j["active_slot"] == 1 and j["frs1"] == "0.1.0"'
fi
expect 0 "changed-ns-log" -- $F changed-ns-log $A
tcheck "changed-ns-log text" '^changed_ns_list +: [0-9]+$'
expect 0 "changed-ns-log --json" -- $F changed-ns-log $A --json
jcheck "changed-ns-log fields" 'isinstance(j["changed_ns_list"], list) and j["overflow"] in (True, False)'
if [ -z "$fabriqd" ]; then
	expect 0 "ana-log --json" -- $F ana-log $A --json
	jcheck "ana-log fields" 'j["ngrps"] == len(j["ana_groups"])'
fi

# Identify with the bit fields spelled out.
expect 0 "id-ctrl -H" -- $F id-ctrl $A -H
tcheck "id-ctrl -H oncs bits" '^  \[3:3\] +: .*Write Zeroes$'
tcheck "id-ctrl -H sgls bits" 'SGL Support'
expect 0 "id-ctrl -H --json" -- $F id-ctrl $A -H --json
jcheck "id-ctrl -H --json" 'any(b["name"] == "Dataset Management" and b["value"] == 1 for b in j["fields"]["oncs"]["bits"])'
expect 0 "id-ns -H" -- $F id-ns $A -H
tcheck "id-ns -H dlfeat bits" 'Deallocated Read Value'
tcheck "id-ns -H nsfeat bits" 'Thin Provisioning'
expect 0 "id-ns -H --json" -- $F id-ns $A -H --json
jcheck "id-ns -H --json" 'j["fields"]["flbas"]["bits"][0]["value"] == j["flbas"] & 15'

if [ -n "$dport" ]; then
	dtrid="traddr:$addr trsvcid:$dport"
	for form in "-a $addr -s $dport" "-r $dtrid" "--traddr $addr --trsvcid $dport" "--trid $dtrid"; do
		case $form in -r* | --trid*) set -- "${form%% *}" "${form#* }" ;; *) set -- $form ;; esac
		expect 0 "discover $1" -- $F discover "$@" --json
		jcheck "discover $1 lists $nqn" 'any(r["subnqn"] == "'"$nqn"'" for r in j["records"])'
		expect 0 "discovery-log $1" -- $F discovery-log "$@"
		tcheck "discovery-log $1 text" "^subnqn +: $nqn\$"
	done
	expect 0 "discovery-log --json" -- $F discovery-log -a "$addr" -s "$dport" --json
	jcheck "discovery-log fields" 'j["numrec"] == len(j["records"]) and any(r["subnqn"] == "'"$nqn"'" and r["trsvcid"] == "'"$port"'" and r["trtype"] == "tcp" for r in j["records"])'
	expect 3 "discovery-log unreachable" -- $F discovery-log -a "$addr" -s "$dead"
	expect 3 "discover unreachable" -- $F discover -a "$addr" -s "$dead"
	expect 2 "discovery-log both forms" -- $F discovery-log -a "$addr" -s "$dport" -r "$dtrid"
fi

# --version: meson's project version, plus the git revision in a checkout.
if [ -n "$version" ]; then
	rev=$(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null)
	re="$version${rev:+ \(git $rev\)}\$"
	expect 0 "fabriq --version" -- $F --version
	tcheck "fabriq --version is $version ${rev:+git $rev}" "^fabriq $re"
	if [ -n "$fabriqd" ]; then
		expect 0 "fabriqd --version" -- "$fabriqd" --version
		tcheck "fabriqd --version is $version ${rev:+git $rev}" "^fabriqd $re"
	fi
fi

echo "$fails failure(s)"
[ $fails -eq 0 ]
