"""One review per head commit, event ``COMMENT``, holding the verified suggestions as committable suggestion blocks.

Quiet and idempotent: a head commit that already has Guardrail's review (found by its hidden marker) gets no
second one; suggestions that review does not hold (by fingerprint) go to the summary instead. When GitHub refuses
the review with a 422 (a line it does not accept), the inline comments move to the summary and the review is
created once more without them; it is never retried with the same comments.
"""

from __future__ import annotations

from bot.errors import GitHubError
from bot.github.port import GitHubPort
from bot.reporters.base import READ_ONLY_STATUSES, PostContext, ReportResult
from bot.reporters.evidence import evidence_text
from bot.reporters.markers import (
    MAX_COMMENT_CHARS,
    cap,
    fingerprint_marker,
    fingerprints_in,
    is_review_for,
    purpose_marker,
    review_marker,
)
from bot.reporters.suggestions import Leftover, Placed, Provenance, ReviewPlan
from bot.types import Outcome, PostedComment


def review_body(outcome: Outcome, plan: ReviewPlan, note: str = "") -> str:
    """The review's own text: markers (head, purpose, every inline fingerprint), who wrote it, what checked it."""
    markers = [review_marker(plan.head_sha), purpose_marker(outcome.purpose)]
    markers += [fingerprint_marker(p.fingerprint) for p in plan.inline]
    won = Provenance.of(outcome)
    count = len(plan.inline)
    lines = ["\n".join(markers)]
    if won is not None and (evidence := evidence_text(won.gates)):
        lines.append(f"**{evidence}**")
    lines.append(f"**Guardrail** ({outcome.purpose}): {count} verified suggestion(s) on this commit.")
    if won is not None:
        lines.append(won.line())
    if count > 1:
        lines.append("The gates checked these suggestions together: commit them as one batch.")
    if note:
        lines.append(note)
    lines.append("The summary comment has the whole story: every model tried, every gate, what was left out.")
    return cap("\n\n".join(lines), MAX_COMMENT_CHARS, "the summary comment")


def _capped(placed: Placed, provenance: Provenance | None) -> Placed | None:
    """The placed comment if its body fits GitHub's limit; a suggestion cut short would commit broken code."""
    return placed if len(placed.body(provenance)) <= MAX_COMMENT_CHARS else None


class ReviewReporter:
    """Creates the one review of this head commit (COMMENT only; Guardrail never approves or requests changes)."""

    name = "review"

    def __init__(self, port: GitHubPort) -> None:
        self._port = port

    def post(self, outcome: Outcome, context: PostContext) -> ReportResult:
        plan = context.plan
        if outcome.winner is None:
            return ReportResult(self.name, False, "no verified suggestion: no review")
        if not plan.inline:
            return ReportResult(self.name, False, "no verified suggestion fits inline; the summary lists them")
        mine = self._mine(outcome, context)
        if mine:
            held = frozenset().union(*(fingerprints_in(r.body) for r in mine))
            missing = tuple(
                Leftover("this commit already has Guardrail's review (a rerun adds no second one)", p.candidate)
                for p in plan.inline
                if p.fingerprint not in held
            )
            detail = f"review {mine[0].id} already covers {plan.head_sha[:12]}"
            return ReportResult(self.name, False, detail, leftovers=missing)
        return self._create(outcome, context)

    def _mine(self, outcome: Outcome, context: PostContext) -> list[PostedComment]:
        reviews = self._port.list_reviews(context.pull.repo_name, context.pull.number)
        return [r for r in reviews if is_review_for(r, context.plan.head_sha, outcome.purpose)]

    def _create(self, outcome: Outcome, context: PostContext) -> ReportResult:
        plan, pull = context.plan, context.pull
        provenance = Provenance.of(outcome)
        fitting = [p for p in plan.inline if _capped(p, provenance) is not None]
        too_long = tuple(
            Leftover("too long for one GitHub comment", p.candidate) for p in plan.inline if p not in fitting
        )
        if not fitting:
            return ReportResult(self.name, False, "every suggestion is too long for a comment", leftovers=too_long)
        plan = ReviewPlan(plan.head_sha, tuple(fitting), plan.leftovers)
        drafts = [p.draft(provenance) for p in plan.inline]
        try:
            review = self._port.create_review(
                pull.repo_name, pull.number, plan.head_sha, review_body(outcome, plan), drafts
            )
        except GitHubError as exc:
            if exc.status in READ_ONLY_STATUSES:
                return ReportResult(self.name, False, f"GitHub refused the review: {exc}", read_only=True)
            if exc.status == 422:
                return self._retry_without_inline(outcome, context, plan, exc, too_long)
            if (exc.status is None or exc.status >= 500) and (landed := self._mine(outcome, context)):
                # the adapter does not repeat a create after a 5xx; GitHub may have applied it anyway
                return ReportResult(self.name, True, f"review {landed[0].id} landed despite: {exc}", leftovers=too_long)
            raise
        detail = f"review {review.id} with {len(drafts)} suggestion(s) on {plan.head_sha[:12]}"
        return ReportResult(self.name, True, detail, leftovers=too_long)

    def _retry_without_inline(
        self, outcome: Outcome, context: PostContext, plan: ReviewPlan, exc: GitHubError, too_long: tuple[Leftover, ...]
    ) -> ReportResult:
        reason = f"GitHub refused these inline comments (422: {exc})"
        moved = plan.without_inline(reason)
        emptied = ReviewPlan(plan.head_sha, (), moved.leftovers)
        note = f"GitHub refused the inline comments ({exc}); they are listed in the summary comment instead."
        dropped = tuple(Leftover(reason, p.candidate, p.candidate.diff) for p in plan.inline) + too_long
        pull = context.pull
        review = self._port.create_review(
            pull.repo_name, pull.number, plan.head_sha, review_body(outcome, emptied, note), []
        )
        return ReportResult(self.name, True, f"review {review.id} without inline comments after a 422", (), dropped)
