#!/bin/bash
# Router architectures: the armhf and mipsel builds (make cross: Debian's
# cross toolchains, mbedTLS 3.6 and libmicrohttpd 1.0.1 cross-built as
# shared libraries) run under qemu-user: their unit tests, then a serve
# smoke test (start, fetch the policy over TLS, SIGTERM). Prints each
# stripped size, and that of its libz.so.1. Runs once, in the plain
# build's pass.
. "$(dirname "$0")/lib.sh"
[ "${FIRST:-1}" = 1 ] || skip_all
top=$(cd "$(dirname "$0")/.." && pwd)

for arch in armhf mipsel; do
	case $arch in
	armhf) triplet=arm-linux-gnueabihf qemu=qemu-arm ;;
	mipsel) triplet=mipsel-linux-gnu qemu=qemu-mipsel ;;
	esac
	bin=$top/build-$arch/mtasts-httpd
	if [ ! -x "$bin" ] || ! command -v "$qemu" > /dev/null; then
		fail "$arch: build-$arch/mtasts-httpd or $qemu missing (make cross; tests/deps.sh test)"
		continue
	fi
	# The guest's loader and libc from the cross toolchain's sysroot,
	# the libraries from build-deps/ARCH.
	run=("$qemu" -L "/usr/$triplet" -E "LD_LIBRARY_PATH=$top/build-deps/$arch/lib")
	ok "$arch: an ELF for the target" bash -c "file -L '$bin' | grep -q '$( [ $arch = armhf ] && echo ARM || echo MIPS)'"
	# The shared libraries a router has, by the sonames OpenWrt's
	# packages give them (cJSON's CMake build: libcjson.so.1; zlib's:
	# libz.so.1), from build-deps/ARCH as LD_LIBRARY_PATH above says.
	ok "$arch: links libcjson.so.1, libz.so.1, libmicrohttpd and mbedTLS" bash -c \
	    "$triplet-readelf -d '$bin' | grep -q 'NEEDED.*\[libcjson.so.1\]' && $triplet-readelf -d '$bin' | grep -q 'NEEDED.*\[libz.so.1\]' && $triplet-readelf -d '$bin' | grep -q 'NEEDED.*\[libmicrohttpd.so' && $triplet-readelf -d '$bin' | grep -q 'NEEDED.*\[libmbedtls.so'"
	ok "$arch: build-deps/$arch/lib/libz.so.1 is zlib's, soname libz.so.1" bash -c \
	    "$triplet-readelf -d '$top/build-deps/$arch/lib/libz.so.1' | grep -q 'SONAME.*\[libz.so.1\]'"
	"$triplet-strip" -o "$T/libz-$arch" "$top/build-deps/$arch/lib/libz.so.1"
	echo "# $arch: stripped libz.so.1 $(stat -c %s "$T/libz-$arch") bytes"
	"$triplet-strip" -o "$T/stripped-$arch" "$bin"
	echo "# $arch: stripped binary $(stat -c %s "$T/stripped-$arch") bytes ($("${run[@]}" "$bin" --version))"

	(cd "$T" && "${run[@]}" "$top/build-$arch/unit") > "$T/unit-$arch" 2>&1
	rc=$?
	n=$(grep -c '^ok ' "$T/unit-$arch")
	bad=$(grep '^not ok ' "$T/unit-$arch" | head -n 5 | tr '\n' ' ')
	ok "$arch: unit tests under qemu-user ($n passed${bad:+; $bad})" test "$rc" = 0 -a -z "$bad" -a "$n" -gt 0

	write_conf "$T/$arch.conf" <<-C
	domain example.com
	mode enforce
	mx mail.example.com
	mx *.backup.example.com
	C
	BIN=$bin WRAP="${run[*]}" start_server "$T/$arch.conf" || continue
	get -o "$T/policy-$arch" /.well-known/mta-sts.txt
	eq "$arch: policy served over TLS" "$(tr -d '\r' < "$T/policy-$arch" | tr '\n' '|')" \
	    "version: STSv1|mode: enforce|mx: mail.example.com|mx: *.backup.example.com|max_age: 604800|"
	eq "$arch: any other path is 404" "$(get -o /dev/null -w '%{http_code}' /index.html)" 404
	ok "$arch: the record printed" grep -q '^dns: _mta-sts.example.com. IN TXT "v=STSv1; id=' "$SOUT"
	stop_server
done
done_testing
