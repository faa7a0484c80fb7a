"""The GitHub Action: from the triggering event to one review, one summary comment and one check run.

    event (GITHUB_EVENT_PATH) ─► PullInfo ─► fetch base/head ─► policy at BASE ─► pipeline.run ─► Outcome
        ─► review (verified suggestions inline) ─► summary comment (everything else) ─► check run (fail-on)
        ─► job summary + outputs (verdict, posted, model) ─► exit code (1 when fail-on says so)

Three modes (``guardrail action`` flags): the default computes and posts; ``--no-post --outcome-out FILE`` computes
and saves the Outcome (the ``pull_request`` half of the fork-safe pair); ``--post-outcome FILE`` posts a saved
Outcome after validating it (the ``workflow_run`` half). A fork PR's ``pull_request`` run has a read-only token: it
reports through workflow annotations and the job summary instead, and says so. Misconfiguration (missing token,
unreadable event, bad policy) raises ConfigError, which fails the step naming the input or file.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from bot import pipeline
from bot.audit import AuditLog, default_path
from bot.config import REPO_CONFIG_PATH
from bot.errors import ConfigError, GitHubError
from bot.github import action_git
from bot.github.action_settings import ActionSettings
from bot.github.comment_head import head_at_comment_time
from bot.github.event import Ignored, PullEvent, read_event, read_payload
from bot.github.outcome_file import read_outcome, write_outcome
from bot.github.port import GitHubPort
from bot.identity import checkout_identity
from bot.models.base import ChatModel
from bot.models.registry import create_model
from bot.policy import load_repo_config_with_lines, resolve
from bot.reporters.base import FailOn, PostContext, ReportResult, VerdictName, fails, verdict_of
from bot.reporters.github_check import CheckReporter
from bot.reporters.github_review import ReviewReporter
from bot.reporters.github_summary import SummaryReporter
from bot.reporters.suggestions import plan_review
from bot.reporters.workflow import FORK_NOTE, READ_ONLY_NOTE, WorkflowReporter, append_step_summary
from bot.types import ModelSpec, Outcome, PullInfo, PullRequest, Purpose
from checks.engine import run_gates

WRITERS = ("admin", "maintain", "write")
PortFactory = Callable[[ActionSettings], GitHubPort]


@dataclass(frozen=True)
class ActionResult:
    verdict: VerdictName
    posted: bool
    model: str
    exit_code: int
    reports: tuple[ReportResult, ...] = ()


def default_port(settings: ActionSettings) -> GitHubPort:
    from bot.github.pygithub_adapter import PyGithubAdapter

    return PyGithubAdapter(token=settings.token, base_url=settings.api_url)


def _say(message: str) -> None:
    print(f"guardrail: {message}", file=sys.stderr, flush=True)


# --- outputs -------------------------------------------------------------------------------------------------------


def write_outputs(path: Path | None, values: Mapping[str, str]) -> None:
    """Append ``values`` to ``$GITHUB_OUTPUT`` in the heredoc form, with a random delimiter."""
    if path is None:
        return
    with path.open("a", encoding="utf-8") as handle:
        for name, value in values.items():
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
            handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def _finish(settings: ActionSettings, result: ActionResult) -> int:
    posted = "true" if result.posted else "false"
    write_outputs(settings.output, {"verdict": result.verdict, "posted": posted, "model": result.model})
    for report in result.reports:
        _say(f"{report.reporter}: {report.detail}")
    _say(f"verdict {result.verdict}; exit {result.exit_code}")
    return result.exit_code


def _ignored(settings: ActionSettings, event: Ignored) -> int:
    _say(event.message)
    if settings.step_summary is not None:
        append_step_summary(settings.step_summary, f"### Guardrail\n\n{event.message}\n")
    return _finish(settings, ActionResult("skipped", False, "", 0))


# --- computing the outcome -----------------------------------------------------------------------------------------


def compute_outcome(settings: ActionSettings, pull: PullInfo, purpose: Purpose, env: Mapping[str, str]) -> Outcome:
    """Run the pipeline on the checkout, with the admin policy and the repository config read at the BASE sha."""
    repo = settings.workspace.resolve()
    action_git.ensure_commits(repo, pull, settings.token)
    return compute_outcome_in(
        repo, pull, purpose, admin_policy=settings.admin_policy, config_path=settings.config_path, env=env
    )


def compute_outcome_in(
    repo: Path,
    pull: PullInfo,
    purpose: Purpose,
    *,
    admin_policy: str,
    config_path: str = REPO_CONFIG_PATH,
    env: Mapping[str, str],
    progress: Callable[[str], None] = _say,
) -> Outcome:
    """The pipeline on a checkout holding the PR's base and head commits (the Action's workspace, or the App
    worker's fetch), with the admin policy and the repository config read at the BASE sha. ``progress`` is called
    at each step; the App's worker raises from it to stop a superseded job."""
    admin = action_git.admin_policy_at_base(admin_policy, repo, pull.base_sha)
    explicit = config_path != REPO_CONFIG_PATH
    text = action_git.repo_config_text_at_base(repo, pull.base_sha, config_path, explicit)
    where = f"{pull.base_sha[:12]}:{config_path}"
    repo_config, lines = load_repo_config_with_lines(text, where)
    identity = checkout_identity(repo, pull.repo_name, "the GitHub event")
    resolution = resolve(
        admin,
        repo_config,
        identity.name,
        purpose,
        repo_config_where=where,
        repo_config_lines=lines,
        unknown_because=None if identity.name else identity.source,
    )
    pr = PullRequest(
        repo=repo,
        base=pull.base_sha,
        head=pull.head_sha,
        repo_name=pull.repo_name,
        number=pull.number,
        title=pull.title,
        body=pull.body,
        base_sha=pull.base_sha,
        head_sha=pull.head_sha,
    )

    def factory(spec: ModelSpec) -> ChatModel:
        return create_model(spec, env=env)

    return pipeline.run(
        pr,
        purpose,
        resolution=resolution,
        gate_settings=repo_config.gates.settings(admin.gates.ceiling()),
        model_factory=factory,
        audit=AuditLog(default_path(env)),
        progress=progress,
    )


