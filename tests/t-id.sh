#!/bin/bash
# The policy id as the admin sees it: --print-dns and the server agree,
# the same policy keeps its id across runs and restarts, a changed policy
# gets a new greater id, an unusable state_dir is a clear error, the
# state file of version 0.1 is taken over without a new announcement, and
# a damaged state file (bad id, cut short, an id far ahead, a directory,
# unreadable) is said with its path, moved aside and replaced while the
# server starts, serves, and keeps its ids increasing.
. "$(dirname "$0")/lib.sh"

domain_block() {
	printf 'domain example.com\nmode enforce\nmx %s\n' "$1"
}
domain_block mail.example.com | write_conf "$T/a.conf"
domain_block mx2.example.com | write_conf "$T/b.conf"
S=$T/state/state

dns_id() { "$BIN" -c "$1" --print-dns 2>/dev/null | sed -n 's/^_mta-sts\..* id=\([A-Za-z0-9]*\)".*/\1/p'; }
printed_id() { sed -n 's/^dns: _mta-sts\.example\.com\. IN TXT "v=STSv1; id=\([^"]*\)".*/\1/p' "$SOUT"; }
stored() { awk -v d="$1" '$1 == d { print $2, $4 }' "$S"; }

id1=$(dns_id "$T/a.conf")
ok "--print-dns prints an id of 1-32 letters/digits ($id1)" bash -c "[[ '$id1' =~ ^[0-9]{14}Z$ ]]"
eq "same config twice: same id" "$(dns_id "$T/a.conf")" "$id1"
id2=$(dns_id "$T/b.conf")
ok "changed mx: new, greater id ($id1 -> $id2)" bash -c "[[ '$id2' > '$id1' ]]"
id3=$(dns_id "$T/a.conf")
ok "changed back: greater again ($id2 -> $id3)" bash -c "[[ '$id3' > '$id2' ]]"
ok "state file: a version line, the domain's line, an end line" \
    bash -c "diff <(sed -E 's/[0-9a-f]{64}/H/' '$S') <(printf 'mtasts-httpd-state 1\nexample.com $id3 H 0\nend 1\n')"
eq "the lock file sits beside it" "$(ls "$T/state" | tr '\n' ' ')" "history state state.lock "

start_server "$T/a.conf" || exit 0
eq "the server announces the id --print-dns stored (the CLI announces nothing)" \
    "$(grep '^dns: _mta-sts' "$SOUT")" "dns: _mta-sts.example.com. IN TXT \"v=STSv1; id=$id3\" ; NEW id: publish this record"
ok "and marks it announced" wait_until 10 bash -c "[ \"\$(awk '\$1 == \"example.com\" { print \$4 }' '$S')\" = 1 ]"
stop_server
start_server "$T/a.conf" || exit 0
ok "restart keeps the id, announced: unchanged" grep -q "id=$id3\" ; id unchanged" "$SOUT"
stop_server

rm -rf "$T/state"
start_server "$T/a.conf" || exit 0
ok "fresh state: the server marks the id NEW" grep -q '; NEW id: publish this record$' "$SOUT"
sid=$(printed_id)
stop_server
eq "--print-dns agrees with the id the server minted" "$(dns_id "$T/a.conf")" "$sid"

# version 0.1 kept <domain>.state: taken over as announced, then removed
rm -rf "$T/state"
mkdir -p "$T/state"
h=$("$BIN" -c "$T/a.conf" --print-policy | sha256sum | cut -d' ' -f1)
printf '# mtasts-httpd: the published MTA-STS policy id; do not edit\nid 20261101000000Z\nsha256 %s\n' "$h" > "$T/state/example.com.state"
printf 'id 20261102000000Z\nsha256 %064d\n' 0 > "$T/state/gone.example.state"
start_server "$T/a.conf" || exit 0
eq "upgrade: the old file's id, not announced again" "$(grep '^dns: _mta-sts' "$SOUT")" \
    "dns: _mta-sts.example.com. IN TXT \"v=STSv1; id=20261101000000Z\" ; id unchanged"
eq "upgrade: every old file taken over, then removed" "$(ls "$T/state" | tr '\n' ' ')" "history state state.lock "
eq "upgrade: a domain no longer configured keeps its id" "$(stored gone.example)" "20261102000000Z 1"
stop_server

# state_dir under a regular file
touch "$T/file"
sed "s|^state_dir .*|state_dir $T/file/state|" "$T/a.conf" > "$T/bad.conf"
"$BIN" -c "$T/bad.conf" --print-dns > /dev/null 2> "$T/err"
eq "state_dir under a file: exit 1" "$?" 1
eq "state_dir under a file: message" "$(cat "$T/err")" "error: state_dir $T/file/state: Not a directory"
"$BIN" -c "$T/bad.conf" > /dev/null 2> "$T/err2"
eq "server refuses to start with it" "$?" 1
ok "server names the state_dir" grep -q "^error: state_dir $T/file/state: Not a directory" "$T/err2"
ok "before it binds a socket" bash -c "! grep -q '^listening on' '$T/err2'"

# a directory the (unprivileged) user may not write: root's own, or as a
# user one of its own without write permission
mkdir -p "$T/ro" "$T/rocerts"
cp "$CERTS/mta-sts.fullchain.crt" "$CERTS/mta-sts.key" "$T/rocerts/"
chmod 755 "$T/rocerts"
chmod 644 "$T/rocerts/"*
sed "s|^state_dir .*|state_dir $T/ro|; s|^cert .*|cert $T/rocerts/mta-sts.fullchain.crt|; s|^key .*|key $T/rocerts/mta-sts.key|" "$T/a.conf" > "$T/ro.conf"
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
	chmod 755 "$T" "$T/ro"
	chmod 644 "$T/ro.conf"
	ro=(setpriv --reuid=65534 --regid=65534 --clear-groups)
