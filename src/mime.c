/*
 * mime.c: the TLS reports (RFC 8460 5.3) attached to a mail message, or
 * to each message of an mbox file, found and decoded.
 *
 * Pure: no I/O, no logging. The input is read in place (it need not be
 * NUL-terminated and nothing past len is read); the only allocation is
 * one decoded attachment at a time, freed when the callback returns.
 * Work is linear in the input times the nesting depth, which is capped
 * (MIME_DEPTH_MAX), as is the number of entities looked at
 * (MIME_PARTS_MAX). Parsing is lenient where mail in the wild is
 * (RFC 2045-2047, RFC 5322): a part without its closing boundary runs
 * to the end, odd "=" in quoted-printable stays as it is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mtasts.h"

/* RFC 2046 5.1.1 allows 70; some generators make longer ones. */
#define BOUNDARY_MAX	200
/* A header field is read up to this many bytes; the rest is ignored. */
#define FIELD_MAX	65536
/* Kept parameter values (file names); a longer one is as if absent. */
#define VALUE_MAX	255
#define TYPE_MAX	127	/* type/subtype, RFC 6838 4.2 */
#define CTE_MAX		31
#define PATH_MAX_	96	/* "1.2.3": 2 + MIME_DEPTH_MAX numbers */

struct hdrs {
	char		 type[TYPE_MAX + 1];	/* lower case; "" if none */
	char		 boundary[BOUNDARY_MAX + 1];	/* "" if none */
	char		 name[VALUE_MAX + 1];	/* Content-Type's name */
	char		 filename[VALUE_MAX + 1];	/* Disposition's */
	char		 cte[CTE_MAX + 1];	/* lower case; "" if none */
	int		 have_type, have_cte, have_disp;
	const char	*body;
};

struct ctx {
	mime_cb		*cb;
	void		*arg;
	int		 msgno;		/* in an mbox, from 1; 0: one message */
	size_t		 nparts;	/* entities looked at */
	int		 stop;		/* MIME_PARTS_MAX reached */
	int		 nreports;
};

static void	entity(struct ctx *, const char *, const char *, int,
		    const char *, int, int);

/* White space inside a header field: folding leaves CR and LF in it. */
static int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* The end of the line at p (its '\n', or e) and where the next begins. */
static const char *
line_end(const char *p, const char *e, const char **next)
{
	const char	*nl = memchr(p, '\n', (size_t)(e - p));

	if (nl == NULL) {
		*next = e;
		return e;
	}
	*next = nl + 1;
	return nl;
}

/* The line [p, le) without a CR before its LF. */
static size_t
line_len(const char *p, const char *le)
{
	size_t	n = (size_t)(le - p);

	return n > 0 && p[n - 1] == '\r' ? n - 1 : n;
}

/* A comment, p at its '(': nested ones and quoted pairs (RFC 5322 3.2.2). */
static const char *
skip_comment(const char *p, const char *e)
{
	size_t	depth = 0;

	for (; p < e; p++) {
		if (*p == '\\' && p + 1 < e)
			p++;
		else if (*p == '(')
			depth++;
		else if (*p == ')' && --depth == 0)
			return p + 1;
	}
	return e;
}

static const char *
skip_cfws(const char *p, const char *e)
{
	while (p < e) {
		if (is_ws(*p))
			p++;
		else if (*p == '(')
			p = skip_comment(p, e);
		else
			break;
	}
	return p;
}

/* A quoted string, p at its opening quote. */
static const char *
skip_quoted(const char *p, const char *e)
{
	for (p++; p < e; p++) {
		if (*p == '\\' && p + 1 < e)
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return e;
}

/* A token's end: a parameter value is read leniently (up to a
 * separator, not only RFC 2045 token characters: real boundaries carry
 * '=' and '?' unquoted). */
static int
token_end(char c)
{
	return is_ws(c) || c == ';' || c == '(' || c == '"';
}

/*
 * A value at p (a token or a quoted string, unescaped and unfolded) into
 * out; 0, or -1 if it does not fit (empty is fine). *pp moves past it.
 */
static int
value(const char **pp, const char *e, char *out, size_t cap)
{
	const char	*p = *pp;
	size_t		 n = 0;
	int		 fits = 1;

	if (p < e && *p == '"') {
		for (p++; p < e && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < e)
				p++;
			else if (*p == '\r' || *p == '\n')
				continue;	/* unfolding */
			if (n + 1 < cap)
				out[n++] = *p;
			else
				fits = 0;
		}
		if (p < e)
			p++;
	} else
		for (; p < e && !token_end(*p); p++) {
			if (n + 1 < cap)
				out[n++] = *p;
			else
				fits = 0;
		}
	out[n] = '\0';
	*pp = p;
	return fits ? 0 : -1;
}

