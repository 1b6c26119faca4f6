#!/usr/bin/env python3
"""A small SMTP server with STARTTLS, for the tests (loopback only).

  smtpd.py --listen ADDR --port PORT --cert CRT --key KEY [--no-starttls]
      [--ready FILE]

Greets 220, answers EHLO (250, with STARTTLS unless --no-starttls), HELO,
STARTTLS (220, then TLS with CRT and KEY), NOOP, RSET and QUIT (221); any
other command gets 502: no mail is taken. ADDR may be IPv4 or IPv6; PORT 0
takes a free port. Once listening it writes the port to FILE (whole, by a
rename). Serves many connections at once (a thread each) and stops on
SIGTERM, exit 0. One line per command on stderr.

For the failure cases of tests/t-smtp.sh, besides:
  --greeting TEXT     the greeting line instead of "220 <name> ESMTP"
  --starttls-reply T  the reply to STARTTLS instead of "220 2.0.0 ..."
  --silent            accept connections and never say a word
"""
import argparse
import os
import signal
import socket
import ssl
import sys
import threading

NAME = "smtpd.test"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def ehlo_reply(tls_offered):
    lines = [NAME, "PIPELINING", "SIZE 10240000"]
    if tls_offered:
        lines.append("STARTTLS")
    lines += ["ENHANCEDSTATUSCODES", "8BITMIME"]
    out = ""
    for i, line in enumerate(lines):
        out += "250%s%s\r\n" % (" " if i == len(lines) - 1 else "-", line)
    return out


class Session:
    def __init__(self, sock, peer, opts, ctx):
        self.sock = sock
        self.peer = peer
        self.opts = opts
        self.ctx = ctx
        self.tls = False
        self.buf = b""

    def send(self, text):
        self.sock.sendall(text.encode())

    def line(self):
        """The next command line without its line end; None at EOF."""
        while b"\n" not in self.buf:
            if len(self.buf) > 4096:
                return None
            data = self.sock.recv(4096)
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("latin-1")

    def run(self):
        self.send((self.opts.greeting or "220 %s ESMTP smtpd.py" % NAME) +
                  "\r\n")
        while True:
            cmd = self.line()
            if cmd is None:
                return
            log("%s%s: %s" % (self.peer, " (TLS)" if self.tls else "", cmd))
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.send(ehlo_reply(not self.opts.no_starttls and
                                     not self.tls))
            elif verb == "HELO":
                self.send("250 %s\r\n" % NAME)
            elif verb == "STARTTLS":
                if self.tls or self.opts.no_starttls:
                    self.send("502 5.5.1 not offered\r\n")
                    continue
                reply = self.opts.starttls_reply or "220 2.0.0 ready"
                self.send(reply + "\r\n")
                if not reply.startswith("220"):
                    continue
                # RFC 3207 4.2: what came before TLS does not count after
                self.buf = b""
                self.sock = self.ctx.wrap_socket(self.sock, server_side=True)
                self.tls = True
                log("%s: %s" % (self.peer, self.sock.version()))
            elif verb in ("NOOP", "RSET"):
                self.send("250 2.0.0 OK\r\n")
            elif verb == "QUIT":
                self.send("221 2.0.0 bye\r\n")
                if self.tls:
                    try:
                        self.sock.unwrap()
                    except (OSError, ssl.SSLError, ValueError):
                        pass
                return
            else:
                self.send("502 5.5.2 not here\r\n")


def serve_conn(raw, peer, opts, ctx):
    raw.settimeout(60)
    s = Session(raw, peer, opts, ctx)
    try:
        if opts.silent:
            while raw.recv(4096):
                pass
        else:
            s.run()
    except (OSError, ssl.SSLError, ValueError) as e:
        log("%s: %s" % (peer, e))
    finally:
        try:
            s.sock.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser(description="SMTP with STARTTLS, for tests")
    ap.add_argument("--listen", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--no-starttls", action="store_true")
    ap.add_argument("--ready")
    ap.add_argument("--greeting")
    ap.add_argument("--starttls-reply")
    ap.add_argument("--silent", action="store_true")
    opts = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(opts.cert, opts.key)

    family = socket.AF_INET6 if ":" in opts.listen else socket.AF_INET
    ls = socket.socket(family, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    ls.bind((opts.listen, opts.port))
    ls.listen(64)
    port = ls.getsockname()[1]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if opts.ready:
        with open(opts.ready + ".tmp", "w") as f:
            print(port, file=f)
        os.rename(opts.ready + ".tmp", opts.ready)
    log("listening on %s port %d" % (opts.listen, port))
    while True:
        raw, peer = ls.accept()
        where = "[%s]:%d" % peer[:2] if family == socket.AF_INET6 else \
            "%s:%d" % peer[:2]
        threading.Thread(target=serve_conn, args=(raw, where, opts, ctx),
                         daemon=True).start()


if __name__ == "__main__":
    main()
