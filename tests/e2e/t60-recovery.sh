# t60: the recovery key alone restores access to every conversation after
# all admins are lost (issue 2, acceptance 6; property 9).
. "$(dirname "$0")/lib.sh"
scenario_setup

[ "$(stat -c %a "$T/recovery.key")" = 600 ] || fail "recovery key file is not mode 0600"
grep -q '^COFFER-RECOVERY-1:[0-9a-f]\{64\}$' "$T/recovery.key" || fail "recovery key format"

# every admin passphrase is lost: guesses do not open the archive
printf 'forgotten passphrase\n' >"$T/guess"
expect_rc 2 "$COFFER" chats "$A" --as admin --passphrase-file "$T/guess"

# a wrong recovery key opens nothing
# change the first hex digit of the key (0 -> 1, anything else -> 0)
sed 's/COFFER-RECOVERY-1:0/COFFER-RECOVERY-1:X/;s/COFFER-RECOVERY-1:[1-9a-f]/COFFER-RECOVERY-1:0/;s/COFFER-RECOVERY-1:X/COFFER-RECOVERY-1:1/' \
    "$T/recovery.key" >"$T/wrong.key"
cmp -s "$T/wrong.key" "$T/recovery.key" && fail "self-check: wrong key equals the key"
expect_rc 2 "$COFFER" recover "$A" --recovery-key-file "$T/wrong.key" --new-admin rescuer \
    --new-passphrase-file "$(pw rescuer)"
echo "not a key" >"$T/garbage.key"
expect_rc 2 "$COFFER" recover "$A" --recovery-key-file "$T/garbage.key" --new-admin rescuer \
    --new-passphrase-file "$(pw rescuer)"
grep -q "garbage.key" "$T/err" || fail "error does not name the file: $(cat "$T/err")"

ok "$COFFER" recover "$A" --recovery-key-file "$T/recovery.key" --new-admin rescuer \
    --new-passphrase-file "$(pw rescuer)"
ok "$COFFER" chats "$A" --as rescuer --passphrase-file "$(pw rescuer)"
grep -q "$TITLE_A" "$T/out" || fail "rescuer does not see A: $(cat "$T/out")"
grep -q "$TITLE_B" "$T/out" || fail "rescuer does not see B: $(cat "$T/out")"

# the new admin can run the archive: grant bob, bob reads
ok "$COFFER" grant "$A" "$TITLE_B" --to bob --as rescuer --passphrase-file "$(pw rescuer)"
ok "$COFFER" chats "$A" --as bob --passphrase-file "$(pw bob)"
grep -q "$TITLE_B" "$T/out" || fail "bob does not see B after the rescuer's grant"
if [ -e /dev/fuse ] && command -v fusermount3 >/dev/null 2>&1; then
	mount_as "$A" "$T/m" rescuer || fail "mount failed: $(cat "$T/mount.err")"
	grep -r -q marmaladeword "$T/m" || fail "rescuer cannot read B"
	grep -r -q zephyrword "$T/m" || fail "rescuer cannot read A"
	cmp "$T/m/$TITLE_A/attachments/photo.bin" "$T/in/files/photo.bin" ||
	    fail "rescuer reads a different attachment"
	unmount "$T/m"
fi
# and conversations imported after the recovery are readable by it too
echo '{"chat": "conv-n", "chat_title": "after", "ts": "2025-06-01T00:00:00Z", "sender": "N", "body": "later"}' >"$T/n.jsonl"
ok "$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" "$T/n.jsonl"
ok "$COFFER" chats "$A" --as rescuer --passphrase-file "$(pw rescuer)"
grep -q "after" "$T/out" || fail "rescuer does not see a new conversation"
exit 0
