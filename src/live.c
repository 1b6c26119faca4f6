/*
 * live.c: the deployment as senders and validators see it (--check-live);
 * dnswatch.c repeats the DNS-side checks while serving.
 *
 * Each check reports lines through emit(): a level, the domain, the
 * check's name, a detail (and for txt the id DNS announces). --check-live
 * prints them as "PASS|WARN|FAIL <domain> <check>: <detail>"; the
 * watcher's child writes them to a pipe and the serving parent logs only
 * what changed.
 *
 * Everything here blocks (the resolver, connections with a timeout):
 * it runs in the --check-live process or in a child, never in the
 * serving loop.
 */
#include <sys/epoll.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "mtasts.h"

#define LIVE_TIMEOUT_MS	10000	/* per connection (the issue's 10 s) */
#define SMTP_PORT	25
#define HTTPS_PORT	443
#define MX_MAX		32	/* MX hosts looked at per domain */
#define ADDR_MAX	8	/* addresses per host name */

enum { L_PASS = LIVE_PASS, L_WARN = LIVE_WARN, L_FAIL = LIVE_FAIL };
static const char *const level_names[] = { "PASS", "WARN", "FAIL" };

struct live {
	const struct conf	*c;
	struct fetch		*f;	/* NULL: no ca_bundle (or watching) */
	const struct history	*h;
	time_t			 now;
	int			 smtp;	/* --no-smtp clears it */
	int			 dns_only;	/* the watcher's subset */
	int			 fails;
	live_emit		*emit;
	void			*arg;
};

/* One MX host of a domain, and what DNS says of it. */
struct mxh {
	char	 name[256];
	int	 pref;
};

