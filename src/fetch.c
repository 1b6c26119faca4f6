/*
 * fetch.c: HTTPS requests for the ACME child and the live checks (to
 * one address of a host: fetch_at), and TLS on a connection of the
 * caller's (SMTP STARTTLS: fetch_tls_*), with the same trust and checks.
 * One HTTP/1.1 request per connection (Connection: close), the response
 * read until it is whole (its Content-Length, or its last chunk and
 * trailer, in: a server may keep the connection open all the same) or,
 * with neither, to EOF; then parsed. Blocking, but every wait is a
 * poll() with a deadline, so a server that stops answering costs a
 * bounded time. Trust is the CA bundle given to fetch_new, parsed once;
 * the server's name is checked against its certificate.
 *
 * The parser (scan) is one state machine, run on each longer prefix as
 * the response comes in and then once more on the whole for
 * fetch_parse's answer. It is pure (no I/O, no logging); the one thing it
 * reads from outside is the clock, to turn a Retry-After date into
 * seconds from now. Bytes of the response it quotes in an error are made
 * printable first: the message goes to the log.
 * What it accepts (RFC 9112): lines ending in CRLF or a bare LF (2.2
 * allows a recipient to take LF alone); a CR anywhere else, a control
 * character in a field, obsolete line folding (5.2) or white space before
 * a field's colon (5.1) is an error; 1xx interim responses are skipped;
 * Transfer-Encoding chunked wins over Content-Length (6.3), conflicting
 * Content-Lengths are an error; with neither, the body runs to EOF.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "mtasts.h"
#include "compat.h"

/* Chunk-size lines and trailers on top of the body: enough for a body
 * cut into chunks of a few hundred bytes, not for one byte at a time. */
#define FETCH_SLACK	65536
#define FETCH_READ_MAX	(FETCH_HEAD_MAX + FETCH_BODY_MAX + FETCH_SLACK)
/* A response that trickles in is cut off after this many timeouts. */
#define FETCH_SLOW	4

struct fetch {
	mbedtls_x509_crt	ca;
	mbedtls_ssl_config	conf;
};

/* ---- the response parser ---- */

/* What scan() says of the bytes so far; SCAN_STEP is its own: go on. */
enum scan_result { SCAN_BAD = -1, SCAN_MORE, SCAN_WHOLE, SCAN_EOF,
	SCAN_STEP };

/* Where in a response scan() is: what it looks for at frame.off. */
enum scan_state {
	S_STATUS,	/* a status line */
	S_FIELD,	/* a field line, or the empty line ending the head */
	S_LENGTH,	/* Content-Length bytes of body */
	S_SIZE,		/* a chunk-size line */
	S_DATA,		/* a chunk's data and its line end */
	S_TRAILER,	/* a trailer field, or the empty line ending them */
	S_EOF,		/* body until EOF */
	S_WHOLE		/* nothing: the response is whole */
};

/* What the final head says about the body, and how far scan() got. */
struct frame {
	int		 chunked;
	int		 has_length;
	uint64_t	 length;	/* saturates above FETCH_BODY_MAX */
	int		 retry_seen;
	enum scan_state	 state;
	size_t		 off;		/* the next byte to look at */
	size_t		 body;		/* where the body starts */
	uint64_t	 chunk;		/* S_DATA: the chunk's size */
	size_t		 olen;		/* body bytes so far */
};

/* Raw response bytes quoted in an error message: at most this many. */
#define QUOTE_MAX	60

