/*
 * http.c: the libmicrohttpd daemon and the request handler.
 *
 * MHD runs with no listen socket and no thread of its own: bridge.c hands
 * it one end of a socketpair per TLS connection, with the client's
 * address and SNI, and our epoll loop waits on MHD's epoll fd. The
 * handler answers the policy or 404, nothing else (RFC 8461 3.3: no
 * redirects; DESIGN.md section 2), from the snapshot served now
 * (snap_current()); and 400 or 431 to request heads MHD lets through but
 * we refuse. Every status line is MHD's: nothing here writes one. The
 * facts of a connection MHD does not know (its SNI, its requests so far
 * against max_requests) are kept here, by MHD's fd.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sys/epoll.h>

#include <netinet/in.h>
#include <time.h>

#include <microhttpd.h>

#include "mtasts.h"

#define NOT_FOUND_BODY	"not found\n"
#define BAD_BODY	"bad request\n"
#define TOO_LARGE_BODY	"request header fields too large\n"

/*
 * MHD builds a response's header in the connection's memory pool, after
 * the request head and some 64 bytes per field it keeps there; a head
 * that leaves less room than that has its connection closed with no
 * status at all. So the pool is this much larger than max_header_size,
 * room for the response header and about a dozen fields, and the
 * handler answers a head over max_header_size 431. A head within the
 * limit but with many more fields (each ~48 bytes of the pool) gets
 * libmicrohttpd's own 431, or in a narrow band a close: policy fetchers
 * send a handful.
 */
#define POOL_SLACK	1024

/* What we know of one of MHD's connections. */
struct hconn {
	char		*sni;		/* NULL: the client sent none */
	unsigned	 requests;	/* answered so far */
};

static struct MHD_Daemon	*mhd;
static struct ev		 mhd_ev;
static struct hconn		**byfd;	/* MHD's fd -> its facts */
static size_t			 nbyfd;
static unsigned			 max_requests;
static size_t			 max_head;

const char *
http_version(void)
{
	return MHD_get_version();
}

