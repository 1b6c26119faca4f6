#!/bin/bash
# What the DNS watcher (src/dnswatch.c: a round of DNS checks every
# check_interval seconds, in a child forked from the serving parent)
# costs the server, for N domains served by one server with one test
# certificate (100 SANs, mta-sts.d1.example.test ...), in a network
# namespace of our own whose resolver is a dnsmasq answering every
# domain's records (_mta-sts TXT, MX with one host, the host's A,
# _smtp._tls TXT: 4 queries a domain and round). Three servers, run in
# turn (interleaved, RUNS times, the order rotated each time):
#   off   check_interval 0
#   on    check_interval 1: a round every second
#   hung  check_interval 1 with dnsmasq stopped (SIGSTOP): the round
#         blocks in the resolver
# Each run: the server on CPU 0 (the round child inherits it), dnsmasq
# and the load on CPU 1. Its children are watched from /proc every
# 0.5 ms (1 ms during the load): a round is the life of a child, fork
# to exit. Then
#   1. round time, fork to exit: the first round, and the ROUNDS after it;
#   2. the parent's VmRSS and PSS (/proc/PID/status, smaps_rollup) when
#      serving (between rounds) and after ROUNDS rounds (off: as long);
#      the round child's peak RSS and its PSS during a round;
#   3. a probe of the serving loop: PROBE seconds of keep-alive GETs on
#      one connection, one every 1 ms: latency, of all and of those that
#      overlapped a round;
#   4. then DUR seconds of fresh full TLS 1.2 handshakes, one GET each
#      (PROCS client processes, ECDHE-ECDSA-AES128-GCM, as
#      bench/tlsload.py, SNI and Host cycling through the N domains):
#      rate, latency p50/p99/max, server CPU per request (the parent's;
#      the rounds' CPU apart, from the parent's cutime+cstime).
# Prints one table: each figure the median of RUNS runs (min-max).
#
#   bench/dnswatch.sh [BIN]   env: RUNS (3), DUR (20), ROUNDS (30),
#                             PROBE (10), DOMAINS ("1 100"), PROCS (4)
# About RUNS x 3 x (number of DOMAINS) x (ROUNDS + PROBE + DUR + 5)
# seconds: 19 min with the defaults. Needs root (network namespace, port
# 443); installs dnsmasq-base if it is missing.
set -eu
. "$(dirname "$0")/lib.sh"
bin=$(realpath "$bin")
RUNS=${RUNS:-3}
DUR=${DUR:-20}
ROUNDS=${ROUNDS:-30}
DOMAINS=${DOMAINS:-1 100}
PROCS=${PROCS:-4}
PROBE=${PROBE:-10}
ns=""
dpid=""		# dnsmasq
rpid=""		# the run (its server stops with it)
# The interpreter itself, not a wrapper (pyenv's shim forks it).
PY=$(python3 -c 'import sys; print(sys.executable)')

