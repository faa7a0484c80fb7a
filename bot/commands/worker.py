"""`guardrail worker`: worker processes only, for extra machines (next to a GPU) on a shared Redis queue.

    guardrail worker [--workers N] [--queue redis://host:6379/0] [--app-id ID --app-private-key FILE] [...]

Same settings as `guardrail serve` (the webhook secret is not needed here). Each worker takes a job, gets an
installation token, fetches the PR, runs the Action's pipeline and reporters. Stop with Ctrl-C or SIGTERM: running
jobs finish first (SIGINT twice, or SIGTERM, stops at once; those jobs run again elsewhere when their lease ends).
``--metrics-port`` serves this machine's workers' Prometheus metrics (job seconds, model attempts, gate failures,
the queue's depth) for a scraper. Started by `guardrail serve`, a worker stops when serve dies, even by ``kill -9``.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from bot.commands.serve import add_settings_flags, flags_of
from bot.errors import ConfigError
from bot.server import multiproc


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run GitHub App workers only (extra machines on a Redis queue)",
        description=(
            "Run GitHub App workers only, for extra machines (next to a GPU, say) that take jobs from a shared Redis "
            "queue. The settings are those of `serve`, without the webhook secret."
        ),
    )
    add_settings_flags(parser, secret=False)
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve this machine's workers' Prometheus metrics on http://HOST:PORT/metrics; $GUARDRAIL_METRICS_PORT",
    )
    parser.add_argument(
        "--metrics-host",
        default=None,
        metavar="HOST",
        help="address of the metrics endpoint (default 127.0.0.1); $GUARDRAIL_METRICS_HOST",
    )
    parser.set_defaults(run=run)


def _metrics_address(args: argparse.Namespace) -> tuple[str, int] | None:
    raw = args.metrics_port if args.metrics_port is not None else os.environ.get("GUARDRAIL_METRICS_PORT", "").strip()
    if raw in ("", None):
        return None
    where = "GUARDRAIL_METRICS_PORT (--metrics-port)"
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"{raw!r} is not a TCP port", where=where) from None
    if not 0 < port < 65536:
        raise ConfigError(f"{port} is not a TCP port", where=where)
    host = args.metrics_host or os.environ.get("GUARDRAIL_METRICS_HOST", "").strip() or "127.0.0.1"
    return host, port


def run(args: argparse.Namespace) -> int:
    """Entry point of `guardrail worker`."""
    from bot.server.settings import settings_from, weaknesses

    settings = settings_from(os.environ, flags_of(args), need_secret=False)
    if settings.workers < 1:
        raise ConfigError("a worker machine needs at least one worker process", where="GUARDRAIL_WORKERS (--workers)")
    metrics_at = _metrics_address(args)
    made_dir = multiproc.claim(metrics_at is not None)  # every worker process then counts into this folder
    from bot.server import logs, runtime

    started_by_serve = runtime.die_with_serve()

    logs.configure()
    for line in [] if started_by_serve else weaknesses(settings, flags_of(args), secret=False):  # serve said them
        logging.getLogger("guardrail.server.settings").warning("%s", line)
    try:
        runtime.run_consumer(settings, metrics_at=metrics_at, check_queue=not started_by_serve)
    finally:
        multiproc.release(made_dir)
    return 0
