/*
 * history.c: the policies each domain has served, so that we know which
 * ones senders may still hold (RFC 8461 3.2: a sender keeps a policy for
 * its max_age after it last fetched it).
 *
 * <state_dir>/history, a versioned text file:
 *
 *	mtasts-httpd-history 1
 *	<domain> <id> <served> <first> <last> <policy text, %-encoded>
 *	...
 *	end <number of policy lines>
 *
 * served is 1 once a running server has served the policy; 0 for one
 * only committed by --print-dns or --check-live, which no sender has seen
 * yet (it is dropped when another policy of the domain is served, and
 * never counts as cached). first and last are UTC seconds: when it was
 * first served (or committed, while not served), and when the server
 * stopped serving it; last 0 while it is served. A sender may hold a
 * served policy until last (or now, while it is served) plus its max_age;
 * past that it is pruned, and at most HIST_MAX are kept per domain.
 *
 * Written by state_commit, under the state lock, right after the state
 * file and in the same way (whole file, temporary, fsync, rename). A
 * crash in between is made good by the next commit: its id is the
 * stored one, found missing here and added; the policy it replaced keeps
 * being counted as served until then, which only makes the guard more
 * careful. A damaged file is moved aside and said so; the guard then
 * knows nothing older than the next change.
 *
 * No logging here: warnings go into a struct diag.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mtasts.h"

#define HIST_MAGIC	"mtasts-httpd-history 1"
#define HIST_MAX	32		/* policies kept per domain */
#define HIST_FILE_MAX	(16L << 20)

static int
path_of(char *buf, size_t len, const char *dir, const char *name)
{
	return (size_t)snprintf(buf, len, "%s/%s", dir, name) < len ? 0 : -1;
}

