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
"$venv/bin/python" - "$venv/installed.txt" <<'EOF'
import sys
import tomllib

locked = {}
with open("uv.lock", "rb") as lock:
    for package in tomllib.load(lock)["package"]:
        locked.setdefault(package["name"], []).append(package["version"])
with open(sys.argv[1]) as installed:
    for line in installed:
        name, _, version = line.strip().partition("==")
        key = name.lower().replace("_", "-")
        if version and version not in locked.get(key, []):
            print(f"  {name} {version} (lock: {', '.join(locked.get(key, ['none']))})")
EOF

exec bash scripts/run-tests.sh "$venv/bin/python" "$@"
