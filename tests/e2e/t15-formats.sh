# t15: every import format end to end: the project's own WhatsApp (folder
# and zip), Telegram, Signal and Slack fixtures are detected without
# --format, imported by the ingest identity, shown in a real mount with
# their attachments, replies and missing-attachment markers, and a second
# import of each adds nothing.
. "$(dirname "$0")/lib.sh"
need_fuse
F="$TOP/tests/fixtures"
A="$T/archive"
new_archive "$A"
add_principal "$A" feeder ingest
imp() { ok "$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" --timezone UTC "$@"; }

imp "$F/whatsapp/android/WhatsApp Chat with Ana Lima.txt"
grep -q "imported 15 messages" "$T/out" || fail "whatsapp: $(cat "$T/out")"
imp "$F/telegram/single/result.json"
grep -q "imported [1-9]" "$T/out" || fail "telegram: $(cat "$T/out")"
imp "$F/signal/sigtop"
grep -q "imported [1-9]" "$T/out" || fail "signal: $(cat "$T/out")"
imp "$F/slack/export"
grep -q "imported [1-9]" "$T/out" || fail "slack: $(cat "$T/out")"

# again: nothing new, whichever way the export comes
for p in "$F/whatsapp/android/WhatsApp Chat with Ana Lima.txt" "$F/telegram/single/result.json" \
    "$F/signal/sigtop" "$F/slack/export"; do
	imp "$p"
	grep -q "imported 0 messages" "$T/out" || fail "re-import of $p: $(cat "$T/out")"
done
if command -v zip >/dev/null 2>&1; then
	# a zip must hold every file its chat names: this one lacks the PDF
	(cd "$F/whatsapp/android" && zip -q -r "$T/Ana Lima.zip" .) || fail "zip failed"
	expect_rc 2 "$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" \
	    --timezone UTC "$T/Ana Lima.zip"
	grep -q "Ana Lima.txt:9: attachment DOC-20240105-WA0002.pdf: not in the export" "$T/err" ||
	    fail "zip refusal: $(cat "$T/err")"
	# with it, the zip imports; its members pass through a private
	# temporary folder (plaintext) that is gone afterwards, success or not
	mkdir -p "$T/z" "$T/tmp"
	cp "$F/whatsapp/android/"* "$T/z/"
	echo "a pdf" >"$T/z/DOC-20240105-WA0002.pdf"
	(cd "$T/z" && zip -q -r "$T/Ana Lima 2.zip" .) || fail "zip failed"
	TMPDIR="$T/tmp" expect_rc 0 "$COFFER" import "$A" --as feeder \
	    --passphrase-file "$(pw feeder)" --timezone UTC "$T/Ana Lima 2.zip"
	# the .txt alone recorded the PDF as missing; the zip has it, so that
	# one message is stored again with its file (docs/IMPORT.md, limits)
	grep -q "imported 1 messages (14 already present)" "$T/out" ||
	    fail "zip import: $(cat "$T/out")"
	[ -z "$(ls -A "$T/tmp")" ] || fail "temporary files left: $(ls -A "$T/tmp")"
	TMPDIR="$T/tmp" expect_rc 2 "$COFFER" import "$A" --as feeder \
	    --passphrase-file "$(pw feeder)" --timezone UTC "$T/Ana Lima.zip"
	[ -z "$(ls -A "$T/tmp")" ] || fail "temporary files left after a failure"
fi

mount_as "$A" "$T/m" admin || fail "mount failed: $(cat "$T/mount.err")"
n=$(ls "$T/m" | wc -l)
[ "$n" -ge 6 ] || fail "expected conversations of every format, got: $(ls "$T/m")"
W="$T/m/Ana Lima"
[ -d "$W" ] || fail "no WhatsApp folder: $(ls "$T/m")"
cmp "$W/attachments/IMG-20240105-WA0001.jpg" "$F/whatsapp/android/IMG-20240105-WA0001.jpg" ||
    fail "WhatsApp attachment differs"
grep -q "^09:03:00  Ben: IMG-20240105-WA0001.jpg (file attached)" "$W/2024-01-05.txt" ||
    grep -q "^09:03:00  Ben:" "$W/2024-01-05.txt" || fail "WhatsApp line: $(cat "$W/2024-01-05.txt")"
grep -q "attachment not in the archive" "$W/2024-01-13.txt" ||
    fail "missing media not marked: $(cat "$W/2024-01-13.txt")"
grep -q "\[edited\]" "$W/2024-01-13.txt" || fail "edit not marked"
grep -q "^21:18:00  Ben: same$" "$W/2024-01-13.txt" || fail "repeated line lost"
[ "$(grep -c "^21:18:00  Ben: same$" "$W/2024-01-13.txt")" -eq 2 ] || fail "identical lines merged"
# Telegram photo present in the export: stored and byte-identical
found=0
for f in "$T"/m/*/attachments/photo_1@13-03-2025_19-44-01.jpg; do
	[ -f "$f" ] && cmp -s "$f" "$F/telegram/single/photos/photo_1@13-03-2025_19-44-01.jpg" && found=1
done
[ $found -eq 1 ] || fail "Telegram photo not found or differs"
grep -r -q "\[in reply to" "$T/m" || fail "no reply is shown anywhere"
grep -r -q "\[reactions:" "$T/m" || fail "no reaction is shown anywhere"
# sizes exact everywhere
find "$T/m" -type f | while read -r f; do
	[ "$(stat -c %s "$f")" -eq "$(wc -c <"$f")" ] || { echo "size of $f"; exit 1; }
done || fail "a size is not exact"
unmount "$T/m"
ok "$COFFER" verify "$A"
exit 0
