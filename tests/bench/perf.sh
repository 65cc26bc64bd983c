#!/bin/sh
# perf.sh - the performance benchmark of `make bench` (issue 6).
#
# Generates a deterministic archive (gen_archive: 200 conversations,
# 100,000 messages of 20-2000 bytes over six years, unique words, 4
# attachments of 64 MiB) as canonical JSONL, and measures on that same
# content, in the same run:
#   coffer     the JSONL imported, mounted as a reviewer granted everything
#   plain      a plain directory holding exactly the tree Coffer shows
#              (copied out of the mount once): the physical limit
#   gocryptfs  that tree copied in with cp -a  (Debian package gocryptfs)
#   securefs   the same                         (Debian package securefs)
# A contender that cannot be installed or mounted is skipped with a note.
#
# Every read metric is cold: the file system is unmounted, the page cache
# dropped (sync; echo 3 > /proc/sys/vm/drop_caches, as root) and the file
# system mounted again before each run; grep -r warm is the same grep again
# right after the cold one.  Each metric is run BENCH_RUNS times (3; 1 in
# quick mode) with the contenders interleaved within a run; the table shows
# the median, the min-max spread and the ratio to the plain directory.
#
# Environment:
#   COFFER_BIN        folder of coffer, gen_archive, randread, aead_speed
#   BENCH_OUT         where the table is also written (default $COFFER_BIN/bench.txt)
#   BENCH_QUICK=1     10,000 messages, 4 x 8 MiB attachments, 1 run
#   BENCH_SCALE=K     K x 100,000 messages (10: one million)
#   BENCH_MESSAGES, BENCH_ATTACH_MIB, BENCH_RUNS   override the sizes
#   BENCH_CONTENDERS  subset of "coffer plain gocryptfs securefs"
#   BENCH_DIR         where the work folder is made (default $TMPDIR or
#                     /var/tmp: it must be a disk, not a tmpfs, for cold
#                     figures to mean anything); BENCH_KEEP=1 keeps it
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${COFFER_BIN:-$top/build}
out=${BENCH_OUT:-$bin/bench.txt}
scale=${BENCH_SCALE:-1}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	msgs=${BENCH_MESSAGES:-10000}; attmib=${BENCH_ATTACH_MIB:-8}; runs=${BENCH_RUNS:-1}
else
	msgs=${BENCH_MESSAGES:-$((100000 * scale))}; attmib=${BENCH_ATTACH_MIB:-64}
	runs=${BENCH_RUNS:-3}
fi
contenders=${BENCH_CONTENDERS:-coffer plain gocryptfs securefs}
newer=2024-01-01                 # find -newermt: the last of the six years
W=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/var/tmp}}/coffer-perf.XXXXXX") || exit 2
S="$W/samples"
: >"$S"
MOUNTS=""                        # every mount point this script uses
PIDS=""                          # daemons started here in the foreground mode
NOTES=""
MOUNTED=""                       # the contender mounted now, if any
DPID=""                          # its daemon

cleanup() {
	for m in $MOUNTS; do
		if mountpoint -q "$m" 2>/dev/null; then
			fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null
		fi
	done
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "perf: work folder kept: $W" >&2
	else
		chmod -R u+w "$W" 2>/dev/null
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

die() {
	echo "perf: $*" >&2
	exit 2
}
say() {
	echo "perf: $*" >&2
}
note() {
	NOTES="$NOTES- $*
"
	say "$*"
}
now() {
	date +%s%N
}
# since T0: seconds elapsed since T0 (from now)
since() {
	awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.4f", (b - a) / 1e9 }'
}
# record CONTENDER METRIC VALUE
record() {
	echo "$1 $2 $3" >>"$S"
}
can_drop=0
if [ "$(id -u)" -eq 0 ] && [ -w /proc/sys/vm/drop_caches ]; then
	can_drop=1
fi
drop() {
	sync
	if [ $can_drop = 1 ]; then
		echo 3 >/proc/sys/vm/drop_caches
	fi
}
has() {
	case " $contenders " in *" $1 "*) return 0 ;; esac
	return 1
}
drop_contender() {
	contenders=$(echo " $contenders " | sed "s/ $1 / /; s/^ *//; s/ *$//")
}
# ensure_tool COMMAND PACKAGE: install PACKAGE (Debian, as root) if needed.
ensure_tool() {
	command -v "$1" >/dev/null 2>&1 && return 0
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		return 1
	fi
	say "installing $2"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null 2>&1 ||
	    { apt-get update -q >/dev/null 2>&1 &&
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null 2>&1; }
	command -v "$1" >/dev/null 2>&1
}

