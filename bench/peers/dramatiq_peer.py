"""dramatiq with its Redis broker: no-op actors s1 → s2 → s3.

Settings, and why they are the recommended ones for short I/O-light tasks:

- ``--processes 1 --threads 8``: one worker process (the benchmark's rule)
  with dramatiq's default of 8 worker threads (``dramatiq --help``), its
  concurrency within a process: the actors here wait on Redis, not the CPU.
- dramatiq's defaults otherwise: the Redis broker prefetches twice the thread
  count per queue (``dramatiq_queue_prefetch``), acknowledges a message after
  its actor returns, keeps no results (no Results middleware) and runs its
  default middleware (age and time limits, retries, callbacks, pipelines).

B is a ``dramatiq.pipeline`` of the three actors, dramatiq's idiom for a
chain: each actor's return value is appended to the next message's
arguments, and the worker enqueues it when the actor succeeds.
"""

from __future__ import annotations

from collections.abc import Sequence

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from bench.peers.marks import SyncMarks
from bench.peers.run import PAYLOAD_TEXT, RunSpec, peer_main, script

spec = RunSpec.from_env()
marks = SyncMarks(spec)

broker = RedisBroker(url=spec.url)  # type: ignore[no-untyped-call]
dramatiq.set_broker(broker)


@dramatiq.actor(actor_name="s1")
def s1(doc: str) -> str | None:
    """First stage."""
    return marks.stage(1, doc)


@dramatiq.actor(actor_name="s2")
def s2(doc: str) -> str | None:
    """Second stage."""
    return marks.stage(2, doc)


@dramatiq.actor(actor_name="s3")
def s3(doc: str) -> str | None:
    """Third stage."""
    return marks.stage(3, doc)


def enqueue(spec: RunSpec) -> None:
    """Send N messages (or N pipelines); the broker has no bulk enqueue."""
    for _ in range(spec.n):
        if spec.stages == 1:
            s1.send(PAYLOAD_TEXT)
        else:
            # The pipeline appends each actor's result to the next message's arguments.
            stages = [s1.message(PAYLOAD_TEXT), s2.message(), s3.message()]  # type: ignore[call-arg]
            dramatiq.pipeline(stages).run()  # type: ignore[no-untyped-call]


def worker(spec: RunSpec) -> Sequence[str]:
    """One worker process with dramatiq's default thread count."""
    return [script("dramatiq"), "bench.peers.dramatiq_peer", "--processes=1", "--threads=8"]


if __name__ == "__main__":
    peer_main(enqueue, worker)
