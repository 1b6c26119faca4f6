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
#   fd00::99                   assigned, nothing listens: a dead AAAA
# and dnsmasq on 127.0.0.1:53, restarted with another record set for each
# case (publish). All certificates from the run's test CA, which the
# server trusts by ca_bundle. Scenarios:
#   good      exit 0, a PASS line for each of txt, host, mx, smtp, tlsrpt;
#             --no-smtp gives no smtp line; exit 2 for an unknown domain
#             and for a bad config
#   faults    each exit 1 with the FAIL line naming the culprit, and no
#             other FAIL: an old id (with the record to publish), two
#             v=STSv1 records, an MX host outside the policy, an MX
#             certificate for another name, no STARTTLS, a dead AAAA,
#             a redirect, a different body, another TLSRPT record
#   rollout   enforce {mx1} (max_age 15) served, the config moves to {mx2},
#             --print-dns and the reload log name the pattern and the
#             time; DNS moves: `cached` FAILs with mx2, the old id and the
#             time, until that time has passed, then PASSes
#   watching  check_interval 2: the stale id logged once, then "now
#             announces" once DNS has it, then nothing more
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)

for c in dnsmasq openssl ip python3 ss; do
	command -v "$c" > /dev/null || skip_all "live check test needs $c (tests/deps.sh test)"
done
[ "$(id -u)" = 0 ] || skip_all "live check test needs root (network namespace, ports 25 and 443)"
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
for h in mx1.example.test mx2.example.test wrong.example.org; do
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
for a in 127.0.0.11 127.0.0.12 127.0.0.13 127.0.0.14 127.0.0.20 127.0.0.21; do
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
publish() {
	local txt="v=STSv1; id=$ID" rpt="v=TLSRPTv1; rua=mailto:tlsrpt@example.test"
	local mx="mx1.example.test" pol="127.0.0.10 ::1" mx1=127.0.0.11 mx2=127.0.0.12
	local kv t h pref=10
	for kv; do
		case ${kv%%=*} in
		txt|rpt|mx|pol|mx1|mx2) local "$kv" ;;
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
		echo "local=/example.test/example.org/"
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
# waits it out). conf MX [lines...] writes $CONF.
CONF=$T/live.conf
maxage=15
conf() {
	local mx=$1 l
	shift
	{
		printf 'listen 127.0.0.10:443\nlisten [::1]:443\n'
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
# (for the lead: --print-dns after the reload, the id now announced)
echo "# --print-dns after the reload: $("$BIN" -c "$CONF" --print-dns 2>&1 | grep -c '^; mx pattern') note line(s)"
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
echo "# t-live ran $((SECONDS - t_start)) s"
done_testing