cleanup() {
	set +e	# a killed process's wait fails: clean up all the same
	if [ -n "$rpid" ]; then
		kill -TERM "$rpid" 2> /dev/null
		wait "$rpid" 2> /dev/null
	fi
	if [ -n "$dpid" ]; then
		kill -KILL "$dpid" 2> /dev/null
		wait "$dpid" 2> /dev/null
	fi
	[ -z "$ns" ] || bench_ns_del
	rm -rf "$t"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
[ "$(id -u)" = 0 ] || { echo "dnswatch.sh: needs root (network namespace)" >&2; exit 1; }
command -v dnsmasq > /dev/null ||
	apt-get install -y -q dnsmasq-base > "$t/apt.log" 2>&1 || true
for c in dnsmasq python3 taskset ip openssl; do
	command -v "$c" > /dev/null || { echo "dnswatch.sh: $c missing" >&2; exit 1; }
done

max=0
for n in $DOMAINS; do [ "$n" -gt "$max" ] && max=$n; done
sans=$(seq -f 'DNS:mta-sts.d%g.example.test' 1 "$max" | paste -sd,)
SANS=$sans LEAF=dw FORCE=1 sh certs/mkcert.sh "$t/certs" > /dev/null

# conf N CHECK_INTERVAL: one state_dir for all (the same ids)
conf() {
	local k
	printf 'listen 127.0.0.1:443\ncert %s\nkey %s\nstate_dir %s\n' \
	    "$t/certs/dw.fullchain.crt" "$t/certs/dw.key" "$t/state"
	printf 'check_interval %d\nmode testing\n' "$2"
	printf 'max_requests 1000000\nidle_timeout 600\n'	# the probe's connection
	for k in $(seq 1 "$1"); do
		printf 'domain d%d.example.test\nmx mx1.d%d.example.test\n' "$k" "$k"
		printf 'tlsrpt_rua mailto:tlsrpt@d%d.example.test\n' "$k"
	done
}
for n in $DOMAINS; do
	conf "$n" 0 > "$t/off-$n.conf"
	conf "$n" 1 > "$t/on-$n.conf"
	cp "$t/on-$n.conf" "$t/hung-$n.conf"
done
conf "$max" 0 > "$t/all.conf"
conf 1 0 > "$t/probe.conf"
# Mint the ids and publish the records the server asks for.
"$bin" -c "$t/all.conf" --print-dns > "$t/records"
{
	printf 'no-resolv\nno-hosts\nno-daemon\nlisten-address=127.0.0.1\n'
	printf 'bind-interfaces\nuser=root\nlocal=/test/\n'
	sed -n 's/^\(_[^ ]*\)\. IN TXT "\(.*\)"$/txt-record=\1,"\2"/p' "$t/records"
	for k in $(seq 1 "$max"); do
		echo "mx-host=d$k.example.test,mx1.d$k.example.test,10"
		echo "host-record=mx1.d$k.example.test,127.0.0.11"
		echo "host-record=mta-sts.d$k.example.test,127.0.0.1"
	done
} > "$t/dnsmasq.conf"

bench_ns
echo "nameserver 127.0.0.1" > "/etc/netns/$ns/resolv.conf"
ip netns exec "$ns" taskset -c 1 dnsmasq --conf-file="$t/dnsmasq.conf" 2> "$t/dnsmasq.err" &
dpid=$!
for _ in $(seq 50); do
	N "$bin" -c "$t/probe.conf" --check-live --no-smtp 2> /dev/null |
	    grep -q 'PASS d1.example.test txt' && break
	sleep 0.1
done
N "$bin" -c "$t/probe.conf" --check-live --no-smtp 2> /dev/null |
    grep -q 'PASS d1.example.test txt' ||
    { echo "dnswatch.sh: dnsmasq does not answer: $(cat "$t/dnsmasq.err")" >&2; exit 1; }

# One run: the server started, watched, measured and stopped; one JSON
# line on stdout.
cat > "$t/run.py" <<'PY'
import json, multiprocessing, os, re, signal, socket, ssl, statistics, subprocess, sys, threading, time

binary, conf, err, rounds, dur, procs, ndom, interval, probe_s = sys.argv[1:10]
rounds, dur, procs, ndom, interval, probe_s = int(rounds), float(dur), int(procs), int(ndom), int(interval), float(probe_s)
HZ = os.sysconf("SC_CLK_TCK")
REQ = "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
KA = b"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.d1.example.test\r\n\r\n"

def status(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            m = re.search(r"^%s:\s+(\d+)" % key, f.read(), re.M)
        return int(m.group(1)) if m else None
    except OSError:
        return None

def pss(pid, key="Pss"):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            return int(re.search(r"^%s:\s+(\d+)" % key, f.read(), re.M).group(1))
    except (OSError, AttributeError):
        return None

def mem(pid, tag):
    """the parent's memory: VmRSS and RssAnon (anonymous: its heap, not
    shared libraries), PSS and Pss_Anon (shared pages divided among the
    processes mapping them: another process using the same libraries, or
    a round child alive, lowers them)"""
    out["rss" + tag] = status(pid, "VmRSS")
    out["anon" + tag] = status(pid, "RssAnon")
    out["pss" + tag] = pss(pid)
    out["pssanon" + tag] = pss(pid, "Pss_Anon")

def ticks(pid):
    """utime+stime, cutime+cstime (reaped children) in seconds"""
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / HZ, (int(v[13]) + int(v[14])) / HZ

class Watch(threading.Thread):
    """The server's children, every 0.5 ms: [pid, start, end, hwm, pss,
    next pss reading, the parent's RssAnon at the end]"""
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.kids, self.stop = pid, {}, False
        self.light = False	# during the load: no memory readings
    def alive(self):
        return [k for k in self.kids.values() if k[2] is None]
    def done(self):
        return [k for k in self.kids.values() if k[2] is not None]
    def run(self):
        path = "/proc/%d/task/%d/children" % (self.pid, self.pid)
        while not self.stop:
            now = time.monotonic()
            try:
                with open(path) as f:
                    pids = {int(p) for p in f.read().split()}
            except OSError:
                return
            for p in pids:
                if p not in self.kids:
                    self.kids[p] = [p, now, None, None, None, 0, None]
            for k in self.alive():
                st = None
                if k[0] in pids:
                    try:
                        with open("/proc/%d/stat" % k[0]) as f:
                            st = f.read().rsplit(")", 1)[1].split()[0]
                    except OSError:
                        pass
                if st is None or st in "ZX":
                    k[2] = now
                    if not self.light:
                        k[6] = status(self.pid, "RssAnon")
                    continue
                if self.light:
                    continue
                h = status(k[0], "VmHWM")
                if h is not None:
                    k[3] = h
                # PSS from 3 ms on, every 20 ms: its largest
                if now - k[1] >= 0.003 and now >= k[5]:
                    v = pss(k[0])
                    if v is not None and (k[4] is None or v > k[4]):
                        k[4] = v
                    k[5] = now + 0.02
            time.sleep(0.001 if self.light else 0.0005)

def one(ctx, host, lat):
    t0 = time.perf_counter()
    raw = socket.create_connection(("127.0.0.1", 443))
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw, server_hostname=host)
    s.sendall((REQ % host).encode())
    buf = b""
    while True:
        try:
            d = s.recv(4096)
        except (ssl.SSLError, OSError):
            break
        if not d:
            break
        buf += d
    s.close()
    lat.append((time.perf_counter() - t0) * 1000)
    return buf.startswith(b"HTTP/1.1 200")

def worker(w, q):
    ctx = tls_ctx()
    lat, failed, i = [], 0, w
    end = time.monotonic() + dur
    while time.monotonic() < end:
        try:
            failed += not one(ctx, "mta-sts.d%d.example.test" % (i % ndom + 1), lat)
        except OSError:
            failed += 1
        i += procs
    q.put((lat, failed))

def tls_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    return ctx

def probe(q):
    """How soon the serving loop answers: one keep-alive connection, a
    GET every 1 ms; (sent, ms) of each"""
    raw = socket.create_connection(("127.0.0.1", 443))
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = tls_ctx().wrap_socket(raw, server_hostname="mta-sts.d1.example.test")
    res, buf = [], b""
    end = time.monotonic() + probe_s
    while time.monotonic() < end:
        t0 = time.monotonic()
        s.sendall(KA)
        while b"\r\n\r\n" not in buf:
            d = s.recv(4096)
            if not d:
                raise SystemExit("probe: connection closed")
            buf += d
        head, buf = buf.split(b"\r\n\r\n", 1)
        n = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
        while len(buf) < n:
            buf += s.recv(4096)
        buf = buf[n:]
        res.append((t0, (time.monotonic() - t0) * 1000))
        time.sleep(0.001)
    s.close()
    q.put(res)

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100))] if v else None

