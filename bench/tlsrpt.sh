#!/bin/bash
# What TLS reports cost. The receiver (tlsrpt_receive yes): 200 typical
# reports (1.1 KB gzip'd, distinct report-ids) POSTed one after another,
# each on a fresh TLS connection as reporters send them: time per POST and
# the server's resident memory; then one report of 1.9 MB inflated
# (14,000 failure details, close to the 2 MiB cap): the time it takes and
# the server's peak and settled memory. --report: a year of daily reports
# (365 .json.gz files) and the same as one mbox: time and peak memory.
# usage: bench/tlsrpt.sh [BIN]   (default build/mtasts-httpd)
. "$(dirname "$0")/lib.sh"
bench_conf 0 "tlsrpt_receive yes" > "$t/c.conf"
bench_start "$t/c.conf"
python3 - "$t" <<'PY'
import gzip, json, mailbox, email.mime.application, email.mime.multipart, os, sys
t = sys.argv[1]
base = {
    "organization-name": "Bench Inc.",
    "date-range": {"start-datetime": "2026-11-20T00:00:00Z", "end-datetime": "2026-11-20T23:59:59Z"},
    "contact-info": "tlsrpt@bench.example",
    "report-id": "",
    "policies": [{
        "policy": {"policy-type": "sts", "policy-domain": "example.com",
                   "policy-string": ["version: STSv1", "mode: testing", "mx: m0.example.com", "max_age: 604800"],
                   "mx-host": ["m0.example.com"]},
        "summary": {"total-successful-session-count": 1200, "total-failure-session-count": 3},
        "failure-details": [
            {"result-type": "certificate-expired", "sending-mta-ip": "198.51.100.%d" % i,
             "receiving-mx-hostname": "m0.example.com", "receiving-ip": "203.0.113.9",
             "failed-session-count": 1} for i in range(3)]}]}
os.makedirs(t + "/post", exist_ok=True)
os.makedirs(t + "/year", exist_ok=True)
for i in range(200):
    base["report-id"] = "bench-%d@bench.example" % i
    open(t + "/post/%d.json.gz" % i, "wb").write(gzip.compress(json.dumps(base).encode(), mtime=0))
box = mailbox.mbox(t + "/year.mbox")
for d in range(365):
    base["report-id"] = "year-%d@bench.example" % d
    gz = gzip.compress(json.dumps(base).encode(), mtime=0)
    open(t + "/year/%03d.json.gz" % d, "wb").write(gz)
    m = email.mime.multipart.MIMEMultipart("report", report_type="tlsrpt")
    m["From"] = "tlsrpt@bench.example"
    m["Subject"] = "Report Domain: example.com Submitter: bench.example Report-ID: <%d>" % d
    a = email.mime.application.MIMEApplication(gz, "tlsrpt+gzip", name="r%d.json.gz" % d)
    m.attach(a)
    box.add(m)
box.close()
big = dict(base)
big["report-id"] = "big@bench.example"
big["policies"] = [dict(base["policies"][0])]
big["policies"][0]["failure-details"] = [
    {"result-type": "certificate-expired", "sending-mta-ip": "198.51.100.%d" % (i % 250),
     "receiving-mx-hostname": "mx%d.example.com" % i, "failed-session-count": 1} for i in range(14000)]
s = json.dumps(big, separators=(",", ":")).encode()
open(t + "/big.json.gz", "wb").write(gzip.compress(s, mtime=0))
print("big report: %d bytes inflated, %d gzip'd" % (len(s), os.path.getsize(t + "/big.json.gz")))
PY
rss() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$pid/status"; }
post() {
	curl -sS -o /dev/null -w '%{http_code}' --cacert "$t/certs/ca.crt" \
	    --resolve "mta-sts.example.com:$port:127.0.0.1" -H 'Content-Type: application/tlsrpt+gzip' \
	    --data-binary "@$1" "https://mta-sts.example.com:$port/.well-known/tlsrpt"
}
echo "server at start: RSS $(rss VmRSS) kB"
# the same loop fetching the policy: what curl and the handshake cost
t0=$(date +%s.%N)
for i in $(seq 0 199); do
	curl -sS -o /dev/null --interface "127.0.$((i / 200 + 1)).$((i % 200 + 2))" --cacert "$t/certs/ca.crt" \
	    --resolve "mta-sts.example.com:$port:127.0.0.1" "https://mta-sts.example.com:$port/.well-known/mta-sts.txt"
done
t1=$(date +%s.%N)
echo "baseline, 200 policy GETs the same way: $(echo "($t1 - $t0) * 1000 / 200" | bc -l | xargs printf '%.1f') ms each"
# The rate cap (30 at once, one a minute per address) would stop a
# loop from one address: each POST from its own 127.0.0.x source.
t0=$(date +%s.%N)
ok=0
for i in $(seq 0 199); do
	c=$(curl -sS -o /dev/null -w '%{http_code}' --interface "127.0.$((i / 200 + 1)).$((i % 200 + 2))" \
	    --cacert "$t/certs/ca.crt" --resolve "mta-sts.example.com:$port:127.0.0.1" \
	    -H 'Content-Type: application/tlsrpt+gzip' --data-binary "@$t/post/$i.json.gz" \
	    "https://mta-sts.example.com:$port/.well-known/tlsrpt")
	[ "$c" = 201 ] && ok=$((ok + 1))
done
t1=$(date +%s.%N)
echo "200 typical reports POSTed, each on its own connection: $ok answered 201, $(echo "($t1 - $t0) * 1000 / 200" | bc -l | xargs printf '%.1f') ms per POST including curl's start and handshake"
echo "server after them: RSS $(rss VmRSS) kB, peak $(rss VmHWM) kB; stored: $(du -sk "$t/state/tlsrpt" | cut -f1) kB"
t0=$(date +%s.%N)
c=$(post "$t/big.json.gz")
t1=$(date +%s.%N)
echo "the 1.9 MB report: $c in $(echo "($t1 - $t0) * 1000" | bc -l | xargs printf '%.0f') ms; server peak RSS $(rss VmHWM) kB, settled $(rss VmRSS) kB"
for what in "$t/year" "$t/year.mbox"; do
	/usr/bin/time -q -f '%e s, peak RSS %M kB' -o "$t/time" "$bin" --report "$what" > "$t/report" 2>&1 || true
	echo "--report of a year of daily reports ($(basename "$what")): $(cat "$t/time"); it says: $(tail -n 1 "$t/report")"
done
