/*
 * libFuzzer harness: the ACME server's JSON objects (acmemsg.c) on
 * arbitrary bytes, read as each kind. It must never read past the length
 * it is given (an exact-size copy, for ASan), leak, or keep a string that
 * is unsafe to echo into a request: every URL it keeps passes
 * acme_url_ok, the token is base64url, status a plain word.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const struct acme_msg *m)
{
	size_t	i;

	if (strlen(m->status) >= sizeof(m->status) ||
	    strspn(m->status, "abcdefghijklmnopqrstuvwxyz") !=
	    strlen(m->status))
		abort();
	if ((m->new_nonce && !acme_url_ok(m->new_nonce)) ||
	    (m->new_account && !acme_url_ok(m->new_account)) ||
	    (m->new_order && !acme_url_ok(m->new_order)) ||
	    (m->finalize && !acme_url_ok(m->finalize)) ||
	    (m->certificate && !acme_url_ok(m->certificate)) ||
	    (m->chal_url && !acme_url_ok(m->chal_url)) ||
	    (m->token && !acme_b64url_ok(m->token, 256)) ||
	    m->nauthz > ACME_AUTHZ_MAX)
		abort();
	for (i = 0; i < m->nauthz; i++)
		if (!acme_url_ok(m->authz[i]))
			abort();
	if ((m->type == NULL) != (m->detail == NULL))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct acme_msg	 m;
	char		 err[256], *p;
	int		 kind;

	if ((p = malloc(len > 0 ? len : 1)) == NULL)
		return 0;
	memcpy(p, data, len);
	for (kind = ACME_DIRECTORY; kind <= ACME_PROBLEM; kind++) {
		if (acme_msg_parse(kind, p, len, &m, err, sizeof(err)) == 0) {
			check(&m);
			acme_msg_free(&m);
		} else if (memchr(err, '\0', sizeof(err)) == NULL)
			abort();
	}
	free(p);
	return 0;
}
