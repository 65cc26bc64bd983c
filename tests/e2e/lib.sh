# lib.sh - shared helpers for the end-to-end tests (sourced, POSIX sh).
# Each test gets a private temp folder $T, removed at exit, and every mount
# made through mount_as is unmounted at exit, whatever happens.
set -u
TOP=${COFFER_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${COFFER_BIN:-$TOP/build}
COFFER="$BIN/coffer"
COFFERFS="$BIN/cofferfs"
T=$(mktemp -d "${TMPDIR:-/tmp}/coffer-e2e.XXXXXX")
MOUNTS=""
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

cleanup() {
	for m in $MOUNTS; do
		fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || true
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

skip() {
	echo "$*"
	exit 77
}

note() {
	echo "# $*"
}

need_fuse() {
	[ -e /dev/fuse ] || skip "no /dev/fuse on this machine"
	command -v fusermount3 >/dev/null 2>&1 || skip "fusermount3 not installed"
}

# pw NAME: the passphrase file of principal NAME (created on first use).
pw() {
	local f
	f="$T/pw-$1"
	[ -f "$f" ] || printf 'correct horse %s battery\n' "$1" >"$f"
	echo "$f"
}

# expect_rc WANT CMD...: run CMD, require exit status WANT.
expect_rc() {
	local want got
	want=$1; shift
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "--- stdout"; cat "$T/out"; echo "--- stderr"; cat "$T/err"
		fail "'$*' exited $got, wanted $want"
	fi
}

# ok CMD...: must succeed.
ok() {
	expect_rc 0 "$@"
}

# new_archive DIR: init with admin "admin", recovery key in $T/recovery.key
new_archive() {
	ok "$COFFER" init "$1" --admin admin --new-passphrase-file "$(pw admin)" \
	    --recovery-key-file "$T/recovery.key"
}

# add_principal ARCHIVE NAME ROLE
add_principal() {
	ok "$COFFER" principal add "$1" "$2" --role "$3" --as admin \
	    --passphrase-file "$(pw admin)" --new-passphrase-file "$(pw "$2")"
}

# mount_as ARCHIVE MOUNTPOINT NAME [extra args]: mount, wait until ready.
mount_as() {
	local a m n i
	a=$1; m=$2; n=$3; shift 3
	mkdir -p "$m"
	"$COFFER" mount "$a" "$m" --as "$n" --passphrase-file "$(pw "$n")" "$@" \
	    >"$T/mount.out" 2>"$T/mount.err" || return $?
	MOUNTS="$MOUNTS $m"
	i=0
	while ! mountpoint -q "$m"; do
		i=$((i + 1))
		[ $i -gt 100 ] && fail "mount at $m did not become ready"
		sleep 0.1
	done
	return 0
}

unmount() {
	fusermount3 -u "$1" || fail "cannot unmount $1"
}

# no_plaintext DIR STRING...: no file below DIR contains any STRING.
no_plaintext() {
	local d s
	d=$1; shift
	for s in "$@"; do
		if grep -r -a -F -q -e "$s" "$d"; then
			fail "plaintext '$s' found under $d: $(grep -r -a -F -l -e "$s" "$d" | head -3)"
		fi
	done
}

# ---- the shared scenario ------------------------------------------------
# Two conversations with unicode titles, multi-line bodies and one binary
# attachment of 150000 bytes (three 64 KiB chunks).  Titles, senders and
# bodies hold distinctive words so that a byte search can look for them.
TITLE_A="Équipe Ω — projet «Zéphyr» 🚀"
TITLE_B="Совет директоров"
SENDER_A1="Alice Ünïcode"
SENDER_A2="Bob Квант"
SENDER_B1="Carol Zanzibar"
BODY_A1="zephyrword alpha first line"
BODY_A2="quokkaword bravo second"
BODY_B1="marmaladeword confidential board minutes"

make_scenario_input() {
	local d i
	d=$1
	mkdir -p "$d/files"
	# deterministic binary content
	i=0
	while [ $i -lt 150 ]; do printf 'chunk %04d \001\002\377\000 binary ' $i; i=$((i + 1)); done \
	    >"$d/files/seed"
	head -c 150000 /dev/urandom >"$d/files/photo.bin"
	cat >"$d/chats.jsonl" <<JSONL
{"chat": "conv-a", "chat_title": "$TITLE_A", "id": "a1", "ts": "2025-03-12T08:15:00Z", "sender": "$SENDER_A1", "body": "$BODY_A1\nsecond line of the first message\nthird line", "attachments": [{"name": "photo.bin", "path": "files/photo.bin"}]}
{"chat": "conv-a", "chat_title": "$TITLE_A", "id": "a2", "ts": "2025-03-13T19:44:01Z", "sender": "$SENDER_A2", "body": "$BODY_A2", "mood": "cheerful"}
{"chat": "conv-a", "id": "a3", "ts": "2025-03-13T21:00:30+01:00", "sender": "$SENDER_A1", "body": "late reply"}
{"chat": "conv-b", "chat_title": "$TITLE_B", "id": "b1", "ts": "2024-11-02T10:00:00Z", "sender": "$SENDER_B1", "body": "$BODY_B1\nline two of the minutes"}
{"chat": "conv-b", "id": "b2", "ts": "2024-11-03T11:30:00Z", "sender": "$SENDER_A1", "body": "noted"}
JSONL
}

# scenario_setup: archive $A with admin, reviewers alice and bob, ingest
# feeder, and the scenario imported by feeder.
scenario_setup() {
	A="$T/archive"
	new_archive "$A"
	add_principal "$A" alice reviewer
	add_principal "$A" bob reviewer
	add_principal "$A" feeder ingest
	make_scenario_input "$T/in"
	ok "$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" "$T/in/chats.jsonl"
}

# chat_id NAME TITLE: the id of the conversation titled TITLE, as NAME sees it.
chat_id() {
	"$COFFER" chats "$A" --as "$1" --passphrase-file "$(pw "$1")" |
	    awk -F '\t' -v t="$2" '$5 == t { print $1 }'
}
