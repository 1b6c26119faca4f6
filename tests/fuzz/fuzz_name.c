/*
 * libFuzzer harness: the mx/domain name rules, TLSRPT URI rules and the
 * single-label wildcard matcher on arbitrary strings.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s, *nl, err[512];

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
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
