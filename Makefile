# Every target bootstraps .venv from nothing, so a fresh clone needs only
# Python 3.11+ and make. CI calls `make test` too (.ci/run).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-postgres postgres-bin lint typecheck unit bench schemas fmt clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "learner-records needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

## run: the service on its embedded default (a nats-server it starts, SQLite)
run: $(STAMP)
	$(BIN)/learner-records serve

## test: lint, types, then the whole test suite against real parts (PostgreSQL included)
test: lint typecheck postgres-bin
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## test-postgres: only the PostgreSQL tests; on a throwaway server, or on PG=postgresql://…
## whose user may create databases, e.g. PG=postgresql://postgres@127.0.0.1:5432/postgres
test-postgres: postgres-bin
	$(if $(PG),LEARNER_RECORDS_TEST_POSTGRES='$(PG)') $(BIN)/python -m pytest -m postgres $(PYTEST_ARGS)

## postgres-bin: find initdb and postgres for the tests' throwaway server; as root on Debian,
## apt-get install postgresql if they are missing. Nothing to do when a server URL is given.
postgres-bin: $(STAMP)
	$(if $(PG)$(LEARNER_RECORDS_TEST_POSTGRES),@true,@$(BIN)/python -m devtools.postgres ensure-binaries)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy contracts domain projections services devtools bench

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: benchmarks with their baselines, printed side by side
bench: $(STAMP)
	$(BIN)/python -m bench

## schemas: regenerate the committed JSON Schemas and AsyncAPI document
schemas: $(STAMP)
	$(BIN)/python -m devtools.schemas && $(BIN)/python -m devtools.asyncapi

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
