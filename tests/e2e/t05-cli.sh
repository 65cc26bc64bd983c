# t05: the command line itself: --help everywhere, exit codes, usage errors,
# no secret accepted on the command line, init refusing to overwrite.
. "$(dirname "$0")/lib.sh"

ok "$COFFER" --help
cp "$T/out" "$T/help"
for c in init principal import chats grant revoke mount verify audit export retention hold \
    expire shred backup gc recover; do
	grep -q "^ *$c " "$T/help" || fail "coffer --help does not list $c"
	ok "$COFFER" "$c" --help
	grep -qi "usage" "$T/out" || fail "coffer $c --help prints no usage"
done
ok "$COFFER" help import
ok "$COFFER" principal add --help
expect_rc 2 "$COFFER" no-such-command
expect_rc 2 "$COFFER" init
expect_rc 2 "$COFFER" init "$T/x" --admin admin --passphrase "secret"
# an abbreviation of --passphrase-file would be taken for it, and its
# value repeated in getopt's error: refused, the value never printed
for args in "chats $T/x --as admin --passphrase Plugh7secret" \
    "mount $T/x $T/m --as admin --passphrase=Plugh7secret" \
    "principal add $T/x eve --role reviewer --as admin --new-passphrase Plugh7secret"; do
	# shellcheck disable=SC2086
	expect_rc 2 "$COFFER" $args
	grep -q "never taken from the command line" "$T/err" || fail "$args: unclear: $(cat "$T/err")"
	if grep -q Plugh7secret "$T/out" "$T/err"; then fail "$args: the value was printed"; fi
done
expect_rc 2 "$COFFERFS" "$T/x" "$T/m" --as admin --passphrase Plugh7secret
if grep -q Plugh7secret "$T/out" "$T/err"; then fail "cofferfs printed the value"; fi
[ ! -e "$T/x" ] || fail "a usage error created the archive"
expect_rc 2 "$COFFER" chats "$T/nowhere" --as admin --passphrase-file "$(pw admin)"
grep -q "nowhere" "$T/err" || fail "error does not name the archive: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "error is not one line: $(cat "$T/err")"
expect_rc 2 "$COFFERFS" "$T/nowhere" "$T" --as admin --passphrase-file "$(pw admin)"
ok "$COFFERFS" --help

# init: the recovery key file is created once, never overwritten
A="$T/a"
new_archive "$A"
[ -f "$A/COFFER" ] || fail "no marker file"
echo keep >"$T/existing.key"
expect_rc 2 "$COFFER" init "$T/b" --admin admin --new-passphrase-file "$(pw admin)" \
    --recovery-key-file "$T/existing.key"
[ "$(cat "$T/existing.key")" = keep ] || fail "init overwrote a recovery key file"
[ ! -e "$T/b" ] || fail "init created an archive although it failed"
expect_rc 2 "$COFFER" init "$A" --admin admin --new-passphrase-file "$(pw admin)" \
    --recovery-key-file "$T/again.key"
# without a file, the recovery key is printed once
ok "$COFFER" init "$T/c" --admin admin --new-passphrase-file "$(pw admin)"
grep -q '^COFFER-RECOVERY-1:[0-9a-f]\{64\}$' "$T/out" || fail "recovery key not printed"

# principals: list, duplicates, roles, non-admins cannot add
add_principal "$A" rita reviewer
add_principal "$A" ingo ingest
ok "$COFFER" principal list "$A"
grep -q "rita.*reviewer" "$T/out" || fail "principal list: $(cat "$T/out")"
grep -q "ingo.*ingest" "$T/out" || fail "principal list: $(cat "$T/out")"
expect_rc 2 "$COFFER" principal add "$A" rita --role reviewer --as admin \
    --passphrase-file "$(pw admin)" --new-passphrase-file "$(pw rita)"
expect_rc 2 "$COFFER" principal add "$A" eve --role admin --as rita \
    --passphrase-file "$(pw rita)" --new-passphrase-file "$(pw eve)"
expect_rc 2 "$COFFER" principal add "$A" eve --role wizard --as admin \
    --passphrase-file "$(pw admin)" --new-passphrase-file "$(pw eve)"
printf 'Xyzzy-not-it\n' >"$T/wrongpw"
expect_rc 2 "$COFFER" principal add "$A" eve --role reviewer --as admin \
    --passphrase-file "$T/wrongpw" --new-passphrase-file "$(pw eve)"
grep -q "wrong passphrase" "$T/err" || fail "no clear error: $(cat "$T/err")"
if grep -q "Xyzzy" "$T/err"; then fail "passphrase echoed in error"; fi
# reviewers cannot import, grant or revoke
echo '{"chat": "c", "ts": "2025-01-01T00:00:00Z", "sender": "S", "body": "b"}' >"$T/one.jsonl"
expect_rc 2 "$COFFER" import "$A" --as rita --passphrase-file "$(pw rita)" "$T/one.jsonl"
ok "$COFFER" import "$A" --as ingo --passphrase-file "$(pw ingo)" "$T/one.jsonl"
expect_rc 2 "$COFFER" grant "$A" --all --to rita --as rita --passphrase-file "$(pw rita)"
expect_rc 2 "$COFFER" grant "$A" --all --to ingo --as admin --passphrase-file "$(pw admin)"
expect_rc 2 "$COFFER" grant "$A" "no such chat" --to rita --as admin --passphrase-file "$(pw admin)"
expect_rc 2 "$COFFER" grant "$A" --to rita --as admin --passphrase-file "$(pw admin)"

# verify on a clean archive
ok "$COFFER" verify "$A"
exit 0
