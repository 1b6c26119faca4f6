/*
 * bridge.c: the connections. Accepts TCP connections, admits or sheds
 * them, keeps their timeouts, and gives each one a struct conn (conn.c)
 * whose I/O is this file's: the client's socket, tls.c for the TLS
 * session, and one end of an AF_UNIX socketpair whose other end
 * libmicrohttpd owns (http.c, with the client's real address and SNI).
 *
 * Admission (a policy host's traffic is one fresh handshake per sender,
 * so a flood must never lock a prompt sender out):
 * - a connection that has not finished its handshake costs a few hundred
 *   bytes (nothing is allocated for TLS until the whole ClientHello is
 *   there); their number is capped by max_handshakes (by default sized
 *   from the file-descriptor limit), and when the cap is reached the
 *   newcomer is admitted by closing the oldest of them;
 * - one that sent a whole ClientHello holds its TLS context (~40 KB) until
 *   the handshake is done: at most max_connections of them, so a flood of
 *   ClientHellos that never finish cannot take more memory than the
 *   established connections may; a newcomer closes the oldest;
 * - an established TLS connection costs ~35 KB; their number is capped by
 *   max_connections, and a handshake that completes at the cap closes the
 *   oldest idle keep-alive connection (refused if none is idle);
 * - max_connections_per_ip is checked at accept over both kinds;
 * - out of file descriptors, accepting pauses for a moment and the oldest
 *   unfinished handshake is shed, logged once per episode (an episode
 *   ends after STARVED_MS without a shortage).
 *
 * Each connection sits on exactly one list: pending (no TLS state yet;
 * deadline = accept time + handshake timeout, so the list is in deadline
 * and age order), handshaking (its ClientHello was whole, the TLS
 * context is allocated; the same deadline, in the order they got here),
 * open (deadline = last progress + idle timeout, moved to the tail on
 * progress, so also in order) or dead (closed, freed at the next tick:
 * an event for it may still be in the current epoll batch).
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtasts.h"

#define ACCEPT_BATCH	64	/* accepts per wakeup, so a burst can't starve */
#define BACKLOG		511
#define FD_RESERVE	64	/* fds kept for listeners, MHD, hooks, files */
#define PENDING_AUTO_MAX 16384	/* the automatic max_handshakes, at most */
#define PAUSE_MS	250	/* accepting pauses this long out of fds */
#define STARVED_MS	10000	/* an episode ends this long after the last */
#define IP_BUCKETS	1024

struct list {
	struct bconn	*head, *tail;
	int		 n;
};

/* Connections per client address, for max_connections_per_ip. */
struct ipcount {
	struct ipcount	*next;
	int		 family;
	unsigned char	 addr[16];
	int		 n;
};

struct bconn {
	struct conn		 c;
	struct ev		 tcp;
	struct ev		 sp;
	int			 sp_watch;	/* sp is in epoll */
	struct bconn		*prev, *next;
	struct list		*list;
	int64_t			 deadline;
	struct ipcount		*ip;
	struct tls_conn		*tc;	/* from the whole ClientHello on */
	const char		*host;	/* the SNI as our host name; tc's */
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	char			 name[64];	/* peer as text, for logs */
};

struct listener {
	struct ev	ev;
};

static struct list	 pending, handshaking, open_conns, dead;
static struct listener	*listeners;
static size_t		 nlisteners;
static struct ipcount	*ips[IP_BUCKETS];
static int		 max_open, max_pending, max_per_ip;
static int		 hs_timeout_ms, idle_timeout_ms;
static int64_t		 paused_until;	/* 0: accepting */
static int64_t		 starved_at;	/* last time out of fds; 0: never */

static const struct conn_io	sys_io;

static void	fd_shortage(const char *, int);
static int	is_shortage(int);

