# t20: after import, a byte search of the whole archive folder for every
# title, sender, body and a 64-byte slice of the attachment finds nothing
# (issue 2, acceptance 2; design brief property 1).
. "$(dirname "$0")/lib.sh"
scenario_setup

[ -n "$(find "$A/blobs" -type f)" ] || fail "no blob written"
no_plaintext "$A" "$TITLE_A" "$TITLE_B" "Zéphyr" "директоров" \
    "$SENDER_A1" "$SENDER_A2" "$SENDER_B1" "Ünïcode" "Zanzibar" \
    zephyrword quokkaword marmaladeword "second line of the first message" \
    "late reply" "line two of the minutes" cheerful mood conv-a conv-b photo.bin

# a 64-byte slice of the binary attachment, searched as hex over every file
slice=$(od -An -tx1 -v -j 70000 -N 64 "$T/in/files/photo.bin" | tr -d ' \n')
[ ${#slice} -eq 128 ] || fail "could not take the slice"
find "$A" -type f | while read -r f; do
	if od -An -tx1 -v "$f" | tr -d ' \n' | grep -q "$slice"; then
		fail "attachment bytes found in $f"
	fi
done || exit 1

# the test itself must be able to fail: the same search finds the source
grep -r -a -F -q zephyrword "$T/in" || fail "self-check: search finds nothing anywhere"
od -An -tx1 -v "$T/in/files/photo.bin" | tr -d ' \n' | grep -q "$slice" ||
    fail "self-check: slice search is broken"
exit 0
