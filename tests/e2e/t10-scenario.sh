# t10: the full scenario through the CLI (issue 2, acceptance 1):
# init, principals, import, grant one conversation to alice, mount as alice
# and browse with real shell tools; bob sees nothing; a wrong passphrase is
# refused.
. "$(dirname "$0")/lib.sh"
need_fuse
scenario_setup

ok "$COFFER" chats "$A" --as admin --passphrase-file "$(pw admin)"
[ "$(grep -c . "$T/out")" -eq 3 ] || fail "admin should see 2 conversations: $(cat "$T/out")"
grep -q "$TITLE_A" "$T/out" || fail "title A missing from chats"
ID_A=$(chat_id admin "$TITLE_A")
[ -n "$ID_A" ] || fail "no id for conversation A"
awk -F '\t' -v id="$ID_A" '$1 == id && $2 == 3 { f = 1 } END { exit !f }' "$T/out" ||
    fail "conversation A should count 3 messages: $(cat "$T/out")"

ok "$COFFER" grant "$A" "$TITLE_A" --to alice --as admin --passphrase-file "$(pw admin)"

M="$T/mnt-alice"
mount_as "$A" "$M" alice || fail "mount as alice failed: $(cat "$T/mount.err")"

# exactly one folder, named after the title
[ "$(ls -A "$M" | wc -l)" -eq 1 ] || fail "alice should see one folder: $(ls -A "$M")"
[ -d "$M/$TITLE_A" ] || fail "folder '$TITLE_A' missing: $(ls -A "$M")"
C="$M/$TITLE_A"
ls -l "$C" >/dev/null || fail "ls -l failed"
for f in 2025-03-12.txt 2025-03-13.txt info.txt attachments/photo.bin; do
	[ -f "$C/$f" ] || fail "$f missing: $(ls -R "$C")"
done

# grep finds bodies of A, not of B
grep -r -q zephyrword "$M" || fail "grep -r does not find a body"
grep -r -q quokkaword "$M" || fail "grep -r does not find the second body"
if grep -r -q marmaladeword "$M"; then fail "alice sees a body of conversation B"; fi

# transcript lines: "HH:MM:SS  Sender: text", continuation lines indented
grep -q "^08:15:00  $SENDER_A1: $BODY_A1\$" "$C/2025-03-12.txt" ||
    fail "bad first line: $(cat "$C/2025-03-12.txt")"
grep -q "^          second line of the first message\$" "$C/2025-03-12.txt" ||
    fail "continuation line not indented: $(cat "$C/2025-03-12.txt")"
grep -q "^20:00:30  $SENDER_A1: late reply\$" "$C/2025-03-13.txt" ||
    fail "offset time not converted to UTC: $(cat "$C/2025-03-13.txt")"
grep -q "cheerful" "$C/info.txt" || fail "unknown field not shown in info.txt"

# the attachment is byte-identical
cmp "$C/attachments/photo.bin" "$T/in/files/photo.bin" || fail "attachment differs"

# sizes are exact
for f in "$C"/*.txt "$C/attachments/photo.bin"; do
	s=$(stat -c %s "$f"); n=$(wc -c <"$f")
	[ "$s" -eq "$n" ] || fail "$f: st_size $s but $n bytes read"
done

# find -newermt follows message times
newer=$(cd "$C" && find . -type f -newermt '2025-03-13 00:00:00 UTC' | sort | tr '\n' ' ')
[ "$newer" = "./2025-03-13.txt ./info.txt " ] || fail "find -newermt gave: $newer"
older=$(cd "$C" && find . -type f ! -newermt '2025-03-13 00:00:00 UTC' | sort | tr '\n' ' ')
[ "$older" = "./2025-03-12.txt ./attachments/photo.bin " ] || fail "find ! -newermt gave: $older"
[ "$(stat -c %Y "$C/2025-03-13.txt")" -eq "$(date -d '2025-03-13T20:00:30Z' +%s)" ] ||
    fail "day file mtime is not its last message"

# du, cp -a and tar work
du -sb "$M" >/dev/null || fail "du failed"
cp -a "$C" "$T/copy" || fail "cp -a failed"
cmp "$T/copy/attachments/photo.bin" "$T/in/files/photo.bin" || fail "cp -a copy differs"
tar -cf "$T/view.tar" -C "$M" . || fail "tar failed"

# writes are refused
if touch "$M/new" 2>/dev/null; then fail "creating a file succeeded"; fi
if sh -c 'echo x >>"$1"' sh "$C/2025-03-12.txt" 2>"$T/werr"; then fail "appending succeeded"; fi
grep -q "Read-only file system" "$T/werr" || fail "write error is not EROFS: $(cat "$T/werr")"
if mkdir "$C/d" 2>/dev/null; then fail "mkdir succeeded"; fi
if rm -f "$C/info.txt" 2>/dev/null && [ ! -e "$C/info.txt" ]; then fail "rm succeeded"; fi
unmount "$M"

# bob was granted nothing: an empty root
M2="$T/mnt-bob"
mount_as "$A" "$M2" bob || fail "mount as bob failed: $(cat "$T/mount.err")"
[ -z "$(ls -A "$M2")" ] || fail "bob sees: $(ls -A "$M2")"
unmount "$M2"

# a wrong passphrase is refused, nothing is mounted
printf 'not the passphrase\n' >"$T/wrong"
mkdir -p "$T/mnt-wrong"
expect_rc 2 "$COFFER" mount "$A" "$T/mnt-wrong" --as alice --passphrase-file "$T/wrong"
grep -q "wrong passphrase" "$T/err" || fail "no clear error: $(cat "$T/err")"
if mountpoint -q "$T/mnt-wrong"; then MOUNTS="$MOUNTS $T/mnt-wrong"; fail "mounted anyway"; fi
exit 0
