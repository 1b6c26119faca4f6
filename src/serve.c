/*
 * serve.c: the running server. Owns the running configuration and the
 * published snapshot; starts everything, reloads, announces, stops.
 *
 * A reload is a transaction: parse, validate, render and load
 * certificates into a complete new snapshot off to the side; only when
 * all of it succeeded is it swapped in (two pointer assignments). Then
 * the ids of its policies are committed to the state directory, for all
 * domains at once; if that fails the old snapshot is swapped back (one
 * thread: nothing was served in between) and the reload fails as a
 * whole. On any error the old snapshot keeps serving and watching goes
 * on.
 *
 * Only then are ids announced: serve first, announce second (RFC 8461
 * 3.3: a sender that sees a new id and fetches the old policy caches the
 * old policy under the new id). Announcing is the record on stdout and,
 * if configured, the hook's successful run; once both are done the id is
 * marked announced in the state file. Until then it is a "pending" id
 * here: a failed hook is retried (one minute, doubling, up to an hour)
 * until it succeeds or a newer id replaces it, and every start and reload
 * announces every stored id not yet marked again. So every id is
 * announced at least once; a crash can repeat an announcement, never
 * skip one.
 */
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mtasts.h"

/* After the _mta-sts line whose id admins must publish (grep for it). */
#define MARK_NEW	" ; NEW id: publish this record"
#define ACME_RETRY_MS	60000
#define MARK_WAIT	" ; NEW id: publish it once the ACME certificate is issued"
#define RETRY_FIRST	60	/* seconds before a failed hook's retry; */
#define RETRY_MAX	3600	/* doubling up to this */
#define LOCK_WAIT_SERVING_MS 1000	/* the state lock, once serving */

/*
 * An id stored but not yet marked announced, whose record is printed: it
 * waits for its hook (running, or due again after a failure) or for the
 * mark to be written. One per domain at most.
 */
struct pending {
	struct pending	*next;
	char		 domain[256];
	char		 id[ID_MAX + 1];
	int		 running;	/* its hook runs now */
	int		 hook_ok;	/* the hook is done; the mark is due */
	int		 unprinted;	/* its record did not reach stdout */
	int		 failures;	/* tries that failed, in a row */
	int64_t		 due;		/* now_ms() of the next try; 0: none */
	int		 stale;		/* out of the list, freed when its
					   hook ends */
};

static struct conf	*conf;	/* running; restart-only fields as started */
static struct snapshot	*snap;
static struct state_req	*ids;	/* per site of snap: its id, from state.c */
static struct pending	*pendings;
static struct ev	 sig_ev;

static void	try_pending(struct pending *);

/*
 * Certificate findings of --check, as warnings: an expired or mismatched
 * certificate is served all the same, since a renewal may be on its way,
 * but the admin must hear of it.
 */
static void
cert_warnings(const struct conf *c, const struct snapshot *s)
{
	struct diag	d = { 0 };
	size_t		i;

	tls_check_loaded(s->tls, c, time(NULL), &d);
	for (i = 0; i < d.n; i++)
		log_warnx("%s", d.msg[i]);
	diag_free(&d);
}

/* Log the messages of d: warnings as such, errors as errors. */
static void
log_diag(struct diag *d)
{
	size_t	i;

	for (i = 0; i < d->n; i++)
		(d->is_err[i] ? log_error : log_warnx)("%s", d->msg[i]);
	diag_free(d);
}

/* The rollout notes of a new id (history.c), a warning each. */
static void
log_notes(const char *domain, const char *id, char *notes)
{
	char	*line, *nl;

	for (line = notes; line != NULL && *line != '\0'; line = nl + 1) {
		if ((nl = strchr(line, '\n')) == NULL)
			break;
		*nl = '\0';
		log_warnx("%s: new id %s: %s", domain, id, line);
	}
}

/*
 * Commit the ids of s's policies to the state directory (all domains or
 * none). Returns them, one per site (malloc'd; its strings are s's), or
 * NULL with the error logged.
 */
