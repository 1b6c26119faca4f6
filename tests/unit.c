/*
 * unit.c: table-driven tests of the pure modules (policy rules, config
 * parsing, rendering, DNS text, id/state logic, request routing). Prints
 * "ok - ..." / "not ok - ..." lines; tests/run.sh counts them. The state
 * tests write into a fresh directory under $TMPDIR.
 */
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/oid.h>
#include <mbedtls/platform_util.h>
#include <zlib.h>

#include "mtasts.h"
#include "compat.h"	/* the x509 tests use mbedTLS directly */

static int	failures;

static void
check(int cond, const char *what, const char *detail)
{
	if (cond)
		printf("ok - %s\n", what);
	else {
		printf("not ok - %s%s%s\n", what, detail ? ": " : "",
		    detail ? detail : "");
		failures++;
	}
}

static void
test_names(void)
{
	static const struct {
		const char	*name;
		int		 wildcard;
		const char	*err;	/* NULL: valid; else a substring */
	} t[] = {
		{ "mail.example.com", 1, NULL },
		{ "MAIL.Example.COM", 1, NULL },
		{ "mail.example.com.", 1, NULL },
		{ "*.example.com", 1, NULL },
		{ "a-b.c-d.example", 1, NULL },
		{ "xn--bcher-kva.example", 1, NULL },
		{ "1mail.example.com", 1, NULL },
		{ "*.example.com", 0, "wildcard is not allowed" },
		{ "a.*.example.com", 1, "whole leftmost label" },
		{ "*mail.example.com", 1, "whole leftmost label" },
		{ "*", 1, "whole leftmost label" },
		{ "mail", 1, "not a fully qualified name" },
		{ "192.0.2.1", 1, "IP address" },
		{ "2001:db8::1", 1, "IP address" },
		{ "[2001:db8::1]", 1, "IP address" },
		{ "mail.example.123", 1, "numeric label" },
		{ "mail..example.com", 1, "empty label" },
		{ ".example.com", 1, "empty label" },
		{ "-mail.example.com", 1, "start or end with '-'" },
		{ "mail-.example.com", 1, "start or end with '-'" },
		{ "mail_1.example.com", 1, "invalid character '_'" },
		{ "b\xc3\xbc" "cher.example", 1, "punycode" },
		{ "", 1, "empty name" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  ".example.com", 1, "longer than 63" },
	};
	char	err[512], what[600];
	size_t	i;
	int	rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		err[0] = '\0';
		rc = policy_check_name(t[i].name, t[i].wildcard, err,
		    sizeof(err));
		snprintf(what, sizeof(what), "name '%s' (wildcard %d)",
		    t[i].name, t[i].wildcard);
		if (t[i].err == NULL)
			check(rc == 0, what, err);
		else
			check(rc == -1 && strstr(err, t[i].err) != NULL, what,
			    err);
	}

	/* 253 is the limit for the whole name. */
	{
		char	long_name[300];

		memset(long_name, 'a', sizeof(long_name));
		for (i = 63; i < 299; i += 64)
			long_name[i] = '.';
		long_name[254] = '\0';
		check(policy_check_name(long_name, 1, err, sizeof(err)) == -1
		    && strstr(err, "253") != NULL, "name of 254 chars", err);
		long_name[253] = '\0';
		if (long_name[252] == '.')
			long_name[252] = 'a';
		check(policy_check_name(long_name, 1, err, sizeof(err)) == 0,
		    "name of 253 chars", err);
	}
}

static void
test_wildcard(void)
{
	static const struct {
		const char	*pattern, *host;
		int		 match;
	} t[] = {
		{ "*.example.com", "a.example.com", 1 },
		{ "*.example.com", "A.EXAMPLE.COM", 1 },
		{ "*.example.com", "a.b.example.com", 0 },
		{ "*.example.com", "example.com", 0 },
		{ "*.example.com", ".example.com", 0 },
		{ "mail.example.com", "MAIL.example.com", 1 },
		{ "mail.example.com", "mail2.example.com", 0 },
	};
	char	what[200];
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(what, sizeof(what), "wildcard %s vs %s", t[i].pattern,
		    t[i].host);
		check(policy_wildcard_match(t[i].pattern, t[i].host) ==
		    t[i].match, what, NULL);
	}
}

static void
test_rua(void)
{
	static const struct {
		const char	*rua;
		int		 ok;
	} t[] = {
		{ "mailto:tlsrpt@example.com", 1 },
		{ "https://reports.example.com/tlsrpt", 1 },
		{ "mailto:a@example.com,https://r.example.com/x", 1 },
		{ "MAILTO:a@example.com", 1 },
		{ "mailto:", 0 },
		{ "mailto:nobody", 0 },
		{ "http://r.example.com", 0 },
		{ "tlsrpt@example.com", 0 },
		{ "mailto:a@example.com;x", 0 },
		{ "mailto:a@example.com,", 0 },
		{ "mailto:\"a\"@example.com", 0 },
		{ "https://", 0 },
	};
	char	err[512], what[200];
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(what, sizeof(what), "rua '%s' %s", t[i].rua,
		    t[i].ok ? "accepted" : "rejected");
		check((policy_check_rua(t[i].rua, err, sizeof(err)) == 0) ==
		    t[i].ok, what, err);
	}
}

static struct conf *
parse(const char *text, struct diag *d)
{
	return conf_parse_buf("t.conf", text, strlen(text), d);
}

static void
test_render(void)
{
	struct diag	 d = { 0 };
	struct conf	*c;
	char		*p = NULL;
	size_t		 len = 0;

	c = parse("cert c\nkey k\ndomain Example.COM.\nmode enforce\n"
	    "mx MAIL.example.com\nmx *.backup.example.com\n"
	    "mx mail.example.com\nmax_age 86400\n", &d);
	check(c != NULL, "config parses", d.n ? d.msg[0] : NULL);
	if (c == NULL)
		return;
	check(strcmp(c->domains[0].name, "example.com") == 0,
	    "domain lower-cased, final dot dropped", c->domains[0].name);
	check(c->domains[0].nmx == 2, "duplicate mx dropped", NULL);
	check(d.n == 2 && !d.is_err[0] && strcmp(d.msg[1],
	    "t.conf:7: duplicate mx 'mail.example.com' dropped (first at "
	    "line 5)") == 0, "duplicate mx warning text",
	    d.n > 1 ? d.msg[1] : NULL);
	check(policy_render(&c->domains[0], &p, &len) == 0, "render", NULL);
	check(p != NULL && len == strlen(p) && strcmp(p,
	    "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
	    "mx: *.backup.example.com\r\nmax_age: 86400\r\n") == 0,
	    "rendered policy bytes (CRLF, version first, one final CRLF)", p);
	free(p);
	conf_free(c);
	diag_free(&d);

	/* mode none needs no mx; defaults are inherited */
	c = parse("cert c\nkey k\nmode none\nmax_age 0\ndomain a.example\n"
	    "domain b.example\nmode testing\nmx mx.b.example\n", &d);
	check(c != NULL && c->ndomains == 2, "two domains with defaults",
	    d.nerr ? d.msg[0] : NULL);
	if (c != NULL) {
		policy_render(&c->domains[0], &p, &len);
		check(strcmp(p, "version: STSv1\r\nmode: none\r\n"
		    "max_age: 0\r\n") == 0, "mode none without mx", p);
		free(p);
		check(c->domains[1].mode == MODE_TESTING &&
		    c->domains[1].max_age == 0, "domain overrides default mode",
		    NULL);
		check(c->nlisten == 1 && c->listen[0].dual,
		    "default listen is 443 on all addresses", NULL);
		check(strcmp(c->state_dir, DEFAULT_STATE_DIR) == 0,
		    "default state_dir", c->state_dir);
	}
	check(d.n == 2 && strstr(d.msg[0], "t.conf:4: domain a.example: "
	    "max_age 0 is below one day") != NULL, "max_age warning",
	    d.n ? d.msg[0] : NULL);
	conf_free(c);
	diag_free(&d);

	c = parse("cert c\nkey k\ndomain a.example\nmode enforce\n"
	    "mx a.example\nmax_age 604800\n", &d);
	check(c != NULL && d.n == 0, "no warning for a plain config",
	    d.n ? d.msg[0] : NULL);
	check(c != NULL && c->domains[0].max_age == 604800, "max_age kept",
	    NULL);
	conf_free(c);
	diag_free(&d);

	c = parse("# comment\r\n\r\n  cert  c  # trailing\r\nkey\tk\r\n"
	    "domain a.example\r\nmode enforce\r\nmx a.example\r\n", &d);
	check(c != NULL && strcmp(c->cert, "c") == 0, "CRLF config, tabs, "
	    "comments", d.n ? d.msg[0] : NULL);
	conf_free(c);
	diag_free(&d);

	c = parse("cert c\nkey k\nlisten 127.0.0.1:0\nlisten [::1]:8443\n"
	    "domain a.example\nmode none\n", &d);
	check(c != NULL && c->nlisten == 2 &&
	    c->listen[0].ss.ss_family == AF_INET &&
	    c->listen[1].ss.ss_family == AF_INET6 && !c->listen[1].dual,
	    "listen addresses", d.n ? d.msg[0] : NULL);
	conf_free(c);
	diag_free(&d);

	/* 300 mx lines of 255 bytes: over 64 KiB, told from out of memory */
	{
		struct conf_domain	 big;
		char			 mx[250], *mxs[300];
		size_t			 i;

		memset(&big, 0, sizeof(big));
		memset(mx, 'a', sizeof(mx) - 1);
		mx[sizeof(mx) - 1] = '\0';
		for (i = 0; i < 300; i++)
			mxs[i] = mx;
		big.mode = MODE_ENFORCE;
		big.max_age = 86400;
		big.mx = mxs;
		big.nmx = 300;
		p = NULL;
		check(policy_render(&big, &p, &len) == POLICY_TOO_LARGE &&
		    p == NULL, "render: over 64 KiB is POLICY_TOO_LARGE",
		    NULL);
		big.nmx = 250;	/* 63,797 bytes */
		check(policy_render(&big, &p, &len) == 0 && len < 65536,
		    "render: just under 64 KiB", NULL);
		free(p);
	}
}

static void
test_dns(void)
{
	struct conf_domain	d;
	char			*s, rua[600];

	memset(&d, 0, sizeof(d));
	d.name = "example.com";
	s = dns_render(&d, "20261123101500Z");
	check(s != NULL && strcmp(s, "_mta-sts.example.com. IN TXT "
	    "\"v=STSv1; id=20261123101500Z\"\n; mta-sts.example.com. must "
	    "resolve to this host (A/AAAA or CNAME)\n") == 0,
	    "dns records without rua", s);
	free(s);
	d.rua = "mailto:tlsrpt@example.com";
	s = dns_render(&d, "20261123101500Z");
	check(s != NULL && strstr(s, "\n_smtp._tls.example.com. IN TXT "
	    "\"v=TLSRPTv1; rua=mailto:tlsrpt@example.com\"\n") != NULL,
	    "dns tlsrpt record", s);
	free(s);
	/* a long rua is split into 255-octet strings (RFC 1035 3.3.14) */
	memset(rua, 'a', sizeof(rua));
	memcpy(rua, "mailto:", 7);
	memcpy(rua + 500, "@example.com", 13);
	d.rua = rua;
	s = dns_render(&d, "1");
	check(s != NULL && strstr(s, "\" \"") != NULL &&
	    strlen(strstr(s, "\"v=TLSRPTv1")) > 520, "long rua split", s);
	free(s);
}

static void
system_rm(const char *dir)
{
	char	cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		check(0, "cleanup", dir);
}

