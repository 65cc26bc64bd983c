# t92: back up a live archive (mounted, imports running) with rsync,
# restic, borg and `coffer backup`, following docs/BACKUP.md: the keystore
# is snapshotted first, the blobs copied second.  Each copy is restored
# elsewhere, verifies, and mounts (as a reviewer with a grant) with content
# identical to the original's; a copy made in the wrong order (blobs
# first) is caught by verify (issue 5, "Backups"; property 8).
#
# Exactness: the background imports each add one new conversation
# ("bulk NNN", one atomic batch), one after the other, so a snapshot holds
# the scenario's conversations plus bulk 001..k for some k, each whole.
# After the imports end, every conversation folder of a restored copy must
# be byte-identical (names, sizes, mtimes, content) to the same folder in
# a fresh mount of the original; k >= 1 (the snapshot was taken while the
# imports ran) and k < the final count (imports committed during the copy).
#
# Quick by default; COFFER_LONG_TESTS=1 runs more imports, bigger ones,
# and every tool over three rounds.
. "$(dirname "$0")/lib.sh"
need_fuse
umask 077

if [ "${COFFER_LONG_TESTS:-0}" = 1 ]; then
	NBULK=600 NMSG=300 ROUNDS=3
else
	NBULK=300 NMSG=40 ROUNDS=1
fi

scenario_setup
ok "$COFFER" grant "$A" --all --to alice --as admin --passphrase-file "$(pw admin)"

# Tools that are missing (make deps installs them) are skipped, with a note.
have() {
	command -v "$1" >/dev/null 2>&1 && return 0
	note "SKIP $1: not installed (make deps installs it)"
	return 1
}
TOOLS=""
if have mdb_copy; then
	for t in rsync restic borg; do
		have "$t" && TOOLS="$TOOLS $t"
	done
else
	note "SKIP rsync, restic, borg: mdb_copy (lmdb-utils) is needed for their recipe"
fi

# ---- the inputs of the background imports --------------------------------
mkdir "$T/bulk"
head -c 70000 /dev/urandom >"$T/bulk/scan.bin"
awk -v n="$NBULK" -v m="$NMSG" -v dir="$T/bulk" 'BEGIN {
	for (i = 1; i <= n; i++) {
		f = sprintf("%s/%03d.jsonl", dir, i)
		for (j = 1; j <= m; j++) {
			att = (j == 1) ? ", \"attachments\": [{\"name\": \"scan.bin\", \"path\": \"scan.bin\"}]" : ""
			printf("{\"chat\": \"bulk-%03d\", \"chat_title\": \"bulk %03d\", \"id\": \"%d\", " \
			    "\"ts\": \"2025-04-%02dT10:%02d:%02dZ\", \"sender\": \"Bulk Sender\", " \
			    "\"body\": \"bulkword %d of conversation %d\"%s}\n", i, i, j, \
			    1 + i % 28, int(j / 60) % 60, j % 60, j, i, att) >f
		}
		close(f)
	}
}'

# One import per conversation, until told to stop; the number of the last
# one committed is in $T/imported.
import_loop() {
	i=1
	while [ "$i" -le "$NBULK" ] && [ -d "$T" ] && [ ! -e "$T/stop" ]; do
		"$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" \
		    "$T/bulk/$(printf %03d "$i").jsonl" >/dev/null 2>>"$T/import.err" || exit 1
		echo "$i" >"$T/imported"
		i=$((i + 1))
	done
	[ -e "$T/stop" ] || exit 2      # ran out of inputs before the backups ended
	exit 0
}

# Readers on the mount all along; any error is recorded.
read_loop() {
	while [ -d "$T" ] && [ ! -e "$T/stop" ]; do
		find "$1" -type f -exec cat {} + >/dev/null 2>>"$T/read.err" || echo "read failed" >>"$T/read.err"
	done
}

# manifest MOUNT: one line per conversation folder: a hash of every path,
# type, size, mtime and file content below it, then its name.
manifest() {
	find "$1" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | LC_ALL=C sort |
	while IFS= read -r d; do
		h=$(cd "$1/$d" && {
			find . -print0 | LC_ALL=C sort -z | xargs -0 stat -c '%n|%F|%s|%Y'
			find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
		} | sha256sum | cut -c1-64)
		printf '%s\t%s\n' "$h" "$d"
	done
}

# ---- the recipes of docs/BACKUP.md ----------------------------------------
# Everything runs from $T, the folder that holds the archive ("archive"),
# so that the tools record relative paths.
export RESTIC_PASSWORD_FILE="$T/restic.pass" RESTIC_CACHE_DIR="$T/restic-cache"
export BORG_BASE_DIR="$T/borg-home" BORG_PASSCOMMAND="cat $T/borg.pass"
echo "restic test-only repository password" >"$RESTIC_PASSWORD_FILE"
echo "borg test-only repository passphrase" >"$T/borg.pass"

