# t50: flipping one byte of any store file makes `coffer verify` exit 1 and
# the affected read fail with EIO; moving a blob file over another is
# detected the same way (issue 2, acceptance 5; property 4).
. "$(dirname "$0")/lib.sh"
need_fuse
scenario_setup
ok "$COFFER" verify "$A"
grep -q "0 damaged" "$T/out" || fail "fresh archive not clean: $(cat "$T/out")"

# flip_byte FILE OFFSET: invert one byte in place
flip_byte() {
	local b
	b=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $(( (b ^ 255) & 255 )))" |
	    dd of="$1" bs=1 seek="$2" count=1 conv=notrunc 2>/dev/null
}

# read_all MOUNT: read every file; succeed only if every read succeeded
read_all() {
	local f st
	find "$1" -type f >"$T/files" 2>"$T/readerr" || true
	st=0
	while read -r f; do
		cat "$f" >/dev/null 2>>"$T/readerr" || st=1
	done <"$T/files"
	ls -R "$1" >/dev/null 2>>"$T/readerr" || st=1
	return $st
}

# the untampered archive reads cleanly as admin (the test can tell)
mount_as "$A" "$T/m0" admin || fail "mount failed: $(cat "$T/mount.err")"
read_all "$T/m0" || fail "clean archive has read errors: $(cat "$T/readerr")"
unmount "$T/m0"

n=0
for f in $(cd "$A" && find blobs -type f | sort); do
	size=$(stat -c %s "$A/$f")
	for off in 20 100 $((size / 2)) $((size - 1)); do
		n=$((n + 1))
		C="$T/copy$n"
		cp -a "$A" "$C"
		flip_byte "$C/$f" "$off"
		expect_rc 1 "$COFFER" verify "$C"
		grep -q "$f" "$T/out" || fail "verify does not name $f: $(cat "$T/out")"
		if [ "$off" = 100 ] || [ "$off" = "$((size - 1))" ]; then
			mount_as "$C" "$T/m$n" admin || fail "mount failed: $(cat "$T/mount.err")"
			if read_all "$T/m$n"; then fail "flip at $off of $f: every read succeeded"; fi
			grep -q "Input/output error" "$T/readerr" ||
			    fail "flip at $off of $f: no EIO: $(cat "$T/readerr")"
			unmount "$T/m$n"
		fi
		rm -rf "$C"
	done
done
[ $n -ge 12 ] || fail "expected at least 3 blobs, tampered $n times"

# move one blob over another (the attachment over a segment and back)
set -- $(cd "$A" && find blobs -type f | sort)
C="$T/moved"
cp -a "$A" "$C"
mv -f "$C/$1" "$C/$2"
expect_rc 1 "$COFFER" verify "$C"
grep -q "missing" "$T/out" || fail "verify does not report the moved file: $(cat "$T/out")"
cp -a "$A" "$T/moved2"
cp "$T/moved2/$1" "$T/moved2/$2"
expect_rc 1 "$COFFER" verify "$T/moved2"
mount_as "$T/moved2" "$T/mm" admin || fail "mount failed: $(cat "$T/mount.err")"
if read_all "$T/mm"; then fail "a blob copied over another was read without error"; fi
grep -q "Input/output error" "$T/readerr" || fail "no EIO for swapped blob: $(cat "$T/readerr")"
unmount "$T/mm"

# an unreferenced file is reported but is not damage
cp -a "$A" "$T/orphan"
mkdir -p "$T/orphan/blobs/ff"
head -c 100 /dev/urandom >"$T/orphan/blobs/ff/ff00000000000000000000000000000000"
expect_rc 0 "$COFFER" verify "$T/orphan"
grep -q "unreferenced" "$T/out" || fail "orphan not reported: $(cat "$T/out")"

# damage to the keystore is reported clearly, not a crash
cp -a "$A" "$T/ks"
dd if=/dev/urandom of="$T/ks/keystore/data.mdb" bs=4096 count=2 conv=notrunc 2>/dev/null
"$COFFER" verify "$T/ks" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 1 ] || [ $rc -eq 2 ] || fail "damaged keystore: verify exited $rc"
exit 0
