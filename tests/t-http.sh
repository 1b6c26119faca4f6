#!/bin/bash
# HTTP and TLS behaviour of the real binary, with curl and openssl s_client:
# the 200-or-404 rule, headers, keep-alive, TLS versions, the chain, ALPN,
# session tickets, malformed requests, the cap on unfinished handshakes,
# the handshake timeout.
. "$(dirname "$0")/lib.sh"

write_conf "$T/c.conf" <<'C'
max_handshakes 4
handshake_timeout 2
domain example.com
mode enforce
mx mail.example.com
mx *.backup.example.com
max_age 604800
C
"$BIN" -c "$T/c.conf" --print-policy > "$T/policy" 2>/dev/null
start_server "$T/c.conf" || exit 0

# --- the policy ---
get -D "$T/h" -o "$T/body" /.well-known/mta-sts.txt
ok "GET body is the rendered policy, byte for byte" cmp -s "$T/body" "$T/policy"
eq "GET status" "$(head -n 1 "$T/h" | tr -d '\r')" "HTTP/1.1 200 OK"
eq "Content-Type is text/plain" "$(grep -i '^content-type:' "$T/h" | tr -d '\r')" "Content-Type: text/plain"
eq "Content-Length matches" "$(grep -i '^content-length:' "$T/h" | tr -d '\r' | awk '{print $2}')" "$(wc -c < "$T/policy")"
ok "policy uses CRLF line ends" grep -q $'^version: STSv1\r$' "$T/body"

get -I -o "$T/hh" /.well-known/mta-sts.txt
eq "HEAD status" "$(head -n 1 "$T/hh" | tr -d '\r')" "HTTP/1.1 200 OK"
eq "HEAD Content-Length" "$(grep -i '^content-length:' "$T/hh" | tr -d '\r' | awk '{print $2}')" "$(wc -c < "$T/policy")"
# curl -I never reads a body; check on the wire that none follows.
{ printf 'HEAD /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.example.com\r\nConnection: close\r\n\r\n'; sleep 1; } |
    timeout 10 openssl s_client -quiet -connect "127.0.0.1:$PORT" -servername mta-sts.example.com 2>/dev/null > "$T/raw_head"
ok "HEAD sends headers only" bash -c "! grep -q STSv1 '$T/raw_head' && grep -q '200 OK' '$T/raw_head'"

for v in "/.well-known/mta-sts.txt?x=1" ; do
	eq "query string ignored: $v" "$(get -o /dev/null -w '%{http_code}' "$v")" 200
done
for h in MTA-STS.EXAMPLE.COM mta-sts.example.com. "mta-sts.example.com:$PORT" "mta-sts.example.com:443"; do
	eq "Host variant '$h' gets 200" "$(get -H "Host: $h" -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt)" 200
done

# --- everything else is 404, never 3xx, never 5xx ---
n404=0
check404() {
	local desc=$1 code loc
	shift
	code=$(get -D "$T/h404" -o "$T/b404" -w '%{http_code}' "$@")
	loc=$(grep -ci '^location:' "$T/h404")
	if [ "$code" = 404 ] && [ "$loc" = 0 ] && [ "$(cat "$T/b404")" = "not found" ]; then
		pass "404 for $desc"
		n404=$((n404 + 1))
	else
		fail "404 for $desc: got $code"
	fi
}
for p in / /.well-known/ /.well-known /.well-known/mta-sts.txt/ /.well-known/MTA-STS.TXT \
    /.well-known/mta-sts.txt.bak //.well-known/mta-sts.txt /.well-known//mta-sts.txt \
    /.well-known/./mta-sts.txt /x/../.well-known/mta-sts.txt /.well-known/mta-sts%2etxt \
    /%2ewell-known/mta-sts.txt /.well-known/mta-sts.txt%00 "/.well-known/mta-sts.txt;x" \
    /robots.txt /index.html /.well-known/security.txt; do
	check404 "path $p" --path-as-is "$p"
done
for m in POST PUT DELETE OPTIONS PATCH TRACE FOO; do
	check404 "method $m" -X "$m" /.well-known/mta-sts.txt
done
check404 "POST with a body" -d 'a=b' /.well-known/mta-sts.txt
for h in example.com www.example.com mta-sts.example.net mta-sts.example.com.evil.example \
    evil.example 127.0.0.1 "mta-sts.example.com:abc" "mta-sts.example.com.."; do
	check404 "Host $h" -H "Host: $h" /.well-known/mta-sts.txt
done
check404 "HTTP/1.0 without Host" --http1.0 -H "Host:" /.well-known/mta-sts.txt
ok "at least 15 non-policy requests answered 404" test "$n404" -ge 15

# --- keep-alive: several requests on one TLS connection ---
u=https://mta-sts.example.com:$PORT
curl -sS -v --max-time 10 --cacert "$CERTS/ca.crt" --resolve "mta-sts.example.com:$PORT:127.0.0.1" \
    -o /dev/null -o /dev/null -o /dev/null "$u/.well-known/mta-sts.txt" "$u/nope" "$u/.well-known/mta-sts.txt" 2> "$T/kv"
