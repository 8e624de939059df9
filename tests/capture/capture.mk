# tests/capture/capture.mk - traces, pcap files and ladder diagrams (issue 7),
# included by the top-level Makefile.  The cmocka suites are
# tests/test_capture.c and tests/test_ladder.c (built by tests/tests.mk).
#
#   make capture-tests   tests/capture/run.sh: tshark decodes sipkit's pcap
#                        files as SIP, `sipkit ladder` on fixtures (a SIPp
#                        call captured with dumpcap), the HTML ladder in
#                        headless Chromium

.PHONY: capture-tests

$(BUILD)/tests/capgen: tests/capture/capgen.c $(BUILD)/libsipkit.a | $(BUILD)/tests
	$(CC) $(TEST_CFLAGS) -o $@ $< $(BUILD)/libsipkit.a $(LIB_LIBS)

capture-tests: $(BUILD)/sipkit $(BUILD)/tests/capgen
	tests/capture/run.sh $(BUILD)/sipkit $(BUILD)/tests/capgen

CHECK_EXTRA += capture-tests
