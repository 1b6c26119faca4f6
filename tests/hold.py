#!/usr/bin/env python3
"""Hold many connections open against mtasts-httpd on 127.0.0.1:PORT.

  hold.py PORT IDLE STUCK GARBAGE WAIT_S [SOURCE_IP]
Opens IDLE plain TCP connections that never send a byte, STUCK ones that
send a real TLS ClientHello and then never answer, and GARBAGE ones that
send 64 random bytes. Prints "held N", then waits for a line on stdin,
then for up to WAIT_S seconds for the server to close them, and prints
"closed K of N in S s".
"""
import os
import selectors
import socket
import ssl
import sys
import time


def main():
    port, idle, stuck, garbage = (int(x) for x in sys.argv[1:5])
    wait_s = float(sys.argv[5])
    src = sys.argv[6] if len(sys.argv) > 6 else "127.0.0.1"
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    socks = []

    def conn():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        socks.append(s)
        return s

    for _ in range(idle):
        conn()
    for _ in range(stuck):
        s = conn()
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(inc, out, server_hostname="mta-sts.example.com")
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        s.sendall(out.read())  # the ClientHello; the rest never comes
    for _ in range(garbage):
        conn().sendall(os.urandom(64))
    print("held", len(socks), flush=True)
    sys.stdin.readline()

    t0 = time.monotonic()
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    live = len(socks)
    while live and time.monotonic() - t0 < wait_s:
        for key, _ in sel.select(0.5):
            try:
                data = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                live -= 1
    print("closed %d of %d in %.1f s" % (len(socks) - live, len(socks),
                                         time.monotonic() - t0), flush=True)


if __name__ == "__main__":
    main()
