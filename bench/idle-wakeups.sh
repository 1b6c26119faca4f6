#!/bin/bash
# Idle wakeups: start the server, let it settle, then count for 60 s how
# often it wakes (context switches from /proc, and epoll_wait calls seen
# by strace when installed) with no client and no file change.
# usage: bench/idle-wakeups.sh [BIN] [SECONDS]
secs=${2:-60}
. "$(dirname "$0")/lib.sh"
bench_conf 1 > "$t/c.conf"
bench_start "$t/c.conf"
sleep 2
# one request, so the idle state is the one after serving
curl -s -o /dev/null --cacert "$t/certs/ca.crt" --resolve "mta-sts.example.com:$port:127.0.0.1" \
    "https://mta-sts.example.com:$port/.well-known/mta-sts.txt"
sleep 1
sw() { awk '/ctxt_switches/ {n += $2} END {print n}' "/proc/$pid/status"; }
a=$(sw)
if [ -z "${NO_STRACE:-}" ] && command -v strace > /dev/null; then
	timeout "$secs" strace -f -c -e trace=epoll_wait,epoll_pwait -p "$pid" -o "$t/strace" 2> /dev/null || true
	calls=$(awk '/epoll/ {print $4}' "$t/strace" | paste -sd+ | bc 2>/dev/null || echo "?")
else
	sleep "$secs"
	calls="(not counted: strace not used)"
fi
b=$(sw)
note=""
[ -z "${NO_STRACE:-}" ] && command -v strace > /dev/null && note=" (strace attaching and detaching counts among the switches; NO_STRACE=1 to leave it out)"
echo "idle for ${secs}s: $((b - a)) context switches, epoll_wait calls: ${calls:-0}$note"
