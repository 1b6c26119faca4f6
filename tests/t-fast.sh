#!/bin/bash
# The bridge answers the plain policy GET itself (src/fast.c); everything
# else goes to libmicrohttpd. Both must say the same bytes (but the Date),
# close alike, and count requests towards max_requests alike: each request
# variant is sent whole and split, and compared (tests/fastpath.py).
. "$(dirname "$0")/lib.sh"

write_conf "$T/c.conf" <<'C'
max_requests 4
domain example.com
mode enforce
mx mail.example.com
domain example.net
mode testing
mx mail.example.net
C
start_server "$T/c.conf" || exit 0

python3 "$(dirname "$0")/fastpath.py" "$PORT" "$CERTS/ca.crt" "$SPID" > "$T/out" 2>&1
while read -r line; do
	case $line in
	"ok - "*) pass "${line#ok - }" ;;
	"not ok - "*) fail "${line#not ok - }" ;;
	*) fail "fastpath.py: $line" ;;
	esac
done < "$T/out"
[ -s "$T/out" ] || fail "fastpath.py printed nothing"

stop_server
