#!/bin/sh
# The fabriq CLI against a live target: exit codes, data round trips through
# files, pipes and patterns, JSON output. Called by run_peer.sh:
#   cli_test.sh --trid "traddr:A trsvcid:P subnqn:N" [--disc-port P] ... FABRIQ
set -u
F="" trid="" dport=""
while [ $# -gt 0 ]; do
	case $1 in
	--trid) trid=$2; shift ;;
	--disc-port) dport=$2; shift ;;
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
echo "$fails failure(s)"
[ $fails -eq 0 ]
