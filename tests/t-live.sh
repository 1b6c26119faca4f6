#!/bin/bash
# --check-live (issue 16) end to end, in a network namespace this test
# creates. In it, on loopback addresses:
#   127.0.0.10:443, [::1]:443  the server (mta-sts.example.test, A and AAAA)
#   127.0.0.11:25              mx1.example.test (tests/smtpd.py, good cert)
#   127.0.0.12:25              mx2.example.test (good cert)
#   127.0.0.13:25              a certificate for wrong.example.org
#   127.0.0.14:25              no STARTTLS offered
#   127.0.0.20:443             tests/policy_httpd.py --redirect
#   127.0.0.21:443             tests/policy_httpd.py --body (another policy)
#   127.0.0.30:14000           tests/policy_httpd.py --json: an ACME
#                              directory, acme.example.test, caaIdentities
#                              ["ca.example.test"]
#   fd00::99                   assigned, nothing listens: a dead AAAA
# and dnsmasq on 127.0.0.1:53, restarted with another record set for each
# case (publish); authoritative for all of .test (the caa check climbs to
# the TLD). All certificates from the run's test CA, which the
# server trusts by ca_bundle. Scenarios:
#   good      exit 0, a PASS line for each of txt, host, mx, smtp, tlsrpt;
#             --no-smtp gives no smtp line; exit 2 for an unknown domain
#             and for a bad config
#   faults    each exit 1 with the FAIL line naming the culprit, and no
#             other FAIL: an old id (with the record to publish), two
#             v=STSv1 records, an MX host outside the policy, an MX
#             certificate for another name, no STARTTLS, a dead AAAA,
#             a redirect, a different body, another TLSRPT record
#   caa       a second config, the same but for acme_directory (the
#             directory above) and no cert: example.test an ACME domain,
#             --check-live --no-smtp with CAA records published: none
#             (PASS, climbing to the TLD), the CA's at the parent
#             (PASS), another CA's at mta-sts.<d> over the CA's at the
#             parent (FAIL: the closest set applies; names the record to
#             add), an issuer with white space and a parameter (PASS), a
#             critical unknown tag (FAIL), only iodef (PASS); the
#             first config, and one with acme_directory and a cert: no
#             caa line
#   rollout   enforce {mx1} (max_age 15) served, the config moves to {mx2},
#             --print-dns and the reload log name the pattern and the
#             time; DNS moves: `cached` FAILs with mx2, the old id and the
#             time, until that time has passed, then PASSes
#   watching  check_interval 2: the stale id logged once, then "now
#             announces" once DNS has it, then nothing more
#   hostile   check_interval 1, the policy fetched after each step: a
#             round hung on a stopped dnsmasq and killed is "ended early"
#             once, the next rounds quiet; 20 SIGHUPs while rounds hang:
#             never more than one round child, none unreaped, the rounds
#             dropped not logged; dnsmasq killed: one "no answer from the
#             resolver" warning in several rounds, then back: the results
#             logged again once; check_interval -5 and 1h: --check-live
#             exits 2 naming file:line, a reload onto them fails and the
#             previous policy stays
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)

for c in dnsmasq openssl ip python3 ss; do
	command -v "$c" > /dev/null || skip_all "live check test needs $c (tests/deps.sh test)"
done
[ "$(id -u)" = 0 ] || skip_all "live check test needs root (network namespace, ports 25 and 443)"
# build-new is build's code on the other TLS stack, whose outgoing side
# (fetch_at, the STARTTLS probe) t-smtp and t-fetch run there: the whole
# scenario again would cost a minute of make test for nothing new.
[ "${BUILD_NAME:-build}" = build-new ] && skip_all "same code as build; mbedTLS 3.6's side in t-smtp and t-fetch"
[ -f "$here/smtpd.py" ] || skip_all "live check test needs tests/smtpd.py"
ns=mtlive-$$
ip netns add "$ns" 2> "$T/nserr" || skip_all "cannot create a network namespace: $(cat "$T/nserr")"

dpid=""		# dnsmasq
hpids=""	# smtpd.py and policy_httpd.py
# Ours only, by PID, then the namespace and its /etc/netns files.
live_cleanup() {
	local p
	for p in $hpids $dpid; do
		kill -KILL "$p" 2> /dev/null
		wait "$p" 2> /dev/null
	done
	ip netns del "$ns" 2> /dev/null
	rm -rf "/etc/netns/$ns"
}
CLEANUP+=(live_cleanup)
trap 'exit 143' TERM
trap 'exit 130' INT
nsx() { ip netns exec "$ns" "$@"; }
t_start=$SECONDS
mark() { echo "# $1 at $((SECONDS - t_start)) s"; }
# The interpreter itself, not a wrapper (pyenv's shim forks it): $! must
# be the listener's PID.
PY=$(python3 -c 'import sys; print(sys.executable)')

ip -n "$ns" link set lo up
# an IPv6 address of the namespace where nothing listens: connecting to
# it is refused at once (a blackhole would wait out the 10 s timeout)
ip -n "$ns" addr add fd00::99/128 dev lo nodad 2> "$T/nserr" ||
    skip_all "no IPv6 in the namespace: $(cat "$T/nserr")"
