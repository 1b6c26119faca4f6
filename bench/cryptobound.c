/*
 * cryptobound: one core's rate of the public-key work of one full TLS 1.2
 * ECDHE-ECDSA handshake on the server, with the mbedTLS it is linked
 * against: an x25519 key pair, the x25519 shared secret with the peer's
 * share, and an ECDSA P-256 signature (deterministic where mbedTLS has
 * it, as in the handshake). Prints "handshakes/s R (N in S s)".
 *   cryptobound [SECONDS] [pk]
 * With "pk" the signature goes through mbedtls_pk_sign(), as the TLS
 * stack makes it: mbedTLS 2.28's pk layer signs with a temporary copy of
 * the key whose group has no precomputed table for the base point, so
 * every handshake recomputes it. Without, the key's own ECDSA context
 * keeps the table (the raw cost of the three operations).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/version.h>
#if MBEDTLS_VERSION_NUMBER < 0x03000000
#define MBEDTLS_PRIVATE(m)	m
#endif
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char *argv[])
{
	mbedtls_entropy_context	 entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ecp_group	 x25519;
	mbedtls_ecdsa_context	 sign;
	mbedtls_mpi		 d, peer_d, z;
	mbedtls_ecp_point	 q, peer_q;
	unsigned char		 hash[32], sig[MBEDTLS_ECDSA_MAX_LEN];
	size_t			 siglen;
	mbedtls_pk_context	 pk;
	double			 secs = argc > 1 ? atof(argv[1]) : 3, t0, t;
	long			 n = 0;
	int			 via_pk = argc > 2 && strcmp(argv[2], "pk") == 0;

	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
	    NULL, 0) != 0)
		return 1;
	mbedtls_ecp_group_init(&x25519);
	mbedtls_ecdsa_init(&sign);
	mbedtls_mpi_init(&d);
	mbedtls_mpi_init(&peer_d);
	mbedtls_mpi_init(&z);
	mbedtls_ecp_point_init(&q);
	mbedtls_ecp_point_init(&peer_q);
	memset(hash, 0x5a, sizeof(hash));
	if (mbedtls_ecp_group_load(&x25519, MBEDTLS_ECP_DP_CURVE25519) != 0 ||
	    mbedtls_ecdsa_genkey(&sign, MBEDTLS_ECP_DP_SECP256R1,
	    mbedtls_ctr_drbg_random, &drbg) != 0 ||
	    mbedtls_ecp_gen_keypair(&x25519, &peer_d, &peer_q,
	    mbedtls_ctr_drbg_random, &drbg) != 0)
		return 1;
	mbedtls_pk_init(&pk);
	if (mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))
	    != 0 || mbedtls_ecp_group_copy(&mbedtls_pk_ec(pk)->MBEDTLS_PRIVATE(grp),
	    &sign.MBEDTLS_PRIVATE(grp)) != 0 ||
	    mbedtls_mpi_copy(&mbedtls_pk_ec(pk)->MBEDTLS_PRIVATE(d),
	    &sign.MBEDTLS_PRIVATE(d)) != 0 ||
	    mbedtls_ecp_copy(&mbedtls_pk_ec(pk)->MBEDTLS_PRIVATE(Q),
	    &sign.MBEDTLS_PRIVATE(Q)) != 0)
		return 1;
	t0 = now();
	do {
		if (mbedtls_ecp_gen_keypair(&x25519, &d, &q,
		    mbedtls_ctr_drbg_random, &drbg) != 0 ||
		    mbedtls_ecdh_compute_shared(&x25519, &z, &peer_q, &d,
		    mbedtls_ctr_drbg_random, &drbg) != 0 ||
		    (via_pk ? mbedtls_pk_sign(&pk, MBEDTLS_MD_SHA256, hash,
		    sizeof(hash), sig,
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
		    sizeof(sig),
#endif
		    &siglen, mbedtls_ctr_drbg_random, &drbg) :
		    mbedtls_ecdsa_write_signature(&sign, MBEDTLS_MD_SHA256,
		    hash, sizeof(hash), sig,
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
		    sizeof(sig),
#endif
		    &siglen, mbedtls_ctr_drbg_random, &drbg)) != 0)
			return 1;
		n++;
	} while ((t = now() - t0) < secs);
	printf("handshakes/s %.1f (%ld in %.2f s)\n", n / t, n, t);
	return 0;
}
