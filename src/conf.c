/*
 * conf.c: parses the config file into struct conf.
 *
 * Format: one "key value" per line, '#' starts a comment (at the start of
 * a line or after white space). Keys before the first "domain" line are
 * global; the per-domain keys may also stand there, as defaults that every
 * domain inherits. Pure: reads the one file, never logs; every error and
 * warning goes into a struct diag as "file:line: text", and parsing goes
 * on after an error so that one run lists them all.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mtasts.h"

#define DEFAULT_MAX_AGE		604800
#define DEFAULT_MAX_CONNS	256
#define DEFAULT_MAX_PER_IP	32
#define DEFAULT_MAX_REQUESTS	100
#define DEFAULT_MAX_HEADER	1024	/* a policy fetch is ~200 bytes; see README */
#define DEFAULT_HS_TIMEOUT	10
#define DEFAULT_IDLE_TIMEOUT	30
#define DEFAULT_HOOK_TIMEOUT	30
#define DEFAULT_CHECK_INTERVAL	3600
#define DEFAULT_TLSRPT_STORE_MAX 16	/* MiB */

struct parser {
	struct conf		*conf;
	struct diag		*diag;
	struct conf_domain	 defaults;
	struct conf_domain	*cur;	/* &defaults before the first domain,
					   NULL after a rejected domain line */
	int			 line;
	int			 domain_lines;
	int			 seen[32];	/* line a single key was set */
	int			 dseen[8];	/* same, per domain block */
};

enum { K_GLOBAL, K_DOMAIN };

struct keyword {
	const char	*name;
	int		 scope;
	int		 repeat;
	int		 (*set)(struct parser *, const char *);
};

static void	perr(struct parser *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	set_listen(struct parser *, const char *);
static int	set_cert(struct parser *, const char *);
static int	set_key(struct parser *, const char *);
static int	set_state_dir(struct parser *, const char *);
static int	set_acme_directory(struct parser *, const char *);
static int	set_acme_email(struct parser *, const char *);
static int	set_ca_bundle(struct parser *, const char *);
static int	set_max_conns(struct parser *, const char *);
static int	set_max_handshakes(struct parser *, const char *);
static int	set_max_per_ip(struct parser *, const char *);
static int	set_max_requests(struct parser *, const char *);
static int	set_max_header(struct parser *, const char *);
static int	set_hs_timeout(struct parser *, const char *);
static int	set_idle_timeout(struct parser *, const char *);
static int	set_user(struct parser *, const char *);
static int	set_group(struct parser *, const char *);
static int	set_hook(struct parser *, const char *);
static int	set_hook_timeout(struct parser *, const char *);
static int	set_check_interval(struct parser *, const char *);
static int	set_watch(struct parser *, const char *);
static int	set_tlsrpt_receive(struct parser *, const char *);
static int	set_tlsrpt_store_max(struct parser *, const char *);
static int	set_mode(struct parser *, const char *);
static int	set_max_age(struct parser *, const char *);
static int	set_mx(struct parser *, const char *);
static int	set_rua(struct parser *, const char *);

/* Order matters: the index of a key is its slot in seen[] / dseen[]. */
static const struct keyword globals[] = {
	{ "listen",		K_GLOBAL, 1, set_listen },
	{ "state_dir",		K_GLOBAL, 0, set_state_dir },
	{ "max_connections",	K_GLOBAL, 0, set_max_conns },
	{ "max_connections_per_ip", K_GLOBAL, 0, set_max_per_ip },
	{ "max_handshakes",	K_GLOBAL, 0, set_max_handshakes },
	{ "max_requests",	K_GLOBAL, 0, set_max_requests },
	{ "max_header_size",	K_GLOBAL, 0, set_max_header },
	{ "handshake_timeout",	K_GLOBAL, 0, set_hs_timeout },
	{ "idle_timeout",	K_GLOBAL, 0, set_idle_timeout },
	{ "user",		K_GLOBAL, 0, set_user },
	{ "group",		K_GLOBAL, 0, set_group },
	{ "hook",		K_GLOBAL, 0, set_hook },
	{ "hook_timeout",	K_GLOBAL, 0, set_hook_timeout },
	{ "check_interval",	K_GLOBAL, 0, set_check_interval },
	{ "watch",		K_GLOBAL, 0, set_watch },
	{ "acme_directory",	K_GLOBAL, 0, set_acme_directory },
	{ "acme_email",		K_GLOBAL, 0, set_acme_email },
	{ "ca_bundle",		K_GLOBAL, 0, set_ca_bundle },
	{ "tlsrpt_receive",	K_GLOBAL, 0, set_tlsrpt_receive },
	{ "tlsrpt_store_max",	K_GLOBAL, 0, set_tlsrpt_store_max },
};
/* index in domain_keys[] */
enum { K_MODE, K_MAX_AGE, K_MX, K_RUA, K_CERT, K_KEY };
static const struct keyword domain_keys[] = {
	{ "mode",		K_DOMAIN, 0, set_mode },
	{ "max_age",		K_DOMAIN, 0, set_max_age },
	{ "mx",			K_DOMAIN, 1, set_mx },
	{ "tlsrpt_rua",		K_DOMAIN, 0, set_rua },
	/* Before the first domain: the default certificate. */
	{ "cert",		K_DOMAIN, 0, set_cert },
	{ "key",		K_DOMAIN, 0, set_key },
};

#define NGLOBALS	(sizeof(globals) / sizeof(globals[0]))
#define NDOMAIN_KEYS	(sizeof(domain_keys) / sizeof(domain_keys[0]))

/* An error at the current line: "file:line: " and the formatted text. */
static void
perr(struct parser *p, const char *fmt, ...)
{
	va_list	ap;
	char	msg[600];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_add(p->diag, 1, "%s:%d: %s", p->conf->file, p->line, msg);
}

static char *
xstrdup(struct parser *p, const char *s)
{
	char	*d = strdup(s);

	if (d == NULL)
		perr(p, "out of memory");
	return d;
}

/* A name policy_check_name() accepted, in its stored form (name.c). */
static char *
norm_dup(struct parser *p, const char *v)
{
	char	buf[256];

	if (name_norm(v, strlen(v), buf, sizeof(buf)) == -1) {
		perr(p, "'%s' is not a host name", v);
		return NULL;
	}
	return xstrdup(p, buf);
}

/* Parse a decimal number in [min, max]; no sign, no suffix. */
static int
number(const char *s, long long min, long long max, long long *out)
{
	long long	v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (*s - '0');
		if (v > max)
			return -1;
	}
	if (v < min)
		return -1;
	*out = v;
	return 0;
}

