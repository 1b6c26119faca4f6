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
 * escapes), or a run of such pieces, as UCI allows, and as long as the
 * native form allows (no limit of their own). Lines end in LF or CR LF,
 * as in the native form; any other CR is an error, as the native form
 * could not carry a value that ends in one. Errors in the UCI layer
 * itself are all listed, and stop there: the native parser would only
 * add follow-ups ("'cert' is missing" after a broken cert line).
 * Pure: no I/O.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

/* State of one translation, shared by its two passes. */
struct uci {
	const char	*file;
	struct diag	*d;
	char		*buf;		/* token scratch: room for any line */
	char		**names;	/* each section's "option name" */
	size_t		 nsec;		/* sections found by the first pass */
	size_t		 sec;		/* "config" lines so far */
	int		 in_domain;	/* 1: domain section; -1: skipped */
	int		 seen_domain;
};

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
 * Cut line at its LF and drop one CR before it, as conf.c does, so a
 * CRLF file reads like an LF one. Returns the next line or NULL.
 */
static char *
cut_line(char *line)
{
	char	*next;
	size_t	 n;

	if ((next = strchr(line, '\n')) != NULL)
		*next++ = '\0';
	if ((n = strlen(line)) > 0 && line[n - 1] == '\r')
		line[n - 1] = '\0';
	return next;
}

/*
 * One UCI token from *pp, unquoted, to *op and NUL-terminated; *op then
 * points past the NUL. Quoted and bare pieces run together until white
 * space. A token never takes more bytes (NUL included) than the text it
 * came from plus the blank or line end after it. Returns 1, 0 at the end
 * of the line, or -1 on an unterminated quote.
 */
static int
token(const char **pp, char **op)
{
	const char	*p = *pp;
	char		*o = *op;
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
				*o++ = *p++;
			}
			p++;
		} else {
			if (*p == '\\' && p[1] != '\0')
				p++;
			*o++ = *p++;
		}
	}
	*o++ = '\0';
	*pp = p;
	*op = o;
	return 1;
}

/*
 * Split line into at most 4 tokens w[], stored in buf, which needs room
 * for strlen(line) + 1 bytes. Returns the count, or -1 on an unterminated
 * quote. Both passes split alike, so they agree on what a line is.
 */
static int
words(const char *line, char *buf, char *w[4])
{
	int	n, r = 0;

	for (n = 0; n < 4; n++) {
		w[n] = buf;
		if ((r = token(&line, &buf)) != 1)
			break;
	}
	return r == -1 ? -1 : n;
}

/* Does any of the n tokens hold a CR (one that did not end the line)? */
static int
has_cr(char *w[4], int n)
{
	while (n-- > 0)
		if (strchr(w[n], '\r') != NULL)
			return 1;
	return 0;
}

/* Does a value need no quoting in the native form (one word, no '#')? */
static int
plain(const char *v)
{
	return *v != '\0' && strpbrk(v, " \t#") == NULL;
}

/*
 * One UCI line into its native form at *o (nothing for a line that has
 * no native counterpart). The native form is never longer than the line,
 * or than "domain " and the section's name on a "config domain" line.
 */
