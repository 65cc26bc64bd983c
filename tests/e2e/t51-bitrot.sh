# t51: bit rot and tampering, one byte at a time, in every kind of file of
# the archive (issue 5).
#   1. Blob files: a byte flipped in each region of every blob (header
#      fields, first chunk, a middle chunk, the final chunk's ciphertext and
#      its tag) makes `coffer verify` exit 1 naming exactly the damaged
#      files; mounted as admin, exactly the files that depend on a damaged
#      blob read as EIO (a segment: every file of its conversation, whose
#      folder is built from all its segments; an attachment: its own file),
#      and every other file reads byte for byte as in the clean archive.
#   2. data.mdb: a byte flipped in one value (or key) of every
#      sub-database, field by field, is reported by `coffer verify` naming
#      the keystore, or, where only a key can tell (sealed boxes, the
#      conversation MAC), refused with a clear message by whoever uses it,
#      and by `verify --deep` as an admin; LMDB page headers (the meta
#      pages, a branch page, leaf pages) give a clear error, never a crash.
#   3. lock.mdb: garbage in it is harmless.
# Nothing may crash: no exit by a signal, no sanitizer report.
# Flips are undone by flipping again (blobs are never rewritten) or by
# copying data.mdb back (every command appends to the audit log).
. "$(dirname "$0")/lib.sh"
need_fuse
KSO="$BIN/tests/tools/ks_offsets"
[ -x "$KSO" ] || fail "$KSO is missing (make tests builds it)"

# ---- the archive ---------------------------------------------------------
# scenario_setup: conv-a (one segment, photo.bin of 150000 bytes: three
# chunks), conv-b (one segment).  A second batch adds a second segment to
# conv-b and creates conv-c, whose segment has three chunks (220 messages
# of ~750 bytes) and two attachments, one of them empty (one empty chunk).
scenario_setup
mkdir -p "$T/in2"
: >"$T/in2/empty.dat"
head -c 5000 /dev/urandom >"$T/in2/report.bin"
pad=$(head -c 700 /dev/zero | tr '\0' 'x')
{
	printf '{"chat": "conv-b", "id": "b3", "ts": "2024-11-04T09:00:00Z", "sender": "Carol", "body": "addendum"}\n'
	printf '{"chat": "conv-c", "chat_title": "Big chat", "id": "c0", "ts": "2025-01-01T00:00:00Z", "sender": "Dan", "body": "files", "attachments": [{"name": "empty.dat", "path": "empty.dat"}, {"name": "report.bin", "path": "report.bin"}]}\n'
	i=1
	while [ $i -le 220 ]; do
		printf '{"chat": "conv-c", "id": "c%d", "ts": "2025-01-%02dT10:%02d:00Z", "sender": "Dan", "body": "line %d %s"}\n' \
		    $i $(( (i % 28) + 1 )) $(( i % 60 )) $i "$pad"
		i=$((i + 1))
	done
} >"$T/in2/more.jsonl"
ok "$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" "$T/in2/more.jsonl"
G="--as admin --passphrase-file $(pw admin)"
ok "$COFFER" grant "$A" "$TITLE_B" --to alice --reason "case 7" $G
ok "$COFFER" grant "$A" --all --to bob $G

# ---- helpers -------------------------------------------------------------
# flip_byte FILE OFFSET: invert one byte in place
flip_byte() {
	local b
	b=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ')
	[ -n "$b" ] || fail "no byte at $2 of $1"
	printf "$(printf '\\%03o' $(( (b ^ 255) & 255 )))" |
	    dd of="$1" bs=1 seek="$2" count=1 conv=notrunc 2>/dev/null
}
u8_at() { od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' '; }
u64_at() { od -An -tu8 -j "$2" -N 8 "$1" | tr -d ' '; }        # host order: LE
hex_at() { od -An -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'; }

# run CMD...: run it with output in $T/out and $T/err, set $rc; a crash
# (signal, sanitizer report) fails the test whatever the status
run() {
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -ge 128 ] || grep -q -e "AddressSanitizer" -e "LeakSanitizer" \
	    -e "runtime error" -e "Assertion" "$T/err"; then
		echo "--- stderr"; cat "$T/err"
		fail "'$*' crashed (exit $rc) ($what)"
	fi
}

# ---- the clean archive: what every file of the mount holds -----------------
run "$COFFER" verify "$A"
[ $rc -eq 0 ] && grep -q "0 damaged, 0 unreferenced" "$T/out" ||
    fail "fresh archive not clean: $(cat "$T/out" "$T/err")"
mount_as "$A" "$T/m0" admin || fail "mount failed: $(cat "$T/mount.err")"
(cd "$T/m0" && find . -type f | sed 's|^\./||' | LC_ALL=C sort) >"$T/files"
: >"$T/clean"
while read -r f; do
	s=$(sha256sum <"$T/m0/$f" | cut -d' ' -f1) || fail "clean read of $f"
	printf '%s\t%s\t%s\n' "$s" "$(stat -c %s "$T/m0/$f")" "$f" >>"$T/clean"
done <"$T/files"
ls "$T/m0" >"$T/root"
# conversation id -> folder
: >"$T/folders"
for d in "$T/m0"/*/; do
	id=$(sed -n 's/^Conversation: //p' "$d/info.txt")
	printf '%s\t%s\n' "$id" "$(basename "$d")" >>"$T/folders"
done
unmount "$T/m0"
[ "$(wc -l <"$T/folders")" -eq 3 ] || fail "expected 3 conversations: $(cat "$T/folders")"
grep -q "attachments/empty.dat" "$T/files" || fail "no empty attachment: $(cat "$T/files")"

# ---- 1. blob files ---------------------------------------------------------
# Per blob: kind, conversation, plaintext size, chunk count, and the mount
# files that depend on it.
CH=65536
: >"$T/blobs"
for f in $(cd "$A" && find blobs -type f | LC_ALL=C sort); do
	kind=$(u8_at "$A/$f" 9)
	conv=$(hex_at "$A/$f" 32 16)
	plain=$(u64_at "$A/$f" 144)
	folder=$(awk -F '\t' -v c="$conv" '$1 == c { print $2 }' "$T/folders")
	[ -n "$folder" ] || fail "$f: conversation $conv has no folder"
	key=$(echo "$f" | tr '/' '_')
	if [ "$kind" = 1 ]; then
		awk -F '\t' -v p="$folder/" 'index($3, p) == 1 { print $3 }' "$T/clean" >"$T/dep.$key"
	else
		awk -F '\t' -v p="$folder/attachments/" -v s="$plain" \
		    'index($3, p) == 1 && $2 == s { print $3 }' "$T/clean" >"$T/dep.$key"
	fi
	[ "$(wc -l <"$T/dep.$key")" -ge 1 ] || fail "$f: no mount file depends on it"
	[ "$kind" = 1 ] || [ "$(wc -l <"$T/dep.$key")" -eq 1 ] ||
	    fail "$f: attachment size $plain is not unique in $folder"
	printf '%s %s %s %s\n' "$f" "$kind" "$conv" "$plain" >>"$T/blobs"
done
[ "$(wc -l <"$T/blobs")" -eq 7 ] || fail "expected 7 blobs: $(cat "$T/blobs")"
awk '$2 == 1' "$T/blobs" | wc -l | grep -qx 4 || fail "expected 4 segments"

# Rounds: sets of blobs whose dependent files do not overlap (at most one
# segment per conversation, and no attachment of a conversation whose
# segment is in the set), so that one mount checks them all.
: >"$T/rounds"
for pass in 1 2; do
	while read -r f kind conv plain; do
		[ $pass = 1 ] && [ "$kind" != 1 ] && continue
		[ $pass = 2 ] && [ "$kind" = 1 ] && continue
		r=1
		while :; do
			if [ "$kind" = 1 ]; then
				grep -q -e "^$r S $conv" -e "^$r A $conv" "$T/rounds" || break
			else
				grep -q "^$r S $conv" "$T/rounds" || break
			fi
			r=$((r + 1))
		done
		if [ "$kind" = 1 ]; then k=S; else k=A; fi
		echo "$r $k $conv $f" >>"$T/rounds"
	done <"$T/blobs"
done
NROUNDS=$(cut -d' ' -f1 "$T/rounds" | sort -n | tail -1)
note "blobs: $(cat "$T/blobs" | tr '\n' ';')"
note "rounds: $(cat "$T/rounds" | tr '\n' ';')"

# offset REGION BLOB PLAIN: the file offset of REGION in the blob, empty if
# it has none.  Chunk i starts at 160 + i * 65552; there are n chunks.
offset() {
	local n last lastlen size
	if [ "$3" -eq 0 ]; then n=1; else n=$(( ($3 + CH - 1) / CH )); fi
	last=$((160 + (n - 1) * (CH + 16)))
	lastlen=$(( $3 - (n - 1) * CH ))
	size=$((160 + 16 * n + $3))
	case $1 in
	magic) echo 3 ;; kind) echo 9 ;; chunksize) echo 13 ;; archive) echo 20 ;;
	conv) echo 40 ;; blobid) echo 56 ;; sealedkey) echo 100 ;; psize) echo 144 ;;
	reserved) echo 155 ;;
	first) if [ "$3" -ge 40 ]; then echo 180; else echo 160; fi ;;
	middle) [ $n -ge 3 ] && echo $((160 + CH + 16 + 1000)) ;;
	finalct) [ $n -ge 2 ] && [ $lastlen -gt 0 ] && echo $((last + lastlen / 2)) ;;
	tag) echo $((size - 1)) ;;
	esac
	return 0
}

# damage_check FLIPS: FLIPS lists "blob offset" lines, flipped already.
# verify names each blob and nothing else; then, mounted, exactly the files
# that depend on them fail with EIO and the rest read as when clean.
damage_check() {
	local f off n m
	run "$COFFER" verify "$A"
	[ $rc -eq 1 ] || fail "$what: verify exited $rc: $(cat "$T/out" "$T/err")"
	n=$(wc -l <"$1")
	grep -q " $n damaged" "$T/out" || fail "$what: not $n damaged: $(cat "$T/out")"
	: >"$T/affected"
	while read -r f off; do
		grep -q "$A/$f: content hash does not match" "$T/out" ||
		    fail "$what: verify does not name $f: $(cat "$T/out")"
		cat "$T/dep.$(echo "$f" | tr '/' '_')" >>"$T/affected"
	done <"$1"
	[ -n "${2:-}" ] || return 0
	m="$T/m"
	mount_as "$A" "$m" admin || fail "$what: mount failed: $(cat "$T/mount.err")"
	ls "$m" | cmp -s - "$T/root" || fail "$what: the root lists other folders"
	while IFS='	' read -r sum size f; do
		# An empty file is never read from the daemon (the kernel knows
		# its size): a damaged empty attachment reads as empty, which is
		# its content; verify reports the blob.
		if grep -qxF "$f" "$T/affected"; then
			if cat "$m/$f" >"$T/got" 2>"$T/cerr"; then
				[ "$size" -eq 0 ] && [ ! -s "$T/got" ] ||
				    fail "$what: $f reads despite the damage"
			else
				grep -q "Input/output error" "$T/cerr" ||
				    fail "$what: $f: not EIO: $(cat "$T/cerr")"
			fi
		else
			got=$(sha256sum "$m/$f" 2>"$T/cerr" | cut -d' ' -f1)
			[ "$got" = "$sum" ] ||
			    fail "$what: $f does not read as when clean: $(cat "$T/cerr")"
		fi
	done <"$T/clean"
	unmount "$m"
}

# undo FLIPS: flip the same bytes back
undo() {
	local f off
	while read -r f off; do flip_byte "$A/$f" "$off"; done <"$1"
}

# Each region of each blob, in one mount per round: every header field
# checked by verify, then the chunks, also read through a mount.
HDR="magic archive conv blobid sealedkey psize kind chunksize reserved"
nflips=0
for region in $HDR first middle finalct tag; do
	for r in $(seq 1 "$NROUNDS"); do
		: >"$T/flips"
		j=0
		for f in $(awk -v r="$r" '$1 == r { print $4 }' "$T/rounds"); do
			plain=$(awk -v f="$f" '$1 == f { print $4 }' "$T/blobs")
			off=$(offset "$region" "$f" "$plain")
			[ -n "$off" ] || continue
			echo "$f $off" >>"$T/flips"
			j=$((j + 1))
		done
		[ -s "$T/flips" ] || continue
		while read -r f off; do flip_byte "$A/$f" "$off"; done <"$T/flips"
		what="$region, round $r"
		nflips=$((nflips + j))
		case $region in
		first|middle|finalct|tag) damage_check "$T/flips" mount ;;
		*) damage_check "$T/flips" ;;
		esac
		undo "$T/flips"
	done
done
note "blob flips: $nflips"
[ $nflips -ge 60 ] || fail "only $nflips blob regions damaged"
# The header read through a mount: in two mounts per round, the blob on
# line j of $T/blobs has header field (j + k) mod 6 of the list damaged, so
# that every field is read damaged in segments and in attachments.
hm_field() {
	set -- $(( $1 % 6 ))
	case $1 in 0) echo magic ;; 1) echo archive ;; 2) echo conv ;; 3) echo blobid ;;
	4) echo sealedkey ;; 5) echo psize ;; esac
}
for k in 0 1; do
	for r in $(seq 1 "$NROUNDS"); do
		: >"$T/flips"
		for f in $(awk -v r="$r" '$1 == r { print $4 }' "$T/rounds"); do
			j=$(grep -n "^$f " "$T/blobs" | cut -d: -f1)
			plain=$(awk -v f="$f" '$1 == f { print $4 }' "$T/blobs")
			region=$(hm_field $((j + k)))
			off=$(offset "$region" "$f" "$plain")
			echo "$f $off" >>"$T/flips"
			flip_byte "$A/$f" "$off"
		done
		what="header (mounted, step $k), round $r: $(tr '\n' ' ' <"$T/flips")"
		damage_check "$T/flips" mount
		undo "$T/flips"
	done
done
run "$COFFER" verify "$A"
[ $rc -eq 0 ] || fail "the blobs were not restored: $(cat "$T/out")"

# ---- 2. data.mdb -----------------------------------------------------------
# Offsets of every key and value in the pristine data.mdb (every command
# appends to the audit log, so data.mdb is copied back after each flip).
KS="$A/keystore"
cp "$KS/data.mdb" "$T/data.pristine"
"$KSO" "$A" >"$T/offsets" 2>"$T/err" || fail "ks_offsets: $(cat "$T/err")"
cmp -s "$KS/data.mdb" "$T/data.pristine" || fail "ks_offsets wrote to data.mdb"
PSIZE=$(awk '$1 == "psize" { print $2 }' "$T/offsets")
ID_A=$(awk -F '\t' -v t="$TITLE_A" '$2 == t { print $1 }' "$T/folders")
ID_B=$(awk -F '\t' -v t="$TITLE_B" '$2 == t { print $1 }' "$T/folders")
ID_C=$(awk -F '\t' '$2 == "Big chat" { print $1 }' "$T/folders")
hexname() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

# val DB KEYHEX: "keyoff keylen valoff vallen" of that entry
val() {
	awk -v d="$1" -v k="$2" '$1 == "val" && $2 == d && $3 == k { print $4, $5, $6, $7 }' \
	    "$T/offsets"
}
# first_val DB: the same for the first entry whose key starts with $2
first_val() {
	awk -v d="$1" -v k="$2" '$1 == "val" && $2 == d && index($3, k) == 1 {
	    print $4, $5, $6, $7; exit }' "$T/offsets"
}
restore_ks() { cp "$T/data.pristine" "$KS/data.mdb"; }

# ks_flip WHAT OFFSET EXPECT: flip the byte at OFFSET of data.mdb, run
# verify, check EXPECT, restore.  EXPECT:
#   found     verify exits 1 and a line names ARCHIVE/keystore
#   file      verify exits 1 and a line names a blob file
#   refused   verify exits 2 with one clear line naming ARCHIVE/keystore
#   either    found or refused
#   any       either, or exit 0 (LMDB does not read the byte)
#   keyless   verify cannot tell (needs a key): exits 0; the caller then
#             checks what does tell
#   harmless  verify exits 0 (GAP where marked)
#   custom    the caller checks
ks_flip() {
	what="$1 (data.mdb offset $2)"
	restore_ks
	flip_byte "$KS/data.mdb" "$2"
	run "$COFFER" verify "$A"
	case $3 in
	found)  ks_found || fail "$what: not found by verify (exit $rc): $(cat "$T/out" "$T/err")" ;;
	file)
		[ $rc -eq 1 ] && grep -q "^$A/blobs/" "$T/out" ||
		    fail "$what: verify exit $rc: $(cat "$T/out" "$T/err")" ;;
	refused) ks_refused || fail "$what: verify exit $rc: $(cat "$T/out" "$T/err")" ;;
	either) ks_found || ks_refused || fail "$what: verify exit $rc: $(cat "$T/out" "$T/err")" ;;
	any)
		[ $rc -eq 0 ] || ks_found || ks_refused ||
		    fail "$what: verify exit $rc: $(cat "$T/out" "$T/err")" ;;
	keyless|harmless)
		[ $rc -eq 0 ] || fail "$what: verify exited $rc: $(cat "$T/out" "$T/err")" ;;
	custom) ;;                              # the caller checks
	esac
}
ks_found() { [ $rc -eq 1 ] && grep -q "^$A/keystore: " "$T/out"; }
ks_refused() {
	[ $rc -eq 2 ] && grep -q "$A/keystore" "$T/err" && [ "$(grep -c . "$T/err")" -eq 1 ]
}

# ks_value DB KEYHEX FIELD-OFFSET EXPECT: flip byte FIELD-OFFSET of a value
ks_value() {
	set -- "$1" "$2" "$3" "$4" $(val "$1" "$2")
	[ -n "${7:-}" ] || fail "no $1 entry with key $2"
	[ "$3" -lt "$8" ] || fail "$1: offset $3 past a value of $8 bytes"
	ks_flip "$1 value byte $3" $(($7 + $3)) "$4"
}
# ks_key DB KEYHEX BYTE EXPECT: flip byte BYTE of a key
ks_key() {
	set -- "$1" "$2" "$3" "$4" $(val "$1" "$2")
	[ -n "${5:-}" ] || fail "no $1 entry with key $2"
	ks_flip "$1 key byte $3" $(($5 + $3)) "$4"
}
# mount_refused NAME PATTERN: mounting as NAME fails, clearly, no crash
mount_refused() {
	run "$COFFER" mount "$A" "$T/mr" --as "$1" --passphrase-file "$(pw "$1")"
	mkdir -p "$T/mr"
	if mountpoint -q "$T/mr"; then
		fusermount3 -u "$T/mr"
		fail "$what: mounting as $1 worked"
	fi
	[ $rc -ne 0 ] || fail "$what: mount as $1 exited 0"
	grep -q -e "$2" "$T/err" || fail "$what: mount as $1: unclear error: $(cat "$T/err")"
}
# deep_found NAME PATTERN: verify --deep as NAME finds it
deep_found() {
	run "$COFFER" verify "$A" --deep --as "$1" --passphrase-file "$(pw "$1")"
	[ $rc -eq 1 ] && grep -q -e "$2" "$T/out" ||
	    fail "$what: verify --deep as $1 (exit $rc): $(cat "$T/out" "$T/err")"
}

# meta (237 bytes): layout, format version, archive id, recovery key,
# sealed ingest key, created, signing key, signature
ks_value meta 61726368697665 0 refused
grep -q "bad meta record" "$T/err" || fail "meta layout: $(cat "$T/err")"
ks_value meta 61726368697665 1 custom
[ $rc -eq 2 ] && grep -q "format version" "$T/err" && [ "$(grep -c . "$T/err")" -eq 1 ] ||
    fail "meta version: $(cat "$T/err")"
for o in 5 30 100 135 150 180 236; do
	ks_value meta 61726368697665 $o found
	grep -q "archive metadata is not signed" "$T/out" || fail "meta $o: $(cat "$T/out")"
done

# principals: alice (a reviewer, n = 5).  Signed fields, decoded fields,
# the Argon2id cost, and what only her passphrase can tell (salt, wrapped
# key): her mount is refused.
ALICE=$(hexname alice)
n=5
for o in 0 1 4 $((3 + n)) $((4 + n)) $((5 + n)) $((230 + n)); do
	ks_value principals "$ALICE" $o found
	grep -q "bad principals record" "$T/out" || fail "principal $o: $(cat "$T/out")"
done
for o in $((6 + n)) $((142 + n)) $((222 + n)) $((260 + n)) $((400 + n)); do
	ks_value principals "$ALICE" $o found
	grep -q "principal alice: the archive signature does not verify" "$T/out" ||
	    fail "principal $o: $(cat "$T/out")"
done
for o in $((38 + n)) $((40 + n)) $((46 + n)) $((49 + n)); do
	ks_value principals "$ALICE" $o found
	grep -q "principal alice: Argon2id cost" "$T/out" || fail "principal $o: $(cat "$T/out")"
done
for o in $((60 + n)) $((100 + n)); do
	ks_value principals "$ALICE" $o keyless
	mount_refused alice "wrong passphrase for alice"
done

# convs: conversation B.  Layout, id, segment count, metadata length, chat
# tag are seen by verify; the public key and the sealed title only by
# whoever opens them (the admin's mount is refused, naming the
# conversation); the creation time and the MAC by verify --deep as admin.
CONVB=$(val convs "$ID_B")
s=$(( $(echo "$CONVB" | cut -d' ' -f4) - 129 ))
for o in 0 1 57 61 $((65 + s + 3)); do
	ks_value convs "$ID_B" $o either
done
ks_value convs "$ID_B" 57 found
grep -q "conversation $ID_B: segment list is incomplete" "$T/out" || fail "$(cat "$T/out")"
ks_value convs "$ID_B" $((65 + s + 3)) found
grep -q "conversation $ID_B: no chat map entry names it" "$T/out" || fail "$(cat "$T/out")"
ks_value convs "$ID_B" 20 keyless
mount_refused admin "conversation $ID_B: wrapped key does not match the conversation"
ks_value convs "$ID_B" 90 keyless
mount_refused admin "conversation $ID_B: metadata does not open"
ks_value convs "$ID_B" 52 keyless
deep_found admin "conversation $ID_B .*integrity check"
ks_value convs "$ID_B" $((97 + s + 5)) keyless
deep_found admin "conversation $ID_B .*integrity check"

# wraps: conversation B's key for alice.  The sealed key opens only with
# her key: her mount is refused; the layout byte and the key are seen.
WKEY="$ID_B$ALICE"
ks_value wraps "$WKEY" 0 found
ks_value wraps "$WKEY" 40 keyless
mount_refused alice "conversation $ID_B: the key wrapped for alice does not open"
ks_key wraps "$WKEY" 18 found
grep -q "grant of $ID_B to alice: no key wrapped for it" "$T/out" || fail "$(cat "$T/out")"
ks_key wraps "$ID_A$(hexname admin)" 17 found
grep -q "conversation $ID_A: no key wrapped for admin admin" "$T/out" || fail "$(cat "$T/out")"
ks_key wraps "$ID_C$(hexname '#recovery')" 5 found
grep -q "conversation $ID_C: no key wrapped for the recovery key" "$T/out" ||
    fail "$(cat "$T/out")"

# grants: alice's (conversation B, reason "case 7") and bob's --all
GKEY="${ALICE}00$ID_B"
ks_value grants "$GKEY" 0 found
for o in 3 9 30 40 50 $((47 + 5 + 5 + 2)) 100; do
	ks_value grants "$GKEY" $o found
done
grep -q "grant of $ID_B to alice: the archive signature does not verify" "$T/out" ||
    fail "$(cat "$T/out")"
ks_value grants "$(hexname bob)0000000000000000000000000000000000" 30 found

# blobs: a segment's record and an attachment's, field by field.  Only the
# creation time goes unseen (GAP: blob records carry no signature or MAC;
# it is shown only by verify --deep's messages); the sealed summary opens
# only with the conversation key: the admin's mount is refused.
SEG=$(awk '$2 == 1 { print $1 }' "$T/blobs" | head -1 | sed 's|.*/||')
ATT=$(awk '$2 == 2 && $4 > 0 { print $1 }' "$T/blobs" | head -1 | sed 's|.*/||')
for b in "$SEG" "$ATT"; do
	for o in 0 1 20 33 34 40 49; do
		ks_value blobs "$b" $o found
	done
	ks_value blobs "$b" 60 file          # the hash: the file no longer matches
	ks_value blobs "$b" 90 harmless      # GAP: created (see the comment above)
