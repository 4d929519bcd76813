#!/usr/bin/env bash
# Runs the suite in a virtualenv of its own, resolved from pyproject.toml's
# ranges instead of uv.lock: at the newest releases they allow (highest) or at
# the lowest versions of streamproc's own dependencies (lowest-direct).
# Prints what was installed beside the lock's versions, then the suite's result.
#   usage: test-unlocked.sh UV PYTHON VENV RESOLUTION [PYTEST ARGS...]
set -euo pipefail
uv=$1 python=$2 venv=$3 resolution=$4
shift 4

rm -rf "$venv"
"$uv" venv --quiet --python "$python" "$venv"
VIRTUAL_ENV="$venv" "$uv" pip install --quiet --resolution "$resolution" \
  --editable . --group dev

echo "installed at resolution '$resolution', where it differs from uv.lock:"
VIRTUAL_ENV="$venv" "$uv" pip freeze --exclude-editable >"$venv/installed.txt"
"$venv/bin/python" scripts/lock_diff.py "$venv/installed.txt"

exec bash scripts/run-tests.sh "$venv/bin/python" "$@"
