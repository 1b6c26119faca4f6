/*
 * state.c: the persisted policy ids of every domain, in one file.
 *
 * <state_dir>/state, a versioned text file:
 *
 *	mtasts-httpd-state 1
 *	<domain> <id> <sha256 of the policy, hex> <announced: 0 or 1>
 *	...
 *	end <number of domain lines>
 *
 * An id is reused while its policy bytes are unchanged (restarts
 * included) and replaced by a strictly greater one when they change (RFC
 * 8461 3.1: a changed policy needs a new id; an unchanged one must keep
 * its id or every sender refetches). "announced" says whether the id's
 * announcement (the record on stdout, the hook) is done; serve.c sets it.
 * Domains no longer configured keep their line, so an id never goes down
 * if they come back.
 *
 * The whole file is replaced at once (temporary file, fsync, rename,
 * fsync of the directory), so a change of several domains lands for all
 * or none, and a crash leaves the old file or the new one. Writers (the
 * daemon, --print-dns) serialise on an advisory lock, <state_dir>/
 * state.lock, held only for one load-modify-write.
 *
 * Nothing in the file is trusted: a field out of form, an id more than a
 * day ahead, a file cut short or one that cannot be read is damage. The
 * file is then moved aside to state.corrupt-<time>, said so, and
 * replaced; the new ids stay above every plausible id still readable in
 * it. Files of earlier versions, <domain>.state, are taken over as
 * announced and removed once the new file is written.
 *
 * No logging here: warnings and errors go into a struct diag.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mtasts.h"
#include "compat.h"

#define STATE_MAGIC	"mtasts-httpd-state"
#define STATE_VERSION	"1"
#define LEGACY_SUFFIX	".state"	/* <domain>.state, version 0.1 */
#define ID_FMT_LEN	15		/* YYYYMMDDhhmmssZ */
#define AHEAD_MAX	86400		/* an id further ahead is damage */
#define FILE_MAX	(64L << 20)
#define LINE_MAX_LEN	512
#define PATH_LEN	4096

struct ent {
	char	domain[256];
	char	id[ID_FMT_LEN + 1];
	char	hash[65];
	int	announced;
};

/* One load-modify-write, under the lock. */
struct st {
	const char	*dir;
	char		 path[PATH_LEN], tmp[PATH_LEN], lock[PATH_LEN];
	int		 lockfd;
	time_t		 now;
	time_t		 ref;	/* ids up to ref + AHEAD_MAX are plausible */
	struct ent	*e;
	size_t		 n, cap;
	struct hmap	 idx;	/* domain -> index + 1 */
	char		 floor[ID_FMT_LEN + 1];	/* "": none */
	char		**legacy;	/* files to remove once written */
	size_t		 nlegacy;
	int		 dirty;
	struct diag	*d;
};

/* The time of an id in our form; -1 if it is not one. */
static int
id_parse(const char *id, time_t *t)
{
	struct tm	tm;
	char		back[ID_FMT_LEN + 1];
	int		i;

	if (strlen(id) != ID_FMT_LEN || id[ID_FMT_LEN - 1] != 'Z')
		return -1;
	for (i = 0; i < ID_FMT_LEN - 1; i++)
		if (id[i] < '0' || id[i] > '9')
			return -1;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(id, "%4d%2d%2d%2d%2d%2d", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if ((*t = timegm(&tm)) == (time_t)-1)
		return -1;
	/* Month 13 or second 61 normalise to another time: not ours. */
	if (gmtime_r(t, &tm) == NULL || strftime(back, sizeof(back),
	    "%Y%m%d%H%M%SZ", &tm) != ID_FMT_LEN || strcmp(back, id) != 0)
		return -1;
	return 0;
}

/*
 * The id for a policy change at time now, given the previous id (or NULL):
 * the UTC timestamp of now, or one second past the previous id when that
 * is not already greater (two changes in one second, or a clock that went
 * back, as on a router before NTP). Fixed width, so ids also compare as
 * strings. Returns 0, or -1 if the time cannot be formatted.
 */
int
state_next_id(const char *prev, time_t now, char out[ID_MAX + 1])
{
	time_t		pt;
	struct tm	tm;

	if (prev != NULL && id_parse(prev, &pt) == 0 && pt >= now)
		now = pt + 1;
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(out, ID_MAX + 1, "%Y%m%d%H%M%SZ", &tm) != ID_FMT_LEN)
		return -1;
	return 0;
}

