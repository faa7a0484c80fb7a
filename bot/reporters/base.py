"""The reporter interface: one ``post(outcome, context)`` per place Guardrail reports to.

The GitHub reporters (review, summary comment, check run) and the workflow reporter (annotations and job summary,
the fallback for a fork PR's read-only token) all take an Outcome and a PostContext and say what they did in a
ReportResult. They share one ReviewPlan (``bot.reporters.suggestions``), so the summary lists exactly what the
review could not hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from bot.reporters.suggestions import Leftover, ReviewPlan
from bot.types import CheckConclusion, Outcome, PullInfo

FailOn = Literal["never", "rejected", "error"]
FAIL_ON: tuple[FailOn, ...] = ("never", "rejected", "error")
VerdictName = Literal["accepted", "rejected", "error", "skipped"]
# GitHub's answer to a write with a read-only token: "Resource not accessible by integration"
READ_ONLY_STATUSES = (403,)


@dataclass(frozen=True)
class PostContext:
    """Everything a reporter needs besides the Outcome: the PR on GitHub, its diff and the plan for the review."""

    pull: PullInfo
    plan: ReviewPlan
    fail_on: FailOn = "rejected"
    notes: tuple[str, ...] = ()  # said by earlier reporters or the Action, e.g. "the fork's token is read-only"
    extra_leftovers: tuple[Leftover, ...] = field(default=())  # e.g. comments dropped after a 422

    @property
    def leftovers(self) -> tuple[Leftover, ...]:
        return self.plan.leftovers + self.extra_leftovers


@dataclass(frozen=True)
class ReportResult:
    """What one reporter did. ``posted`` is True when it wrote something new or updated something."""

    reporter: str
    posted: bool
    detail: str = ""
    notes: tuple[str, ...] = ()
    leftovers: tuple[Leftover, ...] = ()  # inline comments it had to give up, for the summary
    read_only: bool = False  # GitHub said the token cannot write: the caller falls back to the workflow reporter


class Reporter(Protocol):
    """A place to report one Outcome to. Reporters never raise for what they can say instead (a 422 becomes a
    summary entry); a GitHubError they cannot handle propagates."""

    name: str

    def post(self, outcome: Outcome, context: PostContext) -> ReportResult: ...


def verdict_of(outcome: Outcome) -> VerdictName:
    """accepted: a suggestion passed every gate; rejected: every candidate's suggestion failed a gate (or none was
    offered); error: no candidate could be asked or gated at all (a model down, a gate that could not run)."""
    if outcome.winner is not None:
        return "accepted"
    if not outcome.attempts:
        return "error"  # fail closed: no model was allowed or tried
    if any(a.status == "rejected" for a in outcome.attempts):
        return "rejected"
    if all(a.status == "skipped" for a in outcome.attempts):
        return "skipped"
    return "error"


def fails(verdict: VerdictName, fail_on: FailOn) -> bool:
    """Whether the step (and the check run) fails for this verdict under the ``fail-on`` input."""
    if fail_on == "never":
        return False
    if fail_on == "error":
        return verdict == "error"
    return verdict in ("rejected", "error")


def conclusion_for(verdict: VerdictName, fail_on: FailOn) -> CheckConclusion:
    if fails(verdict, fail_on):
        return "failure"
    return "success" if verdict == "accepted" else "neutral"
