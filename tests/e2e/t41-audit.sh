# t41: the audit log (issue 4, acceptance 1 and 2).  Every kind of action
# leaves a record (init, principal add/disable/enable, a wrong passphrase,
# a disabled principal, import, grant, revoke, chats, mount, the first read
# of each file but not the second, an expired grant at mount time and in a
# running mount, unmount, verify, recover); no record holds a title, a name
# from a message, a body or an attachment name; `audit verify` finds the
# chain intact, then broken at the right record after an edit with LMDB's
# own tools, and a rolled-back keystore is caught against an anchored
# head; a read whose record cannot be written is refused (EACCES) and works
# again once it can.
. "$(dirname "$0")/lib.sh"
need_fuse
scenario_setup
A_ID=$(chat_id admin "$TITLE_A")
B_ID=$(chat_id admin "$TITLE_B")
[ -n "$A_ID" ] && [ -n "$B_ID" ] || fail "conversation ids not found"

# audit_has ACTION RESULT [OBJECT-PREFIX [PRINCIPAL]]: a record like that exists
audit_has() {
	"$COFFER" audit "$A" show >"$T/show" 2>"$T/show.err" || fail "audit show failed: $(cat "$T/show.err")"
	awk -F '\t' -v a="$1" -v r="$2" -v o="${3:-}" -v p="${4:-}" '
	    $4 == a && $6 == r && index($5, o) == 1 && (p == "" || $3 == p) { found = 1 }
	    END { exit !found }' "$T/show" ||
	    fail "no '$1 $2 ${3:-} ${4:-}' record in: $(cat "$T/show")"
}
# audit_wait ACTION RESULT OBJECT-PREFIX PRINCIPAL: as audit_has, for a
# record that may take up to a second to be written (the first read of a
# further file of a conversation already read: docs/AUDIT.md)
audit_wait() {
	local i=0
	while :; do
		"$COFFER" audit "$A" show >"$T/show" 2>"$T/show.err" ||
		    fail "audit show failed: $(cat "$T/show.err")"
		awk -F '\t' -v a="$1" -v r="$2" -v o="$3" -v p="$4" '
		    $4 == a && $6 == r && index($5, o) == 1 && $3 == p { found = 1 }
		    END { exit !found }' "$T/show" && return 0
		i=$((i + 1))
		[ $i -gt 50 ] && fail "no '$1 $2 $3 $4' record after 5 s in: $(cat "$T/show")"
		sleep 0.1
	done
}
# audit_count ACTION OBJECT: how many records of ACTION on exactly OBJECT
audit_count() {
	"$COFFER" audit "$A" show | awk -F '\t' -v a="$1" -v o="$2" '$4 == a && $5 == o { n++ }
	    END { print n + 0 }'
}

audit_has init ok
audit_has principal-add ok alice admin
audit_has principal-add ok feeder admin
audit_has import ok "" feeder
audit_has chats ok "" admin

# a wrong passphrase is a denial
printf 'not the passphrase\n' >"$T/wrong"
expect_rc 2 "$COFFER" chats "$A" --as alice --passphrase-file "$T/wrong"
audit_has unlock denied "" alice

# grant alice conversation A until a few seconds from now, bob everything
until_t=$(date -u -d '+6 seconds' +%Y-%m-%dT%H:%M:%SZ)
ok "$COFFER" grant "$A" "$A_ID" --to alice --until "$until_t" --as admin \
    --passphrase-file "$(pw admin)" --reason "case 42 review"
audit_has grant ok "$A_ID" admin
ok "$COFFER" grant "$A" --all --to bob --as admin --passphrase-file "$(pw admin)"
audit_has grant ok all admin

# a mount and the first read of each file are recorded, a second read not
mount_as "$A" "$T/m" alice || fail "mount failed: $(cat "$T/mount.err")"
audit_has mount ok "" alice
d="$T/m/$(ls "$T/m")"
day=$(cd "$d" && ls | grep '\.txt$' | grep -v info | head -n 1)
cat "$d/$day" >/dev/null || fail "cannot read $day"
cat "$d/attachments/"* >/dev/null || fail "cannot read the attachment"
[ "$(audit_count read "$A_ID/$day")" -eq 1 ] || fail "first read of $day not recorded once"
audit_wait read ok "$A_ID/attachment:" alice
cat "$d/$day" >/dev/null
[ "$(audit_count read "$A_ID/$day")" -eq 1 ] || fail "second read of $day recorded again"

# the grant ends while mounted: the folder goes, the refusal is recorded
sleep 7
i=0
while [ -n "$(ls "$T/m")" ]; do
	i=$((i + 1))
	[ $i -gt 50 ] && fail "expired conversation still listed: $(ls "$T/m")"
	sleep 0.1
