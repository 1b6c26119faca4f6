#!/bin/bash
# A real MTA-STS client against the real server: postfix-mta-sts-resolver
# (mta-sts-query) inside a network namespace this test creates, with
# dnsmasq serving the _mta-sts TXT record exactly as --print-dns printed
# it and the server on port 443 of the namespace's loopback.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v mta-sts-query > /dev/null || ! command -v dnsmasq > /dev/null; then
	skip "real client test needs root, mta-sts-query and dnsmasq"
	exit 0
fi
ns=mtasts-$$
if ! ip netns add "$ns" 2> "$T/nserr"; then
	skip "cannot create a network namespace: $(cat "$T/nserr")"
	exit 0
fi
CLEANUP+=("ip netns del $ns 2>/dev/null; rm -rf /etc/netns/$ns")
ip -n "$ns" link set lo up
mkdir -p "/etc/netns/$ns"
echo "nameserver 127.0.0.1" > "/etc/netns/$ns/resolv.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' > "/etc/netns/$ns/hosts"

write_conf "$T/c.conf" <<'C'
domain example.com
mode enforce
mx mail.example.com
mx *.backup.example.com
max_age 86400
tlsrpt_rua mailto:tlsrpt@example.com
C
sed -i 's/^listen .*/listen 127.0.0.1:443/' "$T/c.conf"
"$BIN" -c "$T/c.conf" --print-dns > "$T/records" 2> /dev/null
txt=$(sed -n 's/^_mta-sts\.example\.com\. IN TXT "\(.*\)"$/\1/p' "$T/records")
id=${txt##*id=}
cat > "$T/dnsmasq.conf" <<D
no-resolv
no-hosts
no-daemon
listen-address=127.0.0.1
bind-interfaces
user=root
pid-file=$T/dnsmasq.pid
log-facility=$T/dnsmasq.log
txt-record=_mta-sts.example.com,"$txt"
address=/mta-sts.example.com/127.0.0.1
address=/mta-sts.example.com/::1
D
ip netns exec "$ns" dnsmasq --conf-file="$T/dnsmasq.conf" 2> "$T/dnsmasq.err" &
dpid=$!
CLEANUP+=("kill $dpid 2>/dev/null; wait $dpid 2>/dev/null")

WRAP="ip netns exec $ns" start_server "$T/c.conf" || exit 0
ok "dnsmasq answers the TXT record" bash -c "ip netns exec $ns getent ahosts mta-sts.example.com > /dev/null"

SSL_CERT_FILE=$CERTS/ca.crt timeout 60 ip netns exec "$ns" mta-sts-query example.com > "$T/q" 2>&1
rc=$?
eq "mta-sts-query exits 0" "$rc" 0
ok "policy VALID ($(tr '\n' ' ' < "$T/q"))" grep -q 'STSFetchResult.VALID' "$T/q"
ok "the id from DNS ($id)" grep -q "'$id'" "$T/q"
ok "mode enforce" grep -q "'mode': 'enforce'" "$T/q"
ok "mx list" grep -q "'mx': \['mail.example.com', '\*.backup.example.com'\]" "$T/q"
ok "max_age" grep -q "'max_age': 86400" "$T/q"
cp "$T/q" "${CLIENT_OUT:-/dev/null}" 2> /dev/null
stop_server
