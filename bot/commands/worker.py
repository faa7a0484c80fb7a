"""`guardrail worker`: worker processes only, for extra machines (next to a GPU) on a shared Redis queue.

    guardrail worker [--workers N] [--queue redis://host:6379/0] [--app-id ID --app-private-key FILE] [...]

Same settings as `guardrail serve` (the webhook secret is not needed here). Each worker takes a job, gets an
installation token, fetches the PR, runs the Action's pipeline and reporters. Stop with Ctrl-C or SIGTERM: running
jobs finish first (SIGINT twice, or SIGTERM, stops at once; those jobs run again elsewhere when their lease ends).
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from bot.commands.serve import add_settings_flags, flags_of
from bot.errors import ConfigError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run GitHub App workers only (extra machines on a Redis queue)",
        description=(
            "Run GitHub App workers only, for extra machines (next to a GPU, say) that take jobs from a shared Redis "
            "queue. The settings are those of `serve`, without the webhook secret."
        ),
    )
    add_settings_flags(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of `guardrail worker`."""
    from bot.server.settings import settings_from, weaknesses

    settings = settings_from(os.environ, flags_of(args), need_secret=False)
    if settings.workers < 1:
        raise ConfigError("a worker machine needs at least one worker process", where="GUARDRAIL_WORKERS (--workers)")
    from bot.server import logs, runtime

    logs.configure()
    for line in weaknesses(settings, flags_of(args), secret=False):
        logging.getLogger("guardrail.server.settings").warning("%s", line)
    runtime.run_consumer(settings)
    return 0
