# vakt — make run shows the pipeline working; make test runs every test.
# Both fetch what they need on a fresh machine (libchdb from npm).

SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

# The ClickHouse engine as a shared library, loaded at run time (no cgo).
CHDB_VERSION := 26.7.3-stable.1
CHDB_PACKAGE := @chdb/lib-linux-x64-gnu
CHDB_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/vakt/chdb/$(CHDB_VERSION)
CHDB_LIB_PATH ?= $(CHDB_CACHE)/libchdb.so
export CHDB_LIB_PATH
export CGO_ENABLED ?= 0

# Open GeoIP data (country: CC0; AS numbers: CC BY 4.0), used when no MaxMind
# file is configured: two npm packages at a pinned version, built once into
# GeoLite2-layout files by `vakt geoip build` (about 20 s, 9 + 12 MB).
GEOIP_VERSION := 2.3.2026061719
GEOIP_COUNTRY_PACKAGE := @ip-location-db/geo-whois-asn-country-mmdb
GEOIP_ASN_PACKAGE := @ip-location-db/asn
GEOIP_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/vakt/geoip
GEOIP_SRC := $(GEOIP_CACHE)/src/$(GEOIP_VERSION)
GEOIP_STAMP := $(GEOIP_CACHE)/built-$(GEOIP_VERSION)
# The GeoIP tests read the built files from here.
export VAKT_GEOIP_CACHE := $(GEOIP_CACHE)

DATA_DIR ?= data
TEST_TIMEOUT ?= 25m
# The Go files and the files they embed (rules, signatures, the dashboard's
# assets), so that editing a built-in rule rebuilds the binary.
GO_SOURCES := $(shell find . -type f \( -name '*.go' -o -name '*.yaml' -o -name '*.html' -o -name '*.js' -o -name '*.css' \) \
	-not -path './data/*' -not -path './.git/*' -not -path '*/testdata/*' 2>/dev/null) go.mod go.sum

.PHONY: all build run test test-short lint fuzz bench bench-e2e chdb geoip deps clean

all: build

build: bin/vakt

bin/vakt: $(GO_SOURCES)
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $@ ./cmd/vakt

## run: vakt on the embedded engines with generated demo traffic.
run: build chdb geoip
	VAKT_PSEUDONYMIZE_GEOIP_OPEN_DATA_DIR=$(GEOIP_CACHE) ./bin/vakt run --demo --data-dir $(DATA_DIR)

## test: every test, against the real embedded NATS and ClickHouse engine.
test: deps chdb geoip
	$(GO) vet ./...
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

test-short: chdb geoip
	$(GO) test -count=1 -short ./...

## chdb: fetch libchdb into the cache (skipped when CHDB_LIB_PATH exists).
chdb: $(CHDB_LIB_PATH)

$(CHDB_LIB_PATH):
	@command -v npm >/dev/null || { echo "npm is needed to fetch libchdb: installing Debian's npm"; apt-get update -qq && apt-get install -y -qq npm; }
	@echo "fetching libchdb $(CHDB_VERSION) ($(CHDB_PACKAGE), about 178 MB) into $(dir $@)"
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  (cd "$$tmp" && npm pack --silent "$(CHDB_PACKAGE)@$(CHDB_VERSION)" >/dev/null && \
	   tar xzf chdb-lib-linux-x64-gnu-$(CHDB_VERSION).tgz package/libchdb.so); \
	  mkdir -p "$(dir $@)"; mv "$$tmp/package/libchdb.so" "$@.tmp"; mv "$@.tmp" "$@"
	@ls -l "$@"

## geoip: fetch the open GeoIP packages (once, pinned) and build the
## databases vakt uses by default (skipped when built for GEOIP_VERSION).
geoip: $(GEOIP_STAMP)

$(GEOIP_STAMP): | bin/vakt
	@command -v npm >/dev/null || { echo "npm is needed to fetch the open GeoIP data: installing Debian's npm"; apt-get update -qq && apt-get install -y -qq npm; }
	@set -e; for p in country:$(GEOIP_COUNTRY_PACKAGE) asn:$(GEOIP_ASN_PACKAGE); do \
	  name=$${p%%:*}; pkg=$${p#*:}; dest="$(GEOIP_SRC)/$$name"; \
	  [ -f "$$dest/package/package.json" ] && continue; \
	  echo "fetching $$pkg@$(GEOIP_VERSION) into $$dest"; \
	  tmp=$$(mktemp -d); (cd "$$tmp" && tgz=$$(npm pack --silent "$$pkg@$(GEOIP_VERSION)") && tar xzf "$$tgz" package); \
	  mkdir -p "$$dest"; rm -rf "$$dest/package"; mv "$$tmp/package" "$$dest/package"; rm -rf "$$tmp"; \
	done
	./bin/vakt geoip build --log-level warn --dir "$(GEOIP_CACHE)" \
	  --country-package "$(GEOIP_SRC)/country/package" --asn-package "$(GEOIP_SRC)/asn/package"
	@touch "$@"

## deps: Go modules (and, later, Debian packages the tests drive).
deps:
	$(GO) mod download
	@# Real senders and servers the ingest tests drive: Debian's nginx (parser
	@# tests on logs it writes, syslog from nginx) and logger from bsdutils.
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "installing Debian's nginx for the parser and syslog tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; }
	@command -v logger >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bsdutils; }
	@# Debian's docker-compose (no container engine: only `config`) when the docker CLI has no
	@# Compose plugin, for the docker-compose.cluster.yml test.
	@docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || { echo "installing Debian's docker-compose for the compose file test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose; }
	@# Debian's headless chromium for the dashboard's browser test.
	@command -v chromium >/dev/null || { echo "installing Debian's chromium for the dashboard browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

lint:
	$(GO) vet ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

## fuzz: every parser's fuzz target, FUZZTIME each (default 60s).
FUZZTIME ?= 60s
FUZZ_TARGETS := logformat:FuzzParseCombined logformat:FuzzMain logformat:FuzzVhostCombined \
	logformat:FuzzNginxJSON logformat:FuzzCaddy logformat:FuzzCustom \
	logformat:FuzzCompileNginx logformat:FuzzAuto internal/event:FuzzRangeJSON \
	internal/jsonscan:FuzzScan ingest/syslog:FuzzSyslog ingest/syslog:FuzzSyslogFrames pseudonymize:FuzzRedactAddrs
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "== $$fn ($$pkg)"; $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) ./$$pkg; done

## bench: Go benchmarks of the hot paths; bench-e2e: the whole pipeline.
bench: chdb
	$(GO) test -run '^$$' -bench . -benchmem ./...

bench-e2e: build chdb
	./bin/vakt bench --log-level warn

clean:
	rm -rf bin $(DATA_DIR)
