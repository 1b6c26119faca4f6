/*
 * watch.c: notices when the config, certificate or key may have changed.
 *
 * Files are replaced in many ways: rename over (editors, sed -i), written
 * in place, deleted and created again, symlinks swapped (certbot's live/
 * -> archive/), Kubernetes ConfigMaps flipping a "..data" directory link.
 * So we watch directories, not files: for each path the directory of
 * every link in its symlink chain, and react to events that name a file
 * of that chain or a "..something" entry. Any such event (re)starts a
 * short quiet period; when it ends the reload callback runs, once for a
 * whole burst. The watch set is rebuilt after every reload, since links
 * may now point elsewhere. Without inotify (or with "watch poll") the
 * files' stat data is compared every POLL_MS instead.
 */
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtasts.h"

#define QUIET_MS	200	/* a burst ends after this much quiet */
#define BURST_MAX_MS	1000	/* but reload at most this long after it began */
#define POLL_MS		5000
#define MAX_LINKS	8

struct entry {
	int	 wd;
	char	*name;	/* basename that matters in that directory */
};

struct fstamp {
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec	mtime, ctime;
	int		exists;
};

static struct ev	 ino_ev = { -1, 0, NULL };
static int		 mode = WATCH_INOTIFY;
typedef struct fstamp	 chain_stamps[MAX_LINKS + 1];

static struct entry	*entries;
static size_t		 nentries, centries;
static char		**paths;
static chain_stamps	*stamps;
static size_t		 npaths;
static int64_t		 due = -1, burst_start = -1, next_poll = -1;
static void		(*on_change)(void);

static void
trigger(void)
{
	int64_t	now = now_ms();

	if (burst_start == -1)
		burst_start = now;
	due = now + QUIET_MS;
	if (due > burst_start + BURST_MAX_MS)
		due = burst_start + BURST_MAX_MS;
}

static int
relevant(int wd, const char *name)
{
	size_t	i;

	if (name == NULL || name[0] == '\0')
		return 1;	/* the directory itself went or moved */
	if (name[0] == '.' && name[1] == '.')
		return 1;	/* ConfigMap-style "..data" flips */
	for (i = 0; i < nentries; i++)
		if (entries[i].wd == wd && strcmp(entries[i].name, name) == 0)
			return 1;
	return 0;
}

static void
inotify_ready(struct ev *ev, uint32_t events)
{
	char				 buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event	*ie;
	ssize_t				 n;
	char				*p;

	(void)events;
	while ((n = read(ev->fd, buf, sizeof(buf))) > 0) {
		for (p = buf; p < buf + n; p += sizeof(*ie) + ie->len) {
			ie = (const struct inotify_event *)p;
			if ((ie->mask & IN_Q_OVERFLOW) ||
			    relevant(ie->wd, ie->len ? ie->name : NULL)) {
				log_debug("watch: change seen (%s)",
				    ie->len ? ie->name : "directory");
				trigger();
			}
		}
	}
}

/* Every (directory, name) along path's symlink chain, via cb. */
static void
walk_chain(const char *path, void (*cb)(const char *dir, const char *name,
    size_t pi, size_t li), size_t pi)
{
	char		cur[PATH_MAX], tmp[PATH_MAX], link[PATH_MAX], *d, *b;
	struct stat	st;
	ssize_t		n;
	size_t		li;

	snprintf(cur, sizeof(cur), "%s", path);
	for (li = 0; li <= MAX_LINKS; li++) {
		snprintf(tmp, sizeof(tmp), "%s", cur);
		d = dirname(tmp);
		snprintf(link, sizeof(link), "%s", cur);
		b = basename(link);
		cb(d, b, pi, li);
		if (lstat(cur, &st) == -1 || !S_ISLNK(st.st_mode))
			return;
		if ((n = readlink(cur, link, sizeof(link) - 1)) <= 0)
			return;
		link[n] = '\0';
		if (link[0] == '/')
			snprintf(cur, sizeof(cur), "%s", link);
		else {
			snprintf(tmp, sizeof(tmp), "%s", cur);
			d = dirname(tmp);
			if ((size_t)snprintf(cur, sizeof(cur), "%s/%s", d,
			    link) >= sizeof(cur))
				return;
		}
	}
}

