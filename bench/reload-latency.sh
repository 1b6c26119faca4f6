#!/bin/bash
# Reload latency: from the moment a changed config is renamed into place
# to the moment a client (polling on a keep-alive connection, ~1 ms
# apart, reconnecting after max_requests) gets the new policy. 20 changes; prints each and the median.
# usage: bench/reload-latency.sh [BIN]   (default build/mtasts-httpd)
. "$(dirname "$0")/lib.sh"
bench_conf 0 > "$t/c.conf"
bench_start "$t/c.conf"
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
        try:
            _, body, buf = request(s, buf)
        except (EOFError, OSError):   # max_requests reached: reconnect
            s, buf = connect(port, t + "/certs/ca.crt"), b""
            continue
        if want in body:
            break
        time.sleep(0.001)
    lat.append((time.monotonic() - t0) * 1000)
    time.sleep(0.3)
print("reload latency, ms:", " ".join("%.0f" % x for x in lat))
print("median %.1f ms, min %.1f, max %.1f (of which 200 ms is the quiet period)"
      % (statistics.median(lat), min(lat), max(lat)))
PY
