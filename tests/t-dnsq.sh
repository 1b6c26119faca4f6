#!/bin/bash
# dnsq_query for real, through the unit binary's "dnsq" subcommand, inside
# a network namespace this test makes: its /etc/resolv.conf (from
# /etc/netns/NS/) names 127.0.0.1, where dnsmasq answers TXT (one record
# of two strings, one of three 200-byte strings: over 512 bytes, so glibc
# asks again over TCP and musl needs its EDNS size), MX (two hosts, and a
# null MX on another name), A, AAAA, a CNAME chain, CAA (two records,
# --dns-rr). Then what goes wrong: a name that does not exist (NXDOMAIN),
# a name without records of the type (NODATA), a query the resolver
# refuses, a resolver address nothing listens on, and one that never
# answers: each DNSQ_FAIL, within 15 s, its error naming the name and the
# type. The times go to the log ("# ..."), for glibc and musl builds.
. "$(dirname "$0")/lib.sh"

UNIT=$(dirname "$BIN")/unit
[ -x "$UNIT" ] || skip_all "no $UNIT"
[ "$(id -u)" = 0 ] || skip_all "dnsq test needs root (network namespace)"
# build-new differs from build in its TLS stack only: the resolver code
# and glibc are the same.
[ "${BUILD_NAME:-build}" = build-new ] && skip_all "same resolver code and libc as build"
command -v dnsmasq > /dev/null ||
	apt-get install -y -q dnsmasq-base > "$T/apt.log" 2>&1
for c in dnsmasq ip python3; do
	command -v "$c" > /dev/null || skip_all "dnsq test needs $c"
done
ns=mtdnsq-$$
ip netns add "$ns" 2> "$T/nserr" || skip_all "cannot create a network namespace: $(cat "$T/nserr")"

dpid=""		# dnsmasq
spid=""		# the resolver that never answers
dnsq_cleanup() {
	local p
	for p in $spid $dpid; do
		kill -KILL "$p" 2> /dev/null
		wait "$p" 2> /dev/null
	done
	ip netns del "$ns" 2> /dev/null
	rm -rf "/etc/netns/$ns"
}
CLEANUP+=(dnsq_cleanup)
# killed (a timeout around the run): exit, so the cleanup runs in full
trap 'exit 143' TERM
trap 'exit 130' INT
nsx() { ip netns exec "$ns" "$@"; }
now() { echo "${EPOCHREALTIME/[.,]/}"; }	# microseconds
secs() { printf '%d.%01d' $(($1 / 1000000)) $(($1 % 1000000 / 100000)); }

ip -n "$ns" link set lo up
mkdir -p "/etc/netns/$ns"
resolver() { echo "nameserver $1" > "/etc/netns/$ns/resolv.conf"; }
resolver 127.0.0.1

a=$(printf 'a%.0s' $(seq 200))
b=$(printf 'b%.0s' $(seq 200))
c=$(printf 'c%.0s' $(seq 200))
# local=: names under example.com are answered here or not at all
# (NXDOMAIN); anything else has no upstream and is REFUSED.
cat > "$T/dnsmasq.conf" <<D
no-resolv
no-hosts
no-daemon
listen-address=127.0.0.1
bind-interfaces
user=root
log-queries
log-facility=$T/dnsmasq.log
local=/example.com/
txt-record=_mta-sts.example.com,"v=STSv1; ","id=20240101T000000"
txt-record=long.example.com,"$a","$b","$c"
mx-host=example.com,mx1.example.com,10
mx-host=example.com,mx2.example.com,20
dns-rr=null.example.com,15,000000
host-record=mx1.example.com,192.0.2.1,2001:db8::1
host-record=mx2.example.com,192.0.2.2
cname=alias.example.com,alias2.example.com
cname=alias2.example.com,mx1.example.com
dns-rr=example.com,257,000569737375656c657473656e63727970742e6f7267
dns-rr=example.com,257,8005696f6465666d61696c746f3a736563406578616d706c652e636f6d
D
# (ip netns exec itself, not the nsx function: $! must be the process)
ip netns exec "$ns" dnsmasq --conf-file="$T/dnsmasq.conf" 2> "$T/dnsmasq.err" &
dpid=$!

# q NAME TYPE: the unit binary's lines into $T/q.out, its stderr into
# $T/q.err; a sanitizer report or a crash fails. Sets DT (microseconds).
n=0
q() {
	local t0 rc
	n=$((n + 1))
	t0=$(now)
	nsx "$UNIT" dnsq "$1" "$2" > "$T/q.out" 2> "$T/q.err"
	rc=$?
	DT=$(($(now) - t0))
	cp "$T/q.out" "$T/q.$n.out"
	if [ $rc -ne 0 ]; then
		fail "unit dnsq $1 $2 exited $rc: $(head -n 3 "$T/q.err" | tr '\n' ' ')"
	elif grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/q.err"; then
		fail "unit dnsq $1 $2: sanitizer report: $(grep -m 3 -E 'Sanitizer|runtime error' "$T/q.err" | tr '\n' ' ')"
	fi
}
# field NAME: the value of the "NAME ..." line of the last q
field() { sed -n "s/^$1 //p" "$T/q.out"; }
recs() { grep -E '^(A|AAAA|CNAME|MX|TXT|CAA) ' "$T/q.out" | sort; }