/* Write text to dir/name (a fixture). */
static void
st_put(const char *dir, const char *name, const char *text)
{
	char	path[512];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

/* The whole of dir/name, malloc'd ("" if unreadable). */
static char *
slurp(const char *dir, const char *name)
{
	char	path[512], *buf;
	FILE	*f;
	size_t	n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((buf = calloc(1, 65536)) == NULL)
		return NULL;
	if ((f = fopen(path, "r")) != NULL) {
		n = fread(buf, 1, 65535, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* How many names in dir start with prefix. */
static int
count_files(const char *dir, const char *prefix)
{
	char	cmd[600], out[32] = "";
	FILE	*p;

	snprintf(cmd, sizeof(cmd), "ls -a '%s' | grep -c '^%s'", dir, prefix);
	if ((p = popen(cmd, "r")) != NULL) {
		if (fgets(out, sizeof(out), p) == NULL)
			out[0] = '\0';
		pclose(p);
	}
	return atoi(out);
}

/* One domain's commit of policy at time t: 0 or -1; id etc. in r. */
static int
commit1(const char *dir, const char *domain, const char *policy, time_t t,
    struct state_req *r, struct diag *d)
{
	memset(r, 0, sizeof(*r));
	r->domain = domain;
	r->policy = policy;
	r->len = strlen(policy);
	return state_commit(dir, r, 1, 1, t, d);
}

static int
has_msg(const struct diag *d, int is_err, const char *sub)
{
	size_t	i;

	for (i = 0; i < d->n; i++)
		if (d->is_err[i] == is_err && strstr(d->msg[i], sub) != NULL)
			return 1;
	return 0;
}

/* A damaged state file: warned about with its path, moved aside, new ids
 * above what it still shows. */
static void
damaged(const char *dir, const char *what, const char *text, time_t t,
    const char *want_id, const char *why)
{
	struct state_req	r;
	struct diag		d = { 0 };
	char			path[512], name[128], *s;

	system_rm(dir);
	mkdir(dir, 0755);
	st_put(dir, "state", text);
	snprintf(path, sizeof(path), "state file %s/state: ", dir);
	snprintf(name, sizeof(name), "%s: warned with path and cause", what);
	check(commit1(dir, "example.com", "A", t, &r, &d) == 0 && d.n == 1 &&
	    strncmp(d.msg[0], path, strlen(path)) == 0 && has_msg(&d, 0, why) &&
	    has_msg(&d, 0, "moved aside to"), name,
	    d.n > 0 ? d.msg[0] : "no message");
	snprintf(name, sizeof(name), "%s: new id %s, not announced", what,
	    want_id);
	check(strcmp(r.id, want_id) == 0 && r.minted && !r.announced, name,
	    r.id);
	snprintf(name, sizeof(name), "%s: moved aside, replaced", what);
	s = slurp(dir, "state");
	check(count_files(dir, "state.corrupt-") == 1 && s != NULL &&
	    strncmp(s, "mtasts-httpd-state 1\nexample.com ", 33) == 0, name,
	    s);
	free(s);
	diag_free(&d);
}

static void
test_ids(void)
{
	char			 id[ID_MAX + 1], id2[ID_MAX + 1], dir[256], *s;
	char			 text[512], sub[600];
	time_t			 t = 1795428900;	/* 2026-11-23 10:15:00 UTC */
	const char		*h_a = "559aead08264d5795d3909718cdd05abd49572e84fe55590eef31a88a08fdffd";
	struct state_req	 r, rr[2];
	struct diag		 d = { 0 };

	check(state_next_id(NULL, t, id) == 0 &&
	    strcmp(id, "20261123101500Z") == 0, "id is the UTC time", id);
	check(state_next_id("20261123101500Z", t, id2) == 0 &&
	    strcmp(id2, "20261123101501Z") == 0,
	    "second change in the same second gets a greater id", id2);
	check(state_next_id("20261123101510Z", t, id2) == 0 &&
	    strcmp(id2, "20261123101511Z") == 0,
	    "clock behind the last id: still greater", id2);
	check(state_next_id("20261123101400Z", t, id2) == 0 &&
	    strcmp(id2, "20261123101500Z") == 0, "older id: now", id2);
	check(state_next_id("garbage", t, id2) == 0 &&
	    strcmp(id2, "20261123101500Z") == 0, "unparsable id: now", id2);

	snprintf(dir, sizeof(dir), "%s/unit-state.%ld",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid());
	check(commit1(dir, "example.com", "A", t, &r, &d) == 0 && r.minted &&
	    !r.announced && strcmp(r.id, "20261123101500Z") == 0,
	    "first commit mints an id, not announced", r.id);
	check(commit1(dir, "example.com", "A", t + 100, &r, &d) == 0 &&
	    !r.minted && !r.announced && strcmp(r.id, "20261123101500Z") == 0,
	    "same policy keeps its id, still not announced", r.id);
	check(state_mark(dir, &r, 1, t, &d) == 0 && r.announced,
	    "mark: announced", d.n > 0 ? d.msg[0] : NULL);
	check(commit1(dir, "example.com", "A", t, &r, &d) == 0 &&
	    !r.minted && r.announced, "announced flag kept", r.id);
	check(commit1(dir, "example.com", "B", t, &r, &d) == 0 && r.minted &&
	    !r.announced && strcmp(r.id, "20261123101501Z") == 0,
	    "changed policy in the same second: greater id, not announced",
	    r.id);
	memcpy(r.id, "20261123101500Z", 16);
	check(state_mark(dir, &r, 1, t, &d) == 0 && !r.announced,
	    "mark of a superseded id: nothing", NULL);
	check(commit1(dir, "example.com", "A", t, &r, &d) == 0 && r.minted &&
	    strcmp(r.id, "20261123101502Z") == 0,
	    "changing back is a change too", r.id);
	check(commit1(dir, "example.com", "B", t - 7200, &r, &d) == 0 &&
	    strcmp(r.id, "20261123101503Z") == 0,
	    "clock two hours back: last id + 1 s", r.id);
	check(commit1(dir, "other.example", "A", t, &r, &d) == 0 &&
	    strcmp(r.id, "20261123101500Z") == 0, "ids are per domain", r.id);
	check(commit1(dir, "example.com", "B", t - 30 * 86400, &r, &d) == 0 &&
	    !r.minted && d.n == 0,
	    "clock a month back: the stored ids are not 'ahead'", r.id);
	check(commit1(dir, "example.com", "C", t - 30 * 86400, &r, &d) == 0 &&
	    strcmp(r.id, "20261123101504Z") == 0,
	    "clock a month back: last id + 1 s", r.id);
	s = slurp(dir, "state");
	check(s != NULL && strstr(s, "\nother.example 20261123101500Z ") !=
	    NULL && strstr(s, "\nend 2\n") != NULL,
	    "a domain not committed keeps its line", s);
	free(s);
	/* two domains in one commit: one write, both or none */
	memset(rr, 0, sizeof(rr));
	rr[0].domain = "example.com";
	rr[0].policy = "D";
	rr[1].domain = "other.example";
	rr[1].policy = "D";
	rr[0].len = rr[1].len = 1;
	snprintf(sub, sizeof(sub), "%s/state.tmp", dir);
	mkdir(sub, 0755);
	check(state_commit(dir, rr, 2, 1, t, &d) == -1 && has_msg(&d, 1, sub),
	    "a failed write names the file", d.n > 0 ? d.msg[0] : NULL);
	diag_free(&d);
	rmdir(sub);
	s = slurp(dir, "state");
	check(s != NULL && strstr(s, "example.com 20261123101504Z") != NULL &&
	    strstr(s, "other.example 20261123101500Z") != NULL,
	    "after a failed write no domain moved", s);
	free(s);
	check(state_commit(dir, rr, 2, 1, t, &d) == 0 && rr[0].minted &&
	    rr[1].minted && strcmp(rr[0].id, "20261123101505Z") == 0 &&
	    strcmp(rr[1].id, "20261123101501Z") == 0,
	    "then both move together", rr[0].id);

	/*
	 * damage: every field checked, the next id above what is readable.
	 * Each body follows the header line; in it '#' stands for a whole
	 * hash, '~' for one cut short. cut > 0 keeps that many bytes.
	 */
	static const struct {
		const char	*what, *body, *id, *msg;
		int		 cut;
	} dmg[] = {
		{ "bad characters in an id", "example.com 20261123101500Z\";"
		    "id=x # 1\nend 1\n", "20261123101501Z", "line 2: id "
		    "'20261123101500Z\";id=x' is not of the form", 0 },
		{ "truncated file", "example.com 20261123101700Z # 1\nend 1\n",
		    "20261123101701Z", "cut short", 60 },
		{ "no end line", "example.com 20261123101700Z # 1\n",
		    "20261123101701Z", "cut short: no end line", 0 },
		/* a 32-bit time_t cannot even hold it: out of form there */
		{ "far-future id", "example.com 99991231235959Z # 1\nend 1\n",
		    "20261123101500Z", sizeof(time_t) > 4 ? "line 2: id "
		    "99991231235959Z is more than a day ahead" : "line 2: id "
		    "'99991231235959Z' is not of the form", 0 },
		{ "bad flag", "example.com 20261123101700Z # 2\nend 1\n",
		    "20261123101701Z", "line 2: announced flag '2'", 0 },
		{ "short hash", "example.com 20261123101700Z ~ 1\nend 1\n",
		    "20261123101701Z", "is not a SHA-256", 0 },
		{ "bad domain", "exa$mple.com 20261123101700Z # 1\nend 1\n",
		    "20261123101701Z", "line 2: 'exa$mple.com' is not a "
		    "domain name", 0 },
		{ "a domain twice", "example.com 20261123101700Z # 1\n"
		    "example.com 20261123101600Z # 1\nend 2\n",
		    "20261123101701Z", "appears twice", 0 },
	};
	for (size_t i = 0; i < sizeof(dmg) / sizeof(dmg[0]); i++) {
		const char	*b;
		size_t		 o;

		o = (size_t)snprintf(text, sizeof(text),
		    "mtasts-httpd-state 1\n");
		for (b = dmg[i].body; *b != '\0' && o < sizeof(text) - 70; b++)
			if (*b == '#' || *b == '~')
				o += (size_t)snprintf(text + o, 65, "%.*s",
				    *b == '#' ? 64 : 60, h_a);
			else
				text[o++] = *b;
		text[dmg[i].cut > 0 ? (size_t)dmg[i].cut : o] = '\0';
		damaged(dir, dmg[i].what, text, t, dmg[i].id, dmg[i].msg);
	}
	damaged(dir, "empty file", "", t, "20261123101500Z", "empty");
	damaged(dir, "month 13", "mtasts-httpd-state 1\nexample.com "
	    "20261323101500Z 559aead08264d5795d3909718cdd05abd49572e84fe55590"
	    "eef31a88a08fdffd 1\nend 1\n", t, "20261123101500Z",
	    "is not of the form");
	damaged(dir, "another version", "mtasts-httpd-state 2\nend 0\n", t,
	    "20261123101500Z", "line 1: version '2' is not supported");

	/* a directory where the file should be */
	system_rm(dir);
	snprintf(sub, sizeof(sub), "%s/state", dir);
	mkdir(dir, 0755);
	mkdir(sub, 0755);
	check(commit1(dir, "example.com", "A", t, &r, &d) == 0 &&
	    has_msg(&d, 0, "a directory, not a file: moved aside") &&
	    count_files(dir, "state.corrupt-") == 1 && r.minted,
	    "a directory in its place: moved aside, replaced",
	    d.n > 0 ? d.msg[0] : NULL);
	diag_free(&d);

	/* version 0.1's files: taken over as announced, then removed */
	system_rm(dir);
	mkdir(dir, 0755);
	snprintf(text, sizeof(text), "# mtasts-httpd\nid 20261120000000Z\n"
	    "sha256 %s\n", h_a);
	st_put(dir, "example.com.state", text);
	st_put(dir, "gone.example.state", "id 20261121000000Z\nsha256 "
	    "559aead08264d5795d3909718cdd05abd49572e84fe55590eef31a88a08fdffd\n");
	check(commit1(dir, "example.com", "A", t, &r, &d) == 0 && !r.minted &&
	    r.announced && strcmp(r.id, "20261120000000Z") == 0 && d.n == 0,
	    "old <domain>.state: same id, announced", r.id);
	s = slurp(dir, "state");
	check(count_files(dir, "example.com.state") == 0 &&
	    count_files(dir, "gone.example.state") == 0 && s != NULL &&
	    strstr(s, "\ngone.example 20261121000000Z ") != NULL,
	    "old files migrated, then removed", s);
	free(s);

	/* the state_dir itself */
	snprintf(sub, sizeof(sub), "%s/file", dir);
	st_put(dir, "file", "");
	check(commit1(sub, "example.com", "A", t, &r, &d) == -1 &&
	    has_msg(&d, 1, "not a directory"), "state_dir that is a file",
	    d.n > 0 ? d.msg[0] : NULL);
	diag_free(&d);
	check(state_prepare(sub, &d) == -1 && has_msg(&d, 1,
	    "not a directory"), "state_prepare: not a directory", NULL);
	diag_free(&d);
	system_rm(dir);
}

static void
test_route(void)
{
	struct site	sites[2];
	struct snapshot	s;
	static const struct {
		const char	*method, *url, *host;
		int		 site;	/* -1: 404 */
		const char	*sni;	/* NULL: the client sent none */
	} t[] = {
		{ "GET", POLICY_PATH, "mta-sts.example.com", 0,
		  "mta-sts.example.com" },
		{ "GET", POLICY_PATH, "mta-sts.example.com:443", 0,
		  "MTA-STS.example.com" },
		{ "GET", POLICY_PATH, "mta-sts.example.net", -1,
		  "mta-sts.example.com" },
		{ "GET", POLICY_PATH, "mta-sts.example.com", -1,
		  "mta-sts.example.net" },
		{ "GET", POLICY_PATH, "mta-sts.example.com", -1,
		  "unknown.example" },
		{ "GET", POLICY_PATH, "mta-sts.example.com", -1, "." },
		{ "GET", POLICY_PATH, "mta-sts.example.com", 0, NULL },
		{ "HEAD", POLICY_PATH, "mta-sts.example.com", 0, NULL },
		{ "GET", POLICY_PATH, "MTA-STS.Example.COM", 0, NULL },
		{ "GET", POLICY_PATH, "mta-sts.example.com.", 0, NULL },
		{ "GET", POLICY_PATH, "mta-sts.example.com:443", 0, NULL },
		{ "GET", POLICY_PATH, "mta-sts.example.com.:8443", 0, NULL },
		{ "GET", POLICY_PATH, "mta-sts.example.net", 1, NULL },
		{ "GET", POLICY_PATH, "mta-sts.example.com:", -1, NULL },
		{ "GET", POLICY_PATH, "mta-sts.example.com:123456", -1, NULL },
		{ "GET", POLICY_PATH, "mta-sts.example.com..", -1, NULL },
		{ "GET", POLICY_PATH, "mta-sts.example.co", -1, NULL },
		{ "GET", POLICY_PATH, "xmta-sts.example.com", -1, NULL },
		{ "GET", POLICY_PATH, "example.com", -1, NULL },
		{ "GET", POLICY_PATH, "", -1, NULL },
		{ "GET", POLICY_PATH, NULL, -1, NULL },
		{ "get", POLICY_PATH, "mta-sts.example.com", -1, NULL },
		{ "POST", POLICY_PATH, "mta-sts.example.com", -1, NULL },
		{ "GET", "/.well-known/mta-sts.txt/", "mta-sts.example.com", -1, NULL },
		{ "GET", "/.well-known/MTA-STS.TXT", "mta-sts.example.com", -1, NULL },
		{ "GET", "/", "mta-sts.example.com", -1, NULL },
	};
	char	what[300];
	size_t	i;

	memset(sites, 0, sizeof(sites));
	sites[0].host = "mta-sts.example.com";
	sites[1].host = "mta-sts.example.net";
	memset(&s, 0, sizeof(s));
	s.sites = sites;
	s.nsites = 2;
	check(snap_index(&s) == 0, "index sites by host", NULL);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const struct site *r = snap_route(&s, t[i].method, t[i].url,
		    t[i].host, t[i].sni);
		snprintf(what, sizeof(what), "route %s %s Host '%s' SNI '%s' "
		    "-> %s", t[i].method, t[i].url,
		    t[i].host ? t[i].host : "(none)",
		    t[i].sni ? t[i].sni : "(none)",
		    t[i].site == -1 ? "404" : sites[t[i].site].host);
		check(t[i].site == -1 ? r == NULL : r == &sites[t[i].site],
		    what, NULL);
	}
	hmap_free(&s.hosts);
}

static void
test_hmap(void)
{
	struct hmap	 m;
	char		 keys[3000][24];
	size_t		 i, bad = 0;

	check(hmap_init(&m, 3000, 0) == 0, "hmap for 3000 keys", NULL);
	for (i = 0; i < 3000; i++) {
		snprintf(keys[i], sizeof(keys[i]), "mta-sts.d%zu.example", i);
		hmap_put(&m, keys[i], keys[i]);
	}
	for (i = 0; i < 3000; i++)
		if (hmap_get(&m, keys[i], strlen(keys[i])) != keys[i])
			bad++;
	check(bad == 0, "hmap finds all 3000 keys", NULL);
	check(hmap_get(&m, "MTA-STS.D7.EXAMPLE", 18) == keys[7],
	    "hmap is case-insensitive", NULL);
	check(hmap_get(&m, "mta-sts.d7.example.", 18) == keys[7],
	    "hmap takes a length", NULL);
	check(hmap_get(&m, "mta-sts.d3000.example", 21) == NULL,
	    "hmap: absent key", NULL);
	hmap_free(&m);
}

/*
 * ClientHellos sent by openssl s_client 3.0 to a listener on 127.0.0.1,
 * kept as the fuzzer's seeds in tests/fuzz/corpus/hello/ (found from
 * where this binary is, whatever the directory it runs in): tls12-sni-alpn with -tls1_2
 * -servername mta-sts.example.com -alpn http/1.1, tls13-sni-acme with
 * -tls1_3 -servername mta-sts.example.com -alpn acme-tls/1.
 */
static char		top[512];	/* the tree, from argv[0] */
static unsigned char	hello_tls12[512], hello_tls13[512];
static size_t		hello_tls12_len, hello_tls13_len;

/* Read a seed into buf; its length, or 0 (a failed check) if it can't. */
static size_t
hello_seed(const char *name, unsigned char *buf, size_t cap)
{
	char	path[sizeof(top) + 64];
	FILE	*f;
	size_t	n = 0;

	snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/hello/%s", top,
	    name);
	if ((f = fopen(path, "rb")) != NULL) {
		n = fread(buf, 1, cap, f);
		fclose(f);
	}
	check(n > 0 && n < cap, "hello: read the seed", path);
	return n < cap ? n : 0;
}

/* Appends len bytes of p to b at *n. */
static void
put(unsigned char *b, size_t *n, const void *p, size_t len)
{
	memcpy(b + *n, p, len);
	*n += len;
}

/* Appends v as a w-byte big-endian integer to b at *n. */
static void
put_int(unsigned char *b, size_t *n, size_t v, size_t w)
{
	while (w-- > 0)
		b[(*n)++] = (unsigned char)(v >> 8 * w);
}

/*
 * A ClientHello body: version 3.3, a zero random, then tail (session id,
 * cipher suites, compression methods), then an extensions block holding
 * ext, if ext is not NULL. Returns its length.
 */
static size_t
hello_body(unsigned char *b, const void *tail, size_t tlen, const void *ext,
    size_t elen)
{
	size_t	n = 0;

	put(b, &n, "\x03\x03", 2);
	memset(b + n, 0, 32);
	n += 32;
	put(b, &n, tail, tlen);
	if (ext != NULL) {
		put_int(b, &n, elen, 2);
		put(b, &n, ext, elen);
	}
	return n;
}

/*
 * The ClientHello message with this body, cut into handshake records of
 * at most frag bytes, into b. Returns the length.
 */
static size_t
hello_records(unsigned char *b, const unsigned char *body, size_t blen,
    size_t frag)
{
	unsigned char	hdr[4];
	size_t		n = 0, i = 0, k, mlen = 4 + blen;

	hdr[0] = 1;
	hdr[1] = (unsigned char)(blen >> 16);
	hdr[2] = (unsigned char)(blen >> 8);
	hdr[3] = (unsigned char)blen;
	while (i < mlen) {
		k = mlen - i < frag ? mlen - i : frag;
		put(b, &n, "\x16\x03\x01", 3);
		put_int(b, &n, k, 2);
		for (; k > 0; k--, i++)
			b[n++] = i < 4 ? hdr[i] : body[i - 4];
	}
	return n;
}

/* hello_parse on an exact-size heap copy: ASan sees a read past len. */
static int
hello_exact(const unsigned char *b, size_t len, struct hello *h)
{
	unsigned char	*p;
	int		 rc;

	if ((p = malloc(len > 0 ? len : 1)) == NULL)
		return -2;
	memcpy(p, b, len);
	rc = hello_parse(p, len, h);
	free(p);
	return rc;
}

/* Every proper prefix of b asks for more: returns len, else the first
 * length that does not give 0. */
static size_t
hello_prefixes(const unsigned char *b, size_t len)
{
	struct hello	h;
	size_t		i;

	for (i = 0; i < len; i++)
		if (hello_exact(b, i, &h) != 0)
			return i;
	return len;
}

#define E(s)	s, sizeof(s) - 1
#define TAIL	"\x00" "\x00\x02\x13\x01" "\x01\x00"	/* the usual tail */

/*
 * One extension in an extensions block, its lengths worked out: EXT(t, s)
 * of type t with the body s; SNI_LIST(s) and ALPN_LIST(s) the server_name
 * and ALPN extensions whose (2-byte length prefixed) list holds the entries
 * s; SNI(name) a server_name of one host_name entry; ALPN(id) an ALPN of
 * one protocol id. RAW(s) is bytes as they stand, for broken lengths.
 */
struct ext_part {
	int		 type;	/* -1: RAW */
	int		 list;	/* a 2-byte list length before the entry */
	int		 entry;	/* bytes before s: 1, ALPN id length; 3,
				 * host_name type and length; or 0 */
	const char	*s;	/* NULL: the parts have ended */
	size_t		 len;
};
#define RAW(s)		{ -1, 0, 0, E(s) }
#define EXT(t, s)	{ t, 0, 0, E(s) }
#define SNI_LIST(s)	{ 0x0000, 1, 0, E(s) }
#define SNI(name)	{ 0x0000, 1, 3, E(name) }
#define ALPN_LIST(s)	{ 0x0010, 1, 0, E(s) }
#define ALPN(id)	{ 0x0010, 1, 1, E(id) }
#define EXT_PARTS	3	/* at most, in a test_hello row */

/* What hello_parse is to make of a hello: rc, sni, sni_bad and alpn. */
#define GOT(sni, alpn)	1, sni, 0, alpn
#define BAD_SNI		1, "", 1, 0
#define REJECTED	-1, "", 0, 0

/* Appends the parts p (up to one with s NULL) to b at *n. */
static void
put_ext(unsigned char *b, size_t *n, const struct ext_part *p)
{
	size_t	i, elen;

	for (i = 0; i < EXT_PARTS && p[i].s != NULL; i++) {
		elen = (size_t)p[i].entry + p[i].len;
		if (p[i].type >= 0) {
			put_int(b, n, (size_t)p[i].type, 2);
			put_int(b, n, elen + (p[i].list ? 2 : 0), 2);
		}
		if (p[i].list)
			put_int(b, n, elen, 2);
		if (p[i].entry == 3)
			b[(*n)++] = 0;	/* host_name */
		if (p[i].entry > 0)
			put_int(b, n, p[i].len, p[i].entry == 3 ? 2 : 1);
		put(b, n, p[i].s, p[i].len);
	}
}

/*
 * The hello with the extensions p (and the usual tail) in records of at
 * most frag bytes, into b, its body made in m. Returns the length.
 */
static size_t
hello_ext(unsigned char *b, unsigned char *m, const struct ext_part *p,
    size_t frag)
{
	size_t	n = 0, blen;

	put_ext(b, &n, p);
	blen = hello_body(m, E(TAIL), b, n);
	return hello_records(b, m, blen, frag);
}

/* hello_ext with the one extension p, its s made n bytes of c. */
static size_t
hello_filled(unsigned char *b, unsigned char *m, struct ext_part p, int c,
    size_t n, size_t frag)
{
	static char	fill[2 * HELLO_MAX];
	struct ext_part	one[EXT_PARTS] = { p };

	memset(fill, c, n);
	one[0].s = fill;
	one[0].len = n;
	return hello_ext(b, m, one, frag);
}

static void
test_hello(void)
{
	static const struct {
		const char	*what;
		struct ext_part	 ext[EXT_PARTS];	/* extensions block */
		int		 rc;
		const char	*sni;
		int		 sni_bad;
		unsigned	 alpn;
	} ext[] = {
		{ "no SNI, no ALPN", { EXT(0x0017, ""), EXT(0xff01, "\x00") },
		  GOT("", 0) },
		{ "SNI", { SNI("mta-sts.example.com") },
		  GOT("mta-sts.example.com", 0) },
		{ "SNI kept as sent", { SNI("MTA-STS.Example.COM.") },
		  GOT("MTA-STS.Example.COM.", 0) },
		{ "SNI after other extensions", { EXT(0x0017, ""),
		  EXT(0x1234, "xyz"), SNI("a.example") }, GOT("a.example", 0) },
		{ "SNI and ALPN", { SNI("a.example"), ALPN("http/1.1") },
		  GOT("a.example", HELLO_ALPN_HTTP11) },
		{ "SNI empty host name", { SNI("") }, BAD_SNI },
		{ "SNI with NUL", { SNI("a\0.example") }, BAD_SNI },
		{ "SNI with space", { SNI("a .example") }, BAD_SNI },
		{ "SNI with 8-bit bytes", { SNI("b\xc3\xbc" "cher.example") },
		  BAD_SNI },
		{ "SNI with control byte", { SNI("a\n.example") }, BAD_SNI },
		{ "SNI with two host names", { SNI_LIST("\x00\x00\x09"
		  "a.example" "\x00\x00\x09" "b.example") }, BAD_SNI },
		{ "SNI of another name type",
		  { SNI_LIST("\x01\x00\x09" "a.example") }, BAD_SNI },
		{ "SNI host name and another type", { SNI_LIST("\x00\x00\x09"
		  "a.example" "\x01\x00\x01" "x") }, BAD_SNI },
		{ "SNI extension empty", { EXT(0x0000, "") }, REJECTED },
		{ "SNI list empty", { SNI_LIST("") }, REJECTED },
		{ "SNI list longer than extension", { EXT(0x0000, "\x00\x0c"
		  "\x00\x00\x09" "a.exampl") }, REJECTED },
		{ "SNI name longer than list",
		  { SNI_LIST("\x00\x00\x0a" "a.example") }, REJECTED },
		{ "SNI entry cut short", { SNI_LIST("\x00\x00") }, REJECTED },
		{ "SNI byte after list", { EXT(0x0000, "\x00\x0c"
		  "\x00\x00\x09" "a.example" "\x00") }, REJECTED },
		{ "ALPN acme-tls/1", { ALPN("acme-tls/1") },
		  GOT("", HELLO_ALPN_ACME) },
		{ "ALPN list", { ALPN_LIST("\x02" "h2" "\x08" "http/1.1" "\x08"
		  "http/1.0" "\x0a" "acme-tls/1") }, GOT("", HELLO_ALPN_OTHER |
		  HELLO_ALPN_HTTP11 | HELLO_ALPN_HTTP10 | HELLO_ALPN_ACME) },
		{ "ALPN ids are case-sensitive", { ALPN("HTTP/1.1") },
		  GOT("", HELLO_ALPN_OTHER) },
		{ "ALPN prefix of a known id", { ALPN("http/1.") },
		  GOT("", HELLO_ALPN_OTHER) },
		{ "ALPN empty name", { ALPN_LIST("\x08" "http/1.1" "\x00") },
		  REJECTED },
		{ "ALPN list empty", { ALPN_LIST("") }, REJECTED },
		{ "ALPN extension empty", { EXT(0x0010, "") }, REJECTED },
		{ "ALPN name past list",
		  { EXT(0x0010, "\x00\x03" "\x08" "http") }, REJECTED },
		{ "ALPN byte after list",
		  { EXT(0x0010, "\x00\x03" "\x02" "h2" "\x00") }, REJECTED },
		{ "duplicate SNI", { SNI("a.example"), SNI("a.example") },
		  REJECTED },
		{ "duplicate unknown extension", { EXT(0xff01, "\x00"),
		  EXT(0x0017, ""), EXT(0xff01, "\x00") }, REJECTED },
		{ "duplicate type 65535", { EXT(0xffff, ""), EXT(0xffff, "") },
		  REJECTED },
		{ "extension past the block", { RAW("\x00\x17\x00\x05" "ab") },
		  REJECTED },
		{ "extension header cut short",
		  { EXT(0x0017, ""), RAW("\x00") }, REJECTED },
	};
	static const struct {
		const char	*what;
		const char	*tail;	/* after version and random */
		size_t		 len;
		int		 rc;
	} body[] = {
		{ "no extensions block (TLS 1.2)", E(TAIL), 1 },
		{ "empty extensions block", E(TAIL "\x00\x00"), 1 },
		{ "session id of 32", E("\x20"
		    "0123456789abcdef0123456789abcdef"
		    "\x00\x02\x13\x01" "\x01\x00"), 1 },
		{ "session id of 33", E("\x21"
		    "0123456789abcdef0123456789abcdef" "0"
		    "\x00\x02\x13\x01" "\x01\x00"), -1 },
		{ "odd cipher suites length", E("\x00" "\x00\x03\x13\x01\x13"
		    "\x01\x00"), -1 },
		{ "no cipher suites", E("\x00" "\x00\x00" "\x01\x00"
		    "\x00\x00"), -1 },
		{ "no compression methods", E("\x00" "\x00\x02\x13\x01"
		    "\x00" "\x00\x00"), -1 },
		{ "compression methods past the end", E("\x00" "\x00\x02\x13"
		    "\x01" "\x09\x00\x00\x00"), -1 },
		{ "byte after compression methods", E(TAIL "\x00"), -1 },
		{ "extensions block shorter than the rest", E(TAIL "\x00\x00"
		    "\x00"), -1 },
		{ "extensions block past the end", E(TAIL "\x00\x05"
		    "\x00\x17\x00\x00"), -1 },
	};
	static const struct {
		const char	*what;
		const char	*in;
		size_t		 len;
		int		 rc;
	} raw[] = {
		{ "nothing yet", E(""), 0 },
		{ "one byte of a record header", E("\x16"), 0 },
		{ "record header", E("\x16\x03\x01\x00\xe2"), 0 },
		{ "handshake type only", E("\x16\x03\x01\x00\xe2\x01"), 0 },
		{ "HTTP request", E("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), -1 },
		{ "HTTP request, first byte", E("G"), -1 },
		{ "SSLv2 hello", E("\x80\x2e\x01\x00\x02\x00\x15\x00\x00"),
		  -1 },
		{ "SSLv2 hello, first byte", E("\x80"), -1 },
		{ "alert record", E("\x15\x03\x01\x00\x02\x02\x28"), -1 },
		{ "application data record", E("\x17\x03\x03\x00\x01\x00"),
		  -1 },
		{ "record version 2", E("\x16\x02"), -1 },
		{ "empty record", E("\x16\x03\x01\x00\x00"), -1 },
		{ "record of 2^14 + 1", E("\x16\x03\x01\x40\x01"), -1 },
		{ "record that ends past HELLO_MAX", E("\x16\x03\x01\x40\x00"),
		  -1 },
		{ "ServerHello", E("\x16\x03\x03\x00\x30\x02"), -1 },
		{ "ClientHello too short for its fields",
		  E("\x16\x03\x01\x00\x2c\x01\x00\x00\x28"), -1 },
		{ "ClientHello longer than HELLO_MAX",
		  E("\x16\x03\x01\x00\x10\x01\x00\x3f\xf8"), -1 },
		{ "ClientHello shorter than its record",
		  E("\x16\x03\x01\x00\x31\x01\x00\x00\x2c"), -1 },
	};
	static unsigned char	 b[2 * HELLO_MAX], m[2 * HELLO_MAX];
	struct hello		 h;
	char			 what[200], detail[200];
	size_t			 i, n, blen, len, bad, over;
	int			 rc;

	/* openssl s_client's hellos */
	if ((hello_tls12_len = hello_seed("tls12-sni-alpn", hello_tls12,
	    sizeof(hello_tls12))) == 0 || (hello_tls13_len = hello_seed(
	    "tls13-sni-acme", hello_tls13, sizeof(hello_tls13))) == 0)
		return;
	rc = hello_exact(hello_tls12, hello_tls12_len, &h);
	check(rc == 1 && strcmp(h.sni, "mta-sts.example.com") == 0 &&
	    !h.sni_bad && h.alpn == HELLO_ALPN_HTTP11,
	    "hello: openssl TLS 1.2 hello", h.sni);
	rc = hello_exact(hello_tls13, hello_tls13_len, &h);
	check(rc == 1 && strcmp(h.sni, "mta-sts.example.com") == 0 &&
	    !h.sni_bad && h.alpn == HELLO_ALPN_ACME,
	    "hello: openssl TLS 1.3 hello", h.sni);
	n = hello_prefixes(hello_tls12, hello_tls12_len);
	snprintf(detail, sizeof(detail), "prefix of %zu bytes", n);
	check(n == hello_tls12_len, "hello: every prefix of the TLS 1.2 "
	    "hello gives 0", detail);
	n = hello_prefixes(hello_tls13, hello_tls13_len);
	snprintf(detail, sizeof(detail), "prefix of %zu bytes", n);
	check(n == hello_tls13_len, "hello: every prefix of the TLS 1.3 "
	    "hello gives 0", detail);

	/* What follows the hello's last record is not ours to judge. */
	memset(b, 0, sizeof(b));
	memcpy(b, hello_tls13, hello_tls13_len);
	memcpy(b + hello_tls13_len, "\x14\x03\x03\x00\x01\x01", 6);
	check(hello_exact(b, hello_tls13_len + 6, &h) == 1,
	    "hello: a record after the hello", NULL);
	check(hello_exact(b, sizeof(b), &h) == 1 &&
	    strcmp(h.sni, "mta-sts.example.com") == 0,
	    "hello: more than HELLO_MAX bytes in the buffer", NULL);
	/* ... but its own last record is. */
	memcpy(b, hello_tls12, hello_tls12_len);
	b[4]++;
	b[hello_tls12_len] = 0;
	check(hello_exact(b, hello_tls12_len + 1, &h) == -1 &&
	    hello_exact(b, 9, &h) == -1,
	    "hello: a byte after the hello in its record", NULL);

	/* The TLS 1.3 hello in records of every size; two from half on. */
	blen = hello_tls13_len - 9;
	memcpy(m, hello_tls13 + 9, blen);
	for (bad = 0, i = 1; i <= 4 + blen; i++) {
		len = hello_records(b, m, blen, i);
		if (hello_exact(b, len, &h) != 1 ||
		    strcmp(h.sni, "mta-sts.example.com") != 0 ||
		    h.alpn != HELLO_ALPN_ACME)
			bad++;
	}
	snprintf(detail, sizeof(detail), "%zu sizes failed", bad);
	check(bad == 0, "hello: in records of every size from 1 byte", detail);
	for (i = 2; i <= 200; i += 198) {
		len = hello_records(b, m, blen, i);
		n = hello_prefixes(b, len);
		snprintf(what, sizeof(what), "hello: every prefix of the "
		    "hello in records of %zu bytes gives 0", i);
		snprintf(detail, sizeof(detail), "prefix of %zu bytes", n);
		check(n == len, what, detail);
	}
	len = hello_records(b, m, blen, 100);
	b[5 + 100] = 23;
	check(hello_exact(b, len, &h) == -1 &&
	    hello_exact(b, 5 + 100 + 1, &h) == -1,
	    "hello: application data inside the hello", NULL);

	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		len = hello_ext(b, m, ext[i].ext, 16384);
		memset(&h, 'x', sizeof(h));
		rc = hello_exact(b, len, &h);
		snprintf(what, sizeof(what), "hello: %s -> %d", ext[i].what,
		    ext[i].rc);
		snprintf(detail, sizeof(detail), "%d, sni '%.50s', bad %d, "
		    "alpn %u", rc, rc == 1 ? h.sni : "", h.sni_bad, h.alpn);
		check(rc == ext[i].rc && (rc != 1 ||
		    (strcmp(h.sni, ext[i].sni) == 0 &&
		    h.sni_bad == ext[i].sni_bad && h.alpn == ext[i].alpn)),
		    what, detail);
	}
	for (i = 0; i < sizeof(body) / sizeof(body[0]); i++) {
		blen = hello_body(m, body[i].tail, body[i].len, NULL, 0);
		len = hello_records(b, m, blen, 16384);
		rc = hello_exact(b, len, &h);
		snprintf(what, sizeof(what), "hello: %s -> %d", body[i].what,
		    body[i].rc);
		snprintf(detail, sizeof(detail), "%d", rc);
		check(rc == body[i].rc && (rc != 1 || (h.sni[0] == '\0' &&
		    !h.sni_bad && h.alpn == 0)), what, detail);
	}
	blen = hello_body(m, E(TAIL), NULL, 0);
	m[0] = 2;
	len = hello_records(b, m, blen, 16384);
	check(hello_exact(b, len, &h) == -1, "hello: legacy_version 2.3",
	    NULL);
	for (i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		rc = hello_exact((const unsigned char *)raw[i].in, raw[i].len,
		    &h);
		snprintf(what, sizeof(what), "hello: %s -> %d", raw[i].what,
		    raw[i].rc);
		snprintf(detail, sizeof(detail), "%d", rc);
		check(rc == raw[i].rc, what, detail);
	}

	/* Names and protocol ids at their length limits */
	len = hello_filled(b, m, (struct ext_part)SNI(""), 'a', 255, 16384);
	check(hello_exact(b, len, &h) == 1 && strlen(h.sni) == 255 &&
	    !h.sni_bad, "hello: SNI of 255 bytes", NULL);
	len = hello_filled(b, m, (struct ext_part)SNI(""), 'a', 256, 16384);
	check(hello_exact(b, len, &h) == 1 && h.sni[0] == '\0' && h.sni_bad,
	    "hello: SNI of 256 bytes is bad", NULL);
	len = hello_filled(b, m, (struct ext_part)ALPN(""), 'x', 255, 16384);
	check(hello_exact(b, len, &h) == 1 && h.alpn == HELLO_ALPN_OTHER,
	    "hello: ALPN id of 255 bytes", NULL);

	/*
	 * HELLO_MAX bytes of records, padding (RFC 7685) making up the
	 * size: in one record, in two, and one byte more.
	 */
	for (i = 1; i <= 2; i++) {
		for (over = 0; over <= 1; over++) {
			/* 5 + 4 + 41 + 2 + 4 bytes besides the padding,
			 * per record 5 */
			len = hello_filled(b, m, (struct ext_part)EXT(0x0015,
			    ""), 0, HELLO_MAX - 51 + over - 5 * i,
			    i == 1 ? 16384 : 9000);
			snprintf(what, sizeof(what), "hello: %zu record(s) of "
			    "HELLO_MAX%s bytes", i, over ? " + 1" : "");
			snprintf(detail, sizeof(detail), "%zu bytes", len);
			check(len == HELLO_MAX + over &&
			    hello_exact(b, len, &h) == (over ? -1 : 1) &&
			    (!over || hello_exact(b, 9, &h) == -1), what,
			    detail);
		}
	}
	/* A hello too long for HELLO_MAX, rejected from its header on. */
	len = hello_filled(b, m, (struct ext_part)EXT(0x0015, ""), 0, 20000,
	    16384);
	check(hello_exact(b, len, &h) == -1 && hello_exact(b, 9, &h) == -1,
	    "hello: hello of 20 kB", NULL);
}

#undef E
#undef TAIL
#undef RAW
#undef EXT
#undef SNI_LIST
#undef SNI
#undef ALPN_LIST
#undef ALPN
#undef EXT_PARTS
#undef GOT
#undef BAD_SNI
#undef REJECTED

static void
test_name_norm(void)
{
	static const struct {
		const char	*in;
		size_t		 len;	/* 0: strlen(in) */
		size_t		 cap;
		const char	*out;	/* NULL: -1 */
	} t[] = {
		{ "example.com", 0, 256, "example.com" },
		{ "Mta-STS.Example.COM", 0, 256, "mta-sts.example.com" },
		{ "example.com.", 0, 256, "example.com" },
		{ "EXAMPLE.COM.", 0, 256, "example.com" },
		{ "*.Example.com", 0, 256, "*.example.com" },
		{ "xn--BCHER-kva.example", 0, 256, "xn--bcher-kva.example" },
		{ "b\xc3\x9c.example", 0, 256, "b\xc3\x9c.example" },
		{ "a", 0, 256, "a" },
		{ "", 0, 256, NULL },
		{ ".", 0, 256, NULL },
		{ "..", 0, 256, NULL },
		{ "example.com..", 0, 256, NULL },
		{ "example..com", 0, 256, "example..com" },	/* not a checker */
		{ "example.com", 0, 12, "example.com" },	/* exactly fits */
		{ "example.com.", 0, 12, "example.com" },
		{ "example.com", 0, 11, NULL },		/* no room for NUL */
		{ "example.com", 0, 0, NULL },
		{ "example.com", 7, 256, "example" },	/* len, not NUL */
		{ "example.com\0.evil", 18, 256, NULL },
		{ "example.com\0", 12, 256, NULL },
	};
	char	out[300], what[200];
	ssize_t	n;
	size_t	i, len;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		len = t[i].len != 0 ? t[i].len : strlen(t[i].in);
		memset(out, 'x', sizeof(out));
		n = name_norm(t[i].in, len, out, t[i].cap);
		snprintf(what, sizeof(what), "name_norm '%s' (%zu bytes, cap "
		    "%zu)", t[i].in, len, t[i].cap);
		if (t[i].out == NULL)
			check(n == -1 && out[0] == 'x', what, "not -1");
		else
			check(n == (ssize_t)strlen(t[i].out) &&
			    strcmp(out, t[i].out) == 0 && out[t[i].cap] == 'x',
			    what, n == -1 ? "-1" : out);
	}

	/* In place, as conf.c may call it. */
	{
		char	buf[] = "Mail.Example.ORG.";

		check(name_norm(buf, strlen(buf), buf, sizeof(buf)) == 16 &&
		    strcmp(buf, "mail.example.org") == 0,
		    "name_norm in place", buf);
	}
	{
		char	*h = name_mta_sts("example.com");

		check(h != NULL && strcmp(h, "mta-sts.example.com") == 0,
		    "name_mta_sts", h);
		free(h);
	}
}

/*
 * The connection state machine (conn.c) over a fake I/O layer. Each I/O
 * call takes the next letter of its own script; an empty script answers
 * "would block" (a read), "done" (a write or close_notify).
 *   peek:  h whole ClientHello, p half of one, g garbage, 0 EOF, - none yet
 *   hs:    o done, r/w want read/write, f fail, e EOF
 *   est:   o admitted, x refused at the cap
 *   rd:    d a request, e EOF, f fail, r want read
 *   wr:    o all written, w want write, f fail
 *   hrecv: d a response, 0 libmicrohttpd closed, - nothing yet
 *   cl:    o close_notify sent, w want write
 *   start, hopen: x TLS set-up / opening libmicrohttpd's side fails
 *   hsend: p libmicrohttpd is gone (EPIPE)
 * A row steps the machine once per letter of its "states" (the state
 * after each step) and checks what it waits for after the last.
 */
struct script {
	const char	*peek, *hs, *est, *rd, *wr, *hrecv, *cl;
	const char	*start, *hopen, *hsend;	/* x: fails; p: EPIPE */
};

struct fake {
	struct script	 s;
	int		 opened, shut, sent, started;
};

static unsigned char	fake_hello[128];
static size_t		fake_hello_len;

/* A minimal TLS 1.2 ClientHello with SNI mta-sts.example.com. */
static void
make_hello(void)
{
	static const char	sni[] = "mta-sts.example.com";
	unsigned char		*p = fake_hello;
	size_t			 n = sizeof(sni) - 1, body, ext;

	ext = 4 + 2 + 3 + n;
	body = 2 + 32 + 1 + 4 + 2 + 2 + ext;
	*p++ = 22; *p++ = 3; *p++ = 1;
	*p++ = (unsigned char)((body + 4) >> 8); *p++ = (unsigned char)(body + 4);
	*p++ = 1; *p++ = 0;
	*p++ = (unsigned char)(body >> 8); *p++ = (unsigned char)body;
	*p++ = 3; *p++ = 3;
	memset(p, 7, 32);
	p += 32;
	*p++ = 0;				/* session id */
	*p++ = 0; *p++ = 2; *p++ = 0xc0; *p++ = 0x2b;	/* one suite */
	*p++ = 1; *p++ = 0;			/* null compression */
	*p++ = (unsigned char)(ext >> 8); *p++ = (unsigned char)ext;
	*p++ = 0; *p++ = 0;			/* server_name */
	*p++ = (unsigned char)((n + 5) >> 8); *p++ = (unsigned char)(n + 5);
	*p++ = (unsigned char)((n + 3) >> 8); *p++ = (unsigned char)(n + 3);
	*p++ = 0;
	*p++ = (unsigned char)(n >> 8); *p++ = (unsigned char)n;
	memcpy(p, sni, n);
	p += n;
	fake_hello_len = (size_t)(p - fake_hello);
}

static char
pop(const char **script)
{
	return **script != '\0' ? *(*script)++ : '\0';
}

static ssize_t
f_peek(void *ctx, void *buf, size_t len)
{
	struct fake	*f = ctx;
	size_t		 n = fake_hello_len;

	switch (pop(&f->s.peek)) {
	case 'h':
		break;
	case 'p':
		n /= 2;
		break;
	case 'g':
		n = 64;
		memset(buf, 'x', n < len ? n : len);
		return (ssize_t)n;
	case '0':
		return 0;
	default:
		errno = EAGAIN;
		return -1;
	}
	memcpy(buf, fake_hello, n < len ? n : len);
	return (ssize_t)n;
}

static int
f_tls_start(void *ctx, const struct hello *h)
{
	struct fake	*f = ctx;

	f->started = strcmp(h->sni, "mta-sts.example.com") == 0 ? 1 : -1;
	return pop(&f->s.start) == 'x' ? -1 : 0;
}

static int
f_tls(const char **script, int blocked)
{
	switch (pop(script)) {
	case 'o':
	case 'd':
		return TLS_OK;
	case 'r':
		return TLS_WANT_READ;
	case 'w':
		return TLS_WANT_WRITE;
	case 'e':
		return TLS_EOF;
	case 'f':
		return TLS_FAIL;
	default:
		return blocked;
	}
}

static int
f_handshake(void *ctx)
{
	return f_tls(&((struct fake *)ctx)->s.hs, TLS_WANT_READ);
}

static int
f_tls_read(void *ctx, void *buf, size_t len, size_t *n)
{
	static const char	req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	int			r;

	r = f_tls(&((struct fake *)ctx)->s.rd, TLS_WANT_READ);
	*n = r == TLS_OK ? sizeof(req) - 1 : 0;
	if (r == TLS_OK)
		memcpy(buf, req, *n < len ? *n : len);
	return r;
}

static int
f_tls_write(void *ctx, const void *buf, size_t len, size_t *n)
{
	int	r;

	(void)buf;
	r = f_tls(&((struct fake *)ctx)->s.wr, TLS_OK);
	*n = r == TLS_OK ? len : 0;
	return r;
}

static int
f_tls_close(void *ctx)
{
	return f_tls(&((struct fake *)ctx)->s.cl, TLS_OK);
}

static int
f_established(void *ctx)
{
	return pop(&((struct fake *)ctx)->s.est) == 'x' ? -1 : 0;
}

static int
f_http_open(void *ctx)
{
	struct fake	*f = ctx;

	if (pop(&f->s.hopen) == 'x')
		return -1;
	f->opened++;
	return 0;
}

static ssize_t
f_http_send(void *ctx, const void *buf, size_t len)
{
	struct fake	*f = ctx;

	(void)buf;
	if (pop(&f->s.hsend) == 'p') {
		errno = EPIPE;
		return -1;
	}
	f->sent += (int)len;
	return (ssize_t)len;
}

static ssize_t
f_http_recv(void *ctx, void *buf, size_t len)
{
	switch (pop(&((struct fake *)ctx)->s.hrecv)) {
	case 'd':
		memset(buf, 'r', len < 10 ? len : 10);
		return 10;
	case '0':
		return 0;
	default:
		errno = EAGAIN;
		return -1;
	}
}

static void
f_http_shutdown(void *ctx)
{
	((struct fake *)ctx)->shut++;
}

static const struct conn_io fake_io = {
	f_peek, f_tls_start, f_handshake, f_tls_read, f_tls_write,
	f_tls_close, f_established, f_http_open, f_http_send, f_http_recv,
	f_http_shutdown
};

static void
test_conn(void)
{
	static const struct {
		const char	*name;
		struct script	 s;
		const char	*states;	/* A H S R C X, one per step */
		unsigned	 tcp_want;	/* after the last step */
		int		 opened;	/* libmicrohttpd's side */
		int		 shut;		/* its writing half shut */
	} t[] = {
		{ "no bytes yet: wait to read", { "-", "", "", "", "", "", "" , "", "", "" },
		    "A", IO_READ, 0, 0 },
		{ "half a ClientHello: wait for more bytes",
		    { "p", "", "", "", "", "", "" , "", "", "" }, "H", IO_MORE, 0, 0 },
		{ "half, then the rest: handshake",
		    { "ph", "r", "", "", "", "", "" , "", "", "" }, "HS", IO_READ, 0, 0 },
		{ "garbage: closed at once", { "g", "", "", "", "", "", "" , "", "", "" },
		    "X", 0, 0, 0 },
		{ "EOF before the ClientHello", { "0", "", "", "", "", "", "" , "", "", "" },
		    "X", 0, 0, 0 },
		{ "handshake wants to write", { "h", "w", "", "", "", "", "" , "", "", "" },
		    "S", IO_WRITE, 0, 0 },
		{ "handshake fails", { "h", "rf", "", "", "", "", "" , "", "", "" }, "SX",
		    0, 0, 0 },
		{ "client leaves mid-handshake", { "h", "e", "", "", "", "",
		    "" , "", "", "" }, "X", 0, 0, 0 },
		{ "handshake done: relaying, idle", { "h", "o", "o", "", "",
		    "", "" , "", "", "" }, "R", IO_READ, 0, 0 },
		{ "refused at the cap of established connections",
		    { "h", "o", "x", "", "", "", "" , "", "", "" }, "X", 0, 0, 0 },
		{ "TLS done without a request: close_notify, closed",
		    { "h", "o", "o", "e", "", "", "o" , "", "", "" }, "X", 0, 0, 0 },
		{ "close_notify blocked on writing", { "h", "o", "o", "e", "",
		    "", "w" , "", "", "" }, "C", IO_WRITE, 0, 0 },
		{ "a request opens libmicrohttpd's side, waits for it",
		    { "h", "o", "o", "d", "", "-", "" , "", "", "" }, "R", IO_READ, 1, 0 },
		{ "a response, then MHD closes: close_notify, closed",
		    { "h", "o", "o", "d", "", "--d0", "o" , "", "", "" }, "RX", 0, 1, 0 },
		{ "response blocked on the client: wait to write",
		    { "h", "o", "o", "d", "ww", "--d", "" , "", "", "" }, "RR", IO_READ |
		    IO_WRITE, 1, 0 },
		{ "TLS read fails while relaying", { "h", "o", "o", "f", "",
		    "", "" , "", "", "" }, "X", 0, 0, 0 },
		{ "TLS write fails while relaying", { "h", "o", "o", "d", "f",
		    "--d", "" , "", "", "" }, "RX", 0, 1, 0 },
		{ "TLS set-up fails", { "h", "", "", "", "", "", "", "x", "",
		    "" }, "X", 0, 0, 0 },
		{ "close_notify blocked, then sent", { "h", "o", "o", "e", "",
		    "", "wo", "", "", "" }, "CX", 0, 0, 0 },
		{ "libmicrohttpd refuses the connection", { "h", "o", "o", "d",
		    "", "", "", "", "x", "" }, "X", 0, 0, 0 },
		{ "libmicrohttpd gone before the request: closed", { "h", "o",
		    "o", "d", "", "0", "", "", "", "p" }, "X", 0, 1, 0 },
		{ "client done while libmicrohttpd answers: its half shut",
		    { "h", "o", "o", "de", "", "---d0", "", "", "", "" }, "RX",
		    0, 1, 1 },
	};
	static const char	letters[] = "AHSRCX";
	struct fake		f;
	struct conn		c;
	char			got[16], what[160];
	size_t			i, j;

	make_hello();
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&f, 0, sizeof(f));
		f.s = t[i].s;
		conn_init(&c, &fake_io, &f);
		for (j = 0; t[i].states[j] != '\0' && j < sizeof(got) - 1; j++)
			got[j] = letters[conn_step(&c)];
		got[j] = '\0';
		snprintf(what, sizeof(what), "conn: %s (states %s, want %u, "
		    "mhd %d)", t[i].name, got, c.tcp_want, f.opened);
		check(strcmp(got, t[i].states) == 0 &&
		    c.tcp_want == t[i].tcp_want && f.opened == t[i].opened &&
		    f.shut == t[i].shut && f.started >= 0, what, NULL);
		conn_free(&c);
	}
}

