/*
 * env.c: configuration from MTASTS_* environment variables, for a
 * container started without a config file. The variables become the
 * lines of a native config, which conf.c parses like any file: one code
 * path after this. Messages name the variable instead of a line.
 *
 *   MTASTS_DOMAIN="example.com example.org"   -> domain example.com ...
 *   MTASTS_MX="mx1.example.com mx2.example.com" -> mx mx1... (defaults)
 *   MTASTS_MODE, MTASTS_MAX_AGE, MTASTS_TLSRPT_RUA  -> defaults
 *   MTASTS_CERT, MTASTS_KEY, MTASTS_STATE_DIR, MTASTS_LISTEN,
 *   MTASTS_ACME_DIRECTORY, MTASTS_ACME_EMAIL, MTASTS_CA_BUNDLE,
 *   MTASTS_CHECK_INTERVAL, MTASTS_TLSRPT_RECEIVE -> globals
 *
 * Without MTASTS_CERT and MTASTS_KEY, each domain's certificate comes
 * from ACME when MTASTS_ACME_DIRECTORY is set; else it is certbot's,
 * found under MTASTS_CERTBOT_DIR (default /etc/letsencrypt):
 * live/mta-sts.<domain>/fullchain.pem and privkey.pem.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtasts.h"

#define ENV_FILE	"environment"

#define CERTBOT_DIR	"/etc/letsencrypt"

/* Unset variables leave conf.c's defaults (listen 443, state_dir). */
static const struct {
	const char	*var;
	const char	*key;	/* NULL: handled by hand */
	int		 list;	/* words separated by spaces or commas */
} vars[] = {
	{ "MTASTS_LISTEN",	"listen",	1 },
	{ "MTASTS_STATE_DIR",	"state_dir",	0 },
	{ "MTASTS_CERT",	"cert",		0 },
	{ "MTASTS_KEY",		"key",		0 },
	{ "MTASTS_ACME_DIRECTORY", "acme_directory", 0 },
	{ "MTASTS_ACME_EMAIL",	"acme_email",	0 },
	{ "MTASTS_CA_BUNDLE",	"ca_bundle",	0 },
	{ "MTASTS_CHECK_INTERVAL", "check_interval", 0 },
	{ "MTASTS_TLSRPT_RECEIVE", "tlsrpt_receive", 0 },
	{ "MTASTS_MODE",	"mode",		0 },
	{ "MTASTS_MAX_AGE",	"max_age",	0 },
	{ "MTASTS_MX",		"mx",		1 },
	{ "MTASTS_TLSRPT_RUA",	"tlsrpt_rua",	0 },
	{ "MTASTS_DOMAIN",	NULL,		1 },
	{ "MTASTS_CERTBOT_DIR",	NULL,		0 },
};
#define NVARS	(sizeof(vars) / sizeof(vars[0]))

/* The text being built, and the variable each of its lines came from. */
struct out {
	char		*buf;
	size_t		 len;
	const char	**names;
	int		 nlines;
	int		 oom;
};

static void
emit(struct out *o, const char *var, const char *key, const char *val,
    size_t vlen)
{
	size_t		 need = strlen(key) + vlen + 2;
	char		*nb;
	const char	**nn;

	if (o->oom)
		return;
	nb = realloc(o->buf, o->len + need + 1);
	nn = nb == NULL ? NULL : realloc(o->names,
	    (o->nlines + 1) * sizeof(*nn));
	if (nb != NULL)
		o->buf = nb;
	if (nn == NULL) {
		o->oom = 1;
		return;
	}
	o->names = nn;
	o->len += (size_t)snprintf(o->buf + o->len, need + 1, "%s %.*s\n",
	    key, (int)vlen, val);
	o->names[o->nlines++] = var;
}

/* The next word of a list (white space or commas between); 0 at the end. */
static size_t
next_word(const char **s)
{
	*s += strspn(*s, " \t,");
	return strcspn(*s, " \t,");
}

static const char *
get(const char *name)
{
	const char	*v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;	/* "X=" in compose: unset */
}

/* Does the environment configure us (any MTASTS_ variable)? */
int
env_present(void)
{
	extern char	**environ;
	char		**e;

	for (e = environ; *e != NULL; e++)
		if (strncmp(*e, "MTASTS_", 7) == 0)
			return 1;
	return 0;
}

/*
 * Rewrite "environment:N: text" as "MTASTS_VAR: text" for the messages
 * added since index from.
 */
static void
name_vars(struct diag *d, size_t from, const struct out *o)
{
	size_t	 i, skip = strlen(ENV_FILE);
	char	*m, *end, *nm;
	long	 line;

	for (i = from; i < d->n; i++) {
		m = d->msg[i];
		if (strncmp(m, ENV_FILE ":", skip + 1) != 0)
			continue;
		line = strtol(m + skip + 1, &end, 10);
		if (end == m + skip + 1 || *end != ':' || line < 1 ||
		    line > o->nlines)
			continue;
		if (asprintf(&nm, "%s:%s", o->names[line - 1], end + 1) == -1)
			continue;
		free(m);
		d->msg[i] = nm;
	}
}

