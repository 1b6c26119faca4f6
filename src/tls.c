/*
 * tls.c: mbedTLS set-up. One RNG and one session-ticket key store for the
 * process; one refcounted struct tls per snapshot (certificate chain, key
 * and ssl config), held by every connection that started with it, so a
 * reload never pulls a config from under a handshake.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <errno.h>
#include <unistd.h>

#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#include "mtasts.h"
#include "compat.h"

#if defined(MBEDTLS_ENTROPY_HARDWARE_ALT)
#include <sys/random.h>

/*
 * The static build (make static) runs in an empty root without /dev:
 * there mbedTLS is built without its platform source, which reads
 * /dev/urandom unless the libc is glibc, and takes its entropy here.
 */
int	mbedtls_hardware_poll(void *, unsigned char *, size_t, size_t *);

int
mbedtls_hardware_poll(void *data, unsigned char *out, size_t len,
    size_t *olen)
{
	ssize_t	n;

	(void)data;
	*olen = 0;
	while (*olen < len) {
		if ((n = getrandom(out + *olen, len - *olen, 0)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		*olen += (size_t)n;
	}
	return 0;
}
#endif

#define TICKET_LIFETIME	86400	/* seconds; keys rotate on this period */
#define EXPIRY_WARN	(14 * 86400)

/* One certificate chain with its key, shared by the domains that use it. */
struct pair {
	char			*certfile;
	char			*keyfile;
	mbedtls_x509_crt	 chain;
	mbedtls_pk_context	 key;
	int			 ok;	/* loaded and matching */
};

struct tls {
	int			 refs;
	mbedtls_ssl_config	 conf;
	struct pair		*pairs;
	size_t			 npairs;
	struct hmap		 sni;	/* "mta-sts.<domain>" -> pair */
	char			**hosts;	/* the map's keys */
	size_t			 nhosts;
};

static mbedtls_entropy_context		entropy;
static mbedtls_ctr_drbg_context		drbg;
static mbedtls_ssl_ticket_context	ticket;
static int				global_ready;

/* TLS 1.2: ECDHE key exchange with AEAD ciphers only; TLS 1.3 suites. */
static const int ciphersuites[] = {
#ifdef MBEDTLS_SSL_PROTO_TLS1_3
	MBEDTLS_TLS1_3_AES_128_GCM_SHA256,
	MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
	MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,
#endif
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	0
};

/* http/1.0 too: mbedTLS aborts a handshake whose ALPN list has no match */
static const char *alpn[] = { "http/1.1", "http/1.0", NULL };

void
tls_strerror(int ret, char *buf, size_t len)
{
#ifdef MBEDTLS_ERROR_C
	mbedtls_strerror(ret, buf, len);
#else
	snprintf(buf, len, "mbedTLS error -0x%04x", (unsigned)-ret);
#endif
}

const char *
tls_version(void)
{
	/* Not mbedtls_version_get_string(): OpenWrt lacks MBEDTLS_VERSION_C */
	return MBEDTLS_VERSION_STRING;
}

/* Seed the RNG and create the ticket keys, once per process. */
int
tls_global_init(char *err, size_t errlen)
{
	char	e[128];
	int	ret;

	if (global_ready)
		return 0;
	if (compat_psa_init() == -1) {
		snprintf(err, errlen, "psa_crypto_init failed");
		return -1;
	}
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_ssl_ticket_init(&ticket);
	if ((ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func,
	    &entropy, (const unsigned char *)"mtasts-httpd", 12)) != 0 ||
	    (ret = mbedtls_ssl_ticket_setup(&ticket, mbedtls_ctr_drbg_random,
	    &drbg, MBEDTLS_CIPHER_AES_256_GCM, TICKET_LIFETIME)) != 0) {
		tls_strerror(ret, e, sizeof(e));
		snprintf(err, errlen, "TLS initialisation: %s", e);
		return -1;
	}
	global_ready = 1;
	return 0;
}

void
tls_global_free(void)
{
	if (!global_ready)
		return;
	mbedtls_ssl_ticket_free(&ticket);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	compat_psa_free();
	global_ready = 0;
}

/* Load chain and key; 0 or -1 with a message naming the file. */
static int
load_pair(const char *certfile, const char *keyfile, mbedtls_x509_crt *chain,
    mbedtls_pk_context *key, char *err, size_t errlen)
{
	char	e[128];
	int	ret;

	/* mbedTLS says only "file I/O error": say why, e.g. after a drop. */
	if (access(certfile, R_OK) == -1) {
		snprintf(err, errlen, "cert %s: %s", certfile, strerror(errno));
		return -1;
	}
	if (access(keyfile, R_OK) == -1) {
		snprintf(err, errlen, "key %s: %s", keyfile, strerror(errno));
		return -1;
	}
	if ((ret = mbedtls_x509_crt_parse_file(chain, certfile)) != 0) {
		tls_strerror(ret, e, sizeof(e));
		if (ret > 0)
			snprintf(e, sizeof(e), "%d certificates failed to "
			    "parse", ret);
		snprintf(err, errlen, "cert %s: %s", certfile, e);
		return -1;
	}
	/* mbedtls_pk_parse_keyfile wipes its copy of the file itself. */
	if ((ret = compat_pk_parse_keyfile(key, keyfile, &drbg)) != 0) {
		tls_strerror(ret, e, sizeof(e));
		snprintf(err, errlen, "key %s: %s", keyfile, e);
		return -1;
	}
	if (compat_pk_check_pair(&chain->pk, key, &drbg) != 0) {
		snprintf(err, errlen, "key %s does not match the first "
		    "certificate in %s (the server certificate must come "
		    "first)", keyfile, certfile);
		return -1;
	}
	if ((ret = compat_sign_key(key)) != 0) {
		tls_strerror(ret, e, sizeof(e));
		snprintf(err, errlen, "key %s: %s", keyfile, e);
		return -1;
	}
	return 0;
}

/* Does a DNS SAN of crt cover host? CN is not looked at (RFC 6125 6.4.4). */
static int
san_covers(const mbedtls_x509_crt *crt, const char *host, char *list,
    size_t listlen)
{
	const mbedtls_x509_sequence	*s;
	char				 name[256];
	size_t				 off = 0;
	int				 found = 0;

	if (list != NULL)
		list[0] = '\0';
	for (s = &crt->subject_alt_names; s != NULL && s->buf.p != NULL;
	    s = s->next) {
		if (s->buf.tag != (MBEDTLS_ASN1_CONTEXT_SPECIFIC |
		    MBEDTLS_X509_SAN_DNS_NAME) || s->buf.len >= sizeof(name))
			continue;
		memcpy(name, s->buf.p, s->buf.len);
		name[s->buf.len] = '\0';
		if (policy_wildcard_match(name, host))
			found = 1;
		if (list != NULL && off < listlen)
			off += (size_t)snprintf(list + off, listlen - off,
			    "%s%s", off ? ", " : "", name);
	}
	return found;
}

static void
pairs_free(struct pair *pairs, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		mbedtls_x509_crt_free(&pairs[i].chain);
		mbedtls_pk_free(&pairs[i].key);
		free(pairs[i].certfile);
		free(pairs[i].keyfile);
	}
	free(pairs);
}

