/*
 * file.c: whole files read and replaced safely, for the state directory
 * (ACME's certificates and account key, the policy history).
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtasts.h"

/* The whole file (at most max bytes), NUL-terminated; NULL with errno. */
char *
file_read(const char *path, size_t max, size_t *lenp)
{
	char	*buf = NULL, *nb;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			if (cap >= max) {
				errno = EFBIG;
				goto fail;
			}
			if ((nb = realloc(buf, cap + 8192)) == NULL)
				goto fail;
			buf = nb;
			cap += 8192;
		}
		if ((n = read(fd, buf + len, cap - len - 1)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
fail:
	n = errno;
	close(fd);
	if (buf != NULL)
		explicit_bzero(buf, cap);
	free(buf);
	errno = (int)n;
	return NULL;
}

/* Replace path by data atomically: temp file (of mode), fsync, rename,
 * fsync of the directory. 0, or -1 with a message in err. */
int
file_write_atomic(const char *path, const char *data, size_t len, int mode,
    char *err, size_t errlen)
{
	char	 tmp[PATH_MAX], dir[PATH_MAX], *slash;
	size_t	 off = 0;
	ssize_t	 n;
	int	 fd = -1, dfd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", path,
	    (long)getpid()) >= sizeof(tmp)) {
		snprintf(err, errlen, "%s: name too long", path);
		return -1;
	}
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    (mode_t)mode)) == -1)
		goto fail;
	while (off < len) {
		if ((n = write(fd, data + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1)
		goto fail;
	n = close(fd);
	fd = -1;
	if (n == -1)
		goto fail;
	if (rename(tmp, path) == -1)
		goto fail;
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) !=
		    -1) {
			fsync(dfd);
			close(dfd);
		}
	}
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return -1;
}
