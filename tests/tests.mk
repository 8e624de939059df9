# tests/tests.mk - unit and corpus tests (cmocka), included by the top-level Makefile.
#   make unit-tests     build and run every test binary from the repository root
#   build/tests/test_corpus rfc4475/    run only the cases whose name contains the argument
# Uses CC, BASE_CFLAGS (-Isrc -Igen/c), WARN, CFLAGS and BUILD from the top-level Makefile.

CMOCKA_CFLAGS := $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS   := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

TEST_NAMES := $(patsubst tests/%.c,%,$(wildcard tests/test_*.c))
TEST_BINS  += $(patsubst %,$(BUILD)/tests/%,$(TEST_NAMES))

# cmocka's macros cast freely; tests keep the library's warning set otherwise.
TEST_CFLAGS := $(filter-out -fvisibility=hidden,$(BASE_CFLAGS)) $(CMOCKA_CFLAGS) $(WARN) \
               -Wno-missing-prototypes $(CFLAGS)

$(BUILD)/tests:
	mkdir -p $@

$(BUILD)/tests/%: tests/%.c src/sipkit.h $(BUILD)/libsipkit.a | $(BUILD)/tests
	$(CC) $(TEST_CFLAGS) -o $@ $< $(BUILD)/libsipkit.a $(LIB_LIBS) $(CMOCKA_LIBS)

.PHONY: unit-tests
unit-tests: $(patsubst %,$(BUILD)/tests/%,$(TEST_NAMES))
	@fail=0; for t in $^; do \
	  echo "== $$t"; \
	  if ! ./$$t; then echo "unit-tests: $$t FAILED" >&2; fail=1; fi; \
	done; exit $$fail
