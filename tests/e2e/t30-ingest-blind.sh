# t30: the ingest identity lists no conversation and cannot mount one, even
# those it created in the same run; no conversation key is wrapped for it
# (issue 2, acceptance 3; property 2).
. "$(dirname "$0")/lib.sh"
scenario_setup

ok "$COFFER" chats "$A" --as feeder --passphrase-file "$(pw feeder)"
[ "$(grep -c . "$T/out")" -le 1 ] || fail "ingest lists conversations: $(cat "$T/out")"
if grep -q "$TITLE_A" "$T/out"; then fail "ingest sees a title"; fi

# import more in the same run, then look again
cat >"$T/more.jsonl" <<JSONL
{"chat": "conv-c", "chat_title": "fresh chat", "ts": "2025-05-01T10:00:00Z", "sender": "Dan", "body": "just written"}
JSONL
ok "$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" "$T/more.jsonl"
ok "$COFFER" chats "$A" --as feeder --passphrase-file "$(pw feeder)"
[ "$(grep -c . "$T/out")" -le 1 ] || fail "ingest lists its new conversation: $(cat "$T/out")"

# the cryptographic side: no wrapped conversation key names the ingest identity
if command -v mdb_dump >/dev/null 2>&1; then
	mdb_dump -p -s wraps "$A/keystore" >"$T/wraps" || fail "mdb_dump failed"
	grep -q admin "$T/wraps" || fail "self-check: wraps dump holds no admin key"
	if grep -q feeder "$T/wraps"; then fail "a conversation key is wrapped for ingest"; fi
else
	note "mdb_dump not installed: keystore check skipped"
fi

# and it cannot mount
if [ -e /dev/fuse ] && command -v fusermount3 >/dev/null 2>&1; then
	mkdir -p "$T/mnt"
	expect_rc 2 "$COFFER" mount "$A" "$T/mnt" --as feeder --passphrase-file "$(pw feeder)"
	if mountpoint -q "$T/mnt"; then MOUNTS="$MOUNTS $T/mnt"; fail "ingest mounted the archive"; fi
	grep -q "ingest" "$T/err" || fail "no clear error: $(cat "$T/err")"
fi
exit 0