static void
translate_line(struct uci *u, int lineno, const char *line, char **o)
{
	const char	*file = u->file, *name;
	char		*w[4];
	int		 n;

	if ((n = words(line, u->buf, w)) == -1) {
		diag_add(u->d, 1, "%s:%d: unterminated quote", file, lineno);
		return;
	}
	if (has_cr(w, n)) {
		diag_add(u->d, 1, "%s:%d: a carriage return (CR) that does not "
		    "end the line", file, lineno);
		return;
	}
	if (n == 0)
		return;
	if (strcmp(w[0], "config") == 0) {
		name = u->sec < u->nsec ? u->names[u->sec] : NULL;
		u->in_domain = n >= 2 && strcmp(w[1], "domain") == 0;
		if (n < 2) {
			diag_add(u->d, 1, "%s:%d: 'config' needs a section "
			    "type", file, lineno);
			u->in_domain = -1;
		} else if (u->in_domain) {
			u->seen_domain = 1;
			if (name == NULL) {
				diag_add(u->d, 1, "%s:%d: this 'config domain' "
				    "section has no 'option name'", file,
				    lineno);
				u->in_domain = -1;
			} else if (strchr(name, '\r') != NULL)
				u->in_domain = -1;	/* told at its line */
			else if (!plain(name))
				diag_add(u->d, 1, "%s:%d: domain name '%s' is "
				    "not one word", file, lineno, name);
			else
				*o += sprintf(*o, "domain %s", name);
		} else if (strcmp(w[1], "mtasts-httpd") != 0 &&
		    strcmp(w[1], "global") != 0) {
			diag_add(u->d, 1, "%s:%d: unknown section type '%s' "
			    "(mtasts-httpd or domain)", file, lineno, w[1]);
			u->in_domain = -1;
		} else if (u->seen_domain) {
			diag_add(u->d, 1, "%s:%d: the '%s' section must come "
			    "before the first 'config domain'", file, lineno,
			    w[1]);
			u->in_domain = -1;
		}
		u->sec++;
		return;
	}
	if (strcmp(w[0], "option") != 0 && strcmp(w[0], "list") != 0) {
		diag_add(u->d, 1, "%s:%d: expected config, option or list, "
		    "not '%s'", file, lineno, w[0]);
		return;
	}
	if (u->sec == 0) {
		diag_add(u->d, 1, "%s:%d: '%s' before any 'config' line", file,
		    lineno, w[0]);
		return;
	}
	if (n != 3) {
		diag_add(u->d, 1, "%s:%d: '%s %s' takes one value", file,
		    lineno, w[0], n > 1 ? w[1] : "");
		return;
	}
	/* The section's name and procd's on/off switch are not ours. */
	if (u->in_domain == -1 || (u->in_domain && strcmp(w[1], "name") == 0) ||
	    (!u->in_domain && strcmp(w[1], "enabled") == 0))
		return;
	if (!plain(w[1]) || !plain(w[2])) {
		diag_add(u->d, 1, "%s:%d: %s '%s': the value must be one word",
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
	struct uci	 u;
	char		*copy = NULL, *out = NULL, *line, *next, *o, *w[4];
	size_t		 cap, need, nerr = d->nerr;
	int		 lineno, n;

	memset(&u, 0, sizeof(u));
	u.file = file;
	u.d = d;
	if ((copy = malloc(len + 1)) == NULL || (u.buf = malloc(len + 1)) ==
	    NULL)
		goto oom;
	memcpy(copy, buf, len);
	copy[len] = '\0';
	/* First pass: the name of every domain section, for its config line */
	for (line = copy; line != NULL; line = next) {
		next = cut_line(line);
		if ((n = words(line, u.buf, w)) < 1)
			continue;	/* the second pass tells why */
		/* Sections counted as the second pass counts them; a name
		 * with a CR is kept, so it is told once, at its own line. */
		if (strcmp(w[0], "config") == 0 && !has_cr(w, n)) {
			char **nn = realloc(u.names, (u.nsec + 1) *
			    sizeof(*nn));
			if (nn == NULL)
				goto oom;
			u.names = nn;
			u.names[u.nsec++] = NULL;
		} else if (u.nsec > 0 && n >= 3 &&
		    strcmp(w[0], "option") == 0 && strcmp(w[1], "name") == 0 &&
		    u.names[u.nsec - 1] == NULL &&
		    (u.names[u.nsec - 1] = strdup(w[2])) == NULL)
			goto oom;
	}
	/* Second pass: translate; the copy is split, re-read the input. */
	memcpy(copy, buf, len);
	copy[len] = '\0';
	cap = len + 64;
	if ((out = malloc(cap)) == NULL)
		goto oom;
	o = out;
	for (line = copy, lineno = 1; line != NULL; line = next, lineno++) {
		next = cut_line(line);
		/* This line's native form, its LF and the final NUL fit. */
		need = (size_t)(o - out) + strlen(line) + 2;
		if (u.sec < u.nsec && u.names[u.sec] != NULL)
			need += strlen("domain ") + strlen(u.names[u.sec]);
		if (need > cap) {
			size_t	 off = (size_t)(o - out);
			char	*no;

			cap = need > 2 * cap ? need : 2 * cap;
			if ((no = realloc(out, cap)) == NULL)
				goto oom;
			out = no;
			o = out + off;
		}
		translate_line(&u, lineno, line, &o);
		if (next != NULL)
			*o++ = '\n';
	}
	*o = '\0';
	goto out;
oom:
	diag_add(d, 1, "%s: out of memory", file);
out:
	while (u.nsec > 0)
		free(u.names[--u.nsec]);
	free(u.names);
	free(u.buf);
	free(copy);
	if (d->nerr != nerr) {
		free(out);
		return NULL;
	}
	return out;
}
