/*
 * name.c: the one form host names are compared in, and the one place
 * the policy host's name "mta-sts.<domain>" is built (RFC 8461 3.3).
 * DNS names compare case-insensitively (RFC 4343) and "example.com." is
 * "example.com"; conf.c stores domains in this form, and the Host and
 * SNI a client sends are brought to it before they are looked up.
 * Pure: no I/O, libc only.
 */
#include <sys/types.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

/*
 * Copy the len bytes of in to out in lower case (ASCII only: names on
 * the wire are A-labels), without one trailing dot, and NUL-terminate.
 * Writes at most cap bytes including the NUL; out may be in. Returns
 * the length, or -1 (out untouched) if the name is empty, does not fit
 * in cap, ends in two dots, or holds a NUL byte (a name cut short there
 * would compare equal to a name it is not).
 */
ssize_t
name_norm(const char *in, size_t len, char *out, size_t cap)
{
	size_t	i;
	char	c;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len >= cap || in[len - 1] == '.' ||
	    memchr(in, '\0', len) != NULL)
		return -1;
	for (i = 0; i < len; i++) {
		c = in[i];
		out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	out[len] = '\0';
	return (ssize_t)len;
}

/* "mta-sts.<domain>", malloc'd; the caller frees. NULL if out of memory. */
char *
name_mta_sts(const char *domain)
{
	static const char	 prefix[] = "mta-sts.";
	size_t			 plen = sizeof(prefix) - 1, dlen = strlen(domain);
	char			*s;

	if ((s = malloc(plen + dlen + 1)) == NULL)
		return NULL;
	memcpy(s, prefix, plen);
	memcpy(s + plen, domain, dlen + 1);
	return s;
}