static void
list_del(struct bconn *b)
{
	struct list	*l = b->list;

	if (l == NULL)
		return;
	if (b->prev != NULL)
		b->prev->next = b->next;
	else
		l->head = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
	else
		l->tail = b->prev;
	b->prev = b->next = NULL;
	b->list = NULL;
	l->n--;
}

static void
list_append(struct list *l, struct bconn *b, int64_t deadline)
{
	list_del(b);
	b->deadline = deadline;
	b->prev = l->tail;
	b->next = NULL;
	if (l->tail != NULL)
		l->tail->next = b;
	else
		l->head = b;
	l->tail = b;
	b->list = l;
	l->n++;
}

static unsigned
ip_hash(int family, const unsigned char *a, size_t len)
{
	unsigned	h = 2166136261u ^ (unsigned)family;
	size_t		i;

	for (i = 0; i < len; i++)
		h = (h ^ a[i]) * 16777619u;
	return h % IP_BUCKETS;
}

/* The counter of ss's address, made if missing; NULL if out of memory. */
static struct ipcount *
ip_get(const struct sockaddr_storage *ss)
{
	struct ipcount		 *p, **head;
	const unsigned char	 *a;
	size_t			  len;

	if (ss->ss_family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
		len = 16;
	} else {
		a = (const unsigned char *)
		    &((const struct sockaddr_in *)ss)->sin_addr;
		len = 4;
	}
	head = &ips[ip_hash(ss->ss_family, a, len)];
	for (p = *head; p != NULL; p = p->next)
		if (p->family == ss->ss_family && memcmp(p->addr, a, len) == 0)
			return p;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->family = ss->ss_family;
	memcpy(p->addr, a, len);
	p->next = *head;
	*head = p;
	return p;
}

static void
ip_put(struct ipcount *ip)
{
	struct ipcount	**pp;

	if (ip == NULL || --ip->n > 0)
		return;
	for (pp = &ips[ip_hash(ip->family, ip->addr,
	    ip->family == AF_INET6 ? 16 : 4)]; *pp != NULL; pp = &(*pp)->next)
		if (*pp == ip) {
			*pp = ip->next;
			free(ip);
			return;
		}
}

static void
bconn_close(struct bconn *b)
{
	if (b->list == &dead)
		return;
	loop_del(&b->tcp);
	close(b->tcp.fd);
	if (b->sp.fd != -1) {
		if (b->sp_watch)
			loop_del(&b->sp);
		close(b->sp.fd);
		b->sp.fd = -1;
	}
	conn_free(&b->c);
	tls_conn_free(b->tc);
	b->tc = NULL;
	ip_put(b->ip);
	b->ip = NULL;
	b->c.state = C_CLOSED;
	list_append(&dead, b, 0);
}

/*
 * Log why a connection ended: what a client did wrong in TLS at info
 * level with mbedTLS's reason (a misconfigured sender shows here);
 * timeouts, early closes and admission at debug level.
 */
static void
log_end(struct bconn *b)
{
	char	e[128];

	if (b->c.why == NULL)
		return;
	if (b->tc != NULL && strncmp(b->c.why, "TLS ", 4) == 0) {
		tls_conn_error(b->tc, e, sizeof(e));
		log_info("%s: %s: %s", b->name, b->c.why, e);
	} else if (strncmp(b->c.why, "not a TLS", 9) == 0)
		log_info("%s: TLS handshake failed: %s", b->name, b->c.why);
	else
		log_debug("%s: %s", b->name, b->c.why);
}

static uint32_t
events_of(unsigned want)
{
	uint32_t	ev = 0;

	if (want & (IO_READ | IO_MORE))
		ev |= EPOLLIN;
	if (want & IO_WRITE)
		ev |= EPOLLOUT;
	if (want & IO_MORE)
		ev |= EPOLLET;
	return ev;
}

