#!/bin/bash
# A distributed flood with the default limits (loopback only, bounded in
# count and time): 1000 connections from 40 source addresses
# 127.0.0.2-127.0.0.41, 25 each (800 idle, 100 sending 64 bytes of garbage,
# 100 sending half a ClientHello and stopping), held open; a fresh client
# from 127.0.0.1 gets the policy on its first attempt; afterwards the
# server closes every flood connection within its handshake timeout
# (the default, 10 s).
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
HS_TIMEOUT=10	# the default handshake_timeout

write_conf "$T/c.conf" <<'C'
domain example.com
mode testing
mx mail.example.com
C
start_server "$T/c.conf" || exit 0

coproc F { python3 "$here/flood.py" "$PORT" idle=800,garbage=100,half=100 $((HS_TIMEOUT + 5)) 127.0.0.2 40; }
read -r -t 90 w_held n _ nfail _ secs _ <&"${F[0]}"
eq "1000 flood connections opened from 40 addresses (opened in ${secs:-?} s)" "$w_held $n $nfail" "held 1000 0"
ok "the server has taken every one of them (accept queue empty)" wait_until 5 accepted_all
sleep 0.3	# their bytes read
echo "# RSS $(awk '/^VmRSS/ {print $2}' "/proc/$SPID/status") kB while the 1000 are held" \
    "($(find "/proc/$SPID/fd" -mindepth 1 | wc -l) fds open in the server)"
res=$(get -o /dev/null -w '%{http_code} %{time_total}' /.well-known/mta-sts.txt 2> "$T/curl.err")
echo "# the fresh client's fetch took ${res#* } s; curl said: $(tr '\n' ' ' < "$T/curl.err")"
eq "a fresh client from 127.0.0.1 gets the policy on its first attempt" "${res%% *}" 200

echo go >&"${F[1]}"
read -r -t 60 _ k _ total _ secs _ _ longest _ <&"${F[0]}"
eq "every flood connection closed by the server (within $((HS_TIMEOUT + 5)) s)" "$k/$total" "1000/1000"
echo "# the last one closed ${secs:-?} s after the fetch; the longest any stayed open: ${longest:-?} s"
ok "none stayed open much past the handshake timeout (${longest:-?} s <= $HS_TIMEOUT + 3)" \
    awk -v l="${longest:-999}" -v m=$((HS_TIMEOUT + 3)) 'BEGIN { exit !(l + 0 <= m) }'
wait "$F_PID" 2> /dev/null
eq "served after the flood" "$(get -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt)" 200
stop_server
done_testing
