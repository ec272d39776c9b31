# marketmsg — make demo | make test | make bench | make lint
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3
export MARKETMSG_TEST_DATA_DIR ?= $(CURDIR)/var/test

.PHONY: install oidc-provider axe screenshots demo demo-sso test test-sqlite test-postgres test-s3 lint fuzz soak bench bench-relay bench-lists bench-uploads bench-guidelines bench-metrics bench-production bench-import bench-storage messages clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The OpenID Connect provider the sign-in tests and `make demo-sso` run (Node.js; tests/oidc).
OIDC_STAMP := tests/oidc/node_modules/.installed-stamp
$(OIDC_STAMP): tests/oidc/package.json tests/oidc/package-lock.json
	cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error
	touch $(OIDC_STAMP)

oidc-provider: $(OIDC_STAMP)

# axe-core for the page tour's accessibility check (tests/test_page_tour.py; Node.js's npm).
AXE_STAMP := tests/axe/node_modules/.installed-stamp
$(AXE_STAMP): tests/axe/package.json tests/axe/package-lock.json
	cd tests/axe && npm ci --no-audit --no-fund --loglevel=error
	touch $(AXE_STAMP)

axe: $(AXE_STAMP)

# Every page as its people see it, in Japanese and English, desktop and phone: var/screenshots/.
screenshots: install axe
	MARKETMSG_SCREENSHOTS_DIR=$(CURDIR)/var/screenshots $(BIN)/pytest -q tests/test_page_tour.py
	@echo "screenshots in var/screenshots/ ($$(ls var/screenshots | wc -l) pages)"

demo: install
	$(BIN)/marketmsg demo

# The demo signing in through the test OpenID Connect provider (Node.js) on 127.0.0.1:9400.
demo-sso: install oidc-provider
	$(BIN)/marketmsg demo --sso

lint: install
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy

test: lint test-sqlite test-postgres test-s3

test-sqlite: install oidc-provider axe
	$(BIN)/pytest

# The database tests again on PostgreSQL, when a server is given (CI starts one: see .ci/run).
test-postgres: install oidc-provider axe
	@if [ -n "$$MARKETMSG_TEST_POSTGRES_URL" ]; then \
	  MARKETMSG_DATABASE_URL="$$MARKETMSG_TEST_POSTGRES_URL" $(BIN)/pytest -m db; \
	else echo "PostgreSQL tests skipped: set MARKETMSG_TEST_POSTGRES_URL=postgresql://user@host:port/db (CI does)"; fi

# The blob-store tests again with raw MIME and files on a real S3 API server (moto's server mode on
# loopback; tools/with_s3.py), on PostgreSQL when a server is given: the production shape.
test-s3: install oidc-provider axe
	@if [ -n "$$MARKETMSG_TEST_POSTGRES_URL" ]; then export MARKETMSG_DATABASE_URL="$$MARKETMSG_TEST_POSTGRES_URL"; fi; \
	  $(BIN)/python tools/with_s3.py $(BIN)/pytest -m blobs

# Hostile input at scale: the generated-mail fuzzer with many examples (MARKETMSG_FUZZ_EXAMPLES,
# default 3000), then the SMTP-abuse, web-security and access-matrix tests; figures for
# docs/reliability.md in bench/results/fuzz.json.
fuzz: install
	mkdir -p bench/results
	MARKETMSG_FUZZ_EXAMPLES=$${MARKETMSG_FUZZ_EXAMPLES:-3000} MARKETMSG_FUZZ_REPORT=$(CURDIR)/bench/results/fuzz.json \
	  MARKETMSG_TEST_DATA_DIR=$(CURDIR)/var/fuzz $(BIN)/pytest -q -p no:cacheprovider \
	  tests/test_fuzz.py tests/test_smtp_abuse.py tests/test_web_security.py tests/test_access_matrix.py
	$(BIN)/python bench/fuzz_report.py bench/results/fuzz.json

# Minutes of load while a random gateway, worker or web process is SIGKILLed every few seconds:
# lost must be 0. SOAK_ARGS e.g. "--minutes 10 --postgres postgresql://…"; bench/results/soak.json.
soak: install
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

