/*
 * libFuzzer harness: the SMTP reply reader on arbitrary bytes. It must
 * never read past the length it is given (each call gets an exact-size
 * copy, for ASan) and return only 1, 0 or -1. On 1: a code 200-559, a
 * starttls of 0 or 1, and used bytes that end in LF and are the same
 * reply read alone, while any shorter prefix of them asks for more; on
 * -1 a message of printable ASCII only (it quotes the server, and goes to
 * the log), within the room given. The verdict must not depend on that
 * room.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct got {
	int	rc, code, starttls;
	size_t	used;
};

/* smtp_reply on an exact-size copy of data[0..len), checked. */
static int
reply(const uint8_t *data, size_t len, size_t errlen, struct got *g)
{
	char	*p, err[256];
	size_t	 i;

	if ((p = malloc(len > 0 ? len : 1)) == NULL)
		return -2;
	memcpy(p, data, len);
	memset(err, 0xa5, sizeof(err));
	g->code = g->starttls = -7;
	g->used = (size_t)-1;
	g->rc = smtp_reply(p, len, &g->code, &g->used, &g->starttls, err,
	    errlen);
	free(p);
	switch (g->rc) {
	case 1:
		if (g->code < 200 || g->code > 559 || g->used == 0 ||
		    g->used > len || data[g->used - 1] != '\n' ||
		    (g->starttls != 0 && g->starttls != 1))
			abort();
		break;
	case 0:
		break;
	case -1:
		if (memchr(err, '\0', errlen) == NULL ||
		    (errlen > 1 && err[0] == '\0'))
			abort();
		/* not a byte past the room given */
		for (i = errlen; i < sizeof(err); i++)
			if ((unsigned char)err[i] != 0xa5)
				abort();
		for (i = 0; err[i] != '\0'; i++)
			if ((unsigned char)err[i] < 0x20 ||
			    (unsigned char)err[i] >= 0x7f)
				abort();
		break;
	default:
		abort();
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct got	a, b, c;

	if (reply(data, size, 256, &a) == -2 ||
	    reply(data, size, 8, &b) == -2)
		return 0;
	if (a.rc != b.rc || (a.rc == 1 && (a.code != b.code ||
	    a.used != b.used || a.starttls != b.starttls)))
		abort();
	if (a.rc != 1)
		return 0;
	/* the reply alone is the same reply ... */
	if (reply(data, a.used, 256, &c) == -2)
		return 0;
	if (c.rc != 1 || c.code != a.code || c.used != a.used ||
	    c.starttls != a.starttls)
		abort();
	/* ... and a reply cut short asks for more, never fails */
	if (reply(data, a.used - 1, 256, &c) == -2)
		return 0;
	if (c.rc != 0)
		abort();
	if (reply(data, a.used / 2, 256, &c) == -2)
		return 0;
	if (c.rc != 0)
		abort();
	return 0;
}
