#!/bin/bash
# The policy id as the admin sees it: --print-dns and the server agree,
# the same policy keeps its id across runs and restarts, a changed policy
# gets a new greater id, and an unusable state_dir is a clear error.
. "$(dirname "$0")/lib.sh"

domain_block() {
	printf 'domain example.com\nmode enforce\nmx %s\n' "$1"
}
domain_block mail.example.com | write_conf "$T/a.conf"
domain_block mx2.example.com | write_conf "$T/b.conf"

dns_id() { "$BIN" -c "$1" --print-dns 2>/dev/null | sed -n 's/^_mta-sts\..* id=\([A-Za-z0-9]*\)".*/\1/p'; }

id1=$(dns_id "$T/a.conf")
ok "--print-dns prints an id of 1-32 letters/digits ($id1)" bash -c "[[ '$id1' =~ ^[0-9]{14}Z$ ]]"
eq "same config twice: same id" "$(dns_id "$T/a.conf")" "$id1"
id2=$(dns_id "$T/b.conf")
ok "changed mx: new, greater id ($id1 -> $id2)" bash -c "[[ '$id2' > '$id1' ]]"
id3=$(dns_id "$T/a.conf")
ok "changed back: greater again ($id2 -> $id3)" bash -c "[[ '$id3' > '$id2' ]]"
ok "state file holds the id and a hash" grep -q "^id $id3\$" "$T/state/example.com.state"

start_server "$T/a.conf" || exit 0
line=$(grep '^dns: _mta-sts' "$SOUT")
eq "server announces the id --print-dns gave" "$line" "dns: _mta-sts.example.com. IN TXT \"v=STSv1; id=$id3\" ; id unchanged"
stop_server
start_server "$T/a.conf" || exit 0
ok "restart keeps the id" grep -q "id=$id3\" ; id unchanged" "$SOUT"
stop_server

rm -rf "$T/state"
start_server "$T/a.conf" || exit 0
ok "fresh state: the server marks the id NEW" grep -q '; NEW id: publish this record$' "$SOUT"
sid=$(sed -n 's/^dns: _mta-sts.* id=\([0-9A-Z]*\)".*/\1/p' "$SOUT")
stop_server
eq "--print-dns agrees with the id the server minted" "$(dns_id "$T/a.conf")" "$sid"

# state_dir under a regular file
touch "$T/file"
sed "s|^state_dir .*|state_dir $T/file/state|" "$T/a.conf" > "$T/bad.conf"
"$BIN" -c "$T/bad.conf" --print-dns > /dev/null 2> "$T/err"
eq "state_dir under a file: exit 1" "$?" 1
eq "state_dir under a file: message" "$(cat "$T/err")" "error: state_dir $T/file/state: Not a directory"
"$BIN" -c "$T/bad.conf" > /dev/null 2> "$T/err2"
eq "server refuses to start with it" "$?" 1
ok "server names the state_dir" grep -q "^error: state_dir $T/file/state: Not a directory" "$T/err2"

# a directory the (unprivileged) user may not write
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
	mkdir -p "$T/ro"
	chmod 755 "$T" "$T/ro"
	sed "s|^state_dir .*|state_dir $T/ro|" "$T/a.conf" > "$T/ro.conf"
	chmod 644 "$T/ro.conf"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN" -c "$T/ro.conf" --print-dns > /dev/null 2> "$T/err3"
	eq "read-only state_dir: exit 1" "$?" 1
	eq "read-only state_dir: message" "$(cat "$T/err3")" \
	    "error: state_dir $T/ro: cannot write $T/ro/example.com.state.tmp: Permission denied"
else
	skip "read-only state_dir (needs root and setpriv)"
fi
