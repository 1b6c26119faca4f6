/*
 * uci.c: reads OpenWrt's UCI file syntax (/etc/config/mtasts-httpd), so
 * the router package needs no translation script. A UCI file is turned,
 * line for line, into the native "key value" form and then parsed by
 * conf.c like any other config: one code path after this, and every
 * message keeps the UCI file's line numbers.
 *
 *   config mtasts-httpd 'main'        -> (globals)
 *           option state_dir '/etc/mtasts-httpd'
 *           list listen '443'
 *   config domain
 *           option name 'example.com' -> "domain example.com", on the
 *           list mx 'mail.example.com'   section's "config" line
 *
 * Values may be bare, 'single-quoted' or "double-quoted" (with backslash
 * escapes), or a run of such pieces, as UCI allows. Errors in the UCI
 * layer itself are all listed, and stop there: the native parser would
 * only add follow-ups ("'cert' is missing" after a broken cert line).
 * Pure: no I/O.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

#define UCI_WORD	1024	/* longest option name or value kept */

/* Is the first line that is not blank or a comment a "config" line? */
int
uci_detect(const char *buf, size_t len)
{
	const char	*p = buf, *end = buf + len;

	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
		    *p == '\n'))
			p++;
		if (p < end && *p == '#') {
			while (p < end && *p != '\n')
				p++;
			continue;
		}
		return end - p > 7 && strncmp(p, "config", 6) == 0 &&
		    (p[6] == ' ' || p[6] == '\t');
	}
	return 0;
}

/*
 * One UCI token from *pp into out (at most outlen - 1 bytes): quoted and
 * bare pieces run together until white space. Returns 1, 0 at the end of
 * the line, or -1 on an unterminated quote.
 */
static int
token(const char **pp, char *out, size_t outlen)
{
	const char	*p = *pp;
	size_t		 n = 0;
	char		 q;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	while (*p != '\0' && *p != ' ' && *p != '\t') {
		if (*p == '\'' || *p == '"') {
			q = *p++;
			while (*p != q) {
				if (*p == '\0')
					return -1;
				if (q == '"' && *p == '\\' && p[1] != '\0')
					p++;
				if (n + 1 < outlen)
					out[n++] = *p;
				p++;
			}
			p++;
		} else {
			if (*p == '\\' && p[1] != '\0')
				p++;
			if (n + 1 < outlen)
				out[n++] = *p;
			p++;
		}
	}
	out[n] = '\0';
	*pp = p;
	return 1;
}

/* Does a value need no quoting in the native form (one word, no '#')? */
static int
plain(const char *v)
{
	return *v != '\0' && strpbrk(v, " \t#") == NULL;
}

/*
 * One UCI line into its native form at *o (nothing for a line that has
 * no native counterpart). *sec counts "config" lines so far; names[] is
 * each section's "option name"; *in_domain is 1 in a domain section, -1
 * in one whose lines are skipped.
 */
