#!/bin/bash
# Live reload against the real binary: every way files get replaced,
# invalid configs, certificate swaps under a live keep-alive connection,
# announce-after-serve order, the hook, restart-only settings, SIGHUP,
# polling, bursts.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)

cp "$CERTS/mta-sts.fullchain.crt" "$T/cert.pem"
cp "$CERTS/mta-sts.key" "$T/key.pem"
LEAF=second FORCE=1 sh certs/mkcert.sh "$CERTS" example.com > /dev/null

nnew() { grep -c '^dns: _mta-sts\..*; NEW id' "$SOUT"; }
nreload() { grep -cE '^(reload done|error: reload failed)' "$SERR"; }
served_k() { get /.well-known/mta-sts.txt 2>/dev/null | sed -n 's/^mx: m\([0-9]*\)\.example\.com\r$/\1/p'; }
reloads_past() { [ "$(nreload)" -gt "$1" ]; }
# hup: SIGHUP the server, then wait (10 s at most) until that reload is
# done or has failed
hup() {
	local r0
	r0=$(nreload)
	kill -HUP "$SPID"
	wait_until 10 reloads_past "$r0"
}
news_past() { [ "$(nnew)" -gt "$1" ]; }
last_ids() { sed -n 's/^dns: _mta-sts\..* id=\([0-9A-Z]*\)".*/\1/p' "$SOUT"; }

# step DESC K CMD...: run CMD (which makes version K live), then expect
# version K served and exactly one new id printed for it.
step() {
	local desc=$1 k=$2 n0 r0
	shift 2
	n0=$(nnew)
	r0=$(nreload)
	"$@"
	if ! wait_until 10 reloads_past "$r0"; then
		fail "$desc: no reload within 10 s"
		return
	fi
	sleep 0.3	# a second announcement would show up by now
	eq "$desc: version $k served" "$(served_k)" "$k"
	eq "$desc: exactly one new id printed" "$(($(nnew) - n0))" 1
}

conf_v 0 > "$T/c.conf"
start_server "$T/c.conf" || exit 0
eq "version 0 served at start" "$(served_k)" 0

rename_over() { conf_v "$1" > "$T/c.conf.tmp" && mv "$T/c.conf.tmp" "$T/c.conf"; }
in_place() { conf_v "$1" > "$T/c.conf"; }
sed_i() { sed -i "s/^mx m[0-9]*\./mx m$1./" "$T/c.conf"; }
step "rename over" 1 rename_over 1
step "write in place" 2 in_place 2
step "sed -i" 3 sed_i 3

# symlink swap: c.conf becomes a link to v4, then is swapped to v5
conf_v 4 > "$T/v4.conf"
conf_v 5 > "$T/v5.conf"
step "replace the file by a symlink" 4 bash -c "ln -s '$T/v4.conf' '$T/c.tmp' && mv -T '$T/c.tmp' '$T/c.conf'"
step "symlink swapped (ln -sfn)" 5 ln -sfn "$T/v5.conf" "$T/c.conf"
step "symlink target edited in place" 6 bash -c "sed -i 's/^mx m5\./mx m6./' '$T/v5.conf'"

# delete, then create: the reload in between fails and keeps serving
r0=$(nreload)
rm "$T/c.conf"
wait_until 10 reloads_past "$r0"
ok "deleted config: reload fails, names the file" grep -q "^error: $T/c.conf: No such file or directory" "$SERR"
eq "deleted config: version 6 still served" "$(served_k)" 6
step "created again" 7 in_place 7

