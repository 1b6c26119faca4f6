#!/bin/bash
# Build the OpenWrt 24.10 library stack, mbedTLS 3.6 and libmicrohttpd
# 1.0.1 (HTTPS disabled, as OpenWrt's no-ssl variant), from Debian 13
# (trixie) source packages. apt-get source runs with its own sources list
# and state directory under build-deps/apt: the machine's apt
# configuration is not touched. Everything is cached: nothing is redone
# when the prefix is complete.
#
#   newstack.sh          static libraries for this machine, build-deps/prefix
#   newstack.sh ARCH     shared libraries cross-built with Debian's cross
#                        toolchain for ARCH (armhf, mipsel), as a router
#                        has them: build-deps/ARCH
#   newstack.sh musl     static libraries for musl-gcc (Debian's musl-tools,
#                        the closest we get to OpenWrt's libc): build-deps/musl
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD/build-deps
arch=${1:-}
case $arch in
"") prefix=$top/prefix host="" cc=cc ;;
armhf) prefix=$top/armhf host=arm-linux-gnueabihf ;;
mipsel) prefix=$top/mipsel host=mipsel-linux-gnu ;;
musl)	# No /dev in an empty root: entropy from getrandom(2) through
	# mbedtls_hardware_poll (src/tls.c), not mbedTLS's /dev/urandom
	# reader (it uses getrandom only with glibc). Sections for
	# --gc-sections: the static binary keeps only what it calls.
	prefix=$top/musl host="" cc=musl-gcc
	cflags="-O2 -ffunction-sections -fdata-sections -DMBEDTLS_NO_PLATFORM_ENTROPY -DMBEDTLS_ENTROPY_HARDWARE_ALT" ;;
*) echo "newstack.sh: unknown architecture '$arch'" >&2; exit 2 ;;
esac
[ -n "$host" ] && cc=$host-gcc
cflags=${cflags:--O2}
lib=a
[ -n "$host" ] && lib=so
if [ -f "$prefix/lib/libmbedtls.$lib" ] && [ -f "$prefix/lib/libmicrohttpd.$lib" ]; then
	exit 0
fi
mkdir -p "$top/apt/lists/partial" "$top/apt/cache/archives/partial" "$top/apt/sources.d" "$top/src" "$prefix/include" "$prefix/lib"

# The source packages, once: the machine's Debian mirror, trixie's sources.
cd "$top/src"
if ! ls mbedtls_3.*.orig.tar.bz2 libmicrohttpd_1.*.orig.tar.gz > /dev/null 2>&1; then
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
	apt_ source --download-only mbedtls libmicrohttpd >> "$top/apt.log" 2>&1
fi

# Unpack into a directory of its own per target, so builds never mix.
work=$top/work${arch:+-$arch}
rm -rf "$work"
mkdir -p "$work"
cd "$work"
tar xjf "$top"/src/mbedtls_3.*.orig.tar.bz2
tar xzf "$top"/src/libmicrohttpd_1.*.orig.tar.gz
log=$top/${arch:-native}
echo "building mbedTLS $(ls -d mbedtls-3.* | sed 's/mbedtls-//')${arch:+ for $arch}"
if [ -n "$host" ]; then
	make -C mbedtls-3.* -j2 CC="$cc" AR="$host-ar" SHARED=1 lib > "$log-mbedtls.log" 2>&1
	cp -P mbedtls-3.*/library/libmbed*.so* "$prefix/lib/"
else
	make -C mbedtls-3.* -j2 CC="$cc" CFLAGS="$cflags" lib > "$log-mbedtls.log" 2>&1
	cp mbedtls-3.*/library/libmbed*.a "$prefix/lib/"
fi
cp -r mbedtls-3.*/include/mbedtls mbedtls-3.*/include/psa "$prefix/include/"
echo "building libmicrohttpd $(ls -d libmicrohttpd-1.* | sed 's/libmicrohttpd-//') (HTTPS disabled)${arch:+ for $arch}"
(
	cd libmicrohttpd-1.*
	if [ -n "$host" ]; then
		set -- --host="$host" --enable-shared --disable-static
	else
		set -- --enable-static --disable-shared
	fi
	CC=$cc CFLAGS=$cflags ./configure --prefix="$prefix" --disable-https --without-gnutls --disable-curl \
	    --disable-doc --disable-examples --disable-tools "$@"
	make -j2
	make install
) > "$log-mhd.log" 2>&1
rm -rf "$work"
echo "stack ready in $prefix"
