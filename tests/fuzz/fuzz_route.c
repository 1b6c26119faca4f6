/*
 * libFuzzer harness: the request matcher. Input is "METHOD\nURL\nHOST\nSNI"
 * (SNI optional); routed against three sites. Checks the strict rule
 * itself too: a match only for GET/HEAD of exactly the policy path.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct site	sites[3];
static struct snapshot	snap;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct site	*r;
	char			*buf, *f[4] = { NULL, NULL, NULL, NULL };
	char			*p;
	int			 n = 0;

	if (snap.nsites == 0) {
		sites[0].host = "mta-sts.example.com";
		sites[1].host = "mta-sts.example.net";
		sites[2].host = "mta-sts.xn--bcher-kva.example";
		sites[0].policy = sites[1].policy = sites[2].policy =
		    "version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n";
		sites[0].policy_len = sites[1].policy_len =
		    sites[2].policy_len = strlen(sites[0].policy);
		snap.sites = sites;
		snap.nsites = 3;
		if (snap_index(&snap) == -1)
			abort();
	}
	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (p = buf; n < 4; n++) {
		f[n] = p;
		if ((p = strchr(p, '\n')) == NULL)
			break;
		*p++ = '\0';
	}
	if (f[1] != NULL && f[2] != NULL) {
		r = snap_route(&snap, f[0], f[1], f[2], f[3]);
		if (r != NULL && (strcmp(f[1], POLICY_PATH) != 0 ||
		    (strcmp(f[0], "GET") != 0 && strcmp(f[0], "HEAD") != 0)))
			abort();	/* the strict rule broken */
	}
	free(buf);
	return 0;
}
