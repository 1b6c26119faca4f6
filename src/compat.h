/*
 * compat.h: the few mbedTLS APIs that differ between 2.28 (Debian 12,
 * OpenWrt 23.05) and 3.6 (OpenWrt 24.10). Everything version-specific
 * lives here and nowhere else.
 */
#ifndef COMPAT_H
#define COMPAT_H

#include <mbedtls/version.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#ifdef MBEDTLS_PSA_CRYPTO_C
#include <psa/crypto.h>
#endif
#else
#define MBEDTLS_PRIVATE(m)	m
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

#endif
