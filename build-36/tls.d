build-36/tls.o: src/tls.c \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/entropy.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/private_access.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/build_info.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/mbedtls_config.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/config_psa.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_legacy.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_adjust_config_synonyms.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_adjust_config_dependencies.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/config_adjust_psa_superset_legacy.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/config_adjust_psa_from_legacy.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_adjust_config_key_pair_types.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_adjust_auto_enabled.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/config_adjust_legacy_crypto.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/config_adjust_x509.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/config_adjust_ssl.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/check_config.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/md.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/platform_util.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/platform_time.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/error.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/ssl_ticket.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/ssl.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/bignum.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/ecp.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/ssl_ciphersuites.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/pk.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/md.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/rsa.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/ecdsa.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_platform.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/build_info.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_types.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_values.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_sizes.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_struct.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_driver_contexts_primitives.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_driver_common.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_sizes.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_builtin_primitives.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/md5.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/ripemd160.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/sha1.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/sha256.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/sha512.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/sha3.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/cipher.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_driver_contexts_composites.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_builtin_composites.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/cmac.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/gcm.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/ccm.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/chachapoly.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/poly1305.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/chacha20.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/ecjpake.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_driver_contexts_key_derivation.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_builtin_key_derivation.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_extra.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_compat.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/x509_crt.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/x509.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/asn1.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/x509_crl.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/dhm.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/ecdh.h src/mtasts.h \
 src/compat.h /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/version.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/ctr_drbg.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/aes.h \
 /tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/entropy.h
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/entropy.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/private_access.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/build_info.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/mbedtls_config.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/config_psa.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_legacy.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_adjust_config_synonyms.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_adjust_config_dependencies.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/config_adjust_psa_superset_legacy.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/config_adjust_psa_from_legacy.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_adjust_config_key_pair_types.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_adjust_auto_enabled.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/config_adjust_legacy_crypto.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/config_adjust_x509.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/config_adjust_ssl.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/check_config.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/md.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/platform_util.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/platform_time.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/error.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/ssl_ticket.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/ssl.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/bignum.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/ecp.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/ssl_ciphersuites.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/pk.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/md.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/rsa.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/ecdsa.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_platform.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/build_info.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_types.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_values.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_sizes.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_struct.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_driver_contexts_primitives.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_driver_common.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_sizes.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_builtin_primitives.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/md5.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/ripemd160.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/sha1.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/sha256.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/sha512.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/sha3.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/cipher.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_driver_contexts_composites.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_builtin_composites.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/cmac.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/gcm.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/ccm.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/chachapoly.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/poly1305.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/chacha20.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/ecjpake.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_driver_contexts_key_derivation.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_builtin_key_derivation.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_extra.h:
/tmp/apt36/src/mbedtls-3.6.6/include/psa/crypto_compat.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/x509_crt.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/x509.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/asn1.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/x509_crl.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/dhm.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/ecdh.h:
src/mtasts.h:
src/compat.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/version.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/ctr_drbg.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/aes.h:
/tmp/apt36/src/mbedtls-3.6.6/include/mbedtls/entropy.h:
