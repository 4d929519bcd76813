# The one interface for people, hooks and CI. Every target installs what it
# needs first, from the committed lock (uv.lock) and nothing else; an install
# that is already in place takes about a second.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

# uv itself comes from scripts/uv-requirements.txt (exact version, hashes).
TOOLS  := .venv-tools
UV     := $(TOOLS)/bin/uv
# Never download a Python build: use the interpreter named by PYTHON.
export UV_PYTHON_DOWNLOADS := never
# --locked installs exactly what uv.lock says and fails if pyproject.toml
# changed without the lock (run `make lock`).
SYNC   := $(UV) sync --locked --python $(PYTHON)

.PHONY: install demo test test-latest test-lowest lock lint typecheck bench chaos clean system-deps

$(UV): scripts/uv-requirements.txt
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	@$(TOOLS)/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "streamproc needs Python 3.11 or newer (set PYTHON=python3.11)"; rm -rf $(TOOLS); exit 1; }
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check \
	  --require-hashes --no-deps -r scripts/uv-requirements.txt
	@touch $(UV)

install: $(UV) system-deps
	@$(SYNC) --quiet

system-deps:
	@bash scripts/system-deps.sh

demo: install
	$(BIN)/streamproc demo $(DEMO_PATH)

test: install
	@bash scripts/run-tests.sh $(BIN)/python $(PYTEST_ARGS)

# The lock again at the newest versions pyproject.toml's ranges allow. Run it
# to take upstream fixes, then `make test`, and commit both files together.
lock: $(UV)
	$(UV) lock --upgrade
	$(UV) lock --upgrade --project bench/peers

# The suite on the newest releases the ranges allow, in a virtualenv of its
# own and ignoring the lock: what the next `make lock`, or a user's plain
# `pip install streamproc`, will meet. test-lowest does the same at the
# lowest versions the ranges allow for streamproc's own dependencies.
test-latest: $(UV) system-deps
	@bash scripts/test-unlocked.sh $(UV) $(PYTHON) .venv-latest highest $(PYTEST_ARGS)

test-lowest: $(UV) system-deps
	@bash scripts/test-unlocked.sh $(UV) $(PYTHON) .venv-lowest lowest-direct $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check streamproc consumers tests bench scripts
	$(BIN)/ruff format --check streamproc consumers tests bench scripts

typecheck: install
	$(BIN)/mypy

# The engine beside a raw redis-py loop (throughput, paced latency), the peer
# frameworks beside both, and the document pipeline; tables printed, JSON in
# bench/results/. The peers run from a virtualenv of their own (.venv-peers),
# installed from their own lock (bench/peers/uv.lock): arq holds redis-py at
# 5.x, which streamproc itself does not live with.
PEERS_VENV := .venv-peers

bench: $(UV) system-deps
	@$(SYNC) --quiet --group profile
	@UV_PROJECT_ENVIRONMENT=$(abspath $(PEERS_VENV)) $(SYNC) --quiet --project bench/peers
	$(BIN)/python -m bench.engine
	STREAMPROC_PEERS_PYTHON=$(PEERS_VENV)/bin/python $(BIN)/python -m bench.peers
	$(BIN)/python -m bench.pipeline

# A few hundred documents through real workers for a few minutes of SIGKILLs,
# SIGSTOPs and Redis and PostgreSQL restarts, then every guarantee checked
# (make test runs a short one: tests/test_chaos.py).
chaos: install
	$(BIN)/python -m bench.chaos --json bench/results/chaos.json

clean:
	rm -rf $(VENV) $(PEERS_VENV) $(TOOLS) .venv-latest .venv-lowest build dist \
	  .pytest_cache .mypy_cache .ruff_cache
