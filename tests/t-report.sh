#!/bin/bash
# TLS reports (RFC 8460): --report on the corpus in tests/tlsrpt (made
# whole by its mkcorpus.sh: gzip, mail, mbox, the bombs), against the
# golden text and JSON there; every malformed input named with its reason
# (exit 2) while the rest is still summed; duplicates once; readiness for
# enforce. Then the receiver (tlsrpt_receive yes) with curl: what is
# answered, stored and logged; the 200-or-404 rule for everything else;
# and the strictness and conformance tests again with it on.
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/.." && pwd)
R=$top/tests/tlsrpt
CORPUS=$T/corpus
bash "$R/mkcorpus.sh" "$CORPUS" > /dev/null
ok "mkcorpus.sh made the corpus" test -s "$CORPUS/good/two.mbox"
write_conf "$T/r.conf" < "$R/report.conf"

# rep ARGS...: --report with the test config; stdout in $T/out, stderr in
# $T/err, exit status in $RC. Paths in the output are made relative.
rep() {
	"$BIN" -c "$T/r.conf" --report "$@" > "$T/out" 2> "$T/err"
	RC=$?
	sed -i -e "s|$T/|T/|g" -e "s|$R/|R/|g" "$T/out" "$T/err"
}

# --- the corpus, summed: golden text and JSON ---
rep "$R/good" "$CORPUS/good"
eq "--report of the corpus exits 1 (failures reported)" "$RC" 1
ok "text as tests/tlsrpt/expect.txt" diff -u "$R/expect.txt" "$T/out"
diff -u "$R/expect.txt" "$T/out" | head -n 20
grep -v '^warning: ' "$T/err" > "$T/err2"
eq "nothing on stderr but the config's warnings" "$(cat "$T/err2")" ""
rep --format json "$R/good" "$CORPUS/good"
eq "--format json exits 1 too" "$RC" 1
ok "JSON as tests/tlsrpt/expect.json" diff -u "$R/expect.json" "$T/out"
diff -u "$R/expect.json" "$T/out" | head -n 20
ok "the JSON parses, top level as documented" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for name, v in d["domains"].items():
    assert isinstance(v["success"], int) and isinstance(v["failure"], int)
    assert all(isinstance(k, str) and isinstance(n, int) for k, n in v["failures"].items())
assert d["domains"]["example.net"]["failures"] == {"certificate-host-mismatch": 37}
' "$T/out"

# duplicates (the same report-id in another form) count once
rep "$R/good" "$CORPUS/good" "$CORPUS/dup"
ok "a duplicate counts once" grep -qx '[0-9]* reports, 1 duplicate counted once' "$T/out"
rep "$R/good/microsoft-fetch-error.json" "$CORPUS/dup/microsoft-fetch-error.eml"
ok "the .json and its .eml: one report" grep -qx '1 report, 1 duplicate counted once' "$T/out"

# each form alone
for f in google-style.json.gz odd-gzip-header.json.gz multi-member.json.gz google.eml microsoft.eml tlsrpt-json.eml octet-stream.eml; do
	rep "$CORPUS/good/$f"
	ok "$f reads as one report" grep -qx '1 report' "$T/out"
done
rep "$CORPUS/good/two.mbox"
ok "an mbox of two messages: two reports" grep -qx '2 reports' "$T/out"
rep "$CORPUS/extra/zlib-stream.json.gz"
ok "a zlib stream under the gzip name reads" grep -qx '1 report' "$T/out"
rep "$CORPUS/good/huge-details.json.gz"
eq "50,000 failure details: read (exit 1)" "$RC" 1
rep "$CORPUS/extra/many-distinct.json.gz"
eq "1,500 distinct details: read, the rest summed (exit 1)" "$RC" 1
ok "  the sessions past 1,000 distinct details are counted" grep -q '(more details)' "$T/out"

# a mail directory: files without a report are skipped, not errors
mkdir -p "$T/maildir/cur" "$T/maildir/new"
cp "$CORPUS/good/google.eml" "$T/maildir/new/1.eml"
printf 'From: a@example.org\nSubject: hello\n\nnot a report\n' > "$T/maildir/cur/2:2,S"
rep "$T/maildir"
eq "a maildir: exit 0 (no failure in it)" "$RC" 0
ok "  one report, one file skipped" grep -qx '1 report, 1 file without a report skipped' "$T/out"

