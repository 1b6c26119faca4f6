/*
 * main.c: options, the modes (serve, --check, --print-policy,
 * --print-dns, --check-live, --healthcheck) and start-up. Errors before
 * serving are fatal with a clear message; once serving, nothing exits on
 * bad input.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mtasts.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: mtasts-httpd [-v] [-c FILE] [--check | --print-policy "
	    "[DOMAIN] |\n"
	    "                    --print-dns [DOMAIN] | --healthcheck |\n"
	    "                    --check-live [--no-smtp] [DOMAIN...] |\n"
	    "                    --report [--format text|json] [PATH...] |\n"
	    "                    --version | --help]\n"
	    "Serves the MTA-STS policy (RFC 8461) of the domains in FILE\n"
	    "(default " DEFAULT_CONF ", or the MTASTS_* environment\n"
	    "variables when they are set and -c is not given) at\n"
	    "https://mta-sts.<domain>" POLICY_PATH ".\n"
	    "  -c, --config FILE  the configuration file\n"
	    "  --check            check configuration and certificate, "
	    "then exit\n"
	    "  --print-policy     print the policy text, then exit\n"
	    "  --print-dns        print the DNS records to publish, then "
	    "exit\n"
	    "  --check-live       check what DNS and the network publish "
	    "against\n"
	    "                     the config: PASS/WARN/FAIL lines; exit 1 "
	    "on a FAIL\n"
	    "  --no-smtp          with --check-live: skip the MX hosts' "
	    "port 25\n"
	    "  --report           summarise TLS reports (RFC 8460) in PATHs "
	    "(.json,\n"
	    "                     .json.gz, mail, mbox, directories; none: "
	    "those\n"
	    "                     tlsrpt_receive stored) and say whether "
	    "testing\n"
	    "                     domains are ready for enforce; exit 1 "
	    "when\n"
	    "                     sessions failed, 2 on unreadable input\n"
	    "  --format FORMAT    with --report: text (default) or json\n"
	    "  --healthcheck      fetch the policy from the running server "
	    "over TLS:\n"
	    "                     exit 0 when it answers, 1 when not\n"
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

/* The config: FILE, or the environment when file is NULL. */
static struct conf *
load(const char *file, int status)
{
	struct diag	 d = { 0 };
	struct conf	*c;

	c = file != NULL ? conf_parse(file, &d) : env_parse(&d);
	print_diag(&d);
	diag_free(&d);
	if (c == NULL)
		exit(status);
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

	switch (policy_render(&c->domains[i], &p, len)) {
	case 0:
		return p;
	case POLICY_TOO_LARGE:
		fatalx("%s:%d: domain %s: the policy is larger than 64 KiB",
		    c->file, c->domains[i].line, c->domains[i].name);
	default:
		fatalx("out of memory");
	}
}

