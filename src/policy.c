/*
 * policy.c: the rules of RFC 8461 section 3.2 and the rendering of the
 * policy text. Pure: no I/O, no logging; errors go into a caller's buffer.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mtasts.h"

static const char *const modes[] = { "enforce", "testing", "none" };

int
policy_mode_parse(const char *s)
{
	size_t	i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(s, modes[i]) == 0)
			return (int)i;
	return MODE_UNSET;
}

const char *
policy_mode_name(int mode)
{
	if (mode < 0 || (size_t)mode >= sizeof(modes) / sizeof(modes[0]))
		return "unset";
	return modes[mode];
}

/*
 * Check a host name (or, with allow_wildcard, an mx pattern): LDH labels
 * of 1..63 octets, 253 octets in all, at least two labels, no IP address,
 * and '*' only as the whole leftmost label (RFC 8461 3.2, RFC 1123 2.1).
 * A trailing dot is accepted; callers strip it. Returns 0 or -1 with err
 * (names quoted up to 300 octets: bounded for 32-bit -Wformat-truncation).
 */
int
policy_check_name(const char *name, int allow_wildcard, char *err,
    size_t errlen)
{
	const char	*p, *label;
	size_t		 len, n, labels = 0;
	int		 alldigits = 1;

	len = strlen(name);
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0) {
		snprintf(err, errlen, "empty name");
		return -1;
	}
	for (p = name; p < name + len; p++) {
		if ((unsigned char)*p >= 0x80) {
			snprintf(err, errlen, "'%.300s' is not ASCII: write the "
			    "A-label (punycode) form, xn--...", name);
			return -1;
		}
		if (*p == ':') {
			snprintf(err, errlen, "'%.300s' is an IP address: a host "
			    "name is required", name);
			return -1;
		}
	}
	p = name;
	if (!allow_wildcard && *p == '*') {
		snprintf(err, errlen, "'%.300s': a wildcard is not allowed here",
		    name);
		return -1;
	}
	if (allow_wildcard && strncmp(p, "*.", 2) == 0)
		p += 2;
	if (len > 253) {
		snprintf(err, errlen, "'%.300s' is longer than 253 characters",
		    name);
		return -1;
	}
	while (p < name + len) {
		label = p;
		alldigits = 1;
		while (p < name + len && *p != '.') {
			if (*p == '*') {
				snprintf(err, errlen, "'%.300s': '*' is allowed "
				    "only as the whole leftmost label, as in "
				    "'*.example.com'", name);
				return -1;
			}
			if (!isalnum((unsigned char)*p) && *p != '-') {
				snprintf(err, errlen, "'%.300s': invalid character "
				    "'%c' (letters, digits and '-' only)",
				    name, *p);
				return -1;
			}
			if (!isdigit((unsigned char)*p))
				alldigits = 0;
			p++;
		}
		n = (size_t)(p - label);
		if (n == 0) {
			snprintf(err, errlen, "'%.300s' has an empty label", name);
			return -1;
		}
		if (n > 63) {
			snprintf(err, errlen, "'%.300s' has a label longer than 63 "
			    "characters", name);
			return -1;
		}
		if (label[0] == '-' || label[n - 1] == '-') {
			snprintf(err, errlen, "'%.300s': a label may not start or "
			    "end with '-'", name);
			return -1;
		}
		labels++;
		if (p < name + len)
			p++;	/* the dot */
	}
	if (alldigits) {
		snprintf(err, errlen, "'%.300s' is an IP address or ends in a "
		    "numeric label: a host name is required", name);
		return -1;
	}
	if (labels < 2) {
		snprintf(err, errlen, "'%.300s' is not a fully qualified name",
		    name);
		return -1;
	}
	return 0;
}

/*
 * TLSRPT rua (RFC 8460 3): one or more mailto: or https: URIs separated by
 * commas; nothing that would break the TXT record (quotes, ';', spaces).
 */
