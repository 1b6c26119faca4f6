/*
 * report.c: --report, what TLS reports (RFC 8460) say: read from files
 * and directories (.json, .json.gz, mail messages and mbox files with
 * the report attached: mime.c), each report once (by report-id), summed
 * per policy domain, printed as text or one JSON document; and for a
 * domain the config has in mode testing, whether the sessions reported
 * would have failed under enforce.
 *
 * Data flows one way: files -> reports (tlsrpt.c) -> struct dom per
 * policy domain -> the output. Nothing here runs in the server.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "compat.h"
#include "mtasts.h"

#define FILE_MAX	(64 * 1024 * 1024)	/* one file, an mbox too */
#define DEPTH_MAX	4	/* directories below the one named */
#define KEYS_MAX	10000	/* distinct names counted per list */
#define SHOW_MAX	10	/* names printed per list in text */

/* Names with a count each: result types, hosts, addresses. */
struct count {
	char		*key;
	long long	 n;
};
struct counts {
	struct count	*c;
	size_t		 n;
	long long	 other;	/* past KEYS_MAX distinct names */
	size_t		*idx;	/* open addressing: 1 + index in c; 0 free */
	size_t		 icap;	/* a power of two, over twice n */
};

struct org {
	char		*name;
	long long	 reports, success, failure;
	struct counts	 results;
};

/* All reports say about one policy domain. */
struct dom {
	char		*name;
	const struct conf_domain *conf;	/* NULL: not configured */
	long long	 reports, success, failure;
	time_t		 start, end;
	struct counts	 results, mx, rip, smta;
	struct org	*org;
	size_t		 norg;
	/* Readiness: sessions that enforce would have failed, and where. */
	long long	 would_fail;
	struct counts	 fail_why;	/* "<result-type> at <mx>" */
	struct counts	 fail_orgs;
	struct counts	 this_server;	/* result types pointing here */
	struct counts	 all_orgs;	/* reporters, for "from N" */
};

struct run {
	const struct conf *conf;
	struct dom	*dom;
	size_t		 ndom;
	struct hmap	 ids;		/* report-id -> 1 + index in seen */
	struct seen {
		char		*id;
		unsigned char	 h[32];	/* SHA-256 of its JSON */
		char		*where;	/* where it was first found */
	}		*seen;
	size_t		 nids;
	long long	 reports, dups, skipped, conflicts;
	int		 bad;		/* unreadable input seen */
	const char	*file;		/* being read */
	size_t		 found;		/* reports in it */
	cJSON		*errors;	/* for --format json */
	int		 json;
};

/* a + b, saturating: tlsrpt.c caps each count at LLONG_MAX / 2. */
static long long
sat(long long a, long long b)
{
	return a > LLONG_MAX - b ? LLONG_MAX : a + b;
}

static size_t
key_hash(const char *key)
{
	size_t	h = 2166136261u;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h;
}

/* Room for one more name in the index. 0, or -1 (memory). */
static int
counts_grow(struct counts *cs)
{
	size_t	*ni, cap, i, k;

	if (2 * (cs->n + 1) < cs->icap)
		return 0;
	cap = cs->icap == 0 ? 64 : 2 * cs->icap;
	if ((ni = calloc(cap, sizeof(*ni))) == NULL)
		return -1;
	for (i = 0; i < cs->n; i++) {
		for (k = key_hash(cs->c[i].key) & (cap - 1); ni[k] != 0;
		    k = (k + 1) & (cap - 1))
			;
		ni[k] = i + 1;
	}
	free(cs->idx);
	cs->idx = ni;
	cs->icap = cap;
	return 0;
}

/* n more sessions for key; past KEYS_MAX names, under "other". */
static void
count_add(struct counts *cs, const char *key, long long n)
{
	struct count	*nc;
	size_t		 k = 0;

	if (cs->icap > 0)
		for (k = key_hash(key) & (cs->icap - 1); cs->idx[k] != 0;
		    k = (k + 1) & (cs->icap - 1))
			if (strcmp(cs->c[cs->idx[k] - 1].key, key) == 0) {
				cs->c[cs->idx[k] - 1].n =
				    sat(cs->c[cs->idx[k] - 1].n, n);
				return;
			}
	if (cs->n == KEYS_MAX || counts_grow(cs) == -1 ||
	    (nc = realloc(cs->c, (cs->n + 1) * sizeof(*nc))) == NULL) {
		cs->other = sat(cs->other, n);
		return;
	}
	cs->c = nc;
	if ((cs->c[cs->n].key = strdup(key)) == NULL) {
		cs->other = sat(cs->other, n);
		return;
	}
	cs->c[cs->n].n = n;
	for (k = key_hash(key) & (cs->icap - 1); cs->idx[k] != 0;
	    k = (k + 1) & (cs->icap - 1))
		;
	cs->idx[k] = ++cs->n;
}

