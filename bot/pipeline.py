"""The flow of one pull request: policy-selected candidates in order, local first; the first suggestion that
passes every gate wins; every attempt and the decision go to the audit log.

    outcome = pipeline.run(pr, "review", resolution=policy.resolve(...),
                           gate_settings=config.gates.settings(admin.gates.ceiling()),  # within the admin's maxima
                           model_factory=lambda spec: create_model(spec, env=os.environ), audit=AuditLog(path))

Only models in ``resolution.candidates`` are ever built or asked, in their order; a cloud candidate is skipped
without being built unless ``resolution.cloud_allowed`` (a second lock behind ``policy.resolve``). Every
dependency is passed in: the model factory, the gate runner, the clock, the audit log, the progress printer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bot.audit import AuditLog
from bot.parse import ParseResult
from bot.parse.diff import parse_diff
from bot.router import GateRunner, Job, ModelFactory, Progress, try_candidate
from bot.types import Attempt, GateSettings, Outcome, PullRequest, Purpose, Resolution
from checks import worktree
from checks.engine import run_gates

# Exclusion reasons that mean "this cloud model was left out because code may not leave" (from bot.policy).
_CLOUD_REASON_MARKERS = ("local-only", "cloud fallback off", "repository name unknown")
SOURCE_SUFFIXES = (".py",)


def _quiet(_: str) -> None:
    """The default progress printer says nothing."""


def run(
    pr: PullRequest,
    purpose: Purpose,
    *,
    resolution: Resolution,
    gate_settings: GateSettings,
    model_factory: ModelFactory,
    gates: GateRunner = run_gates,
    clock: Callable[[], float] = time.monotonic,
    audit: AuditLog | None = None,
    progress: Progress = _quiet,
    cache_dir: Path | None = None,
    gate_feedback: bool = False,
) -> Outcome:
    """Review (or patch) one pull request with the resolution's candidates; returns the Outcome and records it.

    ``gate_feedback``: re-ask a candidate once with the gates' findings when they reject its first suggestion
    (see bot.router)."""
    started_at = datetime.now(UTC)
    pr = resolve_revisions(pr)
    diff = worktree.diff(pr.repo, pr.base_sha, pr.head_sha)
    notes = [*policy_notes(resolution), *(capped.note() for capped in gate_settings.capped)]
    attempts: list[Attempt] = []
    winner: ParseResult | None = None
    if not diff.strip():
        notes.append("the pull request changes nothing: no model was asked")
    else:
        job = Job(
            pr=pr,
            purpose=purpose,
            diff=diff,
            files=changed_sources(pr, diff),
            read_file=lambda path: worktree.read_file_at(pr.repo, pr.head_sha, path, errors="surrogateescape"),
            gate_settings=gate_settings,
            gates=gates,
            clock=clock,
            progress=progress,
            cache_dir=cache_dir,
            post_without_fix=resolution.post_without_fix,
            gate_feedback=gate_feedback,
        )
        winner = _walk(job, resolution, model_factory, attempts, notes)
    if not resolution.candidates:
        notes.append(f"no model is allowed to {purpose} this repository: nothing was asked")
    elif winner is None and attempts:
        notes.append("no candidate's suggestion passed every gate: nothing is posted")
    accepted = next((a for a in attempts if a.status == "accepted"), None)
    outcome = Outcome(
        pr=pr,
        purpose=purpose,
        posted=accepted is not None,
        winner=accepted.model if accepted else None,
        attempts=tuple(attempts),
        suggestion=accepted.suggestion if accepted else None,
        dropped=winner.dropped if winner else (),
        notes=tuple(notes),
    )
    if audit is not None:
        audit.record(outcome, resolution, started_at=started_at)
    return outcome


def _walk(
    job: Job, resolution: Resolution, factory: ModelFactory, attempts: list[Attempt], notes: list[str]
) -> ParseResult | None:
    """Try the candidates in order until one is accepted; append every attempt."""
    for spec in resolution.candidates:
        if spec.location == "cloud" and not resolution.cloud_allowed:
            notes.append(f"{spec.name} not asked: cloud models are not allowed for this repository and purpose")
            continue
        tried = try_candidate(spec, job, factory)
        attempts.append(tried.attempt)
        notes.extend(tried.notes)
        if tried.attempt.status == "accepted":
            return tried.parsed
    return None


def resolve_revisions(pr: PullRequest) -> PullRequest:
    """The PR with ``base_sha`` and ``head_sha`` filled in (a bad revision is a ConfigError from worktree)."""
    return replace(
        pr,
        base_sha=pr.base_sha or worktree.resolve(pr.repo, pr.base),
        head_sha=pr.head_sha or worktree.resolve(pr.repo, pr.head),
    )


def changed_sources(pr: PullRequest, diff: str) -> Mapping[str, str]:
    """The changed Python files as they are at the head (deleted and binary files left out), for the prompt."""
    files: dict[str, str] = {}
    for file in parse_diff(diff):
        path = file.new_path
        if path is None or file.is_deleted or file.is_binary or not path.endswith(SOURCE_SUFFIXES):
            continue
        text = worktree.read_file_at(pr.repo, pr.head_sha, path)
        if text is not None:
            files[path] = text
    return files


def policy_notes(resolution: Resolution) -> list[str]:
    """What the summary must say about the policy: that the cloud was not allowed, and which cloud models that
    left out (so a reader of a local-only repository's run sees that no cloud model was asked)."""
    if resolution.cloud_allowed:
        return []
    cloud = [e for e in resolution.excluded if any(marker in e.reason for marker in _CLOUD_REASON_MARKERS)]
    if resolution.local_only:
        headline = "local-only repository"
    else:
        headline = cloud[0].reason if cloud else "cloud fallback disabled by policy"
    return [f"cloud fallback not allowed: {headline}"] + [f"{e.model} not asked: {e.reason}" for e in cloud]