mkdir -p "/etc/netns/$ns"
printf '127.0.0.1 localhost\n::1 localhost\n' > "/etc/netns/$ns/hosts"
echo "nameserver 127.0.0.1" > "/etc/netns/$ns/resolv.conf"

# Certificates: the run's CA; the policy host, the MX hosts, and one for
# another name.
C=$T/c
mkdir -p "$C"
cp "$CERTS"/ca.* "$CERTS"/int.* "$C/"
LEAF=pol FORCE=1 sh certs/mkcert.sh "$C" example.test > /dev/null
for h in mx1.example.test mx2.example.test wrong.example.org acme.example.test; do
	LEAF=${h%%.*} SANS="DNS:$h" FORCE=1 sh certs/mkcert.sh "$C" > /dev/null
done

# The listeners. started READY-FILE: waits (bounded) for its file.
started() { wait_until 10 test -s "$1"; }
smtpd() {	# ADDR LEAF [--no-starttls]
	ip netns exec "$ns" "$PY" "$here/smtpd.py" --listen "$1" --port 25 \
	    --cert "$C/$2.fullchain.crt" --key "$C/$2.key" --ready "$T/ready.$1" "${@:3}" \
	    > "$T/smtpd.$1.log" 2>&1 &
	hpids="$hpids $!"
}
smtpd 127.0.0.11 mx1
smtpd 127.0.0.12 mx2
smtpd 127.0.0.13 wrong
smtpd 127.0.0.14 mx1 --no-starttls
polhttpd() {	# ADDR MODE-ARGS...
	ip netns exec "$ns" "$PY" "$here/policy_httpd.py" --listen "$1" --port 443 \
	    --cert "$C/pol.fullchain.crt" --key "$C/pol.key" --ready "$T/ready.$1" "${@:2}" \
	    > "$T/polhttpd.$1.log" 2>&1 &
	hpids="$hpids $!"
}
polhttpd 127.0.0.20 --redirect https://elsewhere.example.test/.well-known/mta-sts.txt
polhttpd 127.0.0.21 --body 'version: STSv1\nmode: testing\nmx: mx1.example.test\nmax_age: 86400\n'
# the ACME directory (the caa check reads only its meta.caaIdentities)
ACMEDIR=https://acme.example.test:14000/directory
a=https://acme.example.test:14000
printf '{"newNonce": "%s/nonce", "newAccount": "%s/acct", "newOrder": "%s/order",
 "revokeCert": "%s/revoke", "keyChange": "%s/key",
 "meta": {"caaIdentities": ["ca.example.test"]}}\n' "$a" "$a" "$a" "$a" "$a" > "$T/directory.json"
ip netns exec "$ns" "$PY" "$here/policy_httpd.py" --listen 127.0.0.30 --port 14000 \
    --cert "$C/acme.fullchain.crt" --key "$C/acme.key" --ready "$T/ready.127.0.0.30" \
    --json "$T/directory.json" > "$T/polhttpd.127.0.0.30.log" 2>&1 &
hpids="$hpids $!"
for a in 127.0.0.11 127.0.0.12 127.0.0.13 127.0.0.14 127.0.0.20 127.0.0.21 127.0.0.30; do
	if ! started "$T/ready.$a"; then
		fail "listener on $a started: $(cat "$T"/*."$a".log | tail -n 3 | tr '\n' ' ')"
		done_testing
		exit 0
	fi
done

# publish [KEY=VALUE...]: (re)start dnsmasq with the good record set, but
# for the keys given:
#   txt  _mta-sts TXT values, '|' between records (default: id=$ID)
#   rpt  the _smtp._tls TXT value
#   mx   the MX hosts (preference 10, 20, ... in order), blank-separated
#   pol  the addresses of mta-sts.example.test, blank-separated
#   mx1 mx2  the addresses of mx1.example.test and mx2.example.test
#   caa  CAA records, NAME,FLAGS,TAG,VALUE with '|' between records
#        (VALUE as it is, spaces and all; default: none)
publish() {
	local txt="v=STSv1; id=$ID" rpt="v=TLSRPTv1; rua=mailto:tlsrpt@example.test"
	local mx="mx1.example.test" pol="127.0.0.10 ::1" mx1=127.0.0.11 mx2=127.0.0.12
	local caa="" kv t h pref=10 n f tag v
	for kv; do
		case ${kv%%=*} in
		txt|rpt|mx|pol|mx1|mx2|caa) local "$kv" ;;
		*) echo "publish: unknown key in '$kv'" >&2; return 1 ;;
		esac
	done
	if [ -n "$dpid" ]; then
		kill "$dpid" 2> /dev/null
		wait "$dpid" 2> /dev/null
		dpid=""
	fi
	{
		printf 'no-resolv\nno-hosts\nno-daemon\nlisten-address=127.0.0.1\nbind-interfaces\nuser=root\n'
		printf 'log-queries\nlog-facility=%s\n' "$T/dnsmasq.log"
		# authoritative for these: other names and types get
		# NXDOMAIN / NODATA, not REFUSED
		echo "local=/test/example.org/"
		IFS='|' read -ra t <<< "$txt"
		for kv in "${t[@]}"; do
			printf 'txt-record=_mta-sts.example.test,"%s"\n' "$kv"
		done
		printf 'txt-record=_smtp._tls.example.test,"%s"\n' "$rpt"
		for h in $mx; do
			echo "mx-host=example.test,$h,$pref"
			pref=$((pref + 10))
		done
		echo "host-record=mta-sts.example.test,${pol// /,}"
		echo "host-record=mx1.example.test,$mx1"
		echo "host-record=mx2.example.test,$mx2"
		echo "host-record=acme.example.test,127.0.0.30"
		# CAA RDATA (RFC 8659 4.1): flags, tag length, tag, value
		IFS='|' read -ra t <<< "$caa"
		for kv in "${t[@]}"; do
			IFS=, read -r n f tag v <<< "$kv"
			printf 'dns-rr=%s,257,%02x%02x%s\n' "$n" "$f" "${#tag}" \
			    "$(printf '%s%s' "$tag" "$v" | od -An -v -tx1 | tr -d ' \n')"
		done
	} > "$T/dnsmasq.conf"
	ip netns exec "$ns" dnsmasq --conf-file="$T/dnsmasq.conf" 2> "$T/dnsmasq.err" &
	dpid=$!
	wait_until 5 dns_up || echo "# dnsmasq not listening after 5 s: $(cat "$T/dnsmasq.err")"
}
dns_up() {
	kill -0 "$dpid" 2> /dev/null &&
	    nsx ss -Hlun 'sport = :53' | grep -q '127\.0\.0\.1:53 '
}