# invalid config: old policy and id kept; a fix is picked up
ids_before=$(last_ids | tail -n 1)
n0=$(nnew)
r0=$(nreload)
{ conf_v 8; echo "mx 192.0.2.1"; } > "$T/c.tmp" && mv "$T/c.tmp" "$T/c.conf"
wait_until 10 reloads_past "$r0"
ok "invalid config: error with file:line" grep -q "^error: $T/c.conf:10: mx '192.0.2.1' is an IP address" "$SERR"
ok "invalid config: 'still serving' said" grep -q '^error: reload failed: still serving the previous configuration' "$SERR"
eq "invalid config: old policy served" "$(served_k)" 7
eq "invalid config: no new id" "$(nnew)" "$n0"
eq "invalid config: id unchanged on disk" "$(awk '$1 == "example.com" { print $2 }' "$T/state/state")" "$ids_before"
step "fixed config picked up" 9 rename_over 9

# ids printed so far strictly increase
prev=""
mono=1
for id in $(last_ids); do
	[ -z "$prev" ] || [[ "$id" > "$prev" ]] || mono=0
	prev=$id
done
ok "printed ids strictly increase ($(last_ids | wc -l) ids)" test "$mono" = 1

# --- announce after serve: once the line is out, the new policy is live
order_ok=1
for k in 10 11 12 13 14; do
	n0=$(nnew)
	rename_over "$k"
	wait_until 10 news_past "$n0"
	got=$(served_k)	# right after the line appeared
	[ "$got" = "$k" ] || { order_ok=0; echo "# line for $k out, but $got served"; }
done
ok "every announcement came after its policy was live (5 changes)" test "$order_ok" = 1

# --- certificate swap: new handshakes see it, the old connection lives on
fp_of() { openssl x509 -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f | cut -c1-16; }
fp() { fp_of < "$1"; }
served_fp() {	# of the certificate a new handshake gets
	timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername mta-sts.example.com < /dev/null 2>/dev/null | fp_of
}
serves_fp() { [ "$(served_fp)" = "$1" ]; }
coproc KA { python3 "$here/https_client.py" keepalive "$PORT" "$CERTS/ca.crt"; }
echo go >&"${KA[1]}"
read -r -t 10 st1 fp1 body1 <&"${KA[0]}"
eq "keep-alive connection: first request" "$st1 $fp1" "200 $(fp "$T/cert.pem")"
n0=$(nnew)
r0=$(nreload)
cp "$CERTS/second.fullchain.crt" "$T/cert.tmp" && cp "$CERTS/second.key" "$T/key.tmp"
mv "$T/key.tmp" "$T/key.pem" && mv "$T/cert.tmp" "$T/cert.pem"
wait_until 10 serves_fp "$(fp "$CERTS/second.fullchain.crt")"
eq "new s_client connection gets the new certificate" "$(served_fp)" "$(fp "$CERTS/second.fullchain.crt")"
echo go >&"${KA[1]}"
read -r -t 10 st2 fp2 body2 <&"${KA[0]}"
eq "old keep-alive connection still answers, on its old certificate" "$st2 $fp2" "200 $fp1"
eq "certificate-only change: no new id" "$(nnew)" "$n0"
exec {KA[1]}>&-
wait "$KA_PID" 2>/dev/null

# --- restart-only settings: reported, the rest applied
n0=$(nnew)
r0=$(nreload)
LPORT=1 conf_v 15 "max_connections 99" > "$T/c.tmp" && mv "$T/c.tmp" "$T/c.conf"
wait_until 10 reloads_past "$r0"
ok "listen change: needs a restart" grep -q "^warning: $T/c.conf: 'listen' changed: restart mtasts-httpd to apply it; the rest of the change is applied" "$SERR"
ok "max_connections change: needs a restart" grep -q "'max_connections' changed: restart" "$SERR"
eq "the rest of that reload applied" "$(served_k)" 15

# --- bursts: five quick writes are one reload and one id
n0=$(nnew)
r0=$(nreload)
for k in 16 17 18 19 20; do rename_over "$k"; done
wait_until 10 reloads_past "$r0"
sleep 1.5	# not a wait: a second reload would have come by now
eq "burst of 5 writes: one reload" "$(($(nreload) - r0))" 1
eq "burst of 5 writes: one new id" "$(($(nnew) - n0))" 1
eq "burst: the last version served" "$(served_k)" 20
stop_server