static int
is_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 5.6.2 tchar */
static int
is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
is_b64url(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

/*
 * The next line of buf[*off..end), without its line end (CRLF or LF):
 * 1 with *line and *llen set and *off past it, 0 if no LF comes before
 * end.
 */
static int
next_line(const char *buf, size_t end, size_t *off, const char **line,
    size_t *llen)
{
	const char	*p = buf + *off, *nl;
	size_t		 n;

	if (*off >= end || (nl = memchr(p, '\n', end - *off)) == NULL)
		return 0;
	n = (size_t)(nl - p);
	*off += n + 1;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	*line = p;
	*llen = n;
	return 1;
}

static void
trim(const char **p, size_t *n)
{
	while (*n > 0 && is_ows(**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && is_ows((*p)[*n - 1]))
		(*n)--;
}

static int
name_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* 1*DIGIT, saturating at max + 1; -1 if not digits. */
static int
digits(const char *p, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t	v = 0;
	size_t		i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		if (v <= max)
			v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v > max ? max + 1 : v;
	return 0;
}

/* exactly n digits at p */
static int
fixed(const char *p, size_t n, int *out)
{
	uint64_t	v;

	if (digits(p, n, 9999, &v) == -1)
		return -1;
	*out = (int)v;
	return 0;
}

static int
month(const char *p)
{
	static const char	names[] =
	    "JanFebMarAprMayJunJulAugSepOctNovDec";
	int			i;

	for (i = 0; i < 12; i++)
		if (strncmp(p, names + i * 3, 3) == 0)
			return i;
	return -1;
}

static int
wkday(const char *p, size_t n)
{
	static const char *const names[] = { "Monday", "Tuesday",
	    "Wednesday", "Thursday", "Friday", "Saturday", "Sunday" };
	size_t			 i;

	/* abbreviated (IMF-fixdate, asctime) or whole (rfc850) */
	for (i = 0; i < 7; i++)
		if (n == 3 ? strncmp(p, names[i], 3) == 0 :
		    strlen(names[i]) == n && memcmp(p, names[i], n) == 0)
			return 0;
	return -1;
}

/* "HH:MM:SS" */
static int
clock_time(const char *p, int *h, int *m, int *s)
{
	if (fixed(p, 2, h) == -1 || p[2] != ':' || fixed(p + 3, 2, m) == -1 ||
	    p[5] != ':' || fixed(p + 6, 2, s) == -1)
		return -1;
	return *h <= 23 && *m <= 59 && *s <= 60 ? 0 : -1;
}

/*
 * An HTTP-date (RFC 9110 5.6.7), in any of its three forms:
 *   IMF-fixdate  "Sun, 06 Nov 1994 08:49:37 GMT"
 *   rfc850-date  "Sunday, 06-Nov-94 08:49:37 GMT"
 *   asctime      "Sun Nov  6 08:49:37 1994"
 * as seconds since the epoch. now places rfc850's two-digit year. 0 or -1.
 */
static int
http_date(const char *s, size_t n, time_t now, int64_t *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	const char	*comma;
	int		 d, m, y, hh, mm, ss, leap;

	if (n == 29 && s[3] == ',') {
		if (wkday(s, 3) == -1 || s[4] != ' ' ||
		    fixed(s + 5, 2, &d) == -1 || s[7] != ' ' ||
		    (m = month(s + 8)) == -1 || s[11] != ' ' ||
		    fixed(s + 12, 4, &y) == -1 || s[16] != ' ' ||
		    clock_time(s + 17, &hh, &mm, &ss) == -1 ||
		    memcmp(s + 25, " GMT", 4) != 0)
			return -1;
	} else if (n == 24 && s[3] == ' ') {
		if (wkday(s, 3) == -1 || (m = month(s + 4)) == -1 ||
		    s[7] != ' ' || (s[8] == ' ' ? fixed(s + 9, 1, &d) :
		    fixed(s + 8, 2, &d)) == -1 || s[10] != ' ' ||
		    clock_time(s + 11, &hh, &mm, &ss) == -1 || s[19] != ' ' ||
		    fixed(s + 20, 4, &y) == -1)
			return -1;
	} else if ((comma = memchr(s, ',', n)) != NULL &&
	    n - (size_t)(comma - s) == 24) {
		struct tm	tm;
		int		yy, cy;

		if (wkday(s, (size_t)(comma - s)) == -1)
			return -1;
		s = comma;	/* ", 06-Nov-94 08:49:37 GMT" */
		if (s[1] != ' ' || fixed(s + 2, 2, &d) == -1 || s[4] != '-' ||
		    (m = month(s + 5)) == -1 || s[8] != '-' ||
		    fixed(s + 9, 2, &yy) == -1 || s[11] != ' ' ||
		    clock_time(s + 12, &hh, &mm, &ss) == -1 ||
		    memcmp(s + 20, " GMT", 4) != 0)
			return -1;
		/* RFC 9110 5.6.7: more than 50 years ahead means the
		 * century before. */
		if (gmtime_r(&now, &tm) == NULL)
			return -1;
		cy = tm.tm_year + 1900;
		y = cy - cy % 100 + yy;
		if (y > cy + 50)
			y -= 100;
	} else
		return -1;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d < 1 || d > mdays[m] || (m == 1 && d == 29 && !leap))
		return -1;
	*out = utc_seconds(y, m + 1, d, hh, mm, ss);
	return 0;
}

/* Retry-After (RFC 9110 10.2.3): delta-seconds or an HTTP-date, as
 * seconds from now (a date past gives 0); -1 if neither. */
static long
retry_after(const char *v, size_t n, time_t now)
{
	uint64_t	secs;
	int64_t		t;

	/* cut to 2^31 - 1: a long on every target; 68 years is forever */
	if (digits(v, n, INT32_MAX, &secs) == 0)
		return secs > INT32_MAX ? INT32_MAX : (long)secs;
	if (http_date(v, n, now, &t) == -1)
		return -1;
	t -= (int64_t)now;
	if (t < 0)
		return 0;
	return t > INT32_MAX ? INT32_MAX : (long)t;
}

/* Copy a field value into a fixed buffer: 0, or -1 (too long, or a
 * second one that differs). */
static int
copy_once(char *dst, size_t cap, const char *v, size_t n, const char *what,
    char *err, size_t errlen)
{
	if (n >= cap) {
		snprintf(err, errlen, "%s longer than %zu bytes", what,
		    cap - 1);
		return -1;
	}
	if (dst[0] != '\0' && (strlen(dst) != n || memcmp(dst, v, n) != 0)) {
		snprintf(err, errlen, "two %s fields that differ", what);
		return -1;
	}
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

/* One header field of the final response. 0 or -1 with err. */
static int
field(const char *name, size_t nlen, const char *v, size_t vlen, time_t now,
    struct fetch_resp *r, struct frame *f, char *err, size_t errlen)
{
	const char	*p, *e;
	uint64_t	 len;
	size_t		 n, i;
	long		 ra;
	char		 ctype[sizeof(r->content_type)];
	char		 qb[QUOTE_MAX + 4];

	if (name_is(name, nlen, "content-length")) {
		/* RFC 9110 8.6: a list of identical values is one value */
		for (p = v, e = v + vlen; p <= e; p += n + 1) {
			const char	*c = memchr(p, ',', (size_t)(e - p));
			const char	*q = p;

			n = c != NULL ? (size_t)(c - p) : (size_t)(e - p);
			i = n;
			trim(&q, &i);
			if (digits(q, i, FETCH_BODY_MAX, &len) == -1) {
				snprintf(err, errlen, "bad Content-Length "
				    "\"%s\"", printable(qb, sizeof(qb), v, vlen));
				return -1;
			}
			if (f->has_length && f->length != len) {
				snprintf(err, errlen, "conflicting "
				    "Content-Length values");
				return -1;
			}
			f->has_length = 1;
			f->length = len;
		}
	} else if (name_is(name, nlen, "transfer-encoding")) {
		for (p = v, e = v + vlen; p <= e; p += n + 1) {
			const char	*c = memchr(p, ',', (size_t)(e - p));
			const char	*q = p;

			n = c != NULL ? (size_t)(c - p) : (size_t)(e - p);
			i = n;
			trim(&q, &i);
			if (i == 0)	/* empty list elements are allowed */
				continue;
			if (!name_is(q, i, "chunked")) {
				snprintf(err, errlen, "unsupported "
				    "Transfer-Encoding \"%s\"",
				    printable(qb, sizeof(qb), q, i));
				return -1;
			}
			if (f->chunked) {
				snprintf(err, errlen, "chunked applied twice");
				return -1;
			}
			f->chunked = 1;
		}
	} else if (name_is(name, nlen, "replay-nonce")) {
		/* RFC 8555 6.5.1: an invalid nonce is ignored */
		for (i = 0; i < vlen; i++)
			if (!is_b64url((unsigned char)v[i]))
				return 0;
		return copy_once(r->nonce, sizeof(r->nonce), v, vlen,
		    "Replay-Nonce", err, errlen);
	} else if (name_is(name, nlen, "location")) {
		return copy_once(r->location, sizeof(r->location), v, vlen,
		    "Location", err, errlen);
	} else if (name_is(name, nlen, "content-type")) {
		if ((p = memchr(v, ';', vlen)) != NULL)
			vlen = (size_t)(p - v);
		trim(&v, &vlen);
		if (vlen >= sizeof(ctype)) {
			snprintf(err, errlen, "Content-Type longer than %zu "
			    "bytes", sizeof(ctype) - 1);
			return -1;
		}
		for (i = 0; i < vlen; i++)
			ctype[i] = (char)((v[i] >= 'A' && v[i] <= 'Z') ?
			    v[i] - 'A' + 'a' : v[i]);
		return copy_once(r->content_type, sizeof(r->content_type),
		    ctype, vlen, "Content-Type", err, errlen);
	} else if (name_is(name, nlen, "retry-after")) {
		/* two that differ say nothing for sure */
		ra = retry_after(v, vlen, now);
		if (f->retry_seen && ra != r->retry_after)
			ra = -1;
		r->retry_after = ra;
		f->retry_seen = 1;
	}
	return 0;
}

/* The empty line after a head: another head after an interim response,
 * or the body as the fields frame it (RFC 9112 6.3). */
static enum scan_result
end_of_head(int head_req, const struct fetch_resp *r, struct frame *f,
    char *err, size_t errlen)
{
	if (r->status == 101) {
		snprintf(err, errlen, "status 101 to a request that asked "
		    "for no upgrade");
		return SCAN_BAD;
	}
	if (r->status < 200) {
		f->state = S_STATUS;
		return SCAN_STEP;
	}
	f->body = f->off;
	f->olen = 0;
	/* RFC 9112 6.3: these never have a body, whatever the fields say */
	if (head_req || r->status == 204 || r->status == 304)
		f->state = S_WHOLE;
	else if (f->chunked)
		f->state = S_SIZE;
	else if (f->has_length) {
		if (f->length > FETCH_BODY_MAX) {
			snprintf(err, errlen, "body over %d bytes",
			    FETCH_BODY_MAX);
			return SCAN_BAD;
		}
		f->state = S_LENGTH;
	} else
		f->state = S_EOF;
	return SCAN_STEP;
}

/* The status line and fields of one response head at f->off (lines end
 * within FETCH_HEAD_MAX). */
static enum scan_result
scan_head(const char *buf, size_t len, int head_req, time_t now,
    struct fetch_resp *r, struct frame *f, char *err, size_t errlen)
{
	const char	*l, *colon, *v;
	size_t		 hend, n, vlen, i;
	int		 status;
	char		 q[QUOTE_MAX + 4];

	hend = len < FETCH_HEAD_MAX ? len : FETCH_HEAD_MAX;
	if (f->state == S_STATUS) {
		if (!next_line(buf, hend, &f->off, &l, &n))
			goto short_head;
		/* RFC 9112 4: HTTP-version SP 3DIGIT SP [reason-phrase];
		 * the last SP is often left out with an empty reason. */
		if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || l[7] < '0' ||
		    l[7] > '9' || l[8] != ' ' ||
		    fixed(l + 9, 3, &status) == -1 ||
		    (n > 12 && l[12] != ' ')) {
			snprintf(err, errlen, "not an HTTP/1.x status line: "
			    "\"%s\"", printable(q, sizeof(q), l, n));
			return SCAN_BAD;
		}
		for (i = 12; i < n; i++)
			if (is_ctl((unsigned char)l[i])) {
				snprintf(err, errlen, "control character in "
				    "the status line");
				return SCAN_BAD;
			}
		if (status < 100 || status > 599) {
			snprintf(err, errlen, "status %d out of range",
			    status);
			return SCAN_BAD;
		}
		/* each interim response starts the fields anew */
		f->chunked = f->has_length = f->retry_seen = 0;
		f->length = 0;
		memset(r, 0, sizeof(*r));
		r->retry_after = -1;
		r->status = status;
		f->state = S_FIELD;
	}
	/* a line is only taken (f->off moved on) once it is whole, so a
	 * field is applied once however the response comes in */
	while (next_line(buf, hend, &f->off, &l, &n)) {
		if (n == 0)
			return end_of_head(head_req, r, f, err, errlen);
		if (is_ows(l[0])) {
			snprintf(err, errlen, "obsolete line folding");
			return SCAN_BAD;
		}
		if ((colon = memchr(l, ':', n)) == NULL || colon == l) {
			snprintf(err, errlen, "header line without a name: "
			    "\"%s\"", printable(q, sizeof(q), l, n));
			return SCAN_BAD;
		}
		for (i = 0; l + i < colon; i++)
			if (!is_tchar((unsigned char)l[i])) {
				snprintf(err, errlen, "bad header name \"%s\"",
				    printable(q, sizeof(q), l,
				    (size_t)(colon - l)));
				return SCAN_BAD;
			}
		v = colon + 1;
		vlen = n - (size_t)(v - l);
		for (i = 0; i < vlen; i++)
			if (is_ctl((unsigned char)v[i])) {
				snprintf(err, errlen, "control character in "
				    "header %s", printable(q, sizeof(q), l,
				    (size_t)(colon - l)));
				return SCAN_BAD;
			}
		trim(&v, &vlen);
		/* interim responses' fields are not the final one's */
		if (r->status >= 200 && field(l, (size_t)(colon - l), v, vlen,
		    now, r, f, err, errlen) == -1)
			return SCAN_BAD;
	}
short_head:
	if (hend >= FETCH_HEAD_MAX) {
		snprintf(err, errlen, "header over %d bytes", FETCH_HEAD_MAX);
		return SCAN_BAD;
	}
	snprintf(err, errlen, "truncated header");
	return SCAN_MORE;
}

/* RFC 9112 7.1: a chunk-size line at f->off; extensions are ignored. */
static enum scan_result
scan_size(const char *buf, size_t len, struct frame *f, char *err,
    size_t errlen)
{
	const char	*l;
	size_t		 n, i, hex, off = f->off;
	uint64_t	 size = 0;
	unsigned char	 c;
	char		 q[QUOTE_MAX + 4];

	if (!next_line(buf, len, &off, &l, &n)) {
		snprintf(err, errlen, "truncated chunked body");
		return SCAN_MORE;
	}
	for (hex = 0; hex < n; hex++) {
		c = (unsigned char)l[hex];
		if (c >= '0' && c <= '9')
			c -= '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			c = (unsigned char)((c | 0x20) - 'a' + 10);
		else
			break;
		if (size <= FETCH_BODY_MAX)
			size = size * 16 + c;
	}
	/* chunk extensions (after BWS ";") are ignored */
	for (i = hex; i < n && is_ows(l[i]); i++)
		;
	if (hex == 0 || (i < n && l[i] != ';')) {
		snprintf(err, errlen, "bad chunk size \"%s\"",
		    printable(q, sizeof(q), l, n));
		return SCAN_BAD;
	}
	for (; i < n; i++)
		if (is_ctl((unsigned char)l[i])) {
			snprintf(err, errlen, "control character in a chunk "
			    "extension");
			return SCAN_BAD;
		}
	if (size > FETCH_BODY_MAX - f->olen) {
		snprintf(err, errlen, "body over %d bytes", FETCH_BODY_MAX);
		return SCAN_BAD;
	}
	f->off = off;
	f->chunk = size;
	f->state = size == 0 ? S_TRAILER : S_DATA;
	return SCAN_STEP;
}

/* A chunk's data at f->off and the line end after it; into out. */
static enum scan_result
scan_data(const char *buf, size_t len, struct frame *f, char *out,
    char *err, size_t errlen)
{
	size_t	off = f->off;

	if (len - off < f->chunk)
		goto truncated;
	off += f->chunk;
	if (len - off >= 1 && buf[off] == '\n')
		off++;
	else if (len - off >= 2 && buf[off] == '\r' && buf[off + 1] == '\n')
		off += 2;
	else if (len - off >= 2 || (len - off == 1 && buf[off] != '\r')) {
		snprintf(err, errlen, "chunk data not followed by CRLF");
		return SCAN_BAD;
	} else
		goto truncated;
	if (out != NULL)
		memcpy(out + f->olen, buf + f->off, f->chunk);
	f->olen += f->chunk;
	f->off = off;
	f->state = S_SIZE;
	return SCAN_STEP;
truncated:
	snprintf(err, errlen, "truncated chunked body");
	return SCAN_MORE;
}

/* The trailer section after the last chunk, ignored, up to its empty
 * line. */
static enum scan_result
scan_trailer(const char *buf, size_t len, struct frame *f, char *err,
    size_t errlen)
{
	const char	*l;
	size_t		 n;

	while (next_line(buf, len, &f->off, &l, &n))
		if (n == 0) {
			f->state = S_WHOLE;
			return SCAN_STEP;
		}
	snprintf(err, errlen, "truncated chunked body");
	return SCAN_MORE;
}

/*
 * How much of one response buf[0..len) holds, going on from where f says
 * an earlier call on a shorter prefix of the same bytes stopped (f zeroed
 * for the first call), so reading a response costs one pass over it.
 * SCAN_WHOLE: a whole response, the final head in r (body not set) and
 * f->olen bytes of body, copied into out unless out is NULL (room for
 * FETCH_BODY_MAX); SCAN_EOF: the same, except that only EOF ends the body
 * (no length, not chunked); SCAN_MORE: no response yet, err says what is
 * missing; SCAN_BAD: malformed, err says why (and no more bytes help).
 */
static enum scan_result
scan(const char *buf, size_t len, int head_req, time_t now,
    struct fetch_resp *r, struct frame *f, char *out, char *err,
    size_t errlen)
{
	enum scan_result	res = SCAN_STEP;

	while (res == SCAN_STEP) {
		switch (f->state) {
		case S_STATUS:
		case S_FIELD:
			res = scan_head(buf, len, head_req, now, r, f, err,
			    errlen);
			break;
		case S_LENGTH:
			if (len - f->body < f->length) {
				snprintf(err, errlen, "truncated body: %zu of "
				    "%llu bytes", len - f->body,
				    (unsigned long long)f->length);
				return SCAN_MORE;
			}
			/* anything after it is no response of ours */
			f->olen = (size_t)f->length;
			if (out != NULL)
				memcpy(out, buf + f->body, f->olen);
			f->off = f->body + f->olen;
			f->state = S_WHOLE;
			break;
		case S_SIZE:
			res = scan_size(buf, len, f, err, errlen);
			break;
		case S_DATA:
			res = scan_data(buf, len, f, out, err, errlen);
			break;
		case S_TRAILER:
			res = scan_trailer(buf, len, f, err, errlen);
			break;
		case S_EOF:
			if (len - f->body > FETCH_BODY_MAX) {
				snprintf(err, errlen, "body over %d bytes",
				    FETCH_BODY_MAX);
				return SCAN_BAD;
			}
			f->olen = len - f->body;
			if (out != NULL)
				memcpy(out, buf + f->body, f->olen);
			return SCAN_EOF;
		case S_WHOLE:
			return SCAN_WHOLE;
		}
	}
	return res;
}

/*
 * fetch_parse with what it cannot know: whether the request was HEAD (no
 * body whatever the fields say, RFC 9110 9.3.2) and the time now; and
 * what the caller needs to know: whether the body's end was stated (a
 * length or chunked), not just EOF.
 */
static int
parse(const char *buf, size_t len, int head_req, time_t now,
    struct fetch_resp *r, int *framed, char *err, size_t errlen)
{
	struct frame		 f;
	char			*body = NULL;
	enum scan_result	 res;

	memset(&f, 0, sizeof(f));
	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
	if ((body = malloc((len < FETCH_BODY_MAX ? len : FETCH_BODY_MAX) +
	    1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	res = scan(buf, len, head_req, now, r, &f, body, err, errlen);
	if (res != SCAN_WHOLE && res != SCAN_EOF)
		goto fail;
	*framed = res == SCAN_WHOLE;
	body[f.olen] = '\0';
	r->body = body;
	r->body_len = f.olen;
	return 0;
fail:
	free(body);
	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
	return -1;
}

int
fetch_parse(const char *buf, size_t len, struct fetch_resp *r, char *err,
    size_t errlen)
{
	int	framed;

	return parse(buf, len, 0, time(NULL), r, &framed, err, errlen);
}

void
fetch_resp_free(struct fetch_resp *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

/* ---- the client ---- */

struct fetch *
fetch_new(const char *ca_bundle, char *err, size_t errlen)
{
	struct fetch	*f = NULL;
	char		 e[128];
	int		 ret;

	if (compat_psa_init() == -1) {
		snprintf(err, errlen, "psa_crypto_init failed");
		return NULL;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	mbedtls_x509_crt_init(&f->ca);
	mbedtls_ssl_config_init(&f->conf);
	/* > 0: that many certificates did not parse; a system bundle may
	 * hold some mbedTLS cannot read, the rest still count. */
	errno = 0;
	if ((ret = mbedtls_x509_crt_parse_file(&f->ca, ca_bundle)) < 0 ||
	    f->ca.version == 0) {
		if (ret == MBEDTLS_ERR_PK_FILE_IO_ERROR && errno != 0)
			snprintf(e, sizeof(e), "%s", strerror(errno));
		else if (ret < 0)
			tls_strerror(ret, e, sizeof(e));
		else
			snprintf(e, sizeof(e), "no certificate in it");
		snprintf(err, errlen, "CA bundle %s: %s", ca_bundle, e);
		goto fail;
	}
	if ((ret = mbedtls_ssl_config_defaults(&f->conf, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		tls_strerror(ret, e, sizeof(e));
		snprintf(err, errlen, "TLS client setup: %s", e);
		goto fail;
	}
	compat_min_tls12(&f->conf);
	mbedtls_ssl_conf_authmode(&f->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&f->conf, &f->ca, NULL);
	mbedtls_ssl_conf_rng(&f->conf, x509_rng, NULL);
	return f;
fail:
	fetch_free(f);
	return NULL;
}

void
fetch_free(struct fetch *f)
{
	if (f == NULL)
		return;
	mbedtls_ssl_config_free(&f->conf);
	mbedtls_x509_crt_free(&f->ca);
	free(f);
}

struct url {
	char		 host[256];	/* without brackets */
	char		 port[6];
	char		 authority[270];	/* for Host: */
	const char	*pre;		/* "/" before a bare "?query" */
	const char	*path;		/* up to any '#' */
	size_t		 plen;
};

/* "https://host[:port][/path]" (RFC 3986 3), no user info. 0 or -1. */
static int
url_parse(const char *s, struct url *u, char *err, size_t errlen)
{
	const char	*h, *he, *p;
	size_t		 hlen, i;
	uint64_t	 port = 443;
	char		 q[204];	/* the URL, up to 200 bytes */

	memset(u, 0, sizeof(*u));
	if (strncasecmp(s, "https://", 8) != 0) {
		snprintf(err, errlen, "%s: not an https:// URL",
		    printable(q, sizeof(q), s, strlen(s)));
		return -1;
	}
	h = s + 8;
	p = h + strcspn(h, "/?#");
	if (*h == '[') {
		if ((he = memchr(h, ']', (size_t)(p - h))) == NULL)
			goto bad;
		h++;
		hlen = (size_t)(he - h);
		he++;
		for (i = 0; i < hlen; i++)
			if (strchr("0123456789abcdefABCDEF:.", h[i]) == NULL)
				goto bad;
	} else {
		he = h + strcspn(h, ":/?#");
		hlen = (size_t)(he - h);
		for (i = 0; i < hlen; i++)
			if (!((h[i] >= 'a' && h[i] <= 'z') ||
			    (h[i] >= 'A' && h[i] <= 'Z') ||
			    (h[i] >= '0' && h[i] <= '9') ||
			    strchr("-._", h[i]) != NULL))
				goto bad;
	}
	if (hlen == 0 || hlen >= sizeof(u->host))
		goto bad;
	if (he < p && (*he != ':' || digits(he + 1, (size_t)(p - he - 1),
	    65535, &port) == -1 || port == 0 || port > 65535))
		goto bad;
	memcpy(u->host, h, hlen);
	snprintf(u->port, sizeof(u->port), "%u", (unsigned)port);
	snprintf(u->authority, sizeof(u->authority), "%s%s%s%s%s",
	    h[-1] == '[' ? "[" : "", u->host, h[-1] == '[' ? "]" : "",
	    port == 443 ? "" : ":", port == 443 ? "" : u->port);
	u->pre = *p == '?' ? "/" : "";
	u->path = *p == '\0' || *p == '#' ? "/" : p;
	u->plen = *p == '\0' || *p == '#' ? 1 : strcspn(p, "#");
	for (i = 0; i < u->plen; i++)
		if ((unsigned char)u->path[i] <= ' ' ||
		    (unsigned char)u->path[i] >= 0x7f)
			goto bad;
	return 0;
bad:
	snprintf(err, errlen, "%s: bad URL", printable(q, sizeof(q), s,
	    strlen(s)));
	return -1;
}

/* A non-blocking socket connected to ai within timeout_ms; -1 with why. */
static int
connect_one(const struct addrinfo *ai, int timeout_ms, char *why,
    size_t wlen)
{
	socklen_t	sl;
	int		fd = -1, soerr = 0, w;

	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol)) == -1) {
		snprintf(why, wlen, "%s", strerror(errno));
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EINTR) {
		snprintf(why, wlen, "%s", strerror(errno));
		goto fail;
	}
	if ((w = fd_wait(fd, POLLOUT, now_ms() + timeout_ms)) != 1) {
		if (w == 0)
			snprintf(why, wlen, "timed out after %d ms",
			    timeout_ms);
		else
			snprintf(why, wlen, "poll: %s", strerror(errno));
		goto fail;
	}
	sl = sizeof(soerr);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
		soerr = errno;
	if (soerr == 0)
		return fd;
	snprintf(why, wlen, "%s", strerror(soerr));
fail:
	close(fd);
	return -1;
}

/*
 * A connection to port of name, a host name resolved here or, with
 * numeric, an address as text: each of its addresses in turn until one
 * connects, each within timeout_ms. The socket is non-blocking. -1 with
 * why: "DNS: ..." or "connect: ADDR:PORT: reason[; ADDR:PORT: reason]...".
 */
static int
dial(const char *name, int numeric, const char *port, int timeout_ms,
    char *why, size_t wlen)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	char		 where[INET6_ADDRSTRLEN + 10], one[128];
	size_t		 off;
	int		 fd = -1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (numeric ? AI_NUMERICHOST : 0);
	if ((rc = getaddrinfo(name, port, &hints, &res)) != 0) {
		if (numeric)
			snprintf(why, wlen, "connect: \"%s\" is not an IPv4 "
			    "or IPv6 address", printable(one, sizeof(one), name,
			    strlen(name)));
		else
			snprintf(why, wlen, "DNS: %s", rc == EAI_SYSTEM ?
			    strerror(errno) : gai_strerror(rc));
		return -1;
	}
	snprintf(why, wlen, "connect:");
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		if ((fd = connect_one(ai, timeout_ms, one, sizeof(one))) != -1)
			break;
		addr_str(ai->ai_addr, where, sizeof(where));
		off = strlen(why);
		if (off < wlen)
			snprintf(why + off, wlen - off, "%s %s: %s",
			    ai == res ? "" : ";", where, one);
	}
	freeaddrinfo(res);
	if (fd != -1 && wlen > 0)
		why[0] = '\0';
	return fd;
}

int
fetch_dial(const char *addr, int port, int timeout_ms, char *err,
    size_t errlen)
{
	char	p[8];

	if (port < 1 || port > 65535) {
		snprintf(err, errlen, "connect: bad port %d", port);
		return -1;
	}
	snprintf(p, sizeof(p), "%d", port);
	return dial(addr, 1, p, timeout_ms, err, errlen);
}

/* The socket under mbedTLS, non-blocking; the errno of a failure kept
 * for the message. */
struct sock {
	int	fd;
	int	error;
};

static int
bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct sock	*s = ctx;
	ssize_t		 n;

	if ((n = send(s->fd, buf, len, MSG_NOSIGNAL)) >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	s->error = errno;
	return MBEDTLS_ERR_SSL_INTERNAL_ERROR;	/* tls_why says errno */
}

static int
bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct sock	*s = ctx;
	ssize_t		 n;

	if ((n = recv(s->fd, buf, len, 0)) >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	s->error = errno;
	return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

/* Wait for what an mbedTLS call asked for: 1 ready, 0 deadline passed,
 * -1 for any other result (the caller's error). */
static int
tls_wait(const struct sock *s, int ret, int64_t deadline)
{
	if (ret == MBEDTLS_ERR_SSL_WANT_READ)
		return fd_wait(s->fd, POLLIN, deadline);
	if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return fd_wait(s->fd, POLLOUT, deadline);
	return -1;
}

/* What verification flags mean, briefly. */
static void
verify_str(uint32_t flags, char *buf, size_t len)
{
	static const struct {
		uint32_t	 flag;
		const char	*what;
	} why[] = {
		{ MBEDTLS_X509_BADCERT_CN_MISMATCH,
		    "the name is not in the certificate" },
		{ MBEDTLS_X509_BADCERT_NOT_TRUSTED,
		    "not issued by a CA in the bundle" },
		{ MBEDTLS_X509_BADCERT_EXPIRED, "expired" },
		{ MBEDTLS_X509_BADCERT_FUTURE, "not valid yet" },
		{ MBEDTLS_X509_BADCERT_REVOKED, "revoked" },
		{ MBEDTLS_X509_BADCERT_MISSING, "no certificate" },
		{ MBEDTLS_X509_BADCERT_KEY_USAGE, "wrong key usage" },
		{ MBEDTLS_X509_BADCERT_EXT_KEY_USAGE,
		    "wrong extended key usage" },
		{ MBEDTLS_X509_BADCERT_BAD_MD, "unacceptable hash" },
		{ MBEDTLS_X509_BADCERT_BAD_PK, "unacceptable key type" },
		{ MBEDTLS_X509_BADCERT_BAD_KEY, "unacceptable key" },
	};
	size_t		 i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(why) / sizeof(why[0]); i++) {
		if ((flags & why[i].flag) == 0 || off >= len)
			continue;
		snprintf(buf + off, len - off, "%s%s", off ? ", " : "",
		    why[i].what);
		off += strlen(buf + off);
		flags &= ~why[i].flag;
	}
	if (flags != 0 && off < len)
		snprintf(buf + off, len - off, "%sflags 0x%x", off ? ", " : "",
		    (unsigned)flags);
}

/* A TLS failure as text: the socket's errno, verification, or mbedTLS. */
static void
tls_why(mbedtls_ssl_context *ssl, const struct sock *s, int ret, char *buf,
    size_t len)
{
	uint32_t	flags;
	char		v[200];

	flags = mbedtls_ssl_get_verify_result(ssl);
	if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED ||
	    (flags != 0 && flags != (uint32_t)-1)) {
		verify_str(flags, v, sizeof(v));
		snprintf(buf, len, "certificate verification failed: %s", v);
	} else if (s->error != 0)
		snprintf(buf, len, "%s", strerror(s->error));
	else if (ret == 0 || ret == MBEDTLS_ERR_SSL_CONN_EOF)
		snprintf(buf, len, "connection closed");
	else
		tls_strerror(ret, buf, len);
}

/* The request, head and body in one buffer (malloc'd); NULL: no memory
 * or a header value that would break the request. */
static char *
request(const char *method, const struct url *u, const char *ctype,
    const char *accept, const char *body, size_t blen, size_t *len)
{
	char	*req = NULL;
	size_t	 cap, i;
	int	 n;

	if (method[0] == '\0')
		return NULL;
	for (i = 0; method[i] != '\0'; i++)
		if (!is_tchar((unsigned char)method[i]))
			return NULL;
	for (i = 0; ctype != NULL && ctype[i] != '\0'; i++)
		if (is_ctl((unsigned char)ctype[i]))
			return NULL;
	for (i = 0; accept != NULL && accept[i] != '\0'; i++)
		if (is_ctl((unsigned char)accept[i]))
			return NULL;
	cap = strlen(method) + u->plen + strlen(u->authority) +
	    (ctype ? strlen(ctype) : 0) + (accept ? strlen(accept) : 0) +
	    strlen(MTASTS_VERSION) + 256 + blen;
	if ((req = malloc(cap)) == NULL)
		return NULL;
	n = snprintf(req, cap, "%s %s%.*s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: mtasts-httpd/" MTASTS_VERSION "\r\n"
	    "%s%s%s%s%s%s",
	    method, u->pre, (int)u->plen, u->path, u->authority,
	    accept ? "Accept: " : "", accept ? accept : "",
	    accept ? "\r\n" : "",
	    ctype ? "Content-Type: " : "", ctype ? ctype : "",
	    ctype ? "\r\n" : "");
	/* a POST says its length even when empty (RFC 9110 8.6) */
	if (body != NULL || strcmp(method, "POST") == 0)
		n += snprintf(req + n, cap - (size_t)n,
		    "Content-Length: %zu\r\n", blen);
	n += snprintf(req + n, cap - (size_t)n, "Connection: close\r\n\r\n");
	if (blen > 0)
		memcpy(req + n, body, blen);
	*len = (size_t)n + blen;
	return req;
}

/* ---- TLS on a connected socket: fetch()'s, and a STARTTLS caller's ---- */

struct fetch_tls {
	mbedtls_ssl_context	 ssl;
	struct sock		 s;	/* the caller's fd: not ours to close */
	int			 timeout_ms;	/* each wait's */
	int			 timed_out;	/* the last failure: a wait */
	char			 version[16];	/* "TLSv1.3" */
	char			 why[256];	/* the last failure */
};

static void
ftls_free(struct fetch_tls *t)
{
	if (t == NULL)
		return;
	mbedtls_ssl_free(&t->ssl);
	free(t);
}

/* A client context on fd for host (SNI and the name verified), with the
 * trust and settings of f; NULL with why. */
static struct fetch_tls *
ftls_new(struct fetch *f, int fd, const char *host, int timeout_ms,
    char *why, size_t wlen)
{
	struct fetch_tls	*t;
	char			 e[128];
	int			 ret;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(why, wlen, "out of memory");
		return NULL;
	}
	mbedtls_ssl_init(&t->ssl);
	t->s.fd = fd;
	t->timeout_ms = timeout_ms;
	if ((ret = mbedtls_ssl_setup(&t->ssl, &f->conf)) != 0 ||
	    (ret = mbedtls_ssl_set_hostname(&t->ssl, host)) != 0) {
		tls_strerror(ret, e, sizeof(e));
		snprintf(why, wlen, "TLS setup: %s", e);
		ftls_free(t);
		return NULL;
	}
	mbedtls_ssl_set_bio(&t->ssl, &t->s, bio_send, bio_recv, NULL);
	return t;
}

/* An mbedTLS call's result ret was neither done nor data: wait for what
 * it asked for. 1 to call again; 0 with t->why set when the deadline
 * passed first or the result is an error. */
static int
ftls_again(struct fetch_tls *t, int ret, int64_t deadline)
{
	int	w;

	if ((w = tls_wait(&t->s, ret, deadline)) == 1)
		return 1;
	t->timed_out = w == 0;
	if (w == 0)
		snprintf(t->why, sizeof(t->why), "timed out after %d ms",
		    t->timeout_ms);
	else
		tls_why(&t->ssl, &t->s, ret, t->why, sizeof(t->why));
	return 0;
}

/* The handshake, within t->timeout_ms: 0, or -1 with t->why. */
static int
ftls_handshake(struct fetch_tls *t)
{
	int64_t	deadline = now_ms() + t->timeout_ms;
	int	ret;

	while ((ret = mbedtls_ssl_handshake(&t->ssl)) != 0)
		if (!ftls_again(t, ret, deadline))
			return -1;
	/* "TLSv1.2" or "TLSv1.3" in 2.28 and 3.6 alike */
	snprintf(t->version, sizeof(t->version), "%s",
	    mbedtls_ssl_get_version(&t->ssl));
	return 0;
}

/* All of buf[0..len) before deadline: 0, or -1 with t->why. */
static int
ftls_write(struct fetch_tls *t, const void *buf, size_t len,
    int64_t deadline)
{
	const unsigned char	*p = buf;
	size_t			 off;
	int			 ret;

	for (off = 0; off < len; ) {
		ret = mbedtls_ssl_write(&t->ssl, p + off, len - off);
		if (ret > 0)
			off += (size_t)ret;
		else if (!ftls_again(t, ret, deadline))
			return -1;
	}
	return 0;
}

/* Bytes into buf before deadline: how many (> 0); 0 at the end of the
 * stream, *clean saying whether it ended with the peer's close_notify;
 * -1 with t->why. */
static int
ftls_read(struct fetch_tls *t, void *buf, size_t len, int64_t deadline,
    int *clean)
{
	int	ret;

	*clean = 0;
	for (;;) {
		ret = mbedtls_ssl_read(&t->ssl, buf, len);
		if (ret > 0)
			return ret;
#ifdef MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
		/* TLS 1.3: some mbedTLS 3.6 releases say so of each
		 * session ticket the server sends; not data, and we
		 * resume nothing: read on */
		if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
			continue;
#endif
		if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
			*clean = 1;
			return 0;
		}
		if (ret == 0 || ret == MBEDTLS_ERR_SSL_CONN_EOF)
			return 0;
		if (!ftls_again(t, ret, deadline))
			return -1;
	}
}

