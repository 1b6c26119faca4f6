/*
 * unit.c: table-driven tests of the pure modules (policy rules, config
 * parsing, rendering, DNS text, id/state logic, request routing). Prints
 * "ok - ..." / "not ok - ..." lines; tests/run.sh counts them. The state
 * tests write into a fresh directory under $TMPDIR.
 */
#include <sys/stat.h>
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
test_ids(void)
{
	char	 id[ID_MAX + 1], id2[ID_MAX + 1], dir[256], err[512], *p;
	time_t	 t = 1795428900;	/* 2026-11-23 10:15:00 UTC */
	int	 is_new = -1;
	FILE	*f;

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
	check(state_sync(dir, "example.com", "A", 1, t, id, &is_new, err,
	    sizeof(err)) == 0 && is_new == 1 &&
	    strcmp(id, "20261123101500Z") == 0, "first sync mints an id", err);
	check(state_sync(dir, "example.com", "A", 1, t + 100, id, &is_new,
	    err, sizeof(err)) == 0 && is_new == 0 &&
	    strcmp(id, "20261123101500Z") == 0, "same policy keeps its id", id);
	check(state_sync(dir, "example.com", "B", 1, t, id, &is_new, err,
	    sizeof(err)) == 0 && is_new == 1 &&
	    strcmp(id, "20261123101501Z") == 0,
	    "changed policy in the same second: greater id", id);
	check(state_sync(dir, "example.com", "A", 1, t, id, &is_new, err,
	    sizeof(err)) == 0 && is_new == 1 &&
	    strcmp(id, "20261123101502Z") == 0,
	    "changing back is a change too", id);
	check(state_sync(dir, "other.example", "A", 1, t, id2, &is_new, err,
	    sizeof(err)) == 0 && strcmp(id2, "20261123101500Z") == 0,
	    "ids are per domain", id2);

	/* a torn or hand-edited file: a new id, never a crash */
	snprintf(err, sizeof(err), "%s/example.com.state", dir);
	if ((f = fopen(err, "w")) != NULL) {
		fputs("id \nsha256 zz\n\n\x01", f);
		fclose(f);
	}
	check(state_sync(dir, "example.com", "A", 1, t, id, &is_new, err,
	    sizeof(err)) == 0 && is_new == 1 && strlen(id) == 15,
	    "damaged state file: new id", err);

	snprintf(err, sizeof(err), "%s/file", dir);
	if ((f = fopen(err, "w")) != NULL)
		fclose(f);
	p = strdup(err);
	check(state_sync(p, "example.com", "A", 1, t, id, &is_new, err,
	    sizeof(err)) == -1 && strstr(err, "not a directory") != NULL,
	    "state_dir that is a file", err);
	free(p);
	snprintf(err, sizeof(err), "rm -rf '%s'", dir);
	if (system(err) != 0)
		check(0, "cleanup", dir);
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

int
main(void)
{
	test_names();
	test_wildcard();
	test_rua();
	test_render();
	test_dns();
	test_ids();
	test_route();
	test_hmap();
	return failures != 0;
}