# --- malformed input: named with the reason, exit 2, the rest still summed ---
bad() {
	local name=$1 file=$2 why=$3 shown
	shown=${file/#$T\//T/}
	shown=${shown/#$R\//R/}
	rep "$file"
	eq "$name: exit 2" "$RC" 2
	ok "$name: the error names the file and why" grep -qF "error: $shown" "$T/err"
	grep -qF "$why" "$T/err" || fail "$name: '$why' not in: $(cat "$T/err")"
}
bad "invalid JSON" "$R/bad/invalid-json.json" "not a TLS report"
bad "JSON that is no report" "$R/bad/not-a-report.json" "report-id"
bad "a negative count" "$R/bad/negative-count.json" "total-successful-session-count"
bad "no report-id" "$R/bad/missing-report-id.json" "report-id"
bad "an empty file" "$CORPUS/bad/empty.json" "no TLS report in it"
bad "truncated gzip" "$CORPUS/bad/truncated.json.gz" "truncated"
bad "the 100 MB inflate bomb" "$CORPUS/bad/bomb.json.gz" "larger than 10485760 bytes when inflated"
bad "the bomb in a mail" "$CORPUS/bad/bomb.eml" "larger than 10485760 bytes when inflated"
bad "a mail whose attachment is image/png" "$CORPUS/bad/wrong-type.eml" "no TLS report in it"
bad "broken base64" "$CORPUS/bad/broken-base64.eml" "base64"
bad "a file that is not there" "$T/nothing.json" "No such file or directory"
if [ "${SANITIZED:-0}" = 0 ]; then
	# bounded: the bomb within 200 MB of address space
	( ulimit -v 200000; "$BIN" --report "$CORPUS/bad/bomb.json.gz" > /dev/null 2>&1 )
	eq "the bomb inside a 200 MB address-space limit: exit 2, no crash" "$?" 2
fi
rep "$R/good" "$CORPUS/good" "$R/bad/invalid-json.json"
eq "good and bad input together: exit 2" "$RC" 2
ok "  the good ones still summed" grep -q '^example.org: 7 reports from 2 organizations' "$T/out"
"$BIN" --report --format yaml x > /dev/null 2>&1
eq "--format yaml: usage error, exit 2" "$?" 2

# --- readiness for enforce (testing-mode domains) ---
rep "$R/good" "$CORPUS/good"
ok "example.org (clean week, 2 reporters): safe" grep -q '^  enforce: safe: none of [0-9]* sessions reported by 2 reporters over 7 days' "$T/out"
ln=$(grep -n '^domain *example.org' "$T/r.conf" | cut -d: -f1)
ok "  prints the one-line change" grep -qx "  change: T/r.conf:$((ln + 1)): mode testing -> mode enforce" "$T/out"
ok "example.net (certificate-host-mismatch): not safe" grep -q '^  enforce: NOT safe: 37 sessions from 3 of 3 reporters' "$T/out"
ok "  names the MX" grep -q '^    37: certificate-host-mismatch at mail.example.net' "$T/out"
ok "example.com (enforce): no readiness line" test "$(sed -n '/^example.com:/,/^$/p' "$T/out" | grep -c 'enforce:')" = 0
rep "$CORPUS/good/google-style.json.gz"
ok "one day of reports: safe, with the advice to wait" grep -q 'over 1 day .*(the usual advice is to wait a week or two of reports)' "$T/out"
ok "  and example.net without reports: no evidence yet" grep -q '^  enforce: no evidence yet: no sessions reported for example.net' "$T/out"
rep "$R/extra/unknown-domain.json"
ok "a domain not in the config is marked" grep -q '^unknown.example (not in the config): 1 report' "$T/out"
# failures counted but not detailed: not known safe
python3 - "$R/gen/google-example.org-2026-11-20.json" "$T/undetailed.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["report-id"] = "undetailed"
d["policies"][0]["summary"]["total-failure-session-count"] = 50
d["policies"][0].pop("failure-details", None)
json.dump(d, open(sys.argv[2], "w"))
PY
rep "$CORPUS/good/google-style.json.gz" "$T/undetailed.json"
ok "failures without details: not safe" grep -q '^  enforce: NOT safe: 50 sessions from 1 of 1 reporters' "$T/out"
ok "  says why" grep -q '^    50: failed sessions the report does not detail' "$T/out"
# the same report-id with other contents (a forgery first): both counted
python3 - "$R/good/cert-mismatch-google.json" "$T/forged.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["policies"][0]["summary"]["total-failure-session-count"] = 0
d["policies"][0]["failure-details"] = []
json.dump(d, open(sys.argv[2], "w"))
PY
rep "$T/forged.json" "$R/good/cert-mismatch-google.json"
ok "a report-id seen with other contents: both counted" grep -q '^  failures: certificate-host-mismatch (23)' "$T/out"
ok "  and said" grep -q 'was found before with other contents' "$T/err"
# links below the named directory are not followed into directories
mkdir -p "$T/loop"
cp "$R/good/errata-6241.json" "$T/loop/"
ln -s . "$T/loop/self"
ln -s .. "$T/loop/up"
rep "$T/loop"
ok "a directory with links to itself: read once" grep -qx '1 report' "$T/out"
# the receiver's URL already in tlsrpt_rua: not twice
printf 'tlsrpt_receive yes\ndomain example.com\nmode testing\nmx mail.example.com\ntlsrpt_rua mailto:a@example.com,https://MTA-STS.example.com/.well-known/tlsrpt\n' | write_conf "$T/dup.conf"
ok "the receiver's URL given in tlsrpt_rua: not added again" bash -c "'$BIN' -c '$T/dup.conf' --print-dns 2> /dev/null | grep -qF 'rua=mailto:a@example.com,https://MTA-STS.example.com/.well-known/tlsrpt\"'"

# --- the receiver: tlsrpt_receive yes ---
RECEIVER=1 two_sites "$T/rx.conf"
"$BIN" -c "$T/rx.conf" --print-dns > "$T/rx.dns" 2> /dev/null
ok "--print-dns offers the receiver in rua (example.com)" grep -qF '_smtp._tls.example.com. IN TXT "v=TLSRPTv1; rua=https://mta-sts.example.com/.well-known/tlsrpt"' "$T/rx.dns"
# a configured rua stays first: mailto is the main route
sed 's|^domain example.net$|&\ntlsrpt_rua mailto:tlsrpt@example.net|' "$T/rx.conf" > "$T/rx2.conf"
"$BIN" -c "$T/rx2.conf" --print-dns example.net > "$T/rx2.dns" 2> /dev/null
ok "--print-dns: the configured rua, then the receiver" grep -qF 'rua=mailto:tlsrpt@example.net,https://mta-sts.example.net/.well-known/tlsrpt"' "$T/rx2.dns"
start_server "$T/rx.conf" || exit 0

# post TYPE FILE [curl args]: POST FILE to the receiver on $HOST (default
# mta-sts.example.com) as TYPE; prints the status, the body in $T/rx.body
post() {
	local type=$1 file=$2
	shift 2
	get -o "$T/rx.body" -w '%{http_code}' -H "Content-Type: $type" \
	    --data-binary "@$file" "$@" /.well-known/tlsrpt
}
gzip -9n < "$R/good/multi-policy.json" > "$T/mp.json.gz"
mp=$T/mp.json.gz	# example.com and example.net
eq "POST of a gzip report: 201" "$(post application/tlsrpt+gzip "$mp")" 201
n=$(find "$T/state/tlsrpt" -type f | wc -l)
eq "stored: one file under state_dir/tlsrpt" "$n" 1
ok "stored as received, byte for byte" cmp -s "$mp" "$(find "$T/state/tlsrpt" -type f)"
wait_until 5 grep -q 'tlsrpt: 127.0.0.1:[0-9]*: report 0f9e1d27-3a5b-4c6d-8e7f-a1b2c3d4e5f6@mailprovider.example from Mail Provider Inc. for example.com and more, 2026-11-20 00:00 to 2026-11-20 23:59 UTC: 2630 sessions succeeded, 23 failed (certificate-expired 14, certificate-host-mismatch 9)' "$SERR"
eq "logged: one line with its failure count" "$?" 0
eq "the same report again: 200, stored once" "$(post application/tlsrpt+gzip "$mp")" 200
eq "still one file" "$(find "$T/state/tlsrpt" -type f | wc -l)" 1
eq "a JSON report (application/tlsrpt+json): 201" "$(post application/tlsrpt+json "$R/good/microsoft-fetch-error.json")" 201
echo "garbage" > "$T/garbage"
eq "garbage: 400" "$(post application/tlsrpt+gzip "$T/garbage")" 400
ok "  says why" grep -q 'not gzip data' "$T/rx.body"
eq "invalid JSON: 400" "$(post application/tlsrpt+json "$R/bad/invalid-json.json")" 400
eq "a report for a domain not served here: 400" "$(post application/tlsrpt+json "$R/extra/unknown-domain.json")" 400
ok "  names the domain" grep -q 'unknown.example, not a domain served here' "$T/rx.body"
eq "a report for company-y.example (not ours): 400" "$(post application/tlsrpt+json "$R/good/rfc8460-appendix-b.json")" 400
eq "another content type: 415" "$(post application/json "$R/good/microsoft-fetch-error.json")" 415
head -c 1100000 /dev/zero > "$T/big"
eq "a body over 1 MiB (Content-Length): 413" "$(post application/tlsrpt+gzip "$T/big")" 413
eq "a body over 1 MiB (chunked): 413" "$(post application/tlsrpt+gzip "$T/big" -H 'Transfer-Encoding: chunked')" 413
eq "the inflate bomb: 413" "$(post application/tlsrpt+gzip "$CORPUS/bad/bomb.json.gz")" 413
eq "a truncated gzip report: 400" "$(post application/tlsrpt+gzip "$CORPUS/bad/truncated.json.gz")" 400
eq "nothing refused was stored" "$(find "$T/state/tlsrpt" -type f | wc -l)" 2
# Everything else is 200-or-404 exactly as before.
eq "GET of the receiver's path: 404" "$(get -o /dev/null -w '%{http_code}' /.well-known/tlsrpt)" 404
eq "PUT of it: 404" "$(get -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/tlsrpt+gzip' --data-binary "@$mp" /.well-known/tlsrpt)" 404
eq "POST to the policy path: 404" "$(get -o /dev/null -w '%{http_code}' -H 'Content-Type: application/tlsrpt+gzip' --data-binary "@$mp" /.well-known/mta-sts.txt)" 404
eq "POST to /.well-known/tlsrpt/: 404" "$(get -o /dev/null -w '%{http_code}' -H 'Content-Type: application/tlsrpt+gzip' --data-binary "@$mp" /.well-known/tlsrpt/)" 404
eq "POST with another Host: 404" "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CERTS/ca.crt" --resolve "mta-sts.example.com:$PORT:127.0.0.1" -H 'Host: mta-sts.example.org' -H 'Content-Type: application/tlsrpt+gzip' --data-binary "@$mp" "https://mta-sts.example.com:$PORT/.well-known/tlsrpt")" 404
eq "the policy still answers 200" "$(get -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt)" 200
# --report without PATH reads what the receiver stored
"$BIN" -c "$T/rx.conf" --report > "$T/rx.report" 2> "$T/rx.report.err"
eq "--report (no PATH) exits 1: the stored reports have failures" "$?" 1
ok "  reads the stored reports (2)" grep -qx '2 reports' "$T/rx.report"
ok "  example.com's failures" grep -q 'certificate-expired (14)' "$T/rx.report"
# The rate per address: 30 at once (some used above), then 429.
codes=""
for _ in $(seq 1 30); do codes="$codes $(post application/tlsrpt+gzip "$T/garbage")"; done
case $codes in
*" 400 429"*) pass "over the rate per address: 429" ;;
*) fail "over the rate per address: 429 (got$codes)" ;;
esac
eq "  another address is not held back" "$(post application/tlsrpt+gzip "$T/garbage" --interface 127.0.0.2)" 400

