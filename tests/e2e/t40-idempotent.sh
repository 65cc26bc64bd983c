# t40: re-importing the same file adds nothing; a file with one bad line
# adds nothing and names the line (issue 2, acceptance 4; property 7).
. "$(dirname "$0")/lib.sh"
scenario_setup

count_blobs() { find "$A/blobs" -type f | wc -l; }
chats_of() { "$COFFER" chats "$A" --as admin --passphrase-file "$(pw admin)"; }
before_blobs=$(count_blobs)
before_chats=$(chats_of)

ok "$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" "$T/in/chats.jsonl"
grep -q "imported 0 messages (5 already present)" "$T/out" ||
    fail "re-import summary: $(cat "$T/out")"
[ "$(count_blobs)" -eq "$before_blobs" ] || fail "re-import wrote blobs"
[ "$(chats_of)" = "$before_chats" ] || fail "re-import changed the conversations"

# one new message among old ones: only it is added
cp "$T/in/chats.jsonl" "$T/in/more.jsonl"
echo '{"chat": "conv-a", "id": "a4", "ts": "2025-03-14T09:00:00Z", "sender": "Bob Квант", "body": "one more"}' >>"$T/in/more.jsonl"
ok "$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" "$T/in/more.jsonl"
grep -q "imported 1 messages (5 already present)" "$T/out" || fail "overlap summary: $(cat "$T/out")"
before_blobs=$(count_blobs)
before_chats=$(chats_of)

# a bad third line: refused, named, nothing stored
{
	echo '{"chat": "conv-z", "chat_title": "zzz", "ts": "2025-01-01T00:00:00Z", "sender": "Z", "body": "new one"}'
	echo '{"chat": "conv-z", "ts": "2025-01-01T00:01:00Z", "sender": "Z", "body": "new two"}'
	echo '{"chat": "conv-z", "ts": "not a time", "sender": "Z", "body": "bad"}'
	echo '{"chat": "conv-z", "ts": "2025-01-01T00:03:00Z", "sender": "Z", "body": "new four"}'
} >"$T/bad.jsonl"
expect_rc 2 "$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" "$T/bad.jsonl"
grep -q "bad.jsonl:3:" "$T/err" || fail "error does not name line 3: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" -le 2 ] || fail "error is not short: $(cat "$T/err")"
[ "$(count_blobs)" -eq "$before_blobs" ] || fail "a refused batch wrote blobs"
[ "$(chats_of)" = "$before_chats" ] || fail "a refused batch changed the conversations"

# a bad line that is not JSON at all
printf '{"chat": "c", "ts": "2025-01-01T00:00:00Z", "sender": "Z", "body": "x"}\n{oops\n' >"$T/bad2.jsonl"
expect_rc 2 "$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" "$T/bad2.jsonl"
grep -q "bad2.jsonl:2:" "$T/err" || fail "error does not name line 2: $(cat "$T/err")"
[ "$(count_blobs)" -eq "$before_blobs" ] || fail "a refused batch wrote blobs"

# a missing attachment is refused too
echo '{"chat": "conv-z", "ts": "2025-01-01T00:00:00Z", "sender": "Z", "body": "x", "attachments": [{"path": "nope.bin"}]}' >"$T/bad3.jsonl"
expect_rc 2 "$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" "$T/bad3.jsonl"
grep -q "bad3.jsonl:1:" "$T/err" || fail "missing attachment not named: $(cat "$T/err")"
[ "$(count_blobs)" -eq "$before_blobs" ] || fail "a refused batch wrote blobs"
ok "$COFFER" verify "$A"
exit 0
