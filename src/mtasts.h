/*
 * mtasts-httpd: the one internal header.
 *
 * Data flows one way:
 *   config file -> struct conf (conf.c)
 *     -> rendered policy text (policy.c)
 *     -> an immutable struct snapshot (snap.c)
 *     -> the request handler (http.c) and new TLS sessions (bridge.c)
 * and once a snapshot is live, the ids of its policies (state.c), which
 * are announced (serve.c: stdout, the hook), never served.
 * Nothing downstream writes back into anything upstream.
 *
 * One section per module, bottom-up by layer (DESIGN.md section 6): a
 * module calls only modules of lower layers (and of its own, without a
 * cycle); what a lower one must call back is handed to it as a function
 * pointer. tests/layers.sh checks the object files for cycles.
 */
#ifndef MTASTS_H
#define MTASTS_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifndef MTASTS_VERSION		/* from the file VERSION, by the Makefile */
#error "MTASTS_VERSION is not defined: build with make"
#endif
#define POLICY_PATH		"/.well-known/mta-sts.txt"
#define TLSRPT_PATH		"/.well-known/tlsrpt"	/* the receiver */
#define POLICY_MAX_BYTES	65536	/* clients abort above 64 KiB */
#define MAX_AGE_MAX		31557600LL	/* RFC 8461 3.2 */
#define MAX_AGE_WARN		86400LL
#define ID_MAX			32	/* RFC 8461 3.1: 1*32(ALPHA / DIGIT) */

#ifndef SYSCONFDIR
#define SYSCONFDIR		"/etc"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR		"/var/lib"
#endif
#define DEFAULT_CONF		SYSCONFDIR "/mtasts-httpd.conf"
#define DEFAULT_STATE_DIR	LOCALSTATEDIR "/mtasts-httpd"

/* ---- layer 0: utilities ---- */

/* log.c: logging to stderr or syslog; addresses as text. */
void	 log_init(int verbose);
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	 fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
const char *addr_str(const struct sockaddr *, char *, size_t);
/* p[0..n) made printable for a message, in dst (dlen > 4): bytes that
 * are not printable ASCII become '?', more than dlen - 4 are cut with
 * "...". Returns dst. */
const char *printable(char *dst, size_t dlen, const char *p, size_t n);

/* loop.c: one epoll loop, one thread. */
struct ev {
	int	  fd;
	uint32_t  events;
	void	(*cb)(struct ev *, uint32_t);
};
int	 loop_init(void);
int	 loop_add(struct ev *, uint32_t);
int	 loop_mod(struct ev *, uint32_t);
void	 loop_del(struct ev *);
int	 loop_run(int (*tick)(void));
void	 loop_stop(void);
void	 loop_free(void);
int64_t	 now_ms(void);
/* Blocking code (children, the CLI): 1 when fd is ready for ev (POLLIN,
 * POLLOUT), 0 when deadline (now_ms) passed first, -1 on a poll error. */
int	 fd_wait(int fd, short ev, int64_t deadline);

