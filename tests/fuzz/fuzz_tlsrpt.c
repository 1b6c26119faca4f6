/*
 * libFuzzer harness: TLS reports (tlsrpt.c) on arbitrary bytes, inflated
 * (at most 1 MB out) and read as JSON, both the bytes themselves and what
 * they inflate to. It must never read past the length it is given (exact-
 * size copies, for ASan), leak, or keep what it promises not to: a NULL
 * or over-long string, a control byte, an upper-case domain, more
 * policies or distinct details than the caps, a negative count; on an
 * error the struct is left zeroed.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
str(const char *s, int lower)
{
	const char	*p;

	if (s == NULL || strlen(s) > 1024)
		abort();
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f ||
		    (lower && *p >= 'A' && *p <= 'Z'))
			abort();
}

static void
cnt(long long n)
{
	if (n < 0 || n > LLONG_MAX / 2)
		abort();
}

static void
check(const struct tlsrpt *r)
{
	const struct tlsrpt_policy	*p;
	const struct tlsrpt_detail	*d;
	size_t				 i, k;

	str(r->org, 0);
	str(r->contact, 0);
	str(r->id, 0);
	if (r->id[0] == '\0' || r->np > TLSRPT_POLICIES_MAX ||
	    (r->np > 0 && r->p == NULL))
		abort();
	for (i = 0; i < r->np; i++) {
		p = &r->p[i];
		str(p->type, 1);
		str(p->domain, 1);
		if (p->nstrings > 256 || p->nmx > 256 ||
		    p->nd > TLSRPT_DETAILS_MAX)
			abort();
		for (k = 0; k < p->nstrings; k++)
			str(p->strings[k], 0);
		for (k = 0; k < p->nmx; k++)
			str(p->mx[k], 1);
		cnt(p->success);
		cnt(p->failure);
		cnt(p->more);
		for (k = 0; k < p->nd; k++) {
			d = &p->d[k];
			str(d->result, 1);
			if (d->result[0] == '\0')
				abort();
			str(d->sending_ip, 0);
			str(d->mx, 1);
			str(d->mx_helo, 0);
			str(d->receiving_ip, 0);
			str(d->reason, 0);
			str(d->info, 0);
			cnt(d->count);
		}
	}
}

static void
parse(const char *json, size_t len)
{
	static const struct tlsrpt	zero;
	struct tlsrpt			r;
	char				err[256];

	if (tlsrpt_parse(json, len, &r, err, sizeof(err)) == 0) {
		check(&r);
		tlsrpt_free(&r);
		tlsrpt_free(&r);	/* zeroed: again is harmless */
	} else if (memchr(err, '\0', sizeof(err)) == NULL ||
	    memcmp(&r, &zero, sizeof(r)) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char		*p, *out, *cp, err[256];
	size_t		 outlen;

	if ((p = malloc(len > 0 ? len : 1)) == NULL)
		return 0;
	memcpy(p, data, len);
	parse(p, len);
	if (tlsrpt_inflate((unsigned char *)p, len, 1024 * 1024, &out, &outlen,
	    err, sizeof(err)) == 0) {
		if (outlen > 1024 * 1024 || out[outlen] != '\0')
			abort();
		/* exact size, so a read past outlen is caught */
		if ((cp = malloc(outlen > 0 ? outlen : 1)) != NULL) {
			memcpy(cp, out, outlen);
			parse(cp, outlen);
			free(cp);
		}
		free(out);
	} else if (memchr(err, '\0', sizeof(err)) == NULL || out != NULL)
		abort();
	free(p);
	return 0;
}
