"""Every install comes from the committed lock: the Makefile's, CI's and the image's.

Docker cannot run here, so the image's install step is run for real outside it:
the same ``uv sync`` over the files the Dockerfile copies, into a virtualenv of
the test's, which must then hold exactly the runtime packages at the versions
uv.lock names and run the command line from a non-editable install.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = (REPO / "Dockerfile").read_text()
MAKEFILE = (REPO / "Makefile").read_text()


def uv_binary() -> str:
    """The uv that `make` installs from scripts/uv-requirements.txt."""
    found = REPO / ".venv-tools" / "bin" / "uv"
    if not found.exists():
        pytest.fail(f"no uv at {found}: run the suite through `make test`, which installs it")
    return str(found)


def locked_versions() -> dict[str, set[str]]:
    with open(REPO / "uv.lock", "rb") as lock:
        packages = tomllib.load(lock)["package"]
    versions: dict[str, set[str]] = {}
    for package in packages:
        versions.setdefault(package["name"], set()).add(package["version"])
    return versions


def dockerfile_runs() -> list[str]:
    """The Dockerfile's RUN commands, continuation lines joined."""
    joined = DOCKERFILE.replace("\\\n", " ")
    return [line[4:].strip() for line in joined.splitlines() if line.startswith("RUN ")]


def test_every_install_the_makefile_does_uses_the_lock_or_hashes() -> None:
    installs = [
        line.strip()
        for line in MAKEFILE.replace("\\\n", " ").splitlines()
        if re.search(r"\b(pip install|uv sync|uv pip install|SYNC)\b", line)
        and not line.lstrip().startswith("#")
    ]
    assert installs, "the Makefile installs nothing?"
    assert "SYNC   := $(UV) sync --locked" in MAKEFILE
    for line in installs:
        if "pip install" in line:
            assert "--require-hashes" in line and "-r scripts/uv-requirements.txt" in line, line
        else:
            assert "$(SYNC)" in line or "sync --locked" in line, line
    assert "--project bench/peers" in MAKEFILE and (REPO / "bench/peers/uv.lock").exists()
    # Only the deliberate unlocked runs resolve from the ranges.
    unlocked = (REPO / "scripts" / "test-unlocked.sh").read_text()
    assert "uv pip install" not in MAKEFILE and "--resolution" in unlocked


def test_the_image_installs_uv_by_hash_and_streamproc_from_the_lock_without_dev_groups() -> None:
    runs = dockerfile_runs()
    [uv_install] = [r for r in runs if "pip install" in r]
    assert "--require-hashes" in uv_install and "scripts/uv-requirements.txt" in uv_install
    syncs = [r for r in runs if "uv sync" in r]
    assert len(syncs) == 2
    assert all("--locked" in s and "--no-default-groups" in s for s in syncs)
    copied = re.findall(r"^COPY (.+?) \S+$", DOCKERFILE, re.MULTILINE)
    assert any("uv.lock" in c for c in copied)


def test_the_images_install_step_gives_the_locked_runtime_and_a_working_command(
    tmp_path: Path,
) -> None:
    src = tmp_path / "src"
    for name in ("pyproject.toml", "uv.lock", "README.md", "CHANGELOG.md"):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, src / name)
    for folder in ("streamproc", "consumers", "lua"):
        shutil.copytree(REPO / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    [final] = [r for r in dockerfile_runs() if "uv sync" in r and "--no-install-project" not in r]
    sync = final.split("&&")[0].split()
    assert sync[:2] == ["uv", "sync"]
    target = tmp_path / "opt"
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(target),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_PYTHON": sys.executable,
    }
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(
        [uv_binary(), *sync[1:], "--quiet"],
        cwd=src,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr

    frozen = subprocess.run(
        [uv_binary(), "pip", "freeze", "--python", str(target / "bin" / "python")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert any(line.startswith("streamproc @ file://") for line in frozen), frozen
    installed = dict(line.split("==", 1) for line in frozen if "==" in line)
    locked = locked_versions()
    assert "redis" in installed and "asyncpg" in installed
    for dev_only in ("pytest", "mypy", "moto", "celery"):
        assert dev_only not in installed, dev_only
    for name, version in installed.items():
        assert version in locked[name.lower().replace("_", "-")], (name, version)

    helped = subprocess.run(
        [str(target / "bin" / "streamproc"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert helped.returncode == 0, helped.stderr
    assert "submit" in helped.stdout