/* Step b's state machine and wait for what it waits for. */
static void
bconn_run(struct bconn *b)
{
	if (conn_step(&b->c) == C_CLOSED) {
		log_end(b);
		bconn_close(b);
		return;
	}
	loop_mod(&b->tcp, events_of(b->c.tcp_want));
	if (b->sp_watch)
		loop_mod(&b->sp, events_of(b->c.http_want));
	if (b->c.moved && b->list == &open_conns)
		list_append(&open_conns, b, now_ms() + idle_timeout_ms);
}

static void
tcp_ready(struct ev *ev, uint32_t events)
{
	struct bconn	*b = (struct bconn *)((char *)ev -
	    offsetof(struct bconn, tcp));

	if (b->list == &dead)
		return;
	if (events & (EPOLLERR | EPOLLHUP)) {
		log_debug("%s: connection reset", b->name);
		bconn_close(b);
		return;
	}
	bconn_run(b);
}

static void
sp_ready(struct ev *ev, uint32_t events)
{
	struct bconn	*b = (struct bconn *)((char *)ev -
	    offsetof(struct bconn, sp));

	if (b->list == &dead)
		return;
	/*
	 * libmicrohttpd closed its end: a hang-up would fire on every wait,
	 * so stop watching. What it sent before is read by the relay
	 * whenever there is room, watched or not.
	 */
	if (events & (EPOLLHUP | EPOLLERR)) {
		loop_del(&b->sp);
		b->sp_watch = 0;
	}
	bconn_run(b);
}

/* The I/O of a connection in the server: sockets, tls.c, http.c. */

static ssize_t
io_peek(void *ctx, void *buf, size_t len)
{
	struct bconn	*b = ctx;

	return recv(b->tcp.fd, buf, len, MSG_PEEK);
}

/* The whole ClientHello is there: TLS with the certificate it asks for. */
static int
io_tls_start(void *ctx, const struct hello *h)
{
	struct bconn		*b = ctx;
	const struct snapshot	*s = snap_current();
	char			 err[128];

	if (s == NULL)
		return -1;
	if (handshaking.n >= max_open && handshaking.head != NULL) {
		log_debug("%s: closed for %s: %d handshakes hold TLS state",
		    handshaking.head->name, b->name, handshaking.n);
		bconn_close(handshaking.head);
	}
	list_append(&handshaking, b, b->deadline);
	b->tc = tls_conn_new(s->tls, b->tcp.fd, h->sni_bad ? "." : h->sni,
	    h->alpn, &b->host, err, sizeof(err));
	if (b->tc == NULL) {
		/* a client's doing (no certificate for its name yet, an
		 * acme-tls/1 without challenge): not worth a warning each */
		log_debug("%s: TLS setup: %s", b->name, err);
		return -1;
	}
	return 0;
}

static int
io_handshake(void *ctx)
{
	return tls_conn_handshake(((struct bconn *)ctx)->tc);
}

static int
io_tls_read(void *ctx, void *buf, size_t len, size_t *n)
{
	return tls_conn_read(((struct bconn *)ctx)->tc, buf, len, n);
}

static int
io_tls_write(void *ctx, const void *buf, size_t len, size_t *n)
{
	return tls_conn_write(((struct bconn *)ctx)->tc, buf, len, n);
}

static int
io_tls_close(void *ctx)
{
	return tls_conn_close_notify(((struct bconn *)ctx)->tc);
}

/*
 * At the cap of established connections, make room by closing the
 * oldest idle one (the open list is in order of last progress).
 */
static int
io_established(void *ctx)
{
	struct bconn	*b = ctx, *o;

	if (tls_conn_is_challenge(b->tc)) {
		log_info("%s: acme-tls/1 validation of %s answered", b->name,
		    b->host != NULL ? b->host : "?");
		return 1;
	}
	if (open_conns.n >= max_open) {
		for (o = open_conns.head; o != NULL; o = o->next)
			if (o->c.state == C_RELAY && o->c.in_len == 0 &&
			    o->c.out_len == 0)
				break;
		if (o == NULL)
			return -1;
		log_debug("%s: closed for %s: established connections at "
		    "their cap", o->name, b->name);
		tls_conn_close_notify(o->tc);
		bconn_close(o);
	}
	list_append(&open_conns, b, now_ms() + idle_timeout_ms);
	return 0;
}

