/*
 * libFuzzer harness: the config parser, and for configs it accepts, the
 * policy and DNS renderers. Must never crash, leak or misbehave under
 * ASan/UBSan, whatever the bytes.
 */
#include <stdint.h>
#include <stdlib.h>

#include "mtasts.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag	 d = { 0 };
	struct conf	*c;
	char		*p, *dns;
	size_t		 i, len;

	c = conf_parse_buf("fuzz.conf", (const char *)data, size, &d);
	if (c != NULL) {
		for (i = 0; i < c->ndomains; i++) {
			if (policy_render(&c->domains[i], &p, &len) == 0)
				free(p);
			if ((dns = dns_render(&c->domains[i],
			    "20261123101500Z")) != NULL)
				free(dns);
		}
		conf_free(c);
	}
	diag_free(&d);
	return 0;
}
