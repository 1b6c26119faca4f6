# mtasts-httpd: a tiny HTTPS server for one MTA-STS policy host.
#
#   make            build build/mtasts-httpd
#   make unit       build build/unit, the unit tests (tests/unit.c)
#   make run        install build deps if missing, build, make a throwaway
#                   certificate, serve the example config on port 8443
#   make check      build, then the quick subset of the tests: unit tests
#                   and serve-path tests on the plain build, no root needed
#   make test       install test deps if missing, build (plain, ASan+UBSan,
#                   fuzzers, mbedTLS 3.6 stack, armhf, mipsel, static musl),
#                   run every test
#   make static     fully static build-static/mtasts-httpd (musl)
#   make cross      build-armhf/, build-mipsel/ (run by tests/t-cross.sh)
#   make fuzz       each fuzzer for FUZZ_TIME seconds (default 600)
#   make install    binary, example config (if none), man pages, systemd
#                   unit and sysusers entry; PREFIX, DESTDIR, SBINDIR,
#                   SYSCONFDIR, MANDIR, UNITDIR, SYSUSERSDIR honoured

PREFIX		?= /usr/local
SBINDIR		?= $(PREFIX)/sbin
SYSCONFDIR	?= /etc
LOCALSTATEDIR	?= /var/lib
MANDIR		?= $(PREFIX)/share/man
UNITDIR		?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR	?= $(PREFIX)/lib/sysusers.d
DESTDIR		?=

CC		?= cc
# A cross build names its target's: make PKG_CONFIG=mipsel-linux-gnu-pkg-config
PKG_CONFIG	?= pkg-config
# Size first, for a router's flash: -Os, unused code and data dropped, no
# unwind tables (C without exceptions; -g keeps .debug_frame for gdb).
# -z now: full RELRO and no lazy binding, so calls skip the PLT.
CFLAGS		?= -Os -g -ffunction-sections -fdata-sections \
		   -fno-asynchronous-unwind-tables -fno-plt
LDFLAGS		?= -Wl,--gc-sections -Wl,-z,now
WARNINGS	?= -Wall -Wextra -Wshadow -Wpointer-arith -Wmissing-prototypes \
		   -Wstrict-prototypes -Wformat=2
BUILD		?= build
RUN_PORT	?= 8443
# The one version string: also read by openwrt/mtasts-httpd/Makefile.
VERSION		:= $(shell cat VERSION 2>/dev/null)
ifeq ($(VERSION),)
$(error the file VERSION is missing or empty)
endif

# ASan + UBSan for tests: make SAN=1 BUILD=build-san
ifeq ($(SAN),1)
SANFLAGS	= -fsanitize=address,undefined -fno-omit-frame-pointer \
		  -fno-sanitize-recover=undefined
endif
# libFuzzer harnesses (clang): make fuzz-build, make fuzz
ifeq ($(FUZZ),1)
SANFLAGS	= -fsanitize=fuzzer-no-link,address,undefined \
		  -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
FUZZERS		= fuzz_acme fuzz_conf fuzz_dns fuzz_fetch fuzz_hello fuzz_name \
		  fuzz_mime fuzz_route fuzz_smtp fuzz_tlsrpt
FUZZ_TIME	?= 600

# Debian's mbedTLS 2.28 ships no .pc file; 3.x does.
MBEDTLS_LIBS	?= $(shell $(PKG_CONFIG) --libs mbedtls mbedx509 mbedcrypto \
		   2>/dev/null || echo -lmbedtls -lmbedx509 -lmbedcrypto)
MHD_LIBS	?= $(shell $(PKG_CONFIG) --libs libmicrohttpd 2>/dev/null || \
		   echo -lmicrohttpd)
# cJSON (Debian's libcjson-dev, OpenWrt's cjson): the ACME client's JSON.
CJSON_LIBS	?= $(shell $(PKG_CONFIG) --libs libcjson 2>/dev/null || \
		   echo -lcjson)
# zlib (Debian's zlib1g-dev, OpenWrt's zlib): gunzips TLS reports.
ZLIB_LIBS	?= $(shell $(PKG_CONFIG) --libs zlib 2>/dev/null || echo -lz)

# _FILE_OFFSET_BITS: large-file interfaces on 32-bit routers too, where
# readdir() fails (EOVERFLOW) on ext4's 64-bit cookies and stat() on large
# inode numbers; no off_t crosses an interface of ours or the libraries'.
ALL_CPPFLAGS	= -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
		  -DSYSCONFDIR='"$(SYSCONFDIR)"' \
		  -DLOCALSTATEDIR='"$(LOCALSTATEDIR)"' \
		  -DMTASTS_VERSION='"$(VERSION)"' $(CPPFLAGS)
ALL_CFLAGS	= -std=c11 $(WARNINGS) $(CFLAGS) $(SANFLAGS)
# The resolver (res_nquery, ns_initparse): glibc's libresolv; in musl's libc.
RESOLV_LIBS	?= -lresolv
LIBS		= $(MHD_LIBS) $(CJSON_LIBS) $(ZLIB_LIBS) $(MBEDTLS_LIBS) \
		  $(RESOLV_LIBS)

