/*
 * libFuzzer harness: the mx/domain name rules, TLSRPT URI rules, the
 * single-label wildcard matcher and the name normaliser (which sees raw
 * Host and SNI bytes, NULs included) on arbitrary strings.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s, *nl, err[512], n[64];
	ssize_t	 len;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	/* the raw bytes: never past size; a result fits and is NUL-ended */
	len = name_norm(s, size, n, sizeof(n));
	if (len != -1 && ((size_t)len >= sizeof(n) || n[len] != '\0' ||
	    strlen(n) != (size_t)len || (len > 0 && n[len - 1] == '.')))
		abort();
	policy_check_name(s, 1, err, sizeof(err));
	policy_check_name(s, 0, err, sizeof(err));
	policy_check_rua(s, err, sizeof(err));
	/* "pattern\nhost" */
	if ((nl = strchr(s, '\n')) != NULL) {
		*nl = '\0';
		policy_wildcard_match(s, nl + 1);
	} else
		policy_wildcard_match(s, "a.example.com");
	free(s);
	return 0;
}
