/*
 * conn.c: one client connection as a state machine. It owns the order of
 * things — read the ClientHello, handshake, relay plaintext between the
 * TLS session and libmicrohttpd, send close_notify — and nothing of how
 * they are done: every read, write and TLS call goes through the struct
 * conn_io handed in at conn_init() (bridge.c's sockets and tls.c in the
 * server, a scripted fake in the unit tests).
 *
 *   C_ACCEPTED --first bytes--> C_HELLO --whole ClientHello--> C_HANDSHAKE
 *   C_HANDSHAKE --done, admitted--> C_RELAY --either side done--> C_CLOSING
 *   C_CLOSING --close_notify sent--> C_CLOSED
 * Any failure goes straight to C_CLOSED with c->why saying what failed.
 *
 * Each state's step runs until it blocks and says what it waits for in
 * tcp_want / http_want (IO_* bits); the caller waits for exactly that.
 * libmicrohttpd's side is opened only when the first plaintext bytes
 * arrive; the relay buffers exist only while bytes are in flight.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

#define RELAY_BUF	4096

/* The ClientHello is peeked into this, one connection at a time. */
static unsigned char	hello_buf[HELLO_MAX + 512];

void
conn_init(struct conn *c, const struct conn_io *io, void *ctx)
{
	memset(c, 0, sizeof(*c));
	c->state = C_ACCEPTED;
	c->io = io;
	c->ctx = ctx;
	c->tcp_want = IO_READ;
}

/* Its buffers; the caller closes what the io layer holds. */
void
conn_free(struct conn *c)
{
	free(c->in);
	c->in = c->out = NULL;
}

/* Every step returns 1 when the state changed, 0 when it must wait. */
static int
fail(struct conn *c, const char *why)
{
	c->why = why;
	c->state = C_CLOSED;
	return 1;
}

static unsigned
want(int r)
{
	return r == TLS_WANT_WRITE ? IO_WRITE : IO_READ;
}

/* C_ACCEPTED, C_HELLO: wait until the whole ClientHello is there. */
static int
step_hello(struct conn *c)
{
	struct hello	h;
	ssize_t		n;
	int		r;

	n = c->io->peek(c->ctx, hello_buf, sizeof(hello_buf));
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return fail(c, "read failed before the ClientHello");
		c->tcp_want = c->state == C_ACCEPTED ? IO_READ : IO_MORE;
		return 0;
	}
	if (n == 0)
		return fail(c, "closed before its ClientHello");
	c->state = C_HELLO;
	r = hello_parse(hello_buf, (size_t)n, &h);
	if (r == 0 && (size_t)n < sizeof(hello_buf)) {
		c->tcp_want = IO_MORE;	/* only new bytes wake us */
		return 0;
	}
	if (r != 1)
		return fail(c, "not a TLS ClientHello");
	if (c->io->tls_start(c->ctx, &h) == -1)
		return fail(c, "TLS setup failed");
	c->state = C_HANDSHAKE;
	return 1;
}

static int
step_handshake(struct conn *c)
{
	int	r;

	switch ((r = c->io->handshake(c->ctx))) {
	case TLS_OK:
		switch (c->io->established(c->ctx)) {
		case -1:
			return fail(c, "refused: established connections at "
			    "their cap, none idle");
		case 1:		/* a validation handshake: nothing follows */
			c->state = C_CLOSING;
			return 1;
		}
		c->state = C_RELAY;
		c->moved = 1;
		return 1;
	case TLS_WANT_READ:
	case TLS_WANT_WRITE:
		c->tcp_want = want(r);
		return 0;
	case TLS_EOF:
		return fail(c, "closed during the TLS handshake");
	default:
		return fail(c, "TLS handshake failed");
	}
}

/*
 * The two directions of the relay below return 1 if bytes moved (or a
 * side finished), 0 if blocked (what to wait for is noted), -1 if the
 * connection failed.
 */

/* A TLS read or write's result, classified for the relay. */
static int
tls_moved(struct conn *c, int r, const char *failure)
{
	switch (r) {
	case TLS_OK:
		return 1;
	case TLS_WANT_READ:
	case TLS_WANT_WRITE:
		c->tcp_want |= want(r);
		return 0;
	default:
		fail(c, failure);
		return -1;
	}
}

/* A send or recv on libmicrohttpd's side: 1 moved, 0 blocked, -1 done. */
static int
http_moved(struct conn *c, ssize_t n, unsigned blocked)
{
	if (n > 0)
		return 1;
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR)) {
		c->http_want |= blocked;
		return 0;
	}
	return -1;
}

/* n more of the len bytes at *off are gone; an emptied buffer resets. */
static void
consumed(size_t *off, size_t *len, size_t n)
{
	if ((*off += n) == *len)
		*off = *len = 0;
}

