#!/bin/bash
# Run every fuzzer in BUILD_DIR for FUZZ_TIME seconds each (or FUZZ_RUNS
# executions), on a scratch corpus seeded from tests/fuzz/corpus/NAME.
# Prints one line per fuzzer: "NAME ok|CRASH executions=N exec/s=R".
set -u
cd "$(dirname "$0")/../.."
dir=$1
rc=0
for f in "$dir"/fuzz_*; do
	name=${f##*/fuzz_}
	work=$(mktemp -d)
	args=(-print_final_stats=1 -timeout=10 -rss_limit_mb=1024)
	[ -n "${FUZZ_RUNS:-}" ] && args+=(-runs="$FUZZ_RUNS") || args+=(-max_total_time="${FUZZ_TIME:-30}")
	"$f" "${args[@]}" -artifact_prefix="$work/" "$work" "tests/fuzz/corpus/$name" > "$work/log" 2>&1
	r=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log")
	if [ $r -eq 0 ]; then
		echo "$name ok executions=$execs exec/s=$rate"
	else
		echo "$name CRASH (exit $r): $(grep -m 3 -E 'ERROR|SUMMARY|Sanitizer' "$work/log" | tr '\n' ' ')"
		cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* . 2> /dev/null
		rc=1
	fi
	rm -rf "$work"
done
exit $rc