eq "three requests, one connection" "$(grep -c '^\* Connected to' "$T/kv")" 1
eq "all three answered" "$(grep -c '^< HTTP/1.1 [24]0[04]' "$T/kv")" 3

# --- TLS ---
sc() { timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername mta-sts.example.com "$@" < /dev/null 2>&1; }
for v in tls1 tls1_1; do
	sc "-$v" -cipher 'DEFAULT:@SECLEVEL=0' > "$T/sc_$v"
	ok "TLS ${v#tls} refused by the server" grep -q 'alert protocol version' "$T/sc_$v"
done
sc -tls1_2 -CAfile "$CERTS/ca.crt" -verify_return_error -verify_hostname mta-sts.example.com \
    -alpn http/1.1 -showcerts -sess_out "$T/sess" > "$T/sc12"
ok "TLS 1.2 accepted" grep -q 'Protocol *: TLSv1.2' "$T/sc12"
ok "chain verifies against the test root" grep -q 'Verify return code: 0 (ok)' "$T/sc12"
ok "intermediate sent" grep -q 'CN *= *mtasts-httpd test intermediate CA' "$T/sc12"
ok "ALPN http/1.1" grep -q 'ALPN protocol: http/1.1' "$T/sc12"
ok "ECDHE with an AEAD cipher" grep -Eq 'Cipher is ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM|CHACHA20-POLY1305)' "$T/sc12"
sc -tls1_2 -CAfile "$CERTS/ca.crt" -sess_in "$T/sess" > "$T/sc_resume"
ok "session ticket resumes" grep -q '^Reused, TLSv1.2' "$T/sc_resume"
# TLS 1.3: offered where the mbedTLS build has it (3.6), absent in 2.28
sc -tls1_3 -CAfile "$CERTS/ca.crt" -verify_return_error > "$T/sc13"
if "$BIN" --version | grep -q 'mbedTLS 3\.'; then
	ok "TLS 1.3 offered (mbedTLS 3.x)" grep -q '^New, TLSv1.3' "$T/sc13"
	ok "TLS 1.3 chain verifies" grep -q 'Verify return code: 0 (ok)' "$T/sc13"
else
	ok "TLS 1.3 not offered (mbedTLS 2.28 has none)" bash -c "! grep -q '^New, TLSv1.3' '$T/sc13'"
fi

# --- malformed input gets a 4xx from the HTTP layer, never a 5xx ---
raw() { { printf "$1"; sleep 1; } | timeout 10 openssl s_client -quiet -connect "127.0.0.1:$PORT" -servername mta-sts.example.com 2>/dev/null | head -n 1 | tr -d '\r'; }
code=$(raw 'GARBAGE\r\n\r\n')
ok "garbage request line: 4xx or closed ($code)" bash -c "[[ '$code' =~ ^(HTTP/1\.[01]\ 4|$) ]]"
big=$(head -c 20000 /dev/zero | tr '\0' a)
code=$(raw "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.example.com\r\nX: $big\r\n\r\n")
ok "20 KB header: 4xx ($code)" bash -c "[[ '$code' =~ ^HTTP/1\.[01]\ 4 ]]"
code=$(raw "GET /.well-known/mta-sts.txt HTTP/1.1\r\n\r\n")
ok "HTTP/1.1 without Host: 4xx ($code)" bash -c "[[ '$code' =~ ^HTTP/1\.[01]\ 4 ]]"
code=$(raw "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.example.com\r\nHost: mta-sts.example.com\r\n\r\n")
ok "two Host headers: 4xx ($code)" bash -c "[[ '$code' =~ ^HTTP/1\.[01]\ 4 ]]"
printf 'not TLS at all\r\n\r\n' | timeout 5 bash -c "cat > /dev/tcp/127.0.0.1/$PORT" 2>/dev/null
ok "a failed handshake is logged with the peer address" \
    wait_until 5 grep -q '^127\.0\.0\.1:[0-9]*: TLS handshake failed' "$SERR"
eq "still serving after bad input" "$(get -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt)" 200

# --- handshake timeout: a silent TCP client is dropped ---
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
timeout 8 cat <&3 > /dev/null
ok "silent client closed by the handshake timeout" test $? -ne 124
exec 3<&-

served() { [ "$(get -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt 2>/dev/null)" = 200 ]; }
# --- max_handshakes 4: a newcomer closes the oldest silent connection ---
for fd in 3 4 5 6; do eval "exec $fd<>/dev/tcp/127.0.0.1/$PORT"; done
wait_until 5 accepted_all
code=$(get -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt 2>/dev/null)
eq "4 silent connections at max_handshakes 4: a real client is served" "$code" 200
timeout 1 cat <&3 > /dev/null
ok "the oldest silent connection was closed for it" test $? -ne 124
for fd in 3 4 5 6; do eval "exec $fd<&-"; done
ok "served after they closed" wait_until 5 served

stop_server
done_testing
