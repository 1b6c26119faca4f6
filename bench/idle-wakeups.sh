#!/bin/bash
# Idle wakeups: start the server, let it settle, then count for 60 s how
# often it wakes (context switches from /proc, and epoll_wait calls seen
# by strace when installed) with no client and no file change.
# usage: bench/idle-wakeups.sh [BIN] [SECONDS]
set -eu
cd "$(dirname "$0")/.."
bin=${1:-build/mtasts-httpd}
secs=${2:-60}
t=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$t"' EXIT
sh certs/mkcert.sh "$t/certs" example.com > /dev/null
printf 'listen 127.0.0.1:0\ncert %s\nkey %s\nstate_dir %s\ndomain example.com\nmode testing\nmx mail.example.com\n' \
    "$t/certs/mta-sts.fullchain.crt" "$t/certs/mta-sts.key" "$t/state" > "$t/c.conf"
"$bin" -c "$t/c.conf" > "$t/out" 2> "$t/err" &
pid=$!
sleep 2
# one request, so the idle state is the one after serving
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$t/err")
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
echo "idle for ${secs}s: $((b - a)) context switches, epoll_wait calls: ${calls:-0}"
