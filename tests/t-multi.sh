#!/bin/bash
# Several domains on one host: example.com and example.net share the
# default certificate, example.org has its own. SNI picks the
# certificate, Host picks the policy, mismatches 404, ids are per domain.
. "$(dirname "$0")/lib.sh"

c=$T/certs
mkdir -p "$c"
cp "$CERTS"/ca.* "$CERTS"/int.* "$c/"
LEAF=shared FORCE=1 sh certs/mkcert.sh "$c" example.com example.net > /dev/null
LEAF=org FORCE=1 sh certs/mkcert.sh "$c" example.org > /dev/null

cat > "$T/c.conf" <<C
listen 127.0.0.1:0
cert $c/shared.fullchain.crt
key $c/shared.key
state_dir $T/state
check_interval 0
mode enforce
max_age 86400

domain example.com
mx mail.example.com

domain example.net
mode testing
mx mx.example.net

domain example.org
cert $c/org.fullchain.crt
key $c/org.key
mx mail.example.org
mx *.backup.example.org
C
"$BIN" -c "$T/c.conf" --check > "$T/check" 2> /dev/null
eq "--check: three domains, two certificates" "$?:$(cat "$T/check")" "0:$T/c.conf: OK, 3 domains"
start_server "$T/c.conf" || exit 0

at() {	# at NAME PATH [curl args]: HTTPS to NAME (as SNI and URL host)
	local name=$1 path=$2
	shift 2
	curl -sS --max-time 10 --cacert "$CERTS/ca.crt" --resolve "$name:$PORT:127.0.0.1" "$@" "https://$name:$PORT$path"
}
for d in example.com example.net example.org; do
	"$BIN" -c "$T/c.conf" --print-policy "$d" > "$T/want.$d" 2> /dev/null
	at "mta-sts.$d" /.well-known/mta-sts.txt -o "$T/got.$d"
	ok "$d: its own policy" cmp -s "$T/got.$d" "$T/want.$d"
done
ok "the policies differ" bash -c "! cmp -s '$T/got.example.com' '$T/got.example.net' && ! cmp -s '$T/got.example.com' '$T/got.example.org'"
ok "example.net inherits max_age, overrides mode" grep -q $'^mode: testing\r$' "$T/got.example.net"

code() { at "$@" -o /dev/null -w '%{http_code}'; }
eq "SNI example.com, Host example.org: 404" "$(code mta-sts.example.com /.well-known/mta-sts.txt -H 'Host: mta-sts.example.org')" 404
eq "SNI example.org, Host example.com: 404" "$(code mta-sts.example.org /.well-known/mta-sts.txt -H 'Host: mta-sts.example.com')" 404
eq "SNI example.com, Host example.net (same certificate): 404" "$(code mta-sts.example.com /.well-known/mta-sts.txt -H 'Host: mta-sts.example.net')" 404
eq "unknown Host: 404" "$(code mta-sts.example.com /.well-known/mta-sts.txt -H 'Host: mta-sts.example.edu')" 404
eq "SNI with Host:port: 200" "$(code mta-sts.example.org /.well-known/mta-sts.txt -H "Host: mta-sts.example.org:$PORT")" 200

subj() {	# the SANs of the certificate served for an SNI (or none)
	timeout 10 openssl s_client -connect "127.0.0.1:$PORT" "$@" < /dev/null 2> /dev/null |
	    openssl x509 -noout -ext subjectAltName 2> /dev/null | tail -n 1 | tr -d ' '
}
eq "SNI example.org gets its own certificate" "$(subj -servername mta-sts.example.org)" "DNS:mta-sts.example.org"
eq "SNI example.net gets the shared one" "$(subj -servername mta-sts.example.net)" "DNS:mta-sts.example.com,DNS:mta-sts.example.net"
eq "unknown SNI gets the default certificate" "$(subj -servername unknown.example)" "DNS:mta-sts.example.com,DNS:mta-sts.example.net"
eq "no SNI gets the default certificate" "$(subj -noservername)" "DNS:mta-sts.example.com,DNS:mta-sts.example.net"
eq "no SNI: Host alone picks the policy" "$(curl -sk --max-time 10 -o /dev/null -w '%{http_code}' -H 'Host: mta-sts.example.org' "https://127.0.0.1:$PORT/.well-known/mta-sts.txt")" 200
eq "unknown SNI: 404 even for a known Host" "$(curl -sk --max-time 10 -o /dev/null -w '%{http_code}' --resolve "unknown.example:$PORT:127.0.0.1" -H 'Host: mta-sts.example.org' "https://unknown.example:$PORT/.well-known/mta-sts.txt")" 404