/*
 * UCI: a value of any length reaches the native form whole (it was cut
 * at 1023 bytes); CR LF line ends read like LF ones, and any other CR is
 * an error at its line.
 */
static void
test_uci(void)
{
	static const size_t	 lens[] = { 1023, 1024, 4096 };
	static const struct {
		const char	*in;
		const char	*want;	/* native form, or the error */
	} t[] = {
		{ "config mtasts-httpd\r\n\toption cert 'c'\r\n\r\n",
		    "\ncert c\n\n" },
		{ "config mtasts-httpd\n\toption cert c\r", "\ncert c" },
		{ "config mtasts-httpd\n\toption cert 'c\r'\r\n",
		    "t.uci:2: a carriage return (CR) that does not end the "
		    "line" },
		{ "config mtasts-httpd\n\toption cert c\rd\n",
		    "t.uci:2: a carriage return (CR) that does not end the "
		    "line" },
		{ "config mtasts-httpd\n\toption cert c\r\r\n",
		    "t.uci:2: a carriage return (CR) that does not end the "
		    "line" },
		{ "config mtasts-httpd # x\ry\r\n# z\rw\n", "\n\n" },
		{ "config mtasts-httpd\roption cert c\n",
		    "t.uci:1: a carriage return (CR) that does not end the "
		    "line" },
	};
	const char	*lf = "config mtasts-httpd 'main'\n\toption cert 'c'\n"
	    "\toption key 'k'\n\nconfig domain\n\toption name 'example.com'\n"
	    "\toption mode testing\n\tlist mx \"mail.example.com\"\n";
	struct diag	 d = { 0 };
	struct conf	*c = NULL;
	char		*in = NULL, *want = NULL, *out = NULL, *crlf = NULL;
	char		*lfout = NULL, what[100];
	size_t		 i, n, k;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		n = lens[i];
		if ((in = malloc(n + 64)) == NULL ||
		    (want = malloc(n + 16)) == NULL)
			goto oom;
		k = (size_t)sprintf(in, "config mtasts-httpd 'main'\n"
		    "\toption hook '/");
		memset(in + k, 'a', n - 1);
		strcpy(in + k + n - 1, "'\n");
		k = (size_t)sprintf(want, "\nhook /");
		memset(want + k, 'a', n - 1);
		strcpy(want + k + n - 1, "\n");
		out = uci_translate("t.uci", in, strlen(in), &d);
		snprintf(what, sizeof(what), "uci: a %zu-byte value is kept "
		    "whole", n);
		check(out != NULL && strcmp(out, want) == 0, what,
		    d.n ? d.msg[0] : NULL);
		free(out);
		free(in);
		free(want);
		out = in = want = NULL;
		diag_free(&d);
	}

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		out = uci_translate("t.uci", t[i].in, strlen(t[i].in), &d);
		snprintf(what, sizeof(what), "uci: CR case %zu", i + 1);
		if (out != NULL)
			check(d.n == 0 && strcmp(out, t[i].want) == 0, what,
			    out);
		else
			check(d.n == 1 && strcmp(d.msg[0], t[i].want) == 0,
			    what, d.n ? d.msg[0] : NULL);
		free(out);
		out = NULL;
		diag_free(&d);
	}

	/* The same file with CR LF line ends: the same native text. */
	if ((crlf = malloc(2 * strlen(lf) + 1)) == NULL)
		goto oom;
	for (i = k = 0; lf[i] != '\0'; i++) {
		if (lf[i] == '\n')
			crlf[k++] = '\r';
		crlf[k++] = lf[i];
	}
	crlf[k] = '\0';
	lfout = uci_translate("t.uci", lf, strlen(lf), &d);
	out = uci_translate("t.uci", crlf, strlen(crlf), &d);
	check(lfout != NULL && out != NULL && strcmp(out, lfout) == 0,
	    "uci: CR LF lines translate as LF ones", d.n ? d.msg[0] : out);
	diag_free(&d);
	c = conf_parse_buf("t.uci", crlf, strlen(crlf), &d);
	check(c != NULL && c->ndomains == 1 &&
	    strcmp(c->domains[0].name, "example.com") == 0 &&
	    c->domains[0].mode == MODE_TESTING && c->domains[0].nmx == 1,
	    "uci: a CR LF file parses", d.n ? d.msg[0] : NULL);
	goto out;
oom:
	check(0, "uci: out of memory", NULL);
out:
	conf_free(c);
	diag_free(&d);
	free(lfout);
	free(out);
	free(crlf);
	free(in);
	free(want);
}

/* ---- x509.c ---- */

/* openssl for cross-checks, when it is there: 1 if cmd exits 0. */
static int
x5_sh(const char *cmd)
{
	return system(cmd) == 0;
}

static void
test_b64url(void)
{
	static const struct {
		const char	*in;
		size_t		 len;
		const char	*out;
	} t[] = {	/* RFC 4648 10, without padding; RFC 7515 C */
		{ "", 0, "" },
		{ "f", 1, "Zg" },
		{ "fo", 2, "Zm8" },
		{ "foo", 3, "Zm9v" },
		{ "foob", 4, "Zm9vYg" },
		{ "fooba", 5, "Zm9vYmE" },
		{ "foobar", 6, "Zm9vYmFy" },
		{ "\xfb\xff", 2, "-_8" },
		{ "\x03\xec\xff\xe0\xc1", 5, "A-z_4ME" },
	};
	char	out[16], what[80];
	size_t	i;
	int	n;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		n = b64url(t[i].in, t[i].len, out, sizeof(out));
		snprintf(what, sizeof(what), "b64url: case %zu is \"%s\"",
		    i + 1, t[i].out);
		check(n == (int)strlen(t[i].out) && strcmp(out, t[i].out) == 0,
		    what, n >= 0 ? out : "-1");
	}
	check(b64url("foobar", 6, out, 9) == 8 && b64url("foobar", 6, out,
	    8) == -1 && b64url("", 0, out, 0) == -1,
	    "b64url: the NUL must fit in cap", NULL);
}

/* 32 bytes of x509_rng from a child, after fork(), with or without
 * x509_rng_fork(). */
static int
x5_child_bytes(int call_fork, unsigned char out[32])
{
	unsigned char	b[32];
	ssize_t		n = -1;
	pid_t		pid;
	int		fd[2], st;

	if (pipe(fd) == -1)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		close(fd[0]);
		if ((call_fork && x509_rng_fork() == -1) ||
		    x509_rng(NULL, b, sizeof(b)) != 0 ||
		    write(fd[1], b, sizeof(b)) != (ssize_t)sizeof(b))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	n = read(fd[0], out, 32);
	close(fd[0]);
	if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return -1;
	return n == 32 ? 0 : -1;
}

static void
test_x509_rng(void)
{
	unsigned char	a[32], b[32], c[32], *big = NULL;
	size_t		i, zero = 0;

	check(x509_rng(NULL, a, sizeof(a)) == 0 &&
	    x509_rng(NULL, b, sizeof(b)) == 0 && memcmp(a, b, 32) != 0,
	    "x509_rng: two draws differ", NULL);
	/* more than one CTR-DRBG request (1024 bytes) at a time */
	if ((big = calloc(1, 5000)) != NULL) {
		check(x509_rng(NULL, big, 5000) == 0, "x509_rng: 5000 bytes",
		    NULL);
		for (i = 4000; i < 5000; i++)
			zero += big[i] == 0;
		check(zero < 40, "x509_rng: the tail of a long draw is filled",
		    NULL);
		free(big);
	}
	/* After fork() the child must not repeat what the parent draws
	 * next: the states are the same copy. */
	check(x5_child_bytes(1, a) == 0 && x509_rng(NULL, b, 32) == 0 &&
	    memcmp(a, b, 32) != 0,
	    "x509_rng_fork: the child's bytes are not the parent's", NULL);
	check(x5_child_bytes(0, c) == 0 && x509_rng(NULL, b, 32) == 0 &&
	    memcmp(c, b, 32) != 0 && memcmp(c, a, 32) != 0,
	    "x509_rng: a child that forgot x509_rng_fork still differs", NULL);
}

/* The public point of pk, "04 || x || y". */
static int
x5_point(mbedtls_pk_context *pk, unsigned char out[65])
{
	unsigned char	buf[128], *p = buf + sizeof(buf);

	if (mbedtls_pk_write_pubkey(&p, buf, pk) != 65)
		return -1;
	memcpy(out, p, 65);
	return 0;
}

/* r || s back to DER, and mbedTLS's verification of it over msg. */
static int
x5_verify(struct ec_key *k, const void *msg, size_t len,
    const unsigned char sig[64])
{
	unsigned char	der[80], *p = der + sizeof(der), hash[32];
	mbedtls_mpi	r, s;
	size_t		n = 0;
	int		ret = -1, w;

	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	if (mbedtls_mpi_read_binary(&r, sig, 32) != 0 ||
	    mbedtls_mpi_read_binary(&s, sig + 32, 32) != 0 ||
	    (w = mbedtls_asn1_write_mpi(&p, der, &s)) < 0)
		goto out;
	n += (size_t)w;
	if ((w = mbedtls_asn1_write_mpi(&p, der, &r)) < 0)
		goto out;
	n += (size_t)w;
	if ((w = mbedtls_asn1_write_len(&p, der, n)) < 0)
		goto out;
	n += (size_t)w;
	if ((w = mbedtls_asn1_write_tag(&p, der, MBEDTLS_ASN1_CONSTRUCTED |
	    MBEDTLS_ASN1_SEQUENCE)) < 0)
		goto out;
	n += (size_t)w;
	if (compat_sha256(msg, len, hash) != 0)
		goto out;
	ret = mbedtls_pk_verify(eckey_pk(k), MBEDTLS_MD_SHA256, hash, 32, p,
	    n);
out:
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	return ret;
}

/* A P-384 key in PEM, made here: one eckey_parse must refuse. */
static char *
x5_p384_pem(void)
{
	mbedtls_pk_context	pk;
	unsigned char		buf[1024];
	char			*s = NULL;

	mbedtls_pk_init(&pk);
	if (mbedtls_pk_setup(&pk,
	    mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) == 0 &&
	    mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP384R1, mbedtls_pk_ec(pk),
	    x509_rng, NULL) == 0 &&
	    mbedtls_pk_write_key_pem(&pk, buf, sizeof(buf)) == 0)
		s = strdup((char *)buf);
	mbedtls_pk_free(&pk);
	return s;
}

static void
test_eckey(const char *dir)
{
	struct ec_key	*k = NULL, *k2 = NULL, *bad = NULL;
	unsigned char	 pt[65], sig[64], hash[32];
	char		 jwk[200], jwk2[200], x[44], y[44], want[200];
	char		 tp[44], tp2[44], err[256], cmd[1024], msg[40];
	char		*pem = NULL, *p384 = NULL, *both = NULL, *s = NULL;
	size_t		 i;
	int		 n, ok, short_rs = 0;

	err[0] = '\0';
	k = eckey_new(err, sizeof(err));
	check(k != NULL, "eckey_new: a P-256 key", err);
	if (k == NULL)
		return;

	/* RFC 7638 3.2: exactly the members, in order, no white space */
	n = eckey_jwk(k, jwk, sizeof(jwk));
	ok = x5_point(eckey_pk(k), pt) == 0 && pt[0] == 0x04 &&
	    b64url(pt + 1, 32, x, sizeof(x)) == 43 &&
	    b64url(pt + 33, 32, y, sizeof(y)) == 43;
	snprintf(want, sizeof(want), "{\"crv\":\"P-256\",\"kty\":\"EC\","
	    "\"x\":\"%s\",\"y\":\"%s\"}", x, y);
	check(ok && n == (int)strlen(want) && strcmp(jwk, want) == 0,
	    "eckey_jwk: crv, kty, x, y of the public point", jwk);
	check(eckey_jwk(k, jwk2, (size_t)n) == -1 &&
	    eckey_jwk(k, jwk2, (size_t)n + 1) == n,
	    "eckey_jwk: -1 when cap is too small", NULL);
	check(eckey_thumbprint(k, tp) == 0 && strlen(tp) == 43 &&
	    compat_sha256((unsigned char *)jwk, strlen(jwk), hash) == 0 &&
	    b64url(hash, 32, tp2, sizeof(tp2)) == 43 && strcmp(tp, tp2) == 0,
	    "eckey_thumbprint: base64url(SHA-256(JWK))", tp);

	/* ES256 over many messages: some r or s will be short (top byte
	 * zero) and must come out left-padded. */
	ok = 1;
	for (i = 0; ok && (i < 100 || (short_rs == 0 && i < 3000)); i++) {
		n = snprintf(msg, sizeof(msg), "message %zu", i);
		ok = eckey_sign(k, msg, (size_t)n, sig) == 0 &&
		    x5_verify(k, msg, (size_t)n, sig) == 0;
		short_rs += sig[0] == 0 || sig[32] == 0;
	}
	check(ok && short_rs > 0, "eckey_sign: ES256 signatures verify, "
	    "short r or s among them", msg);
	sig[10] ^= 1;
	check(x5_verify(k, msg, strlen(msg), sig) != 0,
	    "eckey_sign: a changed signature does not verify", NULL);
	check(eckey_sign(k, "", 0, sig) == 0 && x5_verify(k, "", 0, sig) == 0,
	    "eckey_sign: an empty message", NULL);

	/* PEM round trip */
	pem = eckey_pem(k);
	check(pem != NULL && strncmp(pem, "-----BEGIN EC PRIVATE KEY-----\n",
	    31) == 0, "eckey_pem: an EC PRIVATE KEY block", pem);
	if (pem != NULL) {
		k2 = eckey_parse(pem, strlen(pem), err, sizeof(err));
		check(k2 != NULL && eckey_jwk(k2, jwk2, sizeof(jwk2)) > 0 &&
		    strcmp(jwk, jwk2) == 0,
		    "eckey_parse: eckey_pem's text is the same key", err);
		/* a signature by the parsed key verifies under the first */
		check(k2 != NULL && eckey_sign(k2, "x", 1, sig) == 0 &&
		    x5_verify(k, "x", 1, sig) == 0,
		    "eckey_parse: the parsed key signs as the original", NULL);
		eckey_free(k2);
		k2 = NULL;
		/* not NUL-terminated where len ends: the copy is */
		if ((s = malloc(strlen(pem) + 8)) != NULL) {
			memcpy(s, pem, strlen(pem));
			memcpy(s + strlen(pem), "garbage", 8);
			k2 = eckey_parse(s, strlen(pem), err, sizeof(err));
			check(k2 != NULL, "eckey_parse: len bounds the text",
			    err);
			eckey_free(k2);
			k2 = NULL;
			free(s);
			s = NULL;
		}
		/* the ACME file: the chain, then the key */
		if ((both = malloc(strlen(pem) + 200)) != NULL) {
			snprintf(both, strlen(pem) + 200, "-----BEGIN "
			    "CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
			    "\n%s", pem);
			k2 = eckey_parse(both, strlen(both), err, sizeof(err));
			check(k2 != NULL && eckey_jwk(k2, jwk2,
			    sizeof(jwk2)) > 0 && strcmp(jwk, jwk2) == 0,
			    "eckey_parse: the key after a certificate", err);
			eckey_free(k2);
			k2 = NULL;
		}
	}
	err[0] = '\0';
	bad = eckey_parse("-----BEGIN EC PRIVATE KEY-----\nAAAA\n"
	    "-----END EC PRIVATE KEY-----\n", 65, err, sizeof(err));
	check(bad == NULL && strncmp(err, "key: ", 5) == 0,
	    "eckey_parse: a broken key is refused", err);
	eckey_free(bad);
	err[0] = '\0';
	bad = eckey_parse("", 0, err, sizeof(err));
	check(bad == NULL && err[0] != '\0', "eckey_parse: empty input", err);
	eckey_free(bad);
	if ((p384 = x5_p384_pem()) != NULL) {
		err[0] = '\0';
		bad = eckey_parse(p384, strlen(p384), err, sizeof(err));
		check(bad == NULL && strstr(err, "not an EC P-256 key") != NULL,
		    "eckey_parse: a P-384 key is refused", err);
		eckey_free(bad);
	}

	/* Cross-checks with openssl: its PKCS#8 P-256 key parses, and it
	 * accepts the key eckey_pem wrote. */
	if (!x5_sh("command -v openssl > /dev/null 2>&1")) {
		check(1, "x509: openssl cross-checks skipped (no openssl)",
		    NULL);
		goto out;
	}
	snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm EC -pkeyopt "
	    "ec_paramgen_curve:P-256 -out '%s/p8.pem' 2> /dev/null", dir);
	if (x5_sh(cmd) && (s = slurp(dir, "p8.pem")) != NULL) {
		k2 = eckey_parse(s, strlen(s), err, sizeof(err));
		check(k2 != NULL && strstr(s, "BEGIN PRIVATE KEY") != NULL,
		    "eckey_parse: openssl's PKCS#8 P-256 key", err);
		mbedtls_platform_zeroize(s, strlen(s));
		free(s);
		s = NULL;
		/* and openssl reads ours */
		if (k2 != NULL && pem != NULL) {
			st_put(dir, "ours.pem", pem);
			snprintf(cmd, sizeof(cmd), "openssl ec -in '%s/ours.pem' "
			    "-noout -check 2>&1 | grep -q 'EC Key valid'",
			    dir);
			check(x5_sh(cmd), "eckey_pem: openssl checks the key",
			    NULL);
		}
		eckey_free(k2);
		k2 = NULL;
	}
out:
	if (pem != NULL)
		mbedtls_platform_zeroize(pem, strlen(pem));
	free(pem);
	free(p384);
	free(both);
	eckey_free(k);
}

/* The SAN extension as it must appear in DER, for a host < 120 bytes:
 * OID, OCTET STRING { SEQUENCE { [2] host } } (not critical: no BOOLEAN
 * between). */
