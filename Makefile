# Coffer - a secure archive for chat messages.
# make            build build/coffer and build/cofferfs
# make check      build and run every test (SAN=1: under ASan + UBSan)
# make install    PREFIX=/usr/local DESTDIR=
# make deps       install the Debian packages needed to build and test
# make bench      performance benchmarks (BENCH_QUICK=1: a small run)

CC ?= cc
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

WARNINGS = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wformat-security \
	-Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition \
	-Wpointer-arith -Wcast-align -Wwrite-strings -Wvla -Wundef \
	-Wimplicit-fallthrough -Wnull-dereference -Wredundant-decls
CFLAGS ?= -O2 -g
PKGS = fuse3 libsodium lmdb jansson libzip
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

ifeq ($(SAN),1)
O ?= build-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
O ?= build
SANFLAGS =
endif

ALL_CFLAGS = -std=c17 -D_GNU_SOURCE -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE \
	$(WARNINGS) $(CFLAGS) $(SANFLAGS) $(PKG_CFLAGS) -Ifs -MMD -MP
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(SANFLAGS) $(LDFLAGS)
LIBS = $(PKG_LIBS) -lpthread

LIB_SRC = $(filter-out fs/cofferfs_main.c,$(wildcard fs/*.c))
TOOL_SRC = $(wildcard tools/*.c)
TEST_SRC = $(wildcard tests/unit/test_*.c)

LIB_OBJ = $(LIB_SRC:%.c=$(O)/%.o)
TOOL_OBJ = $(TOOL_SRC:%.c=$(O)/%.o)
TESTS = $(TEST_SRC:tests/unit/%.c=$(O)/tests/%)

.PHONY: all tests check check-unit check-e2e install uninstall clean deps deps-ok demo fuzz fuzz-quick fuzzers bench

all: $(O)/coffer $(O)/cofferfs

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/libcoffer.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(O)/coffer: $(TOOL_OBJ) $(O)/libcoffer.a
	$(CC) $(ALL_LDFLAGS) -o $@ $(TOOL_OBJ) $(O)/libcoffer.a $(LIBS)

$(O)/cofferfs: $(O)/fs/cofferfs_main.o $(O)/libcoffer.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(O)/libcoffer.a $(LIBS)

$(O)/tests/%: $(O)/tests/unit/%.o $(O)/libcoffer.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(O)/libcoffer.a $(LIBS)

# test helpers (tests/tools/*.c, LMDB only): ks_offsets says where each
# keystore value lies in data.mdb (t51); ks_hold holds a read snapshot
# open so that every write must grow the file (t41, fail-closed audit).
TEST_TOOLS = $(patsubst tests/tools/%.c,$(O)/tests/tools/%,$(wildcard tests/tools/*.c))
$(O)/tests/tools/%: $(O)/tests/tools/%.o
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBS)

tests: all $(TESTS) $(TEST_TOOLS)

# Every test: unit programs, then the end-to-end scripts (they mount).
# The build runs in a sub-make so that packages installed by deps-ok are
# seen by pkg-config.
check: deps-ok
	@$(MAKE) --no-print-directory tests
	O=$(O) sh tests/run.sh

check-unit: tests
	O=$(O) sh tests/run.sh unit

check-e2e: tests
	O=$(O) sh tests/run.sh e2e

demo: deps-ok
	@$(MAKE) --no-print-directory all
	O=$(O) sh tools/demo.sh

deps-ok:
	@sh tools/ensure-deps.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(O)/coffer $(DESTDIR)$(BINDIR)/coffer
	install -m 0755 $(O)/cofferfs $(DESTDIR)$(SBINDIR)/cofferfs
	install -m 0644 docs/coffer.1 $(DESTDIR)$(MANDIR)/man1/coffer.1
	install -m 0644 docs/cofferfs.8 $(DESTDIR)$(MANDIR)/man8/cofferfs.8

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/coffer $(DESTDIR)$(SBINDIR)/cofferfs \
	    $(DESTDIR)$(MANDIR)/man1/coffer.1 $(DESTDIR)$(MANDIR)/man8/cofferfs.8

# The Debian 12 packages needed to build and test (the list is in
# tools/ensure-deps.sh); installs only what is missing.
deps:
	sh tools/ensure-deps.sh

# ---- fuzzing (clang's libFuzzer; Debian package clang) --------------------
# make fuzz             every tests/fuzz/fuzz_*.c for FUZZ_SECONDS (600) each
# make fuzz-quick       the same for 20 s each
FUZZ_CC ?= clang
FUZZ_O ?= build-fuzz
FUZZ_SECONDS ?= 600
FUZZ_CFLAGS = -std=c17 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer-no-link,address,undefined $(PKG_CFLAGS) -Ifs
FUZZ_LIB_OBJ = $(LIB_SRC:%.c=$(FUZZ_O)/%.o)
FUZZERS = $(patsubst tests/fuzz/%.c,$(FUZZ_O)/%,$(wildcard tests/fuzz/fuzz_*.c))

$(FUZZ_O)/fs/%.o: fs/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

# a target's own file includes fs/*.h: any header change rebuilds it
$(FUZZ_O)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJ) $(wildcard fs/*.h)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJ) $(LIBS)

# Only pattern rules name the fuzz objects, which would make them
# intermediate files that make deletes after linking: keep them.
.SECONDARY: $(FUZZ_LIB_OBJ)
-include $(FUZZ_LIB_OBJ:.o=.d)

fuzzers: $(FUZZERS)

fuzz: fuzzers
	FUZZ_O=$(FUZZ_O) sh tests/fuzz/run.sh $(FUZZ_SECONDS)

fuzz-quick: fuzzers
	FUZZ_O=$(FUZZ_O) sh tests/fuzz/run.sh 20

# ---- benchmarks --------------------------------------------------------------
# make bench            the performance benchmark (tests/bench/perf.sh: Coffer
#                       against a plain directory, gocryptfs and securefs on a
#                       generated archive of 100,000 messages, every read cold,
#                       3 runs; table in $(O)/bench.txt; as root, it installs
#                       gocryptfs and securefs and drops the page cache), then
#                       the import-memory benchmark (tests/bench/run.sh: a
#                       300 MB Telegram export; $(O)/bench-import.txt)
# make bench BENCH_QUICK=1    both small (10,000 messages, 1 run): minutes
# BENCH_SCALE=10 for a million messages; more knobs at the top of perf.sh.
# The bench programs are built only here, never by `make` or `make check`.
BENCH_WARN = -std=c17 -D_GNU_SOURCE -O2 $(WARNINGS)

$(O)/gen_telegram: tests/bench/gen_telegram.c
	$(CC) -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o $@ $<

$(O)/gen_archive: tests/bench/gen_archive.c
	$(CC) $(BENCH_WARN) -o $@ $< -lm

$(O)/randread: tests/bench/randread.c
	$(CC) $(BENCH_WARN) -o $@ $<

$(O)/aead_speed: tests/bench/aead_speed.c
	$(CC) $(BENCH_WARN) $(PKG_CFLAGS) -o $@ $< $(PKG_LIBS)

$(O)/bench_import: $(O)/tests/bench/bench_import.o $(O)/libcoffer.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(O)/libcoffer.a $(LIBS)

bench: all $(O)/gen_telegram $(O)/bench_import $(O)/gen_archive $(O)/randread $(O)/aead_speed
	COFFER_BIN=$(abspath $(O)) BENCH_OUT=$(abspath $(O))/bench.txt sh tests/bench/perf.sh
	COFFER_BIN=$(abspath $(O)) BENCH_OUT=$(abspath $(O))/bench-import.txt sh tests/bench/run.sh

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJ:.o=.d) $(TOOL_OBJ:.o=.d) $(O)/fs/cofferfs_main.d $(TEST_SRC:tests/unit/%.c=$(O)/tests/unit/%.d)
