# t95: concurrency (issue 5).  Three mounts of different principals at
# once (alice: everything, bob: half, admin), several readers on each in
# parallel loops (grep -r, cat of everything, find -newermt, du, a reader
# that reads every file twice and compares), and imports running all the
# time.  Phase 1, a fixed view: no reader sees an error, every file reads
# the same twice in a row and as many bytes as its size, counts never
# change.  Phase 2, the same while alice's mount is refreshed again and
# again: still no error from the readers that walk with folder descriptors
# (grep -r, find, du); readers that reopen by full path are left out there,
# because a name can legitimately go away between listing and opening when
# a refresh shows new messages (attachment numbering follows message
# order).  At the end, after a last refresh, every message
# imported is shown exactly once.
# Quick mode: 5 s per phase.  COFFER_LONG_TESTS=1: 60 s per phase and a
# larger archive.
. "$(dirname "$0")/lib.sh"
need_fuse
if [ "${COFFER_LONG_TESTS:-0}" = 1 ]; then
	SECS=60 NCONV=40 NMSG=400 NBATCH=40
else
	SECS=5 NCONV=12 NMSG=120 NBATCH=12
fi
G="--as admin --passphrase-file $(pw admin)"
A="$T/archive"
new_archive "$A"
add_principal "$A" alice reviewer
add_principal "$A" bob reviewer
add_principal "$A" feeder ingest
mkdir -p "$T/in/files"
for i in 1 2 3 4; do head -c $((i * 70000)) /dev/urandom >"$T/in/files/f$i.bin"; done

# gen CONV_FIRST CONV_LAST MSG_FIRST MSG_LAST TAG: JSONL on stdout; message
# m of conversation c is dated from m (several days), every 25th has an
# attachment
gen() {
	awk -v c0="$1" -v c1="$2" -v m0="$3" -v m1="$4" -v tag="$5" 'BEGIN {
		for (c = c0; c <= c1; c++) for (m = m0; m <= m1; m++) {
			d = 1 + int(m / 40); h = int(m / 4) % 24; mi = m % 60;
			att = (m % 25 == 0) ? sprintf(", \"attachments\": [{\"name\": \"f%d.bin\", \"path\": \"files/f%d.bin\"}]", m % 4 + 1, m % 4 + 1) : "";
			printf "{\"chat\": \"c%03d\", \"chat_title\": \"Case %03d\", \"id\": \"%s-%d-%d\", \"ts\": \"2025-%02d-%02dT%02d:%02d:00Z\", \"sender\": \"S%d\", \"body\": \"heronword %s %d %d line\\nsecond line\"%s}\n", c, c, tag, c, m, 1 + d % 12, 1 + d % 28, h, mi, m % 5, tag, c, m, att;
		}
	}'
}
gen 1 "$NCONV" 1 "$NMSG" base >"$T/in/base.jsonl"
ok "$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" "$T/in/base.jsonl"
# batches for the importer: new messages in existing conversations and
# one new conversation each
b=1
while [ $b -le "$NBATCH" ]; do
	{ gen 1 "$NCONV" $((NMSG + b * 10)) $((NMSG + b * 10 + 9)) "b$b"
	  gen $((NCONV + b)) $((NCONV + b)) 1 5 "n$b"; } >"$T/in/batch$b.jsonl"
	b=$((b + 1))
done
ok "$COFFER" grant "$A" --all --to alice $G
c=1
while [ $c -le "$NCONV" ]; do
	ok "$COFFER" grant "$A" "$(printf 'Case %03d' $c)" --to bob $G
	c=$((c + 2))
done

MA="$T/ma" MB="$T/mb" MC="$T/mc"
mount_as "$A" "$MA" alice || fail "mount alice: $(cat "$T/mount.err")"
mount_as "$A" "$MB" bob || fail "mount bob: $(cat "$T/mount.err")"
mount_as "$A" "$MC" admin || fail "mount admin: $(cat "$T/mount.err")"
[ "$(ls "$MA" | wc -l)" -eq "$NCONV" ] || fail "alice sees $(ls "$MA" | wc -l) folders"
[ "$(ls "$MB" | wc -l)" -eq $(((NCONV + 1) / 2)) ] || fail "bob sees $(ls "$MB" | wc -l) folders"

BAD="$T/bad"
: >"$BAD"
bad() { echo "$*" >>"$BAD"; }

