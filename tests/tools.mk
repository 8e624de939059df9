# tests/tools.mk - sanitizers, valgrind and coverage over the unit-test suite,
# included by the top-level Makefile.
#
#   make asan       gcc ASan+UBSan copy of the library and of every
#                   tests/test_*.c in build/asan/; runs them all (leak checks on)
#   make valgrind   runs every plain unit test (build/tests/, as built by
#                   `make unit-tests`) under valgrind memcheck
#   make coverage   --coverage -O0 copy in build/cov/; runs every unit test and
#                   reports line and branch coverage of src/*.c with gcovr
#                   (table on stdout, also build/cov/coverage.txt)
#
# Every suite runs to the end; the target fails if any binary failed.  Tests
# run from the repository root (they read tests/msgs/, tests/battery/ ...).
#
# The fragment does not depend on where it is included: its own lists come
# from wildcards, and the top-level variables (BASE_CFLAGS, WARN, GEN_WARN,
# LIB_LIBS) are only read in recipes.

TOOLS_BUILD := $(if $(BUILD),$(BUILD),build)
TOOLS_NICE  ?= nice -n 5
TOOLS_TESTS := $(patsubst tests/%.c,%,$(wildcard tests/test_*.c))
TOOLS_SRC   := $(wildcard src/*.c)
TOOLS_GEN   := $(wildcard gen/c/*.c)
TOOLS_HDRS  := $(wildcard src/*.h gen/c/*.h)
TOOLS_CMOCKA_CFLAGS := $(shell pkg-config --cflags cmocka 2>/dev/null)
TOOLS_CMOCKA_LIBS   := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

# Tests are compiled like tests/tests.mk does (no hidden visibility, cmocka
# casts), with the tool's flags in place of CFLAGS.  Recursive (=) on purpose.
TOOLS_LIB_CFLAGS  = $(BASE_CFLAGS) $(WARN)
TOOLS_GEN_CFLAGS  = $(BASE_CFLAGS) $(GEN_WARN)
TOOLS_TEST_CFLAGS = $(filter-out -fvisibility=hidden,$(BASE_CFLAGS)) $(TOOLS_CMOCKA_CFLAGS) \
                    $(WARN) -Wno-missing-prototypes

# tools_objs(DIR): the library's objects under DIR
tools_objs = $(patsubst src/%.c,$(1)/src_%.o,$(TOOLS_SRC)) $(patsubst gen/c/%.c,$(1)/gen_%.o,$(TOOLS_GEN))

# tools_run(LABEL, ENV, WRAPPER, BINARIES): run each binary, keep going, fail at the end.
define tools_run
	@fail=""; start=$$(date +%s); for t in $(4); do \
	  echo "== $(1) $$t"; \
	  if ! $(2) $(3) ./$$t; then echo "$(1): $$t FAILED" >&2; fail="$$fail $$t"; fi; \
	done; \
	echo "$(1): $(words $(4)) test binaries in $$(( $$(date +%s) - start ))s"; \
	if [ -n "$$fail" ]; then echo "$(1): FAILED:$$fail" >&2; exit 1; fi; \
	echo "$(1): all clean"
endef

# ---------------------------------------------------------------- make asan
TOOLS_A     := $(TOOLS_BUILD)/asan
TOOLS_A_SAN := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
TOOLS_A_OBJ := $(call tools_objs,$(TOOLS_A))
TOOLS_A_BIN := $(patsubst %,$(TOOLS_A)/%,$(TOOLS_TESTS))
TOOLS_A_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
               UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

$(TOOLS_A) $(TOOLS_BUILD)/cov:
	mkdir -p $@

$(TOOLS_A)/src_%.o: src/%.c $(TOOLS_HDRS) | $(TOOLS_A)
	$(TOOLS_NICE) $(CC) $(TOOLS_LIB_CFLAGS) $(TOOLS_A_SAN) -c -o $@ $<
$(TOOLS_A)/gen_%.o: gen/c/%.c $(TOOLS_HDRS) | $(TOOLS_A)
	$(TOOLS_NICE) $(CC) $(TOOLS_GEN_CFLAGS) $(TOOLS_A_SAN) -c -o $@ $<
$(TOOLS_A)/libsipkit.a: $(TOOLS_A_OBJ)
	rm -f $@; ar rcs $@ $^
$(TOOLS_A)/test_%: tests/test_%.c $(TOOLS_HDRS) $(TOOLS_A)/libsipkit.a
	$(TOOLS_NICE) $(CC) $(TOOLS_TEST_CFLAGS) $(TOOLS_A_SAN) -o $@ $< \
	  $(TOOLS_A)/libsipkit.a $(LIB_LIBS) $(TOOLS_CMOCKA_LIBS)

.PHONY: asan asan-build
asan-build: $(TOOLS_A_BIN)
asan: asan-build
	$(call tools_run,asan,$(TOOLS_A_ENV),,$(TOOLS_A_BIN))

# ---------------------------------------------------------------- make valgrind
# The binaries are the plain ones from tests/tests.mk ($(BUILD)/tests/%).
TOOLS_V_BIN := $(patsubst %,$(TOOLS_BUILD)/tests/%,$(TOOLS_TESTS))
VALGRIND    ?= valgrind
TOOLS_V_CMD := $(VALGRIND) --error-exitcode=1 --leak-check=full \
               --errors-for-leak-kinds=definite,indirect --quiet

.PHONY: valgrind
valgrind: $(TOOLS_V_BIN)
	@command -v $(VALGRIND) >/dev/null || { echo "valgrind: not installed; run 'make deps'" >&2; exit 1; }
	$(call tools_run,valgrind,,$(TOOLS_V_CMD),$(TOOLS_V_BIN))

# ---------------------------------------------------------------- make coverage
TOOLS_C     := $(TOOLS_BUILD)/cov
TOOLS_C_FLG := --coverage -O0 -g
TOOLS_C_OBJ := $(call tools_objs,$(TOOLS_C))
TOOLS_C_BIN := $(patsubst %,$(TOOLS_C)/%,$(TOOLS_TESTS))
GCOVR       ?= gcovr
# Only the hand-written library: not gen/, tests/ or the CLI.
TOOLS_GCOVR := $(GCOVR) --root . --object-directory $(TOOLS_C) \
               --filter 'src/[^/]*\.c$$' --exclude-unreachable-branches

$(TOOLS_C)/src_%.o: src/%.c $(TOOLS_HDRS) | $(TOOLS_C)
	$(TOOLS_NICE) $(CC) $(TOOLS_LIB_CFLAGS) $(TOOLS_C_FLG) -c -o $@ $<
$(TOOLS_C)/gen_%.o: gen/c/%.c $(TOOLS_HDRS) | $(TOOLS_C)
	$(TOOLS_NICE) $(CC) $(TOOLS_GEN_CFLAGS) $(TOOLS_C_FLG) -c -o $@ $<
$(TOOLS_C)/libsipkit.a: $(TOOLS_C_OBJ)
	rm -f $@; ar rcs $@ $^
$(TOOLS_C)/test_%: tests/test_%.c $(TOOLS_HDRS) $(TOOLS_C)/libsipkit.a
	$(TOOLS_NICE) $(CC) $(TOOLS_TEST_CFLAGS) $(TOOLS_C_FLG) -o $@ $< \
	  $(TOOLS_C)/libsipkit.a $(LIB_LIBS) $(TOOLS_CMOCKA_LIBS)

.PHONY: coverage coverage-build
coverage-build: $(TOOLS_C_BIN)

# Counters are reset first, so the report is of this run only.  A failing
# test fails the target, but only after the report is written.
coverage: coverage-build
	@command -v $(GCOVR) >/dev/null || { \
	  echo "coverage: gcovr not installed; run as root:  apt-get install -y --no-install-recommends gcovr" >&2; \
	  exit 1; }
	@find $(TOOLS_C) -name '*.gcda' -delete
	@fail=""; for t in $(TOOLS_C_BIN); do \
	  echo "== coverage $$t"; \
	  log=$(TOOLS_C)/$${t##*/}.log; \
	  ./$$t >$$log 2>&1 || { tail -20 $$log >&2; echo "coverage: $$t FAILED (log: $$log)" >&2; fail="$$fail $$t"; }; \
	done; \
	{ echo "sipkit coverage of src/*.c ($$(date -u +%Y-%m-%dT%H:%MZ), $$(git rev-parse --short HEAD 2>/dev/null))"; \
	  echo; echo "---- lines"; $(TOOLS_GCOVR) --sort-percentage; \
	  echo; echo "---- branches"; $(TOOLS_GCOVR) --branches --sort-percentage; \
	  echo; echo "---- totals"; $(TOOLS_GCOVR) --print-summary --output /dev/null; \
	} > $(TOOLS_C)/coverage.txt || { echo "coverage: gcovr failed" >&2; exit 1; }; \
	cat $(TOOLS_C)/coverage.txt; echo "coverage: report in $(TOOLS_C)/coverage.txt"; \
	if [ -n "$$fail" ]; then echo "coverage: FAILED:$$fail" >&2; exit 1; fi
