#!/usr/bin/env python3
"""The answers to a set of request variants, against fixed expectations.

  conform.py PORT CA MHD_VERSION
The server (tests/t-conform.sh) serves example.com (mode enforce, mx
mail.example.com, the default max_age) and example.net with max_requests 4.
Each variant below is sent on a fresh TLS connection to
mta-sts.example.com twice: whole, and with its first 10 bytes in a TLS
record of their own (libmicrohttpd then parses it across two reads). For
each answer the exact status line, the exact set of header names, the
values of Content-Type, Content-Length and Connection, and the body are
checked; then whether the server closes the connection: closed means EOF
right after the last answer, kept means a further GET on it is answered.
Where libmicrohttpd 0.9 and 1.0 answer differently today, the table says
which answers which (MHD_VERSION, from mtasts-httpd --version).
Prints "# N checks", then "ok - ..." or "not ok - ..." per variant and way
of sending.
"""
import re
import socket
import ssl
import sys
import time

from https_client import HOST as H, connect

PATH = "/.well-known/mta-sts.txt"
POLICY = (b"version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
          b"max_age: 604800\r\n")
NOT_FOUND = b"not found\n"


def req(method="GET", path=PATH, version="HTTP/1.1", headers=None):
    if headers is None:
        headers = ["Host: " + H]
    return ("%s %s %s\r\n%s\r\n" % (method, path, version,
            "".join(h + "\r\n" for h in headers))).encode()


class A:
    """One expected answer: the status line, the body (None: the library's
    own text, only its length is checked), the method it answers (HEAD:
    no body, Content-Length of the GET), whether it says Connection: close,
    and whether it is http.c's (Content-Type: text/plain) or the
    library's own error page (no Content-Type)."""

    def __init__(self, status, body, method="GET", close=False, ours=True):
        self.status, self.body, self.method = status, body, method
        self.close, self.ours = close, ours

    def names(self):
        n = {"date", "content-length"}
        if self.ours:
            n.add("content-type")
        if self.close:
            n.add("connection")
        return n


def ok200(method="GET", close=False):
    return A("HTTP/1.1 200 OK", POLICY, method, close)


def nf404(method="GET", close=False):
    return A("HTTP/1.1 404 Not Found", NOT_FOUND, method, close)


def bad400(ours=False):
    """http.c's 400 ("bad request"), or the library's own page."""
    return A("HTTP/1.1 400 Bad Request", b"bad request\n" if ours else None,
             close=True, ours=ours)


CLOSED, KEPT = "closed", "kept"

# (name, request bytes, answers, then closed or kept); answers and the
# state after may be a dict by libmicrohttpd version ("0.9", "1.0").
VARIANTS = [
    ("GET", req(), [ok200()], KEPT),
    ("HEAD", req("HEAD"), [ok200("HEAD")], KEPT),
    ("GET, Connection: close", req(headers=["Host: " + H, "Connection: close"]),
     [ok200(close=True)], CLOSED),
    ("HEAD, Connection: close", req("HEAD", headers=["Connection: Close", "host: " + H]),
     [ok200("HEAD", close=True)], CLOSED),
    ("GET, Connection: keep-alive, more headers",
     req(headers=["User-Agent: t/1", "HOST: " + H, "Accept: */*", "connection: keep-alive"]),
     [ok200()], KEPT),
    ("Host with port and final dot", req(headers=["Host: MTA-STS.Example.COM.:443"]),
     [ok200()], KEPT),
    ("Host without space", req(headers=["Host:" + H]), [ok200()], KEPT),
    ("Host of another site than the SNI", req(headers=["Host: mta-sts.example.net"]),
     [nf404()], KEPT),
    ("unknown Host", req(headers=["Host: mta-sts.example.org"]), [nf404()], KEPT),
    # RFC 9112 3.2: a 400 for no Host (1.0's own; 0.9 leaves it to
    # http.c) and for more than one (http.c).
    ("no Host", req(headers=["Accept: */*"]),
     {"0.9": [bad400(ours=True)], "1.0": [bad400()]}, CLOSED),
    ("two Host headers", req(headers=["Host: " + H, "Host: " + H]),
     [bad400(ours=True)], CLOSED),
    # 1.0 drops the trailing white space (RFC 9110 5.5), 0.9 keeps it.
    ("Host with trailing white space", req(headers=["Host: " + H + " "]),
     {"0.9": [nf404()], "1.0": [ok200()]}, KEPT),
    ("other path", req(path="/"), [nf404()], KEPT),
    ("query string", req(path=PATH + "?x=1"), [ok200()], KEPT),
    ("POST", req("POST"), [nf404("POST", close=True)], CLOSED),
    ("HTTP/1.0", req(version="HTTP/1.0"), [ok200(close=True)], CLOSED),
    ("GET with Content-Length: 0", req(headers=["Host: " + H, "Content-Length: 0"]),
     [ok200()], KEPT),
    ("unknown Connection token", req(headers=["Host: " + H, "Connection: TE"]),
     [ok200()], KEPT),
    ("pipelined: policy, policy (HEAD), 404, policy (the 4th of max_requests 4)",
     req() + req("HEAD") + req(path="/x") + req(),
     [ok200(), ok200("HEAD"), nf404(), ok200(close=True)], CLOSED),
    ("pipelined: five policy GETs, max_requests 4", req() * 5,
     [ok200(), ok200(), ok200(), ok200(close=True)], CLOSED),
    ("pipelined: 404, then policy", req(path="/x") + req(), [nf404(), ok200()], KEPT),
    ("pipelined: policy, then Connection: close, then one never answered",
     req() + req(headers=["Host: " + H, "Connection: close"]) + req(),
     [ok200(), ok200(close=True)], CLOSED),
]

DATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|"
                  r"Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$")


class Conn:
    """A TLS connection with a read buffer."""

    def __init__(self, port, ca):
        self.s = connect(port, ca)
        self.buf = b""

    def fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError
        self.buf += d

    def answer(self, method):
        """One response: (status line, {name: [values]}, body)."""
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs.setdefault(k.strip().lower(), []).append(v.strip())
        n = 0
        if method != "HEAD" and "content-length" in hdrs:
            n = int(hdrs["content-length"][0])
        while len(self.buf) < n:
            self.fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return lines[0], hdrs, body

    def at_eof(self, wait_s):
        """True on EOF within wait_s; False on data or silence."""
        self.s.settimeout(wait_s)
        try:
            return self.s.recv(1) == b""
        except (socket.timeout, ssl.SSLWantReadError):
            return False
        except (ssl.SSLError, OSError):
            return True


def check(a, got):
    """The first way got differs from the expected answer a, or None."""
    status, hdrs, body = got
    if status != a.status:
        return "status %r, want %r" % (status, a.status)
    if "location" in hdrs:
        return "a Location header: %r" % hdrs["location"]
    if set(hdrs) != a.names():
        return "headers %s, want %s" % (sorted(hdrs), sorted(a.names()))
    for k, v in hdrs.items():
        if len(v) != 1:
            return "%d %s headers" % (len(v), k)
    if not DATE.match(hdrs["date"][0]):
        return "Date %r" % hdrs["date"][0]
    if a.ours and hdrs["content-type"][0] != "text/plain":
        return "Content-Type %r" % hdrs["content-type"][0]
    if a.close and hdrs["connection"][0].lower() != "close":
        return "Connection %r" % hdrs["connection"][0]
    length = int(hdrs["content-length"][0])
    want = len(a.body) if a.body is not None else len(body)
    if a.method == "HEAD":
        if body:
            return "a body after HEAD"
    elif a.body is not None and body != a.body:
        return "body %r, want %r" % (body, a.body)
    if length != want:
        return "Content-Length %d, want %d" % (length, want)
    return None


def run(port, ca, data, answers, after, split):
    """None when all matched, else what differed first."""
    c = Conn(port, ca)
    try:
        if split:
            c.s.sendall(data[:10])
            time.sleep(0.05)
            c.s.sendall(data[10:])
        else:
            c.s.sendall(data)
        for i, a in enumerate(answers):
            try:
                got = c.answer(a.method)
            except EOFError:
                return "closed before answer %d of %d" % (i + 1, len(answers))
            why = check(a, got)
            if why:
                return "answer %d: %s" % (i + 1, why)
        if c.buf:
            return "more bytes than the answers: %r" % c.buf[:80]
        if after == CLOSED:
            if not c.at_eof(5):
                return "connection not closed after the last answer"
        else:
            c.s.settimeout(10)
            c.s.sendall(req())
            try:
                why = check(ok200(), c.answer("GET"))
            except EOFError:
                return "connection closed, want it kept"
            if why:
                return "a further GET on the kept connection: %s" % why
        return None
    except (OSError, ssl.SSLError) as e:
        return "%s: %s" % (type(e).__name__, e)
    finally:
        c.s.close()


def pick(x, ver):
    return x[ver] if isinstance(x, dict) else x


def main():
    port, ca = int(sys.argv[1]), sys.argv[2]
    ver = ".".join(sys.argv[3].split(".")[:2])
    print("# %d checks" % (2 * len(VARIANTS)), flush=True)
    for name, data, answers, after in VARIANTS:
        if isinstance(answers, dict) and ver not in answers:
            print("not ok - %s: no expectation for libmicrohttpd %s" % (name, ver))
            continue
        answers, after = pick(answers, ver), pick(after, ver)
        for split in (False, True):
            how = "split" if split else "whole"
            why = run(port, ca, data, answers, after, split)
            if why:
                print("not ok - %s (%s): %s" % (name, how, why))
            else:
                print("ok - %s (%s): %s, %s" % (name, how, " | ".join(
                    a.status[9:] for a in answers), after))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
