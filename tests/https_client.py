#!/usr/bin/env python3
"""Test client for mtasts-httpd: raw HTTP/1.1 over TLS with keep-alive.

  https_client.py keepalive PORT CA
      Opens one TLS connection to mta-sts.example.com on 127.0.0.1:PORT and,
      for every line read on stdin, sends one GET of the policy on that same
      connection and prints "STATUS CERT-SHA256 BODY-AS-REPR".
  https_client.py stress PORT CA DONE_FILE MIN_REQUESTS MAX_SECONDS
      Loops: a fresh connection, then 4 keep-alive requests on it. Runs until
      DONE_FILE exists and MIN_REQUESTS were made (or MAX_SECONDS pass). Each
      body must be a complete policy whose mx is mK.example.com, and K may
      never go down. Prints one summary line; exit 0 only if all held.
"""
import hashlib
import os
import re
import socket
import ssl
import sys
import time

HOST = "mta-sts.example.com"


def connect(port, ca, host=HOST, ctx=None):
    ctx = ctx or ssl.create_default_context(cafile=ca)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname=host)


def request(s, buf, host=HOST):
    """One GET on s; returns (status, body, leftover)."""
    s.sendall(b"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: " +
              host.encode() + b"\r\n\r\n")
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("connection closed before the response head")
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v.strip())
    while len(buf) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("connection closed inside the body")
        buf += chunk
    return status, buf[:length], buf[length:]


def keepalive(port, ca):
    s = connect(port, ca)
    fp = hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()[:16]
    buf = b""
    for _ in sys.stdin:
        status, body, buf = request(s, buf)
        print(status, fp, repr(body.decode()), flush=True)


def policy(k):
    return ("version: STSv1\r\nmode: testing\r\nmx: m%d.example.com\r\n"
            "max_age: 86400\r\n" % k).encode()


def stress(port, ca, done, minimum, max_s):
    start = time.monotonic()
    n = fresh = failed = bad = backwards = 0
    top = -1
    seen = set()
    while time.monotonic() - start < max_s:
        if os.path.exists(done) and n >= minimum:
            break
        try:
            s = connect(port, ca)
            fresh += 1
            buf = b""
            for _ in range(4):
                status, body, buf = request(s, buf)
                n += 1
                m = re.search(rb"mx: m(\d+)\.example\.com", body)
                if status != 200 or m is None or body != policy(int(m.group(1))):
                    bad += 1
                    print("bad response:", status, repr(body[:200]))
                    continue
                k = int(m.group(1))
                seen.add(k)
                if k < top:
                    backwards += 1
                    print("old policy %d after %d was served" % (k, top))
                top = max(top, k)
            s.close()
        except Exception as e:  # any failure to get an answer counts
            failed += 1
            n += 1
            print("failed request:", repr(e))
    ok = failed == 0 and bad == 0 and backwards == 0 and n >= minimum
    print("requests=%d connections=%d failed=%d incomplete_or_wrong=%d "
          "went_back=%d versions_seen=%d last=%d seconds=%.1f" %
          (n, fresh, failed, bad, backwards, len(seen), top,
           time.monotonic() - start))
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1] == "keepalive":
        keepalive(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "stress":
        sys.exit(stress(int(sys.argv[2]), sys.argv[3], sys.argv[4],
                        int(sys.argv[5]), float(sys.argv[6])))
    else:
        sys.exit(__doc__)
