# Sourced by bench/*.sh: a scratch directory with a throwaway CA, a
# one-domain config, and the server started and waited for.
set -eu
cd "$(dirname "$0")/.."
bin=${1:-build/mtasts-httpd}
t=$(mktemp -d)
pid=""
trap 'if [ -n "$pid" ]; then kill "$pid" 2> /dev/null || true; fi; rm -rf "$t"' EXIT
sh certs/mkcert.sh "$t/certs" example.com > /dev/null

# bench_conf K [global lines...]: example.com with mx mK.example.com
bench_conf() {
	local k=$1 l
	shift
	printf 'listen 127.0.0.1:0\ncert %s\nkey %s\nstate_dir %s\ncheck_interval 0\n' \
	    "$t/certs/mta-sts.fullchain.crt" "$t/certs/mta-sts.key" "$t/state"
	for l in "$@"; do echo "$l"; done
	printf 'domain example.com\nmode testing\nmx m%d.example.com\n' "$k"
}

# bench_start CONF: start $bin on CONF, wait for it; sets pid and port
bench_start() {
	"$bin" -c "$1" > "$t/out" 2> "$t/err" &
	pid=$!
	for _ in $(seq 100); do grep -q ' serving ' "$t/err" && break; sleep 0.1; done
	port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$t/err")
}

# Three servers on 127.0.0.1:443 in a network namespace of our own, as
# bench/compare.sh and bench/flood.sh run them: mtasts-httpd, lighttpd +
# mod_mbedtls and nginx (one worker), the same policy bytes and ECDSA
# P-256 certificate, one server at a time, pinned to CPU 0.

# bench_ns: create the namespace $ns (lo up, mta-sts.example.com at
# 127.0.0.1; its whole 127.0.0.0/8 is local, so any 127.x.y.z can be a
# source address). N CMD... runs CMD in it. bench_ns_del removes it.
bench_ns() {
	ns=mtbench$$
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	mkdir -p "/etc/netns/$ns"	# ip netns exec binds this over /etc/hosts
	echo "127.0.0.1 localhost mta-sts.example.com" > "/etc/netns/$ns/hosts"
}
N() { ip netns exec "$ns" "$@"; }
bench_ns_del() {
	ip netns del "$ns" 2> /dev/null || true
	rm -rf "/etc/netns/$ns"
}

# bench_peers MTASTS_CONF: $t/www with the policy MTASTS_CONF renders,
# $t/nginx.conf and $t/lighttpd.conf serving it (everything else 404)
# with the certificate in $t/certs; all readable by the peers' users.
bench_peers() {
	local cert=$t/certs/mta-sts.fullchain.crt key=$t/certs/mta-sts.key
	chmod 755 "$t" "$t/certs"
	chmod 644 "$t/certs/"*
	mkdir -p "$t/www/.well-known" "$t/nginx"
	"$bin" -c "$1" --print-policy > "$t/www/.well-known/mta-sts.txt"
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
}

# bench_serve SERVER MTASTS_CONF: start SERVER (mtasts-httpd, lighttpd or
# nginx) in $ns on CPU 0; sets spid (ip netns exec execs: $spid is the
# server). bench_unserve stops it.
bench_serve() {
	# ip itself, not N: a function in the background is a subshell.
	case $1 in
	mtasts-httpd) ip netns exec "$ns" taskset -c 0 "$bin" -c "$2" > "$t/out" 2> "$t/err" & ;;
	nginx) ip netns exec "$ns" taskset -c 0 nginx -c "$t/nginx.conf" > "$t/out" 2> "$t/err" & ;;
	lighttpd) ip netns exec "$ns" taskset -c 0 lighttpd -D -f "$t/lighttpd.conf" > "$t/out" 2> "$t/err" & ;;
	esac
	spid=$!
}
bench_unserve() {
	kill "$spid" 2> /dev/null || true
	wait "$spid" 2> /dev/null || true
	spid=""
	sleep 0.3
}
# bench_first_200 T0: wait for the first 200 from the server in $ns;
# prints the milliseconds since T0 (date +%s%N).
bench_first_200() {
	local t0=$1
	for _ in $(seq 2000); do
		if N curl -s -k -o /dev/null -w '%{http_code}' https://mta-sts.example.com/.well-known/mta-sts.txt 2> /dev/null | grep -q 200; then
			echo $((($(date +%s%N) - t0) / 1000000))
			return 0
		fi
		sleep 0.005
	done
	echo "server did not answer: $(tail -n 3 "$t/err" "$t"/*.err "$t/nginx/error.log" 2> /dev/null)" >&2
	return 1
}
# The server's processes; their CPU in clock ticks (user+system, or
# "sys": system only); their summed VmRSS, or another /proc status field
# (VmHWM), in KB.
bench_procs() { echo "$spid" $(pgrep -P "$spid" || true); }
bench_ticks() {
	local p s=0 f='$14 + $15'
	[ "${1:-}" = sys ] && f='$15'
	for p in $(bench_procs); do s=$((s + $(awk "{print $f}" "/proc/$p/stat"))); done
	echo $s
}
bench_rss() {
	local p s=0
	for p in $(bench_procs); do
		s=$((s + $(awk -v f="${1:-VmRSS}:" '$1 == f {print $2}' "/proc/$p/status")))
	done
	echo $s
}