# The server: example.test, enforce, {mx1}, a small max_age (the rollout
# waits it out). conf MX [lines...] writes $CONF ($OUT if set); with
# ACME=URL acme_directory URL and no cert (CERT=1: the cert still).
CONF=$T/live.conf
maxage=15
conf() {
	local mx=$1 l
	shift
	{
		printf 'listen 127.0.0.10:443\nlisten [::1]:443\n'
		[ -z "${ACME:-}" ] || printf 'acme_directory %s\n' "$ACME"
		[ -n "${ACME:-}" -a -z "${CERT:-}" ] ||
		    printf 'cert %s\nkey %s\n' "$C/pol.fullchain.crt" "$C/pol.key"
		printf 'state_dir %s\nca_bundle %s\nwatch none\n' "${STATE:-$T/state}" "$C/ca.crt"
		for l in "$@"; do echo "$l"; done
		printf '\ndomain example.test\nmode enforce\nmx %s\nmax_age %s\n' "$mx" "$maxage"
		printf 'tlsrpt_rua mailto:tlsrpt@example.test\n'
	} > "${OUT:-$CONF}"
}
# id_of FILE: the id in --print-dns output
id_of() { sed -n 's/^_mta-sts\.example\.test\. IN TXT "v=STSv1; id=\([0-9A-Za-z]*\)"$/\1/p' "$1"; }

# live [ARGS...]: --check-live in the namespace; output $T/live.out, exit
# status $LRC.
live() {
	nsx timeout 60 "$BIN" -c "${LCONF:-$CONF}" --check-live "$@" > "$T/live.out" 2> "$T/live.err"
	LRC=$?
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer' "$T/live.err"; then
		fail "sanitizer report from --check-live $*: $(grep -m 3 -E 'Sanitizer|runtime error' "$T/live.err" | tr '\n' ' ')"
	fi
}
show() { sed 's/^/#   /' "$T/live.out" "$T/live.err"; }
# has ERE: a line of the last output matches
has() { grep -qE "$1" "$T/live.out"; }
# expect DESC RC ERE...: the last run exited RC, a line matches each ERE,
# and (RC 1) every FAIL line matches one of them; else its output shown
expect() {
	local desc=$1 rc=$2 re bad=""
	shift 2
	eq "$desc: exit $rc" "$LRC" "$rc"
	for re; do
		has "$re" || bad="$bad; no line /$re/"
	done
	if [ "$rc" = 1 ]; then
		local others
		others=$(grep '^FAIL ' "$T/live.out" | while IFS= read -r l; do
			m=0
			for re; do grep -qE "$re" <<< "$l" && m=1; done
			[ "$m" = 1 ] || echo "$l"
		done)
		[ -z "$others" ] || bad="$bad; other FAIL lines: $others"
	fi
	if [ -z "$bad" ]; then
		pass "$desc"
		grep '^FAIL ' "$T/live.out" | sed 's/^/#   /'
	else
		fail "$desc${bad}"
		show
	fi
}
# pasteout TITLE: the whole output, for the closing note
pasteout() {
	echo "# --check-live, $1 (exit $LRC):"
	sed 's/^/#   /' "$T/live.out"
}

conf mx1.example.test "check_interval 0"
"$BIN" -c "$CONF" --print-dns > "$T/records" 2> "$T/pd.err"
ID=$(id_of "$T/records")
if [ -z "$ID" ]; then
	fail "--print-dns gives the id: $(cat "$T/records" "$T/pd.err" | tr '\n' ' ')"
	done_testing
	exit 0
fi
publish
WRAP="ip netns exec $ns" start_server "$CONF" || { done_testing; exit 0; }

