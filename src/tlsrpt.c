/*
 * tlsrpt.c: TLS aggregate reports (RFC 8460 4.4), gunzipped with zlib and
 * read with cJSON into one plain struct tlsrpt. Pure: no I/O, no
 * logging. Every size is capped (the inflated text, each string, the
 * policies and the distinct failure details kept), and what reporters do
 * differently from the RFC is accepted where the meaning is clear: a
 * date-time without a time zone (read as UTC), a date alone, errata
 * 6241's "mx-host-pattern", counts written as strings, the example's
 * "failure-error-code", reports without "sending-mta-ip" or
 * "policy-string". Strings kept are free of control bytes (they go to
 * terminals and logs). Fuzzed by fuzz_tlsrpt.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "mtasts.h"

#define STR_MAX		1024	/* bytes kept of any string */
#define LINES_MAX	256	/* policy-string and mx-host entries kept */
#define COUNT_MAX	(LLONG_MAX / 2)	/* counts and sums saturate here */
#define HASH_SIZE	2048	/* > 2 * TLSRPT_DETAILS_MAX, a power of 2 */
/* cJSON's tree costs some 80 bytes a value: 10 MB of "0," would be 5
 * million values and 400 MB. A million (80 MB at most) is more than 10
 * MB of real reports hold: about 5 values in each ~130-byte failure
 * detail, of which no more than 1000 distinct ones are kept anyway. */
#define VALUES_MAX	1000000

/*
 * Inflating. The output buffer grows by doubling up to max + 1 bytes:
 * inflate() may fill all of it, and a stream that does is larger than
 * max and stops there, so a bomb costs max + 1 bytes and the time to
 * write them.
 */
struct inf {
	z_stream	 z;
	char		*buf;
	size_t		 len, cap, max;
};

enum { INF_OK, INF_HEADER, INF_TRUNC, INF_CORRUPT, INF_LARGE, INF_NOMEM };

/*
 * One member (gzip or zlib with wbits 15 + 32, raw deflate with -15) from
 * in, appended to st->buf; *used: the input bytes it took. INF_HEADER
 * when the stream failed before taking any of the deflate data (zlib
 * refused the header).
 */
static int
member(struct inf *st, const unsigned char *in, size_t len, int wbits,
    size_t *used)
{
	size_t	 ncap, chunk;
	char	*nb;
	int	 r;

	if (inflateReset2(&st->z, wbits) != Z_OK)
		return INF_NOMEM;
	st->z.next_in = (unsigned char *)(uintptr_t)in;
	st->z.avail_in = 0;
	*used = 0;
	for (;;) {
		if (st->len == st->cap) {
			if (st->cap > st->max)
				return INF_LARGE;
			ncap = st->cap > st->max / 2 ? st->max + 1 :
			    st->cap * 2;
			if ((nb = realloc(st->buf, ncap)) == NULL)
				return INF_NOMEM;
			st->buf = nb;
			st->cap = ncap;
		}
		/* avail_in and avail_out are 32-bit: feed in chunks */
		if (st->z.avail_in == 0 && *used < len) {
			chunk = len - *used > UINT32_MAX ? UINT32_MAX :
			    len - *used;
			st->z.next_in = (unsigned char *)(uintptr_t)(in + *used);
			st->z.avail_in = (uInt)chunk;
			*used += chunk;
		}
		chunk = st->cap - st->len > UINT32_MAX ? UINT32_MAX :
		    st->cap - st->len;
		st->z.next_out = (unsigned char *)st->buf + st->len;
		st->z.avail_out = (uInt)chunk;
		r = inflate(&st->z, Z_NO_FLUSH);
		st->len += chunk - st->z.avail_out;
		if (st->len > st->max)
			return INF_LARGE;
		switch (r) {
		case Z_STREAM_END:
			*used -= st->z.avail_in;
			return INF_OK;
		case Z_OK:
			break;
		case Z_BUF_ERROR:
			/* no progress: out of input (the output has room,
			 * or the loop grows it) */
			if (st->z.avail_out != 0 && st->z.avail_in == 0 &&
			    *used == len)
				return INF_TRUNC;
			break;
		case Z_MEM_ERROR:
			return INF_NOMEM;
		default:	/* Z_DATA_ERROR, Z_NEED_DICT */
			/* zlib's words for a header it refuses ("incorrect
			 * header check", "unknown header flags set",
			 * "unknown compression method", "invalid window
			 * size"); none of its deflate errors say them */
			if (st->z.total_out == 0 && st->z.msg != NULL &&
			    (strstr(st->z.msg, "header") ||
			    strstr(st->z.msg, "method") ||
			    strstr(st->z.msg, "window size")))
				return INF_HEADER;
			return INF_CORRUPT;
		}
	}
}

