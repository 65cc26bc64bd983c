# t96: the FUSE daemon's read path under valgrind (issue 5): cofferfs runs
# in the foreground under memcheck while every file is read (transcripts,
# info.txt, the attachment whole and in pieces), the view is refreshed with
# a grant and a revocation, and the mount is unmounted; valgrind must
# report no error and no leak.  Needs the normal build: a sanitizer build
# cannot run under valgrind (skipped with a message).
. "$(dirname "$0")/lib.sh"
need_fuse
command -v valgrind >/dev/null 2>&1 || skip "valgrind not installed"
if ldd "$COFFERFS" 2>/dev/null | grep -q -e libasan -e libubsan ||
    nm "$COFFERFS" 2>/dev/null | grep -q __asan_init; then
	skip "$COFFERFS is a sanitizer build; valgrind runs on the normal build only"
fi
scenario_setup
G="--as admin --passphrase-file $(pw admin)"
ok "$COFFER" grant "$A" "$TITLE_A" --to alice $G
M="$T/m"
C="$M/$TITLE_A"
LOG="$T/valgrind.log"
mkdir -p "$M"

valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,possible \
    --track-fds=no --log-file="$LOG" \
    "$COFFERFS" "$A" "$M" --as alice --passphrase-file "$(pw alice)" -f \
    >"$T/vg.out" 2>"$T/vg.err" &
VG=$!
MOUNTS="$MOUNTS $M"
i=0
while ! mountpoint -q "$M"; do
	kill -0 $VG 2>/dev/null || fail "cofferfs under valgrind exited: $(cat "$T/vg.err" "$LOG")"
	i=$((i + 1))
	[ $i -gt 1200 ] && fail "no mount after 120 s under valgrind"
	sleep 0.1
done

# every file, whole
find "$M" -type f -exec cat {} + >"$T/all" || fail "reading everything failed"
grep -q zephyrword "$T/all" || fail "transcript content missing"
ls -lR "$M" >/dev/null || fail "ls -lR failed"
grep -r -q quokkaword "$M" || fail "grep -r failed"
# the attachment, whole and from an offset inside its second chunk
cmp "$C/attachments/photo.bin" "$T/in/files/photo.bin" || fail "attachment differs"
dd if="$C/attachments/photo.bin" bs=1000 skip=70 count=5 2>/dev/null >"$T/piece"
dd if="$T/in/files/photo.bin" bs=1000 skip=70 count=5 2>/dev/null | cmp - "$T/piece" ||
    fail "attachment read at an offset differs"
# refresh: a new grant, then a revocation (the view wipes what it drops)
ok "$COFFER" grant "$A" "$TITLE_B" --to alice $G
ok "$COFFER" mount --refresh "$M"
grep -r -q marmaladeword "$M" || fail "refresh under valgrind did not show B"
ok "$COFFER" revoke "$A" "$TITLE_A" --from alice $G
ok "$COFFER" mount --refresh "$M"
[ ! -e "$C" ] || fail "revoked folder still there"
find "$M" -type f -exec cat {} + >/dev/null || fail "reading after the refresh failed"

fusermount3 -u "$M" || fail "cannot unmount"
i=0
while kill -0 $VG 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 600 ] && fail "cofferfs did not exit after the unmount"
	sleep 0.1
done
wait $VG
rc=$?
note "$(grep -E 'ERROR SUMMARY|in use at exit|definitely lost|possibly lost|All heap blocks' "$LOG" | sed 's/^==[0-9]*== //' | tr '\n' ' ')"
if [ $rc -ne 0 ] || grep -q "ERROR SUMMARY: [1-9]" "$LOG"; then
	sed 's/^/    /' "$LOG" | head -150
	fail "valgrind: exit $rc"
fi
grep -q "ERROR SUMMARY: 0 errors" "$LOG" || fail "no valgrind summary: $(tail -5 "$LOG")"
exit 0
