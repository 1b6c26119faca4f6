#!/bin/bash
# Runs every test against each build directory given (the plain build and
# the ASan+UBSan one), then prints "N passed, M failed[, K skipped]" and
# exits non-zero on any failure. A script that exits non-zero or ends
# without done_testing's "# done t-NAME" line counts as one more failure;
# every failure is listed again at the end.
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
: > "$work/failures"

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
	sed -n "s/^not ok - /[$build] unit: /p" "$work/unit.out" >> "$work/failures"
	if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$work/unit.out"; then
		echo "not ok - [$build] unit binary exited $rc"
		echo fail >> "$RESULTS"
		echo "[$build] unit: the binary exited $rc" >> "$work/failures"
	fi
	for t in $only; do
		echo "== $build: $t"
		t0=$SECONDS
		# A script counts as failed when it exits non-zero or ends
		# without done_testing's line (tests/lib.sh): a test cut short
		# must not pass by silence.
		TEST=$t bash "tests/$t.sh" 2>&1 | tee "$work/t.out" | sed "s/^/[$build] /"
		rc=${PIPESTATUS[0]}
		why=""
		if [ "$rc" -ne 0 ]; then
			why="exited $rc"
		elif ! grep -qxF "# done $t" "$work/t.out"; then
			why="ended without its '# done $t' line"
		fi
		if [ -n "$why" ]; then
			echo "not ok - [$build] $t: the script $why"
			echo fail >> "$RESULTS"
		fi
		sed -n "s/^not ok - /[$build] $t: /p" "$work/t.out" >> "$work/failures"
		[ -z "$why" ] || echo "[$build] $t: the script $why" >> "$work/failures"
		echo "# $build: $t took $((SECONDS - t0)) s"
	done
	FIRST=0
	timing="$timing $build $((SECONDS - start)) s,"
done
echo "# time per build:${timing%,}"

if [ -s "$work/failures" ]; then
	echo
	echo "# failed:"
	sed 's/^/#   /' "$work/failures"
fi
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
