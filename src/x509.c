/*
 * x509.c: what ACME needs of keys and certificates, P-256 only: account
 * and certificate keys (struct ec_key), their JWK and thumbprint (RFC
 * 7638), ES256 signatures (RFC 7518 3.4), the CSR, the self-signed
 * TLS-ALPN-01 validation certificate (RFC 8737 3), and the facts of an
 * issued certificate. Also the process's generator for these and for
 * outgoing TLS (fetch.c): its own CTR-DRBG, reseeded after fork().
 *
 * No I/O, no logging: errors come back as text. Private key material
 * that passes through a buffer here is wiped before the buffer is let go.
 */
#include <sys/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/asn1.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/bignum.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/platform_util.h>

#include "mtasts.h"
#include "compat.h"

#define HOST_MAX	253	/* a DNS name in text, no trailing dot */
#define CN_MAX		64	/* RFC 5280 ub-common-name; longer: no CN */
#define DER_MAX		2048	/* a P-256 CSR or certificate for one name */
#define SERIAL_LEN	16
#define ACME_DAYS_BEFORE 1	/* validity of the validation certificate */
#define ACME_DAYS_AFTER	7

/* The casts of &k->pk to non-const below: mbedTLS 2.28's prototypes lack
 * const where nothing of the key is written. */
struct ec_key {
	mbedtls_pk_context	pk;
};

static mbedtls_entropy_context	entropy;
static mbedtls_ctr_drbg_context	drbg;
static int			rng_ready;
static pid_t			rng_pid;

/* RFC 8737 3: id-pe-acmeIdentifier, 1.3.6.1.5.5.7.1.31 */
static const char oid_acme_id[] = MBEDTLS_OID_PKIX "\x01\x1f";

static void
x509_strerror(int ret, char *buf, size_t len)
{
#ifdef MBEDTLS_ERROR_C
	mbedtls_strerror(ret, buf, len);
#else
	snprintf(buf, len, "mbedTLS error -0x%04x", (unsigned)-ret);
#endif
}

/* "what: <mbedTLS's text for ret>" into err. */
static void
x509_err(char *err, size_t errlen, const char *what, int ret)
{
	char	e[128];

	x509_strerror(ret, e, sizeof(e));
	snprintf(err, errlen, "%s: %s", what, e);
}

/*
 * Fresh entropy into the generator, with our pid and the time mixed in as
 * well: after fork() the child's output must differ from the parent's
 * even though both start from the same state.
 */
static int
rng_reseed(void)
{
	struct {
		pid_t		pid;
		struct timespec	ts;
	} add;
	int	ret;

	memset(&add, 0, sizeof(add));
	add.pid = getpid();
	clock_gettime(CLOCK_MONOTONIC, &add.ts);
	/* on failure the pid stays stale, so the next draw tries again */
	if ((ret = mbedtls_ctr_drbg_reseed(&drbg, (const unsigned char *)&add,
	    sizeof(add))) == 0)
		rng_pid = add.pid;
	return ret;
}

/* Seed once; PSA too (3.x may sign and hash through it). 0 or mbedTLS's
 * error. */
static int
rng_init(void)
{
	static const char	pers[] = "mtasts-httpd x509";
	int			ret;

	if (compat_psa_init() == -1)
		return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
	if (rng_ready)
		return getpid() == rng_pid ? 0 : rng_reseed();
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if ((ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func,
	    &entropy, (const unsigned char *)pers, sizeof(pers) - 1)) != 0) {
		mbedtls_ctr_drbg_free(&drbg);
		mbedtls_entropy_free(&entropy);
		return ret;
	}
	rng_pid = getpid();
	rng_ready = 1;
	return 0;
}

/*
 * mbedTLS's f_rng. A pid other than the one seen at the last seeding
 * means a fork() without x509_rng_fork(): reseed rather than repeat the
 * parent's bytes.
 */
int
x509_rng(void *p_rng, unsigned char *out, size_t len)
{
	size_t	n;
	int	ret;

	(void)p_rng;
	if ((ret = rng_init()) != 0)
		return ret;
	while (len > 0) {
		n = len < MBEDTLS_CTR_DRBG_MAX_REQUEST ? len :
		    MBEDTLS_CTR_DRBG_MAX_REQUEST;
		if ((ret = mbedtls_ctr_drbg_random(&drbg, out, n)) != 0)
			return ret;
		out += n;
		len -= n;
	}
	return 0;
}