static int
set_path(struct parser *p, char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(p, v);
	return *dst != NULL ? 0 : -1;
}

static int
set_cert(struct parser *p, const char *v)
{
	return set_path(p, &p->cur->cert, v);
}

static int
set_key(struct parser *p, const char *v)
{
	return set_path(p, &p->cur->key, v);
}

static int
set_state_dir(struct parser *p, const char *v)
{
	return set_path(p, &p->conf->state_dir, v);
}

/* RFC 8555 7.1.1: the directory is fetched over HTTPS, nothing else. */
static int
set_acme_directory(struct parser *p, const char *v)
{
	const char	*h = v + 8;

	if (strncasecmp(v, "https://", 8) != 0 || *h == '\0' || *h == '/' ||
	    strlen(v) > 1000 || strpbrk(v, " \t\"<>\\^`{|}") != NULL) {
		perr(p, "acme_directory must be an https:// URL (the ACME "
		    "server's directory), not '%s'", v);
		return -1;
	}
	return set_path(p, &p->conf->acme_directory, v);
}

/* The account's contact: one address, sent as mailto:; the CA checks
 * more (RFC 8555 7.3: unsupportedContact, invalidContact). */
static int
set_acme_email(struct parser *p, const char *v)
{
	const char	*at = strchr(v, '@');
	const char	*s;

	for (s = v; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == ',' || *s == '<' ||
		    *s == '>' || *s == '"' || *s == 0x7f)
			break;
	if (at == NULL || at == v || at[1] == '\0' || *s != '\0' ||
	    strlen(v) > 254 || strncasecmp(v, "mailto:", 7) == 0) {
		perr(p, "acme_email must be one mail address, as "
		    "hostmaster@example.com, not '%s'", v);
		return -1;
	}
	return set_path(p, &p->conf->acme_email, v);
}

static int
set_ca_bundle(struct parser *p, const char *v)
{
	return set_path(p, &p->conf->ca_bundle, v);
}

