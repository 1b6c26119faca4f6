#!/bin/bash
# Every new id is announced (its record printed as NEW, the hook run and
# succeeded) at least once, and only after its policy is served:
#  (a) the hook runs at start-up when the start-up id is new;
#  (b) a start that fails (busy port) stores no id: the next start
#      announces it;
#  (c) a reload whose state write fails moves no domain: old policies and
#      ids stay, the next start announces the new ones;
#  an id stored by --print-dns is announced by the server; --print-dns
#  and the server never mint two ids for one policy; a failing hook is
#  retried with backoff (1 min doubling to 1 h, each try logged), tried
#  again at every reload, until it succeeds or a newer id supersedes it.
# (d), kill -9 after SIGHUP, is in t-crash.sh.
. "$(dirname "$0")/lib.sh"

CERT=$CERTS/mta-sts.fullchain.crt KEY=$CERTS/mta-sts.key
S=$T/state/state
cat > "$T/hook" <<H
#!/bin/sh
echo "\$MTASTS_DOMAIN \$MTASTS_ID" >> "$T/hook.log"
H
chmod +x "$T/hook"
: > "$T/hook.log"

new_ids() { sed -n 's/^dns: _mta-sts\.\([a-z.]*\)\. IN TXT "v=STSv1; id=\([0-9A-Z]*\)" ; NEW id.*/\1 \2/p' "$SOUT"; }
flag() { awk -v d="$1" '$1 == d { print $4 }' "$S"; }
stored() { awk -v d="$1" '$1 == d { print $2 }' "$S"; }
hooked() { grep -qx "$1 $2" "$T/hook.log"; }
announced() { [ "$(flag "$1")" = 1 ]; }

# --- (a) the hook at start-up: the container re-created with a new MX
conf_v 1 "hook $T/hook" > "$T/c.conf"
start_server "$T/c.conf" || exit 0
id1=$(stored example.com)
ok "(a) first start: the hook gets the new id" wait_until 10 hooked example.com "$id1"
ok "(a) then it is marked announced" wait_until 10 announced example.com
stop_server
conf_v 2 "hook $T/hook" > "$T/c.conf"
: > "$T/hook.log"
start_server "$T/c.conf" || exit 0
id2=$(stored example.com)
eq "(a) restart with a new policy: NEW printed" "$(new_ids)" "example.com $id2"
ok "(a) and the hook runs at start-up with that id" wait_until 10 hooked example.com "$id2"
ok "(a) marked announced once the hook succeeded" wait_until 10 announced example.com
ok "(a) greater than the last ($id1 -> $id2)" bash -c "[[ '$id2' > '$id1' ]]"
stop_server
: > "$T/hook.log"
start_server "$T/c.conf" || exit 0
eq "(a) restart unchanged: no NEW" "$(new_ids)" ""
sleep 0.3	# not a wait: a hook would have logged by now
eq "(a) restart unchanged: no hook" "$(cat "$T/hook.log")" ""
stop_server

# --- (b) a start that fails on a busy port stores nothing
LPORT=$(free_port)
export LPORT
conf_v 3 "hook $T/hook" > "$T/c.conf"
start_server "$T/c.conf" || exit 0	# holds the port
keep=$SPID keep_out=$SOUT keep_err=$SERR
conf_v 4 "hook $T/hook" > "$T/d.conf"
id3=$(stored example.com)
timeout 20 "$BIN" -c "$T/d.conf" > "$T/b.out" 2> "$T/b.err"
eq "(b) second server on the busy port: exit 1" "$?" 1
ok "(b) it says why" grep -qi 'address.* in use' "$T/b.err"	# glibc "already", musl not
eq "(b) the state file still holds the served id" "$(stored example.com) $(flag example.com)" "$id3 1"
ok "(b) it printed no record" test ! -s "$T/b.out"
SPID=$keep SOUT=$keep_out SERR=$keep_err stop_server
: > "$T/hook.log"
start_server "$T/d.conf" || exit 0
id4=$(stored example.com)
eq "(b) the next good start: a NEW id" "$(new_ids)" "example.com $id4"
ok "(b) greater than the last ($id3 -> $id4)" bash -c "[[ '$id4' > '$id3' ]]"
ok "(b) and the hook ran for it" wait_until 10 hooked example.com "$id4"
stop_server
unset LPORT

# --- (c) two domains change in one reload; the state write fails
two() {	# two K: example.com and example.net at version K
	printf 'listen 127.0.0.1:0\ncert %s\nkey %s\nstate_dir %s\ncheck_interval 0\nwatch none\n' "$CERT" "$KEY" "$T/state"
	printf 'domain example.com\nmode testing\nmx m%d.example.com\n' "$1"
	printf 'domain example.net\nmode testing\nmx m%d.example.net\n' "$1"
}
served() {	# served DOMAIN: the version it serves
	curl -sS --max-time 10 --cacert "$CERTS/ca.crt" --resolve "mta-sts.$1:$PORT:127.0.0.1" \
	    "https://mta-sts.$1:$PORT/.well-known/mta-sts.txt" | sed -n 's/^mx: m\([0-9]*\)\..*\r$/\1/p'
}
nfailed() { grep -c '^error: reload failed' "$SERR"; }
failed_past() { [ "$(nfailed)" -gt "$1" ]; }
two 5 > "$T/two.conf"
start_server "$T/two.conf" || exit 0
com=$(stored example.com) net=$(stored example.net)
wait_until 10 announced example.net
mkdir "$S.tmp"	# the write of the new file fails: EISDIR
two 6 > "$T/two.conf"
r0=$(nfailed)
n0=$(new_ids | wc -l)
kill -HUP "$SPID"
ok "(c) the reload fails" wait_until 10 failed_past "$r0"
ok "(c) the error names the file" grep -q "^error: state_dir $T/state: cannot write $S.tmp: Is a directory$" "$SERR"
eq "(c) both domains still serve the old policy" "$(served example.com) $(served example.net)" "5 5"
eq "(c) neither id moved" "$(stored example.com) $(stored example.net)" "$com $net"
eq "(c) nothing announced" "$(new_ids | wc -l)" "$n0"
stop_server
rmdir "$S.tmp"
start_server "$T/two.conf" || exit 0
eq "(c) the next start announces both new ids" "$(new_ids | cut -d' ' -f1 | tr '\n' ' ')" "example.com example.net "
ok "(c) both greater" bash -c "[[ '$(stored example.com)' > '$com' && '$(stored example.net)' > '$net' ]]"
eq "(c) and serves both new policies" "$(served example.com) $(served example.net)" "6 6"
stop_server

# --- an id first stored by --print-dns is announced by the server
conf_v 7 "hook $T/hook" "watch none" > "$T/c.conf"
start_server "$T/c.conf" || exit 0
conf_v 8 "hook $T/hook" "watch none" > "$T/c.conf"
: > "$T/hook.log"
pd=$("$BIN" -c "$T/c.conf" --print-dns | sed -n 's/^_mta-sts.* id=\([0-9A-Z]*\)".*/\1/p')
eq "--print-dns stores its id as not announced" "$(stored example.com) $(flag example.com)" "$pd 0"
r0=$(grep -c '^reload done' "$SERR")
kill -HUP "$SPID"
wait_until 10 bash -c "[ \$(grep -c '^reload done' '$SERR') -gt $r0 ]"
eq "the server announces --print-dns's id as NEW" "$(new_ids | tail -n 1)" "example.com $pd"
ok "and runs the hook for it" wait_until 10 hooked example.com "$pd"
ok "and marks it announced" wait_until 10 announced example.com
# Several --print-dns at once and a reload, on a new policy: one id.
conf_v 9 "hook $T/hook" "watch none" > "$T/c.conf"
pids=()
for j in 1 2 3 4 5; do
	timeout 30 "$BIN" -c "$T/c.conf" --print-dns > "$T/pd.$j" 2>&1 &
	pids+=($!)
