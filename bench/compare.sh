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
# is bench/cryptobound.c linked against the mbedTLS that BIN uses.
set -eu
cd "$(dirname "$0")/.."
top=$PWD
bin=$(realpath "${1:-build/mtasts-httpd}")
RUNS=${RUNS:-3}
DUR=${DUR:-5}
HOLD=500
ns=mtbench$$
t=$(mktemp -d)
chmod 755 "$t"
spid=""

cleanup() {
	[ -n "$spid" ] && kill "$spid" 2> /dev/null && wait "$spid" 2> /dev/null
	ip netns del "$ns" 2> /dev/null || true
	rm -rf "/etc/netns/$ns" "$t"
}
trap cleanup EXIT
[ -n "${BENCH_DEBUG:-}" ] && trap 'cat "$t/err" "$t"/*.err "$t/nginx/error.log" >&2 2> /dev/null; cleanup' EXIT
for c in wrk nginx lighttpd python3 taskset ip curl; do
	command -v "$c" > /dev/null || { echo "compare.sh: $c missing (make bench installs it)" >&2; exit 1; }
done
ulimit -n 16384

ip netns add "$ns"
ip -n "$ns" link set lo up
mkdir -p "/etc/netns/$ns"	# ip netns exec binds this over /etc/hosts
echo "127.0.0.1 localhost mta-sts.example.com" > "/etc/netns/$ns/hosts"
N() { ip netns exec "$ns" "$@"; }

sh certs/mkcert.sh "$t/certs" example.com > /dev/null
chmod 755 "$t/certs"
chmod 644 "$t/certs/"*
cert=$t/certs/mta-sts.fullchain.crt
key=$t/certs/mta-sts.key
mkdir -p "$t/www/.well-known" "$t/state" "$t/nginx"

cat > "$t/mtasts.conf" <<C
listen 127.0.0.1:443
cert $cert
key $key
state_dir $t/state
max_connections 4096
max_connections_per_ip 4096
max_requests 1000000
handshake_timeout 600
idle_timeout 600
domain example.com
mode testing
mx mail.example.com
C
"$bin" -c "$t/mtasts.conf" --print-policy > "$t/www/.well-known/mta-sts.txt"
chmod -R a+rX "$t/www"

cat > "$t/nginx.conf" <<C
worker_processes 1;
daemon off;
pid $t/nginx/nginx.pid;
error_log $t/nginx/error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
	access_log off;
	keepalive_timeout 600;
	keepalive_requests 1000000;
	client_header_timeout 600;
	ssl_protocols TLSv1.2 TLSv1.3;
	ssl_ecdh_curve X25519:prime256v1;
	ssl_session_tickets on;
	server {
		listen 127.0.0.1:443 ssl;
		server_name mta-sts.example.com;
		ssl_certificate $cert;
		ssl_certificate_key $key;
		location = /.well-known/mta-sts.txt { root $t/www; default_type text/plain; }
		location / { return 404; }
	}
}
C
cat > "$t/lighttpd.conf" <<C
server.modules = ( "mod_mbedtls" )
server.document-root = "$t/www"
server.bind = "127.0.0.1"
server.port = 443
server.errorlog = "$t/lighttpd.err"
server.max-connections = 8192
server.max-fds = 16384
server.max-keep-alive-requests = 1000000
server.max-keep-alive-idle = 600
server.max-read-idle = 600
mimetype.assign = ( ".txt" => "text/plain" )
ssl.engine = "enable"
ssl.pemfile = "$cert"
ssl.privkey = "$key"
ssl.openssl.ssl-conf-cmd = ( "MinProtocol" => "TLSv1.2", "Curves" => "x25519:secp256r1" )
C

start() {	# start SERVER; sets spid (no function in between: $! is the server)
	case $1 in
	mtasts-httpd) ip netns exec "$ns" taskset -c 0 "$bin" -c "$t/mtasts.conf" > "$t/out" 2> "$t/err" & ;;
	nginx) ip netns exec "$ns" taskset -c 0 nginx -c "$t/nginx.conf" > "$t/out" 2> "$t/err" & ;;
	lighttpd) ip netns exec "$ns" taskset -c 0 lighttpd -D -f "$t/lighttpd.conf" > "$t/out" 2> "$t/err" & ;;
	esac
	spid=$!
}
# Wait for the first 200; prints the milliseconds since $1 (ns).
first_200() {
	local t0=$1 i
	for i in $(seq 2000); do
		if N curl -s -k -o /dev/null -w '%{http_code}' https://mta-sts.example.com/.well-known/mta-sts.txt 2> /dev/null | grep -q 200; then
			echo $((($(date +%s%N) - t0) / 1000000))
			return 0
		fi
		sleep 0.005
	done
	echo "server did not answer: $(tail -n 3 "$t/err" "$t"/*.err "$t/nginx/error.log" 2> /dev/null)" >&2
	return 1
}
stop() {
	kill "$spid" 2> /dev/null || true
	wait "$spid" 2> /dev/null || true
	spid=""
	sleep 0.3
}
# The server's processes: ip netns exec execs, so $spid is the server.
procs() { echo "$spid" $(pgrep -P "$spid" || true); }
# Clock ticks the server's processes spent: user+system (ticks), or
# system only (ticks sys).
ticks() {
	local p s=0 f='$14 + $15'
	[ "${1:-}" = sys ] && f='$15'
	for p in $(procs); do s=$((s + $(awk "{print $f}" "/proc/$p/stat"))); done
	echo $s
}
rss() { local p s=0; for p in $(procs); do s=$((s + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status"))); done; echo $s; }
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
		start "$s"
		add "$s" startup "$(first_200 "$t0")"
		sleep 0.5
		add "$s" rss_idle "$(rss)"

		c0=$(ticks)
		# The port spelled out: a base image has no /etc/services
		# (netbase) to look "https" up in.
		out=$(N taskset -c 1 wrk -t1 -c32 -d"${DUR}s" https://mta-sts.example.com:443/.well-known/mta-sts.txt)
		c1=$(ticks)
		n=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' <<< "$out")
		add "$s" keepalive "$(sed -n 's/^Requests\/sec: *//p' <<< "$out")"
		add "$s" cpu_req "$(python3 -c "print('%.1f' % (($c1 - $c0) * 1e6 / $hz / $n))")"

		for mode in full resume; do
			c0=$(ticks) k0=$(ticks sys)
			out=$(N taskset -c 1 python3 bench/tlsload.py 443 "$DUR" 4 "$mode")
			c1=$(ticks) k1=$(ticks sys)
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
			stop
			start "$s"
			first_200 "$(date +%s%N)" > /dev/null
			sleep 0.5
			base=$(rss)
			coproc H { N taskset -c 1 python3 bench/holdconns.py 443 "$HOLD" "$mode"; }
			read -r line <&"${H[0]}"
			sleep 1
			held=$(rss)
			echo >&"${H[1]}"
			wait "$H_PID" 2> /dev/null || true
			[ "$line" = "held $HOLD" ] || echo "$s $mode: $line" >&2
			add "$s" "rss_$mode" "$held"
			add "$s" "kb_$mode" "$(python3 -c "print('%.1f' % (($held - $base) / $HOLD))")"
			sleep 1
		done
		stop
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
