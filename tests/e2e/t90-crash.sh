# t90: SIGKILL `coffer import` at many moments of a large import (issue 5,
# "crash during import"; property 7).  After each kill `coffer verify`
# exits 0 (the files of the interrupted batch are reported unreferenced,
# not damaged), a re-run of the same import completes, and the archive
# holds every message exactly once (`coffer chats` counts as admin, and a
# mount at the end).  Then `coffer gc` keeps young orphans by default and
# removes them with --min-age 0, after which verify reports none.
#
# Kill points, each on a fresh copy of an archive that holds only its
# principals:
#   files K     after the K-th blob file appears, K spread over all of them
#               (attachments, then each conversation's segment): files
#               written, nothing committed;
#   last D      D ms after the last blob file appears: between its fsync
#               and the keystore commit, or during the commit;
#   commit      as soon as the keystore's data.mdb is written to, which
#               only a commit does: during the (first) commit;
#   time S      after S seconds, spread over the whole run as timed by a
#               first import, denser towards its end.
# The waits poll with shell built-ins only (no fork per check), so a kill
# lands within a millisecond or two.  A JSON Lines import is one batch, one
# transaction.  Quick by default (14 kills, 1600 messages);
# COFFER_LONG_TESTS=1 kills 60 times in an import of 26000 messages.
. "$(dirname "$0")/lib.sh"

if [ "${COFFER_LONG_TESTS:-0}" = 1 ]; then
	NMSG=26000 NCHAT=12 EVERY=40 NFILE=20 NLAST=10 NCOMMIT=10 NTIME=19
else
	NMSG=1600 NCHAT=6 EVERY=25 NFILE=5 NLAST=3 NCOMMIT=2 NTIME=3
fi

# ---- the input: NMSG one-line messages over NCHAT conversations, every
# EVERY-th with an attachment of one of three sizes (1 chunk to 3 chunks)
IN="$T/in"
mkdir -p "$IN/files"
head -c 1500 /dev/urandom >"$IN/files/s.bin"
head -c 70000 /dev/urandom >"$IN/files/m.bin"
head -c 150000 /dev/urandom >"$IN/files/l.bin"
awk -v n="$NMSG" -v nc="$NCHAT" -v every="$EVERY" 'BEGIN {
	step = int(27 * 86400 / n)
	for (i = 1; i <= n; i++) {
		s = i * step
		ts = sprintf("2025-01-%02dT%02d:%02d:%02dZ", 1 + int(s / 86400),
		    int(s % 86400 / 3600), int(s % 3600 / 60), s % 60)
		att = ""
		if (i % every == 0) {
			f = (i % (3 * every) == 0) ? "l" : ((i % (2 * every) == 0) ? "m" : "s")
			att = sprintf(", \"attachments\": [{\"name\": \"att-%06d.bin\", " \
			    "\"path\": \"files/%s.bin\"}]", i, f)
		}
		printf "{\"chat\": \"chat-%d\", \"chat_title\": \"Crash chat %d\", " \
		    "\"id\": \"m%06d\", \"ts\": \"%s\", \"sender\": \"Sender %d\", " \
		    "\"body\": \"crashtok-%06d end of message %d\"%s}\n",
		    i % nc, i % nc, i, ts, i % 5, i, i, att
	}
}' >"$IN/chats.jsonl" || fail "cannot generate the input"
NATT=$((NMSG / EVERY))
NBLOB=$((NATT + NCHAT))        # and one segment per conversation

# ---- a pristine archive (principals only); every run starts from a copy
P="$T/pristine"
new_archive "$P"
add_principal "$P" feeder ingest

now_ms() { date +%s%3N; }
nblobs() { find "$1/blobs" -type f 2>/dev/null | wc -l; }
import_cmd() {
	"$COFFER" import "$1" --as feeder --passphrase-file "$(pw feeder)" "$IN/chats.jsonl"
}
# "TITLE<TAB>MESSAGES<TAB>FIRST<TAB>LAST" of every conversation, sorted
counts() {
	"$COFFER" chats "$1" --as admin --passphrase-file "$(pw admin)" >"$T/chats.out" ||
	    fail "chats on $1 failed"
	awk -F '\t' 'NR > 1 { print $5 "\t" $2 "\t" $3 "\t" $4 }' "$T/chats.out" | sort
}

# the reference: one import, not interrupted, timed
cp -a "$P" "$T/ref"
start=$(now_ms)
ok import_cmd "$T/ref"
DUR=$(( $(now_ms) - start ))
counts "$T/ref" >"$T/expected"
[ "$(awk -F '\t' '{ s += $2 } END { print s }' "$T/expected")" -eq "$NMSG" ] ||
    fail "the reference import does not hold $NMSG messages: $(cat "$T/expected")"
