#!/bin/bash
# The libFuzzer harnesses (config parser, name rules, request matcher)
# for a bounded time each, built by make test into build-fuzz/. Runs once,
# in the plain build's pass. Longer runs: make fuzz.
. "$(dirname "$0")/lib.sh"
[ "${FIRST:-1}" = 1 ] || exit 0
top=$(cd "$(dirname "$0")/.." && pwd)
if ! ls "$top"/build-fuzz/fuzz_* > /dev/null 2>&1; then
	fail "fuzzers not built (make fuzz-build needs clang)"
	exit 0
fi
FUZZ_TIME=${FUZZ_TIME:-30} bash "$top/tests/fuzz/run.sh" "$top/build-fuzz" > "$T/fuzz.out"
while read -r name status rest; do
	eq "fuzzer $name (${FUZZ_TIME:-30} s, $rest)" "$status" ok
done < "$T/fuzz.out"
eq "three fuzzers ran" "$(wc -l < "$T/fuzz.out")" 3
