"""`guardrail review`: run the whole flow on a local git repository and print what would be posted on the PR.

    guardrail review --repo PATH --base REV --head REV [--purpose review|patch] [--admin-policy FILE]
                     [--repo-name owner/name] [--json] [--show-replies] [--audit-db FILE]

The policy is the admin's file (or $GUARDRAIL_ADMIN_POLICY, or the embedded default: the local SmolLM2 model),
narrowed by ``.github/guardrail.yml`` read at the BASE revision, never the head: a pull request cannot grant itself
a model, switch a gate off or allow the cloud. Exit 0 whether or not a suggestion would be posted (the output says
which and why); 2 for a usage or configuration error, in which case no model is asked.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from bot import pipeline
from bot.audit import ENV_VAR as AUDIT_ENV
from bot.audit import AuditLog, default_path
from bot.config import REPO_CONFIG_PATH
from bot.errors import ConfigError
from bot.github.action_settings import DEFAULT_MAX_INLINE
from bot.identity import repo_identity, repo_name_flag
from bot.models.base import ChatModel
from bot.models.registry import create_model
from bot.policy import load_admin_policy, load_repo_config_with_lines, resolve
from bot.reporters import json_out, terminal
from bot.reporters.replies import render_replies
from bot.reporters.suggestions import plan_review
from bot.router import Progress
from bot.types import PURPOSES, ModelSpec, PullRequest, Purpose
from checks import proc, worktree


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "review",
        help="ask the policy's models about a local PR (base..head) and show what would be posted",
        description=(
            "Ask the models the policy allows about a local pull request (the changes from --base to --head), run "
            "the gates on their suggestions, and print what would be posted. Nothing is posted anywhere. Exit "
            "status: 0 done (whether or not a suggestion passed), 2 bad input."
        ),
    )
    parser.add_argument("--repo", type=Path, default=Path("."), metavar="PATH", help="git repository (default: .)")
    parser.add_argument("--base", required=True, metavar="REV", help="the PR's base revision (its config is used)")
    parser.add_argument("--head", required=True, metavar="REV", help="the PR's head revision")
    parser.add_argument("--purpose", choices=PURPOSES, default="review", help="review comments or a patch")
    parser.add_argument(
        "--admin-policy", type=Path, metavar="FILE", help="default: $GUARDRAIL_ADMIN_POLICY, else the embedded model"
    )
    parser.add_argument(
        "--repo-name",
        type=repo_name_flag,
        metavar="OWNER/NAME",
        help="selects the admin policy's repos entry (default: from the origin remote)",
    )
    parser.add_argument("--title", default=None, help="the PR's title (default: the head commit's subject)")
    parser.add_argument("--body", default=None, help="the PR's description (default: the head commit's body)")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    parser.add_argument(
        "--audit-db", type=Path, metavar="FILE", help=f"audit log (default: ${AUDIT_ENV}, else the state directory)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument(
        "--show-replies", action="store_true", help="also print each model's raw reply (with --json: in each attempt)"
    )
    parser.set_defaults(run=run)


def _progress(quiet: bool) -> Progress:
    def say(message: str) -> None:
        if not quiet:
            print(f"guardrail: {message}", file=sys.stderr, flush=True)

    return say


def run(args: argparse.Namespace) -> int:
    """Entry point of `guardrail review`."""
    env = os.environ
    repo: Path = args.repo.resolve()
    purpose: Purpose = args.purpose
    admin = load_admin_policy(args.admin_policy, env)
    base_sha = worktree.resolve(repo, args.base)
    head_sha = worktree.resolve(repo, args.head)
    where = f"{args.base}:{REPO_CONFIG_PATH}"
    repo_config, lines = load_repo_config_with_lines(worktree.read_file_at(repo, base_sha, REPO_CONFIG_PATH), where)
    identity = repo_identity(repo, args.repo_name)
    repo_name = identity.name
    resolution = resolve(
        admin,
        repo_config,
        repo_name,
        purpose,
        repo_config_where=where,
        repo_config_lines=lines,
        unknown_because=identity.source if repo_name is None and args.repo_name else None,
    )
    title, body = _title_and_body(repo, head_sha, args.title, args.body)
    pr = PullRequest(
        repo=repo,
        base=args.base,
        head=args.head,
        repo_name=repo_name,
        title=title,
        body=body,
        base_sha=base_sha,
        head_sha=head_sha,
    )

    def factory(spec: ModelSpec) -> ChatModel:
        return create_model(spec, env=env)

    outcome = pipeline.run(
        pr,
        purpose,
        resolution=resolution,
        gate_settings=repo_config.gates.settings(admin.gates.ceiling()),
        model_factory=factory,
        audit=AuditLog(args.audit_db or default_path(env)),
        progress=_progress(args.quiet),
    )
    if args.json:
        posted = outcome.suggestion if outcome.winner else None
        plan = plan_review(posted, worktree.diff(repo, base_sha, head_sha), head_sha, DEFAULT_MAX_INLINE)
        print(json_out.render(outcome, plan, replies=args.show_replies))
    else:
        print(terminal.render(outcome), end="")
        if args.show_replies:
            print("\nThe models' raw replies:\n" + (render_replies(outcome) or "(no model was asked)\n"), end="")
    return 0


def _title_and_body(repo: Path, head: str, title: str | None, body: str | None) -> tuple[str, str]:
    """The PR's title and body: given on the command line, else the head commit's message."""
    if title is not None and body is not None:
        return title, body
    # explicit options: a user's log.showSignature or color.ui cannot add text to what is parsed here
    argv = ["git", "-c", "log.showSignature=false", "log", "-1", "--no-color", "--no-show-signature", "--format=%B"]
    result = proc.run([*argv, head, "--"], cwd=repo, timeout=30, isolate_network=False)
    if not result.ok:
        raise ConfigError(f"cannot read the head commit's message: {result.describe()}: {result.stderr.strip()}")
    subject, _, message_body = result.stdout.strip().partition("\n")
    return (title if title is not None else subject), (body if body is not None else message_body.strip())