int
policy_check_rua(const char *rua, char *err, size_t errlen)
{
	const char	*p = rua, *end;
	size_t		 n;

	for (;;) {
		end = strchr(p, ',');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (n >= 7 && strncasecmp(p, "mailto:", 7) == 0) {
			if (memchr(p, '@', n) == NULL || n == 7) {
				snprintf(err, errlen, "'%.*s' is not a mail "
				    "address", (int)n, p);
				return -1;
			}
		} else if (n >= 8 && strncasecmp(p, "https://", 8) == 0) {
			if (n == 8) {
				snprintf(err, errlen, "'%.*s' has no host",
				    (int)n, p);
				return -1;
			}
		} else {
			snprintf(err, errlen, "'%.*s' must start with mailto: "
			    "or https://", (int)n, p);
			return -1;
		}
		for (; p < rua + strlen(rua) && *p != ','; p++) {
			if (*p <= ' ' || *p > '~' || *p == '"' || *p == ';' ||
			    *p == '\\') {
				snprintf(err, errlen, "'%.300s': character not "
				    "allowed in a URI here", rua);
				return -1;
			}
		}
		if (end == NULL)
			return 0;
		p = end + 1;
	}
}

/*
 * RFC 8461 4.1: "*.example.com" matches exactly one extra leftmost label.
 * Case-insensitive. Returns 1 on a match.
 */
int
policy_wildcard_match(const char *pattern, const char *host)
{
	const char	*dot;

	if (strncmp(pattern, "*.", 2) != 0)
		return strcasecmp(pattern, host) == 0;
	dot = strchr(host, '.');
	if (dot == NULL || dot == host)
		return 0;
	return strcasecmp(dot + 1, pattern + 2) == 0;
}

/*
 * Render the policy of one domain: "version: STSv1" first, CRLF line ends,
 * one trailing CRLF, no blank lines. On 0, *out is malloc'd (the caller
 * frees) and *len its length. Returns POLICY_TOO_LARGE when the text
 * would not stay under POLICY_MAX_BYTES (a config error), POLICY_NOMEM
 * when memory runs out; *out and *len are untouched then.
 */
int
policy_render(const struct conf_domain *d, char **out, size_t *len)
{
	char	*buf = NULL;
	size_t	 cap, off = 0, i;
	int	 n;

	cap = 64;
	for (i = 0; i < d->nmx; i++)
		cap += strlen(d->mx[i]) + 6;
	cap += 32;
	if ((buf = malloc(cap)) == NULL)
		return POLICY_NOMEM;
	n = snprintf(buf, cap, "version: STSv1\r\nmode: %s\r\n",
	    policy_mode_name(d->mode));
	off = (size_t)n;
	for (i = 0; i < d->nmx; i++) {
		n = snprintf(buf + off, cap - off, "mx: %s\r\n", d->mx[i]);
		off += (size_t)n;
	}
	n = snprintf(buf + off, cap - off, "max_age: %lld\r\n", d->max_age);
	off += (size_t)n;
	if (off >= POLICY_MAX_BYTES) {
		free(buf);
		return POLICY_TOO_LARGE;
	}
	*out = buf;
	*len = off;
	return 0;
}

/*
 * The facts of a policy text as policy_render writes it (the history
 * keeps texts, not configs): mode, max_age, mx patterns. Lines end in
 * CRLF or LF; unknown keys are skipped (RFC 8461 3.2). 0, or -1 if there
 * is no mode or no max_age, or memory runs out.
 */
