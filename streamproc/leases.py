"""Keeping the entries a live worker is handling from being reclaimed by others.

The lease keeper owns one guarantee: an entry a handler here is still working on
keeps a fresh idle time (XCLAIM JUSTID to itself, through ``renew.lua``) for up
to ``max_lease`` seconds, however many entries are in flight, so a slow but
alive worker's work is not taken over. An entry another consumer took over
meanwhile is reported (``streamproc_leases_lost_total``) and left alone.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from streamproc.runtime import Backoff

if TYPE_CHECKING:
    from streamproc.runner import StageRunner

# Ids renewed per script call: a call stays short however many entries are in flight.
LEASE_CHUNK = 500


class LeaseKeeper:
    """Renews the leases of one stage's in-flight entries every ``lease_interval``."""

    def __init__(self, runner: StageRunner) -> None:
        self.runner, self.rt = runner, runner.rt
        self.backoff = Backoff(runner.log, "lease_renewal_failed")

    async def loop(self) -> None:
        """Renew until the worker has halted."""
        s = self.rt.settings
        while not self.rt.halted.is_set():
            await asyncio.sleep(s.lease_interval)
            await self.renew_all()

    async def renew_all(self) -> set[str]:
        """Renew every entry in flight here for less than ``max_lease``; returns the ids
        found taken over by another consumer."""
        cutoff = time.monotonic() - self.rt.settings.max_lease
        ids = [mid for mid, since in list(self.runner.inflight.items()) if since > cutoff]
        lost: set[str] = set()
        for i in range(0, len(ids), LEASE_CHUNK):
            lost |= await self._renew(ids[i : i + LEASE_CHUNK])
        return lost

    async def _renew(self, ids: list[str]) -> set[str]:
        runner = self.runner
        call = self.rt.scripts.renew(
            stage=runner.stage.name, group=runner.group, consumer=self.rt.consumer, ids=ids
        )
        try:
            _, taken = await self.rt.scripts.call(call)
        except RedisError as exc:  # a later renewal tries again; the entries stay ours
            await self.backoff.failed(exc)
            return set()
        self.backoff.succeeded()
        lost = {t.decode() for t in taken}
        if lost:
            runner.metrics.leases_lost.inc(len(lost))
            runner.log.warning("leases_lost", message_ids=sorted(lost)[:20], count=len(lost))
        return lost
