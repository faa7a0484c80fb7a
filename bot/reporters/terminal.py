"""An Outcome as markdown: what would be posted on the pull request, then the summary of how it was decided.

Only a verified suggestion (one whose patch passed every gate) is shown as something to post; otherwise the text
says plainly that nothing is posted and, for every model asked, why it lost. Every suggestion names its model,
runtime, template and the gates it passed (provenance).
"""

from __future__ import annotations

from bot.reporters.evidence import evidence_text
from bot.reporters.suggestions import block_lines, code_block, neutralise, suggestion_block
from bot.types import Attempt, GateResult, Outcome, ReviewComment, Suggestion

_MARK = {"pass": "passed", "fail": "FAILED", "error": "ERROR", "skipped": "skipped"}


def _gate_line(gates: tuple[GateResult, ...]) -> str:
    if not gates:
        return "none ran"
    return ", ".join(f"{g.name} {_MARK.get(g.status, g.status)}" for g in gates)


def _comment_block(comment: ReviewComment) -> str:
    where = f"{comment.start_line}-{comment.line}" if comment.start_line else str(comment.line)
    parts = [f"**`{comment.path}` line {where}**", "", neutralise(comment.body.strip())]
    if comment.replacement is not None:
        content = block_lines(comment.original or "", comment.replacement)
        if isinstance(content, str):
            parts += ["", f"(not committable as a suggestion: {content})", code_block(comment.replacement, "text")]
        else:
            parts += ["", suggestion_block(content)]
    return "\n".join(parts)


def _suggestion_blocks(suggestion: Suggestion) -> list[str]:
    if suggestion.purpose == "review":
        blocks = [_comment_block(c) for c in suggestion.comments]
        if suggestion.summary.strip():
            blocks.insert(0, suggestion.summary.strip())
        return blocks
    blocks = [suggestion.summary.strip()] if suggestion.summary.strip() else []
    blocks.append(code_block(suggestion.patch, "diff"))
    return blocks


def _attempt_line(index: int, attempt: Attempt) -> str:
    what: str = attempt.status
    if attempt.reason:  # reasons like "skipped: context: ..." already start with the status
        what = attempt.reason if attempt.reason.startswith(f"{attempt.status}:") else f"{what}: {attempt.reason}"
    cost = f"{attempt.seconds:.1f} s" + (f", {attempt.tokens} tokens" if attempt.tokens else "")
    line = f"{index}. `{attempt.model}` ({attempt.backend}, {attempt.location}) - {what} ({cost})"
    if attempt.gates:
        line += f"\n   gates: {_gate_line(attempt.gates)}"
    elif attempt.status != "accepted":
        line += "\n   gates: not run (there was no suggestion to check)"
    return line


def _provenance(winner: Attempt) -> str:
    template = f", template {winner.template}" if winner.template else ""
    passed = ", ".join(g.name for g in winner.gates if g.status == "pass") or "none (no code change to check)"
    return (
        f"Written by `{winner.model}` ({winner.backend}, {winner.location}{template}) in {winner.seconds:.1f} s. "
        f"Gates passed: {passed}."
    )


def render(outcome: Outcome) -> str:
    """The markdown for one outcome (ends with a newline)."""
    purpose = "review" if outcome.purpose == "review" else "patch"
    head = (outcome.pr.head_sha or outcome.pr.head)[:12]
    winner = outcome.winning_attempt
    lines: list[str] = []
    if outcome.posted and outcome.suggestion is not None and winner is not None:
        lines += [f"## Guardrail {purpose} for {head}: verified suggestion", ""]
        if evidence := evidence_text(winner.gates):
            lines += [evidence, ""]
        for block in _suggestion_blocks(outcome.suggestion):
            lines += [block, ""]
        lines += [_provenance(winner), ""]
    else:
        lines += [f"## Guardrail {purpose} for {head}: nothing posted", ""]
        if outcome.attempts:
            lines += ["No model's suggestion passed every gate, so no suggestion is posted.", ""]
        else:
            lines += ["No model was asked.", ""]
    lines += ["### How it was decided", ""]
    for index, attempt in enumerate(outcome.attempts, start=1):
        lines.append(_attempt_line(index, attempt))
    if not outcome.attempts:
        lines.append("(no attempts)")
    if outcome.dropped:
        lines += ["", "Comments not posted, or moved:"] + [f"- {d}" for d in outcome.dropped]
    if outcome.notes:
        lines += ["", "Notes:"] + [f"- {n}" for n in outcome.notes]
    return "\n".join(lines).rstrip("\n") + "\n"
