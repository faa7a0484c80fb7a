"""The models' raw replies as plain text, for ``guardrail review --show-replies`` and ``guardrail log --replies``.

A reply is untrusted text: it is printed between marker lines as it came, never interpreted.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.types import Outcome


def reply_blocks(model: str, replies: Sequence[str], *, indent: str = "") -> list[str]:
    """Lines showing each reply of ``model``: a header naming the try, the text as sent, an end marker."""
    if not replies:
        return [f"{indent}(no reply from {model})"]
    lines: list[str] = []
    for number, reply in enumerate(replies, 1):
        which = (
            "reply" if len(replies) == 1 else f"reply {number} of {len(replies)}" + (" (re-ask)" if number > 1 else "")
        )
        lines.append(f"{indent}----- {model}: {which} -----")
        lines += [f"{indent}{line}" for line in reply.splitlines()]
        lines.append(f"{indent}----- end of {model}'s {which.split(' (')[0]} -----")
    return lines


def render_replies(outcome: Outcome) -> str:
    """Every attempt's replies, in the order the models were asked (ends with a newline; empty when none asked)."""
    lines: list[str] = []
    for attempt in outcome.attempts:
        lines += reply_blocks(attempt.model, attempt.replies)
    return "\n".join(lines) + "\n" if lines else ""