/* The first plaintext bytes: a socketpair, its other end to MHD. */
static int
io_http_open(void *ctx)
{
	struct bconn	*b = ctx;
	int		 sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) == -1) {
		/* Not shed here: b may be the oldest, and its step runs. */
		if (is_shortage(errno)) {
			log_debug("%s: socketpair: %s", b->name,
			    strerror(errno));
			fd_shortage("socketpair", errno);
		} else
			log_warn("%s: socketpair", b->name);
		return -1;
	}
	if (http_add_connection(sp[1], (struct sockaddr *)&b->peer,
	    b->peerlen, b->host) == -1) {
		log_warnx("%s: libmicrohttpd refused the connection", b->name);
		close(sp[0]);
		return -1;
	}
	b->sp.fd = sp[0];
	b->sp.cb = sp_ready;
	if (loop_add(&b->sp, 0) == -1) {
		log_warn("%s: epoll_ctl", b->name);
		return -1;
	}
	b->sp_watch = 1;
	return 0;
}

static ssize_t
io_http_send(void *ctx, const void *buf, size_t len)
{
	return send(((struct bconn *)ctx)->sp.fd, buf, len, MSG_NOSIGNAL);
}

static ssize_t
io_http_recv(void *ctx, void *buf, size_t len)
{
	return recv(((struct bconn *)ctx)->sp.fd, buf, len, 0);
}

static void
io_http_shutdown(void *ctx)
{
	shutdown(((struct bconn *)ctx)->sp.fd, SHUT_WR);
}

static const struct conn_io sys_io = {
	io_peek, io_tls_start, io_handshake, io_tls_read, io_tls_write,
	io_tls_close, io_established, io_http_open, io_http_send,
	io_http_recv, io_http_shutdown
};

static void
bconn_new(int fd, const struct sockaddr_storage *peer, socklen_t len,
    struct ipcount *ip)
{
	struct bconn	*b;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		log_warnx("out of memory: connection dropped");
		close(fd);
		ip_put(ip);
		return;
	}
	/*
	 * mbedTLS sends each handshake message, and we each relayed chunk,
	 * with its own send(): with Nagle on, the client's delayed ACK adds
	 * 40 ms to every handshake.
	 */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	conn_init(&b->c, &sys_io, b);
	b->tcp.fd = fd;
	b->tcp.cb = tcp_ready;
	b->sp.fd = -1;
	b->ip = ip;
	b->peer = *peer;
	b->peerlen = len;
	addr_str((const struct sockaddr *)peer, b->name, sizeof(b->name));
	list_append(&pending, b, now_ms() + hs_timeout_ms);
	if (loop_add(&b->tcp, EPOLLIN) == -1) {
		log_warn("%s: epoll_ctl", b->name);
		bconn_close(b);
	}
}

/* Close the oldest unfinished handshake, one without TLS state first. */
static void
shed_oldest(const char *why)
{
	struct bconn	*b;

	if ((b = pending.head) == NULL && (b = handshaking.head) == NULL)
		return;
	log_debug("%s: closed for %s: %d unfinished handshakes", b->name, why,
	    pending.n + handshaking.n);
	bconn_close(b);
}

static void
listeners_want(uint32_t events)
{
	size_t	i;

	for (i = 0; i < nlisteners; i++)
		loop_mod(&listeners[i].ev, events);
}

/*
 * Out of file descriptors (or socket buffers): the listener would stay
 * readable and wake us for nothing. Pause accepting for a moment and say
 * so once per episode, whoever met the shortage: accept() or a
 * connection's socketpair to libmicrohttpd.
 */
