/*
 * dnswatch.c: while serving, the DNS-side checks of live.c (txt, mx,
 * tlsrpt, cached) in a round every check_interval seconds and after every
 * policy change, and only changes of their results logged: "DNS still
 * announces id X; publish: ..." once, then "DNS now announces id Y".
 *
 * A round runs in a child (the resolver blocks), forked from the serving
 * parent, which reads its lines from a pipe as they come and never waits
 * on it; a round that outlives ROUND_MAX_MS is killed. The parent keeps
 * the last round's lines per domain and check, to log only what is new.
 */
#include <sys/epoll.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mtasts.h"

static const char levels[] = "PWF";	/* LIVE_PASS, _WARN, _FAIL */
#define NO_ANSWER	"no answer from the resolver"	/* dnsq.c's words */


#define ROUND_MAX_MS	(300 * 1000)	/* a round longer is killed */
/* What a round may say: its lines (a few hundred bytes per domain) */
#define OUT_MAX(n)	((size_t)(n) * 8192 + 65536)

static struct {
	const struct conf	*c;
	char			**ids;	/* per conf domain, our copies */
	size_t			  nids;
	pid_t			  pid;	/* the round running, or 0 */
	int64_t			  started;
	int64_t			  next;	/* the next round, ms; 0: none */
	struct ev		  ev;	/* its pipe */
	char			 *buf;
	size_t			  len;
	int			  overflow;
	struct seen {
		char	*key;		/* "domain\tcheck" */
		char	*lines;		/* its lines of the last round */
	}			 *last;
	size_t			  nlast;
	int			  resolver_down;	/* said so */
} w = { .ev = { .fd = -1 } };

/* In the child: one line per result, buffered: the parent reads until
 * EOF anyway, and one write per line woke it once per line. */
static void
pipe_line(void *arg, int level, const char *domain, const char *check,
    const char *extra, const char *detail)
{
	fprintf(arg, "%c\t%s\t%s\t%s\t%s\n", levels[level], domain, check,
	    extra, detail);
}

static void
round_child(int fd)
{
	struct history	 h;
	struct diag	 d = { 0 };
	FILE		*out;
	size_t		 i;

	child_init(fd);
	if ((out = fdopen(fd, "w")) == NULL)
		_exit(1);
	setvbuf(out, NULL, _IOFBF, 65536);
	history_load(w.c->state_dir, &h, &d);
	for (i = 0; i < w.c->ndomains && i < w.nids; i++)
		live_domain(w.c, i, w.ids[i], &h, NULL, LIVE_DNS, pipe_line,
		    out);
	fputs("done\n", out);
	fflush(out);
	_exit(0);
}

static void
free_seen(struct seen *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].lines);
	}
	free(v);
}

static struct seen *
seen_find(struct seen *v, size_t n, const char *key)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].key, key) == 0)
			return &v[i];
	return NULL;
}

static void
stop_round(void)
{
	if (w.ev.fd != -1) {
		loop_del(&w.ev);
		close(w.ev.fd);
		w.ev.fd = -1;
	}
	if (w.pid > 0)
		kill(w.pid, SIGKILL);	/* reaped by dnswatch_reap() */
	free(w.buf);
	w.buf = NULL;
	w.len = 0;
	w.overflow = 0;
}

/* Whether line is one of the newline-separated lines of set. */
static int
has_line(const char *set, const char *line, size_t len)
{
	const char	*p, *nl;

	for (p = set; p != NULL && *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			return 0;
		if ((size_t)(nl - p) == len && memcmp(p, line, len) == 0)
			return 1;
	}
	return 0;
}

/* Log one result that is new since the last round; a resolver that does
 * not answer is said once, when it stops, not once per check. */
