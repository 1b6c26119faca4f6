/*
 * compat.h: the few mbedTLS APIs that differ between 2.28 (Debian 12,
 * OpenWrt 23.05) and 3.6 (OpenWrt 24.10). Everything version-specific
 * lives here and nowhere else.
 */
#ifndef COMPAT_H
#define COMPAT_H

#include <mbedtls/version.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#ifdef MBEDTLS_PSA_CRYPTO_C
#include <psa/crypto.h>
#endif
#endif

static inline int
compat_sha256(const unsigned char *in, size_t len, unsigned char out[32])
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	return mbedtls_sha256(in, len, out, 0);
#else
	return mbedtls_sha256_ret(in, len, out, 0);
#endif
}

static inline int
compat_pk_parse_keyfile(mbedtls_pk_context *pk, const char *path,
    mbedtls_ctr_drbg_context *drbg)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	return mbedtls_pk_parse_keyfile(pk, path, NULL,
	    mbedtls_ctr_drbg_random, drbg);
#else
	(void)drbg;
	return mbedtls_pk_parse_keyfile(pk, path, NULL);
#endif
}

static inline int
compat_pk_check_pair(const mbedtls_pk_context *pub,
    const mbedtls_pk_context *prv, mbedtls_ctr_drbg_context *drbg)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	return mbedtls_pk_check_pair(pub, prv, mbedtls_ctr_drbg_random, drbg);
#else
	(void)drbg;
	return mbedtls_pk_check_pair(pub, prv);
#endif
}

/*
 * mbedTLS 2.28's pk layer signs with an EC key (type ECKEY) through a
 * temporary copy whose group lacks the precomputed table for the base
 * point, so every handshake recomputes it: a third of a full handshake's
 * CPU. A key of type ECDSA signs with its own context, which keeps the
 * table from the first signature on. 3.x keeps it either way. Replaces
 * *key (after its pair check); 0 or an mbedTLS error.
 */
static inline int
compat_sign_key(mbedtls_pk_context *key)
{
#if MBEDTLS_VERSION_NUMBER < 0x03000000
	mbedtls_pk_context	ecdsa;
	int			ret;

	if (mbedtls_pk_get_type(key) != MBEDTLS_PK_ECKEY)
		return 0;
	mbedtls_pk_init(&ecdsa);
	if ((ret = mbedtls_pk_setup(&ecdsa,
	    mbedtls_pk_info_from_type(MBEDTLS_PK_ECDSA))) != 0 ||
	    (ret = mbedtls_ecdsa_from_keypair(mbedtls_pk_ec(ecdsa),
	    mbedtls_pk_ec(*key))) != 0) {
		mbedtls_pk_free(&ecdsa);
		return ret;
	}
	mbedtls_pk_free(key);	/* zeroizes the parsed copy */
	*key = ecdsa;
#else
	(void)key;
#endif
	return 0;
}

static inline void
compat_min_tls12(mbedtls_ssl_config *conf)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
	mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
	mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
#endif
}

static inline void
compat_conf_groups(mbedtls_ssl_config *conf)
{
	/* x25519 and P-256 first: 2.28's default order prefers P-521. */
#if MBEDTLS_VERSION_NUMBER >= 0x03010000
	static const uint16_t groups[] = {
		MBEDTLS_SSL_IANA_TLS_GROUP_X25519,
		MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
		MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1,
		MBEDTLS_SSL_IANA_TLS_GROUP_NONE,
	};
	mbedtls_ssl_conf_groups(conf, groups);
#else
	static const mbedtls_ecp_group_id curves[] = {
		MBEDTLS_ECP_DP_CURVE25519,
		MBEDTLS_ECP_DP_SECP256R1,
		MBEDTLS_ECP_DP_SECP384R1,
		MBEDTLS_ECP_DP_NONE,
	};
	mbedtls_ssl_conf_curves(conf, curves);
#endif
}

/* x509.c: keys, signatures, CSRs and certificates for ACME. */
static inline int
compat_pk_parse_key(mbedtls_pk_context *pk, const unsigned char *buf,
    size_t len, int (*f_rng)(void *, unsigned char *, size_t))
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	return mbedtls_pk_parse_key(pk, buf, len, NULL, 0, f_rng, NULL);
#else
	(void)f_rng;
	return mbedtls_pk_parse_key(pk, buf, len, NULL, 0);
#endif
}

static inline int
compat_pk_sign(mbedtls_pk_context *pk, const unsigned char hash[32],
    unsigned char *sig, size_t size, size_t *len,
    int (*f_rng)(void *, unsigned char *, size_t))
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	return mbedtls_pk_sign(pk, MBEDTLS_MD_SHA256, hash, 32, sig, size,
	    len, f_rng, NULL);
#else
	(void)size;	/* 2.28 trusts MBEDTLS_PK_SIGNATURE_MAX_SIZE */
	return mbedtls_pk_sign(pk, MBEDTLS_MD_SHA256, hash, 32, sig, len,
	    f_rng, NULL);
#endif
}

static inline mbedtls_ecp_group_id
compat_pk_ec_group(const mbedtls_pk_context *pk)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03060000
	return mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(*pk));
#elif MBEDTLS_VERSION_NUMBER >= 0x03000000
	return mbedtls_pk_ec(*pk)->MBEDTLS_PRIVATE(grp).id;
#else
	return mbedtls_pk_ec(*pk)->grp.id;
#endif
}

static inline int
compat_csr_set_extension(mbedtls_x509write_csr *csr, const char *oid,
    size_t oid_len, const unsigned char *val, size_t val_len)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	return mbedtls_x509write_csr_set_extension(csr, oid, oid_len, 0, val,
	    val_len);
#else
	return mbedtls_x509write_csr_set_extension(csr, oid, oid_len, val,
	    val_len);
#endif
}

/* The serial, big-endian bytes (positive: the top bit clear). */
static inline int
compat_crt_set_serial(mbedtls_x509write_cert *crt, unsigned char *serial,
    size_t len)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03040000
	return mbedtls_x509write_crt_set_serial_raw(crt, serial, len);
#else
	mbedtls_mpi	n;
	int		ret;

	mbedtls_mpi_init(&n);
	if ((ret = mbedtls_mpi_read_binary(&n, serial, len)) == 0)
		ret = mbedtls_x509write_crt_set_serial(crt, &n);
	mbedtls_mpi_free(&n);
	return ret;
#endif
}

/* The DER a successful mbedtls_pem_read_buffer() decoded. */
static inline const unsigned char *
compat_pem_der(mbedtls_pem_context *pem, size_t *len)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	return mbedtls_pem_get_buffer(pem, len);
#else
	*len = pem->buflen;
	return pem->buf;
#endif
}

static inline int
compat_psa_init(void)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
	return psa_crypto_init() == PSA_SUCCESS ? 0 : -1;
#else
	return 0;
#endif
}

static inline void
compat_psa_free(void)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
	mbedtls_psa_crypto_free();
#endif
}

/*
 * In a child after fork(): PSA's generator (3.x TLS 1.3 key shares come
 * from it) would repeat the parent's. There is no reseed call, so PSA is
 * restarted, which seeds anew; keys the parent's objects hold in PSA are
 * gone in the child. 0 or -1.
 */
static inline int
compat_psa_fork(void)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
	mbedtls_psa_crypto_free();
	return psa_crypto_init() == PSA_SUCCESS ? 0 : -1;
#else
	return 0;
#endif
}

#endif