static int
set_int(struct parser *p, const char *key, const char *v, int min, int max,
    int *dst)
{
	long long	n;

	if (number(v, min, max, &n) == -1) {
		perr(p, "%s must be a whole number from %d to %d", key, min,
		    max);
		return -1;
	}
	*dst = (int)n;
	return 0;
}

static int
set_max_conns(struct parser *p, const char *v)
{
	return set_int(p, "max_connections", v, 1, 100000,
	    &p->conf->max_conns);
}

/* 0: sized from the file-descriptor limit (bridge.c) */
static int
set_max_handshakes(struct parser *p, const char *v)
{
	return set_int(p, "max_handshakes", v, 0, 1000000,
	    &p->conf->max_handshakes);
}

static int
set_max_per_ip(struct parser *p, const char *v)
{
	return set_int(p, "max_connections_per_ip", v, 1, 100000,
	    &p->conf->max_conns_per_ip);
}

static int
set_max_requests(struct parser *p, const char *v)
{
	return set_int(p, "max_requests", v, 1, 1000000,
	    &p->conf->max_requests);
}

static int
set_max_header(struct parser *p, const char *v)
{
	return set_int(p, "max_header_size", v, 1024, 65536,
	    &p->conf->max_header_size);
}

static int
set_hs_timeout(struct parser *p, const char *v)
{
	return set_int(p, "handshake_timeout", v, 1, 3600,
	    &p->conf->handshake_timeout);
}

static int
set_idle_timeout(struct parser *p, const char *v)
{
	return set_int(p, "idle_timeout", v, 1, 3600, &p->conf->idle_timeout);
}

static int
set_user(struct parser *p, const char *v)
{
	return set_path(p, &p->conf->user, v);
}

static int
set_group(struct parser *p, const char *v)
{
	return set_path(p, &p->conf->group, v);
}

static int
set_hook(struct parser *p, const char *v)
{
	if (v[0] != '/') {
		perr(p, "hook '%s': give the absolute path of an executable",
		    v);
		return -1;
	}
	return set_path(p, &p->conf->hook, v);
}

static int
set_hook_timeout(struct parser *p, const char *v)
{
	return set_int(p, "hook_timeout", v, 1, 3600,
	    &p->conf->hook_timeout);
}

/* 0 turns the DNS checks of a running server off. */
static int
set_check_interval(struct parser *p, const char *v)
{
	return set_int(p, "check_interval", v, 0, 31536000,
	    &p->conf->check_interval);
}

static int
set_watch(struct parser *p, const char *v)
{
	static const char *const names[] = { "inotify", "poll", "none" };
	size_t	i;

	for (i = 0; i < 3; i++)
		if (strcmp(v, names[i]) == 0) {
			p->conf->watch = (int)i;
			return 0;
		}
	perr(p, "watch '%s': expected inotify, poll or none", v);
	return -1;
}

static int
set_tlsrpt_receive(struct parser *p, const char *v)
{
	/* 1 and 0 as OpenWrt's UCI writes booleans */
	if (strcmp(v, "yes") == 0 || strcmp(v, "1") == 0)
		p->conf->tlsrpt_receive = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "0") == 0)
		p->conf->tlsrpt_receive = 0;
	else {
		perr(p, "tlsrpt_receive '%s': expected yes or no", v);
		return -1;
	}
	return 0;
}

static int
set_tlsrpt_store_max(struct parser *p, const char *v)
{
	return set_int(p, "tlsrpt_store_max", v, 1, 65536,
	    &p->conf->tlsrpt_store_max);
}