/* client -> us -> libmicrohttpd, opening its side on the first bytes */
static int
upstream(struct conn *c)
{
	size_t	n;
	ssize_t	sent;
	int	r, moved = 0;

	if (c->in_len == 0 && !c->tls_eof) {
		r = c->io->tls_read(c->ctx, c->in, RELAY_BUF, &n);
		if (r == TLS_EOF) {
			c->tls_eof = 1;
			if (c->http_open)
				c->io->http_shutdown(c->ctx);
			moved = 1;
		} else if ((r = tls_moved(c, r, "TLS read failed")) == -1)
			return -1;
		else if (r == 1) {
			c->in_off = 0;
			c->in_len = n;
			moved = 1;
		}
	}
	if (c->in_len == 0)
		return moved;
	if (!c->http_open) {
		if (c->io->http_open(c->ctx) == -1) {
			fail(c, "cannot hand the connection to libmicrohttpd");
			return -1;
		}
		c->http_open = 1;
	}
	sent = c->io->http_send(c->ctx, c->in + c->in_off,
	    c->in_len - c->in_off);
	switch (http_moved(c, sent, IO_WRITE)) {
	case 1:
		consumed(&c->in_off, &c->in_len, (size_t)sent);
		return 1;
	case -1:
		/* libmicrohttpd is gone; what it did not read is moot */
		c->in_off = c->in_len = 0;
		c->tls_eof = 1;
		return 1;
	}
	return moved;
}

/* libmicrohttpd -> us -> client */
static int
downstream(struct conn *c)
{
	ssize_t	got;
	size_t	n;
	int	moved = 0;

	if (c->out_len == 0 && c->http_open && !c->http_eof) {
		got = c->io->http_recv(c->ctx, c->out, RELAY_BUF);
		switch (http_moved(c, got, IO_READ)) {
		case 1:
			c->out_off = 0;
			c->out_len = (size_t)got;
			moved = 1;
			break;
		case -1:
			c->http_eof = 1;	/* it answered the last request */
			moved = 1;
			break;
		}
	}
	if (c->out_len == 0)
		return moved;
	switch (tls_moved(c, c->io->tls_write(c->ctx, c->out + c->out_off,
	    c->out_len - c->out_off, &n), "TLS write failed")) {
	case 1:
		consumed(&c->out_off, &c->out_len, n);
		return 1;
	case -1:
		return -1;
	}
	return moved;
}

/*
 * C_RELAY: move bytes both ways until nothing moves. Done when
 * libmicrohttpd closed its side (it answered the last request) or the
 * client is done and never needed it, and all that was said is sent.
 */
static int
step_relay(struct conn *c)
{
	int	progress, up, down;

	if (c->in == NULL) {
		if ((c->in = malloc(2 * RELAY_BUF)) == NULL)
			return fail(c, "out of memory");
		c->out = c->in + RELAY_BUF;
	}
	do {
		c->tcp_want = c->http_want = 0;
		if ((up = upstream(c)) == -1 || (down = downstream(c)) == -1)
			return 1;
		progress = up | down;
		c->moved |= progress;
		if (c->out_len == 0 && (c->http_eof ||
		    (!c->http_open && c->tls_eof && c->in_len == 0))) {
			c->state = C_CLOSING;
			c->http_want = 0;
			return 1;
		}
	} while (progress);
	if (c->in_len == 0 && c->out_len == 0)	/* idle: hold nothing */
		conn_free(c);
	return 0;
}

static int
step_closing(struct conn *c)
{
	int	r;

	conn_free(c);
	r = c->io->tls_close(c->ctx);
	if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
		c->tcp_want = want(r);
		return 0;
	}
	c->why = NULL;		/* a normal end, whatever close_notify met */
	c->state = C_CLOSED;
	return 1;
}

/*
 * Run c until it blocks or closes; returns its state. tcp_want and
 * http_want say what to wait for; moved whether bytes moved.
 */
int
conn_step(struct conn *c)
{
	/* each state's step, by state; C_CLOSED has none */
	static int (*const step[])(struct conn *) = {
		[C_ACCEPTED] = step_hello,
		[C_HELLO] = step_hello,
		[C_HANDSHAKE] = step_handshake,
		[C_RELAY] = step_relay,
		[C_CLOSING] = step_closing,
	};

	c->moved = 0;
	while (c->state != C_CLOSED && step[c->state](c))
		;
	if (c->state == C_CLOSED) {
		c->tcp_want = c->http_want = 0;
		conn_free(c);
	}
	return c->state;
}

const char *
conn_state_name(int state)
{
	static const char *const names[] = {
		"accepted", "hello", "handshake", "relay", "closing", "closed"
	};

	return state >= 0 && state <= C_CLOSED ? names[state] : "?";
}
