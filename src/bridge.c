/*
 * bridge.c: the TLS side. Accepts TCP connections, runs the mbedTLS
 * handshake non-blocking on our loop, then serves the plaintext. A plain
 * GET or HEAD of the policy (fast.c recognises it) is answered here from
 * the current snapshot, with the bytes libmicrohttpd would send. The
 * first request that is anything else hands the connection to
 * libmicrohttpd for good: from that byte on we relay plaintext between
 * the TLS session and one end of an AF_UNIX socketpair whose other end
 * MHD owns (with the client's real address). A client's close_notify or
 * FIN becomes a half-close towards MHD; MHD closing its end becomes our
 * close_notify and close.
 *
 * Limits owned here, because MHD sees a connection only after the
 * handshake: the global connection cap (checked at accept), the handshake
 * timeout, and the idle timeout while relaying.
 *
 * A connection costs a few hundred bytes until its first bytes arrive:
 * the TLS context (mbedTLS's record buffers, ~33 KB) is allocated then.
 * The relay buffers exist only while bytes are in flight, and the
 * socketpair and MHD's connection only once a request needed MHD: an idle
 * keep-alive connection that only fetched the policy holds neither.
 *
 * Each connection sits on exactly one list: handshaking (deadline =
 * accept time + handshake timeout, so the list is in deadline order),
 * open (deadline = last progress + idle timeout, moved to the tail on
 * progress, so also in order) or dead (closed, freed at the next tick:
 * an event for it may still be in the current epoll batch).
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

#include "mtasts.h"
#include "compat.h"

#define RELAY_BUF	4096
#define ACCEPT_BATCH	64	/* accepts per wakeup, so a burst can't starve */
#define BACKLOG		511

enum { C_WAIT, C_HANDSHAKE, C_OPEN, C_CLOSING, C_DEAD };

struct conn;

/* The TLS side, allocated when the client's first bytes arrive. */
struct tlsconn {
	mbedtls_ssl_context	 ssl;	/* first: bridge_sni() finds us */
	struct conn		*conn;
};

struct list {
	struct conn	*head, *tail;
};

struct conn {
	struct ev		 tcp;	/* first: the tcp ev is the conn */
	struct ev		 sp;
	struct conn		*prev, *next;
	struct list		*list;
	int64_t			 deadline;
	int			 state;
	int			 tls_eof;	/* client is done sending */
	int			 sp_eof;	/* MHD is done sending */
	int			 sp_watch;	/* sp is in epoll */
	int			 close_after;	/* answered the last request */
	struct tls		*tls;
	struct tlsconn		*t;	/* NULL in C_WAIT */
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	char			 name[64];	/* peer as text, for logs */
	char			 sni[256];	/* "" when the client sent none */
	int			 mhd_fd;	/* MHD's end, -1 until handed */
	unsigned		 requests;
	size_t			 in_off, in_len;	/* client -> MHD */
	size_t			 out_off, out_len;	/* MHD -> client */
	unsigned char		*in;	/* RELAY_BUF each, once open */
	unsigned char		*out;
};

struct listener {
	struct ev	ev;
};

static struct list	 handshaking, open_conns, dead;
static struct listener	*listeners;
static size_t		 nlisteners;
static const struct snapshot *cur_snap;	/* its tls for new connections */
static struct conn	**byfd;		/* MHD's fd -> its connection */
static size_t		 nbyfd;
static int		 nconns, max_conns, max_per_ip, hs_timeout_ms;
static int		 idle_timeout_ms;
static unsigned		 max_requests;

static void	conn_pump(struct conn *);
static int	conn_tls(struct conn *);

static void
list_del(struct conn *c)
{
	struct list	*l = c->list;

	if (l == NULL)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
	c->list = NULL;
}

static void
list_append(struct list *l, struct conn *c, int64_t deadline)
{
	list_del(c);
	c->deadline = deadline;
	c->prev = l->tail;
	c->next = NULL;
	if (l->tail != NULL)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	c->list = l;
}

