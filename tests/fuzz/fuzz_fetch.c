/*
 * libFuzzer harness: the HTTP response parser on arbitrary bytes. It must
 * never read past the length it is given (each call gets an exact-size
 * copy, for ASan), return only 0 or -1, and on 0 hand back a final status,
 * a NUL-terminated body within FETCH_BODY_MAX, and fields that are
 * terminated within their arrays and of the promised form; on -1 no body
 * and a message of printable ASCII only (it quotes the response, and goes
 * to the log). The verdict must not depend on the room for that message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

/* fetch_parse on an exact-size copy of data[0..len), checked. */
static int
parse(const uint8_t *data, size_t len, struct fetch_resp *r, size_t errlen)
{
	char	*p, err[256];
	size_t	 i;
	int	 rc;

	if ((p = malloc(len > 0 ? len : 1)) == NULL)
		return -2;
	memcpy(p, data, len);
	memset(err, 0xa5, sizeof(err));
	memset(r, 0xa5, sizeof(*r));
	rc = fetch_parse(p, len, r, err, errlen);
	free(p);
	if (rc == -1) {
		if (r->body != NULL || !terminated(err, errlen) ||
		    (errlen > 1 && err[0] == '\0'))
			abort();
		/* not a byte past the room given */
		for (i = errlen; i < sizeof(err); i++)
			if ((unsigned char)err[i] != 0xa5)
				abort();
		/* quoted response bytes made printable: it goes to the log */
		for (i = 0; err[i] != '\0'; i++)
			if ((unsigned char)err[i] < 0x20 ||
			    (unsigned char)err[i] >= 0x7f)
				abort();
		return rc;
	}
	if (rc != 0)
		abort();
	if (r->status < 200 || r->status > 599 || r->body == NULL ||
	    r->body_len > FETCH_BODY_MAX || r->body[r->body_len] != '\0' ||
	    r->retry_after < -1 ||
	    !terminated(r->nonce, sizeof(r->nonce)) ||
	    !terminated(r->location, sizeof(r->location)) ||
	    !terminated(r->content_type, sizeof(r->content_type)))
		abort();
	for (i = 0; r->nonce[i] != '\0'; i++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789-_",
		    r->nonce[i]) == NULL)
			abort();
	for (i = 0; r->content_type[i] != '\0'; i++)
		if (r->content_type[i] >= 'A' && r->content_type[i] <= 'Z')
			abort();
	for (i = 0; r->location[i] != '\0'; i++)
		if (((unsigned char)r->location[i] < 0x20 &&
		    r->location[i] != '\t') || r->location[i] == 0x7f)
			abort();
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fetch_resp	a, b;
	int			rc, rc_small;

	if ((rc = parse(data, size, &a, 256)) == -2)
		return 0;
	if ((rc_small = parse(data, size, &b, 8)) == -2) {
		fetch_resp_free(&a);
		return 0;
	}
	if (rc != rc_small)
		abort();
	/* the same verdict, the same response (Retry-After from a date may
	 * tick over a second between the two) */
	if (rc == 0 && (a.status != b.status || a.body_len != b.body_len ||
	    memcmp(a.body, b.body, a.body_len) != 0 ||
	    strcmp(a.nonce, b.nonce) != 0 ||
	    strcmp(a.location, b.location) != 0 ||
	    strcmp(a.content_type, b.content_type) != 0 ||
	    (a.retry_after == -1) != (b.retry_after == -1) ||
	    labs(a.retry_after - b.retry_after) > 1))
		abort();
	if (rc == 0) {
		fetch_resp_free(&a);
		fetch_resp_free(&b);
	}
	return 0;
}