static struct state_req *
commit(const struct conf *c, const struct snapshot *s)
{
	struct diag		 d = { 0 };
	struct state_req	*r;
	size_t			 i;

	if ((r = calloc(s->nsites + 1, sizeof(*r))) == NULL) {
		log_error("out of memory");
		return NULL;
	}
	for (i = 0; i < s->nsites; i++) {
		r[i].domain = s->sites[i].domain;
		r[i].policy = s->sites[i].policy;
		r[i].len = s->sites[i].policy_len;
	}
	if (state_commit(c->state_dir, r, s->nsites, 1, time(NULL), &d) == -1) {
		free(r);
		r = NULL;
	}
	log_diag(&d);
	for (i = 0; r != NULL && i < s->nsites; i++) {
		/* a new id's: said once, as its record is */
		if (!r[i].announced)
			log_notes(r[i].domain, r[i].id, r[i].notes);
		free(r[i].notes);
		r[i].notes = NULL;
	}
	return r;
}

/* stdout carries the records: did they get out? */
static int
printed(void)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return 1;
	log_error("stdout: cannot print the DNS records; they are printed "
	    "again at the next start or reload");
	clearerr(stdout);
	return 0;
}

/*
 * Start-up: every record of every domain, "dns: <zone line>", the id of
 * each marked NEW until its announcement is done. Returns printed().
 */
static int
print_records(const struct conf *c, const struct snapshot *s,
    const struct state_req *r)
{
	char		*rec, *line, *nl;
	size_t		 i;
	const char	*mark;

	for (i = 0; i < c->ndomains; i++) {
		rec = dns_render(&c->domains[i], r[i].id);
		if (rec == NULL) {
			log_warnx("out of memory");
			continue;
		}
		mark = r[i].announced ? " ; id unchanged" : s->sites[i].ready ?
		    MARK_NEW : MARK_WAIT;
		for (line = rec; *line != '\0'; line = nl + 1) {
			nl = strchr(line, '\n');
			*nl = '\0';
			printf("dns: %s%s\n", line, line == rec ? mark : "");
		}
		free(rec);
	}
	return printed();
}

/* A new id is live: its _mta-sts record on stdout. Returns printed(). */
static int
print_new(const char *domain, const char *id)
{
	char	*rec;

	if ((rec = dns_sts_record(domain, id)) == NULL) {
		log_warnx("out of memory");
		return 0;
	}
	printf("dns: %s%s\n", rec, MARK_NEW);
	free(rec);
	return printed();
}

static struct pending *
pending_find(const char *domain)
{
	struct pending	*p;

	for (p = pendings; p != NULL; p = p->next)
		if (strcmp(p->domain, domain) == 0)
			break;
	return p;
}

static struct pending *
pending_new(const char *domain, const char *id)
{
	struct pending	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_warnx("out of memory");
		return NULL;
	}
	snprintf(p->domain, sizeof(p->domain), "%s", domain);
	snprintf(p->id, sizeof(p->id), "%s", id);
	p->next = pendings;
	pendings = p;
	return p;
}