done
ks_value blobs "$SEG" 96 found                # summary length
ks_value blobs "$SEG" 120 keyless
mount_refused admin "summary does not open"

# convblobs: the entry of conversation B's second segment
ks_value convblobs "${ID_B}00000001" 0 found
ks_value convblobs "${ID_B}00000001" 7 found
grep -q "names a blob with no record" "$T/out" || fail "$(cat "$T/out")"
ks_key convblobs "${ID_B}00000001" 19 found
ks_key convblobs "${ID_B}00000001" 3 found

# chatmap and dedup: the value (a conversation id) and the key (a tag)
set -- $(awk '$1 == "val" && $2 == "chatmap" { print $3; exit }' "$T/offsets")
ks_value chatmap "$1" 0 found
ks_value chatmap "$1" 9 found
ks_key chatmap "$1" 9 found
grep -q "no chat map entry names it" "$T/out" || fail "$(cat "$T/out")"
set -- $(awk '$1 == "val" && $2 == "dedup" { print $3; exit }' "$T/offsets")
ks_value dedup "$1" 0 found
ks_value dedup "$1" 9 found
grep -q "dedup entry .*: no such conversation" "$T/out" || fail "$(cat "$T/out")"
# GAP: a dedup key is a tag keyed with the ingest key; a damaged one is
# seen by nothing (a re-import of that one message would store it again).
ks_key dedup "$1" 9 harmless