static void	mhd_log(void *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char	buf[512];
	size_t	len;

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	/*
	 * Every AF_UNIX connection makes MHD say these: no TCP options to
	 * set, no cork to pull. Harmless.
	 */
	if (strstr(buf, "TCP_NODELAY") != NULL ||
	    strstr(buf, "TCP_CORK") != NULL || strstr(buf, "TCP_NOPUSH") ||
	    strstr(buf, "Failed to push the data") != NULL)
		return;
	len = strlen(buf);
	while (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	log_debug("http: %s", buf);
}

static struct hconn *
hconn_of(int fd)
{
	return fd >= 0 && (size_t)fd < nbyfd ? byfd[fd] : NULL;
}

static void
hconn_drop(int fd)
{
	struct hconn	*hc;

	if ((hc = hconn_of(fd)) == NULL)
		return;
	free(hc->sni);
	free(hc);
	byfd[fd] = NULL;
}

/* MHD is done with a connection: forget it (before its fd is closed). */
static void
notify(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	const union MHD_ConnectionInfo	*ci;

	(void)cls;
	(void)socket_context;
	if (code != MHD_CONNECTION_NOTIFY_CLOSED)
		return;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL)
		hconn_drop(ci->connect_fd);
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

/* RFC 9110 5.6.2 tchar. */
static int
tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || (ch != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* What the handler needs from a request's header fields. */
struct head {
	const char	*host;		/* the last Host value */
	int		 nhost;
	int		 nlength;	/* Content-Length fields */
	int		 ncoding;	/* Transfer-Encoding fields */
	const char	*why;		/* set: answer 400 and close */
};

static enum MHD_Result
scan_field(void *cls, enum MHD_ValueKind kind, const char *key,
    size_t keylen, const char *value, size_t valuelen)
{
	struct head	*h = cls;
	size_t		 i;

	(void)kind;
	for (i = 0; i < keylen && tchar((unsigned char)key[i]); i++)
		;
	/* MHD 0.9.75 keeps "Content-Length :" as a field "Content-Length ". */
	if (i != keylen || keylen == 0)
		h->why = "a field name that is not a token";
	else if (strcasecmp(key, "Host") == 0) {
		h->host = value;
		h->nhost++;
		/*
		 * RFC 9110 5.5: a NUL is never part of a field value. MHD
		 * 1.0 refuses one itself; 0.9.75 cuts the value at it and
		 * reports strlen's length, so it cannot be seen there.
		 */
		if (strlen(value) != valuelen)
			h->why = "a NUL in Host";
	} else if (strcasecmp(key, "Content-Length") == 0)
		h->nlength++;	/* MHD has checked the first one's value */
	else if (strcasecmp(key, "Transfer-Encoding") == 0) {
		h->ncoding++;
		/* RFC 9112 6.3: without chunked last, no length is known. */
		if (strcasecmp(value, "chunked") != 0)
			h->why = "a transfer coding other than chunked";
	} else if ((strncasecmp(key, "Content-Length", 14) == 0 &&
	    key[14] != '-') || (strncasecmp(key, "Transfer-Encoding", 17) ==
	    0 && key[17] != '-'))
		/*
		 * MHD 0.9.75 appends a folded line (RFC 9112 5.2 obs-fold)
		 * to the field name: "Content-Length: 0" then " 53" comes
		 * out as a field "Content-Length53" with an empty value.
		 */
		h->why = "a folded Content-Length or Transfer-Encoding";
	return MHD_YES;
}

/*
 * Read the fields of c's request into h. h->why says why it must be
 * refused with 400 and a close: RFC 9112 3.2 (Host), 6.1 and 6.3 (a
 * body's length must be known one way only, or the rest of the stream
 * could be read as another request).
 */
static void
scan(struct MHD_Connection *c, const char *version, struct head *h)
{
	memset(h, 0, sizeof(*h));
	MHD_get_connection_values_n(c, MHD_HEADER_KIND, scan_field, h);
	if (h->why != NULL)
		return;
	if (h->nhost > 1)
		h->why = "more than one Host";
	else if (h->nlength > 1)
		h->why = "more than one Content-Length";
	else if (h->ncoding > 1)
		h->why = "more than one Transfer-Encoding";
	else if (h->ncoding > 0 && h->nlength > 0)
		h->why = "both Transfer-Encoding and Content-Length";
	else if (h->ncoding > 0 && strcmp(version, "HTTP/1.0") == 0)
		h->why = "Transfer-Encoding in HTTP/1.0";
	else if (h->nhost == 0 && strncmp(version, "HTTP/1.", 7) == 0 &&
	    strcmp(version, "HTTP/1.0") != 0)
		h->why = "no Host in HTTP/1.1";
}

/*
 * The host a request names, in buf if it comes from the target: an
 * absolute-form target (RFC 9112 3.2.2) names its own, which wins over
 * Host; otherwise it is Host's value (NULL if none). *path is set to the
 * target's path. NULL too when the authority cannot name a site.
 */
static const char *
target_host(const char *url, const char *host, char *buf, size_t cap,
    const char **path)
{
	const char	*a, *end;
	size_t		 n;

	*path = url;
	if (strncasecmp(url, "https://", 8) == 0)
		a = url + 8;
	else if (strncasecmp(url, "http://", 7) == 0)
		a = url + 7;
	else
		return host;
	end = a + strcspn(a, "/");
	*path = end;
	n = (size_t)(end - a);
	/* RFC 9110 4.2.4: userinfo is an error in an http(s) URI. */
	if (n == 0 || n >= cap || memchr(a, '@', n) != NULL)
		return NULL;
	memcpy(buf, a, n);
	buf[n] = '\0';
	return buf;
}

/*
 * Queue status with a text/plain copy of body, and "Connection: close"
 * if close is set. Returns MHD's verdict; MHD_NO if out of memory, which
 * closes the connection.
 */
static enum MHD_Result
answer(struct MHD_Connection *c, unsigned int status, const char *body,
    size_t len, int close)
{
	struct MHD_Response	*r;
	enum MHD_Result		 ret;

	r = MHD_create_response_from_buffer(len, (void *)body,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain") != MHD_YES || (close &&
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close") !=
	    MHD_YES)) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Refuse c's request with status and close; why goes to the debug log. */
static enum MHD_Result
refuse(struct MHD_Connection *c, unsigned int status, const char *why)
{
	log_debug("http: %u for %s", status, why);
	if (status == MHD_HTTP_BAD_REQUEST)
		return answer(c, status, BAD_BODY, strlen(BAD_BODY), 1);
	return answer(c, status, TOO_LARGE_BODY, strlen(TOO_LARGE_BODY), 1);
}

/*
 * A report being POSTed to the receiver (tlsrpt_receive): its body so
 * far. Everything buffered for all of them together is capped too, or
 * many slow senders could hold a megabyte each.
 */
#define INFLIGHT_MAX	(4 * TLSRPT_GZ_MAX)

#define DISCARD_MAX	(4 * TLSRPT_GZ_MAX)

/* The whole body within this: 1 MiB at 35 kB/s (an idle timeout alone
 * would let a sender trickle a byte at a time and hold its buffer). */
#define UPLOAD_MS	30000

struct upload {
	char			*buf;
	size_t			 len, cap;
	size_t			 dropped;	/* read past a refusal */
	unsigned int		 refused;	/* to answer at the end */
	int			 gz;
	int64_t			 deadline;	/* now_ms() */
	struct sockaddr_storage	 addr;		/* for rptrecv_done() */
	char			 peer[INET6_ADDRSTRLEN + 8];
};

static size_t	inflight;	/* bytes in all uploads' buffers */
static int	started;	/* *req of a request that is no upload */

static void
upload_free(struct upload *u)
{
	if (u == NULL)
		return;
	rptrecv_done((struct sockaddr *)&u->addr);
	inflight -= u->cap;
	free(u->buf);
	free(u);
}

/* MHD is done with a request: drop its upload, if it was one. */
static void
completed(void *cls, struct MHD_Connection *c, void **req,
    enum MHD_RequestTerminationCode code)
{
	(void)cls;
	(void)c;
	(void)code;
	if (*req != NULL && *req != cls)
		upload_free(*req);
	*req = NULL;
}

/* One line of text to a report's sender, with status; then close. */
static enum MHD_Result
answer_report(struct MHD_Connection *c, unsigned int status,
    const char *msg, int last)
{
	char	body[600];
	int	n;

	n = snprintf(body, sizeof(body), "%s\n", msg);
	if (n < 0 || (size_t)n >= sizeof(body))
		n = (int)sizeof(body) - 1;
	return answer(c, status, body, (size_t)n, last);
}

/*
 * The head of a POST to the receiver: admitted (an upload in *req), or
 * refused at once, the body left unread: 415 for a type that is not a
 * report's, 413 for a length over the cap, 429 over the rate, 503 when
 * too much is being received already.
 */
static enum MHD_Result
upload_begin(struct MHD_Connection *c, void **req)
{
	const union MHD_ConnectionInfo	*ci;
	const struct sockaddr		*sa;
	const char			*ctype, *clen;
	struct upload			*u;
	char				 peer[INET6_ADDRSTRLEN + 8], shown[80];
	int				 gz, status;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	sa = ci != NULL ? ci->client_addr : NULL;
	if (sa != NULL)
		addr_str(sa, peer, sizeof(peer));
	else
		snprintf(peer, sizeof(peer), "(unknown)");
	ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	clen = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	/* Refusals before admission: debug only, or they flood the log. */
	if ((gz = rptrecv_type(ctype)) == -1) {
		log_debug("tlsrpt: %s: refused a POST of type '%s'", peer,
		    ctype != NULL ? printable(shown, sizeof(shown), ctype,
		    strlen(ctype)) : "(none)");
		return answer_report(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		    "send application/tlsrpt+gzip or application/tlsrpt+json",
		    1);
	}
	if (clen != NULL && strtoull(clen, NULL, 10) > TLSRPT_GZ_MAX) {
		log_debug("tlsrpt: %s: refused a report of %s bytes", peer,
		    printable(shown, sizeof(shown), clen, strlen(clen)));
		return answer_report(c, 413,
		    "a report may have at most 1048576 bytes", 1);
	}
	if (sa == NULL)
		return answer_report(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "busy: try again later", 1);
	if ((status = rptrecv_admit(sa, time(NULL))) != 0) {
		log_debug("tlsrpt: %s: over the rate", peer);
		return answer_report(c, (unsigned)status,
		    "too many reports: try again later", 1);
	}
	if (inflight + 65536 > INFLIGHT_MAX ||
	    (u = calloc(1, sizeof(*u))) == NULL) {
		rptrecv_done(sa);
		return answer_report(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "busy: try again later", 1);
	}
	u->gz = gz;
	u->deadline = now_ms() + UPLOAD_MS;
	memcpy(&u->addr, sa, sa->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	memcpy(u->peer, peer, sizeof(peer));
	*req = u;
	return MHD_YES;
}

/* More of an upload's body: 0, or the status to refuse it with. */
static unsigned int
upload_add(struct upload *u, const char *data, size_t n)
{
	size_t	 cap;
	char	*nb;

	if (n > TLSRPT_GZ_MAX - u->len)
		return 413;
	if (u->len + n > u->cap) {
		cap = u->cap == 0 ? 65536 : u->cap;
		while (cap < u->len + n)
			cap *= 2;
		if (cap > TLSRPT_GZ_MAX)
			cap = TLSRPT_GZ_MAX;
		if (inflight - u->cap + cap > INFLIGHT_MAX ||
		    (nb = realloc(u->buf, cap)) == NULL)
			return MHD_HTTP_SERVICE_UNAVAILABLE;
		inflight = inflight - u->cap + cap;
		u->buf = nb;
		u->cap = cap;
	}
	memcpy(u->buf + u->len, data, n);
	u->len += n;
	return 0;
}

/* The whole body is in: check it, store it, answer. */
static enum MHD_Result
upload_end(struct MHD_Connection *c, struct upload *u, int last)
{
	char		msg[512];
	int		status;

	status = rptrecv_store(snap_current(), u->gz, u->buf != NULL ?
	    u->buf : "", u->len, u->peer, time(NULL), msg, sizeof(msg));
	if (status == 400 || status == 413)
		log_info("tlsrpt: %s: refused a report (%d): %s", u->peer,
		    status, msg);
	return answer_report(c, (unsigned)status, msg, last);
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req)
{
	const union MHD_ConnectionInfo	*ci;
	struct hconn			*hc = NULL;
	const struct site		*s = NULL;
	const char			*host, *path;
	struct head			 h;
	struct upload			*up;
	char				 authority[300];
	unsigned int			 status;
	int				 safe, last;

	(void)cls;
	safe = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	/*
	 * GET and HEAD answer on the second call: MHD 0.9.75 closes the
	 * connection when the response is queued on the first. A refused
	 * head, and any other method, answers at once, and MHD closes
	 * after it, unread body and all.
	 */
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL)
		hc = hconn_of(ci->connect_fd);
	if (*req == NULL) {
		*req = &started;
		scan(c, version, &h);
		ci = MHD_get_connection_info(c,
		    MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
		if (ci != NULL && ci->header_size > max_head)
			return refuse(c,
			    MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
			    "a request head over max_header_size");
		if (h.why != NULL)
			return refuse(c, MHD_HTTP_BAD_REQUEST, h.why);
		if (safe)
			return MHD_YES;
		host = target_host(url, MHD_lookup_connection_value(c,
		    MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST), authority,
		    sizeof(authority), &path);
		/* The receiver's POST, when on; anything else as always. */
		if (hc != NULL && host != NULL && snap_receiver(snap_current(),
		    method, path, host, hc->sni) != NULL) {
			return upload_begin(c, req);
		}
	}
	if (*req != &started) {
		up = *req;
		if (*upload_data_size == 0 && up->refused != 0)
			return answer_report(c, up->refused, up->refused ==
			    413 ? "a report may have at most 1048576 bytes" :
			    "busy: try again later", 1);
		if (*upload_data_size == 0)
			return upload_end(c, up, 1);
		if (now_ms() > up->deadline) {
			log_info("tlsrpt: %s: a report still arriving after "
			    "%d s: closed", up->peer, UPLOAD_MS / 1000);
			return MHD_NO;
		}
		/*
		 * A body found too large only while it arrives (chunked):
		 * MHD answers only once it is all read, so the rest is
		 * read and dropped, up to DISCARD_MAX; past that, a close.
		 */
		if (up->refused != 0) {
			up->dropped += *upload_data_size;
			*upload_data_size = 0;
			return up->dropped > DISCARD_MAX ? MHD_NO : MHD_YES;
		}
		status = upload_add(up, upload_data, *upload_data_size);
		*upload_data_size = 0;
		if (status == 0)
			return MHD_YES;
		log_info("tlsrpt: %s: refused a report (%u): %s", up->peer,
		    status, status == 413 ?
		    "over 1048576 bytes" : "too much being received");
		up->refused = status;
		inflight -= up->cap;
		free(up->buf);
		up->buf = NULL;
		up->cap = up->len = 0;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0;	/* a body on GET: read and dropped */
		return MHD_YES;
	}
	host = target_host(url, MHD_lookup_connection_value(c,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST), authority,
	    sizeof(authority), &path);
	/* Facts come with every connection; without them, serve nothing. */
	if (hc != NULL && host != NULL)
		s = snap_route(snap_current(), method, path, host, hc->sni);
	/* The last request a connection may make closes it. */
	last = hc == NULL || ++hc->requests >= max_requests;
	/* A copy: a reload may free the snapshot mid-send. */
	if (s != NULL)
		return answer(c, MHD_HTTP_OK, s->policy, s->policy_len, last);
	return answer(c, MHD_HTTP_NOT_FOUND, NOT_FOUND_BODY,
	    strlen(NOT_FOUND_BODY), last);
}

static void
mhd_ready(struct ev *ev, uint32_t events)
{
	(void)ev;
	(void)events;
	MHD_run(mhd);
}

/*
 * Start MHD on our loop, with c's limits: connections, idle timeout,
 * request head size, requests per connection. Returns 0, or -1 after
 * logging why.
 */
int
http_start(const struct conf *c)
{
	const union MHD_DaemonInfo	*info;

	max_requests = (unsigned)c->max_requests;
	max_head = (size_t)c->max_header_size;
	/*
	 * MHD 1.0 parses at client discipline level 2, the strictest its
	 * documentation suggests for a server (3 is for testing clients,
	 * and differs only in chunk extensions): no bare LF, obs-fold, NUL,
	 * white space before a colon or inside the target, nor a blank
	 * line before the request line; Host required in HTTP/1.1. curl,
	 * Python, Go, Node and openssl s_client pass. 0.9's
	 * MHD_OPTION_STRICT_FOR_CLIENT stays off: in 0.9.75 it only refuses
	 * a target with a space (closing with no status) and HTTP/1.1
	 * without Host (sending the 400 head twice); scan() refuses the
	 * latter cleanly.
	 */
	mhd = MHD_start_daemon(MHD_USE_NO_LISTEN_SOCKET | MHD_USE_EPOLL |
	    MHD_USE_ERROR_LOG, 0, NULL, NULL, handler, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_NOTIFY_CONNECTION, notify, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, &started,
	    MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)c->idle_timeout,
	    /*
	     * The bridge caps established connections; this is a backstop.
	     * A connection the bridge closed for a newcomer stays in MHD's
	     * count until MHD next runs, which may be after the newcomer's
	     * request arrives: room for that many more.
	     */
	    MHD_OPTION_CONNECTION_LIMIT, 2U * (unsigned int)c->max_conns,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, max_head + POOL_SLACK,
#if MHD_VERSION >= 0x00097701
	    MHD_OPTION_CLIENT_DISCIPLINE_LVL, (int)2,
#endif
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
	size_t	i;

	if (mhd == NULL)
		return;
	loop_del(&mhd_ev);
	MHD_stop_daemon(mhd);
	mhd = NULL;
	for (i = 0; i < nbyfd; i++)
		hconn_drop((int)i);
	free(byfd);
	byfd = NULL;
	nbyfd = 0;
}

/*
 * Hand MHD the plaintext end fd of a connection: peer is the TLS client's
 * address, for MHD's logs and limits; sni the name it asked for (NULL:
 * none; "." matches nothing), copied. MHD owns fd from here, even on
 * failure. Returns 0 or -1.
 */
int
http_add_connection(int fd, const struct sockaddr *peer, socklen_t len,
    const char *sni)
{
	struct hconn	**n, *hc;
	size_t		  cap;

	if (fd < 0)
		return -1;
	if ((size_t)fd >= nbyfd) {
		cap = (size_t)fd + 64;
		if ((n = realloc(byfd, cap * sizeof(*n))) == NULL)
			goto fail;
		memset(n + nbyfd, 0, (cap - nbyfd) * sizeof(*n));
		byfd = n;
		nbyfd = cap;
	}
	/*
	 * A stale entry: MHD 1.0 starts a connection added from outside on
	 * its next run, and one that fails then is never reported closed.
	 */
	hconn_drop(fd);
	if ((hc = calloc(1, sizeof(*hc))) == NULL ||
	    (sni != NULL && (hc->sni = strdup(sni)) == NULL)) {
		free(hc);
		goto fail;
	}
	byfd[fd] = hc;
	if (MHD_add_connection(mhd, fd, peer, len) != MHD_YES) {
		hconn_drop(fd);
		return -1;
	}
	return 0;
fail:
	log_warnx("http: out of memory");
	close(fd);
	return -1;
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
