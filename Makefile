# sipkit — top-level Makefile.
#   make            build/libsipkit.a, build/libsipkit.so, build/sipkit
#   make deps       install what a Debian 12 machine lacks (apt-get as root)
#   make test       deps + build + check-gen + every test
#   make gen        regenerate gen/ from grammar/ (needs ragel)
#   make check-gen  regenerate into a temporary folder and diff against gen/
#   make bench      parser benchmark against sofia-sip and libosip2
#   make install PREFIX=/usr/local [DESTDIR=...]

.DEFAULT_GOAL := all
SHELL := /bin/bash

CC      ?= cc
PREFIX  ?= /usr/local
BUILD   := build
RAGEL   ?= ragel

OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
BASE_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -fPIC -fvisibility=hidden -Isrc -Igen/c
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
# Ragel -G2 output trips these by construction; generated C gets its own
# flags instead of being edited (see gen/README.md).
GEN_WARN := -Wall -Wextra -Werror -Wno-implicit-fallthrough -Wno-unused-const-variable \
            -Wno-unused-variable -Wno-unused-parameter -Wno-sign-compare \
            -Wno-unused-but-set-variable

# ---------------------------------------------------------------- deps
# Debian packages every target together needs.
DEB_PKGS := build-essential ragel pkg-config clang libclang-rt-14-dev lua5.4 liblua5.4-dev \
            libcmocka-dev libssl-dev valgrind gcovr libsofia-sip-ua-dev libosip2-dev \
            libuv1-dev libpcap-dev sip-tester kamailio baresip-core tshark chromium

.PHONY: deps
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; \
	  done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	line="apt-get install -y --no-install-recommends $$(echo $$missing)"; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "make deps: installing:" $$missing; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  { apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; } || \
	    { echo "make deps: apt-get failed" >&2; exit 1; }; \
	else \
	  echo "make deps: missing Debian packages:$$missing" >&2; \
	  echo "run as root:  $$line" >&2; \
	  exit 1; \
	fi

