# t25: the leak test (issue 5; design brief properties 1 and 6).  A full
# scenario: the shared JSONL scenario plus a WhatsApp .zip (whose import
# extracts its attachment under TMPDIR), verify --deep, a mount by cofferfs
# in the foreground with its log in a file, every file read, exports in
# every format to chosen folders, the audit log exported, unmount.  Every
# coffer and cofferfs process of the test runs with TMPDIR set to a
# private folder.  Then every file the programs wrote outside the export
# folders (the archive, that TMPDIR, the audit export, the daemon's log,
# everything the commands printed) is searched for every plaintext string
# and for 64-byte slices of both attachments: nothing.  Files changed
# anywhere under /tmp, /var/tmp and /dev/shm during the run (outside this
# test's folder) are searched for the strings unique to this run.  The
# search must be able to fail: the JSONL export holds the plaintext.  The
# private TMPDIR is empty at the end; the archive's files are 0600 and its
# folders 0700; audit export -o neither overwrites nor follows a link.
# coffer (waiting for its passphrase) and the daemon are not dumpable (the
# kernel gives the /proc/PID files of a non-dumpable process to root), have
# core dumps off and no passphrase in argv or environment; the daemon has
# no file open outside the archive and no network socket, and the mount
# lets in no process of another group, root included.
. "$(dirname "$0")/lib.sh"
need_fuse
# background processes of this test, stopped whatever happens
PIDS=""
t25_cleanup() {
	cleanup
	for p in $PIDS; do kill "$p" 2>/dev/null; done
}
trap t25_cleanup EXIT

PT="$T/tmpdir"
mkdir -m 0700 "$PT"
export TMPDIR="$PT"
touch "$T/start"
LOG="$T/commands.log"          # stdout and stderr of every command
: >"$LOG"

# ok CMD... (lib.sh's, scenario_setup's included): also keep what it
# printed, for the search
ok() {
	expect_rc 0 "$@"
	cat "$T/out" "$T/err" >>"$LOG"
}

# a random word, in no file on this machine before this run
TOKEN="leakcanary$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')"

scenario_setup