static void
conn_close(struct conn *c)
{
	if (c->state == C_DEAD)
		return;
	loop_del(&c->tcp);
	close(c->tcp.fd);
	if (c->sp.fd != -1) {
		if (c->sp_watch)
			loop_del(&c->sp);
		close(c->sp.fd);
	}
	if (c->mhd_fd != -1 && (size_t)c->mhd_fd < nbyfd &&
	    byfd[c->mhd_fd] == c)
		byfd[c->mhd_fd] = NULL;
	if (c->t != NULL) {
		mbedtls_ssl_free(&c->t->ssl);
		free(c->t);
		c->t = NULL;
	}
	free(c->in);
	c->in = c->out = NULL;
	tls_unref(c->tls);
	c->tls = NULL;
	c->state = C_DEAD;
	list_append(&dead, c, 0);
	nconns--;
}

static void
conn_fail(struct conn *c, const char *what, int ret)
{
	char	e[128];

	tls_strerror(ret, e, sizeof(e));
	log_info("%s: %s: %s", c->name, what, e);
	conn_close(c);
}

static int
bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct conn	*c = ctx;
	ssize_t		 n;

	n = send(c->tcp.fd, buf, len, MSG_NOSIGNAL);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	if (errno == EPIPE || errno == ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int
bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct conn	*c = ctx;
	ssize_t		 n;

	n = recv(c->tcp.fd, buf, len, 0);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	if (errno == ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_RECV_FAILED;
}

static void
tcp_ready(struct ev *ev, uint32_t events)
{
	struct conn	*c = (struct conn *)ev;

	if (c->state == C_DEAD)
		return;
	if (events & (EPOLLERR | EPOLLHUP)) {
		log_debug("%s: connection reset", c->name);
		conn_close(c);
		return;
	}
	conn_pump(c);
}

static void
sp_ready(struct ev *ev, uint32_t events)
{
	struct conn	*c = (struct conn *)((char *)ev -
	    offsetof(struct conn, sp));

	if (c->state == C_DEAD)
		return;
	/*
	 * MHD closed its end. While our output buffer is full a hang-up
	 * would fire on every wait, so stop watching: the pump reads the
	 * rest once the client has taken what we hold.
	 */
	if ((events & (EPOLLHUP | EPOLLERR)) && c->out_len > 0) {
		loop_del(&c->sp);
		c->sp_watch = 0;
	}
	conn_pump(c);
}

/* Remember that MHD's fd belongs to c, for bridge_sni_of(). */
static int
remember_fd(struct conn *c, int fd)
{
	struct conn	**n;
	size_t		  cap;

	if ((size_t)fd >= nbyfd) {
		cap = (size_t)fd + 64;
		if ((n = realloc(byfd, cap * sizeof(*n))) == NULL)
			return -1;
		memset(n + nbyfd, 0, (cap - nbyfd) * sizeof(*n));
		byfd = n;
		nbyfd = cap;
	}
	byfd[fd] = c;
	c->mhd_fd = fd;
	return 0;
}

/*
 * A request fast.c does not answer: connect the plaintext side to MHD,
 * for the rest of the connection.
 */
static int
conn_hand_to_mhd(struct conn *c)
{
	int	sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) == -1) {
		log_warn("%s: socketpair", c->name);
		return -1;
	}
	if (remember_fd(c, sp[1]) == -1) {
		log_warnx("%s: out of memory", c->name);
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	if (http_add_connection(sp[1], (struct sockaddr *)&c->peer,
	    c->peerlen) == -1) {
		log_warnx("%s: libmicrohttpd refused the connection", c->name);
		close(sp[0]);
		return -1;
	}
	c->sp.fd = sp[0];
	c->sp.cb = sp_ready;
	if (loop_add(&c->sp, EPOLLIN) == -1) {
		log_warn("%s: epoll_ctl", c->name);
		return -1;
	}
	c->sp_watch = 1;
	return 0;
}

/*
 * 1 if c's next request is the last one max_requests allows: its
 * response closes the connection.
 */
static int
last_request(const struct conn *c)
{
	return c->requests + 1 >= max_requests;
}

/*
 * Answer the request at the head of c->in if fast.c knows it, into the
 * empty c->out. Returns 1 if answered, 0 if it is MHD's.
 */
