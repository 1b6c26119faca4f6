// mailauth's MTA-STS client against mtasts-httpd: for each DOMAIN:GOOD_MX
// argument, getPolicy(DOMAIN) through the system resolver, then
// validateMx with GOOD_MX (must pass) and with an unlisted host (must
// fail). Prints one JSON line per domain; exit 1 on any failure.
'use strict';
const { getPolicy, validateMx } = require('mailauth/lib/mta-sts');

(async () => {
    let ok = true;
    for (const arg of process.argv.slice(2)) {
        const [domain, goodMx] = arg.split(':');
        const r = await getPolicy(domain);
        const p = r.policy || {};
        const out = {
            domain,
            status: r.status,
            id: p.id,
            mode: p.mode,
            mx: p.mx,
            maxAge: p.maxAge,
            error: p.error ? String(p.error.message || p.error) : null,
            goodMx: validateMx(goodMx, p).valid,
            unlistedMx: validateMx('unlisted.invalid', p).valid
        };
        console.log(JSON.stringify(out));
        if (out.status !== 'found' || out.error || !out.goodMx || out.unlistedMx) {
            ok = false;
        }
    }
    process.exit(ok ? 0 : 1);
})();
