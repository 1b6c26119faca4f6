/*
 * hook.c: runs the admin's hook after a new id is announced, without
 * blocking the loop. The hook gets its facts in environment variables,
 * its stdout and stderr come back through a pipe into the log, and it is
 * killed (with its whole process group) at its timeout. Its exit status
 * is logged and handed to the caller's completion callback (serve.c
 * retries a failed announcement); this file decides nothing on it.
 */
#include <sys/epoll.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtasts.h"

#define OUT_MAX	1024	/* bytes of hook output kept per line */

struct hook {
	struct ev	 ev;	/* first: the pipe's ev is the hook */
	struct hook	*next;
	pid_t		 pid;	/* 0 once reaped */
	pid_t		 pgid;
	int64_t		 deadline;
	int		 killed;
	void		(*done)(void *, int);
	void		*arg;
	char		 domain[256];
	char		 line[OUT_MAX];
	size_t		 len;
};

static struct hook	*hooks;

extern char	**environ;

static void
flush_line(struct hook *h)
{
	if (h->len == 0)
		return;
	h->line[h->len] = '\0';
	log_info("hook %s: %s", h->domain, h->line);
	h->len = 0;
}

static void
close_pipe(struct hook *h)
{
	if (h->ev.fd == -1)
		return;
	flush_line(h);
	loop_del(&h->ev);
	close(h->ev.fd);
	h->ev.fd = -1;
}