static int
plausible(const struct st *s, const char *id)
{
	time_t	t;

	return id_parse(id, &t) == 0 && t <= s->ref + AHEAD_MAX;
}

/* A domain as conf.c keeps it: lower case, labels of [a-z0-9-]. */
static int
domain_ok(const char *p, size_t len)
{
	size_t	i, label = 0;

	if (len == 0 || len > 253 || p[0] == '.' || p[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		if (p[i] == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if ((p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= '0' && p[i] <= '9') || p[i] == '-') {
			if (++label > 63)
				return 0;
		} else
			return 0;
	}
	return 1;
}

static int
hash_ok(const char *h)
{
	size_t	i;

	for (i = 0; i < 64; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' &&
		    h[i] <= 'f')))
			return 0;
	return h[64] == '\0';
}

static void
hexhash(const char *buf, size_t len, char out[65])
{
	unsigned char	h[32];
	size_t		i;

	compat_sha256((const unsigned char *)buf, len, h);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* Up to 40 bytes of untrusted text, printable, for a message. */
static const char *
quote(const char *p, size_t len, char buf[48])
{
	size_t	i;

	for (i = 0; i < len && i < 40; i++)
		buf[i] = isprint((unsigned char)p[i]) ? p[i] : '?';
	if (len > 40) {
		memcpy(buf + 40, "...", 3);
		i = 43;
	}
	buf[i] = '\0';
	return buf;
}

static struct ent *
find(struct st *s, const char *domain)
{
	void	*v;

	v = hmap_get(&s->idx, domain, strlen(domain));
	return v == NULL ? NULL : &s->e[(uintptr_t)v - 1];
}

/* Room for n more entries. 0 or -1. */
static int
reserve(struct st *s, size_t n)
{
	struct ent	*ne;

	if (s->n + n <= s->cap)
		return 0;
	if (s->n + n > SIZE_MAX / sizeof(*ne) ||
	    (ne = realloc(s->e, (s->n + n) * sizeof(*ne))) == NULL)
		return -1;
	s->e = ne;
	s->cap = s->n + n;
	return 0;
}

/* Index every entry; room for n more without moving them. 0 or -1. */
static int
index_all(struct st *s, size_t n)
{
	size_t	i;

	hmap_free(&s->idx);
	if (reserve(s, n) == -1 || hmap_init(&s->idx, s->n + n, 1) == -1)
		return -1;
	for (i = 0; i < s->n; i++)
		hmap_put(&s->idx, s->e[i].domain, (void *)(uintptr_t)(i + 1));
	return 0;
}

/* Raise the floor to every plausible id written anywhere in buf. */
static void
scan_ids(struct st *s, const char *buf, size_t len)
{
	char	id[ID_FMT_LEN + 1];
	size_t	i, run = 0;

	for (i = 0; i < len; i++) {
		if (buf[i] >= '0' && buf[i] <= '9') {
			run++;
			continue;
		}
		if (buf[i] == 'Z' && run >= ID_FMT_LEN - 1) {
			memcpy(id, buf + i - (ID_FMT_LEN - 1), ID_FMT_LEN);
			id[ID_FMT_LEN] = '\0';
			if (plausible(s, id) && strcmp(id, s->floor) > 0)
				memcpy(s->floor, id, sizeof(id));
		}
		run = 0;
	}
}

/*
 * Parse the file in buf into s->e. Returns 0, or -1 with what is wrong
 * (and on which line) in why.
 */
static int
parse(struct st *s, const char *buf, size_t len, char *why, size_t whylen)
{
	const char	*p = buf, *end = buf + len, *nl, *f[5];
	char		 q[48], line[LINE_MAX_LEN];
	size_t		 fl[5], nf, i, lineno = 0, count;
	struct ent	*e;
	int		 done = 0;
	time_t		 t;

	if (len == 0) {
		snprintf(why, whylen, "empty");
		return -1;
	}
	if (buf[len - 1] != '\n') {
		snprintf(why, whylen, "cut short: no newline at its end");
		return -1;
	}
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		lineno++;
		if (done) {
			snprintf(why, whylen, "line %zu: text after the end "
			    "line", lineno);
			return -1;
		}
		if ((size_t)(nl - p) >= sizeof(line)) {
			snprintf(why, whylen, "line %zu: too long", lineno);
			return -1;
		}
		memcpy(line, p, (size_t)(nl - p));
		line[nl - p] = '\0';
		if (strlen(line) != (size_t)(nl - p)) {
			snprintf(why, whylen, "line %zu: a NUL byte", lineno);
			return -1;
		}
		/* Fields separated by single spaces. */
		for (nf = 0, i = 0; nf < 5; nf++) {
			f[nf] = line + i;
			fl[nf] = strcspn(line + i, " ");
			i += fl[nf];
			if (line[i] == '\0') {
				nf++;
				break;
			}
			i++;
		}
		if (lineno == 1) {
			if (nf != 2 || fl[0] != strlen(STATE_MAGIC) ||
			    memcmp(f[0], STATE_MAGIC, fl[0]) != 0) {
				snprintf(why, whylen, "line 1: not a state file "
				    "of mtasts-httpd: '%s'", quote(line,
				    strlen(line), q));
				return -1;
			}
			if (strcmp(f[1], STATE_VERSION) != 0) {
				snprintf(why, whylen, "line 1: version '%s' is "
				    "not supported", quote(f[1], fl[1], q));
				return -1;
			}
			continue;
		}
		if (nf == 2 && fl[0] == 3 && memcmp(f[0], "end", 3) == 0) {
			if (fl[1] == 0 || fl[1] > 9 ||
			    strspn(f[1], "0123456789") != fl[1] ||
			    sscanf(f[1], "%zu", &count) != 1 || count != s->n) {
				snprintf(why, whylen, "line %zu: the end line "
				    "says '%s' domains, the file has %zu",
				    lineno, quote(f[1], fl[1], q), s->n);
				return -1;
			}
			done = 1;
			continue;
		}
		if (nf != 4) {
			snprintf(why, whylen, "line %zu: '%s': expected "
			    "'domain id sha256 announced'", lineno,
			    quote(line, strlen(line), q));
			return -1;
		}
		line[fl[0]] = line[fl[0] + 1 + fl[1]] = '\0';
		line[fl[0] + 1 + fl[1] + 1 + fl[2]] = '\0';
		if (!domain_ok(f[0], fl[0])) {
			snprintf(why, whylen, "line %zu: '%s' is not a domain "
			    "name", lineno, quote(f[0], fl[0], q));
			return -1;
		}
		if (id_parse(f[1], &t) == -1) {
			snprintf(why, whylen, "line %zu: id '%s' is not of the "
			    "form YYYYMMDDhhmmssZ", lineno, quote(f[1], fl[1],
			    q));
			return -1;
		}
		if (!plausible(s, f[1])) {
			snprintf(why, whylen, "line %zu: id %s is more than a "
			    "day ahead of the clock", lineno, f[1]);
			return -1;
		}
		if (!hash_ok(f[2])) {
			snprintf(why, whylen, "line %zu: '%s' is not a SHA-256 "
			    "in hex", lineno, quote(f[2], fl[2], q));
			return -1;
		}
		if (fl[3] != 1 || (f[3][0] != '0' && f[3][0] != '1')) {
			snprintf(why, whylen, "line %zu: announced flag '%s': "
			    "expected 0 or 1", lineno, quote(f[3], fl[3], q));
			return -1;
		}
		if (reserve(s, s->n < 16 ? 16 : s->n) == -1) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		e = &s->e[s->n++];
		memcpy(e->domain, f[0], fl[0] + 1);
		memcpy(e->id, f[1], fl[1] + 1);
		memcpy(e->hash, f[2], 65);
		e->announced = f[3][0] == '1';
	}
	if (!done) {
		snprintf(why, whylen, "cut short: no end line");
		return -1;
	}
	/* Duplicates, through the index. */
	if (index_all(s, 0) == -1) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	for (i = 0; i < s->n; i++)
		if (find(s, s->e[i].domain) != &s->e[i]) {
			snprintf(why, whylen, "domain %s appears twice",
			    s->e[i].domain);
			return -1;
		}
	return 0;
}

