/*
 * tls.c: mbedTLS set-up and the TLS side of each connection. One RNG and
 * one session-ticket key store for the process; one refcounted struct tls
 * per snapshot (certificate chains, keys, one ssl config per chain), held
 * by every connection that started with it, so a reload never pulls a
 * config from under a handshake.
 *
 * The certificate is chosen before the handshake starts, from the SNI the
 * bridge read in the ClientHello (hello.c): no SNI callback, nothing
 * calls back up. Each connection is a struct tls_conn; its mbedTLS return
 * codes are classified here and nowhere else (enum tls_io).
 *
 * Session tickets are bound to the site they were issued for (RFC 6066
 * 3: a session must not resume under another server name): each ticket
 * carries a tag, HMAC-SHA-256 under a per-site key, over the ticket
 * mbedTLS made; a ticket presented under another SNI fails the tag and
 * the client gets a full handshake.
 *
 * RFC 8737 challenges live beside the snapshots, process-wide: the ACME
 * child asks for one (acme.c), and while it is set a ClientHello for its
 * host offering acme-tls/1 gets the validation certificate, negotiates
 * acme-tls/1 only, and is closed after the handshake (bridge.c).
 */
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <errno.h>
#include <unistd.h>

#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/net_sockets.h>
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
#define TAG_LEN		16	/* bytes of the site tag after a ticket */
#define EXPIRY_WARN	(14 * 86400)

/* One certificate chain with its key, shared by the domains that use it;
 * its ssl config is set up once loading is done. */
struct pair {
	char			*certfile;
	char			*keyfile;
	mbedtls_x509_crt	 chain;
	mbedtls_pk_context	 key;
	int			 ok;	/* loaded and matching */
	int			 acme;	/* an ACME domain's: renewed for us */
	int			 conf_ready;
	mbedtls_ssl_config	 conf;
};

/* What an SNI selects: the pair serving it, and its ticket key. */
struct site_tls {
	char		*host;		/* "mta-sts.<domain>" */
	struct pair	*pair;
	unsigned char	 tag_key[32];
};

struct tls {
	int			 refs;
	struct pair		*pairs;
	size_t			 npairs;
	struct hmap		 sni;	/* host -> site_tls */
	struct site_tls		*sites;
	size_t			 nsites;
	struct site_tls		 none;	/* no or unknown SNI: pairs[0] */
};

/* A pending TLS-ALPN-01 challenge: its certificate, key and config. */
struct challenge {
	struct challenge	*next;
	char			*host;
	int			 refs;	/* the list's, and each connection's */
	mbedtls_x509_crt	 crt;
	struct ec_key		*key;
	mbedtls_ssl_config	 conf;
};

struct tls_conn {
	mbedtls_ssl_context	 ssl;
	struct tls		*tls;
	struct challenge	*chal;	/* an acme-tls/1 validation */
	const struct site_tls	*site;	/* its tickets' binding */
	int			 fd;
	int			 err;	/* the last mbedTLS error */
};

static mbedtls_entropy_context		entropy;
static mbedtls_ctr_drbg_context		drbg;
static mbedtls_ssl_ticket_context	ticket;
static unsigned char			tag_secret[32];
static int				global_ready;
/*
 * The site of the connection mbedTLS is working on right now: the ticket
 * callbacks get only the config's pointer, which is per certificate, not
 * per site. One thread: set around every mbedTLS call on a connection.
 */
static const struct site_tls		*cur_site;
static struct challenge			*challenges;

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
/* RFC 8737 3: the validation handshake negotiates this and nothing else */
static const char *alpn_acme[] = { "acme-tls/1", NULL };

/* id-pe-acmeIdentifier, 1.3.6.1.5.5.7.1.31 (RFC 8737 6.1), as DER */
static const unsigned char oid_acme_id[] = { 0x2b, 0x06, 0x01, 0x05, 0x05,
	0x07, 0x01, 0x1f };

/* mbedTLS refuses certificates with critical extensions it does not know;
 * the validation certificate's is ours. */
