#!/bin/bash
# Build the OpenWrt 24.10 library stack, mbedTLS 3.6 and libmicrohttpd
# 1.0.1 (HTTPS disabled, as OpenWrt's no-ssl variant), cJSON (the ACME
# client's JSON; OpenWrt's packages feed has it as cJSON) and zlib (TLS
# reports' gzip; OpenWrt's core has it) from Debian 13 (trixie) source
# packages. apt-get source runs with its own sources list and state
# directory under build-deps/apt: the machine's apt configuration is not
# touched. Everything is cached: nothing is redone when the prefix is
# complete, and a prefix built before cJSON or zlib were needed gets only
# what it lacks.
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
stack=1 cjson=1 zlib=1
[ -f "$prefix/lib/libmbedtls.$lib" ] && [ -f "$prefix/lib/libmicrohttpd.$lib" ] && stack=0
[ -f "$prefix/lib/libcjson.$lib" ] && [ -f "$prefix/include/cjson/cJSON.h" ] && cjson=0
[ -f "$prefix/lib/libz.$lib" ] && [ -f "$prefix/include/zlib.h" ] && zlib=0
[ "$stack$cjson$zlib" = 000 ] && exit 0
mkdir -p "$top/apt/lists/partial" "$top/apt/cache/archives/partial" "$top/apt/sources.d" "$top/src" "$prefix/include" "$prefix/lib"

# The source packages, once: the machine's Debian mirror, trixie's sources.
# Under a lock: make -j cross runs two of these at once, and apt-get
# takes its own locks (a second update would fail, not wait).
cd "$top/src"
exec 9> "$top/apt/lock"
flock 9
want=""
if [ "$stack" = 1 ] && ! ls mbedtls_3.*.orig.tar.bz2 libmicrohttpd_1.*.orig.tar.gz > /dev/null 2>&1; then
	want="mbedtls libmicrohttpd"
fi
if [ "$cjson" = 1 ] && ! ls cjson_1.*.orig.tar.gz cjson_1.*.debian.tar.xz > /dev/null 2>&1; then
	want="$want cjson"
fi
getz=0
[ "$zlib" = 1 ] && ! ls zlib_1.3*.orig.tar.* > /dev/null 2>&1 && getz=1
if [ -n "$want" ] || [ "$getz" = 1 ]; then
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
	# shellcheck disable=SC2086
	[ -z "$want" ] || apt_ source --download-only $want >> "$top/apt.log" 2>&1
	# zlib: upstream's tarball alone, built without Debian's packaging
	# (the mirror may lack the .dsc and .debian.tar.xz of an update).
	[ "$getz" = 0 ] || apt_ source --download-only --tar-only zlib >> "$top/apt.log" 2>&1
fi
exec 9>&-

# Unpack into a directory of its own per target, so builds never mix.
work=$top/work${arch:+-$arch}
rm -rf "$work"
mkdir -p "$work"
cd "$work"
log=$top/${arch:-native}
if [ "$stack" = 1 ]; then
	tar xjf "$top"/src/mbedtls_3.*.orig.tar.bz2
	tar xzf "$top"/src/libmicrohttpd_1.*.orig.tar.gz
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
fi
if [ "$cjson" = 1 ]; then
	# Just cJSON.c (not cJSON_Utils), with Debian's patches (security
	# fixes) applied in the order of their quilt series. The header where
	# Debian and OpenWrt install it: #include <cjson/cJSON.h>.
	tar xzf "$top"/src/cjson_1.*.orig.tar.gz
	tar xJf "$top"/src/cjson_1.*.debian.tar.xz -C cJSON-1.*
	version=$(ls -d cJSON-1.* | sed 's/cJSON-//')
	echo "building cJSON $version ($(ls "$top"/src/cjson_1.*.dsc | sed 's/.*cjson_//; s/\.dsc$//'))${arch:+ for $arch}"
	(
		cd cJSON-1.*
		while read -r p _; do
			case $p in ""|"#"*) continue ;; esac
			patch -p1 -N < "debian/patches/$p"
		done < debian/patches/series
		if [ -n "$host" ]; then
			# As OpenWrt's CMake build names it: libcjson.so.1.
			# shellcheck disable=SC2086
			"$cc" $cflags -fPIC -shared -Wl,-soname,libcjson.so.1 \
			    -o "$prefix/lib/libcjson.so.$version" cJSON.c
			ln -sf "libcjson.so.$version" "$prefix/lib/libcjson.so.1"
			ln -sf libcjson.so.1 "$prefix/lib/libcjson.so"
		else
			# shellcheck disable=SC2086
			"$cc" $cflags -c -o cJSON.o cJSON.c
			rm -f "$prefix/lib/libcjson.a"
			ar rcs "$prefix/lib/libcjson.a" cJSON.o
		fi
		mkdir -p "$prefix/include/cjson"
		cp cJSON.h "$prefix/include/cjson/"
	) > "$log-cjson.log" 2>&1
fi
if [ "$zlib" = 1 ]; then
	# zlib's own configure: a static libz.a, or for a router the shared
	# library OpenWrt's zlib package has, libz.so.1.
	tar xf "$top"/src/zlib_1.3*.orig.tar.*
	version=$(ls -d zlib-1.* | sed 's/zlib-//')
	echo "building zlib $version${arch:+ for $arch}"
	(
		cd zlib-1.*
		if [ -n "$host" ]; then
			CHOST=$host CFLAGS=$cflags ./configure --shared
			make -j2 "libz.so.$version"
			cp -P libz.so* "$prefix/lib/"
		else
			CC=$cc CFLAGS=$cflags ./configure --static
			make -j2 libz.a
			cp libz.a "$prefix/lib/"
		fi
		cp zlib.h zconf.h "$prefix/include/"
	) > "$log-zlib.log" 2>&1
fi
rm -rf "$work"
echo "stack ready in $prefix"
