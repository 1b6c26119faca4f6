/*
 * mtasts-httpd: the one internal header.
 *
 * Data flows one way:
 *   config file -> struct conf (conf.c)
 *     -> rendered policy text (policy.c) + persisted id (state.c)
 *     -> an immutable struct snapshot (snap.c)
 *     -> the request handler (http.c) and new TLS sessions (bridge.c)
 * Nothing downstream writes back into anything upstream.
 */
#ifndef MTASTS_H
#define MTASTS_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MTASTS_VERSION		"0.1.0"
#define POLICY_PATH		"/.well-known/mta-sts.txt"
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

/* policy.c: RFC 8461 policy rules and rendering. */
enum sts_mode { MODE_UNSET = -1, MODE_ENFORCE, MODE_TESTING, MODE_NONE };
int		 policy_mode_parse(const char *);
const char	*policy_mode_name(int);
int		 policy_check_name(const char *, int allow_wildcard,
		    char *err, size_t errlen);
int		 policy_check_rua(const char *, char *err, size_t errlen);
int		 policy_wildcard_match(const char *pattern, const char *host);

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
	long long	 max_age;	/* -1: unset */
	int		 max_age_line;
	char		**mx;
	int		*mx_line;
	size_t		 nmx;
	char		*rua;		/* NULL: no TLSRPT record */
	char		*cert;		/* NULL: the default (global) one */
	char		*key;
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
	int			 max_conns;
	int			 max_conns_per_ip;
	int			 max_requests;	/* per connection */
	int			 max_header_size;	/* bytes */
	int			 handshake_timeout;	/* seconds */
	int			 idle_timeout;		/* seconds */
	char			*user;	/* drop to this user when root */
	char			*group;
	char			*hook;
	int			 hook_timeout;		/* seconds */
	int			 watch;		/* enum watch_mode */
	struct conf_domain	*domains;
	size_t			 ndomains;
};

enum watch_mode { WATCH_INOTIFY, WATCH_POLL, WATCH_NONE };

/* env.c: MTASTS_* environment variables, as a config (containers). */
int		 env_present(void);
struct conf	*env_parse(struct diag *);

/* uci.c: OpenWrt's UCI syntax, translated line for line. */
int		 uci_detect(const char *buf, size_t len);
char		*uci_translate(const char *file, const char *buf, size_t len,
		    struct diag *);

struct conf	*conf_parse(const char *file, struct diag *);
struct conf	*conf_parse_buf(const char *file, const char *buf,
		    size_t len, struct diag *);
void		 conf_free(struct conf *);
struct conf_domain *conf_find_domain(const struct conf *, const char *);

int	 policy_render(const struct conf_domain *, char **out, size_t *len);

/* dns.c: zone-file lines for a domain. */
char	*dns_sts_record(const char *domain, const char *id);
void	 dns_sts_name(const char *domain, char *buf, size_t len);
void	 dns_sts_value(const char *id, char *buf, size_t len);
char	*dns_render(const struct conf_domain *, const char *id);

/* state.c: the persisted policy id. */
int	 state_next_id(const char *prev, time_t now, char out[ID_MAX + 1]);
int	 state_path(const char *dir, const char *domain, char *buf,
	    size_t len);
int	 state_sync(const char *dir, const char *domain, const char *policy,
	    size_t len, time_t now, char id[ID_MAX + 1], int *is_new,
	    char *err, size_t errlen);

/* tls.c: mbedTLS configuration, shared by all connections of a snapshot. */
struct tls;
int		 tls_global_init(char *err, size_t errlen);
void		 tls_global_free(void);
struct tls	*tls_new(const struct conf *, char *err, size_t errlen);
struct tls	*tls_ref(struct tls *);
void		 tls_unref(struct tls *);
const void	*tls_ssl_config(const struct tls *);
void		 tls_check(const struct conf *, time_t now, struct diag *);
void		 tls_check_loaded(const struct tls *, const struct conf *,
		    time_t now, struct diag *);
void		 tls_strerror(int ret, char *buf, size_t len);
const char	*tls_version(void);

/* snap.c: everything one published configuration serves, immutable. */
struct site {
	char		*domain;
	char		*host;		/* "mta-sts.<domain>" */
	char		*policy;
	size_t		 policy_len;
	char		 id[ID_MAX + 1];
	int		 id_is_new;
};

struct snapshot {
	struct site		*sites;
	size_t			 nsites;
	struct hmap		 hosts;	/* "mta-sts.<domain>" -> site */
	struct tls		*tls;
};

struct snapshot	*snap_build(const struct conf *, time_t now, char *err,
		    size_t errlen);
void		 snap_free(struct snapshot *);
int		 snap_index(struct snapshot *);
const struct site *snap_route(const struct snapshot *, const char *method,
		    const char *url, const char *host, const char *sni);

/* fast.c: the plain policy GET, answered in the bridge without MHD. */
#define FAST_REQ_MAX	1024	/* longer requests are MHD's */
struct fast_req {
	int	head;		/* HEAD, else GET */
	int	close;		/* "Connection: close" */
	char	host[256];	/* the Host header's value */
};
size_t	 fast_request(const char *buf, size_t len, struct fast_req *);
size_t	 fast_response(const struct snapshot *, const struct fast_req *,
	    const char *sni, int close, char *out, size_t cap);

/* http.c: the libmicrohttpd daemon, driven from our loop. */
int	 http_start(const struct conf *);
void	 http_stop(void);
void	 http_publish(struct snapshot *);
int	 http_add_connection(int fd, const struct sockaddr *, socklen_t);
void	 http_run(void);
int	 http_timeout_ms(void);
const char *http_version(void);

/* bridge.c: TLS on the TCP socket; the plain policy GET answered from
 * the snapshot (fast.c), anything else relayed to MHD by socketpair. */
int	 bridge_listen(const struct conf *);
void	 bridge_print_listeners(void);
void	 bridge_publish(const struct snapshot *);
int	 bridge_expire(void);
void	 bridge_close_all(void);
void	 bridge_sni(const void *ssl, const char *name, size_t len);
const char *bridge_sni_of(int fd);
int	 bridge_count_request(int fd);

/* watch.c: notices changed config, certificate and key files. */
int	 watch_init(int mode, void (*on_change)(void));
void	 watch_set(const char *const *files, size_t n);
int	 watch_tick(void);
void	 watch_free(void);

/* hook.c: the admin's command run after a new id is announced. */
int	 hook_run(const char *path, int timeout_s, const char *domain,
	    const char *const *vars);
void	 hook_reap(void);
int	 hook_expire(void);
void	 hook_stop(void);

/* priv.c: dropping root after start-up. */
void	 priv_drop(const struct conf *);

/* health.c: --healthcheck, a TLS request to our own listener. */
int	 healthcheck(const struct conf *);

/* serve.c: the running server: start, reload, announce, stop. */
int	 serve(struct conf *);

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

/* log.c */
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

#endif