# slow.py PORT ADDR BYTES: a POST of a 1000-byte gzip body from ADDR that
# stops after BYTES of it and waits for a line on stdin before sending
# the rest; prints the status line it gets.
cat > "$T/slow.py" <<'PY'
import socket, ssl, sys
port, addr, part = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=sys.argv[4])
raw = socket.create_connection(("127.0.0.1", port), source_address=(addr, 0))
s = ctx.wrap_socket(raw, server_hostname="mta-sts.example.com")
body = open(sys.argv[5], "rb").read()
s.sendall(b"POST /.well-known/tlsrpt HTTP/1.1\r\nHost: mta-sts.example.com\r\n"
          b"Content-Type: application/tlsrpt+gzip\r\nContent-Length: %d\r\n\r\n" % len(body))
s.sendall(body[:part])
print("sent", flush=True)
sys.stdin.readline()
s.sendall(body[part:])
print(s.recv(4096).split(b"\r\n")[0].decode(), flush=True)
PY
# One upload at a time per address: a second one from it while the first
# is under way is 429, another address is served.
coproc SLOW { python3 "$T/slow.py" "$PORT" 127.0.0.3 100 "$CERTS/ca.crt" "$mp"; }
read -r -t 10 line <&"${SLOW[0]}"
eq "a second upload from an address with one under way: 429" "$(post application/tlsrpt+gzip "$mp" --interface 127.0.0.3)" 429
eq "  from another address: served" "$(post application/tlsrpt+gzip "$T/garbage" --interface 127.0.0.4)" 400
echo go >&"${SLOW[1]}"
read -r -t 10 line <&"${SLOW[0]}"
eq "  the first one completes (stored before: 200)" "$line" "HTTP/1.1 200 OK"
wait "$SLOW_PID" 2> /dev/null
# A reload that turns the receiver off while a report arrives: 503, no crash.
coproc SLOW { python3 "$T/slow.py" "$PORT" 127.0.0.5 100 "$CERTS/ca.crt" "$mp"; }
read -r -t 10 line <&"${SLOW[0]}"
cp "$T/rx.conf" "$T/rx.keep"
sed -i '/^tlsrpt_receive yes$/d' "$T/rx.conf"
kill -HUP "$SPID"
wait_until 10 grep -q 'reloaded' "$SERR"
echo go >&"${SLOW[1]}"
read -r -t 10 line <&"${SLOW[0]}"
eq "the receiver turned off by a reload mid-upload: 503" "$line" "HTTP/1.1 503 Service Unavailable"
wait "$SLOW_PID" 2> /dev/null
ok "  still serving" kill -0 "$SPID"
cp "$T/rx.keep" "$T/rx.conf"
stop_server

