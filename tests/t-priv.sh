#!/bin/bash
# Privileges: started as root with 'user', the server drops to it (uid,
# gid, groups, NoNewPrivs checked in /proc), keeps serving and reloading
# (certificates group-readable), and refuses a certificate it can no
# longer read with a clear message while the old one keeps serving.
# Started as non-root with CAP_NET_BIND_SERVICE it binds port 444.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! getent passwd nobody > /dev/null || ! command -v setpriv > /dev/null; then
	skip_all "privilege tests need root, user nobody and setpriv"
fi
gid=$(id -g nobody)
chmod 755 "$T"
mkdir -p "$T/certs"
cp "$CERTS/mta-sts.fullchain.crt" "$T/certs/cert.pem"
cp "$CERTS/mta-sts.key" "$T/certs/key.pem"
chgrp "$gid" "$T/certs/cert.pem" "$T/certs/key.pem"
chmod 640 "$T/certs/cert.pem" "$T/certs/key.pem"
CERT=$T/certs/cert.pem KEY=$T/certs/key.pem conf_v 1 "user nobody" > "$T/c.conf"
chmod 644 "$T/c.conf"
start_server "$T/c.conf" || exit 0

st=/proc/$SPID/status
eq "uid dropped (real, effective, saved, fs)" "$(awk '/^Uid:/ {print $2, $3, $4, $5}' "$st")" "$(id -u nobody) $(id -u nobody) $(id -u nobody) $(id -u nobody)"
eq "gid dropped" "$(awk '/^Gid:/ {print $2, $3, $4, $5}' "$st")" "$gid $gid $gid $gid"
eq "supplementary groups: only its own" "$(awk '/^Groups:/ {print $2}' "$st")" "$gid"
eq "NoNewPrivs set" "$(awk '/^NoNewPrivs:/ {print $2}' "$st")" 1
eq "no capabilities left" "$(awk '/^CapEff:/ {print $2}' "$st")" 0000000000000000
ok "the drop is logged" grep -q "^running as nobody (uid $(id -u nobody), gid $gid)$" "$SERR"
eq "serves after the drop" "$(get -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt)" 200

# a policy change after the drop: new id written, new policy served
n0=$(grep -c 'NEW id' "$SOUT")
CERT=$T/certs/cert.pem KEY=$T/certs/key.pem conf_v 2 "user nobody" > "$T/c.tmp" && mv "$T/c.tmp" "$T/c.conf"
new_id() { [ "$(grep -c 'NEW id' "$SOUT")" -gt "$n0" ]; }
wait_until 10 new_id
ok "reload after the drop: new policy served" bash -c "curl -s --cacert '$CERTS/ca.crt' --resolve mta-sts.example.com:$PORT:127.0.0.1 https://mta-sts.example.com:$PORT/.well-known/mta-sts.txt | grep -q 'mx: m2.example.com'"
eq "and its new id announced" "$(($(grep -c 'NEW id' "$SOUT") - n0))" 1
eq "the state file now belongs to nobody" "$(stat -c %U "$T/state/state")" nobody

# a renewed key the dropped server may not read: refused, old one kept
LEAF=second FORCE=1 sh certs/mkcert.sh "$CERTS" example.com > /dev/null
r0=$(grep -c 'reload failed' "$SERR")
cp "$CERTS/second.key" "$T/certs/key.tmp" && chmod 600 "$T/certs/key.tmp" && mv "$T/certs/key.tmp" "$T/certs/key.pem"
failed_past() { [ "$(grep -c 'reload failed' "$SERR")" -gt "$r0" ]; }
wait_until 10 failed_past
ok "unreadable key: clear message" grep -q "^error: key $T/certs/key.pem: Permission denied$" "$SERR"
eq "unreadable key: old certificate still served" "$(get -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt)" 200
stop_server

# non-root with CAP_NET_BIND_SERVICE: binds a privileged port, no drop
sed 's/^listen .*/listen 127.0.0.1:444/; /^user /d' "$T/c.conf" > "$T/cap.conf"
cp "$CERTS/mta-sts.key" "$T/certs/key.pem" && chgrp "$gid" "$T/certs/key.pem" && chmod 640 "$T/certs/key.pem"
chown -R nobody "$T/state"
chmod 644 "$T/cap.conf"
WRAP="setpriv --reuid=nobody --regid=$gid --clear-groups --inh-caps=+net_bind_service --ambient-caps=+net_bind_service" \
    start_server "$T/cap.conf" || exit 0
eq "non-root with CAP_NET_BIND_SERVICE listens on 444" "$PORT" 444
eq "and serves" "$(get -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt)" 200
eq "NoNewPrivs set there too" "$(awk '/^NoNewPrivs:/ {print $2}' "/proc/$SPID/status")" 1
stop_server
done_testing
