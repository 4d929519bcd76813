"""Celery with its Redis broker (kombu's Redis transport): no-op tasks s1 → s2 → s3.

Settings, and why they are the recommended ones for short I/O-light tasks:

- ``worker_prefetch_multiplier=64``: Celery's optimizing guide says that with
  "lots of short tasks" the multiplier should be large ("say 64, or 128"),
  since the default 4 leaves the worker waiting on the broker between tasks
  (https://docs.celeryq.dev/en/stable/userguide/optimizing.html#prefetch-limits).
- ``task_acks_late=True``: the message is acknowledged after the task ran, the
  at-least-once delivery streamproc and every other peer here give; Celery's
  default acknowledges before running and loses the task if the worker dies.
- ``task_ignore_result=True`` and no result backend: nothing reads results.
- The default ``prefork`` pool, which Celery recommends "for most users"
  (https://docs.celeryq.dev/en/stable/userguide/concurrency/index.html), with
  ``--concurrency 1``: one process runs the tasks (the main process only
  talks to the broker and feeds it).
- ``--loglevel WARNING``: at INFO the worker logs two lines per task, which
  would be most of what is measured here.

B is a ``chain(s1.s(doc), s2.s(), s3.s())``, Celery's idiom for a pipeline:
each task's return value is the next one's argument, and the worker sends the
next message when a task succeeds.
"""

from __future__ import annotations

from collections.abc import Sequence

from celery import Celery, chain  # type: ignore[import-untyped]

from bench.peers.marks import SyncMarks
from bench.peers.run import PAYLOAD_TEXT, RunSpec, peer_main, script

spec = RunSpec.from_env()
marks = SyncMarks(spec)

app = Celery("peerbench", broker=spec.kombu_url(), set_as_current=True)
app.conf.update(
    worker_prefetch_multiplier=64,
    task_acks_late=True,
    task_ignore_result=True,
    result_backend=None,
    broker_connection_retry_on_startup=True,
)


@app.task(name="s1")  # type: ignore[untyped-decorator]
def s1(doc: str) -> str | None:
    """First stage."""
    return marks.stage(1, doc)


@app.task(name="s2")  # type: ignore[untyped-decorator]
def s2(doc: str) -> str | None:
    """Second stage."""
    return marks.stage(2, doc)


@app.task(name="s3")  # type: ignore[untyped-decorator]
def s3(doc: str) -> str | None:
    """Third stage."""
    return marks.stage(3, doc)


def enqueue(spec: RunSpec) -> None:
    """Publish N messages (or N chains) over one producer connection."""
    with app.producer_or_acquire() as producer:
        for _ in range(spec.n):
            if spec.stages == 1:
                s1.apply_async((PAYLOAD_TEXT,), producer=producer)
            else:
                chain(s1.s(PAYLOAD_TEXT), s2.s(), s3.s()).apply_async(producer=producer)


def worker(spec: RunSpec) -> Sequence[str]:
    """One worker, one pool process."""
    return [
        script("celery"),
        "--app=bench.peers.celery_peer",
        "worker",
        "--pool=prefork",
        "--concurrency=1",
        "--loglevel=WARNING",
    ]


if __name__ == "__main__":
    peer_main(enqueue, worker)
