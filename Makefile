# clawbox — GNU Makefile.
#   make            build build/clawbox (release, hardened)
#   make run        install what is missing, build, run the demo
#   make test       install, build (release + ASan/UBSan), run every test
#   make lint       clang-format --dry-run, clang-tidy, cppcheck
#   make fuzz       build libFuzzer harnesses (clang) and fuzz each for FUZZ_SECONDS
#   make bench      benchmarks (bench/), not part of make test

CC      ?= gcc
# make's built-in default for CC is "cc"; keep gcc unless the caller overrode it.
ifeq ($(origin CC),default)
CC := gcc
endif
BUILD   := build
PKGS    := $(shell cat scripts/pkg-config.txt)
# Loaded with dlopen() on first use (src/scan/scanlib.c, src/api/httplib.c,
# src/net/tlslib.c, src/net/h2lib.c): headers only at build time.
DLPKGS  := $(shell cat scripts/pkg-config-dlopen.txt)
soname   = $(shell objdump -p $$(pkg-config --variable=libdir $(1))/$(2).so 2>/dev/null | awk '/SONAME/ {print $$2}')
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) $(DLPKGS) 2>/dev/null) \
	-DSCANLIB_HS_SONAME='"$(call soname,libhs,libhs)"' \
	-DSCANLIB_PCRE2_SONAME='"$(call soname,libpcre2-8,libpcre2-8)"' \
	-DHTTPLIB_MHD_SONAME='"$(call soname,libmicrohttpd,libmicrohttpd)"' \
	-DTLSLIB_SSL_SONAME='"$(call soname,libssl,libssl)"' \
	-DH2LIB_SONAME='"$(call soname,libnghttp2,libnghttp2)"'
# Linked statically: mapping and relocating small shared libraries costs a box
# start more than their code does.
PKG_LIBS   = -Wl,-Bstatic $(shell pkg-config --libs $(PKGS) 2>/dev/null) -Wl,-Bdynamic

WARN    := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wvla -Wno-unused-parameter \
           -Wno-format-truncation
HARDEN  := -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3 -fstack-protector-strong \
           -fstack-clash-protection -fPIE