/* %-encode every byte that is not a visible ASCII character, and '%'. */
static int
encode(FILE *f, const char *p, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c > 0x20 && c < 0x7f && c != '%')
			putc(c, f);
		else
			fprintf(f, "%%%02X", c);
	}
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode p[0..len) into a malloc'd buffer; -1 on a bad escape. */
static int
decode(const char *p, size_t len, char **out, size_t *olen)
{
	char	*b;
	size_t	 i, o = 0;
	int	 hi, lo;

	if ((b = malloc(len + 1)) == NULL)
		return -1;
	for (i = 0; i < len; i++) {
		if (p[i] != '%') {
			b[o++] = p[i];
			continue;
		}
		if (len - i < 3 || (hi = hexval(p[i + 1])) < 0 ||
		    (lo = hexval(p[i + 2])) < 0)
			goto bad;
		b[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	b[o] = '\0';
	*out = b;
	*olen = o;
	return 0;
bad:
	free(b);
	return -1;
}

void
history_free(struct history *h)
{
	size_t	i;

	for (i = 0; i < h->n; i++)
		free(h->e[i].text);
	free(h->e);
	memset(h, 0, sizeof(*h));
}

static int
push(struct history *h, const struct hist *e)
{
	struct hist	*ne;

	if ((ne = realloc(h->e, (h->n + 1) * sizeof(*ne))) == NULL)
		return -1;
	h->e = ne;
	h->e[h->n++] = *e;
	return 0;
}

/* One policy line; -1 if out of form. */
static int
parse_line(struct history *h, char *line)
{
	struct hist	 e;
	char		*f[6], *save = NULL, *ep;
	long long	 v[3];
	int		 i;

	memset(&e, 0, sizeof(e));
	for (i = 0; i < 6; i++)
		if ((f[i] = strtok_r(i == 0 ? line : NULL, " ", &save)) ==
		    NULL)
			return -1;
	if (strtok_r(NULL, " ", &save) != NULL ||
	    strlen(f[0]) >= sizeof(e.domain) || strlen(f[1]) > ID_MAX)
		return -1;
	for (i = 0; i < 3; i++) {
		errno = 0;
		v[i] = strtoll(f[2 + i], &ep, 10);
		if (errno != 0 || *ep != '\0' || v[i] < 0)
			return -1;
	}
	if (v[0] > 1)
		return -1;
	snprintf(e.domain, sizeof(e.domain), "%s", f[0]);
	snprintf(e.id, sizeof(e.id), "%s", f[1]);
	e.served = (int)v[0];
	e.first = (time_t)v[1];
	e.last = (time_t)v[2];
	if (decode(f[5], strlen(f[5]), &e.text, &e.len) == -1)
		return -1;
	if (push(h, &e) == -1) {
		free(e.text);
		return -1;
	}
	return 0;
}

static int
parse(struct history *h, char *buf, size_t len)
{
	char		*p = buf, *nl, *ep;
	unsigned long	 n;
	int		 first = 1;

	if (memchr(buf, '\0', len) != NULL)
		return -1;
	for (; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			return -1;	/* cut short */
		*nl = '\0';
		if (first) {
			if (strcmp(p, HIST_MAGIC) != 0)
				return -1;
			first = 0;
		} else if (strncmp(p, "end ", 4) == 0) {
			n = strtoul(p + 4, &ep, 10);
			return *ep == '\0' && n == h->n && nl[1] == '\0' ?
			    0 : -1;
		} else if (parse_line(h, p) == -1)
			return -1;
	}
	return -1;
}

/*
 * Read <dir>/history into h (empty if there is none). A damaged file is
 * moved aside to history.corrupt-<time> (when move is set; --check-live
 * only reads) with a warning in d. 0, or -1 with a warning in d when the
 * file cannot be read (the ids go on without the history).
 */
static int
load(const char *dir, struct history *h, int move, time_t now,
    struct diag *d)
{
	char	 path[4096], aside[4200], *buf;
	size_t	 len;

	memset(h, 0, sizeof(*h));
	if (path_of(path, sizeof(path), dir, HISTORY_FILE) == -1) {
		diag_add(d, 1, "state_dir %s: path too long", dir);
		return -1;
	}
	if ((buf = file_read(path, HIST_FILE_MAX, &len)) == NULL) {
		if (errno == ENOENT)
			return 0;
		diag_add(d, 0, "%s: cannot read it: %s; the rollout guard "
		    "does not know the earlier policies", path,
		    strerror(errno));
		return -1;
	}
	if (parse(h, buf, len) == 0) {
		free(buf);
		return 0;
	}
	free(buf);
	history_free(h);
	if (!move) {
		diag_add(d, 0, "%s: damaged; the policies it held are not "
		    "known", path);
		return 0;
	}
	snprintf(aside, sizeof(aside), "%s.corrupt-%lld", path,
	    (long long)now);
	if (rename(path, aside) == -1)
		diag_add(d, 0, "%s: damaged, and cannot be moved aside: %s; "
		    "it is replaced", path, strerror(errno));
	else
		diag_add(d, 0, "%s: damaged; moved aside to %s: the policies "
		    "it held are not known to the rollout guard", path, aside);
	return 0;
}

int
history_load(const char *dir, struct history *h, struct diag *d)
{
	return load(dir, h, 0, time(NULL), d);
}

/*
 * Until when a sender may hold policy e: when it was last served (now,
 * while it is) plus its max_age; 0 if no sender has seen it (never
 * served), -1 if its text does not parse.
 */
time_t
history_until(const struct hist *e, time_t now)
{
	struct policy_facts	f;
	time_t			until;

	if (!e->served)
		return 0;
	if (policy_facts(e->text, e->len, &f) == -1)
		return -1;
	until = (e->last != 0 ? e->last : now) + (time_t)f.max_age;
	policy_facts_free(&f);
	return until;
}

static int
save(const char *dir, const struct history *h, struct diag *d)
{
	char	 path[4096], err[4400], *buf = NULL;
	size_t	 len = 0, i;
	FILE	*f;
	int	 rc;

	if (path_of(path, sizeof(path), dir, HISTORY_FILE) == -1 ||
	    (f = open_memstream(&buf, &len)) == NULL) {
		diag_add(d, 0, "state_dir %s: cannot write the history", dir);
		return -1;
	}
	fprintf(f, "%s\n", HIST_MAGIC);
	for (i = 0; i < h->n; i++) {
		fprintf(f, "%s %s %d %lld %lld ", h->e[i].domain, h->e[i].id,
		    h->e[i].served, (long long)h->e[i].first,
		    (long long)h->e[i].last);
		encode(f, h->e[i].text, h->e[i].len);
		putc('\n', f);
	}
	fprintf(f, "end %zu\n", h->n);
	if (fclose(f) != 0) {
		free(buf);
		diag_add(d, 0, "state_dir %s: out of memory writing the "
		    "history", dir);
		return -1;
	}
	/* public facts, like the state file: readable by the server's user
	 * when root wrote it (--print-dns) */
	rc = file_write_atomic(path, buf, len, 0644, err, sizeof(err));
	free(buf);
	if (rc == -1)
		diag_add(d, 0, "cannot write the policy history: %s; the "
		    "rollout guard may miss this change", err);
	return rc;
}

/* Temporary files of writers killed mid-write (file_write_atomic's
 * "history.tmp-<pid>"); called under the state lock, so none is live. */
static void
sweep(const char *dir)
{
	DIR		*d;
	struct dirent	*e;
	char		 path[4096];

	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, HISTORY_FILE ".tmp-",
		    sizeof(HISTORY_FILE ".tmp-") - 1) == 0 &&
		    path_of(path, sizeof(path), dir, e->d_name) == 0)
			unlink(path);
	closedir(d);
}

