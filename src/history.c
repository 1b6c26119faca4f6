/*
 * history.c: the policies each domain has served, so that we know which
 * ones senders may still hold (RFC 8461 5: a sender keeps a policy for
 * its max_age after it last fetched it).
 *
 * <state_dir>/history, a versioned text file:
 *
 *	mtasts-httpd-history 1
 *	<domain> <id> <first> <last> <policy text, %-encoded>
 *	...
 *	end <number of policy lines>
 *
 * first and last are UTC seconds: when the policy was first committed,
 * and when a running server stopped serving it; last 0 means it may still
 * be served (the current policy, or one that --print-dns replaced while a
 * server may still serve it). A sender may hold a policy until last (or
 * now, while 0) plus its max_age; a policy past that is pruned.
 *
 * Written by state_commit, under the state lock, before the state file
 * itself and in the same way (whole file, temporary, fsync, rename): a
 * crash in between leaves an entry of an id never stored, which only
 * makes the guard more careful. A damaged file is moved aside and said
 * so; the guard then knows nothing older than the next change.
 *
 * No logging here: warnings go into a struct diag.
 */
#include <errno.h>
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
	char		*f[5], *save = NULL, *ep;
	long long	 v[2];
	int		 i;

	memset(&e, 0, sizeof(e));
	for (i = 0; i < 5; i++)
		if ((f[i] = strtok_r(i == 0 ? line : NULL, " ", &save)) ==
		    NULL)
			return -1;
	if (strtok_r(NULL, " ", &save) != NULL ||
	    strlen(f[0]) >= sizeof(e.domain) || strlen(f[1]) > ID_MAX)
		return -1;
	for (i = 0; i < 2; i++) {
		errno = 0;
		v[i] = strtoll(f[2 + i], &ep, 10);
		if (errno != 0 || *ep != '\0' || v[i] < 0)
			return -1;
	}
	snprintf(e.domain, sizeof(e.domain), "%s", f[0]);
	snprintf(e.id, sizeof(e.id), "%s", f[1]);
	e.first = (time_t)v[0];
	e.last = (time_t)v[1];
	if (decode(f[4], strlen(f[4]), &e.text, &e.len) == -1)
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
 * only reads) with a warning in d. 0, or -1 with an error in d when the
 * file cannot be read.
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
		diag_add(d, 1, "%s: cannot read it: %s", path,
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
 * Until when a sender may hold policy e: its last serving (or now, while
 * it may still be served) plus its max_age; -1 if its text does not
 * parse.
 */
time_t
history_until(const struct hist *e, time_t now)
{
	struct policy_facts	f;
	time_t			until;

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
		fprintf(f, "%s %s %lld %lld ", h->e[i].domain, h->e[i].id,
		    (long long)h->e[i].first, (long long)h->e[i].last);
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

/* Drop entry i, keeping the order. */
static void
drop(struct history *h, size_t i)
{
	free(h->e[i].text);
	memmove(&h->e[i], &h->e[i + 1], (h->n - i - 1) * sizeof(h->e[0]));
	h->n--;
}

/*
 * The rollout notes for r's policy: what each earlier policy of its
 * domain that senders may still hold covers that r's does not.
 */
static char *
notes(const struct history *h, const struct state_req *r, time_t now)
{
	struct policy_facts	 new, old;
	char			*out = NULL;
	time_t			 until;
	size_t			 i;

	if (policy_facts(r->policy, r->len, &new) == -1)
		return NULL;
	for (i = 0; i < h->n; i++) {
		if (strcmp(h->e[i].domain, r->domain) != 0 ||
		    strcmp(h->e[i].id, r->id) == 0 ||
		    (until = history_until(&h->e[i], now)) <= now ||
		    policy_facts(h->e[i].text, h->e[i].len, &old) == -1)
			continue;
		policy_rollout(&old, h->e[i].id, until, &new, &out);
		policy_facts_free(&old);
	}
	policy_facts_free(&new);
	return out;
}

/*
 * Record r[0..n) (ids just committed) in the history, under the state
 * lock: a new id is appended; with serving set (the server, which serves
 * them from now on) every other policy of the domain still marked as
 * served gets its last time; past ones are pruned. Sets each r's notes
 * (malloc'd, or NULL): what senders still holding an earlier policy lose
 * under r's. Failures are
 * warnings: the ids must go on being served and announced.
 */
void
history_update(const char *dir, struct state_req *r, size_t n, int serving,
    time_t now, struct diag *d)
{
	struct history	 h;
	struct hist	 e;
	size_t		 i, j, count;
	int		 dirty = 0, found;
	time_t		 until;

	if (load(dir, &h, 1, now, d) == -1)
		return;
	for (i = 0; i < n; i++) {
		found = 0;
		for (j = 0; j < h.n; j++) {
			if (strcmp(h.e[j].domain, r[i].domain) != 0)
				continue;
			if (strcmp(h.e[j].id, r[i].id) == 0)
				found = 1;
			else if (serving && h.e[j].last == 0) {
				h.e[j].last = now;
				dirty = 1;
			}
		}
		if (!found) {
			memset(&e, 0, sizeof(e));
			snprintf(e.domain, sizeof(e.domain), "%s",
			    r[i].domain);
			snprintf(e.id, sizeof(e.id), "%s", r[i].id);
			e.first = now;
			if ((e.text = malloc(r[i].len + 1)) == NULL ||
			    push(&h, &e) == -1) {
				free(e.text);
				diag_add(d, 0, "out of memory: the policy "
				    "history misses %s", r[i].domain);
				continue;
			}
			memcpy(e.text, r[i].policy, r[i].len);
			e.text[r[i].len] = '\0';
			h.e[h.n - 1].len = r[i].len;
			dirty = 1;
		}
		r[i].notes = notes(&h, &r[i], now);
	}
	/* Pruned: past their cache time; then the oldest beyond HIST_MAX. */
	for (j = 0; j < h.n; ) {
		until = history_until(&h.e[j], now);
		if (h.e[j].last != 0 && until >= 0 && until < now) {
			drop(&h, j);
			dirty = 1;
		} else
			j++;
	}
	for (i = 0; i < h.n; i++) {
		for (count = 0, j = i; j < h.n; j++)
			count += strcmp(h.e[j].domain, h.e[i].domain) == 0;
		if (count > HIST_MAX) {
			drop(&h, i--);
			dirty = 1;
		}
	}
	if (dirty)
		save(dir, &h, d);
	history_free(&h);
}
