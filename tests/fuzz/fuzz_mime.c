/*
 * libFuzzer harness: the MIME reader (mime.c's mime_reports) on arbitrary
 * bytes, an exact-size copy (for ASan: nothing past len may be read, and
 * no NUL ends it). Every byte handed to the callback is read; each part
 * must keep its contract: a where, gz 0 or 1, data or a why, decoded
 * data never longer than the input. The count returned must be the
 * number of calls, and at most MIME_PARTS_MAX.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct seen {
	size_t		 len;		/* of the input */
	int		 calls;
	unsigned int	 sum;
};

static void
part(void *arg, const struct mime_part *p)
{
	struct seen	*s = arg;
	size_t		 i;

	s->calls++;
	if (p->where == NULL || strlen(p->where) == 0 ||
	    (p->gz != 0 && p->gz != 1))
		abort();
	if (p->data == NULL) {
		if (p->why == NULL || p->why[0] == '\0' || p->len != 0)
			abort();
		for (i = 0; p->why[i] != '\0'; i++)
			if ((unsigned char)p->why[i] < ' ' ||
			    (unsigned char)p->why[i] >= 0x7f)
				abort();
		return;
	}
	if (p->len > s->len)
		abort();
	for (i = 0; i < p->len; i++)
		s->sum += p->data[i];
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct seen	 s;
	char		*p;
	int		 n;

	if ((p = malloc(len > 0 ? len : 1)) == NULL)
		return 0;
	memcpy(p, data, len);
	memset(&s, 0, sizeof(s));
	s.len = len;
	n = mime_reports(p, len, part, &s);
	if (n != s.calls || n < 0 || n > MIME_PARTS_MAX)
		abort();
	free(p);
	return 0;
}
