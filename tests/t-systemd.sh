#!/bin/bash
# Plain-host packaging: make install into a scratch root (binary, config,
# man pages, systemd unit, sysusers entry); systemd-analyze verify and
# its offline security score on the unit; the man pages render without
# a warning; and every system call the server makes on its serve path
# (strace: start, requests, a reload, SIGTERM), on its DNS checks' (a
# round against dnsmasq in a network namespace of the test's own) and on
# its ACME client's (an order against a local HTTPS server that is no
# ACME server) is one the unit's SystemCallFilter allows. Runs once, in
# the plain build's pass.
. "$(dirname "$0")/lib.sh"
[ "${FIRST:-1}" = 1 ] || skip_all
top=$(cd "$(dirname "$0")/.." && pwd)
root=$T/root

make -s -C "$top" install DESTDIR="$root" PREFIX=/usr BUILD="${BUILD_NAME:-build}" > "$T/install.log" 2>&1
ok "make install" test $? = 0
for f in usr/sbin/mtasts-httpd etc/mtasts-httpd.conf usr/share/man/man8/mtasts-httpd.8 \
    usr/share/man/man5/mtasts-httpd.conf.5 usr/lib/systemd/system/mtasts-httpd.service \
    usr/lib/sysusers.d/mtasts-httpd.conf; do
	ok "installed: /$f" test -s "$root/$f"
done
unit=$root/usr/lib/systemd/system/mtasts-httpd.service
for k in 'StateDirectory=mtasts-httpd' 'AmbientCapabilities=CAP_NET_BIND_SERVICE' 'User=mtasts' \
    'Group=mtasts' 'ProtectSystem=strict' 'NoNewPrivileges=yes' 'ExecReload=/bin/kill -HUP $MAINPID' \
    'ExecStart=/usr/sbin/mtasts-httpd -c /etc/mtasts-httpd.conf'; do
	ok "unit: $k" grep -qxF "$k" "$unit"
done
# One service user name: the unit's, sysusers', OpenWrt's (init script and
# USERID) and the example config's. The image's is a number (Dockerfile).
users=$(sed -n 's/^User=//p' "$unit"; awk '$1 == "u" {print $2}' "$root/usr/lib/sysusers.d/mtasts-httpd.conf"
	sed -n 's/^USER=//p' "$top/openwrt/mtasts-httpd/files/mtasts-httpd.init"
	sed -n 's/^  USERID:=\([^=]*\)=.*/\1/p' "$top/openwrt/mtasts-httpd/Makefile"
	sed -n 's/^#user  *//p' "$top/config/mtasts-httpd.conf")
eq "one service user name across systemd, sysusers, OpenWrt and the example" \
    "$(echo $users)" "mtasts mtasts mtasts mtasts mtasts"
ok "the container's user is numeric" grep -qx 'USER 65532:65532' "$top/docker/Dockerfile"
# ACME connects out to the CA: no network sandbox that would stop it.
ok "unit: outgoing IPv4 and IPv6 allowed" grep -qx 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' "$unit"
ok "unit: no PrivateNetwork, IPAddressDeny or IPAddressAllow" bash -c "! grep -qE '^(PrivateNetwork|IPAddressDeny|IPAddressAllow)=' '$unit'"

if command -v systemd-analyze > /dev/null; then
	# verify resolves ExecStart and the Documentation= man pages on this
	# host: point them at the scratch root.
	sed "s|/usr/sbin/mtasts-httpd|$root/usr/sbin/mtasts-httpd|" "$unit" > "$T/mtasts-httpd.service"
	MANPATH=$root/usr/share/man systemd-analyze verify "$T/mtasts-httpd.service" > "$T/verify" 2>&1
	ok "systemd-analyze verify: clean$(tr '\n' ' ' < "$T/verify")" test $? = 0 -a ! -s "$T/verify"
	score=$(systemd-analyze security --offline=yes "$T/mtasts-httpd.service" 2>&1 |
	    sed -n 's/.*Overall exposure level for mtasts-httpd.service: \([0-9.]*\).*/\1/p')
	echo "# systemd-analyze security: exposure $score"
	ok "systemd-analyze security: exposure below 2.0 ($score)" python3 -c "import sys; sys.exit(not float('${score:-10}') < 2.0)"
else
	fail "systemd-analyze missing (tests/deps.sh test installs systemd)"
fi