########## good
mark good
live
expect "all good" 0 \
    "^PASS example\.test txt: .*announces id $ID, as served" \
    "^PASS example\.test host: mta-sts\.example\.test \[127\.0\.0\.10\]: TLSv1\.[23], certificate valid, policy as served" \
    "^PASS example\.test host: mta-sts\.example\.test \[::1\]: TLSv1\.[23], certificate valid, policy as served" \
    "^PASS example\.test mx: every MX host matches the policy: mx1\.example\.test" \
    "^PASS example\.test smtp: mx1\.example\.test \[127\.0\.0\.11\]: STARTTLS, TLSv1\.[23], certificate valid for mx1\.example\.test" \
    "^PASS example\.test tlsrpt: _smtp\._tls\.example\.test announces rua=mailto:tlsrpt@example\.test" \
    "^PASS example\.test cached: "
eq "all good: no FAIL or WARN line" "$(grep -cE '^(FAIL|WARN) ' "$T/live.out")" 0
ok "all good: every line is PASS|WARN|FAIL <domain> <check>: <detail>" \
    bash -c "! grep -vE '^(PASS|WARN|FAIL) example\.test (txt|host|mx|smtp|tlsrpt|caa|cached): .' '$T/live.out'"
eq "all good: no caa line (no ACME)" "$(grep -c ' caa: ' "$T/live.out")" 0
pasteout "all good"

live --no-smtp
expect "--no-smtp" 0 "^PASS example\.test txt: " "^PASS example\.test mx: "
eq "--no-smtp: no smtp line" "$(grep -c ' smtp: ' "$T/live.out")" 0

live example.test
expect "--check-live example.test (named)" 0 "^PASS example\.test txt: "
live example.org
eq "unknown domain argument: exit 2" "$LRC" 2
[ "$LRC" = 2 ] || show
OUT=$T/bad.conf conf mx1.example.test "check_interval soon"
LCONF=$T/bad.conf live
eq "bad config (check_interval soon): exit 2" "$LRC" 2
ok "bad config: the error names the line" grep -q "bad\.conf:[0-9]*: .*check_interval" "$T/live.err"
[ "$LRC" = 2 ] || show

########## caa
mark caa
# A second config: the same domain, policy and state directory (so the
# same id and the policy the server serves: every other check passes and
# the exit status is caa's), but acme_directory and no cert: example.test
# is an ACME domain. With a cert before the first domain it is not.
OUT=$T/acme.conf ACME=$ACMEDIR conf mx1.example.test "check_interval 0"
OUT=$T/acmecert.conf ACME=$ACMEDIR CERT=1 conf mx1.example.test "check_interval 0"
LCONF=$T/acmecert.conf live --no-smtp
expect "caa: acme_directory but a default cert" 0 "^PASS example\.test txt: "
eq "caa: acme_directory but a default cert: no caa line" "$(grep -c ' caa: ' "$T/live.out")" 0
# caa_case DESC RC CAA ERE: publish CAA (publish's caa=), --check-live the
# ACME config: exit RC, one caa line, matching ERE, and no other FAIL
caa_case() {
	local t0=$SECONDS
	publish "caa=$3"
	nq=$(grep -c 'query\[CAA\]' "$T/dnsmasq.log")
	LCONF=$T/acme.conf live --no-smtp
	expect "caa: $1" "$2" "$4"
	eq "caa: $1: one caa line" "$(grep -cE '^(PASS|WARN|FAIL) example\.test caa: ' "$T/live.out")" 1
	grep -E '^(PASS|WARN) example\.test caa: ' "$T/live.out" | sed 's/^/#   /'
	echo "# ($((SECONDS - t0)) s)"
}
caa_case "no CAA record up to the TLD" 0 "" \
    "^PASS example\.test caa: no CAA record applies to mta-sts\.example\.test: any CA may issue"
# the climb (RFC 8659 3): each name asked once, the TLD last
asked() {
	asked=$(tail -n +$((nq + 1)) "$T/dnsmasq.log" |
	    sed -n 's/.*query\[CAA\] \([^ ]*\) from .*/\1/p' | tr '\n' ' ')
	[ "$asked" = "mta-sts.example.test example.test test " ]
}
wait_until 2 asked
eq "caa: the names asked, the TLD last" "$asked" "mta-sts.example.test example.test test "
ok "caa: the directory was fetched" grep -q 'GET /directory ' "$T/polhttpd.127.0.0.30.log"
caa_case "the CA's issue record at the parent" 0 "example.test,0,issue,ca.example.test" \
    "^PASS example\.test caa: the CAA records at example\.test allow the CA \('ca\.example\.test'\)"
caa_case "another CA's at mta-sts.<d>, the CA's at the parent" 1 \
    "mta-sts.example.test,0,issue,other.example|example.test,0,issue,ca.example.test" \
    "^FAIL example\.test caa: the CAA records at mta-sts\.example\.test allow only 'other\.example', not the CA in use: add: mta-sts\.example\.test\. IN CAA 0 issue \"ca\.example\.test\"\$"
caa_case "the CA with white space before it and a parameter" 0 \
    "mta-sts.example.test,0,issue, ca.example.test; account=123" \
    "^PASS example\.test caa: the CAA records at mta-sts\.example\.test allow the CA \('ca\.example\.test'\)"
caa_case "a critical unknown tag beside the CA's issue" 1 \
    "mta-sts.example.test,128,tbs,x|mta-sts.example.test,0,issue,ca.example.test" \
    "^FAIL example\.test caa: the CAA records at mta-sts\.example\.test hold the tag 'tbs' marked critical"
caa_case "only iodef" 0 "example.test,0,iodef,mailto:a@example.test" \
    "^PASS example\.test caa: the CAA records at example\.test restrict no issuer"
