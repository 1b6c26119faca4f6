#!/bin/bash
# Session tickets are bound to the site they were issued for: a session
# made under SNI mta-sts.example.com resumes under that name, and under
# mta-sts.example.net (covered by the same certificate) gets a full
# handshake instead (RFC 6066 3). TLS 1.3 where the build offers it.
. "$(dirname "$0")/lib.sh"

two_sites "$T/c.conf"
start_server "$T/c.conf" || exit 0
versions=1.2
"$BIN" --version 2>&1 | grep -q 'mbedTLS 3' && versions="1.2 1.3"
for v in $versions; do
	python3 -B "$(dirname "$0")/resume.py" "$PORT" "$CERTS/ca.crt" "$v" > "$T/out" 2>&1
	report resume.py "$T/out"
done
stop_server
done_testing
