#!/bin/sh
# Install what building (deps.sh build) or testing (deps.sh test) needs,
# from Debian's packages, only when something is missing. Needs root for
# the install; otherwise it prints what to install and fails.
set -eu

build="gcc make pkg-config libc6-dev libmbedtls-dev libmicrohttpd-dev
       libcjson-dev zlib1g-dev openssl"
# bzip2, xz-utils and patch unpack and patch the Debian 13 source packages
# (tests/newstack.sh); pebble is the ACME server of tests/t-acme.sh and
# ca-certificates the CA bundle make static puts in the image.
test="$build curl dnsmasq-base bind9-utils postfix-mta-sts-resolver iproute2
      procps util-linux valgrind clang libclang-rt-14-dev python3
      testssl.sh shellcheck file musl-tools qemu-user
      gcc-arm-linux-gnueabihf libc6-dev-armhf-cross
      gcc-mipsel-linux-gnu libc6-dev-mipsel-cross podman
      systemd strace man-db groff-base bzip2 xz-utils patch
      pebble ca-certificates"

bench="$build curl python3 iproute2 util-linux procps wrk nginx lighttpd
      lighttpd-mod-mbedtls time bc"

case "${1:-build}" in
build) want=$build ;;
test) want=$test ;;
bench) want=$bench ;;
*) echo "usage: deps.sh build|test|bench" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done
# The real npm client (mailauth) needs node and npm; any install will do.
if [ "${1:-build}" = test ]; then
	command -v node > /dev/null 2>&1 || missing="$missing nodejs"
	command -v npm > /dev/null 2>&1 || missing="$missing npm"
fi

install_mailauth() {
	[ "${1:-build}" = test ] || return 0
	[ -d tests/mailauth/node_modules/mailauth ] && return 0
	echo "installing mailauth (tests/mailauth/package-lock.json)"
	npm ci --prefix tests/mailauth --no-audit --no-fund > /dev/null
}

if [ -z "$missing" ]; then
	install_mailauth "${1:-build}"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "missing packages:$missing" >&2
	echo "install them as root: apt-get install$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Packages like nginx start their service on install: a benchmark peer
# left serving port 80 is not ours to leave behind. Deny service starts
# for this install only (unless the machine has its own policy).
policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	policy=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\nexit 101\n' > "$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
install_mailauth "${1:-build}"