/* "443", "192.0.2.1:443", "[2001:db8::1]:443" */
static int
set_listen(struct parser *p, const char *v)
{
	struct conf		*c = p->conf;
	struct conf_listen	*l, *nl;
	char			 host[64];
	const char		*port = v, *colon;
	long long		 n;
	size_t			 hl = 0;

	if (v[0] == '[') {
		colon = strstr(v, "]:");
		if (colon == NULL)
			goto bad;
		hl = (size_t)(colon - v - 1);
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, v + 1, hl);
		port = colon + 2;
	} else if ((colon = strrchr(v, ':')) != NULL) {
		hl = (size_t)(colon - v);
		if (hl >= sizeof(host) || memchr(v, ':', hl) != NULL)
			goto bad;
		memcpy(host, v, hl);
		port = colon + 1;
	}
	host[hl] = '\0';
	if (number(port, 0, 65535, &n) == -1)
		goto bad;

	nl = realloc(c->listen, (c->nlisten + 1) * sizeof(*nl));
	if (nl == NULL) {
		perr(p, "out of memory");
		return -1;
	}
	c->listen = nl;
	l = &c->listen[c->nlisten];
	memset(l, 0, sizeof(*l));
	if (hl == 0) {
		struct sockaddr_in6 *s6 = (void *)&l->ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_any;
		s6->sin6_port = htons((uint16_t)n);
		l->sslen = sizeof(*s6);
		l->dual = 1;
	} else if (v[0] == '[') {
		struct sockaddr_in6 *s6 = (void *)&l->ss;
		s6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			goto bad;
		s6->sin6_port = htons((uint16_t)n);
		l->sslen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (void *)&l->ss;
		s4->sin_family = AF_INET;
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			goto bad;
		s4->sin_port = htons((uint16_t)n);
		l->sslen = sizeof(*s4);
	}
	l->line = p->line;
	if ((l->spec = xstrdup(p, v)) == NULL)
		return -1;
	c->nlisten++;
	return 0;
bad:
	perr(p, "listen '%s': expected PORT, IPv4:PORT or [IPv6]:PORT with "
	    "a numeric address", v);
	return -1;
}

static int
set_mode(struct parser *p, const char *v)
{
	int	m = policy_mode_parse(v);

	if (m == MODE_UNSET) {
		perr(p, "mode '%s': expected enforce, testing or none", v);
		return -1;
	}
	p->cur->mode = m;
	p->cur->mode_line = p->line;
	return 0;
}

static int
set_max_age(struct parser *p, const char *v)
{
	long long	n;

	if (number(v, 0, MAX_AGE_MAX, &n) == -1) {
		perr(p, "max_age '%s': expected seconds from 0 to %lld "
		    "(one year)", v, MAX_AGE_MAX);
		return -1;
	}
	p->cur->max_age = n;
	p->cur->max_age_line = p->line;
	return 0;
}

static int
add_mx(struct parser *p, struct conf_domain *d, const char *v, int line)
{
	char	**nm;
	int	 *nl;

	nm = realloc(d->mx, (d->nmx + 1) * sizeof(*nm));
	if (nm == NULL)
		goto oom;
	d->mx = nm;
	nl = realloc(d->mx_line, (d->nmx + 1) * sizeof(*nl));
	if (nl == NULL)
		goto oom;
	d->mx_line = nl;
	if ((d->mx[d->nmx] = xstrdup(p, v)) == NULL)
		return -1;
	d->mx_line[d->nmx] = line;
	d->nmx++;
	return 0;
oom:
	perr(p, "out of memory");
	return -1;
}

static int
set_mx(struct parser *p, const char *v)
{
	struct conf_domain	*d = p->cur;
	char			 err[512], *mx;
	size_t			 i;
	int			 rc = -1;

	if (policy_check_name(v, 1, err, sizeof(err)) == -1) {
		perr(p, "mx %s", err);
		return -1;
	}
	if ((mx = norm_dup(p, v)) == NULL)
		return -1;
	for (i = 0; i < d->nmx; i++) {
		if (strcmp(d->mx[i], mx) == 0) {
			diag_add(p->diag, 0, "%s:%d: duplicate mx '%s' "
			    "dropped (first at line %d)", p->conf->file,
			    p->line, mx, d->mx_line[i]);
			free(mx);
			return 0;
		}
	}
	if (mx[0] == '*')
		diag_add(p->diag, 0, "%s:%d: mx '%s' matches exactly one "
		    "label in its place (a%s), not '%s' itself nor deeper "
		    "names", p->conf->file, p->line, mx, mx + 1, mx + 2);
	rc = add_mx(p, d, mx, p->line);
	free(mx);
	return rc;
}

static int
set_rua(struct parser *p, const char *v)
{
	char	err[512];

	if (policy_check_rua(v, err, sizeof(err)) == -1) {
		perr(p, "tlsrpt_rua %s", err);
		return -1;
	}
	return set_path(p, &p->cur->rua, v);
}

static void
domain_init(struct conf_domain *d)
{
	memset(d, 0, sizeof(*d));
	d->mode = MODE_UNSET;
	d->max_age = -1;
}

