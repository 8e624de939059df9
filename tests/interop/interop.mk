# tests/interop/interop.mk - interop tests with real SIP software (issue 8).
# Included by the top-level Makefile with:
#     -include tests/interop/interop.mk
#   make interop-tests                               every flow of tests/interop/run.sh
#   make interop-tests INTEROP_FLOWS="kamailio baresip"   some of them
#   make interop-tests INTEROP_KEEP=1                keep logs, SIPp traces and pcapng
# Every flow has sipkit (build/sipkit run lua/examples/*.lua) on one side and
# SIPp, Kamailio or baresip on the other. Needs the Debian packages
# sip-tester kamailio baresip-core tshark (in DEB_PKGS, so `make deps`
# installs them) and root (or CAP_NET_RAW) for dumpcap on lo. Part of
# `make check` / `make test` (CHECK_EXTRA); about 2.5 minutes on an idle
# 2-core machine, most of it the 500 calls/s load flow and its capture check.

INTEROP_FLOWS   ?=
INTEROP_KEEP    ?= 0
# whole-suite bound (seconds); run.sh stops every peer it started on TERM
INTEROP_TIMEOUT ?= 480

.PHONY: interop-tests
interop-tests: $(BUILD)/sipkit
	IA_KEEP=$(INTEROP_KEEP) SIPKIT=$(abspath $(BUILD)/sipkit) timeout -k 10 $(INTEROP_TIMEOUT) tests/interop/run.sh $(INTEROP_FLOWS)

CHECK_EXTRA += interop-tests
