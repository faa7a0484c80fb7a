"""The sticky summary comment: one per pull request and purpose, found again by its hidden marker and edited in place.

It says the outcome, the winning model with its runtime and location, every gate of every attempt with its result,
the fallback chain, and everything verified that is not inline (outside the diff, over the cap, refused by GitHub)
with the reason. The same Markdown is the job summary and the check run's summary.
"""

from __future__ import annotations

from bot.errors import GitHubError
from bot.github.port import GitHubPort
from bot.reporters.base import READ_ONLY_STATUSES, PostContext, ReportResult, verdict_of
from bot.reporters.evidence import evidence_text
from bot.reporters.markers import MAX_COMMENT_CHARS, SUMMARY_MARKER, cap, is_summary, purpose_marker
from bot.reporters.suggestions import Provenance, code_block, leftover_markdown, neutralise
from bot.types import Attempt, GateResult, Outcome, PostedComment

_VERDICT_ICON = {"accepted": "✅", "rejected": "🚫", "error": "⚠️", "skipped": "⏭️"}
_GATE_ICON = {"pass": "✅", "fail": "❌", "error": "⚠️", "skipped": "⏭️"}


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _gate_rows(gates: tuple[GateResult, ...]) -> list[str]:
    rows = []
    for gate in gates:
        icon = _GATE_ICON.get(gate.status, gate.status)
        found = f" ({len(gate.findings)} finding(s))" if gate.findings else ""
        said = _one_line(neutralise(gate.summary))
        rows.append(f"   - {icon} `{gate.name}` {gate.status}{found}: {said} ({gate.seconds:.1f}s)")
    return rows


def _attempt_lines(index: int, attempt: Attempt) -> list[str]:
    why = f": {_one_line(neutralise(attempt.reason))}" if attempt.reason else ""
    head = (
        f"{index}. `{attempt.model}` ({attempt.backend}, {attempt.location}) **{attempt.status}**{why} "
        f"· {attempt.seconds:.1f}s, {attempt.tokens} tokens"
    )
    return [head, *_gate_rows(attempt.gates)]


def _headline(outcome: Outcome, context: PostContext) -> str:
    verdict = verdict_of(outcome)
    inline = len(context.plan.inline)
    won = Provenance.of(outcome)
    if won is not None:
        template = f", template `{won.template}`" if won.template else ""
        return (
            f"**Outcome:** `{won.model}` ({won.backend}, {won.location}{template}) wrote a {outcome.purpose} that "
            f"passed every gate; {inline} verified suggestion(s) inline, {len(context.leftovers)} listed below."
        )
    if verdict == "rejected":
        return "**Outcome:** no model's suggestion passed the gates, so nothing was posted inline."
    if verdict == "skipped":
        return "**Outcome:** nothing was asked (every candidate was skipped)."
    return "**Outcome:** no candidate model could be asked or gated; nothing was posted. See the chain below."


def _evidence(outcome: Outcome) -> list[str]:
    won = outcome.winning_attempt
    text = evidence_text(won.gates) if won is not None else ""
    return [f"**Evidence:** {text}", ""] if text else []


def render_summary(outcome: Outcome, context: PostContext) -> str:
    """The summary Markdown (without markers): headline, fallback chain with every gate, leftovers, notes."""
    verdict = verdict_of(outcome)
    head = context.plan.head_sha or outcome.pr.head_sha
    out = [
        f"### Guardrail · {outcome.purpose} · {_VERDICT_ICON[verdict]} {verdict}",
        f"PR #{context.pull.number} at `{head[:12]}` · fail-on: `{context.fail_on}`",
        "",
        *_evidence(outcome),
        _headline(outcome, context),
        "",
        "**Fallback chain** (in the policy's order; the first suggestion to pass every gate wins):",
    ]
    if not outcome.attempts:
        out.append("_no model was tried: the policy allowed none for this repository and purpose_")
    for index, attempt in enumerate(outcome.attempts, 1):
        out.extend(_attempt_lines(index, attempt))
    if len(context.plan.inline) > 1:
        out += ["", "The gates checked the inline suggestions together: commit them as one batch."]
    if context.plan.inline and outcome.purpose == "patch" and context.leftovers:
        out += ["", "Part of the verified patch is not inline (below): apply it too, or the change is partial."]
    if context.leftovers:
        out += ["", "**Verified but not inline:**", leftover_markdown(context.leftovers)]
    if outcome.dropped:
        out += ["", "**Dropped or moved:**", *(f"- {_one_line(neutralise(d), 500)}" for d in outcome.dropped)]
    notes = (*outcome.notes, *context.notes)
    if notes:
        out += ["", "**Notes:**", *(f"- {_one_line(neutralise(n), 500)}" for n in notes)]
    suggestion = outcome.suggestion
    if outcome.winner is not None and suggestion is not None and suggestion.summary.strip():
        out += [
            "",
            "<details><summary>What the model said</summary>",
            "",
            neutralise(suggestion.summary.strip()),
            "</details>",
        ]
    return "\n".join(out) + "\n"


def render_patch_details(outcome: Outcome) -> str:
    """The winning patch as a ```diff block (for the job summary, where nothing can be committed)."""
    suggestion = outcome.suggestion
    if outcome.winner is None or suggestion is None or not suggestion.patch:
        return ""
    return "<details><summary>The verified patch</summary>\n\n" + code_block(suggestion.patch) + "\n\n</details>\n"


def summary_body(outcome: Outcome, context: PostContext) -> str:
    text = f"{SUMMARY_MARKER}\n{purpose_marker(outcome.purpose)}\n{render_summary(outcome, context)}"
    return cap(text, MAX_COMMENT_CHARS, "the check run and the job summary")


class SummaryReporter:
    """Posts or edits the one summary comment of this pull request and purpose."""

    name = "summary"

    def __init__(self, port: GitHubPort) -> None:
        self._port = port

    def _mine(self, outcome: Outcome, context: PostContext) -> list[PostedComment]:
        comments = self._port.list_issue_comments(context.pull.repo_name, context.pull.number)
        return [c for c in comments if is_summary(c, outcome.purpose)]

    def post(self, outcome: Outcome, context: PostContext) -> ReportResult:
        repo, number = context.pull.repo_name, context.pull.number
        body = summary_body(outcome, context)
        mine = self._mine(outcome, context)
        if not mine:
            try:
                created = self._port.create_issue_comment(repo, number, body)
            except GitHubError as exc:
                if exc.status in READ_ONLY_STATUSES:
                    return ReportResult(self.name, False, f"GitHub refused the comment: {exc}", read_only=True)
                # the adapter does not repeat a create after a 5xx; GitHub may have applied it anyway
                if (exc.status is None or exc.status >= 500) and (landed := self._mine(outcome, context)):
                    return ReportResult(self.name, True, f"summary comment {landed[0].id} landed despite: {exc}")
                raise
            return ReportResult(self.name, True, f"created summary comment {created.id}")
        current = mine[0]
        if current.body == body:
            return ReportResult(self.name, False, f"summary comment {current.id} already says this")
        try:
            self._port.update_issue_comment(repo, current.id, body)
        except GitHubError as exc:
            if exc.status in READ_ONLY_STATUSES:
                return ReportResult(self.name, False, f"GitHub refused the edit: {exc}", read_only=True)
            raise
        return ReportResult(self.name, True, f"edited summary comment {current.id} in place")
