#!/bin/bash
# Limits under hostile load (loopback only, bounded in count and time):
# 500 idle TCP connections, 100 stuck handshakes and 100 garbage senders
# while a fresh client is served; all of them closed by the server within
# the handshake timeout; the per-IP cap; the caps on unfinished handshakes
# and on established connections, where a newcomer is admitted by closing
# the oldest (a recently used keep-alive connection survives); requests
# per connection; header size; stalled ClientHellos holding TLS state.
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
wait_until 5 accepted_all
eq "4th connection from the same address refused" "$(get -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt 2>/dev/null)" 000
eq "another address is served" "$(get --interface 127.0.0.2 -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt)" 200
echo go >&"${H[1]}"
read -r -t 30 _ <&"${H[0]}"
wait "$H_PID" 2> /dev/null
stop_server

# caps: at max_handshakes unfinished handshakes a newcomer closes the
# oldest of them; at max_connections established ones, the oldest idle
# keep-alive connection; the most recently used keep-alive survives.
conf_v 1 "max_connections 2" "max_handshakes 3" "handshake_timeout 10" > "$T/c.conf"
start_server "$T/c.conf" || exit 0
# ka N: keep-alive client N on fifos; "ka_get N" sends one request on it
# and prints its status ("" once the server closed it).
ka() {
	mkfifo "$T/ka$1.in"
	python3 "$here/https_client.py" keepalive "$PORT" "$CERTS/ca.crt" \
	    < "$T/ka$1.in" > "$T/ka$1.out" 2> /dev/null &
	eval "ka$1_pid=$!"
	eval "exec {ka$1}> '$T/ka$1.in'"
}
ka_get() {
	local fd n before
	fd=ka$1
	before=$(wc -l < "$T/ka$1.out")
	echo go >&"${!fd}" 2> /dev/null
	for n in $(seq 50); do
		[ "$(wc -l < "$T/ka$1.out")" -gt "$before" ] && break
		kill -0 "$(eval echo "\$ka$1_pid")" 2> /dev/null || break
		sleep 0.1
	done
	sed -n "$((before + 1))p" "$T/ka$1.out" | cut -d' ' -f1
}
ka 1
st1=$(ka_get 1)
ka 2
st2=$(ka_get 2)
st3=$(ka_get 1)
eq "two keep-alive connections, the first used last" "$st1 $st2 $st3" "200 200 200"
mkfifo "$T/hin"
python3 "$here/hold.py" "$PORT" 3 0 0 5 127.0.0.3 < "$T/hin" > "$T/hout" &
hpid=$!
exec {hin}> "$T/hin"
wait_until 10 grep -q held "$T/hout"
eq "3 idle connections fill max_handshakes 3" "$(cat "$T/hout")" "held 3"
eq "both caps reached: a newcomer is served at once" "$(get -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt 2>/dev/null)" 200
eq "the most recently used keep-alive connection still answers" "$(ka_get 1)" 200
eq "the oldest idle keep-alive connection made room" "$(ka_get 2)" ""
echo go >&"$hin"
exec {hin}>&-
wait "$hpid" 2> /dev/null
ok "one idle connection was closed for the newcomer at once" grep -q "closed [1-3] of 3" "$T/hout"
exec {ka1}>&- {ka2}>&- 2> /dev/null
wait "$ka1_pid" "$ka2_pid" 2> /dev/null
stop_server

# ClientHellos that never finish: at most max_connections of them hold
# TLS state (~40 KB each); each one past that closes the oldest.
conf_v 1 "max_connections 4" "max_connections_per_ip 100" "handshake_timeout 10" > "$T/c.conf"
start_server "$T/c.conf" || exit 0
mkfifo "$T/sin"
python3 "$here/hold.py" "$PORT" 0 10 0 2 < "$T/sin" > "$T/sout" &
spid=$!
exec {sin}> "$T/sin"
wait_until 10 grep -q held "$T/sout"
eq "10 connections sent a ClientHello and stalled" "$(head -n 1 "$T/sout")" "held 10"
eq "a fresh client is served meanwhile" "$(get -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt 2>/dev/null)" 200
echo go >&"$sin"
exec {sin}>&-
wait "$spid" 2> /dev/null
eq "all but the newest max_connections 4 were closed at once (the fresh client took one more)" \
    "$(sed -n 's/^closed \([0-9]*\) of 10.*/\1/p' "$T/sout")" 7
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
done_testing
