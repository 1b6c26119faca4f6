#!/bin/bash
# The serve path under valgrind (plain build only; the sanitizer build
# has its own checker): start, requests of every kind, a failed
# handshake, an idle connection left open, reloads (a change with its
# hook, SIGHUP, an invalid config, a fix), reports to the TLS report
# receiver, SIGTERM. No errors, no leaks. Then --report on the report
# corpus (JSON, gzip, mail, mbox, the malformed ones).
. "$(dirname "$0")/lib.sh"

if [ "${SANITIZED:-0}" = 1 ]; then
	skip_all	# ASan and valgrind do not mix; the plain build covers this
fi
if file -L "$BIN" | grep -q 'statically linked'; then
	skip_all	# valgrind cannot replace malloc in a static binary: no leak check
fi
if ! command -v valgrind > /dev/null; then
	skip_all "valgrind not installed"
fi
printf '#!/bin/sh\necho "record $MTASTS_RECORD"\n' > "$T/hook"
chmod +x "$T/hook"
cp "$CERTS/mta-sts.fullchain.crt" "$T/cert.pem"
cp "$CERTS/mta-sts.key" "$T/key.pem"
conf_v 1 "hook $T/hook" "tlsrpt_receive yes" > "$T/c.conf"
WRAP="valgrind -q --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all --error-exitcode=99 --log-file=$T/vg.log" \
    WAIT_S=60 start_server "$T/c.conf" || exit 0
eq "GET under valgrind" "$(get -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt)" 200
eq "HEAD under valgrind" "$(get -I -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt)" 200
u=https://mta-sts.example.com:$PORT
codes=$(curl -sS --max-time 20 --cacert "$CERTS/ca.crt" --resolve "mta-sts.example.com:$PORT:127.0.0.1" \
    -o /dev/null -o /dev/null -o /dev/null -w '%{http_code} ' \
    "$u/.well-known/mta-sts.txt" "$u/x" "$u/.well-known/mta-sts.txt")
eq "keep-alive under valgrind" "$codes" "200 404 200 "
eq "POST under valgrind" "$(get -d x=y -o /dev/null -w '%{http_code}' /.well-known/mta-sts.txt)" 404
R=$(dirname "$0")/tlsrpt
gzip -9n < "$R/good/microsoft-fetch-error.json" > "$T/r.json.gz"
post() { get -o /dev/null -w '%{http_code}' -H "Content-Type: $1" --data-binary "@$2" "${@:3}" /.well-known/tlsrpt; }
eq "a report POSTed under valgrind" "$(post application/tlsrpt+gzip "$T/r.json.gz")" 201
eq "the same again" "$(post application/tlsrpt+gzip "$T/r.json.gz")" 200
eq "garbage POSTed" "$(post application/tlsrpt+json "$R/bad/invalid-json.json")" 400
head -c 1100000 /dev/zero > "$T/big"
eq "too large, chunked" "$(post application/tlsrpt+gzip "$T/big" -H 'Transfer-Encoding: chunked')" 413
printf 'garbage\r\n\r\n' | timeout 5 bash -c "cat > /dev/tcp/127.0.0.1/$PORT" 2>/dev/null
exec 3<>"/dev/tcp/127.0.0.1/$PORT"	# left open across the shutdown
timeout 5 openssl s_client -connect "127.0.0.1:$PORT" < /dev/null > /dev/null 2>&1
# reloads: a policy change (hook runs), SIGHUP, an invalid config, a fix
conf_v 2 "hook $T/hook" > "$T/c.tmp" && mv "$T/c.tmp" "$T/c.conf"
ok "reload and hook under valgrind" wait_until 20 grep -q 'hook example.com: exit 0' "$SERR"
kill -HUP "$SPID"
{ conf_v 3; echo "mode bogus"; } > "$T/c.tmp" && mv "$T/c.tmp" "$T/c.conf"
wait_until 20 grep -q 'reload failed' "$SERR"
conf_v 4 > "$T/c.tmp" && mv "$T/c.tmp" "$T/c.conf"
serves_m4() { [ "$(get /.well-known/mta-sts.txt 2>/dev/null | grep -c m4.example.com)" = 1 ]; }
wait_until 20 serves_m4
eq "served the last version under valgrind" "$(get /.well-known/mta-sts.txt | grep -c 'mx: m4.example.com')" 1
sleep 0.5
stop_server
exec 3<&-
if [ -s "$T/vg.log" ]; then
	fail "valgrind report: $(head -n 20 "$T/vg.log" | tr '\n' ' ')"
else
	pass "valgrind: no errors, no leaks"
fi

# --report: the parsers (tlsrpt.c, mime.c, report.c) on every kind of input
bash "$R/mkcorpus.sh" "$T/corpus" > /dev/null
valgrind -q --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all --error-exitcode=99 \
    --log-file="$T/vg2.log" "$BIN" -c "$T/c.conf" --report "$R/good" "$T/corpus/good/google.eml" \
    "$T/corpus/good/two.mbox" "$T/corpus/good/odd-gzip-header.json.gz" "$T/corpus/good/multi-member.json.gz" \
    "$T/corpus/dup" "$T/corpus/bad" "$R/bad" > /dev/null 2>&1
eq "--report under valgrind: exit 2 (the bad inputs)" "$?" 2
if [ -s "$T/vg2.log" ]; then
	fail "valgrind report (--report): $(head -n 20 "$T/vg2.log" | tr '\n' ' ')"
else
	pass "valgrind (--report): no errors, no leaks"
fi
done_testing