# SIGTERM (the script stopped): the server is stopped too (finally)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
out = {}
t_exec = time.monotonic()
srv = subprocess.Popen(["taskset", "-c", "0", binary, "-c", conf],
                       stdout=subprocess.DEVNULL, stderr=open(err, "w"))
w = Watch(srv.pid)
w.start()
try:
    for _ in range(10000):
        if " serving " in open(err).read() or srv.poll() is not None:
            break
        time.sleep(0.001)
    else:
        raise SystemExit("server did not start")
    if srv.poll() is not None:
        raise SystemExit("server exited: " + open(err).read()[-300:])
    t_serve = time.monotonic()
    out["start_ms"] = (t_serve - t_exec) * 1000

    def ended(n, deadline):
        """wait (at most until deadline) for n rounds to have ended: the
        next round is check_interval after this one started"""
        while time.monotonic() < deadline and len(w.done()) < n:
            time.sleep(0.002)
        return not w.alive()
    # after start: after the end of the second round (off, hung: 2.5 s)
    out["clean0"] = ended(2, t_serve + 2.5)
    mem(srv.pid, "0")
    c0, t_c0 = ticks(srv.pid), time.monotonic()
    # ROUNDS rounds (off, or hung: as long as they would take)
    out["clean1"] = ended(rounds + 1, t_serve + rounds * max(interval, 1) + 3)
    mem(srv.pid, "1")
    c1, t_c1 = ticks(srv.pid), time.monotonic()
    kids = sorted(w.kids.values(), key=lambda k: k[1])
    if kids:
        k = kids[0]
        out["first_fork_ms"] = (k[1] - t_serve) * 1000	# negative: before the ready line
        out["first_ms"] = (k[2] - k[1]) * 1000 if k[2] else None
    idle = [k for k in kids[1:] if k[2]]
    out["idle_rounds"] = len(idle)
    out["round_ms"] = [(k[2] - k[1]) * 1000 for k in idle]
    out["kid_hwm"] = max([k[3] for k in kids if k[3]] or [0]) or None
    out["kid_pss"] = statistics.median([k[4] for k in kids if k[4]] or [0]) or None
    out["kid_alive"] = len(w.alive())
    out["anon_after"] = [k[6] for k in kids if k[2]]
    # CPU between the two readings, and the rounds reaped in between
    out["idle_s"] = t_c1 - t_c0
    out["parent_cpu_idle_ms"] = (c1[0] - c0[0]) * 1000
    out["rounds_cpu_idle_ms"] = (c1[1] - c0[1]) * 1000
    out["rounds_idle_cpu_n"] = len([k for k in kids if k[2] and t_c0 <= k[2] <= t_c1])

    w.light = True
    # the probe: GETs on one connection, those during a round apart
    q = multiprocessing.Queue()
    p = multiprocessing.Process(target=probe, args=(q,))
    p.start()
    res = q.get()
    p.join()
    t_now = time.monotonic()
    spans = [(k[1], k[2] or t_now) for k in w.kids.values()]
    def in_round(t0, ms):
        return any(a <= t0 + ms / 1000 and t0 <= b for a, b in spans)
    lat = [ms for _, ms in res]
    inr = [ms for t0, ms in res if in_round(t0, ms)]
    out["probe_n"], out["probe_in_n"] = len(lat), len(inr)
    out["probe_p50"], out["probe_p99"], out["probe_p999"] = pct(lat, 50), pct(lat, 99), pct(lat, 99.9)
    out["probe_max"] = max(lat)
    out["probe_in_p50"], out["probe_in_max"] = pct(inr, 50), max(inr) if inr else None
    out["probe_out_max"] = max([ms for t0, ms in res if not in_round(t0, ms)] or [None])
    out["probe_slow"] = len([x for x in lat if x >= 5])

    # the load
    ps = [multiprocessing.Process(target=worker, args=(i, q)) for i in range(procs)]
    c2 = ticks(srv.pid)
    t_load = time.monotonic()
    for p in ps:
        p.start()
    res = [q.get() for _ in ps]
    for p in ps:
        p.join()
    t_end = time.monotonic()
    c3 = ticks(srv.pid)
    lat = [x for r in res for x in r[0]]
    out["n"] = len(lat)
    out["failed"] = sum(r[1] for r in res)
    out["rate"] = len(lat) / dur
    out["p50"], out["p99"], out["max"] = pct(lat, 50), pct(lat, 99), max(lat)
    out["cpu_req_us"] = (c3[0] - c2[0]) * 1e6 / max(len(lat), 1)
    out["rounds_cpu_load_ms"] = (c3[1] - c2[1]) * 1000
    load = [k for k in w.kids.values() if t_load <= k[1] < t_end]
    out["load_rounds"] = len(load)
    out["load_round_ms"] = [(k[2] - k[1]) * 1000 for k in load if k[2]]
    out["rounds_load_cpu_n"] = len([k for k in w.kids.values() if k[2] and t_load <= k[2] <= t_end])
    out["rss2"] = status(srv.pid, "VmRSS")
