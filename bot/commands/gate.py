"""`guardrail gate`: run the gates on one patch against a pull request's head, in a throwaway worktree.

    guardrail gate --repo PATH --base REV --head REV --patch FILE [--config FILE] [--admin-policy FILE] [--json]

The gates' configuration is ``.github/guardrail.yml`` read from the BASE revision (a pull request cannot switch its
own gates off); ``--config FILE`` replaces it. The admin policy's ``gates:`` maxima cap it (a value above a
maximum runs with the maximum, and a line on standard error says so). Exit 0 when the patch is accepted, 1 when it
is rejected, 2 on a usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from bot.audit import gate_to_dict
from bot.config import REPO_CONFIG_PATH, RepoConfig, load_file, load_repo_config
from bot.errors import ConfigError
from bot.policy_model import load_admin_policy
from bot.reporters.json_out import patch_fields
from bot.types import GateCeiling, GateResult, GateSettings, Verdict
from checks import worktree
from checks.engine import run_gates


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "gate",
        help="apply a patch to a PR head and run ruff, the tests and the configured commands on it",
        description=(
            "Apply a patch to a pull request's head in a throwaway worktree and run the gates on it: the patch "
            "applies, it touches no protected path, ruff finds nothing new in the files it touches, and the tests "
            "pass. The gate settings come from .github/guardrail.yml at the base revision, so a pull request "
            "cannot switch its own gates off. Exit status: 0 accepted, 1 rejected, 2 bad input."
        ),
    )
    parser.add_argument("--repo", required=True, type=Path, help="a git repository holding both revisions")
    parser.add_argument("--base", required=True, help="the pull request's base (its config is read from here)")
    parser.add_argument("--head", required=True, help="the pull request's head (the patch applies on top of it)")
    parser.add_argument("--patch", required=True, help="a unified diff against the head; '-' reads stdin")
    parser.add_argument("--config", type=Path, help=f"a config file that replaces {REPO_CONFIG_PATH} at the base")
    parser.add_argument(
        "--admin-policy",
        type=Path,
        metavar="FILE",
        help="its gates: maxima cap the config's timeouts and limits (default: $GUARDRAIL_ADMIN_POLICY, else built-in)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.set_defaults(run=run)


def _read_patch(source: str) -> bytes:
    """The patch's bytes as they are (CRLF line endings and non-UTF-8 bytes included)."""
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the patch ({exc.strerror}); check the path", where=source) from exc


def settings_for(repo: Path, base: str, config: Path | None, ceiling: GateCeiling) -> GateSettings:
    """The gate settings: ``config`` when given, else the base revision's ``.github/guardrail.yml`` (or defaults),
    within the admin's ``ceiling``."""
    if config is not None:
        return load_file(config, RepoConfig).gates.settings(ceiling)
    text = worktree.read_file_at(repo, base, REPO_CONFIG_PATH)
    return load_repo_config(text, where=f"{base}:{REPO_CONFIG_PATH}").gates.settings(ceiling)


def verdict_to_dict(verdict: Verdict) -> dict[str, Any]:
    """The ``--json`` shape: verdict, reason (first failing gate or null), every gate in order, and ``patch``: the
    effective change the gates checked (``git diff`` of the head against the patched tree; "" when it did not
    apply). When that change holds bytes that are not UTF-8, ``patch_base64`` has its exact bytes."""
    out: dict[str, Any] = {
        "verdict": verdict.verdict,
        "reason": verdict.reason,
        "gates": [gate_to_dict(g) for g in verdict.gates],
    }
    out.update(patch_fields(verdict.patch))
    return out


def _table_row(gate: GateResult) -> list[str]:
    rows = [f"{gate.name:<10} {gate.status:<8} {gate.seconds:>7.2f}s  {gate.summary}"]
    for finding in gate.findings:
        where = f"{finding.path}:{finding.line}" if finding.line else finding.path
        rows.append(f"{'':<10} {'':<8} {'':>8}  - {where} [{finding.rule}] {finding.message}")
    return rows


def render_table(verdict: Verdict) -> str:
    """A readable table: one line per gate, its findings indented under it, then the verdict."""
    lines = [f"{'gate':<10} {'status':<8} {'time':>8}  summary"]
    for gate in verdict.gates:
        lines.extend(_table_row(gate))
    reason = f" (first failing gate: {verdict.reason})" if verdict.reason else ""
    lines.append(f"verdict: {verdict.verdict}{reason}")
    return "\n".join(lines)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    # A cancelled CI job gets SIGTERM: turn it into KeyboardInterrupt so the worktrees are removed and the PR code's
    # processes killed on the way out, instead of Python dying on the spot and leaving them behind.
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace) -> int:
    repo: Path = args.repo
    patch = _read_patch(args.patch)
    ceiling = load_admin_policy(args.admin_policy, os.environ).gates.ceiling()
    settings = settings_for(repo, args.base, args.config, ceiling)
    for capped in settings.capped:
        print(f"guardrail: {capped.note()}", file=sys.stderr)
    with _sigterm_interrupts():
        verdict = run_gates(repo, args.base, args.head, patch, settings)
    print(json.dumps(verdict_to_dict(verdict), indent=2) if args.json else render_table(verdict))
    return {"accept": 0, "reject": 1, "error": 3}[verdict.verdict]
