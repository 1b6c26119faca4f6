/*
 * state.c: the persisted policy id of each domain.
 *
 * <state_dir>/<domain>.state holds the id last announced and a SHA-256 of
 * the policy bytes it was announced for. The id is reused while the bytes
 * are unchanged (restarts included) and replaced by a strictly greater one
 * when they change (RFC 8461 3.1: a changed policy needs a new id, and an
 * unchanged one must keep its id or every sender refetches). Written to a
 * temporary file, fsync'd and renamed, so a crash leaves the old or the
 * new file, never a torn one.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mtasts.h"
#include "compat.h"

#define ID_FMT_LEN	15	/* YYYYMMDDhhmmssZ */
#define PATH_LEN	4096

static int
id_parse(const char *id, time_t *t)
{
	struct tm	tm;
	int		i;

	if (strlen(id) != ID_FMT_LEN || id[ID_FMT_LEN - 1] != 'Z')
		return -1;
	for (i = 0; i < ID_FMT_LEN - 1; i++)
		if (id[i] < '0' || id[i] > '9')
			return -1;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(id, "%4d%2d%2d%2d%2d%2d", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*t = timegm(&tm);
	return *t == (time_t)-1 ? -1 : 0;
}

/*
 * The id for a policy change at time now, given the previous id (or NULL):
 * the UTC timestamp of now, or one second past the previous id when that
 * is not already greater (two changes in one second, or a clock that went
 * back, as on a router before NTP). Fixed width, so ids also compare as
 * strings. Returns 0, or -1 if the time cannot be formatted.
 */
int
state_next_id(const char *prev, time_t now, char out[ID_MAX + 1])
{
	time_t		pt;
	struct tm	tm;

	if (prev != NULL && id_parse(prev, &pt) == 0 && pt >= now)
		now = pt + 1;
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(out, ID_MAX + 1, "%Y%m%d%H%M%SZ", &tm) != ID_FMT_LEN)
		return -1;
	return 0;
}

static void
hexhash(const char *buf, size_t len, char out[65])
{
	unsigned char	h[32];
	size_t		i;

	compat_sha256((const unsigned char *)buf, len, h);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* Read "id X" and "sha256 H" lines; absent or malformed fields stay "". */
static int
state_read(const char *path, char id[ID_MAX + 1], char hash[65], char *err,
    size_t errlen)
{
	FILE	*f;
	char	 line[256], v[256];

	id[0] = hash[0] = '\0';
	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "id %255s", v) == 1 && strlen(v) <= ID_MAX)
			strcpy(id, v);
		else if (sscanf(line, "sha256 %255s", v) == 1 &&
		    strlen(v) == 64)
			strcpy(hash, v);
	}
	fclose(f);
	return 0;
}

static int
state_write(const char *dir, const char *path, const char *id,
    const char *hash, char *err, size_t errlen)
{
	char	 tmp[PATH_LEN + 8];
	int	 fd = -1, dfd = -1;
	FILE	*f = NULL;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "state_dir %s: cannot write %s: %s", dir,
		    tmp, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	fprintf(f, "# mtasts-httpd: the published MTA-STS policy id; "
	    "do not edit\nid %s\nsha256 %s\n", id, hash);
	if (fflush(f) != 0 || fsync(fileno(f)) == -1) {
		snprintf(err, errlen, "state_dir %s: cannot write %s: %s", dir,
		    tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
		return -1;
	}
	if (fclose(f) != 0 || rename(tmp, path) == -1) {
		snprintf(err, errlen, "state_dir %s: cannot replace %s: %s",
		    dir, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	/* Make the rename itself durable. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* dir/<domain>.state into buf; -1 when it does not fit. */
int
state_path(const char *dir, const char *domain, char *buf, size_t len)
{
	return (size_t)snprintf(buf, len, "%s/%s.state", dir, domain) < len ?
	    0 : -1;
}

/*
 * The id for this domain's policy bytes: the stored one when the bytes
 * are unchanged (*is_new = 0), else a new greater one, persisted before
 * this returns (*is_new = 1). Creates dir if it is missing. Returns 0, or
 * -1 with a message naming the directory or file in err.
 */
int
state_sync(const char *dir, const char *domain, const char *policy,
    size_t len, time_t now, char id[ID_MAX + 1], int *is_new, char *err,
    size_t errlen)
{
	char		path[PATH_LEN], prev[ID_MAX + 1], hash[65], stored[65];
	struct stat	st;

	if (stat(dir, &st) == -1) {
		if (errno != ENOENT || mkdir(dir, 0755) == -1) {
			snprintf(err, errlen, "state_dir %s: %s", dir,
			    strerror(errno));
			return -1;
		}
	} else if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "state_dir %s: not a directory", dir);
		return -1;
	}
	if (state_path(dir, domain, path, sizeof(path)) == -1) {
		snprintf(err, errlen, "state_dir %s: path too long", dir);
		return -1;
	}
	if (state_read(path, prev, stored, err, errlen) == -1)
		return -1;
	hexhash(policy, len, hash);
	if (prev[0] != '\0' && strcmp(hash, stored) == 0) {
		strcpy(id, prev);
		*is_new = 0;
		return 0;
	}
	if (state_next_id(prev[0] != '\0' ? prev : NULL, now, id) == -1) {
		snprintf(err, errlen, "cannot format the time as an id");
		return -1;
	}
	if (state_write(dir, path, id, hash, err, errlen) == -1)
		return -1;
	*is_new = 1;
	return 0;
}
