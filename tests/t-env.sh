#!/bin/bash
# Configuration from MTASTS_* variables (containers, no config file):
# served like a file config, certbot's layout found by itself, every bad
# value named by its variable; and --healthcheck against the server.
. "$(dirname "$0")/lib.sh"

le=$T/letsencrypt
mkdir -p "$le/live/mta-sts.example.com" "$le/live/mta-sts.example.net"
for d in example.com example.net; do
	cp "$CERTS/mta-sts.fullchain.crt" "$le/live/mta-sts.$d/fullchain.pem"
	cp "$CERTS/mta-sts.key" "$le/live/mta-sts.$d/privkey.pem"
done
port=$(free_port)
base=(env -i PATH="$PATH" MTASTS_LISTEN="127.0.0.1:$port" MTASTS_STATE_DIR="$T/state" MTASTS_CERTBOT_DIR="$le")
mt() { "${base[@]}" "$@"; }

mt MTASTS_DOMAIN="example.com, example.net" MTASTS_MODE=enforce \
    MTASTS_MX="mx1.example.com  mx2.example.com,*.backup.example.com" MTASTS_MAX_AGE=86400 \
    "$BIN" --print-policy > "$T/p" 2> "$T/e"
eq "env: two domains, the mx list split on spaces and commas" "$(grep -c '^mx: ' "$T/p")" 6
eq "env: the policy" "$(sed -n '1,/^max_age/p' "$T/p" | tr -d '\r' | tr '\n' '|')" \
    "# mta-sts.example.com/.well-known/mta-sts.txt|version: STSv1|mode: enforce|mx: mx1.example.com|mx: mx2.example.com|mx: *.backup.example.com|max_age: 86400|"
mt MTASTS_DOMAIN=example.com MTASTS_MODE=testing MTASTS_MX=mx.example.com \
    MTASTS_TLSRPT_RUA=mailto:tlsrpt@example.com "$BIN" --print-dns > "$T/dns"
ok "env: the TLSRPT record" grep -q '^_smtp._tls.example.com. IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example.com"' "$T/dns"
mt MTASTS_DOMAIN=example.com MTASTS_MODE=testing MTASTS_MX=mx.example.com "$BIN" --check > "$T/chk" 2>&1
ok "env: certbot's live/mta-sts.<domain>/ found and checked" grep -q '^environment: OK, 1 domain' "$T/chk"
mt MTASTS_DOMAIN=example.com MTASTS_MODE=testing MTASTS_MX=mx.example.com \
    MTASTS_CERTBOT_DIR="$T/none" MTASTS_CERT="$CERTS/mta-sts.fullchain.crt" \
    MTASTS_KEY="$CERTS/mta-sts.key" "$BIN" --check > "$T/chk2" 2>&1
ok "env: MTASTS_CERT and MTASTS_KEY win over certbot's layout" grep -q '^environment: OK' "$T/chk2"
printf 'domain example.org\nmode none\n' | write_conf "$T/file.conf"
mt MTASTS_DOMAIN=example.com MTASTS_MODE=testing "$BIN" -c "$T/file.conf" --print-policy > "$T/pf" 2>&1
ok "env: -c FILE wins over the environment" grep -q '^mode: none' "$T/pf"

# Bad values: each error names its variable; nothing is served.
bad() {	# DESC WANT VAR=VALUE...
	local desc=$1 want=$2
	shift 2
	mt "$@" "$BIN" --print-policy > /dev/null 2> "$T/err"
	local rc=$?
	eq "env, $desc: refused" "$rc" 1
	eq "env, $desc: the message" "$(cat "$T/err")" "$want"
}
bad "a bad mode and max_age, an IP mx" "error: MTASTS_MODE: mode 'strict': expected enforce, testing or none
error: MTASTS_MAX_AGE: max_age '1w': expected seconds from 0 to 31557600 (one year)
error: MTASTS_MX: mx '192.0.2.1' is an IP address or ends in a numeric label: a host name is required" \
    MTASTS_DOMAIN=example.com MTASTS_MODE=strict MTASTS_MAX_AGE=1w MTASTS_MX="mx.example.com 192.0.2.1"