for t in coffer gen_archive randread aead_speed; do
	[ -x "$bin/$t" ] || die "$bin/$t missing (run make bench)"
done
ensure_tool fusermount3 fuse3 || die "fusermount3 missing"
ensure_tool python3 python3 || die "python3 missing (reads the daemon pid)"
[ -x /usr/bin/time ] || ensure_tool /usr/bin/time time || die "/usr/bin/time missing"
[ $can_drop = 1 ] || note "not root: the page cache cannot be dropped, every 'cold' figure is warm"
if has gocryptfs && ! ensure_tool gocryptfs gocryptfs; then
	note "gocryptfs skipped: cannot be installed"
	drop_contender gocryptfs
fi
if has securefs && ! ensure_tool securefs securefs; then
	note "securefs skipped: cannot be installed"
	drop_contender securefs
fi
has coffer || die "BENCH_CONTENDERS must include coffer (it makes the tree)"
has plain || contenders="$contenders plain"

view_of() {
	case $1 in
	plain) echo "$W/plain" ;;
	*) echo "$W/$1.mnt" ;;
	esac
}
store_of() {
	case $1 in
	plain) echo "$W/plain" ;;
	*) echo "$W/$1.store" ;;
	esac
}
# wait_mount MOUNTPOINT [PID]: until mounted (60 s), or PID gone.
wait_mount() {
	i=0
	while ! mountpoint -q "$1"; do
		i=$((i + 1))
		[ $i -gt 6000 ] && return 1
		if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
			return 1
		fi
		sleep 0.01
	done
	return 0
}
# do_mount CONTENDER: mount it; MT is the time until ready (s), DPID the daemon.
do_mount() {
	m=$(view_of "$1")
	DPID=""
	MT=0
	[ "$1" = plain ] && return 0
	mkdir -p "$m"
	t0=$(now)
	case $1 in
	coffer)
		"$bin/coffer" mount "$W/coffer.store" "$m" --as rev \
		    --passphrase-file "$W/pw-rev" >/dev/null 2>"$W/mount.err" || return 1
		wait_mount "$m" || return 1
		;;
	gocryptfs)
		gocryptfs -fg -q -passfile "$W/pw-gocryptfs" "$W/gocryptfs.store" "$m" \
		    </dev/null >>"$W/gocryptfs.log" 2>&1 &
		DPID=$!
		PIDS="$PIDS $DPID"
		wait_mount "$m" "$DPID" || return 1
		;;
	securefs)
		securefs mount --keyfile "$W/securefs.key" "$W/securefs.store" "$m" \
		    </dev/null >>"$W/securefs.log" 2>&1 &
		DPID=$!
		PIDS="$PIDS $DPID"
		wait_mount "$m" "$DPID" || return 1
		;;
	esac
	MT=$(since "$t0")
	if [ "$1" = coffer ]; then
		DPID=$(python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], "user.coffer.pid").decode())' "$m") ||
		    return 1
	fi
	MOUNTED=$1
	return 0
}
# do_umount: record the daemon's peak RSS, unmount, wait until it is gone.
do_umount() {
	[ -n "$MOUNTED" ] || return 0
	c=$MOUNTED
	m=$(view_of "$c")
	MOUNTED=""
	if [ -n "$DPID" ] && [ -r "/proc/$DPID/status" ]; then
		rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$DPID/status")
		[ -n "$rss" ] && record "$c" daemon_rss "$rss"
	fi
	fusermount3 -u "$m" || { sleep 1; fusermount3 -u "$m"; } || die "cannot unmount $m"
	if [ -n "$DPID" ]; then
		case " $PIDS " in
		*" $DPID "*)
			wait "$DPID" 2>/dev/null
			PIDS=$(echo " $PIDS " | sed "s/ $DPID / /")
			;;
		*)
			i=0
			while kill -0 "$DPID" 2>/dev/null && [ $i -lt 1000 ]; do
				i=$((i + 1))
				sleep 0.01
			done
			;;
		esac
	fi
	DPID=""
}
# cold CONTENDER: unmount, drop the page cache, mount again.
cold() {
	do_umount
	drop
	do_mount "$1" || die "cannot mount $1: $(cat "$W/mount.err" "$W/$1.log" 2>/dev/null | tail -3)"
	if [ "$1" != plain ]; then
		record "$1" mount "$MT"
		if [ "$1" = coffer ]; then
			record coffer mount_excl "$(awk -v a="$MT" -v b="$unlock" \
			    'BEGIN { printf "%.4f", (a > b ? a - b : 0) }')"
		fi
	fi
}
median_of() {    # median_of CONTENDER METRIC (from the samples so far)
	awk -v c="$1" -v m="$2" '$1 == c && $2 == m { print $3 }' "$S" | sort -g |
	    awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'
}

