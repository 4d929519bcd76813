"""The ``streamproc`` command line.

Engine commands live here; a pipeline adds its own commands (``submit``,
``status``, ...) through ``Pipeline.commands``, loaded lazily so that
``streamproc --help`` stays fast and works without a pipeline installed.
"""

from __future__ import annotations

import sys

import click
from redis.exceptions import AuthenticationError, AuthorizationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from streamproc.cli.batches import batches
from streamproc.cli.common import LOGGING_COMMANDS, fail_cleanly
from streamproc.cli.dlq import dlq
from streamproc.cli.engine import run, streams, worker
from streamproc.cli.replay import replay, reprocess, trace
from streamproc.cli.retention import trim
from streamproc.connections import refused_credentials
from streamproc.errors import ConfigurationError, ExitCode, RetryableError, StreamprocError


class _Main(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except RetryableError as exc:  # a server that may come back: worth another start
            fail_cleanly(exc, ExitCode.UNAVAILABLE, in_log=_in_log(ctx))
        except StreamprocError as exc:
            fail_cleanly(exc, in_log=_in_log(ctx))
        except (AuthenticationError, AuthorizationError) as exc:
            fail_cleanly(refused_credentials(exc), in_log=_in_log(ctx))
        except (RedisConnectionError, RedisTimeoutError) as exc:
            unreachable = f"cannot reach Redis ({exc}): is REDIS_URL right and is it up?"
            fail_cleanly(ConfigurationError(unreachable), ExitCode.UNAVAILABLE, in_log=_in_log(ctx))


def _in_log(ctx: click.Context) -> bool:
    # Known only once the group has resolved the subcommand, inside invoke.
    return ctx.invoked_subcommand in LOGGING_COMMANDS


@click.group(
    cls=_Main, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(package_name="streamproc")
def main() -> None:
    """streamproc: a Redis Streams pipeline for legal documents.

    Configuration comes from the environment: REDIS_URL and DATABASE_URL name
    the servers (when unset, embedded ones are started under
    STREAMPROC_DATA_DIR), and STREAMPROC_* variables set everything else
    (STREAMPROC_PIPELINE, STREAMPROC_PREFIX, STREAMPROC_VISIBILITY_TIMEOUT, ...).
    """


main.add_command(worker)
main.add_command(run)
main.add_command(streams)
main.add_command(dlq)
main.add_command(replay)
main.add_command(reprocess)
main.add_command(trace)
main.add_command(trim)
main.add_command(batches)


def _add_pipeline_commands() -> None:
    try:
        from consumers.commands import COMMANDS  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return
    for command in COMMANDS:
        main.add_command(command)


_add_pipeline_commands()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
