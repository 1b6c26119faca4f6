#!/bin/bash
# The container image, built here without network: podman (vfs storage
# in the test's own directory) builds docker/Dockerfile from the local
# `make static` (BINARY=prebuilt), in Docker's image format (OCI has no
# HEALTHCHECK). Containers cannot run on this machine,
# so the image's filesystem is exported and its entrypoint run under
# chroot as the image's USER, configured by the environment as a
# container would be; --healthcheck, the image's HEALTHCHECK, is checked
# while it serves and after; the CA bundle (ACME's trust) is in the image
# and the ACME variables are taken. Runs once, in the plain build's pass.
. "$(dirname "$0")/lib.sh"
[ "${FIRST:-1}" = 1 ] || skip_all
top=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v podman > /dev/null; then
	fail "podman is not installed (tests/deps.sh test installs it)"
	exit 0
fi
if [ ! -x "$top/build-static/rootfs/mtasts-httpd" ]; then
	fail "build-static/rootfs missing (make static)"
	exit 0
fi
pm() { podman --root "$T/storage" --runroot "$T/run" --storage-driver vfs --cgroup-manager cgroupfs --events-backend none "$@"; }

pm build -q --format docker -f "$top/docker/Dockerfile" --build-arg BINARY=prebuilt -t mtasts-httpd:test "$top" > "$T/build.log" 2>&1
ok "image builds from the local static binary, no network" test $? = 0 || { tail -n 5 "$T/build.log"; exit 0; }
pm image inspect mtasts-httpd:test > "$T/inspect.json"
echo "# image size: $(pm image inspect mtasts-httpd:test --format '{{.Size}}') bytes"
ok "image: non-root numeric USER, EXPOSE 443, state volume, HEALTHCHECK, entrypoint" python3 - "$T/inspect.json" <<'P'
import json, sys
i = json.load(open(sys.argv[1]))[0]
c = i["Config"]
assert c["User"] == "65532:65532", c["User"]
assert list(c["ExposedPorts"]) == ["443/tcp"], c["ExposedPorts"]
assert list(c["Volumes"]) == ["/var/lib/mtasts-httpd"], c["Volumes"]
assert i["Healthcheck"]["Test"] == ["CMD", "/mtasts-httpd", "--healthcheck"], i["Healthcheck"]
assert c["Entrypoint"] == ["/mtasts-httpd"], c["Entrypoint"]
P

cid=$(pm create mtasts-httpd:test)
pm export "$cid" > "$T/image.tar"
pm rm "$cid" > /dev/null 2>&1	# (it has no systemd to remove a timer from)
eq "image: nothing but the binary, the CA bundle and the state directory" \
    "$(tar tvf "$T/image.tar" | awk '{print $1, $2, $6}' | LC_ALL=C sort | tr '\n' '|')" \
    "-rw-r--r-- 0/0 etc/ssl/certs/ca-certificates.crt|-rwxr-xr-x 0/0 mtasts-httpd|drwxr-xr-x 0/0 etc/|drwxr-xr-x 0/0 etc/ssl/|drwxr-xr-x 0/0 etc/ssl/certs/|drwxr-xr-x 0/0 var/|drwxr-xr-x 0/0 var/lib/|drwxr-xr-x 65532/65532 var/lib/mtasts-httpd/|"

# The exported filesystem, as the container would see it, plus the
# certificate volume a compose file would mount.
root=$T/rootfs
mkdir -p "$root"
tar xf "$T/image.tar" -C "$root"
# The trust for ACME, at ca_bundle's default path: the build machine's
# Debian bundle, every certificate of it.
ok "image: the CA bundle is Debian's" cmp -s "$root/etc/ssl/certs/ca-certificates.crt" /etc/ssl/certs/ca-certificates.crt
n=$(grep -c -- '-----BEGIN CERTIFICATE-----' "$root/etc/ssl/certs/ca-certificates.crt")
ok "image: the CA bundle holds $n certificates" test "${n:-0}" -ge 100
mkdir -p "$root/etc/letsencrypt/live/mta-sts.example.com"
cp "$CERTS/mta-sts.fullchain.crt" "$root/etc/letsencrypt/live/mta-sts.example.com/fullchain.pem"
cp "$CERTS/mta-sts.key" "$root/etc/letsencrypt/live/mta-sts.example.com/privkey.pem"
chown -R 65532:65532 "$root/etc/letsencrypt"
port=$(free_port)
wrap=(env -i MTASTS_DOMAIN=example.com MTASTS_MODE=testing MTASTS_MX=mail.example.com
    "MTASTS_LISTEN=127.0.0.1:$port" MTASTS_CHECK_INTERVAL=0 "$(command -v chroot)" --userspec=65532:65532 "$root")
run=("${wrap[@]}" /mtasts-httpd)

"${run[@]}" --healthcheck 2> "$T/hc0"
eq "image: --healthcheck exits 1 before it serves" "$?" 1
# ACME by the environment, with no certificate mounted: the variables
# are taken and the bundle found where ca_bundle looks by default.
env -i MTASTS_DOMAIN=example.com MTASTS_MODE=testing MTASTS_MX=mail.example.com \
    MTASTS_ACME_DIRECTORY=https://acme.example.net/directory MTASTS_ACME_EMAIL=hostmaster@example.com \
    "$(command -v chroot)" --userspec=65532:65532 "$root" /mtasts-httpd --print-policy > "$T/acme.out" 2> "$T/acme.err"
eq "image: MTASTS_ACME_DIRECTORY, MTASTS_ACME_EMAIL accepted$(head -c 300 "$T/acme.err" | tr '\n' ' ')" "$?" 0
env -i MTASTS_DOMAIN=example.com MTASTS_MODE=testing MTASTS_MX=mail.example.com \
    MTASTS_ACME_DIRECTORY=https://acme.example.net/directory MTASTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    "$(command -v chroot)" --userspec=65532:65532 "$root" /mtasts-httpd --print-policy > "$T/acme.out" 2> "$T/acme.err"
eq "image: MTASTS_CA_BUNDLE accepted$(head -c 300 "$T/acme.err" | tr '\n' ' ')" "$?" 0
WRAP="${wrap[*]}" BIN=/mtasts-httpd start_server - && {
	eq "image: the server runs as uid 65532" "$(awk '/^Uid:/ {print $2}' "/proc/$SPID/status")" 65532
	eq "image: serves the policy from certbot's layout" \
	    "$(curl -sS --max-time 10 --cacert "$CERTS/ca.crt" --resolve "mta-sts.example.com:$port:127.0.0.1" \
	    "https://mta-sts.example.com:$port/.well-known/mta-sts.txt" | tr -d '\r' | tr '\n' '|')" \
	    "version: STSv1|mode: testing|mx: mail.example.com|max_age: 604800|"
	"${run[@]}" --healthcheck 2> "$T/hc1"
	eq "image: --healthcheck exits 0 while it serves" "$?" 0
	ok "image: the id is stored in the state volume" test -s "$root/var/lib/mtasts-httpd/state"
	ok "image: the record is printed for docker logs" grep -q '^dns: _mta-sts.example.com. IN TXT' "$SOUT"
	stop_server
}
"${run[@]}" --healthcheck 2> "$T/hc2"
eq "image: --healthcheck exits 1 once it stopped" "$?" 1
done_testing