MOUNTS="$W/coffer.mnt $W/gocryptfs.mnt $W/securefs.mnt"
say "work folder $W; $msgs messages, 4 x $attmib MiB attachments, $runs run(s); contenders: $contenders"

# ---- the content ------------------------------------------------------------
"$bin/gen_archive" --out "$W/src" --messages "$msgs" --attach-mib "$attmib" >"$W/gen.out" ||
    die "gen_archive failed"
say "$(cat "$W/gen.out")"
nneedles=$(wc -l <"$W/src/needles.txt")
needle=$(sed -n "$(((nneedles + 1) / 2))p" "$W/src/needles.txt" | cut -f1)
[ -n "$needle" ] || die "no needle"
input_bytes=$(du -sb "$W/src/chats.jsonl" "$W/src/files" | awk '{ s += $1 } END { print s }')

printf 'pw admin\n' >"$W/pw-admin"
printf 'pw feeder\n' >"$W/pw-feeder"
printf 'pw rev\n' >"$W/pw-rev"
printf 'not the passphrase\n' >"$W/pw-wrong"
printf 'pw gocryptfs\n' >"$W/pw-gocryptfs"
head -c 32 /dev/urandom >"$W/securefs.key"

# ---- ingest -----------------------------------------------------------------
# The unlock alone: one Argon2id derivation at the level Coffer gives a
# reviewer (moderate) and an ingest identity (interactive).
r=1
while [ $r -le "$runs" ]; do
	k=$("$bin/aead_speed" kdf moderate) || die "aead_speed kdf failed"
	record coffer unlock "$k"
	k=$("$bin/aead_speed" kdf interactive) || die "aead_speed kdf failed"
	record coffer unlock_ingest "$k"
	r=$((r + 1))
done
unlock=$(median_of coffer unlock)
unlock_ingest=$(median_of coffer unlock_ingest)

# Coffer: a fresh archive per run; the timed part is `coffer import` (the
# ingest identity's unlock included) and a sync.
r=1
while [ $r -le "$runs" ]; do
	say "coffer import, run $r"
	rm -rf "$W/coffer.store"
	"$bin/coffer" init "$W/coffer.store" --admin admin --new-passphrase-file "$W/pw-admin" \
	    --recovery-key-file "$W/recovery.key" >/dev/null || die "coffer init failed"
	rm -f "$W/recovery.key"
	"$bin/coffer" principal add "$W/coffer.store" feeder --role ingest --as admin \
	    --passphrase-file "$W/pw-admin" --new-passphrase-file "$W/pw-feeder" >/dev/null ||
	    die "principal add failed"
	drop
	t0=$(now)
	/usr/bin/time -f '%M' -o "$W/import.rss" "$bin/coffer" import "$W/coffer.store" \
	    --as feeder --passphrase-file "$W/pw-feeder" "$W/src/chats.jsonl" >"$W/import.out" ||
	    die "coffer import failed: $(tail -3 "$W/import.out")"
	sync
	t=$(since "$t0")
	record coffer ingest "$t"
	record coffer ingest_excl "$(awk -v a="$t" -v b="$unlock_ingest" \
	    'BEGIN { printf "%.4f", (a > b ? a - b : 0) }')"
	record coffer import_rss "$(tail -1 "$W/import.rss")"
	r=$((r + 1))
