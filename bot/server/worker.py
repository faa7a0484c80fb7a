"""One job on a worker: from a queued ``Job`` to one review, one summary comment and one check run, as the Action.

    superseded? → installation token → (slash command: the commenter may write? else a polite refusal)
    → the PR on GitHub (its head moved on? superseded) → a fresh checkout of base and head, borrowing the objects
    of the machine's shared mirror of the repository (``bot.server.mirror``: only new commits are fetched)
    → ``action.compute_outcome_in`` (the Action's pipeline; PR code only in the jail) → ``action.post_to_github``

Between every pipeline step and before each reporter posts, the job checks that no newer push was accepted for its
PR; if one was, it stops and posts nothing (``Superseded``). GitHub's transient failures are retried by the adapter
with backoff (``bot.github.retry``); when it gives up, or anything else fails, the job says so in the PR's summary
comment (the same sticky comment the reporters keep), never silently; if even that cannot be written, the log
line and ``guardrail_job_seconds{outcome="failed"}`` are what is left.
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from huey.exceptions import TaskTimeout

from bot.errors import GitHubError, GuardrailError
from bot.github import action_git
from bot.github.action import WRITERS, compute_outcome_in, post_context, post_to_github
from bot.github.action_settings import DEFAULT_MAX_INLINE
from bot.github.comment_head import head_at_comment_time
from bot.github.port import GitHubPort
from bot.reporters.markers import SUMMARY_MARKER, is_summary, purpose_marker
from bot.server.deliveries import Job
from bot.server.jobqueue import JobQueue, Superseded
from bot.server.logs import DELIVERY
from bot.server.metrics import Metrics
from bot.server.mirror import prepare_checkout
from bot.server.settings import ServerSettings
from bot.types import PullInfo

log = logging.getLogger("guardrail.server.worker")

REFUSAL_MARKER = "<!-- guardrail:refusal user={user} -->"
MAX_ATTEMPTS = 3  # a job whose worker died this many times is not run again: its next attempt only says so


@dataclass(frozen=True)
class WorkerDeps:
    """What a worker needs; ``tokens`` maps an installation id to a token, ``port_factory`` a token to a port."""

    settings: ServerSettings
    queue: JobQueue
    tokens: Callable[[int], str]
    port_factory: Callable[[str], GitHubPort]
    metrics: Metrics
    env: Mapping[str, str]
    workdir: Path | None = None  # where checkouts are made (the system's temporary directory)
    mirrors: Path | None = None  # the shared git mirrors' folder (``bot.server.mirror``); None: a full fetch per job


def run_job(job: Job, deps: WorkerDeps) -> str:
    """Run one job; returns its outcome (posted, superseded, refused, failed, skipped, timed_out). Never raises for a
    job's failure.
    An attempt after ``MAX_ATTEMPTS`` deaths of its worker runs nothing: it says on the PR that the job gave up."""
    token = DELIVERY.set(job.delivery_id)
    started = time.monotonic()
    outcome = "failed"
    try:
        log.info("job started: %s %s on %s (attempt %d)", job.event, job.action, job.pr_key, job.attempt)
        if job.attempt >= MAX_ATTEMPTS:
            deps.queue.ensure_current(job)  # a newer push has its own job: nothing to say for this one
            log.error("the job's worker died %d times running it: giving up", job.attempt)
            _give_up(job, deps, f"its worker process died {job.attempt} times while running it, so it is not run again")
            return outcome
        outcome = _run(job, deps)
    except Superseded as exc:
        outcome = "superseded"
        log.info("job superseded, nothing posted: %s", exc)
    except _NothingGated as exc:
        outcome = "skipped"
        log.info("nothing gated: %s", exc)
        _tell(job, deps, f"**Guardrail**: {exc}.")
    except GuardrailError as exc:
        log.error("job failed: %s", exc)
        _give_up(job, deps, str(exc))
    except TaskTimeout:
        outcome = "timed_out"
        budget = f"{deps.settings.job_seconds:.0f} s"
        log.error("job stopped: it ran past its budget of %s (GUARDRAIL_JOB_SECONDS)", budget)
        _give_up(job, deps, f"it ran past the {budget} one job may take on this App (the operator's budget)")
    except Exception as exc:
        log.exception("job failed unexpectedly")
        _give_up(job, deps, f"internal error {type(exc).__name__}: {exc}")
    finally:
        seconds = time.monotonic() - started
        deps.metrics.job_seconds.labels(outcome).observe(seconds)
        log.info("job finished: %s in %.1f s", outcome, seconds)
        DELIVERY.reset(token)
    return outcome


def _run(job: Job, deps: WorkerDeps) -> str:
    queue = deps.queue
    queue.ensure_current(job)
    installation = job.installation_id
    if installation is None:
        raise GitHubError("the delivery named no App installation")
    token = deps.tokens(installation)
    port = deps.port_factory(token)
    if job.requested_by is not None and not _may_write(port, job):
        return "refused"
    current = port.get_pull(job.repo, job.number)
    if job.head_sha is not None and current.head_sha != job.head_sha:
        raise Superseded(f"GitHub says {job.pr_key} is at {current.head_sha[:12]}, this job was for {job.head_sha}")
    with tempfile.TemporaryDirectory(prefix="guardrail-job-", dir=deps.workdir) as tmp:
        checkout = Path(tmp) / "checkout"
        how = prepare_checkout(checkout, _clone_url(job, deps.settings), current, token, deps.mirrors)
        log.info("checkout ready (%s)", how)
        pull, notes, stale = _target(job, current, checkout)
        job = job.with_head(pull.head_sha)
        queue.ensure_current(job)

        def step(message: str) -> None:
            log.info("%s", message)
            queue.ensure_current(job)

        outcome = compute_outcome_in(
            checkout, pull, job.purpose, admin_policy=deps.settings.admin_policy, env=deps.env, progress=step
        )
        outcome = replace(outcome, notes=(*notes, *outcome.notes))
        # The pipeline may have run for many minutes: the token the job started with may be in its last ones, or over
        # (a token is reused until REFRESH_MARGIN before its hour ends); GitHub is asked again with a fresh one.
        port = deps.port_factory(deps.tokens(installation))
        # GitHub serves only the current head's diff; an older head the comment named gets git's
        diff = action_git.pull_diff(checkout, pull) if stale else port.get_pull_diff(job.repo, job.number)
    deps.metrics.record_outcome(outcome)
    queue.ensure_current(job)
    context = post_context(pull, diff, outcome, DEFAULT_MAX_INLINE, "rejected")
    results, refused = post_to_github(port, outcome, context, before_each=lambda: queue.ensure_current(job))
    for result in results:
        log.info("%s: %s", result.reporter, result.detail)
    if refused:
        log.error("GitHub refused the App's writes: check its permissions (examples/app/manifest.json)")
        return "failed"
    return "posted"


def _target(job: Job, current: PullInfo, checkout: Path) -> tuple[PullInfo, tuple[str, ...], bool]:
    """The PR at the head to gate, the notes about that head, and whether it is older than the current head.

    A pull_request or check_run job gates its own head. A slash command gates the head as it was when the comment was
    written, or the commit it names (``bot.github.comment_head``, shared with the Action); when that cannot be known,
    nothing is gated and the writer is told why (``_NothingGated``)."""
    if job.comment_at is None:
        return current, (), False
    chosen = head_at_comment_time(
        command=job.purpose,
        comment_at=datetime.fromisoformat(job.comment_at),
        current=current,
        named_sha=job.named_sha,
        lookup=lambda named: action_git.commit_of_pull(checkout, named, current),
    )
    if chosen.sha is None:
        raise _NothingGated(chosen.note)
    return replace(current, head_sha=chosen.sha), (chosen.note,), chosen.stale


class _NothingGated(Exception):
    """A slash command whose head cannot be known: the writer is told, nothing runs."""


def _clone_url(job: Job, settings: ServerSettings) -> str:
    if settings.git_url:
        return settings.git_url.replace("{repo}", job.repo)
    if not job.clone_url:
        raise GitHubError(f"the delivery names no clone URL for {job.repo}; set GUARDRAIL_GIT_URL")
    return job.clone_url


def _may_write(port: GitHubPort, job: Job) -> bool:
    """True when the commenter has write access; otherwise False, with a polite refusal the first time that user asks
    on that pull request (once per user and PR, not per comment: a stranger's comments must not make the App post
    as often as they like; later ones are only logged)."""
    user = job.requested_by or ""
    permission = port.get_permission(job.repo, user)
    if permission in WRITERS:
        return True
    marker = REFUSAL_MARKER.format(user=re.sub(r"[^A-Za-z0-9_.\[\]-]", "_", user.lower()))
    if any(marker in c.body for c in port.list_issue_comments(job.repo, job.number)):
        log.info("refused /guardrail %s from %s again (%s access); told once already", job.purpose, user, permission)
        return False
    body = (
        f"{marker}\nThanks for asking, @{user}! Guardrail runs `/guardrail {job.purpose}` only for people with write "
        f"access to {job.repo} (yours is `{permission}`), because a run spends the maintainers' model and test time. "
        "A maintainer can ask for it with the same comment."
    )
    port.create_issue_comment(job.repo, job.number, body)
    log.info("refused /guardrail %s from %s (%s access)", job.purpose, user, permission)
    return False


def _tell(job: Job, deps: WorkerDeps, body: str) -> None:
    """A short conversation comment for the writer of a slash command (failures are logged)."""
    try:
        if job.installation_id is not None:
            deps.port_factory(deps.tokens(job.installation_id)).create_issue_comment(job.repo, job.number, body)
    except GuardrailError as exc:
        log.error("could not comment on the pull request: %s", exc)


def _give_up(job: Job, deps: WorkerDeps, reason: str) -> None:
    """Say on the PR's summary comment that this run failed and why; log if even that fails."""
    body = (
        f"{SUMMARY_MARKER}\n{purpose_marker(job.purpose)}\n### Guardrail · {job.purpose} · ⚠️ error\n\n"
        f"Guardrail could not finish the run for delivery `{job.delivery_id}`"
        f"{f' at `{job.head_sha[:12]}`' if job.head_sha else ''}: {reason[:2000]}\n\n"
        "Nothing was posted for this run. Push again, or ask with `/guardrail review`, to run it again.\n"
    )
    try:
        if job.installation_id is None:
            return
        port = deps.port_factory(deps.tokens(job.installation_id))
        mine = [c for c in port.list_issue_comments(job.repo, job.number) if is_summary(c, job.purpose)]
        if mine:
            port.update_issue_comment(job.repo, mine[0].id, body)
        else:
            port.create_issue_comment(job.repo, job.number, body)
    except GuardrailError as exc:
        log.error("could not say on the PR that the job failed: %s", exc)


def make_runner(deps: WorkerDeps) -> Callable[[Job], None]:
    def runner(job: Job) -> None:
        run_job(job, deps)

    return runner