# Dual-stack (listen PORT: IPv4 as ::ffff:a.b.c.d): each IPv4 address has
# its own rate, not one for all of IPv4.
dport=$(free_port)
sed "s/^listen .*/listen $dport/" "$T/rx.conf" > "$T/dual.conf"
start_server "$T/dual.conf" || exit 0
for _ in $(seq 1 31); do post application/tlsrpt+gzip "$T/garbage" --interface 127.0.0.6 > /dev/null; done
eq "dual-stack: one IPv4 address over its rate: 429" "$(post application/tlsrpt+gzip "$T/garbage" --interface 127.0.0.6)" 429
eq "  another IPv4 address: served" "$(post application/tlsrpt+gzip "$T/garbage" --interface 127.0.0.7)" 400
stop_server

# Too little room left where state_dir is (a 5 MiB tmpfs): 507, and the
# state file can still be written (a reload with a new policy).
mkdir -p "$T/small"
if mount -t tmpfs -o size=5m tmpfs "$T/small" 2> /dev/null; then
	CLEANUP+=("umount '$T/small'")
	sed "s|^state_dir .*|state_dir $T/small/state|" "$T/rx.conf" > "$T/small.conf"
	start_server "$T/small.conf" || exit 0
	eq "a 5 MiB file system: a report stored" "$(post application/tlsrpt+gzip "$mp" --interface 127.0.0.8)" 201
	dd if=/dev/zero of="$T/small/filler" bs=1k count=1600 2> /dev/null
	eq "  with less than 4 MiB left: 507" "$(post application/tlsrpt+json "$R/good/microsoft-fetch-error.json" --interface 127.0.0.8)" 507
	ok "  said in the log" grep -q 'less than 4 MiB would be left free' "$SERR"
	sed -i 's/^mx mail.example.com$/mx mail2.example.com/' "$T/small.conf"
	kill -HUP "$SPID"
	ok "  a reload with a new policy still writes the state" wait_until 10 grep -q 'example.com: new id' "$SERR"
	stop_server
