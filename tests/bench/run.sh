#!/bin/sh
# make bench: Coffer's benchmarks.  So far: peak memory of importing a large
# Telegram export (issue 3: under 200 MB for a 300 MB export, whatever the
# size).  BENCH_QUICK=1 runs a small version (30 MB) that CI may afford.
# Prints a table and writes it to $BENCH_OUT (default build/bench.txt).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${COFFER_BIN:-$top/build}
out=${BENCH_OUT:-$bin/bench.txt}
work=$(mktemp -d "${TMPDIR:-/tmp}/coffer-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ "${BENCH_QUICK:-0}" = 1 ]; then msgs=63000; else msgs=630000; fi
limit_kb=$((200 * 1024))
status=0

"$bin/gen_telegram" "$work/result.json" "$msgs" || exit 2
size=$(stat -c %s "$work/result.json")
printf 'pw admin\n' >"$work/pa"
printf 'pw ingest\n' >"$work/pi"
"$bin/coffer" init "$work/a" --admin admin --new-passphrase-file "$work/pa" \
    --recovery-key-file "$work/rk" >/dev/null || exit 2
"$bin/coffer" principal add "$work/a" feeder --role ingest --as admin \
    --passphrase-file "$work/pa" --new-passphrase-file "$work/pi" >/dev/null || exit 2
/usr/bin/time -f '%M %e' -o "$work/time" "$bin/coffer" import "$work/a" --as feeder \
    --passphrase-file "$work/pi" "$work/result.json" >"$work/import.out" || exit 2
read -r rss secs <"$work/time"
# a parse-only run: what the importer itself needs
/usr/bin/time -f '%M' -o "$work/time2" "$bin/bench_import" telegram "$work/result.json" \
    >/dev/null || exit 2
read -r prss <"$work/time2"
verdict=ok
[ "$rss" -le "$limit_kb" ] || { verdict="OVER 200 MB"; status=1; }
{
	echo "benchmark                         value"
	printf 'telegram export size              %d MB (%d messages)\n' $((size / 1048576)) "$msgs"
	printf 'import wall time                  %s s\n' "$secs"
	printf 'import peak RSS                   %d MB  (target <= 200 MB: %s)\n' $((rss / 1024)) "$verdict"
	printf 'parse-only peak RSS               %d MB\n' $((prss / 1024))
	printf 'import rate                       %d messages/s\n' \
	    "$(echo "$msgs $secs" | awk '{ printf "%d", $1 / ($2 > 0 ? $2 : 1) }')"
	printf 'store                             %s\n' "$(du -sh "$work/a" | cut -f1)"
} | tee "$out"
exit $status
