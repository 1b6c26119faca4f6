#!/bin/bash
# HTTP strictness against the real server, on this build's libmicrohttpd:
# the request shapes that smuggle a second request past a first parser
# (two Content-Lengths, Transfer-Encoding with Content-Length, white space
# before the colon, a folded Content-Length), invalid lengths, transfer
# codings other than chunked, heads around max_header_size, a NUL in Host,
# absolute-form targets. Each raw request goes over a TLS connection of
# its own, and what came back is checked: the status codes in order,
# whether the server closed, how long it took. Never a second response to
# a smuggled request, never a hang; where 0.9.75 and 1.0.1 answer
# differently, each one's answer is asserted (README, "HTTP strictness").
. "$(dirname "$0")/lib.sh"

write_conf "$T/c.conf" <<'C'
max_header_size 8192
domain example.com
mode enforce
mx mail.example.com
max_age 86400
domain example.net
mode testing
mx mail.example.net
max_age 86400
C
start_server "$T/c.conf" || exit 0
case $("$BIN" --version) in
*"libmicrohttpd 0.9."*) mhd=0.9 ;;
*) mhd=1.0 ;;
esac
echo "# libmicrohttpd $mhd"

# probe.py PORT NAME...: each named request over its own TLS connection;
# prints "NAME CODES STATE MS": the status codes seen in order ("-" for
# none), "closed" when the server closed, "open" when it went quiet for a
# second after answering (keep-alive) or sent nothing within 5 s.
cat > "$T/probe.py" <<'PY'
import concurrent.futures, re, socket, ssl, sys, time

port = int(sys.argv[1])
H = "mta-sts.example.com"
N = "mta-sts.example.net"
P = "/.well-known/mta-sts.txt"
SM = ("GET /smuggled HTTP/1.1\r\nHost: %s\r\n\r\n" % H).encode()


def req(head, body=b""):
    return head.encode("latin-1") + b"\r\n" + body


def get(fields, body=b""):
    return req("GET %s HTTP/1.1\r\nHost: %s\r\n%s" % (P, H, fields), body)


def absolute(target, host=H):
    return req("GET %s HTTP/1.1\r\nHost: %s\r\n" % (target, host))


