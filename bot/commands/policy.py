"""`guardrail policy`: explain which models a repository gets, check the policy files, print their JSON Schemas.

    guardrail policy explain --admin-policy FILE --repo PATH --repo-name owner/name --purpose patch [--base REV]
    guardrail policy check [--admin-policy FILE] [--repo PATH --base REV | --repo-config FILE] [--repo-name N]
    guardrail policy schema [--which admin|repo] [--out DIR]

The repository's config is read from the base revision (default HEAD), never from the working tree: what a pull
request changes there does not apply to itself.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Literal

from bot.config import REPO_CONFIG_PATH, RepoConfig
from bot.errors import ConfigError
from bot.identity import RepoIdentity, repo_identity, repo_name_flag
from bot.policy import (
    SCHEMA_FILES,
    AdminPolicy,
    admin_policy_problems,
    admin_policy_source,
    check_repo_against,
    default_admin_policy,
    explain,
    explain_json,
    load_admin_policy,
    load_repo_config_with_lines,
    repo_config_problems,
    resolve,
    schema_text,
)
from bot.policy_problems import Lines, Problem
from bot.types import PURPOSES
from bot.yaml_text import read_config_file
from checks import worktree


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "policy",
        help="explain and check the model policy",
        description=(
            "Explain which models a repository gets, check the policy files, or print their JSON Schemas. The "
            "repository's config is read at the base revision, never from the working tree."
        ),
    )
    parser.set_defaults(run=run)
    sub = parser.add_subparsers(dest="policy_command", metavar="ACTION", required=True)

    explain_parser = sub.add_parser(
        "explain",
        help="the ordered candidate models for a repository and purpose",
        description="Print the models that would be asked for a repository and purpose, in order, and every model "
        "left out with the reason.",
    )
    _source_args(explain_parser)
    explain_parser.add_argument("--purpose", required=True, choices=PURPOSES)
    explain_parser.add_argument("--json", action="store_true", help="print JSON instead of text")

    check_parser = sub.add_parser(
        "check",
        help="validate the admin policy and the repository config",
        description="Validate the admin policy and the repository config, and list every problem with its file, "
        "line and key. Exit status: 0 valid, 2 problems found.",
    )
    _source_args(check_parser)

    schema_parser = sub.add_parser(
        "schema",
        help="print or write the JSON Schemas of both files",
        description="Print one JSON Schema (--which), or write both into a directory (--out), for editors and CI.",
    )
    schema_parser.add_argument("--which", choices=("admin", "repo"), help="one schema (default: both, needs --out)")
    schema_parser.add_argument("--out", type=Path, metavar="DIR", help=f"write {', '.join(SCHEMA_FILES.values())}")


def _source_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--admin-policy", type=Path, metavar="FILE", help="default: $GUARDRAIL_ADMIN_POLICY, else the embedded policy"
    )
    parser.add_argument("--repo", type=Path, metavar="PATH", help="git repository whose config to read (default: .)")
    parser.add_argument("--base", default=None, metavar="REV", help="revision to read the config from (default: HEAD)")
    parser.add_argument("--repo-config", type=Path, metavar="FILE", help="a config file instead of --repo/--base")
    parser.add_argument(
        "--repo-name",
        type=repo_name_flag,
        metavar="OWNER/NAME",
        help="selects the admin policy's repos entry (default: from the origin remote of --repo)",
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of `guardrail policy ...`."""
    command: str = args.policy_command
    if command == "explain":
        return _explain(args)
    if command == "check":
        return _check(args)
    return _schema(args)


# --- reading the repository's config ---------------------------------------------------------------------------


def _repo_config_source(args: argparse.Namespace) -> tuple[str | None, str] | None:
    """(text or None when absent, where) of the repository config the flags name; None when they name none."""
    if args.repo_config is not None:
        if args.repo is not None or args.base is not None:
            raise ConfigError("give either --repo-config or --repo/--base, not both", key="--repo-config")
        where = str(args.repo_config)
        return read_config_file(args.repo_config, where, "repository config"), where
    if args.repo is None and args.base is None and args.policy_command == "check":
        return None
    repo: Path = args.repo or Path(".")
    base: str = args.base or "HEAD"
    return worktree.read_file_at(repo, base, REPO_CONFIG_PATH), f"{base}:{REPO_CONFIG_PATH}"


# --- the three actions -----------------------------------------------------------------------------------------


def _explain(args: argparse.Namespace) -> int:
    admin = load_admin_policy(args.admin_policy, os.environ)
    source = _repo_config_source(args)
    assert source is not None  # explain always reads one (default: HEAD of .)
    text, where = source
    config, lines = load_repo_config_with_lines(text, where)
    identity = (
        repo_identity(args.repo or Path("."), args.repo_name)
        if args.repo_config is None
        else RepoIdentity(args.repo_name, "--repo-name")
    )
    repo_name = identity.name
    resolution = resolve(
        admin,
        config,
        repo_name,
        args.purpose,
        repo_config_where=where,
        repo_config_lines=lines,
        unknown_because=identity.source if repo_name is None and args.repo_name else None,
    )
    if args.json:
        print(json.dumps(explain_json(resolution), indent=2))
    else:
        print(explain(resolution))
    return 0


def _check(args: argparse.Namespace) -> int:
    """Every problem of both files, each with file:line and key path; exit 2 if there is any."""
    admin_source = admin_policy_source(args.admin_policy, os.environ)
    admin: AdminPolicy | None = default_admin_policy()
    problems: list[Problem] = []
    if admin_source is not None:
        admin, problems = admin_policy_problems(*admin_source)
    source = _repo_config_source(args)
    if source is not None:
        config: RepoConfig | None
        lines: Lines
        config, lines, repo_problems = repo_config_problems(*source)
        problems += repo_problems
        if admin is not None and config is not None:
            problems += check_repo_against(admin, config, args.repo_name, source[1], lines)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"guardrail: {len(problems)} problem(s) in the policy files", file=sys.stderr)
        return 2
    print("ok")
    return 0


def _schema(args: argparse.Namespace) -> int:
    chosen: list[Literal["admin", "repo"]] = [args.which] if args.which else ["admin", "repo"]
    if args.out is None:
        if len(chosen) > 1:
            raise ConfigError("give --which admin|repo to print one schema, or --out DIR to write both", key="--which")
        sys.stdout.write(schema_text(chosen[0]))
        return 0
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file; give a directory to write the schema files into", key="--out")
    try:
        out.mkdir(parents=True, exist_ok=True)
        for which in chosen:
            target = out / SCHEMA_FILES[which]
            target.write_text(schema_text(which), encoding="utf-8")
            print(f"wrote {target}")
    except OSError as exc:
        raise ConfigError(f"cannot write into {out} ({exc.strerror}); give a writable directory", key="--out") from exc
    return 0
