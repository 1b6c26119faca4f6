/*
 * loop.c: the one epoll loop. Every fd the process waits on is a struct
 * ev whose callback runs on readiness; after each wakeup the tick
 * function runs timers and returns how long the next wait may be.
 */
#include <sys/epoll.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "mtasts.h"

#define MAX_EVENTS	64

static int	epfd = -1;
static int	stopping;

int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
loop_init(void)
{
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	return 0;
}

static int
ctl(int op, struct ev *ev, uint32_t events)
{
	struct epoll_event	e;

	e.events = events;
	e.data.ptr = ev;
	if (epoll_ctl(epfd, op, ev->fd, &e) == -1)
		return -1;
	ev->events = events;
	return 0;
}

int
loop_add(struct ev *ev, uint32_t events)
{
	return ctl(EPOLL_CTL_ADD, ev, events);
}

/* Change the interest set; a no-op when it is unchanged. */
int
loop_mod(struct ev *ev, uint32_t events)
{
	if (ev->events == events)
		return 0;
	return ctl(EPOLL_CTL_MOD, ev, events);
}

void
loop_del(struct ev *ev)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, ev->fd, NULL);
}

void
loop_stop(void)
{
	stopping = 1;
}

/*
 * Run until loop_stop(). tick() runs before every wait and returns the
 * wait's limit in ms (-1: none). Returns 0, or -1 if epoll fails.
 */
int
loop_run(int (*tick)(void))
{
	struct epoll_event	ev[MAX_EVENTS];
	struct ev		*e;
	int			n, i;

	while (!stopping) {
		n = epoll_wait(epfd, ev, MAX_EVENTS, tick());
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (i = 0; i < n && !stopping; i++) {
			e = ev[i].data.ptr;
			e->cb(e, ev[i].events);
		}
	}
	return 0;
}

void
loop_free(void)
{
	if (epfd != -1)
		close(epfd);
	epfd = -1;
}

/* 1 when fd is ready for ev, 0 when deadline (now_ms) passed first, -1
 * on a poll error. */
int
fd_wait(int fd, short ev, int64_t deadline)
{
	struct pollfd	pfd;
	int64_t		left;
	int		n;

	for (;;) {
		if ((left = deadline - now_ms()) <= 0)
			return 0;
		pfd.fd = fd;
		pfd.events = ev;
		pfd.revents = 0;
		n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 1;	/* POLLERR, POLLHUP: the call says */
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}
