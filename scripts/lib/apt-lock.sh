# Waiting for another package manager to finish (sourced by scripts/deps.sh).
#
# Fresh cloud machines often run unattended-upgrades at boot; apt-get then
# fails at once with "Could not get lock". apt and dpkg take POSIX (fcntl)
# locks on their lock files, which the kernel lists in /proc/locks by device
# and inode, so a lock can be seen, with its holder's PID, without touching it.

APT_LOCK_FILES=(/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock
	/var/lib/apt/lists/lock /var/cache/apt/archives/lock)

# Print "PID" of a process holding a lock on FILE, or nothing.
apt_lock_holder() {
	local f=$1 dev ino maj min
	[ -e "$f" ] || return 0
	read -r dev ino < <(stat -L -c '%D %i' "$f") || return 0
	# %D is the device number in hex: major is all but the low 8 bits (for
	# the device numbers file systems use here), minor the low 8 bits.
	maj=$((16#$dev >> 8))
	min=$((16#$dev & 255))
	awk -v id="$(printf '%02x:%02x:%s' "$maj" "$min" "$ino")" -v me="$$" '
		{ for (i = 1; i <= NF; i++) if ($i == id && $5 != me) { print $5; exit } }' /proc/locks
}

# wait_for_apt_locks [SECONDS]: wait (default 600 s) until none of
# APT_LOCK_FILES is locked, saying once which process holds which file.
wait_for_apt_locks() {
	local limit=${1:-600} waited=0 f pid said=""
	while :; do
		pid=""
		for f in "${APT_LOCK_FILES[@]}"; do
			pid=$(apt_lock_holder "$f")
			[ -n "$pid" ] && break
		done
		[ -z "$pid" ] && return 0
		if [ "$said" != "$pid:$f" ]; then
			echo "deps: waiting for $(tr '\0\n' '  ' </proc/"$pid"/cmdline 2>/dev/null | cut -c1-80)(pid $pid) to release $f" >&2
			said="$pid:$f"
		fi
		if [ "$waited" -ge "$limit" ]; then
			echo "deps: $f is still locked by pid $pid after ${limit}s; stop that package manager or try again" >&2
			return 1
		fi
		sleep 1
		waited=$((waited + 1))
	done
}
