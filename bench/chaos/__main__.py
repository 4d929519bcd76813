"""``python -m bench.chaos``: one chaos run at ``make chaos`` size; exit 1 if a guarantee broke."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
from pathlib import Path

from bench.chaos import ChaosConfig, run_chaos

#: ``make chaos``: a few hundred documents (a hundred thousand messages with --noop)
#: over a few minutes of disruptions.
DOCUMENTS = {False: 300, True: 100_000}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="python -m bench.chaos",
        description=(__doc__ or "").strip(),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--documents", type=int, help="documents (messages with --noop) in all")
    p.add_argument("--workers", type=int, default=4, help="worker processes")
    p.add_argument("--duration", type=float, default=180.0, help="seconds of disruptions")
    p.add_argument("--seed", type=int, default=1, help="seed of the timeline")
    p.add_argument("--batches", type=int, default=30, help="batches, submitted over the run")
    p.add_argument("--noop", action="store_true", help="probe stages, no PostgreSQL")
    p.add_argument("--kills", type=int, help="SIGKILLs (default: one per 20 s)")
    p.add_argument("--stops", type=int, default=2, help="SIGSTOPs past the visibility timeout")
    p.add_argument("--redis-restarts", type=int, default=3)
    p.add_argument("--postgres-restarts", type=int, default=3)
    p.add_argument("--bad", type=int, default=6, help="documents made unreadable on purpose")
    p.add_argument("--scanned", type=int, default=10, help="image-only documents (tesseract)")
    p.add_argument("--visibility-timeout", type=float, default=3.0)
    p.add_argument("--stop-seconds", type=float, default=8.0, help="the least a stop lasts")
    p.add_argument("--timeout", type=float, default=900.0, help="wait for the batches this long")
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument("--keep", action="store_true", help="keep the run's files (kept on failure)")
    return p.parse_args(argv)


def config_of(args: argparse.Namespace) -> ChaosConfig:
    """The run the arguments describe."""
    return ChaosConfig(
        documents=args.documents or DOCUMENTS[args.noop],
        workers=args.workers,
        duration=args.duration,
        seed=args.seed,
        batches=args.batches,
        noop=args.noop,
        kills=args.kills if args.kills is not None else max(1, int(args.duration // 20)),
        stops=args.stops,
        redis_restarts=args.redis_restarts,
        postgres_restarts=args.postgres_restarts,
        bad=0 if args.noop else args.bad,
        scanned=0 if args.noop else args.scanned,
        visibility_timeout=args.visibility_timeout,
        stop_seconds=args.stop_seconds,
        timeout=args.timeout,
    )


def main(argv: list[str] | None = None) -> int:
    """Run, print the table, save the JSON; 0 when every guarantee held."""
    args = parse(argv)
    try:
        config = config_of(args)
    except ValueError as exc:
        sys.stderr.write(f"python -m bench.chaos: {exc}\n")
        return 2
    root = Path(tempfile.mkdtemp(prefix="streamproc-chaos-"))
    print(f"chaos run in {root}", flush=True)
    report = asyncio.run(run_chaos(config, root, say=lambda line: print(line, flush=True)))
    print(report.table())
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    if report.ok and not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"files of the run (worker logs under logs/): {root}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
