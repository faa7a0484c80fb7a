"""An Outcome as JSON: what ``guardrail review --json`` prints.

    {"purpose", "repo", "head", "posted", "winner",
     "attempts": [{"model", "backend", "location", "status", "reason", "gates": [...], "seconds", "tokens",
                   "template", "prompt_sha256", "reply_sha256", "replies" (with --show-replies)}],
     "suggestions": [...], "patch": "...", "comments": [{"path", "side", "start_line", "line", "body"}],
     "leftovers": [{"reason", "path", "start_line", "line", "diff"}], "dropped": [...], "notes": [...]}

``patch`` is the effective change the gates checked (plus ``patch_base64`` when it is not UTF-8); ``comments`` are
the inline review comments exactly as the GitHub reporter would post them (bodies with their suggestion blocks,
markers and provenance), ``leftovers`` what would go to the summary instead, with the reason.

Gates have the shape of ``guardrail gate --json`` (name, status, summary, findings[{path, line, rule, message}],
seconds). ``suggestions`` are the winner's only (what would be posted): for the review purpose its comments
(path, line, start_line, body, suggestion), for the patch purpose one item with the patch and its summary.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from bot.audit import gate_to_dict
from bot.reporters.markers import MAX_COMMENT_CHARS
from bot.reporters.suggestions import Provenance, ReviewPlan
from bot.types import Attempt, Outcome, Suggestion


def attempt_to_dict(attempt: Attempt, *, replies: bool = False) -> dict[str, Any]:
    """One attempt; with ``replies`` also ``"replies"``, the model's raw replies in order."""
    return {
        "model": attempt.model,
        "backend": attempt.backend,
        "location": attempt.location,
        "status": attempt.status,
        "reason": attempt.reason,
        "gates": [gate_to_dict(g) for g in attempt.gates],
        "seconds": round(attempt.seconds, 3),
        "tokens": attempt.tokens,
        "template": attempt.template,
        "prompt_sha256": attempt.prompt_sha256,
        "reply_sha256": attempt.reply_sha256,
    } | ({"replies": list(attempt.replies)} if replies else {})


def suggestions_to_list(suggestion: Suggestion | None) -> list[dict[str, Any]]:
    if suggestion is None:
        return []
    if suggestion.purpose == "patch":
        return [{"patch": suggestion.patch, "summary": suggestion.summary, "edit_format": suggestion.edit_format}]
    return [
        {
            "path": c.path,
            "line": c.line,
            "start_line": c.start_line,
            "body": c.body,
            "original": c.original,
            "suggestion": c.replacement,
        }
        for c in suggestion.comments
    ]


def patch_fields(patch: str) -> dict[str, str]:
    """``{"patch": text}``, plus ``patch_base64`` (the exact bytes) when the patch is not valid UTF-8 (patches are
    carried as text decoded with surrogateescape)."""
    data = patch.encode("utf-8", errors="surrogateescape")
    try:
        return {"patch": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"patch": data.decode("utf-8", errors="replace"), "patch_base64": base64.b64encode(data).decode()}


def plan_to_dict(outcome: Outcome, plan: ReviewPlan) -> dict[str, Any]:
    """The review as it would be posted: its inline comments (what ``ReviewReporter`` sends) and the leftovers."""
    provenance = Provenance.of(outcome)
    drafts = [p.draft(provenance) for p in plan.inline]
    comments = [
        {"path": d.path, "side": d.side, "start_line": d.start_line, "line": d.line, "body": d.body}
        for d in drafts
        if len(d.body) <= MAX_COMMENT_CHARS
    ]
    leftovers = [
        {
            "reason": item.reason,
            "path": item.candidate.path if item.candidate else None,
            "start_line": item.candidate.start_line if item.candidate else None,
            "line": item.candidate.line if item.candidate else None,
            "diff": item.diff,
        }
        for item in plan.leftovers
    ]
    return {"comments": comments, "leftovers": leftovers}


def outcome_to_dict(outcome: Outcome, plan: ReviewPlan | None = None, *, replies: bool = False) -> dict[str, Any]:
    pr = outcome.pr
    posted = outcome.suggestion if outcome.posted else None
    extra: dict[str, Any] = patch_fields(posted.patch) if posted is not None else {"patch": ""}
    if plan is not None:
        extra |= plan_to_dict(outcome, plan)
    return extra | {
        "purpose": outcome.purpose,
        "repo": pr.repo_name or str(pr.repo),
        "head": pr.head_sha or pr.head,
        "posted": outcome.posted,
        "winner": outcome.winner,
        "attempts": [attempt_to_dict(a, replies=replies) for a in outcome.attempts],
        "suggestions": suggestions_to_list(outcome.suggestion if outcome.posted else None),
        "dropped": list(outcome.dropped),
        "notes": list(outcome.notes),
    }


def render(outcome: Outcome, plan: ReviewPlan | None = None, *, replies: bool = False) -> str:
    """The outcome as indented JSON text (ends without a newline); with ``plan``, the comments as posted; with
    ``replies``, each attempt's raw replies."""
    return json.dumps(outcome_to_dict(outcome, plan, replies=replies), indent=2)