static void
fd_shortage(const char *what, int err)
{
	if (starved_at == 0)
		log_warnx("%s: %s: pausing new connections for %d ms at "
		    "a time, closing the oldest unfinished handshakes",
		    what, strerror(err), PAUSE_MS);
	starved_at = now_ms();
	paused_until = starved_at + PAUSE_MS;
	listeners_want(0);
}

static int
is_shortage(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM;
}

/* accept() met the shortage: the oldest unfinished handshake makes room. */
static void
out_of_fds(int err)
{
	fd_shortage("accept", err);
	shed_oldest("file descriptors");
}

static void
accept_ready(struct ev *ev, uint32_t events)
{
	struct sockaddr_storage	ss;
	struct ipcount		*ip;
	socklen_t		len;
	char			name[64];
	int			i, fd;

	(void)events;
	for (i = 0; i < ACCEPT_BATCH; i++) {
		len = sizeof(ss);
		fd = accept4(ev->fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (is_shortage(errno))
				out_of_fds(errno);
			if (errno == ECONNABORTED || errno == EINTR)
				continue;
			return;
		}
		if ((ip = ip_get(&ss)) == NULL || ip->n >= max_per_ip) {
			log_debug("%s: refused: %d connections from its "
			    "address", addr_str((struct sockaddr *)&ss, name,
			    sizeof(name)), ip != NULL ? ip->n : -1);
			close(fd);
			continue;
		}
		ip->n++;
		/* At the cap, the oldest unfinished handshake makes room. */
		if (pending.n + handshaking.n >= max_pending)
			shed_oldest("a newcomer");
		bconn_new(fd, &ss, len, ip);
	}
}

static int
listen_one(const char *file, const struct conf_listen *l,
    int family_fallback)
{
	struct sockaddr_storage	 ss = l->ss;
	socklen_t		 sslen = l->sslen;
	struct listener		*nl;
	char			 name[64];
	int			 fd, one = 1, v6only = !l->dual;

	if (family_fallback) {
		struct sockaddr_in *s4 = (void *)&ss;
		uint16_t port = ((struct sockaddr_in6 *)&l->ss)->sin6_port;

		memset(&ss, 0, sizeof(ss));
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		s4->sin_port = port;
		sslen = sizeof(*s4);
	}
	addr_str((struct sockaddr *)&ss, name, sizeof(name));
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		if (errno == EAFNOSUPPORT && l->dual && !family_fallback)
			return listen_one(file, l, 1);
		fatal("%s:%d: listen %s: socket", file, l->line, l->spec);
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
		    sizeof(v6only));
	if (bind(fd, (struct sockaddr *)&ss, sslen) == -1 ||
	    listen(fd, BACKLOG) == -1) {
		fatal("%s:%d: listen %s: cannot listen on %s", file,
		    l->line, l->spec, name);
	}
	nl = realloc(listeners, (nlisteners + 1) * sizeof(*nl));
	if (nl == NULL) {
		log_warnx("%s:%d: listen %s: out of memory", file, l->line,
		    l->spec);
		close(fd);
		return -1;
	}
	listeners = nl;
	/* Entries move on realloc: register them once all are bound. */
	listeners[nlisteners].ev.fd = fd;
	listeners[nlisteners].ev.cb = accept_ready;
	nlisteners++;
	return 0;
}

/*
 * The soft fd limit raised to the hard one; the cap on unfinished
 * handshakes: max_handshakes, or what the fds left by the established
 * connections (three each: TCP and the socketpair) allow.
 */
static int
pending_cap(const struct conf *c)
{
	struct rlimit	rl;
	long long	n;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (c->max_handshakes > 0)
		return c->max_handshakes;
	n = (long long)rl.rlim_cur - FD_RESERVE - 3LL * c->max_conns;
	if (rl.rlim_cur == RLIM_INFINITY || n > PENDING_AUTO_MAX)
		n = PENDING_AUTO_MAX;
	return n < 16 ? 16 : (int)n;
}

