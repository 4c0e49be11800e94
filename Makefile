# Elliptics: build, run and test everything from a fresh clone.
#   make run    build and start a local node on 127.0.0.1:1025 (no config needed)
#   make test   install what is missing, build, run every test
#   make bench  benchmarks (not part of make test): kvbench, Python vs Go, recovery, storage, HTTP, peers
#   make soak   long fuzzing and soak runs (not part of make test)
#   make scale  100- and 1,000-node clusters in one process (not part of make test)

GO        ?= go
BIN       := $(CURDIR)/bin
FUZZTIME  ?= 5s
SOAKTIME  ?= 10m
export ELLIPTICS_BIN := $(BIN)

.PHONY: httpbench peers weed all build run test deps vet gotest fuzz e2e bench soak scale clean capi

all: build

# deps also installs ip (iproute2) when missing, as root with apt-get: the NAT
# e2e test builds network namespaces with it (and skips without it).
deps:
	@command -v $(GO) >/dev/null || { echo "Go is required (https://go.dev/dl/)"; exit 1; }
	$(GO) mod download
	@command -v ip >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null 2>&1 || \
		  { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null 2>&1; }; }; } || \
		echo "note: ip (iproute2) not installed; the NAT e2e test will be skipped"

build: deps
	$(GO) build -o $(BIN)/ellipticsd ./cmd/ellipticsd
	$(GO) build -o $(BIN)/elliptics ./cmd/elliptics

run: build
	$(BIN)/ellipticsd $(ARGS)

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l core cmd tests bench capi 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

gotest:
	$(GO) test -race -count=1 ./core/... ./cmd/... ./bench/...

# A short run of every fuzz target (found by name: func FuzzXxx in a _test.go
# file); `make soak` runs them for longer. Go's fuzzer sometimes fails a run
# with "context deadline exceeded" while stopping its workers on a loaded
# machine, with no failing input: such a run is repeated (up to 3 times). A real
# failure writes its input under testdata/fuzz and fails at once.
fuzz:
	@grep -rl --include='*_test.go' '^func Fuzz' core cmd | xargs -n1 dirname | sort -u | while read -r d; do \
		for fn in $$(grep -h '^func Fuzz' $$d/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "fuzz ./$$d $$fn ($(FUZZTIME))"; \
			out=$$($(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) ./$$d 2>&1) && { echo "$$out" | tail -1; continue; }; \
			echo "$$out"; \
			for try in 2 3 4; do \
				echo "$$out" | grep -q 'context deadline exceeded' && ! echo "$$out" | grep -q 'Failing input' || exit 1; \
				echo "fuzz ./$$d $$fn: the fuzzer timed out stopping its workers (no failing input); try $$try"; \
				out=$$($(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) ./$$d 2>&1) && { echo "$$out" | tail -1; break; }; \
				echo "$$out"; \
				[ $$try = 4 ] && exit 1; \
			done; \
		done; \
	done

# The C ABI: libelliptics.so, and libelliptics.h, the header cgo generates.
# Then the checks that the library keeps the contract of capi/elliptics.h:
# the generated header redeclares every export with its Go signature's
# types and must compile with elliptics.h, and every function declared
# there must be defined in the library.
capi: deps
	$(GO) build -buildmode=c-shared -o $(BIN)/libelliptics.so ./capi
	@printf '#include "libelliptics.h"\n' | $(CC) -std=c11 -fsyntax-only -Wall -Wextra -Werror -Wno-array-parameter \
		-I capi -I $(BIN) -x c - || { echo "make capi: $(BIN)/libelliptics.h disagrees with capi/elliptics.h"; exit 1; }
	@syms=$$(nm -D --defined-only $(BIN)/libelliptics.so); missing=""; \
	for f in $$(sed -nE 's/^[a-z][a-z0-9_ ]*[ *](ell_[a-z0-9_]+)\(.*/\1/p' capi/elliptics.h); do \
		echo "$$syms" | grep -qE " T $$f$$" || missing="$$missing $$f"; \
	done; \
	if [ -n "$$missing" ]; then echo "make capi: libelliptics.so does not export:$$missing"; exit 1; fi

# End-to-end tests: real ellipticsd processes, real CLI invocations.
e2e: build capi chromium
	$(GO) test -count=1 -race ./tests/...

# Headless Chromium for the status page test (TestStatusPageInBrowser):
# Debian's chromium, installed with apt-get when missing and root; without
# it the test skips with a message.
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
		  { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; }; }; } || \
		echo "note: chromium not installed; the status page browser test will be skipped"

