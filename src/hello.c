/*
 * hello.c: the TLS ClientHello, read from the first bytes a client sent
 * before mbedTLS sees any of them: is it TLS at all, is it complete, and
 * which server name (RFC 6066 3) and ALPN protocols (RFC 7301 3.1) does
 * it ask for. Pure: no I/O, no logging, no allocation; the message is
 * reassembled on the stack when it spans several records.
 *
 * Wire format: RFC 8446 5.1 (records), 4 (handshake header), 4.1.2
 * (ClientHello), 4.2 (extensions); RFC 5246 7.4.1.2 for a TLS 1.2 hello
 * without extensions.
 */
#include <stdint.h>
#include <string.h>

#include "mtasts.h"

#define REC_HANDSHAKE	22	/* ContentType handshake */
#define REC_HDR		5	/* type, version, length */
#define HS_CLIENT_HELLO	1
#define HS_HDR		4	/* msg_type, uint24 length */
#define BODY_MIN	41	/* version, random, empty session id, one
				 * cipher suite, one compression method */
#define EXT_SERVER_NAME	0
#define EXT_ALPN	16
#define NAME_HOST	0	/* NameType host_name */

/* A read cursor over a byte range. */
struct rd {
	const unsigned char	*p;
	size_t			 n;
};

/*
 * Takes n bytes off the front of r, into sub if not NULL.
 * 0, or -1 if r has fewer.
 */
static int
rd_take(struct rd *r, size_t n, struct rd *sub)
{
	if (r->n < n)
		return -1;
	if (sub != NULL) {
		sub->p = r->p;
		sub->n = n;
	}
	r->p += n;
	r->n -= n;
	return 0;
}

/* A big-endian integer of w (1..3) bytes into *v. 0, or -1 if short. */
static int
rd_uint(struct rd *r, size_t w, size_t *v)
{
	size_t	i;

	if (r->n < w)
		return -1;
	*v = 0;
	for (i = 0; i < w; i++)
		*v = *v << 8 | r->p[i];
	return rd_take(r, w, NULL);
}

/*
 * A vector with a w-byte length in front (RFC 8446 3.4) into sub.
 * 0, or -1 if the length runs past the end of r.
 */
static int
rd_vec(struct rd *r, size_t w, struct rd *sub)
{
	size_t	n;

	if (rd_uint(r, w, &n) == -1)
		return -1;
	return rd_take(r, n, sub);
}

/*
 * server_name's extension_data (RFC 6066 3). One host_name entry of
 * 1..255 visible ASCII characters (no space, no NUL) goes to h->sni; any
 * other list that is well-formed as lengths sets h->sni_bad. Returns 0,
 * or -1 if the lengths do not add up.
 */
static int
parse_sni(struct rd *r, struct hello *h)
{
	struct rd	 list, name, first = { NULL, 0 };
	size_t		 type, first_type = 0, n = 0, i;
	int		 bad = 0;

	/* ServerName server_name_list<1..2^16-1> */
	if (rd_vec(r, 2, &list) == -1 || r->n != 0 || list.n == 0)
		return -1;
	while (list.n > 0) {
		/* NameType name_type; HostName (opaque<1..2^16-1>) */
		if (rd_uint(&list, 1, &type) == -1 ||
		    rd_vec(&list, 2, &name) == -1)
			return -1;
		if (n++ == 0) {
			first = name;
			first_type = type;
		}
	}
	if (n != 1 || first_type != NAME_HOST || first.n == 0 ||
	    first.n >= sizeof(h->sni))
		bad = 1;
	for (i = 0; !bad && i < first.n; i++)
		if (first.p[i] <= ' ' || first.p[i] > '~')
			bad = 1;
	if (bad) {
		h->sni_bad = 1;
		h->sni[0] = '\0';
		return 0;
	}
	memcpy(h->sni, first.p, first.n);
	h->sni[first.n] = '\0';
	return 0;
}

/* The HELLO_ALPN_* bit of one protocol name. */
static unsigned
alpn_bit(const struct rd *name)
{
	static const struct {
		const char	*id;
		unsigned	 bit;
	} known[] = {
		{ "http/1.1", HELLO_ALPN_HTTP11 },
		{ "http/1.0", HELLO_ALPN_HTTP10 },
		{ "acme-tls/1", HELLO_ALPN_ACME },	/* RFC 8737 */
	};
	size_t	i;

	/* Protocol ids are compared byte for byte (RFC 7301 3.1). */
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (name->n == strlen(known[i].id) &&
		    memcmp(name->p, known[i].id, name->n) == 0)
			return known[i].bit;
	return HELLO_ALPN_OTHER;
}

/*
 * application_layer_protocol_negotiation's extension_data (RFC 7301 3.1)
 * into h->alpn. 0, or -1 if malformed.
 */
