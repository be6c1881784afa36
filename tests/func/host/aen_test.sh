#!/usr/bin/env bash
# fabriqd raises Namespace Attribute Changed when SIGHUP adds namespace 3 and
# removes namespace 2; libfabriq must deliver the event and rescan to match.
#   aen_test.sh FABRIQD AEN_TEST
set -euo pipefail
FQD=$1
PROG=$2
T=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
NQN=nqn.2026-11.io.fabriq:aen
cat >"$T/t.ini" <<INI
[port "io"]
address = 127.0.0.1
port = $PORT
[subsystem "$NQN"]
namespace = ram:8M,nsid=1
namespace = ram:8M,nsid=2
INI
"$FQD" -c "$T/t.ini" >"$T/fqd.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
"$PROG" "trtype:TCP adrfam:IPv4 traddr:127.0.0.1 trsvcid:$PORT subnqn:$NQN" >"$T/out" 2>&1 &
TP=$!
for _ in $(seq 100); do grep -q READY "$T/out" && break; sleep 0.1; done
grep -q READY "$T/out" || { cat "$T/out"; exit 1; }
sed -i 's/^namespace = ram:8M,nsid=2$/namespace = ram:8M,nsid=3/' "$T/t.ini"
kill -HUP $PID
rc=0
wait $TP || rc=$?
cat "$T/out"
[ $rc -eq 0 ] || { cat "$T/fqd.log"; exit 1; }
kill -TERM $PID
wait $PID
trap - EXIT
rm -rf "$T"
