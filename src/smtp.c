/*
 * smtp.c: a STARTTLS probe of one MX host at one address, as a sender
 * that honours MTA-STS makes it (RFC 8461 4.2, RFC 3207): the greeting,
 * EHLO, STARTTLS, a TLS handshake verified for the MX host's name
 * against the CA bundle (fetch.c's), EHLO again inside TLS, QUIT. No
 * mail is sent.
 *
 * smtp_reply, the reader of one reply (RFC 5321 4.2), is pure and
 * fuzzed. The probe blocks, each wait at most timeout_ms: for
 * --check-live and the watcher child, never the serving loop. Reply text
 * quoted in a detail is made printable first: it goes to the log.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mtasts.h"

/* RFC 5321 4.5.3.1.5 allows 512 bytes; some servers send more. */
#define SMTP_LINE_MAX	4096
/* Bytes of replies held at once: an EHLO reply is a few hundred. */
#define SMTP_BUF	65536
/* Reply text quoted in a detail or an error: at most this many bytes. */
#define QUOTE_MAX	100

/* ---- the reply reader ---- */

/*
 * l[0..n): a reply line without its line end (whole), or the start of one
 * whose end has not come yet. Reply-code (2-5, 0-5, 0-9) then "-" (more
 * lines follow), SP or the line end (RFC 5321 4.2). 0 with *more set
 * once known, -1 if it is no reply line (or cannot become one).
 */
static int
reply_line(const char *l, size_t n, int whole, int *more)
{
	static const char	lo[] = "200", hi[] = "559";
	size_t			i;

	for (i = 0; i < 3 && i < n; i++)
		if (l[i] < lo[i] || l[i] > hi[i])
			return -1;
	*more = 0;
	if (n < 3)
		return whole ? -1 : 0;
	if (n == 3 || l[3] == ' ')
		return 0;
	if (l[3] == '-') {
		*more = 1;
		return 0;
	}
	/* the CR of a CRLF whose LF is still to come */
	return !whole && n == 4 && l[3] == '\r' ? 0 : -1;
}

/* An EHLO keyword line's text is STARTTLS (RFC 3207 4). */
static int
is_starttls(const char *l, size_t n)
{
	if (n < 4)
		return 0;
	l += 4;
	n -= 4;
	while (n > 0 && (l[n - 1] == ' ' || l[n - 1] == '\t'))
		n--;
	return n == 8 && strncasecmp(l, "STARTTLS", 8) == 0;
}

int
smtp_reply(const char *buf, size_t len, int *code, size_t *used,
    int *starttls, char *err, size_t errlen)
{
	const char	*l, *nl;
	size_t		 off, rest, n, cmp;
	int		 line, more, tls = 0;
	char		 q[QUOTE_MAX + 4];

	for (off = 0, line = 0; ; line++) {
		l = buf + off;
		rest = len - off;
		nl = memchr(l, '\n', rest);
		n = nl != NULL ? (size_t)(nl - l) : rest;
		if (nl != NULL && n > 0 && l[n - 1] == '\r')
			n--;
		/* a CR may still be on its way before the LF */
		if (n > SMTP_LINE_MAX + (nl == NULL)) {
			snprintf(err, errlen, "reply line over %d bytes",
			    SMTP_LINE_MAX);
			return -1;
		}
		if (reply_line(l, n, nl != NULL, &more) == -1) {
			snprintf(err, errlen, "not an SMTP reply: \"%s\"",
			    printable(q, sizeof(q), l, n));
			return -1;
		}
		/* every line of a reply has its code (RFC 5321 4.2.1) */
		cmp = n < 3 ? n : 3;
		if (line > 0 && memcmp(l, buf, cmp) != 0) {
			snprintf(err, errlen, "mixed reply codes: %.3s, then "
			    "\"%s\"", buf, printable(q, sizeof(q), l, n));
			return -1;
		}
		if (nl == NULL)
			return 0;
		/* the first line is the server's name, keywords follow
		 * (RFC 5321 4.1.1.1) */
		if (line > 0 && is_starttls(l, n))
			tls = 1;
		off += (size_t)(nl - l) + 1;
		if (!more)
			break;
	}
	*code = (buf[0] - '0') * 100 + (buf[1] - '0') * 10 + (buf[2] - '0');
	*used = off;
	*starttls = tls;
	return 1;
}

/* ---- the probe ---- */

