# Sourced by every tests/t-*.sh: results, a scratch directory, and the
# real daemon started in the foreground of a background job, waited for by
# its ready line, stopped by PID, and checked for a clean exit and for
# sanitizer reports.
set -u
: "${BIN:?}" "${RESULTS:?}" "${CERTS:?}" "${TEST:=test}"

T=$(mktemp -d "${TMPDIR:-/tmp}/$TEST.XXXXXX")
SPID=""
PORT=""
CLEANUP=()

cleanup() {
	local c
	if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
		kill -KILL "$SPID" 2>/dev/null
	fi
	for c in "${CLEANUP[@]}"; do eval "$c"; done
	rm -rf "$T"
}
trap cleanup EXIT

pass() { echo "ok - $*"; echo pass >> "$RESULTS"; }
fail() { echo "not ok - $*"; echo fail >> "$RESULTS"; }
skip() { echo "skip - $*"; echo skip >> "$RESULTS"; }

# done_testing: the last command of every tests/t-*.sh. tests/run.sh
# counts a script that exits non-zero or ends without this line as failed,
# so a test that stops half-way (exit after a failure, set -u, a crash of
# bash itself) cannot pass by saying nothing.
done_testing() { echo "# done $TEST"; }

# skip_all [REASON]: nothing to do in this run (needs root, or runs in the
# first build's pass only): records a skip when REASON is given, then ends
# the script as done.
skip_all() {
	[ $# -eq 0 ] || skip "$*"
	done_testing
	exit 0
}

# wait_until SECONDS CMD...: runs CMD every 0.1 s until it exits 0 (then
# returns 0) or SECONDS (whole) have passed (then 1). Instead of a sleep
# before a check: as quick as the server, and bounded when it is slow.
wait_until() {
	local end=$((${EPOCHREALTIME/[.,]/} + $1 * 1000000))
	shift
	until "$@"; do
		[ "${EPOCHREALTIME/[.,]/}" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# accepted_all: the listener on $PORT has an empty accept queue, i.e. the
# server has taken every connection the kernel completed (for
# wait_until, before checking what it did with them).
accepted_all() {
	[ "$(ss -Hltn "sport = :$PORT" | awk '{ print $2; exit }')" = 0 ]
}

# ok DESC CMD...: passes when CMD exits 0
ok() {
	local desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc"; fi
}

# eq DESC GOT WANT
eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1: got '$2', want '$3'"
	fi
}

# A loopback port free now, for servers that need a fixed one (the
# healthcheck cannot find port 0's choice).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A config serving on a free loopback port; the domain block (and any
# other lines) on stdin. check_interval 0: the server's DNS checks would
# ask the machine's resolver, and tests talk only to loopback or to
# namespaces of their own (a test that has one writes its own config).
write_conf() {
	local f=$1
	{
		echo "listen 127.0.0.1:0"
		echo "cert ${CERT:-$CERTS/mta-sts.fullchain.crt}"
		echo "key ${KEY:-$CERTS/mta-sts.key}"
		echo "state_dir $T/state"
		echo "check_interval 0"
		# RECEIVER=1: the TLS report receiver on (t-report runs the
		# strictness tests so: nothing else may change)
		[ -z "${RECEIVER:-}" ] || echo "tlsrpt_receive yes"
		cat
	} > "$f"
}

# start_server CONF: start, wait for the ready line, set SPID, PORT.
# CONF "-" starts it without -c (configured by the environment).
# $WRAP (e.g. "ip netns exec ns") and $WAIT_S (default 60: a start that
# mints an id fsyncs, which can take long on a busy disk) are honoured.
start_server() {
	local conf=$1 i args=(-c "$1")
	[ "$conf" = - ] && args=()
	SOUT=$T/server.out
	SERR=$T/server.err
	# Empty them here: the job's own redirections truncate only once it
	# runs, and a restart would read the last server's ready line first.
	: > "$SOUT"
	: > "$SERR"
	# shellcheck disable=SC2086
	${WRAP:-} "$BIN" "${args[@]}" > "$SOUT" 2> "$SERR" &
	SPID=$!
	for ((i = 0; i < ${WAIT_S:-60} * 10; i++)); do
		grep -q ' serving ' "$SERR" && break
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$SERR" | head -n 1)
	if ! grep -q ' serving ' "$SERR"; then
		fail "server did not start: $(tail -n 5 "$SERR" | tr '\n' ' ')"
		if kill -0 "$SPID" 2>/dev/null && command -v gdb > /dev/null; then
			echo "# still running after ${WAIT_S:-60}s; its stack:"
			gdb -batch -p "$SPID" -ex 'thread apply all bt' 2>&1 | grep '^#' | head -n 30
		fi
		return 1
	fi
	return 0
}

# stop_server: SIGTERM, expect exit 0 and no sanitizer report.
stop_server() {
	local rc
	[ -n "$SPID" ] || return 0
	kill -TERM "$SPID"
	wait "$SPID"
	rc=$?
	SPID=""
	eq "server exits 0 on SIGTERM" "$rc" 0
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer' "$SERR"; then
		fail "sanitizer report: $(grep -m 3 -E 'Sanitizer|runtime error' "$SERR" | tr '\n' ' ')"
	fi
}

# get [curl args] URL-PATH: HTTPS to mta-sts.example.com on $PORT.
get() {
	local path=${*: -1}
	curl -sS --max-time 10 --cacert "$CERTS/ca.crt" \
	    --resolve "mta-sts.example.com:$PORT:127.0.0.1" \
	    --resolve "mta-sts.example.net:$PORT:127.0.0.1" \
	    "${@:1:$#-1}" "https://mta-sts.example.com:$PORT$path"
}

# conf_v K [global lines...]: a config whose policy is version K (mx
# mK.example.com, max_age 86400). $LPORT (default 0), $CERT, $KEY honoured.
# No DNS checks, as in write_conf.
conf_v() {
	local k=$1 l
	shift
	printf 'listen 127.0.0.1:%s\ncert %s\nkey %s\nstate_dir %s\ncheck_interval 0\n' \
	    "${LPORT:-0}" "${CERT:-$T/cert.pem}" "${KEY:-$T/key.pem}" "$T/state"
	for l in "$@"; do echo "$l"; done
	printf 'domain example.com\nmode testing\nmx m%d.example.com\nmax_age 86400\n' "$k"
}

# report NAME FILE: a checker's "ok - " / "not ok - " lines as results, its
# "#" lines shown; anything else, or no result at all, fails. Sets
# REPORTED to the number of results.
report() {
	local name=$1 file=$2 line n=0
	while IFS= read -r line; do
		case $line in
		"ok - "*) pass "${line#ok - }"; n=$((n + 1)) ;;
		"not ok - "*) fail "${line#not ok - }"; n=$((n + 1)) ;;
		"#"*) echo "$line" ;;
		*) fail "$name: $line" ;;
		esac
	done < "$file"
	[ "$n" -gt 0 ] || fail "$name printed no result"
	REPORTED=$n
}

# two_sites FILE [global lines...]: example.com (enforce) and example.net
# (testing) on the default certificate, which covers both names.
two_sites() {
	local f=$1 l
	shift
	{
		for l in "$@"; do echo "$l"; done
		printf 'domain example.com\nmode enforce\nmx mail.example.com\n'
		printf 'domain example.net\nmode testing\nmx mail.example.net\n'
	} | write_conf "$f"
}
