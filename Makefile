# privreg: thin wrapper over meson. `make run` and `make test` are the two
# commands a new user needs; both install missing Debian packages first.

BUILD     ?= build
TESTBUILD ?= build-test
FUZZBUILD ?= build-fuzz
SECONDS   ?= 600
DEMO      ?= demo
LISTEN    ?= 127.0.0.1:8080
PYTHON    ?= /usr/bin/python3

.PHONY: all deps build run test unit integration fuzz-build fuzz fuzz-smoke bench clean

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
	meson setup $(TESTBUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

unit: deps $(TESTBUILD)/build.ninja
	ninja -C $(TESTBUILD)
	meson test -C $(TESTBUILD) --print-errorlogs

integration: unit
	PRIVREG_BIN=$(abspath $(TESTBUILD))/privreg \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	$(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

# The fuzz targets (tests/fuzz, docs/reliability.md) with libFuzzer: clang,
# ASan+UBSan, in a build directory of their own. -Werror stays with the
# normal (gcc) build: clang warns about format strings gcc accepts.
$(FUZZBUILD)/build.ninja:
	CC=clang meson setup $(FUZZBUILD) -Dfuzz=true -Dwerror=false --buildtype=debugoptimized \
		-Db_sanitize=address,undefined -Db_lundef=false

fuzz-build: deps $(FUZZBUILD)/build.ninja
	ninja -C $(FUZZBUILD)

# Every target for 20 s (what `make test` runs), or for SECONDS each.
fuzz-smoke: fuzz-build
	tests/fuzz/run $(FUZZBUILD) 20

fuzz: fuzz-build
	tests/fuzz/run $(FUZZBUILD) $(SECONDS)

test: integration fuzz-smoke

bench: build
	bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(TESTBUILD) $(FUZZBUILD)
