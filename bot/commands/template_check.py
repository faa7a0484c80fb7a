"""`guardrail template-check`: each model's chat template, rendering, tokenization and replies, checked on its runtime.

    guardrail template-check --model NAME [--model NAME ...] [--admin-policy FILE] [--quick] [--json]

Exit 0 when nothing failed (warnings allowed), 1 on a failure, 2 on a usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import httpx

from bot.errors import ConfigError
from bot.policy import load_admin_policy
from bot.templates.check.detect import open_subject
from bot.templates.check.findings import CHECK_NAMES, QUICK, Subject
from bot.templates.check.report import json_report, text_report
from bot.templates.check.run import run_checks


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "template-check",
        help="check each model's chat template on the runtime that serves it (and across runtimes)",
        description=(
            "Check each model's chat template on the runtime that serves it, and across runtimes: rendering, "
            "special tokens, stop probes, raw against chat, greedy replies, context. Exit status: 0 clean, 1 a "
            "failure, 2 bad input."
        ),
    )
    parser.add_argument(
        "--model", action="append", required=True, metavar="NAME", help="a model of the admin policy; repeatable"
    )
    parser.add_argument(
        "--admin-policy", type=Path, metavar="FILE", help="default: $GUARDRAIL_ADMIN_POLICY, else the embedded policy"
    )
    parser.add_argument("--quick", action="store_true", help="only checks 1-3 (no generation)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of `guardrail template-check`."""
    admin = load_admin_policy(args.admin_policy, os.environ)
    names: list[str] = args.model
    unknown = [n for n in names if n not in admin.models]
    if unknown:
        known = ", ".join(sorted(admin.models)) or "none"
        raise ConfigError(f"unknown model {unknown[0]!r}; the admin policy defines: {known}", key="--model")
    if len(set(names)) != len(names):
        raise ConfigError("a model is named twice", key="--model")
    with httpx.Client(trust_env=False) as client:  # runtimes are local: no proxy from the environment
        subjects: list[Subject] = [open_subject(admin.models[n].spec(n), os.environ, client) for n in names]
        try:
            results = run_checks(subjects, QUICK if args.quick else tuple(CHECK_NAMES))
        finally:
            for subject in subjects:
                subject.runtime.close()
    if args.json:
        print(json.dumps(json_report(results), indent=2, ensure_ascii=False))
    else:
        print(text_report(results))
    return 1 if any(r.failed for r in results) else 0
