# The outbound events agent. Two commands for a newcomer (README):
#   make demo   builds and runs the demo: a sample firmware service delivering to a local receiver
#   make test   runs every test: Swift unit and integration tests, the C ABI test, exported symbols,
#               power cuts on a forgetful filesystem, the page in a headless browser, the Debian
#               packages
# Both install the Debian packages they need first.

VERSION := $(shell sed -n 's/^\#define OE_VERSION_STRING "\(.*\)"/\1/p' include/outbound_events.h)
CONFIG ?= debug
BIN = $(shell swift build -c $(CONFIG) --show-bin-path)
# What ships, built in Embedded Swift (no Swift runtime inside) by scripts/build-embedded.py from
# the same sources that swift build and the Swift tests compile in normal Swift: the library,
# under its SONAME and link name, for C programs built against the tree, and the daemon.
LIBDIR := build/lib
SHIPPED := $(CURDIR)/$(LIBDIR)/liboutbound-events.so.1
DAEMON := $(CURDIR)/build/bin/outbound-eventsd

.PHONY: all build lib demo test test-swift test-c test-symbols test-power-cuts test-page deb test-deb \
	test-hardening test-sanitizers fuzz bench clean

all: build

build:
	scripts/install-deps.sh build
	swift build -c $(CONFIG)
	@$(MAKE) --no-print-directory lib

# The library and the daemon: one build, their modules compiled once.
lib:
	@scripts/install-deps.sh build
	scripts/build-embedded.py build
	@ln -sf liboutbound-events.so.1 $(LIBDIR)/liboutbound-events.so

demo: build
	scripts/install-deps.sh test
	scripts/start-journald.sh
	examples/demo.sh $(LIBDIR) $(BIN)/outbound-events-tool $(DAEMON)

test:
	scripts/install-deps.sh build test
	scripts/start-journald.sh
	swift build --build-tests
	$(MAKE) --no-print-directory test-swift test-c test-symbols test-power-cuts test-page test-deb

# The Swift tests in normal Swift; their C programs (crash, host-safety and soak children) link
# the shipped, Embedded library, and the appliance-mode tests run the shipped daemon.
test-swift: lib
	OE_C_LIBRARY=$(SHIPPED) OE_DAEMON=$(DAEMON) swift test --skip-build

test-c: lib
	Tests/CABI/run.sh $(LIBDIR)

test-symbols: lib
	Tests/CABI/check-symbols.sh $(SHIPPED) include/outbound_events.h
	Tests/CABI/check-daemon.sh $(DAEMON)

# Power cuts (SPEC 11): the spool and the intake on forgetfs, a FUSE filesystem that forgets
# unsynced writes, cut at random moments (OE_CUTS per case, OE_CUT_SEED to replay one run).
test-power-cuts: lib
	scripts/install-deps.sh test
	Tests/PowerCut/powercut.py $(LIBDIR) $(DAEMON)

# The Outbound Events page and its API (SPEC 13): a headless chromium through chromedriver
# (python3-selenium) and plain HTTP clients against the shipped, Embedded outbound-eventsd.
test-page: lib
	OE_DAEMON=$(DAEMON) /usr/bin/python3 Tests/Page/page_test.py $(BIN)

# Hardening (CI runs it after make test): the whole Swift test suite under AddressSanitizer and
# under ThreadSanitizer, then every fuzz target for FUZZ_SECONDS.
FUZZ_SECONDS ?= 20
test-hardening: test-sanitizers
	fuzz/run.sh $(FUZZ_SECONDS)

test-sanitizers: lib
	scripts/install-deps.sh build test
	scripts/start-journald.sh
	swift build --build-tests
	swift build --build-tests --scratch-path .build/sanitize-address --sanitize=address
	OE_SOAK_SECONDS=20 OE_DAEMON_QUICK=1 OE_C_LIBRARY=$(SHIPPED) OE_DAEMON=$(DAEMON) ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	    .build/sanitize-address/debug/outbound-eventsPackageTests.xctest --testing-library swift-testing
	swift build --build-tests --scratch-path .build/sanitize-thread --sanitize=thread
	OE_SOAK_SECONDS=20 OE_DAEMON_QUICK=1 OE_C_LIBRARY=$(SHIPPED) OE_DAEMON=$(DAEMON) TSAN_OPTIONS=halt_on_error=1 \
	    .build/sanitize-thread/debug/outbound-eventsPackageTests.xctest --testing-library swift-testing

# Long fuzzing runs: 300 s per target (FUZZ_SECONDS=... to change).
fuzz:
	fuzz/run.sh $${FUZZ_SECONDS:-300}

# The Debian packages, into dist/.
deb: lib
	packaging/build-deb.sh

# The packages through lintian, dpkg -i (over an older version), pkg-config, dpkg -r and -P.
test-deb: lib
	packaging/test-deb.sh

# Benchmarks against C and libcurl baselines (several minutes); writes bench/RESULTS.md.
bench:
	bench/run.sh

clean:
	rm -rf .build build dist
