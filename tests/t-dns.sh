#!/bin/bash
# --print-dns output, pasted verbatim into a zone file, passes
# named-checkzone; and its TLSRPT record is well-formed.
. "$(dirname "$0")/lib.sh"

write_conf "$T/c.conf" <<'C'
domain example.com
mode testing
mx mail.example.com
mx *.backup.example.com
tlsrpt_rua mailto:tlsrpt@example.com,https://reports.example.com/tlsrpt
C
"$BIN" -c "$T/c.conf" --print-dns > "$T/records" 2>/dev/null
eq "--print-dns exits 0" "$?" 0
{
	printf '$ORIGIN example.com.\n$TTL 3600\n'
	printf '@ IN SOA ns.example.com. hostmaster.example.com. 1 3600 600 86400 3600\n'
	printf '@ IN NS ns.example.com.\nns IN A 192.0.2.53\nmta-sts IN A 192.0.2.25\n'
	cat "$T/records"
} > "$T/zone"
named-checkzone example.com "$T/zone" > "$T/check" 2>&1
eq "named-checkzone accepts the records" "$?" 0
ok "named-checkzone says OK" grep -q '^OK$' "$T/check"
ok "TLSRPT record" grep -qx '_smtp._tls.example.com. IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://reports.example.com/tlsrpt"' "$T/records"
ok "comment about the mta-sts host" grep -q '^; mta-sts.example.com. must resolve to this host' "$T/records"

# several domains; one selected by name
cat >> "$T/c.conf" <<'C'
domain example.net
mode none
C
"$BIN" -c "$T/c.conf" --print-dns > "$T/records2" 2>/dev/null
eq "--print-dns prints every domain" "$(grep -c '^_mta-sts\.' "$T/records2")" 2
"$BIN" -c "$T/c.conf" --print-dns example.net > "$T/records3" 2>/dev/null
eq "--print-dns DOMAIN prints just that one" "$(grep -c '^_mta-sts\.' "$T/records3") $(grep -c 'example.net' "$T/records3")" "1 2"
"$BIN" -c "$T/c.conf" --print-dns example.org > /dev/null 2> "$T/err"
eq "--print-dns of an unknown domain" "$(grep ^error "$T/err")" "error: $T/c.conf: domain example.org is not configured"
done_testing