# ---- a WhatsApp .zip: its import extracts the attachment under TMPDIR ----
WA_SLICE=""
if command -v zip >/dev/null 2>&1; then
	W="$T/in-wa"
	mkdir -p "$W"
	# printable random bytes, so that a slice can be searched with grep
	head -c 60000 /dev/urandom | base64 -w 0 >"$W/doc-$TOKEN.bin"
	WA_SLICE=$(dd if="$W/doc-$TOKEN.bin" bs=1 skip=50000 count=64 2>/dev/null)
	[ ${#WA_SLICE} -eq 64 ] || fail "could not take the WhatsApp slice"
	cat >"$W/WhatsApp Chat with Sender$TOKEN.txt" <<EOF
05/01/2024, 09:01 - Sender$TOKEN: body$TOKEN first words
05/01/2024, 09:02 - Other$TOKEN: doc-$TOKEN.bin (file attached)
EOF
	(cd "$W" && zip -q -r "$T/wa-$TOKEN.zip" .) || fail "zip failed"
	ok "$COFFER" import "$A" --as feeder --passphrase-file "$(pw feeder)" \
	    --timezone UTC "$T/wa-$TOKEN.zip"
	grep -q "imported 2 messages" "$T/out" || fail "WhatsApp import: $(cat "$T/out")"
else
	note "zip not installed: the WhatsApp .zip part is skipped"
fi

# ---- a mount by cofferfs in the foreground, its log in a file ----
M="$T/m"
mkdir -p "$M"
# Not dumpable: the kernel gives the /proc/PID files (not the folder) of
# a non-dumpable process to root.  As root that changes nothing visible,
# so as root the programs run with another group, which the kernel then
# replaces by root's group on those files.  FUSE lets in only processes
# with the mounting user's and group's ids: whatever touches the mount
# runs with that group too ($RUNAS).
RUNAS=""
if [ "$(id -u)" -eq 0 ]; then
	command -v setpriv >/dev/null 2>&1 || skip "setpriv (util-linux) not installed"
	RUNAS="setpriv --regid=65534 --clear-groups --"
	IDS="%g"
	OWN=65534
else
	IDS="%u"
	OWN=$(id -u)
fi
# self-check: a dumpable process started the same way shows its own ids
$RUNAS sleep 30 &
CTL=$!
PIDS="$PIDS $CTL"
sleep 0.3
ctl=$(stat -c "$IDS" "/proc/$CTL/status")
kill "$CTL"
wait "$CTL" 2>/dev/null
[ "$ctl" = "$OWN" ] || fail "self-check: a dumpable process shows $ctl, not $OWN"

# not_dumpable PID NAME: within 5 s its /proc files are root's; core dumps
# off; no passphrase in its argv or environment
not_dumpable() {
	local i
	i=0
	# (prctl and setrlimit are the first thing it does: wait for them)
	while [ "$(stat -c "$IDS" "/proc/$1/status")" != 0 ] ||
	    ! grep -q "^Max core file size *0 *0 " "/proc/$1/limits"; do
		i=$((i + 1))
		if [ $i -gt 50 ]; then
			[ "$(stat -c "$IDS" "/proc/$1/status")" = 0 ] ||
			    fail "$2 is dumpable: $(stat -c "$IDS" "/proc/$1/status")"
			fail "$2 may dump core: $(grep core "/proc/$1/limits")"
		fi
		sleep 0.1
	done
	[ "$(stat -c "$IDS" "/proc/$1")" = "$OWN" ] || fail "$2: not run as $OWN"
	if tr '\0' '\n' <"/proc/$1/cmdline" | grep -q "correct horse"; then
		fail "$2: passphrase in argv"
	fi
	# (unreadable to a non-root user: that is what not dumpable means)
	if tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | grep -q "correct horse"; then
		fail "$2: passphrase in its environment"
	fi
}

# coffer, stopped while it waits for its passphrase on a FIFO
mkfifo "$T/pass.fifo"
$RUNAS "$COFFER" verify "$A" --deep --as admin --passphrase-file "$T/pass.fifo" \
    >"$T/verify.out" 2>"$T/verify.err" &
CPID=$!
PIDS="$PIDS $CPID"
not_dumpable $CPID coffer
cat "$(pw admin)" >"$T/pass.fifo"
wait $CPID || fail "verify --deep: $(cat "$T/verify.err")"
cat "$T/verify.out" "$T/verify.err" >>"$LOG"

$RUNAS "$COFFERFS" "$A" "$M" --as admin --passphrase-file "$(pw admin)" -f \
    >"$T/daemon.out" 2>"$T/daemon.err" &
DPID=$!
PIDS="$PIDS $DPID"
MOUNTS="$MOUNTS $M"
i=0
while ! $RUNAS mountpoint -q "$M"; do
	kill -0 $DPID 2>/dev/null || fail "cofferfs exited: $(cat "$T/daemon.err")"
	i=$((i + 1))
	[ $i -gt 300 ] && fail "no mount after 30 s"
	sleep 0.1
done
[ "$(cat "/proc/$DPID/comm")" = cofferfs ] || fail "pid $DPID is not cofferfs"
not_dumpable $DPID cofferfs
# private: root itself, in another group, is not let in
if [ -n "$RUNAS" ] && ls "$M" >/dev/null 2>&1; then
	fail "the mount lets in a process of another group"
fi

# ---- read everything ----
$RUNAS find "$M" -type f -exec cat {} + >/dev/null || fail "reading every file failed"
$RUNAS grep -r -a -F -q zephyrword "$M" || fail "grep -r finds no transcript"
$RUNAS grep -r -a -F -q marmaladeword "$M" || fail "grep -r finds no second conversation"
$RUNAS cmp "$M/$TITLE_A/attachments/photo.bin" "$T/in/files/photo.bin" ||
    fail "attachment differs"
if [ -n "$WA_SLICE" ]; then
	$RUNAS grep -r -a -F -q "body$TOKEN" "$M" || fail "the WhatsApp conversation is not readable"
	$RUNAS cmp "$M/Sender$TOKEN/attachments/doc-$TOKEN.bin" "$W/doc-$TOKEN.bin" ||
	    fail "WhatsApp attachment differs"
fi
# what the daemon has open: the archive, the FUSE device, its log, no
# network socket, nothing else
for fd in /proc/$DPID/fd/*; do
	p=$(readlink "$fd") || continue
	case $p in
	"$A"/*|/dev/*|"$T/daemon.out"|"$T/daemon.err"|pipe:*|anon_inode:*) ;;
	socket:*)
		ino=$(echo "$p" | tr -dc 0-9)
		if cat /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6 2>/dev/null |
		    awk -v i="$ino" '$10 == i { f = 1 } END { exit !f }'; then
			fail "the daemon has a network socket open"
		fi ;;
	*) fail "the daemon has $p open" ;;
	esac
done

# ---- export in every format, and the audit log ----
for f in jsonl rsmf eml; do
	ok "$COFFER" export "$A" --all --as admin --passphrase-file "$(pw admin)" \
	    --format $f -o "$T/export-$f"
	(cd "$T/export-$f" && sha256sum -c --quiet MANIFEST.sha256) || fail "$f: manifest does not check"
done
ok "$COFFER" audit "$A" export -o "$T/audit.jsonl"
ok "$COFFER" audit "$A" verify
# an output file is never overwritten, nor a link followed
ln -s "$T/elsewhere" "$T/audit.link"
expect_rc 2 "$COFFER" audit "$A" export -o "$T/audit.link"
[ ! -e "$T/elsewhere" ] || fail "audit export followed a symbolic link"
expect_rc 2 "$COFFER" audit "$A" export -o "$T/audit.jsonl"

unmount "$M"
i=0
while kill -0 $DPID 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 100 ] && fail "cofferfs did not exit after the unmount"
	sleep 0.1
done
wait $DPID || fail "cofferfs exited with $?: $(cat "$T/daemon.err")"
MOUNTS=""
note "daemon log: $(wc -l <"$T/daemon.err") lines"

# files 0600 and folders 0700: the archive, the audit export
[ -z "$(find "$A" "$T/audit.jsonl" -type f ! -perm 600)" ] ||
    fail "files not 0600: $(find "$A" "$T/audit.jsonl" -type f ! -perm 600)"
[ -z "$(find "$A" -type d ! -perm 700)" ] || fail "folders not 0700: $(find "$A" -type d ! -perm 700)"

# ---- the search ----
WRITTEN="$A $PT $T/audit.jsonl $T/daemon.out $T/daemon.err $T/mount.out $T/mount.err $LOG"
STRINGS="$TITLE_A|$TITLE_B|Zéphyr|директоров|$SENDER_A1|$SENDER_A2|$SENDER_B1|Ünïcode|Zanzibar"
STRINGS="$STRINGS|zephyrword|quokkaword|marmaladeword|second line of the first message"
STRINGS="$STRINGS|late reply|line two of the minutes|cheerful|conv-a|conv-b|photo.bin|$TOKEN"
[ -n "$WA_SLICE" ] && STRINGS="$STRINGS|$WA_SLICE"
OLDIFS=$IFS
IFS='|'
# shellcheck disable=SC2086
set -- $STRINGS
IFS=$OLDIFS
for d in $WRITTEN; do
	[ -e "$d" ] || continue
	no_plaintext "$d" "$@"
done
# a 64-byte slice of the binary attachment, as hex over every file
slice=$(od -An -tx1 -v -j 70000 -N 64 "$T/in/files/photo.bin" | tr -d ' \n')
[ ${#slice} -eq 128 ] || fail "could not take the slice"
for d in $WRITTEN; do
	[ -e "$d" ] || continue
	find "$d" -type f | while read -r f; do
		if od -An -tx1 -v "$f" | tr -d ' \n' | grep -q "$slice"; then
			fail "attachment bytes found in $f"
		fi
	done || exit 1
done
n=$(find $WRITTEN -type f 2>/dev/null | wc -l)
note "searched $n files the programs wrote"

# the private TMPDIR: nothing left in it
left=$(find "$PT" -mindepth 1)
[ -z "$left" ] || fail "files left in TMPDIR: $left"

# files changed anywhere in the usual temporary folders during the run,
# outside this test's folder, for what is unique to this run
UNIQUE="$TOKEN"
[ -n "$WA_SLICE" ] && UNIQUE="$UNIQUE $WA_SLICE"
n=0
for top in /tmp /var/tmp /dev/shm; do
	[ -d "$top" ] || continue
	find "$top" -xdev -type f -newer "$T/start" -size -64M 2>/dev/null
done | grep -v -F "$T/" >"$T/changed"
n=$(wc -l <"$T/changed")
while read -r f; do
	for s in $UNIQUE; do
		if grep -a -F -q -s -e "$s" "$f"; then fail "plaintext of this run in $f"; fi
	done
done <"$T/changed"
note "searched $n other files changed under /tmp, /var/tmp, /dev/shm"
for f in /var/log/syslog /var/log/messages /var/log/daemon.log; do
	[ -r "$f" ] || continue
	if grep -a -F -q -e "$TOKEN" "$f"; then fail "plaintext of this run in $f"; fi
done

# ---- the search can fail: the exports hold the plaintext ----
grep -r -a -F -q zephyrword "$T/export-jsonl" || fail "self-check: no body in the JSONL export"
grep -r -a -F -q "$TITLE_A" "$T/export-jsonl" || fail "self-check: no title in the JSONL export"
find "$T/export-jsonl" -type f | while read -r f; do
	if od -An -tx1 -v "$f" | tr -d ' \n' | grep -q "$slice"; then echo found; fi
done | grep -q found || fail "self-check: the attachment slice is not in the JSONL export"
if [ -n "$WA_SLICE" ]; then
	grep -r -a -F -q "$WA_SLICE" "$T/export-jsonl" || fail "self-check: no WhatsApp slice"
	grep -r -a -F -q "$TOKEN" "$T/export-jsonl" || fail "self-check: no token"
	# and the search of other folders would have found it
	grep -a -F -q -s -e "$TOKEN" "$T/export-jsonl"/*/messages.jsonl ||
	    fail "self-check: grep for the token is broken"
fi
for f in rsmf eml; do
	[ "$(find "$T/export-$f" -type f -name "*.$f" | wc -l)" -ge 2 ] ||
	    fail "self-check: the $f export is empty"
done
exit 0
