/*
 * serve.c: the running server. Owns the running configuration and the
 * published snapshot; starts everything, reloads, announces, stops.
 *
 * A reload is a transaction: parse, validate, render, load certificates
 * and sync ids into a complete new snapshot off to the side; only when
 * all of it succeeded is it swapped in (two pointer assignments). Then,
 * and only then, new ids are announced and the hook runs: serve first,
 * announce second (RFC 8461 3.3: a sender that sees a new id and fetches
 * the old policy caches the old policy under the new id). On any error
 * the old snapshot keeps serving, untouched, and watching goes on.
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

static struct conf	*conf;	/* running; restart-only fields as started */
static struct snapshot	*snap;
static struct ev	 sig_ev;

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

/* Start-up: every record of every domain, "dns: <zone line>". */
static void
print_records(const struct conf *c, const struct snapshot *s)
{
	char		*rec, *line, *nl;
	size_t		 i;
	const char	*mark;

	for (i = 0; i < s->nsites; i++) {
		rec = dns_render(&c->domains[i], s->sites[i].id);
		if (rec == NULL) {
			log_warnx("out of memory");
			continue;
		}
		mark = s->sites[i].id_is_new ? MARK_NEW : " ; id unchanged";
		for (line = rec; *line != '\0'; line = nl + 1) {
			nl = strchr(line, '\n');
			*nl = '\0';
			printf("dns: %s%s\n", line, line == rec ? mark : "");
		}
		free(rec);
	}
	fflush(stdout);
}

/* A new id is live: say so on stdout, then run the hook. */
static void
announce(const struct conf *c, const struct conf_domain *d,
    const struct site *site)
{
	char		*rec, name[300], value[64], max_age[32];
	const char	*vars[16];

	if ((rec = dns_sts_record(site->domain, site->id)) == NULL) {
		log_warnx("out of memory");
		return;
	}
	printf("dns: %s%s\n", rec, MARK_NEW);
	fflush(stdout);
	log_info("%s: policy changed, new id %s", site->domain, site->id);
	if (c->hook != NULL) {
		dns_sts_name(site->domain, name, sizeof(name));
		dns_sts_value(site->id, value, sizeof(value));
		snprintf(max_age, sizeof(max_age), "%lld", d->max_age);
		vars[0] = "MTASTS_DOMAIN";	vars[1] = site->domain;
		vars[2] = "MTASTS_ID";		vars[3] = site->id;
		vars[4] = "MTASTS_RECORD_NAME";	vars[5] = name;
		vars[6] = "MTASTS_RECORD_VALUE"; vars[7] = value;
		vars[8] = "MTASTS_RECORD";	vars[9] = rec;
		vars[10] = "MTASTS_MODE";	vars[11] = policy_mode_name(d->mode);
		vars[12] = "MTASTS_MAX_AGE";	vars[13] = max_age;
		vars[14] = NULL;
		hook_run(c->hook, c->hook_timeout, site->domain, vars);
	}
	free(rec);
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
 */
static void
keep_restart_only(struct conf *old, struct conf *nc)
{
	struct conf_listen	*l;
	size_t			 n;

#define KEEP(field, key)						\
	if (nc->field != old->field) {					\
		log_warnx("%s: '%s' changed: restart mtasts-httpd to "	\
		    "apply it; the rest of the change is applied",	\
		    nc->file, key);					\
		nc->field = old->field;					\
	}
	KEEP(max_conns, "max_connections");
	KEEP(max_conns_per_ip, "max_connections_per_ip");
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
	/* The running sockets stay; so does their description. */
	l = nc->listen;
	n = nc->nlisten;
	nc->listen = old->listen;
	nc->nlisten = old->nlisten;
	old->listen = l;
	old->nlisten = n;
}

/* Serve s from now on: the bridge's own answers and MHD's alike. */
static void
publish(struct snapshot *s)
{
	snap = s;
	http_publish(s);
	bridge_publish(s);
}

/* The site of s serving the same host as site, or NULL. */
static const struct site *
find_site(const struct snapshot *s, const struct site *site)
{
	return hmap_get(&s->hosts, site->host, strlen(site->host));
}

static void
reload(const char *why)
{
	struct diag		 d = { 0 };
	struct conf		*nc;
	struct snapshot		*ns, *old;
	const struct site	*prev;
	char			 err[1024];
	size_t			 i, nnew = 0;

	log_info("reload (%s)", why);
	nc = conf->from_env ? env_parse(&d) : conf_parse(conf->file, &d);
	for (i = 0; i < d.n; i++)
		(d.is_err[i] ? log_error : log_warnx)("%s", d.msg[i]);
	diag_free(&d);
	if (nc == NULL) {
		log_error("reload failed: still serving the previous "
		    "configuration");
		watch_files(conf);
		return;
	}
	keep_restart_only(conf, nc);
	if ((ns = snap_build(nc, time(NULL), err, sizeof(err))) == NULL) {
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

	/* ...announce second. */
	for (i = 0; i < ns->nsites; i++) {
		prev = find_site(old, &ns->sites[i]);
		if (prev == NULL || strcmp(prev->id, ns->sites[i].id) != 0) {
			announce(nc, &nc->domains[i], &ns->sites[i]);
			nnew++;
		}
	}
	for (i = 0; i < old->nsites; i++)
		if (find_site(ns, &old->sites[i]) == NULL)
			log_warnx("%s: no longer served (to retire a policy, "
			    "publish mode none first: RFC 8461 8.3)",
			    old->sites[i].domain);
	log_info("reload done: %zu domain%s, %zu new id%s", ns->nsites,
	    ns->nsites == 1 ? "" : "s", nnew, nnew == 1 ? "" : "s");
	snap_free(old);
	conf_free(conf);
	conf = nc;
	watch_files(conf);
}

static void
on_change(void)
{
	reload("files changed");
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
	if ((snap = snap_build(conf, time(NULL), err, sizeof(err))) == NULL)
		fatalx("%s", err);
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
	bridge_print_listeners();
	/* Serving from here on; only now announce. */
	print_records(conf, snap);
	log_info("mtasts-httpd %s serving %zu domain%s", MTASTS_VERSION,
	    snap->nsites, snap->nsites == 1 ? "" : "s");

	if (loop_run(tick) == -1)
		log_warn("epoll_wait");

	hook_stop();
	watch_free();
	bridge_close_all();
	http_stop();
	http_publish(NULL);
	snap_free(snap);
	tls_global_free();
	loop_free();
	close(sig_ev.fd);
	conf_free(conf);
	log_info("stopped");
	return 0;
}
