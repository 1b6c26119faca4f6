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
	printf 'listen 127.0.0.1:0\ncert %s\nkey %s\nstate_dir %s\n' \
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
