# The two commands of the README: `make dev` runs cspflow on this machine, `make test` runs the
# whole test suite (what .ci/run calls). Both install first; installing again changes nothing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install dev test lint

install:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev]'
	npm ci --no-audit --no-fund --loglevel=error

dev: install
	$(BIN)/cspflow dev

test: install
	bash scripts/ensure-postgres.sh
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy .
