# Every target bootstraps .venv from nothing, so a fresh clone needs only
# Python 3.11+ and make. CI calls `make test` too (.ci/run).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Node tooling the test suite runs (the AsyncAPI parser, ajv): one directory, one lock file.
NODE_DIR   := tools/node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed
FUZZ_SECONDS ?= 60

.PHONY: run test test-postgres lint typecheck unit bench schemas fmt fuzz clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "learner-records needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

# --ignore-scripts: none of these packages needs an install script, and one dependency's
# would phone home. npm ci installs exactly the committed lock file.
$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "the contract tests need Node 20+ and npm (apt-get install nodejs npm)"; exit 2; }
	cd $(NODE_DIR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

## run: the service on its embedded default (a nats-server it starts, SQLite)
run: $(STAMP)
	$(BIN)/learner-records serve

## test: lint, types, then the whole test suite against real parts
test: lint typecheck $(NODE_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## test-postgres: the store scenarios again on PostgreSQL; needs a server URL whose user may
## create databases, e.g. make test-postgres PG=postgresql://postgres@127.0.0.1:5432/postgres
test-postgres: $(STAMP)
	@test -n "$(PG)" || { echo "give PG=postgresql://user@host:port/db"; exit 2; }
	LEARNER_RECORDS_TEST_POSTGRES='$(PG)' $(BIN)/python -m pytest -m postgres $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy contracts domain projections services devtools bench fuzz

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: benchmarks with their baselines, printed side by side
bench: $(STAMP)
	$(BIN)/python -m bench

## schemas: regenerate the committed JSON Schemas and AsyncAPI document
schemas: $(STAMP)
	$(BIN)/python -m devtools.schemas

## fuzz: coverage-guided fuzzing of the contract parser (atheris) for FUZZ_SECONDS (60);
## what it learns goes to .fuzz/corpus, any finding to .fuzz/ (the seeds stay as committed)
fuzz: $(STAMP)
	mkdir -p .fuzz/corpus
	$(BIN)/python fuzz/contracts_parser.py -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix=.fuzz/ .fuzz/corpus fuzz/corpus/contracts_parser

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis $(NODE_DIR)/node_modules
