#!/bin/bash
# Build the OpenWrt 24.10 library stack, mbedTLS 3.6 and libmicrohttpd
# 1.0.1 (HTTPS disabled, as OpenWrt's no-ssl variant), from Debian 13
# (trixie) source packages, into build-deps/ (cached: nothing is redone
# when build-deps/prefix is complete). apt-get source runs with its own
# sources list and state directory under build-deps/apt: the machine's
# apt configuration is not touched.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD/build-deps
prefix=$top/prefix
if [ -f "$prefix/lib/libmbedtls.a" ] && [ -f "$prefix/lib/libmicrohttpd.a" ]; then
	exit 0
fi
mkdir -p "$top/apt/lists/partial" "$top/apt/cache/archives/partial" "$top/apt/sources.d" "$top/src" "$prefix"

# The machine's Debian mirror, with trixie's source packages.
uri=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
[ -n "$uri" ] || uri=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list)
printf 'Types: deb-src\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" > "$top/apt/sources.d/trixie.sources"
apt_() {
	apt-get -q -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$top/apt/sources.d" \
	    -o Dir::State::Lists="$top/apt/lists" -o Dir::Cache="$top/apt/cache" \
	    -o APT::Sandbox::User=root "$@"
}
apt_ update > "$top/apt.log" 2>&1
cd "$top/src"
apt_ source --download-only mbedtls libmicrohttpd >> "$top/apt.log" 2>&1

rm -rf mbedtls-3.* libmicrohttpd-1.*
tar xjf mbedtls_3.*.orig.tar.bz2
tar xzf libmicrohttpd_1.*.orig.tar.gz
echo "building mbedTLS $(ls -d mbedtls-3.* | sed 's/mbedtls-//')"
make -C mbedtls-3.* -j2 lib > "$top/mbedtls.log" 2>&1
cp -r mbedtls-3.*/include/mbedtls mbedtls-3.*/include/psa "$prefix/include/" 2>/dev/null ||
	{ mkdir -p "$prefix/include" && cp -r mbedtls-3.*/include/mbedtls mbedtls-3.*/include/psa "$prefix/include/"; }
mkdir -p "$prefix/lib"
cp mbedtls-3.*/library/libmbed*.a "$prefix/lib/"
echo "building libmicrohttpd $(ls -d libmicrohttpd-1.* | sed 's/libmicrohttpd-//') (HTTPS disabled)"
(
	cd libmicrohttpd-1.*
	./configure --prefix="$prefix" --disable-https --without-gnutls --disable-curl \
	    --disable-doc --disable-examples --disable-tools --enable-static --disable-shared
	make -j2
	make install
) > "$top/mhd.log" 2>&1
echo "stack ready in $prefix"
