#!/usr/bin/env python3
"""Hold N idle connections to 127.0.0.1:PORT for a memory measurement.

  holdconns.py PORT N tls|tcp
tls: each connection does a full TLS 1.2 handshake and one keep-alive
request (read to the end of the policy), then sits idle. tcp: each
connects and never sends a byte. Prints "held N" once all are open (or
"failed K" if some could not be), then waits for a line on stdin and
closes them.
"""
import socket
import ssl
import sys

REQ = b"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.example.com\r\n\r\n"


def main():
    port, n, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    held, failed = [], 0
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            if mode == "tls":
                s = ctx.wrap_socket(s, server_hostname="mta-sts.example.com")
                s.sendall(REQ)
                buf = b""
                while b"max_age:" not in buf or not buf.endswith(b"\r\n"):
                    d = s.recv(4096)
                    if not d:
                        raise OSError("closed")
                    buf += d
            held.append(s)
        except OSError:
            failed += 1
    print("held %d" % len(held) if not failed else "failed %d" % failed, flush=True)
    sys.stdin.readline()
    for s in held:
        s.close()


if __name__ == "__main__":
    main()