/*
 * The parameters after a value (RFC 2045 5.1, RFC 2183 2): boundary and
 * name of a Content-Type, filename of a Content-Disposition; first one
 * wins. RFC 2231 forms (name*=, name*0=) are other names: ignored.
 */
static void
params(const char *p, const char *e, struct hdrs *h, int disp)
{
	char	 pname[16], v[VALUE_MAX + 1];
	size_t	 n;

	for (;;) {
		while (p < e && *p != ';') {
			if (*p == '"')
				p = skip_quoted(p, e);
			else if (*p == '(')
				p = skip_comment(p, e);
			else
				p++;
		}
		if (p >= e)
			return;
		p = skip_cfws(p + 1, e);
		for (n = 0; p < e && !token_end(*p) && *p != '='; p++)
			if (n + 1 < sizeof(pname))
				pname[n++] = lower(*p);
			else
				n = sizeof(pname);	/* too long: no match */
		if (n >= sizeof(pname))
			continue;
		pname[n] = '\0';
		p = skip_cfws(p, e);
		if (p >= e || *p != '=')
			continue;
		p = skip_cfws(p + 1, e);
		if (value(&p, e, v, sizeof(v)) == -1)
			continue;
		if (disp) {
			if (strcmp(pname, "filename") == 0 &&
			    h->filename[0] == '\0')
				memcpy(h->filename, v, strlen(v) + 1);
		} else if (strcmp(pname, "boundary") == 0) {
			if (h->boundary[0] == '\0' &&
			    strlen(v) <= BOUNDARY_MAX)
				memcpy(h->boundary, v, strlen(v) + 1);
		} else if (strcmp(pname, "name") == 0 && h->name[0] == '\0')
			memcpy(h->name, v, strlen(v) + 1);
	}
}

/* Content-Type: type "/" subtype *(";" parameter), RFC 2045 5.1. */
static void
content_type(const char *p, const char *e, struct hdrs *h)
{
	size_t	n = 0;

	p = skip_cfws(p, e);
	for (; p < e && !token_end(*p) && *p != '/'; p++)
		if (n < TYPE_MAX)
			h->type[n++] = lower(*p);
	p = skip_cfws(p, e);
	if (p < e && *p == '/') {
		if (n < TYPE_MAX)
			h->type[n++] = '/';
		for (p = skip_cfws(p + 1, e); p < e && !token_end(*p); p++)
			if (n < TYPE_MAX)
				h->type[n++] = lower(*p);
	}
	h->type[n] = '\0';
	params(p, e, h, 0);
}

/* A header line's field name and colon (RFC 5322 2.2, 4.5.2: white
 * space before the colon too); the colon, or NULL if it is none. */
static const char *
field_colon(const char *p, const char *le)
{
	const char	*q;

	for (q = p; q < le && *q > ' ' && *q < 0x7f && *q != ':'; q++)
		;
	if (q == p)
		return NULL;
	while (q < le && (*q == ' ' || *q == '\t'))
		q++;
	return q < le && *q == ':' ? q : NULL;
}

static int
field_is(const char *p, const char *colon, const char *name)
{
	size_t	n = strlen(name);

	return (size_t)(colon - p) >= n && strncasecmp(p, name, n) == 0 &&
	    (colon - p == (long)n || p[n] == ' ' || p[n] == '\t');
}

/*
 * The header section of the entity [p, e) into h: it ends at an empty
 * line, or at a line that is no header field (a part without its empty
 * line). 0, or -1 if there is no header field first.
 */
