#!/bin/bash
# The OpenWrt package, as far as it can be checked without an OpenWrt
# build system: shellcheck (POSIX sh) on its shell files, its default UCI
# config read by the daemon, the package Makefile's required fields, the
# procd capabilities file. Runs once, in the plain build's pass.
. "$(dirname "$0")/lib.sh"
[ "${FIRST:-1}" = 1 ] || skip_all
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
# One version string, the file VERSION: the package's PKG_VERSION (its
# own expression, evaluated by make where OpenWrt would), the daemon's
# --version and the man pages' headers.
version=$(cat "$pkg/../../VERSION")
eq "PKG_VERSION is the source's VERSION" "$(printf '%s\nv:\n\t@echo $(PKG_VERSION)\n' \
    "$(grep '^PKG_VERSION:=' "$pkg/Makefile")" | make -s --no-print-directory -C "$pkg" -f - v)" "$version"
ok "Build/Prepare copies VERSION" grep -qF '$(CURDIR)/../../VERSION $(PKG_BUILD_DIR)/' "$pkg/Makefile"
eq "--version is VERSION" "$("$BIN" --version | cut -d' ' -f2)" "$version"
for page in mtasts-httpd.8 mtasts-httpd.conf.5; do
	ok "$page: .TH names version $version" grep -q "^\.TH .* \"mtasts-httpd $version\" " "$pkg/../../docs/$page"
done
ok "depends on libmbedtls, libmicrohttpd, cJSON, zlib and ca-bundle" grep -q '^  DEPENDS:=+libmbedtls +libmicrohttpd +cJSON +zlib +ca-bundle$' "$pkg/Makefile"
ok "links cJSON" grep -q 'CJSON_LIBS="-lcjson"' "$pkg/Makefile"
ok "links zlib" grep -q 'ZLIB_LIBS="-lz"' "$pkg/Makefile"
ok "/etc/config/mtasts-httpd is a conffile" bash -c \
    "grep -A1 conffiles '$pkg/Makefile' | grep -q '^/etc/config/mtasts-httpd\$'"
ok "state on flash (LOCALSTATEDIR=/etc)" grep -q 'LOCALSTATEDIR=/etc' "$pkg/Makefile"
ok "procd: USE_PROCD, respawn, no_new_privs, capabilities" bash -c \
    "grep -q '^USE_PROCD=1' '$pkg/files/mtasts-httpd.init' && grep -q 'procd_set_param respawn' '$pkg/files/mtasts-httpd.init' && grep -q 'procd_set_param no_new_privs 1' '$pkg/files/mtasts-httpd.init' && grep -q 'procd_set_param capabilities' '$pkg/files/mtasts-httpd.init'"
ok "procd: reload on uci commit and on acme.renew" bash -c \
    "grep -q 'procd_add_reload_trigger mtasts-httpd' '$pkg/files/mtasts-httpd.init' && grep -q 'procd_add_raw_trigger acme.renew' '$pkg/files/mtasts-httpd.init'"
ok "init: the ACME keys are the service user's" grep -q 'chown -R "$USER:$USER" "$state_dir/acme"' "$pkg/files/mtasts-httpd.init"
# The example's ACME options, uncommented and with the domain's cert and
# key left out as its comment says: the daemon takes them.
for o in acme_directory acme_email ca_bundle; do
	ok "UCI example: $o offered (commented)" grep -q "^	#option $o '" "$pkg/files/mtasts-httpd.config"
done
sed -e "s/^	#option \(acme_\|ca_bundle\)/	option \1/" -e '/^	option \(cert\|key\) /d' \
    "$pkg/files/mtasts-httpd.config" > "$T/acme.uci"
"$BIN" -c "$T/acme.uci" --print-policy > "$T/policy" 2> "$T/err"
eq "UCI example with ACME on: parses" "$?" 0
eq "UCI example with ACME on: nothing to warn about" "$(cat "$T/err")" ""
ok "capabilities file: JSON with CAP_NET_BIND_SERVICE only" python3 -c "
import json, sys
c = json.load(open(sys.argv[1]))
assert all(v == ['CAP_NET_BIND_SERVICE'] for v in c.values()) and len(c) == 5" "$pkg/files/mtasts-httpd.capabilities"

# The UCI path end to end: the daemon serves UCI configs (one domain,
# several), and names the UCI file's lines for bad values.
cat > "$T/one.uci" <<U
config mtasts-httpd 'main'
	option enabled '1'
	list listen '127.0.0.1:0'
	option state_dir '$T/state1'
	option check_interval '0'

config domain
	option name 'example.com'
	option mode 'enforce'
	list mx 'mail.example.com'
	option cert '$CERTS/mta-sts.fullchain.crt'
	option key '$CERTS/mta-sts.key'
U
start_server "$T/one.uci" && {
	get -o "$T/p1" /.well-known/mta-sts.txt
	eq "UCI, one domain: served" "$(tr -d '\r' < "$T/p1" | tr '\n' '|')" "version: STSv1|mode: enforce|mx: mail.example.com|max_age: 604800|"
	ok "UCI, one domain: record announced" grep -q '^dns: _mta-sts.example.com. IN TXT' "$SOUT"
	stop_server
}
cat > "$T/two.uci" <<U
config mtasts-httpd 'main'
	list listen '127.0.0.1:0'
	option state_dir '$T/state2'
	option check_interval '0'
	option cert '$CERTS/mta-sts.fullchain.crt'
	option key '$CERTS/mta-sts.key'
	option max_age '86400'
	list mx 'mx1.hosting.example'

config domain 'com'
	option name 'example.com'
	option mode 'testing'

config domain 'net'
	option name 'example.net'
	option mode "enforce"
	list mx 'mx.example.net'
	list mx '*.backup.example.net'
U
start_server "$T/two.uci" && {
	get -o "$T/p2" /.well-known/mta-sts.txt
	eq "UCI, two domains: example.com inherits mx and max_age" "$(tr -d '\r' < "$T/p2" | tr '\n' '|')" "version: STSv1|mode: testing|mx: mx1.hosting.example|max_age: 86400|"
	curl -sS --max-time 10 --cacert "$CERTS/ca.crt" --resolve "mta-sts.example.net:$PORT:127.0.0.1" \
	    -o "$T/p3" "https://mta-sts.example.net:$PORT/.well-known/mta-sts.txt"
	eq "UCI, two domains: example.net its own" "$(tr -d '\r' < "$T/p3" | tr '\n' '|')" "version: STSv1|mode: enforce|mx: mx.example.net|mx: *.backup.example.net|max_age: 86400|"
	eq "UCI, two domains: two records" "$(grep -c '^dns: _mta-sts' "$SOUT")" 2
	stop_server
}
printf "config mtasts-httpd 'main'\n\toption max_age '1w'\n\toption cert 'c'\n\toption key 'k'\n\nconfig domain\n\toption name 'example.com'\n\toption mode 'strict'\n\tlist mx '192.0.2.1'\n" > "$T/bad.uci"
"$BIN" -c "$T/bad.uci" > /dev/null 2> "$T/err"
eq "UCI, bad values: the daemon refuses to start" "$?" 1
eq "UCI, bad values: each named at its UCI line" "$(cat "$T/err")" "error: $T/bad.uci:2: max_age '1w': expected seconds from 0 to 31557600 (one year)
error: $T/bad.uci:8: mode 'strict': expected enforce, testing or none
error: $T/bad.uci:9: mx '192.0.2.1' is an IP address or ends in a numeric label: a host name is required"
done_testing