static int
print_policy(const struct conf *c, const char *only)
{
	char	*p, *host;
	size_t	 i, len;

	check_only(c, only);
	for (i = 0; i < c->ndomains; i++) {
		if (!selected(c, i, only))
			continue;
		p = render(c, i, &len);
		if (only == NULL && c->ndomains > 1) {
			if ((host = name_mta_sts(c->domains[i].name)) == NULL)
				fatalx("out of memory");
			printf("# %s%s\n", host, POLICY_PATH);
			free(host);
		}
		fwrite(p, 1, len, stdout);
		free(p);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

/* A new id's rollout notes (history.c), as zone-file comments. */
static void
print_notes(const char *notes)
{
	const char	*line, *nl;

	for (line = notes; line != NULL && *line != '\0'; line = nl + 1) {
		if ((nl = strchr(line, '\n')) == NULL)
			break;
		printf("; %.*s\n", (int)(nl - line), line);
	}
}

/*
 * --print-dns uses the same id the server serves: an unchanged policy
 * keeps its stored id; a changed one gets its new id minted and stored
 * now (under the state directory's lock, so a running server cannot mint
 * another for the same policy), not yet announced: the server still
 * announces it (record, hook) once it serves the policy.
 */
static int
print_dns(const struct conf *c, const char *only)
{
	struct diag		 d = { 0 };
	struct state_req	*r;
	char			*rec;
	size_t			 i, n = 0;

	check_only(c, only);
	if ((r = calloc(c->ndomains + 1, sizeof(*r))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < c->ndomains; i++) {
		if (!selected(c, i, only))
			continue;
		r[n].domain = c->domains[i].name;
		r[n].policy = render(c, i, &r[n].len);
		n++;
	}
	if (state_commit(c->state_dir, r, n, 0, time(NULL), &d) == -1) {
		print_diag(&d);
		exit(1);
	}
	print_diag(&d);
	diag_free(&d);
	for (i = n = 0; i < c->ndomains; i++) {
		if (!selected(c, i, only))
			continue;
		if ((rec = dns_render(&c->domains[i], r[n].id)) == NULL)
			fatalx("out of memory");
		printf("%s%s", n > 0 ? "\n" : "", rec);
		print_notes(r[n].notes);
		free(r[n].notes);
		free(rec);
		free((char *)r[n].policy);
		n++;
	}
	free(r);
	return fflush(stdout) == 0 ? 0 : 1;
}

/*
 * --check-live: the ids are the ones --print-dns gives (an unchanged
 * policy keeps its id; a changed one gets the id the server will serve
 * it with); then live.c's checks. 0, 1 (something FAILed) or 2.
 */
static int
check_live(const struct conf *c, char *const *only, size_t nonly, int smtp)
{
	struct diag		 d = { 0 };
	struct state_req	*r;
	struct conf_domain	*cd;
	char			**ids;
	size_t			 i;
	int			 rc, *want;

	if ((r = calloc(c->ndomains + 1, sizeof(*r))) == NULL ||
	    (ids = calloc(c->ndomains + 1, sizeof(*ids))) == NULL ||
	    (want = calloc(c->ndomains + 1, sizeof(*want))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < nonly; i++) {
		if ((cd = conf_find_domain(c, only[i])) == NULL) {
			fprintf(stderr, "error: %s: domain %s is not "
			    "configured\n", c->file, only[i]);
			rc = 2;
			goto out;
		}
		want[cd - c->domains] = 1;
	}
	for (i = 0; nonly == 0 && i < c->ndomains; i++)
		want[i] = 1;
	for (i = 0; i < c->ndomains; i++) {
		r[i].domain = c->domains[i].name;
		r[i].policy = render(c, i, &r[i].len);
	}
	if (state_commit(c->state_dir, r, c->ndomains, 0, time(NULL),
	    &d) == -1) {
		print_diag(&d);
		diag_free(&d);
		rc = 2;
		goto out;
	}
	print_diag(&d);
	diag_free(&d);
	for (i = 0; i < c->ndomains; i++) {
		ids[i] = r[i].id;
		free(r[i].notes);
	}
	rc = live_check(c, ids, want, smtp);
out:
	for (i = 0; i < c->ndomains; i++)
		free((char *)r[i].policy);
	free(r);
	free(ids);
	free(want);
	return rc;
}

/*
 * --check: every policy renders (under 64 KiB, as the server demands),
 * the certificates and keys load and cover their names.
 */
static int
check(const struct conf *c)
{
	struct diag	 d = { 0 };
	size_t		 nerr, i, len;
	char		*p;

	for (i = 0; i < c->ndomains; i++) {
		switch (policy_render(&c->domains[i], &p, &len)) {
		case 0:
			free(p);
			break;
		case POLICY_TOO_LARGE:
			/* the server's words (snap.c) */
			diag_add(&d, 1, "%s:%d: domain %s: the policy is "
			    "larger than 64 KiB", c->file, c->domains[i].line,
			    c->domains[i].name);
			break;
		default:
			fatalx("out of memory");
		}
	}
	tls_check(c, time(NULL), &d);
	acme_check(c, time(NULL), &d);
	nerr = print_diag(&d);
	diag_free(&d);
	if (nerr > 0)
		return 1;
	printf("%s: OK, %zu domain%s\n", c->file, c->ndomains,
	    c->ndomains == 1 ? "" : "s");
	return 0;
}

/*
 * --report: the config only for readiness and the receiver's directory;
 * without -c and with no config where the default is, reports are still
 * read (they are files anyone may be handed).
 */
static int
report(const char *file, char *const *paths, size_t n, int json)
{
	struct conf	*c = NULL;
	int		 rc;

	if (file != NULL || env_present() || access(DEFAULT_CONF, F_OK) == 0)
		c = load(file != NULL || env_present() ? file : DEFAULT_CONF,
		    2);
	if (n == 0 && (c == NULL || !c->tlsrpt_receive)) {
		fprintf(stderr, "mtasts-httpd: --report: name the report files "
		    "or directories (or set tlsrpt_receive yes in the config "
		    "to read the reports the server received)\n");
		conf_free(c);
		return 2;
	}
	rc = report_run(c, paths, n, json);
	conf_free(c);
	return rc;
}

int
main(int argc, char *argv[])
{
	enum { M_SERVE, M_CHECK, M_POLICY, M_DNS, M_HEALTH, M_LIVE,
	    M_REPORT };
	static const struct option longopts[] = {
		{ "config",		required_argument,	NULL, 'c' },
		{ "check",		no_argument,		NULL, 'C' },
		{ "print-policy",	no_argument,		NULL, 'P' },
		{ "print-dns",		no_argument,		NULL, 'D' },
		{ "healthcheck",	no_argument,		NULL, 'H' },
		{ "check-live",		no_argument,		NULL, 'L' },
		{ "no-smtp",		no_argument,		NULL, 'S' },
		{ "report",		no_argument,		NULL, 'R' },
		{ "format",		required_argument,	NULL, 'F' },
		{ "verbose",		no_argument,		NULL, 'v' },
		{ "version",		no_argument,		NULL, 'V' },
		{ "help",		no_argument,		NULL, 'h' },
		{ NULL,			0,			NULL, 0 }
	};
	const char	*file = NULL, *only = NULL;
	struct conf	*c;
	int		 ch, mode = M_SERVE, verbose = 0, rc, smtp = 1;
	int		 json = -1;

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
		case 'H':
			mode = M_HEALTH;
			break;
		case 'L':
			mode = M_LIVE;
			break;
		case 'S':
			smtp = 0;
			break;
		case 'R':
			mode = M_REPORT;
			break;
		case 'F':
			if (strcmp(optarg, "text") == 0)
				json = 0;
			else if (strcmp(optarg, "json") == 0)
				json = 1;
			else {
				fprintf(stderr, "mtasts-httpd: --format: "
				    "expected text or json\n");
				return 2;
			}
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
	if ((argc > 1 && mode != M_LIVE && mode != M_REPORT) || (argc == 1 &&
	    mode != M_POLICY && mode != M_DNS && mode != M_LIVE &&
	    mode != M_REPORT) || (!smtp && mode != M_LIVE) ||
	    (json != -1 && mode != M_REPORT)) {
		usage(stderr);
		return 2;
	}
	if (argc == 1)
		only = argv[0];
	log_init(verbose);
	if (mode == M_REPORT)
		return report(file, argv, (size_t)argc, json == 1);

	if (file == NULL && !env_present())
		file = DEFAULT_CONF;
	c = load(file, mode == M_LIVE ? 2 : 1);
	switch (mode) {
	case M_LIVE:
		rc = check_live(c, argv, (size_t)argc, smtp);
		break;
	case M_CHECK:
		rc = check(c);
		break;
	case M_POLICY:
		rc = print_policy(c, only);
		break;
	case M_DNS:
		rc = print_dns(c, only);
		break;
	case M_HEALTH:
		rc = healthcheck(c);
		break;
	default:
		return serve(c);	/* takes c */
	}
	conf_free(c);
	return rc;
}
