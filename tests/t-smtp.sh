#!/bin/bash
# smtp_probe() for real, through the unit binary's "smtp" subcommand,
# against tests/smtpd.py on loopback with a CA made here: a server that
# offers STARTTLS with a certificate for the MX host (IPv4 and IPv6), and
# the failures: no STARTTLS, a certificate for another name, a CA not in
# the bundle, a refused port, a server that never greets (bounded by the
# timeout), a 554 greeting, STARTTLS refused, an address that is none.
# No root; loopback only.
. "$(dirname "$0")/lib.sh"

UNIT=$(dirname "$BIN")/unit
[ -x "$UNIT" ] || skip_all "no $UNIT"
command -v python3 > /dev/null || skip_all "no python3"
mkcert=$(dirname "$0")/../certs/mkcert.sh
SMTPD=$(dirname "$0")/smtpd.py
MX=mx1.example.com

# A CA with two leaves (the MX host, and a name we never ask for), and a
# second CA nobody trusts.
LEAF=good SANS=DNS:$MX sh "$mkcert" "$T/pki" > /dev/null 2>&1 &&
LEAF=wrong SANS=DNS:wrong.example sh "$mkcert" "$T/pki" > /dev/null 2>&1 &&
LEAF=x sh "$mkcert" "$T/other" example.com > /dev/null 2>&1 ||
	{ fail "mkcert.sh"; done_testing; exit 0; }
CA=$T/pki/ca.crt

# smtpd NAME LEAF [smtpd.py options...]: start tests/smtpd.py on
# $LISTEN (default 127.0.0.1), a free port, certificate LEAF; its log in
# $T/NAME.log, its PID in PID_NAME. ready NAME...: wait until each
# listens (its port in $T/NAME.port); 1 if one does not.
smtpd() {
	local name=$1 leaf=$2 pid
	shift 2
	python3 -B "$SMTPD" --listen "${LISTEN:-127.0.0.1}" --port 0 \
	    --cert "$T/pki/$leaf.fullchain.crt" --key "$T/pki/$leaf.key" \
	    --ready "$T/$name.port" "$@" > "$T/$name.log" 2>&1 &
	pid=$!
	CLEANUP+=("kill $pid 2>/dev/null")
	printf -v "PID_$name" %s "$pid"
}
ready() {
	local name
	for name; do
		wait_until 20 test -s "$T/$name.port" && continue
		fail "smtpd.py $name did not start: $(tail -n 3 "$T/$name.log")"
		return 1
	done
}
port() { cat "$T/$1.port"; }

# p NAME [-t MS] HOST ADDR PORT CA [EHLO]: "unit smtp", its line in
# $T/NAME.out, exit status in $RC, milliseconds taken in $MS.
p() {
	local name=$1 t0
	shift
	t0=${EPOCHREALTIME/[.,]/}
	# smtp_probe() bounds itself; this bounds the test should it not
	timeout 120 "$UNIT" smtp "$@" > "$T/$name.out" 2> "$T/$name.err"
	RC=$?
	MS=$(( (${EPOCHREALTIME/[.,]/} - t0) / 1000 ))
	if grep -qE 'Sanitizer|runtime error:' "$T/$name.err"; then
		fail "$name: sanitizer report: $(grep -m 3 -E \
		    'Sanitizer|runtime error' "$T/$name.err" | tr '\n' ' ')"
	fi
}
# says NAME RC LINE: exit RC and exactly LINE ("<rc> <detail>") printed
says() {
	if [ "$RC" = "$2" ] && [ "$(cat "$T/$1.out")" = "$3" ]; then
		pass "$1: $3"
	else
		fail "$1: want exit $2 and '$3'; got $RC: '$(head -c 300 \
		    "$T/$1.out")' $(head -c 300 "$T/$1.err")"
	fi
}
# matches NAME RC REGEX: the same, the line matched by an extended regex
matches() {
	if [ "$RC" = "$2" ] && grep -qxE -- "$3" "$T/$1.out"; then
		pass "$1: $(cat "$T/$1.out")"
	else
		fail "$1: want exit $2 and /$3/; got $RC: '$(head -c 300 \
		    "$T/$1.out")' $(head -c 300 "$T/$1.err")"
	fi
}