static int
conn_answer(struct conn *c)
{
	struct fast_req	r;
	size_t		used, n;
	int		close;

	used = fast_request((const char *)c->in + c->in_off,
	    c->in_len - c->in_off, &r);
	if (used == 0 || cur_snap == NULL)
		return 0;
	close = r.close || last_request(c);
	n = fast_response(cur_snap, &r, c->sni[0] != '\0' ? c->sni : NULL,
	    close, (char *)c->out, RELAY_BUF);
	if (n == 0)
		return 0;
	c->requests++;
	c->close_after = close;
	c->in_off += used;
	if (c->in_off == c->in_len)
		c->in_len = 0;
	c->out_off = 0;
	c->out_len = n;
	return 1;
}

static int
is_eof(int ret)
{
	return ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
	    ret == MBEDTLS_ERR_SSL_CONN_EOF || ret == MBEDTLS_ERR_NET_CONN_RESET;
}

/* Interest in the TCP socket for an mbedTLS WANT_READ/WANT_WRITE. */
static uint32_t
want(int ret)
{
	if (ret == MBEDTLS_ERR_SSL_WANT_READ)
		return EPOLLIN;
	if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return EPOLLOUT;
	return 0;
}

/*
 * Move bytes both ways until nothing moves, then wait on exactly what
 * blocked. Level-triggered epoll: what we did not finish wakes us again.
 */
static void
conn_pump(struct conn *c)
{
	uint32_t	tcp_ev = 0, sp_ev = 0;
	ssize_t		n;
	int		ret, progress, moved = 0, direct;

	if (c->state == C_WAIT && conn_tls(c) == -1)
		return;
	if (c->state == C_HANDSHAKE) {
		ret = mbedtls_ssl_handshake(&c->t->ssl);
		if (want(ret) != 0) {
			loop_mod(&c->tcp, want(ret));
			return;
		}
		if (ret != 0) {
			conn_fail(c, "TLS handshake failed", ret);
			return;
		}
		c->state = C_OPEN;
		list_append(&open_conns, c, now_ms() + idle_timeout_ms);
	}
	if (c->state == C_OPEN && c->in == NULL) {	/* CLOSING needs none */
		if ((c->in = malloc(2 * RELAY_BUF)) == NULL) {
			log_warnx("%s: out of memory", c->name);
			conn_close(c);
			return;
		}
		c->out = c->in + RELAY_BUF;
	}
	do {
		progress = 0;
		tcp_ev = sp_ev = 0;
		direct = c->sp.fd == -1;	/* MHD not involved (yet) */

		/*
		 * client -> us. Answering ourselves, read the next request
		 * only once the last answer is out (pipelined ones wait).
		 */
		if (c->in_len == 0 && !c->tls_eof && c->state == C_OPEN &&
		    !(direct && (c->out_len > 0 || c->close_after))) {
			ret = mbedtls_ssl_read(&c->t->ssl, c->in, RELAY_BUF);
			if (ret > 0) {
				c->in_off = 0;
				c->in_len = (size_t)ret;
				progress = 1;
			} else if (want(ret) != 0) {
				tcp_ev |= want(ret);
			} else if (is_eof(ret)) {
				c->tls_eof = 1;
				if (!direct)
					shutdown(c->sp.fd, SHUT_WR);
				progress = 1;
			} else {
				conn_fail(c, "TLS read", ret);
				return;
			}
		}
		if (c->in_len > 0 && direct && c->out_len == 0 &&
		    !c->close_after) {
			if (!conn_answer(c)) {
				if (conn_hand_to_mhd(c) == -1) {
					conn_close(c);
					return;
				}
				direct = 0;
			}
			progress = 1;
		}
		/* client -> MHD */
		if (c->in_len > 0 && !direct) {
			n = send(c->sp.fd, c->in + c->in_off,
			    c->in_len - c->in_off, MSG_NOSIGNAL);
			if (n > 0) {
				c->in_off += (size_t)n;
				if (c->in_off == c->in_len)
					c->in_len = 0;
				progress = 1;
			} else if (errno == EAGAIN || errno == EINTR) {
				sp_ev |= EPOLLOUT;
			} else {
				/* MHD is gone; what it did not read is moot */
				c->in_len = 0;
				c->tls_eof = 1;
			}
		}

		/* MHD -> client */
		if (c->out_len == 0 && !c->sp_eof && !direct) {
			n = recv(c->sp.fd, c->out, RELAY_BUF, 0);
			if (n > 0) {
				c->out_off = 0;
				c->out_len = (size_t)n;
				progress = 1;
			} else if (n == -1 && (errno == EAGAIN ||
			    errno == EINTR)) {
				sp_ev |= EPOLLIN;
			} else {
				c->sp_eof = 1;
				progress = 1;
			}
		}
		if (c->out_len > 0) {
			ret = mbedtls_ssl_write(&c->t->ssl, c->out + c->out_off,
			    c->out_len - c->out_off);
			if (ret > 0) {
				c->out_off += (size_t)ret;
				if (c->out_off == c->out_len)
					c->out_len = 0;
				progress = 1;
			} else if (want(ret) != 0) {
				tcp_ev |= want(ret);
			} else {
				conn_fail(c, "TLS write", ret);
				return;
			}
		}

		/*
		 * MHD is done, or we answered the last request or the client
		 * is done, and everything said is sent: close.
		 */
		if (c->out_len == 0 && (c->sp_eof || (direct &&
		    (c->close_after || (c->tls_eof && c->in_len == 0))))) {
			c->state = C_CLOSING;
			ret = mbedtls_ssl_close_notify(&c->t->ssl);
			if (want(ret) != 0) {
				loop_mod(&c->tcp, want(ret));
				if (c->sp_watch) {
					loop_del(&c->sp);
					c->sp_watch = 0;
				}
				return;
			}
			conn_close(c);
			return;
		}
		moved |= progress;
	} while (progress);

	if (c->in_len == 0 && c->out_len == 0) {	/* idle: hold nothing */
		free(c->in);
		c->in = c->out = NULL;
	}
	loop_mod(&c->tcp, tcp_ev);
	if (c->sp_watch)
		loop_mod(&c->sp, sp_ev);
	if (moved)
		list_append(&open_conns, c, now_ms() + idle_timeout_ms);
}

