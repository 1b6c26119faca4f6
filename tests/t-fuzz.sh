#!/bin/bash
# The libFuzzer harnesses (config parser, name rules, request matcher,
# ClientHello, ACME objects, HTTP responses, DNS answers, SMTP replies,
# TLS reports, mail messages) for 10 s each (FUZZ_TIME), built by make
# test into build-fuzz/: a smoke run that each still runs and finds
# nothing quick. Runs once, in the plain build's pass. Longer runs: make
# fuzz (600 s each).
. "$(dirname "$0")/lib.sh"
[ "${FIRST:-1}" = 1 ] || skip_all
top=$(cd "$(dirname "$0")/.." && pwd)
if ! ls "$top"/build-fuzz/fuzz_* > /dev/null 2>&1; then
	fail "fuzzers not built (make fuzz-build needs clang)"
	exit 0
fi
FUZZ_TIME=${FUZZ_TIME:-10} bash "$top/tests/fuzz/run.sh" "$top/build-fuzz" > "$T/fuzz.out"
while read -r name status rest; do
	eq "fuzzer $name (${FUZZ_TIME:-10} s, $rest)" "$status" ok
done < "$T/fuzz.out"
# (FUZZERS may go on over continuation lines)
sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$top/Makefile" | sed -n 's/^FUZZERS[[:space:]]*=//p' | tr -s ' \t' '\n' | sed -n 's/^fuzz_//p' | sort > "$T/want"
awk '{ print $1 }' "$T/fuzz.out" | sort > "$T/ran"
eq "every fuzzer the Makefile names ran ($(wc -l < "$T/want"))" "$(comm -23 "$T/want" "$T/ran" | tr '\n' ' ')" ""
done_testing
