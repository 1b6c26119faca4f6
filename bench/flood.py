#!/usr/bin/env python3
"""The flood benchmark's load: hostile connections kept open, a
legitimate client's handshake rate, and the table (bench/flood.sh).

  flood.py churn PORT N FIRST_SRC NSRC RATE MAX_S
      Keeps N hostile connections to 127.0.0.1:PORT from NSRC source
      addresses counting up from FIRST_SRC (80 % idle, 10 % 64 bytes of
      garbage, 10 % half a real ClientHello; tests/flood.py makes them).
      At most 1000 connects are in flight, each bounded to 5 s. Once
      every one has connected once (or after 20 s) it prints "ramped K
      of N in S s"; from then on a connection the server closes (or that
      fails to connect) is opened again, at most RATE a second. For each
      line "status" on stdin it prints "open O connecting C reopened R"
      (O: connected and not seen closed; R: reopens so far). Stops on
      "quit", at end of input, or after MAX_S seconds, whichever first.
      Raises its own RLIMIT_NOFILE soft limit to the hard limit.
  flood.py legit PORT SECONDS PROCS
      PROCS processes each loop for SECONDS: from 127.0.0.1, a new TCP
      connection, a full TLS 1.2 handshake (ECDHE-ECDSA-AES128-GCM,
      x25519, no session offered), GET the policy with Connection: close,
      read to the end. Each connection is bounded to 5 s. Prints "ok N
      rate R/s failed F timedout T p50 A ms p99 B ms" (ok: a 200 came
      back; failed: refused, reset or closed without one; timedout: no
      answer within 5 s; the latencies are of the ok ones).
  flood.py table RESULTS
      Prints the results ("SERVER KEY V1 V2 ...") as one table: the
      median of the runs (min-max).
"""
import collections
import multiprocessing
import os
import selectors
import socket
import ssl
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests"))
import flood  # noqa: E402  (tests/flood.py: the kinds of hostile connection)

REQ = (b"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.example.com\r\n"
       b"Connection: close\r\n\r\n")
CONNECT_S = 5
INFLIGHT = 1000
RAMP_S = 20


class Slot:
    """One hostile connection: its kind, source address and socket."""
    __slots__ = ("kind", "src", "sock", "state", "i")

    def __init__(self, i, kind, src):
        self.i, self.kind, self.src = i, kind, src
        self.sock, self.state = None, "down"


