#!/bin/bash
# Built-in ACME (issue 15) end to end, against Debian's pebble inside a
# network namespace this test creates. In the namespace: pebble on
# acme.test:14000 (the name from /etc/netns/NS/hosts, its listener
# certificate made here), dnsmasq on 127.0.0.1:53 answering for the
# mta-sts names pebble's validator dials, and the server on port 443.
# pebble keeps its defaults where the acceptance wants them: 5 % of good
# nonces rejected, and authorization reuse off (PEBBLE_AUTHZREUSE=0).
# Scenarios:
#   issuance  one ACME domain beside one with its own certificate: the
#             latter at once, the former once issued, its chain verified
#             against pebble's root; time to the first served certificate;
#             a second ACME domain ordered after the first, with a pause
#   restart   same state directory: the stored certificate at once, no
#             new order; kill -9 of the ACME child (restarted, still
#             served, no new order); a truncated certificate file (the
#             others served at once, a new one ordered)
#   failures  a challenge that fails (the name resolves elsewhere), a
#             problem document (pebble refuses the contact), the ACME
#             server unreachable (kept running: the backoff grows)
#   valgrind  an issuance under valgrind (plain dynamic builds)
#   renewal   90-second certificates: a new serial before the old one
#             expires, no restart, a client polling every 0.5 s never
#             fails, nor one fetching back to back around the install
# Each failure scenario's line names the domain and says "retry in N s";
# pebble's 5 % badNonce draws are counted from the -v debug lines.
. "$(dirname "$0")/lib.sh"

for c in pebble dnsmasq openssl curl ip python3; do
	command -v "$c" > /dev/null || skip_all "ACME test needs $c (tests/deps.sh test)"
done
[ "$(id -u)" = 0 ] || skip_all "ACME test needs root (network namespace, port 443)"
ns=mtacme-$$
ip netns add "$ns" 2> "$T/nserr" || skip_all "cannot create a network namespace: $(cat "$T/nserr")"

dpid=""		# dnsmasq
pbpid=""	# pebble
lpid=""		# the renewal scenario's client loops
tpid=""
bpid=""		# the backoff scenario's server
# Ours only, by PID, then the namespace (and its /etc/netns files, which
# `ip netns exec` bind-mounts over /etc/hosts and /etc/resolv.conf).
acme_cleanup() {
	local p
	for p in $lpid $tpid $bpid $pbpid $dpid; do
		kill -KILL "$p" 2> /dev/null
		wait "$p" 2> /dev/null
	done
	ip netns del "$ns" 2> /dev/null
	rm -rf "/etc/netns/$ns"
}
CLEANUP+=(acme_cleanup)
# killed (a timeout around the run): exit, so the cleanup runs in full
trap 'exit 143' TERM
trap 'exit 130' INT
nsx() { ip netns exec "$ns" "$@"; }
now() { echo "${EPOCHREALTIME/[.,]/}"; }	# microseconds
secs() { printf '%d.%03d' $(($1 / 1000000)) $(($1 % 1000000 / 1000)); }

ip -n "$ns" link set lo up
mkdir -p "/etc/netns/$ns"
printf '127.0.0.1 localhost acme.test\n::1 localhost\n' > "/etc/netns/$ns/hosts"
echo "nameserver 127.0.0.1" > "/etc/netns/$ns/resolv.conf"

# The service user reads what it is given after the privilege drop.
user=""
getent passwd nobody > /dev/null && user=nobody
chmod 755 "$T"

# A test CA (the run's), pebble's listener certificate (acme.test and
# 127.0.0.1, its management port) and example.net's own certificate.
mkdir -p "$T/c"
cp "$CERTS"/ca.* "$CERTS"/int.* "$T/c/"
LEAF=pebble SANS="DNS:acme.test,IP:127.0.0.1" FORCE=1 sh certs/mkcert.sh "$T/c" > /dev/null
LEAF=net FORCE=1 sh certs/mkcert.sh "$T/c" example.net > /dev/null
[ -z "$user" ] || chgrp "$(id -g "$user")" "$T/c/net.key"
chmod 640 "$T/c/net.key"
chmod 644 "$T/c/ca.crt"