done
"$bin/coffer" principal add "$W/coffer.store" rev --role reviewer --as admin \
    --passphrase-file "$W/pw-admin" --new-passphrase-file "$W/pw-rev" >/dev/null ||
    die "principal add rev failed"
"$bin/coffer" grant "$W/coffer.store" --all --to rev --as admin \
    --passphrase-file "$W/pw-admin" --reason benchmark >/dev/null || die "grant failed"


# The plain tree: exactly what the mount shows, copied out once.
do_mount coffer || die "cannot mount coffer: $(cat "$W/mount.err")"
mkdir "$W/plain"
cp -a "$(view_of coffer)/." "$W/plain/" || die "cannot copy the tree out of the mount"
do_umount
plain_bytes=$(du -sb "$W/plain" | cut -f1)
find "$W/plain" -path '*/attachments/*' -type f | sed "s|^$W/plain/||" | sort >"$W/attachments"
att_bytes=$(cd "$W/plain" && tr '\n' '\0' <"$W/attachments" | xargs -0 du -cb | tail -1 | cut -f1)
[ -s "$W/attachments" ] || note "no attachment in the tree"

# Plain: cp -a of the tree and a sync.
r=1
while [ $r -le "$runs" ]; do
	say "plain cp -a, run $r"
	drop
	t0=$(now)
	cp -a "$W/plain" "$W/plain.copy" || die "cp -a failed"
	sync
	record plain ingest "$(since "$t0")"
	chmod -R u+w "$W/plain.copy"
	rm -rf "$W/plain.copy"
	r=$((r + 1))
done

# gocryptfs and securefs: a fresh store per run, the tree copied in with
# cp -a and a sync (mount and unmount not timed).
for c in gocryptfs securefs; do
	has $c || continue
	r=1
	while [ $r -le "$runs" ]; do
		say "$c cp -a, run $r"
		rm -rf "$W/$c.store"
		mkdir -p "$W/$c.store"
		if [ $c = gocryptfs ]; then
			gocryptfs -init -q -passfile "$W/pw-gocryptfs" "$W/$c.store" >>"$W/$c.log" 2>&1
		else
			securefs create --keyfile "$W/securefs.key" "$W/$c.store" </dev/null \
			    >>"$W/$c.log" 2>&1
		fi || { note "$c skipped: cannot create a store ($(tail -1 "$W/$c.log"))"; break; }
		do_mount $c || { note "$c skipped: cannot mount ($(tail -1 "$W/$c.log"))"; break; }
		drop
		t0=$(now)
		cp -a "$W/plain/." "$(view_of $c)/" || die "cp -a into $c failed"
		sync
		record $c ingest "$(since "$t0")"
		do_umount
		r=$((r + 1))
	done
	[ $r -le "$runs" ] && { do_umount; drop_contender $c; }
done

# ---- the store ----------------------------------------------------------------
for c in $contenders; do
	s=$(store_of "$c")
	record "$c" store_bytes "$(du -sb "$s" | cut -f1)"
	record "$c" store_disk "$(($(du -sk "$s" | cut -f1) * 1024))"
	record "$c" store_files "$(find "$s" -type f | wc -l)"
done