/*
 * A gzip header (RFC 1952 2.3) zlib refused, read leniently: the magic,
 * any method and flags, the optional fields the flags announce. The
 * length of the header, or 0.
 */
static size_t
gzip_header(const unsigned char *in, size_t len)
{
	size_t	off = 10, n;
	int	flg;

	if (len < 10 || in[0] != 0x1f || in[1] != 0x8b)
		return 0;
	flg = in[3];
	if (flg & 0x04) {	/* FEXTRA */
		if (len - off < 2)
			return 0;
		n = (size_t)in[off] | (size_t)in[off + 1] << 8;
		off += 2;
		if (len - off < n)
			return 0;
		off += n;
	}
	for (n = 0x08; n <= 0x10; n <<= 1)	/* FNAME, FCOMMENT */
		if (flg & n) {
			while (off < len && in[off] != '\0')
				off++;
			if (off++ >= len)
				return 0;
		}
	if (flg & 0x02)		/* FHCRC */
		off += 2;
	return off < len ? off : 0;
}

static uint32_t
crc(const char *p, size_t n)
{
	uLong	c = crc32(0, Z_NULL, 0);
	size_t	k;

	for (; n > 0; p += k, n -= k) {
		k = n > 1U << 30 ? 1U << 30 : n;
		c = crc32(c, (const unsigned char *)p, (uInt)k);
	}
	return (uint32_t)c;
}

static uint32_t
le32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/*
 * Inflate in (len bytes): gzip members one after another (RFC 1952 2.2),
 * or zlib (RFC 1950), zero bytes after a member ignored (tape padding);
 * a gzip member whose header zlib refuses (odd flags or method byte) is
 * read after a lenient header parse; data that is neither, as raw
 * deflate. Output: malloc'd, NUL-terminated, at most max bytes.
 */
int
tlsrpt_inflate(const unsigned char *in, size_t len, size_t max, char **out,
    size_t *outlen, char *err, size_t errlen)
{
	struct inf	 st;
	const char	*why = NULL;
	size_t		 off = 0, used, h, start;
	int		 rc = INF_NOMEM, first = 1;

	*out = NULL;
	*outlen = 0;
	if (len == 0) {
		snprintf(err, errlen, "empty");
		return -1;
	}
	memset(&st, 0, sizeof(st));
	st.max = max < SIZE_MAX / 4 ? max : SIZE_MAX / 4;
	/* reports compress about ten times; max + 1 at most */
	st.cap = len < (SIZE_MAX / 4) / 16 ? len * 16 : SIZE_MAX / 4;
	if (st.cap < 4096)
		st.cap = 4096;
	if (st.cap > st.max + 1)
		st.cap = st.max + 1;
	if ((st.buf = malloc(st.cap)) == NULL)
		goto out;
	if (inflateInit2(&st.z, 15 + 32) != Z_OK) {
		free(st.buf);
		st.buf = NULL;
		goto out;
	}
	while (off < len) {
		start = st.len;
		rc = member(&st, in + off, len - off, 15 + 32, &used);
		if (rc == INF_HEADER && (h = gzip_header(in + off,
		    len - off)) != 0) {
			st.len = start;
			rc = member(&st, in + off + h, len - off - h, -15,
			    &used);
			used += h;
			/* the trailer: CRC-32 and size of the data */
			if (rc == INF_OK && len - off - used < 8)
				rc = INF_TRUNC;
			else if (rc == INF_OK) {
				if (le32(in + off + used) != crc(st.buf +
				    start, st.len - start) ||
				    le32(in + off + used + 4) !=
				    (uint32_t)(st.len - start)) {
					rc = INF_CORRUPT;
					why = "incorrect data check";
				}
				used += 8;
			}
		} else if (rc == INF_HEADER && first) {
			/* neither gzip nor zlib: raw deflate, once, and
			 * all of it, or it is something else */
			st.len = 0;
			rc = member(&st, in, len, -15, &used);
			while (rc == INF_OK && used < len && in[used] == 0)
				used++;
			if (rc == INF_LARGE || rc == INF_NOMEM)
				break;
			if (rc != INF_OK || used != len) {
				rc = INF_HEADER;
				break;
			}
		}
		if (rc != INF_OK)
			break;
		first = 0;
		off += used;
		while (off < len && in[off] == 0)
			off++;
	}
	switch (rc) {
	case INF_OK:
		/* a buffer filled to the byte: one more for the NUL
		 * (st.len <= max) */
		if (st.len == st.cap) {
			char	*nb = realloc(st.buf, st.len + 1);

			if (nb == NULL) {
				snprintf(err, errlen, "out of memory");
				break;
			}
			st.buf = nb;
		}
		st.buf[st.len] = '\0';
		*out = st.buf;
		*outlen = st.len;
		st.buf = NULL;
		break;
	case INF_HEADER:
		if (first)
			snprintf(err, errlen, "not gzip data");
		else
			snprintf(err, errlen, "corrupt gzip data: garbage "
			    "after the data");
		break;
	case INF_TRUNC:
		snprintf(err, errlen, "truncated gzip data");
		break;
	case INF_CORRUPT:
		if (why == NULL)
			why = st.z.msg != NULL ? st.z.msg : "bad stream";
		snprintf(err, errlen, "corrupt gzip data: %s", why);
		break;
	case INF_LARGE:
		snprintf(err, errlen, "larger than %zu bytes when inflated",
		    max);
		break;
	default:
		snprintf(err, errlen, "out of memory");
	}
	inflateEnd(&st.z);
out:
	if (st.buf == NULL && rc == INF_NOMEM)
		snprintf(err, errlen, "out of memory");
	free(st.buf);
	return *out != NULL ? 0 : -1;
}

