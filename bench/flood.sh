#!/bin/bash
# A legitimate client's full handshakes per second while 10,000 hostile
# connections are held from 100 source addresses, for mtasts-httpd,
# lighttpd + mod_mbedtls and nginx, run as bench/compare.sh runs them (one
# at a time on 127.0.0.1:443 in a network namespace of our own, the
# server on CPU 0, every load on CPU 1). mtasts-httpd has its default
# limits (the config names only listen, cert, key, state_dir and the
# domain); the peers have compare.sh's configs (8192 connections each).
#
#   bench/flood.sh [BIN]     NFLOOD (10000), NSRC (100), DUR s (10),
#                            RUNS (1), RATE reopens/s (3000), SERVERS
#                            ("mtasts-httpd lighttpd nginx")
#
# Per server: the legitimate rate unloaded (bench/flood.py legit: 4
# processes from 127.0.0.1, a new connection, a full TLS 1.2 handshake
# and one GET each, every fetch bounded to 5 s), then bench/flood.py
# churn opens NFLOOD hostile connections from 127.0.1.1-127.0.1.NSRC (80 %
# idle, 10 % 64 bytes of garbage, 10 % half a ClientHello) and reopens the
# ones the server closes (at most RATE a second, for a bounded time), and
# the legitimate rate is measured again. Sampled every second meanwhile:
# the server's RSS and how many hostile connections the generator has
# open; before and after (ss costs the load's CPU a tenth of a second
# with 10,000 sockets), how many the server holds: accepted and open, by
# ss, established from 127.0.1.0/24 and owned by a process (the lower of
# the two counts). Prints one table: medians of RUNS runs.
set -eu
. "$(dirname "$0")/lib.sh"
bin=$(realpath "$bin")
NFLOOD=${NFLOOD:-10000}
NSRC=${NSRC:-100}
DUR=${DUR:-10}
RUNS=${RUNS:-1}
RATE=${RATE:-3000}
SERVERS=${SERVERS:-mtasts-httpd lighttpd nginx}
PROCS=4
spid=""
ns=""

cleanup() {
	if [ -n "${G_PID:-}" ]; then kill "$G_PID" 2> /dev/null || true; fi
	if [ -n "$spid" ]; then kill "$spid" 2> /dev/null && wait "$spid" 2> /dev/null; fi
	[ -z "$ns" ] || bench_ns_del
	rm -rf "$t"
}
trap cleanup EXIT
for c in nginx lighttpd python3 taskset ip curl ss; do
	command -v "$c" > /dev/null || { echo "flood.sh: $c missing (make bench installs it)" >&2; exit 1; }
done
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt $((NFLOOD + 1024)) ]; then
	echo "flood.sh: the hard fd limit ($hard) is too low for $NFLOOD connections" >&2
	exit 1
fi

bench_ns
cat > "$t/mtasts.conf" <<C
listen 127.0.0.1:443
cert $t/certs/mta-sts.fullchain.crt
key $t/certs/mta-sts.key
state_dir $t/state
check_interval 0
domain example.com
mode testing
mx mail.example.com
C
bench_peers "$t/mtasts.conf"

