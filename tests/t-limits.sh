#!/bin/bash
# Limits under hostile load (loopback only, bounded in count and time):
# 500 idle TCP connections, 100 stuck handshakes and 100 garbage senders
# while a fresh client is served; all of them closed by the server within
# the handshake timeout; the per-IP cap; the connection cap with a live
# keep-alive connection surviving it; requests per connection; header size.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
cp "$CERTS/mta-sts.fullchain.crt" "$T/cert.pem"
cp "$CERTS/mta-sts.key" "$T/key.pem"

conf_v 1 "max_connections 1000" "max_connections_per_ip 1000" "handshake_timeout 3" > "$T/c.conf"
start_server "$T/c.conf" || exit 0
coproc H { python3 "$here/hold.py" "$PORT" 500 100 100 20; }
read -r -t 60 held n <&"${H[0]}"
eq "held 700 connections" "$held $n" "held 700"
rss=$(awk '/VmRSS/ {print $2}' "/proc/$SPID/status")
echo "# server RSS with 700 held connections: $rss kB"
eq "a fresh client gets the policy meanwhile" "$(get -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt)" 200
echo go >&"${H[1]}"
read -r -t 60 word k of total rest <&"${H[0]}"
eq "every held connection closed by the server within the timeout ($word $k $of $total $rest)" "$k/$total" "700/700"
wait "$H_PID" 2> /dev/null
eq "served after the flood" "$(get -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt)" 200
stop_server

# per-IP cap: 3 from 127.0.0.1 fill it; 127.0.0.2 still gets in
conf_v 1 "max_connections_per_ip 3" "handshake_timeout 10" > "$T/c.conf"
start_server "$T/c.conf" || exit 0
coproc H { python3 "$here/hold.py" "$PORT" 3 0 0 5; }
read -r -t 60 held n <&"${H[0]}"
sleep 0.3
eq "4th connection from the same address refused" "$(get -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt 2>/dev/null)" 000
eq "another address is served" "$(get --interface 127.0.0.2 -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt)" 200
echo go >&"${H[1]}"
read -r -t 30 _ <&"${H[0]}"
wait "$H_PID" 2> /dev/null
stop_server

# connection cap: a keep-alive connection survives the cap being hit
conf_v 1 "max_connections 4" "handshake_timeout 10" > "$T/c.conf"
start_server "$T/c.conf" || exit 0
coproc KA { python3 "$here/https_client.py" keepalive "$PORT" "$CERTS/ca.crt"; }
echo go >&"${KA[1]}"
read -r -t 10 st1 _ <&"${KA[0]}"
eq "keep-alive connection: first request" "$st1" 200
mkfifo "$T/hin"
python3 "$here/hold.py" "$PORT" 3 0 0 5 127.0.0.3 < "$T/hin" > "$T/hout" &
hpid=$!
exec {hin}> "$T/hin"
for i in $(seq 100); do grep -q held "$T/hout" && break; sleep 0.1; done
sleep 0.3
eq "cap of 4 reached: a new connection is refused" "$(get -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt 2>/dev/null)" 000
echo go >&"${KA[1]}"
read -r -t 10 st2 _ <&"${KA[0]}"
eq "the established keep-alive connection still answers" "$st2" 200
ok "the refusal was logged at debug level only" bash -c "! grep -q refused '$SERR'"
echo go >&"$hin"
exec {hin}>&-
wait "$hpid" 2> /dev/null
exec {KA[1]}>&-
wait "$KA_PID" 2> /dev/null
stop_server

# requests per connection, header size
conf_v 1 "max_requests 3" "max_header_size 4096" > "$T/c.conf"
start_server "$T/c.conf" || exit 0
u=https://mta-sts.example.com:$PORT/.well-known/mta-sts.txt
curl -sS -v --max-time 10 --cacert "$CERTS/ca.crt" --resolve "mta-sts.example.com:$PORT:127.0.0.1" \
    -o /dev/null -o /dev/null -o /dev/null -o /dev/null -o /dev/null "$u" "$u" "$u" "$u" "$u" 2> "$T/kv"
eq "max_requests 3: five requests need two connections" "$(grep -c '^\* Connected to' "$T/kv")" 2
eq "the third response says Connection: close" "$(grep -ci '^< connection: close' "$T/kv")" 1
eq "all five answered 200" "$(grep -c '^< HTTP/1.1 200' "$T/kv")" 5
code=$(get -H "X-Big: $(head -c 6000 /dev/zero | tr '\0' a)" -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt)
ok "a 6 KB header over max_header_size 4096: 4xx ($code)" bash -c "[[ '$code' =~ ^4 ]]"
eq "a 2 KB header is fine" "$(get -H "X-Big: $(head -c 2000 /dev/zero | tr '\0' a)" -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt)" 200
stop_server