LIB_SRCS	= acme.c acmemsg.c bridge.c child.c conf.c conn.c diag.c dns.c \
		  dnsq.c dnswatch.c env.c fetch.c file.c health.c hello.c \
		  history.c hmap.c hook.c http.c live.c log.c loop.c mime.c \
		  name.c policy.c priv.c report.c rptrecv.c serve.c smtp.c \
		  snap.c state.c tls.c tlsrpt.c uci.c utc.c watch.c x509.c
LIB_OBJS	= $(LIB_SRCS:%.c=$(BUILD)/%.o)
BIN		= $(BUILD)/mtasts-httpd
UNIT		= $(BUILD)/unit

.PHONY: all unit deps run test bench fuzzers fuzz-build fuzz new-stack cross \
	static \
	install uninstall clean

all: $(BIN)

unit: $(UNIT)

$(BUILD)/%.o: src/%.c
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/unit.o: tests/unit.c
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -Isrc -MMD -MP -c -o $@ $<

$(BIN): $(LIB_OBJS) $(BUILD)/main.o
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(UNIT): $(LIB_OBJS) $(BUILD)/unit.o
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_OBJS)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -Isrc -fsanitize=fuzzer $(LDFLAGS) \
	    -o $@ $^ $(LIBS)

fuzzers: $(FUZZERS:%=$(BUILD)/%)

fuzz-build:
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang FUZZ=1 fuzzers

# Each fuzzer for FUZZ_TIME seconds (default 600) on a scratch corpus
# seeded from tests/fuzz/corpus/.
fuzz: fuzz-build
	@FUZZ_TIME=$(FUZZ_TIME) bash tests/fuzz/run.sh build-fuzz