bench: bench-relay bench-storage bench-uploads bench-guidelines bench-lists bench-metrics bench-production bench-import

# Three runs: the file blob store; S3 on the bare S3 endpoint (the gateway's own cost of S3); S3 on
# moto's server sharing the CPUs (bench/results/relay.json, relay-s3-sink.json, relay-s3.json).
bench-relay: install
	$(BIN)/python bench/relay_bench.py $(RELAY_ARGS)
	$(BIN)/python bench/relay_bench.py --s3-sink $(RELAY_ARGS)
	$(BIN)/python tools/with_s3.py $(BIN)/python bench/relay_bench.py $(RELAY_ARGS)

# Database bytes per stored message (1 KB; 100 KB with a file), SQLite and (with
# MARKETMSG_BENCH_POSTGRES_URL) PostgreSQL; MARKETMSG_BENCH_SRC=<older checkout>/src for "before".
bench-storage: install
	$(BIN)/python bench/storage_bench.py
	@if [ -n "$$MARKETMSG_BENCH_POSTGRES_URL" ]; then \
	  $(BIN)/python bench/storage_bench.py --postgres "$$MARKETMSG_BENCH_POSTGRES_URL"; fi

# A marketplace's first day: 1,000,000 orders with their buyers and sellers through `marketmsg import`,
# on SQLite and (with MARKETMSG_BENCH_POSTGRES_URL) PostgreSQL; orders/s and peak memory.
bench-import: install
	$(BIN)/python bench/import_bench.py $(IMPORT_ARGS)

# Median time to check a 10,000-character draft against the communication guidelines.
bench-guidelines: install
	$(BIN)/python bench/guidelines_bench.py
	$(BIN)/python bench/guidelines_eval.py
	$(BIN)/python bench/guidelines_eval.py --set tests/data/guidelines_holdout.tsv

# Time and peak memory of a web reply carrying 10 MiB of attachments.
bench-uploads: install
	$(BIN)/python bench/upload_bench.py

# The message center's lists on a marketplace of 3,000,000 messages: seeded into var/bench on the
# first run (SQLite), and into MARKETMSG_BENCH_POSTGRES_URL too when that is set.
bench-lists: install
	MARKETMSG_DATA_DIR=$(CURDIR)/var/bench $(BIN)/python bench/list_bench.py --seed-if-empty --plans
	@if [ -n "$$MARKETMSG_BENCH_POSTGRES_URL" ]; then \
	  MARKETMSG_DATA_DIR=$(CURDIR)/var/bench MARKETMSG_DATABASE_URL="$$MARKETMSG_BENCH_POSTGRES_URL" \
	    $(BIN)/python bench/list_bench.py --seed-if-empty --plans; \
	else echo "PostgreSQL list benchmark skipped: set MARKETMSG_BENCH_POSTGRES_URL"; fi

# The performance page on the bench-lists database (run bench-lists first to seed it).
bench-metrics: install
	MARKETMSG_DATA_DIR=$(CURDIR)/var/bench $(BIN)/python bench/metrics_bench.py --plans
	@if [ -n "$$MARKETMSG_BENCH_POSTGRES_URL" ]; then \
	  MARKETMSG_DATA_DIR=$(CURDIR)/var/bench MARKETMSG_DATABASE_URL="$$MARKETMSG_BENCH_POSTGRES_URL" \
	    $(BIN)/python bench/metrics_bench.py --plans; \
	else echo "PostgreSQL metrics benchmark skipped: set MARKETMSG_BENCH_POSTGRES_URL"; fi

# Postfix in front and behind, gateway processes on PostgreSQL (MARKETMSG_BENCH_POSTGRES_URL), and
# end-to-end latency at half the saturation rate: docs/operations/scaling.md. Needs root and Postfix.
bench-production: install
	$(BIN)/python bench/production_bench.py

# Collect marked texts into the catalogues (needs GNU gettext), check Japanese is complete, compile.
messages: install
	$(BIN)/python tools/catalogues.py

clean:
	rm -rf var/test .mypy_cache .ruff_cache