done
kill -HUP "$SPID"
wait "${pids[@]}"
ids=$(cat "$T"/pd.* | sed -n 's/^_mta-sts.* id=\([0-9A-Z]*\)".*/\1/p' | sort -u)
eq "five --print-dns and a reload at once: one id" "$(echo "$ids" | wc -l)" 1
ok "and the server announces that one" wait_until 10 bash -c "grep -q 'id=$ids\" ; NEW id' '$SOUT'"
stop_server

# --- a failing hook: retried with backoff, again at every reload
cat > "$T/hook-flaky" <<H
#!/bin/sh
echo "\$MTASTS_DOMAIN \$MTASTS_ID" >> "$T/hook.log"
[ -e "$T/hook-ok" ] || { echo "nsupdate: REFUSED" >&2; exit 3; }
H
chmod +x "$T/hook-flaky"
rm -f "$T/hook-ok"
: > "$T/hook.log"
conf_v 10 "hook $T/hook-flaky" "watch none" > "$T/c.conf"
start_server "$T/c.conf" || exit 0
id10=$(stored example.com)
retry() { grep -c "^warning: example.com: id $id10 not announced yet (the hook failed, exit 3): try" "$SERR"; }
retries_past() { [ "$(retry)" -ge "$1" ]; }
ok "failing hook at start: a retry is scheduled in 60 s" wait_until 10 grep -q "^warning: example.com: id $id10 not announced yet (the hook failed, exit 3): try 2 in 60 s$" "$SERR"
eq "not marked announced" "$(flag example.com)" 0
# each reload announces it again (NEW printed, hook run): the delays double
for n in 2 3 4 5 6 7; do
	kill -HUP "$SPID"
	wait_until 10 retries_past "$n" || break
done
eq "each try logged; the delay doubles up to an hour" \
    "$(grep -o "try [0-9]* in [0-9]* s" "$SERR" | tr '\n' ',')" \
    "try 2 in 60 s,try 3 in 120 s,try 4 in 240 s,try 5 in 480 s,try 6 in 960 s,try 7 in 1920 s,try 8 in 3600 s,"
ok "the retries are logged as such" grep -q "^hook example.com: try 7 for id $id10$" "$SERR"
eq "every reload printed it as NEW again" "$(new_ids | grep -c " $id10$")" 7
touch "$T/hook-ok"
kill -HUP "$SPID"
ok "once the hook succeeds: marked announced" wait_until 10 announced example.com
eq "the hook ran once per try (it may run more than once per id)" "$(grep -c " $id10$" "$T/hook.log")" 8
stop_server
start_server "$T/c.conf" || exit 0
eq "after that a restart announces nothing" "$(new_ids)" ""
stop_server

# a newer id supersedes a failing one: its retries stop
rm -f "$T/hook-ok"
conf_v 11 "hook $T/hook-flaky" "watch none" > "$T/c.conf"
start_server "$T/c.conf" || exit 0
id11=$(stored example.com)
wait_until 10 grep -q "id $id11 not announced yet" "$SERR"
touch "$T/hook-ok"
conf_v 12 "hook $T/hook-flaky" "watch none" > "$T/c.conf"
kill -HUP "$SPID"
wait_until 10 grep -q '^reload done' "$SERR"
ok "a newer id: the pending one is superseded" grep -q "^example.com: id $id11 superseded by $(stored example.com) before its announcement was done$" "$SERR"
ok "the newer one announced" wait_until 10 announced example.com
stop_server

# a hook that hangs is killed at its timeout, and retried
cat > "$T/hook-hang" <<H
#!/bin/sh
exec sleep 30
H
chmod +x "$T/hook-hang"
conf_v 13 "hook $T/hook-hang" "hook_timeout 1" "watch none" > "$T/c.conf"
start_server "$T/c.conf" || exit 0
ok "a hook killed at its timeout: retried" wait_until 10 grep -q "^warning: example.com: id $(stored example.com) not announced yet (the hook was killed): try 2 in 60 s$" "$SERR"
stop_server
done_testing
