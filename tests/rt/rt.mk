# tests/rt/rt.mk - the runtime's extra suites, included by the top-level Makefile.
#   make examples      build/examples/uas (src/examples/uas.c)
#   make rt-leak-test  1,000 loopback calls under valgrind: no leak, no error
#   make example-test  build/examples/uas on a free loopback port, 3 calls, stopped by PID
# Unit tests of the runtime are tests/test_rt.c and tests/test_ua.c (make unit-tests).

RT_LEAK_CALLS ?= 1000

$(BUILD)/examples $(BUILD)/tests/rt:
	mkdir -p $@

$(BUILD)/examples/uas: src/examples/uas.c $(HDRS) $(BUILD)/libsipkit.a | $(BUILD)/examples
	$(CC) $(filter-out -fvisibility=hidden,$(BASE_CFLAGS)) $(WARN) $(CFLAGS) -o $@ $< \
	  $(BUILD)/libsipkit.a $(LIB_LIBS)

$(BUILD)/tests/rt/rt_calls: tests/rt/rt_calls.c $(HDRS) $(BUILD)/libsipkit.a | $(BUILD)/tests/rt
	$(CC) $(filter-out -fvisibility=hidden,$(BASE_CFLAGS)) $(WARN) $(CFLAGS) -o $@ $< \
	  $(BUILD)/libsipkit.a $(LIB_LIBS)

.PHONY: examples rt-leak-test example-test
examples: $(BUILD)/examples/uas

# valgrind's exit code 9 marks a leak (definite, indirect or possible) or
# a memory error; the program's own 1 marks a call that did not complete.
rt-leak-test: $(BUILD)/tests/rt/rt_calls
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
	  --error-exitcode=9 ./$< leak $(RT_LEAK_CALLS)

example-test: $(BUILD)/tests/rt/rt_calls $(BUILD)/examples/uas
	./$(BUILD)/tests/rt/rt_calls example ./$(BUILD)/examples/uas

CHECK_EXTRA += rt-leak-test example-test