static void
counts_free(struct counts *cs)
{
	size_t	i;

	for (i = 0; i < cs->n; i++)
		free(cs->c[i].key);
	free(cs->c);
	free(cs->idx);
}

/* Largest count first, then by name: the same output every run. */
static int
count_cmp(const void *a, const void *b)
{
	const struct count	*x = a, *y = b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* For the output: the index is of no use after (nothing is added). */
static void
counts_sort(struct counts *cs)
{
	if (cs->n > 1)
		qsort(cs->c, cs->n, sizeof(*cs->c), count_cmp);
	free(cs->idx);
	cs->idx = NULL;
	cs->icap = 0;
}

static int
dom_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dom *)a)->name,
	    ((const struct dom *)b)->name);
}

static int
org_cmp(const void *a, const void *b)
{
	return strcmp(((const struct org *)a)->name,
	    ((const struct org *)b)->name);
}

static void
problem(struct run *r, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Input that cannot be read: said on stderr (and in the JSON). */
static void
problem(struct run *r, const char *where, const char *fmt, ...)
{
	va_list	ap;
	char	msg[1024];
	cJSON	*e;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "error: %s: %s\n", where, msg);
	r->bad = 1;
	if (r->errors != NULL && (e = cJSON_CreateObject()) != NULL) {
		cJSON_AddStringToObject(e, "file", where);
		cJSON_AddStringToObject(e, "error", msg);
		cJSON_AddItemToArray(r->errors, e);
	}
}

static struct dom *
dom_get(struct run *r, const char *name)
{
	struct dom	*nd, *d;
	size_t		 i;

	for (i = 0; i < r->ndom; i++)
		if (strcmp(r->dom[i].name, name) == 0)
			return &r->dom[i];
	if ((nd = realloc(r->dom, (r->ndom + 1) * sizeof(*nd))) == NULL)
		return NULL;
	r->dom = nd;
	d = &r->dom[r->ndom];
	memset(d, 0, sizeof(*d));
	if ((d->name = strdup(name)) == NULL)
		return NULL;
	r->ndom++;
	if (r->conf != NULL)
		d->conf = conf_find_domain(r->conf, name);
	return d;
}

static struct org *
org_get(struct dom *d, const char *name)
{
	struct org	*no;
	size_t		 i;

	for (i = 0; i < d->norg; i++)
		if (strcmp(d->org[i].name, name) == 0)
			return &d->org[i];
	if ((no = realloc(d->org, (d->norg + 1) * sizeof(*no))) == NULL)
		return NULL;
	d->org = no;
	memset(&d->org[d->norg], 0, sizeof(*no));
	if ((d->org[d->norg].name = strdup(name)) == NULL)
		return NULL;
	return &d->org[d->norg++];
}

/* Result types that say the policy host (this server) failed senders. */
static const char *
cause_here(const char *result)
{
	if (strcmp(result, "sts-policy-fetch-error") == 0)
		return "senders could not fetch the policy: the policy host "
		    "did not answer, its certificate did not verify, or it "
		    "answered other than 200 (mtasts-httpd --check-live "
		    "shows which)";
	if (strcmp(result, "sts-policy-invalid") == 0)
		return "the policy senders fetched did not parse: another "
		    "server or a proxy answering for the policy host?";
	if (strcmp(result, "sts-webpki-invalid") == 0)
		return "the policy host's certificate did not validate: "
		    "expired, another name, or the chain incomplete (serve "
		    "the full chain)";
	return NULL;
}

