/*
 * rptrecv.c: the TLS report receiver (tlsrpt_receive yes): RFC 8460 3's
 * "https:" route, POST /.well-known/tlsrpt. http.c hands it a request's
 * address before reading the body (admission: a rate per address and
 * one for everyone) and then the whole body, capped; here it is checked
 * (tlsrpt.c: it must inflate within the cap, parse as a report, and name
 * configured domains only) and stored under <state_dir>/tlsrpt, one file
 * per report (named by its hash), as received. All of it runs in the serving loop, so
 * every step is bounded: the body (1 MiB), its inflated size (2 MiB: the
 * parse holds up to some 12 times that for a moment),
 * the reports an address and everyone may send per hour (and one at a
 * time from each), what the directory may hold and what it leaves free.
 */
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <netinet/in.h>

#include <dirent.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "compat.h"
#include "mtasts.h"

/*
 * Each address (an IPv6 one by its /64) may send BURST reports at once
 * and one more every REFILL seconds: a reporter sends one a day per
 * policy domain, so this holds a busy reporter of many domains. All
 * addresses together: ALL_BURST, one more every ALL_REFILL seconds.
 */
#define PEER_BURST	30
#define PEER_REFILL	60
#define ALL_BURST	300
#define ALL_REFILL	6
#define NPEERS		512	/* addresses remembered, most recent win */

struct bucket {
	unsigned char	key[17];	/* family, then 4 or 8 bytes */
	double		tokens;
	time_t		at;		/* when tokens was last filled */
	int		uploads;	/* under way: one at a time */
};

static struct bucket	peers[NPEERS];
static struct bucket	all = { { 0 }, ALL_BURST, 0, 0 };
static long long	used = -1;	/* bytes in the directory; -1: count */
static char		used_dir[4096];	/* the directory used counts */

/* Take a token from b (burst, one more every refill s). 0, or -1. */
static int
take(struct bucket *b, int burst, int refill, time_t now)
{
	if (b->at == 0)
		b->tokens = burst;
	else if (now > b->at) {
		b->tokens += (double)(now - b->at) / refill;
		if (b->tokens > burst)
			b->tokens = burst;
	}
	b->at = now;
	if (b->tokens < 1)
		return -1;
	b->tokens -= 1;
	return 0;
}

static void
peer_key(const struct sockaddr *sa, unsigned char key[17])
{
	const struct in6_addr	*a6;

	memset(key, 0, 17);
	if (sa == NULL)
		return;
	key[0] = (unsigned char)sa->sa_family;
	if (sa->sa_family == AF_INET)
		memcpy(key + 1, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, 4);
	else if (sa->sa_family == AF_INET6) {
		a6 = &((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr;
		/* IPv4 on a dual-stack socket: by its IPv4 address, or all
		 * of IPv4 would share one ::ffff:0:0/64 bucket */
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			key[0] = AF_INET;
			memcpy(key + 1, a6->s6_addr + 12, 4);
		} else
			memcpy(key + 1, a6->s6_addr, 8);
	}
}

static struct bucket *
bucket_of(const struct sockaddr *peer)
{
	unsigned char	 key[17];
	struct bucket	*b;
	unsigned	 h = 2166136261u;
	size_t		 i;

	peer_key(peer, key);
	for (i = 0; i < sizeof(key); i++)
		h = (h ^ key[i]) * 16777619u;
	b = &peers[h % NPEERS];
	if (memcmp(b->key, key, sizeof(key)) != 0) {
		memcpy(b->key, key, sizeof(key));
		b->at = 0;
		b->uploads = 0;
	}
	return b;
}

/*
 * A report POST from peer may go on to send its body: 0, or the status
 * to refuse it with (429: this address or everyone is over the rate).
 */
int
rptrecv_admit(const struct sockaddr *peer, time_t now)
{
	struct bucket	*b = bucket_of(peer);

	/* one upload at a time: slow senders cannot hold many buffers */
	if (b->uploads > 0)
		return 429;
	if (take(b, PEER_BURST, PEER_REFILL, now) == -1)
		return 429;
	if (take(&all, ALL_BURST, ALL_REFILL, now) == -1) {
		b->tokens += 1;
		return 429;
	}
	b->uploads++;
	return 0;
}

/* An upload rptrecv_admit() let in is over. */
void
rptrecv_done(const struct sockaddr *peer)
{
	struct bucket	*b = bucket_of(peer);

	if (b->uploads > 0)
		b->uploads--;
}

/* The report kind a Content-Type names: 1 gzip, 0 JSON, -1 neither. */
int
rptrecv_type(const char *ctype)
{
	size_t	n;

	if (ctype == NULL)
		return -1;
	n = strcspn(ctype, "; \t");
	if (n == 23 && strncasecmp(ctype, "application/tlsrpt+gzip", 23) ==
	    0)
		return 1;
	if (n == 23 && strncasecmp(ctype, "application/tlsrpt+json", 23) ==
	    0)
		return 0;
	return -1;
}

/* The bytes the regular files of dir hold now (in blocks, as a full
 * disk counts them). */
static long long
dir_bytes(const char *dir)
{
	struct dirent	*e;
	struct stat	 st;
	long long	 sum = 0;
	char		 path[4096];
	DIR		*d;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) <
		    (int)sizeof(path) && stat(path, &st) == 0 &&
		    S_ISREG(st.st_mode))
			sum += (long long)st.st_blocks * 512;
	}
	closedir(d);
	return sum;
}

