# The two commands of the README: `make dev` runs cspflow on this machine, `make test` runs the
# whole test suite (what .ci/run calls). Both install first; installing again changes nothing.
# Python packages come from requirements.lock, every one pinned with its hashes, as npm's come
# from package-lock.json; `make lock` recompiles it from pyproject.toml's ranges
# (docs/dependency-lock.md: upgrading the Temporal SDK is a deliberate change).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install lock dev test lint

install:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	npm ci --no-audit --no-fund --loglevel=error

# pip-tools runs in a venv of its own, so it never changes what the project's venv holds.
lock:
	@test -x .lock-tools/bin/pip-compile || ($(PYTHON) -m venv .lock-tools && \
		.lock-tools/bin/pip install -q pip-tools)
	.lock-tools/bin/pip-compile --quiet --generate-hashes --extra dev --strip-extras \
		--no-emit-index-url --no-emit-find-links --output-file requirements.lock \
		$(LOCK_FLAGS) pyproject.toml

dev: install
	$(BIN)/cspflow dev

test: install
	bash scripts/ensure-postgres.sh
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy .
