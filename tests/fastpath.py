#!/usr/bin/env python3
"""The bridge's own answer to the plain policy GET against libmicrohttpd's.

  fastpath.py PORT CA PID
Each request variant below is sent twice on fresh TLS connections: once in
one TLS record (the bridge may answer it itself, src/fast.c) and once with
its first 10 bytes in a record of their own (an incomplete request: always
handed to libmicrohttpd). The two answers must be the same bytes but for
the Date value, and close the connection alike. Which side answered is
read from the server's open descriptors (/proc/PID/fd) while the
connection is held: one for the TCP socket when the bridge answered,
three (plus the socketpair) once libmicrohttpd did.
Prints "ok - ..." or "not ok - ..." per check.
"""
import os
import re
import socket
import ssl
import sys
import time

from https_client import HOST as H, connect

PATH = "/.well-known/mta-sts.txt"


def req(method="GET", path=PATH, version="HTTP/1.1", headers=None):
    if headers is None:
        headers = ["Host: " + H]
    return ("%s %s %s\r\n%s\r\n" % (method, path, version,
            "".join(h + "\r\n" for h in headers))).encode()


# (name, request bytes, methods of the answers, path expected to answer
# while the connection stays open: "fast", "mhd", or None when it closes)
VARIANTS = [
    ("GET", req(), ["GET"], "fast"),
    ("HEAD", req("HEAD"), ["HEAD"], "fast"),
    ("GET, Connection: close", req(headers=["Host: " + H, "Connection: close"]), ["GET"], None),
    ("HEAD, Connection: close", req("HEAD", headers=["Connection: Close", "host: " + H]), ["HEAD"], None),
    ("GET, Connection: keep-alive, more headers",
     req(headers=["User-Agent: t/1", "HOST: " + H, "Accept: */*", "connection: keep-alive"]), ["GET"], "fast"),
    ("Host with port and final dot", req(headers=["Host: MTA-STS.Example.COM.:443"]), ["GET"], "fast"),
    ("Host without space", req(headers=["Host:" + H]), ["GET"], "fast"),
    ("Host of another site than the SNI", req(headers=["Host: mta-sts.example.net"]), ["GET"], "mhd"),
    ("unknown Host", req(headers=["Host: mta-sts.example.org"]), ["GET"], "mhd"),
    ("no Host", req(headers=["Accept: */*"]), ["GET"], None),
    ("two Host headers", req(headers=["Host: " + H, "Host: " + H]), ["GET"], None),
    ("Host with trailing white space", req(headers=["Host: " + H + " "]), ["GET"], "mhd"),
    ("other path", req(path="/"), ["GET"], "mhd"),
    ("query string", req(path=PATH + "?x=1"), ["GET"], "mhd"),
    ("POST", req("POST"), ["POST"], None),
    ("HTTP/1.0", req(version="HTTP/1.0"), ["GET"], None),
    ("GET with Content-Length: 0", req(headers=["Host: " + H, "Content-Length: 0"]), ["GET"], "mhd"),
    ("unknown Connection token", req(headers=["Host: " + H, "Connection: TE"]), ["GET"], "mhd"),
    ("pipelined: policy, policy, 404, policy",
     req() + req("HEAD") + req(path="/x") + req(), ["GET", "HEAD", "GET", "GET"], None),
    ("pipelined: five policy GETs, max_requests 4", req() * 5, ["GET"] * 4, None),
    ("pipelined: 404, then policy", req(path="/x") + req(), ["GET", "GET"], "mhd"),
    ("pipelined: policy, then Connection: close, then one never answered",
     req() + req(headers=["Host: " + H, "Connection: close"]) + req(), ["GET", "GET"], None),
]


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def settle(pid, base):
    """Wait (bounded) until the server holds no connection of ours."""
    for _ in range(100):
        if fds(pid) == base:
            return True
        time.sleep(0.05)
    return False


def read_answers(s, methods):
    """Read one response per method; then whether the server closed."""
    buf = b""
    out = []
    for m in methods:
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                return out, True, "closed early"
            buf += d
        head, buf = buf.split(b"\r\n\r\n", 1)
        n = re.search(rb"(?im)^content-length: *(\d+)", head)
        n = int(n.group(1)) if n and m != "HEAD" else 0
        while len(buf) < n:
            d = s.recv(65536)
            if not d:
                return out, True, "closed in a body"
            buf += d
        body, buf = buf[:n], buf[n:]
        out.append(re.sub(rb"(?im)^(date:) [^\r]*", rb"\1 X", head) + b"\r\n\r\n" + body)
    s.settimeout(0.5)
    try:
        closed = s.recv(1) == b""
    except (socket.timeout, ssl.SSLError):
        closed = False
    except OSError:
        closed = True
    s.settimeout(10)
    return out, closed, buf.decode(errors="replace")


def run(port, ca, pid, data, methods, split):
    s = connect(port, ca)
    base = fds(pid)
    if split:
        s.sendall(data[:10])
        time.sleep(0.05)
        s.sendall(data[10:])
    else:
        s.sendall(data)
    answers, closed, rest = read_answers(s, methods)
    held = fds(pid) - base + 1	# + the TCP socket itself
    s.close()
    return answers, closed, held, rest


def main():
    port, ca, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    base = fds(pid)
    for name, data, methods, path in VARIANTS:
        if not settle(pid, base):
            print("not ok - %s: server still holds %d descriptors more" %
                  (name, fds(pid) - base))
        one = run(port, ca, pid, data, methods, False)
        settle(pid, base)
        two = run(port, ca, pid, data, methods, True)
        if one[0] != two[0] or one[1] != two[1]:
            print("not ok - %s: one record %r closed=%s, split %r closed=%s" %
                  (name, one[0], one[1], two[0], two[1]))
        elif len(one[0]) != len(methods):
            print("not ok - %s: %d answers, want %d (%s)" %
                  (name, len(one[0]), len(methods), one[2]))
        else:
            print("ok - %s: the same bytes either way (%s)" %
                  (name, b" | ".join(a.split(b"\r\n")[0] for a in one[0]).decode()))
        if path is not None:
            want = 1 if path == "fast" else 3
            if one[1] or one[2] != want:
                print("not ok - %s: answered by %s, want %s (closed=%s, %d descriptors)" %
                      (name, "the bridge" if one[2] == 1 else "libmicrohttpd",
                       path, one[1], one[2]))
            else:
                print("ok - %s: answered by %s, connection kept" %
                      (name, "the bridge" if path == "fast" else "libmicrohttpd"))
            if two[2] != 3:
                print("not ok - %s split: %d descriptors, want libmicrohttpd's 3" %
                      (name, two[2]))


if __name__ == "__main__":
    main()