/* Bind every configured address; fatal if one cannot be bound. */
int
bridge_listen(const struct conf *c)
{
	size_t	i;

	max_open = c->max_conns;
	max_per_ip = c->max_conns_per_ip;
	max_pending = pending_cap(c);
	hs_timeout_ms = c->handshake_timeout * 1000;
	idle_timeout_ms = c->idle_timeout * 1000;
	for (i = 0; i < c->nlisten; i++)
		if (listen_one(c->file, &c->listen[i], 0) == -1)
			return -1;
	for (i = 0; i < nlisteners; i++)
		if (loop_add(&listeners[i].ev, EPOLLIN) == -1) {
			log_warn("epoll_ctl");
			return -1;
		}
	log_debug("caps: %d established, %d unfinished handshakes, %d per "
	    "address", max_open, max_pending, max_per_ip);
	return 0;
}

/* Log the bound addresses (with the real port when 0 was asked for). */
void
bridge_print_listeners(void)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	char			name[64];
	size_t			i;

	for (i = 0; i < nlisteners; i++) {
		len = sizeof(ss);
		if (getsockname(listeners[i].ev.fd, (struct sockaddr *)&ss,
		    &len) == 0)
			log_info("listening on %s",
			    addr_str((struct sockaddr *)&ss, name,
			    sizeof(name)));
	}
}

static int64_t
earlier(int64_t a, int64_t b)
{
	return a == -1 || (b != -1 && b < a) ? b : a;
}

/*
 * Timers: close connections past their deadline, free the dead, resume
 * accepting after a pause. Returns ms until the next deadline, or -1.
 */
int
bridge_expire(void)
{
	struct bconn	*b;
	int64_t		 now = now_ms(), next = -1;

	while ((b = pending.head) != NULL && b->deadline <= now) {
		log_debug("%s: handshake timeout (%s)", b->name,
		    conn_state_name(b->c.state));
		bconn_close(b);
	}
	/* in arrival order: one that got here late may wait a little */
	while ((b = handshaking.head) != NULL && b->deadline <= now) {
		log_debug("%s: handshake timeout (handshake)", b->name);
		bconn_close(b);
	}
	while ((b = open_conns.head) != NULL && b->deadline <= now) {
		log_debug("%s: idle timeout", b->name);
		bconn_close(b);
	}
	while ((b = dead.head) != NULL) {
		list_del(b);
		free(b);
	}
	if (paused_until != 0 && paused_until <= now) {
		paused_until = 0;
		listeners_want(EPOLLIN);
	}
	/* The episode is over once accepting worked for a while. */
	if (starved_at != 0 && starved_at + STARVED_MS <= now) {
		log_info("file descriptors: no shortage for %d s",
		    STARVED_MS / 1000);
		starved_at = 0;
	}
	if (pending.head != NULL)
		next = pending.head->deadline;
	if (handshaking.head != NULL)
		next = earlier(next, handshaking.head->deadline);
	if (open_conns.head != NULL)
		next = earlier(next, open_conns.head->deadline);
	if (paused_until != 0)
		next = earlier(next, paused_until);
	if (starved_at != 0)
		next = earlier(next, starved_at + STARVED_MS);
	return next == -1 ? -1 : (int)(next - now);
}

/* Shutdown: close every connection and listener, free everything. */
void
bridge_close_all(void)
{
	struct bconn	*b;
	size_t		 i;

	while ((b = open_conns.head) != NULL) {
		tls_conn_close_notify(b->tc);
		bconn_close(b);
	}
	while ((b = pending.head) != NULL)
		bconn_close(b);
	while ((b = handshaking.head) != NULL)
		bconn_close(b);
	bridge_expire();
	for (i = 0; i < nlisteners; i++) {
		loop_del(&listeners[i].ev);
		close(listeners[i].ev.fd);
	}
	free(listeners);
	listeners = NULL;
	nlisteners = 0;
}