bad "a misspelt variable" "error: MTASTS_MXS: unknown variable (known: MTASTS_DOMAIN, _MX, _MODE, _MAX_AGE, _TLSRPT_RUA, _CERT, _KEY, _STATE_DIR, _LISTEN, _CERTBOT_DIR, _ACME_DIRECTORY, _ACME_EMAIL, _CA_BUNDLE, _CHECK_INTERVAL)" \
    MTASTS_DOMAIN=example.com MTASTS_MODE=testing MTASTS_MXS=mx.example.com
bad "no domain, no mode" "error: MTASTS_DOMAIN: not set: name the domain (or domains) to serve
error: MTASTS_MODE: not set: enforce, testing or none (testing first: it never bounces mail)" \
    MTASTS_MX=mx.example.com
bad "a line break smuggling a key" "error: MTASTS_MX: contains a line break" \
    MTASTS_DOMAIN=example.com MTASTS_MODE=testing "MTASTS_MX=mx.example.com
hook /bin/sh"
bad "a certificate without its key" "error: MTASTS_CERT: set without MTASTS_KEY: the two go together" \
    MTASTS_DOMAIN=example.com MTASTS_MODE=testing MTASTS_MX=mx.example.com MTASTS_CERT=/x.pem
bad "no certificate anywhere" "error: MTASTS_CERT: not set, and certbot's $T/none/live/mta-sts.example.com/fullchain.pem does not exist: set MTASTS_CERT and MTASTS_KEY, or mount certbot's directory at $T/none" \
    MTASTS_DOMAIN=example.com MTASTS_MODE=testing MTASTS_MX=mx.example.com MTASTS_CERTBOT_DIR="$T/none"
bad "a bad domain" "error: MTASTS_DOMAIN: domain 'bad..example' has an empty label" \
    MTASTS_DOMAIN="example.com bad..example" MTASTS_MODE=testing MTASTS_MX=mx.example.com
bad "mx missing in enforce" "error: MTASTS_DOMAIN: domain example.com: mode enforce needs at least one 'mx'" \
    MTASTS_DOMAIN=example.com MTASTS_MODE=enforce

# Served from the environment; --healthcheck 0 while it serves, 1 after.
envs=(MTASTS_DOMAIN=example.com MTASTS_MODE=testing MTASTS_MX=mx.example.com)
mt "${envs[@]}" "$BIN" --healthcheck 2> "$T/hc0"
eq "healthcheck: 1 before the server runs" "$?" 1
ok "healthcheck: says why" grep -q "^unhealthy: connect to 127.0.0.1:$port: Connection refused" "$T/hc0"
WRAP="${base[*]} ${envs[*]} MTASTS_CHECK_INTERVAL=0" start_server - && {
	eq "env: served" "$(curl -sS --max-time 10 --cacert "$CERTS/ca.crt" --resolve "mta-sts.example.com:$port:127.0.0.1" \
	    "https://mta-sts.example.com:$port/.well-known/mta-sts.txt" | tr -d '\r' | tr '\n' '|')" \
	    "version: STSv1|mode: testing|mx: mx.example.com|max_age: 604800|"
	mt "${envs[@]}" "$BIN" --healthcheck 2> "$T/hc1"
	eq "healthcheck: 0 while it serves" "$?" 0
	ok "healthcheck: says so" grep -q "^healthy: https://mta-sts.example.com/.well-known/mta-sts.txt answered 200" "$T/hc1"
	kill -HUP "$SPID"
	ok "SIGHUP: the environment read again" wait_until 10 grep -q '^reload done' "$SERR"
	mt "${envs[@]}" "$BIN" --healthcheck 2> /dev/null
	eq "healthcheck: 0 after a reload (SIGHUP re-reads the environment)" "$?" 0
	stop_server
}
mt "${envs[@]}" "$BIN" --healthcheck 2> /dev/null
eq "healthcheck: 1 once it stopped" "$?" 1
done_testing