static void
domain_free(struct conf_domain *d)
{
	size_t	i;

	for (i = 0; i < d->nmx; i++)
		free(d->mx[i]);
	free(d->mx);
	free(d->mx_line);
	free(d->name);
	free(d->rua);
	free(d->cert);
	free(d->key);
}

/* A block (the defaults or a domain) ends: cert and key go together. */
static void
end_block(struct parser *p)
{
	const int	*seen;

	/* The defaults' cert and key are checked by check_certs(). */
	if (p->cur == NULL || p->cur == &p->defaults)
		return;
	seen = p->dseen;
	if (seen[K_CERT] && !seen[K_KEY])
		diag_add(p->diag, 1, "%s:%d: 'cert' without 'key' in the "
		    "same block", p->conf->file, seen[K_CERT]);
	if (seen[K_KEY] && !seen[K_CERT])
		diag_add(p->diag, 1, "%s:%d: 'key' without 'cert' in the "
		    "same block", p->conf->file, seen[K_KEY]);
}

static int
start_domain(struct parser *p, const char *v)
{
	struct conf		*c = p->conf;
	struct conf_domain	*nd, *d;
	char			 err[512], *name;
	size_t			 i, len;

	if (policy_check_name(v, 0, err, sizeof(err)) == -1) {
		perr(p, "domain %s", err);
		return -1;
	}
	if ((name = norm_dup(p, v)) == NULL)
		return -1;
	len = strlen(name);
	if (strncmp(name, "mta-sts.", 8) == 0) {
		perr(p, "domain '%s': write the mail domain (%s); the policy "
		    "host mta-sts.<domain> is derived from it", name,
		    name + 8);
		free(name);
		return -1;
	}
	if (len > 253 - 8) {
		perr(p, "domain '%s': mta-sts.<domain> would be longer than "
		    "253 characters", name);
		free(name);
		return -1;
	}
	for (i = 0; i < c->ndomains; i++) {
		if (strcmp(c->domains[i].name, name) == 0) {
			perr(p, "domain '%s' already configured at line %d",
			    name, c->domains[i].line);
			free(name);
			return -1;
		}
	}
	nd = realloc(c->domains, (c->ndomains + 1) * sizeof(*nd));
	if (nd == NULL) {
		perr(p, "out of memory");
		free(name);
		return -1;
	}
	c->domains = nd;
	d = &c->domains[c->ndomains++];
	domain_init(d);
	d->name = name;
	d->line = p->line;
	p->cur = d;
	memset(p->dseen, 0, sizeof(p->dseen));
	return 0;
}

static const struct keyword *
lookup(const struct keyword *tab, size_t n, const char *key, size_t *idx)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (strcmp(tab[i].name, key) == 0) {
			*idx = i;
			return &tab[i];
		}
	}
	return NULL;
}


/* Split one line into at most three words; returns the word count. */
static int
split(char *line, char *w[3])
{
	int	n = 0;
	char	*s = line;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			return n;
		if (n == 3)
			return 4;
		w[n++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t')
			s++;
		if (*s != '\0')
			*s++ = '\0';
	}
}

static void
parse_line(struct parser *p, char *line)
{
	const struct keyword	*kw = NULL;
	char			*w[3];
	size_t			 idx = 0;
	int			 n, *seen;

	n = split(line, w);
	if (n == 0)
		return;
	if (strcmp(w[0], "domain") == 0) {
		end_block(p);
		p->domain_lines++;
		if (n == 2 && start_domain(p, w[1]) == 0)
			return;
		p->cur = NULL;	/* skip the rejected domain's keys */
		if (n != 2)
			goto arity;
		return;
	}
	if ((kw = lookup(globals, NGLOBALS, w[0], &idx)) != NULL) {
		if (p->cur != &p->defaults) {
			perr(p, "'%s' is a global key: move it before the "
			    "first 'domain' line", w[0]);
			return;
		}
		seen = &p->seen[idx];
	} else if ((kw = lookup(domain_keys, NDOMAIN_KEYS, w[0], &idx))
	    != NULL) {
		if (p->cur == NULL)
			return;
		seen = p->cur == &p->defaults ? &p->seen[NGLOBALS + idx] :
		    &p->dseen[idx];
	} else {
		perr(p, "unknown key '%s'", w[0]);
		return;
	}
	if (n != 2)
		goto arity;
	if (!kw->repeat && *seen != 0) {
		perr(p, "'%s' given twice (first at line %d)", w[0], *seen);
		return;
	}
	/* A rejected value still counts as given: no "missing" error too. */
	*seen = p->line;
	if (kw->set(p, w[1]) == -1 && kw->scope == K_DOMAIN)
		p->cur->invalid |= 1u << idx;
	return;
arity:
	if (kw != NULL) {
		if (kw->scope == K_DOMAIN && p->cur != NULL) {
			p->cur->invalid |= 1u << idx;
			*(p->cur == &p->defaults ? &p->seen[NGLOBALS + idx] :
			    &p->dseen[idx]) = p->line;
		} else if (kw->scope == K_GLOBAL)
			p->seen[idx] = p->line;
	}
	if (n == 1)
		perr(p, "'%s' needs a value", w[0]);
	else if (strcmp(w[0], "tlsrpt_rua") == 0)
		perr(p, "'%s' takes one value: separate URIs with commas, "
		    "no spaces", w[0]);
	else
		perr(p, "'%s' takes one value", w[0]);
}

