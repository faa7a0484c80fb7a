"""Hidden markers and fingerprints: how Guardrail finds its own comments again, so a rerun never duplicates them.

Every body Guardrail posts starts with HTML comments GitHub does not render:

* the summary comment: ``<!-- guardrail:summary -->`` and ``<!-- guardrail:purpose=<purpose> -->``; it is found
  again by both and edited in place (one per purpose, since the two purposes are run by separate steps);
* the review: ``<!-- guardrail:review head=<sha> -->`` and the purpose marker; one review per head commit;
* every inline suggestion (and the review body, which repeats them): ``<!-- guardrail:fp=<sha256> -->``, the
  sha256 of the path, the line range, the replacement and the head commit.

Markers sit at the top of a body so that truncating a long body (``cap``) never cuts them off.
"""

from __future__ import annotations

import hashlib
import json
import re

from bot.types import PostedComment, Purpose

SUMMARY_MARKER = "<!-- guardrail:summary -->"
MAX_COMMENT_CHARS = 65_536  # GitHub refuses longer issue comments, reviews and review comments with a 422
MAX_CHECK_TEXT_CHARS = 65_535  # check run output.summary and output.text (spec maxLength)

_FP_RE = re.compile(r"<!-- guardrail:fp=([0-9a-f]{64}) -->")
_PURPOSE_RE = re.compile(r"<!-- guardrail:purpose=(\w+) -->")
_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def purpose_marker(purpose: Purpose) -> str:
    return f"<!-- guardrail:purpose={purpose} -->"


def review_marker(head_sha: str) -> str:
    return f"<!-- guardrail:review head={head_sha} -->"


def fingerprint(path: str, start_line: int | None, line: int, replacement: str | None, head_sha: str) -> str:
    """The sha256 (hex) naming one inline comment on one head commit; JSON keeps the fields from running together.
    Texts may hold a file's non-UTF-8 bytes as surrogate escapes: they are hashed as those bytes."""
    data = json.dumps([path, start_line or line, line, replacement, head_sha], ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8", errors="surrogateescape")).hexdigest()


def fingerprint_marker(fp: str) -> str:
    return f"<!-- guardrail:fp={fp} -->"


def fingerprints_in(text: str) -> frozenset[str]:
    return frozenset(_FP_RE.findall(text))


def _purpose_matches(body: str, purpose: Purpose) -> bool:
    found = _PURPOSE_RE.search(body)
    return found is None or found.group(1) == purpose  # no purpose marker: written before purposes were marked


def by_a_bot(author: str) -> bool:
    """True when ``author`` is a GitHub App or Actions login (``github-actions[bot]``, ``my-app[bot]``).

    A person's login is letters, digits and hyphens only (GitHub's sign-up rule), so no person can write a comment
    that passes: anyone can type Guardrail's hidden markers into a comment or review, and a marker honoured from
    them would let a PR author suppress Guardrail's review of a commit or make it edit a comment it cannot. (Run
    with a person's token, Guardrail then finds none of its own comments and posts anew each time: noisy, not unsafe.)
    """
    return author.endswith("[bot]")


def is_summary(comment: PostedComment, purpose: Purpose) -> bool:
    """True for Guardrail's sticky summary comment of this purpose: a bot's comment that starts with the marker."""
    body = comment.body
    return by_a_bot(comment.author) and body.startswith(SUMMARY_MARKER) and _purpose_matches(body, purpose)


def is_review_for(review: PostedComment, head_sha: str, purpose: Purpose) -> bool:
    """True for Guardrail's review of this head commit and purpose: a bot's review that starts with the marker."""
    body = review.body
    return by_a_bot(review.author) and body.startswith(review_marker(head_sha)) and _purpose_matches(body, purpose)


def cap(text: str, limit: int, where: str = "the job summary") -> str:
    """``text`` cut to at most ``limit`` characters at a line boundary, closing an open code fence, with a note.

    ``where`` names the place the reader finds everything (it goes into the note).
    """
    if len(text) <= limit:
        return text
    note = f"\n\n_…truncated to GitHub's {limit:,}-character limit; the full result is in {where}._\n"
    budget = limit - len(note) - 12  # room for a closing fence
    cut = text[:budget]
    if "\n" in cut:
        cut = cut[: cut.rindex("\n")]
    open_fence: str | None = None
    for line in cut.split("\n"):
        match = _FENCE_RE.match(line)
        if match is None:
            continue
        fence = match.group(1)
        if open_fence is None:
            open_fence = fence
        elif fence[0] == open_fence[0] and len(fence) >= len(open_fence) and line.strip() == fence:
            open_fence = None
    closing = f"\n{open_fence}" if open_fence else ""
    return (cut + closing + note)[:limit]