/*
 * Reading the JSON.
 */
#define LOWER	0x01	/* ASCII lower case */
#define DOT	0x02	/* one trailing dot dropped */

/*
 * The UTF-8 sequence at s[i] (n bytes in all) copied into buf, or '?'
 * for each byte of one that is not well-formed or that is a C1 control
 * or a bidirectional override (they reach terminals and logs); returns
 * the bytes used.
 */
static size_t
utf8_keep(const char *s, size_t n, size_t i, char *buf)
{
	const unsigned char	*u = (const unsigned char *)s + i;
	unsigned		 c, k, len;

	if (u[0] >= 0xc2 && u[0] <= 0xdf)
		len = 2, c = u[0] & 0x1f;
	else if (u[0] >= 0xe0 && u[0] <= 0xef)
		len = 3, c = u[0] & 0x0f;
	else if (u[0] >= 0xf0 && u[0] <= 0xf4)
		len = 4, c = u[0] & 0x07;
	else
		goto bad;
	if (i + len > n)
		goto bad;
	for (k = 1; k < len; k++) {
		if ((u[k] & 0xc0) != 0x80)
			goto bad;
		c = c << 6 | (u[k] & 0x3f);
	}
	/* overlong, surrogates, past U+10FFFF; C1; bidi controls */
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 ||
	    c > 0x10ffff)) || (c >= 0xd800 && c <= 0xdfff) ||
	    (c >= 0x80 && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) ||
	    (c >= 0x2066 && c <= 0x2069) || c == 0x200e || c == 0x200f)
		goto bad;
	memcpy(buf + i, u, len);
	return len;
bad:
	buf[i] = '?';
	return 1;
}

/* A string as kept: at most STR_MAX bytes (not cutting a UTF-8
 * sequence), control bytes made '?', and as flags say, into buf. */
static void
clean(const char *s, int flags, char buf[STR_MAX + 1])
{
	size_t	n = strlen(s), i;

	if (n > STR_MAX) {
		n = STR_MAX;
		/* back off to the start of a sequence cut in two */
		for (i = 0; i < 3 && n > 0 &&
		    ((unsigned char)s[n] & 0xc0) == 0x80; i++)
			n--;
	}
	for (i = 0; i < n; i++) {
		buf[i] = s[i];
		if ((unsigned char)buf[i] >= 0x80)
			i += utf8_keep(s, n, i, buf) - 1;
		else if ((unsigned char)buf[i] < ' ' || buf[i] == 0x7f)
			buf[i] = '?';
		else if ((flags & LOWER) && buf[i] >= 'A' && buf[i] <= 'Z')
			buf[i] += 'a' - 'A';
	}
	if ((flags & DOT) && n > 0 && buf[n - 1] == '.')
		n--;
	buf[n] = '\0';
}

