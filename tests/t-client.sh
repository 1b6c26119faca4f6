#!/bin/bash
# Real MTA-STS clients against the real server, two domains, inside a
# network namespace this test creates: dnsmasq serves the _mta-sts TXT
# records exactly as --print-dns printed them and points mta-sts.<domain>
# at the namespace's loopback, where the server listens on port 443.
# Clients: postfix-mta-sts-resolver (mta-sts-query) and the npm package
# mailauth (getPolicy, validateMx). Then one domain changes live: its new
# record is published, and both clients see the new policy.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" != 0 ] || ! command -v mta-sts-query > /dev/null || ! command -v dnsmasq > /dev/null; then
	skip_all "real client test needs root, mta-sts-query and dnsmasq"
fi
ns=mtasts-$$
if ! ip netns add "$ns" 2> "$T/nserr"; then
	skip_all "cannot create a network namespace: $(cat "$T/nserr")"
fi
CLEANUP+=("ip netns del $ns 2>/dev/null; rm -rf /etc/netns/$ns")
ip -n "$ns" link set lo up
mkdir -p "/etc/netns/$ns"
echo "nameserver 127.0.0.1" > "/etc/netns/$ns/resolv.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' > "/etc/netns/$ns/hosts"

mkdir -p "$T/c"
cp "$CERTS"/ca.* "$CERTS"/int.* "$T/c/"
LEAF=two FORCE=1 sh certs/mkcert.sh "$T/c" example.com example.net > /dev/null
cat > "$T/c.conf" <<C
listen 127.0.0.1:443
cert $T/c/two.fullchain.crt
key $T/c/two.key
state_dir $T/state
max_age 86400

domain example.com
mode enforce
mx mail.example.com
mx *.backup.example.com
tlsrpt_rua mailto:tlsrpt@example.com

domain example.net
mode testing
mx mx.example.net
C

dpid=""
publish() {	# (re)start dnsmasq with the records --print-dns prints now
	local d txt
	[ -z "$dpid" ] || { kill "$dpid"; wait "$dpid" 2> /dev/null; }
	"$BIN" -c "$T/c.conf" --print-dns > "$T/records" 2> /dev/null
	{
		printf 'no-resolv\nno-hosts\nno-daemon\nlisten-address=127.0.0.1\nbind-interfaces\nuser=root\n'
		printf 'log-facility=%s\n' "$T/dnsmasq.log"
		for d in example.com example.net; do
			txt=$(sed -n "s/^_mta-sts\.$d\. IN TXT \"\(.*\)\"$/\1/p" "$T/records")
			printf 'txt-record=_mta-sts.%s,"%s"\naddress=/mta-sts.%s/127.0.0.1\n' "$d" "$txt" "$d"
		done
	} > "$T/dnsmasq.conf"
	ip netns exec "$ns" dnsmasq --conf-file="$T/dnsmasq.conf" 2> "$T/dnsmasq.err" &
	dpid=$!
	wait_until 5 dns_up || echo "# dnsmasq not listening after 5 s: $(cat "$T/dnsmasq.err")"
}
# dnsmasq (this one: dpid) answers on the namespace's port 53
dns_up() {
	kill -0 "$dpid" 2> /dev/null &&
	    ip netns exec "$ns" ss -Hlun 'sport = :53' | grep -q '127\.0\.0\.1:53 '
}
publish
CLEANUP+=('[ -z "$dpid" ] || { kill $dpid 2>/dev/null; wait $dpid 2>/dev/null; }')
id_of() { sed -n "s/^_mta-sts\.$1\. IN TXT \"v=STSv1; id=\(.*\)\"$/\1/p" "$T/records"; }

WRAP="ip netns exec $ns" start_server "$T/c.conf" || exit 0

query() { SSL_CERT_FILE=$CERTS/ca.crt timeout 60 ip netns exec "$ns" mta-sts-query "$1" 2>&1; }
q=$(query example.com)
ok "mta-sts-query example.com: VALID ($q)" grep -q 'STSFetchResult.VALID' <<< "$q"
ok "example.com: id from DNS" grep -q "'$(id_of example.com)'" <<< "$q"
ok "example.com: mode enforce, mx list" grep -q "'mx': \['mail.example.com', '\*.backup.example.com'\].*'mode': 'enforce'" <<< "$q"
q=$(query example.net)
ok "mta-sts-query example.net: VALID ($q)" grep -q 'STSFetchResult.VALID' <<< "$q"
ok "example.net: mode testing, mx" grep -q "'mx': \['mx.example.net'\].*'mode': 'testing'" <<< "$q"

mailauth() {
	NODE_EXTRA_CA_CERTS=$CERTS/ca.crt timeout 60 ip netns exec "$ns" node "$here/mailauth/check.js" "$@" 2>&1
}
if [ -d "$here/mailauth/node_modules/mailauth" ] && command -v node > /dev/null; then
	m=$(mailauth example.com:a.backup.example.com example.net:mx.example.net)
	eq "mailauth: both policies found, configured MX accepted, unlisted rejected" "$?" 0
	ok "mailauth example.com ($(head -n 1 <<< "$m"))" grep -q "^{\"domain\":\"example.com\",\"status\":\"found\",\"id\":\"$(id_of example.com)\",\"mode\":\"enforce\",\"mx\":\[\"mail.example.com\",\"\*.backup.example.com\"\],\"maxAge\":86400,\"error\":null,\"goodMx\":true,\"unlistedMx\":false}$" <<< "$m"
	ok "mailauth example.net ($(tail -n 1 <<< "$m"))" grep -q "^{\"domain\":\"example.net\",\"status\":\"found\",\"id\":\"$(id_of example.net)\",\"mode\":\"testing\",\"mx\":\[\"mx.example.net\"\],\"maxAge\":86400,\"error\":null,\"goodMx\":true,\"unlistedMx\":false}$" <<< "$m"
else
	fail "mailauth is not installed (tests/deps.sh test installs it)"
fi

# Live change to example.net only; publish the new record it prints.
old_com=$(id_of example.com)
old_net=$(id_of example.net)
n0=$(grep -c 'NEW id' "$SOUT")
sed 's/^mx mx.example.net$/mx mx2.example.net/' "$T/c.conf" > "$T/c.tmp" && mv "$T/c.tmp" "$T/c.conf"
new_id() { [ "$(grep -c 'NEW id' "$SOUT")" -gt "$n0" ]; }
wait_until 10 new_id
line=$(grep 'NEW id' "$SOUT" | tail -n 1)
publish
eq "the announced record is the one --print-dns now gives" "$line" "dns: $(grep '^_mta-sts.example.net' "$T/records") ; NEW id: publish this record"
ok "example.net has a new id" bash -c "[[ '$(id_of example.net)' > '$old_net' ]]"
eq "example.com keeps its id" "$(id_of example.com)" "$old_com"
q=$(query example.net)
ok "mta-sts-query sees the new example.net policy ($q)" grep -q "'$(id_of example.net)'.*'mx': \['mx2.example.net'\]" <<< "$q"
if [ -d "$here/mailauth/node_modules/mailauth" ]; then
	m=$(mailauth example.net:mx2.example.net)
	ok "mailauth sees it too ($m)" grep -q "\"id\":\"$(id_of example.net)\",\"mode\":\"testing\",\"mx\":\[\"mx2.example.net\"\].*\"goodMx\":true,\"unlistedMx\":false" <<< "$m"
fi
stop_server
done_testing
