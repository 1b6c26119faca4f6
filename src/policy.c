/*
 * policy.c: the rules of RFC 8461 section 3.2 and the rendering of the
 * policy text. Pure: no I/O, no logging; errors go into a caller's buffer.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