static char *
dupclean(const char *s, int flags)
{
	char	buf[STR_MAX + 1];

	clean(s, flags, buf);
	return strdup(buf);
}

/* err is "<where><what>" where names the member in the document */
#define FAIL(...) do {							\
	snprintf(err, errlen, __VA_ARGS__);				\
	return -1;							\
} while (0)

/*
 * An optional string member: *v its text, or NULL if absent or null.
 * Any other type is an error.
 */
static int
optstr(const cJSON *o, const char *key, const char **v, const char *where,
    char *err, size_t errlen)
{
	const cJSON	*m = cJSON_GetObjectItemCaseSensitive(o, key);

	*v = NULL;
	if (m == NULL || cJSON_IsNull(m))
		return 0;
	if (!cJSON_IsString(m) || m->valuestring == NULL)
		FAIL("%s%s: not a string", where, key);
	*v = m->valuestring;
	return 0;
}

/* An optional string kept in *out, "" when absent. */
static int
keepstr(const cJSON *o, const char *key, int flags, char **out,
    const char *where, char *err, size_t errlen)
{
	const char	*v;

	if (optstr(o, key, &v, where, err, errlen) == -1)
		return -1;
	if ((*out = dupclean(v != NULL ? v : "", flags)) == NULL)
		FAIL("out of memory");
	return 0;
}

/*
 * A count: a JSON number that is a non-negative integer (5.0 is 5), or a
 * string of digits (some reporters quote them). Absent or null is 0;
 * saturates at COUNT_MAX.
 */
static int
count(const cJSON *o, const char *key, long long *out, const char *where,
    char *err, size_t errlen)
{
	const cJSON	*m = cJSON_GetObjectItemCaseSensitive(o, key);
	const char	*p;
	long long	 v = 0;
	double		 d;

	*out = 0;
	if (m == NULL || cJSON_IsNull(m))
		return 0;
	if (cJSON_IsNumber(m)) {
		/* NaN fails the first test; doubles of 2^53 and up are
		 * all integers */
		d = m->valuedouble;
		if (!(d >= 0))
			FAIL("%s%s: not a non-negative integer", where, key);
		if (d >= (double)COUNT_MAX) {
			*out = COUNT_MAX;
			return 0;
		}
		v = (long long)d;
		if ((double)v != d)
			FAIL("%s%s: not a non-negative integer", where, key);
		*out = v;
		return 0;
	}
	if (!cJSON_IsString(m) || m->valuestring == NULL ||
	    m->valuestring[0] == '\0')
		FAIL("%s%s: not a non-negative integer", where, key);
	for (p = m->valuestring; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			FAIL("%s%s: not a non-negative integer", where, key);
		v = v > (COUNT_MAX - 9) / 10 ? COUNT_MAX : v * 10 + (*p - '0');
	}
	*out = v;
	return 0;
}

static long long
add(long long a, long long b)
{
	return a > COUNT_MAX - b ? COUNT_MAX : a + b;
}

static int
digits(const char *s, int n, int *v)
{
	int	i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/*
 * An RFC 3339 date-time (5.6), UTC. Also accepted, as reporters write
 * them: no time zone (read as UTC: *no_tz set), a date alone (00:00:00
 * UTC, *no_tz set), a space or 't' for the 'T', fractional seconds of any
 * length (dropped), an offset without its colon. A time_t of 32 bits
 * saturates. 0 or -1.
 */
static int
datetime(const char *s, time_t *out, int *no_tz)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	int		 y, mo, d, h = 0, mi = 0, sec = 0, oh, om, sign;

	if (digits(s, 4, &y) == -1 || s[4] != '-' ||
	    digits(s + 5, 2, &mo) == -1 || s[7] != '-' ||
	    digits(s + 8, 2, &d) == -1)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && (y % 4 != 0 ||
	    (y % 100 == 0 && y % 400 != 0))))
		return -1;
	s += 10;
	if (*s == '\0') {
		*no_tz = 1;
		goto done;
	}
	if ((*s != 'T' && *s != 't' && *s != ' ') ||
	    digits(s + 1, 2, &h) == -1 || s[3] != ':' ||
	    digits(s + 4, 2, &mi) == -1 || s[6] != ':' ||
	    digits(s + 7, 2, &sec) == -1 || h > 23 || mi > 59 || sec > 60)
		return -1;
	s += 9;
	if (*s == '.' && s[1] >= '0' && s[1] <= '9')
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	if (*s == '\0') {
		*no_tz = 1;
		goto done;
	}
	if ((*s == 'Z' || *s == 'z') && s[1] == '\0')
		goto done;
	if (*s != '+' && *s != '-')
		return -1;
	sign = *s == '-' ? -1 : 1;
	if (digits(s + 1, 2, &oh) == -1)
		return -1;
	s += 3;
	if (*s == ':')
		s++;
	if (digits(s, 2, &om) == -1 || s[2] != '\0' || oh > 23 || om > 59)
		return -1;
	/* local time = UTC + offset (RFC 3339 4.2) */
	h -= sign * oh;
	mi -= sign * om;