/* What a failure at an MX says to fix, for the readiness lines. */
static const char *
mx_hint(const char *result)
{
	static const struct {
		const char	*result, *hint;
	} hints[] = {
		{ "starttls-not-supported", ": it did not offer STARTTLS" },
		{ "certificate-host-mismatch", ": its certificate does not "
		    "name it" },
		{ "certificate-expired", ": its certificate had expired" },
		{ "certificate-not-trusted", ": its certificate does not "
		    "chain to a public CA (or the chain is incomplete)" },
		{ "validation-failure", ": its TLS failed (see the "
		    "failure-reason-code)" },
	};
	size_t	i;

	for (i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
		if (strcmp(hints[i].result, result) == 0)
			return hints[i].hint;
	return "";
}

/*
 * A session that failed this way delivers under testing and is refused
 * under enforce: the MX's TLS or certificate, or (any type) an MX host
 * the configured policy does not match. The policy host's own failures
 * are not: a sender without a policy sends as before.
 */
static int
fails_enforce(const struct conf_domain *cd, const struct tlsrpt_detail *t,
    char *why, size_t cap)
{
	size_t	i;
	int	match = 0;

	if (t->mx[0] != '\0') {
		for (i = 0; i < cd->nmx; i++)
			if (policy_wildcard_match(cd->mx[i], t->mx))
				match = 1;
		if (!match) {
			snprintf(why, cap, "%s at %s: no 'mx' line matches "
			    "it (add 'mx %s')", t->result, t->mx, t->mx);
			return 1;
		}
	}
	if (cause_here(t->result) != NULL)
		return 0;
	snprintf(why, cap, "%s at %s%s", t->result, t->mx[0] != '\0' ?
	    t->mx : "(MX not given)", mx_hint(t->result));
	return 1;
}

/* id (of a report whose JSON hashes to h, found at where) as seen. */
static int
remember(struct run *r, const char *id, const unsigned char h[32],
    const char *where)
{
	struct seen	*ns;
	size_t		 i;

	if ((ns = realloc(r->seen, (r->nids + 1) * sizeof(*ns))) == NULL)
		return -1;
	r->seen = ns;
	ns = &r->seen[r->nids];
	if ((ns->id = strdup(id)) == NULL ||
	    (ns->where = strdup(where)) == NULL) {
		free(ns->id);
		return -1;
	}
	memcpy(ns->h, h, sizeof(ns->h));
	r->nids++;
	/* The map does not grow by itself: past half full, a bigger one. */
	if (2 * r->nids > r->ids.cap) {
		hmap_free(&r->ids);
		if (hmap_init(&r->ids, 2 * r->nids, 1) == -1)
			return -1;
		for (i = 0; i + 1 < r->nids; i++)
			hmap_put(&r->ids, r->seen[i].id,
			    (void *)(uintptr_t)(i + 1));
	}
	/* hmap_put keeps the key pointer: it lives in seen[]. */
	hmap_put(&r->ids, ns->id, (void *)(uintptr_t)r->nids);
	return 0;
}

/*
 * One report (its JSON hashing to h), taken into the sums unless the
 * same one was seen.
 */
static void
take_report(struct run *r, const struct tlsrpt *t, const unsigned char h[32],
    const char *where)
{
	const struct tlsrpt_policy	*p;
	const struct tlsrpt_detail	*x;
	const char			*org = t->org[0] != '\0' ? t->org :
					    "(no organization-name)";
	struct dom			*d;
	struct org			*o;
	struct seen			*sn;
	void				*v;
	char				 why[600];
	long long			 detailed;
	size_t				 i, j;

	if ((v = hmap_get(&r->ids, t->id, strlen(t->id))) != NULL) {
		sn = &r->seen[(uintptr_t)v - 1];
		if (memcmp(sn->h, h, sizeof(sn->h)) == 0) {
			r->dups++;
			return;
		}
		/*
		 * The same id, other contents: a forgery sent first must not
		 * hide the real one, so both count, and it is said.
		 */
		fprintf(stderr, "warning: %s: report-id %s was found before "
		    "with other contents (%s): both are counted\n", where,
		    t->id, sn->where);
		r->conflicts++;
	} else if (remember(r, t->id, h, where) == -1) {
		problem(r, where, "out of memory");
		return;
	}
	r->reports++;
	r->found++;
	for (i = 0; i < t->np; i++) {
		p = &t->p[i];
		if ((d = dom_get(r, p->domain)) == NULL ||
		    (o = org_get(d, org)) == NULL) {
			problem(r, where, "out of memory");
			return;
		}
		/* A report with two policies for one domain is one report. */
		if (i == 0 || strcmp(t->p[i - 1].domain, p->domain) != 0) {
			d->reports++;
			o->reports++;
			if (d->reports == 1 || t->start < d->start)
				d->start = t->start;
			if (d->reports == 1 || t->end > d->end)
				d->end = t->end;
			count_add(&d->all_orgs, org, 1);
		}
		d->success = sat(d->success, p->success);
		d->failure = sat(d->failure, p->failure);
		o->success = sat(o->success, p->success);
		o->failure = sat(o->failure, p->failure);
		for (j = 0; j < p->nd; j++) {
			x = &p->d[j];
			count_add(&d->results, x->result, x->count);
			count_add(&o->results, x->result, x->count);
			if (x->mx[0] != '\0')
				count_add(&d->mx, x->mx, x->count);
			if (x->receiving_ip[0] != '\0')
				count_add(&d->rip, x->receiving_ip, x->count);
			count_add(&d->smta, x->sending_ip[0] != '\0' ?
			    x->sending_ip : "(not given)", x->count);
			if (cause_here(x->result) != NULL)
				count_add(&d->this_server, x->result,
				    x->count);
			if (d->conf != NULL && d->conf->mode == MODE_TESTING &&
			    strcmp(p->type, "sts") == 0 &&
			    fails_enforce(d->conf, x, why, sizeof(why))) {
				d->would_fail = sat(d->would_fail, x->count);
				count_add(&d->fail_why, why, x->count);
				count_add(&d->fail_orgs, org, x->count);
			}
		}
		if (p->more > 0) {
			count_add(&d->results, "(more details)", p->more);
			count_add(&o->results, "(more details)", p->more);
		}
		if (d->conf == NULL || d->conf->mode != MODE_TESTING ||
		    strcmp(p->type, "sts") != 0)
			continue;
		/*
		 * Failures the report counts but does not detail (or past
		 * the details kept) may be ones enforce would refuse: not
		 * known safe.
		 */
		for (detailed = p->more, j = 0; j < p->nd; j++)
			detailed = sat(detailed, p->d[j].count);
		if (p->more > 0 || p->failure > detailed) {
			detailed = p->more + (p->failure > detailed ?
			    p->failure - detailed : 0);
			d->would_fail = sat(d->would_fail, detailed);
			count_add(&d->fail_why, "failed sessions the report "
			    "does not detail (the reasons unknown)", detailed);
			count_add(&d->fail_orgs, org, detailed);
		}
	}
}

/* Report bytes (gzip or JSON) found at where. */
static void
take_bytes(struct run *r, int gz, const unsigned char *data, size_t len,
    const char *where)
{
	struct tlsrpt	 t;
	unsigned char	 h[32];
	char		 err[512], *json = NULL;
	const char	*text = (const char *)data;
	size_t		 jlen = len;

	if (gz) {
		if (tlsrpt_inflate(data, len, TLSRPT_JSON_MAX, &json, &jlen,
		    err, sizeof(err)) == -1) {
			problem(r, where, "%s", err);
			return;
		}
		text = json;
	} else if (len > TLSRPT_JSON_MAX) {
		problem(r, where, "larger than %d bytes", TLSRPT_JSON_MAX);
		return;
	}
	if (tlsrpt_parse(text, jlen, &t, err, sizeof(err)) == -1)
		problem(r, where, "not a TLS report: %s", err);
	else if (compat_sha256((const unsigned char *)text, jlen, h) != 0)
		problem(r, where, "SHA-256 failed");
	else
		take_report(r, &t, h, where);
	tlsrpt_free(&t);
	free(json);
}

static void
take_part(void *arg, const struct mime_part *m)
{
	struct run	*r = arg;
	char		 where[1200];

	snprintf(where, sizeof(where), "%s: %s", r->file, m->where);
	if (m->data == NULL)
		problem(r, where, "%s", m->why);
	else
		take_bytes(r, m->gz, m->data, m->len, where);
}

/* One file: a report (gzip or JSON) or mail. named: given by name. */
static void
take_file(struct run *r, const char *path, int named)
{
	char		*buf;
	size_t		 len, i;

	if ((buf = file_read(path, FILE_MAX, &len)) == NULL) {
		problem(r, path, "%s", errno == EFBIG ? "larger than 64 MiB" :
		    strerror(errno));
		return;
	}
	r->file = path;
	r->found = 0;
	for (i = 0; i < len && strchr(" \t\r\n", buf[i]) != NULL; i++)
		;
	/* gzip's magic; or a zlib header (RFC 1950 2.2: deflate, and the
	 * check bits), which some send under the gzip name */
	if (len >= 2 && (((unsigned char)buf[0] == 0x1f &&
	    (unsigned char)buf[1] == 0x8b) || ((buf[0] & 0x0f) == 8 &&
	    ((unsigned char)buf[0] << 8 | (unsigned char)buf[1]) % 31 ==
	    0)))
		take_bytes(r, 1, (unsigned char *)buf, len, path);
	else if (i < len && buf[i] == '{')
		take_bytes(r, 0, (unsigned char *)buf, len, path);
	else if (mime_reports(buf, len, take_part, r) == 0) {
		if (named)
			problem(r, path, "no TLS report in it: neither gzip "
			    "nor JSON, nor mail with an application/tlsrpt+"
			    "gzip or application/tlsrpt+json attachment");
		else
			r->skipped++;
	}
	free(buf);
}

static int
name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void
take_path(struct run *r, const char *path, int depth)
{
	struct dirent	**e;
	struct stat	  st;
	char		  sub[4096];
	int		  i, n;

	/*
	 * Below what was named, links are not followed into directories
	 * (a loop would read everything again at every level), and the
	 * temporary files of a writer (the receiver's) are not reports yet.
	 */
	if (depth > 0) {
		if (lstat(path, &st) == -1)
			return;
		if (strstr(strrchr(path, '/'), ".tmp-") != NULL)
			return;
		if (S_ISLNK(st.st_mode) && (stat(path, &st) == -1 ||
		    S_ISDIR(st.st_mode)))
			return;
	} else if (stat(path, &st) == -1) {
		problem(r, path, "%s", strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (S_ISREG(st.st_mode))
			take_file(r, path, depth == 0);
		else if (depth == 0)
			problem(r, path, "not a file or directory");
		return;
	}
	if (depth > DEPTH_MAX)
		return;
	if ((n = scandir(path, &e, NULL, name_cmp)) == -1) {
		problem(r, path, "%s", strerror(errno));
		return;
	}
	for (i = 0; i < n; i++) {
		/* dot files: maildir's own, editors' temporaries */
		if (e[i]->d_name[0] != '.' && snprintf(sub, sizeof(sub),
		    "%s/%s", path, e[i]->d_name) < (int)sizeof(sub))
			take_path(r, sub, depth + 1);
		free(e[i]);
	}
	free(e);
}

static const char *
day(time_t t, char *buf, size_t cap)
{
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%d %H:%M", &tm);
	return buf;
}

static const char *
iso(time_t t, char *buf, size_t cap)
{
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* "name (n), name (n), and K more" */
static void
print_counts(const char *label, const struct counts *cs)
{
	size_t	i;

	if (cs->n == 0)
		return;
	printf("  %s: ", label);
	for (i = 0; i < cs->n && i < SHOW_MAX; i++)
		printf("%s%s (%lld)", i > 0 ? ", " : "", cs->c[i].key,
		    cs->c[i].n);
	if (cs->n > SHOW_MAX)
		printf(", and %zu more", cs->n - SHOW_MAX);
	if (cs->other > 0)
		printf(", and more names than are kept (%lld)", cs->other);
	printf("\n");
}

/* The one-line config change for enforce, into buf. */
static void
change_line(const struct run *r, const struct dom *d, char *buf, size_t cap)
{
	const struct conf_domain	*cd = d->conf;

	if (r->conf->from_env)
		snprintf(buf, cap, "set MTASTS_MODE=enforce (every domain "
		    "of this container) and restart");
	else if (cd->mode_inherited || cd->mode_line == 0)
		snprintf(buf, cap, "%s: after line %d (domain %s) add: mode "
		    "enforce", r->conf->file, cd->line, cd->name);
	else
		snprintf(buf, cap, "%s:%d: mode testing -> mode enforce",
		    r->conf->file, cd->mode_line);
}

/* Readiness of a testing-mode domain: verdict into the text or JSON. */
static int
ready(const struct run *r, const struct dom *d, char *verdict, size_t vcap,
    char *change, size_t ccap)
{
	char		s[32], e[32];
	long long	days;

	change[0] = '\0';
	if (d->reports == 0 || sat(d->success, d->failure) == 0) {
		snprintf(verdict, vcap, "no evidence yet: no sessions "
		    "reported for %s; senders send reports daily: wait for "
		    "them before enforce", d->name);
		return 0;
	}
	days = (long long)((d->end - d->start + 43200) / 86400);
	if (d->would_fail > 0) {
		snprintf(verdict, vcap, "NOT safe: %lld session%s from %zu "
		    "of %zu reporters between %s and %s UTC would have failed "
		    "under enforce", d->would_fail, d->would_fail == 1 ? "" :
		    "s", d->fail_orgs.n, d->all_orgs.n, day(d->start, s,
		    sizeof(s)), day(d->end, e, sizeof(e)));
		return 0;
	}
	snprintf(verdict, vcap, "safe: none of %lld sessions reported by %zu "
	    "reporter%s over %lld day%s (%s to %s UTC) would have failed "
	    "under enforce%s", sat(d->success, d->failure), d->all_orgs.n,
	    d->all_orgs.n == 1 ? "" : "s", days, days == 1 ? "" : "s",
	    day(d->start, s, sizeof(s)), day(d->end, e, sizeof(e)),
	    days < 7 ? " (the usual advice is to wait a week or two of "
	    "reports)" : "");
	change_line(r, d, change, ccap);
	return 1;
}

static void
print_text(const struct run *r)
{
	const struct dom	*d;
	const struct org	*o;
	char			 s[32], e[32], verdict[1024], change[600];
	size_t			 i, j;

	for (i = 0; i < r->ndom; i++) {
		d = &r->dom[i];
		if (i > 0)
			printf("\n");
		printf("%s%s: %lld report%s from %zu organization%s",
		    d->name, d->conf == NULL && r->conf != NULL ?
		    " (not in the config)" : "", d->reports,
		    d->reports == 1 ? "" : "s", d->norg, d->norg == 1 ? "" :
		    "s");
		if (d->reports > 0)
			printf(", %s to %s UTC", day(d->start, s, sizeof(s)),
			    day(d->end, e, sizeof(e)));
		printf("\n");
		printf("  sessions: %lld succeeded, %lld failed\n",
		    d->success, d->failure);
		print_counts("failures", &d->results);
		print_counts("receiving MX hosts", &d->mx);
		print_counts("receiving IPs", &d->rip);
		print_counts("sending MTAs", &d->smta);
		for (j = 0; j < d->norg; j++) {
			o = &d->org[j];
			printf("  by %s: %lld report%s, %lld succeeded, %lld "
			    "failed", o->name, o->reports, o->reports == 1 ?
			    "" : "s", o->success, o->failure);
			if (o->results.n > 0) {
				printf(":");
				for (size_t k = 0; k < o->results.n; k++)
					printf(" %s %lld", o->results.c[k].key,
					    o->results.c[k].n);
			}
			printf("\n");
		}
		for (j = 0; j < d->this_server.n; j++)
			printf("  this server: %s (%lld): %s\n",
			    d->this_server.c[j].key, d->this_server.c[j].n,
			    cause_here(d->this_server.c[j].key));
		if (d->conf != NULL && d->conf->mode == MODE_TESTING) {
			ready(r, d, verdict, sizeof(verdict), change,
			    sizeof(change));
			printf("  enforce: %s\n", verdict);
			for (j = 0; j < d->fail_why.n && j < SHOW_MAX; j++)
				printf("    %lld: %s\n", d->fail_why.c[j].n,
				    d->fail_why.c[j].key);
			if (change[0] != '\0')
				printf("  change: %s\n", change);
		}
	}
	if (r->ndom == 0)
		printf("no TLS reports\n");
	printf("\n%lld report%s", r->reports, r->reports == 1 ? "" : "s");
	if (r->dups > 0)
		printf(", %lld duplicate%s counted once", r->dups,
		    r->dups == 1 ? "" : "s");
	if (r->conflicts > 0)
		printf(", %lld report-id%s found with other contents (both "
		    "counted)", r->conflicts, r->conflicts == 1 ? "" : "s");
	if (r->skipped > 0)
		printf(", %lld file%s without a report skipped", r->skipped,
		    r->skipped == 1 ? "" : "s");
	printf("\n");
}

static cJSON *
json_counts(const struct counts *cs)
{
	cJSON	*o = cJSON_CreateObject();
	size_t	 i;

	for (i = 0; o != NULL && i < cs->n; i++)
		cJSON_AddNumberToObject(o, cs->c[i].key, (double)cs->c[i].n);
	if (o != NULL && cs->other > 0)
		cJSON_AddNumberToObject(o, "(others)", (double)cs->other);
	return o;
}

static int
print_json(struct run *r)
{
	cJSON		*top, *doms, *d, *orgs, *o, *here, *h, *rd;
	const struct dom *x;
	char		 s[32], verdict[1024], change[600], *out;
	size_t		 i, j;
	int		 safe;

	if ((top = cJSON_CreateObject()) == NULL)
		return -1;
	doms = cJSON_AddObjectToObject(top, "domains");
	for (i = 0; doms != NULL && i < r->ndom; i++) {
		x = &r->dom[i];
		if ((d = cJSON_AddObjectToObject(doms, x->name)) == NULL)
			break;
		cJSON_AddNumberToObject(d, "success", (double)x->success);
		cJSON_AddNumberToObject(d, "failure", (double)x->failure);
		cJSON_AddItemToObject(d, "failures", json_counts(&x->results));
		cJSON_AddNumberToObject(d, "reports", (double)x->reports);
		if (x->reports > 0) {
			cJSON_AddStringToObject(d, "start", iso(x->start, s,
			    sizeof(s)));
			cJSON_AddStringToObject(d, "end", iso(x->end, s,
			    sizeof(s)));
		}
		if (r->conf != NULL) {
			cJSON_AddBoolToObject(d, "configured",
			    x->conf != NULL);
			if (x->conf != NULL)
				cJSON_AddStringToObject(d, "mode",
				    policy_mode_name(x->conf->mode));
		}
		cJSON_AddItemToObject(d, "receiving_mx_hosts",
		    json_counts(&x->mx));
		cJSON_AddItemToObject(d, "receiving_ips", json_counts(&x->rip));
		cJSON_AddItemToObject(d, "sending_mtas", json_counts(&x->smta));
		orgs = cJSON_AddObjectToObject(d, "organizations");
		for (j = 0; orgs != NULL && j < x->norg; j++) {
			o = cJSON_AddObjectToObject(orgs, x->org[j].name);
			if (o == NULL)
				continue;
			cJSON_AddNumberToObject(o, "reports",
			    (double)x->org[j].reports);
			cJSON_AddNumberToObject(o, "success",
			    (double)x->org[j].success);
			cJSON_AddNumberToObject(o, "failure",
			    (double)x->org[j].failure);
			cJSON_AddItemToObject(o, "failures",
			    json_counts(&x->org[j].results));
		}
		here = cJSON_AddArrayToObject(d, "this_server");
		for (j = 0; here != NULL && j < x->this_server.n; j++) {
			if ((h = cJSON_CreateObject()) == NULL)
				continue;
			cJSON_AddStringToObject(h, "result",
			    x->this_server.c[j].key);
			cJSON_AddNumberToObject(h, "sessions",
			    (double)x->this_server.c[j].n);
			cJSON_AddStringToObject(h, "cause",
			    cause_here(x->this_server.c[j].key));
			cJSON_AddItemToArray(here, h);
		}
		if (x->conf == NULL || x->conf->mode != MODE_TESTING)
			continue;
		safe = ready(r, x, verdict, sizeof(verdict), change,
		    sizeof(change));
		if ((rd = cJSON_AddObjectToObject(d, "enforce")) == NULL)
			continue;
		cJSON_AddBoolToObject(rd, "safe", safe);
		cJSON_AddStringToObject(rd, "verdict", verdict);
		cJSON_AddNumberToObject(rd, "would_fail",
		    (double)x->would_fail);
		cJSON_AddNumberToObject(rd, "reporters",
		    (double)x->all_orgs.n);
		cJSON_AddItemToObject(rd, "failing", json_counts(&x->fail_why));
		if (change[0] != '\0')
			cJSON_AddStringToObject(rd, "change", change);
	}
	cJSON_AddNumberToObject(top, "reports", (double)r->reports);
	cJSON_AddNumberToObject(top, "duplicates", (double)r->dups);
	cJSON_AddNumberToObject(top, "conflicts", (double)r->conflicts);
	cJSON_AddNumberToObject(top, "skipped", (double)r->skipped);
	cJSON_AddItemToObject(top, "errors", r->errors);
	r->errors = NULL;
	if ((out = cJSON_Print(top)) == NULL) {
		cJSON_Delete(top);
		return -1;
	}
	printf("%s\n", out);
	free(out);
	cJSON_Delete(top);
	return 0;
}

/*
 * --report: paths (none: the receiver's directory) summed up, printed
 * as text or JSON. c may be NULL (no config: no readiness). 0: no failed
 * session reported, 1: some, 2: input that could not be read.
 */
int
report_run(const struct conf *c, char *const *paths, size_t npaths,
    int json)
{
	struct run	 r;
	char		 dir[4096];
	size_t		 i, j;
	int		 rc;

	memset(&r, 0, sizeof(r));
	r.conf = c;
	r.json = json;
	if (hmap_init(&r.ids, 1024, 1) == -1 ||
	    (json && (r.errors = cJSON_CreateArray()) == NULL)) {
		fprintf(stderr, "error: out of memory\n");
		return 2;
	}
	if (npaths == 0) {
		snprintf(dir, sizeof(dir), "%s/%s", c->state_dir, TLSRPT_DIR);
		if (access(dir, F_OK) == 0)
			take_path(&r, dir, 0);
	}
	for (i = 0; i < npaths; i++)
		take_path(&r, paths[i], 0);
	/* Configured testing domains without reports: say so too. */
	for (i = 0; c != NULL && i < c->ndomains; i++)
		if (c->domains[i].mode == MODE_TESTING &&
		    dom_get(&r, c->domains[i].name) == NULL) {
			fprintf(stderr, "error: out of memory\n");
			return 2;
		}
	qsort(r.dom, r.ndom, sizeof(*r.dom), dom_cmp);
	rc = 0;
	for (i = 0; i < r.ndom; i++) {
		counts_sort(&r.dom[i].results);
		counts_sort(&r.dom[i].mx);
		counts_sort(&r.dom[i].rip);
		counts_sort(&r.dom[i].smta);
		counts_sort(&r.dom[i].fail_why);
		counts_sort(&r.dom[i].this_server);
		if (r.dom[i].norg > 1)
			qsort(r.dom[i].org, r.dom[i].norg,
			    sizeof(*r.dom[i].org), org_cmp);
		for (j = 0; j < r.dom[i].norg; j++)
			counts_sort(&r.dom[i].org[j].results);
		if (r.dom[i].failure > 0)
			rc = 1;
	}
	if (json ? print_json(&r) == -1 : (print_text(&r), 0))
		fprintf(stderr, "error: out of memory\n"), r.bad = 1;
	fflush(stdout);
	if (r.bad)
		rc = 2;
	for (i = 0; i < r.ndom; i++) {
		free(r.dom[i].name);
		counts_free(&r.dom[i].results);
		counts_free(&r.dom[i].mx);
		counts_free(&r.dom[i].rip);
		counts_free(&r.dom[i].smta);
		counts_free(&r.dom[i].fail_why);
		counts_free(&r.dom[i].fail_orgs);
		counts_free(&r.dom[i].this_server);
		counts_free(&r.dom[i].all_orgs);
		for (j = 0; j < r.dom[i].norg; j++) {
			free(r.dom[i].org[j].name);
			counts_free(&r.dom[i].org[j].results);
		}
		free(r.dom[i].org);
	}
	free(r.dom);
	for (i = 0; i < r.nids; i++) {
		free(r.seen[i].id);
		free(r.seen[i].where);
	}
	free(r.seen);
	hmap_free(&r.ids);
	cJSON_Delete(r.errors);
	return rc;
}
