"""A stage's consumer group: created where it is safe, and recreated where it stood.

A group that disappears (``XGROUP DESTROY``, a deleted stream, a failover that
lost it) takes its pending entries list with it, so its consumers can no longer
tell what was in flight anywhere. Recreating it after one worker's own last read
drops the entries other workers hold (their handoffs find nothing to
acknowledge, and nothing is forwarded); recreating it at ``0`` replays the
stream's whole history into the next stage.

So every worker checkpoints each group it reads, in one hash per prefix: the
oldest entry any consumer of the group still holds, or with nothing pending the
group's last delivered id. Whatever is in flight at any later moment was either
pending at the checkpoint (so not older than that entry) or delivered after it
(so newer than the last delivered id). A group is (re)created just before the
checkpoint: everything that could have been in flight is delivered again, and
at most one checkpoint interval of finished entries is handled twice, which the
handoff's acknowledgement check and the idempotent stage writes absorb. With no
checkpoint at all the stream's whole content is new to the group, so it starts
at ``0``.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from streamproc import ids
from streamproc.connections import text
from streamproc.errors import ConfigurationError
from streamproc.keys import Keys
from streamproc.trim import GroupMark, group_marks


class GroupKeeper:
    """Creates, checkpoints and recreates the consumer ``group`` of ``stream``.

    A side group (``side``) is never created here: one made at ``0`` would re-run
    everything the stream holds, so it is created where it should start by
    ``streamproc replay STAGE --group NAME --from TIME``. Once it has a checkpoint,
    a side group deleted under running workers is recreated like any other.
    """

    def __init__(
        self, redis: Redis, keys: Keys, stage: str, group: str, *, log: Any = None
    ) -> None:
        self.redis, self.stage, self.group = redis, stage, group
        self.stream = keys.stream(stage)
        self.side = group != stage
        self.key = keys.group_checkpoints
        self.field = f"{self.stream}\n{group}"
        self.log = log

    async def ensure(self) -> str | None:
        """Make sure the group exists; returns where it was created, or None if it existed.
        Raises ConfigurationError for a side group that does not exist."""
        if self.side:
            if not await self.exists():
                raise ConfigurationError(
                    f"stage {self.stage!r} has no consumer group {self.group!r}; create it "
                    f"where it should start with `streamproc replay {self.stage} --group "
                    f"{self.group} --from TIME`"
                )
            return None
        return await self._create(await self._checkpointed() or "0")

    async def recover(self, exc: BaseException) -> bool:
        """If ``exc`` says the group is missing, recreate it (see :meth:`recreate`); True
        when it exists again and the failed command may be sent again at once. Every part
        of a runner meeting NOGROUP comes here; a Redis failure meanwhile is just False."""
        if not (isinstance(exc, ResponseError) and "NOGROUP" in str(exc)):
            return False
        try:
            return await self.recreate()
        except RedisError:
            return False

    async def recreate(self) -> bool:
        """The group vanished while workers read it: create it again just before its
        checkpoint. False for a side group that was never checkpointed (left to the
        operator: see :meth:`ensure`)."""
        checkpoint = await self._checkpointed()
        if checkpoint is None and self.side:
            return False
        start = checkpoint or "0"
        created = await self._create(start)
        if created is not None and self.log is not None:
            self.log.warning("group_missing_recreated", group=self.group, start=start)
        return True

    async def exists(self) -> bool:
        """Whether the stream has this group."""
        try:
            groups = await self.redis.xinfo_groups(self.stream)
        except ResponseError:
            return False  # no stream yet
        return any(text(g["name"]) == self.group for g in groups)

    async def _create(self, start: str) -> str | None:
        try:
            await self.redis.xgroup_create(self.stream, self.group, id=start, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
            return None
        return start

    async def _checkpointed(self) -> str | None:
        checkpoint = await self.redis.hget(self.key, self.field)
        return None if checkpoint is None else text(checkpoint)

    async def checkpoint(self) -> str | None:
        """Record where the group could be recreated now; None if it does not exist.
        The trimmer's reading of each group (:func:`~streamproc.trim.group_marks`) says it:
        it reads the last delivered id before the oldest pending one, which is the order
        the module's text needs."""
        try:
            marks = await group_marks(self.redis, self.stream)
        except ResponseError:  # no stream yet
            return None
        mine = next((m for m in marks if m.name == self.group), None)
        if mine is None:
            return None
        point = restart_point(mine)
        await self.redis.hset(self.key, self.field, point)
        return point


def restart_point(mark: GroupMark) -> str:
    """The id to recreate a group at: before its oldest pending entry, else its last
    delivered id (``XGROUP CREATE`` delivers what comes after the id it is given)."""
    if mark.oldest_pending is None:
        return mark.last_delivered
    return ids.oldest([ids.before(mark.oldest_pending), mark.last_delivered])