/* The damaged or unreadable file out of the way; it is replaced. */
static int
move_aside(struct st *s, const char *why)
{
	char		aside[PATH_LEN + 64], stamp[32];
	struct tm	tm;
	struct stat	sb;
	int		i;

	if (gmtime_r(&s->now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm) == 0)
		snprintf(stamp, sizeof(stamp), "%lld", (long long)s->now);
	for (i = 0; i < 100; i++) {
		if (i == 0)
			snprintf(aside, sizeof(aside), "%s.corrupt-%s",
			    s->path, stamp);
		else
			snprintf(aside, sizeof(aside), "%s.corrupt-%s.%d",
			    s->path, stamp, i);
		if (lstat(aside, &sb) == -1 && errno == ENOENT)
			break;
	}
	/*
	 * A copy by link: the damaged file stays until st_write's rename
	 * replaces it, so a crash or a full disk in between loses nothing.
	 * What cannot be linked (a directory) is renamed.
	 */
	if (i == 100 || (link(s->path, aside) == -1 &&
	    rename(s->path, aside) == -1)) {
		diag_add(s->d, 1, "state file %s: %s; cannot move it aside: "
		    "%s", s->path, why, i == 100 ? "too many" :
		    strerror(errno));
		return -1;
	}
	s->n = 0;
	s->dirty = 1;
	diag_add(s->d, 0, "state file %s: %s: moved aside to %s; every "
	    "domain gets a new id%s%s", s->path, why, aside,
	    s->floor[0] != '\0' ? " above " : "", s->floor);
	return 0;
}

