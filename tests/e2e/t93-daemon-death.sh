# t93: daemon death (issue 5).  Killing the daemon with SIGKILL leaves a
# dead mount that answers "Transport endpoint is not connected" (never an
# empty folder that a backup job would take for "nothing there"); the next
# `coffer mount` or `cofferfs` at that place notices, unmounts it with
# fusermount3 (lazily when something still sits in it), says so in one line
# and mounts again.  A live mount is not mounted over, and a dead mount
# that Coffer did not make is left alone.
. "$(dirname "$0")/lib.sh"
need_fuse
scenario_setup
ok "$COFFER" grant "$A" --all --to alice --as admin --passphrase-file "$(pw admin)"
# a backslash (written \134 in the mount table) and a non-ASCII letter in
# the mount point: the table's escapes must be undone to recognise it
M="$T/m\\é"
C="$M/$TITLE_A"
BUSY=""
# on failure a mount may sit on top of a dead one: unmount until none is left
unmount_all() {
	local m n
	for m in "$T/m\\é" "$T/o"; do
		n=0
		while [ $n -lt 5 ] && M=$m && [ "$(in_table)" -gt 0 ]; do
			fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null
			n=$((n + 1))
		done
	done
}
trap 'for p in $BUSY; do kill "$p" 2>/dev/null; done; unmount_all; cleanup' EXIT

# daemon_of PROG: the pid of PROG serving $M (found by its command line)
daemon_of() {
	local p
	for p in $(pgrep -x "$1"); do
		if tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | grep -Fqx -- "$M"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# kill_daemon PROG: SIGKILL the daemon and wait until it is gone
kill_daemon() {
	local pid i
	pid=$(daemon_of "$1") || fail "no $1 daemon serves $M"
	kill -9 "$pid"
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && fail "daemon $pid survived SIGKILL"
		sleep 0.05
	done
}

# in_table: $M is in the mount table (mountpoint(1) needs a stat that a
# dead mount may fail), as many times as it is mounted there
in_table() {
	M_ESC=$(printf '%s' "$M" | sed 's/\\/\\134/g') awk '$5 == ENVIRON["M_ESC"]' \
	    /proc/self/mountinfo | wc -l
}

# expect_dead: the mount is still there and listing it fails ENOTCONN
expect_dead() {
	[ "$(in_table)" -eq 1 ] || fail "the dead mount disappeared from the mount table"
	if ls "$M" >"$T/ls.out" 2>"$T/ls.err"; then
		fail "a dead mount lists as a folder: '$(cat "$T/ls.out")'"
	fi
	grep -q "Transport endpoint is not connected" "$T/ls.err" ||
	    fail "ls on the dead mount: $(cat "$T/ls.err")"
	# (pages the kernel cached may still read: only listings are checked)
}

# expect_alive: mounted again, content as before
expect_alive() {
	cmp "$C/2025-03-12.txt" "$T/day12" || fail "transcript differs after the remount"
	cmp "$C/attachments/photo.bin" "$T/in/files/photo.bin" || fail "attachment differs"
	grep -r -q marmaladeword "$M" || fail "grep -r finds nothing after the remount"
}

# expect_cleanup_note: exactly one line on stderr, naming the cause
expect_cleanup_note() {
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "want one line on stderr, got: $(cat "$T/err")"
	grep -q "daemon had died (Transport endpoint is not connected): unmounted it" "$T/err" ||
	    fail "no clear note about the dead mount: $(cat "$T/err")"
}

mount_as "$A" "$M" alice || fail "mount failed: $(cat "$T/mount.err")"
cp "$C/2025-03-12.txt" "$T/day12" || fail "cannot read the transcript"

# 1. coffer mount's daemon dies; coffer mount cleans up and mounts again
kill_daemon coffer
expect_dead
expect_rc 0 "$COFFER" mount "$A" "$M" --as alice --passphrase-file "$(pw alice)"
expect_cleanup_note
expect_alive
[ "$(in_table)" -eq 1 ] ||
    fail "mounted on top of the dead mount: $(grep " $M " /proc/self/mountinfo)"

# 2. a live mount is not mounted over
expect_rc 2 "$COFFER" mount "$A" "$M" --as alice --passphrase-file "$(pw alice)"
grep -q "a Coffer mount is already there" "$T/err" || fail "no clear refusal: $(cat "$T/err")"
expect_alive

# 3. the daemon dies while a process sits in the mount: a plain unmount is
#    busy, the lazy one works; cofferfs does the cleanup too
(cd "$C" && exec sleep 60) &
busy=$!
BUSY="$BUSY $busy"
i=0
until [ "$(readlink "/proc/$busy/cwd")" = "$C" ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && fail "the busy process did not enter the mount"
	sleep 0.05
done
kill_daemon coffer
expect_dead
expect_rc 0 "$COFFERFS" "$A" "$M" --as alice --passphrase-file "$(pw alice)"
grep -q "unmounted it lazily" "$T/err" || fail "no note about a lazy unmount: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "want one line on stderr, got: $(cat "$T/err")"
expect_alive

# 4. cofferfs's own daemon dies; coffer mount cleans up after it
kill_daemon cofferfs
expect_dead
expect_rc 0 "$COFFER" mount "$A" "$M" --as alice --passphrase-file "$(pw alice)"
expect_cleanup_note
expect_alive

# 5. a dead FUSE mount of another kind is left alone
unmount "$M"
mkdir -p "$T/o"
"$COFFERFS" "$A" "$T/o" --as alice --passphrase-file "$(pw alice)" -o subtype=other \
    >"$T/out" 2>"$T/err" || fail "cannot mount with another subtype: $(cat "$T/err")"
MOUNTS="$MOUNTS $T/o"
grep -q " $T/o .* - fuse.other " /proc/self/mountinfo || {
	note "libfuse ignored subtype=other: check 5 skipped"
	exit 0
}
M="$T/o"
kill_daemon cofferfs
expect_rc 2 "$COFFER" mount "$A" "$M" --as alice --passphrase-file "$(pw alice)"
grep -q "not a Coffer mount: left alone" "$T/err" || fail "foreign dead mount: $(cat "$T/err")"
[ "$(in_table)" -eq 1 ] || fail "a foreign dead mount was unmounted"
exit 0