# LMDB page headers: the two meta pages (every byte of the header and the
# magic), the root of dedup (a branch page), a leaf of principals and the
# leaf of the main database.  Either harmless (LMDB does not read the
# byte), or found or refused with one clear line; never a crash.
set -- $(awk '$1 == "db" && $2 == "dedup" { print $3, $4 }' "$T/offsets")
[ "$2" -ge 2 ] || fail "dedup has no branch page (depth $2)"
BRANCH=$1
PLEAF=$(( $(first_val principals "" | cut -d' ' -f3) / PSIZE ))
MLEAF=$(( $(first_val @main "" | cut -d' ' -f3) / PSIZE ))
for pg in 0 1 "$BRANCH" "$PLEAF" "$MLEAF"; do
	o=0
	while [ $o -lt 20 ]; do
		ks_flip "page $pg header byte $o" $((pg * PSIZE + o)) any
		o=$((o + 1))
		[ "$pg" -gt 1 ] && [ $o -eq 16 ] && break
	done
done
# the dedup tree (a tag per imported message, the largest) is checked when
# first used, not at open: with its root damaged, reading commands and the
# mount work, an import is refused with one clear line and stores nothing,
# and verify finds it (or refuses, naming the keystore)
what="dedup root page type"
restore_ks
flip_byte "$KS/data.mdb" $((BRANCH * PSIZE + 10))
run "$COFFER" chats "$A" $G
[ $rc -eq 0 ] || fail "$what: chats exited $rc: $(cat "$T/err")"
before=$(find "$A/blobs" -type f | wc -l)
printf '%s\n' '{"chat":"dd","ts":"2024-01-01T00:00:00Z","sender":"A","body":"after damage"}' \
    >"$T/dd.jsonl"
