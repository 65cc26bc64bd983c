# t94: a long-running mount picks up changes without remounting (issue 5).
# `coffer mount --refresh MOUNTPOINT` makes the daemon list the
# conversations again and returns once the new view is served: messages
# imported into a granted conversation and a newly granted conversation
# appear (even where the kernel had cached "no such file"), sizes stay
# exact; a revoked conversation disappears, also for a file held open;
# an unchanged folder keeps its inode.  SIGHUP to the daemon does the same.
. "$(dirname "$0")/lib.sh"
need_fuse
scenario_setup
G="--as admin --passphrase-file $(pw admin)"
ok "$COFFER" grant "$A" "$TITLE_A" --to alice $G
M="$T/m"
CA="$M/$TITLE_A"
CB="$M/$TITLE_B"

# sizes_exact DIR: every file's st_size is the number of bytes it reads
sizes_exact() {
	find "$1" -type f >"$T/files" || fail "find $1 failed"
	while IFS= read -r f; do
		s=$(stat -c %s "$f") && n=$(wc -c <"$f") || fail "cannot read $f"
		[ "$s" -eq "$n" ] || fail "$f: st_size $s but $n bytes read"
	done <"$T/files"
}

import_lines() { # import_lines FILE: import a JSONL file as feeder
	ok "$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" "$1"
}

refresh() {
	ok "$COFFER" mount --refresh "$M"
	[ ! -s "$T/out" ] && [ ! -s "$T/err" ] || fail "refresh is not quiet: $(cat "$T/out" "$T/err")"
}

mount_as "$A" "$M" alice || fail "mount failed: $(cat "$T/mount.err")"
[ "$(ls "$M" | wc -l)" -eq 1 ] || fail "alice should see one folder: $(ls "$M")"
cp "$CA/2025-03-13.txt" "$T/day13.before"
# the kernel now caches "no such file" for B and for A's next day
[ ! -e "$CB" ] || fail "B visible before its grant"
[ ! -e "$CA/2025-03-14.txt" ] || fail "a day that does not exist yet"

# new messages in A (a new day and one more on an existing day), B granted
cat >"$T/more.jsonl" <<'JSONL'
{"chat": "conv-a", "id": "a4", "ts": "2025-03-14T09:00:00Z", "sender": "Dora", "body": "pelicanword arrives on a new day"}
{"chat": "conv-a", "id": "a5", "ts": "2025-03-13T23:30:00Z", "sender": "Dora", "body": "walrusword late on the 13th"}
JSONL
import_lines "$T/more.jsonl"
ok "$COFFER" grant "$A" "$TITLE_B" --to alice $G

# nothing changes until asked
if grep -r -q pelicanword "$M"; then fail "new messages visible before the refresh"; fi
[ "$(ls "$M" | wc -l)" -eq 1 ] || fail "B visible before the refresh: $(ls "$M")"

refresh
# by path first, before a listing could refresh the kernel's entries
[ -d "$CB" ] || fail "the newly granted folder is missing (negative entry kept?)"
grep -q pelicanword "$CA/2025-03-14.txt" || fail "the new day of A is missing"
grep -q walrusword "$CA/2025-03-13.txt" || fail "the new message of an existing day is missing"
[ "$(ls "$M" | wc -l)" -eq 2 ] || fail "after the refresh alice should see 2 folders: $(ls "$M")"
grep -r -q marmaladeword "$M" || fail "grep does not find B's messages"
grep -q "^Messages: 5$" "$CA/info.txt" || fail "info.txt not updated: $(cat "$CA/info.txt")"
[ "$(grep -r -l pelicanword "$M" | wc -l)" -eq 1 ] || fail "new message shown more than once"
cmp -s "$CA/2025-03-13.txt" "$T/day13.before" && fail "day 13 did not change"
sizes_exact "$M"
INO_B=$(stat -c %i "$CB")
INO_B_INFO=$(stat -c %i "$CB/info.txt")

# a refresh with nothing new changes nothing, inodes included
refresh
[ "$(stat -c %i "$CB")" = "$INO_B" ] || fail "an unchanged folder got a new inode"
[ "$(stat -c %i "$CB/info.txt")" = "$INO_B_INFO" ] || fail "an unchanged file got a new inode"

# revoke A while a transcript of A is open: after the refresh it is gone,
# for its name and for the open file (cached pages dropped); B keeps its
# inodes
exec 3<"$CA/2025-03-14.txt"
ok "$COFFER" revoke "$A" "$TITLE_A" --from alice $G
refresh
[ "$(ls "$M")" = "$TITLE_B" ] || fail "a revoked folder is still listed: $(ls "$M")"
[ ! -e "$CA" ] || fail "the revoked folder can still be reached"
if grep -r -q -e zephyrword -e pelicanword "$M"; then fail "revoked messages still found"; fi
if cat <&3 >"$T/leak" 2>"$T/leak.err"; then
	fail "an open file of a revoked conversation still reads: $(head -c 80 "$T/leak")"
fi
grep -q "Permission denied" "$T/leak.err" || fail "reading a revoked file: $(cat "$T/leak.err")"
exec 3<&-
[ "$(stat -c %i "$CB")" = "$INO_B" ] || fail "B's folder changed inode when A was revoked"
sizes_exact "$M"

# SIGHUP to the daemon is the same request
pid=""
for p in $(pgrep -x coffer); do
	tr '\0' '\n' <"/proc/$p/cmdline" | grep -qx -- "$M" && pid=$p
done
[ -n "$pid" ] || fail "cannot find the daemon"
echo '{"chat": "conv-b", "id": "b3", "ts": "2024-11-04T08:00:00Z", "sender": "Eve", "body": "ibisword by signal"}' >"$T/b3.jsonl"
import_lines "$T/b3.jsonl"
kill -HUP "$pid"
i=0
until grep -q ibisword "$CB/2024-11-04.txt" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 100 ] && fail "SIGHUP did not refresh the view"
	sleep 0.1
done
kill -0 "$pid" || fail "SIGHUP stopped the daemon"

# misuse
expect_rc 2 "$COFFER" mount --refresh "$T"
grep -q "not a Coffer mount" "$T/err" || fail "refresh of a plain folder: $(cat "$T/err")"
expect_rc 2 "$COFFER" mount --refresh "$M" --as alice
expect_rc 2 "$COFFER" mount --refresh "$A" "$M"
unmount "$M"
expect_rc 2 "$COFFER" mount --refresh "$M"
exit 0