# --- the hook
cat > "$T/hook-ok" <<H
#!/bin/sh
env | grep '^MTASTS_' | sort > "$T/hook.env"
port=\$(cat "$T/port")
curl -s --cacert "$CERTS/ca.crt" --resolve "mta-sts.example.com:\$port:127.0.0.1" \
    "https://mta-sts.example.com:\$port/.well-known/mta-sts.txt" > "$T/hook.policy"
echo "pushed \$MTASTS_RECORD_NAME"
H
cat > "$T/hook-fail" <<'H'
#!/bin/sh
echo "nsupdate: REFUSED" >&2
exit 3
H
cat > "$T/hook-hang" <<H
#!/bin/sh
sleep 300 &
echo \$! > "$T/hook-hang.pid"
wait
H
chmod +x "$T"/hook-*
conf_v 30 "hook $T/hook-ok" > "$T/c.conf"
start_server "$T/c.conf" || exit 0
echo "$PORT" > "$T/port"	# the hook fetches the policy itself
conf_v 31 "hook $T/hook-ok" > "$T/c.tmp" && mv "$T/c.tmp" "$T/c.conf"
wait_until 10 test -s "$T/hook.policy"
wait_until 10 grep -q 'hook example.com: exit 0' "$SERR"
id=$(last_ids | tail -n 1)
eq "hook variables" "$(cat "$T/hook.env" 2>/dev/null | tr '\n' '|')" \
    "MTASTS_DOMAIN=example.com|MTASTS_ID=$id|MTASTS_MAX_AGE=86400|MTASTS_MODE=testing|MTASTS_RECORD=_mta-sts.example.com. IN TXT \"v=STSv1; id=$id\"|MTASTS_RECORD_NAME=_mta-sts.example.com.|MTASTS_RECORD_VALUE=v=STSv1; id=$id|"
ok "the hook already gets the new policy" grep -q 'mx: m31.example.com' "$T/hook.policy"
ok "hook output logged" grep -q '^hook example.com: pushed _mta-sts.example.com.$' "$SERR"

conf_v 32 "hook $T/hook-fail" > "$T/c.tmp" && mv "$T/c.tmp" "$T/c.conf"
wait_until 10 grep -q 'hook example.com: failed, exit 3' "$SERR"
ok "failing hook: exit status logged" grep -q '^warning: hook example.com: failed, exit 3$' "$SERR"
ok "failing hook: its stderr logged" grep -q '^hook example.com: nsupdate: REFUSED$' "$SERR"
eq "failing hook changes nothing else" "$(served_k)" 32

conf_v 33 "hook $T/hook-hang" "hook_timeout 1" > "$T/c.tmp" && mv "$T/c.tmp" "$T/c.conf"
wait_until 10 grep -q 'hook example.com: killed after its timeout' "$SERR"
ok "hanging hook killed at its timeout" grep -q '^warning: hook example.com: killed after its timeout$' "$SERR"
hp=$(cat "$T/hook-hang.pid")
gone() { ! grep -q '^State:.*[RSD]' "/proc/$1/status" 2>/dev/null; }
ok "and what it started is gone too" wait_until 5 gone "$hp"
eq "served while the hook hung" "$(served_k)" 33
stop_server

# --- watch none + SIGHUP; watch poll
conf_v 40 "watch none" > "$T/c.conf"
start_server "$T/c.conf" || exit 0
conf_v 41 "watch none" > "$T/c.tmp" && mv "$T/c.tmp" "$T/c.conf"
sleep 1	# not a wait: a reload would have come by now
eq "watch none: a change alone is not applied" "$(served_k)" 40
hup
eq "SIGHUP applies it" "$(served_k)" 41
stop_server