declare -A R	# R[server/metric] = "v1 v2 ..."
add() { R[$1/$2]="${R[$1/$2]:-} $3"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "nan" }'; }
# Hostile connections the server holds: accepted (owned by a process)
# and established.
held() {
	N taskset -c 1 ss -Htnp state established "( sport = :443 and dst 127.0.1.0/24 )" |
	    grep -c 'users:' || true
}
# The generator's status: "open O connecting C reopened R".
gstat() {
	echo status >&"${G[1]}"
	read -r -t 10 line <&"${G[0]}"
	echo "$line"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# pct_cpu TICKS MS: the share of one core, in per cent
pct_cpu() { echo $(($1 * 100 * 1000 / $(getconf CLK_TCK) / $2)); }

for run in $(seq "$RUNS"); do
	for s in $SERVERS; do
		echo "flood.sh: run $run, $s" >&2
		bench_serve "$s" "$t/mtasts.conf"
		bench_first_200 "$(date +%s%N)" > /dev/null
		sleep 0.5
		add "$s" rss_idle "$(bench_rss)"
		read -r _ _ _ rate _ _ _ _ _ p50 _ _ _ <<< \
		    "$(N taskset -c 1 python3 bench/flood.py legit 443 "$DUR" "$PROCS")"
		add "$s" rate_idle "${rate%/s}"
		add "$s" p50_idle "$p50"
		idle_rate=${rate%/s}

		coproc G { N taskset -c 1 python3 bench/flood.py churn 443 "$NFLOOD" 127.0.1.1 "$NSRC" "$RATE" $((DUR + 150)); }
		read -r -t 90 ramp <&"${G[0]}" || ramp="no answer from the generator"
		echo "flood.sh:   $ramp" >&2
		sleep 2
		read -r _ _ _ _ _ r0 <<< "$(gstat)"
		held > "$t/s.held"
		: > "$t/s.rss"; : > "$t/s.open"
		gpid=$(pgrep -f "bench/flood.py churn 443" | tail -n 1)
		c0=$(bench_ticks) t0=$(now_ms) g0=$(awk '{print $14 + $15}' "/proc/$gpid/stat")
		N taskset -c 1 python3 bench/flood.py legit 443 "$DUR" "$PROCS" > "$t/legit" &
		lpid=$!
		while kill -0 "$lpid" 2> /dev/null; do
			bench_rss >> "$t/s.rss"
			read -r _ o _ _ _ _ <<< "$(gstat)"
			echo "$o" >> "$t/s.open"
			sleep 1
		done
		wait "$lpid"
		c1=$(bench_ticks) t1=$(now_ms) g1=$(awk '{print $14 + $15}' "/proc/$gpid/stat")
		held >> "$t/s.held"
		read -r _ _ _ _ _ r1 <<< "$(gstat)"
		read -r _ _ _ rate _ failed _ timedout _ p50 _ _ p99 _ < "$t/legit"
		echo "flood.sh:   unloaded ${idle_rate}/s; under the flood: $(cat "$t/legit")" >&2
		add "$s" rate_flood "${rate%/s}"
		add "$s" pct "$(python3 -c "print('%.1f' % (100 * ${rate%/s} / $idle_rate))")"
		add "$s" bad_flood $((failed + timedout))
		add "$s" p50_flood "$p50"
		add "$s" p99_flood "$p99"
		add "$s" held "$(median < "$t/s.held")"
		add "$s" gen_open "$(median < "$t/s.open")"
		add "$s" reopen "$(python3 -c "print('%.0f' % (($r1 - $r0) * 1000 / ($t1 - $t0)))")"
		add "$s" cpu_flood "$(pct_cpu $((c1 - c0)) $((t1 - t0)))"
		add "$s" cpu_gen "$(pct_cpu $((g1 - g0)) $((t1 - t0)))"
		add "$s" rss_flood "$(median < "$t/s.rss")"
		add "$s" rss_peak "$(bench_rss VmHWM)"
		echo quit >&"${G[1]}"
		wait "$G_PID" 2> /dev/null || true
		bench_unserve
	done
done

for k in "${!R[@]}"; do echo "${k%%/*} ${k#*/}${R[$k]}"; done > "$t/results"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -n 1); $(uname -sr)"
echo "servers: $("$bin" --version); lighttpd $(lighttpd -v 2>&1 | sed -n 's/^lighttpd\/\([^ ]*\).*/\1/p') + mod_mbedtls; nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') (OpenSSL $(openssl version | awk '{print $2}'))"
echo "flood: $NFLOOD hostile connections from $NSRC addresses (80% idle, 10% garbage, 10% half a ClientHello), reopened at most $RATE/s"
echo "runs: $RUNS x ${DUR}s unloaded, then loaded; $PROCS legitimate client processes; server on CPU 0, load on CPU 1; fd limit $(ulimit -Sn) soft, $hard hard"
python3 bench/flood.py table "$t/results"
