/*
 * acmemsg.c: the ACME server's JSON objects (RFC 8555 7.1: directory,
 * order, authorization; 6.7: problem documents), read into one plain
 * struct acme_msg. Pure: no I/O, no logging; every string it keeps is
 * checked to be safe to put back into a request (URLs https:// and free
 * of quotes, backslashes and control bytes; tokens base64url), so acme.c
 * may print them into JSON without escaping. Fuzzed by fuzz_acme.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "mtasts.h"

#define URL_MAX		1000
#define TOKEN_MAX	256
#define TEXT_MAX	1000	/* type, detail: for the log */

/* An https:// URL we may echo inside a JSON string and a request line. */
int
acme_url_ok(const char *s)
{
	const char	*p;

	if (s == NULL || strncasecmp(s, "https://", 8) != 0 || s[8] == '\0' ||
	    s[8] == '/' || strlen(s) > URL_MAX)
		return 0;
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f ||
		    *p == '"' || *p == '\\' || *p == '<' || *p == '>')
			return 0;
	return 1;
}

/* base64url, as tokens (RFC 8555 8.1) and nonces (6.5.1) are. */
int
acme_b64url_ok(const char *s, size_t max)
{
	size_t	n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
	    "vwxyz0123456789-_");

	return n > 0 && n <= max && s[n] == '\0';
}