/* Our close_notify, best effort within t->timeout_ms. */
static void
ftls_close(struct fetch_tls *t)
{
	int64_t	deadline = now_ms() + t->timeout_ms;
	int	ret;

	while ((ret = mbedtls_ssl_close_notify(&t->ssl)) != 0 &&
	    tls_wait(&t->s, ret, deadline) == 1)
		;
}

/* ---- requests ---- */

/* fetch() and fetch_at(): addr NULL resolves url's host. */
static int
fetch_via(struct fetch *f, const char *addr, const char *method,
    const char *url, const char *ctype, const char *accept, const char *body,
    size_t blen, int timeout_ms, struct fetch_resp *resp, char *err,
    size_t errlen)
{
	struct fetch_tls	*t = NULL;
	struct url		 u;
	char			*req = NULL, *buf = NULL, *nbuf, why[512];
	char			 perr[200];
	struct fetch_resp	 probe;
	struct frame		 fr;
	enum scan_result	 res = SCAN_MORE;
	size_t			 reqlen = 0, len = 0, cap = 0;
	int64_t			 deadline, last;
	int			 n, fd = -1, framed, clean = 0, rc = -1;
	int			 head_req = strcmp(method, "HEAD") == 0;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	memset(&probe, 0, sizeof(probe));
	memset(&fr, 0, sizeof(fr));
	if (url_parse(url, &u, err, errlen) == -1)
		goto out;
	if ((req = request(method, &u, ctype, accept, body, blen,
	    &reqlen)) == NULL) {
		snprintf(err, errlen, "%s: cannot build the request (out of "
		    "memory, or a bad method or header value)", u.host);
		goto out;
	}
	if ((fd = dial(addr != NULL ? addr : u.host, addr != NULL, u.port,
	    timeout_ms, why, sizeof(why))) == -1) {
		snprintf(err, errlen, "%s: %s", u.host, why);
		goto out;
	}
	if ((t = ftls_new(f, fd, u.host, timeout_ms, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "%s: %s", u.host, why);
		goto out;
	}
	if (ftls_handshake(t) == -1) {
		snprintf(err, errlen, "%s: TLS handshake: %s", u.host, t->why);
		goto out;
	}
	if (ftls_write(t, req, reqlen, now_ms() + timeout_ms) == -1) {
		snprintf(err, errlen, "%s: sending the request: %s", u.host,
		    t->why);
		goto out;
	}

	/* Each wait at most timeout_ms; the whole response within
	 * FETCH_SLOW of them, so a trickle cannot hold us. */
	last = now_ms() + (int64_t)timeout_ms * FETCH_SLOW;
	for (;;) {
		if (len == cap) {
			if (cap > FETCH_READ_MAX) {
				snprintf(err, errlen, "%s: response over %d "
				    "bytes", u.host, FETCH_READ_MAX);
				goto out;
			}
			cap = cap == 0 ? 16384 : cap * 2;
			if (cap > FETCH_READ_MAX + 1)
				cap = FETCH_READ_MAX + 1;
			if ((nbuf = realloc(buf, cap)) == NULL) {
				snprintf(err, errlen, "%s: out of memory",
				    u.host);
				goto out;
			}
			buf = nbuf;
		}
		deadline = now_ms() + timeout_ms;
		if (deadline > last)
			deadline = last;
		if ((n = ftls_read(t, buf + len, cap - len, deadline,
		    &clean)) == -1) {
			if (t->timed_out && now_ms() >= last)
				snprintf(t->why, sizeof(t->why), "not complete "
				    "after %d ms", timeout_ms * FETCH_SLOW);
			snprintf(err, errlen, "%s: reading the response: %s",
			    u.host, t->why);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		/* Done once the response is whole: a server may keep the
		 * connection open despite our "Connection: close". */
		res = scan(buf, len, head_req, time(NULL), &probe, &fr, NULL,
		    perr, sizeof(perr));
		if (res == SCAN_WHOLE)
			break;
		if (res == SCAN_BAD) {
			snprintf(err, errlen, "%s: malformed response: %s",
			    u.host, perr);
			goto out;
		}
	}
	if (clean || res == SCAN_WHOLE)
		ftls_close(t);	/* ours, best effort: the answer is in */
	if (parse(buf, len, head_req, time(NULL), resp, &framed, perr,
	    sizeof(perr)) == -1) {
		snprintf(err, errlen, "%s: malformed response: %s", u.host,
		    perr);
		goto out;
	}
	/* A body that ends at EOF is only whole if TLS says it ended. */
	if (!framed && !clean) {
		fetch_resp_free(resp);
		snprintf(err, errlen, "%s: connection closed without TLS "
		    "close_notify: the body may be cut short", u.host);
		goto out;
	}
	snprintf(resp->tls, sizeof(resp->tls), "%s", t->version);
	rc = 0;
out:
	ftls_free(t);
	if (fd != -1)
		close(fd);
	free(req);
	free(buf);
	return rc;
}

int
fetch(struct fetch *f, const char *method, const char *url,
    const char *ctype, const char *accept, const char *body, size_t blen,
    int timeout_ms, struct fetch_resp *resp, char *err, size_t errlen)
{
	return fetch_via(f, NULL, method, url, ctype, accept, body, blen,
	    timeout_ms, resp, err, errlen);
}

int
fetch_at(struct fetch *f, const char *addr, const char *method,
    const char *url, const char *ctype, const char *accept,
    const char *body, size_t blen, int timeout_ms, struct fetch_resp *resp,
    char *err, size_t errlen)
{
	return fetch_via(f, addr, method, url, ctype, accept, body, blen,
	    timeout_ms, resp, err, errlen);
}

/*
 * TLS on the caller's connected fd (fetch_dial's: non-blocking), as
 * fetch() does it: the same trust, TLS >= 1.2, host as SNI and the name
 * verified. NULL with err "<host>: <why>", why as fetch() says it after
 * "TLS handshake: " ("certificate verification failed: the name is not
 * in the certificate", "timed out after N ms", "connection closed").
 */
struct fetch_tls *
fetch_tls_start(struct fetch *f, int fd, const char *host, int timeout_ms,
    char *err, size_t errlen)
{
	struct fetch_tls	*t;
	char			 why[256];

	if ((t = ftls_new(f, fd, host, timeout_ms, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "%s: %s", host, why);
		return NULL;
	}
	if (ftls_handshake(t) == -1) {
		snprintf(err, errlen, "%s: %s", host, t->why);
		ftls_free(t);
		return NULL;
	}
	return t;
}

const char *
fetch_tls_version(const struct fetch_tls *t)
{
	return t->version;
}

/* errno on failure: ETIMEDOUT when a wait ran out; else the socket's, or
 * EPROTO for a TLS error. */
static void
ftls_errno(const struct fetch_tls *t)
{
	errno = t->timed_out ? ETIMEDOUT : t->s.error != 0 ? t->s.error :
	    EPROTO;
}

/* All of buf, each wait at most timeout_ms: 0, or -1 with errno. */
int
fetch_tls_write(struct fetch_tls *t, const void *buf, size_t len,
    int timeout_ms)
{
	t->timed_out = 0;
	if (ftls_write(t, buf, len, now_ms() + timeout_ms) == 0)
		return 0;
	ftls_errno(t);
	return -1;
}

/* Bytes read (> 0), 0 at EOF, or -1 with errno (as fetch_tls_write). */
ssize_t
fetch_tls_read(struct fetch_tls *t, void *buf, size_t len, int timeout_ms)
{
	int	n, clean;

	t->timed_out = 0;
	if ((n = ftls_read(t, buf, len, now_ms() + timeout_ms, &clean)) >= 0)
		return n;
	ftls_errno(t);
	return -1;
}

/* close_notify (best effort, within the start's timeout), then free; the
 * fd stays open, the caller's. */
void
fetch_tls_end(struct fetch_tls *t)
{
	if (t == NULL)
		return;
	ftls_close(t);
	ftls_free(t);
}
