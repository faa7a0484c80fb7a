"""Run every model on every task through ``bot.pipeline.run`` (the pull-request path), judge each run, and say which
model this was.

Each task run is one ``pipeline.run`` with the model as the only candidate and the gate-feedback re-ask on; the
model and the gate runner are wrapped by a ``Recorder`` so each reply, its latency and tokens, and each verdict are
seen as the pipeline saw them. Accepted suggestions then meet the hidden checks.
"""

from __future__ import annotations

import importlib.metadata
import re
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot import pipeline
from bot.bakeoff import hidden, raw
from bot.bakeoff.judge import Judge, task_run
from bot.bakeoff.record import Recorder
from bot.bakeoff.repo import materialize
from bot.bakeoff.results import ModelInfo, Results, TaskRun
from bot.bakeoff.tasks import Task
from bot.config import REPO_CONFIG_PATH
from bot.policy import load_repo_config_with_lines
from bot.policy_model import Price
from bot.router import GateRunner, ModelFactory
from bot.templates import resolve
from bot.types import Completion, GateCeiling, GateSettings, ModelSpec, PullRequest, Resolution
from checks import worktree
from checks.engine import run_gates

_QUANT = re.compile(r"(?i)(?:^|[._:-])(I?Q\d(?:_[A-Z0-9]+)*|F16|F32|BF16|fp16|int8|int4|awq|gptq)(?=$|[.-])")


class Progress:
    """The progress bar's port: ``advance(label)`` after each unit of work; ``close()`` at the end."""

    def advance(self, label: str) -> None: ...

    def close(self) -> None: ...


@dataclass
class _Prepared:
    task: Task
    pr: PullRequest
    settings: GateSettings
    diff: str


def quantization(model_id: str) -> str:
    """The quantization named in a GGUF file name or a model tag (``Q4_1``, ``q4_K_M``, ``F16``); else unknown."""
    match = _QUANT.search(Path(model_id).name)
    return match.group(1) if match else "unknown"


def _template_label(spec: ModelSpec) -> str:
    """``label sha256:<12 hex>`` of the template the policy pins (see docs/templates.md)."""
    assert spec.template is not None
    template = resolve(spec.template)
    return f"{template.label} sha256:{template.sha256[:12]}" if template else "the runtime's own (from: runtime)"


def model_info(spec: ModelSpec, first: Completion | None, price: Price | None) -> ModelInfo:
    """What can be told of the model: runtime, version, quantization, template (see docs/bakeoff.md)."""
    if spec.backend == "llamacpp":
        try:
            version = "llama-cpp-python " + importlib.metadata.version("llama-cpp-python")
        except importlib.metadata.PackageNotFoundError:
            version = "llama-cpp-python (not installed)"
        template = _template_label(spec) if spec.template else "the GGUF's own (tokenizer.chat_template)"
        model_id = spec.model or (first.model if first else "") or "embedded"
    else:
        version = f"server says: {first.model}" if first and first.model else "unknown (no reply)"
        template = _template_label(spec) if spec.template else "the server's own (not visible to Guardrail)"
        model_id = spec.model
    local = spec.location == "local"
    return ModelInfo(
        name=spec.name,
        runtime=spec.backend,
        location=spec.location,
        model=model_id,
        version=version,
        quantization=quantization(model_id),
        template=template,
        price_input=price.input if price else (0.0 if local else None),
        price_output=price.output if price else (0.0 if local else None),
    )


def _prepare(task: Task, root: Path, ceiling: GateCeiling) -> _Prepared:
    pr = materialize(task, root / task.id)
    where = f"{pr.base}:{REPO_CONFIG_PATH}"
    config, _ = load_repo_config_with_lines(worktree.read_file_at(pr.repo, pr.base_sha, REPO_CONFIG_PATH), where)
    return _Prepared(task, pr, config.gates.settings(ceiling), worktree.diff(pr.repo, pr.base_sha, pr.head_sha))


def _one(
    prepared: _Prepared,
    spec: ModelSpec,
    repeat: int,
    factory: ModelFactory,
    gates: GateRunner,
    cache: Path,
    with_raw: bool,
    clock: Callable[[], float],
) -> tuple[TaskRun, Completion | None]:
    task, pr = prepared.task, prepared.pr
    recorder = Recorder(gates, clock)
    outcome = pipeline.run(
        pr,
        task.purpose,
        resolution=Resolution(task.purpose, pr.repo_name, (spec,), cloud_allowed=True),
        gate_settings=prepared.settings,
        model_factory=lambda s: recorder.model(factory(s)),
        gates=recorder.gates,
        cache_dir=cache,
        gate_feedback=True,
    )
    checked: dict[str, hidden.HiddenResult] = {}

    def check(patch: str) -> hidden.HiddenResult:
        if patch not in checked:
            checked[patch] = hidden.run(task, pr, patch=patch)
        return checked[patch]

    judge = Judge(task, check, lambda p: worktree.read_file_at(pr.repo, pr.head_sha, p), prepared.diff)
    raw_run = None
    if with_raw:
        model = factory(spec)
        try:
            raw_run = raw.run(task, model, lambda files: hidden.run(task, pr, files=files), clock)
        finally:
            model.close()
    attempt = outcome.attempts[0] if outcome.attempts else None
    run = task_run(
        model=spec.name, task=task, repeat=repeat, events=recorder.events, attempt=attempt, judge=judge, raw=raw_run
    )
    replies = recorder.replies
    return run, (replies[0].completion if replies else None)


def run_bakeoff(
    tasks: Sequence[Task],
    specs: Sequence[ModelSpec],
    *,
    tasks_arg: str,
    factory: ModelFactory,
    prices: Mapping[str, Price | None],
    repeat: int = 1,
    with_raw: bool = False,
    gates: GateRunner = run_gates,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
    ceiling: GateCeiling | None = None,
) -> Results:
    """Every model on every task ``repeat`` times; the task repositories and gate baselines live in a temporary
    directory removed at the end. ``clock`` (seconds) times each reply and the whole run. ``ceiling``: the admin
    policy's maxima for the tasks' gates (``AdminPolicy.gates``; default: the built-in maxima)."""
    progress = progress or Progress()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    start = clock()
    runs: list[TaskRun] = []
    firsts: dict[str, Completion | None] = {}
    with tempfile.TemporaryDirectory(prefix="guardrail-bakeoff-") as scratch:
        root = Path(scratch)
        prepared = [_prepare(task, root / "repos", ceiling or GateCeiling()) for task in tasks]
        try:
            for spec in specs:
                for item in prepared:
                    for number in range(repeat):
                        run, first = _one(item, spec, number, factory, gates, root / "cache", with_raw, clock)
                        runs.append(run)
                        if firsts.get(spec.name) is None:
                            firsts[spec.name] = first
                        progress.advance(f"{spec.name} {item.task.id}")
        finally:
            progress.close()
    models = tuple(model_info(spec, firsts.get(spec.name), prices.get(spec.name)) for spec in specs)
    return Results(
        tasks=tasks_arg,
        task_ids=tuple(t.id for t in tasks),
        repeat=repeat,
        raw=with_raw,
        started=started,
        seconds=round(clock() - start, 3),
        models=models,
        runs=tuple(runs),
    )