finally:
    w.stop = True
    srv.send_signal(signal.SIGTERM)
    try:
        out["exit"] = srv.wait(10)
    except subprocess.TimeoutExpired:
        srv.kill()
        out["exit"] = srv.wait()
print(json.dumps(out))
PY

# run KIND N: one run into $t/results
run() {
	local kind=$1 n=$2 ci=1
	[ "$kind" = off ] && ci=0
	if [ "$kind" = hung ]; then kill -STOP "$dpid"; fi
	printf '%s %s ' "$kind" "$n" >> "$t/results"
	# in the background, so that a signal to us stops it (and it its
	# server): ip netns exec and taskset exec, $! is the interpreter
	ip netns exec "$ns" taskset -c 1 "$PY" "$t/run.py" "$bin" "$t/$kind-$n.conf" \
	    "$t/err" "$ROUNDS" "$DUR" "$PROCS" "$n" "$ci" "$PROBE" > "$t/run.out" &
	rpid=$!
	if wait "$rpid" && [ -s "$t/run.out" ]; then
		cat "$t/run.out" >> "$t/results"
	else
		echo "dnswatch.sh: $kind $n: $(tail -n 3 "$t/err")" >&2
		echo '{}' >> "$t/results"
	fi
	rpid=""
	if [ "$kind" = hung ]; then kill -CONT "$dpid"; fi
	sleep 1
}