# --print-dns: all, or one
eq "--print-dns: every domain" "$("$BIN" -c "$T/c.conf" --print-dns 2>/dev/null | grep -c '^_mta-sts\.')" 3
eq "--print-dns example.org: just it" "$("$BIN" -c "$T/c.conf" --print-dns example.org 2>/dev/null | grep '^_mta-sts\.' | cut -d' ' -f1)" "_mta-sts.example.org."

# a live change to one domain: only its id and record
id_of() { awk -v d="$1" '$1 == d { print $2 }' "$T/state/state"; }
com=$(id_of example.com) net=$(id_of example.net) org=$(id_of example.org)
n0=$(grep -c '^dns: _mta-sts.*NEW id' "$SOUT")
r0=$(grep -c '^reload done' "$SERR")
sed 's/^mx mx.example.net$/mx mx2.example.net/' "$T/c.conf" > "$T/c.tmp" && mv "$T/c.tmp" "$T/c.conf"
reloaded() { [ "$(grep -c '^reload done' "$SERR")" -gt "$r0" ]; }
wait_until 10 reloaded
sleep 0.3	# not a wait: a second, unwanted record would show up by now
eq "one domain changed: one record printed" "$(($(grep -c '^dns: _mta-sts.*NEW id' "$SOUT") - n0))" 1
ok "and it is example.net's" bash -c "grep '^dns: _mta-sts.*NEW id' '$SOUT' | tail -n 1 | grep -q '^dns: _mta-sts.example.net. IN TXT \"v=STSv1; id=$(id_of example.net)\"'"
ok "example.net got a greater id" bash -c "[[ '$(id_of example.net)' > '$net' ]]"
eq "example.com and example.org keep theirs" "$(id_of example.com) $(id_of example.org)" "$com $org"
ok "example.net serves the change" bash -c "curl -s --cacert '$CERTS/ca.crt' --resolve mta-sts.example.net:$PORT:127.0.0.1 https://mta-sts.example.net:$PORT/.well-known/mta-sts.txt | grep -q 'mx: mx2.example.net'"
stop_server

# --check finds a domain whose own certificate does not cover it
sed "s|$c/org.fullchain.crt|$c/shared.fullchain.crt|; s|$c/org.key|$c/shared.key|" "$T/c.conf" > "$T/bad.conf"
"$BIN" -c "$T/bad.conf" --check > /dev/null 2> "$T/err"
eq "--check: a domain's own certificate must cover it" "$?:$(grep ^error "$T/err")" \
    "1:error: cert $c/shared.fullchain.crt: no DNS subjectAltName covers mta-sts.example.org (has: mta-sts.example.com, mta-sts.example.net); strict clients ignore the CN"
# No default: a domain that has no certificate of its own
printf 'domain a.example\ncert %s\nkey %s\nmode none\ndomain b.example\nmode none\n' "$c/org.fullchain.crt" "$c/org.key" > "$T/nodef.conf"
"$BIN" -c "$T/nodef.conf" --check > /dev/null 2> "$T/err"
eq "no default and a domain without a certificate" "$?:$(cat "$T/err")" \
    "1:error: $T/nodef.conf:5: domain b.example: no certificate: give 'cert' and 'key' in its block, or before the first domain as the default, or set acme_directory to get one by ACME"
# A default that does not cover a domain, but another configured one does
printf 'cert %s\nkey %s\ndomain example.com\nmode none\ndomain example.org\nmode none\ndomain example.net\nmode none\ncert %s\nkey %s\n' \
    "$c/org.fullchain.crt" "$c/org.key" "$c/shared.fullchain.crt" "$c/shared.key" > "$T/other.conf"
"$BIN" -c "$T/other.conf" --check > "$T/out" 2> "$T/err"
eq "a certificate configured for another domain covers example.com" "$?" 0
done_testing
