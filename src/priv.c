/*
 * priv.c: giving up root once the sockets are bound and the certificates
 * loaded. Reloads after the drop read certificates as that user, so they
 * must be readable by it (group-readable is enough); the state directory
 * is handed to it so that new ids can still be written.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtasts.h"

/* A user or group by name or number; -1 if unknown. */
static long
lookup_id(const char *name, int is_group, gid_t *pw_gid)
{
	struct passwd	*pw;
	struct group	*gr;
	char		*end;
	long		 n;

	n = strtol(name, &end, 10);
	if (*name != '\0' && *end == '\0' && n >= 0) {
		if (!is_group && pw_gid != NULL)
			*pw_gid = (pw = getpwuid((uid_t)n)) != NULL ?
			    pw->pw_gid : (gid_t)n;
		return n;
	}
	if (is_group)
		return (gr = getgrnam(name)) != NULL ? (long)gr->gr_gid : -1;
	if ((pw = getpwnam(name)) == NULL)
		return -1;
	if (pw_gid != NULL)
		*pw_gid = pw->pw_gid;
	return (long)pw->pw_uid;
}

/* Hand the state directory and its files to uid:gid. */
static void
chown_state(const char *dir, uid_t uid, gid_t gid)
{
	static const char *const files[] = { STATE_FILE, STATE_LOCK,
	    HISTORY_FILE, "acme" };
	char		 path[4096];
	size_t		 i;
	DIR		*d;
	struct dirent	*e;

	if (chown(dir, uid, gid) == -1)
		log_warn("state_dir %s: chown", dir);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    files[i]) >= sizeof(path))
			continue;
		if (lchown(path, uid, gid) == -1 && errno != ENOENT)
			log_warn("%s: chown", path);
	}
	/* ACME's certificates, should a run as root have made them */
	if ((size_t)snprintf(path, sizeof(path), "%s/acme", dir) <
	    sizeof(path) && (d = opendir(path)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.' || (size_t)snprintf(path,
			    sizeof(path), "%s/acme/%s", dir, e->d_name) >=
			    sizeof(path))
				continue;
			if (lchown(path, uid, gid) == -1 && errno != ENOENT)
				log_warn("%s: chown", path);
		}
		closedir(d);
	}
}

/*
 * Drop to c->user (and c->group) if started as root, then forbid gaining
 * privileges again. Fatal on any failure: running as root by mistake is
 * worse than not running.
 */
void
priv_drop(const struct conf *c)
{
	long	uid, gid;
	gid_t	pw_gid = 0;

	if (geteuid() == 0 && c->user == NULL)
		log_warnx("%s: running as root: set 'user' to drop "
		    "privileges after start-up", c->file);
	if (geteuid() == 0 && c->user != NULL) {
		if ((uid = lookup_id(c->user, 0, &pw_gid)) == -1)
			fatalx("%s: user '%s' does not exist", c->file,
			    c->user);
		gid = c->group != NULL ? lookup_id(c->group, 1, NULL) :
		    (long)pw_gid;
		if (gid == -1)
			fatalx("%s: group '%s' does not exist", c->file,
			    c->group);
		chown_state(c->state_dir, (uid_t)uid, (gid_t)gid);
		if (setgroups(1, &(gid_t){ (gid_t)gid }) == -1 ||
		    setgid((gid_t)gid) == -1 || setuid((uid_t)uid) == -1)
			fatal("dropping privileges to %s", c->user);
		if (getuid() != (uid_t)uid || geteuid() != (uid_t)uid ||
		    getgid() != (gid_t)gid || getegid() != (gid_t)gid ||
		    (uid != 0 && setuid(0) != -1))
			fatalx("dropping privileges to %s did not stick",
			    c->user);
		log_info("running as %s (uid %ld, gid %ld)", c->user, uid,
		    gid);
	} else if (c->user != NULL && geteuid() != 0)
		log_info("not started as root: 'user %s' not needed",
		    c->user);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl(PR_SET_NO_NEW_PRIVS)");
}
