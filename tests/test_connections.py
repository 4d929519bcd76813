"""Redis connections that go silent fail within the configured bound instead of hanging."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from processes import Procs, spawn
from redis.exceptions import TimeoutError as RedisTimeoutError

from streamproc.config import load_settings
from streamproc.connections import RedisTimeouts, connect_redis
from streamproc.embedded import PrivateRedis, find_redis_server, start_private_redis
from streamproc.errors import ExitCode
from streamproc.keys import Keys
from streamproc.lane import Lane

REDIS_FLAVOURS = ("bundled", "system")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(params=REDIS_FLAVOURS)
def own_redis(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PrivateRedis]:
    """A Redis (6.2, then 7.x) of this test's own, which it may freeze with SIGSTOP."""
    server = start_private_redis(tmp_path / "redis", binary=find_redis_server(prefer=request.param))
    yield server
    if server.pid is not None:
        os.kill(server.pid, signal.SIGCONT)
    server.stop()


@pytest.fixture
def env(own_redis: PrivateRedis, prefix: str, tmp_path: Path) -> dict[str, str]:
    """Environment for streamproc processes on ``own_redis``: Redis silent for 1 s is given up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMPROC_")}
    return env | {
        "REDIS_URL": own_redis.url,
        "STREAMPROC_PREFIX": prefix,
        "STREAMPROC_DATA_DIR": str(tmp_path / "data"),
        "STREAMPROC_LOG_FORMAT": "json",
        "STREAMPROC_PROBE_LOG": str(tmp_path / "probe.log"),
        "STREAMPROC_REDIS_TIMEOUT": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }


@contextlib.contextmanager
def frozen(server: PrivateRedis) -> Iterator[None]:
    """The server stops answering (its socket still accepts) until the block ends."""
    assert server.pid is not None
    os.kill(server.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.pid, signal.SIGCONT)


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A loopback TCP server that accepts connections and never answers; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


async def test_a_command_to_a_server_that_never_answers_fails_within_the_reply_timeout() -> None:
    with silent_server() as port:
        redis = connect_redis(f"redis://127.0.0.1:{port}/0", RedisTimeouts(reply=0.5, connect=0.5))
        started = time.monotonic()
        with pytest.raises(RedisTimeoutError):
            await redis.ping()
        assert time.monotonic() - started < 1.5
        await redis.aclose()


def keepalive_timers(port: int) -> list[str]:
    """The kernel's timers of this process's connections to ``port`` (``ss -o``)."""
    out = subprocess.run(
        ["ss", "-tnoH", "state", "established", "dst", f"127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.split("timer:", 1)[1] for line in out.stdout.splitlines() if "timer:" in line]


async def test_tcp_connections_probe_an_idle_peer_after_thirty_seconds_not_two_hours() -> None:
    with silent_server() as port:
        redis = connect_redis(f"redis://127.0.0.1:{port}/0", RedisTimeouts(reply=0.2))
        with contextlib.suppress(RedisTimeoutError):
            await redis.ping()  # opens the connection; the reply never comes
        lane = Lane(redis)
        with contextlib.suppress(RedisTimeoutError):
            await lane.call("PING")
        timers = keepalive_timers(port)
        await lane.close()
        await redis.aclose()
    # e.g. "(keepalive,29sec,0)": the first probe is due within KEEPALIVE_IDLE seconds.
    assert timers and all(t.startswith("(keepalive,") for t in timers), timers
    assert all(int(t.split(",")[1].removesuffix("sec")) <= 30 for t in timers), timers


async def test_a_blocking_read_may_block_longer_than_the_reply_timeout(
    own_redis: PrivateRedis,
) -> None:
    redis = connect_redis(own_redis.url, RedisTimeouts(reply=0.5))
    await redis.xgroup_create("s", "g", id="$", mkstream=True)
    lane = Lane(redis, patience=1.5)
    started = time.monotonic()
    reply = await lane.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", 1200, "STREAMS", "s", ">")
    assert reply is None and 1.1 < time.monotonic() - started < 2.0
    await lane.close()
    await redis.aclose()


def test_a_command_against_a_frozen_redis_exits_within_the_configured_timeout(
    own_redis: PrivateRedis, env: dict[str, str], python: str
) -> None:
    args = [python, "-m", "streamproc", "streams", "--pipeline", "streamproc.testing:one"]

    def timed() -> tuple[subprocess.CompletedProcess[str], float]:
        started = time.monotonic()
        try:
            out = subprocess.run(
                args, check=False, env=env, capture_output=True, text=True, timeout=60
            )
        except subprocess.TimeoutExpired:
            pytest.fail("`streamproc streams` hung on a frozen Redis")
        return out, time.monotonic() - started

    answered, usual = timed()  # the same command's start-up and work, Redis answering
    assert answered.returncode == 0, answered.stderr[-2000:]
    with frozen(own_redis):
        out, took = timed()
    assert out.returncode == ExitCode.UNAVAILABLE, out.stderr[-2000:]
    assert "cannot reach Redis" in out.stderr, out.stderr[-2000:]
    # One second of silence and it gives up; the rest is start-up, slow on a busy machine.
    assert took < usual + 6, f"took {took:.1f} s (usually {usual:.1f} s) with a 1 s timeout"


async def test_a_client_of_a_frozen_redis_gives_up_after_the_configured_timeout(
    own_redis: PrivateRedis,
) -> None:
    timeouts = RedisTimeouts.from_settings(load_settings(redis_timeout=0.5))
    redis = connect_redis(own_redis.url, timeouts)
    await redis.ping()
    with frozen(own_redis):
        started = time.monotonic()
        with pytest.raises(RedisTimeoutError):
            await redis.ping()
        took = time.monotonic() - started
    assert 0.4 < took < 1.5, f"gave up after {took:.1f} s with a 0.5 s timeout"
    await redis.aclose()


async def test_a_worker_whose_redis_froze_still_stops_on_sigterm(
    own_redis: PrivateRedis, env: dict[str, str], python: str, spawned: Procs
) -> None:
    env = env | {"STREAMPROC_GRACE_PERIOD": "1", "STREAMPROC_BLOCK_MS": "200"}
    redis = connect_redis(own_redis.url)
    worker = spawn(spawned, python, env, "worker", "--pipeline", "streamproc.testing:one")
    async with asyncio.timeout(60):
        while not await redis.hlen(Keys(env["STREAMPROC_PREFIX"]).consumers):
            await asyncio.sleep(0.05)
    await redis.aclose()
    with frozen(own_redis):
        await asyncio.sleep(1.5)  # its reads, heartbeats and promotions now go unanswered
        worker.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = await asyncio.to_thread(_wait, worker, 30)
        took = time.monotonic() - started
    assert code == 0, "the worker hung on its frozen Redis"
    assert took < 10, f"stopping took {took:.1f} s with STREAMPROC_REDIS_TIMEOUT=1"


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None