# ---- reads, cold --------------------------------------------------------------
r=1
while [ $r -le "$runs" ]; do
	for c in $contenders; do
		say "reads: $c, run $r"
		v=$(view_of "$c")
		cold "$c"
		t0=$(now)
		ls -R "$v" >/dev/null || die "$c: ls -R failed"
		record "$c" ls "$(since "$t0")"

		cold "$c"
		t0=$(now)
		find "$v" -newermt "$newer" >"$W/find.$c" || die "$c: find failed"
		record "$c" find "$(since "$t0")"
		sed "s|^$v||" "$W/find.$c" | sort >"$W/find.$c.rel"

		cold "$c"
		t0=$(now)
		grep -r "$needle" "$v" >"$W/grep.$c" || die "$c: grep -r found nothing"
		record "$c" grep_cold "$(since "$t0")"
		t0=$(now)
		# (not to /dev/null: GNU grep would stop at the first match)
		grep -r "$needle" "$v" >"$W/grep.warm" || die "$c: grep -r (warm) found nothing"
		record "$c" grep_warm "$(since "$t0")"
		sed "s|^$v||" "$W/grep.$c" >"$W/grep.$c.rel"

		cold "$c"
		t0=$(now)
		du -sb "$v" >"$W/du.$c" || die "$c: du failed"
		record "$c" du "$(since "$t0")"

		if [ -s "$W/attachments" ]; then
			cold "$c"
			t0=$(now)
			(while IFS= read -r a; do
				cat "$v/$a" || exit 1
			done <"$W/attachments") >/dev/null || die "$c: cat of the attachments failed"
			record "$c" cat "$(awk -v b="$att_bytes" -v t="$(since "$t0")" \
			    'BEGIN { printf "%.1f", b / 1e6 / t }')"

			cold "$c"
			a=$(head -1 "$W/attachments")
			t0=$(now)
			"$bin/randread" "$v/$a" 2000 >/dev/null || die "$c: random reads failed"
			record "$c" rand "$(since "$t0")"
		fi
		do_umount

		# what a backup reads: the whole store, unmounted
		drop
		t0=$(now)
		tar -cf - -C "$(store_of "$c")" . | wc -c >/dev/null || die "$c: tar failed"
		record "$c" tar "$(since "$t0")"
	done
	r=$((r + 1))
done

# Every contender must have shown the same files.
for c in $contenders; do
	[ $c = plain ] && continue
	cmp -s "$W/find.plain.rel" "$W/find.$c.rel" ||
	    note "$c: find -newermt lists other files than the plain directory"
	cmp -s "$W/grep.plain.rel" "$W/grep.$c.rel" ||
	    note "$c: grep -r finds other lines than in the plain directory"
done
nfind=$(wc -l <"$W/find.plain.rel")

aead=$("$bin/aead_speed" "$((attmib * 4 < 256 ? attmib * 4 : 256))") || die "aead_speed failed"
record aead aead "$aead"

# ---- the table ------------------------------------------------------------------
sort -k1,1 -k2,2 -k3,3g "$S" | awk '
	{ k = $1 SUBSEP $2; n[k]++; v[k, n[k]] = $3 }
	END {
		for (k in n) {
			split(k, p, SUBSEP)
			med = v[k, int((n[k] + 1) / 2)]
			if (n[k] % 2 == 0)
				med = (v[k, n[k] / 2] + v[k, n[k] / 2 + 1]) / 2
			print p[1], p[2], med, v[k, 1], v[k, n[k]], n[k]
		}
	}' >"$W/medians"