done:
	*out = utc_clamp(utc_seconds(y, mo, d, h, mi, sec));
	return 0;
}

/*
 * A list of strings kept in *v, *n: an array (null entries skipped) or,
 * as some reporters write it, a single string; at most LINES_MAX.
 */
static int
lines(const cJSON *o, const char *key, int flags, char ***v, size_t *n,
    const char *where, char *err, size_t errlen)
{
	const cJSON	*m = cJSON_GetObjectItemCaseSensitive(o, key), *e;
	size_t		 cap;

	if (cJSON_IsString(m) && m->valuestring != NULL) {
		if ((*v = calloc(1, sizeof(**v))) == NULL ||
		    ((*v)[0] = dupclean(m->valuestring, flags)) == NULL)
			FAIL("out of memory");
		*n = 1;
		return 0;
	}
	if (!cJSON_IsArray(m))
		FAIL("%s%s: not an array of strings", where, key);
	cap = 0;
	cJSON_ArrayForEach(e, m) {
		if (cJSON_IsNull(e))
			continue;
		if (!cJSON_IsString(e) || e->valuestring == NULL)
			FAIL("%s%s: not an array of strings", where, key);
		if (cap < LINES_MAX)
			cap++;
	}
	if (cap == 0)
		return 0;
	if ((*v = calloc(cap, sizeof(**v))) == NULL)
		FAIL("out of memory");
	*n = cap;
	cap = 0;
	cJSON_ArrayForEach(e, m) {
		if (cap == *n)
			break;
		if (cJSON_IsNull(e))
			continue;
		if (((*v)[cap++] = dupclean(e->valuestring, flags)) == NULL)
			FAIL("out of memory");
	}
	return 0;
}

/* absent or null: none */
static int
optlines(const cJSON *o, const char *key, int flags, char ***v, size_t *n,
    const char *where, char *err, size_t errlen)
{
	const cJSON	*m = cJSON_GetObjectItemCaseSensitive(o, key);

	if (m == NULL || cJSON_IsNull(m))
		return 0;
	return lines(o, key, flags, v, n, where, err, errlen);
}

/* The "policy" object of policies[i]; where: "policies[i].policy." */
static int
policy(const cJSON *o, struct tlsrpt_policy *p, const char *where,
    char *err, size_t errlen)
{
	const cJSON	*mx = cJSON_GetObjectItemCaseSensitive(o, "mx-host");
	const char	*dom;

	if (optstr(o, "policy-domain", &dom, where, err, errlen) == -1)
		return -1;
	if (dom == NULL || dom[0] == '\0')
		FAIL("%spolicy-domain: missing or empty", where);
	if ((p->domain = dupclean(dom, LOWER | DOT)) == NULL)
		FAIL("out of memory");
	if (keepstr(o, "policy-type", LOWER, &p->type, where, err,
	    errlen) == -1 ||
	    optlines(o, "policy-string", 0, &p->strings, &p->nstrings, where,
	    err, errlen) == -1)
		return -1;
	/* errata 6241 names it mx-host-pattern; the RFC's JSON mx-host */
	if (mx != NULL && !cJSON_IsNull(mx))
		return lines(o, "mx-host", LOWER | DOT, &p->mx, &p->nmx,
		    where, err, errlen);
	return optlines(o, "mx-host-pattern", LOWER | DOT, &p->mx, &p->nmx,
	    where, err, errlen);
}