static size_t
x5_san(const char *host, unsigned char *out)
{
	size_t	l = strlen(host), n = 0;

	memcpy(out, "\x06\x03\x55\x1d\x11", 5);
	n = 5;
	out[n++] = 0x04;
	out[n++] = (unsigned char)(l + 4);
	out[n++] = 0x30;
	out[n++] = (unsigned char)(l + 2);
	out[n++] = 0x82;
	out[n++] = (unsigned char)l;
	memcpy(out + n, host, l);
	return n + l;
}

/*
 * Does the signature after tbs (a CSR's info, a certificate's TBS) in
 * raw, AlgorithmIdentifier ecdsa-with-SHA256 and a BIT STRING, verify
 * under pk? Read from the DER: mbedTLS 3 keeps its parsed copy private.
 */
static int
x5_signed(const mbedtls_x509_buf *raw, const mbedtls_x509_buf *tbs,
    mbedtls_pk_context *pk)
{
	unsigned char	*p = tbs->p + tbs->len, *end = raw->p + raw->len;
	unsigned char	 hash[32];
	mbedtls_asn1_buf alg, params;
	size_t		 n;

	if (mbedtls_asn1_get_alg(&p, end, &alg, &params) != 0 ||
	    MBEDTLS_OID_CMP(MBEDTLS_OID_ECDSA_SHA256, &alg) != 0 ||
	    mbedtls_asn1_get_bitstring_null(&p, end, &n) != 0 ||
	    p + n != end ||
	    compat_sha256(tbs->p, tbs->len, hash) != 0)
		return -1;
	return mbedtls_pk_verify(pk, MBEDTLS_MD_SHA256, hash, 32, p, n) == 0 ?
	    0 : -1;
}

/* Write len bytes to dir/name. */
static void
x5_put(const char *dir, const char *name, const void *buf, size_t len)
{
	char	path[512];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) != NULL) {
		fwrite(buf, 1, len, f);
		fclose(f);
	}
}

static void
test_x509_csr(const char *dir, int have_openssl)
{
	static const char	*hosts[] = {
		"mta-sts.example.com",
		/* 100 bytes: longer than a CN may be */
		"mta-sts.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaa.example.com",
	};
	struct ec_key		*k = NULL;
	mbedtls_x509_csr	 csr;
	unsigned char		*der = NULL, san[200];
	char			 err[256], dn[300], want[100], what[200];
	char			 cmd[1024], host[300];
	size_t			 len = 0, i, sl;
	int			 rc;

	if ((k = eckey_new(err, sizeof(err))) == NULL) {
		check(0, "x509_csr: a key", err);
		return;
	}
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		mbedtls_x509_csr_init(&csr);
		err[0] = '\0';
		rc = x509_csr(k, hosts[i], &der, &len, err, sizeof(err));
		snprintf(what, sizeof(what), "x509_csr: %zu-byte host",
		    strlen(hosts[i]));
		check(rc == 0, what, err);
		if (rc != 0)
			continue;
		sl = x5_san(hosts[i], san);
		snprintf(what, sizeof(what), "x509_csr: %zu-byte host: the "
		    "SAN, non-critical", strlen(hosts[i]));
		check(memmem(der, len, san, sl) != NULL, what, NULL);
		if (strlen(hosts[i]) > 64) {
			/* mbedTLS refuses an empty subject; CAs take it */
			snprintf(what, sizeof(what), "x509_csr: %zu-byte host: "
			    "no CN", strlen(hosts[i]));
			check(memmem(der, len, "\x06\x03\x55\x04\x03",
			    5) == NULL && memmem(der, len, "\x30\x00",
			    2) != NULL, what, NULL);
		} else {
			snprintf(want, sizeof(want), "CN=%s", hosts[i]);
			snprintf(what, sizeof(what), "x509_csr: %zu-byte host: "
			    "parses, subject \"%s\"", strlen(hosts[i]), want);
			check(mbedtls_x509_csr_parse_der(&csr, der, len) == 0 &&
			    mbedtls_x509_dn_gets(dn, sizeof(dn),
			    &csr.subject) > 0 && strcmp(dn, want) == 0, what,
			    dn);
			snprintf(what, sizeof(what), "x509_csr: %zu-byte host: "
			    "signed by the key (SHA-256)", strlen(hosts[i]));
			check(x5_signed(&csr.raw, &csr.cri, eckey_pk(k)) == 0,
			    what, NULL);
		}
		if (have_openssl) {
			x5_put(dir, "csr.der", der, len);
			snprintf(cmd, sizeof(cmd), "openssl req -inform DER -in "
			    "'%s/csr.der' -verify -noout -text 2>&1 | "
			    "grep -q 'DNS:%s$'", dir, hosts[i]);
			snprintf(what, sizeof(what), "x509_csr: %zu-byte host: "
			    "openssl verifies it, sees the SAN",
			    strlen(hosts[i]));
			check(x5_sh(cmd), what, NULL);
		}
		mbedtls_x509_csr_free(&csr);
		free(der);
		der = NULL;
	}

	/* the longest name DNS has: lengths in two bytes */
	memset(host, 'a', 253);
	host[253] = '\0';
	for (i = 63; i < 253; i += 64)
		host[i] = '.';
	check(x509_csr(k, host, &der, &len, err, sizeof(err)) == 0 &&
	    len > 253 * 2 - 64, "x509_csr: a 253-byte host", err);
	free(der);
	der = NULL;
	host[253] = 'a';
	host[254] = '\0';
	err[0] = '\0';
	check(x509_csr(k, host, &der, &len, err, sizeof(err)) == -1 &&
	    strstr(err, "not a host name") != NULL,
	    "x509_csr: a 254-byte host is refused", err);
	err[0] = '\0';
	check(x509_csr(k, "a,CN=b.example", &der, &len, err,
	    sizeof(err)) == -1 && strstr(err, "not a host name") != NULL,
	    "x509_csr: no DN syntax through the host", err);
	eckey_free(k);
}

/* What the extension callback saw of id-pe-acmeIdentifier. */
struct x5_ext {
	int		n, critical, other;
	unsigned char	val[64];
	size_t		len;
};

static int
x5_ext_cb(void *ctx, mbedtls_x509_crt const *crt,
    mbedtls_x509_buf const *oid, int critical, const unsigned char *p,
    const unsigned char *end)
{
	struct x5_ext	*e = ctx;

	(void)crt;
	if (oid->len != 8 || memcmp(oid->p,
	    "\x2b\x06\x01\x05\x05\x07\x01\x1f", 8) != 0) {
		e->other++;
		return MBEDTLS_ERR_X509_INVALID_EXTENSIONS;
	}
	e->n++;
	e->critical = critical;
	e->len = (size_t)(end - p);
	if (e->len <= sizeof(e->val))
		memcpy(e->val, p, e->len);
	return 0;
}

static void
test_x509_acme_cert(const char *dir, int have_openssl)
{
	static const char	*hosts[] = {
		"mta-sts.example.com",
		"mta-sts.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaa.example.com",
	};
	struct ec_key		*key = NULL;
	mbedtls_x509_crt	 crt;
	struct x5_ext		 e;
	unsigned char		 digest[32], *der = NULL;
	unsigned char		 a[65], b[65], san[200];
	char			 err[256], what[120], cmd[1024], dn[300];
	size_t			 len = 0, i, sl;
	int			 rc, long_host;

	for (i = 0; i < 32; i++)
		digest[i] = (unsigned char)(0xa0 + i);
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		long_host = strlen(hosts[i]) > 64;
		mbedtls_x509_crt_init(&crt);
		memset(&e, 0, sizeof(e));
		err[0] = '\0';
		rc = x509_acme_cert(hosts[i], digest, &der, &len, &key, err,
		    sizeof(err));
		snprintf(what, sizeof(what), "x509_acme_cert: %s host: "
		    "parses with the extension callback",
		    long_host ? "long" : "short");
		check(rc == 0 && mbedtls_x509_crt_parse_der_with_ext_cb(&crt,
		    der, len, 1, x5_ext_cb, &e) == 0, what, err);
		if (rc != 0)
			continue;
		snprintf(what, sizeof(what), "x509_acme_cert: %s host: "
		    "acmeIdentifier critical, OCTET STRING of the digest",
		    long_host ? "long" : "short");
		check(e.n == 1 && e.other == 0 && e.critical == 1 &&
		    e.len == 34 && e.val[0] == 0x04 && e.val[1] == 32 &&
		    memcmp(e.val + 2, digest, 32) == 0, what, NULL);
		sl = x5_san(hosts[i], san);
		snprintf(what, sizeof(what), "x509_acme_cert: %s host: the "
		    "only SAN", long_host ? "long" : "short");
		check(crt.subject_alt_names.next == NULL &&
		    crt.subject_alt_names.buf.tag ==
		    (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2) &&
		    crt.subject_alt_names.buf.len == strlen(hosts[i]) &&
		    memcmp(crt.subject_alt_names.buf.p, hosts[i],
		    strlen(hosts[i])) == 0 && memmem(der, len, san, sl) != NULL,
		    what, NULL);
		mbedtls_x509_dn_gets(dn, sizeof(dn), &crt.subject);
		snprintf(what, sizeof(what), "x509_acme_cert: %s host: "
		    "subject %s", long_host ? "long" : "short",
		    long_host ? "a fixed CN" : "CN=host");
		check(long_host ? strcmp(dn, "CN=ACME TLS-ALPN-01 "
		    "validation") == 0 : strncmp(dn, "CN=", 3) == 0 &&
		    strcmp(dn + 3, hosts[i]) == 0, what, dn);
		snprintf(what, sizeof(what), "x509_acme_cert: %s host: "
		    "self-signed by the key returned, valid now",
		    long_host ? "long" : "short");
		check(x5_point(&crt.pk, a) == 0 &&
		    x5_point(eckey_pk(key), b) == 0 && memcmp(a, b, 65) == 0 &&
		    x5_signed(&crt.raw, &crt.tbs, &crt.pk) == 0 &&
		    crt.version == 3 && crt.serial.len == 16 &&
		    (crt.serial.p[0] & 0x80) == 0 && crt.serial.p[0] != 0 &&
		    mbedtls_x509_time_is_past(&crt.valid_from) &&
		    mbedtls_x509_time_is_future(&crt.valid_to) &&
		    crt.valid_to.year * 10000 + crt.valid_to.mon * 100 +
		    crt.valid_to.day < (crt.valid_from.year + 1) * 10000 +
		    crt.valid_from.mon * 100 + crt.valid_from.day,
		    what, NULL);
		if (have_openssl) {
			x5_put(dir, "acme.der", der, len);
			snprintf(cmd, sizeof(cmd), "t=$(openssl x509 -inform "
			    "DER -in '%s/acme.der' -noout -text 2>&1) && "
			    "echo \"$t\" | grep -q '1.3.6.1.5.5.7.1.31: "
			    "critical' && echo \"$t\" | grep -q 'DNS:%s$' && "
			    "openssl x509 -inform DER -in '%s/acme.der' "
			    "-noout -checkend 518000 > /dev/null",
			    dir, hosts[i], dir);
			snprintf(what, sizeof(what), "x509_acme_cert: %s "
			    "host: openssl sees the extension and the SAN",
			    long_host ? "long" : "short");
			check(x5_sh(cmd), what, NULL);
		}
		/* each one has its own key and serial */
		if (i == 0) {
			struct ec_key	*key2 = NULL;
			unsigned char	*der2 = NULL;
			size_t		 len2 = 0;

			check(x509_acme_cert(hosts[0], digest, &der2, &len2,
			    &key2, err, sizeof(err)) == 0 &&
			    x5_point(eckey_pk(key2), a) == 0 &&
			    memcmp(a, b, 65) != 0 && len2 > 100 &&
			    memmem(der2, len2, crt.serial.p, 16) == NULL,
			    "x509_acme_cert: a fresh key and serial each time",
			    err);
			eckey_free(key2);
			free(der2);
		}
		mbedtls_x509_crt_free(&crt);
		eckey_free(key);
		key = NULL;
		free(der);
		der = NULL;
	}
	err[0] = '\0';
	check(x509_acme_cert("", digest, &der, &len, &key, err,
	    sizeof(err)) == -1 && key == NULL && err[0] != '\0',
	    "x509_acme_cert: an empty host is refused", err);
}

/* What x509_info makes of t: where time_t has 32 bits (armhf, Debian
 * 12) times after 2038 saturate. */
static time_t
x5_time(long long t)
{
	if (sizeof(time_t) < 8 && t > INT32_MAX)
		return (time_t)INT32_MAX;
	return (time_t)t;
}

/* A certificate made here, with the facts x509_info must read back. */
static char *
x5_cert_pem(const char *from, const char *until,
    const unsigned char *serial, size_t slen, const char *const *sans)
{
	mbedtls_x509write_cert	 w;
	unsigned char		 san[600], *p = san + sizeof(san);
	unsigned char		 buf[2048], pem[4096];
	struct ec_key		*k = NULL;
	char			 err[100], *s = NULL;
	size_t			 n = 0, i, olen;
	int			 ret;

	mbedtls_x509write_crt_init(&w);
	if ((k = eckey_new(err, sizeof(err))) == NULL)
		goto out;
	for (i = 0; sans[i] != NULL; i++)
		;
	while (i-- > 0) {
		if ((ret = mbedtls_asn1_write_raw_buffer(&p, san,
		    (const unsigned char *)sans[i], strlen(sans[i]))) < 0)
			goto out;
		n += (size_t)ret + (size_t)mbedtls_asn1_write_len(&p, san,
		    strlen(sans[i]));
		n += (size_t)mbedtls_asn1_write_tag(&p, san,
		    MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2);
	}
	n += (size_t)mbedtls_asn1_write_len(&p, san, n);
	n += (size_t)mbedtls_asn1_write_tag(&p, san,
	    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, eckey_pk(k));
	mbedtls_x509write_crt_set_issuer_key(&w, eckey_pk(k));
	if (compat_crt_set_serial(&w, (unsigned char *)serial, slen) != 0 ||
	    mbedtls_x509write_crt_set_subject_name(&w, "CN=Test") != 0 ||
	    mbedtls_x509write_crt_set_issuer_name(&w, "CN=Test CA") != 0 ||
	    mbedtls_x509write_crt_set_validity(&w, from, until) != 0 ||
	    mbedtls_x509write_crt_set_extension(&w,
	    MBEDTLS_OID_SUBJECT_ALT_NAME,
	    MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, p, n) != 0 ||
	    (ret = mbedtls_x509write_crt_der(&w, buf, sizeof(buf), x509_rng,
	    NULL)) < 0 ||
	    mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n",
	    "-----END CERTIFICATE-----\n", buf + sizeof(buf) - ret,
	    (size_t)ret, pem, sizeof(pem), &olen) != 0)
		goto out;
	s = strdup((char *)pem);
out:
	mbedtls_x509write_crt_free(&w);
	eckey_free(k);
	return s;
}

static void
test_x509_info(const char *dir, int have_openssl)
{
	static const char *const	 sans[] = { "mta-sts.example.com",
	    "*.example.net", "Other.Example.ORG", NULL };
	static const char *const	 sans2[] = { "second.example", NULL };
	static const unsigned char	 serial[] = { 0x00, 0x8f, 0x01, 0x02 };
	static const unsigned char	 serial2[] = { 0x7f };
	static const struct {
		const char	*host;
		int		 covers;
	} t[] = {
		{ "mta-sts.example.com", 1 },
		{ "MTA-STS.example.COM", 1 },
		{ "mta-sts.example.com.", 1 },
		{ "mta-sts.example.net", 1 },	/* the wildcard */
		{ "a.b.example.net", 0 },	/* one label only */
		{ "example.net", 0 },
		{ "other.example.org", 1 },
		{ "example.com", 0 },
		{ "xmta-sts.example.com", 0 },
	};
	struct x509_info	 info;
	char			*pem = NULL, *pem2 = NULL, *chain = NULL;
	char			 err[256], what[120], cmd[1024], *s = NULL;
	size_t			 i, n;
	time_t			 far;
	int			 rc;

	far = x5_time(4102444799LL);
	pem = x5_cert_pem("20240229120000", "20991231235959", serial,
	    sizeof(serial), sans);
	pem2 = x5_cert_pem("20490101000000", "20500101000000", serial2,
	    sizeof(serial2), sans2);
	if (pem == NULL || pem2 == NULL) {
		check(0, "x509_info: test certificates", NULL);
		goto out;
	}
	err[0] = '\0';
	rc = x509_info(pem, strlen(pem), "mta-sts.example.com", &info, err,
	    sizeof(err));
	check(rc == 0 && info.not_before == 1709208000 &&
	    info.not_after == far,
	    "x509_info: notBefore, notAfter (a leap day; 2099)", err);
	check(rc == 0 && strcmp(info.serial, "8F0102") == 0,
	    "x509_info: serial in hex, no leading zero byte", info.serial);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		rc = x509_info(pem, strlen(pem), t[i].host, &info, err,
		    sizeof(err));
		snprintf(what, sizeof(what), "x509_info: %s %s covered",
		    t[i].host, t[i].covers ? "is" : "is not");
		check(rc == 0 && info.covers == t[i].covers, what, err);
	}
	check(x509_info(pem, strlen(pem), NULL, &info, err,
	    sizeof(err)) == 0 && info.covers == 0,
	    "x509_info: no host, covers nothing", err);
	/* UTCTime up to 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5) */
	rc = x509_info(pem2, strlen(pem2), "second.example", &info, err,
	    sizeof(err));
	check(rc == 0 && info.not_before == x5_time(2493072000LL) &&
	    info.covers && strcmp(info.serial, "7F") == 0,
	    "x509_info: 2049 UTCTime, serial 7F", info.serial);
	check(rc == 0 && info.not_after == x5_time(2524608000LL),
	    "x509_info: 2050 GeneralizedTime", err);

	/* the first certificate of a chain counts; a key after it is fine */
	n = strlen(pem) + strlen(pem2) + 200;
	if ((chain = malloc(n)) == NULL)
		goto out;
	snprintf(chain, n, "%s%s-----BEGIN EC PRIVATE KEY-----\nAAAA\n"
	    "-----END EC PRIVATE KEY-----\n", pem2, pem);
	check(x509_info(chain, strlen(chain), "second.example", &info, err,
	    sizeof(err)) == 0 && info.covers &&
	    strcmp(info.serial, "7F") == 0,
	    "x509_info: the first certificate of a chain", err);
	/* len bounds the text: only the first certificate is in it */
	check(x509_info(chain, strlen(pem2), "second.example", &info, err,
	    sizeof(err)) == 0 && strcmp(info.serial, "7F") == 0,
	    "x509_info: len bounds the text", err);
	err[0] = '\0';
	check(x509_info(chain, strlen(pem2) - 30, "second.example", &info, err,
	    sizeof(err)) == -1 && err[0] != '\0',
	    "x509_info: a cut certificate is an error", err);
	err[0] = '\0';
	check(x509_info("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC "
	    "PRIVATE KEY-----\n", 60, "x", &info, err, sizeof(err)) == -1 &&
	    strstr(err, "no PEM certificate") != NULL,
	    "x509_info: no certificate is an error", err);
	err[0] = '\0';
	check(x509_info("", 0, "x", &info, err, sizeof(err)) == -1 &&
	    err[0] != '\0', "x509_info: empty input", err);
	/* garbage inside the PEM armour */
	memcpy(chain, pem2, strlen(pem2) + 1);
	chain[40] = chain[40] == 'A' ? 'B' : 'A';
	chain[41] = chain[41] == 'A' ? 'B' : 'A';
	err[0] = '\0';
	check(x509_info(chain, strlen(chain), "x", &info, err,
	    sizeof(err)) == -1 && strncmp(err, "certificate: ", 13) == 0,
	    "x509_info: a damaged certificate is an error", err);

	if (have_openssl) {
		st_put(dir, "info.pem", pem);
		snprintf(cmd, sizeof(cmd), "openssl x509 -in '%s/info.pem' "
		    "-noout -serial > '%s/serial' 2>&1", dir, dir);
		s = x5_sh(cmd) ? slurp(dir, "serial") : NULL;
		check(s != NULL && strcmp(s, "serial=8F0102\n") == 0,
		    "x509_info: the serial as openssl prints it", s);
		free(s);
	}
out:
	free(pem);
	free(pem2);
	free(chain);
}

static void
test_x509(void)
{
	char	dir[256];
	int	have_openssl;

	snprintf(dir, sizeof(dir), "%s/unit-x509.%ld",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid());
	if (mkdir(dir, 0700) == -1) {
		check(0, "x509: a scratch directory", strerror(errno));
		return;
	}
	have_openssl = x5_sh("command -v openssl > /dev/null 2>&1");
	test_b64url();
	test_x509_rng();
	test_eckey(dir);
	test_x509_csr(dir, have_openssl);
	test_x509_acme_cert(dir, have_openssl);
	test_x509_info(dir, have_openssl);
	system_rm(dir);
}

/* ---- fetch.c: the HTTP response parser; "unit fetch" for t-fetch.sh ---- */

/* fetch_parse on a C string; *r filled, err set; rc returned. */
static int
fparse(const char *s, struct fetch_resp *r, char *err, size_t errlen)
{
	err[0] = '\0';
	return fetch_parse(s, strlen(s), r, err, errlen);
}

/* fetch_parse must fail on s with an error containing want. */
static void
fparse_bad(const char *what, const char *s, const char *want)
{
	struct fetch_resp	r;
	char			err[256], msg[400];
	int			rc;

	rc = fparse(s, &r, err, sizeof(err));
	snprintf(msg, sizeof(msg), "rc %d, err \"%s\", want \"%s\"", rc, err,
	    want);
	check(rc == -1 && strstr(err, want) != NULL && r.body == NULL, what,
	    msg);
	fetch_resp_free(&r);
}

/* fetch_parse must succeed on s with this status and body. */
static void
fparse_ok(const char *what, const char *s, int status, const char *body,
    struct fetch_resp *r)
{
	char	err[256], msg[400];
	int	rc;

	rc = fparse(s, r, err, sizeof(err));
	snprintf(msg, sizeof(msg), "rc %d (%s), status %d, body \"%.100s\"",
	    rc, err, r->status, r->body ? r->body : "(null)");
	check(rc == 0 && r->status == status && r->body != NULL &&
	    r->body_len == strlen(body) && strcmp(r->body, body) == 0, what,
	    msg);
}

/* fetch_parse must fail on s[0..len) with an error containing want, and
 * that error, though it quotes the response, must hold only printable
 * ASCII (no CR, ESC, DEL: it goes to the log) and no more than 60 bytes
 * of the response. */
static void
fparse_quoted(const char *what, const char *s, size_t len, const char *want)
{
	struct fetch_resp	r;
	char			err[512], msg[700];
	size_t			i;
	int			rc, clean = 1;

	err[0] = '\0';
	rc = fetch_parse(s, len, &r, err, sizeof(err));
	for (i = 0; err[i] != '\0'; i++)
		if ((unsigned char)err[i] < 0x20 ||
		    (unsigned char)err[i] >= 0x7f)
			clean = 0;
	/* printable already: for the message */
	snprintf(msg, sizeof(msg), "rc %d, err \"%s\", want \"%s\"", rc,
	    clean ? err : "(has control bytes)", want);
	check(rc == -1 && clean && strstr(err, want) != NULL &&
	    strlen(err) < 60 + 70, what, msg);
	fetch_resp_free(&r);
}

/* Retry-After: value as the only interesting field; the result. */
static long
fparse_retry(const char *value)
{
	struct fetch_resp	r;
	char			buf[300], err[256];
	long			ra;

	snprintf(buf, sizeof(buf), "HTTP/1.1 503 Busy\r\nRetry-After: %s\r\n"
	    "Content-Length: 0\r\n\r\n", value);
	if (fparse(buf, &r, err, sizeof(err)) == -1)
		return -2;
	ra = r.retry_after;
	fetch_resp_free(&r);
	return ra;
}

/* A response of head + body, body n bytes of 'x' (malloc'd). */
static char *
fbig(const char *head, size_t n, size_t *len)
{
	size_t	 hl = strlen(head);
	char	*s;

	if ((s = malloc(hl + n + 1)) == NULL)
		return NULL;
	memcpy(s, head, hl);
	memset(s + hl, 'x', n);
	s[hl + n] = '\0';
	*len = hl + n;
	return s;
}