static int
headers(const char *p, const char *e, struct hdrs *h)
{
	const char	*le, *next, *colon, *v, *ve;
	size_t		 i;
	int		 first = 1;

	memset(h, 0, sizeof(*h));
	h->body = e;
	while (p < e) {
		le = line_end(p, e, &next);
		if (line_len(p, le) == 0) {
			h->body = next;
			return first ? -1 : 0;
		}
		if ((colon = field_colon(p, le)) == NULL) {
			h->body = p;
			return first ? -1 : 0;
		}
		first = 0;
		/* continuation lines: their CR LF is white space here */
		while (next < e && (*next == ' ' || *next == '\t'))
			le = line_end(next, e, &next);
		v = colon + 1;
		ve = (size_t)(le - v) > FIELD_MAX ? v + FIELD_MAX : le;
		if (!h->have_type && field_is(p, colon, "content-type")) {
			h->have_type = 1;
			content_type(v, ve, h);
		} else if (!h->have_cte &&
		    field_is(p, colon, "content-transfer-encoding")) {
			h->have_cte = 1;
			v = skip_cfws(v, ve);
			value(&v, ve, h->cte, sizeof(h->cte));
			for (i = 0; h->cte[i] != '\0'; i++)
				h->cte[i] = lower(h->cte[i]);
		} else if (!h->have_disp &&
		    field_is(p, colon, "content-disposition")) {
			h->have_disp = 1;
			params(v, ve, h, 1);
		}
		p = next;
	}
	return first ? -1 : 0;
}

/* s ends in suffix, any case. */
static int
ends_in(const char *s, const char *suffix)
{
	size_t	n = strlen(s), m = strlen(suffix);

	return n > m && strcasecmp(s + n - m, suffix) == 0;
}

/*
 * RFC 8460 5.3's media types; and, as some reporters send them, generic
 * ones with a report's file name. 1 with *gz set, or 0. A zip archive
 * (application/zip) is no gzip stream: not taken.
 */
static int
is_report(const struct hdrs *h, int *gz)
{
	static const char	*generic[] = { "application/gzip",
				    "application/x-gzip",
				    "application/octet-stream",
				    "application/json" };
	const char		*fn;
	size_t			 i;

	if (strcmp(h->type, "application/tlsrpt+gzip") == 0) {
		*gz = 1;
		return 1;
	}
	if (strcmp(h->type, "application/tlsrpt+json") == 0) {
		*gz = 0;
		return 1;
	}
	for (i = 0; i < sizeof(generic) / sizeof(generic[0]); i++)
		if (strcmp(h->type, generic[i]) == 0)
			break;
	if (i == sizeof(generic) / sizeof(generic[0]))
		return 0;
	fn = h->filename[0] != '\0' ? h->filename : h->name;
	if (ends_in(fn, ".gz")) {
		*gz = 1;
		return 1;
	}
	if (ends_in(fn, ".json")) {
		*gz = 0;
		return 1;
	}
	return 0;
}

static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Base64 (RFC 2045 6.8) of n bytes into out (at least n * 3 / 4 + 3):
 * line breaks and white space skipped, the first '=' ends it. The length,
 * or -1 with *bad the offset of the first byte that is not base64, or -2
 * if it ends one character into a group (6 bits: no byte).
 */
static long
b64_decode(const char *s, size_t n, unsigned char *out, size_t *bad)
{
	unsigned long	 acc = 0;
	size_t		 i, o = 0, k = 0, last = 0;
	int		 v;

	for (i = 0; i < n && s[i] != '='; i++) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
		    s[i] == '\n')
			continue;
		if ((v = b64_value(s[i])) == -1) {
			*bad = i;
			return -1;
		}
		acc = (acc << 6 | (unsigned long)v) & 0xffffff;
		last = i;
		if (++k == 4) {
			out[o++] = (unsigned char)(acc >> 16);
			out[o++] = (unsigned char)(acc >> 8);
			out[o++] = (unsigned char)acc;
			k = 0;
		}
	}
	/* the last group: 2 or 3 characters make 1 or 2 bytes (padding
	 * or not); 1 makes none */
	if (k == 1) {
		*bad = last;
		return -2;
	}
	if (k >= 2)
		out[o++] = (unsigned char)(acc >> (k == 2 ? 4 : 10));
	if (k == 3)
		out[o++] = (unsigned char)(acc >> 2);
	return (long)o;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Quoted-printable (RFC 2045 6.7) of n bytes into out (n bytes): =XX,
 * soft line breaks (with white space before them too, rule 3), white
 * space at the end of a line dropped. An '=' that starts neither stays
 * as it is (the note to rule 1). Returns the length.
 */
