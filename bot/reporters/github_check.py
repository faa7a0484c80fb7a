"""One check run per head commit and purpose (``guardrail/<purpose>``), with annotations and a conclusion that
follows ``fail-on``.

GitHub takes at most 50 annotations per request and appends those of each update, so the first 50 go with the
create and the rest in updates of 50. A rerun on the same head finds the check run again (by name and head, with
``external_id`` = the head sha) and updates its title, summary and conclusion; it sends no annotations, since the
ones already there cannot be taken back and sending them again would show each one twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.errors import GitHubError
from bot.github.port import GitHubPort
from bot.reporters.base import READ_ONLY_STATUSES, PostContext, ReportResult, conclusion_for, verdict_of
from bot.reporters.github_summary import render_summary
from bot.reporters.markers import MAX_CHECK_TEXT_CHARS, cap
from bot.reporters.suggestions import Candidate, Provenance, shown
from bot.types import Annotation, CheckRunRef, Outcome

ANNOTATIONS_PER_REQUEST = 50
_MAX_ANNOTATION_MESSAGE = 60_000  # GitHub: 64 KB


def batches(annotations: Sequence[Annotation], size: int = ANNOTATIONS_PER_REQUEST) -> list[tuple[Annotation, ...]]:
    """``annotations`` in runs of at most ``size`` (one request each)."""
    return [tuple(annotations[i : i + size]) for i in range(0, len(annotations), size)]


def _annotation(candidate: Candidate, title: str, inline: bool) -> Annotation:
    where = "posted inline" if inline else "listed in the summary comment"
    message = candidate.text.strip() or "Guardrail suggests a change here."
    if candidate.replacement is not None:
        message += f"\n\nVerified replacement ({where}):\n{candidate.replacement}"
    return Annotation(
        path=candidate.path,
        start_line=candidate.start_line or candidate.line,
        end_line=candidate.line,
        level="notice" if candidate.replacement is not None else "warning",
        message=shown(message)[:_MAX_ANNOTATION_MESSAGE],  # Unicode text: a Latin-1 byte as U+FFFD
        title=title[:255],
    )


def annotations_for(outcome: Outcome, context: PostContext) -> list[Annotation]:
    """One annotation per verified suggestion or comment that has a place in a file (inline or not)."""
    won = Provenance.of(outcome)
    if won is None:
        return []
    title = f"Guardrail {outcome.purpose} by {won.model} ({won.location})"
    found = [_annotation(p.candidate, title, True) for p in context.plan.inline]
    found += [_annotation(item.candidate, title, False) for item in context.leftovers if item.candidate is not None]
    return found


def check_name(outcome: Outcome) -> str:
    return f"guardrail/{outcome.purpose}"


def check_title(outcome: Outcome, context: PostContext) -> str:
    verdict = verdict_of(outcome)
    if outcome.winner is not None:
        return f"{verdict}: {len(context.plan.inline)} verified suggestion(s) by {outcome.winner}"
    return f"{verdict}: no suggestion passed the gates" if verdict == "rejected" else f"{verdict}: nothing to suggest"


class CheckReporter:
    """Creates (or, on a rerun for the same head, updates) the check run ``guardrail/<purpose>``."""

    name = "check"

    def __init__(self, port: GitHubPort) -> None:
        self._port = port

    def post(self, outcome: Outcome, context: PostContext) -> ReportResult:
        try:
            return self._post(outcome, context)
        except GitHubError as exc:
            if exc.status in READ_ONLY_STATUSES:
                return ReportResult(self.name, False, f"GitHub refused the check run: {exc}", read_only=True)
            raise

    def _existing(self, outcome: Outcome, context: PostContext) -> list[CheckRunRef]:
        head = context.plan.head_sha
        runs = self._port.list_check_runs(context.pull.repo_name, head, check_name(outcome))
        return [c for c in runs if c.external_id in (head, "")]

    def _post(self, outcome: Outcome, context: PostContext) -> ReportResult:
        repo, head = context.pull.repo_name, context.plan.head_sha
        conclusion = conclusion_for(verdict_of(outcome), context.fail_on)
        title = check_title(outcome, context)
        summary = cap(render_summary(outcome, context), MAX_CHECK_TEXT_CHARS, "the summary comment")
        existing = self._existing(outcome, context)
        if existing:
            run_id = existing[0].id
            self._port.update_check_run(repo, run_id, title=title, summary=summary, conclusion=conclusion)
            return ReportResult(self.name, True, f"updated check run {run_id} ({conclusion}) on a rerun")
        parts = batches(annotations_for(outcome, context)) or [()]
        try:
            ref = self._port.create_check_run(
                repo,
                head,
                check_name(outcome),
                title=title,
                summary=summary,
                conclusion=conclusion,
                annotations=parts[0],
                external_id=head,
            )
        except GitHubError as exc:
            # the adapter does not repeat a create after a 5xx; GitHub may have applied it anyway
            if (exc.status is None or exc.status >= 500) and (landed := self._existing(outcome, context)):
                self._port.update_check_run(repo, landed[0].id, title=title, summary=summary, conclusion=conclusion)
                return ReportResult(self.name, True, f"check run {landed[0].id} landed despite: {exc}")
            raise
        for part in parts[1:]:
            self._port.update_check_run(
                repo, ref.id, title=title, summary=summary, conclusion=conclusion, annotations=part
            )
        count = sum(len(p) for p in parts)
        return ReportResult(self.name, True, f"check run {ref.id} ({conclusion}) with {count} annotation(s)")