# dnsmasq: A records only; local= makes it answer AAAA with NODATA (not
# REFUSED) so pebble's validator dials the A. mta-sts.elsewhere.org
# resolves to an address nothing listens on: its challenge fails.
cat > "$T/dnsmasq.conf" <<D
no-resolv
no-hosts
no-daemon
listen-address=127.0.0.1
bind-interfaces
user=root
log-queries
log-facility=$T/dnsmasq.log
local=/example.com/example.net/example.org/elsewhere.org/
host-record=mta-sts.example.com,127.0.0.1
host-record=mta-sts.example.org,127.0.0.1
host-record=mta-sts.example.net,127.0.0.1
host-record=mta-sts.elsewhere.org,127.0.0.9
D
# (ip netns exec itself, not the nsx function: $! must be the process)
ip netns exec "$ns" dnsmasq --conf-file="$T/dnsmasq.conf" 2> "$T/dnsmasq.err" &
dpid=$!
dns_up() {
	kill -0 "$dpid" 2> /dev/null &&
	    [ "$(nsx python3 -c 'import socket; print(socket.gethostbyname("mta-sts.elsewhere.org"))' 2> /dev/null)" = 127.0.0.9 ]
}
if ! wait_until 10 dns_up; then
	fail "dnsmasq answers in the namespace: $(cat "$T/dnsmasq.err")"
	done_testing
	exit 0
fi

# start_pebble VALIDITY: (re)start pebble with certificates valid that
# many seconds (0: its default, 5 years); waits for its directory, then
# saves its root (new on every start) to $ROOT. Log: $PLOG.
pn=0
start_pebble() {
	local v=""
	pn=$((pn + 1))
	stop_pebble
	[ "$1" = 0 ] || v=", \"certificateValidityPeriod\": $1"
	cat > "$T/pebble.json" <<P
{ "pebble": { "listenAddress": "127.0.0.1:14000",
  "managementListenAddress": "127.0.0.1:15000",
  "certificate": "$T/c/pebble.fullchain.crt", "privateKey": "$T/c/pebble.key",
  "httpPort": 5002, "tlsPort": 443$v } }
P
	PLOG=$T/pebble.$pn.log
	ROOT=$T/pebble-root.$pn.pem
	ip netns exec "$ns" env -u PEBBLE_VA_ALWAYS_VALID -u PEBBLE_WFE_NONCEREJECT PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0 \
	    pebble -config "$T/pebble.json" -dnsserver 127.0.0.1:53 > "$PLOG" 2>&1 &
	pbpid=$!
	if ! wait_until 20 nsx curl -sf --max-time 2 --cacert "$T/c/ca.crt" -o /dev/null https://acme.test:14000/dir; then
		fail "pebble serves its directory: $(tail -n 5 "$PLOG" | tr '\n' ' ')"
		return 1
	fi
	if ! nsx curl -sfS --max-time 5 --cacert "$T/c/ca.crt" -o "$ROOT" https://127.0.0.1:15000/roots/0 ||
	    ! grep -q 'BEGIN CERTIFICATE' "$ROOT"; then
		fail "pebble's root from /roots/0"
		return 1
	fi
}
stop_pebble() {
	[ -n "$pbpid" ] || return 0
	kill "$pbpid" 2> /dev/null
	wait "$pbpid" 2> /dev/null
	pbpid=""
}
# orders made (a POST to newOrder rejected with badNonce makes none)
orders() { grep -c 'There are now [0-9]* orders in the db' "$PLOG"; }

# acme_conf STATE [global lines...]: example.com from ACME, example.net
# with its own certificate. $DOMAIN replaces example.com.
acme_conf() {
	local st=$1 l
	shift
	echo "listen ${LISTEN:-127.0.0.1}:443"
	echo "state_dir $st"
	[ -z "$user" ] || echo "user $user"
	echo "acme_directory ${DIRURL:-https://acme.test:14000/dir}"
	echo "ca_bundle $T/c/ca.crt"
	for l in "$@"; do echo "$l"; done
	printf '\ndomain %s\nmode testing\nmx mail.%s\n' "${DOMAIN:-example.com}" "${DOMAIN:-example.com}"
	printf '\ndomain example.net\ncert %s\nkey %s\nmode testing\nmx mail.example.net\n' \
	    "$T/c/net.fullchain.crt" "$T/c/net.key"
}

