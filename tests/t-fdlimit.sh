#!/bin/bash
# Out of file descriptors (loopback only, bounded in count and time): the
# server runs with RLIMIT_NOFILE 40 (soft and hard, so it cannot raise
# it); 20 keep-alive TLS connections (a handshake and a request each,
# then idle) and then 60 idle TCP connections are opened from
# 127.0.0.2-127.0.0.5 (20 each, under the per-IP cap) and held. The server
# must not spin (its CPU time over 2 s stays far below a busy core's),
# must say so in its log a handful of times at most, not once per failed
# accept, and must serve a fresh client once the connections are gone.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
NOFILE=40

write_conf "$T/c.conf" <<'C'
domain example.com
mode testing
mx mail.example.com
C
# prlimit sets the limit and execs the server: $SPID is the server. It
# inherits five more descriptors, as under a CI runner that leaves some
# open: then the TLS connections, not accept(), meet the limit first (at
# their socketpair to libmicrohttpd), which must be logged once too.
exec 5< /dev/null 6< /dev/null 7< /dev/null 8< /dev/null 9< /dev/null
WRAP="prlimit --nofile=$NOFILE:$NOFILE" start_server "$T/c.conf" || exit 0
exec 5<&- 6<&- 7<&- 8<&- 9<&-
eq "the server runs with $NOFILE file descriptors" \
    "$(awk '/^Max open files/ {print $4 "/" $5}' "/proc/$SPID/limits")" "$NOFILE/$NOFILE"

# utime + stime of the server, in clock ticks
cpu() { awk '{print $14 + $15}' "/proc/$SPID/stat"; }
hz=$(getconf CLK_TCK)

coproc F { python3 "$here/flood.py" "$PORT" tls=20,idle=60 0 127.0.0.2 4 close; }
read -r -t 90 w_held n _ nfail _ <&"${F[0]}"
echo "# $w_held $n, failed ${nfail:-?} (of 20 TLS, then 60 idle)"
ok "80 connections tried, every idle one connected" \
    test "$w_held" = held -a $((n + nfail)) -eq 80 -a "$nfail" -le 20
sleep 1	# the server meets its limit
c0=$(cpu)
sleep 2
c1=$(cpu)
echo "# server CPU over 2 s with its descriptors used up: $(((c1 - c0) * 1000 / hz)) ms;" \
    "$(find "/proc/$SPID/fd" -mindepth 1 | wc -l) fds open"
ok "the server does not spin at its fd limit ($((c1 - c0)) ticks in 2 s, at most $((hz / 2)))" \
    test $((c1 - c0)) -le $((hz / 2))
nlog=$(grep -ci 'open files' "$SERR")
echo "# log lines mentioning open files: $nlog; the first: $(grep -im 1 'open files' "$SERR")"
ok "running out of descriptors is logged a handful of times at most ($nlog <= 3)" test "$nlog" -le 3

echo go >&"${F[1]}"
read -r -t 30 _ <&"${F[0]}"
wait "$F_PID" 2> /dev/null
served() { [ "$(get --max-time 2 -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt 2> /dev/null)" = 200 ]; }
ok "once the connections are closed, a fresh client gets the policy (within 10 s)" wait_until 10 served
ok "the server is still running" kill -0 "$SPID"
stop_server
done_testing
