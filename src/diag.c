/*
 * diag.c: collects errors and warnings as whole lines of text, so that
 * pure modules (conf, policy) never print and callers decide where the
 * messages go (stderr at startup, the log on reload, a test's diff).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

/*
 * Append one message. On allocation failure the message is replaced by a
 * fixed one; the error count stays right, which is what callers act on.
 */
void
diag_add(struct diag *d, int is_err, const char *fmt, ...)
{
	va_list	 ap;
	char	*s = NULL, **nm;
	char	*ne;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);

	if (is_err)
		d->nerr++;
	nm = realloc(d->msg, (d->n + 1) * sizeof(*nm));
	if (nm == NULL)
		goto fail;
	d->msg = nm;
	ne = realloc(d->is_err, d->n + 1);
	if (ne == NULL)
		goto fail;
	d->is_err = ne;
	d->msg[d->n] = s != NULL ? s : strdup("out of memory");
	d->is_err[d->n] = is_err != 0;
	d->n++;
	return;
fail:
	free(s);
}

void
diag_free(struct diag *d)
{
	size_t	i;

	for (i = 0; i < d->n; i++)
		free(d->msg[i]);
	free(d->msg);
	free(d->is_err);
	memset(d, 0, sizeof(*d));
}