run "$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" "$T/dd.jsonl"
[ $rc -eq 2 ] && grep -q "$A/keystore: damaged" "$T/err" ||
    fail "$what: import exited $rc: $(cat "$T/err")"
[ "$(find "$A/blobs" -type f | wc -l)" -eq "$before" ] || fail "$what: the import left files"
run "$COFFER" verify "$A"
ks_found || ks_refused || fail "$what: verify exited $rc: $(cat "$T/out" "$T/err")"
restore_ks

# the meta pages' transaction ids: a damaged one would make LMDB read an
# older snapshot (or another page's); refused at open, or found by verify
for pg in 0 1; do
	for o in 144 145; do
		ks_flip "meta page $pg transaction id byte $((o - 144))" $((pg * PSIZE + o)) either
	done
done
# a damaged node offset in a leaf: refused at open, also for a mount
ks_flip "principals leaf header byte 13" $((PLEAF * PSIZE + 13)) refused
grep -q "$A/keystore: damaged" "$T/err" || fail "$what: $(cat "$T/err")"
mount_refused admin "keystore: damaged"
restore_ks
run "$COFFER" verify "$A"
[ $rc -eq 0 ] || fail "data.mdb was not restored: $(cat "$T/out")"

# ---- 3. lock.mdb -----------------------------------------------------------
what="lock.mdb garbage"
head -c "$(stat -c %s "$KS/lock.mdb")" /dev/urandom >"$KS/lock.mdb"
run "$COFFER" verify "$A"
[ $rc -eq 0 ] || fail "$what: verify exited $rc: $(cat "$T/out" "$T/err")"
mount_as "$A" "$T/ml" alice || fail "$what: mount failed: $(cat "$T/mount.err")"
ls "$T/ml" | grep -qx "$TITLE_B" || fail "$what: alice does not see her conversation"
unmount "$T/ml"
rm -f "$KS/lock.mdb"
run "$COFFER" verify "$A"
[ $rc -eq 0 ] || fail "lock.mdb removed: verify exited $rc: $(cat "$T/out" "$T/err")"
exit 0