static void
pipe_ready(struct ev *ev, uint32_t events)
{
	struct hook	*h = (struct hook *)ev;
	char		 buf[512];
	ssize_t		 n, i;

	(void)events;
	while ((n = read(ev->fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n' || h->len == OUT_MAX - 1)
				flush_line(h);
			if (buf[i] != '\n')
				h->line[h->len++] = buf[i];
		}
	}
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
		close_pipe(h);
}

static char *
envvar(const char *name, const char *value)
{
	char	*s = NULL;

	if (asprintf(&s, "%s=%s", name, value) == -1)
		return NULL;
	return s;
}

/*
 * Run path for a new record of domain. vars is a NULL-terminated list of
 * name, value pairs to add to the environment. Returns 0 once started,
 * -1 (logged) if it could not be. After a 0, done(arg, status) is called
 * exactly once, from hook_reap or hook_stop: status is the exit status,
 * HOOK_KILLED (timeout or a signal) or HOOK_STOPPED (shutdown).
 */
int
hook_run(const char *path, int timeout_s, const char *domain,
    const char *const *vars, void (*done)(void *, int), void *arg)
{
	struct hook	*h = NULL;
	char		**env = NULL, *argv[2];
	size_t		 nenv = 0, nvars = 0, i;
	int		 p[2] = { -1, -1 }, devnull = -1, rc = -1;
	sigset_t	 all;

	while (vars[2 * nvars] != NULL)
		nvars++;
	while (environ[nenv] != NULL)
		nenv++;
	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (env = calloc(nenv + nvars + 1, sizeof(*env))) == NULL)
		goto fail;
	for (i = 0; i < nvars; i++)
		if ((env[i] = envvar(vars[2 * i], vars[2 * i + 1])) == NULL)
			goto fail;
	memcpy(env + nvars, environ, nenv * sizeof(*env));
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1 ||
	    (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		goto fail;
	snprintf(h->domain, sizeof(h->domain), "%s", domain);
	h->done = done;
	h->arg = arg;
	argv[0] = (char *)path;
	argv[1] = NULL;

	switch (h->pid = fork()) {
	case -1:
		goto fail;
	case 0:
		/* Own process group, so a timeout kills what it started. */
		setpgid(0, 0);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(devnull, 0) == -1 || dup2(p[1], 1) == -1 ||
		    dup2(p[1], 2) == -1)
			_exit(127);
		execve(path, argv, env);
		fprintf(stderr, "cannot run %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	setpgid(h->pid, h->pid);	/* no race with the kill below */
	h->pgid = h->pid;
	close(p[1]);
	p[1] = -1;
	h->ev.fd = p[0];
	h->ev.cb = pipe_ready;
	if (loop_add(&h->ev, EPOLLIN) == -1) {
		close(p[0]);
		h->ev.fd = -1;
	}
	h->deadline = now_ms() + (int64_t)timeout_s * 1000;
	h->next = hooks;
	hooks = h;
	h = NULL;
	rc = 0;
	log_info("hook %s: started %s (pid %d)", domain, path,
	    (int)hooks->pid);
fail:
	if (rc == -1) {
		log_warn("hook %s: cannot run %s", domain, path);
		if (p[0] != -1)
			close(p[0]);
		if (p[1] != -1)
			close(p[1]);
	}
	if (devnull != -1)
		close(devnull);
	if (env != NULL)
		for (i = 0; i < nvars; i++)
			free(env[i]);
	free(env);
	free(h);
	return rc;
}

/* Does a hook for domain still run? (Announcements of one domain run in
 * order, one at a time.) */
int
hook_busy(const char *domain)
{
	struct hook	*h;

	for (h = hooks; h != NULL; h = h->next)
		if (h->pid != 0 && strcmp(h->domain, domain) == 0)
			return 1;
	return 0;
}

/* SIGCHLD: collect finished hooks, log how they ended, report it. */
void
hook_reap(void)
{
	struct hook	*h;
	pid_t		 pid;
	int		 status, st;

	/* Only our own children: the ACME child is acme.c's to reap. */
	for (h = hooks; h != NULL; h = h->next) {
		if (h->pid <= 0 ||
		    (pid = waitpid(h->pid, &status, WNOHANG)) != h->pid)
			continue;
		h->pid = 0;
		/* Read what it left in the pipe before reporting. */
		if (h->ev.fd != -1)
			pipe_ready(&h->ev, 0);
		st = HOOK_KILLED;
		if (h->killed)
			log_warnx("hook %s: killed after its timeout",
			    h->domain);
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			log_info("hook %s: exit 0", h->domain);
		else if (WIFEXITED(status))
			log_warnx("hook %s: failed, exit %d", h->domain,
			    WEXITSTATUS(status));
		else
			log_warnx("hook %s: killed by signal %d", h->domain,
			    WTERMSIG(status));
		if (!h->killed && WIFEXITED(status))
			st = WEXITSTATUS(status);
		h->done(h->arg, st);
	}
}

/*
 * Timers: kill hooks past their deadline; free finished ones. Returns ms
 * until the next deadline, or -1.
 */
int
hook_expire(void)
{
	struct hook	**hp, *h;
	int64_t		  now = now_ms(), next = -1;

	for (hp = &hooks; (h = *hp) != NULL;) {
		if (h->pid == 0) {
			/* Exited; the pipe may outlive it via a child. */
			if (h->ev.fd == -1 || now >= h->deadline) {
				if (h->ev.fd != -1)
					kill(-h->pgid, SIGKILL);
				close_pipe(h);
				*hp = h->next;
				free(h);
				continue;
			}
		} else if (now >= h->deadline && !h->killed) {
			kill(-h->pid, SIGKILL);
			h->killed = 1;
		}
		if (!h->killed && (next == -1 || h->deadline < next))
			next = h->deadline;
		hp = &h->next;
	}
	return next == -1 ? -1 : (int)(next - now);
}

/* Shutdown: kill what still runs, reap it, report it, free everything. */
void
hook_stop(void)
{
	struct hook	*h;

	for (h = hooks; h != NULL; h = h->next)
		if (h->pid != 0) {
			kill(-h->pid, SIGKILL);
			h->killed = 1;
			waitpid(h->pid, NULL, 0);
			h->pid = 0;
			h->done(h->arg, HOOK_STOPPED);
		}
	while ((h = hooks) != NULL) {
		close_pipe(h);
		hooks = h->next;
		free(h);
	}
}