/* Errors that say nothing about the file: fail, try again later. */
static int
transient(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOMEM || e == EINTR;
}

/*
 * Files of version 0.1, <domain>.state ("id X" and "sha256 H" lines),
 * taken over as announced when newer than what the state file holds; each
 * is removed once the state file is written. A file that does not read
 * as one (no plausible id, no hash) is left alone.
 */
static int
load_legacy(struct st *s)
{
	DIR		*dp;
	struct dirent	*de;
	FILE		*f;
	char		 path[PATH_LEN], line[256], v[256], **nl;
	char		 id[ID_FMT_LEN + 1], hash[65];
	size_t		 len;
	struct ent	*e;
	struct stat	 sb;
	time_t		 ref;
	int		 rc = -1;

	if ((dp = opendir(s->dir)) == NULL) {
		diag_add(s->d, 1, "state_dir %s: %s", s->dir, strerror(errno));
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(dp)) == NULL) {
			if (errno != 0)
				diag_add(s->d, 0, "state_dir %s: cannot list "
				    "it (%s): files of version 0.1 are not "
				    "taken over", s->dir, strerror(errno));
			break;
		}
		len = strlen(de->d_name);
		if (len <= strlen(LEGACY_SUFFIX) || strcmp(de->d_name + len -
		    strlen(LEGACY_SUFFIX), LEGACY_SUFFIX) != 0)
			continue;
		len -= strlen(LEGACY_SUFFIX);
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", s->dir,
		    de->d_name) >= sizeof(path) ||
		    !domain_ok(de->d_name, len) ||
		    (f = fopen(path, "re")) == NULL)
			continue;
		id[0] = hash[0] = '\0';
		/* Its own time counts too, as for the state file. */
		ref = s->ref;
		if (fstat(fileno(f), &sb) == 0 && sb.st_mtime > s->ref)
			s->ref = sb.st_mtime;
		while (fgets(line, sizeof(line), f) != NULL) {
			if (sscanf(line, "id %255s", v) == 1 &&
			    strlen(v) == ID_FMT_LEN && plausible(s, v))
				memcpy(id, v, sizeof(id));
			else if (sscanf(line, "sha256 %255s", v) == 1 &&
			    hash_ok(v))
				memcpy(hash, v, sizeof(hash));
		}
		fclose(f);
		s->ref = ref;
		if (id[0] == '\0' || hash[0] == '\0')
			continue;	/* not one of ours: left alone */
		if ((nl = realloc(s->legacy, (s->nlegacy + 1) *
		    sizeof(*nl))) == NULL)
			goto oom;
		s->legacy = nl;
		if ((s->legacy[s->nlegacy] = strdup(path)) == NULL)
			goto oom;
		s->nlegacy++;
		s->dirty = 1;
		memcpy(v, de->d_name, len);
		v[len] = '\0';
		if ((e = find(s, v)) != NULL) {
			if (strcmp(id, e->id) <= 0)
				continue;
		} else {
			if (index_all(s, 1) == -1)
				goto oom;
			e = &s->e[s->n++];
			memcpy(e->domain, v, len + 1);
			hmap_put(&s->idx, e->domain,
			    (void *)(uintptr_t)s->n);
		}
		memcpy(e->id, id, sizeof(id));
		memcpy(e->hash, hash, sizeof(hash));
		e->announced = 1;
	}
	rc = 0;
	goto out;
