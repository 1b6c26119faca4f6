/*
 * libFuzzer harness: the ClientHello reader on arbitrary bytes, whole and
 * cut in half. It must never read past the length it is given (each call
 * gets an exact-size copy, for ASan), return only -1, 0 or 1, fill in a
 * terminated visible-ASCII SNI, and never change its mind: a verdict on a
 * prefix holds for the whole input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* hello_parse on an exact-size copy of data[0..len), checked. */
static int
parse(const uint8_t *data, size_t len, struct hello *h)
{
	unsigned char	*p;
	size_t		 i, n;
	int		 rc;

	if ((p = malloc(len > 0 ? len : 1)) == NULL)
		return -2;
	memcpy(p, data, len);
	memset(h, 0xa5, sizeof(*h));
	rc = hello_parse(p, len, h);
	free(p);
	if (rc < -1 || rc > 1)
		abort();
	if (rc != 1)
		return rc;
	if (memchr(h->sni, '\0', sizeof(h->sni)) == NULL)
		abort();
	n = strlen(h->sni);
	if (n >= 256 || (h->sni_bad && n != 0) || h->sni_bad > 1 ||
	    h->sni_bad < 0 || h->alpn > 15)
		abort();
	for (i = 0; i < n; i++)
		if (h->sni[i] <= ' ' || h->sni[i] > '~')
			abort();
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hello	h, half;
	int		rc, rc_half;

	if ((rc = parse(data, size, &h)) == -2 ||
	    (rc_half = parse(data, size / 2, &half)) == -2)
		return 0;
	if (rc_half != 0 && rc_half != rc)
		abort();
	if (rc_half == 1 && (strcmp(h.sni, half.sni) != 0 ||
	    h.sni_bad != half.sni_bad || h.alpn != half.alpn))
		abort();
	return 0;
}
