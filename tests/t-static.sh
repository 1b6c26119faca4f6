#!/bin/bash
# The static build (make static: musl, mbedTLS 3.6 and libmicrohttpd 1.0.1
# without HTTPS) in an empty root: nothing but the binary, its config,
# certificate, key and a state directory; no /etc, no /dev. Served over
# TLS, stopped by SIGTERM. Runs once, in the plain build's pass.
. "$(dirname "$0")/lib.sh"
[ "${FIRST:-1}" = 1 ] || skip_all
top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/build-static/mtasts-httpd
if [ ! -x "$bin" ]; then
	fail "build-static/mtasts-httpd missing (make static)"
	exit 0
fi
ok "static: statically linked" bash -c "file -L '$bin' | grep -q 'statically linked'"
ok "static: the image's root has the binary and the CA bundle" \
    test -x "$top/build-static/rootfs/mtasts-httpd" -a -s "$top/build-static/rootfs/etc/ssl/certs/ca-certificates.crt"
strip -o "$T/stripped" "$bin"
echo "# static (musl): stripped binary $(stat -c %s "$T/stripped") bytes ($("$bin" --version))"

root=$T/root
mkdir -p "$root/etc-mtasts" "$root/state"
cp "$T/stripped" "$root/mtasts-httpd"
cp "$CERTS/mta-sts.fullchain.crt" "$CERTS/mta-sts.key" "$root/etc-mtasts/"
cat > "$root/etc-mtasts/conf" <<C
listen 127.0.0.1:0
cert /etc-mtasts/mta-sts.fullchain.crt
key /etc-mtasts/mta-sts.key
state_dir /state
check_interval 0
domain example.com
mode testing
mx mail.example.com
C
ok "static: the root holds no /etc, no /dev, no /lib" test ! -e "$root/etc" -a ! -e "$root/dev" -a ! -e "$root/lib"
BIN=/mtasts-httpd WRAP="chroot $root" start_server /etc-mtasts/conf || exit 0
get -o "$T/policy" /.well-known/mta-sts.txt
eq "static: policy served from the empty root" "$(tr -d '\r' < "$T/policy" | tr '\n' '|')" \
    "version: STSv1|mode: testing|mx: mail.example.com|max_age: 604800|"
eq "static: any other path is 404" "$(get -o /dev/null -w '%{http_code}' /)" 404
ok "static: the id persisted in the root's state directory" test -s "$root/state/state"
stop_server
done_testing