/* The fields that make failure details the same, cleaned, side by side. */
enum { K_RESULT, K_SIP, K_MX, K_HELO, K_RIP, K_REASON, K_N };
struct key {
	char	f[K_N][STR_MAX + 1];
};

static uint32_t
key_hash(const struct key *k)
{
	uint32_t	 h = 2166136261u;	/* FNV-1a */
	const char	*s;
	int		 i;

	for (i = 0; i < K_N; i++)
		for (s = k->f[i]; ; s++) {
			h = (h ^ (unsigned char)*s) * 16777619u;
			if (*s == '\0')
				break;
		}
	return h;
}

static int
key_eq(const struct key *k, const struct tlsrpt_detail *d)
{
	return strcmp(k->f[K_RESULT], d->result) == 0 &&
	    strcmp(k->f[K_SIP], d->sending_ip) == 0 &&
	    strcmp(k->f[K_MX], d->mx) == 0 &&
	    strcmp(k->f[K_HELO], d->mx_helo) == 0 &&
	    strcmp(k->f[K_RIP], d->receiving_ip) == 0 &&
	    strcmp(k->f[K_REASON], d->reason) == 0;
}

/*
 * "failure-details": identical entries merged (a hash of the kept ones,
 * so a long list costs linear time), the first TLSRPT_DETAILS_MAX
 * distinct ones kept, the sessions of the rest counted in p->more.
 */