publish

########## faults
mark faults
OLD=20200101aa00
publish txt="v=STSv1; id=$OLD"
live
expect "old id in DNS" 1 \
    "^FAIL example\.test txt: DNS announces id $OLD, this server serves $ID.*; publish: .*v=STSv1; id=$ID"
ok "old id in DNS: not said to be served here earlier" bash -c "! grep -q 'served here earlier' '$T/live.out'"
pasteout "DNS announcing an old id"

publish "txt=v=STSv1; id=$ID|v=STSv1; id=$OLD"
live --no-smtp
expect "two v=STSv1 records" 1 "^FAIL example\.test txt: 2 v=STSv1 records at _mta-sts\.example\.test"

publish "mx=mx1.example.test mx2.example.test"
live
expect "MX host outside the policy (enforce)" 1 \
    "^FAIL example\.test mx: MX host mx2\.example\.test is not matched by the policy"

publish mx1=127.0.0.13
live
expect "MX certificate for another name" 1 \
    "^FAIL example\.test smtp: mx1\.example\.test \[127\.0\.0\.13\]: TLS: .*(name is not in the certificate|not valid for)"

publish mx1=127.0.0.14
live
expect "no STARTTLS offered" 1 \
    "^FAIL example\.test smtp: mx1\.example\.test \[127\.0\.0\.14\]: STARTTLS not offered"
pasteout "a listener that does not offer STARTTLS"

publish "pol=127.0.0.10 fd00::99"
t0=$SECONDS
live --no-smtp
expect "AAAA address that does not answer" 1 \
    "^FAIL example\.test host: mta-sts\.example\.test \[fd00::99\]: .*connect"
ok "AAAA address that does not answer: the A address still passes" \
    has "^PASS example\.test host: mta-sts\.example\.test \[127\.0\.0\.10\]: "
ok "AAAA address that does not answer: refused at once ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -lt 5

publish pol=127.0.0.20
live --no-smtp
expect "policy host answering a redirect" 1 \
    "^FAIL example\.test host: mta-sts\.example\.test \[127\.0\.0\.20\]: .*301.*redirect"

publish pol=127.0.0.21
live --no-smtp
expect "policy host answering another body" 1 \
    "^FAIL example\.test host: mta-sts\.example\.test \[127\.0\.0\.21\]: .*body differs"

publish "rpt=v=TLSRPTv1; rua=mailto:other@example.test"
live --no-smtp
expect "another TLSRPT record" 1 "^FAIL example\.test tlsrpt: "

########## rollout
mark rollout
# {mx1} has been served (enforce, max_age 15) since the start; the config
# moves to {mx2}: --print-dns names what senders holding it lose, the
# reload logs it.
conf mx2.example.test "check_interval 0"
"$BIN" -c "$CONF" --print-dns > "$T/records2" 2> "$T/pd.err"
NEW=$(id_of "$T/records2")
ok "rollout: --print-dns gives a new id ($NEW)" test -n "$NEW" -a "$NEW" != "$ID"
note_re="mx pattern 'mx1\.example\.test' removed: keep MX hosts matching 'mx1\.example\.test' valid until [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}(:[0-9]{2})? UTC \(id $ID may be cached until then\)"
if grep -qE "^; (example\.test: )?$note_re" "$T/records2"; then
	pass "rollout: --print-dns shows the note"
else
	fail "rollout: --print-dns shows the note"
fi
sed 's/^/#   /' "$T/records2"
t_reload=$(date +%s)
kill -HUP "$SPID"
ok "rollout: reload done" wait_until 10 grep -q '^reload done' "$SERR"
# (the line may name the new id first: "example.test: new id X: mx ...")
log_re="^(warning: )?example\.test: (new id $NEW: )?$note_re"
if wait_until 5 grep -qE "$log_re" "$SERR"; then
	pass "rollout: the daemon logs the pattern and the time"
else
	fail "rollout: the daemon logs the pattern and the time"
	tail -n 10 "$SERR" | sed 's/^/#   /'
fi
echo "# the reload's log, $(grep -cE "$log_re" "$SERR") line(s) of the note:"
sed -n '/^reload (SIGHUP)/,$p' "$SERR" | sed 's/^/#   /'
log_until=$(grep -m 1 -E "$log_re" "$SERR" | sed -nE 's/.* valid until ([0-9-]+ [0-9:]+) UTC.*/\1/p')
# --print-dns after the reload (the new id served now): the note still,
# for as long as senders may hold the earlier policy
"$BIN" -c "$CONF" --print-dns > "$T/records2b" 2> "$T/pd.err"
if grep -qE "^; (example\.test: )?$note_re" "$T/records2b"; then
	pass "rollout: --print-dns after the reload still shows the note"
else
	fail "rollout: --print-dns after the reload still shows the note"
	sed 's/^/#   /' "$T/records2b" "$T/pd.err"
fi
pd_until=$(sed -nE "s/^; (example\.test: )?mx pattern .* valid until ([0-9-]+ [0-9:]+) UTC.*/\2/p" "$T/records2b" | head -n 1)
eq "rollout: --print-dns after the reload: the time is the log's" "$pd_until" "$log_until"
publish "txt=v=STSv1; id=$NEW" mx=mx2.example.test
live
t_live=$(date +%s)
expect "rollout: MX moved to mx2 while {mx1} may be cached" 1 \
    "^FAIL example\.test cached: MX host mx2\.example\.test is not matched by policy id $ID \(enforce\), which senders may hold until [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} UTC"
