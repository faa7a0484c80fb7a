"""`guardrail action`: the GitHub Action's entry point (``action.yml`` runs it); reads what GitHub sets.

    guardrail action                                  compute, post, write the job summary and outputs
    guardrail action --no-post --outcome-out FILE     compute and save the Outcome (fork-safe pull_request half)
    guardrail action --post-outcome FILE              post a saved Outcome (fork-safe workflow_run half)

Inputs come as environment variables (see ``bot.github.action_settings``). Exit 0 when done, 1 when ``fail-on``
says the verdict fails the step, 2 for a misconfiguration (the message names the input or file).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.github import action
from bot.github.action_settings import settings_from_env


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "action",
        help="run as the GitHub Action: review the PR of the triggering event and post the results",
        description=(
            "Run as the GitHub Action: review the pull request of the triggering event and post the results. Reads "
            "what GitHub sets (GITHUB_EVENT_PATH, GITHUB_REPOSITORY, ...) and the Action's inputs. Exit status: 0 "
            "done, 1 when fail-on says the verdict fails the step, 2 bad configuration."
        ),
    )
    parser.add_argument("--no-post", action="store_true", help="compute only: post nothing on GitHub")
    parser.add_argument("--outcome-out", type=Path, metavar="FILE", help="save the Outcome as JSON (an artifact)")
    parser.add_argument(
        "--post-outcome", type=Path, metavar="FILE", help="post a saved Outcome instead of computing one"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of `guardrail action`."""
    if args.post_outcome is not None and (args.no_post or args.outcome_out is not None):
        raise ConfigError("--post-outcome posts a saved outcome; it cannot be combined with --no-post/--outcome-out")
    settings = settings_from_env(os.environ)
    return action.run(settings, post=not args.no_post, outcome_out=args.outcome_out, post_outcome=args.post_outcome)