/* Out of the list; freed now, or when its running hook ends. */
static void
pending_drop(struct pending *p)
{
	struct pending	**pp;

	for (pp = &pendings; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	if (p->running)
		p->stale = 1;
	else
		free(p);
}

/* The retry delay after n failed tries: a minute, doubling, an hour. */
static int
backoff(int n)
{
	int	s = RETRY_FIRST;

	while (--n > 0 && s < RETRY_MAX)
		s *= 2;
	return s < RETRY_MAX ? s : RETRY_MAX;
}

static void
retry_later(struct pending *p, const char *what)
{
	int	delay = backoff(++p->failures);

	p->due = now_ms() + (int64_t)delay * 1000;
	log_warnx("%s: id %s not announced yet (%s): try %d in %d s",
	    p->domain, p->id, what, p->failures + 1, delay);
}

/*
 * Mark the announcements of r[0..n) done in the state file; drop the
 * pending ids that are. Returns 0, or -1 (logged) if the file could not
 * be written.
 */
static int
mark(struct state_req *r, size_t n)
{
	struct diag	 d = { 0 };
	struct pending	*p;
	size_t		 i;
	int		 rc;

	if (n == 0)
		return 0;
	rc = state_mark(conf->state_dir, r, n, time(NULL), &d);
	log_diag(&d);
	if (rc == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (r[i].announced)
			log_debug("%s: id %s announced", r[i].domain, r[i].id);
		else
			log_info("%s: id %s is no longer the stored one: "
			    "not marked announced", r[i].domain, r[i].id);
		if ((p = pending_find(r[i].domain)) != NULL &&
		    strcmp(p->id, r[i].id) == 0)
			pending_drop(p);
	}
	return 0;
}

/* hook.c's report on the hook of p. */
static void
hook_done(void *arg, int status)
{
	struct pending		*p = arg;
	struct state_req	 r;
	char			 what[64];

	p->running = 0;
	if (p->stale) {
		free(p);
		return;
	}
	if (status == HOOK_STOPPED)
		return;
	if (status != 0) {
		if (status == HOOK_KILLED)
			snprintf(what, sizeof(what), "the hook was killed");
		else
			snprintf(what, sizeof(what), "the hook failed, exit "
			    "%d", status);
		retry_later(p, what);
		return;
	}
	p->hook_ok = 1;
	p->failures = 0;
	if (p->unprinted)	/* printed and marked at the next reload */
		return;
	memset(&r, 0, sizeof(r));
	r.domain = p->domain;
	memcpy(r.id, p->id, sizeof(r.id));
	if (mark(&r, 1) == -1)
		retry_later(p, "the state file");
}

/* Run the hook for p now (or, if it already succeeded, the mark). */
static void
try_pending(struct pending *p)
{
	const struct conf_domain	*d;
	char				*rec, name[300], value[64], max_age[32];
	const char			*vars[16];
	struct state_req		 r;

	p->due = 0;
	if (p->hook_ok || conf->hook == NULL) {
		if (p->unprinted)
			return;
		memset(&r, 0, sizeof(r));
		r.domain = p->domain;
		memcpy(r.id, p->id, sizeof(r.id));
		if (mark(&r, 1) == -1)
			retry_later(p, "the state file");
		return;
	}
	if (p->running)
		return;
	/* a superseded id's hook still runs: this one goes after it */
	if (hook_busy(p->domain)) {
		p->due = now_ms() + 1000;
		return;
	}
	if ((d = conf_find_domain(conf, p->domain)) == NULL) {
		pending_drop(p);
		return;
	}
	if ((rec = dns_sts_record(p->domain, p->id)) == NULL) {
		retry_later(p, "out of memory");
		return;
	}
	dns_sts_name(p->domain, name, sizeof(name));
	dns_sts_value(p->id, value, sizeof(value));
	snprintf(max_age, sizeof(max_age), "%lld", d->max_age);
	vars[0] = "MTASTS_DOMAIN";	vars[1] = p->domain;
	vars[2] = "MTASTS_ID";		vars[3] = p->id;
	vars[4] = "MTASTS_RECORD_NAME";	vars[5] = name;
	vars[6] = "MTASTS_RECORD_VALUE"; vars[7] = value;
	vars[8] = "MTASTS_RECORD";	vars[9] = rec;
	vars[10] = "MTASTS_MODE";	vars[11] = policy_mode_name(d->mode);
	vars[12] = "MTASTS_MAX_AGE";	vars[13] = max_age;
	vars[14] = NULL;
	if (p->failures > 0)
		log_info("hook %s: try %d for id %s", p->domain,
		    p->failures + 1, p->id);
	if (hook_run(conf->hook, conf->hook_timeout, p->domain, vars,
	    hook_done, p) == 0)
		p->running = 1;
	else
		retry_later(p, "the hook could not be started");
	free(rec);
}

/*
 * Announce every id of the running snapshot not yet marked announced:
 * print its record (at start print_records did, all_printed says how
 * that went), then run the hook, or mark it at once when there is none.
 * Pending ids of other domains, or older ids, are dropped.
 */
static void
announce(int at_start, int all_printed)
{
	struct state_req	*r;
	struct pending		*p, *next;
	size_t			 i, n = 0;
	int			 printed;

	for (p = pendings; p != NULL; p = next) {
		next = p->next;
		if (conf_find_domain(conf, p->domain) == NULL)
			pending_drop(p);
	}
	if ((r = calloc(snap->nsites + 1, sizeof(*r))) == NULL) {
		log_warnx("out of memory");
		return;
	}
	for (i = 0; i < snap->nsites; i++) {
		p = pending_find(ids[i].domain);
		if (p != NULL && (ids[i].announced ||
		    strcmp(p->id, ids[i].id) != 0)) {
			if (!ids[i].announced)
				log_info("%s: id %s superseded by %s before "
				    "its announcement was done", p->domain,
				    p->id, ids[i].id);
			pending_drop(p);
			p = NULL;
		}
		if (ids[i].announced)
			continue;
		if (!snap->sites[i].ready) {
			/* Announced once it can be fetched: senders that
			 * see the id fetch the policy at once. */
			log_info("%s: id %s is announced once its ACME "
			    "certificate is issued", ids[i].domain, ids[i].id);
			continue;
		}
		if (ids[i].minted)
			log_info("%s: policy changed, new id %s",
			    ids[i].domain, ids[i].id);
		else
			log_info("%s: id %s is not announced yet: "
			    "announcing it", ids[i].domain, ids[i].id);
		printed = at_start ? all_printed :
		    print_new(ids[i].domain, ids[i].id);
		if (p == NULL && (p = pending_new(ids[i].domain,
		    ids[i].id)) == NULL)
			continue;
		/* Unprinted, the hook still runs; it is marked once both
		 * are done (printing is tried again at every reload). */
		p->unprinted = !printed;
		if (conf->hook == NULL) {
			if (!printed)
				continue;
			r[n].domain = ids[i].domain;
			memcpy(r[n].id, ids[i].id, sizeof(r[n].id));
			n++;
		} else if (!p->running)
			try_pending(p);
	}
	/* One write for every id that needs no hook. */
	if (mark(r, n) == -1)
		for (i = 0; i < n; i++)
			if ((p = pending_find(r[i].domain)) != NULL)
				retry_later(p, "the state file");
	free(r);
}

/* Timers: pending ids due for another try. Returns ms to the next, or -1. */
static int
pending_expire(void)
{
	struct pending	*p, *next;
	int64_t		 now = now_ms(), first = -1;

	for (p = pendings; p != NULL; p = next) {
		next = p->next;
		if (p->due != 0 && p->due <= now)
			try_pending(p);
	}
	for (p = pendings; p != NULL; p = p->next)
		if (p->due != 0 && (first == -1 || p->due < first))
			first = p->due;
	return first == -1 ? -1 : (int)(first - now > 0 ? first - now : 0);
}

/* The config file and every certificate and key it names. */
static void
watch_files(const struct conf *c)
{
	const char	**files;
	size_t		  i, n = 0;

	if ((files = calloc(3 + 2 * c->ndomains, sizeof(*files))) == NULL) {
		log_warnx("out of memory: files are not watched");
		return;
	}
	files[n++] = c->from_env ? NULL : c->file;
	files[n++] = c->cert;
	files[n++] = c->key;
	for (i = 0; i < c->ndomains; i++) {
		if (c->domains[i].acme)
			continue;	/* the ACME child says when */
		files[n++] = c->domains[i].cert;
		files[n++] = c->domains[i].key;
	}
	watch_set(files, n);
	free(files);
}

static int
same_listen(const struct conf *a, const struct conf *b)
{
	size_t	i;

	if (a->nlisten != b->nlisten)
		return 0;
	for (i = 0; i < a->nlisten; i++)
		if (a->listen[i].sslen != b->listen[i].sslen ||
		    a->listen[i].dual != b->listen[i].dual ||
		    memcmp(&a->listen[i].ss, &b->listen[i].ss,
		    a->listen[i].sslen) != 0)
			return 0;
	return 1;
}

/*
 * Settings bound at start (sockets, libmicrohttpd's limits, the watch
 * mode) cannot change live: report each, keep the running value in nc.
 * old is not touched: the reload may still fail (see adopt_listen).
 */
static void
keep_restart_only(const struct conf *old, struct conf *nc)
{
#define KEEP(field, key)						\
	if (nc->field != old->field) {					\
		log_warnx("%s: '%s' changed: restart mtasts-httpd to "	\
		    "apply it; the rest of the change is applied",	\
		    nc->file, key);					\
		nc->field = old->field;					\
	}
	KEEP(max_conns, "max_connections");
	KEEP(max_conns_per_ip, "max_connections_per_ip");
	KEEP(max_handshakes, "max_handshakes");
	KEEP(max_requests, "max_requests");
	KEEP(max_header_size, "max_header_size");
	KEEP(idle_timeout, "idle_timeout");
	KEEP(handshake_timeout, "handshake_timeout");
	KEEP(watch, "watch");
	if ((nc->user == NULL) != (old->user == NULL) || (nc->user != NULL &&
	    strcmp(nc->user, old->user) != 0) || (nc->group == NULL) !=
	    (old->group == NULL) || (nc->group != NULL &&
	    strcmp(nc->group, old->group) != 0))
		log_warnx("%s: 'user' or 'group' changed: restart "
		    "mtasts-httpd to apply it; the rest of the change is "
		    "applied", nc->file);
#undef KEEP
	if (!same_listen(old, nc))
		log_warnx("%s: 'listen' changed: restart mtasts-httpd to "
		    "apply it; the rest of the change is applied", nc->file);
}

/*
 * The reload succeeded: nc becomes the running config, but the running
 * sockets stay, and so does their description (old gets nc's, to be
 * freed with it).
 */
static void
adopt_listen(struct conf *old, struct conf *nc)
{
	struct conf_listen	*l;
	size_t			 n;

	l = nc->listen;
	n = nc->nlisten;
	nc->listen = old->listen;
	nc->nlisten = old->nlisten;
	old->listen = l;
	old->nlisten = n;
}

/* Serve s from now on: new connections and every request. */
static void
publish(struct snapshot *s)
{
	snap = s;
	snap_publish(s);
}

/* The site of s serving the same host as site, or NULL. */
static const struct site *
find_site(const struct snapshot *s, const struct site *site)
{
	return hmap_get(&s->hosts, site->host, strlen(site->host));
}

static void	on_acme(void);
static int64_t	acme_retry_at;	/* on_acme() failed: again then */

/* The DNS checks (dnswatch.c) of the config in force and its ids: a round
 * now, then every check_interval. */
static void
watch_dns(void)
{
	const char	**v;
	size_t		  i;

	if ((v = calloc(snap->nsites + 1, sizeof(*v))) == NULL) {
		dnswatch_start(conf, NULL, snap->nsites);	/* off */
		log_warnx("out of memory: DNS checks stopped until the next "
		    "reload");
		return;
	}
	for (i = 0; i < snap->nsites; i++)
		v[i] = ids[i].id;
	dnswatch_start(conf, v, snap->nsites);
	free(v);
}

static void
reload(const char *why)
{
	struct diag		 d = { 0 };
	struct conf		*nc;
	struct snapshot		*ns, *old;
	struct state_req	*nids;
	char			 err[1024];
	size_t			 i, nnew = 0;

	log_info("reload (%s)", why);
	nc = conf->from_env ? env_parse(&d) : conf_parse(conf->file, &d);
	log_diag(&d);
	if (nc == NULL) {
		log_error("reload failed: still serving the previous "
		    "configuration");
		watch_files(conf);
		return;
	}
	keep_restart_only(conf, nc);
	if ((ns = snap_build(nc, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		log_error("reload failed: still serving the previous "
		    "configuration");
		watch_files(nc);	/* the files it names now */
		conf_free(nc);
		return;
	}
	cert_warnings(nc, ns);

	/* Serve first... */
	old = snap;
	publish(ns);
	/* ...then store the ids of what is served, all or none... */
	if ((nids = commit(nc, ns)) == NULL) {
		publish(old);	/* one thread: nothing was served by ns */
		log_error("reload failed: still serving the previous "
		    "configuration");
		snap_free(ns);
		watch_files(nc);
		conf_free(nc);
		return;
	}
	adopt_listen(conf, nc);
	for (i = 0; i < old->nsites; i++)
		if (find_site(ns, &old->sites[i]) == NULL)
			log_warnx("%s: no longer served (to retire a policy, "
			    "publish mode none first: RFC 8461 8.3)",
			    old->sites[i].domain);
	for (i = 0; i < ns->nsites; i++)
		nnew += nids[i].minted;
	snap_free(old);
	free(ids);
	ids = nids;
	conf_free(conf);
	conf = nc;
	watch_files(conf);
	acme_start(conf, on_acme);	/* a new child only if ACME changed */
	acme_retry_at = 0;		/* what it would have done is done */
	watch_dns();

	/* ...announce last. */
	announce(0, 1);
	log_info("reload done: %zu domain%s, %zu new id%s", ns->nsites,
	    ns->nsites == 1 ? "" : "s", nnew, nnew == 1 ? "" : "s");
}

static void
on_change(void)
{
	reload("files changed");
}

/*
 * The ACME child installed a certificate: the same config, new files.
 * Rebuild what is served from the config in force (not the file, which
 * may be half edited), as a reload does; the policies and ids are the
 * same, so there is nothing to store or announce.
 */
static void
on_acme(void)
{
	struct snapshot	*ns, *old = snap;
	char		 err[1024];
	size_t		 i;

	acme_retry_at = 0;
	if ((ns = snap_build(conf, err, sizeof(err))) == NULL)
		goto fail;
	/* Never lose a site that was served (the new file may not load). */
	for (i = 0; i < ns->nsites; i++)
		if (old->sites[i].ready && !ns->sites[i].ready) {
			snprintf(err, sizeof(err), "%s: the new certificate "
			    "does not load", ns->sites[i].host);
			snap_free(ns);
			goto fail;
		}
	cert_warnings(conf, ns);
	/* the same config: the same sites in the same order; the ids
	 * point into the snapshot (commit()) */
	for (i = 0; i < ns->nsites; i++) {
		ids[i].domain = ns->sites[i].domain;
		ids[i].policy = ns->sites[i].policy;
	}
	publish(ns);
	snap_free(old);
	log_info("certificates reloaded (ACME)");
	announce(0, 1);		/* an id that waited for its certificate */
	return;
fail:
	log_error("%s", err);
	log_error("ACME certificates not reloaded: still serving the "
	    "previous ones; trying again in %d s", ACME_RETRY_MS / 1000);
	acme_retry_at = now_ms() + ACME_RETRY_MS;
}

static void
signal_ready(struct ev *ev, uint32_t events)
{
	struct signalfd_siginfo	si;

	(void)events;
	while (read(ev->fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("signal %d: shutting down", (int)si.ssi_signo);
			loop_stop();
			break;
		case SIGHUP:
			reload("SIGHUP");
			break;
		case SIGCHLD:
			hook_reap();
			acme_reap();
			dnswatch_reap();
			break;
		}
	}
}

static int
earliest(int a, int b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

static int
tick(void)
{
	int	t;

	t = bridge_expire();
	t = earliest(t, hook_expire());
	t = earliest(t, acme_expire());
	t = earliest(t, dnswatch_expire());
	if (acme_retry_at != 0) {
		if (acme_retry_at <= now_ms())
			on_acme();
		else
			t = earliest(t, (int)(acme_retry_at - now_ms()));
	}
	t = earliest(t, pending_expire());
	t = earliest(t, watch_tick());
	if (http_timeout_ms() == 0)
		http_run();
	return earliest(t, http_timeout_ms());
}

/*
 * Serve c until SIGTERM or SIGINT; c becomes ours (freed here). Returns
 * the exit status: 0 after a clean shutdown. Start-up errors are fatal.
 */
int
serve(struct conf *c)
{
	sigset_t	set;
	struct diag	d = { 0 };
	char		err[1024];

	conf = c;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1 ||
	    (sig_ev.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	sig_ev.cb = signal_ready;

	if (tls_global_init(err, sizeof(err)) == -1)
		fatalx("%s", err);
	if ((snap = snap_build(conf, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	/* Made while still privileged; written only once serving. */
	if (state_prepare(conf->state_dir, &d) == -1) {
		log_diag(&d);
		exit(1);
	}
	cert_warnings(conf, snap);
	if (loop_init() == -1)
		fatal("epoll_create");
	if (loop_add(&sig_ev, EPOLLIN) == -1)
		fatal("epoll_ctl");
	if (http_start(conf) == -1 || bridge_listen(conf) == -1 ||
	    watch_init(conf->watch, on_change) == -1)
		exit(1);
	watch_files(conf);
	priv_drop(conf);	/* sockets bound, certificates loaded */
	publish(snap);
	/* Serving from here on: only now store the ids, then announce. */
	if ((ids = commit(conf, snap)) == NULL)
		exit(1);
	bridge_print_listeners();
	announce(1, print_records(conf, snap, ids));
	log_info("mtasts-httpd %s serving %zu domain%s", MTASTS_VERSION,
	    snap->nsites, snap->nsites == 1 ? "" : "s");
	/* After the drop: the ACME child runs as the service user, as do
	 * the rounds of DNS checks. */
	acme_start(conf, on_acme);
	watch_dns();
	/*
	 * From now on a lock held elsewhere (a stopped --print-dns) must not
	 * stall serving for long: --print-dns holds it for milliseconds, so
	 * wait at most a second, then fail the reload (the old policy keeps
	 * serving; the error names the lock) or retry the mark later.
	 */
	state_lock_wait(LOCK_WAIT_SERVING_MS);

	if (loop_run(tick) == -1)
		log_warn("epoll_wait");

	acme_stop();
	dnswatch_stop();
	hook_stop();
	while (pendings != NULL)
		pending_drop(pendings);
	free(ids);
	watch_free();
	bridge_close_all();
	http_stop();
	snap_publish(NULL);
	snap_free(snap);
	tls_global_free();
	x509_rng_free();
	loop_free();
	close(sig_ev.fd);
	conf_free(conf);
	log_info("stopped");
	return 0;
}