static void
test_fetch(void)
{
	struct fetch_resp	 r;
	char			 err[256], msg[300], buf[2048], *big = NULL;
	size_t			 len, i;
	time_t			 t0, t1;
	long			 ra;
	int			 rc;

	fparse_ok("fetch: Content-Length body",
	    "HTTP/1.1 200 OK\r\nContent-Type: application/json; "
	    "charset=utf-8\r\nContent-Length: 5\r\n\r\nhello", 200, "hello",
	    &r);
	check(strcmp(r.content_type, "application/json") == 0 &&
	    r.nonce[0] == '\0' && r.location[0] == '\0' &&
	    r.retry_after == -1, "fetch: media type without parameters; "
	    "absent fields empty", r.content_type);
	fetch_resp_free(&r);
	check(r.body == NULL, "fetch: fetch_resp_free clears the body", NULL);
	fetch_resp_free(&r);	/* twice is harmless */

	fparse_ok("fetch: field names are case-insensitive",
	    "HTTP/1.1 201 Created\r\ncontent-LENGTH: 2\r\nREPLAY-nonce: "
	    "AbC-_09\r\nLOCATION: https://acme.test/acme/order/1\r\n"
	    "Content-Type:  Application/JSON ; charset=UTF-8 \r\n\r\n{}",
	    201, "{}", &r);
	check(strcmp(r.nonce, "AbC-_09") == 0 &&
	    strcmp(r.location, "https://acme.test/acme/order/1") == 0 &&
	    strcmp(r.content_type, "application/json") == 0,
	    "fetch: Replay-Nonce, Location, Content-Type lower-cased",
	    r.content_type);
	fetch_resp_free(&r);

	fparse_ok("fetch: chunked, with extensions and a trailer",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5;name=\"v\"\r\nhello\r\n6 ; a ;b=c\r\n world\r\n0000\r\n"
	    "X-Trailer: 1\r\nY: 2\r\n\r\n", 200, "hello world", &r);
	fetch_resp_free(&r);
	fparse_ok("fetch: chunked with upper-case hex and a large chunk",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
	    "A\r\n0123456789\r\n0\r\n\r\n", 200, "0123456789", &r);
	fetch_resp_free(&r);
	fparse_ok("fetch: chunked wins over Content-Length (RFC 9112 6.3)",
	    "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 200, "abc", &r);
	fetch_resp_free(&r);
	fparse_ok("fetch: no length: the body runs to EOF",
	    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end\n",
	    200, "to the end\n", &r);
	fetch_resp_free(&r);
	fparse_ok("fetch: bytes past Content-Length are dropped",
	    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef", 200, "abc",
	    &r);
	fetch_resp_free(&r);
	fparse_ok("fetch: identical Content-Lengths are one (RFC 9110 8.6)",
	    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n"
	    "\r\nabc", 200, "abc", &r);
	fetch_resp_free(&r);
	fparse_ok("fetch: 204 has no body whatever it says",
	    "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\nReplay-Nonce: "
	    "n1\r\n\r\n", 204, "", &r);
	check(strcmp(r.nonce, "n1") == 0, "fetch: 204's nonce", r.nonce);
	fetch_resp_free(&r);
	fparse_ok("fetch: 1xx interim responses are skipped",
	    "HTTP/1.1 100 Continue\r\nReplay-Nonce: old\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, "ok", &r);
	check(r.nonce[0] == '\0', "fetch: an interim response's fields "
	    "are not the final one's", r.nonce);
	fetch_resp_free(&r);
	fparse_ok("fetch: HTTP/1.0, no reason phrase",
	    "HTTP/1.0 404\r\nContent-Length: 0\r\n\r\n", 404, "", &r);
	fetch_resp_free(&r);
	/* RFC 9112 2.2: a recipient MAY take a bare LF as a line end; we
	 * do, in the header and in chunk lines. */
	fparse_ok("fetch: bare LF line ends are tolerated",
	    "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\nReplay-Nonce: x\n\n"
	    "2\nab\n1\r\nc\n0\n\n", 200, "abc", &r);
	check(strcmp(r.nonce, "x") == 0, "fetch: bare LF: fields read",
	    r.nonce);
	fetch_resp_free(&r);
	fparse_ok("fetch: problem document",
	    "HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem"
	    "+json\r\nReplay-Nonce: n2\r\nContent-Length: 64\r\n\r\n"
	    "{\"type\":\"urn:ietf:params:acme:error:badNonce\",\"detail\":"
	    "\"stale\"}\n", 400,
	    "{\"type\":\"urn:ietf:params:acme:error:badNonce\",\"detail\":"
	    "\"stale\"}\n", &r);
	check(strcmp(r.content_type, "application/problem+json") == 0,
	    "fetch: problem+json media type", r.content_type);
	fetch_resp_free(&r);

	/* Replay-Nonce: an invalid one is ignored (RFC 8555 6.5.1); one that
	 * does not fit is an error, as is a Location that does not. */
	fparse_ok("fetch: a nonce that is not base64url is ignored",
	    "HTTP/1.1 200 OK\r\nReplay-Nonce: a b=\r\nContent-Length: 0\r\n"
	    "\r\n", 200, "", &r);
	check(r.nonce[0] == '\0', "fetch: bad nonce left empty", r.nonce);
	fetch_resp_free(&r);
	snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nReplay-Nonce: %0255d"
	    "\r\nContent-Length: 0\r\n\r\n", 7);
	fparse_ok("fetch: a 255-byte nonce fits", buf, 200, "", &r);
	check(strlen(r.nonce) == 255, "fetch: 255-byte nonce kept", NULL);
	fetch_resp_free(&r);
	snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nReplay-Nonce: %0256d"
	    "\r\nContent-Length: 0\r\n\r\n", 7);
	fparse_bad("fetch: a 256-byte nonce is an error", buf,
	    "Replay-Nonce longer than 255");
	snprintf(buf, sizeof(buf), "HTTP/1.1 201 Created\r\nLocation: "
	    "https://a.test/%01010d\r\n\r\n", 1);
	fparse_bad("fetch: a Location over 1023 bytes is an error", buf,
	    "Location longer than 1023");
	fparse_bad("fetch: two Locations that differ",
	    "HTTP/1.1 201 Created\r\nLocation: /a\r\nLocation: /b\r\n\r\n",
	    "two Location fields");

	/* Retry-After: seconds, or an HTTP-date made seconds from now */
	check(fparse_retry("120") == 120, "fetch: Retry-After seconds", NULL);
	check(fparse_retry("0") == 0, "fetch: Retry-After 0", NULL);
	check(fparse_retry("soon") == -1, "fetch: Retry-After bad is -1",
	    NULL);
	check(fparse_retry("99999999999") == 2147483647,
	    "fetch: Retry-After beyond 2^31 - 1 is cut to it", NULL);
	check(fparse_retry("-5") == -1, "fetch: Retry-After negative is -1",
	    NULL);
	check(fparse_retry("Sun, 06 Nov 1994 08:49:37 GMT") == 0,
	    "fetch: Retry-After date in the past is 0", NULL);
	/* 2060-01-01T00:00:00Z = 2840140800 */
	t0 = time(NULL);
	ra = fparse_retry("Thu, 01 Jan 2060 00:00:00 GMT");
	t1 = time(NULL);
	snprintf(msg, sizeof(msg), "%ld", ra);
	check(ra >= 2840140800 - (long long)t1 &&
	    ra <= 2840140800 - (long long)t0,
	    "fetch: Retry-After IMF-fixdate, seconds from now", msg);
	t0 = time(NULL);
	ra = fparse_retry("Thu Jan  1 00:00:00 2060");
	t1 = time(NULL);
	check(ra >= 2840140800 - (long long)t1 &&
	    ra <= 2840140800 - (long long)t0,
	    "fetch: Retry-After asctime date", NULL);
	t0 = time(NULL);
	ra = fparse_retry("Thursday, 01-Jan-60 00:00:00 GMT");
	t1 = time(NULL);
	/* two-digit years: within 50 years ahead, else the century before
	 * (RFC 9110 5.6.7): "60" is 2060 until 2110 */
	check(ra >= 2840140800 - (long long)t1 &&
	    ra <= 2840140800 - (long long)t0,
	    "fetch: Retry-After rfc850 date", NULL);
	check(fparse_retry("Friday, 01-Jan-99 00:00:00 GMT") == 0,
	    "fetch: Retry-After rfc850 year 99 is 1999", NULL);
	check(fparse_retry("Fri, 30 Feb 2100 00:00:00 GMT") == -1,
	    "fetch: Retry-After 30 February is -1", NULL);
	check(fparse_retry("Fri, 01 Jan 2100 24:00:00 GMT") == -1,
	    "fetch: Retry-After hour 24 is -1", NULL);
	check(fparse_retry("Fri, 01 Jan 2100 00:00:00 UTC") == -1,
	    "fetch: Retry-After not GMT is -1", NULL);
	check(fparse_retry("Sat, 29 Feb 2048 00:00:00 GMT") > 0,
	    "fetch: Retry-After 29 February of a leap year", NULL);
	check(fparse_retry("Fri, 01 Jan 2100 00:00:00 GMT") == 2147483647,
	    "fetch: Retry-After far ahead is cut to 2^31 - 1", NULL);
	rc = fparse("HTTP/1.1 429 Slow\r\nRetry-After: 5\r\nRetry-After: 6"
	    "\r\n\r\n", &r, err, sizeof(err));
	check(rc == 0 && r.retry_after == -1,
	    "fetch: two Retry-Afters that differ say nothing", err);
	fetch_resp_free(&r);

	/* malformed */
	fparse_bad("fetch: conflicting Content-Length",
	    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n"
	    "\r\nabcd", "conflicting Content-Length");
	fparse_bad("fetch: conflicting Content-Length in one field",
	    "HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcd",
	    "conflicting Content-Length");
	fparse_bad("fetch: Content-Length not digits",
	    "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc",
	    "bad Content-Length");
	fparse_bad("fetch: body shorter than Content-Length",
	    "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
	    "truncated body: 3 of 10");
	fparse_bad("fetch: empty input", "", "truncated header");
	fparse_bad("fetch: header without its end",
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n", "truncated header");
	fparse_bad("fetch: not HTTP", "ICY 200 OK\r\n\r\n",
	    "not an HTTP/1.x status line");
	fparse_bad("fetch: HTTP/2 status line", "HTTP/2 200\r\n\r\n",
	    "not an HTTP/1.x status line");
	fparse_bad("fetch: status of two digits", "HTTP/1.1 99 x\r\n\r\n",
	    "not an HTTP/1.x status line");
	fparse_bad("fetch: status 600", "HTTP/1.1 600 x\r\n\r\n",
	    "status 600 out of range");
	fparse_bad("fetch: 101 is refused",
	    "HTTP/1.1 101 Switching\r\n\r\n", "status 101");
	fparse_bad("fetch: obsolete line folding",
	    "HTTP/1.1 200 OK\r\nX-A: 1\r\n  2\r\n\r\n", "line folding");
	fparse_bad("fetch: white space before the colon",
	    "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", "bad header name");
	fparse_bad("fetch: a line without a colon",
	    "HTTP/1.1 200 OK\r\nnonsense\r\n\r\n", "without a name");
	fparse_bad("fetch: a bare CR in a field",
	    "HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n", "control character");
	fparse_bad("fetch: NUL in a field",
	    "HTTP/1.1 200 OK\r\nX-A: a\001b\r\n\r\n", "control character");
	fparse_bad("fetch: a transfer coding other than chunked",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	    "unsupported Transfer-Encoding");
	fparse_bad("fetch: chunked twice",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	    "chunked applied twice");
	fparse_bad("fetch: chunk size not hex",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	    "bad chunk size");
	fparse_bad("fetch: chunk size empty",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
	    "bad chunk size");
	fparse_bad("fetch: chunk size negative",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
	    "bad chunk size");
	fparse_bad("fetch: chunk size 0x with junk",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\n",
	    "bad chunk size");
	fparse_bad("fetch: chunk size of 20 hex digits",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "ffffffffffffffffffff\r\nabc\r\n", "body over");
	fparse_bad("fetch: chunk data without its CRLF",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd"
	    "\r\n0\r\n\r\n", "not followed by CRLF");
	fparse_bad("fetch: chunked body cut short",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
	    "truncated chunked body");
	fparse_bad("fetch: chunked body without its last chunk",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc"
	    "\r\n", "truncated chunked body");
	fparse_bad("fetch: chunked body without the trailer's end",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
	    "X: 1\r\n", "truncated chunked body");

	/* quoted response bytes come out printable, and cut short */
#define Q(what, s, want) fparse_quoted(what, s, sizeof(s) - 1, want)
	Q("fetch: ESC and CR in a status line are not quoted raw",
	    "HTTP/1.1 2\033[2J\r\033]0;owned\007\r\n\r\n",
	    "status line: \"HTTP/1.1 2?[2J??]0;owned?\"");
	/* 9 + 1 + 50 bytes quoted, then "..." */
	Q("fetch: a status line quoted at most 60 bytes",
	    "HTTP/1.1 \033" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\r\n\r\n",
	    "\"HTTP/1.1 ?AAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAAAAA...\"");
	Q("fetch: a header line without a colon, with ESC and CR",
	    "HTTP/1.1 200 OK\r\nX\033[31mred\rfake 1\r\n\r\n",
	    "without a name: \"X?[31mred?fake 1\"");
	Q("fetch: a header name with ESC, CR and DEL",
	    "HTTP/1.1 200 OK\r\nX-\033[1m\r\177: 1\r\n\r\n",
	    "bad header name \"X-?[1m??\"");
	Q("fetch: 8-bit bytes in a Transfer-Encoding",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: \302\233" "2Jgzip\r\n"
	    "\r\n", "Transfer-Encoding \"??2Jgzip\"");
	Q("fetch: 8-bit bytes in a Content-Length",
	    "HTTP/1.1 200 OK\r\nContent-Length: 1\233" "2\r\n\r\n",
	    "Content-Length \"1?2\"");
	Q("fetch: ESC and CR in a chunk size",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "1\033[2J\r\r\nx\r\n0\r\n\r\n", "bad chunk size \"1?[2J?\"");
	Q("fetch: NUL in a status line",
	    "HTTP/1.1 2\0000 OK\r\n\r\n", "status line: \"HTTP/1.1 2?0 OK\"");
#undef Q

	/* limits */
	snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nContent-Length: %d"
	    "\r\n\r\n", FETCH_BODY_MAX + 1);
	fparse_bad("fetch: Content-Length over FETCH_BODY_MAX", buf,
	    "body over");
	fparse_bad("fetch: a huge Content-Length",
	    "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n"
	    "\r\n", "body over");
	if ((big = fbig("HTTP/1.1 200 OK\r\n\r\n", FETCH_BODY_MAX + 1,
	    &len)) != NULL) {
		rc = fetch_parse(big, len, &r, err, sizeof(err));
		check(rc == -1 && strstr(err, "body over") != NULL,
		    "fetch: a body to EOF over FETCH_BODY_MAX", err);
		fetch_resp_free(&r);
		rc = fetch_parse(big, len - 1, &r, err, sizeof(err));
		check(rc == 0 && r.body_len == FETCH_BODY_MAX &&
		    r.body[FETCH_BODY_MAX] == '\0',
		    "fetch: a body of exactly FETCH_BODY_MAX", err);
		fetch_resp_free(&r);
		free(big);
	}
	/* chunks adding up to one byte over */
	if ((big = malloc(FETCH_BODY_MAX + 4096)) != NULL) {
		len = (size_t)snprintf(big, 4096, "HTTP/1.1 200 OK\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n%x\r\n",
		    FETCH_BODY_MAX);
		memset(big + len, 'y', FETCH_BODY_MAX);
		len += FETCH_BODY_MAX;
		len += (size_t)snprintf(big + len, 4096, "\r\n1\r\nz\r\n0\r\n"
		    "\r\n");
		rc = fetch_parse(big, len, &r, err, sizeof(err));
		check(rc == -1 && strstr(err, "body over") != NULL,
		    "fetch: chunks over FETCH_BODY_MAX in all", err);
		fetch_resp_free(&r);
		free(big);
	}
	/* a header of exactly FETCH_HEAD_MAX bytes passes, one more fails */
	for (i = 0; i < 2; i++) {
		static const char	pre[] = "HTTP/1.1 200 OK\r\nX-Pad: ";
		static const char	post[] =
		    "\r\nContent-Length: 0\r\n\r\n";
		size_t			pad = FETCH_HEAD_MAX + i -
		    (sizeof(pre) - 1) - (sizeof(post) - 1);

		if ((big = fbig(pre, pad, &len)) == NULL)
			break;
		if ((big = realloc(big, len + sizeof(post))) == NULL)
			break;
		memcpy(big + len, post, sizeof(post));
		len += sizeof(post) - 1;
		rc = fetch_parse(big, len, &r, err, sizeof(err));
		if (i == 0)
			check(rc == 0 && r.status == 200,
			    "fetch: a header of FETCH_HEAD_MAX bytes", err);
		else
			check(rc == -1 && strstr(err, "header over") != NULL,
			    "fetch: a header over FETCH_HEAD_MAX", err);
		fetch_resp_free(&r);
		free(big);
	}
}

/*
 * unit fetch [-t MS] [-a ADDR] CA URL [METHOD [BODY]]: one real request
 * with fetch() (with -a: fetch_at() to ADDR), for tests/t-fetch.sh;
 * prints the response's parts and exits 0, or prints "error: ..." on
 * stderr and exits 1.
 */
static int
fetch_cmd(int argc, char **argv)
{
	struct fetch		*f = NULL;
	struct fetch_resp	 r;
	const char		*method = "GET", *body = NULL, *addr = NULL;
	char			 err[1024];
	int			 timeout = 5000, rc = 1, got;

	while (argc >= 3 && (strcmp(argv[1], "-t") == 0 ||
	    strcmp(argv[1], "-a") == 0)) {
		if (argv[1][1] == 't')
			timeout = atoi(argv[2]);
		else
			addr = argv[2];
		argc -= 2;
		argv += 2;
	}
	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: unit fetch [-t MS] [-a ADDR] CA URL "
		    "[METHOD [BODY]]\n");
		return 2;
	}
	if (argc >= 4)
		method = argv[3];
	if (argc == 5)
		body = argv[4];
	if ((f = fetch_new(argv[1], err, sizeof(err))) == NULL) {
		fprintf(stderr, "error: %s\n", err);
		return 1;
	}
	if (addr != NULL)
		got = fetch_at(f, addr, method, argv[2], body ?
		    "application/jose+json" : NULL, "application/json", body,
		    body ? strlen(body) : 0, timeout, &r, err, sizeof(err));
	else
		got = fetch(f, method, argv[2], body ?
		    "application/jose+json" : NULL, "application/json", body,
		    body ? strlen(body) : 0, timeout, &r, err, sizeof(err));
	if (got == -1)
		fprintf(stderr, "error: %s\n", err);
	else {
		printf("status %d\ncontent-type %s\nnonce %s\nlocation %s\n"
		    "retry-after %ld\ntls %s\nbody-length %zu\n\n", r.status,
		    r.content_type, r.nonce, r.location, r.retry_after, r.tls,
		    r.body_len);
		fwrite(r.body, 1, r.body_len, stdout);
		fetch_resp_free(&r);
		rc = 0;
	}
	fetch_free(f);
	return rc;
}

/* ---- smtp.c: the reply reader; "unit smtp" for t-smtp.sh ---- */

static void
test_smtp(void)
{
	static const struct {
		const char	*in;
		int		 rc;	/* smtp_reply's */
		int		 code;
		size_t		 used;	/* 0: all of in */
		int		 starttls;
		const char	*err;	/* rc -1: in the error */
	} t[] = {
		{ "220 mx.example.com ESMTP\r\n", 1, 220, 0, 0, NULL },
		{ "220 bare LF\n", 1, 220, 0, 0, NULL },
		{ "220\r\n", 1, 220, 0, 0, NULL },
		{ "220-mx.example.com\r\n220-more\n220 ESMTP\r\n", 1, 220, 0, 0,
		    NULL },
		{ "250-mx.example.com\r\n250-PIPELINING\r\n250-STARTTLS\r\n"
		    "250 8BITMIME\r\n", 1, 250, 0, 1, NULL },
		{ "250-mx\n250-SIZE 1000\n250 starttls \t\n", 1, 250, 0, 1,
		    NULL },
		/* the first line is the server's name, not a keyword */
		{ "250 STARTTLS\r\n", 1, 250, 0, 0, NULL },
		{ "250-mx\r\n250-STARTTLSX\r\n250-X-STARTTLS\r\n"
		    "250 STARTTLS x\r\n", 1, 250, 0, 0, NULL },
		{ "554 5.7.1 go away\r\n", 1, 554, 0, 0, NULL },
		{ "220 first\r\n250 second\r\n", 1, 220, 11, 0, NULL },
		{ "", 0, 0, 0, 0, NULL },
		{ "2", 0, 0, 0, 0, NULL },
		{ "220", 0, 0, 0, 0, NULL },
		{ "220\r", 0, 0, 0, 0, NULL },
		{ "220 mx", 0, 0, 0, 0, NULL },
		{ "250-mx\r\n", 0, 0, 0, 0, NULL },
		{ "250-mx\r\n25", 0, 0, 0, 0, NULL },
		{ "250-mx\r\n550 no\r\n", -1, 0, 0, 0,
		    "mixed reply codes: 250, then \"550 no\"" },
		{ "250-mx\r\n55", -1, 0, 0, 0, "mixed reply codes" },
		{ "HTTP/1.1 400 Bad Request\r\n", -1, 0, 0, 0,
		    "not an SMTP reply: \"HTTP/1.1 400 Bad Request\"" },
		/* refused as soon as it cannot be one, not at its line end */
		{ "H", -1, 0, 0, 0, "not an SMTP reply" },
		{ "22\r\n", -1, 0, 0, 0, "not an SMTP reply" },
		{ "220x\r\n", -1, 0, 0, 0, "not an SMTP reply" },
		{ "220\rx", -1, 0, 0, 0, "not an SMTP reply" },
		{ "160 x\r\n", -1, 0, 0, 0, "not an SMTP reply" },
		{ "260 x\r\n", -1, 0, 0, 0, "not an SMTP reply" },
		{ "\r\n", -1, 0, 0, 0, "not an SMTP reply" },
		{ "5x4\x1b[2J\r\n", -1, 0, 0, 0,
		    "not an SMTP reply: \"5x4?[2J\"" },
	};
	char		 err[256], small[8], what[160], *big;
	size_t		 i, j, n, len, used;
	int		 rc, code, tls;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		len = strlen(t[i].in);
		code = tls = -1;
		used = 0;
		err[0] = '\0';
		rc = smtp_reply(t[i].in, len, &code, &used, &tls, err,
		    sizeof(err));
		/* the reply on one line: CR, LF and the like escaped */
		n = (size_t)snprintf(what, sizeof(what), "smtp: \"");
		for (j = 0; j < len && j < 48; j++)
			n += (size_t)snprintf(what + n, sizeof(what) - n,
			    t[i].in[j] == '\r' ? "\\r" : t[i].in[j] == '\n' ?
			    "\\n" : t[i].in[j] < ' ' ? "\\x%02x" : "%c",
			    (unsigned char)t[i].in[j]);
		snprintf(what + n, sizeof(what) - n, "%s\"", j < len ? "..." :
		    "");
		if (t[i].rc == 1)
			check(rc == 1 && code == t[i].code && used ==
			    (t[i].used ? t[i].used : len) &&
			    tls == t[i].starttls, what, err);
		else if (t[i].rc == 0)
			check(rc == 0, what, err);
		else
			check(rc == -1 && strstr(err, t[i].err) != NULL, what,
			    err);
		/* the same verdict with little room for the message */
		n = strlen(what);
		snprintf(what + n, sizeof(what) - n, ", 8 bytes for errors");
		check(smtp_reply(t[i].in, len, &code, &used, &tls, small,
		    sizeof(small)) == rc && strlen(small) < sizeof(small),
		    what, NULL);
	}

	/* lines of SMTP_LINE_MAX (4096) bytes and no more */
	if ((big = malloc(5000)) == NULL)
		return;
	memset(big, 'x', 5000);
	memcpy(big, "250 ", 4);
	memcpy(big + 4096, "\r\n", 2);
	check(smtp_reply(big, 4098, &code, &used, &tls, err,
	    sizeof(err)) == 1 && used == 4098,
	    "smtp: a reply line of 4096 bytes", err);
	memcpy(big + 4096, "x\r\n", 3);
	check(smtp_reply(big, 4099, &code, &used, &tls, err,
	    sizeof(err)) == -1 && strstr(err, "reply line over 4096 bytes"),
	    "smtp: a reply line of 4097 bytes", err);
	memset(big + 4096, 'x', 5000 - 4096);
	check(smtp_reply(big, 5000, &code, &used, &tls, err,
	    sizeof(err)) == -1 && strstr(err, "over 4096"),
	    "smtp: 5000 bytes without a line end", err);
	check(smtp_reply(big, 4097, &code, &used, &tls, err,
	    sizeof(err)) == 0,
	    "smtp: 4097 bytes without a line end may end in CR LF yet", err);
	free(big);
}

/*
 * unit smtp [-t MS] HOST ADDR PORT CA [EHLO]: smtp_probe() for real, for
 * tests/t-smtp.sh; prints "<rc> <detail>" and exits 0 if rc is 0, else 1.
 */
static int
smtp_cmd(int argc, char **argv)
{
	struct fetch	*f;
	char		 detail[1024];
	int		 timeout = 5000, rc;

	if (argc >= 3 && strcmp(argv[1], "-t") == 0) {
		timeout = atoi(argv[2]);
		argc -= 2;
		argv += 2;
	}
	if (argc < 5 || argc > 6) {
		fprintf(stderr, "usage: unit smtp [-t MS] HOST ADDR PORT CA "
		    "[EHLO]\n");
		return 2;
	}
	if ((f = fetch_new(argv[4], detail, sizeof(detail))) == NULL) {
		fprintf(stderr, "error: %s\n", detail);
		return 1;
	}
	rc = smtp_probe(f, argv[1], argv[2], atoi(argv[3]),
	    argc == 6 ? argv[5] : NULL, timeout, detail, sizeof(detail));
	printf("%d %s\n", rc, detail);
	fetch_free(f);
	return rc != 0;
}

/* ---- acmemsg.c ---- */

static void
test_acmemsg(void)
{
	static const struct {
		int		 kind;
		const char	*json;
		const char	*err;	/* NULL: parses */
	} bad[] = {
		{ ACME_DIRECTORY, "[]", "not a JSON object" },
		{ ACME_DIRECTORY, "{\"newNonce\":\"https://a/n\","
		    "\"newAccount\":\"https://a/a\"}", "no \"newOrder\"" },
		{ ACME_DIRECTORY, "{\"newNonce\":\"http://a/n\","
		    "\"newAccount\":\"https://a/a\",\"newOrder\":"
		    "\"https://a/o\"}", "not an https URL" },
		/* a quote would break out of the JWS header we print it in */
		{ ACME_DIRECTORY, "{\"newNonce\":\"https://a/n\\\"x\","
		    "\"newAccount\":\"https://a/a\",\"newOrder\":"
		    "\"https://a/o\"}", "not an https URL" },
		{ ACME_ORDER, "{\"finalize\":\"https://a/f\"}",
		    "no \"authorizations\"" },
		{ ACME_ORDER, "{\"finalize\":\"https://a/f\","
		    "\"authorizations\":[1]}", "not an https URL" },
		{ ACME_ORDER, "{\"finalize\":\"https://a/f\","
		    "\"authorizations\":[\"https://a/1\",\"https://a/2\","
		    "\"https://a/3\",\"https://a/4\",\"https://a/5\","
		    "\"https://a/6\",\"https://a/7\",\"https://a/8\","
		    "\"https://a/9\"]}", "more than 8" },
		{ ACME_AUTHZ, "{\"challenges\":[{\"type\":\"tls-alpn-01\","
		    "\"url\":\"https://a/c\",\"token\":\"a.b\"}]}",
		    "not base64url" },
		{ ACME_AUTHZ, "{\"status\":\"pending\"}", "no \"challenges\"" },
		{ ACME_PROBLEM, "{\"detail\":\"x\"}", "no \"type\"" },
		{ ACME_PROBLEM, "{\"type\":", "not a JSON object" },
	};
	struct acme_msg	 m;
	char		 err[256], path[1200], *buf;
	FILE		*f;
	size_t		 i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = acme_msg_parse(bad[i].kind, bad[i].json,
		    strlen(bad[i].json), &m, err, sizeof(err));

		check(rc == -1 && strstr(err, bad[i].err) != NULL,
		    "acmemsg: refused", rc == 0 ? "parsed" : err);
		if (rc == 0)
			acme_msg_free(&m);
	}
	buf = "{\"status\":\"Pending;x\",\"challenges\":[]}";
	check(acme_msg_parse(ACME_AUTHZ, buf, strlen(buf), &m, err,
	    sizeof(err)) == 0 &&
	    m.status[0] == '\0' && m.token == NULL,
	    "acmemsg: an odd status is no status", err);
	acme_msg_free(&m);

	/* the seeds of the fuzzer, as pebble sent them */
	if ((buf = malloc(65536)) == NULL)
		return;
#define SEED(name, kind) do {						\
	snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/acme/%s", top, \
	    name);							\
	n = 0;								\
	if ((f = fopen(path, "r")) != NULL) {				\
		n = fread(buf, 1, 65535, f);				\
		fclose(f);						\
	}								\
	check(n > 0 && acme_msg_parse(kind, buf, n, &m, err,		\
	    sizeof(err)) == 0, "acmemsg: " name, n > 0 ? err : path);	\
} while (0)
	SEED("directory.json", ACME_DIRECTORY);
	check(m.new_order != NULL && strcmp(m.new_order,
	    "https://acme.test:14000/order-plz") == 0 && m.terms != NULL,
	    "acmemsg: directory URLs", NULL);
	acme_msg_free(&m);
	SEED("authz-pending.json", ACME_AUTHZ);
	check(strcmp(m.status, "pending") == 0 && m.token != NULL &&
	    strcmp(m.token, "Wq0wR3ZcQ9oJ_fWBBX-EfPx5yVeuUZ3ZPYD2ymk-t5w") ==
	    0 && strcmp(m.chal_url, "https://acme.test:14000/chalZ/b") == 0,
	    "acmemsg: the tls-alpn-01 challenge, not the others", NULL);
	acme_msg_free(&m);
	SEED("authz-invalid.json", ACME_AUTHZ);
	check(strcmp(m.status, "invalid") == 0 && m.type != NULL &&
	    strcmp(m.type, "urn:ietf:params:acme:error:connection") == 0 &&
	    strcmp(m.detail, "Error getting validation data") == 0,
	    "acmemsg: the challenge's error", NULL);
	acme_msg_free(&m);
	SEED("order-valid.json", ACME_ORDER);
	check(strcmp(m.status, "valid") == 0 && m.nauthz == 1 &&
	    m.certificate != NULL && m.finalize != NULL,
	    "acmemsg: a valid order", NULL);
	acme_msg_free(&m);
	SEED("problem.json", ACME_PROBLEM);
	check(m.type != NULL &&
	    strcmp(m.type, "urn:ietf:params:acme:error:badNonce") == 0,
	    "acmemsg: a problem's type", NULL);
	acme_msg_free(&m);
