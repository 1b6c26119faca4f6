#!/bin/bash
# 1000 domains on one server: start-up time, RSS, and request latency for
# the first, middle and last domain, against a one-domain baseline.
# Two cases: certificates shared by 100 domains each (100 SANs, a common
# CA limit; the first domain of each hundred names it, the others find it
# by its SANs), and every domain with its own certificate.
# usage: bench/many-domains.sh [BIN] [N]   (default build/mtasts-httpd 1000)
set -eu
cd "$(dirname "$0")/.."
bin=${1:-build/mtasts-httpd}
n=${2:-1000}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
c=$t/certs
sh certs/mkcert.sh "$c" example.com > /dev/null

# Shared certificates: g1 covers d1..d100, g2 d101..d200, ...
for ((g = 1; (g - 1) * 100 < n; g++)); do
	last=$((g * 100 < n ? g * 100 : n))
	sans=$(seq -f 'DNS:mta-sts.d%g.example' $(((g - 1) * 100 + 1)) "$last" | paste -sd,)
	SANS=$sans LEAF=g$g FORCE=1 sh certs/mkcert.sh "$c" d1.example > /dev/null
done
# One certificate each (the slow part: N openssl runs)
echo "making $n certificates..." >&2
for i in $(seq 1 "$n"); do
	openssl ecparam -name prime256v1 -genkey -noout -out "$c/d$i.key" 2> /dev/null
	openssl req -new -key "$c/d$i.key" -subj "/CN=mta-sts.d$i.example" 2> /dev/null |
	    openssl x509 -req -CA "$c/int.crt" -CAkey "$c/int.key" -CAcreateserial -days 30 \
	    -extfile <(echo "subjectAltName=DNS:mta-sts.d$i.example") 2> /dev/null > "$c/d$i.crt"
	cat "$c/d$i.crt" "$c/int.crt" > "$c/d$i.fullchain.crt"
done

gen() {	# gen FILE COUNT OWN
	local f=$1 count=$2 own=$3 i
	{
		printf 'listen 127.0.0.1:0\nstate_dir %s/state-%s\nmax_requests 1000\ncheck_interval 0\n' "$t" "$(basename "$f")"
		printf 'cert %s/g1.fullchain.crt\nkey %s/g1.key\nmode testing\nmax_age 604800\n' "$c" "$c"
		for i in $(seq 1 "$count"); do
			printf 'domain d%d.example\nmx mx1.d%d.example\nmx mx2.d%d.example\n' "$i" "$i" "$i"
			if [ "$own" = 1 ]; then
				printf 'cert %s/d%d.fullchain.crt\nkey %s/d%d.key\n' "$c" "$i" "$c" "$i"
			elif [ $(((i - 1) % 100)) = 0 ] && [ "$i" -gt 1 ]; then
				printf 'cert %s/g%d.fullchain.crt\nkey %s/g%d.key\n' "$c" $(((i - 1) / 100 + 1)) "$c" $(((i - 1) / 100 + 1))
			fi
		done
	} > "$f"
}
gen "$t/one.conf" 1 0
gen "$t/shared.conf" "$n" 0
gen "$t/own.conf" "$n" 1

python3 - "$bin" "$c/ca.crt" "$n" "$t" <<'PY'
import os, re, ssl, statistics, subprocess, sys, time
sys.path.insert(0, "tests")
from https_client import connect, request

bin, ca, n, t = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)

def mem(pid):
    st = open("/proc/%d/status" % pid).read()
    rss = int(re.search(r"VmRSS:\s+(\d+)", st).group(1))
    sm = open("/proc/%d/smaps_rollup" % pid).read()
    priv = int(re.search(r"Private_Dirty:\s+(\d+)", sm).group(1))
    return rss, priv

def run(conf, domains):
    for _ in range(2):      # the first run mints ids; measure the second
        t0 = time.monotonic()
        p = subprocess.Popen([bin, "-c", conf], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        port = None
        for line in p.stderr:
            m = re.match(r"listening on .*:(\d+)$", line.strip())
            if m:
                port = int(m.group(1))
            if " serving " in line:
                break
        startup = (time.monotonic() - t0) * 1000
        if _ == 0:
            p.terminate(); p.wait()
    rss, priv = mem(p.pid)
    lat = {}
    for d in domains:
        host = "mta-sts.%s" % d
        s = connect(port, ca, host, ctx)
        buf = b""
        ka = []
        for _ in range(200):
            a = time.monotonic()
            st, body, buf = request(s, buf, host)
            ka.append((time.monotonic() - a) * 1e6)
            assert st == 200 and ("mx1.%s" % d).encode() in body, (st, body)
        s.close()
        full = []
        for _ in range(20):
            a = time.monotonic()
            s = connect(port, ca, host, ctx)
            st, body, _b = request(s, b"", host)
            full.append((time.monotonic() - a) * 1e3)
            s.close()
        lat[d] = (statistics.median(ka), statistics.median(full))
    rss2, priv2 = mem(p.pid)
    p.terminate(); p.wait()
    return startup, rss, priv, lat

mid = n // 2
rows = [("1 domain", os.path.join(t, "one.conf"), ["d1.example"]),
        ("%d, certificates of 100 SANs" % n, os.path.join(t, "shared.conf"),
         ["d1.example", "d%d.example" % mid, "d%d.example" % n]),
        ("%d, a certificate each" % n, os.path.join(t, "own.conf"),
         ["d1.example", "d%d.example" % mid, "d%d.example" % n])]
base = None
print("| config | start-up to serving | RSS | private dirty | per extra domain | keep-alive request (first/middle/last) | handshake+request (first/middle/last) |")
print("|---|---|---|---|---|---|---|")
for name, conf, doms in rows:
    st, rss, priv, lat = run(conf, doms)
    if base is None:
        base = priv
        per = "-"
    else:
        per = "%.1f KB" % ((priv - base) / (n - 1))
    ka = " / ".join("%.0f us" % lat[d][0] for d in doms)
    fu = " / ".join("%.2f ms" % lat[d][1] for d in doms)
    print("| %s | %.0f ms | %d KB | %d KB | %s | %s | %s |" % (name, st, rss, priv, per, ka, fu))
PY
