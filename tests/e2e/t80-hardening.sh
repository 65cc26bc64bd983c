# t80: no secrets left behind (property 6): the daemon that holds keys runs
# with core dumps off; a failure to lock key memory is reported, not
# ignored; the mount refuses to be shared with other users.
. "$(dirname "$0")/lib.sh"
need_fuse
scenario_setup
ok "$COFFER" grant "$A" --all --to alice --as admin --passphrase-file "$(pw admin)"

M="$T/m"
mount_as "$A" "$M" alice || fail "mount failed: $(cat "$T/mount.err")"
pid=""
for p in $(pgrep -x coffer) $(pgrep -x cofferfs); do
	if tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "$M"; then pid=$p; fi
done
[ -n "$pid" ] || fail "cannot find the daemon serving $M"
grep -q "^Max core file size *0 *0 " "/proc/$pid/limits" ||
    fail "daemon may dump core: $(grep core "/proc/$pid/limits")"
# no passphrase or key material in its command line or environment
if tr '\0' '\n' <"/proc/$pid/cmdline" | grep -q "correct horse"; then fail "passphrase in argv"; fi
if tr '\0' '\n' <"/proc/$pid/environ" | grep -q "correct horse"; then fail "passphrase in environ"; fi
unmount "$M"

# sharing the decrypted view with other users is refused
mkdir -p "$T/m2"
expect_rc 2 "$COFFER" mount "$A" "$T/m2" --as alice --passphrase-file "$(pw alice)" -o allow_other
grep -q "allow_other" "$T/err" || fail "no clear error for allow_other: $(cat "$T/err")"
expect_rc 2 "$COFFER" mount "$A" "$T/m2" --as alice --passphrase-file "$(pw alice)" -o rw
if mountpoint -q "$T/m2"; then MOUNTS="$MOUNTS $T/m2"; fail "mounted anyway"; fi

# without the right to lock memory, the programs say so
if grep -q __asan_init "$COFFER" 2>/dev/null; then
	note "sanitizer build: ASan intercepts mlock, mlock check skipped"
elif command -v capsh >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
	capsh --drop=cap_ipc_lock -- -c "ulimit -l 0; '$COFFER' chats '$A' --as alice \
	    --passphrase-file '$(pw alice)'" >"$T/out" 2>"$T/err"
	grep -q "cannot lock memory" "$T/err" || fail "mlock failure not reported: $(cat "$T/err")"
	grep -q "$TITLE_A" "$T/out" || fail "chats failed without mlock: $(cat "$T/err")"
else
	note "capsh missing or not root: mlock check skipped"
fi
exit 0