@dataclass(frozen=True)
class Target:
    """What to gate: the pull request with the head to gate, and what the summary must say about that head."""

    pull: PullInfo
    notes: tuple[str, ...] = ()
    stale: bool = False  # the gated head is not the PR's current head: no inline suggestions (they'd be outdated)


def _pull_for(settings: ActionSettings, event: PullEvent, port: GitHubPort) -> Target | Ignored:
    """The PR of the event; for a slash command, only when the commenter may write to the repository, and at the
    head the comment saw (``comment_head``); for a stale delivery (the PR has a newer head), nothing: the run for the
    newer push reports on it."""
    if event.requested_by is not None:
        permission = port.get_permission(event.repo_name, event.requested_by)
        if permission not in WRITERS:
            reason = f"{event.requested_by} has {permission} access; /guardrail needs write access"
            return Ignored(event.event, event.action, reason)
    current = port.get_pull(event.repo_name, event.number)
    if event.pull is not None and current.head_sha != event.pull.head_sha:
        reason = f"the PR's head moved on to {current.head_sha[:12]}; the run for that push reports on it"
        return Ignored(event.event, event.action, reason)
    if event.comment_at is None:
        return Target(event.pull or current)
    repo = settings.workspace.resolve()
    action_git.ensure_commits(repo, current, settings.token)
    chosen = head_at_comment_time(
        command=event.purpose or settings.purpose,
        comment_at=event.comment_at,
        current=current,
        named_sha=event.named_sha,
        lookup=lambda named: action_git.commit_of_pull(repo, named, current),
    )
    if chosen.sha is None:
        return Ignored(event.event, event.action, chosen.note)
    return Target(replace(current, head_sha=chosen.sha), (chosen.note,), chosen.stale)


# --- reporting -----------------------------------------------------------------------------------------------------


def post_context(pull: PullInfo, diff: str, outcome: Outcome, max_inline: int, fail_on: FailOn) -> PostContext:
    """What the reporters share: the PR, the plan of the review (inline suggestions, leftovers) and fail-on."""
    plan = plan_review(outcome.suggestion if outcome.winner else None, diff, pull.head_sha, max_inline)
    return PostContext(pull=pull, plan=plan, fail_on=fail_on)


