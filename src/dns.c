/*
 * dns.c: the DNS records a domain needs, as zone-file lines with absolute
 * names (RFC 8461 3.1, RFC 8460 3). Pure: returns malloc'd text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

/* The record's owner name, absolute: _mta-sts.<domain>. */
void
dns_sts_name(const char *domain, char *buf, size_t len)
{
	snprintf(buf, len, "_mta-sts.%s.", domain);
}

/* The record's TXT value: v=STSv1; id=<id> */
void
dns_sts_value(const char *id, char *buf, size_t len)
{
	snprintf(buf, len, "v=STSv1; id=%s", id);
}

/* One line, no newline: _mta-sts.<domain>. IN TXT "v=STSv1; id=<id>" */
char *
dns_sts_record(const char *domain, const char *id)
{
	char	 name[300], value[64], *s = NULL;

	dns_sts_name(domain, name, sizeof(name));
	dns_sts_value(id, value, sizeof(value));
	if (asprintf(&s, "%s IN TXT \"%s\"", name, value) == -1)
		return NULL;
	return s;
}

/*
 * Append the TXT value v as quoted character-strings of at most 255
 * octets each (RFC 1035 3.3.14); the rua check keeps quotes out of v.
 */
static int
append_txt(char **buf, size_t *len, const char *v)
{
	size_t	 vl = strlen(v), off, n;
	char	*nb;

	nb = realloc(*buf, *len + vl + 4 * (vl / 255 + 1) + 1);
	if (nb == NULL)
		return -1;
	*buf = nb;
	for (off = 0; off == 0 || off < vl; off += n) {
		n = vl - off > 255 ? 255 : vl - off;
		*len += (size_t)sprintf(*buf + *len, "%s\"%.*s\"",
		    off == 0 ? "" : " ", (int)n, v + off);
	}
	return 0;
}

/*
 * All records for one domain with the given id, newline-terminated lines:
 * the _mta-sts TXT record, the _smtp._tls TXT record when rua is set, and
 * a comment that mta-sts.<domain> must point at this host.
 */
char *
dns_render(const struct conf_domain *d, const char *id)
{
	char	*buf = NULL, *sts = NULL, *tls = NULL, *out = NULL;
	size_t	 len = 0;

	if ((sts = dns_sts_record(d->name, id)) == NULL)
		goto out;
	if (d->rua != NULL) {
		if (asprintf(&tls, "v=TLSRPTv1; rua=%s", d->rua) == -1) {
			tls = NULL;
			goto out;
		}
		if (asprintf(&buf, "_smtp._tls.%s. IN TXT ", d->name) == -1) {
			buf = NULL;
			goto out;
		}
		len = strlen(buf);
		if (append_txt(&buf, &len, tls) == -1)
			goto out;
	}
	if (asprintf(&out, "%s\n%s%s; mta-sts.%s. must resolve to this host "
	    "(A/AAAA or CNAME)\n", sts, buf != NULL ? buf : "",
	    buf != NULL ? "\n" : "", d->name) == -1)
		out = NULL;
out:
	free(sts);
	free(tls);
	free(buf);
	return out;
}
