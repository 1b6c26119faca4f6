#!/bin/bash
# The OpenWrt package, as far as it can be checked without an OpenWrt
# build system: shellcheck (POSIX sh) on its shell files, its default UCI
# config read by the daemon, the package Makefile's required fields, the
# procd capabilities file. Runs once, in the plain build's pass.
. "$(dirname "$0")/lib.sh"
[ "${FIRST:-1}" = 1 ] || exit 0
pkg=$(cd "$(dirname "$0")/../openwrt/mtasts-httpd" && pwd)

if command -v shellcheck > /dev/null; then
	n=0
	for f in $(grep -rl '^#!.*sh' "$pkg"); do
		ok "shellcheck -s sh ${f#"$pkg"/}" shellcheck -s sh "$f"
		n=$((n + 1))
	done
	ok "shell files checked ($n)" test "$n" -ge 1
else
	fail "shellcheck is not installed (tests/deps.sh test installs it)"
fi

"$BIN" -c "$pkg/files/mtasts-httpd.config" --print-policy > "$T/policy" 2> "$T/err"
eq "the package's UCI config parses" "$?" 0
eq "and renders the example policy" "$(tr -d '\r' < "$T/policy" | tr '\n' '|')" \
    "version: STSv1|mode: testing|mx: mail.example.com|max_age: 604800|"
eq "with nothing to warn about" "$(cat "$T/err")" ""

for v in PKG_NAME PKG_VERSION PKG_RELEASE PKG_LICENSE PKG_MAINTAINER; do
	ok "package Makefile sets $v" grep -q "^$v:=" "$pkg/Makefile"
done
ok "depends on libmbedtls and libmicrohttpd" grep -q '^  DEPENDS:=+libmbedtls +libmicrohttpd$' "$pkg/Makefile"
ok "/etc/config/mtasts-httpd is a conffile" grep -A1 'conffiles' "$pkg/Makefile" | grep -q '^/etc/config/mtasts-httpd$'
ok "state on flash (LOCALSTATEDIR=/etc)" grep -q 'LOCALSTATEDIR=/etc' "$pkg/Makefile"
ok "procd: USE_PROCD, respawn, no_new_privs, capabilities" bash -c \
    "grep -q '^USE_PROCD=1' '$pkg/files/mtasts-httpd.init' && grep -q 'procd_set_param respawn' '$pkg/files/mtasts-httpd.init' && grep -q 'procd_set_param no_new_privs 1' '$pkg/files/mtasts-httpd.init' && grep -q 'procd_set_param capabilities' '$pkg/files/mtasts-httpd.init'"
ok "procd: reload on uci commit and on acme.renew" bash -c \
    "grep -q 'procd_add_reload_trigger mtasts-httpd' '$pkg/files/mtasts-httpd.init' && grep -q 'procd_add_raw_trigger acme.renew' '$pkg/files/mtasts-httpd.init'"
ok "capabilities file: JSON with CAP_NET_BIND_SERVICE only" python3 -c "
import json, sys
c = json.load(open(sys.argv[1]))
assert all(v == ['CAP_NET_BIND_SERVICE'] for v in c.values()) and len(c) == 5" "$pkg/files/mtasts-httpd.capabilities"