# policy NAME CAFILE [IP]: fetch NAME's policy in the namespace, verified
# against CAFILE; prints it (LF line ends), fails on any error (HTTP >=
# 400 too).
policy() {
	local p
	p=$(nsx curl -sSf --max-time 5 --cacert "$2" --resolve "$1:443:${3:-127.0.0.1}" \
	    "https://$1/.well-known/mta-sts.txt" 2>&1) || { echo "$p"; return 1; }
	echo "${p//$'\r'/}"
}
acme_served() { policy mta-sts.example.com "$ROOT" > /dev/null 2>&1; }
# served_cert NAME [IP]: the leaf the server presents for NAME (PEM)
served_cert() {
	nsx timeout 10 openssl s_client -connect "${2:-127.0.0.1}:443" -servername "$1" \
	    < /dev/null 2> /dev/null | openssl x509 2> /dev/null
}
# serial NAME [IP]: its serial, lower-case hex without leading zeros
serial() { served_cert "$@" | openssl x509 -noout -serial 2> /dev/null | norm_serial; }
norm_serial() { sed 's/^serial=//; s/://g' | tr 'A-F' 'a-f' | sed 's/^0*//'; }
# not_after NAME: the served leaf's notAfter, epoch seconds
not_after() { date -d "$(served_cert "$1" | openssl x509 -noout -enddate | sed 's/^notAfter=//')" +%s; }
# verify NAME: the full served chain verifies against pebble's root, for
# that name (openssl's own verification, besides curl's)
verify() {
	nsx timeout 10 openssl s_client -connect 127.0.0.1:443 -servername "$1" -verify_return_error \
	    -CAfile "$ROOT" -verify_hostname "$1" < /dev/null 2>&1 | grep -q 'Verify return code: 0 (ok)'
}
# refused IP: a handshake for mta-sts.example.com fails (no certificate)
refused() {
	! nsx curl -s --max-time 5 -k --resolve "mta-sts.example.com:443:$1" -o /dev/null https://mta-sts.example.com/
}
chain_len() {
	nsx timeout 10 openssl s_client -connect 127.0.0.1:443 -servername "$1" -showcerts \
	    < /dev/null 2> /dev/null | grep -c 'BEGIN CERTIFICATE'
}
# logged LINE-REGEX [FILE]: a log line matching (ERE) is there
logged() { grep -qE "$1" "${2:-$SERR}"; }
retry_re='; retry in [1-9][0-9]* s$'
# failed_re HOST: the start of the line an ACME failure for HOST logs
# (a warning: log.c prefixes it)
failed_re() { echo "^(warning: )?acme ${1//./\\.}: order failed: "; }
# tail_err [FILE [N]]: why a wait ended early: the server's last lines
# and pebble's (less its request lines)
tail_err() {
	tail -n "${2:-5}" "${1:-$SERR}" | sed 's/^/#   /'
	echo "#   pebble:"
	grep -v 'calling handler' "$PLOG" | tail -n "${2:-5}" | sed 's/^/#     /'
}

# -v: the debug lines say when a badNonce was retried. (getopt puts
# the -v appended after "-c FILE" in its place.)
printf '#!/bin/sh\nexec "$@" -v\n' > "$T/verbose"
chmod 755 "$T/verbose"
nonces=0
count_nonces() { nonces=$((nonces + $(grep -c 'badNonce from .*; retrying' "$SERR"))); }

start_pebble 0 || { done_testing; exit 0; }
ok "pebble rejects 5 % of good nonces (its default)" grep -q 'Configured to reject 5% of good nonces' "$PLOG"
ok "pebble reuses no authorization" grep -q 'authz reuse for each identifier 0% of the time' "$PLOG"