/* The pair loaded from these files, if any. */
static struct pair *
find_pair(struct pair *pairs, size_t n, const char *certfile,
    const char *keyfile)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(pairs[i].certfile, certfile) == 0 &&
		    strcmp(pairs[i].keyfile, keyfile) == 0)
			return &pairs[i];
	return NULL;
}

/*
 * Load every distinct (cert, key) the config names: the default first (if
 * any), then each domain's own. On error, err names the file; if d is not
 * NULL every failure goes there and loading goes on.
 */
static int
load_pairs(const struct conf *c, struct pair **out, size_t *nout,
    struct diag *d, char *err, size_t errlen)
{
	struct pair	*pairs, *p;
	size_t		 n = 0, i;
	const char	*cf, *kf;
	int		 rc = 0;

	if ((pairs = calloc(c->ndomains + 1, sizeof(*pairs))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i <= c->ndomains; i++) {
		cf = i == 0 ? c->cert : c->domains[i - 1].cert;
		kf = i == 0 ? c->key : c->domains[i - 1].key;
		if (cf == NULL || kf == NULL || find_pair(pairs, n, cf, kf))
			continue;
		p = &pairs[n++];
		mbedtls_x509_crt_init(&p->chain);
		mbedtls_pk_init(&p->key);
		if ((p->certfile = strdup(cf)) == NULL ||
		    (p->keyfile = strdup(kf)) == NULL) {
			snprintf(err, errlen, "out of memory");
			rc = -1;
			break;
		}
		if (load_pair(cf, kf, &p->chain, &p->key, err, errlen) == -1) {
			rc = -1;
			if (d == NULL)
				break;
			diag_add(d, 1, "%s", err);
			continue;
		}
		p->ok = 1;
	}
	*out = pairs;
	*nout = n;
	return rc;
}

/*
 * The pair that serves mta-sts.<domain i>: its own; else the default if
 * it covers the name; else any configured one that does; else the
 * default. NULL only when nothing was loaded.
 */
static struct pair *
pick(const struct conf *c, size_t i, struct pair *pairs, size_t n,
    const char *host)
{
	const struct conf_domain	*dom = &c->domains[i];
	struct pair			*def;
	size_t				 j;

	if (dom->cert != NULL)
		return find_pair(pairs, n, dom->cert, dom->key);
	def = c->cert != NULL ? find_pair(pairs, n, c->cert, c->key) : NULL;
	if (def != NULL && def->ok && san_covers(&def->chain, host, NULL, 0))
		return def;
	for (j = 0; j < n; j++)
		if (pairs[j].ok &&
		    san_covers(&pairs[j].chain, host, NULL, 0))
			return &pairs[j];
	return def != NULL ? def : (n > 0 ? &pairs[0] : NULL);
}

static int
sni_cb(void *arg, mbedtls_ssl_context *ssl, const unsigned char *name,
    size_t len)
{
	struct tls	*t = arg;
	struct pair	*p;
	size_t		 n = len;

	if (n > 0 && name[n - 1] == '.')	/* as snap_route reads it */
		n--;
	if ((p = hmap_get(&t->sni, (const char *)name, n)) != NULL &&
	    p != &t->pairs[0])
		mbedtls_ssl_set_hs_own_cert(ssl, &p->chain, &p->key);
	/* Unknown names get the default certificate (pairs[0]). */
	bridge_sni(ssl, (const char *)name, len);
	return 0;
}

/*
 * A ready-to-use TLS config for c (refcount 1), or NULL with a message
 * naming the file at fault. Needs tls_global_init().
 */
struct tls *
tls_new(const struct conf *c, char *err, size_t errlen)
{
	struct tls	*t;
	struct pair	*p;
	char		 e[128];
	size_t		 i;
	int		 ret;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->refs = 1;
	mbedtls_ssl_config_init(&t->conf);
	if (load_pairs(c, &t->pairs, &t->npairs, NULL, err, errlen) == -1)
		goto fail;
	if (t->npairs == 0) {
		snprintf(err, errlen, "no certificate configured");
		goto fail;
	}
	/* pairs[0] is the default: the global one, or the first domain's. */
	if (hmap_init(&t->sni, c->ndomains, 0) == -1 ||
	    (t->hosts = calloc(c->ndomains, sizeof(*t->hosts))) == NULL)
		goto oom;
	for (i = 0; i < c->ndomains; i++) {
		if (asprintf(&t->hosts[i], "mta-sts.%s", c->domains[i].name)
		    == -1) {
			t->hosts[i] = NULL;
			goto oom;
		}
		t->nhosts++;
		p = pick(c, i, t->pairs, t->npairs, t->hosts[i]);
		hmap_put(&t->sni, t->hosts[i], p);
	}
	if ((ret = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_SERVER,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
		goto mbed;
	mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &drbg);
	compat_min_tls12(&t->conf);
	mbedtls_ssl_conf_ciphersuites(&t->conf, ciphersuites);
	compat_conf_groups(&t->conf);
#ifdef MBEDTLS_SSL_RENEGOTIATION
	mbedtls_ssl_conf_renegotiation(&t->conf,
	    MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif
	if ((ret = mbedtls_ssl_conf_alpn_protocols(&t->conf, alpn)) != 0)
		goto mbed;
	mbedtls_ssl_conf_session_tickets_cb(&t->conf,
	    mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse, &ticket);
	mbedtls_ssl_conf_sni(&t->conf, sni_cb, t);
	if ((ret = mbedtls_ssl_conf_own_cert(&t->conf, &t->pairs[0].chain,
	    &t->pairs[0].key)) != 0)
		goto mbed;
	return t;
oom:
	snprintf(err, errlen, "out of memory");
	goto fail;
mbed:
	tls_strerror(ret, e, sizeof(e));
	snprintf(err, errlen, "TLS config: %s", e);
fail:
	t->refs = 1;
	tls_unref(t);
	return NULL;
}

struct tls *
tls_ref(struct tls *t)
{
	t->refs++;
	return t;
}

void
tls_unref(struct tls *t)
{
	if (t == NULL || --t->refs > 0)
		return;
	mbedtls_ssl_config_free(&t->conf);
	pairs_free(t->pairs, t->npairs);
	hmap_free(&t->sni);
	while (t->nhosts > 0)
		free(t->hosts[--t->nhosts]);
	free(t->hosts);
	free(t);
}

const void *
tls_ssl_config(const struct tls *t)
{
	return &t->conf;
}

static time_t
x509_time(const mbedtls_x509_time *xt)
{
	struct tm	tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = xt->year - 1900;
	tm.tm_mon = xt->mon - 1;
	tm.tm_mday = xt->day;
	tm.tm_hour = xt->hour;
	tm.tm_min = xt->min;
	tm.tm_sec = xt->sec;
	return timegm(&tm);
}

/* Coverage of every domain and validity of every pair, into d. */
static void
check_pairs(const struct conf *c, struct pair *pairs, size_t npairs,
    time_t now, struct diag *d)
{
	struct pair	*p;
	size_t		 i;
	char		 host[300], sans[1024];
	time_t		 from, to;

	for (i = 0; i < c->ndomains; i++) {
		snprintf(host, sizeof(host), "mta-sts.%s", c->domains[i].name);
		p = pick(c, i, pairs, npairs, host);
		if (p == NULL || !p->ok)
			continue;	/* its load error is reported */
		if (!san_covers(&p->chain, host, sans, sizeof(sans)))
			diag_add(d, 1, "cert %s: no DNS subjectAltName covers "
			    "%s (has: %s); strict clients ignore the CN",
			    p->certfile, host, sans[0] ? sans : "none");
	}
	for (i = 0; i < npairs; i++) {
		p = &pairs[i];
		if (!p->ok)
			continue;
		from = x509_time(&p->chain.valid_from);
		to = x509_time(&p->chain.valid_to);
		if (now < from)
			diag_add(d, 1, "cert %s: not valid before "
			    "%04d-%02d-%02d", p->certfile,
			    p->chain.valid_from.year, p->chain.valid_from.mon,
			    p->chain.valid_from.day);
		if (now > to)
			diag_add(d, 1, "cert %s: expired on %04d-%02d-%02d",
			    p->certfile, p->chain.valid_to.year,
			    p->chain.valid_to.mon, p->chain.valid_to.day);
		else if (to - now < EXPIRY_WARN)
			diag_add(d, 0, "cert %s: expires on %04d-%02d-%02d, "
			    "within 14 days", p->certfile,
			    p->chain.valid_to.year, p->chain.valid_to.mon,
			    p->chain.valid_to.day);
	}
}

/*
 * --check: every certificate and key parses and matches, the certificate
 * serving each mta-sts.<domain> carries a DNS SAN for it, and each is
 * valid now (a warning within 14 days of expiry). Every finding goes
 * into d.
 */
void
tls_check(const struct conf *c, time_t now, struct diag *d)
{
	struct pair	*pairs = NULL;
	size_t		 npairs = 0;
	char		 err[512];

	if (tls_global_init(err, sizeof(err)) == -1) {
		diag_add(d, 1, "%s", err);
		return;
	}
	load_pairs(c, &pairs, &npairs, d, err, sizeof(err));
	check_pairs(c, pairs, npairs, now, d);
	pairs_free(pairs, npairs);
}

/* The same checks on what t (built from c) already loaded. */
void
tls_check_loaded(const struct tls *t, const struct conf *c, time_t now,
    struct diag *d)
{
	check_pairs(c, t->pairs, t->npairs, now, d);
}
