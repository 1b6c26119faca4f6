#!/bin/bash
# Reload latency: from the moment a changed config is renamed into place
# to the moment a client (polling on one keep-alive connection, ~1 ms
# apart) gets the new policy. 20 changes; prints each and the median.
# usage: bench/reload-latency.sh [BIN]   (default build/mtasts-httpd)
set -eu
cd "$(dirname "$0")/.."
bin=${1:-build/mtasts-httpd}
t=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$t"' EXIT
sh certs/mkcert.sh "$t/certs" example.com > /dev/null
conf_v() {
	printf 'listen 127.0.0.1:0\ncert %s\nkey %s\nstate_dir %s\n' \
	    "$t/certs/mta-sts.fullchain.crt" "$t/certs/mta-sts.key" "$t/state"
	printf 'domain example.com\nmode testing\nmx m%d.example.com\n' "$1"
}
conf_v 0 > "$t/c.conf"
"$bin" -c "$t/c.conf" > "$t/out" 2> "$t/err" &
pid=$!
for _ in $(seq 100); do grep -q ' serving ' "$t/err" && break; sleep 0.1; done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$t/err")
python3 - "$port" "$t" <<'PY'
import os, statistics, sys, time
sys.path.insert(0, "tests")
from https_client import connect, request
port, t = int(sys.argv[1]), sys.argv[2]
s = connect(port, t + "/certs/ca.crt")
buf = b""
lat = []
for k in range(1, 21):
    text = open(t + "/c.conf").read().replace("mx m%d." % (k - 1), "mx m%d." % k)
    open(t + "/c.tmp", "w").write(text)
    t0 = time.monotonic()
    os.rename(t + "/c.tmp", t + "/c.conf")
    want = ("mx: m%d.example.com" % k).encode()
    while True:
        _, body, buf = request(s, buf)
        if want in body:
            break
        time.sleep(0.001)
    lat.append((time.monotonic() - t0) * 1000)
    time.sleep(0.3)
print("reload latency, ms:", " ".join("%.0f" % x for x in lat))
print("median %.1f ms, min %.1f, max %.1f (of which 200 ms is the quiet period)"
      % (statistics.median(lat), min(lat), max(lat)))
PY
