# t42: retention, legal holds and shredding (issue 4; property 10).
# A default retention and two per-conversation overrides (a shorter one and
# "forever") over conversations last written in 2015, 2016, 2017, 2019 and
# 2024 (tests/fixtures/retention/): expire --dry-run lists exactly the
# conversations past retention and changes nothing; a legal hold blocks
# shred (audited as denied) and expire (listed as held) until it is lifted;
# expire shreds exactly what it listed; after a shred the conversation is
# gone for admin and reviewers, its files are gone, verify passes and the
# audit chain holds the records.  Then acceptance 3: the blob files copied
# before the shreds, put back beside the current keystore, open nothing of
# the shredded conversations for any identity (admin, a reviewer that had
# a grant, the recovery key through a new admin): not listed, not mounted,
# not decrypted by verify --deep; the other conversations still work.
# The flip side is shown too: the keystore copied before the shred still
# opens them with the recovery key (docs/RETENTION.md: keystore backups
# must expire).  The default retention grows with the year the test runs
# in (7y in 2026), so that the 2015 conversation is always past it and the
# scenario's conversations of 2024 and 2025 never are.
. "$(dirname "$0")/lib.sh"
DEF_Y=$(( $(date -u +%Y) - 2019 ))
DEF="${DEF_Y}y"
need_fuse
scenario_setup
FIX="$TOP/tests/fixtures/retention"
ok "$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" "$FIX/chats.jsonl"
ADM="--as admin --passphrase-file $(pw admin)"

