/*
 * utc.c: UTC calendar time to seconds since the epoch, without timegm()
 * (not in every libc we build for) and without time zones: days from
 * civil, H. Hinnant's algorithm. For the dates in HTTP headers,
 * certificates and TLS reports.
 */
#include <stdint.h>
#include <time.h>

#include "mtasts.h"

/* Seconds since the epoch of y-mo-d h:mi:s UTC (mo 1-12; h, mi and s
 * may run over or under their ranges: an offset applied). */
long long
utc_seconds(long long y, int mo, int d, long long h, long long mi,
    long long s)
{
	long long	era, yoe, doy, doe;

	y -= mo <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468) * 86400 + h * 3600 + mi * 60 +
	    s;
}

/* t as a time_t: one of 32 bits saturates rather than wraps. */
time_t
utc_clamp(long long t)
{
	if (sizeof(time_t) < sizeof(long long)) {
		if (t > INT32_MAX)
			return (time_t)INT32_MAX;
		if (t < INT32_MIN)
			return (time_t)INT32_MIN;
	}
	return (time_t)t;
}