: > "$t/results"
order="off on hung"
for r in $(seq "$RUNS"); do
	for n in $DOMAINS; do
		for kind in $order; do
			echo "run $r/$RUNS: $n domains, $kind" >&2
			run "$kind" "$n"
		done
	done
	order="${order#* } ${order%% *}"	# rotate: off on hung, on hung off, ...
done
[ -z "${KEEP:-}" ] || cp "$t/results" "$KEEP"

echo "machine: $(nproc) CPUs, $(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -n 1); $(uname -sr); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server: $("$bin" --version); dnsmasq $(dnsmasq --version | sed -n '1s/^Dnsmasq version \([^ ]*\).*/\1/p')"
echo "runs: $RUNS x (off, on, hung) interleaved; $ROUNDS rounds, then ${DUR}s of load ($PROCS processes); server on CPU 0, dnsmasq and load on CPU 1"
"$PY" - "$t/results" "$DOMAINS" <<'PY'
import json, statistics, sys

runs = {}
for line in open(sys.argv[1]):
    kind, n, js = line.split(" ", 2)
    runs.setdefault((kind, int(n)), []).append(json.loads(js))
doms = [int(x) for x in sys.argv[2].split()]

def fmt(v, nd):
    if v is None:
        return "-"
    return "%.*f" % (nd, v) if nd else "%d" % round(v)

def med(vals, nd=1):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "-"
    m = statistics.median(vals)
    if len(vals) == 1 or min(vals) == max(vals):
        return fmt(m, nd)
    return "%s (%s-%s)" % (fmt(m, nd), fmt(min(vals), nd), fmt(max(vals), nd))

def col(kind, n, f, nd=1):
    return med([f(r) for r in runs.get((kind, n), []) if r], nd)

def allmed(kind, n, key):
    """a list-valued key: the median over every round of every run"""
    v = [x for r in runs.get((kind, n), []) for x in r.get(key, [])]
    if not v:
        return "-"
    v.sort()
    return "%.1f (%.1f-%.1f, %d rounds)" % (statistics.median(v), v[0], v[-1], len(v))

def trail(kind, n):
    """the parent's RssAnon at the end of some rounds: median over runs"""
    rs = [r.get("anon_after") for r in runs.get((kind, n), []) if r.get("anon_after")]
    if not rs:
        return "-"
    return " / ".join("%d" % statistics.median(r[min(i, len(r)) - 1] for r in rs)
                      for i in (1, 2, 5, 10, 20, 10**6))

def g(key):
    return lambda r: r.get(key)

def per(key, nkey):
    """CPU per round: total / rounds reaped in that time"""
    return lambda r: r[key] / r[nkey] if r.get(nkey) else None