oom:
	diag_add(s->d, 1, "out of memory");
out:
	closedir(dp);
	return rc;
}

/*
 * Read the state file into s. A damaged or unreadable one is moved aside
 * when repair is set, else an error. Returns 0 or -1 (in s->d).
 */
static int
load(struct st *s, int repair)
{
	struct stat	 sb;
	char		*buf = NULL, why[512];
	ssize_t		 r;
	size_t		 off = 0;
	int		 fd = -1, rc = -1;

	s->ref = s->now;
	why[0] = '\0';
	/* O_NONBLOCK: a FIFO in its place must not hang us. */
	if ((fd = open(s->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		if (errno == ENOENT) {	/* the first start: migrate 0.1 */
			rc = 0;
			goto legacy;
		}
		if (transient(errno)) {
			diag_add(s->d, 1, "state file %s: %s", s->path,
			    strerror(errno));
			return -1;
		}
		snprintf(why, sizeof(why), "cannot be read: %s",
		    strerror(errno));
		goto damaged;
	}
	if (fstat(fd, &sb) == -1) {
		diag_add(s->d, 1, "state file %s: %s", s->path,
		    strerror(errno));
		goto out;
	}
	/* A clock stepped back must not make our own ids look ahead. */
	if (sb.st_mtime > s->ref)
		s->ref = sb.st_mtime;
	if (!S_ISREG(sb.st_mode)) {
		snprintf(why, sizeof(why), "%s", S_ISDIR(sb.st_mode) ?
		    "a directory, not a file" : "not a regular file");
		goto damaged;
	}
	if (sb.st_size > FILE_MAX) {
		snprintf(why, sizeof(why), "larger than %ld bytes", FILE_MAX);
		goto damaged;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		diag_add(s->d, 1, "out of memory");
		goto out;
	}
	while (off < (size_t)sb.st_size + 1 && (r = read(fd, buf + off,
	    (size_t)sb.st_size + 1 - off)) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			if (transient(errno)) {
				diag_add(s->d, 1, "state file %s: %s",
				    s->path, strerror(errno));
				goto out;
			}
			snprintf(why, sizeof(why), "cannot be read: %s",
			    strerror(errno));
			goto damaged;
		}
		off += (size_t)r;
	}
	if (off > (size_t)sb.st_size) {
		snprintf(why, sizeof(why), "grew while read");
		goto damaged;
	}
	if (parse(s, buf, off, why, sizeof(why)) == 0) {
		rc = 0;
		goto index;	/* 0.1's files were migrated when it was made */
	}
	scan_ids(s, buf, off);
damaged:
	s->n = 0;
	if (!repair) {
		diag_add(s->d, 1, "state file %s: %s", s->path, why);
		goto out;
	}
	if (move_aside(s, why) == -1)
		goto out;
	rc = 0;
legacy:
	if (load_legacy(s) == -1)
		rc = -1;
index:
	if (rc == 0 && index_all(s, 0) == -1) {
		diag_add(s->d, 1, "out of memory");
		rc = -1;
	}
out:
	if (fd != -1)
		close(fd);
	free(buf);
	return rc;
}

/* Make the directory, if missing; it must be one. 0 or -1 (in d). */
static int
prepare(const char *dir, struct diag *d)
{
	struct stat	sb;

	if (stat(dir, &sb) == -1) {
		if (errno != ENOENT || mkdir(dir, 0755) == -1) {
			diag_add(d, 1, "state_dir %s: %s", dir,
			    strerror(errno));
			return -1;
		}
	} else if (!S_ISDIR(sb.st_mode)) {
		diag_add(d, 1, "state_dir %s: not a directory", dir);
		return -1;
	}
	return 0;
}

/*
 * The state directory exists (made if missing, one level) and is a
 * directory. Called at start while still privileged. 0 or -1 (in d).
 */
int
state_prepare(const char *dir, struct diag *d)
{
	return prepare(dir, d);
}

static void
st_close(struct st *s)
{
	size_t	i;

	if (s->lockfd != -1)
		close(s->lockfd);	/* releases the lock */
	hmap_free(&s->idx);
	free(s->e);
	for (i = 0; i < s->nlegacy; i++)
		free(s->legacy[i]);
	free(s->legacy);
}

/*
 * How long to wait for the lock. The CLI and a starting server wait up
 * to 10 s; a serving server waits only a moment (its one thread serves
 * nobody meanwhile) and lets its callers retry.
 */
static int	lock_wait_ms = 10000;

/* Wait at most ms for the lock from now on. */
void
state_lock_wait(int ms)
{
	lock_wait_ms = ms;
}

/* Paths, the directory, the lock. 0 or -1 (in d); st_close either way. */
static int
st_open(struct st *s, const char *dir, time_t now, struct diag *d)
{
	struct timespec	ts = { 0, 10 * 1000 * 1000 };
	int		waited;

	memset(s, 0, sizeof(*s));
	s->lockfd = -1;
	s->dir = dir;
	s->now = now;
	s->d = d;
	if ((size_t)snprintf(s->path, sizeof(s->path), "%s/" STATE_FILE,
	    dir) >= sizeof(s->path) || (size_t)snprintf(s->tmp,
	    sizeof(s->tmp), "%s/" STATE_FILE ".tmp", dir) >= sizeof(s->tmp) ||
	    (size_t)snprintf(s->lock, sizeof(s->lock), "%s/" STATE_LOCK,
	    dir) >= sizeof(s->lock)) {
		diag_add(d, 1, "state_dir %s: path too long", dir);
		return -1;
	}
	if (prepare(dir, d) == -1)
		return -1;
	/* Read-only is enough for flock and lets any writer share it. */
	if ((s->lockfd = open(s->lock, O_RDONLY | O_CREAT | O_CLOEXEC,
	    0644)) == -1) {
		diag_add(d, 1, "state_dir %s: cannot open the lock %s: %s",
		    dir, s->lock, strerror(errno));
		return -1;
	}
	/* Bounded: a stopped --print-dns must not hang the server. */
	for (waited = 0; flock(s->lockfd, LOCK_EX | LOCK_NB) == -1;
	    waited += 10) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			diag_add(d, 1, "state_dir %s: cannot lock %s: %s",
			    dir, s->lock, strerror(errno));
			return -1;
		}
		if (waited >= lock_wait_ms) {
			diag_add(d, 1, "state_dir %s: %s is held by another "
			    "process (mtasts-httpd --print-dns?) for more "
			    "than %d ms", dir, s->lock, lock_wait_ms);
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	return 0;
}

static int
write_fail(struct st *s, const char *what, const char *path, FILE *f)
{
	diag_add(s->d, 1, "state_dir %s: cannot %s %s: %s", s->dir, what,
	    path, strerror(errno));
	if (f != NULL)
		fclose(f);
	unlink(s->tmp);
	return -1;
}

static void
sync_dir(const char *dir)
{
	int	fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fsync(fd);
		close(fd);
	}
}

