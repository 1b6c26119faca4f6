#!/bin/bash
# Debian's testssl.sh against the server (plain build only; about 2 min):
# no SSLv2/3, TLS 1.0 or 1.1; only forward-secret AEAD suites; no known
# vulnerability; and no HIGH or CRITICAL finding except those the
# throwaway test certificate causes (allowed: cert_revocation, as it
# has no CRL or OCSP URI).
. "$(dirname "$0")/lib.sh"
[ "${FIRST:-1}" = 1 ] || skip_all
if ! command -v testssl > /dev/null; then
	fail "testssl is not installed (tests/deps.sh test installs testssl.sh)"
	exit 0
fi
mkdir -p "$T/c"
cp "$CERTS"/ca.* "$CERTS"/int.* "$T/c/"
LEAF=year DAYS=365 FORCE=1 sh certs/mkcert.sh "$T/c" example.com > /dev/null
CERT=$T/c/year.fullchain.crt KEY=$T/c/year.key conf_v 1 > "$T/c.conf"
start_server "$T/c.conf" || exit 0

# The test talks to loopback only, and testssl looks names up itself:
# --nodns none stops its lookups of the host (A, PTR, CAA), and as root
# a resolv.conf of its own naming loopback keeps openssl's probes (it
# connects to "invalid." to learn which options openssl has) here too.
wrap=()
if [ "$(id -u)" = 0 ]; then
	echo "nameserver 127.0.0.1" > "$T/resolv.conf"
	wrap=(unshare --mount sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$T/resolv.conf")
fi
timeout 600 "${wrap[@]}" testssl --quiet --color 0 --warnings off --openssl-timeout 5 -p -s -f -S -U \
    --add-ca "$CERTS/ca.crt" --jsonfile "$T/ts.json" --ip 127.0.0.1 --nodns none \
    "https://mta-sts.example.com:$PORT" > "$T/ts.out" 2>&1
finding() { python3 -c "import json,sys; print(next((x['finding'] for x in json.load(open(sys.argv[1])) if x['id'] == sys.argv[2]), 'absent'))" "$T/ts.json" "$1"; }
for id in SSLv2 SSLv3 TLS1 TLS1_1 cipherlist_NULL cipherlist_aNULL cipherlist_EXPORT cipherlist_LOW cipherlist_3DES_IDEA cipherlist_AVERAGE; do
	f=$(finding "$id")
	ok "testssl $id: $f" bash -c "[[ '$f' == 'not offered'* ]]"
done
eq "testssl TLS1_2" "$(finding TLS1_2)" offered
eq "testssl forward secrecy" "$(finding PFS)" offered
f=$(finding PFS_ciphers)
# TLS 1.2: ECDHE + AEAD; TLS 1.3 suites (mbedTLS 3.x) are all both.
ok "testssl: only forward-secret AEAD suites ($f)" bash -c "[ -z \"\$(tr ' ' '\n' <<< '$f' | grep -vE '^(ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)|TLS_(AES_(128_GCM_SHA256|256_GCM_SHA384)|CHACHA20_POLY1305_SHA256))$')\" ]"
high=$(python3 -c "
import json, sys
for x in json.load(open(sys.argv[1])):
    if x['severity'] in ('HIGH', 'CRITICAL'):
        print(x['id'] + ': ' + x['finding'])" "$T/ts.json")
echo "$high" | sed 's/^/# HIGH or CRITICAL: /'
eq "testssl: no HIGH or CRITICAL findings but cert_revocation" "$(grep -v '^cert_revocation:' <<< "$high" | grep -c .)" 0
vuln=$(python3 -c "
import json, sys
for x in json.load(open(sys.argv[1])):
    if 'VULNERABLE' in x['finding'].upper() and 'NOT VULNERABLE' not in x['finding'].upper():
        print(x['id'])" "$T/ts.json")
eq "testssl: no vulnerability found" "$vuln" ""
for c in kRSA kDHE kPSK aNULL eNULL; do
	timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 -cipher "$c:@SECLEVEL=0" < /dev/null > "$T/s" 2>&1
	ok "openssl: $c suites refused" grep -q 'Cipher is (NONE)\|handshake failure\|no cipher' "$T/s"
done
stop_server
done_testing