int
policy_facts(const char *text, size_t len, struct policy_facts *f)
{
	const char	*p = text, *end = text + len, *nl, *v;
	size_t		 kl, vl;
	char		 buf[300], **nmx;
	long long	 age;
	char		*ep;

	memset(f, 0, sizeof(*f));
	f->mode = MODE_UNSET;
	f->max_age = -1;
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if ((v = memchr(p, ':', (size_t)(nl - p))) == NULL)
			continue;
		kl = (size_t)(v - p);
		for (v++; v < nl && (*v == ' ' || *v == '\t'); v++)
			;
		vl = (size_t)(nl - v);
		while (vl > 0 && isspace((unsigned char)v[vl - 1]))
			vl--;
		if (vl >= sizeof(buf))
			continue;
		memcpy(buf, v, vl);
		buf[vl] = '\0';
		if (kl == 4 && memcmp(p, "mode", 4) == 0)
			f->mode = policy_mode_parse(buf);
		else if (kl == 7 && memcmp(p, "max_age", 7) == 0) {
			age = strtoll(buf, &ep, 10);
			if (*ep == '\0' && age >= 0 && age <= MAX_AGE_MAX)
				f->max_age = age;
		} else if (kl == 2 && memcmp(p, "mx", 2) == 0 && vl > 0) {
			nmx = realloc(f->mx, (f->nmx + 1) * sizeof(*nmx));
			if (nmx == NULL)
				goto fail;
			f->mx = nmx;
			if ((f->mx[f->nmx] = strdup(buf)) == NULL)
				goto fail;
			f->nmx++;
		}
		if (nl == end)
			break;
	}
	if (f->mode == MODE_UNSET || f->max_age < 0)
		goto fail;
	return 0;
fail:
	policy_facts_free(f);
	return -1;
}

void
policy_facts_free(struct policy_facts *f)
{
	size_t	i;

	for (i = 0; i < f->nmx; i++)
		free(f->mx[i]);
	free(f->mx);
	memset(f, 0, sizeof(*f));
}

/* Whether host is matched by one of the policy's mx patterns. */
int
policy_matches(const struct policy_facts *f, const char *host)
{
	size_t	i;

	for (i = 0; i < f->nmx; i++)
		if (policy_wildcard_match(f->mx[i], host))
			return 1;
	return 0;
}

/*
 * Whether every host pattern p matches is also matched by a pattern of f:
 * a host name by any pattern matching it; "*.x" only by "*.x" itself
 * (a list of hosts cannot cover all of a wildcard's).
 */
static int
covered(const struct policy_facts *f, const char *p)
{
	size_t	i;

	if (strncmp(p, "*.", 2) != 0)
		return policy_matches(f, p);
	for (i = 0; i < f->nmx; i++)
		if (strcasecmp(f->mx[i], p) == 0)
			return 1;
	return 0;
}

/*
 * What a sender that still holds policy old loses when the policy becomes
 * new, one line per change, each newline-terminated, appended to *out
 * (malloc'd; the caller frees): an mx pattern of an enforce policy that
 * new no longer covers (removed, or narrowed when new still matches some
 * of its hosts), and a move from testing to enforce. until is when old
 * may last be held, id its id. 0, or -1 if memory runs out.
 */
int
policy_rollout(const struct policy_facts *old, const char *id, time_t until,
    const struct policy_facts *new, char **out)
{
	char		 when[40], *line, *nb;
	struct tm	 tm;
	size_t		 i, j, have, add;
	int		 narrowed, n;

	if (gmtime_r(&until, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(when, sizeof(when), "%lld", (long long)until);
	for (i = 0; i <= old->nmx; i++) {
		line = NULL;
		if (i == old->nmx) {
			if (old->mode == MODE_TESTING &&
			    new->mode == MODE_ENFORCE)
				n = asprintf(&line, "mode testing -> enforce: "
				    "senders holding id %s only report failures "
				    "until %s; enforce applies to all from then "
				    "on\n", id, when);
			else
				continue;
		} else {
			if (old->mode != MODE_ENFORCE ||
			    covered(new, old->mx[i]))
				continue;
			narrowed = 0;
			for (j = 0; j < new->nmx; j++)
				if (strncmp(old->mx[i], "*.", 2) == 0 &&
				    policy_wildcard_match(old->mx[i],
				    new->mx[j]))
					narrowed = 1;
			n = asprintf(&line, "mx pattern '%s' %s: keep MX hosts "
			    "matching '%s' valid until %s (id %s may be cached "
			    "until then)\n", old->mx[i], narrowed ? "narrowed" :
			    "removed", old->mx[i], when, id);
		}
		if (n == -1)
			return -1;
		have = *out != NULL ? strlen(*out) : 0;
		add = strlen(line);
		if ((nb = realloc(*out, have + add + 1)) == NULL) {
			free(line);
			return -1;
		}
		memcpy(nb + have, line, add + 1);
		*out = nb;
		free(line);
	}
	return 0;
}
