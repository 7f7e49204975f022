# privreg: thin wrapper over meson. `make run` and `make test` are the two
# commands a new user needs; both install missing Debian packages first.

BUILD     ?= build
TESTBUILD ?= build-test
DEMO      ?= demo
LISTEN    ?= 127.0.0.1:8080
PYTHON    ?= /usr/bin/python3

.PHONY: all deps build run test unit integration bench clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=release

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	scripts/demo $(BUILD)/privreg $(DEMO) $(LISTEN)

$(TESTBUILD)/build.ninja:
	meson setup $(TESTBUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false -Dfaults=true

# The test build carries the failure points (meson_options.txt: faults); a
# build-test set up before the option existed is switched over once.
$(TESTBUILD)/.faults: $(TESTBUILD)/build.ninja
	meson configure $(TESTBUILD) -Dfaults=true
	touch $@

unit: deps $(TESTBUILD)/.faults
	ninja -C $(TESTBUILD)
	meson test -C $(TESTBUILD) --print-errorlogs

integration: unit
	PRIVREG_BIN=$(abspath $(TESTBUILD))/privreg \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	$(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

test: integration

bench: build
	bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(TESTBUILD)