/* Our generator and PSA's, reseeded in the child (see compat_psa_fork). */
int
x509_rng_fork(void)
{
	if (compat_psa_fork() == -1)
		return -1;
	if (!rng_ready)
		return rng_init() == 0 ? 0 : -1;
	return rng_reseed() == 0 ? 0 : -1;
}

/* At exit: the generator's state (leak checkers count it). */
void
x509_rng_free(void)
{
	if (!rng_ready)
		return;
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	rng_ready = 0;
}

/* Letters, digits, '-' and '.', as a host name on the wire (A-labels). */
static int
host_ok(const char *host)
{
	size_t	i, len = strlen(host);
	char	c;

	if (len == 0 || len > HOST_MAX || host[0] == '.' ||
	    host[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		c = host[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

static struct ec_key *
eckey_alloc(void)
{
	struct ec_key	*k;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	mbedtls_pk_init(&k->pk);
	return k;
}

struct ec_key *
eckey_new(char *err, size_t errlen)
{
	struct ec_key	*k = NULL;
	int		 ret;

	if ((ret = rng_init()) != 0) {
		x509_err(err, errlen, "random generator", ret);
		return NULL;
	}
	if ((k = eckey_alloc()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((ret = mbedtls_pk_setup(&k->pk,
	    mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) != 0 ||
	    (ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1,
	    mbedtls_pk_ec(k->pk), x509_rng, NULL)) != 0) {
		x509_err(err, errlen, "P-256 key generation", ret);
		eckey_free(k);
		return NULL;
	}
	return k;
}

/*
 * A P-256 private key in PEM: an EC PRIVATE KEY or PKCS#8 block, possibly
 * after other blocks (the ACME file has the chain first). mbedTLS wants
 * PEM NUL-terminated: parsed from a copy, which is wiped.
 */
struct ec_key *
eckey_parse(const char *pem, size_t len, char *err, size_t errlen)
{
	struct ec_key	*k = NULL;
	unsigned char	*buf = NULL;
	int		 ret;

	if ((ret = rng_init()) != 0) {
		x509_err(err, errlen, "random generator", ret);
		return NULL;
	}
	if ((k = eckey_alloc()) == NULL || (buf = malloc(len + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	memcpy(buf, pem, len);
	buf[len] = '\0';
	if ((ret = compat_pk_parse_key(&k->pk, buf, len + 1, x509_rng)) != 0) {
		x509_err(err, errlen, "key", ret);
		goto fail;
	}
	if (!mbedtls_pk_can_do(&k->pk, MBEDTLS_PK_ECKEY) ||
	    compat_pk_ec_group(&k->pk) != MBEDTLS_ECP_DP_SECP256R1) {
		snprintf(err, errlen, "key: not an EC P-256 key");
		goto fail;
	}
	mbedtls_platform_zeroize(buf, len + 1);
	free(buf);
	return k;
fail:
	if (buf != NULL) {
		mbedtls_platform_zeroize(buf, len + 1);
		free(buf);
	}
	eckey_free(k);
	return NULL;
}

char *
eckey_pem(const struct ec_key *k)
{
	unsigned char	 buf[512];	/* a P-256 key's PEM: about 230 */
	char		*s = NULL;

	if (mbedtls_pk_write_key_pem((mbedtls_pk_context *)&k->pk, buf,
	    sizeof(buf)) == 0)
		s = strdup((const char *)buf);
	mbedtls_platform_zeroize(buf, sizeof(buf));
	return s;
}

void
eckey_free(struct ec_key *k)
{
	if (k == NULL)
		return;
	mbedtls_pk_free(&k->pk);	/* zeroizes */
	free(k);
}

void *
eckey_pk(struct ec_key *k)
{
	return &k->pk;
}

/* The public point's coordinates, from its uncompressed form 04||x||y. */
static int
eckey_xy(const struct ec_key *k, unsigned char xy[64])
{
	unsigned char	 buf[128], *p = buf + sizeof(buf);
	int		 n;

	n = mbedtls_pk_write_pubkey(&p, buf, &k->pk);
	if (n != 65 || p[0] != 0x04)
		return -1;
	memcpy(xy, p + 1, 64);
	return 0;
}

int
eckey_jwk(const struct ec_key *k, char *buf, size_t cap)
{
	unsigned char	xy[64];
	char		x[44], y[44];
	int		n;

	if (eckey_xy(k, xy) == -1 || b64url(xy, 32, x, sizeof(x)) == -1 ||
	    b64url(xy + 32, 32, y, sizeof(y)) == -1)
		return -1;
	/* RFC 7638 3.2: the required members only, in lexical order, no
	 * white space: this exact text is what the thumbprint hashes. */
	n = snprintf(buf, cap, "{\"crv\":\"P-256\",\"kty\":\"EC\","
	    "\"x\":\"%s\",\"y\":\"%s\"}", x, y);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}

int
eckey_thumbprint(const struct ec_key *k, char out[44])
{
	unsigned char	hash[32];
	char		jwk[160];
	int		n;

	if ((n = eckey_jwk(k, jwk, sizeof(jwk))) == -1 ||
	    compat_sha256((const unsigned char *)jwk, (size_t)n, hash) != 0 ||
	    b64url(hash, sizeof(hash), out, 44) == -1)
		return -1;
	return 0;
}

/*
 * mbedTLS signs into DER, SEQUENCE { INTEGER r, INTEGER s }; JWS wants
 * each as 32 big-endian bytes, left-padded (RFC 7518 3.4).
 */
int
eckey_sign(const struct ec_key *k, const void *msg, size_t len,
    unsigned char sig[64])
{
	unsigned char	 hash[32], der[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	unsigned char	*p, *end;
	size_t		 derlen = 0, seqlen;
	mbedtls_mpi	 r, s;
	int		 rc = -1;

	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	if (rng_init() != 0 ||
	    compat_sha256(msg, len, hash) != 0 ||
	    compat_pk_sign((mbedtls_pk_context *)&k->pk, hash, der,
	    sizeof(der), &derlen, x509_rng) != 0)
		goto out;
	p = der;
	end = der + derlen;
	if (mbedtls_asn1_get_tag(&p, end, &seqlen,
	    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0 ||
	    p + seqlen != end ||
	    mbedtls_asn1_get_mpi(&p, end, &r) != 0 ||
	    mbedtls_asn1_get_mpi(&p, end, &s) != 0 || p != end ||
	    mbedtls_mpi_write_binary(&r, sig, 32) != 0 ||
	    mbedtls_mpi_write_binary(&s, sig + 32, 32) != 0)
		goto out;
	rc = 0;
out:
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	return rc;
}

int
b64url(const void *in, size_t len, char *out, size_t cap)
{
	static const char	 tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char	*p = in;
	size_t			 need, i, o = 0;
	uint32_t		 v;

	need = len / 3 * 4 + (len % 3 == 0 ? 0 : len % 3 + 1);
	if (need >= cap || need > INT32_MAX)
		return -1;
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = tab[v >> 18];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		out[o++] = tab[v & 63];
	}
	if (len - i == 1) {
		v = (uint32_t)p[i] << 16;
		out[o++] = tab[v >> 18];
		out[o++] = tab[v >> 12 & 63];
	} else if (len - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[o++] = tab[v >> 18];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
	}
	out[o] = '\0';
	return (int)o;
}

/*
 * The subjectAltName value, SEQUENCE { [2] IA5String host }, written
 * backwards at the end of buf (mbedTLS's asn1write way); *der is where it
 * starts. Its length, or an mbedTLS error.
 */
static int
san_der(const char *host, unsigned char *buf, size_t cap,
    unsigned char **der)
{
	unsigned char	*p = buf + cap;
	size_t		 len = 0;
	int		 ret;

	if ((ret = mbedtls_asn1_write_raw_buffer(&p, buf,
	    (const unsigned char *)host, strlen(host))) < 0)
		return ret;
	len += (size_t)ret;
	if ((ret = mbedtls_asn1_write_len(&p, buf, len)) < 0)
		return ret;
	len += (size_t)ret;
	if ((ret = mbedtls_asn1_write_tag(&p, buf,
	    MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME)) < 0)
		return ret;
	len += (size_t)ret;
	if ((ret = mbedtls_asn1_write_len(&p, buf, len)) < 0)
		return ret;
	len += (size_t)ret;
	if ((ret = mbedtls_asn1_write_tag(&p, buf,
	    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) < 0)
		return ret;
	len += (size_t)ret;
	*der = p;
	return (int)len;
}

/*
 * The subject: CN=host, or else, when host is longer than a CN may be
 * (RFC 5280 A.1; CAs refuse such CSRs), empty in a CSR and a fixed
 * name in the validation certificate (mbedTLS, which must load it to
 * serve it, refuses an empty one). The name is in the SAN anyway.
 */
static void
subject_name(const char *host, const char *other, char *buf, size_t len)
{
	if (strlen(host) <= CN_MAX)
		snprintf(buf, len, "CN=%s", host);
	else
		snprintf(buf, len, "%s", other);
}

/* mbedTLS writes DER at the end of buf: a malloc'd copy of those n. */
static int
der_copy(const unsigned char *buf, size_t cap, int n, unsigned char **der,
    size_t *len)
{
	if ((*der = malloc((size_t)n)) == NULL)
		return -1;
	memcpy(*der, buf + cap - (size_t)n, (size_t)n);
	*len = (size_t)n;
	return 0;
}

int
x509_csr(const struct ec_key *k, const char *host, unsigned char **der,
    size_t *len, char *err, size_t errlen)
{
	mbedtls_x509write_csr	 csr;
	unsigned char		 san[HOST_MAX + 16], *sanp = NULL;
	unsigned char		*buf = NULL;
	char			 subject[CN_MAX + 4];
	int			 n, ret, rc = -1;

	mbedtls_x509write_csr_init(&csr);
	if (!host_ok(host)) {
		snprintf(err, errlen, "CSR: not a host name: '%s'", host);
		goto out;
	}
	if ((ret = rng_init()) != 0) {
		x509_err(err, errlen, "random generator", ret);
		goto out;
	}
	if ((buf = malloc(DER_MAX)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	subject_name(host, "", subject, sizeof(subject));
	mbedtls_x509write_csr_set_md_alg(&csr, MBEDTLS_MD_SHA256);
	mbedtls_x509write_csr_set_key(&csr, (mbedtls_pk_context *)&k->pk);
	/* no subject set: an empty one (mbedTLS 3 refuses to parse "") */
	if ((subject[0] != '\0' &&
	    (ret = mbedtls_x509write_csr_set_subject_name(&csr,
	    subject)) != 0) ||
	    (ret = n = san_der(host, san, sizeof(san), &sanp)) < 0 ||
	    (ret = compat_csr_set_extension(&csr, MBEDTLS_OID_SUBJECT_ALT_NAME,
	    MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), sanp,
	    (size_t)n)) != 0 ||
	    (ret = n = mbedtls_x509write_csr_der(&csr, buf, DER_MAX,
	    x509_rng, NULL)) < 0) {
		x509_err(err, errlen, "CSR", ret);
		goto out;
	}
	if (der_copy(buf, DER_MAX, n, der, len) == -1) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
out:
	mbedtls_x509write_csr_free(&csr);
	free(buf);
	return rc;
}

/* "YYYYMMDDhhmmss", UTC, as mbedtls_x509write_crt_set_validity takes it. */
static int
x509_timestr(time_t t, char buf[16])
{
	struct tm	tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, 16, "%Y%m%d%H%M%S", &tm) != 14)
		return -1;
	return 0;
}

int
x509_acme_cert(const char *host, const unsigned char digest[32],
    unsigned char **der, size_t *len, struct ec_key **key, char *err,
    size_t errlen)
{
	mbedtls_x509write_cert	 crt;
	struct ec_key		*k = NULL;
	unsigned char		 san[HOST_MAX + 16], *sanp = NULL;
	unsigned char		 ext[2 + 32], serial[SERIAL_LEN];
	unsigned char		*buf = NULL;
	char			 subject[CN_MAX + 4], from[16], until[16];
	time_t			 now = time(NULL);
	int			 n, ret, rc = -1;

	mbedtls_x509write_crt_init(&crt);
	if (!host_ok(host)) {
		snprintf(err, errlen, "validation certificate: not a host "
		    "name: '%s'", host);
		goto out;
	}
	if ((k = eckey_new(err, errlen)) == NULL)
		goto out;
	if ((buf = malloc(DER_MAX)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (x509_timestr(now - ACME_DAYS_BEFORE * 86400, from) == -1 ||
	    x509_timestr(now + ACME_DAYS_AFTER * 86400, until) == -1) {
		snprintf(err, errlen, "validation certificate: the clock is "
		    "out of range");
		goto out;
	}
	/* RFC 8737 3: the extension's value is an OCTET STRING holding the
	 * digest; critical, so that nothing but a validator accepts it. */
	ext[0] = MBEDTLS_ASN1_OCTET_STRING;
	ext[1] = 32;
	memcpy(ext + 2, digest, 32);
	subject_name(host, "CN=ACME TLS-ALPN-01 validation", subject,
	    sizeof(subject));
	mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&crt, &k->pk);
	mbedtls_x509write_crt_set_issuer_key(&crt, &k->pk);
	if ((ret = x509_rng(NULL, serial, sizeof(serial))) != 0) {
		x509_err(err, errlen, "random generator", ret);
		goto out;
	}
	/* positive, and minimally encoded: a first byte 0x40..0x7f */
	serial[0] = (unsigned char)((serial[0] & 0x3f) | 0x40);
	if ((ret = compat_crt_set_serial(&crt, serial, sizeof(serial))) != 0 ||
	    (ret = mbedtls_x509write_crt_set_subject_name(&crt,
	    subject)) != 0 ||
	    (ret = mbedtls_x509write_crt_set_issuer_name(&crt,
	    subject)) != 0 ||
	    (ret = mbedtls_x509write_crt_set_validity(&crt, from,
	    until)) != 0 ||
	    (ret = n = san_der(host, san, sizeof(san), &sanp)) < 0 ||
	    (ret = mbedtls_x509write_crt_set_extension(&crt,
	    MBEDTLS_OID_SUBJECT_ALT_NAME,
	    MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, sanp,
	    (size_t)n)) != 0 ||
	    (ret = mbedtls_x509write_crt_set_extension(&crt, oid_acme_id,
	    sizeof(oid_acme_id) - 1, 1, ext, sizeof(ext))) != 0 ||
	    (ret = n = mbedtls_x509write_crt_der(&crt, buf, DER_MAX,
	    x509_rng, NULL)) < 0) {
		x509_err(err, errlen, "validation certificate", ret);
		goto out;
	}
	if (der_copy(buf, DER_MAX, n, der, len) == -1) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	*key = k;
	k = NULL;
	rc = 0;
out:
	mbedtls_x509write_crt_free(&crt);
	eckey_free(k);
	free(buf);
	return rc;
}

/* A certificate's time as seconds since the epoch (utc.c). */
static int
x509_time_t(const mbedtls_x509_time *t, time_t *out)
{
	if (t->year < 1 || t->year > 9999 || t->mon < 1 || t->mon > 12 ||
	    t->day < 1 || t->day > 31 || t->hour < 0 || t->hour > 23 ||
	    t->min < 0 || t->min > 59 || t->sec < 0 || t->sec > 60)
		return -1;
	*out = utc_clamp(utc_seconds(t->year, t->mon, t->day, t->hour,
	    t->min, t->sec));
	return 0;
}

/* The serial as openssl prints it: upper-case hex, no leading zero bytes;
 * one cut short ends in "..". */
static void
serial_hex(const mbedtls_x509_buf *sn, char *out, size_t cap)
{
	size_t	i = 0, o = 0;

	while (i + 1 < sn->len && sn->p[i] == 0)
		i++;
	for (; i < sn->len; i++) {
		/* room for this byte and "..", or for the last and NUL */
		if (o + 2 + (i + 1 < sn->len ? 3 : 1) > cap) {
			snprintf(out + o, cap - o, "..");
			return;
		}
		snprintf(out + o, cap - o, "%02X", sn->p[i]);
		o += 2;
	}
	out[o] = '\0';
}

/* Is host a DNS SAN of crt? "*.d" SANs count for one more label. */
static int
x509_covers(const mbedtls_x509_crt *crt, const char *host)
{
	const mbedtls_x509_sequence	*s;
	char				 h[HOST_MAX + 2], name[HOST_MAX + 2];

	if (name_norm(host, strlen(host), h, sizeof(h)) == -1)
		return 0;
	for (s = &crt->subject_alt_names; s != NULL && s->buf.p != NULL;
	    s = s->next) {
		if (s->buf.tag != (MBEDTLS_ASN1_CONTEXT_SPECIFIC |
		    MBEDTLS_X509_SAN_DNS_NAME) ||
		    name_norm((const char *)s->buf.p, s->buf.len, name,
		    sizeof(name)) == -1)
			continue;
		if (policy_wildcard_match(name, h))
			return 1;
	}
	return 0;
}

int
x509_info(const char *pem, size_t len, const char *host,
    struct x509_info *info, char *err, size_t errlen)
{
	mbedtls_pem_context	 ctx;
	mbedtls_x509_crt	 crt;
	const unsigned char	*der;
	unsigned char		*buf = NULL;
	size_t			 derlen, used;
	int			 ret, rc = -1;

	mbedtls_pem_init(&ctx);
	mbedtls_x509_crt_init(&crt);
	memset(info, 0, sizeof(*info));
	/* a NUL-terminated copy: mbedTLS's PEM reader uses strstr() */
	if ((buf = malloc(len + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	memcpy(buf, pem, len);
	buf[len] = '\0';
	if ((ret = mbedtls_pem_read_buffer(&ctx, "-----BEGIN CERTIFICATE-----",
	    "-----END CERTIFICATE-----", buf, NULL, 0, &used)) != 0) {
		if (ret == MBEDTLS_ERR_PEM_NO_HEADER_FOOTER_PRESENT)
			snprintf(err, errlen, "certificate: no PEM "
			    "certificate found");
		else
			x509_err(err, errlen, "certificate", ret);
		goto out;
	}
	der = compat_pem_der(&ctx, &derlen);
	if ((ret = mbedtls_x509_crt_parse_der(&crt, der, derlen)) != 0) {
		x509_err(err, errlen, "certificate", ret);
		goto out;
	}
	if (x509_time_t(&crt.valid_from, &info->not_before) == -1 ||
	    x509_time_t(&crt.valid_to, &info->not_after) == -1) {
		snprintf(err, errlen, "certificate: a validity date out of "
		    "range");
		goto out;
	}
	serial_hex(&crt.serial, info->serial, sizeof(info->serial));
	info->covers = host != NULL && x509_covers(&crt, host);
	rc = 0;
out:
	mbedtls_x509_crt_free(&crt);
	mbedtls_pem_free(&ctx);
	if (buf != NULL) {
		/* the file may hold the key after the chain */
		mbedtls_platform_zeroize(buf, len + 1);
		free(buf);
	}
	return rc;
}

/*
 * What tls.c will demand of an ACME chain before serving it: every
 * certificate in it parses, and the first one is key's. 0, or -1 with
 * err. (The child checks before it installs, so a chain the server would
 * refuse never replaces a good one.)
 */
int
x509_chain_check(const char *pem, size_t len, struct ec_key *key,
    char *err, size_t errlen)
{
	mbedtls_x509_crt	 crt;
	unsigned char		*buf = NULL;
	int			 ret, rc = -1;

	mbedtls_x509_crt_init(&crt);
	if ((ret = rng_init()) != 0) {
		x509_err(err, errlen, "random generator", ret);
		goto out;
	}
	if ((buf = malloc(len + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	memcpy(buf, pem, len);
	buf[len] = '\0';
	if ((ret = mbedtls_x509_crt_parse(&crt, buf, len + 1)) != 0) {
		if (ret > 0)
			snprintf(err, errlen, "chain: %d certificates do not "
			    "parse", ret);
		else
			x509_err(err, errlen, "chain", ret);
		goto out;
	}
	if (compat_pk_check_pair(&crt.pk, eckey_pk(key), &drbg) != 0) {
		snprintf(err, errlen, "chain: the certificate is not for our "
		    "key");
		goto out;
	}
	rc = 0;
out:
	mbedtls_x509_crt_free(&crt);
	free(buf);
	return rc;
}
