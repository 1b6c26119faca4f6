#!/usr/bin/env python3
"""Hostile connections from many source addresses, held open.

  flood.py PORT KINDS WAIT_S FIRST_SRC NSRC [wait|close]
KINDS counts connections of each kind, e.g. "idle=800,garbage=100,half=100":
idle never send a byte, garbage send 64 random bytes, half send the first
half of a real TLS ClientHello (SNI mta-sts.example.com) and then nothing,
tls complete a TLS handshake and one keep-alive GET of the policy and
then sit idle. The tls ones are opened first, the others after them,
mixed in a fixed order; all to 127.0.0.1:PORT from NSRC source addresses
counting up from FIRST_SRC (connection i binds address i % NSRC). Every
connection is bounded (5 s) and the whole opening by 60 s. Prints "held
N failed F in S s" (F: connects, or tls handshakes and requests, that
did not complete), then waits for a line on stdin.
Then, "wait" (the default): waits up to WAIT_S seconds for the server to
close them and prints "closed K of N in S s longest L s" (L: the longest
any one stayed open, from its connect to its close being seen); "close":
closes them itself and prints "closed N".

Also a module for bench/flood.py: raise_nofile, hellos, kinds, sources,
payload, peer_closed. The generator raises its own RLIMIT_NOFILE soft
limit to the hard limit; it connects to 127.0.0.1 only.
"""
import ipaddress
import os
import random
import resource
import selectors
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from https_client import request  # noqa: E402

HOST = "mta-sts.example.com"
CONNECT_S = 5
OPEN_S = 60


def raise_nofile():
    """Soft RLIMIT_NOFILE up to the hard limit; returns the new soft one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def hellos(n):
    """n real ClientHellos (each with its own random and key shares)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    out = []
    for _ in range(n):
        inc, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(inc, outb, server_hostname=HOST)
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        out.append(outb.read())
    return out


def kinds(idle, garbage, half, tls=0, seed=13):
    """The kinds in a fixed order: tls first, the others mixed."""
    k = ["idle"] * idle + ["garbage"] * garbage + ["half"] * half
    random.Random(seed).shuffle(k)
    return ["tls"] * tls + k


def sources(first, n):
    """n addresses counting up from first (a dotted IPv4 string)."""
    a = ipaddress.IPv4Address(first)
    return [str(a + i) for i in range(n)]


def payload(kind, hs, i):
    """What connection i of this kind sends once connected (b"" for none)."""
    if kind == "garbage":
        return os.urandom(64)
    if kind == "half":
        h = hs[i % len(hs)]
        return h[:len(h) // 2]
    return b""


def open_one(src, port, data):
    """A blocking connect (bounded), the payload sent; the socket, or None
    if the connect failed. A server that closes at once is not a failure."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((src, 0))
        s.settimeout(CONNECT_S)
        s.connect(("127.0.0.1", port))
    except OSError:
        s.close()
        return None
    try:
        if data:
            s.sendall(data)
    except OSError:
        pass
    s.setblocking(False)
    return s


def open_tls(src, port):
    """A connection with a TLS handshake and one GET done (bounded); the
    TLS socket, or None if any of it failed."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((src, 0))
        s.settimeout(CONNECT_S)
        s.connect(("127.0.0.1", port))
        s = ctx.wrap_socket(s, server_hostname=HOST)
        status, _, _ = request(s, b"")
        if status != 200:
            raise OSError("status %d" % status)
    except (OSError, EOFError, ValueError):
        s.close()
        return None
    s.setblocking(False)
    return s


def peer_closed(s):
    """Reads what a non-blocking socket has; True once the peer closed
    it (end of stream or reset)."""
    try:
        return not s.recv(65536)
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    except OSError:
        return True


def wait_closed(socks, opened, wait_s):
    """Wait up to wait_s for the server to close every socket; returns
    (closed, seconds, longest time one stayed open)."""
    t0 = time.monotonic()
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, i)
    live, longest = len(socks), 0.0
    while live and time.monotonic() - t0 < wait_s:
        for key, _ in sel.select(0.2):
            if peer_closed(key.fileobj):
                sel.unregister(key.fileobj)
                longest = max(longest, time.monotonic() - opened[key.data])
                live -= 1
    return len(socks) - live, time.monotonic() - t0, longest


def main():
    port = int(sys.argv[1])
    n = {"idle": 0, "garbage": 0, "half": 0, "tls": 0}
    for kv in sys.argv[2].split(","):
        k, v = kv.split("=")
        n[k] = int(v)
    wait_s = float(sys.argv[3])
    srcs = sources(sys.argv[4], int(sys.argv[5]))
    then = sys.argv[6] if len(sys.argv) > 6 else "wait"
    raise_nofile()
    hs = hellos(8)
    socks, opened, failed = [], [], 0
    t0 = time.monotonic()
    for i, k in enumerate(kinds(**n)):
        if time.monotonic() - t0 > OPEN_S:
            failed += 1
            continue
        src = srcs[i % len(srcs)]
        if k == "tls":
            s = open_tls(src, port)
        else:
            s = open_one(src, port, payload(k, hs, i))
        if s is None:
            failed += 1
            continue
        socks.append(s)
        opened.append(time.monotonic())
    print("held %d failed %d in %.2f s" % (len(socks), failed,
                                          time.monotonic() - t0), flush=True)
    sys.stdin.readline()
    if then == "close":
        for s in socks:
            s.close()
        print("closed %d" % len(socks), flush=True)
        return
    k, dt, longest = wait_closed(socks, opened, wait_s)
    print("closed %d of %d in %.1f s longest %.1f s" % (k, len(socks), dt,
                                                       longest), flush=True)


if __name__ == "__main__":
    main()
