#!/usr/bin/env python3
"""A deliberately misconfigured MTA-STS policy host for tests/t-live.sh.

    policy_httpd.py --listen ADDR --port PORT --cert CRT --key KEY
                    (--redirect URL | --body TEXT | --json FILE) [--ready FILE]

Serves HTTPS (TLS 1.2 or newer, CRT/KEY, valid for the policy host's name)
and answers every GET or HEAD, whatever its path, either with 301 and
Location: URL (--redirect) or with 200, Content-Type: text/plain and TEXT
as the body (--body; "\\n" in TEXT becomes CRLF, as in a real policy) or
with 200, Content-Type: application/json and FILE's bytes as they are
(--json; an ACME directory for the caa check). The --ready FILE is
written once it listens. IPv6 addresses too. Stops on SIGTERM.
"""
import argparse
import http.server
import signal
import socket
import socketserver
import ssl
import sys
import threading


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def handler(args):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self, head_only):
            if args.redirect is not None:
                body = b"moved\r\n"
                self.send_response(301)
                self.send_header("Location", args.redirect)
                self.send_header("Content-Type", "text/plain")
            elif args.json is not None:
                with open(args.json, "rb") as f:
                    body = f.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
            else:
                body = args.body.replace("\\n", "\r\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if not head_only:
                self.wfile.write(body)
            self.close_connection = True

        def do_GET(self):
            self.answer(False)

        def do_HEAD(self):
            self.answer(True)

        def log_message(self, fmt, *a):
            sys.stderr.write("policy_httpd: %s %s\n" % (self.address_string(), fmt % a))

    return H


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--redirect", metavar="URL")
    g.add_argument("--body", metavar="TEXT")
    g.add_argument("--json", metavar="FILE")
    p.add_argument("--ready", metavar="FILE")
    args = p.parse_args()

    Server.address_family = socket.AF_INET6 if ":" in args.listen else socket.AF_INET
    srv = Server((args.listen, args.port), handler(args))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)

    # SIGTERM: shut the loop down from another thread (shutdown() waits for
    # serve_forever, which runs in this one).
    signal.signal(signal.SIGTERM,
                  lambda *_: threading.Thread(target=srv.shutdown).start())
    if args.ready:
        with open(args.ready, "w") as f:
            f.write("listening\n")
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()


if __name__ == "__main__":
    main()
