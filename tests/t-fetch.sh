#!/bin/bash
# fetch() for real, through the unit binary's "fetch" subcommand, against
# a small HTTPS server on loopback (python3's ssl) with a CA made here:
# a GET with Content-Length, a chunked body, a POST echoed back, HEAD,
# a body to EOF with and without TLS close_notify, an oversized body;
# whole responses from a server that then keeps the connection open
# (one of them a byte to a TLS record);
# and the failures: a certificate for another name, a CA not in the
# bundle, a server that never answers the handshake or the request
# (bounded by the timeout), a refused port, a bad URL, a missing bundle.
. "$(dirname "$0")/lib.sh"

UNIT=$(dirname "$BIN")/unit
[ -x "$UNIT" ] || skip_all "no $UNIT"
command -v python3 > /dev/null || skip_all "no python3"
mkcert=$(dirname "$0")/../certs/mkcert.sh

# A CA with two leaves (localhost, and a name we never ask for), and a
# second CA nobody trusts.
LEAF=good SANS=DNS:localhost sh "$mkcert" "$T/pki" > /dev/null 2>&1 &&
LEAF=wrong SANS=DNS:wrong.example sh "$mkcert" "$T/pki" > /dev/null 2>&1 &&
LEAF=x sh "$mkcert" "$T/other" example.com > /dev/null 2>&1 ||
	{ fail "mkcert.sh"; done_testing; exit 0; }
CA=$T/pki/ca.crt

cat > "$T/server.py" <<'PY'
# HTTPS on 127.0.0.1, three listeners; their ports go to argv[5]:
#   good   certificate for localhost, the responses below by path
#   wrong  certificate for wrong.example
#   silent accepts (the kernel does) and never says a word
import socket, ssl, sys, threading, time

good_cert, good_key, wrong_cert, wrong_key, portfile = sys.argv[1:6]

def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s

def read_request(c):
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(4096)
        if not d:
            return None, None
        data += d
    head, body = data.split(b"\r\n\r\n", 1)
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(body) < n:
        body += c.recv(4096)
    return head, body

OPEN = {
    b"length": lambda m: b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n"
        b"Replay-Nonce: open-1\r\n\r\n" + (b"" if m == b"HEAD" else
        b"kept open 1\n"),
    b"chunked": lambda m: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: "
        b"chunked\r\n\r\n5\r\nkept \r\n7;x=y\r\nopen 2\n\r\n0\r\n"
        b"X-Trailer: 1\r\n\r\n",
    b"204": lambda m: b"HTTP/1.1 204 No Content\r\nReplay-Nonce: open-3"
        b"\r\n\r\n",
    b"eof": lambda m: b"HTTP/1.1 200 OK\r\n\r\nno end in sight\n",
}
TRICKLE = (b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
           b"HTTP/1.1 200 OK\nReplay-Nonce: trickle-1\r\n"
           b"Transfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n"
           b"5;a=b\r\nhello\r\n1\n \n6 ; x\r\nworld\n\r\n0\r\n"
           b"X-Trailer: 1\r\n\r\n")

def hold(c):
    c.settimeout(60)
    try:
        while c.recv(1):
            pass
    except (OSError, ssl.SSLError):
        pass

def answer(c, port):
    head, body = read_request(c)
    if head is None:
        return True
    method, path = head.split(b" ")[:2]
    ok = b"HTTP/1.1 200 OK\r\n"
    if path == b"/hello":
        text = b"hello world\n"
        c.sendall(ok + b"Content-Type: text/plain; charset=utf-8\r\n"
                  b"Replay-Nonce: nonce-1\r\nContent-Length: %d\r\n\r\n"
                  % len(text) + (b"" if method == b"HEAD" else text))
    elif path == b"/chunked":
        pem = (b"-----BEGIN CERTIFICATE-----\nMIIB" + b"A" * 3000 +
               b"\n-----END CERTIFICATE-----\n")
        out = ok + b"Content-Type: application/pem-certificate-chain\r\n" \
            b"Transfer-Encoding: chunked\r\n\r\n"
        for i in range(0, len(pem), 1000):
            part = pem[i:i + 1000]
            out += b"%x;n=%d\r\n" % (len(part), i) + part + b"\r\n"
        c.sendall(out + b"0\r\nX-Trailer: done\r\n\r\n")
    elif path == b"/echo":
        c.sendall(b"HTTP/1.1 201 Created\r\nContent-Type: application/json"
                  b"\r\nLocation: https://localhost:%d/order/1\r\n"
                  b"Replay-Nonce: nonce-2\r\nRetry-After: 7\r\n"
                  b"Content-Length: %d\r\n\r\n" % (port, len(body)) + body)
    elif path == b"/request":
        c.sendall(ok + b"Content-Length: %d\r\n\r\n" % (len(head) + 4) +
                  head + b"\r\n\r\n")
    elif path == b"/eof":
        c.sendall(ok + b"\r\nuntil the end\n")
    elif path == b"/eof-unclean":
        c.sendall(ok + b"\r\nuntil the end\n")
        return False
    elif path == b"/big":
        c.sendall(ok + b"Content-Length: %d\r\n\r\n" % (2 << 20))
        try:
            c.sendall(b"x" * (2 << 20))
        except OSError:
            pass
    elif path == b"/stall":
        time.sleep(30)
    elif path.startswith(b"/open-"):
        # a whole response, then the connection kept open despite the
        # request's "Connection: close", until the client goes
        c.sendall(OPEN[path[6:]](method))
        hold(c)
        return False
    elif path == b"/trickle":
        # the same, one byte to a TLS record: fetch() sees every prefix
        for i in range(len(TRICKLE)):
            c.sendall(TRICKLE[i:i + 1])
        hold(c)
        return False
    else:
        c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    return True