#undef SEED
	free(buf);
}

/* policy_facts, policy_rollout, the TXT parsers, history.c */
static void
test_history(void)
{
	static const struct {
		const char	*txt;
		const char	*id;	/* NULL: invalid */
	} sts[] = {
		{ "v=STSv1; id=20261202124328Z", "20261202124328Z" },
		{ "v=STSv1; id=abc;", "abc" },
		{ "v=STSv1;id=abc", "abc" },
		{ "v=STSv1; id=abc; ext=1 ;", "abc" },
		{ "v=STSv1; ext.name=x; id=Z9", "Z9" },
		{ "v=STSv1", NULL },
		{ "v=STSv1;", NULL },
		{ "v=STSv2; id=abc", NULL },
		{ "V=STSv1; id=abc", NULL },
		{ "v=STSv1; id=", NULL },
		{ "v=STSv1; id=a-b", NULL },
		{ "v=STSv1; id=abc; id=abd", NULL },
		{ "v=STSv1; id=123456789012345678901234567890123", NULL },
		{ "v=STSv1 id=abc", NULL },
		{ "v=STSv1; =abc", NULL },
		{ "v=STSv1; id=abc; ext=", NULL },
		{ "v=STSv1; id=abc; f@o=bar", NULL },
		{ "v=STSv1; id=abc; ext=a b", NULL },
		{ "v=STSv1; id=abc def", NULL },
	};
	struct policy_facts	 a, b;
	struct state_req	 r;
	struct history		 h;
	struct diag		 d = { 0 };
	char			 id[ID_MAX + 1], err[256], rua[256], dir[256];
	char			 path[400], path2[400], *notes = NULL, *mk;
	const char		*pa = "version: STSv1\r\nmode: enforce\r\n"
				    "mx: mx1.example.com\r\nmx: *.old.example.com"
				    "\r\nmax_age: 100\r\n";
	const char		*pb = "version: STSv1\r\nmode: enforce\r\n"
				    "mx: mx2.example.com\r\nmx: a.old.example.com"
				    "\r\nmax_age: 100\r\n";
	const char		*pt = "version: STSv1\r\nmode: testing\r\n"
				    "mx: mx2.example.com\r\nmax_age: 100\r\n";
	time_t			 t = 1796200000;
	size_t			 i;
	FILE			*f;

	for (i = 0; i < sizeof(sts) / sizeof(sts[0]); i++) {
		int rc = dns_sts_parse(sts[i].txt, strlen(sts[i].txt), id,
		    err, sizeof(err));

		check(sts[i].id == NULL ? rc == -1 : rc == 0 &&
		    strcmp(id, sts[i].id) == 0, sts[i].txt, rc == -1 ? err :
		    id);
	}
	check(dns_tlsrpt_parse("v=TLSRPTv1; rua=mailto:a@example.com",
	    36, rua, sizeof(rua), err, sizeof(err)) == 0 &&
	    strcmp(rua, "mailto:a@example.com") == 0, "tlsrpt rua read", rua);
	check(dns_tlsrpt_parse("v=TLSRPTv1; rua=mailto:a@x.example, "
	    "mailto:b@y.example ;", 56, rua, sizeof(rua), err, sizeof(err)) ==
	    0 && strcmp(rua, "mailto:a@x.example, mailto:b@y.example") == 0,
	    "tlsrpt rua list with white space around the comma", rua);
	check(dns_tlsrpt_parse("v=TLSRPTv1;", 11, rua, sizeof(rua), err,
	    sizeof(err)) == -1, "tlsrpt without rua refused", err);
	check(dns_tlsrpt_parse("v=STSv1; rua=x", 14, rua, sizeof(rua), err,
	    sizeof(err)) == -1, "tlsrpt of another version refused", err);

	check(policy_facts(pa, strlen(pa), &a) == 0 && a.mode == MODE_ENFORCE &&
	    a.max_age == 100 && a.nmx == 2 &&
	    strcmp(a.mx[1], "*.old.example.com") == 0, "policy facts read",
	    NULL);
	check(policy_facts("mode: enforce\n", 14, &b) == -1,
	    "policy facts without max_age refused", NULL);
	check(policy_facts(pb, strlen(pb), &b) == 0 &&
	    policy_rollout(&a, "OLD", t, &b, &notes) == 0 && notes != NULL &&
	    strstr(notes, "mx pattern 'mx1.example.com' removed: keep MX "
	    "hosts matching 'mx1.example.com' valid until 2026-12-02 ") !=
	    NULL && strstr(notes, "'*.old.example.com' narrowed") != NULL &&
	    strstr(notes, "id OLD may be cached") != NULL,
	    "rollout: a removed and a narrowed pattern", notes);
	free(notes);
	notes = NULL;
	check(policy_rollout(&b, "OLD", t, &a, &notes) == 0 &&
	    notes != NULL && strstr(notes, "mx2.example.com") != NULL &&
	    strstr(notes, "a.old.example.com") == NULL,
	    "rollout: a host covered by a wildcard is not removed", notes);
	free(notes);
	notes = NULL;
	policy_facts_free(&b);
	check(policy_facts(pt, strlen(pt), &b) == 0 &&
	    policy_rollout(&b, "T", t, &a, &notes) == 0 && notes != NULL &&
	    strstr(notes, "mode testing -> enforce") != NULL &&
	    strstr(notes, "removed") == NULL,
	    "rollout: testing -> enforce, and no mx note from testing", notes);
	free(notes);
	notes = NULL;
	policy_facts_free(&a);
	policy_facts_free(&b);

	snprintf(dir, sizeof(dir), "%s/unit-history.%ld",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid());
	check(commit1(dir, "example.com", pa, t, &r, &d) == 0 &&
	    r.notes == NULL, "history: first policy, no notes", r.notes);
	free(r.notes);
	check(commit1(dir, "example.com", pb, t + 10, &r, &d) == 0 &&
	    r.notes != NULL && strstr(r.notes, "mx1.example.com' valid "
	    "until 2026-12-02 ") != NULL, "history: a change has notes",
	    r.notes);
	free(r.notes);
	check(history_load(dir, &h, &d) == 0 && h.n == 2 &&
	    h.e[0].last == t + 10 && h.e[1].last == 0 &&
	    h.e[1].first == t + 10 && h.e[0].len == strlen(pa) &&
	    memcmp(h.e[0].text, pa, h.e[0].len) == 0 &&
	    history_until(&h.e[0], t + 20) == t + 110 &&
	    history_until(&h.e[1], t + 20) == t + 120,
	    "history: both kept, the old one's last serving set", NULL);
	history_free(&h);
	/* --print-dns (not serving) leaves the served one open */
	memset(&r, 0, sizeof(r));
	r.domain = "example.com";
	r.policy = pt;
	r.len = strlen(pt);
	check(state_commit(dir, &r, 1, 0, t + 20, &d) == 0 &&
	    history_load(dir, &h, &d) == 0 && h.n == 3 && h.e[1].last == 0,
	    "history: --print-dns leaves the served policy open", NULL);
	free(r.notes);
	history_free(&h);
	check(commit1(dir, "example.com", pt, t + 200, &r, &d) == 0 &&
	    history_load(dir, &h, &d) == 0 && h.n == 2 &&
	    strcmp(h.e[0].id, r.id) != 0 && h.e[0].last == t + 200,
	    "history: past its cache time pruned, the rest closed", NULL);
	free(r.notes);
	history_free(&h);
	snprintf(path, sizeof(path), "%s/history", dir);
	if ((f = fopen(path, "w")) != NULL) {
		fputs("mtasts-httpd-history 1\nexample.com x 1 2 %zz\n", f);
		fclose(f);
	}
	check(commit1(dir, "example.com", pa, t + 300, &r, &d) == 0 &&
	    has_msg(&d, 0, "damaged; moved aside") &&
	    history_load(dir, &h, &d) == 0 && h.n == 1,
	    "history: a damaged file is moved aside and replaced", NULL);
	free(r.notes);
	history_free(&h);
	/* a crash between the state file and the history: made good */
	unlink(path);
	snprintf(path2, sizeof(path2), "%s/history.tmp-99999", dir);
	if ((f = fopen(path2, "w")) != NULL)
		fclose(f);
	check(commit1(dir, "example.com", pa, t + 310, &r, &d) == 0 &&
	    !r.minted && history_load(dir, &h, &d) == 0 && h.n == 1 &&
	    strcmp(h.e[0].id, r.id) == 0 && access(path2, F_OK) == -1,
	    "history: a lost history gets the served policy back, stale "
	    "temporary files swept", NULL);
	free(r.notes);
	history_free(&h);
	/* committed only (--print-dns): never cached, dropped once another
	 * is served */
	memset(&r, 0, sizeof(r));
	r.domain = "example.net";
	r.policy = pa;
	r.len = strlen(pa);
	check(state_commit(dir, &r, 1, 0, t + 311, &d) == 0 && r.notes == NULL,
	    "history: a first policy committed only", r.notes);
	free(r.notes);
	r.policy = pb;
	r.len = strlen(pb);
	check(state_commit(dir, &r, 1, 0, t + 312, &d) == 0 && r.notes == NULL,
	    "history: no notes against a policy never served", r.notes);
	free(r.notes);
	check(history_load(dir, &h, &d) == 0 && h.n == 3 && !h.e[1].served &&
	    history_until(&h.e[1], t + 312) == 0,
	    "history: a policy never served is not cached", NULL);
	history_free(&h);
	check(commit1(dir, "example.net", pt, t + 313, &r, &d) == 0 &&
	    history_load(dir, &h, &d) == 0 && h.n == 2 &&
	    strcmp(h.e[1].domain, "example.net") == 0 && h.e[1].served &&
	    h.e[1].first == t + 313 && strcmp(h.e[0].domain, "example.com") ==
	    0 && h.e[0].last == t + 313,
	    "history: served, the unserved dropped, the domain no longer "
	    "served closed", NULL);
	free(r.notes);
	history_free(&h);
	/* bounded: 32 per domain, a drop of one still cached said */
	for (i = 0; i < 40; i++) {
		char pol[200];

		snprintf(pol, sizeof(pol), "version: STSv1\r\nmode: enforce"
		    "\r\nmx: mx%zu.example.net\r\nmax_age: 86400\r\n", i);
		commit1(dir, "example.net", pol, t + 400 + (time_t)i, &r, &d);
		free(r.notes);
	}
	check(history_load(dir, &h, &d) == 0 && h.n == 32 &&
	    has_msg(&d, 0, "keeps 32 policies"),
	    "history: at most 32 per domain, the drop said", NULL);
	history_free(&h);
	/* an unusable history never fails the commit */
	unlink(path);
	mkdir(path, 0700);
	diag_free(&d);
	check(commit1(dir, "example.com", pb, t + 320, &r, &d) == 0 &&
	    r.minted && d.nerr == 0 && has_msg(&d, 0, "rollout guard"),
	    "history: unreadable, the ids are still committed", d.n ?
	    d.msg[0] : NULL);
	free(r.notes);
	rmdir(path);
	diag_free(&d);
	if (asprintf(&mk, "rm -rf '%s'", dir) != -1) {
		(void)!system(mk);
		free(mk);
	}
}

/* A DNS message for the dnsq tests, built up record by record. */
struct dq_msg {
	unsigned char	b[1024];
	size_t		n;
};

static void
dq_put(struct dq_msg *m, const void *p, size_t len)
{
	if (m->n + len <= sizeof(m->b)) {
		memcpy(m->b + m->n, p, len);
		m->n += len;
	}
}

/* flags: the 2nd header word (0x8180: an answer, RD RA, NOERROR); then
 * the question, and an counts of the records added after it */
static void
dq_start(struct dq_msg *m, unsigned flags, int an, const char *qname,
    int qtype)
{
	const char	*p, *dot;

	m->n = 0;
	dq_put(m, (unsigned char[]){ 0x12, 0x34, flags >> 8, flags & 0xff,
	    0, 1, an >> 8, an & 0xff, 0, 0, 0, 0 }, 12);
	for (p = qname; *p != '\0'; p = *dot ? dot + 1 : dot) {
		if ((dot = strchr(p, '.')) == NULL)
			dot = p + strlen(p);
		dq_put(m, (unsigned char[]){ dot - p }, 1);
		dq_put(m, p, dot - p);
	}
	dq_put(m, (unsigned char[]){ 0, qtype >> 8, qtype & 0xff, 0, 1 }, 5);
}

/* A record owned by the question's name (a pointer to offset 12), class
 * IN unless cls, TTL 60. */
static void
dq_rr(struct dq_msg *m, int type, int cls, const void *rdata, size_t rdlen)
{
	cls = cls ? cls : 1;
	dq_put(m, (unsigned char[]){ 0xc0, 12, type >> 8, type & 0xff,
	    cls >> 8, cls & 0xff, 0, 0, 0, 60, rdlen >> 8, rdlen & 0xff }, 12);
	dq_put(m, rdata, rdlen);
}

static void
test_dnsq(void)
{
	static const struct {
		const char	*file, *qname;
		int		 type, rc;
		size_t		 n;
		const char	*data;	/* the first record's; or err's */
		const char	*cname;
	} seeds[] = {
		{ "txt-mta-sts", "_mta-sts.example.com", DNSQ_T_TXT, DNSQ_OK,
		    1, "v=STSv1; id=20240101T000000", "" },
		{ "txt-mta-sts", "_MTA-STS.Example.COM.", DNSQ_T_TXT, DNSQ_OK,
		    1, "v=STSv1; id=20240101T000000", "" },
		{ "mx-two", "example.com", DNSQ_T_MX, DNSQ_OK, 2,
		    "mx2.example.com", "" },
		{ "mx-null", "null.example.com", DNSQ_T_MX, DNSQ_OK, 1, "",
		    "" },
		{ "cname-chain-a", "alias.example.com", DNSQ_T_A, DNSQ_OK, 1,
		    "192.0.2.1", "mx1.example.com" },
		{ "cname-chain-aaaa", "alias.example.com", DNSQ_T_AAAA,
		    DNSQ_OK, 1, "2001:db8::1", "mx1.example.com" },
		{ "cname-chain-mx", "alias.example.com", DNSQ_T_MX,
		    DNSQ_NODATA, 0, "alias.example.com MX: no MX record (an "
		    "alias of mx1.example.com)", "mx1.example.com" },
		{ "a", "mx1.example.com", DNSQ_T_A, DNSQ_OK, 1, "192.0.2.1",
		    "" },
		{ "aaaa", "mx1.example.com", DNSQ_T_AAAA, DNSQ_OK, 1,
		    "2001:db8::1", "" },
		{ "caa", "example.com", DNSQ_T_CAA, DNSQ_OK, 2,
		    "mailto:sec@example.com", "" },
		{ "nxdomain", "nosuch.example.com", DNSQ_T_TXT, DNSQ_NONAME,
		    0, "nosuch.example.com TXT: no such name (NXDOMAIN)", "" },
		{ "nodata", "mx1.example.com", DNSQ_T_TXT, DNSQ_NODATA, 0,
		    "mx1.example.com TXT: no TXT record", "" },
		{ "servfail", "x.other.test", DNSQ_T_A, DNSQ_FAIL, 0,
		    "x.other.test A: the resolver answered SERVFAIL", "" },
		{ "refused", "x.other.test", DNSQ_T_A, DNSQ_FAIL, 0,
		    "x.other.test A: the resolver answered REFUSED", "" },
		{ "truncated", "long.example.com", DNSQ_T_TXT, DNSQ_FAIL, 0,
		    "long.example.com TXT: the answer was truncated", "" },
		{ "txt-mta-sts", "example.com", DNSQ_T_TXT, DNSQ_FAIL, 0,
		    "example.com TXT: the answer is to another question", "" },
		{ "a", "mx1.example.com", DNSQ_T_AAAA, DNSQ_FAIL, 0,
		    "another question", "" },
	};
	struct dnsq_ans	 ans;
	struct dq_msg	 m;
	char		 err[512], path[1200], want[601];
	unsigned char	*buf;
	FILE		*f;
	size_t		 i, n;
	int		 rc;

	check(strcmp(dnsq_type_name(DNSQ_T_CAA), "CAA") == 0 &&
	    strcmp(dnsq_type_name(DNSQ_T_MX), "MX") == 0,
	    "dnsq: type names", NULL);
	if ((buf = malloc(65536)) == NULL)
		return;
	/* the seeds of the fuzzer: dnsmasq's answers */
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/dns/%s",
		    top, seeds[i].file);
		n = 0;
		if ((f = fopen(path, "r")) != NULL) {
			n = fread(buf, 1, 65536, f);
			fclose(f);
		}
		rc = dnsq_parse(buf, n, seeds[i].qname, seeds[i].type, &ans,
		    err, sizeof(err));
		snprintf(path, sizeof(path), "dnsq: %s as %s %s",
		    seeds[i].file, seeds[i].qname,
		    dnsq_type_name(seeds[i].type));
		check(n > 0 && rc == seeds[i].rc && ans.n == seeds[i].n &&
		    (rc == DNSQ_OK ? strcmp(ans.rr[0].data, seeds[i].data) ==
		    0 : strstr(err, seeds[i].data) != NULL) &&
		    strcmp(ans.cname, seeds[i].cname) == 0, path,
		    rc == DNSQ_OK ? ans.rr[0].data : err);
		if (rc == DNSQ_OK && strcmp(seeds[i].file, "mx-two") == 0)
			check(ans.rr[0].pref == 20 && ans.rr[1].pref == 10 &&
			    strcmp(ans.rr[1].data, "mx1.example.com") == 0 &&
			    strcmp(ans.rr[1].name, "example.com") == 0,
			    "dnsq: both MX hosts, their preferences", NULL);
		if (rc == DNSQ_OK && strcmp(seeds[i].file, "mx-null") == 0)
			check(ans.rr[0].pref == 0 && ans.rr[0].len == 0,
			    "dnsq: the null MX (RFC 7505) is \"\"", NULL);
		if (rc == DNSQ_OK && strcmp(seeds[i].file, "caa") == 0)
			check(ans.rr[0].pref == 128 &&
			    strcmp(ans.rr[0].tag, "iodef") == 0 &&
			    ans.rr[1].pref == 0 &&
			    strcmp(ans.rr[1].tag, "issue") == 0 &&
			    strcmp(ans.rr[1].data, "letsencrypt.org") == 0,
			    "dnsq: CAA flags, tags, values", NULL);
		if (rc == DNSQ_OK && seeds[i].type == DNSQ_T_A)
			check(strcmp(ans.rr[0].name, "mx1.example.com") == 0,
			    "dnsq: records at the end of the chain",
			    ans.rr[0].name);
		if (rc == DNSQ_NONAME)
			check(ans.rcode == 3, "dnsq: NXDOMAIN's rcode", NULL);
		dnsq_free(&ans);
	}
	/* RFC 8461 3.1: a record's strings joined; over TCP (glibc) and
	 * over UDP with EDNS (musl) */
	memset(want, 'a', 200);
	memset(want + 200, 'b', 200);
	memset(want + 400, 'c', 200);
	want[600] = '\0';
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/dns/%s",
		    top, i == 0 ? "txt-long-tcp" : "txt-long-edns");
		n = 0;
		if ((f = fopen(path, "r")) != NULL) {
			n = fread(buf, 1, 65536, f);
			fclose(f);
		}
		rc = dnsq_parse(buf, n, "long.example.com", DNSQ_T_TXT, &ans,
		    err, sizeof(err));
		check(rc == DNSQ_OK && ans.n == 1 && ans.rr[0].len == 600 &&
		    strcmp(ans.rr[0].data, want) == 0,
		    "dnsq: a TXT record of three strings, joined", err);
		dnsq_free(&ans);
	}

	/* made here: what a resolver should never send */
#define DQ(desc, type, want_rc, want_err) do {				\
	rc = dnsq_parse(m.b, m.n, "example.com", type, &ans, err,	\
	    sizeof(err));						\
	check(rc == (want_rc) && (rc == DNSQ_OK ||			\
	    strstr(err, want_err) != NULL), "dnsq: " desc, err);	\
	dnsq_free(&ans);						\
} while (0)
	dq_start(&m, 0x8180, 2, "example.com", DNSQ_T_TXT);
	dq_rr(&m, DNSQ_T_TXT, 0, "\3v=S\4TSv1", 9);
	dq_rr(&m, DNSQ_T_TXT, 0, "\0", 1);
	DQ("two TXT records", DNSQ_T_TXT, DNSQ_OK, "");
	dnsq_parse(m.b, m.n, "example.com", DNSQ_T_TXT, &ans, err,
	    sizeof(err));
	check(ans.n == 2 && strcmp(ans.rr[0].data, "v=STSv1") == 0 &&
	    ans.rr[1].len == 0, "dnsq: two TXT records, each joined", NULL);
	dnsq_free(&ans);
	dq_start(&m, 0x8180, 1, "example.com", DNSQ_T_TXT);
	dq_rr(&m, DNSQ_T_TXT, 0, "\3v=S\5TSv1", 9);
	DQ("a TXT string longer than its record", DNSQ_T_TXT, DNSQ_FAIL,
	    "example.com TXT: malformed TXT record");
	dq_start(&m, 0x8180, 1, "example.com", DNSQ_T_TXT);
	dq_rr(&m, DNSQ_T_TXT, 3, "\3v=S", 4);
	DQ("a record of class CH is none", DNSQ_T_TXT, DNSQ_NODATA,
	    "no TXT record");
	dq_start(&m, 0x8180, 1, "example.com", DNSQ_T_MX);
	dq_rr(&m, DNSQ_T_MX, 0, "\0\12", 2);
	DQ("an MX record without its exchange", DNSQ_T_MX, DNSQ_FAIL,
	    "malformed MX record");
	dq_start(&m, 0x8180, 1, "example.com", DNSQ_T_MX);
	dq_rr(&m, DNSQ_T_MX, 0, "\0\12\2mx\300\14x", 8);
	DQ("an MX record with a byte after its exchange", DNSQ_T_MX,
	    DNSQ_FAIL, "malformed MX record");
	dq_start(&m, 0x8180, 1, "example.com", DNSQ_T_MX);
	dq_rr(&m, DNSQ_T_MX, 0, "\0\12\2M\1\300\14", 7);
	DQ("an MX host with a control byte", DNSQ_T_MX, DNSQ_FAIL,
	    "malformed MX record");
	dq_start(&m, 0x8180, 1, "example.com", DNSQ_T_MX);
	dq_rr(&m, DNSQ_T_MX, 0, "\0\12\2MX\300\14", 7);
	dnsq_parse(m.b, m.n, "EXAMPLE.com", DNSQ_T_MX, &ans, err,
	    sizeof(err));
	check(ans.n == 1 && strcmp(ans.rr[0].data, "mx.example.com") == 0 &&
	    strcmp(ans.rr[0].name, "example.com") == 0,
	    "dnsq: names in lower case, a compressed exchange", err);
	dnsq_free(&ans);
	dq_start(&m, 0x8180, 1, "example.com", DNSQ_T_CAA);
	dq_rr(&m, DNSQ_T_CAA, 0, "\0\0x", 3);
	DQ("a CAA tag of length 0", DNSQ_T_CAA, DNSQ_FAIL,
	    "malformed CAA record");
	dq_start(&m, 0x8180, 1, "example.com", DNSQ_T_CAA);
	dq_rr(&m, DNSQ_T_CAA, 0, "\0\11issue", 7);
	DQ("a CAA tag past its record", DNSQ_T_CAA, DNSQ_FAIL,
	    "malformed CAA record");
	dq_start(&m, 0x8180, 1, "example.com", DNSQ_T_CAA);
	dq_rr(&m, DNSQ_T_CAA, 0, "\0\20issueissueissuex", 18);
	DQ("a CAA tag of 16 letters", DNSQ_T_CAA, DNSQ_FAIL,
	    "malformed CAA record");
	dq_start(&m, 0x8180, 1, "example.com", DNSQ_T_CAA);
	dq_rr(&m, DNSQ_T_CAA, 0, "\0\5Issue", 7);
	DQ("a CAA record with an empty value", DNSQ_T_CAA, DNSQ_OK, "");
	dq_start(&m, 0x8180, 1, "example.com", DNSQ_T_A);
	dq_rr(&m, DNSQ_T_A, 0, "\1\2\3\4\5", 5);
	DQ("an A record of 5 bytes", DNSQ_T_A, DNSQ_FAIL,
	    "malformed A record");
	/* example.com CNAME a.example.com, a.example.com CNAME example.com */
	dq_start(&m, 0x8180, 2, "example.com", DNSQ_T_A);
	dq_rr(&m, DNSQ_T_CNAME, 0, "\1a\300\14", 4);
	dq_put(&m, "\1a\300\14\0\5\0\1\0\0\0\0\0\2\300\14", 16);
	DQ("a CNAME loop", DNSQ_T_A, DNSQ_FAIL, "CNAME chain longer than 8");
	dq_start(&m, 0x8180, 1, "example.com", DNSQ_T_CNAME);
	dq_rr(&m, DNSQ_T_CNAME, 0, "\1a\300\14", 4);
	rc = dnsq_parse(m.b, m.n, "example.com", DNSQ_T_CNAME, &ans, err,
	    sizeof(err));
	check(rc == DNSQ_OK && ans.n == 1 &&
	    strcmp(ans.rr[0].data, "a.example.com") == 0 &&
	    ans.cname[0] == '\0', "dnsq: a CNAME question, not followed", err);
	dnsq_free(&ans);
	/* a name that points at itself */
	dq_start(&m, 0x8180, 1, "example.com", DNSQ_T_A);
	dq_put(&m, "\300\35\0\1\0\1\0\0\0\0\0\4\1\2\3\4", 16);
	DQ("a compression loop", DNSQ_T_A, DNSQ_FAIL, "malformed answer");
	dq_start(&m, 0x8180, 3, "example.com", DNSQ_T_A);
	dq_rr(&m, DNSQ_T_A, 0, "\1\2\3\4", 4);
	DQ("more records counted than there are", DNSQ_T_A, DNSQ_FAIL,
	    "malformed answer");
	dq_start(&m, 0x0100, 0, "example.com", DNSQ_T_A);
	DQ("a query is no answer", DNSQ_T_A, DNSQ_FAIL, "no answer to a query");
	m.n = 11;
	DQ("11 bytes", DNSQ_T_A, DNSQ_FAIL, "malformed answer");
	dq_start(&m, 0x8180, 0, "example.com", DNSQ_T_A);
	rc = dnsq_parse(m.b, m.n, "exa mple.com", DNSQ_T_A, &ans, err,
	    sizeof(err));
	check(rc == DNSQ_FAIL && strcmp(err, "exa mple.com A: not a host name")
	    == 0, "dnsq: a question with a space", err);
	rc = dnsq_parse(m.b, m.n, "a..example.com", DNSQ_T_A, &ans, err,
	    sizeof(err));
	check(rc == DNSQ_FAIL && strstr(err, "not a host name") != NULL,
	    "dnsq: a question with an empty label", err);
	DQ("an empty answer is no data", DNSQ_T_A, DNSQ_NODATA,
	    "example.com A: no A record");
#undef DQ
	free(buf);
}

/* unit dnsq NAME TYPE: dnsq_query, one line per record
 * "<TYPE> <name> <pref> <tag or -> <data, odd bytes as \xHH>", then the
 * alias, rcode, return code and error (for tests/t-dnsq.sh) */