struct smtp {
	int			 fd;	/* fetch_dial's: non-blocking */
	struct fetch_tls	*tls;	/* once STARTTLS is done */
	int			 timeout_ms;
	size_t			 len;	/* bytes in buf */
	char			 buf[SMTP_BUF];
};

/* recv(2) or send(2) failed: wait until fd is ready for ev (0), or -1
 * with why. */
static int
blocked(const struct smtp *s, short ev, int64_t deadline, char *why,
    size_t wlen)
{
	int	w;

	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		snprintf(why, wlen, "%s", strerror(errno));
		return -1;
	}
	if ((w = fd_wait(s->fd, ev, deadline)) == 1)
		return 0;
	if (w == 0)
		snprintf(why, wlen, "timed out after %d ms", s->timeout_ms);
	else
		snprintf(why, wlen, "poll: %s", strerror(errno));
	return -1;
}

/* fetch_tls_read or _write failed, errno says how. */
static void
tls_failed(const struct smtp *s, char *why, size_t wlen)
{
	if (errno == ETIMEDOUT)
		snprintf(why, wlen, "timed out after %d ms", s->timeout_ms);
	else if (errno == EPROTO)
		snprintf(why, wlen, "TLS error");
	else
		snprintf(why, wlen, "%s", strerror(errno));
}

/* More bytes into s->buf before deadline: 0, or -1 with why. */
static int
fill(struct smtp *s, int64_t deadline, char *why, size_t wlen)
{
	ssize_t	n;
	int64_t	left;

	for (;;) {
		if (s->tls != NULL) {
			if ((left = deadline - now_ms()) <= 0) {
				errno = ETIMEDOUT;
				n = -1;
			} else
				n = fetch_tls_read(s->tls, s->buf + s->len,
				    sizeof(s->buf) - s->len, (int)left);
			if (n == -1) {
				tls_failed(s, why, wlen);
				return -1;
			}
		} else if ((n = recv(s->fd, s->buf + s->len,
		    sizeof(s->buf) - s->len, 0)) == -1) {
			if (blocked(s, POLLIN, deadline, why, wlen) == -1)
				return -1;
			continue;
		}
		if (n == 0) {
			snprintf(why, wlen, "connection closed");
			return -1;
		}
		s->len += (size_t)n;
		return 0;
	}
}

/* The next reply, whole within timeout_ms: its code, its first line's
 * text (printable) in text and *starttls; -1 with why. */
static int
reply(struct smtp *s, int *starttls, char *text, size_t tlen, char *why,
    size_t wlen)
{
	int64_t		 deadline = now_ms() + s->timeout_ms;
	const char	*nl;
	size_t		 used, n;
	int		 code, r;

	while ((r = smtp_reply(s->buf, s->len, &code, &used, starttls, why,
	    wlen)) != 1) {
		if (r == -1)
			return -1;
		if (s->len == sizeof(s->buf)) {
			snprintf(why, wlen, "a reply over %d bytes", SMTP_BUF);
			return -1;
		}
		if (fill(s, deadline, why, wlen) == -1)
			return -1;
	}
	nl = memchr(s->buf, '\n', used);
	n = (size_t)(nl - s->buf);
	if (n > 0 && s->buf[n - 1] == '\r')
		n--;
	printable(text, tlen, s->buf + (n > 4 ? 4 : n), n > 4 ? n - 4 : 0);
	s->len -= used;
	memmove(s->buf, s->buf + used, s->len);
	return code;
}

/* A command line, sent within timeout_ms: 0, or -1 with why. */
static int
command(struct smtp *s, const char *line, char *why, size_t wlen)
{
	int64_t	deadline = now_ms() + s->timeout_ms;
	size_t	off, len = strlen(line);
	ssize_t	n;

	if (s->tls != NULL) {
		if (fetch_tls_write(s->tls, line, len, s->timeout_ms) == 0)
			return 0;
		tls_failed(s, why, wlen);
		return -1;
	}
	for (off = 0; off < len; off += (size_t)n)
		if ((n = send(s->fd, line + off, len - off,
		    MSG_NOSIGNAL)) == -1) {
			if (blocked(s, POLLOUT, deadline, why, wlen) == -1)
				return -1;
			n = 0;
		}
	return 0;
}

/* Send cmd (NULL: none, for the greeting) and read the reply: its code,
 * the text of its first line in text; -1 with why. */