[ "$(wc -l <"$T/expected")" -eq "$NCHAT" ] || fail "expected $NCHAT conversations"
[ "$(nblobs "$T/ref")" -eq "$NBLOB" ] ||
    fail "expected $NBLOB blob files, the reference has $(nblobs "$T/ref")"
rm -rf "$T/ref"
note "reference import: $NMSG messages, $NBLOB blob files, ${DUR} ms"

# wait_blobs DIR K PID: until DIR holds K blob files (or PID is gone)
wait_blobs() {
	while kill -0 "$3" 2>/dev/null; do
		set -- "$1" "$2" "$3" "$1"/blobs/*/*
		[ -e "$4" ] && [ $(($# - 3)) -ge "$2" ] && return 0
	done
}
# wait_commit DIR MARKER PID: until DIR's data.mdb is newer than MARKER
wait_commit() {
	while kill -0 "$3" 2>/dev/null; do
		[ "$1/keystore/data.mdb" -nt "$2" ] && return 0
	done
}

# the kill points, one per line
{
	i=1
	while [ $i -le "$NFILE" ]; do
		echo "files $(( (NBLOB - 1) * i / (NFILE + 1) + 1 ))"
		i=$((i + 1))
	done
	awk -v n="$NLAST" 'BEGIN { for (i = 0; i < n; i++) printf "last %.3f\n", i * i / 1000 }'
	i=1
	while [ $i -le "$NCOMMIT" ]; do echo commit; i=$((i + 1)); done
	# one while the input is parsed and the identity unlocked, then half
	# spread over the run, half over its last quarter and a bit past it
	echo "time 0.030"
	awk -v n="$NTIME" -v d="$DUR" 'BEGIN {
		for (i = 1; i <= n; i++) {
			if (i % 2 == 1)
				f = (i + 1) / 2 / ((n + 1) / 2 + 1)
			else
				f = 0.75 + 0.35 * (i / 2) / (n / 2 + 1)
			printf "time %.3f\n", f * d / 1000
		}
	}'
} >"$T/points"
npoints=$(wc -l <"$T/points")
[ "$npoints" -ge 12 ] || fail "only $npoints kill points"

nothing=0 orphaned=0 atcommit=0 complete=0 finished=0 kept=""
n=0
# (the points come on descriptor 3: nothing in the loop may eat them)
while read -r kind arg <&3; do
	n=$((n + 1))
	A="$T/a$n"
	cp -a "$P" "$A"
	: >"$T/mark$n"
	# the command itself in the background (not a function: $! must be
	# the pid of coffer, not of a subshell)
	"$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" "$IN/chats.jsonl" \
	    >"$T/kill.out" 2>"$T/kill.err" &
	pid=$!
	case $kind in
	files) wait_blobs "$A" "$arg" "$pid" ;;
	last) wait_blobs "$A" "$NBLOB" "$pid"
	      [ "$arg" = 0.000 ] || sleep "$arg" ;;
	commit) wait_commit "$A" "$T/mark$n" "$pid" ;;
	time) sleep "$arg" ;;
	esac
	kill -KILL "$pid" 2>/dev/null
	{ wait "$pid"; } 2>/dev/null
	rc=$?
	atkill=$(nblobs "$A")   # blob files the import had begun when it died
	[ "$rc" -eq 0 ] || [ "$rc" -eq 137 ] ||
	    fail "kill $n ($kind $arg): import exited $rc: $(cat "$T/kill.err")"

	# verify: no damage; orphans are only reported
	expect_rc 0 "$COFFER" verify "$A"
	grep -q ' 0 damaged' "$T/out" || fail "kill $n ($kind $arg): $(tail -n 3 "$T/out")"
	unref=$(sed -n 's/.* \([0-9]*\) unreferenced$/\1/p' "$T/out")

	# the same import again completes; what the killed one committed is
	# "already present", the rest is added
	ok import_cmd "$A"
	added=$(sed -n 's/^imported \([0-9]*\) messages (\([0-9]*\) already present).*/\1/p' "$T/out")
	stored=$(sed -n 's/^imported \([0-9]*\) messages (\([0-9]*\) already present).*/\2/p' "$T/out")
	[ -n "$added" ] && [ $((added + stored)) -eq "$NMSG" ] ||
	    fail "kill $n ($kind $arg): re-run: $(cat "$T/out")"
	if [ "$rc" -eq 0 ]; then
		finished=$((finished + 1))
	elif [ "$stored" -eq "$NMSG" ]; then
		complete=$((complete + 1))
	elif [ "$unref" -gt 0 ]; then
		orphaned=$((orphaned + 1))
		[ -n "$kept" ] && rm -rf "$kept"
		kept=$A
		[ "$stored" -eq 0 ] && [ "$unref" -eq "$NBLOB" ] && atcommit=$((atcommit + 1))
	else
		nothing=$((nothing + 1))
	fi
	# a kill before the last blob was begun cannot have committed the
	# batch (on a loaded machine the polling shell may see its count late,
	# when the import has written more or even finished: the invariant is
	# checked on what was on disk when it died)
	if [ "$atkill" -lt "$NBLOB" ]; then
		[ "$stored" -eq 0 ] || fail "kill $n ($kind $arg) with $atkill of $NBLOB files: $stored messages committed"
		[ "$atkill" -eq 0 ] || [ "$unref" -gt 0 ] ||
		    fail "kill $n ($kind $arg) with $atkill of $NBLOB files: no file left behind"
	elif [ "$kind" = files ]; then
		note "kill $n (files $arg) landed late, after all $NBLOB files"
	fi
	note "kill $n ($kind $arg): exit $rc, $stored messages committed, $unref files left"

	# every message is there exactly once
	counts "$A" >"$T/got"
	cmp -s "$T/got" "$T/expected" ||
	    fail "kill $n ($kind $arg): after the re-run: $(diff "$T/expected" "$T/got" | head)"
	[ "$A" = "$kept" ] || rm -rf "$A"
done 3<"$T/points"
note "$npoints kills: $nothing before any file, $orphaned with orphans ($atcommit of them" \
    "with every file written but not committed), $complete after the commit," \
    "$finished too late"
[ "$orphaned" -ge 1 ] || fail "no kill left the archive with orphan files"

# gc: the orphans of the last such run are young: kept by default, removed
# with --min-age 0; nothing the keystore references goes
A=$kept
expect_rc 0 "$COFFER" verify "$A"
before=$(sed -n 's/.* \([0-9]*\) unreferenced$/\1/p' "$T/out")
[ "$before" -gt 0 ] || fail "no orphans to collect"
ok "$COFFER" gc "$A" --dry-run
grep -q "^gc: 0 unreferenced files would be removed" "$T/out" ||
    fail "dry run with the default grace period: $(tail -n 2 "$T/out")"
ok "$COFFER" gc "$A"
grep -q "^gc: 0 unreferenced files removed" "$T/out" ||
    fail "gc removed young files: $(tail -n 2 "$T/out")"
[ "$(grep -c 'kept (grace period' "$T/out")" -eq "$before" ] ||
    fail "gc does not report the young orphans: $(tail -n 3 "$T/out")"
ok "$COFFER" gc "$A" --min-age 0
grep -q "^gc: $before unreferenced files removed" "$T/out" ||
    fail "gc --min-age 0: $(tail -n 2 "$T/out")"
expect_rc 0 "$COFFER" verify "$A"
grep -q " 0 damaged, 0 unreferenced$" "$T/out" || fail "after gc: $(tail -n 3 "$T/out")"
counts "$A" >"$T/got"
cmp -s "$T/got" "$T/expected" || fail "gc changed the archive: $(diff "$T/expected" "$T/got")"

# the mounted view holds every message and attachment exactly once
if [ -e /dev/fuse ] && command -v fusermount3 >/dev/null 2>&1; then
	M="$T/mnt"
	mount_as "$A" "$M" admin || fail "mount failed: $(cat "$T/mount.err")"
	grep -rhoa 'crashtok-[0-9]*' "$M" | sort >"$T/tokens"
	[ "$(wc -l <"$T/tokens")" -eq "$NMSG" ] ||
	    fail "the mount shows $(wc -l <"$T/tokens") messages, not $NMSG"
	[ -z "$(uniq -d "$T/tokens" | head -1)" ] ||
	    fail "messages shown twice: $(uniq -d "$T/tokens" | head -3)"
	[ "$(find "$M" -path '*/attachments/*' -type f | wc -l)" -eq "$NATT" ] ||
	    fail "the mount shows $(find "$M" -path '*/attachments/*' -type f | wc -l)" \
	        "attachments, not $NATT"
	f=$(find "$M" -name "att-$(printf %06d $((3 * EVERY))).bin" | head -1)
	cmp "$f" "$IN/files/l.bin" || fail "attachment differs: $f"
	unmount "$M"
else
	note "no FUSE here: the mount check is skipped (the counts above hold)"
fi
exit 0