static void
add_entry(const char *dir, const char *name, size_t pi, size_t li)
{
	int	wd;

	struct entry	*ne;

	(void)pi;
	(void)li;
	if (nentries == centries) {
		ne = realloc(entries, (centries + 16) * sizeof(*ne));
		if (ne == NULL)
			return;
		entries = ne;
		centries += 16;
	}
	wd = inotify_add_watch(ino_ev.fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO |
	    IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB | IN_MODIFY |
	    IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
	if (wd == -1) {
		log_debug("watch: %s: %s", dir, strerror(errno));
		return;
	}
	if ((entries[nentries].name = strdup(name)) == NULL)
		return;
	entries[nentries++].wd = wd;
}

static void
stamp(const char *dir, const char *name, size_t pi, size_t li)
{
	struct fstamp	*f = &stamps[pi][li];
	struct stat	 st;
	char		 p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	memset(f, 0, sizeof(*f));
	if (lstat(p, &st) == -1)
		return;
	f->exists = 1;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = st.st_size;
	f->mtime = st.st_mtim;
	f->ctime = st.st_ctim;
}

/* Re-stamp every path; 1 if anything differs from the last stamps. */
static int
restamp(void)
{
	chain_stamps	*old;
	size_t		 i, size = npaths * sizeof(*stamps);
	int		 changed;

	if ((old = malloc(size + 1)) == NULL)
		return 1;
	memcpy(old, stamps, size);
	memset(stamps, 0, size);
	for (i = 0; i < npaths; i++)
		walk_chain(paths[i], stamp, i);
	changed = memcmp(old, stamps, size) != 0;
	free(old);
	return changed;
}

/*
 * Start watching with the given mode (enum watch_mode); cb runs after a
 * burst of changes. Falls back to polling when inotify is unavailable.
 * Returns 0, or -1 if the inotify fd cannot join the loop.
 */
int
watch_init(int m, void (*cb)(void))
{
	on_change = cb;
	mode = m;
	if (mode == WATCH_INOTIFY) {
		ino_ev.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (ino_ev.fd == -1) {
			log_warn("inotify unavailable, checking files every "
			    "%d s instead", POLL_MS / 1000);
			mode = WATCH_POLL;
		} else {
			ino_ev.cb = inotify_ready;
			if (loop_add(&ino_ev, EPOLLIN) == -1)
				return -1;
		}
	}
	return 0;
}

static void
free_paths(void)
{
	while (npaths > 0)
		free(paths[--npaths]);
	free(paths);
	free(stamps);
	paths = NULL;
	stamps = NULL;
}

/*
 * Watch these files from now on, replacing the previous set; NULLs and
 * repeats are skipped.
 */
void
watch_set(const char *const *files, size_t n)
{
	struct entry	*old = entries;
	struct hmap	 seen = { 0 };
	size_t		 i, j, nold = nentries;

	free_paths();
	if ((paths = calloc(n + 1, sizeof(*paths))) == NULL ||
	    (stamps = calloc(n + 1, sizeof(*stamps))) == NULL ||
	    /* paths: /a/Cert.pem is not /a/cert.pem */
	    hmap_init(&seen, n, 1) == -1) {
		log_warnx("watch: out of memory");
		free_paths();
		return;
	}
	for (i = 0; i < n; i++) {
		if (files[i] == NULL ||
		    hmap_get(&seen, files[i], strlen(files[i])) != NULL)
			continue;
		if ((paths[npaths] = strdup(files[i])) == NULL)
			break;
		hmap_put(&seen, paths[npaths], paths[npaths]);
		npaths++;
	}
	hmap_free(&seen);
	if (mode == WATCH_POLL) {
		restamp();
		next_poll = now_ms() + POLL_MS;
		return;
	}
	if (mode != WATCH_INOTIFY)
		return;
	/* Add the new set first, so no event falls between two sets. */
	entries = NULL;
	nentries = centries = 0;
	for (i = 0; i < npaths; i++)
		walk_chain(paths[i], add_entry, i);
	for (i = 0; i < nold; i++) {
		for (j = 0; j < nentries; j++)
			if (entries[j].wd == old[i].wd)
				break;
		if (j == nentries)
			inotify_rm_watch(ino_ev.fd, old[i].wd);
		free(old[i].name);
	}
	free(old);
}

/* Timers: run the callback when a burst is over. Returns ms to wait. */
int
watch_tick(void)
{
	int64_t	now = now_ms(), next;

	if (mode == WATCH_POLL && next_poll != -1 && now >= next_poll) {
		if (restamp())
			trigger();
		next_poll = now + POLL_MS;
	}
	if (due != -1 && now >= due) {
		due = burst_start = -1;
		on_change();
		now = now_ms();
	}
	next = due;
	if (mode == WATCH_POLL && (next == -1 || next_poll < next))
		next = next_poll;
	return next == -1 ? -1 : (int)(next > now ? next - now : 0);
}

void
watch_free(void)
{
	size_t	i;

	if (ino_ev.fd != -1) {
		loop_del(&ino_ev);
		close(ino_ev.fd);
		ino_ev.fd = -1;
	}
	for (i = 0; i < nentries; i++)
		free(entries[i].name);
	free(entries);
	entries = NULL;
	nentries = centries = 0;
	free_paths();
}