/*
 * The client's first bytes: set up its TLS context, on the certificates
 * current now. Returns -1 when the connection was closed.
 */
static int
conn_tls(struct conn *c)
{
	int	ret;

	if ((c->t = calloc(1, sizeof(*c->t))) == NULL) {
		log_warnx("%s: out of memory", c->name);
		conn_close(c);
		return -1;
	}
	c->t->conn = c;
	c->tls = tls_ref(cur_snap->tls);
	mbedtls_ssl_init(&c->t->ssl);
	if ((ret = mbedtls_ssl_setup(&c->t->ssl, tls_ssl_config(c->tls))) != 0) {
		conn_fail(c, "TLS setup", ret);
		return -1;
	}
	mbedtls_ssl_set_bio(&c->t->ssl, c, bio_send, bio_recv, NULL);
	c->state = C_HANDSHAKE;
	return 0;
}

static void
conn_new(int fd, const struct sockaddr_storage *peer, socklen_t len)
{
	struct conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("out of memory: connection dropped");
		close(fd);
		return;
	}
	nconns++;
	/*
	 * mbedTLS sends each handshake message, and we each relayed chunk,
	 * with its own send(): with Nagle on, the client's delayed ACK adds
	 * 40 ms to every handshake.
	 */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	c->tcp.fd = fd;
	c->tcp.cb = tcp_ready;
	c->sp.fd = -1;
	c->mhd_fd = -1;
	c->peer = *peer;
	c->peerlen = len;
	addr_str((const struct sockaddr *)peer, c->name, sizeof(c->name));
	c->state = C_WAIT;	/* the handshake deadline runs from now */
	list_append(&handshaking, c, now_ms() + hs_timeout_ms);
	if (loop_add(&c->tcp, EPOLLIN) == -1) {
		log_warn("%s: epoll_ctl", c->name);
		conn_close(c);
	}
}

static int
same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return 0;
}

/* Open connections from ss's address (a scan: caps are router-sized). */
static int
count_ip(const struct sockaddr_storage *ss)
{
	struct list	*lists[2] = { &handshaking, &open_conns };
	struct conn	*c;
	int		 i, n = 0;

	for (i = 0; i < 2; i++)
		for (c = lists[i]->head; c != NULL; c = c->next)
			if (c->state != C_DEAD && same_ip(&c->peer, ss))
				n++;
	return n;
}