snapshot_keystore() {
	rm -rf keystore-snapshot && mkdir -m 700 keystore-snapshot &&
	    mdb_copy -c archive/keystore keystore-snapshot
}

# backup_TOOL ROUND, restore_TOOL ROUND DEST
backup_rsync() {
	snapshot_keystore || return 1
	rsync -a --delete --exclude='/keystore/*' archive/ "backup-rsync/archive/" || return 1
	rsync -a --delete keystore-snapshot/ "backup-rsync/archive/keystore/"
}
restore_rsync() {
	R=$2
	rsync -a backup-rsync/archive/ "$R/"
}

backup_restic() {
	if [ ! -d backup-restic ]; then
		restic -r backup-restic init -q || return 1
	fi
	snapshot_keystore || return 1
	restic -r backup-restic backup -q --exclude 'archive/keystore/*' archive keystore-snapshot
}
restore_restic() {
	R=$2
	restic -r backup-restic restore -q latest --target "$R.tmp" &&
	    mv "$R.tmp/keystore-snapshot/data.mdb" "$R.tmp/archive/keystore/" &&
	    mv "$R.tmp/archive" "$R" && rm -rf "$R.tmp"
}

backup_borg() {
	if [ ! -d backup-borg ]; then
		borg init -e repokey backup-borg 2>/dev/null || return 1
	fi
	snapshot_keystore || return 1
	borg create --exclude 'archive/keystore/*' "backup-borg::coffer-$1" archive keystore-snapshot
}
restore_borg() {
	R=$2
	mkdir "$R.tmp" && (cd "$R.tmp" && borg extract "$T/backup-borg::coffer-$1") &&
	    mv "$R.tmp/keystore-snapshot/data.mdb" "$R.tmp/archive/keystore/" &&
	    mv "$R.tmp/archive" "$R" && rm -rf "$R.tmp"
}

backup_coffer() {
	rm -rf "backup-coffer-$1"
	"$COFFER" backup archive "backup-coffer-$1" >/dev/null
}
restore_coffer() {
	R=$2
	cp -a "backup-coffer-$1" "$R"
}

# On any exit, the background jobs end (each after its current step)
# before lib.sh unmounts and removes $T.
stop_jobs() {
	touch "$T/stop" 2>/dev/null
	wait
}
trap 'stop_jobs; cleanup' EXIT

cd "$T" || fail "cd $T"
[ "$A" = "$T/archive" ] || fail "self-check: the archive is not $T/archive"
mkdir backup-rsync

mount_as "$A" "$T/live" alice || fail "mount failed: $(cat "$T/mount.err")"
manifest "$T/live" >"$T/live-before"
read_loop "$T/live" &
READER=$!
import_loop &
IMPORTER=$!
i=0
while [ ! -s "$T/imported" ]; do
	i=$((i + 1))
	[ $i -gt 300 ] && fail "the background import did not start: $(cat "$T/import.err")"
	kill -0 "$IMPORTER" 2>/dev/null || fail "the background import failed: $(cat "$T/import.err")"
	sleep 0.1
done

round=1
copies=""
while [ "$round" -le "$ROUNDS" ]; do
	for tool in $TOOLS coffer; do
		kill -0 "$IMPORTER" 2>/dev/null ||
		    fail "the imports stopped before the $tool backup: $(cat "$T/import.err")"
		"backup_$tool" "$round" >"$T/backup.out" 2>&1 ||
		    fail "$tool backup (round $round) failed: $(cat "$T/backup.out")"
		"restore_$tool" "$round" "$T/restored-$tool-$round" >"$T/backup.out" 2>&1 ||
		    fail "$tool restore (round $round) failed: $(cat "$T/backup.out")"
		copies="$copies $tool-$round"
	done
	round=$((round + 1))
done
kill -0 "$IMPORTER" 2>/dev/null || fail "the imports ended before the backups did; raise NBULK"
# two more imports commit after the last snapshot, so that every copy
# misses some: proof that the imports ran while it was made
n0=$(cat "$T/imported")
i=0
while [ "$(cat "$T/imported")" -lt $((n0 + 2)) ]; do
	i=$((i + 1))
	[ $i -gt 600 ] && fail "the background import stalled: $(cat "$T/import.err")"
	kill -0 "$IMPORTER" 2>/dev/null || fail "the imports ended early; raise NBULK"
	sleep 0.1
done
touch "$T/stop"
wait "$IMPORTER" || fail "background import failed: $(cat "$T/import.err")"
wait "$READER"
[ -s "$T/read.err" ] && fail "reading the mount during the backups failed: $(head -3 "$T/read.err")"
final=$(cat "$T/imported")
note "$final imports ran during the backups"