n = len(SM)
CASES = {
    "plain": get(""),
    "dup_cl": get("Content-Length: 0\r\nContent-Length: %d\r\n" % n, SM),
    "cl_te": get("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                 b"0\r\n\r\n" + SM),
    "te_cl": get("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                 b"0\r\n\r\n" + SM),
    "cl_space": get("Content-Length : %d\r\n" % n, SM),
    "cl_folded": get("Content-Length: 0\r\n %d\r\n" % n, SM),
    "cl_folded_in": get("X-A: b\r\n Content-Length: %d\r\n" % n, SM),
    "cl_plus": get("Content-Length: +5\r\n", b"abcde"),
    "cl_minus": get("Content-Length: -1\r\n"),
    "cl_hex": get("Content-Length: 0x35\r\n"),
    "te_gzip": get("Transfer-Encoding: gzip\r\n"),
    "te_identity": get("Transfer-Encoding: identity\r\n"),
    "te_chunked": get("Transfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
    "te_http10": req("GET %s HTTP/1.0\r\nHost: %s\r\n"
                     "Transfer-Encoding: chunked\r\n" % (P, H), b"0\r\n\r\n"),
    "nul_host": req("GET %s HTTP/1.1\r\nHost: %s\0.evil\r\n" % (P, H)),
    "two_host": req("GET %s HTTP/1.1\r\nHost: %s\r\nHost: %s\r\n" % (P, H, H)),
    "no_host": req("GET %s HTTP/1.1\r\n" % P),
    "bare_lf": ("GET %s HTTP/1.1\nHost: %s\n\n" % (P, H)).encode(),
    "blank_first": b"\r\n" + get(""),
    "space_target": req("GET %s x HTTP/1.1\r\nHost: %s\r\n" % (P, H)),
    "abs_https": absolute("https://%s%s" % (H, P)),
    "abs_http": absolute("http://%s%s" % (H, P)),
    "abs_port": absolute("https://%s:443%s" % (H, P)),
    "abs_case": absolute("HTTPS://MTA-STS.Example.COM%s" % P),
    "abs_query": absolute("https://%s%s?x=1" % (H, P)),
    "abs_wins": absolute("https://%s%s" % (H, P), "www.example.com"),
    "abs_other": absolute("https://%s%s" % (N, P)),
    "abs_path": absolute("https://%s/.well-known/x" % H),
    "abs_user": absolute("https://u@%s%s" % (H, P)),
    "abs_bare": absolute("https://%s" % H),
}
SNI = {"abs_net": N}
CASES["abs_net"] = absolute("https://%s%s" % (N, P))


def head(total, fsize):
    """GET with Connection: close, padded to total bytes in fields of
    about fsize bytes (one field when fsize is 0)."""
    h = "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (P, H)
    i = 0
    while fsize and len(h) + fsize + 10 <= total:
        f = "X%d: " % i
        h += f + "a" * (fsize - len(f) - 2) + "\r\n"
        i += 1
    h += "Y: " + "b" * (total - len(h) - 7) + "\r\n"
    assert len(h) + 2 == total
    return req(h)


def run(data, sni):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    t = ctx.wrap_socket(s, server_hostname=sni)
    t0 = time.monotonic()
    t.sendall(data)
    buf, state = b"", "open"
    t.settimeout(1.0)
    while time.monotonic() - t0 < 5.0:
        try:
            d = t.recv(65536)
        except socket.timeout:
            if buf:
                break
            continue
        except OSError:
            state = "closed"    # reset: closed too, and said nothing more
            break
        if not d:
            state = "closed"
            break
        buf += d
    t.close()
    codes = re.findall(rb"(?:^|\r\n)HTTP/1\.[01] (\d{3})", buf)
    return "%s %s %d" % (b",".join(codes).decode() or "-", state,
                         (time.monotonic() - t0) * 1000)


def one(name):
    if name.startswith("head-"):            # head-TOTAL-FIELDSIZE
        total, fsize = map(int, name.split("-")[1:])
        return name + " " + run(head(total, fsize), H)
    return name + " " + run(CASES[name], SNI.get(name, H))


# Eight at a time: most answers are kept alive, known only by a quiet second.
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    for line in pool.map(one, sys.argv[2:]):
        print(line, flush=True)
PY

probe() { timeout 600 python3 "$T/probe.py" "$PORT" "$@" >> "$T/out"; }
# got NAME: "CODES STATE" of a case probed
got() { awk -v n="$1" '$1 == n { print $2, $3 }' "$T/out"; }

cases="plain dup_cl cl_te te_cl cl_space cl_folded cl_folded_in cl_plus
cl_minus cl_hex te_gzip te_identity te_chunked te_http10 nul_host two_host
no_host bare_lf blank_first space_target abs_https abs_http abs_port
abs_case abs_query abs_wins abs_other abs_path abs_user abs_bare abs_net"
# shellcheck disable=SC2086
probe $cases
sed 's/^/# /' "$T/out"

# --- smuggling shapes: refused with one 400 and a close, both versions ---
eq "a plain GET: 200, kept alive" "$(got plain)" "200 open"
eq "Content-Length 0 then 53: 400, closed, the body never answered" "$(got dup_cl)" "400 closed"
eq "Content-Length with Transfer-Encoding: 400, closed" "$(got cl_te)" "400 closed"
eq "Transfer-Encoding with Content-Length: 400, closed" "$(got te_cl)" "400 closed"
eq "'Content-Length :' (space before the colon): 400, closed" "$(got cl_space)" "400 closed"
eq "a Content-Length folded onto the next line: 400, closed" "$(got cl_folded)" "400 closed"
eq "a Content-Length folded into the field before: 400, closed" "$(got cl_folded_in)" "400 closed"
eq "Transfer-Encoding gzip: 400, closed (no length known)" "$(got te_gzip)" "400 closed"
eq "Transfer-Encoding identity: 400, closed" "$(got te_identity)" "400 closed"
eq "Transfer-Encoding in HTTP/1.0: 400, closed" "$(got te_http10)" "400 closed"
eq "a chunked empty body on GET: read and dropped, 200" "$(got te_chunked)" "200 open"
eq "two Host fields: 400, closed" "$(got two_host)" "400 closed"
eq "HTTP/1.1 without Host: 400, closed" "$(got no_host)" "400 closed"

# --- where the versions differ ---
for c in cl_plus cl_minus cl_hex; do
	if [ "$mhd" = 0.9 ]; then
		# 0.9.75 queues its own 400 before the handler runs, and sends
		# its head twice; then closes. Nothing else is read.
		eq "invalid Content-Length ($c): 0.9.75 sends its 400 twice, closes" "$(got $c)" "400,400 closed"
	else
		eq "invalid Content-Length ($c): 400, closed" "$(got $c)" "400 closed"
	fi
done
if [ "$mhd" = 0.9 ]; then
	# 0.9.75 cuts the value at the NUL before the handler sees it: the
	# name before it is routed, as a request for it alone would be.
	eq "a NUL in Host: 0.9.75 routes the name before it (200)" "$(got nul_host)" "200 open"
	eq "a bare LF request: 0.9.75 accepts it" "$(got bare_lf)" "200 open"
	eq "a blank line before the request line: 0.9.75 skips it" "$(got blank_first)" "200 open"
	eq "a space inside the target: 0.9.75 takes it as part of the path (404)" "$(got space_target)" "404 open"
else
	eq "a NUL in Host: 400, closed" "$(got nul_host)" "400 closed"
	eq "a bare LF request: 400, closed" "$(got bare_lf)" "400 closed"
	eq "a blank line before the request line: closed with no status (level 2)" "$(got blank_first)" "- closed"
	eq "a space inside the target: 400, closed" "$(got space_target)" "400 closed"
fi

# --- absolute-form (RFC 9112 3.2.2): the target's authority wins ---
for c in abs_https abs_http abs_port abs_case abs_query; do
	eq "absolute-form target ($c): 200" "$(got $c)" "200 open"
done
eq "absolute-form wins over a Host naming no site: 200" "$(got abs_wins)" "200 open"
eq "absolute-form naming the other site, SNI this one: 404" "$(got abs_other)" "404 open"
eq "absolute-form naming the other site, its SNI too: 200" "$(got abs_net)" "200 open"
eq "absolute-form with another path: 404" "$(got abs_path)" "404 open"
eq "absolute-form with userinfo: 404" "$(got abs_user)" "404 open"
eq "absolute-form with no path: 404" "$(got abs_bare)" "404 open"

# --- never a hang, never two answers but 0.9.75's doubled 400 ---
ok "every answer came within 3 s" awk '$4 > 3000 { exit 1 }' "$T/out"
if [ "$mhd" = 0.9 ]; then
	ok "one status line per request (but 0.9.75's doubled 400)" \
	    awk '$2 ~ /,/ && $2 != "400,400" { exit 1 }' "$T/out"
else
	ok "one status line per request" awk '$2 ~ /,/ { exit 1 }' "$T/out"
fi

# --- heads around max_header_size 8192 (Connection: close) ---
: > "$T/out"
heads=""
for ((b = 7900; b <= 8192; b += 3)); do heads="$heads head-$b-0"; done
heads="$heads head-8192-0 head-8193-0 head-8192-1000"
# shellcheck disable=SC2086
probe $heads
eq "every head of 7900..8192 bytes answered 200" "$(awk '{ split($1, h, "-") }
    h[2] <= 8192 && h[3] == 0 && ($2 != "200" || $3 != "closed")' "$T/out" | head -n 3)" ""
eq "a head of 8192 bytes: 200" "$(got head-8192-0)" "200 closed"
eq "a head of 8193 bytes: 431, closed" "$(got head-8193-0)" "431 closed"
eq "8192 bytes in 11 fields: 200" "$(got head-8192-1000)" "200 closed"
# Some 0.7 KB over the limit, or with more than a dozen fields at it (some
# 64 bytes of the pool each), a head leaves libmicrohttpd no room to build
# a response in the connection's pool: its own 431 or, in a band of ~150
# bytes below where that starts, a close with no status.
: > "$T/out"
heads="head-8000-16 head-4000-16"
for ((b = 8193; b <= 8192 + 1600; b += 7)); do heads="$heads head-$b-0"; done
# shellcheck disable=SC2086
probe $heads
eq "heads over the limit or of hundreds of fields: 431 or closed with no status" \
    "$(awk '($2 != "431" && $2 != "-") || $3 != "closed"' "$T/out" | head -n 3)" ""
eq "a head 8 bytes over the limit: 431" "$(got head-8200-0)" "431 closed"
ok "every answer came within 3 s" awk '$4 > 3000 { exit 1 }' "$T/out"

eq "still serving" "$(get -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt)" 200
stop_server
done_testing