/* Fill what a domain left unset from the defaults, then check it. */
static void
finish_domain(struct parser *p, struct conf_domain *d)
{
	struct conf_domain	*def = &p->defaults;
	const char		*file = p->conf->file;
	size_t			 i;
	unsigned		 bad;

	if (d->mode == MODE_UNSET) {
		d->mode = def->mode;
		d->mode_line = def->mode_line;
		d->mode_inherited = 1;
	}
	if (d->max_age == -1) {
		d->max_age = def->max_age;
		d->max_age_line = def->max_age_line;
	}
	if (d->max_age == -1)
		d->max_age = DEFAULT_MAX_AGE;
	if (d->rua == NULL && def->rua != NULL &&
	    (d->rua = strdup(def->rua)) == NULL)
		diag_add(p->diag, 1, "%s: out of memory", file);
	if (d->nmx == 0)
		for (i = 0; i < def->nmx; i++)
			if (add_mx(p, d, def->mx[i], def->mx_line[i]) == -1)
				break;

	/* A rejected mode or mx was reported; "missing" would be noise. */
	bad = d->invalid | def->invalid;
	if (bad & (1u << K_MODE))
		;
	else if (d->mode == MODE_UNSET)
		diag_add(p->diag, 1, "%s:%d: domain %s: 'mode' is missing "
		    "(enforce, testing or none)", file, d->line, d->name);
	else if (d->nmx == 0 && d->mode != MODE_NONE &&
	    !(bad & (1u << K_MX)))
		diag_add(p->diag, 1, "%s:%d: domain %s: mode %s needs at "
		    "least one 'mx'", file, d->line, d->name,
		    policy_mode_name(d->mode));
	if (d->max_age < MAX_AGE_WARN)
		diag_add(p->diag, 0, "%s:%d: domain %s: max_age %lld is below "
		    "one day (86400): some validators reject it and some "
		    "senders then skip TLS reports", file,
		    d->max_age_line != 0 ? d->max_age_line : d->line, d->name,
		    d->max_age);
}

/*
 * With tlsrpt_receive, each domain's reports may also come to its own
 * policy host: that URI joins the rua the records announce (after the
 * configured ones, mailto staying the main route), so --print-dns, the
 * live checks and the watcher all see the one rua.
 */
/* Whether the comma-separated list names uri (any case). */
static int
listed(const char *list, const char *uri)
{
	size_t	n = strlen(uri), k;

	while (*list != '\0') {
		while (*list == ' ' || *list == ',')
			list++;
		k = strcspn(list, ",");
		while (k > 0 && list[k - 1] == ' ')
			k--;
		if (k == n && strncasecmp(list, uri, n) == 0)
			return 1;
		list += strcspn(list, ",");
	}
	return 0;
}

static int
receiver_rua(struct conf *c)
{
	struct conf_domain	*d;
	char			*r;
	size_t			 i;
	int			 n;

	for (i = 0; i < c->ndomains; i++) {
		d = &c->domains[i];
		if (asprintf(&r, "https://mta-sts.%s%s", d->name,
		    TLSRPT_PATH) == -1)
			return -1;
		/* given already (among the configured ones): as it is */
		if (d->rua != NULL && listed(d->rua, r)) {
			free(r);
			continue;
		}
		free(r);
		if (d->rua != NULL)
			n = asprintf(&r, "%s,https://mta-sts.%s%s", d->rua,
			    d->name, TLSRPT_PATH);
		else
			n = asprintf(&r, "https://mta-sts.%s%s", d->name,
			    TLSRPT_PATH);
		if (n == -1)
			return -1;
		free(d->rua);
		d->rua = r;
	}
	return 0;
}

