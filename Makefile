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

# The engine beside a raw redis-py loop (throughput, paced latency), the peer
# frameworks beside both, and the document pipeline; tables printed, JSON in
# bench/results/. The peers run from a virtualenv of their own (.venv-peers):
# their pins hold redis-py at 5.x, which streamproc itself need not live with.
PEERS_VENV := .venv-peers

bench: $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,profile]'
	@test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(BIN)/python -m bench.engine
	STREAMPROC_PEERS_PYTHON=$(PEERS_VENV)/bin/python $(BIN)/python -m bench.peers
	$(BIN)/python -m bench.pipeline

# A few hundred documents through real workers for a few minutes of SIGKILLs,
# SIGSTOPs and Redis and PostgreSQL restarts, then every guarantee checked
# (make test runs a short one: tests/test_chaos.py).
chaos: $(STAMP)
	$(BIN)/python -m bench.chaos --json bench/results/chaos.json

clean:
	rm -rf $(VENV) $(PEERS_VENV) build dist .pytest_cache .mypy_cache .ruff_cache
