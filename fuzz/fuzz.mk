# fuzz/fuzz.mk - libFuzzer harnesses and their sanitizer replay, included by
# the top-level Makefile (which defines CC, BASE_CFLAGS, WARN, CFLAGS, BUILD).
#
#   make fuzz-replay              gcc ASan+UBSan build; replay every seed and
#                                 regression through each harness
#   make battery-asan             tests/test_battery.c under the same sanitizers
#   make fuzz [FUZZ_SECONDS=60]   clang libFuzzer builds; run each harness
#   make fuzz-ci                  the same, FUZZ_SECONDS=20 each (for .ci/run)
#
# The library is rebuilt from src/*.c and gen/c/*.c into build/fuzz/ with the
# sanitizers (the plain build/libsipkit.a is never instrumented).  See
# fuzz/README.md.

FUZZ_HARNESSES := fuzz_parse fuzz_stream fuzz_uri fuzz_sdp fuzz_auth fuzz_roundtrip fuzz_multipart fuzz_dtmf \
                  fuzz_ua fuzz_pcap
# fuzz-ci defaults to 20 s a harness unless FUZZ_SECONDS is given.
ifeq ($(origin FUZZ_SECONDS),undefined)
FUZZ_CI_SECONDS := 20
else
FUZZ_CI_SECONDS := $(FUZZ_SECONDS)
endif
FUZZ_SECONDS   ?= 60
FUZZ_CC        ?= clang
FUZZ_REPLAY_CC ?= $(CC)
FUZZ_DICT      := gen/sipkit.dict
FUZZ_MAX_LEN   := 65535
FUZZ_NICE      ?= nice -n 10

FUZZ_LIB_SRC := $(wildcard src/*.c)
FUZZ_GEN_SRC := $(wildcard gen/c/*.c)
FUZZ_HDRS    := $(wildcard src/*.h gen/c/*.h)

# -O1 keeps the Ragel -G2 files compiling in reasonable time under ASan.
FUZZ_BASE   := -std=c11 -D_DEFAULT_SOURCE -Isrc -Igen/c -O1 -g -fno-omit-frame-pointer
FUZZ_WARN   := -Wall -Wextra -Werror
FUZZ_GENW   := -Wno-implicit-fallthrough -Wno-unused-const-variable -Wno-unused-variable \
               -Wno-unused-parameter -Wno-sign-compare -Wno-unused-but-set-variable
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=all
# libFuzzer builds: instrument the library, link the engine only into harnesses.
FUZZ_LF_SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all

FUZZ_A  := $(BUILD)/fuzz/asan
FUZZ_L  := $(BUILD)/fuzz/lf
FUZZ_A_OBJ := $(patsubst src/%.c,$(FUZZ_A)/src_%.o,$(FUZZ_LIB_SRC)) \
              $(patsubst gen/c/%.c,$(FUZZ_A)/gen_%.o,$(FUZZ_GEN_SRC))
FUZZ_L_OBJ := $(patsubst src/%.c,$(FUZZ_L)/src_%.o,$(FUZZ_LIB_SRC)) \
              $(patsubst gen/c/%.c,$(FUZZ_L)/gen_%.o,$(FUZZ_GEN_SRC))

# Replay runs leak checks too; abort_on_error gives a non-zero status on any report.
FUZZ_ENV := ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:allocator_may_return_null=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

$(FUZZ_A) $(FUZZ_L) $(BUILD)/fuzz/crashes $(BUILD)/fuzz/work:
	mkdir -p $@

# ------------------------------------------------------------ sanitizer replay (gcc)
$(FUZZ_A)/src_%.o: src/%.c $(FUZZ_HDRS) | $(FUZZ_A)
	$(FUZZ_NICE) $(FUZZ_REPLAY_CC) $(FUZZ_BASE) $(FUZZ_WARN) $(FUZZ_SAN) -c -o $@ $<
$(FUZZ_A)/gen_%.o: gen/c/%.c $(FUZZ_HDRS) | $(FUZZ_A)
	$(FUZZ_NICE) $(FUZZ_REPLAY_CC) $(FUZZ_BASE) $(FUZZ_WARN) $(FUZZ_GENW) $(FUZZ_SAN) -c -o $@ $<
$(FUZZ_A)/libsipkit.a: $(FUZZ_A_OBJ)
	rm -f $@; ar rcs $@ $^

$(FUZZ_A)/replay.o: fuzz/replay.c | $(FUZZ_A)
	$(FUZZ_REPLAY_CC) $(FUZZ_BASE) $(FUZZ_WARN) $(FUZZ_SAN) -c -o $@ $<
$(FUZZ_A)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.h $(FUZZ_A)/replay.o $(FUZZ_A)/libsipkit.a src/sipkit.h
	$(FUZZ_REPLAY_CC) $(FUZZ_BASE) $(FUZZ_WARN) $(FUZZ_SAN) -o $@ $< $(FUZZ_A)/replay.o $(FUZZ_A)/libsipkit.a $(LIB_LIBS)

# The bad-input battery, built against the sanitized library.
$(FUZZ_A)/test_battery: tests/test_battery.c $(FUZZ_A)/libsipkit.a src/sipkit.h
	$(FUZZ_REPLAY_CC) $(FUZZ_BASE) $(FUZZ_SAN) $(CMOCKA_CFLAGS) -Wall -Wextra -Werror \
	  -o $@ $< $(FUZZ_A)/libsipkit.a $(LIB_LIBS) $(CMOCKA_LIBS)

.PHONY: fuzz-replay fuzz-replay-build battery-asan
fuzz-replay-build: $(patsubst %,$(FUZZ_A)/%,$(FUZZ_HARNESSES))

# Every seed and every regression goes through every harness: a message is a
# fine URI input and vice versa.
fuzz-replay: fuzz-replay-build
	@fail=0; for h in $(FUZZ_HARNESSES); do \
	  echo "== fuzz-replay $$h"; \
	  $(FUZZ_ENV) $(FUZZ_A)/$$h fuzz/corpus fuzz/regressions || fail=1; \
	done; \
	if [ $$fail != 0 ]; then echo "fuzz-replay: FAILED" >&2; fi; exit $$fail

# tests/test_battery.c (also a plain unit test) under ASan+UBSan.
battery-asan: $(FUZZ_A)/test_battery
	$(FUZZ_ENV) $(FUZZ_A)/test_battery

# ------------------------------------------------------------ libFuzzer (clang)
$(FUZZ_L)/src_%.o: src/%.c $(FUZZ_HDRS) | $(FUZZ_L)
	$(FUZZ_NICE) $(FUZZ_CC) $(FUZZ_BASE) $(FUZZ_WARN) $(FUZZ_LF_SAN) -c -o $@ $<
$(FUZZ_L)/gen_%.o: gen/c/%.c $(FUZZ_HDRS) | $(FUZZ_L)
	$(FUZZ_NICE) $(FUZZ_CC) $(FUZZ_BASE) $(FUZZ_WARN) $(FUZZ_GENW) $(FUZZ_LF_SAN) -c -o $@ $<
$(FUZZ_L)/libsipkit.a: $(FUZZ_L_OBJ)
	rm -f $@; ar rcs $@ $^
$(FUZZ_L)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.h $(FUZZ_L)/libsipkit.a src/sipkit.h
	$(FUZZ_CC) $(FUZZ_BASE) $(FUZZ_WARN) -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=all -o $@ $< $(FUZZ_L)/libsipkit.a $(LIB_LIBS)

.PHONY: fuzz fuzz-ci fuzz-build
fuzz-build: $(patsubst %,$(FUZZ_L)/%,$(FUZZ_HARNESSES))

# Each harness runs on a scratch copy of its seeds (build/fuzz/work/<h>), so
# fuzz/corpus stays clean; new inputs can be merged back (fuzz/README.md).
# Crash files land in build/fuzz/crashes/<h>/ and fail the target.
# fuzz_run(SECONDS): run every harness for SECONDS each.
define fuzz_run
	@fail=0; for h in $(FUZZ_HARNESSES); do \
	  w=$(BUILD)/fuzz/work/$$h; c=$(BUILD)/fuzz/crashes/$$h; \
	  mkdir -p $$w $$c; cp -n fuzz/corpus/$$h/* $$w/ 2>/dev/null || true; \
	  echo "== fuzz $$h for $(1)s (log: $(BUILD)/fuzz/$$h.log)"; \
	  if ! $(FUZZ_NICE) $(FUZZ_L)/$$h -dict=$(FUZZ_DICT) -max_len=$(FUZZ_MAX_LEN) \
	      -max_total_time=$(1) -timeout=10 -rss_limit_mb=2048 \
	      -print_final_stats=1 -artifact_prefix=$$c/ $$w fuzz/regressions/$$h \
	      > $(BUILD)/fuzz/$$h.log 2>&1; then \
	    echo "fuzz: $$h FAILED; crash files in $$c" >&2; tail -40 $(BUILD)/fuzz/$$h.log >&2; fail=1; \
	  fi; \
	  grep -E '^#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb' \
	    $(BUILD)/fuzz/$$h.log || true; \
	done; exit $$fail
endef

fuzz: fuzz-build | $(BUILD)/fuzz/crashes $(BUILD)/fuzz/work
	$(call fuzz_run,$(FUZZ_SECONDS))

fuzz-ci: fuzz-build | $(BUILD)/fuzz/crashes $(BUILD)/fuzz/work
	$(call fuzz_run,$(FUZZ_CI_SECONDS))
