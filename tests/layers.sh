#!/bin/bash
# The module graph of the daemon, from its object files: each src/NAME.c
# is a module, its object BUILD/NAME.o; every undefined symbol of one is
# resolved to the module that defines it, which gives an edge
# "caller -> callee". Nothing below may call up, so the graph must have no
# cycle (issue 13). Prints the modules with what each calls, the layers
# found (level 0: calls no other module; level n: calls some of level
# n-1; a cycle's modules share one), then "ok - ..." or one "not ok - ..."
# per cycle (the shortest through each edge, with the symbols on each
# edge). Exits 1 on a cycle.
#   tests/layers.sh build
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:?usage: layers.sh BUILD_DIR}

objs=()
for src in "$top"/src/*.c; do
	name=$(basename "$src" .c)
	if [ ! -f "$dir/$name.o" ]; then
		echo "not ok - module graph: $dir/$name.o missing (build first)"
		exit 1
	fi
	objs+=("$dir/$name.o")
done
# POSIX format, external symbols only: "FILE: SYMBOL TYPE [VALUE SIZE]"
if ! nm -A -P -g "${objs[@]}" > "${TMPDIR:-/tmp}/layers.$$" 2>&1; then
	echo "not ok - module graph: nm failed: $(head -n 3 "${TMPDIR:-/tmp}/layers.$$" | tr '\n' ' ')"
	rm -f "${TMPDIR:-/tmp}/layers.$$"
	exit 1
fi
python3 - "${TMPDIR:-/tmp}/layers.$$" <<'P'
import collections, os, sys

defined = {}                            # symbol -> module
undef = collections.defaultdict(set)    # module -> symbols it needs
mods = set()
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 3:
        continue
    mod = os.path.basename(f[0].rstrip(":")).rsplit(".", 1)[0]
    mods.add(mod)
    if f[2] == "U":
        undef[mod].add(f[1])
    elif f[2] not in ("w", "v"):        # weak undefined: nobody's
        defined[f[1]] = mod

edges = collections.defaultdict(lambda: collections.defaultdict(list))
for m in mods:
    for s in sorted(undef[m]):
        d = defined.get(s)
        if d is not None and d != m:
            edges[m][d].append(s)

for m in sorted(mods):
    calls = ", ".join("%s (%s)" % (d, " ".join(edges[m][d][:3]) +
                      (" ..." if len(edges[m][d]) > 3 else ""))
                      for d in sorted(edges[m]))
    print("# %-7s -> %s" % (m, calls or "-"))

# Strongly connected components (Tarjan); a component of more than one
# module holds a cycle.
index, low, stack, on, sccs = {}, {}, [], set(), []
def strong(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on.add(v)
    for w in edges[v]:
        if w not in index:
            strong(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        c = []
        while True:
            w = stack.pop()
            on.discard(w)
            c.append(w)
            if w == v:
                break
        sccs.append(c)
sys.setrecursionlimit(10000)
for v in sorted(mods):
    if v not in index:
        strong(v)
comp = {v: i for i, c in enumerate(sccs) for v in c}

# Levels over the condensed graph (a cycle's modules share one level).
level = {}
def lvl(i):
    if i not in level:
        level[i] = 0
        level[i] = 1 + max([lvl(comp[d]) for v in sccs[i] for d in edges[v]
                            if comp[d] != i] or [-1])
    return level[i]
by = collections.defaultdict(list)
for i, c in enumerate(sccs):
    by[lvl(i)].append(" ".join(sorted(c)) if len(c) == 1 else
                      "{" + " ".join(sorted(c)) + "}")
for n in sorted(by):
    print("# level %d: %s" % (n, "  ".join(sorted(by[n]))))

def path(a, b, members):
    """The shortest path a -> ... -> b inside members (BFS), or None."""
    prev = {a: None}
    q = collections.deque([a])
    while q:
        u = q.popleft()
        if u == b:
            p = [u]
            while prev[p[-1]] is not None:
                p.append(prev[p[-1]])
            return list(reversed(p))
        for w in sorted(edges[u]):
            if w in members and w not in prev:
                prev[w] = u
                q.append(w)
    return None

# The shortest cycle through each edge inside a component, each printed
# once (rotated to start at its smallest name).
cycles, seen = [], set()
for c in sccs:
    members = set(c)
    for u in sorted(c):
        for w in sorted(edges[u]):
            if w not in members or u == w:
                continue
            ring = [u] + path(w, u, members)[:-1]
            k = ring.index(min(ring))
            key = tuple(ring[k:] + ring[:k])
            if key not in seen:
                seen.add(key)
                cycles.append(list(key) + [key[0]])

if not cycles:
    print("ok - module graph: no cycle among the %d modules" % len(mods))
    sys.exit(0)
for cyc in sorted(cycles, key=lambda c: (len(c), c)):
    via = "; ".join("%s -> %s: %s" % (a, b, " ".join(edges[a][b][:3]))
                    for a, b in zip(cyc, cyc[1:]))
    print("not ok - module cycle: %s (%s)" % (" -> ".join(cyc), via))
sys.exit(1)
P
rc=$?
rm -f "${TMPDIR:-/tmp}/layers.$$"
exit $rc
