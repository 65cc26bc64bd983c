#!/bin/sh
# Run Coffer's tests: the unit programs in $O/tests/, then the end-to-end
# scripts in tests/e2e/ (numbered; they mount a real FUSE filesystem).
# Usage: O=build sh tests/run.sh [unit|e2e] [PATTERN]
# An e2e script exits 0 (pass), 77 (skip, with a reason on stdout) or
# anything else (fail).  The last line is "N passed, N failed, N skipped".
O=${O:-build}
what=${1:-all}
pattern=${2:-}
top=$(cd "$(dirname "$0")/.." && pwd)
case $O in /*) bin=$O ;; *) bin=$top/$O ;; esac
pass=0 fail=0 skip=0 failed=""
logdir=$(mktemp -d "${TMPDIR:-/tmp}/coffer-tests.XXXXXX")

run_one() {
	name=$1; shift
	log="$logdir/$(basename "$name").log"
	start=$(date +%s)
	"$@" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	case $rc in
	0)  pass=$((pass + 1)); echo "PASS $name (${secs}s)" ;;
	77) skip=$((skip + 1)); echo "SKIP $name: $(tail -n 1 "$log")" ;;
	*)  fail=$((fail + 1)); failed="$failed $name"; echo "FAIL $name (exit $rc)"
	    sed 's/^/    | /' "$log" | tail -n 60 ;;
	esac
}

if [ "$what" = all ] || [ "$what" = unit ]; then
	for t in "$bin"/tests/test_*; do
		[ -x "$t" ] || continue
		case $(basename "$t") in *"$pattern"*) ;; *) continue ;; esac
		run_one "unit/$(basename "$t")" "$t"
	done
fi
if [ "$what" = all ] || [ "$what" = e2e ]; then
	for t in "$top"/tests/e2e/t[0-9]*.sh; do
		[ -f "$t" ] || continue
		case $(basename "$t") in *"$pattern"*) ;; *) continue ;; esac
		run_one "e2e/$(basename "$t" .sh)" env COFFER_BIN="$bin" COFFER_TOP="$top" sh "$t"
	done
fi
rm -rf "$logdir"
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
