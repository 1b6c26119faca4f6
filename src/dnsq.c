/*
 * dnsq.c: DNS questions for the live checks (--check-live, the watcher
 * child): one question to the system resolver, its answer read with the
 * resolver library's own parser (ns_initparse, ns_parserr,
 * ns_name_uncompress) into a struct dnsq_ans of plain strings.
 *
 * dnsq_parse is pure and fuzzed (fuzz_dns): it believes no count, length
 * or name of the message. The library checks that the records fit the
 * message; this file checks that each record's fields fit the record,
 * that the answer repeats the question (musl matches a reply to its query
 * by the id alone), and keeps only names it could use as host names.
 *
 * dnsq_query: glibc gets a resolver state of its own (res_ninit) with
 * short timeouts, so a dead resolver costs seconds, not the 30 s of the
 * defaults; musl (no res_n*) reads /etc/resolv.conf on every query and
 * gives up after its timeout (5 s unless "options timeout:" says
 * otherwise). Both take the query made (res_mkquery) and send it
 * (res_send), not res_query: res_query keeps the answer's length to
 * itself when the name does not exist or has no such record, and the
 * answer is what tells those apart.
 */
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <resolv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

#define ANSWER_MAX	65535	/* a DNS message over TCP (RFC 1035 4.2.2) */
#define QUERY_MAX	300	/* 12 + a name of 255 + 4, and an OPT of 11 */
#define CHAIN_MAX	8	/* CNAMEs followed in one answer */
#define NAMELEN	256	/* as struct dnsq_rr's name, with its NUL */
#define RETRANS		3	/* glibc: seconds for the first try */
#define RETRY		2	/* glibc: tries per name server */
#define EDNS_SIZE	1232	/* musl: UDP answer size we accept (RFC 6891) */
#define OPT_LEN		11	/* an OPT record, root owner, no options */

/* One dnsq_parse: the message, the question, and where errors go. */
struct pctx {
	ns_msg		 m;
	int		 type;
	char		 qname[NAMELEN];	/* lower case, no dot */
	char		 end[NAMELEN];	/* end of its CNAME chain */
	char		*err;
	size_t		 errlen;
};

static const struct {
	int		 type;
	const char	*name;
} types[] = {
	{ DNSQ_T_A, "A" },
	{ DNSQ_T_CNAME, "CNAME" },
	{ DNSQ_T_MX, "MX" },
	{ DNSQ_T_TXT, "TXT" },
	{ DNSQ_T_AAAA, "AAAA" },
	{ DNSQ_T_CAA, "CAA" },
};

static const char *const rcodes[] = {
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"
};

static void	say(char *, size_t, const char *, int, const char *, ...)
		    __attribute__((format(printf, 5, 6)));

const char *
dnsq_type_name(int type)
{
	size_t	i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == type)
			return types[i].name;
	return "unknown type";
}

/* err = "<name> <TYPE>: <what>" */
static void
say(char *err, size_t errlen, const char *name, int type, const char *fmt,
    ...)
{
	va_list	ap;
	int	n;

	if (errlen == 0)
		return;
	n = snprintf(err, errlen, "%s %s: ", name, dnsq_type_name(type));
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - n, fmt, ap);
	va_end(ap);
}

/*
 * A name as text we can use: lower case, no trailing dot ("" for the
 * root), shorter than NAMELEN, every byte a printable one other than
 * space and backslash. The library wrote it into buf (size bytes), which
 * the caller filled with 0xff first: glibc escapes odd bytes (\DDD, \.),
 * musl copies them raw, a NUL too, and a name cut short at a NUL would
 * pass for another; the fill shows where the library really stopped.
 * 0, or -1 if the name is none we could look up or connect to.
 */