/* diag.c: a list of errors and warnings, each one line of text. */
struct diag {
	char	**msg;
	char	 *is_err;
	size_t	  n;
	size_t	  nerr;
};
void	 diag_add(struct diag *, int is_err, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	 diag_free(struct diag *);

/* hmap.c: string -> pointer map, case-insensitive (Host, SNI) or exact
 * (file paths). */
struct hmap {
	struct hent {
		const char	*key;
		size_t		 len;
		void		*val;
	}	*e;
	size_t	 cap;
	int	 exact;
};
int	 hmap_init(struct hmap *, size_t n, int exact);
void	 hmap_put(struct hmap *, const char *key, void *val);
void	*hmap_get(const struct hmap *, const char *key, size_t len);
void	 hmap_free(struct hmap *);

/* file.c: whole files. The whole file (at most max bytes), NUL-terminated,
 * malloc'd (wiped on failure); NULL with errno (EFBIG: over max). */
char	*file_read(const char *path, size_t max, size_t *lenp);
/* Replace path by len bytes of data at once: a temporary file (of mode,
 * as the umask leaves it) beside it, fsync, rename, fsync of the
 * directory; a crash leaves the old file or the new one. 0, or -1 with a
 * message naming path in err. */
int	 file_write_atomic(const char *path, const char *data, size_t len,
	    int mode, char *err, size_t errlen);

/* utc.c: calendar time in UTC to seconds, without timegm(). */
long long utc_seconds(long long y, int mo, int d, long long h, long long mi,
	    long long s);
time_t	 utc_clamp(long long);	/* saturates a 32-bit time_t */

/* name.c: host names in the form they are compared in. */
/* Host-name form for comparing: lower case, one trailing dot dropped.
 * Writes at most cap bytes incl. NUL; returns the length, or -1 if
 * empty, too long, it ends in two dots, or it holds a NUL. */
ssize_t	 name_norm(const char *in, size_t len, char *out, size_t cap);
/* "mta-sts.<domain>", malloc'd; NULL if out of memory. */
char	*name_mta_sts(const char *domain);

/* ---- layer 1: the config, policy text, DNS records, persisted ids ---- */

/* policy.c: RFC 8461 policy rules and rendering. */
enum sts_mode { MODE_UNSET = -1, MODE_ENFORCE, MODE_TESTING, MODE_NONE };
int		 policy_mode_parse(const char *);
const char	*policy_mode_name(int);
int		 policy_check_name(const char *, int allow_wildcard,
		    char *err, size_t errlen);
int		 policy_check_rua(const char *, char *err, size_t errlen);
int		 policy_wildcard_match(const char *pattern, const char *host);
/* The facts of a policy text (one we rendered: the history's). */
struct policy_facts {
	int		 mode;
	long long	 max_age;
	char		**mx;
	size_t		 nmx;
};
int	 policy_facts(const char *text, size_t len, struct policy_facts *);
void	 policy_facts_free(struct policy_facts *);
int	 policy_matches(const struct policy_facts *, const char *host);
/* Lines for what senders still holding old (id, cached until) lose
 * under new, appended to *out. 0 or -1 (memory). */
int	 policy_rollout(const struct policy_facts *old, const char *id,
	    time_t until, const struct policy_facts *new, char **out);
struct conf_domain;
/* The policy text of a domain: 0, or one of these. */
enum { POLICY_TOO_LARGE = -1, POLICY_NOMEM = -2 };
int	 policy_render(const struct conf_domain *, char **out, size_t *len);

/* conf.c: parse the config file into struct conf; no I/O but reading. */
struct conf_listen {
	char			*spec;	/* as written, for messages */
	int			 line;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 dual;	/* port only: IPv6 and IPv4 */
};

struct conf_domain {
	char		*name;		/* lower case, no trailing dot */
	int		 line;
	int		 mode;		/* enum sts_mode */
	int		 mode_line;	/* of the 'mode' line; 0: none */
	int		 mode_inherited;	/* from the defaults block */
	long long	 max_age;	/* -1: unset */
	int		 max_age_line;
	char		**mx;
	int		*mx_line;
	size_t		 nmx;
	char		*rua;		/* NULL: no TLSRPT record */
	char		*cert;		/* NULL: the default (global) one */
	char		*key;
	int		 acme;	/* certificate from ACME: cert = key =
				 * <state_dir>/acme/mta-sts.<domain>.pem */
	unsigned	 invalid;	/* bit per key whose value was rejected */
};

struct conf {
	char			*file;	/* "environment" when from_env */
	int			 from_env;	/* MTASTS_* variables (env.c) */
	struct conf_listen	*listen;
	size_t			 nlisten;
	char			*cert;	/* default certificate; may be NULL */
	char			*key;	/* when every domain has its own */
	char			*state_dir;
	char			*acme_directory;	/* NULL: no ACME */
	char			*acme_email;		/* NULL: no contact */
	char			*ca_bundle;	/* trust for outgoing TLS; NULL:
						 * none configured or found */
	int			 max_conns;
	int			 max_conns_per_ip;
	int			 max_handshakes;	/* 0: from the fd limit */
	int			 max_requests;	/* per connection */
	int			 max_header_size;	/* bytes */
	int			 handshake_timeout;	/* seconds */
	int			 idle_timeout;		/* seconds */
	char			*user;	/* drop to this user when root */
	char			*group;
	char			*hook;
	int			 hook_timeout;		/* seconds */
	int			 check_interval;	/* seconds; 0: off */
	int			 tlsrpt_receive;	/* POST TLSRPT_PATH */
	int			 tlsrpt_store_max;	/* MiB its reports keep */
	int			 watch;		/* enum watch_mode */
	struct conf_domain	*domains;
	size_t			 ndomains;
};

enum watch_mode { WATCH_INOTIFY, WATCH_POLL, WATCH_NONE };
struct conf	*conf_parse(const char *file, struct diag *);
struct conf	*conf_parse_buf(const char *file, const char *buf,
		    size_t len, struct diag *);
void		 conf_free(struct conf *);
struct conf_domain *conf_find_domain(const struct conf *, const char *);

/* uci.c: OpenWrt's UCI syntax, translated line for line. */
int		 uci_detect(const char *buf, size_t len);
char		*uci_translate(const char *file, const char *buf, size_t len,
		    struct diag *);

/* env.c: MTASTS_* environment variables, as a config (containers). */
int		 env_present(void);
struct conf	*env_parse(struct diag *);

/* dns.c: zone-file lines for a domain. */
char	*dns_sts_record(const char *domain, const char *id);
void	 dns_sts_name(const char *domain, char *buf, size_t len);
void	 dns_sts_value(const char *id, char *buf, size_t len);
char	*dns_render(const struct conf_domain *, const char *id);
/* The id of an _mta-sts TXT value; the rua of an _smtp._tls one. 0, or -1
 * with err saying what is wrong with it. */
int	 dns_sts_parse(const char *txt, size_t len, char id[ID_MAX + 1],
	    char *err, size_t errlen);
int	 dns_tlsrpt_parse(const char *txt, size_t len, char *rua, size_t cap,
	    char *err, size_t errlen);

/* state.c: the persisted ids of all domains, <state_dir>/state, with
 * whether each one's announcement is done; serialised on
 * <state_dir>/state.lock. Warnings and errors go into a struct diag. */
#define STATE_FILE	"state"
#define STATE_LOCK	"state.lock"
#define HISTORY_FILE	"history"	/* history.c's */
#define TLSRPT_DIR	"tlsrpt"	/* the receiver's reports */
struct state_req {
	const char	*domain;	/* in */
	const char	*policy;	/* in (commit): the bytes served */
	size_t		 len;
	char		 id[ID_MAX + 1];	/* out (commit); in (mark) */
	int		 announced;	/* out: its announcement is done */
	int		 minted;	/* out (commit): new in this commit */
	char		*notes;	/* out (commit): what senders still holding
				 * an earlier policy lose under this one
				 * (history.c), lines; NULL if nothing. The
				 * caller frees it. */
};
int	 state_next_id(const char *prev, time_t now, char out[ID_MAX + 1]);
int	 state_prepare(const char *dir, struct diag *);
void	 state_lock_wait(int ms);
/* serving: the caller serves these policies from now on (the server;
 * not --print-dns), so earlier ones are no longer served. */
int	 state_commit(const char *dir, struct state_req *, size_t n,
	    int serving, time_t now, struct diag *);
int	 state_mark(const char *dir, struct state_req *, size_t n,
	    time_t now, struct diag *);

/* history.c: the policies each domain served, <state_dir>/history,
 * updated by state_commit under its lock. */
struct hist {
	char	 domain[256];
	char	 id[ID_MAX + 1];
	int	 served;	/* a server served it (else committed only) */
	int	 dead;		/* history.c's, while updating */
	time_t	 first;		/* first served (committed, while not) */
	time_t	 last;		/* no longer served since; 0: served */
	char	*text;		/* the policy */
	size_t	 len;
};
struct history {
	struct hist	*e;
	size_t		 n;
};
int	 history_load(const char *dir, struct history *, struct diag *);
void	 history_free(struct history *);
time_t	 history_until(const struct hist *, time_t now);
void	 history_update(const char *dir, struct state_req *, size_t n,
	    int serving, time_t now, struct diag *);

/* tlsrpt.c: RFC 8460 aggregate reports: gzip (zlib) and JSON (cJSON)
 * read into one plain struct; pure, bounded, fuzzed. */
#define TLSRPT_GZ_MAX		(1024 * 1024)		/* compressed */
#define TLSRPT_JSON_MAX		(10 * 1024 * 1024)	/* inflated */
#define TLSRPT_POLICIES_MAX	256	/* policies[] entries kept */
#define TLSRPT_DETAILS_MAX	1000	/* distinct failure details kept per
					 * policy; the rest in more */
struct tlsrpt_detail {
	char		*result;	/* result-type, lower case */
	char		*sending_ip;	/* sending-mta-ip; "" if absent */
	char		*mx;		/* receiving-mx-hostname: lower case,
					 * no trailing dot; "" if absent */
	char		*mx_helo;	/* receiving-mx-helo; "" */
	char		*receiving_ip;	/* receiving-ip; "" */
	char		*reason;	/* failure-reason-code; "" */
	char		*info;		/* additional-information; "" */
	long long	 count;		/* failed-session-count */
};
struct tlsrpt_policy {
	char		*type;		/* policy-type, lower case: "sts",
					 * "tlsa", "no-policy-found", ... */
	char		*domain;	/* policy-domain: lower case, no
					 * trailing dot */
	char		**strings;	/* policy-string lines */
	size_t		 nstrings;
	char		**mx;		/* mx-host (errata 6241:
					 * mx-host-pattern), lower case */
	size_t		 nmx;
	long long	 success;	/* total-successful-session-count */
	long long	 failure;	/* total-failure-session-count */
	struct tlsrpt_detail *d;	/* failure-details, identical ones
					 * merged (counts summed) */
	size_t		 nd;
	long long	 more;		/* sessions of details past
					 * TLSRPT_DETAILS_MAX distinct ones */
};
struct tlsrpt {
	char		*org;		/* organization-name; "" if absent */
	char		*contact;	/* contact-info; "" */
	char		*id;		/* report-id (required) */
	time_t		 start, end;	/* date-range (required), UTC */
	int		 no_tz;		/* a date-time had no time zone: read
					 * as UTC */
	struct tlsrpt_policy *p;
	size_t		 np;
};
/* Inflate gzip (one or more members; also a zlib stream) of len bytes
 * into a malloc'd NUL-terminated buffer of at most max bytes. 0, or -1
 * with err ("not gzip data", "truncated gzip data", "larger than N bytes
 * when inflated", ...). */
int	 tlsrpt_inflate(const unsigned char *in, size_t len, size_t max,
	    char **out, size_t *outlen, char *err, size_t errlen);
/* A report's JSON, at most TLSRPT_JSON_MAX bytes: 0, or -1 with err
 * naming the field that is wrong. */
int	 tlsrpt_parse(const char *json, size_t len, struct tlsrpt *,
	    char *err, size_t errlen);
void	 tlsrpt_free(struct tlsrpt *);

/* mime.c: the TLS reports attached to a mail message or to each message
 * of an mbox file; pure, bounded, fuzzed. */
#define MIME_DEPTH_MAX		8	/* nested multiparts */
#define MIME_PARTS_MAX		1024	/* parts looked at per file */
struct mime_part {
	const char		*where;	/* "message 2, part 1.2" */
	int			 gz;	/* 1: gzip data, 0: JSON */
	const unsigned char	*data;	/* decoded; NULL if it could not be */
	size_t			 len;
	const char		*why;	/* set when data is NULL */
};
typedef void	 mime_cb(void *arg, const struct mime_part *);
/* Each report attachment of buf (a message, or an mbox of them) handed
 * to cb, decoded (base64, quoted-printable, 7bit, 8bit, binary).
 * Returns how many (bad ones too); 0: no report in it. */
int	 mime_reports(const char *buf, size_t len, mime_cb *cb, void *arg);

/* acmemsg.c: the ACME server's JSON objects read into one plain struct;
 * pure, fuzzed. Strings kept are safe to echo into a request unescaped. */
enum { ACME_DIRECTORY, ACME_ORDER, ACME_AUTHZ, ACME_PROBLEM };
#define ACME_AUTHZ_MAX	8
#define ACME_CAA_MAX	8
struct acme_msg {
	char	 status[16];	/* "" if none or not a plain word */
	char	*new_nonce, *new_account, *new_order;	/* directory */
	char	*terms;
	char	*caa[ACME_CAA_MAX];	/* meta.caaIdentities */
	size_t	 ncaa;
	char	*finalize, *certificate;		/* order */
	char	*authz[ACME_AUTHZ_MAX];
	size_t	 nauthz;
	char	*token, *chal_url;	/* authorization: its tls-alpn-01 */
	char	*type, *detail;		/* a problem, or a challenge's error */
};
int	 acme_msg_parse(int kind, const char *json, size_t len,
	    struct acme_msg *, char *err, size_t errlen);
void	 acme_msg_free(struct acme_msg *);
int	 acme_url_ok(const char *);
int	 acme_b64url_ok(const char *, size_t max);

/* x509.c: the keys, signatures and certificates ACME needs (P-256 only),
 * and a random generator safe to use after fork(). No I/O. */
#define X509_DEFAULT_BUNDLE	"/etc/ssl/certs/ca-certificates.crt"
struct ec_key;
/* mbedTLS's f_rng signature; p_rng is ignored. Seeds itself on first use. */
int		 x509_rng(void *p_rng, unsigned char *out, size_t len);
/* In a child right after fork(): its generator must not repeat the
 * parent's. 0 or -1. */
int		 x509_rng_fork(void);
void		 x509_rng_free(void);	/* at exit */
struct ec_key	*eckey_new(char *err, size_t errlen);	/* fresh P-256 key */
struct ec_key	*eckey_parse(const char *pem, size_t len, char *err,
		    size_t errlen);
/* PEM ("-----BEGIN EC PRIVATE KEY-----"), NUL-terminated, malloc'd; the
 * caller wipes and frees it. NULL if out of memory. */
char		*eckey_pem(const struct ec_key *);
void		 eckey_free(struct ec_key *);	/* wipes */
/* The mbedtls_pk_context inside, for tls.c (void *: no mbedTLS here). */
void		*eckey_pk(struct ec_key *);
/* RFC 7517 JWK, members in RFC 7638 order: {"crv":"P-256","kty":"EC",
 * "x":"..","y":".."}; the length, or -1 if cap is too small. */
int		 eckey_jwk(const struct ec_key *, char *buf, size_t cap);
/* RFC 7638 thumbprint: base64url(SHA-256(JWK)), 43 chars + NUL. */
int		 eckey_thumbprint(const struct ec_key *, char out[44]);
/* RFC 7518 3.4 ES256: r || s, 32 bytes each, of SHA-256(msg). 0 or -1. */
int		 eckey_sign(const struct ec_key *, const void *msg,
		    size_t len, unsigned char sig[64]);
/* base64url without padding (RFC 7515 2) of len bytes; the length
 * written (NUL-terminated), or -1 if cap is too small. */
int		 b64url(const void *in, size_t len, char *out, size_t cap);
/* A CSR (DER, malloc'd) for host, signed by key, host as its only DNS
 * SAN (and CN). 0 or -1 with err. */
int		 x509_csr(const struct ec_key *, const char *host,
		    unsigned char **der, size_t *len, char *err,
		    size_t errlen);
/* RFC 8737 3: a self-signed certificate (DER, malloc'd) for host, with a
 * fresh key returned in *key: host its only DNS SAN, and the critical
 * id-pe-acmeIdentifier extension holding digest (SHA-256 of the key
 * authorization). 0 or -1 with err. */
int		 x509_acme_cert(const char *host, const unsigned char digest[32],
		    unsigned char **der, size_t *len, struct ec_key **key,
		    char *err, size_t errlen);
/* Facts of the first certificate in a PEM chain: notBefore/notAfter (UTC
 * seconds), serial as hex, whether host is one of its DNS SANs. 0, or -1
 * with err if it does not parse. */
struct x509_info {
	time_t	not_before, not_after;
	char	serial[80];
	int	covers;
};
int		 x509_info(const char *pem, size_t len, const char *host,
		    struct x509_info *, char *err, size_t errlen);
/* Every certificate of the PEM chain parses and the first is key's. */
int		 x509_chain_check(const char *pem, size_t len, struct ec_key *,
		    char *err, size_t errlen);

/* ---- layer 2: what is served: TLS configs, the snapshot ---- */

/* tls.c: mbedTLS configuration, shared by all connections of a snapshot,
 * and the TLS side of each connection. */
struct tls;
struct tls_conn;
enum tls_io { TLS_OK, TLS_WANT_READ, TLS_WANT_WRITE, TLS_EOF, TLS_FAIL };
int		 tls_global_init(char *err, size_t errlen);
void		 tls_global_free(void);
struct tls	*tls_new(const struct conf *, char *err, size_t errlen);
struct tls	*tls_ref(struct tls *);
void		 tls_unref(struct tls *);
void		 tls_check(const struct conf *, time_t now, struct diag *);
void		 tls_check_loaded(const struct tls *, const struct conf *,
		    time_t now, struct diag *);
void		 tls_strerror(int ret, char *buf, size_t len);
struct tls_conn	*tls_conn_new(struct tls *, int fd, const char *sni,
		    unsigned alpn, const char **host, char *err,
		    size_t errlen);
void		 tls_conn_free(struct tls_conn *);
int		 tls_conn_handshake(struct tls_conn *);
int		 tls_conn_read(struct tls_conn *, void *, size_t, size_t *);
int		 tls_conn_write(struct tls_conn *, const void *, size_t,
		    size_t *);
int		 tls_conn_close_notify(struct tls_conn *);
void		 tls_conn_error(const struct tls_conn *, char *, size_t);
const char	*tls_version(void);
/* RFC 8737 challenges, process-wide (not in any snapshot): while one is
 * set for host, a ClientHello for host offering the ALPN acme-tls/1
 * gets its validation certificate. 0 or -1 with err. */
int		 tls_challenge_set(const char *host,
		    const unsigned char digest[32], char *err, size_t errlen);
void		 tls_challenge_clear(const char *host);	/* NULL: all */
int		 tls_conn_is_challenge(const struct tls_conn *);
int		 tls_serves(const struct tls *, const char *host);

/* snap.c: everything one published configuration serves, immutable. */
struct site {
	char		*domain;
	char		*host;		/* "mta-sts.<domain>" */
	char		*policy;
	size_t		 policy_len;
	int		 ready;		/* a certificate serves it (ACME: not
					 * until the first is issued) */
};

struct snapshot {
	struct site		*sites;
	size_t			 nsites;
	struct hmap		 hosts;	/* "mta-sts.<domain>" -> site */
	struct tls		*tls;
	char			*tlsrpt_dir;	/* tlsrpt_receive: where the
						 * reports go; NULL: off */
	long long		 tlsrpt_max;	/* bytes they may hold */
};

struct snapshot	*snap_build(const struct conf *, char *err, size_t errlen);
void		 snap_free(struct snapshot *);
int		 snap_index(struct snapshot *);
void		 snap_publish(struct snapshot *);
const struct snapshot *snap_current(void);
const struct site *snap_route(const struct snapshot *, const char *method,
		    const char *url, const char *host, const char *sni);
const struct site *snap_receiver(const struct snapshot *, const char *method,
		    const char *url, const char *host, const char *sni);
const struct site *snap_domain(const struct snapshot *, const char *domain);

/* ---- layer 3: protocol readers: the ClientHello, HTTP ---- */

/* hello.c: the TLS ClientHello, read before mbedTLS sees it */
#define HELLO_MAX	16384	/* bytes of records we look at, at most */
enum { HELLO_ALPN_HTTP11 = 1, HELLO_ALPN_HTTP10 = 2, HELLO_ALPN_ACME = 4,
       HELLO_ALPN_OTHER = 8 };
struct hello {
	char		sni[256];	/* host_name as sent; "" if none */
	int		sni_bad;	/* an SNI that is not one host name <256 */
	unsigned	alpn;		/* HELLO_ALPN_* bits offered; 0: no ALPN ext */
};
/* Parse the start of a TLS stream: the first handshake message must be a
 * ClientHello, possibly spread over several handshake records.
 * Returns 1 when complete (h filled), 0 when more bytes are needed,
 * -1 when the bytes are not a TLS ClientHello or it needs more than
 * HELLO_MAX bytes. Never reads past len. */
int	 hello_parse(const unsigned char *buf, size_t len, struct hello *h);

/* http.c: the libmicrohttpd daemon, driven from our loop; the handler
 * reads the snapshot with snap_current(). */
int	 http_start(const struct conf *);	/* limits incl. max_requests */
void	 http_stop(void);
/* Hand MHD the plaintext end fd of a connection: peer is the client's
 * address; sni the name the client asked for (NULL: none; "." matches
 * nothing). http.c keeps the per-connection facts (SNI, request count)
 * itself. MHD owns fd from here, even on failure. 0 or -1. */
int	 http_add_connection(int fd, const struct sockaddr *, socklen_t,
	    const char *sni);
void	 http_run(void);
int	 http_timeout_ms(void);
const char *http_version(void);

/* rptrecv.c: the TLS report receiver (tlsrpt_receive): admission of a
 * POST by address, then its body checked (tlsrpt.c) and stored under
 * the snapshot's tlsrpt_dir. */
#define RPTRECV_RESERVE		(4 * 1024 * 1024)	/* left free on its
							 * file system */
#define RPTRECV_JSON_MAX	(2 * 1024 * 1024)	/* inflated: the parse
							 * peaks at ~12x this */
int	 rptrecv_type(const char *ctype);	/* 1 gzip, 0 JSON, -1 */
/* A POST from an address: 0, or the status to refuse it with; a
 * admitted one is one upload of that address until rptrecv_done(). */
int	 rptrecv_admit(const struct sockaddr *, time_t now);
void	 rptrecv_done(const struct sockaddr *);
int	 rptrecv_store(const struct snapshot *, int gz, const char *body,
	    size_t len, const char *peer, time_t now, char *msg,
	    size_t msglen);

/* ---- layer 4: connections ---- */

/* conn.c: one connection's state machine; its I/O is handed in. */
enum conn_state { C_ACCEPTED, C_HELLO, C_HANDSHAKE, C_RELAY, C_CLOSING,
	C_CLOSED };
#define IO_READ		1	/* wait until readable */
#define IO_WRITE	2	/* until writable */
#define IO_MORE		4	/* until more bytes arrive (edge) */
struct conn_io {
	/* What the client sent so far, left unread: bytes, 0 at EOF, -1
	 * with errno (EAGAIN: nothing yet). */
	ssize_t	(*peek)(void *ctx, void *buf, size_t len);
	/* Start TLS with what the ClientHello asked for: 0 or -1. */
	int	(*tls_start)(void *ctx, const struct hello *);
	/* enum tls_io, as tls.c's tls_conn_* return them */
	int	(*handshake)(void *ctx);
	int	(*tls_read)(void *ctx, void *buf, size_t len, size_t *n);
	int	(*tls_write)(void *ctx, const void *buf, size_t len,
		    size_t *n);
	int	(*tls_close)(void *ctx);
	/* The handshake is done: 0 if admitted, -1 if refused, 1 if it was
	 * all there is to do (an RFC 8737 validation): close it. */
	int	(*established)(void *ctx);
	/* libmicrohttpd's side: open (0 or -1), then as send(2)/recv(2) */
	int	(*http_open)(void *ctx);
	ssize_t	(*http_send)(void *ctx, const void *buf, size_t len);
	ssize_t	(*http_recv)(void *ctx, void *buf, size_t len);
	void	(*http_shutdown)(void *ctx);	/* the client is done */
};
struct conn {
	int			 state;		/* enum conn_state */
	const struct conn_io	*io;
	void			*ctx;
	unsigned		 tcp_want;	/* IO_* */
	unsigned		 http_want;
	int			 moved;		/* bytes moved in the last step */
	int			 tls_eof;	/* the client is done sending */
	int			 http_open;
	int			 http_eof;	/* libmicrohttpd is done */
	const char		*why;		/* a failure, once C_CLOSED */
	size_t			 in_off, in_len;	/* client -> MHD */
	size_t			 out_off, out_len;	/* MHD -> client */
	unsigned char		*in, *out;
};
void		 conn_init(struct conn *, const struct conn_io *, void *ctx);
int		 conn_step(struct conn *);
void		 conn_free(struct conn *);
const char	*conn_state_name(int);

/* bridge.c: accepting, admission, timeouts; each connection a struct
 * conn over the client's socket, tls.c and a socketpair to http.c. */
int	 bridge_listen(const struct conf *);
void	 bridge_print_listeners(void);
int	 bridge_expire(void);
void	 bridge_close_all(void);

/* ---- layer 5: outgoing work ---- */

/* fetch.c: HTTPS requests (HTTP/1.1, one per connection, Connection:
 * close) over mbedTLS, verified against a CA bundle; blocking with a
 * timeout: for a child process, never the serving loop. */
#define FETCH_HEAD_MAX	16384		/* status line and headers */
#define FETCH_BODY_MAX	(1024 * 1024)	/* body, after de-chunking */
struct fetch_resp {
	int	 status;		/* 100-599 */
	char	*body;			/* malloc'd, NUL-terminated */
	size_t	 body_len;
	char	 nonce[256];		/* Replay-Nonce; "" if none */
	char	 location[1024];	/* Location; "" if none */
	char	 content_type[128];	/* media type only, lower case */
	long	 retry_after;		/* seconds; -1 if none or bad */
	char	 tls[16];		/* "TLSv1.3": the connection's */
};
/* A whole response as read until EOF (len bytes): pure, bounded by the
 * limits above. 0, or -1 with err saying what is wrong. */
int	 fetch_parse(const char *buf, size_t len, struct fetch_resp *,
	    char *err, size_t errlen);
void	 fetch_resp_free(struct fetch_resp *);
struct fetch;
/* The trust store from ca_bundle (PEM, one or more certificates). */
struct fetch *fetch_new(const char *ca_bundle, char *err, size_t errlen);
void	 fetch_free(struct fetch *);
/* method to url ("https://host[:port]/path"); ctype and body for POST
 * (else NULL, 0); accept may be NULL. Each connect, handshake and read
 * waits at most timeout_ms. 0 with *resp filled (any status), or -1 with
 * err naming the host and what failed (DNS, connect, TLS verification,
 * timeout, a malformed response). */
int	 fetch(struct fetch *, const char *method, const char *url,
	    const char *ctype, const char *accept, const char *body,
	    size_t blen, int timeout_ms, struct fetch_resp *resp, char *err,
	    size_t errlen);

/* fetch.c, for the live checks: a request to one address, and TLS on a
 * connection of one's own (SMTP STARTTLS). */
int	 fetch_at(struct fetch *, const char *addr, const char *method,
	    const char *url, const char *ctype, const char *accept,
	    const char *body, size_t blen, int timeout_ms,
	    struct fetch_resp *resp, char *err, size_t errlen);
int	 fetch_dial(const char *addr, int port, int timeout_ms, char *err,
	    size_t errlen);
struct fetch_tls;
struct fetch_tls *fetch_tls_start(struct fetch *, int fd, const char *host,
	    int timeout_ms, char *err, size_t errlen);
const char *fetch_tls_version(const struct fetch_tls *);
int	 fetch_tls_write(struct fetch_tls *, const void *, size_t,
	    int timeout_ms);
ssize_t	 fetch_tls_read(struct fetch_tls *, void *, size_t, int timeout_ms);
void	 fetch_tls_end(struct fetch_tls *);

/* dnsq.c: DNS questions through the system resolver, answers read with
 * its ns_* parser. Blocking: for --check-live and the watcher child. */
enum { DNSQ_T_A = 1, DNSQ_T_CNAME = 5, DNSQ_T_MX = 15, DNSQ_T_TXT = 16,
       DNSQ_T_AAAA = 28, DNSQ_T_CAA = 257 };
enum { DNSQ_OK = 0, DNSQ_NONAME = 1, DNSQ_NODATA = 2, DNSQ_FAIL = -1 };
struct dnsq_rr {
	int	 type;
	char	 name[256];	/* owner: lower case, no trailing dot */
	int	 pref;		/* MX preference; CAA flags */
	char	 tag[16];	/* CAA tag, lower case */
	char	*data;		/* malloc'd, NUL-terminated: TXT its strings
				 * joined (see len); MX/CNAME the target, lower
				 * case, no trailing dot, "" for the null MX;
				 * A/AAAA the address as text; CAA the value */
	size_t	 len;
};
struct dnsq_ans {
	struct dnsq_rr	*rr;	/* the records of the type asked */
	size_t		 n;
	int		 rcode;
	char		 cname[256];	/* the name asked is an alias of this
					 * one; "" if not */
};
int	 dnsq_parse(const unsigned char *msg, size_t len, const char *qname,
	    int type, struct dnsq_ans *, char *err, size_t errlen);
int	 dnsq_query(const char *name, int type, struct dnsq_ans *, char *err,
	    size_t errlen);
void	 dnsq_free(struct dnsq_ans *);
const char *dnsq_type_name(int type);

/* smtp.c: a STARTTLS probe of one MX host. */
int	 smtp_reply(const char *buf, size_t len, int *code, size_t *used,
	    int *starttls, char *err, size_t errlen);
int	 smtp_probe(struct fetch *, const char *host, const char *addr,
	    int port, const char *ehlo, int timeout_ms, char *detail,
	    size_t dlen);

/* child.c: in a child right after fork(): only stdio and keep stay open,
 * default signals, dies with the parent, none of its secrets or
 * capabilities. */
void	 child_init(int keep);

/* live.c: the deployment as senders see it: the checks of one domain,
 * each result through emit; --check-live (0: nothing FAILed, 1: some). */
enum { LIVE_PASS, LIVE_WARN, LIVE_FAIL };
enum { LIVE_SMTP = 1, LIVE_DNS = 2 };	/* what: smtp too; DNS side only */
typedef void	 live_emit(void *arg, int level, const char *domain,
		    const char *check, const char *extra, const char *detail);
int	 live_domain(const struct conf *, size_t i, const char *id,
	    const struct history *, struct fetch *, int what, live_emit *,
	    void *arg);
int	 live_check(const struct conf *, char *const *ids, const int *want,
	    int smtp);

/* dnswatch.c: while serving, rounds of live.c's DNS-side checks in a
 * child, changes logged. start: the config in force and its ids (per
 * domain); a round now, then every check_interval. */
void	 dnswatch_start(const struct conf *, const char *const *ids, size_t n);
int	 dnswatch_expire(void);		/* ms to wait, or -1 */
void	 dnswatch_reap(void);		/* after SIGCHLD */
void	 dnswatch_stop(void);

/* acme.c: RFC 8555 certificates for the ACME domains, got by a child
 * process (network and keys; the serving loop never waits on it); the
 * parent side answers its TLS-ALPN-01 challenges (tls.c) and installs
 * what it wrote by calling installed(). */
int	 acme_start(const struct conf *, void (*installed)(void));
void	 acme_reap(void);		/* after SIGCHLD */
int	 acme_expire(void);		/* a restart due; ms to wait, -1 */
void	 acme_stop(void);
/* --check: each ACME domain's certificate state into d. */
void	 acme_check(const struct conf *, time_t now, struct diag *);

/* ---- layer 6: the running server ---- */

/* watch.c: notices changed config, certificate and key files. */
int	 watch_init(int mode, void (*on_change)(void));
void	 watch_set(const char *const *files, size_t n);
int	 watch_tick(void);
void	 watch_free(void);

/* hook.c: the admin's command run to announce a new id. */
enum { HOOK_KILLED = -1, HOOK_STOPPED = -2 };	/* besides exit statuses */
int	 hook_run(const char *path, int timeout_s, const char *domain,
	    const char *const *vars, void (*done)(void *, int), void *arg);
int	 hook_busy(const char *domain);
void	 hook_reap(void);
int	 hook_expire(void);
void	 hook_stop(void);

/* priv.c: dropping root after start-up. */
void	 priv_drop(const struct conf *);

/* serve.c: the running server: start, reload, announce, stop. */
int	 serve(struct conf *);

/* ---- layer 7: the command line's other modes (main.c uses all) ---- */

/* report.c: --report: TLS reports read from paths (none: the receiver's
 * directory), summed per policy domain, with readiness for enforce of
 * the config's testing domains (c may be NULL: no config). 0: no failed
 * session reported, 1: some, 2: input that could not be read. */
int	 report_run(const struct conf *c, char *const *paths, size_t n,
	    int json);

/* health.c: --healthcheck, a TLS request to our own listener. */
int	 healthcheck(const struct conf *);

#endif
