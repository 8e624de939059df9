# tests/bench/bench.mk - parser benchmark, included by the top-level Makefile.
#
#   make bench        sipkit vs sofia-sip vs libosip2: wall clock table, then callgrind
#   make bench-peers  sofia-sip and libosip2 only (needs no libsipkit.a)
#   make bench-load   call rates against SIPp (tests/bench/load.sh), see below
#
#   BENCH_ARGS='--iters 20000 --rounds 7'  extra arguments for the wall-clock run
#   BENCH_CALLGRIND_N=100                  N in (Ir(N+1) - Ir(1)) / (N * messages)
#
# Never part of `make test`: nothing here asserts on speed; the only failure
# besides a build error is a parser extracting fields that differ from
# tests/bench/corpus/expected.tsv.  See tests/bench/README.md.

BENCH_DIR    := tests/bench
BENCH_CORPUS := $(BENCH_DIR)/corpus
BENCH_ARGS   ?=
BENCH_BIN    := $(BUILD)/bench/bench
BENCH_PEERS  := $(BUILD)/bench/bench-peers

# Recursive (=) so pkg-config runs only when a bench target is built.
# Sofia headers go in with -isystem: our -Werror warnings are not theirs.
BENCH_SOFIA_CFLAGS = $(patsubst -I%,-isystem %,$(shell pkg-config --cflags sofia-sip-ua))
BENCH_SOFIA_LIBS   = $(shell pkg-config --libs sofia-sip-ua)
BENCH_PEER_LIBS    = $(BENCH_SOFIA_LIBS) -losip2 -losipparser2
BENCH_CC_FLAGS     = $(BASE_CFLAGS) $(WARN) $(CFLAGS) $(BENCH_SOFIA_CFLAGS)

BENCH_PEER_SRC := $(BENCH_DIR)/bench_main.c $(BENCH_DIR)/bench_sofia.c $(BENCH_DIR)/bench_osip.c
BENCH_DEPS     := $(BENCH_PEER_SRC) $(BENCH_DIR)/bench.h $(BENCH_DIR)/bench.mk

.PHONY: bench-check-deps
bench-check-deps:
	@pkg-config --exists sofia-sip-ua || { echo "bench: sofia-sip not found (pkg-config sofia-sip-ua); run 'make deps'" >&2; exit 1; }
	@test -e /usr/include/osipparser2/osip_parser.h || { echo "bench: libosip2 headers not found; run 'make deps'" >&2; exit 1; }

$(BENCH_BIN): $(BENCH_DEPS) $(BENCH_DIR)/bench_sipkit.c $(BUILD)/libsipkit.a $(HDRS) | bench-check-deps
	@mkdir -p $(@D)
	$(CC) $(BENCH_CC_FLAGS) -o $@ $(BENCH_PEER_SRC) $(BENCH_DIR)/bench_sipkit.c \
	  $(BUILD)/libsipkit.a $(LIB_LIBS) $(BENCH_PEER_LIBS)

$(BENCH_PEERS): $(BENCH_DEPS) | bench-check-deps
	@mkdir -p $(@D)
	$(CC) $(BENCH_CC_FLAGS) -DBENCH_NO_SIPKIT -o $@ $(BENCH_PEER_SRC) $(BENCH_PEER_LIBS)

.PHONY: bench bench-peers
bench: $(BENCH_BIN)
	@echo "== wall clock: $(BENCH_BIN) $(BENCH_ARGS) $(BENCH_CORPUS)"
	@$(BENCH_BIN) $(BENCH_ARGS) $(BENCH_CORPUS)
	@echo "== callgrind: instructions per message"
	@sh $(BENCH_DIR)/callgrind.sh $(BENCH_BIN) $(BENCH_CORPUS) sipkit sofia osip

bench-peers: $(BENCH_PEERS)
	@echo "== wall clock: $(BENCH_PEERS) $(BENCH_ARGS) $(BENCH_CORPUS)"
	@$(BENCH_PEERS) $(BENCH_ARGS) $(BENCH_CORPUS)
	@echo "== callgrind: instructions per message"
	@sh $(BENCH_DIR)/callgrind.sh $(BENCH_PEERS) $(BENCH_CORPUS) sofia osip

# Call-rate benchmark against SIPp on loopback (tests/bench/load.sh): SIPp
# uac -> uas.lua, `sipkit load` uac.lua -> SIPp uas, SIPp -> SIPp, rates
# stepping up, default and 4 MiB socket buffers.  CPU-heavy, minutes long,
# never part of `make test`; the table goes to $(BUILD)/bench/load-results.md.
#   BENCH_LOAD_RATES="100 500 1000 2000 4000" BENCH_LOAD_SECONDS=5 BENCH_LOAD_BUFFERS="0 4194304"
.PHONY: bench-load
bench-load: $(BUILD)/sipkit
	@command -v sipp > /dev/null || { echo "bench-load: sipp not found (Debian sip-tester); run 'make deps'" >&2; exit 1; }
	$(BENCH_DIR)/load.sh $(BUILD)
