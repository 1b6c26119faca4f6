/*
 * fast.c: the policy GET answered without libmicrohttpd.
 *
 * Nearly every request a policy host sees is the same hundred bytes: GET
 * of the policy path with one Host header. bridge.c asks fast_request()
 * whether the bytes at the head of its buffer are one complete request of
 * exactly that plain shape, and fast_response() writes the bytes
 * libmicrohttpd would have sent for it: the same status line and headers
 * in the same order, from the same snapshot, by the same routing
 * (snap_route). The request then never crosses the socketpair.
 *
 * Everything else returns 0 and the bridge hands the connection to
 * libmicrohttpd from that byte on, for good: another method or path, a
 * query, HTTP/1.0, a body, an Expect or Upgrade, a folded, repeated or
 * odd header, a Host that routes nowhere (the 404 is MHD's), a request
 * longer than FAST_REQ_MAX or split across reads, a response that does
 * not fit. So this file decides nothing libmicrohttpd would decide
 * differently; it only recognises the one request whose answer is known,
 * and is strict about what it recognises.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mtasts.h"

static int
has_prefix(const char *p, const char *end, const char *s)
{
	size_t	n = strlen(s);

	return (size_t)(end - p) >= n && memcmp(p, s, n) == 0;
}

/* The len bytes at a are b, in any case. */
static int
ieq(const char *a, size_t len, const char *b)
{
	return len == strlen(b) && strncasecmp(a, b, len) == 0;
}

/* RFC 9110 5.6.2 tchar. */
static int
tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || (ch != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/*
 * One header line [p, cr) (cr points at its CR): check it and note what
 * matters in r. Returns 0 when the request is not ours.
 */
static int
header(const char *p, const char *cr, struct fast_req *r, int *nhost,
    int *nconn)
{
	const char	*colon, *v, *q;
	size_t		 n, vlen;

	for (colon = p; colon < cr && tchar((unsigned char)*colon); colon++)
		;
	if (colon == p || colon == cr || *colon != ':')
		return 0;
	n = (size_t)(colon - p);
	for (v = colon + 1; v < cr && (*v == ' ' || *v == '\t'); v++)
		;
	for (q = v; q < cr; q++) {	/* visible ASCII, SP, HTAB */
		unsigned char ch = (unsigned char)*q;

		if ((ch < 0x20 && ch != '\t') || ch > 0x7e)
			return 0;
	}
	vlen = (size_t)(cr - v);
	if (ieq(p, n, "host")) {
		/* One word: no inner or trailing white space to interpret. */
		if ((*nhost)++ != 0 || vlen == 0 || vlen >= sizeof(r->host) ||
		    memchr(v, ' ', vlen) != NULL || memchr(v, '\t', vlen) != NULL)
			return 0;
		memcpy(r->host, v, vlen);
		r->host[vlen] = '\0';
	} else if (ieq(p, n, "connection")) {
		if ((*nconn)++ != 0)
			return 0;
		if (ieq(v, vlen, "close"))
			r->close = 1;
		else if (!ieq(v, vlen, "keep-alive"))
			return 0;
	} else if (ieq(p, n, "content-length") ||
	    ieq(p, n, "transfer-encoding") || ieq(p, n, "expect") ||
	    ieq(p, n, "upgrade"))
		return 0;
	return 1;
}

/*
 * If buf starts with one complete plain policy request, fill r and return
 * its length; otherwise 0 (libmicrohttpd's to answer).
 */
size_t
fast_request(const char *buf, size_t len, struct fast_req *r)
{
	const char	*p = buf, *end, *nl;
	int		 nhost = 0, nconn = 0;

	r->head = r->close = 0;
	r->host[0] = '\0';
	end = buf + (len > FAST_REQ_MAX ? FAST_REQ_MAX : len);
	if (has_prefix(p, end, "GET "))
		p += 4;
	else if (has_prefix(p, end, "HEAD ")) {
		p += 5;
		r->head = 1;
	} else
		return 0;
	if (!has_prefix(p, end, POLICY_PATH " HTTP/1.1\r\n"))
		return 0;
	p += sizeof(POLICY_PATH " HTTP/1.1\r\n") - 1;
	for (;;) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
		    nl == p || nl[-1] != '\r')
			return 0;	/* incomplete, too long, or bare LF */
		if (nl - 1 == p)
			break;		/* the empty line */
		if (!header(p, nl - 1, r, &nhost, &nconn))
			return 0;
		p = nl + 1;
	}
	if (nhost != 1)
		return 0;
	return (size_t)(nl + 1 - buf);
}

/* The Date header's value, formatted once a second. */
static const char *
http_date(void)
{
	static char	buf[40];
	static time_t	last = -1;
	time_t		now = time(NULL);
	struct tm	tm;

	if (now != last && gmtime_r(&now, &tm) != NULL &&
	    strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0)
		last = now;
	return buf;
}

/*
 * The response to r from snapshot s, written to out, as libmicrohttpd
 * would send it ("Connection: close" when close is set). Returns its length, or 0 when r does not route to a site
 * (MHD answers the 404) or the response does not fit in cap.
 */
size_t
fast_response(const struct snapshot *s, const struct fast_req *r,
    const char *sni, int close, char *out, size_t cap)
{
	const struct site	*site;
	int			 n;

	site = snap_route(s, r->head ? "HEAD" : "GET", POLICY_PATH, r->host,
	    sni);
	if (site == NULL)
		return 0;
	n = snprintf(out, cap, "HTTP/1.1 200 OK\r\nDate: %s\r\n%s"
	    "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
	    http_date(), close ? "Connection: close\r\n" : "",
	    site->policy_len);
	if (n < 0 || (size_t)n >= cap)
		return 0;
	if (r->head)
		return (size_t)n;
	if (site->policy_len > cap - (size_t)n)
		return 0;
	memcpy(out + n, site->policy, site->policy_len);
	return (size_t)n + site->policy_len;
}