/*
 * The entries of one domain, in the file's (chronological) order: an index
 * from domain to its first entry, and each entry's next (0: none; else
 * the index + 1).
 */
struct chains {
	struct hmap	 first;
	size_t		*next;
	size_t		*last;	/* per entry: its chain's last, for appends */
};

static size_t
chain_head(const struct chains *c, const char *domain)
{
	return (size_t)(uintptr_t)hmap_get(&c->first, domain, strlen(domain));
}

/* Index h's n entries (room for cap in all). 0 or -1. */
static int
chains_build(struct chains *c, const struct history *h, size_t cap)
{
	size_t	i, head;

	memset(c, 0, sizeof(*c));
	if (hmap_init(&c->first, cap, 1) == -1 ||
	    (c->next = calloc(cap + 1, sizeof(*c->next))) == NULL ||
	    (c->last = calloc(cap + 1, sizeof(*c->last))) == NULL)
		return -1;
	for (i = 0; i < h->n; i++) {
		if ((head = chain_head(c, h->e[i].domain)) == 0)
			hmap_put(&c->first, h->e[i].domain,
			    (void *)(uintptr_t)(i + 1));
		else
			c->next[c->last[head - 1]] = i + 1;
		c->last[head != 0 ? head - 1 : i] = i;
	}
	return 0;
}

static void
chains_free(struct chains *c)
{
	hmap_free(&c->first);
	free(c->next);
	free(c->last);
}

/*
 * The rollout notes for r's policy: what each earlier policy of its
 * domain that senders may still hold covers that r's does not.
 */
static char *
notes(const struct history *h, const struct chains *c,
    const struct state_req *r, time_t now)
{
	struct policy_facts	 new, old;
	char			*out = NULL;
	time_t			 until;
	size_t			 j;

	if (policy_facts(r->policy, r->len, &new) == -1)
		return NULL;
	for (j = chain_head(c, r->domain); j != 0; j = c->next[j - 1]) {
		const struct hist *e = &h->e[j - 1];

		if (e->dead || strcmp(e->id, r->id) == 0 ||
		    (until = history_until(e, now)) <= now ||
		    policy_facts(e->text, e->len, &old) == -1)
			continue;
		policy_rollout(&old, e->id, until, &new, &out);
		policy_facts_free(&old);
	}
	policy_facts_free(&new);
	return out;
}

/* r[i]'s policy as the newest of its domain: served now (serving), or
 * committed only. Appended to h's room. 0 or -1 (memory). */
static int
record(struct history *h, struct chains *c, const struct state_req *r,
    int serving, time_t now, int *dirty)
{
	struct hist	*e = NULL;
	size_t		 j, head;

	for (j = chain_head(c, r->domain); j != 0; j = c->next[j - 1]) {
		struct hist *o = &h->e[j - 1];

		if (strcmp(o->id, r->id) == 0)
			e = o;
		else if (serving && !o->served) {
			o->dead = 1;	/* superseded, never seen */
			*dirty = 1;
		} else if (serving && o->last == 0) {
			o->last = now;	/* no longer served */
			*dirty = 1;
		}
	}
	if (e == NULL) {
		e = &h->e[h->n];
		memset(e, 0, sizeof(*e));
		snprintf(e->domain, sizeof(e->domain), "%s", r->domain);
		snprintf(e->id, sizeof(e->id), "%s", r->id);
		e->first = now;
		if ((e->text = malloc(r->len + 1)) == NULL)
			return -1;
		memcpy(e->text, r->policy, r->len);
		e->text[r->len] = '\0';
		e->len = r->len;
		if ((head = chain_head(c, e->domain)) == 0)
			hmap_put(&c->first, e->domain,
			    (void *)(uintptr_t)(h->n + 1));
		else
			c->next[c->last[head - 1]] = h->n + 1;
		c->last[head != 0 ? head - 1 : h->n] = h->n;
		h->n++;
		*dirty = 1;
	}
	if (serving && (!e->served || e->last != 0)) {
		if (!e->served)
			e->first = now;		/* first served */
		e->served = 1;
		e->last = 0;
		*dirty = 1;
	}
	return 0;
}

