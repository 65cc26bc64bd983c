# t70: grants and revocation through the CLI: by title and by id, --until
# in the past denies, --all covers conversations created later, revoke
# takes access away (and the wrapped key with it).
. "$(dirname "$0")/lib.sh"
scenario_setup
ID_B=$(chat_id admin "$TITLE_B")
[ ${#ID_B} -eq 32 ] || fail "bad id '$ID_B'"
sees() { # sees NAME: titles NAME can read, one per line
	"$COFFER" chats "$A" --as "$1" --passphrase-file "$(pw "$1")" | tail -n +2 | cut -f5
}
G="--as admin --passphrase-file $(pw admin)"

[ -z "$(sees alice)" ] || fail "alice sees something before any grant"
ok "$COFFER" grant "$A" "$TITLE_A" --to alice --until 2020-01-01 $G
[ -z "$(sees alice)" ] || fail "an expired grant still gives access"
ok "$COFFER" grant "$A" "$TITLE_A" --to alice --until 2099-12-31 --reason "case 42" $G
[ "$(sees alice)" = "$TITLE_A" ] || fail "grant by title: $(sees alice)"
ok "$COFFER" grant "$A" "$(echo "$ID_B" | cut -c1-12)" --to alice --from 2099-01-01 $G
[ "$(sees alice)" = "$TITLE_A" ] || fail "a grant starting in 2099 already gives access"
ok "$COFFER" grant "$A" "$ID_B" --to alice $G
[ "$(sees alice | wc -l)" -eq 2 ] || fail "grant by id: $(sees alice)"
ok "$COFFER" revoke "$A" "$TITLE_A" --from alice $G
[ "$(sees alice)" = "$TITLE_B" ] || fail "revoke: $(sees alice)"
if command -v mdb_dump >/dev/null 2>&1; then
	mdb_dump -p -s wraps "$A/keystore" | grep -c alice >"$T/n" || true
	[ "$(cat "$T/n")" -eq 1 ] || fail "revoke left alice's wrapped key for A"
fi
expect_rc 2 "$COFFER" revoke "$A" "$TITLE_A" --from alice $G

# --all covers conversations created later
ok "$COFFER" grant "$A" --all --to bob $G
[ "$(sees bob | wc -l)" -eq 2 ] || fail "--all: $(sees bob)"
echo '{"chat": "conv-later", "chat_title": "Later chat", "ts": "2025-07-01T00:00:00Z", "sender": "L", "body": "later"}' >"$T/l.jsonl"
ok "$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" "$T/l.jsonl"
sees bob | grep -qx "Later chat" || fail "--all does not cover a later conversation: $(sees bob)"
sees alice | grep -q "Later chat" && fail "alice sees a conversation she was not granted"
ok "$COFFER" revoke "$A" --all --from bob $G
[ -z "$(sees bob)" ] || fail "revoke --all left: $(sees bob)"
echo '{"chat": "conv-later2", "chat_title": "Even later", "ts": "2025-08-01T00:00:00Z", "sender": "L", "body": "x"}' >"$T/l2.jsonl"
ok "$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" "$T/l2.jsonl"
[ -z "$(sees bob)" ] || fail "revoked --all still covers new conversations: $(sees bob)"
exit 0
