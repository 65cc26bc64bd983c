# t91: a full disk (issue 5, "full disk"; property 7).  The archive lives on
# a small tmpfs.  An import that does not fit fails with one line naming the
# file and "No space left on device", exit 2; what was stored before stays
# readable, `verify` is clean (nothing damaged, nothing left behind); once
# space is freed the same import completes.  Both places that can fill the
# disk are hit: a blob being written (large attachments) and the keystore
# commit (a filler leaves room for the blobs of the batch but not for the
# pages its commit adds, measured first on a copy of the archive).
# Needs root for mount(8); skipped otherwise.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "not root: cannot mount a small tmpfs"
FS="$T/fs"
mkdir "$FS"
mount -t tmpfs -o size=8m,mode=0700 coffer-t91 "$FS" 2>"$T/tmpfs.err" ||
    skip "cannot mount a tmpfs: $(cat "$T/tmpfs.err")"

# FUSE mounts first (their daemon holds files of the tmpfs open), then the
# tmpfs, then lib.sh's cleanup
fs_cleanup() {
	for m in $MOUNTS; do
		fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || true
	done
	MOUNTS=""
	i=0
	while ! umount "$FS" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 50 ]; then
			umount -l "$FS" 2>/dev/null
			break
		fi
		sleep 0.1
	done
	cleanup
}
trap fs_cleanup EXIT

HAVE_FUSE=0
[ -e /dev/fuse ] && command -v fusermount3 >/dev/null 2>&1 && HAVE_FUSE=1

avail_kb() { df -k --output=avail "$FS" | tail -n 1 | tr -d ' '; }
# fill_to KB: a filler file that leaves about KB kilobytes free
fill_to() {
	rm -f "$FS/filler"
	head -c $(( ($(avail_kb) - $1) * 1024 )) /dev/zero >"$FS/filler" 2>/dev/null
	[ "$(avail_kb)" -le $(($1 + 8)) ] || fail "cannot fill the tmpfs: $(avail_kb) KB free"
}
counts() {
	"$COFFER" chats "$A" --as admin --passphrase-file "$(pw admin)" >"$T/chats.out" ||
	    fail "chats failed: $(cat "$T/chats.out")"
	awk -F '\t' 'NR > 1 { print $5 "\t" $2 }' "$T/chats.out" | sort
}
import_as_feeder() {
	"$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" "$@"
}
# refused_for_space WHAT: the last command failed with one clean line
refused_for_space() {
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "$1: error is not one line: $(cat "$T/err")"
	grep -q "No space left on device" "$T/err" || fail "$1: unclear error: $(cat "$T/err")"
}
# intact: verify clean, nothing left behind, every earlier message there
intact() {
	expect_rc 0 "$COFFER" verify "$A"
	grep -q " 0 damaged, 0 unreferenced$" "$T/out" || fail "$1: verify: $(cat "$T/out")"
	counts >"$T/now"
	cmp -s "$T/now" "$T/before" || fail "$1: conversations changed: $(diff "$T/before" "$T/now")"
	if [ "$HAVE_FUSE" = 1 ]; then
		mount_as "$A" "$T/mnt" admin || fail "$1: mount failed: $(cat "$T/mount.err")"
		grep -r -q "$BODY_A1" "$T/mnt" || fail "$1: an earlier message is not readable"
		cmp "$T/mnt/$TITLE_A/attachments/photo.bin" "$T/in/files/photo.bin" ||
		    fail "$1: an earlier attachment is not readable"
		unmount "$T/mnt"
		MOUNTS=""
	fi
}

# ---- an archive on the tmpfs, with a first import that fits
A="$FS/archive"
new_archive "$A"
add_principal "$A" feeder ingest
make_scenario_input "$T/in"
ok import_as_feeder "$T/in/chats.jsonl"
counts >"$T/before"
[ "$(wc -l <"$T/before")" -eq 2 ] || fail "first import: $(cat "$T/before")"

