/*
 * health.c: --healthcheck, for a container's HEALTHCHECK (there is no
 * shell or curl in the image). Connects to the first configured
 * listener on loopback over TLS, asks for the first domain's policy (the
 * first with a certificate: ACME may not have issued one yet) and
 * exits 0 when the answer is a 200 with a well-formed policy, 1
 * otherwise, saying why on stderr. The body is checked for form, not
 * against the config: a running server keeps serving its last good
 * policy when the file is broken, and that is healthy.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>

#include "mtasts.h"
#include "compat.h"

#define HEALTH_TIMEOUT	5	/* seconds per connect, read or write */
#define HEALTH_DEADLINE	10	/* seconds in all */
#define RESP_MAX	(POLICY_MAX_BYTES + 4096)

static void
on_alarm(int sig)
{
	static const char msg[] = "unhealthy: no answer within 10 s\n";

	(void)sig;
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

static int
io_send(void *ctx, const unsigned char *buf, size_t len)
{
	ssize_t	n = write(*(int *)ctx, buf, len);

	return n < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : (int)n;
}

static int
io_recv(void *ctx, unsigned char *buf, size_t len)
{
	ssize_t	n = read(*(int *)ctx, buf, len);

	return n < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : (int)n;
}

/*
 * A socket connected to the listener l on loopback: a wildcard address
 * becomes the loopback of its family; a port-only listener (both
 * families) is tried on ::1, then 127.0.0.1.
 */
static int
connect_to(const struct conf_listen *l, char *where, size_t wlen)
{
	struct sockaddr_storage	 ss = l->ss;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;
	struct timeval		 tv = { HEALTH_TIMEOUT, 0 };
	int			 fd, try;

	for (try = 0; try < 2; try++) {
		if (ss.ss_family == AF_INET6 &&
		    (try == 1 || IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))) {
			if (try == 1) {	/* the IPv4 half of a dual listener */
				in_port_t port = s6->sin6_port;

				memset(&ss, 0, sizeof(ss));
				s4->sin_family = AF_INET;
				s4->sin_port = port;
				s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			} else
				s6->sin6_addr = in6addr_loopback;
		} else if (ss.ss_family == AF_INET &&
		    s4->sin_addr.s_addr == htonl(INADDR_ANY))
			s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		addr_str((struct sockaddr *)&ss, where, wlen);
		if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC,
		    0)) != -1) {
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
			    sizeof(tv));
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
			    sizeof(tv));
			if (connect(fd, (struct sockaddr *)&ss,
			    ss.ss_family == AF_INET ? sizeof(*s4) :
			    sizeof(*s6)) == 0)
				return fd;
			close(fd);
		}
		if (!l->dual)
			break;
	}
	return -1;
}

/* 0 when resp is "HTTP/1.x 200" with a well-formed policy body. */
static int
check_response(const char *resp, size_t len, char *why, size_t wlen)
{
	const char	*body;

	if (len < 12 || strncmp(resp, "HTTP/1.", 7) != 0) {
		snprintf(why, wlen, "not an HTTP response");
		return -1;
	}
	if (strncmp(resp + 8, " 200", 4) != 0) {
		snprintf(why, wlen, "status %.3s, not 200", resp + 9);
		return -1;
	}
	if ((body = strstr(resp, "\r\n\r\n")) == NULL) {
		snprintf(why, wlen, "the response has no body");
		return -1;
	}
	body += 4;
	if (strncmp(body, "version: STSv1\r\n", 16) != 0 ||
	    strstr(body, "\r\nmode: ") == NULL ||
	    strstr(body, "\r\nmax_age: ") == NULL) {
		snprintf(why, wlen, "the body is not an MTA-STS policy");
		return -1;
	}
	return 0;
}

int
healthcheck(const struct conf *c)
{
	mbedtls_entropy_context	 entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config	 conf;
	mbedtls_ssl_context	 ssl;
	char			 where[128], *host = NULL, why[256] = "";
	char			 req[400], *resp = NULL;
	size_t			 len = 0, i;
	int			 fd = -1, ret, rc = 1;

	signal(SIGALRM, on_alarm);
	alarm(HEALTH_DEADLINE);
	if (c->listen[0].ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&c->listen[0].ss)->sin6_port == 0 :
	    ((struct sockaddr_in *)&c->listen[0].ss)->sin_port == 0) {
		fprintf(stderr, "unhealthy: %s: listen %s has port 0: no "
		    "fixed port to check\n", c->file, c->listen[0].spec);
		return 1;
	}
	if ((fd = connect_to(&c->listen[0], where, sizeof(where))) == -1) {
		fprintf(stderr, "unhealthy: connect to %s: %s\n", where,
		    strerror(errno));
		return 1;
	}
	/* The first domain with a certificate: an ACME one may wait for its
	 * first, and a server that waits is healthy. */
	for (i = 0; i < c->ndomains; i++)
		if (!c->domains[i].acme || access(c->domains[i].cert, F_OK) == 0)
			break;
	if (i == c->ndomains) {
		fprintf(stderr, "healthy: %s accepts connections; no "
		    "certificate issued by ACME yet\n", where);
		close(fd);
		return 0;
	}
	if ((host = name_mta_sts(c->domains[i].name)) == NULL) {
		fprintf(stderr, "unhealthy: out of memory\n");
		close(fd);
		return 1;
	}
	if (compat_psa_init() == -1) {
		fprintf(stderr, "unhealthy: psa_crypto_init failed\n");
		free(host);
		close(fd);
		return 1;
	}
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_ssl_config_init(&conf);
	mbedtls_ssl_init(&ssl);
	if ((ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func,
	    &entropy, NULL, 0)) != 0 ||
	    (ret = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
		goto tls_err;
	/* Our own listener: its name and chain are checked by --check. */
	mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
	mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
	if ((ret = mbedtls_ssl_setup(&ssl, &conf)) != 0 ||
	    (ret = mbedtls_ssl_set_hostname(&ssl, host)) != 0)
		goto tls_err;
	mbedtls_ssl_set_bio(&ssl, &fd, io_send, io_recv, NULL);
	if ((ret = mbedtls_ssl_handshake(&ssl)) != 0)
		goto tls_err;
	snprintf(req, sizeof(req), "GET " POLICY_PATH " HTTP/1.1\r\n"
	    "Host: %s\r\nConnection: close\r\n\r\n", host);
	if ((ret = mbedtls_ssl_write(&ssl, (unsigned char *)req,
	    strlen(req))) < 0)
		goto tls_err;
	if ((resp = malloc(RESP_MAX + 1)) == NULL) {
		snprintf(why, sizeof(why), "out of memory");
		goto out;
	}
	while (len < RESP_MAX) {
		ret = mbedtls_ssl_read(&ssl, (unsigned char *)resp + len,
		    RESP_MAX - len);
		if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
			break;
		if (ret < 0)
			goto tls_err;
		len += (size_t)ret;
	}
	resp[len] = '\0';
	if (check_response(resp, len, why, sizeof(why)) == 0)
		rc = 0;
	goto out;
tls_err:
	tls_strerror(ret, why, sizeof(why));
out:
	if (rc == 0)
		fprintf(stderr, "healthy: https://%s%s answered 200 with a "
		    "policy (via %s)\n", host, POLICY_PATH, where);
	else
		fprintf(stderr, "unhealthy: https://%s%s via %s: %s\n", host,
		    POLICY_PATH, where, why);
	free(resp);
	free(host);
	mbedtls_ssl_free(&ssl);
	mbedtls_ssl_config_free(&conf);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	compat_psa_free();
	close(fd);
	return rc;
}