def _context(settings: ActionSettings, pull: PullInfo, diff: str, outcome: Outcome) -> PostContext:
    return post_context(pull, diff, outcome, settings.max_inline, settings.fail_on)


def _nothing() -> None:
    """The default hook before each reporter: nothing to check."""


def post_to_github(
    port: GitHubPort, outcome: Outcome, context: PostContext, *, before_each: Callable[[], None] = _nothing
) -> tuple[list[ReportResult], bool]:
    """Review, then summary (with what the review left out), then check run; ``True`` when GitHub refused writes.

    ``before_each`` runs before each reporter posts; the App's worker raises from it when a newer push superseded
    the job, so nothing more is posted for an old head."""
    results: list[ReportResult] = []
    before_each()
    review = ReviewReporter(port).post(outcome, context)
    results.append(review)
    if review.read_only:
        return results, True
    context = replace(context, extra_leftovers=context.extra_leftovers + review.leftovers)
    for reporter in (SummaryReporter(port), CheckReporter(port)):
        before_each()
        result = reporter.post(outcome, context)
        results.append(result)
        if result.read_only:
            return results, True
    return results, False


def report(
    settings: ActionSettings,
    port: GitHubPort,
    pull: PullInfo,
    outcome: Outcome,
    *,
    post: bool,
    stdout: TextIO,
    diff: str | None = None,
) -> ActionResult:
    """Post (or fall back to the workflow), write the job summary, and say the verdict and exit code.

    ``diff`` is given when the gated head is not the PR's current head (a comment named an older commit): then the
    suggestions go to the summary, not inline (GitHub cannot apply a suggestion on an outdated commit).
    When GitHub fails a request the adapter could not retry, the results still reach the job summary and the
    annotations, and the exit code is 2 (the error is printed)."""
    if diff is None:
        context = _context(settings, pull, port.get_pull_diff(pull.repo_name, pull.number), outcome)
    else:
        context = _context(replace(settings, max_inline=0), pull, diff, outcome)
    verdict = verdict_of(outcome)
    results: list[ReportResult] = []
    note: str | None = None
    failed: GitHubError | None = None
    if post and pull.is_fork and settings.event_name == "pull_request":
        note = FORK_NOTE  # a fork's pull_request token is read-only: do not even try (as reviewdog does)
    elif post:
        try:
            results, refused = post_to_github(port, outcome, context)
            note = READ_ONLY_NOTE if refused else None
        except GitHubError as exc:
            failed = exc
            note = f"Posting to GitHub failed ({exc}); the results are in this job summary and the annotations."
    results.append(WorkflowReporter(stdout, settings.step_summary, fallback_note=note).post(outcome, context))
    review = next((r for r in results if r.reporter == "review"), None)
    posted = bool(post and not note and outcome.winner and context.plan.inline and review is not None)
    code = 1 if fails(verdict, settings.fail_on) else 0
    if failed is not None:
        _say(f"error: {failed}")
        code = 2
    return ActionResult(verdict, posted, outcome.winner or "", code, tuple(results))


# --- the entry point -----------------------------------------------------------------------------------------------


def run(
    settings: ActionSettings,
    *,
    env: Mapping[str, str] | None = None,
    port_factory: PortFactory = default_port,
    stdout: TextIO | None = None,
    post: bool = True,
    outcome_out: Path | None = None,
    post_outcome: Path | None = None,
) -> int:
    """Run the Action once; returns the step's exit code (ConfigError propagates: the CLI turns it into exit 2)."""
    env = os.environ if env is None else env
    stdout = sys.stdout if stdout is None else stdout
    port = port_factory(settings)
    if post_outcome is not None:
        return _post_saved(settings, port, post_outcome, stdout)
    event = read_event(settings.event_name, settings.event_path)
    if isinstance(event, Ignored):
        return _ignored(settings, event)
    target = _pull_for(settings, event, port)
    if isinstance(target, Ignored):
        if event.comment_at is not None and target.reason.startswith("nothing was gated"):
            _tell_commenter(port, event, target.reason)  # the writer asked: say in the PR why nothing ran
        return _ignored(settings, target)
    pull = target.pull
    purpose = event.purpose or settings.purpose
    outcome = compute_outcome(settings, pull, purpose, env)
    outcome = replace(outcome, notes=(*target.notes, *outcome.notes))
    if outcome_out is not None:
        write_outcome(outcome, outcome_out)
    diff = action_git.pull_diff(settings.workspace.resolve(), pull) if target.stale else None
    result = report(settings, port, pull, outcome, post=post, stdout=stdout, diff=diff)
    return _finish(settings, result)