for page in man8/mtasts-httpd.8 man5/mtasts-httpd.conf.5; do
	groff -ww -z -man "$root/usr/share/man/$page" > "$T/groff" 2>&1
	ok "groff -ww: $page without warnings$(head -c 300 "$T/groff" | tr '\n' ' ')" test ! -s "$T/groff"
	MANWIDTH=80 man --warnings -l "$root/usr/share/man/$page" > "$T/man.txt" 2> "$T/man.err"
	ok "man -l: $page renders without warnings$(head -c 300 "$T/man.err" | tr '\n' ' ')" test -s "$T/man.txt" -a ! -s "$T/man.err"
done

# SystemCallFilter=@system-service ~@privileged @resources (+ capset), against what
# the server really calls.
if command -v strace > /dev/null && command -v systemd-analyze > /dev/null; then
	# The config in a directory of its own: the server watches the
	# config's directory, and strace's log must not be in it.
	# (strace -D: the tracer is a grandchild, $SPID the server itself.)
	mkdir -p "$T/conf"
	write_conf "$T/conf/c.conf" <<-C
	domain example.com
	mode testing
	mx mail.example.com
	C
	WRAP="strace -D -f -qq -o $T/strace" start_server "$T/conf/c.conf" && {
		get -o /dev/null /.well-known/mta-sts.txt
		get -o /dev/null /nothing
		kill -HUP "$SPID"
		wait_until 10 grep -q '^reload done' "$SERR"
		get -o /dev/null /.well-known/mta-sts.txt
		stop_server
	}
	# The DNS checks' calls (a forked child asking the resolver that
	# /etc/resolv.conf names): one server with them on, in a network
	# namespace of this test's own, where dnsmasq answers for example.com;
	# traced until its first round is logged.
	ns=mtasts-$$
	if [ "$(id -u)" != 0 ] || ! command -v dnsmasq > /dev/null; then
		skip "the DNS checks' calls: need root and dnsmasq"
	elif ! ip netns add "$ns" 2> "$T/nserr"; then
		skip "the DNS checks' calls: cannot create a network namespace: $(cat "$T/nserr")"
	else
		CLEANUP+=("ip netns del $ns 2> /dev/null; rm -rf /etc/netns/$ns")
		ip -n "$ns" link set lo up
		mkdir -p "/etc/netns/$ns" "$T/wconf"
		echo "nameserver 127.0.0.1" > "/etc/netns/$ns/resolv.conf"
		# check_interval left at its default: a round at start
		cat > "$T/wconf/c.conf" <<-C
		listen 127.0.0.1:0
		cert $CERTS/mta-sts.fullchain.crt
		key $CERTS/mta-sts.key
		state_dir $T/wstate
		domain example.com
		mode testing
		mx mail.example.com
		C
		rec=$("$BIN" -c "$T/wconf/c.conf" --print-dns 2> /dev/null | sed -n 's/^_mta-sts\.example\.com\. IN TXT "\(.*\)"$/\1/p')
		id=${rec##*id=}
		{
			printf 'no-resolv\nno-hosts\nno-daemon\nlisten-address=127.0.0.1\nbind-interfaces\nuser=root\n'
			printf 'txt-record=_mta-sts.example.com,"%s"\n' "$rec"
			printf 'mx-host=example.com,mail.example.com,10\naddress=/mail.example.com/127.0.0.1\n'
		} > "$T/dnsmasq.conf"
		ip netns exec "$ns" dnsmasq --conf-file="$T/dnsmasq.conf" 2> "$T/dnsmasq.err" &
		dpid=$!
		CLEANUP+=("kill $dpid 2> /dev/null")
		wait_until 5 bash -c "ip netns exec $ns ss -Hlun 'sport = :53' | grep -q ." ||
		    echo "# dnsmasq not listening after 5 s: $(cat "$T/dnsmasq.err")"
		WRAP="ip netns exec $ns strace -D -f -qq -o $T/strace-watch" start_server "$T/wconf/c.conf" && {
			if wait_until 30 grep -q "example\.com: DNS announces id $id$" "$SERR"; then
				pass "DNS checks: the round at start is logged, the record as served"
			else
				fail "DNS checks: no round logged: $(grep 'example\.com: ' "$SERR" | tr '\n' ' ')"
			fi
			stop_server
		}
		kill "$dpid" 2> /dev/null
		wait "$dpid" 2> /dev/null
		cat "$T/strace-watch" >> "$T/strace" 2> /dev/null
	fi
	# The ACME client's calls: name lookup, connect, TLS, the account key
	# created in the state directory, a signed request, a problem
	# document, a retry scheduled; the serve path meanwhile. The "CA"
	# serves a directory and a nonce and refuses every account.
	LEAF=localhost SANS=DNS:localhost sh "$top/certs/mkcert.sh" "$T/acmeca" example.com > /dev/null 2>&1
	cat > "$T/ca.py" <<-'P'
	import http.server, json, ssl, sys
	port, chain, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
	base = "https://localhost:%d" % port
	class H(http.server.BaseHTTPRequestHandler):
	    protocol_version = "HTTP/1.1"
	    def reply(self, code, body, ctype="application/json"):
	        b = json.dumps(body).encode() if body is not None else b""
	        self.send_response(code)
	        self.send_header("Content-Type", ctype)
	        self.send_header("Replay-Nonce", "bm9uY2UtMQ")
	        self.send_header("Content-Length", str(len(b)))
	        self.send_header("Connection", "close")
	        self.end_headers()
	        if self.command != "HEAD":
	            self.wfile.write(b)
	    def do_GET(self):
	        self.reply(200, {"newNonce": base + "/nonce", "newAccount": base + "/account",
	            "newOrder": base + "/order", "meta": {"termsOfService": base + "/tos"}})
	    def do_HEAD(self):
	        self.reply(200, None)
	    def do_POST(self):
	        self.rfile.read(int(self.headers.get("Content-Length", 0)))
	        self.reply(403, {"type": "urn:ietf:params:acme:error:unauthorized",
	            "detail": "no accounts here"}, "application/problem+json")
	    def log_message(self, *a):
	        pass
	s = http.server.HTTPServer(("127.0.0.1", port), H)
	ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
	ctx.load_cert_chain(chain, key)
	s.socket = ctx.wrap_socket(s.socket, server_side=True)
	s.serve_forever()
	P
	aport=$(free_port)
	python3 "$T/ca.py" "$aport" "$T/acmeca/localhost.fullchain.crt" "$T/acmeca/localhost.key" > "$T/ca.log" 2>&1 &
	apid=$!
	CLEANUP+=("kill $apid 2> /dev/null")
	wait_until 10 bash -c "ss -Hltn 'sport = :$aport' | grep -q ."
	# example.com has its own certificate, example.net none: ACME's.
	mkdir -p "$T/aconf"
	cat > "$T/aconf/c.conf" <<-C
	listen 127.0.0.1:0
	state_dir $T/astate
	check_interval 0
	acme_directory https://localhost:$aport/directory
	ca_bundle $T/acmeca/ca.crt
	domain example.com
	mode testing
	mx mail.example.com
	cert $CERTS/mta-sts.fullchain.crt
	key $CERTS/mta-sts.key
	domain example.net
	mode testing
	mx mail.example.net
	C
	WRAP="strace -D -f -qq -o $T/strace-acme" start_server "$T/aconf/c.conf" && {
		wait_until 30 grep -q 'acme mta-sts.example.net: order failed' "$SERR"
		ok "ACME: the CA's refusal is logged$(grep -m 1 'order failed' "$SERR" | tr '\n' ' ')" \
		    grep -q 'acme mta-sts.example.net: order failed: .*urn:ietf:params:acme:error:unauthorized: no accounts here; retry in [0-9]* s' "$SERR"
		eq "ACME: the account key is created 0600" "$(find "$T/astate/acme" -type f -name '*.key' -printf '%m\n' | sort -u)" 600
		get -o /dev/null /.well-known/mta-sts.txt
		stop_server
	}
	kill "$apid" 2> /dev/null
	cat "$T/strace-acme" >> "$T/strace" 2> /dev/null
	ok "syscall filter: every call on the serve, DNS-check and ACME paths is allowed" python3 - "$T/strace" <<-'P'
	import re, subprocess, sys
	def expand(group, seen=set()):
	    out = set()
	    for line in subprocess.run(["systemd-analyze", "syscall-filter", group],
	                               capture_output=True, text=True).stdout.splitlines()[1:]:
	        w = line.strip()
	        if not w or w.startswith("#"):
	            continue
	        if w.startswith("@"):
	            if w not in seen:
	                seen.add(w)
	                out |= expand(w, seen)
	        else:
	            out.add(w)
	    return out
	allowed = (expand("@system-service", set()) - expand("@privileged", set()) - expand("@resources", set())) | {"capset"}
	used = set()
	for line in open(sys.argv[1]):
	    m = re.match(r"\d+\s+([a-z0-9_]+)\(", line)
	    if m:
	        used.add(m.group(1))
	used.discard("execve")	# strace's own exec of the server
	bad = sorted(used - allowed)
	print("# %d distinct system calls, none outside the filter" % len(used) if not bad
	      else "# outside the filter: " + " ".join(bad))
	sys.exit(1 if bad else 0)
	P
else
	fail "strace or systemd-analyze missing"
fi
done_testing