static int
details(const cJSON *a, struct tlsrpt_policy *p, const char *pwhere,
    char *err, size_t errlen)
{
	static const struct {
		const char	*name, *alt;	/* alt: when name is absent */
		int		 flags;
	} kf[K_N] = {
		{ "result-type", NULL, LOWER },
		{ "sending-mta-ip", NULL, 0 },
		{ "receiving-mx-hostname", NULL, LOWER | DOT },
		{ "receiving-mx-helo", NULL, 0 },
		{ "receiving-ip", "receiving-mx-ip", 0 },
		/* RFC 8460 B's example has failure-error-code */
		{ "failure-reason-code", "failure-error-code", 0 },
	};
	struct key		*k = NULL;
	struct tlsrpt_detail	*d, *nd;
	const cJSON		*e;
	const char		*v, *info;
	char			 where[128];
	uint16_t		 slot[HASH_SIZE];	/* index + 1; 0: free */
	size_t			 i, cap = 0, ncap;
	uint32_t		 h;
	long long		 n;
	int			 j, rc = -1;

	if (!cJSON_IsArray(a)) {
		snprintf(err, errlen, "%sfailure-details: not an array",
		    pwhere);
		return -1;
	}
	if ((k = malloc(sizeof(*k))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(slot, 0, sizeof(slot));
	i = 0;
	cJSON_ArrayForEach(e, a) {
		snprintf(where, sizeof(where), "%sfailure-details[%zu].",
		    pwhere, i++);
		if (!cJSON_IsObject(e)) {
			snprintf(err, errlen, "%.*s: not an object",
			    (int)strlen(where) - 1, where);
			goto out;
		}
		for (j = 0; j < K_N; j++) {
			if (optstr(e, kf[j].name, &v, where, err,
			    errlen) == -1)
				goto out;
			if (v == NULL && kf[j].alt != NULL && optstr(e,
			    kf[j].alt, &v, where, err, errlen) == -1)
				goto out;
			if (j == K_RESULT && (v == NULL || v[0] == '\0')) {
				snprintf(err, errlen, "%sresult-type: missing "
				    "or empty", where);
				goto out;
			}
			clean(v != NULL ? v : "", kf[j].flags, k->f[j]);
		}
		if (optstr(e, "additional-information", &info, where, err,
		    errlen) == -1 ||
		    count(e, "failed-session-count", &n, where, err,
		    errlen) == -1)
			goto out;
		h = key_hash(k) & (HASH_SIZE - 1);
		while (slot[h] != 0 && !key_eq(k, &p->d[slot[h] - 1]))
			h = (h + 1) & (HASH_SIZE - 1);
		if (slot[h] != 0) {
			d = &p->d[slot[h] - 1];
			d->count = add(d->count, n);
			continue;
		}
		if (p->nd == TLSRPT_DETAILS_MAX) {
			p->more = add(p->more, n);
			continue;
		}
		if (p->nd == cap) {
			ncap = cap == 0 ? 8 : cap * 2;
			if (ncap > TLSRPT_DETAILS_MAX)
				ncap = TLSRPT_DETAILS_MAX;
			if ((nd = realloc(p->d, ncap * sizeof(*nd))) == NULL) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			p->d = nd;
			cap = ncap;
		}
		/* counted first, so tlsrpt_free frees a half-made one */
		d = &p->d[p->nd++];
		memset(d, 0, sizeof(*d));
		d->count = n;
		if ((d->result = strdup(k->f[K_RESULT])) == NULL ||
		    (d->sending_ip = strdup(k->f[K_SIP])) == NULL ||
		    (d->mx = strdup(k->f[K_MX])) == NULL ||
		    (d->mx_helo = strdup(k->f[K_HELO])) == NULL ||
		    (d->receiving_ip = strdup(k->f[K_RIP])) == NULL ||
		    (d->reason = strdup(k->f[K_REASON])) == NULL ||
		    (d->info = dupclean(info != NULL ? info : "", 0)) ==
		    NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		slot[h] = (uint16_t)p->nd;
	}
	rc = 0;
out:
	free(k);
	return rc;
}

/* policies[i] */
static int
policies_one(const cJSON *o, struct tlsrpt_policy *p, size_t i, char *err,
    size_t errlen)
{
	const cJSON	*s, *fd;
	char		 where[64], pw[80];

	snprintf(where, sizeof(where), "policies[%zu]", i);
	if (!cJSON_IsObject(o))
		FAIL("%s: not an object", where);
	s = cJSON_GetObjectItemCaseSensitive(o, "policy");
	if (!cJSON_IsObject(s))
		FAIL("%s.policy: missing or not an object", where);
	snprintf(pw, sizeof(pw), "%s.policy.", where);
	if (policy(s, p, pw, err, errlen) == -1)
		return -1;
	s = cJSON_GetObjectItemCaseSensitive(o, "summary");
	snprintf(pw, sizeof(pw), "%s.summary.", where);
	if (s != NULL && !cJSON_IsNull(s)) {
		if (!cJSON_IsObject(s))
			FAIL("%s.summary: not an object", where);
		if (count(s, "total-successful-session-count", &p->success,
		    pw, err, errlen) == -1 ||
		    count(s, "total-failure-session-count", &p->failure, pw,
		    err, errlen) == -1)
			return -1;
	}
	fd = cJSON_GetObjectItemCaseSensitive(o, "failure-details");
	snprintf(pw, sizeof(pw), "%s.", where);
	if (fd != NULL && !cJSON_IsNull(fd) &&
	    details(fd, p, pw, err, errlen) == -1)
		return -1;
	return 0;
}

/* An upper bound of the values in json, before cJSON builds its tree:
 * each but the first follows a '[', '{' or ',' outside strings. */
static size_t
values(const char *json, size_t len)
{
	size_t	i, n = 1;
	int	in = 0;

	for (i = 0; i < len; i++) {
		if (in) {
			if (json[i] == '\\')
				i++;
			else if (json[i] == '"')
				in = 0;
		} else if (json[i] == '"')
			in = 1;
		else if (json[i] == ',' || json[i] == '[' || json[i] == '{')
			n++;
	}
	return n;
}

/*
 * Read the report json (len bytes, at most TLSRPT_JSON_MAX) into r
 * (zeroed first; free with tlsrpt_free, also after an error, when it is
 * zeroed again). 0, or -1 with err naming the member that is wrong.
 */
int
tlsrpt_parse(const char *json, size_t len, struct tlsrpt *r, char *err,
    size_t errlen)
{
	const cJSON	*dr, *pa, *e;
	cJSON		*j = NULL;
	const char	*s;
	size_t		 nv;
	size_t		 i, n;
	int		 rc = -1;

	memset(r, 0, sizeof(*r));
	if (len > TLSRPT_JSON_MAX) {
		snprintf(err, errlen, "larger than %d bytes",
		    TLSRPT_JSON_MAX);
		return -1;
	}
	/* a UTF-8 byte order mark, which cJSON refuses */
	if (len >= 3 && memcmp(json, "\xef\xbb\xbf", 3) == 0) {
		json += 3;
		len -= 3;
	}
	if (len == 0) {
		snprintf(err, errlen, "empty");
		return -1;
	}
	/*
	 * cJSON's tree costs some 80 bytes a value: a real report has one
	 * per 20 bytes or more, so one per 8 bounds the tree at about ten
	 * times the text (a list of "0,0,0,..." would make it forty).
	 */
	nv = values(json, len);
	if (nv > VALUES_MAX || nv > len / 8 + 64) {
		snprintf(err, errlen, "too many JSON values (%zu in %zu "
		    "bytes; at most one per 8 bytes, 1000000 in all)", nv,
		    len);
		return -1;
	}
	if ((j = cJSON_ParseWithLength(json, len)) == NULL) {
		/* where cJSON stopped, as line and byte for an editor */
		const char	*at = cJSON_GetErrorPtr(), *p;
		size_t		 line = 1;

		if (at != NULL && at >= json && at <= json + len) {
			for (p = json; p < at; p++)
				line += *p == '\n';
			snprintf(err, errlen, "invalid JSON at line %zu "
			    "(byte %zu)", line, (size_t)(at - json));
		} else
			snprintf(err, errlen, "invalid JSON");
		goto out;
	}
	if (!cJSON_IsObject(j)) {
		snprintf(err, errlen, "not a JSON object");
		goto out;
	}
	if (optstr(j, "report-id", &s, "", err, errlen) == -1)
		goto out;
	if (s == NULL || s[0] == '\0') {
		snprintf(err, errlen, "report-id: missing or empty");
		goto out;
	}
	if ((r->id = dupclean(s, 0)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (keepstr(j, "organization-name", 0, &r->org, "", err,
	    errlen) == -1 ||
	    keepstr(j, "contact-info", 0, &r->contact, "", err, errlen) == -1)
		goto out;
	dr = cJSON_GetObjectItemCaseSensitive(j, "date-range");
	if (!cJSON_IsObject(dr)) {
		snprintf(err, errlen, "date-range: missing or not an object");
		goto out;
	}
	if (optstr(dr, "start-datetime", &s, "date-range.", err,
	    errlen) == -1)
		goto out;
	if (s == NULL || datetime(s, &r->start, &r->no_tz) == -1) {
		snprintf(err, errlen, "date-range.start-datetime: missing or "
		    "not a date-time");
		goto out;
	}
	if (optstr(dr, "end-datetime", &s, "date-range.", err, errlen) == -1)
		goto out;
	if (s == NULL || datetime(s, &r->end, &r->no_tz) == -1) {
		snprintf(err, errlen, "date-range.end-datetime: missing or "
		    "not a date-time");
		goto out;
	}
	pa = cJSON_GetObjectItemCaseSensitive(j, "policies");
	if (!cJSON_IsArray(pa)) {
		snprintf(err, errlen, "policies: missing or not an array");
		goto out;
	}
	n = 0;
	cJSON_ArrayForEach(e, pa)
		if (++n > TLSRPT_POLICIES_MAX) {
			snprintf(err, errlen, "more than %d policies",
			    TLSRPT_POLICIES_MAX);
			goto out;
		}
	/* a report of no sessions may have none */
	if (n > 0 && (r->p = calloc(n, sizeof(*r->p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	r->np = n;
	i = 0;
	cJSON_ArrayForEach(e, pa) {
		if (policies_one(e, &r->p[i], i, err, errlen) == -1)
			goto out;
		i++;
	}
	rc = 0;
out:
	cJSON_Delete(j);
	if (rc == -1)
		tlsrpt_free(r);
	return rc;
}

static void
free_lines(char **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
tlsrpt_free(struct tlsrpt *r)
{
	struct tlsrpt_policy	*p;
	struct tlsrpt_detail	*d;
	size_t			 i, k;

	for (i = 0; i < r->np && r->p != NULL; i++) {
		p = &r->p[i];
		free(p->type);
		free(p->domain);
		free_lines(p->strings, p->nstrings);
		free_lines(p->mx, p->nmx);
		for (k = 0; k < p->nd; k++) {
			d = &p->d[k];
			free(d->result);
			free(d->sending_ip);
			free(d->mx);
			free(d->mx_helo);
			free(d->receiving_ip);
			free(d->reason);
			free(d->info);
		}
		free(p->d);
	}
	free(r->p);
	free(r->org);
	free(r->contact);
	free(r->id);
	memset(r, 0, sizeof(*r));
}
