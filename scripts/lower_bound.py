"""Helpers of scripts/test-unlocked.sh, reading pyproject.toml and uv.lock.

python scripts/lower_bound.py NAME          # "NAME==X" for streamproc's NAME>=X
python scripts/lower_bound.py --compare F   # lines of pip-freeze file F not in uv.lock
"""

from __future__ import annotations

import re
import sys
import tomllib


def lower_bound(name: str) -> str:
    """The pin of ``name`` at the lower bound streamproc's own dependencies give it."""
    with open("pyproject.toml", "rb") as f:
        requirements = tomllib.load(f)["project"]["dependencies"]
    for requirement in requirements:
        found = re.match(rf"{re.escape(name)}(\[[^]]*\])?>=([\w.]+)", requirement)
        if found:
            return f"{name}=={found.group(2)}"
    raise SystemExit(f"streamproc gives {name} no lower bound in pyproject.toml")


def differences(frozen: str) -> list[str]:
    """The packages of a pip-freeze file whose version uv.lock does not hold."""
    with open("uv.lock", "rb") as f:
        locked: dict[str, set[str]] = {}
        for package in tomllib.load(f)["package"]:
            locked.setdefault(package["name"], set()).add(package["version"])
    out = []
    with open(frozen) as f:
        for line in f:
            name, _, version = line.strip().partition("==")
            held = locked.get(name.lower().replace("_", "-"), set())
            if version and version not in held:
                out.append(f"  {name} {version} (lock: {', '.join(sorted(held)) or 'none'})")
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["--compare"]:
        print("\n".join(differences(sys.argv[2])) or "  (nothing: the lock is up to date)")
    else:
        print(lower_bound(sys.argv[1]))