static void
translate_line(const char *file, int lineno, const char *line, char **names,
    size_t *sec, int *in_domain, int *seen_domain, struct diag *d, char **o)
{
	char		 w[4][UCI_WORD];
	const char	*p = line;
	int		 n = 0, r = 0;

	while (n < 4 && (r = token(&p, w[n], sizeof(w[n]))) == 1)
		n++;
	if (r == -1) {
		diag_add(d, 1, "%s:%d: unterminated quote", file, lineno);
		return;
	}
	if (n == 0)
		return;
	if (strcmp(w[0], "config") == 0) {
		if (n < 2) {
			diag_add(d, 1, "%s:%d: 'config' needs a section type",
			    file, lineno);
			return;
		}
		*in_domain = strcmp(w[1], "domain") == 0;
		if (*in_domain) {
			*seen_domain = 1;
			if (names[*sec] == NULL) {
				diag_add(d, 1, "%s:%d: this 'config domain' "
				    "section has no 'option name'", file,
				    lineno);
				*in_domain = -1;
			} else if (!plain(names[*sec]))
				diag_add(d, 1, "%s:%d: domain name '%s' is not "
				    "one word", file, lineno, names[*sec]);
			else
				*o += sprintf(*o, "domain %s", names[*sec]);
		} else if (strcmp(w[1], "mtasts-httpd") != 0 &&
		    strcmp(w[1], "global") != 0) {
			diag_add(d, 1, "%s:%d: unknown section type '%s' "
			    "(mtasts-httpd or domain)", file, lineno, w[1]);
			*in_domain = -1;
		} else if (*seen_domain) {
			diag_add(d, 1, "%s:%d: the '%s' section must come "
			    "before the first 'config domain'", file, lineno,
			    w[1]);
			*in_domain = -1;
		}
		(*sec)++;
		return;
	}
	if (strcmp(w[0], "option") != 0 && strcmp(w[0], "list") != 0) {
		diag_add(d, 1, "%s:%d: expected config, option or list, not "
		    "'%s'", file, lineno, w[0]);
		return;
	}
	if (*sec == 0) {
		diag_add(d, 1, "%s:%d: '%s' before any 'config' line", file,
		    lineno, w[0]);
		return;
	}
	if (n != 3) {
		diag_add(d, 1, "%s:%d: '%s %s' takes one value", file, lineno,
		    w[0], n > 1 ? w[1] : "");
		return;
	}
	/* The section's name and procd's on/off switch are not ours. */
	if (*in_domain == -1 || (*in_domain && strcmp(w[1], "name") == 0) ||
	    (!*in_domain && strcmp(w[1], "enabled") == 0))
		return;
	if (!plain(w[1]) || !plain(w[2])) {
		diag_add(d, 1, "%s:%d: %s '%s': the value must be one word",
		    file, lineno, w[1], w[2]);
		return;
	}
	*o += sprintf(*o, "%s %s", w[1], w[2]);
}

/*
 * Translate a UCI config into the native form, one output line per input
 * line. Returns a malloc'd NUL-terminated text, or NULL with the reasons
 * in d (file:line as in the UCI file).
 */
char *
uci_translate(const char *file, const char *buf, size_t len, struct diag *d)
{
	char		*copy = NULL, *out = NULL, *line, *next, *o;
	char		 w[3][UCI_WORD], **names = NULL;
	const char	*p;
	size_t		 cap, nsec = 0, sec = 0, nerr = d->nerr;
	int		 lineno, in_domain = 0, seen_domain = 0;

	if ((copy = malloc(len + 1)) == NULL)
		goto oom;
	memcpy(copy, buf, len);
	copy[len] = '\0';
	/* First pass: the name of every domain section, for its config line */
	for (line = copy, lineno = 1; line != NULL; line = next, lineno++) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		p = line;
		if (token(&p, w[0], sizeof(w[0])) != 1)
			continue;
		if (strcmp(w[0], "config") == 0) {
			char **nn = realloc(names, (nsec + 1) * sizeof(*nn));
			if (nn == NULL)
				goto oom;
			names = nn;
			names[nsec++] = NULL;
		} else if (nsec > 0 && strcmp(w[0], "option") == 0 &&
		    token(&p, w[1], sizeof(w[1])) == 1 &&
		    strcmp(w[1], "name") == 0 &&
		    token(&p, w[2], sizeof(w[2])) == 1 &&
		    names[nsec - 1] == NULL &&
		    (names[nsec - 1] = strdup(w[2])) == NULL)
			goto oom;
	}
	/* Second pass: translate; the copy is split, re-read the input. */
	memcpy(copy, buf, len);
	copy[len] = '\0';
	cap = len + 64 * (nsec + 1) + 1;
	if ((out = malloc(cap)) == NULL)
		goto oom;
	o = out;
	for (line = copy, lineno = 1; line != NULL; line = next, lineno++) {
		if ((size_t)(o - out) + 2 * sizeof(w[0]) + 16 > cap) {
			size_t	 off = (size_t)(o - out);
			char	*no;

			cap = cap * 2 + 4 * sizeof(w[0]);
			if ((no = realloc(out, cap)) == NULL)
				goto oom;
			out = no;
			o = out + off;
		}
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		translate_line(file, lineno, line, names, &sec, &in_domain,
		    &seen_domain, d, &o);
		if (next != NULL)
			*o++ = '\n';
	}
	*o = '\0';
	goto out;
oom:
	diag_add(d, 1, "%s: out of memory", file);
out:
	while (nsec > 0)
		free(names[--nsec]);
	free(names);
	free(copy);
	if (d->nerr != nerr) {
		free(out);
		return NULL;
	}
	return out;
}