static int
usable(char *buf, size_t size)
{
	size_t	n = strlen(buf), i;

	if (memchr(buf + n + 1, '\0', size - n - 1) != NULL)
		return -1;
	if (n == 1 && buf[0] == '.')
		n = 0;
	for (i = 0; i < n; i++) {
		if ((unsigned char)buf[i] <= ' ' ||
		    (unsigned char)buf[i] >= 0x7f || buf[i] == '\\')
			return -1;
		if (buf[i] >= 'A' && buf[i] <= 'Z')
			buf[i] += 'a' - 'A';
	}
	if (n > 0 && buf[n - 1] == '.')
		n--;
	if (n >= NAMELEN)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* The name at src (inside the message) into dst (NS_MAXDNAME bytes):
 * bytes it takes at src, or -1 if unreadable or unusable. */
static int
getname(const struct pctx *p, const unsigned char *src, char *dst)
{
	int	n;

	memset(dst, 0xff, NS_MAXDNAME);
	n = ns_name_uncompress(ns_msg_base(p->m), ns_msg_end(p->m), src, dst,
	    NS_MAXDNAME);
	if (n < 0 || usable(dst, NS_MAXDNAME) == -1)
		return -1;
	return n;
}

/* Record i of section s into rr: -1 if the message is malformed there;
 * else 0, and *mine set when its owner is usable and is name, its class
 * IN and its type type. */
static int
getrr(struct pctx *p, ns_sect s, int i, ns_rr *rr, const char *name,
    int type, int *mine)
{
	memset(rr->name, 0xff, sizeof(rr->name));
	if (ns_parserr(&p->m, s, i, rr) == -1)
		return -1;
	*mine = usable(rr->name, sizeof(rr->name)) == 0 &&
	    strcmp(rr->name, name) == 0 && ns_rr_class(*rr) == ns_c_in &&
	    (int)ns_rr_type(*rr) == type;
	return 0;
}

static int
setdata(struct dnsq_rr *r, const void *data, size_t len)
{
	if ((r->data = malloc(len + 1)) == NULL)
		return -1;
	memcpy(r->data, data, len);
	r->data[len] = '\0';
	r->len = len;
	return 0;
}

/* TXT (RFC 1035 3.3.14): one or more <character-string>s, a length byte
 * and that many bytes each; joined, as RFC 8461 3.1 reads a record. */
static int
txt(const unsigned char *d, size_t len, struct dnsq_rr *r)
{
	size_t	i, n = 0;

	for (i = 0; i < len; i += 1 + d[i]) {
		if (d[i] > len - i - 1)
			return -1;
		n += d[i];
	}
	if ((r->data = malloc(n + 1)) == NULL)
		return -1;
	for (i = 0, n = 0; i < len; i += 1 + d[i]) {
		memcpy(r->data + n, d + i + 1, d[i]);
		n += d[i];
	}
	r->data[n] = '\0';
	r->len = n;
	return 0;
}

/* CAA (RFC 8659 4.1): flags, tag length, tag (1-15 letters and digits,
 * compared without case), the value to the record's end. */
static int
caa(const unsigned char *d, size_t len, struct dnsq_rr *r)
{
	size_t	tl, i;

	if (len < 2)
		return -1;
	r->pref = d[0];
	tl = d[1];
	if (tl == 0 || tl >= sizeof(r->tag) || tl > len - 2)
		return -1;
	for (i = 0; i < tl; i++) {
		if (!((d[2 + i] >= 'a' && d[2 + i] <= 'z') ||
		    (d[2 + i] >= 'A' && d[2 + i] <= 'Z') ||
		    (d[2 + i] >= '0' && d[2 + i] <= '9')))
			return -1;
		r->tag[i] = d[2 + i] >= 'A' && d[2 + i] <= 'Z' ?
		    d[2 + i] + 'a' - 'A' : d[2 + i];
	}
	r->tag[tl] = '\0';
	return setdata(r, d + 2 + tl, len - 2 - tl);
}

/* The record's data into r by its type: -1 if it does not fit its
 * record (or memory ran out). */
static int
rdata(struct pctx *p, const ns_rr *rr, struct dnsq_rr *r)
{
	const unsigned char	*d = ns_rr_rdata(*rr);
	size_t			 len = ns_rr_rdlen(*rr), off = 0;
	char			 name[NS_MAXDNAME], addr[INET6_ADDRSTRLEN];
	int			 n;

	switch (p->type) {
	case DNSQ_T_A:
	case DNSQ_T_AAAA:
		if (len != (p->type == DNSQ_T_A ? 4U : 16U) ||
		    inet_ntop(p->type == DNSQ_T_A ? AF_INET : AF_INET6, d,
		    addr, sizeof(addr)) == NULL)
			return -1;
		return setdata(r, addr, strlen(addr));
	case DNSQ_T_MX:
		/* RFC 1035 3.3.9: preference, exchange; RFC 7505: "." is
		 * the null MX, kept as "" */
		if (len < 3)
			return -1;
		r->pref = d[0] << 8 | d[1];
		off = 2;
		/* FALLTHROUGH */
	case DNSQ_T_CNAME:
		if (len < off + 1 || (n = getname(p, d + off, name)) == -1 ||
		    off + n != len)
			return -1;
		return setdata(r, name, strlen(name));
	case DNSQ_T_TXT:
		return txt(d, len, r);
	case DNSQ_T_CAA:
		return caa(d, len, r);
	default:
		return setdata(r, d, len);
	}
}

/*
 * From the name asked along the answer's CNAME records to the name whose
 * records the answer holds (RFC 1034 3.6.2: a resolver answers with the
 * chain, then the records at its end) into p->end. A question for the
 * CNAME itself stops at the name asked.
 */
static int
chase(struct pctx *p)
{
	ns_rr	rr;
	char	target[NS_MAXDNAME];
	int	i, n = ns_msg_count(p->m, ns_s_an), steps, mine;

	memcpy(p->end, p->qname, sizeof(p->end));
	if (p->type == DNSQ_T_CNAME)
		return 0;
	for (steps = 0;; steps++) {
		for (i = 0; i < n; i++) {
			if (getrr(p, ns_s_an, i, &rr, p->end, DNSQ_T_CNAME,
			    &mine) == -1) {
				say(p->err, p->errlen, p->qname, p->type,
				    "malformed answer from the resolver");
				return -1;
			}
			if (mine)
				break;
		}
		if (i == n)
			return 0;
		if (steps == CHAIN_MAX) {
			say(p->err, p->errlen, p->qname, p->type,
			    "CNAME chain longer than %d (a loop?)", CHAIN_MAX);
			return -1;
		}
		if (ns_rr_rdlen(rr) < 1 ||
		    (n = getname(p, ns_rr_rdata(rr), target)) == -1 ||
		    (size_t)n != ns_rr_rdlen(rr)) {
			say(p->err, p->errlen, p->qname, p->type,
			    "malformed CNAME record in the answer");
			return -1;
		}
		memcpy(p->end, target, strlen(target) + 1);
		n = ns_msg_count(p->m, ns_s_an);
	}
}

/* The answer's records of the type asked, owned by p->end, into ans. */
static int
collect(struct pctx *p, struct dnsq_ans *ans)
{
	ns_rr	rr;
	int	i, n = ns_msg_count(p->m, ns_s_an), mine;
	size_t	want = 0;

	for (i = 0; i < n; i++) {
		if (getrr(p, ns_s_an, i, &rr, p->end, p->type, &mine) == -1)
			goto bad;
		want += mine;
	}
	if (want == 0) {
		if (ans->cname[0] != '\0')
			say(p->err, p->errlen, p->qname, p->type,
			    "no %s record (an alias of %s)",
			    dnsq_type_name(p->type), ans->cname);
		else
			say(p->err, p->errlen, p->qname, p->type,
			    "no %s record", dnsq_type_name(p->type));
		return DNSQ_NODATA;
	}
	if ((ans->rr = calloc(want, sizeof(*ans->rr))) == NULL) {
		say(p->err, p->errlen, p->qname, p->type, "out of memory");
		return DNSQ_FAIL;
	}
	for (i = 0; i < n && ans->n < want; i++) {
		if (getrr(p, ns_s_an, i, &rr, p->end, p->type, &mine) == -1)
			goto bad;
		if (!mine)
			continue;
		ans->rr[ans->n].type = p->type;
		memcpy(ans->rr[ans->n].name, p->end, sizeof(p->end));
		if (rdata(p, &rr, &ans->rr[ans->n]) == -1) {
			dnsq_free(ans);
			say(p->err, p->errlen, p->qname, p->type,
			    "malformed %s record in the answer (or out of "
			    "memory)", dnsq_type_name(p->type));
			return DNSQ_FAIL;
		}
		ans->n++;
	}
	return DNSQ_OK;
 bad:
	dnsq_free(ans);
	say(p->err, p->errlen, p->qname, p->type,
	    "malformed answer from the resolver");
	return DNSQ_FAIL;
}

/* The question as we compare names: 0, or -1 with err. */
static int
setup(struct pctx *p, const char *qname, int type, char *err, size_t errlen)
{
	char	show[NAMELEN];
	size_t	i, n = strlen(qname), label = 0;

	memset(p, 0, sizeof(*p));
	p->type = type;
	p->err = err;
	p->errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
	if (name_norm(qname, n, p->qname, sizeof(p->qname)) != -1 &&
	    strlen(p->qname) <= 253) {
		/* RFC 1035 2.3.4: labels of 1 to 63 bytes */
		for (i = 0; p->qname[i] != '\0'; i++) {
			if ((unsigned char)p->qname[i] <= ' ' ||
			    (unsigned char)p->qname[i] >= 0x7f ||
			    p->qname[i] == '\\')
				break;
			label = p->qname[i] == '.' ? 0 : label + 1;
			if ((label == 0 && (i == 0 || p->qname[i - 1] == '.')) ||
			    label > 63)
				break;
		}
		if (p->qname[i] == '\0')
			return 0;
	}
	/* a printable copy, for the message */
	for (i = 0; i < n && i < sizeof(show) - 1; i++)
		show[i] = (unsigned char)qname[i] < ' ' ||
		    (unsigned char)qname[i] >= 0x7f ? '?' : qname[i];
	show[i] = '\0';
	say(err, errlen, show, type, "not a host name");
	return -1;
}

/*
 * A whole DNS response (len bytes of msg) to the question qname, type,
 * class IN: the records of that type at the end of qname's CNAME chain
 * into ans (dnsq_free it; no records on any return but DNSQ_OK), the
 * chain's end in ans->cname when qname is an alias (kept for DNSQ_NONAME
 * and DNSQ_NODATA), the response code in ans->rcode (-1 when the message
 * is no response). DNSQ_OK (ans->n >= 1),
 * DNSQ_NONAME (NXDOMAIN), DNSQ_NODATA (no record of the type), or
 * DNSQ_FAIL; err (on any return but DNSQ_OK) names qname and the type
 * and says what the answer said or what was wrong with it.
 */
int
dnsq_parse(const unsigned char *msg, size_t len, const char *qname,
    int type, struct dnsq_ans *ans, char *err, size_t errlen)
{
	struct pctx	 p;
	ns_rr		 rr;
	int		 rcode, mine, rc;

	memset(ans, 0, sizeof(*ans));
	ans->rcode = -1;
	if (setup(&p, qname, type, err, errlen) == -1)
		return DNSQ_FAIL;
	if (len > ANSWER_MAX || ns_initparse(msg, (int)len, &p.m) == -1) {
		say(err, errlen, p.qname, type,
		    "malformed answer from the resolver");
		return DNSQ_FAIL;
	}
	/* RFC 1035 4.1.1: QR set, OPCODE 0 (a query) */
	if ((msg[2] & 0x80) == 0 || (msg[2] & 0x78) != 0) {
		say(err, errlen, p.qname, type,
		    "the resolver's message is no answer to a query");
		return DNSQ_FAIL;
	}
	rcode = msg[3] & 0x0f;
	if (rcode != ns_r_noerror && rcode != ns_r_nxdomain) {
		ans->rcode = rcode;
		if (rcode < (int)(sizeof(rcodes) / sizeof(rcodes[0])))
			say(err, errlen, p.qname, type,
			    "the resolver answered %s", rcodes[rcode]);
		else
			say(err, errlen, p.qname, type,
			    "the resolver answered rcode %d", rcode);
		return DNSQ_FAIL;
	}
	if (ns_msg_count(p.m, ns_s_qd) != 1 ||
	    getrr(&p, ns_s_qd, 0, &rr, p.qname, type, &mine) == -1 || !mine) {
		say(err, errlen, p.qname, type,
		    "the answer is to another question");
		return DNSQ_FAIL;
	}
	ans->rcode = rcode;
	/* glibc asks again over TCP; musl 1.2.3 does not */
	if (msg[2] & 0x02) {
		say(err, errlen, p.qname, type,
		    "the answer was truncated (TC)");
		return DNSQ_FAIL;
	}
	if (chase(&p) == -1)
		return DNSQ_FAIL;
	if (strcmp(p.end, p.qname) != 0)
		memcpy(ans->cname, p.end, sizeof(ans->cname));
	if (rcode == ns_r_nxdomain) {
		/* RFC 6604 3: the rcode is that of the chain's end */
		say(err, errlen, p.qname, type, "no such name (NXDOMAIN%s%s)",
		    ans->cname[0] != '\0' ? ", for the alias target " : "",
		    ans->cname);
		return DNSQ_NONAME;
	}
	if ((rc = collect(&p, ans)) == DNSQ_FAIL)
		ans->cname[0] = '\0';
	return rc;
}

void
dnsq_free(struct dnsq_ans *ans)
{
	size_t	i;

	for (i = 0; i < ans->n; i++)
		free(ans->rr[i].data);
	free(ans->rr);
	ans->rr = NULL;
	ans->n = 0;
}

#ifdef __GLIBC__
/* glibc: a resolver state of our own (thread-safe, and its timeouts are
 * ours to set): RETRY rounds over the name servers, waiting RETRANS s
 * for the first, (RETRANS << i) / count for the i-th (send_dg); a TC
 * answer is asked again over TCP. */
static int
ask(const char *name, int type, unsigned char *buf, char *err,
    size_t errlen)
{
	struct __res_state	 rs;
	unsigned char		 q[QUERY_MAX];
	int			 qlen, n = -1;

	memset(&rs, 0, sizeof(rs));
	if (res_ninit(&rs) == -1) {
		say(err, errlen, name, type,
		    "cannot read the resolver configuration");
		return -1;
	}
	rs.retrans = RETRANS;
	rs.retry = RETRY;
	if ((qlen = res_nmkquery(&rs, ns_o_query, name, ns_c_in, type, NULL,
	    0, NULL, q, sizeof(q))) == -1)
		say(err, errlen, name, type, "not a name a query can ask");
	else if ((n = res_nsend(&rs, q, qlen, buf, ANSWER_MAX)) == -1) {
		/* ECONNREFUSED: no server answered at all (nothing
		 * listening); else each timed out or refused the query */
		if (errno == ECONNREFUSED)
			say(err, errlen, name, type, "no answer from the "
			    "resolver (connection refused: is it running?)");
		else
			say(err, errlen, name, type, "no answer from the "
			    "resolver (timed out, or it answered SERVFAIL or "
			    "REFUSED)");
	}
	res_nclose(&rs);
	return n;
}
#else
/*
 * musl: no res_n*; res_send asks every name server at once and takes
 * the first NOERROR or NXDOMAIN answer, ignoring SERVFAIL and REFUSED
 * (so those end as a timeout). Its res_mkquery refuses types above 255:
 * the query is made for A and its QTYPE (the 4 bytes before the end are
 * QTYPE, QCLASS) patched. An OPT record (RFC 6891) lets answers up to
 * EDNS_SIZE come over UDP: musl before 1.2.4 never retries over TCP.
 */
static int
ask(const char *name, int type, unsigned char *buf, char *err,
    size_t errlen)
{
	unsigned char	q[QUERY_MAX];
	int		qlen, n;

	if ((qlen = res_mkquery(ns_o_query, name, ns_c_in,
	    type > 255 ? DNSQ_T_A : type, NULL, 0, NULL, q,
	    sizeof(q) - OPT_LEN)) < 16) {
		say(err, errlen, name, type, "not a name a query can ask");
		return -1;
	}
	q[qlen - 4] = type >> 8;
	q[qlen - 3] = type & 0xff;
	memcpy(q + qlen, (const unsigned char[OPT_LEN]){ 0, 0, ns_t_opt,
	    EDNS_SIZE >> 8, EDNS_SIZE & 0xff, 0, 0, 0, 0, 0, 0 }, OPT_LEN);
	qlen += OPT_LEN;
	q[10] = 0;	/* ARCOUNT 1 */
	q[11] = 1;
	if ((n = res_send(q, qlen, buf, ANSWER_MAX)) < 0)
		say(err, errlen, name, type, "no answer from the resolver "
		    "(timed out, or it answered SERVFAIL or REFUSED)");
	return n;
}
#endif

/*
 * Ask the system resolver (/etc/resolv.conf) for name's records of type,
 * class IN, the name as it is (no search list). Returns as dnsq_parse;
 * DNSQ_FAIL too when no answer came, err saying so. Blocks: with glibc
 * at most RETRY * RETRANS s for one name server that never answers (6
 * s; 12 s for two, 18 s for three), none for one that is not there (the
 * kernel says so at once); with musl at most its resolv.conf timeout (5
 * s by default), whatever the servers do.
 */
int
dnsq_query(const char *name, int type, struct dnsq_ans *ans, char *err,
    size_t errlen)
{
	struct pctx	 p;
	unsigned char	*buf = NULL;
	int		 n, rc;

	memset(ans, 0, sizeof(*ans));
	ans->rcode = -1;
	if (setup(&p, name, type, err, errlen) == -1)
		return DNSQ_FAIL;
	if ((buf = malloc(ANSWER_MAX)) == NULL) {
		say(err, errlen, p.qname, type, "out of memory");
		return DNSQ_FAIL;
	}
	if ((n = ask(p.qname, type, buf, err, errlen)) < 0)
		rc = DNSQ_FAIL;
	else
		rc = dnsq_parse(buf, n, name, type, ans, err, errlen);
	free(buf);
	return rc;
}
