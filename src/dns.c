/*
 * dns.c: the DNS records a domain needs, as zone-file lines with absolute
 * names (RFC 8461 3.1, RFC 8460 3). Pure: returns malloc'd text.
 */
#include <ctype.h>
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

/*
 * Fields of a TXT value p[0..len) "<version>; name=value; ...": calls f
 * for each field after the version with its name and value (the value
 * runs to the next ';', white space around it dropped: RFC 8460's rua
 * allows some inside). Returns -1 with err on a syntax error (RFC 8461
 * 3.1, RFC 8460 3), else what f last returned. Reads nothing past len.
 */
static int
fields(const char *p, size_t len, const char *version, char *err,
    size_t errlen, int (*f)(void *, const char *, size_t, const char *,
    size_t, char *, size_t), void *arg)
{
	const char	*end = p + len, *name, *eq, *val, *stop;
	size_t		 vl = strlen(version);
	int		 rc = 0;

	if (len < vl || memcmp(p, version, vl) != 0) {
		snprintf(err, errlen, "does not start with '%s'", version);
		return -1;
	}
	for (p += vl; p < end; ) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			break;
		if (*p != ';') {
			snprintf(err, errlen, "a field is not separated by "
			    "';'");
			return -1;
		}
		for (p++; p < end && (*p == ' ' || *p == '\t'); p++)
			;
		if (p == end)
			break;		/* a trailing ';' */
		name = p;
		if ((stop = memchr(p, ';', (size_t)(end - p))) == NULL)
			stop = end;
		if ((eq = memchr(name, '=', (size_t)(stop - name))) == NULL ||
		    eq == name) {
			snprintf(err, errlen, "field '%.*s' is not "
			    "name=value", (int)(stop - name > 40 ? 40 :
			    stop - name), name);
			return -1;
		}
		val = eq + 1;
		for (p = stop; p > val && (p[-1] == ' ' || p[-1] == '\t'); p--)
			;
		if ((rc = f(arg, name, (size_t)(eq - name), val,
		    (size_t)(p - val), err, errlen)) == -1)
			return -1;
		p = stop;
	}
	return rc;
}

/* RFC 8461 3.1: sts-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" /
 * "-" / "."), sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E) */
static int
ext_ok(const char *name, size_t nl, const char *val, size_t vl)
{
	size_t	i;

	if (nl == 0 || nl > 32 || !isalnum((unsigned char)name[0]) || vl == 0)
		return 0;
	for (i = 1; i < nl; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' &&
		    name[i] != '-' && name[i] != '.')
			return 0;
	for (i = 0; i < vl; i++)
		if ((unsigned char)val[i] < 0x21 || (unsigned char)val[i] >
		    0x7e || val[i] == ';' || val[i] == '=')
			return 0;
	return 1;
}

static int
sts_field(void *arg, const char *name, size_t nl, const char *val,
    size_t vl, char *err, size_t errlen)
{
	char	*id = arg;
	size_t	 i;

	if (!ext_ok(name, nl, val, vl) && !(nl == 2 && memcmp(name, "id",
	    2) == 0)) {
		snprintf(err, errlen, "field '%.*s' is not a valid "
		    "name=value (RFC 8461 3.1)", (int)(nl > 32 ? 32 : nl),
		    name);
		return -1;
	}
	if (nl != 2 || memcmp(name, "id", 2) != 0)
		return 0;	/* an extension: ignored */
	if (id[0] != '\0') {
		snprintf(err, errlen, "two id fields");
		return -1;
	}
	if (vl == 0 || vl > ID_MAX) {
		snprintf(err, errlen, "id '%.*s' is not 1-32 letters and "
		    "digits", (int)(vl > 40 ? 40 : vl), val);
		return -1;
	}
	for (i = 0; i < vl; i++)
		if (!((val[i] >= '0' && val[i] <= '9') ||
		    (val[i] >= 'a' && val[i] <= 'z') ||
		    (val[i] >= 'A' && val[i] <= 'Z'))) {
			snprintf(err, errlen, "id '%.*s' is not 1-32 letters "
			    "and digits", (int)vl, val);
			return -1;
		}
	memcpy(id, val, vl);
	id[vl] = '\0';
	return 0;
}

/*
 * The id of an _mta-sts TXT value (RFC 8461 3.1): "v=STSv1", then fields
 * "; name=value", one of them id=1*32(ALPHA / DIGIT). 0 with id, or -1
 * with err saying what is wrong.
 */
int
dns_sts_parse(const char *txt, size_t len, char id[ID_MAX + 1], char *err,
    size_t errlen)
{
	id[0] = '\0';
	if (memchr(txt, '\0', len) != NULL) {
		snprintf(err, errlen, "holds a NUL byte");
		return -1;
	}
	if (fields(txt, len, "v=STSv1", err, errlen, sts_field, id) == -1)
		return -1;
	if (id[0] == '\0') {
		snprintf(err, errlen, "no id field");
		return -1;
	}
	return 0;
}

struct rua {
	char	*out;
	size_t	 cap;
};

static int
rua_field(void *arg, const char *name, size_t nl, const char *val,
    size_t vl, char *err, size_t errlen)
{
	struct rua	*r = arg;

	if (nl != 3 || memcmp(name, "rua", 3) != 0)
		return 0;
	if (r->out[0] != '\0') {
		snprintf(err, errlen, "two rua fields");
		return -1;
	}
	snprintf(r->out, r->cap, "%.*s", (int)vl, val);
	return 0;
}

/*
 * The rua of an _smtp._tls TXT value (RFC 8460 3): "v=TLSRPTv1" then
 * "; rua=..." (kept as written). 0, or -1 with err.
 */
int
dns_tlsrpt_parse(const char *txt, size_t len, char *rua, size_t cap,
    char *err, size_t errlen)
{
	struct rua	r = { rua, cap };

	rua[0] = '\0';
	if (memchr(txt, '\0', len) != NULL) {
		snprintf(err, errlen, "holds a NUL byte");
		return -1;
	}
	if (fields(txt, len, "v=TLSRPTv1", err, errlen, rua_field, &r) == -1)
		return -1;
	if (rua[0] == '\0') {
		snprintf(err, errlen, "no rua field");
		return -1;
	}
	return 0;
}
