# Every target bootstraps .venv from nothing, so a fresh clone needs only
# Python 3.11+ and make. CI calls `make test` too (.ci/run).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Node.js tools the tests run (pinned by the committed package-lock.json, installed with
# `npm ci`): JSON-LD and Verifiable Credentials on exported documents; the official
# AsyncAPI parser and ajv on contracts/.
NODE_TOOLS := tools/node
NODE_STAMP := $(NODE_TOOLS)/node_modules/.installed
FUZZ_SECONDS ?= 60

.PHONY: run test test-cluster test-postgres postgres-bin chromium-bin lint typecheck unit bench schemas nats-config fmt fuzz clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "learner-records needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres,sign,otel]'
	@# devtools/ is not in the wheel; a source checkout's venv sees it through a .pth file.
	$(BIN)/python -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()["purelib"], "learner_records_devtools.pth").write_text("$(CURDIR)\n")'
	touch $(STAMP)

# --ignore-scripts: none of these packages needs an install script, and one dependency's
# would phone home (npm 11 skips unapproved ones anyway; this makes it explicit).
$(NODE_STAMP): $(NODE_TOOLS)/package.json $(NODE_TOOLS)/package-lock.json
	@command -v npm >/dev/null || { echo "the tests need Node.js 20+ and npm for $(NODE_TOOLS) (Debian: apt-get install nodejs npm)"; exit 2; }
	cd $(NODE_TOOLS) && npm ci --ignore-scripts --no-audit --no-fund
	touch $(NODE_STAMP)

## run: the service on its embedded default (a nats-server it starts, SQLite)
run: $(STAMP)
	$(BIN)/learner-records serve

## test: lint, types, then the whole test suite against real parts (PostgreSQL included)
test: lint typecheck postgres-bin chromium-bin $(NODE_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## test-cluster: replicas of the service on a 3-node NATS cluster and PostgreSQL, as processes
test-cluster: postgres-bin
	$(BIN)/python -m pytest -m cluster $(PYTEST_ARGS)

## test-postgres: only the PostgreSQL tests; on a throwaway server, or on PG=postgresql://…
## whose user may create databases, e.g. PG=postgresql://postgres@127.0.0.1:5432/postgres
test-postgres: postgres-bin
	$(if $(PG),LEARNER_RECORDS_TEST_POSTGRES='$(PG)') $(BIN)/python -m pytest -m postgres $(PYTEST_ARGS)

## postgres-bin: find initdb and postgres for the tests' throwaway server; as root on Debian,
## apt-get install postgresql if they are missing. Nothing to do when a server URL is given.
postgres-bin: $(STAMP)
	$(if $(PG)$(LEARNER_RECORDS_TEST_POSTGRES),@true,@$(BIN)/python -m devtools.postgres ensure-binaries)

## chromium-bin: find Debian's chromium for the pages' browser tests; as root on Debian,
## apt-get install chromium if it is missing (Playwright never downloads a browser here).
chromium-bin: $(STAMP)
	@$(BIN)/python -m devtools.chromium ensure

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy contracts domain projections services devtools bench fuzz

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: every figure beside its baseline (measured in the same run) and its target, then
## one summary line (~30 min; README "Performance"). BENCH=quick: a small run (~5 min);
## BENCH_ONLY=e2e,latency: only those (rules contracts inprocess snapshots replay e2e
## latency rebuild rss). Work files in .bench/; PostgreSQL is started and removed by it.
bench: $(STAMP) postgres-bin
	$(BIN)/python -m bench

## schemas: regenerate the committed JSON Schemas and AsyncAPI document
schemas: $(STAMP)
	$(BIN)/python -m devtools.schemas

## nats-config: regenerate deploy/'s NATS configs (one server, accounts, 3-node cluster,
## compose's 3 nodes) and the NATS Helm chart's values (deploy/kubernetes/nats-values.yaml)
nats-config: $(STAMP)
	$(BIN)/python -m devtools.nats_config

## fuzz: coverage-guided fuzzing of the contract parser (atheris) for FUZZ_SECONDS (60);
## what it learns goes to .fuzz/corpus, any finding to .fuzz/ (the seeds stay as committed)
fuzz: $(STAMP)
	mkdir -p .fuzz/corpus
	$(BIN)/python fuzz/contracts_parser.py -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix=.fuzz/ .fuzz/corpus fuzz/corpus/contracts_parser

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis $(NODE_TOOLS)/node_modules
