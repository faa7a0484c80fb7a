"""`guardrail bakeoff`: every model on every task through the pull-request path; results.json, report.md, report.html.

    guardrail bakeoff --tasks DIR|humaneval[:N] --model NAME [--model NAME ...] [--admin-policy FILE]
                      [--repeat N] [--baseline PREVIOUS.json] [--raw] --out DIR

Models are named as in the admin policy (default: $GUARDRAIL_ADMIN_POLICY, else the embedded SmolLM2 model, called
``embedded``). Exit 0 when done, 1 when ``--baseline`` flags a regression, 2 for a usage or configuration error.
See docs/bakeoff.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bot.bakeoff import report, results, stats
from bot.bakeoff.runner import Progress, run_bakeoff
from bot.bakeoff.tasks import load_tasks
from bot.errors import ConfigError
from bot.models.base import ChatModel
from bot.models.registry import create_model
from bot.policy import load_admin_policy
from bot.types import ModelSpec


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bakeoff",
        help="compare models on a fixed task set through the same prompts, parser and gates as a pull request",
        description=(
            "Run every model on every task through the same prompts, parser and gates as a pull request, then the "
            "hidden checks no model sees; write results.json, report.md and report.html to --out. Exit status: 0 "
            "done, 1 a regression against --baseline, 2 bad input."
        ),
    )
    parser.add_argument("--tasks", required=True, metavar="DIR|humaneval[:N]", help="a task-set directory or HumanEval")
    parser.add_argument(
        "--model", action="append", required=True, metavar="NAME", help="a model of the admin policy; repeatable"
    )
    parser.add_argument(
        "--admin-policy", type=Path, metavar="FILE", help="default: $GUARDRAIL_ADMIN_POLICY, else the embedded model"
    )
    parser.add_argument("--repeat", type=int, default=1, metavar="N", help="run each task N times (measures noise)")
    parser.add_argument("--baseline", type=Path, metavar="JSON", help="an earlier results.json to compare with")
    parser.add_argument("--raw", action="store_true", help="also ask each model the plain problem (harness loss)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the results and reports go")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


class _Bar(Progress):
    def __init__(self, total: int, quiet: bool) -> None:
        self._bar = tqdm(total=total, unit="task", disable=quiet, file=sys.stderr, dynamic_ncols=True)

    def advance(self, label: str) -> None:
        self._bar.set_postfix_str(label, refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


def run(args: argparse.Namespace) -> int:
    """Entry point of `guardrail bakeoff`."""
    env = os.environ
    if args.repeat < 1:
        raise ConfigError("must be at least 1", key="--repeat")
    baseline = results.load(args.baseline) if args.baseline else None
    admin = load_admin_policy(args.admin_policy, env)
    specs: list[ModelSpec] = []
    for name in args.model:
        if name not in admin.models:
            known = ", ".join(sorted(admin.models)) or "none"
            raise ConfigError(f"unknown model {name!r}; the admin policy defines: {known}", key="--model")
        specs.append(admin.models[name].spec(name))
    tasks = load_tasks(args.tasks)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {args.out} ({exc.strerror})", key="--out") from exc
    # The gates and hidden checks run `python -m pytest`: the interpreter Guardrail runs on has pytest.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])

    def factory(spec: ModelSpec) -> ChatModel:
        return create_model(spec, env=env)

    bar = _Bar(len(specs) * len(tasks) * args.repeat, args.quiet)
    done = run_bakeoff(
        tasks,
        specs,
        tasks_arg=args.tasks,
        factory=factory,
        prices={name: admin.models[name].price for name in args.model},
        repeat=args.repeat,
        with_raw=args.raw,
        progress=bar,
        ceiling=admin.gates.ceiling(),
    )
    comparisons = stats.compare(done, baseline) if baseline is not None else None
    (args.out / "results.json").write_text(done.to_json(), encoding="utf-8")
    (args.out / "report.md").write_text(report.markdown(done, comparisons), encoding="utf-8")
    (args.out / "report.html").write_text(report.page(done, comparisons), encoding="utf-8")
    for s in stats.all_stats(done):
        raw = f", raw {report.pct(s.raw_pass)}" if s.raw_pass is not None else ""
        print(f"{s.model}: pass {report.pct(s.first_pass)} first try, {report.pct(s.final_pass)} after re-ask{raw}")
    print(f"wrote {args.out / 'results.json'}, report.md and report.html")
    flagged = [c for c in comparisons or [] if c.regression]
    for c in flagged:
        print(f"REGRESSION {c.model}: {c.metric} {c.before:.3g} -> {c.after:.3g} ({c.test})")
    return 1 if flagged else 0
