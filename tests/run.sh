#!/bin/bash
# Runs every test against each build directory given (the plain build and
# the ASan+UBSan one), then prints "N passed, M failed[, K skipped]" and
# exits non-zero on any failure.
#   tests/run.sh build build-san          all tests
#   TESTS="t-http t-id" tests/run.sh build  some of them
#   tests/run.sh build build-static=t-http,t-reload  some for one build
set -u
cd "$(dirname "$0")/.."
top=$PWD

export TMPDIR=${TMPDIR:-/tmp}
work=$(mktemp -d "$TMPDIR/mtasts-tests.XXXXXX")
export RESULTS=$work/results
: > "$RESULTS"

# One throwaway CA for the whole run (tests make their own leaves).
export CERTS=$work/certs
sh certs/mkcert.sh "$CERTS" example.com example.net >/dev/null

tests=${TESTS:-$(cd tests && ls t-*.sh | sed 's/\.sh$//')}
export FIRST=1	# checks that do not depend on the build run in the first only
timing=""
for arg in "$@"; do
	start=$SECONDS
	build=${arg%%=*}
	only=$tests
	[ "$arg" != "$build" ] && only=$(echo "${arg#*=}" | tr ',' ' ')
	export BIN=$top/$build/mtasts-httpd BUILD_NAME=$build
	case $build in *san*) export SANITIZED=1 ;; *) export SANITIZED=0 ;; esac
	echo "== $build: unit tests"
	TMPDIR=$work "$top/$build/unit" > "$work/unit.out" 2>&1
	rc=$?
	sed "s/^/[$build] /" "$work/unit.out"
	grep '^ok ' "$work/unit.out" | sed 's/.*/pass/' >> "$RESULTS"
	grep '^not ok ' "$work/unit.out" | sed 's/.*/fail/' >> "$RESULTS"
	if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$work/unit.out"; then
		echo "not ok - [$build] unit binary exited $rc"
		echo fail >> "$RESULTS"
	fi
	for t in $only; do
		echo "== $build: $t"
		TEST=$t bash "tests/$t.sh" 2>&1 | sed "s/^/[$build] /"
	done
	FIRST=0
	timing="$timing $build $((SECONDS - start)) s,"
done
echo "# time per build:${timing%,}"

passed=$(grep -c '^pass$' "$RESULTS")
failed=$(grep -c '^fail$' "$RESULTS")
skipped=$(grep -c '^skip$' "$RESULTS")
rm -rf "$work"
echo
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