# loop NAME CMD...: run CMD until $END; any failure or stderr output is bad
loop() {
	local name n
	name=$1; shift
	n=0
	while [ "$(date +%s)" -lt "$END" ]; do
		"$@" >"$T/o.$name" 2>"$T/e.$name" || bad "$name: exit $? ($(head -c 300 "$T/e.$name"))"
		[ -s "$T/e.$name" ] && bad "$name: $(head -c 300 "$T/e.$name")"
		n=$((n + 1))
	done
	echo "$n" >"$T/n.$name"
}

cat_all() { find "$1" -type f -exec cat {} + | wc -c; }
newer() { find "$1" -type f -newermt '2025-03-01 00:00:00 UTC' | wc -l; }
du_s() { du -s --apparent-size -B1 "$1" | cut -f1; }

# same_twice DIR: each file reads the same twice in a row, st_size bytes
same_twice() {
	find "$1" -type f | while IFS= read -r f; do
		s=$(stat -c %s "$f") || exit 1
		x=$(cksum <"$f") || exit 1
		y=$(cksum <"$f") || exit 1
		[ "$x" = "$y" ] || { echo "torn: $f" >&2; exit 1; }
		[ "${x#* }" = "$s" ] || { echo "size: $f: st_size $s, read ${x#* }" >&2; exit 1; }
	done
}

# constant NAME CMD DIR: CMD's output must stay what it was at the start
constant() {
	local name want got
	name=$1
	want=$("$2" "$3") || { bad "$name: first run failed"; return; }
	got=$("$2" "$3") || return 1
	[ "$got" = "$want" ] || { echo "$name: $want then $got" >&2; return 1; }
}

importer() {
	local b
	b=${1:-1}
	while [ "$(date +%s)" -lt "$END" ] && [ "$b" -le "$NBATCH" ]; do
		"$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" \
		    "$T/in/batch$b.jsonl" >/dev/null 2>"$T/e.import" ||
		    bad "import batch $b: $(cat "$T/e.import")"
		b=$((b + 1))
	done
	echo "$b" >"$T/next-batch"
}

# read_all DIR: every byte of every file, through folder descriptors
read_all() { grep -r -a -c '' "$1" | wc -l; }

readers() { # readers REFRESHING
	loop grep-a grep -r -q heronword "$MA" &
	loop read-a read_all "$MA" &
	loop find-a newer "$MA" &
	loop du-a du_s "$MA" &
	loop grep-b grep -r -c heronword "$MB" &
	loop cat-c cat_all "$MC" &
	loop find-c newer "$MC" &
	if [ "$1" = 0 ]; then
		loop cat-a cat_all "$MA" &
		loop twice-a same_twice "$MA" &
		loop twice-b same_twice "$MB" &
		loop const-du constant du du_s "$MA" &
		loop const-find constant find newer "$MC" &
	else
		loop refresh "$COFFER" mount --refresh "$MA" &
	fi
}

note "phase 1: a fixed view, ${SECS}s"
END=$(($(date +%s) + SECS))
readers 0
importer 1 &
wait
[ -s "$BAD" ] && fail "phase 1: $(head -20 "$BAD")"
for f in "$T"/n.*; do
	[ "$(cat "$f")" -ge 1 ] || fail "reader ${f##*/n.} never ran"
done
note "phase 1 rounds: $(for f in "$T"/n.*; do printf '%s=%s ' "${f##*/n.}" "$(cat "$f")"; done)"

note "phase 2: refreshing all the time, ${SECS}s"
rm -f "$T"/n.*
END=$(($(date +%s) + SECS))
readers 1
importer "$(cat "$T/next-batch")" &
wait
[ -s "$BAD" ] && fail "phase 2: $(head -20 "$BAD")"
[ "$(cat "$T/n.refresh")" -ge 1 ] || fail "no refresh in phase 2"
note "phase 2 rounds: $(for f in "$T"/n.*; do printf '%s=%s ' "${f##*/n.}" "$(cat "$f")"; done)"

# every message imported, once: the sum of info.txt counts after a refresh
ok "$COFFER" mount --refresh "$MA"
imported=$(($(cat "$T/next-batch") - 1))
want=$((NCONV * NMSG + imported * (NCONV * 10 + 5)))
got=$(cat "$MA"/*/info.txt | awk '/^Messages: / { n += $2 } END { print n }')
[ "$got" -eq "$want" ] || fail "alice sees $got messages, $want were imported ($imported batches)"
[ "$(ls "$MA" | wc -l)" -eq $((NCONV + imported)) ] || fail "alice sees $(ls "$MA" | wc -l) folders"
lines=$(cat "$MA"/*/2*.txt | grep -c '^..:..:..  S.: heronword ')
[ "$lines" -eq "$want" ] || fail "transcripts show $lines messages, want $want"
note "$imported batches imported while reading; $want messages shown once each"
exit 0