def serve_conn(ctx, raw, port):
    try:
        c = ctx.wrap_socket(raw, server_side=True)
    except (OSError, ssl.SSLError):
        raw.close()
        return
    try:
        c.settimeout(10)
        if answer(c, port):
            c.unwrap()      # close_notify
        c.close()
    except (OSError, ssl.SSLError, ValueError):
        c.close()

def serve(s, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    port = s.getsockname()[1]
    while True:
        raw, _ = s.accept()
        threading.Thread(target=serve_conn, args=(ctx, raw, port),
                         daemon=True).start()

good, wrong, silent = listener(), listener(), listener()
threading.Thread(target=serve, args=(wrong, wrong_cert, wrong_key),
                 daemon=True).start()
with open(portfile + ".tmp", "w") as f:
    print(good.getsockname()[1], wrong.getsockname()[1],
          silent.getsockname()[1], file=f)
import os
os.rename(portfile + ".tmp", portfile)
serve(good, good_cert, good_key)
PY
python3 -B "$T/server.py" "$T/pki/good.fullchain.crt" "$T/pki/good.key" \
    "$T/pki/wrong.fullchain.crt" "$T/pki/wrong.key" "$T/ports" \
    > "$T/server.log" 2>&1 &
PYPID=$!
CLEANUP+=("kill $PYPID 2>/dev/null")
if ! wait_until 10 test -s "$T/ports"; then
	fail "test server did not start: $(tail -n 3 "$T/server.log")"
	done_testing
	exit 0
fi
read -r GOOD WRONG SILENT < "$T/ports"
REFUSED=$(free_port)

# f NAME ARGS...: run "unit fetch ARGS", output in $T/NAME.out and
# $T/NAME.err, exit status in $RC, seconds taken in $SECS.
f() {
	local name=$1 t0
	shift
	t0=${EPOCHREALTIME/[.,]/}
	# fetch() bounds itself; this bounds the test should it not
	timeout 120 "$UNIT" fetch "$@" > "$T/$name.out" 2> "$T/$name.err"
	RC=$?
	SECS=$(( (${EPOCHREALTIME/[.,]/} - t0) / 1000000 ))
	if grep -qE 'Sanitizer|runtime error:' "$T/$name.err"; then
		fail "$name: sanitizer report: $(grep -m 3 -E \
		    'Sanitizer|runtime error' "$T/$name.err" | tr '\n' ' ')"
	fi
}
# field NAME KEY: a line "KEY value" of the output's head
field() { sed -n "s/^$2 //p" "$T/$1.out" | head -n 1; }
# body NAME: what follows the empty line
body() { sed '1,/^$/d' "$T/$1.out"; }
# err_has NAME TEXT: exit 1 and TEXT in the error line (shown)
err_has() {
	if [ "$RC" = 1 ] && grep -q "^error: .*$2" "$T/$1.err"; then
		pass "$1: fails with '$2'"
		echo "# $(head -n 1 "$T/$1.err")"
	else
		fail "$1: want exit 1 and '$2'; got $RC: $(head -c 300 \
		    "$T/$1.err")"
	fi
}

URL=https://localhost:$GOOD

f get "$CA" "$URL/hello"
eq "GET: exit 0" "$RC" 0
eq "GET: status" "$(field get status)" 200
eq "GET: body" "$(body get)" "hello world"
eq "GET: media type, lower case, no parameters" "$(field get content-type)" \
    text/plain
eq "GET: Replay-Nonce" "$(field get nonce)" nonce-1

f head "$CA" "$URL/hello" HEAD
eq "HEAD: exit 0 (no body despite Content-Length)" "$RC" 0
eq "HEAD: body length" "$(field head body-length)" 0
eq "HEAD: Replay-Nonce" "$(field head nonce)" nonce-1

f chunked "$CA" "$URL/chunked"
eq "chunked: exit 0" "$RC" 0
eq "chunked: body length" "$(field chunked body-length)" 3059
ok "chunked: the PEM put back together" \
    grep -qx -- '-----END CERTIFICATE-----' "$T/chunked.out"

jws='{"protected":"e30","payload":"","signature":"x"}'
f post "$CA" "$URL/echo" POST "$jws"
eq "POST: exit 0" "$RC" 0
eq "POST: status 201" "$(field post status)" 201
eq "POST: body echoed" "$(body post)" "$jws"
eq "POST: Location" "$(field post location)" \
    "https://localhost:$GOOD/order/1"
eq "POST: Retry-After" "$(field post retry-after)" 7

f req "$CA" "$URL/request" POST 'abc'
tr -d '\r' < "$T/req.out" > "$T/req.txt"
version=$(cat "$(dirname "$0")/../VERSION")
for line in "POST /request HTTP/1.1" "Host: localhost:$GOOD" \
    "User-Agent: mtasts-httpd/$version" "Accept: application/json" \
    "Content-Type: application/jose+json" "Content-Length: 3" \
    "Connection: close"; do
	ok "request: $line" grep -qxF "$line" "$T/req.txt"
done

f eof "$CA" "$URL/eof"
eq "body to EOF, closed with close_notify: exit 0" "$RC" 0
eq "body to EOF: body" "$(body eof)" "until the end"

f unclean "$CA" "$URL/eof-unclean"
err_has unclean "without TLS close_notify"

f big "$CA" "$URL/big"
err_has big "over"

f notfound "$CA" "$URL/nothing"
eq "404: exit 0 (any status is an answer)" "$RC" 0
eq "404: status" "$(field notfound status)" 404

f wrongname "$CA" "https://localhost:$WRONG/hello"
err_has wrongname "localhost: TLS handshake: certificate verification \
failed: the name is not in the certificate"

f untrusted "$T/other/ca.crt" "$URL/hello"
err_has untrusted "certificate verification failed: not issued by a CA \
in the bundle"

f silent -t 1000 "$CA" "https://localhost:$SILENT/hello"
err_has silent "TLS handshake: timed out after 1000 ms"
ok "silent server: given up within 3 s (took $SECS s)" [ "$SECS" -lt 3 ]

f stall -t 1000 "$CA" "$URL/stall"
err_has stall "reading the response: timed out after 1000 ms"
ok "stalled response: given up within 3 s (took $SECS s)" [ "$SECS" -lt 3 ]

# A server that keeps the connection open after a whole response: fetch()
# must stop reading once the response is whole, not wait for EOF until
# the (long) timeout; with the timeout at 20 s, a success is the proof.
f open-length -t 20000 "$CA" "$URL/open-length"
eq "kept open, Content-Length: exit 0 (took $SECS s)" "$RC" 0
eq "kept open, Content-Length: body" "$(body open-length)" "kept open 1"
eq "kept open, Content-Length: Replay-Nonce" "$(field open-length nonce)" \
    open-1
f open-head -t 20000 "$CA" "$URL/open-length" HEAD
eq "kept open, HEAD: exit 0 (took $SECS s)" "$RC" 0
eq "kept open, HEAD: no body" "$(field open-head body-length)" 0
f open-chunked -t 20000 "$CA" "$URL/open-chunked"
eq "kept open, chunked: exit 0 (took $SECS s)" "$RC" 0
eq "kept open, chunked: body" "$(body open-chunked)" "kept open 2"
f open-204 -t 20000 "$CA" "$URL/open-204"
eq "kept open, 204: exit 0 (took $SECS s)" "$RC" 0
eq "kept open, 204: status" "$(field open-204 status)" 204
# one byte a record: an interim response, bare LFs, extensions, trailer
f trickle -t 20000 "$CA" "$URL/trickle"
eq "kept open, one byte a record: exit 0 (took $SECS s)" "$RC" 0
eq "one byte a record: body" "$(body trickle)" "hello world"
eq "one byte a record: the final response's nonce" \
    "$(field trickle nonce)" trickle-1
# without a length the body runs to EOF: kept open, that never comes
f open-eof -t 1000 "$CA" "$URL/open-eof"
err_has open-eof "reading the response: timed out after 1000 ms"

# fetch_at: to the address given, never resolving the URL's host, which
# stays the name sent (SNI, Host) and verified: wrong.example resolves
# nowhere, and only the certificate for it passes
f at -a 127.0.0.1 "$CA" "https://wrong.example:$WRONG/request"
tr -d '\r' < "$T/at.out" > "$T/at.txt"
eq "fetch_at: exit 0" "$RC" 0
ok "fetch_at: Host: wrong.example:$WRONG" \
    grep -qxF "Host: wrong.example:$WRONG" "$T/at.txt"
ok "fetch_at: the TLS version ($(field at tls))" \
    grep -qxE "tls TLSv1\.[23]" "$T/at.txt"

f refused "$CA" "https://localhost:$REFUSED/hello"
err_has refused "localhost: connect: 127.0.0.1:$REFUSED: Connection \
refused"

f http "$CA" "http://localhost:$GOOD/hello"
err_has http "not an https:// URL"

f nobundle "$T/none.crt" "$URL/hello"
err_has nobundle "CA bundle $T/none.crt: No such file"

kill "$PYPID" 2>/dev/null
wait "$PYPID" 2>/dev/null
done_testing
