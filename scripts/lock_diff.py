"""Lists the packages of a pip-freeze file whose version uv.lock does not hold.

python scripts/lock_diff.py FROZEN     (used by scripts/test-unlocked.sh)
"""

from __future__ import annotations

import sys
import tomllib


def differences(frozen: str) -> list[str]:
    """One line per package of ``frozen`` installed at a version the lock does not name."""
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
    print("\n".join(differences(sys.argv[1])) or "  (nothing: the lock is up to date)")
