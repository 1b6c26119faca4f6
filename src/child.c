/*
 * child.c: what a child of the server (the ACME client, a round of DNS
 * checks) drops right after fork(): the server's descriptors, secrets and
 * capabilities, its signal set-up.
 */
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtasts.h"

/* Close what the child must not hold: listeners, connections, epoll. */
static void
close_fds(int keep)
{
	DIR		*d;
	struct dirent	*e;
	int		 fd, dfd;

	if ((d = opendir("/proc/self/fd")) == NULL) {
		for (fd = 3; fd < 1024; fd++)
			if (fd != keep)
				close(fd);
		return;
	}
	dfd = dirfd(d);
	while ((e = readdir(d)) != NULL) {
		fd = atoi(e->d_name);
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && fd > 2 &&
		    fd != keep && fd != dfd)
			close(fd);
	}
	closedir(d);
}

/*
 * In the child, at once: it faces the network and needs none of the
 * server's secrets (the sites' keys, the ticket keys) nor its right to
 * bind low ports (systemd's ambient CAP_NET_BIND_SERVICE).
 */
static void
forget_parent(void)
{
	/* capset(2)'s own structs (<linux/capability.h> is not in every
	 * libc's reach, musl-gcc's for one) */
	struct {
		uint32_t	version;
		int		pid;
	}			 hdr = { 0x20080522, 0 };	/* v3 */
	struct {
		uint32_t	effective, permitted, inheritable;
	}			 data[2];
	struct snapshot		*s = (struct snapshot *)snap_current();

	snap_publish(NULL);
	snap_free(s);		/* connections' references aside */
	tls_global_free();	/* ticket keys, tag secret, challenges */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	memset(data, 0, sizeof(data));
	syscall(SYS_capset, &hdr, data);
}


/*
 * In a child right after fork(): keep only stdio and the descriptor keep;
 * default signals, unblocked (SIGTERM stops it; Ctrl-C reaches the whole
 * group, and the parent stops us); die with the parent; forget the
 * parent's secrets and capabilities.
 */
void
child_init(int keep)
{
	sigset_t	all;

	close_fds(keep);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	forget_parent();
}
