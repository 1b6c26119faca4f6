/*
 * http.c: the libmicrohttpd daemon and the request handler.
 *
 * MHD runs with no listen socket and no thread of its own: bridge.c hands
 * it one end of a socketpair per TLS connection, and our epoll loop waits
 * on MHD's epoll fd. The handler answers the policy or 404, nothing else
 * (RFC 8461 3.3: no redirects; DESIGN.md section 2).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sys/epoll.h>

#include <microhttpd.h>

#include "mtasts.h"

#define NOT_FOUND_BODY	"not found\n"

static struct MHD_Daemon	*mhd;
static struct snapshot		*snap;
static struct ev		 mhd_ev;

const char *
http_version(void)
{
	return MHD_get_version();
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char	buf[512];
	size_t	len;

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* Every AF_UNIX connection makes MHD say this; it is harmless. */
	if (strstr(buf, "TCP_NODELAY") != NULL ||
	    strstr(buf, "TCP_CORK") != NULL || strstr(buf, "TCP_NOPUSH"))
		return;
	len = strlen(buf);
	while (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	log_debug("http: %s", buf);
}

/*
 * Keep the request target as sent: a percent-encoded variant of the
 * policy path is a different path and answers 404.
 */
static size_t
no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

struct hosts {
	const char	*value;
	int		 count;
};

static enum MHD_Result
count_host(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct hosts	*h = cls;

	(void)kind;
	if (strcasecmp(key, "Host") == 0) {
		h->value = value;
		h->count++;
	}
	return MHD_YES;
}

/*
 * A text/plain response owning a copy of body, with "Connection: close"
 * if close is set; NULL if out of memory.
 */
static struct MHD_Response *
response(const char *body, size_t len, int close)
{
	struct MHD_Response	*r;

	r = MHD_create_response_from_buffer(len, (void *)body,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return NULL;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain") != MHD_YES || (close &&
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close") !=
	    MHD_YES)) {
		MHD_destroy_response(r);
		return NULL;
	}
	return r;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req)
{
	static int		 started;
	const union MHD_ConnectionInfo	*ci;
	const struct site	*s;
	struct MHD_Response	*r;
	struct hosts		 h = { NULL, 0 };
	const char		*sni = NULL;
	int			 safe, last = 0;
	enum MHD_Result		 ret;

	(void)cls;
	(void)version;
	(void)upload_data;
	safe = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	/*
	 * GET and HEAD answer on the second call: MHD 0.9.75 closes the
	 * connection when the response is queued on the first. Any other
	 * method answers 404 at once and MHD closes after it, unread body
	 * and all.
	 */
	if (*req == NULL && safe) {
		*req = &started;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0;	/* a body on GET: read and dropped */
		return MHD_YES;
	}
	MHD_get_connection_values(c, MHD_HEADER_KIND, count_host, &h);
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL) {
		sni = bridge_sni_of(ci->connect_fd);
		/* The last request a connection may make closes it. */
		last = bridge_count_request(ci->connect_fd);
	}
	s = h.count == 1 ? snap_route(snap, method, url, h.value, sni) : NULL;
	/*
	 * Made per request: the bridge answers the common request itself
	 * (fast.c), so ready responses per site would cost memory for the
	 * rare rest. A copy, as a reload may free the snapshot mid-send.
	 */
	r = s != NULL ? response(s->policy, s->policy_len, last) :
	    response(NOT_FOUND_BODY, strlen(NOT_FOUND_BODY), last);
	if (r == NULL)
		return MHD_NO;	/* out of memory: MHD closes the connection */
	ret = MHD_queue_response(c, s != NULL ? MHD_HTTP_OK :
	    MHD_HTTP_NOT_FOUND, r);
	MHD_destroy_response(r);
	return ret;
}

static void
mhd_ready(struct ev *ev, uint32_t events)
{
	(void)ev;
	(void)events;
	MHD_run(mhd);
}

/* Start MHD on our loop. Returns 0, or -1 after logging why. */
int
http_start(const struct conf *c)
{
	const union MHD_DaemonInfo	*info;

	mhd = MHD_start_daemon(MHD_USE_NO_LISTEN_SOCKET | MHD_USE_EPOLL |
	    MHD_USE_ERROR_LOG, 0, NULL, NULL, handler, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)c->idle_timeout,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)c->max_conns,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)c->max_header_size,
	    MHD_OPTION_END);
	if (mhd == NULL) {
		log_warnx("cannot start libmicrohttpd (built without epoll?)");
		return -1;
	}
	info = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL) {
		log_warnx("libmicrohttpd has no epoll fd");
		return -1;
	}
	mhd_ev.fd = info->epoll_fd;
	mhd_ev.cb = mhd_ready;
	if (loop_add(&mhd_ev, EPOLLIN) == -1) {
		log_warn("epoll_ctl");
		return -1;
	}
	return 0;
}

void
http_stop(void)
{
	if (mhd == NULL)
		return;
	loop_del(&mhd_ev);
	MHD_stop_daemon(mhd);
	mhd = NULL;
}

/* New requests answer from s from now on; the caller owns s. */
void
http_publish(struct snapshot *s)
{
	snap = s;
}

/*
 * Hand MHD the plaintext end of a connection; peer is the TLS client's
 * address, for MHD's logs and limits. MHD owns fd from here, even on
 * failure. Returns 0 or -1.
 */
int
http_add_connection(int fd, const struct sockaddr *peer, socklen_t len)
{
	if (MHD_add_connection(mhd, fd, peer, len) != MHD_YES)
		return -1;
	return 0;
}

void
http_run(void)
{
	MHD_run(mhd);
}

/* How long MHD may wait before it must run (idle timeouts); -1: forever. */
int
http_timeout_ms(void)
{
	MHD_UNSIGNED_LONG_LONG	t;

	if (MHD_get_timeout(mhd, &t) != MHD_YES)
		return -1;
	return t > 60000 ? 60000 : (int)t;
}
