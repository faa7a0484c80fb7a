"""An Outcome as JSON: what ``guardrail review --json`` prints.

    {"purpose", "repo", "head", "posted", "winner",
     "attempts": [{"model", "backend", "location", "status", "reason", "gates": [...], "seconds", "tokens",
                   "template", "prompt_sha256", "reply_sha256"}],
     "suggestions": [...], "dropped": [...], "notes": [...]}

Gates have the shape of ``guardrail gate --json`` (name, status, summary, findings[{path, line, rule, message}],
seconds). ``suggestions`` are the winner's only (what would be posted): for the review purpose its comments
(path, line, start_line, body, suggestion), for the patch purpose one item with the patch and its summary.
"""

from __future__ import annotations

import json
from typing import Any

from bot.audit import gate_to_dict
from bot.types import Attempt, Outcome, Suggestion


def attempt_to_dict(attempt: Attempt) -> dict[str, Any]:
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
    }


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
            "suggestion": c.replacement,
        }
        for c in suggestion.comments
    ]


def outcome_to_dict(outcome: Outcome) -> dict[str, Any]:
    pr = outcome.pr
    return {
        "purpose": outcome.purpose,
        "repo": pr.repo_name or str(pr.repo),
        "head": pr.head_sha or pr.head,
        "posted": outcome.posted,
        "winner": outcome.winner,
        "attempts": [attempt_to_dict(a) for a in outcome.attempts],
        "suggestions": suggestions_to_list(outcome.suggestion if outcome.posted else None),
        "dropped": list(outcome.dropped),
        "notes": list(outcome.notes),
    }


def render(outcome: Outcome) -> str:
    """The outcome as indented JSON text (ends without a newline)."""
    return json.dumps(outcome_to_dict(outcome), indent=2)
