"""``streamproc run``: keeps N worker processes per stage alive.

Each worker is a separate ``streamproc worker STAGE`` process. One that
crashes is restarted with exponential backoff; one that exits cleanly (it
recycled itself after --max-messages or --max-rss-mb) is replaced at once;
one that refuses its configuration (``ExitCode.CONFIGURATION``) would refuse
it again, so the supervisor stops every worker and exits with that code,
saying in one line what the worker refused and that it needs fixing.
Signals are forwarded, and Prometheus' multiprocess mode lets one endpoint
report the metrics of all workers (those of ended workers folded into one
total, see ``worker_metrics``), beside the backlog read from Redis at scrape
time. A trimmer applies the retention every STREAMPROC_TRIM_INTERVAL.
Embedded servers (no REDIS_URL, no DATABASE_URL) that die are started again on
the same data directory and address (``embedded.keeper``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from streamproc.backlog_metrics import BacklogCollector, read_snapshot
from streamproc.config import Settings
from streamproc.connections import RedisTimeouts, connect_redis, redis_url
from streamproc.embedded.keeper import EmbeddedKeeper
from streamproc.embedded.process import die_with_parent
from streamproc.errors import EXIT_REPORT_VARIABLE, ConfigurationError, ExitCode
from streamproc.http import MetricsServer
from streamproc.keys import Keys
from streamproc.logs import get_logger
from streamproc.runtime import sleep_unless
from streamproc.trim import trim_forever
from streamproc.worker_metrics import WorkerMetrics

HEALTHY_AFTER = 60.0
MAX_BACKOFF = 30.0
EMBEDDED_CHECK = 1.0  # seconds between checks that the embedded servers still run


def parse_procs(specs: Sequence[str], stages: Sequence[str]) -> dict[str, int]:
    """``['ocr=4']`` -> process counts for every stage (1 for those not named)."""
    plan = dict.fromkeys(stages, 1)
    for spec in specs:
        name, sep, count = spec.partition("=")
        if not sep or not count.isdigit():
            raise ConfigurationError(f"--procs {spec!r}: expected STAGE=N, e.g. ocr=4")
        if name not in plan:
            raise ConfigurationError(
                f"--procs {spec!r}: no stage {name!r}; stages: {', '.join(stages)}"
            )
        plan[name] = int(count)
    return plan


@dataclass
class Slot:
    """One worker position: which stage, and the process filling it now."""

    stage: str
    index: int
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0


class Supervisor:
    """Starts, watches, restarts and stops worker processes."""

    def __init__(
        self,
        settings: Settings,
        plan: dict[str, int],
        *,
        max_messages: int | None = None,
        max_rss_mb: float | None = None,
    ) -> None:
        self.settings = settings
        self.slots = [Slot(stage, i) for stage, n in plan.items() for i in range(n)]
        self.stages = list(plan)
        self.worker_args: list[str] = []
        if max_messages:
            self.worker_args += ["--max-messages", str(max_messages)]
        if max_rss_mb:
            self.worker_args += ["--max-rss-mb", str(max_rss_mb)]
        self.stopping = asyncio.Event()
        self.log = get_logger(component="supervisor")
        self.metrics_dir = settings.data_dir / "metrics" / str(os.getpid())
        self.worker_metrics = WorkerMetrics(self.metrics_dir)
        self.reports_dir = settings.data_dir / "exits" / str(os.getpid())
        self.exit_code = 0

    def _environment(self, url: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            REDIS_URL=url,
            STREAMPROC_PIPELINE=self.settings.pipeline,
            STREAMPROC_PREFIX=self.settings.prefix,
            STREAMPROC_DATA_DIR=str(self.settings.data_dir),
            STREAMPROC_CONCURRENCY=str(self.settings.concurrency),
            PROMETHEUS_MULTIPROC_DIR=str(self.metrics_dir),
        )
        return env

    async def run(self, metrics_port: int | None, metrics_host: str = "127.0.0.1") -> int:
        """Run until SIGTERM/SIGINT; returns the exit code."""
        url = redis_url(self.settings)
        for directory in (self.metrics_dir, self.reports_dir):
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir(parents=True)
        env = self._environment(url)
        self._install_signal_handlers()
        redis = connect_redis(url, RedisTimeouts.from_settings(self.settings))
        server = await self._serve_metrics(redis, metrics_port, metrics_host)
        deadline = asyncio.create_task(self._enforce_deadline())
        trimmer = asyncio.create_task(self._trim(redis))
        keeper = asyncio.create_task(self._keep_embedded())
        try:
            async with asyncio.TaskGroup() as tg:
                for slot in self.slots:
                    tg.create_task(self._keep(slot, env))
        finally:
            for task in (deadline, trimmer, keeper):
                task.cancel()
            for task in (trimmer, keeper):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if server is not None:
                await server.close()
            await redis.aclose()
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
            shutil.rmtree(self.reports_dir, ignore_errors=True)
        self.log.info("supervisor_stopped", exit_code=self.exit_code)
        return self.exit_code

    async def _keep_embedded(self) -> None:
        """Start again every embedded server this run relies on that has died."""
        s = self.settings
        keeper = EmbeddedKeeper(
            s.data_dir, redis=s.redis_url is None, postgres=s.database_url is None
        )
        while not await sleep_unless(self.stopping, EMBEDDED_CHECK):
            try:
                started = await asyncio.to_thread(keeper.revive)
            except ConfigurationError as exc:
                self.log.error("embedded_server_restart_failed", error=str(exc))
                continue
            for server in started:
                self.log.warning(
                    "embedded_server_restarted", server=server, data_dir=str(s.data_dir)
                )

    async def _trim(self, redis: Redis) -> None:
        s = self.settings
        await trim_forever(redis, Keys(s.prefix), self.stages, s.retention, s.trim_interval)

    async def _serve_metrics(
        self, redis: Redis, port: int | None, host: str
    ) -> MetricsServer | None:
        if port is None:
            return None
        registry = CollectorRegistry()
        registry.register(self.worker_metrics)
        keys, loop = Keys(self.settings.prefix), asyncio.get_running_loop()
        registry.register(BacklogCollector(lambda: read_snapshot(redis, keys, self.stages), loop))

        async def ready() -> bool:
            try:
                await redis.ping()
            except Exception:
                return False
            return all(s.proc is not None and s.proc.returncode is None for s in self.slots)

        server = MetricsServer(registry, ready)
        bound = await server.start(host, port)
        self.log.info("metrics_listening", host=host, port=bound)
        return server

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._forward)

    def _forward(self) -> None:
        self.stopping.set()
        for slot in self.slots:
            if slot.proc is not None and slot.proc.returncode is None:
                slot.proc.send_signal(signal.SIGTERM)

    async def _enforce_deadline(self) -> None:
        await self.stopping.wait()
        await asyncio.sleep(self.settings.grace_period + 10)
        for slot in self.slots:
            if slot.proc is not None and slot.proc.returncode is None:
                self.log.warning("worker_killed_after_deadline", pid=slot.proc.pid)
                slot.proc.kill()

    async def _keep(self, slot: Slot, env: dict[str, str]) -> None:
        failures = 0
        while not self.stopping.is_set():
            started = time.monotonic()
            slot.proc = await self._spawn(slot, env)
            code = await slot.proc.wait()
            self.worker_metrics.fold(slot.proc.pid)
            if self.stopping.is_set():
                return
            if code == ExitCode.CONFIGURATION:
                self._give_up(slot)
                return
            failures = (
                0 if code == 0 or time.monotonic() - started > HEALTHY_AFTER else failures + 1
            )
            delay = min(MAX_BACKOFF, 0.5 * 2 ** (failures - 1)) if failures else 0.0
            slot.restarts += 1
            log = self.log.info if code == 0 else self.log.warning
            log("worker_exited", stage=slot.stage, pid=slot.proc.pid, code=code, restart_in=delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay or 0.001)

    def _give_up(self, slot: Slot) -> None:
        """A worker refused its configuration: stop them all and say what it refused, once."""
        if self.exit_code:
            return
        self.exit_code = ExitCode.CONFIGURATION
        report = self._report_path(slot)
        refused = report.read_text(encoding="utf-8") if report.exists() else "(no reason given)"
        self.log.error(
            "worker_refused_configuration",
            stage=slot.stage,
            error=refused,
            action="fix the setting named in `error`, then start streamproc run again "
            "(restarting cannot help, so every worker was stopped)",
        )
        self._forward()

    def _report_path(self, slot: Slot) -> Path:
        return self.reports_dir / f"{slot.stage}-{slot.index}"

    async def _spawn(self, slot: Slot, env: dict[str, str]) -> asyncio.subprocess.Process:
        args = [sys.executable, "-m", "streamproc", "worker", slot.stage, *self.worker_args]
        report = self._report_path(slot)
        report.unlink(missing_ok=True)
        env = env | {EXIT_REPORT_VARIABLE: str(report)}
        proc = await asyncio.create_subprocess_exec(
            *args, env=env, start_new_session=True, preexec_fn=die_with_parent(signal.SIGTERM)
        )
        self.log.info("worker_started", stage=slot.stage, slot=slot.index, pid=proc.pid)
        return proc