# started together: a python3 start takes a while on a busy machine
smtpd good good
smtpd nostarttls good --no-starttls
smtpd wrongname wrong
smtpd silent good --silent
smtpd greet554 good --greeting "554 5.7.1 no service here"
smtpd refuse454 good --starttls-reply "454 4.7.0 TLS not available"
HAVE6=0
if grep -qs '^0\{31\}1 ' /proc/net/if_inet6; then
	HAVE6=1
	LISTEN=::1 smtpd good6 good
fi
ready good nostarttls wrongname silent greet554 refuse454 ||
	{ done_testing; exit 0; }

p good "$MX" 127.0.0.1 "$(port good)" "$CA" probe.example.org
matches good 0 "0 STARTTLS, TLSv1\.[23], certificate valid for $MX"
ok "good: EHLO with the name given" \
    grep -qx "127.0.0.1:[0-9]*: EHLO probe.example.org" "$T/good.log"
ok "good: EHLO again inside TLS" \
    grep -qx "127.0.0.1:[0-9]* (TLS): EHLO probe.example.org" \
    "$T/good.log"
ok "good: QUIT inside TLS" \
    grep -qx "127.0.0.1:[0-9]* (TLS): QUIT" "$T/good.log"

p nostarttls "$MX" 127.0.0.1 "$(port nostarttls)" "$CA"
says nostarttls 1 "-1 STARTTLS not offered"
ok "no STARTTLS: the session ends with QUIT" \
    grep -qx "127.0.0.1:[0-9]*: QUIT" "$T/nostarttls.log"

p wrongname "$MX" 127.0.0.1 "$(port wrongname)" "$CA"
says wrongname 1 "-1 TLS: $MX: certificate verification failed: the name \
is not in the certificate"

p untrusted "$MX" 127.0.0.1 "$(port good)" "$T/other/ca.crt"
says untrusted 1 "-1 TLS: $MX: certificate verification failed: not issued \
by a CA in the bundle"

REFUSED=$(free_port)
p refused "$MX" 127.0.0.1 "$REFUSED" "$CA"
says refused 1 "-1 connect: 127.0.0.1:$REFUSED: Connection refused"

p silent -t 2000 "$MX" 127.0.0.1 "$(port silent)" "$CA"
says silent 1 "-1 greeting: timed out after 2000 ms"
ok "never greets: given up after 2 s, within 4 s (took $MS ms)" \
    test "$MS" -ge 1900 -a "$MS" -lt 4000

p greet554 "$MX" 127.0.0.1 "$(port greet554)" "$CA"
says greet554 1 "-1 greeting: 554 5.7.1 no service here"

p refuse454 "$MX" 127.0.0.1 "$(port refuse454)" "$CA"
says refuse454 1 "-1 STARTTLS refused: 454 4.7.0 TLS not available"

p badaddr "$MX" 192.0.2.300 25 "$CA"
says badaddr 1 "-1 connect: \"192.0.2.300\" is not an IPv4 or IPv6 address"

# IPv6, when the loopback has it
if [ "$HAVE6" = 1 ]; then
	if ready good6; then
		p good6 "$MX" ::1 "$(port good6)" "$CA"
		matches good6 0 \
		    "0 STARTTLS, TLSv1\.[23], certificate valid for $MX"
	fi
	p refused6 "$MX" ::1 "$REFUSED" "$CA"
	says refused6 1 "-1 connect: [::1]:$REFUSED: Connection refused"
else
	skip "no IPv6 on the loopback"
fi

# smtpd.py (tests/t-live.sh uses it too) stops on SIGTERM, exit 0
kill -TERM "$PID_good"
wait "$PID_good"
eq "smtpd.py exits 0 on SIGTERM" "$?" 0
done_testing