# the long-lived mount still shows what it showed
manifest "$T/live" >"$T/live-after"
cmp -s "$T/live-before" "$T/live-after" || fail "the live mount changed during the backups"
unmount "$T/live"

mount_as "$A" "$T/orig" alice || fail "mount failed: $(cat "$T/mount.err")"
manifest "$T/orig" >"$T/orig.list"
unmount "$T/orig"
[ "$(grep -c '	bulk ' "$T/orig.list")" -eq "$final" ] || fail "the original lacks conversations"
LC_ALL=C sort "$T/orig.list" >"$T/orig.sorted"

for c in $copies; do
	R="$T/restored-$c"
	expect_rc 0 "$COFFER" verify "$R"
	grep -q "0 damaged" "$T/out" || fail "$c: verify: $(cat "$T/out")"
	mount_as "$R" "$T/m-$c" alice || fail "$c: mount failed: $(cat "$T/mount.err")"
	manifest "$T/m-$c" >"$T/$c.list"
	unmount "$T/m-$c"
	# every folder identical to the original's
	missing=$(LC_ALL=C sort "$T/$c.list" | LC_ALL=C comm -23 - "$T/orig.sorted")
	[ -z "$missing" ] || fail "$c: differs from the original: $missing"
	grep -q "	$TITLE_A\$" "$T/$c.list" || fail "$c: lacks $TITLE_A"
	grep -q "	$TITLE_B\$" "$T/$c.list" || fail "$c: lacks $TITLE_B"
	# bulk 001..k, nothing else: whole conversations of one snapshot
	k=$(grep -c '	bulk ' "$T/$c.list")
	[ "$k" -ge 1 ] || fail "$c: the snapshot holds no conversation of the running import"
	[ "$k" -lt "$final" ] || fail "$c: no import committed during its copy: not a live test"
	seq -f 'bulk %03g' 1 "$k" >"$T/want"
	grep '	bulk ' "$T/$c.list" | cut -f2 | cmp -s - "$T/want" || fail "$c: bulk conversations are not 001..$k"
	[ "$(wc -l <"$T/$c.list")" -eq $((k + 2)) ] || fail "$c: unexpected folders: $(cat "$T/$c.list")"
	note "$c: $k of $final bulk conversations, identical to the original"
done

# the deep check decrypts one of the copies whole
expect_rc 0 "$COFFER" verify "$T/restored-coffer-1" --deep --as alice --passphrase-file "$(pw alice)"
grep -q " 0 failed" "$T/out" || fail "verify --deep: $(cat "$T/out")"
# and finds a flipped byte in the second chunk of the scenario's photo
# (150000 bytes: the only blob of 150208), naming conversation and time
photo=$(find "$T/restored-coffer-1/blobs" -type f -size 150208c)
[ -n "$photo" ] && [ "$(echo "$photo" | wc -l)" -eq 1 ] || fail "self-check: photo blob: $photo"
off=$((160 + 65552 + 10))
byte=$(od -An -tu1 -j "$off" -N1 "$photo" | tr -d ' ')
printf "\\$(printf %o $(((byte + 1) % 256)))" | dd of="$photo" bs=1 seek="$off" conv=notrunc 2>/dev/null
expect_rc 1 "$COFFER" verify "$T/restored-coffer-1" --deep --as alice --passphrase-file "$(pw alice)"
grep -q "^conversation [0-9a-f]\{32\} \"$TITLE_A\": attachment \"photo.bin\" of the message of 2025-03-12T08:15:00Z (blobs/.*): bytes 65536-131071 (chunk 1 of 3) fail authentication" "$T/out" ||
    fail "verify --deep does not locate the damage: $(cat "$T/out")"
grep -q " 1 failed" "$T/out" || fail "verify --deep: $(cat "$T/out")"

# the wrong order: blobs copied before the keystore.  An import commits in
# between, and the copy's keystore names blobs the copy lacks: verify says so.
case " $TOOLS " in *" rsync "*) ;; *) exit 0 ;; esac
rsync -a --exclude='/keystore/*' archive/ wrong/ || fail "rsync"
echo '{"chat": "late", "chat_title": "late", "ts": "2025-06-01T00:00:00Z", "sender": "L", "body": "late", "attachments": [{"name": "scan.bin", "path": "bulk/scan.bin"}]}' >late.jsonl
ok "$COFFER" import archive --as feeder --passphrase-file "$(pw feeder)" late.jsonl
mdb_copy -c archive/keystore wrong/keystore || fail "mdb_copy"
expect_rc 1 "$COFFER" verify wrong
[ "$(grep -c ': missing' "$T/out")" -eq 2 ] || fail "verify of a blobs-first copy: $(cat "$T/out")"
exit 0
