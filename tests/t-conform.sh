#!/bin/bash
# The answers libmicrohttpd and http.c give to request variants (the
# policy GET and HEAD, Connection forms, Host forms, other paths and
# methods, HTTP/1.0, pipelining up to max_requests), each sent whole and
# split across two TLS records, against fixed expectations: status line,
# header names, Content-Type, Content-Length, Connection, body, and
# whether the connection is closed or kept (tests/conform.py).
. "$(dirname "$0")/lib.sh"

two_sites "$T/c.conf" "max_requests 4"
start_server "$T/c.conf" || exit 0

mhd=$("$BIN" --version | sed -n 's/.*libmicrohttpd \([0-9.]*\).*/\1/p')
python3 -B "$(dirname "$0")/conform.py" "$PORT" "$CERTS/ca.crt" "$mhd" > "$T/out" 2>&1
report conform.py "$T/out"
want=$(sed -n 's/^# \([0-9]*\) checks$/\1/p' "$T/out")
eq "conform.py: all $want checks made" "$REPORTED" "$want"

stop_server
done_testing
