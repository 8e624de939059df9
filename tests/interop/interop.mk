# tests/interop/interop.mk - interop tests with real SIP software (issue 8).
# Included by the top-level Makefile with:
#     -include tests/interop/interop.mk
#   make interop-tests                               every flow of tests/interop/run.sh
#   make interop-tests INTEROP_FLOWS="kamailio baresip"   some of them
#   make interop-tests INTEROP_KEEP=1                keep logs, SIPp traces and pcapng
# Needs the Debian packages sip-tester kamailio baresip-core tshark (in
# DEB_PKGS, so `make deps` installs them) and root (or CAP_NET_RAW) for
# dumpcap on lo. Not in CHECK_EXTRA yet: added once sipkit's Lua examples
# (issue 6) take their sides in the flows; then this target will also depend
# on $(BUILD)/sipkit.

INTEROP_FLOWS   ?=
INTEROP_KEEP    ?= 0
# whole-suite bound (seconds); run.sh stops every peer it started on TERM
INTEROP_TIMEOUT ?= 170

.PHONY: interop-tests
interop-tests:
	IA_KEEP=$(INTEROP_KEEP) timeout -k 10 $(INTEROP_TIMEOUT) tests/interop/run.sh $(INTEROP_FLOWS)
