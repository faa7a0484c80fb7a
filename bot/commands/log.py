"""`guardrail log`: the audit log's latest runs, each with its attempts, newest first.

guardrail log [--json] [--replies] [--limit N] [--audit-db FILE]
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bot.audit import ENV_VAR as AUDIT_ENV
from bot.audit import AttemptRecord, AuditLog, RunRecord, default_path
from bot.errors import ConfigError
from bot.reporters.replies import reply_blocks

MAX_LIMIT = 1_000_000


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "log",
        help="list recent runs and their attempts from the audit log",
        description=(
            "List the latest runs recorded in the audit log, newest first: the models the policy offered, each "
            "model's attempt, its gates and why it lost."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print the runs as JSON (with every reply)")
    parser.add_argument("--replies", action="store_true", help="also print each model's raw replies")
    parser.add_argument("--limit", type=int, default=20, metavar="N", help="how many runs (default: 20)")
    parser.add_argument(
        "--audit-db", type=Path, metavar="FILE", help=f"audit log (default: ${AUDIT_ENV}, else the state directory)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of `guardrail log`."""
    if not 1 <= args.limit <= MAX_LIMIT:
        raise ConfigError(f"must be between 1 and {MAX_LIMIT:,}", key="--limit")
    path: Path = args.audit_db or default_path(os.environ)
    if not path.exists():
        raise ConfigError("no audit log here yet; run `guardrail review` first or pass --audit-db", where=str(path))
    log = AuditLog(path)
    runs = [(run, log.attempts(run.id)) for run in log.runs(args.limit)]
    if args.json:
        data = [{**asdict(run), "attempts": [asdict(a) for a in attempts]} for run, attempts in runs]
        print(json.dumps(data, indent=2))
    else:
        texts = [_text(run, attempts, replies=args.replies) for run, attempts in runs]
        print("\n\n".join(texts) if runs else "(no runs recorded)")
    return 0


def _text(run: RunRecord, attempts: list[AttemptRecord], *, replies: bool = False) -> str:
    result = f"posted by {run.winner}" if run.posted else "nothing posted"
    lines = [
        f"run {run.id}  {run.started_at}  {run.repo or run.repo_path}  {run.purpose}  head {run.head[:12]}: {result}",
        f"  policy: local_only={run.local_only} cloud_allowed={run.cloud_allowed}; candidates: "
        + (", ".join(f"{c['model']} ({c['location']})" for c in run.candidates) or "none"),
    ]
    lines += [f"  excluded: {e['model']}: {e['reason']}" for e in run.excluded]
    for attempt in attempts:
        why = f": {attempt.reason}" if attempt.reason else ""
        gates = ", ".join(f"{g['name']} {g['status']}" for g in attempt.gates)
        lines.append(
            f"  {attempt.seq + 1}. {attempt.model} ({attempt.backend}, {attempt.location}) {attempt.status}{why}"
            f" [{attempt.seconds:.1f} s, {attempt.tokens} tokens" + (f"; gates: {gates}]" if gates else "]")
        )
        if replies:
            lines += reply_blocks(attempt.model, attempt.replies, indent="     ")
    lines += [f"  note: {note}" for note in run.notes]
    return "\n".join(lines)
