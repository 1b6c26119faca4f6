#!/bin/bash
# Golden files against the real binary (--print-policy):
#   tests/conf/bad/NAME.conf   -> exit 1, stderr exactly NAME.err
#   tests/conf/good/NAME.conf  -> exit 0, stdout exactly NAME.policy
#                                 (CRLF bytes), stderr exactly NAME.err
#   config/mtasts-httpd.conf   -> tests/conf/example.{policy,err}
. "$(dirname "$0")/lib.sh"
dir=$(cd "$(dirname "$0")/conf" && pwd)

golden() {	# golden DESC WANT-RC WANT-OUT WANT-ERR CONF (run in CONF's dir)
	local desc=$1 want_rc=$2 want_out=$3 want_err=$4 conf=$5 rc
	(cd "$(dirname "$conf")" && "$BIN" -c "$(basename "$conf")" --print-policy > "$T/out" 2> "$T/err")
	rc=$?
	if [ "$rc" != "$want_rc" ]; then
		fail "$desc: exit $rc, want $want_rc"
	elif [ -n "$want_out" ] && ! cmp -s "$T/out" "$want_out"; then
		fail "$desc: policy differs: $(diff -u "$want_out" "$T/out" | cat -A | tail -n +3 | head -n 10 | tr '\n' ' ')"
	elif ! diff -u "$want_err" "$T/err" > "$T/diff"; then
		fail "$desc: messages differ: $(tail -n +3 "$T/diff" | tr '\n' ' ')"
	else
		pass "$desc"
	fi
}

n=0
for c in "$dir"/bad/*.conf; do
	golden "bad config $(basename "$c")" 1 "" "${c%.conf}.err" "$c"
	n=$((n + 1))
done
ok "at least 20 bad-config cases ($n)" test "$n" -ge 20
for c in "$dir"/good/*.conf; do
	golden "good config $(basename "$c")" 0 "${c%.conf}.policy" "${c%.conf}.err" "$c"
done
golden "the example config" 0 "$dir/example.policy" "$dir/example.err" \
    "$(cd "$dir/../../config" && pwd)/mtasts-httpd.conf"

"$BIN" -c "$T/none.conf" --print-policy > /dev/null 2> "$T/err"
eq "missing config file" "$(cat "$T/err")" "error: $T/none.conf: No such file or directory"
printf 'cert c\nkey k\n\0\ndomain example.com\nmode none\n' > "$T/nul.conf"
"$BIN" -c "$T/nul.conf" --print-policy > /dev/null 2> "$T/err"
eq "NUL byte in config" "$(cat "$T/err")" "error: $T/nul.conf: contains a NUL byte: not a text file"
"$BIN" -c "$T/none.conf" --bogus > /dev/null 2>&1
eq "unknown option: exit 2" "$?" 2
"$BIN" --version | grep -q '^mtasts-httpd [0-9.]* (mbedTLS [0-9.]*, libmicrohttpd [0-9.]*)$'
eq "--version names the libraries" "$?" 0
done_testing