conf_v 50 "watch poll" > "$T/c.conf"
start_server "$T/c.conf" || exit 0
conf_v 51 "watch poll" > "$T/c.tmp" && mv "$T/c.tmp" "$T/c.conf"
wait_until 20 reloads_past 0
eq "watch poll: change seen" "$(served_k)" 51
stop_server

# --- ConfigMap-style ..data flip, and a certbot-style certificate link
cm=$T/cm
mkdir -p "$cm/..v1" "$T/le/live" "$T/le/archive"
cp "$CERTS/mta-sts.fullchain.crt" "$T/le/archive/fullchain1.pem"
cp "$CERTS/mta-sts.key" "$T/le/archive/privkey1.pem"
cp "$CERTS/second.fullchain.crt" "$T/le/archive/fullchain2.pem"
cp "$CERTS/second.key" "$T/le/archive/privkey2.pem"
ln -s ../archive/fullchain1.pem "$T/le/live/fullchain.pem"
ln -s ../archive/privkey1.pem "$T/le/live/privkey.pem"
CERT=$T/le/live/fullchain.pem KEY=$T/le/live/privkey.pem conf_v 60 > "$cm/..v1/mtasts.conf"
ln -s ..v1 "$cm/..data"
ln -s ..data/mtasts.conf "$cm/mtasts.conf"
start_server "$cm/mtasts.conf" || exit 0
flip() {
	mkdir "$cm/..v2"
	CERT=$T/le/live/fullchain.pem KEY=$T/le/live/privkey.pem conf_v 61 > "$cm/..v2/mtasts.conf"
	ln -s ..v2 "$cm/..data_tmp"
	mv -T "$cm/..data_tmp" "$cm/..data"
	rm -rf "$cm/..v1"
}
step "ConfigMap ..data flip" 61 flip
n0=$(nnew)
r0=$(nreload)
ln -s ../archive/privkey2.pem "$T/le/live/privkey.tmp" && mv -T "$T/le/live/privkey.tmp" "$T/le/live/privkey.pem"
ln -s ../archive/fullchain2.pem "$T/le/live/fullchain.tmp" && mv -T "$T/le/live/fullchain.tmp" "$T/le/live/fullchain.pem"
ok "certbot-style symlink renewal: new certificate served" \
    wait_until 10 serves_fp "$(fp "$CERTS/second.fullchain.crt")"
eq "certbot-style renewal: no new id" "$(nnew)" "$n0"
stop_server

# --- a failed reload that also changed 'listen' leaves the running
# listen bookkeeping alone (issue 14): the original config is no change
big_policy() { for i in $(seq 2000); do echo "mx m$i.a-label-long-enough-to-fill-the-policy.example.com"; done; }
conf_v 70 "watch none" > "$T/c.conf"
start_server "$T/c.conf" || exit 0
{ LPORT=1 conf_v 71 "watch none"; big_policy; } > "$T/c.tmp" && mv "$T/c.tmp" "$T/c.conf"
hup
ok "listen change and a policy over 64 KiB: the reload fails" grep -q '^error: reload failed' "$SERR"
eq "the listen change was reported once" "$(grep -c "'listen' changed" "$SERR")" 1
conf_v 72 "watch none" > "$T/c.tmp" && mv "$T/c.tmp" "$T/c.conf"
hup
eq "the original listen again: no 'listen' warning" "$(grep -c "'listen' changed" "$SERR")" 1
eq "that reload applied" "$(served_k)" 72
LPORT=1 conf_v 73 "watch none" > "$T/c.tmp" && mv "$T/c.tmp" "$T/c.conf"
hup
eq "a listen change that succeeds is still reported" "$(grep -c "'listen' changed" "$SERR")" 2
conf_v 74 "watch none" > "$T/c.tmp" && mv "$T/c.tmp" "$T/c.conf"
hup
eq "and going back from it is no change either" "$(grep -c "'listen' changed" "$SERR")" 2
eq "served the last version" "$(served_k)" 74
stop_server
done_testing