static int
parse_alpn(struct rd *r, struct hello *h)
{
	struct rd	list, name;

	/* ProtocolName protocol_name_list<2..2^16-1> */
	if (rd_vec(r, 2, &list) == -1 || r->n != 0 || list.n < 2)
		return -1;
	while (list.n > 0) {
		/* opaque ProtocolName<1..2^8-1> */
		if (rd_vec(&list, 1, &name) == -1 || name.n == 0)
			return -1;
		h->alpn |= alpn_bit(&name);
	}
	return 0;
}

/*
 * The body of a ClientHello (RFC 8446 4.1.2), exactly r's bytes.
 * 1 (h filled), or -1 if malformed.
 */
static int
parse_body(struct rd *r, struct hello *h)
{
	struct rd	exts, v;
	size_t		type;
	uint8_t		seen[65536 / 8];

	/* ProtocolVersion legacy_version; Random random */
	if (r->n < 2 || r->p[0] != 3 || rd_take(r, 2 + 32, NULL) == -1)
		return -1;
	/* opaque legacy_session_id<0..32> */
	if (rd_vec(r, 1, &v) == -1 || v.n > 32)
		return -1;
	/* CipherSuite cipher_suites<2..2^16-2> */
	if (rd_vec(r, 2, &v) == -1 || v.n < 2 || v.n % 2 != 0)
		return -1;
	/* opaque legacy_compression_methods<1..2^8-1> */
	if (rd_vec(r, 1, &v) == -1 || v.n < 1)
		return -1;
	/* A TLS 1.2 hello may end here (RFC 5246 7.4.1.2). */
	if (r->n == 0)
		return 1;
	/* Extension extensions<8..2^16-1>, filling the rest exactly */
	if (rd_vec(r, 2, &exts) == -1 || r->n != 0)
		return -1;
	memset(seen, 0, sizeof(seen));
	while (exts.n > 0) {
		if (rd_uint(&exts, 2, &type) == -1 ||
		    rd_vec(&exts, 2, &v) == -1)
			return -1;
		/* RFC 8446 4.2: at most one extension of each type */
		if (seen[type / 8] & (1u << type % 8))
			return -1;
		seen[type / 8] |= 1u << type % 8;
		if (type == EXT_SERVER_NAME && parse_sni(&v, h) == -1)
			return -1;
		if (type == EXT_ALPN && parse_alpn(&v, h) == -1)
			return -1;
	}
	return 1;
}

/*
 * Reassembles the first handshake message from the handshake records at
 * the start of buf, looking at no more than HELLO_MAX bytes of records,
 * and parses it as a ClientHello. Rejects as early as the bytes allow,
 * but a prefix of a good hello always gives 0; from HELLO_MAX bytes on
 * the answer is never 0, so a caller needs no bigger buffer. Bytes after
 * the hello's last record are not looked at. See mtasts.h.
 */
int
hello_parse(const unsigned char *buf, size_t len, struct hello *h)
{
	unsigned char	 msg[HELLO_MAX];
	struct rd	 body;
	size_t		 off = 0, have = 0, have0, need = 0, rlen, avail;

	memset(h, 0, sizeof(*h));
	if (len > HELLO_MAX)
		len = HELLO_MAX;
	for (;;) {
		/* A record header; SSLv2 and plain text fail on byte one. */
		if (off + REC_HDR > HELLO_MAX)
			return -1;
		avail = len - off;
		if ((avail > 0 && buf[off] != REC_HANDSHAKE) ||
		    (avail > 1 && buf[off + 1] != 3))
			return -1;
		if (avail < REC_HDR)
			return 0;
		rlen = (size_t)buf[off + 3] << 8 | buf[off + 4];
		/* RFC 8446 5.1: no empty handshake fragments; the bound on
		 * off also keeps rlen under the 2^14 a record may carry */
		if (rlen == 0 || off + REC_HDR + rlen > HELLO_MAX)
			return -1;
		off += REC_HDR;

		/*
		 * Its fragment, as far as it has arrived. have + rlen stays
		 * below HELLO_MAX: every byte in msg came with a header.
		 */
		avail = len - off < rlen ? len - off : rlen;
		have0 = have;
		memcpy(msg + have, buf + off, avail);
		have += avail;
		if (have0 == 0 && have > 0 && msg[0] != HS_CLIENT_HELLO)
			return -1;
		if (need == 0 && have >= HS_HDR) {
			need = HS_HDR + ((size_t)msg[1] << 16 |
			    (size_t)msg[2] << 8 | msg[3]);
			if (need < HS_HDR + BODY_MIN)
				return -1;
		}
		if (need != 0) {
			/* Nothing else may share the hello's last record. */
			if (have0 + rlen > need)
				return -1;
			/* More records, each with a header, would not fit. */
			if (have0 + rlen < need && off + rlen + REC_HDR +
			    (need - have0 - rlen) > HELLO_MAX)
				return -1;
		}
		if (avail < rlen)
			return 0;
		off += rlen;
		if (need != 0 && have == need)
			break;
	}
	body.p = msg + HS_HDR;
	body.n = need - HS_HDR;
	if (parse_body(&body, h) == -1) {
		memset(h, 0, sizeof(*h));	/* nothing half-read to log */
		return -1;
	}
	return 1;
}