static void
log_result(const char *line, size_t len, int had, int *resolver_failed)
{
	char	 buf[3000], *f[5], *p, *tab, *rec;
	size_t	 i;

	snprintf(buf, sizeof(buf), "%.*s", (int)len, line);
	/* level, domain, check, extra, detail; extra may be empty */
	for (p = buf, i = 0; i < 5; i++) {
		f[i] = p;
		if (i < 4 && (tab = strchr(p, '\t')) != NULL) {
			*tab = '\0';
			p = tab + 1;
		} else if (i < 4)
			p = (char *)"";
	}
	for (i = 0; i < w.nids && i < w.c->ndomains; i++)
		if (strcmp(w.c->domains[i].name, f[1]) == 0)
			break;
	if (strcmp(f[2], "txt") == 0 && i < w.nids && f[3][0] != '\0' &&
	    strcmp(f[3], "+") != 0) {
		if (strcmp(f[3], w.ids[i]) != 0) {
			rec = dns_sts_record(f[1], w.ids[i]);
			log_warnx("%s: DNS still announces id %s; publish: %s",
			    f[1], f[3], rec != NULL ? rec : "?");
			free(rec);
		} else
			log_info("%s: DNS %sannounces id %s", f[1],
			    had ? "now " : "", f[3]);
		return;
	}
	if (f[0][0] != 'P' && strstr(f[4], NO_ANSWER) != NULL) {
		if (!w.resolver_down)
			log_warnx("DNS checks: %s; checked again in %d s", f[4],
			    w.c->check_interval);
		w.resolver_down = *resolver_failed = 1;
		return;
	}
	if (f[0][0] == 'P')
		log_info("%s: %s: %s%s", f[1], f[2], had ? "now: " : "", f[4]);
	else
		log_warnx("%s: %s: %s", f[1], f[2], f[4]);
}

/* A round is complete: log what differs from the last one. */
static void
round_done(void)
{
	struct seen	*now = NULL, *v, *old, *nv;
	size_t		 nnow = 0, klen, have;
	char		*p, *nl, *tab1, *tab2, key[600], *nb;
	int		 resolver_failed = 0;

	if (w.overflow || w.len < 5 || memcmp(w.buf + w.len - 5, "done\n",
	    5) != 0) {
		log_warnx("DNS checks: the round %s; next in %d s",
		    w.overflow ? "said more than it may (or memory ran out)" :
		    "ended early", w.c->check_interval);
		return;
	}
	w.buf[w.len - 5] = '\0';
	/* group the lines by "domain<TAB>check", in order */
	for (p = w.buf; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		if (nl - p < 2 || (tab1 = memchr(p + 2, '\t',
		    (size_t)(nl - p - 2))) == NULL || (tab2 = memchr(tab1 + 1,
		    '\t', (size_t)(nl - tab1 - 1))) == NULL)
			continue;
		klen = (size_t)(tab2 - (p + 2));
		if (klen >= sizeof(key))
			continue;
		memcpy(key, p + 2, klen);
		key[klen] = '\0';
		old = seen_find(w.last, w.nlast, key);
		if (old == NULL || !has_line(old->lines, p, (size_t)(nl - p)))
			log_result(p, (size_t)(nl - p), old != NULL,
			    &resolver_failed);
		else if (memmem(p, (size_t)(nl - p), NO_ANSWER,
		    sizeof(NO_ANSWER) - 1) != NULL)
			resolver_failed = 1;
		if ((v = seen_find(now, nnow, key)) == NULL) {
			if ((nv = realloc(now, (nnow + 1) * sizeof(*nv))) ==
			    NULL)
				break;
			now = nv;
			v = &now[nnow];
			if ((v->key = strdup(key)) == NULL)
				break;
			v->lines = NULL;
			nnow++;
		}
		have = v->lines != NULL ? strlen(v->lines) : 0;
		if ((nb = realloc(v->lines, have + (size_t)(nl - p) + 2)) ==
		    NULL)
			break;
		memcpy(nb + have, p, (size_t)(nl - p) + 1);
		nb[have + (size_t)(nl - p) + 1] = '\0';
		v->lines = nb;
	}
	free_seen(w.last, w.nlast);
	w.last = now;
	w.nlast = nnow;
	if (!resolver_failed)
		w.resolver_down = 0;	/* said again if it stops again */
}

