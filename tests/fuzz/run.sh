#!/bin/sh
# Run every fuzzer built in $FUZZ_O (or only those named) for SECONDS each (default 600: the
# ten CPU-minutes the issues ask for; `make fuzz-quick` passes 20).
# Seeds: tests/fixtures/<format>/ and, when present, ../shared/corpus/<format>/.
# A crash leaves its input in $FUZZ_O/crashes/ and makes this exit 1.
secs=${1:-600}
[ $# -gt 0 ] && shift
only="$*"               # optional: run only these fuzzers (fuzz_slack ...)
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${FUZZ_O:-$top/build-fuzz}
corpus_top=${COFFER_CORPUS:-$top/../shared/corpus}
status=0
mkdir -p "$out/crashes"
for f in "$out"/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	case " $only " in "  ") ;; *" $name "*) ;; *) continue ;; esac
	fmt=${name#fuzz_}
	work="$out/corpus/$fmt"
	mkdir -p "$work"
	seeds=""
	for d in "$top/tests/fixtures/$fmt" "$corpus_top/$fmt"; do
		[ -d "$d" ] && seeds="$seeds $d"
	done
	[ "$fmt" = jsonl ] && seeds="$seeds $top/tests/fixtures/sample"
	# libFuzzer takes files, not trees: copy every seed file in once
	for d in $seeds; do
		find "$d" -type f -size -1000k | while read -r s; do
			cp "$s" "$work/seed-$(echo "$s" | cksum | cut -d' ' -f1)" 2>/dev/null
		done
	done
	echo "fuzz: $name for ${secs}s ($(ls "$work" | wc -l) inputs in its corpus)"
	# /usr/bin/time (Debian package time) records the CPU seconds the fuzzer really had:
	# -max_total_time is wall time, and on a busy machine the two differ.
	timer=""
	[ -x /usr/bin/time ] && timer="/usr/bin/time -o $out/$name.cpu -f %U+%S"
	if ! $timer "$f" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
	    -artifact_prefix="$out/crashes/$name-" -print_final_stats=1 "$work" \
	    >"$out/$name.log" 2>&1; then
		echo "fuzz: $name FAILED, see $out/$name.log"; tail -30 "$out/$name.log"
		status=1
	else
		grep -E "^stat::number_of_executed_units|^Done" "$out/$name.log" | tr '\n' ' '
		[ -s "$out/$name.cpu" ] && printf 'cpu_seconds: %s' "$(tail -1 "$out/$name.cpu" | awk -F+ '{print $1+$2}')"
		echo
	fi
done
exit $status
