#!/usr/bin/env bash
# deps.sh waits for another package manager's lock instead of failing: the
# wait sees a POSIX lock held by another process, names the holder and goes
# on once it is released.
# Usage: apt_lock_wait.sh SOURCE_ROOT
set -euo pipefail
root=$1
work=$(mktemp -d)
holder=""
trap '[ -n "$holder" ] && kill "$holder" 2>/dev/null; rm -rf "$work"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
# shellcheck source=scripts/lib/apt-lock.sh
. "$root/scripts/lib/apt-lock.sh"
lock=$work/lock-frontend
: >"$lock"
APT_LOCK_FILES=("$work/absent" "$lock")

# Unlocked: no wait, no message.
out=$(wait_for_apt_locks 5 2>&1) || fail "wait failed on a free lock: $out"
[ -z "$out" ] || fail "message on a free lock: $out"

# Held for 2 s by another process, as dpkg holds it (fcntl write lock).
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "w"); fcntl.lockf(f, fcntl.LOCK_EX)
open(sys.argv[1] + ".held", "w").close(); time.sleep(2)' "$lock" &
holder=$!
for _ in $(seq 200); do [ -e "$lock.held" ] && break; sleep 0.05; done
[ -e "$lock.held" ] || fail "the lock holder did not start"
start=$(date +%s%N)
out=$(wait_for_apt_locks 30 2>&1) || fail "wait failed: $out"
ms=$((($(date +%s%N) - start) / 1000000))
grep -q "waiting for .*(pid $holder) to release $lock" <<<"$out" || fail "no message naming the holder: $out"
[ "$ms" -ge 1000 ] || fail "returned after ${ms} ms while the lock was held"
wait "$holder" || true
holder=""

# A lock that is never released: a clear failure after the limit.
rm -f "$lock.held"
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "w"); fcntl.lockf(f, fcntl.LOCK_EX)
open(sys.argv[1] + ".held", "w").close(); time.sleep(30)' "$lock" &
holder=$!
for _ in $(seq 200); do [ -e "$lock.held" ] && break; sleep 0.05; done
[ -e "$lock.held" ] || fail "the second lock holder did not start"
if out=$(wait_for_apt_locks 1 2>&1); then fail "wait succeeded on a lock still held"; fi
grep -q "still locked by pid $holder" <<<"$out" || fail "no message on giving up: $out"
echo "apt lock wait: ok (${ms} ms)"
