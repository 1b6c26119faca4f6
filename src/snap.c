/*
 * snap.c: the published snapshot: for every domain its rendered policy,
 * the host map, and the TLS config. The policy ids are not in it: they
 * are announced, never served, and serve.c gets them from state.c once
 * the snapshot is live. Built complete off to the
 * side, never changed once built, and published by one pointer
 * assignment; the request handler (http.c) and new connections
 * (bridge.c) only ever read the current one, through snap_current().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mtasts.h"

static struct snapshot	*current;	/* what is served now */

/* Serve s from now on (NULL: nothing); the caller keeps ownership. */
void
snap_publish(struct snapshot *s)
{
	current = s;
}

/* The snapshot served now, or NULL before the first publish. */
const struct snapshot *
snap_current(void)
{
	return current;
}

void
snap_free(struct snapshot *s)
{
	size_t	i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nsites; i++) {
		free(s->sites[i].domain);
		free(s->sites[i].host);
		free(s->sites[i].policy);
	}
	free(s->sites);
	free(s->tlsrpt_dir);
	hmap_free(&s->hosts);
	tls_unref(s->tls);
	free(s);
}

/*
 * Build the snapshot for c: render and validate every policy, load the
 * certificates. Writes nothing. Returns NULL with a message in err on any
 * failure.
 */
struct snapshot *
snap_build(const struct conf *c, char *err, size_t errlen)
{
	struct snapshot	*s;
	struct site	*site;
	size_t		 i;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->sites = calloc(c->ndomains, sizeof(*s->sites))) == NULL) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->nsites = c->ndomains;
	if (c->tlsrpt_receive && asprintf(&s->tlsrpt_dir, "%s/%s",
	    c->state_dir, TLSRPT_DIR) == -1) {
		s->tlsrpt_dir = NULL;
		goto oom;
	}
	s->tlsrpt_max = (long long)c->tlsrpt_store_max * 1024 * 1024;
	if ((s->tls = tls_new(c, err, errlen)) == NULL)
		goto fail;
	for (i = 0; i < c->ndomains; i++) {
		site = &s->sites[i];
		if ((site->domain = strdup(c->domains[i].name)) == NULL ||
		    (site->host = name_mta_sts(site->domain)) == NULL)
			goto oom;
		site->ready = tls_serves(s->tls, site->host);
		switch (policy_render(&c->domains[i], &site->policy,
		    &site->policy_len)) {
		case 0:
			break;
		case POLICY_NOMEM:
			goto oom;
		default:
			snprintf(err, errlen, "%s:%d: domain %s: the policy "
			    "is larger than 64 KiB", c->file,
			    c->domains[i].line, site->domain);
			goto fail;
		}
	}
	if (snap_index(s) == -1)
		goto oom;
	return s;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	snap_free(s);
	return NULL;
}

/* Index the sites by host name. Returns 0, or -1 if out of memory. */
int
snap_index(struct snapshot *s)
{
	size_t	i;

	if (hmap_init(&s->hosts, s->nsites, 0) == -1)
		return -1;
	for (i = 0; i < s->nsites; i++)
		hmap_put(&s->hosts, s->sites[i].host, &s->sites[i]);
	return 0;
}

/*
 * The name in a Host header value or SNI, without an optional ":port",
 * in the form name_norm() gives (lower case, no trailing dot), into buf;
 * its length, or -1 if malformed.
 */
static ssize_t
host_name(const char *h, char *buf, size_t cap)
{
	const char	*colon = strchr(h, ':');
	size_t		 n;

	if (colon == NULL)
		return name_norm(h, strlen(h), buf, cap);
	n = strspn(colon + 1, "0123456789");
	if (n == 0 || n > 5 || colon[1 + n] != '\0' ||
	    atoi(colon + 1) == 0 || atoi(colon + 1) > 65535)
		return -1;	/* RFC 9110 4.2.1: a port, 1-65535 */
	return name_norm(h, (size_t)(colon - h), buf, cap);
}

/* The site Host (and SNI, when sent) name, or NULL. */
static const struct site *
site_of(const struct snapshot *s, const char *host, const char *sni)
{
	const struct site	*site;
	char			 n[256];
	ssize_t			 len;

	if (s == NULL || host == NULL ||
	    (len = host_name(host, n, sizeof(n))) == -1 ||
	    (site = hmap_get(&s->hosts, n, (size_t)len)) == NULL)
		return NULL;
	if (sni != NULL && ((len = host_name(sni, n, sizeof(n))) == -1 ||
	    hmap_get(&s->hosts, n, (size_t)len) != site))
		return NULL;
	return site;
}

/*
 * The strict rule: GET or HEAD of exactly the policy path (MHD has cut
 * off any query string) on a Host naming one of our sites returns that
 * site; anything else returns NULL, which the caller answers with 404.
 * When the client sent an SNI, it must name the same site as Host.
 */
const struct site *
snap_route(const struct snapshot *s, const char *method, const char *url,
    const char *host, const char *sni)
{
	if (strcmp(url, POLICY_PATH) != 0 ||
	    (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0))
		return NULL;
	return site_of(s, host, sni);
}

/*
 * The one exception, only with tlsrpt_receive: POST of exactly the
 * receiver's path on one of our sites (same Host and SNI rules) returns
 * the site; NULL otherwise (and the request goes on to snap_route()).
 */
const struct site *
snap_receiver(const struct snapshot *s, const char *method, const char *url,
    const char *host, const char *sni)
{
	if (s == NULL || s->tlsrpt_dir == NULL ||
	    strcmp(method, "POST") != 0 || strcmp(url, TLSRPT_PATH) != 0)
		return NULL;
	return site_of(s, host, sni);
}

/* The site of a configured domain (lower case, no trailing dot). */
const struct site *
snap_domain(const struct snapshot *s, const char *domain)
{
	char	host[300];

	if (s == NULL || snprintf(host, sizeof(host), "mta-sts.%s",
	    domain) >= (int)sizeof(host))
		return NULL;
	return hmap_get(&s->hosts, host, strlen(host));
}