/* Replace the state file by s->e, durably; then drop legacy files. */
static int
st_write(struct st *s)
{
	FILE	*f = NULL;
	size_t	 i;
	int	 fd;

	/* a leftover of a killed writer, maybe another user's: ours now */
	if (unlink(s->tmp) == -1 && errno != ENOENT)
		return write_fail(s, "write", s->tmp, NULL);
	if ((fd = open(s->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1)
		return write_fail(s, "write", s->tmp, NULL);
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		return write_fail(s, "write", s->tmp, NULL);
	}
	fprintf(f, "%s %s\n", STATE_MAGIC, STATE_VERSION);
	for (i = 0; i < s->n; i++)
		fprintf(f, "%s %s %s %d\n", s->e[i].domain, s->e[i].id,
		    s->e[i].hash, s->e[i].announced);
	fprintf(f, "end %zu\n", s->n);
	if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) == -1)
		return write_fail(s, "write", s->tmp, f);
	if (fclose(f) != 0)
		return write_fail(s, "write", s->tmp, NULL);
	if (rename(s->tmp, s->path) == -1)
		return write_fail(s, "replace", s->path, NULL);
	sync_dir(s->dir);	/* the rename itself, durably */
	if (s->nlegacy > 0) {
		for (i = 0; i < s->nlegacy; i++)
			if (unlink(s->legacy[i]) == -1 && errno != ENOENT)
				diag_add(s->d, 0, "state_dir %s: cannot "
				    "remove the old %s: %s", s->dir,
				    s->legacy[i], strerror(errno));
		sync_dir(s->dir);
	}
	s->dirty = 0;
	return 0;
}