/*
 * Every domain needs a certificate: its own, or the default one given
 * before the first domain, or, with acme_directory set, one from ACME
 * (marked here; its file is named by acme_paths() once state_dir is
 * known). The default moves into conf->cert/key.
 */
static void
check_certs(struct parser *p)
{
	struct conf	*c = p->conf;
	size_t		 i, own = 0;
	size_t		 k;
	int		 has_cert, has_key, acme = c->acme_directory != NULL;

	/* A rejected acme_directory was told; no follow-ups about certs. */
	for (k = 0; k < NGLOBALS; k++)
		if (strcmp(globals[k].name, "acme_directory") == 0 &&
		    p->seen[k])
			acme = 1;

	c->cert = p->defaults.cert;
	c->key = p->defaults.key;
	p->defaults.cert = p->defaults.key = NULL;
	for (i = 0; i < c->ndomains; i++)
		if (c->domains[i].cert != NULL || c->domains[i].key != NULL)
			own++;
	has_cert = c->cert != NULL || p->seen[NGLOBALS + K_CERT];
	has_key = c->key != NULL || p->seen[NGLOBALS + K_KEY];
	/* A default half given, or the one-certificate case: both needed. */
	if (has_cert || has_key || (own == 0 && !acme) || c->ndomains == 0) {
		if (!has_cert)
			diag_add(p->diag, 1, "%s: 'cert' is missing (the "
			    "certificate chain for mta-sts.<domain>; or set "
			    "acme_directory to get it by ACME)", c->file);
		if (!has_key)
			diag_add(p->diag, 1, "%s: 'key' is missing (the "
			    "certificate's private key)", c->file);
		return;
	}
	for (i = 0; i < c->ndomains; i++) {
		if (c->domains[i].cert != NULL || c->domains[i].key != NULL)
			continue;
		if (acme)
			c->domains[i].acme = 1;
		else
			diag_add(p->diag, 1, "%s:%d: domain %s: no "
			    "certificate: give 'cert' and 'key' in its block, "
			    "or before the first domain as the default, or "
			    "set acme_directory to get one by ACME", c->file,
			    c->domains[i].line, c->domains[i].name);
	}
}

/* An ACME domain's certificate and key: one file in the state directory
 * (chain, then key), so that installing a new one is one rename. */
static int
acme_paths(struct conf *c)
{
	struct conf_domain	*d;
	size_t			 i;
	int			 n;

	for (i = 0; i < c->ndomains; i++) {
		d = &c->domains[i];
		if (!d->acme)
			continue;
		n = snprintf(NULL, 0, "%s/acme/mta-sts.%s.pem", c->state_dir,
		    d->name);
		if ((d->cert = malloc((size_t)n + 1)) == NULL)
			return -1;
		snprintf(d->cert, (size_t)n + 1, "%s/acme/mta-sts.%s.pem",
		    c->state_dir, d->name);
		if ((d->key = strdup(d->cert)) == NULL)
			return -1;
	}
	return 0;
}

/*
 * Parse a whole config held in buf (len bytes); file names it in
 * messages. Returns a conf when diag has no errors, else NULL; warnings
 * may be in diag either way. The caller frees with conf_free().
 */
struct conf *
conf_parse_buf(const char *file, const char *buf, size_t len,
    struct diag *diag)
{
	struct parser	 p;
	struct conf	*c;
	char		*copy = NULL, *line, *next;
	size_t		 i, nerr = diag->nerr;

