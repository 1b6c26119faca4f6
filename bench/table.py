#!/usr/bin/env python3
"""Print bench/compare.sh's results as one table: median (min-max) per
server and the ratios of mtasts-httpd to each peer."""
import statistics
import sys

ROWS = [  # key, label, unit, better
    ("keepalive", "keep-alive requests/s (wrk, 32 conns)", "", "higher"),
    ("cpu_req", "server CPU per keep-alive request", "us", "lower"),
    ("full", "full TLS 1.2 handshakes/s (+1 request)", "", "higher"),
    ("cpu_full", "server CPU per full handshake", "us", "lower"),
    ("sys_full", "  of it in the kernel (TCP, syscalls)", "us", "lower"),
    ("resume", "resumed handshakes/s (tickets, +1 request)", "", "higher"),
    ("cpu_resume", "server CPU per resumed handshake", "us", "lower"),
    ("sys_resume", "  of it in the kernel (TCP, syscalls)", "us", "lower"),
    ("rss_idle", "RSS idle", "KB", "lower"),
    ("rss_tls", "RSS with 500 idle TLS conns", "KB", "lower"),
    ("kb_tls", "  per idle TLS connection", "KB", "lower"),
    ("rss_tcp", "RSS with 500 idle TCP conns", "KB", "lower"),
    ("kb_tcp", "  per idle TCP connection", "KB", "lower"),
    ("startup", "start to first served request", "ms", "lower"),
    ("size", "stripped binary (lighttpd: + mod_mbedtls)", "B", "lower"),
]
SERVERS = ["mtasts-httpd", "lighttpd", "nginx"]


def main():
    vals = {}
    for line in open(sys.argv[1]):
        w = line.split()
        vals[(w[0], w[1])] = [float(x) for x in w[2:]]

    def med(s, k):
        v = vals.get((s, k))
        return statistics.median(v) if v else None

    def cell(s, k):
        v = vals.get((s, k))
        if not v:
            return "-"
        m = statistics.median(v)
        f = (lambda x: "%.0f" % x) if m >= 100 else (lambda x: "%.1f" % x)
        return f(m) + (" (%s-%s)" % (f(min(v)), f(max(v))) if len(v) > 1 else "")

    print("| figure | unit | mtasts-httpd | lighttpd+mbedTLS | nginx | vs lighttpd | vs nginx |")
    print("|---|---|---|---|---|---|---|")
    for k, label, unit, _ in ROWS:
        m = med("mtasts-httpd", k)
        r = []
        for p in SERVERS[1:]:
            o = med(p, k)
            r.append("%.2fx" % (m / o) if m is not None and o else "-")
        print("| %s | %s | %s | %s | %s | %s | %s |" % (
            label, unit, cell("mtasts-httpd", k), cell("lighttpd", k), cell("nginx", k), r[0], r[1]))
    b = vals.get(("crypto", "bound"))
    if b:
        bound = statistics.median(b)
        print()
        print("crypto bound (x25519 keygen + x25519 shared secret + ECDSA P-256 sign, one core): "
              "%.0f/s (%.0f-%.0f)" % (bound, min(b), max(b)))
        bpk = vals.get(("crypto", "boundpk"))
        if bpk:
            print("the same with the signature made as TLS makes it (mbedtls_pk_sign): "
                  "%.0f/s (%.0f-%.0f)" % (statistics.median(bpk), min(bpk), max(bpk)))
        for s in SERVERS[:2]:
            f = med(s, "full")
            if f:
                print("  %s full handshakes: %.0f%% of the bound%s" % (
                    s, 100 * f / bound,
                    ", %.0f%% of the pk_sign bound" % (100 * f / statistics.median(bpk)) if bpk else ""))
        # The bound is user-space crypto only; a TCP server also pays the
        # kernel for every connection. Compare like with like.
        for s in SERVERS[:2]:
            c, k = med(s, "cpu_full"), med(s, "sys_full")
            if c and k is not None:
                print("  %s user-space CPU per full handshake: %.0f us, the bound's %.0f us is %.0f%% of it;"
                      " the kernel adds %.0f us (%.0f%% of the bound's cost)" % (
                          s, c - k, 1e6 / bound, 100 * (1e6 / bound) / (c - k), k, 100 * k * bound / 1e6))


if __name__ == "__main__":
    main()