/* Write what changed, if ok, then close: 0, or -1 if !ok or unwritten. */
static int
st_done(struct st *s, int ok)
{
	if (ok && s->dirty && st_write(s) == -1)
		ok = 0;
	st_close(s);
	return ok ? 0 : -1;
}

/*
 * Give every domain in r its id for its policy: the stored one (and its
 * announced flag) when the policy bytes are unchanged, else a new one,
 * greater than any before for that domain, not yet announced (minted
 * set). All of r are persisted together before this returns, or none.
 * Lines of domains not in r are kept. Warnings (a damaged file moved
 * aside) and the error go into d. Then the policy history (history.c)
 * records them, with serving as history_update says, and sets r's notes.
 * Returns 0 or -1.
 */
int
state_commit(const char *dir, struct state_req *r, size_t n, int serving,
    time_t now, struct diag *d)
{
	struct st	 s;
	struct ent	*e;
	char		 hash[65];
	const char	*prev;
	size_t		 i;

	if (st_open(&s, dir, now, d) == -1 || load(&s, 1) == -1 ||
	    index_all(&s, n) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		if (!domain_ok(r[i].domain, strlen(r[i].domain))) {
			diag_add(d, 1, "state_dir %s: domain '%s' cannot be "
			    "stored", dir, r[i].domain);
			goto out;
		}
		hexhash(r[i].policy, r[i].len, hash);
		r[i].minted = 0;
		if ((e = find(&s, r[i].domain)) != NULL &&
		    strcmp(e->hash, hash) == 0) {
			memcpy(r[i].id, e->id, sizeof(e->id));
			r[i].announced = e->announced;
			continue;
		}
		prev = s.floor[0] != '\0' ? s.floor : NULL;
		if (e != NULL && (prev == NULL || strcmp(e->id, prev) > 0))
			prev = e->id;
		if (state_next_id(prev, now, r[i].id) == -1) {
			diag_add(d, 1, "cannot format the time as an id");
			goto out;
		}
		if (e == NULL) {
			e = &s.e[s.n++];	/* room reserved above */
			snprintf(e->domain, sizeof(e->domain), "%s",
			    r[i].domain);
			hmap_put(&s.idx, e->domain, (void *)(uintptr_t)s.n);
		}
		memcpy(e->id, r[i].id, sizeof(e->id));
		memcpy(e->hash, hash, sizeof(hash));
		e->announced = r[i].announced = 0;
		r[i].minted = 1;
		s.dirty = 1;
	}
	if (s.dirty && st_write(&s) == -1)
		goto out;
	/* Still under the lock; after the ids, which must not wait on it
	 * (a crash in between is made good by the next commit). */
	history_update(dir, r, n, serving, now, d);
	st_close(&s);
	return 0;
out:
	return st_done(&s, 0);
}

/*
 * Record that the announcement of r[i].id for r[i].domain is done, for
 * each i whose stored id is still that one (a newer id or a damaged file
 * leaves it alone). Sets r[i].announced when it is (now or before).
 * Returns 0, or -1 with the error in d.
 */
int
state_mark(const char *dir, struct state_req *r, size_t n, time_t now,
    struct diag *d)
{
	struct st	 s;
	struct ent	*e;
	size_t		 i;

	if (st_open(&s, dir, now, d) == -1 || load(&s, 0) == -1)
		return st_done(&s, 0);
	s.dirty = 0;	/* only a mark is worth a write here */
	for (i = 0; i < n; i++) {
		r[i].announced = 0;
		if ((e = find(&s, r[i].domain)) == NULL ||
		    strcmp(e->id, r[i].id) != 0)
			continue;
		if (!e->announced)
			s.dirty = 1;
		e->announced = r[i].announced = 1;
	}
	return st_done(&s, 1);
}
