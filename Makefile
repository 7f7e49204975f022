# privreg: thin wrapper over meson. `make run` and `make test` are the two
# commands a new user needs; both install missing Debian packages first.

BUILD     ?= build
TESTBUILD ?= build-test
FUZZBUILD ?= build-fuzz
SECONDS   ?= 600
DEMO      ?= demo
LISTEN    ?= 127.0.0.1:8080
PYTHON    ?= /usr/bin/python3
DEBBUILD  ?= build-deb

.PHONY: all deps build run test unit integration integration-pg fuzz-build fuzz fuzz-smoke bench deb clean

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

# A throw-away PostgreSQL server (scripts/start-postgres) for the duration
# of one recipe, stopped and removed however the recipe ends: the unit
# tests' *_pg programs and the integration pass on PostgreSQL use it.
WITH_PG = d=$$(mktemp -d /tmp/privreg-pg.XXXXXX) && trap 'scripts/stop-postgres '"$$d" EXIT && \
	url=$$(scripts/start-postgres "$$d") &&

unit: deps $(TESTBUILD)/.faults
	ninja -C $(TESTBUILD)
	$(WITH_PG) PRIVREG_TEST_PG_URL=$$url meson test -C $(TESTBUILD) --print-errorlogs

# The integration tests run in PYTEST_JOBS processes (pytest-xdist, Debian's
# python3-pytest-xdist), a test file to a process (a file's module fixture,
# one server for its tests, stays in one process); the tests marked `serial`
# (they measure time or memory under load of their own) run afterwards,
# alone. PYTEST_JOBS=1 runs everything in one process. Four processes on two
# cores: the tests spend most of their time waiting for servers, browsers,
# timeouts and fsync (a pass used a third of the two cores with two
# processes; with four it took 266 s instead of 334 s on SQLite).
PYTEST_JOBS ?= 4
PYTEST = PRIVREG_BIN=$(abspath $(TESTBUILD))/privreg UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	$(PYTHON) -m pytest -q -p no:cacheprovider
PYTEST_RUN = if [ "$(PYTEST_JOBS)" -gt 1 ]; then \
	  $(PYTEST) -n $(PYTEST_JOBS) --dist loadfile -m 'not serial' tests/integration && \
	  $(PYTEST) -m serial tests/integration; \
	else $(PYTEST) tests/integration; fi

integration: unit
	$(PYTEST_RUN)

# The same integration tests on PostgreSQL: each register in a database of
# its own (tests/integration/conftest.py); tests marked sqlite_only skipped.
integration-pg: unit
	$(WITH_PG) export PRIVREG_TEST_STORE=postgresql PRIVREG_TEST_PG_URL=$$url && $(PYTEST_RUN)

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

test: integration integration-pg fuzz-smoke

bench: build
	bench/run.sh $(BUILD)

# A Debian package (debian/) built from a copy of the tracked and new files,
# so that dpkg-buildpackage's output lands in $(DEBBUILD), not beside the
# checkout: $(DEBBUILD)/privreg_VERSION_ARCH.deb. DEB_BUILD_OPTIONS=nocheck
# neither builds nor runs the unit tests (about half the build time).
deb: deps
	rm -rf $(DEBBUILD)
	mkdir -p $(DEBBUILD)/privreg
	git ls-files -z --cached --others --exclude-standard | \
		tar --null -T - --ignore-failed-read -cf - | tar -xf - -C $(DEBBUILD)/privreg
	cd $(DEBBUILD)/privreg && DEB_BUILD_OPTIONS="$${DEB_BUILD_OPTIONS:-parallel=2}" \
		dpkg-buildpackage -us -uc -b
	@ls $(DEBBUILD)/*.deb

clean:
	rm -rf $(BUILD) $(TESTBUILD) $(FUZZBUILD) $(DEBBUILD)
