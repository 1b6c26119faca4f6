#!/bin/bash
# mtasts-httpd against lighttpd + mod_mbedtls (the same TLS library) and
# nginx (OpenSSL, one worker), serving the same policy bytes with the
# same ECDSA P-256 certificate on 127.0.0.1:443 inside a network
# namespace of our own. Each server is pinned to CPU 0, every load
# generator to CPU 1; one server runs at a time. Prints one table: each
# figure the median of RUNS runs (min-max), and ratios to both peers.
#
#   bench/compare.sh [BIN]        RUNS (default 3), DUR seconds (default 5)
#
# Loads: wrk (keep-alive, 32 connections); bench/tlsload.py (a new TLS
# 1.2 connection per request, each handshake checked to be full, or
# resumed by session ticket); bench/holdconns.py (500 idle connections,
# after a handshake and a request, or raw TCP that never sent a byte).
# Server CPU is utime+stime of its processes from /proc. The crypto bound
# is bench/cryptobound.c linked against the mbedTLS that BIN uses. The
# namespace, the peers' configs and the server helpers are bench/lib.sh's.
set -eu
. "$(dirname "$0")/lib.sh"
bin=$(realpath "$bin")
RUNS=${RUNS:-3}
DUR=${DUR:-5}
HOLD=500
spid=""
ns=""

cleanup() {
	if [ -n "$spid" ]; then kill "$spid" 2> /dev/null && wait "$spid" 2> /dev/null; fi
	[ -z "$ns" ] || bench_ns_del
	rm -rf "$t"
}
trap cleanup EXIT
[ -n "${BENCH_DEBUG:-}" ] && trap 'cat "$t/err" "$t"/*.err "$t/nginx/error.log" >&2 2> /dev/null; cleanup' EXIT
for c in wrk nginx lighttpd python3 taskset ip curl; do
	command -v "$c" > /dev/null || { echo "compare.sh: $c missing (make bench installs it)" >&2; exit 1; }
done
ulimit -n 16384

cat > "$t/mtasts.conf" <<C
listen 127.0.0.1:443
cert $t/certs/mta-sts.fullchain.crt
key $t/certs/mta-sts.key
state_dir $t/state
check_interval 0
max_connections 4096
max_connections_per_ip 4096
max_requests 1000000
handshake_timeout 600
idle_timeout 600
domain example.com
mode testing
mx mail.example.com
C
bench_peers "$t/mtasts.conf"
bench_ns

hz=$(getconf CLK_TCK)

# The crypto bound, against the mbedTLS that BIN uses.
if "$bin" --version | grep -q 'mbedTLS 3\.'; then
	cc -O2 -Ibuild-deps/prefix/include -o "$t/cryptobound" bench/cryptobound.c build-deps/prefix/lib/libmbedcrypto.a
else
	cc -O2 -o "$t/cryptobound" bench/cryptobound.c -lmbedcrypto
fi

declare -A R	# R[server/metric] = "v1 v2 ..."
add() { R[$1/$2]="${R[$1/$2]:-} $3"; }

for run in $(seq "$RUNS"); do
	for s in mtasts-httpd lighttpd nginx; do
		t0=$(date +%s%N)
		bench_serve "$s" "$t/mtasts.conf"
		add "$s" startup "$(bench_first_200 "$t0")"
		sleep 0.5
		add "$s" rss_idle "$(bench_rss)"

		c0=$(bench_ticks)
		# The port spelled out: a base image has no /etc/services
		# (netbase) to look "https" up in.
		out=$(N taskset -c 1 wrk -t1 -c32 -d"${DUR}s" https://mta-sts.example.com:443/.well-known/mta-sts.txt)
		c1=$(bench_ticks)
		n=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' <<< "$out")
		add "$s" keepalive "$(sed -n 's/^Requests\/sec: *//p' <<< "$out")"
		add "$s" cpu_req "$(python3 -c "print('%.1f' % (($c1 - $c0) * 1e6 / $hz / $n))")"

		for mode in full resume; do
			c0=$(bench_ticks) k0=$(bench_ticks sys)
			out=$(N taskset -c 1 python3 bench/tlsload.py 443 "$DUR" 4 "$mode")
			c1=$(bench_ticks) k1=$(bench_ticks sys)
			read -r _ n _ rate _ wrong _ failed <<< "$out"
			if [ "$wrong" != 0 ] || [ "$failed" != 0 ]; then
				echo "$s $mode: $out" >&2
			fi
			add "$s" "$mode" "${rate%/s}"
			add "$s" "cpu_$mode" "$(python3 -c "print('%.1f' % (($c1 - $c0) * 1e6 / $hz / $n))")"
			add "$s" "sys_$mode" "$(python3 -c "print('%.1f' % (($k1 - $k0) * 1e6 / $hz / $n))")"
		done

		# Each on a fresh server, against its idle RSS: memory taken for
		# one kind of connection is not always given back, and would
		# hide what the other costs.
		for mode in tcp tls; do
			bench_unserve
			bench_serve "$s" "$t/mtasts.conf"
			bench_first_200 "$(date +%s%N)" > /dev/null
			sleep 0.5
			base=$(bench_rss)
			coproc H { N taskset -c 1 python3 bench/holdconns.py 443 "$HOLD" "$mode"; }
			read -r line <&"${H[0]}"
			sleep 1
			held=$(bench_rss)
			echo >&"${H[1]}"
			wait "$H_PID" 2> /dev/null || true
			[ "$line" = "held $HOLD" ] || echo "$s $mode: $line" >&2
			add "$s" "rss_$mode" "$held"
			add "$s" "kb_$mode" "$(python3 -c "print('%.1f' % (($held - $base) / $HOLD))")"
			sleep 1
		done
		bench_unserve
	done
	add crypto bound "$(taskset -c 0 "$t/cryptobound" 3 | awk '{print $2}')"
	add crypto boundpk "$(taskset -c 0 "$t/cryptobound" 3 pk | awk '{print $2}')"
done

size() { strip -o "$t/stripped" "$1" && stat -c %s "$t/stripped"; }
{
	for k in "${!R[@]}"; do echo "${k%%/*} ${k#*/}${R[$k]}"; done
	echo "mtasts-httpd size $(size "$bin")"
	echo "lighttpd size $(($(size "$(command -v lighttpd)") + $(size /usr/lib/lighttpd/mod_mbedtls.so)))"
	echo "nginx size $(size "$(command -v nginx)")"
} > "$t/results"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -n 1); $(uname -sr)"
echo "servers: $("$bin" --version); lighttpd $(lighttpd -v 2>&1 | sed -n 's/^lighttpd\/\([^ ]*\).*/\1/p') + mod_mbedtls; nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') (OpenSSL $(openssl version | awk '{print $2}'))"
echo "runs: $RUNS x ${DUR}s; server on CPU 0, load on CPU 1; $HOLD held connections"
python3 bench/table.py "$t/results"