rows = [
    ("first round, fork to exit", "ms", lambda k, n: col(k, n, g("first_ms"))),
    ("later rounds, fork to exit (idle server)", "ms", lambda k, n: allmed(k, n, "round_ms")),
    ("rounds during the load, fork to exit", "ms", lambda k, n: allmed(k, n, "load_round_ms")),
    ("rounds started during the load", "", lambda k, n: col(k, n, g("load_rounds"), 0)),
    ("round child: peak RSS", "KB", lambda k, n: col(k, n, g("kid_hwm"), 0)),
    ("round child: largest PSS seen", "KB", lambda k, n: col(k, n, g("kid_pss"), 0)),
    ("round child: CPU per round (idle server)", "ms", lambda k, n: col(k, n, per("rounds_cpu_idle_ms", "rounds_idle_cpu_n"))),
    ("parent: CPU per round (idle server)", "ms", lambda k, n: col(k, n, per("parent_cpu_idle_ms", "rounds_idle_cpu_n"))),
    ("parent: CPU while idle, in all", "ms", lambda k, n: col(k, n, g("parent_cpu_idle_ms"), 0)),
    ("parent VmRSS after start", "KB", lambda k, n: col(k, n, g("rss0"), 0)),
    ("parent VmRSS after the rounds", "KB", lambda k, n: col(k, n, g("rss1"), 0)),
    ("parent RssAnon after start", "KB", lambda k, n: col(k, n, g("anon0"), 0)),
    ("parent RssAnon after the rounds", "KB", lambda k, n: col(k, n, g("anon1"), 0)),
    ("parent RssAnon at the end of round 1 / 2 / 5 / 10 / 20 / last", "KB", lambda k, n: trail(k, n)),
    ("parent PSS after start", "KB", lambda k, n: col(k, n, g("pss0"), 0)),
    ("parent PSS after the rounds", "KB", lambda k, n: col(k, n, g("pss1"), 0)),
    ("parent Pss_Anon after start", "KB", lambda k, n: col(k, n, g("pssanon0"), 0)),
    ("parent Pss_Anon after the rounds", "KB", lambda k, n: col(k, n, g("pssanon1"), 0)),
    ("watcher's CPU (child + parent), idle server", "% of a core", lambda k, n: col(k, n, lambda r: (r["rounds_cpu_idle_ms"] + r["parent_cpu_idle_ms"]) / r["idle_s"] / 10 if r.get("idle_s") else None, 2)),
    ("probe (keep-alive GET every 1 ms): p50", "ms", lambda k, n: col(k, n, g("probe_p50"), 3)),
    ("probe: p99 / p99.9", "ms", lambda k, n: col(k, n, g("probe_p99"), 2) + " / " + col(k, n, g("probe_p999"), 2)),
    ("probe: max", "ms", lambda k, n: col(k, n, g("probe_max"), 1)),
    ("probe: answers of 5 ms or more", "", lambda k, n: col(k, n, g("probe_slow"), 0)),
    ("probe: GETs during a round", "", lambda k, n: col(k, n, g("probe_in_n"), 0)),
    ("probe during a round: p50 / max", "ms", lambda k, n: col(k, n, g("probe_in_p50"), 3) + " / " + col(k, n, g("probe_in_max"), 1)),
    ("probe outside the rounds: max", "ms", lambda k, n: col(k, n, g("probe_out_max"), 1)),
    ("full handshakes + GET /s", "", lambda k, n: col(k, n, g("rate"), 0)),
    ("latency p50", "ms", lambda k, n: col(k, n, g("p50"), 2)),
    ("latency p99", "ms", lambda k, n: col(k, n, g("p99"), 2)),
    ("latency max", "ms", lambda k, n: col(k, n, g("max"), 1)),
    ("parent CPU per request", "us", lambda k, n: col(k, n, g("cpu_req_us"), 0)),
    ("round child: CPU per round during the load", "ms", lambda k, n: col(k, n, per("rounds_cpu_load_ms", "rounds_load_cpu_n"))),
    ("failed requests", "", lambda k, n: col(k, n, g("failed"), 0)),
]
for n in doms:
    print()
    print("%d domain%s:" % (n, "" if n == 1 else "s"))
    print()
    print("| figure | unit | off (check_interval 0) | on (check_interval 1) | hung resolver (check_interval 1) |")
    print("|---|---|---|---|---|")
    for name, unit, f in rows:
        print("| %s | %s | %s | %s | %s |" % (name, unit, f("off", n), f("on", n), f("hung", n)))
bad = [(k, r.get("exit")) for k, rs in runs.items() for r in rs if r.get("exit") != 0]
unclean = [k for k, rs in runs.items() for r in rs if k[0] == "on" and not (r.get("clean0") and r.get("clean1"))]
if bad:
    print("\nservers that did not exit 0 on SIGTERM:", bad)
if unclean:
    print("\nruns where a round was still going at a memory reading:", unclean)
PY
