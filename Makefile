# Elliptics: build, run and test everything from a fresh clone.
#   make run    build and start a local node on 127.0.0.1:1025 (no config needed)
#   make test   install what is missing, build, run every test
#   make bench  benchmarks (not part of make test)
#   make soak   long fuzzing and soak runs (not part of make test)

GO        ?= go
BIN       := $(CURDIR)/bin
FUZZTIME  ?= 5s
SOAKTIME  ?= 10m
export ELLIPTICS_BIN := $(BIN)

.PHONY: all build run test deps vet gotest fuzz e2e bench soak clean

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
# file); `make soak` runs them for longer.
fuzz:
	@grep -rl --include='*_test.go' '^func Fuzz' core cmd | xargs -n1 dirname | sort -u | while read -r d; do \
		for fn in $$(grep -h '^func Fuzz' $$d/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "fuzz ./$$d $$fn ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) ./$$d || exit 1; \
		done; \
	done

# End-to-end tests: real ellipticsd processes, real CLI invocations.
e2e: build
	$(GO) test -count=1 -race ./tests/...

test: deps build vet gotest e2e fuzz
	@echo "make test: all tests passed"

bench: build
	$(GO) run ./bench/kvbench -out bench/out
	$(MAKE) -C bench/storage bench

soak:
	$(MAKE) fuzz FUZZTIME=$(SOAKTIME)

clean:
	rm -rf $(BIN) var bench/out
