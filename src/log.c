/*
 * log.c: messages to stderr, one line each. Announcements of DNS records
 * are not logs: they go to stdout from main.c.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

static int	verbose;

static void	vlog(const char *, const char *, va_list, const char *)
		    __attribute__((format(printf, 2, 0)));

void
log_init(int v)
{
	verbose = v;
}

static void
vlog(const char *level, const char *fmt, va_list ap, const char *errstr)
{
	char	buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (errstr != NULL)
		fprintf(stderr, "%s%s: %s\n", level, buf, errstr);
	else
		fprintf(stderr, "%s%s\n", level, buf);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	char	*e = strerror(errno);

	va_start(ap, fmt);
	vlog("warning: ", fmt, ap, e);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog("warning: ", fmt, ap, NULL);
	va_end(ap);
}

/* An error that does not end the process (a failed reload). */
void
log_error(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog("error: ", fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog("", fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	vlog("debug: ", fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	char	*e = strerror(errno);

	va_start(ap, fmt);
	vlog("error: ", fmt, ap, e);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog("error: ", fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

/* "192.0.2.1:443" or "[2001:db8::1]:443"; always a valid string. */
const char *
addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char		 host[INET6_ADDRSTRLEN] = "?";
	unsigned	 port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	} else
		snprintf(buf, len, "(unknown)");
	return buf;
}

/*
 * p[0..n) for an error message, NUL-terminated in dst: what is not
 * printable ASCII (CR, ESC, DEL, any control or 8-bit byte) becomes '?',
 * so a hostile server cannot write into the log, and more than dlen - 4
 * bytes are cut, with "...". dst.
 */
const char *
printable(char *dst, size_t dlen, const char *p, size_t n)
{
	size_t	i, max = dlen - 4;

	for (i = 0; i < n && i < max; i++)
		dst[i] = (unsigned char)p[i] >= 0x20 &&
		    (unsigned char)p[i] < 0x7f ? p[i] : '?';
	if (n > max) {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = '\0';
	return dst;
}
