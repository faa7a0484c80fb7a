"""A model's reply -> a ``Suggestion`` the gates can check, or a ``ReplyParseError`` the model can act on.

Patch replies may be a unified diff, SEARCH/REPLACE blocks, or fenced whole functions/files; whichever is found
first (in that order) is applied to the PR head's files and written back as one clean git diff, so ``git apply``
never sees what the model typed. Review replies are a JSON list of comments (``bot.parse.review_json``). The error
messages are written for the model: the pipeline re-asks once with the reason before counting a failed attempt.
See docs/edit-formats.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.errors import ReplyParseError
from bot.parse.damage import check_fences_closed, check_finish, strip_reasoning
from bot.parse.diff import parse_diff
from bot.parse.review_json import parse_review
from bot.parse.search_replace import apply_search_replace, has_search_replace, read_search_replace
from bot.parse.unified_diff import apply_unified_diff, looks_like_diff
from bot.parse.whole_block import apply_blocks
from bot.parse.workspace import ReadFile, Workspace, find_fences, path_from_line
from bot.types import Purpose, Suggestion

NO_EDIT = "no edit found: answer with SEARCH/REPLACE blocks (the file path on the line before) or a ```diff block"
_SUMMARY_CHARS = 500


@dataclass(frozen=True)
class ParseResult:
    """The suggestion, and the review comments left out (``"src/app.py:88: not a line on the new side ..."``)."""

    suggestion: Suggestion
    dropped: tuple[str, ...] = ()


def parse_reply(
    purpose: Purpose,
    reply: str,
    read_file: Callable[[str], str | None],
    *,
    pr_diff: str,
    finish_reason: str = "",
) -> ParseResult:
    """Turn a model's reply into a checkable suggestion.

    ``read_file(path)`` gives a file's text at the PR head (None if it does not exist); ``pr_diff`` is the PR's
    diff (base...head), used to place review comments and to pick the file when an edit names none;
    ``finish_reason`` is why the model stopped (``length``: cut off, refused). Reasoning blocks are dropped first.
    Raises ``ReplyParseError`` with a reason a model can act on, also for a damaged reply (``bot.parse.damage``).
    """
    check_finish(finish_reason)
    text = strip_reasoning(reply.replace("\r\n", "\n"))
    check_fences_closed(text)
    if not text.strip():
        raise ReplyParseError(f"the reply is empty: {NO_EDIT if purpose == 'patch' else 'answer with a ```json list'}")
    if purpose == "review":
        suggestion, dropped = parse_review(text, read_file, pr_diff)
        return ParseResult(suggestion, dropped)
    return ParseResult(parse_patch(text, read_file, pr_diff=pr_diff))


def parse_patch(reply: str, read_file: ReadFile, *, pr_diff: str) -> Suggestion:
    """A patch reply applied to the PR head's files; the first format found that applies wins."""
    lines = reply.replace("\r\n", "\n").split("\n")
    fences = find_fences(lines)
    pr_paths = [file.new_path for file in parse_diff(pr_diff) if file.new_path and not file.is_binary]
    detected: list[tuple[str, Callable[[Workspace], str | None]]] = []
    if looks_like_diff(lines, fences):
        detected.append(("diff", lambda space: apply_unified_diff(space, lines, fences)))
    if has_search_replace(lines):
        detected.append(("SEARCH/REPLACE blocks", lambda space: _search_replace(space, lines)))
    if fences:
        detected.append(("fenced code", lambda space: apply_blocks(space, lines, fences)))
    errors: list[ReplyParseError] = []
    for name, apply in detected:
        space = Workspace(read_file, pr_paths)
        try:
            edit_format = apply(space)
        except ReplyParseError as error:
            errors.append(error)
            continue
        if edit_format is None:
            continue
        patch = space.patch()
        if not patch:
            errors.append(ReplyParseError(f"the {name} change nothing in the files: propose an actual change"))
            continue
        return Suggestion("patch", patch, summary=_summary(lines), edit_format=edit_format)
    if errors:
        raise errors[0]
    raise ReplyParseError(NO_EDIT)


def _search_replace(space: Workspace, lines: list[str]) -> str:
    apply_search_replace(space, read_search_replace(lines))
    return "search-replace"


def _summary(lines: list[str]) -> str:
    """The model's own words before its first edit, for the PR comment."""
    prose: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(("```", "~~~", "<<<<<<<", "--- ", "diff --git", "@@")):
            break
        if not path_from_line(stripped):  # the path line that introduces an edit is not prose
            prose.append(stripped)
    return " ".join(" ".join(prose).split())[:_SUMMARY_CHARS]
