"""The built wheel carries the Lua scripts and finds them without the source tree."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from streamproc.scripts import SCRIPT_NAMES

REPO = Path(__file__).resolve().parents[1]


def test_installed_wheel_finds_its_lua_scripts(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        check=True,
        capture_output=True,
        cwd=REPO,
    )
    [wheel] = tmp_path.glob("streamproc-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "site")
    assert {f"streamproc/lua/{n}.lua" for n in SCRIPT_NAMES} <= names
    assert "streamproc/lua/lib/batch.lua" in names
    probe = (
        "import streamproc.scripts as s; print(s.script_dir()); "
        "print(all('--!include' not in s.script_source(n) for n in s.SCRIPT_NAMES))"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(tmp_path / 'site')!r}); {probe}",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    folder, expanded = out.stdout.split()
    assert Path(folder) == tmp_path / "site" / "streamproc" / "lua"
    assert expanded == "True"


def test_the_build_backend_is_pinned_to_the_hatchling_the_lock_holds() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    [locked] = [p["version"] for p in lock["package"] if p["name"] == "hatchling"]
    assert project["tool"]["uv"]["build-constraint-dependencies"] == [f"hatchling=={locked}"]