/* The certbot layout for domain, or an error naming what is missing. */
static void
certbot(struct out *o, const char *domain, struct diag *d)
{
	const char	*dir = get("MTASTS_CERTBOT_DIR");
	char		*host = NULL, *cert = NULL, *key = NULL, err[400];
	char		 name[256];

	if (dir == NULL)
		dir = CERTBOT_DIR;
	/* conf.c names a bad domain; certbot's names are lower case. */
	if (policy_check_name(domain, 0, err, sizeof(err)) == -1 ||
	    name_norm(domain, strlen(domain), name, sizeof(name)) == -1)
		return;
	/* asprintf leaves its pointer undefined when it fails. */
	if ((host = name_mta_sts(name)) == NULL)
		goto oom;
	if (asprintf(&cert, "%s/live/%s/fullchain.pem", dir, host) == -1) {
		cert = NULL;
		goto oom;
	}
	if (asprintf(&key, "%s/live/%s/privkey.pem", dir, host) == -1) {
		key = NULL;
		goto oom;
	}
	if (access(cert, F_OK) == -1)	/* the rest is still checked */
		diag_add(d, 1, "MTASTS_CERT: not set, and certbot's %s does "
		    "not exist: set MTASTS_CERT and MTASTS_KEY, or mount "
		    "certbot's directory at %s", cert, dir);
	emit(o, "MTASTS_CERTBOT_DIR", "cert", cert, strlen(cert));
	emit(o, "MTASTS_CERTBOT_DIR", "key", key, strlen(key));
	goto out;
oom:
	o->oom = 1;
out:
	free(host);
	free(cert);
	free(key);
}

struct conf *
env_parse(struct diag *d)
{
	extern char	**environ;
	struct out	 o = { 0 };
	struct conf	*c = NULL;
	const char	*v, *s;
	char		**e, *dom;
	size_t		 i, n, from = d->n, nerr = d->nerr;
	int		 known;

	/* Every MTASTS_ variable is ours: a misspelt one is an error. */
	for (e = environ; *e != NULL; e++) {
		if (strncmp(*e, "MTASTS_", 7) != 0)
			continue;
		n = strcspn(*e, "=");
		for (known = 0, i = 0; i < NVARS && !known; i++)
			known = strlen(vars[i].var) == n &&
			    strncmp(vars[i].var, *e, n) == 0;
		if (!known)
			diag_add(d, 1, "%.*s: unknown variable (known: "
			    "MTASTS_DOMAIN, _MX, _MODE, _MAX_AGE, "
			    "_TLSRPT_RUA, _CERT, _KEY, _STATE_DIR, _LISTEN, "
			    "_CERTBOT_DIR, _ACME_DIRECTORY, _ACME_EMAIL, "
			    "_CA_BUNDLE, _CHECK_INTERVAL)", (int)n, *e);
		else if (strpbrk(*e + n, "\n\r") != NULL)
			diag_add(d, 1, "%.*s: contains a line break",
			    (int)n, *e);
	}
	if ((v = get("MTASTS_DOMAIN")) == NULL)
		diag_add(d, 1, "MTASTS_DOMAIN: not set: name the domain "
		    "(or domains) to serve");
	if (get("MTASTS_MODE") == NULL)
		diag_add(d, 1, "MTASTS_MODE: not set: enforce, testing or "
		    "none (testing first: it never bounces mail)");
	if ((get("MTASTS_CERT") == NULL) != (get("MTASTS_KEY") == NULL))
		diag_add(d, 1, "%s: set without %s: the two go together",
		    get("MTASTS_CERT") ? "MTASTS_CERT" : "MTASTS_KEY",
		    get("MTASTS_CERT") ? "MTASTS_KEY" : "MTASTS_CERT");
	if (d->nerr != nerr)
		return NULL;

	for (i = 0; i < NVARS; i++) {
		if (vars[i].key == NULL || (s = get(vars[i].var)) == NULL)
			continue;
		if (!vars[i].list)
			emit(&o, vars[i].var, vars[i].key, s, strlen(s));
		else
			for (; (n = next_word(&s)) > 0; s += n)
				emit(&o, vars[i].var, vars[i].key, s, n);
	}
	for (s = v; (n = next_word(&s)) > 0; s += n) {
		emit(&o, "MTASTS_DOMAIN", "domain", s, n);
		if (get("MTASTS_CERT") == NULL &&
		    get("MTASTS_ACME_DIRECTORY") == NULL) {
			if ((dom = strndup(s, n)) == NULL) {
				o.oom = 1;
				break;
			}
			certbot(&o, dom, d);
			free(dom);
		}
	}
	if (o.oom)
		diag_add(d, 1, "%s: out of memory", ENV_FILE);
	else
		c = conf_parse_buf(ENV_FILE, o.buf, o.len, d);
	name_vars(d, from, &o);
	if (c != NULL && d->nerr != nerr) {	/* a certificate not found */
		conf_free(c);
		c = NULL;
	}
	if (c != NULL)
		c->from_env = 1;
	free(o.buf);
	free(o.names);
	return c;
}