med() {
	awk -v c="$1" -v m="$2" '$1 == c && $2 == m { print $3; f = 1 } END { if (!f) print "" }' \
	    "$W/medians"
}

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
fs=$(df -T "$W" | awk 'NR == 2 { print $2 " on " $1 }')
{
	echo "# Coffer benchmark ($(date -u '+%Y-%m-%d %H:%M UTC'))"
	echo
	echo "Machine: $(nproc) cores, $cpu, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo),"
	echo "kernel $(uname -r), work folder on $fs; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "Content: $(cat "$W/gen.out");"
	echo "tree $((plain_bytes / 1000000)) MB, input (JSONL and attachments) $((input_bytes / 1000000)) MB."
	echo "Runs: $runs per metric (median, min-max in brackets, ratio = median / plain median)."
	echo
	awk -v contenders="$contenders" -v runs="$runs" -v msgs="$msgs" '
	function fmt(x) {
		if (x == "") return "-"
		x += 0
		if (x >= 1e7) return sprintf("%.0f", x)
		if (x >= 100) return sprintf("%.0f", x)
		if (x >= 10) return sprintf("%.1f", x)
		if (x >= 1) return sprintf("%.2f", x)
		if (x >= 0.01) return sprintf("%.3f", x)
		return sprintf("%.4f", x)
	}
	function cell(c, m, div,   k) {
		k = c SUBSEP m
		if (!(k in med)) return "-"
		if (runs > 1 && cnt[k] > 1 && m != "daemon_rss")
			return fmt(med[k] / div) " (" fmt(lo[k] / div) "-" fmt(hi[k] / div) ")"
		if (m == "daemon_rss") return fmt(hi[k] / div)
		return fmt(med[k] / div)
	}
	function ratio(c, m,   k, b) {
		k = c SUBSEP m; b = "plain" SUBSEP m
		if (!(k in med) || !(b in med) || med[b] == 0) return "-"
		return sprintf("%.2fx", med[k] / med[b])
	}
	{ k = $1 SUBSEP $2; med[k] = $3; lo[k] = $4; hi[k] = $5; cnt[k] = $6 }
	END {
		nc = split("plain " contenders, cs, " ")
		# plain first, each contender once
		m = 0
		for (i = 1; i <= nc; i++) if (!(cs[i] in seen)) { seen[cs[i]] = 1; order[++m] = cs[i] }
		nrow = split("ingest|ingest_excl|import_rss|unlock_ingest|unlock|mount|mount_excl|ls|find|grep_cold|grep_warm|du|cat|rand|tar|store_bytes|store_disk|store_files|daemon_rss", rows, "|")
		split("ingest (import / cp -a + sync), s|ingest excl. unlock, s|import peak RSS, MB|ingest unlock (Argon2id interactive), s|reviewer unlock (Argon2id moderate), s|mount ready incl. unlock, s|mount ready excl. unlock, s|ls -R cold, s|find -newermt cold, s|grep -r cold, s|grep -r warm, s|du -sb cold, s|cat attachments cold, MB/s|2000 random 4 KiB reads cold, s|tar of the store cold, s|store size, MB|store on disk, MB|store files|daemon peak RSS, MB", label, "|")
		split("1|1|1024|1|1|1|1|1|1|1|1|1|1|1|1|1e6|1e6|1|1024", div, "|")
		printf "| metric |"
		for (i = 1; i <= m; i++) printf " %s |%s", order[i], (order[i] == "plain" ? "" : " x plain |")
		printf "\n|---|"
		for (i = 1; i <= m; i++) printf "---|%s", (order[i] == "plain" ? "" : "---|")
		printf "\n"
		for (r = 1; r <= nrow; r++) {
			printf "| %s |", label[r]
			for (i = 1; i <= m; i++) {
				printf " %s |", cell(order[i], rows[r], div[r])
				if (order[i] != "plain") printf " %s |", ratio(order[i], rows[r])
			}
			printf "\n"
		}
		k = "coffer" SUBSEP "ingest"
		if (k in med) printf "| ingest rate, messages/s | - | %.0f | |\n", msgs / med[k]
		k = "coffer" SUBSEP "ingest_excl"
		if (k in med && med[k] > 0) printf "| ingest rate excl. unlock, messages/s | - | %.0f | |\n", msgs / med[k]
		k = "aead" SUBSEP "aead"
		if (k in med) printf "| XChaCha20-Poly1305 decrypt, 1 core, MB/s | %s | | |\n", fmt(med[k])
	}' "$W/medians"
	echo
	echo "find -newermt $newer lists $nfind entries; grep -r looks for '$needle'."
	if [ -n "$NOTES" ]; then
		echo
		echo "Notes:"
		printf '%s' "$NOTES"
	fi
} >"$W/table"

