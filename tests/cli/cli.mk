# tests/cli/cli.mk - CLI and install tests; included by the top-level Makefile
# (which defines BUILD, MAKE and the build rules).
#
#   make cli-tests      run tests/cli/run.sh against $(BUILD)/sipkit
#   make install-test   install into a temporary prefix and check the result
#                       (README example, pkg-config, exported symbols, CLI)

.PHONY: cli-tests install-test

cli-tests: $(BUILD)/sipkit
	tests/cli/run.sh $(BUILD)/sipkit

# run.sh calls `$(MAKE) install PREFIX=<tmp>` itself; building `all` first
# keeps that inner make from compiling anything.
install-test: all
	MAKE="$(MAKE)" tests/install/run.sh
