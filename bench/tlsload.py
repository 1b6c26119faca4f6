#!/usr/bin/env python3
"""TLS handshake load: a new connection per request, counted here.

  tlsload.py PORT SECONDS PROCS full|resume
PROCS processes each loop for SECONDS: connect to 127.0.0.1:PORT, TLS 1.2
handshake with SNI mta-sts.example.com (ECDHE-ECDSA-AES128-GCM, x25519),
GET the policy with Connection: close, read to the end, close. "full"
never offers a session; "resume" offers the previous connection's
session (its ticket). Every handshake is checked: "full" must not be
resumed, "resume" must be (after each process's first). Prints one line:
"handshakes N rate R/s wrong W failed F" (wrong: a handshake of the
other kind; failed: no 200).
"""
import multiprocessing
import socket
import ssl
import sys
import time

REQ = (b"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.example.com\r\n"
       b"Connection: close\r\n\r\n")


def worker(port, seconds, mode, q):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    # OpenSSL's default groups offer x25519 first, and P-256, which an
    # ECDSA P-256 certificate needs in TLS 1.2.
    n = wrong = failed = 0
    session = None
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            n, wrong, failed, session = one(ctx, port, mode, n, wrong, failed, session)
    finally:
        q.put((n, wrong, failed))


def one(ctx, port, mode, n, wrong, failed, session):
    """One connection: handshake, check its kind, one request, close."""
    raw = socket.create_connection(("127.0.0.1", port))
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw, server_hostname="mta-sts.example.com",
                        session=session if mode == "resume" else None)
    if mode == "resume" and session is not None:
        wrong += not s.session_reused
    elif mode == "full":
        wrong += s.session_reused
    s.sendall(REQ)
    buf = b""
    while True:
        try:
            d = s.recv(4096)
        except (ssl.SSLError, OSError):
            break
        if not d:
            break
        buf += d
    failed += not buf.startswith(b"HTTP/1.1 200")
    if mode == "resume":
        session = s.session
    s.close()
    return n + 1, wrong, failed, session


def main():
    port, seconds, procs, mode = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    q = multiprocessing.Queue()
    ps = [multiprocessing.Process(target=worker, args=(port, seconds, mode, q)) for _ in range(procs)]
    t0 = time.monotonic()
    for p in ps:
        p.start()
    res = [q.get() for _ in ps]
    for p in ps:
        p.join()
    dt = time.monotonic() - t0
    n = sum(r[0] for r in res)
    print("handshakes %d rate %.1f/s wrong %d failed %d" % (
        n, n / seconds, sum(r[1] for r in res), sum(r[2] for r in res)))


if __name__ == "__main__":
    main()
