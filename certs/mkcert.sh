#!/bin/sh
# Make a throwaway certificate chain for local runs and tests:
#   DIR/ca.crt                  a root CA to trust (SSL_CERT_FILE, --cacert)
#   DIR/<leaf>.fullchain.crt    server certificate + intermediate, as
#                               acme.sh and certbot deliver them
#   DIR/<leaf>.key              its private key (EC P-256)
# usage: mkcert.sh DIR DOMAIN...   (SANs: mta-sts.DOMAIN for each)
# env:   LEAF=name (default mta-sts), DAYS=n (default 30),
#        SANS="DNS:a,DNS:b" to give the SANs literally (SANS=none: no SAN,
#        CN only), FORCE=1 to remake an existing leaf.
# Never use these for anything real: the CA key sits next to them.
set -eu

dir=$1
shift
leaf=${LEAF:-mta-sts}
days=${DAYS:-30}
mkdir -p "$dir"
cd "$dir"

if [ ! -s ca.crt ] || [ ! -s int.crt ]; then
	openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
	openssl req -x509 -new -key ca.key -days 3650 -subj "/CN=mtasts-httpd test root CA" \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt
	openssl ecparam -name prime256v1 -genkey -noout -out int.key 2>/dev/null
	openssl req -new -key int.key -subj "/CN=mtasts-httpd test intermediate CA" -out int.csr
	printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' > int.ext
	openssl x509 -req -in int.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
	    -days 3650 -extfile int.ext -out int.crt 2>/dev/null
	rm -f int.csr int.ext
fi

if [ -s "$leaf.fullchain.crt" ] && [ -z "${FORCE:-}" ]; then
	exit 0
fi

first=${1:-example.com}
if [ -z "${SANS:-}" ]; then
	SANS=""
	for d in "$@"; do
		SANS="${SANS:+$SANS,}DNS:mta-sts.$d"
	done
fi
openssl ecparam -name prime256v1 -genkey -noout -out "$leaf.key" 2>/dev/null
openssl req -new -key "$leaf.key" -subj "/CN=mta-sts.$first" -out "$leaf.csr"
{
	echo "basicConstraints=critical,CA:FALSE"
	echo "keyUsage=critical,digitalSignature"
	echo "extendedKeyUsage=serverAuth"
	[ "$SANS" = none ] || echo "subjectAltName=$SANS"
} > "$leaf.ext"
openssl x509 -req -in "$leaf.csr" -CA int.crt -CAkey int.key -CAcreateserial \
    -days "$days" -extfile "$leaf.ext" -out "$leaf.crt" 2>/dev/null
cat "$leaf.crt" int.crt > "$leaf.fullchain.crt"
rm -f "$leaf.csr" "$leaf.ext" "$leaf.crt"
chmod 600 "$leaf.key"