# ---------------------------------------------------------------- generator
ABNF      := grammar/core.abnf grammar/sip.abnf grammar/ext.abnf grammar/lenient.abnf
OVERLAY   := grammar/overlay.rl
GEN_TOOL  := $(BUILD)/abnf2rl
RL_HAND   := $(wildcard grammar/*.rl)

# Machines compiled by ragel: grammar/sip_NAME.rl -> gen/rules/sip_NAME_rules.rl
# (the rules it names in its '#@' lines) -> gen/c/sip_NAME.c.  Other .rl files
# in grammar/ are the overlay and shared action files.
RL_MACHINES := $(wildcard grammar/sip_*.rl)
GEN_C_MACHINES := $(patsubst grammar/%.rl,gen/c/%.c,$(RL_MACHINES))

$(GEN_TOOL): gen/abnf2rl.c | $(BUILD)/obj
	$(CC) -std=c99 -O2 -Wall -Wextra -Werror -o $@ $<

.PHONY: gen check-gen
gen: $(GEN_TOOL)
	ABNF2RL=$(GEN_TOOL) RAGEL=$(RAGEL) gen/regen.sh gen

# Regenerates into a temporary folder and compares: stale generated code
# (grammar/ or gen/abnf2rl.c edited without `make gen`) fails here.
check-gen: $(GEN_TOOL)
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	ABNF2RL=$(GEN_TOOL) RAGEL=$(RAGEL) gen/regen.sh "$$tmp"; \
	for f in $$(cd "$$tmp" && find . -type f | sort); do \
	  if ! cmp -s "$$tmp/$$f" "gen/$$f"; then \
	    echo "check-gen: gen/$${f#./} is stale; run 'make gen' and commit" >&2; \
	    diff -u "gen/$$f" "$$tmp/$$f" | head -20 >&2; exit 1; fi; \
	done; \
	for f in $$(cd gen && find rules c -type f | sort); do \
	  [ -f "$$tmp/$$f" ] || { echo "check-gen: gen/$$f is no longer generated; remove it" >&2; exit 1; }; \
	done; echo "check-gen: gen/ matches grammar/"

# ---------------------------------------------------------------- library
# What a program linking libsipkit.a needs besides it (digest hashes, the
# event loop, capture files).
LIB_LIBS := -lcrypto -luv -lpcap
LIB_SRC  := $(wildcard src/*.c)
GEN_SRC  := $(wildcard gen/c/*.c)
LIB_OBJ  := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRC))
GEN_OBJ  := $(patsubst gen/c/%.c,$(BUILD)/obj/gen_%.o,$(GEN_SRC))
HDRS     := $(wildcard src/*.h gen/c/*.h)

CLI_SRC  := $(wildcard src/cli/*.c)
CLI_OBJ  := $(patsubst src/cli/%.c,$(BUILD)/obj/cli_%.o,$(CLI_SRC))

$(BUILD) $(BUILD)/obj:
	mkdir -p $@

$(BUILD)/obj/%.o: src/%.c $(HDRS) | $(BUILD)/obj
	$(CC) $(BASE_CFLAGS) $(WARN) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/gen_%.o: gen/c/%.c $(HDRS) | $(BUILD)/obj
	$(CC) $(BASE_CFLAGS) $(GEN_WARN) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/cli_%.o: src/cli/%.c $(HDRS) $(wildcard src/cli/*.h) | $(BUILD)/obj
	$(CC) $(BASE_CFLAGS) $(WARN) $(CFLAGS) -c -o $@ $<

$(BUILD)/libsipkit.a: $(LIB_OBJ) $(GEN_OBJ)
	rm -f $@; ar rcs $@ $^

$(BUILD)/libsipkit.so: $(LIB_OBJ) $(GEN_OBJ)
	$(CC) -shared -Wl,-soname,libsipkit.so.0 -o $@ $^ $(LIB_LIBS)

$(BUILD)/sipkit: $(CLI_OBJ) $(BUILD)/libsipkit.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(CLI_EXTRA_OBJ) $(BUILD)/libsipkit.a $(LIB_LIBS) $(CLI_EXTRA_LIBS)

.PHONY: all
all: $(BUILD)/libsipkit.a $(BUILD)/libsipkit.so $(BUILD)/sipkit

# ---------------------------------------------------------------- install
INC_DIR := $(DESTDIR)$(PREFIX)/include
LIB_DIR := $(DESTDIR)$(PREFIX)/lib
BIN_DIR := $(DESTDIR)$(PREFIX)/bin
PUBLIC_HDRS := $(wildcard src/sipkit*.h) gen/c/sipkit_hdr_ids.h

.PHONY: install
install: all
	install -d $(INC_DIR) $(LIB_DIR)/pkgconfig $(BIN_DIR)
	install -m 644 $(PUBLIC_HDRS) $(INC_DIR)/
	install -m 644 $(BUILD)/libsipkit.a $(LIB_DIR)/
	install -m 755 $(BUILD)/libsipkit.so $(LIB_DIR)/libsipkit.so.0
	ln -sf libsipkit.so.0 $(LIB_DIR)/libsipkit.so
	install -m 755 $(BUILD)/sipkit $(BIN_DIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(shell sed -n 's/^#define SIPKIT_VERSION "\(.*\)"/\1/p' src/sipkit.h)|g' \
	  src/sipkit.pc.in > $(LIB_DIR)/pkgconfig/sipkit.pc

# ---------------------------------------------------------------- tests
# `make test` installs what is missing first, then builds and runs every
# suite; the recursive make keeps that order under -j.
.PHONY: test check gen-tests
test: deps
	$(MAKE) -j2 all
	$(MAKE) check


gen-tests: $(GEN_TOOL)
	ABNF2RL=$(GEN_TOOL) sh gen/tests/run.sh

include tests/tests.mk
include tests/tools.mk
include fuzz/fuzz.mk
include tests/cli/cli.mk
include tests/bench/bench.mk
-include tests/rt/rt.mk
-include lua/lua.mk
-include tests/capture/capture.mk
-include tests/interop/interop.mk

# Suites from the included files add themselves to CHECK_EXTRA.
check: check-gen gen-tests unit-tests cli-tests install-test fuzz-replay battery-asan $(CHECK_EXTRA)

.PHONY: clean
clean:
	rm -rf $(BUILD)