/* A printable copy of a text for the log: control bytes become '?'. */
static char *
text(const char *s)
{
	char	*d, *p;
	size_t	 n = strlen(s);

	if (n > TEXT_MAX)
		n = TEXT_MAX;
	if ((d = strndup(s, n)) == NULL)
		return NULL;
	for (p = d; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = '?';
	return d;
}

static const char *
str(const cJSON *o, const char *key)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A URL member: absent is 0 when optional; present it must be good. */
static int
url(const cJSON *o, const char *key, int need, char **out, char *err,
    size_t errlen)
{
	const char	*v = str(o, key);

	if (v == NULL) {
		if (!need)
			return 0;
		snprintf(err, errlen, "no \"%s\"", key);
		return -1;
	}
	if (!acme_url_ok(v)) {
		snprintf(err, errlen, "\"%s\" is not an https URL", key);
		return -1;
	}
	return (*out = strdup(v)) == NULL ? -1 : 0;
}

/* type and detail of a problem object (RFC 7807), as text for the log */
static int
problem(const cJSON *o, struct acme_msg *m)
{
	const char	*t = str(o, "type"), *d = str(o, "detail");

	if (t == NULL)
		return -1;
	free(m->type);
	free(m->detail);
	m->type = text(t);
	m->detail = text(d != NULL ? d : "");
	return m->type != NULL && m->detail != NULL ? 0 : -1;
}

static void
status(const cJSON *o, struct acme_msg *m)
{
	const char	*s = str(o, "status");

	/* RFC 8555 7.1.6: short words; anything else is unknown */
	if (s != NULL && strlen(s) < sizeof(m->status) &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz") == strlen(s))
		memcpy(m->status, s, strlen(s) + 1);
}

static int
directory(const cJSON *j, struct acme_msg *m, char *err, size_t errlen)
{
	const cJSON	*meta = cJSON_GetObjectItemCaseSensitive(j, "meta");
	const cJSON	*ids, *e;
	const char	*t;

	if (url(j, "newNonce", 1, &m->new_nonce, err, errlen) == -1 ||
	    url(j, "newAccount", 1, &m->new_account, err, errlen) == -1 ||
	    url(j, "newOrder", 1, &m->new_order, err, errlen) == -1)
		return -1;
	if (cJSON_IsObject(meta) && (t = str(meta, "termsOfService")) != NULL &&
	    (m->terms = text(t)) == NULL)
		return -1;
	/* RFC 8555 7.1.1: the CAA issuer domain names the CA recognises;
	 * kept only when they look like domain names (--check-live) */
	ids = cJSON_IsObject(meta) ?
	    cJSON_GetObjectItemCaseSensitive(meta, "caaIdentities") : NULL;
	if (!cJSON_IsArray(ids))
		ids = NULL;
	cJSON_ArrayForEach(e, ids) {
		if (m->ncaa == ACME_CAA_MAX)
			break;
		if (!cJSON_IsString(e) || e->valuestring[0] == '\0' ||
		    strlen(e->valuestring) > 253 ||
		    strspn(e->valuestring, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
		    strlen(e->valuestring))
			continue;
		if ((m->caa[m->ncaa] = strdup(e->valuestring)) == NULL)
			return -1;
		m->ncaa++;
	}
	return 0;
}

static int
order(const cJSON *j, struct acme_msg *m, char *err, size_t errlen)
{
	const cJSON	*a, *authz, *e;

	status(j, m);
	if (url(j, "finalize", 1, &m->finalize, err, errlen) == -1 ||
	    url(j, "certificate", 0, &m->certificate, err, errlen) == -1)
		return -1;
	authz = cJSON_GetObjectItemCaseSensitive(j, "authorizations");
	if (!cJSON_IsArray(authz)) {
		snprintf(err, errlen, "no \"authorizations\"");
		return -1;
	}
	cJSON_ArrayForEach(a, authz) {
		if (!cJSON_IsString(a) || !acme_url_ok(a->valuestring)) {
			snprintf(err, errlen, "an authorization is not an "
			    "https URL");
			return -1;
		}
		if (m->nauthz == ACME_AUTHZ_MAX) {
			snprintf(err, errlen, "more than %d authorizations "
			    "for one name", ACME_AUTHZ_MAX);
			return -1;
		}
		if ((m->authz[m->nauthz] = strdup(a->valuestring)) == NULL)
			return -1;
		m->nauthz++;
	}
	if ((e = cJSON_GetObjectItemCaseSensitive(j, "error")) != NULL &&
	    cJSON_IsObject(e))
		problem(e, m);
	return 0;
}

/* The tls-alpn-01 challenge (RFC 8737 3), and any challenge's error. */
static int
authz(const cJSON *j, struct acme_msg *m, char *err, size_t errlen)
{
	const cJSON	*chs, *ch, *e;
	const char	*type, *tok;

	status(j, m);
	chs = cJSON_GetObjectItemCaseSensitive(j, "challenges");
	if (!cJSON_IsArray(chs)) {
		snprintf(err, errlen, "no \"challenges\"");
		return -1;
	}
	cJSON_ArrayForEach(ch, chs) {
		if (!cJSON_IsObject(ch))
			continue;
		if ((e = cJSON_GetObjectItemCaseSensitive(ch, "error")) !=
		    NULL && cJSON_IsObject(e) && m->type == NULL)
			problem(e, m);
		type = str(ch, "type");
		if (type == NULL || strcmp(type, "tls-alpn-01") != 0 ||
		    m->token != NULL)
			continue;
		if ((tok = str(ch, "token")) == NULL ||
		    !acme_b64url_ok(tok, TOKEN_MAX)) {
			snprintf(err, errlen, "the tls-alpn-01 token is not "
			    "base64url");
			return -1;
		}
		if (url(ch, "url", 1, &m->chal_url, err, errlen) == -1 ||
		    (m->token = strdup(tok)) == NULL)
			return -1;
	}
	return 0;
}

/*
 * Read json (len bytes) as an object of kind into m (zeroed first; free
 * with acme_msg_free). 0, or -1 with err saying what is wrong.
 */
int
acme_msg_parse(int kind, const char *json, size_t len, struct acme_msg *m,
    char *err, size_t errlen)
{
	cJSON	*j;
	int	 rc = -1;

	memset(m, 0, sizeof(*m));
	snprintf(err, errlen, "out of memory");
	if ((j = cJSON_ParseWithLength(json, len)) == NULL ||
	    !cJSON_IsObject(j)) {
		snprintf(err, errlen, "not a JSON object");
		goto out;
	}
	switch (kind) {
	case ACME_DIRECTORY:
		rc = directory(j, m, err, errlen);
		break;
	case ACME_ORDER:
		rc = order(j, m, err, errlen);
		break;
	case ACME_AUTHZ:
		rc = authz(j, m, err, errlen);
		break;
	case ACME_PROBLEM:
		if ((rc = problem(j, m)) == -1)
			snprintf(err, errlen, "no \"type\"");
		break;
	default:
		snprintf(err, errlen, "unknown kind");
	}
out:
	cJSON_Delete(j);
	if (rc == -1)
		acme_msg_free(m);
	return rc;
}

void
acme_msg_free(struct acme_msg *m)
{
	size_t	i;

	free(m->new_nonce);
	free(m->new_account);
	free(m->new_order);
	free(m->terms);
	free(m->finalize);
	free(m->certificate);
	for (i = 0; i < m->nauthz; i++)
		free(m->authz[i]);
	free(m->token);
	free(m->chal_url);
	free(m->type);
	free(m->detail);
	for (i = 0; i < m->ncaa; i++)
		free(m->caa[i]);
	memset(m, 0, sizeof(*m));
}