static int
dnsq_cmd(int argc, char **argv)
{
	static const int	 types[] = { DNSQ_T_A, DNSQ_T_CNAME, DNSQ_T_MX,
				    DNSQ_T_TXT, DNSQ_T_AAAA, DNSQ_T_CAA };
	struct dnsq_ans		 ans;
	char			 err[1024];
	size_t			 i, j;
	int			 type = 0, rc;

	for (i = 0; argc == 3 && argv[2][i] != '\0'; i++)
		if (argv[2][i] >= 'a' && argv[2][i] <= 'z')
			argv[2][i] -= 'a' - 'A';
	for (i = 0; argc == 3 && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(argv[2], dnsq_type_name(types[i])) == 0)
			type = types[i];
	if (type == 0) {
		fprintf(stderr, "usage: unit dnsq NAME A|CNAME|MX|TXT|AAAA|CAA\n");
		return 2;
	}
	rc = dnsq_query(argv[1], type, &ans, err, sizeof(err));
	for (i = 0; i < ans.n; i++) {
		printf("%s %s %d %s ", dnsq_type_name(ans.rr[i].type),
		    ans.rr[i].name, ans.rr[i].pref,
		    ans.rr[i].tag[0] ? ans.rr[i].tag : "-");
		for (j = 0; j < ans.rr[i].len; j++) {
			unsigned char c = ans.rr[i].data[j];

			if (c < ' ' || c >= 0x7f || c == '\\')
				printf("\\x%02x", c);
			else
				putchar(c);
		}
		putchar('\n');
	}
	if (ans.cname[0] != '\0')
		printf("cname %s\n", ans.cname);
	printf("rcode %d\nrc %d\n", ans.rcode, rc);
	if (rc != DNSQ_OK)
		printf("err %s\n", err);
	dnsq_free(&ans);
	return 0;
}

/*
 * tlsrpt.c: RFC 8460's example and the quirks of real reports read into
 * struct tlsrpt, each error naming its member, and inflating gzip, zlib
 * and raw deflate with their odd cases, a bomb among them.
 */
#define RPT_HEAD	"{\"report-id\":\"r1\",\"date-range\":{\"start-datetime\":" \
			"\"2026-11-30T00:00:00Z\",\"end-datetime\":" \
			"\"2026-11-30T23:59:59Z\"},"
#define RPT_POL(x)	RPT_HEAD "\"policies\":[{\"policy\":{\"policy-domain\":" \
			"\"example.com\"}," x "}]}"
#define RPT_DET(x)	RPT_POL("\"failure-details\":[{\"result-type\":" \
			"\"validation-failure\"," x "}]")

static double
rpt_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* in (len bytes, or n zero bytes when in is NULL) deflated with wbits:
 * 15 + 16 gzip, 15 zlib, -15 raw; malloc'd */
static unsigned char *
rpt_deflate(const void *in, size_t len, int wbits, size_t *outlen)
{
	static const unsigned char	zeros[65536];
	z_stream			z;
	unsigned char			*out;
	size_t				cap = len / 100 + 4096, left = len, k;
	int				r = Z_OK;

	memset(&z, 0, sizeof(z));
	if ((out = malloc(cap)) == NULL || deflateInit2(&z, 9, Z_DEFLATED,
	    wbits, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(out);
		return NULL;
	}
	z.next_out = out;
	z.avail_out = cap;
	while (r != Z_STREAM_END) {
		if (z.avail_in == 0 && left > 0) {
			k = in == NULL ? (left > sizeof(zeros) ?
			    sizeof(zeros) : left) : left;
			z.next_in = in == NULL ? (unsigned char *)zeros :
			    (unsigned char *)in + (len - left);
			z.avail_in = k;
			left -= k;
		}
		r = deflate(&z, left == 0 ? Z_FINISH : Z_NO_FLUSH);
		if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
			break;
		if (z.avail_out == 0) {
			unsigned char *n = realloc(out, cap * 2);

			if (n == NULL)
				break;
			out = n;
			z.next_out = out + cap;
			z.avail_out = cap;
			cap *= 2;
		}
	}
	*outlen = z.total_out;
	deflateEnd(&z);
	if (r != Z_STREAM_END) {
		free(out);
		return NULL;
	}
	return out;
}

static char *
rpt_file(const char *name, size_t *len)
{
	char	 path[1200], *buf;
	FILE	*f;

	snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/tlsrpt/%s", top,
	    name);
	*len = 0;
	if ((buf = malloc(65536)) == NULL)
		return NULL;
	if ((f = fopen(path, "r")) != NULL) {
		*len = fread(buf, 1, 65535, f);
		fclose(f);
	}
	buf[*len] = '\0';
	return buf;
}

static void
test_tlsrpt_parse(void)
{
	static const struct {
		const char	*json;
		const char	*err;	/* a substring */
	} bad[] = {
		{ "", "empty" },
		{ "[]", "not a JSON object" },
		{ "{\"report-id\":", "invalid JSON at line 1 (byte 12)" },
		{ "{\"date-range\":{}}", "report-id: missing" },
		{ "{\"report-id\":\"\"}", "report-id: missing or empty" },
		{ "{\"report-id\":7}", "report-id: not a string" },
		{ "{\"report-id\":\"x\",\"policies\":[]}",
		  "date-range: missing" },
		{ "{\"report-id\":\"x\",\"date-range\":{\"start-datetime\":"
		  "\"2026-11-30T00:00:00Z\"},\"policies\":[]}",
		  "date-range.end-datetime: missing or not a date-time" },
		{ "{\"report-id\":\"x\",\"date-range\":{\"start-datetime\":"
		  "\"30 Nov 2026\",\"end-datetime\":\"2026-11-30\"},"
		  "\"policies\":[]}",
		  "date-range.start-datetime: missing or not a date-time" },
		{ "{\"report-id\":\"x\",\"organization-name\":[],\"date-range\":"
		  "{}}", "organization-name: not a string" },
		{ RPT_HEAD "\"policies\":{}}", "policies: missing or not an "
		  "array" },
		{ RPT_HEAD "\"policies\":[3]}", "policies[0]: not an object" },
		{ RPT_HEAD "\"policies\":[{\"summary\":{}}]}",
		  "policies[0].policy: missing or not an object" },
		{ RPT_HEAD "\"policies\":[{\"policy\":{\"policy-type\":\"sts\"}}"
		  "]}", "policies[0].policy.policy-domain: missing or empty" },
		{ RPT_HEAD "\"policies\":[{\"policy\":{\"policy-domain\":\"a\"}},"
		  "{\"policy\":{\"policy-domain\":\"\"}}]}",
		  "policies[1].policy.policy-domain: missing or empty" },
		{ RPT_HEAD "\"policies\":[{\"policy\":{\"policy-domain\":\"a\","
		  "\"mx-host\":[\"a\",1]}}]}",
		  "policies[0].policy.mx-host: not an array of strings" },
		{ RPT_HEAD "\"policies\":[{\"policy\":{\"policy-domain\":\"a\","
		  "\"policy-string\":{}}}]}",
		  "policies[0].policy.policy-string: not an array of strings" },
		{ RPT_POL("\"summary\":[]"),
		  "policies[0].summary: not an object" },
		{ RPT_POL("\"summary\":{\"total-failure-session-count\":-1}"),
		  "policies[0].summary.total-failure-session-count: not a "
		  "non-negative integer" },
		{ RPT_POL("\"summary\":{\"total-successful-session-count\":1.5}"),
		  "policies[0].summary.total-successful-session-count: not a "
		  "non-negative integer" },
		{ RPT_POL("\"summary\":{\"total-failure-session-count\":\"4x\"}"),
		  "total-failure-session-count: not a non-negative integer" },
		{ RPT_POL("\"summary\":{\"total-failure-session-count\":\"\"}"),
		  "total-failure-session-count: not a non-negative integer" },
		{ RPT_POL("\"summary\":{\"total-failure-session-count\":\"-3\"}"),
		  "total-failure-session-count: not a non-negative integer" },
		{ RPT_POL("\"summary\":{\"total-failure-session-count\":true}"),
		  "total-failure-session-count: not a non-negative integer" },
		{ RPT_POL("\"failure-details\":{}"),
		  "policies[0].failure-details: not an array" },
		{ RPT_POL("\"failure-details\":[1]"),
		  "policies[0].failure-details[0]: not an object" },
		{ RPT_POL("\"failure-details\":[{\"failed-session-count\":1}]"),
		  "policies[0].failure-details[0].result-type: missing" },
		{ RPT_DET("\"failed-session-count\":-2"),
		  "policies[0].failure-details[0].failed-session-count: not a "
		  "non-negative integer" },
		{ RPT_DET("\"sending-mta-ip\":17"),
		  "policies[0].failure-details[0].sending-mta-ip: not a "
		  "string" },
	};
	static const struct {
		const char	*dt;
		long long	 t;	/* -1: refused */
		int		 no_tz;
	} dt[] = {
		{ "2016-04-01T00:00:00Z", 1459468800, 0 },
		{ "2016-04-01t00:00:00z", 1459468800, 0 },
		{ "2016-04-01 00:00:00Z", 1459468800, 0 },
		{ "2016-04-01T00:00:00.123456789Z", 1459468800, 0 },
		{ "2016-04-01T02:00:00+02:00", 1459468800, 0 },
		{ "2016-03-31T19:30:00-04:30", 1459468800, 0 },
		{ "2016-04-01T02:00:00+0200", 1459468800, 0 },
		{ "2016-04-01T00:00:00", 1459468800, 1 },
		{ "2016-04-01T00:00:00.5", 1459468800, 1 },
		{ "2016-04-01", 1459468800, 1 },
		{ "2024-02-29T12:00:00Z", 1709208000, 0 },
		{ "1970-01-01T00:00:00Z", 0, 0 },
		{ "2023-02-29T00:00:00Z", -1, 0 },
		{ "2016-13-01T00:00:00Z", -1, 0 },
		{ "2016-04-01T24:00:00Z", -1, 0 },
		{ "2016-04-01T00:00Z", -1, 0 },
		{ "2016-04-01T00:00:00+2", -1, 0 },
		{ "2016-04-01T00:00:00Z ", -1, 0 },
		{ "2016-04-01T00:00:00.Z", -1, 0 },
		{ "2016-4-1", -1, 0 },
		{ "", -1, 0 },
	};
	struct tlsrpt			 r;
	const struct tlsrpt_policy	*p;
	const struct tlsrpt_detail	*d;
	char				 err[256], what[300], *buf, *big;
	size_t				 i, n, len;
	long long			 sum;
	double				 t0;
	int				 rc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = tlsrpt_parse(bad[i].json, strlen(bad[i].json), &r, err,
		    sizeof(err));
		snprintf(what, sizeof(what), "tlsrpt: refused: %s",
		    bad[i].err);
		check(rc == -1 && strstr(err, bad[i].err) != NULL &&
		    r.id == NULL && r.p == NULL && r.np == 0, what,
		    rc == 0 ? "parsed" : err);
		if (rc == 0)
			tlsrpt_free(&r);
	}
	for (i = 0; i < sizeof(dt) / sizeof(dt[0]); i++) {
		char	json[512];

		snprintf(json, sizeof(json), "{\"report-id\":\"d\",\"date-range"
		    "\":{\"start-datetime\":\"%s\",\"end-datetime\":"
		    "\"2016-04-02T00:00:00Z\"},\"policies\":[]}", dt[i].dt);
		rc = tlsrpt_parse(json, strlen(json), &r, err, sizeof(err));
		snprintf(what, sizeof(what), "tlsrpt: date-time '%s'",
		    dt[i].dt);
		if (dt[i].t == -1)
			check(rc == -1 && strstr(err, "start-datetime") != NULL,
			    what, rc == 0 ? "parsed" : err);
		else
			check(rc == 0 && (long long)r.start == dt[i].t &&
			    r.no_tz == dt[i].no_tz, what, err);
		tlsrpt_free(&r);
	}

	/* RFC 8460 Appendix B, as written there (failure-error-code) */
	buf = rpt_file("rfc8460-b.json", &len);
	rc = buf != NULL ? tlsrpt_parse(buf, len, &r, err, sizeof(err)) : -1;
	check(rc == 0, "tlsrpt: RFC 8460 B parses", err);
	if (rc == 0) {
		p = &r.p[0];
		check(strcmp(r.org, "Company-X") == 0 &&
		    strcmp(r.contact, "sts-reporting@company-x.example") == 0 &&
		    strcmp(r.id, "5065427c-23d3-47ca-b6e0-946ea0e8c4be") == 0 &&
		    r.start == 1459468800 && r.end == 1459555199 &&
		    r.no_tz == 0 && r.np == 1,
		    "tlsrpt: RFC 8460 B: report", NULL);
		check(strcmp(p->type, "sts") == 0 &&
		    strcmp(p->domain, "company-y.example") == 0 &&
		    p->nstrings == 4 &&
		    strcmp(p->strings[2], "mx: *.mail.company-y.example") == 0 &&
		    p->nmx == 1 &&
		    strcmp(p->mx[0], "*.mail.company-y.example") == 0 &&
		    p->success == 5326 && p->failure == 303 && p->nd == 3 &&
		    p->more == 0, "tlsrpt: RFC 8460 B: policy", NULL);
		d = p->d;
		check(strcmp(d[0].result, "certificate-expired") == 0 &&
		    strcmp(d[0].sending_ip, "2001:db8:abcd:0012::1") == 0 &&
		    strcmp(d[0].mx, "mx1.mail.company-y.example") == 0 &&
		    d[0].receiving_ip[0] == '\0' && d[0].count == 100 &&
		    strcmp(d[1].result, "starttls-not-supported") == 0 &&
		    strcmp(d[1].receiving_ip, "203.0.113.56") == 0 &&
		    strncmp(d[1].info, "https://reports.company-x.example/",
		    34) == 0 && d[1].count == 200 &&
		    strcmp(d[2].reason,
		    "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED") == 0 &&
		    strcmp(d[2].mx, "mx-backup.mail.company-y.example") == 0 &&
		    d[2].count == 3 && d[2].mx_helo[0] == '\0',
		    "tlsrpt: RFC 8460 B: failure details", NULL);
	}
	tlsrpt_free(&r);
	free(buf);

	/* Microsoft: no sending-mta-ip, no policy-string */
	buf = rpt_file("microsoft-fetch-error.json", &len);
	rc = buf != NULL ? tlsrpt_parse(buf, len, &r, err, sizeof(err)) : -1;
	check(rc == 0 && r.np == 1 && r.p[0].nstrings == 0 &&
	    r.p[0].strings == NULL && r.p[0].nd == 1 &&
	    strcmp(r.p[0].d[0].result, "sts-policy-fetch-error") == 0 &&
	    r.p[0].d[0].sending_ip[0] == '\0' && r.p[0].d[0].count == 12,
	    "tlsrpt: a policy fetch error without sending-mta-ip, "
	    "policy-string", err);
	tlsrpt_free(&r);
	free(buf);

	/* the quirks: no time zone, offsets, errata 6241, counts as
	 * strings and 5.0, receiving-mx-ip, case, dots, a control byte */
	buf = rpt_file("quirks.json", &len);
	rc = buf != NULL ? tlsrpt_parse(buf, len, &r, err, sizeof(err)) : -1;
	check(rc == 0, "tlsrpt: quirks parse", err);
	if (rc == 0) {
		p = &r.p[0];
		check(strcmp(r.org, "Quirky?Mailer") == 0 &&
		    r.contact[0] == '\0' && r.no_tz == 1 &&
		    r.start == 1795996800 && r.end == 1795996800 + 82799,
		    "tlsrpt: quirks: dates, control byte", NULL);
		check(strcmp(p->type, "sts") == 0 &&
		    strcmp(p->domain, "example.net") == 0 &&
		    p->nstrings == 1 && p->nmx == 1 &&
		    strcmp(p->mx[0], "*.mx.example.net") == 0 &&
		    p->success == 1000 && p->failure == 5,
		    "tlsrpt: quirks: mx-host-pattern, counts", NULL);
		check(p->nd == 1 && p->d[0].count == 5 &&
		    strcmp(p->d[0].result, "certificate-host-mismatch") == 0 &&
		    strcmp(p->d[0].mx, "mx1.example.net") == 0 &&
		    strcmp(p->d[0].receiving_ip, "198.51.100.7") == 0 &&
		    strcmp(p->d[0].reason, "hostname mismatch") == 0,
		    "tlsrpt: quirks: identical details merged", NULL);
		check(r.np == 2 && strcmp(r.p[1].type, "no-policy-found") == 0 &&
		    r.p[1].success == 7 && r.p[1].failure == 0 &&
		    r.p[1].nd == 0 && r.p[1].d == NULL,
		    "tlsrpt: quirks: absent counts are 0", NULL);
	}
	tlsrpt_free(&r);
	free(buf);

	/* zero sessions: no policies; date alone; a byte order mark */
	buf = "\xef\xbb\xbf{\"report-id\":\"z\",\"date-range\":{"
	    "\"start-datetime\":\"2026-11-30\",\"end-datetime\":"
	    "\"2026-12-01\"},\"policies\":[]}";
	check(tlsrpt_parse(buf, strlen(buf), &r, err, sizeof(err)) == 0 &&
	    r.np == 0 && r.p == NULL && r.no_tz == 1 &&
	    r.end - r.start == 86400 && r.org[0] == '\0',
	    "tlsrpt: zero sessions, dates alone, BOM", err);
	tlsrpt_free(&r);
	tlsrpt_free(&r);	/* zeroed: harmless */

	/* mx-host as one string, mx-host-pattern ignored beside mx-host */
	buf = RPT_HEAD "\"policies\":[{\"policy\":{\"policy-domain\":"
	    "\"A.example\",\"mx-host\":\"MX.A.example.\",\"mx-host-pattern\":"
	    "[\"x\",\"y\"]}}]}";
	check(tlsrpt_parse(buf, strlen(buf), &r, err, sizeof(err)) == 0 &&
	    r.p[0].nmx == 1 && strcmp(r.p[0].mx[0], "mx.a.example") == 0 &&
	    r.p[0].type[0] == '\0', "tlsrpt: mx-host as a string", err);
	tlsrpt_free(&r);

	/* strings cut at 1024 bytes, not inside a UTF-8 sequence */
	if ((big = malloc(4096)) != NULL) {
		n = (size_t)snprintf(big, 4096, "{\"report-id\":\"");
		memset(big + n, 'a', 1023);
		n += 1023;
		memcpy(big + n, "\xc3\xa9\xc3\xa9", 4);	/* é é */
		n += 4;
		snprintf(big + n, 4096 - n, "\",\"date-range\":{\"start-"
		    "datetime\":\"2026-11-30\",\"end-datetime\":\"2026-11-30\"},"
		    "\"policies\":[]}");
		check(tlsrpt_parse(big, strlen(big), &r, err, sizeof(err)) ==
		    0 && strlen(r.id) == 1023, "tlsrpt: strings cut at 1024 "
		    "bytes, whole characters", err);
		tlsrpt_free(&r);
		free(big);
	}

	/* counts: saturated sums, huge numbers, strings of digits */
	buf = RPT_POL("\"summary\":{\"total-successful-session-count\":1e300,"
	    "\"total-failure-session-count\":\"99999999999999999999999\"},"
	    "\"failure-details\":[{\"result-type\":\"x\","
	    "\"failed-session-count\":4000000000000000000},"
	    "{\"result-type\":\"x\",\"failed-session-count\":"
	    "4000000000000000000}]");
	check(tlsrpt_parse(buf, strlen(buf), &r, err, sizeof(err)) == 0 &&
	    r.p[0].success == LLONG_MAX / 2 && r.p[0].failure == LLONG_MAX / 2 &&
	    r.p[0].nd == 1 && r.p[0].d[0].count == LLONG_MAX / 2,
	    "tlsrpt: counts saturate", err);
	tlsrpt_free(&r);

	/* more than TLSRPT_POLICIES_MAX policies */
	n = 0;
	if ((big = malloc(65536)) != NULL) {
		n = (size_t)snprintf(big, 65536, "%s\"policies\":[", RPT_HEAD);
		for (i = 0; i <= TLSRPT_POLICIES_MAX; i++)
			n += (size_t)snprintf(big + n, 65536 - n, "%s{\"policy\":"
			    "{\"policy-domain\":\"d%zu.example\"}}",
			    i ? "," : "", i);
		snprintf(big + n, 65536 - n, "]}");
		check(tlsrpt_parse(big, strlen(big), &r, err, sizeof(err)) ==
		    -1 && strcmp(err, "more than 256 policies") == 0,
		    "tlsrpt: more than 256 policies", err);
		/* exactly 256: fine */
		n = (size_t)(strrchr(big, ',') - big);
		snprintf(big + n, 65536 - n, "]}");
		check(tlsrpt_parse(big, strlen(big), &r, err, sizeof(err)) ==
		    0 && r.np == TLSRPT_POLICIES_MAX &&
		    strcmp(r.p[255].domain, "d255.example") == 0,
		    "tlsrpt: 256 policies", err);
		tlsrpt_free(&r);
		free(big);
	}

	/*
	 * A failure-details list of almost 10 MB: 5000 distinct entries
	 * repeated; the first 1000 distinct kept with their sums, the
	 * sessions of the rest in more, in linear time (0.5 s here; the
	 * time limits are for valgrind and qemu-user).
	 */
	len = TLSRPT_JSON_MAX;
	if ((big = malloc(len + 1)) != NULL) {
		n = (size_t)snprintf(big, len, "%s\"policies\":[{\"policy\":{"
		    "\"policy-domain\":\"big.example\"},\"failure-details\":[",
		    RPT_HEAD);
		for (i = 0; n < len - 200; i++)
			n += (size_t)snprintf(big + n, len - n, "%s{\"result-type"
			    "\":\"certificate-expired\",\"sending-mta-ip\":"
			    "\"192.0.2.%zu\",\"receiving-mx-hostname\":"
			    "\"mx%zu.big.example\",\"failed-session-count\":2}",
			    i ? "," : "", i % 50, i % 5000 / 50);
		n += (size_t)snprintf(big + n, len - n, "]}]}");
		t0 = rpt_now();
		rc = tlsrpt_parse(big, n, &r, err, sizeof(err));
		t0 = rpt_now() - t0;
		sum = 0;
		for (n = 0; rc == 0 && n < r.p[0].nd; n++)
			sum += r.p[0].d[n].count;
		snprintf(what, sizeof(what), "tlsrpt: %zu failure details "
		    "(%.2f s): 1000 kept, the rest in more", i, t0);
		check(rc == 0 && r.p[0].nd == TLSRPT_DETAILS_MAX &&
		    sum + r.p[0].more == 2 * (long long)i &&
		    r.p[0].d[0].count == 2 * (long long)((i + 4999) / 5000) &&
		    t0 < 60, what, err);
		tlsrpt_free(&r);
		check(tlsrpt_parse(big, TLSRPT_JSON_MAX + 1, &r, err,
		    sizeof(err)) == -1 && strstr(err, "larger than") != NULL,
		    "tlsrpt: larger than TLSRPT_JSON_MAX", err);
		/* cJSON's tree of 10 MB of "0," would be 400 MB */
		n = (size_t)snprintf(big, len, "{\"x\":[0");
		for (; n < len - 10; n += 2)
			memcpy(big + n, ",0", 2);
		memcpy(big + n, "]}", 2);
		t0 = rpt_now();
		rc = tlsrpt_parse(big, n + 2, &r, err, sizeof(err));
		t0 = rpt_now() - t0;
		check(rc == -1 && strncmp(err, "too many JSON values", 20)
		    == 0 && t0 < 10, "tlsrpt: too many JSON values", err);
		free(big);
	}
}

static void
test_tlsrpt_inflate(void)
{
	static const char	json[] = "{\"report-id\":\"gz\"}";
	unsigned char		*a = NULL, *b = NULL, *c = NULL;
	char			*out = NULL, err[256], what[128];
	size_t			 alen, blen, clen, outlen, n;
	double			 t0;
	int			 rc;

#define INFL(in, len, max) tlsrpt_inflate(in, len, max, &out, &outlen, err, \
	sizeof(err))
	/* gzip, zlib, raw deflate */
	a = rpt_deflate(json, strlen(json), 15 + 16, &alen);
	check(a != NULL && INFL(a, alen, 1024) == 0 && outlen == strlen(json) &&
	    strcmp(out, json) == 0, "tlsrpt: gunzip", err);
	if (a != NULL && out != NULL)
		free(out);
	b = rpt_deflate(json, strlen(json), 15, &blen);
	check(b != NULL && INFL(b, blen, 1024) == 0 && strcmp(out, json) == 0,
	    "tlsrpt: a zlib stream", err);
	if (b != NULL && out != NULL)
		free(out);
	c = rpt_deflate(json, strlen(json), -15, &clen);
	check(c != NULL && INFL(c, clen, 1024) == 0 && strcmp(out, json) == 0,
	    "tlsrpt: raw deflate", err);
	if (c != NULL && out != NULL)
		free(out);
	if (a == NULL || b == NULL || c == NULL)
		goto out;

	/* two gzip members, then zero bytes; then a zlib stream */
	{
		unsigned char	two[1024];

		memcpy(two, a, alen);
		memcpy(two + alen, a, alen);
		memset(two + 2 * alen, 0, 10);
		check(INFL(two, 2 * alen + 10, 1024) == 0 &&
		    outlen == 2 * strlen(json) &&
		    strncmp(out, json, strlen(json)) == 0 &&
		    strcmp(out + strlen(json), json) == 0,
		    "tlsrpt: two gzip members and zero padding", err);
		if (out != NULL)
			free(out);
		memcpy(two + alen, b, blen);
		check(INFL(two, alen + blen, 1024) == 0 &&
		    outlen == 2 * strlen(json),
		    "tlsrpt: a gzip member then a zlib stream", err);
		if (out != NULL)
			free(out);
		memcpy(two + alen, "junk", 4);
		check(INFL(two, alen + 4, 1024) == -1 && out == NULL &&
		    strcmp(err, "corrupt gzip data: garbage after the data") ==
		    0, "tlsrpt: garbage after a member", err);

		/* a reserved flag bit set: zlib refuses the header */
		memcpy(two, a, alen);
		two[3] |= 0x20;
		check(INFL(two, alen, 1024) == 0 && strcmp(out, json) == 0,
		    "tlsrpt: an odd gzip header", err);
		if (out != NULL)
			free(out);
		/* that, and a bad CRC */
		two[alen - 8] ^= 1;
		check(INFL(two, alen, 1024) == -1 &&
		    strcmp(err, "corrupt gzip data: incorrect data check") ==
		    0, "tlsrpt: an odd gzip header with a bad CRC", err);
		two[3] &= ~0x20;
		check(INFL(two, alen, 1024) == -1 &&
		    strcmp(err, "corrupt gzip data: incorrect data check") ==
		    0, "tlsrpt: a bad CRC", err);
		two[alen - 8] ^= 1;

		/* truncated anywhere */
		for (n = 1; n < alen; n++)
			if (INFL(two, n, 1024) != -1 ||
			    strcmp(err, "truncated gzip data") != 0)
				break;
		check(n == alen, "tlsrpt: truncated gzip data, at each length",
		    err);
		check(INFL(b, blen - 1, 1024) == -1 &&
		    strcmp(err, "truncated gzip data") == 0,
		    "tlsrpt: a truncated zlib stream", err);

		/* corrupt deflate data: a stored block's lengths */
		memcpy(two, a, alen);
		two[10] = 0x00;		/* not last, stored */
		two[11] = 0x05;
		two[12] = 0x00;
		two[13] = 0x05;
		two[14] = 0x00;		/* LEN, NLEN not its complement */
		check(INFL(two, alen, 1024) == -1 &&
		    strncmp(err, "corrupt gzip data: ", 19) == 0,
		    "tlsrpt: corrupt gzip data", err);
	}
	check(INFL((const unsigned char *)json, strlen(json), 1024) == -1 &&
	    out == NULL && strcmp(err, "not gzip data") == 0,
	    "tlsrpt: JSON is not gzip data", err);
	check(INFL((const unsigned char *)"\x1f\x8b", 0, 1024) == -1 &&
	    strcmp(err, "empty") == 0, "tlsrpt: empty", err);

	/* the cap, exactly */
	check(INFL(a, alen, strlen(json)) == 0 && outlen == strlen(json),
	    "tlsrpt: inflates to exactly max", err);
	if (out != NULL)
		free(out);
	check(INFL(a, alen, strlen(json) - 1) == -1 && strcmp(err,
	    "larger than 17 bytes when inflated") == 0,
	    "tlsrpt: one byte larger than max", err);

	/* filling the first buffer (4096 bytes) exactly */
	free(a);
	if ((a = rpt_deflate(NULL, 4096, 15 + 16, &alen)) != NULL) {
		check(INFL(a, alen, 1 << 20) == 0 && outlen == 4096 &&
		    out[4096] == '\0', "tlsrpt: the output buffer filled to "
		    "the byte", err);
		if (out != NULL)
			free(out);
	}

	/* a bomb: 100 MB of zeros, about 100 KB compressed */
	free(a);
	if ((a = rpt_deflate(NULL, 100 * 1024 * 1024, 15 + 16, &alen)) !=
	    NULL) {
		t0 = rpt_now();
		rc = INFL(a, alen, TLSRPT_JSON_MAX);
		t0 = rpt_now() - t0;
		snprintf(what, sizeof(what), "tlsrpt: a 100 MB gzip bomb "
		    "(%zu bytes) refused in %.3f s", alen, t0);
		check(rc == -1 && out == NULL && strstr(err, "larger than "
		    "10485760 bytes when inflated") != NULL && t0 < 20, what,
		    err);
	}