done
if cat "$d/$day" >/dev/null 2>&1; then fail "expired grant: file still readable"; fi
audit_has read denied "$A_ID" alice
unmount "$T/m"
# and at the next mount
mount_as "$A" "$T/m2" alice || fail "mount failed: $(cat "$T/mount.err")"
[ -z "$(ls "$T/m2")" ] || fail "expired grant still mounted: $(ls "$T/m2")"
audit_has mount denied "$A_ID" alice
unmount "$T/m2"
sleep 0.5
audit_has unmount ok "" alice

# the first read of a conversation is in the log before its data is
# served; the first reads of its further files are appended together, at
# the latest before the mount's next record (here: the unmount)
mount_as "$A" "$T/m4" bob || fail "mount failed: $(cat "$T/mount.err")"
d4="$T/m4/$(ls "$T/m4" | head -n 1)"
f1=$(cd "$d4" && ls | grep '\.txt$' | head -n 1)
cat "$d4/$f1" >/dev/null || fail "cannot read $f1"
"$COFFER" audit "$A" show | awk -F '\t' -v f="/$f1" -v p=bob '$3 == p && $4 == "read" &&
    substr($5, length($5) - length(f) + 1) == f { found = 1 } END { exit !found }' ||
    fail "the first read of a conversation is not in the log at once"
cat "$d4/info.txt" >/dev/null || fail "cannot read info.txt"
unmount "$T/m4"
i=0
until "$COFFER" audit "$A" show | awk -F '\t' '$3 == "bob" && $4 == "unmount" { f = 1 }
    END { exit !f }'; do
	i=$((i + 1)); [ $i -gt 50 ] && fail "bob's unmount not recorded"; sleep 0.1
done
"$COFFER" audit "$A" show | awk -F '\t' '$3 == "bob" && $4 == "read" && $5 ~ /\/info\.txt$/ { r = $1 }
    $3 == "bob" && $4 == "unmount" { u = $1 }
    END { exit !(r != "" && u != "" && r + 0 < u + 0) }' ||
    fail "a batched read record is missing or after the unmount: $("$COFFER" audit "$A" show)"

# revoke, disable, enable, verify, recover
ok "$COFFER" revoke "$A" --all --from bob --as admin --passphrase-file "$(pw admin)"
audit_has revoke ok all admin
ok "$COFFER" principal disable "$A" bob --as admin --passphrase-file "$(pw admin)"
audit_has principal-disable ok bob admin
expect_rc 2 "$COFFER" chats "$A" --as bob --passphrase-file "$(pw bob)"
grep -q "disabled" "$T/err" || fail "disabled principal: unclear error: $(cat "$T/err")"
audit_has unlock denied "" bob
ok "$COFFER" principal enable "$A" bob --as admin --passphrase-file "$(pw admin)"
audit_has principal-enable ok bob admin
ok "$COFFER" verify "$A"
audit_has verify ok
ok "$COFFER" recover "$A" --recovery-key-file "$T/recovery.key" --new-admin admin2 \
    --new-passphrase-file "$(pw admin2)"
audit_has recover ok admin2 "#recovery"

# no plaintext in the log, in either form
ok "$COFFER" audit "$A" export -o "$T/audit.jsonl"
[ "$(wc -l <"$T/audit.jsonl")" -ge 25 ] || fail "export too short: $(wc -l <"$T/audit.jsonl")"
"$COFFER" audit "$A" show >"$T/audit.txt"
for f in "$T/audit.jsonl" "$T/audit.txt"; do
	for s in "$TITLE_A" "$TITLE_B" "$SENDER_A1" "$SENDER_B1" "$BODY_A1" "$BODY_B1" \
	    zephyrword marmaladeword photo.bin Zanzibar; do
		if grep -a -F -q -e "$s" "$f"; then fail "plaintext '$s' in $(basename "$f")"; fi
	done
done
# an admin asking for titles sees them, and that is audited
ok "$COFFER" audit "$A" show --as admin --passphrase-file "$(pw admin)"
grep -F -q "title=$TITLE_A" "$T/out" || fail "show --as admin: no titles"
audit_has audit-show ok "" admin

# ---- the chain ---------------------------------------------------------
ok "$COFFER" audit "$A" verify
grep -q "chain intact" "$T/out" || fail "verify: $(cat "$T/out")"
ok "$COFFER" audit "$A" head
HEAD=$(cat "$T/out")
echo "$HEAD" | grep -Eq '^[0-9]+:[0-9a-f]{64}$' || fail "head: $HEAD"
ok "$COFFER" audit "$A" verify --head "$HEAD"