else
	chmod 555 "$T/ro"
	CLEANUP+=("chmod 755 '$T/ro'")
	ro=()
fi
if [ "$(id -u)" = 0 ] && [ ${#ro[@]} = 0 ]; then
	skip "read-only state_dir (as root it needs setpriv)"
else
	"${ro[@]}" "$BIN" -c "$T/ro.conf" --print-dns > /dev/null 2> "$T/err3"
	eq "read-only state_dir: exit 1" "$?" 1
	eq "read-only state_dir: message" "$(cat "$T/err3")" \
	    "error: state_dir $T/ro: cannot open the lock $T/ro/state.lock: Permission denied"
	"${ro[@]}" "$BIN" -c "$T/ro.conf" > /dev/null 2> "$T/err4"
	eq "read-only state_dir: the server refuses to start" "$?" 1
	ok "read-only state_dir: the server names the lock file" \
	    grep -q "^error: state_dir $T/ro: cannot open the lock $T/ro/state.lock: Permission denied" "$T/err4"
fi

# --- a damaged state file
# Each case starts the server on a state file damaged in one way, whose
# readable ids (up to a day ahead) the new id must still exceed.
ahead=$(date -u -d '+1 hour' +%Y%m%d%H%M%SZ)
H=$(printf '%064d' 0)
clock_past() { [[ "$(date -u +%Y%m%d%H%M%SZ)" > "$1" ]]; }
# logged CAUSE: the warning names the file, the cause, where it went
logged() {
	grep -F "warning: state file $S: " "$SERR" | grep -F -- "$1" |
	    grep -qF ": moved aside to $S.corrupt-"
}
# damaged DESC CAUSE FLOOR: the state is set up; start, check, restart
damaged() {
	local desc=$1 cause=$2 floor=$3 id
	start_server "$T/a.conf" || return
	ok "$desc: logged with the path and the cause" logged "$cause"
	ok "$desc: moved aside" test -e "$(ls -d "$S".corrupt-* 2> /dev/null | head -n 1)"
	eq "$desc: the server serves" "$(get -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt)" 200
	id=$(printed_id)
	ok "$desc: a new id in our form, announced as NEW ($id)" \
	    grep -qE '^dns: _mta-sts\.example\.com\. IN TXT "v=STSv1; id=[0-9]{14}Z" ; NEW id: publish this record$' "$SOUT"
	ok "$desc: above $floor" bash -c "[[ '$id' > '$floor' ]]"
	stop_server
	start_server "$T/a.conf" || return
	ok "$desc: the replaced file keeps it" grep -q "id=$id\" ; id unchanged" "$SOUT"
	ok "$desc: no warning the second time" bash -c "! grep -q 'state file' '$SERR'"
	stop_server
}
fresh() { rm -rf "$T/state"; mkdir -p "$T/state"; }

fresh
printf 'mtasts-httpd-state 1\nexample.com %s";id=x %s 1\nend 1\n' "$ahead" "$H" > "$S"
damaged "bad characters in the id" "line 2: id '$ahead\";id=x' is not of the form YYYYMMDDhhmmssZ" "$ahead"
ok "bad characters in the id: never printed" bash -c "! grep -q 'id=x' '$SOUT'"

fresh
printf 'mtasts-httpd-state 1\nexample.com %s %s 1\nend 1\n' "$ahead" "$H" | head -c 60 > "$S"
damaged "truncated file" "cut short: no newline at its end" "$ahead"

fresh
printf 'mtasts-httpd-state 1\ngone.example %s %s 1\nexample.com 99991231235959Z %s 1\nend 2\n' "$ahead" "$H" "$H" > "$S"
damaged "an id far ahead" "line 3: id 99991231235959Z is more than a day ahead of the clock" "$ahead"
ok "an id far ahead: not followed" bash -c "[[ '$(printed_id)' < 2100 ]]"

# Nothing can be read from these: the ids come from the clock, which
# must be past the last one first.
fresh
last=$(dns_id "$T/a.conf")
rm -f "$S"
mkdir "$S"
wait_until 3 clock_past "$last"
damaged "a directory in its place" "a directory, not a file" "$last"

# As root permissions do not stop a read: unreadable is a symbolic link
# to itself (ELOOP) or a FIFO (not a file; opened without blocking).
fresh
last=$(dns_id "$T/a.conf")
ln -sfn state "$S"
wait_until 3 clock_past "$last"
damaged "unreadable (a symbolic link loop)" "cannot be read: " "$last"	# ELOOP, in the libc's words

fresh
last=$(dns_id "$T/a.conf")
rm -f "$S"
mkfifo "$S"
wait_until 3 clock_past "$last"
damaged "unreadable (a FIFO)" "not a regular file" "$last"

# --print-dns repairs it the same way
fresh
printf 'mtasts-httpd-state 1\nexample.com 2026\n' > "$S"
"$BIN" -c "$T/a.conf" --print-dns > /dev/null 2> "$T/err5"
eq "--print-dns on a damaged file: exit 0" "$?" 0
ok "--print-dns on a damaged file: the warning" grep -qF "warning: state file $S: line 2: 'example.com 2026': expected 'domain id sha256 announced': moved aside to $S.corrupt-" "$T/err5"
done_testing