pasteout "rollout, MX moved too early"
until=$(sed -nE 's/^FAIL example\.test cached: .* until ([0-9-]+ [0-9:]+) UTC.*/\1/p' "$T/live.out" | head -n 1)
eq "rollout: --check-live's time is the log's" "$until" "$log_until"
until=$(date -u -d "$until" +%s 2> /dev/null || echo 0)
ok "rollout: the time is the reload plus max_age ($((until - t_reload)) s after the reload)" \
    test "$until" -ge $((t_reload + maxage - 2)) -a "$until" -le $((t_live + maxage + 1))
ok "rollout: the txt, mx and smtp checks pass" bash -c "grep -q '^PASS example\.test txt: ' '$T/live.out' &&
    grep -q '^PASS example\.test mx: ' '$T/live.out' &&
    grep -q '^PASS example\.test smtp: mx2\.example\.test ' '$T/live.out'"
# DNS still announcing the first id: said to be served here earlier
publish "txt=v=STSv1; id=$ID" mx=mx2.example.test
live --no-smtp
ok "rollout: an id served earlier is said to be" \
    has "^FAIL example\.test txt: DNS announces id $ID, this server serves $NEW \(served here earlier\).*; publish: .*id=$NEW"
has "^FAIL example\.test txt: " || show
publish "txt=v=STSv1; id=$NEW" mx=mx2.example.test
cached_ok() { live --no-smtp; [ "$LRC" = 0 ]; }
if [ "$until" -gt 0 ] && wait_until $((until - $(date +%s) + 10)) cached_ok; then
	expect "rollout: after the cache time has passed ($(($(date +%s) - until)) s after)" 0 \
	    "^PASS example\.test cached: "
	ok "rollout: not before the time said" test "$(date +%s)" -ge "$until"
else
	fail "rollout: cached still FAILs 10 s after the time it named"
	show
fi
echo "# the rollout note in the daemon's log, $(grep -cE "$log_re" "$SERR") time(s) in all:"
grep -E "$log_re" "$SERR" | sed 's/^/#   /'
stop_server

########## watching
mark watching
# A fresh state directory, check_interval 2, DNS announcing an old id.
STATE=$T/wstate conf mx1.example.test "check_interval 2"
"$BIN" -c "$CONF" --print-dns > "$T/records3" 2> "$T/pd.err"
WID=$(id_of "$T/records3")
publish "txt=v=STSv1; id=$OLD"
WRAP="ip netns exec $ns" start_server "$CONF" || { done_testing; exit 0; }
still_re="^(warning: )?example\.test: DNS still announces id $OLD; publish: .*v=STSv1; id=$WID"
now_re="^(warning: )?example\.test: DNS now announces id $WID"
watch_re="^(warning: )?example\.test: "
count() { grep -cE "$1" "$SERR"; }
if wait_until 10 grep -qE "$still_re" "$SERR"; then
	pass "watching: the stale id logged with the record to publish"
	grep -E "$still_re" "$SERR" | sed 's/^/#   /'
	sleep 5		# two intervals and a half
	eq "watching: logged once in three checks" "$(count "$still_re")" 1
else
	fail "watching: no 'DNS still announces id $OLD; publish:' line in 10 s"
	tail -n 10 "$SERR" | sed 's/^/#   /'
fi
publish "txt=v=STSv1; id=$WID"
if wait_until 10 grep -qE "$now_re" "$SERR"; then
	pass "watching: 'DNS now announces id $WID' logged once DNS has it"
	n=$(count "$watch_re")
	sleep 7		# three intervals and a half
	eq "watching: the new id logged once" "$(count "$now_re")" 1
	eq "watching: the stale id still logged once" "$(count "$still_re")" 1
	eq "watching: nothing more logged in three intervals" "$(count "$watch_re")" "$n"
else
	fail "watching: no 'DNS now announces id $WID' line in 10 s"
fi
grep -E "$watch_re" "$SERR" | sed 's/^/#   /'
stop_server

