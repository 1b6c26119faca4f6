/*
 * snap.c: the published snapshot: for every domain its rendered policy
 * and its id, the host map, and the TLS config. Built complete off to the
 * side, never changed once built; the handlers (fast.c, http.c) and new
 * connections only ever read the current one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mtasts.h"

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
	hmap_free(&s->hosts);
	tls_unref(s->tls);
	free(s);
}

/*
 * Build the snapshot for c. The policy ids are synced with the state
 * directory last, after everything else validated, so that a failed build
 * never leaves a new id on disk for a policy nobody serves. Returns NULL
 * with a message in err on any failure.
 */
struct snapshot *
snap_build(const struct conf *c, time_t now, char *err, size_t errlen)
{
	struct snapshot	*s;
	struct site	*site;
	size_t		 i;
	char		 e[512];

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->sites = calloc(c->ndomains, sizeof(*s->sites))) == NULL) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->nsites = c->ndomains;
	if ((s->tls = tls_new(c, err, errlen)) == NULL)
		goto fail;
	for (i = 0; i < c->ndomains; i++) {
		site = &s->sites[i];
		if ((site->domain = strdup(c->domains[i].name)) == NULL ||
		    asprintf(&site->host, "mta-sts.%s", site->domain) == -1) {
			site->host = NULL;
			goto oom;
		}
		if (policy_render(&c->domains[i], &site->policy,
		    &site->policy_len) == -1) {
			snprintf(err, errlen, "%s:%d: domain %s: the policy "
			    "is larger than 64 KiB", c->file,
			    c->domains[i].line, site->domain);
			goto fail;
		}
	}
	if (snap_index(s) == -1)
		goto oom;
	for (i = 0; i < s->nsites; i++) {
		site = &s->sites[i];
		if (state_sync(c->state_dir, site->domain, site->policy,
		    site->policy_len, now, site->id, &site->id_is_new, e,
		    sizeof(e)) == -1) {
			snprintf(err, errlen, "%s", e);
			goto fail;
		}
	}
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
 * The length of the name in a Host header value or SNI: without an
 * optional ":port" and one optional trailing dot; -1 if malformed.
 */
static ssize_t
name_len(const char *h)
{
	const char	*colon = strchr(h, ':');
	size_t		 len, n;

	if (colon != NULL) {
		n = strspn(colon + 1, "0123456789");
		if (n == 0 || n > 5 || colon[1 + n] != '\0')
			return -1;
		len = (size_t)(colon - h);
	} else
		len = strlen(h);
	if (len > 0 && h[len - 1] == '.')
		len--;
	return len > 0 && h[len - 1] != '.' ? (ssize_t)len : -1;
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
	const struct site	*site;
	ssize_t			 len;

	if (s == NULL || host == NULL || strcmp(url, POLICY_PATH) != 0 ||
	    (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) ||
	    (len = name_len(host)) == -1 ||
	    (site = hmap_get(&s->hosts, host, (size_t)len)) == NULL)
		return NULL;
	if (sni != NULL && ((len = name_len(sni)) == -1 ||
	    hmap_get(&s->hosts, sni, (size_t)len) != site))
		return NULL;
	return site;
}
