"""``streamproc trim``: apply the retention to every stream now."""

from __future__ import annotations

import json

import click

from streamproc.cli.common import PIPELINE_HELP, run_async, settings_from
from streamproc.connections import RedisTimeouts, connect_redis, redis_url
from streamproc.keys import Keys
from streamproc.stage import load_pipeline
from streamproc.trim import TrimPlan
from streamproc.trim import trim as trim_streams


@click.command()
@click.option("--dry-run", is_flag=True, help="Show the trim points and counts; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
@click.option("--pipeline", "pipeline_spec", help=PIPELINE_HELP)
def trim(dry_run: bool, as_json: bool, pipeline_spec: str | None) -> None:
    """Trim stage, dead-letter and event streams older than STREAMPROC_RETENTION.

    Streams are trimmed by age (XTRIM MINID), never past an entry a consumer
    group has not been delivered yet or has not acknowledged. `streamproc run`
    does this every STREAMPROC_TRIM_INTERVAL seconds on its own.
    """
    settings = settings_from(pipeline=pipeline_spec)
    stages = [s.name for s in load_pipeline(settings.pipeline).stages]

    async def main() -> list[TrimPlan]:
        redis = connect_redis(redis_url(settings), RedisTimeouts.from_settings(settings))
        try:
            keys = Keys(settings.prefix)
            return await trim_streams(redis, keys, stages, settings.retention, dry_run=dry_run)
        finally:
            await redis.aclose()

    plans = run_async(main())
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, "streams": [p.as_dict() for p in plans]}))
        return
    verb = "would remove" if dry_run else "removed"
    for p in plans:
        if p.untouched:
            click.echo(f"{p.stream}: not trimmed, {p.untouched}")
            continue
        held = f" (held back by group {p.held_by})" if p.held_by else ""
        click.echo(f"{p.stream}: trim point {p.trim_point}{held}, {verb} {p.removed}")