########## hostile
mark hostile
# The watcher against a hostile peer and a careless admin, check_interval
# 1, DNS announcing an old id: a round hung in the resolver (dnsmasq
# stopped) and killed; 20 SIGHUPs while rounds hang; the resolver dead for
# several rounds, then back; a check_interval that is no number. After
# each, the policy is still served.
STATE=$T/hstate conf mx1.example.test "check_interval 1"
"$BIN" -c "$CONF" --print-dns > "$T/records4" 2> "$T/pd.err"
HID=$(id_of "$T/records4")
publish "txt=v=STSv1; id=$OLD"
WRAP="ip netns exec $ns" start_server "$CONF" || { done_testing; exit 0; }
# served [MX]: the policy, 200, naming MX (default mx1.example.test)
served() {
	local code
	code=$(nsx curl -sS --max-time 5 --cacert "$C/ca.crt" \
	    --resolve mta-sts.example.test:443:127.0.0.10 -o "$T/pol.body" \
	    -w '%{http_code}' https://mta-sts.example.test/.well-known/mta-sts.txt \
	    2> "$T/curl.err")
	[ "$code" = 200 ] && grep -q "^mx: ${1:-mx1.example.test}" "$T/pol.body"
}
# count ERE: lines of the server's log matching
hcount() { grep -cE "$1" "$SERR"; }
# more ERE N: more than N such lines (for wait_until)
more() { [ "$(hcount "$1")" -gt "$2" ]; }
early_re="^(warning: )?DNS checks: the round ended early; next in 1 s"
hung_re="DNS checks: no answer in [0-9]+ s"
resolver_re="^(warning: )?DNS checks: .*no answer from the resolver"
hstill_re="^(warning: )?example\.test: DNS still announces id $OLD; publish: .*id=$HID"
ok "hostile: the server's first round logs the stale id" wait_until 10 grep -qE "$hstill_re" "$SERR"
# What children the server has of its own (no ACME, no hooks here: none
# expected): those alive in two looks 1.2 s apart; rounds last
# milliseconds while dnsmasq answers.
echo "# the server's children now: $(ps -o pid=,stat=,args= --ppid "$SPID" | tr -s ' \n' ' ')"
k1=$(ps -o pid= --ppid "$SPID" | tr -d ' ')
sleep 1.2
base=" $(ps -o pid= --ppid "$SPID" | tr -d ' ' | grep -xF "${k1:-none}" | tr '\n' ' ') "
echo "# children other than rounds:${base% }"
# kids: "PID STAT" of each child but those
kids() { ps -o pid=,stat= --ppid "$SPID" | awk -v b="$base" 'index(b, " " $1 " ") == 0 { print $1, $2 }'; }
# blocked_round: a round child alive now and still 0.5 s later (sets RPID)
blocked_round() {
	RPID=$(kids | awk '$2 !~ /^Z/ { print $1; exit }')
	[ -n "$RPID" ] || return 1
	sleep 0.5
	kids | grep -qE "^$RPID [^Z]"
}

# 1. A round hangs in the resolver (dnsmasq stopped) and is killed.
nlog=$(wc -l < "$SERR")
kill -STOP "$dpid"
if wait_until 5 blocked_round; then
	pass "hang: a round child blocks on the stopped resolver (PID $RPID, $(ps -o wchan= -p "$RPID"))"
	kill -KILL "$RPID"
	ok "hang: a round killed mid-way is logged as ended early" wait_until 5 grep -qE "$early_re" "$SERR"
else
	fail "hang: no round child blocked on the stopped resolver in 5 s: $(kids | tr '\n' ' ')"
fi
ok "hang: still serving while the resolver is stopped" served
# Resumed: the round running now gets its answers, the next one too.
q0=$(grep -c 'query\[TXT\] _smtp\._tls\.example\.test' "$T/dnsmasq.log")
kill -CONT "$dpid"
rounds_after() {	# N: N more rounds reached the tlsrpt query
	[ "$(grep -c 'query\[TXT\] _smtp\._tls\.example\.test' "$T/dnsmasq.log")" -ge $((q0 + $1)) ]
}
ok "hang: rounds run again once the resolver answers" wait_until 10 rounds_after 2
sleep 0.5	# the parent logs the round just done
eq "hang: one 'ended early' line" "$(hcount "$early_re")" 1
eq "hang: the stale id still logged once" "$(hcount "$hstill_re")" 1
eq "hang: no resolver warning (the round came through)" "$(hcount "$resolver_re")" 0
eq "hang: no 'no answer in' line" "$(hcount "$hung_re")" 0
ok "hang: nothing else logged" bash -c "! tail -n +$((nlog + 1)) '$SERR' | grep -vE '$early_re'"
ok "hang: still serving" served

mark "hostile 2"
# 2. 20 SIGHUPs in a row while every round hangs (dnsmasq stopped): each
# reload drops the round running, silently, and starts one; never more
# than one round child, none left unreaped.
nreload=$(hcount '^reload done')
nlog=$(wc -l < "$SERR")
maxkids=0 maxz=0
look() {	# the most round children, and zombies, seen at once
	local k z
	read -r k z <<< "$(kids | awk '{ if ($2 ~ /^Z/) z++; else k++ } END { print k + 0, z + 0 }')"
	[ "$k" -le "$maxkids" ] || maxkids=$k
	[ "$z" -le "$maxz" ] || maxz=$z
}
kill -STOP "$dpid"
q0=$(grep -c 'query\[TXT\] _smtp\._tls\.example\.test' "$T/dnsmasq.log")
for i in $(seq 20); do
	kill -HUP "$SPID"
	look
	sleep 0.05
done
for i in $(seq 5); do look; sleep 0.1; done
ok "SIGHUP storm: still serving" served
kill -CONT "$dpid"
for i in $(seq 5); do look; sleep 0.1; done
no_zombie() { ! kids | grep -q ' Z'; }
ok "SIGHUP storm: no child left unreaped" wait_until 3 no_zombie
ok "SIGHUP storm: at most one round child at any time (saw $maxkids; zombies at once: $maxz)" \
    test "$maxkids" -le 1
