#!/bin/bash
# Memory growth: RSS of an idle server, then after 10 000 connections
# (each a full TLS handshake and one request) and after 1000 reloads
# (SIGHUP, alternating two policies, so each one mints an id, swaps the
# snapshot and announces), then once more after another 10 000 + 1000.
# usage: bench/growth.sh [BIN] [CONNECTIONS] [RELOADS]
nconn=${2:-10000}
nrel=${3:-1000}
. "$(dirname "$0")/lib.sh"
conf() { bench_conf "$1" "watch none"; }
conf 0 > "$t/c.conf"
bench_start "$t/c.conf"
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
priv() { awk '/Private_Dirty/ {print $2}' "/proc/$pid/smaps_rollup"; }
conns() {
	python3 - "$port" "$t/certs/ca.crt" "$nconn" <<'PY'
import sys
sys.path.insert(0, "tests")
from https_client import connect, request
import ssl
port, ca, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=ca)
ctx.options |= ssl.OP_NO_TICKET      # full handshakes, no resumption
for i in range(n):
    s = connect(port, ca, ctx=ctx)
    st, body, _ = request(s, b"")
    assert st == 200
    s.close()
PY
}
reloads() {
	local i
	for i in $(seq 1 "$nrel"); do
		conf $((i % 2 + 1)) > "$t/c.tmp" && mv "$t/c.tmp" "$t/c.conf"
		kill -HUP "$pid"
		sleep 0.01
	done
	sleep 1
}
sleep 1
echo "idle:                              RSS $(rss) KB, private dirty $(priv) KB"
conns
echo "after $nconn connections:          RSS $(rss) KB, private dirty $(priv) KB"
reloads
echo "after $nrel reloads:               RSS $(rss) KB, private dirty $(priv) KB ($(grep -c '^reload done' "$t/err") reloads, $(grep -c 'NEW id' "$t/out") new ids)"
conns
reloads
echo "after another $nconn + $nrel:      RSS $(rss) KB, private dirty $(priv) KB"