# The Python package (setup.py: libelliptics.so + the cffi extension) and its
# pytest suite against real ellipticsd processes (tests/python). Installs
# python3-pytest, and python3-wheel when this python has no `wheel`, with
# apt-get when missing and root.
PYTHON    ?= python3
.PHONY: python
python: build
	@$(PYTHON) tests/python/run_pytest.py --version >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pytest >/dev/null 2>&1 || \
		  { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pytest >/dev/null 2>&1; }; }; } || \
		{ echo "pytest is required: apt-get install python3-pytest (or pip install pytest)"; exit 1; }
	@$(PYTHON) -c 'import wheel' 2>/dev/null || [ -d /usr/lib/python3/dist-packages/wheel ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-wheel >/dev/null 2>&1; } || \
		$(PYTHON) -m pip install -q wheel >/dev/null 2>&1 || echo "note: the wheel package is missing; pip install may fail"
	$(PYTHON) -m pip install -q --no-build-isolation --force-reinstall --no-deps .
	$(PYTHON) tests/python/run_pytest.py -q tests/python

test: deps build vet gotest e2e python fuzz
	@echo "make test: all tests passed"

bench: build capi
	$(GO) run ./bench/kvbench -out bench/out
	$(PYTHON) -m pip install -q --no-build-isolation --force-reinstall --no-deps .
	$(GO) run ./bench/pybench -bin $(BIN) -python $(PYTHON) -out bench/out
	$(GO) run ./bench/recovery -bin $(BIN) -out bench/out
	$(MAKE) -C bench/storage bench
	$(MAKE) httpbench
	$(MAKE) peers

# The HTTP frontends against SeaweedFS's filer (issue 9), with wrk. weed is
# built from its Go module once (a replace directive keeps `go install`
# from building it), into bench/out/weed.
WEED_VERSION ?= v0.0.0-20261109003541-7506e5f91cd6
httpbench: build weed
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1; } || { echo "wrk is required: apt-get install wrk"; exit 1; }
	$(GO) run ./bench/httpbench -bin $(BIN) -weed bench/out/weed

# ellipticsd side by side with peer stores (bench/peers, its own Go module):
# Redis, etcd and Tarantool are Debian's packages, installed here when missing
# and root (a peer still missing is skipped with a note); weed as for httpbench.
# Every 1 KiB workload runs at each of PEERS_CLIENTS with each of PEERS_KEYS
# (the 1 MiB ones at the first of each only): about 106 cells a round, so 1 s
# each keeps three rounds near 12 minutes.
PEERS_DURATION ?= 1s
PEERS_ROUNDS ?= 3
PEERS_CLIENTS ?= 32,128
PEERS_KEYS ?= uniform,zipf
peers: build weed
	@for p in redis-server:redis-server etcd:etcd-server tarantool:tarantool; do cmd=$${p%%:*}; pkg=$${p#*:}; \
		command -v $$cmd >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkg >/dev/null 2>&1 || \
		  { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkg >/dev/null 2>&1; }; }; } || \
		echo "note: $$cmd is missing (apt-get install $$pkg); it will be skipped"; done
	cd bench/peers && $(GO) vet . && $(GO) test -count=1 .
	cd bench/peers && $(GO) run . -bin $(BIN) -weed ../out/weed -out ../out -duration $(PEERS_DURATION) -rounds $(PEERS_ROUNDS) -clients $(PEERS_CLIENTS) -keys $(PEERS_KEYS) -profile ../profiles -results ../RESULTS.md

weed:
	@mkdir -p bench/out
	@[ -x bench/out/weed ] || { d=$$($(GO) mod download -json github.com/seaweedfs/seaweedfs@$(WEED_VERSION) | $(PYTHON) -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') && \
		rm -rf bench/out/weed-src && cp -r "$$d" bench/out/weed-src && chmod -R u+w bench/out/weed-src && \
		(cd bench/out/weed-src && $(GO) build -o ../weed ./weed) && rm -rf bench/out/weed-src; }

soak: build
	$(MAKE) fuzz FUZZTIME=$(SOAKTIME)
	ELLIPTICS_BIG=1 $(GO) test -count=1 -timeout 30m -v -run 'TestBigObjectStreams$$' ./tests/e2e/
	ELLIPTICS_SOAK=1 $(GO) test -count=1 -timeout 30m -v -run 'TestFaultSoak$$' ./tests/e2e/

# Whole clusters in one process on an in-memory network (issue 4): 100 nodes
# in full mesh, then 100 and 1,000 nodes connecting on demand; convergence
# times and route table sizes are logged (bench/RESULTS.md).
SCALE_NODES ?= 1000
scale:
	$(GO) test -count=1 -v -timeout 30m -run 'TestCluster$$|TestClusterOnDemand$$' ./core/server/clustertest/
	ELLIPTICS_CLUSTER_NODES=$(SCALE_NODES) $(GO) test -count=1 -v -timeout 30m -run 'TestClusterOnDemand$$' ./core/server/clustertest/

clean:
	rm -rf $(BIN) var bench/out