n=$(($(hcount '^reload done') - nreload))
ok "SIGHUP storm: the server reloaded ($n reload(s) for 20 SIGHUPs)" test "$n" -ge 1 -a "$n" -le 20
eq "SIGHUP storm: no reload failed" "$(hcount '^(error: )?reload failed')" 0
ok "SIGHUP storm: a round completes after it" wait_until 10 rounds_after 2
sleep 0.5
eq "SIGHUP storm: the rounds it dropped are not said to end early" "$(hcount "$early_re")" 1
eq "SIGHUP storm: the stale id still logged once" "$(hcount "$hstill_re")" 1
eq "SIGHUP storm: no resolver warning" "$(hcount "$resolver_re")" 0
ok "SIGHUP storm: nothing logged but the reloads (and their config warnings)" \
    bash -c "! tail -n +$((nlog + 1)) '$SERR' | grep -vE '^reload (\(SIGHUP\)|done: )|^warning: [^ ]*live\.conf:[0-9]+: '"
ok "SIGHUP storm: still serving" served

mark "hostile 3"
# 3. The resolver dead (dnsmasq killed: the kernel refuses the queries)
# for several rounds, then back with the id served. Killed between two
# rounds, just after one's last query (a round it cut in two would have
# its first checks answered and its last refused; the next round, all
# refused, would differ and warn again).
nlog=$(wc -l < "$SERR")
q0=$(grep -c 'query\[TXT\] _smtp\._tls\.example\.test' "$T/dnsmasq.log")
wait_until 5 rounds_after 1 || echo "# no round in 5 s?"
sleep 0.2
kill -KILL "$dpid"
wait "$dpid" 2> /dev/null
dpid=""
# (a round of three questions to a dead resolver: over at once on glibc,
# which is told the port is closed; 5 s each on musl, which waits its
# resolv.conf timeout whatever happens)
if wait_until 25 grep -qE "$resolver_re" "$SERR"; then
	pass "dead resolver: warned: $(grep -m 1 -E "$resolver_re" "$SERR")"
	sleep 4		# rounds more
	eq "dead resolver: one warning in four rounds" "$(hcount "$resolver_re")" 1
	ok "dead resolver: nothing else logged" \
	    bash -c "! tail -n +$((nlog + 1)) '$SERR' | grep -vE '$resolver_re'"
else
	fail "dead resolver: no 'no answer from the resolver' warning in 25 s"
fi
ok "dead resolver: still serving" served
nlog=$(wc -l < "$SERR")
publish "txt=v=STSv1; id=$HID"
hnow_re="^(warning: )?example\.test: DNS now announces id $HID"
if wait_until 25 grep -qE "$hnow_re" "$SERR"; then
	pass "resolver back: 'DNS now announces id $HID'"
	sleep 2		# two rounds more
	tail -n +$((nlog + 1)) "$SERR" > "$T/back.log"
	eq "resolver back: logged once" "$(grep -cE "$hnow_re" "$T/back.log")" 1
	ok "resolver back: the mx result logged again" grep -qE '^example\.test: mx: now: ' "$T/back.log"
	ok "resolver back: each line once" bash -c "[ -z \"\$(sort '$T/back.log' | uniq -d)\" ]"
	ok "resolver back: no warning" bash -c "! grep -q '^warning: ' '$T/back.log'"
	sed 's/^/#   /' "$T/back.log"
else
	fail "resolver back: no 'DNS now announces id $HID' in 25 s"
	tail -n 5 "$SERR" | sed 's/^/#   /'
fi
ok "resolver back: still serving" served

mark "hostile 4"
# 4. A careless config: check_interval that is no whole number of
# seconds. --check-live refuses it; a reload onto it fails and the policy
# served stays (the bad config also moves mx to mx2).
cp "$CONF" "$T/good.conf"
for v in -5 1h; do
	OUT=$T/care.conf conf mx2.example.test "check_interval $v"
	line=$(grep -n '^check_interval' "$T/care.conf" | cut -d: -f1)
	LCONF=$T/care.conf live
	eq "check_interval $v: --check-live exits 2" "$LRC" 2
	ok "check_interval $v: the error names care.conf:$line" \
	    grep -qE "care\.conf:$line: .*check_interval" "$T/live.err"
	[ "$LRC" = 2 ] || show
	nfail=$(hcount '^(error: )?reload failed')
	nlog=$(wc -l < "$SERR")
	cp "$T/care.conf" "$CONF"
	kill -HUP "$SPID"
	if wait_until 5 more '^(error: )?reload failed' "$nfail"; then
		pass "check_interval $v: the reload fails"
		ok "check_interval $v: the log names live.conf:$line" \
		    bash -c "tail -n +$((nlog + 1)) '$SERR' | grep -qE 'live\.conf:$line: .*check_interval'"
	else
		fail "check_interval $v: no 'reload failed' in 5 s"
		tail -n 5 "$SERR" | sed 's/^/#   /'
	fi
	ok "check_interval $v: the previous policy still served (mx1)" served mx1.example.test
done
cp "$T/good.conf" "$CONF"
ndone=$(hcount '^reload done')
kill -HUP "$SPID"
ok "the good config back: reload done" wait_until 5 more '^reload done' "$ndone"
ok "the good config back: still serving" served
echo "# the server's log from the storm on, but reloads and the max_age warning:"
sed -n '/^reload (SIGHUP)/,$p' "$SERR" | grep -vE '^reload (\(SIGHUP\)|done: )|max_age 15 is below' |
    sed 's/^/#   /'
stop_server
echo "# t-live ran $((SECONDS - t_start)) s"
done_testing
