/*
 * libFuzzer harness: DNS answers (dnsq.c's dnsq_parse) on arbitrary
 * bytes, read as the answer to "example.com" and to the name in the
 * message's own question (so that the seeds, answers for other names, get
 * past the question check), each of the types dnsq asks. It must never
 * read past the length it is given (an exact-size copy, for ASan), leak,
 * or hand back a record its contract does not allow: names printable,
 * lower case, without a trailing dot; data NUL-terminated at its length;
 * addresses that read back; CAA tags letters and digits.
 */
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const int	types[] = { DNSQ_T_A, DNSQ_T_CNAME, DNSQ_T_MX,
			    DNSQ_T_TXT, DNSQ_T_AAAA, DNSQ_T_CAA };

/* a host name as dnsq gives it back ("" allowed: the root) */
static void
name_ok(const char *s, size_t cap)
{
	size_t	n = strnlen(s, cap), i;

	if (n >= cap || n > 255 || (n > 0 && s[n - 1] == '.'))
		abort();
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f ||
		    s[i] == '\\' || (s[i] >= 'A' && s[i] <= 'Z'))
			abort();
}

static void
rr_ok(const struct dnsq_rr *r, int type)
{
	unsigned char	a[16];
	size_t		i;

	if (r->type != type || r->data == NULL || r->data[r->len] != '\0')
		abort();
	name_ok(r->name, sizeof(r->name));
	switch (type) {
	case DNSQ_T_A:
	case DNSQ_T_AAAA:
		if (inet_pton(type == DNSQ_T_A ? AF_INET : AF_INET6, r->data,
		    a) != 1)
			abort();
		break;
	case DNSQ_T_MX:
	case DNSQ_T_CNAME:
		if (strlen(r->data) != r->len || r->pref < 0 ||
		    r->pref > 65535)
			abort();
		name_ok(r->data, r->len + 1);
		break;
	case DNSQ_T_CAA:
		if (r->pref < 0 || r->pref > 255 || r->tag[0] == '\0' ||
		    strnlen(r->tag, sizeof(r->tag)) == sizeof(r->tag))
			abort();
		for (i = 0; r->tag[i] != '\0'; i++)
			if (!((r->tag[i] >= 'a' && r->tag[i] <= 'z') ||
			    (r->tag[i] >= '0' && r->tag[i] <= '9')))
				abort();
		break;
	}
}

static void
one(const unsigned char *p, size_t len, const char *qname, int type)
{
	struct dnsq_ans	 ans;
	char		 err[512];
	size_t		 i;
	int		 rc;

	memset(&ans, 0xa5, sizeof(ans));
	memset(err, 'x', sizeof(err));
	rc = dnsq_parse(p, len, qname, type, &ans, err, sizeof(err));
	if (memchr(err, '\0', sizeof(err)) == NULL)
		abort();
	name_ok(ans.cname, sizeof(ans.cname));
	if (ans.rcode < -1 || ans.rcode > 15)
		abort();
	switch (rc) {
	case DNSQ_OK:
		if (ans.n == 0 || ans.rr == NULL || ans.rcode != 0)
			abort();
		for (i = 0; i < ans.n; i++)
			rr_ok(&ans.rr[i], type);
		break;
	case DNSQ_NONAME:
	case DNSQ_NODATA:
	case DNSQ_FAIL:
		if (ans.n != 0 || ans.rr != NULL || err[0] == '\0' ||
		    (rc == DNSQ_FAIL && ans.cname[0] != '\0') ||
		    (rc == DNSQ_NONAME && ans.rcode != 3) ||
		    (rc == DNSQ_NODATA && ans.rcode != 0))
			abort();
		break;
	default:
		abort();
	}
	dnsq_free(&ans);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	unsigned char	*p;
	ns_msg		 m;
	ns_rr		 q;
	size_t		 t;
	int		 own = 0;

	if ((p = malloc(len > 0 ? len : 1)) == NULL)
		return 0;
	memcpy(p, data, len);
	if (len <= 65535 && ns_initparse(p, (int)len, &m) == 0 &&
	    ns_msg_count(m, ns_s_qd) > 0 && ns_parserr(&m, ns_s_qd, 0, &q) == 0)
		own = q.name[0] != '\0' && strcmp(q.name, "example.com") != 0;
	for (t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		one(p, len, "example.com", types[t]);
		if (own)
			one(p, len, q.name, types[t]);
	}
	/* the bytes as a TXT value too (not NUL-terminated: the parsers
	 * must stop at len) */
	{
		char	id[ID_MAX + 1], rua[512], err[256];

		if (dns_sts_parse((const char *)p, len, id, err,
		    sizeof(err)) == 0 && (id[0] == '\0' || strlen(id) > ID_MAX))
			abort();
		dns_tlsrpt_parse((const char *)p, len, rua, sizeof(rua), err,
		    sizeof(err));
	}
	free(p);
	return 0;
}