# a snapshot of the keystore, then more actions, a new head
cp -a "$A" "$T/old"
ok "$COFFER" verify "$A"
ok "$COFFER" audit "$A" head
HEAD2=$(cat "$T/out")
# rolled back to the snapshot: intact alone, truncated against the head
ok "$COFFER" audit "$T/old" verify
expect_rc 1 "$COFFER" audit "$T/old" verify --head "$HEAD2"
grep -q "truncated" "$T/out" || fail "truncation not named: $(cat "$T/out")"

# edit record 2 (principal-add alice: "alice" -> "alicf") with mdb_dump/load
command -v mdb_dump >/dev/null && command -v mdb_load >/dev/null ||
    skip "mdb_dump/mdb_load (lmdb-utils) not installed"
cp -a "$A" "$T/edit"
mdb_dump -s audit "$T/edit/keystore" >"$T/dump" || fail "mdb_dump failed"
awk 'prev == " 0000000000000002" { sub(/616c696365/, "616c696366") } { print; prev = $0 }' \
    "$T/dump" >"$T/dump2"
cmp -s "$T/dump" "$T/dump2" && fail "the edit did not change the dump"
mdb_load -s audit -f "$T/dump2" "$T/edit/keystore" 2>"$T/load.err" ||
    fail "mdb_load failed: $(cat "$T/load.err")"
expect_rc 1 "$COFFER" audit "$T/edit" verify
grep -q "broken at record 2" "$T/out" || fail "edit not found at 2: $(cat "$T/out")"

# ---- fail closed ---------------------------------------------------------
[ "$(id -u)" -eq 0 ] || { note "not root: fail-closed part skipped"; exit 0; }
HOLD="$BIN/tests/tools/ks_hold"
[ -x "$HOLD" ] || fail "$HOLD not built"
FS="$T/fs"
mkdir "$FS"
mount -t tmpfs -o size=16m,mode=0700 coffer-t41 "$FS" 2>"$T/tmpfs.err" || {
	note "cannot mount a tmpfs: $(cat "$T/tmpfs.err"); fail-closed part skipped"
	exit 0
}
fs_cleanup() {
	[ -n "${HOLD_PID:-}" ] && kill "$HOLD_PID" 2>/dev/null
	for m in $MOUNTS; do
		fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || true
	done
	MOUNTS=""
	umount "$FS" 2>/dev/null || umount -l "$FS" 2>/dev/null
	cleanup
}
trap fs_cleanup EXIT
cp -a "$A" "$FS/a"
A="$FS/a"
ok "$COFFER" grant "$A" "$B_ID" --to alice --as admin --passphrase-file "$(pw admin)"
mount_as "$A" "$T/m3" alice || fail "mount failed: $(cat "$T/mount.err")"
d="$T/m3/$(ls "$T/m3")"
# hold a snapshot (every write must now grow data.mdb), then fill the disk
mkfifo "$T/hold.in"
"$HOLD" "$A" <"$T/hold.in" >"$T/hold.out" 2>&1 &
HOLD_PID=$!
exec 9>"$T/hold.in"
i=0
until grep -q holding "$T/hold.out"; do
	i=$((i + 1)); [ $i -gt 50 ] && fail "ks_hold did not start: $(cat "$T/hold.out")"; sleep 0.1
done
head -c 20m /dev/zero >"$FS/filler" 2>/dev/null
# pages freed before the snapshot may still be reused: use them up with
# audited commands until one cannot write its record (and so fails)
i=0
while "$COFFER" verify "$A" >/dev/null 2>"$T/verify.err"; do
	i=$((i + 1))
	[ $i -gt 300 ] && fail "the keystore never ran out of space"
done
grep -q "No space left\|MDB_MAP_FULL\|space" "$T/verify.err" ||
    fail "verify failed for another reason: $(cat "$T/verify.err")"
f=$(cd "$d" && ls | grep '\.txt$' | grep -v info | head -n 1)
if cat "$d/$f" >"$T/read.out" 2>"$T/read.err"; then
	fail "a read whose audit record cannot be written succeeded"
fi
grep -q "Permission denied" "$T/read.err" || fail "refused read: not EACCES: $(cat "$T/read.err")"
# a command that cannot audit refuses too
expect_rc 2 "$COFFER" chats "$A" --as alice --passphrase-file "$(pw alice)"
grep -q "$TITLE_B" "$T/out" && fail "chats listed titles without an audit record"
# space again: the same read works and is recorded
exec 9>&-
wait "$HOLD_PID" 2>/dev/null
HOLD_PID=""
rm -f "$FS/filler"
cat "$d/$f" >/dev/null || fail "read still refused after space was freed"
unmount "$T/m3"
[ "$(audit_count read "$B_ID/$f")" -eq 1 ] || fail "the read after recovery was not recorded once"
ok "$COFFER" audit "$A" verify
exit 0
