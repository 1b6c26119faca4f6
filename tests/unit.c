/*
 * unit.c: table-driven tests of the pure modules (policy rules, config
 * parsing, rendering, DNS text, id/state logic, request routing). Prints
 * "ok - ..." / "not ok - ..." lines; tests/run.sh counts them. The state
 * tests write into a fresh directory under $TMPDIR.
 */
#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtasts.h"

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
	return state_commit(dir, r, 1, t, d);
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
	check(state_commit(dir, rr, 2, t, &d) == -1 && has_msg(&d, 1, sub),
	    "a failed write names the file", d.n > 0 ? d.msg[0] : NULL);
	diag_free(&d);
	rmdir(sub);
	s = slurp(dir, "state");
	check(s != NULL && strstr(s, "example.com 20261123101504Z") != NULL &&
	    strstr(s, "other.example 20261123101500Z") != NULL,
	    "after a failed write no domain moved", s);
	free(s);
	check(state_commit(dir, rr, 2, t, &d) == 0 && rr[0].minted &&
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

int
main(int argc, char **argv)
{
	const char	*slash = strrchr(argv[0], '/');

	/* the tree's top: this binary is <top>/<build dir>/unit */
	(void)argc;
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
	test_route();
	test_hmap();
	test_conn();
	test_name_norm();
	test_hello();
	test_uci();
	return failures != 0;
}
