/*
 * hmap.c: a fixed-size, case-insensitive string map (open addressing,
 * linear probing) for looking up a Host header or an SNI name among
 * thousands of domains without a scan. Keys are not copied: the caller
 * keeps them alive as long as the map.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mtasts.h"

static uint32_t
hash(const char *s, size_t len)
{
	uint32_t	h = 2166136261u;	/* FNV-1a */
	size_t		i;

	for (i = 0; i < len; i++) {
		h ^= (uint32_t)tolower((unsigned char)s[i]);
		h *= 16777619u;
	}
	return h;
}

/*
 * Room for n keys, compared in any case (host names) or, if exact, byte
 * for byte (file paths). Returns 0, or -1 if out of memory.
 */
int
hmap_init(struct hmap *m, size_t n, int exact)
{
	m->cap = 16;
	while (m->cap < 2 * n)
		m->cap *= 2;
	m->e = calloc(m->cap, sizeof(*m->e));
	m->exact = exact;
	return m->e != NULL ? 0 : -1;
}

/* The hash folds case either way: exact keys differing in case collide. */
static int
same(const struct hmap *m, const struct hent *e, const char *key,
    size_t len)
{
	return e->len == len && (m->exact ? strncmp(e->key, key, len) :
	    strncasecmp(e->key, key, len)) == 0;
}

/* Map key (NUL-terminated) to val; a key already there is replaced. */
void
hmap_put(struct hmap *m, const char *key, void *val)
{
	size_t	len = strlen(key), i;

	for (i = hash(key, len) & (m->cap - 1); m->e[i].key != NULL;
	    i = (i + 1) & (m->cap - 1))
		if (same(m, &m->e[i], key, len))
			break;
	m->e[i].key = key;
	m->e[i].len = len;
	m->e[i].val = val;
}

/* The value of the len bytes at key (any case unless exact); or NULL. */
void *
hmap_get(const struct hmap *m, const char *key, size_t len)
{
	size_t	i;

	if (m->e == NULL)
		return NULL;
	for (i = hash(key, len) & (m->cap - 1); m->e[i].key != NULL;
	    i = (i + 1) & (m->cap - 1))
		if (same(m, &m->e[i], key, len))
			return m->e[i].val;
	return NULL;
}

void
hmap_free(struct hmap *m)
{
	free(m->e);
	m->e = NULL;
	m->cap = 0;
}
