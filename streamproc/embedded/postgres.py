"""The embedded PostgreSQL server, run from the binaries the ``pgserver`` package ships.

Everything lives in ``<data_dir>/postgres``: the cluster in ``data``
(initialised with UTF-8 encoding and the C locale, trust authentication),
``postgres.log`` and ``lock``. The server listens on a Unix socket in the
cluster directory with no TCP port, or on a free loopback port when that
socket path would exceed 107 bytes.

pgserver's own ``get_server`` is not used: it caches one handle per process
(so a server stopped and started again in one process is reported with its
old pid), stops the server when the last Python process that asked for it
exits, and importing it warns when XDG_RUNTIME_DIR is unset. Only its
binaries and its convention for running as root are kept: PostgreSQL
refuses to run as root, so a root caller runs it as the system user
``pgserver`` (created with ``useradd`` if missing), and its directories and
every ancestor are made traversable by that user (``o+x``).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import signal
import stat
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict
from urllib.parse import quote

from streamproc.embedded.locking import exclusive_lock
from streamproc.embedded.process import (
    free_port,
    log_tail,
    process_runs,
    terminate,
    unix_socket_fits,
    wait_until,
)
from streamproc.errors import ConfigurationError

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
DATABASE = "streamproc"
SUPERUSER = "postgres"
SERVICE_USER = "pgserver"  # the same account pgserver itself uses, so both can share clusters
DEFAULT_PORT = 5432
_SETTINGS_FILE = "streamproc.conf"


def postgres_bin() -> Path:
    """The ``bin`` directory of the PostgreSQL build inside the ``pgserver`` package."""
    # find_spec does not import pgserver, whose import-time set-up is not wanted here.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        raise ConfigurationError(
            "The embedded PostgreSQL needs the 'pgserver' package (pip install pgserver), "
            "or set DATABASE_URL to use a PostgreSQL server you run yourself."
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


@dataclass(frozen=True)
class Postmaster:
    """What ``postmaster.pid`` says about a server."""

    pid: int
    port: int
    socket_dir: Path | None
    host: str
    status: str


def parse_postmaster_pid(text: str) -> Postmaster | None:
    """Read ``postmaster.pid``: pid, data dir, start time, port, socket dir, host, shm, status.

    Returns None while the file is incomplete (the server writes it in steps).
    """
    lines = text.split("\n")
    if len(lines) < 8 or not lines[0].strip().isdigit() or not lines[3].strip().isdigit():
        return None
    socket_dir = lines[4].strip()
    return Postmaster(
        pid=int(lines[0]),
        port=int(lines[3]),
        socket_dir=Path(socket_dir) if socket_dir else None,
        host=lines[5].strip(),
        status=lines[7].strip(),
    )


def read_postmaster(layout: PostgresLayout) -> Postmaster | None:
    """The running server of ``layout`` per its ``postmaster.pid``, if it is alive."""
    try:
        found = parse_postmaster_pid((layout.pgdata / "postmaster.pid").read_text())
    except OSError:
        return None
    if found is None or not process_runs(found.pid, "postgres"):
        return None
    return found


def postgres_dsn(postmaster: Postmaster, database: str) -> str:
    """An asyncpg/libpq DSN for ``database`` on the server ``postmaster`` describes."""
    if postmaster.socket_dir is not None:
        host = quote(str(postmaster.socket_dir), safe="/")
        return f"postgresql://{SUPERUSER}@/{database}?host={host}&port={postmaster.port}"
    return f"postgresql://{SUPERUSER}@{postmaster.host or '127.0.0.1'}:{postmaster.port}/{database}"


def postgres_settings(layout: PostgresLayout) -> dict[str, str]:
    """Where the server listens: its cluster directory's socket, or a free loopback port."""
    socket_dir = layout.pgdata.absolute()
    if unix_socket_fits(socket_dir / f".s.PGSQL.{DEFAULT_PORT}"):
        return {
            "listen_addresses": "",
            "port": str(DEFAULT_PORT),
            "unix_socket_directories": str(socket_dir),
        }
    return {
        "listen_addresses": "127.0.0.1",
        "port": str(free_port()),
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
        _run(["useradd", "--system", "--shell", "/bin/false", SERVICE_USER], None, 30)
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
    """Choose where the server listens; read at its next start."""
    (layout.pgdata / _SETTINGS_FILE).write_text(render_postgres_config(postgres_settings(layout)))


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
    _run(args, user, timeout)
    with (layout.pgdata / "postgresql.conf").open("a") as conf:
        conf.write(f"include_if_exists = '{_SETTINGS_FILE}'\n")


def _run(args: list[str], user: ServiceUser | None, timeout: float, stdin: str = "") -> None:
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


def create_database(postmaster: Postmaster, database: str, timeout: float = 30.0) -> None:
    """Create ``database`` on the server unless it exists (psql's ``\\gexec``)."""
    create = _literal(f"CREATE DATABASE {_identifier(database)}")
    exists = f"SELECT FROM pg_database WHERE datname = {_literal(database)}"
    sql = f"SELECT {create} WHERE NOT EXISTS ({exists})\\gexec\n"
    psql = [str(postgres_bin() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    _run([*psql, "-d", postgres_dsn(postmaster, "postgres")], None, timeout, stdin=sql)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ensure_postgres(
    data_dir: Path, *, database: str = DATABASE, timeout: float = STARTUP_TIMEOUT
) -> str:
    """A DSN for ``database`` (created if missing) on the PostgreSQL server of ``data_dir``.

    Reuses a server started earlier under ``data_dir`` by any process,
    otherwise initialises the cluster if needed and starts one with
    ``pg_ctl``, which detaches it so it outlives the caller. An exclusive
    lock makes concurrent callers get one server. Raises
    ``ConfigurationError`` when the server cannot be set up or started.
    """
    layout = PostgresLayout(data_dir / "postgres")
    with exclusive_lock(layout.lock):
        postmaster = _running(layout, timeout) or _start_detached(layout, timeout)
        create_database(postmaster, database, timeout)
        return postgres_dsn(postmaster, database)


def _running(layout: PostgresLayout, timeout: float) -> Postmaster | None:
    if read_postmaster(layout) is None:
        return None
    return wait_ready(layout, timeout)


def wait_ready(
    layout: PostgresLayout,
    timeout: float,
    *,
    pid: int | None = None,
    alive: Callable[[], bool] = lambda: True,
) -> Postmaster:
    """Wait until ``postmaster.pid`` reports a live server (``pid``, if given) that is ``ready``.

    Fails at once when ``alive`` says the starting process exited.
    """
    found: Postmaster | None = None
    exited = False

    def ready() -> bool:
        nonlocal found, exited
        found, exited = read_postmaster(layout), not alive()
        ours = found is not None and (pid is None or found.pid == pid)
        return exited or (ours and found is not None and found.status == "ready")

    if wait_until(ready, timeout) and not exited and found is not None:
        return found
    reason = "exited during start-up" if exited else f"is not ready after {timeout:g} s"
    raise ConfigurationError(
        f"PostgreSQL under {layout.root} {reason}; see {layout.log}, or set DATABASE_URL "
        f"to use another server. Last log lines:\n{log_tail(layout.log)}"
    )


def _start_detached(layout: PostgresLayout, timeout: float) -> Postmaster:
    user = service_user()
    prepare(layout, user, timeout)
    write_settings(layout)
    pg_ctl = [str(postgres_bin() / "pg_ctl"), "-D", str(layout.pgdata), "-l", str(layout.log)]
    try:
        _run([*pg_ctl, "-w", "-t", str(int(timeout)), "start"], user, timeout + 5)
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"{exc}\nLast lines of {layout.log}:\n{log_tail(layout.log)}"
        ) from exc
    return wait_ready(layout, timeout)


def stop_postgres(data_dir: Path, *, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the PostgreSQL server of ``data_dir``; True if one was running.

    SIGINT is PostgreSQL's fast shutdown: open sessions are rolled back and
    the server exits cleanly; one still alive after ``timeout`` is killed.
    """
    layout = PostgresLayout(data_dir / "postgres")
    with exclusive_lock(layout.lock):
        postmaster = read_postmaster(layout)
        if postmaster is None:
            return False
        terminate(postmaster.pid, signal.SIGINT, timeout)
        return True