# ---- targets (ratios to plain, same run) -------------------------------------------
# verdict LABEL VALUE OP LIMIT UNIT
verdict() {
	if [ -z "$2" ]; then
		printf '| %s | not measured | %s %s%s | - |\n' "$1" "$3" "$4" "$5"
		return
	fi
	v=$(awk -v x="$2" -v op="$3" -v l="$4" 'BEGIN {
		ok = (op == "<=") ? (x <= l) : (x >= l)
		print ok ? "met" : "NOT MET" }')
	printf '| %s | %s%s | %s %s%s | %s |\n' "$1" "$(awk -v x="$2" 'BEGIN { printf "%.3g", x }')" \
	    "$5" "$3" "$4" "$5" "$v"
}
ratio() {
	a=$(med "$1" "$2")
	b=$(med plain "$2")
	[ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.4f", a / b }'
}
{
	echo
	echo "| target | measured | limit | verdict |"
	echo "|---|---|---|---|"
	verdict "grep -r cold" "$(ratio coffer grep_cold)" "<=" 1.0 x
	verdict "find -newermt cold" "$(ratio coffer find)" "<=" 1.0 x
	verdict "du -sb cold" "$(ratio coffer du)" "<=" 1.0 x
	verdict "ls -R cold" "$(ratio coffer ls)" "<=" 2.5 x
	verdict "grep -r warm" "$(ratio coffer grep_warm)" "<=" 1.5 x
	cat_c=$(med coffer cat)
	verdict "attachment cat / AEAD speed" \
	    "$(awk -v a="$cat_c" -v b="$aead" 'BEGIN { if (a != "" && b > 0) printf "%.4f", a / b }')" \
	    ">=" 0.8 x
	if has gocryptfs; then
		verdict "attachment cat / gocryptfs" "$(ratio coffer cat | awk -v g="$(ratio gocryptfs cat)" \
		    '{ if (g > 0) printf "%.4f", $1 / g }')" ">=" 1.0 x
	fi
	verdict "random 4 KiB reads cold" "$(ratio coffer rand)" "<=" 1.2 x
	verdict "ingest excl. unlock / plain cp -a" "$(awk -v a="$(med coffer ingest_excl)" \
	    -v b="$(med plain ingest)" 'BEGIN { if (b > 0) printf "%.4f", a / b }')" "<=" 1.0 x
	verdict "ingest rate excl. unlock" "$(awk -v n="$msgs" -v t="$(med coffer ingest_excl)" \
	    'BEGIN { if (t > 0) printf "%.0f", n / t }')" ">=" 200000 " msg/s"
	verdict "store files" "$(med coffer store_files)" "<=" \
	    "$(((msgs + 99999) / 100000 * 1000 + 4))" ""
	verdict "store overhead over the plain tree" \
	    "$(awk -v a="$(med coffer store_bytes)" -v b="$plain_bytes" \
	    'BEGIN { printf "%.2f", (a - b) * 100 / b }')" "<=" 10 "%"
	verdict "import peak RSS" "$(awk -v k="$(med coffer import_rss)" 'BEGIN { printf "%.1f", k / 1024 }')" \
	    "<=" 200 " MB"
	verdict "daemon peak RSS (target at 1M messages)" \
	    "$(awk '$1 == "coffer" && $2 == "daemon_rss" { printf "%.1f", $5 / 1024 }' "$W/medians")" \
	    "<=" 150 " MB"
	verdict "mount ready excl. unlock (target at 1M messages)" "$(med coffer mount_excl)" "<=" 0.3 " s"
	echo
	echo "(store files: the limit is 'hundreds of segments per 100k messages plus one per attachment',"
	echo "taken as 1000 per 100k plus the 4 attachments.)"
} >>"$W/table"

mkdir -p "$(dirname "$out")"
tee "$out" <"$W/table"
[ "${BENCH_KEEP:-0}" = 1 ] && cp "$S" "$out.samples"
exit 0