CFLAGS_BASE = -std=gnu17 -g $(WARN) -Isrc -I$(BUILD)/gen $(PKG_CFLAGS)
CFLAGS  ?= -O2
LDHARD  := -pie -Wl,-z,relro,-z,now
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# sysfilter_rules.c is compiled into a build tool only (tools/gen_sysfilter.c).
SRC      := $(filter-out src/box/sysfilter_rules.c,$(wildcard src/*/*.c))
LIB_SRC  := $(filter-out src/cli/main.c,$(SRC))
OBJ      := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRC))
ASAN_OBJ := $(patsubst src/%.c,$(BUILD)/asan/obj/%.o,$(SRC))
ASAN_LIB_OBJ := $(patsubst src/%.c,$(BUILD)/asan/obj/%.o,$(LIB_SRC))
UNIT_SRC := $(wildcard tests/unit/*.c)
HELPERS  := $(patsubst tests/helpers/%.c,$(BUILD)/helpers/%,$(wildcard tests/helpers/*.c))
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
REPLAY   := $(patsubst fuzz/%.c,$(BUILD)/replay/%,$(FUZZ_SRC))

.PHONY: all deps run test lint fuzz bench clean asan format
all: $(BUILD)/clawbox

deps:
	@bash scripts/deps.sh

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(HARDEN) $(CFLAGS) -MMD -MP -c $< -o $@

# The seccomp filter, compiled from its rules at build time.
GEN_PKGS := $(shell cat scripts/pkg-config-build.txt)
$(BUILD)/gen/sysfilter_bpf.h: tools/gen_sysfilter.c src/box/sysfilter_rules.c src/box/sysfilter_rules.h \
		src/util/error.c src/util/error.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu17 $(WARN) -Isrc $$(pkg-config --cflags $(GEN_PKGS)) -o $(BUILD)/gen/gen_sysfilter \
		tools/gen_sysfilter.c src/box/sysfilter_rules.c src/util/error.c \
		$$(pkg-config --libs $(GEN_PKGS))
	$(BUILD)/gen/gen_sysfilter >$@.tmp && mv $@.tmp $@
$(BUILD)/obj/box/sysfilter.o $(BUILD)/asan/obj/box/sysfilter.o: $(BUILD)/gen/sysfilter_bpf.h

# The static nftables rulesets, built as netlink batches at build time.
$(BUILD)/gen/nftrules.h: tools/gen_nftrules.c src/net/nftrules_def.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu17 $(WARN) -Isrc $$(pkg-config --cflags $(GEN_PKGS)) -o $(BUILD)/gen/gen_nftrules \
		tools/gen_nftrules.c $$(pkg-config --libs $(GEN_PKGS))
	$(BUILD)/gen/gen_nftrules >$@.tmp && mv $@.tmp $@
$(BUILD)/obj/net/nftload.o $(BUILD)/asan/obj/net/nftload.o $(BUILD)/trace/obj/net/nftload.o: $(BUILD)/gen/nftrules.h

# The built-in agent profiles (agents/*.toml), compiled in (src/agents/profile.c).
AGENTS := $(wildcard agents/*.toml)
$(BUILD)/gen/agents_builtin.h: scripts/gen-agents.sh $(AGENTS)
	@mkdir -p $(dir $@)
	bash scripts/gen-agents.sh $(AGENTS) >$@.tmp && mv $@.tmp $@
$(BUILD)/obj/agents/profile.o $(BUILD)/asan/obj/agents/profile.o $(BUILD)/trace/obj/agents/profile.o: $(BUILD)/gen/agents_builtin.h

$(BUILD)/clawbox: $(OBJ)
	$(CC) $(LDHARD) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# ASan+UBSan build used by the tests (the binary and the unit tests).
$(BUILD)/asan/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -O1 $(SAN) -MMD -MP -c $< -o $@

$(BUILD)/asan/clawbox: $(ASAN_OBJ)
	$(CC) $(SAN) -o $@ $^ $(PKG_LIBS)

$(BUILD)/asan/unit: $(UNIT_SRC) $(ASAN_LIB_OBJ)
	$(CC) $(CFLAGS_BASE) -Itests/unit -O1 $(SAN) -o $@ $(UNIT_SRC) $(ASAN_LIB_OBJ) $(PKG_LIBS)

# Fuzz harnesses replaying their corpus (gcc + ASan), run by make test.
$(BUILD)/replay/%: fuzz/%.c fuzz/replay_main.c $(ASAN_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -O1 $(SAN) -o $@ $< fuzz/replay_main.c $(ASAN_LIB_OBJ) $(PKG_LIBS)

# Small programs the integration tests run inside the box (static: the box may
# not see the build tree's libraries).
$(BUILD)/helpers/%: tests/helpers/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu17 -O1 -Wall -Werror -static -o $@ $<

# The command log's writer alone (tests/integration/t-logs.sh): it needs the
# library, so it is not one of the static helpers above.
$(BUILD)/helpers/cmdlog_writer: tests/helpers/cmdlog_writer.c $(ASAN_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -O1 $(SAN) -o $@ $< $(ASAN_LIB_OBJ) $(PKG_LIBS)

asan: $(BUILD)/asan/clawbox $(BUILD)/asan/unit

# A release build whose start-up phases write timestamps (src/util/trace.h),
# for bench/startup-phases.sh only.
TRACE_OBJ := $(patsubst src/%.c,$(BUILD)/trace/obj/%.o,$(SRC))
$(BUILD)/trace/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(HARDEN) $(CFLAGS) -DCLAWBOX_TRACE_STARTUP -MMD -MP -c $< -o $@
$(BUILD)/trace/obj/box/sysfilter.o: $(BUILD)/gen/sysfilter_bpf.h

$(BUILD)/trace/clawbox: $(TRACE_OBJ)
	$(CC) $(LDHARD) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# deps runs first and alone: pkg-config must see the installed packages.
run: deps
	@$(MAKE) --no-print-directory $(BUILD)/clawbox
	@bash scripts/demo.sh $(BUILD)/clawbox

test: deps
	@# the real agents' pins (t-agents, t-openclaw), fetched while the build runs
	@(bash tests/agents/install.sh node claude codex openclaw >/dev/null 2>&1 &)
	@$(MAKE) --no-print-directory $(BUILD)/clawbox $(BUILD)/asan/clawbox \
		$(BUILD)/asan/unit $(REPLAY) $(HELPERS)
	@bash tests/run

lint: deps
	@bash scripts/lint.sh

fuzz: deps
	@bash scripts/fuzz.sh

bench: deps
	@$(MAKE) --no-print-directory $(BUILD)/clawbox
	@bash bench/run.sh

format:
	clang-format -i $(SRC) $(wildcard src/*/*.h) $(UNIT_SRC)

clean:
	rm -rf $(BUILD)

-include $(OBJ:.o=.d) $(ASAN_OBJ:.o=.d) $(TRACE_OBJ:.o=.d)