static void
pipe_ready(struct ev *ev, uint32_t events)
{
	char	 chunk[4096], *nb;
	ssize_t	 n;

	(void)events;
	for (;;) {
		n = read(ev->fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0)
			break;
		if (w.len + (size_t)n + 1 > OUT_MAX(w.nids)) {
			w.overflow = 1;
			continue;
		}
		if ((nb = realloc(w.buf, w.len + (size_t)n + 1)) == NULL) {
			w.overflow = 1;
			continue;
		}
		w.buf = nb;
		memcpy(w.buf + w.len, chunk, (size_t)n);
		w.len += (size_t)n;
		w.buf[w.len] = '\0';
	}
	round_done();
	stop_round();
}

static void
start_round(void)
{
	int	 p[2];
	pid_t	 pid;

	w.next = now_ms() + (int64_t)w.c->check_interval * 1000;
	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("DNS checks: pipe");
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("DNS checks: fork");
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid == 0) {
		close(p[0]);
		round_child(p[1]);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	w.pid = pid;
	w.started = now_ms();
	w.ev.fd = p[0];
	w.ev.cb = pipe_ready;
	if (loop_add(&w.ev, EPOLLIN) == -1) {
		log_warn("DNS checks: epoll");
		stop_round();
	}
}

static void
free_ids(void)
{
	size_t	i;

	for (i = 0; i < w.nids; i++)
		free(w.ids[i]);
	free(w.ids);
	w.ids = NULL;
	w.nids = 0;
}

/*
 * The config in force and its ids (ids[i] for c's domain i): a round of
 * the DNS-side checks now (a policy may have changed), then every
 * check_interval seconds. A running round is dropped. c must outlive the
 * next call.
 */
void
dnswatch_start(const struct conf *c, const char *const *ids, size_t n)
{
	size_t	i;

	stop_round();
	free_ids();
	w.c = c;	/* even when off: the old one may be freed now */
	w.next = 0;
	if (c->check_interval == 0 || (n > 0 && ids == NULL))
		return;
	if ((w.ids = calloc(n + 1, sizeof(*w.ids))) == NULL)
		goto nomem;
	for (i = 0; i < n; i++)
		if ((w.ids[i] = strdup(ids[i])) == NULL) {
			w.nids = i;
			free_ids();
			goto nomem;
		}
	w.nids = n;
	w.next = now_ms();
	return;
nomem:
	log_warnx("out of memory: DNS checks stopped until the next reload");
}

/* Timers: start a round when due, kill one that runs too long. ms to
 * wait, or -1. */
int
dnswatch_expire(void)
{
	int64_t	now = now_ms(), left;

	dnswatch_reap();	/* should a SIGCHLD have been missed */
	if (w.ev.fd != -1) {
		if (now - w.started < ROUND_MAX_MS)
			return (int)(ROUND_MAX_MS - (now - w.started));
		log_warnx("DNS checks: no answer in %d s (is the resolver "
		    "down?); next in %d s", ROUND_MAX_MS / 1000,
		    w.c->check_interval);
		stop_round();
	}
	if (w.next == 0)
		return -1;
	if (w.pid == 0 && now >= w.next)
		start_round();
	if (w.pid != 0 && w.ev.fd == -1)
		return 1000;	/* the last round not reaped yet */
	if (w.ev.fd != -1)
		return ROUND_MAX_MS;
	left = w.next - now;
	return left > 3600 * 1000 ? 3600 * 1000 : (int)left;
}

/* After SIGCHLD: reap our round, if it is done. */
void
dnswatch_reap(void)
{
	int	status;

	if (w.pid > 0 && waitpid(w.pid, &status, WNOHANG) == w.pid)
		w.pid = 0;
}

void
dnswatch_stop(void)
{
	int	status;

	stop_round();
	if (w.pid > 0)
		waitpid(w.pid, &status, 0);
	w.pid = 0;
	free_ids();
	free_seen(w.last, w.nlast);
	w.last = NULL;
	w.nlast = 0;
}
