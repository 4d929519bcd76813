# The one interface for people, hooks and CI. Every target installs what it
# needs first; installing is skipped when nothing it depends on has changed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install demo test lint typecheck bench chaos clean system-deps

install: $(STAMP)

$(STAMP): pyproject.toml
	@bash scripts/system-deps.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "streamproc needs Python 3.11 or newer (set PYTHON=python3.11)"; exit 1; }
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

demo: $(STAMP)
	$(BIN)/streamproc demo $(DEMO_PATH)

test: $(STAMP)
	@bash scripts/run-tests.sh $(BIN)/python $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check streamproc consumers tests bench scripts
	$(BIN)/ruff format --check streamproc consumers tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(BIN)/python -m bench.engine

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