########## issuance
# and example.org from ACME too, ordered after example.com's
{
	acme_conf "$T/s1" "acme_email hostmaster@example.com"
	printf '\ndomain example.org\nmode testing\nmx mail.example.org\n'
} > "$T/c1.conf"
chmod 644 "$T/c1.conf"
"$BIN" -c "$T/c1.conf" --check > "$T/check.out" 2>&1
eq "--check before issuance exits 0" "$?" 0
sed 's/^/#   /' "$T/check.out"
ok "--check: each ACME domain, no certificate yet" bash -c "grep -q '^mta-sts\.example\.com: ACME .*no certificate' '$T/check.out' &&
    grep -q '^mta-sts\.example\.org: ACME .*no certificate' '$T/check.out' && ! grep -q 'example\.net.*ACME' '$T/check.out'"

t0=$(now)
if WRAP="ip netns exec $ns $T/verbose" start_server "$T/c1.conf"; then
	p=$(policy mta-sts.example.net "$T/c/ca.crt")
	ok "own-certificate domain served at once ($(head -n 1 <<< "$p"))" grep -q '^mx: mail.example.net' <<< "$p"
	if wait_until 60 acme_served; then
		dt=$(($(now) - t0))
		pass "ACME domain served with a chain verifying against pebble's root"
		echo "# start to first served ACME certificate: $(secs "$dt") s ($BUILD_NAME)"
		p=$(policy mta-sts.example.com "$ROOT")
		ok "ACME domain: its policy ($(head -n 1 <<< "$p"))" grep -q '^mx: mail.example.com' <<< "$p"
		ok "openssl verifies the served chain for mta-sts.example.com" verify mta-sts.example.com
		eq "leaf and intermediate sent" "$(chain_len mta-sts.example.com)" 2
		s1=$(serial mta-sts.example.com)
		ok "issuance logged with the served serial ($s1)" \
		    wait_until 5 logged "^acme mta-sts\.example\.com: certificate issued, serial "
		ls=$(sed -n 's/^acme mta-sts\.example\.com: certificate issued, serial \([^,]*\),.*/\1/p' "$SERR" | head -n 1 | norm_serial)
		eq "logged serial is the served one" "$ls" "$s1"
		ok "renewal time logged" wait_until 5 logged "^acme mta-sts\.example\.com: certificate good until .*; renewal at "
		f=$T/s1/acme/mta-sts.example.com.pem
		eq "certificate file: chain then key, 0600${user:+, owned by $user}" \
		    "$(stat -c '%a %U' "$f" 2> /dev/null) $(grep -c 'BEGIN CERTIFICATE' "$f" 2> /dev/null) $(grep -c 'PRIVATE KEY-----$' "$f" 2> /dev/null)" \
		    "600 ${user:-root} 2 2"
		leaky=$(grep -rl 'PRIVATE KEY' "$T/s1" 2> /dev/null | while read -r k; do
			[ "$(stat -c %a "$k")" = 600 ] || echo "$k $(stat -c %a "$k")"; done)
		eq "every private key in the state directory (account key too) is 0600" "$leaky" ""
		eq "same served certificate as the one stored" "$(openssl x509 -in "$f" -noout -serial | norm_serial)" "$s1"
		# two ACME domains: one order at a time, a pause between
		org_served() { policy mta-sts.example.org "$ROOT" > /dev/null 2>&1; }
		if wait_until 60 org_served; then
			pass "second ACME domain (example.org) served too"
			ok "second order placed after the first certificate was issued" \
			    bash -c "grep -E '^acme mta-sts\.example\.(com: certificate issued|org: ordering)' '$SERR' | head -n 1 | grep -q 'com: certificate issued'"
			gap=$(grep 'There are now [0-9]* orders in the db' "$PLOG" | head -n 2 | while read -r _ d t _; do
				date -d "${d//\//-} $t" +%s; done | { read -r a; read -r b; echo $((b - a)); })
			ok "a pause between the two orders (${gap} s by pebble's clock)" test "${gap:-0}" -ge 5
			s_org=$(serial mta-sts.example.org)
		else
			fail "second ACME domain (example.org) not served within 60 s"
			tail_err "$SERR" 10
			s_org=""
		fi
	else
		fail "ACME domain not served within 60 s: $(policy mta-sts.example.com "$ROOT" | tail -n 1)"
		tail_err "$SERR" 10
		s1=""
	fi
	eq "own-certificate domain still served" "$(policy mta-sts.example.net "$T/c/ca.crt" | head -n 1)" "version: STSv1"
	count_nonces
	"$BIN" -c "$T/c1.conf" --check > "$T/check.out" 2>&1
	eq "--check after issuance exits 0" "$?" 0
	sed 's/^/#   /' "$T/check.out"
	[ -z "$s1" ] || ok "--check: the certificate's validity and serial" \
	    grep -qiE "^mta-sts\.example\.com: ACME .*valid until .*serial 0*$s1\b" "$T/check.out"

	########## restart
	if [ -n "$s1" ]; then
		n0=$(orders)
		stop_server
		WRAP="ip netns exec $ns" start_server "$T/c1.conf"
		# at once: the first handshake after the ready line
		eq "restart: the stored certificate served at once" "$(serial mta-sts.example.com)" "$s1"
		[ -z "$s_org" ] || eq "restart: and example.org's" "$(serial mta-sts.example.org)" "$s_org"
		ok "restart: the chain verifies" verify mta-sts.example.com
		ok "restart: the stored certificate's renewal time logged" \
		    wait_until 10 logged "^acme mta-sts\.example\.com: certificate good until .*; renewal at "
		sleep 3
		eq "restart: no new order placed" "$(orders)" "$n0"
		ok "restart: no issuance logged" bash -c "! grep -q 'certificate issued' '$SERR'"

		########## hostile: kill -9 of the ACME child, a truncated file
		child=$(pgrep -P "$SPID" | head -n 1)
		if [ -n "$child" ]; then
			kill -9 "$child"
			ok "kill -9 of the ACME child: logged, restart scheduled" \
			    wait_until 10 logged "acme: child exited on signal 9; restarting in [0-9]+ s"
			eq "kill -9 of the ACME child: still served" "$(serial mta-sts.example.com)" "$s1"
			ok "kill -9 of the ACME child: a new child looks at the certificates (within 30 s)" \
			    wait_until 30 bash -c "[ \$(grep -c '^acme mta-sts\.example\.com: certificate good until' '$SERR') -ge 2 ]"
			eq "kill -9 of the ACME child: no new order" "$(orders)" "$n0"
		else
			fail "no ACME child under the server ($SPID)"
		fi
		stop_server
		f=$T/s1/acme/mta-sts.example.com.pem
		head -c 700 "$f" > "$f.cut" && cat "$f.cut" > "$f" && rm -f "$f.cut"
		if WRAP="ip netns exec $ns" start_server "$T/c1.conf"; then
			eq "truncated certificate file: the other domain served at once" \
			    "$(policy mta-sts.example.net "$T/c/ca.crt" | head -n 1)" "version: STSv1"
			ok "truncated certificate file: named in the log" \
			    logged "mta-sts\.example\.com\.pem.*(ACME orders a new one|ordering a new one)"
			new_served() { s=$(serial mta-sts.example.com 2> /dev/null); [ -n "$s" ] && [ "$s" != "$s1" ]; }
			ok "truncated certificate file: a new one ordered and served (within 60 s)" wait_until 60 new_served
			ok "truncated certificate file: the new chain verifies" verify mta-sts.example.com
		fi
	fi
	stop_server
fi

########## failures
# A challenge that fails: mta-sts.elsewhere.org resolves to 127.0.0.9.
DOMAIN=elsewhere.org acme_conf "$T/s2" > "$T/c2.conf"
if WRAP="ip netns exec $ns" start_server "$T/c2.conf"; then
	if wait_until 30 logged "$(failed_re mta-sts.elsewhere.org).*$retry_re"; then
		pass "failed challenge: logged with the domain and a retry"
		grep -m 1 -E "$(failed_re mta-sts.elsewhere.org)" "$SERR" | sed 's/^/#   /'
		ok "failed challenge: pebble's reason in the line (127.0.0.9)" \
		    logged "$(failed_re mta-sts.elsewhere.org).*127\.0\.0\.9"
	else
		fail "failed challenge: no 'order failed ... retry in' line for mta-sts.elsewhere.org in 30 s"
		tail_err
	fi
	eq "failed challenge: the other domain served" "$(policy mta-sts.example.net "$T/c/ca.crt" | head -n 1)" "version: STSv1"
	ok "failed challenge: server still running" kill -0 "$SPID"
	stop_server
fi

# A problem document: pebble refuses the contact (checked by hand:
# 400 urn:ietf:params:acme:error:invalidContact, 'contact email
# "bad@@example" is invalid').
acme_conf "$T/s3" "acme_email bad@@example" > "$T/c3.conf"
if WRAP="ip netns exec $ns" start_server "$T/c3.conf"; then
	if wait_until 30 logged "$(failed_re mta-sts.example.com).*$retry_re"; then
		pass "problem document: logged with the domain and a retry"
		grep -m 1 -E "$(failed_re mta-sts.example.com)" "$SERR" | sed 's/^/#   /'
		# the step that got it may come first ("newAccount: ")
		ok "problem document: its type and detail in the line" \
		    logged "$(failed_re mta-sts.example.com)([A-Za-z]+: )?urn:ietf:params:acme:error:invalidContact: .*bad@@example.*$retry_re"
	else
		fail "problem document: no 'order failed ... retry in' line for mta-sts.example.com in 30 s"
		tail_err
	fi
	eq "problem document: the other domain served" "$(policy mta-sts.example.net "$T/c/ca.crt" | head -n 1)" "version: STSv1"
	ok "problem document: server still running" kill -0 "$SPID"
	stop_server
fi

# ACME server unreachable (a closed port): this server runs on
# 127.0.0.2 beside the next scenarios, long enough to see the second
# attempt back off further than the first.
LISTEN=127.0.0.2 DIRURL=https://acme.test:14001/dir acme_conf "$T/s4" > "$T/c4.conf"
BERR=$T/backoff.err
ip netns exec "$ns" "$BIN" -c "$T/c4.conf" > "$T/backoff.out" 2> "$BERR" &
bpid=$!
if wait_until 30 logged ' serving ' "$BERR"; then
	if wait_until 30 logged "$(failed_re mta-sts.example.com).*$retry_re" "$BERR"; then
		pass "unreachable: logged with the domain and a retry"
		grep -m 1 -E "$(failed_re mta-sts.example.com)" "$BERR" | sed 's/^/#   /'
	else
		fail "unreachable: no 'order failed ... retry in' line for mta-sts.example.com in 30 s"
		tail_err "$BERR"
	fi
	eq "unreachable: the other domain served" "$(policy mta-sts.example.net "$T/c/ca.crt" 127.0.0.2 | head -n 1)" "version: STSv1"
	ok "unreachable: the ACME domain has no certificate yet: handshake refused" refused 127.0.0.2
	b0=$(now)
else
	fail "unreachable: server did not start: $(tail -n 5 "$BERR" | tr '\n' ' ')"
	kill "$bpid" 2> /dev/null
	wait "$bpid" 2> /dev/null
	bpid=""
fi

########## valgrind: an issuance, parent and ACME child
if [ "${SANITIZED:-0}" = 1 ] || file -L "$BIN" | grep -q 'statically linked' || ! command -v valgrind > /dev/null; then
	echo "# valgrind issuance skipped (sanitizer or static build, or no valgrind)"
