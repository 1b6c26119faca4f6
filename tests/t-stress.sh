#!/bin/bash
# Reloads under load: a client makes at least 2000 requests (fresh
# connections, 4 keep-alive requests each) while 52 reloads happen in
# cycles of valid change, invalid config, fix, certificate swap. Zero
# failed requests, every body a complete policy, never an older policy
# once a newer one was served, printed ids strictly increasing.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)

LEAF=second FORCE=1 sh certs/mkcert.sh "$CERTS" example.com > /dev/null
cp "$CERTS/mta-sts.fullchain.crt" "$T/cert.pem"
cp "$CERTS/mta-sts.key" "$T/key.pem"
conf_v 0 > "$T/c.conf"
start_server "$T/c.conf" || exit 0

nreload() { grep -cE '^(reload done|error: reload failed)' "$SERR"; }
reloads_past() { [ "$(nreload)" -gt "$1" ]; }
put() { cat > "$T/tmp" && mv "$T/tmp" "$1"; }
reload_and_wait() {	# CMD...: make a change, wait (10 s at most) for its reload
	local r0
	r0=$(nreload)
	"$@"
	wait_until 10 reloads_past "$r0" || echo "# no reload after: $*"
}
swap_cert() {
	local leaf=$1
	cp "$CERTS/$leaf.fullchain.crt" "$T/c.tmp"
	cp "$CERTS/$leaf.key" "$T/k.tmp"
	mv "$T/k.tmp" "$T/key.pem"
	mv "$T/c.tmp" "$T/cert.pem"
}

python3 "$here/https_client.py" stress "$PORT" "$CERTS/ca.crt" "$T/done" 2000 300 > "$T/client.out" 2>&1 &
cpid=$!
k=0
for cycle in $(seq 13); do
	k=$((k + 1))
	reload_and_wait put "$T/c.conf" < <(conf_v "$k")
	reload_and_wait put "$T/c.conf" < <(conf_v 999; echo "mode sometimes")
	k=$((k + 1))
	reload_and_wait put "$T/c.conf" < <(conf_v "$k")
	if [ $((cycle % 2)) = 1 ]; then
		reload_and_wait swap_cert second
	else
		reload_and_wait swap_cert mta-sts
	fi
done
touch "$T/done"
wait "$cpid"
rc=$?
tail -n 5 "$T/client.out" | sed 's/^/# /'
eq "client: no failed, incomplete, wrong or older responses" "$rc" 0
summary=$(tail -n 1 "$T/client.out")
n=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<< "$summary")
ok "at least 2000 requests ($n)" test "${n:-0}" -ge 2000
reloads=$(nreload)
ok "at least 50 reloads ($reloads)" test "$reloads" -ge 50
eq "invalid configs rejected" "$(grep -c '^error: reload failed' "$SERR")" 13
ids=$(sed -n 's/^dns: _mta-sts\..* id=\([0-9A-Z]*\)".*/\1/p' "$SOUT")
eq "one id per policy version (start + $k changes)" "$(wc -l <<< "$ids")" $((k + 1))
sort -c <(echo "$ids") 2>/dev/null && [ "$(sort -u <<< "$ids" | wc -l)" = "$(wc -l <<< "$ids")" ]
eq "printed ids strictly increase" "$?" 0
eq "last version served" "$(get /.well-known/mta-sts.txt | sed -n 's/^mx: m\([0-9]*\)\..*/\1/p')" "$k"
stop_server
done_testing