static size_t
qp_decode(const char *s, size_t n, unsigned char *out)
{
	size_t	i = 0, j, o = 0, keep = 0;
	int	hi, lo;

	while (i < n) {
		if (s[i] == '=') {
			for (j = i + 1; j < n && (s[j] == ' ' || s[j] == '\t');
			    j++)
				;
			/* a soft line break keeps the white space
			 * before it */
			if (j == n || s[j] == '\n') {
				i = j + (j < n);
				keep = o;
				continue;
			}
			if (s[j] == '\r' && j + 1 < n && s[j + 1] == '\n') {
				i = j + 2;
				keep = o;
				continue;
			}
			if (i + 2 < n && (hi = hex_value(s[i + 1])) != -1 &&
			    (lo = hex_value(s[i + 2])) != -1) {
				out[o++] = (unsigned char)(hi << 4 | lo);
				keep = o;
				i += 3;
				continue;
			}
			out[o++] = '=';
			keep = o;
			i++;
		} else if (s[i] == '\n' ||
		    (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')) {
			o = keep;
			if (s[i] == '\r')
				out[o++] = s[i++];
			out[o++] = s[i++];
			keep = o;
		} else {
			out[o++] = (unsigned char)s[i];
			if (s[i] != ' ' && s[i] != '\t')
				keep = o;
			i++;
		}
	}
	return keep;
}

/* A report part [p, e) decoded and handed to the callback. */
static void
report(struct ctx *c, const struct hdrs *h, const char *p, const char *e,
    const char *path, int gz)
{
	struct mime_part	 mp;
	unsigned char		*buf = NULL;
	char			 where[160], why[128];
	size_t			 n = (size_t)(e - p), bad = 0, i;
	long			 r;

	memset(&mp, 0, sizeof(mp));
	mp.gz = gz;
	if (c->msgno > 0)
		snprintf(where, sizeof(where), "message %d, %s%s", c->msgno,
		    path[0] != '\0' ? "part " : "body", path);
	else
		snprintf(where, sizeof(where), "%s%s",
		    path[0] != '\0' ? "part " : "message body", path);
	mp.where = where;
	if (h->cte[0] == '\0' || strcmp(h->cte, "7bit") == 0 ||
	    strcmp(h->cte, "8bit") == 0 || strcmp(h->cte, "binary") == 0) {
		mp.data = (const unsigned char *)p;
		mp.len = n;
	} else if (strcmp(h->cte, "base64") == 0 ||
	    strcmp(h->cte, "quoted-printable") == 0) {
		if ((buf = malloc(n + 4)) == NULL)
			mp.why = "out of memory";
		else if (h->cte[0] == 'q') {
			mp.len = qp_decode(p, n, buf);
			mp.data = buf;
		} else if ((r = b64_decode(p, n, buf, &bad)) < 0) {
			if (r == -1)
				snprintf(why, sizeof(why), "bad base64 at byte "
				    "%zu of the part's body", bad);
			else
				snprintf(why, sizeof(why), "base64 cut short "
				    "at byte %zu of the part's body", bad);
			mp.why = why;
		} else {
			mp.len = (size_t)r;
			mp.data = buf;
		}
	} else {
		/* quoted printable, cut: it goes to a log */
		snprintf(why, sizeof(why), "unknown Content-Transfer-Encoding "
		    "'%s'", h->cte);
		for (i = strlen("unknown Content-Transfer-Encoding '");
		    why[i] != '\0'; i++)
			if ((unsigned char)why[i] < ' ' ||
			    (unsigned char)why[i] >= 0x7f)
				why[i] = '?';
		mp.why = why;
	}
	c->nreports++;
	c->cb(c->arg, &mp);
	free(buf);
}

/*
 * The parts of a multipart body [p, e) (RFC 2046 5.1.1): a delimiter is
 * a line "--" boundary, "--" after it on the last one, then only white
 * space; the line end before it belongs to it. Preamble and epilogue are
 * ignored; a last part without the closing delimiter runs to the end.
 */
static void
multipart(struct ctx *c, const char *p, const char *e, const char *bnd,
    int depth, const char *path, int digest)
{
	const char	*le, *next, *start = NULL, *q, *end;
	char		 sub[PATH_MAX_];
	size_t		 bl = strlen(bnd), ll;
	int		 k = 0, close;

	for (; p < e && !c->stop; p = next) {
		le = line_end(p, e, &next);
		ll = line_len(p, le);
		if (ll < 2 + bl || p[0] != '-' || p[1] != '-' ||
		    memcmp(p + 2, bnd, bl) != 0)
			continue;
		q = p + 2 + bl;
		close = q + 2 <= p + ll && q[0] == '-' && q[1] == '-';
		for (q += close ? 2 : 0; q < p + ll; q++)
			if (*q != ' ' && *q != '\t')
				break;
		if (q < p + ll)
			continue;
		if (start != NULL) {
			end = p;
			if (end > start && end[-1] == '\n')
				end--;
			if (end > start && end[-1] == '\r')
				end--;
			snprintf(sub, sizeof(sub), "%s%s%d", path,
			    path[0] != '\0' ? "." : "", ++k);
			entity(c, start, end, depth, sub, 0, digest);
		}
		if (close)
			return;
		start = next;
	}
	if (start != NULL && !c->stop) {
		snprintf(sub, sizeof(sub), "%s%s%d", path,
		    path[0] != '\0' ? "." : "", ++k);
		entity(c, start, e, depth, sub, 0, digest);
	}
}

/*
 * One entity [p, e) at nesting depth depth, named path ("" for the top
 * message; "1.2"): a message (msg: the top one or a message/rfc822
 * part), or a body part (in a multipart/digest if digest, whose parts
 * are messages unless they say otherwise, RFC 2046 5.1.5).
 */
static void
entity(struct ctx *c, const char *p, const char *e, int depth,
    const char *path, int msg, int digest)
{
	struct hdrs	 h;
	char		 leaf[PATH_MAX_];
	int		 gz;

	if (c->stop)
		return;
	if (c->nparts >= MIME_PARTS_MAX) {
		c->stop = 1;
		return;
	}
	c->nparts++;
	headers(p, e, &h);
	if (h.type[0] == '\0')
		snprintf(h.type, sizeof(h.type), "%s",
		    digest ? "message/rfc822" : "text/plain");
	/* IMAP's numbering (RFC 3501 6.4.5): a message's body, when it is
	 * no multipart, is its part 1 */
	if (!msg || path[0] == '\0')
		snprintf(leaf, sizeof(leaf), "%s", path);
	else
		snprintf(leaf, sizeof(leaf), "%s.1", path);
	if (strncmp(h.type, "multipart/", 10) == 0) {
		if (depth < MIME_DEPTH_MAX && h.boundary[0] != '\0')
			multipart(c, h.body, e, h.boundary, depth + 1, path,
			    strcmp(h.type, "multipart/digest") == 0);
	} else if (strcmp(h.type, "message/rfc822") == 0 ||
	    strcmp(h.type, "message/global") == 0) {
		/* RFC 2046 5.2.1: only 7bit, 8bit or binary */
		if (depth < MIME_DEPTH_MAX && (h.cte[0] == '\0' ||
		    strcmp(h.cte, "7bit") == 0 || strcmp(h.cte, "8bit") == 0 ||
		    strcmp(h.cte, "binary") == 0))
			entity(c, h.body, e, depth + 1,
			    leaf[0] != '\0' ? leaf : "1", 1, 0);
	} else if (is_report(&h, &gz))
		report(c, &h, h.body, e, leaf, gz);
}

/* One message [p, e) of the input: if it starts with a header field. */
static void
message(struct ctx *c, const char *p, const char *e)
{
	struct hdrs	h;

	if (headers(p, e, &h) == 0)
		entity(c, p, e, 0, "", 1, 0);
}

/* An mbox line "From " ... (RFC 4155): at the start or after an empty
 * line. */
static int
is_from(const char *p, const char *e)
{
	return e - p >= 5 && memcmp(p, "From ", 5) == 0;
}

int
mime_reports(const char *buf, size_t len, mime_cb *cb, void *arg)
{
	struct ctx	 c;
	const char	*e = buf + len, *p, *le, *next, *start, *empty = NULL;

	memset(&c, 0, sizeof(c));
	c.cb = cb;
	c.arg = arg;
	if (!is_from(buf, e)) {
		message(&c, buf, e);
		return c.nreports;
	}
	line_end(buf, e, &start);
	for (p = start; p < e && !c.stop; p = next) {
		le = line_end(p, e, &next);
		if (empty != NULL && is_from(p, e)) {
			c.msgno++;
			message(&c, start, empty);
			start = next;
		}
		empty = line_len(p, le) == 0 ? p : NULL;
	}
	if (!c.stop) {
		c.msgno++;
		message(&c, start, e);
	}
	return c.nreports;
}