else
	skip "tmpfs: cannot mount (not root)"
fi

# A receiver that cannot write (state_dir's tlsrpt a file): 507, serving goes on.
rm -rf "$T/state/tlsrpt"
echo x > "$T/state/tlsrpt"
start_server "$T/rx.conf" || exit 0
eq "state_dir/tlsrpt not a directory: 507" "$(post application/tlsrpt+gzip "$mp")" 507
eq "  the policy still answers 200" "$(get -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt)" 200
stop_server
rm -f "$T/state/tlsrpt"

# Receiver off (the default): a POST of a report is a 404 like any other.
two_sites "$T/off.conf"
start_server "$T/off.conf" || exit 0
eq "receiver off: POST of a report: 404" "$(post application/tlsrpt+gzip "$mp")" 404
ok "  nothing stored" test ! -e "$T/state/tlsrpt"
stop_server

# The strictness and conformance tests, unchanged, with the receiver on.
if [ "${FIRST:-1}" = 1 ]; then
	for t in t-http t-strict t-conform; do
		RECEIVER=1 TEST=$t bash "$top/tests/$t.sh" > "$T/$t.out" 2>&1
		rc=$?
		grep -E '^(not )?ok - ' "$T/$t.out" | sed 's/^/  /' > /dev/null
		eq "$t with the receiver on: exits 0" "$rc" 0
		ok "$t with the receiver on: ran to the end" grep -qxF "# done $t" "$T/$t.out"
		eq "$t with the receiver on: no failure" "$(grep -c '^not ok - ' "$T/$t.out")" 0
		grep '^not ok - ' "$T/$t.out" | head -n 5
	done
fi
done_testing
