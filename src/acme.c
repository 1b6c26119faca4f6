/*
 * acme.c: certificates for the ACME domains (RFC 8555), validated over
 * TLS-ALPN-01 (RFC 8737) on our own port 443.
 *
 * Two halves, as OpenBSD's acme-client keeps network work apart:
 * - the child, forked after the privilege drop, does all the network I/O
 *   (fetch.c, blocking with timeouts) and the account and certificate
 *   keys; it writes <state_dir>/acme/mta-sts.<domain>.pem (chain, then
 *   key: one rename installs both) and sleeps until the next renewal;
 * - the parent, in the serving loop, only reads the child's one-line
 *   messages: "challenge <host> <hex digest>" (set in tls.c, answered
 *   "ok <host>" or "err <host>"), "clear <host>", "installed <host>"
 *   (the server reloads). A crash or hang of the child never touches
 *   serving: it is restarted with backoff.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#include "mtasts.h"

#define ACME_DIR	"acme"
#define TIMEOUT_MS	10000	/* per connection, handshake, read */
#define POLL_MAX	300	/* seconds an authz or order may stay pending */
#define NONCE_TRIES	5	/* badNonce retries per request */
#define ORDER_PAUSE	40	/* seconds between two orders: Let's Encrypt
				 * allows 300 new orders per 3 hours */
#define RETRY_MIN	60	/* a failed order: first retry after */
#define RETRY_MAX	86400	/* ... doubling up to a day */
#define RESTART_MIN	10	/* a dead child: restart after (s) ... */
#define RESTART_MAX	3600	/* ... doubling up to an hour */
#define LINE_MAX_	512
#define ISSUER_TAG	"# acme_directory "	/* first line of a .pem */

/* ---- the parent ---- */

static pid_t		 child_pid = -1;
static struct ev	 child_ev = { .fd = -1 };
static char		 inbuf[LINE_MAX_];
static size_t		 inlen;
static char		*running_for;	/* the settings the child works for */
static const struct conf *cur_conf;
static void		(*on_installed)(void);
static int64_t		 restart_at;	/* 0: none due */
static int		 restart_wait = RESTART_MIN;
static int64_t		 started_at;
static pid_t		 dying_pid = -1;	/* SIGTERM sent, not reaped */
static int64_t		 dying_kill_at;		/* then SIGKILL */
static int64_t		 watch_at;	/* the next look at the certificates */

#define DYING_MS	5000
#define WATCH_MS	3600000	/* hourly: is a renewal overdue? */

static void	child_main(const struct conf *, int) __attribute__((noreturn));
static void	overdue(const struct conf *, time_t);
static void	retire(void);
struct client;
static void	tell_parent(struct client *, const char *, const char *);
static void	send_line(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

/* What the child depends on, as one string: a reload that changes none
 * of it leaves the child (and an order under way) alone. */
static char *
settings(const struct conf *c)
{
	char	*s = NULL, *n;
	size_t	 len = 0, i;
	int	 r;

	for (i = 0; i <= c->ndomains; i++) {
		if (i > 0 && !c->domains[i - 1].acme)
			continue;
		r = i == 0 ? snprintf(NULL, 0, "%s|%s|%s|%s|",
		    c->acme_directory, c->acme_email ? c->acme_email : "",
		    c->ca_bundle ? c->ca_bundle : "", c->state_dir) :
		    snprintf(NULL, 0, "%s|", c->domains[i - 1].name);
		if ((n = realloc(s, len + (size_t)r + 1)) == NULL) {
			free(s);
			return NULL;
		}
		s = n;
		if (i == 0)
			snprintf(s + len, (size_t)r + 1, "%s|%s|%s|%s|",
			    c->acme_directory, c->acme_email ?
			    c->acme_email : "", c->ca_bundle ? c->ca_bundle :
			    "", c->state_dir);
		else
			snprintf(s + len, (size_t)r + 1, "%s|",
			    c->domains[i - 1].name);
		len += (size_t)r;
	}
	return s;
}

static int
has_acme(const struct conf *c)
{
	size_t	i;

	if (c->acme_directory == NULL)
		return 0;
	for (i = 0; i < c->ndomains; i++)
		if (c->domains[i].acme)
			return 1;
	return 0;
}

static void
send_line(const char *fmt, ...)
{
	char	buf[LINE_MAX_];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) - 1 || child_ev.fd == -1)
		return;
	buf[n++] = '\n';
	if (send(child_ev.fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) !=
	    n)
		log_warn("acme: telling the child");
}