def _tell_commenter(port: GitHubPort, event: PullEvent, reason: str) -> None:
    """A short conversation comment saying why a writer's command gated nothing (failures are only printed)."""
    try:
        port.create_issue_comment(event.repo_name, event.number, f"**Guardrail**: {reason}.")
    except GitHubError as exc:
        _say(f"could not comment on the pull request: {exc}")


def _post_saved(settings: ActionSettings, port: GitHubPort, path: Path, stdout: TextIO) -> int:
    """The ``workflow_run`` half: post an Outcome computed by the ``pull_request`` run, after checking it."""
    outcome = read_outcome(path, repository=settings.repository)
    number = outcome.pr.number
    assert number is not None  # read_outcome refuses an outcome without one
    pull = port.get_pull(settings.repository, number)
    run_head = _workflow_run_head(settings)
    if pull.head_sha != outcome.pr.head_sha or (run_head is not None and run_head != outcome.pr.head_sha):
        raise ConfigError(
            f"refusing the outcome file: it is for head {outcome.pr.head_sha[:12]}, but PR #{number} is at "
            f"{pull.head_sha[:12]} and the triggering run at {(run_head or '?')[:12]} (a newer push will post its own)",
            where=f"{path} (--post-outcome)",
        )
    note = "Computed by this PR's pull_request run and posted by the workflow_run half of the fork-safe pair."
    outcome = _regate(settings, pull, replace(outcome, notes=(*outcome.notes, note)))
    return _finish(settings, report(settings, port, pull, outcome, post=True, stdout=stdout))


def _regate(settings: ActionSettings, pull: PullInfo, outcome: Outcome) -> Outcome:
    """Run the gates again, here, in the jail, on the artifact's patch: the pull_request run that made the artifact
    is the fork author's to rewrite, so its verdict is never posted as verified unchecked. A patch the gates reject
    here is not posted at all."""
    if outcome.suggestion is None or not outcome.suggestion.patch.strip():
        return outcome
    repo = settings.workspace.resolve()
    action_git.ensure_commits(repo, pull, settings.token)
    explicit = settings.config_path != REPO_CONFIG_PATH
    text = action_git.repo_config_text_at_base(repo, pull.base_sha, settings.config_path, explicit)
    repo_config, _ = load_repo_config_with_lines(text, f"{pull.base_sha[:12]}:{settings.config_path}")
    ceiling = action_git.admin_policy_at_base(settings.admin_policy, repo, pull.base_sha).gates.ceiling()
    gate_settings = repo_config.gates.settings(ceiling)
    verdict = run_gates(repo, pull.base_sha, pull.head_sha, outcome.suggestion.patch, gate_settings)
    if verdict.accepted:
        return replace(outcome, notes=(*outcome.notes, "The gates were run again by the posting half, in its jail."))
    why = f"the gates, run again by the posting half in its jail, rejected the artifact's patch ({verdict.reason})"
    return replace(outcome, suggestion=None, posted=False, winner=None, notes=(*outcome.notes, f"Not posted: {why}."))


def _workflow_run_head(settings: ActionSettings) -> str | None:
    """The head sha of the run that made the artifact (``workflow_run.head_sha``), when that is the event."""
    if settings.event_name != "workflow_run":
        return None
    payload: dict[str, Any] = read_payload(settings.event_path)
    run_info = payload.get("workflow_run")
    head = run_info.get("head_sha") if isinstance(run_info, dict) else None
    if not isinstance(head, str):
        raise ConfigError("the workflow_run event has no workflow_run.head_sha", where="GITHUB_EVENT_PATH")
    return head
