"""The PostgreSQL cluster on disk: the binaries, the account, ``initdb`` and the settings.

The binaries are the build the ``pgserver`` package ships. PostgreSQL
refuses to run as root, so a root caller runs it as the system user
``pgserver`` (pgserver's own convention; created with ``useradd`` if
missing): the cluster's directories are handed to that user and every
ancestor is made traversable by others (``o+x``), as pgserver does. Clusters
use UTF-8 with the C locale (the same sort order on every machine) and trust
authentication, which is safe because the server listens only on a socket
inside its own 0700 cluster directory, or on the loopback interface when
that path is too long for a socket.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import re
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from streamproc.embedded.process import (
    free_port,
    port_free,
    process_runs,
    read_pid,
    unix_socket_fits,
)
from streamproc.errors import ConfigurationError

SUPERUSER = "postgres"
SERVICE_USER = "pgserver"  # the account pgserver itself uses, so both can share clusters
DEFAULT_PORT = 5432
_SETTINGS_FILE = "streamproc.conf"
# The port of a server listening on loopback, as render_postgres_config writes it.
_LOOPBACK_PORT = re.compile(r"^listen_addresses = '127\.0\.0\.1'\nport = '(\d+)'$", re.MULTILINE)


def postgres_bin() -> Path:
    """The ``bin`` directory of the PostgreSQL build inside the ``pgserver`` package."""
    # find_spec does not import pgserver, whose import-time set-up is not wanted here.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        raise ConfigurationError(
            "The embedded PostgreSQL needs the 'pgserver' package (pip install pgserver; "
            "it has builds for CPython 3.11 and 3.12 only), or set DATABASE_URL to use a "
            "PostgreSQL server you run yourself."
        )
    return Path(spec.origin).parent / "pginstall" / "bin"


@dataclass(frozen=True)
class PostgresLayout:
    """The files of one PostgreSQL server, all under ``root``."""

    root: Path

    @property
    def pgdata(self) -> Path:
        """The database cluster directory."""
        return self.root / "data"

    @property
    def log(self) -> Path:
        """The server's log file."""
        return self.root / "postgres.log"

    @property
    def lock(self) -> Path:
        """The lock held while checking, starting or stopping the server."""
        return self.root / "lock"


@dataclass(frozen=True)
class ServiceUser:
    """The account the server runs as when the caller is root."""

    uid: int
    gid: int


def postgres_settings(layout: PostgresLayout, port: int | None = None) -> dict[str, str]:
    """Where the server listens (its cluster directory's socket, or loopback ``port``, a free
    one when None), and a fixed connection limit."""
    # initdb sizes max_connections by probing shared memory and picks as few as 20 on a busy
    # machine; a supervisor's workers each hold a pool, so the limit is set here instead.
    settings = {"max_connections": "100"}
    socket_dir = layout.pgdata.absolute()
    if unix_socket_fits(socket_dir / f".s.PGSQL.{DEFAULT_PORT}"):
        return settings | {
            "listen_addresses": "",
            "port": str(DEFAULT_PORT),
            "unix_socket_directories": str(socket_dir),
        }
    return settings | {
        "listen_addresses": "127.0.0.1",
        "port": str(port or free_port()),
        "unix_socket_directories": "",
    }


def render_postgres_config(settings: dict[str, str]) -> str:
    """postgresql.conf lines with every value single-quoted and escaped."""
    return "".join(f"{name} = {_quote(value)}\n" for name, value in settings.items())


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def service_user() -> ServiceUser | None:
    """The account to run PostgreSQL as: None (the caller) unless the caller is root."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        run(["useradd", "--system", "--shell", "/bin/false", SERVICE_USER], None, 30)
        entry = pwd.getpwnam(SERVICE_USER)
    return ServiceUser(entry.pw_uid, entry.pw_gid)


def prepare(layout: PostgresLayout, user: ServiceUser | None, timeout: float) -> None:
    """Create the directories (owned by ``user``) and the cluster, unless they exist."""
    layout.pgdata.mkdir(parents=True, exist_ok=True, mode=0o700)
    if user is not None:
        _hand_over(layout, user)
    if not (layout.pgdata / "PG_VERSION").exists():
        _initdb(layout, user, timeout)


def write_settings(layout: PostgresLayout) -> None:
    """Choose where the server listens, on the port it had before if that is still free
    (clients hold the address across a restart); read at its next start."""
    port = _previous_port(layout)
    port = port if port is not None and port_free(port) else None
    settings = postgres_settings(layout, port)
    (layout.pgdata / _SETTINGS_FILE).write_text(render_postgres_config(settings))


def _previous_port(layout: PostgresLayout) -> int | None:
    try:
        text = (layout.pgdata / _SETTINGS_FILE).read_text()
    except OSError:
        return None
    match = _LOOPBACK_PORT.search(text)
    return int(match[1]) if match else None


def _hand_over(layout: PostgresLayout, user: ServiceUser) -> None:
    for path in (layout.root, layout.pgdata):
        os.chown(path, user.uid, user.gid)
    for ancestor in layout.root.absolute().parents:
        mode = ancestor.stat().st_mode
        if not mode & stat.S_IXOTH:
            ancestor.chmod(mode | stat.S_IXOTH)


def _initdb(layout: PostgresLayout, user: ServiceUser | None, timeout: float) -> None:
    args = [str(postgres_bin() / "initdb"), "-D", str(layout.pgdata), "-U", SUPERUSER]
    args += ["--auth=trust", "--encoding=UTF8", "--locale=C"]
    run(args, user, timeout)
    with (layout.pgdata / "postgresql.conf").open("a") as conf:
        conf.write(f"include_if_exists = '{_SETTINGS_FILE}'\n")


def run(args: list[str], user: ServiceUser | None, timeout: float, stdin: str = "") -> None:
    """Run a program as ``user``; failure is a ``ConfigurationError`` carrying its output."""
    # Output goes to a file, not a pipe: a server started by pg_ctl could inherit a pipe and
    # keep it open, hanging the read.
    with tempfile.TemporaryFile("w+") as output:
        done = subprocess.run(
            args,
            input=stdin,
            stdout=output,
            stderr=output,
            text=True,
            timeout=timeout,
            check=False,
            **run_as(user),
        )
        output.seek(0)
        if done.returncode != 0:
            raise ConfigurationError(
                f"{Path(args[0]).name} failed (exit {done.returncode}): {output.read().strip()}"
            )


class RunAs(TypedDict):
    """The ``subprocess`` arguments that switch a child to another account."""

    user: int | None
    group: int | None
    extra_groups: list[int] | None


def run_as(user: ServiceUser | None) -> RunAs:
    """Arguments for ``subprocess`` that run the child as ``user`` (None: as the caller)."""
    if user is None:
        return RunAs(user=None, group=None, extra_groups=None)
    return RunAs(user=user.uid, group=user.gid, extra_groups=[])


def clear_stale_locks(layout: PostgresLayout) -> None:
    """Remove lock files whose pid no longer runs PostgreSQL.

    PostgreSQL refuses to start while the pid in ``postmaster.pid`` is alive,
    even when that pid now belongs to another program (after a reboot or a
    crash), so a stale file would block the embedded server for good.
    """
    for lock in (layout.pgdata / "postmaster.pid", *layout.pgdata.glob(".s.PGSQL.*.lock")):
        pid = read_pid(lock)
        if pid is not None and not process_runs(pid, str(layout.pgdata)):
            lock.unlink(missing_ok=True)