static int
acme_ext_cb(void *p, mbedtls_x509_crt const *crt, mbedtls_x509_buf const *oid,
    int critical, const unsigned char *q, const unsigned char *end)
{
	(void)p;
	(void)crt;
	(void)critical;
	(void)q;
	(void)end;
	if (oid->len == sizeof(oid_acme_id) &&
	    memcmp(oid->p, oid_acme_id, sizeof(oid_acme_id)) == 0)
		return 0;
	return MBEDTLS_ERR_X509_INVALID_EXTENSIONS;
}

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
	    &drbg, MBEDTLS_CIPHER_AES_256_GCM, TICKET_LIFETIME)) != 0 ||
	    (ret = mbedtls_ctr_drbg_random(&drbg, tag_secret,
	    sizeof(tag_secret))) != 0) {
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
	tls_challenge_clear(NULL);
	if (!global_ready)
		return;
	mbedtls_ssl_ticket_free(&ticket);
	mbedtls_platform_zeroize(tag_secret, sizeof(tag_secret));
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
pair_free(struct pair *p)
{
	if (p->conf_ready)
		mbedtls_ssl_config_free(&p->conf);
	mbedtls_x509_crt_free(&p->chain);
	mbedtls_pk_free(&p->key);
	free(p->certfile);
	free(p->keyfile);
	memset(p, 0, sizeof(*p));
}

static void
pairs_free(struct pair *pairs, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		pair_free(&pairs[i]);
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
		if (i > 0 && c->domains[i - 1].acme &&
		    access(cf, F_OK) == -1 && errno == ENOENT) {
			/* Not issued yet: the site waits for ACME. */
			n--;
			pair_free(p);
			continue;
		}
		if (load_pair(cf, kf, &p->chain, &p->key, err, errlen) == -1) {
			if (i > 0 && c->domains[i - 1].acme) {
				/* ACME orders a new one; serve the rest. */
				if (d != NULL)
					diag_add(d, 0, "%s (ACME orders a "
					    "new one)", err);
				else
					log_warnx("%s: ACME orders a new one",
					    err);
				n--;
				pair_free(p);
				continue;
			}
			rc = -1;
			if (d == NULL)
				break;
			diag_add(d, 1, "%s", err);
			continue;
		}
		p->ok = 1;
		p->acme = i > 0 && c->domains[i - 1].acme;
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

	if (dom->cert != NULL)	/* NULL for an ACME one not issued yet */
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

/* tag = HMAC-SHA-256(key, ticket), cut to TAG_LEN. */
static int
ticket_tag(const struct site_tls *st, const unsigned char *t, size_t len,
    unsigned char tag[TAG_LEN])
{
	unsigned char	mac[32];
	int		ret;

	ret = mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
	    st->tag_key, sizeof(st->tag_key), t, len, mac);
	memcpy(tag, mac, TAG_LEN);
	return ret;
}

/* mbedTLS's ticket, then the tag of the site being served. */
static int
ticket_write(void *p, const mbedtls_ssl_session *session,
    unsigned char *start, const unsigned char *end, size_t *tlen,
    uint32_t *lifetime)
{
	int	ret;

	if (cur_site == NULL || end - start < TAG_LEN)
		return MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL;
	if ((ret = mbedtls_ssl_ticket_write(p, session, start, end - TAG_LEN,
	    tlen, lifetime)) != 0)
		return ret;
	if ((ret = ticket_tag(cur_site, start, *tlen, start + *tlen)) != 0)
		return ret;
	*tlen += TAG_LEN;
	return 0;
}

/* A ticket whose tag is not this site's is not ours to resume. */
static int
ticket_parse(void *p, mbedtls_ssl_session *session, unsigned char *buf,
    size_t len)
{
	unsigned char	tag[TAG_LEN], diff = 0;
	size_t		i;

	if (cur_site == NULL || len < TAG_LEN ||
	    ticket_tag(cur_site, buf, len - TAG_LEN, tag) != 0)
		return MBEDTLS_ERR_SSL_INVALID_MAC;
	for (i = 0; i < TAG_LEN; i++)	/* constant time */
		diff |= tag[i] ^ buf[len - TAG_LEN + i];
	if (diff != 0)
		return MBEDTLS_ERR_SSL_INVALID_MAC;
	return mbedtls_ssl_ticket_parse(p, session, buf, len - TAG_LEN);
}

/* The ssl config of a loaded pair: our TLS policy, its certificate. */
static int
pair_conf(struct pair *p)
{
	mbedtls_ssl_config	*conf = &p->conf;
	int			 ret;

	mbedtls_ssl_config_init(conf);
	p->conf_ready = 1;
	if ((ret = mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_SERVER,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
		return ret;
	mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &drbg);
	compat_min_tls12(conf);
	mbedtls_ssl_conf_ciphersuites(conf, ciphersuites);
	compat_conf_groups(conf);
#ifdef MBEDTLS_SSL_RENEGOTIATION
	mbedtls_ssl_conf_renegotiation(conf,
	    MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif
	if ((ret = mbedtls_ssl_conf_alpn_protocols(conf, alpn)) != 0)
		return ret;
	mbedtls_ssl_conf_session_tickets_cb(conf, ticket_write, ticket_parse,
	    &ticket);
	return mbedtls_ssl_conf_own_cert(conf, &p->chain, &p->key);
}

/* The per-site ticket key: HMAC(process secret, host). */
static int
site_init(struct site_tls *st, const char *host, struct pair *p)
{
	st->pair = p;
	if ((st->host = strdup(host)) == NULL)
		return -1;
	return mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
	    tag_secret, sizeof(tag_secret), (const unsigned char *)host,
	    strlen(host), st->tag_key) == 0 ? 0 : -1;
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
	char		 e[128], *host = NULL;
	size_t		 i;
	int		 ret;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->refs = 1;
	if (load_pairs(c, &t->pairs, &t->npairs, NULL, err, errlen) == -1)
		goto fail;
	if (t->npairs == 0 && c->acme_directory == NULL) {
		snprintf(err, errlen, "no certificate configured");
		goto fail;
	}
	for (i = 0; i < t->npairs; i++)
		if ((ret = pair_conf(&t->pairs[i])) != 0)
			goto mbed;
	/* pairs[0] is the default: the global one, or the first domain's. */
	if (hmap_init(&t->sni, c->ndomains, 0) == -1 ||
	    (t->sites = calloc(c->ndomains, sizeof(*t->sites))) == NULL ||
	    site_init(&t->none, "", t->npairs > 0 ? &t->pairs[0] : NULL) == -1)
		goto oom;
	for (i = 0; i < c->ndomains; i++) {
		if ((host = name_mta_sts(c->domains[i].name)) == NULL)
			goto oom;
		p = pick(c, i, t->pairs, t->npairs, host);
		if (site_init(&t->sites[i], host, p) == -1)
			goto oom;
		t->nsites++;
		hmap_put(&t->sni, t->sites[i].host, &t->sites[i]);
		free(host);
		host = NULL;
	}
	return t;
oom:
	free(host);
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
	pairs_free(t->pairs, t->npairs);
	hmap_free(&t->sni);
	while (t->nsites > 0) {
		free(t->sites[--t->nsites].host);
		mbedtls_platform_zeroize(t->sites[t->nsites].tag_key, 32);
	}
	free(t->sites);
	free(t->none.host);
	mbedtls_platform_zeroize(t->none.tag_key, sizeof(t->none.tag_key));
	free(t);
}

/*
 * The name the client asked for, as one of our host names (owned by t),
 * or NULL when it sent none. An SNI naming no site of ours is ".", which
 * matches no Host.
 */
static const struct site_tls *
site_of(const struct tls *t, const char *sni)
{
	char	n[256];
	ssize_t	len;

	if (sni == NULL || sni[0] == '\0')
		return NULL;
	if ((len = name_norm(sni, strlen(sni), n, sizeof(n))) == -1)
		return NULL;
	return hmap_get(&t->sni, n, (size_t)len);
}

/* Does t have a certificate for host (an ACME one may not, yet)? */
int
tls_serves(const struct tls *t, const char *host)
{
	const struct site_tls	*st = site_of(t, host);

	return st != NULL && st->pair != NULL;
}

static int
bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct tls_conn	*tc = ctx;
	ssize_t		 n;

	n = send(tc->fd, buf, len, MSG_NOSIGNAL);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	if (errno == EPIPE || errno == ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int
bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct tls_conn	*tc = ctx;
	ssize_t		 n;

	n = recv(tc->fd, buf, len, 0);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	if (errno == ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_RECV_FAILED;
}

static void
challenge_unref(struct challenge *ch)
{
	if (ch == NULL || --ch->refs > 0)
		return;
	mbedtls_ssl_config_free(&ch->conf);
	mbedtls_x509_crt_free(&ch->crt);
	eckey_free(ch->key);
	free(ch->host);
	free(ch);
}

static struct challenge *
challenge_find(const char *host)
{
	struct challenge	*ch;

	for (ch = challenges; ch != NULL; ch = ch->next)
		if (strcasecmp(ch->host, host) == 0)
			return ch;
	return NULL;
}

/*
 * Answer RFC 8737 challenges for host with a certificate carrying digest
 * (replacing any set before), until tls_challenge_clear(host). 0, or -1
 * with err.
 */
int
tls_challenge_set(const char *host, const unsigned char digest[32],
    char *err, size_t errlen)
{
	struct challenge	*ch;
	unsigned char		*der = NULL;
	size_t			 len;
	char			 e[128];
	int			 ret;

	if (!global_ready && tls_global_init(err, errlen) == -1)
		return -1;
	if ((ch = calloc(1, sizeof(*ch))) == NULL ||
	    (ch->host = strdup(host)) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(ch);
		return -1;
	}
	ch->refs = 1;
	mbedtls_x509_crt_init(&ch->crt);
	mbedtls_ssl_config_init(&ch->conf);
	if (x509_acme_cert(host, digest, &der, &len, &ch->key, err,
	    errlen) == -1)
		goto fail;
	/* Its critical acmeIdentifier extension is ours, not mbedTLS's. */
	if ((ret = mbedtls_x509_crt_parse_der_with_ext_cb(&ch->crt, der, len,
	    1, acme_ext_cb, NULL)) != 0 ||
	    (ret = mbedtls_ssl_config_defaults(&ch->conf,
	    MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
	    MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
		goto mbed;
	mbedtls_ssl_conf_rng(&ch->conf, mbedtls_ctr_drbg_random, &drbg);
	compat_min_tls12(&ch->conf);
	mbedtls_ssl_conf_ciphersuites(&ch->conf, ciphersuites);
	compat_conf_groups(&ch->conf);
	if ((ret = mbedtls_ssl_conf_alpn_protocols(&ch->conf,
	    alpn_acme)) != 0 ||
	    (ret = mbedtls_ssl_conf_own_cert(&ch->conf, &ch->crt,
	    eckey_pk(ch->key))) != 0)
		goto mbed;
	free(der);
	tls_challenge_clear(host);
	ch->next = challenges;
	challenges = ch;
	return 0;
mbed:
	tls_strerror(ret, e, sizeof(e));
	snprintf(err, errlen, "challenge certificate for %s: %s", host, e);
fail:
	free(der);
	challenge_unref(ch);
	return -1;
}

/* Stop answering host's challenge (NULL: every one); handshakes under way
 * keep theirs. */
void
tls_challenge_clear(const char *host)
{
	struct challenge	**pp = &challenges, *ch;

	while ((ch = *pp) != NULL) {
		if (host == NULL || strcasecmp(ch->host, host) == 0) {
			*pp = ch->next;
			challenge_unref(ch);
		} else
			pp = &ch->next;
	}
}

/* Is tc a validation handshake, to be closed once done? */
int
tls_conn_is_challenge(const struct tls_conn *tc)
{
	return tc->chal != NULL;
}

/*
 * A TLS connection on socket fd with the certificate for sni (NULL or
 * unknown: the default one); holds a reference on t. When the client
 * offered acme-tls/1 (offered: HELLO_ALPN_* bits) and a challenge is pending
 * for sni, the validation certificate instead; acme-tls/1 alone and no
 * challenge: refused. NULL if out of memory, if no
 * certificate serves sni (an ACME one not issued yet), or if mbedTLS
 * refuses (err says why). The SNI as our host name is in *host (see
 * site_of), for the Host check.
 */
struct tls_conn *
tls_conn_new(struct tls *t, int fd, const char *sni, unsigned offered,
    const char **host, char *err, size_t errlen)
{
	struct tls_conn		*tc;
	const struct site_tls	*st;
	struct challenge	*ch = NULL;
	int			 ret;

	st = site_of(t, sni);
	*host = st != NULL ? st->host : (sni != NULL && sni[0] != '\0' ?
	    "." : NULL);
	if ((offered & HELLO_ALPN_ACME) && sni != NULL)
		ch = challenge_find(sni);
	if ((offered & HELLO_ALPN_ACME) && ch == NULL &&
	    !(offered & (HELLO_ALPN_HTTP11 | HELLO_ALPN_HTTP10))) {
		/* RFC 8737 3: no challenge pending: no handshake */
		snprintf(err, errlen, "acme-tls/1 for %s: no challenge "
		    "pending", sni != NULL && sni[0] ? sni : "no SNI");
		return NULL;
	}
	if (ch == NULL && (st != NULL ? st : &t->none)->pair == NULL) {
		snprintf(err, errlen, "no certificate for %s yet (ACME)",
		    sni != NULL && sni[0] ? sni : "no SNI");
		return NULL;
	}
	if ((tc = calloc(1, sizeof(*tc))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	tc->tls = tls_ref(t);
	tc->site = st != NULL ? st : &t->none;
	tc->fd = fd;
	if (ch != NULL) {
		tc->chal = ch;
		ch->refs++;
	}
	mbedtls_ssl_init(&tc->ssl);
	if ((ret = mbedtls_ssl_setup(&tc->ssl, ch != NULL ? &ch->conf :
	    &tc->site->pair->conf)) != 0) {
		tls_strerror(ret, err, errlen);
		tls_conn_free(tc);
		return NULL;
	}
	mbedtls_ssl_set_bio(&tc->ssl, tc, bio_send, bio_recv, NULL);
	return tc;
}

void
tls_conn_free(struct tls_conn *tc)
{
	if (tc == NULL)
		return;
	mbedtls_ssl_free(&tc->ssl);
	challenge_unref(tc->chal);
	tls_unref(tc->tls);
	free(tc);
}

/* The one place mbedTLS results are classified. */
static int
classify(struct tls_conn *tc, int ret)
{
	if (ret >= 0)
		return TLS_OK;
	switch (ret) {
	case MBEDTLS_ERR_SSL_WANT_READ:
		return TLS_WANT_READ;
	case MBEDTLS_ERR_SSL_WANT_WRITE:
		return TLS_WANT_WRITE;
	case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
	case MBEDTLS_ERR_SSL_CONN_EOF:
	case MBEDTLS_ERR_NET_CONN_RESET:
		return TLS_EOF;
#ifdef MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
	case MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET:
		return TLS_WANT_READ;	/* a client's; never ours */
#endif
	}
	tc->err = ret;
	return TLS_FAIL;
}

enum tls_op { OP_HANDSHAKE, OP_READ, OP_WRITE, OP_CLOSE };

/*
 * One mbedTLS call on tc, with its site current for the ticket callbacks
 * (mbedTLS may write a ticket in any of them), classified. For reads and
 * writes *n is what moved; a read of 0 bytes is the client's EOF.
 */
static int
conn_op(struct tls_conn *tc, enum tls_op op, void *buf, size_t len,
    size_t *n)
{
	int	ret = 0;

	cur_site = tc->site;
	switch (op) {
	case OP_HANDSHAKE:
		ret = mbedtls_ssl_handshake(&tc->ssl);
		break;
	case OP_READ:
		if ((ret = mbedtls_ssl_read(&tc->ssl, buf, len)) == 0)
			ret = MBEDTLS_ERR_SSL_CONN_EOF;
		break;
	case OP_WRITE:
		ret = mbedtls_ssl_write(&tc->ssl, buf, len);
		break;
	case OP_CLOSE:
		ret = mbedtls_ssl_close_notify(&tc->ssl);
		break;
	}
	cur_site = NULL;
	if (n != NULL)
		*n = ret > 0 ? (size_t)ret : 0;
	return classify(tc, ret);
}

int
tls_conn_handshake(struct tls_conn *tc)
{
	return conn_op(tc, OP_HANDSHAKE, NULL, 0, NULL);
}

/* Plaintext from the client: TLS_OK with *n > 0 bytes, or why not. */
int
tls_conn_read(struct tls_conn *tc, void *buf, size_t len, size_t *n)
{
	return conn_op(tc, OP_READ, buf, len, n);
}

int
tls_conn_write(struct tls_conn *tc, const void *buf, size_t len, size_t *n)
{
	return conn_op(tc, OP_WRITE, (void *)buf, len, n);
}

int
tls_conn_close_notify(struct tls_conn *tc)
{
	return conn_op(tc, OP_CLOSE, NULL, 0, NULL);
}

/* The last failure's text, for the log. */
void
tls_conn_error(const struct tls_conn *tc, char *buf, size_t len)
{
	tls_strerror(tc->err, buf, len);
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
	char		*host, sans[1024];
	time_t		 from, to;

	for (i = 0; i < c->ndomains; i++) {
		if ((host = name_mta_sts(c->domains[i].name)) == NULL) {
			diag_add(d, 1, "out of memory");
			return;
		}
		p = pick(c, i, pairs, npairs, host);
		if (p == NULL && c->domains[i].acme)
			;	/* not issued yet: acme_check() says so */
		else if (p != NULL && p->ok &&	/* else its load error is told */
		    !san_covers(&p->chain, host, sans, sizeof(sans)))
			diag_add(d, 1, "cert %s: no DNS subjectAltName covers "
			    "%s (has: %s); strict clients ignore the CN",
			    p->certfile, host, sans[0] ? sans : "none");
		free(host);
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
		else if (to - now < EXPIRY_WARN && !p->acme)
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