static int
ask(struct smtp *s, const char *cmd, int *starttls, char *text,
    size_t tlen, char *why, size_t wlen)
{
	if (cmd != NULL && command(s, cmd, why, wlen) == -1)
		return -1;
	return reply(s, starttls, text, tlen, why, wlen);
}

/* The end of a session that went wrong on the server's side of the
 * dialogue: QUIT, its answer waited for but not needed (RFC 5321 4.1.1.10). */
static void
quit(struct smtp *s)
{
	char	text[QUOTE_MAX + 4], why[160];
	int	tls;

	(void)ask(s, "QUIT\r\n", &tls, text, sizeof(text), why, sizeof(why));
}

/* "<what>: <code> <text>" for an unwanted reply. */
static void
said(char *detail, size_t dlen, const char *what, int code,
    const char *text)
{
	snprintf(detail, dlen, "%s: %d%s%s", what, code, text[0] ? " " : "",
	    text);
}

/* An EHLO argument fit for a command line: a domain or address literal. */
static int
ehlo_ok(const char *name)
{
	size_t	i;

	for (i = 0; name[i] != '\0'; i++)
		if ((unsigned char)name[i] <= ' ' ||
		    (unsigned char)name[i] >= 0x7f)
			return 0;
	return i > 0 && i <= 255;
}

int
smtp_probe(struct fetch *f, const char *host, const char *addr, int port,
    const char *ehlo, int timeout_ms, char *detail, size_t dlen)
{
	struct smtp	*s = NULL;
	char		 cmd[300], text[QUOTE_MAX + 4], why[512];
	int		 code, tls, rc = -1;

	if (ehlo == NULL || ehlo[0] == '\0')
		ehlo = "localhost";
	if (!ehlo_ok(ehlo)) {
		snprintf(detail, dlen, "EHLO: \"%s\" is no name to send",
		    printable(text, sizeof(text), ehlo, strlen(ehlo)));
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "EHLO %s\r\n", ehlo);
	if ((s = malloc(sizeof(*s))) == NULL) {
		snprintf(detail, dlen, "out of memory");
		return -1;
	}
	s->tls = NULL;
	s->len = 0;
	s->timeout_ms = timeout_ms;
	if ((s->fd = fetch_dial(addr, port, timeout_ms, detail, dlen)) == -1)
		goto out;

	if ((code = ask(s, NULL, &tls, text, sizeof(text), why,
	    sizeof(why))) == -1) {
		snprintf(detail, dlen, "greeting: %s", why);
		goto out;
	}
	if (code != 220) {
		said(detail, dlen, "greeting", code, text);
		goto quit;
	}
	if ((code = ask(s, cmd, &tls, text, sizeof(text), why,
	    sizeof(why))) == -1) {
		snprintf(detail, dlen, "EHLO: %s", why);
		goto out;
	}
	if (code != 250) {
		said(detail, dlen, "EHLO", code, text);
		goto quit;
	}
	if (!tls) {
		snprintf(detail, dlen, "STARTTLS not offered");
		goto quit;
	}
	if ((code = ask(s, "STARTTLS\r\n", &tls, text, sizeof(text), why,
	    sizeof(why))) == -1) {
		snprintf(detail, dlen, "STARTTLS: %s", why);
		goto out;
	}
	if (code != 220) {
		said(detail, dlen, "STARTTLS refused", code, text);
		goto quit;
	}
	/* RFC 3207 4.2: nothing said before TLS counts after it; bytes
	 * already here came unprotected (an injection, perhaps) */
	s->len = 0;
	if ((s->tls = fetch_tls_start(f, s->fd, host, timeout_ms, why,
	    sizeof(why))) == NULL) {
		snprintf(detail, dlen, "TLS: %s", why);
		goto out;
	}
	if ((code = ask(s, cmd, &tls, text, sizeof(text), why,
	    sizeof(why))) == -1) {
		snprintf(detail, dlen, "EHLO after STARTTLS: %s", why);
		goto out;
	}
	if (code != 250) {
		said(detail, dlen, "EHLO after STARTTLS", code, text);
		goto quit;
	}
	snprintf(detail, dlen, "STARTTLS, %s, certificate valid for %s",
	    fetch_tls_version(s->tls), host);
	rc = 0;
quit:
	quit(s);
out:
	fetch_tls_end(s->tls);
	if (s->fd != -1)
		close(s->fd);
	free(s);
	return rc;
}
