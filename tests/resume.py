#!/usr/bin/env python3
"""Session resumption must not cross sites (RFC 6066 3).

  resume.py PORT CA VERSION
VERSION is 1.2 or 1.3. Makes a session with SNI mta-sts.example.com (one
request, read to the end so a TLS 1.3 ticket arrives), then offers it
again with the same SNI (must resume) and with SNI mta-sts.example.net,
which the same certificate covers (must not resume: a full handshake).
Prints "ok - ..." / "not ok - ..." lines.
"""
import socket
import ssl
import sys

PATH = "/.well-known/mta-sts.txt"


def fetch(port, ctx, host, session=None):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname=host, session=session)
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
               % (PATH, host)).encode())
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    reused, sess = s.session_reused, s.session
    s.close()
    return buf.split(b"\r\n", 1)[0].decode(), reused, sess


def main():
    port, ca, version = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    ctx = ssl.create_default_context(cafile=ca)
    v = ssl.TLSVersion.TLSv1_2 if version == "1.2" else ssl.TLSVersion.TLSv1_3
    ctx.minimum_version = ctx.maximum_version = v
    a, b = "mta-sts.example.com", "mta-sts.example.net"
    st, _, sess = fetch(port, ctx, a)
    print(("ok" if st.endswith("200 OK") else "not ok") +
          " - TLS %s: first fetch under %s: %s" % (version, a, st))
    st, reused, _ = fetch(port, ctx, a, sess)
    print(("ok" if reused and st.endswith("200 OK") else "not ok") +
          " - TLS %s: the session resumes under the same SNI (reused=%s, %s)"
          % (version, reused, st))
    st, reused, _ = fetch(port, ctx, b, sess)
    print(("ok" if not reused and st.endswith("200 OK") else "not ok") +
          " - TLS %s: under SNI %s the session is not resumed: a full "
          "handshake (reused=%s, %s)" % (version, b, reused, st))


if __name__ == "__main__":
    main()