	memset(&p, 0, sizeof(p));
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->file = strdup(file)) == NULL) {
		diag_add(diag, 1, "%s: out of memory", file);
		free(c);
		return NULL;
	}
	c->max_conns = DEFAULT_MAX_CONNS;
	c->max_conns_per_ip = DEFAULT_MAX_PER_IP;
	c->max_requests = DEFAULT_MAX_REQUESTS;
	c->max_header_size = DEFAULT_MAX_HEADER;
	c->handshake_timeout = DEFAULT_HS_TIMEOUT;
	c->idle_timeout = DEFAULT_IDLE_TIMEOUT;
	c->hook_timeout = DEFAULT_HOOK_TIMEOUT;
	c->check_interval = DEFAULT_CHECK_INTERVAL;
	c->tlsrpt_store_max = DEFAULT_TLSRPT_STORE_MAX;
	c->watch = WATCH_INOTIFY;
	p.conf = c;
	p.diag = diag;
	domain_init(&p.defaults);
	p.cur = &p.defaults;

	if (memchr(buf, '\0', len) != NULL) {
		diag_add(diag, 1, "%s: contains a NUL byte: not a text file",
		    file);
		goto out;
	}
	if (uci_detect(buf, len)) {
		/* OpenWrt's /etc/config syntax: same lines, native keys */
		if ((copy = uci_translate(file, buf, len, diag)) == NULL)
			goto out;
	} else {
		if ((copy = malloc(len + 1)) == NULL) {
			diag_add(diag, 1, "%s: out of memory", file);
			goto out;
		}
		memcpy(copy, buf, len);
		copy[len] = '\0';
	}
	for (line = copy; line != NULL; line = next) {
		p.line++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line != '\0' && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		parse_line(&p, line);
		if (next != NULL && *next == '\0')
			break;
	}

	end_block(&p);
	p.cur = &p.defaults;
	check_certs(&p);
	if (p.domain_lines == 0)
		diag_add(diag, 1, "%s: no 'domain' configured", file);
	for (i = 0; i < c->ndomains; i++)
		finish_domain(&p, &c->domains[i]);
	if (c->tlsrpt_receive && receiver_rua(c) == -1)
		diag_add(diag, 1, "%s: out of memory", file);
	if (c->state_dir == NULL &&
	    (c->state_dir = strdup(DEFAULT_STATE_DIR)) == NULL)
		diag_add(diag, 1, "%s: out of memory", file);
	else if (acme_paths(c) == -1)
		diag_add(diag, 1, "%s: out of memory", file);
	if (c->nlisten == 0) {
		p.line = 0;
		set_listen(&p, "443");
	}
out:
	free(copy);
	domain_free(&p.defaults);
	if (diag->nerr != nerr) {
		conf_free(c);
		return NULL;
	}
	return c;
}

/* Read and parse a config file; see conf_parse_buf(). */
struct conf *
conf_parse(const char *file, struct diag *diag)
{
	FILE		*f = NULL;
	char		*buf = NULL, *nb;
	size_t		 len = 0, cap = 0, n;
	struct conf	*c = NULL;

	if ((f = fopen(file, "r")) == NULL) {
		diag_add(diag, 1, "%s: %s", file, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (cap - len < 4096) {
			if (cap > 1024 * 1024) {
				diag_add(diag, 1, "%s: larger than 1 MiB",
				    file);
				goto out;
			}
			if ((nb = realloc(buf, cap + 8192)) == NULL) {
				diag_add(diag, 1, "%s: out of memory", file);
				goto out;
			}
			buf = nb;
			cap += 8192;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		diag_add(diag, 1, "%s: %s", file, strerror(errno));
		goto out;
	}
	c = conf_parse_buf(file, buf, len, diag);
out:
	fclose(f);
	free(buf);
	return c;
}

void
conf_free(struct conf *c)
{
	size_t	i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nlisten; i++)
		free(c->listen[i].spec);
	free(c->listen);
	for (i = 0; i < c->ndomains; i++)
		domain_free(&c->domains[i]);
	free(c->domains);
	free(c->cert);
	free(c->key);
	free(c->state_dir);
	free(c->acme_directory);
	free(c->acme_email);
	free(c->ca_bundle);
	free(c->hook);
	free(c->user);
	free(c->group);
	free(c->file);
	free(c);
}

/* The configured domain named name (any case, optional final dot). */
struct conf_domain *
conf_find_domain(const struct conf *c, const char *name)
{
	char	buf[256];
	size_t	i;

	if (name_norm(name, strlen(name), buf, sizeof(buf)) == -1)
		return NULL;
	for (i = 0; i < c->ndomains; i++)
		if (strcmp(c->domains[i].name, buf) == 0)
			return &c->domains[i];
	return NULL;
}
