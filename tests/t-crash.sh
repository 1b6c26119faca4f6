#!/bin/bash
# Crash safety: kill -9 the server at random moments while the config
# changes (and is reloaded) about four times a second; after every kill the state file parses and the id
# never went backwards, and the restarted server agrees with the file.
. "$(dirname "$0")/lib.sh"

CERT=$CERTS/mta-sts.fullchain.crt KEY=$CERTS/mta-sts.key
conf_v 0 > "$T/c.conf"
echo 0 > "$T/k"
writer() {	# a change every ~230 ms: each one its own reload
	local k j
	for j in $(seq 20); do
		k=$(($(cat "$T/k") + 1))
		echo "$k" > "$T/k"
		conf_v "$k" > "$T/c.tmp" && mv "$T/c.tmp" "$T/c.conf"
		sleep 0.$((200 + RANDOM % 60))
	done
}

prev=""
reloads=0
parsed=1
mono=1
agree=1
for i in $(seq 12); do
	start_server "$T/c.conf" || break
	started=$(sed -n 's/^dns: _mta-sts\..* id=\([0-9A-Z]*\)".*/\1/p' "$SOUT" | head -n 1)
	[ -z "$prev" ] || [[ ! "$started" < "$prev" ]] || { mono=0; echo "# restart went back: $prev -> $started"; }
	writer &
	wpid=$!
	sleep "$((RANDOM % 2)).$((RANDOM % 10))"	# 0 to 1.9 s
	kill -KILL "$SPID"
	wait "$SPID" 2> /dev/null
	SPID=""
	reloads=$((reloads + $(grep -c '^reload done' "$SERR")))
	kill "$wpid" 2> /dev/null
	wait "$wpid" 2> /dev/null
	f=$T/state/example.com.state
	if ! grep -qE '^id [0-9]{14}Z$' "$f" || ! grep -qE '^sha256 [0-9a-f]{64}$' "$f"; then
		parsed=0
		echo "# kill $i: state file does not parse: $(tr '\n' '|' < "$f")"
	fi
	id=$(sed -n 's/^id //p' "$f")
	[ -z "$prev" ] || [[ ! "$id" < "$prev" ]] || { mono=0; echo "# kill $i: id went back: $prev -> $id"; }
	prev=$id
	# What the file says is what --print-dns says for the config as it is
	# now, unless the config changed after the last reload: then newer.
	pd=$("$BIN" -c "$T/c.conf" --print-dns 2> /dev/null | sed -n 's/^_mta-sts\..* id=\([0-9A-Z]*\)".*/\1/p')
	[[ ! "$pd" < "$id" ]] || { agree=0; echo "# kill $i: --print-dns $pd older than file $id"; }
	prev=$pd
done
ok "reloads were under way when the kills came ($reloads done in all)" test "$reloads" -gt 0
ok "state file parses after every kill -9 (12 kills)" test "$parsed" = 1
ok "the id never went backwards" test "$mono" = 1
ok "--print-dns never older than the file" test "$agree" = 1