/*
 * Record r[0..n) (ids just committed) in the history, under the state
 * lock. With serving set (the server: it serves them from now on, and
 * r holds every domain it serves) each becomes its domain's served
 * policy, the others of its domain (and those of domains no longer
 * served) get their last time, and never-served ones are dropped;
 * without (--print-dns, --check-live) a new one is added as not served.
 * Policies past their cache time are pruned, the oldest beyond HIST_MAX
 * too (said). Sets each r's notes (malloc'd, or NULL): what senders
 * still holding an earlier policy lose under r's. Failures are warnings:
 * the ids must go on being served and announced.
 */
void
history_update(const char *dir, struct state_req *r, size_t n, int serving,
    time_t now, struct diag *d)
{
	struct history	 h;
	struct chains	 c;
	struct hist	*ne;
	size_t		 i, j, k, count, head;
	int		 dirty = 0;
	time_t		 until;

	memset(&c, 0, sizeof(c));
	if (load(dir, &h, 1, now, d) == -1)
		return;
	/* room for every new entry at once: the index keeps pointers */
	if ((ne = realloc(h.e, (h.n + n + 1) * sizeof(*ne))) == NULL ||
	    (h.e = ne, chains_build(&c, &h, h.n + n)) == -1) {
		diag_add(d, 0, "out of memory: the policy history is not "
		    "updated");
		chains_free(&c);
		history_free(&h);
		return;
	}
	for (i = 0; i < n; i++)
		if (record(&h, &c, &r[i], serving, now, &dirty) == -1) {
			diag_add(d, 0, "out of memory: the policy history "
			    "misses %s", r[i].domain);
			break;
		}
	if (serving)		/* domains no longer served */
		for (j = 0; j < h.n; j++) {
			if (h.e[j].last != 0 || h.e[j].dead)
				continue;
			for (k = 0; k < n; k++)
				if (strcmp(r[k].domain, h.e[j].domain) == 0)
					break;
			if (k == n) {
				if (h.e[j].served)
					h.e[j].last = now;
				else
					h.e[j].dead = 1;
				dirty = 1;
			}
		}
	for (i = 0; i < n; i++)
		r[i].notes = notes(&h, &c, &r[i], now);
	/* pruned: past their cache time; then the oldest beyond HIST_MAX */
	for (j = 0; j < h.n; j++) {
		until = history_until(&h.e[j], now);
		if (!h.e[j].dead && h.e[j].last != 0 && until >= 0 &&
		    until < now) {
			h.e[j].dead = 1;
			dirty = 1;
		}
	}
	for (j = 0; j < h.n; j++) {
		if ((head = chain_head(&c, h.e[j].domain)) != j + 1)
			continue;	/* each domain once, from its first */
		for (count = 0, k = head; k != 0; k = c.next[k - 1])
			count += !h.e[k - 1].dead;
		for (k = head; k != 0 && count > HIST_MAX; k = c.next[k - 1]) {
			if (h.e[k - 1].dead)
				continue;
			if ((until = history_until(&h.e[k - 1], now)) > now)
				diag_add(d, 0, "%s: the policy history keeps "
				    "%d policies; id %s is dropped although "
				    "senders may hold it for %lld s more",
				    h.e[k - 1].domain, HIST_MAX, h.e[k - 1].id,
				    (long long)(until - now));
			h.e[k - 1].dead = 1;
			count--;
			dirty = 1;
		}
	}
	chains_free(&c);
	for (i = j = 0; j < h.n; j++) {
		if (h.e[j].dead)
			free(h.e[j].text);
		else
			h.e[i++] = h.e[j];
	}
	h.n = i;
	if (dirty) {
		sweep(dir);
		save(dir, &h, d);
	}
	history_free(&h);
}