-include $(wildcard $(BUILD)/*.d)

# MTASTS_VERSION comes from the command line, not a header -MMD sees.
$(LIB_OBJS) $(BUILD)/main.o $(BUILD)/unit.o: VERSION

deps:
	@sh tests/deps.sh build

run: deps
	@$(MAKE) --no-print-directory all
	@sh certs/mkcert.sh certs example.com
	@mkdir -p $(BUILD)/run-state
	@{ echo "listen 127.0.0.1:$(RUN_PORT)"; \
	   echo "cert certs/mta-sts.fullchain.crt"; \
	   echo "key certs/mta-sts.key"; \
	   echo "state_dir $(BUILD)/run-state"; \
	   echo "check_interval 0"; \
	   sed -n '/^domain/,$$p' config/mtasts-httpd.conf; } > $(BUILD)/run.conf
	@echo "== DNS records (mtasts-httpd --print-dns):"
	@$(BIN) -c $(BUILD)/run.conf --print-dns
	@echo "== serving $(BUILD)/run.conf; try, from another shell:"
	@echo "   curl --cacert certs/ca.crt --resolve mta-sts.example.com:$(RUN_PORT):127.0.0.1 https://mta-sts.example.com:$(RUN_PORT)/.well-known/mta-sts.txt"
	@echo "== Ctrl-C stops it"
	@exec $(BIN) -c $(BUILD)/run.conf

# The quick subset for contributors: the unit tests and the serve-path
# tests on the plain build, as any user, in under two minutes. Hermetic:
# no package installs, no root, no network namespaces, loopback only
# (127.0.0.0/8); needs curl, openssl, python3, iproute2 (ss) and
# bind9-utils (named-checkzone) besides the build dependencies. make test
# stays the full matrix that CI runs.
CHECK_TESTS	?= t-conf t-check t-dns t-id t-env t-layers t-http t-conform \
		   t-strict t-resume t-multi t-limits t-flood t-fdlimit \
		   t-reload t-announce t-fetch t-smtp t-report
.PHONY: check
check:
	@$(MAKE) --no-print-directory all unit
	@TESTS="$(CHECK_TESTS)" bash tests/run.sh $(BUILD)

test:
	@sh tests/deps.sh test
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory all unit SAN=1 BUILD=build-san
	@$(MAKE) --no-print-directory fuzz-build
	@$(MAKE) --no-print-directory new-stack
	@$(MAKE) --no-print-directory cross
	@$(MAKE) --no-print-directory static
	@bash tests/run.sh $(BUILD) build-san build-new \
	    build-static=$(subst $(space),$(comma),$(strip $(STATIC_TESTS)))

# The musl static build runs the tests that exercise libc most (config
# files, sockets, signals, users, fsync): the whole suite on it would add
# minutes for little (same stack as build-new). STATIC_TESTS (a space-
# separated list) can name more: it is a make variable away.
STATIC_TESTS	?= t-conf t-env t-http t-id t-reload t-limits t-priv t-crash \
		   t-acme t-dnsq t-live
comma		:= ,
empty		:=
space		:= $(empty) $(empty)

# The OpenWrt 24.10 stack (mbedTLS 3.6, libmicrohttpd 1.0.1 without
# HTTPS), built from Debian 13 sources into build-deps/ (cached), and
# mtasts-httpd built against it into build-new/.
NEW		= build-deps/prefix
# The static libraries tests/newstack.sh built into prefix $(1).
static_stack	= MBEDTLS_LIBS="$(1)/lib/libmbedtls.a $(1)/lib/libmbedx509.a \
		  $(1)/lib/libmbedcrypto.a" MHD_LIBS="$(1)/lib/libmicrohttpd.a" \
		  CJSON_LIBS="$(1)/lib/libcjson.a" ZLIB_LIBS="$(1)/lib/libz.a"
new-stack:
	@bash tests/newstack.sh
	@$(MAKE) --no-print-directory all unit BUILD=build-new \
	    CPPFLAGS="-I$(NEW)/include" \
	    $(call static_stack,$(NEW))

# Router architectures: cross-built with Debian's cross toolchains against
# the same stack, built as shared libraries (as a router has them) into
# build-deps/ARCH, into build-ARCH/; tests/t-cross.sh runs them under
# qemu-user.
CROSS_ARCHS	= armhf mipsel
TRIPLET_armhf	= arm-linux-gnueabihf
TRIPLET_mipsel	= mipsel-linux-gnu
cross: $(CROSS_ARCHS:%=cross-%)
cross-%:
	@bash tests/newstack.sh $*
	@$(MAKE) --no-print-directory all unit BUILD=build-$* \
	    CC=$(TRIPLET_$*)-gcc \
	    CPPFLAGS="-Ibuild-deps/$*/include" \
	    MBEDTLS_LIBS="-Lbuild-deps/$*/lib -lmbedtls -lmbedx509 -lmbedcrypto" \
	    MHD_LIBS="-Lbuild-deps/$*/lib -lmicrohttpd" \
	    CJSON_LIBS="-Lbuild-deps/$*/lib -lcjson" \
	    ZLIB_LIBS="-Lbuild-deps/$*/lib -lz"

# A fully static binary against musl (Debian's musl-tools), the same
# stack built for musl into build-deps/musl: runs in an empty root, and is
# the closest we get to OpenWrt's libc. build-static/mtasts-httpd, and
# build-static/rootfs/ for the container image (docker/Dockerfile), with
# this machine's CA bundle (Debian's ca-certificates) at ca_bundle's
# default path, the trust for ACME.
MUSL		= build-deps/musl
MUSL_DEFS	= -DMBEDTLS_NO_PLATFORM_ENTROPY -DMBEDTLS_ENTROPY_HARDWARE_ALT
static:
	@bash tests/newstack.sh musl
	@$(MAKE) --no-print-directory all unit BUILD=build-static CC=musl-gcc \
	    CFLAGS="-O2 -g -ffunction-sections -fdata-sections" \
	    LDFLAGS="-static -Wl,--gc-sections" \
	    CPPFLAGS="-I$(MUSL)/include $(MUSL_DEFS)" \
	    $(call static_stack,$(MUSL))
	@rm -rf build-static/rootfs
	@mkdir -p build-static/rootfs/var/lib build-static/rootfs/state \
	    build-static/rootfs/etc/ssl/certs
	@strip -o build-static/rootfs/mtasts-httpd build-static/mtasts-httpd
	@cp /etc/ssl/certs/ca-certificates.crt build-static/rootfs/etc/ssl/certs/

# Not part of make test: figures, not assertions (docs/BENCHMARKS.md).
bench:
	@sh tests/deps.sh bench
	@$(MAKE) --no-print-directory all
	@bash bench/compare.sh $(BIN)
	@bash bench/flood.sh $(BIN)
	@bash bench/reload-latency.sh $(BIN)
	@bash bench/idle-wakeups.sh $(BIN)
	@bash bench/many-domains.sh $(BIN)
	@bash bench/dnswatch.sh $(BIN)
	@bash bench/tlsrpt.sh $(BIN)

install: $(BIN)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSCONFDIR) \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(SBINDIR)/mtasts-httpd
	test -e $(DESTDIR)$(SYSCONFDIR)/mtasts-httpd.conf || \
	    install -m 0644 config/mtasts-httpd.conf \
	    $(DESTDIR)$(SYSCONFDIR)/mtasts-httpd.conf
	install -m 0644 docs/mtasts-httpd.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 docs/mtasts-httpd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    config/mtasts-httpd.service.in > $(DESTDIR)$(UNITDIR)/mtasts-httpd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/mtasts-httpd.service
	install -m 0644 config/mtasts-httpd.sysusers \
	    $(DESTDIR)$(SYSUSERSDIR)/mtasts-httpd.conf
	@if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers > /dev/null; then \
	    systemd-sysusers $(SYSUSERSDIR)/mtasts-httpd.conf; fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/mtasts-httpd \
	    $(DESTDIR)$(MANDIR)/man8/mtasts-httpd.8 \
	    $(DESTDIR)$(MANDIR)/man5/mtasts-httpd.conf.5 \
	    $(DESTDIR)$(UNITDIR)/mtasts-httpd.service \
	    $(DESTDIR)$(SYSUSERSDIR)/mtasts-httpd.conf

clean:
	rm -rf build build-san build-fuzz build-new build-deps \
	    $(CROSS_ARCHS:%=build-%) build-static