# ---- 1. a blob does not fit: three attachments of 1.5 MB with 2 MB free
mkdir -p "$T/big/files"
i=1
while [ $i -le 3 ]; do
	head -c 1500000 /dev/urandom >"$T/big/files/big$i.bin"
	echo "{\"chat\": \"big\", \"chat_title\": \"Big chat\", \"id\": \"big$i\"," \
	    "\"ts\": \"2025-04-0${i}T10:00:00Z\", \"sender\": \"S\", \"body\": \"big one $i\"," \
	    "\"attachments\": [{\"name\": \"big$i.bin\", \"path\": \"files/big$i.bin\"}]}"
	i=$((i + 1))
done >"$T/big/chats.jsonl"
fill_to 2048
expect_rc 2 import_as_feeder "$T/big/chats.jsonl"
refused_for_space "attachments"
grep -q "^coffer: $A/blobs/[0-9a-f]*/[0-9a-f]*: No space left on device$" "$T/err" ||
    fail "the error does not name the blob file: $(cat "$T/err")"
intact "after the failed attachments"
rm -f "$FS/filler"
ok import_as_feeder "$T/big/chats.jsonl"
grep -q "imported 3 messages" "$T/out" || fail "re-run: $(cat "$T/out")"
counts >"$T/before"
grep -q "^Big chat	3$" "$T/before" || fail "after the re-run: $(cat "$T/before")"

# ---- 2. the keystore commit does not fit: room for the blobs only
awk 'BEGIN {
	for (i = 1; i <= 6000; i++)
		printf "{\"chat\": \"many\", \"chat_title\": \"Many\", \"id\": \"n%d\", " \
		    "\"ts\": \"2025-05-01T%02d:%02d:%02dZ\", \"sender\": \"S\", " \
		    "\"body\": \"fulltok-%d\"}\n", i, int(i / 3600), int(i / 60) % 60, i % 60, i
}' >"$T/many.jsonl"
# what the batch needs, measured on a copy: blob pages and keystore growth
cp -a "$A" "$T/probe"
find "$T/probe/blobs" -type f | sort >"$T/blobs.before"
mdb0=$(stat -c %s "$T/probe/keystore/data.mdb")
"$COFFER" import "$T/probe" --as feeder --passphrase-file "$(pw feeder)" "$T/many.jsonl" \
    >/dev/null || fail "probe import failed"
mdb1=$(stat -c %s "$T/probe/keystore/data.mdb")
find "$T/probe/blobs" -type f | sort >"$T/blobs.after"
blob_kb=$(comm -13 "$T/blobs.before" "$T/blobs.after" | xargs stat -c %s |
    awk '{ p += int(($1 + 4095) / 4096) } END { print p * 4 }')
grow_kb=$(( (mdb1 - mdb0) / 1024 ))
rm -rf "$T/probe"
note "the batch needs $blob_kb KB of blobs and $grow_kb KB of keystore pages"
[ "$grow_kb" -ge 64 ] || fail "the keystore grows too little ($grow_kb KB) to fill the disk"
fill_to $((blob_kb + grow_kb / 2))
expect_rc 2 import_as_feeder "$T/many.jsonl"
refused_for_space "commit"
grep -q "^coffer: $A/keystore: No space left on device$" "$T/err" ||
    fail "the error does not name the keystore: $(cat "$T/err")"
intact "after the failed commit"
rm -f "$FS/filler"
ok import_as_feeder "$T/many.jsonl"
grep -q "imported 6000 messages (0 already present)" "$T/out" || fail "re-run: $(cat "$T/out")"
counts >"$T/now"
grep -q "^Many	6000$" "$T/now" || fail "after the re-run: $(cat "$T/now")"
expect_rc 0 "$COFFER" verify "$A"
grep -q " 0 damaged, 0 unreferenced$" "$T/out" || fail "final verify: $(cat "$T/out")"
if [ "$HAVE_FUSE" = 1 ]; then
	mount_as "$A" "$T/mnt" admin || fail "mount failed: $(cat "$T/mount.err")"
	grep -r -q "fulltok-6000" "$T/mnt/Many" || fail "the last message is not readable"
	cmp "$T/mnt/Big chat/attachments/big3.bin" "$T/big/files/big3.bin" ||
	    fail "the last attachment is not readable"
	unmount "$T/mnt"
	MOUNTS=""
fi
exit 0