static int
unhex(const char *s, unsigned char *out, size_t n)
{
	size_t	i;
	int	hi, lo;

	for (i = 0; i < n; i++) {
		hi = s[2 * i];
		lo = hi != '\0' ? s[2 * i + 1] : '\0';
		hi = hi >= '0' && hi <= '9' ? hi - '0' : hi >= 'a' &&
		    hi <= 'f' ? hi - 'a' + 10 : -1;
		lo = lo >= '0' && lo <= '9' ? lo - '0' : lo >= 'a' &&
		    lo <= 'f' ? lo - 'a' + 10 : -1;
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return s[2 * n] == '\0' ? 0 : -1;
}

/* Is host one of c's ACME hosts? The child asks only for those. */
static int
acme_host(const struct conf *c, const char *host)
{
	size_t	i;

	if (strncmp(host, "mta-sts.", 8) != 0)
		return 0;
	for (i = 0; i < c->ndomains; i++)
		if (c->domains[i].acme &&
		    strcmp(c->domains[i].name, host + 8) == 0)
			return 1;
	return 0;
}

static void
child_line(char *line)
{
	unsigned char	 digest[32];
	char		 err[256], *verb, *host, *arg;

	verb = strtok(line, " ");
	host = strtok(NULL, " ");
	arg = strtok(NULL, " ");
	if (verb == NULL || host == NULL || !acme_host(cur_conf, host)) {
		log_warnx("acme: the child sent something odd");
		return;
	}
	if (strcmp(verb, "challenge") == 0) {
		if (arg == NULL || unhex(arg, digest, sizeof(digest)) == -1) {
			send_line("err %s", host);
			return;
		}
		if (tls_challenge_set(host, digest, err, sizeof(err)) == -1) {
			log_warnx("acme %s: %s", host, err);
			send_line("err %s", host);
			return;
		}
		log_debug("acme %s: answering acme-tls/1", host);
		send_line("ok %s", host);
	} else if (strcmp(verb, "clear") == 0)
		tls_challenge_clear(host);
	else if (strcmp(verb, "installed") == 0) {
		if (on_installed != NULL)
			on_installed();
	} else
		log_warnx("acme: the child sent something odd");
}

static void
child_close(void)
{
	if (child_ev.fd != -1) {
		loop_del(&child_ev);
		close(child_ev.fd);
		child_ev.fd = -1;
	}
	inlen = 0;
	tls_challenge_clear(NULL);
}

static void
child_ready(struct ev *ev, uint32_t events)
{
	char	*nl;
	ssize_t	 n;

	(void)events;
	/* One read per wake-up (the loop comes back while more waits): a
	 * chatty child cannot hold the serving loop. */
	n = recv(ev->fd, inbuf + inlen, sizeof(inbuf) - 1 - inlen,
	    MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {		/* it died: acme_reap() restarts it */
		child_close();
		return;
	}
	inlen += (size_t)n;
	inbuf[inlen] = '\0';
	while ((nl = memchr(inbuf, '\n', inlen)) != NULL) {
		*nl = '\0';
		child_line(inbuf);
		if (child_ev.fd == -1)
			return;
		inlen -= (size_t)(nl + 1 - inbuf);
		memmove(inbuf, nl + 1, inlen);
	}
	if (inlen == sizeof(inbuf) - 1) {
		log_warnx("acme: the child sent a line too long");
		inlen = 0;
	}
}

static int
spawn(const struct conf *c)
{
	int		sp[2];
	pid_t		pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("acme: socketpair");
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("acme: fork");
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	if (pid == 0) {
		child_init(sp[1]);
		child_main(c, sp[1]);
	}
	close(sp[1]);
	child_pid = pid;
	started_at = now_ms();
	child_ev.fd = sp[0];
	child_ev.cb = child_ready;
	if (loop_add(&child_ev, EPOLLIN) == -1) {
		log_warn("acme: epoll_ctl");
		close(sp[0]);
		child_ev.fd = -1;
	}
	log_debug("acme: child %ld started", (long)pid);
	return 0;
}

/*
 * Run (or keep running) the ACME child for c's ACME domains; c must stay
 * valid until the next acme_start() or acme_stop(). installed() is called
 * when a new certificate is in place. 0, or -1 if it cannot be started
 * (then it is retried from acme_expire()).
 */
int
acme_start(const struct conf *c, void (*installed)(void))
{
	char	*want;

	cur_conf = c;
	on_installed = installed;
	if (!has_acme(c)) {
		restart_at = 0;
		free(running_for);
		running_for = NULL;
		retire();
		return 0;
	}
	if ((want = settings(c)) == NULL)
		return -1;
	if ((child_pid != -1 || restart_at != 0) && running_for != NULL &&
	    strcmp(want, running_for) == 0) {
		free(want);
		return 0;
	}
	restart_at = 0;
	free(running_for);
	retire();		/* a new child for the new settings */
	running_for = want;
	cur_conf = c;
	on_installed = installed;
	if (spawn(c) == -1) {
		restart_at = now_ms() + 1000LL * restart_wait;
		return -1;
	}
	return 0;
}

/* After SIGCHLD: a dead child is restarted later, with backoff. */
void
acme_reap(void)
{
	int	status;

	if (dying_pid != -1 && waitpid(dying_pid, NULL, WNOHANG) == dying_pid)
		dying_pid = -1;
	if (child_pid == -1 || waitpid(child_pid, &status, WNOHANG) !=
	    child_pid)
		return;
	child_pid = -1;
	child_close();
	if (now_ms() - started_at > 600000)
		restart_wait = RESTART_MIN;	/* it had been running well */
	if (WIFSIGNALED(status))
		log_warnx("acme: child exited on signal %d; restarting in "
		    "%d s", WTERMSIG(status), restart_wait);
	else
		log_warnx("acme: child exited with status %d; restarting "
		    "in %d s", WEXITSTATUS(status), restart_wait);
	restart_at = now_ms() + 1000LL * restart_wait;
	restart_wait = restart_wait * 2 > RESTART_MAX ? RESTART_MAX :
	    restart_wait * 2;
}

static int64_t
sooner(int64_t a, int64_t b)
{
	return a == 0 || (b != 0 && b < a) ? b : a;
}

/* Timers: a restart due, a dying child to kill, the hourly look at the
 * certificates. ms until the next, or -1. */
int
acme_expire(void)
{
	int64_t	now = now_ms(), next = 0;

	if (dying_pid != -1 && dying_kill_at <= now) {
		kill(dying_pid, SIGKILL);
		dying_kill_at = now + DYING_MS;	/* reaped by acme_reap() */
	}
	if (restart_at != 0 && restart_at <= now) {
		restart_at = 0;
		if (cur_conf != NULL && has_acme(cur_conf) && spawn(cur_conf) ==
		    -1)
			restart_at = now + 1000LL * restart_wait;
	}
	if (cur_conf != NULL && has_acme(cur_conf)) {
		if (watch_at == 0)
			watch_at = now + WATCH_MS;
		else if (watch_at <= now) {
			overdue(cur_conf, time(NULL));
			watch_at = now + WATCH_MS;
		}
		next = watch_at;
	}
	next = sooner(next, restart_at);
	if (dying_pid != -1)
		next = sooner(next, dying_kill_at);
	return next == 0 ? -1 : (int)(next > now ? next - now : 0);
}

/* Stop the child without waiting for it: acme_reap() reaps it, and
 * acme_expire() kills it for sure after DYING_MS. */
static void
retire(void)
{
	child_close();
	if (child_pid == -1)
		return;
	if (dying_pid != -1)		/* one at a time: that one for sure */
		kill(dying_pid, SIGKILL);
	kill(child_pid, SIGTERM);
	dying_pid = child_pid;
	dying_kill_at = now_ms() + DYING_MS;
	child_pid = -1;
}

/* At shutdown: stop the child and wait for it (5 s at most, then for
 * sure); the server is not serving any more. */
void
acme_stop(void)
{
	int	i;

	restart_at = 0;
	free(running_for);
	running_for = NULL;
	retire();
	if (dying_pid == -1)
		return;
	for (i = 0; i < DYING_MS / 100; i++) {
		if (waitpid(dying_pid, NULL, WNOHANG) == dying_pid) {
			dying_pid = -1;
			return;
		}
		usleep(100000);
	}
	kill(dying_pid, SIGKILL);
	waitpid(dying_pid, NULL, 0);
	dying_pid = -1;
}

/* ---- files of the state directory ---- */

static int
path_of(char *buf, size_t len, const struct conf *c, const char *name)
{
	return (size_t)snprintf(buf, len, "%s/%s/%s", c->state_dir, ACME_DIR,
	    name) < len ? 0 : -1;
}

static void
fmt_time(time_t t, char *buf, size_t len)
{
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* When a certificate valid [from, to] is renewed: a third of its lifetime
 * before the end (RFC 8555 leaves it to us; a 90-day one at 30 days
 * left), a little earlier by a random jitter of up to 1/30 of it. */
static time_t
renewal_time(time_t from, time_t to)
{
	unsigned char	r[4];
	uint32_t	v;
	time_t		life = to > from ? to - from : 0;

	if (x509_rng(NULL, r, sizeof(r)) != 0)
		memset(r, 0, sizeof(r));
	v = (uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 |
	    (uint32_t)r[2] << 8 | r[3];
	return to - life / 3 - (life >= 30 ? (time_t)(v % (uint32_t)(life /
	    30 + 1)) : 0);
}

/* The stored certificate of host: 1 and its facts if it is usable
 * (parses, names host, not expired), 0 if not (why says), -1 if none. */
static int
stored_cert(const struct conf *c, const char *host, time_t now,
    struct x509_info *xi, char *why, size_t whylen)
{
	char	 path[PATH_MAX], name[320], err[256], *pem;
	size_t	 len;
	int	 rc;

	snprintf(name, sizeof(name), "%s.pem", host);
	if (path_of(path, sizeof(path), c, name) == -1) {
		snprintf(why, whylen, "state_dir too long");
		return 0;
	}
	if ((pem = file_read(path, 1 << 20, &len)) == NULL) {
		if (errno == ENOENT)
			return -1;
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return 0;
	}
	rc = x509_info(pem, len, host, xi, err, sizeof(err));
	if (rc == 0 && strncmp(pem, ISSUER_TAG, strlen(ISSUER_TAG)) == 0 &&
	    (strncmp(pem + strlen(ISSUER_TAG), c->acme_directory,
	    strlen(c->acme_directory)) != 0 || pem[strlen(ISSUER_TAG) +
	    strlen(c->acme_directory)] != '\n')) {
		snprintf(why, whylen, "%s: from another acme_directory (%.*s)",
		    path, (int)strcspn(pem + strlen(ISSUER_TAG), "\n"),
		    pem + strlen(ISSUER_TAG));
		rc = -2;
	}
	mbedtls_platform_zeroize(pem, len);
	free(pem);
	if (rc == -2)
		return 0;
	if (rc == -1) {
		snprintf(why, whylen, "%s: %s", path, err);
		return 0;
	}
	if (!xi->covers) {
		snprintf(why, whylen, "%s: not for %s", path, host);
		return 0;
	}
	if (xi->not_after <= now) {
		snprintf(why, whylen, "%s: expired", path);
		return 0;
	}
	return 1;
}

/*
 * The parent's watchdog, hourly: a certificate past its renewal time by
 * a twelfth of its lifetime means the child is failing (it says why) or
 * stuck; either way the admin should hear it before the expiry.
 */
static void
overdue(const struct conf *c, time_t now)
{
	struct x509_info	 xi;
	char			 host[300], why[PATH_MAX + 512], t1[32];
	size_t			 i;
	time_t			 life;

	for (i = 0; i < c->ndomains; i++) {
		if (!c->domains[i].acme)
			continue;
		snprintf(host, sizeof(host), "mta-sts.%s", c->domains[i].name);
		if (stored_cert(c, host, now, &xi, why, sizeof(why)) != 1)
			continue;
		life = xi.not_after - xi.not_before;
		if (now < xi.not_after - life / 3 + life / 12)
			continue;
		fmt_time(xi.not_after, t1, sizeof(t1));
		log_warnx("acme %s: renewal overdue: the certificate expires "
		    "at %s%s", host, t1, child_pid == -1 ? "; the ACME child "
		    "is not running" : "");
	}
}

/* --check: how each ACME domain's certificate stands. */
void
acme_check(const struct conf *c, time_t now, struct diag *d)
{
	struct x509_info	 xi;
	char			 host[300], why[PATH_MAX + 512], t1[32], t2[32];
	const char		*bundle;
	size_t			 i;

	if (!has_acme(c))
		return;
	bundle = c->ca_bundle != NULL ? c->ca_bundle : X509_DEFAULT_BUNDLE;
	if (access(bundle, R_OK) == -1)
		diag_add(d, 1, "%s: ca_bundle %s: %s (the trust store for "
		    "the ACME server)", c->file, bundle, strerror(errno));
	for (i = 0; i < c->ndomains; i++) {
		if (!c->domains[i].acme)
			continue;
		snprintf(host, sizeof(host), "mta-sts.%s", c->domains[i].name);
		switch (stored_cert(c, host, now, &xi, why, sizeof(why))) {
		case -1:
			printf("%s: ACME (%s): no certificate yet; ordered "
			    "when the server starts\n", host,
			    c->acme_directory);
			break;
		case 0:
			diag_add(d, 0, "%s: ACME: %s; a new one is ordered "
			    "when the server starts", host, why);
			break;
		default:
			fmt_time(xi.not_after, t1, sizeof(t1));
			fmt_time(renewal_time(xi.not_before, xi.not_after),
			    t2, sizeof(t2));
			printf("%s: ACME (%s): certificate valid until %s, "
			    "serial %s; renewed from about %s\n", host,
			    c->acme_directory, t1, xi.serial, t2);
		}
	}
}

/* ---- the child: one RFC 8555 client ---- */

struct client {
	const struct conf	*c;
	int			 sock;		/* to the parent */
	struct fetch		*f;
	struct ec_key		*account;
	char			 thumb[44];
	char			 jwk[256];
	char			*kid;		/* account URL; NULL: none yet */
	char			 nonce[256];
	struct acme_msg		 dir;		/* the directory */
	/* the last failure, for the log */
	char			 err[1024];
	long			 retry_after;	/* -1: the CA said nothing */
};

static void
cerr(struct client *cl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
cerr(struct client *cl, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(cl->err, sizeof(cl->err), fmt, ap);
	va_end(ap);
}

/* Why a request failed, from its problem document (RFC 8555 6.7) if it
 * has one, into cl->err; and when to try again if the CA said. */
static void
problem(struct client *cl, const char *what, const struct fetch_resp *r)
{
	struct acme_msg	m;
	char		e[128];

	if (strcmp(r->content_type, "application/problem+json") == 0 &&
	    acme_msg_parse(ACME_PROBLEM, r->body, r->body_len, &m, e,
	    sizeof(e)) == 0) {
		cerr(cl, "%s: %s: %s", what, m.type, m.detail);
		acme_msg_free(&m);
	} else
		cerr(cl, "%s: HTTP status %d", what, r->status);
	if (r->retry_after >= 0)
		cl->retry_after = r->retry_after;
}

static int
is_bad_nonce(const struct fetch_resp *r)
{
	struct acme_msg	m;
	char		e[128];
	int		bad;

	if (r->status != 400 ||
	    strcmp(r->content_type, "application/problem+json") != 0 ||
	    acme_msg_parse(ACME_PROBLEM, r->body, r->body_len, &m, e,
	    sizeof(e)) == -1)
		return 0;
	bad = strcmp(m.type, "urn:ietf:params:acme:error:badNonce") == 0;
	acme_msg_free(&m);
	return bad;
}

/* Keep a Replay-Nonce only if it is one (RFC 8555 6.5.1): it goes into
 * the next request's JSON unescaped. */
static void
keep_nonce(struct client *cl, const char *nonce)
{
	if (acme_b64url_ok(nonce, sizeof(cl->nonce) - 1))
		snprintf(cl->nonce, sizeof(cl->nonce), "%s", nonce);
}

static int
get(struct client *cl, const char *url, struct fetch_resp *r)
{
	char	e[512];

	if (fetch(cl->f, "GET", url, NULL, NULL, NULL, 0, TIMEOUT_MS, r, e,
	    sizeof(e)) == -1) {
		cerr(cl, "%s", e);
		return -1;
	}
	return 0;
}

static int
fresh_nonce(struct client *cl)
{
	struct fetch_resp	r = { 0 };
	char			e[512];

	if (fetch(cl->f, "HEAD", cl->dir.new_nonce, NULL, NULL, NULL, 0,
	    TIMEOUT_MS, &r, e, sizeof(e)) == -1) {
		cerr(cl, "newNonce: %s", e);
		return -1;
	}
	keep_nonce(cl, r.nonce);
	fetch_resp_free(&r);
	if (cl->nonce[0] == '\0') {
		cerr(cl, "newNonce: no usable Replay-Nonce (HTTP status %d)",
		    r.status);
		return -1;
	}
	return 0;
}

/*
 * POST a JWS (RFC 8555 6.2) of payload (NULL: POST-as-GET, an empty
 * payload) to url, signed with the account key: by jwk before the account
 * exists, by kid after. badNonce is retried with the nonce it brought.
 * 0 with r filled (any status), -1 with cl->err.
 */
static int
post(struct client *cl, const char *url, const char *payload,
    const char *accept, struct fetch_resp *r)
{
	char		*prot = NULL, *body = NULL, *input = NULL;
	char		 sig64[100], e[512];
	unsigned char	 sig[64];
	size_t		 plen = payload != NULL ? strlen(payload) : 0;
	size_t		 cap, n;
	int		 tries, rc = -1;

	for (tries = 0; tries < NONCE_TRIES; tries++) {
		if (cl->nonce[0] == '\0' && fresh_nonce(cl) == -1)
			goto out;
		free(prot);
		free(body);
		free(input);
		prot = body = input = NULL;
		cap = strlen(url) + strlen(cl->nonce) + sizeof(cl->jwk) +
		    (cl->kid != NULL ? strlen(cl->kid) : 0) + 64;
		if ((prot = malloc(cap)) == NULL)
			goto oom;
		if (cl->kid != NULL)
			snprintf(prot, cap, "{\"alg\":\"ES256\",\"kid\":\"%s\","
			    "\"nonce\":\"%s\",\"url\":\"%s\"}", cl->kid,
			    cl->nonce, url);
		else
			snprintf(prot, cap, "{\"alg\":\"ES256\",\"jwk\":%s,"
			    "\"nonce\":\"%s\",\"url\":\"%s\"}", cl->jwk,
			    cl->nonce, url);
		cl->nonce[0] = '\0';	/* used: never twice */
		cap = (strlen(prot) + plen) * 4 / 3 + 16;
		if ((input = malloc(cap)) == NULL)
			goto oom;
		n = (size_t)b64url(prot, strlen(prot), input, cap);
		input[n++] = '.';
		if (b64url(payload != NULL ? payload : "", plen, input + n,
		    cap - n) == -1 ||
		    eckey_sign(cl->account, input, strlen(input), sig) == -1 ||
		    b64url(sig, sizeof(sig), sig64, sizeof(sig64)) == -1) {
			cerr(cl, "signing the request to %s failed", url);
			goto out;
		}
		cap = strlen(input) + strlen(sig64) + 64;
		if ((body = malloc(cap)) == NULL)
			goto oom;
		*strchr(input, '.') = '\0';
		snprintf(body, cap, "{\"protected\":\"%s\",\"payload\":\"%s\","
		    "\"signature\":\"%s\"}", input, input + strlen(input) + 1,
		    sig64);
		fetch_resp_free(r);
		if (fetch(cl->f, "POST", url, "application/jose+json", accept,
		    body, strlen(body), TIMEOUT_MS, r, e, sizeof(e)) == -1) {
			cerr(cl, "%s", e);
			goto out;
		}
		keep_nonce(cl, r->nonce);
		if (!is_bad_nonce(r)) {
			rc = 0;
			goto out;
		}
		log_debug("acme: badNonce from %s; retrying", url);
	}
	problem(cl, url, r);
	goto out;
oom:
	cerr(cl, "out of memory");
out:
	free(prot);
	free(body);
	free(input);
	return rc;
}

/* The directory (RFC 8555 7.1.1), once per child. */
static int
directory(struct client *cl)
{
	struct fetch_resp	 r = { 0 };
	char			 e[256];
	int			 rc = -1;

	if (cl->dir.new_order != NULL)
		return 0;
	if (get(cl, cl->c->acme_directory, &r) == -1)
		return -1;
	if (r.status != 200)
		problem(cl, "directory", &r);
	else if (acme_msg_parse(ACME_DIRECTORY, r.body, r.body_len, &cl->dir,
	    e, sizeof(e)) == -1)
		cerr(cl, "directory %s: not an ACME directory: %s",
		    cl->c->acme_directory, e);
	else
		rc = 0;
	fetch_resp_free(&r);
	return rc;
}

/* The account key: made once, kept as <state_dir>/acme/account.key. */
static int
account_key(struct client *cl)
{
	char	 path[PATH_MAX], e[PATH_MAX + 256], *pem;
	size_t	 len;

	if (cl->account != NULL)
		return 0;
	if (path_of(path, sizeof(path), cl->c, "account.key") == -1) {
		cerr(cl, "state_dir too long");
		return -1;
	}
	if ((pem = file_read(path, 65536, &len)) != NULL) {
		cl->account = eckey_parse(pem, len, e, sizeof(e));
		mbedtls_platform_zeroize(pem, len);
		free(pem);
		if (cl->account == NULL) {
			cerr(cl, "%s: %s (move it aside to make a new "
			    "account)", path, e);
			return -1;
		}
	} else if (errno != ENOENT) {
		cerr(cl, "%s: %s", path, strerror(errno));
		return -1;
	} else {
		if ((cl->account = eckey_new(e, sizeof(e))) == NULL ||
		    (pem = eckey_pem(cl->account)) == NULL) {
			cerr(cl, "account key: %s", cl->account == NULL ? e :
			    "out of memory");
			return -1;
		}
		len = strlen(pem);
		if (file_write_atomic(path, pem, len, 0600, e, sizeof(e)) == -1) {
			mbedtls_platform_zeroize(pem, len);
			free(pem);
			cerr(cl, "%s", e);
			eckey_free(cl->account);
			cl->account = NULL;
			return -1;
		}
		mbedtls_platform_zeroize(pem, len);
		free(pem);
		log_info("acme: new account key %s", path);
	}
	if (eckey_jwk(cl->account, cl->jwk, sizeof(cl->jwk)) == -1 ||
	    eckey_thumbprint(cl->account, cl->thumb) == -1) {
		cerr(cl, "account key: cannot encode it");
		return -1;
	}
	return 0;
}

/* Does the account in r list another contact than mailto:email? */
static int
contact_differs(const struct fetch_resp *r, const char *email)
{
	cJSON		*j;
	const cJSON	*c, *one;
	int		 n = 0, same = 0;

	if ((j = cJSON_ParseWithLength(r->body, r->body_len)) == NULL)
		return 0;	/* nothing to compare with: leave it */
	c = cJSON_GetObjectItemCaseSensitive(j, "contact");
	cJSON_ArrayForEach(one, c) {
		n++;
		if (email != NULL && cJSON_IsString(one) &&
		    strncmp(one->valuestring, "mailto:", 7) == 0 &&
		    strcmp(one->valuestring + 7, email) == 0)
			same = 1;
	}
	cJSON_Delete(j);
	return email == NULL ? n > 0 : !(same && n == 1);
}

/* RFC 8555 7.3.2: the account's contact follows acme_email. */
static void
update_contact(struct client *cl, const char *newacct)
{
	struct fetch_resp	 r = { 0 };
	cJSON			*j;
	char			*p = NULL;

	/* the same contact member newAccount sent, alone */
	if ((j = cJSON_Parse(newacct)) == NULL)
		return;
	cJSON_DeleteItemFromObjectCaseSensitive(j, "termsOfServiceAgreed");
	if (cJSON_GetObjectItemCaseSensitive(j, "contact") == NULL)
		cJSON_AddArrayToObject(j, "contact");
	if ((p = cJSON_PrintUnformatted(j)) != NULL &&
	    post(cl, cl->kid, p, NULL, &r) == 0 && r.status == 200)
		log_info("acme: account contact set to %s",
		    cl->c->acme_email ? cl->c->acme_email : "none");
	else
		log_warnx("acme: the account's contact could not be "
		    "updated (%s)", r.status ? "refused" : cl->err);
	cJSON_free(p);
	cJSON_Delete(j);
	fetch_resp_free(&r);
}

/* newAccount (RFC 8555 7.3): finds the account of our key or makes it. */
static int
account(struct client *cl)
{
	struct fetch_resp	 r = { 0 };
	cJSON			*p = NULL, *contact;
	char			*payload = NULL, mail[300];
	int			 rc = -1;

	if (cl->kid != NULL)
		return 0;
	if ((p = cJSON_CreateObject()) == NULL ||
	    cJSON_AddTrueToObject(p, "termsOfServiceAgreed") == NULL)
		goto oom;
	if (cl->c->acme_email != NULL) {
		snprintf(mail, sizeof(mail), "mailto:%s", cl->c->acme_email);
		if ((contact = cJSON_AddArrayToObject(p, "contact")) == NULL)
			goto oom;
		cJSON_AddItemToArray(contact, cJSON_CreateString(mail));
	}
	if ((payload = cJSON_PrintUnformatted(p)) == NULL)
		goto oom;
	if (post(cl, cl->dir.new_account, payload, NULL, &r) == -1)
		goto out;
	if (r.status != 200 && r.status != 201) {
		problem(cl, "newAccount", &r);
		goto out;
	}
	if (!acme_url_ok(r.location)) {
		cerr(cl, "newAccount: no account URL in Location");
		goto out;
	}
	if ((cl->kid = strdup(r.location)) == NULL)
		goto oom;
	if (r.status == 200 && contact_differs(&r, cl->c->acme_email))
		update_contact(cl, payload);
	if (r.status == 201)
		log_info("acme: account %s made%s%s", cl->kid,
		    cl->c->acme_email ? " for " : "",
		    cl->c->acme_email ? cl->c->acme_email : "");
	rc = 0;
	goto out;
oom:
	cerr(cl, "out of memory");
out:
	cJSON_Delete(p);
	cJSON_free(payload);
	fetch_resp_free(&r);
	return rc;
}

/* POST-as-GET url and read it as an object of kind into m. */
static int
get_msg(struct client *cl, const char *what, const char *url, int kind,
    struct acme_msg *m, struct fetch_resp *r)
{
	char	e[256];

	fetch_resp_free(r);
	acme_msg_free(m);
	if (post(cl, url, NULL, NULL, r) == -1)
		return -1;
	if (r->status != 200) {
		problem(cl, what, r);
		return -1;
	}
	if (acme_msg_parse(kind, r->body, r->body_len, m, e, sizeof(e)) ==
	    -1) {
		cerr(cl, "%s: %s", what, e);
		return -1;
	}
	return 0;
}

/* Wait as the CA says (Retry-After), else a second; bounded by deadline. */
static int
pause_poll(struct client *cl, const struct fetch_resp *r, time_t deadline,
    const char *what)
{
	long	s = r->retry_after >= 0 ? r->retry_after : 1;

	if (s > POLL_MAX)
		s = POLL_MAX;
	if (time(NULL) + s > deadline) {
		cerr(cl, "%s: still pending after %d s", what, POLL_MAX);
		return -1;
	}
	sleep((unsigned)s);
	return 0;
}

/* The parent answers host's challenge with digest until "clear". */
static int
parent_challenge(struct client *cl, const char *host,
    const unsigned char digest[32])
{
	struct pollfd	pfd = { .fd = cl->sock, .events = POLLIN };
	char		line[LINE_MAX_], hex[65];
	size_t		i, len = 0;
	ssize_t		n;

	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	n = snprintf(line, sizeof(line), "challenge %s %s\n", host, hex);
	if (write(cl->sock, line, (size_t)n) != n)
		exit(0);	/* the parent is gone */
	while (len < sizeof(line) - 1) {
		if (poll(&pfd, 1, TIMEOUT_MS) <= 0) {
			/* should it come late, it must not stay set */
			tell_parent(cl, "clear", host);
			cerr(cl, "the server did not set the challenge");
			return -1;
		}
		if ((n = read(cl->sock, line + len, 1)) <= 0)
			exit(0);
		if (line[len++] == '\n')
			break;
	}
	line[len] = '\0';
	if (strncmp(line, "ok ", 3) != 0 || strncmp(line + 3, host,
	    strlen(host)) != 0 || line[3 + strlen(host)] != '\n') {
		tell_parent(cl, "clear", host);
		cerr(cl, "the server could not set the challenge");
		return -1;
	}
	return 0;
}

static void
tell_parent(struct client *cl, const char *verb, const char *host)
{
	char	line[LINE_MAX_];
	int	n;

	n = snprintf(line, sizeof(line), "%s %s\n", verb, host);
	if (write(cl->sock, line, (size_t)n) != n)
		exit(0);
}

/* One authorization: valid already, or validated by tls-alpn-01. */
static int
authorize(struct client *cl, const char *host, const char *url)
{
	struct fetch_resp	 r = { 0 };
	struct acme_msg		 m = { 0 };
	char			*ka = NULL;
	unsigned char		 digest[32];
	time_t			 deadline = time(NULL) + POLL_MAX;
	int			 rc = -1, set = 0;
	size_t			 n;

	if (get_msg(cl, "authorization", url, ACME_AUTHZ, &m, &r) == -1)
		goto out;
	if (strcmp(m.status, "valid") == 0) {
		rc = 0;
		goto out;
	}
	if (m.token == NULL) {
		cerr(cl, "the CA offers no tls-alpn-01 challenge for %s",
		    host);
		goto out;
	}
	/* RFC 8555 8.1: token "." base64url(JWK thumbprint) */
	n = strlen(m.token) + sizeof(cl->thumb) + 2;
	if ((ka = malloc(n)) == NULL) {
		cerr(cl, "out of memory");
		goto out;
	}
	snprintf(ka, n, "%s.%s", m.token, cl->thumb);
	if (mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
	    (const unsigned char *)ka, strlen(ka), digest) != 0) {
		cerr(cl, "SHA-256 failed");
		goto out;
	}
	if (parent_challenge(cl, host, digest) == -1)
		goto out;
	set = 1;
	fetch_resp_free(&r);
	if (post(cl, m.chal_url, "{}", NULL, &r) == -1)
		goto out;
	if (r.status != 200) {
		problem(cl, "challenge", &r);
		goto out;
	}
	for (;;) {
		if (get_msg(cl, "authorization", url, ACME_AUTHZ, &m, &r) ==
		    -1)
			goto out;
		if (strcmp(m.status, "valid") == 0)
			break;
		if (strcmp(m.status, "pending") != 0) {
			/* the challenge's error says why (RFC 8555 7.1.6) */
			if (m.type != NULL)
				cerr(cl, "validation failed: %s: %s", m.type,
				    m.detail);
			else
				cerr(cl, "authorization %s", m.status[0] ?
				    m.status : "in an unknown state");
			goto out;
		}
		if (pause_poll(cl, &r, deadline, "authorization") == -1)
			goto out;
	}
	rc = 0;
out:
	if (set)
		tell_parent(cl, "clear", host);
	acme_msg_free(&m);
	fetch_resp_free(&r);
	free(ka);
	return rc;
}

/* The CERTIFICATE blocks of a PEM text, each ending in a newline;
 * malloc'd, NULL if out of memory. */
static char *
cert_blocks(const char *pem)
{
	static const char	 b[] = "-----BEGIN CERTIFICATE-----";
	static const char	 e[] = "-----END CERTIFICATE-----";
	const char		*p = pem, *start, *end;
	char			*out;
	size_t			 len = 0, n;

	if ((out = malloc(2 * strlen(pem) + 2)) == NULL)
		return NULL;
	while ((start = strstr(p, b)) != NULL &&
	    (end = strstr(start, e)) != NULL) {
		n = (size_t)(end - start) + sizeof(e) - 1;
		memcpy(out + len, start, n);
		len += n;
		out[len++] = '\n';
		p = end + sizeof(e) - 1;
	}
	out[len] = '\0';
	return out;
}

/* One order for host, from newOrder to the chain written and installed. */
static int
order(struct client *cl, const char *host)
{
	struct fetch_resp	 r = { 0 };
	struct acme_msg		 m = { 0 };
	char			*payload = NULL, *ourl = NULL, *keypem = NULL;
	char			*pem = NULL, *csr64 = NULL, *chain = NULL;
	char			 path[PATH_MAX], name[320], e[PATH_MAX + 256];
	unsigned char		*csr = NULL;
	size_t			 csrlen, n, i;
	struct ec_key		*key = NULL;
	struct x509_info	 xi;
	char			 t1[32];
	time_t			 deadline;
	int			 rc = -1;

	cl->retry_after = -1;
	cl->err[0] = '\0';
	/* A certificate we could not store would be ordered again and
	 * again (the CA limits duplicates): the directory first. */
	if (path_of(path, sizeof(path), cl->c, ".probe") == -1 ||
	    file_write_atomic(path, "", 0, 0600, e, sizeof(e)) == -1) {
		cerr(cl, "cannot store the certificate: %s", e);
		goto out;
	}
	unlink(path);
	if (directory(cl) == -1 || account_key(cl) == -1 ||
	    account(cl) == -1)
		goto out;
	n = strlen(host) + 64;
	if ((payload = malloc(n)) == NULL)
		goto oom;
	snprintf(payload, n, "{\"identifiers\":[{\"type\":\"dns\","
	    "\"value\":\"%s\"}]}", host);
	if (post(cl, cl->dir.new_order, payload, NULL, &r) == -1)
		goto out;
	if (r.status != 201) {
		problem(cl, "newOrder", &r);
		goto out;
	}
	if (!acme_url_ok(r.location) || (ourl = strdup(r.location)) == NULL) {
		cerr(cl, "newOrder: no order URL in Location");
		goto out;
	}
	if (acme_msg_parse(ACME_ORDER, r.body, r.body_len, &m, e,
	    sizeof(e)) == -1) {
		cerr(cl, "newOrder: %s", e);
		goto out;
	}
	for (i = 0; i < m.nauthz; i++)
		if (authorize(cl, host, m.authz[i]) == -1)
			goto out;

	/* A fresh key for every certificate; the CSR names host only. */
	if ((key = eckey_new(e, sizeof(e))) == NULL ||
	    x509_csr(key, host, &csr, &csrlen, e, sizeof(e)) == -1) {
		cerr(cl, "CSR: %s", e);
		goto out;
	}
	n = csrlen * 4 / 3 + 4;
	if ((csr64 = malloc(n)) == NULL)
		goto oom;
	b64url(csr, csrlen, csr64, n);
	free(payload);
	n = strlen(csr64) + 16;
	if ((payload = malloc(n)) == NULL)
		goto oom;
	snprintf(payload, n, "{\"csr\":\"%s\"}", csr64);
	fetch_resp_free(&r);
	if (post(cl, m.finalize, payload, NULL, &r) == -1)
		goto out;
	if (r.status != 200) {
		problem(cl, "finalize", &r);
		goto out;
	}
	/* processing, then valid (RFC 8555 7.4); Retry-After honoured */
	deadline = time(NULL) + POLL_MAX;
	for (;;) {
		acme_msg_free(&m);
		if (acme_msg_parse(ACME_ORDER, r.body, r.body_len, &m, e,
		    sizeof(e)) == -1) {
			cerr(cl, "order: %s", e);
			goto out;
		}
		if (strcmp(m.status, "valid") == 0)
			break;
		if (strcmp(m.status, "processing") != 0 &&
		    strcmp(m.status, "ready") != 0) {
			if (m.type != NULL)
				cerr(cl, "order %s: %s: %s", m.status, m.type,
				    m.detail);
			else
				cerr(cl, "order %s", m.status[0] ? m.status :
				    "in an unknown state");
			goto out;
		}
		if (pause_poll(cl, &r, deadline, "order") == -1)
			goto out;
		fetch_resp_free(&r);
		if (post(cl, ourl, NULL, NULL, &r) == -1)
			goto out;
		if (r.status != 200) {
			problem(cl, "order", &r);
			goto out;
		}
	}
	if (m.certificate == NULL) {
		cerr(cl, "order: valid without a certificate");
		goto out;
	}
	fetch_resp_free(&r);
	if (post(cl, m.certificate, NULL, "application/pem-certificate-chain",
	    &r) == -1)
		goto out;
	if (r.status != 200) {
		problem(cl, "certificate", &r);
		goto out;
	}
	memset(&xi, 0, sizeof(xi));
	if (x509_info(r.body, r.body_len, host, &xi, e, sizeof(e)) == -1 ||
	    !xi.covers) {
		cerr(cl, "certificate: %s", xi.covers ? e : "not for the name");
		goto out;
	}
	/* chain, then key: one file, one rename */
	if ((keypem = eckey_pem(key)) == NULL)
		goto oom;
	/* Only the certificates: a key in the CA's answer would be found
	 * before ours. Then what the server will demand of them. */
	if ((chain = cert_blocks(r.body)) == NULL)
		goto oom;
	if (x509_chain_check(chain, strlen(chain), key, e, sizeof(e)) == -1) {
		cerr(cl, "certificate: %s", e);
		goto out;
	}
	/* which CA: a change of acme_directory (staging to production)
	 * replaces it; PEM readers skip text before the first block */
	n = strlen(ISSUER_TAG) + strlen(cl->c->acme_directory) +
	    strlen(chain) + strlen(keypem) + 3;
	if ((pem = malloc(n)) == NULL)
		goto oom;
	snprintf(pem, n, "%s%s\n%s%s", ISSUER_TAG, cl->c->acme_directory,
	    chain, keypem);
	snprintf(name, sizeof(name), "%s.pem", host);
	if (path_of(path, sizeof(path), cl->c, name) == -1 ||
	    file_write_atomic(path, pem, strlen(pem), 0600, e, sizeof(e)) == -1) {
		cerr(cl, "%s", e);
		goto out;
	}
	fmt_time(xi.not_after, t1, sizeof(t1));
	log_info("acme %s: certificate issued, serial %s, valid until %s",
	    host, xi.serial, t1);
	tell_parent(cl, "installed", host);
	rc = 0;
	goto out;
oom:
	cerr(cl, "out of memory");
out:
	if (keypem != NULL)
		mbedtls_platform_zeroize(keypem, strlen(keypem));
	if (pem != NULL)
		mbedtls_platform_zeroize(pem, strlen(pem));
	free(keypem);
	free(pem);
	free(chain);
	eckey_free(key);
	free(csr);
	free(csr64);
	free(payload);
	free(ourl);
	acme_msg_free(&m);
	fetch_resp_free(&r);
	return rc;
}

struct due {
	char	 host[300];
	time_t	 at;		/* next order */
	int	 wait;		/* the next failure's backoff (s) */
};

/* Sleep until t, or exit when the parent is gone. */
static void
sleep_until(int sock, time_t t)
{
	struct pollfd	pfd = { .fd = sock, .events = POLLIN };
	char		c;
	time_t		now;
	int		s;

	while ((now = time(NULL)) < t) {
		/* clamp first: a month in ms overflows a 32-bit long */
		s = t - now > 60 ? 60 : (int)(t - now);
		if (poll(&pfd, 1, s * 1000) > 0 &&
		    read(sock, &c, 1) <= 0)
			_exit(0);
	}
}

/* Temp files a killed child left behind (file_write_atomic's). */
static void
sweep(const char *dir)
{
	DIR		*d;
	struct dirent	*e;
	char		 path[PATH_MAX];

	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".tmp-") != NULL &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    e->d_name) < sizeof(path))
			unlink(path);
	closedir(d);
}

static void
child_main(const struct conf *c, int sock)
{
	struct client	 cl = { 0 };
	struct due	*d;
	struct x509_info xi;
	char		 e[PATH_MAX + 512], dir[PATH_MAX], t1[32], t2[32];
	const char	*bundle;
	size_t		 i, n = 0, next;
	time_t		 now, last_order = 0;

	cl.c = c;
	cl.sock = sock;
	if (x509_rng_fork() == -1)
		fatalx("acme: the random generator cannot be reseeded");
	snprintf(dir, sizeof(dir), "%s/%s", c->state_dir, ACME_DIR);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		fatal("acme: %s", dir);
	sweep(dir);
	bundle = c->ca_bundle != NULL ? c->ca_bundle : X509_DEFAULT_BUNDLE;
	if ((cl.f = fetch_new(bundle, e, sizeof(e))) == NULL)
		fatalx("acme: ca_bundle %s: %s", bundle, e);
	if ((d = calloc(c->ndomains, sizeof(*d))) == NULL)
		fatalx("acme: out of memory");
	now = time(NULL);
	for (i = 0; i < c->ndomains; i++) {
		if (!c->domains[i].acme)
			continue;
		snprintf(d[n].host, sizeof(d[n].host), "mta-sts.%s",
		    c->domains[i].name);
		d[n].wait = RETRY_MIN;
		switch (stored_cert(c, d[n].host, now, &xi, e, sizeof(e))) {
		case 1:
			d[n].at = renewal_time(xi.not_before, xi.not_after);
			fmt_time(xi.not_after, t1, sizeof(t1));
			fmt_time(d[n].at, t2, sizeof(t2));
			log_info("acme %s: certificate good until %s; renewal "
			    "at %s", d[n].host, t1, t2);
			break;
		case 0:
			log_warnx("acme %s: %s: ordering a new one", d[n].host,
			    e);
			/* FALLTHROUGH */
		default:
			d[n].at = now;
		}
		n++;
	}
	for (;;) {
		next = 0;
		for (i = 1; i < n; i++)
			if (d[i].at < d[next].at)
				next = i;
		if (n == 0)
			sleep_until(sock, time(NULL) + 86400);
		/* orders one at a time, a pause between two */
		sleep_until(sock, d[next].at > last_order + ORDER_PAUSE ?
		    d[next].at : last_order + ORDER_PAUSE);
		log_info("acme %s: ordering a certificate from %s",
		    d[next].host, c->acme_directory);
		e[0] = '\0';
		if (order(&cl, d[next].host) == 0 &&
		    stored_cert(c, d[next].host, time(NULL), &xi, e,
		    sizeof(e)) == 1) {
			d[next].at = renewal_time(xi.not_before,
			    xi.not_after);
			d[next].wait = RETRY_MIN;
			fmt_time(xi.not_after, t1, sizeof(t1));
			fmt_time(d[next].at, t2, sizeof(t2));
			log_info("acme %s: certificate good until %s; renewal "
			    "at %s", d[next].host, t1, t2);
		} else {
			long w = d[next].wait;

			if (cl.err[0] == '\0')
				cerr(&cl, "%s", e[0] != '\0' ? e :
				    "the certificate written is not there");

			if (cl.retry_after > w)
				w = cl.retry_after > RETRY_MAX ? RETRY_MAX :
				    cl.retry_after;
			log_warnx("acme %s: order failed: %s; retry in %ld s",
			    d[next].host, cl.err, w);
			d[next].at = time(NULL) + w;
			d[next].wait = d[next].wait * 2 > RETRY_MAX ?
			    RETRY_MAX : d[next].wait * 2;
			/* the account may be what failed: ask again */
			free(cl.kid);
			cl.kid = NULL;
		}
		last_order = time(NULL);
	}
}