static void
say(struct live *l, int level, const char *domain, const char *check,
    const char *extra, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void
say(struct live *l, int level, const char *domain, const char *check,
    const char *extra, const char *fmt, ...)
{
	char	 detail[2048], *p;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	/* one line, printable ASCII: details quote what peers sent */
	for (p = detail; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
			*p = '?';
	if (level == L_FAIL)
		l->fails++;
	l->emit(l->arg, level, domain, check, extra != NULL ? extra : "",
	    detail);
}

/* Append to the text in buf (cap bytes in all), cut short if need be. */
static void
append(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
append(char *buf, size_t cap, const char *fmt, ...)
{
	size_t	have = strlen(buf);
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf + have, cap - have, fmt, ap);
	va_end(ap);
}

static void
when(time_t t, char *buf, size_t len)
{
	struct tm	tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
}

/* Whether id is one this server served for domain (the history). */
static const struct hist *
served_earlier(const struct live *l, const char *domain, const char *id)
{
	size_t	i;

	for (i = 0; i < l->h->n; i++)
		if (strcmp(l->h->e[i].domain, domain) == 0 &&
		    strcmp(l->h->e[i].id, id) == 0)
			return &l->h->e[i];
	return NULL;
}

/* How many of a's TXT records start with v (RFC 8461 3.1, RFC 8460 3:
 * senders discard the others); *which the last of them. */
static size_t
versioned(const struct dnsq_ans *a, const char *v, size_t *which)
{
	size_t	i, n = 0, vl = strlen(v);

	for (i = 0; i < a->n; i++)
		if (a->rr[i].len >= vl && memcmp(a->rr[i].data, v, vl) == 0) {
			n++;
			*which = i;
		}
	return n;
}

/* txt: exactly one v=STSv1 record, well formed, with the id served. */
static void
check_txt(struct live *l, const struct conf_domain *d, const char *id)
{
	struct dnsq_ans	 a;
	char		 name[300], err[512], dns_id[ID_MAX + 1], *rec;
	const char	*C = d->name;
	size_t		 n, which = 0;
	int		 rc;

	if ((rec = dns_sts_record(d->name, id)) == NULL)
		return;
	snprintf(name, sizeof(name), "_mta-sts.%s", d->name);
	rc = dnsq_query(name, DNSQ_T_TXT, &a, err, sizeof(err));
	if (rc == DNSQ_FAIL) {
		say(l, L_FAIL, C, "txt", NULL, "%s", err);
		goto out;
	}
	n = versioned(&a, "v=STSv1;", &which);
	if (n == 0)
		say(l, L_FAIL, C, "txt", NULL, "no v=STSv1 record at %s; "
		    "publish: %s", name, rec);
	else if (n > 1)
		say(l, L_FAIL, C, "txt", "+", "%zu v=STSv1 records at %s "
		    "(senders then use no policy); keep one: %s", n, name,
		    rec);
	else if (dns_sts_parse(a.rr[which].data, a.rr[which].len, dns_id,
	    err, sizeof(err)) == -1)
		say(l, L_FAIL, C, "txt", NULL, "the record at %s is not valid "
		    "(RFC 8461 3.1): %s; publish: %s", name, err, rec);
	else if (strcmp(dns_id, id) != 0)
		say(l, L_FAIL, C, "txt", dns_id, "DNS announces id %s, this "
		    "server serves %s%s; publish: %s", dns_id, id,
		    served_earlier(l, d->name, dns_id) != NULL ?
		    " (served here earlier)" : "", rec);
	else
		say(l, L_PASS, C, "txt", dns_id, "announces id %s, as served",
		    id);
	if (a.n > 0 || rc == DNSQ_OK)
		dnsq_free(&a);
out:
	free(rec);
}

/* The A and AAAA addresses of host (at most max): how many; 0 if it has
 * none, -1 if neither question was answered (a failure is said). */
static int
addresses(struct live *l, const char *domain, const char *check,
    const char *host, char addr[][64], size_t max)
{
	static const int types[] = { DNSQ_T_A, DNSQ_T_AAAA };
	struct dnsq_ans	 a;
	char		 err[512];
	size_t		 i, t, n = 0;
	int		 rc, failed = 0;

	for (t = 0; t < 2; t++) {
		rc = dnsq_query(host, types[t], &a, err, sizeof(err));
		if (rc == DNSQ_FAIL) {
			/* said; the addresses found are still checked */
			say(l, L_FAIL, domain, check, NULL, "%s", err);
			failed = 1;
			continue;
		}
		if (rc != DNSQ_OK)
			continue;
		for (i = 0; i < a.n && n < max; i++)
			snprintf(addr[n++], 64, "%s", a.rr[i].data);
		dnsq_free(&a);
	}
	return n == 0 && failed ? -1 : (int)n;
}

/* The first line where a and b differ, for the message. */
static void
first_diff(const char *a, size_t al, const char *b, size_t bl, char *out,
    size_t len)
{
	size_t	i, line = 1, start = 0, e;

	for (i = 0; i < al && i < bl && a[i] == b[i]; i++)
		if (a[i] == '\n') {
			line++;
			start = i + 1;
		}
	for (e = start; e < bl && b[e] != '\r' && b[e] != '\n'; e++)
		;
	snprintf(out, len, "line %zu: '%.*s'", line,
	    (int)(e - start > 80 ? 80 : e - start), b + start);
}

/* host: every address of mta-sts.<domain> serves our policy. */
static void
check_host(struct live *l, const struct conf_domain *d, const char *policy,
    size_t plen)
{
	struct fetch_resp	 r;
	char			 host[300], url[400], addr[ADDR_MAX][64];
	char			 err[1024], diff[200];
	const char		*C = d->name;
	int			 n, i;

	snprintf(host, sizeof(host), "mta-sts.%s", d->name);
	snprintf(url, sizeof(url), "https://%s%s", host, POLICY_PATH);
	if ((n = addresses(l, C, "host", host, addr, ADDR_MAX)) <= 0) {
		if (n == 0)
			say(l, L_FAIL, C, "host", NULL, "%s does not resolve "
			    "(no A or AAAA record): senders cannot fetch the "
			    "policy", host);
		return;
	}
	if (l->f == NULL) {
		say(l, L_FAIL, C, "host", NULL, "no ca_bundle to verify "
		    "%s's certificate with", host);
		return;
	}
	for (i = 0; i < n; i++) {
		if (fetch_at(l->f, addr[i], "GET", url, NULL, NULL, NULL, 0,
		    LIVE_TIMEOUT_MS, &r, err, sizeof(err)) == -1) {
			say(l, L_FAIL, C, "host", NULL, "%s [%s]: %s", host,
			    addr[i], err);
			continue;
		}
		if (r.status >= 300 && r.status < 400)
			say(l, L_FAIL, C, "host", NULL, "%s [%s]: answers %d, "
			    "a redirect to '%.200s': senders do not follow "
			    "redirects (RFC 8461 3.3)", host, addr[i],
			    r.status, r.location);
		else if (r.status != 200)
			say(l, L_FAIL, C, "host", NULL, "%s [%s]: answers %d, "
			    "not 200", host, addr[i], r.status);
		else if (strcmp(r.content_type, "text/plain") != 0)
			say(l, L_FAIL, C, "host", NULL, "%s [%s]: Content-Type "
			    "is '%s', not text/plain", host, addr[i],
			    r.content_type);
		else if (r.body_len != plen ||
		    memcmp(r.body, policy, plen) != 0) {
			first_diff(policy, plen, r.body, r.body_len, diff,
			    sizeof(diff));
			say(l, L_FAIL, C, "host", NULL, "%s [%s]: the body "
			    "differs from the policy this server renders (%zu "
			    "bytes, %zu expected; first difference at %s): "
			    "another server answers for the name?", host,
			    addr[i], r.body_len, plen, diff);
		} else
			say(l, L_PASS, C, "host", NULL, "%s [%s]: %s, "
			    "certificate valid, policy as served", host,
			    addr[i], r.tls);
		fetch_resp_free(&r);
	}
}

static int
pref_cmp(const void *a, const void *b)
{
	const struct mxh	*x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return strcmp(x->name, y->name);
}

/*
 * The MX hosts of the domain, by preference: the count; 0 with none
 * (said), -1 on a DNS failure (said), -2 for a null MX (said).
 */
static int
mx_hosts(struct live *l, const struct conf_domain *d, struct mxh *mx)
{
	struct dnsq_ans	 a;
	char		 err[512];
	size_t		 i, n = 0;
	int		 rc;

	rc = dnsq_query(d->name, DNSQ_T_MX, &a, err, sizeof(err));
	if (rc == DNSQ_FAIL) {
		say(l, L_FAIL, d->name, "mx", NULL, "%s", err);
		return -1;
	}
	if (rc != DNSQ_OK) {
		say(l, d->mode == MODE_NONE ? L_PASS : L_WARN, d->name, "mx",
		    NULL, "%s has no MX record: senders deliver to its "
		    "address records, which MTA-STS does not cover", d->name);
		return 0;
	}
	for (i = 0; i < a.n && n < MX_MAX; i++) {
		if (a.rr[i].data[0] == '\0') {
			say(l, d->mode == MODE_NONE ? L_PASS : L_WARN, d->name,
			    "mx", NULL, "null MX (RFC 7505): %s accepts no "
			    "mail; mode none is the policy for it", d->name);
			dnsq_free(&a);
			return -2;
		}
		snprintf(mx[n].name, sizeof(mx[n].name), "%s", a.rr[i].data);
		mx[n++].pref = a.rr[i].pref;
	}
	dnsq_free(&a);
	qsort(mx, n, sizeof(*mx), pref_cmp);
	return (int)n;
}

/* mx: every MX host matched by a pattern, every pattern used. */
static void
check_mx(struct live *l, const struct conf_domain *d, const struct mxh *mx,
    int n)
{
	struct dnsq_ans	 a;
	char		 err[512], list[1024] = "";
	const char	*C = d->name;
	size_t		 j;
	int		 i, bad = 0, hit;

	for (i = 0; i < n; i++) {
		/* RFC 5321 5.1: an MX names a host, not an alias */
		if (dnsq_query(mx[i].name, DNSQ_T_A, &a, err, sizeof(err)) ==
		    DNSQ_OK) {
			if (a.cname[0] != '\0') {
				say(l, L_WARN, C, "mx", NULL, "MX host %s is an "
				    "alias (CNAME) of %s: RFC 5321 5.1 wants "
				    "the host's own name, and senders match "
				    "the MX name against the policy",
				    mx[i].name, a.cname);
				bad = 1;
			}
			dnsq_free(&a);
		}
		if (d->mode == MODE_NONE)
			continue;
		append(list, sizeof(list), "%s%s", i > 0 ? ", " : "",
		    mx[i].name);
		for (hit = 0, j = 0; j < d->nmx && !hit; j++)
			hit = policy_wildcard_match(d->mx[j], mx[i].name);
		if (!hit) {
			bad = 1;
			say(l, d->mode == MODE_ENFORCE ? L_FAIL : L_WARN, C,
			    "mx", NULL, "MX host %s is not matched by the "
			    "policy (%s): %s; add 'mx %s' to the domain or "
			    "change the MX record", mx[i].name,
			    policy_mode_name(d->mode), d->mode ==
			    MODE_ENFORCE ? "senders will not deliver to it" :
			    "it would fail under enforce", mx[i].name);
		}
	}
	if (d->mode == MODE_NONE) {
		if (!bad)
			say(l, L_PASS, C, "mx", NULL, "mode none: MX hosts "
			    "need no match");
		return;
	}
	for (j = 0; j < d->nmx; j++) {
		for (hit = 0, i = 0; i < n && !hit; i++)
			hit = policy_wildcard_match(d->mx[j], mx[i].name);
		if (!hit) {
			bad = 1;
			say(l, L_WARN, C, "mx", NULL, "pattern %s matches no MX "
			    "host", d->mx[j]);
		}
	}
	if (!bad)
		say(l, L_PASS, C, "mx", NULL, "every MX host matches the "
		    "policy: %s", list);
}

/* The name to greet MX hosts with. */
static void
ehlo_name(const struct conf_domain *d, char *buf, size_t len)
{
	if (gethostname(buf, len) == -1 || strchr(buf, '.') == NULL)
		snprintf(buf, len, "mta-sts.%s", d->name);
}

/* smtp: each MX host's addresses offer STARTTLS with a valid cert. */
static void
check_smtp(struct live *l, const struct conf_domain *d, const struct mxh *mx,
    int n)
{
	char	 addr[ADDR_MAX][64], detail[1024], ehlo[256];
	int	 i, j, na, bad = d->mode == MODE_ENFORCE ? L_FAIL : L_WARN;

	if (d->mode == MODE_NONE)
		return;
	ehlo_name(d, ehlo, sizeof(ehlo));
	for (i = 0; i < n; i++) {
		if ((na = addresses(l, d->name, "smtp", mx[i].name, addr,
		    ADDR_MAX)) == 0)
			say(l, bad, d->name, "smtp", NULL, "%s: no A or AAAA "
			    "record", mx[i].name);
		if (na > 0 && l->f == NULL) {
			say(l, bad, d->name, "smtp", NULL, "no ca_bundle to "
			    "verify %s's certificate with", mx[i].name);
			continue;
		}
		for (j = 0; j < na; j++) {
			if (smtp_probe(l->f, mx[i].name, addr[j], SMTP_PORT,
			    ehlo, LIVE_TIMEOUT_MS, detail, sizeof(detail)) ==
			    0)
				say(l, L_PASS, d->name, "smtp", NULL,
				    "%s [%s]: %s", mx[i].name, addr[j],
				    detail);
			else
				say(l, bad, d->name, "smtp", NULL, "%s [%s]: %s",
				    mx[i].name, addr[j], detail);
		}
	}
}

/* Two rua values compared as URI lists: white space around the commas
 * does not count (RFC 8460 3). */
static int
rua_cmp(const char *a, const char *b)
{
	for (;;) {
		while (*a == ' ' || *a == '\t')
			a++;
		while (*b == ' ' || *b == '\t')
			b++;
		if (*a != *b)
			return 1;
		if (*a == '\0')
			return 0;
		a++;
		b++;
	}
}

/* tlsrpt: _smtp._tls.<domain> announces exactly the configured rua. */
static void
check_tlsrpt(struct live *l, const struct conf_domain *d)
{
	struct dnsq_ans	 a;
	char		 name[300], err[512], rua[1024], want[1100];
	const char	*C = d->name;
	size_t		 n, which = 0;
	int		 rc;

	if (d->rua == NULL)
		return;
	snprintf(name, sizeof(name), "_smtp._tls.%s", d->name);
	snprintf(want, sizeof(want), "%s. IN TXT \"v=TLSRPTv1; rua=%s\"",
	    name, d->rua);
	rc = dnsq_query(name, DNSQ_T_TXT, &a, err, sizeof(err));
	if (rc == DNSQ_FAIL) {
		say(l, L_FAIL, C, "tlsrpt", NULL, "%s", err);
		return;
	}
	n = versioned(&a, "v=TLSRPTv1;", &which);
	if (n == 0)
		say(l, L_FAIL, C, "tlsrpt", NULL, "no v=TLSRPTv1 record at %s; "
		    "publish: %s", name, want);
	else if (n > 1)
		say(l, L_FAIL, C, "tlsrpt", NULL, "%zu v=TLSRPTv1 records at "
		    "%s (reporters then send none); keep one: %s", n, name,
		    want);
	else if (dns_tlsrpt_parse(a.rr[which].data, a.rr[which].len, rua,
	    sizeof(rua), err, sizeof(err)) == -1)
		say(l, L_FAIL, C, "tlsrpt", NULL, "the record at %s is not "
		    "valid (RFC 8460 3): %s; publish: %s", name, err, want);
	else if (rua_cmp(rua, d->rua) != 0)
		say(l, L_FAIL, C, "tlsrpt", NULL, "%s announces rua=%s, the "
		    "config says %s; publish: %s", name, rua, d->rua, want);
	else
		say(l, L_PASS, C, "tlsrpt", NULL, "%s announces rua=%s", name,
		    rua);
	if (rc == DNSQ_OK)
		dnsq_free(&a);
}

/*
 * caa: the CAA set that applies to mta-sts.<domain> (RFC 8659 3: the
 * first of the name and its parents that has one) allows the CA whose
 * directory is acme_directory (its meta.caaIdentities).
 */
static void
check_caa(struct live *l, const struct conf_domain *d)
{
	struct fetch_resp	 r;
	struct acme_msg		 m;
	struct dnsq_ans		 a;
	char			 name[300], err[1024], allowed[512] = "";
	const char		*C = d->name, *p, *v, *critical = NULL;
	size_t			 i, j, vl;
	int			 rc, issue = 0, ok = 0;

	if (!d->acme || l->c->acme_directory == NULL)
		return;
	if (l->f == NULL) {
		say(l, L_FAIL, C, "caa", NULL, "no ca_bundle to reach the "
		    "ACME directory with");
		return;
	}
	if (fetch(l->f, "GET", l->c->acme_directory, NULL, NULL, NULL, 0,
	    LIVE_TIMEOUT_MS, &r, err, sizeof(err)) == -1) {
		say(l, L_WARN, C, "caa", NULL, "the ACME directory: %s", err);
		return;
	}
	rc = r.status == 200 ? acme_msg_parse(ACME_DIRECTORY, r.body,
	    r.body_len, &m, err, sizeof(err)) : -1;
	if (r.status != 200)
		snprintf(err, sizeof(err), "answers %d", r.status);
	fetch_resp_free(&r);
	if (rc == -1) {
		say(l, L_WARN, C, "caa", NULL, "the ACME directory %s: %s",
		    l->c->acme_directory, err);
		return;
	}
	snprintf(name, sizeof(name), "mta-sts.%s", d->name);
	/* RFC 8659 3: the name, then each parent up to the TLD */
	for (p = name; p != NULL; p = (p = strchr(p, '.')) != NULL ? p + 1 :
	    NULL) {
		rc = dnsq_query(p, DNSQ_T_CAA, &a, err, sizeof(err));
		if (rc == DNSQ_FAIL) {
			say(l, L_WARN, C, "caa", NULL, "%s", err);
			goto out;
		}
		if (rc == DNSQ_OK && a.n > 0)
			break;
		if (rc == DNSQ_OK)
			dnsq_free(&a);
	}
	if (p == NULL) {
		say(l, L_PASS, C, "caa", NULL, "no CAA record applies to %s: "
		    "any CA may issue", name);
		goto out;
	}
	for (i = 0; i < a.n; i++) {
		/* RFC 8659 4.1: an unknown tag marked critical forbids */
		if ((a.rr[i].pref & 128) && strcmp(a.rr[i].tag, "issue") != 0 &&
		    strcmp(a.rr[i].tag, "issuewild") != 0 &&
		    strcmp(a.rr[i].tag, "iodef") != 0)
			critical = a.rr[i].tag;
		if (strcmp(a.rr[i].tag, "issue") != 0)
			continue;
		issue = 1;
		/* issue-value = *WSP [issuer-domain-name *WSP] [";" ...] */
		for (v = a.rr[i].data; *v == ' ' || *v == '\t'; v++)
			;
		vl = strcspn(v, "; \t");
		if (vl == 0)	/* issue ";": no CA may */
			append(allowed, sizeof(allowed), "%sno CA (';')",
			    allowed[0] ? ", " : "");
		else
			append(allowed, sizeof(allowed), "%s'%.*s'",
			    allowed[0] ? ", " : "", (int)vl, v);
		for (j = 0; j < m.ncaa; j++)
			if (strlen(m.caa[j]) == vl &&
			    strncasecmp(v, m.caa[j], vl) == 0)
				ok = 1;
	}
	if (critical != NULL)
		say(l, L_FAIL, C, "caa", NULL, "the CAA records at %s hold the "
		    "tag '%s' marked critical, which no CA knows: none may "
		    "issue (RFC 8659 4.1)", p, critical);
	else if (!issue)
		say(l, L_PASS, C, "caa", NULL, "the CAA records at %s restrict "
		    "no issuer", p);
	else if (ok)
		say(l, L_PASS, C, "caa", NULL, "the CAA records at %s allow the "
		    "CA (%s)", p, allowed);
	else if (m.ncaa == 0)
		say(l, L_WARN, C, "caa", NULL, "the CAA records at %s allow "
		    "only %s, and the CA's directory names no caaIdentities "
		    "to compare with", p, allowed);
	else
		say(l, L_FAIL, C, "caa", NULL, "the CAA records at %s allow "
		    "only %s, not the CA in use: add: %s. IN CAA 0 issue "
		    "\"%s\"", p, allowed, p, m.caa[0]);
	dnsq_free(&a);
out:
	acme_msg_free(&m);
}

/*
 * cached: every MX host matched by every earlier enforce policy that
 * senders may still hold (the history: until its last serving plus its
 * max_age).
 */
static void
check_cached(struct live *l, const struct conf_domain *d, const char *id,
    const struct mxh *mx, int n)
{
	struct policy_facts	 f;
	const struct hist	*e;
	char			 t[40], ids[512] = "";
	time_t			 until;
	size_t			 i;
	int			 j, held = 0, bad = 0;

	for (i = 0; i < l->h->n; i++) {
		e = &l->h->e[i];
		if (strcmp(e->domain, d->name) != 0 || strcmp(e->id, id) == 0 ||
		    (until = history_until(e, l->now)) <= l->now ||
		    policy_facts(e->text, e->len, &f) == -1)
			continue;
		if (f.mode == MODE_ENFORCE) {
			held++;
			when(until, t, sizeof(t));
			append(ids, sizeof(ids), "%s%s until %s", ids[0] ?
			    ", " : "", e->id, t);
			for (j = 0; j < n; j++)
				if (!policy_matches(&f, mx[j].name)) {
					bad = 1;
					say(l, L_FAIL, d->name, "cached", NULL,
					    "MX host %s is not matched by policy "
					    "id %s (enforce), which senders may "
					    "hold until %s: mail from them to %s "
					    "fails until then; keep an MX host "
					    "that policy matches (mx %s) until "
					    "then", mx[j].name, e->id, t,
					    mx[j].name, f.nmx > 0 ? f.mx[0] :
					    "-");
				}
		}
		policy_facts_free(&f);
	}
	if (bad)
		return;
	if (held == 0)
		say(l, L_PASS, d->name, "cached", NULL, "no earlier enforce "
		    "policy may still be cached");
	else if (n == 0)
		say(l, L_PASS, d->name, "cached", NULL, "no MX host to match "
		    "against the earlier enforce policies senders may hold "
		    "(%s)", ids);
	else
		say(l, L_PASS, d->name, "cached", NULL, "every MX host matches "
		    "the earlier enforce policies senders may hold (%s)", ids);
}

static void
check_domain(struct live *l, const struct conf_domain *d, const char *id)
{
	struct mxh	 mx[MX_MAX];
	char		*policy = NULL;
	size_t		 plen;
	int		 n;

	check_txt(l, d, id);
	if (!l->dns_only && policy_render(d, &policy, &plen) == 0)
		check_host(l, d, policy, plen);
	free(policy);
	n = mx_hosts(l, d, mx);
	if (n > 0)
		check_mx(l, d, mx, n);
	if (!l->dns_only && l->smtp && n > 0)
		check_smtp(l, d, mx, n);
	check_tlsrpt(l, d);
	if (!l->dns_only)
		check_caa(l, d);
	if (n >= 0)
		check_cached(l, d, id, mx, n);
}

/*
 * The checks of c's domain i whose served id is id, each result through
 * emit(arg, ...): all of them, or with LIVE_DNS only the DNS-side ones
 * (txt, mx, tlsrpt, cached: the watcher's), without LIVE_SMTP not smtp.
 * h: the policy history; f: the trust for outgoing TLS (NULL: none).
 * Returns the number of FAILs.
 */
int
live_domain(const struct conf *c, size_t i, const char *id,
    const struct history *h, struct fetch *f, int what, live_emit *emit,
    void *arg)
{
	struct live	l;

	memset(&l, 0, sizeof(l));
	l.c = c;
	l.f = f;
	l.h = h;
	l.now = time(NULL);
	l.smtp = (what & LIVE_SMTP) != 0;
	l.dns_only = (what & LIVE_DNS) != 0;
	l.emit = emit;
	l.arg = arg;
	check_domain(&l, &c->domains[i], id);
	return l.fails;
}

static void
print_line(void *arg, int level, const char *domain, const char *check,
    const char *extra, const char *detail)
{
	(void)arg;
	(void)extra;
	printf("%s %s %s: %s\n", level_names[level], domain, check, detail);
	fflush(stdout);
}

/*
 * --check-live: c's domains i with want[i] set, each with its id ids[i].
 * Returns 0 when nothing FAILed, else 1.
 */
int
live_check(const struct conf *c, char *const *ids, const int *want,
    int smtp)
{
	struct history	 h;
	struct fetch	*f = NULL;
	struct diag	 d = { 0 };
	const char	*bundle;
	char		 err[1024];
	size_t		 i;
	int		 fails = 0;

	/* the same default as ACME's */
	bundle = c->ca_bundle != NULL ? c->ca_bundle : X509_DEFAULT_BUNDLE;
	if ((f = fetch_new(bundle, err, sizeof(err))) == NULL)
		fprintf(stderr, "warning: ca_bundle %s: %s\n", bundle, err);
	history_load(c->state_dir, &h, &d);
	for (i = 0; i < d.n; i++)
		fprintf(stderr, "warning: %s\n", d.msg[i]);
	diag_free(&d);
	for (i = 0; i < c->ndomains; i++)
		if (want[i])
			fails += live_domain(c, i, ids[i], &h, f,
			    smtp ? LIVE_SMTP : 0, print_line, NULL);
	history_free(&h);
	if (f != NULL)
		fetch_free(f);
	return fails > 0 ? 1 : 0;
}