#undef INFL
out:
	free(a);
	free(b);
	free(c);
}

static void
test_tlsrpt(void)
{
	test_tlsrpt_parse();
	test_tlsrpt_inflate();
}

/* ---- mime.c ---- */

#define MIMET_KEEP	4	/* parts whose details a test looks at */
struct mimet {
	int		 n;	/* callbacks */
	int		 bad;	/* of them without data */
	struct {
		char		 where[64];
		int		 gz;
		size_t		 len;
		char		 data[1024];	/* the first bytes, NUL ended */
		char		 why[128];	/* "" when data came */
	}		 p[MIMET_KEEP];
};

static void
mimet_cb(void *arg, const struct mime_part *mp)
{
	struct mimet	*m = arg;
	size_t		 i = (size_t)m->n++;

	if (mp->data == NULL)
		m->bad++;
	if (i >= MIMET_KEEP)
		return;
	snprintf(m->p[i].where, sizeof(m->p[i].where), "%s", mp->where);
	m->p[i].gz = mp->gz;
	m->p[i].len = mp->len;
	m->p[i].data[0] = m->p[i].why[0] = '\0';
	if (mp->data != NULL) {
		memcpy(m->p[i].data, mp->data, mp->len < sizeof(m->p[i].data) ?
		    mp->len : sizeof(m->p[i].data) - 1);
		m->p[i].data[mp->len < sizeof(m->p[i].data) ? mp->len :
		    sizeof(m->p[i].data) - 1] = '\0';
	} else
		snprintf(m->p[i].why, sizeof(m->p[i].why), "%s", mp->why);
}

/* mime_reports on an exact-size copy of s (no NUL after it: ASan sees a
 * read past the end); with crlf, every LF made CR LF first. */
static int
mimet_run(const char *s, size_t len, int crlf, struct mimet *m)
{
	char	*p;
	size_t	 i, n = 0;
	int	 rc;

	memset(m, 0, sizeof(*m));
	if ((p = malloc(2 * len + 1)) == NULL)
		return -1;
	for (i = 0; i < len; i++) {
		if (crlf && s[i] == '\n')
			p[n++] = '\r';
		p[n++] = s[i];
	}
	if ((p = realloc(p, n > 0 ? n : 1)) == NULL)
		return -1;
	rc = mime_reports(p, n, mimet_cb, m);
	free(p);
	return rc;
}

/* a growing string for the generated cases */
struct mimet_buf {
	char	*s;
	size_t	 n, cap;
};

static void mimet_cat(struct mimet_buf *, const char *, ...)
	__attribute__((format(printf, 2, 3)));

static void
mimet_cat(struct mimet_buf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	*ns;
	int	 k;

	if (b->cap == 0 && b->s != NULL)
		return;		/* out of memory earlier */
	for (;;) {
		va_start(ap, fmt);
		k = vsnprintf(b->s == NULL ? NULL : b->s + b->n,
		    b->s == NULL ? 0 : b->cap - b->n, fmt, ap);
		va_end(ap);
		if (k < 0)
			return;
		if (b->s != NULL && (size_t)k < b->cap - b->n) {
			b->n += (size_t)k;
			return;
		}
		if ((ns = realloc(b->s, 2 * (b->n + (size_t)k + 64))) ==
		    NULL) {
			b->cap = 0;
			return;
		}
		b->s = ns;
		b->cap = 2 * (b->n + (size_t)k + 64);
	}
}

/* a message whose report sits in k nested multiparts */
static void
mimet_nest(struct mimet_buf *b, int k)
{
	int	i;

	b->n = 0;
	mimet_cat(b, "From: a@example.com\n");
	for (i = 0; i < k; i++)
		mimet_cat(b, "Content-Type: multipart/mixed; boundary=b%d\n"
		    "\n--b%d\n", i, i);
	mimet_cat(b, "Content-Type: application/tlsrpt+json\n\n{}\n");
	for (i = k - 1; i >= 0; i--)
		mimet_cat(b, "--b%d--\n", i);
}

static void
test_mime_seeds(void)
{
	static const struct {
		const char	*file;
		int		 n, bad;
		const char	*where[3];
		int		 gz;		/* of the first */
		size_t		 len;		/* of the first; 0: any */
		const char	*has;		/* in the first's data or why */
	} t[] = {
		{ "google.eml", 1, 0, { "part 2" }, 1, 321, "\x1f\x8b" },
		{ "microsoft.eml", 1, 0, { "part 2" }, 1, 433, "\x1f\x8b" },
		{ "mbox-two", 2, 0, { "message 1, part 2", "message 2, part 2" },
		  1, 321, "\x1f\x8b" },
		{ "qp.eml", 1, 0, { "part 2" }, 0, 606,
		  "\"contact-info\": \"smtp-tls-reporting@qp.example\",  \n"
		  " \"report-id\": \"qp=1 caf\xc3\xa9\",\n \"policies\": [\n" },
		{ "nested.eml", 1, 0, { "part 2.1" }, 0, 610,
		  "\"nested.example\"" },
		{ "forwarded.eml", 1, 0, { "part 2.2" }, 1, 321, "\x1f\x8b" },
		{ "single-json.eml", 1, 0, { "message body" }, 0, 611,
		  "\"single.example\"" },
		{ "bad.eml", 3, 3, { "part 1", "part 2", "part 3" }, 1, 0,
		  "bad base64 at byte 8 of the part's body" },
	};
	struct mimet	 m;
	char		 path[1200], what[200], *buf = NULL;
	size_t		 i, j, n;
	FILE		*f;
	int		 rc, ok;

	if ((buf = malloc(65536)) == NULL)
		return;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/mime/%s",
		    top, t[i].file);
		n = 0;
		if ((f = fopen(path, "r")) != NULL) {
			n = fread(buf, 1, 65536, f);
			fclose(f);
		}
		rc = mimet_run(buf, n, 0, &m);
		ok = n > 0 && rc == t[i].n && m.n == t[i].n &&
		    m.bad == t[i].bad && m.p[0].gz == t[i].gz &&
		    (t[i].len == 0 || m.p[0].len == t[i].len) &&
		    (strstr(m.p[0].data, t[i].has) != NULL ||
		    strstr(m.p[0].why, t[i].has) != NULL);
		for (j = 0; ok && j < (size_t)t[i].n && j < 3; j++)
			ok = strcmp(m.p[j].where, t[i].where[j]) == 0;
		snprintf(what, sizeof(what), "mime: seed %s", t[i].file);
		check(ok, what, n == 0 ? path : m.p[0].where);
	}
	/* the bad seed's other two */
	snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/mime/bad.eml", top);
	n = 0;
	if ((f = fopen(path, "r")) != NULL) {
		n = fread(buf, 1, 65536, f);
		fclose(f);
	}
	mimet_run(buf, n, 0, &m);
	check(strcmp(m.p[1].why, "unknown Content-Transfer-Encoding "
	    "'x-uuencode'") == 0, "mime: an unknown transfer encoding",
	    m.p[1].why);
	check(strcmp(m.p[2].why, "base64 cut short at byte 4 of the part's "
	    "body") == 0, "mime: base64 ending one character into a group",
	    m.p[2].why);
	free(buf);
}

#define MR(msg)	"From: r@example.net\nMIME-Version: 1.0\n" msg
#define MP(parts) MR("Content-Type: multipart/mixed; boundary=\"b\"\n\n" \
	"--b\nContent-Type: text/plain\n\nhello\n" parts "--b--\n")

static void
test_mime_cases(void)
{
	static const struct {
		const char	*desc, *msg;
		int		 n;	/* reports; -1 with bad: one bad */
		const char	*where;	/* of the first */
		int		 gz;
		const char	*data;	/* exact, or the why's substring */
	} t[] = {
		/* the top-level message and its headers */
		{ "a top-level gzip report",
		  MR("Content-Type: application/tlsrpt+gzip\n"
		  "Content-Transfer-Encoding: base64\n\nH4sI\n"),
		  1, "message body", 1, "\x1f\x8b\x08" },
		{ "header names in any case, folded fields",
		  MR("CONTENT-TYPE:\n Application/TLSRPT+JSON\n"
		  "content-transfer-encoding :\n\t7BIT\n\n{\"a\":1}"),
		  1, "message body", 0, "{\"a\":1}" },
		{ "a comment in Content-Type",
		  MR("Content-Type: (the report) application/tlsrpt+json "
		  "(json)\n\n{}"), 1, "message body", 0, "{}" },
		{ "no headers before the body: not a message",
		  "\n{}", 0, NULL, 0, NULL },
		{ "JSON is not a message", "{\"organization-name\":\"x\"}\n",
		  0, NULL, 0, NULL },
		{ "gzip is not a message", "\x1f\x8b\x08\x08\x01\x02",
		  0, NULL, 0, NULL },
		{ "empty input", "", 0, NULL, 0, NULL },
		{ "a mail without a report", MR("Subject: hi\n\nhello\n"),
		  0, NULL, 0, NULL },
		{ "headers only", MR("Content-Type: application/tlsrpt+json"),
		  1, "message body", 0, "" },
		/* multipart structure */
		{ "a folded boundary parameter",
		  MR("Content-Type: multipart/report;\n\treport-type=tlsrpt;"
		  "\n boundary=\"b\"\n\n--b\nContent-Type: application/"
		  "tlsrpt+json\n\n{}\n--b--\n"), 1, "part 1", 0, "{}" },
		{ "a quoted boundary with an escaped quote",
		  MR("Content-Type: multipart/mixed; boundary=\"a\\\"b\"\n\n"
		  "--a\"b\nContent-Type: application/tlsrpt+json\n\n{}\n"
		  "--a\"b--\n"), 1, "part 1", 0, "{}" },
		{ "an unquoted boundary with '=' and '?'",
		  MR("Content-Type: multipart/mixed; boundary==_x?y\n\n"
		  "--=_x?y\nContent-Type: application/tlsrpt+json\n\n{}\n"
		  "--=_x?y--\n"), 1, "part 1", 0, "{}" },
		{ "white space after a delimiter",
		  MP("--b \t\nContent-Type: application/tlsrpt+json\n\n{}\n"),
		  1, "part 2", 0, "{}" },
		{ "a longer boundary line is no delimiter",
		  MP("--b\nContent-Type: application/tlsrpt+json\n\n{\n--bx\n"
		  "}\n"), 1, "part 2", 0, "{\n--bx\n}" },
		{ "preamble and epilogue ignored",
		  MR("Content-Type: multipart/mixed; boundary=b\n\n"
		  "Content-Type: application/tlsrpt+json\n\n{}\n--b-\n"
		  "--b\nContent-Type: application/tlsrpt+json\n\n[]\n--b--\n"
		  "--b\nContent-Type: application/tlsrpt+json\n\n{}\n"),
		  1, "part 1", 0, "[]" },
		{ "no closing delimiter: the last part runs to the end",
		  MR("Content-Type: multipart/mixed; boundary=b\n\n--b\n"
		  "Content-Type: application/tlsrpt+json\n\n{}\n\n"),
		  1, "part 1", 0, "{}\n\n" },
		{ "a part without headers",
		  MP("--b\n\n{}\n"), 0, NULL, 0, NULL },
		{ "a multipart without a boundary",
		  MR("Content-Type: multipart/mixed\n\n--b\nContent-Type: "
		  "application/tlsrpt+json\n\n{}\n--b--\n"), 0, NULL, 0, NULL },
		{ "an empty boundary",
		  MR("Content-Type: multipart/mixed; boundary=\"\"\n\n--\n"
		  "Content-Type: application/tlsrpt+json\n\n{}\n"),
		  0, NULL, 0, NULL },
		{ "nested multiparts, numbered",
		  MP("--b\nContent-Type: multipart/alternative; boundary=c\n\n"
		  "--c\n\nx\n--c\nContent-Type: multipart/related; "
		  "boundary=d\n\n--d\nContent-Type: application/tlsrpt+json"
		  "\n\n{}\n--d--\n--c--\n"), 1, "part 2.2.1", 0, "{}" },
		{ "a forwarded message, its single part",
		  MP("--b\nContent-Type: message/rfc822\n\nFrom: x@y\n"
		  "Content-Type: application/tlsrpt+json\n\n{}\n"),
		  1, "part 2.1", 0, "{}" },
		{ "a top-level message/rfc822",
		  MR("Content-Type: message/rfc822\n\nFrom: x@y\n"
		  "Content-Type: application/tlsrpt+json\n\n{}"),
		  1, "part 1.1", 0, "{}" },
		{ "a base64 message/rfc822 is not read (RFC 2046 5.2.1)",
		  MP("--b\nContent-Type: message/rfc822\n"
		  "Content-Transfer-Encoding: base64\n\nRnJvbTogeEB5Cg==\n"),
		  0, NULL, 0, NULL },
		{ "a digest's parts are messages",
		  MR("Content-Type: multipart/digest; boundary=b\n\n--b\n\n"
		  "From: x@y\nContent-Type: application/tlsrpt+json\n\n{}\n"
		  "--b--\n"), 1, "part 1.1", 0, "{}" },
		/* which parts are reports */
		{ "application/gzip named .json.gz",
		  MP("--b\nContent-Type: application/gzip\nContent-Disposition:"
		  " attachment; filename=\"x!y!1!2.json.gz\"\n\n\x1f\x8b\n"),
		  1, "part 2", 1, "\x1f\x8b" },
		{ "application/x-gzip named .GZ (Content-Type's name)",
		  MP("--b\nContent-Type: application/x-gzip; name=R.GZ\n\nz\n"),
		  1, "part 2", 1, "z" },
		{ "application/octet-stream named .json",
		  MP("--b\nContent-Type: application/octet-stream\n"
		  "Content-Disposition: attachment;\n filename=\"r.json\"\n\n"
		  "{}\n"), 1, "part 2", 0, "{}" },
		{ "application/json named .json",
		  MP("--b\nContent-Type: application/json; name=\"r.json\"\n\n"
		  "{}\n"), 1, "part 2", 0, "{}" },
		{ "the file name over the type's name",
		  MP("--b\nContent-Type: application/octet-stream; name=r.json"
		  "\nContent-Disposition: attachment; filename=r.json.gz\n\nz\n"),
		  1, "part 2", 1, "z" },
		{ "application/zip is no report",
		  MP("--b\nContent-Type: application/zip; name=r.json.gz\n\nz\n"),
		  0, NULL, 0, NULL },
		{ "application/octet-stream without a name is no report",
		  MP("--b\nContent-Type: application/octet-stream\n\nz\n"),
		  0, NULL, 0, NULL },
		{ "text/plain named .json is no report",
		  MP("--b\nContent-Type: text/plain; name=r.json\n\n{}\n"),
		  0, NULL, 0, NULL },
		{ "RFC 2231 name*= is not read",
		  MP("--b\nContent-Type: application/octet-stream; "
		  "name*=utf-8''r.json\n\n{}\n"), 0, NULL, 0, NULL },
		{ "a name only '.json' is no report",
		  MP("--b\nContent-Type: application/json; name=.json\n\n{}\n"),
		  0, NULL, 0, NULL },
		/* transfer encodings */
		{ "base64 with line breaks, spaces and padding",
		  MP("--b\nContent-Type: application/tlsrpt+json\n"
		  "Content-Transfer-Encoding: BASE64\n\nQU JD\r\nRA\t==\n"),
		  1, "part 2", 0, "ABCD" },
		{ "base64 without padding",
		  MP("--b\nContent-Type: application/tlsrpt+json\n"
		  "Content-Transfer-Encoding: base64\n\nQUI\n"),
		  1, "part 2", 0, "AB" },
		{ "base64 after the padding ignored",
		  MP("--b\nContent-Type: application/tlsrpt+json\n"
		  "Content-Transfer-Encoding: base64\n\nQQ==!!\n"),
		  1, "part 2", 0, "A" },
		{ "an empty base64 part",
		  MP("--b\nContent-Type: application/tlsrpt+json\n"
		  "Content-Transfer-Encoding: base64\n\n"),
		  1, "part 2", 0, "" },
		{ "a bad base64 character",
		  MP("--b\nContent-Type: application/tlsrpt+gzip\n"
		  "Content-Transfer-Encoding: base64\n\nQUJD Q*==\n"),
		  -1, "part 2", 1, "bad base64 at byte 6 of the part's body" },
		{ "quoted-printable",
		  MP("--b\nContent-Type: application/tlsrpt+json\n"
		  "Content-Transfer-Encoding: quoted-printable\n\n"
		  "=7B\"a\"=3a =\n\"b=3D=\r\nc\"  \n=7d=ZZ=\n"),
		  1, "part 2", 0, "{\"a\": \"b=c\"\n}=ZZ" },
		{ "quoted-printable: space before a soft break kept",
		  MP("--b\nContent-Type: application/tlsrpt+json\n"
		  "Content-Transfer-Encoding: quoted-printable\n\na  =\n\nb \t"
		  "\n"), 1, "part 2", 0, "a  \nb" },
		{ "8bit as it is",
		  MP("--b\nContent-Type: application/tlsrpt+json\n"
		  "Content-Transfer-Encoding: 8bit\n\n{\"\xc3\xa9\"}\n"),
		  1, "part 2", 0, "{\"\xc3\xa9\"}" },
		{ "an unknown transfer encoding",
		  MP("--b\nContent-Type: application/tlsrpt+gzip\n"
		  "Content-Transfer-Encoding: x-\x01uu\n\nbegin\n"),
		  -1, "part 2", 1, "unknown Content-Transfer-Encoding 'x-?uu'" },
		{ "an unknown encoding of a part that is no report",
		  MP("--b\nContent-Type: text/plain\n"
		  "Content-Transfer-Encoding: x-uu\n\nbegin\n"),
		  0, NULL, 0, NULL },
		/* mbox */
		{ "an mbox: 'From ' only after an empty line",
		  "From a@b Mon Jan  1 00:00:00 2024\nSubject: 1\n\nhi\n"
		  "From here on, text\n\n"
		  "From a@b Mon Jan  1 00:00:01 2024\n"
		  "Content-Type: application/tlsrpt+json\n\n{}\n\n"
		  "From a@b Mon Jan  1 00:00:02 2024\n\nno headers\n\n"
		  "From a@b Mon Jan  1 00:00:03 2024\n"
		  "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
		  "Content-Type: application/tlsrpt+json\n\n[]\n--b--\n",
		  2, "message 2, body", 0, "{}\n" },
		{ "an mbox of one 'From ' line", "From a@b Mon Jan  1", 0, NULL,
		  0, NULL },
	};
	struct mimet	 m;
	char		 what[200];
	size_t		 i, len;
	int		 rc, crlf, n;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		for (crlf = 0; crlf < 2; crlf++) {
			len = strlen(t[i].msg);
			rc = mimet_run(t[i].msg, len, crlf, &m);
			n = t[i].n < 0 ? 1 : t[i].n;
			snprintf(what, sizeof(what), "mime: %s%s", t[i].desc,
			    crlf ? " (CRLF)" : "");
			if (n == 0) {
				check(rc == 0 && m.n == 0, what, m.p[0].where);
				continue;
			}
			/* CR LF inside the data, where the test has LF */
			if (crlf && t[i].n > 0 && strchr(t[i].data, '\n')) {
				check(rc == n && m.bad == 0 &&
				    strcmp(m.p[0].where, t[i].where) == 0,
				    what, m.p[0].where);
				continue;
			}
			check(rc == n && m.n == n && strcmp(m.p[0].where,
			    t[i].where) == 0 && m.p[0].gz == t[i].gz &&
			    (t[i].n < 0 ? m.bad == 1 && strstr(m.p[0].why,
			    t[i].data) != NULL : m.bad == 0 &&
			    m.p[0].len == strlen(t[i].data) &&
			    strcmp(m.p[0].data, t[i].data) == 0), what,
			    t[i].n < 0 ? m.p[0].why : m.p[0].data);
		}
	/* the mbox case's second report */
	mimet_run(t[sizeof(t) / sizeof(t[0]) - 2].msg,
	    strlen(t[sizeof(t) / sizeof(t[0]) - 2].msg), 0, &m);
	check(strcmp(m.p[1].where, "message 4, part 1") == 0 &&
	    strcmp(m.p[1].data, "[]") == 0, "mime: an mbox's messages counted",
	    m.p[1].where);
}

static void
test_mime_bounds(void)
{
	struct mimet_buf	 b = { NULL, 0, 0 };
	struct mimet		 m;
	char			 bnd[202], what[100];
	int			 i, rc;

	/* MIME_DEPTH_MAX nested multiparts read, one more not */
	mimet_nest(&b, MIME_DEPTH_MAX);
	rc = mimet_run(b.s, b.n, 0, &m);
	check(rc == 1 && strcmp(m.p[0].where, "part 1.1.1.1.1.1.1.1") == 0,
	    "mime: multiparts nested 8 deep", m.p[0].where);
	mimet_nest(&b, MIME_DEPTH_MAX + 1);
	check(mimet_run(b.s, b.n, 0, &m) == 0,
	    "mime: multiparts nested 9 deep are not read", NULL);
	/* a forwarded message counts as a level */
	mimet_nest(&b, 0);
	for (i = 0; i <= MIME_DEPTH_MAX; i++) {
		struct mimet_buf	in = b;

		b.s = NULL;
		b.n = b.cap = 0;
		mimet_cat(&b, "From: a@b\nContent-Type: message/rfc822\n\n%.*s",
		    (int)in.n, in.s);
		free(in.s);
		rc = mimet_run(b.s, b.n, 0, &m);
		snprintf(what, sizeof(what), "mime: a message in %d "
		    "message/rfc822 levels", i + 1);
		check(rc == (i + 1 <= MIME_DEPTH_MAX), what, m.p[0].where);
	}

	/* 2000 parts: MIME_PARTS_MAX entities looked at (the message is
	 * one), then no more */
	b.n = 0;
	mimet_cat(&b, "From: a@b\nContent-Type: multipart/mixed; "
	    "boundary=b\n\n");
	for (i = 0; i < 2000; i++)
		mimet_cat(&b, "--b\nContent-Type: application/tlsrpt+json"
		    "\n\n{\"n\":%d}\n", i);
	mimet_cat(&b, "--b--\n");
	rc = mimet_run(b.s, b.n, 0, &m);
	check(rc == MIME_PARTS_MAX - 1 && m.n == rc,
	    "mime: 2000 parts, MIME_PARTS_MAX looked at", NULL);
	/* an mbox of 2000 messages */
	b.n = 0;
	for (i = 0; i < 2000; i++)
		mimet_cat(&b, "From a@b Mon Jan  1 00:00:00 2024\nContent-Type: "
		    "application/tlsrpt+json\n\n{}\n\n");
	rc = mimet_run(b.s, b.n, 0, &m);
	check(rc == MIME_PARTS_MAX, "mime: an mbox of 2000 messages, "
	    "MIME_PARTS_MAX read", NULL);

	/* a header field is read up to 64 KiB */
	b.n = 0;
	mimet_cat(&b, "From: a@b\nContent-Type: application/octet-stream;");
	for (i = 0; i < 65536 / 64; i++)
		mimet_cat(&b, "\n %62s", "x=y;");
	mimet_cat(&b, " name=r.json\n\n{}");
	check(mimet_run(b.s, b.n, 0, &m) == 0,
	    "mime: a header field cut at 64 KiB", NULL);
	b.n = 0;
	mimet_cat(&b, "From: a@b\nContent-Type: application/octet-stream;");
	for (i = 0; i < 65536 / 64 - 2; i++)
		mimet_cat(&b, "\n %62s", "x=y;");
	mimet_cat(&b, " name=r.json\n\n{}");
	check(mimet_run(b.s, b.n, 0, &m) == 1,
	    "mime: a header field of nearly 64 KiB", NULL);

	/* boundaries: up to 200 characters */
	for (i = 0; i < 2; i++) {
		memset(bnd, 'q', sizeof(bnd));
		bnd[200 + i] = '\0';
		b.n = 0;
		mimet_cat(&b, "From: a@b\nContent-Type: multipart/mixed; "
		    "boundary=\"%s\"\n\n--%s\nContent-Type: application/"
		    "tlsrpt+json\n\n{}\n--%s--\n", bnd, bnd, bnd);
		rc = mimet_run(b.s, b.n, 0, &m);
		check(rc == (i == 0), i == 0 ? "mime: a boundary of 200" :
		    "mime: a boundary of 201 is none", NULL);
	}

	/* file names: up to 255 characters */
	for (i = 0; i < 2; i++) {
		b.n = 0;
		mimet_cat(&b, "From: a@b\nContent-Type: application/"
		    "octet-stream; name=\"%0*d.json\"\n\n{}", 250 + i, 0);
		check(mimet_run(b.s, b.n, 0, &m) == (i == 0), i == 0 ?
		    "mime: a file name of 255" :
		    "mime: a file name of 256 is none", NULL);
	}
	free(b.s);
}

static void
test_mime(void)
{
	test_mime_seeds();
	test_mime_cases();
	test_mime_bounds();
}

#undef MR
#undef MP

int
main(int argc, char **argv)
{
	const char	*slash = strrchr(argv[0], '/');

	if (argc >= 2 && strcmp(argv[1], "fetch") == 0)
		return fetch_cmd(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "dnsq") == 0)
		return dnsq_cmd(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "smtp") == 0)
		return smtp_cmd(argc - 1, argv + 1);
	/* the tree's top: this binary is <top>/<build dir>/unit */
	if (slash == NULL)
		snprintf(top, sizeof(top), "..");
	else
		snprintf(top, sizeof(top), "%.*s/..", (int)(slash - argv[0]),
		    argv[0]);
	test_names();
	test_wildcard();
	test_rua();
	test_render();
	test_dns();
	test_ids();
	test_history();
	test_route();
	test_hmap();
	test_conn();
	test_name_norm();
	test_hello();
	test_uci();
	test_fetch();
	test_smtp();
	test_x509();
	test_acmemsg();
	test_dnsq();
	test_tlsrpt();
	test_mime();
	return failures != 0;
}