static void
accept_ready(struct ev *ev, uint32_t events)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	int			i, fd, nip = -1;

	(void)events;
	for (i = 0; i < ACCEPT_BATCH; i++) {
		len = sizeof(ss);
		fd = accept4(ev->fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				log_warn("accept");
			return;
		}
		/* Caps: refuse at once; established ones are untouched. */
		if (nconns >= max_conns || (nip = count_ip(&ss)) >= max_per_ip) {
			char	name[64];

			log_debug("%s: refused: %d connections open, %d from "
			    "its address", addr_str((struct sockaddr *)&ss,
			    name, sizeof(name)), nconns, nip);
			close(fd);
			continue;
		}
		conn_new(fd, &ss, len);
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

/* Bind every configured address; fatal if one cannot be bound. */
int
bridge_listen(const struct conf *c)
{
	size_t	i;

	max_conns = c->max_conns;
	max_requests = (unsigned)c->max_requests;
	max_per_ip = c->max_conns_per_ip;
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

/*
 * Called by the SNI callback during the handshake: the name the client
 * asked for (RFC 6066 3), kept for the Host check. A name longer than any
 * host name is kept as "." so that it matches nothing.
 */
void
bridge_sni(const void *ssl, const char *name, size_t len)
{
	struct conn	*c = ((const struct tlsconn *)ssl)->conn;

	if (len == 0 || len >= sizeof(c->sni) - 1) {
		strcpy(c->sni, ".");
		return;
	}
	memcpy(c->sni, name, len);
	c->sni[len] = '\0';
}

/* The SNI of the connection whose plaintext end MHD has as fd, or NULL. */
const char *
bridge_sni_of(int fd)
{
	struct conn	*c;

	if (fd < 0 || (size_t)fd >= nbyfd || (c = byfd[fd]) == NULL ||
	    c->sni[0] == '\0')
		return NULL;
	return c->sni;
}

/*
 * One more request on MHD's fd: 1 if it is the connection's last, whose
 * response must close it.
 */
int
bridge_count_request(int fd)
{
	struct conn	*c;
	int		 last;

	if (fd < 0 || (size_t)fd >= nbyfd || (c = byfd[fd]) == NULL)
		return 0;
	last = last_request(c);
	c->requests++;
	return last;
}

/*
 * Requests answered here answer from s from now on (the caller owns s);
 * new connections use its certificates, open ones keep theirs.
 */
void
bridge_publish(const struct snapshot *s)
{
	cur_snap = s;
}

/*
 * Timers: close connections past their deadline and free the dead.
 * Returns ms until the next deadline, or -1 when there is none.
 */
int
bridge_expire(void)
{
	struct conn	*c;
	int64_t		 now = now_ms(), next = -1;

	while ((c = handshaking.head) != NULL && c->deadline <= now) {
		log_debug("%s: handshake timeout", c->name);
		conn_close(c);
	}
	while ((c = open_conns.head) != NULL && c->deadline <= now) {
		log_debug("%s: idle timeout", c->name);
		conn_close(c);
	}
	while ((c = dead.head) != NULL) {
		list_del(c);
		free(c);
	}
	if (handshaking.head != NULL)
		next = handshaking.head->deadline;
	if (open_conns.head != NULL &&
	    (next == -1 || open_conns.head->deadline < next))
		next = open_conns.head->deadline;
	return next == -1 ? -1 : (int)(next - now);
}

/* Shutdown: close every connection and listener, free everything. */
void
bridge_close_all(void)
{
	struct conn	*c;
	size_t		 i;

	while ((c = open_conns.head) != NULL) {
		mbedtls_ssl_close_notify(&c->t->ssl);
		conn_close(c);
	}
	while ((c = handshaking.head) != NULL)
		conn_close(c);
	bridge_expire();
	for (i = 0; i < nlisteners; i++) {
		loop_del(&listeners[i].ev);
		close(listeners[i].ev.fd);
	}
	free(listeners);
	listeners = NULL;
	nlisteners = 0;
	free(byfd);
	byfd = NULL;
	nbyfd = 0;
	cur_snap = NULL;
}
