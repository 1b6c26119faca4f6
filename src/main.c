/*
 * main.c: options, the modes (serve, --check, --print-policy,
 * --print-dns) and start-up. Errors before serving are fatal with a clear
 * message; once serving, nothing exits on bad input.
 */
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mtasts.h"

static struct ev	sig_ev;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: mtasts-httpd [-v] [-c FILE] [--check | --print-policy "
	    "[DOMAIN] |\n"
	    "                    --print-dns [DOMAIN] | --version | "
	    "--help]\n"
	    "Serves the MTA-STS policy (RFC 8461) of the domains in FILE\n"
	    "(default " DEFAULT_CONF ") at "
	    "https://mta-sts.<domain>" POLICY_PATH ".\n"
	    "  -c, --config FILE  the configuration file\n"
	    "  --check            check configuration and certificate, "
	    "then exit\n"
	    "  --print-policy     print the policy text, then exit\n"
	    "  --print-dns        print the DNS records to publish, then "
	    "exit\n"
	    "  -v, --verbose      log debugging detail\n"
	    "  --version          print the version, then exit\n");
}

/* Print diag lines to stderr; returns the number of errors. */
static size_t
print_diag(const struct diag *d)
{
	size_t	i;

	for (i = 0; i < d->n; i++)
		fprintf(stderr, "%s: %s\n", d->is_err[i] ? "error" : "warning",
		    d->msg[i]);
	return d->nerr;
}

static struct conf *
load(const char *file)
{
	struct diag	 d = { 0 };
	struct conf	*c;

	c = conf_parse(file, &d);
	print_diag(&d);
	diag_free(&d);
	if (c == NULL)
		exit(1);
	return c;
}

/* The domains a print mode applies to: all, or the one named. */
static int
selected(const struct conf *c, size_t i, const char *only)
{
	if (only == NULL)
		return 1;
	return conf_find_domain(c, only) == &c->domains[i];
}

static void
check_only(const struct conf *c, const char *only)
{
	if (only != NULL && conf_find_domain(c, only) == NULL)
		fatalx("%s: domain %s is not configured", c->file, only);
}

/* The policy of domain i, malloc'd; fatal if it cannot be rendered. */
static char *
render(const struct conf *c, size_t i, size_t *len)
{
	char	*p;

	if (policy_render(&c->domains[i], &p, len) == -1)
		fatalx("%s:%d: domain %s: the policy is larger than 64 KiB",
		    c->file, c->domains[i].line, c->domains[i].name);
	return p;
}

static int
print_policy(const struct conf *c, const char *only)
{
	char	*p;
	size_t	 i, len;

	check_only(c, only);
	for (i = 0; i < c->ndomains; i++) {
		if (!selected(c, i, only))
			continue;
		p = render(c, i, &len);
		if (only == NULL && c->ndomains > 1)
			printf("# mta-sts.%s%s\n", c->domains[i].name,
			    POLICY_PATH);
		fwrite(p, 1, len, stdout);
		free(p);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

/*
 * --print-dns uses the same id the server serves: an unchanged policy
 * keeps its stored id; a changed one gets its new id minted and stored
 * now, and the server will use that same id once it serves the policy.
 */
static int
print_dns(const struct conf *c, const char *only)
{
	char	*p, *rec, id[ID_MAX + 1], err[512];
	size_t	 i, len;
	int	 is_new, n = 0;

	check_only(c, only);
	for (i = 0; i < c->ndomains; i++) {
		if (!selected(c, i, only))
			continue;
		p = render(c, i, &len);
		if (state_sync(c->state_dir, c->domains[i].name, p, len,
		    time(NULL), id, &is_new, err, sizeof(err)) == -1)
			fatalx("%s", err);
		free(p);
		if ((rec = dns_render(&c->domains[i], id)) == NULL)
			fatalx("out of memory");
		printf("%s%s", n++ ? "\n" : "", rec);
		free(rec);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

static int
check(const struct conf *c)
{
	struct diag	d = { 0 };
	size_t		nerr;

	tls_check(c, time(NULL), &d);
	nerr = print_diag(&d);
	diag_free(&d);
	if (nerr > 0)
		return 1;
	printf("%s: OK, %zu domain%s\n", c->file, c->ndomains,
	    c->ndomains == 1 ? "" : "s");
	return 0;
}

/* Announce each site's record on stdout: "dns: <zone line>". */
static void
announce(const struct conf *c, const struct snapshot *s)
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
		mark = s->sites[i].id_is_new ?
		    " ; NEW id: publish this record" : " ; id unchanged";
		for (line = rec; *line != '\0'; line = nl + 1) {
			nl = strchr(line, '\n');
			*nl = '\0';
			printf("dns: %s%s\n", line, line == rec ? mark : "");
		}
		free(rec);
	}
	fflush(stdout);
}

/*
 * Certificate findings of --check at start-up, as warnings: an expired or
 * mismatched certificate is served all the same, since a renewal may be
 * on its way, but the admin must hear of it.
 */
static void
cert_warnings(const struct conf *c)
{
	struct diag	d = { 0 };
	size_t		i;

	tls_check(c, time(NULL), &d);
	for (i = 0; i < d.n; i++)
		log_warnx("%s", d.msg[i]);
	diag_free(&d);
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
			log_info("SIGHUP: live reload is not implemented yet; "
			    "restart to apply changes");
			break;
		}
	}
}