else
	acme_conf "$T/s5" > "$T/c5.conf"
	mkdir -m 1777 "$T/vg"	# the ACME child writes its log as $user
	# The ACME child is forked, not exec'd: valgrind follows it into a
	# log of its own (vg/<pid>.log).
	if WRAP="ip netns exec $ns valgrind -q --vgdb=no --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all --error-exitcode=99 --log-file=$T/vg/%p.log" \
	    start_server "$T/c5.conf"; then
		vpid=$SPID
		if wait_until 120 acme_served; then
			pass "valgrind: issuance"
		else
			fail "valgrind: issuance, not served in 120 s"
			tail_err "$SERR" 10
		fi
		stop_server
		# The parent: nothing at all, as in t-valgrind. A child: no
		# error and nothing lost; what it inherited from the parent is
		# still reachable when it exits, and that is fine.
		touch "$T/vg/$vpid.log"
		eq "valgrind: the parent reports nothing ($(grep -c 'Invalid\|uninitialised\|lost in loss\|reachable in loss' "$T/vg/$vpid.log") errors and leaks)" \
		    "$(wc -c < "$T/vg/$vpid.log")" 0
		[ -s "$T/vg/$vpid.log" ] && head -n 30 "$T/vg/$vpid.log" | sed 's/^/#   /'
		kids=0
		for f in "$T"/vg/*.log; do
			[ "$f" != "$T/vg/$vpid.log" ] || continue
			kids=$((kids + 1))
			bad=$(grep -E '(definitely|indirectly|possibly) lost in loss record|Invalid (read|write|free)|uninitialised|Conditional jump|Mismatched|Syscall param|overlap' "$f")
			eq "valgrind: child $(basename "$f" .log): no errors, nothing lost" "$bad" ""
			[ -z "$bad" ] || grep -A 12 -m 1 -E 'lost in loss record|Invalid|uninitialised|Conditional jump' "$f" | sed 's/^/#   /'
		done
		echo "# valgrind: $kids child process log(s)"
	fi
fi

########## renewal
# tight.py CAFILE STOPFILE END: fetches the policy back to back, each on a
# new connection (a full handshake), until STOPFILE exists or END (epoch
# seconds); prints each failure, then "ok N".
cat > "$T/tight.py" <<'PY'
import os, socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[1])
n = 0
while not os.path.exists(sys.argv[2]) and time.time() <= float(sys.argv[3]):
    try:
        with socket.create_connection(("127.0.0.1", 443), timeout=5) as s, \
                ctx.wrap_socket(s, server_hostname="mta-sts.example.com") as t:
            t.sendall(b"GET /.well-known/mta-sts.txt HTTP/1.1\r\n"
                      b"Host: mta-sts.example.com\r\nConnection: close\r\n\r\n")
            r = b""
            while True:
                b = t.recv(4096)
                if not b:
                    break
                r += b
        if r.startswith(b"HTTP/1.1 200 "):
            n += 1
        else:
            print("FAIL %.3f %r" % (time.time(), r[:40]))
    except Exception as e:
        print("FAIL %.3f %s" % (time.time(), e))
print("ok", n)
PY
# On the plain build only: the same renewal code as the issuance above,
# which runs on both TLS stacks, under the sanitizers and on musl too,
# and its wait is most of a minute of make test for each build.
if [ "${BUILD_NAME:-build}" != build ]; then
	skip "renewal: on build only (the same code as issuance)"
elif start_pebble 90; then
	acme_conf "$T/s6" > "$T/c6.conf"
	if WRAP="ip netns exec $ns $T/verbose" start_server "$T/c6.conf" && wait_until 60 acme_served; then
		s1=$(serial mta-sts.example.com)
		end=$(not_after mta-sts.example.com)
		echo "# 90-second certificate $s1 expires in $((end - $(date +%s))) s"
		if [ $((end - $(date +%s))) -gt 100 ]; then
			fail "renewal: the certificate served is not pebble's 90-second one"
			end=$(($(date +%s) + 1))
		fi
		# a client every 0.5 s until the old certificate expires
		(
			while [ "$(date +%s)" -le "$end" ]; do
				if policy mta-sts.example.com "$ROOT" > /dev/null; then
					echo "ok $(date +%s)"
				else
					echo "FAIL $(date +%s)"
				fi
				sleep 0.5
			done
		) > "$T/loop.out" 2>&1 &
		lpid=$!
		# and back to back from 2 s before the renewal time logged
		# until the new certificate is served: the install itself
		# fails no handshake
		wait_until 5 logged "^acme mta-sts\.example\.com: certificate good until .*; renewal at "
		ra=$(sed -n 's/^acme mta-sts\.example\.com: certificate good until .*; renewal at \(.*\)$/\1/p' "$SERR" | head -n 1)
		ra=$(date -d "$ra" +%s 2> /dev/null || echo "$end")
		rm -f "$T/renewed"
		(
			while [ "$(date +%s)" -lt $((ra - 2)) ]; do sleep 0.2; done
			nsx python3 "$T/tight.py" "$ROOT" "$T/renewed" "$end"
		) > "$T/tight.out" 2>&1 &
		tpid=$!
		renewed() { s=$(serial mta-sts.example.com) && [ -n "$s" ] && [ "$s" != "$s1" ]; }
		if wait_until $((end - $(date +%s) + 5)) renewed; then
			t=$(date +%s)
			ok "renewal: new serial $s served $((end - t)) s before the old one expires" test "$t" -lt "$end"
			ok "renewal: not before its renewal time ($((t - ra)) s after)" test "$t" -ge "$ra"
			ok "renewal: the new chain verifies" verify mta-sts.example.com
			eq "renewal: two issuances logged" "$(grep -c '^acme mta-sts\.example\.com: certificate issued' "$SERR")" 2
		else
			fail "renewal: no new serial before $s1 expired"
			tail_err "$SERR" 10
		fi
		sleep 1
		touch "$T/renewed"
		wait "$tpid"
		tpid=""
		eq "renewal: back-to-back fetches around the install saw no failure ($(sed -n 's/^ok //p' "$T/tight.out") fetches)" \
		    "$(grep -v '^ok [1-9]' "$T/tight.out" | head -n 3 | tr '\n' ' ')" ""
		wait "$lpid"
		lpid=""
		eq "renewal: the polling client saw no failure ($(grep -c '^ok' "$T/loop.out") fetches)" \
		    "$(grep -v '^ok' "$T/loop.out" | head -n 3 | tr '\n' ' ')" ""
		ok "renewal: no restart (same server process)" kill -0 "$SPID"
		count_nonces
	else
		fail "renewal: the 90-second certificate was not served within 60 s"
		tail_err "$SERR" 10
	fi
	stop_server
fi

########## backoff (the unreachable server, started above)
if [ -n "$bpid" ]; then
	retries() { sed -nE "s/$(failed_re mta-sts.example.com).*; retry in ([0-9]+) s$/\\2/p" "$BERR"; }
	second() { [ "$(retries | wc -l)" -ge 2 ]; }
	r1=$(retries | head -n 1)
	if [ -n "$r1" ] && wait_until $((r1 + 20 - ($(now) - b0) / 1000000)) second; then
		r2=$(retries | sed -n 2p)
		ok "unreachable: the retry backs off (${r1} s, then ${r2} s)" test "$r2" -gt "$r1"
	else
		fail "unreachable: no second attempt logged (first retry in '${r1}' s)"
		tail_err "$BERR"
	fi
	eq "unreachable: the other domain still served" "$(policy mta-sts.example.net "$T/c/ca.crt" 127.0.0.2 | head -n 1)" "version: STSv1"
	# A reload that changes the ACME settings: the old child is stopped
	# without the loop waiting for it, a new one starts, none is left.
	o0=$(grep -c '^acme mta-sts\.example\.com: ordering' "$BERR")
	LISTEN=127.0.0.2 DIRURL=https://acme.test:14001/dir acme_conf "$T/s4" "acme_email other@example.com" > "$T/c4.conf"
	kill -HUP "$bpid"
	ok "ACME settings reloaded: done" wait_until 10 logged '^reload done' "$BERR"
	eq "ACME settings reloaded: the other domain served" "$(policy mta-sts.example.net "$T/c/ca.crt" 127.0.0.2 | head -n 1)" "version: STSv1"
	ordered_again() { [ "$(grep -c '^acme mta-sts\.example\.com: ordering' "$BERR")" -gt "$o0" ]; }
	ok "ACME settings reloaded: a new child orders at once" wait_until 20 ordered_again
	one_child() { [ "$(ps --ppid "$bpid" -o stat= | wc -l)" = 1 ] && ! ps --ppid "$bpid" -o stat= | grep -q Z; }
	ok "ACME settings reloaded: one child, the old one reaped" wait_until 10 one_child
	kill -TERM "$bpid"
	wait "$bpid"
	eq "unreachable: server exits 0 on SIGTERM" "$?" 0
	bpid=""
fi
stop_pebble
# pebble rejects 5 % of good nonces: over the issuances above, usually
# one or more; when none was drawn there is nothing to check.
if [ "$nonces" -gt 0 ]; then
	pass "badNonce answered by a retry with the new nonce ($nonces times, every issuance succeeded)"
else
	echo "# no badNonce drawn in this run's issuances"
fi
done_testing