O15=$(chat_id admin "Board 2015")
H16=$(chat_id admin "Litigation 2016")
F17=$(chat_id admin "Charter 2017")
V19=$(chat_id admin "Pensions 2019")
R24=$(chat_id admin "Budget 2024")
ID_B=$(chat_id admin "$TITLE_B")
for id in "$O15" "$H16" "$F17" "$V19" "$R24" "$ID_B"; do
	[ ${#id} -eq 32 ] || fail "a conversation id is missing: '$id'"
done

# who sees what: alice holds grants on the 2015 one and B, bob --all
ok "$COFFER" grant "$A" "$O15" --to alice $ADM
ok "$COFFER" grant "$A" "$ID_B" --to alice $ADM
ok "$COFFER" grant "$A" --all --to bob $ADM
sees() { # sees ARCHIVE NAME: ids NAME may read, sorted
	"$COFFER" chats "$1" --as "$2" --passphrase-file "$(pw "$2")" | tail -n +2 | cut -f1 | sort
}
[ "$(sees "$A" alice | wc -l)" -eq 2 ] || fail "alice: $(sees "$A" alice)"
[ "$(sees "$A" bob | wc -l)" -eq 7 ] || fail "bob: $(sees "$A" bob)"

# ---- usage and permissions ------------------------------------------------
expect_rc 2 "$COFFER" retention "$A" --default $ADM
grep -q -- "--keep" "$T/err" || fail "no hint about --keep: $(cat "$T/err")"
expect_rc 2 "$COFFER" retention "$A" --default --keep 7 $ADM
expect_rc 2 "$COFFER" retention "$A" --default --keep 0d $ADM
expect_rc 2 "$COFFER" retention "$A" --default --keep 7y --remove $ADM
expect_rc 2 "$COFFER" hold "$A" "$O15" --add $ADM
expect_rc 2 "$COFFER" retention "$A" --default --keep 1d --as alice --passphrase-file "$(pw alice)"
expect_rc 2 "$COFFER" shred "$A" "$O15" --as bob --passphrase-file "$(pw bob)"
expect_rc 2 "$COFFER" expire "$A" --as feeder --passphrase-file "$(pw feeder)"
ok "$COFFER" shred --help
grep -q "coffer shred ARCHIVE CHAT --as ADMIN" "$T/out" || fail "shred --help: $(cat "$T/out")"

# ---- retention and hold ---------------------------------------------------
ok "$COFFER" retention "$A" --default --keep "$DEF" $ADM
ok "$COFFER" retention "$A" "Pensions 2019" --keep 5y $ADM
ok "$COFFER" retention "$A" "$F17" --keep forever $ADM
ok "$COFFER" retention "$A" "$R24" --keep 1y6m $ADM
ok "$COFFER" retention "$A" "$R24" --remove $ADM
expect_rc 2 "$COFFER" retention "$A" "$R24" --remove $ADM
ok "$COFFER" retention "$A" --list $ADM
[ "$(tail -n +2 "$T/out" | wc -l)" -eq 3 ] || fail "retention --list: $(cat "$T/out")"
grep -q "^default	$DEF	.*	admin	yes	$" "$T/out" || fail "default retention: $(cat "$T/out")"
grep -q "^$V19	5y	.*	yes	Pensions 2019$" "$T/out" || fail "override: $(cat "$T/out")"
grep -q "^$F17	forever	" "$T/out" || fail "forever: $(cat "$T/out")"

REASON="Case 2016-17, Acme v. Example (counsel: R. Stone)"
ok "$COFFER" hold "$A" "Litigation 2016" --add --reason "$REASON" $ADM
ok "$COFFER" hold "$A" --list $ADM
[ "$(tail -n +2 "$T/out" | wc -l)" -eq 1 ] || fail "hold --list: $(cat "$T/out")"
grep -q "^$H16	.*	admin	yes	$REASON	Litigation 2016$" "$T/out" || fail "hold: $(cat "$T/out")"
expect_rc 2 "$COFFER" hold "$A" "$F17" --remove $ADM

# a hold blocks shred; the refusal names the reason and is audited
expect_rc 2 "$COFFER" shred "$A" "$H16" $ADM
grep -q "legal hold" "$T/err" && grep -q "Acme v. Example" "$T/err" ||
    fail "the refusal does not say why: $(cat "$T/err")"
"$COFFER" audit "$A" show >"$T/show" || fail "audit show"
awk -F '\t' -v o="$H16" '$4 == "shred" && $5 == o && $6 == "denied"' "$T/show" | grep -q . ||
    fail "no denied shred record: $(tail -n 5 "$T/show")"
sees "$A" admin | grep -qx "$H16" || fail "a held conversation went"

# ---- expire --dry-run: exactly the past-retention ones, nothing changes ---
blobs_list() { (cd "$1/blobs" && find . -type f | sort); }
blobs_list "$A" >"$T/files.before"
cp "$A/keystore/data.mdb" "$T/ks.before"
ok "$COFFER" expire "$A" --dry-run $ADM
awk -F '\t' '$1 == "due" { print $2 }' "$T/out" | sort >"$T/due"
printf '%s\n%s\n' "$O15" "$V19" | sort >"$T/want"
cmp -s "$T/due" "$T/want" || fail "dry run lists $(cat "$T/due"), wanted $(cat "$T/want"): $(cat "$T/out")"
awk -F '\t' '$1 == "held" { print $2 }' "$T/out" >"$T/held"
[ "$(cat "$T/held")" = "$H16" ] || fail "held: $(cat "$T/out")"
[ "$(awk -F '\t' '$1 != "STATE" && NF > 1' "$T/out" | wc -l)" -eq 3 ] ||
    fail "the dry run lists more: $(cat "$T/out")"
grep -q "^due	$O15	2015-06-30T17:30:00Z	$DEF (default)	$((2015 + DEF_Y))-06-30T17:30:00Z	-	Board 2015$" \
    "$T/out" || fail "dry run line of the 2015 conversation: $(cat "$T/out")"
grep -q "^due	$V19	2019-12-31T23:00:00Z	5y	2024-12-31T23:00:00Z	" "$T/out" ||
    fail "dry run line of the 2019 conversation: $(cat "$T/out")"
blobs_list "$A" | cmp -s - "$T/files.before" || fail "the dry run changed blobs/"
[ "$(sees "$A" admin | wc -l)" -eq 7 ] || fail "the dry run removed a conversation"

# ---- the archive as a backup had it, before anything is shredded ----------
cp -a "$A" "$T/before"

# ---- expire: shreds exactly those, keeps the held one ---------------------
ok "$COFFER" expire "$A" $ADM
awk -F '\t' '$1 == "shredded" { print $2 }' "$T/out" | sort >"$T/shredded"
cmp -s "$T/shredded" "$T/want" || fail "expire shredded $(cat "$T/shredded"): $(cat "$T/out")"
awk -F '\t' '$1 == "held" { print $2 }' "$T/out" | grep -qx "$H16" || fail "held: $(cat "$T/out")"
for who in admin alice bob; do
	sees "$A" "$who" | grep -q -e "$O15" -e "$V19" && fail "$who still sees a shredded conversation"
done
[ "$(sees "$A" admin | wc -l)" -eq 5 ] || fail "admin: $(sees "$A" admin)"
[ "$(sees "$A" alice)" = "$ID_B" ] || fail "alice: $(sees "$A" alice)"
ok "$COFFER" expire "$A" --dry-run $ADM
[ "$(awk -F '\t' '$1 == "due"' "$T/out" | wc -l)" -eq 0 ] || fail "still due: $(cat "$T/out")"

# lifting the hold lets shred through
expect_rc 2 "$COFFER" hold "$A" "$H16" --remove --reason "$(head -c 300 /dev/zero | tr '\0' x)" $ADM
ok "$COFFER" hold "$A" "$H16" --remove --reason "case closed" $ADM
ok "$COFFER" shred "$A" "Litigation 2016" $ADM
grep -q "^shredded $H16: " "$T/out" || fail "shred output: $(cat "$T/out")"
sees "$A" admin | grep -q "$H16" && fail "the shredded conversation is still listed"
expect_rc 2 "$COFFER" shred "$A" "$H16" $ADM
ok "$COFFER" hold "$A" --list $ADM
[ "$(tail -n +2 "$T/out" | wc -l)" -eq 0 ] || fail "a hold outlived its conversation"
ok "$COFFER" retention "$A" --list $ADM
grep -q "$V19" "$T/out" && fail "a retention outlived its conversation"

# exactly the files of the shredded conversations are gone
blobs_list "$A" >"$T/files.after"
comm -23 "$T/files.before" "$T/files.after" >"$T/files.gone"
comm -13 "$T/files.before" "$T/files.after" | grep -q . && fail "new files appeared"
[ "$(wc -l <"$T/files.gone")" -eq 4 ] ||   # 2015: a segment and memo.txt; 2016, 2019: a segment
    fail "removed files: $(cat "$T/files.gone")"

ok "$COFFER" verify "$A"
grep -q "0 damaged, 0 unreferenced" "$T/out" || fail "verify after shred: $(cat "$T/out")"
ok "$COFFER" audit "$A" verify
"$COFFER" audit "$A" show >"$T/show" || fail "audit show"
has() { # has ACTION OBJECT RESULT
	awk -F '\t' -v a="$1" -v o="$2" -v r="$3" '$4 == a && $5 == o && $6 == r' "$T/show" |
	    grep -q . || fail "no '$1 $2 $3' audit record"
}
has retention default ok
has retention "$V19" ok
has hold "$H16" ok
has hold-remove "$H16" ok
has expire "$O15" ok
has expire "$V19" ok
has expire "$H16" denied
has shred "$H16" ok
for t in "Board 2015" "Litigation 2016" "Pensions 2019" pelicanword gannetword; do
	grep -q -F "$t" "$T/show" && fail "the audit log holds '$t'"
done
if command -v mdb_dump >/dev/null 2>&1; then
	for db in convs wraps convkeys grants blobs convblobs policy; do
		mdb_dump -s "$db" "$A/keystore" | grep -q -e "^ $O15" -e "^ $H16" -e "^ $V19" &&
		    fail "keystore $db still has a key of a shredded conversation"
	done
	for db in chatmap dedup; do
		mdb_dump -s "$db" "$A/keystore" | grep -q -e "01$O15\$" -e "01$H16\$" -e "01$V19\$" &&
		    fail "keystore $db still names a shredded conversation"
	done
fi

# ---- acceptance 3: old blobs + the current keystore open nothing shredded --
X="$T/mixed"
mkdir "$X"
cp -a "$A/COFFER" "$A/keystore" "$X/"
cp -a "$T/before/blobs" "$X/"
expect_rc 0 "$COFFER" verify "$X"
grep -q "0 damaged, 4 unreferenced" "$T/out" || fail "verify of the mixed copy: $(cat "$T/out")"
ok "$COFFER" recover "$X" --recovery-key-file "$T/recovery.key" --new-admin rescuer \
    --new-passphrase-file "$(pw rescuer)"
A="$X"
for who in admin alice bob rescuer; do
	sees "$X" "$who" >"$T/sees.$who"
	grep -q -e "$O15" -e "$H16" -e "$V19" "$T/sees.$who" &&
	    fail "$who lists a shredded conversation from the old blobs"
	ok "$COFFER" verify "$X" --deep --as "$who" --passphrase-file "$(pw "$who")"
	grep -q -e "$O15" -e "$H16" -e "$V19" "$T/out" && fail "verify --deep as $who: $(cat "$T/out")"
	mount_as "$X" "$T/m-$who" "$who" || fail "mount as $who: $(cat "$T/mount.err")"
	grep -r -q -e pelicanword -e gannetword -e ternword "$T/m-$who" &&
	    fail "$who reads a shredded conversation through the mount"
	ls "$T/m-$who" | grep -q -e "Board 2015" -e "Litigation 2016" -e "Pensions 2019" &&
	    fail "$who's mount shows a shredded conversation"
	unmount "$T/m-$who"
done
[ "$(wc -l <"$T/sees.rescuer")" -eq 4 ] || fail "rescuer: $(cat "$T/sees.rescuer")"
[ "$(cat "$T/sees.alice")" = "$ID_B" ] || fail "alice lost B: $(cat "$T/sees.alice")"
mount_as "$X" "$T/m-ok" alice || fail "mount: $(cat "$T/mount.err")"
grep -r -q marmaladeword "$T/m-ok" || fail "alice cannot read B any more"
unmount "$T/m-ok"
mount_as "$X" "$T/m-ok2" rescuer || fail "mount: $(cat "$T/mount.err")"
grep -r -q ospreyword "$T/m-ok2" && grep -r -q zephyrword "$T/m-ok2" ||
    fail "the rescuer cannot read the kept conversations"
unmount "$T/m-ok2"

# the flip side: the keystore copied before the shred still holds the
# wrapped keys; with the recovery key it reads the shredded conversations
# (hence docs/RETENTION.md: keystore backups must expire too)
A="$T/before"
ok "$COFFER" recover "$T/before" --recovery-key-file "$T/recovery.key" --new-admin rescuer \
    --new-passphrase-file "$(pw rescuer)"
sees "$T/before" rescuer | grep -q "$O15" ||
    fail "self-check: the old keystore should still open the 2015 conversation"
exit 0