static int
tick(void)
{
	int	a, b;

	a = bridge_expire();
	if ((b = http_timeout_ms()) == 0) {
		http_run();
		b = http_timeout_ms();
	}
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

static int
serve(struct conf *c)
{
	struct snapshot	*s;
	sigset_t	 set;
	char		 err[1024];

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1 ||
	    (sig_ev.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	sig_ev.cb = signal_ready;

	if (tls_global_init(err, sizeof(err)) == -1)
		fatalx("%s", err);
	if ((s = snap_build(c, time(NULL), err, sizeof(err))) == NULL)
		fatalx("%s", err);
	cert_warnings(c);
	if (loop_init() == -1)
		fatal("epoll_create");
	if (loop_add(&sig_ev, EPOLLIN) == -1)
		fatal("epoll_ctl");
	if (http_start(c) == -1 || bridge_listen(c) == -1)
		exit(1);
	http_publish(s);
	bridge_publish(s->tls);
	bridge_print_listeners();
	/* Serving from here on; only now announce (DESIGN.md section 2). */
	announce(c, s);
	log_info("mtasts-httpd %s serving %zu domain%s", MTASTS_VERSION,
	    s->nsites, s->nsites == 1 ? "" : "s");

	if (loop_run(tick) == -1)
		log_warn("epoll_wait");

	bridge_close_all();
	http_stop();
	http_publish(NULL);
	snap_free(s);
	tls_global_free();
	loop_free();
	close(sig_ev.fd);
	log_info("stopped");
	return 0;
}

int
main(int argc, char *argv[])
{
	enum { M_SERVE, M_CHECK, M_POLICY, M_DNS };
	static const struct option longopts[] = {
		{ "config",		required_argument,	NULL, 'c' },
		{ "check",		no_argument,		NULL, 'C' },
		{ "print-policy",	no_argument,		NULL, 'P' },
		{ "print-dns",		no_argument,		NULL, 'D' },
		{ "verbose",		no_argument,		NULL, 'v' },
		{ "version",		no_argument,		NULL, 'V' },
		{ "help",		no_argument,		NULL, 'h' },
		{ NULL,			0,			NULL, 0 }
	};
	const char	*file = DEFAULT_CONF, *only = NULL;
	struct conf	*c;
	int		 ch, mode = M_SERVE, verbose = 0, rc;

	while ((ch = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'C':
			mode = M_CHECK;
			break;
		case 'P':
			mode = M_POLICY;
			break;
		case 'D':
			mode = M_DNS;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'V':
			printf("mtasts-httpd %s (mbedTLS %s, libmicrohttpd %s)\n",
			    MTASTS_VERSION, tls_version(), http_version());
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1 || (argc == 1 && mode != M_POLICY && mode != M_DNS)) {
		usage(stderr);
		return 2;
	}
	if (argc == 1)
		only = argv[0];
	log_init(verbose);

	c = load(file);
	switch (mode) {
	case M_CHECK:
		rc = check(c);
		break;
	case M_POLICY:
		rc = print_policy(c, only);
		break;
	case M_DNS:
		rc = print_dns(c, only);
		break;
	default:
		rc = serve(c);
		break;
	}
	conf_free(c);
	return rc;
}