/* "<type> N, ..." of a report's failure details, into buf. */
static void
failures(const struct tlsrpt *r, char *buf, size_t cap)
{
	const char	*seen[16];
	long long	 n[16];
	size_t		 i, j, k, ns = 0, off = 0;
	int		 w;

	for (i = 0; i < r->np; i++)
		for (j = 0; j < r->p[i].nd; j++) {
			for (k = 0; k < ns; k++)
				if (strcmp(seen[k], r->p[i].d[j].result) == 0)
					break;
			if (k == ns) {
				if (ns == 16)
					continue;
				seen[ns] = r->p[i].d[j].result;
				n[ns++] = 0;
			}
			n[k] = n[k] > LLONG_MAX - r->p[i].d[j].count ?
			    LLONG_MAX : n[k] + r->p[i].d[j].count;
		}
	buf[0] = '\0';
	for (k = 0; k < ns && off < cap; k++) {
		w = snprintf(buf + off, cap - off, "%s%s %lld",
		    k == 0 ? " (" : ", ", seen[k], n[k]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	if (ns > 0 && off < cap)
		snprintf(buf + off, cap - off, ")");
}

/*
 * The whole body of a report POST (gz: application/tlsrpt+gzip) from
 * peer (for the log), to be stored under s's directory. Returns the
 * status to answer, with msg (one line) for its body: 201 stored, 200
 * stored before (the same bytes), 400 not a report of ours, 413 too
 * large inflated, 503 the receiver turned off meanwhile, 507 the
 * directory full, the file system nearly so, or unwritable.
 */
int
rptrecv_store(const struct snapshot *s, int gz, const char *body,
    size_t len, const char *peer, time_t now, char *msg, size_t msglen)
{
	struct tlsrpt	 r;
	struct stat	 st;
	struct statvfs	 vfs;
	unsigned char	 h[32];
	char		 err[512], path[4096], fails[300], start[32], end[32];
	char		*json = NULL;
	const char	*text = body;
	long long	 ok = 0, bad = 0;
	size_t		 jlen = len, i;
	int		 status;
	struct tm	 tm;

	(void)now;
	memset(&r, 0, sizeof(r));
	if (s == NULL || s->tlsrpt_dir == NULL) {
		/* a reload turned the receiver off during the upload */
		snprintf(msg, msglen, "not receiving reports now");
		return 503;
	}
	if (gz) {
		if (tlsrpt_inflate((const unsigned char *)body, len,
		    RPTRECV_JSON_MAX, &json, &jlen, err, sizeof(err)) == -1) {
			status = strstr(err, "larger than") != NULL ? 413 :
			    400;
			snprintf(msg, msglen, "%s", err);
			goto out;
		}
		text = json;
	}
	if (tlsrpt_parse(text, jlen, &r, err, sizeof(err)) == -1) {
		snprintf(msg, msglen, "not a TLS report: %s", err);
		status = 400;
		goto out;
	}
	if (r.np == 0) {
		snprintf(msg, msglen, "report %s names no policy domain",
		    r.id);
		status = 400;
		goto out;
	}
	for (i = 0; i < r.np; i++) {
		if (snap_domain(s, r.p[i].domain) == NULL) {
			snprintf(msg, msglen, "report %s is for %s, not a "
			    "domain served here", r.id, r.p[i].domain);
			status = 400;
			goto out;
		}
		ok = ok > LLONG_MAX - r.p[i].success ? LLONG_MAX :
		    ok + r.p[i].success;
		bad = bad > LLONG_MAX - r.p[i].failure ? LLONG_MAX :
		    bad + r.p[i].failure;
	}
	/*
	 * Named by the hash of what was sent: the same bytes again are the
	 * same file, and a report sent first under someone else's report-id
	 * cannot keep the real one out (--report counts each id once, and
	 * both when they differ).
	 */
	if (compat_sha256((const unsigned char *)body, len, h) != 0) {
		snprintf(msg, msglen, "internal error");
		status = 500;
		goto out;
	}
	i = (size_t)snprintf(path, sizeof(path), "%s/", s->tlsrpt_dir);
	for (size_t k = 0; k < sizeof(h) && i + 3 < sizeof(path); k++)
		i += (size_t)snprintf(path + i, sizeof(path) - i, "%02x",
		    h[k]);
	snprintf(path + i, sizeof(path) - i, "%s", gz ? ".json.gz" : ".json");
	if (stat(path, &st) == 0) {
		snprintf(msg, msglen, "report %s already stored", r.id);
		log_info("tlsrpt: %s: report %s from %s again: already stored",
		    peer, r.id, r.org[0] != '\0' ? r.org : "(no organization)");
		status = 200;
		goto out;
	}
	if (mkdir(s->tlsrpt_dir, 0750) == -1 && errno != EEXIST) {
		log_warn("tlsrpt: %s", s->tlsrpt_dir);
		snprintf(msg, msglen, "cannot store reports now");
		status = 507;
		goto out;
	}
	if (strcmp(used_dir, s->tlsrpt_dir) != 0) {
		snprintf(used_dir, sizeof(used_dir), "%s", s->tlsrpt_dir);
		used = -1;
	}
	if (used < 0 || used + (long long)len > s->tlsrpt_max)
		used = dir_bytes(s->tlsrpt_dir);	/* someone cleaned up? */
	if (used + (long long)len > s->tlsrpt_max) {
		log_warnx("tlsrpt: %s: report %s refused: %s holds %lld "
		    "bytes, the most it may (tlsrpt_store_max %lld MiB); read "
		    "them (mtasts-httpd --report) and remove old ones", peer,
		    r.id, s->tlsrpt_dir, used, s->tlsrpt_max / 1024 / 1024);
		snprintf(msg, msglen, "no room for more reports now");
		status = 507;
		goto out;
	}
	/* the state file and the history live there too: room for them */
	if (statvfs(s->tlsrpt_dir, &vfs) == 0 && (long long)vfs.f_bavail *
	    (long long)vfs.f_frsize < (long long)len + RPTRECV_RESERVE) {
		log_warnx("tlsrpt: %s: report %s refused: less than %d MiB "
		    "would be left free where %s is", peer, r.id,
		    RPTRECV_RESERVE / 1024 / 1024, s->tlsrpt_dir);
		snprintf(msg, msglen, "no room for more reports now");
		status = 507;
		goto out;
	}
	if (file_write_atomic(path, body, len, 0640, err, sizeof(err)) ==
	    -1) {
		log_warnx("tlsrpt: %s: report %s not stored: %s", peer, r.id,
		    err);
		snprintf(msg, msglen, "cannot store reports now");
		status = 507;
		goto out;
	}
	used += ((long long)len + 4095) / 4096 * 4096;	/* in blocks */
	gmtime_r(&r.start, &tm);
	strftime(start, sizeof(start), "%Y-%m-%d %H:%M", &tm);
	gmtime_r(&r.end, &tm);
	strftime(end, sizeof(end), "%Y-%m-%d %H:%M", &tm);
	failures(&r, fails, sizeof(fails));
	(bad > 0 ? log_warnx : log_info)("tlsrpt: %s: report %s from %s for "
	    "%s%s, %s to %s UTC: %lld sessions succeeded, %lld failed%s",
	    peer, r.id, r.org[0] != '\0' ? r.org : "(no organization)",
	    r.p[0].domain, r.np > 1 ? " and more" : "", start, end, ok, bad,
	    fails);
	snprintf(msg, msglen, "report %s stored", r.id);
	status = 201;
out:
	free(json);
	tlsrpt_free(&r);
#ifdef __GLIBC__
	/* the parse's megabytes back to the system, not kept for the next */
	malloc_trim(0);
#endif
	return status;
}