dns_up() {
	kill -0 "$dpid" 2> /dev/null &&
	    [ "$(nsx "$UNIT" dnsq _mta-sts.example.com TXT 2> /dev/null | sed -n 's/^rc //p')" = 0 ]
}
if ! wait_until 20 dns_up; then
	fail "dnsmasq answers in the namespace: $(cat "$T/dnsmasq.err")"
	done_testing
	exit 0
fi

q _mta-sts.example.com TXT
eq "TXT: one record, its two strings joined" "$(recs)" \
    "TXT _mta-sts.example.com 0 - v=STSv1; id=20240101T000000"
eq "TXT: rc" "$(field rc)" 0
q _MTA-STS.Example.Com. TXT
eq "TXT: a name in mixed case with a trailing dot" "$(recs)" \
    "TXT _mta-sts.example.com 0 - v=STSv1; id=20240101T000000"
q long.example.com TXT
eq "TXT: 600 bytes in three strings (more than 512: TCP or EDNS)" "$(recs)" \
    "TXT long.example.com 0 - $a$b$c"
q example.com MX
eq "MX: both hosts, with their preferences" "$(recs)" \
    "MX example.com 10 - mx1.example.com
MX example.com 20 - mx2.example.com"
eq "MX: no alias" "$(field cname)" ""
q null.example.com MX
eq "MX: the null MX is an empty host" "$(recs)" "MX null.example.com 0 - "
q mx1.example.com A
eq "A" "$(recs)" "A mx1.example.com 0 - 192.0.2.1"
q mx1.example.com AAAA
eq "AAAA" "$(recs)" "AAAA mx1.example.com 0 - 2001:db8::1"
q alias.example.com AAAA
eq "AAAA through a chain of two CNAMEs" "$(recs)" "AAAA mx1.example.com 0 - 2001:db8::1"
eq "AAAA: the chain's end" "$(field cname)" mx1.example.com
q alias.example.com A
eq "A through the chain" "$(recs)" "A mx1.example.com 0 - 192.0.2.1"
q alias.example.com CNAME
eq "CNAME: the first link only" "$(recs)" "CNAME alias.example.com 0 - alias2.example.com"
q alias.example.com MX
eq "MX of an alias without MX: NODATA" "$(field rc)" 2
eq "MX of an alias: the chain's end" "$(field cname)" mx1.example.com
q example.com CAA
eq "CAA (type 257): flags, tag, value" "$(recs)" \
    "CAA example.com 0 issue letsencrypt.org
CAA example.com 128 iodef mailto:sec@example.com"

q nosuch.example.com TXT
eq "NXDOMAIN: DNSQ_NONAME" "$(field rc)" 1
eq "NXDOMAIN: rcode 3" "$(field rcode)" 3
eq "NXDOMAIN: the error" "$(field err)" "nosuch.example.com TXT: no such name (NXDOMAIN)"
q mx1.example.com TXT
eq "no TXT at a name with addresses: DNSQ_NODATA" "$(field rc)" 2
eq "NODATA: the error" "$(field err)" "mx1.example.com TXT: no TXT record"
q mx1.example.com CAA
eq "no CAA: DNSQ_NODATA" "$(field rc)" 2

# REFUSED: glibc tries the next server and then gives up at once; musl
# ignores the answer and waits for its timeout.
q mta-sts.example.org A
eq "a refused query: DNSQ_FAIL" "$(field rc)" -1
ok "a refused query: the error names the name and type ($(field err))" \
    grep -q '^err mta-sts.example.org A: no answer from the resolver' "$T/q.out"
ok "a refused query: within 15 s ($(secs "$DT") s)" [ "$DT" -lt 15000000 ]
echo "# refused query: $(secs "$DT") s ($BUILD_NAME)"

# A resolver address nothing listens on (the kernel answers port
# unreachable), and one where something takes the queries and never
# answers: each a failure, bounded.
resolver 127.0.0.2
q _mta-sts.example.com TXT
eq "resolver not listening: DNSQ_FAIL" "$(field rc)" -1
ok "resolver not listening: the error names the name and type ($(field err))" \
    grep -q '^err _mta-sts.example.com TXT: no answer from the resolver' "$T/q.out"
ok "resolver not listening: within 15 s ($(secs "$DT") s)" [ "$DT" -lt 15000000 ]
echo "# dead resolver (nothing listening): $(secs "$DT") s ($BUILD_NAME)"

ip netns exec "$ns" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.3", 53))
t = socket.socket()
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("127.0.0.3", 53))
t.listen(8)
open("'"$T/silent.ready"'", "w").close()
time.sleep(600)
' 2> "$T/silent.err" &
spid=$!
if wait_until 10 test -e "$T/silent.ready"; then
	resolver 127.0.0.3
	q example.com MX
	eq "resolver that never answers: DNSQ_FAIL" "$(field rc)" -1
	ok "resolver that never answers: the error names the name and type ($(field err))" \
	    grep -q '^err example.com MX: no answer from the resolver' "$T/q.out"
	ok "resolver that never answers: within 15 s ($(secs "$DT") s)" [ "$DT" -lt 15000000 ]
	echo "# dead resolver (never answers): $(secs "$DT") s ($BUILD_NAME)"
else
	fail "a silent resolver on 127.0.0.3: $(cat "$T/silent.err")"
fi
ok "dnsmasq still running" kill -0 "$dpid"

done_testing
