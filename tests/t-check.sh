#!/bin/bash
# --check: certificate and key checked offline, every problem listed.
. "$(dirname "$0")/lib.sh"

c="$T/c"
mkdir -p "$c"
cp "$CERTS"/ca.* "$CERTS"/int.* "$c/"
leaf() { LEAF=$1 FORCE=1 sh certs/mkcert.sh "$c" "${@:2}" > /dev/null; }
leaf good example.com
leaf other example.org
LEAF=cnonly SANS=none FORCE=1 sh certs/mkcert.sh "$c" example.com > /dev/null
LEAF=wild SANS="DNS:*.example.com" FORCE=1 sh certs/mkcert.sh "$c" example.com > /dev/null
LEAF=deep SANS="DNS:*.sts.example.com" FORCE=1 sh certs/mkcert.sh "$c" example.com > /dev/null
LEAF=soon DAYS=5 FORCE=1 sh certs/mkcert.sh "$c" example.com > /dev/null

conf() {	# conf NAME CERT KEY [domain...]
	local name=$1 cert=$2 key=$3 d
	shift 3
	{
		echo "cert $cert"
		echo "key $key"
		for d in "${@:-example.com}"; do printf 'domain %s\nmode none\n' "$d"; done
	} > "$T/$name.conf"
}
run() { "$BIN" -c "$T/$1.conf" --check > "$T/out" 2> "$T/err"; echo $?; }

conf good "$c/good.fullchain.crt" "$c/good.key"
eq "good certificate: exit 0" "$(run good)" 0
eq "good certificate: says OK" "$(cat "$T/out")" "$T/good.conf: OK, 1 domain"

conf cn "$c/cnonly.fullchain.crt" "$c/cnonly.key"
eq "CN-only certificate: exit 1" "$(run cn)" 1
eq "CN-only certificate: message" "$(cat "$T/err")" \
    "error: cert $c/cnonly.fullchain.crt: no DNS subjectAltName covers mta-sts.example.com (has: none); strict clients ignore the CN"

conf wrong "$c/other.fullchain.crt" "$c/other.key" example.com example.net
eq "certificate for other names: exit 1" "$(run wrong)" 1
eq "every uncovered domain listed" "$(grep -c 'no DNS subjectAltName covers' "$T/err")" 2
ok "the names it has are listed" grep -q '(has: mta-sts.example.org)' "$T/err"

conf wild "$c/wild.fullchain.crt" "$c/wild.key"
eq "wildcard SAN *.example.com covers mta-sts.example.com" "$(run wild)" 0
conf deep "$c/deep.fullchain.crt" "$c/deep.key"
eq "wildcard SAN one level too deep does not" "$(run deep)" 1

conf mismatch "$c/good.fullchain.crt" "$c/other.key"
eq "key of another certificate: exit 1" "$(run mismatch)" 1
eq "key mismatch message" "$(cat "$T/err")" \
    "error: key $c/other.key does not match the first certificate in $c/good.fullchain.crt (the server certificate must come first)"

conf nofile "$c/missing.crt" "$c/good.key"
eq "missing certificate file: exit 1" "$(run nofile)" 1
ok "missing certificate file named" grep -q "^error: cert $c/missing.crt: " "$T/err"
echo "not a key" > "$c/garbage.key"
conf garbage "$c/good.fullchain.crt" "$c/garbage.key"
eq "garbage key: exit 1" "$(run garbage)" 1
ok "garbage key named" grep -q "^error: key $c/garbage.key: " "$T/err"

conf soon "$c/soon.fullchain.crt" "$c/soon.key"
eq "expiring in 5 days: still exit 0" "$(run soon)" 0
ok "expiring in 5 days: warning" grep -q "^warning: cert $c/soon.fullchain.crt: expires on .*, within 14 days" "$T/err"

# An expired certificate, signed with explicit dates by openssl ca.
mkdir -p "$c/ca.d"
: > "$c/ca.d/index"
cat > "$c/ca.cnf" <<CNF
[ca]
default_ca = d
[d]
database = $c/ca.d/index
new_certs_dir = $c/ca.d
serial = $c/ca.d/serial
default_md = sha256
policy = p
copy_extensions = copy
[p]
commonName = supplied
CNF
echo 01 > "$c/ca.d/serial"
openssl req -new -key "$c/good.key" -subj /CN=mta-sts.example.com \
    -addext subjectAltName=DNS:mta-sts.example.com -out "$c/old.csr" 2> /dev/null
openssl ca -batch -config "$c/ca.cnf" -cert "$c/int.crt" -keyfile "$c/int.key" \
    -startdate 20200101000000Z -enddate 20200201000000Z -in "$c/old.csr" -out "$c/old.crt" > /dev/null 2>&1
cat "$c/old.crt" "$c/int.crt" > "$c/old.fullchain.crt"
conf expired "$c/old.fullchain.crt" "$c/good.key"
eq "expired certificate: exit 1" "$(run expired)" 1
eq "expired certificate: message" "$(cat "$T/err")" "error: cert $c/old.fullchain.crt: expired on 2020-02-01"

# A bad config and a bad certificate together: all config errors first.
printf 'cert %s\nkey %s\ndomain example.com\nmode nope\n' "$c/cnonly.fullchain.crt" "$c/good.key" > "$T/both.conf"
"$BIN" -c "$T/both.conf" --check > /dev/null 2> "$T/err"
eq "bad config: --check exits 1 with the config error" "$? $(cat "$T/err")" "1 error: $T/both.conf:4: mode 'nope': expected enforce, testing or none"

# The server serves a CN-only certificate but warns at start.
printf 'listen 127.0.0.1:0\nstate_dir %s\ncheck_interval 0\n' "$T/state" | cat - "$T/cn.conf" > "$T/serve-cn.conf"
start_server "$T/serve-cn.conf" && {
	ok "server warns at start about the certificate" grep -q "^warning: cert $c/cnonly.fullchain.crt: no DNS subjectAltName covers mta-sts.example.com" "$SERR"
	stop_server
}

# A policy over 64 KiB: --check fails as the server does, in its words.
{
	printf 'listen 127.0.0.1:0\nstate_dir %s\ncert %s\nkey %s\n' "$T/state" "$c/good.fullchain.crt" "$c/good.key"
	printf 'domain example.com\nmode enforce\n'
	for i in $(seq 2000); do echo "mx m$i.a-label-long-enough-to-fill-the-policy.example.com"; done
} > "$T/big.conf"
"$BIN" -c "$T/big.conf" --check > "$T/out" 2> "$T/err"
eq "policy over 64 KiB: --check exits 1" "$?" 1
eq "policy over 64 KiB: --check says so" "$(cat "$T/err")" \
    "error: $T/big.conf:5: domain example.com: the policy is larger than 64 KiB"
eq "policy over 64 KiB: --check does not say OK" "$(cat "$T/out")" ""
"$BIN" -c "$T/big.conf" > /dev/null 2> "$T/err2"
eq "policy over 64 KiB: the server refuses to start" "$?" 1
eq "with the same message" "$(grep '^error:' "$T/err2")" "$(cat "$T/err")"
done_testing