def churn(port, n, first, nsrc, rate, max_s):
    """The hostile side: see "churn" above."""
    flood.raise_nofile()
    srcs = flood.sources(first, nsrc)
    hs = flood.hellos(16)
    slots = [Slot(i, k, srcs[i % nsrc])
             for i, k in enumerate(flood.kinds(n * 8 // 10, n // 10, n - n * 8 // 10 - n // 10))]
    sel = selectors.DefaultSelector()
    sel.register(sys.stdin, selectors.EVENT_READ, None)
    down = collections.deque(slots)	# to open, oldest first
    ever = set()
    pending = collections.deque()	# (since, slot, socket) in connect order
    nopen = nconn = reopened = 0
    tokens, ramped = 0.0, False
    t0 = last = time.monotonic()

    def drop(s):
        nonlocal nopen, nconn
        sel.unregister(s.sock)
        s.sock.close()
        if s.state == "open":
            nopen -= 1
        else:
            nconn -= 1
        s.sock, s.state = None, "down"
        down.append(s)

    while time.monotonic() - t0 < max_s:
        now = time.monotonic()
        tokens = min(float(rate), tokens + (now - last) * rate)
        last = now
        while down and nconn < INFLIGHT and (not ramped or tokens >= 1):
            s = down.popleft()
            if ramped:
                tokens -= 1
                reopened += 1
            sk = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sk.setblocking(False)
            try:
                sk.bind((s.src, 0))
                sk.connect_ex(("127.0.0.1", port))
            except OSError:
                sk.close()
                down.appendleft(s)
                break
            s.sock, s.state = sk, "connecting"
            pending.append((now, s, sk))
            nconn += 1
            sel.register(sk, selectors.EVENT_WRITE, s)
        for key, _ in sel.select(0.05):
            s = key.data
            if s is None:
                line = sys.stdin.readline()
                if line.strip() == "status":
                    print("open %d connecting %d reopened %d" % (nopen, nconn, reopened), flush=True)
                elif line.strip() in ("quit", ""):
                    return
                continue
            if s.state == "connecting":
                if s.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    drop(s)
                    continue
                try:
                    data = flood.payload(s.kind, hs, s.i)
                    if data:
                        s.sock.send(data)
                except OSError:
                    drop(s)
                    continue
                s.state = "open"
                nconn -= 1
                nopen += 1
                ever.add(s.i)
                sel.modify(s.sock, selectors.EVENT_READ, s)
                continue
            if flood.peer_closed(s.sock):
                drop(s)
        now = time.monotonic()
        if not ramped and (len(ever) == n or now - t0 > RAMP_S):
            ramped = True
            print("ramped %d of %d in %.1f s" % (len(ever), n, now - t0), flush=True)
        while pending and (pending[0][2] is not pending[0][1].sock or
                           pending[0][1].state != "connecting" or
                           now - pending[0][0] > CONNECT_S):
            _, s, sk = pending.popleft()
            if sk is s.sock and s.state == "connecting":
                drop(s)


def ctx_tls12():
    """The client TLS context of bench/tlsload.py: TLS 1.2, one suite."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    return ctx


def fetch(ctx, port):
    """One legitimate fetch: "ok", "failed" or "timedout"."""
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=CONNECT_S)
    except socket.timeout:
        return "timedout"
    except OSError:
        return "failed"
    end = time.monotonic() + CONNECT_S
    buf = b""
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s = ctx.wrap_socket(raw, server_hostname="mta-sts.example.com")
        s.sendall(REQ)
        while time.monotonic() < end:
            s.settimeout(max(0.01, end - time.monotonic()))
            d = s.recv(4096)
            if not d:
                break
            buf += d
        else:
            return "timedout"
    except socket.timeout:
        return "timedout"
    except (ssl.SSLError, OSError):
        pass
    finally:
        raw.close()
    return "ok" if buf.startswith(b"HTTP/1.1 200") else "failed"


def worker(port, seconds, q):
    """One legitimate client process; puts (counts, latencies) on q."""
    ctx = ctx_tls12()
    res = {"ok": 0, "failed": 0, "timedout": 0}
    lat = []
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            t = time.monotonic()
            r = fetch(ctx, port)
            res[r] += 1
            if r == "ok":
                lat.append(time.monotonic() - t)
    finally:
        q.put((res, lat))


def legit(port, seconds, procs):
    """The legitimate side: see "legit" above."""
    q = multiprocessing.Queue()
    ps = [multiprocessing.Process(target=worker, args=(port, seconds, q))
          for _ in range(procs)]
    for p in ps:
        p.start()
    got = [q.get() for _ in ps]
    for p in ps:
        p.join()
    tot = {k: sum(r[0][k] for r in got) for k in got[0][0]}
    lat = sorted(x for r in got for x in r[1])

    def pct(p):
        return 1000 * lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")
    print("ok %d rate %.1f/s failed %d timedout %d p50 %.1f ms p99 %.1f ms" % (
        tot["ok"], tot["ok"] / seconds, tot["failed"], tot["timedout"], pct(0.5), pct(0.99)))


ROWS = [  # key, label, unit
    ("rate_idle", "full TLS 1.2 handshakes/s (+1 request), unloaded", ""),
    ("rate_flood", "the same under the flood", ""),
    ("pct", "  under the flood, of the unloaded rate (target >= 80)", "%"),
    ("bad_flood", "  legitimate fetches failed or timed out (5 s) under it", ""),
    ("p50_idle", "legitimate fetch, median, unloaded", "ms"),
    ("p50_flood", "legitimate fetch, median, under the flood", "ms"),
    ("p99_flood", "legitimate fetch, 99th percentile, under the flood", "ms"),
    ("held", "hostile connections the server holds (accepted, open)", ""),
    ("gen_open", "hostile connections open at the generator", ""),
    ("reopen", "hostile reopens/s (the server closed or refused them)", ""),
    ("cpu_flood", "server CPU under the flood", "%"),
    ("cpu_gen", "flood generator CPU (on the load's core)", "%"),
    ("rss_idle", "RSS idle", "KB"),
    ("rss_flood", "RSS under the flood (target <= 16384)", "KB"),
    ("rss_peak", "RSS peak (VmHWM)", "KB"),
]
SERVERS = ["mtasts-httpd", "lighttpd", "nginx"]


def table(path):
    """Prints bench/flood.sh's results file as a markdown table."""
    vals = {}
    for line in open(path):
        w = line.split()
        vals[(w[0], w[1])] = [float(x) for x in w[2:] if x != "nan"]

    def cell(s, k):
        v = vals.get((s, k))
        if not v:
            return "-"
        m = statistics.median(v)
        f = (lambda x: "%.0f" % x) if m >= 100 or k in ("bad_flood", "held", "gen_open") else (lambda x: "%.1f" % x)
        return f(m) + (" (%s-%s)" % (f(min(v)), f(max(v))) if len(v) > 1 else "")

    print("| figure | unit | mtasts-httpd | lighttpd+mbedTLS | nginx |")
    print("|---|---|---|---|---|")
    for k, label, unit in ROWS:
        print("| %s | %s | %s |" % (label, unit, " | ".join(cell(s, k) for s in SERVERS)))


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "churn":
        churn(int(a[0]), int(a[1]), a[2], int(a[3]), float(a[4]), float(a[5]))
    elif cmd == "legit":
        legit(int(a[0]), float(a[1]), int(a[2]))
    elif cmd == "table":
        table(a[0])
    else:
        sys.exit("usage: flood.py churn|legit|table ...")


if __name__ == "__main__":
    main()
